// A compilation target: the ISA facts the target-independent stages need.
//
// One source file per target family implements this interface
// (x86_64.cpp, aarch64.cpp, arm32.cpp for ARM and Thumb, riscv.cpp): it classifies the
// ELF relocations gcc emits for our stencils into the image's patch kinds
// (include/copapy/image.h), decodes implicit addends (REL objects), and
// recognises the tail jump that ends a stencil. Encoding lives in the runtime
// library (lib/runtime/patch_<family>.c), shared with the runner.
#pragma once

#include <copapy/image.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace copapy {

class TargetInfo {
public:
    virtual ~TargetInfo() = default;

    cp_target id;
    std::string_view name;                   // "x86_64"
    std::vector<std::string_view> aliases;   // from targets.def (the original project's names), "native" for the host
    uint16_t elf_machine;                    // EM_*
    bool thumb = false;                      // entry point is Thumb code
    uint32_t code_align = 16;                // load alignment the image asks for
    uint32_t data_align = 16;
    // A stencil is copied at its section's alignment, capped here: Thumb
    // literal loads depend on Align(PC, 4); x86 needs none. Padding that
    // execution falls through is made of `nop`.
    uint32_t max_stencil_align = 1;
    std::vector<uint8_t> nop;
    std::string_view description;

    // The patch kind for an ELF relocation type, or nullopt if unsupported.
    virtual std::optional<cp_patch_kind> classify(uint32_t elf_type) const = 0;

    // The addend of a REL relocation, stored in the instruction itself.
    virtual int64_t implicit_addend(cp_patch_kind kind, const uint8_t* site) const;

    // If the relocation at `offset` (of type `elf_type`, against a
    // continuation) is the jump that ends the function `code`, returns where
    // that jump instruction starts: the compiler cuts the stencil there so
    // that it falls through into the next one.
    virtual std::optional<uint32_t> tail_jump_start(std::span<const uint8_t> code, uint32_t offset,
                                                    uint32_t elf_type) const = 0;

    // True if a patch of this kind whose target lies in the code region does
    // not depend on where the code is loaded (given code_align), so the
    // compiler resolves it and no patch is emitted.
    virtual bool position_independent(cp_patch_kind kind) const = 0;

    // Data offset fields. A near stencil addresses its memory operand as
    // base register + marker (lib/ops/ops.hpp; the marker is the object's
    // absolute symbol cp_near_marker); find_data_fields returns every
    // instruction of `code` that does so, with its encoding form, in order.
    // The linker writes disp = operand's data offset - cp_data_bias into
    // each field, if data_field_fits(form, disp); otherwise it uses the far
    // stencil. The forms are the target file's own numbering.
    struct DataField {
        uint32_t offset;  // of the instruction (x86-64: of the disp32) in the stencil
        uint8_t form;
    };
    virtual std::vector<DataField> find_data_fields(std::span<const uint8_t> code, int64_t marker) const = 0;
    virtual bool data_field_fits(uint8_t form, int64_t disp) const = 0;
    // Writes a displacement that fits (checked again: throws otherwise).
    virtual void write_data_field(uint8_t form, uint8_t* site, int64_t disp) const = 0;
    // "vldr/vstr imm8*4", for listings and messages.
    virtual std::string_view data_field_name(uint8_t form) const = 0;
    // Constants as instruction immediates: if the near field `form` at
    // `site` is a load that an instruction of the same length can replace
    // by putting `bits` (the constant's 32 bits) into the same register
    // (VFP `vmov.f32 #imm`, AArch64 `fmov #imm` / `movz` / `movn`, Arm
    // `mov`/`mvn` of a modified immediate or `movw`, RISC-V `addi rd, zero`),
    // rewrites it and returns true; otherwise changes nothing and returns
    // false, and the constant stays a memory operand. Bit-exact either way.
    virtual bool write_immediate(uint8_t /*form*/, uint8_t* /*site*/, uint32_t /*bits*/) const { return false; }

    // Split PC-relative addresses (RISC-V auipc + addi/load/store): the low
    // part's relocation (PCREL_LO12_*) refers to the label of the instruction
    // whose relocation (PCREL_HI20) holds the high part and the real target;
    // the stencil database pairs them. No such relocations elsewhere.
    // Relocations whose value is S + A minus the code region's start (i686's
    // R_386_GOTOFF, with _GLOBAL_OFFSET_TABLE_ at that start): an offset,
    // written at compile time, never a patch.
    virtual bool code_base_relative(uint32_t) const { return false; }
    // Absolute operand addresses a stencil can take from its base register
    // instead (i686: `op xmm, [disp32]` becomes `op xmm, [ebx + disp32]`, the
    // same length): true if the field at `offset` of `code`, of type
    // `elf_type`, is one. The linker then places the constant in the data
    // region, rewrites the instruction with rebase_operand() and writes the
    // displacement from the base register: no patch, position independent.
    virtual bool rebasable_operand(std::span<const uint8_t>, uint32_t, uint32_t) const { return false; }
    // Rewrites the instruction whose field is at `site` (where
    // rebasable_operand said yes) to address base register + that field.
    virtual void rebase_operand(uint8_t*) const {}
    virtual bool is_pcrel_low_part(uint32_t elf_type) const;
    virtual bool is_pcrel_high_part(uint32_t elf_type) const;

    // Name of an ELF relocation type for messages ("R_X86_64_PC32").
    std::string relocation_name(uint32_t elf_type) const;

protected:
    TargetInfo(cp_target id_, std::string_view name_, uint16_t machine)
        : id(id_), name(name_), elf_machine(machine) {}
};

// The 8-bit floating-point immediate of VFPv3+ `vmov.f32` and AArch64
// `fmov` (VFPExpandImm: +-(16 + m) / 16 * 2^e, m 0...15, e -3...4) that
// expands to the binary32 `bits`, if there is one (never for 0.0).
std::optional<uint32_t> vfp_imm8(uint32_t bits);

// The aliases of target `name` in the target table (lib/target/targets.def),
// and "native" for the host; the per-family constructors fill `aliases` from it.
std::vector<std::string_view> table_aliases(std::string_view name);

// Looks a target up by name or alias; nullptr if unknown.
const TargetInfo* find_target(std::string_view name);
// The target of the machine the compiler was built for (lib/target/target.cpp
// picks it from the architecture), or nullptr on a machine without one;
// host_target() throws a usage error there.
const TargetInfo* find_host_target();
const TargetInfo& host_target();
std::span<const TargetInfo* const> all_targets();

// Defined by the per-family files.
const TargetInfo& x86_64_target();
const TargetInfo& aarch64_target();
const TargetInfo& armv7_target();
const TargetInfo& thumbv7_target();
const TargetInfo& thumbv7em_target();
const TargetInfo& riscv64_target();
const TargetInfo& x86_target();
const TargetInfo& armv6_target();
const TargetInfo& riscv32_target();

}  // namespace copapy
