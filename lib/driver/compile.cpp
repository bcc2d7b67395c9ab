#include "compile.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "cgen/c_source.hpp"
#include "dag/dag.hpp"
#include "emit/emit.hpp"
#include "dag/grad.hpp"
#include "ir/ir.hpp"
#include "link/link.hpp"
#include "range/range.hpp"
#include "schedule/plan.hpp"
#include "stencil/stencil_db.hpp"
#include "support/error.hpp"
#include "support/text.hpp"

namespace copapy {

FileBytes FileBytes::read(const std::string& path) {
    FileBytes f;
    // "-" is standard input, as for gcc and every LLVM tool.
    const bool from_stdin = path == "-";
    const int fd = from_stdin ? ::dup(STDIN_FILENO) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(ErrorKind::Input, "{}: cannot open: {}", path, std::strerror(errno));
    struct stat st {};
    const bool have_stat = ::fstat(fd, &st) == 0;
    if (have_stat && S_ISDIR(st.st_mode)) {
        ::close(fd);
        fail(ErrorKind::Input, "{}: is a directory", from_stdin ? "<stdin>" : path);
    }
    if (have_stat && S_ISREG(st.st_mode) && st.st_size > 0) {
        // DAG files reach hundreds of megabytes: mapped and populated in one
        // call, they cost neither a copy nor a page fault per 4 KiB.
        void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (p != MAP_FAILED) {
            ::close(fd);
            f.data_ = static_cast<const uint8_t*>(p);
            f.size_ = static_cast<size_t>(st.st_size);
            f.mapped_ = true;
            return f;
        }
    }
    // Not a regular file (a pipe, say), or it cannot be mapped: read it.
    std::vector<uint8_t>& bytes = f.read_;
    size_t done = 0;
    while (true) {
        if (done == bytes.size()) bytes.resize(std::max<size_t>(bytes.size() * 2, 1 << 16));
        const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int e = errno;
            ::close(fd);
            fail(ErrorKind::Input, "{}: read error: {}", path, std::strerror(e));
        }
        if (n == 0) break;
        done += static_cast<size_t>(n);
    }
    ::close(fd);
    bytes.resize(done);
    f.data_ = bytes.data();
    f.size_ = done;
    return f;
}

FileBytes::FileBytes(FileBytes&& o) noexcept { *this = std::move(o); }

FileBytes& FileBytes::operator=(FileBytes&& o) noexcept {
    if (this != &o) {
        release();
        read_ = std::move(o.read_);
        data_ = o.mapped_ ? o.data_ : read_.data();
        size_ = o.size_;
        mapped_ = o.mapped_;
        o.data_ = nullptr;
        o.size_ = 0;
        o.mapped_ = false;
    }
    return *this;
}

FileBytes::~FileBytes() { release(); }

void FileBytes::release() {
    if (mapped_) ::munmap(const_cast<uint8_t*>(data_), size_);
    read_ = {};
    data_ = nullptr;
    size_ = 0;
    mapped_ = false;
}

void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes) {
    const std::span<const uint8_t> parts[] = {bytes};
    write_file_atomic(path, parts);
}

