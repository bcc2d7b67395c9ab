#include "plan.hpp"

#include <copapy/image.h>

#include <algorithm>
#include <cassert>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace copapy {

namespace {

class Planner {
public:
    Planner(const Ir& ir, int float_parks)
        : ir_(ir), uses_(ir.nodes.size(), 0), slot_(ir.nodes.size(), kNone), pool_(ir.nodes.size(), kNone),
          park_of_(ir.nodes.size(), kNoPark), park_(static_cast<size_t>(float_parks), kNone) {}

    Program run(const std::vector<uint32_t>& order) {
        // Inputs first: the host addresses them by name, in file order.
        for (const IrInput& in : ir_.inputs) {
            slot_[in.node] = new_slot(ir_.nodes[in.node].bits);
        }
        index_uses(order);
        order_ = &order;
        // About 2-3 steps per computed node (loads, spills, moves): room for
        // more, as address space, so the steps are not copied as they grow.
        prog_.steps.reserve(3 * order.size() + 2 * ir_.outputs.size() + 4 * ir_.updates.size() + 2);

        emit(name(Entry));
        for (pos_ = 0; pos_ < order.size(); ++pos_) compute(order[pos_]);
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

    // ---- Park registers (lib/ops/ops.hpp) ----------------------------------
    // Float values wait in parks instead of memory: using a parked value as
    // an operand is one register operation, from memory a load first (on the
    // load/store ISAs). Parks are managed by Belady's rule, like r0/r1.
    static constexpr uint8_t kNoPark = 0xff;
    int parked(uint32_t v) const { return v == kNone || park_of_[v] == kNoPark ? -1 : park_of_[v]; }
    bool elsewhere(uint32_t v) const { return in_memory(v) || parked(v) >= 0; }

    // The park to put float value v in, or -1 (Belady's rule, as for r0/r1):
    // an empty park or one whose value is dead, else the park whose value is
    // needed latest, if that is later than v's next use, preferring one whose
    // value is in memory too (dropped without a store). need_free: only
    // parks that cost no store. A value needed only as an output is not worth
    // a park (a store now is cheaper than a move now and a store later), and
    // the park the next stencil reads (pinned_park_) is never chosen.
    int choose_park(uint32_t v, bool need_free) const {
        if (park_.empty() || ir_.nodes[v].kind != Kind::F) return -1;
        const uint32_t mine = next_use(v);
        if (mine == UINT32_MAX) return -1;
        int best = -1, best_class = -1;
        uint32_t best_next = 0;
        for (int k = 0; k < static_cast<int>(park_.size()); ++k) {
            if (k == pinned_park_ || k == pinned_park2_) continue;
            const uint32_t w = park_[k];
            int cls = 3;  // empty or dead
            uint32_t next = UINT32_MAX;
            if (w != kNone && uses_[w] != 0) {
                next = next_use(w);
                if (next <= mine) continue;  // needed sooner than v: it stays
                // (A copy in a register does not count: that register may
                // be overwritten before anything looks again.)
                const bool free = in_memory(w);
                if (need_free && !free) continue;
                cls = free ? 2 : 1;
            }
            if (cls > best_class || (cls == best_class && next > best_next)) {
                best = k;
                best_class = cls;
                best_next = next;
            }
        }
        return best;
    }

    // Empties park k, storing its value first if that is needed and exists
    // nowhere else.
    void evict_park(int k) {
        const uint32_t w = park_[k];
        if (w == kNone) return;
        if (uses_[w] > 0 && !in_memory(w)) {
            slot_[w] = new_slot(0);
            emit(name(ParkStore, Op::Input, Kind::F, 0, k), hole_of(w));
            ++prog_.stores;
        }
        park_of_[w] = kNoPark;
        park_[k] = kNone;
    }

    void set_park(int k, uint32_t v) {
        park_[k] = v;
        park_of_[v] = static_cast<uint8_t>(k);
    }

    // Stores a parked value to memory (its park keeps it too).
    void store_park(uint32_t v) {
        slot_[v] = new_slot(0);
        emit(name(ParkStore, Op::Input, Kind::F, 0, parked(v)), hole_of(v));
        ++prog_.stores;
    }

    // Register r's value must survive being overwritten: into a park if one
    // is worth it, else to memory.
    void spill(int r) {
        const uint32_t v = reg_[r];
        const int k = choose_park(v, /*need_free=*/false);
        if (k < 0) return store(r);
        evict_park(k);
        emit(name(ParkPut, Op::Input, Kind::F, r, k));
        set_park(k, v);
        ++prog_.moves;
    }

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
    enum Shape : uint32_t {
        OpReg, OpMem, OpRevMem, UnaryMem, Load, Store, Swap, Dup, Mov, Entry, Exit,
        ParkGet, ParkPut, ParkStore, ParkLoad, OpPark, OpRevPark, OpTo1, OpRevReg,
        MlaR1Mem, MlaR1Park, MlaParkMem, MlaParkPark, MlaTo1Mem, MlaTo1Park,
    };
    static uint32_t key(Shape shape, State s, Op op, Kind k, int reg) {
        static_assert(static_cast<uint32_t>(Op::State) < 64, "the key's op field is wide enough");
        return (((static_cast<uint32_t>(shape) * 64 + static_cast<uint32_t>(op)) * 4 +
                 (static_cast<uint32_t>(s.r0) * 2 + static_cast<uint32_t>(s.r1))) * 2 + static_cast<uint32_t>(k)) * 2 +
               static_cast<uint32_t>(reg);
    }
    static bool park_shape(Shape shape) {
        return (shape >= ParkGet && shape <= OpRevPark) || shape == MlaR1Park || shape == MlaParkMem ||
               shape == MlaParkPark || shape == MlaTo1Park;
    }
    uint32_t name(Shape shape, Op op = Op::Input, Kind k = Kind::I, int reg = 0, int park = 0) {
        const State s = state();
        const uint32_t code = key(shape, s, op, k, reg);
        // The stencils of a park are looked up by key and park in a map: a
        // table over every park would be larger than a small program's
        // whole compilation is worth clearing.
        uint32_t* slot = nullptr;
        if (park_shape(shape)) {
            // (park: a park, or for two parks p * kMaxParks + q)
            slot = &park_names_.try_emplace(code * kMaxParks * kMaxParks + static_cast<uint32_t>(park), kNoName)
                        .first->second;
        } else {
            if (code >= names_.size()) names_.resize(code + 1, kNoName);
            slot = &names_[code];
        }
        uint32_t& cached = *slot;
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
                case ParkGet: made = park_get_stencil(reg, park, s); break;
                case ParkPut: made = park_put_stencil(reg, park, s); break;
                case ParkStore: made = park_store_stencil(park, s); break;
                case ParkLoad: made = park_load_stencil(park, s); break;
                case OpPark: made = op_park_stencil(op, park, s); break;
                case OpRevPark: made = op_rpark_stencil(op, park, s); break;
                case OpTo1: made = op_to1_stencil(op, s); break;
                case OpRevReg: made = op_rreg_stencil(op, s); break;
                case MlaR1Mem: made = mla_r1_mem_stencil(); break;
                case MlaR1Park: made = mla_r1_park_stencil(park); break;
                case MlaParkMem: made = mla_park_mem_stencil(park, s); break;
                case MlaTo1Mem: made = mla_to1_mem_stencil(); break;
                case MlaTo1Park: made = mla_to1_park_stencil(park); break;
                case MlaParkPark: made = mla_park_park_stencil(park / kMaxParks, park % kMaxParks); break;
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
        return v == kNone || uses_[v] == 0 || elsewhere(v) || reg_[1 - r] == v;
    }

    // Is v an operand of the node being computed (or of the multiplication
    // fused into it)?
    bool operand(uint32_t v) const {
        if (current_ == kNone || v == kNone) return false;
        for (uint32_t node : {current_, fused_}) {
            if (node == kNone) continue;
            const IrNode& n = ir_.nodes[node];
            for (unsigned k = 0; k < n.nargs; ++k)
                if (n.args[k] == v) return true;
        }
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
            if (!expendable(1) && next_use(v) < next_use(reg_[1])) spill(1);
            if (expendable(1)) {
                emit(name(Dup));
                reg_[1] = v;
                kind_[1] = kind_[0];
                ++prog_.moves;
                return;
            }
        }
        spill(r);
    }

