"""Binary32 reference arithmetic for the end-to-end tests.

`F32` is a number that rounds the result of every + - * / to the nearest
binary32 value, as the compiled program does. Doing each operation in double
and rounding once is exact for + - * / and sqrt (double has more than
2 * 24 + 2 bits, so the double rounding cannot change the result). A Python
float meeting an F32 is rounded to binary32 first, because the tracer stores
Python numbers used with values as binary32 constants.

F32 is registered as numbers.Real, so the tracer's containers accept it as a
"Python number": a function written for traced containers (an example's
`step`) can be run on F32 elements to get the reference. Functions that the
tracer evaluates for Python numbers in double (cp.sqrt calls math.sqrt, the
linalg module works on float()) return Python floats; an F32 operation
re-rounds such a float, and for linalg the documented algorithm is
re-implemented below on F32 numbers (solve, inv, det).

Also here: bit-exact and ulp comparisons of binary32 results.
"""
import math
import numbers
import struct
from typing import Any, List, Sequence

__all__ = ["F32", "f32", "bits", "ulp_distance", "same", "within_ulps", "ref_solve", "ref_inv", "ref_det"]


def f32(x: float) -> float:
    """Nearest binary32 value (ties to even); overflow gives +-inf as a C conversion does."""
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]  # type: ignore[no-any-return]
    except OverflowError:
        return math.copysign(math.inf, x)


def bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]  # type: ignore[no-any-return]


def _ordered(x: float) -> int:
    """The binary32 bit pattern as an integer that orders like the floats (-0 and +0 adjacent)."""
    b = bits(x)
    return -(b & 0x7FFFFFFF) if b & 0x80000000 else b


def ulp_distance(a: float, b: float) -> int:
    """How many binary32 values lie between a and b (0 when bit-identical)."""
    return abs(_ordered(f32(a)) - _ordered(f32(b)))


def same(a: Any, b: Any) -> bool:
    """Bit-exact equality of two binary32 results (NaN equals NaN; +0 differs from -0).

    Nothing is rounded first: a reference that is not a binary32 value (a
    double left unrounded) differs from every result the program can give."""
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def within_ulps(got: Any, want: Any, ulps: int) -> bool:
    got, want = float(got), float(want)
    if math.isnan(got) or math.isnan(want) or math.isinf(got) or math.isinf(want):
        return same(got, want)
    return ulp_distance(got, want) <= ulps


def _operand(x: Any) -> float:
    if isinstance(x, F32):
        return x.v
    if isinstance(x, bool):
        return float(x)
    if isinstance(x, (int, float)):
        return f32(float(x))  # a constant in the traced program: binary32
    raise TypeError(f"F32 arithmetic with {type(x).__name__}")


def _div(a: float, b: float) -> float:
    if b == 0.0:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


class F32:
    """A binary32 number: every arithmetic result is rounded to binary32."""
    __slots__ = ("v",)

    def __init__(self, x: Any) -> None:
        self.v = x.v if isinstance(x, F32) else f32(float(x))

    def __repr__(self) -> str:
        return f"F32({self.v!r})"

    def __float__(self) -> float:
        return self.v

    def __int__(self) -> int:
        return int(self.v)

    def __trunc__(self) -> int:
        return math.trunc(self.v)

    def __bool__(self) -> bool:
        return self.v != 0.0

    def __hash__(self) -> int:
        return hash(self.v)

    # + - * /: one rounding per operation.
    def __add__(self, o: Any) -> "F32":
        return F32(self.v + _operand(o))

    def __radd__(self, o: Any) -> "F32":
        if type(o) is int and o == 0:
            # Python's sum() starts from the int 0; the traced program takes the
            # first term as it is (0 + -0.0 would turn a -0.0 into +0.0).
            return self
        return F32(_operand(o) + self.v)

    def __sub__(self, o: Any) -> "F32":
        return F32(self.v - _operand(o))

    def __rsub__(self, o: Any) -> "F32":
        return F32(_operand(o) - self.v)

    def __mul__(self, o: Any) -> "F32":
        return F32(self.v * _operand(o))

    def __rmul__(self, o: Any) -> "F32":
        return F32(_operand(o) * self.v)

    def __truediv__(self, o: Any) -> "F32":
        return F32(_div(self.v, _operand(o)))

    def __rtruediv__(self, o: Any) -> "F32":
        return F32(_div(_operand(o), self.v))

    def __pow__(self, k: Any) -> "F32":
        # As traced: a Python int exponent 1..7 is repeated multiplication from the left.
        if type(k) is int and 1 <= k < 8:
            r = self
            for _ in range(k - 1):
                r = r * self
            return r
        raise TypeError(f"F32 ** {k!r}: only small int exponents have an exact binary32 reference")

    def __neg__(self) -> "F32":
        return F32(-self.v)

    def __pos__(self) -> "F32":
        return self

    def __abs__(self) -> "F32":
        return F32(abs(self.v))

    # Comparisons are exact on the binary32 values.
    def __eq__(self, o: Any) -> bool:
        return self.v == _operand(o) if isinstance(o, (F32, int, float)) else NotImplemented

    def __ne__(self, o: Any) -> bool:
        return self.v != _operand(o) if isinstance(o, (F32, int, float)) else NotImplemented

    def __lt__(self, o: Any) -> bool:
        return self.v < _operand(o)

    def __le__(self, o: Any) -> bool:
        return self.v <= _operand(o)

    def __gt__(self, o: Any) -> bool:
        return self.v > _operand(o)

    def __ge__(self, o: Any) -> bool:
        return self.v >= _operand(o)


