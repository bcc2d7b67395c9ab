#!/usr/bin/env python3
"""The manual pages and bash completion, as `cmake --install` installs them.

    check_man.py --build BUILD_DIR --work DIR

Installs the build into DIR/prefix, then checks that
  - PREFIX/share/man/man1/{copapy-cc,coparun}.1 exist and render with
    `man -l` (or nroff) without warnings;
  - every option the programs' --help prints is described in its page;
  - PREFIX/share/bash-completion/completions/{copapy-cc,coparun} exist and,
    sourced in bash, complete subcommands, options and target names.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from _checks import check, finish  # noqa: E402


def run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=120, **kw)


def render(page):
    """The page as text, and the warnings of the formatter."""
    env = dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="", LC_ALL="C.UTF-8")
    if shutil.which("man"):
        p = run(["man", "--warnings", "-l", page], env=env)
    else:
        p = run(["nroff", "-man", "-ww", page], env=env)
    text = re.sub(r".\x08", "", p.stdout)  # overstrike bold/underline
    return p.returncode, text, p.stderr


def help_options(cmd):
    """The long options (and -O, -t, -o) a --help text lists."""
    text = run(cmd + ["--help"]).stdout
    return sorted(set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])\b", text)) - {"-h"})


def complete(script, bin_dir, words):
    """COMPREPLY for the command line `words` (the last one being completed)."""
    fn = "_coparun" if words[0].startswith("coparun") else "_copapy_cc"
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    prog = (f"source '{script}'\nPATH='{bin_dir}':$PATH\nCOMP_WORDS=({quoted})\n"
            f"COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n{fn}\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n")
    p = run(["bash", "--norc", "--noprofile", "-c", prog])
    return p.stdout.split(), p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    build, work = Path(a.build), Path(a.work)
    shutil.rmtree(work, ignore_errors=True)
    prefix = work / "prefix"
    p = run(["cmake", "--install", build, "--prefix", prefix])
    check("cmake --install into a fresh prefix", p.returncode == 0, p.stdout + p.stderr)

    cc = [prefix / "bin/copapy-cc"]
    pages = {"copapy-cc": [cc, cc + ["build"], cc + ["stencils"], cc + ["targets"]],
             "coparun": [[prefix / "bin/coparun"]]}
    for name, commands in pages.items():
        page = prefix / f"share/man/man1/{name}.1"
        check(f"{page.relative_to(prefix)} is installed", page.exists())
        if not page.exists():
            continue
        rc, text, warnings = render(page)
        check(f"{name}.1 renders without warnings", rc == 0 and not warnings.strip() and "NAME" in text,
              warnings + text[:500])
        check(f"{name}.1 has NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS",
              all(re.search(rf"^{h}$", text, re.M) for h in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS",
                                                              "EXIT STATUS")))
        for cmd in commands:
            missing = [o for o in help_options(cmd) if o not in text]
            check(f"{name}.1 describes every option of `{' '.join(str(c.name) if isinstance(c, Path) else c for c in cmd)}"
                  f" --help`" + (f" (missing: {', '.join(missing)})" if missing else ""), not missing)

    bin_dir = prefix / "bin"
    for name in ("copapy-cc", "coparun"):
        script = prefix / f"share/bash-completion/completions/{name}"
        check(f"{script.relative_to(prefix)} is installed", script.exists())
    script = prefix / "share/bash-completion/completions/copapy-cc"
    if script.exists():
        got, err = complete(script, bin_dir, ["copapy-cc", ""])
        check(f"copapy-cc <TAB> completes the subcommands (got {got})",
              {"build", "stencils", "targets"} <= set(got) and not err, err)
        got, _ = complete(script, bin_dir, ["copapy-cc", "st"])
        check(f"copapy-cc st<TAB> -> stencils (got {got})", got == ["stencils"])
        got, _ = complete(script, bin_dir, ["copapy-cc", "build", "prog.json", "--em"])
        check(f"copapy-cc build --em<TAB> -> --emit (got {got})", got == ["--emit"])
        got, _ = complete(script, bin_dir, ["copapy-cc", "build", "prog.json", "-t", ""])
        table = run(cc + ["targets", "--json"]).stdout
        import json
        names = {t["name"] for t in json.loads(table)} | {x for t in json.loads(table) for x in t["aliases"]}
        check(f"copapy-cc build -t <TAB> completes every target name and alias (got {got})", set(got) == names)
        got, _ = complete(script, bin_dir, ["copapy-cc", "build", "prog.json", "--emit", "c"])
        check(f"copapy-cc build --emit c<TAB> (got {got})", set(got) == {"c", "c-header"})
    script = prefix / "share/bash-completion/completions/coparun"
    if script.exists():
        got, _ = complete(script, bin_dir, ["coparun", "prog.cpimg", "--s"])
        check(f"coparun prog.cpimg --s<TAB> (got {got})", set(got) == {"--set", "--serve"})

    return finish(work)


if __name__ == "__main__":
    sys.exit(main())
