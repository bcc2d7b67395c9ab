#include "plan.hpp"

#include <copapy/image.h>

#include <cassert>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace copapy {

namespace {

class Planner {
public:
    explicit Planner(const Ir& ir) : ir_(ir), uses_(ir.nodes.size(), 0), slot_(ir.nodes.size(), kNone), pool_(ir.nodes.size(), kNone) {}

    Program run(const std::vector<uint32_t>& order) {
        // Inputs first: the host addresses them by name, in file order.
        for (const IrInput& in : ir_.inputs) {
            slot_[in.node] = new_slot(ir_.nodes[in.node].bits);
        }
        index_uses(order);
        // About 2-3 steps per computed node (loads, spills, moves): room for
        // more, as address space, so the steps are not copied as they grow.
        prog_.steps.reserve(3 * order.size() + 2 * ir_.outputs.size() + 4 * ir_.updates.size() + 2);

        emit(name(Entry));
        for (uint32_t v : order) compute(v);
        input_updated_.assign(ir_.inputs.size(), 0);
        for (const IrUpdate& u : ir_.updates)
            if (u.node != ir_.inputs[u.input].node) input_updated_[u.input] = 1;
        output_slot_.reserve(ir_.outputs.size());
        for (const IrOutput& o : ir_.outputs) output_slot_.push_back(settle_output(o));
        apply_updates();
        emit(name(Exit));
        make_symbols();
        return std::move(prog_);
    }

private:
    State state() const { return {kind_[0], kind_[1]}; }

    // Use positions of every value in the order, as compressed rows
    // (use_begin_[v] .. use_begin_[v + 1]); uses_ counts the remaining ones.
    void index_uses(const std::vector<uint32_t>& order) {
        const size_t n = ir_.nodes.size();
        use_begin_.assign(n + 1, 0);
        for (uint32_t v : order)
            for (unsigned k = 0; k < ir_.nodes[v].nargs; ++k) ++use_begin_[ir_.nodes[v].args[k] + 1];
        for (size_t i = 0; i < n; ++i) use_begin_[i + 1] += use_begin_[i];
        use_pos_.resize(use_begin_[n]);
        std::vector<uint32_t> fill(use_begin_.begin(), use_begin_.end() - 1);
        for (uint32_t i = 0; i < order.size(); ++i) {
            const IrNode& node = ir_.nodes[order[i]];
            for (unsigned k = 0; k < node.nargs; ++k) use_pos_[fill[node.args[k]]++] = i;
        }
        for (size_t v = 0; v < n; ++v) uses_[v] = use_begin_[v + 1] - use_begin_[v];
        output_.assign(n, 0);
        for (const IrOutput& o : ir_.outputs) output_[o.node] = 1;
        for (const IrUpdate& u : ir_.updates) output_[u.node] = 1;  // needed at the end of the run
        for (size_t v = 0; v < n; ++v) uses_[v] += output_[v];  // an output is never consumed
    }

    // Position of v's next use (UINT32_MAX: only as an output, or none).
    uint32_t next_use(uint32_t v) const {
        const uint32_t total = use_begin_[v + 1] - use_begin_[v];
        const uint32_t consumed = total - (uses_[v] - output_[v]);
        return consumed < total ? use_pos_[use_begin_[v] + consumed] : UINT32_MAX;
    }

    uint32_t new_slot(uint32_t init) {
        prog_.data.push_back(init);
        return static_cast<uint32_t>((prog_.data.size() - 1) * 4);
    }

    bool in_memory(uint32_t v) const { return ir_.nodes[v].op == Op::Const || slot_[v] != kNone; }

    std::pair<HoleKind, uint32_t> hole_of(uint32_t v) {
        if (slot_[v] != kNone) return {HoleKind::Data, slot_[v]};
        assert(ir_.nodes[v].op == Op::Const);
        if (pool_[v] == kNone) {
            pool_[v] = static_cast<uint32_t>(prog_.consts.size());
            prog_.consts.push_back(ir_.nodes[v].bits);
        }
        return {HoleKind::Const, pool_[v]};
    }

