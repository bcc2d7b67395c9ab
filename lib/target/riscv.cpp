// RISC-V (RV64GC lp64d, and RV32IMAFC ilp32f as target riscv32; "RISC-V ELF psABI specification",
// https://github.com/riscv-non-isa/riscv-elf-psabi-doc).
//
// Quirks that matter to a copy-and-patch compiler:
// - RELA relocations: addends are explicit.
// - The C extension mixes 16-bit and 32-bit instructions (bits 1:0 == 11
//   mark a 32-bit one), so code is only 2-byte aligned; the padding nop is
//   c.nop.
// - The stencils are compiled with -mcmodel=medany: every address is
//   PC-relative, auipc + addi/load/store (R_RISCV_PCREL_HI20 +
//   R_RISCV_PCREL_LO12_I/S). The low part's relocation refers to the label of
//   the auipc, not to the target; the stencil database gives it the auipc's
//   target (is_pcrel_low_part / is_pcrel_high_part). References into the code
//   region are therefore resolved at compile time, references to data are
//   patched (code and data must lie within +-2 GiB, which the runner's single
//   mapping guarantees). medlow's absolute lui + addi would limit every
//   address to the low 2 GiB, which 64-bit Linux does not give out.
// - Linker relaxation is off (-mno-relax, .option norelax): the compiler
//   copies code as assembled and never shortens it, so no R_RISCV_RELAX or
//   R_RISCV_ALIGN may appear (they are unsupported relocations here, an error
//   naming the stencil). The assembler still emits relocations for branches
//   inside a function (R_RISCV_BRANCH, RVC_BRANCH, RVC_JUMP, JAL): resolved
//   at compile time like any code-relative one.
// - The stencil's final tail call is `auipc t1, 0; jr t1` with one
//   R_RISCV_CALL_PLT covering both instructions (8 bytes); library calls are
//   the same pair with ra (`call`), which is not a tail jump.
// - Near memory operands are flw/lw/fsw/sw with base register s11 (x27, the
//   stencils' global register variable; callee-saved, so library code keeps
//   it) and a 12-bit signed immediate (I-type bits 31:20, S-type 31:25 and
//   11:7). The base is data + cp_data_bias (2040), so the offsets reach the
//   first 4 KiB of the data; beyond that the far stencils take over: they
//   build the offset from s11 in `lui rd, 0; addi rd, rd, 2040` (the marker;
//   never compressed), a second field form the compiler rewrites (hi20 and
//   lo12 of the offset), then add s11: no load-time patch.
#include <llvm/BinaryFormat/ELF.h>

#include "support/bits.hpp"
#include "support/error.hpp"
#include "target.hpp"

namespace copapy {
namespace {

constexpr uint32_t kBaseReg = 27;  // s11

// Encoding forms of data offset fields.
enum DataForm : uint8_t {
    kIType,  // lw / flw: imm[11:0] at 31:20
    kSType,  // sw / fsw: imm[11:5] at 31:25, imm[4:0] at 11:7
    kLuiAddi,  // far: lui rd, hi20 (31:12) then addi rd, rd, lo12 (31:20)
};

constexpr uint32_t opcode(uint32_t insn) { return insn & 0x7f; }
constexpr bool is_load(uint32_t insn) { return opcode(insn) == 0x03 || opcode(insn) == 0x07; }   // lw.. / flw..
constexpr bool is_store(uint32_t insn) { return opcode(insn) == 0x23 || opcode(insn) == 0x27; }  // sw.. / fsw..
constexpr bool is_lui(uint32_t insn) { return opcode(insn) == 0x37; }
constexpr bool is_addi(uint32_t insn) { return opcode(insn) == 0x13 && extract(insn, 12, 3) == 0; }
constexpr uint32_t rd(uint32_t insn) { return extract(insn, 7, 5); }
constexpr uint32_t rs1(uint32_t insn) { return extract(insn, 15, 5); }
constexpr int64_t i_imm(uint32_t insn) { return sign_extend(extract(insn, 20, 12), 12); }
constexpr int64_t s_imm(uint32_t insn) { return sign_extend(extract(insn, 25, 7) << 5 | extract(insn, 7, 5), 12); }

class RiscV final : public TargetInfo {
public:
    RiscV(cp_target id, std::string_view name_, std::string_view desc) : TargetInfo(id, name_, llvm::ELF::EM_RISCV) {
        aliases = table_aliases(name);
        code_align = 16;
        data_align = 16;
        max_stencil_align = 4;  // gcc aligns functions to 4; nothing depends on more
        nop = {0x01, 0x00};     // c.nop
        description = desc;
    }