numbers.Real.register(F32)


# ---- Linear algebra: the documented algorithms (the original copapy's unrolled
# solve/inv/det, docs in the tracer's linalg module) on F32 numbers. Every
# element of `a` is a program input in the tests, so nothing is a trace-time
# zero and no step is skipped.

def _eliminate(rows: List[List[Any]], n: int) -> List[Any]:
    """Forward elimination with partial pivoting in place: row i replaces row k
    when |a[i][k]| > |a[k][k]|, visiting i = k+1 .. n-1 in order. Returns the
    reciprocal pivots and the number of row swaps."""
    width = len(rows[0])
    inv_pivots = []
    swaps = 0
    for k in range(n):
        for i in range(k + 1, n):
            if abs(rows[i][k]) > abs(rows[k][k]):
                for j in range(k, width):
                    rows[k][j], rows[i][j] = rows[i][j], rows[k][j]
                swaps += 1
        inv = 1.0 / rows[k][k]
        inv_pivots.append(inv)
        for i in range(k + 1, n):
            f = rows[i][k] * inv
            for j in range(k + 1, width):
                rows[i][j] = rows[i][j] - f * rows[k][j]
    return [inv_pivots, swaps]


def ref_solve(a: Sequence[Sequence[Any]], b: Sequence[Sequence[Any]]) -> List[List[Any]]:
    """x with a @ x = b (b: n rows of r columns): elimination on [a | b], then
    back substitution multiplying by the reciprocal pivots."""
    n = len(a)
    rows = [list(a[i]) + list(b[i]) for i in range(n)]
    inv_pivots, _ = _eliminate(rows, n)
    width = len(rows[0])
    for i in reversed(range(n)):
        for c in range(n, width):
            s = rows[i][c]
            for q in range(i + 1, n):
                s = s - rows[i][q] * rows[q][c]
            rows[i][c] = s * inv_pivots[i]
    return [rows[i][n:] for i in range(n)]


def ref_inv(a: Sequence[Sequence[Any]]) -> List[List[Any]]:
    n = len(a)
    return ref_solve(a, [[float(i == j) for j in range(n)] for i in range(n)])


def ref_det(a: Sequence[Sequence[Any]]) -> Any:
    """Laplace expansion along the rows for n <= 4 (the first term of a minor
    taken as it is, a leading odd term negated), else the product of the
    eliminated diagonal from the left, times the sign of the row swaps."""
    n = len(a)
    if n > 4:
        rows = [list(r) for r in a]
        _, swaps = _eliminate(rows, n)
        d = rows[0][0]
        for k in range(1, n):
            d = d * rows[k][k]
        return d * (-1.0 if swaps % 2 else 1.0)

    def minor(row: int, cols: tuple) -> Any:
        if row == n:
            return None  # the empty product: the term is x itself, no multiplication
        acc = None
        for pos, col in enumerate(cols):
            rest = minor(row + 1, cols[:pos] + cols[pos + 1:])
            x = a[row][col]
            term = x if rest is None else x * rest
            if pos % 2 == 0:
                acc = term if acc is None else acc + term
            else:
                acc = -term if acc is None else acc - term
        return acc

    return minor(0, tuple(range(n)))
