// Constants as instruction immediates (TargetInfo::write_immediate): each
// load of a near constant operand is rewritten into the instruction GNU as
// assembles for the same register and value (the expected words below are
// its output), or left alone where no immediate form fits.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "support/bits.hpp"
#include "target/target.hpp"

using namespace copapy;

namespace {

// The instruction `word` (32 bits; Thumb: first halfword in the high half)
// as stencil bytes.
std::vector<uint8_t> bytes_of(uint32_t word, bool thumb) {
    std::vector<uint8_t> out(4);
    if (thumb) {
        write_le16(out.data(), static_cast<uint16_t>(word >> 16));
        write_le16(out.data() + 2, static_cast<uint16_t>(word));
    } else {
        write_le32(out.data(), word);
    }
    return out;
}

uint32_t word_of(const std::vector<uint8_t>& b, bool thumb) {
    return thumb ? uint32_t{read_le16(b.data())} << 16 | read_le16(b.data() + 2) : read_le32(b.data());
}

// Rewrites the load `load` (found as a data field at `offset`) to hold
// `bits`: the resulting word, or 0 if it was left alone (then unchanged).
uint32_t rewrite(const TargetInfo& t, uint32_t load, int64_t offset, uint32_t bits) {
    std::vector<uint8_t> code = bytes_of(load, t.thumb);
    const auto fields = t.find_data_fields(code, offset);
    REQUIRE(fields.size() == 1);
    if (!t.write_immediate(fields[0].form, code.data() + fields[0].offset, bits)) {
        CHECK(word_of(code, t.thumb) == load);
        return 0;
    }
    return word_of(code, t.thumb);
}

}  // namespace

