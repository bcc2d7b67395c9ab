"""Unit tests of the tracer's containers (vector, tensor/matrix, array): construction,
the shape API, indexing, broadcasting of every operator, reductions and matrix
products. No NumPy: references are nested Python lists and loops.

The graph checks compare the recorded operations, their operand order and the
sharing of constant nodes with what the original copapy builds
(/work/orig_api.md, sections 2-10): results are only bit-identical to the
original's float32 operations if the operations are.

This module also holds helpers the other new test modules import: `expr`
(a value's graph as nested tuples), `Sym` (expected graphs built without the
tracer), `evaluate` (runs traced nodes in Python, binary32/int32, written from
docs/dag-format.md rather than from the tracer) and `count_ops`.

    PYTHONPATH=tools/python python3 -m unittest discover -s test/python -t test/python
"""
import itertools
import math
import operator
import struct
import sys
import unittest
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "python"))

import copapy as cp  # noqa: E402
from test_tracer import export_doc  # noqa: E402

INT_MIN, INT_MAX = -(2 ** 31), 2 ** 31 - 1


# ---- Helpers shared by the new test modules ------------------------------------------

def f32(x: float) -> float:
    """x rounded to binary32 (inf beyond the range)."""
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


def const(x: Any) -> Tuple[str, str, Any]:
    """The expected form of a constant node for Python number x in `expr` trees."""
    if isinstance(x, bool):
        return ("const", "bool", x)
    if isinstance(x, int):
        return ("const", "int", x)
    return ("const", "float", f32(x))


def expr(x: Any) -> Any:
    """The graph of x as nested tuples: (op, arg, ...) for operations,
    ("const", dtype, value) for constants, the Node object itself for inputs
    and states (compared by identity), and Python numbers as they are."""
    if isinstance(x, cp.value):
        x = x._node
    if not hasattr(x, "op"):
        return x
    if x.op in ("input", "state"):
        return x
    if x.op == "const":
        return ("const", x.dtype, x.value)
    return (x.op,) + tuple(expr(a) for a in x.args)


class Sym:
    """Expected graphs, built the way the original copapy's operators would,
    without calling the tracer: operands are expr() trees or Python numbers."""

    @staticmethod
    def leaf(x: Any) -> Any:
        if isinstance(x, (bool, int, float)):
            return const(x)
        return x

    @staticmethod
    def is_num(x: Any) -> bool:
        return isinstance(x, (bool, int, float))

    @classmethod
    def op(cls, name: str, a: Any, b: Any, pyop: Callable[[Any, Any], Any]) -> Any:
        if cls.is_num(a) and cls.is_num(b):
            return pyop(a, b)
        return (name, cls.leaf(a), cls.leaf(b))

    @classmethod
    def add(cls, a: Any, b: Any) -> Any:
        return cls.op("add", a, b, operator.add)

    @classmethod
    def sub(cls, a: Any, b: Any) -> Any:
        return cls.op("sub", a, b, operator.sub)

    @classmethod
    def mul(cls, a: Any, b: Any) -> Any:
        return cls.op("mul", a, b, operator.mul)

    @classmethod
    def div(cls, a: Any, b: Any) -> Any:
        return cls.op("div", a, b, operator.truediv)

    @classmethod
    def mixed_sum(cls, items: Iterable[Any]) -> Any:
        """orig_api.md section 4: the numbers summed first (from int 0), the values
        left to right, then one add of the two unless the numbers sum to 0."""
        items = list(items)
        consts: Any = 0
        for x in items:
            if cls.is_num(x):
                consts = consts + x
        values = [x for x in items if not cls.is_num(x)]
        if not values:
            return consts
        total = values[0]
        for v in values[1:]:
            total = ("add", total, v)
        return total if consts == 0 else ("add", total, const(consts))

    @classmethod
    def builtin_sum(cls, items: Iterable[Any]) -> Any:
        """Python's sum() over values and numbers: 0 + first is first, then left to right."""
        items = list(items)
        total = items[0]
        for x in items[1:]:
            total = cls.add(total, x)
        return total


def _wrap32(x: int) -> int:
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x & 0x80000000 else x


def _to_int(x: Any) -> int:
    if isinstance(x, float):
        if math.isnan(x):
            return 0
        if x >= 2.0 ** 31:
            return INT_MAX
        if x < -(2.0 ** 31):
            return INT_MIN
        return int(x)
    return int(x)


def _ieee_div(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _libm(fn: Callable[..., float]) -> Callable[..., float]:
    def call(*args: float) -> float:
        try:
            return fn(*(float(a) for a in args))
        except (ValueError, OverflowError):
            return math.nan
    return call


def _keep_zero_sign(fn: Callable[[float], Any]) -> Callable[[float], float]:
    def call(x: float) -> float:
        x = float(x)
        if not math.isfinite(x):
            return x
        r = float(fn(x))
        return math.copysign(r, x) if r == 0 else r
    return call


def _round_half_even(x: float) -> float:
    x = float(x)
    if not math.isfinite(x):
        return x
    r = float(round(x))
    return math.copysign(r, x) if r == 0 else r


def _sign(x: Any) -> Any:
    if isinstance(x, float) and (x == 0 or math.isnan(x)):
        return x
    return (x > 0) - (x < 0)


def _float_floordiv(a: float, b: float) -> float:
    q = _ieee_div(a, b)
    return float(math.floor(q)) if math.isfinite(q) else q


def _int_floordiv(a: int, b: int) -> int:
    return 0 if b == 0 else a // b


def _int_mod(a: int, b: int) -> int:
    return 0 if b == 0 else a % b


_UNARY = {
    "neg": operator.neg, "abs": abs, "sign": _sign,
    "sqrt": _libm(math.sqrt), "exp": _libm(math.exp), "log": _libm(lambda x: -math.inf if x == 0 else math.log(x)),
    "sin": _libm(math.sin), "cos": _libm(math.cos), "tan": _libm(math.tan), "asin": _libm(math.asin),
    "acos": _libm(math.acos), "atan": _libm(math.atan), "tanh": _libm(math.tanh),
    "floor": _keep_zero_sign(math.floor), "ceil": _keep_zero_sign(math.ceil), "trunc": _keep_zero_sign(math.trunc),
    "round": _round_half_even,
}
_COMPARE = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge, "eq": operator.eq,
            "ne": operator.ne}


def _apply(op: str, dtype: str, args: List[Any]) -> Any:
    if op in _UNARY:
        return _UNARY[op](args[0])
    if op in _COMPARE:
        return _COMPARE[op](args[0], args[1])
    if op == "select":
        return args[1] if args[0] != 0 else args[2]
    if op == "cast":
        if dtype == "float":
            return float(args[0])
        if dtype == "int":
            return _to_int(args[0])
        return args[0] != 0
    a, b = args
    ints = dtype in ("int", "bool")
    if op == "add":
        return a + b
    if op == "sub":
        return a - b
    if op == "mul":
        return a * b
    if op == "div":
        return _ieee_div(float(a), float(b))
    if op == "floordiv":
        return _int_floordiv(int(a), int(b)) if ints else _float_floordiv(float(a), float(b))
    if op == "mod":
        if ints:
            return _int_mod(int(a), int(b))
        return math.nan if b == 0 else float(a) - float(b) * _float_floordiv(float(a), float(b))
    if op == "pow":
        if ints:
            return int(a) ** int(b)
        return _libm(math.pow)(a, b)
    if op == "min":
        return b if b < a else a
    if op == "max":
        return b if b > a else a
    if op == "atan2":
        return math.atan2(float(a), float(b))
    if op == "hypot":
        return math.hypot(float(a), float(b))
    if op in ("and", "or", "xor"):
        r = {"and": operator.and_, "or": operator.or_, "xor": operator.xor}[op](int(a), int(b))
        return bool(r) if dtype == "bool" else r
    if op == "lshift":
        return int(a) << (int(b) % 32)
    if op == "rshift":
        return int(a) >> (int(b) % 32)
    raise AssertionError(f"evaluate(): no rule for op {op!r}")


def evaluate(x: Any, env: Optional[Dict[Any, Any]] = None, binary32: bool = True) -> Any:
    """The value of x (a value, Python number, container or list of them) computed
    in Python from the recorded nodes: inputs take env[input] (keys are values)
    or their initial value. Float results are rounded to binary32 (exact for
    + - * / sqrt) unless binary32 is False, ints wrap to int32. Containers give
    nested lists."""
    by_node = {k._node: v for k, v in (env or {}).items()}
    memo: Dict[Any, Any] = {}

    def run(root: Any) -> Any:
        stack = [root]
        while stack:
            n = stack[-1]
            if n in memo:
                stack.pop()
                continue
            pending = [a for a in n.args if a not in memo]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            if n.op in ("input", "state"):
                r = by_node.get(n, n.value)
            elif n.op == "const":
                r = n.value
            else:
                r = _apply(n.op, n.dtype, [memo[a] for a in n.args])
            if n.dtype == "float":
                r = float(r)
                r = f32(r) if binary32 else r
            elif n.dtype == "int":
                r = _wrap32(_to_int(r))
            else:
                r = bool(r)
            memo[n] = r
        return memo[root]

    def go(item: Any) -> Any:
        if isinstance(item, cp.value):
            return run(item._node)
        if isinstance(item, cp.ArrayBase):
            flat = [go(e) for e in item.values]
            return nest(flat, item.shape)
        if isinstance(item, (list, tuple)):
            return [go(e) for e in item]
        return item
    return go(x)


