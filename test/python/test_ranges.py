"""Declared ranges of inputs and states (DAG format version 3,
docs/dag-format.md, "Declared ranges"): checked where they are declared,
exported as the node's `range`, and enforced by Target's writes and runs."""
import json
import math
import os
import sys
import tempfile
import unittest
from pathlib import Path
from typing import Any, Dict, List

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import copapy as cp  # noqa: E402
from test_tracer import cbor_decode  # noqa: E402

RUNNERS = ("inprocess", "serve", "process")


def documents(**named: Any) -> List[Dict[str, Any]]:
    """The JSON and the CBOR document, decoded, without locations."""
    with tempfile.TemporaryDirectory() as d:
        for ext in ("json", "cbor"):
            cp.export(os.path.join(d, "p." + ext), locations=False, **named)
        return [json.loads(Path(d, "p.json").read_text()), cbor_decode(Path(d, "p.cbor").read_bytes())]


def node_named(doc: Dict[str, Any], name: str) -> Dict[str, Any]:
    (n,) = [n for n in doc["nodes"] if n.get("name") == name]
    return n


class Exported(unittest.TestCase):
    def test_range_of_each_dtype(self) -> None:
        t = cp.value(0.5, name="throttle", range=(0.0, 1.0))
        k = cp.value(3, name="k", range=[-2, 10])
        b = cp.value(True, name="b", range=(0, 1))
        f = cp.value(0.1, name="f", range=(-math.inf, 0.1))  # the bound rounds as the value does
        s = cp.state(1.5, name="s", range=(1, 2))
        s.next(s * t)
        for encoding, doc in zip(("json", "cbor"), documents(y=cp.iif(b, t * k, f), s=s)):
            with self.subTest(encoding=encoding):
                self.assertEqual(doc["version"], 3)  # a range needs version 3, with or without locations
                self.assertEqual(node_named(doc, "throttle")["range"], [0.0, 1.0])
                self.assertEqual(node_named(doc, "k")["range"], [-2, 10])
                self.assertEqual(node_named(doc, "b")["range"], [False, True])
                self.assertEqual(node_named(doc, "f")["range"], ["-inf", 0.10000000149011612])
                self.assertEqual(node_named(doc, "s")["range"], [1.0, 2.0])
                self.assertFalse([n for n in doc["nodes"] if "range" in n and n["op"] not in ("input", "state")])
        json_doc, cbor_doc = documents(y=t * k)
        self.assertEqual(json_doc, cbor_doc)

    def test_without_ranges_the_version_stays_low(self) -> None:
        for doc in documents(y=cp.value(0.5, name="a") * 2.0):
            self.assertEqual(doc["version"], 1)
            self.assertNotIn("range", doc["nodes"][0])

    def test_container_of_states_has_the_range_on_every_element(self) -> None:
        v = cp.state(cp.vector([0.0, 0.5, 1.0]), name="v", range=(0.0, 1.0))
        doc = documents(v=v)[0]
        self.assertEqual([node_named(doc, f"v[{i}]")["range"] for i in range(3)], [[0.0, 1.0]] * 3)


