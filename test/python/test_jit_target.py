"""Unit tests of cp.Target and @cp.jit, and of the package's version and exports.

Most tests here run the real tools of the checkout (build/bin/copapy-cc and
coparun, or $COPAPY_CC / $COPAPY_RUN as test/CMakeLists.txt sets them): they
compile small programs and compare the results with binary32 references
computed in the test. A missing tool is a failure, not a skip. The tests of
command lines use the stand-in tools of test_tracer (FakeTools).
"""
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from typing import Any, Dict, List

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "python"))

import copapy as cp  # noqa: E402
from test_containers import f32  # noqa: E402
from test_tracer import FakeTools  # noqa: E402

NAN = math.nan


def tool(name: str, var: str) -> str:
    return os.environ.get(var) or str(REPO / "build" / "bin" / name)


class EnvCase(unittest.TestCase):
    """Restores the environment after each test; the real tools unless a test installs fakes."""

    def setUp(self) -> None:
        self._env = dict(os.environ)
        self.cc = tool("copapy-cc", "COPAPY_CC")
        self.run_tool = tool("coparun", "COPAPY_RUN")
        for path in (self.cc, self.run_tool):
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                self.fail(f"{path} is missing: build the checkout (tools/quickstart.sh) or set COPAPY_CC/COPAPY_RUN")
        os.environ["COPAPY_CC"] = self.cc
        os.environ["COPAPY_RUN"] = self.run_tool
        os.environ.pop("COPAPY_TARGET", None)
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)

    def tearDown(self) -> None:
        os.environ.clear()
        os.environ.update(self._env)
        self._tmp.cleanup()

    def fake_tools(self, printed: str = "{}") -> FakeTools:
        t = FakeTools(self._tmp.name, printed)
        os.environ["COPAPY_CC"] = t.cc
        os.environ["COPAPY_RUN"] = t.run
        os.environ["COPAPY_RUNNER"] = "process"  # the stand-in runner prints, it does not serve or load
        return t

    def target_table(self) -> List[Dict[str, Any]]:
        out = subprocess.run([self.cc, "targets", "--json"], capture_output=True, text=True, check=True).stdout
        return json.loads(out)


class TargetNames(EnvCase):
    def test_names_and_aliases_any_case(self) -> None:
        table = self.target_table()
        self.assertIn("x86_64", [t["name"] for t in table])
        for t in table:
            for name in [t["name"]] + list(t.get("aliases", [])):
                for spelling in (name, name.upper(), name.capitalize()):
                    with self.subTest(spelling=spelling):
                        self.assertEqual(cp.Target(spelling).arch, t["name"])
        self.assertEqual(cp.Target("ARM64").arch, "aarch64")
        self.assertEqual(cp.Target("armv7mthumb").arch, "thumbv7em")

    def test_native_and_default(self) -> None:
        (host,) = [t["name"] for t in self.target_table() if t.get("host")]
        for arch in (None, "native", "NATIVE"):
            self.assertEqual(cp.Target(arch).arch, host)
        self.assertEqual(repr(cp.Target()), f"Target({host!r})")
        os.environ["COPAPY_TARGET"] = "arm64"
        self.assertEqual(cp.Target().arch, "aarch64")
        self.assertEqual(cp.Target("native").arch, host)        # an explicit name wins over the variable

    def test_unknown_names_list_the_known_ones(self) -> None:
        table = self.target_table()
        for name in ("pdp11", "m68k", "sparc", ""):  # never targets (x86, armv6, riscv64 became ones)
            with self.subTest(name=name):
                with self.assertRaisesRegex(ValueError, f"unknown target '{name}'") as cm:
                    cp.Target(name)
                message = str(cm.exception)
                for t in table:
                    self.assertIn(t["name"], message)
                    for alias in t.get("aliases", []):
                        self.assertIn(alias, message)
                self.assertIn("native", message)

    def test_a_name_must_be_a_string(self) -> None:
        for bad in (5, 3.0, ["x86_64"]):
            with self.assertRaisesRegex(TypeError, "name"):
                cp.Target(bad)  # type: ignore[arg-type]


