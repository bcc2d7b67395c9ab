"""Tensors (n-d arrays, `matrix` is the same class) and their constructors.

Elementwise arithmetic, comparisons, broadcasting and reductions come from
the array core (_array.py); this module adds what only n-d arrays have:
indexing by tuples, transposition, reshaping, matrix products and the
constructors (zeros, ones, eye, identity, diagonal, arange, concat).
"""
from __future__ import annotations

import functools
import operator
from typing import Any, Iterable, Iterator, List, Optional, Sequence, Tuple, TypeVar, Union, overload

from ._array import ArrayBase, Shape, flat_to_nested, nested_to_flat, normalize_axis, size_of
from ._value import is_scalar, value

__all__ = ["tensor", "matrix", "zeros", "ones", "eye", "identity", "diagonal", "arange", "concat", "TensorNumLike"]

T = TypeVar("T", covariant=True)

Index = Union[int, slice, Tuple[Union[int, slice], ...]]


def _dot(pairs: Iterable[Tuple[Any, Any]]) -> Any:
    """Sum of products, added left to right starting with the first product (0 if empty)."""
    total: Any = None
    for a, b in pairs:
        p = a * b
        total = p if total is None else total + p
    return 0 if total is None else total


class tensor(ArrayBase[T]):
    """An n-dimensional array of scalars (copapy values and/or Python numbers).

    `cp.tensor(data)` takes nested sequences (all rows of equal length), a
    scalar (a 0-d tensor), a vector or another tensor; `cp.tensor(values,
    shape)` takes the elements flat in row-major order. Arithmetic and
    comparisons work elementwise with NumPy broadcasting against tensors,
    vectors, values and numbers; `@` is the matrix product. Tensors are
    immutable.
    """
    __slots__ = ()
    _rank = 3

    def __init__(self, data: Any, shape: Optional[Sequence[int]] = None) -> None:
        if shape is not None:
            flat = tuple(data.values if isinstance(data, ArrayBase) else data)
            dims = _check_shape(shape)
            if size_of(dims) != len(flat):
                raise ValueError(f"{len(flat)} elements do not fill a tensor of shape {dims}")
            for i, x in enumerate(flat):
                if not is_scalar(x):
                    raise TypeError(f"tensor element {i} must be a copapy value or a Python number, "
                                    f"not {type(x).__name__}")
            self.values, self.shape = flat, dims
        else:
            self.values, self.shape = nested_to_flat(data, "tensor")

    @staticmethod
    def _accepts(shape: Shape) -> bool:
        return True

    def __repr__(self) -> str:
        return f"tensor({self.tolist()!r})"

    # ---- Indexing --------------------------------------------------------------

    def __getitem__(self, index: Index) -> Any:
        flat, shape = _select(self.values, self.shape, index)
        if not shape and not isinstance(index, slice):
            return flat[0]
        return tensor._make(flat, shape)

    # ---- Shape -----------------------------------------------------------------

    @property
    def T(self) -> "tensor[T]":
        """The transpose (axes reversed)."""
        return self.transpose()

    def transpose(self, *axes: int) -> "tensor[T]":
        """The tensor with its axes permuted (reversed if none are given), as numpy.transpose."""
        n = len(self.shape)
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
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

    def reshape(self, *shape: Any) -> "tensor[T]":
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

    def flatten(self) -> "tensor[T]":
        """A 1-d tensor of the elements in row-major order."""
        return tensor._make(self.values, (len(self.values),))

    def trace(self) -> Any:
        """The sum of the main diagonal of a 2-d tensor, added from the top left."""
        if len(self.shape) != 2:
            raise ValueError(f"trace() needs a 2-d tensor, not shape {self.shape}")
        n, m = self.shape
        diag = [self.values[i * m + i] for i in range(min(n, m))]
        return functools.reduce(operator.add, diag) if diag else 0

    def homogenize(self) -> "tensor[Any]":
        """Homogeneous coordinates: a 1-d tensor gets a 1 appended; a 2-d (n, m)
        tensor becomes (n+1, m+1) with a last row (0, ..., 0, 1)."""
        if len(self.shape) == 1:
            return tensor._make(self.values + (1,), (self.shape[0] + 1,))
        if len(self.shape) == 2:
            n, m = self.shape
            out: List[Any] = []
            for i in range(n):
                out.extend(self.values[i * m:(i + 1) * m])
                out.append(0)
            out.extend([0] * m + [1])
            return tensor._make(out, (n + 1, m + 1))
        raise ValueError(f"homogenize() needs a 1-d or 2-d tensor, not shape {self.shape}")

    # ---- Matrix products -------------------------------------------------------

    def __matmul__(self, other: Any) -> Any:
        if not isinstance(other, ArrayBase):
            if isinstance(other, (list, tuple)):
                other = tensor(other)
            else:
                return NotImplemented
        return matmul(self, other)

    def __rmatmul__(self, other: Any) -> Any:
        if not isinstance(other, ArrayBase):
            if isinstance(other, (list, tuple)):
                other = tensor(other)
            else:
                return NotImplemented
        return matmul(other, self)

    def matmul(self, other: Any) -> Any:
        """The matrix product self @ other."""
        return self.__matmul__(other)

    def dot(self, other: Any) -> Any:
        """The matrix product (the dot product for 1-d operands)."""
        return self.__matmul__(other)


