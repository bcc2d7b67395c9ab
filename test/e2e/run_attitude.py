#!/usr/bin/env python3
"""The attitude example (examples/attitude.py) run period by period against a binary32 reference.

The program is the example's own (attitude.build()): each period writes the
gyro rates, runs once and reads the attitude q_next, its Euler angles and its
rotation matrix. The rates vary from period to period (all three axes, up to
about 2 rad/s) so that every term of the Hamilton product matters.

Reference: the example's `step` (and the quaternion's toEulerAngles and
toRotationMatrix) run on F32 numbers (test/e2e/_f32.py), starting from
attitude.Q0:
- q_next and the rotation matrix use only + - * / and one sqrt, so they
  must match BIT FOR BIT on every target. normalize() divides by
  sqrt(sum) + 1e-20: on F32 numbers cp.sqrt returns math.sqrt in double and
  the 1e-20 is added in double, then the division rounds that to binary32.
  For a sum near 1 (a unit quaternion) adding 1e-20 changes neither the
  double nor the binary32 value, and the double square root rounded to
  binary32 is the correctly rounded binary32 square root, so this is the
  program's sqrtf(sum) + 1e-20f exactly.
- The Euler angles call atan2 and asin (libm) on bit-exact arguments; the
  reference is the double-precision function rounded to binary32, and the
  target's libm may differ by up to 2 ulp (the bound run_ops.py uses for libm).

Independent of the tracer's quaternion code, every period also checks:
- |q_next| = 1 within 3e-7 (normalization; a few binary32 roundings);
- q_next against the same integration written out in double by hand
  (q @ dq with the textbook Hamilton product, then division by the norm)
  within 2e-6 per component (binary32 rounding, a few 1e-8 per period,
  accumulated over the periods: 2.4e-7 after 150 periods on every target;
  a wrong sign in the product is 1e-3 or more off after one period);
- the rotation matrix against Rz(yaw) Ry(pitch) Rx(roll) built from the
  Euler angles the target printed, within 2e-6 (so toEulerAngles and
  toRotationMatrix describe the same rotation, in the ZYX convention).

Also: the example's export mode writes a DAG that copapy-cc compiles for the target.

    python3 test/e2e/run_attitude.py [--target NAME] [--periods N] [--batch]

Prints `e2e-attitude[<target>]: N passed, M failed` and the first failures; exits 1 on failure.
"""
import argparse
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Sequence, Tuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tools/python"))
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(HERE))
import copapy as cp  # noqa: E402
import attitude  # noqa: E402
from _f32 import F32, f32, same, within_ulps  # noqa: E402
from _periods import add_batch_option, periods  # noqa: E402

LIBM_ULPS = 2
NORM_TOLERANCE = 3e-7
DOUBLE_TOLERANCE = 2e-6
MATRIX_TOLERANCE = 2e-6


def rates(k: int) -> Tuple[float, float, float]:
    """Gyro rates of period k, rad/s: every axis turns, with changing sign on x and y."""
    return (0.8 * math.sin(0.07 * k) + 0.1, 0.6 * math.cos(0.05 * k), 1.5 + 0.4 * math.sin(0.11 * k))


def hamilton(a: Sequence[float], b: Sequence[float]) -> Tuple[float, float, float, float]:
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw)


def double_step(q: Sequence[float], w: Sequence[float]) -> List[float]:
    h = 0.5 * attitude.DT
    p = hamilton(q, (1.0, h * w[0], h * w[1], h * w[2]))
    n = math.sqrt(sum(c * c for c in p))
    return [c / n for c in p]


def zyx_matrix(roll: float, pitch: float, yaw: float) -> List[List[float]]:
    """Rz(yaw) @ Ry(pitch) @ Rx(roll)."""
    cr, sr, cp_, sp, cy, sy = (math.cos(roll), math.sin(roll), math.cos(pitch), math.sin(pitch), math.cos(yaw),
                               math.sin(yaw))
    return [[cy * cp_, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp_, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp_ * sr, cp_ * cr]]


