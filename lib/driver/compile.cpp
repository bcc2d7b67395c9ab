#include "compile.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "dag/dag.hpp"
#include "ir/ir.hpp"
#include "link/link.hpp"
#include "schedule/plan.hpp"
#include "stencil/stencil_db.hpp"
#include "support/error.hpp"

namespace copapy {

std::vector<uint8_t> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(ErrorKind::Input, "{}: cannot open: {}", path, std::strerror(errno));
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) fail(ErrorKind::Input, "{}: read error", path);
    return bytes;
}

void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes) {
    namespace fs = std::filesystem;
    const fs::path target(path);
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::string tmpl = (dir / ("." + target.filename().string() + ".XXXXXX")).string();
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

CompileStats compile(const CompileOptions& opt) {
    CompileStats stats;
    const std::vector<uint8_t> bytes = read_file(opt.input);
    Dag dag;
    try {
        dag = read_dag(bytes);
    } catch (const Error& e) {
        // Each problem on its own line, each naming the file.
        std::string msg, line;
        std::string text = e.what();
        size_t start = 0;
        while (start <= text.size()) {
            const size_t nl = text.find('\n', start);
            line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
            msg += (msg.empty() ? "" : "\n") + opt.input + ": " + line;
            if (nl == std::string::npos) break;
            start = nl + 1;
        }
        throw Error(e.kind(), msg);
    }
    stats.dag_nodes = dag.nodes.size();
    const Ir ir = build_ir(dag);
    stats.ir_nodes = ir.nodes.size();
    const std::vector<uint32_t> order = linearize(ir);
    stats.computed = order.size();
    const Program program = plan(ir, order);
    stats.steps = program.steps.size();
    stats.loads = program.loads;
    stats.stores = program.stores;
    stats.moves = program.moves;

    const std::string stencil_path = opt.stencil_dir + "/" + std::string(opt.target->name) + ".o";
    auto db = StencilDb::load(stencil_path, *opt.target);
    const LinkedImage image = link_program(program, *db);
    stats.code_bytes = image.code.size();
    stats.stencil_bytes = image.stencil_bytes;
    stats.data_bytes = image.data.size();
    stats.patches = image.patches.size();
    stats.resolved = image.resolved;
    if (opt.emit == Emit::Listing) {
        std::vector<int64_t> dag_ids;
        dag_ids.reserve(ir.nodes.size());
        for (const IrNode& n : ir.nodes) dag_ids.push_back(n.dag_id);
        const std::string text = format_listing(program, image, dag_ids, opt.target->name);
        if (opt.output == "-") {
            std::fwrite(text.data(), 1, text.size(), stdout);
        } else {
            write_file_atomic(opt.output, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
        }
        return stats;
    }
    write_file_atomic(opt.output, write_image(image));
    return stats;
}

}  // namespace copapy
