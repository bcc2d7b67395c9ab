// Register and memory planning for the two-register model.
#include <catch2/catch.hpp>

#include <string>

#include "dag/dag.hpp"
#include "ir/ir.hpp"
#include "schedule/plan.hpp"

#include <copapy/image.h>

using namespace copapy;

namespace {
Program plan_of(const std::string& nodes, const std::string& outputs, int float_parks = 0) {
    std::string s = R"({"format":"copapy-dag","version":1,"nodes":[)" + nodes + R"(],"outputs":)" + outputs + "}";
    Ir ir = build_ir(read_dag({reinterpret_cast<const uint8_t*>(s.data()), s.size()}));
    return plan(ir, linearize(ir), float_parks);
}
std::vector<std::string> names(const Program& p) {
    std::vector<std::string> v;
    for (auto& s : p.steps) v.emplace_back(p.stencil(s));
    return v;
}
const std::string kAB = R"({"id":0,"op":"input","dtype":"float","name":"a","value":1},
                           {"id":1,"op":"input","dtype":"float","name":"b","value":2})";
}  // namespace

TEST_CASE("a binary op loads one operand and takes the other from memory") {
    Program p = plan_of(kAB + R"(,{"id":2,"op":"sub","dtype":"float","args":[0,1]})", R"([{"name":"y","node":2}])");
    CHECK(names(p) == std::vector<std::string>{"cp_entry", "ld0_f_ii", "sub_m_fi", "st0_fi", "cp_exit"});
    CHECK(p.steps[1].hole == HoleKind::Data);
    CHECK(p.steps[1].hole_index == 0);  // a
    CHECK(p.steps[2].hole_index == 4);  // b, the memory operand
    CHECK(p.steps[3].hole_index == 8);  // y, a new slot
    REQUIRE(p.symbols.size() == 3);
    CHECK(p.symbols[2].name == "y");
    CHECK(p.symbols[2].offset == 8);
}

TEST_CASE("values kept in registers need neither loads nor stores") {
    // t = a - b; y = t * t + t: mul needs t twice (dup), and the copy left in
    // r1 serves the add, so t never goes to memory. (The sum goes to r1, the
    // register whose operand is dead: stored from there, at the same cost.)
    Program p = plan_of(kAB + R"(,{"id":2,"op":"sub","dtype":"float","args":[0,1]},
                                 {"id":3,"op":"mul","dtype":"float","args":[2,2]},
                                 {"id":4,"op":"add","dtype":"float","args":[3,2]})",
                        R"([{"name":"y","node":4}])");
    CHECK(names(p) == std::vector<std::string>{"cp_entry", "ld0_f_ii", "sub_m_fi", "dup_fi", "mul_ff", "add_to1_ff",
                                               "st1_ff", "cp_exit"});
    CHECK(p.loads == 2);
    CHECK(p.stores == 1);  // only the output

    // t = a - b; y = sin(t) + t: sin calls the library and leaves r1
    // unspecified (op_calls), so without park registers t goes to memory
    // before the call and the add takes it from there.
    const std::string sin_dag = kAB + R"(,{"id":2,"op":"sub","dtype":"float","args":[0,1]},
                                 {"id":3,"op":"sin","dtype":"float","args":[2]},
                                 {"id":4,"op":"add","dtype":"float","args":[3,2]})";
    Program q = plan_of(sin_dag, R"([{"name":"y","node":4}])");
    CHECK(names(q) == std::vector<std::string>{"cp_entry", "ld0_f_ii", "sub_m_fi", "st0_fi", "sin_fi", "add_m_fi",
                                               "st0_fi", "cp_exit"});
    CHECK(q.stores == 2);
    // With a park register, t waits there across the call (a register move,
    // no memory), and the add reads it from the park.
    Program r = plan_of(sin_dag, R"([{"name":"y","node":4}])", 2);
    CHECK(names(r) == std::vector<std::string>{"cp_entry", "ld0_f_ii", "sub_m_fi", "put0_p0_fi", "sin_fi", "add_p0_fi",
                                               "st0_fi", "cp_exit"});
    CHECK(r.stores == 1);
}

TEST_CASE("park registers: Belady's rule, then memory") {
    // Three values live across three calls with one park: the one needed
    // soonest stays in the park, the others go to memory.
    Program p = plan_of(kAB + R"(,{"id":2,"op":"sub","dtype":"float","args":[0,1]},
                                 {"id":3,"op":"mul","dtype":"float","args":[0,1]},
                                 {"id":4,"op":"add","dtype":"float","args":[0,1]},
                                 {"id":5,"op":"sin","dtype":"float","args":[4]},
                                 {"id":6,"op":"add","dtype":"float","args":[5,4]},
                                 {"id":7,"op":"add","dtype":"float","args":[6,3]},
                                 {"id":8,"op":"add","dtype":"float","args":[7,2]})",
                        R"([{"name":"y","node":8}])", 1);
    size_t puts = 0, park_reads = 0;
    for (const std::string& n : names(p)) {
        puts += n.starts_with("put");
        park_reads += n.find("_p0_") != std::string::npos && !n.starts_with("put");
    }
    CHECK(puts >= 1);
    CHECK(park_reads >= 1);
    CHECK(p.stores >= 2);  // the output, and what did not fit the park
    for (const std::string& n : names(p)) CHECK(n.find("_p1_") == std::string::npos);  // only park 0 exists
    // Without parks the same program is planned as before parks existed.
    for (const std::string& n : names(plan_of(kAB + R"(,{"id":2,"op":"sin","dtype":"float","args":[0]},
                                 {"id":3,"op":"add","dtype":"float","args":[2,0]})", R"([{"name":"y","node":3}])")))
        CHECK(n.find("_p") == std::string::npos);
}

TEST_CASE("commutative operands are swapped instead of moved") {
    // y = b + (a * 2): the product is in r0 and add is commutative, so b is
    // the memory operand; the constant comes from the code region.
    Program p = plan_of(kAB + R"(,{"id":5,"op":"const","dtype":"float","value":2},
                                 {"id":2,"op":"mul","dtype":"float","args":[0,5]},
                                 {"id":3,"op":"add","dtype":"float","args":[1,2]})",
                        R"([{"name":"y","node":3}])");
    CHECK(names(p) == std::vector<std::string>{"cp_entry", "ld0_f_ii", "mul_m_fi", "add_m_fi", "st0_fi", "cp_exit"});
    CHECK(p.steps[2].hole == HoleKind::Const);
    CHECK(p.steps[3].hole == HoleKind::Data);
    CHECK(p.consts.size() == 1);
}

