#!/usr/bin/env python3
"""Vectors, tensors and quaternions end to end: one traced program, every container operation.

Traces ONE program over program inputs (cp.value, so nothing is folded):
broadcasting, matrix products, reductions, shape operations, indexing,
elementwise math, cp.linalg for sizes 2..6, quaternion and vector helpers,
sorting and filters, cp.nn activations, casts and traced indices. It is
compiled once for the target and run twice: with the inputs' initial values,
then with new values for every input written by write_value() (the second
set also takes other branches: a quaternion near the identity in
toAxisAngle, negative and out-of-range traced indices).

Every expectation is computed here from the input numbers, without the
tracer's containers: nested Python lists and F32 numbers (test/e2e/_f32.py,
every + - * / rounded to binary32) in the operation order the tracer
documents (sums left to right, products as in numpy.matmul, linalg as the
original copapy's unrolled algorithms: _f32.ref_solve/ref_inv/ref_det).

Comparison:
- + - * /, sqrt, min/max, selects, comparisons, casts, moves: bit for bit
  (NaN equals NaN, +0 differs from -0); ints and bools exactly, and of the
  Python type int or bool;
- one libm call (sin, atan2, asin, acos, pow) on exactly computed arguments:
  within 2 ulp of the double-precision function rounded to binary32 (the
  bound run_ops.py uses for libm);
- exp followed by exact operations: sigmoid 1 / (1 + e) within 4 ulp (an
  error of 2 ulp in e moves 1 + e by at most 3 ulp after rounding), softmax
  e_i / sum(e) within 10 ulp (2 ulp in each e_i, up to one more per
  rounding of the 5-term sum, and the division);
- expressions of several libm results (from_euler, rotate_vector, the Euler
  round trip): against the exact math in double within an absolute
  tolerance stated at each check, from about 20 roundings of 6e-8 relative
  on terms of the size of the result;
- linalg also against the math: the residual |A x - b| and |A X - I| in
  double, and det against a double-precision elimination;
- read_value returns the container kind the operation makes (vector,
  tensor, quaternion) with the expected shape.

    python3 test/e2e/run_containers.py [--target NAME]

Prints `e2e-containers[<target>]: N passed, M failed` and the failures; exits 1 on failure.
"""
import argparse
import itertools
import math
import os
import random
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tools/python"))
sys.path.insert(0, str(HERE))
import copapy as cp  # noqa: E402
from _f32 import F32, f32, ref_det, ref_inv, ref_solve, same, within_ulps  # noqa: E402

INT_MIN, INT_MAX = -(2 ** 31), 2 ** 31 - 1
LIBM_ULPS = 2
EPS20 = 1e-20  # what normalize() and the projections add to a norm

# ---- The reference's own nested-list arrays (independent of the tracer) ---------------

Nested = Any


def shape_of(x: Nested) -> Tuple[int, ...]:
    return (len(x),) + shape_of(x[0]) if isinstance(x, list) else ()


def flat(x: Nested) -> List[Any]:
    return [e for part in x for e in flat(part)] if isinstance(x, list) else [x]


