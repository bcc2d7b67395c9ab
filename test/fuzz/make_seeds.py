#!/usr/bin/env python3
"""Makes the fuzzers' seed corpora (docs/fuzzing.md): OUT/<fuzzer>/.

  dag      every DAG under test/ (valid and invalid), and small programs made
           with the tracer, each as JSON and as CBOR
  compile  the DAGs that compile, each with an option byte per target and -O
           level (test/fuzz/fuzz.hpp: the last byte chooses them)
  emit     the same with fixed load addresses before the option byte
  image    images compiled by copapy-cc from them for every target, with and
           without fixed addresses

Made at build time (the fuzz_seeds target) so that they follow the formats.
"""
import argparse
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Dict, List

import copapy as cp


def programs() -> Dict[str, Callable[[str], None]]:
    """Small tracer programs covering ops, dtypes, state (version 2) and grad."""

    def arith(path: str) -> None:
        a, b = cp.value(3, name="a"), cp.value(-7, name="b")
        x, y = cp.value(1.5, name="x"), cp.value(-0.25, name="y")
        cp.export(path, s=a + b, d=a - b, m=a * b, q=a // b, r=a % b, t=a / b,
                  p=a ** 2, sh=(a << 3) ^ (b >> 1) | (a & b), n=-a, ab=abs(b),
                  fx=x * y + x / y - x ** y, c=cp.iif(x < y, x, y), e=(a == b), ne=(x != y))

    def math(path: str) -> None:
        x, y = cp.value(0.5, name="x"), cp.value(2.0, name="y")
        cp.export(path, out=[cp.sqrt(y), cp.exp(x), cp.log(y), cp.sin(x), cp.cos(x), cp.tan(x),
                             cp.asin(x), cp.acos(x), cp.atan(x), cp.atan2(x, y), cp.pow(x, y),
                             cp.sign(x), cp.minimum(x, y), cp.maximum(x, y), cp.clamp(x, 0.0, 1.0)])

    def vectors(path: str) -> None:
        v1 = cp.vector([cp.value(float(i), name=f"v{i}") for i in range(3)])
        v2 = cp.vector([1.0, 2.0, 3.0])
        cp.export(path, dot=v1 @ v2, cross=v1.cross(v2), mag=v1.magnitude(), s=sum(v1 + i for i in range(3)))

    def state(path: str) -> None:
        x = cp.value(0.0, name="x")
        y = cp.state(0.0, name="y")
        n = cp.state(0, name="n")
        y.next(y + 0.2 * (x - y))
        n.next(n + 1)
        cp.export(path, y=y, n=n)

    def grad(path: str) -> None:
        x, w = cp.value(0.3, name="x"), cp.value(2.0, name="w")
        f = cp.sin(w * x) * x + w * w
        g = cp.grad(f, x)
        cp.export(path, f=f, g=g, gw=cp.grad(f, w), h=cp.grad(g, x))

    return {"arith": arith, "math": math, "vectors": vectors, "state": state, "grad": grad}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cc", required=True, help="copapy-cc")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--test-dir", required=True, type=Path, help="the repository's test/")
    ap.add_argument("targets", nargs="+")
    args = ap.parse_args()

    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    dirs = {k: out / k for k in ("dag", "compile", "emit", "image")}
    for d in dirs.values():
        d.mkdir(parents=True)

    dags: List[Path] = sorted(args.test_dir.glob("**/*.json")) + sorted(args.test_dir.glob("**/*.cbor"))
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for name, make in programs().items():
            for ext in ("json", "cbor"):
                p = t / f"{name}.{ext}"
                make(str(p))
                dags.append(p)

        compiled = 0
        for i, dag in enumerate(dags):
            stem = f"{i:03d}-{dag.stem}{dag.suffix}"
            data = dag.read_bytes()
            (dirs["dag"] / stem).write_bytes(data)
            # Does it compile? (Most of test/cli/dags/ does not, on purpose.)
            img = t / "probe.cpimg"
            r = subprocess.run([args.cc, "build", str(dag), "-t", args.targets[0], "-o", str(img)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r.returncode != 0:
                continue
            compiled += 1
            for k in range(len(args.targets)):
                for level in (0, 1, 2):
                    (dirs["compile"] / f"{stem}-t{k}-O{level}").write_bytes(data + bytes([k | (level << 3)]))
                addrs = struct.pack("<QQ", 0x0, 0x2000_0000) if k % 2 == 0 else struct.pack("<QQ", 0x1000_0000, 0x1000_8000)
                (dirs["emit"] / f"{stem}-t{k}").write_bytes(data + addrs + bytes([k | (2 << 3)]))
            for target in args.targets:
                for fixed in (False, True):
                    o = dirs["image"] / f"{stem}-{target}{'-fixed' if fixed else ''}.cpimg"
                    cmd = [args.cc, "build", str(dag), "-t", target, "-o", str(o)]
                    if fixed:
                        cmd += ["--code-addr", "0x0", "--data-addr", "0x20000000"]
                    subprocess.run(cmd, check=not fixed, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    counts = ", ".join(f"{k} {len(list(d.iterdir()))}" for k, d in dirs.items())
    print(f"make_seeds: {len(dags)} DAGs ({compiled} compile): {counts} seeds in {out}")
    if compiled == 0:
        print("make_seeds: error: no DAG compiled", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
