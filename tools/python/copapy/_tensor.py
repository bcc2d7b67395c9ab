"""Tensors (n-d arrays, `matrix` is the same class) and their constructors.

Elementwise arithmetic, comparisons, broadcasting and reductions come from
the array core (_array.py); this module adds what only n-d arrays have:
indexing by tuples, transposition, reshaping, matrix products and the
constructors (zeros, ones, eye, identity, diagonal, arange, concat).
"""
from __future__ import annotations

import functools
import operator
from typing import TYPE_CHECKING, Any, Iterable, Iterator, List, Optional, Sequence, Tuple, TypeVar, Union

from ._array import (ELEMENT_OPS, ArrayBase, Shape, _unwrap, dot_arrays, dot_values, flat_to_nested, mixed_sum, nested_to_flat,
                     normalize_axis, promote, size_of)
from ._value import NumLike, Scalar, is_scalar, value

__all__ = ["tensor", "matrix", "zeros", "ones", "eye", "identity", "diagonal", "arange", "concat", "ravel", "matmul",
           "TensorNumLike"]

T_co = TypeVar("T_co", covariant=True)

Index = Union[int, slice, Tuple[Union[int, slice], ...]]


def _builtin_sum(items: Iterable[Any]) -> Any:
    """Python's sum(): from 0, left to right, numbers and values interleaved (0 + x is x)."""
    total: Any = 0
    first = True
    for x in items:
        total = x if first else total + x
        first = False
    return total


