#!/usr/bin/env python3
"""The artifacts of copapy-cc build --emit, checked against the image they describe.

For every target, test/golden/program.json is compiled once into an image, a
manifest, a C header, a listing and a Graphviz graph, and the artifacts are
cross-checked with the image file parsed here (not with copapy-cc's own view):

- manifest: sizes, patch count and every named value's offset and dtype;
- C header: the array holds exactly the image's bytes, the offset and dtype
  constants match the symbol table;
- listing: one 'patch' note per patch-table entry, at its site;
- dot: identical for every target and equal to test/tooling/golden/program.dot;
- copapy-cc stencils: every stencil the program uses is listed, nothing unusable;
- --code-addr/--data-addr: an image with CP_FLAG_FIXED_ADDR and no patches.
On the host, the C header is also compiled with the runtime library into
examples/cmake-project/run_kinematics.c (without CMake) and run.

    check_emit.py --cc build/bin/copapy-cc --runtime build/lib/libcopapy_runtime.a [--update] [TARGET ...]
"""
import argparse
import difflib
import json
import re
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PROGRAM = ROOT / "test/golden/program.json"
GOLDEN_DOT = HERE / "golden/program.dot"
DTYPES = {1: "int", 2: "float", 3: "bool"}
failures = []


def check(what, ok, detail=""):
    if not ok:
        failures.append(f"{what}{': ' + detail if detail else ''}")
        print(f"FAIL {what} {detail}")


def run(cmd, **kw):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=120, **kw)
    if proc.returncode != 0:
        sys.exit(f"FAIL: {' '.join(str(c) for c in cmd)} exited with {proc.returncode}\n{proc.stderr}")
    return proc


def parse_image(data):
    """The fields of include/copapy/image.h that the artifacts describe."""
    (version, target, flags, code_size, code_align, data_size, data_align, entry, npatch, nsym,
     strtab_size) = struct.unpack_from("<HHIIIIIIIII", data, 8)
    code_addr, data_addr = struct.unpack_from("<QQ", data, 48)  # a 64-byte header (format version 2 on)
    align4 = lambda n: (n + 3) & ~3
    data_off = align4(64 + code_size)
    patch_off = align4(data_off + data_size)
    sym_off = patch_off + 12 * npatch
    str_off = sym_off + 20 * nsym  # format version 3: 20-byte symbols
    patches = [struct.unpack_from("<IBBHi", data, patch_off + 12 * i) for i in range(npatch)]
    symbols = []
    for i in range(nsym):
        name, offset, dtype, sflags = struct.unpack_from("<IIBB", data, sym_off + 20 * i)
        end = data.index(b"\0", str_off + name)
        symbols.append({"name": data[str_off + name:end].decode(), "offset": offset, "dtype": DTYPES[dtype],
                        "flags": sflags})
    return {"version": version, "code_addr": code_addr, "data_addr": data_addr, "flags": flags, "code_size": code_size, "code_align": code_align, "data_size": data_size,
            "data_align": data_align, "patches": patches, "symbols": symbols}


