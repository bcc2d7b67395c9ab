#!/usr/bin/env python3
"""Instructions executed per run by each libm-backed op, under qemu.

For every op that calls the target's math library (exp, log, sin, ..., float
// and %), a one-op program `r = op(x[, y])` is compiled and run under qemu
single-stepping, and the instructions executed per run are counted by
code_quality.py's executed() ((101 runs - 1 run) / 100). With --baseline DIR, the
same programs are also compiled with the stencil object in DIR (for example
one saved from an earlier build) and the ratio is printed: this is how a
change of math library is measured.

    python3 tools/bench/libm_exec.py [--target thumbv7em] [--x 0.5] [--baseline DIR]

The count includes the entry, the operand loads, the store and the exit
(about 15 instructions), the same for both sides. Arguments are x (default
0.5) and y = 2.0 for the two-operand ops: a single point, not a distribution.
"""
import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools/python"))
sys.path.insert(0, str(ROOT / "tools/bench"))
import code_quality  # noqa: E402  (its executed(): the same counting)
import copapy as cp  # noqa: E402
from copapy._target import _runner_command  # noqa: E402
from copapy._value import make, operand_node  # noqa: E402

CC = ROOT / "build" / "bin" / "copapy-cc"
UNARY = ["exp", "log", "sin", "cos", "tan", "asin", "acos", "atan", "tanh", "floor", "ceil", "trunc", "round"]
BINARY = ["atan2", "pow", "hypot", "floordiv", "mod"]


def executed_per_run(target: str, image: Path, tmp: Path) -> float:
    runner = _runner_command(target)
    if not runner or not runner[0].endswith(tuple(f"qemu-{a}" for a in ("arm", "aarch64", "riscv64", "i386"))):
        raise SystemExit(f"libm_exec: {target} does not run under qemu-user here ({runner})")
    return code_quality.executed(lambda n: [*runner[1:], str(image), "--repeat", str(n)], runner[0], tmp)


def measure(target: str, stencil_dir: Optional[str], programs: Dict[str, Path], tmp: Path) -> Dict[str, float]:
    env = dict(os.environ)
    if stencil_dir:
        env["COPAPY_STENCIL_DIR"] = stencil_dir
    out = {}
    for op, dag in programs.items():
        image = tmp / f"{op}.cpimg"
        subprocess.run([str(CC), "build", str(dag), "-t", target, "-o", str(image)], check=True, capture_output=True,
                       env=env)
        out[op] = executed_per_run(target, image, tmp)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default="thumbv7em")
    ap.add_argument("--x", type=float, default=0.5)
    ap.add_argument("--baseline", help="a directory holding another <target>.o to compare with")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        programs = {}
        for op in UNARY + BINARY:
            x, y = cp.value(a.x, name="x"), cp.value(2.0, name="y")
            args = (x, y) if op in BINARY else (x,)
            programs[op] = tmp / f"{op}.json"
            cp.export(str(programs[op]), r=make(op, *(operand_node(v) for v in args)))
        ours = measure(a.target, None, programs, tmp)
        base = measure(a.target, a.baseline, programs, tmp) if a.baseline else None
    rows: List[str] = [f"| op | executed/run ({a.target}) |" + (" baseline | × baseline |" if base else ""),
                       "|---|---:|" + ("---:|---:|" if base else "")]
    for op in UNARY + BINARY:
        row = f"| {op} | {ours[op]:,.0f} |"
        if base:
            row += f" {base[op]:,.0f} | {ours[op] / base[op]:.2f} |"
        rows.append(row)
    total = sum(ours.values())
    rows.append(f"| all | {total:,.0f} |" + (f" {sum(base.values()):,.0f} | {total / sum(base.values()):.2f} |"
                                             if base else ""))
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
