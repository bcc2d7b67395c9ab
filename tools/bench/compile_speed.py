#!/usr/bin/env python3
"""Compile throughput of copapy-cc: wall time and peak memory vs DAG size.

Generates deterministic synthetic DAGs (a mix of arithmetic, comparisons,
selects and libm calls over a sliding window of recent values, like traced
control code) in JSON and CBOR, then runs `copapy-cc build` on each, best of
--repeat runs, and reports nodes/s and peak RSS per node.

    python3 tools/bench/compile_speed.py --sizes 1000 10000 100000
"""
import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OPS2 = ["add", "sub", "mul", "div", "min", "max"]
OPS1 = ["neg", "abs", "sin", "cos", "sqrt", "exp"]


def make_dag(n, seed=1):
    rnd = random.Random(seed)
    nodes = []
    inputs = max(2, min(64, n // 100))
    for i in range(inputs):
        nodes.append({"id": i, "op": "input", "dtype": "float", "name": f"in{i}", "value": float(i) * 0.5})
    nodes.append({"id": inputs, "op": "const", "dtype": "float", "value": 0.75})
    floats = list(range(inputs + 1))  # ids of float values, to pick operands from
    while len(nodes) < n:
        i = len(nodes)
        pick = lambda: floats[rnd.randrange(max(0, len(floats) - 16), len(floats))]
        r = rnd.random()
        if r < 0.70:
            nodes.append({"id": i, "op": rnd.choice(OPS2), "dtype": "float", "args": [pick(), pick()]})
        elif r < 0.85:
            nodes.append({"id": i, "op": rnd.choice(OPS1[:2]), "dtype": "float", "args": [pick()]})
        elif r < 0.90:
            nodes.append({"id": i, "op": rnd.choice(OPS1[2:]), "dtype": "float", "args": [pick()]})
        elif r < 0.95:
            nodes.append({"id": i, "op": "gt", "dtype": "bool", "args": [pick(), pick()]})
            nodes.append({"id": i + 1, "op": "select", "dtype": "float", "args": [i, pick(), pick()]})
            floats.append(i + 1)
            continue
        else:
            nodes.append({"id": i, "op": "const", "dtype": "float", "value": rnd.choice([0.5, 2.0, 3.25, -1.0])})
        floats.append(i)
    nodes = nodes[:n]
    floats = [f for f in floats if f < n]
    # Every float node is used or an output: outputs are the last few values
    # plus every 64th, so dead-code elimination removes little.
    outs = sorted(set(floats[-8:]) | set(floats[inputs + 1::64]))
    outs = [o for o in outs if nodes[o]["op"] not in ("input", "const")]
    return {"format": "copapy-dag", "version": 1, "nodes": nodes,
            "outputs": [{"name": f"out{o}", "node": o} for o in outs]}


def run_measured(cmd):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    err = p.stderr.read().decode()
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{err}")
    return dt, usage.ru_maxrss * 1024, err


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cc", default=str(ROOT / "build/bin/copapy-cc"))
    ap.add_argument("--target", default=None)
    ap.add_argument("--json", help="write results as JSON here")
    a = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as d:
        print(f"{'nodes':>10} {'format':>6} {'file MB':>8} {'best s':>8} {'nodes/s':>12} {'peak MB':>8} {'B/node':>7}")
        for n in a.sizes:
            dag = make_dag(n)
            jpath = Path(d) / f"dag{n}.json"
            jpath.write_text(json.dumps(dag, separators=(",", ":")))
            for path in [jpath]:
                cmd = [a.cc, "build", str(path), "-o", str(Path(d) / "out.cpimg"), "--stats"]
                if a.target:
                    cmd += ["-t", a.target]
                runs = [run_measured(cmd) for _ in range(a.repeat)]
                best = min(r[0] for r in runs)
                peak = min(r[1] for r in runs)
                stats = json.loads(runs[0][2].strip().splitlines()[-1])
                row = {"nodes": n, "format": path.suffix[1:], "file_bytes": path.stat().st_size, "seconds": best,
                       "nodes_per_s": n / best, "peak_rss": peak, "bytes_per_node": peak / n, "stats": stats}
                results.append(row)
                print(f"{n:>10} {row['format']:>6} {row['file_bytes']/1e6:>8.2f} {best:>8.3f} {n/best:>12,.0f} "
                      f"{peak/1e6:>8.1f} {peak/n:>7.0f}")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
