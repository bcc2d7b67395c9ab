"""Attitude from gyro rates: a quaternion integrated one control period per run.

A rigid body turns with body rates (wx, wy, wz) in rad/s, sampled by a gyro
once per control period DT. The attitude q (a unit quaternion, body to
world) is a state across runs; each run multiplies it by the rotation of one
period and normalizes:

    q_next = normalize(q @ dq),  dq = (1, DT/2 * wx, DT/2 * wy, DT/2 * wz)

dq is the rotation quaternion exp(DT/2 * (0, w)) to first order. Its norm
is sqrt(1 + (DT/2 |w|)^2), slightly above 1, and rounding adds more each
period, so the product is normalized every period; the normalized dq is an
exact rotation by 2 atan(DT/2 |w|) instead of DT |w|, an error of about
(DT |w|)^3 / 12 rad per period (1e-8 rad at 1 rad/s and DT = 0.01 s). This
form (one Hamilton product, then normalize) was chosen over the equivalent
q + DT/2 * q @ (0, w) because the product form needs fewer operations and
reads as what it is, a rotation applied to the attitude. Only + - * / and one
sqrt are used, so every target computes the same bits.

Outputs per period: q_next, its Euler angles (roll, pitch, yaw; toEulerAngles)
and its 4 x 4 rotation matrix (toRotationMatrix).

    PYTHONPATH=tools/python python3 examples/attitude.py            # simulate 400 periods
    PYTHONPATH=tools/python python3 examples/attitude.py prog.json  # only write the DAG

`step` is plain arithmetic on containers, so the end-to-end test runs the
same function on float32 numbers as the reference. The simulation prints
lines of the form `name: value ...`:

    periods: 400
    euler: roll=<rad> pitch=<rad> yaw=<rad>
    norm error: <|q| - 1 after the last period>
    angle error: <rad between the result and the exact rotation>
"""
import math
import sys

import copapy as cp

DT = 0.01                   # control period, s
Q0 = (1.0, 0.0, 0.0, 0.0)   # initial attitude: level, heading 0
RATES = (0.05, 0.0, 0.5)    # the simulation's constant body rates (wx, wy, wz), rad/s
PERIODS = 400


def step(q, w):
    """One period: attitude q (a quaternion), body rates w = (wx, wy, wz) in rad/s."""
    wx, wy, wz = w
    h = 0.5 * DT
    dq = cp.quaternion(1.0, h * wx, h * wy, h * wz)
    return (q @ dq).normalize()


def build():
    """The traced program: rates in; attitude, Euler angles and rotation matrix out; q as state."""
    q = cp.state(cp.quaternion(*Q0), name="q")
    w = cp.vector([cp.value(0.0, name="wx"), cp.value(0.0, name="wy"), cp.value(0.0, name="wz")])
    q_next = step(q, w)
    q.next(q_next)
    return w, q_next, q_next.toEulerAngles(), q_next.toRotationMatrix()


def exact_rotation(rates, t):
    """Q0 turned for t seconds at constant body rates: Q0 @ (cos(a/2), sin(a/2) * axis), a = |w| t."""
    rate = math.sqrt(sum(r * r for r in rates))
    half = 0.5 * rate * t
    s = math.sin(half) / rate
    dw, dx, dy, dz = math.cos(half), rates[0] * s, rates[1] * s, rates[2] * s
    w, x, y, z = Q0
    return (w * dw - x * dx - y * dy - z * dz, w * dx + x * dw + y * dz - z * dy,
            w * dy - x * dz + y * dw + z * dx, w * dz + x * dy - y * dx + z * dw)


def main():
    w, q_next, euler, matrix = build()
    if len(sys.argv) > 1:
        cp.export(sys.argv[1], q_next=q_next, euler=euler, rotation=matrix)
        return
    tg = cp.Target()
    tg.compile(q_next, euler, matrix)
    tg.write_value(w, list(RATES))
    for _ in range(PERIODS):
        tg.run()
    q = list(tg.read_value(q_next))
    roll, pitch, yaw = tg.read_value(euler)
    exact = exact_rotation(RATES, PERIODS * DT)
    # The angle between two rotations: 2 acos |<q, exact>| (q and -q are the same rotation).
    inner = min(1.0, abs(sum(a * b for a, b in zip(q, exact))) / math.sqrt(sum(a * a for a in q)))
    print(f"periods: {PERIODS}")
    print(f"euler: roll={roll:.6f} pitch={pitch:.6f} yaw={yaw:.6f}")
    print(f"norm error: {math.sqrt(sum(a * a for a in q)) - 1.0:.3e}")
    print(f"angle error: {2.0 * math.acos(inner):.3e}")


if __name__ == "__main__":
    main()
