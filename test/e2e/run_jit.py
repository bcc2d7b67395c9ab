#!/usr/bin/env python3
"""@cp.jit end to end: compiled functions called many times, results, retracing and result structure.

Each function is decorated with cp.jit(target=<the target>) and called with
many different arguments: numbers, lists, vectors, tensors, quaternions.
Checks:
- every result against the same computation in plain Python on F32 numbers
  (test/e2e/_f32.py: each + - * / rounded to binary32) or Python ints
  (wrapped to int32), bit for bit; the Python type of every number;
- tracing: a counter incremented inside the function counts how often
  Python runs it (tracing does, a compiled call does not). Calls with the
  same signature (kind, element type and shape of every argument) must not
  retrace; a different element type or shape must, exactly once; every
  compiled program is for the requested target;
- structure: a tuple of a value and a vector comes back as a tuple of a
  Python float and a vector of Python floats; a list as a list; a tensor as
  a tensor of the same shape;
- the original copapy project's jit test, `sum(x ** 2 + y ** 2 + i for i in
  range(10))` with x = i * 2.5 and y = 5.7, for CALLS values of i: each
  result bit for bit against F32, and the sum of all results against the
  exact sum in double within a relative 1e-6. That bound is float32-aware:
  each of the 10 terms is rounded at most 4 times (x * x, y * y and two
  additions) and the sum of the terms 9 times more, each rounding by at most
  2^-24 (6e-8) relative; with only positive terms there is no cancellation,
  so a call's result is within 13 * 6e-8 = 8e-7 (relative) of the exact
  value, and 4e-8 more come from y = 5.7 not being a binary32 number (x is
  exact). A sum of positive results keeps that relative bound (the double
  sum adds nothing measurable). Measured with 200 calls: 1.2e-8.

    python3 test/e2e/run_jit.py [--target NAME] [--calls N]

Prints `e2e-jit[<target>]: N passed, M failed` and the failures; exits 1 on failure.
"""
import argparse
import collections
import os
import random
import sys
from pathlib import Path
from typing import Any, Callable, List

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tools/python"))
sys.path.insert(0, str(HERE))
import copapy as cp  # noqa: E402
from _f32 import F32, f32, same  # noqa: E402

traces: "collections.Counter[str]" = collections.Counter()


def wrap32(x: int) -> int:
    return (x + 2 ** 31) % 2 ** 32 - 2 ** 31


# ---- The functions under test (each counts its traces) ------------------------------------

def affine(x, y):
    traces["affine"] += 1
    return x * y + 1.5


def int_ops(a, b):
    traces["int_ops"] += 1
    return a * b, a // b, a % b, (a ^ b) << 3


def list_fn(xs):
    traces["list_fn"] += 1
    return [sum(x * x for x in xs), xs[0] - xs[-1]]


def dot_and_axpy(v, w):
    traces["dot_and_axpy"] += 1
    return v.dot(w), v * 2.0 + w


def matvec(A, x):
    traces["matvec"] += 1
    return A @ x + 1.0


def hamilton(q, p):
    traces["hamilton"] += 1
    return q @ p


def calculation(x, y):
    traces["calculation"] += 1
    return sum(x ** 2 + y ** 2 + i for i in range(10))


# ---- Plain-Python references ----------------------------------------------------------------

def ref_matvec(A: List[List[float]], x: List[float]) -> List[Any]:
    out = []
    for row in A:
        total = F32(row[0]) * F32(x[0])
        for a, b in zip(row[1:], x[1:]):
            total = total + F32(a) * F32(b)
        out.append(total + 1.0)
    return out


def ref_hamilton(a: List[float], b: List[float]) -> List[Any]:
    aw, ax, ay, az = (F32(c) for c in a)
    bw, bx, by, bz = (F32(c) for c in b)
    return [aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw]


def ref_calculation(x: float, y: float) -> Any:
    fx, fy = F32(x), F32(y)
    total = None
    for i in range(10):
        term = fx * fx + fy * fy + i
        total = term if total is None else total + term
    return total


