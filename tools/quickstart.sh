#!/usr/bin/env bash
# From a fresh Debian 12 machine to a running example, in one command:
# installs what is missing, builds into build/ (binaries in build/bin), then
# traces examples/readme.py, compiles it for the host with copapy-cc, runs
# the image with coparun and prints the results.
#
#   tools/quickstart.sh [--run-only]   (--run-only: only the example, with the tools already built)
#
# The output from "== examples/readme.py" on is the README's quick-start
# transcript, checked by ctest (readme-transcripts).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != --run-only ]; then
  tools/deps.sh
  cmake --preset default >/dev/null
  # Only what is run below (the unit tests are built by tools/check.sh).
  cmake --build --preset default --target quickstart
  echo
fi
echo "== examples/readme.py (traced in Python, compiled by copapy-cc, run by coparun)"
PYTHONPATH="$PWD/tools/python" python3 examples/readme.py

echo
echo "== the same by hand: DAG file -> image -> run"
mkdir -p build/examples
PYTHONPATH="$PWD/tools/python" python3 - <<'PY'
import copapy as cp
a = cp.value(0.25, name="a")
b = cp.value(0.87, name="b", range=(0.0, 1.0))
c = a + b * 2.0
cp.export("build/examples/readme.json", c=c, d=c ** 2 + cp.sin(a), e=cp.sqrt(b))
PY
echo "\$ build/bin/copapy-cc build build/examples/readme.json -o build/examples/readme.cpimg"
build/bin/copapy-cc build build/examples/readme.json -o build/examples/readme.cpimg 2>&1  # warnings in order
echo "\$ build/bin/coparun build/examples/readme.cpimg --set a=0.5"
build/bin/coparun build/examples/readme.cpimg --set a=0.5
