// The command line as a function: exit codes, messages, no partial output.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <copapy/image.h>

#include "cli_runner.hpp"
#include "driver/cli.hpp"
#include "support/text.hpp"
#include "target/target.hpp"

#include <fmt/format.h>
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
// The input's declared range keeps the value-range analysis quiet about sqrt.
const std::string kGood = R"({"format":"copapy-dag","version":3,"nodes":[
  {"id":0,"op":"input","dtype":"float","name":"a","value":0.25,"range":[0,4]},
  {"id":1,"op":"sqrt","dtype":"float","args":[0]}],"outputs":[{"name":"r","node":1}]})";
}  // namespace

TEST_CASE("the version output names the image format and LLVM") {
    Run r = cli({"--version"});
    CHECK(r.code == kExitOk);
    CHECK_THAT(r.out, Catch::StartsWith("copapy-cc ") &&
                          Catch::Contains("image format " + std::to_string(CP_IMAGE_VERSION)) && Catch::Contains("LLVM 14"));
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

TEST_CASE("build with --ranges reports what the value-range analysis cannot rule out") {
    fs::path d = temp_dir();
    // sqrt of an input with no declared range (and no locations: messages name the file)
    write(d / "good.json", R"({"format":"copapy-dag","version":1,"nodes":[
      {"id":0,"op":"input","dtype":"float","name":"a","value":0.25},
      {"id":1,"op":"sqrt","dtype":"float","args":[0]}],"outputs":[{"name":"r","node":1}]})");
    const std::string file = (d / "good.json").string();
    auto build = [&](const std::string& mode, const std::string& out) {
        return cli({"build", file, "-o", (d / out).string(), "--stencils", COPAPY_STENCIL_DIR, "--ranges=" + mode});
    };
    Run off = build("off", "off.cpimg");
    CHECK((off.code == kExitOk && off.err.empty()));
    Run warn = build("warn", "warn.cpimg");
    CHECK(warn.code == kExitOk);
    CHECK(warn.err == "copapy-cc: warning: " + file + ": node 1 ('sqrt'): sqrt argument in [-inf, inf] or NaN may be "
                                                      "negative\n");
    CHECK(fs::exists(d / "warn.cpimg"));
    Run error = build("error", "error.cpimg");
    CHECK(error.code == kExitInput);
    CHECK_THAT(error.err, Catch::StartsWith("copapy-cc: error: " + file + ": node 1 ('sqrt'): sqrt argument") &&
                              Catch::Contains("--ranges=error"));
    CHECK_FALSE(fs::exists(d / "error.cpimg"));
    // sqrt of a square is fine.
    write(d / "square.json", R"({"format":"copapy-dag","version":1,"nodes":[
      {"id":0,"op":"input","dtype":"float","name":"a","value":0.25},
      {"id":1,"op":"mul","dtype":"float","args":[0,0]},
      {"id":2,"op":"sqrt","dtype":"float","args":[1]}],"outputs":[{"name":"r","node":2}]})");
    Run square = cli({"build", (d / "square.json").string(), "-o", (d / "sq.cpimg").string(), "--stencils",
                      COPAPY_STENCIL_DIR, "--ranges=error"});
    CHECK((square.code == kExitOk && square.err.empty()));
    CHECK(build("maybe", "m.cpimg").code == kExitUsage);
    fs::remove_all(d);
}

// ---- Conventions of gcc and LLVM tools (issue 13, items 10-12) ------------------

namespace {
std::string read_text(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}
}  // namespace

TEST_CASE("a directory as input is 'is a directory', not 'out of memory'") {
    fs::path d = temp_dir() / "dir-input";
    fs::create_directories(d);
    Run r = cli({"build", d.string(), "-o", (d / "x.cpimg").string(), "--stencils", COPAPY_STENCIL_DIR});
    CHECK(r.code == kExitInput);
    CHECK(r.err == "copapy-cc: error: " + d.string() + ": is a directory\n");
    CHECK_FALSE(fs::exists(d / "x.cpimg"));
    fs::remove_all(d);
}

