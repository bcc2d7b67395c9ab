#!/usr/bin/env python3
"""Programs written against the original copapy project's public API, run
unchanged on our tracer and compiler, with the numbers the original's own
tests and README expect (docs/tracer.md lists where we differ on purpose).

Each program is a function using only the original's public names (cp.value,
cp.vector, cp.tensor, cp.quaternion, cp.iif, cp.grad, cp.jit, cp.nn,
cp.filters, cp.solve, ...), compiled and run for the target; expectations
are the original's documented numbers or exact arithmetic.

    python3 test/e2e/run_compat.py [--target NAME]

Prints `e2e-compat[<target>]: N passed, M failed`; exits 1 on any failure.
"""
import argparse
import math
import os
import struct
import sys
from pathlib import Path
from typing import Any, Callable, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools" / "python"))
import copapy as cp  # noqa: E402

TARGET = None
Check = Tuple[str, bool, str]


def f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def close(got: Any, want: float, tol: float) -> bool:
    return isinstance(got, (int, float)) and abs(got - want) <= tol


def run(*values: Any) -> cp.Target:
    tg = cp.Target(TARGET)
    tg.compile(*values)
    tg.run()
    return tg


def readme_basic() -> List[Check]:
    # The README / package docstring example of the original.
    a = cp.value(0.25)
    b = cp.value(0.87)
    c = a + b * 2.0
    d = c ** 2 + cp.sin(a)
    e = cp.sqrt(b)
    tg = run(c, d, e)
    rc, rd, re_ = tg.read_value(c), tg.read_value(d), tg.read_value(e)
    c32 = f32(f32(0.25) + f32(f32(0.87) * 2.0))
    return [("readme c", rc == c32, f"{rc!r} vs {c32!r}"),
            ("readme d", close(rd, f32(c32 * c32) + math.sin(f32(0.25)), 1e-6), repr(rd)),
            ("readme e", close(re_, math.sqrt(f32(0.87)), 1e-7), repr(re_))]


def vector_program() -> List[Check]:
    # tests/test_vector.py of the original (compiled part).
    t1 = cp.vector([10, 11, 12]) + cp.vector(cp.value(v) for v in range(3))
    t2 = t1.sum()
    t3 = cp.vector(cp.value(1 / (v + 1)) for v in range(3))
    t4 = ((t3 * t1) * 2).sum()
    t5 = ((t3 * t1) * 2).magnitude()
    t6 = cp.angle_between(cp.vector([cp.value(5.0), 0.0, 0.0]), cp.vector([5.0, 5.0, 0.0]))
    tg = run(t2, t4, t5, t6)
    r2, r4, r5, r6 = (tg.read_value(x) for x in (t2, t4, t5, t6))
    w4 = 20 + 12 + 28 / 3
    return [("vector sum", r2 == 36 and isinstance(r2, int), repr(r2)),
            ("vector weighted sum", close(r4, w4, 1e-3 * w4), repr(r4)),
            ("vector magnitude", close(r5, math.sqrt(400 + 144 + (28 / 3) ** 2), 1e-3 * 24), repr(r5)),
            ("angle_between", close(r6, math.pi / 4, 1e-6), repr(r6)),
            ("cross of numbers", cp.vector([1, 2, 3]).cross(cp.vector([4, 5, 6])).values == (-3, 6, -3), ""),
            ("median of values",
             run(m := cp.filters.median(cp.vector([cp.value(x) for x in (50, 21, 20, 10, 22, 1, 80, 70, 90)]))
                 ).read_value(m) == 22.0, "")]


def micrograd() -> List[Check]:
    # tests/test_autograd.py of the original: micrograd's reference expression.
    a = cp.value(-4.0)
    b = cp.value(2.0)
    c = a + b
    d = a * b + b ** 3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + cp.nn.relu(b + a)
    d += 3 * d + cp.nn.relu(b - a)
    e = c - d
    f = e ** 2
    g = f / 2.0
    g += 10.0 / f
    dg = cp.grad(g, (a, b))
    tg = run(g, dg)
    ga, gb = tg.read_value(dg[0]), tg.read_value(dg[1])
    return [("micrograd g", close(tg.read_value(g), 24.70408, 1e-4), repr(tg.read_value(g))),
            ("micrograd dg/da", close(ga, 138.83381, 1e-3), repr(ga)),
            ("micrograd dg/db", close(gb, 645.57725, 1e-3), repr(gb))]


