"""Source locations (DAG format version 3, docs/dag-format.md): every node
records the file and line of the user's code that made it, in JSON and CBOR;
locations=False writes the file of before (the lowest version needed)."""
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path
from typing import Any, Dict, List, Set, Tuple

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import copapy as cp  # noqa: E402
from test_tracer import cbor_decode  # noqa: E402

HERE = os.path.abspath(__file__)


def line() -> int:
    """The caller's line: `y, at = a + b, line()` records where y was made."""
    return sys._getframe(1).f_lineno


def documents(*values: Any, **named: Any) -> Tuple[Dict[str, Any], Dict[str, Any], bytes, bytes]:
    """The JSON and CBOR documents cp.export writes (decoded, then raw)."""
    with tempfile.TemporaryDirectory() as d:
        for ext in ("json", "cbor"):
            cp.export(os.path.join(d, "p." + ext), *values, **named)
        raw_json = Path(d, "p.json").read_bytes()
        raw_cbor = Path(d, "p.cbor").read_bytes()
    return json.loads(raw_json), cbor_decode(raw_cbor), raw_json, raw_cbor


def located(doc: Dict[str, Any]) -> Dict[int, Tuple[str, int]]:
    """node id -> (absolute file, line) of every node with a location."""
    files = doc.get("files", [])
    return {n["id"]: (os.path.abspath(files[n["loc"][0]]), n["loc"][1]) for n in doc["nodes"] if "loc" in n}


def lines_of(doc: Dict[str, Any], ops: Set[str]) -> Set[int]:
    """The lines of this file at which nodes of `ops` were made."""
    where = located(doc)
    out = set()
    for n in doc["nodes"]:
        if n["op"] in ops:
            self_file, at = where[n["id"]]
            assert self_file == HERE, self_file
            out.add(at)
    return out


