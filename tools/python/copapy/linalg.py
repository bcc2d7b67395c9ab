"""Small dense linear algebra for control code: solve, inv and det.

Everything is unrolled while tracing into ordinary operations, so the
compiled program has no loops and a fixed operation count; sizes up to 6 x 6
are tested, larger ones work at n^3 operations. The algorithms and their
operation order are the original copapy's unrolled ones:

- solve(a, b): Gaussian elimination on [a | b]. Pivoting rule (pivot=True):
  for column k, the rows i = k+1 .. n-1 are visited in order, and row i is
  swapped with row k when |a[i][k]| > |a[k][k]| (strictly greater, so on
  ties the earlier row stays). With traced values the comparison happens
  when the program runs and the swap selects every element of the two rows
  (a real select: an inf in the row not taken does not leak). Then the rows
  below are reduced with the factor a[i][k] * (1 / a[k][k]), and the back
  substitution multiplies by the reciprocal pivots. Elements that are
  Python zeros are skipped while tracing.
- inv(a) = solve(a, identity).
- det(a): Laplace expansion along the rows for n <= 4; for larger n the
  product of the pivots of the same elimination, negated per row swap.

A singular matrix of Python numbers is an error while tracing; one of
traced values gives a division by zero when the program runs: IEEE inf or
NaN results, never a trap.
"""
from __future__ import annotations

import functools
from typing import Any, List, Tuple

from ._array import ArrayBase
from ._math import abs as _abs
from ._math import cast, iif
from ._tensor import tensor
from ._vector import vector
from ._value import value

__all__ = ["solve", "inv", "det"]

Rows = List[List[Any]]

_LAPLACE_MAX = 4


def _matrix(a: Any, func: str) -> Tuple[List[Any], int]:
    t = a if isinstance(a, ArrayBase) else tensor(a)
    if t.ndim != 2 or t.shape[0] != t.shape[1]:
        raise ValueError(f"{func}() requires a square matrix, got shape {t.shape}")
    if t.shape[0] == 0:
        raise ValueError(f"{func}() of an empty matrix")
    return list(t.values), t.shape[0]


def _as_float(x: Any) -> Any:
    return cast(x, float) if isinstance(x, value) else float(x)


def _is_zero(x: Any) -> bool:
    return not isinstance(x, value) and x == 0


def _eliminate(rows: Rows, n: int, pivot: bool) -> Tuple[List[Any], Any]:
    """Forward elimination in place (see the module docstring); returns the
    reciprocal pivots and the sign of the row permutation."""
    width = len(rows[0])
    inv_pivots: List[Any] = []
    sign: Any = 1.0
    for k in range(n):
        if pivot:
            for i in range(k + 1, n):
                a, b = rows[i][k], rows[k][k]
                if _is_zero(a):
                    continue  # |0| > |b| is never true
                swap = _abs(a) > _abs(b)
                if isinstance(swap, bool):
                    if swap:
                        rows[i], rows[k] = rows[k], rows[i]
                        sign = -sign
                    continue
                for j in range(k, width):
                    x, y = rows[k][j], rows[i][j]
                    if not isinstance(x, value) and not isinstance(y, value) and x == y:
                        continue
                    rows[k][j], rows[i][j] = iif(swap, y, x), iif(swap, x, y)
                sign = iif(swap, -sign, sign)
        if _is_zero(rows[k][k]):
            raise ValueError("the matrix is singular" if pivot else
                             f"pivot element {k} is zero: pivoting is required to solve this system")
        inv = 1.0 / rows[k][k]
        inv_pivots.append(inv)
        for i in range(k + 1, n):
            if _is_zero(rows[i][k]):
                continue
            f = rows[i][k] * inv
            for j in range(k + 1, width):
                rows[i][j] = rows[i][j] - f * rows[k][j]
    return inv_pivots, sign


def _solve_rows(a_vals: List[Any], n: int, b_vals: List[Any], r: int, pivot: bool) -> List[Any]:
    rows: Rows = [[_as_float(v) for v in (*a_vals[i * n:(i + 1) * n], *b_vals[i * r:(i + 1) * r])]
                  for i in range(n)]
    inv_pivots, _ = _eliminate(rows, n, pivot)
    width = n + r
    for i in reversed(range(n)):
        for c in range(n, width):
            s = rows[i][c]
            for q in range(i + 1, n):
                s = s - rows[i][q] * rows[q][c]
            rows[i][c] = s * inv_pivots[i]
    return [rows[i][c] for i in range(n) for c in range(n, width)]


def solve(a: Any, b: Any, pivot: bool = True) -> Any:
    """x with a @ x = b for a square matrix a; b is a vector (the result is a
    vector), a 1-d or 2-d tensor or sequence (the result has b's shape)."""
    a_vals, n = _matrix(a, "solve")
    bt = b if isinstance(b, ArrayBase) else tensor(b)
    if bt.ndim not in (1, 2) or bt.shape[0] != n:
        raise ValueError(f"solve(): shape mismatch: a is {n} x {n} but b has shape {bt.shape}")
    r = 1 if bt.ndim == 1 else bt.shape[1]
    x = _solve_rows(a_vals, n, list(bt.values), r, pivot)
    if isinstance(b, vector):
        return vector._make(x, (n,))
    return tensor._make(x, bt.shape)


def inv(a: Any, pivot: bool = True) -> tensor[Any]:
    """The inverse of a square matrix, as a tensor: solve(a, identity)."""
    a_vals, n = _matrix(a, "inv")
    identity = [float(i == j) for i in range(n) for j in range(n)]
    return tensor._make(_solve_rows(a_vals, n, identity, n, pivot), (n, n))


def det(a: Any) -> Any:
    """The determinant of a square matrix (see the module docstring)."""
    a_vals, n = _matrix(a, "det")
    elements = [_as_float(v) for v in a_vals]
    if n > _LAPLACE_MAX:
        rows: Rows = [elements[i * n:(i + 1) * n] for i in range(n)]
        try:
            inv_pivots, sign = _eliminate(rows, n, True)
        except ValueError:
            return 0.0  # a singular matrix of numbers
        d: Any = rows[0][0]
        for k in range(1, n):
            d = d * rows[k][k]
        return d * sign

    @functools.lru_cache(maxsize=None)
    def minor(row: int, cols: Tuple[int, ...]) -> Any:
        if row == n:
            return 1.0
        acc: Any = 0.0
        for pos, col in enumerate(cols):
            x = elements[row * n + col]
            if _is_zero(x):
                continue
            rest = minor(row + 1, cols[:pos] + cols[pos + 1:])
            term = x if (not isinstance(rest, value) and rest == 1.0) else x * rest
            if pos % 2 == 0:
                acc = term if _is_zero(acc) else acc + term
            elif _is_zero(acc):
                acc = -term
            else:
                acc = acc - term
        return acc

    return minor(0, tuple(range(n)))
