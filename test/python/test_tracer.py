"""Unit tests of the tracer (tools/python/copapy): DAG export, typing, names,
determinism, the CBOR encoder, vectors, math functions and errors.

They need neither copapy-cc nor coparun; Target is tested against tiny stand-in
executables written by the tests that only record their command lines.

    PYTHONPATH=tools/python python3 -m unittest discover -s test/python
"""
import gc
import json
import math
import os
import stat
import struct
import subprocess
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path
from unittest import mock
from typing import Any, Dict, List, Tuple

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "python"))

import copapy as cp  # noqa: E402
from copapy import _cbor, _target  # noqa: E402


def f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def export_doc(*values: Any, locations: bool = False, **named: Any) -> Dict[str, Any]:
    """The JSON document cp.export writes for the values (by default without
    source locations, which test_locations.py checks)."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "p.json")
        cp.export(path, *values, locations=locations, **named)
        with open(path, encoding="utf-8") as f:
            return json.load(f)


def output_node(doc: Dict[str, Any], name: str) -> Dict[str, Any]:
    ids = {n["id"]: n for n in doc["nodes"]}
    (out,) = [o for o in doc["outputs"] if o["name"] == name]
    return ids[out["node"]]


def node_of(doc: Dict[str, Any], node_id: int) -> Dict[str, Any]:
    (n,) = [n for n in doc["nodes"] if n["id"] == node_id]
    return n


def cbor_decode(data: bytes) -> Any:
    """A minimal CBOR decoder for what the encoder writes (independent of it)."""
    def item(i: int) -> Tuple[Any, int]:
        major, info = data[i] >> 5, data[i] & 31
        i += 1
        if major == 7:
            if info == 20:
                return False, i
            if info == 21:
                return True, i
            if info == 22:
                return None, i
            if info == 27:
                return struct.unpack(">d", data[i:i + 8])[0], i + 8
            raise ValueError(f"unexpected simple/float {info}")
        if info < 24:
            n = info
        else:
            size = {24: 1, 25: 2, 26: 4, 27: 8}[info]
            n = int.from_bytes(data[i:i + size], "big")
            i += size
        if major == 0:
            return n, i
        if major == 1:
            return -1 - n, i
        if major == 3:
            return data[i:i + n].decode("utf-8"), i + n
        if major == 4:
            out = []
            for _ in range(n):
                x, i = item(i)
                out.append(x)
            return out, i
        if major == 5:
            d = {}
            for _ in range(n):
                k, i = item(i)
                d[k], i = item(i)
            return d, i
        raise ValueError(f"unexpected major type {major}")
    value, end = item(0)
    assert end == len(data), "trailing bytes"
    return value


class Inputs(unittest.TestCase):
    def test_dtype_from_python_type(self) -> None:
        self.assertEqual(cp.value(True).dtype, "bool")
        self.assertEqual(cp.value(3).dtype, "int")
        self.assertEqual(cp.value(3.0).dtype, "float")

    def test_initial_values_exported_exactly(self) -> None:
        doc = export_doc(a=cp.value(0.1, name="a"), b=cp.value(-7, name="b"), t=cp.value(True, name="t"))
        self.assertEqual(output_node(doc, "a"),
                         {"id": output_node(doc, "a")["id"], "op": "input", "dtype": "float", "name": "a",
                          "value": f32(0.1)})
        self.assertEqual(output_node(doc, "b")["value"], -7)
        self.assertIs(output_node(doc, "t")["value"], True)

    def test_non_finite_initial_values_are_strings(self) -> None:
        doc = export_doc(cp.value(math.inf, name="p"), cp.value(-math.inf, name="m"), cp.value(math.nan, name="n"))
        values = {n["name"]: n["value"] for n in doc["nodes"]}
        self.assertEqual(values, {"p": "inf", "m": "-inf", "n": "nan"})

    def test_float_overflowing_binary32_becomes_inf(self) -> None:
        doc = export_doc(x=cp.value(1e39, name="x"))
        self.assertEqual(output_node(doc, "x")["value"], "inf")

    def test_negative_zero_keeps_its_sign(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "p.json")
            cp.export(path, z=cp.value(-0.0, name="z"))
            self.assertIn('"value": -0.0', Path(path).read_text())

    def test_int_out_of_range(self) -> None:
        with self.assertRaisesRegex(OverflowError, "int32"):
            cp.value(2 ** 31)
        cp.value(-(2 ** 31))

    def test_invalid_name(self) -> None:
        for bad in ["", "1a", "a b", "a-b", "x" * 256]:
            with self.assertRaises(ValueError, msg=bad):
                cp.value(1.0, name=bad)
        cp.value(1.0, name="pos.x[3]_ok")

    def test_not_a_number(self) -> None:
        with self.assertRaises(TypeError):
            cp.value("1.0")  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            cp.value(cp.value(1.0))  # type: ignore[arg-type]


class Typing(unittest.TestCase):
    """Result dtypes exactly per docs/dag-format.md, and the ops recorded."""

    def setUp(self) -> None:
        self.v = {"int": cp.value(3), "float": cp.value(1.5), "bool": cp.value(True)}

    def check(self, result: Any, op: str, dtype: str) -> None:
        self.assertIsInstance(result, cp.value)
        self.assertEqual(result._node.op, op)
        self.assertEqual(result.dtype, dtype)

    def test_binary_table(self) -> None:
        import operator as o
        funcs = {"add": o.add, "sub": o.sub, "mul": o.mul, "div": o.truediv, "floordiv": o.floordiv,
                 "mod": o.mod, "min": cp.minimum, "max": cp.maximum, "gt": o.gt, "ge": o.ge, "lt": o.lt,
                 "le": o.le, "eq": o.eq, "ne": o.ne, "atan2": cp.atan2}
        kinds = ["int", "float", "bool"]
        for op, fn in funcs.items():
            for a in kinds:
                for b in kinds:
                    ints = a != "float" and b != "float"
                    if op in ("add", "sub", "mul", "floordiv", "mod"):
                        want = "int" if ints else "float"
                    elif op in ("div", "atan2"):
                        want = "float"
                    elif op in ("min", "max"):
                        want = "bool" if a == b == "bool" else ("int" if ints else "float")
                    else:
                        want = "bool"
                    with self.subTest(op=op, a=a, b=b):
                        self.check(fn(self.v[a], self.v[b]), op, want)

    def test_bitwise_and_shifts(self) -> None:
        i, b, f = self.v["int"], self.v["bool"], self.v["float"]
        self.check(i & i, "and", "int")
        self.check(b | b, "or", "bool")
        self.check(b ^ i, "xor", "int")
        self.check(True & b, "and", "bool")
        self.check(i << 2, "lshift", "int")
        self.check(b >> b, "rshift", "int")
        self.check(1 << i, "lshift", "int")
        self.check(~i, "xor", "int")
        self.check(~b, "xor", "int")  # Python: ~True == -2
        for expr in (lambda: f & i, lambda: i | f, lambda: f ^ 1, lambda: f << 1, lambda: i >> f,
                     lambda: i & 1.5, lambda: 2.0 | i, lambda: ~f):
            with self.assertRaisesRegex(TypeError, "int or bool|float"):
                expr()

    def test_unary(self) -> None:
        for kind, want in (("int", "int"), ("bool", "int"), ("float", "float")):
            x = self.v[kind]
            self.check(-x, "neg", want)
            self.check(abs(x), "abs", want)
            self.check(cp.abs(x), "abs", want)
            # cp.sign is an int, as the original: the float DAG sign converted.
            self.check(cp.sign(x), "sign" if kind != "float" else "cast", "int")
            for fn in ("sqrt", "exp", "log", "sin", "cos", "tan", "asin", "acos", "atan"):
                self.check(getattr(cp, fn)(x), fn, "float")

    def test_pow_rule(self) -> None:
        i, f, b = self.v["int"], self.v["float"], self.v["bool"]
        # Int exponents 0..7 expand into multiplications while tracing (as the original).
        self.check(i ** 2, "mul", "int")
        self.assertEqual(i ** 0, 1)
        self.check(b ** 3, "mul", "int")
        self.assertIs(i ** True, i)
        self.check(cp.pow(i, 2), "mul", "int")
        self.check(i ** 8, "pow", "int")
        self.check(cp.pow(i, 31), "pow", "int")
        self.check(i ** -1, "pow", "float")
        self.check(i ** 2.0, "pow", "float")
        self.check(i ** i, "pow", "float")   # exponent not a constant
        self.check(2 ** i, "pow", "float")   # reflected: exponent is the value
        self.check(f ** 2, "mul", "float")
        self.check(f ** 2.0, "pow", "float")
        self.check(cp.pow(2, i), "pow", "float")
        with self.assertRaises(TypeError):
            pow(i, 2, 5)

    def test_select(self) -> None:
        i, f, b = self.v["int"], self.v["float"], self.v["bool"]
        for cond in (i, f, b):
            self.check(cp.iif(cond, i, i), "select", "int")
            self.check(cp.iif(cond, b, b), "select", "bool")
            self.check(cp.iif(cond, b, i), "select", "int")
            self.check(cp.iif(cond, i, f), "select", "float")
            self.check(cp.iif(cond, 1, 2.5), "select", "float")
        s = cp.iif(b, 1, 2)
        self.assertEqual([a.op for a in s._node.args], ["input", "const", "const"])

    def test_clamp_is_min_of_max(self) -> None:
        x = cp.value(2.0)
        c = cp.clamp(x, 0.0, 1.0)
        self.check(c, "min", "float")
        self.assertEqual(c._node.args[0].op, "max")
        self.assertIs(c._node.args[0].args[0], x._node)

    def test_operand_order_and_reflection(self) -> None:
        x = cp.value(5)
        for expr, op in ((10 - x, "sub"), (10 / x, "div"), (10 // x, "floordiv"), (10 % x, "mod")):
            a, b = expr._node.args
            self.assertEqual((expr._node.op, a.op, a.value, b.op), (op, "const", 10, "input"))
        # Python reflects comparisons itself: 3 < x is x > 3.
        r = 3 < x
        self.assertEqual((r._node.op, r._node.args[0].op), ("gt", "input"))


class Constants(unittest.TestCase):
    def test_const_types_and_binary32_rounding(self) -> None:
        x = cp.value(1.0)
        doc = export_doc(a=x + 0.1, b=x + 2, c=x + True)
        consts = [n for n in doc["nodes"] if n["op"] == "const"]
        self.assertEqual([(n["dtype"], n["value"]) for n in consts],
                         [("float", f32(0.1)), ("int", 2), ("bool", True)])
        self.assertEqual(f32(0.1), 0.10000000149011612)

    def test_non_finite_constants(self) -> None:
        x = cp.value(1.0)
        doc = export_doc(a=x * math.inf, b=x * -math.inf, c=x + math.nan, d=x + 1e300)
        self.assertEqual([n["value"] for n in doc["nodes"] if n["op"] == "const"], ["inf", "-inf", "nan", "inf"])

    def test_int_constant_out_of_range(self) -> None:
        with self.assertRaisesRegex(OverflowError, "int32"):
            cp.value(1) + 2 ** 32

    def test_no_folding(self) -> None:
        x = cp.value(1.0)
        self.assertEqual((x + 0)._node.op, "add")
        self.assertEqual((x * 1)._node.op, "mul")
        # Small int powers expand while tracing, as in the original: x ** 1 is x, x ** 3 is (x * x) * x.
        self.assertIs(x ** 1, x)
        self.assertEqual(x ** 0, 1)
        cube = x ** 3
        self.assertEqual((cube._node.op, cube._node.args[0].op), ("mul", "mul"))
        self.assertEqual((x ** 8)._node.op, "pow")

    def test_constants_in_exported_outputs(self) -> None:
        doc = export_doc(k=2.5, v=cp.vector([1, cp.value(2, name="two")]))
        self.assertEqual(output_node(doc, "k"), {"id": output_node(doc, "k")["id"], "op": "const",
                                                 "dtype": "float", "value": 2.5})
        self.assertEqual(output_node(doc, "v[0]")["value"], 1)
        self.assertEqual(output_node(doc, "v[1]")["name"], "two")


class Export(unittest.TestCase):
    def test_readme_document(self) -> None:
        a = cp.value(0.25, name="a")
        b = cp.value(0.87, name="b")
        c = a + b * 2.0
        doc = export_doc(c=c)
        self.assertEqual(doc, {
            "format": "copapy-dag", "version": 1, "meta": {"generator": "copapy tracer"},
            "nodes": [
                {"id": 0, "op": "input", "dtype": "float", "name": "a", "value": 0.25},
                {"id": 1, "op": "input", "dtype": "float", "name": "b", "value": f32(0.87)},
                {"id": 2, "op": "const", "dtype": "float", "value": 2.0},
                {"id": 3, "op": "mul", "dtype": "float", "args": [1, 2]},
                {"id": 4, "op": "add", "dtype": "float", "args": [0, 3]}],
            "outputs": [{"name": "c", "node": 4}]})

    def test_topological_and_dense(self) -> None:
        a, b = cp.value(1.0), cp.value(2)
        s = a * b
        y = (s + a) * (s - b) + cp.iif(a > b, s, a) ** 2
        doc = export_doc(y=y, s=s)
        ids = [n["id"] for n in doc["nodes"]]
        self.assertEqual(ids, list(range(len(ids))))
        for n in doc["nodes"]:
            for arg in n.get("args", []):
                self.assertLess(arg, n["id"])
        # Shared nodes appear once: s is an operand of add, sub and select.
        s_id = output_node(doc, "s")["id"]
        self.assertEqual(sum(n.get("args", []).count(s_id) for n in doc["nodes"]), 3)
        self.assertEqual(sum(1 for n in doc["nodes"] if n["op"] == "input"), 2)

    def test_automatic_names(self) -> None:
        a = cp.value(1.0)
        b = cp.value(2.0, name="b")
        y = a + b
        doc = export_doc(y, a, b)
        inputs = {n["id"]: n["name"] for n in doc["nodes"] if n["op"] == "input"}
        a_id = next(i for i, name in inputs.items() if name != "b")
        self.assertEqual(inputs[a_id], f"in_{a_id}")
        y_id = output_node(doc, f"out_{len(doc['nodes']) - 1}")["id"]
        self.assertEqual(doc["outputs"], [{"name": f"out_{y_id}", "node": y_id},
                                          {"name": f"in_{a_id}", "node": a_id},
                                          {"name": "b", "node": inputs and next(i for i, n in inputs.items()
                                                                                if n == "b")}])

    def test_automatic_names_avoid_user_names(self) -> None:
        a = cp.value(1.0)             # would be in_0
        b = cp.value(2.0, name="in_0")
        doc = export_doc(a + b)
        names = sorted(n["name"] for n in doc["nodes"] if n["op"] == "input")
        self.assertEqual(names, ["in_0", "in_0_"])

    def test_duplicate_input_names(self) -> None:
        a, b = cp.value(1.0, name="x"), cp.value(2.0, name="x")
        with self.assertRaisesRegex(ValueError, "two different inputs are named 'x'"):
            export_doc(a + b)
        export_doc(a)  # fine while only one of them is part of the program

    def test_output_names(self) -> None:
        a = cp.value(1.0, name="a")
        y = a * 2.0
        doc = export_doc(y, y2=y, a=a)
        self.assertEqual([o["name"] for o in doc["outputs"]], ["out_2", "y2", "a"])
        with self.assertRaisesRegex(ValueError, "name of input"):
            export_doc(a=y)
        with self.assertRaisesRegex(ValueError, "invalid output name"):
            export_doc(**{"bad name": y})

    def test_positional_duplicates_collapse(self) -> None:
        y = cp.value(1.0) + 1.0
        self.assertEqual(len(export_doc(y, y, [y])["outputs"]), 1)

    def test_vector_and_list_outputs(self) -> None:
        v = cp.vector([cp.value(1.0), cp.value(2.0)])
        doc = export_doc(v=v * 2.0, pair=[v[0], (v[1], v[0])])
        self.assertEqual([o["name"] for o in doc["outputs"]], ["v[0]", "v[1]", "pair[0]", "pair[1][0]",
                                                               "pair[1][1]"])

    def test_bad_output_value(self) -> None:
        with self.assertRaises(TypeError):
            export_doc(x="nope")

    def test_deterministic_across_processes(self) -> None:
        """Same program, different hash seeds and addresses: identical bytes (JSON and CBOR)."""
        program = textwrap.dedent("""
            import sys, copapy as cp
            a = cp.value(0.25); b = cp.value(3, name="b"); t = cp.value(True)
            v = cp.vector([a, a * 2, 1.5])
            junk = [cp.value(float(i)) for i in range(50)]   # shifts object addresses
            y = (v + b).normalize() @ v + cp.iif(t & (b > 2), a, -a) ** 3 + cp.atan2(a, b)
            cp.export(sys.argv[1], y, q=v, r=b // 2 % 3)
        """)
        outputs = []
        with tempfile.TemporaryDirectory() as d:
            for k, seed in enumerate(["0", "1", "12345"]):
                for ext in ("json", "cbor"):
                    path = os.path.join(d, f"{k}.{ext}")
                    env = dict(os.environ, PYTHONHASHSEED=seed,
                               PYTHONPATH=str(REPO / "tools" / "python"))
                    subprocess.run([sys.executable, "-c", program, path], check=True, env=env)
                    outputs.append((ext, Path(path).read_bytes()))
        for ext in ("json", "cbor"):
            files = {data for e, data in outputs if e == ext}
            self.assertEqual(len(files), 1, ext)

    def test_cbor_document_equals_json_document(self) -> None:
        a = cp.value(0.1, name="a")
        n = cp.value(-5, name="n")
        t = cp.value(False, name="t")
        y = cp.iif(t, a, -a) * n + math.inf - cp.value(math.nan)
        with tempfile.TemporaryDirectory() as d:
            for ext in ("json", "cbor"):  # one line: the constants made by export() have the same location
                cp.export(os.path.join(d, "p." + ext), y, m=n % 3, k=-(2 ** 31), f=-0.0, b=t | True)
            from_json = json.loads(Path(d, "p.json").read_text())
            data = Path(d, "p.cbor").read_bytes()
        self.assertTrue(0xA0 <= data[0] <= 0xBF, "a CBOR map header, as copapy-cc detects it")
        self.assertEqual(cbor_decode(data), from_json)

    def test_deep_chain_without_recursion(self) -> None:
        x = a = cp.value(1.0)
        n = 200_000
        for _ in range(n):
            x = x + a
        self.assertGreater(n, sys.getrecursionlimit())
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "deep.json")
            cp.export(path, y=x)
            doc = json.loads(Path(path).read_text())
        self.assertEqual(len(doc["nodes"]), n + 1)
        self.assertEqual(doc["outputs"], [{"name": "y", "node": n}])
        del x, a, doc
        gc.collect()


class Cbor(unittest.TestCase):
    """Encodings from RFC 8949 appendix A and hand-computed ones."""

    def test_integers(self) -> None:
        cases = {0: "00", 1: "01", 10: "0a", 23: "17", 24: "1818", 25: "1819", 100: "1864", 255: "18ff",
                 256: "190100", 1000: "1903e8", 65535: "19ffff", 65536: "1a00010000", 1000000: "1a000f4240",
                 2 ** 32 - 1: "1affffffff", 2 ** 32: "1b0000000100000000",
                 1000000000000: "1b000000e8d4a51000", -1: "20", -10: "29", -24: "37", -25: "3818",
                 -100: "3863", -1000: "3903e7", -(2 ** 31): "3a7fffffff"}
        for value, hexbytes in cases.items():
            with self.subTest(value=value):
                self.assertEqual(_cbor.encode(value), bytes.fromhex(hexbytes))

    def test_floats_are_float64(self) -> None:
        cases = [(0.0, "fb0000000000000000"), (-0.0, "fb8000000000000000"), (1.0, "fb3ff0000000000000"),
                 (1.1, "fb3ff199999999999a"), (1.5, "fb3ff8000000000000"), (-4.1, "fbc010666666666666"),
                 (1.0e300, "fb7e37e43c8800759c"), (math.inf, "fb7ff0000000000000"),
                 (-math.inf, "fbfff0000000000000"), (f32(0.1), "fb3fb99999a0000000")]
        for value, hexbytes in cases:
            with self.subTest(value=value):
                self.assertEqual(_cbor.encode(value), bytes.fromhex(hexbytes))
        self.assertEqual(_cbor.encode(math.nan)[:1], b"\xfb")
        self.assertTrue(math.isnan(struct.unpack(">d", _cbor.encode(math.nan)[1:])[0]))

    def test_simple_values_strings_arrays_maps(self) -> None:
        cases: List[Tuple[Any, str]] = [
            (False, "f4"), (True, "f5"), (None, "f6"), ("", "60"), ("a", "6161"), ("IETF", "6449455446"),
            ("\u00fc", "62c3bc"), ("x" * 24, "7818" + "78" * 24), ([], "80"), ([1, 2, 3], "83010203"),
            ([1, [2, 3], [4, 5]], "8301820203820405"), (list(range(1, 26)),
                                                        "98190102030405060708090a0b0c0d0e0f101112131415161718181819"),
            ({}, "a0"), ({"a": 1, "b": [2, 3]}, "a26161016162820203"), (["a", {"b": "c"}], "826161a161626163"),
        ]
        for value, hexbytes in cases:
            with self.subTest(value=value):
                self.assertEqual(_cbor.encode(value), bytes.fromhex(hexbytes))

    def test_unsupported(self) -> None:
        with self.assertRaises(TypeError):
            _cbor.encode(b"bytes")
        with self.assertRaises(TypeError):
            _cbor.encode({1: 2})
        with self.assertRaises(OverflowError):
            _cbor.encode(2 ** 64)


class Vectors(unittest.TestCase):
    def setUp(self) -> None:
        self.a = cp.vector([cp.value(1.0), cp.value(2.0), cp.value(3.0)])
        self.b = cp.vector([cp.value(4.0), 5.0, cp.value(6)])

    def ops(self, v: cp.vector) -> List[str]:
        return [x._node.op for x in v]

    def test_elementwise_with_vectors_and_scalars(self) -> None:
        s = cp.value(2.0)
        for expr, op in ((self.a + self.b, "add"), (self.a - 1, "sub"), (1 - self.a, "sub"), (s * self.a, "mul"),
                         (self.a / s, "div"), (self.a // self.b, "floordiv"), (self.a % 2, "mod"),
                         (self.a ** 2, "pow"), (2 ** self.a, "pow"), (self.a < self.b, "lt"),
                         (self.a >= 1.0, "ge"), (self.a == self.b, "eq"), (self.a != s, "ne"), (-self.a, "neg"),
                         (abs(self.a), "abs")):
            with self.subTest(op=op):
                self.assertIsInstance(expr, cp.vector)
                self.assertEqual(len(expr), 3)
                self.assertEqual(self.ops(expr), [op] * 3)
        r = 1 - self.a
        self.assertEqual(r[0]._node.args[0].op, "const")
        self.assertEqual((self.a < self.b)[0].dtype, "bool")

    def test_length_mismatch(self) -> None:
        with self.assertRaisesRegex(ValueError, "lengths differ"):
            self.a + cp.vector([1.0, 2.0])
        with self.assertRaisesRegex(ValueError, "lengths differ"):
            self.a @ cp.vector([1.0])
        with self.assertRaisesRegex(ValueError, "lengths differ"):
            cp.minimum(self.a, cp.vector([1.0]))

    def test_sequence_protocol(self) -> None:
        self.assertEqual(len(self.a), 3)
        self.assertIs(self.a[1], self.a.values[1])
        self.assertIs(self.a[-1], self.a.values[2])
        tail = self.a[1:]
        self.assertIsInstance(tail, cp.vector)
        self.assertEqual(list(tail), list(self.a.values[1:]))
        self.assertEqual(list(iter(self.a)), list(self.a.values))
        with self.assertRaises(TypeError):
            cp.vector([self.a])

    def test_reductions(self) -> None:
        d = self.a @ self.b
        self.assertEqual(d._node.op, "add")
        self.assertEqual(self.a.dot(self.b)._node.op, "add")
        s = self.a.sum()
        self.assertEqual((s._node.op, s._node.args[0].op), ("add", "add"))
        self.assertEqual(cp.vector([]).sum(), 0)
        self.assertEqual(cp.vector([1, 2, 3]).sum(), 6)
        m = self.a.magnitude()
        self.assertEqual(m._node.op, "sqrt")
        self.assertEqual(cp.vector([3.0, 4.0]).magnitude(), 5.0)
        n = self.a.normalize()
        self.assertEqual(self.ops(n), ["div"] * 3)
        self.assertEqual(list(cp.vector([0.0, 0.0]).normalize()), [0.0, 0.0])

    def test_cross(self) -> None:
        c = cp.vector([1.0, 0.0, 0.0]).cross(cp.vector([0.0, 1.0, 0.0]))
        self.assertEqual(list(c), [0.0, 0.0, 1.0])
        self.assertEqual(self.ops(self.a.cross(self.b)), ["sub"] * 3)
        with self.assertRaisesRegex(ValueError, "3-vectors"):
            self.a[:2].cross(self.b[:2])

    def test_inplace_rebinds(self) -> None:
        theta = self.a
        original = theta
        theta -= 0.1 * self.b
        self.assertIsNot(theta, original)
        self.assertEqual(self.ops(theta), ["sub"] * 3)

    def test_math_functions_elementwise(self) -> None:
        for fn in ("sqrt", "exp", "log", "sin", "cos", "tan", "asin", "acos", "atan", "abs", "tanh", "floor",
                   "ceil", "trunc", "round"):
            self.assertEqual(self.ops(getattr(cp, fn)(self.a)), [fn] * 3)
        self.assertEqual(self.ops(cp.sign(self.a)), ["cast"] * 3)  # the float sign converted to int
        self.assertEqual(self.ops(cp.atan2(self.a, 1.0)), ["atan2"] * 3)
        self.assertEqual(self.ops(cp.pow(self.a, self.b)), ["pow"] * 3)
        self.assertEqual(self.ops(cp.minimum(self.a, 0.0)), ["min"] * 3)
        self.assertEqual(self.ops(cp.maximum(0.0, self.a)), ["max"] * 3)
        self.assertEqual(self.ops(cp.clamp(self.a, 0.0, 1.0)), ["min"] * 3)
        self.assertEqual(self.ops(cp.iif(self.a > 1.0, self.a, 0.0)), ["select"] * 3)

    def test_hash_by_identity(self) -> None:
        self.assertEqual(len({self.a, self.b, self.a}), 2)


class PlainNumbers(unittest.TestCase):
    """Math functions on Python numbers compute right away, with C's results where Python raises."""

    def test_values(self) -> None:
        self.assertEqual(cp.sqrt(4), 2.0)
        self.assertEqual(cp.sin(0.0), 0.0)
        self.assertEqual(cp.atan2(1.0, 1.0), math.atan2(1.0, 1.0))
        self.assertEqual(cp.pow(2, 10), 1024)
        self.assertIsInstance(cp.pow(2, 10), int)
        self.assertEqual(cp.pow(2, -1), 0.5)
        self.assertEqual(cp.abs(-3), 3)
        self.assertEqual(cp.sign(-3), -1)
        self.assertEqual(cp.sign(2.5), 1)  # an int, as the original
        self.assertIsInstance(cp.sign(2.5), int)
        self.assertEqual(cp.sign(-0.0), 0)
        self.assertEqual(cp.sign(math.nan), 0)
        self.assertEqual(cp.minimum(1, 2), 1)
        self.assertEqual(cp.maximum(1, 2), 2)
        self.assertEqual(cp.clamp(5, 0, 3), 3)
        self.assertEqual(cp.iif(True, 1, 2), 1)
        self.assertEqual(cp.iif(0.0, 1, 2), 2)

    def test_where_python_raises(self) -> None:
        self.assertEqual(cp.log(0.0), -math.inf)
        self.assertTrue(math.isnan(cp.log(-1.0)))
        self.assertTrue(math.isnan(cp.sqrt(-1.0)))
        self.assertTrue(math.isnan(cp.asin(2.0)))
        self.assertTrue(math.isnan(cp.sin(math.inf)))
        self.assertEqual(cp.exp(1000.0), math.inf)
        self.assertEqual(cp.pow(0.0, -1.0), math.inf)
        self.assertEqual(cp.pow(-0.0, -1.0), -math.inf)
        self.assertEqual(cp.pow(-0.0, -2.0), math.inf)
        self.assertTrue(math.isnan(cp.pow(-8.0, 1 / 3)))
        self.assertEqual(cp.pow(10.0, 400.0), math.inf)
        self.assertEqual(cp.pow(-10.0, 401.0), -math.inf)

    def test_min_max_follow_python(self) -> None:
        # Python's min(a, b) is `b if b < a else a`: the first operand wins ties and NaN.
        self.assertEqual(math.copysign(1, cp.minimum(0.0, -0.0)), 1.0)
        self.assertEqual(math.copysign(1, cp.maximum(-0.0, 0.0)), -1.0)
        self.assertEqual(cp.minimum(1.0, math.nan), 1.0)
        self.assertTrue(math.isnan(cp.minimum(math.nan, 1.0)))

    def test_bad_arguments(self) -> None:
        with self.assertRaises(TypeError):
            cp.sin("x")
        with self.assertRaises(TypeError):
            cp.iif(cp.value(True), "a", 1)


class Errors(unittest.TestCase):
    def test_no_truth_value(self) -> None:
        x = cp.value(1.0)
        with self.assertRaisesRegex(TypeError, "cp.iif"):
            bool(x > 0)
        with self.assertRaisesRegex(TypeError, "cp.iif"):
            if x:
                pass
        with self.assertRaises(TypeError):
            float(x)
        with self.assertRaises(TypeError):
            int(x)
        with self.assertRaises(TypeError):
            [1, 2][cp.value(0)]  # type: ignore[index]

    def test_unsupported_operands(self) -> None:
        x = cp.value(1.0)
        with self.assertRaises(TypeError):
            x + "a"  # type: ignore[operator]
        with self.assertRaises(TypeError):
            x @ x  # type: ignore[operator]
        self.assertIs(x == "a", False)  # falls back to identity, as for other objects

    def test_eq_records_and_hash_is_identity(self) -> None:
        a, b = cp.value(1), cp.value(1)
        self.assertEqual((a == b)._node.op, "eq")
        self.assertEqual((a != 1)._node.op, "ne")
        d = {a: "a", b: "b"}
        self.assertEqual(d[a], "a")
        self.assertEqual(len({a, b, a}), 2)


class FakeTools:
    """Stand-in executables for copapy-cc and coparun that record their
    command lines; the runner prints the JSON given to it (tests the plumbing
    of Target, not compilation)."""

    def __init__(self, d: str, printed: str) -> None:
        self.dir = Path(d)
        self.log = self.dir / "log.txt"
        self.printed = self.dir / "printed.json"
        self.printed.write_text(printed)
        self.cc = self._script("copapy-cc", """
            import shutil, sys
            args = sys.argv[1:]
            if args == ["targets", "--json"]:
                print('[{"name": "x86_64", "aliases": ["amd64"], "description": "", "host": true},'
                      ' {"name": "aarch64", "aliases": ["arm64"], "description": "", "host": false},'
                      ' {"name": "armv7", "aliases": [], "description": "", "host": false},'
                      ' {"name": "thumbv7", "aliases": ["armv7thumb"], "description": "", "host": false},'
                      ' {"name": "thumbv7em", "aliases": ["armv7mthumb"], "description": "", "host": false}]')
                sys.exit(0)
            if "FAIL" in open(args[1]).read():
                sys.exit("copapy-cc: error: simulated failure")
            shutil.copy(args[1], args[args.index("-o") + 1])   # the "image" is the DAG
        """)
        self.run = self._script("coparun", f"""
            import sys
            sys.stdout.write(open({str(self.printed)!r}).read())
        """)

    def _script(self, name: str, body: str) -> str:
        path = self.dir / name
        path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(f"""
            import sys
            with open({str(self.log)!r}, "a") as log:
                log.write(repr(sys.argv[1:]) + "\\n")
        """) + textwrap.dedent(body))
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
        return str(path)

    def calls(self) -> List[List[str]]:
        """The recorded command lines, without the target-table queries."""
        calls = [eval(line) for line in self.log.read_text().splitlines()]
        return [c for c in calls if c != ["targets", "--json"]]


