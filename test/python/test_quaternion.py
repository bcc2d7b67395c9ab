"""Unit tests of cp.quaternion: constructors, components, the Hamilton product,
arithmetic with scalars, norms and inverses, rotations and conversions.

References are computed independently: the Hamilton product from the basis
table (i^2 = j^2 = k^2 = ijk = -1), Euler angles by composing the three axis
rotations, rotation matrices by rotating the basis vectors. The graphs traced
for copapy values are checked against the original's formulas (orig_api.md
section 11: the operations and their order) and evaluated in Python.
"""
import itertools
import math
import random
import sys
import unittest
from pathlib import Path
from typing import Any, List, Sequence, Tuple

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "python"))

import copapy as cp  # noqa: E402
from test_containers import Sym, const, evaluate, expr  # noqa: E402

Q = cp.quaternion
Quad = Tuple[float, float, float, float]

# Basis products e_a * e_b = sign * e_c for the basis 1, i, j, k (indices 0..3).
_TABLE = {
    (0, 0): (1, 0), (0, 1): (1, 1), (0, 2): (1, 2), (0, 3): (1, 3),
    (1, 0): (1, 1), (1, 1): (-1, 0), (1, 2): (1, 3), (1, 3): (-1, 2),
    (2, 0): (1, 2), (2, 1): (-1, 3), (2, 2): (-1, 0), (2, 3): (1, 1),
    (3, 0): (1, 3), (3, 1): (1, 2), (3, 2): (-1, 1), (3, 3): (-1, 0),
}


def hamilton(a: Sequence[float], b: Sequence[float]) -> List[float]:
    out = [0.0, 0.0, 0.0, 0.0]
    for (i, j), (sign, k) in _TABLE.items():
        out[k] += sign * a[i] * b[j]
    return out


def conj(q: Sequence[float]) -> List[float]:
    return [q[0], -q[1], -q[2], -q[3]]


def axis_quat(axis: int, angle: float) -> List[float]:
    q = [math.cos(angle / 2), 0.0, 0.0, 0.0]
    q[axis] = math.sin(angle / 2)
    return q


def euler_quat(roll: float, pitch: float, yaw: float) -> List[float]:
    """Yaw about z, then pitch about y, then roll about x: qz * qy * qx."""
    return hamilton(hamilton(axis_quat(3, yaw), axis_quat(2, pitch)), axis_quat(1, roll))


def rotate(q: Sequence[float], v: Sequence[float]) -> List[float]:
    n2 = sum(c * c for c in q)
    inv = [c / n2 for c in conj(q)]
    return hamilton(hamilton(q, [0.0, *v]), inv)[1:]


def values(q: Any) -> List[float]:
    return [float(c) for c in (q.values if isinstance(q, cp.ArrayBase) else q)]


class QuaternionCase(unittest.TestCase):
    def assertClose(self, got: Sequence[float], want: Sequence[float], tol: float = 1e-12) -> None:
        got, want = list(got), list(want)
        self.assertEqual(len(got), len(want))
        for g, w in zip(got, want):
            self.assertLessEqual(abs(g - w), tol, f"{got} != {want}")


