"""The array core shared by vector, tensor and quaternion.

Every container is a flat tuple of scalars (copapy values or Python numbers)
in row-major order plus a shape. What differs between the containers is only
which class a result gets and a few class-specific operations (dot and cross
for vectors, matmul for tensors, the Hamilton product for quaternions); shape
handling, NumPy broadcasting, elementwise application and reductions are
defined here once, so an elementwise function written for one container works
on all of them.

Elementwise application is the hot path of tracing: operands of equal shape
are zipped directly, and a scalar operand is repeated without building a
broadcast copy.
"""
from __future__ import annotations

import functools
import operator
from typing import (Any, Callable, Iterator, List, Optional, Sequence, Tuple, Type, TypeVar, Union, Generic,
                    overload)

from ._value import is_scalar, value

__all__ = ["ArrayBase", "Shape", "broadcast_shapes", "apply", "nested_to_flat", "flat_to_nested", "size_of",
           "normalize_axis"]

Shape = Tuple[int, ...]
T = TypeVar("T", covariant=True)
A = TypeVar("A", bound="ArrayBase[Any]")


def size_of(shape: Shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def nested_to_flat(data: Any, what: str = "tensor") -> Tuple[Tuple[Any, ...], Shape]:
    """Flat row-major elements and shape of a scalar, a (nested) sequence or an array.

    Ragged nesting (rows of different lengths, or a scalar next to a list) is
    a ValueError naming the position, as in NumPy without dtype=object.
    """
    if isinstance(data, ArrayBase):
        return data.values, data.shape
    if is_scalar(data):
        return (data,), ()
    if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
        raise TypeError(f"{what} elements must be copapy values or Python numbers, not {type(data).__name__}")
    items = list(data)
    if not items:
        return (), (0,)
    parts = [nested_to_flat(x, what) for x in items]
    inner = parts[0][1]
    for k, (_, s) in enumerate(parts):
        if s != inner:
            raise ValueError(f"{what} data is ragged: element 0 has shape {inner} but element {k} has shape {s}")
    flat: List[Any] = []
    for vals, _ in parts:
        flat.extend(vals)
    return tuple(flat), (len(items),) + inner


def flat_to_nested(values: Sequence[Any], shape: Shape) -> Any:
    """The nested-list form of flat row-major `values` (a scalar for shape ())."""
    if not shape:
        return values[0]
    if len(shape) == 1:
        return list(values)
    step = size_of(shape[1:])
    return [flat_to_nested(values[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def broadcast_shapes(a: Shape, b: Shape) -> Shape:
    """NumPy's rule: align trailing dimensions; each pair must be equal or contain a 1."""
    if a == b:
        return a
    n = max(len(a), len(b))
    pa = (1,) * (n - len(a)) + a
    pb = (1,) * (n - len(b)) + b
    out = []
    for x, y in zip(pa, pb):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        elif len(a) == 1 and len(b) == 1:
            raise ValueError(f"lengths differ: {a[0]} and {b[0]}")
        else:
            raise ValueError(f"shapes {a} and {b} cannot be broadcast together")
    return tuple(out)


def _broadcast_values(values: Tuple[Any, ...], shape: Shape, target: Shape) -> Sequence[Any]:
    """`values` of `shape` repeated to `target` (which broadcast_shapes produced)."""
    if shape == target:
        return values
    if len(values) == 1:
        return values * size_of(target)
    pad = (1,) * (len(target) - len(shape)) + shape
    # Strides of the source in the target's index space (0 along broadcast axes).
    strides = []
    step = 1
    for d in reversed(pad):
        strides.append(step if d != 1 else 0)
        step *= d
    strides.reverse()
    index = [0]
    for dim, stride in zip(target, strides):
        index = [i + k * stride for i in index for k in range(dim)]
    return [values[i] for i in index]


def normalize_axis(axis: int, ndim: int) -> int:
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise TypeError(f"axis must be an int, not {type(axis).__name__}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for an array with {ndim} dimension(s)")
    return axis % ndim


class ArrayBase(Generic[T]):
    """Base of vector, tensor and quaternion: `values` (flat, row-major) and `shape`.

    Subclasses set `_rank` (which class wins when containers of different
    kinds meet in an elementwise operation: the higher rank) and implement
    `_make(values, shape)`, which builds the result of an operation.
    """
    __slots__ = ("values", "shape")
    values: Tuple[Any, ...]
    shape: Shape
    _rank = 0

    @classmethod
    def _make(cls: Type[A], values: Sequence[Any], shape: Shape) -> Any:
        """A new container of this class (which must accept `shape`) without checking the elements."""
        obj = object.__new__(cls)
        obj.values = tuple(values)
        obj.shape = shape
        return obj

    @staticmethod
    def _accepts(shape: Shape) -> bool:
        """Whether this class can hold an array of `shape`."""
        raise NotImplementedError

    # ---- Shape ---------------------------------------------------------------

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of elements."""
        return len(self.values)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Any]:
        if not self.shape:
            raise TypeError("iteration over a 0-d tensor")
        if len(self.shape) == 1:
            return iter(self.values)
        return (self[i] for i in range(self.shape[0]))

    def tolist(self) -> Any:
        """The elements as nested Python lists (a scalar for a 0-d tensor)."""
        return flat_to_nested(self.values, self.shape)

    def get_scalar(self, *index: int) -> Any:
        """The element at `index` (one int per dimension; none for a single-element array)."""
        if not index:
            if len(self.values) != 1:
                raise ValueError(f"get_scalar() without an index needs a single element, not shape {self.shape}")
            return self.values[0]
        if len(index) != len(self.shape):
            raise IndexError(f"get_scalar() needs {len(self.shape)} indices for shape {self.shape}, "
                             f"got {len(index)}")
        flat = 0
        for i, d in zip(index, self.shape):
            if not -d <= i < d:
                raise IndexError(f"index {i} is out of range for a dimension of size {d}")
            flat = flat * d + (i % d)
        return self.values[flat]

    def _is_constant(self) -> bool:
        return not any(isinstance(x, value) for x in self.values)

    # ---- Elementwise ---------------------------------------------------------

    def map(self: A, func: Callable[[Any], Any]) -> A:
        """A container of the same kind and shape holding func(element) for every element."""
        return type(self)._make([func(x) for x in self.values], self.shape)  # type: ignore[no-any-return]

    def _binary(self, fn: Callable[[Any, Any], Any], other: Any, reflected: bool) -> Any:
        if isinstance(other, ArrayBase):
            return apply(fn, (other, self) if reflected else (self, other))
        if is_scalar(other):
            vals = self.values
            if reflected:
                return type(self)._make([fn(other, a) for a in vals], self.shape)
            return type(self)._make([fn(a, other) for a in vals], self.shape)
        if isinstance(other, (list, tuple)):
            # A plain sequence takes the container kind of `self` (vector == [1, 2, 3] is a vector).
            from ._tensor import tensor
            t = tensor(other)
            return apply(fn, (t, self) if reflected else (self, t), prefer=type(self))
        return NotImplemented

    # The operators, defined once for every container. Subclasses that need
    # different semantics (the quaternion's product) or precise static types
    # override them.
    def __add__(self, other: Any) -> Any: return self._binary(operator.add, other, False)
    def __radd__(self, other: Any) -> Any: return self._binary(operator.add, other, True)
    def __sub__(self, other: Any) -> Any: return self._binary(operator.sub, other, False)
    def __rsub__(self, other: Any) -> Any: return self._binary(operator.sub, other, True)
    def __mul__(self, other: Any) -> Any: return self._binary(operator.mul, other, False)
    def __rmul__(self, other: Any) -> Any: return self._binary(operator.mul, other, True)
    def __truediv__(self, other: Any) -> Any: return self._binary(operator.truediv, other, False)
    def __rtruediv__(self, other: Any) -> Any: return self._binary(operator.truediv, other, True)
    def __floordiv__(self, other: Any) -> Any: return self._binary(operator.floordiv, other, False)
    def __rfloordiv__(self, other: Any) -> Any: return self._binary(operator.floordiv, other, True)
    def __mod__(self, other: Any) -> Any: return self._binary(operator.mod, other, False)
    def __rmod__(self, other: Any) -> Any: return self._binary(operator.mod, other, True)
    def __pow__(self, other: Any) -> Any: return self._binary(operator.pow, other, False)
    def __rpow__(self, other: Any) -> Any: return self._binary(operator.pow, other, True)
    # Python reflects comparisons itself (3 < v calls v.__gt__(3)).
    def __lt__(self, other: Any) -> Any: return self._binary(operator.lt, other, False)
    def __le__(self, other: Any) -> Any: return self._binary(operator.le, other, False)
    def __gt__(self, other: Any) -> Any: return self._binary(operator.gt, other, False)
    def __ge__(self, other: Any) -> Any: return self._binary(operator.ge, other, False)
    def __eq__(self, other: Any) -> Any: return self._binary(operator.eq, other, False)  # noqa: E704
    def __ne__(self, other: Any) -> Any: return self._binary(operator.ne, other, False)  # noqa: E704
    # == compares elementwise instead of returning a bool, so hashing goes by identity.
    __hash__ = object.__hash__
    def __and__(self, other: Any) -> Any: return self._binary(operator.and_, other, False)
    def __rand__(self, other: Any) -> Any: return self._binary(operator.and_, other, True)
    def __or__(self, other: Any) -> Any: return self._binary(operator.or_, other, False)
    def __ror__(self, other: Any) -> Any: return self._binary(operator.or_, other, True)
    def __xor__(self, other: Any) -> Any: return self._binary(operator.xor, other, False)
    def __rxor__(self, other: Any) -> Any: return self._binary(operator.xor, other, True)
    def __lshift__(self, other: Any) -> Any: return self._binary(operator.lshift, other, False)
    def __rlshift__(self, other: Any) -> Any: return self._binary(operator.lshift, other, True)
    def __rshift__(self, other: Any) -> Any: return self._binary(operator.rshift, other, False)
    def __rrshift__(self, other: Any) -> Any: return self._binary(operator.rshift, other, True)

    def __bool__(self) -> bool:
        raise TypeError(f"the truth value of a {type(self).__name__} is ambiguous (and its elements are only "
                        "known when the compiled program runs); compare elements with cp.iif()")

    def __neg__(self: A) -> A:
        return self.map(operator.neg)

    def __pos__(self: A) -> A:
        return self

    def __abs__(self: A) -> A:
        return self.map(abs)

    def __invert__(self: A) -> A:
        return self.map(operator.invert)

    # ---- Reductions ----------------------------------------------------------

    def _reduce(self, fn: Callable[[Any, Any], Any], axis: Optional[int], empty: Any) -> Any:
        """Reduces with fn from left to right over all elements (axis None) or along an axis."""
        if axis is None:
            if not self.values:
                return empty
            return functools.reduce(fn, self.values)
        if not self.shape:
            raise ValueError(f"axis {axis} is out of range for a 0-d array")
        ax = normalize_axis(axis, len(self.shape))
        outer = size_of(self.shape[:ax])
        n = self.shape[ax]
        inner = size_of(self.shape[ax + 1:])
        vals = self.values
        out: List[Any] = []
        for o in range(outer):
            base = o * n * inner
            for i in range(inner):
                column = [vals[base + k * inner + i] for k in range(n)]
                out.append(functools.reduce(fn, column) if column else empty)
        shape = self.shape[:ax] + self.shape[ax + 1:]
        if not shape:
            return out[0]
        return _container_for(shape, type(self))._make(out, shape)

    def sum(self, axis: Optional[int] = None) -> Any:
        """The sum of the elements (added left to right) or, with `axis`, along that axis."""
        return self._reduce(operator.add, axis, 0)

    def mean(self, axis: Optional[int] = None) -> Any:
        """The sum divided by the number of elements summed."""
        n = len(self.values) if axis is None else self.shape[normalize_axis(axis, len(self.shape))]
        if n == 0:
            raise ValueError("mean of an empty array")
        total = self.sum(axis)
        return total / n


def _container_for(shape: Shape, preferred: Type[ArrayBase[Any]]) -> Type[ArrayBase[Any]]:
    """The class of a result of `shape`: `preferred` if it can hold that shape,
    else a vector for 1-d results (a slice of a quaternion), else a tensor."""
    if preferred._accepts(shape):
        return preferred
    from ._tensor import tensor
    from ._vector import vector
    return vector if len(shape) == 1 else tensor


def apply(fn: Callable[..., Any], operands: Sequence[Any], prefer: Optional[Type[ArrayBase[Any]]] = None) -> Any:
    """fn applied elementwise over broadcast operands (arrays and scalars).

    The result is of the highest-ranked container class among the operands
    (tensor > vector > quaternion), or of `prefer`, with the broadcast shape.
    """
    arrays = [x for x in operands if isinstance(x, ArrayBase)]
    cls: Type[ArrayBase[Any]] = prefer or max((type(a) for a in arrays), key=lambda c: c._rank)
    shape = arrays[0].shape
    for a in arrays[1:]:
        if a.shape != shape and a._rank < 3 and arrays[0]._rank < 3:
            # Vectors (and quaternions) are not broadcast against each other: a
            # length-1 vector meeting a longer one is a mistake, not a scalar.
            raise ValueError(f"vector lengths differ: {shape[0]} and {a.shape[0]}")
        shape = broadcast_shapes(shape, a.shape)
    columns: List[Sequence[Any]] = []
    n = size_of(shape)
    for x in operands:
        if isinstance(x, ArrayBase):
            columns.append(_broadcast_values(x.values, x.shape, shape))
        else:
            columns.append((x,) * n)
    cls = _container_for(shape, cls)
    return cls._make([fn(*args) for args in zip(*columns)], shape)
