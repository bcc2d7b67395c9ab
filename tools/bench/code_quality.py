#!/usr/bin/env python3
"""Code quality per target: the stitched program against gcc on the same program.

For each target and program, the image copapy-cc builds is compared with the
target's own gcc (the compiler and flags the stencils are built with, read
from build/stencils/<target>/toolchain.json, plus -ffp-contract=off as the
stencils use) compiling the program's `--emit c` output at -O2 and -Os:

- instructions and bytes of the program proper. copapy: the instructions of
  the copied stencils (the listing's steps) and the bytes of those steps plus
  the constant pool; gcc: the instructions of cp_program (literal-pool words
  not counted as instructions) and its symbol size (pool included). Library
  code (sinf, ...) is excluded on both sides: both call it.
- load-time patches: in the program's steps and in all (library included),
  per DAG operation;
- the stencil object's size;
- for aarch64 and armv7, instructions executed per run under qemu
  (`-singlestep -d nochain,exec`: one logged block per instruction), as the
  difference of 101 runs and 1 run over 100, for coparun running the image and
  for a small static harness calling gcc's cp_program, both linked with the
  same libm (musl's, built for the stencils), so library work counts alike.

Programs: the dot benchmark sum((v1 + i) @ v2 for i in range(10)) with n = 50;
a rotation program (a matrix from three Euler angles with sin/cos, applied to
four vectors); an 8-channel PID with clamped integrators, output saturation
(min/max, comparisons, selects) and an int state counting saturated periods.

    python3 tools/bench/code_quality.py [--targets ...] [--no-exec]

Prints a Markdown table (and --json FILE writes the rows). All numbers come
from one run.
"""
import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools/python"))
import copapy as cp  # noqa: E402

BUILD = ROOT / "build"
TARGETS = ["x86_64", "aarch64", "armv7", "thumbv7", "thumbv7em", "x86", "riscv64", "armv6"]
# Targets whose executed instructions are counted, and how their images and
# static Linux binaries run.
EXEC = {"aarch64": ("qemu-aarch64", "coparun-aarch64"), "armv7": ("qemu-arm", "coparun-armhf")}


# ---- Programs ---------------------------------------------------------------------

def dot_program() -> Dict[str, Any]:
    n = 50
    v1 = cp.vector([cp.value(float(i) * 0.25) for i in range(n)])
    v2 = cp.vector([cp.value(1.0 - float(i) * 0.125) for i in range(n)])
    return {"r": sum((v1 + i) @ v2 for i in range(10))}


