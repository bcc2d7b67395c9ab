// Reverse-mode automatic differentiation on the DAG (see grad.hpp).
//
// One sweep serves every grad node with the same y. It works on the sweep's
// window: the float nodes that y reaches through operands a gradient can flow
// into, cut off below the earliest x in topological order (a node placed
// before every x cannot depend on one). Within the window the live nodes are
// those that depend on an x; only they get an adjoint (dy/dnode), the sum
// over their users of adjoint(user) * d user / d node, computed in reverse
// topological order. The adjoint of each x is its grad node's value.
//
// Higher orders: grad nodes are expanded in topological order, so by the
// time a sweep reaches a y that depends on another grad's result (grad(grad(
// y, x1), x2), a Newton step's Hessian), that grad is already ordinary nodes
// and the sweep differentiates through them like through anything else. This
// works because the rules below make only ops that have rules themselves
// (add sub mul div neg pow log sin cos sqrt cast select, and floordiv sign
// and comparisons, through which no gradient flows), so any derivative can be
// differentiated again, to any order.
//
// Ranks keep the window small when grads are nested (an optimization loop
// whose every step differentiates the previous step's result): a node's rank
// is its position in the file's topological order, and the nodes a sweep
// makes take the rank of the sweep's first grad node, which is larger than
// the rank of anything they depend on (sweeps run in rank order, so that
// includes nodes made by earlier sweeps). So a node ranked below x cannot
// depend on x even after expansion; "rank below the earliest x" stays a safe
// cut-off, and a sweep never walks into the earlier steps of the loop. A
// sweep through a derivative does walk into the nodes its inner sweep made
// (they rank at or above any x they depend on), which is the second-order
// work itself.
#include "grad.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <initializer_list>
#include <stdexcept>

namespace copapy {

namespace {

constexpr uint32_t kNoNode = UINT32_MAX;

// The operands of a float-valued `op` that a gradient flows into, as a bit
// mask (bit k: args[k]). Piecewise constant operations (floordiv, sign, the
// roundings) pass none, a select passes it to the chosen value and never to
// the condition.
// Operations that never yield a float (comparisons, bit operations) are never
// in a window, and grad nodes are replaced by their derivatives before any
// sweep can see them. Must agree with Expander::propagate, which has a rule
// for every op with a non-zero mask.
unsigned gradient_operands(Op op) {
    switch (op) {
        case Op::Add:
        case Op::Sub:
        case Op::Mul:
        case Op::Div:
        case Op::Mod:
        case Op::Pow:
        case Op::Min:
        case Op::Max:
        case Op::Atan2:
        case Op::Hypot: return 0b011;
        case Op::Neg:
        case Op::Abs:
        case Op::Sqrt:
        case Op::Exp:
        case Op::Log:
        case Op::Sin:
        case Op::Cos:
        case Op::Tan:
        case Op::Asin:
        case Op::Acos:
        case Op::Atan:
        case Op::Tanh:
        case Op::Cast: return 0b001;
        case Op::Select: return 0b110;
        case Op::Floordiv:
        case Op::Sign:
        case Op::Floor:
        case Op::Ceil:
        case Op::Trunc:
        case Op::Round: return 0;  // derivative 0 wherever it exists
        default: return 0;
    }
}

class Expander {
public:
    explicit Expander(Dag& dag) : dag_(dag) {}

    void run() {
        const size_t n = dag_.nodes.size();
        int64_t max_id = -1;
        bool any = false;
        for (const DagNode& node : dag_.nodes) {
            max_id = std::max(max_id, node.id);
            any = any || node.op == Op::Grad;
        }
        if (!any) return;
        next_id_ = max_id + 1;

        rank_.resize(n);
        for (uint32_t i = 0; i < n; ++i) rank_[dag_.order[i]] = i;
        derivative_.assign(n, kNoNode);
        adjoint_.assign(n, kNoNode);
        mark_.assign(n, Marks{});

        // Group the grad nodes by y, each group in topological order.
        std::vector<uint32_t> group_of_y(n, kNoNode);
        for (uint32_t v : dag_.order) {
            const DagNode& g = dag_.nodes[v];
            if (g.op != Op::Grad) continue;
            uint32_t& group = group_of_y[g.args[0]];
            if (group == kNoNode) {
                group = static_cast<uint32_t>(groups_.size());
                groups_.emplace_back();
            }
            groups_[group].push_back(v);
        }

        // In topological order: a node's operands are final (grads replaced
        // by their derivatives) before the node is rewritten or swept over.
        order_.reserve(n);
        for (uint32_t v : dag_.order) {
            if (dag_.nodes[v].op == Op::Grad) {
                if (derivative_[v] == kNoNode) expand(groups_[group_of_y[dag_.nodes[v].args[0]]]);
                continue;
            }
            DagNode& node = dag_.nodes[v];
            for (unsigned k = 0; k < node.nargs; ++k) node.args[k] = resolve(node.args[k]);
            order_.push_back(v);
        }
        for (DagOutput& o : dag_.outputs) o.node = resolve(o.node);
        for (DagUpdate& u : dag_.updates) u.node = resolve(u.node);
        dag_.order = std::move(order_);
    }

private:
    // Per-node marks of the current sweep: a field equal to sweep_ is set.
    struct Marks {
        uint32_t window = 0, x = 0, live = 0;
    };

