"""Blocks (tools/python/copapy/_block.py): container operations on
_array.BLOCK_MIN or more values recorded once instead of a node per element.

A program traced with blocks must be the program traced without them: the
same operations over the same operands for every output (compared as a
structure that does not depend on the numbering), the same results when
compiled and run, and JSON and CBOR files that compile to the same image.
"""
import hashlib
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple
from unittest import mock

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "python"))

import copapy as cp  # noqa: E402
from copapy import _array, _dag  # noqa: E402
from copapy._block import Block, BlockElem  # noqa: E402

CC = os.environ.get("COPAPY_CC") or str(REPO / "build" / "bin" / "copapy-cc")


def no_blocks() -> Any:
    return mock.patch.object(_array, "BLOCK_MIN", sys.maxsize)


def export_doc(outputs: Dict[str, Any], ext: str = "json") -> Tuple[Dict[str, Any], bytes]:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "p." + ext)
        cp.export(path, locations=False, **outputs)
        data = Path(path).read_bytes()
    return (json.loads(data) if ext == "json" else {}), data


def structure(doc: Dict[str, Any]) -> Tuple[Dict[str, str], int]:
    """Each output's node as a digest of its structure (op, dtype and the
    operands' digests; leaves by op, dtype and value, so the test programs
    give their inputs distinct values), and the number of nodes. Checks on
    the way that every operand comes before its node."""
    forms: Dict[int, str] = {}
    for node in doc["nodes"]:
        args = node.get("args")
        if args is not None:
            for a in args:
                if a not in forms:
                    raise AssertionError(f"node {node['id']} has operand {a}, which does not come before it")
            key = f"{node['op']} {node['dtype']} " + " ".join(forms[a] for a in args)
        else:
            key = f"{node['op']} {node['dtype']} {node['value']!r}"
        forms[node["id"]] = hashlib.blake2b(key.encode(), digest_size=12).hexdigest()
    return {o["name"]: forms[o["node"]] for o in doc["outputs"]}, len(doc["nodes"])


def inputs(n: int, start: float, dtype: Callable[[float], Any] = float) -> Any:
    return cp.vector([cp.value(dtype(start + i)) for i in range(n)])


def elementwise() -> Dict[str, Any]:
    v, w = inputs(20, 1.0), inputs(20, 100.0)
    iv, jv = inputs(20, 1000, int), inputs(20, 2000, int)
    x = cp.value(0.25)
    k = cp.value(7)
    out: Dict[str, Any] = dict(
        add=v + w, rsub=2 - v, rdiv=3.0 / w, mulx=v * x, xdiv=x / v, lt=v < w, ge=w >= 0.5, eq=v == x,
        floordiv=iv // 3, mod=jv % k, rmod=5 % iv, band=iv & jv, shl=iv << 2, xor=iv ^ 5,
        mixed=iv + v, intfloat=iv * 0.5, pow=v ** 2, chain=((v + 1) * (w - 2) + v) / (w + 3),
        bools=(v < w) & (iv > 1005))
    return out


def reductions() -> Dict[str, Any]:
    v, w = inputs(24, 1.0), inputs(24, 50.0)
    iv = inputs(24, 300, int)
    m = cp.tensor([[cp.value(1000.0 + 20 * r + c) for c in range(20)] for r in range(5)])
    col = inputs(20, 3000.0)
    return dict(dot=v @ w, dot2=(v + 1) @ (w * 2), sum=v.sum(), isum=(iv * 2).sum(), mean=w.mean(),
                bench=sum((v + i) @ w for i in range(3)), mv=m @ col, dotint=iv @ v,
                t=(m * 2.0 + 1.0).sum(), tm=(m - 0.5) * m)


def materialized() -> Dict[str, Any]:
    v = inputs(20, 1.0)
    w = v * 3.0
    picked = w[3] * 2 + w[19]
    again = cp.vector(list(w)) + 1  # a vector of a block's elements, used by a new block
    sliced = w[2:18] + v[2:18]
    return dict(picked=picked, again=again, sliced=sliced, s=again.sum())


