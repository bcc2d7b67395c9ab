// Value ranges (lib/range): every transfer function checked against the
// stencils' own C bodies (cp_fold, compiled by the host gcc) on random
// operand ranges and random members of them, plus the edges by hand and the
// analysis of whole programs.
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <optional>
#include <fmt/format.h>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "dag/dag.hpp"
#include "ir/ir.hpp"
#include "range/range.hpp"

extern "C" int cp_fold(int op, int kind, uint32_t x, uint32_t y, uint32_t z, uint32_t* out);

using namespace copapy;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

uint32_t fbits(float f) { return std::bit_cast<uint32_t>(f); }

// Floats in a total order as unsigned integers (negative below positive),
// so that a uniform integer between two of them is a float between them.
uint32_t ordered(float f) {
    const uint32_t b = fbits(f);
    return (b & 0x80000000u) ? ~b : b | 0x80000000u;
}
float unordered(uint32_t o) { return std::bit_cast<float>((o & 0x80000000u) ? o & 0x7fffffffu : ~o); }

struct Gen {
    std::mt19937_64 rng{20261201};

    float special_float() {
        static const float pool[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, -0.5f, 2.0f, 3.0f, -3.0f, 1e-45f, -1e-45f,
                                     1.17549435e-38f, 3.4028235e38f, -3.4028235e38f, HUGE_VALF, -HUGE_VALF,
                                     1e10f, -1e10f, 2147483648.0f, -2147483648.0f, 2147483520.0f, 1e-3f,
                                     3.14159274f, 1.57079637f, 100.0f, -100.0f, 0.999999f, 1.000001f};
        return pool[rng() % (sizeof pool / sizeof pool[0])];
    }
    float any_float() {
        switch (rng() % 3) {
            case 0: return special_float();
            case 1: return std::ldexp(std::uniform_real_distribution<float>(-1, 1)(rng), int(rng() % 20) - 10);
            default: {
                float f;
                do f = std::bit_cast<float>(static_cast<uint32_t>(rng())); while (std::isnan(f));
                return f;
            }
        }
    }
    int32_t any_int() {
        static const int32_t pool[] = {0, 1, -1, 2, -2, 3, 31, 32, 33, -31, 7, 100, -100, 65535, 46341,
                                       INT32_MAX, INT32_MIN, INT32_MAX - 1, INT32_MIN + 1};
        switch (rng() % 3) {
            case 0: return pool[rng() % (sizeof pool / sizeof pool[0])];
            case 1: return static_cast<int32_t>(rng() % 41) - 20;
            default: return static_cast<int32_t>(rng());
        }
    }
    Range range(Kind k) {
        if (k == Kind::I) {
            int64_t a = any_int(), b = any_int();
            if (rng() % 4 == 0) b = a;
            return Range::ints(std::min(a, b), std::max(a, b));
        }
        if (rng() % 16 == 0) return Range::only_nan();
        float a = any_float(), b = rng() % 4 == 0 ? a : any_float();
        if (ordered(a) > ordered(b)) std::swap(a, b);
        return Range::floats(a, b, rng() % 3 == 0);
    }
    // A member of r as a 32-bit pattern: an end, or anything in between.
    uint32_t member(const Range& r) {
        if (r.kind == Kind::I) {
            switch (rng() % 4) {
                case 0: return static_cast<uint32_t>(static_cast<int32_t>(r.ilo));
                case 1: return static_cast<uint32_t>(static_cast<int32_t>(r.ihi));
                default:
                    return static_cast<uint32_t>(static_cast<int32_t>(
                        r.ilo + static_cast<int64_t>(rng() % static_cast<uint64_t>(r.ihi - r.ilo + 1))));
            }
        }
        if (r.empty || (r.nan && rng() % 5 == 0)) return 0x7fc00000u;
        const float lo = static_cast<float>(r.flo), hi = static_cast<float>(r.fhi);
        switch (rng() % 5) {
            case 0: return fbits(lo);
            case 1: return fbits(hi);
            case 2: return fbits(lo == 0.0f ? -0.0f : lo);  // the other zero where a bound is one
            default: {
                const uint32_t a = ordered(lo), b = ordered(hi);
                return fbits(unordered(a + static_cast<uint32_t>(rng() % (uint64_t{b} - a + 1))));
            }
        }
    }
};