TEST_CASE("a missing stencil object names the reason and how to point at the stencils") {
    fs::path d = temp_dir();
    write(d / "good.json", kGood);
    Run r = cli({"build", (d / "good.json").string(), "-o", (d / "x.cpimg").string(), "--stencils", "/nonexistent"});
    CHECK(r.code == kExitEnvironment);
    CHECK_THAT(r.err, Catch::Contains("/nonexistent/") && Catch::Contains("cannot open stencil object: No such file or directory") &&
                          Catch::Contains("--stencils DIR") && Catch::Contains("COPAPY_STENCIL_DIR"));
}

TEST_CASE("a repeated -t, -O or -o is no error: the last one wins, as in gcc") {
    fs::path d = temp_dir();
    write(d / "good.json", kGood);
    const std::string in = (d / "good.json").string();
    Run r = cli({"build", in, "-t", "aarch64", "-t", "x86_64", "-O", "0", "-O2", "-o", (d / "first.cpimg").string(), "-o",
                 (d / "last.cpimg").string(), "--stencils", COPAPY_STENCIL_DIR});
    INFO(r.err);
    CHECK(r.code == kExitOk);
    CHECK(r.err.empty());
    CHECK_FALSE(fs::exists(d / "first.cpimg"));
    REQUIRE(fs::exists(d / "last.cpimg"));
    const std::string img = read_text(d / "last.cpimg");
    CHECK(static_cast<unsigned char>(img[10]) == 1);  // target x86_64, the last -t
}

TEST_CASE("ranges: warn by default, error stops, off is quiet, a declared range proves it safe") {
    fs::path d = temp_dir();
    // sqrt(a) and 10 // k: safe only if a >= 0 and k != 0.
    auto program = [](const std::string& a_range, const std::string& k_range) {
        return R"({"format":"copapy-dag","version":3,"files":["ctl.py"],"nodes":[
          {"id":0,"op":"input","dtype":"float","name":"a","value":1,"loc":[0,2])" + a_range + R"(},
          {"id":1,"op":"input","dtype":"int","name":"k","value":1,"loc":[0,3])" + k_range + R"(},
          {"id":2,"op":"sqrt","dtype":"float","args":[0],"loc":[0,4]},
          {"id":3,"op":"const","dtype":"int","value":10},
          {"id":4,"op":"floordiv","dtype":"int","args":[3,1],"loc":[0,5]}],
          "outputs":[{"name":"r","node":2},{"name":"q","node":4}]})";
    };
    write(d / "open.json", program("", ""));
    write(d / "safe.json", program(R"(,"range":[0,100])", R"(,"range":[1,8])"));
    write(d / "zero.json", program(R"(,"range":[0,100])", R"(,"range":[-1,8])"));
    const std::string stencils = COPAPY_STENCIL_DIR;
    auto build = [&](const std::string& file, std::vector<std::string> extra) {
        std::vector<std::string> args = {"build", (d / file).string(), "-o", (d / "out.cpimg").string(), "--stencils",
                                          stencils};
        args.insert(args.end(), extra.begin(), extra.end());
        fs::remove(d / "out.cpimg");
        return cli(args);
    };
    Run warn = build("open.json", {});
    CHECK(warn.code == kExitOk);
    CHECK(warn.err == "copapy-cc: warning: ctl.py:4: node 2 ('sqrt'): sqrt argument in [-inf, inf] or NaN may be negative\n"
                      "copapy-cc: warning: ctl.py:5: node 4 ('floordiv'): divisor in [-2147483648, 2147483647] includes 0\n");
    CHECK(fs::exists(d / "out.cpimg"));
    Run safe = build("safe.json", {"--ranges=error"});
    CHECK(safe.code == kExitOk);
    CHECK(safe.err.empty());
    Run zero = build("zero.json", {"--ranges=error"});
    CHECK(zero.code == kExitInput);
    CHECK_THAT(zero.err, Catch::Contains("ctl.py:5: node 4 ('floordiv'): divisor in [-1, 8] includes 0") &&
                             Catch::Contains("--ranges=error"));
    CHECK_FALSE(fs::exists(d / "out.cpimg"));
    Run off = build("open.json", {"--ranges=off"});
    CHECK(off.code == kExitOk);
    CHECK(off.err.empty());
    Run bad = build("open.json", {"--ranges=maybe"});
    CHECK(bad.code == kExitUsage);
}

