// The POSIX host loader (include/copapy/host.h, lib/runtime/host_loader.c)
// on images built with image_builder.hpp: errors, the symbol API, the page
// protections and (on x86-64 hosts) running and batches.
#include <catch2/catch.hpp>

#include <copapy/host.h>
#include <copapy/image.h>

#include "image_builder.hpp"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using copapy::test::ImageBuilder;

namespace {

// n += x (ints) each run; x is an input, n an input and output.
ImageBuilder counter() {
    ImageBuilder b;
    // mov eax, [rip + x]; add [rip + n], eax; ret
    b.code = {0x8b, 0x05, 0, 0, 0, 0, 0x01, 0x05, 0, 0, 0, 0, 0xc3};
    b.data = {1, 0, 0, 0, 0, 0, 0, 0};
    b.patches = {{2, CP_PATCH_REL32, CP_REGION_DATA, 0 - 4}, {8, CP_PATCH_REL32, CP_REGION_DATA, 4 - 4}};
    b.symbols = {{"x", 0, CP_DTYPE_INT, CP_SYM_INPUT}, {"n", 4, CP_DTYPE_INT, CP_SYM_INPUT | CP_SYM_OUTPUT}};
    return b;
}

// The permissions ("r-xp", ...) of the mapping that holds `address` in /proc/self/maps.
std::string permissions(const void* address) {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    const auto a = reinterpret_cast<uintptr_t>(address);
    while (std::getline(maps, line)) {
        std::istringstream in(line);
        std::string span, perms;
        in >> span >> perms;
        const size_t dash = span.find('-');
        const uintptr_t lo = std::stoull(span.substr(0, dash), nullptr, 16);
        const uintptr_t hi = std::stoull(span.substr(dash + 1), nullptr, 16);
        if (lo <= a && a < hi) return perms;
    }
    return "unmapped";
}

std::string load_error(const std::vector<uint8_t>& bytes) {
    char error[128] = "untouched";
    cp_host_image* h = cp_host_load(bytes.data(), bytes.size(), error, sizeof error);
    CHECK(h == nullptr);
    cp_host_free(h);
    return error;
}

}  // namespace

TEST_CASE("cp_host_load reports bad images with the runtime's messages", "[host]") {
    CHECK(load_error({}) == "image is truncated");
    std::vector<uint8_t> bytes = counter().build();
    bytes[CP_HEADER_SIZE] ^= 0x40;
    CHECK(load_error(bytes) == "checksum mismatch: the image is corrupted");
    ImageBuilder foreign = counter();
    foreign.target = cp_host_runs(CP_TARGET_X86_64) ? CP_TARGET_AARCH64 : CP_TARGET_X86_64;
    foreign.patches.clear();
    CHECK(load_error(foreign.build()) == std::string("image is for ") + cp_host_target_name(foreign.target) +
                                             ", but this runner executes " + cp_host_name() + " code");
    // A short error buffer gets a truncated, terminated message; none at all is allowed.
    char tiny[6];
    CHECK(cp_host_load(nullptr, 0, tiny, sizeof tiny) == nullptr);
    CHECK(std::string(tiny) == "image");
    CHECK(cp_host_load(nullptr, 0, nullptr, 0) == nullptr);
    CHECK(cp_host_api_version() == CP_HOST_API_VERSION);
}

