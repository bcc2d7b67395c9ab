// x86_64 (System V psABI, "AMD64 Architecture Processor Supplement").
//
// Quirks that matter to a copy-and-patch compiler:
// - Instructions have variable length, so a relocation offset says nothing
//   about where its instruction starts. The stencil's final tail call is
//   `jmp rel32` (E9 + 4 bytes, R_X86_64_PLT32 against the continuation) and
//   we recognise it by the opcode byte right before the field, at the end of
//   the function.
// - PC-relative fields are relative to the end of the instruction; the ELF
//   addend carries that (-4 for a bare rel32, less when an immediate follows),
//   so S + A - P is right for every instruction shape.
// - Data is addressed RIP-relative (R_X86_64_PC32) with -fno-pic: code and data
//   must be within +-2 GiB, which the runner guarantees by mapping them
//   together. Code-to-code references are resolved at compile time.
// - Near memory operands are [rbx + disp8] (rbx is the stencils' base
//   register, data + 128): ModRM with mod = 01 and rm = 011 right before the
//   marker byte, reaching data + 0 ... 255 with the short encoding (3 bytes
//   fewer than a disp32). Far operands are [rbx + disp32] (mod = 10) holding
//   0x7fffff00 + the marker (kFarMarkerHigh), reaching everything; both are
//   fields the compiler writes, never a patch.
//
// 32-bit x86 (target `x86`, i686 + SSE2; System V i386 psABI,
// https://gitlab.com/x86-psABIs/i386-ABI) shares the instruction encoding, so
// the tail jump and the [ebx + disp32] operands are recognised the same way.
// Its own quirks:
// - REL, not RELA: the addend (-4 for a call or jmp rel32) is the field's
//   content (implicit_addend).
// - There is no RIP-relative addressing: with -fno-pic a stencil's own
//   constants (neg's sign mask, floordiv's 0.5f) are absolute [disp32]
//   operands (R_386_32). The compiler copies them into the data region and
//   rewrites each such operand to [ebx + disp32] (ModRM mod 00 rm 101 ->
//   mod 10 rm 011, the same length), so they need no patch, as the
//   program's own data (near and far fields as on x86-64). musl's libm is
//   built -fPIE instead (GOTPC/GOTOFF below): library code has no base register.
//   Calls and jumps are R_386_PC32 (R_386_PLT32 from newer assemblers),
//   resolved at compile time.
// - The default ABI passes floats on the stack and returns them in x87
//   st(0); the stencils and their musl libm are built with -mregparm=3
//   -msseregparm, so values travel in eax/edx and xmm0/xmm1 as on x86-64.
#include <llvm/BinaryFormat/ELF.h>

#include "support/bits.hpp"
#include "support/error.hpp"
#include "target.hpp"

namespace copapy {
namespace {

// What x86-64 and i686 share: the encoding of jmp rel32 and of [base + disp8]
// and [base + disp32].
class X86Family : public TargetInfo {
protected:
    X86Family(cp_target id_, std::string_view name_, uint16_t machine, std::string_view desc)
        : TargetInfo(id_, name_, machine) {
        aliases = table_aliases(name);
        code_align = 16;
        data_align = 16;
        max_stencil_align = 1;  // no instruction alignment requirements
        nop = {0x90};
        description = desc;
    }

    // `jmp rel32` (E9) whose field ends the function.
    static std::optional<uint32_t> final_jmp_rel32(std::span<const uint8_t> code, uint32_t offset) {
        constexpr uint8_t kJmpRel32 = 0xe9;
        if (offset < 1 || offset + 4 != code.size() || code[offset - 1] != kJmpRel32) return std::nullopt;
        return offset - 1;
    }

    // Field forms.
    static constexpr uint8_t kDisp32 = 0;  // [base + disp32]: far stencils
    static constexpr uint8_t kDisp8 = 1;   // [base + disp8]: near stencils
    // A far stencil's disp32 marker: this plus the near marker (a byte).
    static constexpr uint32_t kFarMarkerHigh = 0x7fff'ff00;

public:
    std::vector<DataField> find_data_fields(std::span<const uint8_t> code, int64_t marker) const override {
        std::vector<DataField> out;
        if (marker < 0 || marker > 127) return out;
        const uint32_t far_marker = kFarMarkerHigh + static_cast<uint32_t>(marker);
        for (uint32_t at = 1; at < code.size(); ++at) {
            const uint8_t modrm = code[at - 1] & 0xc7;  // mod and rm; rm 011: rbx / ebx, no SIB byte
            if (modrm == 0x43 && code[at] == marker) {  // mod 01: disp8
                out.push_back({at, kDisp8});
            } else if (modrm == 0x83 && at + 4 <= code.size() && read_le32(&code[at]) == far_marker) {  // mod 10
                out.push_back({at, kDisp32});
                at += 3;
            }
        }
        return out;
    }

    bool data_field_fits(uint8_t form, int64_t disp) const override {
        return fits_signed(disp, form == kDisp8 ? 8 : 32);
    }

