"""cp.grad: derivatives, recorded in the DAG and computed by the compiler.

The tracer only records each request as a `grad` node (DAG format version 2);
copapy-cc expands it in reverse mode into ordinary operations, so every front
end that writes DAG files gets the same derivatives.
"""
from typing import Any, List, Union

from ._value import is_scalar, make, value
from ._vector import vector

__all__ = ["grad"]


def _check_float(v: value, role: str) -> None:
    if v.dtype != "float":
        raise TypeError(f"cp.grad() differentiates a float value with respect to float values; {role} is "
                        f"{'an' if v.dtype == 'int' else 'a'} {v.dtype} value")


def _scalar_grad(y: Any, x: Any) -> Any:
    if not is_scalar(x):
        raise TypeError(f"cp.grad(): x must be a copapy value, a number, a vector or a list of them, "
                        f"not {type(x).__name__}")
    if not isinstance(x, value):
        return 0.0  # a Python number is a constant: nothing depends on it
    _check_float(x, "x")
    if not isinstance(y, value):
        return 0.0  # a constant y
    return make("grad", y._node, x._node)


def grad(y: Any, x: Any) -> Union[value, float, vector, List[Any]]:
    """The derivative dy/dx of the scalar `y` with respect to `x`.

    `x` may be a value (the result is a float value), a vector (the result is
    the vector of the derivatives) or a list or tuple (a list). `y` and every
    value in `x` must be float values. A Python number as `y` or as an element
    of `x` is a constant: the derivative is 0.0.

    `x` need not be an input: the derivative with respect to an intermediate
    result x sums over every path from x to y, holding fixed what x does not
    depend on. The request is recorded as a `grad` node and expanded by
    copapy-cc in reverse mode (one sweep for all x of the same y).
    Differentiating a derivative again (second order) is not supported; the
    compiler rejects it.
    """
    if isinstance(y, value):
        _check_float(y, "y")
    elif not is_scalar(y):
        raise TypeError(f"cp.grad(): y must be a copapy value or a number, not {type(y).__name__}")
    if isinstance(x, vector):
        return vector(_scalar_grad(y, xi) for xi in x.values)
    if isinstance(x, (list, tuple)):
        return [_scalar_grad(y, xi) for xi in x]
    return _scalar_grad(y, x)
