#!/usr/bin/env python3
"""Second-order derivatives end to end: gradients and Hessians traced with
cp.grad(cp.grad(f, x), y), compiled by copapy-cc for a target and run there
(under qemu for foreign targets), plus Newton's method traced into one program.

Functions f(x, y), each at two points: sin(x) y^3 + exp(x y), Rosenbrock's
(1 - x)^2 + 100 (y - x^2)^2, (1 + y)/x, y sqrt(x^2 + y^2 + 1), atan2(y, x),
tanh(x y) + tanh(x) y, x^y + log(x) y, and x hypot(x, y). The program
computes f, its gradient (g_x, g_y) and its Hessian H (g_x and g_y
differentiated again by x and by y: both mixed partials, separately).

Checks, for every function and point (binary32 results against double
references; eps = 2^-24 ~ 6e-8 is binary32's unit roundoff; scale =
max(1, largest |H| entry of the exact Hessian at the point)):

1. g and H against closed forms derived by hand, evaluated in double:
   |got - exact| <= 4e-6 * scale (for g: scale from g). An entry sums at
   most ~8 terms, each made by at most ~16 binary32 roundings or libm calls
   (each within 1 ulp), so each term is within ~16 eps ~ 1e-6 relative; at
   these points (no catastrophic cancellation) the terms' magnitudes add up
   to at most 4x scale, so the error is at most ~4e-6 * scale. (Seen on every
   target: 1.4e-7 * scale, printed at the end.)
2. H against central differences of the program's own g, run again at
   x +- h and y +- h with h = 2^-7 (the points are dyadic with few bits, so
   x +- h is exact): (g(x + h) - g(x - h)) / 2h. Its error is the rounding
   of g, ~10 eps |g| / h ~ 8e-5 |g|, plus the truncation h^2/6 |d^4 f| ~
   3e-6 |d^4 f|. At these points |g| <= 4 scale and |d^4 f| <= 60 scale, so
   |H - fd| <= 5e-4 * scale; the test allows 1e-3 * scale (seen: 2.2e-4).
   This ties the compiled second derivative to the compiled first
   derivative, independently of the closed forms.
3. H_xy = H_yx within 4e-6 * scale (computed along different paths).

Newton's method: 8 steps x <- x - H^-1 g for f(x, y) = exp(x + 2y) +
exp(x - y) + x^2 + y^2 (strictly convex) from (1, 1), each step
differentiating the previous step's result, H inverted in closed form (2x2).
Every iterate must match the same iteration in double within 1e-5 (the
Newton map contracts near the minimum, so rounding does not grow; seen:
about 1e-7), the distance to the minimum must shrink quadratically (d_{k+1}
<= 2 d_k^2, or be below binary32's resolution there, 1e-6), and the last
iterate must be within 1e-6 of the minimizer (in double, by 60 steps), with
the gradient there below 1e-5.

    python3 test/e2e/run_grad2.py [--target NAME]

Prints `e2e-grad2[<target>]: N passed, M failed` and every failure; exits 1
on any failure.
"""
import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any, Callable, List, NamedTuple, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools" / "python"))
import copapy as cp  # noqa: E402

EXACT_TOLERANCE = 4e-6
FD_TOLERANCE = 1e-3
FD_STEP = 2.0 ** -7
NEWTON_STEPS = 8
NEWTON_START = (1.0, 1.0)
NEWTON_TOLERANCE = 1e-5
RESOLUTION = 1e-6


tanh = cp.tanh
hypot = cp.hypot


Vec = Tuple[float, float]
Mat = Tuple[float, float, float, float]  # H_xx, H_xy, H_yx, H_yy


class Function(NamedTuple):
    name: str
    trace: Callable[[Any, Any], Any]                   # f on copapy values
    grad: Callable[[float, float], Vec]                # exact gradient, in double
    hessian: Callable[[float, float], Mat]             # exact Hessian, in double
    points: List[Vec]


def _f1_hessian(x: float, y: float) -> Mat:
    e = math.exp(x * y)
    mixed = 3 * math.cos(x) * y * y + e * (1 + x * y)
    return (-math.sin(x) * y ** 3 + y * y * e, mixed, mixed, 6 * math.sin(x) * y + x * x * e)