std::string show(Kind k, uint32_t bits) {
    if (k == Kind::I) return std::to_string(static_cast<int32_t>(bits));
    return fmt::format("{} (0x{:08x})", std::bit_cast<float>(bits), bits);
}

// The ops and operand classes cp_fold evaluates, with the class of the result.
struct Case {
    Op op;
    Kind operand;
};
std::vector<Case> all_cases() {
    std::vector<Case> cases;
    for (Op op : kTableOps)
        for (Kind k : {Kind::I, Kind::F})
            if (has_variant(op, k) && !is_io(op)) cases.push_back({op, k});  // I/O: a device's value, not folded
    return cases;
}

}  // namespace

TEST_CASE("every transfer function contains what the stencil computes") {
    Gen g;
    size_t checked = 0;
    for (const Case& c : all_cases()) {
        const OpInfo& info = op_info(c.op);
        const Kind result = result_kind(c.op, c.operand);
        for (int trial = 0; trial < 600; ++trial) {
            Range args[3];
            const int n = c.op == Op::Select ? 3 : info.arity;
            for (int k = 0; k < n; ++k) args[k] = g.range(c.op == Op::Select && k == 0 ? Kind::I : c.operand);
            const Range r = transfer(c.op, result, std::span<const Range>(args, n));
            for (int sample = 0; sample < 12; ++sample) {
                uint32_t x[3] = {0, 0, 0}, out = 0;
                for (int k = 0; k < n; ++k) x[k] = g.member(args[k]);
                REQUIRE(cp_fold(static_cast<int>(c.op), c.operand == Kind::F, x[0], x[1], x[2], &out) == 1);
                ++checked;
                if (!r.contains_bits(out)) {
                    std::string operands;
                    for (int k = 0; k < n; ++k)
                        operands += fmt::format(" {} in {}", show(k == 0 && c.op == Op::Select ? Kind::I : c.operand, x[k]),
                                                args[k].str());
                    FAIL(fmt::format("{} {}:{} gives {}, outside {}", op_name(c.op), kind_char(c.operand), operands,
                                     show(result, out), r.str()));
                }
            }
        }
    }
    CHECK(checked > 300000);
}

