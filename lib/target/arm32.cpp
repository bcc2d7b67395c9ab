// 32-bit ARM, in ARM state (armv7) and Thumb-2 (thumbv7, thumbv7em)
// ("ELF for the Arm Architecture", aaelf32).
//
// Quirks that matter to a copy-and-patch compiler:
// - REL, not RELA: the addend lives in the instruction field itself and is
//   decoded here (implicit_addend) before the field is overwritten.
// - Reading the PC gives the instruction's address + 8 in ARM state and + 4 in
//   Thumb; the implicit addends of branches (-8 / -4) carry that bias, so the
//   psABI formula S + A - P holds as written.
// - Thumb: bit 0 of a code address selects the Thumb instruction set. Thumb
//   functions have odd symbol values, the stencil database clears the bit and
//   records it, and the linker sets it again where an address or branch
//   target is Thumb code ((S + A) | T). The image's entry is Thumb code on the
//   Thumb targets (CP_FLAG_THUMB_ENTRY), so the runner calls code + entry + 1.
//   We never mix states inside an image: ARM-state stencils use ARM-state
//   libgcc/libm, Thumb ones Thumb builds, so no BL needs to become BLX.
// - Thumb-2 32-bit instructions are two little-endian halfwords, the first
//   one first. B.W/BL reach +-16 MiB, ARM B/BL +-32 MiB.
// - Addresses come from MOVW/MOVT pairs (absolute: always patched) and, in
//   library code, from literal pools (R_ARM_ABS32, patched) or PC-relative
//   words (R_ARM_REL32, resolved at compile time within the code region).
// - Near memory operands use base register r9 (the stencils' global register
//   variable; callee-saved in the AAPCS, so library code preserves it) with an
//   immediate offset, U bit (23 of the word or of the first halfword) for the
//   sign: VLDR/VSTR imm8 * 4 (+-1020), A32 LDR/STR imm12 (+-4095), Thumb-2
//   LDR.W/STR.W imm12 (T3, 0 ... 4095) which becomes the T4 form with imm8
//   for -255 ... -1. The base is data + cp_data_bias (1020 in ARM state, 252
//   in Thumb, where negative LDR offsets are short).
#include <llvm/BinaryFormat/ELF.h>

#include <bit>

#include "support/bits.hpp"
#include "support/error.hpp"
#include "target.hpp"

namespace copapy {
namespace {

// imm16 of ARM MOVW/MOVT (A1): imm4 in bits 19:16, imm12 in bits 11:0.
int64_t arm_movw_addend(const uint8_t* p) {
    const uint32_t insn = read_le32(p);
    return sign_extend((extract(insn, 16, 4) << 12) | extract(insn, 0, 12), 16);
}

// imm24 of ARM B/BL, a word offset.
int64_t arm_branch_addend(const uint8_t* p) { return sign_extend(extract(read_le32(p), 0, 24), 24) * 4; }

// imm16 of Thumb-2 MOVW/MOVT (T3): imm4:i:imm3:imm8.
int64_t thumb_movw_addend(const uint8_t* p) {
    const uint32_t hw1 = read_le16(p), hw2 = read_le16(p + 2);
    const uint32_t imm16 =
        (extract(hw1, 0, 4) << 12) | (extract(hw1, 10, 1) << 11) | (extract(hw2, 12, 3) << 8) | extract(hw2, 0, 8);
    return sign_extend(imm16, 16);
}

// Offset of Thumb-2 B.W (T4) / BL (T1): S:I1:I2:imm10:imm11:0 with
// I1 = NOT(J1 XOR S), I2 = NOT(J2 XOR S).
int64_t thumb_branch_addend(const uint8_t* p) {
    const uint32_t hw1 = read_le16(p), hw2 = read_le16(p + 2);
    const uint32_t s = extract(hw1, 10, 1), j1 = extract(hw2, 13, 1), j2 = extract(hw2, 11, 1);
    const uint32_t i1 = (~(j1 ^ s)) & 1, i2 = (~(j2 ^ s)) & 1;
    const uint32_t off = (s << 24) | (i1 << 23) | (i2 << 22) | (extract(hw1, 0, 10) << 12) | (extract(hw2, 0, 11) << 1);
    return sign_extend(off, 25);
}

// Encoding forms of data offset fields.
enum DataForm : uint8_t {
    kArmVfp,    // VLDR/VSTR (A1/A2): cond 1101 UD0L Rn Vd 101x imm8
    kArmLdst,   // LDR/STR immediate, offset (A1): cond 0101 U0 0L Rn Rt imm12
    kThumbVfp,  // VLDR/VSTR (T1/T2): 1110 1101 UD0L Rn | Vd 101x imm8
    kThumbLdst, // LDR.W/STR.W (T3): 1111 1000 110L Rn | Rt imm12
};
constexpr uint32_t kBaseReg = 9;

int64_t vfp_offset(uint32_t u, uint32_t imm8) { return (u ? 1 : -1) * int64_t{imm8} * 4; }

class Arm32 final : public TargetInfo {
public:
    Arm32(cp_target id, std::string_view name_, bool is_thumb, std::string_view desc)
        : TargetInfo(id, name_, llvm::ELF::EM_ARM) {
        aliases = table_aliases(name);
        thumb = is_thumb;
        code_align = 8;
        data_align = 8;
        max_stencil_align = 4;  // Thumb literal loads use Align(PC, 4)
        description = desc;
        nop = is_thumb ? std::vector<uint8_t>{0x00, 0xbf}               // nop (T1)
                       : std::vector<uint8_t>{0x00, 0xf0, 0x20, 0xe3};  // nop (A1)
    }

