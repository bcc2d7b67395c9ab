"""Vectors: 1-d arrays of scalars with the vector operations (dot, cross, norms).

Elementwise arithmetic, comparisons, broadcasting, map and reductions come
from the array core (_array.py).
"""
from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, Iterable, Optional, Sequence, TypeVar, Union, overload

from ._array import ArrayBase, Shape, _unwrap, dot_arrays, dot_values, promote
from ._value import BoolLike, FloatLike, IntLike, NumLike, Scalar, is_scalar, value

__all__ = ["vector", "VecNumLike", "cross", "dot", "distance", "scalar_projection", "vector_projection",
           "angle_between", "rotate_vector"]

T = TypeVar("T", covariant=True)

_JUST_VALUE = {value}
_dtype_of_value = operator.attrgetter("_node.dtype")

# Added to the magnitude by normalize() so that a zero vector normalizes to
# zeros instead of NaN; the original copapy does the same.
_NORMALIZE_EPSILON = 1e-20


class vector(ArrayBase[T]):
    """A vector of scalars (copapy values and/or Python numbers).

    Arithmetic (`+ - * / // % **`) and comparisons work elementwise against a
    vector of the same length (ValueError otherwise), a sequence or a scalar,
    on either side; against a tensor they broadcast and give a tensor. `@` is
    the dot product (with a matrix: the vector-matrix product, a tensor).
    Math functions such as `cp.sin` apply elementwise. Elements are converted
    to one type (int to float if any is a float). Vectors are immutable:
    `v -= w` binds `v` to a new vector.
    """
    __slots__ = ()
    _rank = 2

    @overload
    def __init__(self: "vector[bool]", values: Iterable[BoolLike], packed: Optional[bool] = None) -> None: ...
    @overload
    def __init__(self: "vector[int]", values: Iterable[IntLike], packed: Optional[bool] = None) -> None: ...
    @overload
    def __init__(self: "vector[float]", values: Iterable[FloatLike], packed: Optional[bool] = None) -> None: ...
    @overload
    def __init__(self: "vector[Any]", values: Iterable[Any], packed: Optional[bool] = None) -> None: ...

    def __init__(self, values: Iterable[Any], packed: Optional[bool] = None) -> None:
        if isinstance(values, ArrayBase):
            if values.ndim != 1:
                raise ValueError(f"a vector is 1-d; got an array of shape {values.shape}")
            items = values.values
        elif values.__class__ is list or values.__class__ is tuple:
            items = tuple(values)
            # The common case, checked at C speed: values of one dtype only
            # (nothing to unwrap, check or promote).
            if set(map(type, items)) == _JUST_VALUE and len(set(map(_dtype_of_value, items))) == 1:
                self.values = items
                self.shape = (len(items),)
                return
            items = tuple(_unwrap(x) for x in items)
            for i, x in enumerate(items):
                if not is_scalar(x):
                    raise TypeError(f"vector element {i} must be a copapy value or a Python number, "
                                    f"not {type(x).__name__}")
        else:
            if is_scalar(values) or not hasattr(values, "__iter__"):
                raise TypeError(f"vector() takes an iterable of scalars, not {type(values).__name__}")
            items = tuple(_unwrap(x) for x in values)
            for i, x in enumerate(items):
                if not is_scalar(x):
                    raise TypeError(f"vector element {i} must be a copapy value or a Python number, "
                                    f"not {type(x).__name__}")
        self.values = promote(items)
        self.shape = (len(items),)

    @staticmethod
    def _accepts(shape: Shape) -> bool:
        return len(shape) == 1

    if TYPE_CHECKING:
        # Static types of the operators inherited from ArrayBase (defined there once).
        def __add__(self, other: "VectorOperand") -> "vector[Any]": ...
        def __radd__(self, other: "VectorROperand") -> "vector[Any]": ...
        def __sub__(self, other: "VectorOperand") -> "vector[Any]": ...
        def __rsub__(self, other: "VectorROperand") -> "vector[Any]": ...
        def __mul__(self, other: "VectorOperand") -> "vector[Any]": ...
        def __rmul__(self, other: "VectorROperand") -> "vector[Any]": ...
        def __truediv__(self, other: "VectorOperand") -> "vector[float]": ...
        def __rtruediv__(self, other: "VectorROperand") -> "vector[float]": ...
        def __floordiv__(self, other: "VectorOperand") -> "vector[Any]": ...
        def __rfloordiv__(self, other: "VectorROperand") -> "vector[Any]": ...
        def __mod__(self, other: "VectorOperand") -> "vector[Any]": ...
        def __rmod__(self, other: "VectorROperand") -> "vector[Any]": ...
        def __pow__(self, other: "VectorOperand") -> "vector[Any]": ...
        def __rpow__(self, other: "VectorROperand") -> "vector[Any]": ...
        def __lt__(self, other: "VectorOperand") -> "vector[bool]": ...
        def __le__(self, other: "VectorOperand") -> "vector[bool]": ...
        def __gt__(self, other: "VectorOperand") -> "vector[bool]": ...
        def __ge__(self, other: "VectorOperand") -> "vector[bool]": ...
        def __eq__(self, other: object) -> "vector[bool]": ...  # type: ignore[override]
        def __ne__(self, other: object) -> "vector[bool]": ...  # type: ignore[override]
        def __and__(self, other: "VectorOperand") -> "vector[Any]": ...
        def __rand__(self, other: "VectorROperand") -> "vector[Any]": ...
        def __or__(self, other: "VectorOperand") -> "vector[Any]": ...
        def __ror__(self, other: "VectorROperand") -> "vector[Any]": ...
        def __xor__(self, other: "VectorOperand") -> "vector[Any]": ...
        def __rxor__(self, other: "VectorROperand") -> "vector[Any]": ...
        def __lshift__(self, other: "VectorOperand") -> "vector[Any]": ...
        def __rlshift__(self, other: "VectorROperand") -> "vector[Any]": ...
        def __rshift__(self, other: "VectorOperand") -> "vector[Any]": ...
        def __rrshift__(self, other: "VectorROperand") -> "vector[Any]": ...
        def __neg__(self) -> "vector[Any]": ...
        def __abs__(self) -> "vector[Any]": ...

    def __repr__(self) -> str:
        return f"vector({self.values!r})"

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> "vector[T]": ...
    @overload
    def __getitem__(self, index: value[int]) -> Any: ...

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return vector._make(self.values[index], (len(range(*index.indices(len(self.values)))),))
        if isinstance(index, value):
            return self._take(index)[0][0]
        return self.values[index]

    @overload
    def __matmul__(self, other: Union["vector[Any]", Sequence[Any]]) -> Scalar: ...
    @overload
    def __matmul__(self, other: ArrayBase[Any]) -> Any: ...

    def __matmul__(self, other: Any) -> Any:
        if isinstance(other, vector):
            return self.dot(other)
        if isinstance(other, ArrayBase):
            from ._tensor import matmul
            return matmul(self, other)
        if isinstance(other, (list, tuple)):
            return self.dot(other)
        return NotImplemented

    def __rmatmul__(self, other: Any) -> Any:
        if isinstance(other, ArrayBase):
            from ._tensor import matmul
            return matmul(other, self)
        if isinstance(other, (list, tuple)):
            return self.dot(other)
        return NotImplemented

    def dot(self, other: Any) -> Scalar:
        """The dot product with a vector (or 1-d sequence) of the same length:
        the sum of the products (see mixed_sum)."""
        if isinstance(other, ArrayBase) and other.ndim == 1:
            if other.shape == self.shape:
                made = dot_arrays(self, other)
                if made is not None:
                    return made[0]  # type: ignore[no-any-return]
            ov = other.values
        elif isinstance(other, (list, tuple)):
            ov = tuple(other)
        else:
            raise TypeError(f"dot() needs a vector, not {type(other).__name__}")
        if len(ov) != len(self.values):
            raise ValueError(f"vector lengths differ: {len(self.values)} and {len(ov)}")
        return dot_values(self.values, ov)

    def magnitude(self) -> Scalar:
        """The Euclidean length, sqrt(v @ v)."""
        from ._math import sqrt
        return sqrt(self.dot(self))

    def normalize(self) -> "vector[float]":
        """The vector divided by its magnitude (plus 1e-20, so a zero vector gives zeros, not NaN)."""
        return self / (self.magnitude() + _NORMALIZE_EPSILON)

    def cross(self, other: Any) -> "vector[Any]":
        """The cross product of two 3-vectors."""
        if not isinstance(other, ArrayBase):
            if isinstance(other, (list, tuple)):
                other = vector(other)
            else:
                raise TypeError(f"cross() needs a vector, not {type(other).__name__}")
        if len(self.values) != 3 or other.shape != (3,):
            raise ValueError(f"cross() needs two 3-vectors, got shapes {self.shape} and {other.shape}")
        a1, a2, a3 = self.values
        b1, b2, b3 = other.values
        return vector((a2 * b3 - a3 * b2, a3 * b1 - a1 * b3, a1 * b2 - a2 * b1))


