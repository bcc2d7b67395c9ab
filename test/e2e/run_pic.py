#!/usr/bin/env python3
"""Position-independent images: `copapy-cc build --pic` on a set of programs.

For each program (the three code-quality benchmark programs, one using every
libm-backed and rounding op, one with integer division, modulo and shifts, and
one with more than 16 KiB of data, so that AArch64 and Arm use far operands),
the image built with --pic must exist and its header must say patch_count 0
(read from the file, independently of the compiler's own check). Every such
image is run, and its outputs must be bit for bit those of the same program
built without --pic; the large program's are also compared with a binary32
reference, so the far operand sequences are checked.

Every program must build with --pic on every target: library code too is
position independent everywhere (musl -fPIE / -fpie / medany, newlib -fPIE
on thumbv7em; until 2026-12-01 thumbv7em's picolibc and i686's own stencil
constants needed patches, and this script kept a list of expected failures).

    python3 test/e2e/run_pic.py --target NAME

Prints `e2e-pic[<target>]: N passed, M failed` and every failure.
"""
import argparse
import json
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools/python"))
sys.path.insert(0, str(ROOT / "tools/bench"))
import copapy as cp  # noqa: E402
from copapy._target import _command_line, find_tool  # noqa: E402
from copapy._value import make, operand_node  # noqa: E402
import code_quality  # noqa: E402

CP_HDR_PATCH_COUNT = 36  # include/copapy/image.h
LARGE_N = 3000           # 3 slots per element: about 36 KiB of data

def raw(op: str) -> Callable[..., Any]:
    return lambda *args: make(op, *(operand_node(a) for a in args))


def libm_program() -> Dict[str, Any]:
    x, y = cp.value(0.5, name="x"), cp.value(2.0, name="y")
    out = {op: raw(op)(x) for op in ("exp", "log", "sin", "cos", "tan", "asin", "acos", "atan", "tanh", "floor",
                                     "ceil", "trunc", "round", "sqrt")}
    out.update({op: raw(op)(x, y) for op in ("atan2", "pow", "hypot", "floordiv", "mod")})
    return out


def int_program() -> Dict[str, Any]:
    a, b = cp.value(-7, name="a"), cp.value(3, name="b")
    return {"q": a // b, "r": a % b, "l": a << b, "s": a >> b, "m": a * b - (a & b) + (a | b) ^ b}


def large_program() -> Dict[str, Any]:
    xs = [cp.value(float(i) * 0.5, name=f"x{i}") for i in range(LARGE_N)]
    parts = [x * 0.25 + 1.0 for x in xs]
    return {"total": sum(parts[1:], parts[0]), "last": parts[-1]}


def f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def large_reference() -> Dict[str, float]:
    parts = [f32(f32(f32(i * 0.5) * 0.25) + 1.0) for i in range(LARGE_N)]
    total = parts[0]
    for p in parts[1:]:
        total = f32(total + p)
    return {"total": total, "last": parts[-1]}


PROGRAMS: List[Tuple[str, Callable[[], Dict[str, Any]]]] = [
    ("dot", code_quality.dot_program), ("rotation", code_quality.rotation_program), ("pid", code_quality.pid_program),
    ("libm", libm_program), ("int", int_program), ("large", large_program)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", required=True)
    a = ap.parse_args()
    cc = find_tool("copapy-cc", "COPAPY_CC")
    failures: List[str] = []
    passed = 0
    with tempfile.TemporaryDirectory() as d:
        for name, make_program in PROGRAMS:
            dag, image = Path(d) / f"{name}.json", Path(d) / f"{name}.cpimg"
            cp.export(str(dag), **make_program())
            proc = subprocess.run([cc, "build", str(dag), "-t", a.target, "--pic", "-o", str(image)],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                failures.append(f"{name}: copapy-cc --pic failed (status {proc.returncode}): {proc.stderr.strip()}")
                continue
            patches = struct.unpack_from("<I", image.read_bytes(), CP_HDR_PATCH_COUNT)[0]
            if patches != 0:
                failures.append(f"{name}: the --pic image has {patches} patches")
                continue
            fixed = Path(d) / f"{name}.patched.cpimg"
            proc = subprocess.run([cc, "build", str(dag), "-t", a.target, "-o", str(fixed)], capture_output=True,
                                  text=True)
            if proc.returncode != 0:
                failures.append(f"{name}: copapy-cc without --pic failed (status {proc.returncode}): {proc.stderr.strip()}")
                continue
            outputs = []
            for img in (image, fixed):
                run = subprocess.run(_command_line(a.target, [str(img)]), capture_output=True, text=True)
                if run.returncode != 0:
                    failures.append(f"{name}: running {img.name} failed: {run.stderr.strip()}")
                    break
                outputs.append(run.stdout)
            if len(outputs) != 2:
                continue
            if outputs[0] != outputs[1]:  # the runner prints floats exactly (round-trip repr)
                failures.append(f"{name}: the --pic image printed {outputs[0].strip()}, without --pic "
                                f"{outputs[1].strip()}")
                continue
            if name == "large":
                got, want = json.loads(outputs[0]), large_reference()
                wrong = [f"{name}: {k} = {got[k]!r}, expected {v!r}" for k, v in want.items()
                         if struct.pack("<f", got[k]) != struct.pack("<f", v)]
                if wrong:
                    failures.extend(wrong)
                    continue
            passed += 1
    print(f"e2e-pic[{a.target}]: {passed} passed, {len(failures)} failed")
    for f in failures:
        print("  FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