class Checker:
    def __init__(self) -> None:
        self.passed = 0
        self.failures: List[str] = []

    def ok(self, condition: bool, message: str) -> bool:
        if condition:
            self.passed += 1
        else:
            self.failures.append(message)
        return condition

    def number(self, label: str, got: Any, want: Any) -> None:
        """A float bit for bit (Python float), or an int exactly (Python int)."""
        if isinstance(want, int) and not isinstance(want, bool):
            self.ok(type(got) is int and got == want, f"{label}: expected the int {want!r}, got {got!r}")
        else:
            self.ok(type(got) is float and same(got, want),
                    f"{label}: expected the float {float(want)!r}, got {got!r} ({type(got).__name__})")

    def traced(self, name: str, expected: int, when: str) -> None:
        self.ok(traces[name] == expected, f"{name}: traced {traces[name]} time(s) {when}, expected {expected}")

    def container(self, label: str, got: Any, cls: type, shape: tuple, want: List[Any]) -> None:
        if self.ok(isinstance(got, cls) and tuple(got.shape) == shape,
                   f"{label}: expected a {cls.__name__} of shape {shape}, got {got!r}"):
            for i, (g, w) in enumerate(zip(got.values, want)):
                self.number(f"{label}[{i}]", g, w)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default=None, help="copapy-cc target name (default: $COPAPY_TARGET or the host)")
    ap.add_argument("--calls", type=int, default=200, help="calls of the original project's jit test")
    a = ap.parse_args()
    label = a.target or os.environ.get("COPAPY_TARGET") or "host"
    arch = cp.Target(a.target).arch
    jit: Callable[[Callable[..., Any]], Any] = cp.jit(target=a.target)
    rng = random.Random(7)
    c = Checker()

    # Numbers: floats, then ints (another signature), then a bool (another one again).
    f = jit(affine)
    for _ in range(6):
        x, y = f32(rng.uniform(-100, 100)), f32(rng.uniform(-1, 1))
        c.number(f"affine({x!r}, {y!r})", f(x, y), F32(x) * F32(y) + 1.5)
    c.traced("affine", 1, "for six calls with floats")
    for x, y in ((3, 4), (-7, 100), (46341, 46341)):
        c.number(f"affine({x}, {y})", f(x, y), F32(wrap32(x * y)) + 1.5)
    c.traced("affine", 2, "after ints (a new signature)")
    c.number("affine(True, 2.5)", f(True, 2.5), F32(1.0) * 2.5 + 1.5)
    c.traced("affine", 3, "after a bool and a float")
    c.number("affine(1.25, 2.0) again", f(1.25, 2.0), F32(1.25) * 2.0 + 1.5)
    c.traced("affine", 3, "after floats again (compiled already)")
    c.ok(len(f.targets) == 3 and all(t.arch == arch for t in f.targets),
         f"affine: compiled {[t.arch for t in f.targets]}, expected three programs for {arch}")

    # Int arithmetic: wrapping multiplication, floor division and modulo, bit operations.
    g = jit(int_ops)
    for x, y in ((7, 2), (-7, 2), (7, -2), (123456789, 1000), (-2 ** 31, -1), (5, 0)):
        got = g(x, y)
        want = (wrap32(x * y), 0 if y == 0 else wrap32(x // y), 0 if y == 0 else x % y, wrap32((x ^ y) << 3))
        if c.ok(isinstance(got, tuple) and len(got) == 4, f"int_ops({x}, {y}): expected a tuple of 4, got {got!r}"):
            for name, gv, wv in zip(("*", "//", "%", "^ <<"), got, want):
                c.number(f"int_ops({x}, {y}) {name}", gv, wv)
    c.traced("int_ops", 1, "for six calls with ints")

    # Lists: the result is a list; another length retraces.
    h = jit(list_fn)
    for n in (3, 3, 3, 4, 4):
        xs = [f32(rng.uniform(-3, 3)) for _ in range(n)]
        got = h(xs)
        squares = None
        for x in xs:
            squares = F32(x) * F32(x) if squares is None else squares + F32(x) * F32(x)
        if c.ok(isinstance(got, list) and len(got) == 2, f"list_fn({xs}): expected a list of 2, got {got!r}"):
            c.number(f"list_fn({xs})[0]", got[0], squares)
            c.number(f"list_fn({xs})[1]", got[1], F32(xs[0]) - F32(xs[-1]))
    c.traced("list_fn", 2, "for lists of length 3, 3, 3, 4, 4")

    # A tuple of a value and a vector comes back as a tuple of a float and a vector of floats.
    d = jit(dot_and_axpy)
    for n in (3, 3, 3, 5):
        v = [f32(rng.uniform(-2, 2)) for _ in range(n)]
        w = [f32(rng.uniform(-2, 2)) for _ in range(n)]
        got = d(cp.vector(v), cp.vector(w))
        dot = None
        for x, y in zip(v, w):
            dot = F32(x) * F32(y) if dot is None else dot + F32(x) * F32(y)
        if c.ok(isinstance(got, tuple) and len(got) == 2, f"dot_and_axpy: expected a tuple of 2, got {got!r}"):
            c.number(f"dot_and_axpy({v}, {w})[0]", got[0], dot)
            c.container(f"dot_and_axpy({v}, {w})[1]", got[1], cp.vector, (n,),
                        [F32(x) * 2.0 + F32(y) for x, y in zip(v, w)])
    c.traced("dot_and_axpy", 2, "for vectors of length 3, 3, 3, 5")

    # Tensors: shape and element type are part of the signature.
    m = jit(matvec)
    for n, kind in ((2, float), (2, float), (2, float), (3, float), (2, int)):
        A = [[kind(rng.uniform(-9, 9)) for _ in range(n)] for _ in range(n)]
        x = [kind(rng.uniform(-9, 9)) for _ in range(n)]
        A = [[f32(v) if kind is float else v for v in row] for row in A]
        x = [f32(v) if kind is float else v for v in x]
        got = m(cp.tensor(A), cp.vector(x))
        if kind is int:
            want: List[Any] = [F32(wrap32(sum(p * q for p, q in zip(row, x)))) + 1.0 for row in A]
        else:
            want = ref_matvec(A, x)
        c.container(f"matvec({A}, {x})", got, cp.tensor, (n,), want)
    c.traced("matvec", 3, "for float 2x2, 2x2, 2x2, float 3x3 and int 2x2")

    # Quaternions.
    q = jit(hamilton)
    for _ in range(3):
        a4 = [f32(rng.uniform(-1, 1)) for _ in range(4)]
        b4 = [f32(rng.uniform(-1, 1)) for _ in range(4)]
        c.container(f"hamilton({a4}, {b4})", q(cp.quaternion(*a4), cp.quaternion(*b4)), cp.quaternion, (4,),
                    ref_hamilton(a4, b4))
    c.traced("hamilton", 1, "for three calls with quaternions")

    # The original project's test (tests/test_jit_decorator.py), over fewer calls.
    calc = jit(calculation)
    total = 0.0
    exact = 0.0
    for i in range(a.calls):
        x, y = i * 2.5, 5.7
        r = calc(x, y)
        c.number(f"calculation({x}, {y})", r, ref_calculation(x, y))
        total += r if isinstance(r, float) else float("nan")
        exact += sum(x * x + y * y + k for k in range(10))
    c.traced("calculation", 1, f"for {a.calls} calls")
    c.ok(abs(total - exact) <= 1e-6 * exact,
         f"calculation: the results sum to {total!r}, the exact sum is {exact!r} (relative tolerance 1e-6)")

    for msg in c.failures[:30]:
        print("FAIL", msg)
    print(f"e2e-jit[{label}]: {c.passed} passed, {len(c.failures)} failed")
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
