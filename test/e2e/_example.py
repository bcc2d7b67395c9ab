"""Runs a script from examples/ unchanged, as a user would, for a target.

Shared by the e2e checks of the examples: the target comes from --target or
$COPAPY_TARGET (cp.Target() with no argument honours it), the tracer from
the checkout.
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

REPO = Path(__file__).resolve().parents[2]


def run_example(script: str, description: str) -> Tuple[str, str, List[str]]:
    """Parses --target, runs examples/<script> and returns (target label,
    what it printed, problems so far: a failed run is one)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--target", default=None, help="copapy-cc target name (default: $COPAPY_TARGET or the host)")
    args = parser.parse_args()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "tools" / "python"), env.get("PYTHONPATH")]))
    if args.target:
        env["COPAPY_TARGET"] = args.target
    label = env.get("COPAPY_TARGET") or "host"
    proc = subprocess.run([sys.executable, str(REPO / "examples" / script)], capture_output=True, text=True, env=env)
    problems = []
    if proc.returncode != 0:
        problems.append(f"examples/{script} exited with status {proc.returncode}:\n{proc.stderr.strip()}")
    return label, proc.stdout, problems
