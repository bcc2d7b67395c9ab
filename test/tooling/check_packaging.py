#!/usr/bin/env python3
"""The tracer as users install it.

1. `pip install tools/python` into a fresh virtual environment, offline
   (--no-index: the in-tree build backend needs nothing from an index);
   the installed package imports, has py.typed, and copapy.__version__
   equals the version `copapy-cc --version` prints.
2. The tracer that `cmake --install` put into PREFIX/share/copapy-cc/python
   finds PREFIX/bin/copapy-cc and coparun by itself (no COPAPY_CC, no
   checkout build/bin, nothing on PATH) and compiles and runs a program,
   in process through PREFIX/lib/libcopapy-runtime.so.

    python3 test/tooling/check_packaging.py --cc build/bin/copapy-cc --prefix build/test-install --work DIR
"""
import argparse
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(cmd, **kw):
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise SystemExit(f"FAIL {' '.join(map(str, cmd))} exited with {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def clean_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPAPY_") and k != "PYTHONPATH"}
    env["PATH"] = "/usr/bin:/bin"  # no build/bin, no pyenv shims with tools next to them
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def check_pip(work: Path, cc: str) -> list:
    problems = []
    venv = work / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    run([sys.executable, "-m", "venv", str(venv)])
    py = venv / "bin" / "python"
    run([str(py), "-m", "pip", "install", "--no-index", "--no-cache-dir", "--quiet", str(REPO / "tools" / "python")],
        env=clean_env())
    probe = textwrap.dedent("""
        import importlib.resources, os, copapy
        print(copapy.__version__)
        print(os.path.dirname(copapy.__file__))
        print(os.path.exists(os.path.join(os.path.dirname(copapy.__file__), "py.typed")))
    """)
    out = run([str(py), "-c", probe], env=clean_env(), cwd=str(work)).split("\n")
    version, where, typed = out[0], out[1], out[2]
    if not where.startswith(str(venv)):
        problems.append(f"the venv imports copapy from {where}, not from its site-packages")
    if typed != "True":
        problems.append("the installed package has no py.typed")
    cc_version = run([cc, "--version"]).split()[1]
    if version != cc_version:
        problems.append(f"copapy.__version__ is {version!r} but copapy-cc --version says {cc_version!r}")
    return problems


def check_installed_tracer(work: Path, prefix: Path) -> list:
    problems = []
    script = work / "installed.py"
    script.write_text(textwrap.dedent("""
        import copapy as cp
        from copapy import _target
        a = cp.value(1.5, name="a")
        y = cp.sqrt(a * a + 6.75)
        tg = cp.Target()
        tg.compile(y)
        tg.run()
        print(_target.find_tool("copapy-cc", "COPAPY_CC"))
        print(tg.read_value(y))
        print(tg._runner.kind, tg._runner._lib.path if tg._runner.kind == "inprocess" else "")
    """))
    env = clean_env()
    env["PYTHONPATH"] = str(prefix / "share" / "copapy-cc" / "python")
    out = run([sys.executable, str(script)], env=env, cwd=str(work)).split("\n")
    if Path(out[0]).resolve() != (prefix / "bin" / "copapy-cc").resolve():
        problems.append(f"the installed tracer found {out[0]}, not {prefix / 'bin' / 'copapy-cc'}")
    if out[1] != "3.0":
        problems.append(f"the installed tracer computed {out[1]!r}, expected 3.0")
    # Host programs run in process, through the library installed with the tools.
    kind, _, library = out[2].partition(" ")
    if kind != "inprocess" or not library or prefix.resolve() not in Path(library).resolve().parents:
        problems.append(f"the installed tracer ran {kind!r} with {library!r}, expected 'inprocess' with "
                        f"{prefix}/lib*/libcopapy-runtime.so")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cc", required=True)
    ap.add_argument("--prefix", required=True, type=Path)
    ap.add_argument("--work", required=True, type=Path)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    checks = {"pip install (offline)": lambda: check_pip(args.work, args.cc),
              "installed tracer finds PREFIX/bin and PREFIX/lib": lambda: check_installed_tracer(args.work, args.prefix)}
    failed = 0
    for name, check in checks.items():
        problems = check()
        for p in problems:
            print(f"FAIL {name}: {p}")
        if problems:
            failed += 1
        else:
            print(f"ok {name}")
    print(f"packaging: {len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
