#!/usr/bin/env bash
# Runs the libFuzzer harnesses (test/fuzz, docs/fuzzing.md) for a while each.
#
#   tools/fuzz.sh [SECONDS] [FUZZER...]
#
# SECONDS per fuzzer (default 60); FUZZER is any of: dag compile emit image
# (default: all, one after the other). Builds them first in build-sanitize/
# (the `sanitize` preset: clang, ASan + UBSan, libFuzzer). Each fuzzer keeps
# its corpus in build-sanitize/fuzz/corpus/<fuzzer>/ (seeded from
# build-sanitize/fuzz/seeds/<fuzzer>/, made by the fuzz_seeds target), so a
# later run goes on where this one stopped. A crash is saved in
# build-sanitize/fuzz/crashes/<fuzzer>/ and the script exits 1: fix it and
# copy the input into test/fuzz/regressions/<fuzzer>/, which ctest replays.
#
# Environment: COPAPY_FUZZ_JOBS=N runs N fuzzers at once (default 1);
# COPAPY_FUZZ_ARGS adds libFuzzer options (e.g. "-seed=1 -max_len=65536").
set -euo pipefail
cd "$(dirname "$0")/.."

ALL=(dag compile emit image)
seconds=60
if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi
fuzzers=("$@")
if [ ${#fuzzers[@]} -eq 0 ]; then fuzzers=("${ALL[@]}"); fi
for f in "${fuzzers[@]}"; do
  if [[ ! " ${ALL[*]} " =~ " $f " ]]; then
    echo "fuzz.sh: error: unknown fuzzer '$f' (one of: ${ALL[*]})" >&2
    exit 2
  fi
done
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: tools/fuzz.sh [SECONDS] [FUZZER...]" >&2
  exit 2
fi

build=build-sanitize
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake --preset sanitize
fi
cmake --build --preset sanitize --target fuzzers

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
summary=()
run_one() {
  local f=$1
  local corpus=$build/fuzz/corpus/$f crashes=$build/fuzz/crashes/$f log=$build/fuzz/$f.log
  mkdir -p "$corpus" "$crashes"
  echo "fuzz.sh: $f for ${seconds} s (log: $log)" >&2
  local rc=0
  # -timeout: an input that takes longer is a finding too (a hang).
  # shellcheck disable=SC2086
  "$build/bin/fuzz_$f" -max_total_time="$seconds" -timeout=30 -print_final_stats=1 \
    -artifact_prefix="$crashes/" ${COPAPY_FUZZ_ARGS:-} "$corpus" "$build/fuzz/seeds/$f" >"$log" 2>&1 || rc=$?
  local execs corpus_n
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  corpus_n=$(find "$corpus" -type f | wc -l)
  if [ $rc -ne 0 ]; then
    tail -n 60 "$log" >&2
    echo "fuzz.sh: $f: FAILED (exit $rc): input saved in $crashes/ (see $log)" >&2
    return 1
  fi
  echo "fuzz.sh: $f: ${seconds} s, ${execs:-?} executions, corpus $corpus_n inputs, no finding"
}

jobs=${COPAPY_FUZZ_JOBS:-1}
if [ "$jobs" -le 1 ]; then
  for f in "${fuzzers[@]}"; do
    run_one "$f" || status=1
  done
else
  pids=()
  for f in "${fuzzers[@]}"; do
    run_one "$f" &
    pids+=($!)
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
  done
  for p in "${pids[@]}"; do wait "$p" || status=1; done
fi
exit $status