class Optimization(EnvCase):
    def test_levels_reach_the_command_line(self) -> None:
        tools = self.fake_tools()
        x = cp.value(1.0, name="x") + 1.0
        for level, flag in ((0, "0"), (1, "1"), (2, "2"), (3, "2"), ("O0", "0"), ("O1", "1"), ("O3", "2"),
                            ("-O2", "2"), ("o1", "1"), ("2", "2")):
            with self.subTest(level=level):
                tg = cp.Target(optimization=level)
                self.assertEqual(tg.optimization, flag)
                tg.compile(x)
                call = tools.calls()[-1]
                self.assertEqual(call[call.index("-O") + 1], flag)
        cp.Target().compile(x)
        self.assertNotIn("-O", tools.calls()[-1])               # None: the compiler's default
        for bad in (4, "O4", "fast", 2.5, "O", "", "-O9"):
            with self.subTest(bad=bad):
                with self.assertRaisesRegex(ValueError, "optimization must be"):
                    cp.Target(optimization=bad)

    def test_negative_levels_are_errors(self) -> None:
        for bad in (-1, -2, "-1"):
            with self.subTest(bad=bad):
                with self.assertRaisesRegex(ValueError, "optimization must be"):
                    cp.Target(optimization=bad)

    def test_levels_change_what_the_compiler_does(self) -> None:
        x = cp.value(3.0, name="x")
        y = (x * 2.0) + (x * 2.0)        # two equal products: one after CSE (-O1 and up)
        steps = {}
        for level in (0, 2):
            tg = cp.Target(optimization=level)
            tg.compile(y)
            tg.save(self.tmp / f"m{level}.json", "manifest")
            steps[level] = json.loads((self.tmp / f"m{level}.json").read_text())["steps"]
            tg.run()
            self.assertEqual(tg.read_value(y), 12.0)
        self.assertGreater(steps[0], steps[2])


