// The compiler as a library call: DAG file in, image (or another artifact) out.
//
//   compile_program()  runs the pipeline and keeps every stage's result
//   write_outputs()    turns a compiled program into the requested files
//   compile()          both, for the command line
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
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

// What `copapy-cc build` can write (--emit KIND[=PATH]); the writers are in lib/emit.
enum class Emit { Image, Listing, Dot, CHeader, Manifest, C };

std::optional<Emit> emit_from_name(std::string_view name);  // "image", "listing", "dot", "c-header", "manifest", "c"
std::string_view emit_name(Emit kind);
std::string_view emit_extension(Emit kind);  // ".cpimg", ".lst", ".dot", ".h", ".manifest.json"

struct EmitOutput {
    Emit kind;
    std::string path;  // "-": standard output (text artifacts only)
};

// --ranges: what to do with what the value-range analysis (lib/range) cannot
// rule out (a divisor that may be 0, sqrt of a value that may be negative, ...).
// Detail: as Warn, and the listing and the graph show every value's range.
enum class RangeCheck : uint8_t { Off, Warn, Error, Detail };

struct CompileOptions {
    std::string input;        // DAG file (JSON or CBOR)
    const TargetInfo* target = nullptr;
    std::string stencil_dir;  // holds <target>.o
    int opt_level = 2;        // -O0: no CSE/folding/simplification; -O1: CSE, folding; -O2: everything
    std::vector<EmitOutput> outputs;       // what write_outputs() writes, each to its own path
    std::string depfile;                   // if set: a Make rule "<outputs>: <DAG> <stencil object>"
    std::optional<FixedAddresses> fixed;   // resolve every patch for these load addresses (bare metal)
    bool pic = false;                      // --pic: fail unless the image needs no load-time patch at all
    std::vector<Binding> bindings;         // --bind: inputs and outputs at device addresses (ir/ir.hpp)
    std::string c_name;                    // identifier prefix in a C header (default: the header's file name)
    RangeCheck ranges = RangeCheck::Warn;
    // Release the IR and the linear order once planned, and the program's
    // steps once linked: writing images needs neither (the command line
    // sets it when it writes only images, for large programs' memory).
    bool release_stages = false;
};

struct CompileStats {
    size_t dag_nodes = 0, ir_nodes = 0, computed = 0, steps = 0;
    size_t loads = 0, stores = 0, moves = 0;
    size_t code_bytes = 0, stencil_bytes = 0, data_bytes = 0, patches = 0, resolved = 0;
    size_t near_operands = 0, far_operands = 0;  // memory operands by stencil variant
    size_t immediate_operands = 0;  // constant operands written as instruction immediates instead
    size_t range_bypassed = 0;  // nodes -O2 removed with proven ranges (a clamp that never binds, ...)
    // Wall time per phase, in seconds (--stats).
    double t_read = 0, t_ir = 0, t_order = 0, t_ranges = 0, t_plan = 0, t_link = 0;
    // "<file>: <what>" lines the caller prints as warnings (the program still compiles).
    std::vector<std::string> warnings;
};

// Everything the pipeline produced, for the output writers.
struct CompiledProgram {
    CompileStats stats;
    Ir ir;
    std::vector<uint32_t> order;
    std::optional<RangeAnalysis> ranges;  // unless --ranges=off
    Program program;
    std::unique_ptr<StencilDb> db;
    LinkedImage image;
    std::string stencil_path;  // the stencil object used (for depfiles)
};

// Runs the pipeline; throws Error with messages "<file>: <where>: <what>".
CompiledProgram compile_program(const CompileOptions& options);

// Throws Error (Input) naming every load-time patch of the linked image, if
// it has any (--pic).
void check_position_independent(const CompileOptions& options, const CompiledProgram& compiled);

// Writes options.outputs (resolved for options.fixed addresses, if given),
// then options.depfile; an artifact whose path is "-" goes to `out`. Every
// artifact is rendered before the first file is written, and files are
// replaced atomically, so an error leaves no partial output behind.
void write_outputs(const CompileOptions& options, const CompiledProgram& compiled, std::ostream& out);

inline CompileStats compile(const CompileOptions& options, std::ostream& out) {
    CompiledProgram c = compile_program(options);
    write_outputs(options, c, out);
    return c.stats;
}

// Where stencil objects are found by default: $COPAPY_STENCIL_DIR, else
// <directory of the executable>/../share/copapy-cc/stencils.
std::string default_stencil_dir();

// A file's bytes, read-only: a regular file is mapped (no copy; its pages
// come from the page cache), anything else is read. Throws Error (Input)
// "<path>: cannot open: <reason>" or "<path>: read error".
class FileBytes {
public:
    static FileBytes read(const std::string& path);
    FileBytes(FileBytes&& other) noexcept;
    FileBytes& operator=(FileBytes&& other) noexcept;
    FileBytes(const FileBytes&) = delete;
    FileBytes& operator=(const FileBytes&) = delete;
    ~FileBytes();
    std::span<const uint8_t> bytes() const { return {data_, size_}; }
    void release();  // frees the bytes early

private:
    FileBytes() = default;
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
    bool mapped_ = false;
    std::vector<uint8_t> read_;  // the bytes, when not mapped
};
// Writes via a temporary file in the same directory and renames it into place.
void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes);
// The same for bytes in parts (one writev).
void write_file_atomic(const std::string& path, std::span<const std::span<const uint8_t>> parts);

}  // namespace copapy
