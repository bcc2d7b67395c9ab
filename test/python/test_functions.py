"""Unit tests of the tracer's functions: cp.* math elementwise on containers and
on Python numbers, casts and the conversions that cannot happen while tracing,
vector helpers, linalg (solve/inv/det), filters, nn, interp/lerp, the sorting
networks and grad with containers.

References are independent of the tracer: the math module, nested loops,
exact Fraction arithmetic for linear algebra, and `evaluate` (test_containers),
which runs a traced graph in Python from docs/dag-format.md's semantics.
"""
import itertools
import math
import random
import statistics
import sys
import unittest
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "python"))

import copapy as cp  # noqa: E402
from test_containers import (Sym, const, count_ops, evaluate, expr, f32, flat_of, inputs, nest,  # noqa: E402
                             reachable)

INT_MIN, INT_MAX = -(2 ** 31), 2 ** 31 - 1
NAN = math.nan
INF = math.inf


def same_float(a: Any, b: Any) -> bool:
    """Equal as floats including the sign of zero, NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b and type(a) is type(b)


class Case(unittest.TestCase):
    def assertClose(self, got: Any, want: Any, tol: float = 1e-12) -> None:
        g, w = flat_of(got), flat_of(want)
        self.assertEqual(len(g), len(w), f"{got} != {want}")
        for a, b in zip(g, w):
            if isinstance(b, float) and math.isnan(b):
                self.assertTrue(math.isnan(a), f"{got} != {want}")
            else:
                self.assertLessEqual(abs(a - b), tol * max(1.0, abs(b)), f"{got} != {want}")

    def assertSame(self, got: Any, want: Any) -> None:
        self.assertTrue(same_float(got, want), f"{got!r} is not {want!r}")


# ---- Math functions --------------------------------------------------------------------

UNARY = ["sqrt", "exp", "log", "sin", "cos", "tan", "asin", "acos", "atan", "tanh", "floor", "ceil", "trunc",
         "round"]
PYTHON_REF = {"sqrt": math.sqrt, "exp": math.exp, "log": math.log, "sin": math.sin, "cos": math.cos,
              "tan": math.tan, "asin": math.asin, "acos": math.acos, "atan": math.atan, "tanh": math.tanh,
              "floor": lambda x: float(math.floor(x)), "ceil": lambda x: float(math.ceil(x)),
              "trunc": lambda x: float(math.trunc(x)), "round": lambda x: float(round(x))}


class MathElementwise(Case):
    def containers(self) -> List[Tuple[Any, List[Any]]]:
        a, b, c = cp.value(0.5), cp.value(0.25), cp.value(0.75)
        return [(cp.vector([a, 0.5, b]), [a, 0.5, b]), (cp.tensor([[a, 0.3], [b, c]]), [a, 0.3, b, c]),
                (cp.quaternion(a, 0.4, b, c), [a, 0.4, b, c])]

    def test_unary_functions(self) -> None:
        for cont, elems in self.containers():
            for name in UNARY:
                with self.subTest(container=type(cont).__name__, fn=name):
                    r = getattr(cp, name)(cont)
                    self.assertIs(type(r), type(cont))
                    self.assertEqual(r.shape, cont.shape)
                    for got, e in zip(r.values, elems):
                        if isinstance(e, cp.value):
                            self.assertEqual(expr(got), (name, e._node))
                            self.assertEqual(got.dtype, "float")
                        else:
                            self.assertEqual(got, PYTHON_REF[name](e))

    def test_abs_sign(self) -> None:
        for cont, elems in self.containers():
            r = cp.abs(cont)
            self.assertIs(type(r), type(cont))
            self.assertEqual([expr(x) if isinstance(x, cp.value) else x for x in r.values],
                             [("abs", e._node) if isinstance(e, cp.value) else abs(e) for e in elems])
            if not isinstance(cont, cp.quaternion):      # abs(q) is the norm
                self.assertEqual([expr(x) for x in abs(cont).values if isinstance(x, cp.value)],
                                 [("abs", e._node) for e in elems if isinstance(e, cp.value)])
            s = cp.sign(cont)
            self.assertEqual([expr(x) if isinstance(x, cp.value) else x for x in s.values],
                             [("cast", ("sign", e._node)) if isinstance(e, cp.value) else 1 for e in elems])
        i = cp.value(-3)
        self.assertEqual(expr(cp.sign(i)), ("sign", i._node))      # an int sign needs no conversion
        self.assertEqual(cp.sign(i).dtype, "int")
        self.assertEqual(cp.abs(i).dtype, "int")

    def test_binary_functions_broadcast(self) -> None:
        t, nt = inputs((2, 3), 1.0)
        v, nv = inputs((3,), 10.0)
        vec = cp.vector(v.values)
        for name, op in (("atan2", "atan2"), ("hypot", "hypot"), ("pow", "pow"), ("minimum", "min"),
                         ("maximum", "max")):
            fn = getattr(cp, name)
            with self.subTest(fn=name):
                for other in (v, vec):
                    r = fn(t, other)
                    self.assertIs(type(r), cp.tensor)
                    self.assertEqual(r.shape, (2, 3))
                    self.assertEqual([expr(e) for e in r.values],
                                     [(op, nt[i][j]._node, nv[j]._node) for i in range(2) for j in range(3)])
                    r = fn(other, t)
                    self.assertEqual([expr(e) for e in r.values],
                                     [(op, nv[j]._node, nt[i][j]._node) for i in range(2) for j in range(3)])
                x = cp.value(2.0)
                r = fn(vec, x)
                self.assertIs(type(r), cp.vector)
                self.assertEqual([expr(e) for e in r.values], [(op, e._node, x._node) for e in vec.values])
                r = fn(cp.vector([1.5, 2.5]), cp.vector([3.0, 0.5]))
                self.assertEqual(r.values, tuple(PYTHON2[name](a, b) for a, b in ((1.5, 3.0), (2.5, 0.5))))
                with self.assertRaisesRegex(ValueError, "lengths differ"):
                    fn(vec, cp.vector([1.0, 2.0]))
                with self.assertRaisesRegex(ValueError, "broadcast"):
                    fn(t, cp.tensor([1.0, 2.0]))

    def test_pow_with_a_python_exponent_expands(self) -> None:
        x, y = cp.value(2.0), cp.value(3.0)
        r = cp.pow(cp.vector([x, y]), 3)
        self.assertEqual(expr(r.values[0]), ("mul", ("mul", x._node, x._node), x._node))
        r = cp.pow(cp.vector([x, y]), 2.5)
        self.assertEqual(expr(r.values[1]), ("pow", y._node, const(2.5)))

    def test_clamp(self) -> None:
        t, nt = inputs((2, 2))
        r = cp.clamp(t, 0.0, 1.0)
        self.assertIs(type(r), cp.tensor)
        self.assertEqual([expr(e) for e in r.values],
                         [("min", ("max", e._node, const(0.0)), const(1.0)) for e in t.values])
        lo = cp.vector([0.0, -1.0])
        r = cp.clamp(cp.vector([t.values[0], 5.0]), lo, 2.0)
        self.assertEqual(expr(r.values[0]), ("min", ("max", t.values[0]._node, const(0.0)), const(2.0)))
        self.assertEqual(r.values[1], 2.0)

    def test_iif_elementwise_selects(self) -> None:
        a = [cp.value(float(i)) for i in range(3)]
        va = cp.vector(a)
        vb = cp.vector([10.0, INF, cp.value(12.0)])
        cond = va > 0.5
        r = cp.iif(cond, va, vb)
        self.assertIs(type(r), cp.vector)
        self.assertEqual([expr(e) for e in r.values],
                         [("select", expr(c), Sym.leaf(expr(x)), Sym.leaf(expr(y)))
                          for c, x, y in zip(cond.values, va.values, vb.values)])
        # A real select: the inf in the branch not taken does not leak (the original's blend gives NaN).
        self.assertEqual(evaluate(r), [10.0, 1.0, 2.0])
        k = cp.value(True)
        r = cp.iif(k, va, vb)
        self.assertTrue(all(e._node.args[0] is k._node for e in r.values))     # one condition for all
        self.assertEqual(evaluate(r, {k: False}), [10.0, INF, 12.0])
        t = cp.iif(cp.tensor([[True], [False]]), cp.tensor([[1.0, 2.0]]), 0.0)
        self.assertEqual(t.tolist(), [[1.0, 2.0], [0.0, 0.0]])
        chosen = cp.iif(1, cp.vector([a[0], 2]), cp.vector([3.0, 4.0]))
        self.assertIs(chosen.values[0], a[0])
        self.assertEqual(chosen.values[1], 2.0)
        self.assertEqual(cp.iif(0, cp.vector([1, 2]), cp.vector([3, 4])).values, (3, 4))


PYTHON2 = {"atan2": math.atan2, "hypot": math.hypot, "pow": math.pow,
           "minimum": lambda a, b: b if b < a else a, "maximum": lambda a, b: b if b > a else a}


class MathOnNumbers(Case):
    """Python numbers compute right away with C's (libm's) results where math would raise."""

    def test_c_like_results(self) -> None:
        cases = [
            (cp.log, 0, -INF), (cp.log, 0.0, -INF), (cp.log, -0.0, -INF), (cp.log, -1.0, NAN), (cp.log, INF, INF),
            (cp.sqrt, -1.0, NAN), (cp.sqrt, 4, 2.0), (cp.sqrt, -0.0, -0.0), (cp.sqrt, INF, INF),
            (cp.exp, 1000.0, INF), (cp.exp, -1000.0, 0.0), (cp.asin, 2.0, NAN), (cp.acos, -1.5, NAN),
            (cp.sin, INF, NAN), (cp.cos, -INF, NAN), (cp.atan, INF, math.pi / 2), (cp.tanh, 100.0, 1.0),
            (cp.tanh, -INF, -1.0), (cp.floor, -0.0, -0.0), (cp.floor, -0.5, -1.0), (cp.floor, 2.7, 2.0),
            (cp.floor, INF, INF), (cp.floor, NAN, NAN), (cp.floor, 2, 2.0), (cp.ceil, -0.5, -0.0),
            (cp.ceil, 0.2, 1.0), (cp.ceil, -INF, -INF), (cp.trunc, -0.7, -0.0), (cp.trunc, 2.7, 2.0),
            (cp.trunc, -2.7, -2.0), (cp.round, 2.5, 2.0), (cp.round, 3.5, 4.0), (cp.round, -2.5, -2.0),
            (cp.round, 0.5, 0.0), (cp.round, -0.4, -0.0), (cp.round, -0.5, -0.0), (cp.round, 1.4999, 1.0),
            (cp.round, NAN, NAN), (cp.round, 7, 7.0), (cp.abs, -2.5, 2.5),
        ]
        for fn, x, want in cases:
            with self.subTest(fn=fn.__name__, x=x):
                self.assertSame(fn(x), want)

    def test_binary_and_integer_results(self) -> None:
        self.assertSame(cp.hypot(3, 4), 5.0)
        self.assertSame(cp.hypot(INF, NAN), INF)
        self.assertSame(cp.atan2(0.0, -1.0), math.pi)
        self.assertSame(cp.atan2(-0.0, -1.0), -math.pi)
        self.assertSame(cp.atan2(1, 0), math.pi / 2)
        for x, want in ((-3, -1), (0, 0), (7, 1), (-2.5, -1), (2.5, 1), (-0.0, 0), (NAN, 0), (INF, 1), (True, 1)):
            with self.subTest(sign=x):
                self.assertSame(cp.sign(x), want)        # an int, as the original
        self.assertSame(cp.abs(-3), 3)
        self.assertSame(cp.pow(2, 3), 8)
        self.assertSame(cp.pow(2.5, 0), 1)
        self.assertSame(cp.pow(2.0, 3), 8.0)
        self.assertSame(cp.pow(4, -1), 0.25)
        self.assertSame(cp.pow(0.0, -1), INF)
        self.assertSame(cp.pow(2, 0.5), math.sqrt(2))
        self.assertSame(cp.pow(-8.0, 1 / 3), NAN)
        self.assertSame(cp.minimum(1, 2), 1)
        self.assertSame(cp.maximum(1.5, -2.0), 1.5)
        self.assertSame(cp.minimum(NAN, 1.0), NAN)      # b if b < a else a (docs/tracer.md)
        self.assertSame(cp.minimum(1.0, NAN), 1.0)
        self.assertSame(cp.clamp(5, 0, 3), 3)
        self.assertSame(cp.clamp(-2.5, -1, 1), -1)
        self.assertSame(cp.clamp(0.25, -1.0, 1.0), 0.25)
        self.assertSame(cp.clamp(NAN, 0.0, 1.0), NAN)
        self.assertSame(cp.iif(3 > 5, 2, 7), 7)
        self.assertSame(cp.iif(0.0, 2.5, 7), 7.0)          # the result type does not depend on the branch
        self.assertSame(cp.iif(1, 2, 7.5), 2.0)

    def test_value_graphs(self) -> None:
        f, i, b = cp.value(0.5), cp.value(3), cp.value(True)
        for name in UNARY:
            for x in (f, i, b):
                r = getattr(cp, name)(x)
                self.assertEqual((expr(r), r.dtype), ((name, x._node), "float"), (name, x.dtype))
        self.assertEqual(expr(cp.sign(f)), ("cast", ("sign", f._node)))
        self.assertEqual(cp.sign(f).dtype, "int")
        for name, op in (("atan2", "atan2"), ("hypot", "hypot"), ("minimum", "min"), ("maximum", "max")):
            self.assertEqual(expr(getattr(cp, name)(f, 2)), (op, f._node, const(2)))
            self.assertEqual(expr(getattr(cp, name)(2.0, f)), (op, const(2.0), f._node))
        self.assertEqual(expr(cp.pow(2, f)), ("pow", const(2), f._node))
        self.assertEqual(expr(cp.iif(b, 1, 2.5)), ("select", b._node, const(1), const(2.5)))
        for bad in ("x", [1.0], None):
            with self.assertRaises(TypeError):
                cp.sin(bad)  # type: ignore[arg-type]
            with self.assertRaises(TypeError):
                cp.atan2(bad, 1.0)  # type: ignore[arg-type]


class Casts(Case):
    def test_numbers(self) -> None:
        cases = [(2.9, int, 2), (-2.9, int, -2), (0.5, int, 0), (-0.5, int, 0), (1e10, int, INT_MAX),
                 (-1e10, int, INT_MIN), (2147483647.0, int, INT_MAX), (2147483648.0, int, INT_MAX),
                 (-2147483648.0, int, INT_MIN), (-2147483904.0, int, INT_MIN), (NAN, int, 0), (INF, int, INT_MAX),
                 (-INF, int, INT_MIN), (True, int, 1), (7, int, 7), (3, float, 3.0), (16777217, float, 16777216.0),
                 (0.1, float, f32(0.1)), (1e40, float, INF), (0.0, bool, False), (-0.0, bool, False),
                 (-0.1, bool, True), (NAN, bool, True), (2, bool, True), (0, bool, False), (True, float, 1.0)]
        for x, t, want in cases:
            with self.subTest(x=x, dtype=t):
                self.assertSame(cp.cast(x, t), want)
                self.assertSame(cp.cast(x, t.__name__), want)
                fn = {int: cp.to_int, float: cp.to_float, bool: cp.to_bool}[t]
                self.assertSame(fn(x), want)
        self.assertEqual((cp.to_float(2), cp.to_int(-2.9), cp.to_bool(0.0)), (2.0, -2, False))   # orig_api.md 23

    def test_values(self) -> None:
        f, i, b = cp.value(2.5), cp.value(-3), cp.value(True)
        for x in (f, i, b):
            for t in (int, float, bool):
                r = cp.cast(x, t)
                with self.subTest(src=x.dtype, dtype=t.__name__):
                    if x.dtype == t.__name__:
                        self.assertIs(r, x)                   # nothing to convert
                        self.assertIs(x.astype(t), x)
                    else:
                        self.assertEqual((expr(r), r.dtype), (("cast", x._node), t.__name__))
                        self.assertEqual(expr(x.astype(t)), ("cast", x._node))
        self.assertEqual(evaluate([cp.to_float(cp.value(4)), cp.to_int(cp.value(-3.9)), cp.to_bool(cp.value(-3.9))]),
                         [4.0, -3, True])                     # orig_api.md 23 (test_casts)

    def test_containers(self) -> None:
        a, c = cp.value(2.5), cp.value(-1.5)
        v = cp.vector([a, 7.9, c])
        r = cp.to_int(v)
        self.assertIs(type(r), cp.vector)
        self.assertEqual([expr(e) if isinstance(e, cp.value) else e for e in r.values],
                         [("cast", a._node), 7, ("cast", c._node)])
        self.assertEqual(evaluate(r), [2, 7, -1])              # orig_api.md 23: [2, 7, -1]
        t = cp.cast(cp.tensor([[1.5, -0.5], [NAN, 3.0]]), int)
        self.assertEqual(t.tolist(), [[1, 0], [0, 3]])
        q = cp.to_float(cp.quaternion(1, True, 0, 2))
        self.assertIs(type(q), cp.quaternion)
        self.assertEqual([(type(e), e) for e in q.values], [(float, 1.0), (float, 1.0), (float, 0.0), (float, 2.0)])
        self.assertEqual(cp.to_bool(cp.vector([0.0, 2.0])).values, (False, True))

    def test_bad_arguments(self) -> None:
        with self.assertRaises(TypeError):
            cp.cast("x", int)
        with self.assertRaises(TypeError):
            cp.cast([1.0], int)
        with self.assertRaises(TypeError):
            cp.to_bytes(cp.value(1))
        with self.assertRaises(TypeError):
            cp.cast(cp.value(1), "byte")

    def test_unknown_dtype_is_a_value_error(self) -> None:
        """orig_api.md 6 and 21 ("errors users rely on"): cast with a bad dtype is a
        ValueError, a bad object a TypeError."""
        for bad in ("complex", "str", complex, None):
            with self.assertRaises(ValueError):
                cp.cast(1.0, bad)
            with self.assertRaises(ValueError):
                cp.cast(cp.value(1.0), bad)

    def test_byte_arrays(self) -> None:
        data = [-3.5, -0.1, 0, 0.9, 17.99, 254.5, 255, 255.9, 1e9, INF, -INF, NAN]
        b = cp.to_bytes(cp.array(data))
        self.assertEqual(b.shape, (12,))
        # orig_api.md 6: saturating to 0..255, truncation toward zero, NaN -> 0.
        self.assertEqual(evaluate(b), [0, 0, 0, 0, 17, 254, 255, 255, 255, 255, 0, 0])
        self.assertEqual(cp.cast(cp.array([[300, -2]]), "byte").shape, (1, 2))

    def test_to_bytes_gives_a_byte_array(self) -> None:
        b = cp.to_bytes(cp.array([[1.5, 300.0]]))
        self.assertIsInstance(b, cp.array)
        self.assertEqual((b.dtype, b.shape), ("byte", (1, 2)))


class NoConversionWhileTracing(unittest.TestCase):
    def test_python_conversions_name_the_traced_function(self) -> None:
        v = cp.value(2.5)
        for fn, hint in ((int, r"cp\.cast\(v, int\)"), (float, r"cp\.cast\(v, float\)"), (round, r"cp\.round\(v\)"),
                         (math.floor, r"cp\.floor\(v\)"), (math.ceil, r"cp\.ceil\(v\)"),
                         (math.trunc, r"cp\.trunc\(v\)"), (bool, r"cp\.iif")):
            with self.subTest(fn=fn.__name__):
                with self.assertRaisesRegex(TypeError, hint):
                    fn(v)
        with self.assertRaisesRegex(TypeError, "read_value"):
            int(v)
        with self.assertRaisesRegex(TypeError, r"cp\.iif"):
            [1, 2][cp.value(0)]  # type: ignore[index]
        with self.assertRaisesRegex(TypeError, r"cp\.iif"):
            range(cp.value(3))  # type: ignore[arg-type]

    def test_state_next_names_cast(self) -> None:
        s = cp.state(0)
        with self.assertRaisesRegex(TypeError, r"cp\.cast\(x, int\)"):
            s.next(cp.value(1.5))
        with self.assertRaisesRegex(TypeError, r"cp\.cast\(x, int\)"):
            s.next(2.5)
        flag = cp.state(True)
        with self.assertRaisesRegex(TypeError, r"cp\.cast\(x, bool\)"):
            flag.next(cp.value(1))
        s.next(cp.cast(cp.value(1.5), int))          # the explicit conversion is accepted
        self.assertEqual(s._node.update.op, "cast")
        f = cp.state(0.0)
        f.next(cp.value(3))                          # int into a float state widens exactly
        self.assertEqual((f._node.update.op, f._node.update.dtype), ("cast", "float"))


# ---- Vector helpers ---------------------------------------------------------------------

def rodrigues_matrix(axis: Sequence[float], angle: float) -> List[List[float]]:
    n = math.sqrt(sum(a * a for a in axis))
    kx, ky, kz = (a / n for a in axis)
    c, s = math.cos(angle), math.sin(angle)
    t = 1 - c
    return [[c + kx * kx * t, kx * ky * t - kz * s, kx * kz * t + ky * s],
            [ky * kx * t + kz * s, c + ky * ky * t, ky * kz * t - kx * s],
            [kz * kx * t - ky * s, kz * ky * t + kx * s, c + kz * kz * t]]


class VectorHelpers(Case):
    A = [1.0, 2.0, 3.0]
    B = [4.0, -5.0, 6.5]

    def test_numbers(self) -> None:
        a, b = self.A, self.B
        dot = sum(x * y for x, y in zip(a, b))
        na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(x * x for x in b))
        cross = [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
        self.assertEqual(cp.cross(a, b).values, tuple(cross))
        self.assertEqual(cp.cross([1, 2, 3], [4, 5, 6]).values, (-3, 6, -3))
        self.assertEqual(cp.vector(a).cross(b).values, tuple(cross))
        self.assertEqual(cp.dot(a, b), dot)
        self.assertEqual(cp.dot([1, 2, 3], [4, 5, 6]), 32)
        self.assertClose(cp.vector(a).magnitude(), math.sqrt(14))
        self.assertClose(list(cp.vector(b).normalize().values), [x / nb for x in b])
        self.assertEqual(cp.vector([0.0, 0.0]).normalize().values, (0.0, 0.0))       # + 1e-20: no NaN
        self.assertClose(cp.distance(a, b), math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b))))
        self.assertClose(cp.distance([1, 2, 3], [4, 5, 6]), math.sqrt(27))
        self.assertClose(cp.scalar_projection(a, b), dot / nb)
        self.assertClose(list(cp.vector_projection(a, b).values), [y * dot / (nb * nb) for y in b])
        self.assertClose(cp.angle_between(a, b), math.acos(dot / (na * nb)))
        self.assertClose(cp.angle_between([5.0, 0.0, 0.0], [5.0, 5.0, 0.0]), math.pi / 4)
        self.assertIs(type(cp.vector_projection(a, b)), cp.vector)
        with self.assertRaisesRegex(ValueError, "3-vectors"):
            cp.cross([1, 2], [3, 4])
        with self.assertRaises(TypeError):
            cp.dot(1.0, [1.0])

    def test_angle_between_parallel_is_clamped(self) -> None:
        a = [0.1, 0.37, 1.3]
        b = [2 * x for x in a]
        cosine = sum(x * y for x, y in zip(a, b)) / (math.sqrt(sum(x * x for x in a)) *
                                                    math.sqrt(sum(x * x for x in b)) + 1e-20)
        self.assertGreater(cosine, 1.0)               # rounding: the unclamped acos would be NaN (or raise)
        self.assertEqual(cp.angle_between(a, b), 0.0)
        self.assertEqual(cp.angle_between(a, [-x for x in b]), math.pi)
        x = cp.value(0.1)
        traced = cp.angle_between(cp.vector([x, 0.37, 1.3]), b)
        self.assertEqual(evaluate(traced, {x: 0.1}, binary32=False), 0.0)

    def test_rotate_vector(self) -> None:
        self.assertClose(list(cp.rotate_vector([1, 2, 3], [0, 0, 1], math.pi / 2).values), [-2.0, 1.0, 3.0], 1e-12)
        rng = random.Random(2)
        for _ in range(20):
            v = [rng.uniform(-3, 3) for _ in range(3)]
            axis = [rng.uniform(-1, 1) for _ in range(3)]
            angle = rng.uniform(-4, 4)
            r = cp.rotate_vector(v, axis, angle)
            self.assertIs(type(r), cp.vector)
            m = rodrigues_matrix(axis, angle)
            self.assertClose(list(r.values), [sum(m[i][j] * v[j] for j in range(3)) for i in range(3)], 1e-12)

    def test_graphs(self) -> None:
        a = [cp.value(1.0), cp.value(2.0), 3.0]
        v = cp.vector(a)
        mag = v.magnitude()
        self.assertEqual(expr(mag), ("sqrt", Sym.mixed_sum([("mul", a[0]._node, a[0]._node),
                                                            ("mul", a[1]._node, a[1]._node), 9.0])))
        n = v.normalize()
        den = n.values[0]._node.args[1]
        self.assertEqual(expr(den), ("add", expr(mag), const(1e-20)))
        self.assertIs(n.values[1]._node.args[1], den)           # one denominator for all elements
        self.assertEqual(expr(n.values[2]), ("div", const(3.0), expr(den)))
        w = cp.vector([4.0, cp.value(-5.0), 6.5])
        ang = cp.angle_between(v, w)
        cosine = ("div", expr(v.dot(w)), ("add", ("mul", expr(v.magnitude()), expr(w.magnitude())), const(1e-20)))
        self.assertEqual(expr(ang), ("acos", ("min", ("max", cosine, const(-1.0)), const(1.0))))
        self.assertEqual(expr(cp.distance(v, w)), expr((v - w).magnitude()))
        self.assertEqual(expr(cp.scalar_projection(v, w)), ("div", expr(v.dot(w)),
                                                            ("add", expr(w.magnitude()), const(1e-20))))
        angle = cp.value(0.7)
        r = cp.rotate_vector(v, [0.0, 0.0, 1.0], angle)
        self.assertEqual([e._node.op for e in r.values], ["add"] * 3)
        m = rodrigues_matrix([0, 0, 1], f32(0.7))             # the input holds 0.7 rounded to binary32
        self.assertClose(evaluate(r, binary32=False),
                         [sum(m[i][j] * [1.0, 2.0, 3.0][j] for j in range(3)) for i in range(3)], 1e-12)
        self.assertClose(evaluate(ang, binary32=False),
                         math.acos(13.5 / (math.sqrt(14) * math.sqrt(16 + 25 + 42.25))), 1e-12)


# ---- Linear algebra --------------------------------------------------------------------

def frac_solve(a: List[List[Any]], b: List[List[Any]]) -> Optional[List[List[Fraction]]]:
    """Exact Gauss-Jordan elimination with Fractions; None for a singular matrix."""
    n = len(a)
    m = [[Fraction(x) for x in a[i]] + [Fraction(x) for x in b[i]] for i in range(n)]
    for k in range(n):
        p = next((i for i in range(k, n) if m[i][k] != 0), None)
        if p is None:
            return None
        m[k], m[p] = m[p], m[k]
        piv = m[k][k]
        m[k] = [x / piv for x in m[k]]
        for i in range(n):
            if i != k and m[i][k] != 0:
                f = m[i][k]
                m[i] = [x - f * y for x, y in zip(m[i], m[k])]
    return [row[n:] for row in m]


def frac_det(a: List[List[Any]]) -> Fraction:
    n = len(a)
    m = [[Fraction(x) for x in row] for row in a]
    d = Fraction(1)
    for k in range(n):
        p = next((i for i in range(k, n) if m[i][k] != 0), None)
        if p is None:
            return Fraction(0)
        if p != k:
            m[k], m[p] = m[p], m[k]
            d = -d
        d *= m[k][k]
        for i in range(k + 1, n):
            f = m[i][k] / m[k][k]
            m[i] = [x - f * y for x, y in zip(m[i], m[k])]
    return d


def random_matrix(rng: random.Random, n: int, zero_diagonal: bool = False) -> List[List[int]]:
    while True:
        a = [[rng.randint(-9, 9) for _ in range(n)] for _ in range(n)]
        if zero_diagonal:
            for i in range(n):
                a[i][i] = 0
        if frac_det(a) != 0:
            return a


class Linalg(Case):
    def test_solve_inv_det_sizes_1_to_6(self) -> None:
        rng = random.Random(1234)
        for n in range(1, 7):
            for trial in range(4):
                a = random_matrix(rng, n, zero_diagonal=(trial == 1 and n > 1))   # zeros force pivoting
                b = [rng.randint(-9, 9) for _ in range(n)]
                B = [[rng.randint(-9, 9) for _ in range(2)] for _ in range(n)]
                with self.subTest(n=n, a=a):
                    x = cp.solve(a, b)
                    self.assertIs(type(x), cp.tensor)
                    self.assertEqual(x.shape, (n,))
                    self.assertClose(x.tolist(), [float(r[0]) for r in frac_solve(a, [[v] for v in b])], 1e-9)
                    xv = cp.linalg.solve(cp.tensor(a), cp.vector(b))
                    self.assertIs(type(xv), cp.vector)                # a vector rhs gives a vector
                    self.assertClose(list(xv.values), x.tolist(), 0)
                    X = cp.solve(cp.matrix(a), B)
                    self.assertEqual(X.shape, (n, 2))
                    self.assertClose(X.tolist(), [[float(v) for v in r] for r in frac_solve(a, B)], 1e-9)
                    inv = cp.inv(a)
                    ident = [[int(i == j) for j in range(n)] for i in range(n)]
                    self.assertEqual(inv.shape, (n, n))
                    self.assertClose(inv.tolist(), [[float(v) for v in r] for r in frac_solve(a, ident)], 1e-9)
                    self.assertClose((inv @ cp.tensor(a)).tolist(), ident, 1e-9)
                    self.assertClose(cp.linalg.inv(a).tolist(), inv.tolist(), 0)
                    self.assertClose(cp.det(a), float(frac_det(a)), 1e-9)
                    self.assertClose(cp.linalg.det(cp.tensor(a)), float(frac_det(a)), 1e-9)

    def test_original_numbers(self) -> None:
        a = [[0, 2, 1], [1, 1, 0.5], [4, -1, 3]]
        self.assertEqual(cp.det(a), -7.0)                         # orig_api.md 13.3
        self.assertEqual(cp.det([a[1], a[0], a[2]]), 7.0)
        self.assertEqual(cp.det([[2, 1], [1, 3]]), 5.0)
        self.assertEqual(cp.det([[2, 0, 0], [0, 3, 0], [0, 0, 0.5]]), 3.0)
        self.assertEqual(cp.det([[1, 2], [2, 4]]), 0.0)
        self.assertEqual(cp.det([[1, 2, 3, 4, 5], [2, 4, 6, 8, 10], [1, 0, 0, 0, 0], [0, 1, 0, 0, 0],
                                 [0, 0, 1, 0, 3]]), 0.0)
        self.assertEqual(cp.solve(cp.diagonal([2, -4, 0.5]), [1, 2, 3]).tolist(), [0.5, -0.5, 6.0])
        self.assertEqual(cp.solve([[0, 1], [1, 0]], cp.vector([3, 4])).values, (4.0, 3.0))
        self.assertEqual(cp.solve([[1, INF], [2, 1]], [1, 4]).tolist(), [2.0, 0.0])
        self.assertIs(cp.linalg.solve, cp.solve)
        self.assertIs(cp.linalg.inv, cp.inv)
        self.assertIs(cp.linalg.det, cp.det)

    def test_errors(self) -> None:
        with self.assertRaisesRegex(ValueError, "singular"):
            cp.solve([[1, 2], [2, 4]], [1, 2])
        with self.assertRaisesRegex(ValueError, "singular"):
            cp.inv([[1, 2, 3], [2, 4, 6], [1, 1, 1]])      # exactly singular in double
        with self.assertRaisesRegex(ValueError, "pivoting is required"):
            cp.solve([[0, 1], [1, 0]], [1, 2], pivot=False)
        self.assertEqual(cp.solve([[2, 1], [1, 3]], [3, 4], pivot=False).tolist(), [1.0, 1.0])
        for bad in ([[1, 2, 3], [4, 5, 6]], [1, 2], [[[1]]]):
            with self.assertRaisesRegex(ValueError, "square"):
                cp.solve(bad, [1, 2])
            with self.assertRaisesRegex(ValueError, "square"):
                cp.det(bad)
        with self.assertRaisesRegex(ValueError, "shape mismatch"):
            cp.solve([[1, 0], [0, 1]], [1, 2, 3])

    def test_traced_matrix_pivots_by_selects(self) -> None:
        rng = random.Random(99)
        for n in (2, 3, 4):
            a = [[cp.value(float(rng.randint(-9, 9))) for _ in range(n)] for _ in range(n)]
            b = [cp.value(float(rng.randint(-9, 9))) for _ in range(n)]
            x = cp.solve(a, b)
            nodes = reachable([x])
            # |a[i][k]| > |a[k][k]| decides each swap when the program runs.
            gts = [nd for nd in nodes if nd.op == "gt" and all(arg.op == "abs" for arg in nd.args)]
            self.assertGreater(len(gts), 0)
            self.assertGreater(count_ops(x).get("select", 0), 0)
            for trial in range(3):
                data = random_matrix(rng, n, zero_diagonal=(trial == 0))
                rhs = [rng.randint(-9, 9) for _ in range(n)]
                env = {a[i][j]: float(data[i][j]) for i in range(n) for j in range(n)}
                env.update({b[i]: float(rhs[i]) for i in range(n)})
                with self.subTest(n=n, a=data):
                    want = [float(r[0]) for r in frac_solve(data, [[v] for v in rhs])]
                    self.assertClose(evaluate(x, env, binary32=False), want, 1e-9)
                    self.assertClose(evaluate(cp.det(a), env, binary32=False), float(frac_det(data)), 1e-9)
                    ident = [[float(i == j) for j in range(n)] for i in range(n)]
                    self.assertClose(evaluate(cp.inv(a), env, binary32=False),
                                     [[float(v) for v in r] for r in frac_solve(data, ident)], 1e-9)

    def test_traced_inf_in_the_row_not_taken(self) -> None:
        big = cp.value(INF)
        x = cp.solve([[1.0, big], [2.0, 1.0]], [1.0, 4.0])
        self.assertEqual(evaluate(x), [2.0, 0.0])      # orig_api.md 13.1: the select ignores the inf

    def test_constant_matrix_has_no_pivot_code(self) -> None:
        b = [cp.value(1.0), cp.value(2.0), cp.value(3.0)]
        a = [[0.0, 2.0, 1.0], [1.0, 1.0, 0.5], [4.0, -1.0, 3.0]]
        x = cp.solve(a, b)
        ops = count_ops(x)
        self.assertNotIn("select", ops)
        self.assertNotIn("abs", ops)
        self.assertNotIn("gt", ops)
        env = {b[0]: 1.0, b[1]: 2.0, b[2]: 3.0}
        # The eliminated coefficients are binary32 constants: agreement to their precision.
        self.assertClose(evaluate(x, env, binary32=False),
                         [float(r[0]) for r in frac_solve(a, [[1], [2], [3]])], 1e-6)

    def test_traced_det_laplace_graph(self) -> None:
        a, b, c, d = (cp.value(float(i)) for i in range(1, 5))
        det = cp.det([[a, b], [c, d]])
        self.assertEqual(expr(det), ("sub", ("mul", a._node, d._node), ("mul", b._node, c._node)))
        # Python zeros are skipped: a triangular matrix costs one product per level.
        tri = cp.det([[a, 0.0, 0.0], [b, c, 0.0], [b, c, d]])
        self.assertEqual(expr(tri), ("mul", a._node, ("mul", c._node, d._node)))
        i = cp.value(2)
        self.assertEqual(expr(cp.det([[i]])), ("cast", i._node))


# ---- Filters --------------------------------------------------------------------------

def convolve_ref(a: Sequence[float], v: Sequence[float], mode: str) -> List[float]:
    """numpy.convolve, written from its documentation."""
    n, m = len(a), len(v)
    full = [sum(a[i] * v[k - i] for i in range(n) if 0 <= k - i < m) for k in range(n + m - 1)]
    if mode == "full":
        return full
    big, small = max(n, m), min(n, m)
    if mode == "same":
        start = (small - 1) // 2
        return full[start:start + big]
    return full[small - 1:big]


def window_method(numtaps: int, bands: List[Tuple[float, float]], window: str, f0: float) -> List[float]:
    """scipy.signal.firwin's window method (band edges relative to Nyquist)."""
    alpha = 0.5 * (numtaps - 1)
    coeffs = {"hamming": (0.54, 0.46), "hann": (0.5, 0.5), "blackman": (0.42, 0.5, 0.08), "boxcar": (1.0,)}[window]

    def sinc(x: float) -> float:
        return 1.0 if x == 0 else math.sin(math.pi * x) / (math.pi * x)
    h = []
    for i in range(numtaps):
        m = i - alpha
        ideal = sum(r * sinc(r * m) - l * sinc(l * m) for l, r in bands)
        w = 1.0 if numtaps == 1 else sum((-1) ** k * c * math.cos(2 * math.pi * k * i / (numtaps - 1))
                                         for k, c in enumerate(coeffs))
        h.append(ideal * w)
    gain = sum(x * math.cos(math.pi * (i - alpha) * f0) for i, x in enumerate(h))
    return [x / gain for x in h]


