// The command line of the output writers: --emit KIND[=PATH], --depfile,
// --code-addr/--data-addr, --diagnostics json and `copapy-cc stencils`.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "cli_runner.hpp"
#include "driver/cli.hpp"

using namespace copapy;
namespace fs = std::filesystem;

namespace {

using test::cli;
using test::Run;

// A scratch directory with a small valid DAG (prog.json) in it.
struct Scratch {
    fs::path dir = fs::temp_directory_path() / ("copapy-emit-cli-" + std::to_string(::getpid()));
    Scratch() {
        fs::remove_all(dir);
        fs::create_directories(dir);
        std::ofstream(dir / "prog.json") << R"({"format":"copapy-dag","version":1,"nodes":[
          {"id":0,"op":"input","dtype":"float","name":"a","value":0.25},
          {"id":1,"op":"sqrt","dtype":"float","args":[0]}],"outputs":[{"name":"r","node":1}]})";
        std::ofstream(dir / "bad.json") << R"({"format":"copapy-dag","version":1,"nodes":[
          {"id":0,"op":"input","dtype":"float","name":"a","value":0.25},
          {"id":1,"op":"mul","dtype":"int","args":[0,0]}],"outputs":[{"name":"r","node":1}]})";
    }
    ~Scratch() { fs::remove_all(dir); }
    std::string operator/(const std::string& name) const { return (dir / name).string(); }
    std::vector<std::string> files() const {
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }
};

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), {}};
}

const std::string kStencils = COPAPY_STENCIL_DIR;

}  // namespace

TEST_CASE("emit option: names each artifact after -o or the input, or after its own =PATH") {
    Scratch s;
    Run r = cli({"build", s / "prog.json", "--stencils", kStencils, "--emit", "image,c-header", "--emit", "manifest",
                 "--emit", "dot=" + (s / "graph.gv")});
    INFO(r.err);
    REQUIRE(r.code == kExitOk);
    CHECK(s.files() == std::vector<std::string>{"bad.json", "graph.gv", "prog.cpimg", "prog.h", "prog.json",
                                                "prog.manifest.json"});
    // -o names the first artifact; the rest follow its name.
    r = cli({"build", s / "prog.json", "--stencils", kStencils, "-o", s / "out.h", "--emit", "c-header,image"});
    REQUIRE(r.code == kExitOk);
    CHECK(fs::exists(s / "out.h"));
    CHECK(fs::exists(s / "out.cpimg"));
    CHECK_THAT(slurp(s / "out.h"), Catch::Contains("static const uint8_t out_image["));
    // --c-name overrides the identifiers.
    r = cli({"build", s / "prog.json", "--stencils", kStencils, "--emit", "c-header=-", "--c-name", "filter"});
    REQUIRE(r.code == kExitOk);
    CHECK_THAT(r.out, Catch::Contains("static const uint8_t filter_image[") && Catch::Contains("#define FILTER_OFFSET_a 0u"));
}

TEST_CASE("a listing or graph goes to standard output with -o -") {
    Scratch s;
    Run r = cli({"build", s / "prog.json", "--stencils", kStencils, "-t", "thumbv7em", "--emit", "listing", "-o", "-"});
    REQUIRE(r.code == kExitOk);
    CHECK_THAT(r.out, Catch::StartsWith("; copapy-cc listing for thumbv7em:") && Catch::Contains("vsqrt.f32"));
    r = cli({"build", s / "prog.json", "--stencils", kStencils, "--emit", "dot", "-o", "-"});
    REQUIRE(r.code == kExitOk);
    CHECK_THAT(r.out, Catch::Contains("digraph copapy {") && Catch::Contains("sqrt\\nfloat | node 1 | #1"));
    CHECK(s.files() == std::vector<std::string>{"bad.json", "prog.json"});
}

TEST_CASE("bad --emit combinations are usage errors and write nothing") {
    Scratch s;
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"--emit", "asm"}, "--emit: unknown kind 'asm' (known: image, listing, dot, c-header, manifest, c)"},
        {{"--emit", "image", "-o", "-"}, "the image is binary: write it to a file, not '-'"},
        {{"--emit", "listing=-,dot=-"}, "only one artifact can go to standard output"},
        {{"--emit", "listing=" + (s / "x"), "--emit", "dot=" + (s / "x")}, "is named for both the listing and the dot"},
        {{"--emit", "image=" + (s / "a"), "-o", s / "b"}, "names no artifact: the image already goes to '" + (s / "a") + "'"},
        {{"--emit", "listing="}, "--emit listing=: empty path"},
        {{"--emit", "dot=-", "--depfile", s / "d"}, "--depfile needs an artifact written to a file"},
        {{"--code-addr", "0x1000"}, "--code-addr and --data-addr go together"},
        {{"--code-addr", "0x10g0", "--data-addr", "0"}, "--code-addr expects an address such as 0x20000000, not '0x10g0'"},
        {{"--emit", "image=" + (s / "prog.json")}, "would overwrite the input"},
    };
    for (const auto& [extra, message] : cases) {
        std::vector<std::string> args = {"build", s / "prog.json", "--stencils", kStencils};
        args.insert(args.end(), extra.begin(), extra.end());
        Run r = cli(args);
        INFO(message);
        CHECK(r.code == kExitUsage);
        CHECK_THAT(r.err, Catch::StartsWith("copapy-cc: error: ") && Catch::Contains(message));
        CHECK(s.files() == std::vector<std::string>{"bad.json", "prog.json"});
    }
}

