#include "cli.hpp"

#include <copapy/image.h>
#include <fmt/format.h>
#include <llvm/Config/llvm-config.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "compile.hpp"
#include "support/error.hpp"

#ifndef COPAPY_VERSION
#define COPAPY_VERSION "unknown"
#endif

namespace copapy {

namespace {

std::string version_text() {
    return fmt::format("copapy-cc {} (image format {}, LLVM {}, fmt {}.{}.{}, nlohmann_json {}.{}.{}, CLI11 {})\n",
                       COPAPY_VERSION, CP_IMAGE_VERSION, LLVM_VERSION_STRING, FMT_VERSION / 10000,
                       FMT_VERSION / 100 % 100, FMT_VERSION % 100, NLOHMANN_JSON_VERSION_MAJOR,
                       NLOHMANN_JSON_VERSION_MINOR, NLOHMANN_JSON_VERSION_PATCH, CLI11_VERSION);
}

std::string target_names() {
    std::string s;
    for (const TargetInfo* t : all_targets()) s += (s.empty() ? "" : ", ") + std::string(t->name);
    return s;
}

void print_error(std::ostream& err, const std::string& text) {
    size_t start = 0;
    while (true) {
        const size_t nl = text.find('\n', start);
        err << "copapy-cc: error: " << text.substr(start, nl - start) << '\n';
        if (nl == std::string::npos) break;
        start = nl + 1;
    }
}

}  // namespace

int run_cli(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
    CLI::App app{"copapy-cc: ahead-of-time copy-and-patch compiler for copapy DAGs", "copapy-cc"};
    app.require_subcommand(0, 1);
    bool show_version = false;
    app.add_flag("--version", show_version, "Print the version and the versions of the libraries used");

    CompileOptions opt;
    std::string target_name;
    bool stats = false;
    CLI::App* build = app.add_subcommand("build", "Compile a DAG file (JSON or CBOR) into an image");
    build->add_option("input", opt.input, "DAG file written by the tracer")->required();
    build->add_option("-o,--output", opt.output, "Image file to write (default: INPUT with extension .cpimg)");
    build->add_option("-t,--target", target_name, "Target (default: the host, " + std::string(host_target().name) +
                                                       "); see 'copapy-cc targets'");
    build->add_option("--stencils", opt.stencil_dir,
                      "Directory with <target>.o stencil objects (default: $COPAPY_STENCIL_DIR or "
                      "<bin>/../share/copapy-cc/stencils)");
    build->add_flag("--stats", stats, "Print compilation statistics as JSON on standard error");
    build->add_option("-O", opt.opt_level, "Optimization level: 0 (none), 1 (CSE, constant folding), 2 (all; default)")
        ->check(CLI::Range(0, 2));
    std::string emit = "image";
    build->add_option("--emit", emit, "What to write: image (default) or listing (text; -o - for standard output)")
        ->check(CLI::IsMember({"image", "listing"}));

    CLI::App* targets = app.add_subcommand("targets", "List the supported targets");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        out << app.help();
        return kExitOk;
    } catch (const CLI::ParseError& e) {
        err << "copapy-cc: error: " << e.what() << "\n";
        err << "run 'copapy-cc --help' for usage\n";
        return kExitUsage;
    }
    if (show_version) {
        out << version_text();
        return kExitOk;
    }
    if (*targets) {
        for (const TargetInfo* t : all_targets()) {
            std::string aliases;
            for (auto a : t->aliases) aliases += (aliases.empty() ? "" : ", ") + std::string(a);
            out << fmt::format("{:<10} {}{}{}\n", t->name, t->description,
                               aliases.empty() ? "" : " (aliases: " + aliases + ")",
                               t == &host_target() ? " [host, default]" : "");
        }
        return kExitOk;
    }
    if (!*build) {
        out << app.help();
        return kExitUsage;
    }

    try {
        opt.target = target_name.empty() ? &host_target() : find_target(target_name);
        if (!opt.target) {
            err << "copapy-cc: error: unknown target '" << target_name << "' (known: " << target_names() << ")\n";
            return kExitUsage;
        }
        opt.emit = emit == "listing" ? Emit::Listing : Emit::Image;
        if (opt.output.empty())
            opt.output = std::filesystem::path(opt.input)
                             .replace_extension(opt.emit == Emit::Listing ? ".lst" : ".cpimg")
                             .string();
        if (opt.stencil_dir.empty()) opt.stencil_dir = default_stencil_dir();
        const CompileStats s = compile(opt);
        if (stats) {
            nlohmann::ordered_json j = {
                {"target", opt.target->name}, {"dag_nodes", s.dag_nodes}, {"ir_nodes", s.ir_nodes},
                {"computed", s.computed},     {"steps", s.steps},         {"loads", s.loads},
                {"stores", s.stores},         {"moves", s.moves},         {"code_bytes", s.code_bytes},
                {"stencil_bytes", s.stencil_bytes}, {"data_bytes", s.data_bytes}, {"patches", s.patches},
                {"resolved", s.resolved}};
            err << j.dump() << "\n";
        }
        return kExitOk;
    } catch (const Error& e) {
        print_error(err, e.what());
        return static_cast<int>(e.kind());
    } catch (const std::bad_alloc&) {
        err << "copapy-cc: error: out of memory\n";
        return kExitEnvironment;
    } catch (const std::exception& e) {
        err << "copapy-cc: error: internal error: " << e.what() << "\n";
        return kExitInternal;
    }
}

}  // namespace copapy