# The original project names 2-d tensors matrices; it is the same class.
matrix = tensor

TensorNumLike = Union["tensor[Any]", Any]


def matmul(a: ArrayBase[Any], b: ArrayBase[Any]) -> Any:
    """a @ b for 1-d and 2-d arrays, as numpy.matmul: (n,k)@(k,m) -> (n,m),
    (n,k)@(k,) -> (n,), (k,)@(k,m) -> (m,), (k,)@(k,) -> scalar. Each element is
    a sum of products added left to right. A 1-d result takes the class of the
    1-d operand (a vector stays a vector)."""
    if a.ndim not in (1, 2) or b.ndim not in (1, 2):
        raise ValueError(f"matmul needs 1-d or 2-d operands, not shapes {a.shape} and {b.shape}")
    k = a.shape[-1]
    kb = b.shape[0]
    if k != kb:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not match ({k} != {kb})")
    av, bv = a.values, b.values
    if a.ndim == 1 and b.ndim == 1:
        return _dot(zip(av, bv))
    if a.ndim == 2 and b.ndim == 2:
        n, m = a.shape[0], b.shape[1]
        out = [_dot((av[i * k + j], bv[j * m + c]) for j in range(k)) for i in range(n) for c in range(m)]
        return tensor._make(out, (n, m))
    if a.ndim == 2:  # matrix @ vector
        n = a.shape[0]
        out = [_dot(zip(av[i * k:(i + 1) * k], bv)) for i in range(n)]
        return type(b)._make(out, (n,)) if type(b)._accepts((n,)) else tensor._make(out, (n,))
    m = b.shape[1]  # vector @ matrix
    out = [_dot((av[j], bv[j * m + c]) for j in range(k)) for c in range(m)]
    return type(a)._make(out, (m,)) if type(a)._accepts((m,)) else tensor._make(out, (m,))


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


def zeros(shape: Union[int, Sequence[int]], dtype: Any = float) -> tensor[Any]:
    """A tensor of the given shape filled with 0 (0.0 for dtype float, the default)."""
    dims = _shape_arg(shape)
    return tensor._make([_typed(0, dtype)] * size_of(dims), dims)


def ones(shape: Union[int, Sequence[int]], dtype: Any = float) -> tensor[Any]:
    """A tensor of the given shape filled with 1 (1.0 for dtype float, the default)."""
    dims = _shape_arg(shape)
    return tensor._make([_typed(1, dtype)] * size_of(dims), dims)


def eye(n: int, m: Optional[int] = None, dtype: Any = float) -> tensor[Any]:
    """An n x m (default n x n) matrix with ones on the main diagonal."""
    cols = n if m is None else m
    zero, one = _typed(0, dtype), _typed(1, dtype)
    return tensor._make([one if i == j else zero for i in range(n) for j in range(cols)], _check_shape((n, cols)))


def identity(n: int, dtype: Any = float) -> tensor[Any]:
    """The n x n identity matrix."""
    return eye(n, dtype=dtype)


def diagonal(values: Any) -> tensor[Any]:
    """A square matrix with `values` (a sequence, vector or 1-d tensor) on its
    diagonal and 0 elsewhere; for a 2-d tensor, its main diagonal as a 1-d tensor."""
    if isinstance(values, ArrayBase) and values.ndim == 2:
        n, m = values.shape
        return tensor._make([values.values[i * m + i] for i in range(min(n, m))], (min(n, m),))
    flat, shape = nested_to_flat(values, "diagonal")
    if len(shape) != 1:
        raise ValueError(f"diagonal() takes a 1-d sequence or a 2-d tensor, not shape {shape}")
    n = len(flat)
    zero = 0.0 if any(isinstance(x, float) or (isinstance(x, value) and x.dtype == "float") for x in flat) else 0
    return tensor._make([flat[i] if i == j else zero for i in range(n) for j in range(n)], (n, n))


def arange(start: Any, stop: Any = None, step: Any = 1) -> tensor[Any]:
    """A 1-d tensor of the numbers start, start + step, ... below stop (as numpy.arange;
    arange(n) is 0 .. n-1). Python numbers only: the length must be known while tracing."""
    if stop is None:
        start, stop = 0, start
    for x in (start, stop, step):
        if isinstance(x, value) or not is_scalar(x):
            raise TypeError("arange() takes Python numbers (its length must be known while tracing)")
    if step == 0:
        raise ValueError("arange() step must not be zero")
    if all(isinstance(x, int) for x in (start, stop, step)):
        items: List[Any] = list(range(start, stop, step))
    else:
        import math
        count = max(0, math.ceil((stop - start) / step))
        items = [start + i * step for i in range(count)]
    return tensor._make(items, (len(items),))


def concat(arrays: Sequence[Any], axis: int = 0) -> tensor[Any]:
    """The arrays (tensors, vectors or nested sequences) joined along an existing axis."""
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
    return tensor._make(out, shape)


def _typed(x: int, dtype: Any) -> Any:
    if dtype in (float, "float"):
        return float(x)
    if dtype in (int, "int"):
        return int(x)
    if dtype in (bool, "bool"):
        return bool(x)
    raise TypeError(f"dtype must be int, float or bool, not {dtype!r}")
