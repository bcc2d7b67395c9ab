"""Scalar values of a traced program and the operators on them.

A `value` is the user's handle on one node of the DAG. The node (`Node`) holds
the operation, its result type and its operands; the handle only points at it.
Keeping the two apart is what lets `Target.compile` tell values the program
still refers to (alive handles) from temporaries (collected handles whose
nodes live on inside the graph); see `alive_nodes`.

The result type of every operation is computed here exactly as
docs/dag-format.md ("Types and operations") prescribes, because copapy-cc
rejects a node whose `dtype` disagrees with its operands.

Static types: `value[int]`, `value[float]` and `value[bool]` (the parameter is
covariant, so a value[bool] is accepted where a value[int] is, and a
value[int] where a value[float] is, as Python's numbers are). The operator
overloads below give the result type of every operation.
"""
from __future__ import annotations

import gc
import itertools
import math
import numbers
import re
import struct
import sys
import threading
from typing import Any, Generic, List, Optional, Tuple, TypeVar, Union, cast, overload

from ._loc import NO_LOCATION, PINNED, here, location_from

__all__ = ["value", "Node", "Leaf", "new_op", "GRAD_MADE", "node_repr", "f32", "INT_MIN", "INT_MAX", "is_scalar",
           "operand_node", "make", "alive_nodes",
           "check_name", "declare_range", "format_range", "NumLike", "Scalar", "IntLike", "FloatLike", "BoolLike",
           "cast_node", "dtype_of_type", "state"]

Number = Union[bool, int, float]
T = TypeVar("T", covariant=True)

INT_MIN = -(2 ** 31)
INT_MAX = 2 ** 31 - 1

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\[\]]*\Z")


_F32 = struct.Struct("<f")
_f32_pack = _F32.pack
_f32_unpack = _F32.unpack


def f32(x: float) -> float:
    """`x` rounded to the nearest binary32 value (ties to even), as a Python float.

    Overflow gives +-inf, as a C conversion from double to float does.
    """
    try:
        return _f32_unpack(_f32_pack(x))[0]  # type: ignore[no-any-return]
    except OverflowError:
        return math.copysign(math.inf, x)


def check_name(name: Any, kind: str) -> str:
    """Returns `name` if it is a valid input or output name (docs/dag-format.md), else raises ValueError."""
    if not isinstance(name, str):
        raise TypeError(f"{kind} name must be a string, not {type(name).__name__}")
    if not _NAME_RE.match(name) or len(name.encode("utf-8")) > 255:
        raise ValueError(f"invalid {kind} name {name!r}: names must match [A-Za-z_][A-Za-z0-9_.[\\]]* "
                         "and be at most 255 bytes")
    return name


class Node:
    """One node of the DAG: an operation over operand nodes.

    op:    DAG operation name ("add", "mul", ...; "input", "const" and
           "state" for leaves, see Leaf)
    dtype: result type: "int", "float" or "bool"
    args:  operand nodes, in order (empty for leaves)
    value, name, update: None for operations (class attributes; Leaf has
           them as slots)
    mark:  written by the exporter (_dag.py): the node's id in the DAG being
           built plus that DAG's base (a mark below the base means "not in
           that DAG"); one int on the node instead of a dict keyed by node
           keeps exporting cheap per node.
    loc:   where the user's code made the node: an index into
           _loc.LOCATIONS (0: unknown)

    Tracing makes one of these per operation, so it is kept small (five
    slots) and is made without a Python-level __init__ on the hot paths
    (see `make` and `new_op`).
    """
    __slots__ = ("op", "dtype", "args", "mark", "loc")
    op: str
    dtype: str
    args: Tuple["Node", ...]
    mark: int
    loc: int
    # What only leaves have (as slots of Leaf); operations read these defaults.
    value: Optional[Number] = None
    name: Optional[str] = None
    update: Optional["Node"] = None
    range: Optional[Tuple[Number, Number]] = None

    def __init__(self, op: str, dtype: str, args: Tuple["Node", ...] = (), loc: int = NO_LOCATION) -> None:
        self.op = op
        self.dtype = dtype
        self.args = args
        self.mark = 0
        self.loc = loc

    def __repr__(self) -> str:
        if self.op == "input":
            return f"Node(input {self.dtype} {self.name or '<auto>'} = {self.value!r})"
        if self.op == "const":
            return f"Node(const {self.dtype} {self.value!r})"
        return f"Node({self.op} -> {self.dtype})"


