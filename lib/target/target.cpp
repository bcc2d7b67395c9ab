#include "target.hpp"

#include <llvm/ADT/StringRef.h>
#include <llvm/Object/ELF.h>

#include <algorithm>
#include <array>

namespace copapy {

namespace {
// The target of the machine the compiler runs on; also called "native".
#if defined(__x86_64__)
constexpr std::string_view kHostTargetName = "x86_64";
#else
#error "copapy-cc runs on x86_64 hosts"
#endif
}  // namespace

int64_t TargetInfo::implicit_addend(cp_patch_kind, const uint8_t*) const { return 0; }
bool TargetInfo::is_pcrel_low_part(uint32_t) const { return false; }
bool TargetInfo::is_pcrel_high_part(uint32_t) const { return false; }

std::string TargetInfo::relocation_name(uint32_t elf_type) const {
    return llvm::object::getELFRelocationTypeName(elf_machine, elf_type).str();
}

std::span<const TargetInfo* const> all_targets() {
#define COPAPY_TARGET(name, aliases, runner) &name##_target(),
    static const std::array targets = {
#include "targets.def"
    };
#undef COPAPY_TARGET
    return targets;
}

std::vector<std::string_view> table_aliases(std::string_view name) {
    struct Row {
        std::string_view name, aliases;
    };
#define COPAPY_TARGET(name, aliases, runner) Row{#name, aliases},
    static constexpr Row rows[] = {
#include "targets.def"
    };
#undef COPAPY_TARGET
    std::vector<std::string_view> out;
    for (const Row& row : rows) {
        if (row.name != name) continue;
        for (std::string_view rest = row.aliases; !rest.empty();) {
            const size_t end = std::min(rest.find(' '), rest.size());
            if (end > 0) out.push_back(rest.substr(0, end));
            rest.remove_prefix(std::min(end + 1, rest.size()));
        }
    }
    if (name == kHostTargetName) out.push_back("native");
    return out;
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
    static const TargetInfo* host = find_target(kHostTargetName);
    return *host;
}

}  // namespace copapy
