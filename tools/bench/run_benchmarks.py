#!/usr/bin/env python3
"""copapy-cc benchmarks: generated code against gcc, compile throughput, code size,
and the cost of a control period through cp.Target (python_runs.py).

Writes docs/benchmarks.md and docs/bench-*.png. Run through tools/bench/run.sh
(which installs matplotlib and builds first), or directly after a build:

    python3 tools/bench/run_benchmarks.py [--quick] [--out DIR]

--quick (smaller sizes, a smoke test of the scripts) writes to build/bench/
unless --out is given, so that it never replaces the published numbers.

Generated code: the program is compiled by copapy-cc and timed with
`coparun --repeat N --time`; the same program emitted as straight-line C
(`copapy-cc build --emit c`, the same op bodies and data layout) is compiled
with gcc -O0 and -O2 in its own translation unit, linked with the same musl
libm as the stencils, and timed by a C harness calling it N times, like
coparun calls the image. All in one run, best of 5.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools/python"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import copapy as cp  # noqa: E402
import compile_speed  # noqa: E402
import code_quality  # noqa: E402
import code_size  # noqa: E402
import python_runs  # noqa: E402
import startup  # noqa: E402

BIN = ROOT / "build/bin"
MUSL_LIBM = ROOT / "build/stencils/x86_64/libm.a"
HARNESS = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define CP_DATA_WORDS_MAX (1 << 20)
void cp_program(uint32_t *data);
extern const uint32_t cp_initial_data[];
static uint32_t data[CP_DATA_WORDS_MAX];
int main(int argc, char **argv) {
    long n = atol(argv[1]), words = atol(argv[2]);
    memcpy(data, cp_initial_data, sizeof(uint32_t) * (size_t)words);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; ++i) cp_program(data);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.3f\n", ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n);
    for (long i = 0; i < words; ++i) printf("%08x\n", data[i]);
    return 0;
}
"""


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, check=True, **kw)


def dot_program(n):
    v1 = cp.vector([cp.value(float(i) * 0.25) for i in range(n)])
    v2 = cp.vector([cp.value(1.0 - float(i) * 0.125) for i in range(n)])
    return sum((v1 + i) @ v2 for i in range(10))


def mixed_program(n):
    """A sin/cos/arithmetic chain: a typical control-law shape."""
    xs = [cp.value(0.1 * i) for i in range(n)]
    acc = 0.0
    for i, x in enumerate(xs):
        t = cp.sin(x) * 0.5 + cp.cos(x * 1.5) - x * x * 0.25
        acc = acc * 0.9 + t * (1.0 + 0.01 * i)
    return acc


def time_copapy(image, repeat):
    best = None
    for _ in range(5):
        p = run([str(BIN / "coparun"), str(image), "--repeat", str(repeat), "--time"])
        ns = float(p.stderr.split(",")[1].split()[0])
        best = ns if best is None else min(best, ns)
    return best, json.loads(p.stdout)


def time_c(c_file, opt, repeat, words, tmp):
    exe = tmp / f"{c_file.stem}-{opt}"
    harness = tmp / "harness.c"
    harness.write_text(HARNESS)
    run(["gcc", opt, "-ffp-contract=off", "-c", str(c_file), "-o", str(exe) + ".o"])
    # The same libm as the stencils (musl's, built by the stencil build), so
    # sinf & co. cost the same on both sides: only the code around them differs.
    run(["gcc", "-O2", str(harness), str(exe) + ".o", str(MUSL_LIBM), "-lm", "-o", str(exe)])
    best = None
    for _ in range(5):
        out = run([str(exe), str(repeat), str(words)]).stdout.split()
        best = float(out[0]) if best is None else min(best, float(out[0]))
    return best, out[1:]


def codegen(name, build, sizes, tmp):
    rows = []
    for n in sizes:
        dag = tmp / f"{name}{n}.json"
        cp.export(str(dag), r=build(n))
        ops = sum(1 for node in json.loads(dag.read_text())["nodes"] if node["op"] not in ("input", "const"))
        image = dag.with_suffix(".cpimg")
        stats = json.loads(run([str(BIN / "copapy-cc"), "build", str(dag), "-o", str(image), "--stats"]).stderr.splitlines()[-1])
        c_file = dag.with_suffix(".c")
        run([str(BIN / "copapy-cc"), "build", str(dag), "--emit", "c", "-o", str(c_file)])
        words = stats["data_bytes"] // 4
        repeat = max(200, int(2e8 / max(ops, 1)))
        ns, outputs = time_copapy(image, repeat)
        o0, _ = time_c(c_file, "-O0", repeat, words, tmp)
        o2, data = time_c(c_file, "-O2", repeat, words, tmp)
        rows.append({"program": name, "n": n, "ops": ops, "copapy_ns": ns, "gcc_O0_ns": o0, "gcc_O2_ns": o2,
                     "vs_O2": ns / o2, "vs_O0": ns / o0, "result": outputs["r"]})
        print(f"  {name:<6} n={n:<4} ops={ops:<6} copapy {ns:10.1f} ns  gcc -O0 {o0:10.1f} ns  gcc -O2 {o2:10.1f} ns"
              f"  copapy/O2 {ns / o2:5.2f}  copapy/O0 {ns / o0:5.2f}", flush=True)
    return rows


