#!/usr/bin/env bash
# The whole test suite: same set-up as tools/quickstart.sh, then ctest
# (unit tests, tracer tests, end-to-end tests, CLI error corpus, fuzz
# regression inputs); then the same suite again on the host parts built with
# ASan + UBSan (the `sanitize` preset, clang, every finding fatal); then each
# fuzzer for a fixed time (tools/fuzz.sh, docs/fuzzing.md).
#
# Arguments go to both ctest runs. COPAPY_CHECK_SANITIZE=0 skips the
# sanitizer build and the fuzzers; COPAPY_FUZZ_SECONDS sets the time per
# fuzzer (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."

step() {
  local name=$1
  shift
  local t0=$SECONDS
  "$@"
  echo "check.sh: $name: $((SECONDS - t0)) s" >&2
}

tools/deps.sh
step "default build" bash -c 'cmake --preset default && cmake --build --preset default'
step "default ctest" ctest --preset default "$@"
if [ "${COPAPY_CHECK_SANITIZE:-1}" != 0 ]; then
  step "sanitize build" bash -c 'cmake --preset sanitize && cmake --build --preset sanitize'
  step "sanitize ctest" ctest --preset sanitize "$@"
  step "fuzzers" tools/fuzz.sh "${COPAPY_FUZZ_SECONDS:-60}"
fi
