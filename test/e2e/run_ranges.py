#!/usr/bin/env python3
"""Soundness of the value-range analysis, on a real target.

Random programs with declared input ranges (every op of the DAG format:
arithmetic, libm, comparisons, casts, selects, int bit operations, states)
make every node an output. Each is compiled twice for the target: with the
analysis (-O2 uses the proven ranges) and with --ranges=off. Both images run
the same random inputs inside the declared ranges (and at their edges) on
the target's runner, period after period (states carry over), and

  * every value of every period lies inside the range the manifest proves
    for it (NaN only where the manifest allows NaN);
  * the two images give the same bits for every value: what -O2 removed
    with proven ranges could not have mattered.

    python3 test/e2e/run_ranges.py [--target NAME] [--programs N] [--periods P] [--seed S]
"""
import argparse
import json
import math
import os
import random
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools/python"))
from copapy._target import _runner_command  # noqa: E402  (the one place that knows how to run a target)
from copapy._value import f32  # noqa: E402

INT_MIN, INT_MAX = -(2 ** 31), 2 ** 31 - 1
MATH1 = ["sqrt", "exp", "log", "sin", "cos", "tan", "asin", "acos", "atan", "tanh", "floor", "ceil", "trunc", "round"]
NUM1 = ["neg", "abs", "sign"]
NUM2 = ["add", "sub", "mul", "floordiv", "mod", "min", "max"]
CMP = ["gt", "ge", "lt", "le", "eq", "ne"]
BITS = ["and", "or", "xor"]
SHIFT = ["lshift", "rshift"]
FLOAT2 = ["div", "atan2", "hypot", "pow"]


def num2_type(a, b, op):
    if op in ("min", "max"):
        if a == b == "bool":
            return "bool"
    return "float" if "float" in (a, b) else "int"