    // Register r = v, from its park or from memory.
    void load(int r, uint32_t v) {
        const int k = parked(v);
        const int saved_pin = pinned_park_;
        if (k >= 0) pinned_park_ = k;  // spilling r must not reuse v's park
        spill_if_needed(r, /*reads_r1=*/r == 1);
        pinned_park_ = saved_pin;
        const Kind kind = ir_.nodes[v].kind;
        if (k >= 0) {
            emit(name(ParkGet, Op::Input, kind, r, k));
            ++prog_.moves;
        } else {
            assert(in_memory(v));
            emit(name(Load, Op::Input, kind, r), hole_of(v));
            ++prog_.loads;
        }
        reg_[r] = v;
        kind_[r] = kind;
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
        RevReg,    // r1 op r0
        Mem,       // r0 op *hole (unary: op(*hole))
        RevMem,    // *hole op r0
        Park,      // r0 op park (select: r0 ? r1 : park)
        RevPark,   // park op r0
    };

    // Emits the computing stencil; the result replaces r0, whose old value is
    // saved first if something still needs it. The stencil is named only
    // after that, since saving may change the register state.
    void finish(uint32_t v, Form form, std::pair<HoleKind, uint32_t> hole = {HoleKind::None, 0}, int park = -1) {
        const IrNode& n = ir_.nodes[v];
        const Kind operand_kind = ir_.nodes[n.args[n.op == Op::Select ? 1 : 0]].kind;
        // A stencil that calls a library function leaves r1 unspecified.
        const bool clobbers_r1 = op_calls(n.op, operand_kind);
        const bool reads_r1 = (form == Form::Reg && n.nargs > 1) || form == Form::RevReg || n.op == Op::Select || clobbers_r1;
        consume(n);
        if (form == Form::Reg && n.nargs == 2 && n.op != Op::Select && to_r1_pays(v, operand_kind)) {
            emit(name(OpTo1, n.op));
            reg_[1] = v;
            kind_[1] = n.kind;
            return;
        }
        const int saved_pin = pinned_park_;
        pinned_park_ = park;  // the stencil reads it after r0 is saved
        // r1's value is lost too: saved first unless it exists elsewhere
        // (r0 does not count, it is about to be overwritten).
        if (const uint32_t w = reg_[1]; clobbers_r1 && w != kNone && uses_[w] > 0 && !elsewhere(w)) spill(1);
        spill_if_needed(0, reads_r1);
        pinned_park_ = saved_pin;
        uint32_t stencil = 0;
        switch (form) {
            case Form::Reg: stencil = name(OpReg, n.op); break;
            case Form::RevReg: stencil = name(OpRevReg, n.op); break;
            case Form::Mem:
                stencil = n.nargs == 1 ? name(UnaryMem, n.op, ir_.nodes[n.args[0]].kind) : name(OpMem, n.op);
                break;
            case Form::RevMem: stencil = name(OpRevMem, n.op); break;
            case Form::Park: stencil = name(OpPark, n.op, Kind::F, 0, park); break;
            case Form::RevPark: stencil = name(OpRevPark, n.op, Kind::F, 0, park); break;
        }
        emit(stencil, hole);
        if (hole.first != HoleKind::None && ir_.nodes[v].op != Op::Select) ++prog_.loads;
        reg_[0] = v;
        kind_[0] = ir_.nodes[v].kind;
        if (clobbers_r1) reg_[1] = kNone;
    }

