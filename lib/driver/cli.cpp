#include "cli.hpp"

#include <copapy/image.h>
#include <fmt/format.h>
#include <llvm/Config/llvm-config.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "compile.hpp"
#include "emit/emit.hpp"
#include "support/error.hpp"
#include "support/text.hpp"

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

// Errors go to `err` as text ("copapy-cc: error: ..." per line) or, with
// --diagnostics json, as JSON lines that name the file where they can.
struct Reporter {
    std::ostream& err;
    bool json = false;
    std::vector<std::string> files;  // paths the command works with

    void error(const std::string& text) const { print("error", text); }
    void warning(const std::string& text) const { print("warning", text); }

    void print(std::string_view severity, const std::string& text) const {
        if (json) {
            err << diagnostics_json(severity, text, files);
            return;
        }
        size_t start = 0;
        while (true) {
            const size_t nl = text.find('\n', start);
            err << "copapy-cc: " << severity << ": " << text.substr(start, nl - start) << '\n';
            if (nl == std::string::npos) break;
            start = nl + 1;
        }
    }
};

// --diagnostics json applies to command-line errors too, so it is looked for
// before CLI11 parses (and possibly rejects) the rest.
bool wants_json(int argc, const char* const* argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--diagnostics=json" || (a == "--diagnostics" && i + 1 < argc && std::string_view(argv[i + 1]) == "json"))
            return true;
    }
    return false;
}

const TargetInfo& resolve_target(const std::string& name) {
    if (name.empty()) return host_target();
    const TargetInfo* t = find_target(name);
    if (!t) {
        std::vector<std::string_view> names;
        for (const TargetInfo* k : all_targets()) {
            names.push_back(k->name);
            names.insert(names.end(), k->aliases.begin(), k->aliases.end());
        }
        fail(ErrorKind::Usage, "unknown target {}{} (known: {})", quote(name), did_you_mean(name, names), target_names());
    }
    return *t;
}

constexpr std::string_view kCommands[] = {"build", "stencils", "targets", "help"};
constexpr std::string_view kEmitKindNames[] = {"image", "listing", "dot", "c-header", "manifest", "c"};

// -O LEVEL: 0, 1 or 2, said plainly otherwise.
int parse_opt_level(const std::string& text) {
    if (text == "0" || text == "1" || text == "2") return text[0] - '0';
    fail(ErrorKind::Usage,
         "-O {}: the optimization levels are 0 (none), 1 (common subexpressions and constant folding) and 2 (also "
         "exact algebraic identities, the default)",
         quote(text));
}

// "0x2000_0000", "0x20000000" or "536870912".
uint64_t parse_address(std::string_view option, std::string text) {
    const std::string given = text;
    std::erase(text, '_');
    const bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
    const char* first = text.data() + (hex ? 2 : 0);
    const char* last = text.data() + text.size();
    uint64_t v = 0;
    const auto [end, ec] = std::from_chars(first, last, v, hex ? 16 : 10);
    if (text.empty() || ec != std::errc() || end != last)
        fail(ErrorKind::Usage, "{} expects an address such as 0x20000000, not {}", option, quote(given));
    return v;
}

// --bind NAME=ADDR[:WIDTH]: "led=0x4000_1000:8"; the width in bits, 32 if
// omitted. What the address and width must be is checked against the DAG
// (check_bindings), where the name's type is known.
Binding parse_binding(const std::string& text) {
    const size_t eq = text.find('=');
    if (eq == std::string::npos || eq == 0)
        fail(ErrorKind::Usage, "--bind expects NAME=ADDR[:WIDTH] (for example led=0x40001000:8), not {}", quote(text));
    Binding b;
    b.name = text.substr(0, eq);
    std::string addr = text.substr(eq + 1);
    if (const size_t colon = addr.find(':'); colon != std::string::npos) {
        const std::string w = addr.substr(colon + 1);
        const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), b.width);
        if (w.empty() || ec != std::errc() || end != w.data() + w.size())
            fail(ErrorKind::Usage, "--bind {}: the width is 8, 16 or 32 (bits), not {}", quote(b.name), quote(w));
        addr.resize(colon);
    }
    b.address = parse_address(fmt::format("--bind {}", quote(b.name)), addr);
    return b;
}