void write_file_atomic(const std::string& path, std::span<const std::span<const uint8_t>> parts) {
    namespace fs = std::filesystem;
    const fs::path target(path);
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::string tmpl = (dir / fmt::format(".{}.XXXXXX", target.filename().string())).string();
    const int fd = mkstemp(tmpl.data());
    if (fd < 0) fail(ErrorKind::Environment, "{}: cannot create output: {}", path, std::strerror(errno));
    // One writev for all parts (short writes continue where they stopped).
    std::vector<iovec> iov;
    for (const auto& part : parts)
        if (!part.empty()) iov.push_back({const_cast<uint8_t*>(part.data()), part.size()});
    size_t next = 0;
    while (next < iov.size()) {
        const int count = static_cast<int>(std::min<size_t>(iov.size() - next, IOV_MAX));
        const ssize_t n = ::writev(fd, iov.data() + next, count);
        if (n < 0) {
            if (errno == EINTR) continue;
            const int e = errno;
            ::close(fd);
            ::unlink(tmpl.c_str());
            fail(ErrorKind::Environment, "{}: write error: {}", path, std::strerror(e));
        }
        for (size_t done = static_cast<size_t>(n); done > 0 && next < iov.size();) {
            const size_t step = std::min(done, iov[next].iov_len);
            iov[next].iov_base = static_cast<uint8_t*>(iov[next].iov_base) + step;
            iov[next].iov_len -= step;
            done -= step;
            if (iov[next].iov_len == 0) ++next;
        }
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
// The input as messages name it: "<stdin>" for "-", as gcc does.
std::string shown_input(const CompileOptions& opt) { return opt.input == "-" ? "<stdin>" : opt.input; }

// Seconds since `since`, and restarts it.
double lap(std::chrono::steady_clock::time_point& since) {
    const auto now = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(now - since).count();
    since = now;
    return s;
}

// The analysis' findings as warnings naming the Python line that made the
// node ("model.py:42: ..."), else the DAG file, and the DAG node.
std::vector<std::string> range_findings(const std::string& file, const Ir& ir, const RangeAnalysis& analysis) {
    std::vector<std::string> out;
    out.reserve(analysis.findings.size());
    for (const RangeFinding& f : analysis.findings) {
        const IrNode& n = ir.nodes[f.node];
        const std::string place = source_location(ir, f.node);
        const std::string node = ir.dag_id(n) >= 0 ? fmt::format("node {} ('{}')", ir.dag_id(n), op_name(n.op))
                                               : fmt::format("'{}'", op_name(n.op));
        out.push_back(fmt::format("{}: {}: {}", place.empty() ? file : place, node, f.what));
    }
    return out;
}
}  // namespace

namespace {

// Where a patch site lies, for messages: a library section or a step's stencil.
std::string patch_origin(const CompiledProgram& c, uint32_t site) {
    for (const LinkedImage::Placement& a : c.image.aux)
        if (a.region == CP_REGION_CODE && site >= a.offset && site < a.offset + a.size)
            return fmt::format("library section {} (+{:#x})", quote(a.name), site - a.offset);
    const auto& offs = c.image.step_offsets;
    const auto it = std::upper_bound(offs.begin(), offs.end(), site);
    if (it != offs.begin() && !c.program.steps.empty()) {
        const size_t step = static_cast<size_t>(it - offs.begin()) - 1;
        return fmt::format("step {} (stencil '{}')", step, c.program.stencil(c.program.steps[step]));
    }
    return fmt::format("code offset {:#x}", site);
}

}  // namespace

// --pic: the image must load anywhere with no patch at all. Every patch that
// remains is reported (one line per distinct origin), then the compilation stops.
void check_position_independent(const CompileOptions& opt, const CompiledProgram& c) {
    if (c.image.patches.empty()) return;
    std::vector<std::string> lines;
    for (const ImagePatch& p : c.image.patches) {
        std::string line = fmt::format("{}: --pic: {} needs a load-time patch ({} to {}+{:#x})", shown_input(opt),
                                       patch_origin(c, p.site), cp_patch_kind_name(static_cast<cp_patch_kind>(p.kind)),
                                       p.region == CP_REGION_DATA ? "data" : "code", p.addend);
        if (std::find(lines.begin(), lines.end(), line) == lines.end()) lines.push_back(std::move(line));
    }
    std::string msg;
    for (const std::string& l : lines) msg += l + "\n";
    throw Error(ErrorKind::Input,
                msg + fmt::format("{}: --pic: {} load-time patches remain: this program cannot be position independent "
                                  "on {} (see docs/image-format.md, Position independence)",
                                  shown_input(opt), c.image.patches.size(), opt.target->name));
}

CompiledProgram compile_program(const CompileOptions& opt) {
    CompiledProgram c;
    CompileStats& stats = c.stats;
    auto clock = std::chrono::steady_clock::now();
    FileBytes file = FileBytes::read(opt.input);
    Dag dag;
    try {
        dag = read_dag(file.bytes());
        file.release();  // the DAG holds everything now
        expand_gradients(dag);
        check_bindings(dag, opt.bindings);
    } catch (const Error& e) {
        // Each problem on its own line, each naming the file.
        std::string msg;
        const std::string text = e.what();
        size_t start = 0;
        while (true) {
            const size_t nl = text.find('\n', start);
            msg += (msg.empty() ? "" : "\n") + shown_input(opt) + ": " + text.substr(start, nl - start);
            if (nl == std::string::npos) break;
            start = nl + 1;
        }
        throw Error(e.kind(), msg);
    }
    stats.dag_nodes = dag.nodes.size();
    if (dag.outputs.empty() && dag.updates.empty())
        stats.warnings.push_back(shown_input(opt) + ": the DAG has no outputs: the program computes nothing a runner can read");
    stats.t_read = lap(clock);
    c.ir = build_ir(dag, opt.opt_level, opt.bindings);
    dag = Dag();  // free the file's representation early
    stats.ir_nodes = c.ir.nodes.size();
    stats.t_ir = lap(clock);
    c.order = linearize(c.ir);
    stats.computed = c.order.size();
    stats.t_order = lap(clock);
    if (opt.ranges != RangeCheck::Off) {
        c.ranges = analyze_ranges(c.ir, c.order);
        adopt_state_invariants(c.ir, *c.ranges);
        if (opt.opt_level >= 2) {
            stats.range_bypassed = simplify_by_ranges(c.ir, *c.ranges);
            if (stats.range_bypassed != 0) {
                c.order = linearize(c.ir);
                stats.computed = c.order.size();
            }
        }
        std::vector<std::string> findings = range_findings(shown_input(opt), c.ir, *c.ranges);
        // A large program without declared ranges can have thousands: the
        // first few say what to declare; --ranges=detail shows them all.
        constexpr size_t kShown = 20;
        if (opt.ranges != RangeCheck::Detail && findings.size() > kShown) {
            const size_t more = findings.size() - kShown;
            findings.resize(kShown);
            findings.push_back(fmt::format("{}: {} more finding{} of the value-range analysis not shown "
                                           "(--ranges=detail shows all)",
                                           shown_input(opt), more, more == 1 ? "" : "s"));
        }
        if (opt.ranges == RangeCheck::Error && !findings.empty()) {
            std::string msg;
            for (const std::string& w : findings) msg += w + "\n";
            throw Error(ErrorKind::Input, msg + shown_input(opt) + ": the value-range analysis cannot rule these "
                                                                   "out (--ranges=error; --ranges=warn compiles anyway)");
        }
        stats.warnings.insert(stats.warnings.end(), findings.begin(), findings.end());
    }
    stats.t_ranges = lap(clock);
    c.stencil_path = opt.stencil_dir + "/" + std::string(opt.target->name) + ".o";
    c.db = StencilDb::load(c.stencil_path, *opt.target);  // the planner needs its park count
    const double t_load = lap(clock);                      // counted as linking, as before
    c.program = plan(c.ir, c.order, c.db->float_parks());
    if (opt.release_stages) {
        c.ir = Ir();
        c.order = {};
        c.ranges.reset();
    }
    stats.t_plan = lap(clock);
    stats.steps = c.program.steps.size();
    stats.loads = c.program.loads;
    stats.stores = c.program.stores;
    stats.moves = c.program.moves;

    c.image = link_program(c.program, *c.db);
    if (opt.pic) check_position_independent(opt, c);
    stats.code_bytes = c.image.code.size();
    stats.stencil_bytes = c.image.stencil_bytes;
    stats.data_bytes = c.image.data.size();
    stats.patches = c.image.patches.size();
    stats.resolved = c.image.resolved;
    stats.near_operands = c.image.near_operands;
    stats.far_operands = c.image.far_operands;
    stats.immediate_operands = c.image.immediates.size();
    if (opt.release_stages) c.program.steps = {};
    stats.t_link = t_load + lap(clock);
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

std::span<const uint8_t> as_bytes(const std::string& text) {
    return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

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

namespace {

// A bound address inside the image's own code or data, at fixed addresses,
// would have the program overwrite itself: an error.
void check_bindings_outside(const CompileOptions& opt, const LinkedImage& image) {
    struct Region {
        const char* what;
        uint64_t begin, size;
    };
    const Region regions[] = {{"code", image.code_addr, image.code.size()}, {"data", image.data_addr, image.data.size()}};
    for (const Binding& b : opt.bindings)
        for (const Region& r : regions)
            if (b.address < r.begin + r.size && r.begin < b.address + b.width / 8)
                fail(ErrorKind::Usage, "{}: --bind {}: address {:#x} lies in the image's {} region ({:#x}..{:#x})",
                     shown_input(opt), quote(b.name), b.address, r.what, r.begin, r.begin + r.size - 1);
}

}  // namespace

void write_outputs(const CompileOptions& opt, const CompiledProgram& c, std::ostream& out) {
    LinkedImage fixed_image;
    const LinkedImage* image = &c.image;
    if (opt.fixed) {
        try {
            fixed_image = resolve_fixed(c.image, c.program, *opt.fixed);
        } catch (const Error& e) {
            throw Error(e.kind(), shown_input(opt) + ": " + e.what());
        }
        image = &fixed_image;
        check_bindings_outside(opt, fixed_image);
    }
    // Source lines only for a listing, and only if the DAG names its files.
    std::vector<std::vector<std::string>> sources;
    const bool listing = std::any_of(opt.outputs.begin(), opt.outputs.end(),
                                     [](const EmitOutput& o) { return o.kind == Emit::Listing; });
    if (listing && !c.ir.files.empty())
        sources = read_source_files(c.ir.files, opt.input == "-" ? "" : std::filesystem::path(opt.input).parent_path().string());
    EmitInput in{*opt.target, c.ir, c.order, c.program, *c.db, *image, c.image.patches, opt.fixed, opt.input};
    in.ranges = c.ranges ? &*c.ranges : nullptr;
    in.show_ranges = opt.ranges == RangeCheck::Detail;
    in.sources = &sources;
    // The image is written from its parts (no copy of the code into one
    // buffer); joined only for the artifacts that hold its bytes.
    const ImageParts image_parts = [&] {
        try {
            return ImageParts(*image);
        } catch (const Error& e) {
            throw Error(e.kind(), shown_input(opt) + ": " + e.what());
        }
    }();
    std::vector<uint8_t> image_bytes;
    for (const EmitOutput& o : opt.outputs)
        if ((o.kind == Emit::Manifest || o.kind == Emit::CHeader) && image_bytes.empty()) image_bytes = image_parts.join();

    // Render everything before writing anything: an error in one artifact
    // (say, clashing C identifiers) must not leave the others half done.
    // The texts are kept as they are made (the reserve keeps them in place).
    std::vector<std::string> texts;
    texts.reserve(opt.outputs.size());
    std::vector<std::vector<std::span<const uint8_t>>> rendered;  // per output, its bytes in parts
    for (const EmitOutput& o : opt.outputs) {
        if (o.kind == Emit::Image) {
            rendered.emplace_back(image_parts.parts().begin(), image_parts.parts().end());
            continue;
        }
        switch (o.kind) {
            case Emit::Image: break;
            case Emit::Listing: texts.push_back(format_listing(in)); break;
            case Emit::Dot: texts.push_back(format_dot(in)); break;
            case Emit::Manifest: texts.push_back(format_manifest(in, image_bytes)); break;
            case Emit::C: texts.push_back(emit_c_source(c.ir, c.order, c.program)); break;
            case Emit::CHeader: {
                const std::string& named = o.path == "-" ? opt.input : o.path;
                const std::string prefix =
                    opt.c_name.empty() ? std::filesystem::path(named).stem().string() : opt.c_name;
                texts.push_back(format_c_header(in, image_bytes, prefix));
                break;
            }
        }
        rendered.push_back({as_bytes(texts.back())});
    }
    std::vector<std::string> written;
    for (size_t i = 0; i < opt.outputs.size(); ++i) {
        const std::string& path = opt.outputs[i].path;
        if (path == "-") {
            for (const auto& part : rendered[i])
                out.write(reinterpret_cast<const char*>(part.data()), static_cast<std::streamsize>(part.size()));
            out.flush();
            continue;
        }
        write_file_atomic(path, rendered[i]);
        written.push_back(path);
    }
    if (!opt.depfile.empty()) {
        std::vector<std::string> deps = {opt.input, c.stencil_path};
        if (opt.input == "-") deps.erase(deps.begin());  // standard input is no file to depend on
        write_file_atomic(opt.depfile, as_bytes(format_depfile(written, deps)));
    }
}

}  // namespace copapy