    // Stencil names are interned: each distinct one is built once and steps
    // refer to it. The key packs what determines the name, so that steps
    // need neither string building nor hashing.
    enum Shape : uint32_t { OpReg, OpMem, OpRevMem, UnaryMem, Load, Store, Swap, Dup, Mov, Entry, Exit };
    static uint32_t key(Shape shape, State s, Op op = Op::Input, Kind k = Kind::I, int reg = 0) {
        return (((static_cast<uint32_t>(shape) * 64 + static_cast<uint32_t>(op)) * 4 +
                 (static_cast<uint32_t>(s.r0) * 2 + static_cast<uint32_t>(s.r1))) * 2 + static_cast<uint32_t>(k)) * 2 +
               static_cast<uint32_t>(reg);
    }
    uint32_t name(Shape shape, Op op = Op::Input, Kind k = Kind::I, int reg = 0) {
        const State s = state();
        const uint32_t code = key(shape, s, op, k, reg);
        if (code >= names_.size()) names_.resize(code + 1, kNoName);
        uint32_t& cached = names_[code];
        if (cached == kNoName) {
            std::string made;
            switch (shape) {
                case OpReg: made = op_stencil(op, s); break;
                case OpMem: made = op_mem_stencil(op, s); break;
                case OpRevMem: made = op_rmem_stencil(op, s); break;
                case UnaryMem: made = unary_mem_stencil(op, k, s); break;
                case Load: made = load_stencil(reg, k, s); break;
                case Store: made = store_stencil(reg, s); break;
                case Swap: made = swap_stencil(s); break;
                case Dup: made = dup_stencil(s); break;
                case Mov: made = mov_stencil(s); break;
                case Entry: made = std::string(kEntryStencil); break;
                case Exit: made = std::string(kExitStencil); break;
            }
            cached = static_cast<uint32_t>(prog_.stencil_names.size());
            prog_.stencil_names.push_back(std::move(made));
        }
        return cached;
    }

    void emit(uint32_t stencil, std::pair<HoleKind, uint32_t> hole = {HoleKind::None, 0}) {
        prog_.steps.push_back(Step{stencil, hole.first, state(), hole.second, current_});
    }

    void store(int r) {
        const uint32_t v = reg_[r];
        slot_[v] = new_slot(0);
        emit(name(Store, Op::Input, Kind::I, r), hole_of(v));
        ++prog_.stores;
    }

    // A value in a register that nothing will read again, or that can be
    // reloaded from memory: its register may be reused freely.
    bool expendable(int r) const {
        const uint32_t v = reg_[r];
        return v == kNone || uses_[v] == 0 || in_memory(v) || reg_[1 - r] == v;
    }

    // Is v an operand of the node being computed?
    bool operand(uint32_t v) const {
        if (current_ == kNone || v == kNone) return false;
        const IrNode& n = ir_.nodes[current_];
        for (unsigned k = 0; k < n.nargs; ++k)
            if (n.args[k] == v) return true;
        return false;
    }

    // Before register r is overwritten: keep its value if it is still needed
    // and exists nowhere else. r0's value moves to r1 (one register move
    // instead of a store now and a load later) when r1 may be overwritten:
    // its value is expendable, not an operand of the current node, and the
    // next stencil does not read r1 (reads_r1 = false).
    // When r1 holds another live value, the one used sooner stays in a
    // register (Belady's rule) and the other goes to memory.
    void spill_if_needed(int r, bool reads_r1 = true) {
        const uint32_t v = reg_[r];
        if (expendable(r)) return;
        if (r == 0 && !reads_r1 && !operand(reg_[1])) {
            if (!expendable(1) && next_use(v) < next_use(reg_[1])) store(1);
            if (expendable(1)) {
                emit(name(Dup));
                reg_[1] = v;
                kind_[1] = kind_[0];
                ++prog_.moves;
                return;
            }
        }
        store(r);
    }

    void load(int r, uint32_t v) {
        spill_if_needed(r, /*reads_r1=*/r == 1);
        assert(in_memory(v));
        const Kind k = ir_.nodes[v].kind;
        emit(name(Load, Op::Input, k, r), hole_of(v));
        reg_[r] = v;
        kind_[r] = k;
        ++prog_.loads;
    }

    void swap() {
        emit(name(Swap));
        std::swap(reg_[0], reg_[1]);
        std::swap(kind_[0], kind_[1]);
        ++prog_.moves;
    }

    // r1 = r0 (r1's old value must be expendable).
    void dup() {
        spill_if_needed(1);
        emit(name(Dup));
        reg_[1] = reg_[0];
        kind_[1] = kind_[0];
        ++prog_.moves;
    }

    // Brings v into r0: a move from r1 if it is there (a swap if r0's value
    // must survive), else a load.
    void to_r0(uint32_t v) {
        if (reg_[0] == v) return;
        if (reg_[1] == v) {
            if (expendable(0)) {
                emit(name(Mov));
                reg_[0] = v;
                kind_[0] = kind_[1];
                ++prog_.moves;
            } else {
                swap();
            }
            return;
        }
        load(0, v);
    }

    // The operands have been arranged: they are consumed by this step.
    void consume(const IrNode& n) {
        for (unsigned k = 0; k < n.nargs; ++k) --uses_[n.args[k]];
    }