class Leaf(Node):
    """A node without operands: an input, a constant or a state.

    value:  the constant, or the input's (state's) initial value
    name:   the user's name of an input or state, None if it is to be named
            automatically
    update: a state's value for the next run (state.next()), else None
    range:  an input's or state's declared range (lo, hi), values of its
            dtype (see declare_range), else None
    """
    __slots__ = ("value", "name", "update", "range")
    value: Number

    def __init__(self, op: str, dtype: str, value: Number, name: Optional[str] = None,
                 loc: int = NO_LOCATION) -> None:
        self.op = op
        self.dtype = dtype
        self.args = ()
        self.mark = 0
        self.loc = loc
        self.value = value
        self.name = name
        self.update = None
        self.range = None


_new = object.__new__
_getframe = sys._getframe
_get_ident = threading.get_ident


def new_op(op: str, dtype: str, args: Tuple[Node, ...]) -> Node:
    """Node(op, dtype, args) made here (at the user's line) without the __init__
    call (the tracer's hot paths inline this)."""
    n: Node = _new(Node)
    n.op = op
    n.dtype = dtype
    n.args = args
    n.mark = 0
    n.loc = here()
    return n


def node_repr(n: Node) -> str:
    """How a value of node `n` shows itself: <copapy value: input float = 0.5>."""
    if n.op in ("state", "input"):
        label = f" {n.name!r}" if n.name is not None else ""
        return f"<copapy value: {n.op}{label} {n.dtype} = {n.value!r}>"
    if n.op == "const":
        return f"<copapy value: const {n.dtype} = {n.value!r}>"
    return f"<copapy value: {n.op} -> {n.dtype}>"


def _check_int(x: int) -> int:
    if not INT_MIN <= x <= INT_MAX:
        raise OverflowError(f"integer {x} does not fit in int32 (the DAG's int type); "
                            "use a float if you need a larger range")
    return x


def _classify(x: Any) -> Tuple[str, Number]:
    """The DAG type of a Python number and its value in that type."""
    t = type(x)
    if t is bool:
        return "bool", x
    if t is int:
        return "int", _check_int(x)
    if t is float:
        return "float", f32(x)
    # Other number types (int subclasses, numpy scalars, fractions) by their abstract kind.
    if isinstance(x, numbers.Integral):
        return "int", _check_int(int(x))
    if isinstance(x, numbers.Real):
        return "float", f32(float(x))
    raise TypeError(f"expected a copapy value or a Python number (bool, int, float), not {t.__name__}")


_SCALAR_TYPES = (float, int, bool)


def is_scalar(x: Any) -> bool:
    """True for a copapy value or a real Python number."""
    return type(x) in _SCALAR_TYPES or isinstance(x, (value, numbers.Real))


def operand_node(x: Any, loc: Optional[int] = None) -> Node:
    """The node for an operand: a value's node, or a new `const` node for a
    Python number (made at location `loc`, by default the caller's)."""
    if isinstance(x, value):
        return x._node
    dtype, v = _classify(x)
    return Leaf("const", dtype, v, None, here() if loc is None else loc)


# Python operator symbols, for error messages.
_SYMBOL = {"and": "&", "or": "|", "xor": "^", "lshift": "<<", "rshift": ">>"}

_PROMOTING = frozenset(("add", "sub", "mul", "floordiv", "mod"))
_SAME_KIND = frozenset(("min", "max"))
_UNARY_NUM = frozenset(("neg", "abs", "sign"))
_COMPARE = frozenset(("gt", "ge", "lt", "le", "eq", "ne"))
_BITWISE = frozenset(("and", "or", "xor"))
_SHIFT = frozenset(("lshift", "rshift"))
_MATH = frozenset(("sqrt", "exp", "log", "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "tanh", "hypot",
                   "floor", "ceil", "trunc", "round"))


