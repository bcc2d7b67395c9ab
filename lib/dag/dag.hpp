// The DAG as read from a file (docs/dag-format.md): nodes in file order with
// operands resolved to node indices, checked for structure, cycles and types.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ops/ops.hpp"

namespace copapy {

struct DagNode {
    int64_t id = 0;  // as written in the file (used in messages)
    Op op = Op::Const;
    DType dtype = DType::Int;
    uint8_t nargs = 0;
    std::array<uint32_t, 3> args{};  // indices into Dag::nodes
    uint32_t bits = 0;               // const/input value: int32 or binary32 bits
    uint32_t name = 0;               // input: index into Dag::names
};

struct DagOutput {
    uint32_t name;  // index into Dag::names
    uint32_t node;  // index into Dag::nodes
};

// After each run, `state` takes the value `node` had in that run.
struct DagUpdate {
    uint32_t state;  // index of an Op::State node
    uint32_t node;
};

// Where the user's code made a node (version 3 `loc`): an index into
// Dag::files and a line >= 1; line 0 means unknown.
struct SourceLoc {
    uint32_t file = 0;
    uint32_t line = 0;
    bool operator==(const SourceLoc&) const = default;
};

// A declared range (version 3 `range`) of an input or state: [lo, hi] as the
// node's dtype's 32-bit patterns (int32 or binary32, never NaN).
struct DagRange {
    uint32_t node;  // index into Dag::nodes
    uint32_t lo, hi;
};

struct Dag {
    std::vector<DagNode> nodes;
    std::vector<uint32_t> order;      // a topological order of all nodes (operands first)
    std::vector<std::string> names;   // input and output names
    std::vector<DagOutput> outputs;
    std::vector<uint32_t> inputs;     // node indices of inputs and states, in file order
    std::vector<DagUpdate> updates;   // version 2
    // Version 3. Locations are per node, or empty when the file has none
    // (no cost per node then); ranges are few, in file order.
    std::vector<std::string> files;
    std::vector<SourceLoc> locs;
    std::vector<DagRange> ranges;
    int version = 1;
};

// Reads JSON or CBOR (by the first byte), validates everything, and returns
// the DAG. Throws Error(Input) with every problem found ("node 17 ('mul'):
// ..."), one per line, at most 20.
Dag read_dag(std::span<const uint8_t> bytes);

// The result type of `op` on operands of the given types, or an explanation
// of why the operands are not allowed. `exponent_nonneg_const` tells, for
// pow, whether the exponent is an int const >= 0.
struct TypeResult {
    bool ok;
    DType type;
    std::string error;
};
TypeResult infer_type(Op op, std::span<const DType> args, DType declared, bool exponent_nonneg_const);

}  // namespace copapy
