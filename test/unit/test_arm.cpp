// AArch64 and 32-bit ARM/Thumb targets: relocation classification, implicit
// addends decoded from hand-built instruction words (REL), tail jumps, and the
// stencil objects built for each target.
#include <catch2/catch.hpp>
#include <llvm/BinaryFormat/ELF.h>

#include <string>
#include <vector>

#include "dag/dag.hpp"
#include "ir/ir.hpp"
#include "link/link.hpp"
#include "schedule/plan.hpp"
#include "stencil/stencil_db.hpp"

using namespace copapy;
using namespace llvm::ELF;

namespace {
std::vector<uint8_t> le32(uint32_t w) { return {uint8_t(w), uint8_t(w >> 8), uint8_t(w >> 16), uint8_t(w >> 24)}; }
// A Thumb-2 32-bit instruction: first halfword first, each little-endian.
std::vector<uint8_t> thumb(uint16_t hw1, uint16_t hw2) {
    return {uint8_t(hw1), uint8_t(hw1 >> 8), uint8_t(hw2), uint8_t(hw2 >> 8)};
}
}  // namespace

TEST_CASE("targets are found by their names and the original project's aliases") {
    CHECK(find_target("aarch64") == &aarch64_target());
    CHECK(find_target("arm64") == &aarch64_target());
    CHECK(find_target("armv7") == &armv7_target());
    CHECK(find_target("thumbv7") == &thumbv7_target());
    CHECK(find_target("armv7thumb") == &thumbv7_target());
    CHECK(find_target("thumbv7em") == &thumbv7em_target());
    CHECK(find_target("armv7mthumb") == &thumbv7em_target());
    CHECK(thumbv7_target().thumb);
    CHECK_FALSE(armv7_target().thumb);
}

TEST_CASE("aarch64 classifies what gcc emits") {
    const TargetInfo& t = aarch64_target();
    CHECK(t.classify(R_AARCH64_ADR_PREL_PG_HI21) == CP_PATCH_A64_ADR_PAGE21);
    CHECK(t.classify(R_AARCH64_ADD_ABS_LO12_NC) == CP_PATCH_A64_ADD_LO12);
    CHECK(t.classify(R_AARCH64_LDST8_ABS_LO12_NC) == CP_PATCH_A64_LDST8_LO12);
    CHECK(t.classify(R_AARCH64_LDST16_ABS_LO12_NC) == CP_PATCH_A64_LDST16_LO12);
    CHECK(t.classify(R_AARCH64_LDST32_ABS_LO12_NC) == CP_PATCH_A64_LDST32_LO12);
    CHECK(t.classify(R_AARCH64_LDST64_ABS_LO12_NC) == CP_PATCH_A64_LDST64_LO12);
    CHECK(t.classify(R_AARCH64_LDST128_ABS_LO12_NC) == CP_PATCH_A64_LDST128_LO12);
    CHECK(t.classify(R_AARCH64_CALL26) == CP_PATCH_A64_BRANCH26);
    CHECK(t.classify(R_AARCH64_JUMP26) == CP_PATCH_A64_BRANCH26);
    CHECK_FALSE(t.classify(R_AARCH64_ADR_GOT_PAGE));
    CHECK_FALSE(t.classify(R_AARCH64_TLSLE_ADD_TPREL_HI12));
    CHECK(t.position_independent(CP_PATCH_A64_ADR_PAGE21));  // code is loaded 4 KiB-aligned
    CHECK(t.code_align == 4096);
    CHECK_FALSE(t.position_independent(CP_PATCH_ABS64));
    CHECK(t.relocation_name(R_AARCH64_JUMP26) == "R_AARCH64_JUMP26");
}

TEST_CASE("aarch64 cuts only a final unconditional b") {
    const TargetInfo& t = aarch64_target();
    auto code = le32(0x1e212800);  // fadd s0, s0, s1
    auto b = le32(0x14000000);     // b .
    code.insert(code.end(), b.begin(), b.end());
    CHECK(t.tail_jump_start(code, 4, R_AARCH64_JUMP26) == 4u);
    auto bl = le32(0x94000000);  // bl .
    std::copy(bl.begin(), bl.end(), code.begin() + 4);
    CHECK_FALSE(t.tail_jump_start(code, 4, R_AARCH64_CALL26));
    CHECK_FALSE(t.tail_jump_start(code, 4, R_AARCH64_JUMP26));  // the word is not a B
    CHECK_FALSE(t.tail_jump_start(code, 0, R_AARCH64_JUMP26));  // not at the end
}