class TargetPlumbing(unittest.TestCase):
    def setUp(self) -> None:
        self._env = dict(os.environ)
        self._tmp = tempfile.TemporaryDirectory()
        for var in ("COPAPY_TARGET", "COPAPY_CC", "COPAPY_RUN", "COPAPY_RUNNER"):
            os.environ.pop(var, None)

    def tearDown(self) -> None:
        os.environ.clear()
        os.environ.update(self._env)
        self._tmp.cleanup()

    def tools(self, printed: str) -> FakeTools:
        t = FakeTools(self._tmp.name, printed)
        os.environ["COPAPY_CC"] = t.cc
        os.environ["COPAPY_RUN"] = t.run
        os.environ["COPAPY_RUNNER"] = "process"  # the stand-in runner prints, it does not serve or load
        return t

    def image_doc(self, tg: cp.Target) -> Dict[str, Any]:
        return json.loads(Path(tg._image).read_text())  # the fake compiler copies the DAG

    def test_compile_run_read_write(self) -> None:
        a = cp.value(0.25, name="a")
        n = cp.value(3, name="n")
        flag = cp.value(False, name="flag")
        x = a * 2.0
        y = x + 1.0
        z = cp.iif(flag, n, -n)
        v = cp.vector([y, 7.5])
        tools = self.tools('{"a": 0.25, "n": 5, "flag": true, "out_2": "-inf", "out_4": "nan", "out_8": -3,'
                           ' "unknown": 1}')
        tg = cp.Target()
        tg.compile(v, [z])
        doc = self.image_doc(tg)
        names = {o["name"]: node_of(doc, o["node"])["op"] for o in doc["outputs"]}
        # y and z given; a, n, flag and x alive and computed; temporaries (-n) not.
        self.assertEqual(names, {"out_4": "add", "out_8": "select", "a": "input", "out_2": "mul", "n": "input",
                                 "flag": "input"})
        tg.write_value(a, 0.1)
        tg.write_value(n, -(2 ** 31))
        tg.write_value(flag, True)
        tg.run()
        tg.write_value(a, -math.inf)
        tg.run()
        cc_call, run1, run2 = tools.calls()
        self.assertEqual(cc_call[0], "build")
        self.assertEqual(cc_call[2:4], ["-t", "x86_64"])  # the host, named by the compiler's table
        self.assertEqual(run1[1:], ["--set", f"a={f32(0.1)!r}", "--set", "n=-2147483648", "--set", "flag=true"])
        self.assertEqual(run2[1:], ["--set", "a=-inf", "--set", "n=-2147483648", "--set", "flag=true"])
        self.assertEqual(tg.read_value(a), 0.25)
        self.assertEqual(tg.read_value(x), -math.inf)
        self.assertTrue(math.isnan(tg.read_value(y)))
        self.assertIsInstance(tg.read_value(v), cp.vector)  # the same container, holding numbers
        self.assertEqual(tg.read_value(v).tolist(), [tg.read_value(y), 7.5])
        self.assertEqual(tg.read_value([z, flag, 3]), [-3, True, 3])
        self.assertIs(tg.read_value(flag), True)

    def test_negative_zero_and_binary32_results(self) -> None:
        a = cp.value(1.0, name="a")
        y = a / 3.0
        self.tools('{"a": -0, "out_2": 0.333333343}')
        tg = cp.Target()
        tg.compile(y)
        tg.run()
        self.assertEqual(math.copysign(1.0, tg.read_value(a)), -1.0)
        self.assertEqual(tg.read_value(y), f32(1 / 3))

    def test_target_arch_and_env_default(self) -> None:
        tools = self.tools("{}")
        x = cp.value(1.0, name="x") + 1.0
        cp.Target("x86_64").compile(x)
        os.environ["COPAPY_TARGET"] = "armv7mthumb"
        tg = cp.Target()
        self.assertEqual(tg.arch, "thumbv7em")  # aliases resolve to the compiler's canonical name
        tg.compile(x)
        self.assertEqual(cp.Target("AArch64").arch, "aarch64")
        self.assertEqual(cp.Target("ARM64").arch, "aarch64")
        self.assertEqual(cp.Target("native").arch, "x86_64")
        calls = tools.calls()
        self.assertEqual(calls[0][2:4], ["-t", "x86_64"])
        self.assertEqual(calls[1][2:4], ["-t", "thumbv7em"])

    def test_unknown_targets_name_the_known_ones(self) -> None:
        self.tools("{}")
        for name in ("x86", "armv6", "pdp11"):
            with self.assertRaisesRegex(ValueError, rf"unknown target '{name}': this copapy-cc knows x86_64 "
                                                    r"\(amd64\), aarch64 \(arm64\), armv7, thumbv7 \(armv7thumb\)"):
                cp.Target(name)

    def test_optimization_levels(self) -> None:
        tools = self.tools("{}")
        x = cp.value(1.0, name="x") + 1.0
        for level, flag in ((0, "0"), ("O1", "1"), ("-O2", "2"), ("O3", "2"), (2, "2")):
            cp.Target(optimization=level).compile(x)
            self.assertEqual(tools.calls()[-1][4:6], ["-O", flag])
        with self.assertRaisesRegex(ValueError, "optimization must be"):
            cp.Target(optimization="fast")

    def test_compiler_failure_reports_stderr(self) -> None:
        self.tools("{}")
        with self.assertRaisesRegex(RuntimeError, "simulated failure"):
            cp.Target().compile(cp.value(1.0, name="FAIL") * 2.0)

    def test_usage_errors(self) -> None:
        self.tools('{"a": 1.0}')
        a = cp.value(1.0, name="a")
        other = cp.value(2.0, name="other")
        tg = cp.Target()
        with self.assertRaisesRegex(RuntimeError, "compile"):
            tg.run()
        with self.assertRaisesRegex(RuntimeError, "compile"):
            tg.write_value(a, 1.0)
        tg.compile(a * 2.0)
        with self.assertRaisesRegex(RuntimeError, "run"):
            tg.read_value(a)
        with self.assertRaisesRegex(ValueError, "only inputs"):
            tg.write_value(a * 2.0, 1.0)
        with self.assertRaisesRegex(ValueError, "not an input of the compiled program"):
            tg.write_value(other, 1.0)
        with self.assertRaisesRegex(ValueError, "not part of the compiled program"):
            tg.read_value(other)
        with self.assertRaises(TypeError):
            tg.write_value(a, "1.0")
        with self.assertRaises(ValueError):
            tg.write_value([a], [1.0, 2.0])

    def test_missing_tools(self) -> None:
        os.environ["COPAPY_CC"] = os.path.join(self._tmp.name, "nowhere")
        with self.assertRaisesRegex(FileNotFoundError, "COPAPY_CC=.*nowhere"):
            cp.Target().compile(cp.value(1.0) + 1.0)
        del os.environ["COPAPY_CC"]
        os.environ["PATH"] = self._tmp.name
        with mock.patch.object(_target, "_CHECKOUT_BIN", Path(self._tmp.name) / "build" / "bin"):
            with self.assertRaisesRegex(FileNotFoundError, r"cannot find copapy-cc; tried: \$COPAPY_CC \(not set\), "
                                                           r".*build/bin/copapy-cc, copapy-cc on PATH"):
                cp.Target().compile(cp.value(1.0) + 1.0)

    def test_runner_selection(self) -> None:
        """Host targets run coparun; others the target's runner under qemu user mode."""
        tools = self.tools("{}")
        armhf = Path(tools.run).with_name("coparun-armhf")   # found next to $COPAPY_RUN
        armhf.write_text("")
        armhf.chmod(0o755)
        os.environ["COPAPY_RUN_AARCH64"] = tools.cc           # any executable will do
        which = {"qemu-aarch64": "/q/qemu-aarch64", "qemu-arm": "/q/qemu-arm"}
        with mock.patch.object(_target, "_host_target", return_value="x86_64"), \
                mock.patch.object(_target.shutil, "which", which.get):
            for arch in (None, "x86_64", "amd64", "X86_64"):
                self.assertEqual(_target._runner_command(_target.resolve_target(arch)), [tools.run], arch)
            for arch in ("aarch64", "arm64"):
                self.assertEqual(_target._runner_command(_target.resolve_target(arch)),
                                 ["/q/qemu-aarch64", tools.cc], arch)
            for arch in ("armv7", "thumbv7", "thumbv7em", "armv7thumb", "armv7mthumb"):
                self.assertEqual(_target._runner_command(_target.resolve_target(arch)),
                                 ["/q/qemu-arm", str(armhf)], arch)
            with self.assertRaisesRegex(RuntimeError, "no way to run target 'riscv'"):
                _target._runner_command("riscv")
            del which["qemu-arm"]
            with self.assertRaisesRegex(FileNotFoundError, "qemu-arm"):
                _target._runner_command("armv7")


