"""Math functions over values, Python numbers and vectors.

On copapy values they record DAG nodes. On vectors they apply elementwise
(vector arguments must have equal lengths; scalars are used for every
element). On plain Python numbers they compute right away in double
precision, and where Python's math module would raise they return what C's
libm returns instead (log(0.0) is -inf, sqrt(-1.0) is nan, overflow is inf),
matching what the compiled program does.
"""
import builtins
import math
from typing import Any, Callable

from ._value import is_scalar, make, operand_node, value
from ._vector import vector

__all__ = ["sqrt", "exp", "log", "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "pow", "abs", "sign",
           "minimum", "maximum", "clamp", "iif"]


def _check_operand(x: Any, func: str) -> None:
    if not (isinstance(x, vector) or is_scalar(x)):
        raise TypeError(f"cp.{func}() takes copapy values, vectors or Python numbers, not {type(x).__name__}")


def _map_vectors(fn: Callable[..., Any], *args: Any) -> vector:
    """fn applied to the elements of the vector arguments, scalar arguments repeated."""
    lengths = {len(a) for a in args if isinstance(a, vector)}
    if len(lengths) > 1:
        raise ValueError(f"vector lengths differ: {sorted(lengths)}")
    n = lengths.pop()
    return vector(fn(*(a.values[i] if isinstance(a, vector) else a for a in args)) for i in range(n))


def _libm_unary(op: str, py: Callable[[float], float]) -> Callable[[Any], Any]:
    """A one-argument math function recording `op` (a DAG op yielding float)."""
    def func(x: Any) -> Any:
        _check_operand(x, op)
        if isinstance(x, vector):
            return _map_vectors(func, x)
        if isinstance(x, value):
            return make(op, x._node)
        try:
            return py(x)
        except ValueError:
            # Python raises where C returns a pole (log(0) = -inf) or NaN (outside the domain).
            return -math.inf if op == "log" and x == 0 else math.nan
        except OverflowError:
            return math.inf
    func.__name__ = func.__qualname__ = op
    func.__doc__ = f"{op}(x): math.{py.__name__} of a value (DAG op '{op}', result float), number or vector."
    return func


sqrt = _libm_unary("sqrt", math.sqrt)
exp = _libm_unary("exp", math.exp)
log = _libm_unary("log", math.log)
sin = _libm_unary("sin", math.sin)
cos = _libm_unary("cos", math.cos)
tan = _libm_unary("tan", math.tan)
asin = _libm_unary("asin", math.asin)
acos = _libm_unary("acos", math.acos)
atan = _libm_unary("atan", math.atan)


def atan2(y: Any, x: Any) -> Any:
    """The angle of the point (x, y), as math.atan2(y, x) (DAG op 'atan2', result float)."""
    _check_operand(y, "atan2")
    _check_operand(x, "atan2")
    if isinstance(y, vector) or isinstance(x, vector):
        return _map_vectors(atan2, y, x)
    if isinstance(y, value) or isinstance(x, value):
        return make("atan2", operand_node(y), operand_node(x))
    return math.atan2(y, x)


def _odd_integer(y: float) -> bool:
    return math.isfinite(y) and y == math.floor(y) and int(y) % 2 == 1


def pow(x: Any, y: Any) -> Any:
    """x ** y (DAG op 'pow'). The result is an int only for an int base and a
    non-negative Python int exponent (a constant); otherwise it is a float (powf)."""
    _check_operand(x, "pow")
    _check_operand(y, "pow")
    if isinstance(x, vector) or isinstance(y, vector):
        return _map_vectors(pow, x, y)
    if isinstance(x, value) or isinstance(y, value):
        return make("pow", operand_node(x), operand_node(y))
    if isinstance(x, int) and isinstance(y, int) and y >= 0:
        return x ** y
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
    _check_operand(x, "abs")
    if isinstance(x, vector):
        return _map_vectors(abs, x)
    if isinstance(x, value):
        return make("abs", x._node)
    return builtins.abs(x)


def sign(x: Any) -> Any:
    """-1, 0 or 1 (DAG op 'sign'); for floats -1.0, 1.0, or x itself for +-0 and NaN."""
    _check_operand(x, "sign")
    if isinstance(x, vector):
        return _map_vectors(sign, x)
    if isinstance(x, value):
        return make("sign", x._node)
    if isinstance(x, int):
        return (x > 0) - (x < 0)
    return 1.0 if x > 0 else -1.0 if x < 0 else x


def minimum(a: Any, b: Any) -> Any:
    """The smaller of a and b as Python's min(a, b): `b if b < a else a` (DAG op 'min')."""
    _check_operand(a, "minimum")
    _check_operand(b, "minimum")
    if isinstance(a, vector) or isinstance(b, vector):
        return _map_vectors(minimum, a, b)
    if isinstance(a, value) or isinstance(b, value):
        return make("min", operand_node(a), operand_node(b))
    return b if b < a else a


def maximum(a: Any, b: Any) -> Any:
    """The larger of a and b as Python's max(a, b): `b if b > a else a` (DAG op 'max')."""
    _check_operand(a, "maximum")
    _check_operand(b, "maximum")
    if isinstance(a, vector) or isinstance(b, vector):
        return _map_vectors(maximum, a, b)
    if isinstance(a, value) or isinstance(b, value):
        return make("max", operand_node(a), operand_node(b))
    return b if b > a else a


def clamp(x: Any, lo: Any, hi: Any) -> Any:
    """x limited to [lo, hi]: minimum(maximum(x, lo), hi)."""
    return minimum(maximum(x, lo), hi)


def iif(cond: Any, a: Any, b: Any) -> Any:
    """`a if cond else b` decided when the program runs (DAG op 'select').

    cond may be a bool, int or float value (non-zero is true). With a Python
    number as cond the choice is made right away while tracing.
    """
    for x in (cond, a, b):
        _check_operand(x, "iif")
    if isinstance(cond, vector) or isinstance(a, vector) or isinstance(b, vector):
        return _map_vectors(iif, cond, a, b)
    if isinstance(cond, value):
        return make("select", cond._node, operand_node(a), operand_node(b))
    return a if cond else b