def nest(values: Sequence[Any], shape: Tuple[int, ...]) -> Nested:
    if not shape:
        return values[0]
    step = len(values) // shape[0]
    return [nest(values[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def at(x: Nested, index: Sequence[int]) -> Any:
    for i in index:
        x = x[i]
    return x


def build(shape: Tuple[int, ...], fn: Callable[[Tuple[int, ...]], Any]) -> Nested:
    """The nested list of `shape` holding fn(index) at every index."""
    return nest([fn(i) for i in itertools.product(*(range(d) for d in shape))], shape)


def bcast(fn: Callable[..., Any], *xs: Nested) -> Nested:
    """fn elementwise over NumPy-broadcast operands."""
    shapes = [shape_of(x) for x in xs]
    n = max(len(s) for s in shapes)
    padded = [(1,) * (n - len(s)) + s for s in shapes]
    out = tuple(max(dims) for dims in zip(*padded))
    for s in padded:
        assert all(d in (1, o) for d, o in zip(s, out)), f"shapes {shapes} do not broadcast"

    def element(index: Tuple[int, ...]) -> Any:
        args = []
        for x, s, p in zip(xs, shapes, padded):
            local = [0 if d == 1 else i for i, d in zip(index, p)][n - len(s):]
            args.append(at(x, local))
        return fn(*args)
    return build(out, element)


def lsum(items: Sequence[Any]) -> Any:
    """A sum from the left, the first term taken as it is."""
    total = items[0]
    for x in items[1:]:
        total = total + x
    return total


def ref_sum(x: Nested, axes: Sequence[int], keepdims: bool = False) -> Nested:
    """Sum over `axes`: per output position, the source elements in row-major order, from the left."""
    shape = shape_of(x)
    axes = [a % len(shape) for a in axes]
    acc: Dict[Tuple[int, ...], Any] = {}
    for index in itertools.product(*(range(d) for d in shape)):
        key = tuple(0 if i in axes else j for i, j in enumerate(index))
        acc[key] = at(x, index) if key not in acc else acc[key] + at(x, index)
    kept = build(tuple(1 if i in axes else d for i, d in enumerate(shape)), lambda i: acc[i])
    if keepdims:
        return kept
    return build(tuple(d for i, d in enumerate(shape) if i not in axes),
                 lambda i: acc[tuple(0 if a in axes else i[sum(1 for b in range(a) if b not in axes)]
                                     for a in range(len(shape)))])


def ref_matmul(a: Nested, b: Nested) -> Nested:
    sa, sb = shape_of(a), shape_of(b)
    if len(sa) == 1 and len(sb) == 1:
        return lsum([x * y for x, y in zip(a, b)])
    if len(sa) == 1:
        return [lsum([a[k] * b[k][j] for k in range(sa[0])]) for j in range(sb[1])]
    if len(sb) == 1:
        return [lsum([a[i][k] * b[k] for k in range(sb[0])]) for i in range(sa[0])]
    return [[lsum([a[i][k] * b[k][j] for k in range(sb[0])]) for j in range(sb[1])] for i in range(sa[0])]


def transpose(x: Nested, axes: Sequence[int]) -> Nested:
    shape = shape_of(x)
    out = tuple(shape[a] for a in axes)

    def element(index: Tuple[int, ...]) -> Any:
        src = [0] * len(shape)
        for pos, a in enumerate(axes):
            src[a] = index[pos]
        return at(x, src)
    return build(out, element)


def pymin(a: Any, b: Any) -> Any:
    return b if b < a else a


def pymax(a: Any, b: Any) -> Any:
    return b if b > a else a


def fsqrt(x: Any) -> F32:
    # The double square root rounded to binary32 is the correctly rounded binary32 square root.
    return F32(math.sqrt(float(x)) if x >= 0 else math.nan)


def libm(fn: Callable[..., float], *args: Any) -> float:
    """A libm function in double on the binary32 arguments (the ulp comparison rounds it)."""
    return fn(*(float(a) for a in args))


def wrap32(x: int) -> int:
    return (x + 2 ** 31) % 2 ** 32 - 2 ** 31


def to_int(x: float) -> int:
    """The DAG's float -> int conversion: toward zero, saturating, NaN -> 0."""
    x = float(x)
    if math.isnan(x):
        return 0
    if x >= 2.0 ** 31:
        return INT_MAX
    if x < -(2.0 ** 31):
        return INT_MIN
    return int(x)


def clamped(k: int, n: int) -> int:
    """A traced index: negative counts from the end, then limited to [0, n - 1]."""
    return min(max(k + n if k < 0 else k, 0), n - 1)


# ---- Quaternions and vectors written out from the documented formulas ------------------

def ham(a: Sequence[Any], b: Sequence[Any]) -> List[Any]:
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return [aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw]


def qnorm(q: Sequence[Any]) -> F32:
    return fsqrt(lsum([c * c for c in q]))


def qinverse(q: Sequence[Any]) -> List[Any]:
    n = qnorm(q)
    n2 = n * n
    return [c / n2 for c in (q[0], -q[1], -q[2], -q[3])]


def qnormalize(q: Sequence[Any]) -> List[Any]:
    n = qnorm(q) + EPS20
    return [c / n for c in q]


def qmatrix(q: Sequence[Any]) -> Nested:
    w, x, y, z = q
    x2, y2, z2 = x + x, y + y, z + z
    xx, xy, xz, yy, yz, zz = x * x2, x * y2, x * z2, y * y2, y * z2, z * z2
    wx, wy, wz = w * x2, w * y2, w * z2
    return [[1.0 - (yy + zz), xy - wz, xz + wy, 0.0], [xy + wz, 1.0 - (xx + zz), yz - wx, 0.0],
            [xz - wy, yz + wx, 1.0 - (xx + yy), 0.0], [0.0, 0.0, 0.0, 1.0]]


def qeuler(q: Sequence[Any]) -> List[float]:
    w, x, y, z = q
    yaw = libm(math.atan2, 2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    pitch = libm(math.asin, pymin(pymax(2 * (w * y - z * x), -1.0), 1.0))
    roll = libm(math.atan2, 2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    return [roll, pitch, yaw]


def euler_to_q(roll: float, pitch: float, yaw: float) -> List[float]:
    """The ZYX rotation quaternion in double (textbook)."""
    cr, sr = math.cos(roll / 2), math.sin(roll / 2)
    cp_, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    return [cr * cp_ * cy + sr * sp * sy, sr * cp_ * cy - cr * sp * sy, cr * sp * cy + sr * cp_ * sy,
            cr * cp_ * sy - sr * sp * cy]


def dot(a: Sequence[Any], b: Sequence[Any]) -> Any:
    return lsum([x * y for x, y in zip(a, b)])


def cross(a: Sequence[Any], b: Sequence[Any]) -> List[Any]:
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]


def rodrigues(v: Sequence[float], axis: Sequence[float], angle: float) -> List[float]:
    """v rotated about axis by angle, in double."""
    n = math.sqrt(sum(c * c for c in axis))
    k = [c / n for c in axis]
    c, s = math.cos(angle), math.sin(angle)
    kv = sum(a * b for a, b in zip(k, v))
    kxv = [k[1] * v[2] - k[2] * v[1], k[2] * v[0] - k[0] * v[2], k[0] * v[1] - k[1] * v[0]]
    return [v[i] * c + kxv[i] * s + k[i] * kv * (1 - c) for i in range(3)]


def sort_key(x: Any) -> Tuple[bool, float]:
    return (math.isnan(float(x)), float(x) if not math.isnan(float(x)) else 0.0)


# ---- Inputs -------------------------------------------------------------------------------

def linalg_matrix(rng: random.Random, n: int) -> List[List[float]]:
    """A well-conditioned n x n matrix (strong diagonal) with its rows shuffled, so that
    partial pivoting has to swap rows back while the program runs."""
    rows = [[f32(rng.uniform(-1.0, 1.0) + (rng.choice((-1, 1)) * (n + 1.5) if i == j else 0.0))
             for j in range(n)] for i in range(n)]
    order = list(range(n))
    while order == sorted(order):
        rng.shuffle(order)
    return [rows[i] for i in order]


def make_data(rnd: int) -> Dict[str, Nested]:
    """The input numbers of round `rnd` (binary32 floats, int32 ints)."""
    rng = random.Random(1000 + rnd)

    def u(lo: float = -2.0, hi: float = 2.0) -> float:
        return f32(rng.uniform(lo, hi))

    def mat(*shape: int, lo: float = -2.0, hi: float = 2.0) -> Nested:
        return build(shape, lambda _: u(lo, hi))

    d: Dict[str, Nested] = {
        "A": mat(2, 3), "B": mat(3, 2), "M": mat(3, 3), "r": mat(3), "p": mat(2), "T3": mat(2, 2, 3),
        "T2": mat(2, 3), "pos": mat(2, 3, lo=0.01, hi=9.0), "s": u(), "lo": u(-1.0, 0.0),
        "v": mat(3), "u": mat(3), "axis": mat(3), "angle": u(-3.0, 3.0),
        "q": mat(4, lo=-1.0, hi=1.0), "q2": mat(4, lo=-1.0, hi=1.0),
        "euler": [u(-1.5, 1.5), u(-1.2, 1.2), u(-3.0, 3.0)],
        "Bm": mat(3, 2), "nnx": mat(5, lo=-4.0, hi=4.0), "iv": mat(5), "it": mat(3, 2),
        "I": build((2, 2), lambda _: rng.randint(-50, 50)), "ki": rng.randint(-1000, 1000),
    }
    for n in range(2, 7):
        d[f"L{n}"] = linalg_matrix(rng, n)
        d[f"b{n}"] = mat(n)
    if rnd == 0:
        d["sortv"] = [0.5, -1.25, 3.0, 0.5, -7.0, 2.25, 0.0]        # a tie (stable argsort)
        d["sortnan"] = [1.0, math.nan, -2.0, 0.5, math.nan]         # NaN sorts last
        d["cf"] = [2.7, -2.7, 1e10, -1e10, math.nan, 0.5, -0.0, 2147483520.0]
        d["ci"] = [16777217, -3, 0, INT_MAX, INT_MIN, 1]
        d["k"], d["k2"] = 2, 7
    else:
        d["sortv"] = [-0.75, 4.5, -0.75, 1.0, 8.0, -3.5, -0.75]
        d["sortnan"] = [math.nan, 3.0, -1.0, math.inf, -math.inf]
        d["cf"] = [-0.999, 0.999, 3e9, -3e9, math.inf, -math.inf, 0.0, -2147483648.0]
        d["ci"] = [-16777219, 7, 1, -1, 123456789, 0]
        d["k"], d["k2"] = -1, -9
        d["q"] = [f32(1.0), f32(1e-5), f32(-2e-6), 0.0]             # near the identity: toAxisAngle's other branch
    d["cf"] = [f32(x) for x in d["cf"]]
    d["sortv"] = [f32(x) for x in d["sortv"]]
    return d


# ---- The suite ----------------------------------------------------------------------------

class Cmp(NamedTuple):
    what: str
    kind: str                                  # "float", "int" or "bool": the Python type of the results
    ok: Callable[[Any, Any], bool]


EXACT = Cmp("bit for bit", "float", same)
INT = Cmp("exactly", "int", lambda g, w: g == w)
BOOL = Cmp("exactly", "bool", lambda g, w: g == bool(w))


def ulps(n: int) -> Cmp:
    return Cmp(f"within {n} ulp", "float", lambda g, w: within_ulps(g, f32(float(w)), n))


def absolute(tol: float) -> Cmp:
    return Cmp(f"within {tol}", "float", lambda g, w: abs(g - float(w)) <= tol)


class Case(NamedTuple):
    label: str
    traced: Any
    ref: Callable[["Env"], Any]
    cmp: Optional[Cmp]
    cls: Optional[type]                        # read_value's container class; None for a scalar
    custom: Optional[Callable[[Any, "Env"], Optional[str]]] = None


class Env:
    """One round's input numbers: floats as F32, ints as ints; e["x"] -> nested lists."""

    def __init__(self, data: Dict[str, Nested]) -> None:
        self.data = data

    def __getitem__(self, name: str) -> Nested:
        def conv(x: Nested) -> Nested:
            if isinstance(x, list):
                return [conv(e) for e in x]
            return F32(x) if isinstance(x, float) else x
        return conv(self.data[name])


class Suite:
    def __init__(self, rounds: int) -> None:
        self.data = [make_data(r) for r in range(rounds)]
        self.handles: Dict[str, Nested] = {}
        self.cases: List[Case] = []

    def inp(self, name: str) -> Nested:
        """The inputs of group `name` (nested lists of cp.value), made once with round 0's numbers."""
        if name not in self.handles:
            def make(x: Nested) -> Nested:
                return [make(e) for e in x] if isinstance(x, list) else cp.value(x)
            self.handles[name] = make(self.data[0][name])
        return self.handles[name]

    def check(self, label: str, traced: Any, ref: Callable[[Env], Any], cmp: Cmp = EXACT,
              cls: Optional[type] = None) -> None:
        self.cases.append(Case(label, traced, ref, cmp, cls))

    def check_fn(self, label: str, traced: Any, fn: Callable[[Any, Env], Optional[str]]) -> None:
        """A check of the whole result by fn(read value, env): None if fine, else what is wrong."""
        self.cases.append(Case(label, traced, lambda e: None, None, None, fn))


def define(s: Suite) -> None:
    A, B, M = cp.tensor(s.inp("A")), cp.tensor(s.inp("B")), cp.tensor(s.inp("M"))
    r, p = cp.tensor(s.inp("r")), cp.vector(s.inp("p"))
    T3, T2 = cp.tensor(s.inp("T3")), cp.tensor(s.inp("T2"))
    sv, lo = s.inp("s"), s.inp("lo")
    V, U = cp.vector(s.inp("v")), cp.vector(s.inp("u"))

    # Broadcasting and elementwise arithmetic.
    s.check("2-D + 1-D", A + r, lambda e: bcast(lambda a, b: a + b, e["A"], e["r"]), cls=cp.tensor)
    s.check("3-D + 2-D", T3 + T2, lambda e: bcast(lambda a, b: a + b, e["T3"], e["T2"]), cls=cp.tensor)
    s.check("3-D - 1-D", T3 - r, lambda e: bcast(lambda a, b: a - b, e["T3"], e["r"]), cls=cp.tensor)
    s.check("tensor + number", A + 1.5, lambda e: bcast(lambda a: a + 1.5, e["A"]), cls=cp.tensor)
    s.check("number - tensor", 2 - A, lambda e: bcast(lambda a: 2 - a, e["A"]), cls=cp.tensor)
    s.check("tensor * value", A * sv, lambda e: bcast(lambda a: a * e["s"], e["A"]), cls=cp.tensor)
    s.check("2-D / 1-D", A / r, lambda e: bcast(lambda a, b: a / b, e["A"], e["r"]), cls=cp.tensor)
    s.check("vector + list", V + [0.5, -1.25, 2.0], lambda e: bcast(lambda a, b: a + b, e["v"], [0.5, -1.25, 2.0]),
            cls=cp.vector)
    s.check("list - vector", [1.0, 2.0, 3.0] - V, lambda e: [c - a for c, a in zip([1.0, 2.0, 3.0], e["v"])],
            cls=cp.vector)
    s.check("vector * vector", V * U, lambda e: [a * b for a, b in zip(e["v"], e["u"])], cls=cp.vector)
    s.check("vector + 2-D tensor", V + A, lambda e: bcast(lambda a, b: a + b, e["v"], e["A"]), cls=cp.tensor)
    s.check("-tensor", -A, lambda e: bcast(lambda a: -a, e["A"]), cls=cp.tensor)
    s.check("tensor ** 2", A ** 2, lambda e: bcast(lambda a: a * a, e["A"]), cls=cp.tensor)
    s.check("tensor ** 3", A ** 3, lambda e: bcast(lambda a: a * a * a, e["A"]), cls=cp.tensor)
    # A vector's ** is elementwise powf, as in the original (not a multiplication).
    s.check("vector ** 2", V ** 2, lambda e: [libm(math.pow, a, 2.0) for a in e["v"]], ulps(LIBM_ULPS),
            cls=cp.vector)
    s.check("2-D > 1-D", A > r, lambda e: bcast(lambda a, b: a > b, e["A"], e["r"]), BOOL, cls=cp.tensor)
    s.check("vector <= value", V <= sv, lambda e: [a <= e["s"] for a in e["v"]], BOOL, cls=cp.vector)

    # Matrix products.
    s.check("2-D @ 2-D", A @ B, lambda e: ref_matmul(e["A"], e["B"]), cls=cp.tensor)
    s.check("2-D @ vector", A @ V, lambda e: ref_matmul(e["A"], e["v"]), cls=cp.tensor)
    s.check("2-D @ 1-D tensor", M @ r, lambda e: ref_matmul(e["M"], e["r"]), cls=cp.tensor)
    s.check("vector @ 2-D", p @ A, lambda e: ref_matmul(e["p"], e["A"]), cls=cp.tensor)
    s.check("vector @ vector", V @ U, lambda e: ref_matmul(e["v"], e["u"]))
    s.check("2-D @ 2-D.T", M @ M.T, lambda e: ref_matmul(e["M"], transpose(e["M"], (1, 0))), cls=cp.tensor)

    # Reductions.
    s.check("sum()", T3.sum(), lambda e: lsum(flat(e["T3"])))
    s.check("sum(axis=0)", T3.sum(axis=0), lambda e: ref_sum(e["T3"], [0]), cls=cp.tensor)
    s.check("sum(axis=1, keepdims)", T3.sum(axis=1, keepdims=True), lambda e: ref_sum(e["T3"], [1], True),
            cls=cp.tensor)
    s.check("sum(axis=(0, 2))", T3.sum(axis=(0, 2)), lambda e: ref_sum(e["T3"], [0, 2]), cls=cp.tensor)
    s.check("sum(axis=-1)", T3.sum(axis=-1), lambda e: ref_sum(e["T3"], [2]), cls=cp.tensor)
    s.check("vector sum()", V.sum(), lambda e: lsum(e["v"]))
    s.check("mean()", A.mean(), lambda e: lsum(flat(e["A"])) / 6)
    s.check("mean(axis=0)", A.mean(axis=0), lambda e: [x / 2 for x in ref_sum(e["A"], [0])], cls=cp.tensor)
    s.check("trace()", M.trace(), lambda e: lsum([e["M"][i][i] for i in range(3)]))

    # Shapes, indexing, slicing.
    s.check("A.T", A.T, lambda e: transpose(e["A"], (1, 0)), cls=cp.tensor)
    s.check("A.T + B", A.T + B, lambda e: bcast(lambda a, b: a + b, transpose(e["A"], (1, 0)), e["B"]),
            cls=cp.tensor)
    s.check("transpose(1, 0, 2)", T3.transpose(1, 0, 2), lambda e: transpose(e["T3"], (1, 0, 2)), cls=cp.tensor)
    s.check("transpose()", T3.transpose(), lambda e: transpose(e["T3"], (2, 1, 0)), cls=cp.tensor)
    s.check("reshape(3, 4)", T3.reshape(3, 4), lambda e: nest(flat(e["T3"]), (3, 4)), cls=cp.tensor)
    s.check("reshape(-1, 2) * 2", T3.reshape(-1, 2) * 2.0, lambda e: nest([x * 2.0 for x in flat(e["T3"])], (6, 2)),
            cls=cp.tensor)
    s.check("flatten()", A.flatten(), lambda e: flat(e["A"]), cls=cp.tensor)
    s.check("A[1]", A[1], lambda e: e["A"][1], cls=cp.tensor)
    s.check("A[1, 2]", A[1, 2], lambda e: e["A"][1][2], cls=cp.tensor)
    s.check("A[:, 1]", A[:, 1], lambda e: [row[1] for row in e["A"]], cls=cp.tensor)
    s.check("A[0:2, 1:3] - 1", A[0:2, 1:3] - 1.0, lambda e: [[x - 1.0 for x in row[1:3]] for row in e["A"]],
            cls=cp.tensor)
    s.check("T3[-1, :, ::2]", T3[-1, :, ::2], lambda e: [row[::2] for row in e["T3"][-1]], cls=cp.tensor)
    W5 = cp.vector(s.inp("iv"))
    s.check("vector[1:4]", W5[1:4], lambda e: e["iv"][1:4], cls=cp.vector)
    s.check("vector[::-1] + 1", W5[::-1] + 1.0, lambda e: [x + 1.0 for x in e["iv"][::-1]], cls=cp.vector)
    s.check("iterating a 2-D tensor", cp.tensor([row * 2.0 for row in A]), lambda e: bcast(lambda a: a * 2.0, e["A"]),
            cls=cp.tensor)

    # Elementwise functions (broadcasting where they take several arguments).
    P = cp.tensor(s.inp("pos"))
    s.check("cp.sqrt(tensor)", cp.sqrt(P), lambda e: bcast(fsqrt, e["pos"]), cls=cp.tensor)
    s.check("cp.sin(tensor)", cp.sin(A), lambda e: bcast(lambda a: libm(math.sin, a), e["A"]), ulps(LIBM_ULPS),
            cls=cp.tensor)
    s.check("cp.abs(tensor)", cp.abs(A), lambda e: bcast(abs, e["A"]), cls=cp.tensor)
    s.check("cp.minimum(2-D, 1-D)", cp.minimum(A, r), lambda e: bcast(pymin, e["A"], e["r"]), cls=cp.tensor)
    s.check("cp.maximum(3-D, 2-D)", cp.maximum(T3, T2), lambda e: bcast(pymax, e["T3"], e["T2"]), cls=cp.tensor)
    s.check("cp.clamp(tensor, value, 1.0)", cp.clamp(A, lo, 1.0),
            lambda e: bcast(lambda a: pymin(pymax(a, e["lo"]), 1.0), e["A"]), cls=cp.tensor)
    s.check("cp.iif(2-D > 1-D, 2-D, value)", cp.iif(A > r, A, sv),
            lambda e: bcast(lambda a, b: a if a > b else e["s"], e["A"], e["r"]), cls=cp.tensor)
    s.check("cp.iif(vector < 0, -vector, constant vector)", cp.iif(V < 0.0, -V, cp.vector([7.0, 8.0, 9.0])),
            lambda e: [-a if a < 0.0 else c for a, c in zip(e["v"], [7.0, 8.0, 9.0])], cls=cp.vector)

    # Linear algebra, sizes 2..6 (elimination with pivoting at run time for every size).
    for n in range(2, 7):
        L, b = cp.tensor(s.inp(f"L{n}")), cp.vector(s.inp(f"b{n}"))
        Ln, bn = f"L{n}", f"b{n}"
        X = cp.linalg.inv(L)
        s.check(f"inv {n}x{n}", X, lambda e, Ln=Ln: ref_inv(e[Ln]), cls=cp.tensor)
        s.check_fn(f"inv {n}x{n}: |A X - I|", X, lambda got, e, Ln=Ln: residual(e[Ln], got.tolist(), None, 2e-6))
        x = cp.solve(L, b)
        s.check(f"solve {n}x{n}", x, lambda e, Ln=Ln, bn=bn: [row[0] for row in ref_solve(e[Ln], [[v] for v in e[bn]])],
                cls=cp.vector)
        s.check_fn(f"solve {n}x{n}: |A x - b|", x,
                   lambda got, e, Ln=Ln, bn=bn: residual(e[Ln], [[v] for v in got.values], [[v] for v in e[bn]], 2e-6))
        d = cp.det(L)
        s.check(f"det {n}x{n}", d, lambda e, Ln=Ln: ref_det(e[Ln]))
        s.check_fn(f"det {n}x{n} vs double", d, lambda got, e, Ln=Ln: det_close(e[Ln], got))
    Bm = cp.tensor(s.inp("Bm"))
    s.check("solve 3x3 with a 3x2 right side", cp.linalg.solve(cp.tensor(s.inp("L3")), Bm),
            lambda e: ref_solve(e["L3"], e["Bm"]), cls=cp.tensor)

    # Quaternions.
    Q, Q2 = cp.quaternion(*s.inp("q")), cp.quaternion(*s.inp("q2"))
    s.check("q @ q2", Q @ Q2, lambda e: ham(e["q"], e["q2"]), cls=cp.quaternion)
    s.check("conjugate", Q.conjugate(), lambda e: [e["q"][0], -e["q"][1], -e["q"][2], -e["q"][3]], cls=cp.quaternion)
    s.check("inverse", Q.inverse(), lambda e: qinverse(e["q"]), cls=cp.quaternion)
    s.check("normalize", Q.normalize(), lambda e: qnormalize(e["q"]), cls=cp.quaternion)
    s.check("norm", Q.norm(), lambda e: qnorm(e["q"]))
    # The original copapy compares a quaternion with a sequence into a vector of bools (q == it, q != it).
    s.check("q == list (a vector of bools, as the original)", Q == [1.0, 0.0, 0.0, 0.0],
            lambda e: [c == w for c, w in zip(e["q"], [1.0, 0.0, 0.0, 0.0])], BOOL, cls=cp.vector)
    s.check("q + 1.0", Q + 1.0, lambda e: [c + 1.0 for c in e["q"]], cls=cp.quaternion)
    s.check("q * value", Q * sv, lambda e: [c * e["s"] for c in e["q"]], cls=cp.quaternion)
    s.check("rotate_vector", Q.rotate_vector(V), lambda e: ham(ham(e["q"], [0] + e["v"]), qinverse(e["q"]))[1:],
            cls=cp.vector)
    s.check("toRotationMatrix", Q.toRotationMatrix(), lambda e: qmatrix(e["q"]), cls=cp.tensor)
    s.check("toEulerAngles", Q.toEulerAngles(), lambda e: qeuler(e["q"]), ulps(LIBM_ULPS), cls=cp.vector)
    axis, angle = Q.toAxisAngle()
    s.check("toAxisAngle axis", axis, lambda e: axis_angle(e["q"])[0], cls=cp.vector)
    s.check("toAxisAngle angle", angle, lambda e: axis_angle(e["q"])[1], ulps(LIBM_ULPS))
    roll, pitch, yaw = s.inp("euler")
    QE = cp.quaternion.from_euler(roll, pitch, yaw)
    # Products of three sines/cosines summed in pairs: terms <= 1, about 10 roundings.
    s.check("from_euler", QE, lambda e: euler_to_q(*(float(x) for x in e["euler"])), absolute(1e-6),
            cls=cp.quaternion)
    # |pitch| <= 1.2 keeps roll and yaw well conditioned (the error of q grows by at most 1 / cos(pitch) < 3).
    s.check("from_euler(...).toEulerAngles()", QE.toEulerAngles(), lambda e: e["euler"], absolute(1e-6),
            cls=cp.vector)

    # Vector helpers.
    AX, ang = cp.vector(s.inp("axis")), s.inp("angle")
    s.check("cp.dot", cp.dot(V, U), lambda e: dot(e["v"], e["u"]))
    s.check("cp.cross", cp.cross(V, U), lambda e: cross(e["v"], e["u"]), cls=cp.vector)
    s.check("magnitude", V.magnitude(), lambda e: fsqrt(dot(e["v"], e["v"])))
    s.check("vector normalize", V.normalize(),
            lambda e: [a / (fsqrt(dot(e["v"], e["v"])) + EPS20) for a in e["v"]], cls=cp.vector)
    s.check("cp.distance", cp.distance(V, U),
            lambda e: fsqrt(dot([a - b for a, b in zip(e["v"], e["u"])], [a - b for a, b in zip(e["v"], e["u"])])))
    s.check("cp.scalar_projection", cp.scalar_projection(V, U),
            lambda e: dot(e["v"], e["u"]) / (fsqrt(dot(e["u"], e["u"])) + EPS20))
    s.check("cp.vector_projection", cp.vector_projection(V, U), lambda e: vector_projection(e["v"], e["u"]),
            cls=cp.vector)
    s.check("cp.angle_between", cp.angle_between(V, U), lambda e: angle_between(e["v"], e["u"]), ulps(LIBM_ULPS))
    # Rodrigues: three terms of size |v| <= 3.5, each after about 8 roundings of 6e-8 (2 ulp in sin/cos).
    s.check("cp.rotate_vector", cp.rotate_vector(V, AX, ang),
            lambda e: rodrigues([float(x) for x in e["v"]], [float(x) for x in e["axis"]], float(e["angle"])),
            absolute(2e-6), cls=cp.vector)

    # Sorting, filters, nn.
    S7, N5 = cp.vector(s.inp("sortv")), cp.vector(s.inp("sortnan"))
    s.check("cp.sort", cp.sort(S7), lambda e: sorted(e["sortv"], key=sort_key), cls=cp.vector)
    s.check("cp.argsort (stable)", cp.argsort(S7), lambda e: sorted(range(7), key=lambda i: sort_key(e["sortv"][i])),
            INT, cls=cp.vector)
    s.check("cp.sort with NaN", cp.sort(N5), lambda e: sorted(e["sortnan"], key=sort_key), cls=cp.vector)
    s.check("cp.argsort with NaN", cp.argsort(N5),
            lambda e: sorted(range(5), key=lambda i: sort_key(e["sortnan"][i])), INT, cls=cp.vector)
    s.check("cp.sort(1-D tensor)", cp.sort(cp.tensor(s.inp("iv"))), lambda e: sorted(e["iv"], key=sort_key),
            cls=cp.tensor)
    s.check("filters.median (odd)", cp.filters.median(S7), lambda e: sorted(e["sortv"], key=sort_key)[3])
    s.check("filters.median (even)", cp.filters.median(S7[:6]),
            lambda e: (lambda t: (t[2] + t[3]) * 0.5)(sorted(e["sortv"][:6], key=sort_key)))
    s.check("filters.mean", cp.filters.mean(S7), lambda e: lsum(e["sortv"]) / 7)
    X5 = cp.vector(s.inp("nnx"))
    s.check("nn.relu", cp.nn.relu(X5), lambda e: [pymax(x, 0.0) for x in e["nnx"]], cls=cp.vector)
    s.check("nn.relu(tensor)", cp.nn.relu(A), lambda e: bcast(lambda x: pymax(x, 0.0), e["A"]), cls=cp.tensor)
    s.check("nn.sigmoid", cp.nn.sigmoid(X5), lambda e: [1 / (1 + F32(libm(math.exp, -x))) for x in e["nnx"]],
            ulps(4), cls=cp.vector)
    s.check("nn.softmax", cp.nn.softmax(X5), lambda e: softmax(e["nnx"]), ulps(10), cls=cp.vector)

    # Casts, integer containers, promotion.
    CF, CI = cp.vector(s.inp("cf")), cp.vector(s.inp("ci"))
    s.check("cast(float vector, int)", cp.cast(CF, int), lambda e: [to_int(x) for x in e["cf"]], INT, cls=cp.vector)
    s.check("cast(float vector, bool)", cp.cast(CF, bool), lambda e: [float(x) != 0.0 for x in e["cf"]], BOOL,
            cls=cp.vector)
    s.check("cast(int vector, float)", cp.cast(CI, float), lambda e: [f32(float(x)) for x in e["ci"]], cls=cp.vector)
    s.check("to_bool(int vector)", cp.to_bool(CI), lambda e: [x != 0 for x in e["ci"]], BOOL, cls=cp.vector)
    s.check("to_float(2-D > 1-D)", cp.to_float(A > r),
            lambda e: bcast(lambda a, b: 1.0 if a > b else 0.0, e["A"], e["r"]), cls=cp.tensor)
    s.check("to_int(tensor * 10)", cp.to_int(A * 10.0), lambda e: bcast(lambda a: to_int(a * 10.0), e["A"]), INT,
            cls=cp.tensor)
    I = cp.tensor(s.inp("I"))
    s.check("int 2-D @ 2-D", I @ I, lambda e: [[wrap32(sum(e["I"][i][k] * e["I"][k][j] for k in range(2)))
                                                 for j in range(2)] for i in range(2)], INT, cls=cp.tensor)
    s.check("int tensor // 3", I // 3, lambda e: bcast(lambda a: a // 3, e["I"]), INT, cls=cp.tensor)
    s.check("int tensor % -3", I % -3, lambda e: bcast(lambda a: a % -3, e["I"]), INT, cls=cp.tensor)
    s.check("int tensor * 123456789 (wraps)", I * 123456789, lambda e: bcast(lambda a: wrap32(a * 123456789), e["I"]),
            INT, cls=cp.tensor)
    s.check("int tensor + 0.5", I + 0.5, lambda e: bcast(lambda a: F32(a) + 0.5, e["I"]), cls=cp.tensor)
    s.check("vector of int and float values * 2", cp.vector([s.inp("ki"), sv]) * 2.0,
            lambda e: [F32(e["ki"]) * 2.0, e["s"] * 2.0], cls=cp.vector)

    # Traced indices: chosen when the program runs (round 2: negative and out of range).
    k, k2 = s.inp("k"), s.inp("k2")
    s.check("vector[k]", W5[k], lambda e: e["iv"][clamped(e["k"], 5)])
    s.check("vector[k2] (clamped)", W5[k2], lambda e: e["iv"][clamped(e["k2"], 5)])
    s.check("tensor[k]", cp.tensor(s.inp("it"))[k], lambda e: e["it"][clamped(e["k"], 3)], cls=cp.tensor)
    s.check("quaternion[k2] (clamped)", Q[k2], lambda e: e["q"][clamped(e["k2"], 4)])


def axis_angle(q: Sequence[Any]) -> Tuple[List[Any], float]:
    n = qnormalize(q)
    s2 = 1 - n[0] * n[0]
    if s2 < 1e-6:
        return [1.0, 0.0, 0.0], 0.0
    s = 1 / fsqrt(s2)
    return [n[1] * s, n[2] * s, n[3] * s], 2 * libm(math.acos, n[0])


def vector_projection(a: Sequence[Any], b: Sequence[Any]) -> List[Any]:
    m = fsqrt(dot(b, b))
    factor = dot(a, b) / (m * m + EPS20)
    return [x * factor for x in b]


def angle_between(a: Sequence[Any], b: Sequence[Any]) -> float:
    cosine = dot(a, b) / (fsqrt(dot(a, a)) * fsqrt(dot(b, b)) + EPS20)
    return libm(math.acos, pymin(pymax(cosine, -1.0), 1.0))


def softmax(x: Sequence[Any]) -> List[Any]:
    m = x[0]
    for v in x[1:]:
        m = pymax(m, v)
    e = [F32(libm(math.exp, v - m)) for v in x]
    total = lsum(e)
    return [v / total for v in e]


def residual(a: Nested, x: Nested, b: Optional[Nested], tol: float) -> Optional[str]:
    """None if |a x - b| (b: the identity if None) is at most tol times |a| |x| elementwise, in double."""
    n, r = len(a), len(x[0])
    scale = max(abs(float(v)) for v in flat(a)) * max(abs(float(v)) for v in flat(x)) * n
    for i in range(n):
        for c in range(r):
            want = float(b[i][c]) if b is not None else float(i == c)
            got = sum(float(a[i][k]) * float(x[k][c]) for k in range(n))
            if not abs(got - want) <= tol * scale:
                return f"row {i} column {c}: {got!r} instead of {want!r} (tolerance {tol * scale:.3g})"
    return None


def det_close(a: Nested, got: float) -> Optional[str]:
    """None if got is within 1e-5 (relative) of the determinant by elimination in double."""
    rows = [[float(v) for v in row] for row in a]
    n, d = len(rows), 1.0
    for k in range(n):
        piv = max(range(k, n), key=lambda i: abs(rows[i][k]))
        if piv != k:
            rows[k], rows[piv] = rows[piv], rows[k]
            d = -d
        d *= rows[k][k]
        for i in range(k + 1, n):
            f = rows[i][k] / rows[k][k]
            for j in range(k, n):
                rows[i][j] -= f * rows[k][j]
    if abs(got - d) <= 1e-5 * abs(d):
        return None
    return f"{got!r} instead of {d!r} (relative tolerance 1e-5)"


# ---- Running ------------------------------------------------------------------------------

def compare(case: Case, got: Any, env: Env, rnd: int) -> Tuple[int, List[str]]:
    where = f"round {rnd + 1}: {case.label}"
    if case.custom is not None:
        problem = case.custom(got, env)
        return (1, []) if problem is None else (0, [f"{where}: {problem}"])
    want = case.ref(env)
    assert case.cmp is not None
    if case.cls is not None:
        if not isinstance(got, case.cls) or tuple(got.shape) != shape_of(want):
            return 0, [f"{where}: read_value gave {got!r}, expected a {case.cls.__name__} of shape {shape_of(want)}"]
        got_values, want_values = list(got.values), flat(want)
    else:
        if isinstance(got, cp.ArrayBase):
            return 0, [f"{where}: read_value gave {got!r}, expected a number"]
        got_values, want_values = [got], [want]
    python_type = {"float": float, "int": int, "bool": bool}[case.cmp.kind]
    passed, problems = 0, []
    for i, (g, w) in enumerate(zip(got_values, want_values)):
        at_ = f"[{i}]" if case.cls is not None else ""
        if type(g) is not python_type:
            problems.append(f"{where}{at_}: got {g!r} of type {type(g).__name__}, expected a {python_type.__name__}")
        elif not case.cmp.ok(g, w):
            shown = float(w) if case.cmp.kind == "float" else w
            problems.append(f"{where}{at_}: expected {shown!r} ({case.cmp.what}), got {g!r}")
        else:
            passed += 1
    return passed, problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default=None, help="copapy-cc target name (default: $COPAPY_TARGET or the host)")
    a = ap.parse_args()
    label = a.target or os.environ.get("COPAPY_TARGET") or "host"

    suite = Suite(rounds=2)
    define(suite)
    tg = cp.Target(a.target)
    tg.compile([c.traced for c in suite.cases])
    passed, failures = 0, []
    for rnd, data in enumerate(suite.data):
        if rnd > 0:
            for name, handles in suite.handles.items():
                for h, x in zip(flat(handles), flat(data[name])):
                    tg.write_value(h, x)
        tg.run()
        env = Env(data)
        for case in suite.cases:
            n, problems = compare(case, tg.read_value(case.traced), env, rnd)
            passed += n
            failures += problems
    for f in failures:
        print("FAIL", f)
    print(f"e2e-containers[{label}]: {passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
