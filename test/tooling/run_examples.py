#!/usr/bin/env python3
"""Builds and runs the example projects in examples/ as a user would.

    run_examples.py make       --build BUILD_DIR --work DIR
    run_examples.py cmake      --package DIR (install prefix or build tree) --work DIR
    run_examples.py bare-metal --package DIR --work DIR

Every example traces examples/kinematics.py; the results are checked against
the same formulas evaluated here, and each example also checks that its
dependency tracking works: after a build nothing is out of date, and touching
the stencil object makes the image out of date again (copapy-cc --depfile).
"""
import argparse
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
failures = []


def run(cmd, **kw):
    print("$", " ".join(str(c) for c in cmd), flush=True)
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300, **kw)
    if proc.stdout:
        print(proc.stdout, end="")
    if proc.stderr:
        print(proc.stderr, end="", file=sys.stderr)
    return proc


def must(cmd, **kw):
    proc = run(cmd, **kw)
    if proc.returncode != 0:
        sys.exit(f"FAIL: exit status {proc.returncode}: {' '.join(str(c) for c in cmd)}")
    return proc


def check(what, ok):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def reference(theta1, theta2):
    """examples/kinematics.py in double precision."""
    l1, l2 = 0.30, 0.25
    return (l1 * math.cos(theta1) + l2 * math.cos(theta1 + theta2),
            l1 * math.sin(theta1) + l2 * math.sin(theta1 + theta2))


def check_result(what, got, theta1=0.5, theta2=-0.25):
    want = reference(theta1, theta2)
    ok = all(abs(g - w) <= 4e-7 for g, w in zip(got, want))
    check(f"{what}: x, y = {got[0]!r}, {got[1]!r} (reference {want[0]:.9g}, {want[1]:.9g})", ok)


def fresh(path):
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def make_project(a):
    """examples/make-project with the tools of the build tree, given one by one."""
    work = fresh(Path(a.work))
    stencils = work / "stencils"
    shutil.copytree(Path(a.build) / "share/copapy-cc/stencils", stencils)  # a copy we may touch
    variables = [f"COPAPY_CC={a.build}/bin/copapy-cc", f"COPARUN={a.build}/bin/coparun",
                 f"COPAPY_PYTHONPATH={ROOT}/tools/python", f"COPAPY_CC_FLAGS=--stencils {stencils}",
                 f"BUILD={work}/build"]
    make = ["make", "-C", EXAMPLES / "make-project"] + variables
    out = must(make + ["run"]).stdout
    result = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    check_result("make run", (result["x"], result["y"]))
    depfile = (work / "build/kinematics.d").read_text()
    check("the depfile names the image, the listing, the DAG and the stencil object",
          depfile.startswith(f"{work}/build/kinematics.cpimg {work}/build/kinematics.lst:")
          and f"{stencils}/x86_64.o" in depfile and f"{work}/build/kinematics.json" in depfile)
    check("nothing is out of date after a build", run(make + ["-q", "all"]).returncode == 0)
    os.utime(stencils / "x86_64.o")
    check("a newer stencil object makes the image out of date", run(make + ["-q", "all"]).returncode == 1)
    must(make + ["all"])
    check("rebuilding brings it up to date", run(make + ["-q", "all"]).returncode == 0)


def cmake_build(source, build, configure_args):
    must(["cmake", "-S", source, "-B", build, "-G", "Ninja"] + configure_args)
    # One job: ctest runs tests in parallel already.
    must(["cmake", "--build", build, "-j1"])


def package_args(package):
    """find_package(copapy-cc) in a build tree (copapy-cc_DIR) or an install prefix (CMAKE_PREFIX_PATH)."""
    if (package / "copapy-ccConfig.cmake").exists():
        return [f"-Dcopapy-cc_DIR={package}"]
    return [f"-DCMAKE_PREFIX_PATH={package}"]


def ninja_plans(build):
    """The commands ninja would run now (dry run)."""
    return must(["ninja", "-C", build, "-n"]).stdout


def cmake_project(a):
    """examples/cmake-project against an install prefix or a build tree."""
    work = fresh(Path(a.work))
    package = Path(a.package)
    build = work / "build"
    cmake_build(EXAMPLES / "cmake-project", build, package_args(package))
    embedded = json.loads(must([build / "run_kinematics"]).stdout)
    check_result("run_kinematics (image embedded as a C array)", (embedded["x"], embedded["y"]))
    moved = json.loads(must([build / "run_kinematics", "1", "0.5"]).stdout)
    check_result("run_kinematics 1 0.5", (moved["x"], moved["y"]), 1.0, 0.5)
    coparun = json.loads(must([package / "bin/coparun", build / "kinematics/kinematics.cpimg"]).stdout)
    check("coparun on the image file gives the same bits as the embedded copy",
          all(bits(coparun[k]) == bits(embedded[k]) for k in ("x", "y")))
    check("nothing is out of date after a build", "no work to do" in ninja_plans(build))
    stencil = package / "share/copapy-cc/stencils/x86_64.o"
    os.utime(stencil)
    check("a newer stencil object recompiles the program (DEPFILE)",
          "Compiling copapy program kinematics" in ninja_plans(build))
    must(["cmake", "--build", build, "-j1"])


def bare_metal(a):
    """examples/bare-metal: Cortex-M4 firmware under qemu-system-arm."""
    work = fresh(Path(a.work))
    package = Path(a.package)
    build = work / "build"
    cmake_build(EXAMPLES / "bare-metal", build,
                [f"-DCMAKE_TOOLCHAIN_FILE={EXAMPLES}/bare-metal/cortex-m4.cmake"] + package_args(package))
    proc = run(["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-semihosting", "-kernel",
                build / "firmware.elf"])
    check("the firmware exits with 0", proc.returncode == 0)
    # Semihosting output arrives on stdout or stderr depending on the QEMU version.
    lines = re.findall(r"x=0x([0-9a-f]{8}) y=0x([0-9a-f]{8})", proc.stdout + proc.stderr)
    check("the firmware prints two results", len(lines) == 2)
    if len(lines) != 2:
        return
    # The same program, relocatable, in the Linux runner under qemu-arm: same bits.
    dag = build / "kinematics/kinematics.json"
    image = work / "relocatable.cpimg"
    must([package / "bin/copapy-cc", "build", dag, "-t", "thumbv7em", "-o", image])
    for (x, y), inputs in zip(lines, [(0.5, -0.25), (1.0, 0.5)]):
        got = struct.unpack("<ff", struct.pack("<II", int(x, 16), int(y, 16)))
        check_result(f"firmware, theta = {inputs}", got, *inputs)
        out = must(["qemu-arm", package / "bin/coparun-armhf", image, "--set", f"theta1={inputs[0]}",
                    "--set", f"theta2={inputs[1]}"]).stdout
        user = json.loads(out)
        check(f"qemu-arm coparun-armhf gives the same bits for theta = {inputs}",
              (bits(user["x"]), bits(user["y"])) == (int(x, 16), int(y, 16)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("example", choices=["make", "cmake", "bare-metal"])
    ap.add_argument("--build", help="copapy-cc build tree (make)")
    ap.add_argument("--package", help="copapy-cc install prefix or build tree (cmake, bare-metal)")
    ap.add_argument("--work", required=True, help="scratch directory (recreated)")
    a = ap.parse_args()
    {"make": make_project, "cmake": cmake_project, "bare-metal": bare_metal}[a.example](a)
    print(f"{a.example}: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
