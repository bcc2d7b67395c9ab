#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <string>
#include <unordered_map>

#include "ir.hpp"

// Generated from the op table into the build tree (stencils/fold.c).
extern "C" int cp_fold(int op, int kind, uint32_t x, uint32_t y, uint32_t z, uint32_t* out);

namespace copapy {

namespace {

constexpr uint32_t kFloatOne = 0x3f80'0000, kFloatMinusZero = 0x8000'0000;

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
        // Finalizer (murmur3's fmix64): the table masks the low bits, which
        // must depend on every input bit (constants differ in high bits).
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53ull;
        h ^= h >> 33;
        return static_cast<size_t>(h);
    }
};

class Builder {
public:
    Builder(const Dag& dag, int opt_level, std::span<const Binding> bindings)
        : dag_(dag), opt_(opt_level), map_(dag.nodes.size(), kNone) {
        for (const DagRange& r : dag.ranges) declared_.emplace(r.node, r);
        for (const Binding& b : bindings) bound_.emplace(b.name, &b);
    }

    Ir build() {
        ir_.names = dag_.names;
        ir_.files = dag_.files;
        ir_.nodes.reserve(dag_.nodes.size());
        // At most 3/4 full (tagged entries make long probes cheap): room for
        // about as many nodes as the DAG has without growing.
        size_t cap = 1024;
        while (cap * 3 < 4 * dag_.nodes.size()) cap *= 2;
        table_.assign(cap, kEmpty);
        // Each node's probe is prefetched kAhead nodes early, or, if one of
        // its operands is not lowered by then (often: operands are recent),
        // as soon as they all are.
        constexpr size_t kAhead = 8;  // nodes: about a memory latency of lowering
        const std::vector<uint32_t>& order = dag_.order;
        std::array<size_t, kAhead> waiting{};  // positions in `order`
        size_t waiting_count = 0;
        for (size_t i = 0; i < order.size(); ++i) {
            for (size_t w = 0; w < waiting_count;)
                if (waiting[w] <= i || prefetch(dag_.nodes[order[waiting[w]]])) waiting[w] = waiting[--waiting_count];
                else ++w;
            if (i + kAhead < order.size() && !prefetch(dag_.nodes[order[i + kAhead]]))
                waiting[waiting_count++] = i + kAhead;
            if (!dag_.locs.empty()) loc_ = dag_.locs[order[i]];
            map_[order[i]] = lower(dag_.nodes[order[i]]);
        }
        for (uint32_t i = 0; i < dag_.nodes.size(); ++i) {
            if (dag_.nodes[i].id == i) continue;
            ir_.dag_ids.reserve(dag_.nodes.size());  // ids other than the indices: all of them, for messages
            for (const DagNode& n : dag_.nodes) ir_.dag_ids.push_back(n.id);
            break;
        }
        // Bound inputs in file order (lowering met them in operand order).
        std::stable_sort(ir_.bindings.begin(), ir_.bindings.end(), [&](const IrBinding& x, const IrBinding& y) {
            return ir_.nodes[x.node].dag_node < ir_.nodes[y.node].dag_node;
        });
        for (const DagOutput& o : dag_.outputs) {
            const DType dtype = dag_.nodes[o.node].dtype;
            const Binding* b = binding(o.name);
            // An output named after its input is that input: bound as one.
            const DagNode& n = dag_.nodes[o.node];
            if (b && !(n.op == Op::Input && dag_.names[n.name] == dag_.names[o.name])) bind_output(o, dtype, *b);
            else ir_.outputs.push_back({o.name, map_[o.node], dtype});
        }
        for (const DagUpdate& u : dag_.updates) ir_.updates.push_back({ir_.nodes[map_[u.state]].input, map_[u.node]});
        return std::move(ir_);
    }

private:
    // A new node, made while lowering the DAG node at loc_ (merged nodes
    // keep the location of the first one made).
    void push(const IrNode& node) {
        ir_.nodes.push_back(node);
        if (!dag_.locs.empty()) ir_.locs.push_back(loc_);
    }

