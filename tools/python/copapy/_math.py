"""Math functions over values, Python numbers and containers.

Each function is defined once for scalars; on vectors, tensors and
quaternions it applies elementwise through the array core (with NumPy
broadcasting for functions of several arguments). On copapy values it
records DAG nodes. On plain Python numbers it computes right away in double
precision, and where Python's math module would raise it returns what C's
libm returns instead (log(0.0) is -inf, sqrt(-1.0) is nan, overflow is inf),
matching what the compiled program does.
"""
from __future__ import annotations

import builtins
import math
from typing import TYPE_CHECKING, Any, Callable, Protocol, TypeVar, overload

from ._array import ArrayBase, apply
from ._loc import pinned_location
from ._value import IntLike, NumLike, _convert_number, _wrap, cast_node, dtype_of_type, is_scalar, make, operand_node, power, value

__all__ = ["sqrt", "exp", "log", "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "pow", "abs", "sign",
           "minimum", "maximum", "clamp", "iif", "tanh", "hypot", "floor", "ceil", "trunc", "round", "cast",
           "to_float", "to_int", "to_bool", "to_bytes", "min", "max"]

A = TypeVar("A", bound=ArrayBase[Any])

if TYPE_CHECKING:
    from ._quaternion import quaternion
    from ._tensor import tensor
    from ._vector import vector


class FloatFunction(Protocol):
    """The static type of a one-argument math function with a float result:
    a Python float for a number, a float value for a value, and the same
    container holding floats for a container."""
    @overload
    def __call__(self, __x: value[Any]) -> value[float]: ...
    @overload
    def __call__(self, __x: float) -> float: ...
    @overload
    def __call__(self, __x: "vector[Any]") -> "vector[float]": ...
    @overload
    def __call__(self, __x: "quaternion[Any]") -> "quaternion[float]": ...
    @overload
    def __call__(self, __x: "tensor[Any]") -> "tensor[float]": ...


class BinaryFunction(Protocol):
    """The static type of a two-argument math function with a float result (broadcasting)."""
    @overload
    def __call__(self, __x: "tensor[Any]", __y: Any) -> "tensor[float]": ...  # type: ignore[misc]
    @overload
    def __call__(self, __x: Any, __y: "tensor[Any]") -> "tensor[float]": ...  # type: ignore[misc]
    @overload
    def __call__(self, __x: "vector[Any]", __y: Any) -> "vector[float]": ...
    @overload
    def __call__(self, __x: Any, __y: "vector[Any]") -> "vector[float]": ...
    @overload
    def __call__(self, __x: value[Any], __y: NumLike) -> value[float]: ...
    @overload
    def __call__(self, __x: NumLike, __y: value[Any]) -> value[float]: ...
    @overload
    def __call__(self, __x: float, __y: float) -> float: ...


def _check_operand(x: Any, func: str) -> None:
    if not (isinstance(x, ArrayBase) or is_scalar(x)):
        raise TypeError(f"cp.{func}() takes copapy values, vectors, tensors, quaternions or Python numbers, "
                        f"not {type(x).__name__}")


def _elementwise(func: Callable[..., Any], args: tuple[Any, ...], name: str) -> Any:
    """func over the arguments: elementwise if any is a container, else None."""
    for x in args:
        _check_operand(x, name)
    if any(isinstance(x, ArrayBase) for x in args):
        with pinned_location():  # func is the package's own: every element is made on the caller's line
            if len(args) == 1:
                return args[0].map(func)
            return apply(func, args)
    return None


