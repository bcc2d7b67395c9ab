// Text helpers for diagnostics: quoting a user's string without echoing all
// of it, and the one "did you mean" suggestion used for ops, subcommands,
// --emit kinds and targets.
#pragma once

#include <algorithm>
#include <cstddef>
#include <fmt/format.h>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace copapy {

// How many bytes of a user's string a message shows.
inline constexpr size_t kQuoteLimit = 64;

// `s` cut to at most `limit` bytes (not inside a UTF-8 sequence), with
// "..." and the full length appended when cut: a 100 MB name makes a short
// line. Used for every user string a message quotes.
inline std::string shorten(std::string_view s, size_t limit = kQuoteLimit) {
    if (s.size() <= limit) return std::string(s);
    size_t cut = limit;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80) --cut;  // a continuation byte
    return fmt::format("{}... ({} bytes)", s.substr(0, cut), s.size());
}

// `s` in single quotes, shortened: 'mull', or 'aaaa... (100000000 bytes)'.
inline std::string quote(std::string_view s, size_t limit = kQuoteLimit) {
    if (s.size() <= limit) return fmt::format("'{}'", s);
    size_t cut = limit;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80) --cut;
    return fmt::format("'{}...' ({} bytes)", s.substr(0, cut), s.size());
}

// The edit distance of `a` and `b` (insertions, deletions, substitutions and
// transpositions of neighbours, each 1: "biuld" is 1 from "build"), or more
// than `bound` as soon as it must be. O(|a| * |b|); callers keep both short.
inline size_t edit_distance(std::string_view a, std::string_view b, size_t bound) {
    if ((a.size() > b.size() ? a.size() - b.size() : b.size() - a.size()) > bound) return bound + 1;
    const size_t w = b.size() + 1;
    std::vector<size_t> d((a.size() + 1) * w);  // d[i * w + j]: distance of a[0, i) and b[0, j)
    for (size_t j = 0; j <= b.size(); ++j) d[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t best = d[i * w] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t v = std::min({d[(i - 1) * w + j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1), d[(i - 1) * w + j] + 1,
                                 d[i * w + j - 1] + 1});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) v = std::min(v, d[(i - 2) * w + j - 2] + 1);
            d[i * w + j] = v;
            best = std::min(best, v);
        }
        if (best > bound) return bound + 1;
    }
    return d[a.size() * w + b.size()];
}

// The candidate closest to `word`, if it is close enough to be a likely typo
// (at most a third of the word's length, at least 1, edits; ties go to the
// earlier candidate). Words longer than 64 bytes get no suggestion, so that
// a huge name costs nothing.
template <typename Range>
std::optional<std::string> closest_name(std::string_view word, const Range& candidates) {
    if (word.empty() || word.size() > 64) return std::nullopt;
    const size_t bound = std::max<size_t>(1, word.size() / 3);
    std::optional<std::string> best;
    size_t best_d = bound + 1;
    for (const auto& c : candidates) {
        const std::string_view name(c);
        if (name == word) continue;
        const size_t d = edit_distance(word, name, bound);
        if (d < best_d) {
            best_d = d;
            best = std::string(name);
        }
    }
    return best;
}

// "; did you mean 'mul'?" or "".
template <typename Range>
std::string did_you_mean(std::string_view word, const Range& candidates) {
    const std::optional<std::string> c = closest_name(word, candidates);
    return c ? fmt::format("; did you mean '{}'?", *c) : std::string();
}

}  // namespace copapy
