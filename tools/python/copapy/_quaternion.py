"""Quaternions (w, x, y, z) for attitude: Hamilton product, rotations, conversions.

A quaternion is a 4-element container of the array core, so map, the math
functions, iteration, indexing and comparison with sequences work as for
vectors. Its arithmetic differs: + and - are componentwise with quaternions
and scalars, * and / only scale by a scalar, and @ is the Hamilton product.
The formulas (and the order of their operations) are the original copapy's.
"""
from __future__ import annotations

from typing import Any, Tuple, TypeVar, Union

from ._array import ArrayBase, Shape, mixed_sum
from ._value import Scalar, is_scalar, value
from ._vector import vector

__all__ = ["quaternion"]

T = TypeVar("T", covariant=True)

_EPSILON = 1e-20


class quaternion(ArrayBase[T]):
    """The quaternion w + x i + y j + z k: `cp.quaternion(w, x, y, z)` (default
    the identity 1, 0, 0, 0) or `cp.quaternion(iterable_of_4)`. Elements are
    copapy values or Python numbers, kept as given."""
    __slots__ = ()
    _rank = 1
    _promotes = False

    def __init__(self: "quaternion[Any]", w: Any = 1.0, x: Any = 0.0, y: Any = 0.0, z: Any = 0.0) -> None:
        if not is_scalar(w) and hasattr(w, "__iter__"):
            items = tuple(w.values if isinstance(w, ArrayBase) else w)
            if len(items) != 4:
                raise ValueError(f"a quaternion needs exactly 4 elements (w, x, y, z), got {len(items)}")
        else:
            items = (w, x, y, z)
        for name, e in zip("wxyz", items):
            if not is_scalar(e):
                raise TypeError(f"quaternion component {name} must be a copapy value or a Python number, "
                                f"not {type(e).__name__}")
        self.values = items
        self.shape = (4,)

    @staticmethod
    def _accepts(shape: Shape) -> bool:
        return shape == (4,)

    def __repr__(self) -> str:
        return f"quaternion(w={self.w}, x={self.x}, y={self.y}, z={self.z})"

    @property
    def w(self) -> Any:
        return self.values[0]

    @property
    def x(self) -> Any:
        return self.values[1]

    @property
    def y(self) -> Any:
        return self.values[2]

    @property
    def z(self) -> Any:
        return self.values[3]

    def __getitem__(self, index: Union[int, slice]) -> Any:
        if isinstance(index, slice):
            items = self.values[index]
            return vector._make(items, (len(items),))
        if isinstance(index, value):
            return self._take(index)[0][0]
        return self.values[index]

    # ---- Constructors ----------------------------------------------------------

    @classmethod
    def identity(cls) -> "quaternion[float]":
        """The rotation by nothing: 1 + 0i + 0j + 0k."""
        return cls(1.0, 0.0, 0.0, 0.0)

    @classmethod
    def from_euler(cls, roll: Any, pitch: Any, yaw: Any) -> "quaternion[Any]":
        """The rotation by yaw about z, then pitch about y, then roll about x (radians)."""
        from ._math import cos, sin
        cy = cos(yaw * 0.5)
        sy = sin(yaw * 0.5)
        ci = cos(pitch * 0.5)
        sp = sin(pitch * 0.5)
        cr = cos(roll * 0.5)
        sr = sin(roll * 0.5)
        w = cr * ci * cy + sr * sp * sy
        x = sr * ci * cy - cr * sp * sy
        y = cr * sp * cy + sr * ci * sy
        z = cr * ci * sy - sr * sp * cy
        return cls(w, x, y, z)

    # ---- Arithmetic ------------------------------------------------------------

    def _scalar(self, other: Any, what: str) -> Any:
        if isinstance(other, ArrayBase) or not is_scalar(other):
            raise TypeError(f"a quaternion can only be {what} a scalar (use @ for the Hamilton product), "
                            f"not {type(other).__name__}")
        return other

    def __add__(self, other: Any) -> Any:
        if isinstance(other, quaternion) or is_scalar(other):
            return self._binary("add", other, False)
        return NotImplemented

    def __radd__(self, other: Any) -> Any:
        return self.__add__(other)

    def __sub__(self, other: Any) -> Any:
        if isinstance(other, quaternion) or is_scalar(other):
            return self._binary("sub", other, False)
        return NotImplemented

    def __rsub__(self, other: Any) -> Any:
        if is_scalar(other):
            return (-self) + other
        return NotImplemented

    def __mul__(self, other: Any) -> Any:
        if isinstance(other, quaternion):
            raise TypeError("quaternion * quaternion is not defined: use q1 @ q2 for the Hamilton product")
        if not is_scalar(other):
            return NotImplemented
        return self._binary("mul", other, False)

    def __rmul__(self, other: Any) -> Any:
        if not is_scalar(other):
            return NotImplemented
        return self._binary("mul", other, False)

    def __truediv__(self, other: Any) -> Any:
        if not is_scalar(other):
            return NotImplemented
        return self._binary("div", other, False)

    def __eq__(self, other: object) -> Any:
        """Elementwise comparison with a quaternion or a sequence of 4: a vector of bools (as the original)."""
        r = self._binary("eq", other, False)
        return vector._make(r.values, (4,)) if isinstance(r, quaternion) else r

    def __ne__(self, other: object) -> Any:
        r = self._binary("ne", other, False)
        return vector._make(r.values, (4,)) if isinstance(r, quaternion) else r

    __hash__ = ArrayBase.__hash__

    # Not quaternion operations (the original has none of them): Python raises
    # TypeError when both operands answer NotImplemented.
    def _undefined(self, other: Any) -> Any:
        return NotImplemented

    __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _undefined
    __pow__ = __rpow__ = __lt__ = __le__ = __gt__ = __ge__ = _undefined

    def __matmul__(self, other: Any) -> "quaternion[Any]":
        """The Hamilton product self * other."""
        if not isinstance(other, quaternion):
            return NotImplemented
        aw, ax, ay, az = self.values
        bw, bx, by, bz = other.values
        return quaternion(aw * bw - ax * bx - ay * by - az * bz,
                          aw * bx + ax * bw + ay * bz - az * by,
                          aw * by - ax * bz + ay * bw + az * bx,
                          aw * bz + ax * by - ay * bx + az * bw)

    # ---- Norms and inverses ----------------------------------------------------

    def norm(self) -> Scalar:
        """sqrt(w^2 + x^2 + y^2 + z^2)."""
        from ._math import sqrt
        return sqrt(mixed_sum(c ** 2 for c in self.values))

    def __abs__(self) -> Any:
        return self.norm()

    def normalize(self) -> "quaternion[Any]":
        """The quaternion divided by its norm (plus 1e-20: the zero quaternion stays zero)."""
        n = self.norm() + _EPSILON
        return quaternion([c / n for c in self.values])

    def conjugate(self) -> "quaternion[Any]":
        """w - x i - y j - z k."""
        return quaternion(self.w, -self.x, -self.y, -self.z)

    def inverse(self) -> "quaternion[Any]":
        """conjugate / norm^2 (the identity for a zero quaternion of Python numbers)."""
        n2 = self.norm() ** 2
        if not isinstance(n2, value) and n2 == 0:
            return quaternion.identity()
        return quaternion([c / n2 for c in self.conjugate().values])

    # ---- Rotations -------------------------------------------------------------

    def rotate_vector(self, vec: Any) -> vector[Any]:
        """vec (3 elements) rotated by this unit quaternion: q (0, vec) q^-1."""
        items = tuple(vec.values if isinstance(vec, ArrayBase) else vec)
        if len(items) != 3:
            raise ValueError(f"rotate_vector() needs a 3-vector, got {len(items)} elements")
        r = self @ quaternion(0, *items) @ self.inverse()
        return vector(r.values[1:])

    def toRotationMatrix(self) -> Any:
        """The 4 x 4 homogeneous rotation matrix of this unit quaternion (a tensor)."""
        from ._tensor import tensor
        w, x, y, z = self.values
        x2 = x + x
        y2 = y + y
        z2 = z + z
        xx = x * x2
        xy = x * y2
        xz = x * z2
        yy = y * y2
        yz = y * z2
        zz = z * z2
        wx = w * x2
        wy = w * y2
        wz = w * z2
        return tensor([[1.0 - (yy + zz), xy - wz, xz + wy, 0.0],
                       [xy + wz, 1.0 - (xx + zz), yz - wx, 0.0],
                       [xz - wy, yz + wx, 1.0 - (xx + yy), 0.0],
                       [0.0, 0.0, 0.0, 1.0]])

    def toEulerAngles(self) -> vector[Any]:
        """(roll, pitch, yaw) in radians, the inverse of from_euler (pitch in [-pi/2, pi/2])."""
        from ._math import asin, atan2, clamp
        w, x, y, z = self.values
        yaw = atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
        pitch = asin(clamp(2 * (w * y - z * x), -1.0, 1.0))
        roll = atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
        return vector([roll, pitch, yaw])

    def toAxisAngle(self) -> Tuple[vector[Any], Any]:
        """(axis, angle): the unit rotation axis and the angle in radians; for a
        rotation by (almost) nothing the axis is (1, 0, 0) and the angle 0."""
        from ._math import acos, iif, sqrt
        n = self.normalize()
        s2 = 1 - n.w * n.w
        near = s2 < 1e-6
        s = 1 / sqrt(iif(near, 1e-6, s2))
        angle = iif(near, 0.0, 2 * acos(n.w))
        axis: vector[Any] = vector([iif(near, 1.0, n.x * s), iif(near, 0.0, n.y * s), iif(near, 0.0, n.z * s)])
        return axis, angle

