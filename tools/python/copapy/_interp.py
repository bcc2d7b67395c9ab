"""cp.lerp and cp.interp: linear interpolation and table lookup."""
from __future__ import annotations

import math
from typing import Any, List

from ._array import ArrayBase
from ._value import is_scalar, value

__all__ = ["lerp", "interp"]

_METHODS = ("linear", "previous", "nearest")


def lerp(v1: Any, v2: Any, t: Any) -> Any:
    """v1 + (v2 - v1) * t; v1 and v2 are both scalars or both containers of one shape."""
    if isinstance(v1, ArrayBase) or isinstance(v2, ArrayBase):
        if not (isinstance(v1, ArrayBase) and isinstance(v2, ArrayBase)):
            raise TypeError("lerp(): v1 and v2 must both be containers or both scalars")
        if v1.shape != v2.shape:
            raise ValueError(f"lerp(): v1 and v2 have different shapes {v1.shape} and {v2.shape}")
    elif not (is_scalar(v1) and is_scalar(v2)):
        raise TypeError("lerp(): v1 and v2 must be values, numbers or containers")
    return v1 + (v2 - v1) * t


def _table(x: Any, what: str) -> List[Any]:
    items = list(x.values if isinstance(x, ArrayBase) else x)
    for e in items:
        if not is_scalar(e):
            raise TypeError(f"interp(): {what} must hold values or numbers, not {type(e).__name__}")
    return items


def interp(x: Any, xp: Any, fp: Any, method: str = "linear") -> Any:
    """The piecewise function through the points (xp[i], fp[i]) at x, as
    numpy.interp: "linear" interpolates, "previous" takes the point at or
    below x, "nearest" the nearest point (the upper one at a midpoint). Below
    xp[0] the result is fp[0], above xp[-1] it is fp[-1]; NaN stays NaN for
    "linear". xp must be increasing. x may be a container (elementwise).

    Traced, it is a chain of one comparison and one select per interval, so
    the result is exact at the table points."""
    if method not in _METHODS:
        raise ValueError(f"interp(): method must be one of {', '.join(_METHODS)}, not {method!r}")
    xs = _table(xp, "xp")
    fs = _table(fp, "fp")
    if len(xs) != len(fs) or len(xs) < 2:
        raise ValueError(f"interp(): xp and fp need the same length of at least 2, got {len(xs)} and {len(fs)}")
    numbers = [e for e in xs if not isinstance(e, value)]
    if len(numbers) == len(xs) and any(b <= a for a, b in zip(xs, xs[1:])):
        raise ValueError("interp(): xp must be strictly increasing")
    if isinstance(x, ArrayBase):
        return x.map(lambda e: interp(e, xs, fs, method))
    if not is_scalar(x):
        raise TypeError(f"interp(): x must be a value, number or container, not {type(x).__name__}")
    if not isinstance(x, value) and all(not isinstance(e, value) for e in xs + fs):
        return _interp_number(float(x), xs, fs, method)
    from ._math import iif
    n = len(xs)
    result: Any = fs[0]
    for i in range(n - 1):
        lo, hi = xs[i], xs[i + 1]
        if method == "linear":
            piece = fs[i] + (x - lo) * ((fs[i + 1] - fs[i]) / (hi - lo))
        elif method == "previous":
            piece = fs[i]
        else:
            piece = iif(x >= lo + (hi - lo) * 0.5, fs[i + 1], fs[i])
        result = iif(x >= lo, piece, result)
    result = iif(x >= xs[-1], fs[-1], result)
    if method == "linear" and isinstance(x, value) and x.dtype == "float":
        result = iif(x != x, math.nan, result)
    return result


def _interp_number(x: float, xs: List[Any], fs: List[Any], method: str) -> Any:
    if math.isnan(x):
        return math.nan if method == "linear" else fs[0]
    if x <= xs[0]:
        return fs[0]
    if x >= xs[-1]:
        return fs[-1]
    i = 0
    while i < len(xs) - 2 and xs[i + 1] <= x:
        i += 1
    f = min(max((x - xs[i]) / (xs[i + 1] - xs[i]), 0.0), 1.0)
    if method == "previous":
        return fs[i + 1] if f == 1.0 else fs[i]
    if method == "nearest":
        return fs[i + 1] if f >= 0.5 else fs[i]
    return fs[i] * (1.0 - f) + fs[i + 1] * f
