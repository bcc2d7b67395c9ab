// The whole compile pipeline (read, gradients, IR with CSE/folding/algebra,
// linearize, plan, link, write the image) on arbitrary bytes, JSON or CBOR,
// for the target and -O level the last input byte chooses (fuzz.hpp). A
// program that compiles must give an image the runtime accepts and loads.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include <copapy/image.h>

#include "fuzz.hpp"
#include "support/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace copapy;
    const fuzz::Options opt = fuzz::split_options(std::span<const uint8_t>(data, size), false);
    fuzz::Compiled c;
    try {
        c = fuzz::compile_bytes(opt.dag, *opt.target, opt.opt_level);
    } catch (const Error&) {
        return 0;  // rejected with a message
    }
    const std::vector<uint8_t> bytes = write_image(c.image);
    cp_image img;
    const cp_status st = cp_image_open(&img, bytes.data(), bytes.size());
    FUZZ_CHECK(st == CP_OK, "the runtime rejects a compiled image: %s", cp_status_message(st));
    // Load at the alignments the image asks for, below 4 GiB (fuzz.hpp): every
    // patch of a compiled image must then encode.
    fuzz::LowMemory code(img.code_size, img.code_align), mem(img.data_size, img.data_align);
    FUZZ_CHECK(code.low(img.code_size) && mem.low(img.data_size), "no memory below 4 GiB");
    const cp_status ld = cp_image_load(&img, code.get(), img.code_size, mem.get(), img.data_size);
    FUZZ_CHECK(ld == CP_OK, "the runtime cannot load a compiled image for %s: %s",
               std::string(opt.target->name).c_str(), cp_status_message(ld));
    for (uint32_t i = 0; i < img.symbol_count; ++i) {
        cp_symbol sym;
        FUZZ_CHECK(cp_image_symbol(&img, i, &sym) == CP_OK, "symbol %u", i);
        cp_symbol found;
        FUZZ_CHECK(cp_image_find(&img, sym.name, &found) == CP_OK, "symbol '%s' not found by name", sym.name);
    }
    return 0;
}