TEST_CASE("the listing and the graph and the manifest show the Python source and the value ranges") {
    fs::path d = temp_dir();
    write(d / "ctl.py", "import copapy as cp\nu = cp.value(0.5, range=(-1, 1))\nacc = cp.state(0.0)\n"
                        "acc.next(cp.clamp(acc + u * 0.1, -1, 1))\n");
    // acc = clamp(acc + u * 0.1, -1, 1): a state that stays in [-1, 1].
    write(d / "ctl.json", R"({"format":"copapy-dag","version":3,"files":["ctl.py"],"nodes":[
      {"id":0,"op":"input","dtype":"float","name":"u","value":0.5,"loc":[0,2],"range":[-1,1]},
      {"id":1,"op":"state","dtype":"float","name":"acc","value":0,"loc":[0,3]},
      {"id":2,"op":"const","dtype":"float","value":0.1,"loc":[0,4]},
      {"id":3,"op":"mul","dtype":"float","args":[0,2],"loc":[0,4]},
      {"id":4,"op":"add","dtype":"float","args":[1,3],"loc":[0,4]},
      {"id":5,"op":"const","dtype":"float","value":-1,"loc":[0,4]},
      {"id":6,"op":"const","dtype":"float","value":1,"loc":[0,4]},
      {"id":7,"op":"max","dtype":"float","args":[4,5],"loc":[0,4]},
      {"id":8,"op":"min","dtype":"float","args":[7,6],"loc":[0,4]}],
      "outputs":[{"name":"y","node":8}],"updates":[{"state":1,"node":8}]})");
    Run r = cli({"build", (d / "ctl.json").string(), "--emit",
                 "listing=" + (d / "ctl.lst").string() + ",dot=" + (d / "ctl.dot").string() +
                     ",manifest=" + (d / "ctl.manifest.json").string(),
                 "--ranges=detail", "--stencils", COPAPY_STENCIL_DIR});
    INFO(r.err);
    REQUIRE(r.code == kExitOk);
    CHECK(r.err.empty());
    const std::string listing = read_text(d / "ctl.lst");
    // The source line above its steps (the file is found next to the DAG), once.
    CHECK_THAT(listing, Catch::Contains("; ctl.py:4: acc.next(cp.clamp(acc + u * 0.1, -1, 1))\n"));
    CHECK(listing.find("; ctl.py:4:") == listing.rfind("; ctl.py:4:"));
    CHECK_THAT(listing, Catch::Contains("  in [-1, 1]\n"));
    const std::string dot = read_text(d / "ctl.dot");
    CHECK_THAT(dot, Catch::Contains("ctl.py:4") && Catch::Contains("in [-1, 1]"));
    const auto manifest = nlohmann::json::parse(read_text(d / "ctl.manifest.json"));
    const auto& u = manifest["inputs"][0];
    CHECK(u["name"] == "u");
    CHECK(u["loc"] == "ctl.py:2");
    CHECK(u["declared_range"] == nlohmann::json::array({-1.0, 1.0}));
    bool state_seen = false;
    for (const auto& o : manifest["outputs"]) {
        CHECK(o["range"] == nlohmann::json::array({-1.0, 1.0}));
        CHECK(o["nan"] == false);
        state_seen = state_seen || o["name"] == "acc";
    }
    CHECK(state_seen);
    // Without detail the listing shows no ranges; without files no source text.
    Run plain = cli({"build", (d / "ctl.json").string(), "--emit", "listing=" + (d / "plain.lst").string(), "--stencils",
                     COPAPY_STENCIL_DIR});
    REQUIRE(plain.code == kExitOk);
    CHECK(read_text(d / "plain.lst").find("  in [") == std::string::npos);
}

TEST_CASE("the -O option speaks plainly") {
    for (const char* level : {"3", "s", "-1", "fast"}) {
        Run r = cli({"build", "x.json", "-O", level});
        CHECK(r.code == kExitUsage);
        CHECK(r.err == std::string("copapy-cc: error: -O '") + level +
                           "': the optimization levels are 0 (none), 1 (common subexpressions and constant folding) "
                           "and 2 (also exact algebraic identities, the default)\n");
    }
}