class Program:
    """A random DAG (docs/dag-format.md, version 3) whose every node is an output."""

    def __init__(self, rng, size):
        self.rng = rng
        self.nodes = []        # DAG node objects
        self.inputs = []       # (name, dtype, lo, hi)
        self.updates = []
        self.ints, self.floats, self.bools = [], [], []
        for k in range(rng.randint(2, 4)):
            self.input("float", k)
        for k in range(rng.randint(1, 3)):
            self.input("int", k)
        self.input("bool", 0)
        states = []
        if rng.random() < 0.5:
            states.append(self.state("float" if rng.random() < 0.6 else "int"))
        for _ in range(size):
            self.operation()
        for sid, dtype in states:  # the next value: any node of the state's dtype
            pool = self.floats if dtype == "float" else self.ints
            self.updates.append({"state": sid, "node": rng.choice(pool)})

    def add(self, node):
        node["id"] = len(self.nodes)
        self.nodes.append(node)
        {"int": self.ints, "float": self.floats, "bool": self.bools}[node["dtype"]].append(node["id"])
        return node["id"]

    def float_range(self):
        r = self.rng
        u = r.random()
        if u < 0.2:
            lo = hi = f32(r.uniform(-10, 10))
        elif u < 0.5:
            lo, hi = sorted(f32(r.uniform(-1000, 1000)) for _ in range(2))
        elif u < 0.7:
            lo, hi = 0.0, f32(r.uniform(0, 100))
        elif u < 0.85:
            lo, hi = f32(-r.uniform(0, 1)), f32(r.uniform(0, 1))
        else:
            lo, hi = sorted(f32(r.choice([-1, 1]) * 10 ** r.uniform(-3, 30)) for _ in range(2))
        return lo, hi

    def int_range(self):
        r = self.rng
        u = r.random()
        if u < 0.5:
            lo, hi = sorted(r.randint(-100, 100) for _ in range(2))
        elif u < 0.7:
            lo, hi = 1, r.randint(1, 50)
        elif u < 0.85:
            lo, hi = sorted(r.randint(INT_MIN, INT_MAX) for _ in range(2))
        else:
            lo = hi = r.randint(-5, 5)
        return lo, hi

    def input(self, dtype, k):
        lo, hi = self.float_range() if dtype == "float" else self.int_range() if dtype == "int" else (0, 1)
        value = lo if dtype != "bool" else bool(lo)
        name = f"{dtype[0]}{k}"
        self.inputs.append((name, dtype, lo, hi))
        return self.add({"op": "input", "dtype": dtype, "name": name, "value": value, "range": [lo, hi]})

    def state(self, dtype):
        sid = self.add({"op": "state", "dtype": dtype, "name": f"s_{dtype}",
                        "value": 0.0 if dtype == "float" else 0})
        return sid, dtype

    def pick(self, kinds):
        pool = [n for kind in kinds for n in {"int": self.ints, "float": self.floats, "bool": self.bools}[kind]]
        # Recent values more often: deeper chains.
        return pool[-1 - min(int(self.rng.expovariate(0.3)), len(pool) - 1)]

    def dtype(self, node_id):
        return self.nodes[node_id]["dtype"]

    def operation(self):
        r = self.rng
        u = r.random()
        num = ["int", "float", "bool"]
        if u < 0.05:
            self.add({"op": "const", "dtype": "float", "value": f32(r.choice([0.0, 1.0, -1.0, 0.5, 2.0, r.uniform(-5, 5)]))})
        elif u < 0.08:
            self.add({"op": "const", "dtype": "int", "value": r.choice([0, 1, -1, 2, 3, 7, 31, r.randint(-100, 100)])})
        elif u < 0.28:
            op = r.choice(MATH1)
            self.add({"op": op, "dtype": "float", "args": [self.pick(num)]})
        elif u < 0.36:
            op = r.choice(NUM1)
            a = self.pick(num)
            self.add({"op": op, "dtype": "float" if self.dtype(a) == "float" else "int", "args": [a]})
        elif u < 0.62:
            op = r.choice(NUM2)
            a, b = self.pick(num), self.pick(num)
            self.add({"op": op, "dtype": num2_type(self.dtype(a), self.dtype(b), op), "args": [a, b]})
        elif u < 0.72:
            op = r.choice(FLOAT2)
            kinds = ["float"] if op == "pow" else num  # a float pow: no int-const exponent rule
            self.add({"op": op, "dtype": "float", "args": [self.pick(kinds), self.pick(kinds)]})
        elif u < 0.8:
            self.add({"op": r.choice(CMP), "dtype": "bool", "args": [self.pick(num), self.pick(num)]})
        elif u < 0.86:
            op = r.choice(BITS + SHIFT)
            a, b = self.pick(["int", "bool"]), self.pick(["int", "bool"])
            both_bool = self.dtype(a) == self.dtype(b) == "bool"
            self.add({"op": op, "dtype": "bool" if both_bool and op in BITS else "int", "args": [a, b]})
        elif u < 0.93:
            c, a, b = self.pick(num), self.pick(num), self.pick(num)
            self.add({"op": "select", "dtype": num2_type(self.dtype(a), self.dtype(b), "min"), "args": [c, a, b]})
        else:
            self.add({"op": "cast", "dtype": r.choice(num), "args": [self.pick(num)]})

    def document(self):
        outputs = [{"name": n.get("name") or f"n{n['id']}", "node": n["id"]} for n in self.nodes]
        return {"format": "copapy-dag", "version": 3, "nodes": self.nodes, "outputs": outputs,
                "updates": self.updates}

    def random_inputs(self, periods):
        """Per input, `periods` values inside its range: its edges, zero, then uniform."""
        columns = []
        for name, dtype, lo, hi in self.inputs:
            edges = [lo, hi] + ([0.0, -0.0] if dtype == "float" and lo <= 0 <= hi else [])
            col = []
            for p in range(periods):
                if p < len(edges):
                    v = edges[p]
                elif dtype == "float":
                    v = f32(self.rng.uniform(lo, hi))
                else:
                    v = self.rng.randint(lo, hi)
                col.append(v)
            columns.append((name, dtype, col))
        return columns


def bits_of(dtype, v):
    if dtype == "float":
        return struct.unpack("<I", struct.pack("<f", v))[0]
    return int(v) & 0xffffffff


def value_of(dtype, bits):
    if dtype == "float":
        return struct.unpack("<f", struct.pack("<I", bits))[0]
    return bits - (1 << 32) if bits >= 1 << 31 else bits


def bound(x):
    return {"inf": math.inf, "-inf": -math.inf}.get(x, x) if isinstance(x, str) else x


