// Errors travel upward as exceptions of one type and are reported once, at
// the top (tools/copapy-cc), as `copapy-cc: error: <file>: <where>: <what>`.
// Messages are lower-case without a trailing period.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace copapy {

// What went wrong decides the exit code (documented in README and docs/cli.md).
enum class ErrorKind {
    Input = 1,        // the DAG or image given by the user is invalid
    Usage = 2,        // bad command line
    Environment = 3,  // missing/broken stencil object, I/O failure
};

class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, std::string message) : std::runtime_error(std::move(message)), kind_(kind) {}
    ErrorKind kind() const { return kind_; }

private:
    ErrorKind kind_;
};

template <typename... Args>
[[noreturn]] void fail(ErrorKind kind, fmt::format_string<Args...> f, Args&&... args) {
    throw Error(kind, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace copapy
