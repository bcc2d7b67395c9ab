// Fixed load addresses (bare metal): when the firmware's linker script
// decides where an image's code and data live, the compiler can apply every
// patch itself. The result has an empty patch table and CP_FLAG_FIXED_ADDR,
// so the firmware only copies the bytes (or executes them in place).
#pragma once

#include <cstdint>

#include "link/link.hpp"
#include "schedule/plan.hpp"

namespace copapy {

struct FixedAddresses {
    uint64_t code = 0;  // where the code region will be executed
    uint64_t data = 0;  // where the data region will live
};

// Returns `image` with every patch applied for these addresses, the patch
// table emptied and CP_FLAG_FIXED_ADDR set. Throws Error (Usage) when an
// address is misaligned, a region leaves the target's address space, the
// regions overlap, or a patch cannot encode its value; the message names the
// stencil (or library section) holding the site, the patch kind, the value
// and the allowed range. `program` gives the stencil names of the steps.
LinkedImage resolve_fixed(const LinkedImage& image, const Program& program, FixedAddresses at);

}  // namespace copapy
