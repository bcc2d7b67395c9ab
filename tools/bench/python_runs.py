#!/usr/bin/env python3
"""The cost of a control period through cp.Target, against plain Python.

A period writes the inputs, runs the program once and reads the outputs
(write_value, run, read_value), as a control loop does. Two programs: the
README's (two inputs, three outputs: c = a + b * 2, d = c ** 2 + sin(a),
e = sqrt(b)) and the dot benchmark sum((v1 + i) @ v2 for i in range(10)) for
vectors of n = 10 inputs (twenty inputs, one output). Each runs on the host
(in process: libcopapy-runtime.so) and for thumbv7em under qemu-arm
(coparun --serve), and on both through the process-per-run path (one coparun
per run, as before the persistent runners) and as one run_batch() call, given
a list of periods and given one column per input. The
reference is plain Python evaluating the same arithmetic on Python floats.
All numbers come from one run of this script (best of 5 repetitions, 3 for
the batches):

    PYTHONPATH=tools/python python3 tools/bench/python_runs.py [--quick]

Prints a Markdown table; tools/bench/run_benchmarks.py puts it into
docs/benchmarks.md.
"""
import argparse
import gc
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools/python"))
import copapy as cp  # noqa: E402

# Two sets of inputs, alternated from period to period (a loop writes new values every period).
README_INPUTS = [(0.25, 0.87), (0.5, 0.125)]
DOT_INPUTS = [([i * 0.25 for i in range(10)], [1.0 - i * 0.125 for i in range(10)]),
              ([i * 0.5 for i in range(10)], [2.0 - i * 0.25 for i in range(10)])]


def best_per_period(period: Callable[[int], Any], periods: int, repeats: int = 5) -> float:
    """Seconds per period: the best of `repeats` timings of `periods` periods
    (with the garbage collector off while timing, as timeit does)."""
    period(0)  # warm up (the first run of a served runner also starts it)
    best = math.inf
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            for k in range(periods):
                period(k)
            best = min(best, (time.perf_counter() - t0) / periods)
        finally:
            gc.enable()
    return best


def best_batch(batch: Callable[[Any], List[Any]], inputs: Any, periods: int,
               repeats: int = 3) -> Tuple[float, List[Any]]:
    """Seconds per period of one run_batch() call over prepared `inputs`
    (`periods` periods), best of `repeats`."""
    best, results = math.inf, []
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            results = batch(inputs)
            best = min(best, (time.perf_counter() - t0) / periods)
        finally:
            gc.enable()
    return best, results


def plain_readme(k: int) -> Tuple[float, float, float]:
    a, b = README_INPUTS[k & 1]
    c = a + b * 2.0
    d = c ** 2 + math.sin(a)
    e = math.sqrt(b)
    return c, d, e


def plain_dot(k: int) -> float:
    v1, v2 = DOT_INPUTS[k & 1]
    return sum(sum(x * y for x, y in zip([a + i for a in v1], v2)) for i in range(10))


Made = Tuple[cp.Target, Callable[[int], Any], Callable[[Any], List[Any]], Callable[[int], List[Dict[Any, Any]]],
             Callable[[int], Dict[Any, List[Any]]], Callable[[Any], Any]]


def readme_target(arch: Any, runner: str) -> Made:
    """The Target, one period, one run_batch() call, and the inputs of n periods for it."""
    a, b = cp.value(0.25), cp.value(0.87)
    c = a + b * 2.0
    d = c ** 2 + cp.sin(a)
    e = cp.sqrt(b)
    tg = cp.Target(arch, runner=runner)
    tg.compile(c, d, e)

    def period(k: int) -> Any:
        x, y = README_INPUTS[k & 1]
        tg.write_value(a, x)
        tg.write_value(b, y)
        tg.run()
        return tg.read_value(c), tg.read_value(d), tg.read_value(e)

    def inputs(n: int) -> List[Dict[Any, Any]]:
        return [{a: README_INPUTS[k & 1][0], b: README_INPUTS[k & 1][1]} for k in range(n)]

    def columns(n: int) -> Dict[Any, List[Any]]:
        return {a: [README_INPUTS[k & 1][0] for k in range(n)], b: [README_INPUTS[k & 1][1] for k in range(n)]}

    return tg, period, lambda ins: tg.run_batch(ins, [c, d, e]), inputs, columns, lambda cs: tg.run_columns(cs, [c, d, e])