def matrices() -> List[Check]:
    # tests/test_matrix.py and test_tensor_basic.py of the original.
    m = cp.tensor([[1, 2, 3], [4, 5, 6]])
    mv = m @ cp.vector([7, 8, 9])
    m1, m2 = cp.tensor([[1, 2], [3, 4]]), cp.tensor([[5, 6], [7, 8]])
    v1, v4, v5 = cp.value(1), cp.value(4), cp.value(5)
    traced = cp.tensor([[v1, 2], [3, v4]]) @ cp.vector([v5, 6])
    t2 = cp.tensor([[1, 2, 3], [4, 5, 6]])
    t3 = cp.tensor([[[1, 2], [3, 4]], [[5, 6], [7, 8]]])
    x = cp.value(10)
    bc = cp.tensor([[x, 20, 30], [40, 50, 60]]) + cp.tensor([1, 2, 3]) * t2
    tg = run(traced, bc)
    got = tg.read_value(traced)
    got_bc = tg.read_value(bc)
    return [("matrix @ vector", mv.values == (50, 122), repr(mv)),
            ("matrix @ matrix", (m1 @ m2).tolist() == [[19, 22], [43, 50]], ""),
            ("trace, sum", cp.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]]).trace() == 15 and t2.sum() == 21, ""),
            ("transpose", t2.T.get_scalar(2, 1) == 6 and t2.T.shape == (3, 2), ""),
            ("axis sums", t3.sum(axis=(0, 2)).tolist() == [14, 22] and t3.sum(axis=0, keepdims=True).shape == (1, 2, 2), ""),
            ("slicing", t2[0:2, 1:3].get_scalar(0, 0) == 2 and t2[:, 2].tolist() == [3, 6] and t2[-1, :].tolist() == [4, 5, 6], ""),
            ("traced matrix @ vector", isinstance(got, cp.tensor) and got.tolist() == [17, 39], repr(got)),
            ("traced broadcasting", got_bc.tolist() == [[11, 24, 39], [44, 60, 78]], repr(got_bc))]


def quaternions() -> List[Check]:
    # tests/test_quaternion.py of the original.
    q = cp.quaternion.from_euler(math.pi / 2, 0, 0)
    w, x = q.w, q.x
    qi = cp.quaternion(4, 1, 2, 3) @ cp.quaternion(4, 1, 2, 3).inverse()
    ij = cp.quaternion(0, 1, 0, 0) @ cp.quaternion(0, 0, 1, 0)
    axis, angle = q.toAxisAngle()
    rv = q.rotate_vector([0, 1, 0])
    roll = cp.value(math.pi / 4)
    tq = cp.quaternion.from_euler(roll, cp.value(math.pi / 6), cp.value(math.pi / 3))
    euler = tq.toEulerAngles()
    trv = tq.rotate_vector(cp.vector([1.0, 0.0, 0.0]))
    tg = run(euler, trv)
    e = tg.read_value(euler)
    r = tg.read_value(trv)
    # R(yaw) R(pitch) R(roll) applied to x: (cos y cos p, sin y cos p, -sin p)
    want_r = (math.cos(math.pi / 3) * math.cos(math.pi / 6), math.sin(math.pi / 3) * math.cos(math.pi / 6),
              -math.sin(math.pi / 6))
    return [("from_euler", close(w, math.sqrt(2) / 2, 1e-12) and close(x, math.sqrt(2) / 2, 1e-12), repr(q)),
            ("q @ q^-1", all(close(c, t, 1e-6) for c, t in zip(qi.values, (1, 0, 0, 0))), repr(qi)),
            ("i j = k", ij.values == (0, 0, 0, 1), repr(ij)),
            ("toAxisAngle", all(close(c, t, 1e-6) for c, t in zip(axis.values, (1, 0, 0))) and close(angle, math.pi / 2, 1e-6), ""),
            ("rotate_vector", all(close(c, t, 1e-6) for c, t in zip(rv.values, (0, 0, 1))), repr(rv)),
            ("traced Euler round trip", isinstance(e, cp.vector) and all(
                close(c, t, 2e-6) for c, t in zip(e.values, (math.pi / 4, math.pi / 6, math.pi / 3))), repr(e)),
            ("traced rotate_vector", all(close(c, t, 2e-6) for c, t in zip(r.values, want_r)), repr(r))]


def linear_algebra() -> List[Check]:
    # tests/test_solve.py and test_inv_det.py of the original.
    d = cp.solve(cp.diagonal([2, -4, 0.5]), [1, 2, 3])
    one, four = cp.value(1.0), cp.value(4.0)
    s = cp.solve([[one, math.inf], [2.0, 1.0]], cp.vector([one, four]))
    dets = [cp.det([[0, 2, 1], [1, 1, 0.5], [4, -1, 3]]), cp.det([[1, 1, 0.5], [0, 2, 1], [4, -1, 3]]),
            cp.det([[2, 1], [1, 3]])]
    a = cp.tensor([[cp.value(4.0), 1.0, 2.0], [1.0, cp.value(5.0), 0.0], [2.0, 0.0, cp.value(6.0)]])
    ai = cp.inv(a)
    product = ai @ a
    da = cp.det(a)
    tg = run(s, product, da)
    got_s = tg.read_value(s)
    eye = tg.read_value(product)
    return [("solve diagonal", d.tolist() == [0.5, -0.5, 6.0], repr(d)),
            ("solve ignores inf in the row not taken", got_s.values == (2.0, 0.0), repr(got_s)),
            ("det signs", dets == [-7.0, 7.0, 5.0], repr(dets)),
            ("traced inv(a) @ a", all(close(eye.get_scalar(i, j), float(i == j), 1e-6)
                                      for i in range(3) for j in range(3)), repr(eye)),
            ("traced det", close(tg.read_value(da), 4 * 30 - 1 * 6 + 2 * (0 - 10), 1e-4), repr(tg.read_value(da)))]


