// Register and memory planning: turns the linear order of IR nodes into a
// sequence of stencils for the two-register model (lib/ops/ops.hpp).
//
// Values live in r0/r1 between stencils. Operands are loaded from memory only
// when they are not already in a register; a register's value is stored
// ("spilled") only when it is about to be overwritten while it still has uses
// (or is an output) and is not in memory yet. Inputs live in data slots,
// constants in a constant pool in the code region.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ir/ir.hpp"

namespace copapy {

// Where a stencil's memory operand (its hole) points.
enum class HoleKind : uint8_t { None, Data, Const };

// 16 bytes: a large program has millions.
struct Step {
    uint32_t stencil = 0;  // index into Program::stencil_names (Program::stencil() gives the name)
    HoleKind hole = HoleKind::None;
    State in{Kind::I, Kind::I};  // register state the step starts in (the linker checks the stencils agree)
    uint32_t hole_index = 0;  // Data: byte offset in the data region; Const: index into Program::consts
    uint32_t node = kNone;    // IR node this step belongs to (for listings)
};

struct ImageSymbol {
    std::string name;
    uint32_t offset;  // in the data region
    DType dtype;
    uint8_t flags;    // cp_symbol_flags (CP_SYM_RANGE: lo, hi hold the declared range)
    uint32_t lo = 0, hi = 0;  // the dtype's 32-bit patterns
};

struct Program {
    std::vector<Step> steps;             // starts with the entry stencil, ends with the exit stencil
    std::vector<std::string> stencil_names;  // each distinct stencil once
    std::vector<uint32_t> consts;        // constant pool (32-bit words)
    std::vector<uint32_t> data;          // initial data region (32-bit words)
    std::vector<ImageSymbol> symbols;    // named inputs and outputs
    size_t loads = 0, stores = 0, moves = 0;  // statistics

    std::string_view stencil(const Step& s) const { return stencil_names[s.stencil]; }
};

Program plan(const Ir& ir, const std::vector<uint32_t>& order);

}  // namespace copapy
