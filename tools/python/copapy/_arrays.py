"""cp.array: the original's homogeneous n-d array, as a tensor of one dtype.

In the original copapy an array lives in the target's memory and its
operations are array stencils. Here it is a tensor whose elements all have
one dtype ("float", "int", "bool" or "byte": an int in 0..255); operations
are unrolled like every tensor's, so results are the same float32
operations (sums in the documented order). An array made of Python numbers
is data the host may overwrite: its elements are inputs, so
Target.write_value(arr, nested_data) works as in the original;
Target.read_value(arr) returns nested lists.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

from ._array import ArrayBase, Shape, _broadcast_values, broadcast_shapes, nested_to_flat, size_of
from ._tensor import tensor
from ._value import value

__all__ = ["array"]

_DTYPES = ("float", "int", "bool", "byte")


def _number_kind(x: Any) -> str:
    if isinstance(x, value):
        return x.dtype
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, int):
        return "int"
    return "float"


class array(tensor[Any]):
    """`cp.array(values, dtype=None)`: nested sequences of values or numbers,
    at least one dimension, not empty; dtype inferred (float if any element is
    a float, int if any is an int, else bool) or given ("float", "int",
    "bool", "byte")."""
    __slots__ = ("_dtype_name",)
    _rank = 4

    def __init__(self: "array", values: Any, dtype: Optional[str] = None) -> None:
        flat, shape = nested_to_flat(values, "array")
        if not shape:
            raise ValueError("an array requires at least one dimension")
        if not flat:
            raise ValueError("empty arrays are not supported")
        kinds = {_number_kind(x) for x in flat}
        inferred = "float" if "float" in kinds else "int" if "int" in kinds else "bool"
        dt = inferred if dtype is None else dtype
        if dt not in _DTYPES:
            raise ValueError(f"unknown array dtype {dtype!r}; expected one of {', '.join(_DTYPES)}")
        if dt in ("int", "byte") and "float" in kinds:
            raise ValueError(f"an array of dtype {dt!r} cannot hold floats (use cp.cast)")
        if dt == "bool" and kinds != {"bool"}:
            raise ValueError("an array of dtype 'bool' holds bools only")
        if dt == "byte":
            for x in flat:
                if isinstance(x, value) or not 0 <= int(x) <= 255:
                    raise ValueError(f"byte array elements must be Python numbers in 0..255, not {x!r}")
        from ._math import cast
        elements = []
        for x in flat:
            if isinstance(x, value):
                elements.append(cast(x, "int" if dt == "byte" else dt))
            else:
                number = float(x) if dt == "float" else bool(x) if dt == "bool" else int(x)
                elements.append(value(number))  # data the host may overwrite
        self.values = tuple(elements)
        self.shape = shape
        self._dtype_name = dt

    @staticmethod
    def _accepts(shape: Shape) -> bool:
        return len(shape) >= 1

    def __repr__(self) -> str:
        return f"array(shape={self.shape}, dtype={self.dtype})"

    @property
    def dtype(self) -> str:
        return getattr(self, "_dtype_name", None) or super().dtype

    def element(self, i: int) -> Any:
        """The element at flat index i (row-major)."""
        return self.values[i]

    def broadcast_to(self, shape: Sequence[int]) -> "array":
        """The array repeated to `shape` by NumPy's broadcasting rule."""
        target = tuple(shape)
        if broadcast_shapes(self.shape, target) != target:
            raise ValueError(f"cannot broadcast shape {self.shape} to {target}")
        return array._make(_broadcast_values(self.values, self.shape, target), target)

    def sort(self) -> Any:
        from ._sorting import sort
        return sort(self)

    def argsort(self) -> Any:
        from ._sorting import argsort
        return argsort(self)

    def min(self) -> Any:
        from ._math import min as cmin
        return cmin(self)

    def max(self) -> Any:
        from ._math import max as cmax
        return cmax(self)

    def get_values(self, flat: Sequence[Any]) -> Any:
        """Flat data nested by this array's shape."""
        from ._array import flat_to_nested
        if len(flat) != size_of(self.shape):
            raise ValueError(f"{len(flat)} values do not fill shape {self.shape}")
        return flat_to_nested(list(flat), self.shape)

    @staticmethod
    def flatten_data(data: Any) -> list:  # type: ignore[type-arg]
        """Nested data as a flat list."""
        return list(nested_to_flat(data, "array")[0])