def check_export(target: str, failures: List[str]) -> bool:
    """examples/attitude.py PATH writes a DAG that copapy-cc builds for the target."""
    cc = os.environ.get("COPAPY_CC") or str(ROOT / "build" / "bin" / "copapy-cc")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "tools/python"),
                                                                    os.environ.get("PYTHONPATH")])))
    with tempfile.TemporaryDirectory() as d:
        dag = os.path.join(d, "attitude.json")
        proc = subprocess.run([sys.executable, str(ROOT / "examples" / "attitude.py"), dag], capture_output=True,
                              text=True, env=env)
        if proc.returncode != 0 or not os.path.isfile(dag):
            failures.append(f"examples/attitude.py {dag} failed ({proc.returncode}): {proc.stderr.strip()}")
            return False
        proc = subprocess.run([cc, "build", dag, "-t", target, "-o", os.path.join(d, "attitude.cpimg")],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            failures.append(f"copapy-cc could not build the exported DAG for {target}: {proc.stderr.strip()}")
            return False
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default=None, help="copapy-cc target name (default: $COPAPY_TARGET or the host)")
    ap.add_argument("--periods", type=int, default=150)
    add_batch_option(ap)
    a = ap.parse_args()
    failures: List[str] = []
    passed = 0

    w, q_next, euler, matrix = attitude.build()
    tg = cp.Target(a.target)
    label = a.target or os.environ.get("COPAPY_TARGET") or "host"
    tg.compile(q_next, euler, matrix)
    if check_export(tg.arch, failures):
        passed += 1

    qr = cp.quaternion([F32(c) for c in attitude.Q0])
    qd = list(attitude.Q0)
    results = periods(tg, [{w: list(rates(k))} for k in range(a.periods)], [q_next, euler, matrix], a)
    for k, (got_q, got_e, got_m) in enumerate(results):
        rate = rates(k)
        if not (isinstance(got_q, cp.quaternion) and isinstance(got_e, cp.vector) and got_e.shape == (3,)
                and isinstance(got_m, cp.tensor) and got_m.shape == (4, 4)):
            failures.append(f"period {k}: read_value gave {got_q!r}, {got_e!r}, {got_m!r}; expected a "
                            "quaternion, a vector (3,) and a tensor (4, 4)")
            break

        qr = attitude.step(qr, tuple(F32(r) for r in rate))
        want_e = qr.toEulerAngles()
        want_m = qr.toRotationMatrix()
        qd = double_step(qd, [f32(r) for r in rate])

        for i, (got, want) in enumerate(zip(got_q.values, qr.values)):
            if same(got, want):
                passed += 1
            else:
                failures.append(f"period {k} q[{i}]: expected {float(want)!r} (binary32 reference), got {got!r}")
        for i, (got, want) in enumerate(zip(got_m.values, want_m.values)):
            if same(got, want):
                passed += 1
            else:
                failures.append(f"period {k} matrix[{i // 4}][{i % 4}]: expected {float(want)!r} "
                                f"(binary32 reference), got {got!r}")
        for name, got, want in zip(("roll", "pitch", "yaw"), got_e.values, want_e.values):
            if within_ulps(got, f32(float(want)), LIBM_ULPS):
                passed += 1
            else:
                failures.append(f"period {k} {name}: expected {f32(float(want))!r} within {LIBM_ULPS} ulp, "
                                f"got {got!r}")

        norm = math.sqrt(sum(c * c for c in got_q.values))
        if abs(norm - 1.0) <= NORM_TOLERANCE:
            passed += 1
        else:
            failures.append(f"period {k}: |q| = {norm!r}, expected 1 within {NORM_TOLERANCE}")
        worst = max(abs(g - d) for g, d in zip(got_q.values, qd))
        if worst <= DOUBLE_TOLERANCE:
            passed += 1
        else:
            failures.append(f"period {k}: q = {list(got_q.values)} is {worst:.3g} from the double-precision "
                            f"integration {qd} (tolerance {DOUBLE_TOLERANCE})")
        zyx = zyx_matrix(*got_e.values)
        worst = max(abs(got_m.values[i * 4 + j] - zyx[i][j]) for i in range(3) for j in range(3))
        if worst <= MATRIX_TOLERANCE:
            passed += 1
        else:
            failures.append(f"period {k}: the rotation matrix is {worst:.3g} from Rz(yaw) Ry(pitch) Rx(roll) of "
                            f"the Euler angles {list(got_e.values)} (tolerance {MATRIX_TOLERANCE})")

    for f in failures[:20]:
        print("FAIL", f)
    print(f"e2e-attitude[{label}]: {passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
