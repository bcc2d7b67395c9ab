#!/usr/bin/env python3
"""Runs examples/readme.py unchanged, as a user would, and checks what it prints.

The example uses cp.Target() (the host); the environment variable
COPAPY_TARGET, or --target here, makes it compile and run for another
target instead. Expected: c = 1.99 exactly as binary32 (1.99000001), and
d = c**2 + sin(0.25) ~ 4.2075, e = sqrt(0.87) ~ 0.93274 within 1e-5.

    python3 test/e2e/run_readme.py [--target NAME]

Prints `e2e-readme[<target>]: ok` or what went wrong; exits 1 on failure.
"""
import math
import re
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _example import run_example  # noqa: E402

TOLERANCE = 1e-5


def f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def main() -> int:
    label, stdout, problems = run_example("readme.py", __doc__.split("\n\n")[0])
    printed = dict(re.findall(r"^Result (\w+): (\S+)$", stdout, re.MULTILINE))

    c = f32(1.99)
    expected = {"c": (c, 0.0), "d": (1.99 ** 2 + math.sin(0.25), TOLERANCE), "e": (math.sqrt(0.87), TOLERANCE)}
    for name, (want, tolerance) in expected.items():
        if name not in printed:
            problems.append(f"no line 'Result {name}: ...' in the output")
            continue
        try:
            got = float(printed[name])
        except ValueError:
            problems.append(f"Result {name}: {printed[name]!r} is not a number")
            continue
        if not abs(got - want) <= tolerance:
            exact = "exactly" if tolerance == 0 else f"within {tolerance}"
            problems.append(f"Result {name}: expected {want!r} {exact}, got {got!r}")

    if problems:
        print(f"--- output of examples/readme.py:\n{stdout}---")
        for p in problems:
            print("FAIL", p)
        print(f"e2e-readme[{label}]: FAILED")
        return 1
    print(f"e2e-readme[{label}]: ok (c={printed['c']}, d={printed['d']}, e={printed['e']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
