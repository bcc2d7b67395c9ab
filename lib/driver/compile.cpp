#include "compile.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "cgen/c_source.hpp"
#include "dag/dag.hpp"
#include "emit/emit.hpp"
#include "dag/grad.hpp"
#include "ir/ir.hpp"
#include "link/link.hpp"
#include "schedule/plan.hpp"
#include "stencil/stencil_db.hpp"
#include "support/error.hpp"

namespace copapy {

std::vector<uint8_t> read_file(const std::string& path) {
    // One read of the whole file (DAG files reach hundreds of megabytes).
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) fail(ErrorKind::Input, "{}: cannot open: {}", path, std::strerror(errno));
    std::vector<uint8_t> bytes;
    if (std::fseek(f, 0, SEEK_END) == 0) {
        const long size = std::ftell(f);
        if (size > 0) bytes.reserve(static_cast<size_t>(size));
        std::rewind(f);
    }
    uint8_t chunk[1 << 16];
    size_t n;
    while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) bytes.insert(bytes.end(), chunk, chunk + n);
    const bool bad = std::ferror(f) != 0;
    std::fclose(f);
    if (bad) fail(ErrorKind::Input, "{}: read error", path);
    return bytes;
}

void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes) {
    namespace fs = std::filesystem;
    const fs::path target(path);
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::string tmpl = (dir / fmt::format(".{}.XXXXXX", target.filename().string())).string();
    const int fd = mkstemp(tmpl.data());
    if (fd < 0) fail(ErrorKind::Environment, "{}: cannot create output: {}", path, std::strerror(errno));
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            const int e = errno;
            ::close(fd);
            ::unlink(tmpl.c_str());
            fail(ErrorKind::Environment, "{}: write error: {}", path, std::strerror(e));
        }
        done += static_cast<size_t>(n);
    }
    // mkstemp creates 0600; images are ordinary files.
    const mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(fd, 0666 & ~mask);
    if (::close(fd) != 0 || std::rename(tmpl.c_str(), path.c_str()) != 0) {
        const int e = errno;
        ::unlink(tmpl.c_str());
        fail(ErrorKind::Environment, "{}: cannot write output: {}", path, std::strerror(e));
    }
}

std::string default_stencil_dir() {
    if (const char* env = std::getenv("COPAPY_STENCIL_DIR"); env && *env) return env;
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) return "share/copapy-cc/stencils";
    return (exe.parent_path().parent_path() / "share" / "copapy-cc" / "stencils").string();
}

namespace {
// Seconds since `since`, and restarts it.
double lap(std::chrono::steady_clock::time_point& since) {
    const auto now = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(now - since).count();
    since = now;
    return s;
}
}  // namespace

CompiledProgram compile_program(const CompileOptions& opt) {
    CompiledProgram c;
    CompileStats& stats = c.stats;
    auto clock = std::chrono::steady_clock::now();
    const std::vector<uint8_t> bytes = read_file(opt.input);
    Dag dag;
    try {
        dag = read_dag(bytes);
        expand_gradients(dag);
    } catch (const Error& e) {
        // Each problem on its own line, each naming the file.
        std::string msg;
        const std::string text = e.what();
        size_t start = 0;
        while (true) {
            const size_t nl = text.find('\n', start);
            msg += (msg.empty() ? "" : "\n") + opt.input + ": " + text.substr(start, nl - start);
            if (nl == std::string::npos) break;
            start = nl + 1;
        }
        throw Error(e.kind(), msg);
    }
    stats.dag_nodes = dag.nodes.size();
    stats.t_read = lap(clock);
    c.ir = build_ir(dag, opt.opt_level);
    dag = Dag();  // free the file's representation early
    stats.ir_nodes = c.ir.nodes.size();
    stats.t_ir = lap(clock);
    c.order = linearize(c.ir);
    stats.computed = c.order.size();
    stats.t_order = lap(clock);
    c.program = plan(c.ir, c.order);
    stats.t_plan = lap(clock);
    stats.steps = c.program.steps.size();
    stats.loads = c.program.loads;
    stats.stores = c.program.stores;
    stats.moves = c.program.moves;

    c.stencil_path = opt.stencil_dir + "/" + std::string(opt.target->name) + ".o";
    c.db = StencilDb::load(c.stencil_path, *opt.target);
    c.image = link_program(c.program, *c.db);
    stats.code_bytes = c.image.code.size();
    stats.stencil_bytes = c.image.stencil_bytes;
    stats.data_bytes = c.image.data.size();
    stats.patches = c.image.patches.size();
    stats.resolved = c.image.resolved;
    stats.t_link = lap(clock);
    return c;
}