    // Which variant of the node's stencil computes it.
    enum class Form {
        Reg,       // operands in r0 (and r1)
        Mem,       // r0 op *hole (unary: op(*hole))
        RevMem,    // *hole op r0
    };

    // Emits the computing stencil; the result replaces r0, whose old value is
    // saved first if something still needs it. The stencil is named only
    // after that, since saving may change the register state.
    void finish(uint32_t v, Form form, std::pair<HoleKind, uint32_t> hole = {HoleKind::None, 0}) {
        const IrNode& n = ir_.nodes[v];
        const bool reads_r1 = form == Form::Reg && (n.nargs > 1);
        consume(n);
        spill_if_needed(0, reads_r1);
        uint32_t stencil = 0;
        switch (form) {
            case Form::Reg: stencil = name(OpReg, n.op); break;
            case Form::Mem:
                stencil = n.nargs == 1 ? name(UnaryMem, n.op, ir_.nodes[n.args[0]].kind) : name(OpMem, n.op);
                break;
            case Form::RevMem: stencil = name(OpRevMem, n.op); break;
        }
        emit(stencil, hole);
        if (hole.first != HoleKind::None && ir_.nodes[v].op != Op::Select) ++prog_.loads;
        reg_[0] = v;
        kind_[0] = ir_.nodes[v].kind;
    }

    void compute_unary(uint32_t v, const IrNode& n) {
        const uint32_t a = n.args[0];
        if (reg_[0] != a && reg_[1] == a) to_r0(a);
        if (reg_[0] == a) return finish(v, Form::Reg);
        finish(v, Form::Mem, hole_of(a));  // from memory straight into r0
    }

    // Operands stay counted as used until finish(), so that arranging them
    // never evicts one of them without saving it.
    void compute_binary(uint32_t v, const IrNode& n) {
        uint32_t a = n.args[0], b = n.args[1];
        const bool comm = is_commutative(n.op);
        if (a == b) {  // x op x: both registers
            to_r0(a);
            if (reg_[1] != a) dup();
            return finish(v, Form::Reg);
        }
        if (comm && reg_[0] == b) std::swap(a, b);
        if (reg_[0] == a && reg_[1] == b) return finish(v, Form::Reg);
        if (reg_[0] == a) return finish(v, Form::Mem, hole_of(b));
        if (reg_[0] == b && !comm && in_memory(a)) return finish(v, Form::RevMem, hole_of(a));
        if (comm && reg_[1] == a) std::swap(a, b);  // then b stays in r1 while a comes into r0
        to_r0(a);  // from r1 (a move or swap) or from memory
        if (reg_[1] == b) return finish(v, Form::Reg);
        finish(v, Form::Mem, hole_of(b));  // b is in memory
    }

    // select(c, t, f): c in r0, t in r1, f from memory.
    void compute_select(uint32_t v, const IrNode& n) {
        const uint32_t c = n.args[0], t = n.args[1], f = n.args[2];
        // f must be readable from memory before the registers change.
        if (!in_memory(f)) store(reg_[0] == f ? 0 : 1);
        if (c == t) {
            to_r0(c);
            if (reg_[1] != c) dup();
        } else if (reg_[0] == t && reg_[1] == c) {
            swap();
        } else {
            if (reg_[1] == c && reg_[0] != t) swap();  // c into r0, keeping r0's value in r1
            if (reg_[0] != c) {
                if (reg_[1] == t) load(0, c);
                else to_r0(c);
            }
            if (reg_[1] != t) load(1, t);
        }
        finish(v, Form::Reg, hole_of(f));
    }

    void compute(uint32_t v) {
        const IrNode& n = ir_.nodes[v];
        current_ = v;
        if (n.op == Op::Select) compute_select(v, n);
        else if (n.nargs == 1) compute_unary(v, n);
        else compute_binary(v, n);
        current_ = kNone;
    }

    // Every output must end up in a data slot the host can read.
    // Every output must end up in a data slot the host can read; returns it.
    uint32_t settle_output(const IrOutput& o) {
        const uint32_t v = o.node;
        const IrNode& n = ir_.nodes[v];
        if (n.op == Op::Input && ir_.inputs[n.input].state && updated_state(n.input) &&
            ir_.names[ir_.inputs[n.input].name] != ir_.names[o.name]) {
            // An output that is (or simplified to) a state, under another name:
            // the state's slot changes at the end of the run, so the output
            // keeps this run's value in a slot of its own.
            current_ = v;
            to_r0(v);
            const uint32_t copy = new_slot(0);
            store_to(0, copy);
            current_ = kNone;
            return copy;
        }
        if (slot_[v] != kNone) return slot_[v];
        if (n.op == Op::Const) {
            slot_[v] = new_slot(n.bits);
            return slot_[v];
        }
        assert(reg_[0] == v || reg_[1] == v);
        current_ = v;
        store(reg_[0] == v ? 0 : 1);
        current_ = kNone;
        return slot_[v];
    }