def reachable(roots: Iterable[Any]) -> List[Any]:
    """Every node reachable from the given values/containers (each once)."""
    seen: Dict[Any, None] = {}
    stack = []
    for r in roots:
        if isinstance(r, cp.ArrayBase):
            stack.extend(e._node for e in r.values if isinstance(e, cp.value))
        elif isinstance(r, cp.value):
            stack.append(r._node)
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen[n] = None
        stack.extend(n.args)
    return list(seen)


def count_ops(*roots: Any) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for n in reachable(roots):
        counts[n.op] = counts.get(n.op, 0) + 1
    return counts


def nest(flat: Sequence[Any], shape: Sequence[int]) -> Any:
    """Row-major flat data as nested lists of `shape` (the element for shape ())."""
    if not shape:
        return flat[0]
    step = 1
    for d in shape[1:]:
        step *= d
    return [nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])] if len(shape) > 1 \
        else list(flat[:shape[0]])


def flat_of(nested: Any) -> List[Any]:
    if isinstance(nested, list):
        return [x for item in nested for x in flat_of(item)]
    return [nested]


def shape_of(nested: Any) -> Tuple[int, ...]:
    if isinstance(nested, list):
        return (len(nested),) + (shape_of(nested[0]) if nested else ())
    return ()


def at(nested: Any, index: Sequence[int]) -> Any:
    for i in index:
        nested = nested[i]
    return nested


def inputs(shape: Sequence[int], start: float = 1.0, dtype: Any = float) -> Tuple[Any, List[Any]]:
    """A tensor of fresh inputs of `shape` and their nested list."""
    n = 1
    for d in shape:
        n *= d
    vals = [cp.value(dtype(start + i)) for i in range(n)]
    return cp.tensor(vals, tuple(shape)), nest(vals, shape)


def node(x: Any) -> Any:
    return x._node


# ---- Construction -----------------------------------------------------------------------

class Construction(unittest.TestCase):
    def test_tensor_from_nested_lists(self) -> None:
        data = [[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 10], [11, 12]]]
        t = cp.tensor(data)
        self.assertEqual(t.shape, (2, 3, 2))
        self.assertEqual(t.values, tuple(range(1, 13)))
        self.assertEqual(t.tolist(), data)
        self.assertEqual(cp.tensor([]).shape, (0,))
        self.assertEqual(cp.tensor([[]]).shape, (1, 0))
        self.assertEqual(cp.tensor(((1, 2), (3, 4))).tolist(), [[1, 2], [3, 4]])

    def test_tensor_from_scalars_vectors_tensors(self) -> None:
        x = cp.value(2.5)
        s = cp.tensor(x)
        self.assertEqual((s.shape, s.ndim), ((), 0))
        self.assertIs(s.values[0], x)
        self.assertIs(s.tolist(), x)
        self.assertEqual(cp.tensor(7).tolist(), 7)
        v = cp.vector([x, 1.0])
        tv = cp.tensor(v)
        self.assertIs(type(tv), cp.tensor)
        self.assertEqual(tv.shape, (2,))
        self.assertIs(tv.values[0], x)
        t2 = cp.tensor(cp.tensor([[1, 2], [3, 4]]))
        self.assertEqual(t2.tolist(), [[1, 2], [3, 4]])
        # Rows given as vectors or tensors stack into one more dimension.
        stacked = cp.tensor([v, cp.vector([3.0, 4.0])])
        self.assertEqual(stacked.shape, (2, 2))
        self.assertIs(stacked.values[0], x)
        self.assertEqual(stacked.values[1:], (1.0, 3.0, 4.0))

    def test_tensor_with_shape(self) -> None:
        t = cp.tensor(range(6), (2, 3))
        self.assertEqual(t.tolist(), [[0, 1, 2], [3, 4, 5]])
        self.assertEqual(cp.tensor([1, 2, 3, 4], [4, 1]).shape, (4, 1))
        self.assertEqual(cp.tensor([5], ()).shape, ())
        # 0-d tensors among the values are unwrapped.
        self.assertEqual(cp.tensor(list(cp.tensor([1, 2])), (1, 2)).values, (1, 2))
        with self.assertRaisesRegex(ValueError, r"number of values \(5\) does not match shape \(2, 3\)"):
            cp.tensor(range(5), (2, 3))
        with self.assertRaisesRegex(ValueError, "sequence of scalars"):
            cp.tensor(3.0, (1,))
        with self.assertRaises((TypeError, ValueError)):
            cp.tensor([[1, 2], [3, 4]], (2,))     # nested data with a shape: the rows are not scalars
        with self.assertRaises(ValueError):
            cp.tensor([1, 2], (-1, -2))

    def test_ragged_data_is_an_error(self) -> None:
        for data in ([[1, 2], [3]], [[1, 2], 3], [1, [2, 3]], [[[1], [2]], [[3]]], [[[1, 2]], [[3], [4]]]):
            with self.subTest(data=data):
                with self.assertRaisesRegex(ValueError, "ragged"):
                    cp.tensor(data)
        with self.assertRaises(TypeError):
            cp.tensor([["a", "b"]])
        with self.assertRaises(TypeError):
            cp.tensor("ab")

    def test_dtype_promotion_of_numbers(self) -> None:
        t = cp.tensor([[1, 2.0], [True, 3]])
        self.assertEqual(t.values, (1.0, 2.0, 1.0, 3.0))
        self.assertEqual([type(x) for x in t.values], [float] * 4)
        self.assertEqual(t.dtype, "float")
        u = cp.tensor([True, 2, False])
        self.assertEqual([(type(x), x) for x in u.values], [(int, 1), (int, 2), (int, 0)])
        self.assertEqual(u.dtype, "int")
        b = cp.tensor([True, False])
        self.assertEqual([type(x) for x in b.values], [bool, bool])
        self.assertEqual(b.dtype, "bool")
        self.assertEqual(cp.tensor([]).dtype, "float")   # empty: float, as the original
        self.assertEqual(cp.vector([1, 2.5]).values, (1.0, 2.5))
        self.assertEqual([type(x) for x in cp.vector([1, 2.5]).values], [float, float])

    def test_dtype_promotion_of_values_is_a_cast(self) -> None:
        i = cp.value(3)
        b = cp.value(True)
        f = cp.value(1.5)
        t = cp.tensor([i, f, b, 2])
        self.assertEqual(t.dtype, "float")
        self.assertIs(t.values[1], f)                       # already a float: unchanged
        self.assertEqual(expr(t.values[0]), ("cast", i._node))
        self.assertEqual(t.values[0].dtype, "float")
        self.assertEqual(expr(t.values[2]), ("cast", b._node))
        self.assertEqual(t.values[3], 2.0)
        self.assertIsInstance(t.values[3], float)
        v = cp.vector([b, i])                               # int container: the bool value becomes an int
        self.assertIs(v.values[1], i)
        self.assertEqual((v.values[0]._node.op, v.values[0].dtype), ("cast", "int"))
        bools = cp.vector([b, True])
        self.assertIs(bools.values[0], b)
        self.assertEqual(bools.dtype, "bool")

    def test_matrix_is_tensor(self) -> None:
        self.assertIs(cp.matrix, cp.tensor)
        self.assertIs(type(cp.matrix([[1, 2], [3, 4]])), cp.tensor)

    def test_vector_from_iterables(self) -> None:
        g = cp.vector(x * x for x in range(4))
        self.assertEqual(g.values, (0, 1, 4, 9))
        self.assertEqual(g.shape, (4,))
        self.assertEqual(cp.vector(range(3)).values, (0, 1, 2))
        self.assertEqual(cp.vector(()).shape, (0,))
        # 0-d tensors (what iterating a 1-d tensor yields) are unwrapped.
        x = cp.value(1.0)
        t = cp.tensor([x, 2.0, 3.0])
        it = cp.vector(iter(t))
        self.assertEqual(it.values[1:], (2.0, 3.0))
        self.assertIs(it.values[0], x)
        self.assertIs(cp.vector([cp.tensor(x), 5.0]).values[0], x)
        self.assertIs(cp.vector(t).values[0], x)             # a 1-d tensor
        with self.assertRaisesRegex(ValueError, "1-d"):
            cp.vector(cp.tensor([[1, 2]]))
        with self.assertRaises(TypeError):
            cp.vector(5)
        with self.assertRaises(TypeError):
            cp.vector([[1, 2]])
        with self.assertRaises(TypeError):
            cp.vector(["a"])

    def test_zeros_ones(self) -> None:
        for fn, fill in ((cp.zeros, 0), (cp.ones, 1)):
            z = fn((2, 3))
            self.assertEqual(z.tolist(), [[fill] * 3 for _ in range(2)])
            self.assertEqual([type(x) for x in z.values], [int] * 6)
            self.assertEqual(fn(4).shape, (4,))
            self.assertEqual(fn((2, 0)).shape, (2, 0))
            zf = fn((2,), float)
            self.assertEqual([(type(x), x) for x in zf.values], [(float, float(fill))] * 2)
            self.assertEqual(fn(3, dtype="float").dtype, "float")
            self.assertEqual(fn(1, dtype=bool).values, (bool(fill),))
            with self.assertRaises(TypeError):
                fn(2, dtype="complex")

    def test_eye_identity_diagonal(self) -> None:
        for n, m in ((1, 1), (2, 3), (3, 2), (4, 4)):
            want = [[1 if i == j else 0 for j in range(m)] for i in range(n)]
            self.assertEqual(cp.eye(n, m).tolist(), want)
        self.assertEqual(cp.eye(3).tolist(), [[1 if i == j else 0 for j in range(3)] for i in range(3)])
        self.assertEqual(cp.identity(3).tolist(), cp.eye(3, 3).tolist())
        self.assertEqual(cp.identity(2, float).values, (1.0, 0.0, 0.0, 1.0))
        d = cp.diagonal([1, 2.5, 3])
        self.assertEqual(d.tolist(), [[1.0, 0.0, 0.0], [0.0, 2.5, 0.0], [0.0, 0.0, 3.0]])
        self.assertEqual([type(x) for x in d.values], [float] * 9)   # promoted: 0.0, not 0
        self.assertEqual(cp.diagonal(cp.vector([1, 2])).values, (1, 0, 0, 2))
        x = cp.value(4.0)
        self.assertIs(cp.diagonal(cp.tensor([x, 1.0])).values[0], x)
        with self.assertRaises(ValueError):
            cp.diagonal([[1, 2], [3, 4]])

    def test_arange_accumulates(self) -> None:
        def accumulated(start: Any, stop: Any, step: Any) -> List[Any]:
            out, cur = [], start
            while (cur < stop) if step > 0 else (cur > stop):
                out.append(cur)
                cur += step
            return out
        self.assertEqual(cp.arange(5).values, (0, 1, 2, 3, 4))
        for args in ((0, 1, 0.3), (1, 2, 0.1), (0.5, -1.0, -0.35), (2, 11, 3), (5, 0, -2), (0, 0, 1), (3, 1, 1)):
            with self.subTest(args=args):
                got = cp.arange(*args)
                want = accumulated(*args)
                self.assertEqual(got.values, tuple(want))
                self.assertEqual(got.shape, (len(want),))
        # Repeated addition, not start + i * step: six additions of 0.1 give 0.6, 6 * 0.1 is 0.6000000000000001.
        self.assertEqual(cp.arange(0, 1, 0.1).values[6], 0.6)
        self.assertNotEqual(cp.arange(0, 1, 0.1).values[6], 6 * 0.1)
        self.assertEqual(cp.arange(0, 1, 0.3).values, (0, 0.3, 0.6, 0.8999999999999999))
        self.assertEqual(cp.arange(1, 3, 0.5).dtype, "float")
        self.assertEqual(cp.arange(0, 10, 2).shape, (5,))
        with self.assertRaisesRegex(ValueError, "zero"):
            cp.arange(0, 1, 0)
        with self.assertRaises(TypeError):
            cp.arange(cp.value(3))

    def test_concat(self) -> None:
        v = cp.concat([cp.vector([1, 2]), cp.vector([3.0])])
        self.assertIs(type(v), cp.vector)
        self.assertEqual(v.values, (1.0, 2.0, 3.0))
        mixed = cp.concat([cp.vector([1, 2]), cp.tensor([3])])
        self.assertIs(type(mixed), cp.tensor)
        self.assertEqual(mixed.values, (1, 2, 3))
        a = [[1, 2], [3, 4]]
        b = [[5], [6]]
        c = cp.concat([cp.tensor(a), b], axis=1)
        self.assertEqual(c.tolist(), [ra + rb for ra, rb in zip(a, b)])
        self.assertEqual(cp.concat([a, [[7, 8]]]).tolist(), a + [[7, 8]])
        self.assertEqual(cp.concat([a, a], axis=-1).tolist(), [r + r for r in a])
        x3 = [[[i * 4 + j * 2 + k for k in range(2)] for j in range(2)] for i in range(2)]
        y3 = [[[100 + i * 2 + k for k in range(2)]] for i in range(2)]
        self.assertEqual(cp.concat([x3, y3], axis=1).tolist(), [x3[i] + y3[i] for i in range(2)])
        with self.assertRaisesRegex(ValueError, "differ"):
            cp.concat([a, b])
        with self.assertRaises(ValueError):
            cp.concat([])
        with self.assertRaises(ValueError):
            cp.concat([cp.tensor(1), cp.tensor(2)])
        with self.assertRaises(ValueError):
            cp.concat([a, a], axis=2)

    def test_ravel(self) -> None:
        data = [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]
        r = cp.ravel(data)
        self.assertIs(type(r), cp.tensor)
        self.assertEqual(r.tolist(), flat_of(data))
        self.assertEqual(cp.ravel(cp.tensor(data)).shape, (8,))
        self.assertEqual(cp.ravel(cp.vector([1, 2])).tolist(), [1, 2])


