// coparun, driven as a process on images built with image_builder.hpp: the
// command line, the error messages and exit codes, and (on x86-64 hosts)
// inputs, outputs, --repeat and --time on hand-assembled programs.
//
// Needs COPARUN_PATH (the built executable) as a compile definition; without
// it this file compiles to nothing.
#if defined(COPARUN_PATH)

#include <catch2/catch.hpp>

#include <copapy/image.h>

#include "image_builder.hpp"

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

using copapy::test::ImageBuilder;

namespace {

namespace fs = std::filesystem;

struct Result {
    int status;  // exit code, or -1 if killed by a signal
    std::string out, err;
};

// A scratch directory for images and captured output, removed at exit.
const fs::path& scratch() {
    struct Dir {
        fs::path path;
        Dir() {
            std::string tmpl = (fs::temp_directory_path() / "coparun-test-XXXXXX").string();
            if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
            path = tmpl;
        }
        ~Dir() {
            std::error_code ec;
            fs::remove_all(path, ec);
        }
    };
    static const Dir dir;
    return dir.path;
}

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::string write_image(const std::string& name, const std::vector<uint8_t>& bytes) {
    const fs::path p = scratch() / name;
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                             static_cast<std::streamsize>(bytes.size()));
    return p.string();
}

// '<s>' for the shell (the scratch paths contain no quotes). Built with
// append: GCC 12 warns falsely (-Wrestrict, PR 105651) on "'" + string.
std::string quote(const std::string& s) {
    std::string q(1, '\'');
    q.append(s).push_back('\'');
    return q;
}

// Runs coparun with `args` (already shell-quoted where needed).
Result coparun(const std::string& args) {
    const fs::path out = scratch() / "stdout", err = scratch() / "stderr";
    const std::string cmd =
        std::string("'") + COPARUN_PATH + "' " + args + " >'" + out.string() + "' 2>'" + err.string() + "'";
    const int rc = std::system(cmd.c_str());
    const int status = rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return {status, slurp(out), slurp(err)};
}

// y = 2 * x (int), plus a float "f" that is both input and output, a bool
// output and an output whose name needs JSON escaping.
ImageBuilder doubler() {
    ImageBuilder b;
    // mov eax, [rip + x]; add eax, eax; mov [rip + y], eax; ret
    b.code = {0x8b, 0x05, 0, 0, 0, 0, 0x01, 0xc0, 0x89, 0x05, 0, 0, 0, 0, 0xc3};
    b.data = {21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x3f, 1, 0, 0, 0, 0xf9, 0xff, 0xff, 0xff};
    b.patches = {{2, CP_PATCH_REL32, CP_REGION_DATA, 0 - 4}, {10, CP_PATCH_REL32, CP_REGION_DATA, 4 - 4}};
    b.symbols = {{"x", 0, CP_DTYPE_INT, CP_SYM_INPUT},
                 {"y", 4, CP_DTYPE_INT, CP_SYM_OUTPUT},
                 {"f", 8, CP_DTYPE_FLOAT, CP_SYM_INPUT | CP_SYM_OUTPUT},
                 {"flag", 12, CP_DTYPE_BOOL, CP_SYM_INPUT | CP_SYM_OUTPUT},
                 {"a\"b\\c\td", 16, CP_DTYPE_INT, CP_SYM_OUTPUT}};
    return b;
}

// The target this host's coparun does not run (for the wrong-target message).
constexpr uint16_t foreign_target() {
#if defined(__x86_64__)
    return CP_TARGET_AARCH64;
#else
    return CP_TARGET_X86_64;
#endif
}

}  // namespace

TEST_CASE("coparun --version and --help", "[coparun]") {
    const Result v = coparun("--version");
    CHECK(v.status == 0);
    CHECK(v.out.rfind("coparun ", 0) == 0);
    CHECK(v.out.find("(image format " + std::to_string(CP_IMAGE_VERSION) + ")\n") != std::string::npos);
    const Result h = coparun("--help");
    CHECK(h.status == 0);
    CHECK(h.out.find("usage: coparun IMAGE") != std::string::npos);
    CHECK(h.out.find("--set NAME=VALUE") != std::string::npos);
    CHECK(h.out.find("exit status") != std::string::npos);
    CHECK(h.err.empty());
}

