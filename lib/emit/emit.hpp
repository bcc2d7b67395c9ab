// Output writers: every artifact copapy-cc produces besides the image bytes
// themselves. Each writer takes the plain data of the pipeline stages (no
// driver types) and returns text, so it can be tested alone; the driver
// decides where the text goes (lib/driver/compile.cpp, write_outputs).
//
//   format_listing      stitched code with disassembly, stencils, DAG nodes, patches
//   format_dot          the optimized DAG as a Graphviz digraph
//   format_c_header     the image as a C array plus its layout as constants
//   format_manifest     a JSON summary for build systems and CI
//   format_depfile      a Make rule naming what an output depends on
//   format_stencils     what a stencil object holds (copapy-cc stencils)
//   diagnostics_json    error text as JSON lines (--diagnostics json)
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ir/ir.hpp"
#include "link/fixed.hpp"
#include "link/link.hpp"
#include "range/range.hpp"
#include "schedule/plan.hpp"
#include "stencil/stencil_db.hpp"
#include "target/target.hpp"

namespace copapy {

// What a writer may describe: one compiled program.
struct EmitInput {
    const TargetInfo& target;
    const Ir& ir;                         // the optimized graph (DAG ids per node)
    const std::vector<uint32_t>& order;   // the computed nodes, in evaluation order
    const Program& program;               // the planned steps
    StencilDb& db;                        // the stencil object the image was linked from
    const LinkedImage& image;             // as written: for fixed addresses already patched
    std::span<const ImagePatch> patches;  // the load-time patches (for fixed addresses: the ones applied)
    std::optional<FixedAddresses> fixed;
    std::string_view source;              // the DAG file, for comments
    const RangeAnalysis* ranges = nullptr;  // per IR node, unless --ranges=off
    bool show_ranges = false;               // --ranges=detail: every value's range in the listing and the graph
    // The lines of each file of Ir::files, as read by the driver (empty:
    // unreadable), for the source lines a listing shows above its steps.
    const std::vector<std::vector<std::string>>* sources = nullptr;
};

// The lines of each of `files` (paths as the tracer wrote them: tried as
// given, then relative to `base_dir`, the DAG file's directory); an empty
// list for a file that cannot be read. For listings only: nothing else
// depends on the user's source files.
std::vector<std::vector<std::string>> read_source_files(std::span<const std::string> files, std::string_view base_dir);

// How the host uses a named value: "input", "output", "input and output"
// (an input read back), or "state" (kept across runs: written and read).
constexpr std::string_view symbol_role(uint8_t flags) {
    if (flags & CP_SYM_STATE) return "state";
    if ((flags & CP_SYM_INPUT) && (flags & CP_SYM_OUTPUT)) return "input and output";
    return (flags & CP_SYM_INPUT) ? "input" : "output";
}

// Every step with its stencil, DAG node and memory operand, disassembled by
// LLVM, with each patch site and each relocation resolved at compile time
// marked; then the library sections, the constant pool and the data region.
// Deterministic: the golden listings (test/golden/*.lst) are made of it.
std::string format_listing(const EmitInput& in);

// The optimized DAG (after CSE, folding and dead-code removal): inputs,
// constants, operations and outputs, edges from operand to user.
std::string format_dot(const EmitInput& in);

// `static const uint8_t <prefix>_image[]`, the same bytes as the .cpimg (so
// firmware runs it with cp_image_open/cp_image_load), and #defines for the
// sizes, alignments and each named value's data offset and dtype. Throws
// Error (Input) if two names map to the same C identifier.
std::string format_c_header(const EmitInput& in, std::span<const uint8_t> image_bytes, std::string_view prefix);

// A C identifier made of a name: characters other than [A-Za-z0-9_] become
// '_', a trailing ']' is dropped ("pos[0]" -> "pos_0"), a leading digit gets
// a '_' in front.
std::string c_identifier(std::string_view name);

// JSON: target, inputs and outputs (name, dtype, data offset; where the
// Python code made them; declared and proven value ranges), sizes, patch
// count, steps and stencil usage counts.
std::string format_manifest(const EmitInput& in, std::span<const uint8_t> image_bytes);

// "<targets>: <deps>" in Make syntax (as gcc -MD writes it), with spaces,
// '#' and '$' escaped.
std::string format_depfile(std::span<const std::string> targets, std::span<const std::string> deps);

// Every function of a stencil object with its size, whether its tail jump is
// cut, and its relocations (ELF type, symbol, patch kind); then the sections
// library code lives in.
std::string format_stencils(StencilDb& db);

// Error text as the library throws it ("<file>: <where>: <what>", one error
// per line) as JSON lines: {"severity", "file", "location", "message"}.
// `file` is set only for a prefix that is one of `files` (the paths the
// command works with), `location` only for a recognised shape ("node 17
// ('mul')", "stencil 'add_ff'", ...); anything else stays in "message".
std::string diagnostics_json(std::string_view severity, std::string_view text, std::span<const std::string> files);

}  // namespace copapy