class Arrays(unittest.TestCase):
    """cp.array: one dtype, elements are inputs the host may overwrite."""

    def test_dtype_inference(self) -> None:
        self.assertEqual(cp.array([1, 2.5]).dtype, "float")
        self.assertEqual(cp.array([[1, 2], [3, 4]]).dtype, "int")
        self.assertEqual(cp.array([True, False]).dtype, "bool")
        self.assertEqual(cp.array([True, 2]).dtype, "int")
        self.assertEqual(cp.array([1, 2], "float").dtype, "float")
        self.assertEqual(cp.array([1, 2], "byte").dtype, "byte")
        self.assertEqual(cp.array([cp.value(1.5), 2]).dtype, "float")

    def test_errors(self) -> None:
        cases = [((3,), "at least one dimension"), (([],), "empty"), (([[1, 2], [3]],), "ragged"),
                 (([1.5], "int"), "cannot hold floats"), (([1.5], "byte"), "cannot hold floats"),
                 (([1, 2], "bool"), "bools only"), (([1], "str"), "unknown array dtype"),
                 (([0, 256], "byte"), "0..255"), (([-1, 5], "byte"), "0..255"),
                 (([cp.value(1)], "byte"), "0..255")]
        for args, message in cases:
            with self.subTest(args=args):
                with self.assertRaisesRegex(ValueError, message):
                    cp.array(*args)
        with self.assertRaises(TypeError):
            cp.array(["a"])

    def test_elements_are_inputs_with_the_data(self) -> None:
        a = cp.array([[1, 2], [3, 4]], "float")
        self.assertEqual((a.shape, a.size, len(a), a.ndim), ((2, 2), 4, 2, 2))
        self.assertEqual([(e._node.op, e.dtype, e._node.value) for e in a.values],
                         [("input", "float", float(i)) for i in range(1, 5)])
        self.assertEqual(len({id(e._node) for e in a.values}), 4)   # four distinct inputs
        b = cp.array([0, 200, 255], "byte")
        self.assertEqual([(e._node.op, e.dtype, e._node.value) for e in b.values],
                         [("input", "int", 0), ("input", "int", 200), ("input", "int", 255)])
        flags = cp.array([True, False])
        self.assertEqual([(e.dtype, e._node.value) for e in flags.values], [("bool", True), ("bool", False)])
        self.assertIs(a.element(3), a.values[3])
        self.assertEqual(repr(a), "array(shape=(2, 2), dtype=float)")

    def test_value_elements_kept_or_cast(self) -> None:
        f = cp.value(1.5)
        i = cp.value(2)
        a = cp.array([f, i])
        self.assertIs(a.values[0], f)
        self.assertEqual(expr(a.values[1]), ("cast", i._node))
        c = cp.array([i, 3])
        self.assertIs(c.values[0], i)
        self.assertEqual(c.values[1]._node.op, "input")

    def test_no_truth_value(self) -> None:
        with self.assertRaisesRegex(TypeError, "ambiguous"):
            bool(cp.array([1, 2]))


# ---- Shape API --------------------------------------------------------------------------