def _libm_unary(op: str, py: Callable[[float], float]) -> FloatFunction:
    """A one-argument math function recording `op` (a DAG op yielding float)."""
    def func(x: Any) -> Any:
        if isinstance(x, value):
            return make(op, x._node)
        if isinstance(x, ArrayBase):
            return x.map(func)
        _check_operand(x, op)
        try:
            return float(py(x))
        except ValueError:
            # Python raises where C returns a pole (log(0) = -inf) or NaN (outside the domain).
            return -math.inf if op == "log" and x == 0 else math.nan
        except OverflowError:
            return math.inf
    func.__name__ = func.__qualname__ = op
    func.__doc__ = (f"{op}(x): {py.__name__} of a value (DAG op '{op}', a float value), a Python number, or "
                    "elementwise of a vector, tensor or quaternion.")
    return func  # a plain function standing for the overloads


def _round_half_even(x: float) -> float:
    if not math.isfinite(x):
        return x
    r = float(builtins.round(x))
    return math.copysign(r, x) if r == 0 else r  # round(-0.4) is -0.0, as rintf gives


def _keep_sign(fn: Callable[[float], Any]) -> Callable[[float], float]:
    """fn (floor, ceil, trunc) as C defines it on floats: a float result, inf and NaN
    unchanged, and the sign of zero kept (ceil(-0.5) is -0.0)."""
    def wrapped(x: float) -> float:
        if not math.isfinite(x):
            return float(x)
        r = float(fn(x))
        return math.copysign(r, x) if r == 0 else r
    wrapped.__name__ = fn.__name__
    return wrapped


sqrt = _libm_unary("sqrt", math.sqrt)
exp = _libm_unary("exp", math.exp)
log = _libm_unary("log", math.log)
sin = _libm_unary("sin", math.sin)
cos = _libm_unary("cos", math.cos)
tan = _libm_unary("tan", math.tan)
asin = _libm_unary("asin", math.asin)
acos = _libm_unary("acos", math.acos)
atan = _libm_unary("atan", math.atan)
tanh = _libm_unary("tanh", math.tanh)
floor = _libm_unary("floor", _keep_sign(math.floor))
ceil = _libm_unary("ceil", _keep_sign(math.ceil))
trunc = _libm_unary("trunc", _keep_sign(math.trunc))
round = _libm_unary("round", _round_half_even)
round.__doc__ = ("round(x): x rounded to the nearest integer, halves to even (as Python's round() and "
                 "numpy.round), as a float: DAG op 'round'. Elementwise on containers.")


def _atan2(y: Any, x: Any) -> Any:
    """The angle of the point (x, y), as math.atan2(y, x) (DAG op 'atan2', result float)."""
    r = _elementwise(_atan2, (y, x), "atan2")
    if r is not None:
        return r
    if isinstance(y, value) or isinstance(x, value):
        return make("atan2", operand_node(y), operand_node(x))
    return math.atan2(y, x)


def _hypot(x: Any, y: Any) -> Any:
    """sqrt(x*x + y*y) without overflow or underflow in between (DAG op 'hypot', result float)."""
    r = _elementwise(_hypot, (x, y), "hypot")
    if r is not None:
        return r
    if isinstance(x, value) or isinstance(y, value):
        return make("hypot", operand_node(x), operand_node(y))
    return math.hypot(x, y)


_atan2.__name__ = _atan2.__qualname__ = "atan2"
_hypot.__name__ = _hypot.__qualname__ = "hypot"
atan2: BinaryFunction = _atan2
hypot: BinaryFunction = _hypot


def _odd_integer(y: float) -> bool:
    return math.isfinite(y) and y == math.floor(y) and int(y) % 2 == 1


