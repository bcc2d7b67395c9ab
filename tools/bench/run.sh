#!/usr/bin/env bash
# Runs every benchmark and writes docs/benchmarks.md and its plots:
#   tools/bench/run.sh [--quick] [--out DIR]
# --quick is a smoke test with smaller sizes: it writes build/bench/benchmarks.md
# (not docs/) unless --out says otherwise.
# Installs what it needs (the build's dependencies, matplotlib for the plots).
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/deps.sh
if ! dpkg-query -W -f='${Status}' python3-matplotlib 2>/dev/null | grep -q "ok installed"; then
  ${SUDO:-$([ "$(id -u)" = 0 ] || echo sudo)} apt-get install -y -qq --no-install-recommends python3-matplotlib >/dev/null
fi
cmake --preset default >/dev/null
cmake --build --preset default >/dev/null
# Debian's interpreter: the one python3-matplotlib installs into.
exec /usr/bin/python3 tools/bench/run_benchmarks.py "$@"