def run_image(runner, image, outputs, columns, periods):
    """Every output's bits for every period (coparun --serve, `columns`)."""
    hexes = "".join(f"{bits_of(dtype, v):08x}" for _, dtype, col in columns for v in col)
    request = f"columns {periods} {' '.join(outputs)} | {' '.join(n for n, _, _ in columns)} | {hexes}\n"
    proc = subprocess.run(runner + [str(image), "--serve"], input=request, capture_output=True, text=True, timeout=120)
    lines = proc.stdout.splitlines()
    if proc.returncode != 0 or len(lines) < 2 or not lines[1].startswith("ok "):
        raise RuntimeError(f"{image}: runner failed: {proc.stdout[-500:]} {proc.stderr[-500:]}")
    digits = lines[1][3:]
    # Output-major: all periods of the first output, then the next.
    return [[int(digits[8 * (o * periods + p):8 * (o * periods + p) + 8], 16) for p in range(periods)]
            for o in range(len(outputs))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", default="x86_64")
    ap.add_argument("--programs", type=int, default=60)
    ap.add_argument("--size", type=int, default=30, help="operations per program")
    ap.add_argument("--periods", type=int, default=64)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--cc", default=os.environ.get("COPAPY_CC", str(ROOT / "build/bin/copapy-cc")))
    a = ap.parse_args()
    runner = _runner_command(a.target)
    rng = random.Random(a.seed)
    checked = bypassed = findings = 0
    failures = []
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        for k in range(a.programs):
            prog = Program(rng, a.size)
            dag = work / f"p{k}.json"
            dag.write_text(json.dumps(prog.document()))
            ranged, plain = work / f"p{k}.cpimg", work / f"p{k}-off.cpimg"
            manifest = work / f"p{k}.manifest.json"
            built = subprocess.run([a.cc, "build", str(dag), "-t", a.target, "-o", str(ranged), "--emit",
                                    f"image,manifest={manifest}", "--stats"], capture_output=True, text=True)
            if built.returncode != 0:
                failures.append(f"program {k}: copapy-cc failed: {built.stderr[-800:]}")
                continue
            stats = json.loads([line for line in built.stderr.splitlines() if line.startswith("{")][-1])  # --stats
            bypassed += stats["range_bypassed"]
            findings += built.stderr.count("warning:")
            off = subprocess.run([a.cc, "build", str(dag), "-t", a.target, "-o", str(plain), "--ranges=off"],
                                 capture_output=True, text=True)
            if off.returncode != 0:
                failures.append(f"program {k}: copapy-cc --ranges=off failed: {off.stderr[-800:]}")
                continue
            m = json.loads(manifest.read_text())
            outs = m["outputs"]
            names = [o["name"] for o in outs]
            columns = prog.random_inputs(a.periods)
            got = run_image(runner, ranged, names, columns, a.periods)
            ref = run_image(runner, plain, names, columns, a.periods)
            for o, values, expected in zip(outs, got, ref):
                lo_hi = o["range"]
                for p, (b, e) in enumerate(zip(values, expected)):
                    checked += 1
                    v = value_of(o["dtype"], b)
                    where = f"program {k} ({dag.name}), {o['name']}, period {p}"
                    if b != e:
                        failures.append(f"{where}: -O2 with ranges gives {b:#010x}, --ranges=off {e:#010x}")
                    if isinstance(v, float) and math.isnan(v):
                        if not o.get("nan", False):
                            failures.append(f"{where}: NaN, but the proven range {lo_hi} excludes NaN")
                    elif lo_hi is None or not bound(lo_hi[0]) <= v <= bound(lo_hi[1]):
                        failures.append(f"{where}: {v!r} lies outside the proven range {lo_hi}")
            if failures:
                (Path(os.environ.get("TMPDIR", "/tmp")) / f"run_ranges-failed-{a.target}-{k}.json").write_text(
                    dag.read_text())
                break
    for f in failures[:20]:
        print("FAIL", f)
    print(f"run_ranges {a.target}: {a.programs} programs of {a.size} operations, {a.periods} periods each: "
          f"{checked} values checked against their proven ranges and the unoptimized image; "
          f"{bypassed} nodes removed by -O2 with ranges; {findings} findings reported; {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
