#!/usr/bin/env python3
"""State across runs: the low-pass filter and PID examples, run step by step
(one tg.run() per sample, as a control loop would) against a binary32
reference of the same recurrences. Bit-exact: they use only + - * / min max.

    python3 test/e2e/run_state.py [--target NAME] [--steps N] [--batch]
"""
import argparse
import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools/python"))
sys.path.insert(0, str(ROOT / "examples"))
import copapy as cp  # noqa: E402
import lowpass  # noqa: E402
import pid  # noqa: E402

sys.path.insert(0, str(ROOT / "test/e2e"))
from _periods import add_batch_option, periods  # noqa: E402


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def lowpass_reference(xs):
    y, out = 0.0, []
    a = f32(lowpass.ALPHA)
    for x in xs:
        y = f32(y + f32(a * f32(x - y)))
        out.append(y)
    return out


def pid_reference(steps):
    kp, ki, kd, dt, tau, umax = (f32(v) for v in (pid.KP, pid.KI, pid.KD, pid.DT, pid.TAU, pid.U_MAX))
    k_plant = f32(pid.DT / pid.TAU)  # the tracer folds DT / TAU in Python (double), then rounds
    integral = prev = speed = 0.0
    out = []
    for _ in range(steps):
        error = f32(1.0 - speed)
        derivative = f32(f32(error - prev) / dt)
        u = f32(f32(f32(kp * error) + f32(ki * integral)) + f32(kd * derivative))
        u = min(max(u, -umax), umax)  # cp.clamp = minimum(maximum(x, lo), hi)
        integral, prev, speed = f32(integral + f32(error * dt)), error, f32(speed + f32(k_plant * f32(u - speed)))
        out.append((speed, u))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default=None)
    ap.add_argument("--steps", type=int, default=60)
    add_batch_option(ap)
    a = ap.parse_args()
    label = a.target or os.environ.get("COPAPY_TARGET") or "host"
    failures, passed = [], 0

    x, y = lowpass.build()
    tg = cp.Target(a.target)
    tg.compile(y)
    xs = [1.0 if k >= 2 else (0.0 if k % 7 else -0.5) for k in range(a.steps)]
    for k, (got, want) in enumerate(zip(periods(tg, [{x: xv} for xv in xs], y, a), lowpass_reference(xs))):
        if got == want:
            passed += 1
        else:
            failures.append(f"lowpass step {k}: expected {want!r}, got {got!r}")

    setpoint, speed, u = pid.build()
    tg = cp.Target(a.target)
    tg.compile(speed, u)
    ref = pid_reference(a.steps)
    # No inputs: every period only runs, the states carry the loop.
    for k, (got_list, (want_speed, want_u)) in enumerate(zip(periods(tg, [{}] * a.steps, [speed, u], a), ref)):
        got = tuple(got_list)
        if got == (want_speed, want_u):
            passed += 1
        else:
            failures.append(f"pid step {k}: expected speed, u = {(want_speed, want_u)}, got {got}")
    # The example's gains settle the loop within about 50 periods, without overshoot.
    if a.steps >= 60 and not (abs(ref[59][0] - 1.0) < 0.01 and max(s for s, _ in ref) <= 1.0):
        failures.append(f"pid did not settle at the setpoint: {ref[59][0]}")
    for f in failures[:20]:
        print("FAIL", f)
    print(f"e2e-state[{label}]: {passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