class tensor(ArrayBase[T_co]):
    """An n-dimensional array of scalars (copapy values and/or Python numbers).

    `cp.tensor(data)` takes nested sequences (all rows of equal length), a
    scalar (a 0-d tensor), a vector or another tensor; `cp.tensor(values,
    shape)` takes the elements flat in row-major order. Arithmetic and
    comparisons work elementwise with NumPy broadcasting against tensors,
    vectors, values and numbers; `@` is the matrix product. Elements are
    converted to one type (int to float if any is a float). Indexing follows
    NumPy: an int drops a dimension, so indexing a 1-d tensor by an int gives
    a 0-d tensor (use get_scalar() or .values for the element). Tensors are
    immutable.
    """
    __slots__ = ()
    _rank = 3

    def __init__(self: "tensor[Any]", values: Any, shape: Optional[Sequence[int]] = None,
                 packed: Optional[bool] = None) -> None:
        if shape is not None:
            if is_scalar(values) or not hasattr(values, "__iter__"):
                raise ValueError("values must be a sequence of scalars if shape is given")
            flat = tuple(_unwrap(x) for x in (values.values if isinstance(values, ArrayBase) else values))
            dims = _check_shape(shape)
            if size_of(dims) != len(flat):
                raise ValueError(f"the number of values ({len(flat)}) does not match shape {dims}")
            for i, x in enumerate(flat):
                if not is_scalar(x):
                    raise TypeError(f"tensor element {i} must be a copapy value or a Python number, "
                                    f"not {type(x).__name__}")
        else:
            flat, dims = nested_to_flat(values, "tensor")
        self.values = promote(flat)
        self.shape = dims

    @staticmethod
    def _accepts(shape: Shape) -> bool:
        return True

    if TYPE_CHECKING:
        # Static types of the operators inherited from ArrayBase (defined there once).
        def __add__(self, other: "TensorOperand") -> "tensor[Any]": ...
        def __radd__(self, other: "TensorOperand") -> "tensor[Any]": ...
        def __sub__(self, other: "TensorOperand") -> "tensor[Any]": ...
        def __rsub__(self, other: "TensorOperand") -> "tensor[Any]": ...
        def __mul__(self, other: "TensorOperand") -> "tensor[Any]": ...
        def __rmul__(self, other: "TensorOperand") -> "tensor[Any]": ...
        def __truediv__(self, other: "TensorOperand") -> "tensor[float]": ...
        def __rtruediv__(self, other: "TensorOperand") -> "tensor[float]": ...
        def __floordiv__(self, other: "TensorOperand") -> "tensor[Any]": ...
        def __rfloordiv__(self, other: "TensorOperand") -> "tensor[Any]": ...
        def __mod__(self, other: "TensorOperand") -> "tensor[Any]": ...
        def __rmod__(self, other: "TensorOperand") -> "tensor[Any]": ...
        def __rpow__(self, other: "TensorOperand") -> "tensor[Any]": ...
        def __lt__(self, other: "TensorOperand") -> "tensor[bool]": ...
        def __le__(self, other: "TensorOperand") -> "tensor[bool]": ...
        def __gt__(self, other: "TensorOperand") -> "tensor[bool]": ...
        def __ge__(self, other: "TensorOperand") -> "tensor[bool]": ...
        def __eq__(self, other: object) -> "tensor[bool]": ...  # type: ignore[override]
        def __ne__(self, other: object) -> "tensor[bool]": ...  # type: ignore[override]
        def __and__(self, other: "TensorOperand") -> "tensor[Any]": ...
        def __rand__(self, other: "TensorOperand") -> "tensor[Any]": ...
        def __or__(self, other: "TensorOperand") -> "tensor[Any]": ...
        def __ror__(self, other: "TensorOperand") -> "tensor[Any]": ...
        def __xor__(self, other: "TensorOperand") -> "tensor[Any]": ...
        def __rxor__(self, other: "TensorOperand") -> "tensor[Any]": ...
        def __lshift__(self, other: "TensorOperand") -> "tensor[Any]": ...
        def __rlshift__(self, other: "TensorOperand") -> "tensor[Any]": ...
        def __rshift__(self, other: "TensorOperand") -> "tensor[Any]": ...
        def __rrshift__(self, other: "TensorOperand") -> "tensor[Any]": ...
        def __neg__(self) -> "tensor[Any]": ...
        def __abs__(self) -> "tensor[Any]": ...


    def __repr__(self) -> str:
        return f"tensor({self.tolist()!r})"

    def __iter__(self) -> Iterator[Any]:
        if not self.shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    # ---- Indexing --------------------------------------------------------------

    def __getitem__(self, index: Index) -> "tensor[T_co]":
        if not self.shape:
            raise TypeError("cannot index a 0-d tensor")
        if isinstance(index, value):
            flat, shape = self._take(index)
            return tensor._make(flat, shape)
        if isinstance(index, tuple) and any(isinstance(i, value) for i in index):
            # Traced indices: leading ints and values, one axis at a time.
            first, rest = index[0], index[1:]
            if isinstance(first, value):
                sub: tensor[Any] = tensor._make(*self._take(first))
            elif isinstance(first, int):
                sub = self[first]
            else:
                raise TypeError("a traced index may only follow ints, not slices")
            return sub[rest] if rest else sub
        flat, shape = _select(self.values, self.shape, index)
        return tensor._make(flat, shape)

    # ---- Shape -----------------------------------------------------------------

    @property
    def T(self) -> "tensor[T_co]":
        """The transpose (axes reversed)."""
        return self.transpose()

    def transpose(self, *axes: int) -> "tensor[T_co]":
        """The tensor with its axes permuted (reversed if none are given), as numpy.transpose."""
        n = len(self.shape)
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if axes and len(axes) != n:
            raise ValueError(f"axes {axes} don't match a tensor with {n} dimensions")
        order = tuple(normalize_axis(a, n) for a in axes) if axes else tuple(reversed(range(n)))
        if sorted(order) != list(range(n)):
            raise ValueError(f"axes {axes} are not a permutation of the {n} axes")
        new_shape = tuple(self.shape[a] for a in order)
        strides = _strides(self.shape)
        index = [0]
        for a in order:
            index = [i + k * strides[a] for i in index for k in range(self.shape[a])]
        vals = self.values
        return tensor._make([vals[i] for i in index], new_shape)

    def reshape(self, *shape: Any) -> "tensor[T_co]":
        """The same elements in another shape (one dimension may be -1: inferred)."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        dims = list(shape)
        for d in dims:
            if not isinstance(d, int) or isinstance(d, bool):
                raise TypeError(f"reshape() takes ints, not {type(d).__name__}")
        if dims.count(-1) > 1:
            raise ValueError("reshape(): only one dimension can be -1")
        if -1 in dims:
            known = size_of(tuple(d for d in dims if d != -1))
            if known == 0 or len(self.values) % known:
                raise ValueError(f"cannot reshape {len(self.values)} elements into shape {tuple(shape)}")
            dims[dims.index(-1)] = len(self.values) // known
        new_shape = _check_shape(dims)
        if size_of(new_shape) != len(self.values):
            raise ValueError(f"cannot reshape {len(self.values)} elements into shape {new_shape}")
        return tensor._make(self.values, new_shape)

    def flatten(self) -> "tensor[T_co]":
        """A 1-d tensor of the elements in row-major order."""
        return tensor._make(self.values, (len(self.values),))

    def trace(self) -> Scalar:
        """The sum of the main diagonal of a square matrix (see mixed_sum)."""
        if len(self.shape) != 2 or self.shape[0] != self.shape[1]:
            raise ValueError(f"trace() needs a square matrix, not shape {self.shape}")
        n = self.shape[0]
        return mixed_sum(self.values[i * n + i] for i in range(n))

    # ---- Arithmetic that differs from the elementwise rule ------------------------

    def __pow__(self, other: TensorOperand) -> "tensor[Any]":
        # As the original: an int exponent 1..7 multiplies tensors (t * t * ...); others are elementwise pow.
        if type(other) is int and 1 <= other < 8:
            out: tensor[Any] = self
            for _ in range(other - 1):
                out = out * self
            return out
        result: tensor[Any] = self._binary("pow", other, False)
        return result

    # ---- Matrix products -------------------------------------------------------

    def __matmul__(self, other: Any) -> "tensor[Any]":
        # Statically a tensor: only 1-d @ 1-d gives a scalar (as numpy and the original).
        if not isinstance(other, ArrayBase):
            if isinstance(other, (list, tuple)):
                other = tensor(other)
            else:
                return NotImplemented
        return matmul(self, other)  # type: ignore[no-any-return]

    def __rmatmul__(self, other: Any) -> "tensor[Any]":
        if not isinstance(other, ArrayBase):
            if isinstance(other, (list, tuple)):
                other = tensor(other)
            else:
                return NotImplemented
        return matmul(other, self)  # type: ignore[no-any-return]

    def matmul(self, other: Any) -> "tensor[Any]":
        """The matrix product self @ other."""
        return self.__matmul__(other)

    def dot(self, other: Any) -> "tensor[Any]":
        """The matrix product (the dot product for 1-d operands)."""
        return self.__matmul__(other)


# The original project names 2-d tensors matrices; it is the same class.
matrix = tensor

TensorNumLike = Union["tensor[Any]", NumLike]
TensorOperand = Union[NumLike, ArrayBase[Any], Sequence[Any]]


def matmul(a: ArrayBase[Any], b: ArrayBase[Any]) -> Any:
    """a @ b for 1-d and 2-d arrays, as numpy.matmul: (n,k)@(k,m) -> (n,m),
    (n,k)@(k,) -> (n,), (k,)@(k,m) -> (m,), (k,)@(k,) -> scalar; the results
    are tensors (a vector stays a vector only for vector @ vector, a scalar).

    Summation order, as the original: matrix @ vector and 1-d @ 1-d use
    mixed_sum (Python numbers first); matrix @ matrix and 1-d @ matrix add
    the products left to right as Python's sum() does."""
    if a.ndim not in (1, 2) or b.ndim not in (1, 2):
        raise ValueError(f"matmul needs 1-d or 2-d operands, not shapes {a.shape} and {b.shape}")
    k = a.shape[-1]
    kb = b.shape[0]
    if k != kb:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not match ({k} != {kb})")
    mul = ELEMENT_OPS["mul"]
    if b.ndim == 1:  # 1-d @ 1-d, matrix @ vector: blocks where they can be
        made = dot_arrays(a, b, a.shape[0] if a.ndim == 2 else 1)
        if made is not None:
            return made[0] if a.ndim == 1 else tensor._make(made, (a.shape[0],))
    av, bv = a.values, b.values
    if a.ndim == 1 and b.ndim == 1:
        return dot_values(av, bv)
    if a.ndim == 2 and b.ndim == 2:
        n, m = a.shape[0], b.shape[1]
        out = [_builtin_sum(mul(av[i * k + j], bv[j * m + c]) for j in range(k)) for i in range(n) for c in range(m)]
        return tensor._make(out, (n, m))
    if a.ndim == 2:  # matrix @ vector
        n = a.shape[0]
        out = [dot_values(av[i * k:(i + 1) * k], bv) for i in range(n)]
        return tensor._make(out, (n,))
    m = b.shape[1]  # vector @ matrix
    out = [_builtin_sum(mul(av[j], bv[j * m + c]) for j in range(k)) for c in range(m)]
    return tensor._make(out, (m,))