class Checked(unittest.TestCase):
    def test_empty_range(self) -> None:
        with self.assertRaisesRegex(ValueError, r"range of .* is empty: lo = 2.0 > hi = 1.0"):
            cp.value(1.5, name="x", range=(2.0, 1.0))

    def test_nan_bound(self) -> None:
        for bounds in ((math.nan, 1.0), (0.0, math.nan)):
            with self.assertRaisesRegex(ValueError, "NaN"):
                cp.value(0.5, range=bounds)

    def test_wrong_types(self) -> None:
        cases = [(0.5, "01"), (0.5, (0.0,)), (0.5, (0.0, 1.0, 2.0)), (0.5, 1.0), (0.5, (0.0, "1")),
                 (3, (0.5, 4)), (True, (0, 2.5)), (0.5, (cp.value(0.0), 1.0))]
        for x, bounds in cases:
            with self.subTest(x=x, bounds=bounds):
                with self.assertRaises(TypeError):
                    cp.value(x, range=bounds)

    def test_bounds_beyond_the_type(self) -> None:
        with self.assertRaisesRegex(ValueError, "int32"):
            cp.value(3, range=(0, 2 ** 31))
        with self.assertRaisesRegex(ValueError, "0/1"):
            cp.value(True, range=(0, 2))
        with self.assertRaisesRegex(ValueError, "float range"):
            cp.value(0.5, range=(0.0, 1e39))

    def test_initial_value_outside(self) -> None:
        with self.assertRaisesRegex(ValueError, r"initial value 1\.5 of .*'throttle'.* is outside its declared "
                                                r"range \[0\.0, 1\.0\]"):
            cp.value(1.5, name="throttle", range=(0.0, 1.0))
        with self.assertRaisesRegex(ValueError, "outside its declared range"):
            cp.value(math.nan, range=(-math.inf, math.inf))  # a declared range excludes NaN
        with self.assertRaisesRegex(ValueError, "outside its declared range"):
            cp.state(5, name="n", range=(0, 4))
        with self.assertRaisesRegex(ValueError, "outside its declared range"):
            cp.state([0.0, 2.0], name="m", range=(0.0, 1.0))

    def test_only_inputs_and_states(self) -> None:
        from copapy._value import declare_range, operand_node
        x = cp.value(0.5)
        for node in (operand_node(2.0), (x + 1.0)._node):
            with self.subTest(op=node.op):
                with self.assertRaisesRegex(TypeError, "only inputs and states have a declared range"):
                    declare_range(node, (0.0, 1.0))
        with self.assertRaises(TypeError):
            cp.value(x, range=(0.0, 1.0))  # cp.value() does not wrap a value, with or without a range

    def test_int_and_bool_bounds_of_a_float(self) -> None:
        x = cp.value(0.5, name="x", range=(0, True))
        self.assertEqual(documents(x=x)[0]["nodes"][0]["range"], [0.0, 1.0])