def rotation_program() -> Dict[str, Any]:
    roll, pitch, yaw = cp.value(0.1), cp.value(-0.2), cp.value(0.3)
    cr, sr, cp_, sp, cy, sy = cp.cos(roll), cp.sin(roll), cp.cos(pitch), cp.sin(pitch), cp.cos(yaw), cp.sin(yaw)
    m = [[cy * cp_, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
         [sy * cp_, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
         [-sp, cp_ * sr, cp_ * cr]]
    out = {}
    for k in range(4):
        v = [cp.value(float(k + j)) for j in range(3)]
        for i in range(3):
            out[f"w{k}_{i}"] = m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2]
    return out


def pid_program() -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    saturated = cp.state(0, name="saturated")
    count = 0
    for ch in range(8):
        setpoint, measured = cp.value(1.0), cp.value(0.5 + ch * 0.1)
        integral = cp.state(0.0, name=f"integral{ch}")
        previous = cp.state(0.0, name=f"previous{ch}")
        error = setpoint - measured
        new_integral = cp.minimum(cp.maximum(integral + error * 0.01, -2.0), 2.0)
        integral.next(new_integral)
        derivative = (error - previous) * 100.0
        previous.next(error)
        u = 1.5 * error + 0.3 * new_integral + 0.05 * derivative
        high, low = u > 10.0, u < -10.0
        out[f"u{ch}"] = cp.iif(high, 10.0, cp.iif(low, -10.0, u))
        count = count + cp.iif(high | low, 1, 0)
    saturated.next(saturated + count)
    out["saturated"] = saturated
    return out


PROGRAMS: List[Tuple[str, Callable[[], Dict[str, Any]]]] = [
    ("dot n=50", dot_program), ("rotation", rotation_program), ("pid x8", pid_program)]


# ---- Counting ---------------------------------------------------------------------

_INSN = re.compile(r"^[0-9a-f]{6}  (?:[0-9a-f]{2} )+\s*(\S+)")


def listing_counts(text: str) -> Dict[str, int]:
    """Instructions and patches of the steps of a copapy-cc listing, patches in
    all, and the constant pool's bytes."""
    insns = step_patches = all_patches = pool = 0
    in_steps = False
    for line in text.splitlines():
        if line.startswith("; step "):
            in_steps = True
            continue
        if line.startswith("; library section") or line.startswith("; data region"):
            in_steps = False
        m = re.match(r"^; constant pool \((\d+) words\)", line)
        if m:
            pool = 4 * int(m.group(1))
            in_steps = False
        patched = "; patch " in line
        all_patches += patched
        if in_steps and _INSN.match(line):
            insns += 1
            step_patches += patched
    return {"insns": insns, "step_patches": step_patches, "all_patches": all_patches, "pool": pool}


def run(cmd: List[str], **kw: Any) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def toolchain(target: str) -> Dict[str, Any]:
    return json.loads((BUILD / "stencils" / target / "toolchain.json").read_text())


def binutil(tc: Dict[str, Any], tool: str) -> str:
    prefix = tc["cc"][:-3] if tc["cc"].endswith("gcc") else ""
    return prefix + tool


def gcc_counts(c_file: Path, target: str, level: str, tmp: Path) -> Tuple[Dict[str, int], Path]:
    """Instructions and bytes of cp_program compiled by the target's gcc at `level`."""
    tc = toolchain(target)
    obj = tmp / f"{c_file.stem}.{target}{level}.o"
    run([tc["cc"], *tc["flags"], level, "-ffp-contract=off", "-ffreestanding", "-fno-pic", "-c", str(c_file),
         "-o", str(obj)])
    size = 0
    for line in run([binutil(tc, "nm"), "-S", str(obj)]).stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] == "cp_program":
            size = int(parts[1], 16)
    dump = run([binutil(tc, "objdump"), "-d", "--no-show-raw-insn", str(obj)]).stdout
    insns, inside = 0, False
    for line in dump.splitlines():
        if re.match(r"^[0-9a-f]+ <cp_program>:", line):
            inside = True
            continue
        if inside and re.match(r"^[0-9a-f]+ <", line) and not re.match(r"^[0-9a-f]+ <\.L", line):
            break  # the next function (RISC-V objdump also shows local labels, <.L2>:)
        if inside and re.match(r"^\s+[0-9a-f]+:\s+\S", line) and ".word" not in line and ".short" not in line:
            insns += 1
    return {"insns": insns, "bytes": size}, obj


HARNESS = r"""
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
void cp_program(uint32_t *data);
extern const uint32_t cp_initial_data[];
static uint32_t data[WORDS];
int main(int argc, char **argv) {
    int n = atoi(argv[1]);
    memcpy(data, cp_initial_data, sizeof data);
    for (int i = 0; i < n; ++i) cp_program(data);
    return (int)(data[0] & 0);
}
"""


def executed(cmd: List[str], qemu: str, tmp: Path) -> float:
    """Instructions executed per run: (101 runs - 1 run) / 100 under qemu single-stepping."""
    counts = []
    for n in (1, 101):
        log = tmp / "exec.log"
        subprocess.run([qemu, "-singlestep", "-d", "nochain,exec", "-D", str(log), *cmd(n)], check=True,
                       capture_output=True)
        with open(log, "rb") as f:
            counts.append(sum(1 for line in f if line.startswith(b"Trace")))
        log.unlink()
    return (counts[1] - counts[0]) / 100


def gcc_executed(c_file: Path, obj: Path, target: str, tmp: Path) -> float:
    tc = toolchain(target)
    words = int(re.search(r"#define CP_DATA_WORDS (\d+)", c_file.read_text()).group(1))
    harness = tmp / "harness.c"
    harness.write_text(HARNESS)
    exe = tmp / f"{obj.stem}.exe"
    run([tc["cc"], *tc["flags"], "-O2", f"-DWORDS={words}", "-static", str(harness), str(obj), tc["libm"],
         "-o", str(exe)])
    return executed(lambda n: [str(exe), str(n)], EXEC[target][0], tmp)


# ---- The table --------------------------------------------------------------------