def casts_and_selects() -> List[Check]:
    # tests/test_casts.py, test_iif.py, test_packed_math.py, test_filters.py of the original.
    vi = cp.to_int(cp.vector([cp.value(2.5), 7.9, cp.value(-1.5)]))
    conv = [cp.to_float(cp.value(4)), cp.to_int(cp.value(-3.9)), cp.to_bool(cp.value(-3.9))]
    c = cp.clamp(cp.value(9), 1, 4)
    inf_pick = cp.iif(cp.value(1) > 0, cp.value(2.5), math.inf)
    arg = cp.argsort(cp.quaternion(cp.value(0.5), -1, 2, 0))
    tg = run(vi, conv, c, inf_pick, arg)
    return [("to_int vector", tg.read_value(vi).values == (2, 7, -1), repr(tg.read_value(vi))),
            ("casts", tg.read_value(conv) == [4.0, -3, True], repr(tg.read_value(conv))),
            ("clamp int", tg.read_value(c) == 4 and isinstance(tg.read_value(c), int), ""),
            ("iif ignores inf", tg.read_value(inf_pick) == 2.5, ""),
            ("argsort quaternion", tg.read_value(arg).values == (1, 3, 0, 2), repr(tg.read_value(arg))),
            ("median even ints", cp.filters.median(cp.vector([7, 1, 4, 2])) == 3.0, ""),
            ("numbers at trace time", (cp.to_float(2), cp.to_int(-2.9), cp.to_bool(0.0)) == (2.0, -2, False), ""),
            ("clamp numbers", (cp.clamp(5, 0, 3), cp.clamp(-2.5, -1, 1), cp.clamp(0.25, -1, 1)) == (3, -1, 0.25), "")]


def hash31(values: List[int]) -> int:
    """The kind of int32 program the original's jit test uses: wrapping
    multiplication, bit operations, shifts by run-time counts, %, abs."""
    h = 7
    for v in values:
        h = h * 31 + v
        h = h ^ (h >> ((v & 7) + 1))
        h = (h << 3) | ((h >> 28) & 7)
        h = h & 0x7FFFFFFF
    return abs(h % 1000003)


def wrap32(x: int) -> int:
    return (x + 2 ** 31) % 2 ** 32 - 2 ** 31


def hash31_reference(values: List[int]) -> int:
    h = 7
    for v in values:
        h = wrap32(h * 31 + v)
        h = h ^ (h >> ((v & 7) + 1))
        h = wrap32(h << 3) | ((h >> 28) & 7)
        h = h & 0x7FFFFFFF
    return abs(h % 1000003)


def jit_programs() -> List[Check]:
    # tests/test_jit_decorator.py of the original (with a target for cross runs).
    @cp.jit(target=TARGET)
    def calculation(x: Any, y: Any) -> Any:
        return sum(x ** 2 + y ** 2 + i for i in range(10))

    calls = 2000 if TARGET in (None, "x86_64") else 60
    total = 0.0
    want = 0.0
    for i in range(calls):
        total += calculation(i * 2.5, 5.7)
        x32, y32 = f32(i * 2.5), f32(5.7)
        want += 10 * (x32 * x32 + y32 * y32) + 45
    hashed = cp.jit(target=TARGET)(hash31)
    samples = [[12, 99, 2024], [1, 2, 3], [2 ** 20, -5, 77]]
    got = [hashed(s) for s in samples]
    return [("jit sum of calls", abs(total - want) <= 1e-6 * abs(want), f"{total!r} vs {want!r}"),
            ("jit int32 hash", got == [hash31_reference(s) for s in samples], f"{got} vs "
             f"{[hash31_reference(s) for s in samples]}")]


PROGRAMS: List[Callable[[], List[Check]]] = [readme_basic, vector_program, micrograd, matrices, quaternions,
                                             linear_algebra, casts_and_selects, jit_programs]


def main() -> int:
    global TARGET
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default=None)
    args = ap.parse_args()
    TARGET = args.target
    passed = failed = 0
    for program in PROGRAMS:
        try:
            checks = program()
        except Exception as e:  # a program that does not run is a failure of every check in it
            checks = [(program.__name__, False, f"raised {type(e).__name__}: {e}")]
        for name, ok, detail in checks:
            if ok:
                passed += 1
            else:
                failed += 1
                print(f"FAIL {program.__name__}: {name} {detail}")
    print(f"e2e-compat[{TARGET or 'host'}]: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