class Grad(unittest.TestCase):
    """cp.grad records grad nodes (the compiler expands them) and shapes the result like x."""

    def setUp(self) -> None:
        self.a = cp.value(0.5, name="a")
        self.b = cp.value(2.0, name="b")
        self.y = cp.sin(self.a) * self.b

    def check_grad(self, g: Any, x: cp.value) -> None:
        self.assertIsInstance(g, cp.value)
        self.assertEqual((g._node.op, g.dtype), ("grad", "float"))
        self.assertIs(g._node.args[0], self.y._node)
        self.assertIs(g._node.args[1], x._node)

    def test_scalar_vector_list_and_tuple(self) -> None:
        self.check_grad(cp.grad(self.y, self.a), self.a)
        v = cp.grad(self.y, cp.vector([self.a, self.b]))
        self.assertIsInstance(v, cp.vector)
        self.check_grad(v[0], self.a)
        self.check_grad(v[1], self.b)
        for seq in ([self.a, self.b], (self.a, self.b)):
            gs = cp.grad(self.y, seq)
            self.assertIsInstance(gs, list)
            self.assertEqual(len(gs), 2)
            self.check_grad(gs[0], self.a)
            self.check_grad(gs[1], self.b)

    def test_with_respect_to_intermediate_results(self) -> None:
        u = self.a * self.b
        y = u * u
        g = cp.grad(y, u)
        self.assertIs(g._node.args[1], u._node)

    def test_numbers_are_constants(self) -> None:
        self.assertEqual(cp.grad(self.y, 3.0), 0.0)
        self.assertEqual(cp.grad(1.5, self.a), 0.0)
        v = cp.grad(self.y, cp.vector([self.a, 2.0]))
        self.check_grad(v[0], self.a)
        self.assertEqual(v[1], 0.0)
        self.assertEqual(cp.grad(2.0, [self.a, 1]), [0.0, 0.0])

    def test_int_and_bool_values_are_rejected(self) -> None:
        n = cp.value(3)
        with self.assertRaisesRegex(TypeError, "x is an int value"):
            cp.grad(self.y, n)
        with self.assertRaisesRegex(TypeError, "y is a bool value"):
            cp.grad(self.a > 0.0, self.a)
        with self.assertRaisesRegex(TypeError, "x is an int value"):
            cp.grad(self.y, [self.a, n])
        with self.assertRaises(TypeError):
            cp.grad(self.y, "a")  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            cp.grad([self.y], self.a)  # type: ignore[arg-type]

    def test_version_2_only_with_grad_nodes(self) -> None:
        self.assertEqual(export_doc(y=self.y)["version"], 1)
        doc = export_doc(y=self.y, g=cp.grad(self.y, self.a))
        self.assertEqual(doc["version"], 2)
        g = output_node(doc, "g")
        self.assertEqual((g["op"], g["dtype"]), ("grad", "float"))
        self.assertEqual(node_of(doc, g["args"][0]), output_node(doc, "y"))
        self.assertEqual(node_of(doc, g["args"][1])["name"], "a")
        with tempfile.TemporaryDirectory() as d:
            cp.export(os.path.join(d, "p.cbor"), y=self.y, g=cp.grad(self.y, self.a), locations=False)
            self.assertEqual(cbor_decode(Path(d, "p.cbor").read_bytes())["version"], 2)


