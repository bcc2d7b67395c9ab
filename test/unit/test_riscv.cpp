// RISC-V targets: relocation classification, tail jumps, near memory operands,
// every encoder with words gcc/objdump printed (in range, at the limits, one
// past, wrong instruction), and the PCREL_HI20/LO12 pairing on the real
// stencil object.
#include <catch2/catch.hpp>
#include <llvm/BinaryFormat/ELF.h>

#include <string>
#include <vector>

#include "stencil/stencil_db.hpp"
#include "support/bits.hpp"
#include "target/target.hpp"

using namespace copapy;
using namespace llvm::ELF;

namespace {
std::vector<uint8_t> le32(uint32_t w) { return {uint8_t(w), uint8_t(w >> 8), uint8_t(w >> 16), uint8_t(w >> 24)}; }
std::vector<uint8_t> le16(uint16_t h) { return {uint8_t(h), uint8_t(h >> 8)}; }
uint32_t word(const std::vector<uint8_t>& b, size_t at = 0) {
    return uint32_t(b[at]) | uint32_t(b[at + 1]) << 8 | uint32_t(b[at + 2]) << 16 | uint32_t(b[at + 3]) << 24;
}
uint16_t half(const std::vector<uint8_t>& b) { return uint16_t(b[0] | b[1] << 8); }

// Patches one 32-bit word (a distance q = V - P, P = 0) and returns the word or the status.
struct Result {
    cp_status status;
    uint32_t insn;
};
Result patch32(unsigned kind, uint32_t insn, int64_t q) {
    auto b = le32(insn);
    const cp_status st = cp_patch_apply(kind, b.data(), static_cast<uint64_t>(q), 0);
    return {st, word(b)};
}
Result patch16(unsigned kind, uint16_t insn, int64_t q) {
    auto b = le16(insn);
    const cp_status st = cp_patch_apply(kind, b.data(), static_cast<uint64_t>(q), 0);
    return {st, half(b)};
}

std::unique_ptr<StencilDb> riscv64_db() {
    return StencilDb::load(std::string(COPAPY_STENCIL_DIR) + "/riscv64.o", riscv64_target());
}
}  // namespace

TEST_CASE("riscv64 is found by name and aliases") {
    CHECK(find_target("riscv64") == &riscv64_target());
    CHECK(find_target("rv64gc") == &riscv64_target());
    CHECK(riscv64_target().id == CP_TARGET_RISCV64);
    CHECK(riscv64_target().elf_machine == EM_RISCV);
}

TEST_CASE("riscv64 classifies the relocations gcc emits, and refuses relaxation") {
    const TargetInfo& t = riscv64_target();
    CHECK(t.classify(R_RISCV_BRANCH) == CP_PATCH_RV_BRANCH);
    CHECK(t.classify(R_RISCV_JAL) == CP_PATCH_RV_JAL);
    CHECK(t.classify(R_RISCV_CALL_PLT) == CP_PATCH_RV_CALL);
    CHECK(t.classify(R_RISCV_CALL) == CP_PATCH_RV_CALL);
    CHECK(t.classify(R_RISCV_PCREL_HI20) == CP_PATCH_RV_PCREL_HI20);
    CHECK(t.classify(R_RISCV_PCREL_LO12_I) == CP_PATCH_RV_PCREL_LO12_I);
    CHECK(t.classify(R_RISCV_PCREL_LO12_S) == CP_PATCH_RV_PCREL_LO12_S);
    CHECK(t.classify(R_RISCV_RVC_BRANCH) == CP_PATCH_RV_RVC_BRANCH);
    CHECK(t.classify(R_RISCV_RVC_JUMP) == CP_PATCH_RV_RVC_JUMP);
    CHECK(t.classify(R_RISCV_64) == CP_PATCH_ABS64);
    CHECK(t.classify(R_RISCV_32) == CP_PATCH_ABS32);
    CHECK_FALSE(t.classify(R_RISCV_RELAX));   // the compiler never relaxes: -mno-relax
    CHECK_FALSE(t.classify(R_RISCV_ALIGN));
    CHECK_FALSE(t.classify(R_RISCV_GOT_HI20));
    CHECK_FALSE(t.classify(R_RISCV_HI20));    // medlow: absolute, low 2 GiB only
    CHECK(t.is_pcrel_low_part(R_RISCV_PCREL_LO12_I));
    CHECK(t.is_pcrel_low_part(R_RISCV_PCREL_LO12_S));
    CHECK_FALSE(t.is_pcrel_low_part(R_RISCV_PCREL_HI20));
    CHECK(t.is_pcrel_high_part(R_RISCV_PCREL_HI20));
    CHECK_FALSE(x86_64_target().is_pcrel_low_part(R_RISCV_PCREL_LO12_I));
    CHECK(t.position_independent(CP_PATCH_RV_PCREL_HI20));
    CHECK(t.position_independent(CP_PATCH_RV_CALL));
    CHECK_FALSE(t.position_independent(CP_PATCH_ABS64));
    CHECK(t.relocation_name(R_RISCV_CALL_PLT) == "R_RISCV_CALL_PLT");
}

