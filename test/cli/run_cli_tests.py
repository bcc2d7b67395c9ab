#!/usr/bin/env python3
"""CLI error corpus for copapy-cc and coparun.

Every malformed DAG in dags/NAME.json has dags/NAME.expect: the exit code on
the first line, then substrings the error output must contain. Corrupted
images are made here from a valid one (truncated, bit flips, header fields
changed with a recomputed checksum, ...). Each case also checks that the
error is reported as `<tool>: error: <file>: ...`, that no output file is
left behind and that nothing crashed (no signal exit).
"""
import argparse
import os
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = 64  # image format version 2
passed = 0
failures = []


def run(cmd, stdin=None):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, input=stdin)


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(f"{name}: {detail}")


def expect_error(name, proc, code, needles, prefix):
    if proc.returncode < 0:
        check(name, False, f"killed by signal {-proc.returncode}")
        return
    check(name, proc.returncode == code, f"exit code {proc.returncode}, expected {code}; stderr: {proc.stderr!r}")
    for n in needles:
        check(name, n in proc.stderr, f"stderr lacks {n!r}: {proc.stderr!r}")
    lines = [l for l in proc.stderr.splitlines() if l]
    check(name, bool(lines) and all(l.startswith(prefix) for l in lines),
          f"every line must start with {prefix!r}: {proc.stderr!r}")


def dag_corpus(cc, tmp):
    for src in sorted((HERE / "dags").glob("*.json")):
        exp = src.with_suffix(".expect").read_text().splitlines()
        code, needles = int(exp[0]), [l for l in exp[1:] if l]
        out = tmp / (src.stem + ".cpimg")
        proc = run([cc, "build", str(src), "-o", str(out)])
        expect_error(f"dag/{src.stem}", proc, code, needles, f"copapy-cc: error: {src}: ")
        check(f"dag/{src.stem}", not out.exists(), "output file left behind")
    # Binary format: a CBOR map cut off in the middle.
    cbor = tmp / "truncated.cbor"
    cbor.write_bytes(b"\xa4\x66format\x6acopapy-dag\x67version")
    proc = run([cc, "build", str(cbor), "-o", str(tmp / "t.cpimg")])
    expect_error("dag/truncated_cbor", proc, 1, ["malformed CBOR"], f"copapy-cc: error: {cbor}: ")
    proc = run([cc, "build", str(tmp / "missing.json")])
    expect_error("dag/missing_file", proc, 1, ["cannot open"], "copapy-cc: error: ")
    leftovers = [p.name for p in tmp.iterdir() if p.name.startswith(".")]
    check("dag/no-temporaries", not leftovers, f"temporary files left: {leftovers}")


VALID_DAG = """{"format":"copapy-dag","version":1,"nodes":[
 {"id":0,"op":"input","dtype":"float","name":"x","value":1.5},
 {"id":1,"op":"input","dtype":"int","name":"k","value":7},
 {"id":2,"op":"mul","dtype":"float","args":[0,1]},
 {"id":3,"op":"sin","dtype":"float","args":[2]}],
 "outputs":[{"name":"y","node":3},{"name":"p","node":2}]}"""


RANGED_DAG = """{"format":"copapy-dag","version":3,"nodes":[
 {"id":0,"op":"input","dtype":"float","name":"x","value":0.5,"range":[0,1]},
 {"id":1,"op":"input","dtype":"int","name":"k","value":2,"range":[-3,3]},
 {"id":2,"op":"mul","dtype":"float","args":[0,1]}],
 "outputs":[{"name":"y","node":2}]}"""


def build_image(cc, tmp, stem, text, what):
    """Compiles the DAG `text` to tmp/<stem>.cpimg, checked as `what`; the image's path, or None."""
    dag = tmp / f"{stem}.json"
    dag.write_text(text)
    img = tmp / f"{stem}.cpimg"
    proc = run([cc, "build", str(dag), "-o", str(img)])
    check(what, proc.returncode == 0, proc.stderr)
    return img if proc.returncode == 0 else None