class ShapeApi(unittest.TestCase):
    def setUp(self) -> None:
        self.data = [[[i * 12 + j * 4 + k for k in range(4)] for j in range(3)] for i in range(2)]
        self.t = cp.tensor(self.data)

    def test_shape_ndim_size_len(self) -> None:
        cases = [(cp.tensor(5), (), 1), (cp.tensor([1, 2, 3]), (3,), 3), (cp.tensor([[1, 2, 3]] * 2), (2, 3), 6),
                 (self.t, (2, 3, 4), 24), (cp.vector([1, 2]), (2,), 2), (cp.quaternion(), (4,), 4),
                 (cp.tensor([]), (0,), 0)]
        for c, shape, size in cases:
            with self.subTest(c=c):
                self.assertEqual(c.shape, shape)
                self.assertEqual(c.ndim, len(shape))
                self.assertEqual(c.size, size)           # a property ...
                self.assertEqual(c.size(), size)         # ... that can be called, as the original's method
                self.assertIsInstance(c.size, int)
                if shape:
                    self.assertEqual(len(c), shape[0])
        with self.assertRaisesRegex(TypeError, "0-d"):
            len(cp.tensor(5))

    def test_iteration(self) -> None:
        rows = list(self.t)
        self.assertEqual(len(rows), 2)
        for r, want in zip(rows, self.data):
            self.assertIs(type(r), cp.tensor)
            self.assertEqual(r.tolist(), want)
        x = cp.value(1.0)
        one_d = list(cp.tensor([x, 2.0]))
        self.assertEqual([e.shape for e in one_d], [(), ()])     # 0-d tensors, as the original
        self.assertIs(one_d[0].values[0], x)
        self.assertEqual(one_d[1].tolist(), 2.0)
        with self.assertRaisesRegex(TypeError, "0-d"):
            iter(cp.tensor(1))
        v = cp.vector([x, 2.0])
        self.assertEqual(list(v), [x, 2.0])                      # vector iteration: the elements
        self.assertIs(list(v)[0], x)
        self.assertEqual(list(cp.quaternion(1, 2, 3, 4)), [1, 2, 3, 4])

    def test_repr(self) -> None:
        self.assertEqual(repr(cp.vector([1, 2.5])), "vector((1.0, 2.5))")
        self.assertEqual(repr(cp.vector([1, 2])), "vector((1, 2))")
        self.assertEqual(repr(cp.quaternion(1, 2, 3, 4)), "quaternion(w=1, x=2, y=3, z=4)")
        self.assertEqual(repr(cp.tensor([[1, 2], [3, 4]])), "tensor([[1, 2], [3, 4]])")

    def test_get_scalar_and_tolist(self) -> None:
        for idx in itertools.product(range(2), range(3), range(4)):
            self.assertEqual(self.t.get_scalar(*idx), at(self.data, idx))
        self.assertEqual(self.t.get_scalar(-1, -1, -1), self.data[-1][-1][-1])
        with self.assertRaises(IndexError):
            self.t.get_scalar(0, 0)
        with self.assertRaises(IndexError):
            self.t.get_scalar(2, 0, 0)
        self.assertEqual(cp.vector([1, 2]).get_scalar(1), 2)
        self.assertEqual(self.t.tolist(), self.data)
        self.assertEqual(cp.vector([1, 2]).tolist(), [1, 2])

    def test_indexing_like_nested_lists(self) -> None:
        def ref(data: Any, index: Any) -> Any:
            parts = index if isinstance(index, tuple) else (index,)

            def go(d: Any, ps: Tuple[Any, ...]) -> Any:
                if not ps:
                    return d
                p, rest = ps[0], ps[1:]
                if isinstance(p, int):
                    return go(d[p], rest)
                return [go(e, rest) for e in d[p]]
            return go(data, parts)
        indices = [0, 1, -1, -2, (0, 1), (1, -1, 2), (-2, 0, -4), slice(None), slice(1, None), slice(None, None, -1),
                   (slice(None), 1), (slice(None), slice(None), 2), (0, slice(1, 3)), (1, slice(None, None, 2), -1),
                   (slice(0, 2), slice(1, 3), slice(1, 4, 2)), (slice(5, 9),), (0, slice(2, 0, -1), slice(None)),
                   (-1, slice(None), 0)]
        for index in indices:
            with self.subTest(index=index):
                got = self.t[index]
                self.assertIs(type(got), cp.tensor)
                want = ref(self.data, index)
                self.assertEqual(got.tolist(), want)
                if want:
                    self.assertEqual(got.shape, shape_of(want))
        self.assertEqual(self.t[5:9].shape, (0, 3, 4))         # an empty slice keeps the other dimensions
        self.assertEqual(self.t[:, 3:].shape, (2, 0, 4))
        one = cp.tensor([10, 20, 30])[1]
        self.assertEqual((one.shape, one.values), ((), (20,)))     # an int on 1-d gives a 0-d tensor

    def test_index_errors(self) -> None:
        for index in (2, -3, (0, 3), (0, 0, 4), (0, 0, -5), (0, 0, 0, 0)):
            with self.subTest(index=index):
                with self.assertRaises(IndexError):
                    self.t[index]
        for index in (1.0, "a", (0, None)):
            with self.subTest(index=index):
                with self.assertRaises(TypeError):
                    self.t[index]  # type: ignore[index]
        with self.assertRaisesRegex(TypeError, "0-d"):
            cp.tensor(1)[0]
        v = cp.vector([1, 2, 3])
        with self.assertRaises(IndexError):
            v[3]
        with self.assertRaises(IndexError):
            v[-4]
        self.assertEqual(v[-1], 3)
        s = v[::-2]
        self.assertIs(type(s), cp.vector)
        self.assertEqual(s.values, (3, 1))
        self.assertEqual(v[5:].shape, (0,))

    def test_transpose_reshape_flatten(self) -> None:
        m = [[1, 2, 3], [4, 5, 6]]
        self.assertEqual(cp.tensor(m).T.tolist(), [[m[i][j] for i in range(2)] for j in range(3)])
        self.assertEqual(cp.tensor([1, 2, 3]).T.tolist(), [1, 2, 3])
        for axes in itertools.permutations(range(3)):
            with self.subTest(axes=axes):
                shape = tuple((2, 3, 4)[a] for a in axes)
                want = [[[0] * shape[2] for _ in range(shape[1])] for _ in range(shape[0])]
                for out in itertools.product(*(range(d) for d in shape)):
                    src = [0, 0, 0]
                    for k, a in enumerate(axes):
                        src[a] = out[k]
                    want[out[0]][out[1]][out[2]] = at(self.data, src)
                self.assertEqual(self.t.transpose(*axes).tolist(), want)
                self.assertEqual(self.t.transpose(axes).tolist(), want)
        self.assertEqual(self.t.T.tolist(), self.t.transpose(2, 1, 0).tolist())
        self.assertEqual(self.t.transpose(-1, 0, 1).tolist(), self.t.transpose(2, 0, 1).tolist())
        with self.assertRaises(ValueError):
            self.t.transpose(0, 1)
        with self.assertRaises(ValueError):
            self.t.transpose(0, 0, 1)
        flat = flat_of(self.data)
        for shape in ((24,), (4, 6), (2, 2, 6), (1, 24, 1)):
            self.assertEqual(self.t.reshape(shape).tolist(), nest(flat, shape))
            self.assertEqual(self.t.reshape(*shape).tolist(), nest(flat, shape))
        self.assertEqual(self.t.reshape(-1).tolist(), flat)
        self.assertEqual(self.t.reshape(3, -1).shape, (3, 8))
        self.assertEqual(self.t.reshape((-1, 2, 3)).shape, (4, 2, 3))
        self.assertEqual(self.t.flatten().tolist(), flat)
        self.assertEqual(cp.tensor(5).flatten().shape, (1,))
        for bad in ((5, -1), (-1, -1), (25,), (2, 13)):
            with self.subTest(bad=bad):
                with self.assertRaises(ValueError):
                    self.t.reshape(*bad)
        with self.assertRaises(TypeError):
            self.t.reshape(2.0, 12)

    def test_containers_share_elements(self) -> None:
        """Shape operations rearrange the same elements: no new nodes."""
        t, nested = inputs((2, 3))
        self.assertTrue(all(a is b for a, b in zip(t.T.values, [nested[i][j] for j in range(3) for i in range(2)])))
        self.assertTrue(all(a is b for a, b in zip(t.reshape(3, 2).values, t.values)))
        self.assertIs(t[1, 2].values[0], nested[1][2])


