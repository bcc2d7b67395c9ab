// The copapy-cc command line, as a function of (arguments, streams) so that
// tests can run it without a process. tools/copapy-cc/main.cpp only calls it.
#pragma once

#include <ostream>

namespace copapy {

// Exit codes (also in README and docs/cli.md).
enum ExitCode : int {
    kExitOk = 0,
    kExitInput = 1,        // invalid DAG (or image)
    kExitUsage = 2,        // bad command line
    kExitEnvironment = 3,  // stencil object missing/broken, I/O error
    kExitInternal = 4,     // a bug in copapy-cc
};

int run_cli(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace copapy
