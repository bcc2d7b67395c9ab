// Lowering, CSE and linearization.
#include <catch2/catch.hpp>

#include <string>

#include "dag/dag.hpp"
#include "ir/ir.hpp"

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
