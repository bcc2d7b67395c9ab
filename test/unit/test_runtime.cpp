// lib/runtime: patch encoders, CRC, image validation and loading, and (on
// x86-64 hosts) executing a hand-assembled image.
//
// Expected instruction words are derived by hand from the architecture
// manuals; each golden value was also cross-checked against GNU as/objdump
// (the assembly and addresses are given in the comments).
#include <catch2/catch.hpp>

#include <copapy/image.h>

#include "image_builder.hpp"

#include <cctype>
#include <chrono>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <sys/mman.h>
#include <unistd.h>
#endif

using copapy::test::ImageBuilder;
using copapy::test::PatchSpec;
using copapy::test::SymbolSpec;

namespace {

struct Word {
    cp_status status;
    uint32_t word;
};

// Applies `kind` to one 32-bit little-endian instruction word.
Word patch32(unsigned kind, uint32_t insn, uint64_t value, uint64_t place) {
    uint8_t buf[4];
    cp_write_u32(buf, insn);
    const cp_status st = cp_patch_apply(kind, buf, value, place);
    return {st, cp_read_u32(buf)};
}

struct Thumb {
    cp_status status;
    uint16_t hw1, hw2;
};

// Applies `kind` to a Thumb-2 32-bit instruction (two halfwords, first first).
Thumb patch_thumb(unsigned kind, uint16_t hw1, uint16_t hw2, uint64_t value, uint64_t place) {
    uint8_t buf[4];
    cp_write_u16(buf, hw1);
    cp_write_u16(buf + 2, hw2);
    const cp_status st = cp_patch_apply(kind, buf, value, place);
    return {st, cp_read_u16(buf), cp_read_u16(buf + 2)};
}

// An encoding error must leave the instruction untouched.
void require_rejected(unsigned kind, uint32_t insn, uint64_t value, uint64_t place, cp_status expected) {
    const Word w = patch32(kind, insn, value, place);
    CHECK(w.status == expected);
    CHECK(w.word == insn);
}

int64_t sign_extend(uint64_t v, unsigned bits) {
    const uint64_t m = uint64_t{1} << (bits - 1);
    v &= (uint64_t{1} << bits) - 1;
    return static_cast<int64_t>(v ^ m) - static_cast<int64_t>(m);
}

}  // namespace

// ---- Patch kinds: table -----------------------------------------------------

// Bytes a kind touches: pointers and instruction words, an auipc + jalr pair,
// RISC-V compressed instructions.
static unsigned expected_width(unsigned kind) {
    switch (kind) {
        case CP_PATCH_ABS64:
        case CP_PATCH_RV_CALL: return 8;
        case CP_PATCH_RV_RVC_BRANCH:
        case CP_PATCH_RV_RVC_JUMP: return 2;
        default: return 4;
    }
}

