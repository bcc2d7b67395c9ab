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
        for (uint32_t v : order)
            for (unsigned k = 0; k < ir_.nodes[v].nargs; ++k) ++uses_[ir_.nodes[v].args[k]];
        for (const IrOutput& o : ir_.outputs) ++uses_[o.node];  // an output is never consumed

        emit(std::string(kEntryStencil));
        for (uint32_t v : order) compute(v);
        for (const IrOutput& o : ir_.outputs) settle_output(o.node);
        emit(std::string(kExitStencil));
        make_symbols();
        return std::move(prog_);
    }

private:
    State state() const { return {kind_[0], kind_[1]}; }

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

    void emit(std::string stencil, std::pair<HoleKind, uint32_t> hole = {HoleKind::None, 0}) {
        prog_.steps.push_back(Step{std::move(stencil), hole.first, hole.second, current_});
    }

    void store(int r) {
        const uint32_t v = reg_[r];
        slot_[v] = new_slot(0);
        emit(store_stencil(r, state()), hole_of(v));
        ++prog_.stores;
    }

    // Before register r is overwritten: keep its value if it is still needed
    // and exists nowhere else.
    void spill_if_needed(int r) {
        const uint32_t v = reg_[r];
        if (v != kNone && uses_[v] > 0 && !in_memory(v) && reg_[1 - r] != v) store(r);
    }

    void load(int r, uint32_t v) {
        spill_if_needed(r);
        assert(in_memory(v));
        const Kind k = ir_.nodes[v].kind;
        emit(load_stencil(r, k, state()), hole_of(v));
        reg_[r] = v;
        kind_[r] = k;
        ++prog_.loads;
    }

    void swap() {
        emit(swap_stencil(state()));
        std::swap(reg_[0], reg_[1]);
        std::swap(kind_[0], kind_[1]);
        ++prog_.moves;
    }

    void dup() {
        spill_if_needed(1);
        emit(dup_stencil(state()));
        reg_[1] = reg_[0];
        kind_[1] = kind_[0];
        ++prog_.moves;
    }

    // Brings a into r0 and b into r1 with as few loads and moves as the
    // register contents allow. For commutative ops a and b may be exchanged.
    void arrange(uint32_t& a, uint32_t& b, bool commutative) {
        if (reg_[0] == a && reg_[1] == b) return;
        if (commutative && reg_[0] == b && reg_[1] == a) return std::swap(a, b);
        if (a == b) {
            if (reg_[0] != a) {
                if (reg_[1] == a) swap();
                else load(0, a);
            }
            return dup();
        }
        if (reg_[0] == b && reg_[1] == a) return swap();
        if (reg_[0] == a) return load(1, b);
        if (reg_[1] == b) return load(0, a);
        if (commutative && reg_[0] == b) {
            std::swap(a, b);
            return load(1, b);
        }
        if (commutative && reg_[1] == a) {
            std::swap(a, b);
            return load(0, a);
        }
        if (reg_[1] == a) {
            swap();
            return load(1, b);
        }
        if (reg_[0] == b) {
            swap();
            return load(0, a);
        }
        load(0, a);
        load(1, b);
    }

    void compute(uint32_t v) {
        const IrNode& n = ir_.nodes[v];
        current_ = v;
        std::pair<HoleKind, uint32_t> hole{HoleKind::None, 0};
        if (n.nargs == 1) {
            const uint32_t a = n.args[0];
            if (reg_[0] != a) {
                if (reg_[1] == a) swap();
                else load(0, a);
            }
            --uses_[a];
        } else {
            uint32_t a = n.args[0], b = n.args[1];
            arrange(a, b, is_commutative(n.op));
            if (n.op == Op::Select) {
                // The value if false is the memory operand.
                const uint32_t f = n.args[2];
                if (!in_memory(f)) {
                    assert(reg_[0] == f || reg_[1] == f);
                    store(reg_[0] == f ? 0 : 1);
                }
                hole = hole_of(f);
                --uses_[f];
            }
            --uses_[a];
            --uses_[b];
        }
        spill_if_needed(0);  // r0 receives the result
        emit(op_stencil(n.op, state()), hole);
        reg_[0] = v;
        kind_[0] = n.kind;
        current_ = kNone;
    }

    // Every output must end up in a data slot the host can read.
    void settle_output(uint32_t v) {
        if (slot_[v] != kNone) return;
        if (ir_.nodes[v].op == Op::Const) {
            slot_[v] = new_slot(ir_.nodes[v].bits);
            return;
        }
        assert(reg_[0] == v || reg_[1] == v);
        current_ = v;
        store(reg_[0] == v ? 0 : 1);
        current_ = kNone;
    }

    void make_symbols() {
        std::unordered_map<std::string_view, size_t> input_symbol;  // name -> index in symbols
        for (const IrInput& in : ir_.inputs) {
            input_symbol.emplace(ir_.names[in.name], prog_.symbols.size());
            prog_.symbols.push_back({ir_.names[in.name], slot_[in.node], in.dtype, CP_SYM_INPUT});
        }
        for (const IrOutput& o : ir_.outputs) {
            // An output named like its input (a value read back) shares the
            // symbol; the reader guarantees that both then refer to one node.
            if (auto it = input_symbol.find(ir_.names[o.name]); it != input_symbol.end()) {
                prog_.symbols[it->second].flags |= CP_SYM_OUTPUT;
                continue;
            }
            prog_.symbols.push_back({ir_.names[o.name], slot_[o.node], o.dtype, CP_SYM_OUTPUT});
        }
    }

    const Ir& ir_;
    Program prog_;
    std::vector<uint32_t> uses_;  // remaining uses (outputs count once, forever)
    std::vector<uint32_t> slot_;  // data offset of a value in memory, or kNone
    std::vector<uint32_t> pool_;  // constant pool index, or kNone
    uint32_t reg_[2] = {kNone, kNone};
    Kind kind_[2] = {Kind::I, Kind::I};  // the entry stencil leaves state ii
    uint32_t current_ = kNone;
};

}  // namespace

Program plan(const Ir& ir, const std::vector<uint32_t>& order) { return Planner(ir).run(order); }

}  // namespace copapy