def check_target(cc, target, work, update):
    out = work / target
    out.mkdir()
    image_path = out / "program.cpimg"
    run([cc, "build", PROGRAM, "-t", target, "-o", image_path, "--emit", "image,manifest,c-header,listing,dot"])
    image_bytes = image_path.read_bytes()
    img = parse_image(image_bytes)

    manifest = json.loads((out / "program.manifest.json").read_text())
    for key in ("code_size", "code_align", "data_size", "data_align"):
        check(f"{target}: manifest {key}", manifest[key] == img[key], f"{manifest[key]} != {img[key]}")
    check(f"{target}: manifest image_size", manifest["image_size"] == len(image_bytes))
    check(f"{target}: manifest patches", manifest["patches"] == len(img["patches"]))
    named = {(s["name"], s["offset"], s["dtype"]) for s in img["symbols"]}
    described = {(v["name"], v["offset"], v["dtype"]) for v in manifest["inputs"] + manifest["outputs"]}
    check(f"{target}: manifest inputs and outputs are the symbol table", named == described,
          f"{sorted(named)} != {sorted(described)}")

    header = (out / "program.h").read_text()
    array = header[header.index("program_image["):]
    embedded = bytes(int(b, 16) for b in re.findall(r"0x([0-9a-f]{2}),", array))
    check(f"{target}: the C array is the image", embedded == image_bytes)
    for s in img["symbols"]:
        check(f"{target}: C header offset of {s['name']}",
              f"#define PROGRAM_OFFSET_{s['name']} {s['offset']}u " in header)

    listing = (out / "program.lst").read_text()
    marked = sorted(int(m, 16) for m in re.findall(r"^([0-9a-f]{6})  .*; patch ", listing, re.M))
    check(f"{target}: the listing marks each patch at its instruction",
          len(marked) == len(img["patches"]) and all(
              any(at <= p[0] < at + 16 for at in marked) for p in img["patches"]))

    dot = (out / "program.dot").read_text()
    if update and target == "x86_64":
        GOLDEN_DOT.write_text(dot)
        print(f"updated {GOLDEN_DOT}")
    want = GOLDEN_DOT.read_text() if GOLDEN_DOT.exists() else ""
    if dot != want:
        check(f"{target}: the graph differs from {GOLDEN_DOT} (review, then rerun with --update)", False,
              "".join(difflib.unified_diff(want.splitlines(True), dot.splitlines(True), str(GOLDEN_DOT), target)))

    report = run([cc, "stencils", "-t", target]).stdout
    check(f"{target}: copapy-cc stencils finds nothing unusable", ", 0 unusable;" in report and "UNSUPPORTED" not in report)
    for name in manifest["stencils"]:
        check(f"{target}: copapy-cc stencils lists {name}", f"\n{name}  in " in report)

    fixed_path = out / "fixed.cpimg"
    run([cc, "build", PROGRAM, "-t", target, "-o", fixed_path, "--code-addr", "0x10000000", "--data-addr", "0x10100000"])
    fixed = parse_image(fixed_path.read_bytes())
    check(f"{target}: a fixed-address image has no patches and the flag", fixed["patches"] == [] and fixed["flags"] & 2)
    check(f"{target}: a fixed-address image records its addresses",
          (fixed["code_addr"], fixed["data_addr"]) == (0x10000000, 0x10100000))
    check(f"{target}: a relocatable image has no addresses", (img["code_addr"], img["data_addr"]) == (0, 0))


def check_host_header(cc, runtime, work):
    """The C header of an x86_64 image, compiled into a host program by hand."""
    out = work / "host"
    out.mkdir()
    dag = out / "kinematics.json"
    run([sys.executable, ROOT / "examples/kinematics.py", dag], env={"PYTHONPATH": str(ROOT / "tools/python")})
    run([cc, "build", dag, "-t", "x86_64", "--emit", f"c-header={out / 'kinematics.h'}"])
    exe = out / "run_kinematics"
    run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", f"-I{out}", f"-I{ROOT / 'include'}",
         ROOT / "examples/cmake-project/run_kinematics.c", runtime, "-o", exe])
    got = json.loads(run([exe, "1", "0.5"]).stdout)
    check("host program with the C header: x", abs(got["x"] - 0.179774992) < 4e-7, str(got))
    check("host program with the C header: y", abs(got["y"] - 0.501815042) < 4e-7, str(got))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cc", required=True)
    ap.add_argument("--runtime", required=True, help="the runtime library built for the host")
    ap.add_argument("--update", action="store_true", help="rewrite the golden graph")
    ap.add_argument("targets", nargs="*", default=["x86_64", "aarch64", "armv7", "thumbv7", "thumbv7em"])
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="copapy-emit-") as tmp:
        work = Path(tmp)
        for t in a.targets:
            check_target(a.cc, t, work, a.update)
        check_host_header(a.cc, a.runtime, work)
    print(f"emit: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
