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
from typing import Any, Callable, TypeVar, overload

from ._array import ArrayBase, apply
from ._value import _convert_number, _wrap, cast_node, dtype_of_type, is_scalar, make, operand_node, power, value

__all__ = ["sqrt", "exp", "log", "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "pow", "abs", "sign",
           "minimum", "maximum", "clamp", "iif", "tanh", "hypot", "floor", "ceil", "trunc", "round", "cast",
           "to_float", "to_int", "to_bool", "to_bytes", "min", "max"]

A = TypeVar("A", bound=ArrayBase[Any])


def _check_operand(x: Any, func: str) -> None:
    if not (isinstance(x, ArrayBase) or is_scalar(x)):
        raise TypeError(f"cp.{func}() takes copapy values, vectors, tensors, quaternions or Python numbers, "
                        f"not {type(x).__name__}")


def _elementwise(func: Callable[..., Any], args: tuple[Any, ...], name: str) -> Any:
    """func over the arguments: elementwise if any is a container, else None."""
    for x in args:
        _check_operand(x, name)
    if any(isinstance(x, ArrayBase) for x in args):
        if len(args) == 1:
            return args[0].map(func)
        return apply(func, args)
    return None


def _libm_unary(op: str, py: Callable[[float], float]) -> Callable[[Any], Any]:
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
    return func


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


def atan2(y: Any, x: Any) -> Any:
    """The angle of the point (x, y), as math.atan2(y, x) (DAG op 'atan2', result float)."""
    r = _elementwise(atan2, (y, x), "atan2")
    if r is not None:
        return r
    if isinstance(y, value) or isinstance(x, value):
        return make("atan2", operand_node(y), operand_node(x))
    return math.atan2(y, x)


def hypot(x: Any, y: Any) -> Any:
    """sqrt(x*x + y*y) without overflow or underflow in between (DAG op 'hypot', result float)."""
    r = _elementwise(hypot, (x, y), "hypot")
    if r is not None:
        return r
    if isinstance(x, value) or isinstance(y, value):
        return make("hypot", operand_node(x), operand_node(y))
    return math.hypot(x, y)


def _odd_integer(y: float) -> bool:
    return math.isfinite(y) and y == math.floor(y) and int(y) % 2 == 1


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


def abs(x: Any) -> Any:
    """|x| (DAG op 'abs'); int for int and bool, float for float."""
    if isinstance(x, value):
        return make("abs", x._node)
    if isinstance(x, ArrayBase):
        return x.map(abs)
    _check_operand(x, "abs")
    return builtins.abs(x)


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


def minimum(a: Any, b: Any) -> Any:
    """The smaller of a and b as Python's min(a, b): `b if b < a else a` (DAG op 'min')."""
    r = _elementwise(minimum, (a, b), "minimum")
    if r is not None:
        return r
    if isinstance(a, value) or isinstance(b, value):
        return make("min", operand_node(a), operand_node(b))
    return b if b < a else a


def maximum(a: Any, b: Any) -> Any:
    """The larger of a and b as Python's max(a, b): `b if b > a else a` (DAG op 'max')."""
    r = _elementwise(maximum, (a, b), "maximum")
    if r is not None:
        return r
    if isinstance(a, value) or isinstance(b, value):
        return make("max", operand_node(a), operand_node(b))
    return b if b > a else a


def clamp(x: Any, lo: Any, hi: Any) -> Any:
    """x limited to [lo, hi]: minimum(maximum(x, lo), hi). Made of real selects, so
    an inf or NaN bound that does not apply cannot leak into the result."""
    return minimum(maximum(x, lo), hi)


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
    if not isinstance(x, ArrayBase):
        raise TypeError(f"cp.{name}() takes a vector, tensor or quaternion, not {type(x).__name__}")
    if not x.values:
        raise ValueError(f"cp.{name}() of an empty {type(x).__name__}")
    return x._reduce(func, None, None)


def min(x: Any) -> Any:
    """The smallest element of a container (pairwise minimum from the left)."""
    return _reduce_elements(x, minimum, "min")


def max(x: Any) -> Any:
    """The largest element of a container (pairwise maximum from the left)."""
    return _reduce_elements(x, maximum, "max")


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
        return array([cast(minimum(maximum(e, 0), 255), int) for e in x.values], "int").reshape(x.shape)
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