def compile_throughput(sizes, tmp):
    rows = []
    for n in sizes:
        for fmt in ("json", "cbor"):
            path = tmp / f"dag{n}.{fmt}"
            compile_speed.write_dag(path, n)
            cmd = [str(BIN / "copapy-cc"), "build", str(path), "-o", str(tmp / "out.cpimg"), "--stats"]
            runs = [compile_speed.run_measured(cmd) for _ in range(3 if n <= 1_000_000 else 2)]
            best = min(r[0] for r in runs)
            peak = min(r[1] for r in runs)
            rows.append({"nodes": n, "format": fmt, "file_bytes": path.stat().st_size, "seconds": best,
                         "nodes_per_s": n / best, "peak_rss": peak, "bytes_per_node": peak / n})
            print(f"  {n:>9} {fmt:<4} {path.stat().st_size / 1e6:8.1f} MB {best:8.3f} s {n / best:>12,.0f} nodes/s "
                  f"{peak / 1e6:8.1f} MB peak {peak / n:6.0f} B/node", flush=True)
            path.unlink()
    return rows


def plots(gen, comp, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    files = []
    for prog in sorted({r["program"] for r in gen}):
        rs = [r for r in gen if r["program"] == prog]
        fig, ax = plt.subplots(figsize=(6, 4))
        for key, label in (("copapy_ns", "copapy-cc"), ("gcc_O0_ns", "gcc -O0"), ("gcc_O2_ns", "gcc -O2")):
            ax.plot([r["n"] for r in rs], [r[key] for r in rs], marker="o", label=label)
        ax.set_xlabel("vector size n" if prog == "dot" else "chain length n")
        ax.set_ylabel("time per run (ns)")
        ax.set_title(f"generated code: {prog}")
        ax.grid(True, alpha=0.3)
        ax.legend()
        f = out_dir / f"bench-code-{prog}.png"
        fig.tight_layout()
        fig.savefig(f, dpi=100)
        plt.close(fig)
        files.append(f)
    fig, ax = plt.subplots(figsize=(6, 4))
    for fmt in ("json", "cbor"):
        rs = [r for r in comp if r["format"] == fmt]
        ax.loglog([r["nodes"] for r in rs], [r["seconds"] for r in rs], marker="o", label=fmt.upper())
    ax.set_xlabel("DAG nodes")
    ax.set_ylabel("compile time (s)")
    ax.set_title("copapy-cc compile time")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    f = out_dir / "bench-compile.png"
    fig.tight_layout()
    fig.savefig(f, dpi=100)
    plt.close(fig)
    files.append(f)
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke test of the script)")
    ap.add_argument("--out", help="where benchmarks.md and the plots go (default: docs/, or build/bench/ with --quick)")
    a = ap.parse_args()
    out_dir = Path(a.out) if a.out else ROOT / ("build/bench" if a.quick else "docs")
    out_dir.mkdir(parents=True, exist_ok=True)
    dot_sizes = [10, 50, 100] if a.quick else [10, 20, 50, 100, 200, 500]
    mix_sizes = [10, 50] if a.quick else [10, 50, 100, 200]
    comp_sizes = [1000, 10000, 100000] if a.quick else [1000, 10000, 100000, 1000000, 10000000]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        print("generated code (x86_64):", flush=True)
        gen = codegen("dot", dot_program, dot_sizes, tmp) + codegen("mixed", mixed_program, mix_sizes, tmp)
        print("whole-process compile time:", flush=True)
        start = startup.table([10, 1000, 10000], runs=50 if a.quick else 200)
        print("compile throughput:", flush=True)
        comp = compile_throughput(comp_sizes, tmp)
    print("code size:", flush=True)
    size_rows = code_size.table([10, 100, 500] if not a.quick else [10, 100])
    print("code quality against gcc:", flush=True)
    quality = code_quality.section(code_quality.measure(code_quality.TARGETS, True))
    print("control periods through Target:", flush=True)
    periods = python_runs.section(python_runs.measure(a.quick), a.quick)
    print("\n".join(periods[2:]), flush=True)
    pngs = plots(gen, comp, out_dir)
    write_report(out_dir / "benchmarks.md", gen, start, comp, size_rows, pngs, a.quick, quality + [""] + periods)
    print(f"wrote {out_dir / 'benchmarks.md'} and {', '.join(p.name for p in pngs)}")