class TracedIndex(unittest.TestCase):
    """v[k] with an int value k: k + (k < 0) * n clamped to [0, n-1], then a select chain."""

    def clamp_index(self, k: int, n: int) -> int:
        k = k + n if k < 0 else k
        return min(max(k, 0), n - 1)

    def index_graph(self, k: cp.value, n: int) -> Any:
        return ("min", ("max", ("add", k._node, ("mul", ("lt", k._node, const(0)), const(n))), const(0)),
                const(n - 1))

    def test_vector_graph_and_values(self) -> None:
        k = cp.value(0, name="k")
        elems = [cp.value(float(10 * i)) for i in range(4)]
        v = cp.vector(elems)
        e = v[k]
        idx = self.index_graph(k, 4)
        want = expr(elems[0])
        for i in range(1, 4):
            want = ("select", ("eq", idx, const(i)), elems[i]._node, want)
        self.assertEqual(expr(e), want)
        for kv in range(-7, 8):
            with self.subTest(k=kv):
                self.assertEqual(evaluate(e, {k: kv}), 10.0 * self.clamp_index(kv, 4))

    def test_constant_elements(self) -> None:
        k = cp.value(0)
        e = cp.vector([10, 20, 30])[k]
        self.assertEqual(e.dtype, "int")
        self.assertEqual(expr(e), ("select", ("eq", self.index_graph(k, 3), const(2)), const(30),
                                   ("select", ("eq", self.index_graph(k, 3), const(1)), const(20), const(10))))
        for kv in range(-5, 6):
            self.assertEqual(evaluate(e, {k: kv}), [10, 20, 30][self.clamp_index(kv, 3)])

    def test_tensor_rows_and_elements(self) -> None:
        k = cp.value(0)
        data = [[1.5, 2.5, 3.5], [4.5, 5.5, 6.5], [7.5, 8.5, 9.5]]
        t = cp.tensor(data)
        row = t[k]
        self.assertIs(type(row), cp.tensor)
        self.assertEqual(row.shape, (3,))
        elem = t[k, 2]
        self.assertEqual(elem.shape, ())
        col = t[1, k]
        for kv in range(-4, 5):
            with self.subTest(k=kv):
                r = self.clamp_index(kv, 3)
                self.assertEqual(evaluate(row, {k: kv}), data[r])
                self.assertEqual(evaluate(elem, {k: kv}), data[r][2])
                self.assertEqual(evaluate(col, {k: kv}), data[1][r])
        part = t[k, 1:]
        self.assertEqual(evaluate(part, {k: 2}), data[2][1:])
        with self.assertRaisesRegex(TypeError, "slices"):
            t[0:2, k]   # a traced index may only follow ints

    def test_single_element_and_other_index_types(self) -> None:
        x = cp.value(2.0)
        self.assertIs(cp.vector([x])[cp.value(5)], x)      # n == 1: nothing to select
        b = cp.value(True)
        e = cp.vector([1.0, 2.0])[b]
        self.assertEqual(evaluate(e, {b: True}), 2.0)
        self.assertEqual(evaluate(e, {b: False}), 1.0)
        with self.assertRaisesRegex(TypeError, "float"):
            cp.vector([1.0, 2.0])[cp.value(1.0)]
        q = cp.quaternion(1.0, 2.0, 3.0, 4.0)
        k = cp.value(0)
        self.assertEqual([evaluate(q[k], {k: i}) for i in range(-1, 5)], [4.0, 1.0, 2.0, 3.0, 4.0, 4.0])
        with self.assertRaises(TypeError):
            [1, 2][cp.value(0)]  # type: ignore[index]


class TruthValues(unittest.TestCase):
    """ArrayBase.__bool__: as its comment says, a single Python number has a truth
    value (as NumPy), anything else raises; docs/tracer.md documents the same."""

    def test_single_numbers(self) -> None:
        self.assertIs(bool(cp.tensor(0)), False)
        self.assertIs(bool(cp.tensor([[2.5]])), True)
        self.assertIs(bool(cp.vector([0.0])), False)
        self.assertIs(bool(cp.tensor([[1, 2], [3, 4]])[0, 1] == 2), True)
        self.assertIs(bool(cp.tensor([[1, 2], [3, 4]])[0, 1] == 3), False)
        self.assertEqual(float(cp.tensor([2.5])), 2.5)
        self.assertEqual(int(cp.tensor(7)), 7)

    def test_everything_else_raises(self) -> None:
        x = cp.value(1.0)
        for c in (cp.vector([1, 2]), cp.tensor([[1], [2]]), cp.quaternion(), cp.vector([x]), cp.tensor(x),
                  cp.vector([]), cp.vector([x]) > 0):
            with self.subTest(c=c):
                with self.assertRaisesRegex(TypeError, "ambiguous"):
                    bool(c)
                with self.assertRaisesRegex(TypeError, "ambiguous"):
                    if c:
                        pass
        with self.assertRaises(TypeError):
            float(cp.vector([x]))
        with self.assertRaises(TypeError):
            int(cp.vector([1, 2]))


# ---- Broadcasting --------------------------------------------------------------------------

# (symbol, Python operator, DAG op): every binary operator of the containers.
OPERATORS = [("+", operator.add, "add"), ("-", operator.sub, "sub"), ("*", operator.mul, "mul"),
             ("/", operator.truediv, "div"), ("//", operator.floordiv, "floordiv"), ("%", operator.mod, "mod"),
             ("**", operator.pow, "pow"), ("<", operator.lt, "lt"), ("<=", operator.le, "le"),
             (">", operator.gt, "gt"), (">=", operator.ge, "ge"), ("==", operator.eq, "eq"),
             ("!=", operator.ne, "ne"), ("&", operator.and_, "and"), ("|", operator.or_, "or"),
             ("^", operator.xor, "xor"), ("<<", operator.lshift, "lshift"), (">>", operator.rshift, "rshift")]
# Python reflects a comparison `x < t` as `t > x` itself.
MIRROR = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le", "eq": "eq", "ne": "ne"}
MIRROR_PY = {"lt": operator.gt, "le": operator.ge, "gt": operator.lt, "ge": operator.le, "eq": operator.eq,
             "ne": operator.ne}


def broadcast_ref(sa: Tuple[int, ...], sb: Tuple[int, ...]) -> Tuple[int, ...]:
    n = max(len(sa), len(sb))
    pa = (1,) * (n - len(sa)) + sa
    pb = (1,) * (n - len(sb)) + sb
    out = []
    for x, y in zip(pa, pb):
        if x != y and 1 not in (x, y):
            raise ValueError("incompatible")
        out.append(max(x, y) if 1 in (x, y) else x)
    return tuple(out)


def source_index(out_index: Tuple[int, ...], shape: Tuple[int, ...]) -> Tuple[int, ...]:
    """Where element out_index of a broadcast result comes from in an operand of `shape`."""
    tail = out_index[len(out_index) - len(shape):] if shape else ()
    return tuple(0 if d == 1 else i for i, d in zip(tail, shape))