    void write_data_field(uint8_t form, uint8_t* site, int64_t disp) const override {
        if (!data_field_fits(form, disp))
            fail(ErrorKind::Environment, "{}: displacement {} does not fit a {}", name, disp, data_field_name(form));
        if (form == kDisp8) *site = static_cast<uint8_t>(static_cast<int8_t>(disp));
        else write_le32(site, static_cast<uint32_t>(disp));
    }

    std::string_view data_field_name(uint8_t form) const override { return form == kDisp8 ? "disp8" : "disp32"; }
};

class X86_64 final : public X86Family {
public:
    X86_64() : X86Family(CP_TARGET_X86_64, "x86_64", llvm::ELF::EM_X86_64, "x86-64 System V (host gcc)") {}

    std::optional<cp_patch_kind> classify(uint32_t type) const override {
        switch (type) {
            case llvm::ELF::R_X86_64_PC32:
            case llvm::ELF::R_X86_64_PLT32: return CP_PATCH_REL32;
            case llvm::ELF::R_X86_64_64: return CP_PATCH_ABS64;
            default: return std::nullopt;
        }
    }

    std::optional<uint32_t> tail_jump_start(std::span<const uint8_t> code, uint32_t offset,
                                            uint32_t type) const override {
        if (type != llvm::ELF::R_X86_64_PLT32 && type != llvm::ELF::R_X86_64_PC32) return std::nullopt;
        return final_jmp_rel32(code, offset);
    }

    bool position_independent(cp_patch_kind kind) const override { return kind == CP_PATCH_REL32; }
};

class X86_32 final : public X86Family {
public:
    X86_32()
        : X86Family(CP_TARGET_X86, "x86", llvm::ELF::EM_386,
                    "i686 + SSE2, floats in XMM registers (i686-linux-gnu-gcc; runs under qemu-i386)") {}

    std::optional<cp_patch_kind> classify(uint32_t type) const override {
        switch (type) {
            case llvm::ELF::R_386_PC32:
            case llvm::ELF::R_386_PLT32: return CP_PATCH_REL32;  // no PLT in an image: calls go directly
            case llvm::ELF::R_386_GOTPC: return CP_PATCH_REL32;  // GOT + A - P, the GOT at the code's start
            case llvm::ELF::R_386_32: return CP_PATCH_ABS32;
            case llvm::ELF::R_386_GOTOFF: return CP_PATCH_ABS32;  // S + A - GOT: code_base_relative
            default: return std::nullopt;  // GOT32/GOT32X (a GOT entry), TLS
        }
    }

    bool code_base_relative(uint32_t type) const override { return type == llvm::ELF::R_386_GOTOFF; }

    // `[prefix] 0F op ModRM disp32` with ModRM mod 00 rm 101 (an absolute
    // address, no SIB) and op one of the SSE/SSE2 scalar and logic opcodes
    // gcc gives a float constant operand. Without instruction boundaries the
    // bytes alone decide, so the list is kept to those opcodes (a one-byte
    // `add eax, imm32` (05) after a 0F byte of something else would match
    // the ModRM test); anything else is not recognised and stays a patch.
    static bool sse_constant_opcode(uint8_t op) {
        switch (op) {
            case 0x10:                                      // movss/movsd/movups/movupd
            case 0x28:                                      // movaps/movapd
            case 0x2e: case 0x2f:                           // ucomiss/comiss
            case 0x51:                                      // sqrtss
            case 0x54: case 0x55: case 0x56: case 0x57:     // andps andnps orps xorps
            case 0x58: case 0x59: case 0x5c: case 0x5d: case 0x5e: case 0x5f:  // add mul sub min div max
            case 0x6e: case 0xdb: case 0xeb: case 0xef:     // movd pand por pxor
                return true;
            default: return false;
        }
    }
    bool rebasable_operand(std::span<const uint8_t> code, uint32_t offset, uint32_t type) const override {
        return type == llvm::ELF::R_386_32 && offset >= 3 && offset + 4 <= code.size() &&
               (code[offset - 1] & 0xc7) == 0x05 && code[offset - 3] == 0x0f && sse_constant_opcode(code[offset - 2]);
    }

    void rebase_operand(uint8_t* site) const override {
        site[-1] = static_cast<uint8_t>((site[-1] & 0x38) | 0x83);  // keep reg; mod 10, rm 011: [ebx + disp32]
    }

    int64_t implicit_addend(cp_patch_kind kind, const uint8_t* site) const override {  // also GOTPC, GOTOFF
        return kind == CP_PATCH_REL32 || kind == CP_PATCH_ABS32 ? int64_t{static_cast<int32_t>(read_le32(site))} : 0;
    }

    std::optional<uint32_t> tail_jump_start(std::span<const uint8_t> code, uint32_t offset,
                                            uint32_t type) const override {
        if (type != llvm::ELF::R_386_PC32 && type != llvm::ELF::R_386_PLT32) return std::nullopt;
        return final_jmp_rel32(code, offset);
    }

    bool position_independent(cp_patch_kind kind) const override { return kind == CP_PATCH_REL32; }
};

}  // namespace

const TargetInfo& x86_64_target() {
    static const X86_64 target;
    return target;
}

const TargetInfo& x86_target() {
    static const X86_32 target;
    return target;
}

}  // namespace copapy
