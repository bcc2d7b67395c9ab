// Lowering, CSE and linearization.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <fmt/format.h>
#include <string>
#include <utility>
#include <vector>

#include "dag/dag.hpp"
#include "ir/ir.hpp"
#include "support/error.hpp"

using namespace copapy;

namespace {
Ir ir_of(const std::string& nodes, const std::string& outputs) {
    std::string s = R"({"format":"copapy-dag","version":1,"nodes":[)" + nodes + R"(],"outputs":)" + outputs + "}";
    return build_ir(read_dag({reinterpret_cast<const uint8_t*>(s.data()), s.size()}));
}
size_t count(const Ir& ir, Op op) {
    size_t n = 0;
    for (auto& node : ir.nodes) n += node.op == op;
    return n;
}
const std::string kXN = R"({"id":0,"op":"input","dtype":"float","name":"x","value":1},
                           {"id":1,"op":"input","dtype":"int","name":"n","value":2})";
}  // namespace

TEST_CASE("CSE merges equal expressions, including swapped commutative operands") {
    Ir ir = ir_of(kXN + R"(,{"id":2,"op":"const","dtype":"float","value":3},
                           {"id":3,"op":"mul","dtype":"float","args":[0,2]},
                           {"id":4,"op":"mul","dtype":"float","args":[2,0]},
                           {"id":5,"op":"sub","dtype":"float","args":[0,2]},
                           {"id":6,"op":"sub","dtype":"float","args":[2,0]},
                           {"id":7,"op":"const","dtype":"float","value":3})",
                  R"([{"name":"a","node":3},{"name":"b","node":4},{"name":"c","node":5},{"name":"d","node":6},{"name":"e","node":7}])");
    CHECK(count(ir, Op::Mul) == 1);
    CHECK(count(ir, Op::Sub) == 2);  // not commutative
    CHECK(count(ir, Op::Const) == 1);
    CHECK(ir.outputs[0].node == ir.outputs[1].node);
    CHECK(ir.outputs[2].node != ir.outputs[3].node);
}

TEST_CASE("inputs are never merged, even with equal values") {
    Ir ir = ir_of(R"({"id":0,"op":"input","dtype":"int","name":"p","value":1},
                    {"id":1,"op":"input","dtype":"int","name":"q","value":1})",
                  R"([{"name":"p","node":0},{"name":"q","node":1}])");
    CHECK(count(ir, Op::Input) == 2);
}

TEST_CASE("lowering inserts conversions and rewrites lt/le/cast") {
    Ir ir = ir_of(kXN + R"(,{"id":2,"op":"add","dtype":"float","args":[0,1]},
                           {"id":3,"op":"lt","dtype":"bool","args":[1,0]},
                           {"id":4,"op":"cast","dtype":"int","args":[0]},
                           {"id":5,"op":"cast","dtype":"bool","args":[1]},
                           {"id":6,"op":"select","dtype":"float","args":[0,0,1]})",
                  R"([{"name":"a","node":2},{"name":"b","node":3},{"name":"c","node":4},{"name":"d","node":5},{"name":"e","node":6}])");
    CHECK(count(ir, Op::Itof) == 1);  // n promoted once, shared by add, lt and select
    CHECK(count(ir, Op::Lt) == 0);
    CHECK(count(ir, Op::Gt) == 1);
    CHECK(count(ir, Op::Ftoi) == 1);
    CHECK(count(ir, Op::Itob) == 1);
    CHECK(count(ir, Op::Ftob) == 1);  // float condition
    const IrNode& gt = ir.nodes[ir.outputs[1].node];
    CHECK(gt.op == Op::Gt);
    CHECK(gt.args[0] == 0);  // x > float(n)  ==  n < x
    CHECK(ir.nodes[gt.args[1]].op == Op::Itof);
    for (const IrNode& n : ir.nodes)
        for (unsigned k = 0; k < n.nargs; ++k) CHECK(n.args[k] < static_cast<uint32_t>(&n - ir.nodes.data()));
}

TEST_CASE("linearize drops dead nodes and orders operands first") {
    Ir ir = ir_of(kXN + R"(,{"id":2,"op":"sin","dtype":"float","args":[0]},
                           {"id":3,"op":"cos","dtype":"float","args":[0]},
                           {"id":4,"op":"mul","dtype":"float","args":[2,2]})",
                  R"([{"name":"y","node":4}])");
    auto order = linearize(ir);
    REQUIRE(order.size() == 2);  // sin, mul; cos is dead
    CHECK(ir.nodes[order[0]].op == Op::Sin);
    CHECK(ir.nodes[order[1]].op == Op::Mul);
}

