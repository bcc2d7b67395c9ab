#!/usr/bin/env python3
"""Runs the README's transcripts and compares what they print.

    check_readme.py --build BUILD_DIR --work DIR [--readme README.md]

A fenced block directly after the line `<!-- transcript -->` is a shell
session: `$ COMMAND` lines (a trailing backslash continues a command on the
next line) and, after each, the output it must print (standard output and
standard error together). A line `...` stands for any number of lines. A
command shown without output must exit with status 0 (its output is not
compared). After `<!-- transcript: COMMAND -->` the whole block is the
output of COMMAND.

The commands run in order, as a reader would type them, in one scratch
directory DIR that stands for the checkout: `build` is a link to the build
tree and `examples`, `tools`, `test`, `docs` are links to the sources, so
what the commands write stays out of the source tree. The environment has
no PYTHONPATH or COPAPY_* variables: a command that needs the tracer must
say so. Transcripts show the checkout as ~/copapy-cc: the checkout's, the
build tree's and DIR's absolute paths in the output are replaced by it.
A command whose program is not installed (`dot` without Graphviz) is
skipped, and said so.

Also checks that the README's target table lists every target with exactly
the aliases `copapy-cc targets --json` reports.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from _checks import check, finish  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MARK = re.compile(r"^<!-- transcript(?::\s*(.*?))?\s*-->$")

def blocks(lines):
    """(line number, marker command or None, block lines) for every marked block."""
    i = 0
    while i < len(lines):
        m = MARK.match(lines[i].strip())
        if m and i + 1 < len(lines) and lines[i + 1].startswith("```"):
            j = i + 2
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            yield i + 1, m.group(1), lines[i + 2:j]
            i = j
        i += 1


def session(block):
    """[(command, expected output lines)] of a `$ ` block."""
    steps = []
    it = iter(block)
    for line in it:
        if line.startswith("$ "):
            cmd = line[2:]
            while cmd.endswith("\\"):
                cmd = cmd + "\n" + next(it)
            steps.append((cmd, []))
        elif steps:
            steps[-1][1].append(line)
        else:
            raise SystemExit(f"README: transcript output before the first command: {line!r}")
    return steps


def matches(expected, actual):
    """expected (with `...` wildcard lines) against actual lines."""
    e = [x.rstrip() for x in expected]
    a = [x.rstrip() for x in actual]
    for lines in (e, a):  # trailing blank lines do not count
        while lines and not lines[-1]:
            lines.pop()
    # can[i][j]: e[i:] matches a[j:]
    can = [[False] * (len(a) + 1) for _ in range(len(e) + 1)]
    can[len(e)][len(a)] = True
    for i in range(len(e) - 1, -1, -1):
        for j in range(len(a), -1, -1):
            if e[i] == "...":
                can[i][j] = can[i + 1][j] or (j < len(a) and can[i][j + 1])
            else:
                can[i][j] = j < len(a) and e[i] == a[j] and can[i + 1][j + 1]
    return can[0][0]


def program_of(cmd):
    words = cmd.split()
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        words.pop(0)
    return words[0] if words else ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--readme", default=str(ROOT / "README.md"))
    a = ap.parse_args()
    build = Path(a.build).resolve()
    work = Path(a.work).resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "build").symlink_to(build)
    for d in ("examples", "tools", "test", "docs"):
        (work / d).symlink_to(ROOT / d)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("COPAPY_")}
    env.update(PYTHONDONTWRITEBYTECODE="1", LC_ALL="C.UTF-8")
    places = sorted({(str(build), "~/copapy-cc/build"), (str(ROOT), "~/copapy-cc"), (str(work), "~/copapy-cc")},
                    key=lambda p: -len(p[0]))

    def run(cmd):
        p = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=work, env=env, capture_output=True,
                           text=True, timeout=600)
        out = p.stdout + p.stderr
        for path, name in places:
            out = out.replace(path, name)
        return p.returncode, out.splitlines()

    text = Path(a.readme).read_text()
    lines = text.splitlines()
    # What the transcripts build in the build tree starts afresh (a CMake
    # cache would keep the toolchain file of an earlier run) and is removed
    # afterwards: its cache names this scratch directory as the source, so a
    # reader typing the same commands in the checkout would meet it.
    made_dirs = [build / m for m in sorted(set(re.findall(r"(?:-B |--prefix |BUILD=)build/([\w.-]+)", text)))]

    def clear_made() -> None:
        for d in made_dirs:
            shutil.rmtree(d, ignore_errors=True)

    clear_made()
    count = 0
    for lineno, marker_cmd, block in blocks(lines):
        steps = [(marker_cmd, block)] if marker_cmd else session(block)
        for cmd, expected in steps:
            count += 1
            short = cmd.split("\n")[0][:90]
            prog = program_of(cmd)
            if "/" not in prog and shutil.which(prog) is None:
                print(f"skip README.md:{lineno}: `{short}`: {prog} is not installed")
                continue
            rc, actual = run(cmd)
            if expected:
                ok = matches(expected, actual)
                diff = ("--- README.md\n" + "\n".join(expected) + "\n--- printed (exit status "
                        f"{rc})\n" + "\n".join(actual))
                check(f"README.md:{lineno}: `{short}` prints what the README shows", ok, diff)
            else:
                check(f"README.md:{lineno}: `{short}` succeeds", rc == 0,
                      f"exit status {rc}\n" + "\n".join(actual[-30:]))
    check(f"the README has transcripts ({count} commands)", count >= 10)
    clear_made()

    # The target table: | `name` (`alias`, `alias`) | ...
    table = json.loads(subprocess.run([build / "bin/copapy-cc", "targets", "--json"], capture_output=True,
                                      text=True).stdout)
    rows = {}
    for line in lines:
        m = re.match(r"^\| `([a-z0-9_]+)`(?: \(([^)]*)\))? \|", line)
        if m:
            rows[m.group(1)] = re.findall(r"`([^`]+)`", m.group(2) or "")
    want = {t["name"]: t["aliases"] for t in table}
    check("the README's target table lists every target with the aliases copapy-cc reports",
          {k: v for k, v in rows.items() if k in want} == want and set(want) <= set(rows),
          f"README: {rows}\ncopapy-cc: {want}")

    return finish(work)


if __name__ == "__main__":
    sys.exit(main())