    std::optional<cp_patch_kind> classify(uint32_t type) const override {
        using namespace llvm::ELF;
        switch (type) {
            case R_ARM_ABS32: return CP_PATCH_ABS32;
            case R_ARM_REL32: return CP_PATCH_REL32;
            default: break;
        }
        if (thumb) {
            switch (type) {
                case R_ARM_THM_CALL:
                case R_ARM_THM_JUMP24: return CP_PATCH_THM_BRANCH24;
                case R_ARM_THM_MOVW_ABS_NC: return CP_PATCH_THM_MOVW;
                case R_ARM_THM_MOVT_ABS: return CP_PATCH_THM_MOVT;
                default: return std::nullopt;
            }
        }
        switch (type) {
            case R_ARM_CALL:
            case R_ARM_JUMP24: return CP_PATCH_ARM_BRANCH24;
            case R_ARM_MOVW_ABS_NC: return CP_PATCH_ARM_MOVW;
            case R_ARM_MOVT_ABS: return CP_PATCH_ARM_MOVT;
            default: return std::nullopt;
        }
    }

    int64_t implicit_addend(cp_patch_kind kind, const uint8_t* site) const override {
        switch (kind) {
            case CP_PATCH_ABS32:
            case CP_PATCH_REL32: return static_cast<int32_t>(read_le32(site));
            case CP_PATCH_ARM_BRANCH24: return arm_branch_addend(site);
            case CP_PATCH_ARM_MOVW:
            case CP_PATCH_ARM_MOVT: return arm_movw_addend(site);
            case CP_PATCH_THM_BRANCH24: return thumb_branch_addend(site);
            case CP_PATCH_THM_MOVW:
            case CP_PATCH_THM_MOVT: return thumb_movw_addend(site);
            default: return 0;
        }
    }