def _f4(x: float, y: float) -> Tuple[float, Vec, Mat]:
    r = math.sqrt(x * x + y * y + 1)
    mixed = x * (x * x + 1) / r ** 3
    return r * y, (x * y / r, r + y * y / r), (y * (y * y + 1) / r ** 3, mixed, mixed, 3 * y / r - y ** 3 / r ** 3)


def _f5(x: float, y: float) -> Tuple[Vec, Mat]:
    s = x * x + y * y
    mixed = (y * y - x * x) / (s * s)
    return (-y / s, x / s), (2 * x * y / (s * s), mixed, mixed, -2 * x * y / (s * s))


def _f6(x: float, y: float) -> Tuple[Vec, Mat]:
    t, big_t = math.tanh(x * y), math.tanh(x)
    st, sbig = 1 - t * t, 1 - big_t * big_t  # sech^2
    mixed = st * (1 - 2 * x * y * t) + sbig
    return ((y * st + y * sbig, x * st + big_t),
            (-2 * y * y * t * st - 2 * y * big_t * sbig, mixed, mixed, -2 * x * x * t * st))


def _f7(x: float, y: float) -> Tuple[Vec, Mat]:
    p, lx = x ** y, math.log(x)
    mixed = x ** (y - 1) * (1 + y * lx) + 1 / x
    return ((y * x ** (y - 1) + y / x, p * lx + lx),
            (y * (y - 1) * x ** (y - 2) - y / (x * x), mixed, mixed, p * lx * lx))


def _f8(x: float, y: float) -> Tuple[Vec, Mat]:
    h = math.hypot(x, y)
    mixed = y ** 3 / h ** 3
    return (x * x / h + h, x * y / h), (3 * x / h - x ** 3 / h ** 3, mixed, mixed, x ** 3 / h ** 3)


FUNCTIONS = [
    Function("sin(x)*y^3 + exp(x*y)", lambda x, y: cp.sin(x) * y ** 3 + cp.exp(x * y),
             lambda x, y: (math.cos(x) * y ** 3 + y * math.exp(x * y), 3 * math.sin(x) * y * y + x * math.exp(x * y)),
             _f1_hessian, [(0.75, 1.25), (-0.5, 0.625)]),
    Function("rosenbrock", lambda x, y: (1 - x) ** 2 + 100 * (y - x * x) ** 2,
             lambda x, y: (-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)),
             lambda x, y: (2 - 400 * y + 1200 * x * x, -400 * x, -400 * x, 200.0), [(1.0, 1.0), (-1.25, 0.75)]),
    Function("(1+y)/x", lambda x, y: 1 / x + y / x,
             lambda x, y: (-(1 + y) / (x * x), 1 / x),
             lambda x, y: (2 * (1 + y) / x ** 3, -1 / (x * x), -1 / (x * x), 0.0), [(1.5, 0.25), (-0.75, 2.0)]),
    Function("y*sqrt(x^2+y^2+1)", lambda x, y: cp.sqrt(x * x + y * y + 1) * y,
             lambda x, y: _f4(x, y)[1], lambda x, y: _f4(x, y)[2], [(0.5, -1.5), (2.0, 0.75)]),
    Function("atan2(y, x)", lambda x, y: cp.atan2(y, x),
             lambda x, y: _f5(x, y)[0], lambda x, y: _f5(x, y)[1], [(1.0, 0.5), (-0.75, -1.25)]),
    Function("tanh(x*y) + tanh(x)*y", lambda x, y: tanh(x * y) + tanh(x) * y,
             lambda x, y: _f6(x, y)[0], lambda x, y: _f6(x, y)[1], [(0.5, 0.75), (-1.25, 0.375)]),
    Function("x^y + log(x)*y", lambda x, y: x ** y + cp.log(x) * y,
             lambda x, y: _f7(x, y)[0], lambda x, y: _f7(x, y)[1], [(1.5, 2.5), (0.625, 0.75)]),
    Function("x*hypot(x, y)", lambda x, y: hypot(x, y) * x,
             lambda x, y: _f8(x, y)[0], lambda x, y: _f8(x, y)[1], [(0.75, -1.0), (3.0, 4.0)]),
]


# ---- Newton's method ----------------------------------------------------------

