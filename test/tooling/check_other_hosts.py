#!/usr/bin/env python3
"""The compiler on other hosts (issue 11): every C and C++ source of lib/ and
tools/ compiles for an AArch64 host (aarch64-linux-gnu-g++/gcc -fsyntax-only,
with the build's own flags from compile_commands.json, against the same
LLVM, fmt, nlohmann_json and CLI11 headers), and lib/target/target.cpp picks
aarch64 as the host target there and x86_64 here.

These machines cannot install arm64 libraries (dpkg --add-architecture breaks
apt-get update on their mirrors), so linking and running on AArch64 is out of
reach; compiling is the proof available. A missing cross compiler is a
failure, not a skip: tools/deps.sh installs it.
"""
import argparse
import json
import re
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _checks import check, failures

CROSS = {".cpp": "aarch64-linux-gnu-g++", ".c": "aarch64-linux-gnu-gcc"}
# Host headers of the libraries (fmt, nlohmann, CLI11) live in /usr/include;
# searched after the cross compiler's own C library headers.
EXTRA = ["-idirafter", "/usr/include"]


def cross_command(entry: dict, compiler: str, mode: str) -> list:
    """The build's command for one file, for the cross compiler: the same
    -I/-D/-std/-isystem flags, without the output and dependency options."""
    args = shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])
    out = [compiler]
    skip = False
    for a in args[1:]:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MT", "-MQ"):
            skip = True
            continue
        if a in ("-c", "-MD", "-MMD") or a == entry["file"]:
            continue
        # The host's CPU and the sanitize preset's clang-only sanitizers
        # (fuzzer-no-link) say nothing about the source.
        if a.startswith(("-march=", "-mtune=", "-fsanitize", "-fno-sanitize")):
            continue
        out.append(a)
    return out + EXTRA + [mode, entry["file"]]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--compile-commands", required=True, type=Path)
    ap.add_argument("--source", required=True, type=Path)
    a = ap.parse_args()
    for tool in CROSS.values():
        check(f"{tool} is installed (tools/deps.sh)", shutil.which(tool) is not None)
    if failures:
        return 1
    source = a.source.resolve()
    entries = [e for e in json.loads(a.compile_commands.read_text())
               if Path(e["file"]).resolve().is_relative_to(source / "lib")
               or Path(e["file"]).resolve().is_relative_to(source / "tools")]
    entries = list({e["file"]: e for e in entries}.values())  # a file built for several targets: once
    check(f"compile_commands.json names the sources of lib/ and tools/ ({len(entries)})", len(entries) >= 30)

    def syntax(entry: dict):
        cmd = cross_command(entry, CROSS[Path(entry["file"]).suffix], "-fsyntax-only")
        p = subprocess.run(cmd, cwd=entry["directory"], capture_output=True, text=True)
        return entry["file"], p

    with ThreadPoolExecutor(max_workers=2) as pool:
        for path, p in pool.map(syntax, entries):
            rel = Path(path).resolve().relative_to(source)
            check(f"{rel} compiles for aarch64", p.returncode == 0, p.stderr[-3000:])

    # The host target, as the preprocessor sees it on each machine.
    target_cpp = next(e for e in entries if e["file"].endswith("lib/target/target.cpp"))
    for compiler, want in (("aarch64-linux-gnu-g++", "aarch64"), (target_cpp["command"].split()[0], "x86_64")):
        cmd = cross_command(target_cpp, compiler, "-E")
        p = subprocess.run(cmd, cwd=target_cpp["directory"], capture_output=True, text=True)
        got = re.findall(r'kHostTargetName = "([a-z0-9_]*)"', p.stdout)
        check(f"built by {compiler}, the host target is {want} (got {got})", p.returncode == 0 and got == [want],
              p.stderr[-2000:])
    if failures:
        print(f"{len(failures)} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