def _int_like(dtype: str) -> bool:
    return dtype != "float"


def _same_kind(a: str, b: str) -> str:
    """Type of min, max and select over operands a and b: bool if both bool, int if both int-like."""
    if a == "bool" and b == "bool":
        return "bool"
    return "int" if _int_like(a) and _int_like(b) else "float"


def result_dtype(op: str, args: Tuple[Node, ...]) -> str:
    """The result type of `op` on `args` (docs/dag-format.md); TypeError where the DAG has no such op."""
    if op in _PROMOTING:
        return "int" if _int_like(args[0].dtype) and _int_like(args[1].dtype) else "float"
    if op == "div" or op in _MATH:
        return "float"
    if op == "pow":
        base, exponent = args
        int_pow = (_int_like(base.dtype) and exponent.op == "const" and _int_like(exponent.dtype)
                   and exponent.value is not None and exponent.value >= 0)
        return "int" if int_pow else "float"
    if op in _SAME_KIND:
        return _same_kind(args[0].dtype, args[1].dtype)
    if op in _UNARY_NUM:
        return "int" if _int_like(args[0].dtype) else "float"
    if op in _COMPARE:
        return "bool"
    if op in _BITWISE or op in _SHIFT:
        if not (_int_like(args[0].dtype) and _int_like(args[1].dtype)):
            raise TypeError(f"unsupported operand types for {_SYMBOL[op]}: {args[0].dtype} and {args[1].dtype} "
                            "(bitwise operations need int or bool values)")
        if op in _SHIFT:
            return "int"
        return "bool" if args[0].dtype == "bool" and args[1].dtype == "bool" else "int"
    if op == "select":
        return _same_kind(args[1].dtype, args[2].dtype)
    if op == "grad":
        if args[0].dtype != "float" or args[1].dtype != "float":
            raise TypeError(f"grad differentiates a float by a float, not {args[0].dtype} by {args[1].dtype}")
        return "float"
    raise ValueError(f"unknown operation {op!r}")


def alive_nodes() -> List[Node]:
    """The nodes of every value object that has not been garbage collected
    yet, and the elements of every block (_block.py) that a container still
    alive holds and the newest export numbered: the values a program still
    refers to.

    Found through the garbage collector's list of objects when a program is
    compiled, so that tracing keeps no registry and costs nothing extra per
    value. The order is not meaningful: callers order by DAG id.
    """
    from ._array import ArrayBase
    nodes: List[Node] = []
    for o in gc.get_objects():
        if type(o) is value:
            nodes.append(o._node)
        elif isinstance(o, ArrayBase):
            block = o._block
            if block is not None:  # the elements the newest export numbered (the others are in no program)
                for lo, hi in zip(block.los, block.his):
                    nodes.extend(map(block.elem, range(lo, hi)))
    return nodes


def _wrap(node: Node) -> "value[Any]":
    v: value[Any] = _new(value)
    v._node = node
    return v


# Whether this process has made a grad node: only then does the exporter
# look for grad nodes among all nodes (they need DAG format version 2).
GRAD_MADE = [False]


def make(op: str, *args: Node, loc: Optional[int] = None) -> "value[Any]":
    """A new value computing `op` over the operand nodes, made at location
    `loc` (by default the caller's, see _loc)."""
    if op in _PROMOTING:  # the hot path of tracing: + - * with two operands
        a, b = args
        dtype = "float" if a.dtype == "float" or b.dtype == "float" else "int"
    else:
        dtype = result_dtype(op, args)
        if op == "grad":
            GRAD_MADE[0] = True
    n: Node = _new(Node)
    n.op = op
    n.dtype = dtype
    n.args = args
    n.mark = 0
    n.loc = here() if loc is None else loc
    v: value[Any] = _new(value)
    v._node = n
    return v


