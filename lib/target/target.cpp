#include "target.hpp"

#include <llvm/ADT/StringRef.h>
#include <llvm/Object/ELF.h>

#include <algorithm>
#include <array>

#include "support/error.hpp"

namespace copapy {

namespace {
// The target of the machine the compiler is built for, from the compiler's
// own architecture macros; also called "native". Nothing else in the
// compiler depends on the host: images are written byte by byte in little
// endian and stencil objects are read as the ELF files they are. A machine
// with no target of its own gets "" and compiles only with -t.
#if defined(__x86_64__)
constexpr std::string_view kHostTargetName = "x86_64";
#elif defined(__aarch64__)
constexpr std::string_view kHostTargetName = "aarch64";
#elif defined(__riscv) && __riscv_xlen == 64
constexpr std::string_view kHostTargetName = "riscv64";
#elif defined(__i386__)
constexpr std::string_view kHostTargetName = "x86";
#elif defined(__arm__) && __ARM_ARCH >= 7
constexpr std::string_view kHostTargetName = "armv7";
#elif defined(__arm__) && __ARM_ARCH == 6
constexpr std::string_view kHostTargetName = "armv6";
#else
constexpr std::string_view kHostTargetName = "";
#endif
}  // namespace

int64_t TargetInfo::implicit_addend(cp_patch_kind, const uint8_t*) const { return 0; }

std::optional<uint32_t> vfp_imm8(uint32_t bits) {
    // imm8 = a:b:cd:efgh gives sign a, exponent NOT(b):bbbbb:cd, fraction efgh:0{19}.
    if (bits & 0x7ffff) return std::nullopt;
    const uint32_t exp = (bits >> 23) & 0xff, b = (exp >> 5) & 1;
    if (exp != (((b ^ 1) << 7) | (b ? 0x7cu : 0u) | (exp & 3))) return std::nullopt;
    return (bits >> 31) << 7 | b << 6 | (exp & 3) << 4 | ((bits >> 19) & 0xf);
}
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

const TargetInfo* find_host_target() {
    static const TargetInfo* host = kHostTargetName.empty() ? nullptr : find_target(kHostTargetName);
    return host;
}

const TargetInfo& host_target() {
    const TargetInfo* host = find_host_target();
    if (!host) fail(ErrorKind::Usage, "this machine has no target of its own: give one with -t (see 'copapy-cc targets')");
    return *host;
}

}  // namespace copapy
