#!/usr/bin/env python3
"""Hardware I/O bindings end to end: `copapy-cc build --bind` on one target.

A program with inputs and outputs of every type and width bound to device
registers (and one input and one output left unbound) is compiled with
--bind and run with coparun's --poke (registers written before the run) and
--peek (registers read after it): under qemu-user or natively, coparun maps
the registers' page as memory; on a bare-metal machine (riscv32 always,
thumbv7em with --board) they are RAM of the board that the runner firmware
leaves alone. Checked, against Python's arithmetic on the poked values:

- loads zero-extend 8 and 16 bits; a bound bool reads any nonzero as true;
- stores keep the low bits of the bound width (an int stored at 8 bits, a
  sum that overflows 16 bits), floats go as their 32-bit pattern;
- a bound output is stored in every run: a state counts runs and its bound
  copy reads N after --repeat N (that a store or load happens exactly once
  per period is what the realtime example shows on the boards: one UART
  digit per period, and a counter read per period); bytes next to a narrow
  register are left as poked (the access has the bound width, not 32 bits);
- an unbound input and output still work through the symbol table;
- without --poke, coparun maps the image's bound registers itself (the
  image's symbol table lists them), and --set of a bound input is refused;
- at -O0 and -O2, and (off the boards) with a float bound at an address
  whose bits are a NaN, which must reach the access unchanged.

    python3 test/e2e/run_bind.py --target NAME [--board]

Prints `e2e-bind[<target>]: N passed, M failed` and every failure.
"""
import argparse
import json
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools/python"))
import copapy as cp  # noqa: E402
from copapy._target import _command_line, _semihost_command, find_tool  # noqa: E402

# Free memory to stand for device registers: on Linux a page coparun maps;
# on the boards RAM the runner firmware does not use (mps2-an386's 16 MiB
# PSRAM at 0x2100_0000; the top of virt's 128 MiB at 0x8000_0000).
BASE = {"thumbv7em-board": 0x21000000, "riscv32": 0x87000000}
HOST_BASE = 0x10000000
NAN_ADDRESS = 0x7fc00010  # as binary32 a quiet NaN: the address must survive as bits