def _binary(op: str, a: Any, b: Any) -> "value[Any]":
    """`a op b` for scalars a, b (at least one a value); NotImplemented for
    anything else, so that Python tries the other operand's method (value +
    vector is vector.__radd__)."""
    if not (is_scalar(a) and is_scalar(b)):
        return NotImplemented
    # Called by the values' operators only: the user's code (or the package's
    # caller of the operator) is two frames out. One lookup for the node and
    # a constant made for a Python operand.
    loc = PINNED.get(_get_ident()) if PINNED else None
    if loc is None:
        loc = location_from(_getframe(2))
    return make(op, operand_node(a, loc), operand_node(b, loc), loc=loc)


_DTYPES = {int: "int", float: "float", bool: "bool", "int": "int", "float": "float", "bool": "bool"}


def dtype_of_type(t: Any) -> str:
    """The DAG type named by a Python type (int, float, bool) or a type name."""
    try:
        return _DTYPES[t]
    except (KeyError, TypeError):
        # ValueError, as the original: a bad dtype is a bad value of that argument.
        raise ValueError(f"unsupported type {t!r}: expected int, float or bool (or 'int', 'float', 'bool')") from None


def cast_node(node: Node, dtype: str) -> Node:
    """`node` converted to `dtype` (the DAG's `cast`: float -> int truncates toward
    zero and saturates, NaN -> 0; anything -> bool is `!= 0`); `node` itself if
    it has that type already."""
    if node.dtype == dtype:
        return node
    return new_op("cast", dtype, (node,))


_TRACE_HINT = ("it is only known when the compiled program runs: read it with Target.read_value() after "
               "Target.run()")