    // Should binary node v (operands in r0, r1, consumed) leave its result in
    // r1 (r1 = r0 op r1, r0 kept)? When r1's operand is no longer needed
    // there, and either r0's value is still needed (no save) or the next
    // node does not read v (the value would otherwise move to r1 before the
    // next load into r0; an output only is stored from either register).
    bool to_r1_pays(uint32_t v, Kind operand_kind) const {
        if (!has_to1_variant(ir_.nodes[v].op, operand_kind) || !expendable(1) || uses_[v] == 0) return false;
        return !expendable(0) || next_use(v) != pos_ + 1;
    }

    void compute_unary(uint32_t v, const IrNode& n) {
        const uint32_t a = n.args[0];
        if (reg_[0] != a && (reg_[1] == a || parked(a) >= 0)) to_r0(a);
        if (reg_[0] == a) return finish(v, Form::Reg);
        finish(v, Form::Mem, hole_of(a));  // from memory straight into r0
    }

    // Can node n take operand x from a park?
    bool park_operand(const IrNode& n, uint32_t x) const {
        return !park_.empty() && ir_.nodes[x].kind == Kind::F && has_park_variant(n.op);
    }

    // Finishes binary node v whose other operand x is not in a register: from
    // its park, or from memory. rev: x is the left operand (x op r0). A value
    // read from memory that is used again goes through a park for free
    // (a park load instead of the stencil's own load, where a park costs no
    // store), so later uses find it there.
    void finish_with_operand(uint32_t v, uint32_t x, bool rev) {
        const IrNode& n = ir_.nodes[v];
        int k = parked(x);
        if (k < 0 && park_operand(n, x) && uses_[x] - output_[x] >= 2) {
            k = choose_park(x, /*need_free=*/true);
            if (k >= 0) {
                evict_park(k);
                emit(name(ParkLoad, Op::Input, Kind::F, 0, k), hole_of(x));
                set_park(k, x);
                ++prog_.loads;
            }
        }
        if (k >= 0 && park_operand(n, x)) return finish(v, rev ? Form::RevPark : Form::Park, {HoleKind::None, 0}, k);
        if (k >= 0 && !in_memory(x)) {
            // Parked only, and this op has no park variant: through r1.
            load(1, x);
            if (rev) swap();
            return finish(v, Form::Reg);
        }
        finish(v, rev ? Form::RevMem : Form::Mem, hole_of(x));
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
        if (reg_[0] == b && reg_[1] == a && has_rreg_variant(n.op, ir_.nodes[a].kind)) return finish(v, Form::RevReg);
        if (reg_[0] == a) return finish_with_operand(v, b, false);
        if (reg_[0] == b && !comm && elsewhere(a)) return finish_with_operand(v, a, true);
        if (comm && reg_[1] == a) std::swap(a, b);  // then b stays in r1 while a comes into r0
        if (comm && parked(a) >= 0 && parked(b) < 0 && in_memory(b) && park_operand(n, a)) std::swap(a, b);  // a park operand saves a load
        const int saved_pin = pinned_park_;
        pinned_park_ = parked(b);  // bringing a into r0 must not drop b's park
        to_r0(a);  // from r1 (a move or swap), a park or memory
        pinned_park_ = saved_pin;
        if (reg_[1] == b) return finish(v, Form::Reg);
        finish_with_operand(v, b, false);  // b is parked or in memory
    }