class Construction(QuaternionCase):
    def test_forms(self) -> None:
        self.assertEqual(Q().values, (1.0, 0.0, 0.0, 0.0))
        self.assertEqual([type(c) for c in Q().values], [float] * 4)
        self.assertEqual(Q(1, 2, 3, 4).values, (1, 2, 3, 4))
        self.assertEqual(Q(w=0.5, z=2).values, (0.5, 0.0, 0.0, 2))
        self.assertEqual(Q([1, 2, 3, 4]).values, (1, 2, 3, 4))
        self.assertEqual(Q((1, 2, 3, 4)).values, (1, 2, 3, 4))
        self.assertEqual(Q(c for c in range(4)).values, (0, 1, 2, 3))
        self.assertEqual(Q(cp.vector([1.0, 2.0, 3.0, 4.0])).values, (1.0, 2.0, 3.0, 4.0))
        self.assertEqual(Q(Q(1, 2, 3, 4)).values, (1, 2, 3, 4))
        self.assertEqual(Q.identity().values, (1.0, 0.0, 0.0, 0.0))
        for bad in ([1, 2, 3], [1, 2, 3, 4, 5], []):
            with self.assertRaisesRegex(ValueError, "exactly 4"):
                Q(bad)
        with self.assertRaises(TypeError):
            Q(None, 0, 0, 0)
        with self.assertRaises(TypeError):
            Q(1, "a", 0, 0)
        with self.assertRaises(TypeError):
            Q([[1], [2], [3], [4]])

    def test_elements_kept_as_given(self) -> None:
        v = cp.value(2)
        q = Q(1, v, 0.5, True)
        self.assertIs(q.values[1], v)             # an int value: no conversion (quaternions do not promote)
        self.assertEqual([type(c) for c in (q.w, q.y, q.z)], [int, float, bool])
        self.assertEqual(q.dtype, "float")

    def test_components_shape_iteration_indexing(self) -> None:
        q = Q(1, 2, 3, 4)
        self.assertEqual((q.w, q.x, q.y, q.z), (1, 2, 3, 4))
        self.assertEqual((len(q), q.shape, q.ndim, q.size), (4, (4,), 1, 4))
        self.assertEqual(list(q), [1, 2, 3, 4])
        self.assertEqual([q[i] for i in range(-4, 4)], [1, 2, 3, 4, 1, 2, 3, 4])
        s = q[1:]
        self.assertIs(type(s), cp.vector)
        self.assertEqual(s.values, (2, 3, 4))
        self.assertEqual(q[::2].values, (1, 3))
        with self.assertRaises(IndexError):
            q[4]
        self.assertEqual(repr(Q(1.5, 0, -2, 3)), "quaternion(w=1.5, x=0, y=-2, z=3)")
        self.assertEqual(q.tolist(), [1, 2, 3, 4])

    def test_map(self) -> None:
        x = cp.value(1.0)
        m = Q(x, 1.0, 2.0, 3.0).map(lambda c: c * 2)
        self.assertIs(type(m), Q)
        self.assertEqual(expr(m.w), ("mul", x._node, const(2)))
        self.assertEqual(m.values[1:], (2.0, 4.0, 6.0))
        self.assertEqual(Q(1, 2, 3, 4).map(float).values, (1.0, 2.0, 3.0, 4.0))

    def test_sort_keeps_the_class(self) -> None:
        self.assertEqual(cp.argsort(Q(0.5, -1, 2, 0)).values, (1, 3, 0, 2))   # orig_api.md section 15
        s = cp.sort(Q(0.5, -1, 2, 0))
        self.assertIs(type(s), Q)
        self.assertEqual(s.values, (-1, 0, 0.5, 2))


