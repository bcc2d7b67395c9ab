#!/usr/bin/env python3
"""Golden listings: the stitched code of test/golden/program.json per target.

A change in stencils, planning or layout changes these files; the diff is
reviewed and the files regenerated with --update.

    python3 test/golden/check_golden.py --cc build/bin/copapy-cc [--update] [TARGET ...]
"""
import argparse
import difflib
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cc", required=True)
    ap.add_argument("--update", action="store_true")
    ap.add_argument("targets", nargs="*", default=["x86_64", "aarch64", "armv7", "thumbv7", "thumbv7em"])
    a = ap.parse_args()
    failed = 0
    for t in a.targets:
        proc = subprocess.run([a.cc, "build", str(HERE / "program.json"), "-t", t, "--emit", "listing", "-o", "-"],
                              capture_output=True, text=True)
        golden = HERE / f"{t}.lst"
        if proc.returncode != 0:
            print(f"FAIL {t}: copapy-cc exited with {proc.returncode}\n{proc.stderr}")
            failed += 1
            continue
        if a.update:
            golden.write_text(proc.stdout)
            print(f"updated {golden}")
            continue
        want = golden.read_text() if golden.exists() else ""
        if proc.stdout != want:
            failed += 1
            print(f"FAIL {t}: listing differs from {golden} (review, then rerun with --update)")
            sys.stdout.writelines(difflib.unified_diff(want.splitlines(True), proc.stdout.splitlines(True),
                                                       str(golden), "copapy-cc", n=2))
    n = len(a.targets)
    print(f"golden: {n - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