class Locations(unittest.TestCase):
    def check(self, ops: Set[str], want: Set[int], *values: Any, **named: Any) -> Dict[str, Any]:
        """Exports the values; every node has a location, the nodes of `ops`
        exactly the lines `want`, and JSON and CBOR agree."""
        doc, from_cbor, _, _ = documents(*values, **named)
        self.assertEqual(from_cbor, doc)
        self.assertEqual(doc["version"], 3)
        self.assertEqual(len(set(doc["files"])), len(doc["files"]), "no file twice")
        self.assertEqual(len(located(doc)), len(doc["nodes"]), "every node has a location")
        self.assertEqual(lines_of(doc, ops), want)
        return doc

    def test_scalar_operations(self) -> None:
        a, at_a = cp.value(0.5, name="a"), line()
        b, at_b = cp.value(3), line()
        y, at_mul = a * b, line()
        z, at_add = y + 1.0, line()
        w, at_sin = cp.sin(z) / cp.sqrt(a), line()
        doc = self.check({"mul"}, {at_mul}, w=w, z=z)
        self.assertEqual(lines_of(doc, {"input"}), {at_a, at_b})
        self.assertEqual(lines_of(doc, {"add"}), {at_add})
        self.assertEqual(lines_of(doc, {"sin", "sqrt", "div"}), {at_sin})

    def test_vector_operations(self) -> None:
        n = 80  # above the bulk paths' threshold, and some below it
        v, at_v = cp.vector([cp.value(float(i)) for i in range(n)]), line()
        w = cp.vector([cp.value(float(i)) for i in range(n)])
        s, at_add = v + 1.5, line()
        p, at_mul = s * w, line()
        d, at_dot = p @ w, line()
        m, at_neg = (-v).sum(), line()
        c, at_cross = cp.vector([v[0], v[1], v[2]]).cross(cp.vector([w[0], w[1], w[2]])), line()
        doc = self.check({"input"}, {at_v, at_v + 1}, d=d, m=m, c=c)
        self.assertEqual(lines_of(doc, {"neg"}), {at_neg})
        add_lines = lines_of(doc, {"add"})
        self.assertEqual(add_lines, {at_add, at_dot, at_neg})
        self.assertEqual(lines_of(doc, {"mul"}), {at_mul, at_dot, at_cross})
        self.assertEqual(lines_of(doc, {"sub"}), {at_cross})
        self.assertEqual(lines_of(doc, {"const"}), {at_add})

    def test_elementwise_function_on_a_container(self) -> None:
        v = cp.vector([cp.value(float(i)) for i in range(70)])
        y, at = cp.maximum(cp.sin(v), 0.25), line()
        self.check({"sin", "max"}, {at}, y=y)

    def test_tensor_operations(self) -> None:
        m = cp.tensor([[cp.value(1.0), cp.value(2.0)], [cp.value(3.0), cp.value(4.0)]])
        x = cp.vector([cp.value(0.5), cp.value(0.25)])
        y, at_mv = m @ x, line()
        t, at_t = (m.T @ m).sum(axis=0), line()
        doc = self.check({"mul"}, {at_mv, at_t}, y=y, t=t)
        self.assertEqual(lines_of(doc, {"add"}), {at_mv, at_t})

    def test_quaternion_operations(self) -> None:
        q, at_q = cp.quaternion(cp.value(1.0), cp.value(0.0), cp.value(0.5), cp.value(0.0)), line()
        r, at_r = q.normalize(), line()
        v, at_v = r.rotate_vector(cp.vector([1.0, 2.0, 3.0])), line()
        doc = self.check({"input"}, {at_q}, v=v)
        self.assertEqual(lines_of(doc, {"sqrt"}) - {at_v}, {at_r})
        self.assertEqual(lines_of(doc, {"mul", "add", "sub"}) - {at_r}, {at_v})

    def test_grad(self) -> None:
        x = cp.value(0.5)
        y, at_y = x * x + cp.exp(x), line()
        g, at_g = cp.grad(y, x), line()
        h, at_h = cp.grad(g, x), line()
        gv, at_gv = cp.grad(y, cp.vector([x, x])), line()
        doc = self.check({"grad"}, {at_g, at_h, at_gv}, g=g, h=h, gv=gv)
        self.assertEqual(lines_of(doc, {"exp"}), {at_y})

    def test_constants_made_by_export_are_at_the_export(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "p.json")
            cp.export(path, k=7)
            at = line() - 1
            doc = json.loads(Path(path).read_text())
        self.assertEqual(doc["nodes"][0]["op"], "const")
        self.assertEqual(located(doc)[0], (HERE, at))

    def test_user_function_lines_inside_map(self) -> None:
        """map() runs the user's function: its nodes are at the function's line."""
        def twice(e: Any) -> Any:
            return e * 2.0
        at_twice = line() - 1
        v = cp.vector([cp.value(float(i)) for i in range(70)])
        self.check({"mul"}, {at_twice}, y=v.map(twice))

    def test_threads_keep_their_own_lines(self) -> None:
        """A bulk operation pins its line for its own thread only: scalar
        operations traced meanwhile in another thread keep theirs."""
        import threading
        results: Dict[str, Any] = {}

        def bulk() -> None:
            v = cp.vector([cp.value(float(i)) for i in range(300)])
            out = []
            for _ in range(40):
                out.append((cp.sin(v), line()))
            results["bulk"] = (cp.vector([o.sum() for o, _ in out]).sum(), out[0][1])

        def scalar() -> None:
            x = y = cp.value(1.0)
            for _ in range(20000):
                y = y * x
            results["scalar"] = (y, line() - 1)
        threads = [threading.Thread(target=bulk), threading.Thread(target=scalar)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        y, at_mul = results["scalar"]
        doc, _, _, _ = documents(y=y)
        self.assertEqual(lines_of(doc, {"mul"}), {at_mul})
        s, at_sin = results["bulk"]
        doc, _, _, _ = documents(s=s)
        self.assertEqual(lines_of(doc, {"sin"}), {at_sin})

    def test_paths_relative_to_the_working_directory(self) -> None:
        cwd = os.getcwd()
        self.addCleanup(os.chdir, cwd)
        os.chdir(REPO)
        doc, _, _, _ = documents(y=cp.value(1.0) + 2.0)
        self.assertEqual(doc["files"], [os.path.join("test", "python", "test_locations.py")])
        os.chdir(REPO / "tools")  # the file is not below: absolute
        doc, _, _, _ = documents(y=cp.value(1.0) + 2.0)
        self.assertEqual(doc["files"], [HERE])

    def test_files_in_order_of_first_use(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            helper = Path(d, "helper_module.py")
            helper.write_text("def scale(x):\n    return x * 3.0\n")
            sys.path.insert(0, d)
            self.addCleanup(sys.path.remove, d)
            import helper_module  # type: ignore[import-not-found]
            self.addCleanup(sys.modules.pop, "helper_module")
            a = cp.value(1.0)
            y, at = helper_module.scale(a) + a, line()
            doc, from_cbor, _, _ = documents(y=y)
        self.assertEqual(from_cbor, doc)
        self.assertEqual([os.path.abspath(f) for f in doc["files"]], [HERE, str(helper.resolve())]
                         if doc["nodes"][0]["loc"][0] == 0 else [str(helper.resolve()), HERE])
        where = located(doc)
        ops = {n["op"]: where[n["id"]] for n in doc["nodes"]}
        self.assertEqual(ops["mul"][1], 2)
        self.assertEqual(ops["add"], (HERE, at))


class WithoutLocations(unittest.TestCase):
    def program(self) -> Dict[str, Any]:
        a = cp.value(0.25, name="a")
        v = cp.vector([a, a * 2, cp.value(1.5)])
        s = cp.state(0.0, name="s")
        s.next(s + v.sum())
        return dict(y=(v + 1.0) @ v, s=s)

    def test_lowest_version_and_no_location_fields(self) -> None:
        for version, named in ((1, dict(y=cp.value(1.0) + 1.0)), (2, self.program())):
            with self.subTest(version=version):
                doc, from_cbor, _, _ = documents(locations=False, **named)
                self.assertEqual(from_cbor, doc)
                self.assertEqual(doc["version"], version)
                self.assertNotIn("files", doc)
                self.assertFalse([n for n in doc["nodes"] if "loc" in n])

    def test_only_the_location_fields_differ(self) -> None:
        named = self.program()
        with_doc, _, _, _ = documents(**named)
        without, _, _, _ = documents(locations=False, **named)
        self.assertEqual(with_doc.pop("version"), 3)
        with_doc.pop("files")
        for n in with_doc["nodes"]:
            del n["loc"]
        without.pop("version")
        self.assertEqual(with_doc, without)

    def test_locations_must_be_a_bool(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaises(TypeError):
                cp.export(os.path.join(d, "p.json"), y=cp.value(1.0), locations="no")


class Reproducible(unittest.TestCase):
    PROGRAM = textwrap.dedent("""
        import sys, copapy as cp
        junk = [cp.value(float(i)) for i in range(int(sys.argv[2]))]   # shifts addresses and counters
        a = cp.value(0.25, name="a", range=(0, 1))
        v = cp.vector([cp.value(float(i)) for i in range(100)])
        y = (v * a + 1.0) @ v + cp.grad(cp.sin(a) * a, a)
        cp.export(sys.argv[1], y=y, v=v)
    """)

    def test_same_program_same_bytes(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            script = Path(d, "prog.py")
            script.write_text(self.PROGRAM)
            outputs: Dict[str, Set[bytes]] = {"json": set(), "cbor": set()}
            for k, (seed, junk) in enumerate((("0", "0"), ("1", "17"), ("999", "3"))):
                for ext in outputs:
                    path = os.path.join(d, f"{k}.{ext}")
                    env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(REPO / "tools" / "python"))
                    subprocess.run([sys.executable, str(script), path, junk], check=True, env=env, cwd=d)
                    outputs[ext].add(Path(path).read_bytes())
        for ext, files in outputs.items():
            self.assertEqual(len(files), 1, ext)
        doc = json.loads(outputs["json"].pop())
        self.assertEqual(doc["files"], ["prog.py"])


class Jit(unittest.TestCase):
    """@cp.jit compiles with locations (the function's lines) unless told not to."""

    def test_jit_has_locations_of_the_function(self) -> None:
        @cp.jit
        def f(x: Any) -> Any:
            return x * 2.0 + 1.0
        at = f.__wrapped__.__code__.co_firstlineno + 2  # type: ignore[attr-defined]
        self.assertEqual(f(1.5), 4.0)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "f.json")
            f.targets[0].save(path, "dag")
            doc = json.loads(Path(path).read_text())
        files = doc["files"]
        where = {n["op"]: (os.path.abspath(files[n["loc"][0]]), n["loc"][1]) for n in doc["nodes"]}
        self.assertEqual(where["mul"], (os.path.abspath(__file__), at))
        self.assertEqual(where["add"], (os.path.abspath(__file__), at))

    def test_jit_without_locations(self) -> None:
        @cp.jit(locations=False)
        def f(x: Any) -> Any:
            return x * 2.0
        self.assertEqual(f(1.5), 3.0)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "f.json")
            f.targets[0].save(path, "dag")
            doc = json.loads(Path(path).read_text())
        self.assertEqual(doc["version"], 1)


if __name__ == "__main__":
    unittest.main()