    uint32_t resolve(uint32_t v) const { return derivative_[v] == kNoNode ? v : derivative_[v]; }
    bool in_window(uint32_t v) const { return mark_[v].window == sweep_; }
    bool live(uint32_t v) const { return mark_[v].live == sweep_; }  // only window nodes are live

    // One reverse sweep for the grad nodes `group` (same y, topological order).
    void expand(const std::vector<uint32_t>& group) {
        const uint32_t first = group.front();
        const uint32_t y = resolve(dag_.nodes[first].args[0]);
        sweep_loc_ = first < dag_.locs.size() ? dag_.locs[first] : SourceLoc{};
        ++sweep_;
        sweep_rank_ = rank_[first];
        one_ = zero_ = kNoNode;
        window_.clear();

        // The x's y can depend on. An x that is a grad not expanded yet comes
        // after `first`, hence after y, like any x ranked above y.
        xs_.clear();
        uint32_t lowest = UINT32_MAX;
        for (uint32_t g : group) {
            uint32_t x = dag_.nodes[g].args[1];
            if (dag_.nodes[x].op == Op::Grad) x = derivative_[x];
            if (x != kNoNode && rank_[x] > rank_[y]) x = kNoNode;
            if (x != kNoNode) {
                mark_[x].x = sweep_;
                lowest = std::min(lowest, rank_[x]);
            }
            xs_.push_back(x);
        }
        if (lowest != UINT32_MAX) collect_window(y, lowest);

        if (live(y)) {
            adjoint_[y] = one();
            for (auto it = window_.rbegin(); it != window_.rend(); ++it)
                if (live(*it)) propagate(*it);
        }
        for (size_t i = 0; i < group.size(); ++i) {
            // Every live node has an adjoint: a path of live nodes leads to it from y.
            const uint32_t x = xs_[i];
            derivative_[group[i]] = x != kNoNode && live(x) ? adjoint_[x] : zero();
        }
        for (uint32_t v : window_) adjoint_[v] = kNoNode;
    }

    // window_: the float nodes y reaches through gradient-carrying operands,
    // ranked at or above `lowest`, operands first (iterative depth-first
    // post-order); marks the live ones.
    void collect_window(uint32_t y, uint32_t lowest) {
        stack_.clear();
        mark_[y].window = sweep_;
        stack_.push_back({y, 0});
        while (!stack_.empty()) {
            auto& [v, k] = stack_.back();
            const DagNode& node = dag_.nodes[v];
            if (k < node.nargs) {
                const uint32_t w = node.args[k];
                const bool carries = gradient_operands(node.op) >> k & 1;
                ++k;
                if (carries && !in_window(w) && dag_.nodes[w].dtype == DType::Float && rank_[w] >= lowest) {
                    mark_[w].window = sweep_;
                    stack_.push_back({w, 0});
                }
                continue;
            }
            bool is_live = mark_[v].x == sweep_;
            for (unsigned j = 0; j < node.nargs && !is_live; ++j)
                is_live = (gradient_operands(node.op) >> j & 1) && live(node.args[j]);
            if (is_live) mark_[v].live = sweep_;
            window_.push_back(v);
            stack_.pop_back();
        }
    }

