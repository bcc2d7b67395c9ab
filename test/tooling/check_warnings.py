#!/usr/bin/env python3
"""Recompiles sources with their exact build command plus -Werror.

    check_warnings.py --compile-commands build/compile_commands.json FILE...

A clean build prints no warnings (issue 13). GCC 12 warned falsely
(-Warray-bounds, -Wrestrict) in test/unit/test_dag.cpp and test_ir.cpp,
inside libstdc++ inlined into test helpers; the helpers were rewritten. This
recompiles those files as the build does, warnings as errors, output to
/dev/null, so that such a warning cannot come back unnoticed.
"""
import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compile-commands", required=True)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    entries = {str(Path(e["file"]).resolve()): e for e in json.loads(Path(a.compile_commands).read_text())}
    bad = 0
    for f in a.files:
        e = entries.get(str(Path(f).resolve()))
        if e is None:
            print(f"FAIL {f}: not in {a.compile_commands}")
            bad += 1
            continue
        args = shlex.split(e["command"])
        if "-o" in args:  # write nothing into the build tree
            i = args.index("-o")
            args[i + 1] = "/dev/null"
        p = subprocess.run(args + ["-Werror"], cwd=e["directory"], capture_output=True, text=True)
        warnings = p.stderr.count("warning:") + p.stderr.count("error:")
        print(("ok   " if p.returncode == 0 and not p.stderr.strip() else "FAIL ") +
              f"{f}: compiles without warnings ({warnings} diagnostics)")
        if p.returncode != 0 or p.stderr.strip():
            print(p.stderr[-3000:])
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