TEST_CASE("select takes its false value from memory") {
    Program p = plan_of(kAB + R"(,{"id":2,"op":"gt","dtype":"bool","args":[0,1]},
                                 {"id":3,"op":"select","dtype":"float","args":[2,0,1]})",
                        R"([{"name":"y","node":3}])");
    CHECK(names(p) == std::vector<std::string>{"cp_entry", "ld0_f_ii", "gt_m_fi", "ld1_f_ii", "select_if", "st0_ff",
                                               "cp_exit"});
    CHECK(p.steps[4].hole == HoleKind::Data);
    CHECK(p.steps[4].hole_index == 4);  // b
}

TEST_CASE("outputs that are inputs or constants need no code") {
    Program p = plan_of(R"({"id":0,"op":"input","dtype":"int","name":"k","value":7},
                          {"id":1,"op":"const","dtype":"int","value":3})",
                        R"([{"name":"k","node":0},{"name":"three","node":1}])");
    CHECK(names(p) == std::vector<std::string>{"cp_entry", "cp_exit"});
    REQUIRE(p.symbols.size() == 2);
    CHECK(p.symbols[0].flags == (CP_SYM_INPUT | CP_SYM_OUTPUT));
    CHECK(p.data[p.symbols[1].offset / 4] == 3);
}

TEST_CASE("an output that is a state under another name keeps this run's value") {
    // y = s * 1.0 simplifies to s at -O2; s changes at the end of the run, so
    // y needs its own slot, filled before the update.
    const std::string s = R"({"format":"copapy-dag","version":2,"nodes":[
        {"id":0,"op":"state","dtype":"float","name":"s","value":5.0},
        {"id":1,"op":"const","dtype":"float","value":1.0},
        {"id":2,"op":"mul","dtype":"float","args":[0,1]},
        {"id":3,"op":"const","dtype":"float","value":2.0},
        {"id":4,"op":"add","dtype":"float","args":[0,3]}],
        "outputs":[{"name":"y","node":2},{"name":"s","node":0}],"updates":[{"state":0,"node":4}]})";
    Ir ir = build_ir(read_dag({reinterpret_cast<const uint8_t*>(s.data()), s.size()}), 2);
    REQUIRE(ir.outputs[0].node == ir.outputs[1].node);  // simplified to the state itself
    Program p = plan(ir, linearize(ir));
    uint32_t y = 0, st = 0;
    for (const ImageSymbol& sym : p.symbols) (sym.name == "y" ? y : st) = sym.offset;
    CHECK(y != st);
    size_t store_y = 0, store_s = 0;
    for (size_t i = 0; i < p.steps.size(); ++i)
        if (p.steps[i].hole == HoleKind::Data && p.stencil(p.steps[i]).rfind("st", 0) == 0)
            (p.steps[i].hole_index == y ? store_y : store_s) = i;
    CHECK(store_y < store_s);  // the copy happens before the state changes
}

TEST_CASE("a float mul whose only use is the next add is fused into it where parks exist") {
    // y = (a - b) + b * c: b, used twice, goes through a park; the sum takes
    // the product's operands from the park and memory (r0 = r0 + p0 * *hole),
    // the product never needs a register.
    const std::string dag = R"({"id":0,"op":"input","dtype":"float","name":"a","value":1},
                               {"id":1,"op":"input","dtype":"float","name":"b","value":2},
                               {"id":2,"op":"input","dtype":"float","name":"c","value":3},
                               {"id":3,"op":"sub","dtype":"float","args":[0,1]},
                               {"id":4,"op":"mul","dtype":"float","args":[1,2]},
                               {"id":5,"op":"add","dtype":"float","args":[3,4]})";
    Program p = plan_of(dag, R"([{"name":"y","node":5}])", 2);
    CHECK(names(p) == std::vector<std::string>{"cp_entry", "ld0_f_ii", "ldp0_fi", "sub_p0_fi", "mla_p0_m_fi", "st0_fi",
                                               "cp_exit"});
    // Without parks (x86, RISC-V) the two ops stay apart.
    Program q = plan_of(dag, R"([{"name":"y","node":5}])", 0);
    bool has_mul = false;
    for (const std::string& n : names(q)) {
        CHECK(!n.starts_with("mla"));
        has_mul = has_mul || n.starts_with("mul");
    }
    CHECK(has_mul);
    // A product that is also an output is computed on its own.
    Program r = plan_of(dag, R"([{"name":"y","node":5},{"name":"m","node":4}])", 2);
    for (const std::string& n : names(r)) CHECK(!n.starts_with("mla"));
}