def _check_shape(shape: Iterable[Any]) -> Shape:
    dims = tuple(shape)
    for d in dims:
        if not isinstance(d, int) or isinstance(d, bool) or d < 0:
            raise ValueError(f"invalid shape {dims}: dimensions must be non-negative ints")
    return dims


def _strides(shape: Shape) -> List[int]:
    strides = [1] * len(shape)
    for i in range(len(shape) - 2, -1, -1):
        strides[i] = strides[i + 1] * shape[i + 1]
    return strides


def _select(values: Tuple[Any, ...], shape: Shape, index: Any) -> Tuple[List[Any], Shape]:
    """The elements and shape of values[index] for ints, slices and tuples of them
    (negative indices count from the end; an int drops its dimension)."""
    parts = index if isinstance(index, tuple) else (index,)
    if len(parts) > len(shape):
        raise IndexError(f"too many indices ({len(parts)}) for an array of shape {shape}")
    strides = _strides(shape)
    offsets = [0]
    new_shape: List[int] = []
    for axis, dim in enumerate(shape):
        part = parts[axis] if axis < len(parts) else slice(None)
        if isinstance(part, slice):
            picks = range(*part.indices(dim))
            new_shape.append(len(picks))
        elif isinstance(part, int) or (hasattr(part, "__index__") and not isinstance(part, value)):
            i = operator.index(part)
            if not -dim <= i < dim:
                raise IndexError(f"index {i} is out of range for axis {axis} with size {dim}")
            picks = range(i % dim, i % dim + 1)
        elif isinstance(part, value):
            raise TypeError("a copapy value cannot be used as an index while tracing (it is only known when "
                            "the program runs); select with cp.iif() instead")
        else:
            raise TypeError(f"indices must be ints, slices or tuples of them, not {type(part).__name__}")
        s = strides[axis]
        offsets = [o + k * s for o in offsets for k in picks]
    return [values[o] for o in offsets], tuple(new_shape)


