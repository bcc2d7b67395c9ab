// x86_64 target: relocation classification, tail jump recognition, and the
// compile-time resolution of each relocation kind the stencils use.
#include <catch2/catch.hpp>
#include <llvm/BinaryFormat/ELF.h>

#include <vector>

#include "target/target.hpp"

using namespace copapy;
using namespace llvm::ELF;

TEST_CASE("x86_64 is found by name and alias, and is the host") {
    CHECK(find_target("x86_64") == &x86_64_target());
    CHECK(find_target("amd64") == &x86_64_target());
    CHECK(find_target("vax") == nullptr);
    CHECK(&host_target() == &x86_64_target());
}

TEST_CASE("x86_64 classifies the relocations gcc emits for stencils") {
    const TargetInfo& t = x86_64_target();
    CHECK(t.classify(R_X86_64_PC32) == CP_PATCH_REL32);
    CHECK(t.classify(R_X86_64_PLT32) == CP_PATCH_REL32);
    CHECK(t.classify(R_X86_64_64) == CP_PATCH_ABS64);
    CHECK_FALSE(t.classify(R_X86_64_32S));        // absolute 32-bit: -fno-pic musl would need it
    CHECK_FALSE(t.classify(R_X86_64_GOTPCREL));   // never: no GOT in an image
    CHECK(t.position_independent(CP_PATCH_REL32));
    CHECK_FALSE(t.position_independent(CP_PATCH_ABS64));
    CHECK(t.relocation_name(R_X86_64_PLT32) == "R_X86_64_PLT32");
}

TEST_CASE("x86_64 recognises only a final jmp rel32 as the tail jump") {
    const TargetInfo& t = x86_64_target();
    // addss %xmm1,%xmm0 ; jmp result_ff
    std::vector<uint8_t> code = {0xf3, 0x0f, 0x58, 0xc1, 0xe9, 0, 0, 0, 0};
    CHECK(t.tail_jump_start(code, 5, R_X86_64_PLT32) == 4u);
    // call result (E8) at the end is not a jump
    code[4] = 0xe8;
    CHECK_FALSE(t.tail_jump_start(code, 5, R_X86_64_PLT32));
    // jmp in the middle of the function
    std::vector<uint8_t> mid = {0xe9, 0, 0, 0, 0, 0xc3};
    CHECK_FALSE(t.tail_jump_start(mid, 1, R_X86_64_PLT32));
    // a conditional jump (0F 85 rel32) at the end is not cut
    std::vector<uint8_t> jcc = {0x0f, 0x85, 0, 0, 0, 0};
    CHECK_FALSE(t.tail_jump_start(jcc, 2, R_X86_64_PLT32));
}

TEST_CASE("rel32 encodes S + A - P and rejects overflow") {
    std::vector<uint8_t> code(16, 0);
    // jmp at 0x10 to 0x100: field at 0x11, A = -4: value = 0x100 - 4
    REQUIRE(cp_patch_apply(CP_PATCH_REL32, code.data() + 1, 0x100 - 4, 0x11) == CP_OK);
    CHECK(code[1] == 0xeb);  // 0x100 - 4 - 0x11 = 0xeb
    CHECK(code[2] == 0);
    CHECK(code[3] == 0);
    CHECK(code[4] == 0);
    REQUIRE(cp_patch_apply(CP_PATCH_REL32, code.data() + 1, 0, 0x10) == CP_OK);  // backwards
    CHECK(code[1] == 0xf0);
    CHECK(code[4] == 0xff);
    CHECK(cp_patch_apply(CP_PATCH_REL32, code.data() + 1, 0x1'0000'0000ull, 0) == CP_ERR_PATCH_RANGE);
}

TEST_CASE("x86 (i686) is found by name and aliases and classifies REL relocations") {
    const TargetInfo& t = x86_target();
    CHECK(find_target("x86") == &t);
    CHECK(find_target("i686") == &t);
    CHECK(find_target("i386") == &t);
    CHECK(t.id == CP_TARGET_X86);
    CHECK(t.classify(R_386_PC32) == CP_PATCH_REL32);
    CHECK(t.classify(R_386_PLT32) == CP_PATCH_REL32);
    CHECK(t.classify(R_386_32) == CP_PATCH_ABS32);
    // PIC musl: GOT-relative constants from a PC-relative GOT pointer, the
    // "GOT" being the code region's start; a GOT entry is not supported.
    CHECK(t.classify(R_386_GOTPC) == CP_PATCH_REL32);
    CHECK(t.classify(R_386_GOTOFF) == CP_PATCH_ABS32);
    CHECK(t.code_base_relative(R_386_GOTOFF));
    CHECK_FALSE(t.code_base_relative(R_386_32));
    CHECK_FALSE(t.code_base_relative(R_386_GOTPC));
    CHECK_FALSE(t.classify(R_386_GOT32));
    CHECK_FALSE(t.classify(R_386_TLS_LE));
    CHECK(t.position_independent(CP_PATCH_REL32));
    CHECK_FALSE(t.position_independent(CP_PATCH_ABS32));  // no RIP-relative data on i386
    CHECK(t.relocation_name(R_386_PC32) == "R_386_PC32");
    // REL: the addend is the field's content (-4 for a rel32 at the end of its instruction).
    const std::vector<uint8_t> rel = {0xfc, 0xff, 0xff, 0xff};
    CHECK(t.implicit_addend(CP_PATCH_REL32, rel.data()) == -4);
    const std::vector<uint8_t> abs = {0x10, 0, 0, 0};
    CHECK(t.implicit_addend(CP_PATCH_ABS32, abs.data()) == 16);
}