// Turns --emit KIND[=PATH] (repeatable, comma-separated) and -o into one path
// per artifact: an explicit =PATH wins; -o names the first artifact without
// one; the others are named after -o (or the input) with their extension.
std::vector<EmitOutput> plan_outputs(const std::vector<std::string>& emits, const std::string& output,
                                     const std::string& input) {
    std::vector<EmitOutput> outs;
    for (const std::string& e : emits.empty() ? std::vector<std::string>{"image"} : emits) {
        const size_t eq = e.find('=');
        const auto kind = emit_from_name(e.substr(0, eq));
        if (!kind)
            fail(ErrorKind::Usage, "--emit: unknown kind {}{} (known: image, listing, dot, c-header, manifest, c)",
                 quote(e.substr(0, eq)), did_you_mean(e.substr(0, eq), kEmitKindNames));
        if (eq != std::string::npos && eq + 1 == e.size()) fail(ErrorKind::Usage, "--emit {}: empty path", shorten(e));
        outs.push_back({*kind, eq == std::string::npos ? "" : e.substr(eq + 1)});
    }
    const std::filesystem::path base = !output.empty() && output != "-" ? output : input;
    bool output_used = output.empty();
    for (EmitOutput& o : outs) {
        if (!o.path.empty()) continue;
        if (!output_used) {
            o.path = output;
            output_used = true;
        } else {
            if (base == "-")
                fail(ErrorKind::Usage, "the DAG comes from standard input: name the {} with -o or --emit {}=PATH",
                     emit_name(o.kind), emit_name(o.kind));
            o.path = std::filesystem::path(base).replace_extension(emit_extension(o.kind)).string();
        }
    }
    // Every --emit has its own =PATH: -o is the image's, as with gcc's -o
    // next to -MF and the like.
    if (!output_used) {
        for (const EmitOutput& o : outs)
            if (o.kind == Emit::Image)
                fail(ErrorKind::Usage, "-o {} names no artifact: the image already goes to {}", quote(output),
                     quote(o.path));
        outs.insert(outs.begin(), {Emit::Image, output});
    }
    bool to_stdout = false;
    for (size_t i = 0; i < outs.size(); ++i) {
        if (outs[i].path == "-") {
            if (outs[i].kind == Emit::Image) fail(ErrorKind::Usage, "the image is binary: write it to a file, not '-'");
            if (to_stdout) fail(ErrorKind::Usage, "only one artifact can go to standard output");
            to_stdout = true;
            continue;
        }
        if (outs[i].path == input) fail(ErrorKind::Usage, "the {} would overwrite the input {}", emit_name(outs[i].kind), quote(input));
        for (size_t k = 0; k < i; ++k)
            if (outs[k].path == outs[i].path)
                fail(ErrorKind::Usage, "{} is named for both the {} and the {}", quote(outs[i].path), emit_name(outs[k].kind),
                     emit_name(outs[i].kind));
    }
    return outs;
}

void print_stats(std::ostream& err, const TargetInfo& target, const CompileStats& s) {
    const nlohmann::ordered_json j = {
        {"target", target.name},  {"dag_nodes", s.dag_nodes},     {"ir_nodes", s.ir_nodes},
        {"computed", s.computed}, {"steps", s.steps},             {"loads", s.loads},
        {"stores", s.stores},     {"moves", s.moves},             {"code_bytes", s.code_bytes},
        {"stencil_bytes", s.stencil_bytes}, {"data_bytes", s.data_bytes}, {"patches", s.patches},
        {"resolved", s.resolved}, {"near_operands", s.near_operands}, {"far_operands", s.far_operands},
        {"immediate_operands", s.immediate_operands},
        {"range_bypassed", s.range_bypassed},
        {"seconds", {{"read", s.t_read}, {"ir", s.t_ir}, {"order", s.t_order}, {"ranges", s.t_ranges},
                     {"plan", s.t_plan}, {"link", s.t_link}}}};
    err << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

}  // namespace

