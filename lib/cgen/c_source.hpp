// The program as straight-line C (`copapy-cc build --emit c`): the same
// operations, the same op bodies (lib/ops/ops.def) and the same data layout
// as the image, for comparing copapy-cc's code with gcc -O0 / -O2 in the
// benchmarks (tools/bench).
//
// The file defines
//   void cp_program(uint32_t *data);        // one run; data as in the image
//   const uint32_t cp_initial_data[];       // the image's initial data words
//   #define CP_DATA_WORDS n
#pragma once

#include <string>
#include <vector>

#include "ir/ir.hpp"
#include "schedule/plan.hpp"

namespace copapy {

std::string emit_c_source(const Ir& ir, const std::vector<uint32_t>& order, const Program& program);

}  // namespace copapy