def dot_target(arch: Any, runner: str) -> Made:
    v1 = cp.vector([cp.value(float(i)) for i in range(10)])
    v2 = cp.vector([cp.value(float(i)) for i in range(10)])
    r = sum((v1 + i) @ v2 for i in range(10))
    tg = cp.Target(arch, runner=runner)
    tg.compile(r)

    def period(k: int) -> Any:
        x1, x2 = DOT_INPUTS[k & 1]
        tg.write_value(v1, x1)
        tg.write_value(v2, x2)
        tg.run()
        return tg.read_value(r)

    def inputs(n: int) -> List[Dict[Any, Any]]:
        return [{v1: DOT_INPUTS[k & 1][0], v2: DOT_INPUTS[k & 1][1]} for k in range(n)]

    def columns(n: int) -> Dict[Any, List[Any]]:
        return {v1: [DOT_INPUTS[k & 1][0] for k in range(n)], v2: [DOT_INPUTS[k & 1][1] for k in range(n)]}

    return tg, period, lambda ins: tg.run_batch(ins, r), inputs, columns, lambda cs: tg.run_columns(cs, r)


def measure(quick: bool) -> List[Dict[str, Any]]:
    rows: List[Dict[str, Any]] = []
    fast, slow, batch_len = (2000, 10, 1000) if quick else (20000, 40, 10000)
    for name, plain, make in (("README", plain_readme, readme_target), ("dot n=10", plain_dot, dot_target)):
        base = best_per_period(plain, fast * 10)
        rows.append({"program": name, "target": "-", "path": "plain Python", "seconds": base, "plain": base})
        for arch, label, default, periods in ((None, "host", "inprocess", fast), ("thumbv7em", "thumbv7em", "serve",
                                                                                  fast // 10)):
            tg, period, batch, inputs, columns, run_columns = make(arch, default)
            new = best_per_period(period, periods)
            check = period(0)
            kind = tg._runner.kind if tg._runner is not None else "?"
            bt, results = best_batch(batch, inputs(batch_len), batch_len)
            cols = columns(batch_len)
            ct, by_columns = best_batch(batch, cols, batch_len)
            rt, out_columns = best_batch(run_columns, cols, batch_len)
            want = list(check) if isinstance(check, tuple) else check
            if isinstance(out_columns[0], list):
                out_columns = [list(row) for row in zip(*out_columns)]
            if results[0] != want or by_columns != results or out_columns != results:
                raise AssertionError(f"{name} on {label}: run_batch gave {results[0]!r} and {by_columns[0]!r}, "
                                     f"a period {check!r}")
            old_tg, old_period, _, _, _, _ = make(arch, "process")
            old = best_per_period(old_period, slow)
            if old_period(0) != check:
                raise AssertionError(f"{name} on {label}: the process path gave {old_period(0)!r}, not {check!r}")
            rows.append({"program": name, "target": label, "path": f"Target ({kind})", "seconds": new,
                         "plain": base, "process": old})
            rows.append({"program": name, "target": label, "path": f"run_batch of {batch_len:,} ({kind})",
                         "seconds": bt, "plain": base, "process": old})
            rows.append({"program": name, "target": label, "path": f"run_batch of {batch_len:,}, columns ({kind})",
                         "seconds": ct, "plain": base, "process": old})
            rows.append({"program": name, "target": label, "path": f"run_columns of {batch_len:,} ({kind})",
                         "seconds": rt, "plain": base, "process": old})
            rows.append({"program": name, "target": label, "path": "Target, one coparun per run", "seconds": old,
                         "plain": base, "process": old})
            tg.close()
            old_tg.close()
    return rows


def markdown(rows: List[Dict[str, Any]]) -> List[str]:
    lines = ["| program | target | path | µs per period | × plain Python | process-per-run / this |",
             "|---|---|---|---:|---:|---:|"]
    for r in rows:
        ratio = r["seconds"] / r["plain"]
        speedup = f"{r['process'] / r['seconds']:,.0f}" if "process" in r else ""
        lines.append(f"| {r['program']} | {r['target']} | {r['path']} | {r['seconds'] * 1e6:,.2f} | "
                     f"{ratio:,.2f} | {speedup} |")
    return lines


def section(rows: List[Dict[str, Any]], quick: bool) -> List[str]:
    """The docs/benchmarks.md section (tools/bench/run_benchmarks.py writes it too)."""
    return ["## Control periods through Target", "",
            "One control period from Python: write the inputs, run once, read the outputs (`write_value`, `run`, "
            "`read_value`), for the README program (2 inputs, 3 outputs) and the `dot` benchmark with n = 10 "
            "(20 inputs, 1 output), against plain Python evaluating the same arithmetic on floats. `Target` "
            "runs host images in process (`libcopapy-runtime.so`) and thumbv7em images in one "
            "`qemu-arm coparun-armhf --serve` per program; `run_batch` runs many periods in one call; "
            "'columns' is `run_batch({input: [value of each period]}, outputs)` (a result per period), `run_columns` "
            "the same returning one list per output; "
            "'one coparun per run' is the path before the persistent runners (one process per `run()`). "
            "`run_batch` is timed without making its list of inputs or columns. "
            f"`tools/bench/python_runs.py{' --quick' if quick else ''}`, best of 5 (of 3 for the batches), "
            "garbage collection off while timing (as timeit does), all in one run.", ""] + markdown(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer periods (a smoke test of the script)")
    a = ap.parse_args()
    print("\n".join(section(measure(a.quick), a.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
