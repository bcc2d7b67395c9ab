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
sys.path.insert(0, str(ROOT / "tools/python"))
OPS2 = ["add", "sub", "mul", "div", "min", "max"]
OPS1 = ["neg", "abs", "sin", "cos", "sqrt", "exp"]


def nodes_of(n, seed=1):
    """Yields the DAG's nodes one by one (a 10M-node DAG never sits in memory)
    and finally a list of output node ids (as the last item)."""
    rnd = random.Random(seed)
    inputs = max(2, min(64, n // 100))
    for i in range(inputs):
        yield {"id": i, "op": "input", "dtype": "float", "name": f"in{i}", "value": float(i) * 0.5}
    yield {"id": inputs, "op": "const", "dtype": "float", "value": 0.75}
    recent = list(range(inputs + 1))  # the last float values, operands are picked from here
    outputs = []
    i = inputs + 1
    while i < n:
        pick = lambda: recent[rnd.randrange(len(recent))]
        r = rnd.random()
        if r < 0.70:
            node = {"id": i, "op": OPS2[rnd.randrange(6)], "dtype": "float", "args": [pick(), pick()]}
        elif r < 0.85:
            node = {"id": i, "op": OPS1[rnd.randrange(2)], "dtype": "float", "args": [pick()]}
        elif r < 0.90:
            node = {"id": i, "op": OPS1[2 + rnd.randrange(4)], "dtype": "float", "args": [pick()]}
        elif r < 0.95 and i + 1 < n:
            yield {"id": i, "op": "gt", "dtype": "bool", "args": [pick(), pick()]}
            i += 1
            node = {"id": i, "op": "select", "dtype": "float", "args": [i - 1, pick(), pick()]}
        else:
            node = {"id": i, "op": "const", "dtype": "float", "value": rnd.choice([0.5, 2.0, 3.25, -1.0])}
        yield node
        if node["op"] != "const" and (i % 64 == 0 or i >= n - 8):
            outputs.append(i)  # every 64th value and the last few: dead-code elimination removes little
        recent.append(i)
        if len(recent) > 16:
            recent.pop(0)
        i += 1
    yield outputs


def write_dag(path, n, seed=1):
    """Writes the synthetic DAG as JSON or CBOR (by the file's extension), streaming."""
    path = Path(path)
    gen = nodes_of(n, seed)
    if path.suffix == ".cbor":
        from copapy import _cbor
        with open(path, "wb") as f:
            f.write(_cbor.map_head(4) + _cbor.encode("format") + _cbor.encode("copapy-dag") +
                    _cbor.encode("version") + _cbor.encode(1) + _cbor.encode("nodes"))
            f.write(bytes([0x9f]))  # indefinite-length array: the count is not known up front
            for item in gen:
                if isinstance(item, list):
                    outputs = item
                    break
                f.write(_cbor.encode(item))
            f.write(bytes([0xff]))
            f.write(_cbor.encode("outputs") + _cbor.encode([{"name": f"out{o}", "node": o} for o in outputs]))
        return
    with open(path, "w") as f:
        f.write('{"format":"copapy-dag","version":1,"nodes":[')
        first = True
        for item in gen:
            if isinstance(item, list):
                outputs = item
                break
            f.write(("" if first else ",") + json.dumps(item, separators=(",", ":")))
            first = False
        f.write('],"outputs":' + json.dumps([{"name": f"out{o}", "node": o} for o in outputs]) + "}")


GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def run_measured(cmd):
    """Wall time, peak resident memory (bytes) and standard error of one run.

    The peak comes from GNU time (%M) when it is installed: a child's own
    ru_maxrss would include this Python process' memory (Linux keeps the
    maximum across exec, and the child starts as a copy of its parent),
    which hides the compiler's peak for small DAGs."""
    with tempfile.NamedTemporaryFile("r") as peak:
        full = [GNU_TIME, "-f", "%M", "-o", peak.name] + cmd if GNU_TIME else cmd
        t0 = time.perf_counter()
        p = subprocess.Popen(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t0
        err = p.stderr.read().decode()
        p.stderr.close()
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"failed: {' '.join(cmd)}\n{err}")
        rss = int(peak.read().split()[-1]) * 1024 if GNU_TIME else usage.ru_maxrss * 1024
    return dt, rss, err


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cc", default=str(ROOT / "build/bin/copapy-cc"))
    ap.add_argument("--target", default=None)
    ap.add_argument("--json", help="write results as JSON here")
    ap.add_argument("--ranges", nargs="+", default=[None],
                    help="value-range analysis modes to measure, each in its own rows (default: the compiler's, warn)")
    a = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as d:
        print(f"{'nodes':>10} {'format':>6} {'ranges':>6} {'file MB':>8} {'best s':>8} {'nodes/s':>12} {'peak MB':>8} "
              f"{'B/node':>7}")
        for n in a.sizes:
            for fmt in ("json", "cbor"):
                path = Path(d) / f"dag{n}.{fmt}"
                write_dag(path, n)
                for mode in a.ranges:
                    cmd = [a.cc, "build", str(path), "-o", str(Path(d) / "out.cpimg"), "--stats"]
                    if a.target:
                        cmd += ["-t", a.target]
                    if mode:
                        cmd += [f"--ranges={mode}"]
                    runs = [run_measured(cmd) for _ in range(a.repeat)]
                    best = min(r[0] for r in runs)
                    peak = min(r[1] for r in runs)
                    # --stats is the JSON line among the warnings on standard error.
                    stats = json.loads([ln for ln in runs[0][2].splitlines() if ln.startswith("{")][-1])
                    row = {"nodes": n, "format": path.suffix[1:], "ranges": mode or "warn",
                           "file_bytes": path.stat().st_size, "seconds": best, "nodes_per_s": n / best,
                           "peak_rss": peak, "bytes_per_node": peak / n, "stats": stats}
                    results.append(row)
                    print(f"{n:>10} {row['format']:>6} {row['ranges']:>6} {row['file_bytes']/1e6:>8.2f} {best:>8.3f} "
                          f"{n/best:>12,.0f} {peak/1e6:>8.1f} {peak/n:>7.0f}")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
