"""Scalar values of a traced program and the operators on them.

A `value` is the user's handle on one node of the DAG. The node (`Node`) holds
the operation, its result type and its operands; the handle only points at it.
Keeping the two apart is what lets `Target.compile` tell values the program
still refers to (alive handles) from temporaries (collected handles whose
nodes live on inside the graph); see `alive_values`.

The result type of every operation is computed here exactly as
docs/dag-format.md ("Types and operations") prescribes, because copapy-cc
rejects a node whose `dtype` disagrees with its operands.
"""
import itertools
import math
import numbers
import re
import struct
import weakref
from typing import Any, List, Optional, Tuple, Union

__all__ = ["value", "Node", "f32", "INT_MIN", "INT_MAX", "is_scalar", "operand_node", "make", "alive_values",
           "check_name"]

Number = Union[bool, int, float]

INT_MIN = -(2 ** 31)
INT_MAX = 2 ** 31 - 1

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\[\]]*\Z")


def f32(x: float) -> float:
    """`x` rounded to the nearest binary32 value (ties to even), as a Python float.

    Overflow gives +-inf, as a C conversion from double to float does.
    """
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]
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
    """One node of the DAG.

    op:    DAG operation name ("input", "const", "add", ...)
    dtype: result type: "int", "float" or "bool"
    args:  operand nodes, in order (empty for input and const)
    value: the constant, or the input's initial value (None for operations)
    name:  the user's name of an input, None if it is to be named automatically
    """
    __slots__ = ("op", "dtype", "args", "value", "name", "update")

    def __init__(self, op: str, dtype: str, args: Tuple["Node", ...] = (), value: Optional[Number] = None,
                 name: Optional[str] = None) -> None:
        self.op = op
        self.dtype = dtype
        self.args = args
        self.value = value
        self.name = name
        self.update: Optional["Node"] = None  # a state's value for the next run (state.next())

    def __repr__(self) -> str:
        if self.op == "input":
            return f"Node(input {self.dtype} {self.name or '<auto>'} = {self.value!r})"
        if self.op == "const":
            return f"Node(const {self.dtype} {self.value!r})"
        return f"Node({self.op} -> {self.dtype})"


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


def is_scalar(x: Any) -> bool:
    """True for a copapy value or a real Python number."""
    return type(x) in (float, int, bool) or isinstance(x, (value, numbers.Real))


def operand_node(x: Any) -> Node:
    """The node for an operand: a value's node, or a new `const` node for a Python number."""
    if isinstance(x, value):
        return x._node
    dtype, v = _classify(x)
    return Node("const", dtype, (), v)


# Python operator symbols, for error messages.
_SYMBOL = {"and": "&", "or": "|", "xor": "^", "lshift": "<<", "rshift": ">>"}