TEST_CASE("transfer functions at the edges") {
    const Range z = Range::floats(0, 0), pos = Range::floats(1, 4), neg = Range::floats(-4, -1);
    const Range i_all = Range::whole(Kind::I);
    auto f = [](Op op, std::initializer_list<Range> args) {
        std::vector<Range> v(args);
        return transfer(op, Kind::F, v);
    };
    auto i = [](Op op, std::initializer_list<Range> args) {
        std::vector<Range> v(args);
        return transfer(op, Kind::I, v);
    };
    // Signed zeros are one point: 1 / [0] may be -inf or +inf.
    CHECK(f(Op::Div, {pos, z}).str() == "[-inf, inf]");
    CHECK(f(Op::Div, {z, z}).str() == "[-inf, inf] or NaN");
    CHECK(f(Op::Div, {pos, pos}) == Range::floats(0.25, 4));
    CHECK(f(Op::Sqrt, {Range::floats(-1, 4)}).str() == "[0, 2] or NaN");
    CHECK(f(Op::Sqrt, {neg}).str() == "NaN");
    CHECK(f(Op::Log, {Range::floats(0, 1)}).flo == -kInf);
    CHECK(f(Op::Sin, {Range::floats(-kInf, 0)}).str() == "[-1, 1] or NaN");
    CHECK(f(Op::Add, {Range::floats(kInf, kInf), Range::floats(-kInf, -kInf)}).nan);
    CHECK(f(Op::Mul, {z, Range::floats(kInf, kInf)}).str() == "NaN");
    CHECK(f(Op::Mul, {Range::floats(3.4028235e38, 3.4028235e38), Range::floats(2, 2)}).str() == "[inf]");
    CHECK(f(Op::Min, {pos, Range::only_nan()}) == pos);  // (b < a ? b : a) with b NaN is a
    CHECK(f(Op::Min, {Range::only_nan(), pos}).str() == "NaN");
    CHECK(f(Op::Abs, {Range::floats(-3, 2)}) == Range::floats(0, 3));
    // tan between its poles is increasing: tan([0]) is about 0.
    const Range t0 = f(Op::Tan, {Range::floats(0, 0)});
    CHECK((t0.flo <= 0 && t0.fhi >= 0 && t0.fhi < 1e-30 && !t0.nan));
    // A corner that is NaN (0 * inf, inf / inf) still has finite neighbours:
    // tan(0) may be any float to the analysis, and tan(0) * 0 is 0.
    CHECK(f(Op::Mul, {Range::floats(-kInf, kInf), Range::floats(0, 0)}) == Range::floats(0, 0, true));
    CHECK(f(Op::Div, {Range::floats(-kInf, kInf), Range::floats(kInf, kInf)}) == Range::floats(0, 0, true));
    CHECK(f(Op::Mul, {Range::floats(kInf, kInf), Range::floats(0, 0)}).contains_bits(0x7fc0'0000u));
    // Ints: wrapping, INT_MIN, division by zero giving 0.
    CHECK(i(Op::Add, {Range::ints(INT32_MAX, INT32_MAX), Range::ints(1, 1)}) == i_all);
    CHECK(i(Op::Neg, {Range::ints(INT32_MIN, 0)}) == i_all);
    CHECK(i(Op::Abs, {Range::ints(-5, 3)}) == Range::ints(0, 5));
    CHECK(i(Op::Floordiv, {Range::ints(7, 7), Range::ints(-2, 3)}) == Range::ints(-7, 7));
    CHECK(i(Op::Floordiv, {Range::ints(-7, 7), Range::ints(0, 0)}) == Range::ints(0, 0));
    CHECK(i(Op::Mod, {Range::ints(-100, 100), Range::ints(1, 10)}) == Range::ints(0, 9));
    CHECK(i(Op::Mod, {Range::ints(5, 5), Range::ints(100, 200)}) == Range::ints(0, 5));
    CHECK(i(Op::Rshift, {Range::ints(-8, 8), Range::ints(1, 2)}) == Range::ints(-4, 4));
    CHECK(i(Op::Pow, {Range::ints(-3, 2), Range::ints(2, 2)}) == Range::ints(0, 9));
    CHECK(i(Op::Pow, {Range::ints(-1, 1), Range::ints(1000000000, 1000000000)}) == Range::ints(0, 1));
    // Conversions: saturation and NaN -> 0.
    CHECK(i(Op::Ftoi, {Range::floats(-1e10, 2.5, true)}) == Range::ints(INT32_MIN, 2));
    CHECK(i(Op::Ftoi, {Range::only_nan()}) == Range::ints(0, 0));
    CHECK(i(Op::Ftob, {Range::only_nan()}) == Range::ints(1, 1));
    CHECK(i(Op::Itob, {Range::ints(0, 0)}) == Range::ints(0, 0));
    // Decided comparisons and selects.
    CHECK(i(Op::Gt, {pos, neg}) == Range::ints(1, 1));
    CHECK(i(Op::Gt, {Range::floats(1, 4, true), neg}) == Range::ints(0, 1));  // NaN > x is false
    CHECK(i(Op::Ne, {Range::ints(1, 2), Range::ints(3, 4)}) == Range::ints(1, 1));
    CHECK(f(Op::Select, {Range::ints(1, 5), pos, neg}) == pos);
    CHECK(f(Op::Select, {Range::ints(0, 1), pos, neg}) == Range::floats(-4, 4));
}

namespace {
RangeAnalysis analyze(const std::string& nodes, const std::string& outputs, const std::string& updates = "") {
    std::string s = R"({"format":"copapy-dag","version":3,"nodes":[)" + nodes + R"(],"outputs":)" + outputs +
                    (updates.empty() ? "" : R"(,"updates":)" + updates) + "}";
    const Ir ir = build_ir(read_dag({reinterpret_cast<const uint8_t*>(s.data()), s.size()}));
    return analyze_ranges(ir, linearize(ir));
}
}  // namespace

TEST_CASE("the analysis reports what may go wrong, once, with the derived range") {
    // n // d with d = (x % 6) - 2 in [-2, 3]: may divide by zero.
    const auto a = analyze(R"({"id":0,"op":"input","dtype":"int","name":"x","value":1},
                              {"id":1,"op":"const","dtype":"int","value":6},
                              {"id":2,"op":"mod","dtype":"int","args":[0,1]},
                              {"id":3,"op":"const","dtype":"int","value":2},
                              {"id":4,"op":"sub","dtype":"int","args":[2,3]},
                              {"id":5,"op":"floordiv","dtype":"int","args":[0,4]},
                              {"id":6,"op":"input","dtype":"float","name":"v","value":1},
                              {"id":7,"op":"sqrt","dtype":"float","args":[6]},
                              {"id":8,"op":"mul","dtype":"float","args":[6,6]},
                              {"id":9,"op":"sqrt","dtype":"float","args":[8]})",
                           R"([{"name":"q","node":5},{"name":"s","node":7},{"name":"t","node":9}])");
    std::vector<std::string> what;
    for (const RangeFinding& f : a.findings) what.push_back(f.what);
    CHECK(std::count(what.begin(), what.end(), "divisor in [-2, 3] includes 0") == 1);
    CHECK(std::count(what.begin(), what.end(), "sqrt argument in [-inf, inf] or NaN may be negative") == 1);
    // v * v is never negative: no finding for the second sqrt.
    CHECK(a.findings.size() == 2);
}

TEST_CASE("declared ranges and states reach a fixed point") {
    // acc = clamp(acc + u * 0.1, -1, 1) with u declared in [-1, 1]; k counts runs (wraps).
    const std::string nodes = R"({"id":0,"op":"input","dtype":"float","name":"u","value":0,"range":[-1,1]},
                                 {"id":1,"op":"state","dtype":"float","name":"acc","value":0},
                                 {"id":2,"op":"const","dtype":"float","value":0.1},
                                 {"id":3,"op":"mul","dtype":"float","args":[0,2]},
                                 {"id":4,"op":"add","dtype":"float","args":[1,3]},
                                 {"id":5,"op":"const","dtype":"float","value":-1},
                                 {"id":6,"op":"const","dtype":"float","value":1},
                                 {"id":7,"op":"max","dtype":"float","args":[4,5]},
                                 {"id":8,"op":"min","dtype":"float","args":[7,6]},
                                 {"id":9,"op":"sqrt","dtype":"float","args":[0]},
                                 {"id":10,"op":"state","dtype":"int","name":"k","value":0},
                                 {"id":11,"op":"const","dtype":"int","value":1},
                                 {"id":12,"op":"add","dtype":"int","args":[10,11]})";
    const auto a = analyze(nodes, R"([{"name":"y","node":8},{"name":"r","node":9},{"name":"k2","node":12}])",
                           R"([{"state":1,"node":8},{"state":10,"node":12}])");
    std::vector<std::string> what;
    for (const RangeFinding& f : a.findings) what.push_back(f.what);
    // sqrt(u) with u in [-1, 1]; k + 1 with k widened to all of int32 wraps.
    REQUIRE(what.size() == 2);
    CHECK(what[0] == "sqrt argument in [-1, 1] may be negative");
    CHECK(what[1].find("add of [-2147483648, 2147483647] and [1] may wrap around int32") == 0);
    // The clamped state stays finite: no inf/NaN finding, and its range is [-1, 1].
    bool found = false;
    for (size_t i = 0; i < a.ranges.size(); ++i) found |= a.ranges[i] == Range::floats(-1, 1);
    CHECK(found);
}
