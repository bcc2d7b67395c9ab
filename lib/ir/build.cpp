#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "ir.hpp"

namespace copapy {

namespace {

struct Key {
    Op op;
    Kind kind;
    uint8_t nargs;
    std::array<uint32_t, 3> args;
    uint32_t bits;
    bool operator==(const Key&) const = default;
};

struct KeyHash {
    size_t operator()(const Key& k) const {
        uint64_t h = uint64_t(k.op) * 0x9e3779b97f4a7c15ull ^ uint64_t(k.kind) << 8 ^ k.bits;
        for (unsigned i = 0; i < k.nargs; ++i) h = (h ^ k.args[i]) * 0x100000001b3ull + (h >> 29);
        return static_cast<size_t>(h ^ (h >> 32));
    }
};

class Builder {
public:
    explicit Builder(const Dag& dag) : dag_(dag), map_(dag.nodes.size(), kNone) {}

    Ir build() {
        ir_.names = dag_.names;
        ir_.nodes.reserve(dag_.nodes.size());
        memo_.reserve(dag_.nodes.size());
        for (uint32_t v : dag_.order) map_[v] = lower(dag_.nodes[v]);
        for (const DagOutput& o : dag_.outputs) ir_.outputs.push_back({o.name, map_[o.node], dag_.nodes[o.node].dtype});
        return std::move(ir_);
    }

private:
    uint32_t intern(Op op, Kind kind, std::array<uint32_t, 3> args, uint8_t nargs, uint32_t bits, int64_t dag_id) {
        if (is_commutative(op) && nargs == 2 && args[1] < args[0]) std::swap(args[0], args[1]);
        Key key{op, kind, nargs, args, bits};
        auto [it, fresh] = memo_.emplace(key, static_cast<uint32_t>(ir_.nodes.size()));
        if (fresh) ir_.nodes.push_back(IrNode{op, kind, nargs, args, bits, kNone, dag_id});
        return it->second;
    }

    // Converts an operand to the machine class an op variant needs.
    uint32_t to_kind(uint32_t x, Kind k, int64_t dag_id) {
        if (ir_.nodes[x].kind == k) return x;
        return intern(k == Kind::F ? Op::Itof : Op::Ftoi, k, {x}, 1, 0, dag_id);
    }

    uint32_t lower(const DagNode& n) {
        const Kind rk = kind_of(n.dtype);
        auto arg = [&](unsigned i) { return map_[n.args[i]]; };
        auto arg_dtype = [&](unsigned i) { return dag_.nodes[n.args[i]].dtype; };
        switch (n.op) {
            case Op::Input: {
                const uint32_t idx = static_cast<uint32_t>(ir_.nodes.size());
                ir_.nodes.push_back(IrNode{Op::Input, rk, 0, {}, n.bits, static_cast<uint32_t>(ir_.inputs.size()), n.id});
                ir_.inputs.push_back({n.name, idx, n.dtype});
                return idx;
            }
            case Op::Const: return intern(Op::Const, rk, {}, 0, n.bits, n.id);
            case Op::Cast: {
                const uint32_t x = arg(0);
                const DType from = arg_dtype(0);
                if (n.dtype == DType::Float) return to_kind(x, Kind::F, n.id);
                if (n.dtype == DType::Int) return to_kind(x, Kind::I, n.id);
                if (from == DType::Bool) return x;
                return intern(from == DType::Float ? Op::Ftob : Op::Itob, Kind::I, {x}, 1, 0, n.id);
            }
            case Op::Lt:
            case Op::Le: {
                // a < b is b > a (also for NaN: both false); likewise <=.
                const Kind k = (arg_dtype(0) == DType::Float || arg_dtype(1) == DType::Float) ? Kind::F : Kind::I;
                return intern(n.op == Op::Lt ? Op::Gt : Op::Ge, Kind::I, {to_kind(arg(1), k, n.id), to_kind(arg(0), k, n.id)},
                              2, 0, n.id);
            }
            default: break;
        }
        const OpInfo& info = op_info(n.op);
        Kind operand = rk;
        switch (info.typing) {
            case Typing::Cmp:
                operand = (arg_dtype(0) == DType::Float || arg_dtype(1) == DType::Float) ? Kind::F : Kind::I;
                break;
            case Typing::Bits:
            case Typing::Shift: operand = Kind::I; break;
            case Typing::Fdiv:
            case Typing::Math: operand = Kind::F; break;
            case Typing::Num1: operand = kind_of(arg_dtype(0)); break;
            default: break;  // Num2, Pow, MinMax, Select: operands take the result's class
        }
        if (n.op == Op::Select) {
            uint32_t c = arg(0);
            if (ir_.nodes[c].kind == Kind::F) c = intern(Op::Ftob, Kind::I, {c}, 1, 0, n.id);
            return intern(Op::Select, rk, {c, to_kind(arg(1), rk, n.id), to_kind(arg(2), rk, n.id)}, 3, 0, n.id);
        }
        std::array<uint32_t, 3> args{};
        for (unsigned i = 0; i < n.nargs; ++i) args[i] = to_kind(arg(i), operand, n.id);
        return intern(n.op, result_kind(n.op, operand), args, n.nargs, 0, n.id);
    }

    const Dag& dag_;
    Ir ir_;
    std::vector<uint32_t> map_;  // DAG node index -> IR node index
    std::unordered_map<Key, uint32_t, KeyHash> memo_;
};

}  // namespace

Ir build_ir(const Dag& dag) { return Builder(dag).build(); }

std::vector<uint32_t> linearize(const Ir& ir) {
    std::vector<uint32_t> order;
    std::vector<uint8_t> seen(ir.nodes.size(), 0);
    std::vector<std::pair<uint32_t, uint8_t>> stack;
    for (const IrOutput& out : ir.outputs) {
        if (seen[out.node]) continue;
        seen[out.node] = 1;
        stack.push_back({out.node, 0});
        while (!stack.empty()) {
            auto& [v, k] = stack.back();
            const IrNode& n = ir.nodes[v];
            if (k < n.nargs) {
                const uint32_t w = n.args[k++];
                if (!seen[w]) {
                    seen[w] = 1;
                    stack.push_back({w, 0});
                }
            } else {
                if (n.nargs > 0) order.push_back(v);
                stack.pop_back();
            }
        }
    }
    return order;
}

}  // namespace copapy