def f32_bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def build(dag: Path, target: str, image: Path, binds: List[str], opt: str) -> None:
    cmd = [find_tool("copapy-cc", "COPAPY_CC"), "build", str(dag), "-t", target, "-o", str(image), "-O", opt,
           "--emit", f"manifest={image}.manifest.json"]
    for b in binds:
        cmd += ["--bind", b]
    subprocess.run(cmd, check=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--board", action="store_true", help="run on the target's bare-metal machine")
    args = ap.parse_args()
    t = args.target
    base = BASE.get(t + "-board" if args.board else t, HOST_BASE)
    reg = {name: base + off for name, off in (("a8", 0x00), ("b16", 0x04), ("c32", 0x08), ("x", 0x0c),
                                              ("flag", 0x10), ("s16", 0x14), ("neg8", 0x18), ("prod", 0x1c),
                                              ("y", 0x20), ("flag_out", 0x24), ("runs", 0x28))}
    if base == HOST_BASE:
        reg["y"] = NAN_ADDRESS  # a float address constant whose bits are a quiet NaN
    failures: List[str] = []
    passed = 0

    def check(what: str, got: Any, want: Any) -> None:
        nonlocal passed
        if got == want:
            passed += 1
        else:
            failures.append(f"{what}: got {got!r}, want {want!r}")

    a8 = cp.value(0, name="a8")
    b16 = cp.value(0, name="b16")
    c32 = cp.value(0, name="c32")
    x = cp.value(0.0, name="x")
    flag = cp.value(False, name="flag")
    k = cp.value(0, name="k")          # unbound input
    runs = cp.state(0, name="count")
    runs.next(runs + 1)
    outs = {"s16": a8 + b16, "neg8": -a8, "prod": c32 * 3, "y": x * 2.5 + k, "flag_out": flag & (a8 > 3),
            "runs": runs + 1, "z": a8 + k}

    with tempfile.TemporaryDirectory(prefix="copapy-bind-") as d:
        dag = Path(d) / "bind.json"
        image = Path(d) / "bind.cpimg"
        cp.export(str(dag), **outs)
        binds = [f"a8={reg['a8']:#x}:8", f"b16={reg['b16']:#x}:16", f"c32={reg['c32']:#x}", f"x={reg['x']:#x}:32",
                 f"flag={reg['flag']:#x}:8", f"s16={reg['s16']:#x}:16", f"neg8={reg['neg8']:#x}:8",
                 f"prod={reg['prod']:#x}:32", f"y={reg['y']:#x}", f"flag_out={reg['flag_out']:#x}:8",
                 f"runs={reg['runs']:#x}:32"]
        def run_coparun(cl: List[str]) -> subprocess.CompletedProcess:
            cmd = _semihost_command(t)(cl) if args.board else _command_line(t, cl)
            return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

        def run_level(opt: str) -> None:
            build(dag, t, image, binds, opt)
            manifest = json.loads(Path(f"{image}.manifest.json").read_text())
            check(f"-O{opt} manifest bound names", [b["name"] for b in manifest["bound"]],
                  ["a8", "b16", "c32", "x", "flag", "s16", "neg8", "prod", "y", "flag_out", "runs"])
            check(f"-O{opt} manifest symbols", sorted(s["name"] for s in manifest["inputs"] + manifest["outputs"]),
                  ["count", "count", "k", "z"])

            cases = [
                # a8 (the byte above it poked too), b16, c32, x, flag, k, repeat
                (200, 65500, 7, 1.5, 0x02, 4, 1),
                (3, 1, -5, -0.25, 0x00, -9, 3),
                (255, 65535, 0x7fffffff, 1e30, 0x80, 100, 2),
            ]
            for a, b, c, xv, fl, kv, n in cases:
                # Neighbouring bytes of the 8- and 16-bit registers hold a marker that must survive.
                pokes = [f"{reg['a8']:#x}:32={0xabcd0000 | 0x5a00 | a:#x}", f"{reg['b16']:#x}:32={0x12340000 | b:#x}",
                         f"{reg['c32']:#x}:32={c & 0xffffffff:#x}", f"{reg['x']:#x}:32=#{f32_bits(xv):08x}",
                         f"{reg['flag']:#x}:32={0x77000000 | fl:#x}",
                         f"{reg['s16']:#x}:32=0xeeee0000", f"{reg['neg8']:#x}:32=0xdddddd00",
                         f"{reg['flag_out']:#x}:32=0xcccccc00"]
                peeks = [f"{reg[r]:#x}:32" for r in ("a8", "s16", "neg8", "prod", "y", "flag_out", "runs")]
                cl = [str(image), "--set", f"k={kv}", "--repeat", str(n)]
                for p in pokes:
                    cl += ["--poke", p]
                for p in peeks:
                    cl += ["--peek", p]
                proc = run_coparun(cl)
                label = f"-O{opt} a8={a} b16={b} c32={c} x={xv} flag={fl:#x} k={kv} runs={n}"
                if proc.returncode != 0:
                    failures.append(f"{label}: coparun failed ({proc.returncode}): {proc.stderr.strip()} {proc.stdout.strip()}")
                    continue
                got: Dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
                peek = {r: got[f"@{reg[r]:#x}:32"] for r in ("a8", "s16", "neg8", "prod", "y", "flag_out", "runs")}
                check(f"{label}: a8's register untouched", peek["a8"], 0xabcd0000 | 0x5a00 | a)
                check(f"{label}: s16 (16-bit store of a8 + b16)", peek["s16"], 0xeeee0000 | ((a + b) & 0xffff))
                check(f"{label}: neg8 (8-bit store of -a8)", peek["neg8"], 0xdddddd00 | ((-a) & 0xff))
                check(f"{label}: prod (32-bit store of c32 * 3)", peek["prod"], (c * 3) & 0xffffffff)
                y = struct.unpack("<f", struct.pack("<f", xv * 2.5))[0]  # binary32, then + k, rounded again
                y = struct.unpack("<f", struct.pack("<f", y + kv))[0]
                check(f"{label}: y (float store)", peek["y"], f32_bits(y))
                check(f"{label}: flag_out (bool store at 8 bits)", peek["flag_out"], 0xcccccc00 | int(fl != 0 and a > 3))
                check(f"{label}: runs (stored in every run: the count after the last)", peek["runs"], n)
                check(f"{label}: unbound output z", got.get("z"), (a + kv))

            # No --poke: the registers come from the image's symbol table
            # (zeroed memory on Linux; the board's RAM, zero after reset).
            proc = run_coparun([str(image), "--set", "k=5", "--peek", f"{reg['prod']:#x}:32"])
            ok = proc.returncode == 0
            got = json.loads(proc.stdout.strip().splitlines()[-1]) if ok else {}
            check(f"-O{opt} runs without --poke (exit {proc.returncode}: {proc.stderr.strip()})",
                  (got.get("z"), got.get(f"@{reg['prod']:#x}:32")), (5, 0))
            proc = run_coparun([str(image), "--set", "a8=1"])
            check(f"-O{opt} --set of a bound input is refused", (proc.returncode, "is bound to the device register at"
                                                               in proc.stdout + proc.stderr), (1, True))

        for opt in ("0", "2"):
            run_level(opt)

    print(f"e2e-bind[{t}{' board' if args.board else ''}]: {passed} passed, {len(failures)} failed")
    for f in failures:
        print("  FAIL", f)
    return 0 if not failures and passed else 1


if __name__ == "__main__":
    sys.exit(main())