TEST_CASE("the VFP 8-bit float immediate is found exactly for the values it can hold") {
    CHECK(vfp_imm8(0x3f80'0000) == 0x70u);  // 1.0
    CHECK(vfp_imm8(0x3e80'0000) == 0x50u);  // 0.25
    CHECK(vfp_imm8(0xc000'0000) == 0x80u);  // -2.0
    CHECK(vfp_imm8(0x41f8'0000) == 0x3fu);  // 31.0, the largest
    CHECK(vfp_imm8(0x3e00'0000) == 0x40u);  // 0.125, the smallest
    CHECK_FALSE(vfp_imm8(0));                // 0.0 has no such form
    CHECK_FALSE(vfp_imm8(0x3df0'0000));      // 0.1171875: exponent too small
    CHECK_FALSE(vfp_imm8(0x4200'0000));      // 32.0: too large
    CHECK_FALSE(vfp_imm8(0x3f84'0000));      // 1.03125: five fraction bits
    CHECK_FALSE(vfp_imm8(0x3e99'999a));      // 0.3
    // Every imm8 round-trips through its expansion.
    for (uint32_t imm8 = 0; imm8 < 256; ++imm8) {
        const uint32_t b = (imm8 >> 6) & 1;
        const uint32_t exp = ((b ^ 1) << 7) | (b ? 0x7cu : 0u) | ((imm8 >> 4) & 3);
        const uint32_t bits = (imm8 >> 7) << 31 | exp << 23 | (imm8 & 0xf) << 19;
        CHECK(vfp_imm8(bits) == imm8);
    }
}

TEST_CASE("Arm and Thumb loads of constants become vmov.f32, mov, mvn and movw") {
    const TargetInfo& arm = armv7_target();
    CHECK(rewrite(arm, 0xedd99a04, 16, 0x3e80'0000) == 0xeef59a00);  // vldr s19 -> vmov.f32 s19, #0.25
    CHECK(rewrite(arm, 0xed190a02, -8, 0xc000'0000) == 0xeeb80a00);  // vldr s0 (U = 0) -> vmov.f32 s0, #-2.0
    CHECK(rewrite(arm, 0xedd99a04, 16, 0x3e99'999a) == 0);           // 0.3 stays a load
    CHECK(rewrite(arm, 0xed890a02, 8, 0x3f80'0000) == 0);            // a store is never rewritten
    CHECK(rewrite(arm, 0xe599300c, 12, 0x3f00'0000) == 0xe3a0343f);  // ldr r3 -> mov r3, #0x3f000000
    CHECK(rewrite(arm, 0xe5992004, 4, 0xffff'ffff) == 0xe3e02000);   // ldr r2 -> mvn r2, #0
    CHECK(rewrite(arm, 0xe5991004, 4, 0x1234) == 0xe3011234);        // ldr r1 -> movw r1, #0x1234
    CHECK(rewrite(arm, 0xe5991004, 4, 0x1234'5678) == 0);
    // ARMv6: VFPv2 has no vmov immediate and there is no movw; mov/mvn remain.
    const TargetInfo& v6 = armv6_target();
    CHECK(rewrite(v6, 0xedd99a04, 16, 0x3e80'0000) == 0);
    CHECK(rewrite(v6, 0xe5991004, 4, 0x1234) == 0);
    CHECK(rewrite(v6, 0xe599300c, 12, 0x3f00'0000) == 0xe3a0343f);
    for (const TargetInfo* t : {&thumbv7_target(), &thumbv7em_target()}) {
        INFO(t->name);
        CHECK(rewrite(*t, 0xedd99a04, 16, 0x3e80'0000) == 0xeef59a00);  // vmov.f32 s19, #0.25
        CHECK(rewrite(*t, 0xf8d9300c, 12, 0xabcd) == 0xf64a33cd);       // ldr.w r3 -> movw r3, #0xabcd
        CHECK(rewrite(*t, 0xf8d9400c, 12, ~5u) == 0xf06f0405);          // ldr.w r4 -> mvn r4, #5
        CHECK(rewrite(*t, 0xf8d9400c, 12, 0x10000) == 0);
    }
}

TEST_CASE("AArch64 loads of constants become fmov, movz and movn") {
    const TargetInfo& t = aarch64_target();
    CHECK(rewrite(t, 0xbd40126b, 16, 0x3e80'0000) == 0x1e2a100b);  // ldr s11 -> fmov s11, #0.25
    CHECK(rewrite(t, 0xbd40126b, 16, 0) == 0);                     // 0.0 stays a load
    CHECK(rewrite(t, 0xb9400a61, 8, 5) == 0x528000a1);              // ldr w1 -> movz w1, #5
    CHECK(rewrite(t, 0xb9400a62, 8, 0x3f80'0000) == 0x52a7f002);    // movz w2, #0x3f80, lsl #16
    CHECK(rewrite(t, 0xb9400a63, 8, 0xffff'ffff) == 0x12800003);    // movn w3, #0
    CHECK(rewrite(t, 0xb9400a64, 8, 0xfffe'ffff) == 0x12a00024);    // movn w4, #1, lsl #16
    CHECK(rewrite(t, 0xb9400a64, 8, 0x1234'5678) == 0);
    CHECK(rewrite(t, 0xf9400665, 8, 5) == 0);                       // a 64-bit load is left alone
}

TEST_CASE("RISC-V lw of a small constant becomes addi, flw and lwu stay loads") {
    const TargetInfo& t = riscv64_target();
    CHECK(rewrite(t, 0x010da503, 16, static_cast<uint32_t>(-7)) == 0xff900513);  // lw a0 -> li a0, -7
    CHECK(rewrite(t, 0x010da503, 16, 2048) == 0);                                 // beyond 12 bits
    CHECK(rewrite(t, 0x010da507, 16, 0x3f80'0000) == 0);                          // flw: no float immediates
    CHECK(rewrite(t, 0x010de503, 16, 5) == 0);                                    // lwu zero-extends
}

TEST_CASE("x86 keeps constants as memory operands") {
    for (const TargetInfo* t : {&x86_64_target(), &x86_target()}) {
        uint8_t movss[] = {0xf3, 0x0f, 0x10, 0x43, 0x7c};
        CHECK_FALSE(t->write_immediate(1, movss + 4, 0x3f80'0000));
        CHECK(movss[3] == 0x43);
    }
}