def deep() -> Dict[str, Any]:
    """Scalars and blocks alternating 1,500 times: exported without recursion."""
    v = inputs(16, 1.0)
    x: Any = cp.value(0.5)
    for _ in range(1500):
        x = (v * x).sum() * 0.001
    return dict(x=x)


def shared() -> Dict[str, Any]:
    """Blocks over the same elements inside one another, and a loop of them."""
    x = inputs(16, 1.0)
    w = inputs(16, 40.0)
    acc = inputs(16, 80.0)
    for _ in range(30):
        acc = acc * 0.5 + w
    flags = x > 5.0
    return dict(s=((x + 1.0) + x).sum(), acc=acc, count=flags.sum(), mean=flags.mean(), pick=acc[3] + (w * x)[9])


def interleaved() -> Dict[str, Any]:
    """A vector of elements of two blocks, used by two more: the parts of
    each that are needed come from different places (found by a review:
    spans that missed elements between two needed ones)."""
    x = inputs(20, 1.0)
    g, h = x * 2.0, x * 3.0
    u = cp.vector([h[i] if 5 <= i < 10 else g[i] * 1.0 if i >= 15 else g[i] for i in range(20)])
    a, b = u + 1.0, u + 2.0
    m = cp.tensor([[cp.value(500.0 + 20 * r + c) for c in range(20)] for r in range(17)]) * 0.5
    return dict(h=h[0], b5=b[5], b10=b[10], b16=b[16], a=a[0], pick=m.values[107] * m.values[339],
                rows=(m @ x)[3], part=h[2:18].sum())


def generated(seed: int) -> Callable[[], Dict[str, Any]]:
    """Random programs: vectors mixing the elements of several container
    operations, operations on them, and some of their elements as outputs."""
    def program() -> Dict[str, Any]:
        rnd = random.Random(seed)
        base = inputs(18, 1.0 + 100 * seed)
        pool = [base * 2.0, base + 3.0, base - base * 0.5, base * base]
        for _ in range(rnd.randrange(2, 5)):
            parts = [pool[rnd.randrange(len(pool))] for _ in range(3)]
            mixed = cp.vector([parts[rnd.randrange(3)][i] for i in range(18)])
            pool.append(rnd.choice([mixed + 1.0, mixed * pool[0], 2.0 - mixed]))
        out = {}
        for k in range(rnd.randrange(1, 5)):
            c = pool[rnd.randrange(len(pool))]
            out[f"o{k}"] = c[rnd.randrange(18)] if rnd.random() < 0.7 else c[rnd.randrange(9):].sum()
        return out
    return program


PROGRAMS = {"elementwise": elementwise, "reductions": reductions, "materialized": materialized, "deep": deep,
            "shared": shared, "interleaved": interleaved}