class Enforced(unittest.TestCase):
    """write_value, run_batch and run_columns refuse values outside the range,
    before anything runs, on every runner."""

    def program(self, runner: str) -> Dict[str, Any]:
        t = cp.value(0.5, name="throttle", range=(0.0, 1.0))
        n = cp.value(2, range=(0, 3))  # named automatically
        g = cp.value(1.0, name="free")
        s = cp.state(0.0, name="s", range=(-1.0, 1.0))
        v = cp.vector([cp.value(0.5, name=f"v{i}", range=(0.0, 1.0)) for i in range(3)])
        y = t * n + g + v.sum()
        # Kept inside its declared range, as the compiler's range analysis
        # demands: the runner that passes states on coparun's command line
        # would have them refused otherwise.
        s.next(cp.clamp(s + y, -1.0, 1.0))
        tg = cp.Target(runner=runner)
        tg.compile(y, s, v, locations=False)
        return dict(tg=tg, t=t, n=n, g=g, s=s, v=v, y=y)

    def test_write_value(self) -> None:
        for runner in RUNNERS:
            with self.subTest(runner=runner):
                p = self.program(runner)
                tg = p["tg"]
                self.addCleanup(tg.close)
                for inp, bad, message in (
                        (p["t"], 1.5, r"value 1\.5 for input 'throttle' is outside its declared range \[0\.0, 1\.0\]"),
                        (p["t"], math.nan, r"value nan for input 'throttle' is outside"),
                        (p["t"], -1e-30, "outside its declared range"),
                        (p["n"], 4, r"value 4 for input 'in_\d+' \(<copapy value: input int = 2>, DAG node \d+\) is "
                                    r"outside its declared range \[0, 3\]"),
                        (p["s"], 2.0, r"value 2\.0 for state 's' is outside its declared range \[-1\.0, 1\.0\]"),
                        (p["v"], [0.0, 1.0, 1.5], r"value 1\.5 for input 'v2' is outside")):
                    with self.assertRaisesRegex(ValueError, message):
                        tg.write_value(inp, bad)
                    with self.assertRaisesRegex(ValueError, message):
                        tg.write_value(inp, bad)  # again, once the writer is made
                tg.write_value(p["t"], 1.0)   # the bounds themselves are inside
                tg.write_value(p["n"], 0)
                tg.write_value(p["v"], [0.0, 1.0, 0.25])
                tg.write_value(p["g"], -5000.0)  # no range: anything of its type
                tg.run()
                self.assertEqual(tg.read_value(p["y"]), 1.0 * 0 - 5000.0 + 1.25)
                with self.assertRaisesRegex(ValueError, "outside"):
                    tg.write_value(p["v"], [0.0, 1.0, 2.0])
                tg.run()
                self.assertEqual(tg.read_value(p["v"]).values, (0.0, 1.0, 0.25), "a refused write writes nothing")

    def test_run_batch_and_columns(self) -> None:
        for runner in RUNNERS:
            with self.subTest(runner=runner):
                p = self.program(runner)
                tg, t, y = p["tg"], p["t"], p["y"]
                self.addCleanup(tg.close)
                tg.write_value(p["g"], 0.0)
                for call in (lambda: tg.run_batch([{t: 0.25}, {t: 1.25}], y),
                             lambda: tg.run_batch({t: [0.25, 1.25]}, y),
                             lambda: tg.run_columns({t: [0.25, 1.25]}, y),
                             lambda: tg.run_columns({t: [0.25, 0.5], p["v"]: [[0, 0, 0], [0, 0, 7]]}, y),
                             lambda: tg.run_batch([{p["v"]: [0.5, 0.5, -0.5]}], y)):
                    with self.assertRaisesRegex(ValueError, r"period 1: .* is outside its declared range|"
                                                            r"period 0: value -0\.5 for input 'v2' is outside"):
                        call()
                with self.assertRaisesRegex(RuntimeError, "no results yet"):
                    tg.read_value(y)  # nothing ran
                self.assertEqual(tg.run_columns({t: [0.25, 1.0]}, y), [0.5 + 1.5, 2.0 + 1.5])
                self.assertEqual(tg.run_batch([{t: 0.0, p["v"]: [1.0, 1.0, 1.0]}], y), [3.0])


if __name__ == "__main__":
    unittest.main()


class Warned(unittest.TestCase):
    """copapy-cc's range findings reach a Target's user as CompileWarnings
    naming the Python line; a declared range that makes the program safe
    silences them."""

    def compile_sqrt(self, **declared: Any) -> List[str]:
        import warnings
        x = cp.value(2.0, **declared)
        y = cp.sqrt(x)  # the line the warning names
        line = sys._getframe().f_lineno - 1
        tg = cp.Target()
        self.addCleanup(tg.close)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tg.compile(y)
        tg.run()
        self.assertAlmostEqual(tg.read_value(y), math.sqrt(2.0), places=6)
        found = [w for w in caught if issubclass(w.category, cp.CompileWarning)]
        self.line = line
        self.places = [(Path(w.filename).name, w.lineno) for w in found]
        return [str(w.message) for w in found]

    def test_finding_names_the_line(self) -> None:
        texts = self.compile_sqrt()
        self.assertEqual(len(texts), 1, texts)
        self.assertRegex(texts[0], r"node \d+ \('sqrt'\): sqrt argument in \[-inf, inf\] or NaN may be negative")
        self.assertEqual(self.places, [("test_ranges.py", self.line)])  # issued at the line that made the node

    def test_declared_range_silences_it(self) -> None:
        self.assertEqual(self.compile_sqrt(range=(0.0, 4.0)), [])
