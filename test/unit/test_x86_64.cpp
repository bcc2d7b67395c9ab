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