@overload
def pow(x: "tensor[Any]", y: Any) -> "tensor[Any]": ...  # type: ignore[misc]
@overload
def pow(x: Any, y: "tensor[Any]") -> "tensor[Any]": ...  # type: ignore[misc]
@overload
def pow(x: "vector[Any]", y: Any) -> "vector[Any]": ...
@overload
def pow(x: Any, y: "vector[Any]") -> "vector[Any]": ...
@overload
def pow(x: value[int], y: int) -> value[Any]: ...
@overload
def pow(x: value[Any], y: NumLike) -> value[float]: ...
@overload
def pow(x: NumLike, y: value[Any]) -> value[float]: ...
@overload
def pow(x: int, y: int) -> Any: ...
@overload
def pow(x: float, y: float) -> float: ...
def pow(x: Any, y: Any) -> Any:
    """x ** y (DAG op 'pow'). The result is an int only for an int base and a
    non-negative Python int exponent (a constant); otherwise it is a float (powf)."""
    r = _elementwise(pow, (x, y), "pow")
    if r is not None:
        return r
    if isinstance(x, value):
        return power(x, y)
    if isinstance(y, value):
        return make("pow", operand_node(x), operand_node(y))
    if isinstance(y, int) and 0 <= y < 8:
        # As the original: small int exponents multiply (an int for an int base, 1 for y == 0).
        if y == 0:
            return 1
        m = x
        for _ in range(y - 1):
            m = m * x
        return m
    if isinstance(x, int) and isinstance(y, int) and y >= 0:
        return x ** y
    if y == -1:
        try:
            return 1 / x
        except ZeroDivisionError:  # C's 1/0: inf with the sign of the zero
            return math.copysign(math.inf, x)
    try:
        return math.pow(x, y)
    except ValueError:
        if x == 0:  # a pole: 0 ** negative is inf, -0.0 ** negative odd integer is -inf
            return -math.inf if math.copysign(1.0, x) < 0 and _odd_integer(y) else math.inf
        return math.nan  # negative base, non-integer exponent
    except OverflowError:
        return -math.inf if x < 0 and _odd_integer(y) else math.inf


@overload
def abs(x: value[bool]) -> value[int]: ...
@overload
def abs(x: value[int]) -> value[int]: ...
@overload
def abs(x: value[float]) -> value[float]: ...
@overload
def abs(x: int) -> int: ...
@overload
def abs(x: float) -> float: ...
@overload
def abs(x: A) -> A: ...
def abs(x: Any) -> Any:
    """|x| (DAG op 'abs'); int for int and bool, float for float."""
    if isinstance(x, value):
        return make("abs", x._node)
    if isinstance(x, ArrayBase):
        return x.map(abs)
    _check_operand(x, "abs")
    return builtins.abs(x)


@overload
def sign(x: value[Any]) -> value[int]: ...
@overload
def sign(x: float) -> int: ...
@overload
def sign(x: "vector[Any]") -> "vector[int]": ...
@overload
def sign(x: "tensor[Any]") -> "tensor[int]": ...
def sign(x: Any) -> Any:
    """-1, 0 or 1 as an int, as the original (0 for +-0 and NaN). On a float
    value this is the DAG's float `sign` converted to int."""
    if isinstance(x, value):
        s = make("sign", x._node)
        return s if s.dtype == "int" else _wrap(cast_node(s._node, "int"))
    if isinstance(x, ArrayBase):
        return x.map(sign)
    _check_operand(x, "sign")
    return int(x > 0) - int(x < 0)


@overload
def minimum(a: "tensor[Any]", b: Any) -> "tensor[Any]": ...  # type: ignore[misc]
@overload
def minimum(a: Any, b: "tensor[Any]") -> "tensor[Any]": ...  # type: ignore[misc]
@overload
def minimum(a: "vector[Any]", b: Any) -> "vector[Any]": ...
@overload
def minimum(a: Any, b: "vector[Any]") -> "vector[Any]": ...
@overload
def minimum(a: value[int], b: IntLike) -> value[int]: ...  # type: ignore[misc]
@overload
def minimum(a: IntLike, b: value[int]) -> value[int]: ...  # type: ignore[misc]
@overload
def minimum(a: value[Any], b: NumLike) -> value[float]: ...
@overload
def minimum(a: NumLike, b: value[Any]) -> value[float]: ...
@overload
def minimum(a: int, b: int) -> int: ...
@overload
def minimum(a: float, b: float) -> float: ...
def minimum(a: Any, b: Any) -> Any:
    """The smaller of a and b as Python's min(a, b): `b if b < a else a` (DAG op 'min')."""
    r = _elementwise(minimum, (a, b), "minimum")
    if r is not None:
        return r
    if isinstance(a, value) or isinstance(b, value):
        return make("min", operand_node(a), operand_node(b))
    return b if b < a else a