def ranged_corpus(cc, runner, tmp):
    """coparun refuses values outside an input's declared range (docs/dag-format.md, version 3)."""
    img = build_image(cc, tmp, "ranged", RANGED_DAG, "range/build")
    if img is None:
        return
    ok = run([runner, str(img), "--set", "x=1", "--set", "k=-3"])
    check("range/inside", ok.returncode == 0 and '"y": -3.0' in ok.stdout, ok.stdout + ok.stderr)
    for name, arg, needle in (
            ("float-above", "x=1.0000001", "--set x=1.0000001: '1.0000001' is outside the declared range [0, 1] of 'x'"),
            ("float-nan", "x=nan", "'nan' is outside the declared range [0, 1] of 'x'"),
            ("int-below", "k=-4", "--set k=-4: '-4' is outside the declared range [-3, 3] of 'k'"),
            ("bits", "k=#80000000", "is outside the declared range [-3, 3] of 'k'")):
        proc = run([runner, str(img), "--set", arg])
        expect_error(f"range/{name}", proc, 1, [needle], f"coparun: error: {img}: ")
    serve = subprocess.run([str(runner), str(img), "--serve"], input="set x 2\nset k 1\ncolumns 2 y | k | 0000000100000009\nrun 1\nget y\n",
                           capture_output=True, text=True, timeout=60)
    lines = serve.stdout.splitlines()
    check("range/serve-set", len(lines) > 1 and lines[1] == "error: set: 2 is outside the declared range [0, 1] of 'x'",
          serve.stdout)
    check("range/serve-columns", len(lines) > 3 and
          lines[3] == "error: columns: 9 is outside the declared range [-3, 3] of 'k' in period 1", serve.stdout)
    check("range/serve-unchanged", len(lines) > 5 and lines[5] == 'ok {"y": 0.5}', serve.stdout)


def fields(img):
    code, _, data = struct.unpack_from("<III", img, 16)
    patches, symbols, strtab = struct.unpack_from("<III", img, 36)
    pad = lambda n: (n + 3) & ~3
    code_off = HEADER
    data_off = code_off + pad(code)
    patch_off = data_off + pad(data)
    sym_off = patch_off + 12 * patches
    return dict(code=code, data=data, patches=patches, symbols=symbols, code_off=code_off,
                patch_off=patch_off, sym_off=sym_off, strtab=strtab)


def reseal(img):
    """Recomputes the trailing CRC-32 so that only the intended defect remains."""
    body = bytes(img[:-4])
    return body + struct.pack("<I", zlib.crc32(body))


