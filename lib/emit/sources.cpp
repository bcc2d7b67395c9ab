// The user's Python source files, read for the source lines of a listing.
#include <filesystem>
#include <fstream>

#include "emit/emit.hpp"
#include "support/text.hpp"

namespace copapy {

std::vector<std::vector<std::string>> read_source_files(std::span<const std::string> files, std::string_view base_dir) {
    namespace fs = std::filesystem;
    std::vector<std::vector<std::string>> out(files.size());
    for (size_t i = 0; i < files.size(); ++i) {
        const fs::path given(files[i]);
        std::ifstream in(given);
        if (!in && given.is_relative() && !base_dir.empty()) in.open(fs::path(base_dir) / given);
        // A listing is a convenience: a missing or huge file only loses its text.
        constexpr size_t kMaxLines = 1'000'000;
        std::string line;
        while (in && out[i].size() < kMaxLines && std::getline(in, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            out[i].push_back(shorten(line, 200));  // never splits a UTF-8 character
        }
    }
    return out;
}

}  // namespace copapy
