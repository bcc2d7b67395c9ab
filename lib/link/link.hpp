// Layout and relocation: copies the planned stencils end to end, pulls in the
// auxiliary sections they reference (transitively), places the constant pool
// and the data region, and resolves every relocation: code-relative ones at
// compile time, load-address dependent ones into the image's patch table.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>
#include <span>
#include <string>
#include <vector>

#include "schedule/plan.hpp"
#include "stencil/stencil_db.hpp"

namespace copapy {

// Laid out as a patch table entry of the image (CP_PATCH_*), so that on a
// little-endian host the table is written straight from memory.
struct ImagePatch {
    uint32_t site = 0;      // offset in the code
    uint8_t kind = 0;       // cp_patch_kind
    uint8_t region = 0;     // cp_region of the target
    uint16_t reserved = 0;  // zero, as in the image
    int32_t addend = 0;     // target offset in its region, addend included

    ImagePatch() = default;
    ImagePatch(uint32_t site_, uint8_t kind_, uint8_t region_, int32_t addend_)
        : site(site_), kind(kind_), region(region_), addend(addend_) {}
};

struct LinkedImage {
    cp_target target;
    uint32_t flags = 0;
    uint32_t code_align = 16, data_align = 16;
    uint32_t entry = 0;
    uint64_t code_addr = 0, data_addr = 0;  // CP_FLAG_FIXED_ADDR: the addresses resolved for
    std::vector<uint8_t> code;
    std::vector<uint8_t> data;
    std::vector<ImagePatch> patches;
    std::vector<ImageSymbol> symbols;
    // Statistics for listings and benchmarks.
    uint32_t stencil_bytes = 0;   // the copied stencils (without aux sections and constants)
    uint32_t resolved = 0;        // relocations resolved at compile time
    std::vector<uint32_t> step_offsets;  // code offset of each step
    struct Placement {
        std::string name;
        uint8_t region;
        uint32_t offset, size;
        uint32_t section;  // index into StencilDb::sections()
        bool constant_copy = false;  // a stencil constant copied into the data region (LinkedImage::rebased)
    };
    std::vector<Placement> aux;          // auxiliary sections, in placement order
    uint32_t const_offset = 0;           // the constant pool in the data region (after the value slots)
    std::vector<uint8_t> step_far;       // per step: 1 if it uses the far twin of its planned stencil
    uint32_t near_operands = 0, far_operands = 0;  // memory operands by variant
    // Absolute constant operands rewritten to base register + displacement
    // (TargetInfo::rebasable_operand): code site -> the constant's data offset.
    std::vector<std::pair<uint32_t, uint32_t>> rebased;
    // Constant operands that became instruction immediates
    // (TargetInfo::write_immediate): code site -> index of the constant.
    std::vector<std::pair<uint32_t, uint32_t>> immediates;
};

LinkedImage link_program(const Program& program, StencilDb& db);

// Serializes an image in the format of include/copapy/image.h. Throws Error
// (Input) when a size, count or offset does not fit its 32-bit field.
std::vector<uint8_t> write_image(const LinkedImage& image);

// `value` as a u32 image field, or an Error (Input) naming `what` and the
// limit: the image format cannot hold it, and the runtime would reject a
// truncated value.
uint32_t image_field_u32(uint64_t value, std::string_view what);

// The same bytes as a few ranges, the code and data being the LinkedImage's
// own (which must outlive this): for writing a large image without first
// copying it into one buffer.
class ImageParts {
public:
    explicit ImageParts(const LinkedImage& image);
    ImageParts(const ImageParts&) = delete;
    ImageParts& operator=(const ImageParts&) = delete;
    std::span<const std::span<const uint8_t>> parts() const { return parts_; }
    size_t size() const { return size_; }
    std::vector<uint8_t> join() const;  // what write_image() returns

private:
    std::array<uint8_t, CP_HEADER_SIZE> header_;
    std::array<uint8_t, 4> zeros_{};        // padding after the code and the data
    std::unique_ptr<uint8_t[]> tail_;       // patches, symbols, strings, padding, checksum
    size_t tail_size_ = 0, size_ = 0;
    std::vector<std::span<const uint8_t>> parts_;
};

// The range of the quantity a patch kind encodes (the check/lo/hi columns of
// CP_PATCH_KINDS): check 0 none, 1 signed [lo, hi], 2 unsigned [0, hi].
struct PatchRange {
    int check;
    int64_t lo, hi;
};
PatchRange patch_range(unsigned kind);

}  // namespace copapy
