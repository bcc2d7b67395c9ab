// The output writers (lib/emit, lib/cgen) and fixed-address resolution
// (lib/link/fixed.cpp) on every program that compiles: listing, dot, C
// header, manifest, C source and depfile, for the load-time image and, when
// the fixed addresses in the input's trailer (fuzz.hpp) are accepted, for the
// resolved one, as write_outputs() does for `--code-addr/--data-addr`.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <copapy/image.h>

#include "cgen/c_source.hpp"
#include "emit/emit.hpp"
#include "fuzz.hpp"
#include "link/fixed.hpp"
#include "support/error.hpp"

namespace {

using namespace copapy;

void write_all(const fuzz::Compiled& c, const TargetInfo& target, const LinkedImage& image,
               std::optional<FixedAddresses> fixed) {
    const EmitInput in{target, c.ir, c.order, c.program, fuzz::stencils(target), image, c.image.patches, fixed, "fuzz.json"};
    const std::vector<uint8_t> bytes = write_image(image);
    FUZZ_CHECK(ImageParts(image).join() == bytes, "ImageParts and write_image disagree");
    (void)format_listing(in);
    (void)format_dot(in);
    try {
        (void)format_c_header(in, bytes, "fuzz");
    } catch (const Error&) {
        // two names that map to one C identifier: a documented error
    }
    const std::string manifest = format_manifest(in, bytes);
    FUZZ_CHECK(nlohmann::json::accept(manifest), "the manifest is not JSON");
    (void)emit_c_source(c.ir, c.order, c.program);
    const std::vector<std::string> targets = {"out dir/fuzz.cpimg"}, deps = {"fuzz$#.json", "x86_64.o"};
    (void)format_depfile(targets, deps);

    cp_image img;
    const cp_status st = cp_image_open(&img, bytes.data(), bytes.size());
    FUZZ_CHECK(st == CP_OK, "the runtime rejects a compiled image: %s", cp_status_message(st));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const fuzz::Options opt = fuzz::split_options(std::span<const uint8_t>(data, size), true);
    fuzz::Compiled c;
    try {
        c = fuzz::compile_bytes(opt.dag, *opt.target, opt.opt_level);
    } catch (const Error& e) {
        const std::vector<std::string> files = {"fuzz.json"};
        const std::string json = diagnostics_json("error", e.what(), files);
        for (size_t start = 0; start < json.size();) {
            const size_t nl = json.find('\n', start);
            FUZZ_CHECK(nlohmann::json::accept(json.substr(start, nl - start)), "diagnostics line is not JSON");
            if (nl == std::string::npos) break;
            start = nl + 1;
        }
        return 0;
    }
    write_all(c, *opt.target, c.image, std::nullopt);
    const FixedAddresses at{opt.code_addr, opt.data_addr};
    LinkedImage fixed;
    try {
        fixed = resolve_fixed(c.image, c.program, at);
    } catch (const Error&) {
        return 0;  // misaligned, overlapping, out of range: refused with a message
    }
    FUZZ_CHECK(fixed.patches.empty() && (fixed.flags & CP_FLAG_FIXED_ADDR), "fixed image still has patches");
    write_all(c, *opt.target, fixed, at);
    return 0;
}
