#!/usr/bin/env python3
"""Code size per operation: bytes of stitched stencil code and patches per
DAG operation, for every target, on the original project's benchmark
expression sum((v1 + i) @ v2 for i in range(10)).

    python3 tools/bench/code_size.py [--sizes 10 100 500] [--targets ...]

"Operations" are the DAG's computing nodes as traced (inputs and constants
excluded). Stencil bytes exclude library code (sinf, ...) and constants.
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools/python"))
import copapy as cp  # noqa: E402

TARGETS = ["x86_64", "aarch64", "armv7", "thumbv7", "thumbv7em"]


def dot_benchmark(n):
    v1 = cp.vector([cp.value(float(i) * 0.25) for i in range(n)])
    v2 = cp.vector([cp.value(1.0 - float(i) * 0.125) for i in range(n)])
    return sum((v1 + i) @ v2 for i in range(10))


def measure(dag_path, target, cc):
    out = Path(dag_path).with_suffix(f".{target}.cpimg")
    p = subprocess.run([cc, "build", str(dag_path), "-t", target, "-o", str(out), "--stats"],
                       capture_output=True, text=True, check=True)
    return json.loads(p.stderr.strip().splitlines()[-1])


def table(sizes, targets=TARGETS, cc=str(ROOT / "build/bin/copapy-cc")):
    """Rows of {target, n, ops, stencil_bytes, bytes_per_op, patches, patches_per_op, steps_per_op}."""
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for n in sizes:
            path = Path(d) / f"dot{n}.json"
            cp.export(str(path), r=dot_benchmark(n))
            ops = sum(1 for node in json.loads(path.read_text())["nodes"] if node["op"] not in ("input", "const"))
            for t in targets:
                s = measure(path, t, cc)
                rows.append({"target": t, "n": n, "ops": ops, "stencil_bytes": s["stencil_bytes"],
                             "bytes_per_op": s["stencil_bytes"] / ops, "patches": s["patches"],
                             "patches_per_op": s["patches"] / ops, "steps_per_op": s["steps"] / ops})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 500])
    ap.add_argument("--targets", nargs="+", default=TARGETS)
    ap.add_argument("--cc", default=str(ROOT / "build/bin/copapy-cc"))
    a = ap.parse_args()
    print(f"{'target':<10} {'n':>4} {'DAG ops':>8} {'stencil B':>10} {'B/op':>6} {'patches':>8} {'patches/op':>10} {'steps/op':>8}")
    for r in table(a.sizes, a.targets, a.cc):
        print(f"{r['target']:<10} {r['n']:>4} {r['ops']:>8} {r['stencil_bytes']:>10} {r['bytes_per_op']:>6.1f} "
              f"{r['patches']:>8} {r['patches_per_op']:>10.2f} {r['steps_per_op']:>8.2f}")


if __name__ == "__main__":
    main()