TEST_CASE("x86 cuts only a final jmp rel32 and finds [ebx + disp8] and [ebx + disp32] operands") {
    const TargetInfo& t = x86_target();
    // addss 0x7fffff7c(%ebx),%xmm0 ; jmp result_ff
    std::vector<uint8_t> code = {0xf3, 0x0f, 0x58, 0x83, 0x7c, 0xff, 0xff, 0x7f, 0xe9, 0xfc, 0xff, 0xff, 0xff};
    CHECK(t.tail_jump_start(code, 9, R_386_PC32) == 8u);
    CHECK_FALSE(t.tail_jump_start(code, 9, R_386_32));
    code[8] = 0xe8;  // call
    CHECK_FALSE(t.tail_jump_start(code, 9, R_386_PC32));
    const auto fields = t.find_data_fields(code, 0x7c);
    REQUIRE(fields.size() == 1);
    CHECK(fields[0].offset == 4);
    CHECK(t.data_field_name(fields[0].form) == "disp32");
    CHECK(t.data_field_fits(fields[0].form, -0x8000'0000LL));
    t.write_data_field(fields[0].form, code.data() + 4, 8);
    CHECK(code[4] == 8);
    CHECK(code[7] == 0);
    // addss 0x7c(%ebx),%xmm0: the short form, reaching -128 ... 127
    std::vector<uint8_t> near = {0xf3, 0x0f, 0x58, 0x43, 0x7c};
    const auto short_fields = t.find_data_fields(near, 0x7c);
    REQUIRE(short_fields.size() == 1);
    CHECK(short_fields[0].offset == 4);
    CHECK(t.data_field_name(short_fields[0].form) == "disp8");
    CHECK(t.data_field_fits(short_fields[0].form, -128));
    CHECK_FALSE(t.data_field_fits(short_fields[0].form, 128));
    t.write_data_field(short_fields[0].form, near.data() + 4, -4);
    CHECK(near[4] == 0xfc);
    CHECK_THROWS(t.write_data_field(short_fields[0].form, near.data() + 4, 200));
}

TEST_CASE("x86 rebases an SSE instruction's absolute constant operand onto ebx and nothing else") {
    const TargetInfo& t = x86_target();
    // xorps 0x10,%xmm1 (0f 57 0d disp32): ModRM mod 00 rm 101, reg 001
    std::vector<uint8_t> xorps = {0x0f, 0x57, 0x0d, 0x10, 0, 0, 0};
    CHECK(t.rebasable_operand(xorps, 3, R_386_32));
    CHECK_FALSE(t.rebasable_operand(xorps, 3, R_386_PC32));
    t.rebase_operand(xorps.data() + 3);
    CHECK(xorps[2] == 0x8b);  // mod 10, reg 001 kept, rm 011: xorps disp32(%ebx),%xmm1
    // movss 0x4,%xmm3 (f3 0f 10 1d disp32)
    const std::vector<uint8_t> movss = {0xf3, 0x0f, 0x10, 0x1d, 4, 0, 0, 0};
    CHECK(t.rebasable_operand(movss, 4, R_386_32));
    // add $imm32,%eax (05 imm32) and mov $imm32,%eax (b8 imm32): immediates, not operands
    const std::vector<uint8_t> add = {0x90, 0x90, 0x05, 0x10, 0, 0, 0};
    CHECK_FALSE(t.rebasable_operand(add, 3, R_386_32));
    const std::vector<uint8_t> mov = {0x0f, 0x90, 0xb8, 0x10, 0, 0, 0};
    CHECK_FALSE(t.rebasable_operand(mov, 3, R_386_32));
    // bswap eax (0f c8) then add $imm32,%eax: a 0F byte two before the field, but no SSE opcode
    const std::vector<uint8_t> bswap_add = {0x0f, 0xc8, 0x05, 0x10, 0, 0, 0};
    CHECK_FALSE(t.rebasable_operand(bswap_add, 3, R_386_32));
    // a field too close to the start or past the end
    CHECK_FALSE(t.rebasable_operand(xorps, 2, R_386_32));
    CHECK_FALSE(t.rebasable_operand(movss, 5, R_386_32));
    // x86-64 addresses constants RIP-relative: nothing to rebase
    CHECK_FALSE(x86_64_target().rebasable_operand(movss, 4, R_X86_64_32));
}