@overload
def maximum(a: "tensor[Any]", b: Any) -> "tensor[Any]": ...  # type: ignore[misc]
@overload
def maximum(a: Any, b: "tensor[Any]") -> "tensor[Any]": ...  # type: ignore[misc]
@overload
def maximum(a: "vector[Any]", b: Any) -> "vector[Any]": ...
@overload
def maximum(a: Any, b: "vector[Any]") -> "vector[Any]": ...
@overload
def maximum(a: value[int], b: IntLike) -> value[int]: ...  # type: ignore[misc]
@overload
def maximum(a: IntLike, b: value[int]) -> value[int]: ...  # type: ignore[misc]
@overload
def maximum(a: value[Any], b: NumLike) -> value[float]: ...
@overload
def maximum(a: NumLike, b: value[Any]) -> value[float]: ...
@overload
def maximum(a: int, b: int) -> int: ...
@overload
def maximum(a: float, b: float) -> float: ...
def maximum(a: Any, b: Any) -> Any:
    """The larger of a and b as Python's max(a, b): `b if b > a else a` (DAG op 'max')."""
    r = _elementwise(maximum, (a, b), "maximum")
    if r is not None:
        return r
    if isinstance(a, value) or isinstance(b, value):
        return make("max", operand_node(a), operand_node(b))
    return b if b > a else a


@overload
def clamp(x: "tensor[Any]", lo: Any, hi: Any) -> "tensor[Any]": ...
@overload
def clamp(x: "vector[Any]", lo: Any, hi: Any) -> "vector[Any]": ...
@overload
def clamp(x: value[int], lo: IntLike, hi: IntLike) -> value[int]: ...  # type: ignore[misc]
@overload
def clamp(x: value[Any], lo: NumLike, hi: NumLike) -> value[float]: ...
@overload
def clamp(x: int, lo: int, hi: int) -> int: ...
@overload
def clamp(x: float, lo: float, hi: float) -> float: ...
def clamp(x: Any, lo: Any, hi: Any) -> Any:
    """x limited to [lo, hi]: minimum(maximum(x, lo), hi). Made of real selects, so
    an inf or NaN bound that does not apply cannot leak into the result."""
    return minimum(maximum(x, lo), hi)


@overload
def iif(cond: Any, a: "tensor[Any]", b: Any) -> "tensor[Any]": ...  # type: ignore[misc]
@overload
def iif(cond: Any, a: Any, b: "tensor[Any]") -> "tensor[Any]": ...  # type: ignore[misc]
@overload
def iif(cond: Any, a: "vector[Any]", b: Any) -> "vector[Any]": ...
@overload
def iif(cond: Any, a: Any, b: "vector[Any]") -> "vector[Any]": ...
@overload
def iif(cond: value[Any], a: IntLike, b: IntLike) -> value[int]: ...  # type: ignore[misc]
@overload
def iif(cond: value[Any], a: NumLike, b: NumLike) -> value[float]: ...
@overload
def iif(cond: Any, a: value[Any], b: NumLike) -> value[Any]: ...
@overload
def iif(cond: Any, a: NumLike, b: value[Any]) -> value[Any]: ...
@overload
def iif(cond: float, a: float, b: float) -> float: ...
def iif(cond: Any, a: Any, b: Any) -> Any:
    """`a if cond else b` decided when the program runs (DAG op 'select').

    cond may be a bool, int or float value (non-zero is true). With a Python
    number as cond the choice is made right away while tracing. Elementwise
    (with broadcasting) when any argument is a container.
    """
    r = _elementwise(iif, (cond, a, b), "iif")
    if r is not None:
        return r
    if isinstance(cond, value):
        return make("select", cond._node, operand_node(a), operand_node(b))
    chosen = a if cond else b
    if type(chosen) in (int, bool) and _is_float(b if cond else a):
        return float(chosen)  # the result type does not depend on which branch is taken
    return chosen