class value(Generic[T]):
    """A scalar in a traced program: an input (made by `cp.value(x)`), or the
    result of operations on values and Python numbers.

    `cp.value(x, name=None)` makes an input, a variable the host may write
    before each run (`Target.write_value`), with initial value `x`. Its type
    follows `x`: bool -> "bool", int -> "int" (int32), float -> "float"
    (binary32; `x` is rounded to the nearest binary32 value). Inputs without a
    name are named automatically when the program is exported. `dtype`
    (int, float or bool) converts `x` first, so `cp.value(1, float)` is a
    float input. `range=(lo, hi)` declares the values the host will write
    (see declare_range); Target refuses to write others.

    Arithmetic, comparisons and bit operations with other values or Python
    numbers record DAG nodes instead of computing; Python numbers become
    `const` nodes. A value has no truth value at trace time: use
    `cp.iif(cond, a, b)` instead of `if` or `and`/`or`.
    """
    __slots__ = ("_node", "__weakref__")
    _node: Node

    def __init__(self, x: Union[T, "value[Any]"], dtype: Any = None, name: Optional[str] = None,
                 range: Any = None) -> None:
        if x.__class__ is float and dtype is None and name is None and range is None:
            # The common case (cp.value(1.5)) without the general checks below.
            try:
                v = _f32_unpack(_f32_pack(x))[0]
            except OverflowError:
                v = math.copysign(math.inf, cast(float, x))
            n: Leaf = _new(Leaf)
            n.op = "input"
            n.dtype = "float"
            n.args = ()
            n.mark = 0
            n.loc = here()
            n.value = v
            n.name = None
            n.update = None
            n.range = None
            self._node = n
            return
        if isinstance(dtype, str) and dtype not in _DTYPES:
            # The original's signature is value(x, dtype=None); accept a name given positionally too.
            name, dtype = dtype, None
        if isinstance(x, value):
            raise TypeError("cp.value() makes an input from a Python number; it cannot wrap another value "
                            "(use cp.cast(v, type) to convert a value)")
        number: Any = x if dtype is None else _convert_number(x, dtype_of_type(dtype))
        kind, v = _classify(number)
        node = Leaf("input", kind, v, None if name is None else check_name(name, "input"), here())
        if range is not None:
            declare_range(node, range)
        self._node = node

    @property
    def dtype(self) -> str:
        """The value's type: "int", "float" or "bool"."""
        return self._node.dtype

    @property
    def name(self) -> Optional[str]:
        """The input's name given to cp.value(); None for automatically named inputs and for results."""
        return self._node.name

    def __repr__(self) -> str:
        return node_repr(self._node)

    # == records a node instead of comparing, so hashing must go by identity.
    __hash__ = object.__hash__

    @overload
    def __add__(self: value[int], other: IntLike) -> value[int]: ...  # type: ignore[misc]
    @overload
    def __add__(self, other: FloatLike) -> value[float]: ...
    def __add__(self, other: Any) -> Any:
        return _binary("add", self, other)

    @overload
    def __radd__(self: value[int], other: int) -> value[int]: ...
    @overload
    def __radd__(self, other: float) -> value[float]: ...
    def __radd__(self, other: Any) -> Any:
        return _binary("add", other, self)

    @overload
    def __sub__(self: value[int], other: IntLike) -> value[int]: ...  # type: ignore[misc]
    @overload
    def __sub__(self, other: FloatLike) -> value[float]: ...
    def __sub__(self, other: Any) -> Any:
        return _binary("sub", self, other)

    @overload
    def __rsub__(self: value[int], other: int) -> value[int]: ...
    @overload
    def __rsub__(self, other: float) -> value[float]: ...
    def __rsub__(self, other: Any) -> Any:
        return _binary("sub", other, self)

    @overload
    def __mul__(self: value[int], other: IntLike) -> value[int]: ...  # type: ignore[misc]
    @overload
    def __mul__(self, other: FloatLike) -> value[float]: ...
    def __mul__(self, other: Any) -> Any:
        return _binary("mul", self, other)

    @overload
    def __rmul__(self: value[int], other: int) -> value[int]: ...
    @overload
    def __rmul__(self, other: float) -> value[float]: ...
    def __rmul__(self, other: Any) -> Any:
        return _binary("mul", other, self)

    @overload
    def __floordiv__(self: value[int], other: IntLike) -> value[int]: ...  # type: ignore[misc]
    @overload
    def __floordiv__(self, other: FloatLike) -> value[float]: ...
    def __floordiv__(self, other: Any) -> Any:
        return _binary("floordiv", self, other)

    @overload
    def __rfloordiv__(self: value[int], other: int) -> value[int]: ...
    @overload
    def __rfloordiv__(self, other: float) -> value[float]: ...
    def __rfloordiv__(self, other: Any) -> Any:
        return _binary("floordiv", other, self)

    @overload
    def __mod__(self: value[int], other: IntLike) -> value[int]: ...  # type: ignore[misc]
    @overload
    def __mod__(self, other: FloatLike) -> value[float]: ...
    def __mod__(self, other: Any) -> Any:
        return _binary("mod", self, other)

    @overload
    def __rmod__(self: value[int], other: int) -> value[int]: ...
    @overload
    def __rmod__(self, other: float) -> value[float]: ...
    def __rmod__(self, other: Any) -> Any:
        return _binary("mod", other, self)

    def __truediv__(self, other: FloatLike) -> value[float]:
        return _binary("div", self, other)

    def __rtruediv__(self, other: float) -> value[float]:
        return _binary("div", other, self)

    def __lt__(self, other: FloatLike) -> value[bool]:
        return _binary("lt", self, other)

    def __le__(self, other: FloatLike) -> value[bool]:
        return _binary("le", self, other)

    def __gt__(self, other: FloatLike) -> value[bool]:
        return _binary("gt", self, other)

    def __ge__(self, other: FloatLike) -> value[bool]:
        return _binary("ge", self, other)

    def __eq__(self, other: object) -> value[bool]:  # type: ignore[override]
        return _binary("eq", self, other)

    def __ne__(self, other: object) -> value[bool]:  # type: ignore[override]
        return _binary("ne", self, other)

    @overload
    def __and__(self: value[bool], other: BoolLike) -> value[bool]: ...
    @overload
    def __and__(self: value[int], other: IntLike) -> value[int]: ...
    def __and__(self, other: Any) -> Any:
        return _binary("and", self, other)

    @overload
    def __rand__(self: value[bool], other: bool) -> value[bool]: ...
    @overload
    def __rand__(self: value[int], other: int) -> value[int]: ...
    def __rand__(self, other: Any) -> Any:
        return _binary("and", other, self)

    @overload
    def __or__(self: value[bool], other: BoolLike) -> value[bool]: ...
    @overload
    def __or__(self: value[int], other: IntLike) -> value[int]: ...
    def __or__(self, other: Any) -> Any:
        return _binary("or", self, other)

    @overload
    def __ror__(self: value[bool], other: bool) -> value[bool]: ...
    @overload
    def __ror__(self: value[int], other: int) -> value[int]: ...
    def __ror__(self, other: Any) -> Any:
        return _binary("or", other, self)

    @overload
    def __xor__(self: value[bool], other: BoolLike) -> value[bool]: ...
    @overload
    def __xor__(self: value[int], other: IntLike) -> value[int]: ...
    def __xor__(self, other: Any) -> Any:
        return _binary("xor", self, other)

    @overload
    def __rxor__(self: value[bool], other: bool) -> value[bool]: ...
    @overload
    def __rxor__(self: value[int], other: int) -> value[int]: ...
    def __rxor__(self, other: Any) -> Any:
        return _binary("xor", other, self)

    def __lshift__(self: value[int], other: IntLike) -> value[int]:
        return _binary("lshift", self, other)

    def __rlshift__(self: value[int], other: int) -> value[int]:
        return _binary("lshift", other, self)

    def __rshift__(self: value[int], other: IntLike) -> value[int]:
        return _binary("rshift", self, other)

    def __rrshift__(self: value[int], other: int) -> value[int]:
        return _binary("rshift", other, self)


    @overload
    def __pow__(self: value[int], other: int, modulo: None = None) -> value[Any]: ...
    @overload
    def __pow__(self, other: FloatLike, modulo: None = None) -> value[float]: ...
    def __pow__(self, other: Any, modulo: Any = None) -> Any:
        """x ** y: an int for an int base and a non-negative int constant exponent
        (hence value[Any] for value[int] ** int), a float (powf) otherwise.

        As in the original copapy, a Python int exponent k in 0..7 is expanded
        while tracing: x ** 0 is the Python int 1, x ** 1 is x, and x ** k
        multiplies from the left ((x * x) * x ...), so such powers cost k - 1
        multiplications and no powf."""
        if modulo is not None:
            raise TypeError("pow() with a modulus is not supported for copapy values")
        return power(self, other) if is_scalar(other) else NotImplemented

    def __rpow__(self, other: float) -> value[float]:
        return _binary("pow", other, self)

    @overload
    def __neg__(self: value[bool]) -> value[int]: ...
    @overload
    def __neg__(self: value[int]) -> value[int]: ...
    @overload
    def __neg__(self: value[float]) -> value[float]: ...
    def __neg__(self) -> Any:
        return make("neg", self._node)

    def __pos__(self: value[T]) -> value[T]:
        return self

    @overload
    def __abs__(self: value[bool]) -> value[int]: ...
    @overload
    def __abs__(self: value[int]) -> value[int]: ...
    @overload
    def __abs__(self: value[float]) -> value[float]: ...
    def __abs__(self) -> Any:
        return make("abs", self._node)

    def __invert__(self: value[int]) -> value[int]:
        # Python's ~x is x ^ -1 for int and bool alike (~True == -2).
        if self._node.dtype == "float":
            raise TypeError("bad operand type for unary ~: float value")
        return make("xor", self._node, operand_node(-1))

    @overload
    def astype(self, dtype: type[bool]) -> value[bool]: ...
    @overload
    def astype(self, dtype: type[int]) -> value[int]: ...
    @overload
    def astype(self, dtype: type[float]) -> value[float]: ...
    def astype(self, dtype: Any) -> Any:
        """This value converted to `dtype` (int, float or bool); see cp.cast."""
        node = cast_node(self._node, dtype_of_type(dtype))
        return self if node is self._node else _wrap(node)

    def next(self, x: Any) -> None:
        """For a state made by cp.state(): the value it takes for the next run
        (computed from this run's values; all states change together at the
        end of a run). Calling it again replaces the previous choice.

        A bool or int for an int or float state widens exactly; anything that
        would lose information (float to int, int to bool) needs an explicit
        cp.cast(x, type)."""
        n = self._node
        if n.op != "state" or not isinstance(n, Leaf):
            raise TypeError("next() is for states made by cp.state(), not for " + repr(self))
        new = operand_node(x)
        if new.dtype != n.dtype:
            if n.dtype == "float" or (n.dtype == "int" and new.dtype == "bool"):
                new = cast_node(new, n.dtype)  # int/bool widen exactly, as Python's float(x)/int(x)
            else:
                label = f" {n.name!r}" if n.name is not None else ""
                raise TypeError(f"state{label} is {n.dtype}; next() got a {new.dtype} value: convert it with "
                                f"cp.cast(x, {n.dtype}) (truncation toward zero, saturating, NaN -> 0)"
                                if n.dtype == "int" else
                                f"state{label} is {n.dtype}; next() got a {new.dtype} value: convert it with "
                                f"cp.cast(x, {n.dtype}) (x != 0)")
        n.update = new

    # ---- Conversions that cannot happen while tracing ---------------------------

    def __bool__(self) -> bool:
        raise TypeError("a copapy value has no truth value while tracing (it is only known when the compiled "
                        "program runs); use cp.iif(cond, a, b) instead of if/else, and &, | instead of and, or")

    def __float__(self) -> float:
        raise TypeError("float() of a copapy value: " + _TRACE_HINT + "; to convert the traced value use "
                        "cp.cast(v, float) or v.astype(float)")

    def __int__(self) -> int:
        raise TypeError("int() of a copapy value: " + _TRACE_HINT + "; to convert the traced value use "
                        "cp.cast(v, int) (truncates toward zero) or cp.cast(cp.round(v), int)")

    def __index__(self) -> int:
        raise TypeError("a copapy value cannot be used as an index or size while tracing: " + _TRACE_HINT +
                        "; to pick an element by a traced index, use cp.iif() over the candidates")

    def __round__(self, ndigits: Optional[int] = None) -> int:
        raise TypeError("round() of a copapy value: " + _TRACE_HINT + "; for a traced rounding use "
                        "cp.round(v) (half to even, a float value) or cp.cast(cp.round(v), int)")

    def __trunc__(self) -> int:
        raise TypeError("math.trunc() of a copapy value: " + _TRACE_HINT + "; use cp.trunc(v)")

    def __floor__(self) -> int:
        raise TypeError("math.floor() of a copapy value: " + _TRACE_HINT + "; use cp.floor(v)")

    def __ceil__(self) -> int:
        raise TypeError("math.ceil() of a copapy value: " + _TRACE_HINT + "; use cp.ceil(v)")


