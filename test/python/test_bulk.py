"""The tracer's fast paths (issue 9, item 4): bulk container operations with
the cyclic GC paused, dot products and sums built as nodes, the exporter's
numbering by marks. They must build exactly the DAG the general paths build
and leave the garbage collector as they found it. (Blocks, which replace
these paths for containers of _array.BLOCK_MIN or more elements, are tested
in test_blocks.py; tests here that are about the elementwise paths turn
blocks off.)"""
import gc
import hashlib
import math
import os
import sys
import tempfile
import threading
import tracemalloc
import unittest
from pathlib import Path
from unittest import mock
from typing import Any, Dict, List

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "python"))

import copapy as cp  # noqa: E402
from copapy import _array, _dag  # noqa: E402
from copapy._value import Leaf, Node  # noqa: E402


def program() -> Dict[str, Any]:
    """Exercises the bulk paths (>= 64 elements), the general ones and every leaf kind."""
    n = 100
    v1 = cp.vector([cp.value(float(i) / 3) for i in range(n)])
    v2 = cp.vector([cp.value(i) for i in range(n)])
    flags = cp.vector([cp.value(i % 3 == 0) for i in range(n)])
    mixed = cp.vector([cp.value(0.5), 2, cp.value(3), 1.25])
    s = cp.state(0.0, name="acc")
    s.next(s + (v1 @ v2))
    y = sum((v1 + i) @ v2 for i in range(3))
    return dict(y=y, d=v2 @ flags, b=(flags & True) @ v2, m=mixed @ mixed, t=(2 - v1 * 0.5).sum(),
                q=(v2 // 3 % 2 < flags).sum(), e=v1.sum() / math.inf, x=cp.value(7, name="seven") + 1,
                acc=s)


def no_blocks() -> Any:
    """Containers make their nodes one by one, as before blocks existed."""
    return mock.patch.object(_array, "BLOCK_MIN", sys.maxsize)


def exported(ext: str, *values: Any, locations: bool = False, **named: Any) -> bytes:
    """The file cp.export writes; without source locations by default, as before they existed."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "p." + ext)
        cp.export(path, *values, locations=locations, **named)
        return Path(path).read_bytes()


class SameBytesAsBefore(unittest.TestCase):
    def test_files_of_the_tracer_before_the_fast_paths(self) -> None:
        """SHA-256 of the files the tracer wrote for program() before the fast
        paths (commit 45a4000): the fast paths change no byte, and neither do
        source locations when they are left out (locations=False). Blocks
        number nodes differently, so they are off here."""
        want = {"json": (187046, "5b9cf08a7c30024e537a8694ff9383d3bd74a43d9aec1f9239a2ada0e96ef47a"),
                "cbor": (104305, "74d7b99dde7ebc54b84d2115243bcd40deba499bff15b3bc57b81321f16baa06")}
        for ext, (size, digest) in want.items():
            with self.subTest(ext=ext):
                with no_blocks():
                    data = exported(ext, **program())
                self.assertEqual((len(data), hashlib.sha256(data).hexdigest()), (size, digest))


def expr(x: Any) -> Any:
    """A structural form of a value's node: (op, dtype, operands...) with leaves by identity."""
    n = x._node if isinstance(x, cp.value) else x
    if not n.args:
        return n if n.op != "const" else ("const", n.dtype, n.value)
    return (n.op, n.dtype) + tuple(expr(a) for a in n.args)


class FastPathsBuildTheGeneralGraph(unittest.TestCase):
    def test_dot_of_values_is_the_left_to_right_sum_of_products(self) -> None:
        for dtypes in (("float", "float"), ("int", "bool"), ("bool", "bool"), ("int", "float")):
            with self.subTest(dtypes=dtypes):
                make = {"float": float, "int": int, "bool": lambda i: i % 2 == 0}
                a = [cp.value(make[dtypes[0]](i)) for i in range(70)]
                b = [cp.value(make[dtypes[1]](i + 1)) for i in range(70)]
                want: Any = a[0] * b[0]
                for x, y in zip(a[1:], b[1:]):
                    want = want + x * y
                got = cp.vector(a) @ cp.vector(b)
                self.assertEqual(expr(got), expr(want))

    def test_dot_with_numbers_falls_back_to_mixed_sum(self) -> None:
        a = [cp.value(1.0), 2.0, cp.value(3.0)]
        b = [cp.value(4.0), cp.value(5.0), 0.5]
        got = cp.vector(a) @ cp.vector(b)
        # The values' products left to right, then the number products (2.0 * 5.0 is a value).
        self.assertEqual(expr(got), expr(a[0] * b[0] + 2.0 * b[1] + a[2] * 0.5))

    def test_sum_of_one_value_is_that_value(self) -> None:
        x = cp.value(1.0)
        self.assertIs(cp.vector([x]).sum(), x)
        self.assertIs(cp.vector([x, 0]).sum(), x)

    def test_elementwise_with_a_number_shares_one_constant(self) -> None:
        v = cp.vector([cp.value(i) for i in range(100)])
        for op in ("add", "sub", "mul", "floordiv", "mod", "div", "lt", "and", "lshift", "pow"):
            with self.subTest(op=op):
                out = v._binary(op, 3, False)
                consts = {id(e._node.args[1]) for e in out.values}
                self.assertEqual(len(consts), 1)
                first = out.values[0]._node
                self.assertEqual((first.op, first.args[0]), (op, v.values[0]._node))
                # The result type is the general rule's (docs/dag-format.md).
                from copapy._value import result_dtype
                self.assertEqual({e.dtype for e in out.values}, {result_dtype(op, first.args)})

    def test_vector_of_values_keeps_them(self) -> None:
        xs = [cp.value(i) for i in range(80)]
        v = cp.vector(xs)
        self.assertTrue(all(a is b for a, b in zip(v.values, xs)))
        mixed = cp.vector(xs + [cp.value(0.5)])  # promoted: the ints become casts to float
        self.assertEqual({e.dtype for e in mixed.values}, {"float"})
        self.assertEqual(mixed.values[0]._node.op, "cast")


class CollectorPause(unittest.TestCase):
    def setUp(self) -> None:
        self.addCleanup(gc.enable)

    def test_restored_after_a_bulk_operation_and_after_an_error_in_one(self) -> None:
        self.enterContext(no_blocks())  # a block makes one node: nothing to pause the collector for
        v = cp.vector([cp.value(i) for i in range(_array.BULK_SIZE)])
        paused: List[bool] = []
        real = _array.operand_node

        def spy(x: Any) -> Any:
            paused.append(gc.isenabled())
            return real(x)
        _array.operand_node = spy  # type: ignore[assignment]
        try:
            v + 1
        finally:
            _array.operand_node = real
        self.assertEqual(paused, [False])  # the bulk operation ran with the collector paused
        self.assertTrue(gc.isenabled())
        with self.assertRaises(OverflowError):
            v + 2 ** 40  # raised inside the paused loop (the constant does not fit in int32)
        self.assertTrue(gc.isenabled())
        with self.assertRaises(TypeError):
            cp.vector([cp.value(1.0)] * 100) & 1  # bitwise on floats: raised in result_dtype
        self.assertTrue(gc.isenabled())

    def test_a_disabled_collector_stays_disabled(self) -> None:
        gc.disable()
        v = cp.vector([cp.value(float(i)) for i in range(200)])
        _ = (v * 2.0) @ v
        with self.assertRaises(OverflowError):
            v + 2 ** 40
        self.assertFalse(gc.isenabled())

    def test_small_containers_do_not_touch_the_collector(self) -> None:
        with _array.paused_gc(_array.BULK_SIZE - 1):
            self.assertTrue(gc.isenabled())
        with _array.paused_gc(_array.BULK_SIZE):
            self.assertFalse(gc.isenabled())
        self.assertTrue(gc.isenabled())

    def test_nested_pauses(self) -> None:
        with _array.paused_gc(1000):
            with _array.paused_gc(1000):
                self.assertFalse(gc.isenabled())
            self.assertFalse(gc.isenabled())  # the outer pause is still on
        self.assertTrue(gc.isenabled())

    def test_threads_tracing_at_once(self) -> None:
        """Overlapping pauses in several threads: the collector is enabled again
        when the last one ends (a per-thread save and restore would leave it
        disabled when the pauses interleave)."""
        errors: List[BaseException] = []
        start = threading.Barrier(4)

        def work() -> None:
            try:
                start.wait()
                v = cp.vector([cp.value(float(i)) for i in range(300)])
                for k in range(30):
                    _ = (v + k) @ v
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertTrue(gc.isenabled())
        self.assertEqual(_array._gc_state[0], 0)


class Numbering(unittest.TestCase):
    def test_an_older_dag_writes_the_same_after_a_newer_one(self) -> None:
        a = cp.value(1.0, name="a")
        y = a * 2.0 + a
        z = cp.value(3.0) * y
        old = _dag.Dag([("y", y._node)])
        first = "".join(old.json_lines()), old.cbor()
        newer = _dag.Dag([("z", z._node), ("y", y._node)])  # numbers y's nodes differently
        self.assertNotIn(a._node, old.ids)  # the marks are the newer DAG's now
        self.assertIn(a._node, newer.ids)
        self.assertEqual(("".join(old.json_lines()), old.cbor()), first)
        self.assertIn(a._node, old.ids)
        self.assertEqual(old.ids[a._node], 0)

    def test_only_the_newest_numbering_extends(self) -> None:
        first = _dag._Numbering()
        _dag._Numbering()
        with self.assertRaises(RuntimeError):
            first.extend([cp.value(1.0)._node])

    def test_shared_operands_and_repeated_roots(self) -> None:
        a, b = cp.value(1.0), cp.value(2.0)
        s = a * b
        t = (s + a) * (s - b)
        order = _dag.topological_order([t._node, s._node, t._node, a._node])
        self.assertEqual([n.op for n in order], ["input", "input", "mul", "add", "sub", "mul"])
        self.assertEqual(len({id(n) for n in order}), len(order))


class CborTables(unittest.TestCase):
    def test_uint_table_is_the_shortest_encoding(self) -> None:
        from copapy import _cbor
        table = _cbor.uint_table(70000)
        self.assertEqual(len(table), 70000)
        for i in (0, 23, 24, 255, 256, 65535, 65536, 69999):
            with self.subTest(i=i):
                self.assertEqual(table[i], _cbor.encode(i))
        self.assertEqual(_cbor.uint_table(300), table[:300])  # the cached part, copied

    def test_text(self) -> None:
        from copapy import _cbor
        for text in ("", "a", "x" * 23, "x" * 24, "in_123", "\u00fc" * 100, "n" * 255):
            with self.subTest(n=len(text)):
                self.assertEqual(_cbor.encode_text(text), _cbor.encode(text))


class NodeSize(unittest.TestCase):
    def test_operations_have_five_slots_and_leaves_nine(self) -> None:
        x = cp.value(1.0)
        y = x + 1.0
        self.assertIs(type(y._node), Node)
        self.assertIsInstance(x._node, Leaf)
        self.assertFalse(hasattr(y._node, "__dict__"))
        self.assertEqual((y._node.value, y._node.name, y._node.update), (None, None, None))
        self.assertEqual(len(Node.__slots__), 5)  # op, dtype, args, mark, loc
        self.assertEqual(len(Node.__slots__) + len(Leaf.__slots__), 9)  # + value, name, update, range

    def test_memory_per_node(self) -> None:
        """The benchmark's program (tools/bench/trace_export.py) at about 3,200
        nodes: 150 bytes per node before the fast paths, 120 after them, 129
        with the location slot (CPython 3.11, 64-bit)."""
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            n = 100
            v1 = cp.vector([cp.value(float(i)) for i in range(n)])
            v2 = cp.vector([cp.value(float(i) * 0.5) for i in range(n)])
            r = sum((v1 + i) @ v2 for i in range(10))
            del v1, v2
            gc.collect()
            used = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        nodes = len(_dag.topological_order([r._node]))
        self.assertLess(used / nodes, 135)


if __name__ == "__main__":
    unittest.main()
