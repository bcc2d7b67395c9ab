// The stencil database over the real stencil objects built by CMake (x86_64's
// unless a test says every target).
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "stencil/stencil_db.hpp"
#include "support/error.hpp"

using namespace copapy;

namespace {
StencilDb& db() {
    static auto d = StencilDb::load(std::string(COPAPY_STENCIL_DIR) + "/x86_64.o", x86_64_target());
    return *d;
}
}  // namespace

TEST_CASE("every stencil the compiler can ask for exists") {
    for (Op op : kTableOps) {
        if (op_info(op).flags & Lowered) continue;
        for (Kind k : {Kind::I, Kind::F}) {
            if (!has_variant(op, k)) continue;
            if (op == Op::Select) {
                CHECK(db().has_function(op_stencil(op, {Kind::I, k})));
            } else if (op_info(op).arity == 2) {
                CHECK(db().has_function(op_stencil(op, {k, k})));
            } else {
                CHECK(db().has_function(op_stencil(op, {k, Kind::I})));
                CHECK(db().has_function(op_stencil(op, {k, Kind::F})));
            }
        }
    }
    for (State s : kAllStates) {
        CHECK(db().has_function(load_stencil(0, Kind::F, s)));
        CHECK(db().has_function(store_stencil(1, s)));
        CHECK(db().has_function(swap_stencil(s)));
        CHECK(db().has_function(dup_stencil(s)));
    }
}

TEST_CASE("add_ff is one instruction once its tail jump is cut") {
    const Stencil& s = db().stencil("add_ff");
    CHECK(s.tail_cut);
    CHECK(s.full_size == s.code.size() + 5);
    CHECK(s.relocs.empty());
    CHECK(s.code.size() == 4);  // addss %xmm1,%xmm0
}

TEST_CASE("a load stencil has one data offset field, its far twin one too") {
    const Stencil& near = db().stencil("ld0_f_ii");
    CHECK(near.relocs.empty());
    REQUIRE(near.data_fields.size() == 1);
    CHECK(near.data_fields[0].offset == 4);  // movss disp8(%rbx), %xmm0: f3 0f 10 43 <disp8>
    CHECK(near.code.size() == 5);
    const auto abi = db().near_abi();
    REQUIRE(abi);
    CHECK(abi->marker == 0x7c);
    CHECK(abi->bias == 128);
    CHECK_FALSE(abi->far_relative);
    const Stencil& s = db().stencil(far_stencil("ld0_f_ii"));
    CHECK(s.relocs.empty());
    REQUIRE(s.data_fields.size() == 1);
    CHECK(s.data_fields[0].offset == 4);  // movss disp32(%rbx), %xmm0: f3 0f 10 83 <disp32>
    CHECK(s.code.size() == 8);
}

TEST_CASE("sin calls musl's sinf, which the object defines") {
    const Stencil& s = db().stencil("sin_ff");
    bool calls_sinf = false;
    for (uint32_t i : s.relocs) {
        const ObjSymbol& sym = db().symbols()[db().relocs()[i].symbol];
        if (sym.name == "sinf") {
            calls_sinf = true;
            CHECK(sym.role == SymbolRole::Defined);
        }
    }
    CHECK(calls_sinf);
}

TEST_CASE("tanh, hypot and the roundings call only what each target's object defines") {
    // Whatever library function a stencil calls must have been merged from
    // libm (musl, picolibc on the Cortex-M4); gcc inlines floorf & co. on some
    // targets (SSE2 sequences, frintm) and calls them on others. round is
    // plain arithmetic in the prelude and calls nothing anywhere.
    const std::vector<std::pair<std::string, const char*>> calls = {
        {"tanh_ff", "tanhf"}, {"hypot_ff", "hypotf"}, {"floor_ff", nullptr}, {"ceil_ff", nullptr},
        {"trunc_ff", nullptr}, {"round_ff", nullptr}};
    for (const TargetInfo* t : all_targets()) {
        auto tdb = StencilDb::load(std::string(COPAPY_STENCIL_DIR) + "/" + std::string(t->name) + ".o", *t);
        for (const auto& [name, must_call] : calls) {
            INFO(t->name << " " << name);
            const Stencil& s = tdb->stencil(name);
            bool called = false;
            for (uint32_t i : s.relocs) {
                const ObjSymbol& sym = tdb->symbols()[tdb->relocs()[i].symbol];
                CHECK(sym.role != SymbolRole::Undefined);
                if (sym.role == SymbolRole::Defined && sym.function) {
                    CHECK(name != "round_ff");
                    called = called || (must_call && sym.name == must_call);
                }
            }
            if (must_call) CHECK(called);
        }
    }
}

TEST_CASE("the exit stencil restores the base register and returns") {
    const Stencil& s = db().stencil(kExitStencil);
    CHECK_FALSE(s.tail_cut);
    CHECK(s.relocs.empty());
    REQUIRE(s.code.size() == 6);  // addq $8, %rsp; popq %rbx; ret
    CHECK(s.code[4] == 0x5b);
    CHECK(s.code[5] == 0xc3);
}

TEST_CASE("missing or broken stencil objects are clear errors") {
    auto error_of = [](const std::string& path) {
        try {
            StencilDb::load(path, x86_64_target());
        } catch (const Error& e) {
            CHECK(e.kind() == ErrorKind::Environment);
            return std::string(e.what());
        }
        return std::string("no error");
    };
    CHECK_THAT(error_of("/nonexistent/x86_64.o"), Catch::Contains("cannot open stencil object"));
    CHECK_THAT(error_of(std::string(COPAPY_TEST_DIR) + "/CMakeLists.txt"), Catch::Contains("not a valid object file"));
    CHECK_THROWS_WITH(db().stencil("no_such_stencil"), Catch::Contains("no stencil 'no_such_stencil'"));
}