TEST_CASE("coparun usage errors exit with 2", "[coparun]") {
    const std::string img = write_image("usage.cpimg", doubler().build());
    for (const std::string& args : {std::string(""), "--frobnicate " + img, img + " --repeat 0",
                                   img + " --repeat -1", img + " --repeat 1x", img + " --repeat",
                                   img + " --set x", img + " --set =1", img + " " + img}) {
        INFO("args: " << args);
        const Result r = coparun(args);
        CHECK(r.status == 2);
        CHECK(r.err.rfind("coparun: error: ", 0) == 0);
        CHECK(r.out.empty());
    }
}

TEST_CASE("coparun rejects bad images with exit 1 and one clear line", "[coparun]") {
    const Result missing = coparun(quote((scratch() / "none.cpimg").string()));
    CHECK(missing.status == 1);
    CHECK(missing.err == "coparun: error: " + (scratch() / "none.cpimg").string() +
                             ": cannot open: No such file or directory\n");

    std::vector<uint8_t> bytes = doubler().build();
    bytes[CP_HEADER_SIZE + 3] ^= 0x10;
    const std::string corrupt = write_image("corrupt.cpimg", bytes);
    const Result c = coparun(corrupt);
    CHECK(c.status == 1);
    CHECK(c.err == "coparun: error: " + corrupt + ": checksum mismatch: the image is corrupted\n");
    CHECK(c.out.empty());

    const Result d = coparun(quote(scratch().string()));  // a directory
    CHECK(d.status == 1);
    CHECK(d.err.rfind("coparun: error: ", 0) == 0);

    const Result e = coparun(write_image("empty.cpimg", {}));
    CHECK(e.status == 1);
    CHECK(e.err.find("image is truncated") != std::string::npos);

    ImageBuilder foreign = doubler();
    foreign.target = foreign_target();
    foreign.patches.clear();
    const Result f = coparun(write_image("foreign.cpimg", foreign.build()));
    CHECK(f.status == 1);
    CHECK(f.err.find(foreign_target() == CP_TARGET_AARCH64 ? "image is for aarch64" : "image is for x86_64") !=
          std::string::npos);
    // Even when the target's own consistency checks fail (x86 patches in an
    // "aarch64" image), the actionable message is the target.
    foreign = doubler();
    foreign.target = foreign_target();
    const Result g = coparun(write_image("relabelled.cpimg", foreign.build()));
    CHECK(g.status == 1);
    CHECK(g.err.find("image is for") != std::string::npos);
}

#if defined(__x86_64__)
TEST_CASE("coparun runs an image and prints its outputs as JSON", "[coparun][exec]") {
    const std::string img = write_image("doubler.cpimg", doubler().build());
    auto out = [&](const std::string& args) {
        const Result r = coparun(img + " " + args);
        INFO("args: " << args << "\nstderr: " << r.err);
        CHECK(r.status == 0);
        CHECK(r.err.empty());
        return r.out;
    };
    // Floats always carry a '.' or an exponent, so JSON readers keep them floats.
    CHECK(out("") == "{\"y\": 42, \"f\": 1.0, \"flag\": true, \"a\\\"b\\\\c\\u0009d\": -7}\n");
    CHECK(out("--set f=-0.0").find("\"f\": -0.0,") != std::string::npos);
    CHECK(out("--set f=1e30").find("\"f\": 1.00000002e+30,") != std::string::npos);
    CHECK(out("--set x=-0x10").find("\"y\": -32,") != std::string::npos);
    CHECK(out("--set x=2147483647").find("\"y\": -2,") != std::string::npos);  // int32 wraps
    CHECK(out("--set x=-2147483648").find("\"y\": 0,") != std::string::npos);
    CHECK(out("--set=x=5 --set x=6").find("\"y\": 12,") != std::string::npos);  // the last one wins
    CHECK(out("--set f=1.99").find("\"f\": 1.99000001,") != std::string::npos);
    CHECK(out("--set f=-0.1").find("\"f\": -0.100000001,") != std::string::npos);
    CHECK(out("--set f=3e38").find("\"f\": 3.00000001e+38,") != std::string::npos);
    CHECK(out("--set f=0x1p-149").find("\"f\": 1.40129846e-45,") != std::string::npos);
    CHECK(out("--set f=nan").find("\"f\": \"nan\",") != std::string::npos);
    CHECK(out("--set f=inf").find("\"f\": \"inf\",") != std::string::npos);
    CHECK(out("--set f=-inf").find("\"f\": \"-inf\",") != std::string::npos);
    CHECK(out("--set flag=false").find("\"flag\": false,") != std::string::npos);
    CHECK(out("--set flag=0 --set flag=1").find("\"flag\": true,") != std::string::npos);
    // #HHHHHHHH: the 32-bit pattern, for every type.
    CHECK(out("--set 'f=#3fc00000'").find("\"f\": 1.5,") != std::string::npos);
    CHECK(out("--set 'x=#fffffff0'").find("\"y\": -32,") != std::string::npos);
    CHECK(out("--set 'flag=#00000000'").find("\"flag\": false,") != std::string::npos);
    CHECK(coparun("-- " + img).status == 0);  // '--' ends the options
}