BoolLike = Union[bool, "value[bool]"]
IntLike = Union[int, bool, "value[int]", "value[bool]"]
FloatLike = Union[float, int, bool, "value[float]", "value[int]", "value[bool]"]
# Anything that acts as a scalar in a traced program: a value or a Python number.
NumLike = Union["value[int]", "value[float]", "value[bool]", int, float, bool]
# What a reduction (sum, dot, magnitude, ...) gives: a value, or a Python
# number when every element was one (float covers int and bool statically).
Scalar = Union["value[Any]", float]


def _convert_number(x: Any, dtype: str) -> Number:
    """A Python number converted as the DAG's cast converts (see cast_node)."""
    if not isinstance(x, numbers.Real):
        raise TypeError(f"expected a Python number, not {type(x).__name__}")
    if dtype == "bool":
        return bool(x != 0)
    if dtype == "float":
        return f32(float(x))
    if isinstance(x, numbers.Integral):
        return _check_int(int(x))
    xf = float(x)
    if math.isnan(xf):
        return 0
    if xf >= 2.0 ** 31:
        return INT_MAX
    if xf < -(2.0 ** 31):
        return INT_MIN
    return int(xf)


def power(x: value[Any], y: Any) -> Any:
    """x ** y for a value x (see value.__pow__)."""
    if type(y) in (int, bool) and 0 <= y < 8:
        if y == 0:
            return 1
        m: Any = x
        for _ in range(y - 1):
            m = make("mul", m._node, x._node)
        return m
    return _binary("pow", x, y)