class Broadcasting(unittest.TestCase):
    def check_elementwise(self, result: Any, op: str, a: Any, b: Any, sa: Tuple[int, ...],
                          sb: Tuple[int, ...]) -> None:
        """result[i] is op(a[src_a(i)], b[src_b(i)]) by node identity (a, b nested lists of values)."""
        shape = broadcast_ref(sa, sb)
        self.assertEqual(result.shape, shape)
        for out in itertools.product(*(range(d) for d in shape)):
            e = at(result.tolist(), out)
            self.assertEqual(e._node.op, op)
            x, y = e._node.args
            self.assertIs(x, at(a, source_index(out, sa))._node)
            self.assertIs(y, at(b, source_index(out, sb))._node)

    def test_every_operator_on_tensors_both_orders(self) -> None:
        for sa, sb in (((2, 3), (3,)), ((2, 1, 3), (4, 3)), ((3,), (2, 3)), ((4, 1), (1, 5)), ((2, 3), (2, 3)),
                       ((2, 3), ()), ((), (2, 2))):
            ta, na = inputs(sa, 1, int)
            tb, nb = inputs(sb, 50, int)
            for sym, pyop, op in OPERATORS:
                with self.subTest(sa=sa, sb=sb, op=sym):
                    r = pyop(ta, tb)
                    self.assertIs(type(r), cp.tensor)
                    self.check_elementwise(r, op, na, nb, sa, sb)
                    r = pyop(tb, ta)
                    self.check_elementwise(r, op, nb, na, sb, sa)

    def test_comparisons_and_bitwise_types(self) -> None:
        ta, _ = inputs((2, 2), 1, int)
        tf, _ = inputs((2, 2), 1.5, float)
        for sym, pyop, op in OPERATORS:
            r = pyop(ta, tf) if op not in ("and", "or", "xor", "lshift", "rshift") else pyop(ta, ta)
            want = ("bool" if op in MIRROR else "float" if op in ("div", "add", "sub", "mul", "floordiv", "mod",
                                                                   "pow") else "int")
            with self.subTest(op=sym):
                self.assertEqual({e.dtype for e in r.values}, {want})
        for pyop in (operator.and_, operator.or_, operator.xor, operator.lshift, operator.rshift):
            with self.assertRaises(TypeError):
                pyop(ta, tf)
            with self.assertRaises(TypeError):
                pyop(tf, 1)

    def test_value_operand(self) -> None:
        t, nested = inputs((2, 3), 1, int)
        x = cp.value(7)
        for sym, pyop, op in OPERATORS:
            with self.subTest(op=sym):
                r = pyop(t, x)
                self.assertEqual([(e._node.op, e._node.args[0], e._node.args[1]) for e in r.values],
                                 [(op, e._node, x._node) for e in t.values])
                r = pyop(x, t)
                rop = MIRROR.get(op, op)
                if op in MIRROR:   # x < t is t > x
                    self.assertEqual([(e._node.op, e._node.args[0], e._node.args[1]) for e in r.values],
                                     [(rop, e._node, x._node) for e in t.values])
                else:
                    self.assertEqual([(e._node.op, e._node.args[0], e._node.args[1]) for e in r.values],
                                     [(op, x._node, e._node) for e in t.values])
                self.assertIs(type(r), cp.tensor)
        v = cp.vector([cp.value(1.0), 2.0])
        r = x - v
        self.assertIs(type(r), cp.vector)
        self.assertEqual(expr(r.values[0]), ("sub", x._node, v.values[0]._node))
        self.assertEqual(expr(r.values[1]), ("sub", x._node, const(2.0)))

    def test_one_shared_constant_per_operation(self) -> None:
        a, b = cp.value(1.0), cp.value(2.0)
        t = cp.tensor([[a, 0.1], [b, 0.7]])
        for sym, pyop, op in OPERATORS[:13]:   # the ones defined for floats
            with self.subTest(op=sym):
                for r, reflected in ((pyop(t, 0.2), False), (pyop(0.2, t), True)):
                    va, vb = r.values[0], r.values[2]
                    rop = MIRROR[op] if reflected and op in MIRROR else op
                    self.assertEqual((va._node.op, vb._node.op), (rop, rop))
                    k = 0 if reflected and op not in MIRROR else 1
                    c = va._node.args[k]
                    self.assertIs(vb._node.args[k], c)                    # one node for all elements
                    self.assertEqual((c.op, c.dtype, c.value), ("const", "float", f32(0.2)))
                    self.assertIs(va._node.args[1 - k], a._node)
                    # Elements that are Python numbers are computed by Python (double precision).
                    if reflected and op in MIRROR:      # 0.2 < t is t > 0.2
                        want = [MIRROR_PY[op](0.1, 0.2), MIRROR_PY[op](0.7, 0.2)]
                    elif reflected:
                        want = [pyop(0.2, 0.1), pyop(0.2, 0.7)]
                    else:
                        want = [pyop(0.1, 0.2), pyop(0.7, 0.2)]
                    self.assertEqual([r.values[1], r.values[3]], want)
        s = t + 0.2
        self.assertEqual(s.values[1], 0.1 + 0.2)          # 0.30000000000000004, not a binary32 sum
        self.assertNotEqual(s.values[1], f32(f32(0.1) + f32(0.2)))
        # Each operation makes its own constant.
        self.assertIsNot((t + 0.2).values[0]._node.args[1], (t + 0.2).values[0]._node.args[1])
        # Constant 0 and 1 are recorded (no identity elimination in containers).
        self.assertEqual(expr((t + 0).values[0]), ("add", a._node, const(0)))
        self.assertEqual(expr((t * 1).values[0]), ("mul", a._node, const(1)))
        # Vectors and quaternions share the constant too.
        for c in (cp.vector([a, b, 1.0]), cp.quaternion(a, b, 1.0, a)):
            r = c * 3.0
            self.assertIs(r.values[0]._node.args[1], r.values[1]._node.args[1])
            self.assertEqual(r.values[2], 3.0)

    def test_sequences(self) -> None:
        t, nested = inputs((2, 3), 1, int)
        r = t + [1, 2, 3]
        self.assertIs(type(r), cp.tensor)
        self.assertEqual([expr(e) for e in r.values], [("add", e._node, const(j % 3 + 1)) for j, e in
                                                        enumerate(t.values)])
        r = [1, 2, 3] - t
        self.assertEqual([expr(e) for e in r.values], [("sub", const(j % 3 + 1), e._node) for j, e in
                                                        enumerate(t.values)])
        r = t * [[2], [3]]
        self.assertEqual(r.shape, (2, 3))
        self.assertEqual(expr(r.values[4]), ("mul", t.values[4]._node, const(3)))
        elems = [cp.value(i) for i in range(3)]
        v = cp.vector(elems)
        eq = v == [1, 2, 3]
        self.assertIs(type(eq), cp.vector)
        self.assertEqual([expr(e) for e in eq.values], [("eq", x._node, const(i + 1)) for i, x in enumerate(elems)])
        self.assertEqual((cp.vector([1, 2, 3]) == [1, 5, 3]).values, (True, False, True))
        self.assertEqual((cp.vector([1, 2, 3]) != (1, 5, 3)).values, (False, True, False))
        self.assertIs(type(v + (1, 2, 3)), cp.vector)
        self.assertIs(type((1, 2, 3) * v), cp.vector)
        with self.assertRaises(ValueError):
            v + [1, 2]

    def test_numbers_both_sides(self) -> None:
        """Tensors of Python numbers combine with Python's operators, broadcasting."""
        a = [[1, 2, 3], [4, 5, 6]]
        b = [7, 1, 2]
        for sym, pyop, op in OPERATORS:
            with self.subTest(op=sym):
                got = pyop(cp.tensor(a), cp.tensor(b)).tolist()
                self.assertEqual(got, [[pyop(x, y) for x, y in zip(row, b)] for row in a])
                got = pyop(cp.tensor(b), cp.tensor(a)).tolist()
                self.assertEqual(got, [[pyop(y, x) for x, y in zip(row, b)] for row in a])
                got = pyop(cp.tensor(a), 3).tolist()
                self.assertEqual(got, [[pyop(x, 3) for x in row] for row in a])
                got = pyop(3, cp.tensor(a)).tolist()
                self.assertEqual(got, [[pyop(3, x) for x in row] for row in a])

    def test_three_d_with_two_d(self) -> None:
        a = [[[i * 3 + k for k in range(3)]] for i in range(2)]        # (2, 1, 3)
        b = [[10 * j + k for k in range(3)] for j in range(4)]          # (4, 3)
        got = (cp.tensor(a) + cp.tensor(b)).tolist()
        self.assertEqual(got, [[[a[i][0][k] + b[j][k] for k in range(3)] for j in range(4)] for i in range(2)])

    def test_shape_mismatch(self) -> None:
        for sa, sb in (((2, 3), (2,)), ((2, 3), (4, 3)), ((2, 1, 3), (4, 2)), ((3,), (4,))):
            with self.subTest(sa=sa, sb=sb):
                with self.assertRaisesRegex(ValueError, "cannot be broadcast"):
                    cp.zeros(sa) + cp.zeros(sb)
        v3 = cp.vector([cp.value(1.0)] * 3)
        with self.assertRaisesRegex(ValueError, "vector lengths differ: 3 and 2"):
            v3 + cp.vector([1.0, 2.0])
        with self.assertRaisesRegex(ValueError, "lengths differ"):
            v3 * cp.vector([2.0])          # a length-1 vector is not a scalar
        with self.assertRaisesRegex(ValueError, "lengths differ"):
            cp.vector([1.0, 2.0, 3.0, 4.0]) - cp.quaternion()[:3]
        # A vector meeting a tensor broadcasts and gives a tensor.
        r = v3 + cp.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        self.assertIs(type(r), cp.tensor)
        self.assertEqual(r.shape, (2, 3))
        self.assertIs(r.values[3]._node.args[0], v3.values[0]._node)
        self.assertIs(type(cp.vector([1.0]) + cp.tensor([1.0, 2.0])), cp.tensor)

    def test_unsupported_operands(self) -> None:
        t = cp.tensor([1, 2])
        with self.assertRaises(TypeError):
            t + "a"  # type: ignore[operator]
        with self.assertRaises(TypeError):
            t + {1: 2}  # type: ignore[operator]
        with self.assertRaises(TypeError):
            t @ 2  # type: ignore[operator]