# ---- Constructors ----------------------------------------------------------------

def _shape_arg(shape: Union[int, Sequence[int]]) -> Shape:
    return _check_shape((shape,) if isinstance(shape, int) else shape)


def zeros(shape: Union[int, Sequence[int]], dtype: Any = int) -> tensor[Any]:
    """A tensor of the given shape (an int n for (n,)) filled with 0 (an int,
    as the original; dtype=float for 0.0)."""
    dims = _shape_arg(shape)
    return tensor._make([_typed(0, dtype)] * size_of(dims), dims)


def ones(shape: Union[int, Sequence[int]], dtype: Any = int) -> tensor[Any]:
    """A tensor of the given shape filled with 1 (an int; dtype=float for 1.0)."""
    dims = _shape_arg(shape)
    return tensor._make([_typed(1, dtype)] * size_of(dims), dims)


def eye(rows: int, cols: Optional[int] = None, dtype: Any = int) -> tensor[Any]:
    """A rows x cols (default square) matrix with 1 on the main diagonal and 0 elsewhere (ints)."""
    n = rows
    m = rows if cols is None else cols
    zero, one = _typed(0, dtype), _typed(1, dtype)
    return tensor._make([one if i == j else zero for i in range(n) for j in range(m)], _check_shape((n, m)))