def _range_bound(node: Node, bound: Any) -> Number:
    """One bound of a declared range, as a value of the node's dtype (see declare_range)."""
    what = node_repr(node)
    if isinstance(bound, value):
        raise TypeError(f"the range of {what} must be given as Python numbers, not a traced value ({bound!r})")
    if not isinstance(bound, numbers.Real):
        raise TypeError(f"the range of {what} must be two numbers, not {type(bound).__name__}")
    if node.dtype == "float":
        b = float(bound)
        if math.isnan(b):
            raise ValueError(f"the range of {what} cannot have a NaN bound (a declared range excludes NaN)")
        r = f32(b)
        if math.isinf(r) and not math.isinf(b):
            raise ValueError(f"the range bound {bound!r} of {what} is out of float range (binary32)")
        return r
    if not isinstance(bound, numbers.Integral):
        raise TypeError(f"the range of {what} must be {node.dtype} bounds, not {bound!r}")
    if node.dtype == "bool":
        if bound not in (0, 1):
            raise ValueError(f"the range of {what} must be bounds of 0/1 or False/True, not {bound!r}")
        return bool(bound)
    b = int(bound)
    if not INT_MIN <= b <= INT_MAX:
        raise ValueError(f"the range bound {b} of {what} does not fit in int32")
    return b