    bool updated_state(uint32_t input) const { return input_updated_[input]; }

    // Stores r into a given data slot (not the value's own).
    void store_to(int r, uint32_t offset) {
        emit(name(Store, Op::Input, Kind::I, r), {HoleKind::Data, offset});
        ++prog_.stores;
    }

    // The end of a run: every state takes its new value. All new values are
    // computed from the old states, so a new value that is itself an updated
    // state (a.next(b); b.next(a)) is copied aside before any state changes.
    void apply_updates() {
        if (ir_.updates.empty()) return;
        std::vector<uint32_t> updated(ir_.nodes.size(), 0);
        for (const IrUpdate& u : ir_.updates) updated[ir_.inputs[u.input].node] = 1;
        std::unordered_map<uint32_t, uint32_t> aside;  // state node -> copy's slot
        for (const IrUpdate& u : ir_.updates) {
            const uint32_t v = u.node;
            if (v == ir_.inputs[u.input].node || !updated[v] || aside.count(v)) continue;
            to_r0(v);
            const uint32_t copy = new_slot(0);
            store_to(0, copy);
            aside.emplace(v, copy);
        }
        for (const IrUpdate& u : ir_.updates) {
            const uint32_t state_node = ir_.inputs[u.input].node;
            const uint32_t v = u.node;
            if (v == state_node) continue;
            int r;
            if (auto it = aside.find(v); it != aside.end()) {
                spill_if_needed(0);
                emit(name(Load, Op::Input, ir_.nodes[v].kind, 0), {HoleKind::Data, it->second});
                reg_[0] = kNone;  // a copy, not the state's current value
                kind_[0] = ir_.nodes[v].kind;
                ++prog_.loads;
                r = 0;
            } else {
                if (reg_[0] != v && reg_[1] != v) to_r0(v);
                r = reg_[0] == v ? 0 : 1;
            }
            store_to(r, slot_[state_node]);
            // The state's slot now holds the new value: registers holding the
            // old one are stale for anything read later in this run.
            for (int k = 0; k < 2; ++k)
                if (reg_[k] == state_node) reg_[k] = kNone;
        }
    }

    void make_symbols() {
        std::unordered_map<std::string_view, size_t> input_symbol;  // name -> index in symbols
        for (const IrInput& in : ir_.inputs) {
            input_symbol.emplace(ir_.names[in.name], prog_.symbols.size());
            // A state is written by the host before a run and read after it.
            uint8_t flags = in.state ? (CP_SYM_INPUT | CP_SYM_OUTPUT | CP_SYM_STATE) : CP_SYM_INPUT;
            if (in.declared || in.proven) flags |= CP_SYM_RANGE;  // hosts refuse to write values outside it
            prog_.symbols.push_back({ir_.names[in.name], slot_[in.node], in.dtype, flags, in.lo, in.hi});
        }
        for (const IrOutput& o : ir_.outputs) {
            // An output named like its input (a value read back) shares the
            // symbol; the reader guarantees that both then refer to one node.
            if (auto it = input_symbol.find(ir_.names[o.name]); it != input_symbol.end()) {
                prog_.symbols[it->second].flags |= CP_SYM_OUTPUT;
                continue;
            }
            prog_.symbols.push_back({ir_.names[o.name], output_slot_[&o - ir_.outputs.data()], o.dtype, CP_SYM_OUTPUT});
        }
    }

    const Ir& ir_;
    Program prog_;
    std::vector<uint32_t> uses_;  // remaining uses (outputs count once, forever)
    std::vector<uint32_t> use_begin_, use_pos_;
    std::vector<uint8_t> output_;
    static constexpr uint32_t kNoName = UINT32_MAX;
    std::vector<uint32_t> names_;  // key() -> index of the interned stencil name in stencil_names
    std::vector<uint32_t> output_slot_;    // data offset of each output
    std::vector<uint8_t> input_updated_;   // per input: a state whose value changes at the end of a run
    std::vector<uint32_t> slot_;  // data offset of a value in memory, or kNone
    std::vector<uint32_t> pool_;  // constant pool index, or kNone
    uint32_t reg_[2] = {kNone, kNone};
    Kind kind_[2] = {Kind::I, Kind::I};  // the entry stencil leaves state ii
    uint32_t current_ = kNone;
};

}  // namespace

Program plan(const Ir& ir, const std::vector<uint32_t>& order) { return Planner(ir).run(order); }

}  // namespace copapy
