// Linking a planned program: layout, compile-time resolution, patches, and
// the image bytes (checked back through the runtime's validator).
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <string>

#include "dag/dag.hpp"
#include "ir/ir.hpp"
#include "link/link.hpp"
#include "schedule/plan.hpp"
#include "support/error.hpp"

using namespace copapy;

namespace {
StencilDb& db() {
    static auto d = StencilDb::load(std::string(COPAPY_STENCIL_DIR) + "/x86_64.o", x86_64_target());
    return *d;
}
LinkedImage link_of(const std::string& nodes, const std::string& outputs) {
    std::string s = R"({"format":"copapy-dag","version":1,"nodes":[)" + nodes + R"(],"outputs":)" + outputs + "}";
    Ir ir = build_ir(read_dag({reinterpret_cast<const uint8_t*>(s.data()), s.size()}));
    return link_program(plan(ir, linearize(ir)), db());
}
const std::string kProgram = R"({"id":0,"op":"input","dtype":"float","name":"a","value":0.25},
                                {"id":1,"op":"const","dtype":"float","value":2},
                                {"id":2,"op":"mul","dtype":"float","args":[0,1]},
                                {"id":3,"op":"sin","dtype":"float","args":[2]})";
}  // namespace

TEST_CASE("data references are base-relative fields, code references are resolved") {
    LinkedImage img = link_of(kProgram, R"([{"name":"y","node":3}])");
    // No patches: the data accesses (load a, the constant, store y) are
    // offsets from the base register, and calls/continuations are code-relative.
    CHECK(img.patches.empty());
    CHECK(img.near_operands == 3);
    CHECK(img.far_operands == 0);
    CHECK(img.resolved > 0);
    CHECK(img.code.size() > img.stencil_bytes);  // sinf and its helpers were pulled in
    CHECK(img.data.size() == 12);                // a, y, then the constant 2
    CHECK(img.const_offset == 8);
    CHECK(cp_read_u32(img.data.data() + 8) == 0x4000'0000);
}

TEST_CASE("only the auxiliary code a program uses is pulled in") {
    LinkedImage small = link_of(R"({"id":0,"op":"input","dtype":"float","name":"a","value":0.25},
                                    {"id":2,"op":"neg","dtype":"float","args":[0]})",
                                R"([{"name":"y","node":2}])");
    LinkedImage with_sin = link_of(kProgram, R"([{"name":"y","node":3}])");
    CHECK(small.code.size() < 512);  // neg_ff needs only a sign mask (ld -r merged .rodata.cst16)
    CHECK(with_sin.code.size() > small.code.size() + 200);
}

TEST_CASE("images are byte-for-byte reproducible and pass the runtime's checks") {
    auto a = write_image(link_of(kProgram, R"([{"name":"y","node":3}])"));
    auto b = write_image(link_of(kProgram, R"([{"name":"y","node":3}])"));
    CHECK(a == b);
    // The compiler's checksum (zlib's CRC-32) is the runtime's cp_crc32.
    REQUIRE(a.size() >= 4);
    CHECK(cp_read_u32(a.data() + a.size() - 4) == cp_crc32(a.data(), a.size() - 4));
    cp_image img;
    REQUIRE(cp_image_open(&img, a.data(), a.size()) == CP_OK);
    CHECK(img.target == CP_TARGET_X86_64);
    CHECK(img.symbol_count == 2);
    cp_symbol y;
    REQUIRE(cp_image_find(&img, "y", &y) == CP_OK);
    CHECK(y.flags == CP_SYM_OUTPUT);
    CHECK(y.dtype == CP_DTYPE_FLOAT);
}

