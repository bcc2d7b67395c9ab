// The runtime (lib/runtime) on arbitrary bytes: cp_image_open, symbol
// lookups, cp_image_load with its patching at two load addresses, and the
// host loader (cp_host_load: copy, mmap, patch, W^X; the code is never run).
// The CRC-32 at the end of the input is recomputed first, so that mutations
// reach the checks behind the checksum (a mismatch is tested by the unit tests).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include <copapy/host.h>
#include <copapy/image.h>

#include "fuzz.hpp"

namespace {

// Loads at `shift` bytes (a multiple of the alignment) past an aligned
// address below 4 GiB, where 32-bit targets' absolute patches can encode.
void load_at(const cp_image& img, uint32_t code_shift, uint32_t data_shift) {
    copapy::fuzz::LowMemory code(size_t(img.code_size) + code_shift, img.code_align);
    copapy::fuzz::LowMemory data(size_t(img.data_size) + data_shift, img.data_align);
    if (!code.get() || !data.get()) return;
    uint8_t* c = code.get() + code_shift;
    uint8_t* d = data.get() + data_shift;
    (void)cp_image_load(&img, c, img.code_size, d, img.data_size);
    (void)cp_image_entry_address(&img, c);
    // Too little memory must be refused, not overrun.
    if (img.code_size > 0) FUZZ_CHECK(cp_image_load(&img, c, img.code_size - 1, d, img.data_size) != CP_OK, "short code");
    if (img.data_size > 0) FUZZ_CHECK(cp_image_load(&img, c, img.code_size, d, img.data_size - 1) != CP_OK, "short data");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<uint8_t> bytes(data, data + size);
    if (size >= 4) {
        const uint32_t crc = cp_crc32(bytes.data(), size - 4);
        for (int i = 0; i < 4; ++i) bytes[size - 4 + i] = uint8_t(crc >> (8 * i));
    }
    cp_image img;
    if (cp_image_open(&img, bytes.data(), bytes.size()) == CP_OK) {
        for (uint32_t i = 0; i < img.symbol_count; ++i) {
            cp_symbol sym;
            if (cp_image_symbol(&img, i, &sym) != CP_OK) continue;
            cp_symbol found;
            FUZZ_CHECK(cp_image_find(&img, sym.name, &found) == CP_OK, "symbol %u not found by its name", i);
        }
        cp_symbol none;
        (void)cp_image_find(&img, "no such symbol \x01", &none);
        load_at(img, 0, 0);
        // Another address: PC-relative and page patches take other values.
        load_at(img, img.code_align < 4096 ? 4096 : img.code_align, img.data_align);
    }
    char error[128];
    cp_host_image* host = cp_host_load(bytes.data(), bytes.size(), error, sizeof error);
    if (host) {
        for (uint32_t i = 0; i < cp_host_symbol_count(host); ++i) {
            const char* name;
            uint32_t offset;
            unsigned dtype, flags;
            (void)cp_host_symbol(host, i, &name, &offset, &dtype, &flags);
        }
        cp_host_free(host);
    } else {
        FUZZ_CHECK(std::memchr(error, 0, sizeof error) != nullptr, "error message not terminated");
    }
    return 0;
}
