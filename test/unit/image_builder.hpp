// Builds copapy images in memory for tests: give it the parts (target, flags,
// code, data, patches, symbols) and it lays them out with the padding and
// CRC that include/copapy/image.h prescribes. Every field can be set to a
// wrong value on purpose, so tests can build malformed images too; after
// editing the bytes of a built image, refresh_crc() makes the checksum valid
// again so that a test reaches the check it is aimed at.
//
// The CRC is computed here independently of lib/runtime (a plain bitwise
// loop), so the runtime's cp_crc32 is checked against it, not against itself.
#pragma once

#include <copapy/image.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace copapy::test {

struct PatchSpec {
    uint32_t site = 0;
    uint8_t kind = 0;
    uint8_t region = CP_REGION_DATA;
    int32_t addend = 0;
    uint16_t reserved = 0;
};

struct SymbolSpec {
    std::string name;
    uint32_t offset = 0;
    uint8_t dtype = CP_DTYPE_INT;
    uint8_t flags = CP_SYM_OUTPUT;
    uint16_t reserved = 0;
    // Overrides the string-table offset of the name (for malformed images).
    std::optional<uint32_t> name_offset = std::nullopt;
    uint32_t lo = 0, hi = 0;  // the declared range (with CP_SYM_RANGE)
};

// Byte offsets of the parts of a built image.
struct ImageLayout {
    size_t code = 0, data = 0, patches = 0, symbols = 0, strtab = 0, crc = 0, size = 0;
};

// Reflected CRC-32, polynomial 0xEDB88320 (zlib.crc32), one bit at a time.
inline uint32_t reference_crc32(const uint8_t* p, size_t n) {
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; ++i) {
        crc ^= p[i];
        for (int bit = 0; bit < 8; ++bit) {
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

struct ImageBuilder {
    uint16_t version = CP_IMAGE_VERSION;
    uint16_t target = CP_TARGET_X86_64;
    uint32_t flags = 0;
    uint32_t code_align = 16;
    uint32_t data_align = 16;
    uint32_t entry = 0;
    uint64_t code_addr = 0, data_addr = 0;  // header fields of fixed-address images
    std::vector<uint8_t> code;
    std::vector<uint8_t> data;
    std::vector<PatchSpec> patches;
    std::vector<SymbolSpec> symbols;
    // Appended to the string table after the symbol names (for malformed images).
    std::string extra_strtab;

    // Names of the symbols in order, each NUL-terminated, then extra_strtab.
    std::string strtab() const {
        std::string s;
        for (const SymbolSpec& sym : symbols) {
            s += sym.name;
            s += '\0';
        }
        return s + extra_strtab;
    }

    ImageLayout layout() const {
        const auto align4 = [](size_t v) { return (v + 3) & ~size_t{3}; };
        ImageLayout l;
        l.code = CP_HEADER_SIZE;
        l.data = align4(l.code + code.size());
        l.patches = align4(l.data + data.size());
        l.symbols = l.patches + patches.size() * CP_PATCH_SIZE;
        l.strtab = l.symbols + symbols.size() * CP_SYMBOL_SIZE;
        l.crc = align4(l.strtab + strtab().size());
        l.size = l.crc + 4;
        return l;
    }

    std::vector<uint8_t> build() const {
        const ImageLayout l = layout();
        const std::string names = strtab();
        std::vector<uint8_t> out(l.size, 0);
        uint8_t* b = out.data();
        for (size_t i = 0; i < CP_IMAGE_MAGIC_SIZE; ++i) {
            b[CP_HDR_MAGIC + i] = static_cast<uint8_t>(CP_IMAGE_MAGIC[i]);
        }
        cp_write_u16(b + CP_HDR_VERSION, version);
        cp_write_u16(b + CP_HDR_TARGET, target);
        cp_write_u32(b + CP_HDR_FLAGS, flags);
        cp_write_u32(b + CP_HDR_CODE_SIZE, static_cast<uint32_t>(code.size()));
        cp_write_u32(b + CP_HDR_CODE_ALIGN, code_align);
        cp_write_u32(b + CP_HDR_DATA_SIZE, static_cast<uint32_t>(data.size()));
        cp_write_u32(b + CP_HDR_DATA_ALIGN, data_align);
        cp_write_u32(b + CP_HDR_ENTRY, entry);
        cp_write_u32(b + CP_HDR_PATCH_COUNT, static_cast<uint32_t>(patches.size()));
        cp_write_u32(b + CP_HDR_SYMBOL_COUNT, static_cast<uint32_t>(symbols.size()));
        cp_write_u32(b + CP_HDR_STRTAB_SIZE, static_cast<uint32_t>(names.size()));
        cp_write_u64(b + CP_HDR_CODE_ADDR, code_addr);
        cp_write_u64(b + CP_HDR_DATA_ADDR, data_addr);
        std::copy(code.begin(), code.end(), out.begin() + static_cast<std::ptrdiff_t>(l.code));
        std::copy(data.begin(), data.end(), out.begin() + static_cast<std::ptrdiff_t>(l.data));
        for (size_t i = 0; i < patches.size(); ++i) {
            const PatchSpec& p = patches[i];
            uint8_t* e = b + l.patches + i * CP_PATCH_SIZE;
            cp_write_u32(e + CP_PATCH_SITE, p.site);
            e[CP_PATCH_KIND] = p.kind;
            e[CP_PATCH_REGION] = p.region;
            cp_write_u16(e + CP_PATCH_RESERVED, p.reserved);
            cp_write_u32(e + CP_PATCH_ADDEND, static_cast<uint32_t>(p.addend));
        }
        uint32_t name_offset = 0;
        for (size_t i = 0; i < symbols.size(); ++i) {
            const SymbolSpec& s = symbols[i];
            uint8_t* e = b + l.symbols + i * CP_SYMBOL_SIZE;
            cp_write_u32(e + CP_SYM_NAME, s.name_offset.value_or(name_offset));
            cp_write_u32(e + CP_SYM_OFFSET, s.offset);
            e[CP_SYM_DTYPE] = s.dtype;
            e[CP_SYM_FLAGS] = s.flags;
            cp_write_u16(e + CP_SYM_RESERVED, s.reserved);
            cp_write_u32(e + CP_SYM_LO, s.lo);
            cp_write_u32(e + CP_SYM_HI, s.hi);
            name_offset += static_cast<uint32_t>(s.name.size() + 1);
        }
        std::copy(names.begin(), names.end(), out.begin() + static_cast<std::ptrdiff_t>(l.strtab));
        cp_write_u32(b + l.crc, reference_crc32(b, l.crc));
        return out;
    }
};

// Rewrites the trailing CRC of an edited image (its last 4 bytes), assuming
// the image still ends where it did.
inline void refresh_crc(std::vector<uint8_t>& image) {
    if (image.size() >= 4) {
        const size_t crc = image.size() - 4;
        cp_write_u32(image.data() + crc, reference_crc32(image.data(), crc));
    }
}

}  // namespace copapy::test
