#!/usr/bin/env python3
"""Tracing and exporting cost of the Python tracer against compiling the result.

The program is the original project's benchmark `sum((v1 + i) @ v2 for i in
range(10))` with vectors of n values (about 32 n DAG nodes: n = 3,333 gives
100k nodes). For each size: the time to trace it, to export it as JSON and as
CBOR (cp.export, file written), and to compile each file with copapy-cc (the
whole process), each the best of --repeat runs, measured in this one run.

    python3 tools/bench/trace_export.py [--nodes 1000 10000 100000 1000000] [--repeat 3]

Prints a Markdown table; the last column is (trace + export) / compile from
CBOR (the issue's goal: at most 1).
"""
import argparse
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "python"))
import copapy as cp  # noqa: E402

CC = os.environ.get("COPAPY_CC") or str(ROOT / "build" / "bin" / "copapy-cc")


def trace(n: int):
    v1 = cp.vector([cp.value(float(i)) for i in range(n)])
    v2 = cp.vector([cp.value(float(i) * 0.5) for i in range(n)])
    return sum((v1 + i) @ v2 for i in range(10))


def best(repeat: int, fn):
    times = []
    result = None
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, nargs="+", default=[1000, 10000, 100000, 1000000])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print("| nodes | trace s | export JSON s | export CBOR s | compile JSON s | compile CBOR s | "
          "(trace + CBOR export) / compile CBOR |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as d:
        for nodes in args.nodes:
            n = max(1, round(nodes / 32))
            t_trace, r = best(args.repeat, lambda: trace(n))
            js, cb = os.path.join(d, "p.json"), os.path.join(d, "p.cbor")
            t_json, _ = best(args.repeat, lambda: cp.export(js, r=r))
            t_cbor, _ = best(args.repeat, lambda: cp.export(cb, r=r))
            count = sum(1 for line in open(js) if '"id":' in line)
            c_json, _ = best(args.repeat, lambda: subprocess.run([CC, "build", js, "-o", js + ".img"], check=True))
            c_cbor, _ = best(args.repeat, lambda: subprocess.run([CC, "build", cb, "-o", cb + ".img"], check=True))
            print(f"| {count:,} | {t_trace:.3f} | {t_json:.3f} | {t_cbor:.3f} | {c_json:.3f} | {c_cbor:.3f} | "
                  f"{(t_trace + t_cbor) / c_cbor:.2f} |")
            del r
    return 0


if __name__ == "__main__":
    sys.exit(main())