def write_report(path, gen, start, comp, size_rows, pngs, quick, periods):
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]).stdout.strip()
    except (subprocess.CalledProcessError, OSError):
        commit = "unknown"
    L = ["# Benchmarks", "",
         f"Measured by `tools/bench/run.sh{' --quick' if quick else ''}` at commit {commit} on {time.strftime('%Y-%m-%d')}: "
         f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; gcc "
         f"{run(['gcc', '-dumpfullversion']).stdout.strip()}. All numbers in this file come from one run of that "
         "command; rerun it to reproduce them.", "",
         "## Generated code (x86_64)", "",
         "The same computation compiled three ways and timed the same way: the copapy-cc image run by "
         "`coparun --repeat N --time`, and `copapy-cc build --emit c` (straight-line C with the same operations, "
         "op bodies and data layout) compiled by gcc -O0 and -O2 as its own translation unit and called N times "
         "by a C harness, linked with the same musl libm the stencils use. Best of 5. `dot` is the original project's benchmark `sum((v1 + i) @ v2 for i in "
         "range(10))` for vectors of n values; `mixed` is a chain of sin/cos/multiply-add steps.", "",
         "| program | n | DAG ops | copapy-cc ns/run | gcc -O0 ns/run | gcc -O2 ns/run | copapy-cc / gcc -O2 | copapy-cc / gcc -O0 |",
         "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in gen:
        L.append(f"| {r['program']} | {r['n']} | {r['ops']} | {r['copapy_ns']:.1f} | {r['gcc_O0_ns']:.1f} | "
                 f"{r['gcc_O2_ns']:.1f} | {r['vs_O2']:.2f} | {r['vs_O0']:.2f} |")
    L += [""] + [f"![{p.stem}]({p.name})" for p in pngs if "code" in p.name] + ["",
          "## Whole-process compile time", "",
          "`copapy-cc build` of the synthetic DAGs below (JSON and CBOR) as a whole process each: start-up, reading "
          "the stencil object, compiling, writing the image and exit, against `copapy-cc --version` (the start-up "
          "alone) and against `gcc -O2 -c` on the program's `--emit c` output. Median wall time of "
          f"{start[0]['json']['runs']} runs per command (gcc: fewer), minimum in parentheses; ratios of the medians. "
          "`python3 tools/bench/startup.py` measures this table alone.", "",
          "| nodes | copapy-cc build, JSON (ms) | copapy-cc build, CBOR (ms) | copapy-cc --version (ms) | "
          "build / --version | gcc -O2 -c (ms) | gcc -O2 / copapy-cc |",
          "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in start:
        L.append(f"| {r['nodes']:,} | {r['json']['median_ms']:.2f} ({r['json']['min_ms']:.2f}) | "
                 f"{r['cbor']['median_ms']:.2f} ({r['cbor']['min_ms']:.2f}) | "
                 f"{r['version']['median_ms']:.2f} ({r['version']['min_ms']:.2f}) | {r['vs_version']:.1f} | "
                 f"{r['gcc_O2']['median_ms']:.1f} ({r['gcc_O2']['min_ms']:.1f}) | {r['gcc_vs_copapy']:.0f} |")
    L += ["", "## Compile throughput", "",
          "Synthetic DAGs (arithmetic, comparisons, selects and libm calls over a sliding window of recent values, "
          "`tools/bench/compile_speed.py`), compiled for x86_64. Wall time of the whole `copapy-cc build` process "
          "(reading, optimizing, planning, linking, writing the image) and its peak resident memory.", "",
          "| nodes | format | file MB | seconds | nodes/s | peak RSS MB | bytes/node |",
          "|---:|---|---:|---:|---:|---:|---:|"]
    for r in comp:
        L.append(f"| {r['nodes']:,} | {r['format']} | {r['file_bytes'] / 1e6:.1f} | {r['seconds']:.3f} | "
                 f"{r['nodes_per_s']:,.0f} | {r['peak_rss'] / 1e6:.1f} | {r['bytes_per_node']:.0f} |")
    L += ["", "![compile time](bench-compile.png)", "", "## Code size", "",
          "Bytes of copied stencil code (library code and constants excluded) and load-time patches per DAG "
          "operation for the `dot` benchmark, per target (`tools/bench/code_size.py`).", "",
          "| target | n | DAG ops | stencil bytes | bytes/op | patches | patches/op | steps/op |",
          "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in size_rows:
        L.append(f"| {r['target']} | {r['n']} | {r['ops']} | {r['stencil_bytes']} | {r['bytes_per_op']:.1f} | "
                 f"{r['patches']} | {r['patches_per_op']:.2f} | {r['steps_per_op']:.2f} |")
    L += [""] + periods
    path.write_text("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
