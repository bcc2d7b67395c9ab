#!/usr/bin/env python3
"""Whole-process compile time of small programs: `copapy-cc build` of 10, 1k
and 10k-node DAGs as one process each (start-up, reading the stencil object,
compiling, writing the image, exit), against `copapy-cc --version` (the
process start alone) and against `gcc -O2 -c` on the `--emit c` output of the
same program (what compiling it as C would cost).

    python3 tools/bench/startup.py [--sizes 10 1000 10000] [--runs 200]

Each command is run --runs times as its own process (posix_spawn, output to
/dev/null); the table gives the median and the minimum wall time per run in
milliseconds, and the ratios of the medians. The DAGs are those of
tools/bench/compile_speed.py, in JSON and CBOR.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import compile_speed  # noqa: E402


def timed_runs(cmd, runs):
    """Wall times (seconds) of `runs` runs of cmd, each a fresh process."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    actions = [(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
    times = []
    try:
        for _ in range(runs):
            t0 = time.perf_counter()
            pid = os.posix_spawnp(cmd[0], cmd, os.environ, file_actions=actions)
            _, status = os.waitpid(pid, 0)
            times.append(time.perf_counter() - t0)
            if os.waitstatus_to_exitcode(status) != 0:
                sys.exit(f"failed: {' '.join(cmd)}")
    finally:
        os.close(devnull)
    return times


def summary(times):
    return {"median_ms": statistics.median(times) * 1e3, "min_ms": min(times) * 1e3, "runs": len(times)}


def table(sizes=(10, 1000, 10000), runs=200, cc=str(ROOT / "build/bin/copapy-cc"), gcc="gcc"):
    """Rows per DAG size: copapy-cc build (JSON, CBOR), --version, gcc -O2 -c on --emit c."""
    rows = []
    version = summary(timed_runs([cc, "--version"], runs))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for n in sizes:
            row = {"nodes": n, "version": version}
            for fmt in ("json", "cbor"):
                dag = tmp / f"dag{n}.{fmt}"
                compile_speed.write_dag(dag, n)
                row[fmt] = summary(timed_runs([cc, "build", str(dag), "-o", str(tmp / "out.cpimg")], runs))
            c_file = tmp / f"dag{n}.c"
            subprocess.run([cc, "build", str(tmp / f"dag{n}.json"), "--emit", "c", "-o", str(c_file)], check=True)
            # gcc takes tens of milliseconds to seconds: fewer runs.
            gcc_runs = max(3, min(runs // 10, 20)) if n <= 1000 else 3
            row["gcc_O2"] = summary(timed_runs([gcc, "-O2", "-ffp-contract=off", "-c", str(c_file), "-o",
                                                str(tmp / "out.o")], gcc_runs))
            row["vs_version"] = row["json"]["median_ms"] / version["median_ms"]
            row["gcc_vs_copapy"] = row["gcc_O2"]["median_ms"] / row["json"]["median_ms"]
            rows.append(row)
            print(f"  {n:>6} nodes: copapy-cc build {row['json']['median_ms']:7.2f} ms (JSON), "
                  f"{row['cbor']['median_ms']:7.2f} ms (CBOR); --version {version['median_ms']:5.2f} ms; "
                  f"gcc -O2 {row['gcc_O2']['median_ms']:8.1f} ms", flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 1000, 10000])
    ap.add_argument("--runs", type=int, default=200, help="process runs per copapy-cc command")
    ap.add_argument("--cc", default=str(ROOT / "build/bin/copapy-cc"))
    ap.add_argument("--json", help="write results as JSON here")
    a = ap.parse_args()
    rows = table(a.sizes, a.runs, a.cc)
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