class CompileRunReadWrite(EnvCase):
    def test_containers_come_back_as_their_kind(self) -> None:
        a = cp.value(1.5, name="a")
        b = cp.value(-2.0, name="b")
        v = cp.vector([a, b, 4.0]) * 3.0
        t = cp.tensor([[a, b], [b, a]]) / 4.0
        q = cp.quaternion(a, b, 0.5, 2.0) @ cp.quaternion(0.0, 1.0, 0.0, 0.0)
        i = cp.value(7, name="i")
        ints = cp.vector([i, 3]) // 2
        tg = cp.Target()
        tg.compile(v, t, q, ints)
        tg.run()
        rv, rt, rq, ri = (tg.read_value(c) for c in (v, t, q, ints))
        self.assertIs(type(rv), cp.vector)
        self.assertIs(type(rt), cp.tensor)
        self.assertIs(type(rq), cp.quaternion)
        self.assertEqual(rv.values, (4.5, -6.0, 12.0))
        self.assertEqual(rt.shape, (2, 2))
        self.assertEqual(rt.tolist(), [[0.375, -0.5], [-0.5, 0.375]])
        # (a + b i + 0.5 j + 2 k) i = -b + a i + 2 j - 0.5 k
        self.assertEqual(rq.values, (2.0, 1.5, 2.0, -0.5))
        self.assertEqual(ri.values, (3, 1))
        self.assertTrue(all(type(x) is float for x in rv.values + rt.values + rq.values))
        self.assertTrue(all(type(x) is int for x in ri.values))
        self.assertEqual(tg.read_value([v[0], (i, 2.5)]), [4.5, [7, 2.5]])

    def test_compile_generators_and_nested_containers(self) -> None:
        x = cp.value(2.0, name="x")
        tg = cp.Target()
        gen_values = [x * float(k) for k in range(1, 4)]
        tg.compile(e + 0.5 for e in gen_values)       # a generator, one level deep
        tg.run()
        self.assertEqual(tg.read_value(gen_values), [2.0, 4.0, 6.0])
        m = cp.tensor([[x, 1.0], [2.0, x]])
        w = cp.vector([x, x + 1.0])
        mx, w2, xm1 = m * x, w * 2.0, x - 1.0
        tg = cp.Target()
        tg.compile([mx, [w2, (xm1,)]])                  # nested lists of containers and values
        tg.write_value(x, 3.0)
        tg.run()
        self.assertEqual(tg.read_value(mx).tolist(), [[9.0, 3.0], [6.0, 9.0]])
        self.assertEqual(tg.read_value(w2).values, (6.0, 8.0))
        self.assertEqual(tg.read_value(xm1), 2.0)
        self.assertEqual(tg.read_value(m).tolist(), [[3.0, 1.0], [2.0, 3.0]])

    def test_write_value_with_nested_sequences(self) -> None:
        t = cp.tensor([[cp.value(0.0), cp.value(0.0)], [cp.value(0.0), cp.value(0.0)]])
        v = cp.vector([cp.value(0), cp.value(0), cp.value(0)])
        y = t @ cp.tensor([1.0, 10.0])
        s = v.sum()
        tg = cp.Target()
        tg.compile(y, s)
        tg.write_value(t, [[1.5, 2.0], [3.0, -4.0]])
        tg.write_value(v, (1, 2, 3))
        tg.run()
        self.assertEqual(tg.read_value(y).tolist(), [1.5 + 20.0, 3.0 - 40.0])
        self.assertEqual(tg.read_value(s), 6)
        tg.write_value(t, cp.tensor([[0.25, 0.0], [1.0, 1.0]]))     # a container of numbers
        tg.write_value(v, cp.vector([5, 5, -5]))
        tg.write_value([v[0], v[1]], [7, 8])                        # a list of inputs
        tg.run()
        self.assertEqual(tg.read_value(y).tolist(), [0.25, 11.0])
        self.assertEqual(tg.read_value(s), 10)
        self.assertEqual(tg.read_value(t).tolist(), [[0.25, 0.0], [1.0, 1.0]])

    def test_write_value_shape_mismatch_is_an_error(self) -> None:
        t = cp.tensor([[cp.value(1.0), cp.value(2.0)], [cp.value(3.0), cp.value(4.0)]])
        y = t.sum()
        tg = cp.Target()
        tg.compile(y)
        for bad in ([[1.0, 2.0]], [1.0, 2.0, 3.0, 4.0], [[1.0, 2.0], [3.0]], [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
                    [[[1.0, 2.0], [3.0, 4.0]]], 1.0, cp.vector([1.0, 2.0, 3.0, 4.0]), "ab"):
            with self.subTest(bad=bad):
                with self.assertRaises(ValueError):
                    tg.write_value(t, bad)
        with self.assertRaises(ValueError):
            tg.write_value([t.values[0], t.values[1]], [1.0])          # no silent truncation
        with self.assertRaises(ValueError):
            tg.write_value([t.values[0], t.values[1]], [1.0, 2.0, 3.0])
        with self.assertRaises(ValueError):
            tg.write_value([t.values[0]], 1.0)
        tg.run()
        self.assertEqual(tg.read_value(y), 10.0)                     # nothing was written
        with self.assertRaises((TypeError, ValueError)):
            tg.write_value(t, [["a", "b"], ["c", "d"]])

    def test_float32_results(self) -> None:
        a = cp.value(0.1, name="a")
        b = cp.value(3.0, name="b")
        y = (a + 0.2) * b / 7.0 - a
        tg = cp.Target()
        tg.compile(y)
        rng = random.Random(1)
        for _ in range(3):
            av, bv = rng.uniform(-10, 10), rng.uniform(-10, 10)
            tg.write_value(a, av)
            tg.write_value(b, bv)
            tg.run()
            fa, fb = f32(av), f32(bv)
            want = f32(f32(f32(f32(fa + f32(0.2)) * fb) / 7.0) - fa)
            self.assertEqual(tg.read_value(y), want)

    def test_container_states(self) -> None:
        s = cp.state([1.0, 2.0], name="s")
        k = cp.value(2.0, name="k")
        s.next(s * k)
        tg = cp.Target()
        tg.compile(s)
        tg.run()
        self.assertEqual(tg.read_value(s).values, (2.0, 4.0))
        tg.run()
        self.assertEqual(tg.read_value(s).values, (4.0, 8.0))
        tg.write_value(s, [1.0, -1.0])
        tg.run()
        self.assertEqual(tg.read_value(s).values, (2.0, -2.0))

    def test_arrays(self) -> None:
        arr = cp.array([[1.0, 2.0], [3.0, 4.0]])
        total = arr.sum()
        tg = cp.Target()
        tg.compile(total, arr)
        tg.write_value(arr, [[5.0, 6.0], [7.0, 8.0]])
        tg.run()
        self.assertEqual(tg.read_value(total), 26.0)
        self.assertEqual(tg.read_value(arr), [[5.0, 6.0], [7.0, 8.0]])  # nested lists

    def test_read_value_of_an_array_is_nested_lists(self) -> None:
        """_arrays.py and docs/tracer.md: "read_value returns nested lists" (orig_api.md 19.4)."""
        arr = cp.array([[1.0, 2.0], [3.0, 4.0]])
        tg = cp.Target()
        tg.compile(arr.sum(), arr)
        tg.run()
        self.assertEqual(tg.read_value(arr), [[1.0, 2.0], [3.0, 4.0]])
        self.assertIs(type(tg.read_value(arr)), list)

    def test_usage_errors(self) -> None:
        tg = cp.Target()
        with self.assertRaisesRegex(RuntimeError, "compile"):
            tg.save(self.tmp / "x.cpimg")
        x = cp.value(1.0, name="x")
        tg.compile(x * 2.0)
        with self.assertRaisesRegex(ValueError, "unknown kind 'elf'"):
            tg.save(self.tmp / "x.elf", "elf")
        with self.assertRaises(TypeError):
            tg.read_value("x")


class Save(EnvCase):
    def test_every_kind(self) -> None:
        x = cp.value(1.0, name="x")
        y = cp.sqrt(x) * 2.0
        tg = cp.Target()
        tg.compile(y)
        files = {}
        for kind in ("image", "c-header", "listing", "manifest", "dag", "dot", "c"):
            path = self.tmp / f"out.{kind}"
            tg.save(path, kind)
            self.assertTrue(path.is_file(), kind)
            files[kind] = path.read_bytes()
        image = files["image"]
        self.assertEqual(image[:8], b"CPIMG\r\n\x1a")
        self.assertEqual(int.from_bytes(image[8:10], "little"), 3)       # format version (docs/image-format.md)
        header = files["c-header"].decode()
        self.assertIn("#ifndef", header)
        self.assertIn("#include <stdint.h>", header)
        self.assertTrue(files["listing"].decode().startswith("; copapy-cc listing for x86_64"))
        manifest = json.loads(files["manifest"])
        self.assertEqual((manifest["format"], manifest["target"]), ("copapy-manifest", "x86_64"))
        self.assertEqual([i["name"] for i in manifest["inputs"]], ["x"])
        self.assertEqual(manifest["image_size"], len(image))
        dag = json.loads(files["dag"])
        # Version 3: the DAG records where each node was made (compile(locations=True) by default).
        self.assertEqual((dag["format"], dag["version"]), ("copapy-dag", 3))
        self.assertEqual([n["op"] for n in dag["nodes"]], ["input", "sqrt", "const", "mul"])
        # sqrt, its constant and mul are made on one line, the input on the line before.
        self.assertEqual({tuple(n["loc"]) for n in dag["nodes"][1:]}, {(0, dag["nodes"][0]["loc"][1] + 1)})
        self.assertEqual([os.path.abspath(f) for f in dag["files"]], [os.path.abspath(__file__)])
        self.assertIn("digraph", files["dot"].decode())
        self.assertIn("Generated by copapy-cc", files["c"].decode())
        # save(path) defaults to the image
        tg.save(self.tmp / "default")
        self.assertEqual((self.tmp / "default").read_bytes(), image)
        tg.save(str(self.tmp / "as_str.cpimg"), "image")
        self.assertEqual((self.tmp / "as_str.cpimg").read_bytes(), image)


class Jit(EnvCase):
    def test_traces_once_per_signature(self) -> None:
        traces: List[Any] = []

        @cp.jit
        def f(x, y):  # type: ignore[no-untyped-def]
            traces.append((x.dtype, y.dtype))
            return x * y + 1.0
        self.assertEqual(f(2.0, 3.0), 7.0)
        self.assertEqual(f(0.5, -4.0), -1.0)
        self.assertEqual(f(f32(0.1), 3.0), f32(f32(f32(0.1) * 3.0) + 1.0))
        self.assertEqual(len(traces), 1)
        self.assertEqual(f(2, 3.0), 7.0)                       # int: a new signature
        self.assertEqual(f(True, 3.0), 4.0)                    # bool: another one
        self.assertEqual(traces, [("float", "float"), ("int", "float"), ("bool", "float")])
        self.assertEqual(f(5, 1.0), 6.0)
        self.assertEqual(len(traces), 3)
        self.assertEqual(len(f.targets), 3)
        self.assertEqual(f.__name__, "f")

    def test_retraces_on_kind_shape_and_element_type(self) -> None:
        traces: List[str] = []

        @cp.jit
        def g(x):  # type: ignore[no-untyped-def]
            traces.append(type(x).__name__)
            return x[0] * 2.0 + x[-1]
        calls = [([1.0, 2.0], 4.0), ([3.0, 1.0], 7.0), ([1.0, 2.0, 3.0], 5.0), ((1.0, 2.0), 4.0),
                 (cp.vector([1.0, 2.0]), 4.0), (cp.vector([5.0, 2.0]), 12.0), (cp.tensor([1.0, 2.0]), 4.0),
                 (cp.quaternion(1.0, 0.0, 0.0, 2.0), 4.0), ([1, 2.0], 4.0), ([1, 2], 4.0), ([2, 5], 9.0),
                 (cp.vector([1, 2]), 4.0), (cp.vector([3, 1]), 7.0), (cp.tensor([[1.0, 2.0]])[0], 4.0),
                 (cp.tensor([1.0, 2.0, 3.0]), 5.0)]
        for arg, want in calls:
            with self.subTest(arg=arg):
                self.assertEqual(float(g(arg)), want)
        self.assertEqual(traces, ["list", "list", "tuple", "vector", "tensor", "quaternion", "list", "list", "vector",
                                  "tensor"])

    def test_result_structure(self) -> None:
        @cp.jit
        def h(x, v):  # type: ignore[no-untyped-def]
            return x + 1.0, [x * 2.0, v * x, 5], cp.quaternion(x, 0.0, 0.0, 1.0), cp.tensor([[x, x]])
        r = h(2.0, cp.vector([1.0, 2.0]))
        self.assertIs(type(r), tuple)
        self.assertEqual(r[0], 3.0)
        self.assertIs(type(r[1]), list)
        self.assertEqual(r[1][0], 4.0)
        self.assertIs(type(r[1][1]), cp.vector)
        self.assertEqual(r[1][1].values, (2.0, 4.0))
        self.assertEqual(r[1][2], 5)
        self.assertIs(type(r[2]), cp.quaternion)
        self.assertEqual(r[2].values, (2.0, 0.0, 0.0, 1.0))
        self.assertEqual(r[3].tolist(), [[2.0, 2.0]])
        r = h(-1.0, cp.vector([3.0, 0.5]))
        self.assertEqual((r[0], r[1][1].values), (0.0, (-3.0, -0.5)))

        @cp.jit
        def single(v):  # type: ignore[no-untyped-def]
            return v * 2
        self.assertEqual(single(cp.vector([1, 2])).values, (2, 4))
        self.assertEqual(single(cp.tensor([[3], [4]])).tolist(), [[6], [8]])

    def test_inputs_are_named_after_the_parameters(self) -> None:
        @cp.jit
        def f(x, pts, m):  # type: ignore[no-untyped-def]
            return x + pts[0] + pts[1] + m.sum()
        self.assertEqual(f(1.0, [2.0, 3.0], cp.tensor([[1.0, 1.0]])), 8.0)
        f.targets[0].save(self.tmp / "f.json", "dag")
        doc = json.loads((self.tmp / "f.json").read_text())
        self.assertEqual(sorted(n["name"] for n in doc["nodes"] if n["op"] == "input"),
                         sorted(["x", "pts[0]", "pts[1]", "m[0][0]", "m[0][1]"]))
        self.assertEqual(f(0.0, [0.0, 0.0], cp.tensor([[-1.0, 2.0]])), 1.0)   # every argument is written

    def test_target_and_optimization(self) -> None:
        @cp.jit(target="arm64", optimization=0)
        def f(x, y):  # type: ignore[no-untyped-def]
            return x * y - 0.5
        self.assertEqual(f(3.0, 2.0), 5.5)                    # runs under qemu-aarch64
        self.assertEqual(f(-1.0, 2.0), -2.5)
        (tg,) = f.targets
        self.assertEqual((tg.arch, tg.optimization), ("aarch64", "0"))

    def test_cache_clear(self) -> None:
        n = [0]
        scale = [2.0]

        @cp.jit
        def f(x):  # type: ignore[no-untyped-def]
            n[0] += 1
            return x * scale[0]                              # a constant fixed when traced
        self.assertEqual(f(3.0), 6.0)
        scale[0] = 10.0
        self.assertEqual(f(3.0), 6.0)
        f.cache_clear()
        self.assertEqual(f.targets, [])
        self.assertEqual(f(3.0), 30.0)
        self.assertEqual(n[0], 2)

    def test_errors(self) -> None:
        @cp.jit
        def nothing(x):  # type: ignore[no-untyped-def]
            return None
        with self.assertRaisesRegex(TypeError, "returned None"):
            nothing(1.0)

        @cp.jit
        def ident(x):  # type: ignore[no-untyped-def]
            return x + 0.0
        with self.assertRaisesRegex(TypeError, "Python numbers"):
            ident(cp.value(1.0))
        with self.assertRaises(TypeError):
            ident("1.0")


class RealPrograms(EnvCase):
    """A few traced algorithms compiled and run on the host."""

    def test_sorting_network_runs(self) -> None:
        xs = [cp.value(0.0, name=f"x{i}") for i in range(7)]
        s = cp.sort(cp.vector(xs))
        idx = cp.argsort(cp.vector(xs))
        tg = cp.Target()
        tg.compile(s, idx)
        for data in ([3.0, NAN, 1.0, 2.0, 1.0, -math.inf, 0.0], [5.0, 4.0, 3.0, 2.0, 1.0, 0.0, -1.0],
                     [1.0] * 7, [NAN, 2.0, NAN, -1.0, 2.0, 0.5, 2.0]):
            with self.subTest(data=data):
                tg.write_value(cp.vector(xs), data)
                tg.run()
                key = (lambda x: (1, 0.0) if math.isnan(x) else (0, x))
                want = sorted(data, key=key)
                got = list(tg.read_value(s).values)
                self.assertEqual([key(g) for g in got], [key(w) for w in want])
                self.assertEqual(list(tg.read_value(idx).values), sorted(range(7), key=lambda i: key(data[i])))

    def test_traced_index_runs(self) -> None:
        k = cp.value(0, name="k")
        table = cp.vector([10.0, 20.0, 30.0, 40.0])
        e = table[k]
        tg = cp.Target()
        tg.compile(e)
        for kv, want in ((0, 10.0), (3, 40.0), (-1, 40.0), (-4, 10.0), (7, 40.0), (-9, 10.0)):
            tg.write_value(k, kv)
            tg.run()
            self.assertEqual(tg.read_value(e), want, kv)


class Package(EnvCase):
    def test_version_is_the_compilers(self) -> None:
        out = subprocess.run([self.cc, "--version"], capture_output=True, text=True, check=True).stdout
        words = out.split()
        self.assertEqual(words[0], "copapy-cc")
        self.assertEqual(words[1], cp.__version__)
        out = subprocess.run([self.run_tool, "--version"], capture_output=True, text=True, check=True).stdout
        self.assertEqual(out.split()[:2], ["coparun", cp.__version__])
        self.assertRegex(cp.__version__, r"^\d+\.\d+\.\d+")

    def test_exports(self) -> None:
        self.assertEqual(len(cp.__all__), len(set(cp.__all__)))
        for name in cp.__all__:
            self.assertTrue(hasattr(cp, name), name)
        for name in ("state", "value", "vector", "tensor", "matrix", "quaternion", "array", "jit", "Target",
                     "grad", "export", "linalg", "nn", "filters", "hypot", "tanh", "floor", "to_bytes"):
            self.assertIn(name, cp.__all__)
        for module in (cp.nn, cp.filters, cp.linalg):
            for name in module.__all__:
                self.assertTrue(hasattr(module, name), f"{module.__name__}.{name}")
        namespace: Dict[str, Any] = {}
        exec("from copapy import *", namespace)
        self.assertIn("state", namespace)

    def test_typed_package(self) -> None:
        self.assertTrue((Path(cp.__file__).parent / "py.typed").is_file())


if __name__ == "__main__":
    unittest.main()
