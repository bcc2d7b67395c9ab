// Gradient expansion (lib/dag/grad.cpp): every derivative rule against the
// exact derivative and central finite differences, once and differentiated
// again; second and third derivatives against closed forms; the structure of
// the expanded DAG, zero and unit gradients, and the cost of grouped and
// nested gradients (gradient descent, Newton steps).
//
// The expanded DAG is evaluated by a small float32 interpreter below, so the
// rules are checked independently of lowering, folding and code generation
// (the end-to-end tests test/e2e/run_ik.py and run_grad2.py cover those on
// every target).
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "dag/dag.hpp"
#include "dag/grad.hpp"
#include "support/error.hpp"

using namespace copapy;

namespace {

// Builds a version 2 DAG document node by node; ids are 0, 1, 2, ...
class Prog {
public:
    int input(const std::string& name, float v) { return leaf("input", "float", fmt::format("{}", v), name); }
    int input_int(const std::string& name, int v) { return leaf("input", "int", std::to_string(v), name); }
    int state(const std::string& name, float v) { return leaf("state", "float", fmt::format("{}", v), name); }
    int cf(float v) { return leaf("const", "float", fmt::format("{}", v), ""); }
    int ci(int v) { return leaf("const", "int", std::to_string(v), ""); }
    // An operation with result type `dtype`.
    int op(const std::string& op, const std::string& dtype, std::initializer_list<int> args) {
        std::string list;
        for (int a : args) {
            if (!list.empty()) list += ',';
            list += std::to_string(a);
        }
        return add(fmt::format(R"({{"id":{},"op":"{}","dtype":"{}","args":[{}]}})", next_, op, dtype, list));
    }
    int f(const std::string& o, std::initializer_list<int> args) { return op(o, "float", args); }
    int grad(int y, int x) { return f("grad", {y, x}); }
    void out(const std::string& name, int node) {
        outputs_ += fmt::format(R"({}{{"name":"{}","node":{}}})", outputs_.empty() ? "" : ",", name, node);
    }
    void update(int state, int node) {
        updates_ += fmt::format(R"({}{{"state":{},"node":{}}})", updates_.empty() ? "" : ",", state, node);
    }
    std::string json() const {
        return R"({"format":"copapy-dag","version":2,"nodes":[)" + nodes_ + R"(],"outputs":[)" + outputs_ +
               R"(],"updates":[)" + updates_ + "]}";
    }
    Dag read() const {
        const std::string s = json();
        return read_dag({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
    }

private:
    int leaf(const char* op, const char* dtype, const std::string& value, const std::string& name) {
        const std::string named = name.empty() ? "" : fmt::format(R"(,"name":"{}")", name);
        return add(fmt::format(R"({{"id":{},"op":"{}","dtype":"{}","value":{}{}}})", next_, op, dtype, value, named));
    }
    int add(const std::string& node) {
        nodes_ += (nodes_.empty() ? "" : ",") + node;
        return next_++;
    }
    std::string nodes_, outputs_, updates_;
    int next_ = 0;
};

// Checks what expand_gradients promises about the result's structure.
// New nodes (from index `file_nodes` on) have ids above every id of the file.
void check_structure(const Dag& d, size_t file_nodes, int64_t max_file_id) {
    std::set<int64_t> ids;
    for (const DagNode& n : d.nodes) CHECK(ids.insert(n.id).second);
    std::vector<int> pos(d.nodes.size(), -1);
    for (size_t i = 0; i < d.order.size(); ++i) {
        REQUIRE(pos[d.order[i]] == -1);
        pos[d.order[i]] = static_cast<int>(i);
    }
    for (uint32_t v = 0; v < d.nodes.size(); ++v) {
        const DagNode& n = d.nodes[v];
        if (n.op == Op::Grad) {
            CHECK(pos[v] == -1);  // dropped from the order
            continue;
        }
        REQUIRE(pos[v] >= 0);
        std::array<DType, 3> types{};
        for (unsigned k = 0; k < n.nargs; ++k) {
            REQUIRE(d.nodes[n.args[k]].op != Op::Grad);
            CHECK(pos[n.args[k]] < pos[v]);
            types[k] = d.nodes[n.args[k]].dtype;
        }
        if (is_leaf(n.op)) continue;
        // Every node, made here or not, is typed as the reader would type it.
        bool nonneg = false;
        if (n.op == Op::Pow) {
            const DagNode& e = d.nodes[n.args[1]];
            nonneg = e.op == Op::Const && e.dtype != DType::Float && static_cast<int32_t>(e.bits) >= 0;
        }
        const TypeResult t = infer_type(n.op, std::span(types.data(), n.nargs), n.dtype, nonneg);
        CHECK(t.ok);
        CHECK(t.type == n.dtype);
    }
    for (size_t v = file_nodes; v < d.nodes.size(); ++v) CHECK(d.nodes[v].id > max_file_id);
    for (const DagOutput& o : d.outputs) CHECK(d.nodes[o.node].op != Op::Grad);
    for (const DagUpdate& u : d.updates) CHECK(d.nodes[u.node].op != Op::Grad);
}

Dag expand(const Prog& p) {
    Dag d = p.read();
    int64_t max_id = -1;
    for (const DagNode& n : d.nodes) max_id = std::max(max_id, n.id);
    const size_t file_nodes = d.nodes.size();
    expand_gradients(d);
    check_structure(d, file_nodes, max_id);
    return d;
}

// A float32 interpreter for DAGs without grad nodes (the C semantics of
// lib/ops/ops.def for the operations the tests use).
class Interp {
public:
    explicit Interp(Dag d, const std::map<std::string, double>& set = {}) : d_(std::move(d)), v_(d_.nodes.size()) {
        for (uint32_t i : d_.order) eval(i, set);
    }
    double out(const std::string& name) const {
        for (const DagOutput& o : d_.outputs)
            if (d_.names[o.name] == name) return f(o.node);
        FAIL("no output " << name);
        return 0;
    }
    double node(uint32_t i) const { return f(i); }

private:
    struct V {
        float f = 0;
        int32_t i = 0;
    };
    float f(uint32_t n) const { return d_.nodes[n].dtype == DType::Float ? v_[n].f : static_cast<float>(v_[n].i); }

    void eval(uint32_t n, const std::map<std::string, double>& set) {
        const DagNode& nd = d_.nodes[n];
        V& r = v_[n];
        const bool fl = nd.dtype == DType::Float;
        if (is_leaf(nd.op)) {
            uint32_t bits = nd.bits;
            if (nd.op != Op::Const)
                if (auto it = set.find(d_.names[nd.name]); it != set.end())
                    bits = fl ? std::bit_cast<uint32_t>(static_cast<float>(it->second))
                              : static_cast<uint32_t>(static_cast<int32_t>(it->second));
            if (fl) r.f = std::bit_cast<float>(bits);
            else r.i = static_cast<int32_t>(bits);
            return;
        }
        const float a = f(nd.args[0]), b = nd.nargs > 1 ? f(nd.args[1]) : 0.0f;
        const float c = nd.nargs > 2 ? f(nd.args[2]) : 0.0f;
        if (!fl && (nd.op == Op::Add || nd.op == Op::Sub || nd.op == Op::Mul || nd.op == Op::Select)) {
            FAIL("interpreter lacks int '" << op_name(nd.op) << "'");  // the tests' int values are leaves and casts
        }
        switch (nd.op) {
            case Op::Add: r.f = a + b; break;
            case Op::Sub: r.f = a - b; break;
            case Op::Mul: r.f = a * b; break;
            case Op::Div: r.f = a / b; break;
            case Op::Floordiv: r.f = std::floor(a / b); break;
            case Op::Mod: r.f = a - b * std::floor(a / b); break;
            case Op::Pow: r.f = std::pow(a, b); break;
            case Op::Min: r.f = b < a ? b : a; break;
            case Op::Max: r.f = b > a ? b : a; break;
            case Op::Neg: r.f = -a; break;
            case Op::Abs: r.f = std::fabs(a); break;
            case Op::Sign: r.f = a > 0 ? 1.0f : a < 0 ? -1.0f : a; break;
            case Op::Gt: r.i = a > b; break;
            case Op::Ge: r.i = a >= b; break;
            case Op::Lt: r.i = a < b; break;
            case Op::Le: r.i = a <= b; break;
            case Op::Eq: r.i = a == b; break;
            case Op::Ne: r.i = a != b; break;
            case Op::Sqrt: r.f = std::sqrt(a); break;
            case Op::Exp: r.f = std::exp(a); break;
            case Op::Log: r.f = std::log(a); break;
            case Op::Sin: r.f = std::sin(a); break;
            case Op::Cos: r.f = std::cos(a); break;
            case Op::Tan: r.f = std::tan(a); break;
            case Op::Asin: r.f = std::asin(a); break;
            case Op::Acos: r.f = std::acos(a); break;
            case Op::Atan: r.f = std::atan(a); break;
            case Op::Atan2: r.f = std::atan2(a, b); break;
            case Op::Tanh: r.f = std::tanh(a); break;
            case Op::Hypot: r.f = std::hypot(a, b); break;
            case Op::Floor: r.f = std::floor(a); break;
            case Op::Ceil: r.f = std::ceil(a); break;
            case Op::Trunc: r.f = std::trunc(a); break;
            case Op::Round: r.f = std::nearbyint(a); break;  // the default rounding mode: half to even
            case Op::Select: r.f = a != 0 ? b : c; break;
            case Op::Cast:
                if (fl) r.f = a;
                else r.i = static_cast<int32_t>(a);
                break;
            default: FAIL("interpreter lacks '" << op_name(nd.op) << "'");
        }
    }

    Dag d_;
    std::vector<V> v_;
};

using Fn = std::function<double(double, double)>;

// One derivative rule: y(a, b) as DAG nodes and in double, with its exact partial derivatives.
struct Rule {
    const char* name;
    std::function<int(Prog&, int, int)> build;
    Fn y, dy_da, dy_db;
    std::vector<std::pair<float, float>> points;
};

double central_difference(const Fn& y, double a, double b, bool wrt_a) {
    const double h = 1e-6 * std::max(1.0, std::fabs(wrt_a ? a : b));
    return wrt_a ? (y(a + h, b) - y(a - h, b)) / (2 * h) : (y(a, b + h) - y(a, b - h)) / (2 * h);
}

// float32 results against double references: relative tolerance with a floor near zero.
bool close(double got, double want, double rel = 2e-5) {
    return std::fabs(got - want) <= rel * std::max(1.0, std::fabs(want));
}

double sgn(double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0; }

std::vector<Rule> rules() {
    const std::vector<std::pair<float, float>> pos = {{0.75f, 1.5f}, {2.25f, 0.3125f}, {1.0f, 3.0f}};
    const std::vector<std::pair<float, float>> any = {{0.75f, 1.5f}, {-2.25f, 0.3125f}, {1.25f, -3.0f}};
    const std::vector<std::pair<float, float>> unit = {{0.25f, 1.5f}, {-0.625f, 0.3125f}, {0.875f, -3.0f}};
    return {
        {"add", [](Prog& p, int a, int b) { return p.f("add", {a, b}); },
         [](double a, double b) { return a + b; }, [](double, double) { return 1.0; },
         [](double, double) { return 1.0; }, any},
        {"sub", [](Prog& p, int a, int b) { return p.f("sub", {a, b}); },
         [](double a, double b) { return a - b; }, [](double, double) { return 1.0; },
         [](double, double) { return -1.0; }, any},
        {"mul", [](Prog& p, int a, int b) { return p.f("mul", {a, b}); },
         [](double a, double b) { return a * b; }, [](double, double b) { return b; },
         [](double a, double) { return a; }, any},
        {"mul of an operand by itself", [](Prog& p, int a, int b) { return p.f("mul", {p.f("mul", {a, a}), b}); },
         [](double a, double b) { return a * a * b; }, [](double a, double b) { return 2 * a * b; },
         [](double a, double) { return a * a; }, any},
        {"div", [](Prog& p, int a, int b) { return p.f("div", {a, b}); },
         [](double a, double b) { return a / b; }, [](double, double b) { return 1 / b; },
         [](double a, double b) { return -a / (b * b); }, any},
        {"neg", [](Prog& p, int a, int) { return p.f("neg", {a}); },
         [](double a, double) { return -a; }, [](double, double) { return -1.0; },
         [](double, double) { return 0.0; }, any},
        {"abs", [](Prog& p, int a, int b) { return p.f("mul", {p.f("abs", {a}), b}); },
         [](double a, double b) { return std::fabs(a) * b; }, [](double a, double b) { return sgn(a) * b; },
         [](double a, double) { return std::fabs(a); }, any},
        {"pow", [](Prog& p, int a, int b) { return p.f("pow", {a, b}); },
         [](double a, double b) { return std::pow(a, b); },
         [](double a, double b) { return b * std::pow(a, b - 1); },
         [](double a, double b) { return std::pow(a, b) * std::log(a); }, pos},
        {"pow by an int constant", [](Prog& p, int a, int b) { return p.f("mul", {p.f("pow", {a, p.ci(3)}), b}); },
         [](double a, double b) { return a * a * a * b; }, [](double a, double b) { return 3 * a * a * b; },
         [](double a, double) { return a * a * a; }, any},
        {"sqrt", [](Prog& p, int a, int) { return p.f("sqrt", {a}); },
         [](double a, double) { return std::sqrt(a); }, [](double a, double) { return 0.5 / std::sqrt(a); },
         [](double, double) { return 0.0; }, pos},
        {"exp", [](Prog& p, int a, int) { return p.f("exp", {a}); },
         [](double a, double) { return std::exp(a); }, [](double a, double) { return std::exp(a); },
         [](double, double) { return 0.0; }, any},
        {"log", [](Prog& p, int a, int) { return p.f("log", {a}); },
         [](double a, double) { return std::log(a); }, [](double a, double) { return 1 / a; },
         [](double, double) { return 0.0; }, pos},
        {"sin", [](Prog& p, int a, int) { return p.f("sin", {a}); },
         [](double a, double) { return std::sin(a); }, [](double a, double) { return std::cos(a); },
         [](double, double) { return 0.0; }, any},
        {"cos", [](Prog& p, int a, int) { return p.f("cos", {a}); },
         [](double a, double) { return std::cos(a); }, [](double a, double) { return -std::sin(a); },
         [](double, double) { return 0.0; }, any},
        {"tan", [](Prog& p, int a, int) { return p.f("tan", {a}); },
         [](double a, double) { return std::tan(a); }, [](double a, double) { return 1 / std::pow(std::cos(a), 2); },
         [](double, double) { return 0.0; }, unit},
        {"asin", [](Prog& p, int a, int) { return p.f("asin", {a}); },
         [](double a, double) { return std::asin(a); }, [](double a, double) { return 1 / std::sqrt(1 - a * a); },
         [](double, double) { return 0.0; }, unit},
        {"acos", [](Prog& p, int a, int) { return p.f("acos", {a}); },
         [](double a, double) { return std::acos(a); }, [](double a, double) { return -1 / std::sqrt(1 - a * a); },
         [](double, double) { return 0.0; }, unit},
        {"atan", [](Prog& p, int a, int) { return p.f("atan", {a}); },
         [](double a, double) { return std::atan(a); }, [](double a, double) { return 1 / (1 + a * a); },
         [](double, double) { return 0.0; }, any},
        {"atan2", [](Prog& p, int a, int b) { return p.f("atan2", {a, b}); },
         [](double a, double b) { return std::atan2(a, b); }, [](double a, double b) { return b / (a * a + b * b); },
         [](double a, double b) { return -a / (a * a + b * b); }, any},
        {"tanh", [](Prog& p, int a, int) { return p.f("tanh", {a}); },
         [](double a, double) { return std::tanh(a); }, [](double a, double) { return 1 - std::pow(std::tanh(a), 2); },
         [](double, double) { return 0.0; }, any},
        {"hypot", [](Prog& p, int a, int b) { return p.f("hypot", {a, b}); },
         [](double a, double b) { return std::hypot(a, b); }, [](double a, double b) { return a / std::hypot(a, b); },
         [](double a, double b) { return b / std::hypot(a, b); }, any},
        {"min", [](Prog& p, int a, int b) { return p.f("min", {a, b}); },
         [](double a, double b) { return b < a ? b : a; }, [](double a, double b) { return b < a ? 0.0 : 1.0; },
         [](double a, double b) { return b < a ? 1.0 : 0.0; }, any},
        {"max", [](Prog& p, int a, int b) { return p.f("max", {a, b}); },
         [](double a, double b) { return b > a ? b : a; }, [](double a, double b) { return b > a ? 0.0 : 1.0; },
         [](double a, double b) { return b > a ? 1.0 : 0.0; }, any},
        {"select",
         [](Prog& p, int a, int b) {
             return p.f("select", {p.op("gt", "bool", {a, b}), p.f("mul", {a, a}), p.f("mul", {b, p.cf(3)})});
         },
         [](double a, double b) { return a > b ? a * a : 3 * b; }, [](double a, double b) { return a > b ? 2 * a : 0; },
         [](double a, double b) { return a > b ? 0 : 3.0; }, any},
        {"select on a float condition", [](Prog& p, int a, int b) { return p.f("select", {p.f("sub", {a, b}), a, b}); },
         [](double a, double b) { return a != b ? a : b; }, [](double, double) { return 1.0; },
         [](double, double) { return 0.0; }, any},
        {"cast float to int to float",
         [](Prog& p, int a, int b) { return p.f("mul", {p.f("cast", {p.op("cast", "int", {a})}), b}); },
         [](double a, double b) { return std::trunc(a) * b; }, [](double, double) { return 0.0; },
         [](double a, double) { return std::trunc(a); }, any},
        {"cast float to float", [](Prog& p, int a, int) { return p.f("cast", {a}); },
         [](double a, double) { return a; }, [](double, double) { return 1.0; }, [](double, double) { return 0.0; },
         any},
        {"floordiv", [](Prog& p, int a, int b) { return p.f("floordiv", {a, b}); },
         [](double a, double b) { return std::floor(a / b); }, [](double, double) { return 0.0; },
         [](double, double) { return 0.0; }, any},
        {"mod", [](Prog& p, int a, int b) { return p.f("mod", {a, b}); },
         [](double a, double b) { return a - b * std::floor(a / b); }, [](double, double) { return 1.0; },
         [](double a, double b) { return -std::floor(a / b); }, any},
        {"sign", [](Prog& p, int a, int b) { return p.f("mul", {p.f("sign", {a}), b}); },
         [](double a, double b) { return sgn(a) * b; }, [](double, double) { return 0.0; },
         [](double a, double) { return sgn(a); }, any},
        {"floor", [](Prog& p, int a, int b) { return p.f("mul", {p.f("floor", {a}), b}); },
         [](double a, double b) { return std::floor(a) * b; }, [](double, double) { return 0.0; },
         [](double a, double) { return std::floor(a); }, any},
        {"ceil", [](Prog& p, int a, int b) { return p.f("mul", {p.f("ceil", {a}), b}); },
         [](double a, double b) { return std::ceil(a) * b; }, [](double, double) { return 0.0; },
         [](double a, double) { return std::ceil(a); }, any},
        {"trunc", [](Prog& p, int a, int b) { return p.f("mul", {p.f("trunc", {a}), b}); },
         [](double a, double b) { return std::trunc(a) * b; }, [](double, double) { return 0.0; },
         [](double a, double) { return std::trunc(a); }, any},
        {"round", [](Prog& p, int a, int b) { return p.f("mul", {p.f("round", {a}), b}); },
         [](double a, double b) { return std::nearbyint(a) * b; }, [](double, double) { return 0.0; },
         [](double a, double) { return std::nearbyint(a); }, any},
        {"composite with shared subexpressions",
         [](Prog& p, int a, int b) {
             const int u = p.f("mul", {a, b});
             const int w = p.f("add", {p.cf(1), p.f("mul", {a, a})});
             return p.f("add", {p.f("mul", {p.f("sin", {u}), u}), p.f("div", {p.f("exp", {p.f("sub", {a, b})}), w})});
         },
         [](double a, double b) { return std::sin(a * b) * a * b + std::exp(a - b) / (1 + a * a); },
         [](double a, double b) {
             const double u = a * b, e = std::exp(a - b), w = 1 + a * a;
             return (std::cos(u) * u + std::sin(u)) * b + e / w - e * 2 * a / (w * w);
         },
         [](double a, double b) {
             const double u = a * b, e = std::exp(a - b), w = 1 + a * a;
             return (std::cos(u) * u + std::sin(u)) * a - e / w;
         },
         any},
    };
}

}  // namespace

TEST_CASE("grad: every derivative rule matches the exact derivative and finite differences") {
    for (const Rule& r : rules()) {
        for (auto [pa, pb] : r.points) {
            INFO("rule " << r.name << " at a=" << pa << ", b=" << pb);
            Prog p;
            const int a = p.input("a", pa), b = p.input("b", pb);
            const int y = r.build(p, a, b);
            p.out("y", y);
            p.out("da", p.grad(y, a));
            p.out("db", p.grad(y, b));
            const Interp run(expand(p));
            CHECK(close(run.out("y"), r.y(pa, pb), 1e-5));
            const double da = run.out("da"), db = run.out("db");
            CHECK(close(da, r.dy_da(pa, pb)));
            CHECK(close(db, r.dy_db(pa, pb)));
            CHECK(close(da, central_difference(r.y, pa, pb, true), 1e-4));
            CHECK(close(db, central_difference(r.y, pa, pb, false), 1e-4));
        }
    }
}

TEST_CASE("grad: every derivative rule, differentiated again, matches finite differences of the exact derivative") {
    // The rules make only ops that have rules themselves; if one did not (or
    // had a wrong one), the second derivative of some rule would be wrong.
    // Central differences of the exact first derivatives (in double) are the
    // reference: their error is about 1e-10 relative here, far below float32's.
    for (const Rule& r : rules()) {
        for (auto [pa, pb] : r.points) {
            INFO("rule " << r.name << " at a=" << pa << ", b=" << pb);
            Prog p;
            const int a = p.input("a", pa), b = p.input("b", pb);
            const int y = r.build(p, a, b);
            const int da = p.grad(y, a), db = p.grad(y, b);
            p.out("daa", p.grad(da, a));
            p.out("dab", p.grad(da, b));
            p.out("dba", p.grad(db, a));
            p.out("dbb", p.grad(db, b));
            const Interp run(expand(p));
            CHECK(close(run.out("daa"), central_difference(r.dy_da, pa, pb, true), 1e-4));
            CHECK(close(run.out("dab"), central_difference(r.dy_da, pa, pb, false), 1e-4));
            CHECK(close(run.out("dba"), central_difference(r.dy_db, pa, pb, true), 1e-4));
            CHECK(close(run.out("dbb"), central_difference(r.dy_db, pa, pb, false), 1e-4));
            CHECK(close(run.out("dab"), run.out("dba"), 1e-4));  // symmetric, though computed along other paths
        }
    }
}

TEST_CASE("grad: IEEE results where the derivative is infinite or undefined") {
    // Follows IEEE rather than guarding: d sqrt(a)/da at 0 is +inf; d a^b/db at a < 0 is NaN.
    Prog p;
    const int a = p.input("a", 0.0f), b = p.input("b", 2.5f);
    p.out("dsqrt", p.grad(p.f("sqrt", {a}), a));
    p.out("dpow", p.grad(p.f("pow", {a, b}), b));
    const Dag d = expand(p);
    CHECK(Interp(d).out("dsqrt") == INFINITY);
    CHECK(std::isnan(Interp(d, {{"a", -1.0}}).out("dpow")));
}

TEST_CASE("grad: hypot has derivative 0 at the origin, and finite second derivatives there") {
    // hypot(a, b) is a cone at (0, 0): no derivative. The rule defines it as
    // 0 there, like abs at 0 (hypot(a, 0) = |a|), by dividing by 1 instead
    // of hypot(a, b) = 0: a/1 = 0. Differentiated again, that gives the
    // second derivatives of (a*a + b*b)/2 there, 1 and 0, rather than NaN.
    Prog p;
    const int a = p.input("a", 0.0f), b = p.input("b", -0.0f);
    const int h = p.f("hypot", {a, b});
    const int da = p.grad(h, a), db = p.grad(h, b);
    p.out("da", da);
    p.out("db", db);
    p.out("daa", p.grad(da, a));
    p.out("dab", p.grad(da, b));
    p.out("dbb", p.grad(db, b));
    const Dag d = expand(p);
    const Interp origin(d);
    CHECK(origin.out("da") == 0.0);
    CHECK(origin.out("db") == 0.0);
    CHECK(origin.out("daa") == 1.0);
    CHECK(origin.out("dab") == 0.0);
    CHECK(origin.out("dbb") == 1.0);
    // On an axis, away from the origin, it is abs's: sign(a) and 0, with
    // curvature 1/|a| across the axis.
    const Interp axis(d, {{"a", -2.0}, {"b", 0.0}});
    CHECK(axis.out("da") == -1.0);
    CHECK(axis.out("db") == 0.0);
    CHECK(axis.out("daa") == 0.0);
    CHECK(axis.out("dab") == 0.0);
    CHECK(axis.out("dbb") == 0.5);
}

TEST_CASE("grad: mixed int and float operands") {
    Prog p;
    const int a = p.input("a", 1.5f), n = p.input_int("n", 7);
    const int y = p.f("add", {p.f("mul", {a, n}), p.f("atan2", {n, a})});  // a*n + atan2(n, a)
    p.out("da", p.grad(y, a));
    p.out("dpow", p.grad(p.f("pow", {n, a}), a));  // n^a: d/da = n^a log n
    const Interp run(expand(p));
    CHECK(close(run.out("da"), 7 + -7 / (1.5 * 1.5 + 49)));
    CHECK(close(run.out("dpow"), std::pow(7.0, 1.5) * std::log(7.0)));
}

TEST_CASE("grad: zero for an x that y does not depend on, one for y itself") {
    Prog p;
    const int a = p.input("a", 0.5f), b = p.input("b", 2.0f);
    const int y = p.f("sin", {a});
    const int after = p.f("mul", {y, p.cf(2)});  // depends on y, so y cannot depend on it
    const int through_int = p.f("cast", {p.op("cast", "int", {b})});
    p.out("unrelated", p.grad(y, b));
    p.out("later", p.grad(y, after));
    p.out("self", p.grad(y, y));
    p.out("int", p.grad(p.f("mul", {through_int, a}), b));
    const Dag d = expand(p);
    const Interp run(d);
    CHECK(run.out("unrelated") == 0.0);
    CHECK(run.out("later") == 0.0);
    CHECK(run.out("self") == 1.0);
    CHECK(run.out("int") == 0.0);
    for (const char* name : {"unrelated", "later", "int"})
        for (const DagOutput& o : d.outputs)
            if (d.names[o.name] == name) {
                INFO(name);
                CHECK(d.nodes[o.node].op == Op::Const);
                CHECK(d.nodes[o.node].dtype == DType::Float);
            }
}

TEST_CASE("grad: with respect to intermediate results, holding what they do not depend on fixed") {
    Prog p;
    const int a = p.input("a", 0.5f), b = p.input("b", 3.0f);
    const int u = p.f("mul", {a, b});
    const int y = p.f("add", {p.f("sin", {u}), p.f("mul", {u, a})});  // sin(ab) + a²b
    p.out("du", p.grad(y, u));  // cos(u) + a
    p.out("da", p.grad(y, a));  // through u as well: cos(u) b + u + a b
    const Interp run(expand(p));
    CHECK(close(run.out("du"), std::cos(1.5) + 0.5));
    CHECK(close(run.out("da"), std::cos(1.5) * 3 + 1.5 + 1.5));
}

TEST_CASE("grad: users of grad nodes (operands, outputs, updates) refer to the derivative") {
    Prog p;
    const int s = p.state("s", 1.5f), a = p.input("a", 2.0f);
    const int y = p.f("mul", {p.f("mul", {s, s}), a});  // s²a
    const int g = p.grad(y, s);                          // 2sa, with the state as a leaf like an input
    const int next = p.f("sub", {s, p.f("mul", {p.cf(0.25f), g})});
    p.out("g", g);
    p.out("next", next);
    p.update(s, next);
    const Dag d = expand(p);
    REQUIRE(d.updates.size() == 1);
    const Interp run(d);
    CHECK(run.out("g") == 6.0);
    CHECK(run.node(d.updates[0].node) == 1.5 - 0.25 * 6.0);
}

TEST_CASE("grad: a DAG without grad nodes is left alone") {
    Prog p;
    const int a = p.input("a", 1.0f);
    p.out("y", p.f("sin", {a}));
    Dag d = p.read();
    const std::vector<uint32_t> order = d.order;
    expand_gradients(d);
    CHECK(d.nodes.size() == 2);
    CHECK(d.order == order);
}

namespace {
// d2y/da2, d2y/dadb, d2y/db2 of y(a, b) (the nodes `build` makes), expanded
// and evaluated at (pa, pb); each second derivative is a grad of a grad.
struct Hessian {
    double aa, ab, ba, bb;
};
Hessian hessian(const std::function<int(Prog&, int, int)>& build, float pa, float pb) {
    Prog p;
    const int a = p.input("a", pa), b = p.input("b", pb);
    const int y = build(p, a, b);
    const int da = p.grad(y, a), db = p.grad(y, b);
    p.out("aa", p.grad(da, a));
    p.out("ab", p.grad(da, b));
    p.out("ba", p.grad(db, a));
    p.out("bb", p.grad(db, b));
    const Interp run(expand(p));
    return {run.out("aa"), run.out("ab"), run.out("ba"), run.out("bb")};
}
}  // namespace

TEST_CASE("grad: second derivatives of polynomials are exact") {
    // y = a^2 b^3 + 3 a b - a^3 at a = 1.5, b = 2: every intermediate is a
    // small dyadic rational, so float32 gets the exact values.
    const Hessian h = hessian(
        [](Prog& p, int a, int b) {
            const int a2b3 = p.f("mul", {p.f("mul", {a, a}), p.f("mul", {b, p.f("mul", {b, b})})});
            const int ab3 = p.f("mul", {p.cf(3), p.f("mul", {a, b})});
            return p.f("sub", {p.f("add", {a2b3, ab3}), p.f("pow", {a, p.ci(3)})});
        },
        1.5f, 2.0f);
    CHECK(h.aa == 2 * 8 - 6 * 1.5);      // 2 b^3 - 6a
    CHECK(h.ab == 6 * 1.5 * 4 + 3);      // 6 a b^2 + 3
    CHECK(h.ba == h.ab);
    CHECK(h.bb == 6 * 1.5 * 1.5 * 2);    // 6 a^2 b
}

TEST_CASE("grad: second derivatives of the math functions match their closed forms") {
    struct Case {
        const char* name;
        std::function<int(Prog&, int, int)> build;
        std::function<Hessian(double, double)> exact;
        std::vector<std::pair<float, float>> points;
    };
    auto unary = [](const char* op) {
        return [op](Prog& p, int a, int b) { return p.f("mul", {p.f(op, {a}), b}); };  // f(a) * b
    };
    // For f(a) * b: d2/da2 = f''(a) b, d2/dadb = f'(a), d2/db2 = 0.
    auto of_unary = [](std::function<double(double)> f1, std::function<double(double)> f2) {
        return [f1, f2](double a, double b) { return Hessian{f2(a) * b, f1(a), f1(a), 0}; };
    };
    const std::vector<std::pair<float, float>> pos = {{0.75f, 1.5f}, {2.25f, -0.3125f}};
    const std::vector<std::pair<float, float>> any = {{0.75f, 1.5f}, {-2.25f, 0.3125f}, {1.25f, -3.0f}};
    const std::vector<Case> cases = {
        {"sin", unary("sin"), of_unary([](double a) { return std::cos(a); }, [](double a) { return -std::sin(a); }), any},
        {"cos", unary("cos"), of_unary([](double a) { return -std::sin(a); }, [](double a) { return -std::cos(a); }), any},
        {"exp", unary("exp"), of_unary([](double a) { return std::exp(a); }, [](double a) { return std::exp(a); }), any},
        {"log", unary("log"), of_unary([](double a) { return 1 / a; }, [](double a) { return -1 / (a * a); }), pos},
        {"sqrt", unary("sqrt"),
         of_unary([](double a) { return 0.5 / std::sqrt(a); }, [](double a) { return -0.25 / (a * std::sqrt(a)); }), pos},
        {"tanh", unary("tanh"),
         of_unary([](double a) { return 1 - std::pow(std::tanh(a), 2); },
                  [](double a) { return -2 * std::tanh(a) * (1 - std::pow(std::tanh(a), 2)); }),
         any},
        {"atan2", [](Prog& p, int a, int b) { return p.f("atan2", {a, b}); },
         [](double a, double b) {
             const double r4 = std::pow(a * a + b * b, 2);
             return Hessian{-2 * a * b / r4, (a * a - b * b) / r4, (a * a - b * b) / r4, 2 * a * b / r4};
         },
         any},
        {"hypot", [](Prog& p, int a, int b) { return p.f("hypot", {a, b}); },
         [](double a, double b) {
             const double h3 = std::pow(std::hypot(a, b), 3);
             return Hessian{b * b / h3, -a * b / h3, -a * b / h3, a * a / h3};
         },
         any},
        {"pow", [](Prog& p, int a, int b) { return p.f("pow", {a, b}); },
         [](double a, double b) {
             const double l = std::log(a), ab = std::pow(a, b);
             const double mixed = std::pow(a, b - 1) * (1 + b * l);
             return Hessian{b * (b - 1) * std::pow(a, b - 2), mixed, mixed, ab * l * l};
         },
         {{0.75f, 1.5f}, {2.25f, 0.3125f}, {1.0f, 3.0f}}},
        {"div", [](Prog& p, int a, int b) { return p.f("div", {a, b}); },
         [](double a, double b) { return Hessian{0, -1 / (b * b), -1 / (b * b), 2 * a / (b * b * b)}; }, any},
        {"sin(a) b^3 + exp(a b)",
         [](Prog& p, int a, int b) {
             return p.f("add", {p.f("mul", {p.f("sin", {a}), p.f("pow", {b, p.ci(3)})}), p.f("exp", {p.f("mul", {a, b})})});
         },
         [](double a, double b) {
             const double e = std::exp(a * b);
             const double mixed = 3 * b * b * std::cos(a) + e * (1 + a * b);
             return Hessian{-std::sin(a) * b * b * b + b * b * e, mixed, mixed, 6 * b * std::sin(a) + a * a * e};
         },
         any},
    };
    for (const Case& c : cases)
        for (auto [pa, pb] : c.points) {
            INFO(c.name << " at a=" << pa << ", b=" << pb);
            const Hessian got = hessian(c.build, pa, pb), want = c.exact(pa, pb);
            CHECK(close(got.aa, want.aa));
            CHECK(close(got.ab, want.ab));
            CHECK(close(got.ba, want.ba));
            CHECK(close(got.bb, want.bb));
        }
}

TEST_CASE("grad: third and higher derivatives of x^4") {
    // As pow by an int constant and as a product: d3/dx3 x^4 = 24x, then 24, then 0.
    for (bool as_pow : {true, false}) {
        INFO((as_pow ? "pow(x, 4)" : "x*x*x*x"));
        Prog p;
        const int x = p.input("x", 1.5f);
        const int y = as_pow ? p.f("pow", {x, p.ci(4)}) : p.f("mul", {p.f("mul", {p.f("mul", {x, x}), x}), x});
        const int d1 = p.grad(y, x), d2 = p.grad(d1, x), d3 = p.grad(d2, x), d4 = p.grad(d3, x);
        p.out("d1", d1);
        p.out("d2", d2);
        p.out("d3", d3);
        p.out("d4", d4);
        p.out("d5", p.grad(d4, x));
        const Dag d = expand(p);
        const Interp run(d);
        CHECK(run.out("d1") == 4 * 1.5 * 1.5 * 1.5);
        CHECK(run.out("d2") == 12 * 1.5 * 1.5);
        CHECK(run.out("d3") == 24 * 1.5);
        CHECK(run.out("d4") == 24);
        CHECK(run.out("d5") == 0);
        CHECK(Interp(d, {{"x", -0.5}}).out("d3") == -12);
    }
}

TEST_CASE("grad: a derivative differentiated with respect to an intermediate result or a derivative") {
    Prog p;
    const int a = p.input("a", 0.5f), b = p.input("b", 3.0f);
    const int u = p.f("mul", {a, b});
    const int y = p.f("mul", {p.f("sin", {u}), a});  // sin(ab) a
    // dy/da through u and directly: sin(u) + a b cos(u), as nodes over u, a, b.
    const int g1 = p.grad(y, a);
    // d/du of that with a and b held fixed: cos(u) - a b sin(u).
    p.out("g1_u", p.grad(g1, u));
    // d/da of it, through u as well: the second derivative 2 b cos(u) - a b^2 sin(u).
    p.out("g1_a", p.grad(g1, a));
    // With respect to a derivative: d(g1^2)/d g1 = 2 g1, and d g1/d g1 = 1.
    p.out("sq_g1", p.grad(p.f("mul", {g1, g1}), g1));
    p.out("g1_g1", p.grad(g1, g1));
    // A grad whose y is itself a grad of a grad, by an intermediate: d/du (d2y/da2).
    p.out("g1_a_u", p.grad(p.grad(g1, a), u));
    const Interp run(expand(p));
    const double uu = 1.5, s = std::sin(uu), c = std::cos(uu);
    CHECK(close(run.out("g1_u"), c - 1.5 * s));
    CHECK(close(run.out("g1_a"), 2 * 3 * c - 0.5 * 9 * s));
    CHECK(close(run.out("sq_g1"), 2 * (s + 1.5 * c)));
    CHECK(run.out("g1_g1") == 1.0);
    // d2y/da2 = 2 b cos(u) - a b^2 sin(u) as nodes over u, a, b: d/du = -2 b sin(u) - a b^2 cos(u).
    CHECK(close(run.out("g1_a_u"), -2 * 3 * s - 0.5 * 9 * c));
}

TEST_CASE("grad: a derivative that does not depend on x is held fixed like any value") {
    Prog p;
    const int a = p.input("a", 1.0f), b = p.input("b", 3.0f);
    const int g1 = p.grad(p.f("sin", {a}), a);
    p.out("g", p.grad(p.f("mul", {g1, b}), b));
    CHECK(close(Interp(expand(p)).out("g"), std::cos(1.0)));
}

TEST_CASE("grad: second order with x placed after the inner grad, grouped or not") {
    // b comes after g1 in the file, so it ranks above the nodes g1's sweep
    // makes: the window cut-off must still see that y2 depends on b (directly)
    // and on a (through g1's nodes), in one sweep or in two.
    for (bool grouped : {true, false}) {
        INFO((grouped ? "one sweep for both" : "separate y"));
        Prog p;
        const int a = p.input("a", 0.5f);
        const int g1 = p.grad(p.f("sin", {a}), a);  // cos(a)
        const int b = p.input("b", 2.0f);
        const int y2 = p.f("mul", {g1, p.f("mul", {b, b})});  // cos(a) b^2
        const int y3 = grouped ? y2 : p.f("mul", {g1, p.f("mul", {b, b})});
        p.out("db", p.grad(y2, b));
        p.out("da", p.grad(y3, a));
        const Interp run(expand(p));
        CHECK(close(run.out("db"), 2 * 2 * std::cos(0.5)));
        CHECK(close(run.out("da"), -std::sin(0.5) * 4));
    }
}

TEST_CASE("grad: one sweep serves every x of the same y, in time and nodes linear in the program") {
    // y = sum a_i * b_i; dy/da_i = b_i. Grouped, the sweep adds one product
    // per a_i (the additions pass the adjoint through unchanged).
    auto added = [](int n) {
        Prog p;
        std::vector<int> as, bs;
        for (int i = 0; i < n; ++i) {
            as.push_back(p.input(fmt::format("a{}", i), 1.0f));
            bs.push_back(p.input(fmt::format("b{}", i), static_cast<float>(i)));
        }
        int y = p.f("mul", {as[0], bs[0]});
        for (int i = 1; i < n; ++i) y = p.f("add", {y, p.f("mul", {as[i], bs[i]})});
        for (int i = 0; i < n; ++i) p.out(fmt::format("g{}", i), p.grad(y, as[i]));
        Dag d = p.read();
        const size_t before = d.nodes.size();
        expand_gradients(d);
        const Interp run(d);
        for (int i = 0; i < n; i += n / 8) CHECK(run.out(fmt::format("g{}", i)) == i);
        return d.nodes.size() - before;
    };
    CHECK(added(64) <= 64 + 2);
    CHECK(added(4096) <= 4096 + 2);
}

TEST_CASE("grad: nested gradient steps expand in order, each sweep over its own step only") {
    // x_{k+1} = x_k - 0.25 * d/dx_k (x_k - 3)^2 halves the distance to 3 per step.
    auto descend = [](int steps, size_t& added) {
        Prog p;
        int x = p.input("x0", 1.0f);
        for (int k = 0; k < steps; ++k) {
            const int err = p.f("pow", {p.f("sub", {x, p.cf(3)}), p.ci(2)});
            x = p.f("sub", {x, p.f("mul", {p.cf(0.25f), p.grad(err, x)})});
        }
        p.out("x", x);
        Dag d = p.read();
        const size_t before = d.nodes.size();
        expand_gradients(d);
        added = d.nodes.size() - before;
        return Interp(d).out("x");
    };
    size_t added10 = 0, added1000 = 0;
    CHECK(close(descend(10, added10), 3 - 2 * std::pow(0.5, 10), 1e-6));
    CHECK(descend(1000, added1000) == 3.0);
    CHECK(added1000 == 100 * added10);  // the same few nodes per step
}

TEST_CASE("grad: nested Newton steps expand in order, in nodes linear in the steps") {
    // x_{k+1} = x_k - f'(x_k) / f''(x_k) for f(x) = exp(x) - 2x, whose
    // minimum is at ln 2. Each step has a grad and a grad of that grad; the
    // sweeps of a step never walk into earlier steps.
    auto newton = [](int steps, size_t& added) {
        Prog p;
        int x = p.input("x0", 0.0f);
        for (int k = 0; k < steps; ++k) {
            const int f = p.f("sub", {p.f("exp", {x}), p.f("mul", {p.cf(2), x})});
            const int d1 = p.grad(f, x);
            x = p.f("sub", {x, p.f("div", {d1, p.grad(d1, x)})});
        }
        p.out("x", x);
        Dag d = p.read();
        const size_t before = d.nodes.size();
        expand_gradients(d);
        added = d.nodes.size() - before;
        return Interp(d).out("x");
    };
    size_t added10 = 0, added1000 = 0;
    CHECK(close(newton(10, added10), std::log(2.0), 1e-6));
    CHECK(close(newton(1000, added1000), std::log(2.0), 1e-6));
    CHECK(added1000 == 100 * added10);
}