TEST_CASE("depfile option: lists the DAG and the stencil object, and is written only on success") {
    Scratch s;
    Run r = cli({"build", s / "prog.json", "--stencils", kStencils, "-t", "aarch64", "-o", s / "p.cpimg", "--emit",
                 "image,c-header", "--depfile", s / "p.d"});
    INFO(r.err);
    REQUIRE(r.code == kExitOk);
    CHECK(slurp(s / "p.d") == (s / "p.cpimg") + " " + (s / "p.h") + ": \\\n  " + (s / "prog.json") + " \\\n  " +
                                  kStencils + "/aarch64.o\n");
    r = cli({"build", s / "bad.json", "--stencils", kStencils, "-o", s / "q.cpimg", "--depfile", s / "q.d"});
    CHECK(r.code == kExitInput);
    CHECK_FALSE(fs::exists(s / "q.d"));
    CHECK_FALSE(fs::exists(s / "q.cpimg"));
}

TEST_CASE("fixed-address options: write an image without patches, or explain why not") {
    Scratch s;
    Run r = cli({"build", s / "prog.json", "--stencils", kStencils, "-t", "thumbv7em", "--code-addr", "0x2000_0000",
                 "--data-addr", "0x20010000", "--emit", "manifest=-", "-o", s / "fw.cpimg", "--emit", "image"});
    INFO(r.err);
    REQUIRE(r.code == kExitOk);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j["patches"] == 0);
    CHECK(j["fixed"]["code_addr"] == 0x2000'0000);
    CHECK(j["fixed"]["patches_applied"].get<int>() >= 0);
    CHECK(fs::exists(s / "fw.cpimg"));
    // x86-64 data 4 GiB away from the code: the data is base-relative, so that works.
    r = cli({"build", s / "prog.json", "--stencils", kStencils, "-t", "x86_64", "--code-addr", "0", "--data-addr",
             "0x100000000", "-o", s / "far.cpimg"});
    CHECK(r.code == kExitOk);
    CHECK(fs::exists(s / "far.cpimg"));
}

TEST_CASE("diagnostics option: json reports errors as JSON lines with unchanged exit codes") {
    Scratch s;
    Run r = cli({"build", s / "bad.json", "--stencils", kStencils, "--diagnostics", "json"});
    CHECK(r.code == kExitInput);
    const auto j = nlohmann::json::parse(r.err);
    CHECK(j == nlohmann::json{{"severity", "error"},
                              {"file", s / "bad.json"},
                              {"location", "node 1 ('mul')"},
                              {"message", "dtype is 'int' but operands (float, float) give 'float'"}});
    r = cli({"build", s / "prog.json", "--stencils", "/nonexistent", "--diagnostics=json"});
    CHECK(r.code == kExitEnvironment);
    CHECK(nlohmann::json::parse(r.err)["file"] == "/nonexistent/x86_64.o");
    // Command-line errors too, even those CLI11 finds first.
    r = cli({"build", s / "prog.json", "--frobnicate", "--diagnostics", "json"});
    CHECK(r.code == kExitUsage);
    CHECK(nlohmann::json::parse(r.err)["file"].is_null());
    r = cli({"build", s / "prog.json", "-t", "pdp11", "--diagnostics", "json"});
    CHECK(r.code == kExitUsage);
    CHECK_THAT(nlohmann::json::parse(r.err)["message"].get<std::string>(), Catch::StartsWith("unknown target 'pdp11'"));
}

TEST_CASE("copapy-cc stencils lists a target's stencil object") {
    Run r = cli({"stencils", "-t", "armv7", "--stencils", kStencils});
    INFO(r.err);
    REQUIRE(r.code == kExitOk);
    CHECK_THAT(r.out, Catch::StartsWith("; " + kStencils + "/armv7.o for armv7: ") &&
                          Catch::Contains("R_ARM_MOVW_ABS_NC") && Catch::Contains("-> arm_movw  (memory operand)") &&
                          Catch::Contains("R_ARM_JUMP24") && Catch::Contains("__aeabi_idivmod"));
    r = cli({"stencils", "-t", "thumbv7em", "--stencils", "/nonexistent"});
    CHECK(r.code == kExitEnvironment);
    CHECK_THAT(r.err, Catch::Contains("/nonexistent/thumbv7em.o: cannot open stencil object"));
    CHECK(cli({"stencils", "-t", "z80"}).code == kExitUsage);
}
