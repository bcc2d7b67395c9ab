#!/usr/bin/env python3
"""The Kalman filter example (examples/kalman.py) run period by period against a binary32 reference.

The program is the example's own (kalman.build()): each period writes the
two measurements, runs once (one tg.run() per period, as a control loop
would) and reads the estimate x and the covariance P. The reference runs the
example's `step` on F32 numbers (test/e2e/_f32.py: every + - * / rounded to
binary32), so it performs the operations the traced program performs, in
the same order. The filter uses only + - * / and comparisons (the pivoting
in cp.linalg.inv), so every period must match BIT FOR BIT on every target.

cp.linalg evaluates matrices of Python numbers in double while tracing (as
the original copapy folds constant systems), so for the reference
cp.linalg.inv is replaced by the documented algorithm run on F32 numbers
(_f32.ref_inv: elimination with partial pivoting, reciprocal pivots).

Independently of the tracer's container code, every period is also compared
with the textbook filter written out in double precision (scalar formulas,
2 x 2 inverse by the adjugate) within a relative 1e-4: binary32 rounding
(about 6e-8 per operation) stays far below that because the filter is
stable, while a wrong formula (a transposed F, a missing Q) is far above.

    python3 test/e2e/run_kalman.py [--target NAME] [--periods N] [--batch]

Prints `e2e-kalman[<target>]: N passed, M failed` and the first failures; exits 1 on failure.
"""
import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Iterator, List, Tuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tools/python"))
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(HERE))
import copapy as cp  # noqa: E402
import kalman  # noqa: E402
from _f32 import F32, ref_inv, same  # noqa: E402
from _periods import add_batch_option, periods  # noqa: E402

# The states' initial values as kalman.build() sets them (a change there shows up as a failure in period 0).
X0 = [0.0, 0.0]
P0 = [[1.0, 0.0], [0.0, 1.0]]
RELATIVE = 1e-4


@contextlib.contextmanager
def linalg_on_f32() -> Iterator[None]:
    """cp.linalg.inv as the documented algorithm on F32 numbers, for the reference only."""
    original = cp.linalg.inv
    cp.linalg.inv = lambda a: cp.tensor(ref_inv(a.tolist()))
    try:
        yield
    finally:
        cp.linalg.inv = original


def textbook(x: List[float], P: List[List[float]], z: Tuple[float, float]) -> Tuple[List[float], List[List[float]]]:
    """One period of the constant-velocity filter in double, written out by hand."""
    dt, q = kalman.DT, kalman.ACCEL_VAR
    (p00, p01), (p10, p11) = P
    xp = [x[0] + dt * x[1], x[1]]
    a00 = p00 + dt * (p10 + p01) + dt * dt * p11 + q * dt ** 4 / 4
    a01 = p01 + dt * p11 + q * dt ** 3 / 2
    a10 = p10 + dt * p11 + q * dt ** 3 / 2
    a11 = p11 + q * dt ** 2
    s00, s01, s10, s11 = a00 + kalman.R_POS, a01, a10, a11 + kalman.R_VEL
    det = s00 * s11 - s01 * s10
    i00, i01, i10, i11 = s11 / det, -s01 / det, -s10 / det, s00 / det
    k00, k01 = a00 * i00 + a01 * i10, a00 * i01 + a01 * i11
    k10, k11 = a10 * i00 + a11 * i10, a10 * i01 + a11 * i11
    e0, e1 = z[0] - xp[0], z[1] - xp[1]
    xn = [xp[0] + k00 * e0 + k01 * e1, xp[1] + k10 * e0 + k11 * e1]
    Pn = [[(1 - k00) * a00 - k01 * a10, (1 - k00) * a01 - k01 * a11],
          [-k10 * a00 + (1 - k11) * a10, -k10 * a01 + (1 - k11) * a11]]
    return xn, Pn


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default=None, help="copapy-cc target name (default: $COPAPY_TARGET or the host)")
    ap.add_argument("--periods", type=int, default=150)
    add_batch_option(ap)
    a = ap.parse_args()
    label = a.target or os.environ.get("COPAPY_TARGET") or "host"
    failures: List[str] = []
    passed = 0

    z, x_new, P_new = kalman.build()
    tg = cp.Target(a.target)
    tg.compile(x_new, P_new)

    xr = cp.tensor([F32(v) for v in X0])
    Pr = cp.tensor([[F32(v) for v in row] for row in P0])
    xd, Pd = list(X0), [list(r) for r in P0]
    zs = [zk for zk, _truth in kalman.measurements(a.periods)]
    results = periods(tg, [{z: list(zk)} for zk in zs], [x_new, P_new], a)
    for k, ((zp, zv), (got_x, got_P)) in enumerate(zip(zs, results)):
        if not (isinstance(got_x, cp.tensor) and got_x.shape == (2,) and isinstance(got_P, cp.tensor)
                and got_P.shape == (2, 2)):
            failures.append(f"period {k}: read_value gave {got_x!r} and {got_P!r}, expected tensors (2,) and (2, 2)")
            break
        with linalg_on_f32():
            xr, Pr = kalman.step(xr, Pr, cp.tensor([F32(zp), F32(zv)]))
        xd, Pd = textbook(xd, Pd, (zp, zv))
        names = ["x[0]", "x[1]", "P[0][0]", "P[0][1]", "P[1][0]", "P[1][1]"]
        for name, got, want, approx in zip(names, got_x.values + got_P.values, xr.values + Pr.values,
                                           xd + Pd[0] + Pd[1]):
            if not same(got, want):
                failures.append(f"period {k} {name}: expected {float(want)!r} (binary32 reference), got {got!r}")
            elif not abs(got - approx) <= RELATIVE * abs(approx) + 1e-9:
                failures.append(f"period {k} {name}: {got!r} is not within {RELATIVE} (relative) of the "
                                f"double-precision filter's {approx!r}")
            else:
                passed += 1
    # The example's claim: the estimate follows the cart (1.5 m/s) closely once it has converged.
    if a.periods >= 100 and abs(got_x.values[1] - 1.5) > 0.3:
        failures.append(f"the velocity estimate {got_x.values[1]!r} after {a.periods} periods is not near 1.5 m/s")
    for f in failures[:20]:
        print("FAIL", f)
    print(f"e2e-kalman[{label}]: {passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
