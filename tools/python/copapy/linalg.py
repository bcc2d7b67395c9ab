"""Small dense linear algebra for control code: det, inv and solve.

Everything is unrolled while tracing into ordinary operations, so the
compiled program has no loops and a fixed operation count; sizes up to 6 x 6
are tested (larger ones work, at n^3 operations).

Algorithms (the same for traced values and for Python numbers):

- 1 x 1, 2 x 2 and 3 x 3: closed forms (det by the rule of Sarrus /
  cofactors, inv as adjugate / det).
- n >= 4: Gaussian elimination with partial pivoting. The pivoting rule: for
  column k, the rows k+1 .. n-1 are visited in order, and row i is swapped
  with row k when |a[i][k]| > |a[k][k]| (strictly greater, so on ties the
  earlier row stays). With traced values the comparison happens when the
  program runs and the swap is a select of every element, so the rule is the
  same in both cases. det is the product of the pivots times (-1) per swap.

A singular matrix gives a division by zero: IEEE inf or NaN results (never a
trap), as 1/0 does everywhere in the compiled program.
"""
from __future__ import annotations

from typing import Any, List, Tuple

from ._array import ArrayBase
from ._math import abs as _abs
from ._math import iif
from ._tensor import tensor
from ._vector import vector

__all__ = ["det", "inv", "solve"]

Rows = List[List[Any]]


def _square(a: Any, func: str) -> Tuple[Rows, int]:
    t = a if isinstance(a, ArrayBase) else tensor(a)
    if t.ndim != 2 or t.shape[0] != t.shape[1]:
        raise ValueError(f"linalg.{func}() needs a square matrix, not shape {t.shape}")
    n = t.shape[0]
    if n == 0:
        raise ValueError(f"linalg.{func}() of an empty matrix")
    return [list(t.values[i * n:(i + 1) * n]) for i in range(n)], n


def _det3(m: Rows) -> Any:
    (a, b, c), (d, e, f), (g, h, i) = m
    return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)


def _eliminate(m: Rows, rhs: Rows) -> Tuple[Rows, Rows, Any]:
    """Forward elimination with partial pivoting (see the module docstring) on m
    and the right-hand sides rhs (rows of the same count); returns the upper
    triangular m, the transformed rhs and the sign of the row permutation."""
    n = len(m)
    m = [row[:] for row in m]
    rhs = [row[:] for row in rhs]
    sign: Any = 1
    for k in range(n):
        for i in range(k + 1, n):
            swap = _abs(m[i][k]) > _abs(m[k][k])
            if isinstance(swap, bool):
                if swap:
                    m[i], m[k] = m[k], m[i]
                    rhs[i], rhs[k] = rhs[k], rhs[i]
                    sign = -sign
                continue
            for rows in (m, rhs):
                ri, rk = rows[i], rows[k]
                rows[k] = [iif(swap, x, y) for x, y in zip(ri, rk)]
                rows[i] = [iif(swap, y, x) for x, y in zip(ri, rk)]
            sign = iif(swap, -sign, sign)
        pivot = m[k][k]
        for i in range(k + 1, n):
            factor = m[i][k] / pivot
            m[i] = [x - factor * y for x, y in zip(m[i], m[k])]
            m[i][k] = 0.0
            rhs[i] = [x - factor * y for x, y in zip(rhs[i], rhs[k])]
    return m, rhs, sign


def _back_substitute(u: Rows, rhs: Rows) -> Rows:
    n = len(u)
    cols = len(rhs[0]) if rhs else 0
    x: Rows = [[0.0] * cols for _ in range(n)]
    for i in range(n - 1, -1, -1):
        for c in range(cols):
            acc = rhs[i][c]
            for j in range(i + 1, n):
                acc = acc - u[i][j] * x[j][c]
            x[i][c] = acc / u[i][i]
    return x


def det(a: Any) -> Any:
    """The determinant of a square matrix (tensor or nested sequence)."""
    m, n = _square(a, "det")
    if n == 1:
        return m[0][0]
    if n == 2:
        return m[0][0] * m[1][1] - m[0][1] * m[1][0]
    if n == 3:
        return _det3(m)
    u, _, sign = _eliminate(m, [[] for _ in range(n)])
    d: Any = u[0][0]
    for k in range(1, n):
        d = d * u[k][k]
    return d * sign


def inv(a: Any) -> tensor[Any]:
    """The inverse of a square matrix, as a tensor."""
    m, n = _square(a, "inv")
    if n == 1:
        return tensor._make([1.0 / m[0][0]], (1, 1))
    if n == 2:
        (p, q), (r, s) = m
        d = p * s - q * r
        return tensor._make([s / d, -q / d, -r / d, p / d], (2, 2))
    if n == 3:
        (a0, b0, c0), (d0, e0, f0), (g0, h0, i0) = m
        d = _det3(m)
        adj = [e0 * i0 - f0 * h0, c0 * h0 - b0 * i0, b0 * f0 - c0 * e0,
               f0 * g0 - d0 * i0, a0 * i0 - c0 * g0, c0 * d0 - a0 * f0,
               d0 * h0 - e0 * g0, b0 * g0 - a0 * h0, a0 * e0 - b0 * d0]
        return tensor._make([x / d for x in adj], (3, 3))
    eye_rows: Rows = [[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)]
    u, rhs, _ = _eliminate(m, eye_rows)
    x = _back_substitute(u, rhs)
    return tensor._make([e for row in x for e in row], (n, n))


def solve(a: Any, b: Any) -> Any:
    """x with a @ x = b, for a square matrix a and b a vector (the result is a
    vector), a 1-d sequence or tensor, or a matrix of right-hand sides (columns)."""
    m, n = _square(a, "solve")
    bt = b if isinstance(b, ArrayBase) else tensor(b)
    if bt.ndim not in (1, 2) or bt.shape[0] != n:
        raise ValueError(f"linalg.solve(): b must have {n} rows, not shape {bt.shape}")
    cols = 1 if bt.ndim == 1 else bt.shape[1]
    rhs: Rows = [list(bt.values[i * cols:(i + 1) * cols]) for i in range(n)]
    if n <= 3:
        # Through the closed-form inverse: no pivoting needed, fewer operations at these sizes.
        ai = inv(a)
        iv = ai.values
        x = [[_row_dot(iv[i * n:(i + 1) * n], [rhs[j][c] for j in range(n)]) for c in range(cols)]
             for i in range(n)]
    else:
        u, r, _ = _eliminate(m, rhs)
        x = _back_substitute(u, r)
    flat = [e for row in x for e in row]
    if bt.ndim == 1:
        return vector._make(flat, (n,)) if isinstance(b, vector) or not isinstance(b, ArrayBase) \
            else tensor._make(flat, (n,))
    return tensor._make(flat, (n, cols))


def _row_dot(row: Any, col: List[Any]) -> Any:
    total: Any = None
    for p, q in zip(row, col):
        t = p * q
        total = t if total is None else total + t
    return total