class Powers(unittest.TestCase):
    def chain(self, x: Any, k: int) -> Any:
        """((x * x) * x) ... with k factors, as the original's repeated multiplication."""
        m = x._node
        for _ in range(k - 1):
            m = ("mul", m, x._node)
        return m

    def test_value_powers(self) -> None:
        for dtype in (float, int):
            x = cp.value(dtype(3))
            self.assertEqual(x ** 0, 1)
            self.assertIs(type(x ** 0), int)
            self.assertIs(x ** 1, x)
            for k in range(2, 8):
                with self.subTest(dtype=dtype, k=k):
                    p = x ** k
                    self.assertEqual(expr(p), self.chain(x, k))
                    self.assertEqual(p.dtype, x.dtype)
                    self.assertEqual(evaluate(p), dtype(3) ** k)
                    self.assertEqual(expr(cp.pow(x, k)), self.chain(x, k))
            p8 = x ** 8
            self.assertEqual(expr(p8), ("pow", x._node, const(8)))
            self.assertEqual(p8.dtype, "int" if dtype is int else "float")
            self.assertEqual(expr(x ** -1), ("pow", x._node, const(-1)))
            self.assertEqual(expr(x ** 2.0), ("pow", x._node, const(2.0)))

    def test_tensor_powers_multiply(self) -> None:
        x, y = cp.value(2.0), cp.value(3.0)
        t = cp.tensor([x, y])
        for k in range(1, 8):
            with self.subTest(k=k):
                p = t ** k
                self.assertIs(type(p), cp.tensor)
                self.assertEqual([expr(e) for e in p.values], [self.chain(x, k), self.chain(y, k)])
        self.assertIs((t ** 1).values[0], x)
        for k in (0, 8, -1, 0.5, True):
            with self.subTest(k=k):
                p = t ** k
                self.assertEqual([e._node.op for e in p.values], ["pow", "pow"])
                self.assertIs(p.values[0]._node.args[1], p.values[1]._node.args[1])
        self.assertEqual((cp.tensor([2, 3]) ** 3).values, (8, 27))

    def test_vector_powers_are_pow(self) -> None:
        x, y = cp.value(2.0), cp.value(3.0)
        v = cp.vector([x, y, 4.0])
        for k in (2, 3, 7, 0, 1):
            with self.subTest(k=k):
                p = v ** k
                self.assertIs(type(p), cp.vector)
                self.assertEqual(expr(p.values[0]), ("pow", x._node, const(k)))
                self.assertIs(p.values[0]._node.args[1], p.values[1]._node.args[1])
                self.assertEqual(p.values[2], 4.0 ** k)
        r = 2 ** v
        self.assertEqual(expr(r.values[1]), ("pow", const(2), y._node))


# ---- Reductions -------------------------------------------------------------------------

class Reductions(unittest.TestCase):
    def test_sum_mixed_order(self) -> None:
        a, b, c = cp.value(1.0), cp.value(2.0), cp.value(3.0)
        cases = [[a, 2.0, b, 3.0], [a, b, c], [1.0, a, -1.0, b], [0.5, a], [a], [2, 3.5], [a, 0.1, 0.2, b, c, 0.3]]
        for items in cases:
            with self.subTest(items=items):
                want = Sym.mixed_sum([expr(x) for x in items])
                self.assertEqual(expr(cp.vector(items).sum()), want)
                self.assertEqual(expr(cp.tensor(items).sum()), want)
        self.assertEqual(expr(cp.vector([a, 2.0, b, 3.0]).sum()), ("add", ("add", a._node, b._node), const(5.0)))
        self.assertEqual(cp.vector([0.1, 0.2, 0.3]).sum(), 0.1 + 0.2 + 0.3)
        self.assertEqual(cp.vector([]).sum(), 0)
        self.assertEqual(cp.tensor([[1, 2], [3, 4]]).sum(), 10)
        k = cp.tensor([[a, 1.0], [b, 2.0]]).sum(keepdims=True)
        self.assertEqual(k.shape, (1, 1))
        self.assertEqual(expr(k.values[0]), ("add", ("add", a._node, b._node), const(3.0)))

    def test_sum_along_axes_numbers(self) -> None:
        data = [[[i * 12 + j * 4 + k for k in range(4)] for j in range(3)] for i in range(2)]
        t = cp.tensor(data)
        dims = (2, 3, 4)

        def ref(axes: Tuple[int, ...], keep: bool) -> Any:
            out_shape = tuple(1 if a in axes else d for a, d in enumerate(dims))
            acc: Dict[Tuple[int, ...], int] = {}
            for idx in itertools.product(*(range(d) for d in dims)):
                key = tuple(0 if a in axes else i for a, i in enumerate(idx))
                acc[key] = acc.get(key, 0) + at(data, idx)
            flat = [acc[k] for k in itertools.product(*(range(d) for d in out_shape))]
            shape = out_shape if keep else tuple(d for a, d in enumerate(dims) if a not in axes)
            return nest(flat, shape) if shape else flat[0]
        for axis in (0, 1, 2, -1, -3, (0, 2), (1, 2), (0, 1, 2), [2, 0], (-1, 0)):
            axes = tuple(sorted(a % 3 for a in (axis if isinstance(axis, (tuple, list)) else (axis,))))
            for keep in (False, True):
                with self.subTest(axis=axis, keepdims=keep):
                    got = t.sum(axis=axis, keepdims=keep)
                    want = ref(axes, keep)
                    self.assertEqual(got.tolist() if isinstance(got, cp.ArrayBase) else got, want)
        self.assertEqual(t.sum(axis=0, keepdims=True).shape, (1, 3, 4))
        self.assertEqual(t.sum(axis=(0, 2), keepdims=True).shape, (1, 3, 1))
        for bad in (3, -4):
            with self.assertRaises(ValueError):
                t.sum(axis=bad)
        with self.assertRaises(TypeError):
            t.sum(axis=1.0)

    def test_sum_along_an_axis_adds_in_row_major_order(self) -> None:
        t, n = inputs((3, 2))
        s0 = t.sum(axis=0)
        self.assertEqual([expr(e) for e in s0.values],
                         [("add", ("add", n[0][j]._node, n[1][j]._node), n[2][j]._node) for j in range(2)])
        s1 = t.sum(axis=1)
        self.assertEqual([expr(e) for e in s1.values], [("add", n[i][0]._node, n[i][1]._node) for i in range(3)])
        mixed = cp.tensor([[n[0][0], 2.0], [n[1][0], 3.0]])
        self.assertEqual(expr(mixed.sum(axis=1).values[0]), ("add", n[0][0]._node, const(2.0)))
        self.assertEqual(mixed.sum(axis=0).values[1], 5.0)

    def test_sum_over_all_axes_is_mixed_sum(self) -> None:
        """orig_api.md 10.6: summing all axes returns mixed_sum(values) (numbers first)."""
        a, b = cp.value(1.0), cp.value(2.0)
        t = cp.tensor([[a, 2.0], [b, 3.0]])
        want = ("add", ("add", a._node, b._node), const(5.0))
        self.assertEqual(expr(t.sum(axis=(0, 1))), want)
        self.assertEqual(expr(t.sum(axis=(-1, 0), keepdims=True).values[0]), want)
        self.assertEqual(expr(cp.vector([a, 2.0, b, 3.0]).sum(axis=0)), want)     # the only axis of a vector
        self.assertEqual(expr(t.mean(axis=(0, 1))), ("div", want, const(4)))

    def test_mean_divides_by_the_count(self) -> None:
        t, n = inputs((2, 3))
        m = t.mean()
        self.assertEqual(expr(m), ("div", Sym.mixed_sum([e._node for e in t.values]), const(6)))
        m1 = t.mean(axis=1)
        self.assertEqual([expr(e) for e in m1.values],
                         [("div", ("add", ("add", n[i][0]._node, n[i][1]._node), n[i][2]._node), const(3))
                          for i in range(2)])
        self.assertIs(m1.values[0]._node.args[1], m1.values[1]._node.args[1])
        self.assertEqual(t.mean(axis=0, keepdims=True).shape, (1, 3))
        data = [[1, 2, 4], [8, 16, 33]]
        self.assertEqual(cp.tensor(data).mean(), sum(flat_of(data)) / 6)
        self.assertEqual(cp.tensor(data).mean(axis=0).tolist(), [(data[0][j] + data[1][j]) / 2 for j in range(3)])
        self.assertEqual(cp.vector([1, 2]).mean(), 1.5)
        with self.assertRaises(ValueError):
            cp.vector([]).mean()

    def test_trace(self) -> None:
        a, b = cp.value(1.0), cp.value(2.0)
        t = cp.tensor([[a, 9.0, 9.0], [9.0, 2.0, 9.0], [9.0, 9.0, b]])
        self.assertEqual(expr(t.trace()), ("add", ("add", a._node, b._node), const(2.0)))
        m = [[1, 2, 3], [4, 5, 6], [7, 8, 10]]
        self.assertEqual(cp.tensor(m).trace(), sum(m[i][i] for i in range(3)))
        for bad in ([[1, 2, 3], [4, 5, 6]], [1, 2], [[[1]]]):
            with self.assertRaises(ValueError):
                cp.tensor(bad).trace()

    def test_min_max_numbers(self) -> None:
        data = [[3, -1, 7], [2, 9, -4]]
        self.assertEqual(cp.min(cp.tensor(data)), min(flat_of(data)))
        self.assertEqual(cp.max(cp.tensor(data)), max(flat_of(data)))
        self.assertEqual(cp.max(cp.vector([1.5, 2.5])), 2.5)
        self.assertEqual(cp.min(cp.quaternion(0.5, -1, 2, 0)), -1)
        self.assertEqual(cp.min(cp.array([4, 2, 8])).dtype, "int")   # the elements of an array are inputs
        with self.assertRaises(TypeError):
            cp.min(3.0)
        with self.assertRaises(TypeError):
            cp.max([1, 2])
        with self.assertRaises(ValueError):
            cp.min(cp.vector([]))

    def test_min_max_values_pairwise_from_the_left(self) -> None:
        a, b, c = cp.value(1.0), cp.value(2.0), cp.value(3.0)
        self.assertEqual(expr(cp.min(cp.vector([a, b, c]))), ("min", ("min", a._node, b._node), c._node))
        self.assertEqual(expr(cp.max(cp.tensor([[a], [b]]))), ("max", a._node, b._node))
        self.assertEqual(cp.min(cp.vector([a, b])).dtype, "float")
        i, j = cp.value(1), cp.value(2)
        self.assertEqual(cp.max(cp.vector([i, j])).dtype, "int")

    def test_min_max_constants_first(self) -> None:
        """orig_api.md 5.6: the smallest Python number first, then the values:
        min(min(c_min, v0), v1)."""
        a, b = cp.value(1.0), cp.value(2.0)
        self.assertEqual(expr(cp.min(cp.vector([a, 5.0, b, 1.0]))),
                         ("min", ("min", const(1.0), a._node), b._node))
        self.assertEqual(expr(cp.max(cp.vector([a, 5.0, b, 1.0]))),
                         ("max", ("max", const(5.0), a._node), b._node))


