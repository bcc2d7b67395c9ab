// Small bit helpers shared by the target files.
#pragma once

#include <cstdint>

namespace copapy {

// Does the signed value fit in a two's complement field of `bits` bits?
constexpr bool fits_signed(int64_t v, unsigned bits) {
    const int64_t lo = -(int64_t{1} << (bits - 1));
    const int64_t hi = (int64_t{1} << (bits - 1)) - 1;
    return v >= lo && v <= hi;
}

// Sign-extends the low `bits` bits of v.
constexpr int64_t sign_extend(uint64_t v, unsigned bits) {
    const uint64_t m = uint64_t{1} << (bits - 1);
    v &= (uint64_t{1} << bits) - 1;
    return static_cast<int64_t>((v ^ m) - m);
}

// Bits [lo, lo + width) of v.
constexpr uint32_t extract(uint32_t v, unsigned lo, unsigned width) {
    return (v >> lo) & ((width == 32) ? 0xffff'ffffu : ((1u << width) - 1));
}

constexpr uint32_t read_le32(const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
constexpr uint16_t read_le16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }

inline void write_le32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void write_le16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v);
    p[1] = static_cast<uint8_t>(v >> 8);
}

constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

}  // namespace copapy