def image_corpus(cc, runner, tmp):
    good = build_image(cc, tmp, "valid", VALID_DAG, "image/build-valid")
    if good is None:
        return
    ok = run([runner, str(good), "--set", "x=0.5", "--set", "k=3"])
    check("image/run-valid", ok.returncode == 0 and '"p": 1.5' in ok.stdout, ok.stdout + ok.stderr)
    img = good.read_bytes()
    f = fields(img)
    check("image/checksum-matches-zlib", struct.unpack("<I", img[-4:])[0] == zlib.crc32(img[:-4]))

    def case(name, data, needles, code=1, args=()):
        p = tmp / f"{name}.cpimg"
        p.write_bytes(data)
        proc = run([runner, str(p), *args])
        expect_error(f"image/{name}", proc, code, needles, f"coparun: error: {p}: ")

    case("empty", b"", ["truncated"])
    for n in (1, 8, HEADER - 1, HEADER, HEADER + 3, len(img) // 2, len(img) - 1):
        case(f"truncated-{n}", img[:n], ["truncated"])
    case("bad-magic", b"XXXXXXXX" + img[8:], ["magic"])
    flipped = bytearray(img)
    flipped[f["code_off"] + 2] ^= 0x40
    case("flipped-code-byte", bytes(flipped), ["checksum"])
    flipped = bytearray(img)
    flipped[-1] ^= 1
    case("flipped-checksum", bytes(flipped), ["checksum"])
    bad = bytearray(img)
    struct.pack_into("<H", bad, 8, 99)
    case("future-version", reseal(bad), ["version"])
    bad = bytearray(img)
    struct.pack_into("<H", bad, 10, 77)
    case("unknown-target", reseal(bad), ["target"])
    bad = bytearray(img)
    struct.pack_into("<H", bad, 10, 2)
    case("other-target", reseal(bad), ["aarch64"])
    case("trailing-byte", reseal(img[:-4] + b"\0\0\0\0" + b"\0\0\0\0"), ["layout"])
    if f["patches"]:
        bad = bytearray(img)
        struct.pack_into("<I", bad, f["patch_off"], f["code"] + 100)
        case("patch-site-out-of-bounds", reseal(bad), ["patch"])
        bad = bytearray(img)
        bad[f["patch_off"] + 4] = 200
        case("patch-unknown-kind", reseal(bad), ["patch"])
        bad = bytearray(img)
        struct.pack_into("<i", bad, f["patch_off"] + 8, 1 << 30)
        case("patch-target-out-of-bounds", reseal(bad), ["patch"])
    bad = bytearray(img)
    struct.pack_into("<I", bad, f["sym_off"], f["strtab"] + 10)
    case("symbol-name-out-of-bounds", reseal(bad), ["symbol"])
    bad = bytearray(img)
    struct.pack_into("<I", bad, f["sym_off"] + 4, f["data"] + 64)
    case("symbol-offset-out-of-bounds", reseal(bad), ["symbol"])
    bad = bytearray(img)
    struct.pack_into("<I", bad, 32, f["code"] + 4)
    case("entry-out-of-bounds", reseal(bad), ["entry"])

    case("set-unknown-name", img, ["no input named 'nope'"], args=["--set", "nope=1"])
    case("set-output", img, ["'y' is not an input"], args=["--set", "y=1"])
    case("set-bad-int", img, ["k"], args=["--set", "k=1.5"])
    case("set-int-overflow", img, ["k"], args=["--set", "k=9999999999"])
    case("set-bad-float", img, ["'abc' is not a valid float"], args=["--set", "x=abc"])
    case("set-float-overflow", img, ["--set x=1e39: '1e39' is out of float range"], args=["--set", "x=1e39"])
    case("set-int-out-of-range", img, ["'9999999999' is out of int32 range"], args=["--set", "k=9999999999"])
    case("set-long-value", img, ["'" + "9" * 64 + "...' is out of int32 range"], args=["--set", "k=" + "9" * 5000])
    long = run([runner, str(good), "--set", "k=" + "9" * 100000])
    check("image/set-long-value-line", len(long.stderr) < 400, f"{len(long.stderr)} bytes of stderr")
    proc = run([runner, str(tmp / "nonexistent.cpimg")])
    expect_error("image/missing-file", proc, 1, ["cannot open"], "coparun: error: ")
    proc = run([runner, str(good), "--repeat", "0"])
    check("image/repeat-zero", proc.returncode == 2, proc.stderr)
    bad = bytearray(img)
    struct.pack_into("<H", bad, 8, 1)
    case("version-1", reseal(bad), ["unsupported image format version 1 (this runner reads version 3): rebuild the "
                                    "image with this copapy-cc"])
    fixed_addresses(cc, runner, tmp, tmp / "valid.json")


def fixed_addresses(cc, runner, tmp, dag):
    """A fixed-address image runs where it was resolved for (coparun maps it
    there) or is refused with the reason; it never runs anywhere else."""
    if os.uname().machine not in ("x86_64", "amd64"):
        return  # the addresses below are for an x86-64 host (4 KiB pages, 47-bit user space)
    def build(name, code, data):
        out = tmp / f"fixed-{name}.cpimg"
        proc = run([cc, "build", str(dag), "-o", str(out), "--code-addr", code, "--data-addr", data])
        check(f"fixed/{name}/build", proc.returncode == 0, proc.stderr)
        return out
    # 0x5000_0000_0000 is free in an ordinary process and under ASan (whose
    # shadow gap holds 1 TiB and whose allocator starts at 0x6000_0000_0000).
    img = build("free", "0x5000_0000_0000", "0x5000_0010_0000")
    proc = run([runner, str(img), "--set", "x=0.5", "--set", "k=3"])
    check("fixed/runs-where-it-belongs", proc.returncode == 0 and '"p": 1.5' in proc.stdout,
          f"exit {proc.returncode}: {proc.stdout!r} {proc.stderr!r}")
    data = img.read_bytes()
    check("fixed/addresses-in-header", struct.unpack_from("<QQ", data, 48) == (0x5000_0000_0000, 0x5000_0010_0000),
          repr(data[48:64]))
    # Addresses a process cannot map (the kernel's half of the address space).
    img = build("kernel-half", "0xffff_8000_0000_0000", "0xffff_8000_0010_0000")
    proc = run([runner, str(img)])
    expect_error("fixed/unmappable", proc, 1,
                 ["fixed-address image: cannot map the code at 0xffff800000000000, where it was built to run: "],
                 f"coparun: error: {img}: ")
    img = build("one-page", "0x100_0000_0000", "0x100_0000_1f00")  # code is 0x1e80 bytes
    proc = run([runner, str(img)])
    expect_error("fixed/one-page", proc, 1, ["share a 4096-byte page"], f"coparun: error: {img}: ")


STATE_DAG = """{"format":"copapy-dag","version":2,"nodes":[
 {"id":0,"op":"state","dtype":"int","name":"n","value":0},
 {"id":1,"op":"const","dtype":"int","value":1},
 {"id":2,"op":"add","dtype":"int","args":[0,1]}],
 "outputs":[{"name":"m","node":2}],"updates":[{"state":0,"node":2}]}"""


def binding_errors(cc, runner, tmp, dag):
    """--bind: every wrong binding is an error naming it, with no image left
    behind; and coparun's --poke/--peek refuse what they cannot do."""
    state_dag = tmp / "state.json"
    state_dag.write_text(STATE_DAG)
    cases = [
        ("unknown-name", dag, ["nope=0x40000000"], 1, ["--bind 'nope': the DAG has no input or output of this name"]),
        ("unaligned", dag, ["k=0x40000002:32"], 1, ["--bind 'k': address 0x40000002 is not aligned for a 32-bit access"]),
        ("overlap", dag, ["p=0x40000000", "k=0x40000002:16"], 1,
         ["--bind 'k': bytes 0x40000002..0x40000003 overlap those of 'p' (0x40000000..0x40000003)"]),
        ("beyond-32-bits", dag, ["k=0x1_0000_0000"], 1, ["--bind 'k': address 0x100000000 is beyond 32 bits"]),
        ("float-narrow", dag, ["x=0x40000000:8"], 1, ["--bind 'x': a float binds at 32 bits, not 8"]),
        ("width", dag, ["k=0x40000000:12"], 1, ["--bind 'k': width 12 is not 8, 16 or 32 bits"]),
        ("twice", dag, ["k=0x40000000", "k=0x40000010"], 1, ["--bind 'k': the name is bound twice"]),
        ("state", state_dag, ["n=0x40000000"], 1, ["--bind 'n': a state cannot be bound"]),
        ("syntax", dag, ["k"], 2, ["--bind expects NAME=ADDR[:WIDTH]"]),
        ("bad-width-text", dag, ["k=0x40000000:x"], 2, ["--bind 'k': the width is 8, 16 or 32 (bits), not 'x'"]),
        ("bad-address", dag, ["k=0x4000zz"], 2, ["--bind 'k' expects an address such as 0x20000000"]),
    ]
    for name, src, binds, code, needles in cases:
        out = tmp / f"bind-{name}.cpimg"
        cmd = [cc, "build", str(src), "-o", str(out)]
        for b in binds:
            cmd += ["--bind", b]
        proc = run(cmd)
        expect_error(f"bind/{name}", proc, code, needles, "copapy-cc: error: ")
        check(f"bind/{name}", not out.exists(), "output file left behind")
    out = tmp / "bind-in-image.cpimg"
    proc = run([cc, "build", str(dag), "-o", str(out), "--code-addr", "0x20000000", "--data-addr", "0x20100000",
                "--bind", "k=0x20100004"])
    expect_error("bind/in-image", proc, 2, ["--bind 'k': address 0x20100004 lies in the image's data region"],
                 f"copapy-cc: error: {dag}: ")
    check("bind/in-image", not out.exists(), "output file left behind")

    img = tmp / "bind-ok.cpimg"
    proc = run([cc, "build", str(dag), "-o", str(img), "--bind", "k=0x10000000:8"])
    check("bind/builds", proc.returncode == 0, proc.stderr)
    for name, args, code, needle in [
        ("poke-syntax", ["--poke", "0x10000000:8"], 2, "--poke expects ADDR:WIDTH=VALUE"),
        ("poke-too-wide", ["--poke", "0x10000000:8=256"], 2, "--poke expects ADDR:WIDTH=VALUE"),
        ("peek-unaligned", ["--peek", "0x10000001:16"], 2, "--peek expects ADDR:WIDTH"),
        ("peek-serve", ["--peek", "0x10000000:8", "--serve"], 2, "cannot be combined with --peek"),
    ]:
        proc = run([runner, str(img), *args])
        expect_error(f"coparun/{name}", proc, code, [needle], "")  # a usage error, then the usage lines
        check(f"coparun/{name}", proc.stderr.startswith("coparun: error: "), proc.stderr)
    # Page 0 cannot be mapped (vm.mmap_min_addr): a clear error, not a crash.
    proc = run([runner, str(img), "--poke", "0x10:8=1"])
    expect_error("coparun/unmappable-register", proc, 1, ["cannot map device memory at 0"], f"coparun: error: {img}: ")
    proc = run([runner, str(img), "--poke", "0x10000000:8=250", "--peek", "0x10000000:32"])
    check("coparun/poke-peek", proc.returncode == 0 and '"@0x10000000:32": 250' in proc.stdout and '"p": 375' in proc.stdout,
          f"exit {proc.returncode}: {proc.stdout!r} {proc.stderr!r}")
    # A bound symbol (the last one) with a width that is not 8, 16 or 32, or
    # an address not aligned to it: a malformed symbol table, never run.
    data = img.read_bytes()
    f = fields(data)
    last = f["sym_off"] + 20 * (f["symbols"] - 1)
    check("bind/symbol-flags", data[last + 9] == 0x10, f"flags {data[last + 9]:#x}")  # CP_SYM_BOUND_INPUT
    for what, changes in (("width", [(last + 12, struct.pack("<I", 12))]),
                          ("unaligned", [(last + 12, struct.pack("<I", 16)), (last + 4, struct.pack("<I", 0x10000001))]),
                          ("two-directions", [(last + 9, bytes([0x30]))])):
        bad = bytearray(data)
        for at, value in changes:
            bad[at:at + len(value)] = value
        p = tmp / f"bind-bad-{what}.cpimg"
        p.write_bytes(reseal(bad))
        proc = run([runner, str(p)])
        expect_error(f"bind/bad-symbol-{what}", proc, 1, ["malformed symbol table entry"], f"coparun: error: {p}: ")
    # Numbers as copapy-cc writes addresses: '_' separators, and no octal (010 is ten).
    proc = run([runner, str(img), "--poke", "0x1000_0000:8=010", "--peek", "268_435_456:8"])
    check("coparun/number-syntax", proc.returncode == 0 and '"@268_435_456:8": 10' in proc.stdout
          and '"p": 15' in proc.stdout, f"exit {proc.returncode}: {proc.stdout!r} {proc.stderr!r}")
    # No --poke: the bound register's page comes from the image's symbol table.
    proc = run([runner, str(img)])
    check("coparun/maps-bound-registers", proc.returncode == 0 and '"p": 0' in proc.stdout,
          f"exit {proc.returncode}: {proc.stdout!r} {proc.stderr!r}")
    proc = run([runner, str(img), "--set", "k=3"])
    expect_error("coparun/set-bound-input", proc, 1, ["'k' is bound to the device register at 0x10000000"],
                 f"coparun: error: {img}: ")
    # A bound input with a declared range: refused (the device decides its values).
    ranged = tmp / "bind-ranged.json"
    ranged.write_text(RANGED_DAG)
    proc = run([cc, "build", str(ranged), "-o", str(tmp / "bind-ranged.cpimg"), "--bind", "k=0x10000000"])
    expect_error("bind/declared-range", proc, 1, ["--bind 'k': a bound input cannot have a declared range"],
                 "copapy-cc: error: ")


def conventions(cc, tmp):
    """Command-line conventions of gcc and LLVM tools."""
    proc = run([cc, "build", str(tmp)])
    expect_error("cli/directory-input", proc, 1, [f"{tmp}: is a directory"], "copapy-cc: error: ")
    proc = run([cc, "build", str(tmp / "nope.json"), "--stencils", str(tmp / "none")])
    expect_error("cli/missing-input", proc, 1, ["cannot open: No such file or directory"], "copapy-cc: error: ")
    dag = tmp / "conv.json"
    dag.write_text(VALID_DAG)
    proc = run([cc, "build", str(dag), "--stencils", str(tmp / "none"), "-o", str(tmp / "conv.cpimg")])
    expect_error("cli/missing-stencils", proc, 3, ["cannot open stencil object: No such file or directory",
                                                   "--stencils DIR or COPAPY_STENCIL_DIR"], "copapy-cc: error: ")
    out = tmp / "stdin.cpimg"
    proc = run([cc, "build", "-", "-o", str(out)], stdin=VALID_DAG)
    check("cli/stdin", proc.returncode == 0 and out.read_bytes().startswith(b"CPIMG"), proc.stderr)
    proc = run([cc, "build", "-"], stdin=VALID_DAG)
    expect_error("cli/stdin-needs-o", proc, 2, ["the DAG comes from standard input: name the image with -o"],
                 "copapy-cc: error: ")
    proc = run([cc, "build", "-", "-o", str(tmp / "stdin-bad.cpimg")], stdin='{"format": 1}')
    expect_error("cli/stdin-errors-name-stdin", proc, 1, ["field 'format' must be"], "copapy-cc: error: <stdin>: ")
    proc = run([cc, "build", "-", "--emit", "listing", "-o", "-"], stdin=VALID_DAG)
    check("cli/stdin-to-stdout", proc.returncode == 0 and "sin" in proc.stdout, proc.stderr)


BROKEN_STENCILS = """--- !ELF
FileHeader: {Class: ELFCLASS64, Data: ELFDATA2LSB, Type: ET_REL, Machine: EM_X86_64}
Sections:
  - {Name: .text.cp_entry, Type: SHT_PROGBITS, Flags: [SHF_ALLOC, SHF_EXECINSTR], AddressAlign: 16,
     Content: "488b050000000031f631ffe900000000"}   # mov big(%rip),%rax; xor %esi,%esi; xor %edi,%edi; jmp NEXT
  - Name: .rela.text.cp_entry
    Type: SHT_RELA
    Info: .text.cp_entry
    Relocations:
      - {Offset: 3, Symbol: big, Type: RELOC, Addend: -4}
      - {Offset: 12, Symbol: NEXT, Type: R_X86_64_PLT32, Addend: -4}
  - {Name: .text.cp_exit, Type: SHT_PROGBITS, Flags: [SHF_ALLOC, SHF_EXECINSTR], Content: "c3"}
  - {Name: .bss.big, Type: SHT_NOBITS, Flags: [SHF_ALLOC, SHF_WRITE], Size: BIG}
Symbols:
  - {Name: cp_entry, Type: STT_FUNC, Section: .text.cp_entry, Binding: STB_GLOBAL, Size: 16}
  - {Name: cp_exit, Type: STT_FUNC, Section: .text.cp_exit, Binding: STB_GLOBAL, Size: 1}
  - {Name: big, Type: STT_OBJECT, Section: .bss.big, Binding: STB_GLOBAL, Size: 8}
  - {Name: NEXT, Binding: STB_GLOBAL}
"""


def yaml2obj():
    for name in ("yaml2obj-14", "yaml2obj"):
        for d in os.environ.get("PATH", "").split(os.pathsep) + ["/usr/lib/llvm-14/bin"]:
            if os.access(os.path.join(d, name), os.X_OK):
                return os.path.join(d, name)
    return None


def broken_stencil_objects(cc, tmp):
    """Stencil objects built from YAML (LLVM's yaml2obj), each broken in one
    way: a clear error with exit code 3 and no output, never a crash or a
    silently wrong image."""
    tool = yaml2obj()
    check("stencils/yaml2obj", tool is not None, "yaml2obj (package llvm-14) is missing")
    if tool is None:
        return
    dag = tmp / "only-entry.json"
    dag.write_text('{"format":"copapy-dag","version":1,"nodes":[{"id":0,"op":"input","dtype":"float","name":"x",'
                   '"value":1.0}],"outputs":[{"name":"x","node":0}]}')
    cases = [
        ("huge-section", dict(RELOC="R_X86_64_PC32", NEXT="result_ii", BIG="0x10000000000"), "would exceed"),
        ("unsupported-relocation", dict(RELOC="R_X86_64_32S", NEXT="result_ii", BIG="8"),
         "stencil 'cp_entry': unsupported relocation R_X86_64_32S against 'big'"),
        ("wrong-continuation", dict(RELOC="R_X86_64_PC32", NEXT="result_ff", BIG="8"),
         "stencil 'cp_entry' continues in register state ff, the program expects ii"),
    ]
    for name, subst, needle in cases:
        d = tmp / f"stencils-{name}"
        d.mkdir()
        text = BROKEN_STENCILS
        for k, v in subst.items():
            text = text.replace(k, v)
        (d / "x86_64.yaml").write_text(text)
        made = run([tool, str(d / "x86_64.yaml"), "-o", str(d / "x86_64.o")])
        check(f"stencils/{name}/yaml2obj", made.returncode == 0, made.stderr)
        out = tmp / f"{name}.cpimg"
        proc = run([cc, "build", str(dag), "-o", str(out), "--stencils", str(d)])
        expect_error(f"stencils/{name}", proc, 3, [needle], "copapy-cc: error: ")
        check(f"stencils/{name}", not out.exists(), "output file left behind")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cc", required=True)
    ap.add_argument("--run", required=True)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        dag_corpus(a.cc, tmp)
        conventions(a.cc, tmp)
        broken_stencil_objects(a.cc, tmp)
        image_corpus(a.cc, a.run, tmp)
        ranged_corpus(a.cc, a.run, tmp)
        valid = tmp / "valid.json"
        valid.write_text(VALID_DAG)
        binding_errors(a.cc, a.run, tmp, valid)
    for line in failures:
        print("FAIL", line)
    print(f"cli-errors: {passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