_PROMOTING = frozenset(("add", "sub", "mul", "floordiv", "mod"))
_SAME_KIND = frozenset(("min", "max"))
_UNARY_NUM = frozenset(("neg", "abs", "sign"))
_COMPARE = frozenset(("gt", "ge", "lt", "le", "eq", "ne"))
_BITWISE = frozenset(("and", "or", "xor"))
_SHIFT = frozenset(("lshift", "rshift"))
_MATH = frozenset(("sqrt", "exp", "log", "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "tanh", "hypot", "floor", "ceil", "trunc", "round"))


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
                   and exponent.value >= 0)
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


# Every value ever made, by serial number, as long as something else keeps it
# alive. Target.compile turns the alive ones that the compiled program computes
# into outputs, so that read_value works on intermediates too.
_registry: "weakref.WeakValueDictionary[int, value]" = weakref.WeakValueDictionary()
_serial = itertools.count()


def alive_values() -> List["value"]:
    """Every value that has not been garbage collected yet, in creation order."""
    return list(_registry.values())


def _wrap(node: Node) -> "value":
    v = value.__new__(value)
    v._node = node
    _registry[next(_serial)] = v
    return v


def make(op: str, *args: Node) -> "value":
    """A new value computing `op` over the operand nodes."""
    return _wrap(Node(op, result_dtype(op, args), args))


def _binary(op: str, reflected: bool = False) -> Any:
    """An operator method: `self op other`, or `other op self` when reflected.

    Returns NotImplemented for operands that are not scalars, so that Python
    tries the other operand's method (e.g. vector.__radd__ for value + vector).
    """
    def method(self: "value", other: Any) -> Any:
        if not is_scalar(other):
            return NotImplemented
        b = operand_node(other)
        return make(op, b, self._node) if reflected else make(op, self._node, b)
    method.__name__ = f"__{'r' if reflected else ''}{op}__"
    return method


class value:
    """A scalar in a traced program: an input (made by `cp.value(x)`), or the
    result of operations on values and Python numbers.

    `cp.value(x, name=None)` makes an input, a variable the host may write
    before each run (`Target.write_value`), with initial value `x`. Its type
    follows `x`: bool -> "bool", int -> "int" (int32), float -> "float"
    (binary32; `x` is rounded to the nearest binary32 value). Inputs without a
    name are named automatically when the program is exported.

    Arithmetic, comparisons and bit operations with other values or Python
    numbers record DAG nodes instead of computing; Python numbers become
    `const` nodes. A value has no truth value at trace time: use
    `cp.iif(cond, a, b)` instead of `if` or `and`/`or`.
    """
    __slots__ = ("_node", "__weakref__")
    _node: Node

    def __init__(self, x: Number, name: Optional[str] = None) -> None:
        if isinstance(x, value):
            raise TypeError("cp.value() makes an input from a Python number; it cannot wrap another value")
        dtype, v = _classify(x)
        self._node = Node("input", dtype, (), v, None if name is None else check_name(name, "input"))
        _registry[next(_serial)] = self

    @property
    def dtype(self) -> str:
        """The value's type: "int", "float" or "bool"."""
        return self._node.dtype

    @property
    def name(self) -> Optional[str]:
        """The input's name given to cp.value(); None for automatically named inputs and for results."""
        return self._node.name

    def __repr__(self) -> str:
        n = self._node
        if n.op == "state":
            label = f" {n.name!r}" if n.name is not None else ""
            return f"<copapy value: state{label} {n.dtype} = {n.value!r}>"
        if n.op == "input":
            label = f" {n.name!r}" if n.name is not None else ""
            return f"<copapy value: input{label} {n.dtype} = {n.value!r}>"
        return f"<copapy value: {n.op} -> {n.dtype}>"

    __add__ = _binary("add")
    __radd__ = _binary("add", True)
    __sub__ = _binary("sub")
    __rsub__ = _binary("sub", True)
    __mul__ = _binary("mul")
    __rmul__ = _binary("mul", True)
    __truediv__ = _binary("div")
    __rtruediv__ = _binary("div", True)
    __floordiv__ = _binary("floordiv")
    __rfloordiv__ = _binary("floordiv", True)
    __mod__ = _binary("mod")
    __rmod__ = _binary("mod", True)
    __rpow__ = _binary("pow", True)

    # Python reflects comparisons itself (3 < v calls v.__gt__(3)).
    __lt__ = _binary("lt")
    __le__ = _binary("le")
    __gt__ = _binary("gt")
    __ge__ = _binary("ge")
    __eq__ = _binary("eq")  # type: ignore[assignment]
    __ne__ = _binary("ne")  # type: ignore[assignment]
    # == records a node instead of comparing, so hashing must go by identity.
    __hash__ = object.__hash__

    __and__ = _binary("and")
    __rand__ = _binary("and", True)
    __or__ = _binary("or")
    __ror__ = _binary("or", True)
    __xor__ = _binary("xor")
    __rxor__ = _binary("xor", True)
    __lshift__ = _binary("lshift")
    __rlshift__ = _binary("lshift", True)
    __rshift__ = _binary("rshift")
    __rrshift__ = _binary("rshift", True)

    def __pow__(self, other: Any, modulo: Any = None) -> Any:
        if modulo is not None:
            raise TypeError("pow() with a modulus is not supported for copapy values")
        if not is_scalar(other):
            return NotImplemented
        return make("pow", self._node, operand_node(other))

    def __neg__(self) -> "value":
        return make("neg", self._node)

    def __abs__(self) -> "value":
        return make("abs", self._node)

    def next(self, x: Any) -> None:
        """For a state made by cp.state(): the value it takes for the next run
        (computed from this run's values; all states change together at the
        end of a run). Calling it again replaces the previous choice."""
        n = self._node
        if n.op != "state":
            raise TypeError("next() is for states made by cp.state(), not for " + repr(self))
        new = operand_node(x)
        if new.dtype != n.dtype:
            if n.dtype == "float" or (n.dtype == "int" and new.dtype == "bool"):
                new = Node("cast", n.dtype, (new,))  # int/bool widen exactly, as Python's float(x)/int(x)
            else:
                raise TypeError(f"state {n.name or ''!s} is {n.dtype}; next() got a {new.dtype} value "
                                "(convert it explicitly)")
        n.update = new

    def __invert__(self) -> "value":
        # Python's ~x is x ^ -1 for int and bool alike (~True == -2).
        if self._node.dtype == "float":
            raise TypeError("bad operand type for unary ~: float value")
        return make("xor", self._node, operand_node(-1))

    def __bool__(self) -> bool:
        raise TypeError("a copapy value has no truth value while tracing (it is only known when the compiled "
                        "program runs); use cp.iif(cond, a, b) instead of if/else, and &, | instead of and, or")

    def __float__(self) -> float:
        raise TypeError("a copapy value cannot be converted to a Python float while tracing; "
                        "read it with Target.read_value() after Target.run()")

    def __int__(self) -> int:
        raise TypeError("a copapy value cannot be converted to a Python int while tracing; "
                        "read it with Target.read_value() after Target.run()")


def state(x: Number, name: Optional[str] = None) -> value:
    """A value that keeps its value across runs: it starts as `x`, and after
    each run takes what `.next(expr)` said (unchanged if next() is never
    called). Like an input, the host can write it (Target.write_value) and
    read it (Target.read_value, after the run: the new value)."""
    if isinstance(x, value):
        raise TypeError("cp.state() takes the initial value as a Python number")
    dtype, v = _classify(x)
    return _wrap(Node("state", dtype, (), v, None if name is None else check_name(name, "state")))