    std::optional<cp_patch_kind> classify(uint32_t type) const override {
        using namespace llvm::ELF;
        switch (type) {
            case R_RISCV_BRANCH: return CP_PATCH_RV_BRANCH;
            case R_RISCV_JAL: return CP_PATCH_RV_JAL;
            case R_RISCV_CALL:
            case R_RISCV_CALL_PLT: return CP_PATCH_RV_CALL;  // no PLT in an image: calls go directly
            case R_RISCV_PCREL_HI20: return CP_PATCH_RV_PCREL_HI20;
            case R_RISCV_PCREL_LO12_I: return CP_PATCH_RV_PCREL_LO12_I;
            case R_RISCV_PCREL_LO12_S: return CP_PATCH_RV_PCREL_LO12_S;
            case R_RISCV_RVC_BRANCH: return CP_PATCH_RV_RVC_BRANCH;
            case R_RISCV_RVC_JUMP: return CP_PATCH_RV_RVC_JUMP;
            case R_RISCV_32: return CP_PATCH_ABS32;
            case R_RISCV_64:
                if (id == CP_TARGET_RISCV64) return CP_PATCH_ABS64;
                return std::nullopt;  // no 64-bit words on RV32
            default: return std::nullopt;  // RELAX/ALIGN (relaxation is off), GOT, TLS, HI20/LO12 (medlow)
        }
    }

    bool is_pcrel_low_part(uint32_t type) const override {
        return type == llvm::ELF::R_RISCV_PCREL_LO12_I || type == llvm::ELF::R_RISCV_PCREL_LO12_S;
    }
    bool is_pcrel_high_part(uint32_t type) const override { return type == llvm::ELF::R_RISCV_PCREL_HI20; }

    // `auipc t1, 0; jr t1` (jalr x0, 0(t1)) in the last 8 bytes, under one
    // CALL_PLT; `call` (jalr ra) is a library call, not the end.
    std::optional<uint32_t> tail_jump_start(std::span<const uint8_t> code, uint32_t offset,
                                            uint32_t type) const override {
        if (type != llvm::ELF::R_RISCV_CALL_PLT && type != llvm::ELF::R_RISCV_CALL) return std::nullopt;
        if (offset > code.size() || code.size() - offset != 8) return std::nullopt;
        const uint32_t auipc = read_le32(&code[offset]), jalr = read_le32(&code[offset + 4]);
        const bool is_auipc = opcode(auipc) == 0x17;
        const bool is_jump = opcode(jalr) == 0x67 && extract(jalr, 12, 3) == 0 && extract(jalr, 7, 5) == 0 &&
                             extract(jalr, 15, 5) == extract(auipc, 7, 5);
        if (!is_auipc || !is_jump) return std::nullopt;
        return offset;
    }

    bool position_independent(cp_patch_kind kind) const override {
        return kind != CP_PATCH_ABS32 && kind != CP_PATCH_ABS64;  // everything else is PC-relative
    }

