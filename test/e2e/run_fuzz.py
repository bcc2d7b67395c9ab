#!/usr/bin/env python3
"""Randomized programs against the Python reference, aimed at register planning.

run_ops.py checks every operation once and its chains make every value an
output. Here most values are intermediates with long and overlapping live
ranges, few are outputs, operands are reused at random distances and there
are many ops whose stencils call library code (float // and % call fmodf,
int // and % call __aeabi_idivmod on ARMv7), which must preserve r1. Only
bit-exact operations are used, so any difference is a compiler bug.

    python3 test/e2e/run_fuzz.py [--target NAME] [--programs N] [--seed S]
"""
import argparse
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_ops as r  # noqa: E402  (its reference semantics and helpers)

cp = r.cp
STEPS = 400
BINARY = 4 * ["add", "sub", "mul", "floordiv", "mod", "min", "max"] + ["div", *r.COMPARE, *r.BITWISE, "lshift", "rshift"]


def program(rng: random.Random, tag: str):
    """One random program: (cases, writes) like run_ops' Suite."""
    suite = r.Suite()
    pool = [suite.input("int", x) for x in (3, -7, 100000, r.INT_MIN, 2, 0)]
    pool += [suite.input("float", x) for x in (1.5, -2.25, 0.1, 3.0, -0.0, 1e30)]
    pool += [suite.input("bool", b) for b in r.BOOLS]

    def pick(ints_only=False):
        # Often far back (long live ranges), often very recent (register hits).
        choices = pool[-4:] if rng.random() < 0.5 else pool
        if ints_only:
            choices = [p for p in choices if p.dtype != "float"] or [p for p in pool if p.dtype != "float"]
        return rng.choice(choices)

    for k in range(STEPS):
        u = rng.random()
        if u < 0.1:
            op = rng.choice(r.CHAIN_UNARY)
            x = pick()
            dtype, expected = r.ref_unary(op, x)
            v = r.UNARY_FUNCTIONS[op](x.v)
        elif u < 0.18:
            c, a, b = pick(), pick(), pick()
            dtype = r.same_kind(a, b)
            expected = r.coerce(dtype, a.py if r.truthy(c) else b.py)
            v = cp.iif(c.v, a.v, b.v)
        else:
            op = rng.choice(BINARY)
            ints_only = op in r.BITWISE or op in ("lshift", "rshift")
            x, y = pick(ints_only), pick(ints_only)
            dtype, expected = r.ref_binary(op, x, y)
            v = r.BINARY_FUNCTIONS[op](x.v, y.v)
        result = r.Operand(dtype, expected, v)
        pool.append(result)
        if rng.random() < 0.15 or k == STEPS - 1:
            suite.add(f"{tag} step {k}", v, dtype, expected)
    return suite


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default=None)
    ap.add_argument("--programs", type=int, default=6)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    label = a.target or os.environ.get("COPAPY_TARGET") or "host"
    passed, failures = 0, []
    for p in range(a.programs):
        rng = random.Random(a.seed * 1000 + p)
        suite = program(rng, f"program {p}")
        tg = cp.Target(a.target)
        try:
            tg.compile([c.v for c in suite.cases])
            tg.run()
        except (RuntimeError, OSError) as e:
            failures.append(f"program {p}: {e}")
            continue
        for c in suite.cases:
            got = tg.read_value(c.v)
            if r.matches(c.dtype, c.expected, got, 0):
                passed += 1
            else:
                failures.append(f"{c.label}: expected {r.show(c.dtype, c.expected)}, got {r.show(c.dtype, got)}")
    for f in failures[:40]:
        print("FAIL", f)
    print(f"e2e-fuzz[{label}]: {passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
