"""A constant-velocity Kalman filter: matrices, linear algebra and state.

A cart moves along a line. Each control period (one run of the compiled
program) brings a noisy position measurement and a noisy velocity
measurement; the filter keeps its estimate x = [position, velocity] and its
covariance P as states across runs: predict with the motion model, then
correct with the measurements (S inverted by cp.linalg.inv).

    PYTHONPATH=tools/python python3 examples/kalman.py            # simulate 200 periods
    PYTHONPATH=tools/python python3 examples/kalman.py prog.json  # only write the DAG

`step` is plain arithmetic on containers, so the end-to-end test runs the
same function on float32 numbers as the reference.
"""
import random
import sys

import copapy as cp

DT = 0.05        # control period, s
ACCEL_VAR = 0.5  # variance of the unmodelled acceleration, (m/s^2)^2
R_POS = 0.04     # position measurement variance, m^2
R_VEL = 0.25     # velocity measurement variance, (m/s)^2


def step(x, P, z):
    """One Kalman period: state x (2), covariance P (2x2), measurement z (2)."""
    F = cp.tensor([[1.0, DT], [0.0, 1.0]])
    Q = cp.tensor([[DT ** 4 / 4, DT ** 3 / 2], [DT ** 3 / 2, DT ** 2]]) * ACCEL_VAR
    R = cp.diagonal([R_POS, R_VEL])
    # Predict.
    x = F @ x
    P = F @ P @ F.T + Q
    # Correct (H is the identity: both components are measured).
    S = P + R
    K = P @ cp.linalg.inv(S)
    x = x + K @ (z - x)
    P = (cp.eye(2) - K) @ P
    return x, P


def build():
    """The traced program: measurements in, estimate out, x and P as states."""
    x = cp.state([0.0, 0.0], name="x")
    P = cp.state([[1.0, 0.0], [0.0, 1.0]], name="P")
    z = cp.tensor([cp.value(0.0, name="z_pos"), cp.value(0.0, name="z_vel")])
    x_new, P_new = step(x, P, z)
    x.next(x_new)
    P.next(P_new)
    return z, x_new, P_new


def measurements(n, seed=1):
    """A cart at 1.5 m/s with noisy position and velocity readings."""
    rng = random.Random(seed)
    for k in range(n):
        t = k * DT
        yield (1.5 * t + rng.gauss(0.0, R_POS ** 0.5), 1.5 + rng.gauss(0.0, R_VEL ** 0.5)), 1.5 * t


def main():
    z, estimate, cov = build()
    if len(sys.argv) > 1:
        cp.export(sys.argv[1], pos=estimate[0], vel=estimate[1])
        return
    tg = cp.Target()
    tg.compile(estimate, cov)
    worst = 0.0
    for (zp, zv), truth in measurements(200):
        tg.write_value(z, [zp, zv])
        tg.run()
        pos, vel = tg.read_value(estimate).values
        worst = max(worst, abs(pos - truth)) if truth > 2.0 else worst
    print(f"final estimate: position {pos:.4f} m, velocity {vel:.4f} m/s")
    print(f"position variance {tg.read_value(cov).get_scalar(0, 0):.6f} m^2")
    print(f"largest position error after the first 2 m: {worst:.4f} m")


if __name__ == "__main__":
    main()
