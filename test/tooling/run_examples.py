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

    # Another TARGET or other COPAPY_CC_FLAGS rebuild the image; COPAPY_CC_FLAGS may name the target.
    check("TARGET=aarch64 makes the image out of date", run(make + ["-q", "all", "TARGET=aarch64"]).returncode == 1)
    must(make + ["all", "TARGET=aarch64"])
    check("... and make TARGET=aarch64 compiles for aarch64", listing_target(work / "build/kinematics.lst") == "aarch64")
    check("... after which it is up to date", run(make + ["-q", "all", "TARGET=aarch64"]).returncode == 0)
    flags = [v for v in variables if not v.startswith("COPAPY_CC_FLAGS=")]
    make_flags = ["make", "-C", EXAMPLES / "make-project"] + flags
    p = run(make_flags + ["all", f"COPAPY_CC_FLAGS=-t armv7mthumb --stencils {stencils}"])
    check("COPAPY_CC_FLAGS='-t armv7mthumb ...' compiles for thumbv7em (the flag wins over TARGET)",
          p.returncode == 0 and listing_target(work / "build/kinematics.lst") == "thumbv7em")

    # A change of the tracer traces the DAG again (a copy of the tracer, which the test may touch).
    tracer = work / "tracer"
    shutil.copytree(ROOT / "tools/python/copapy", tracer / "copapy", ignore=shutil.ignore_patterns("__pycache__"))
    traced = [v if not v.startswith("COPAPY_PYTHONPATH=") else f"COPAPY_PYTHONPATH={tracer}" for v in variables]
    make_traced = ["make", "-C", EXAMPLES / "make-project"] + traced
    must(make_traced + ["all"])
    check("up to date with the tracer copy", run(make_traced + ["-q", "all"]).returncode == 0)
    os.utime(tracer / "copapy/_dag.py")
    check("a newer tracer file makes the DAG and the image out of date",
          run(make_traced + ["-q", "all"]).returncode == 1)

    # Out of the source tree: the Makefile run from another directory builds there.
    outside = fresh(work / "outside")
    plain = [v for v in variables if not v.startswith("BUILD=")]
    p = run(["make", "-f", EXAMPLES / "make-project/Makefile"] + plain + ["run"], cwd=outside)
    check("make -f .../Makefile from another directory builds in ./build there",
          p.returncode == 0 and (outside / "build/kinematics.cpimg").exists())


def listing_target(path):
    """The target a listing was made for (its first line)."""
    m = re.match(r"; copapy-cc listing for (\S+):", path.read_text())
    return m.group(1) if m else None


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
    cmake_aliases(package, work)


def cmake_aliases(package, work):
    """copapy_add_program(TARGET ...) takes every name and alias copapy-cc takes (asked from copapy-cc)."""
    table = json.loads(must([package / "bin/copapy-cc", "targets", "--json"]).stdout)
    built = {p.stem for p in (package / "share/copapy-cc/stencils").glob("*.o")}
    names = [(n, t["name"]) for t in table if t["name"] in built for n in [t["name"]] + t["aliases"]]
    project = fresh(work / "aliases")
    lines = ["cmake_minimum_required(VERSION 3.20)", "project(aliases LANGUAGES C)",
             "find_package(copapy-cc 0.2 REQUIRED)"]
    for i, (n, _) in enumerate(names):
        lines.append(f"copapy_add_program(p{i} SOURCE {EXAMPLES}/kinematics.py TARGET {n})")
    lines.append("add_custom_target(everything ALL DEPENDS " + " ".join(f"p{i}" for i in range(len(names))) + ")")
    (project / "CMakeLists.txt").write_text("\n".join(lines) + "\n")
    p = run(["cmake", "-S", project, "-B", project / "build", "-G", "Ninja"] + package_args(package))
    check(f"copapy_add_program accepts every name and alias of `copapy-cc targets --json` ({len(names)})",
          p.returncode == 0)
    if p.returncode == 0:
        p = run(["cmake", "--build", project / "build", "-j1"])
        ok = p.returncode == 0
        for i, (n, canonical) in enumerate(names):
            image = project / f"build/p{i}/p{i}.cpimg"
            # The same bytes as compiling for the canonical name (output is reproducible).
            again = project / f"p{i}-{canonical}.cpimg"
            ok = ok and image.exists() and run([package / "bin/copapy-cc", "build", project / f"build/p{i}/p{i}.json",
                                                "-t", canonical, "-o", again]).returncode == 0
            ok = ok and image.read_bytes() == again.read_bytes()
        check("... and compiles each for its target", ok)
    (project / "CMakeLists.txt").write_text("\n".join(lines[:3] + [
        f"copapy_add_program(bad SOURCE {EXAMPLES}/kinematics.py TARGET pdp11)"]) + "\n")
    p = run(["cmake", "-S", project, "-B", project / "build-bad", "-G", "Ninja"] + package_args(package))
    check("an unknown TARGET is a configure error listing what copapy-cc knows",
          p.returncode != 0 and "unknown TARGET 'pdp11' (copapy-cc knows x86_64" in " ".join(p.stderr.split()))