    uint32_t intern(Op op, Kind kind, std::array<uint32_t, 3> args, uint8_t nargs, uint32_t bits, uint32_t dag_node) {
        if (is_commutative(op) && nargs == 2 && args[1] < args[0]) std::swap(args[0], args[1]);
        if (op != Op::Const && opt_ >= 1) {
            if (auto folded = fold(op, args, nargs, dag_node)) return *folded;
            if (opt_ >= 2)
                if (auto same = simplify(op, kind, args, nargs, dag_node)) return *same;
        }
        if (opt_ == 0 && op != Op::Const) {
            push(IrNode{op, kind, nargs, args, bits, kNone, dag_node});
            return static_cast<uint32_t>(ir_.nodes.size() - 1);
        }
        const Key key{op, kind, nargs, args, bits};
        const uint64_t hash = KeyHash{}(key);
        uint64_t* slot = probe(key, hash);
        if (*slot == kEmpty) {
            const uint32_t index = static_cast<uint32_t>(ir_.nodes.size());
            *slot = entry(hash, index);
            push(IrNode{op, kind, nargs, args, bits, kNone, dag_node});
            if (++table_used_ * 4 > table_.size() * 3) grow();
            return index;
        }
        return static_cast<uint32_t>(*slot);
    }

    // Brings the table slot that lowering `n` will most likely probe into
    // the cache ahead of time: a large program's table is far bigger than
    // the cache, and the probe would otherwise wait for memory once per
    // node. The key is guessed from the common path of lower() (operands
    // that need no conversion); a wrong guess costs only the prefetch.
    // False if an operand is not lowered yet (nothing was fetched).
    bool prefetch(const DagNode& n) const {
        Key k{n.op, kind_of(n.dtype), n.nargs, {}, 0};
        if (n.op == Op::Const) {
            k.bits = n.bits;
        } else {
            if (is_leaf(n.op) || n.op == Op::Cast || n.op == Op::Lt || n.op == Op::Le || n.nargs == 0) return true;
            for (unsigned i = 0; i < n.nargs; ++i) {
                k.args[i] = map_[n.args[i]];
                if (k.args[i] == kNone) return false;
            }
            k.kind = result_kind(n.op, ir_.nodes[k.args[n.op == Op::Select ? 1 : 0]].kind);
            if (is_commutative(n.op) && n.nargs == 2 && k.args[1] < k.args[0]) std::swap(k.args[0], k.args[1]);
        }
        __builtin_prefetch(&table_[KeyHash{}(k) & (table_.size() - 1)]);
        return true;
    }