namespace {

constexpr struct {
    Emit kind;
    std::string_view name, extension;
} kEmitKinds[] = {
    {Emit::Image, "image", ".cpimg"},       {Emit::Listing, "listing", ".lst"},
    {Emit::Dot, "dot", ".dot"},             {Emit::CHeader, "c-header", ".h"},
    {Emit::Manifest, "manifest", ".manifest.json"},
    {Emit::C, "c", ".c"},  // straight-line C of the program, for benchmarks (lib/cgen)
};

std::vector<uint8_t> as_bytes(const std::string& text) { return {text.begin(), text.end()}; }

}  // namespace

std::optional<Emit> emit_from_name(std::string_view name) {
    for (const auto& e : kEmitKinds)
        if (e.name == name) return e.kind;
    return std::nullopt;
}
std::string_view emit_name(Emit kind) {
    for (const auto& e : kEmitKinds)
        if (e.kind == kind) return e.name;
    return "?";
}
std::string_view emit_extension(Emit kind) {
    for (const auto& e : kEmitKinds)
        if (e.kind == kind) return e.extension;
    return "";
}

void write_outputs(const CompileOptions& opt, const CompiledProgram& c, std::ostream& out) {
    LinkedImage fixed_image;
    const LinkedImage* image = &c.image;
    if (opt.fixed) {
        try {
            fixed_image = resolve_fixed(c.image, c.program, *opt.fixed);
        } catch (const Error& e) {
            throw Error(e.kind(), opt.input + ": " + e.what());
        }
        image = &fixed_image;
    }
    const EmitInput in{*opt.target, c.ir, c.order, c.program, *c.db, *image, c.image.patches, opt.fixed, opt.input};
    const std::vector<uint8_t> image_bytes = write_image(*image);

    // Render everything before writing anything: an error in one artifact
    // (say, clashing C identifiers) must not leave the others half done.
    std::vector<std::vector<uint8_t>> rendered;
    for (const EmitOutput& o : opt.outputs) {
        switch (o.kind) {
            case Emit::Image: rendered.push_back(image_bytes); break;
            case Emit::Listing: rendered.push_back(as_bytes(format_listing(in))); break;
            case Emit::Dot: rendered.push_back(as_bytes(format_dot(in))); break;
            case Emit::Manifest: rendered.push_back(as_bytes(format_manifest(in, image_bytes))); break;
            case Emit::C: rendered.push_back(as_bytes(emit_c_source(c.ir, c.order, c.program))); break;
            case Emit::CHeader: {
                const std::string& named = o.path == "-" ? opt.input : o.path;
                const std::string prefix =
                    opt.c_name.empty() ? std::filesystem::path(named).stem().string() : opt.c_name;
                rendered.push_back(as_bytes(format_c_header(in, image_bytes, prefix)));
                break;
            }
        }
    }
    std::vector<std::string> written;
    for (size_t i = 0; i < opt.outputs.size(); ++i) {
        const std::string& path = opt.outputs[i].path;
        if (path == "-") {
            out.write(reinterpret_cast<const char*>(rendered[i].data()), static_cast<std::streamsize>(rendered[i].size()));
            out.flush();
            continue;
        }
        write_file_atomic(path, rendered[i]);
        written.push_back(path);
    }
    if (!opt.depfile.empty()) {
        const std::vector<std::string> deps = {opt.input, c.stencil_path};
        write_file_atomic(opt.depfile, as_bytes(format_depfile(written, deps)));
    }
}

}  // namespace copapy
