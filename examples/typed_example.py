"""A statically typed copapy program: `mypy --strict` checks it in the test suite.

A 2-D rigid body: rotate a point by a traced angle, integrate a velocity
with a damped gain, and report the distance to a goal. Run it to print
the results on the host:

    PYTHONPATH=tools/python python3 examples/typed_example.py
"""
from typing import Tuple

import copapy as cp

GOAL = cp.vector([1.0, 2.0])


def rotation(angle: cp.value[float]) -> "cp.tensor[float]":
    c, s = cp.cos(angle), cp.sin(angle)
    return cp.tensor([[c, -s], [s, c]])


def step(position: "cp.vector[float]", velocity: "cp.vector[float]",
         gain: cp.value[float]) -> Tuple["cp.vector[float]", cp.NumLike]:
    moved: "cp.vector[float]" = position + velocity * 0.1
    damped: "cp.vector[float]" = moved - (moved - GOAL) * cp.clamp(gain, 0.0, 1.0)
    return damped, cp.distance(damped, GOAL)


def main() -> None:
    angle: cp.value[float] = cp.value(0.3, name="angle")
    gain: cp.value[float] = cp.value(0.25, name="gain")
    start = rotation(angle) @ cp.vector([1.0, 0.0])
    position: "cp.vector[float]" = cp.vector(start.values)
    velocity = cp.vector([cp.value(0.5, name="vx"), cp.value(-0.25, name="vy")])
    position, distance = step(position, velocity, gain)
    assert isinstance(distance, cp.value)  # the position depends on inputs, so the distance is traced
    count: cp.value[int] = cp.cast(distance > 1.0, int) + 1
    tg = cp.Target()
    tg.compile(position, distance, count)
    tg.run()
    where: "cp.vector[float]" = tg.read_value(position)
    far: float = tg.read_value(distance)
    n: int = tg.read_value(count)
    print(f"position {where.values}, distance {far:.6f}, count {n}")


if __name__ == "__main__":
    main()
