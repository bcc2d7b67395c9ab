"""The array core shared by vector, tensor and quaternion.

Every container is a flat tuple of scalars (copapy values or Python numbers)
in row-major order plus a shape. What differs between the containers is only
which class a result gets and a few class-specific operations (dot and cross
for vectors, matmul for tensors, the Hamilton product for quaternions); shape
handling, NumPy broadcasting, elementwise application and reductions are
defined here once, so an elementwise function written for one container works
on all of them.

Element rules, as in the original copapy (so that its programs build the same
operations and give the same float32 results):

- An elementwise operation with a Python number converts the number to ONE
  constant node shared by all elements; elements that are Python numbers
  are combined with Python arithmetic (double precision) instead.
- Operations on value elements are recorded as written: no rewrites such as
  `x ** 3` -> `x * x * x` (those apply to scalar values only, see _value.py).
- Vectors and tensors promote their elements to one type when they are made:
  if any element is a float, int and bool elements become floats; else if
  any is an int, bools become ints (quaternions keep their elements as given).
- Sums add the Python-number elements first (in double) and the values left
  to right, then the two (`mixed_sum`).

Elementwise application is the hot path of tracing: operands of equal shape
are zipped directly, and a scalar operand is repeated without building a
broadcast copy.

Containers of BLOCK_MIN or more elements whose elements are all values of
one type go further: an elementwise operation, a dot product or a sum over
them is recorded as one block (_block.py) instead of a node per element,
and the result container holds the block instead of its elements
(`_block`); its `values` are made when first read. The nodes are the same
as the elementwise path makes, in the same order of evaluation; only the
export numbers them block by block.
"""
from __future__ import annotations

import functools
import gc
import operator
import threading
from typing import (TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Type,
                    TypeVar, Generic)

from ._block import Block, Chain, Column, Run, column_node, column_slice
from ._loc import here, pinned_location
from ._value import Node, Scalar, _wrap, cast_node, is_scalar, make, operand_node, result_dtype, value

_PROMOTING = frozenset(("add", "sub", "mul", "floordiv", "mod"))

__all__ = ["ArrayBase", "Shape", "broadcast_shapes", "apply", "nested_to_flat", "flat_to_nested", "size_of",
           "normalize_axis", "mixed_sum", "dot_values", "promote", "Size", "element_dtype", "paused_gc"]

Shape = Tuple[int, ...]
_new_object = object.__new__
T = TypeVar("T", covariant=True)
A = TypeVar("A", bound="ArrayBase[Any]")


# ---- The cyclic garbage collector during bulk operations -------------------
#
# Tracing a big container operation allocates a node and a value per element,
# all of which survive. CPython's cyclic GC counts those allocations and, as
# the graph grows, keeps rescanning it: about half the time of tracing a
# 100k-node program went to collections that could find nothing (DAG nodes
# only point at older nodes, so they form no cycles). The bulk operations
# below therefore run with the collector paused (gc.disable) and restore it
# afterwards, also when they raise. They call no user code while paused, so
# garbage made meanwhile is only delayed until the next collection, and the
# pause lasts one container operation.
#
# gc.disable/gc.enable are process-wide. A lock-protected depth count makes
# nested and concurrent pauses (several threads tracing) safe: the first
# pause records whether the collector was enabled and disables it, the last
# resume re-enables it only if it was enabled then. (A thread that calls
# gc.enable()/gc.disable() itself while another thread is in a bulk operation
# may see its setting undone when that operation ends; gc.freeze() was not
# used because frozen objects drop out of gc.get_objects(), which
# Target.compile uses to find the values still alive.)

_gc_lock = threading.Lock()
_gc_state = [0, False]  # [pause depth, whether the collector was enabled at the first pause]
BULK_SIZE = 64  # containers with fewer elements run without touching the collector


def _pause_gc() -> None:
    with _gc_lock:
        if _gc_state[0] == 0:
            _gc_state[1] = gc.isenabled()
            gc.disable()
        _gc_state[0] += 1


def _resume_gc() -> None:
    with _gc_lock:
        _gc_state[0] -= 1
        if _gc_state[0] == 0 and _gc_state[1]:
            gc.enable()


class paused_gc:
    """`with paused_gc(n):` runs the block with the cyclic GC paused if n >=
    BULK_SIZE (see above); the collector's state is restored on exit, also
    after an exception."""
    __slots__ = ("_paused",)

    def __init__(self, n: int) -> None:
        self._paused = n >= BULK_SIZE

    def __enter__(self) -> None:
        if self._paused:
            _pause_gc()

    def __exit__(self, *exc: Any) -> None:
        if self._paused:
            _resume_gc()