class Products(QuaternionCase):
    def test_basis_table(self) -> None:
        basis = [Q(1, 0, 0, 0), Q(0, 1, 0, 0), Q(0, 0, 1, 0), Q(0, 0, 0, 1)]
        for a, b in itertools.product(range(4), repeat=2):
            with self.subTest(a="1ijk"[a], b="1ijk"[b]):
                sign, c = _TABLE[(a, b)]
                want = [0, 0, 0, 0]
                want[c] = sign
                self.assertEqual((basis[a] @ basis[b]).values, tuple(want))
        self.assertEqual((Q(0, 1, 0, 0) @ Q(0, 0, 1, 0)).values, (0, 0, 0, 1))   # i j = k

    def test_integer_quaternions_exactly(self) -> None:
        rng = random.Random(7)
        for _ in range(50):
            a = [rng.randint(-9, 9) for _ in range(4)]
            b = [rng.randint(-9, 9) for _ in range(4)]
            r = Q(a) @ Q(b)
            self.assertIs(type(r), Q)
            self.assertEqual(list(r.values), hamilton(a, b))

    def test_graph_order(self) -> None:
        a = [cp.value(float(i + 1)) for i in range(4)]
        b = [cp.value(float(i + 5)) for i in range(4)]
        r = Q(a) @ Q(b)
        aw, ax, ay, az = (x._node for x in a)
        bw, bx, by, bz = (x._node for x in b)

        def m(p: Any, q: Any) -> Any:
            return ("mul", p, q)
        self.assertEqual(expr(r.w), ("sub", ("sub", ("sub", m(aw, bw), m(ax, bx)), m(ay, by)), m(az, bz)))
        self.assertEqual(expr(r.x), ("sub", ("add", ("add", m(aw, bx), m(ax, bw)), m(ay, bz)), m(az, by)))
        self.assertEqual(expr(r.y), ("add", ("add", ("sub", m(aw, by), m(ax, bz)), m(ay, bw)), m(az, bx)))
        self.assertEqual(expr(r.z), ("add", ("sub", ("add", m(aw, bz), m(ax, by)), m(ay, bx)), m(az, bw)))
        self.assertEqual(evaluate(list(r.values)), hamilton([1, 2, 3, 4], [5, 6, 7, 8]))

    def test_not_with_other_objects(self) -> None:
        with self.assertRaises(TypeError):
            Q() @ 2.0  # type: ignore[operator]
        with self.assertRaises(TypeError):
            2.0 @ Q()  # type: ignore[operator]


