#include "target.hpp"

#include <llvm/ADT/StringRef.h>
#include <llvm/Object/ELF.h>

#include <array>

namespace copapy {

int64_t TargetInfo::implicit_addend(cp_patch_kind, const uint8_t*) const { return 0; }

std::string TargetInfo::relocation_name(uint32_t elf_type) const {
    return llvm::object::getELFRelocationTypeName(elf_machine, elf_type).str();
}

std::span<const TargetInfo* const> all_targets() {
    static const std::array<const TargetInfo*, 5> targets = {&x86_64_target(), &aarch64_target(), &armv7_target(),
                                                            &thumbv7_target(), &thumbv7em_target()};
    return targets;
}

const TargetInfo* find_target(std::string_view name) {
    for (const TargetInfo* t : all_targets()) {
        if (t->name == name) return t;
        for (std::string_view alias : t->aliases)
            if (alias == name) return t;
    }
    return nullptr;
}

const TargetInfo& host_target() {
#if defined(__x86_64__)
    return x86_64_target();
#else
#error "copapy-cc runs on x86_64 hosts"
#endif
}

}  // namespace copapy