namespace {
Ir ir_at(int level, const std::string& nodes, const std::string& outputs) {
    std::string s = R"({"format":"copapy-dag","version":1,"nodes":[)" + nodes + R"(],"outputs":)" + outputs + "}";
    return build_ir(read_dag({reinterpret_cast<const uint8_t*>(s.data()), s.size()}), level);
}
// The IR node an output names, after optimization.
const IrNode& out(const Ir& ir, size_t i) { return ir.nodes[ir.outputs[i].node]; }
const std::string kX = R"({"id":0,"op":"input","dtype":"float","name":"x","value":1},
                          {"id":1,"op":"input","dtype":"int","name":"n","value":2})";
std::string c(int id, const char* dtype, const char* value) {
    return fmt::format(R"(,{{"id":{},"op":"const","dtype":"{}","value":{}}})", id, dtype, value);
}
std::string op(int id, const char* name, const char* dtype, std::initializer_list<int> args) {
    std::string a;
    for (int x : args) {
        // Appended piecewise: `const char* + std::string&&` makes GCC 12 warn
        // about an overlapping memcpy that cannot happen (-Wrestrict).
        if (!a.empty()) a += ',';
        a += std::to_string(x);
    }
    return fmt::format(R"(,{{"id":{},"op":"{}","dtype":"{}","args":[{}]}})", id, name, dtype, a);
}
}  // namespace

TEST_CASE("level 0 keeps every node, level 1 merges and folds") {
    const std::string nodes = kX + c(2, "float", "3") + c(3, "float", "4") + op(4, "mul", "float", {2, 3}) +
                              op(5, "mul", "float", {0, 0}) + op(6, "mul", "float", {0, 0}) + op(7, "add", "float", {5, 6});
    const std::string outs = R"([{"name":"a","node":4},{"name":"b","node":7}])";
    Ir o0 = ir_at(0, nodes, outs);
    CHECK(count(o0, Op::Mul) == 3);
    Ir o1 = ir_at(1, nodes, outs);
    CHECK(count(o1, Op::Mul) == 1);  // 3*4 folded, x*x merged
    CHECK(out(o1, 0).op == Op::Const);
    CHECK(std::bit_cast<float>(out(o1, 0).bits) == 12.0f);
}

TEST_CASE("folding uses the stencils' semantics") {
    Ir ir = ir_at(1, kX + c(2, "int", "-7") + c(3, "int", "2") + c(4, "int", "0") + op(5, "floordiv", "int", {2, 3}) +
                         op(6, "mod", "int", {2, 3}) + op(7, "floordiv", "int", {2, 4}) + op(8, "lshift", "int", {3, 2}) +
                         op(9, "div", "float", {2, 3}) + op(10, "cast", "int", {9}),
                  R"([{"name":"a","node":5},{"name":"b","node":6},{"name":"c","node":7},{"name":"d","node":8},{"name":"e","node":9},{"name":"f","node":10}])");
    CHECK(static_cast<int32_t>(out(ir, 0).bits) == -4);         // Python floor division
    CHECK(static_cast<int32_t>(out(ir, 1).bits) == 1);          // sign of the divisor
    CHECK(static_cast<int32_t>(out(ir, 2).bits) == 0);          // division by zero is 0
    CHECK(static_cast<int32_t>(out(ir, 3).bits) == 2 << 25);    // count modulo 32: 2 << (-7 & 31)
    CHECK(std::bit_cast<float>(out(ir, 4).bits) == -3.5f);      // int / int is float
    CHECK(static_cast<int32_t>(out(ir, 5).bits) == -3);         // truncation toward zero
    for (size_t i = 0; i < 6; ++i) CHECK(out(ir, i).op == Op::Const);
}