TEST_CASE("an image without patches or data has a valid checksum") {
    // Empty tables (and their vectors' null data) take no part in the CRC.
    for (const LinkedImage& img : {link_of(R"({"id":0,"op":"const","dtype":"float","value":2},
                                                {"id":1,"op":"neg","dtype":"float","args":[0]})", "[]"),
                                   link_of(R"({"id":0,"op":"input","dtype":"float","name":"a","value":0.25})",
                                           R"([{"name":"a","node":0}])")}) {
        const std::vector<uint8_t> bytes = write_image(img);
        CHECK(cp_read_u32(bytes.data() + bytes.size() - 4) == cp_crc32(bytes.data(), bytes.size() - 4));
        cp_image opened;
        CHECK(cp_image_open(&opened, bytes.data(), bytes.size()) == CP_OK);
    }
}

TEST_CASE("a stencil that does not continue in the planned register state is an error") {
    // cp_entry continues in state ii; a step planned for state ff after it
    // means the stencil object and the compiler disagree.
    Program p;
    p.stencil_names = {"cp_entry", "add_ff", "cp_exit"};
    p.steps = {Step{0, HoleKind::None, {Kind::I, Kind::I}}, Step{1, HoleKind::None, {Kind::F, Kind::F}},
               Step{2, HoleKind::None, {Kind::F, Kind::F}}};
    CHECK_THROWS_WITH(link_program(p, db()),
                      Catch::Contains("stencil 'cp_entry' continues in register state ii, the program expects ff"));
    // The exit stencil returns: it cannot stand before another step.
    p.steps = {Step{0, HoleKind::None, {Kind::I, Kind::I}}, Step{2, HoleKind::None, {Kind::I, Kind::I}},
               Step{2, HoleKind::None, {Kind::I, Kind::I}}};
    CHECK_THROWS_WITH(link_program(p, db()), Catch::Contains("stencil 'cp_exit' never continues to the next one"));
    // And a program must end in a stencil that returns.
    p.steps = {Step{0, HoleKind::None, {Kind::I, Kind::I}}};
    CHECK_THROWS_WITH(link_program(p, db()), Catch::Contains("the last stencil 'cp_entry' does not return"));
}

TEST_CASE("a size or offset beyond a u32 field is an error, not a truncated field") {
    CHECK(image_field_u32(0, "x") == 0);
    CHECK(image_field_u32(UINT32_MAX, "x") == UINT32_MAX);
    try {
        image_field_u32(uint64_t{UINT32_MAX} + 1, "the string table size");
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::Input);
        CHECK(std::string(e.what()) == "the image would be too large: the string table size is 4294967296, more than "
                                       "the image format's limit of 4294967295");
    }
}

TEST_CASE("operands beyond a near field's reach use the far twin, base-relative on Arm") {
    // 700 float inputs summed: data offsets up to 2800 bytes, beyond VLDR's
    // 0 ... 2040 from the ARM-state base (data + 1020).
    std::string nodes, sum;
    for (int i = 0; i < 700; ++i)
        nodes += fmt::format(R"({{"id":{},"op":"input","dtype":"float","name":"x{}","value":{}}},)", i, i, i);
    int id = 700;
    std::string acc = "0";
    for (int i = 1; i < 700; ++i, ++id) {
        nodes += fmt::format(R"({{"id":{},"op":"add","dtype":"float","args":[{},{}]}},)", id, acc, i);
        acc = std::to_string(id);
    }
    nodes.pop_back();
    std::string s = R"({"format":"copapy-dag","version":1,"nodes":[)" + nodes + R"(],"outputs":[{"name":"y","node":)" +
                    acc + "}]}";
    Ir ir = build_ir(read_dag({reinterpret_cast<const uint8_t*>(s.data()), s.size()}));
    const Program p = plan(ir, linearize(ir));
    auto arm = StencilDb::load(std::string(COPAPY_STENCIL_DIR) + "/armv7.o", armv7_target());
    const LinkedImage img = link_program(p, *arm);
    CHECK(img.near_operands > 0);
    CHECK(img.far_operands > 0);
    CHECK(img.patches.empty());  // far offsets are movw/movt constants added to r9
    size_t far_steps = 0;
    for (size_t i = 0; i < p.steps.size(); ++i) {
        if (!img.step_far[i]) continue;
        ++far_steps;
        const Step& st = p.steps[i];
        CHECK((st.hole == HoleKind::Const ? img.const_offset + 4 * st.hole_index : st.hole_index) > 2040);
    }
    CHECK(far_steps == img.far_operands);
    // x86-64: disp8 reaches data + 0 ... 255 from rbx = data + 128, the far
    // twins' disp32 the rest; neither is patched.
    const LinkedImage x86 = link_program(p, db());
    CHECK(x86.near_operands > 0);
    CHECK(x86.far_operands > 0);
    CHECK(x86.patches.empty());
    for (size_t i = 0; i < p.steps.size(); ++i) {
        if (p.steps[i].hole == HoleKind::None) continue;
        const Step& st = p.steps[i];
        const uint32_t offset = st.hole == HoleKind::Const ? x86.const_offset + 4 * st.hole_index : st.hole_index;
        CHECK(bool(x86.step_far[i]) == (offset > 255));
    }
}

