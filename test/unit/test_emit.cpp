// Output writers (lib/emit) and fixed-address resolution (lib/link/fixed.cpp).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <map>
#include <regex>
#include <sstream>

#include "driver/compile.hpp"
#include "emit/emit.hpp"
#include "link/fixed.hpp"
#include "support/error.hpp"

using namespace copapy;
namespace fs = std::filesystem;

namespace {

// x: float input, n: int input; y = x > 2 ? sin(x) * 2 + n // 3 : -(...); k = n // 3.
const char* const kProgram = COPAPY_TEST_DIR "/golden/program.json";

CompiledProgram compile_for(const TargetInfo& target, const std::string& input = kProgram) {
    CompileOptions opt;
    opt.input = input;
    opt.target = &target;
    opt.stencil_dir = COPAPY_STENCIL_DIR;
    return compile_program(opt);
}

EmitInput emit_input(const TargetInfo& t, const CompiledProgram& c, const LinkedImage& image,
                     std::optional<FixedAddresses> fixed = {}) {
    return EmitInput{t, c.ir, c.order, c.program, *c.db, image, c.image.patches, fixed, "program.json"};
}

size_t count(const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

// A one-instruction Thumb image: B.W (T4) whose target is patched, as if a
// stencil branched into the data region. Enough to provoke range errors.
LinkedImage thumb_branch_image(Program& program) {
    LinkedImage img;
    img.target = CP_TARGET_THUMBV7EM;
    img.flags = CP_FLAG_THUMB_ENTRY;
    img.code_align = img.data_align = 8;
    img.code = {0x00, 0xf0, 0x00, 0xb8};  // b.w .
    img.data = {0, 0, 0, 0};
    img.patches = {{0, CP_PATCH_THM_BRANCH24, CP_REGION_DATA, -4}};
    img.stencil_bytes = 4;
    img.step_offsets = {0};
    program.stencil_names = {"far_call_f"};
    program.steps = {Step{0, HoleKind::None}};
    return img;
}

}  // namespace

TEST_CASE("fixed addresses apply every patch exactly as the runtime loader does") {
    // (Here the data is base-relative, so these images have no patches left;
    // the fixed image must still be what the loader makes of it.)
    for (const char* name : {"x86_64", "aarch64"}) {
        INFO(name);
        const CompiledProgram c = compile_for(*find_target(name));
        const std::vector<uint8_t> bytes = write_image(c.image);
        cp_image img;
        REQUIRE(cp_image_open(&img, bytes.data(), bytes.size()) == CP_OK);
        // Load memory next to each other, as coparun maps it (rel32 reaches +-2 GiB).
        alignas(4096) static uint8_t memory[1 << 16];  // AArch64 images ask for page alignment (ADRP)
        uint8_t* code = memory;
        uint8_t* data = memory + (img.code_size + 4095) / 4096 * 4096;
        REQUIRE(data + img.data_size <= memory + sizeof memory);
        REQUIRE(cp_image_load(&img, code, img.code_size, data, img.data_size) == CP_OK);

        const FixedAddresses at{reinterpret_cast<uintptr_t>(code), reinterpret_cast<uintptr_t>(data)};
        const LinkedImage fixed = resolve_fixed(c.image, c.program, at);
        CHECK(fixed.patches.empty());
        CHECK((fixed.flags & CP_FLAG_FIXED_ADDR) != 0);
        CHECK(std::memcmp(fixed.code.data(), code, fixed.code.size()) == 0);
        CHECK(fixed.data == c.image.data);

        // The fixed image is a valid image, and loading it changes nothing.
        const std::vector<uint8_t> fixed_bytes = write_image(fixed);
        cp_image fimg;
        REQUIRE(cp_image_open(&fimg, fixed_bytes.data(), fixed_bytes.size()) == CP_OK);
        CHECK(fimg.patch_count == 0);
        // It records where it belongs, and loads nowhere else.
        CHECK(fimg.code_addr == at.code);
        CHECK(fimg.data_addr == at.data);
        alignas(4096) static uint8_t other[1 << 16];
        CHECK(cp_image_load(&fimg, other, img.code_size, data, img.data_size) == CP_ERR_ADDRESS);
        CHECK(cp_image_load(&fimg, code, img.code_size, data, img.data_size) == CP_OK);
    }
}

TEST_CASE("fixed addresses on 32-bit ARM encode absolute addresses in literal words and movw/movt") {
    // No stencil object has such patches left (every library is position
    // independent now), so the image is made by hand: movw r0 / movt r0 of
    // a data address, then a literal word holding a code address.
    const TargetInfo& t = thumbv7em_target();
    Program program;
    LinkedImage img = thumb_branch_image(program);
    img.code = {0x40, 0xf2, 0x00, 0x00,   // movw r0, #0
                0xc0, 0xf2, 0x00, 0x00,   // movt r0, #0
                0x00, 0x00, 0x00, 0x00};  // .word 0
    img.patches = {{0, CP_PATCH_THM_MOVW, CP_REGION_DATA, 8},
                   {4, CP_PATCH_THM_MOVT, CP_REGION_DATA, 8},
                   {8, CP_PATCH_ABS32, CP_REGION_CODE, 5}};
    img.stencil_bytes = 12;
    const LinkedImage fixed = resolve_fixed(img, program, {0x2000'0000, 0x2001'0000});
    CHECK(fixed.patches.empty());
    auto field = [&](uint32_t site, cp_patch_kind kind) {
        return static_cast<uint32_t>(t.implicit_addend(kind, &fixed.code[site])) & 0xffff;
    };
    CHECK(field(0, CP_PATCH_THM_MOVW) == 0x0008);  // data + 8 = 0x2001_0008
    CHECK(field(4, CP_PATCH_THM_MOVT) == 0x2001);
    CHECK(cp_read_u32(&fixed.code[8]) == 0x2000'0005u);  // code + 5 (a Thumb address)
    CHECK(fixed.code[1] == 0xf2);  // the opcodes are kept
    CHECK(fixed.code[5] == 0xf2);
}

TEST_CASE("fixed addresses: a branch that cannot reach names the stencil, kind, value and range") {
    Program program;
    const LinkedImage img = thumb_branch_image(program);
    // Code in flash at 0, data in RAM at 0x2000_0000: 512 MiB away, Thumb B.W reaches 16 MiB.
    try {
        resolve_fixed(img, program, {0x0, 0x2000'0000});
        FAIL("expected a range error");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::Usage);
        CHECK_THAT(e.what(), Catch::Contains("stencil 'far_call_f' (step 0) at code+0x0") &&
                                 Catch::Contains("thm_branch24 patch to data-0x4 (address 0x1ffffffc)") &&
                                 Catch::Contains("value 536870908 is out of range [-16777216, 16777215]"));
    }
    // Within reach it is applied: B.W to 0x10_0000 - 4 from 0.
    const LinkedImage near = resolve_fixed(img, program, {0x0, 0x10'0000});
    CHECK(thumbv7em_target().implicit_addend(CP_PATCH_THM_BRANCH24, near.code.data()) == 0x10'0000 - 4);
}

TEST_CASE("fixed addresses are checked for alignment, overlap and the address space") {
    Program program;
    const LinkedImage img = thumb_branch_image(program);
    auto message = [&](FixedAddresses at) -> std::string {
        try {
            resolve_fixed(img, program, at);
        } catch (const Error& e) {
            CHECK(e.kind() == ErrorKind::Usage);
            return e.what();
        }
        return "";
    };
    CHECK(message({0x4, 0x1000}) == "--code-addr 0x4 is not a multiple of the code alignment 8");
    CHECK(message({0x1000, 0x1002}) == "--data-addr 0x1002 is not a multiple of the data alignment 8");
    CHECK(message({0x1000, 0x1000}) == "code [0x1000, 0x1004) and data [0x1000, 0x1004) overlap");
    CHECK(message({0x1000, 0x2000}) == "");
    CHECK_THAT(message({0x1'0000'0000, 0x1000}), Catch::Contains("do not fit the target's address space"));
}

TEST_CASE("listings disassemble every target and mark every patch site") {
    for (const TargetInfo* t : all_targets()) {
        INFO(t->name);
        const CompiledProgram c = compile_for(*t);
        const std::string text = format_listing(emit_input(*t, c, c.image));
        // One note per load-time patch, and the entry and exit stencils by name.
        CHECK(count(text, "; patch ") == c.image.patches.size());
        CHECK(count(text, "resolved ") + count(text, "; near ") > 0);
        CHECK_THAT(text, Catch::Contains("; step 0: cp_entry") && Catch::Contains("cp_exit") &&
                             Catch::Contains("node 3") && Catch::Contains("; constants in the data region (2 words)") &&
                             Catch::Contains("x: float input (initial 0.5)"));
        // Instructions, not bytes: something every instruction set has.
        const std::map<std::string_view, std::string> mnemonic = {
            {"x86_64", "movss"}, {"aarch64", "ldr"}, {"armv7", "vldr"}, {"thumbv7", "vldr"}, {"thumbv7em", "vldr"},
            {"riscv64", "flw"}, {"x86", "movss"}, {"riscv32", "flw"},
            {"armv6", "vldr"}};
        CHECK_THAT(text, Catch::Contains(mnemonic.at(t->name)));
        CHECK_THAT(text, !Catch::Contains(".byte"));  // nothing failed to decode
    }
}

TEST_CASE("a fixed-address listing shows absolute addresses and the patched fields") {
    const CompiledProgram c = compile_for(thumbv7em_target());
    const FixedAddresses at{0x2000'0000, 0x2001'0000};
    const LinkedImage fixed = resolve_fixed(c.image, c.program, at);
    const std::string text = format_listing(emit_input(thumbv7em_target(), c, fixed, at));
    CHECK(count(text, "; patched ") == c.image.patches.size());
    CHECK_THAT(text, Catch::Contains("code at 0x20000000, data at 0x20010000"));
    // x is the first data slot: 252 bytes below the base register.
    CHECK_THAT(text, Catch::Contains("[r9, #-252]") && Catch::Contains("; near vldr/vstr imm8*4 data+0x0"));
    CHECK(std::regex_search(text, std::regex("\n20000000  ")));
}

TEST_CASE("the DAG as Graphviz has a node per kept value and an edge per operand") {
    const CompiledProgram c = compile_for(x86_64_target());
    const std::string dot = format_dot(emit_input(x86_64_target(), c, c.image));
    CHECK_THAT(dot, Catch::StartsWith("// The optimized DAG of program.json") && Catch::Contains("digraph copapy {") &&
                        Catch::EndsWith("}\n"));
    size_t edges = 0;
    for (uint32_t v : c.order) edges += c.ir.nodes[v].nargs;
    CHECK(count(dot, " -> n") == edges);
    CHECK(count(dot, " -> out") == c.ir.outputs.size());
    CHECK_THAT(dot, Catch::Contains("[label=\"x\\nfloat input\"") && Catch::Contains("[label=\"3\"") &&
                        Catch::Contains("floordiv\\nint | node 3 | #"));
}

TEST_CASE("the C header holds the image bytes and the layout") {
    const CompiledProgram c = compile_for(thumbv7em_target());
    const std::vector<uint8_t> bytes = write_image(c.image);
    const std::string h = format_c_header(emit_input(thumbv7em_target(), c, c.image), bytes, "prog");
    CHECK_THAT(h, Catch::Contains("static const uint8_t prog_image[" + std::to_string(bytes.size()) + "]") &&
                      Catch::Contains("#define PROG_TARGET 5 /* CP_TARGET_THUMBV7EM */") &&
                      Catch::Contains("#define PROG_OFFSET_x 0u /* float input, x */") &&
                      Catch::Contains("#define PROG_DTYPE_k 1 /* CP_DTYPE_INT */") &&
                      Catch::Contains("__attribute__((aligned(16)))"));
    CHECK_THAT(h, !Catch::Contains("PROG_CODE_ADDR"));
    // The array's contents, parsed back, are the image.
    std::vector<uint8_t> parsed;
    const std::regex byte("0x([0-9a-f]{2}),");
    const std::string array = h.substr(h.find("= {"));
    for (auto it = std::sregex_iterator(array.begin(), array.end(), byte); it != std::sregex_iterator(); ++it)
        parsed.push_back(static_cast<uint8_t>(std::stoi((*it)[1], nullptr, 16)));
    CHECK(parsed == bytes);
}

TEST_CASE("C identifiers are made of value names, and clashes are errors") {
    CHECK(c_identifier("pos[0]") == "pos_0");
    CHECK(c_identifier("a.b[12]") == "a_b_12");
    CHECK(c_identifier("x") == "x");
    CHECK(c_identifier("9lives") == "_9lives");

    const fs::path dir = fs::temp_directory_path() / ("copapy-emit-test-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "clash.json") << R"({"format":"copapy-dag","version":1,"nodes":[
        {"id":0,"op":"input","dtype":"int","name":"a.b","value":1},
        {"id":1,"op":"input","dtype":"int","name":"a_b","value":2}],"outputs":[]})";
    const CompiledProgram c = compile_for(x86_64_target(), (dir / "clash.json").string());
    const std::vector<uint8_t> bytes = write_image(c.image);
    CHECK_THROWS_WITH(format_c_header(emit_input(x86_64_target(), c, c.image), bytes, "p"),
                      "names 'a.b' and 'a_b' both become the C identifier 'a_b' in the header");
    fs::remove_all(dir);
}

TEST_CASE("the manifest describes the image") {
    const CompiledProgram c = compile_for(aarch64_target());
    const std::vector<uint8_t> bytes = write_image(c.image);
    const auto j = nlohmann::json::parse(format_manifest(emit_input(aarch64_target(), c, c.image), bytes));
    CHECK(j["format"] == "copapy-manifest");
    CHECK(j["target"] == "aarch64");
    CHECK(j["image_size"] == bytes.size());
    CHECK(j["code_size"] == c.image.code.size());
    CHECK(j["data_size"] == c.image.data.size());
    CHECK(j["patches"] == c.image.patches.size());
    CHECK(j["fixed"].is_null());
    CHECK(j["inputs"].size() == 2);
    CHECK(j["inputs"][0] == nlohmann::json{{"name", "x"}, {"dtype", "float"}, {"offset", 0}, {"initial", 0.5}});
    CHECK(j["inputs"][1]["initial"] == 7);
    REQUIRE(j["outputs"].size() == 2);
    CHECK(j["outputs"][0]["name"] == "y");
    size_t steps = 0;
    for (const auto& [name, n] : j["stencils"].items()) steps += n.get<size_t>();
    CHECK(steps == c.program.steps.size());
    CHECK(j["steps"] == steps);
    CHECK(j["stencils"]["cp_entry"] == 1);
}

TEST_CASE("depfiles are Make rules with special characters escaped") {
    const std::vector<std::string> targets = {"out/p.cpimg", "out/p.h"};
    const std::vector<std::string> deps = {"my prog#1.json", "/opt/$x/thumbv7em.o"};
    CHECK(format_depfile(targets, deps) == "out/p.cpimg out/p.h: \\\n  my\\ prog\\#1.json \\\n  /opt/$$x/thumbv7em.o\n");
}

TEST_CASE("diagnostics become JSON lines with file and location where recognisable") {
    const std::vector<std::string> files = {"p.json", "st/x86_64.o"};
    auto lines = [&](std::string_view text) {
        std::vector<nlohmann::json> out;
        std::istringstream in(diagnostics_json("error", text, files));
        for (std::string l; std::getline(in, l);) out.push_back(nlohmann::json::parse(l));
        return out;
    };
    auto v = lines("p.json: node 17 ('mul'): dtype is 'int' but operands (int, float) give 'float'\n"
                   "p.json: outputs[1] ('y'): no node with id 7");
    REQUIRE(v.size() == 2);
    CHECK(v[0] == nlohmann::json{{"severity", "error"},
                                 {"file", "p.json"},
                                 {"location", "node 17 ('mul')"},
                                 {"message", "dtype is 'int' but operands (int, float) give 'float'"}});
    CHECK(v[1]["location"] == "outputs[1] ('y')");
    // A prefix that is not a known file stays in the message, as does a colon-separated text that is no location.
    v = lines("q.json: node 1: x\np.json: malformed JSON: parse error at line 2, column 1: oops\nout of memory");
    CHECK(v[0]["file"].is_null());
    CHECK(v[0]["message"] == "q.json: node 1: x");
    CHECK(v[1]["file"] == "p.json");
    CHECK(v[1]["location"].is_null());
    CHECK(v[1]["message"] == "malformed JSON: parse error at line 2, column 1: oops");
    CHECK(v[2] == nlohmann::json{{"severity", "error"}, {"file", nullptr}, {"location", nullptr}, {"message", "out of memory"}});
    v = lines("st/x86_64.o: stencil 'add_ff': unsupported relocation R_X86_64_GOTPCREL against 'x' at offset 0x4");
    CHECK(v[0]["file"] == "st/x86_64.o");
    CHECK(v[0]["location"] == "stencil 'add_ff'");
}

TEST_CASE("the stencil report lists stencils, relocations and library sections") {
    for (const TargetInfo* t : all_targets()) {
        INFO(t->name);
        auto db = StencilDb::load(std::string(COPAPY_STENCIL_DIR) + "/" + std::string(t->name) + ".o", *t);
        const std::string text = format_stencils(*db);
        CHECK_THAT(text, Catch::Contains(", 0 unusable;") && Catch::Contains("\ncp_entry  in ") &&
                             Catch::Contains("(tail jump cut)") && Catch::Contains("(next stencil), cut") &&
                             Catch::Contains("(memory operand)") && Catch::Contains("; library sections"));
        CHECK_THAT(text, !Catch::Contains("UNSUPPORTED"));
    }
}

TEST_CASE("states are named as such in the manifest, the header and the listing") {
    CHECK(symbol_role(CP_SYM_INPUT) == "input");
    CHECK(symbol_role(CP_SYM_OUTPUT) == "output");
    CHECK(symbol_role(CP_SYM_INPUT | CP_SYM_OUTPUT) == "input and output");
    CHECK(symbol_role(CP_SYM_INPUT | CP_SYM_OUTPUT | CP_SYM_STATE) == "state");

    const fs::path dir = fs::temp_directory_path() / ("copapy-emit-state-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "lowpass.json") << R"({"format":"copapy-dag","version":2,"nodes":[
        {"id":0,"op":"state","dtype":"float","name":"s","value":0.0},
        {"id":1,"op":"input","dtype":"float","name":"x","value":1.0},
        {"id":2,"op":"add","dtype":"float","args":[0,1]}],
        "outputs":[{"name":"y","node":2}],"updates":[{"state":0,"node":2}]})";
    const CompiledProgram c = compile_for(x86_64_target(), (dir / "lowpass.json").string());
    fs::remove_all(dir);
    const EmitInput in = emit_input(x86_64_target(), c, c.image);
    const std::vector<uint8_t> bytes = write_image(c.image);
    const auto j = nlohmann::json::parse(format_manifest(in, bytes));
    CHECK(j["inputs"][0]["name"] == "s");
    CHECK(j["inputs"][0]["state"] == true);
    CHECK(j["outputs"][0]["state"] == true);  // a state is read back, too
    CHECK_FALSE(j["inputs"][1].contains("state"));
    CHECK_THAT(format_c_header(in, bytes, "lp"), Catch::Contains("/* float state, s */"));
    CHECK_THAT(format_listing(in), Catch::Contains("s: float state (initial 0)"));
}