class SameProgram(unittest.TestCase):
    def test_every_output_is_the_same_operation_over_the_same_operands(self) -> None:
        for name, program in PROGRAMS.items():
            with self.subTest(program=name):
                with_blocks, count = structure(export_doc(program())[0])
                with no_blocks():
                    without, count_without = structure(export_doc(program())[0])
                self.assertEqual(with_blocks, without)
                self.assertEqual(count, count_without)  # every element of these blocks is used

    def test_generated_programs(self) -> None:
        for seed in range(150):
            with self.subTest(seed=seed):
                program = generated(seed)
                got = structure(export_doc(program())[0])
                with no_blocks():
                    self.assertEqual(got, structure(export_doc(program())[0]))

    def test_blocks_were_made(self) -> None:
        """The programs above do go through blocks (else the test compares a path with itself)."""
        v = inputs(20, 1.0)
        self.assertIsInstance((v + 1)._block, Block)
        self.assertIsInstance((v @ v)._node, BlockElem)
        self.assertIsInstance(v.sum()._node, BlockElem)
        with no_blocks():
            self.assertIsNone((v + 1)._block)
            self.assertNotIsInstance((v @ v)._node, BlockElem)
        small = inputs(_array.BLOCK_MIN - 1, 1.0)
        self.assertIsNone((small + 1)._block)

    def test_a_block_exports_the_elements_its_uses_need(self) -> None:
        """Only the elements used and their operands: the nodes the program
        has without blocks, a block's elements in runs of consecutive ids."""
        v = inputs(20, 1.0)
        w = v + 1.0
        doc, _ = export_doc(dict(y=w[4]))
        self.assertEqual([(n["op"], n.get("value")) for n in doc["nodes"]],
                         [("input", 5.0), ("const", 1.0), ("add", None)])
        self.assertEqual(doc["outputs"], [{"name": "y", "node": 2}])
        doc, _ = export_doc(dict(y=w[4] * w[10] + w[5]))
        adds = [n["id"] for n in doc["nodes"] if n["op"] == "add"][:3]  # the block's, then y's
        self.assertEqual(adds, list(range(adds[0], adds[0] + 3)))  # elements 4, 5 and 10
        self.assertEqual(sorted(n["value"] for n in doc["nodes"] if n["op"] == "input"), [5.0, 6.0, 11.0])
        mul = [n for n in doc["nodes"] if n["op"] == "mul"][0]
        self.assertEqual(mul["args"], [adds[0], adds[2]])
        # A running sum needs its elements from the first on; a slice only its part.
        doc, _ = export_doc(dict(s=w[5:9].sum()))
        self.assertEqual(sorted(n["value"] for n in doc["nodes"] if n["op"] == "input"), [6.0, 7.0, 8.0, 9.0])

    def test_an_older_dag_keeps_its_spans(self) -> None:
        v = inputs(20, 1.0)
        w = v * 2.0
        old = _dag.Dag([("y", w[3]._node)])
        first = old.cbor()
        newer = _dag.Dag([("z", w[7]._node), ("a", w[12]._node)])  # numbers w over elements 7 and 12
        self.assertEqual(old.cbor(), first)
        self.assertEqual((old.count, len(old.nodes)), (3, 3))
        self.assertEqual((newer.count, len(newer.nodes)), (5, 5))
        self.assertEqual(len(old.nodes), 3)

    def test_fallbacks(self) -> None:
        """Elements that are Python numbers, or values of different types,
        take the elementwise path (Python arithmetic for the numbers)."""
        numbers = cp.vector([cp.value(float(i)) for i in range(19)] + [2.5])
        self.assertIsNone((numbers + 1)._block)
        self.assertEqual((numbers + 1).values[-1], 3.5)
        self.assertIsNone((inputs(20, 1.0) ** 2)._block)  # pow's type depends on the exponent's value
        q = cp.quaternion(cp.value(1.0), cp.value(2.0), cp.value(3.0), cp.value(4.0))
        self.assertIsNone((q * 2.0)._block)


