#!/usr/bin/env python3
"""Configures fresh build trees of this checkout the way a new user would, offline.

    check_configure.py --source DIR --musl TREE --work DIR

Every configure runs with a fake `apt-get` first on PATH that records its
call and fails as apt-get does without deb-src entries or network, so a
configure that needs the network shows up. Checks:
  - with the per-machine cache present (COPAPY_CACHE_DIR), a new build tree
    configures without apt-get;
  - -DCOPAPY_MUSL_SOURCE accepts an unpacked tree and a tarball, again without apt-get;
  - with no cache and no network, configuring fails with a message that says why
    the network is needed and how to do without it;
  - -DCOPAPY_TARGETS=x86_64 generates the stencils of x86_64 only (and no cross
    runner), aliases are accepted, an unknown name is a clear configure error.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from _checks import check, finish  # noqa: E402


class World:
    def __init__(self, source, work):
        self.source = source
        self.work = work
        self.fakebin = work / "fakebin"
        self.fakebin.mkdir(parents=True)
        self.log = work / "apt-calls.log"
        for tool in ("apt-get", "apt"):
            f = self.fakebin / tool
            f.write_text("#!/bin/sh\n"
                         f"echo \"$0 $*\" >> '{self.log}'\n"
                         "echo \"E: You must put some 'deb-src' URIs in your sources.list\" >&2\n"
                         "exit 100\n")
            f.chmod(0o755)

    def configure(self, name, args, cache):
        build = self.work / name
        shutil.rmtree(build, ignore_errors=True)
        self.log.unlink(missing_ok=True)
        env = dict(os.environ, PATH=f"{self.fakebin}:{os.environ['PATH']}", COPAPY_CACHE_DIR=str(cache))
        env.pop("XDG_CACHE_HOME", None)
        cmd = ["cmake", "-S", str(self.source), "-B", str(build), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
               "-DBUILD_TESTING=OFF"] + args
        print("$", " ".join(cmd), flush=True)
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        apt_called = self.log.exists()
        return p.returncode, p.stdout + p.stderr, apt_called, build


def targets_of(build):
    """The stencil objects and runners the generated build makes."""
    text = (build / "build.ninja").read_text()
    stencils = set(re.findall(r"^build share/copapy-cc/stencils/(\w+)\.o[ :|]", text, re.M))
    runners = set(re.findall(r"^build bin/(coparun-\w+)[ :|]", text, re.M))
    return stencils, runners


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--musl", required=True, help="an unpacked musl source tree (the one the build uses)")
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    source, musl, work = Path(a.source).resolve(), Path(a.musl).resolve(), Path(a.work)
    shutil.rmtree(work, ignore_errors=True)
    w = World(source, work)

    # 1. The cache holds musl (as after the first configure on this machine).
    cache = work / "cache"
    cache.mkdir()
    (cache / "musl").symlink_to(musl)
    rc, out, apt, build = w.configure("cached", ["-DCOPAPY_TARGETS=x86_64"], cache)
    check("a new build tree configures offline from the per-machine cache", rc == 0, out)
    check("... without calling apt-get", not apt)
    if rc == 0:
        stencils, runners = targets_of(build)
        check(f"-DCOPAPY_TARGETS=x86_64 builds the x86_64 stencils only (got {sorted(stencils)})",
              stencils == {"x86_64"})
        check(f"... and no cross runner (got {sorted(runners)})", not runners)
        # tools/quickstart.sh builds the target `quickstart`: what it runs, not the unit tests.
        p = subprocess.run(["ninja", "-C", str(build), "-t", "commands", "quickstart"], capture_output=True, text=True)
        cmds = p.stdout
        check("the quickstart target builds copapy-cc, coparun, the in-process runtime and the host stencils",
              p.returncode == 0 and all(x in cmds for x in ("bin/copapy-cc", "bin/coparun", "libcopapy-runtime.so",
                                                            "stencils/x86_64.o")), p.stdout[-2000:] + p.stderr)
        check("... and not the unit tests", "unit_tests" not in cmds and "catch" not in cmds.lower())

    empty = work / "empty-cache"
    empty.mkdir()
    # 2. An explicit source tree, and a tarball as Debian or musl.libc.org ship it.
    rc, out, apt, build = w.configure("tree", [f"-DCOPAPY_MUSL_SOURCE={musl}", "-DCOPAPY_TARGETS=x86_64"], empty)
    check("-DCOPAPY_MUSL_SOURCE=<source tree> configures offline without apt-get", rc == 0 and not apt, out)
    tarball = work / "musl_1.2.3.orig.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(musl / "src/math", arcname="musl-1.2.3/src/math")
        for sub in ("tools", "arch", "include", "src/include", "src/internal"):
            tar.add(musl / sub, arcname=f"musl-1.2.3/{sub}")
    rc, out, apt, build = w.configure("tarball", [f"-DCOPAPY_MUSL_SOURCE={tarball}", "-DCOPAPY_TARGETS=arm64;cortex-m4"],
                                      empty)
    check("-DCOPAPY_MUSL_SOURCE=<tarball> configures offline without apt-get", rc == 0 and not apt, out)
    if rc == 0:
        check("... unpacked into the build tree", (build / "_deps/musl-source/tree/src/math/sinf.c").exists())
        stencils, runners = targets_of(build)
        check(f"-DCOPAPY_TARGETS=arm64;cortex-m4 (aliases) selects aarch64 and thumbv7em (got {sorted(stencils)})",
              stencils == {"aarch64", "thumbv7em"})
        check(f"... and builds their runners (got {sorted(runners)})", runners == {"coparun-aarch64", "coparun-armhf"})
    check("no musl tree appeared in the empty cache", not (empty / "musl").exists())

    # 3. No cache, no network: a clear failure.
    rc, out, apt, build = w.configure("offline", ["-DCOPAPY_TARGETS=x86_64"], empty)
    check("with no cache and no network, configuring fails", rc != 0, out)
    check("... after trying apt-get", apt)
    said = " ".join(out.split())
    for phrase in ("needs the network", "-DCOPAPY_MUSL_SOURCE=", str(empty / "musl")):
        check(f"... and the message says {phrase!r}", phrase in said, out)
    rc, out, apt, build = w.configure("missing", ["-DCOPAPY_MUSL_SOURCE=/nonexistent/musl.tar.gz"], empty)
    check("a missing COPAPY_MUSL_SOURCE is a clear error",
          rc != 0 and "COPAPY_MUSL_SOURCE=/nonexistent/musl.tar.gz: no such file or directory" in out and not apt, out)

    # 4. An unknown target name.
    rc, out, apt, build = w.configure("unknown", ["-DCOPAPY_TARGETS=x86_64,pdp11"], cache)
    said = " ".join(out.split())
    check("-DCOPAPY_TARGETS with an unknown name is a configure error naming it and the known ones",
          rc != 0 and "COPAPY_TARGETS: unknown target 'pdp11'" in said and "aarch64 (arm64)" in said, out)

    return finish(work)


if __name__ == "__main__":
    sys.exit(main())