    // Hash-consing table: open addressing; an entry is a node index with the
    // upper half of its key's hash, so that a probe reads a node (a cache
    // miss in a large program) only when the hashes agree.
    static constexpr uint64_t kEmpty = UINT64_MAX;
    static uint64_t entry(uint64_t hash, uint32_t index) { return (hash & 0xffff'ffff'0000'0000ull) | index; }
    static bool same(const IrNode& n, const Key& k) {
        return n.op == k.op && n.kind == k.kind && n.nargs == k.nargs && n.args == k.args && n.bits == k.bits &&
               n.input == kNone;
    }
    static Key key_of(const IrNode& n) { return Key{n.op, n.kind, n.nargs, n.args, n.bits}; }
    uint64_t* probe(const Key& k, uint64_t hash) {
        const size_t mask = table_.size() - 1;
        const uint64_t tag = hash & 0xffff'ffff'0000'0000ull;
        for (size_t i = hash & mask;; i = (i + 1) & mask) {
            const uint64_t e = table_[i];
            if (e == kEmpty || ((e & 0xffff'ffff'0000'0000ull) == tag && same(ir_.nodes[static_cast<uint32_t>(e)], k)))
                return &table_[i];
        }
    }
    void grow() {
        std::vector<uint64_t> old = std::move(table_);
        table_.assign(old.size() * 2, kEmpty);
        const size_t mask = table_.size() - 1;
        for (uint64_t e : old) {
            if (e == kEmpty) continue;
            size_t i = KeyHash{}(key_of(ir_.nodes[static_cast<uint32_t>(e)])) & mask;
            while (table_[i] != kEmpty) i = (i + 1) & mask;  // every entry is distinct
            table_[i] = e;
        }
    }

    bool is_const(uint32_t x) const { return ir_.nodes[x].op == Op::Const; }
    bool is_const(uint32_t x, uint32_t bits) const { return is_const(x) && ir_.nodes[x].bits == bits; }
    uint32_t constant(Kind k, uint32_t bits, uint32_t dag_node) { return intern(Op::Const, k, {}, 0, bits, dag_node); }

    // All operands constant: evaluate now, exactly as the stencil would.
    // Not for ops backed by libm (sin, powf, ...; the Libm flag of ops.def):
    // the host's libm may differ from the target's by an ulp, and images must
    // not depend on the host. Exact ones (sqrt, floor, round, fmodf in mod)
    // give the same bits everywhere, so they fold.
    std::optional<uint32_t> fold(Op op, const std::array<uint32_t, 3>& args, uint8_t nargs, uint32_t dag_node) {
        // Only the float variant calls libm (int pow is exact).
        if ((op_info(op).flags & Libm) && ir_.nodes[args[0]].kind == Kind::F) return std::nullopt;
        for (unsigned i = 0; i < nargs; ++i)
            if (!is_const(args[i])) return std::nullopt;
        const Kind operand = ir_.nodes[args[op == Op::Select ? 1 : 0]].kind;
        uint32_t out = 0;
        if (!cp_fold(static_cast<int>(op), operand == Kind::F, ir_.nodes[args[0]].bits,
                     nargs > 1 ? ir_.nodes[args[1]].bits : 0, nargs > 2 ? ir_.nodes[args[2]].bits : 0, &out))
            return std::nullopt;
        return constant(result_kind(op, operand), out, dag_node);
    }

    // Identities that hold for every operand value, NaN and signed zeros
    // included (so x + 0.0 is not one: -0.0 + 0.0 is +0.0).
    std::optional<uint32_t> simplify(Op op, Kind kind, const std::array<uint32_t, 3>& a, uint8_t nargs,
                                     uint32_t dag_node) {
        const uint32_t x = a[0], y = a[1];
        // Commutative ops have their operands sorted by index, and constants
        // can sit on either side: look at both.
        auto either = [&](uint32_t bits) -> std::optional<uint32_t> {
            if (is_const(y, bits)) return x;
            if (is_commutative(op) && is_const(x, bits)) return y;
            return std::nullopt;
        };
        if (nargs == 1 && op == Op::Neg && ir_.nodes[x].op == Op::Neg) return ir_.nodes[x].args[0];
        if (op == Op::Select) {
            if (is_const(x)) return ir_.nodes[x].bits ? a[1] : a[2];
            if (a[1] == a[2]) return a[1];
            return std::nullopt;
        }
        if (nargs != 2) return std::nullopt;
        const Kind operand = ir_.nodes[x].kind;
        if (operand == Kind::I) {
            switch (op) {
                case Op::Add:
                case Op::Or:
                case Op::Xor: return either(0);
                case Op::Sub:
                case Op::Lshift:
                case Op::Rshift:
                    if (is_const(y, 0)) return x;
                    if (op == Op::Sub && x == y) return constant(Kind::I, 0, dag_node);
                    return std::nullopt;
                case Op::Mul:
                    if (auto r = either(1)) return r;
                    if (is_const(x, 0) || is_const(y, 0)) return constant(Kind::I, 0, dag_node);
                    return std::nullopt;
                case Op::And:
                    if (is_const(x, 0) || is_const(y, 0)) return constant(Kind::I, 0, dag_node);
                    return x == y ? std::optional(x) : std::nullopt;
                case Op::Floordiv: return is_const(y, 1) ? std::optional(x) : std::nullopt;
                case Op::Mod: return is_const(y, 1) ? std::optional(constant(Kind::I, 0, dag_node)) : std::nullopt;
                case Op::Pow:
                    if (is_const(y, 1)) return x;
                    if (is_const(y, 0)) return constant(Kind::I, 1, dag_node);
                    if (is_const(y, 2)) return intern(Op::Mul, kind, {x, x}, 2, 0, dag_node);
                    return std::nullopt;
                case Op::Min:
                case Op::Max: return x == y ? std::optional(x) : std::nullopt;
                default: return std::nullopt;
            }
        }
        switch (op) {
            case Op::Add: return either(kFloatMinusZero);  // x + -0.0 == x, also for x = -0.0
            case Op::Sub: return is_const(y, 0) ? std::optional(x) : std::nullopt;  // x - +0.0 == x
            case Op::Mul:  // (not x * -1 -> -x: negation also flips a NaN's sign bit)
                return either(kFloatOne);
            case Op::Div: return is_const(y, kFloatOne) ? std::optional(x) : std::nullopt;
            case Op::Pow:
                // powf(x, 1) == x and powf(x, 0) == 1 (even for NaN) exactly;
                // x * x is the correctly rounded square, which powf approximates
                // within an ulp (same overflow and signed zeros).
                if (is_const(y, kFloatOne)) return x;
                if (is_const(y, 0) || is_const(y, kFloatMinusZero)) return constant(Kind::F, kFloatOne, dag_node);
                if (is_const(y, 0x4000'0000)) return intern(Op::Mul, kind, {x, x}, 2, 0, dag_node);
                return std::nullopt;
            default: return std::nullopt;
        }
    }

    const Binding* binding(uint32_t name) const {
        if (bound_.empty()) return nullptr;
        auto it = bound_.find(dag_.names[name]);
        return it == bound_.end() ? nullptr : it->second;
    }

    // An I/O node: pushed, not interned, so it is never folded or merged.
    // Its address operand is a constant of the value's class holding the
    // address's bits (a float access takes its address from a float operand:
    // an op's stencil has operands of one class).
    uint32_t push_io(Op op, Kind k, uint32_t value, const Binding& b, uint32_t dag_node) {
        const uint32_t addr = constant(k, static_cast<uint32_t>(b.address), dag_node);
        push(value == kNone ? IrNode{op, k, 1, {addr}, 0, kNone, dag_node}
                            : IrNode{op, k, 2, {value, addr}, 0, kNone, dag_node});
        return static_cast<uint32_t>(ir_.nodes.size() - 1);
    }

    static Op io_op(bool store, unsigned width) {
        if (width == 8) return store ? Op::IoStore8 : Op::IoLoad8;
        if (width == 16) return store ? Op::IoStore16 : Op::IoLoad16;
        return store ? Op::IoStore32 : Op::IoLoad32;
    }

    uint32_t bind_input(const DagNode& n, uint32_t at, const Binding& b) {
        const Kind k = kind_of(n.dtype);
        const uint32_t load = push_io(io_op(false, b.width), k, kNone, b, at);
        ir_.bindings.push_back({n.name, static_cast<uint32_t>(b.address), static_cast<uint8_t>(b.width), n.dtype, false, load});
        // A bool reads as 0 or 1 whatever the register holds.
        return n.dtype == DType::Bool ? intern(Op::Itob, Kind::I, {load}, 1, 0, at) : load;
    }

    void bind_output(const DagOutput& o, DType dtype, const Binding& b) {
        if (!dag_.locs.empty()) loc_ = dag_.locs[o.node];  // where the stored value was made
        const uint32_t value = map_[o.node];
        const uint32_t store = push_io(io_op(true, b.width), ir_.nodes[value].kind, value, b, o.node);
        ir_.bindings.push_back({o.name, static_cast<uint32_t>(b.address), static_cast<uint8_t>(b.width), dtype, true, store});
    }

    // Converts an operand to the machine class an op variant needs.
    uint32_t to_kind(uint32_t x, Kind k, uint32_t dag_node) {
        if (ir_.nodes[x].kind == k) return x;
        return intern(k == Kind::F ? Op::Itof : Op::Ftoi, k, {x}, 1, 0, dag_node);
    }

    uint32_t lower(const DagNode& n) {
        const uint32_t at = static_cast<uint32_t>(&n - dag_.nodes.data());  // what the made nodes came from
        const Kind rk = kind_of(n.dtype);
        auto arg = [&](unsigned i) { return map_[n.args[i]]; };
        auto arg_dtype = [&](unsigned i) { return dag_.nodes[n.args[i]].dtype; };
        switch (n.op) {
            case Op::Input:
                if (const Binding* b = binding(n.name)) return bind_input(n, at, *b);
                [[fallthrough]];
            case Op::State: {  // a state is an input whose slot the program also writes
                const uint32_t idx = static_cast<uint32_t>(ir_.nodes.size());
                push(IrNode{Op::Input, rk, 0, {}, n.bits, static_cast<uint32_t>(ir_.inputs.size()), at});
                IrInput in{n.name, idx, n.dtype, n.op == Op::State};
                if (auto r = declared_.find(at); r != declared_.end()) {
                    in.declared = true;
                    in.lo = r->second.lo;
                    in.hi = r->second.hi;
                }
                ir_.inputs.push_back(in);
                return idx;
            }
            case Op::Const: return intern(Op::Const, rk, {}, 0, n.bits, at);
            case Op::Cast: {
                const uint32_t x = arg(0);
                const DType from = arg_dtype(0);
                if (n.dtype == DType::Float) return to_kind(x, Kind::F, at);
                if (n.dtype == DType::Int) return to_kind(x, Kind::I, at);
                if (from == DType::Bool) return x;
                return intern(from == DType::Float ? Op::Ftob : Op::Itob, Kind::I, {x}, 1, 0, at);
            }
            case Op::Lt:
            case Op::Le: {
                // a < b is b > a (also for NaN: both false); likewise <=.
                const Kind k = (arg_dtype(0) == DType::Float || arg_dtype(1) == DType::Float) ? Kind::F : Kind::I;
                return intern(n.op == Op::Lt ? Op::Gt : Op::Ge, Kind::I, {to_kind(arg(1), k, at), to_kind(arg(0), k, at)},
                              2, 0, at);
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
            if (ir_.nodes[c].kind == Kind::F) c = intern(Op::Ftob, Kind::I, {c}, 1, 0, at);
            return intern(Op::Select, rk, {c, to_kind(arg(1), rk, at), to_kind(arg(2), rk, at)}, 3, 0, at);
        }
        std::array<uint32_t, 3> args{};
        for (unsigned i = 0; i < n.nargs; ++i) args[i] = to_kind(arg(i), operand, at);
        return intern(n.op, result_kind(n.op, operand), args, n.nargs, 0, at);
    }

    const Dag& dag_;
    const int opt_;
    Ir ir_;
    std::vector<uint32_t> map_;  // DAG node index -> IR node index
    std::unordered_map<uint32_t, DagRange> declared_;  // DAG node index -> its declared range
    std::unordered_map<std::string, const Binding*> bound_;  // bound name -> its binding
    SourceLoc loc_;              // location of the DAG node being lowered
    std::vector<uint64_t> table_;  // see probe()
    size_t table_used_ = 0;
};

}  // namespace

Ir build_ir(const Dag& dag, int opt_level, std::span<const Binding> bindings) {
    return Builder(dag, opt_level, bindings).build();
}

std::vector<uint32_t> linearize(const Ir& ir) {
    std::vector<uint32_t> order;
    order.reserve(ir.nodes.size());  // address space: at most every node
    std::vector<uint8_t> seen(ir.nodes.size(), 0);
    std::vector<std::pair<uint32_t, uint8_t>> stack;
    std::vector<uint32_t> roots;
    roots.reserve(ir.outputs.size() + ir.updates.size() + 2 * ir.bindings.size());
    for (const IrBinding& b : ir.bindings)
        if (!b.output) roots.push_back(b.node);
    for (const IrOutput& out : ir.outputs) roots.push_back(out.node);
    for (const IrUpdate& u : ir.updates) roots.push_back(u.node);
    // The stored values first, so that the stores come last, together.
    for (const IrBinding& b : ir.bindings)
        if (b.output) roots.push_back(ir.nodes[b.node].args[0]);
    for (const IrBinding& b : ir.bindings)
        if (b.output) roots.push_back(b.node);
    for (uint32_t root : roots) {
        if (seen[root]) continue;
        seen[root] = 1;
        stack.push_back({root, 0});
        while (!stack.empty()) {
            auto& [v, k] = stack.back();
            const IrNode& n = ir.nodes[v];
            if (k == 0)  // the operands are visited next: fetch them while the first is
                for (unsigned i = 1; i < n.nargs; ++i) __builtin_prefetch(&ir.nodes[n.args[i]]);
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

std::string copapy::source_location(const Ir& ir, uint32_t v) {
    if (v >= ir.locs.size() || ir.locs[v].line == 0 || ir.locs[v].file >= ir.files.size()) return "";
    return fmt::format("{}:{}", ir.files[ir.locs[v].file], ir.locs[v].line);
}