def identity(size: int, dtype: Any = int) -> tensor[Any]:
    """The size x size identity matrix."""
    return eye(size, size, dtype)


def diagonal(vec: Any) -> tensor[Any]:
    """A square matrix with the elements of `vec` (a vector, 1-d tensor or
    sequence) on its diagonal and 0 elsewhere (0.0 if the elements are floats)."""
    flat, shape = nested_to_flat(vec, "diagonal")
    if len(shape) != 1:
        raise ValueError(f"diagonal() takes a vector or a 1-d tensor, not shape {shape}")
    n = len(flat)
    return tensor._make_promoted([flat[i] if i == j else 0 for i in range(n) for j in range(n)], (n, n))


def arange(start: Any, stop: Any = None, step: Any = 1) -> tensor[Any]:
    """A 1-d tensor of start, start + step, ... while below stop (above it for a
    negative step); arange(n) is 0 .. n-1. The numbers are accumulated by
    repeated addition, as the original does. Python numbers only: the length
    must be known while tracing."""
    if stop is None:
        start, stop = 0, start
    for x in (start, stop, step):
        if isinstance(x, value) or not is_scalar(x):
            raise TypeError("arange() takes Python numbers (its length must be known while tracing)")
    if step == 0:
        raise ValueError("arange() step cannot be zero")
    items: List[Any] = []
    current = start
    while (current < stop) if step > 0 else (current > stop):
        items.append(current)
        current += step
    return tensor._make_promoted(items, (len(items),))


def concat(arrays: Sequence[Any], axis: int = 0) -> Any:
    """The arrays (tensors, vectors or nested sequences) joined along an existing
    axis; vectors joined give a vector, anything else a tensor."""
    from ._vector import vector
    parts = [a if isinstance(a, ArrayBase) else tensor(a) for a in arrays]
    if not parts:
        raise ValueError("concat() needs at least one array")
    ndim = parts[0].ndim
    if ndim == 0:
        raise ValueError("concat() cannot join 0-d arrays")
    ax = normalize_axis(axis, ndim)
    for p in parts[1:]:
        if p.ndim != ndim or p.shape[:ax] + p.shape[ax + 1:] != parts[0].shape[:ax] + parts[0].shape[ax + 1:]:
            raise ValueError(f"concat(): shapes {parts[0].shape} and {p.shape} differ outside axis {ax}")
    outer = size_of(parts[0].shape[:ax])
    out: List[Any] = []
    for o in range(outer):
        for p in parts:
            chunk = size_of(p.shape[ax:])
            out.extend(p.values[o * chunk:(o + 1) * chunk])
    shape = parts[0].shape[:ax] + (sum(p.shape[ax] for p in parts),) + parts[0].shape[ax + 1:]
    if all(isinstance(p, vector) for p in parts) and len(shape) == 1:
        return vector._make_promoted(out, shape)
    return tensor._make_promoted(out, shape)


def ravel(t: Any) -> tensor[Any]:
    """The elements of a tensor (or vector, or nested sequence) as a 1-d tensor."""
    flat, _ = nested_to_flat(t, "ravel")
    return tensor._make(flat, (len(flat),))


def _typed(x: int, dtype: Any) -> Any:
    if dtype in (float, "float"):
        return float(x)
    if dtype in (int, "int"):
        return int(x)
    if dtype in (bool, "bool"):
        return bool(x)
    raise TypeError(f"dtype must be int, float or bool, not {dtype!r}")