def _as_vector(x: Any, func: str) -> vector[Any]:
    if isinstance(x, vector):
        return x
    if isinstance(x, ArrayBase) and x.ndim == 1:
        return vector._make(x.values, x.shape)
    if isinstance(x, (list, tuple)):
        return vector(x)
    raise TypeError(f"cp.{func}() takes vectors (or 1-d sequences), not {type(x).__name__}")


def cross(v1: Any, v2: Any) -> vector[Any]:
    """The cross product v1 x v2 of two 3-vectors."""
    return _as_vector(v1, "cross").cross(v2)


def dot(v1: Any, v2: Any) -> Scalar:
    """The dot product of two vectors."""
    return _as_vector(v1, "dot").dot(v2)


def distance(v1: Any, v2: Any) -> Scalar:
    """The Euclidean distance |v1 - v2|."""
    difference: vector[Any] = _as_vector(v1, "distance") - v2
    return difference.magnitude()


def scalar_projection(v1: Any, v2: Any) -> Scalar:
    """The length of v1 projected onto v2: v1 . v2 / (|v2| + 1e-20)."""
    a = _as_vector(v1, "scalar_projection")
    b = _as_vector(v2, "scalar_projection")
    return a.dot(b) / (b.magnitude() + _NORMALIZE_EPSILON)