def response(taps: Sequence[float], f: float) -> float:
    """|H| of linear-phase taps at frequency f (relative to Nyquist)."""
    c = 0.5 * (len(taps) - 1)
    return abs(sum(h * math.cos(math.pi * (i - c) * f) for i, h in enumerate(taps)))


class Filters(Case):
    def test_mean_and_median_of_numbers(self) -> None:
        F = cp.filters
        self.assertEqual(F.mean([1, 2, 3, 4]), 2.5)
        self.assertEqual(F.mean(cp.tensor([[1, 2], [3, 5]])), 11 / 4)
        for data in ([7, 1, 4, 2], [3, 1, 2], [50, 21, 20, 10, 22, 1, 80, 70, 90], [2.5], [1, 1, 2, 2]):
            with self.subTest(data=data):
                m = F.median(data)
                self.assertIsInstance(m, float)
                self.assertEqual(m, float(statistics.median(data)))
        self.assertEqual(F.median([7, 1, 4, 2]), 3.0)
        self.assertEqual(F.median([50, 21, 20, 10, 22, 1, 80, 70, 90]), 22.0)
        for fn in (F.mean, F.median):
            with self.assertRaises(ValueError):
                fn([])
            with self.assertRaises(TypeError):
                fn(3.0)

    def test_traced_mean_and_median(self) -> None:
        F = cp.filters
        rng = random.Random(4)
        for n in (1, 2, 3, 4, 5, 8, 9):
            xs = [cp.value(0.0) for _ in range(n)]
            med = F.median(cp.vector(xs))
            mean = F.mean(cp.vector(xs))
            self.assertEqual(mean._node.op, "div")
            self.assertEqual(expr(mean._node.args[1]), const(n))
            if n % 2 == 0:
                self.assertEqual((med._node.op, expr(med._node.args[1])), ("mul", const(0.5)))
            for _ in range(5):
                data = [float(rng.randint(-5, 5)) for _ in range(n)]
                env = dict(zip(xs, data))
                with self.subTest(data=data):
                    self.assertEqual(evaluate(med, env), statistics.median(data))
                    self.assertEqual(evaluate(mean, env, binary32=False), sum(data) / n)
        i = cp.value(3)
        self.assertEqual(F.median(cp.vector([i, cp.value(1), cp.value(2)])).dtype, "float")

    def test_convolve_against_direct_sums(self) -> None:
        F = cp.filters
        rng = random.Random(8)
        for n, m in itertools.product(range(1, 6), repeat=2):
            a = [rng.randint(-5, 5) for _ in range(n)]
            v = [rng.randint(-5, 5) for _ in range(m)]
            for mode in ("full", "same", "valid"):
                with self.subTest(a=a, v=v, mode=mode):
                    got = F.convolve(a, v, mode)
                    self.assertIs(type(got), cp.vector)
                    self.assertEqual(list(got.values), convolve_ref(a, v, mode))
        self.assertIs(type(F.convolve(cp.tensor([1, 2, 3]), [1, 1])), cp.tensor)
        with self.assertRaisesRegex(ValueError, "mode"):
            F.convolve([1, 2], [1], "circular")
        with self.assertRaises(ValueError):
            F.convolve(cp.tensor([[1, 2]]), [1])
        with self.assertRaises(ValueError):
            F.convolve([], [1])

    def test_convolve_graph(self) -> None:
        x = [cp.value(float(i)) for i in range(4)]
        k = [0.5, cp.value(2.0)]
        y = cp.filters.convolve(cp.vector(x), cp.vector(k))
        # Output j is the sum over i of x[i] * k[j - i] (mixed_sum: numbers first).
        for j in range(5):
            terms = [Sym.mul(expr(x[i]), expr(cp.vector(k).values[j - i])) for i in range(4) if 0 <= j - i < 2]
            self.assertEqual(expr(y.values[j]), Sym.mixed_sum(terms), j)

    def test_firwin(self) -> None:
        F = cp.filters
        for numtaps, cutoff, kind, window in ((11, 0.3, "lowpass", "hamming"), (21, 0.5, "lowpass", "hann"),
                                              (15, 0.2, "highpass", "blackman"), (7, 0.6, "highpass", "hamming"),
                                              (31, (0.2, 0.5), "bandpass", "hamming"), (1, 0.4, "lowpass", "hamming"),
                                              (9, (0.3, 0.7), "bandstop", "hann"), (8, 0.25, True, "boxcar")):
            with self.subTest(numtaps=numtaps, cutoff=cutoff, kind=kind, window=window):
                taps = F.firwin(numtaps, cutoff, kind, window)
                self.assertEqual(len(taps), numtaps)
                self.assertClose(taps, list(reversed(taps)), 1e-15)            # linear phase: symmetric
                cuts = [cutoff] if isinstance(cutoff, float) else list(cutoff)
                passes_zero = kind in ("lowpass", "bandstop", True)
                edges = ([0.0] if passes_zero else []) + cuts + ([1.0] if (len(cuts) + passes_zero) % 2 else [])
                bands = list(zip(edges[0::2], edges[1::2]))
                f0 = 0.0 if bands[0][0] == 0 else 1.0 if bands[0][1] == 1 else 0.5 * sum(bands[0])
                self.assertClose(taps, window_method(numtaps, bands, window, f0), 1e-12)
                self.assertClose([response(taps, f0)], [1.0], 1e-12)           # unit gain in the first band
        lp = F.firwin(51, 0.3)
        self.assertClose([sum(lp)], [1.0], 1e-12)                             # DC gain of a low-pass
        self.assertLess(response(lp, 0.8), 0.01)
        hp = F.firwin(51, 0.3, "highpass")
        self.assertClose([sum(h * (-1) ** (i - 25) for i, h in enumerate(hp))], [1.0], 1e-12)   # Nyquist gain
        self.assertLess(response(hp, 0.0), 0.01)
        self.assertClose(F.firwin(11, 100, fs=1000), F.firwin(11, 0.2), 1e-15)

    def test_firwin_errors(self) -> None:
        F = cp.filters
        for args, kwargs in (((4, 0.5, "highpass"), {}), ((0, 0.5), {}), ((5, 1.0), {}), ((5, 0.0), {}),
                             ((5, (0.5, 0.3), "bandpass"), {}), ((5, 0.3, "bandpass"), {}),
                             ((5, (0.2, 0.4)), {}), ((5, 0.3), {"window": "kaiser"}),
                             ((5, 0.3, "allpass"), {})):
            with self.subTest(args=args, kwargs=kwargs):
                with self.assertRaises(ValueError):
                    F.firwin(*args, **kwargs)

    def test_lowpass_highpass_bandpass(self) -> None:
        F = cp.filters
        n = 200
        slow = [math.sin(2 * math.pi * 0.01 * i) for i in range(n)]     # 0.02 of Nyquist
        fast = [math.sin(2 * math.pi * 0.4 * i) for i in range(n)]      # 0.8 of Nyquist
        mid = [math.sin(2 * math.pi * 0.2 * i) for i in range(n)]       # 0.4 of Nyquist
        mix = cp.vector([a + b for a, b in zip(slow, fast)])
        low = F.lowpass(mix, 0.3, numtaps=41)
        high = F.highpass(mix, 0.5, numtaps=41)
        band = F.bandpass(cp.vector([a + b + c for a, b, c in zip(slow, fast, mid)]), (0.3, 0.5), numtaps=61)
        for r in (low, high, band):
            self.assertIs(type(r), cp.vector)
            self.assertEqual(r.shape, (n,))
        inner = range(40, n - 40)                                         # away from the zero-padded edges
        self.assertLess(max(abs(low.values[i] - slow[i]) for i in inner), 0.02)
        self.assertLess(max(abs(high.values[i] - fast[i]) for i in inner), 0.02)
        self.assertLess(max(abs(band.values[i] - mid[i]) for i in inner), 0.03)
        self.assertEqual(list(F.lowpass(mix, 0.3, numtaps=41).values),
                         convolve_ref(list(mix.values), F.firwin(41, 0.3), "same"))
        with self.assertRaisesRegex(ValueError, "taps"):
            F.lowpass([1.0] * 10, 0.3, numtaps=41)
        self.assertIs(type(F.lowpass(cp.tensor([1.0] * 50), 0.3, numtaps=11)), cp.tensor)

    def support(self, out: Any) -> int:
        nz = [i for i, y in enumerate(out.values) if y != 0]
        return nz[-1] - nz[0] + 1

    def test_default_numtaps(self) -> None:
        """The default length (orig_api.md 16: ceil(W * fs / width) | 1), seen as the
        support of the response to an impulse."""
        F = cp.filters
        impulse = [0.0] * 150 + [1.0] + [0.0] * 150
        self.assertEqual(self.support(F.lowpass(impulse, 50.0, fs=1000)), 133)
        self.assertEqual(self.support(F.highpass(impulse, 450.0, fs=1000)), 133)
        self.assertEqual(self.support(F.bandpass(impulse, (80, 250), fs=1000)), 83)
        self.assertEqual(self.support(F.lowpass(impulse, 0.2, width=0.2)), 33)
        self.assertEqual(self.support(F.lowpass(impulse, 0.2, window="blackman", width=0.2)), 55)

    def test_default_numtaps_of_a_narrow_band(self) -> None:
        """orig_api.md 16: ((200, 230), 'hann', 1000) -> 207 taps: the default width is
        limited by the distance between the two cutoffs too."""
        from copapy import filters
        self.assertEqual(filters._estimate_numtaps((200, 230), "hann", 1000, None), 207)
        # The filter has that many taps; the hann window's end taps are 0, so the
        # impulse response's support is two samples shorter.
        impulse = [0.0] * 150 + [1.0] + [0.0] * 150
        self.assertEqual(self.support(cp.filters.bandpass(impulse, (200, 230), window="hann", fs=1000)), 205)

    def test_gaussian_filter(self) -> None:
        F = cp.filters

        def kernel(s: float, truncate: float = 4.0) -> Tuple[int, List[float]]:
            r = int(truncate * s + 0.5)
            k = [math.exp(-0.5 * (i / s) ** 2) for i in range(-r, r + 1)]
            return r, [x / sum(k) for x in k]
        rng = random.Random(6)
        x = [rng.uniform(-1, 1) for _ in range(12)]
        for s in (0.5, 1.0, 2.0):
            r, k = kernel(s)
            want = [sum(k[j + r] * x[i + j] for j in range(-r, r + 1) if 0 <= i + j < len(x)) for i in range(len(x))]
            got = F.gaussian_filter(cp.vector(x), s)
            self.assertIs(type(got), cp.vector)
            self.assertClose(list(got.values), want, 1e-12)
        img = [[rng.uniform(-1, 1) for _ in range(6)] for _ in range(5)]
        for sig in ((1.0, 0.7), (0.8, 0.0), (0.0, 1.5)):
            kr = [kernel(s) if s else (0, [1.0]) for s in sig]
            want = [[sum(kr[0][1][u + kr[0][0]] * kr[1][1][v + kr[1][0]] * img[i + u][j + v]
                         for u in range(-kr[0][0], kr[0][0] + 1) for v in range(-kr[1][0], kr[1][0] + 1)
                         if 0 <= i + u < 5 and 0 <= j + v < 6) for j in range(6)] for i in range(5)]
            got = F.gaussian_filter(cp.tensor(img), list(sig))
            self.assertIs(type(got), cp.tensor)
            self.assertClose(got.tolist(), want, 1e-12)
        self.assertClose(F.gaussian_filter(cp.tensor(img), 0.0).tolist(), img, 0)
        with self.assertRaises(ValueError):
            F.gaussian_filter(cp.tensor(img), [1.0])
        with self.assertRaises(ValueError):
            F.gaussian_filter(cp.vector(x), -1.0)

    def test_gaussian_filter_of_nested_lists(self) -> None:
        """orig_api.md 16: nested sequences are accepted (1-d to 3-d)."""
        img = [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
        got = cp.filters.gaussian_filter(img, 1.0)
        self.assertEqual(got.tolist(), cp.filters.gaussian_filter(cp.tensor(img), 1.0).tolist())


# ---- nn ---------------------------------------------------------------------------------

class NeuralNetworks(Case):
    def test_relu(self) -> None:
        nn = cp.nn
        self.assertIs(cp.relu, nn.relu)
        self.assertSame(nn.relu(-2.5), 0.0)           # +0.0 (the original's x * (x > 0) gives -0.0)
        self.assertSame(nn.relu(-INF), 0.0)           # the original gives NaN
        self.assertSame(nn.relu(NAN), NAN)
        self.assertSame(nn.relu(3), 3)
        self.assertSame(nn.relu(-3), 0)
        self.assertSame(nn.relu(1.5), 1.5)
        f, i = cp.value(-1.0), cp.value(-1)
        self.assertEqual(expr(nn.relu(f)), ("max", f._node, const(0.0)))
        self.assertEqual(expr(nn.relu(i)), ("max", i._node, const(0)))
        self.assertEqual(nn.relu(i).dtype, "int")
        self.assertEqual([evaluate(nn.relu(f), {f: x}) for x in (-2.0, -INF, 0.5)], [0.0, 0.0, 0.5])
        self.assertTrue(math.isnan(evaluate(nn.relu(f), {f: NAN})))
        r = nn.relu(cp.vector([f, -2.0, 3.0]))
        self.assertIs(type(r), cp.vector)
        self.assertEqual(r.values[1:], (0.0, 3.0))
        self.assertEqual(nn.relu(cp.tensor([[-1, 2]])).tolist(), [[0, 2]])
        with self.assertRaises(TypeError):
            nn.relu("x")

    def test_sigmoid_softmax(self) -> None:
        nn = cp.nn
        self.assertIs(cp.sigmoid, nn.sigmoid)
        for x in (-3.0, 0.0, 0.5, 10.0):
            self.assertClose([nn.sigmoid(x)], [1 / (1 + math.exp(-x))], 1e-15)
        f = cp.value(0.5)
        self.assertEqual(expr(nn.sigmoid(f)), ("div", const(1), ("add", const(1), ("exp", ("neg", f._node)))))
        self.assertEqual([e._node.op for e in nn.sigmoid(cp.vector([f, f])).values], ["div", "div"])
        for data in ([1.0, 2.0, 3.0], [1000.0, 1001.0, 999.0], [-5.0], [0.0, 0.0]):
            with self.subTest(data=data):
                s = nn.softmax(cp.vector(data))
                mx = max(data)
                e = [math.exp(x - mx) for x in data]
                self.assertClose(list(s.values), [x / sum(e) for x in e], 1e-15)
                self.assertClose([sum(s.values)], [1.0], 1e-15)
        xs = cp.vector([cp.value(1.0), cp.value(2.0), cp.value(3.0)])
        s = nn.softmax(xs)
        self.assertEqual(count_ops(s)["max"], 2)            # x - max(x): one max reduction
        self.assertClose(evaluate(s, binary32=False), [math.exp(x - 3) / sum(math.exp(y - 3) for y in (1, 2, 3))
                                                       for x in (1, 2, 3)], 1e-12)
        with self.assertRaises(ValueError):
            nn.softmax(cp.tensor([[1.0, 2.0]]))
        with self.assertRaises(TypeError):
            nn.softmax([1.0, 2.0])

    def test_linear(self) -> None:
        nn = cp.nn
        W = [[1, 2], [3, 4], [5, -6]]
        bias = [0.5, -1, 2]
        x = [1.5, -2.0]
        want = [sum(W[o][i] * x[i] for i in range(2)) for o in range(3)]
        y = nn.linear(cp.vector(x), W)
        self.assertIs(type(y), cp.vector)
        self.assertEqual(list(y.values), want)
        self.assertEqual(list(nn.linear(cp.vector(x), W, bias).values), [w + b for w, b in zip(want, bias)])
        self.assertEqual(nn.linear(x, cp.tensor(W)).tolist(), want)
        batch = [[1.5, -2.0], [0.0, 3.0]]
        yb = nn.linear(cp.tensor(batch), W, bias)
        self.assertEqual(yb.shape, (2, 3))
        self.assertEqual(yb.tolist(), [[sum(W[o][i] * r[i] for i in range(2)) + bias[o] for o in range(3)]
                                       for r in batch])

    def conv2d_ref(self, x: Any, w: Any, bias: Any, stride: Tuple[int, int], pad: Tuple[int, int],
                   dil: Tuple[int, int]) -> Any:
        N, C, H, W = len(x), len(x[0]), len(x[0][0]), len(x[0][0][0])
        O, kh, kw = len(w), len(w[0][0]), len(w[0][0][0])
        oh = (H + 2 * pad[0] - dil[0] * (kh - 1) - 1) // stride[0] + 1
        ow = (W + 2 * pad[1] - dil[1] * (kw - 1) - 1) // stride[1] + 1
        out = [[[[0.0] * ow for _ in range(oh)] for _ in range(O)] for _ in range(N)]
        for n, o, i, j in itertools.product(range(N), range(O), range(oh), range(ow)):
            s = 0.0
            for c, u, v in itertools.product(range(C), range(kh), range(kw)):
                yy = i * stride[0] - pad[0] + u * dil[0]
                xx = j * stride[1] - pad[1] + v * dil[1]
                if 0 <= yy < H and 0 <= xx < W:
                    s += x[n][c][yy][xx] * w[o][c][u][v]
            out[n][o][i][j] = s + (bias[o] if bias is not None else 0.0)
        return out

    def test_conv2d(self) -> None:
        nn = cp.nn
        rng = random.Random(12)

        def rand(*shape: int) -> Any:
            return nest([float(rng.randint(-3, 3)) for _ in range(math.prod(shape))], shape)
        for N, C, H, W, O, kh, kw, stride, pad, dil, with_bias in (
                (1, 1, 4, 4, 1, 3, 3, 1, 0, 1, False), (2, 2, 5, 6, 3, 3, 2, 1, 1, 1, True),
                (1, 3, 7, 7, 2, 3, 3, 2, 1, 1, True), (1, 1, 6, 5, 1, 2, 2, 1, 0, 2, False),
                (2, 1, 5, 5, 2, 3, 3, (2, 1), (1, 0), (1, 2), True)):
            x, w = rand(N, C, H, W), rand(O, C, kh, kw)
            b = [float(rng.randint(-3, 3)) for _ in range(O)] if with_bias else None
            pair = lambda p: p if isinstance(p, tuple) else (p, p)  # noqa: E731
            want = self.conv2d_ref(x, w, b, pair(stride), pair(pad), pair(dil))
            with self.subTest(shape=(N, C, H, W), kernel=(O, kh, kw), stride=stride, pad=pad, dil=dil):
                got = nn.conv2d(cp.tensor(x), w, b, stride, pad, dil)
                self.assertIs(type(got), cp.tensor)
                self.assertEqual(got.tolist(), want)
                if N == 1:
                    self.assertEqual(nn.conv2d(x[0], w, b, stride, pad, dil).tolist(), want[0])
        with self.assertRaisesRegex(ValueError, "channels"):
            nn.conv2d(rand(2, 4, 4), rand(1, 3, 2, 2))
        with self.assertRaisesRegex(ValueError, "does not fit"):
            nn.conv2d(rand(1, 2, 2), rand(1, 1, 3, 3))
        with self.assertRaises(ValueError):
            nn.conv2d(rand(4, 4), rand(1, 1, 2, 2))

    def test_conv1d(self) -> None:
        nn = cp.nn
        rng = random.Random(13)
        for N, C, L, O, k, stride, pad, dil in ((1, 1, 8, 1, 3, 1, 0, 1), (2, 2, 9, 3, 2, 2, 1, 1),
                                                (1, 3, 10, 2, 3, 1, 2, 2)):
            x = [[[float(rng.randint(-3, 3)) for _ in range(L)] for _ in range(C)] for _ in range(N)]
            w = [[[float(rng.randint(-3, 3)) for _ in range(k)] for _ in range(C)] for _ in range(O)]
            b = [1.0 * o for o in range(O)]
            ol = (L + 2 * pad - dil * (k - 1) - 1) // stride + 1
            want = [[[sum(x[n][c][t * stride - pad + u * dil] * w[o][c][u] for c in range(C) for u in range(k)
                          if 0 <= t * stride - pad + u * dil < L) + b[o] for t in range(ol)] for o in range(O)]
                    for n in range(N)]
            with self.subTest(N=N, C=C, L=L, O=O, k=k):
                self.assertEqual(nn.conv1d(cp.tensor(x), w, b, stride, pad, dil).tolist(), want)
                self.assertEqual(nn.conv1d(x[0], w, b, stride, pad, dil).tolist(), want[0])

    def test_conv_graph_is_a_sum_of_products(self) -> None:
        x, nx = inputs((1, 2, 2))
        w = [[[[0.5, 2.0]]]]
        y = cp.nn.conv2d(x, w)
        self.assertEqual(y.shape, (1, 2, 1))
        self.assertEqual(expr(y.values[0]), ("add", ("mul", nx[0][0][0]._node, const(0.5)),
                                             ("mul", nx[0][0][1]._node, const(2.0))))

    def test_pools(self) -> None:
        nn = cp.nn
        rng = random.Random(14)
        img = [[[float(rng.randint(-9, 9)) for _ in range(6)] for _ in range(5)] for _ in range(2)]   # (C, H, W)

        def pool_ref(x: Any, k: Tuple[int, int], s: Tuple[int, int], p: Tuple[int, int], kind: str) -> Any:
            H, W = len(x[0]), len(x[0][0])
            oh = (H + 2 * p[0] - k[0]) // s[0] + 1
            ow = (W + 2 * p[1] - k[1]) // s[1] + 1
            out = []
            for ch in x:
                rows = []
                for i in range(oh):
                    row = []
                    for j in range(ow):
                        win = [ch[yy][xx] for yy in range(i * s[0] - p[0], i * s[0] - p[0] + k[0])
                               for xx in range(j * s[1] - p[1], j * s[1] - p[1] + k[1]) if 0 <= yy < H and 0 <= xx < W]
                        row.append(max(win) if kind == "max" else sum(win) / (k[0] * k[1]))
                    rows.append(row)
                out.append(rows)
            return out
        for k, s, p in (((2, 2), None, (0, 0)), ((3, 3), (1, 1), (1, 1)), ((2, 3), (2, 1), (1, 0)), ((5, 6), None, (0, 0))):
            with self.subTest(k=k, s=s, p=p):
                stride = s if s is not None else k
                self.assertEqual(nn.max_pool2d(img, k, s, p).tolist(), pool_ref(img, k, stride, p, "max"))
                self.assertClose(nn.avg_pool2d(cp.tensor(img), k, s, p).tolist(), pool_ref(img, k, stride, p, "avg"),
                                 1e-15)
                batched = nn.max_pool2d(cp.tensor([img, img]), k, s, p)
                self.assertEqual(batched.tolist(), [pool_ref(img, k, stride, p, "max")] * 2)
        sig = [[1.0, 3.0, 2.0, 4.0, -1.0]]
        self.assertEqual(nn.max_pool1d(sig, 2).tolist(), [[3.0, 4.0]])
        self.assertEqual(nn.avg_pool1d(sig, 2, padding=1).tolist(), [[0.5, 2.5, 1.5]])
        self.assertEqual(nn.max_pool1d([sig, sig], 3, stride=1).tolist(), [[[3.0, 4.0, 4.0]]] * 2)
        with self.assertRaisesRegex(ValueError, "half the kernel"):
            nn.max_pool2d(img, 2, padding=2)
        g = nn.global_avg_pool2d(img)
        self.assertEqual(g.shape, (2,))
        self.assertClose(g.tolist(), [sum(flat_of(ch)) / 30 for ch in img], 1e-15)
        self.assertEqual(nn.global_avg_pool2d([img, img]).shape, (2, 2))
        with self.assertRaises(ValueError):
            nn.global_avg_pool2d([[1.0, 2.0]])


# ---- interp and lerp --------------------------------------------------------------------

def interp_ref(x: float, xp: Sequence[float], fp: Sequence[float], method: str) -> float:
    if math.isnan(x):
        return NAN if method == "linear" else fp[0]
    if x <= xp[0]:
        return fp[0]
    if x >= xp[-1]:
        return fp[-1]
    i = max(k for k in range(len(xp) - 1) if xp[k] <= x)
    lo, hi = xp[i], xp[i + 1]
    if method == "previous":
        return fp[i]
    if method == "nearest":
        return fp[i + 1] if x >= lo + (hi - lo) / 2 else fp[i]
    t = (x - lo) / (hi - lo)
    return fp[i] + t * (fp[i + 1] - fp[i])


class Interp(Case):
    XP = [0.0, 1.0, 2.5, 4.0]
    FP = [10.0, 20.0, -5.0, 7.0]
    XS = [-1.0, 0.0, 0.25, 0.5, 1.0, 1.75, 2.0, 2.5, 3.25, 3.9, 4.0, 9.0, -INF, INF]

    def test_numbers(self) -> None:
        for method in ("linear", "previous", "nearest"):
            for x in self.XS + [NAN]:
                with self.subTest(method=method, x=x):
                    self.assertClose([cp.interp(x, self.XP, self.FP, method)],
                                     [interp_ref(x, self.XP, self.FP, method)], 1e-12)
        self.assertEqual(cp.interp(2.5, [1, 2, 3], [10, 20, 30]), 25.0)
        self.assertEqual(cp.interp(2.5, [1, 2, 3], [10, 20, 30], "nearest"), 30)     # a midpoint: the upper one
        self.assertEqual(cp.interp(cp.vector([0.5, 3.0]), [0, 1, 4], [0, 10, 40]).values, (5.0, 30.0))

    def test_traced(self) -> None:
        x = cp.value(0.0)
        for method in ("linear", "previous", "nearest"):
            y = cp.interp(x, self.XP, self.FP, method)
            for xv in self.XS + [NAN] + [float(p) for p in self.XP]:
                with self.subTest(method=method, x=xv):
                    # The slopes are binary32 constants: agreement to their precision.
                    self.assertClose([evaluate(y, {x: xv}, binary32=False)],
                                     [interp_ref(xv, self.XP, self.FP, method)], 1e-6)
        exact = cp.interp(x, [0.0, 0.1, 0.3], [1.0, 2.0, 5.0])
        self.assertEqual([evaluate(exact, {x: p}) for p in (0.0, f32(0.1), f32(0.3))], [1.0, 2.0, 5.0])
        v = cp.interp(cp.vector([x, 2.0]), self.XP, self.FP)
        self.assertIs(type(v), cp.vector)
        t = cp.value(1.0)
        traced_table = cp.interp(1.5, [0.0, t, 3.0], [0.0, 1.0, 0.0])
        self.assertClose([evaluate(traced_table, {t: 1.0}, binary32=False)], [0.75], 1e-12)

    def test_errors(self) -> None:
        with self.assertRaisesRegex(ValueError, "method"):
            cp.interp(1.0, [0, 1], [0, 1], "cubic")
        with self.assertRaisesRegex(ValueError, "increasing"):
            cp.interp(1.0, [0, 2, 1], [0, 1, 2])
        with self.assertRaisesRegex(ValueError, "same length"):
            cp.interp(1.0, [0, 1, 2], [0, 1])
        with self.assertRaisesRegex(ValueError, "at least 2"):
            cp.interp(1.0, [0], [0])
        with self.assertRaises(TypeError):
            cp.interp("a", [0, 1], [0, 1])

    def test_lerp(self) -> None:
        self.assertEqual(cp.lerp(1.0, 3.0, 0.25), 1.0 + (3.0 - 1.0) * 0.25)
        a, b, t = cp.value(1.0), cp.value(3.0), cp.value(0.5)
        self.assertEqual(expr(cp.lerp(a, b, t)), ("add", a._node, ("mul", ("sub", b._node, a._node), t._node)))
        r = cp.lerp(cp.vector([0, 0]), cp.vector([2, 4]), 0.5)
        self.assertIs(type(r), cp.vector)
        self.assertEqual(r.values, (1.0, 2.0))
        self.assertEqual(cp.lerp(cp.tensor([[0.0]]), cp.tensor([[1.0]]), 0.25).tolist(), [[0.25]])
        with self.assertRaisesRegex(ValueError, "shape"):
            cp.lerp(cp.vector([1, 2]), cp.vector([1, 2, 3]), 0.5)
        with self.assertRaises(TypeError):
            cp.lerp(cp.vector([1, 2]), 1.0, 0.5)
        with self.assertRaises(TypeError):
            cp.lerp("a", 1.0, 0.5)


# ---- Sorting ------------------------------------------------------------------------------

def sort_key(x: float) -> Tuple[int, float]:
    return (1, 0.0) if isinstance(x, float) and math.isnan(x) else (0, x)


class Sorting(Case):
    def test_constants_sort_while_tracing(self) -> None:
        v = cp.vector([3.0, NAN, 1.0, 2.0, 1.0])
        s = cp.sort(v)
        self.assertIs(type(s), cp.vector)
        self.assertEqual(s.values[:4], (1.0, 1.0, 2.0, 3.0))
        self.assertTrue(math.isnan(s.values[4]))
        self.assertEqual(cp.argsort(v).values, (2, 4, 3, 0, 1))          # stable, NaN last
        self.assertEqual(cp.argsort(cp.vector([3, 1, 2, 1])).values, (1, 3, 2, 0))
        self.assertIs(type(cp.sort(cp.tensor([2, 1]))), cp.tensor)
        self.assertEqual(cp.sort(cp.tensor([2, 1])).values, (1, 2))
        self.assertIs(type(cp.argsort(cp.tensor([2, 1]))), cp.vector)
        self.assertEqual(cp.filters.sort(cp.vector([2, 1])).values, (1, 2))
        self.assertEqual(cp.filters.argsort(cp.vector([2, 1])).values, (1, 0))
        for bad in (cp.tensor([[1, 2]]), cp.vector([])):
            with self.assertRaises(ValueError):
                cp.sort(bad)
            with self.assertRaises(ValueError):
                cp.argsort(bad)
        with self.assertRaises(TypeError):
            cp.sort([3, 1])

    def test_network_size(self) -> None:
        for n in range(1, 18):
            with self.subTest(n=n):
                xs = cp.vector([cp.value(0) for _ in range(n)])
                comparators = count_ops(cp.sort(xs)).get("lt", 0)     # one comparison per compare-exchange
                bound = n * math.log2(n) ** 2 if n > 1 else 0
                self.assertLessEqual(comparators, bound)
                if n > 1:
                    self.assertLess(comparators, bound)
                    self.assertGreaterEqual(comparators, n - 1)      # at least a chain

    def check_network(self, n: int, rng: random.Random, floats: bool) -> None:
        xs = [cp.value(0.0 if floats else 0) for _ in range(n)]
        s = cp.sort(cp.vector(xs))
        idx = cp.argsort(cp.vector(xs))
        self.assertEqual({e.dtype if isinstance(e, cp.value) else type(e).__name__ for e in idx.values}, {"int"})
        pool = [-2.0, -1.0, 0.0, 1.0, 1.0, 2.5, NAN, -INF, INF] if floats else [-3, -1, 0, 0, 2, 5]
        for _ in range(6):
            data = [rng.choice(pool) for _ in range(n)]
            env = dict(zip(xs, data))
            want = sorted(data, key=sort_key)
            got = evaluate(s, env)
            self.assertEqual([sort_key(g) for g in got], [sort_key(w) for w in want], (data, got))
            self.assertEqual(evaluate(idx, env), sorted(range(n), key=lambda i: sort_key(data[i])), data)

    def test_traced_networks_sort(self) -> None:
        rng = random.Random(21)
        for n in range(1, 18):
            with self.subTest(n=n):
                self.check_network(n, rng, floats=True)
                self.check_network(n, rng, floats=False)

    def test_traced_containers_keep_their_kind(self) -> None:
        a, b = cp.value(2.0), cp.value(1.0)
        self.assertIs(type(cp.sort(cp.tensor([a, b]))), cp.tensor)
        q = cp.sort(cp.quaternion(a, b, 0.5, 3.0))
        self.assertIs(type(q), cp.quaternion)
        self.assertEqual(evaluate(list(q.values)), [0.5, 1.0, 2.0, 3.0])
        self.assertEqual(evaluate(cp.argsort(cp.quaternion(a, b, 0.5, 3.0))), [2, 1, 0, 3])
        mixed = cp.sort(cp.vector([a, 5, b]))      # numbers among values
        self.assertEqual(evaluate(mixed), [1.0, 2.0, 5.0])


# ---- grad with containers -----------------------------------------------------------------

class GradContainers(unittest.TestCase):
    def test_tensor_x(self) -> None:
        a, b = cp.value(1.0), cp.value(2.0)
        t = cp.tensor([[a, b], [b, 3.0]])
        y = a * b
        g = cp.grad(y, t)
        self.assertIs(type(g), cp.tensor)
        self.assertEqual(g.shape, (2, 2))
        self.assertEqual([expr(e) if isinstance(e, cp.value) else e for e in g.values],
                         [("grad", expr(y), a._node), ("grad", expr(y), b._node), ("grad", expr(y), b._node), 0.0])
        q = cp.grad(y, cp.quaternion(a, 1.0, b, 2.0))
        self.assertIs(type(q), cp.quaternion)
        self.assertEqual(q.values[1], 0.0)

    def test_jacobian(self) -> None:
        a, b = cp.value(1.0), cp.value(2.0)
        ys = cp.vector([a * b, a + b, 3.0])
        J = cp.grad(ys, cp.vector([a, b]))
        self.assertIs(type(J), cp.tensor)
        self.assertEqual(J.shape, (3, 2))
        for i in range(3):
            for j, x in enumerate((a, b)):
                e = J.get_scalar(i, j)
                if i == 2:
                    self.assertEqual(e, 0.0)                  # a Python-number y: nothing depends on x
                else:
                    self.assertEqual(expr(e), ("grad", expr(ys.values[i]), x._node))
        H = cp.grad(cp.tensor([[a * a, b], [a, b * a]]), cp.tensor([[a, b]]))
        self.assertEqual(H.shape, (2, 2, 1, 2))
        self.assertEqual(expr(H.get_scalar(1, 1, 0, 0)), ("grad", ("mul", b._node, a._node), a._node))
        per_element = cp.grad(cp.vector([a * b, a]), a)
        self.assertIs(type(per_element), cp.vector)
        self.assertEqual([expr(e) for e in per_element.values], [("grad", ("mul", a._node, b._node), a._node),
                                                                 ("grad", a._node, a._node)])

    def test_number_y(self) -> None:
        a = cp.value(1.0)
        self.assertEqual(cp.grad(3.0, a), 0.0)
        self.assertEqual(cp.grad(2, cp.tensor([a, a])).values, (0.0, 0.0))
        self.assertEqual(cp.grad(3.0, [a, 1.0]), [0.0, 0.0])
        self.assertEqual(cp.grad(cp.vector([1.0, 2.0]), cp.vector([a])).tolist(), [[0.0], [0.0]])


if __name__ == "__main__":
    unittest.main()