if __name__ == "__main__":
    unittest.main()


class StateTests(unittest.TestCase):
    """cp.state() and .next(): version 2 state nodes and updates."""

    def export(self, **named):
        import json
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "p.json")
            cp.export(path, locations=False, **named)  # the version 2 rules, without version 3's locations
            with open(path) as f:
                return json.load(f)

    def test_state_and_update_are_exported(self):
        s = cp.state(0.5, name="s")
        x = cp.value(2.0, name="x")
        s.next(s * x)
        doc = self.export(y=s + 1.0)
        self.assertEqual(doc["version"], 2)
        nodes = {n["id"]: n for n in doc["nodes"]}
        st = [n for n in doc["nodes"] if n["op"] == "state"]
        self.assertEqual(len(st), 1)
        self.assertEqual((st[0]["name"], st[0]["value"], st[0]["dtype"]), ("s", 0.5, "float"))
        self.assertEqual(len(doc["updates"]), 1)
        upd = doc["updates"][0]
        self.assertEqual(upd["state"], st[0]["id"])
        self.assertEqual(nodes[upd["node"]]["op"], "mul")

    def test_updates_reach_further_states(self):
        a = cp.state(1, name="a")
        b = cp.state(2, name="b")
        a.next(b)
        b.next(a + 1)
        doc = self.export(y=a)  # b is only reachable through a's update
        self.assertEqual(sorted(n["name"] for n in doc["nodes"] if n["op"] == "state"), ["a", "b"])
        self.assertEqual(len(doc["updates"]), 2)

    def test_next_converts_ints_to_float_states_only(self):
        s = cp.state(0.0)
        s.next(cp.value(3))  # int -> float state: an explicit cast node
        doc = self.export(y=s)
        upd = doc["updates"][0]
        self.assertEqual({n["id"]: n for n in doc["nodes"]}[upd["node"]]["op"], "cast")
        n = cp.state(0)
        with self.assertRaises(TypeError):
            n.next(cp.value(1.5))
        with self.assertRaises(TypeError):
            cp.value(1.0).next(2.0)

    def test_no_state_keeps_version_1(self):
        self.assertEqual(self.export(y=cp.value(1.0) + 1.0)["version"], 1)