TEST_CASE("patch kind names are the enum names in lower case", "[runtime][patch]") {
    std::set<std::string> names;
#define CHECK_NAME(name, value, check, lo, hi)                                           \
    {                                                                                    \
        std::string expected = std::string(#name).substr(std::strlen("CP_PATCH_"));     \
        for (char& c : expected) c = static_cast<char>(std::tolower(c));                 \
        REQUIRE(cp_patch_kind_name(value) != nullptr);                                   \
        CHECK(cp_patch_kind_name(value) == expected);                                    \
        CHECK(cp_patch_kind_width(value) == expected_width(value));                      \
        names.insert(expected);                                                          \
    }
    CP_PATCH_KINDS(CHECK_NAME)
#undef CHECK_NAME
    CHECK(names.size() == CP_PATCH_KIND_MAX - 1);
    CHECK(std::string(cp_patch_kind_name(CP_PATCH_A64_ADR_PAGE21)) == "a64_adr_page21");
    CHECK(std::string(cp_patch_kind_name(CP_PATCH_THM_BRANCH24)) == "thm_branch24");
    for (unsigned bad : {0u, unsigned(CP_PATCH_KIND_MAX), 200u, 0xffffffffu}) {
        CHECK(cp_patch_kind_name(bad) == nullptr);
        CHECK(cp_patch_kind_width(bad) == 0);
        require_rejected(bad, 0x12345678, 0, 0, CP_ERR_PATCH_KIND);
    }
}

// ---- x86-64 and data words ----------------------------------------------------

TEST_CASE("rel32 writes V - P as a little-endian int32", "[runtime][patch][x86_64]") {
    CHECK(patch32(CP_PATCH_REL32, 0, 0x1000, 0x2000).word == 0xfffff000u);  // -0x1000
    CHECK(patch32(CP_PATCH_REL32, 0xdeadbeef, 0x7fff'ffff, 0).word == 0x7fffffffu);
    CHECK(patch32(CP_PATCH_REL32, 0, 0x1'0000'0000, 0x1'8000'0000).word == 0x80000000u);  // -2^31
    // Addresses above 4 GiB: only the difference matters.
    CHECK(patch32(CP_PATCH_REL32, 0, 0x7fff'0000'1004, 0x7fff'0000'0000).word == 0x1004u);

    uint8_t bytes[4] = {};
    REQUIRE(cp_patch_apply(CP_PATCH_REL32, bytes, 0x10, 0x20) == CP_OK);
    CHECK((bytes[0] == 0xf0 && bytes[1] == 0xff && bytes[2] == 0xff && bytes[3] == 0xff));

    require_rejected(CP_PATCH_REL32, 0x11223344, 0x8000'0000, 0, CP_ERR_PATCH_RANGE);
    require_rejected(CP_PATCH_REL32, 0x11223344, 0, 0x8000'0001, CP_ERR_PATCH_RANGE);
}

TEST_CASE("abs64 and abs32 write the address", "[runtime][patch]") {
    uint8_t b[8] = {};
    REQUIRE(cp_patch_apply(CP_PATCH_ABS64, b, 0x0123'4567'89ab'cdefULL, 0) == CP_OK);
    const uint8_t expected64[8] = {0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01};
    CHECK(std::memcmp(b, expected64, 8) == 0);

    CHECK(patch32(CP_PATCH_ABS32, 0, 0xdead'beef, 0x1234).word == 0xdeadbeefu);
    CHECK(patch32(CP_PATCH_ABS32, 0, 0xffff'ffff, 0).word == 0xffffffffu);
    require_rejected(CP_PATCH_ABS32, 0x55555555, 0x1'0000'0000, 0, CP_ERR_PATCH_RANGE);
}

// ---- AArch64 ----------------------------------------------------------------

TEST_CASE("aarch64 adrp encodes the page difference", "[runtime][patch][aarch64]") {
    constexpr uint32_t adrp_x0 = 0x9000'0000;  // adrp x0, #0
    // Page delta 0x12345: immlo = 0b01 (bits 30:29), immhi = 0x48d1 (bits 23:5).
    CHECK(patch32(CP_PATCH_A64_ADR_PAGE21, adrp_x0, 0x1000'0000 + 0x1234'5678, 0x1000'0123).word ==
          0xb009'1a20u);
    // The same from a word whose immediate bits are all set: fields are replaced.
    CHECK(patch32(CP_PATCH_A64_ADR_PAGE21, 0xf0ff'ffe0, 0x1000'0000 + 0x1234'5678, 0x1000'0123).word ==
          0xb009'1a20u);
    // as: adrp x0, 0x22345ab0 at 0x10012344
    CHECK(patch32(CP_PATCH_A64_ADR_PAGE21, adrp_x0, 0x2234'5ab0, 0x1001'2344).word == 0xf009'1980u);
    // as: adrp x0, 0x10012000 at 0x22345000 (negative)
    CHECK(patch32(CP_PATCH_A64_ADR_PAGE21, adrp_x0, 0x1001'2000, 0x2234'5000).word == 0xb0f6'e660u);
    // as: adrp x5, 0x122344fff at 0x22345000 (the largest delta, 2^32 - 4096)
    CHECK(patch32(CP_PATCH_A64_ADR_PAGE21, 0x9000'0005, 0x1'2234'4fff, 0x2234'5000).word == 0xf07f'ffe5u);
    // as: adrp x0, 0x22345000 - 2^32 at 0x22345000 (the smallest delta, -2^32)
    CHECK(patch32(CP_PATCH_A64_ADR_PAGE21, adrp_x0, 0x2234'5000 - 0x1'0000'0000ULL, 0x2234'5000).word ==
          0x9080'0000u);

    require_rejected(CP_PATCH_A64_ADR_PAGE21, adrp_x0, 0x1'2234'5000, 0x2234'5000, CP_ERR_PATCH_RANGE);
    require_rejected(CP_PATCH_A64_ADR_PAGE21, adrp_x0, 0x2234'5000 - 0x1'0000'1000ULL, 0x2234'5000,
                     CP_ERR_PATCH_RANGE);
    require_rejected(CP_PATCH_A64_ADR_PAGE21, 0x1000'0000, 0x1000, 0, CP_ERR_PATCH_INSN);  // adr x0
    require_rejected(CP_PATCH_A64_ADR_PAGE21, 0xd503'201f, 0x1000, 0, CP_ERR_PATCH_INSN);  // nop
}

TEST_CASE("aarch64 add :lo12: sets imm12", "[runtime][patch][aarch64]") {
    // as: add x1, x1, :lo12:0x22345ab0
    CHECK(patch32(CP_PATCH_A64_ADD_LO12, 0x9100'0021, 0x2234'5ab0, 0).word == 0x912a'c021u);
    CHECK(patch32(CP_PATCH_A64_ADD_LO12, 0x913f'fc21, 0x2234'5ab0, 0).word == 0x912a'c021u);
    CHECK(patch32(CP_PATCH_A64_ADD_LO12, 0x9100'0021, 0xffff'ffff'ffff'fab0ULL, 0).word == 0x912a'c021u);
    CHECK(patch32(CP_PATCH_A64_ADD_LO12, 0x1100'0021, 0x2234'5ab0, 0).word == 0x112a'c021u);  // add w1
    require_rejected(CP_PATCH_A64_ADD_LO12, 0xb100'0021, 0xab0, 0, CP_ERR_PATCH_INSN);  // adds
    require_rejected(CP_PATCH_A64_ADD_LO12, 0xd100'0021, 0xab0, 0, CP_ERR_PATCH_INSN);  // sub
    require_rejected(CP_PATCH_A64_ADD_LO12, 0x9140'0021, 0xab0, 0, CP_ERR_PATCH_INSN);  // lsl #12
    require_rejected(CP_PATCH_A64_ADD_LO12, 0xf940'0062, 0xab0, 0, CP_ERR_PATCH_INSN);  // ldr
}

TEST_CASE("aarch64 load/store :lo12: scales by the access size", "[runtime][patch][aarch64]") {
    constexpr uint64_t v = 0x2234'5ab0;  // lo12 = 0xab0
    // as: <insn> [x3, :lo12:0x22345ab0]
    CHECK(patch32(CP_PATCH_A64_LDST8_LO12, 0x3940'0062, v, 0).word == 0x396a'c062u);    // ldrb w2
    CHECK(patch32(CP_PATCH_A64_LDST16_LO12, 0x7940'0062, v, 0).word == 0x7955'6062u);   // ldrh w2
    CHECK(patch32(CP_PATCH_A64_LDST32_LO12, 0xb940'0062, v, 0).word == 0xb94a'b062u);   // ldr w2
    CHECK(patch32(CP_PATCH_A64_LDST64_LO12, 0xf940'0062, v, 0).word == 0xf945'5862u);   // ldr x2
    CHECK(patch32(CP_PATCH_A64_LDST64_LO12, 0xfd00'0062, v, 0).word == 0xfd05'5862u);   // str d2
    CHECK(patch32(CP_PATCH_A64_LDST128_LO12, 0x3dc0'0062, v, 0).word == 0x3dc2'ac62u);  // ldr q2
    CHECK(patch32(CP_PATCH_A64_LDST32_LO12, 0xbd40'0062, 0xffc, 0).word == 0xbd4f'fc62u);  // ldr s2, [x3, #4092]

    SECTION("a misaligned offset cannot be encoded") {
        require_rejected(CP_PATCH_A64_LDST16_LO12, 0x7940'0062, v + 1, 0, CP_ERR_PATCH_RANGE);
        require_rejected(CP_PATCH_A64_LDST32_LO12, 0xb940'0062, v + 2, 0, CP_ERR_PATCH_RANGE);
        require_rejected(CP_PATCH_A64_LDST64_LO12, 0xf940'0062, v + 4, 0, CP_ERR_PATCH_RANGE);
        require_rejected(CP_PATCH_A64_LDST128_LO12, 0x3dc0'0062, v + 8, 0, CP_ERR_PATCH_RANGE);
        CHECK(patch32(CP_PATCH_A64_LDST8_LO12, 0x3940'0062, v + 1, 0).status == CP_OK);
    }
    SECTION("the instruction must access the relocation's size") {
        require_rejected(CP_PATCH_A64_LDST32_LO12, 0xf940'0062, v, 0, CP_ERR_PATCH_INSN);   // ldr x2
        require_rejected(CP_PATCH_A64_LDST64_LO12, 0xb940'0062, v, 0, CP_ERR_PATCH_INSN);   // ldr w2
        require_rejected(CP_PATCH_A64_LDST128_LO12, 0xfd40'0062, v, 0, CP_ERR_PATCH_INSN);  // ldr d2
        require_rejected(CP_PATCH_A64_LDST8_LO12, 0x9100'0021, v, 0, CP_ERR_PATCH_INSN);    // add
        require_rejected(CP_PATCH_A64_LDST64_LO12, 0xa940'0c62, v, 0, CP_ERR_PATCH_INSN);   // ldp
        require_rejected(CP_PATCH_A64_LDST64_LO12, 0xf864'6862, v, 0, CP_ERR_PATCH_INSN);   // ldr x2, [x3, x4]
    }
}

TEST_CASE("aarch64 b/bl encode (V - P) / 4", "[runtime][patch][aarch64]") {
    constexpr uint32_t b = 0x1400'0000, bl = 0x9400'0000;
    // as: b 0x10100000 at 0x10012364; bl 0x10000000 at 0x10012368
    CHECK(patch32(CP_PATCH_A64_BRANCH26, b, 0x1010'0000, 0x1001'2364).word == 0x1403'b727u);
    CHECK(patch32(CP_PATCH_A64_BRANCH26, bl, 0x1000'0000, 0x1001'2368).word == 0x97ff'b726u);
    // as: b . + 0x7fffffc; b . - 0x8000000; bl . + 0x7fffffc (the limits)
    CHECK(patch32(CP_PATCH_A64_BRANCH26, b, 0x4000 + 0x7ff'fffc, 0x4000).word == 0x15ff'ffffu);
    CHECK(patch32(CP_PATCH_A64_BRANCH26, b, 0x1000'4000 - 0x800'0000, 0x1000'4000).word == 0x1600'0000u);
    CHECK(patch32(CP_PATCH_A64_BRANCH26, 0x97ff'ffff, 0x4000 + 0x7ff'fffc, 0x4000).word == 0x95ff'ffffu);

    require_rejected(CP_PATCH_A64_BRANCH26, b, 0x4000 + 0x800'0000, 0x4000, CP_ERR_PATCH_RANGE);
    require_rejected(CP_PATCH_A64_BRANCH26, b, 0x1000'4000 - 0x800'0004, 0x1000'4000, CP_ERR_PATCH_RANGE);
    require_rejected(CP_PATCH_A64_BRANCH26, b, 0x4002, 0x4000, CP_ERR_PATCH_RANGE);  // not a whole insn
    require_rejected(CP_PATCH_A64_BRANCH26, 0x5400'0000, 0x4008, 0x4000, CP_ERR_PATCH_INSN);  // b.eq
    require_rejected(CP_PATCH_A64_BRANCH26, 0xb400'0000, 0x4008, 0x4000, CP_ERR_PATCH_INSN);  // cbz x0
    require_rejected(CP_PATCH_A64_BRANCH26, 0xd61f'0000, 0x4008, 0x4000, CP_ERR_PATCH_INSN);  // br x0
}

// ---- 32-bit Arm, ARM state --------------------------------------------------------

TEST_CASE("arm movw/movt split imm16 into imm4:imm12", "[runtime][patch][arm]") {
    // as -marm: movw r0, #0x1234; movt r0, #0x1234; movw r3, #0xffff
    CHECK(patch32(CP_PATCH_ARM_MOVW, 0xe300'0000, 0x1234, 0).word == 0xe301'0234u);
    CHECK(patch32(CP_PATCH_ARM_MOVT, 0xe340'0000, 0x1234'5678, 0).word == 0xe341'0234u);
    CHECK(patch32(CP_PATCH_ARM_MOVW, 0xe300'3000, 0xffff, 0).word == 0xe30f'3fffu);
    CHECK(patch32(CP_PATCH_ARM_MOVW, 0xe300'0000, 0x1234'5678, 0).word == 0xe305'0678u);
    CHECK(patch32(CP_PATCH_ARM_MOVW, 0xe30f'0fff, 0x1234, 0).word == 0xe301'0234u);  // fields replaced
    CHECK(patch32(CP_PATCH_ARM_MOVW, 0x1300'0000, 0x1234, 0).word == 0x1301'0234u);  // movwne keeps cond

    require_rejected(CP_PATCH_ARM_MOVW, 0xe300'0000, 0x1'0000'0000, 0, CP_ERR_PATCH_RANGE);  // not 32-bit
    require_rejected(CP_PATCH_ARM_MOVT, 0xe340'0000, 0x1'0000'0000, 0, CP_ERR_PATCH_RANGE);
    require_rejected(CP_PATCH_ARM_MOVW, 0xe3a0'0000, 0x1234, 0, CP_ERR_PATCH_INSN);  // mov r0, #0
    require_rejected(CP_PATCH_ARM_MOVW, 0xe340'0000, 0x1234, 0, CP_ERR_PATCH_INSN);  // movt
    require_rejected(CP_PATCH_ARM_MOVT, 0xe300'0000, 0x1234, 0, CP_ERR_PATCH_INSN);  // movw
    require_rejected(CP_PATCH_ARM_MOVW, 0xf300'0000, 0x1234, 0, CP_ERR_PATCH_INSN);  // cond = NV
}

TEST_CASE("arm b/bl encode (V - P) / 4 with the -8 bias in the addend", "[runtime][patch][arm]") {
    // as -marm at 0x1012344: b 0x1012450; bl 0x1000000; blt 0x1012450.
    // The ELF addend (-8) is part of V, as the compiler passes it.
    CHECK(patch32(CP_PATCH_ARM_BRANCH24, 0xea00'0000, 0x101'2450 - 8, 0x101'2344).word == 0xea00'0041u);
    CHECK(patch32(CP_PATCH_ARM_BRANCH24, 0xeb00'0000, 0x100'0000 - 8, 0x101'2348).word == 0xebff'b72cu);
    CHECK(patch32(CP_PATCH_ARM_BRANCH24, 0xbaff'ffff, 0x101'2450 - 8, 0x101'234c).word == 0xba00'003fu);
    // as: b . + 8 + 0x1fffffc; b . + 8 - 0x2000000 (the limits)
    CHECK(patch32(CP_PATCH_ARM_BRANCH24, 0xea00'0000, 0x8000 + 0x1ff'fffc, 0x8000).word == 0xea7f'ffffu);
    CHECK(patch32(CP_PATCH_ARM_BRANCH24, 0xea00'0000, 0x400'8000 - 0x200'0000, 0x400'8000).word ==
          0xea80'0000u);

    require_rejected(CP_PATCH_ARM_BRANCH24, 0xea00'0000, 0x8000 + 0x200'0000, 0x8000, CP_ERR_PATCH_RANGE);
    require_rejected(CP_PATCH_ARM_BRANCH24, 0xea00'0000, 0x400'8000 - 0x200'0004, 0x400'8000,
                     CP_ERR_PATCH_RANGE);
    require_rejected(CP_PATCH_ARM_BRANCH24, 0xea00'0000, 0x8002, 0x8000, CP_ERR_PATCH_RANGE);
    require_rejected(CP_PATCH_ARM_BRANCH24, 0xeb00'0000, 0x8101, 0x8000, CP_ERR_PATCH_RANGE);  // Thumb target
    require_rejected(CP_PATCH_ARM_BRANCH24, 0xfa00'0000, 0x8100, 0x8000, CP_ERR_PATCH_INSN);  // blx imm
    require_rejected(CP_PATCH_ARM_BRANCH24, 0xe12f'ff1e, 0x8100, 0x8000, CP_ERR_PATCH_INSN);  // bx lr
    require_rejected(CP_PATCH_ARM_BRANCH24, 0xe320'f000, 0x8100, 0x8000, CP_ERR_PATCH_INSN);  // nop
}

// ---- 32-bit Arm, Thumb-2 ----------------------------------------------------------

TEST_CASE("thumb movw/movt spread imm16 over imm4:i:imm3:imm8", "[runtime][patch][thumb]") {
    auto movwt = [](unsigned kind, uint16_t hw1, uint16_t hw2, uint64_t v) {
        const Thumb t = patch_thumb(kind, hw1, hw2, v, 0);
        REQUIRE(t.status == CP_OK);
        return (uint32_t{t.hw1} << 16) | t.hw2;
    };
    // as -mthumb: movw r0, #0x1234 = f241 2034 (imm4 = 1, i = 0, imm3 = 2, imm8 = 0x34)
    CHECK(movwt(CP_PATCH_THM_MOVW, 0xf240, 0x0000, 0x1234) == 0xf241'2034u);
    CHECK(movwt(CP_PATCH_THM_MOVT, 0xf2c0, 0x0000, 0x1234'5678) == 0xf2c1'2034u);
    // as: movw r3, #0xffff = f64f 73ff; movt r5, #0x8765 = f2c8 7565
    CHECK(movwt(CP_PATCH_THM_MOVW, 0xf240, 0x0300, 0xffff) == 0xf64f'73ffu);
    CHECK(movwt(CP_PATCH_THM_MOVT, 0xf2c0, 0x0500, 0x8765'0000) == 0xf2c8'7565u);
    CHECK(movwt(CP_PATCH_THM_MOVW, 0xf64f, 0x70ff, 0x1234) == 0xf241'2034u);  // fields replaced
    CHECK(movwt(CP_PATCH_THM_MOVW, 0xf240, 0x0000, 0x0800) == 0xf640'0000u);  // i = bit 11
    // The Thumb bit of a function address is kept (needed for BLX register).
    CHECK(movwt(CP_PATCH_THM_MOVW, 0xf240, 0x0000, 0x2000'0101) == 0xf240'1001u);

    auto rejected = [](unsigned kind, uint16_t hw1, uint16_t hw2, uint64_t v, cp_status st) {
        const Thumb t = patch_thumb(kind, hw1, hw2, v, 0);
        CHECK(t.status == st);
        CHECK((t.hw1 == hw1 && t.hw2 == hw2));
    };
    rejected(CP_PATCH_THM_MOVW, 0xf240, 0x0000, 0x1'0000'0000, CP_ERR_PATCH_RANGE);
    rejected(CP_PATCH_THM_MOVT, 0xf2c0, 0x0000, 0x1'0000'0000, CP_ERR_PATCH_RANGE);
    rejected(CP_PATCH_THM_MOVW, 0xf04f, 0x0000, 0x1234, CP_ERR_PATCH_INSN);  // mov.w r0, #0
    rejected(CP_PATCH_THM_MOVW, 0xf2c0, 0x0000, 0x1234, CP_ERR_PATCH_INSN);  // movt
    rejected(CP_PATCH_THM_MOVT, 0xf240, 0x0000, 0x1234, CP_ERR_PATCH_INSN);  // movw
    rejected(CP_PATCH_THM_MOVW, 0xf240, 0x8000, 0x1234, CP_ERR_PATCH_INSN);  // second halfword bit 15
    rejected(CP_PATCH_THM_MOVW, 0x0000, 0xe300, 0x1234, CP_ERR_PATCH_INSN);  // ARM movw read as Thumb
}

TEST_CASE("thumb b.w/bl encode S:I1:I2:imm10:imm11", "[runtime][patch][thumb]") {
    auto branch = [](uint16_t hw1, uint16_t hw2, uint64_t v, uint64_t p) {
        const Thumb t = patch_thumb(CP_PATCH_THM_BRANCH24, hw1, hw2, v, p);
        REQUIRE(t.status == CP_OK);
        return (uint32_t{t.hw1} << 16) | t.hw2;
    };
    constexpr uint16_t hw1 = 0xf000, b_w = 0x9000, bl = 0xd000;
    // as -mthumb linked at 0x1000000; V = symbol - 4 (the ELF addend).
    CHECK(branch(hw1, b_w, 0x100'1244 - 4, 0x100'0000) == 0xf001'b920u);  // b.w fwd
    CHECK(branch(hw1, bl, 0x100'1244 - 4, 0x100'0004) == 0xf001'f91eu);   // bl fwd
    CHECK(branch(hw1, bl, 0x108'1226 - 4, 0x100'0008) == 0xf081'f90du);   // bl back
    CHECK(branch(hw1, b_w, 0x108'1226 - 4, 0x100'000c) == 0xf081'b90bu);  // b.w back
    CHECK(branch(hw1, bl, 0x1f8'1228 - 4, 0x100'0010) == 0xf381'd10au);   // bl far (J1 = J2 = 0)
    // Negative offsets: b.w / bl 0x1000000 from 0x1012342 / 0x1012346.
    CHECK(branch(hw1, b_w, 0x100'0000 - 4, 0x101'2342) == 0xf7ed'be5du);
    CHECK(branch(hw1, bl, 0x100'0000 - 4, 0x101'2346) == 0xf7ed'fe5bu);
    // The limits: b.w . + 4 + 0xfffffe; b.w . + 4 - 0x1000000; bl . + 4 - 0x1000000
    CHECK(branch(hw1, b_w, 0x10'0000 + 0xff'fffe, 0x10'0000) == 0xf3ff'97ffu);
    CHECK(branch(hw1, b_w, 0x200'0000 - 0x100'0000, 0x200'0000) == 0xf400'9000u);
    CHECK(branch(hw1, bl, 0x200'0000 - 0x100'0000, 0x200'0000) == 0xf400'd000u);
    // Fields are replaced, not merged.
    CHECK(branch(0xf7ff, 0xbfff, 0x100'1244 - 4, 0x100'0000) == 0xf001'b920u);
    // Bit 0 is the Thumb bit of the target ((S + A) | T - P): not encoded.
    CHECK(branch(hw1, bl, (0x100'1244 - 4) | 1, 0x100'0004) == 0xf001'f91eu);

    auto rejected = [](uint16_t h1, uint16_t h2, uint64_t v, uint64_t p, cp_status st) {
        const Thumb t = patch_thumb(CP_PATCH_THM_BRANCH24, h1, h2, v, p);
        CHECK(t.status == st);
        CHECK((t.hw1 == h1 && t.hw2 == h2));
    };
    rejected(hw1, b_w, 0x10'0000 + 0x100'0000, 0x10'0000, CP_ERR_PATCH_RANGE);
    rejected(hw1, bl, 0x200'0000 - 0x100'0002, 0x200'0000, CP_ERR_PATCH_RANGE);
    rejected(hw1, 0xc000, 0x1000, 0, CP_ERR_PATCH_INSN);   // blx (to ARM state)
    rejected(hw1, 0x8000, 0x1000, 0, CP_ERR_PATCH_INSN);   // b<cond>.w (T3)
    rejected(0xbf00, 0xbf00, 0x1000, 0, CP_ERR_PATCH_INSN);  // two 16-bit nops
}

// Decodes every branch and address field independently of the encoders (by
// the manuals' decode pseudocode) and checks random values round-trip.
TEST_CASE("encoders round-trip through independent decoders", "[runtime][patch]") {
    std::mt19937_64 rng(20240601);
    for (int i = 0; i < 2000; ++i) {
        const uint64_t place = (rng() & 0x7fff'ffff'fff0ULL) + 0x1'0000'0000ULL;
        {  // aarch64 b: imm26 * 4
            const int64_t off = sign_extend(rng(), 26) * 4;
            const Word w = patch32(CP_PATCH_A64_BRANCH26, 0x1400'0000, place + static_cast<uint64_t>(off), place);
            REQUIRE(w.status == CP_OK);
            CHECK(sign_extend(w.word & 0x3ff'ffff, 26) * 4 == off);
        }
        {  // aarch64 adrp: immhi:immlo pages
            const int64_t pages = sign_extend(rng(), 21);
            const uint64_t v = (place & ~0xfffULL) + static_cast<uint64_t>(pages * 4096) + (rng() & 0xfff);
            const Word w = patch32(CP_PATCH_A64_ADR_PAGE21, 0x9000'0000, v, place);
            REQUIRE(w.status == CP_OK);
            const uint64_t imm = (((w.word >> 5) & 0x7ffff) << 2) | ((w.word >> 29) & 3);
            CHECK(sign_extend(imm, 21) == pages);
        }
        const uint64_t place32 = rng() & 0xffff'fffcULL;
        {  // arm b: imm24 * 4
            const int64_t off = sign_extend(rng(), 24) * 4;
            const Word w =
                patch32(CP_PATCH_ARM_BRANCH24, 0xea00'0000, place32 + static_cast<uint64_t>(off), place32);
            REQUIRE(w.status == CP_OK);
            CHECK(sign_extend(w.word & 0xff'ffff, 24) * 4 == off);
        }
        {  // thumb bl: S:I1:I2:imm10:imm11:0 with I = NOT(J XOR S)
            const int64_t off = sign_extend(rng(), 24) * 2;
            const Thumb t = patch_thumb(CP_PATCH_THM_BRANCH24, 0xf000, 0xd000,
                                        place32 + static_cast<uint64_t>(off), place32);
            REQUIRE(t.status == CP_OK);
            const uint32_t s = (t.hw1 >> 10) & 1, j1 = (t.hw2 >> 13) & 1, j2 = (t.hw2 >> 11) & 1;
            const uint32_t i1 = !(j1 ^ s), i2 = !(j2 ^ s);
            const uint64_t imm = (uint64_t{s} << 24) | (uint64_t{i1} << 23) | (uint64_t{i2} << 22) |
                                 (uint64_t(t.hw1 & 0x3ff) << 12) | (uint64_t(t.hw2 & 0x7ff) << 1);
            CHECK(sign_extend(imm, 25) == off);
            CHECK((t.hw2 & 0xd000) == 0xd000);  // still a BL
        }
        {  // thumb movw/movt: imm4:i:imm3:imm8
            const uint32_t v = static_cast<uint32_t>(rng());
            const Thumb lo = patch_thumb(CP_PATCH_THM_MOVW, 0xf240, 0x0000, v, 0);
            const Thumb hi = patch_thumb(CP_PATCH_THM_MOVT, 0xf2c0, 0x0000, v, 0);
            auto imm16 = [](const Thumb& t) {
                return ((t.hw1 & 0xfu) << 12) | (((t.hw1 >> 10) & 1u) << 11) | (((t.hw2 >> 12) & 7u) << 8) |
                       (t.hw2 & 0xffu);
            };
            CHECK((imm16(hi) << 16 | imm16(lo)) == v);
        }
        {  // arm movw/movt: imm4:imm12
            const uint32_t v = static_cast<uint32_t>(rng());
            const uint32_t lo = patch32(CP_PATCH_ARM_MOVW, 0xe300'0000, v, 0).word;
            const uint32_t hi = patch32(CP_PATCH_ARM_MOVT, 0xe340'0000, v, 0).word;
            auto imm16 = [](uint32_t w) { return ((w >> 4) & 0xf000u) | (w & 0xfffu); };
            CHECK((imm16(hi) << 16 | imm16(lo)) == v);
        }
    }
}

// ---- CRC-32 -------------------------------------------------------------------

TEST_CASE("cp_crc32 is zlib's CRC-32", "[runtime][crc]") {
    const char* check = "123456789";
    CHECK(cp_crc32(check, 9) == 0xcbf43926u);
    CHECK(cp_crc32("", 0) == 0u);
    CHECK(cp_crc32(nullptr, 0) == 0u);
    CHECK(cp_crc32("a", 1) == 0xe8b7be43u);
    const char* fox = "The quick brown fox jumps over the lazy dog";
    CHECK(cp_crc32(fox, std::strlen(fox)) == 0x414fa339u);

    std::mt19937 rng(7);
    for (int i = 0; i < 200; ++i) {
        std::vector<uint8_t> buf(rng() % 600);
        for (uint8_t& b : buf) b = static_cast<uint8_t>(rng());
        CHECK(cp_crc32(buf.data(), buf.size()) == copapy::test::reference_crc32(buf.data(), buf.size()));
    }
}

// ---- Image validation -------------------------------------------------------

namespace {

// A small valid x86-64 image: 16 bytes of code, two data slots, two patches,
// three symbols.
ImageBuilder sample_builder() {
    ImageBuilder b;
    b.code = {0x8b, 0x05, 0, 0, 0, 0, 0x01, 0xc0, 0x89, 0x05, 0, 0, 0, 0, 0xc3, 0x90};
    b.data = {21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x3f};  // x = 21, y = 0, f = 1.0f
    b.patches = {{2, CP_PATCH_REL32, CP_REGION_DATA, 0 - 4}, {10, CP_PATCH_REL32, CP_REGION_DATA, 4 - 4}};
    b.symbols = {{"x", 0, CP_DTYPE_INT, CP_SYM_INPUT},
                 {"y", 4, CP_DTYPE_INT, CP_SYM_OUTPUT},
                 {"f", 8, CP_DTYPE_FLOAT, CP_SYM_INPUT | CP_SYM_OUTPUT}};
    return b;
}

cp_status open_bytes(const std::vector<uint8_t>& bytes) {
    cp_image img;
    return cp_image_open(&img, bytes.data(), bytes.size());
}

cp_status open_built(const ImageBuilder& b) { return open_bytes(b.build()); }

}  // namespace

TEST_CASE("a valid image opens and describes itself", "[runtime][image]") {
    const ImageBuilder b = sample_builder();
    const std::vector<uint8_t> bytes = b.build();
    cp_image img;
    REQUIRE(cp_image_open(&img, bytes.data(), bytes.size()) == CP_OK);
    CHECK(img.version == CP_IMAGE_VERSION);
    CHECK(img.target == CP_TARGET_X86_64);
    CHECK(img.code_size == 16);
    CHECK(img.data_size == 12);
    CHECK(img.patch_count == 2);
    CHECK(img.symbol_count == 3);
    CHECK(img.strtab_size == 6);
    CHECK(img.code == bytes.data() + CP_HEADER_SIZE);
    CHECK(img.data == bytes.data() + b.layout().data);
    CHECK(img.data[0] == 21);

    cp_symbol s;
    REQUIRE(cp_image_symbol(&img, 2, &s) == CP_OK);
    CHECK(std::string(s.name) == "f");
    CHECK(s.offset == 8);
    CHECK(s.dtype == CP_DTYPE_FLOAT);
    CHECK(s.flags == (CP_SYM_INPUT | CP_SYM_OUTPUT));
    CHECK(cp_image_symbol(&img, 3, &s) == CP_ERR_NOT_FOUND);

    REQUIRE(cp_image_find(&img, "y", &s) == CP_OK);
    CHECK(s.offset == 4);
    CHECK(cp_image_find(&img, "y", nullptr) == CP_OK);
    CHECK(cp_image_find(&img, "z", &s) == CP_ERR_NOT_FOUND);
    CHECK(cp_image_find(&img, "", &s) == CP_ERR_NOT_FOUND);
    CHECK(cp_image_find(&img, "xx", &s) == CP_ERR_NOT_FOUND);
    CHECK(cp_image_find(&img, nullptr, &s) == CP_ERR_NOT_FOUND);
}

TEST_CASE("every truncation of an image is rejected", "[runtime][image]") {
    const std::vector<uint8_t> bytes = sample_builder().build();
    for (size_t n = 0; n < bytes.size(); ++n) {
        // A fresh copy of exactly n bytes, so that ASan catches any overread.
        const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
        cp_image img;
        INFO("length " << n);
        CHECK(cp_image_open(&img, n ? cut.data() : nullptr, n) == CP_ERR_TRUNCATED);
        CHECK(img.bytes == nullptr);  // nothing half-validated is left behind
    }
    std::vector<uint8_t> longer = bytes;
    longer.push_back(0);
    CHECK(open_bytes(longer) == CP_ERR_LAYOUT);
    longer.insert(longer.end(), 3, 0);
    copapy::test::refresh_crc(longer);  // a valid CRC at the end, but not where the header says
    CHECK(open_bytes(longer) == CP_ERR_LAYOUT);
}

TEST_CASE("every bit flip is detected", "[runtime][image]") {
    const std::vector<uint8_t> bytes = sample_builder().build();
    for (size_t i = 0; i < bytes.size(); ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            std::vector<uint8_t> bad = bytes;
            bad[i] ^= static_cast<uint8_t>(1u << bit);
            INFO("byte " << i << " bit " << bit);
            const cp_status st = open_bytes(bad);
            CHECK(st != CP_OK);
            // Past the fields that locate the checksum, it is the checksum.
            if (i >= CP_HEADER_SIZE || (i >= CP_HDR_TARGET && i < CP_HDR_CODE_SIZE) ||
                (i >= CP_HDR_CODE_ALIGN && i < CP_HDR_CODE_ALIGN + 4) ||
                (i >= CP_HDR_DATA_ALIGN && i < CP_HDR_PATCH_COUNT)) {
                CHECK(st == CP_ERR_CHECKSUM);
            }
        }
    }
}

TEST_CASE("header defects are reported specifically", "[runtime][image]") {
    ImageBuilder b = sample_builder();
    auto with = [&](auto edit) {
        ImageBuilder c = b;
        edit(c);
        return open_built(c);
    };
    SECTION("magic") {
        std::vector<uint8_t> bytes = b.build();
        bytes[0] = 'X';
        copapy::test::refresh_crc(bytes);
        CHECK(open_bytes(bytes) == CP_ERR_MAGIC);
        const char text[] = "hi";  // a short file that is not an image
        cp_image img;
        CHECK(cp_image_open(&img, text, 2) == CP_ERR_MAGIC);
        CHECK(cp_image_open(&img, "CPIMG", 5) == CP_ERR_TRUNCATED);  // could still be one
    }
    SECTION("version and target") {
        CHECK(with([](ImageBuilder& c) { c.version = 1; }) == CP_ERR_VERSION);  // 48-byte header, refused
        CHECK(with([](ImageBuilder& c) { c.version = 2; }) == CP_ERR_VERSION);  // 12-byte symbols, refused
        CHECK(with([](ImageBuilder& c) { c.version = 4; }) == CP_ERR_VERSION);
        CHECK(with([](ImageBuilder& c) { c.version = 0; }) == CP_ERR_VERSION);
        CHECK(with([](ImageBuilder& c) { c.target = 0; }) == CP_ERR_TARGET);
        CHECK(with([](ImageBuilder& c) { c.target = CP_TARGET_LAST + 1; }) == CP_ERR_TARGET);
        CHECK(with([](ImageBuilder& c) { c.target = 0xffff; }) == CP_ERR_TARGET);
    }
    SECTION("flags") {
        CHECK(with([](ImageBuilder& c) { c.flags = 1u << 2; }) == CP_ERR_LAYOUT);
        CHECK(with([](ImageBuilder& c) { c.flags = 1u << 31; }) == CP_ERR_LAYOUT);
        // Thumb entry on x86-64 makes no sense.
        CHECK(with([](ImageBuilder& c) { c.flags = CP_FLAG_THUMB_ENTRY; }) == CP_ERR_LAYOUT);
        // Fixed-address images have nothing to patch.
        CHECK(with([](ImageBuilder& c) { c.flags = CP_FLAG_FIXED_ADDR; }) == CP_ERR_LAYOUT);
        CHECK(with([](ImageBuilder& c) {
                  c.flags = CP_FLAG_FIXED_ADDR;
                  c.patches.clear();
                  c.code_addr = 0x10000;
                  c.data_addr = 0x20000;
              }) == CP_OK);
    }
    SECTION("alignments") {
        for (uint32_t a : {1u, 2u, 4096u, 65536u}) {
            CHECK(with([a](ImageBuilder& c) { c.code_align = a; }) == CP_OK);
            CHECK(with([a](ImageBuilder& c) { c.data_align = a; }) == CP_OK);
        }
        for (uint32_t a : {0u, 3u, 12u, 131072u, 0x8000'0000u, 0xffff'ffffu}) {
            CHECK(with([a](ImageBuilder& c) { c.code_align = a; }) == CP_ERR_LAYOUT);
            CHECK(with([a](ImageBuilder& c) { c.data_align = a; }) == CP_ERR_LAYOUT);
        }
    }
    SECTION("code size and entry point") {
        CHECK(with([](ImageBuilder& c) {
                  c.code.clear();
                  c.patches.clear();
              }) == CP_ERR_LAYOUT);
        CHECK(with([](ImageBuilder& c) { c.entry = 15; }) == CP_OK);
        CHECK(with([](ImageBuilder& c) { c.entry = 16; }) == CP_ERR_LAYOUT);
        CHECK(with([](ImageBuilder& c) { c.entry = 0xffff'ffff; }) == CP_ERR_LAYOUT);
        // Instruction alignment at the entry: 4 on AArch64 and in ARM state, 2 in Thumb.
        auto arm = [&](uint16_t target, uint32_t flags, uint32_t entry) {
            return with([=](ImageBuilder& c) {
                c.target = target;
                c.flags = flags;
                c.entry = entry;
                c.patches.clear();
            });
        };
        CHECK(arm(CP_TARGET_AARCH64, 0, 4) == CP_OK);
        CHECK(arm(CP_TARGET_AARCH64, 0, 2) == CP_ERR_LAYOUT);
        CHECK(arm(CP_TARGET_ARMV7, 0, 2) == CP_ERR_LAYOUT);
        CHECK(arm(CP_TARGET_THUMBV7, CP_FLAG_THUMB_ENTRY, 2) == CP_OK);
        CHECK(arm(CP_TARGET_THUMBV7EM, CP_FLAG_THUMB_ENTRY, 1) == CP_ERR_LAYOUT);
        CHECK(arm(CP_TARGET_AARCH64, CP_FLAG_THUMB_ENTRY, 0) == CP_ERR_LAYOUT);
    }
    SECTION("sizes that would overflow 32-bit arithmetic are just truncation") {
        std::vector<uint8_t> bytes = b.build();
        for (int field : {CP_HDR_CODE_SIZE, CP_HDR_DATA_SIZE, CP_HDR_PATCH_COUNT, CP_HDR_SYMBOL_COUNT,
                          CP_HDR_STRTAB_SIZE}) {
            std::vector<uint8_t> bad = bytes;
            cp_write_u32(bad.data() + field, 0xffff'ffffu);
            copapy::test::refresh_crc(bad);
            INFO("field " << field);
            CHECK(open_bytes(bad) == CP_ERR_TRUNCATED);
        }
    }
    SECTION("padding must be zero") {
        ImageBuilder c = b;
        c.code.pop_back();  // 15 bytes of code: one byte of padding before the data
        c.code.pop_back();
        c.code.push_back(0xc3);
        std::vector<uint8_t> bytes = c.build();
        REQUIRE(open_bytes(bytes) == CP_OK);
        bytes[CP_HEADER_SIZE + 15] = 0x90;
        copapy::test::refresh_crc(bytes);
        CHECK(open_bytes(bytes) == CP_ERR_LAYOUT);
    }
}

TEST_CASE("patch table defects are reported specifically", "[runtime][image]") {
    auto with_patch = [](PatchSpec p, uint16_t target = CP_TARGET_X86_64) {
        ImageBuilder b = sample_builder();
        b.target = target;
        b.patches = {p};
        return open_built(b);
    };
    // Sites: the field must lie inside the code (16 bytes).
    CHECK(with_patch({12, CP_PATCH_REL32, CP_REGION_DATA, 0}) == CP_OK);
    CHECK(with_patch({13, CP_PATCH_REL32, CP_REGION_DATA, 0}) == CP_ERR_PATCH_BOUNDS);
    CHECK(with_patch({8, CP_PATCH_ABS64, CP_REGION_DATA, 0}) == CP_OK);
    CHECK(with_patch({9, CP_PATCH_ABS64, CP_REGION_DATA, 0}) == CP_ERR_PATCH_BOUNDS);
    CHECK(with_patch({0xffff'fffe, CP_PATCH_REL32, CP_REGION_DATA, 0}) == CP_ERR_PATCH_BOUNDS);
    // Targets: within the region, give or take 64 bytes of addend.
    CHECK(with_patch({2, CP_PATCH_REL32, CP_REGION_DATA, -64}) == CP_OK);
    CHECK(with_patch({2, CP_PATCH_REL32, CP_REGION_DATA, -65}) == CP_ERR_PATCH_BOUNDS);
    CHECK(with_patch({2, CP_PATCH_REL32, CP_REGION_DATA, 12 + 64}) == CP_OK);
    CHECK(with_patch({2, CP_PATCH_REL32, CP_REGION_DATA, 12 + 65}) == CP_ERR_PATCH_BOUNDS);
    CHECK(with_patch({2, CP_PATCH_REL32, CP_REGION_CODE, 16 + 64}) == CP_OK);
    CHECK(with_patch({2, CP_PATCH_REL32, CP_REGION_CODE, 16 + 65}) == CP_ERR_PATCH_BOUNDS);
    CHECK(with_patch({2, CP_PATCH_REL32, CP_REGION_DATA, INT32_MIN}) == CP_ERR_PATCH_BOUNDS);
    CHECK(with_patch({2, CP_PATCH_REL32, CP_REGION_DATA, INT32_MAX}) == CP_ERR_PATCH_BOUNDS);
    // Kinds and regions.
    CHECK(with_patch({2, 0, CP_REGION_DATA, 0}) == CP_ERR_PATCH_KIND);
    CHECK(with_patch({2, CP_PATCH_KIND_MAX, CP_REGION_DATA, 0}) == CP_ERR_PATCH_KIND);
    CHECK(with_patch({2, 255, CP_REGION_DATA, 0}) == CP_ERR_PATCH_KIND);
    CHECK(with_patch({2, CP_PATCH_REL32, 2, 0}) == CP_ERR_PATCH_KIND);
    CHECK(with_patch({2, CP_PATCH_REL32, CP_REGION_DATA, 0, 1}) == CP_ERR_PATCH_KIND);  // reserved
    // Kinds of another instruction set.
    CHECK(with_patch({0, CP_PATCH_A64_BRANCH26, CP_REGION_CODE, 0}) == CP_ERR_PATCH_KIND);
    CHECK(with_patch({0, CP_PATCH_A64_BRANCH26, CP_REGION_CODE, 0}, CP_TARGET_AARCH64) == CP_OK);
    CHECK(with_patch({0, CP_PATCH_REL32, CP_REGION_DATA, 0}, CP_TARGET_AARCH64) == CP_ERR_PATCH_KIND);
    CHECK(with_patch({0, CP_PATCH_ARM_MOVW, CP_REGION_DATA, 0}, CP_TARGET_THUMBV7) == CP_OK);
    CHECK(with_patch({0, CP_PATCH_ARM_MOVW, CP_REGION_DATA, 0}, CP_TARGET_THUMBV7EM) == CP_ERR_PATCH_KIND);
    CHECK(with_patch({0, CP_PATCH_ABS32, CP_REGION_DATA, 0}, CP_TARGET_THUMBV7EM) == CP_OK);
    CHECK(with_patch({0, CP_PATCH_THM_MOVW, CP_REGION_DATA, 0}, CP_TARGET_AARCH64) == CP_ERR_PATCH_KIND);
}

TEST_CASE("symbol table defects are reported specifically", "[runtime][image]") {
    auto with_symbol = [](SymbolSpec s, std::string extra_strtab = "") {
        ImageBuilder b = sample_builder();
        b.symbols = {s};
        b.extra_strtab = std::move(extra_strtab);
        return open_built(b);
    };
    CHECK(with_symbol({"ok", 8}) == CP_OK);
    // Names: inside the string table, NUL-terminated there, not empty.
    CHECK(with_symbol({"ok", 0, CP_DTYPE_INT, CP_SYM_OUTPUT, 0, 1u}) == CP_OK);  // "k"
    CHECK(with_symbol({"ok", 0, CP_DTYPE_INT, CP_SYM_OUTPUT, 0, 3u}) == CP_ERR_SYMBOL);
    CHECK(with_symbol({"ok", 0, CP_DTYPE_INT, CP_SYM_OUTPUT, 0, 0xffff'ffffu}) == CP_ERR_SYMBOL);
    CHECK(with_symbol({"ok", 0, CP_DTYPE_INT, CP_SYM_OUTPUT, 0, 2u}) == CP_ERR_SYMBOL);  // the NUL: empty
    CHECK(with_symbol({"", 0}) == CP_ERR_SYMBOL);
    CHECK(with_symbol({"ok", 0, CP_DTYPE_INT, CP_SYM_OUTPUT, 0, 3u}, "abc") == CP_ERR_SYMBOL);  // no NUL
    // Values: a whole, aligned slot of the data region (12 bytes).
    CHECK(with_symbol({"v", 2}) == CP_ERR_SYMBOL);
    CHECK(with_symbol({"v", 12}) == CP_ERR_SYMBOL);
    CHECK(with_symbol({"v", 0xffff'fffc}) == CP_ERR_SYMBOL);
    // Types, flags, reserved.
    CHECK(with_symbol({"v", 0, 0, CP_SYM_INPUT}) == CP_ERR_SYMBOL);
    CHECK(with_symbol({"v", 0, 4, CP_SYM_INPUT}) == CP_ERR_SYMBOL);
    CHECK(with_symbol({"v", 0, CP_DTYPE_BOOL, 0}) == CP_ERR_SYMBOL);
    CHECK(with_symbol({"v", 0, CP_DTYPE_BOOL, 16}) == CP_ERR_SYMBOL);  // 16: no such flag (8 is CP_SYM_RANGE)
    CHECK(with_symbol({"v", 0, CP_DTYPE_BOOL, CP_SYM_INPUT, 1}) == CP_ERR_SYMBOL);
    // Declared ranges: on inputs only, lo <= hi, no NaN, bools within [0, 1], zero without the flag.
    auto ranged = [&](uint8_t dtype, uint8_t flags, uint32_t lo, uint32_t hi) {
        return with_symbol({"v", 0, dtype, flags, 0, std::nullopt, lo, hi});
    };
    const uint8_t in_range = CP_SYM_INPUT | CP_SYM_RANGE;
    CHECK(ranged(CP_DTYPE_INT, in_range, static_cast<uint32_t>(-5), 7) == CP_OK);
    CHECK(ranged(CP_DTYPE_INT, in_range, 7, static_cast<uint32_t>(-5)) == CP_ERR_SYMBOL);  // signed order
    CHECK(ranged(CP_DTYPE_INT, CP_SYM_OUTPUT | CP_SYM_RANGE, 0, 1) == CP_ERR_SYMBOL);    // not an input
    CHECK(ranged(CP_DTYPE_INT, CP_SYM_INPUT, 0, 1) == CP_ERR_SYMBOL);                    // bounds without the flag
    CHECK(ranged(CP_DTYPE_BOOL, in_range, 0, 1) == CP_OK);
    CHECK(ranged(CP_DTYPE_BOOL, in_range, 0, 2) == CP_ERR_SYMBOL);
    CHECK(ranged(CP_DTYPE_FLOAT, in_range, 0xbf80'0000u, 0x3f80'0000u) == CP_OK);            // [-1, 1]
    CHECK(ranged(CP_DTYPE_FLOAT, in_range, 0x3f80'0000u, 0xbf80'0000u) == CP_ERR_SYMBOL);    // [1, -1]
    CHECK(ranged(CP_DTYPE_FLOAT, in_range, 0x7fc0'0000u, 0x3f80'0000u) == CP_ERR_SYMBOL);    // NaN
    CHECK(ranged(CP_DTYPE_FLOAT, in_range | CP_SYM_OUTPUT | CP_SYM_STATE, 0xff80'0000u, 0x7f80'0000u) == CP_OK);
}

TEST_CASE("a declared range allows exactly its values", "[runtime][image]") {
    cp_symbol f{"f", 0, CP_DTYPE_FLOAT, CP_SYM_INPUT | CP_SYM_RANGE, 0xbf80'0000u, 0x3f80'0000u};  // [-1, 1]
    CHECK(cp_symbol_allows(&f, 0x3f80'0000u) == 1);   // 1.0
    CHECK(cp_symbol_allows(&f, 0x8000'0000u) == 1);   // -0.0
    CHECK(cp_symbol_allows(&f, 0x3f80'0001u) == 0);   // next float above 1
    CHECK(cp_symbol_allows(&f, 0x7fc0'0000u) == 0);   // NaN
    CHECK(cp_symbol_allows(&f, 0xff80'0000u) == 0);   // -inf
    cp_symbol i{"i", 0, CP_DTYPE_INT, CP_SYM_INPUT | CP_SYM_RANGE, static_cast<uint32_t>(-3), 3};
    CHECK(cp_symbol_allows(&i, static_cast<uint32_t>(-3)) == 1);
    CHECK(cp_symbol_allows(&i, static_cast<uint32_t>(-4)) == 0);
    CHECK(cp_symbol_allows(&i, 0x8000'0000u) == 0);   // INT_MIN, not a large unsigned
    CHECK(cp_symbol_allows(&i, 4) == 0);
    cp_symbol plain{"p", 0, CP_DTYPE_INT, CP_SYM_INPUT, 0, 0};
    CHECK(cp_symbol_allows(&plain, 0x8000'0000u) == 1);
}

TEST_CASE("status messages are short, lower-case and distinct", "[runtime][image]") {
    std::set<std::string> seen;
    for (int s = CP_OK; s <= CP_ERR_ADDRESS; ++s) {
        const std::string m = cp_status_message(static_cast<cp_status>(s));
        INFO(m);
        CHECK(!m.empty());
        CHECK(std::islower(static_cast<unsigned char>(m[0])));
        CHECK(m.back() != '.');
        CHECK(seen.insert(m).second);
    }
    CHECK(std::string(cp_status_message(CP_ERR_TRUNCATED)) == "image is truncated");
    CHECK(std::string(cp_status_message(CP_ERR_MAGIC)) == "bad magic: not a copapy image");
    CHECK(std::string(cp_status_message(CP_ERR_CHECKSUM)) == "checksum mismatch: the image is corrupted");
    CHECK(std::string(cp_status_message(static_cast<cp_status>(99))) == "unknown status");
}

// ---- Loading ------------------------------------------------------------------

TEST_CASE("loading copies, patches and checks the memory it is given", "[runtime][load]") {
    ImageBuilder b = sample_builder();
    b.code_align = 16;
    b.data_align = 8;
    b.code.resize(24, 0x90);
    b.patches.push_back({16, CP_PATCH_ABS64, CP_REGION_DATA, 8});
    const std::vector<uint8_t> bytes = b.build();
    cp_image img;
    REQUIRE(cp_image_open(&img, bytes.data(), bytes.size()) == CP_OK);

    alignas(64) uint8_t code[64];
    alignas(64) uint8_t data[64];
    std::memset(code, 0xcc, sizeof code);
    REQUIRE(cp_image_load(&img, code, sizeof code, data, sizeof data) == CP_OK);

    const auto addr = [](const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); };
    // rel32 at 2 and 10: V = data + addend, P = code + site.
    CHECK(cp_read_u32(code + 2) == static_cast<uint32_t>(addr(data) - 4 - addr(code + 2)));
    CHECK(cp_read_u32(code + 10) == static_cast<uint32_t>(addr(data) + 0 - addr(code + 10)));
    // abs64 at 16: the address of the float slot.
    CHECK((cp_read_u32(code + 16) | uint64_t{cp_read_u32(code + 20)} << 32) == addr(data + 8));
    CHECK((code[0] == 0x8b && code[6] == 0x01 && code[14] == 0xc3));  // unpatched bytes copied
    CHECK(code[24] == 0xcc);  // nothing written past code_size
    CHECK(std::memcmp(data, img.data, 12) == 0);

    SECTION("capacity, alignment and overlap") {
        CHECK(cp_image_load(&img, code, 23, data, sizeof data) == CP_ERR_MEMORY);
        CHECK(cp_image_load(&img, code, sizeof code, data, 11) == CP_ERR_MEMORY);
        CHECK(cp_image_load(&img, code + 8, 56, data, sizeof data) == CP_ERR_MEMORY);  // code_align 16
        CHECK(cp_image_load(&img, code, sizeof code, data + 4, 60) == CP_ERR_MEMORY);  // data_align 8
        CHECK(cp_image_load(&img, code, sizeof code, data + 8, 56) == CP_OK);
        CHECK(cp_image_load(&img, code, sizeof code, code + 16, 48) == CP_ERR_MEMORY);  // overlap
        CHECK(cp_image_load(&img, code, sizeof code, nullptr, 0) == CP_ERR_MEMORY);
        CHECK(cp_image_load(&img, nullptr, 0, data, sizeof data) == CP_ERR_MEMORY);
    }
}

TEST_CASE("loading reports the first patch that cannot be applied", "[runtime][load]") {
    ImageBuilder b;
    b.target = CP_TARGET_AARCH64;
    b.code = {0x00, 0x00, 0x00, 0x90,   // adrp x0, #0
              0x1f, 0x20, 0x03, 0xd5};  // nop, not an add
    b.data.resize(16);
    b.patches = {{0, CP_PATCH_A64_ADR_PAGE21, CP_REGION_DATA, 0}, {4, CP_PATCH_A64_ADD_LO12, CP_REGION_DATA, 0}};
    const std::vector<uint8_t> bytes = b.build();
    cp_image img;
    REQUIRE(cp_image_open(&img, bytes.data(), bytes.size()) == CP_OK);
    alignas(16) uint8_t code[8], data[16];
    CHECK(cp_image_load(&img, code, sizeof code, data, sizeof data) == CP_ERR_PATCH_INSN);
}

TEST_CASE("the entry address carries the Thumb bit", "[runtime][load]") {
    ImageBuilder b;
    b.target = CP_TARGET_THUMBV7;
    b.code.resize(8);
    b.entry = 4;
    const std::vector<uint8_t> arm = b.build();
    b.flags = CP_FLAG_THUMB_ENTRY;
    const std::vector<uint8_t> thumb = b.build();
    alignas(16) uint8_t code[8];
    cp_image img;
    REQUIRE(cp_image_open(&img, arm.data(), arm.size()) == CP_OK);
    CHECK(cp_image_entry_address(&img, code) == reinterpret_cast<uintptr_t>(code) + 4);
    REQUIRE(cp_image_open(&img, thumb.data(), thumb.size()) == CP_OK);
    CHECK(cp_image_entry_address(&img, code) == (reinterpret_cast<uintptr_t>(code) + 4 | 1));
}

// ---- Fixed addresses, linear checks, a changed buffer (issue 13) -----------------

TEST_CASE("a fixed-address image records its addresses and loads only there", "[runtime][load][fixed]") {
    alignas(64) static uint8_t code[64];
    alignas(64) static uint8_t data[64];
    alignas(64) static uint8_t elsewhere[128];
    const auto addr = [](const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); };
    ImageBuilder b = sample_builder();
    b.patches.clear();
    b.flags = CP_FLAG_FIXED_ADDR;
    b.code_addr = addr(code);
    b.data_addr = addr(data);
    const std::vector<uint8_t> bytes = b.build();
    cp_image img;
    REQUIRE(cp_image_open(&img, bytes.data(), bytes.size()) == CP_OK);
    CHECK(img.code_addr == addr(code));
    CHECK(img.data_addr == addr(data));
    // Anywhere else it would read and write what is mapped at its addresses.
    std::memset(elsewhere, 0xcc, sizeof elsewhere);
    CHECK(cp_image_load(&img, elsewhere, 64, data, sizeof data) == CP_ERR_ADDRESS);
    CHECK(cp_image_load(&img, code, sizeof code, elsewhere + 64, 64) == CP_ERR_ADDRESS);
    CHECK(elsewhere[0] == 0xcc);  // nothing written
    CHECK(cp_image_load(&img, code, sizeof code, data, sizeof data) == CP_OK);
    CHECK(std::memcmp(code, img.code, img.code_size) == 0);

    auto with = [&](auto edit) {
        ImageBuilder c = b;
        edit(c);
        return open_built(c);
    };
    // Addresses only with the flag; aligned; inside the target's address space; not overlapping.
    CHECK(with([](ImageBuilder& c) { c.flags = 0; }) == CP_ERR_LAYOUT);
    CHECK(with([](ImageBuilder& c) {
              c.flags = 0;
              c.code_addr = c.data_addr = 0;
          }) == CP_OK);
    CHECK(with([](ImageBuilder& c) { c.code_addr += 8; }) == CP_ERR_LAYOUT);  // code_align 16
    CHECK(with([](ImageBuilder& c) { c.data_addr = c.code_addr + 8; }) == CP_ERR_LAYOUT);
    CHECK(with([](ImageBuilder& c) { c.code_addr = ~uint64_t{0} - 15; }) == CP_OK);  // the last 16 bytes
    CHECK(with([](ImageBuilder& c) {
              c.code.resize(32, 0x90);
              c.code_addr = ~uint64_t{0} - 15;  // wraps around
          }) == CP_ERR_LAYOUT);
    CHECK(with([](ImageBuilder& c) {
              c.target = CP_TARGET_AARCH64;
              c.code = {0xc0, 0x03, 0x5f, 0xd6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};  // ret
              c.code_addr = uint64_t{1} << 40;
          }) == CP_OK);
    CHECK(with([](ImageBuilder& c) {
              c.target = CP_TARGET_ARMV7;
              c.code_addr = uint64_t{1} << 32;  // beyond a 32-bit address space
              c.data_addr = 0x2000'0000;
          }) == CP_ERR_LAYOUT);
    CHECK(with([](ImageBuilder& c) {
              c.target = CP_TARGET_ARMV7;
              c.code_addr = 0x2000'0000;
              c.data_addr = 0xffff'fff8;  // 12 bytes of data do not fit below 4 GiB
          }) == CP_ERR_LAYOUT);
}

TEST_CASE("opening is linear: 20,000 symbols naming one long string", "[runtime][image][linear]") {
    // Every name check scanned the name to its NUL: 20,000 x 700 KB.
    ImageBuilder b;
    b.code = {0xc3};
    b.data.resize(4);
    b.symbols.push_back({std::string(700'000, 'n'), 0, CP_DTYPE_INT, CP_SYM_OUTPUT});
    for (int i = 1; i < 20'000; ++i) b.symbols.push_back({"", 0, CP_DTYPE_INT, CP_SYM_OUTPUT, 0, 0u});
    const std::vector<uint8_t> good = b.build();
    b.symbols.back().dtype = 0;  // rejected, but only at the last symbol
    const std::vector<uint8_t> bad = b.build();
    for (const bool valid : {true, false}) {
        const std::vector<uint8_t>& bytes = valid ? good : bad;
        const auto t0 = std::chrono::steady_clock::now();
        cp_image img;
        const cp_status st = cp_image_open(&img, bytes.data(), bytes.size());
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        CHECK(st == (valid ? CP_OK : CP_ERR_SYMBOL));
        CHECK(seconds < 1.0);  // 80 s on this machine before the string table was checked once
    }
    // A string table that does not end with a NUL is rejected as a whole.
    ImageBuilder c = sample_builder();
    c.extra_strtab.push_back('z');  // (not = "z": a GCC 12 -Wrestrict false positive)
    CHECK(open_built(c) == CP_ERR_SYMBOL);
}

TEST_CASE("symbols are re-checked when the buffer changed after opening", "[runtime][image]") {
    // The contract (image.h) is that the buffer does not change; when it
    // does, lookups fail instead of pointing outside the buffer.
    std::vector<uint8_t> bytes = sample_builder().build();
    const copapy::test::ImageLayout l = sample_builder().layout();
    cp_image img;
    REQUIRE(cp_image_open(&img, bytes.data(), bytes.size()) == CP_OK);
    cp_symbol s;
    REQUIRE(cp_image_symbol(&img, 0, &s) == CP_OK);

    cp_write_u32(bytes.data() + l.symbols + CP_SYM_NAME, 0xffff'ff00u);  // symbol 0's name
    CHECK(cp_image_symbol(&img, 0, &s) == CP_ERR_SYMBOL);
    CHECK(cp_image_find(&img, "y", &s) == CP_ERR_SYMBOL);
    cp_write_u32(bytes.data() + l.symbols + CP_SYM_NAME, 0);
    CHECK(cp_image_find(&img, "y", &s) == CP_OK);

    cp_write_u32(bytes.data() + l.symbols + CP_SYMBOL_SIZE + CP_SYM_OFFSET, 0x1000);  // y's value slot
    CHECK(cp_image_symbol(&img, 1, &s) == CP_ERR_SYMBOL);
    CHECK(cp_image_find(&img, "y", &s) == CP_ERR_SYMBOL);
    cp_write_u32(bytes.data() + l.symbols + CP_SYMBOL_SIZE + CP_SYM_OFFSET, 4);

    bytes[l.strtab + img.strtab_size - 1] = 'z';  // the final NUL
    CHECK(cp_image_symbol(&img, 2, &s) == CP_ERR_SYMBOL);
    CHECK(cp_image_find(&img, "nope", &s) == CP_ERR_SYMBOL);
}

// ---- Executing ------------------------------------------------------------------

#if defined(__x86_64__)
TEST_CASE("a patched x86-64 image runs: y = 2 * x", "[runtime][exec]") {
    // mov eax, [rip + x]; add eax, eax; mov [rip + y], eax; ret
    ImageBuilder b = sample_builder();
    const std::vector<uint8_t> bytes = b.build();
    cp_image img;
    REQUIRE(cp_image_open(&img, bytes.data(), bytes.size()) == CP_OK);

    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    void* map = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(map != MAP_FAILED);
    uint8_t* code = static_cast<uint8_t*>(map);
    uint8_t* data = code + page;
    REQUIRE(cp_image_load(&img, code, page, data, page) == CP_OK);

    cp_symbol x, y;
    REQUIRE(cp_image_find(&img, "x", &x) == CP_OK);
    REQUIRE(cp_image_find(&img, "y", &y) == CP_OK);
    CHECK(cp_read_u32(data + x.offset) == 21);  // the initial value from the image
    cp_write_u32(data + x.offset, static_cast<uint32_t>(-123456));

    REQUIRE(mprotect(code, page, PROT_READ | PROT_EXEC) == 0);
    cp_flush_icache(code, code + img.code_size);
    auto entry = reinterpret_cast<cp_entry_fn>(cp_image_entry_address(&img, code));
    entry(data);
    CHECK(static_cast<int32_t>(cp_read_u32(data + y.offset)) == -246912);
    cp_write_u32(data + x.offset, 21);
    entry(data);
    CHECK(cp_read_u32(data + y.offset) == 42);
    munmap(map, 2 * page);
}
#endif