class Size(int):
    """The number of elements: an int that can also be called (`t.size` and
    `t.size()` both work; the original's tensors have a size() method, its
    arrays a size property)."""

    def __call__(self) -> int:
        return int(self)


def size_of(shape: Shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _unwrap(x: Any) -> Any:
    """A 0-d array as its element (iterating a 1-d tensor yields 0-d tensors)."""
    if isinstance(x, ArrayBase) and not x.shape:
        return x.values[0]
    return x


def nested_to_flat(data: Any, what: str = "tensor") -> Tuple[Tuple[Any, ...], Shape]:
    """Flat row-major elements and shape of a scalar, a (nested) sequence or an array.

    Ragged nesting (rows of different lengths, or a scalar next to a list) is
    a ValueError naming the position, as in NumPy without dtype=object.
    """
    if isinstance(data, ArrayBase):
        return data.values, data.shape
    if is_scalar(data):
        return (data,), ()
    if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
        raise TypeError(f"{what} elements must be copapy values or Python numbers, not {type(data).__name__}")
    items = list(data)
    if not items:
        return (), (0,)
    if all(type(x) in (float, int, bool) or isinstance(x, value) for x in items):
        return tuple(items), (len(items),)  # the common case: a flat row of scalars
    parts = [nested_to_flat(x, what) for x in items]
    inner = parts[0][1]
    for k, (_, s) in enumerate(parts):
        if s != inner:
            raise ValueError(f"{what} data is ragged: element 0 has shape {inner} but element {k} has shape {s}")
    flat: List[Any] = []
    for vals, _ in parts:
        flat.extend(vals)
    return tuple(flat), (len(items),) + inner


def flat_to_nested(values: Sequence[Any], shape: Shape) -> Any:
    """The nested-list form of flat row-major `values` (a scalar for shape ())."""
    if not shape:
        return values[0]
    if len(shape) == 1:
        return list(values)
    step = size_of(shape[1:])
    return [flat_to_nested(values[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def _kind(x: Any) -> int:
    """0 bool, 1 int, 2 float: the type of an element."""
    if isinstance(x, value):
        d = x._node.dtype
        return 2 if d == "float" else 1 if d == "int" else 0
    t = type(x)
    if t is bool:
        return 0
    if t is int:
        return 1
    if t is float:
        return 2
    import numbers
    if isinstance(x, numbers.Integral):
        return 1
    return 2


_KIND_NAMES = ("bool", "int", "float")


def element_dtype(values: Iterable[Any]) -> str:
    """The elements' common type: "float" if any is a float (or there are none), else "int" if any is an int."""
    kinds = {_kind(x) for x in values}
    if not kinds or 2 in kinds:
        return "float"
    return "int" if 1 in kinds else "bool"


def promote(values: Tuple[Any, ...]) -> Tuple[Any, ...]:
    """The elements converted to their common type (see the module docstring)."""
    kinds = [_kind(x) for x in values]
    if not kinds:
        return values
    top = max(kinds)
    if min(kinds) == top:
        return values
    out: List[Any] = []
    for x, k in zip(values, kinds):
        if k == top:
            out.append(x)
        elif isinstance(x, value):
            out.append(_wrap(cast_node(x._node, _KIND_NAMES[top])))
        else:
            out.append(float(x) if top == 2 else int(x))
    return tuple(out)


def broadcast_shapes(a: Shape, b: Shape) -> Shape:
    """NumPy's rule: align trailing dimensions; each pair must be equal or contain a 1."""
    if a == b:
        return a
    n = max(len(a), len(b))
    pa = (1,) * (n - len(a)) + a
    pb = (1,) * (n - len(b)) + b
    out = []
    for x, y in zip(pa, pb):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            raise ValueError(f"shapes {a} and {b} cannot be broadcast together")
    return tuple(out)


def _broadcast_values(values: Tuple[Any, ...], shape: Shape, target: Shape) -> Sequence[Any]:
    """`values` of `shape` repeated to `target` (which broadcast_shapes produced)."""
    if shape == target:
        return values
    if len(values) == 1:
        return values * size_of(target)
    pad = (1,) * (len(target) - len(shape)) + shape
    # Strides of the source in the target's index space (0 along broadcast axes).
    strides = []
    step = 1
    for d in reversed(pad):
        strides.append(step if d != 1 else 0)
        step *= d
    strides.reverse()
    index = [0]
    for dim, stride in zip(target, strides):
        index = [i + k * stride for i in index for k in range(dim)]
    return [values[i] for i in index]


def normalize_axis(axis: Any, ndim: int) -> int:
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise TypeError(f"axis must be an int, not {type(axis).__name__}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for an array with {ndim} dimension(s)")
    return axis % ndim


def mixed_sum(items: Iterable[Any]) -> "Scalar":
    """The sum as the original copapy builds it: the Python numbers added first
    (in double, from 0), the values added left to right, then one addition of
    the two unless the numbers sum to 0. 0 for no items."""
    consts: Any = 0
    first: Optional[value[Any]] = None
    total: Optional[Node] = None  # the running sum of the values, as a node: no value per step
    loc = here()
    for x in items:
        if isinstance(x, value):
            n = x._node
            if total is None:
                first = x
                total = n
                continue
            s: Node = _new_object(Node)
            s.op = "add"
            s.dtype = "float" if total.dtype == "float" or n.dtype == "float" else "int"
            s.args = (total, n)
            s.mark = 0
            s.loc = loc
            total = s
        else:
            consts = consts + x
    if total is None:
        return consts  # type: ignore[no-any-return]
    result = first if first is not None and total is first._node else _wrap(total)
    if consts == 0:
        return result
    return make("add", total, operand_node(consts))


def dot_values(av: Sequence[Any], bv: Sequence[Any]) -> "Scalar":
    """sum(a * b) over the pairs, as mixed_sum of the elementwise products
    builds it. When every element is a value, the products and the running
    sum are made as nodes directly (one value object for the result instead
    of two per element)."""
    if not (set(map(type, av)) == _JUST_VALUE == set(map(type, bv))):
        mul = ELEMENT_OPS["mul"]
        with paused_gc(len(av)), pinned_location():
            return mixed_sum(mul(a, b) for a, b in zip(av, bv))
    total: Optional[Node] = None
    new = _new_object
    loc = here()
    with paused_gc(len(av)):
        for a, b in zip(av, bv):
            na = a._node
            nb = b._node
            m: Node = new(Node)
            m.op = "mul"
            dtype = m.dtype = "float" if na.dtype == "float" or nb.dtype == "float" else "int"
            m.args = (na, nb)
            m.mark = 0
            m.loc = loc
            if total is None:
                total = m
                continue
            s: Node = new(Node)
            s.op = "add"
            s.dtype = "float" if dtype == "float" or total.dtype == "float" else "int"
            s.args = (total, m)
            s.mark = 0
            s.loc = loc
            total = s
    if total is None:
        return 0
    return _wrap(total)


_JUST_VALUE = {value}


def _scalar_op(op: str, pyop: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """The elementwise form of a DAG op: recorded for values, Python arithmetic for two numbers."""
    def fn(a: Any, b: Any) -> Any:
        if isinstance(a, value) or isinstance(b, value):
            return make(op, operand_node(a), operand_node(b))
        return pyop(a, b)
    fn.__name__ = op
    return fn


# Elementwise operations by DAG op name: the Python operator for two numbers.
_PYOPS: Dict[str, Callable[[Any, Any], Any]] = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv,
    "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow, "lt": operator.lt, "le": operator.le,
    "gt": operator.gt, "ge": operator.ge, "eq": operator.eq, "ne": operator.ne, "and": operator.and_,
    "or": operator.or_, "xor": operator.xor, "lshift": operator.lshift, "rshift": operator.rshift}
ELEMENT_OPS: Dict[str, Callable[[Any, Any], Any]] = {op: _scalar_op(op, fn) for op, fn in _PYOPS.items()}
_ELEMENT_FNS = frozenset(ELEMENT_OPS.values())
_OP_OF_FN = {fn: op for op, fn in ELEMENT_OPS.items()}


# ---- Blocks ------------------------------------------------------------------

BLOCK_MIN = 16  # smaller containers make their nodes one by one
# The element operations whose result type depends on the operand types only
# (pow's depends on the exponent's value), so that one block has one type.
_BLOCK_OPS = frozenset(ELEMENT_OPS) - {"pow"}
_node_of = operator.attrgetter("_node")
_dtype_of = operator.attrgetter("dtype")
# A node of each type, to ask result_dtype for a block's type.
_PROBES = {d: Node("probe", d) for d in ("bool", "int", "float")}


def _column_of(x: "ArrayBase[Any]") -> Optional[Tuple[Column, str]]:
    """The column of a container's elements (see _block.py) and their common
    type, or None if an element is a Python number or the types differ."""
    block = x._block
    if block is not None:
        return Run(block, 0), block.dtype
    vals = x.values
    known = x._column
    if known is not None and known[0] is vals:
        return known[1]  # type: ignore[no-any-return]
    # Kept on the container, for these elements: the blocks of every
    # operation on it then share one list, which the exporter turns into
    # ids once.
    column: Optional[Tuple[Column, str]] = None
    if set(map(type, vals)) == _JUST_VALUE:
        nodes = list(map(_node_of, vals))
        dtypes = set(map(_dtype_of, nodes))
        if len(dtypes) == 1:
            column = (nodes, dtypes.pop())
    x._column = (vals, column)
    return column


def _operand_column(x: Any, n: int) -> Optional[Tuple[Column, str]]:
    """The column of an elementwise operand: a container of n elements, a
    value or a Python number (one node for all elements); None where the
    elementwise path must be taken."""
    if isinstance(x, ArrayBase):
        return _column_of(x) if len(x.shape) and size_of(x.shape) == n else None
    node = operand_node(x)
    return node, node.dtype


def _block_apply(op: str, operands: Sequence[Any], cls: Type["ArrayBase[Any]"], shape: Shape) -> Optional[Any]:
    """`op` over operands (containers of `shape`, values, numbers) as one
    block, in a container of class `cls`; None if some operand is not a
    column (see _operand_column), and then nothing has been made."""
    n = size_of(shape)
    columns = []
    dtypes = []
    for x in operands:
        c = _operand_column(x, n)
        if c is None:
            return None
        columns.append(c[0])
        dtypes.append(c[1])
    dtype = result_dtype(op, tuple(_PROBES[d] for d in dtypes))
    return cls._make_block(Block(op, dtype, n, tuple(columns), here()), shape)


def _block_sum(column: Column, dtype: str, n: int, loc: int) -> Node:
    """The node of the sum of a column's n elements of type `dtype`, left to
    right: a block of n - 1 additions, each adding to the one before (the
    first element for n = 1)."""
    first = column_node(column, 0)
    if n == 1:
        return first
    total_dtype = result_dtype("add", (_PROBES[dtype], _PROBES[dtype]))  # bools add up to ints
    total = Block("add", total_dtype, n - 1, (Chain(first), column_slice(column, 1, n)), loc)
    return total.elem(n - 2)


def _block_dot(a: Column, b: Column, dtypes: Tuple[str, str], n: int, loc: int) -> Node:
    """The node of sum(a[j] * b[j]) over n >= 1 elements, as dot_values builds it."""
    dtype = result_dtype("mul", (_PROBES[dtypes[0]], _PROBES[dtypes[1]]))
    products = Block("mul", dtype, n, (a, b), loc)
    return _block_sum(Run(products, 0), dtype, n, loc)


def dot_arrays(a: "ArrayBase[Any]", b: "ArrayBase[Any]", rows: int = 1) -> Optional[List[Any]]:
    """For `rows` rows of a (each as long as b, b 1-d): the dot product of
    each with b, as blocks; None if a or b is not a column (dot_values then)."""
    k = size_of(b.shape)
    if k < BLOCK_MIN:
        return None
    ca = _column_of(a)
    cb = _column_of(b) if ca is not None else None
    if ca is None or cb is None:
        return None
    loc = here()
    return [_wrap(_block_dot(column_slice(ca[0], i * k, (i + 1) * k), cb[0], (ca[1], cb[1]), k, loc))
            for i in range(rows)]


class ArrayBase(Generic[T]):
    """Base of vector, tensor and quaternion: `values` (flat, row-major) and `shape`.

    Subclasses set `_rank` (which class wins when containers of different
    kinds meet in an elementwise operation: the higher rank) and `_accepts`
    (which shapes the class can hold).
    """
    __slots__ = ("values", "shape", "_block", "_column")
    values: Tuple[Any, ...]
    shape: Shape
    _block: Optional[Block]  # the block holding the elements, if one does (module docstring)
    _column: Any  # (values, what _column_of found for them) of a container without a block
    _rank = 0
    _promotes = True  # whether elements are converted to one type when made

    if not TYPE_CHECKING:  # (for mypy every attribute would exist)
        def __getattr__(self, name: str) -> Any:
            # Called only for slots not set: `_block` and `_column` of a
            # container made from its elements, and `values` of one made
            # from a block (made now).
            if name == "_block" or name == "_column":
                return None
            if name == "values":
                block = self._block
                if block is not None:
                    with paused_gc(block.n):
                        values = self.values = tuple(map(_wrap, map(block.elem, range(block.n))))
                    return values
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @classmethod
    def _make_block(cls: Type[A], block: Block, shape: Shape) -> A:
        """A new container of this class holding the elements of `block`."""
        obj = object.__new__(cls)
        obj._block = block
        obj.shape = shape
        return obj

    @classmethod
    def _make(cls: Type[A], values: Sequence[Any], shape: Shape) -> A:
        """A new container of this class (which must accept `shape`) without checking the elements."""
        obj = object.__new__(cls)
        obj.values = tuple(values)
        obj.shape = shape
        return obj

    @classmethod
    def _make_promoted(cls: Type[A], values: Sequence[Any], shape: Shape) -> A:
        vals = tuple(values)
        return cls._make(promote(vals) if cls._promotes else vals, shape)

    @staticmethod
    def _accepts(shape: Shape) -> bool:
        """Whether this class can hold an array of `shape`."""
        raise NotImplementedError

    # ---- Shape ---------------------------------------------------------------

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def size(self) -> Size:
        """Number of elements (callable too: `t.size()`)."""
        return Size(size_of(self.shape))

    @property
    def dtype(self) -> str:
        """The elements' common type: "float", "int" or "bool"."""
        block = self._block
        return block.dtype if block is not None else element_dtype(self.values)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.values)

    def tolist(self) -> Any:
        """The elements as nested Python lists (a scalar for a 0-d tensor)."""
        return flat_to_nested(self.values, self.shape)

    def get_scalar(self, *index: int) -> Any:
        """The element at `index` (one int per dimension)."""
        if len(index) != len(self.shape):
            raise IndexError(f"get_scalar() needs {len(self.shape)} indices for shape {self.shape}, "
                             f"got {len(index)}")
        flat = 0
        for i, d in zip(index, self.shape):
            if not -d <= i < d:
                raise IndexError(f"index {i} is out of range for a dimension of size {d}")
            flat = flat * d + (i % d)
        return self.values[flat]

    def _is_constant(self) -> bool:
        return not any(isinstance(x, value) for x in self.values)

    def homogenize(self: A) -> A:
        """The container with every element a copapy value: if any element is a
        value, each Python number becomes a new input (cp.value) with that
        initial value; a container of numbers only is returned as it is."""
        if self._is_constant():
            return self
        return type(self)._make_promoted([x if isinstance(x, value) else value(x) for x in self.values],
                                         self.shape)

    # ---- Elementwise ---------------------------------------------------------

    def map(self: A, func: Callable[[Any], Any]) -> A:
        """A container of the same kind and shape holding func(element) for every element."""
        return type(self)._make_promoted([func(x) for x in self.values], self.shape)

    def _binary(self, op: str, other: Any, reflected: bool) -> Any:
        """self op other elementwise (other op self when reflected), broadcasting."""
        fn = ELEMENT_OPS[op]
        if op in _BLOCK_OPS and size_of(self.shape) >= BLOCK_MIN and self.shape and \
                (isinstance(other, value) or type(other) in (float, int, bool)):
            made = _block_apply(op, (other, self) if reflected else (self, other), type(self), self.shape)
            if made is not None:
                return made
        if isinstance(other, value):
            with paused_gc(len(self.values)), pinned_location():
                if reflected:
                    return type(self)._make([fn(other, a) for a in self.values], self.shape)
                return type(self)._make([fn(a, other) for a in self.values], self.shape)
        if type(other) in (float, int, bool) or (is_scalar(other) and not isinstance(other, ArrayBase)):
            return self._binary_number(op, fn, other, reflected)
        if isinstance(other, ArrayBase):
            other = _unwrap(other) if not other.shape and self.shape else other
            if not isinstance(other, ArrayBase):
                return self._binary(op, other, reflected)
            return apply(fn, (other, self) if reflected else (self, other))
        if isinstance(other, (list, tuple)):
            # A plain sequence takes the container kind of `self` (vector == [1, 2, 3] is a vector).
            from ._tensor import tensor
            t: ArrayBase[Any] = tensor(other)
            return apply(fn, (t, self) if reflected else (self, t), prefer=type(self))
        return NotImplemented

    def _binary_number(self, op: str, fn: Callable[[Any, Any], Any], number: Any, reflected: bool) -> Any:
        """Against a Python number: one constant node for all value elements, Python
        arithmetic for number elements."""
        pyop = _PYOPS[op]
        const: Optional[Node] = None
        dtypes: Dict[str, str] = {}  # element dtype -> result dtype (the constant is the same for all)
        out: List[Any] = []
        append = out.append
        new = _new_object
        promoting = op in _PROMOTING
        vals = self.values
        loc = here()
        if promoting and set(map(type, vals)) == _JUST_VALUE:
            # Every element a value and + - * // %: one tight loop.
            with paused_gc(len(vals)), pinned_location():
                const = operand_node(number)
                const_float = const.dtype == "float"
                for a in vals:
                    node = a._node
                    n0: Node = new(Node)
                    n0.op = op
                    n0.dtype = "float" if const_float or node.dtype == "float" else "int"
                    n0.args = (const, node) if reflected else (node, const)
                    n0.mark = 0
                    n0.loc = loc
                    v0: value[Any] = new(value)
                    v0._node = n0
                    append(v0)
            return type(self)._make(out, self.shape)
        with paused_gc(len(vals)), pinned_location():
            for a in vals:
                if a.__class__ is value or isinstance(a, value):
                    node = a._node
                    if const is None:
                        const = operand_node(number)
                    args = (const, node) if reflected else (node, const)
                    if promoting:  # + - * // %: the result type without a call
                        dtype = "float" if node.dtype == "float" or const.dtype == "float" else "int"
                    else:
                        dtype = dtypes.get(node.dtype)  # type: ignore[assignment]
                        if dtype is None:
                            dtype = dtypes[node.dtype] = result_dtype(op, args)
                    n: Node = new(Node)
                    n.op = op
                    n.dtype = dtype
                    n.args = args
                    n.mark = 0
                    n.loc = loc
                    v: value[Any] = new(value)
                    v._node = n
                    append(v)
                else:
                    append(pyop(number, a) if reflected else pyop(a, number))
        return type(self)._make(out, self.shape)

    # The operators, defined once for every container. Subclasses that need
    # different semantics (the quaternion's products) override them.
    def __add__(self, other: Any) -> Any: return self._binary("add", other, False)
    def __radd__(self, other: Any) -> Any: return self._binary("add", other, True)
    def __sub__(self, other: Any) -> Any: return self._binary("sub", other, False)
    def __rsub__(self, other: Any) -> Any: return self._binary("sub", other, True)
    def __mul__(self, other: Any) -> Any: return self._binary("mul", other, False)
    def __rmul__(self, other: Any) -> Any: return self._binary("mul", other, True)
    def __truediv__(self, other: Any) -> Any: return self._binary("div", other, False)
    def __rtruediv__(self, other: Any) -> Any: return self._binary("div", other, True)
    def __floordiv__(self, other: Any) -> Any: return self._binary("floordiv", other, False)
    def __rfloordiv__(self, other: Any) -> Any: return self._binary("floordiv", other, True)
    def __mod__(self, other: Any) -> Any: return self._binary("mod", other, False)
    def __rmod__(self, other: Any) -> Any: return self._binary("mod", other, True)
    def __pow__(self, other: Any) -> Any: return self._binary("pow", other, False)
    def __rpow__(self, other: Any) -> Any: return self._binary("pow", other, True)
    # Python reflects comparisons itself (3 < v calls v.__gt__(3)).
    def __lt__(self, other: Any) -> Any: return self._binary("lt", other, False)
    def __le__(self, other: Any) -> Any: return self._binary("le", other, False)
    def __gt__(self, other: Any) -> Any: return self._binary("gt", other, False)
    def __ge__(self, other: Any) -> Any: return self._binary("ge", other, False)
    def __eq__(self, other: Any) -> Any: return self._binary("eq", other, False)
    def __ne__(self, other: Any) -> Any: return self._binary("ne", other, False)
    # == compares elementwise instead of returning a bool, so hashing goes by identity.
    __hash__ = object.__hash__
    def __and__(self, other: Any) -> Any: return self._binary("and", other, False)
    def __rand__(self, other: Any) -> Any: return self._binary("and", other, True)
    def __or__(self, other: Any) -> Any: return self._binary("or", other, False)
    def __ror__(self, other: Any) -> Any: return self._binary("or", other, True)
    def __xor__(self, other: Any) -> Any: return self._binary("xor", other, False)
    def __rxor__(self, other: Any) -> Any: return self._binary("xor", other, True)
    def __lshift__(self, other: Any) -> Any: return self._binary("lshift", other, False)
    def __rlshift__(self, other: Any) -> Any: return self._binary("lshift", other, True)
    def __rshift__(self, other: Any) -> Any: return self._binary("rshift", other, False)
    def __rrshift__(self, other: Any) -> Any: return self._binary("rshift", other, True)

    def __bool__(self) -> bool:
        # As NumPy: a single Python number has a truth value (t[0, 1] == 2 on a
        # constant tensor is a 0-d tensor); anything else is ambiguous.
        if len(self.values) == 1 and not isinstance(self.values[0], value):
            return bool(self.values[0])
        raise TypeError(f"the truth value of a {type(self).__name__} is ambiguous (or its elements are only "
                        "known when the compiled program runs); compare the .values or the elements instead")

    def __float__(self) -> float:
        if len(self.values) == 1 and not isinstance(self.values[0], value):
            return float(self.values[0])
        raise TypeError(f"only a {type(self).__name__} of one Python number converts to float")

    def __format__(self, spec: str) -> str:
        # A single Python number formats as that number (f"{t[0]:.3f}" of a read tensor).
        if spec and len(self.values) == 1 and not isinstance(self.values[0], value):
            return format(self.values[0], spec)
        return format(str(self), spec)

    def __int__(self) -> int:
        if len(self.values) == 1 and not isinstance(self.values[0], value):
            return int(self.values[0])
        raise TypeError(f"only a {type(self).__name__} of one Python number converts to int")

    # The elements' own operators make the nodes; the location is the caller's, looked up once.
    def __neg__(self: A) -> A:
        with pinned_location():
            return type(self)._make([-x for x in self.values], self.shape)

    def __pos__(self: A) -> A:
        return self

    def __abs__(self: A) -> A:
        with pinned_location():
            return type(self)._make([abs(x) for x in self.values], self.shape)

    def __invert__(self: A) -> A:
        with pinned_location():
            return type(self)._make([~x for x in self.values], self.shape)

    def next(self, x: Any) -> None:
        """For a container of states (cp.state of a container): the value of
        every element for the next run, from a container of the same shape
        (broadcast) or a scalar."""
        if isinstance(x, (list, tuple)):
            from ._tensor import tensor
            x = tensor(x)
        if isinstance(x, ArrayBase):
            shape = broadcast_shapes(self.shape, x.shape)
            if shape != self.shape:
                raise ValueError(f"next() of states of shape {self.shape} got a value of shape {x.shape}")
            news: Sequence[Any] = _broadcast_values(x.values, x.shape, shape)
        else:
            news = (x,) * len(self.values)
        for s, n in zip(self.values, news):
            if not isinstance(s, value):
                raise TypeError("next() is for containers of states made by cp.state(), not for "
                                f"a {type(self).__name__} holding {type(s).__name__}")
            s.next(n)

    # ---- Reductions ----------------------------------------------------------

    def _reduce_axis(self, fn: Callable[[Any, Any], Any], axis: Optional[Any], keepdims: bool = False) -> Any:
        """Reduces along one axis (or a sequence of axes) with fn: the first
        element of each output position is taken, the others combined with fn
        in row-major order of the source."""
        ndim = len(self.shape)
        axes = sorted({normalize_axis(a, ndim) for a in (axis if isinstance(axis, (tuple, list)) else (axis,))})
        out_shape = tuple(1 if i in axes else d for i, d in enumerate(self.shape))
        strides_out = []
        step = 1
        for d in reversed(out_shape):
            strides_out.append(step)
            step *= d
        strides_out.reverse()
        acc: List[Any] = [None] * size_of(out_shape)
        src = self.values
        k = 0
        for flat_index in _row_major(self.shape):
            o = sum(0 if i in axes else j * strides_out[i] for i, j in enumerate(flat_index))
            acc[o] = src[k] if acc[o] is None else fn(acc[o], src[k])
            k += 1
        shape = out_shape if keepdims else tuple(d for i, d in enumerate(self.shape) if i not in axes)
        from ._tensor import tensor
        if not shape:
            return acc[0]
        return _container_for(shape, type(self) if type(self)._rank >= tensor._rank else tensor)._make(acc, shape)

    def sum(self, axis: Optional[Any] = None, keepdims: bool = False) -> Any:
        # Any: a scalar without axis, a container with one.
        """The sum of all elements (Python numbers first, then the values left to
        right: see mixed_sum) or, with `axis`, along that axis (or axes)."""
        if axis is not None and self.shape:
            axes = axis if isinstance(axis, (tuple, list)) else (axis,)
            if {normalize_axis(a, len(self.shape)) for a in axes} == set(range(len(self.shape))):
                axis = None  # every axis: the same as no axis (mixed_sum), as the original
        if axis is None:
            column = _column_of(self) if size_of(self.shape) >= BLOCK_MIN else None
            total: Any
            if column is not None:
                total = _wrap(_block_sum(column[0], column[1], size_of(self.shape), here()))
            else:
                with paused_gc(len(self.values)):
                    total = mixed_sum(self.values)  # looks its location up once
            if keepdims:
                from ._tensor import tensor
                return tensor._make([total], (1,) * len(self.shape))
            return total
        return self._reduce_axis(ELEMENT_OPS["add"], axis, keepdims)

    def mean(self, axis: Optional[Any] = None, keepdims: bool = False) -> Any:
        """The sum divided by the number of elements summed (a division, not a
        multiplication by the reciprocal)."""
        total = self.sum(axis, keepdims)
        count = size_of(self.shape) // (size_of(total.shape) if isinstance(total, ArrayBase) else 1)
        if count == 0:
            raise ValueError("mean of an empty array")
        return total / count

    def _take(self, k: value[Any]) -> Tuple[List[Any], Shape]:
        """The elements and shape of self[k] for a traced int index k along the
        first axis, chosen when the program runs: k is clamped as in the
        original (k + n for negative k, then limited to [0, n - 1]), and each
        element is a chain of selects over the candidates."""
        if k.dtype == "float":
            raise TypeError("an index must be an int or bool value, not a float value")
        n = self.shape[0]
        inner = size_of(self.shape[1:])
        if n == 0:
            raise IndexError("index into an empty array")
        rows = [self.values[i * inner:(i + 1) * inner] for i in range(n)]
        if n == 1:
            return list(rows[0]), self.shape[1:]
        from ._math import iif, maximum, minimum
        idx = minimum(maximum(k + (k < 0) * n, 0), n - 1)
        picked = list(rows[0])
        for i in range(1, n):
            hit = idx == i
            picked = [iif(hit, new, old) for new, old in zip(rows[i], picked)]
        return picked, self.shape[1:]

    def _reduce(self, fn: Callable[[Any, Any], Any], axis: Optional[int], empty: Any) -> Any:
        """fn applied from the left over all elements."""
        if not self.values:
            return empty
        return functools.reduce(fn, self.values)


def _row_major(shape: Shape) -> Iterator[Tuple[int, ...]]:
    import itertools
    return itertools.product(*(range(d) for d in shape))



def _container_for(shape: Shape, preferred: Type[ArrayBase[Any]]) -> Type[ArrayBase[Any]]:
    """The class of a result of `shape`: `preferred` if it can hold that shape,
    else a vector for 1-d results (a slice of a quaternion), else a tensor."""
    if preferred._accepts(shape):
        return preferred
    from ._tensor import tensor
    from ._vector import vector
    return vector if len(shape) == 1 else tensor


def apply(fn: Callable[..., Any], operands: Sequence[Any], prefer: Optional[Type[ArrayBase[Any]]] = None) -> Any:
    """fn applied elementwise over broadcast operands (arrays and scalars).

    The result is of the highest-ranked container class among the operands
    (tensor > vector > quaternion), or of `prefer`, with the broadcast shape.
    Vectors and quaternions are not broadcast against each other (a length-1
    vector meeting a longer one is a mistake, not a scalar).
    """
    arrays = [x for x in operands if isinstance(x, ArrayBase)]
    cls: Type[ArrayBase[Any]] = prefer or max((type(a) for a in arrays), key=lambda c: c._rank)
    shape = arrays[0].shape
    for a in arrays[1:]:
        if a.shape != shape and a._rank < 3 and arrays[0]._rank < 3:
            raise ValueError(f"vector lengths differ: {shape[0] if shape else 0} and {a.shape[0] if a.shape else 0}")
        shape = broadcast_shapes(shape, a.shape)
    n = size_of(shape)
    cls = _container_for(shape, cls)
    op = _OP_OF_FN.get(fn)
    if op in _BLOCK_OPS and n >= BLOCK_MIN and shape and all(a.shape == shape for a in arrays):
        made = _block_apply(op, operands, cls, shape)  # before reading any element (which would make them)
        if made is not None:
            return made
    columns: List[Sequence[Any]] = []
    for x in operands:
        if isinstance(x, ArrayBase):
            columns.append(_broadcast_values(x.values, x.shape, shape))
        else:
            columns.append((x,) * n)
    if fn in _ELEMENT_FNS:  # no user code: the collector can pause, and every node is made on one line
        with paused_gc(n), pinned_location():
            return cls._make([fn(*args) for args in zip(*columns)], shape)
    return cls._make([fn(*args) for args in zip(*columns)], shape)