def newton_f(x: Any, y: Any, exp: Callable[[Any], Any]) -> Any:
    return exp(x + 2 * y) + exp(x - y) + x * x + y * y


def newton_step(x: Any, y: Any, gx: Any, gy: Any, hxx: Any, hxy: Any, hyy: Any) -> Tuple[Any, Any]:
    """(x, y) - H^-1 g with the 2x2 inverse in closed form: [[hyy, -hxy], [-hxy, hxx]] / det."""
    det = hxx * hyy - hxy * hxy
    return x - (hyy * gx - hxy * gy) / det, y - (hxx * gy - hxy * gx) / det


def newton_reference(steps: int) -> List[Vec]:
    """The same iteration in double, with the gradient and Hessian derived by hand."""
    x, y = NEWTON_START
    out = []
    for _ in range(steps):
        e1, e2 = math.exp(x + 2 * y), math.exp(x - y)
        x, y = newton_step(x, y, e1 + e2 + 2 * x, 2 * e1 - e2 + 2 * y, e1 + e2 + 2, 2 * e1 - e2, 4 * e1 + e2 + 2)
        out.append((x, y))
    return out


def newton_minimum() -> Vec:
    x, y = newton_reference(60)[-1]
    return x, y


# ---- The test -------------------------------------------------------------------

class Traced(NamedTuple):
    fn: Function
    x: Any            # the inputs
    y: Any
    g: List[Any]      # [g_x, g_y]
    h: List[Any]      # [H_xx, H_xy, H_yx, H_yy]


def trace() -> Tuple[List[Traced], List[Tuple[Any, Any]]]:
    traced = []
    for k, fn in enumerate(FUNCTIONS):
        x0, y0 = fn.points[0]
        x, y = cp.value(x0, name=f"x{k}"), cp.value(y0, name=f"y{k}")
        f = fn.trace(x, y)
        g = cp.grad(f, [x, y])
        h = cp.grad(g[0], [x, y]) + cp.grad(g[1], [x, y])   # d g_x/dx, d g_x/dy, d g_y/dx, d g_y/dy
        traced.append(Traced(fn, x, y, g, h))
    x, y = cp.value(NEWTON_START[0], name="nx"), cp.value(NEWTON_START[1], name="ny")
    iterates = []
    for _ in range(NEWTON_STEPS):
        f = newton_f(x, y, cp.exp)
        gx, gy = cp.grad(f, [x, y])
        hxx, hxy = cp.grad(gx, [x, y])
        hyy = cp.grad(gy, y)
        x, y = newton_step(x, y, gx, gy, hxx, hxy, hyy)
        iterates.append((x, y))
    return traced, iterates