#if defined(__x86_64__)
TEST_CASE("cp_host_load maps code read+execute and data read+write, and cp_host_free unmaps them", "[host][exec]") {
    const std::vector<uint8_t> bytes = counter().build();
    char error[128];
    cp_host_image* h = cp_host_load(bytes.data(), bytes.size(), error, sizeof error);
    REQUIRE(h != nullptr);
    CHECK(cp_host_target(h) == CP_TARGET_X86_64);
    CHECK(cp_host_code_size(h) == 13);
    CHECK(cp_host_data_size(h) == 8);
    CHECK(permissions(cp_host_code(h)) == "r-xp");
    CHECK(permissions(cp_host_data(h)) == "rw-p");
    const void* code = cp_host_code(h);

    REQUIRE(cp_host_symbol_count(h) == 2);
    const char* name = nullptr;
    uint32_t offset = 99;
    unsigned dtype = 0, flags = 0;
    CHECK(cp_host_symbol(h, 1, &name, &offset, &dtype, &flags) == 0);
    CHECK((std::string(name) == "n" && offset == 4 && dtype == CP_DTYPE_INT &&
           flags == (CP_SYM_INPUT | CP_SYM_OUTPUT)));
    CHECK(cp_host_symbol(h, 2, &name, &offset, &dtype, &flags) == -1);

    uint8_t* data = cp_host_data(h);
    cp_host_run(h, 0);
    CHECK(cp_read_u32(data + 4) == 0);
    cp_host_run(h, 5);
    CHECK(cp_read_u32(data + 4) == 5);
    cp_write_u32(data, 10);
    cp_host_run(h, 1);
    CHECK(cp_read_u32(data + 4) == 15);

    // Batches: period p writes x = p (and n = 100 in period 1), then reads n.
    const uint32_t writes[] = {1, 2, 1};
    const uint32_t offsets[] = {0, 0, 4, 0};
    const uint32_t bits[] = {0, 1, 100, 2};
    const uint32_t outs[] = {4, 0};
    uint32_t got[6] = {};
    REQUIRE(cp_host_run_batch(h, 3, writes, offsets, bits, 2, outs, got) == 0);
    CHECK(std::vector<uint32_t>(got, got + 6) == std::vector<uint32_t>{15, 0, 101, 1, 103, 2});
    // Offsets outside the data region or misaligned: refused before anything runs.
    const uint32_t bad_offsets[] = {8};
    const uint32_t one[] = {1};
    CHECK(cp_host_run_batch(h, 1, one, bad_offsets, bits, 0, outs, got) == -1);
    const uint32_t odd[] = {2};
    CHECK(cp_host_run_batch(h, 1, writes, offsets, bits, 1, odd, got) == -1);
    CHECK(cp_read_u32(data + 4) == 103);

    // Columns: x takes 1, 2, 3 over three periods (n written to 0 first);
    // the outputs come back column by column: n's three values, then x's.
    const uint32_t in_offsets[] = {4, 0};
    const uint32_t in_bits[] = {0, 0, 0, 1, 2, 3};  // n's column (0 each period), then x's
    const uint32_t col_outs[] = {4, 0};
    uint32_t cols[6] = {};
    REQUIRE(cp_host_run_columns(h, 3, 2, in_offsets, in_bits, 2, col_outs, cols) == 0);
    CHECK(std::vector<uint32_t>(cols, cols + 6) == std::vector<uint32_t>{1, 2, 3, 1, 2, 3});
    // Only x as a column: n accumulates across periods.
    REQUIRE(cp_host_run_columns(h, 3, 1, in_offsets + 1, in_bits + 3, 1, col_outs, cols) == 0);
    CHECK(std::vector<uint32_t>(cols, cols + 3) == std::vector<uint32_t>{4, 6, 9});
    CHECK(cp_host_run_columns(h, 1, 1, bad_offsets, in_bits, 0, col_outs, cols) == -1);
    CHECK(cp_host_run_columns(h, 1, 0, in_offsets, in_bits, 1, odd, cols) == -1);
    CHECK(cp_read_u32(data + 4) == 9);

    cp_host_free(h);
    CHECK(permissions(code) == "unmapped");
    cp_host_free(nullptr);
}
#endif

#if defined(__x86_64__)
TEST_CASE("cp_host_load maps a fixed-address image where it belongs, or says why not", "[host][exec][fixed]") {
    // counter() resolved by hand for code at C and data at D = C + 1 MiB.
    const uint64_t c = 0x1230'0000'0000, d = c + 0x10'0000;
    ImageBuilder b = counter();
    for (const auto& p : b.patches) {
        const int64_t rel = static_cast<int64_t>(d + static_cast<uint64_t>(static_cast<int64_t>(p.addend)) - (c + p.site));
        cp_write_u32(b.code.data() + p.site, static_cast<uint32_t>(static_cast<int32_t>(rel)));
    }
    b.patches.clear();
    b.flags = CP_FLAG_FIXED_ADDR;
    b.code_addr = c;
    b.data_addr = d;
    const std::vector<uint8_t> bytes = b.build();
    char error[256] = "";
    cp_host_image* h = cp_host_load(bytes.data(), bytes.size(), error, sizeof error);
    INFO(error);
    REQUIRE(h != nullptr);
    CHECK(reinterpret_cast<uintptr_t>(cp_host_code(h)) == c);
    CHECK(reinterpret_cast<uintptr_t>(cp_host_data(h)) == d);
    CHECK(permissions(cp_host_code(h)) == "r-xp");
    CHECK(permissions(cp_host_data(h)) == "rw-p");
    cp_write_u32(cp_host_data(h), 5);
    cp_host_run(h, 3);
    CHECK(cp_read_u32(cp_host_data(h) + 4) == 15);

    // A second copy cannot go there: that range is in use, and nothing is replaced.
    cp_host_image* again = cp_host_load(bytes.data(), bytes.size(), error, sizeof error);
    CHECK(again == nullptr);
    CHECK(std::string(error) == "fixed-address image: cannot map the code at 0x123000000000, where it was built to "
                                "run: File exists (that address range is already in use in this process)");
    cp_host_run(h, 1);  // the first one still works
    CHECK(cp_read_u32(cp_host_data(h) + 4) == 20);
    cp_host_free(h);
    CHECK(permissions(reinterpret_cast<void*>(c)) == "unmapped");
    CHECK(permissions(reinterpret_cast<void*>(d)) == "unmapped");

    // Code and data on one page cannot be read+execute and writable at once.
    b.data_addr = c + 0x100;
    const std::vector<uint8_t> shared = b.build();
    CHECK(cp_host_load(shared.data(), shared.size(), error, sizeof error) == nullptr);
    CHECK(std::string(error) == "fixed-address image: code at 0x123000000000 and data at 0x123000000100 share a "
                                "4096-byte page, which cannot be read+execute and writable at once; build it with "
                                "the data on other pages");
}
#endif
