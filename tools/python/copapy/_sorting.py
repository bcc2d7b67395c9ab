"""cp.sort and cp.argsort: sorting networks of comparisons and selects.

A sorting network compares fixed pairs of positions, so the compiled program
does the same operations whatever the data: Batcher's odd-even merge sort
(n log^2 n compare-exchanges) for the smallest power of two >= n, with the
comparators that touch the padding dropped (padding behaves as +inf, so
those comparators never swap).

Order: ascending, NaN after every number (so a NaN cannot make the result
lose or repeat an element, as a plain min/max network would). argsort is
stable: equal elements keep their index order (ties are broken by the
index). Containers of Python numbers are sorted while tracing.
"""
from __future__ import annotations

import math
from typing import Any, List, Tuple

from ._array import ArrayBase
from ._value import value

__all__ = ["sort", "argsort", "sorting_network"]


def sorting_network(n: int) -> List[Tuple[int, int]]:
    """The comparators (i, j), i < j, of Batcher's odd-even merge sort for n items."""
    size = 1
    while size < n:
        size *= 2
    pairs: List[Tuple[int, int]] = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            for j in range(k % p, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    a, b = i + j, i + j + k
                    if a // (2 * p) == b // (2 * p) and b < n:
                        pairs.append((a, b))
            k //= 2
        p *= 2
    return pairs


def _is_nan(x: Any) -> Any:
    return x != x


def _less(a: Any, b: Any) -> Any:
    """a < b with NaN greater than every number (a traced bool, or a Python bool)."""
    if not isinstance(a, value) and not isinstance(b, value):
        return _number_key(a) < _number_key(b)
    lt = a < b
    if _maybe_nan(a) or _maybe_nan(b):
        lt = lt | (_is_nan(b) & (a == a))
    return lt


def _equal(a: Any, b: Any) -> Any:
    if not isinstance(a, value) and not isinstance(b, value):
        return _number_key(a) == _number_key(b)
    eq = a == b
    if _maybe_nan(a) and _maybe_nan(b):
        eq = eq | (_is_nan(a) & _is_nan(b))
    return eq


def _maybe_nan(x: Any) -> bool:
    if isinstance(x, value):
        return x.dtype == "float"
    return isinstance(x, float) and math.isnan(x)


def _number_key(x: Any) -> Tuple[int, Any]:
    return (1, 0.0) if isinstance(x, float) and math.isnan(x) else (0, x)


def _check(v: Any, func: str) -> ArrayBase[Any]:
    if not isinstance(v, ArrayBase):
        raise TypeError(f"cp.{func}() takes a vector, 1-d tensor or quaternion, not {type(v).__name__}")
    if v.ndim != 1:
        raise ValueError(f"cp.{func}() needs a 1-d container, not shape {v.shape}")
    if not v.values:
        raise ValueError(f"cp.{func}() of an empty {type(v).__name__}")
    return v


def sort(v: Any) -> Any:
    """The elements in ascending order (NaN last), in a container of the same kind."""
    from ._math import iif
    c = _check(v, "sort")
    items = list(c.values)
    if c._is_constant():
        return type(c)._make_promoted(sorted(items, key=_number_key), c.shape)
    for i, j in sorting_network(len(items)):
        a, b = items[i], items[j]
        swap = _less(b, a)
        items[i], items[j] = iif(swap, b, a), iif(swap, a, b)
    return type(c)._make_promoted(items, c.shape)


def argsort(v: Any) -> Any:
    """The indices that sort the elements (stable, NaN last), as a vector of ints."""
    from ._math import iif
    from ._vector import vector
    c = _check(v, "argsort")
    items = list(c.values)
    n = len(items)
    if c._is_constant():
        return vector(sorted(range(n), key=lambda i: _number_key(items[i])))
    index: List[Any] = list(range(n))
    for i, j in sorting_network(n):
        a, b = items[i], items[j]
        # Swap if b sorts before a: smaller, or equal with a smaller original index.
        later = index[j] < index[i]
        swap = _less(b, a)
        if later is not False:
            swap = swap | (_equal(a, b) & later)
        if isinstance(swap, bool):
            if swap:
                items[i], items[j] = b, a
                index[i], index[j] = index[j], index[i]
            continue
        items[i], items[j] = iif(swap, b, a), iif(swap, a, b)
        index[i], index[j] = iif(swap, index[j], index[i]), iif(swap, index[i], index[j])
    return vector(index)