    // select(c, t, f): c in r0, t in r1, f from memory.
    void compute_select(uint32_t v, const IrNode& n) {
        const uint32_t c = n.args[0], t = n.args[1], f = n.args[2];
        // f must be readable from its park or memory before the registers change.
        const int fpark = parked(f) >= 0 && park_operand(n, f) ? parked(f) : -1;
        if (fpark < 0 && !in_memory(f)) {
            if (reg_[0] == f || reg_[1] == f) store(reg_[0] == f ? 0 : 1);
            else store_park(f);
        }
        const int saved_pin = pinned_park_;
        pinned_park_ = fpark;
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
        pinned_park_ = saved_pin;
        if (fpark >= 0) return finish(v, Form::Park, {HoleKind::None, 0}, fpark);
        finish(v, Form::Reg, hole_of(f));
    }

    // ---- Multiply-add (lib/ops/ops.hpp) -----------------------------------
    // A float mul whose only use is the float add right after it in the
    // order is not computed on its own: the add computes x + a * b in one
    // stencil (the product rounded first, as the two ops), so the product
    // needs neither r0 nor a park. Its operands a, b stay counted as used
    // until then.
    bool fuses_into_next(uint32_t m, const IrNode& n) const {
        // Only where parks hold the operands: without them (x86, RISC-V) an
        // operand would have to wait in r1, which costs more than it saves.
        if (park_.empty() || n.op != Op::Mul || n.kind != Kind::F || uses_[m] != 1 || output_[m] ||
            pos_ + 1 >= order_->size())
            return false;
        const uint32_t u = (*order_)[pos_ + 1];
        const IrNode& add = ir_.nodes[u];
        if (add.op != Op::Add || add.kind != Kind::F || (add.args[0] == m) == (add.args[1] == m)) return false;
        const uint32_t x = add.args[0] == m ? add.args[1] : add.args[0];
        const uint32_t a = n.args[0], b = n.args[1];
        if (a == b || x == a || x == b || ir_.nodes[a].kind != Kind::F || ir_.nodes[b].kind != Kind::F ||
            ir_.nodes[x].kind != Kind::F)
            return false;
        // With x in neither register but a product operand in r0, the two
        // ops are cheaper: r0 = r0 * y, then r0 = r0 + x from its park or
        // memory (fused, x would have to come into a register first).
        const bool x_in_reg = reg_[0] == x || reg_[1] == x;
        return x_in_reg || (reg_[0] != a && reg_[0] != b);
    }

