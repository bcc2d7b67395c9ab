// Make-syntax dependency files (--depfile), as gcc -MD writes them, so that
// Make and Ninja (CMake's DEPFILE) rebuild an image when its DAG or the
// stencil object changes.
#include "emit/emit.hpp"

namespace copapy {

namespace {

// Make treats a space or '#' in a file name specially and '$' as a variable
// reference; gcc escapes them the same way.
std::string make_escape(std::string_view path) {
    std::string out;
    for (char c : path) {
        if (c == ' ' || c == '#') out += '\\';
        if (c == '$') out += '$';
        out += c;
    }
    return out;
}

}  // namespace

std::string format_depfile(std::span<const std::string> targets, std::span<const std::string> deps) {
    std::string out;
    for (const std::string& t : targets) {
        if (!out.empty()) out += ' ';
        out += make_escape(t);
    }
    out += ":";
    for (const std::string& d : deps) out += " \\\n  " + make_escape(d);
    return out + "\n";
}

}  // namespace copapy