TEST_CASE("riscv64 cuts only a final auipc t1 + jr t1") {
    const TargetInfo& t = riscv64_target();
    // fadd.s fa0,fa0,fa1 ; auipc t1,0 ; jr t1
    std::vector<uint8_t> code = le32(0x00b57553);
    for (uint32_t w : {0x0000'0317u, 0x0003'0067u}) {
        auto b = le32(w);
        code.insert(code.end(), b.begin(), b.end());
    }
    CHECK(t.tail_jump_start(code, 4, R_RISCV_CALL_PLT) == 4u);
    CHECK_FALSE(t.tail_jump_start(code, 4, R_RISCV_PCREL_HI20));
    CHECK_FALSE(t.tail_jump_start(code, 0, R_RISCV_CALL_PLT));  // not the last 8 bytes
    // call (jalr ra, 0(ra)) is a library call, not the tail jump
    auto call = code;
    auto a = le32(0x0000'0097), j = le32(0x0000'80e7);
    std::copy(a.begin(), a.end(), call.begin() + 4);
    std::copy(j.begin(), j.end(), call.begin() + 8);
    CHECK_FALSE(t.tail_jump_start(call, 4, R_RISCV_CALL_PLT));
    // jr through another register than the auipc's
    auto other = code;
    auto j2 = le32(0x0003'8067);  // jr t2
    std::copy(j2.begin(), j2.end(), other.begin() + 8);
    CHECK_FALSE(t.tail_jump_start(other, 4, R_RISCV_CALL_PLT));
}

TEST_CASE("riscv64 finds and writes near operands on s11") {
    const TargetInfo& t = riscv64_target();
    // c.nop ; flw fa5,2040(s11) ; fsw fa0,2040(s11) ; flw fa5,2040(a5) (not the base)
    std::vector<uint8_t> code = le16(0x0001);
    for (uint32_t w : {0x7f8d'a787u, 0x7ead'ac27u, 0x7f87'a787u}) {
        auto b = le32(w);
        code.insert(code.end(), b.begin(), b.end());
    }
    const auto fields = t.find_data_fields(code, 2040);
    REQUIRE(fields.size() == 2);
    CHECK(fields[0].offset == 2);
    CHECK(fields[1].offset == 6);
    CHECK(t.data_field_fits(fields[0].form, -2048));
    CHECK(t.data_field_fits(fields[0].form, 2047));
    CHECK_FALSE(t.data_field_fits(fields[0].form, 2048));
    CHECK_FALSE(t.data_field_fits(fields[1].form, -2049));
    t.write_data_field(fields[0].form, code.data() + 2, -2040);  // data + 0
    CHECK(word(code, 2) == 0x808d'a787u);                          // flw fa5,-2040(s11)
    t.write_data_field(fields[1].form, code.data() + 6, 4);
    CHECK(word(code, 6) == 0x00ad'a227u);  // fsw fa0,4(s11)
    CHECK_THROWS_WITH(t.write_data_field(fields[1].form, code.data() + 6, 2048),
                      Catch::Contains("offset 2048 does not fit"));
}

TEST_CASE("rv_branch encodes B-type offsets, checks range, alignment and opcode") {
    // objdump: 00e58a63 beq a1,a4,+0x14
    CHECK(patch32(CP_PATCH_RV_BRANCH, 0x00e5'8063, 0x14).insn == 0x00e5'8a63u);
    CHECK(patch32(CP_PATCH_RV_BRANCH, 0x0000'0063, -4).insn == 0xfe00'0ee3u);  // beq x0,x0,-4
    CHECK(patch32(CP_PATCH_RV_BRANCH, 0x0000'0063, 4094).status == CP_OK);
    CHECK(patch32(CP_PATCH_RV_BRANCH, 0x0000'0063, -4096).status == CP_OK);
    CHECK(patch32(CP_PATCH_RV_BRANCH, 0x0000'0063, 4096).status == CP_ERR_PATCH_RANGE);
    CHECK(patch32(CP_PATCH_RV_BRANCH, 0x0000'0063, -4098).status == CP_ERR_PATCH_RANGE);
    CHECK(patch32(CP_PATCH_RV_BRANCH, 0x0000'0063, 3).status == CP_ERR_PATCH_RANGE);
    CHECK(patch32(CP_PATCH_RV_BRANCH, 0x0000'006f, 4).status == CP_ERR_PATCH_INSN);  // a jal
}

TEST_CASE("rv_jal encodes J-type offsets") {
    CHECK(patch32(CP_PATCH_RV_JAL, 0x0000'006f, 8).insn == 0x0080'006fu);   // j +8
    CHECK(patch32(CP_PATCH_RV_JAL, 0x0000'006f, -4).insn == 0xffdf'f06fu);  // j -4
    CHECK(patch32(CP_PATCH_RV_JAL, 0x0000'006f, 1048574).status == CP_OK);
    CHECK(patch32(CP_PATCH_RV_JAL, 0x0000'006f, 1048576).status == CP_ERR_PATCH_RANGE);
    CHECK(patch32(CP_PATCH_RV_JAL, 0x0000'006f, -1048578).status == CP_ERR_PATCH_RANGE);
    CHECK(patch32(CP_PATCH_RV_JAL, 0x0000'0063, 8).status == CP_ERR_PATCH_INSN);
}

TEST_CASE("rv_call splits the distance over auipc + jalr with rounding") {
    std::vector<uint8_t> b = le32(0x0000'0097);  // auipc ra,0
    auto j = le32(0x0000'80e7);                  // jalr ra,0(ra)
    b.insert(b.end(), j.begin(), j.end());
    REQUIRE(cp_patch_apply(CP_PATCH_RV_CALL, b.data(), 0x1234'5ffc, 0) == CP_OK);
    CHECK(word(b, 0) == 0x1234'6097u);  // hi20 = (d + 0x800) >> 12
    CHECK(word(b, 4) == 0xffc0'80e7u);  // lo12 = -4
    CHECK(cp_patch_apply(CP_PATCH_RV_CALL, b.data(), 2147481599 - 1, 0) == CP_OK);
    CHECK(cp_patch_apply(CP_PATCH_RV_CALL, b.data(), 2147481600, 0) == CP_ERR_PATCH_RANGE);
    CHECK(cp_patch_apply(CP_PATCH_RV_CALL, b.data(), static_cast<uint64_t>(-2147485696LL), 0) == CP_OK);
    CHECK(cp_patch_apply(CP_PATCH_RV_CALL, b.data(), static_cast<uint64_t>(-2147485698LL), 0) == CP_ERR_PATCH_RANGE);
    auto wrong = b;
    auto j2 = le32(0x0003'80e7);  // jalr ra,0(t2): not the auipc's register
    std::copy(j2.begin(), j2.end(), wrong.begin() + 4);
    CHECK(cp_patch_apply(CP_PATCH_RV_CALL, wrong.data(), 8, 0) == CP_ERR_PATCH_INSN);
}

TEST_CASE("rv_pcrel_hi20 and lo12 together give the distance from the auipc") {
    const int64_t d = 0x1234'5ffc;
    CHECK(patch32(CP_PATCH_RV_PCREL_HI20, 0x0000'0797, d).insn == 0x1234'6797u);   // auipc a5
    CHECK(patch32(CP_PATCH_RV_PCREL_LO12_I, 0x0007'a787, d).insn == 0xffc7'a787u);  // flw fa5,-4(a5)
    CHECK(patch32(CP_PATCH_RV_PCREL_LO12_S, 0x00a7'a027, d).insn == 0xfea7'ae27u);  // fsw fa0,-4(a5)
    CHECK(patch32(CP_PATCH_RV_PCREL_HI20, 0x0000'0797, 2147481600).status == CP_ERR_PATCH_RANGE);
    CHECK(patch32(CP_PATCH_RV_PCREL_HI20, 0x0000'0793, 0).status == CP_ERR_PATCH_INSN);    // addi, not auipc
    CHECK(patch32(CP_PATCH_RV_PCREL_LO12_I, 0x00a7'a027, 0).status == CP_ERR_PATCH_INSN);  // a store
    CHECK(patch32(CP_PATCH_RV_PCREL_LO12_S, 0x0007'a787, 0).status == CP_ERR_PATCH_INSN);  // a load
}

TEST_CASE("rv_rvc_branch and rv_rvc_jump encode compressed offsets") {
    // objdump: ef89 bnez a5,+0x1a ; cd91 beqz a1,+0x1c ; b755 j -0x5c
    CHECK(patch16(CP_PATCH_RV_RVC_BRANCH, 0xe381, 0x1a).insn == 0xef89);
    CHECK(patch16(CP_PATCH_RV_RVC_BRANCH, 0xc181, 0x1c).insn == 0xcd91);
    CHECK(patch16(CP_PATCH_RV_RVC_JUMP, 0xa001, -0x5c).insn == 0xb755);
    CHECK(patch16(CP_PATCH_RV_RVC_BRANCH, 0xc181, 254).status == CP_OK);
    CHECK(patch16(CP_PATCH_RV_RVC_BRANCH, 0xc181, 256).status == CP_ERR_PATCH_RANGE);
    CHECK(patch16(CP_PATCH_RV_RVC_BRANCH, 0xc181, -258).status == CP_ERR_PATCH_RANGE);
    CHECK(patch16(CP_PATCH_RV_RVC_JUMP, 0xa001, 2046).status == CP_OK);
    CHECK(patch16(CP_PATCH_RV_RVC_JUMP, 0xa001, 2048).status == CP_ERR_PATCH_RANGE);
    CHECK(patch16(CP_PATCH_RV_RVC_JUMP, 0xa001, -2050).status == CP_ERR_PATCH_RANGE);
    CHECK(patch16(CP_PATCH_RV_RVC_JUMP, 0xa001, 3).status == CP_ERR_PATCH_RANGE);
    CHECK(patch16(CP_PATCH_RV_RVC_BRANCH, 0xa001, 4).status == CP_ERR_PATCH_INSN);  // c.j
    CHECK(patch16(CP_PATCH_RV_RVC_JUMP, 0xc181, 4).status == CP_ERR_PATCH_INSN);    // c.beqz
}

TEST_CASE("a PCREL_LO12 takes its auipc's target, plus the distance from the auipc") {
    // sign_ff reads its constants (1.0f, -1.0f) PC-relative: auipc + flw
    // pairs. (Far operands used to be such pairs to the hole; they are a
    // lui/addi offset field from s11 now, without relocations.)
    auto db = riscv64_db();
    const Stencil& s = db->stencil("sign_ff");
    size_t pairs = 0;
    for (size_t i = 0; i + 1 < s.relocs.size(); ++i) {
        const ObjReloc& hi = db->reloc(s.relocs[i]);
        if (hi.type != R_RISCV_PCREL_HI20) continue;
        const ObjReloc& lo = db->reloc(s.relocs[i + 1]);
        CHECK(lo.type == R_RISCV_PCREL_LO12_I);
        CHECK(lo.symbol == hi.symbol);  // no longer the auipc's label
        CHECK(lo.addend == hi.addend + static_cast<int64_t>(lo.offset - hi.offset));
        CHECK(lo.offset - hi.offset == 4);
        ++pairs;
    }
    CHECK(pairs == 2);
    for (const char* name : {"far_ld0_f_ii", "far_st0_ii"}) {
        INFO(name);
        const Stencil& far = db->stencil(name);
        CHECK(far.relocs.empty());
        REQUIRE(far.data_fields.size() == 1);
        CHECK(riscv64_target().data_field_name(far.data_fields[0].form) == "lui/addi");
    }
}

TEST_CASE("the RISC-V far offset field: lui hi20 + addi lo12 from s11") {
    const TargetInfo& t = riscv64_target();
    // lui a5, 0 ; addi a5, a5, 2040 ; c.add a5, s11 ; flw fa0, 0(a5)
    std::vector<uint8_t> code = {0xb7, 0x07, 0x00, 0x00, 0x93, 0x87, 0x87, 0x7f, 0xee, 0x97, 0x07, 0xa5, 0x07, 0x00};
    const auto fields = t.find_data_fields(code, 2040);
    REQUIRE(fields.size() == 1);
    CHECK(fields[0].offset == 0);
    for (int64_t disp : {int64_t{0x12345}, int64_t{0x7ff}, int64_t{0x800}, int64_t{-2040}, int64_t{0x7fff'f000}}) {
        INFO(disp);
        REQUIRE(t.data_field_fits(fields[0].form, disp));
        t.write_data_field(fields[0].form, code.data(), disp);
        const uint32_t lui = read_le32(&code[0]), addi = read_le32(&code[4]);
        const int64_t hi = sign_extend(lui >> 12, 20) * 4096, lo = sign_extend(addi >> 20, 12);
        CHECK(hi + lo == disp);
        CHECK((lui & 0xfff) == 0x7b7);   // lui a5 kept
        CHECK((addi & 0xfffff) == 0x7'8793);  // addi a5, a5 kept
    }
    CHECK_FALSE(t.data_field_fits(fields[0].form, int64_t{0x7fff'f800}));
}

TEST_CASE("riscv32 is the same family with 32-bit words only, and its stencil object loads") {
    const TargetInfo& t = riscv32_target();
    CHECK(find_target("riscv32") == &t);
    CHECK(find_target("rv32imafc") == &t);
    CHECK(find_target("rv32") == &t);
    CHECK(t.id == CP_TARGET_RISCV32);
    CHECK(t.elf_machine == EM_RISCV);
    CHECK(t.classify(R_RISCV_CALL_PLT) == CP_PATCH_RV_CALL);
    CHECK(t.classify(R_RISCV_PCREL_HI20) == CP_PATCH_RV_PCREL_HI20);
    CHECK(t.classify(R_RISCV_32) == CP_PATCH_ABS32);
    CHECK_FALSE(t.classify(R_RISCV_64));  // no 64-bit words in an RV32 image
    CHECK_FALSE(t.classify(R_RISCV_RELAX));
    // The object is ELF32 (a 64-bit one would be refused), its stencils usable.
    auto db = StencilDb::load(std::string(COPAPY_STENCIL_DIR) + "/riscv32.o", t);
    CHECK(db->has_function("cp_entry"));
    CHECK(db->has_function("add_ff"));
    CHECK(db->stencil("add_ff").code.size() > 0);
}