class Elements(unittest.TestCase):
    def test_made_on_first_read_once(self) -> None:
        v = inputs(20, 1.0)
        w = v + 0.5
        self.assertIsNone(w._block.elems)  # nothing made yet
        first = w.values
        self.assertIs(w.values, first)
        e = first[7]._node
        self.assertIs(e, w._block.elem(7))
        self.assertEqual((e.op, e.dtype), ("add", "float"))
        self.assertIs(e.args[0], v.values[7]._node)
        self.assertEqual((e.args[1].op, e.args[1].value), ("const", 0.5))
        self.assertIs(e.args[1], first[0]._node.args[1])  # one constant for all elements

    def test_container_properties_without_making_elements(self) -> None:
        w = inputs(30, 1.0) < 2.0
        self.assertEqual((w.dtype, w.size, len(w), w.shape), ("bool", 30, 30, (30,)))
        self.assertIsNone(w._block.elems)

    def test_dag_nodes_one_by_one(self) -> None:
        v = inputs(20, 1.0)
        y = (v * 2.0) @ v
        dag = _dag.Dag([("y", y._node)])
        nodes = dag.nodes
        self.assertEqual(len(nodes), dag.count)
        self.assertEqual(len(nodes), 20 + 1 + 20 + 20 + 19)  # v, 2.0, v * 2.0, the products, the sums
        self.assertEqual([dag.ids[n] for n in nodes], list(range(dag.count)))
        self.assertIn(y._node, dag.ids)

    def test_sums_of_bools_are_ints(self) -> None:
        b = inputs(20, 1.0) > 5.0
        self.assertEqual((b.sum().dtype, b.mean().dtype, (b @ b).dtype), ("int", "float", "int"))

    def test_operands_stay_unmade(self) -> None:
        """Operations on containers holding blocks make no elements of them."""
        x = inputs(20, 1.0) * 2.0
        y = (x * x + x) @ (x - 1.0)
        self.assertIsNone(x._block.elems)
        self.assertIsInstance(y._node, BlockElem)

    def test_copy_and_pickle(self) -> None:
        import copy
        import pickle
        v = inputs(20, 1.0)
        w = v * 3.0
        s = w.sum()
        for twin in (copy.deepcopy(s), pickle.loads(pickle.dumps(s))):
            doc, _ = export_doc(dict(s=twin))
            self.assertEqual(structure(doc), structure(export_doc(dict(s=s))[0]))
        self.assertEqual([e._node.op for e in copy.deepcopy(w).values], ["mul"] * 20)

    def test_threads_get_one_element_each(self) -> None:
        import threading
        block = (inputs(400, 1.0) + 1.0)._block
        got: List[List[int]] = []
        barrier = threading.Barrier(4)

        def read() -> None:
            barrier.wait()
            got.append([id(block.elem(j)) for j in range(400)])
        old = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)
        try:
            threads = [threading.Thread(target=read) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            sys.setswitchinterval(old)
        self.assertEqual(len(got), 4)
        self.assertTrue(all(g == got[0] for g in got))

    def test_errors_are_the_elementwise_paths(self) -> None:
        v = inputs(20, 1.0)
        with self.assertRaisesRegex(TypeError, "bitwise operations need int or bool values"):
            v & 1
        with self.assertRaisesRegex(ValueError, "vector lengths differ: 20 and 21"):
            v + inputs(21, 1.0)
        with self.assertRaises(OverflowError):
            inputs(20, 1, int) + 2 ** 40


def plain(x: Any) -> Any:
    """A value read back, as numbers and nested lists."""
    return x.tolist() if isinstance(x, _array.ArrayBase) else x


class Needed(unittest.TestCase):
    def test_marks_and_segments_against_a_set(self) -> None:
        from copapy._block import mark_needed, segments
        rnd = random.Random(5)
        for _ in range(500):
            need = bytearray(40)
            have: set = set()
            for _ in range(10):
                a = rnd.randrange(36)
                b = a + rnd.randrange(1, 5)
                parts = mark_needed(need, a, b)
                new = [x for p, q in parts for x in range(p, q)]
                self.assertEqual(new, sorted(set(range(a, b)) - have))
                self.assertTrue(all(p < q for p, q in parts))
                have |= set(range(a, b))
                los, his = segments(need)
                self.assertEqual({x for p, q in zip(los, his) for x in range(p, q)}, have)
                self.assertTrue(all(his[i] < los[i + 1] for i in range(len(los) - 1)))  # runs never touch


class Words(unittest.TestCase):
    def test_counting_words_are_the_ids_as_big_endian_words(self) -> None:
        for n in (0, 1, 255, 256, 257, 65535, 65536, 65537, 300001):
            with self.subTest(n=n):
                self.assertEqual(_dag._counting_words(n), _dag._u32_words(range(n)))
        self.assertEqual(_dag._u32_words([1, 0x01020304]), b"\0\0\0\1\1\2\3\4")

    def test_cbor_of_a_block_decodes_as_the_json(self) -> None:
        """A small CBOR decoder (maps, arrays, texts, uints, float64) reads
        the fixed-width records back as the same document as the JSON."""
        v = inputs(20, 1.0)
        out = dict(y=(v * 2.0 + v) @ v, w=v - 1.0)
        doc, _ = export_doc(out)
        _, data = export_doc(out, "cbor")
        self.assertEqual(decode_cbor(data), doc)


def decode_cbor(data: bytes) -> Any:
    pos = 0

    def item() -> Any:
        nonlocal pos
        b = data[pos]
        pos += 1
        major, info = b >> 5, b & 31
        if major == 7:
            if info == 27:
                pos += 8
                return struct.unpack(">d", data[pos - 8:pos])[0]
            return {20: False, 21: True, 22: None}[info]
        if info < 24:
            n = info
        else:
            width = 1 << (info - 24)
            n = int.from_bytes(data[pos:pos + width], "big")
            pos += width
        if major == 0:
            return n
        if major == 1:
            return -1 - n
        if major == 3:
            pos += n
            return data[pos - n:pos].decode()
        if major == 4:
            return [item() for _ in range(n)]
        if major == 5:
            return {item(): item() for _ in range(n)}
        raise AssertionError(f"unexpected CBOR major type {major}")
    return item()


class Compiled(unittest.TestCase):
    def setUp(self) -> None:
        if not os.access(CC, os.X_OK):
            self.fail(f"{CC} is missing: build the checkout first")

    def run_program(self, program: Callable[[], Dict[str, Any]]) -> Dict[str, Any]:
        out = program()
        with cp.Target() as tg:
            tg.compile(*out.values())
            tg.run()
            return {k: plain(tg.read_value(v)) for k, v in out.items()}

    def test_alive_containers_add_no_outputs_beyond_the_program(self) -> None:
        """Alive containers' elements that the program uses become outputs, as
        without blocks; the rest of their blocks is not in the program."""
        def compiled(picks: Callable[[Any], Any]) -> Tuple[int, int]:
            """(nodes, outputs) of the program computing picks(w), v and w alive."""
            v = inputs(20, 1.0)
            w = v * 2.0
            with cp.Target() as tg:
                tg.compile(picks(w))
                doc = json.loads(Path(tg._dag_path).read_text())
                return len(doc["nodes"]), len(doc["outputs"])
        for picks, want in ((lambda w: w[3] + 1.0, (5, 3)),  # v[3], 2.0, w[3], 1.0, y; outputs y, w[3], v[3]
                            (lambda w: w[2] + w[10], (6, 5))):
            got = compiled(picks)
            with no_blocks():
                self.assertEqual(got, compiled(picks))
            self.assertEqual(got, want)

    def test_same_results(self) -> None:
        for name in ("elementwise", "reductions", "materialized", "shared", "interleaved"):
            with self.subTest(program=name):
                with_blocks = self.run_program(PROGRAMS[name])
                with no_blocks():
                    without = self.run_program(PROGRAMS[name])
                self.assertEqual(json.dumps(with_blocks), json.dumps(without))  # NaN-safe, bit for bit
                if name == "elementwise":
                    self.assertEqual(with_blocks["add"][:2], [101.0, 103.0])

    def test_results_against_python(self) -> None:
        v = inputs(40, 1.0)
        w = inputs(40, -20.0)
        with cp.Target() as tg:
            z = v * w  # alive, and its elements never read before compiling
            y = sum((v + i) @ w for i in range(4)) + z.sum()
            tg.compile(y)
            tg.run()
            want = sum((1.0 + k) * (-20.0 + k) for k in range(40))
            for i in range(4):
                want += sum((1.0 + k + i) * (-20.0 + k) for k in range(40))
            self.assertEqual(tg.read_value(y), want)  # small integers: exact in float32
            self.assertEqual(plain(tg.read_value(z)), [(1.0 + k) * (-20.0 + k) for k in range(40)])

    def test_json_and_cbor_compile_to_the_same_image(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            out = reductions()
            images = []
            for ext in ("json", "cbor"):
                path = os.path.join(d, "p." + ext)
                cp.export(path, **out)
                subprocess.run([CC, "build", path, "-o", path + ".img"], check=True)
                images.append(Path(path + ".img").read_bytes())
            self.assertEqual(images[0], images[1])


if __name__ == "__main__":
    unittest.main()