    // Adds adjoint(v) * d v / d operand to the adjoint of every live operand of v.
    void propagate(uint32_t v) {
        const DagNode n = dag_.nodes[v];  // a copy: making nodes grows dag_.nodes
        const unsigned mask = gradient_operands(n.op);
        bool d[3] = {};
        for (unsigned k = 0; k < n.nargs; ++k) d[k] = (mask >> k & 1) && live(n.args[k]);
        if (!d[0] && !d[1] && !d[2]) return;
        const uint32_t g = adjoint_[v];
        const uint32_t a = n.args[0], b = n.args[1];
        switch (n.op) {
            case Op::Add:
                if (d[0]) accumulate(a, g);
                if (d[1]) accumulate(b, g);
                break;
            case Op::Sub:
                if (d[0]) accumulate(a, g);
                if (d[1]) accumulate(b, make(Op::Neg, g));
                break;
            case Op::Mul:
                if (d[0]) accumulate(a, make(Op::Mul, g, as_float(b)));
                if (d[1]) accumulate(b, make(Op::Mul, g, as_float(a)));
                break;
            case Op::Div: {
                // d(a/b)/da = 1/b, d(a/b)/db = -(a/b)/b: both reuse g/b.
                const uint32_t q = make(Op::Div, g, as_float(b));
                if (d[0]) accumulate(a, q);
                if (d[1]) accumulate(b, make(Op::Neg, make(Op::Mul, q, v)));
                break;
            }
            case Op::Mod:
                // a % b = a - b * floor(a / b), with floor(a / b) piecewise constant.
                if (d[0]) accumulate(a, g);
                if (d[1]) accumulate(b, make(Op::Neg, make(Op::Mul, g, make(Op::Floordiv, as_float(a), as_float(b)))));
                break;
            case Op::Pow:
                // d/da = b * pow(a, b - 1), d/db = pow(a, b) * log(a); IEEE decides
                // what these give where a <= 0.
                if (d[0]) {
                    const uint32_t fb = as_float(b);
                    accumulate(a, make(Op::Mul, g, make(Op::Mul, fb, make(Op::Pow, a, make(Op::Sub, fb, one())))));
                }
                if (d[1]) accumulate(b, make(Op::Mul, g, make(Op::Mul, v, make(Op::Log, as_float(a)))));
                break;
            case Op::Min:
            case Op::Max: {
                // The gradient goes to the operand the op chose, decided by the
                // op's own comparison: min is `b if b < a else a`, max `b if b > a else a`.
                const uint32_t b_chosen = make(n.op == Op::Min ? Op::Lt : Op::Gt, b, a);
                if (d[0]) accumulate(a, make(Op::Select, b_chosen, zero(), g));
                if (d[1]) accumulate(b, make(Op::Select, b_chosen, g, zero()));
                break;
            }
            case Op::Atan2: {
                // atan2(a, b) is the angle of (b, a): d/da = b / (a² + b²), d/db = -a / (a² + b²).
                const uint32_t fa = as_float(a), fb = as_float(b);
                const uint32_t q = make(Op::Div, g, make(Op::Add, make(Op::Mul, fa, fa), make(Op::Mul, fb, fb)));
                if (d[0]) accumulate(a, make(Op::Mul, q, fb));
                if (d[1]) accumulate(b, make(Op::Neg, make(Op::Mul, q, fa)));
                break;
            }
            case Op::Hypot: {
                // d/da = a / r, d/db = b / r. At (0, 0), where hypot has no
                // derivative (a cone), r = 0 and both are defined as 0, like
                // abs at 0 (hypot(a, 0) = |a|): dividing by 1 there instead of
                // r gives a/1 = 0 and, unlike a select of 0 on the quotient,
                // keeps every higher derivative finite too.
                const uint32_t safe = make(Op::Select, make(Op::Eq, v, zero()), one(), v);
                const uint32_t q = make(Op::Div, g, safe);
                if (d[0]) accumulate(a, make(Op::Mul, q, a));
                if (d[1]) accumulate(b, make(Op::Mul, q, b));
                break;
            }
            case Op::Select:
                if (d[1]) accumulate(n.args[1], make(Op::Select, a, g, zero()));
                if (d[2]) accumulate(n.args[2], make(Op::Select, a, zero(), g));
                break;
            // Unary: the operand is live, so it is a float.
            case Op::Neg: accumulate(a, make(Op::Neg, g)); break;
            case Op::Abs: accumulate(a, make(Op::Mul, g, make(Op::Sign, a))); break;
            case Op::Cast: accumulate(a, g); break;  // float to float
            case Op::Sqrt: accumulate(a, make(Op::Div, g, make(Op::Add, v, v))); break;
            case Op::Exp: accumulate(a, make(Op::Mul, g, v)); break;
            case Op::Log: accumulate(a, make(Op::Div, g, a)); break;
            case Op::Sin: accumulate(a, make(Op::Mul, g, make(Op::Cos, a))); break;
            case Op::Cos: accumulate(a, make(Op::Mul, g, make(Op::Neg, make(Op::Sin, a)))); break;
            case Op::Tan: accumulate(a, make(Op::Mul, g, make(Op::Add, one(), make(Op::Mul, v, v)))); break;
            case Op::Asin:
            case Op::Acos: {
                // ±1 / sqrt(1 - a²)
                const uint32_t q = make(Op::Div, g, make(Op::Sqrt, make(Op::Sub, one(), make(Op::Mul, a, a))));
                accumulate(a, n.op == Op::Asin ? q : make(Op::Neg, q));
                break;
            }
            case Op::Atan: accumulate(a, make(Op::Div, g, make(Op::Add, one(), make(Op::Mul, a, a)))); break;
            case Op::Tanh: accumulate(a, make(Op::Mul, g, make(Op::Sub, one(), make(Op::Mul, v, v)))); break;
            default:
                throw std::logic_error(fmt::format("grad: no derivative rule for '{}'", op_name(n.op)));
        }
    }

