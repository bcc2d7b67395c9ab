// The command line as a function: exit codes, messages, no partial output.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "cli_runner.hpp"
#include "driver/cli.hpp"
#include "target/target.hpp"

#include <nlohmann/json.hpp>

using namespace copapy;
namespace fs = std::filesystem;

namespace {
using test::cli;
using test::Run;
fs::path temp_dir() {
    fs::path d = fs::temp_directory_path() / ("copapy-cli-test-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
}
void write(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }
const std::string kGood = R"({"format":"copapy-dag","version":1,"nodes":[
  {"id":0,"op":"input","dtype":"float","name":"a","value":0.25},
  {"id":1,"op":"sqrt","dtype":"float","args":[0]}],"outputs":[{"name":"r","node":1}]})";
}  // namespace

TEST_CASE("the version output names the image format and LLVM") {
    Run r = cli({"--version"});
    CHECK(r.code == kExitOk);
    CHECK_THAT(r.out, Catch::StartsWith("copapy-cc ") && Catch::Contains("image format 2") && Catch::Contains("LLVM 14"));
}

TEST_CASE("targets lists the host as default") {
    Run r = cli({"targets"});
    CHECK(r.code == kExitOk);
    CHECK_THAT(r.out, Catch::Contains("x86_64") && Catch::Contains("[host, default]"));
}

TEST_CASE("targets --json lists every target with its aliases once") {
    Run r = cli({"targets", "--json"});
    CHECK(r.code == kExitOk);
    const auto list = nlohmann::json::parse(r.out);
    REQUIRE(list.is_array());
    REQUIRE(list.size() == all_targets().size());
    int hosts = 0;
    for (size_t i = 0; i < list.size(); ++i) {
        CHECK(list[i]["name"] == std::string(all_targets()[i]->name));
        CHECK(list[i]["aliases"].size() == all_targets()[i]->aliases.size());
        hosts += list[i]["host"].get<bool>() ? 1 : 0;
    }
    CHECK(hosts == 1);
    CHECK(list[1]["aliases"][0] == "arm64");
}

TEST_CASE("usage errors exit with 2") {
    CHECK(cli({"build"}).code == kExitUsage);
    CHECK(cli({"frobnicate"}).code == kExitUsage);
    Run r = cli({"build", "x.json", "-t", "pdp11"});
    CHECK(r.code == kExitUsage);
    CHECK_THAT(r.err, Catch::Contains("copapy-cc: error: unknown target 'pdp11'"));
}

TEST_CASE("build writes an image and errors leave no output behind") {
    fs::path d = temp_dir();
    write(d / "good.json", kGood);
    Run ok = cli({"build", (d / "good.json").string(), "-o", (d / "good.cpimg").string(), "--stencils", COPAPY_STENCIL_DIR});
    INFO(ok.err);
    CHECK(ok.code == kExitOk);
    CHECK(fs::file_size(d / "good.cpimg") > 48);

    write(d / "bad.json", R"({"format":"copapy-dag","version":1,"nodes":[{"id":0,"op":"nope","dtype":"int"}],"outputs":[]})");
    Run bad = cli({"build", (d / "bad.json").string(), "-o", (d / "bad.cpimg").string(), "--stencils", COPAPY_STENCIL_DIR});
    CHECK(bad.code == kExitInput);
    CHECK(bad.err == "copapy-cc: error: " + (d / "bad.json").string() + ": node 0: unknown op 'nope'\n");
    CHECK_FALSE(fs::exists(d / "bad.cpimg"));

    Run missing = cli({"build", (d / "good.json").string(), "-o", (d / "x.cpimg").string(), "--stencils", "/nonexistent"});
    CHECK(missing.code == kExitEnvironment);
    CHECK_THAT(missing.err, Catch::Contains("cannot open stencil object"));
    CHECK_FALSE(fs::exists(d / "x.cpimg"));
    size_t leftovers = 0;
    for (auto& e : fs::directory_iterator(d)) leftovers += e.path().filename().string().rfind(".", 0) == 0;
    CHECK(leftovers == 0);  // no temporary files either
    fs::remove_all(d);
}