class Arithmetic(QuaternionCase):
    def setUp(self) -> None:
        self.c = [cp.value(1.0), cp.value(2.0), 3.0, cp.value(4.0)]
        self.q = Q(self.c)

    def test_add_sub_quaternions(self) -> None:
        self.assertEqual((Q(1, 2, 3, 4) + Q(10, 20, 30, 40)).values, (11, 22, 33, 44))
        self.assertEqual((Q(1, 2, 3, 4) - Q(10, 20, 30, 40)).values, (-9, -18, -27, -36))
        r = self.q + self.q
        self.assertIs(type(r), Q)
        self.assertEqual(expr(r.w), ("add", self.c[0]._node, self.c[0]._node))
        self.assertEqual(r.y, 6.0)

    def test_scalars_share_one_constant(self) -> None:
        for name, fn, op in (("q + 2", lambda q: q + 2.0, "add"), ("2 + q", lambda q: 2.0 + q, "add"),
                             ("q - 2", lambda q: q - 2.0, "sub"), ("q * 2", lambda q: q * 2.0, "mul"),
                             ("2 * q", lambda q: 2.0 * q, "mul"), ("q / 2", lambda q: q / 2.0, "div")):
            with self.subTest(name):
                r = fn(self.q)
                self.assertIs(type(r), Q)
                self.assertEqual(expr(r.w), (op, self.c[0]._node, const(2.0)))
                self.assertIs(r.w._node.args[1], r.x._node.args[1])
                self.assertIs(r.w._node.args[1], r.z._node.args[1])
                self.assertEqual(r.y, {"add": 5.0, "sub": 1.0, "mul": 6.0, "div": 1.5}[op])

    def test_scalar_minus_quaternion_is_negation_plus(self) -> None:
        r = 2.0 - self.q
        self.assertEqual(expr(r.w), ("add", ("neg", self.c[0]._node), const(2.0)))   # (-q) + 2, as the original
        self.assertEqual(r.y, -1.0)
        self.assertEqual((1 - Q(1, 2, 3, 4)).values, (0, -1, -2, -3))

    def test_value_scalars(self) -> None:
        s = cp.value(3.0)
        for r, op in ((self.q * s, "mul"), (s * self.q, "mul"), (self.q + s, "add"), (self.q / s, "div")):
            self.assertEqual(expr(r.w), (op, self.c[0]._node, s._node))
            self.assertEqual(expr(r.y), (op, const(3.0), s._node))

    def test_negation(self) -> None:
        n = -self.q
        self.assertIs(type(n), Q)
        self.assertEqual(expr(n.x), ("neg", self.c[1]._node))
        self.assertEqual(n.y, -3.0)
        self.assertEqual((-Q(1, -2, 3, -4)).values, (-1, 2, -3, 4))

    def test_products_of_quaternions_need_at(self) -> None:
        with self.assertRaisesRegex(TypeError, "@"):
            self.q * self.q
        with self.assertRaisesRegex(TypeError, "@"):
            Q() * Q()
        with self.assertRaises(TypeError):
            Q() / Q()
        with self.assertRaises(TypeError):
            Q() + [1, 2, 3, 4]  # type: ignore[operator]
        with self.assertRaises(TypeError):
            Q() * "a"  # type: ignore[operator]

    def test_operators_a_quaternion_does_not_have(self) -> None:
        """orig_api.md 11: `q / s` is for scalars only and there is no __rtruediv__;
        docs/tracer.md: `* /` by scalars only. Componentwise 2 / w, q ** 2 ... are not
        quaternion operations and must not be computed silently."""
        for expr_ in (lambda: 2.0 / Q(1.0, 2.0, 4.0, 8.0), lambda: 2.0 / self.q, lambda: Q(1, 2, 3, 4) ** 2,
                      lambda: self.q // 2.0, lambda: self.q % 2.0, lambda: 2 ** self.q):
            with self.assertRaises(TypeError):
                expr_()

    def test_equality_with_sequences_is_elementwise(self) -> None:
        r = Q(1, 2, 3, 4) == [1, 0, 3, 0]
        self.assertEqual(list(r.values), [True, False, True, False])
        t = self.q == (1.0, 2.0, 3.0, 4.0)
        self.assertEqual(expr(t.values[0]), ("eq", self.c[0]._node, const(1.0)))
        self.assertIs(t.values[2], True)
        self.assertEqual(list((Q(1, 2, 3, 4) != Q(1, 0, 3, 0)).values), [False, True, False, True])

    def test_equality_gives_a_vector(self) -> None:
        """orig_api.md 11: `q == it` is a vector of the element comparisons (a
        quaternion of bools is not a quaternion)."""
        self.assertIs(type(Q(1, 2, 3, 4) == [1, 0, 3, 0]), cp.vector)
        self.assertIs(type(self.q != Q(1, 2, 3, 4)), cp.vector)


class NormsAndInverses(QuaternionCase):
    def test_norm_and_abs(self) -> None:
        self.assertEqual(Q(1, 2, 3, 4).norm(), math.sqrt(30))
        self.assertEqual(abs(Q(1, 2, 3, 4)), math.sqrt(30))
        c = [cp.value(1.0), 2.0, cp.value(3.0), 4.0]
        n = Q(c).norm()
        # sqrt(mixed_sum(c ** 2)): value ** 2 is c * c, the numbers 4 + 16 folded and added last.
        self.assertEqual(expr(n), ("sqrt", ("add", ("add", ("mul", c[0]._node, c[0]._node),
                                                    ("mul", c[2]._node, c[2]._node)), const(20.0))))
        self.assertEqual(expr(abs(Q(c))), expr(n))
        self.assertEqual(evaluate(n, binary32=False), math.sqrt(30))

    def test_normalize(self) -> None:
        q = Q(1, 2, 3, 4).normalize()
        self.assertIs(type(q), Q)
        self.assertClose(values(q), [c / (math.sqrt(30) + 1e-20) for c in (1, 2, 3, 4)], 0)
        self.assertEqual(Q(0, 0, 0, 0).normalize().values, (0.0, 0.0, 0.0, 0.0))   # + 1e-20: no NaN
        c = [cp.value(float(i)) for i in range(1, 5)]
        qv = Q(c).normalize()
        den = qv.w._node.args[1]
        self.assertEqual(expr(den), ("add", expr(Q(c).norm()), const(1e-20)))
        self.assertEqual([expr(e) for e in qv.values], [("div", x._node, expr(den)) for x in c])
        self.assertTrue(all(e._node.args[1] is den for e in qv.values))

    def test_conjugate(self) -> None:
        self.assertEqual(Q(1, 2, -3, 4).conjugate().values, (1, -2, 3, -4))
        x = cp.value(2.0)
        cq = Q(1.0, x, 0.0, 0.0).conjugate()
        self.assertIs(cq.w, 1.0)
        self.assertEqual(expr(cq.x), ("neg", x._node))

    def test_inverse(self) -> None:
        rng = random.Random(3)
        cases = [[4, 1, 2, 3], [1, 0, 0, 0], [0, 0, 0, 2.5]] + \
            [[rng.uniform(-3, 3) for _ in range(4)] for _ in range(20)]
        for c in cases:
            with self.subTest(q=c):
                q = Q(c)
                n2 = sum(x * x for x in c)
                self.assertClose(values(q.inverse()), [x / n2 for x in conj(c)], 1e-12)
                self.assertClose(values(q @ q.inverse()), [1, 0, 0, 0], 1e-12)
                self.assertClose(values(q.inverse() @ q), [1, 0, 0, 0], 1e-12)
        self.assertClose(values(Q(4, 1, 2, 3) @ Q(4, 1, 2, 3).inverse()), [1, 0, 0, 0], 1e-6)   # orig_api.md 11
        self.assertEqual(Q(0, 0, 0, 0).inverse().values, (1.0, 0.0, 0.0, 0.0))

    def test_inverse_graph(self) -> None:
        c = [cp.value(float(i)) for i in (4, 1, 2, 3)]
        inv = Q(c).inverse()
        norm = expr(Q(c).norm())
        n2 = ("mul", norm, norm)          # norm ** 2 expands to norm * norm
        self.assertEqual(expr(inv.w), ("div", c[0]._node, n2))
        self.assertEqual(expr(inv.y), ("div", ("neg", c[2]._node), n2))
        self.assertClose(evaluate(list((Q(c) @ inv).values), binary32=False), [1, 0, 0, 0], 1e-12)


class Rotations(QuaternionCase):
    ANGLES = [(0.0, 0.0, 0.0), (math.pi / 2, 0, 0), (0, math.pi / 2 - 1e-3, 0), (0, 0, math.pi / 2),
              (math.pi / 4, math.pi / 6, math.pi / 3), (-0.7, 0.3, 2.9), (1.2, -1.1, -3.0), (0.1, 0.2, 0.3)]

    def test_from_euler_against_axis_rotations(self) -> None:
        for r, p, y in self.ANGLES:
            with self.subTest(angles=(r, p, y)):
                self.assertClose(values(Q.from_euler(r, p, y)), euler_quat(r, p, y), 1e-12)
        q = Q.from_euler(math.pi / 2, 0, 0)                   # orig_api.md 11
        self.assertClose(values(q), [math.sqrt(2) / 2, math.sqrt(2) / 2, 0, 0], 1e-12)
        self.assertIs(type(Q.from_euler(0.1, 0.2, 0.3)), Q)

    def test_from_euler_graph(self) -> None:
        roll, pitch, yaw = cp.value(0.3), cp.value(0.2), cp.value(0.1)
        q = Q.from_euler(roll, pitch, yaw)

        def half(v: Any, fn: str) -> Any:
            return (fn, ("mul", v._node, const(0.5)))
        cy, sy = half(yaw, "cos"), half(yaw, "sin")
        ci, sp = half(pitch, "cos"), half(pitch, "sin")
        cr, sr = half(roll, "cos"), half(roll, "sin")

        def m3(a: Any, b: Any, c: Any) -> Any:
            return ("mul", ("mul", a, b), c)
        self.assertEqual(expr(q.w), ("add", m3(cr, ci, cy), m3(sr, sp, sy)))
        self.assertEqual(expr(q.x), ("sub", m3(sr, ci, cy), m3(cr, sp, sy)))
        self.assertEqual(expr(q.y), ("add", m3(cr, sp, cy), m3(sr, ci, sy)))
        self.assertEqual(expr(q.z), ("sub", m3(cr, ci, sy), m3(sr, sp, cy)))
        # The inputs hold 0.3, 0.2, 0.1 rounded to binary32.
        angles = [v._node.value for v in (roll, pitch, yaw)]
        self.assertClose(evaluate(list(q.values), binary32=False), euler_quat(*angles), 1e-12)

    def test_rotate_vector(self) -> None:
        rng = random.Random(11)
        for _ in range(20):
            q = [rng.uniform(-1, 1) for _ in range(4)]
            n = math.sqrt(sum(c * c for c in q))
            q = [c / n for c in q]
            v = [rng.uniform(-5, 5) for _ in range(3)]
            r = Q(q).rotate_vector(v)
            self.assertIs(type(r), cp.vector)
            self.assertClose(values(r), rotate(q, v), 1e-12)
            self.assertClose([math.sqrt(sum(c * c for c in values(r)))], [math.sqrt(sum(c * c for c in v))], 1e-12)
        self.assertClose(values(Q.from_euler(math.pi / 2, 0, 0).rotate_vector([0, 1, 0])), [0, 0, 1], 1e-12)
        self.assertClose(values(Q.from_euler(0, 0, math.pi / 2).rotate_vector(cp.vector([1, 0, 0]))), [0, 1, 0],
                         1e-12)
        with self.assertRaisesRegex(ValueError, "3-vector"):
            Q().rotate_vector([1, 2])

    def test_rotate_vector_graph_is_q_v_qinv(self) -> None:
        c = [cp.value(x) for x in (0.5, 0.5, -0.5, 0.5)]
        q = Q(c)
        r = q.rotate_vector([1.0, 2.0, 3.0])
        want = (q @ Q(0, 1.0, 2.0, 3.0)) @ q.inverse()
        self.assertEqual([expr(e) for e in r.values], [expr(e) for e in want.values[1:]])
        self.assertClose(evaluate(list(r.values), binary32=False), rotate([0.5, 0.5, -0.5, 0.5], [1, 2, 3]), 1e-12)

    def test_rotation_matrix(self) -> None:
        for r, p, y in self.ANGLES:
            with self.subTest(angles=(r, p, y)):
                q = Q.from_euler(r, p, y)
                m = q.toRotationMatrix()
                self.assertIs(type(m), cp.tensor)
                self.assertEqual(m.shape, (4, 4))
                rows = m.tolist()
                self.assertEqual([rows[3], [row[3] for row in rows]], [[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0]])
                # Column i is the rotated basis vector e_i.
                for i in range(3):
                    e = [0.0, 0.0, 0.0]
                    e[i] = 1.0
                    self.assertClose([rows[k][i] for k in range(3)], rotate(values(q), e), 1e-12)
                # The homogeneous matrix applied to (v, 1) rotates v.
                v = [0.3, -1.7, 2.2]
                mv = m @ cp.tensor(v + [1.0])
                self.assertClose(values(mv)[:3], values(q.rotate_vector(v)), 1e-12)
                self.assertClose([values(mv)[3]], [1.0], 0)

    def test_rotation_matrix_graph(self) -> None:
        w, x, y, z = (cp.value(v) for v in (0.5, 0.5, -0.5, 0.5))
        m = Q(w, x, y, z).toRotationMatrix()
        x2, y2, z2 = (("add", a._node, a._node) for a in (x, y, z))
        yy, zz = ("mul", y._node, y2), ("mul", z._node, z2)
        xy, wz = ("mul", x._node, y2), ("mul", w._node, z2)
        self.assertEqual(expr(m.get_scalar(0, 0)), ("sub", const(1.0), ("add", yy, zz)))
        self.assertEqual(expr(m.get_scalar(0, 1)), ("sub", xy, wz))
        self.assertEqual(expr(m.get_scalar(1, 0)), ("add", xy, wz))
        self.assertEqual(m.get_scalar(3, 3), 1.0)
        self.assertEqual(m.get_scalar(0, 3), 0.0)

    def test_euler_round_trip(self) -> None:
        for r, p, y in self.ANGLES + [(math.pi / 4, math.pi / 6, math.pi / 3)]:
            with self.subTest(angles=(r, p, y)):
                e = Q.from_euler(r, p, y).toEulerAngles()
                self.assertIs(type(e), cp.vector)
                self.assertClose(values(e), [r, p, y], 1e-9)

    def test_euler_graph_clamps_pitch(self) -> None:
        w, x, y, z = (cp.value(v) for v in (0.5, 0.5, -0.5, 0.5))
        e = Q(w, x, y, z).toEulerAngles()
        arg = ("mul", const(2), ("sub", ("mul", w._node, y._node), ("mul", z._node, x._node)))
        self.assertEqual(expr(e.values[1]), ("asin", ("min", ("max", arg, const(-1.0)), const(1.0))))
        self.assertEqual(e.values[0]._node.op, "atan2")
        self.assertEqual(e.values[2]._node.op, "atan2")
        # A quaternion slightly off unit length: the clamp keeps asin's argument in range (no NaN).
        s = 1 / math.sqrt(2) * (1 + 1e-7)
        env = {w: s, x: 0.0, y: s, z: 0.0}
        self.assertClose([evaluate(e.values[1], env, binary32=False)], [math.pi / 2], 1e-12)

    def test_axis_angle(self) -> None:
        axis, angle = Q.identity().toAxisAngle()
        self.assertIs(type(axis), cp.vector)
        self.assertEqual((axis.values, angle), ((1.0, 0.0, 0.0), 0.0))
        axis, angle = Q.from_euler(math.pi / 2, 0, 0).toAxisAngle()     # orig_api.md 11
        self.assertClose(values(axis), [1, 0, 0], 1e-12)
        self.assertClose([angle], [math.pi / 2], 1e-12)
        rng = random.Random(5)
        for _ in range(20):
            a = [rng.uniform(-1, 1) for _ in range(3)]
            n = math.sqrt(sum(c * c for c in a))
            a = [c / n for c in a]
            theta = rng.uniform(0.1, 3.0)
            scale = rng.uniform(0.5, 2.0)     # toAxisAngle normalizes first
            q = Q([scale * math.cos(theta / 2)] + [scale * math.sin(theta / 2) * c for c in a])
            axis, angle = q.toAxisAngle()
            self.assertClose([angle], [theta], 1e-9)
            self.assertClose(values(axis), a, 1e-9)

    def test_axis_angle_traced(self) -> None:
        c = [cp.value(v) for v in (1.0, 0.0, 0.0, 0.0)]
        axis, angle = Q(c).toAxisAngle()
        self.assertEqual(angle._node.op, "select")
        self.assertEqual([e._node.op for e in axis.values], ["select"] * 3)
        self.assertEqual(evaluate([angle] + list(axis.values), binary32=False), [0.0, 1.0, 0.0, 0.0])
        theta = 1.3
        env = dict(zip(c, [math.cos(theta / 2), 0.0, math.sin(theta / 2), 0.0]))
        got = evaluate([angle] + list(axis.values), env, binary32=False)
        self.assertClose(got, [theta, 0.0, 1.0, 0.0], 1e-12)


if __name__ == "__main__":
    unittest.main()
