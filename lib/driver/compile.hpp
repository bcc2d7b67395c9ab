// The compiler as a library call: DAG file in, image file out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "target/target.hpp"

namespace copapy {

enum class Emit { Image, Listing };

struct CompileOptions {
    std::string input;        // DAG file (JSON or CBOR)
    std::string output;       // image file
    const TargetInfo* target = nullptr;
    std::string stencil_dir;  // holds <target>.o
    Emit emit = Emit::Image;  // what to write to `output` ("-" for a listing: standard output)
};

struct CompileStats {
    size_t dag_nodes = 0, ir_nodes = 0, computed = 0, steps = 0;
    size_t loads = 0, stores = 0, moves = 0;
    size_t code_bytes = 0, stencil_bytes = 0, data_bytes = 0, patches = 0, resolved = 0;
};

// Compiles; throws Error with messages of the form "<file>: <where>: <what>".
// The output file appears complete or not at all.
CompileStats compile(const CompileOptions& options);

// Where stencil objects are found by default: $COPAPY_STENCIL_DIR, else
// <directory of the executable>/../share/copapy-cc/stencils.
std::string default_stencil_dir();

std::vector<uint8_t> read_file(const std::string& path);
// Writes via a temporary file in the same directory and renames it into place.
void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes);

}  // namespace copapy