TEST_CASE("AArch64 far operands are a movz/movk offset the compiler writes, with no patch") {
    // A chain over 4200 inputs: more than the 16 KiB that LDR/STR's scaled
    // imm12 reaches from x19.
    constexpr int n = 4200;
    std::string nodes;
    for (int i = 0; i < n; ++i)
        nodes += fmt::format(R"({{"id":{},"op":"input","dtype":"float","name":"x{}","value":{}}},)", i, i, i);
    std::string acc = "0";
    for (int i = 1, id = n; i < n; ++i, ++id) {
        nodes += fmt::format(R"({{"id":{},"op":"add","dtype":"float","args":[{},{}]}},)", id, acc, i);
        acc = std::to_string(id);
    }
    nodes.pop_back();
    const std::string s = R"({"format":"copapy-dag","version":1,"nodes":[)" + nodes +
                          R"(],"outputs":[{"name":"y","node":)" + acc + "}]}";
    Ir ir = build_ir(read_dag({reinterpret_cast<const uint8_t*>(s.data()), s.size()}));
    auto a64 = StencilDb::load(std::string(COPAPY_STENCIL_DIR) + "/aarch64.o", aarch64_target());
    const Program p = plan(ir, linearize(ir), a64->float_parks());
    const LinkedImage img = link_program(p, *a64);
    CHECK(img.far_operands > 0);
    CHECK(img.patches.empty());
    size_t checked = 0;
    for (size_t i = 0; i < p.steps.size(); ++i) {
        if (!img.step_far[i]) continue;
        const Step& st = p.steps[i];
        const uint32_t offset = st.hole == HoleKind::Const ? img.const_offset + 4 * st.hole_index : st.hole_index;
        CHECK(offset > 16380);
        const Stencil& twin = a64->stencil(far_stencil(p.stencil(st)));
        REQUIRE(twin.data_fields.size() == 1);
        CHECK(aarch64_target().data_field_name(twin.data_fields[0].form) == "movz/movk");
        CHECK(twin.relocs.empty());  // nothing for the loader
        // movz xd, #hi, lsl #16 ; movk xd, #lo: imm16 in bits 20:5 of each.
        const uint8_t* at = img.code.data() + img.step_offsets[i] + twin.data_fields[0].offset;
        const uint32_t hi = (cp_read_u32(at) >> 5) & 0xffff, lo = (cp_read_u32(at + 4) >> 5) & 0xffff;
        CHECK((hi << 16 | lo) == offset);
        ++checked;
    }
    CHECK(checked == img.far_operands);
    CHECK_FALSE(aarch64_target().data_field_fits(0, 16384));  // LDR/STR byte form: 12 bits
    CHECK(aarch64_target().data_field_fits(2, 16380));
    CHECK_FALSE(aarch64_target().data_field_fits(2, 16384));
}
