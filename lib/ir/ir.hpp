// The compiler's graph: the DAG after lowering, in which every node maps to
// exactly one stencil variant (operands of one machine class, explicit
// conversions, no lt/le/cast), with common subexpressions merged.
//
// Nodes are created in topological order, so every operand index is smaller
// than the index of its user.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "dag/dag.hpp"
#include "ops/ops.hpp"

namespace copapy {

inline constexpr uint32_t kNone = UINT32_MAX;

struct IrNode {
    Op op;
    Kind kind;  // machine class of the result
    uint8_t nargs = 0;
    std::array<uint32_t, 3> args{};
    uint32_t bits = 0;      // const value / input initial value
    uint32_t input = kNone; // index into Ir::inputs for Op::Input
    uint32_t dag_node = kNone;  // index of the DAG node it came from (kNone: made by lowering); Ir::dag_id() gives its id
};

struct IrInput {
    uint32_t name;  // index into Ir::names
    uint32_t node;
    DType dtype;
    bool state = false;  // keeps its value across runs (DAG op `state`)
    // The declared range (DAG `range`): the host writes only values in
    // [lo, hi] (the dtype's 32-bit patterns).
    bool declared = false;
    // A state's invariant proven by the range analysis (adopt_state_invariants),
    // in lo and hi: the image records it like a declared range, so hosts keep
    // the state inside what the analysis assumed.
    bool proven = false;
    uint32_t lo = 0, hi = 0;
};

// After each run, the state input takes the value of `node` in that run.
struct IrUpdate {
    uint32_t input;  // index into Ir::inputs
    uint32_t node;
};

struct IrOutput {
    uint32_t name;
    uint32_t node;
    DType dtype;
};

// A request to bind an input or output to a device address (copapy-cc
// build --bind NAME=ADDR[:WIDTH]); check_bindings() validates a list of them.
struct Binding {
    std::string name;
    uint64_t address = 0;
    unsigned width = 32;  // bits: 8, 16 or 32
};

// A bound input or output: the program reads (io_load) or writes (io_store)
// the device register itself, a volatile access of `width` bits, once per
// run. A bound name has no data slot; its image symbol (CP_SYM_BOUND_*)
// holds the address and width. The loads come first in a run, the stores
// last, each in this list's order. (An output named like a bound input is
// that input read back: an ordinary output, not bound.)
struct IrBinding {
    uint32_t name;  // index into Ir::names
    uint32_t address;
    uint8_t width;  // bits
    DType dtype;
    bool output;
    uint32_t node;  // the io_load or io_store node
};

struct Ir {
    std::vector<IrNode> nodes;
    std::vector<IrBinding> bindings;  // inputs (in file order), then outputs (in output order)
    std::vector<IrInput> inputs;
    std::vector<IrOutput> outputs;
    std::vector<IrUpdate> updates;
    std::vector<std::string> names;
    // Where the user's code made each node (as Dag::locs; empty if the DAG
    // has no locations), and the file table they index.
    std::vector<SourceLoc> locs;
    std::vector<std::string> files;
    // The DAG's node ids by node index, if any differs from its index (the
    // tracer numbers nodes 0, 1, ... in file order: then empty).
    std::vector<int64_t> dag_ids;

    // The file's id of the DAG node n came from, for messages and listings;
    // -1 if lowering made it.
    int64_t dag_id(const IrNode& n) const {
        if (n.dag_node == kNone) return -1;
        return dag_ids.empty() ? int64_t{n.dag_node} : dag_ids[n.dag_node];
    }
};

// "model.py:42" for node v, or "" if its location is unknown.
std::string source_location(const Ir& ir, uint32_t v);

// Lowers the DAG. Optimizations by level, applied as each node is created
// (so they cascade):
//   1: merge equal subexpressions (hash-consing; commutative operands in a
//      canonical order) and fold constants (with the stencils' own C code)
//   2: also algebraic identities that are exact in IEEE binary32 and int32
//      (x*1, x+(-0.0), x-0, x*0 for ints, --x, select on a constant, ...)
// Bound names (checked by check_bindings) become io_load / io_store nodes
// instead of inputs and outputs.
Ir build_ir(const Dag& dag, int opt_level = 2, std::span<const Binding> bindings = {});

// Throws Error (Input), one line per problem: a name that is not an input or
// output of the DAG (or is a state), a width other than 8, 16 or 32, a float
// bound narrower than 32 bits, an address that is unaligned for its width or
// beyond 32 bits, two bindings of one name, or two whose bytes overlap.
void check_bindings(const Dag& dag, std::span<const Binding> bindings);

// The computed (non-leaf) nodes that the outputs and state updates need, in
// evaluation order: a depth-first post-order from the outputs (then the
// updates), so each operand is computed shortly before its first use.
// Unreachable nodes are dropped (DCE). Bound inputs are loaded before
// everything else and bound outputs stored after everything else, each
// once, in Ir::bindings' order, whether or not anything uses them.
std::vector<uint32_t> linearize(const Ir& ir);

}  // namespace copapy