class Checker:
    def __init__(self) -> None:
        self.passed = 0
        self.failures: List[str] = []
        self.worst = {"exact": 0.0, "fd": 0.0, "newton": 0.0}   # largest error / scale seen

    def close(self, what: str, kind: str, got: float, want: float, tolerance: float, scale: float) -> None:
        err = abs(got - want) / scale if math.isfinite(got) else math.inf
        self.worst[kind] = max(self.worst[kind], err)
        if err <= tolerance:
            self.passed += 1
        else:
            self.failures.append(f"{what}: got {got!r}, expected {want!r} (error {err:.3g} x {scale:.3g}, "
                                 f"allowed {tolerance:g} x {scale:.3g})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default=None,
                        help="copapy-cc target name (default: $COPAPY_TARGET, else the host)")
    args = parser.parse_args()
    label = args.target or os.environ.get("COPAPY_TARGET") or "host"

    traced, iterates = trace()
    tg = cp.Target(args.target)
    chk = Checker()
    names = ["H_xx", "H_xy", "H_yx", "H_yy"]

    def run_at(p: int, dx: float = 0.0, dy: float = 0.0) -> None:
        for t in traced:
            x0, y0 = t.fn.points[p]
            tg.write_value(t.x, x0 + dx)
            tg.write_value(t.y, y0 + dy)
        tg.run()

    try:
        tg.compile([t.g for t in traced], [t.h for t in traced], iterates)
        for p in range(2):
            run_at(p)
            got = [(tg.read_value(t.g), tg.read_value(t.h)) for t in traced]
            # The program's gradient at x +- h and y +- h, for central differences.
            shifted = []
            for dx, dy in ((FD_STEP, 0.0), (-FD_STEP, 0.0), (0.0, FD_STEP), (0.0, -FD_STEP)):
                run_at(p, dx, dy)
                shifted.append([tg.read_value(t.g) for t in traced])
            for k, t in enumerate(traced):
                x0, y0 = t.fn.points[p]
                where = f"{t.fn.name} at ({x0}, {y0})"
                g, h = got[k]
                g_exact, h_exact = t.fn.grad(x0, y0), t.fn.hessian(x0, y0)
                scale = max(1.0, *map(abs, h_exact))
                g_scale = max(1.0, *map(abs, g_exact))
                for i, name in enumerate(["g_x", "g_y"]):
                    chk.close(f"{where}: {name}", "exact", g[i], g_exact[i], EXACT_TOLERANCE, g_scale)
                for i, name in enumerate(names):
                    chk.close(f"{where}: {name}", "exact", h[i], h_exact[i], EXACT_TOLERANCE, scale)
                # H_x. from g_x(x +- h, .) and g_y(x +- h, .); H_.y from the y shifts.
                plus_x, minus_x, plus_y, minus_y = (s[k] for s in shifted)
                fd = [(plus_x[0] - minus_x[0]) / (2 * FD_STEP), (plus_y[0] - minus_y[0]) / (2 * FD_STEP),
                      (plus_x[1] - minus_x[1]) / (2 * FD_STEP), (plus_y[1] - minus_y[1]) / (2 * FD_STEP)]
                for i, name in enumerate(names):
                    chk.close(f"{where}: {name} vs central differences of g", "fd", h[i], fd[i], FD_TOLERANCE, scale)
                chk.close(f"{where}: H_xy vs H_yx", "exact", h[1], h[2], EXACT_TOLERANCE, scale)

        # Newton: the iterates of the last run (their start is an input nobody wrote: (1, 1)).
        reference, minimum = newton_reference(NEWTON_STEPS), newton_minimum()
        dist = [math.dist(NEWTON_START, minimum)]
        for k, (xk, yk) in enumerate(iterates):
            gotx, goty = tg.read_value(xk), tg.read_value(yk)
            refx, refy = reference[k]
            chk.close(f"newton step {k + 1}: x", "newton", gotx, refx, NEWTON_TOLERANCE, 1.0)
            chk.close(f"newton step {k + 1}: y", "newton", goty, refy, NEWTON_TOLERANCE, 1.0)
            dist.append(math.dist((gotx, goty), minimum))
        for k in range(1, len(dist)):
            if dist[k] <= max(2 * dist[k - 1] ** 2, RESOLUTION):
                chk.passed += 1
            else:
                chk.failures.append(f"newton step {k}: distance to the minimum {dist[k]:.3g} after "
                                    f"{dist[k - 1]:.3g}, not quadratic convergence")
        if dist[-1] <= RESOLUTION:
            chk.passed += 1
        else:
            chk.failures.append(f"newton: ended {dist[-1]:.3g} from the minimum {minimum}")
        xn, yn = tg.read_value(iterates[-1][0]), tg.read_value(iterates[-1][1])
        e1, e2 = math.exp(xn + 2 * yn), math.exp(xn - yn)
        gnorm = math.hypot(e1 + e2 + 2 * xn, 2 * e1 - e2 + 2 * yn)
        if gnorm <= 1e-5:
            chk.passed += 1
        else:
            chk.failures.append(f"newton: gradient {gnorm:.3g} at the last iterate ({xn}, {yn})")
    except (RuntimeError, OSError) as e:  # the tools are missing, failed or printed garbage
        print(f"ERROR {e}")
        print(f"e2e-grad2[{label}]: {chk.passed} passed, {len(chk.failures) + 1} failed")
        return 1

    for f in chk.failures:
        print("FAIL", f)
    print(f"e2e-grad2[{label}]: {chk.passed} passed, {len(chk.failures)} failed (largest error / scale: "
          f"{chk.worst['exact']:.2g} against closed forms, {chk.worst['fd']:.2g} against central differences, "
          f"{chk.worst['newton']:.2g} for Newton iterates; distances to the minimum "
          f"{', '.join(f'{d:.2g}' for d in dist)})")
    return 1 if chk.failures else 0


if __name__ == "__main__":
    sys.exit(main())
