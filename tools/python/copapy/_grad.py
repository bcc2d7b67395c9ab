"""cp.grad: derivatives, recorded in the DAG and computed by the compiler.

The tracer only records each request as a `grad` node (DAG format version 2);
copapy-cc expands it in reverse mode into ordinary operations, so every front
end that writes DAG files gets the same derivatives.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Tuple, Union, overload

from ._array import ArrayBase
from ._value import is_scalar, make, value

if TYPE_CHECKING:
    from ._quaternion import quaternion
    from ._tensor import tensor
    from ._vector import vector

__all__ = ["grad"]


def _check_float(v: value[Any], role: str) -> None:
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


@overload
def grad(y: Any, x: value[Any]) -> value[float]: ...
@overload
def grad(y: Any, x: "vector[Any]") -> "vector[float]": ...
@overload
def grad(y: Any, x: "quaternion[Any]") -> "quaternion[float]": ...
@overload
def grad(y: Any, x: "tensor[Any]") -> "tensor[float]": ...
@overload
def grad(y: Any, x: Union[List[Any], Tuple[Any, ...]]) -> List[Any]: ...
@overload
def grad(y: Any, x: Any) -> Any: ...


def grad(y: Any, x: Any) -> Any:
    """The derivative dy/dx of `y` with respect to `x`.

    `x` may be a value (the result is a float value), a vector, tensor or
    quaternion (the result is the same kind of container holding the
    derivatives) or a list or tuple (a list). `y` may be a value or a
    container: for a container y, the result is the derivative of each
    element; with a container x as well, a tensor of shape y.shape + x.shape
    (the Jacobian). Every value must be a float value. A Python number as y
    or as an element of x is a constant: the derivative is 0.0.

    `x` need not be an input: the derivative with respect to an intermediate
    result x sums over every path from x to y, holding fixed what x does not
    depend on. The request is recorded as a `grad` node and expanded by
    copapy-cc in reverse mode (one sweep for all x of the same y). `y` may
    itself contain derivatives, so cp.grad(cp.grad(f, x), x) is the second
    derivative (Hessians for Newton steps).
    """
    if isinstance(y, ArrayBase):
        if isinstance(x, ArrayBase):
            from ._tensor import tensor
            rows = [grad(yi, x) for yi in y.values]
            return tensor._make([d for r in rows for d in r.values], y.shape + x.shape)
        return y.map(lambda yi: grad(yi, x))
    if isinstance(y, value):
        _check_float(y, "y")
    elif not is_scalar(y):
        raise TypeError(f"cp.grad(): y must be a copapy value, a number or a container of them, "
                        f"not {type(y).__name__}")
    if isinstance(x, ArrayBase):
        return x.map(lambda xi: _scalar_grad(y, xi))
    if isinstance(x, (list, tuple)):
        return [_scalar_grad(y, xi) for xi in x]
    return _scalar_grad(y, x)