TEST_CASE("arm classifies ARM-state and Thumb relocations by state") {
    const TargetInfo& a = armv7_target();
    const TargetInfo& t = thumbv7_target();
    CHECK(a.classify(R_ARM_JUMP24) == CP_PATCH_ARM_BRANCH24);
    CHECK(a.classify(R_ARM_CALL) == CP_PATCH_ARM_BRANCH24);
    CHECK(a.classify(R_ARM_MOVW_ABS_NC) == CP_PATCH_ARM_MOVW);
    CHECK(a.classify(R_ARM_MOVT_ABS) == CP_PATCH_ARM_MOVT);
    CHECK(a.classify(R_ARM_ABS32) == CP_PATCH_ABS32);
    CHECK(a.classify(R_ARM_REL32) == CP_PATCH_REL32);
    CHECK_FALSE(a.classify(R_ARM_THM_CALL));  // a Thumb relocation in ARM-state code
    CHECK(t.classify(R_ARM_THM_JUMP24) == CP_PATCH_THM_BRANCH24);
    CHECK(t.classify(R_ARM_THM_CALL) == CP_PATCH_THM_BRANCH24);
    CHECK(t.classify(R_ARM_THM_MOVW_ABS_NC) == CP_PATCH_THM_MOVW);
    CHECK(t.classify(R_ARM_THM_MOVT_ABS) == CP_PATCH_THM_MOVT);
    CHECK(t.classify(R_ARM_ABS32) == CP_PATCH_ABS32);
    CHECK_FALSE(t.classify(R_ARM_JUMP24));
    CHECK_FALSE(t.classify(R_ARM_GOT_BREL));
    CHECK_FALSE(t.classify(R_ARM_THM_JUMP19));  // conditional tail calls: not emitted for our stencils
    CHECK_FALSE(a.position_independent(CP_PATCH_ARM_MOVW));
    CHECK(a.position_independent(CP_PATCH_ARM_BRANCH24));
}

TEST_CASE("arm decodes implicit addends from the instruction") {
    const TargetInfo& a = armv7_target();
    const TargetInfo& t = thumbv7_target();
    CHECK(a.implicit_addend(CP_PATCH_ARM_BRANCH24, le32(0xeafffffe).data()) == -8);  // b .   (PC bias)
    CHECK(a.implicit_addend(CP_PATCH_ARM_BRANCH24, le32(0xeb000010).data()) == 64);  // bl +64
    CHECK(a.implicit_addend(CP_PATCH_ARM_MOVW, le32(0xe3010234).data()) == 0x1234);  // movw r0, #0x1234
    CHECK(a.implicit_addend(CP_PATCH_ARM_MOVT, le32(0xe3480000).data()) == -32768);  // movt r0, #0x8000: signed
    CHECK(a.implicit_addend(CP_PATCH_ABS32, le32(0xfffffff0).data()) == -16);
    CHECK(t.implicit_addend(CP_PATCH_THM_BRANCH24, thumb(0xf7ff, 0xbffe).data()) == -4);  // b.w .
    CHECK(t.implicit_addend(CP_PATCH_THM_BRANCH24, thumb(0xf7ff, 0xfffe).data()) == -4);  // bl .
    CHECK(t.implicit_addend(CP_PATCH_THM_BRANCH24, thumb(0xf000, 0xb802).data()) == 4);   // b.w +4 (imm11 = 2)
    CHECK(t.implicit_addend(CP_PATCH_THM_BRANCH24, thumb(0xf400, 0x9000).data()) == -16777216);  // most negative
    CHECK(t.implicit_addend(CP_PATCH_THM_MOVW, thumb(0xf241, 0x2034).data()) == 0x1234);  // movw r0, #0x1234
    CHECK(t.implicit_addend(CP_PATCH_THM_MOVT, thumb(0xf6cf, 0x70ff).data()) == -1);      // movt r0, #0xffff (i = 1)
}