TEST_CASE("help [COMMAND] and misspelled commands, kinds and targets") {
    Run h = cli({"help"});
    CHECK(h.code == kExitOk);
    CHECK_THAT(h.out, Catch::Contains("build") && Catch::Contains("stencils") && Catch::Contains("targets"));
    Run hb = cli({"help", "build"});
    CHECK(hb.code == kExitOk);
    CHECK_THAT(hb.out, Catch::Contains("--emit") && Catch::Contains("--code-addr"));
    Run hx = cli({"help", "biuld"});
    CHECK(hx.code == kExitUsage);
    CHECK_THAT(hx.err, Catch::Contains("unknown command 'biuld'; did you mean 'build'?"));

    Run typo = cli({"biuld", "x.json"});
    CHECK(typo.code == kExitUsage);
    CHECK_THAT(typo.err, Catch::StartsWith("copapy-cc: error: unknown command 'biuld'; did you mean 'build'? "
                                           "(commands: build, stencils, targets, help)\n"));
    Run far = cli({"frobnicate"});
    CHECK(far.code == kExitUsage);
    CHECK_THAT(far.err, Catch::Contains("unknown command 'frobnicate' (commands:"));

    Run emit = cli({"build", "x.json", "--emit", "lisitng"});
    CHECK(emit.code == kExitUsage);
    CHECK_THAT(emit.err, Catch::Contains("--emit: unknown kind 'lisitng'; did you mean 'listing'?"));
    Run target = cli({"build", "x.json", "-t", "aarch46"});
    CHECK(target.code == kExitUsage);
    CHECK_THAT(target.err, Catch::Contains("unknown target 'aarch46'; did you mean 'aarch64'?"));
}

// (A test name must not start with '-': Catch would read it as an option.)
TEST_CASE("with -o, --emit KIND=PATH writes the image to -o and the rest where named") {
    fs::path d = temp_dir();
    write(d / "good.json", kGood);
    Run r = cli({"build", (d / "good.json").string(), "-o", (d / "prog.cpimg").string(), "--emit",
                 "listing=" + (d / "prog.lst").string(), "--stencils", COPAPY_STENCIL_DIR});
    INFO(r.err);
    CHECK(r.code == kExitOk);
    CHECK(fs::exists(d / "prog.cpimg"));
    CHECK(fs::exists(d / "prog.lst"));
    CHECK(read_text(d / "prog.cpimg").rfind("CPIMG", 0) == 0);
    Run clash = cli({"build", (d / "good.json").string(), "-o", (d / "a.cpimg").string(), "--emit",
                     "image=" + (d / "b.cpimg").string(), "--stencils", COPAPY_STENCIL_DIR});
    CHECK(clash.code == kExitUsage);
    CHECK_THAT(clash.err, Catch::Contains("names no artifact: the image already goes to"));
}

TEST_CASE("a UTF-8 byte order mark, a DAG without outputs, 'mull' and a bad dtype") {
    fs::path d = temp_dir();
    write(d / "bom.json", "\xef\xbb\xbf" + kGood);
    Run bom = cli({"build", (d / "bom.json").string(), "-o", (d / "bom.cpimg").string(), "--stencils", COPAPY_STENCIL_DIR});
    INFO(bom.err);
    CHECK(bom.code == kExitOk);
    CHECK(fs::exists(d / "bom.cpimg"));
    // With an escape the fast reader declines the file: nlohmann's parser reads it too.
    std::string escaped = kGood;
    escaped.replace(escaped.find("\"a\""), 3, "\"\\u0061\"");
    write(d / "bom2.json", "\xef\xbb\xbf" + escaped);
    Run bom2 = cli({"build", (d / "bom2.json").string(), "-o", (d / "bom2.cpimg").string(), "--stencils", COPAPY_STENCIL_DIR});
    INFO(bom2.err);
    CHECK(bom2.code == kExitOk);

    write(d / "none.json", R"({"format":"copapy-dag","version":1,"nodes":[{"id":0,"op":"input","dtype":"float","name":"a","value":1}],"outputs":[]})");
    Run none = cli({"build", (d / "none.json").string(), "-o", (d / "none.cpimg").string(), "--stencils", COPAPY_STENCIL_DIR});
    CHECK(none.code == kExitOk);
    CHECK(none.err == "copapy-cc: warning: " + (d / "none.json").string() +
                          ": the DAG has no outputs: the program computes nothing a runner can read\n");
    CHECK(fs::exists(d / "none.cpimg"));

    write(d / "mull.json", R"({"format":"copapy-dag","version":1,"nodes":[{"id":0,"op":"input","dtype":"float","name":"a","value":1},{"id":1,"op":"mull","dtype":"float","args":[0,0]}],"outputs":[{"name":"y","node":1}]})");
    Run mull = cli({"build", (d / "mull.json").string(), "-o", (d / "mull.cpimg").string(), "--stencils", COPAPY_STENCIL_DIR});
    CHECK(mull.code == kExitInput);
    CHECK_THAT(mull.err, Catch::Contains("node 1: unknown op 'mull'; did you mean 'mul'?"));

    write(d / "dtype.json", R"({"format":"copapy-dag","version":1,"nodes":[{"id":0,"op":"input","dtype":"flaot","name":"a","value":1}],"outputs":[]})");
    Run dtype = cli({"build", (d / "dtype.json").string(), "-o", (d / "dtype.cpimg").string(), "--stencils", COPAPY_STENCIL_DIR});
    CHECK(dtype.code == kExitInput);
    CHECK_THAT(dtype.err, Catch::Contains("field 'dtype' must be \"int\", \"float\" or \"bool\", not 'flaot'; did you mean 'float'?"));
}