# The realtime loop (examples/bare-metal/realtime.c) per board: the QEMU
# command, and the counter's rate per 1 ms period (the FPGA's 25 MHz counter,
# virt's 10 MHz mtime). -icount makes the emulated time follow the
# instructions and sleep=off lets an idle CPU skip to the next timer event,
# so neither the cycle counts nor the timing depend on the host's speed or
# load (with sleep=on an interrupt could come late on a busy machine).
REALTIME_BOARDS = {
    "cortex-m4": (["qemu-system-arm", "-M", "mps2-an386"], 25000),
    "riscv32": (["qemu-system-riscv32", "-M", "virt", "-bios", "none"], 10000),
}
REALTIME_PERIODS = 40


def realtime(board, build):
    """realtime.elf: the program ran from the timer interrupt PERIODS times,
    wrote its digits to the UART and its LEDs itself, and every period ended
    before the next tick."""
    machine, rate = REALTIME_BOARDS[board]
    proc = run([*machine, "-nographic", "-semihosting", "-icount", "shift=5,sleep=off", "-kernel",
                build / "realtime.elf"])
    out = proc.stdout + proc.stderr
    check(f"{board} realtime: exits with 0 (no overrun)", proc.returncode == 0)
    digits = "".join(str(p % 10) for p in range(REALTIME_PERIODS))
    check(f"{board} realtime: the program's UART digits", digits in out)
    m = re.search(r"periods=(\d+) overruns=(\d+) cycles: (\d+)\.\.(\d+)\ncycles:((?: \d+)+)\n"
                  r"leds=(\d+) period=(\d+) filtered=0x([0-9a-f]{8})", out)
    check(f"{board} realtime: the report", m is not None)
    if m is None:
        return
    periods, overruns, lo, hi = (int(m.group(k)) for k in range(1, 5))
    cycles = [int(c) for c in m.group(5).split()]
    check(f"{board} realtime: {REALTIME_PERIODS} periods, none overran", (periods, overruns) == (REALTIME_PERIODS, 0))
    check(f"{board} realtime: a cycle count per period", len(cycles) == REALTIME_PERIODS and min(cycles) == lo > 0
          and max(cycles) == hi)
    if board == "cortex-m4":  # SysTick's count: the budget is the reload value
        check(f"{board} realtime: every period within its 25,000 cycles", hi < 25000)
    leds, period = int(m.group(6)), int(m.group(7))
    check(f"{board} realtime: the LEDs show the last period % 4", leds == (REALTIME_PERIODS - 1) % 4)
    check(f"{board} realtime: the state counted every period", period == REALTIME_PERIODS)
    filtered = struct.unpack("<f", struct.pack("<I", int(m.group(8), 16)))[0]
    check(f"{board} realtime: the filtered counter rate {filtered} is {rate} per period within 2%",
          abs(filtered - rate) < 0.02 * rate)


def bare_metal(a):
    """examples/bare-metal: Cortex-M4 firmware under qemu-system-arm, and the
    realtime loop on both boards (mps2-an386 and RISC-V virt)."""
    work = fresh(Path(a.work))
    package = Path(a.package)
    build = work / "build"
    cmake_build(EXAMPLES / "bare-metal", build,
                [f"-DCMAKE_TOOLCHAIN_FILE={EXAMPLES}/bare-metal/cortex-m4.cmake"] + package_args(package))
    realtime("cortex-m4", build)
    build_rv = work / "build-riscv32"
    cmake_build(EXAMPLES / "bare-metal", build_rv,
                [f"-DCMAKE_TOOLCHAIN_FILE={EXAMPLES}/bare-metal/riscv32.cmake"] + package_args(package))
    realtime("riscv32", build_rv)
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