def measure(targets: List[str], with_exec: bool) -> List[Dict[str, Any]]:
    cc = str(BUILD / "bin" / "copapy-cc")
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for name, make in PROGRAMS:
            dag = tmp / (re.sub(r"\W+", "_", name) + ".json")
            cp.export(str(dag), **make())
            ops = sum(1 for node in json.loads(dag.read_text())["nodes"]
                      if node["op"] not in ("input", "const", "state"))
            c_file = dag.with_suffix(".c")
            run([cc, "build", str(dag), "--emit", f"c={c_file}"])
            for target in targets:
                image, listing = tmp / f"{dag.stem}.{target}.cpimg", tmp / f"{dag.stem}.{target}.lst"
                stats = json.loads(run([cc, "build", str(dag), "-t", target, "--emit", f"image={image}",
                                        "--emit", f"listing={listing}", "--stats"]).stderr.splitlines()[-1])
                ours = listing_counts(listing.read_text())
                ours_bytes = stats["stencil_bytes"] + ours["pool"]
                o2, obj = gcc_counts(c_file, target, "-O2", tmp)
                os_, _ = gcc_counts(c_file, target, "-Os", tmp)
                row: Dict[str, Any] = {
                    "program": name, "target": target, "ops": ops, "insns": ours["insns"], "bytes": ours_bytes,
                    "gcc_O2_insns": o2["insns"], "gcc_O2_bytes": o2["bytes"], "gcc_Os_insns": os_["insns"],
                    "gcc_Os_bytes": os_["bytes"], "step_patches": ours["step_patches"],
                    "all_patches": stats["patches"],
                    "stencil_object": (BUILD / "share/copapy-cc/stencils" / f"{target}.o").stat().st_size}
                if with_exec and target in EXEC:
                    runner = str(BUILD / "bin" / EXEC[target][1])
                    row["exec"] = executed(lambda n: [runner, str(image), "--repeat", str(n)], EXEC[target][0], tmp)
                    row["gcc_O2_exec"] = gcc_executed(c_file, obj, target, tmp)
                rows.append(row)
                print(f"  {name:<9} {target:<10} {row['insns']:>5} insns ({row['insns'] / o2['insns']:.2f}x O2) "
                      f"{ours_bytes:>6} B ({ours_bytes / o2['bytes']:.2f}x O2)", file=sys.stderr, flush=True)
    return rows


def markdown(rows: List[Dict[str, Any]]) -> List[str]:
    lines = ["| program | target | insns | × gcc -O2 | × gcc -Os | bytes | × gcc -O2 | × gcc -Os | "
             "patches/op (program) | patches/op (all) | executed/run | × gcc -O2 | stencil object |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ex = (f"{r['exec']:,.0f} | {r['exec'] / r['gcc_O2_exec']:.2f}" if "exec" in r else " | ")
        lines.append(
            f"| {r['program']} | {r['target']} | {r['insns']:,} | {r['insns'] / r['gcc_O2_insns']:.2f} | "
            f"{r['insns'] / r['gcc_Os_insns']:.2f} | {r['bytes']:,} | {r['bytes'] / r['gcc_O2_bytes']:.2f} | "
            f"{r['bytes'] / r['gcc_Os_bytes']:.2f} | {r['step_patches'] / r['ops']:.2f} | "
            f"{r['all_patches'] / r['ops']:.2f} | {ex} | {r['stencil_object'] / 1024:,.0f} KiB |")
    return lines


def section(rows: List[Dict[str, Any]]) -> List[str]:
    """The docs/benchmarks.md section."""
    return ["## Code quality against gcc", "",
            "The stitched program against the target's gcc (the stencils' compiler and flags, "
            "`-ffp-contract=off`) on the same program's `--emit c` output: instructions and bytes of the "
            "program proper (library code excluded on both sides; ours: the steps and the constant pool, "
            "gcc: `cp_program`), load-time patches per DAG operation (in the steps, and with the library's), "
            "instructions executed per run under qemu (aarch64, armv7; both linked with the same musl libm) "
            "and the stencil object's size. `python3 tools/bench/code_quality.py`, one run.", ""] + markdown(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", nargs="+", default=TARGETS)
    ap.add_argument("--no-exec", action="store_true", help="skip the executed-instruction counts under qemu")
    ap.add_argument("--json", help="also write the rows to this file")
    a = ap.parse_args()
    for tool in ("qemu-aarch64", "qemu-arm"):
        if not a.no_exec and shutil.which(tool) is None:
            ap.error(f"{tool} is missing (tools/deps.sh installs it), or pass --no-exec")
    rows = measure(a.targets, not a.no_exec)
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1) + "\n")
    print("\n".join(section(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