TEST_CASE("user strings in messages are cut short") {
    fs::path d = temp_dir();
    const std::string op(10'000'000, 'q');
    write(d / "long.json", R"({"format":"copapy-dag","version":1,"nodes":[{"id":0,"op":")" + op +
                               R"(","dtype":"int"},{"id":1,"op":"const","dtype":"int","value":1,")" + op +
                               R"(":1}],"outputs":[],")" + op + R"(":1})");
    Run r = cli({"build", (d / "long.json").string(), "-o", (d / "long.cpimg").string(), "--stencils", COPAPY_STENCIL_DIR});
    CHECK(r.code == kExitInput);
    CHECK(r.err.size() < 1000);
    CHECK_THAT(r.err, Catch::Contains("unknown op '" + std::string(64, 'q') + "...' (10000000 bytes)"));
    CHECK_THAT(r.err, Catch::Contains("unknown field '" + std::string(64, 'q') + "...' (10000000 bytes)"));
    CHECK_THAT(r.err, Catch::Contains("unknown top-level field '" + std::string(64, 'q') + "...' (10000000 bytes)"));
    // A malformed file: nlohmann quotes the token it stopped at.
    write(d / "bad.json", "{\"format\": " + op + "}");
    Run bad = cli({"build", (d / "bad.json").string(), "-o", (d / "bad.cpimg").string(), "--stencils", COPAPY_STENCIL_DIR});
    CHECK(bad.code == kExitInput);
    CHECK(bad.err.size() < 1000);
    CHECK_THAT(bad.err, Catch::Contains("malformed JSON"));
    Run target = cli({"build", "x.json", "-t", op});
    CHECK(target.code == kExitUsage);
    CHECK(target.err.size() < 1000);
    fs::remove_all(d);
}

TEST_CASE("quote and shorten cut user strings; one did-you-mean helper") {
    CHECK(quote("mull") == "'mull'");
    CHECK(quote(std::string(64, 'a')) == "'" + std::string(64, 'a') + "'");
    CHECK(quote(std::string(65, 'a')) == "'" + std::string(64, 'a') + "...' (65 bytes)");
    // Never inside a UTF-8 sequence: 63 ASCII bytes, then a 2-byte letter across the limit.
    std::string accented(63, 'a');
    accented.append({'\xc3', '\xa9', 'z'});
    const std::string want = fmt::format("'{}...' (66 bytes)", std::string(63, 'a'));
    CHECK(quote(accented) == want);
    CHECK(shorten(std::string(100, 'b'), 10) == std::string(10, 'b') + "... (100 bytes)");
    const std::vector<std::string_view> ops = {"add", "sub", "mul", "div", "min", "max", "sin"};
    CHECK(did_you_mean("mull", ops) == "; did you mean 'mul'?");
    CHECK(did_you_mean("mlu", ops) == "; did you mean 'mul'?");  // a transposition is one edit
    CHECK(did_you_mean("frobnicate", ops).empty());
    CHECK(did_you_mean("mul", ops).empty());  // the name itself is no suggestion
    CHECK(did_you_mean(std::string(100'000, 'm'), ops).empty());  // long words are not compared
    CHECK(edit_distance("kitten", "sitting", 10) == 3);
    CHECK(edit_distance("abc", "abcdefgh", 2) == 3);  // more than the bound: bound + 1
}
