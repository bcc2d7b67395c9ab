// AArch64 (ELF for the Arm 64-bit Architecture, "aaelf64").
//
// Quirks that matter to a copy-and-patch compiler:
// - Every instruction is 4 bytes, little-endian, so a relocation offset is
//   also where its instruction starts. The stencil's final tail call is
//   `b result_*` (R_AARCH64_JUMP26) in the last 4 bytes.
// - Addresses are built in two instructions: ADRP materialises the 4 KiB page
//   of the target relative to the page of the ADRP itself
//   (R_AARCH64_ADR_PREL_PG_HI21, range +-4 GiB), then an ADD or a load/store
//   supplies the low 12 bits (R_AARCH64_ADD_ABS_LO12_NC,
//   R_AARCH64_LDST{8,16,32,64,128}_ABS_LO12_NC, the latter scaled by the
//   access size). Both depend only on the distance between pages and on the
//   low 12 bits of the target, so with the code loaded 4 KiB-aligned
//   (code_align) references into the code region are position independent
//   and resolved at compile time; references into the data region are patched.
// - B/BL reach +-128 MiB (R_AARCH64_JUMP26/CALL26).
// - RELA relocations: addends are explicit.
// - Near memory operands are LDR/STR (immediate, unsigned offset) with base
//   register x19: imm12 (21:10) is the offset scaled by the access size
//   (size, 31:30), so a 32-bit access reaches 0 ... 16380 in steps of 4.
//   Negative offsets would need LDUR (imm9): the data region's base is its
//   start (cp_data_bias 0).
// - Far memory operands (beyond 16 KiB) build the offset in a scratch
//   register with MOVZ (hw 1) + MOVK (hw 0), written by the compiler like a
//   near field, and load/store with a register offset from x19: no
//   relocation, so position independent (ADRP would need the load address).
#include <llvm/BinaryFormat/ELF.h>

#include "support/bits.hpp"
#include "support/error.hpp"
#include "target.hpp"

namespace copapy {
namespace {

class AArch64 final : public TargetInfo {
public:
    AArch64() : TargetInfo(CP_TARGET_AARCH64, "aarch64", llvm::ELF::EM_AARCH64) {
        aliases = table_aliases(name);
        code_align = 4096;  // ADRP/LO12 into the code region become position independent
        data_align = 16;
        max_stencil_align = 4;
        nop = {0x1f, 0x20, 0x03, 0xd5};  // nop
        description = "ARMv8-A AArch64 (aarch64-linux-gnu-gcc; runs under qemu-aarch64)";
    }

    std::optional<cp_patch_kind> classify(uint32_t type) const override {
        using namespace llvm::ELF;
        switch (type) {
            case R_AARCH64_ADR_PREL_PG_HI21: return CP_PATCH_A64_ADR_PAGE21;
            case R_AARCH64_ADD_ABS_LO12_NC: return CP_PATCH_A64_ADD_LO12;
            case R_AARCH64_LDST8_ABS_LO12_NC: return CP_PATCH_A64_LDST8_LO12;
            case R_AARCH64_LDST16_ABS_LO12_NC: return CP_PATCH_A64_LDST16_LO12;
            case R_AARCH64_LDST32_ABS_LO12_NC: return CP_PATCH_A64_LDST32_LO12;
            case R_AARCH64_LDST64_ABS_LO12_NC: return CP_PATCH_A64_LDST64_LO12;
            case R_AARCH64_LDST128_ABS_LO12_NC: return CP_PATCH_A64_LDST128_LO12;
            case R_AARCH64_JUMP26:
            case R_AARCH64_CALL26: return CP_PATCH_A64_BRANCH26;
            case R_AARCH64_ABS64: return CP_PATCH_ABS64;
            case R_AARCH64_PREL32: return CP_PATCH_REL32;
            default: return std::nullopt;
        }
    }

    std::optional<uint32_t> tail_jump_start(std::span<const uint8_t> code, uint32_t offset,
                                            uint32_t type) const override {
        constexpr uint32_t kBMask = 0xfc00'0000, kB = 0x1400'0000;  // b imm26
        if (type != llvm::ELF::R_AARCH64_JUMP26 || offset + 4 != code.size()) return std::nullopt;
        if ((read_le32(&code[offset]) & kBMask) != kB) return std::nullopt;
        return offset;
    }

    bool position_independent(cp_patch_kind kind) const override {
        return kind != CP_PATCH_ABS64;  // everything else is PC- or page-relative
    }

