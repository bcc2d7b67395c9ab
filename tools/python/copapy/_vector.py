"""Vectors: fixed-length sequences of scalars with elementwise arithmetic."""
import functools
import operator
from typing import Any, Callable, Iterable, Iterator, Tuple, Union, overload

from ._value import is_scalar, value

__all__ = ["vector"]

Scalar = Union[value, bool, int, float]

# Added to the magnitude by normalize() so that a zero vector normalizes to
# zeros instead of NaN; the original copapy does the same.
_NORMALIZE_EPSILON = 1e-20


def _elementwise(fn: Callable[[Any, Any], Any], reflected: bool = False) -> Any:
    """An operator method applying `fn` elementwise against a vector of the
    same length or a scalar (NotImplemented for anything else)."""
    def method(self: "vector", other: Any) -> Any:
        if isinstance(other, vector):
            self._check_length(other)
            pairs: Iterable[Tuple[Any, Any]] = zip(self.values, other.values)
        elif is_scalar(other):
            pairs = ((a, other) for a in self.values)
        else:
            return NotImplemented
        if reflected:
            return vector(fn(b, a) for a, b in pairs)
        return vector(fn(a, b) for a, b in pairs)
    method.__name__ = f"__{'r' if reflected else ''}{fn.__name__}__"
    return method


class vector:
    """A vector of scalars (copapy values and/or Python numbers).

    Arithmetic (`+ - * / // % **`) and comparisons work elementwise against a
    vector of the same length (ValueError otherwise) or a scalar, on either
    side; `@` is the dot product. Math functions such as `cp.sin` apply
    elementwise. Vectors are immutable: `v -= w` binds `v` to a new vector.
    """
    __slots__ = ("values",)
    values: Tuple[Scalar, ...]

    def __init__(self, values: Iterable[Scalar]) -> None:
        items = tuple(values)
        for i, x in enumerate(items):
            if not is_scalar(x):
                raise TypeError(f"vector element {i} must be a copapy value or a Python number, "
                                f"not {type(x).__name__}")
        self.values = items

    def _check_length(self, other: "vector") -> None:
        if len(other.values) != len(self.values):
            raise ValueError(f"vector lengths differ: {len(self.values)} and {len(other.values)}")

    def __repr__(self) -> str:
        return f"vector({list(self.values)!r})"

    def __len__(self) -> int:
        return len(self.values)

    def __iter__(self) -> Iterator[Scalar]:
        return iter(self.values)

    @overload
    def __getitem__(self, index: int) -> Scalar: ...
    @overload
    def __getitem__(self, index: slice) -> "vector": ...

    def __getitem__(self, index: Union[int, slice]) -> Any:
        if isinstance(index, slice):
            return vector(self.values[index])
        return self.values[index]

    __add__ = _elementwise(operator.add)
    __radd__ = _elementwise(operator.add, True)
    __sub__ = _elementwise(operator.sub)
    __rsub__ = _elementwise(operator.sub, True)
    __mul__ = _elementwise(operator.mul)
    __rmul__ = _elementwise(operator.mul, True)
    __truediv__ = _elementwise(operator.truediv)
    __rtruediv__ = _elementwise(operator.truediv, True)
    __floordiv__ = _elementwise(operator.floordiv)
    __rfloordiv__ = _elementwise(operator.floordiv, True)
    __mod__ = _elementwise(operator.mod)
    __rmod__ = _elementwise(operator.mod, True)
    __pow__ = _elementwise(operator.pow)
    __rpow__ = _elementwise(operator.pow, True)
    # Python reflects comparisons itself (3 < v calls v.__gt__(3)).
    __lt__ = _elementwise(operator.lt)
    __le__ = _elementwise(operator.le)
    __gt__ = _elementwise(operator.gt)
    __ge__ = _elementwise(operator.ge)
    __eq__ = _elementwise(operator.eq)  # type: ignore[assignment]
    __ne__ = _elementwise(operator.ne)  # type: ignore[assignment]
    # == compares elementwise instead of returning a bool, so hashing goes by identity.
    __hash__ = object.__hash__

    def __neg__(self) -> "vector":
        return vector(-a for a in self.values)

    def __abs__(self) -> "vector":
        return vector(abs(a) for a in self.values)

    def __matmul__(self, other: Any) -> Any:
        if not isinstance(other, vector):
            return NotImplemented
        return self.dot(other)

    def dot(self, other: "vector") -> Scalar:
        """The dot product with a vector of the same length."""
        if not isinstance(other, vector):
            raise TypeError(f"dot() needs a vector, not {type(other).__name__}")
        self._check_length(other)
        return vector(a * b for a, b in zip(self.values, other.values)).sum()

    def sum(self) -> Scalar:
        """The sum of the elements, added left to right (0 for an empty vector)."""
        if not self.values:
            return 0
        return functools.reduce(operator.add, self.values)

    def magnitude(self) -> Scalar:
        """The Euclidean length, sqrt(v @ v)."""
        # Imported here because _math imports this module.
        from ._math import sqrt
        return sqrt(self.dot(self))

    def normalize(self) -> "vector":
        """The vector divided by its magnitude (plus 1e-20, so a zero vector gives zeros, not NaN)."""
        return self / (self.magnitude() + _NORMALIZE_EPSILON)

    def cross(self, other: "vector") -> "vector":
        """The cross product of two 3-vectors."""
        if not isinstance(other, vector):
            raise TypeError(f"cross() needs a vector, not {type(other).__name__}")
        if len(self.values) != 3 or len(other.values) != 3:
            raise ValueError(f"cross() needs two 3-vectors, got lengths {len(self.values)} and {len(other.values)}")
        a1, a2, a3 = self.values
        b1, b2, b3 = other.values
        return vector((a2 * b3 - a3 * b2, a3 * b1 - a1 * b3, a1 * b2 - a2 * b1))

    def map(self, func: Callable[[Scalar], Scalar]) -> "vector":
        """A new vector of func(element) for every element."""
        return vector(func(a) for a in self.values)