    // add node v = x + m, m = a * b deferred (fused_): x into r0, then a and
    // b from r1 and a park, r1 and memory, a park and memory, or two parks.
    void compute_mla(uint32_t v, const IrNode& n) {
        const uint32_t m = fused_;
        const uint32_t x = n.args[0] == m ? n.args[1] : n.args[0];
        uint32_t a = ir_.nodes[m].args[0], b = ir_.nodes[m].args[1];
        if (reg_[1] == x && (reg_[0] == a || reg_[0] == b)) return mla_to1(v, n, x, reg_[0] == a ? b : a);
        to_r0(x);  // a value of r0 that is a or b is kept in r1, a park or memory
        // A product operand read from memory that is used again goes through
        // a free park, as in finish_with_operand.
        for (uint32_t w : {a, b})
            if (reg_[1] != w) park_operand_for_mla(w, parked(w == a ? b : a));
        if (reg_[1] == b || (reg_[1] != a && parked(a) < 0)) std::swap(a, b);
        // Now a is in r1, or parked, or (neither is in r1 nor parked) in memory.
        Shape shape = MlaR1Mem;
        int park = -1, pin1 = -1, pin2 = -1;
        if (reg_[1] == a) {
            if (parked(b) >= 0) shape = MlaR1Park, park = pin1 = parked(b);
        } else if (parked(a) >= 0 && parked(b) < 0) {
            shape = MlaParkMem, park = pin1 = parked(a);
        } else if (parked(a) >= 0 && state() == State{Kind::F, Kind::F}) {
            const int p = std::min(parked(a), parked(b)), q = std::max(parked(a), parked(b));
            shape = MlaParkPark, park = p * kMaxParks + q;
            pin1 = p;
            pin2 = q;
        } else if (parked(a) >= 0) {  // both parked, r1 an int: b through r1
            const int saved = pinned_park_;
            pinned_park_ = parked(a);
            load(1, b);
            pinned_park_ = saved;
            shape = MlaR1Park, park = pin1 = parked(a);
        } else {  // both in memory only
            load(1, a);
        }
        assert(shape == MlaR1Park || shape == MlaParkPark || in_memory(b));
        const int saved_pin = pinned_park_, saved_pin2 = pinned_park2_;
        pinned_park_ = pin1;  // the stencil reads them after x is saved
        pinned_park2_ = pin2;
        consume(n);
        --uses_[a];
        --uses_[b];
        spill_if_needed(0);  // x, if still needed
        pinned_park_ = saved_pin;
        pinned_park2_ = saved_pin2;
        const bool mem = shape == MlaR1Mem || shape == MlaParkMem;
        emit(name(shape, Op::Add, Kind::F, 0, park), mem ? hole_of(b) : std::pair{HoleKind::None, 0u});
        if (mem) ++prog_.loads;
        reg_[0] = v;
        kind_[0] = Kind::F;
    }