    // Load/store register (unsigned immediate): size 111 V 01 opc imm12 Rn Rt.
    static constexpr uint32_t kLdStUImmMask = 0x3b00'0000, kLdStUImm = 0x3900'0000;
    static constexpr uint32_t kBaseReg = 19;

    // MOVZ / MOVK (64-bit) Xd, #imm16, LSL #(16 * hw): sf 10/11 100101 hw imm16 Rd.
    static constexpr uint32_t kMovMask = 0xffe0'0000, kMovzHw1 = 0xd2a0'0000, kMovkHw0 = 0xf280'0000;
    // Forms: 0 ... 4 the scale of a load/store field; kMovzMovk the far pair.
    static constexpr uint8_t kMovzMovk = 8;

    std::vector<DataField> find_data_fields(std::span<const uint8_t> code, int64_t marker) const override {
        std::vector<DataField> out;
        for (uint32_t at = 0; at + 4 <= code.size(); at += 4) {
            const uint32_t insn = read_le32(&code[at]);
            if ((insn & kMovMask) == kMovzHw1 && at + 8 <= code.size()) {
                const uint32_t next = read_le32(&code[at + 4]);
                const int64_t value = int64_t{extract(insn, 5, 16)} << 16 | extract(next, 5, 16);
                if ((next & kMovMask) == kMovkHw0 && extract(next, 0, 5) == extract(insn, 0, 5) && value == marker)
                    out.push_back({at, kMovzMovk});
                continue;
            }
            if ((insn & kLdStUImmMask) != kLdStUImm || extract(insn, 5, 5) != kBaseReg) continue;
            const unsigned scale = extract(insn, 30, 2);
            if ((int64_t{extract(insn, 10, 12)} << scale) == marker) out.push_back({at, static_cast<uint8_t>(scale)});
        }
        return out;
    }

    bool data_field_fits(uint8_t form, int64_t disp) const override {
        if (form == kMovzMovk) return disp >= 0 && disp <= INT64_C(0xffff'ffff);
        return disp >= 0 && disp % (int64_t{1} << form) == 0 && (disp >> form) < 4096;
    }

    void write_data_field(uint8_t form, uint8_t* site, int64_t disp) const override {
        if (!data_field_fits(form, disp))
            fail(ErrorKind::Environment, "aarch64: offset {} does not fit a {} field", disp, data_field_name(form));
        if (form == kMovzMovk) {
            const uint32_t hi = static_cast<uint32_t>(disp >> 16) & 0xffff, lo = static_cast<uint32_t>(disp) & 0xffff;
            write_le32(site, (read_le32(site) & ~(0xffffu << 5)) | hi << 5);
            write_le32(site + 4, (read_le32(site + 4) & ~(0xffffu << 5)) | lo << 5);
            return;
        }
        const uint32_t insn = read_le32(site);
        write_le32(site, (insn & ~(0xfffu << 10)) | static_cast<uint32_t>(disp >> form) << 10);
    }

    std::string_view data_field_name(uint8_t form) const override {
        return form == kMovzMovk ? "movz/movk" : "ldr/str uimm12";
    }

    // A 32-bit load (ldr St / ldr Wt, unsigned offset: size 10, opc 01)
    // becomes fmov St, #imm8 (0x1e201000), movz Wt, #imm16, lsl #0/16
    // (0x52800000) or movn Wt (0x12800000).
    bool write_immediate(uint8_t form, uint8_t* site, uint32_t bits) const override {
        if (form != 2) return false;
        const uint32_t insn = read_le32(site), rt = extract(insn, 0, 5);
        if (extract(insn, 30, 2) != 2 || extract(insn, 22, 2) != 1) return false;
        if (extract(insn, 26, 1)) {  // SIMD&FP register
            const auto imm8 = vfp_imm8(bits);
            if (!imm8) return false;
            write_le32(site, 0x1e20'1000u | *imm8 << 13 | rt);
            return true;
        }
        if (rt == 31) return false;  // wzr: nothing to load
        for (const uint32_t hw : {0u, 1u}) {
            const uint32_t shift = 16 * hw;
            if ((bits & ~(0xffffu << shift)) == 0) {
                write_le32(site, 0x5280'0000u | hw << 21 | (bits >> shift) << 5 | rt);
                return true;
            }
            if ((~bits & ~(0xffffu << shift)) == 0) {
                write_le32(site, 0x1280'0000u | hw << 21 | (~bits >> shift & 0xffff) << 5 | rt);
                return true;
            }
        }
        return false;
    }
};

}  // namespace

const TargetInfo& aarch64_target() {
    static const AArch64 target;
    return target;
}

}  // namespace copapy