    void accumulate(uint32_t w, uint32_t contribution) {
        adjoint_[w] = adjoint_[w] == kNoNode ? contribution : make(Op::Add, adjoint_[w], contribution);
    }

    // ---- Making nodes ---------------------------------------------------------

    uint32_t add_node(DagNode node) {
        const auto v = static_cast<uint32_t>(dag_.nodes.size());
        node.id = next_id_++;
        dag_.nodes.push_back(node);
        // A derivative's nodes come from the line that asked for it.
        if (!dag_.locs.empty()) dag_.locs.push_back(sweep_loc_);
        rank_.push_back(sweep_rank_);
        derivative_.push_back(kNoNode);
        adjoint_.push_back(kNoNode);
        mark_.push_back(Marks{});
        order_.push_back(v);  // after its operands: they exist already
        return v;
    }

    // A node computing `op`, typed by the DAG's own rules (so the result is
    // valid wherever the operands are: mixed int/float operands promote).
    uint32_t make(Op op, uint32_t a, uint32_t b = kNoNode, uint32_t c = kNoNode) {
        DagNode node;
        node.op = op;
        std::array<DType, 3> types{};
        for (uint32_t arg : {a, b, c}) {
            if (arg == kNoNode) break;
            types[node.nargs] = dag_.nodes[arg].dtype;
            node.args[node.nargs++] = arg;
        }
        // Only float exponents are made here, so no pow yields an int.
        const TypeResult t = infer_type(op, std::span(types.data(), node.nargs), DType::Float, false);
        if (!t.ok) throw std::logic_error(fmt::format("grad: made an ill-typed '{}': {}", op_name(op), t.error));
        node.dtype = t.type;
        return add_node(node);
    }

    uint32_t constant(float f) {
        DagNode node;
        node.op = Op::Const;
        node.dtype = DType::Float;
        node.bits = std::bit_cast<uint32_t>(f);
        return add_node(node);
    }
    uint32_t one() { return one_ != kNoNode ? one_ : (one_ = constant(1.0f)); }
    uint32_t zero() { return zero_ != kNoNode ? zero_ : (zero_ = constant(0.0f)); }

    // An int or bool operand used in float arithmetic, converted explicitly.
    uint32_t as_float(uint32_t v) { return dag_.nodes[v].dtype == DType::Float ? v : make(Op::Cast, v); }

    Dag& dag_;
    int64_t next_id_ = 0;
    std::vector<std::vector<uint32_t>> groups_;  // grad nodes by y
    std::vector<uint32_t> order_;                // the new topological order

    // Per node (including the ones made here).
    std::vector<uint32_t> rank_;        // see the top of this file
    std::vector<uint32_t> derivative_;  // grad node: the node that computes it
    std::vector<uint32_t> adjoint_;     // during a sweep: d y / d node, or kNoNode
    std::vector<Marks> mark_;

    // The current sweep.
    uint32_t sweep_ = 0;
    std::vector<uint32_t> xs_;  // the x's of its grad nodes, kNoNode where y cannot depend on it
    uint32_t sweep_rank_ = 0;   // rank of the nodes made
    SourceLoc sweep_loc_;       // location of the nodes made: the first grad node's
    uint32_t one_ = kNoNode, zero_ = kNoNode;
    std::vector<uint32_t> window_;
    std::vector<std::pair<uint32_t, uint8_t>> stack_;
};

}  // namespace

void expand_gradients(Dag& dag) { Expander(dag).run(); }

}  // namespace copapy
