// Machine-readable errors (--diagnostics json), one JSON object per line on
// standard error, for CI systems that annotate files from them.
//
// The library reports errors as text, "<file>: <where>: <what>" one per line.
// This file splits that text back up, conservatively: a file only if the
// prefix is one of the paths the command works with, a location only if it
// has one of the shapes the compiler writes. Anything else stays in the
// message, so nothing is ever lost or misattributed.
#include <nlohmann/json.hpp>
#include <regex>

#include "emit/emit.hpp"

namespace copapy {

namespace {

// The "<where>" shapes of the reader ("node 17 ('mul')", "outputs[2] ('y')"),
// the linker and stencil database ("stencil 'add_ff'", "section '.rodata'")
// and fixed-address resolution ("stencil 'ld0_f_ii' (step 3) at code+0x8
// (address 0x20000008)").
const std::regex& location_shape() {
    static const std::regex re(
        R"(node \d+( \('[^']*'\))?)"
        R"(|(nodes|outputs|updates)\[\d+\]( \('[^']*'\))?)"
        R"(|(stencil|section) '[^']*'( \(step \d+\))?( at code\+0x[0-9a-f]+ \(address 0x[0-9a-f]+\))?)",
        std::regex::optimize);
    return re;
}

}  // namespace

std::string diagnostics_json(std::string_view severity, std::string_view text, std::span<const std::string> files) {
    std::string out;
    size_t start = 0;
    while (start <= text.size()) {
        const size_t nl = text.find('\n', start);
        std::string_view rest = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
        start = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
        if (rest.empty()) continue;

        nlohmann::ordered_json j = {{"severity", severity}, {"file", nullptr}, {"location", nullptr}};
        // The longest known path that prefixes the line ("a/b.json" before "a").
        size_t best = 0;
        for (const std::string& f : files)
            if (!f.empty() && f.size() > best && rest.size() > f.size() + 2 && rest.substr(0, f.size()) == f &&
                rest.substr(f.size(), 2) == ": ")
                best = f.size();
        if (best) {
            j["file"] = std::string(rest.substr(0, best));
            rest.remove_prefix(best + 2);
        }
        if (const size_t colon = rest.find(": "); colon != std::string_view::npos) {
            const std::string where(rest.substr(0, colon));
            if (std::regex_match(where, location_shape())) {
                j["location"] = where;
                rest.remove_prefix(colon + 2);
            }
        }
        j["message"] = std::string(rest);
        // Replace bytes that are not UTF-8 (a path, a symbol name) instead of throwing.
        out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    }
    return out;
}

}  // namespace copapy