def vector_projection(v1: Any, v2: Any) -> vector[Any]:
    """v1 projected onto v2: v2 * (v1 . v2 / (|v2| ** 2 + 1e-20))."""
    a = _as_vector(v1, "vector_projection")
    b = _as_vector(v2, "vector_projection")
    dot_prod = a.dot(b)
    mag_sq = b.magnitude() ** 2 + _NORMALIZE_EPSILON
    return b * (dot_prod / mag_sq)


def angle_between(v1: Any, v2: Any) -> Scalar:
    """The angle between two vectors in radians: acos of the cosine
    v1 . v2 / (|v1| |v2| + 1e-20), limited to [-1, 1].

    The original does not limit the cosine, so rounding can push it past 1
    and give NaN for (nearly) parallel vectors; here the result is 0 or pi
    there instead."""
    from ._math import acos, clamp
    a = _as_vector(v1, "angle_between")
    b = _as_vector(v2, "angle_between")
    cosine = a.dot(b) / (a.magnitude() * b.magnitude() + _NORMALIZE_EPSILON)
    return acos(clamp(cosine, -1.0, 1.0))


def rotate_vector(v: Any, axis: Any, angle: Any) -> vector[Any]:
    """v rotated by `angle` (radians) about `axis` (Rodrigues' formula:
    v cos a + (k x v) sin a + k (k . v)(1 - cos a), k = axis normalized)."""
    from ._math import cos, sin
    vec = _as_vector(v, "rotate_vector")
    k = _as_vector(axis, "rotate_vector").normalize()
    cos_angle = cos(angle)
    sin_angle = sin(angle)
    term1 = vec * cos_angle
    term2 = k.cross(vec) * sin_angle
    term3 = k * (k.dot(vec)) * (1 - cos_angle)
    return term1 + term2 + term3  # type: ignore[no-any-return]


VecNumLike = Union["vector[Any]", NumLike]
VectorOperand = Union[NumLike, "vector[Any]", Sequence[Any]]
VectorROperand = Union[NumLike, Sequence[Any]]
