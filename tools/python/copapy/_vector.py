"""Vectors: 1-d arrays of scalars with the vector operations (dot, cross, norms).

Elementwise arithmetic, comparisons, broadcasting, map and reductions come
from the array core (_array.py).
"""
from __future__ import annotations

from typing import Any, Iterable, TypeVar, Union, overload

from ._array import ArrayBase, Shape
from ._value import is_scalar, value

__all__ = ["vector", "VecNumLike"]

T = TypeVar("T", covariant=True)

# Added to the magnitude by normalize() so that a zero vector normalizes to
# zeros instead of NaN; the original copapy does the same.
_NORMALIZE_EPSILON = 1e-20


class vector(ArrayBase[T]):
    """A vector of scalars (copapy values and/or Python numbers).

    Arithmetic (`+ - * / // % **`) and comparisons work elementwise against a
    vector of the same length (ValueError otherwise), a sequence or a scalar,
    on either side; against a tensor they broadcast and give a tensor. `@` is
    the dot product (with a matrix: the vector-matrix product). Math functions
    such as `cp.sin` apply elementwise. Vectors are immutable: `v -= w` binds
    `v` to a new vector.
    """
    __slots__ = ()
    _rank = 2

    def __init__(self, values: Iterable[Any]) -> None:
        if isinstance(values, ArrayBase):
            if values.ndim != 1:
                raise ValueError(f"a vector is 1-d; got an array of shape {values.shape}")
            items = values.values
        else:
            items = tuple(values)
            for i, x in enumerate(items):
                if not is_scalar(x):
                    raise TypeError(f"vector element {i} must be a copapy value or a Python number, "
                                    f"not {type(x).__name__}")
        self.values = items
        self.shape = (len(items),)

    @staticmethod
    def _accepts(shape: Shape) -> bool:
        return len(shape) == 1

    def __repr__(self) -> str:
        return f"vector({list(self.values)!r})"

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> "vector[T]": ...

    def __getitem__(self, index: Union[int, slice]) -> Any:
        if isinstance(index, slice):
            return vector._make(self.values[index], (len(range(*index.indices(len(self.values)))),))
        if isinstance(index, value):
            raise TypeError("a copapy value cannot be used as an index while tracing (it is only known when "
                            "the program runs); select with cp.iif() instead")
        return self.values[index]

    def __matmul__(self, other: Any) -> Any:
        if isinstance(other, vector):
            return self.dot(other)
        if isinstance(other, ArrayBase):
            from ._tensor import matmul
            return matmul(self, other)
        return NotImplemented

    def __rmatmul__(self, other: Any) -> Any:
        if isinstance(other, ArrayBase):
            from ._tensor import matmul
            return matmul(other, self)
        return NotImplemented

    def dot(self, other: Any) -> Any:
        """The dot product with a vector (or 1-d sequence) of the same length:
        the products added left to right."""
        if isinstance(other, vector):
            ov = other.values
        elif isinstance(other, ArrayBase) and other.ndim == 1:
            ov = other.values
        elif isinstance(other, (list, tuple)):
            ov = tuple(other)
        else:
            raise TypeError(f"dot() needs a vector, not {type(other).__name__}")
        if len(ov) != len(self.values):
            raise ValueError(f"vector lengths differ: {len(self.values)} and {len(ov)}")
        total: Any = None
        for a, b in zip(self.values, ov):
            p = a * b
            total = p if total is None else total + p
        return 0 if total is None else total

    def magnitude(self) -> Any:
        """The Euclidean length, sqrt(v @ v)."""
        from ._math import sqrt
        return sqrt(self.dot(self))

    def normalize(self) -> "vector[float]":
        """The vector divided by its magnitude (plus 1e-20, so a zero vector gives zeros, not NaN)."""
        return self / (self.magnitude() + _NORMALIZE_EPSILON)  # type: ignore[no-any-return]

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
        return vector._make((a2 * b3 - a3 * b2, a3 * b1 - a1 * b3, a1 * b2 - a2 * b1), (3,))

    def homogenize(self) -> "vector[Any]":
        """Homogeneous coordinates: the vector with a 1 appended."""
        return vector._make(self.values + (1,), (len(self.values) + 1,))


VecNumLike = Union["vector[Any]", Any]