TEST_CASE("coparun rejects bad inputs with exit 1", "[coparun][exec]") {
    const std::string img = write_image("inputs.cpimg", doubler().build());
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"nope=1", "--set nope=1: no input named 'nope'"},
        {"y=1", "--set y=1: 'y' is not an input (it is an output)"},
        {"x=1.5", "--set x=1.5: '1.5' is not a valid int (int32)"},
        {"x=2147483648", "--set x=2147483648: '2147483648' is out of int32 range (-2147483648 to 2147483647)"},
        {"x=-2147483649", "'-2147483649' is out of int32 range"},
        {"x=", "'' is not a valid int"},
        {"'x= 5'", "' 5' is not a valid int"},
        {"f=abc", "'abc' is not a valid float"},
        {"f=1e39", "--set f=1e39: '1e39' is out of float range (binary32: the largest finite value is 3.40282347e+38)"},
        {"f=-0x1p200", "'-0x1p200' is out of float range"},
        {"f=1e-50", ""},  // underflow gives the nearest float (0): accepted; the run fails on nothing else
        {"f=1.5x", "'1.5x' is not a valid float"},
        {"flag=yes", "'yes' is not a valid bool (true, false, 1 or 0)"},
        {"'flag=#00000002'", "'#00000002' is not a valid bool"},
        {"'f=#3fc0000'", "'#3fc0000' is not a valid float"},
        {"'f=#3fc0000x'", "'#3fc0000x' is not a valid float"},
    };
    for (const auto& [arg, message] : cases) {
        const Result r = coparun(img + " --set " + arg + (message.empty() ? " --set nope=1" : ""));
        INFO("--set " << arg << "\nstderr: " << r.err);
        CHECK(r.status == 1);
        CHECK(r.err.rfind("coparun: error: " + img + ": ", 0) == 0);
        CHECK(r.err.find(message) != std::string::npos);
        CHECK(r.out.empty());
    }
}

TEST_CASE("coparun --repeat and --time", "[coparun][exec]") {
    ImageBuilder b;
    b.code = {0xff, 0x05, 0, 0, 0, 0, 0xc3};  // inc dword [rip + n]; ret
    b.data = {0, 0, 0, 0};
    b.patches = {{2, CP_PATCH_REL32, CP_REGION_DATA, 0 - 4}};
    b.symbols = {{"n", 0, CP_DTYPE_INT, CP_SYM_INPUT | CP_SYM_OUTPUT}};
    const std::string img = write_image("counter.cpimg", b.build());
    Result r = coparun(img);
    CHECK(r.out == "{\"n\": 1}\n");
    r = coparun(img + " --repeat 1000 --set n=-1000");
    CHECK(r.out == "{\"n\": 0}\n");
    r = coparun(img + " --time --repeat=5");
    CHECK(r.status == 0);
    CHECK(r.out == "{\"n\": 5}\n");
    CHECK(std::regex_match(r.err, std::regex("coparun: time: 5 runs, [0-9]+\\.[0-9]{2} ns/run\n")));
}
#endif  // __x86_64__

#endif  // COPARUN_PATH
