#!/usr/bin/env bash
# The whole test suite: same set-up as tools/quickstart.sh, then ctest
# (unit tests, tracer tests, end-to-end tests, CLI error corpus).
set -euo pipefail
cd "$(dirname "$0")/.."

tools/deps.sh
cmake --preset default
cmake --build --preset default
ctest --preset default "$@"