class Products(unittest.TestCase):
    def test_dot(self) -> None:
        a, b = cp.value(1.0), cp.value(2.0)
        v = cp.vector([a, 3.0, b])
        w = cp.vector([b, 4.0, 5.0])
        want = Sym.mixed_sum([("mul", a._node, b._node), 12.0, ("mul", b._node, const(5.0))])
        self.assertEqual(expr(v.dot(w)), want)
        self.assertEqual(expr(v @ w), want)
        self.assertEqual(expr(cp.dot(v, w)), want)
        self.assertEqual(cp.dot([1, 2, 3], [4, 5, 6]), 1 * 4 + 2 * 5 + 3 * 6)
        self.assertEqual(cp.vector([1, 2]) @ [3, 4], 11)
        self.assertEqual([3, 4] @ cp.vector([1, 2]), 11)
        with self.assertRaisesRegex(ValueError, "lengths differ"):
            v.dot([1.0, 2.0])
        with self.assertRaises(TypeError):
            v.dot(3.0)

    def elements(self, shape: Tuple[int, ...], seed: int) -> Tuple[Any, Any]:
        """A tensor mixing inputs and Python numbers, and its expr() nested list."""
        n = 1
        for d in shape:
            n *= d
        vals = [cp.value(float(seed + i)) if (seed + i) % 3 else float(seed + i) for i in range(n)]
        return cp.tensor(vals, shape), nest([expr(x) for x in vals], shape)

    def test_matrix_matrix_builtin_sum_order(self) -> None:
        A, ea = self.elements((2, 3), 1)
        B, eb = self.elements((3, 2), 7)
        C = A @ B
        self.assertIs(type(C), cp.tensor)
        self.assertEqual(C.shape, (2, 2))
        for i in range(2):
            for j in range(2):
                want = Sym.builtin_sum([Sym.mul(ea[i][k], eb[k][j]) for k in range(3)])
                self.assertEqual(expr(C.get_scalar(i, j)), want, (i, j))
        self.assertEqual([expr(e) for e in A.matmul(B).values], [expr(e) for e in C.values])
        self.assertEqual([expr(e) for e in A.dot(B).values], [expr(e) for e in C.values])

    def test_numbers_interleaved_between_values(self) -> None:
        """Where the two summation orders differ: a product of numbers before value products."""
        a, b, c, d, e = (cp.value(float(i)) for i in range(1, 6))
        A = cp.tensor([[2.0, a, 3.0], [b, 4.0, 5.0]])
        B = cp.tensor([[6.0, c], [7.0, d], [e, 8.0]])
        C = A @ B
        # Python's sum(): 0 + 12.0, then + a*7 (12 + value records add(12, a*7)), then + 3*e.
        self.assertEqual(expr(C.get_scalar(0, 0)),
                         ("add", ("add", const(12.0), ("mul", a._node, const(7.0))), ("mul", const(3.0), e._node)))
        x = cp.vector([2.0, a, 3.0])
        y = x @ B
        self.assertEqual(expr(y.values[0]), expr(C.get_scalar(0, 0)))
        # matrix @ vector: mixed_sum, the numbers last.
        z = A @ cp.vector([6.0, 7.0, e])
        self.assertEqual(expr(z.values[0]),
                         ("add", ("add", ("mul", a._node, const(7.0)), ("mul", const(3.0), e._node)), const(12.0)))

    def test_matrix_vector_mixed_sum_order(self) -> None:
        A, ea = self.elements((2, 3), 1)
        for rhs in (self.elements((3,), 20), (None, None)):
            if rhs[0] is None:
                x = cp.vector([cp.value(5.0), 6.0, cp.value(7.0)])
                ex = [expr(e) for e in x.values]
            else:
                x, ex = rhs
            y = A @ x
            self.assertIs(type(y), cp.tensor)         # a tensor even for a vector operand (as the original)
            self.assertEqual(y.shape, (2,))
            for i in range(2):
                self.assertEqual(expr(y.values[i]), Sym.mixed_sum(Sym.mul(ea[i][k], ex[k]) for k in range(3)))

    def test_vector_matrix_builtin_sum_order(self) -> None:
        B, eb = self.elements((3, 2), 7)
        for x in (cp.vector([cp.value(5.0), 6.0, cp.value(7.0)]), cp.tensor([cp.value(5.0), 6.0, 8.0])):
            ex = [expr(e) for e in x.values]
            y = x @ B
            self.assertIs(type(y), cp.tensor)
            self.assertEqual(y.shape, (2,))
            for j in range(2):
                self.assertEqual(expr(y.values[j]), Sym.builtin_sum(Sym.mul(ex[k], eb[k][j]) for k in range(3)))

    def test_one_d_one_d_is_a_scalar(self) -> None:
        a, ea = self.elements((3,), 1)
        b, eb = self.elements((3,), 4)
        self.assertEqual(expr(a @ b), Sym.mixed_sum(Sym.mul(x, y) for x, y in zip(ea, eb)))
        self.assertEqual(cp.tensor([1, 2]) @ cp.tensor([3, 4]), 11)

    def test_numbers_against_nested_loops(self) -> None:
        A = [[1, 2, 3], [4, 5, 6]]
        B = [[7, 8], [9, 10], [11, 12]]
        x = [1, -2, 3]
        self.assertEqual((cp.tensor(A) @ cp.tensor(B)).tolist(),
                         [[sum(A[i][k] * B[k][j] for k in range(3)) for j in range(2)] for i in range(2)])
        self.assertEqual((cp.tensor(A) @ x).tolist(), [sum(A[i][k] * x[k] for k in range(3)) for i in range(2)])
        self.assertEqual((cp.tensor(A) @ cp.vector(x)).tolist(), [6, 12])
        self.assertEqual((x @ cp.tensor(B)).tolist(), [sum(x[k] * B[k][j] for k in range(3)) for j in range(2)])
        self.assertEqual((cp.vector(x) @ cp.tensor(B)).tolist(), [22, 24])
        self.assertEqual((A @ cp.tensor(B)).tolist(), [[58, 64], [139, 154]])

    def test_shape_errors(self) -> None:
        with self.assertRaisesRegex(ValueError, "do not match"):
            cp.tensor([[1, 2], [3, 4]]) @ cp.tensor([1, 2, 3])
        with self.assertRaises(ValueError):
            cp.vector([1, 2, 3]) @ cp.tensor([[1, 2], [3, 4]])
        with self.assertRaisesRegex(ValueError, "1-d or 2-d"):
            cp.zeros((2, 2, 2)) @ cp.zeros((2, 2))


class DagExport(unittest.TestCase):
    """Containers export one output per element, named by index."""

    def test_tensor_outputs_are_named_by_index(self) -> None:
        t, n = inputs((2, 2))
        doc = export_doc(m=t * 2.0)
        self.assertEqual([o["name"] for o in doc["outputs"]], ["m[0][0]", "m[0][1]", "m[1][0]", "m[1][1]"])
        consts = [x for x in doc["nodes"] if x["op"] == "const"]
        self.assertEqual(len(consts), 1)   # the shared constant appears once


if __name__ == "__main__":
    unittest.main()