def format_range(bounds: Tuple[Number, Number]) -> str:
    """A declared range as messages show it: [0.0, 1.0]."""
    return f"[{bounds[0]!r}, {bounds[1]!r}]"


def declare_range(node: Node, bounds: Any) -> None:
    """Declares the closed interval `bounds` = (lo, hi) of the values the host
    will write into input or state `node` (docs/dag-format.md, "Declared
    ranges"): checked here, so that the DAG file is valid and a mistake names
    the Python call that made it."""
    if node.op not in ("input", "state") or not isinstance(node, Leaf):
        raise TypeError(f"only inputs and states have a declared range (the values the host writes), "
                        f"not {node_repr(node)}")
    if isinstance(bounds, (str, bytes)) or not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
        raise TypeError(f"the range of {node_repr(node)} must be a pair (lo, hi) of numbers, not {bounds!r}")
    lo, hi = _range_bound(node, bounds[0]), _range_bound(node, bounds[1])
    if lo > hi:
        raise ValueError(f"the range of {node_repr(node)} is empty: lo = {lo!r} > hi = {hi!r}")
    if not lo <= node.value <= hi:  # also for a NaN initial value: a range excludes NaN
        raise ValueError(f"the initial value {node.value!r} of {node_repr(node)} is outside its declared range "
                         f"{format_range((lo, hi))}")
    node.range = (lo, hi)


def state(x: Any, name: Optional[str] = None, range: Any = None) -> Any:
    """A value that keeps its value across runs: it starts as `x`, and after
    each run takes what `.next(expr)` said (unchanged if next() is never
    called). Like an input, the host can write it (Target.write_value) and
    read it (Target.read_value, after the run: the new value).

    For a vector, tensor or quaternion of numbers (or nested lists, which
    give a tensor) the result is the same container of states, named
    name[0], name[1], ... (name[i][j] for matrices); its .next(expr) takes a
    container of the same shape (or a scalar) and sets every element.

    `range=(lo, hi)` declares the values the host may write into the state
    (for a container: into each element), as for cp.value."""
    if isinstance(x, value):
        raise TypeError("cp.state() takes the initial value as a Python number (or numbers in a container)")
    from ._array import ArrayBase
    if isinstance(x, (list, tuple)):
        from ._tensor import tensor
        x = tensor(x)
    if isinstance(x, ArrayBase):
        if name is not None:
            check_name(name, "state")
        counter = itertools.count()

        def element(e: Any) -> value[Any]:
            k = next(counter)
            if name is None:
                return state(e, range=range)  # type: ignore[no-any-return]
            index = ""
            for d in reversed(x.shape):
                index = f"[{k % d}]" + index
                k //= d
            return state(e, name + index, range)  # type: ignore[no-any-return]
        return x.map(element)
    dtype, v = _classify(x)
    node = Leaf("state", dtype, v, None if name is None else check_name(name, "state"), here())
    if range is not None:
        declare_range(node, range)
    return _wrap(node)