    std::vector<DataField> find_data_fields(std::span<const uint8_t> code, int64_t marker) const override {
        std::vector<DataField> out;
        for (uint32_t at = 0; at + 2 <= code.size();) {
            const bool wide = (code[at] & 3) == 3;
            if (!wide || at + 4 > code.size()) {
                at += 2;
                continue;
            }
            const uint32_t insn = read_le32(&code[at]);
            if (extract(insn, 15, 5) == kBaseReg) {
                if (is_load(insn) && i_imm(insn) == marker) out.push_back({at, kIType});
                if (is_store(insn) && s_imm(insn) == marker) out.push_back({at, kSType});
            }
            if (is_lui(insn) && extract(insn, 12, 20) == 0 && at + 8 <= code.size()) {
                const uint32_t next = read_le32(&code[at + 4]);
                if (is_addi(next) && rd(next) == rd(insn) && rs1(next) == rd(insn) && i_imm(next) == marker) {
                    out.push_back({at, kLuiAddi});
                    at += 8;
                    continue;
                }
            }
            at += 4;
        }
        return out;
    }

    bool data_field_fits(uint8_t form, int64_t disp) const override {
        // lui + addi: hi20 = (disp + 0x800) >> 12 must be a signed 20-bit value
        return form == kLuiAddi ? fits_signed(disp + 0x800, 32) : fits_signed(disp, 12);
    }

    void write_data_field(uint8_t form, uint8_t* site, int64_t disp) const override {
        if (!data_field_fits(form, disp))
            fail(ErrorKind::Environment, "{}: offset {} does not fit a {} field", name, disp, data_field_name(form));
        const uint32_t imm = static_cast<uint32_t>(disp) & 0xfff, insn = read_le32(site);
        switch (form) {
            case kIType: write_le32(site, (insn & 0x000f'ffffu) | imm << 20); return;
            case kSType:
                write_le32(site, (insn & 0x01ff'f07fu) | (imm >> 5) << 25 | (imm & 0x1f) << 7);
                return;
            case kLuiAddi: {
                // lo12 is sign-extended by addi, so hi20 rounds: disp = hi * 4096 + sext(lo12)
                const uint32_t hi = static_cast<uint32_t>((disp + 0x800) >> 12) & 0xf'ffffu;
                write_le32(site, (insn & 0x0000'0fffu) | hi << 12);
                write_le32(site + 4, (read_le32(site + 4) & 0x000f'ffffu) | imm << 20);
                return;
            }
            default: fail(ErrorKind::Environment, "{}: unknown data field form {}", name, form);
        }
    }

    std::string_view data_field_name(uint8_t form) const override {
        return form == kSType ? "store imm12 (S-type)" : form == kLuiAddi ? "lui/addi" : "load imm12 (I-type)";
    }

    // lw rd (funct3 010: sign-extends, as addi does) of a 12-bit signed
    // constant becomes addi rd, zero, imm. Floats have no immediates here.
    bool write_immediate(uint8_t form, uint8_t* site, uint32_t bits) const override {
        const uint32_t insn = read_le32(site), rd = (insn >> 7) & 0x1f;
        if (form != kIType || opcode(insn) != 0x03 || ((insn >> 12) & 7) != 2 || rd == 0) return false;
        if (!fits_signed(static_cast<int32_t>(bits), 12)) return false;
        write_le32(site, (bits & 0xfff) << 20 | rd << 7 | 0x13);
        return true;
    }
};

}  // namespace

const TargetInfo& riscv64_target() {
    static const RiscV target(CP_TARGET_RISCV64, "riscv64", "RV64GC lp64d (riscv64-linux-gnu-gcc; runs under qemu-riscv64)");
    return target;
}

// RV32IMAFC ilp32f, bare metal: the same instructions and relocations with
// 32-bit registers, single-precision floats only (floats are passed in fa0/fa1
// as on RV64). No Linux runner: images run on qemu-system-riscv32's virt
// board in a semihosting firmware (coparun-semihost-riscv32.elf).
const TargetInfo& riscv32_target() {
    static const RiscV target(CP_TARGET_RISCV32, "riscv32",
                              "RV32IMAFC ilp32f bare metal (riscv64-unknown-elf-gcc; runs on qemu-system-riscv32 virt)");
    return target;
}

}  // namespace copapy