def _is_float(x: Any) -> bool:
    return isinstance(x, float) or (isinstance(x, value) and x.dtype == "float")


def _reduce_elements(x: Any, func: Callable[[Any, Any], Any], name: str) -> Any:
    """min/max of a container as the original: the extreme Python number first
    (found while tracing), then the values from the left."""
    if not isinstance(x, ArrayBase):
        raise TypeError(f"cp.{name}() takes a vector, tensor or quaternion, not {type(x).__name__}")
    if not x.values:
        raise ValueError(f"cp.{name}() of an empty {type(x).__name__}")
    numbers = [e for e in x.values if not isinstance(e, value)]
    values = [e for e in x.values if isinstance(e, value)]
    start = [builtins.min(numbers) if name == "min" else builtins.max(numbers)] if numbers else []
    items = start + values
    result = items[0]
    for e in items[1:]:
        result = func(result, e)
    return result


def min(x: Any) -> Any:
    """The smallest element of a container (pairwise minimum from the left)."""
    return _reduce_elements(x, minimum, "min")


def max(x: Any) -> Any:
    """The largest element of a container (pairwise maximum from the left)."""
    return _reduce_elements(x, maximum, "max")


@overload
def cast(x: value[Any], dtype: "type[bool]") -> value[bool]: ...
@overload
def cast(x: value[Any], dtype: "type[int]") -> value[int]: ...
@overload
def cast(x: value[Any], dtype: "type[float]") -> value[float]: ...
@overload
def cast(x: float, dtype: "type[bool]") -> bool: ...
@overload
def cast(x: float, dtype: "type[int]") -> int: ...
@overload
def cast(x: float, dtype: "type[float]") -> float: ...
@overload
def cast(x: A, dtype: Any) -> A: ...
@overload
def cast(x: Any, dtype: Any) -> Any: ...
def cast(x: Any, dtype: Any) -> Any:
    """x converted to dtype (int, float or bool, or their names), elementwise on containers.

    float -> int truncates toward zero and saturates (values beyond the int32
    range give INT_MIN or INT_MAX), NaN gives 0; int -> float rounds to the
    nearest binary32 value; anything -> bool is `x != 0`. These are the
    compiled program's conversions (DAG op 'cast'); Python numbers are
    converted the same way right away. A value that has the type already is
    returned as it is. "byte" (for cp.array) saturates to 0..255 after the
    int conversion.
    """
    if dtype == "byte":
        from ._arrays import array
        if not isinstance(x, array):
            raise TypeError("cast(x, 'byte') is for cp.array only")
        out = array._make([cast(minimum(maximum(e, 0), 255), int) for e in x.values], x.shape)
        out._dtype_name = "byte"
        return out
    target = dtype_of_type(dtype)
    if isinstance(x, value):
        node = cast_node(x._node, target)
        return x if node is x._node else _wrap(node)
    if isinstance(x, ArrayBase):
        return x.map(lambda e: cast(e, target))
    _check_operand(x, "cast")
    return _convert_number(x, target)


def to_float(x: Any) -> Any:
    """cast(x, float)."""
    return cast(x, float)


def to_int(x: Any) -> Any:
    """cast(x, int): truncation toward zero, saturating, NaN -> 0."""
    return cast(x, int)


def to_bool(x: Any) -> Any:
    """cast(x, bool): x != 0."""
    return cast(x, bool)


def to_bytes(x: Any) -> Any:
    """cast(x, "byte") for a cp.array."""
    return cast(x, "byte")