TEST_CASE("level 2 applies exact identities only") {
    const std::string nodes = kX + c(2, "float", "1.0") + c(3, "float", "0.0") + c(4, "float", R"("-inf")") +
                              c(5, "float", "-0.0") + c(6, "int", "0") + c(7, "bool", "true") + c(8, "float", "2.0") +
                              op(10, "mul", "float", {0, 2}) +   // x * 1.0 -> x
                              op(11, "add", "float", {0, 3}) +   // x + 0.0: NOT x (-0.0 + 0.0 = +0.0)
                              op(12, "add", "float", {5, 0}) +   // -0.0 + x -> x
                              op(13, "mul", "float", {0, 3}) +   // x * 0.0: NOT 0 (NaN, inf, -0)
                              op(14, "mul", "int", {1, 6}) +     // n * 0 -> 0
                              op(15, "neg", "float", {0}) + op(16, "neg", "float", {15}) +  // --x -> x
                              op(17, "select", "float", {7, 0, 4}) +  // select(true, x, .) -> x
                              op(18, "pow", "float", {0, 8}) +   // x ** 2.0 -> x * x
                              op(19, "sub", "int", {1, 1});      // n - n -> 0
    Ir ir = ir_at(2, nodes,
                  R"([{"name":"a","node":10},{"name":"b","node":11},{"name":"c","node":12},{"name":"d","node":13},
                      {"name":"e","node":14},{"name":"f","node":16},{"name":"g","node":17},{"name":"h","node":18},
                      {"name":"i","node":19}])");
    CHECK(ir.outputs[0].node == 0);
    CHECK(out(ir, 1).op == Op::Add);
    CHECK(ir.outputs[2].node == 0);
    CHECK(out(ir, 3).op == Op::Mul);
    CHECK((out(ir, 4).op == Op::Const && out(ir, 4).bits == 0));
    CHECK(ir.outputs[5].node == 0);
    CHECK(ir.outputs[6].node == 0);
    CHECK((out(ir, 7).op == Op::Mul && out(ir, 7).args[0] == 0 && out(ir, 7).args[1] == 0));
    CHECK((out(ir, 8).op == Op::Const && out(ir, 8).bits == 0));
    // At -O1 the identities stay.
    Ir o1 = ir_at(1, nodes, R"([{"name":"a","node":10},{"name":"f","node":16}])");
    CHECK(out(o1, 0).op == Op::Mul);
    CHECK(out(o1, 1).op == Op::Neg);
}

TEST_CASE("floor, ceil, trunc and round fold exactly, but tanh, hypot and other libm calls do not") {
    // Each rounding op over operands whose results tell the rules apart:
    // ties (round: to even), signed zeros, the last values with a fraction,
    // and an int operand (promoted to float). Expected bits, per op.
    const std::vector<std::pair<const char*, float>> operands = {
        {"2.5", 2.5f},    {"-2.5", -2.5f},   {"0.5", 0.5f},          {"-0.5", -0.5f},         {"-0.4", -0.4f},
        {"1.5", 1.5f},    {"-0.0", -0.0f},   {"8388607.5", 8388607.5f}, {"-8388607.5", -8388607.5f},
        {"1e-40", 1e-40f}, {"\"-inf\"", -INFINITY}};
    struct Want {
        const char* op;
        std::vector<float> results;  // one per operand, then for the int operand 7
    };
    const std::vector<Want> wants = {
        {"floor", {2, -3, 0, -1, -1, 1, -0.0f, 8388607, -8388608, 0, -INFINITY, 7}},
        {"ceil", {3, -2, 1, -0.0f, -0.0f, 2, -0.0f, 8388608, -8388607, 1, -INFINITY, 7}},
        {"trunc", {2, -2, 0, -0.0f, -0.0f, 1, -0.0f, 8388607, -8388607, 0, -INFINITY, 7}},
        {"round", {2, -2, 0, -0.0f, -0.0f, 2, -0.0f, 8388608, -8388608, 0, -INFINITY, 7}},
    };
    std::string nodes = kX + c(2, "int", "7");
    int id = 3;
    std::vector<int> consts;
    for (const auto& [text, value] : operands) {
        nodes += c(id, "float", text);
        consts.push_back(id++);
    }
    consts.push_back(2);
    std::string outs;
    for (const Want& w : wants)
        for (size_t i = 0; i < consts.size(); ++i) {
            nodes += op(id, w.op, "float", {consts[i]});
            outs += fmt::format(R"({}{{"name":"{}{}","node":{}}})", outs.empty() ? "" : ",", w.op, i, id++);
        }
    // Not folded: libm-backed, whatever the operands.
    for (auto [name, args] : {std::pair{"tanh", std::vector{3}}, {"hypot", {3, 4}}, {"sin", {3}}, {"pow", {3, 4}}}) {
        nodes += args.size() == 1 ? op(id, name, "float", {args[0]}) : op(id, name, "float", {args[0], args[1]});
        outs += fmt::format(R"(,{{"name":"libm{}","node":{}}})", id, id);
        ++id;
    }
    const Ir ir = ir_at(1, nodes, "[" + outs + "]");
    size_t i = 0;
    for (const Want& w : wants)
        for (float want : w.results) {
            INFO(w.op << " of operand " << i % consts.size());
            REQUIRE(out(ir, i).op == Op::Const);
            CHECK(out(ir, i).bits == std::bit_cast<uint32_t>(want));
            ++i;
        }
    for (Op libm : {Op::Tanh, Op::Hypot, Op::Sin, Op::Pow}) CHECK(out(ir, i++).op == libm);
}

