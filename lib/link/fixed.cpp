#include "link/fixed.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "support/error.hpp"

namespace copapy {

namespace {

// The highest address of the target's address space.
uint64_t highest_address(cp_target target) {
    switch (target) {
        case CP_TARGET_X86_64:
        case CP_TARGET_AARCH64:
        case CP_TARGET_RISCV64: return UINT64_MAX;
        case CP_TARGET_ARMV7:
        case CP_TARGET_THUMBV7:
        case CP_TARGET_THUMBV7EM:
        case CP_TARGET_X86:
        case CP_TARGET_ARMV6:
        case CP_TARGET_RISCV32: return UINT32_MAX;
    }
    return 0;
}

void check_region(std::string_view what, uint64_t at, size_t size, uint32_t align, cp_target target) {
    if (at % align != 0)
        fail(ErrorKind::Usage, "--{}-addr {:#x} is not a multiple of the {} alignment {}", what, at, what, align);
    // [at, at + size) within [0, highest], without overflowing at + size.
    const uint64_t highest = highest_address(target);
    if (at > highest || (size != 0 && size - 1 > highest - at))
        fail(ErrorKind::Usage, "--{}-addr {:#x}: the {} bytes of {} do not fit the target's address space", what, at,
             size, what);
}

// The quantity a patch kind range-checks, as patch.c computes it (V, V - P or
// the AArch64 page difference); only for the message: cp_patch_apply decides.
int64_t patch_quantity(unsigned kind, uint64_t value, uint64_t place) {
    switch (kind) {
        case CP_PATCH_A64_ADR_PAGE21: return static_cast<int64_t>((value & ~uint64_t{0xfff}) - (place & ~uint64_t{0xfff}));
        case CP_PATCH_REL32:
        case CP_PATCH_A64_BRANCH26:
        case CP_PATCH_ARM_BRANCH24:
        case CP_PATCH_THM_BRANCH24:
        case CP_PATCH_RV_BRANCH:
        case CP_PATCH_RV_JAL:
        case CP_PATCH_RV_CALL:
        case CP_PATCH_RV_PCREL_HI20:
        case CP_PATCH_RV_PCREL_LO12_I:
        case CP_PATCH_RV_PCREL_LO12_S:
        case CP_PATCH_RV_RVC_BRANCH:
        case CP_PATCH_RV_RVC_JUMP: return static_cast<int64_t>(value - place);
        default: return static_cast<int64_t>(value);
    }
}

// "stencil 'ld0_f_ii' (step 3)" or "section '.text.sinf'" for a code offset.
std::string site_origin(const LinkedImage& image, const Program& program, uint32_t site) {
    if (site < image.stencil_bytes && !image.step_offsets.empty()) {
        const auto it = std::upper_bound(image.step_offsets.begin(), image.step_offsets.end(), site);
        const size_t step = static_cast<size_t>(it - image.step_offsets.begin()) - 1;
        return fmt::format("stencil '{}' (step {})", program.stencil(program.steps[step]), step);
    }
    for (const LinkedImage::Placement& p : image.aux)
        if (p.region == CP_REGION_CODE && site >= p.offset && site < p.offset + p.size)
            return fmt::format("section '{}'", p.name);
    return "constant pool";
}

}  // namespace

LinkedImage resolve_fixed(const LinkedImage& image, const Program& program, FixedAddresses at) {
    check_region("code", at.code, image.code.size(), image.code_align, image.target);
    check_region("data", at.data, image.data.size(), image.data_align, image.target);
    const uint64_t code_end = at.code + image.code.size(), data_end = at.data + image.data.size();
    if (!image.data.empty() && at.code < data_end && at.data < code_end)
        fail(ErrorKind::Usage, "code [{:#x}, {:#x}) and data [{:#x}, {:#x}) overlap", at.code, code_end, at.data,
             data_end);

    LinkedImage out = image;
    for (const ImagePatch& p : image.patches) {
        const uint64_t base = p.region == CP_REGION_DATA ? at.data : at.code;
        // The runtime's arithmetic (lib/runtime/image.c): modulo 2^64, signed addend.
        const uint64_t value = base + static_cast<uint64_t>(static_cast<int64_t>(p.addend));
        const uint64_t place = at.code + p.site;
        const cp_status st = cp_patch_apply(p.kind, out.code.data() + p.site, value, place);
        if (st == CP_OK) continue;
        const std::string where = fmt::format("{} at code+{:#x} (address {:#x})", site_origin(image, program, p.site),
                                              p.site, place);
        const std::string target = fmt::format("{}{:+#x} (address {:#x})", p.region == CP_REGION_DATA ? "data" : "code",
                                               p.addend, value);
        const PatchRange r = patch_range(p.kind);
        const int64_t q = patch_quantity(p.kind, value, place);
        if (st == CP_ERR_PATCH_RANGE && r.check != 0 && (q < r.lo || q > r.hi))
            fail(ErrorKind::Usage, "{}: {} patch to {}: value {} is out of range [{}, {}]", where,
                 cp_patch_kind_name(p.kind), target, q, r.lo, r.hi);
        fail(ErrorKind::Usage, "{}: {} patch to {}: value {:#x}: {}", where, cp_patch_kind_name(p.kind), target,
             static_cast<uint64_t>(q), cp_status_message(st));
    }
    out.patches.clear();
    out.flags |= CP_FLAG_FIXED_ADDR;
    out.code_addr = at.code;
    out.data_addr = at.data;
    return out;
}

}  // namespace copapy