TEST_CASE("arm cuts only a final unconditional branch") {
    const TargetInfo& a = armv7_target();
    const TargetInfo& t = thumbv7_target();
    auto arm = le32(0xee300a20);  // vadd.f32 s0, s0, s1
    auto b = le32(0xeafffffe);
    arm.insert(arm.end(), b.begin(), b.end());
    CHECK(a.tail_jump_start(arm, 4, R_ARM_JUMP24) == 4u);
    auto bne = le32(0x1afffffe);
    std::copy(bne.begin(), bne.end(), arm.begin() + 4);
    CHECK_FALSE(a.tail_jump_start(arm, 4, R_ARM_JUMP24));
    auto th = thumb(0xee30, 0x0a20);
    auto bw = thumb(0xf7ff, 0xbffe);
    th.insert(th.end(), bw.begin(), bw.end());
    CHECK(t.tail_jump_start(th, 4, R_ARM_THM_JUMP24) == 4u);
    auto bl = thumb(0xf7ff, 0xfffe);
    std::copy(bl.begin(), bl.end(), th.begin() + 4);
    CHECK_FALSE(t.tail_jump_start(th, 4, R_ARM_THM_CALL));
    CHECK_FALSE(t.tail_jump_start(th, 4, R_ARM_THM_JUMP24));
}

TEST_CASE("every target's stencil object has every stencil, cut to size, and links") {
    const std::string dag = R"({"format":"copapy-dag","version":1,"nodes":[
        {"id":0,"op":"input","dtype":"float","name":"a","value":0.25},
        {"id":1,"op":"input","dtype":"int","name":"n","value":7},
        {"id":2,"op":"floordiv","dtype":"int","args":[1,1]},
        {"id":3,"op":"sin","dtype":"float","args":[0]},
        {"id":4,"op":"add","dtype":"float","args":[3,2]}],"outputs":[{"name":"y","node":4}]})";
    Ir ir = build_ir(read_dag({reinterpret_cast<const uint8_t*>(dag.data()), dag.size()}));
    const Program prog = plan(ir, linearize(ir));
    for (const TargetInfo* t : all_targets()) {
        INFO(t->name);
        auto db = StencilDb::load(std::string(COPAPY_STENCIL_DIR) + "/" + std::string(t->name) + ".o", *t);
        for (Op op : kTableOps) {
            if (op_info(op).flags & Lowered) continue;
            for (Kind k : {Kind::I, Kind::F})
                if (has_variant(op, k))
                    CHECK(db->has_function(op_stencil(op, op == Op::Select ? State{Kind::I, k} : State{k, k})));
        }
        const Stencil& add = db->stencil("add_ff");
        CHECK(add.tail_cut);
        CHECK(add.code.size() == 4);  // one instruction on every target
        const LinkedImage img = link_program(prog, *db);
        auto bytes = write_image(img);
        cp_image view;
        REQUIRE(cp_image_open(&view, bytes.data(), bytes.size()) == CP_OK);
        CHECK(view.target == t->id);
        CHECK(((view.flags & CP_FLAG_THUMB_ENTRY) != 0) == t->thumb);
        for (const ImagePatch& p : img.patches) CHECK((p.region == CP_REGION_DATA || p.kind == CP_PATCH_ABS32));
    }
}

TEST_CASE("armv6 is ARM state without MOVW/MOVT: addresses come from literal pools") {
    const TargetInfo& t = armv6_target();
    CHECK(find_target("armv6") == &t);
    CHECK(find_target("armv6l") == &t);
    CHECK(t.id == CP_TARGET_ARMV6);
    CHECK_FALSE(t.thumb);
    auto db = StencilDb::load(std::string(COPAPY_STENCIL_DIR) + "/armv6.o", t);
    size_t abs32 = 0;
    for (const ObjReloc& r : db->relocs()) {
        CHECK(r.type != R_ARM_MOVW_ABS_NC);  // ARMv6T2 and later only
        CHECK(r.type != R_ARM_MOVT_ABS);
        CHECK(r.type != R_ARM_THM_CALL);     // no Thumb-2 either
        abs32 += r.type == R_ARM_ABS32;
    }
    CHECK(abs32 > 0);
    // A far operand is a pool word after the final branch: the base-relative
    // offset, so the stencil keeps its jump and has no load-time patch.
    const Stencil& far = db->stencil("far_ld0_f_ii");
    CHECK_FALSE(far.tail_cut);
    CHECK(db->stencil("ld0_f_ii").tail_cut);
    // The loader accepts only ARM-state branches and pool words in its images.
    CHECK(cp_patch_kind_name(CP_PATCH_ARM_MOVW) != nullptr);
}
