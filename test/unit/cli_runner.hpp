// Runs the copapy-cc command line in-process (run_cli with string streams),
// for the CLI tests.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "driver/cli.hpp"

namespace copapy::test {

struct Run {
    int code;
    std::string out, err;
};

inline Run cli(std::vector<std::string> args) {
    args.insert(args.begin(), "copapy-cc");
    std::vector<const char*> argv;
    for (auto& a : args) argv.push_back(a.c_str());
    std::ostringstream out, err;
    const int code = run_cli(static_cast<int>(argv.size()), argv.data(), out, err);
    return {code, out.str(), err.str()};
}

}  // namespace copapy::test