TEST_CASE("IR nodes name the DAG node they came from by its id in the file") {
    // Ids 0, 1, ...: no table of ids is kept.
    Ir dense = ir_of(kXN + R"(,{"id":2,"op":"add","dtype":"float","args":[0,0]})", R"([{"name":"y","node":2}])");
    CHECK(dense.dag_ids.empty());
    CHECK(dense.dag_id(dense.nodes[dense.outputs[0].node]) == 2);
    // Other ids: the table, and the file's ids.
    Ir sparse = ir_of(R"({"id":70,"op":"input","dtype":"float","name":"x","value":1},
                         {"id":9000000000,"op":"input","dtype":"int","name":"n","value":2},
                         {"id":5,"op":"cast","dtype":"float","args":[9000000000]},
                         {"id":12,"op":"add","dtype":"float","args":[70,5]})",
                      R"([{"name":"y","node":12}])");
    CHECK(sparse.dag_ids.size() == 4);
    CHECK(sparse.dag_id(sparse.nodes[sparse.outputs[0].node]) == 12);
    bool seen_big = false;
    for (const IrNode& n : sparse.nodes) seen_big |= sparse.dag_id(n) == 9000000000;
    CHECK(seen_big);
}

TEST_CASE("bound inputs are loaded first and bound outputs stored last, once each") {
    const std::string s = R"({"format":"copapy-dag","version":1,"nodes":[)" + kXN +
                          R"(,{"id":2,"op":"input","dtype":"bool","name":"unused","value":0},
                           {"id":3,"op":"mul","dtype":"float","args":[0,0]},
                           {"id":4,"op":"add","dtype":"int","args":[1,1]}],
                           "outputs":[{"name":"sq","node":3},{"name":"twice","node":4},{"name":"plain","node":3}]})";
    const Dag dag = read_dag({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
    const std::vector<Binding> binds = {{"twice", 0x4000'0010, 16}, {"x", 0x4000'0000, 32}, {"unused", 0x4000'0004, 8},
                                        {"n", 0x4000'0008, 32}, {"sq", 0x4000'000c, 32}};
    check_bindings(dag, binds);
    for (int level : {0, 2}) {
        const Ir ir = build_ir(dag, level, binds);
        // Inputs in file order (x, n, unused), then outputs in output order (sq, twice).
        REQUIRE(ir.bindings.size() == 5);
        const char* names[] = {"x", "n", "unused", "sq", "twice"};
        for (size_t k = 0; k < 5; ++k) CHECK(ir.names[ir.bindings[k].name] == names[k]);
        CHECK(ir.inputs.empty());                 // bound inputs have no slot
        REQUIRE(ir.outputs.size() == 1);          // only "plain" stays an output
        CHECK(ir.names[ir.outputs[0].name] == "plain");
        CHECK(ir.nodes[ir.bindings[2].node].op == Op::IoLoad8);
        CHECK(ir.nodes[ir.bindings[4].node].op == Op::IoStore16);
        const std::vector<uint32_t> order = linearize(ir);
        std::vector<uint32_t> io;
        for (size_t k = 0; k < order.size(); ++k)
            if (is_io(ir.nodes[order[k]].op)) io.push_back(static_cast<uint32_t>(k));
        REQUIRE(io.size() == 5);  // the unused input is still read, once
        CHECK(io[0] == 0);
        CHECK(io[1] == 1);
        CHECK(io[2] == 2);
        CHECK(io[3] == order.size() - 2);
        CHECK(io[4] == order.size() - 1);
    }
}

TEST_CASE("check_bindings names every wrong binding") {
    const std::string s = R"({"format":"copapy-dag","version":1,"nodes":[)" + kXN + R"(],"outputs":[{"name":"y","node":0}]})";
    const Dag dag = read_dag({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
    auto message = [&](std::vector<Binding> b) {
        try {
            check_bindings(dag, b);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    CHECK(message({{"n", 0x100, 32}, {"y", 0x104, 32}}).empty());
    CHECK(message({{"zz", 0x100, 32}}) == "--bind 'zz': the DAG has no input or output of this name");
    CHECK(message({{"n", 0x101, 16}}) == "--bind 'n': address 0x101 is not aligned for a 16-bit access");
    CHECK(message({{"x", 0x100, 16}}) == "--bind 'x': a float binds at 32 bits, not 16");
    CHECK(message({{"n", 0x102, 16}, {"y", 0x100, 32}}) ==
          "--bind 'n': bytes 0x102..0x103 overlap those of 'y' (0x100..0x103)");
    CHECK(message({{"n", 0x1'0000'0000, 32}}).find("beyond 32 bits") != std::string::npos);
}