int run_cli(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
    Reporter report{err, wants_json(argc, argv), {}};
    // A command is the first argument; a misspelled one is named, with the
    // closest command (CLI11 would only list it as unexpected).
    if (argc > 1 && argv[1][0] != '-' && std::find(std::begin(kCommands), std::end(kCommands), argv[1]) == std::end(kCommands)) {
        report.error(fmt::format("unknown command {}{} (commands: build, stencils, targets, help)", quote(argv[1]),
                                 did_you_mean(argv[1], kCommands)));
        if (!report.json) err << "run 'copapy-cc --help' for usage\n";
        return kExitUsage;
    }
    CLI::App app{"copapy-cc: ahead-of-time copy-and-patch compiler for copapy DAGs", "copapy-cc"};
    app.require_subcommand(0, 1);
    bool show_version = false;
    app.add_flag("--version", show_version, "Print the version and the versions of the libraries used");
    std::string diagnostics = "text";
    auto add_diagnostics = [&](CLI::App* cmd) {
        cmd->add_option("--diagnostics", diagnostics, "Error format: text (default) or json (one object per line)")
            ->check(CLI::IsMember({"text", "json"}));
    };

    CompileOptions opt;
    std::string target_name, output, depfile, code_addr, data_addr;
    std::vector<std::string> emits;
    bool stats = false;
    CLI::App* build = app.add_subcommand("build", "Compile a DAG file (JSON or CBOR) into an image");
    std::string opt_level;
    build->add_option("input", opt.input, "DAG file written by the tracer; - for standard input")->required();
    build->add_option("-o,--output", output,
                      "File for the first artifact (default: INPUT with the artifact's extension; - for standard "
                      "output); the other artifacts are named after it");
    const TargetInfo* host = find_host_target();
    build->add_option("-t,--target", target_name,
                      "Target (default: the host, " + std::string(host ? host->name : "none here") +
                          "); see 'copapy-cc targets'");
    build->add_option("--stencils", opt.stencil_dir,
                      "Directory with <target>.o stencil objects (default: $COPAPY_STENCIL_DIR or "
                      "<bin>/../share/copapy-cc/stencils)");
    build->add_flag("--stats", stats, "Print compilation statistics as JSON on standard error");
    build->add_option("-O", opt_level, "Optimization level: 0 (none), 1 (CSE, constant folding), 2 (all; default)");
    build->add_option("--emit", emits,
                      "What to write, KIND or KIND=PATH, repeatable or comma-separated: image (default), listing, "
                      "dot, c-header, manifest, c")
        ->delimiter(',');
    build->add_option("--depfile", depfile, "Also write a Make rule: the written files depend on INPUT and the stencil object");
    build->add_option("--code-addr", code_addr, "Resolve every patch for code at this address (with --data-addr)");
    build->add_option("--data-addr", data_addr, "Resolve every patch for data at this address (with --code-addr)");
    build->add_flag("--pic", opt.pic,
                    "Require a position-independent image: no load-time patch at all (error if the target's library "
                    "code needs one)");
    std::vector<std::string> binds;
    build->add_option("--bind", binds,
                      "Bind an input or output to a device register: NAME=ADDR[:WIDTH], WIDTH 8, 16 or 32 bits "
                      "(default 32); the program loads or stores it there directly, once per run (repeatable)");
    build->add_option("--c-name", opt.c_name, "Identifier prefix in a C header (default: the header's file name)");
    std::string ranges = "warn";
    build->add_option("--ranges", ranges,
                      "Value-range analysis: warn (default) about what it cannot rule out for the declared input ranges "
                      "(a divisor that may be 0, sqrt of a value that may be negative, ...), error (exit 1, no output), "
                      "detail (warn, and show every value's range in --emit listing and dot) or off")
        ->check(CLI::IsMember({"warn", "error", "detail", "off"}));
    add_diagnostics(build);

    CLI::App* targets = app.add_subcommand("targets", "List the supported targets");
    bool targets_json = false;
    targets->add_flag("--json", targets_json,
                      "As one JSON array of {name, aliases, description, host} (read by the Python tracer)");

    std::string stencil_dir;
    CLI::App* stencils = app.add_subcommand("stencils", "List the functions of a target's stencil object with their "
                                                        "sizes and relocations");
    stencils->add_option("-t,--target", target_name, "Target (default: the host)");
    stencils->add_option("--stencils", stencil_dir, "Directory with <target>.o (default: as for build)");
    add_diagnostics(stencils);

    std::string help_topic;
    CLI::App* help = app.add_subcommand("help", "Show the help of copapy-cc or of a command");
    help->add_option("command", help_topic, "build, stencils or targets");

    // As with gcc, a repeated option is no error: the last one wins.
    for (CLI::App* cmd : {build, stencils, targets})
        for (CLI::Option* o : cmd->get_options())
            if (o->get_name() != "--emit") o->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        out << app.help();
        return kExitOk;
    } catch (const CLI::ParseError& e) {
        report.error(e.what());
        if (!report.json) err << "run 'copapy-cc --help' for usage\n";
        return kExitUsage;
    }
    if (show_version) {
        out << version_text();
        return kExitOk;
    }
    if (*help) {
        if (help_topic.empty()) {
            out << app.help();
            return kExitOk;
        }
        for (CLI::App* cmd : {build, stencils, targets})
            if (cmd->get_name() == help_topic) {
                out << cmd->help();
                return kExitOk;
            }
        report.error(fmt::format("help: unknown command {}{} (commands: build, stencils, targets)", quote(help_topic),
                                 did_you_mean(help_topic, kCommands)));
        return kExitUsage;
    }
    if (*targets && targets_json) {
        nlohmann::ordered_json list = nlohmann::ordered_json::array();
        for (const TargetInfo* t : all_targets()) {
            nlohmann::ordered_json aliases = nlohmann::ordered_json::array();
            for (auto a : t->aliases) aliases.push_back(std::string(a));
            list.push_back({{"name", std::string(t->name)},
                            {"aliases", aliases},
                            {"description", std::string(t->description)},
                            {"host", t == find_host_target()}});
        }
        out << list.dump() << "\n";
        return kExitOk;
    }
    if (*targets) {
        for (const TargetInfo* t : all_targets()) {
            std::string aliases;
            for (auto a : t->aliases) aliases += (aliases.empty() ? "" : ", ") + std::string(a);
            out << fmt::format("{:<10} {}{}{}\n", t->name, t->description,
                               aliases.empty() ? "" : " (aliases: " + aliases + ")",
                               t == find_host_target() ? " [host, default]" : "");
        }
        return kExitOk;
    }
    if (!*build && !*stencils) {
        out << app.help();
        return kExitUsage;
    }

    try {
        if (*stencils) {
            const TargetInfo& target = resolve_target(target_name);
            const std::string path =
                (stencil_dir.empty() ? default_stencil_dir() : stencil_dir) + "/" + std::string(target.name) + ".o";
            report.files = {path};
            out << format_stencils(*StencilDb::load(path, target));
            return kExitOk;
        }
        opt.target = &resolve_target(target_name);
        if (!opt_level.empty()) opt.opt_level = parse_opt_level(opt_level);
        if (code_addr.empty() != data_addr.empty())
            fail(ErrorKind::Usage, "--code-addr and --data-addr go together: give both or neither");
        if (!code_addr.empty())
            opt.fixed = FixedAddresses{parse_address("--code-addr", code_addr), parse_address("--data-addr", data_addr)};
        opt.outputs = plan_outputs(emits, output, opt.input);
        for (const std::string& b : binds) opt.bindings.push_back(parse_binding(b));
        opt.depfile = depfile;
        // Images alone (no listing, C, ...) and no fixed addresses: the
        // compiler may drop the IR and the steps as soon as they are used.
        opt.release_stages = !opt.fixed && std::all_of(opt.outputs.begin(), opt.outputs.end(),
                                                       [](const EmitOutput& o) { return o.kind == Emit::Image; });
        if (!depfile.empty() &&
            std::none_of(opt.outputs.begin(), opt.outputs.end(), [](const EmitOutput& o) { return o.path != "-"; }))
            fail(ErrorKind::Usage, "--depfile needs an artifact written to a file");
        if (opt.stencil_dir.empty()) opt.stencil_dir = default_stencil_dir();
        report.files = {opt.input == "-" ? "<stdin>" : opt.input, opt.stencil_dir + "/" + std::string(opt.target->name) + ".o"};
        for (const EmitOutput& o : opt.outputs) report.files.push_back(o.path);
        if (!depfile.empty()) report.files.push_back(depfile);

        opt.ranges = ranges == "off"      ? RangeCheck::Off
                     : ranges == "error"  ? RangeCheck::Error
                     : ranges == "detail" ? RangeCheck::Detail
                                          : RangeCheck::Warn;
        const CompileStats s = compile(opt, out);
        for (const std::string& w : s.warnings) report.warning(w);
        if (stats) print_stats(err, *opt.target, s);
        return kExitOk;
    } catch (const Error& e) {
        report.error(e.what());
        return static_cast<int>(e.kind());
    } catch (const std::bad_alloc&) {
        report.error("out of memory");
        return kExitEnvironment;
    } catch (const std::exception& e) {
        report.error(std::string("internal error: ") + e.what());
        return kExitInternal;
    }
}

}  // namespace copapy