    std::optional<uint32_t> tail_jump_start(std::span<const uint8_t> code, uint32_t offset,
                                            uint32_t type) const override {
        if (offset + 4 != code.size()) return std::nullopt;
        if (thumb) {
            // B.W (T4): second halfword 10x1 xxxx xxxx xxxx (BL would be 11x1).
            if (type != llvm::ELF::R_ARM_THM_JUMP24 || (read_le16(&code[offset + 2]) & 0xd000) != 0x9000)
                return std::nullopt;
            return offset;
        }
        // B (A1) with condition AL: 1110 1010 imm24.
        if (type != llvm::ELF::R_ARM_JUMP24 || (read_le32(&code[offset]) & 0xff00'0000) != 0xea00'0000)
            return std::nullopt;
        return offset;
    }

    bool position_independent(cp_patch_kind kind) const override {
        return kind == CP_PATCH_ARM_BRANCH24 || kind == CP_PATCH_THM_BRANCH24 || kind == CP_PATCH_REL32;
    }

    std::vector<DataField> find_data_fields(std::span<const uint8_t> code, int64_t marker) const override {
        std::vector<DataField> out;
        if (!thumb) {
            for (uint32_t at = 0; at + 4 <= code.size(); at += 4) {
                const uint32_t insn = read_le32(&code[at]);
                if (extract(insn, 28, 4) == 0xf || extract(insn, 16, 4) != kBaseReg) continue;
                const bool vfp = (insn & 0x0f20'0e00) == 0x0d00'0a00;
                const bool ldst = (insn & 0x0f60'0000) == 0x0500'0000;
                if (vfp && vfp_offset(extract(insn, 23, 1), extract(insn, 0, 8)) == marker) out.push_back({at, kArmVfp});
                if (ldst && extract(insn, 23, 1) && extract(insn, 0, 12) == marker) out.push_back({at, kArmLdst});
            }
            return out;
        }
        // Thumb: walk the instructions (a first halfword 0b11101/11110/11111
        // starts a 32-bit one).
        for (uint32_t at = 0; at + 2 <= code.size();) {
            const uint32_t hw1 = read_le16(&code[at]);
            const bool wide = extract(hw1, 11, 5) >= 0b11101;
            if (!wide || at + 4 > code.size()) {
                at += 2;
                continue;
            }
            const uint32_t hw2 = read_le16(&code[at + 2]);
            if (extract(hw1, 0, 4) == kBaseReg) {
                if ((hw1 & 0xff20) == 0xed00 && (hw2 & 0x0e00) == 0x0a00 &&
                    vfp_offset(extract(hw1, 7, 1), extract(hw2, 0, 8)) == marker)
                    out.push_back({at, kThumbVfp});
                if ((hw1 & 0xffe0) == 0xf8c0 && extract(hw2, 0, 12) == marker) out.push_back({at, kThumbLdst});
            }
            at += 4;
        }
        return out;
    }

    bool data_field_fits(uint8_t form, int64_t disp) const override {
        switch (form) {
            case kArmVfp:
            case kThumbVfp: return disp % 4 == 0 && disp >= -1020 && disp <= 1020;
            case kArmLdst: return disp >= -4095 && disp <= 4095;
            case kThumbLdst: return disp >= -255 && disp <= 4095;
            default: return false;
        }
    }

    void write_data_field(uint8_t form, uint8_t* site, int64_t disp) const override {
        if (!data_field_fits(form, disp))
            fail(ErrorKind::Environment, "{}: offset {} does not fit a {} field", name, disp, data_field_name(form));
        const uint32_t u = disp >= 0 ? 1 : 0;
        const uint32_t mag = static_cast<uint32_t>(disp >= 0 ? disp : -disp);
        switch (form) {
            case kArmVfp:
                write_le32(site, (read_le32(site) & ~((1u << 23) | 0xffu)) | u << 23 | mag / 4);
                return;
            case kArmLdst:
                write_le32(site, (read_le32(site) & ~((1u << 23) | 0xfffu)) | u << 23 | mag);
                return;
            case kThumbVfp:
                write_le16(site, static_cast<uint16_t>((read_le16(site) & ~(1u << 7)) | u << 7));
                write_le16(site + 2, static_cast<uint16_t>((read_le16(site + 2) & ~0xffu) | mag / 4));
                return;
            case kThumbLdst: {
                const uint32_t hw1 = read_le16(site), rt = extract(read_le16(site + 2), 12, 4);
                if (u) {  // T3: imm12
                    write_le16(site + 2, static_cast<uint16_t>(rt << 12 | mag));
                } else {  // T4: 1111 1000 0101 Rn | Rt 1 P=1 U=0 W=0 imm8
                    write_le16(site, static_cast<uint16_t>(hw1 & ~(1u << 7)));
                    write_le16(site + 2, static_cast<uint16_t>(rt << 12 | 0xc00 | mag));
                }
                return;
            }
            default: fail(ErrorKind::Environment, "{}: unknown data field form {}", name, form);
        }
    }

    // VLDR Sd (L = 1, sz = 0) becomes VMOV.F32 Sd, #imm8 (VFPv3 and later:
    // not armv6's VFPv2); LDR Rt becomes MOV/MVN Rt, #modified immediate,
    // or MOVW Rt, #imm16 where there is MOVW (not armv6); LDR.W Rt becomes
    // MOVW Rt, #imm16 or MVN Rt, #imm8.
    bool write_immediate(uint8_t form, uint8_t* site, uint32_t bits) const override {
        const bool vfp3 = id != CP_TARGET_ARMV6, movw = id != CP_TARGET_ARMV6;
        switch (form) {
            case kArmVfp: {
                const uint32_t insn = read_le32(site);
                const auto imm8 = vfp_imm8(bits);
                if (!vfp3 || !imm8 || !extract(insn, 20, 1) || extract(insn, 8, 1)) return false;
                // cond 1110 1D11 imm4H Vd 1010 0000 imm4L, keeping cond, D, Vd
                write_le32(site, (insn & 0xf040'f000u) | 0x0eb0'0a00u | (*imm8 >> 4) << 16 | (*imm8 & 0xf));
                return true;
            }
            case kThumbVfp: {
                const uint32_t hw1 = read_le16(site), hw2 = read_le16(site + 2);
                const auto imm8 = vfp_imm8(bits);
                if (!imm8 || !extract(hw1, 4, 1) || extract(hw2, 8, 1)) return false;
                write_le16(site, static_cast<uint16_t>(0xeeb0u | (hw1 & 0x40u) | *imm8 >> 4));
                write_le16(site + 2, static_cast<uint16_t>((hw2 & 0xf000u) | 0x0a00u | (*imm8 & 0xf)));
                return true;
            }
            case kArmLdst: {
                const uint32_t insn = read_le32(site), rt = extract(insn, 12, 4);
                if (!extract(insn, 20, 1) || extract(insn, 22, 1) || rt == 15) return false;  // LDR word, not PC
                const uint32_t keep = (insn & 0xf000'0000u) | rt << 12;
                for (uint32_t rot = 0; rot < 16; ++rot) {  // imm12 = rot:imm8, the value imm8 ROR (2 * rot)
                    const uint32_t v = std::rotl(bits, static_cast<int>(2 * rot)), n = std::rotl(~bits, static_cast<int>(2 * rot));
                    if (v < 256 || n < 256) {
                        write_le32(site, keep | (v < 256 ? 0x03a0'0000u : 0x03e0'0000u) | rot << 8 | (v < 256 ? v : n));
                        return true;
                    }
                }
                if (!movw || bits > 0xffff) return false;
                write_le32(site, keep | 0x0300'0000u | (bits >> 12) << 16 | (bits & 0xfff));
                return true;
            }
            case kThumbLdst: {
                const uint32_t hw1 = read_le16(site), rt = extract(read_le16(site + 2), 12, 4);
                if ((hw1 & 0xfff0u) != 0xf8d0u || rt == 13 || rt == 15) return false;  // LDR.W T3, not SP/PC
                if (bits <= 0xffff) {  // MOVW T3: 11110 i 10 0100 imm4 | 0 imm3 Rd imm8
                    write_le16(site, static_cast<uint16_t>(0xf240u | extract(bits, 11, 1) << 10 | bits >> 12));
                    write_le16(site + 2, static_cast<uint16_t>(extract(bits, 8, 3) << 12 | rt << 8 | (bits & 0xff)));
                    return true;
                }
                if (~bits <= 0xff) {  // MVN T1 (modified immediate 0:000:imm8): 11110 0 0 0011 0 1111 | 0 000 Rd imm8
                    write_le16(site, 0xf06fu);
                    write_le16(site + 2, static_cast<uint16_t>(rt << 8 | (~bits & 0xff)));
                    return true;
                }
                return false;
            }
            default: return false;
        }
    }

    std::string_view data_field_name(uint8_t form) const override {
        switch (form) {
            case kArmVfp:
            case kThumbVfp: return "vldr/vstr imm8*4";
            case kArmLdst: return "ldr/str imm12";
            case kThumbLdst: return "ldr.w/str.w imm12/imm8";
            default: return "?";
        }
    }
};

}  // namespace

const TargetInfo& armv7_target() {
    static const Arm32 target(CP_TARGET_ARMV7, "armv7", false,
                              "ARMv7-A, ARM state, VFPv3/NEON hard-float (runs under qemu-arm)");
    return target;
}

const TargetInfo& thumbv7_target() {
    static const Arm32 target(CP_TARGET_THUMBV7, "thumbv7", true,
                              "ARMv7-A, Thumb-2, VFPv3/NEON hard-float (runs under qemu-arm)");
    return target;
}

// ARMv6 has no MOVW/MOVT (ARMv6T2 added them): gcc loads every address from
// a literal pool word (R_ARM_ABS32) after the function, so a stencil with one
// keeps its final jump (the pool follows it) and far operands are pool words
// holding the base-relative offset.
const TargetInfo& armv6_target() {
    static const Arm32 target(CP_TARGET_ARMV6, "armv6", false,
                              "ARMv6 ARM1176JZF-S, ARM state, VFPv2 hard-float (runs under qemu-arm -cpu arm1176)");
    return target;
}

const TargetInfo& thumbv7em_target() {
    static const Arm32 target(CP_TARGET_THUMBV7EM, "thumbv7em", true,
                              "ARMv7E-M Cortex-M4F, Thumb-2, fpv4-sp-d16 (runs in the armhf runner under qemu-arm)");
    return target;
}

}  // namespace copapy