    // A product operand read from memory that is used again goes through a
    // free park (as in finish_with_operand); returns its park or -1.
    int park_operand_for_mla(uint32_t w, int keep) {
        if (parked(w) >= 0) return parked(w);
        if (uses_[w] - output_[w] < 2) return -1;
        const int saved = pinned_park_;
        pinned_park_ = keep;
        const int k = choose_park(w, /*need_free=*/true);
        pinned_park_ = saved;
        if (k < 0) return -1;
        evict_park(k);
        emit(name(ParkLoad, Op::Input, Kind::F, 0, k), hole_of(w));
        set_park(k, w);
        ++prog_.loads;
        return k;
    }

    // x + a * b with x in r1 and a in r0: r1 = r1 + r0 * b, r0 kept.
    void mla_to1(uint32_t v, const IrNode& n, uint32_t x, uint32_t b) {
        const uint32_t a = reg_[0];
        const int k = park_operand_for_mla(b, -1);
        const int saved_pin = pinned_park_;
        pinned_park_ = k;
        consume(n);
        --uses_[a];
        --uses_[b];
        if (uses_[x] > 0 && !elsewhere(x)) spill(1);
        pinned_park_ = saved_pin;
        if (k >= 0) {
            emit(name(MlaTo1Park, Op::Add, Kind::F, 0, k));
        } else {
            assert(in_memory(b));
            emit(name(MlaTo1Mem, Op::Add, Kind::F), hole_of(b));
            ++prog_.loads;
        }
        reg_[1] = v;
        kind_[1] = Kind::F;
    }

    void compute(uint32_t v) {
        const IrNode& n = ir_.nodes[v];
        if (fuses_into_next(v, n)) {
            fused_ = v;
            return;
        }
        current_ = v;
        if (fused_ != kNone) {
            compute_mla(v, n);
            fused_ = kNone;
            current_ = kNone;
            return;
        }
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
        current_ = v;
        if (reg_[0] == v || reg_[1] == v) {
            store(reg_[0] == v ? 0 : 1);
        } else {
            assert(parked(v) >= 0);
            store_park(v);
        }
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
            if (const int k = parked(state_node); k >= 0) {
                park_[k] = kNone;
                park_of_[state_node] = kNoPark;
            }
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
        // Bound names: the device address and the width, for runners.
        for (const IrBinding& b : ir_.bindings)
            prog_.symbols.push_back({ir_.names[b.name], b.address, b.dtype,
                                     static_cast<uint8_t>(b.output ? CP_SYM_BOUND_OUTPUT : CP_SYM_BOUND_INPUT), b.width, 0});
    }

    const Ir& ir_;
    Program prog_;
    std::vector<uint32_t> uses_;  // remaining uses (outputs count once, forever)
    std::vector<uint32_t> use_begin_, use_pos_;
    std::vector<uint8_t> output_;
    static constexpr uint32_t kNoName = UINT32_MAX;
    std::vector<uint32_t> names_;  // key() -> index of the interned stencil name in stencil_names
    std::unordered_map<uint32_t, uint32_t> park_names_;  // key() * kMaxParks^2 + park(s) -> the same, for park stencils
    std::vector<uint32_t> output_slot_;    // data offset of each output
    std::vector<uint8_t> input_updated_;   // per input: a state whose value changes at the end of a run
    std::vector<uint32_t> slot_;  // data offset of a value in memory, or kNone
    std::vector<uint32_t> pool_;  // constant pool index, or kNone
    std::vector<uint8_t> park_of_;  // per value: its park, or kNoPark
    std::vector<uint32_t> park_;     // per park: the value in it, or kNone
    int pinned_park_ = -1;           // a park the next stencil reads: not to be reused before
    int pinned_park2_ = -1;          // and a second one (multiply-add of two parks)
    uint32_t pos_ = 0;               // position in the order of the node being computed
    uint32_t reg_[2] = {kNone, kNone};
    Kind kind_[2] = {Kind::I, Kind::I};  // the entry stencil leaves state ii
    uint32_t current_ = kNone;
    uint32_t fused_ = kNone;  // a mul to be computed with the add that follows it
    const std::vector<uint32_t>* order_ = nullptr;
};

}  // namespace

Program plan(const Ir& ir, const std::vector<uint32_t>& order, int float_parks) {
    return Planner(ir, float_parks).run(order);
}

}  // namespace copapy
