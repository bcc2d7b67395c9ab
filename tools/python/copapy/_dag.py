"""Turning traced values into a DAG file (docs/dag-format.md) and `cp.export`.

Nodes are numbered 0, 1, ... in a depth-first post-order from the outputs (so
every node comes after its operands), the elements of a block (_block.py)
consecutively, and written one per line (a block's all at once). The same
program always gives the same file, byte for byte: nothing depends on object
addresses, hash order or time. The traversal is iterative and every step is
linear, so graphs of millions of nodes export without hitting the recursion
limit.
"""
import json
import math
import operator
import os
import struct
import sys
from array import array
from itertools import chain, repeat
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

from . import _cbor
from ._array import BULK_SIZE, ArrayBase, paused_gc
from ._block import MADE as BLOCKS_MADE, Block, BlockElem, Run, Spans, segments, spans_needed
from ._loc import LOCATIONS, file_table
from ._value import GRAD_MADE, Leaf, Node, check_name, is_scalar, operand_node

__all__ = ["Dag", "export", "flatten"]

FORMAT = "copapy-dag"
# The lowest version that holds what the graph uses, so that files stay
# readable by older compilers: 1, 2 with grad and state nodes, 3 with source
# locations or declared ranges.
VERSION_2_OPS = frozenset(("grad", "state"))
META = {"generator": "copapy tracer"}
NAMED_LEAVES = ("input", "state")  # leaves with a name the host writes and reads

PathLike = Union[str, "os.PathLike[str]"]
_op_of = operator.attrgetter("op")
_loc_of = operator.attrgetter("loc")
_mark_of = operator.attrgetter("mark")
_DOUBLE = struct.Struct(">d")
_CHUNK = 4096  # nodes per joined chunk of a document
_TEXT_HEADS = [_cbor.encode_head(3, k) for k in range(256)]  # CBOR heads of texts of k bytes


# Each numbering gets its own base, the first mark no numbering has given
# yet: marks of the nodes it numbers are base + id, and every older
# numbering's marks are below it. Marks stay small ints (fast to compare)
# until a process has numbered a billion nodes in all.
_next_mark = [1]
_latest_base = [0]


def _new_base() -> int:
    """The base of a new numbering, which is from now on the newest one."""
    # Above the previous base even if that numbering has numbered nothing, so
    # that two numberings never share a base.
    base = _latest_base[0] = _next_mark[0] = max(_next_mark[0], _latest_base[0] + 1)
    return base


class _Numbering:
    """The order of a DAG being built: each node gets `base + id` as its
    `mark`, so that "already numbered?" (mark >= base) and "what is its id?"
    (mark - base) are attribute reads instead of dictionary lookups.

    order:  what it numbered, in id order: nodes, and blocks (_block.py),
            whose elements take consecutive ids
    count:  the number of ids given (more than len(order) with blocks)
    leaves: the numbered nodes without operands, in id order
    """

    def __init__(self) -> None:
        self.base = _new_base()
        self.order: List[Union[Node, Block]] = []
        self.count = 0
        self.leaves: List[Node] = []
        # The parts of list columns numbered already, as (id(), lo, hi):
        # blocks over the same elements need not look at them again (the
        # lists are the blocks' and live as long as this numbering is used).
        self.lists: Set[Tuple[int, int, int]] = set()
        self.spans: Dict[Block, Spans] = {}  # what each block exports (spans_needed)

    def extend(self, roots: Iterable[Node]) -> None:
        """Numbers every node reachable from `roots` that is not numbered yet,
        each after its operands: a depth-first post-order visiting roots and
        operands in order, with an explicit stack (a chain of a million
        additions must not recurse).

        Operands that are leaves are numbered on the spot instead of going
        through the stack, and the walk descends into an operand that is not
        numbered yet directly (the node waits on the stack): most nodes of a
        traced program are looked at once or twice.

        A block is one step: reached through one of its elements, its
        elements that the roots need (a span, found first by spans_needed)
        are numbered together (consecutive ids) once everything their
        columns take elements from is numbered."""
        base = self.base
        if _latest_base[0] != base:
            raise RuntimeError("a numbering can only be extended while it is the newest one")
        roots = list(roots)
        spans = self.spans
        if BLOCKS_MADE[0]:
            spans_needed(roots, base, spans)
        order = self.order
        number = order.append
        leaf = self.leaves.append
        mark = base + self.count  # the next node's mark
        stack: List[Any] = list(roots)
        stack.reverse()  # the first root on top
        pop = stack.pop
        push = stack.append
        pushed = self.lists
        while stack:
            node = pop()
            cls = node.__class__
            if cls is not Node and cls is not Leaf:
                # A block's elements are numbered together, after everything
                # the block's columns take elements from: the block is pushed
                # back as (block,) under its dependencies, and numbered when
                # that entry comes up again (all of them numbered by then).
                if cls is BlockElem:
                    if node.mark < base:
                        push(node.block)
                elif cls is Block:
                    if node.mark < base:
                        span = spans.get(node)
                        if span is None:
                            node.set_segments([0], [node.n])
                        else:
                            node.set_segments(*segments(span))
                        push((node,))
                        deps = [d for d in node.dependencies(pushed) if d.mark < base]
                        deps.reverse()
                        stack.extend(deps)
                else:
                    block = node[0]
                    if block.mark < base:
                        block.mark = mark
                        mark += block.size
                        number(block)
                        for c in block.columns:
                            if c.__class__ is list:
                                pushed.update((id(c), lo, hi) for lo, hi in zip(block.los, block.his))
                continue
            if node.mark >= base:  # numbered already (reached through another parent, or a root twice)
                continue
            while True:
                args = node.args
                # Two operands are the common case and get their own branch.
                if len(args) == 2:
                    a0, a1 = args
                    if a0.mark < base:
                        if a0.__class__ is BlockElem:
                            push(node)  # looked at again once a0's block is numbered
                            push(a0.block)
                            break
                        if a0.args:
                            push(node)  # looked at again once a0 is numbered
                            node = a0
                            continue
                        a0.mark = mark
                        mark += 1
                        number(a0)
                        leaf(a0)
                    if a1.mark < base:
                        if a1.__class__ is BlockElem:
                            push(node)
                            push(a1.block)
                            break
                        if a1.args:
                            push(node)
                            node = a1
                            continue
                        a1.mark = mark
                        mark += 1
                        number(a1)
                        leaf(a1)
                elif args:
                    pending = None
                    for a in args:
                        if a.mark < base:
                            if a.__class__ is BlockElem or a.args:
                                pending = a
                                break
                            a.mark = mark
                            mark += 1
                            number(a)
                            leaf(a)
                    if pending is not None:
                        push(node)
                        if pending.__class__ is BlockElem:
                            push(pending.block)
                            break
                        node = pending
                        continue
                else:
                    leaf(node)  # a root that is a leaf
                node.mark = mark
                mark += 1
                number(node)
                break
        self.count = mark - base
        _next_mark[0] = mark


def _flat(order: Iterable[Union[Node, Block]]) -> List[Node]:
    """The nodes of a numbering's order, a block's elements in its place."""
    nodes: List[Node] = []
    for item in order:
        if isinstance(item, Block):
            for lo, hi in zip(item.los, item.his):
                nodes.extend(map(item.elem, range(lo, hi)))
        else:
            nodes.append(item)
    return nodes


def topological_order(roots: Iterable[Node]) -> List[Node]:
    """Every node reachable from `roots`, each after its operands (see _Numbering)."""
    numbering = _Numbering()
    numbering.extend(roots)
    return _flat(numbering.order)


class _Ids:
    """node -> id of one Dag, read from the nodes' marks (see _Numbering)."""
    __slots__ = ("_dag",)

    def __init__(self, dag: "Dag") -> None:
        self._dag = dag

    def __contains__(self, node: object) -> bool:
        return isinstance(node, Node) and 0 <= node.mark - self._dag.base < self._dag.count

    def __getitem__(self, node: Node) -> int:
        i = node.mark - self._dag.base
        if not 0 <= i < self._dag.count:
            raise KeyError(node)
        return i


def _fresh(base: str, taken: Set[str]) -> str:
    """`base`, or `base` with underscores appended until it is not taken."""
    name = base
    while name in taken:
        name += "_"
    taken.add(name)
    return name


class Dag:
    """A traced program, numbered and named, ready to be written.

    items:   every node the outputs depend on, in topological order, the
             elements of a block (_block.py) as the block: ids are given
             in this order, a block's elements taking consecutive ones
    count:   the number of nodes (ids 0 .. count-1)
    nodes:   the nodes one by one (a block's elements made as objects): the
             id of nodes[i] is i
    version: the DAG format version the document needs (1, 2 or 3)
    files:   the source file table (version 3), [] without locations
    locs:    location index (_loc.LOCATIONS) -> (file index, line) of the
             nodes' locations; empty without locations
    ids:     node -> id
    names:   input node -> its name (user-given or automatic "in_<id>")
    outputs: [(name, id)] in order
    output_names: node -> the first output name under which it is written
    """

    def __init__(self, outputs: Sequence[Tuple[Optional[str], Node]], locations: bool = True) -> None:
        """`outputs` lists (name, node); a None name means: the input's name
        for an input, else an automatic "out_<id>". `locations` says whether
        the document records where each node was made (version 3)."""
        # Numbering and writing make objects by the million but no garbage
        # cycles; with the cyclic collector running, its passes over the
        # whole traced graph took half the time (see paused_gc).
        with paused_gc(BULK_SIZE):
            self._build(outputs, locations)

    def _build(self, outputs: Sequence[Tuple[Optional[str], Node]], locations: bool) -> None:
        # The new values of states are roots too, and may reach further states.
        numbering = _Numbering()
        numbering.extend(node for _, node in outputs)
        # One pass over the leaves (extended while state updates add nodes):
        # named leaves and updated states.
        leaves: List[Node] = []
        self.updates: List[Tuple[Node, Node]] = []
        checked = 0
        all_leaves = numbering.leaves
        while checked < len(all_leaves):
            missing: List[Node] = []
            for k in range(checked, len(all_leaves)):
                n = all_leaves[k]
                op = n.op
                if op in NAMED_LEAVES:
                    leaves.append(n)
                    if op == "state" and n.update is not None:
                        self.updates.append((n, n.update))
                        missing.append(n.update)
            checked = len(all_leaves)
            numbering.extend(missing)
        items = numbering.order
        # Version 2 for states and grad nodes; grad nodes are looked for (at C
        # speed) only if this process has made any.
        version2 = any(n.op == "state" for n in leaves) or (GRAD_MADE[0] and "grad" in map(_op_of, items))
        self.items = items
        self.count = numbering.count
        # What each block exports in this Dag (another Dag may number the
        # block over other segments; _renumber puts these back).
        self.segments = {b: (b.los, b.his) for b in items if isinstance(b, Block)}
        self.base = numbering.base
        self.ids = _Ids(self)
        if locations:
            # The distinct locations in node order (at C speed), numbered by first use.
            self.files, self.locs = file_table(dict.fromkeys(map(_loc_of, items)))
        else:
            self.files, self.locs = [], {}
        ranged = any(n.range is not None for n in leaves)
        self.version = 3 if (self.files or ranged) else 2 if version2 else 1
        self.outputs: List[Tuple[str, int]] = []
        self.output_names: Dict[Node, str] = {}
        self._seen_outputs: Dict[str, int] = {}

        explicit = {check_name(name, "output") for name, _ in outputs if name is not None}
        self._taken = set(explicit)
        self.names: Dict[Node, str] = {}
        user_inputs: Dict[str, int] = {}
        for n in leaves:
            if n.name is not None:
                if n.name in user_inputs:
                    raise ValueError(f"two different inputs are named {n.name!r} (DAG nodes {user_inputs[n.name]} "
                                     f"and {n.mark - self.base}); input names must be unique")
                user_inputs[n.name] = n.mark - self.base
                self.names[n] = n.name
        self._taken.update(user_inputs)
        unnamed = [n for n in leaves if n.name is None]
        automatic = [f"{'in' if n.op == 'input' else 'state'}_{n.mark - self.base}" for n in unnamed]
        if self._taken.isdisjoint(automatic):  # the common case, in bulk (the names differ by their ids)
            self.names.update(zip(unnamed, automatic))
            self._taken.update(automatic)
        else:
            for n, auto in zip(unnamed, automatic):
                self.names[n] = _fresh(auto, self._taken)
        self._inputs_by_name = {name: n for n, name in self.names.items()}

        for name, node in outputs:
            self.add_output(name, node)

    @property
    def nodes(self) -> List[Node]:
        self._renumber()  # the blocks' segments are this Dag's then
        return _flat(self.items)

    def add_output(self, name: Optional[str], node: Node) -> None:
        """Adds an output (see __init__ for automatic names). A node that is
        already an output gets no second automatic name."""
        i = self.ids[node]
        if name is None:
            if node in self.output_names:
                return
            name = self.names[node] if node.op in NAMED_LEAVES else _fresh(f"out_{i}", self._taken)
        else:
            owner = self._inputs_by_name.get(name)
            if owner is not None and owner is not node:
                raise ValueError(f"output name {name!r} is the name of input node {self.ids[owner]}, "
                                 f"but refers to node {i}")
            if self._seen_outputs.get(name, i) != i:
                raise ValueError(f"output name {name!r} is used for two different values "
                                 f"(DAG nodes {self._seen_outputs[name]} and {i})")
        if name in self._seen_outputs:
            return  # the same name for the same node again
        self._seen_outputs[name] = i
        self.outputs.append((name, i))
        self.output_names.setdefault(node, name)

    # ---- JSON ----------------------------------------------------------------

    def _renumber(self) -> None:
        """Makes the nodes' marks this Dag's again if another numbering was
        made since (the marks are only valid for the newest one): the nodes
        get marks from a fresh base."""
        if _latest_base[0] == self.base:
            return
        base = self.base = _new_base()
        mark = base
        for item in self.items:
            item.mark = mark
            if isinstance(item, Block):
                item.set_segments(*self.segments[item])
                mark += item.size
            else:
                mark += 1
        _next_mark[0] = mark

    def json_lines(self) -> Iterator[str]:
        """The JSON document, one node or output per line."""
        self._renumber()
        base = self.base
        yield f'{{"format": "{FORMAT}", "version": {self.version},\n'
        yield f' "meta": {json.dumps(META)},\n'
        if self.files:
            yield f' "files": [{", ".join(map(json.dumps, self.files))}],\n'
        yield ' "nodes": [\n'
        names = self.names
        # The text of each node's location by location index ("" for none).
        lt = self._per_location("", lambda f, line: f', "loc": [{f}, {line}]')
        lines: List[str] = []
        add = lines.append
        # The text of each node after its id, by op and dtype: built once.
        heads: Dict[str, Dict[str, str]] = {}
        # The decimal text of every id, made at C speed: a list lookup per id
        # and argument instead of formatting an int (measured: callgrind).
        txt = list(map(str, range(self.count)))
        items: List[Any] = self.items  # nodes and blocks (Any: the loop tells them apart)
        i = 0  # the next node's id
        # Joined per chunk of nodes, so that only one chunk's lines are alive at a time.
        for start in range(0, len(items), _CHUNK):
            for n in items[start:start + _CHUNK]:
                if n.__class__ is Block:
                    add(_block_json(n, txt, base, lt))
                    i += n.size
                    continue
                t = txt[i]
                i += 1
                args = n.args
                if args:
                    # Keyed by the op and dtype strings (interned: cheap to
                    # hash); subscripts in a try are cheaper than two get()s.
                    try:
                        head = heads[n.op][n.dtype]
                    except KeyError:
                        head = heads.setdefault(n.op, {})[n.dtype] = \
                            f', "op": "{n.op}", "dtype": "{n.dtype}", "args": ['
                    if len(args) == 2:
                        a0, a1 = args
                        add(f'  {{"id": {t}{head}{txt[a0.mark - base]}, {txt[a1.mark - base]}]{lt[n.loc]}}},\n')
                    elif len(args) == 1:
                        add(f'  {{"id": {t}{head}{txt[args[0].mark - base]}]{lt[n.loc]}}},\n')
                    else:
                        add(f'  {{"id": {t}{head}{", ".join(txt[a.mark - base] for a in args)}]{lt[n.loc]}}},\n')
                elif n.op in NAMED_LEAVES:
                    bounds = "" if n.range is None else \
                        f', "range": [{_json_number(n.dtype, n.range[0])}, {_json_number(n.dtype, n.range[1])}]'
                    add(f'  {{"id": {t}, "op": "{n.op}", "dtype": "{n.dtype}", "name": "{names[n]}", '
                        f'"value": {_json_value(n)}{bounds}{lt[n.loc]}}},\n')
                else:
                    add(f'  {{"id": {t}, "op": "{n.op}", "dtype": "{n.dtype}", '
                        f'"value": {_json_value(n)}{lt[n.loc]}}},\n')
            if start + _CHUNK >= len(items):
                lines[-1] = lines[-1][:-2] + "\n"  # no comma after the last node
            yield "".join(lines)
            lines.clear()
        yield " ],\n"
        yield ' "outputs": [\n'
        last = len(self.outputs) - 1
        for k, (name, i) in enumerate(self.outputs):
            yield f'  {{"name": "{name}", "node": {i}}}' + (",\n" if k != last else "\n")
        if not self.updates:
            yield " ]}\n"
            return
        yield " ],\n"
        yield ' "updates": [\n'
        last = len(self.updates) - 1
        for k, (st, new) in enumerate(self.updates):
            yield f'  {{"state": {st.mark - base}, "node": {new.mark - base}}}' + (",\n" if k != last else "\n")
        yield " ]}\n"

    def _per_location(self, none: Any, piece: Any) -> List[Any]:
        """A list indexed by location index: piece(file index, line) for the
        locations this document records, `none` for the others (a list
        index per node is cheaper than a dictionary lookup)."""
        table = [none] * len(LOCATIONS)  # every location made so far: the nodes' are among them
        for loc, (f, line) in self.locs.items():
            table[loc] = piece(f, line)
        return table

    # ---- CBOR ----------------------------------------------------------------

    def cbor(self) -> bytes:
        """The same document as json_lines(), CBOR-encoded."""
        return b"".join(self.cbor_chunks())

    def cbor_chunks(self) -> List[Union[bytes, bytearray]]:
        """cbor() in pieces, to be written one after the other (a block's
        records stay one piece: joining would copy them once more)."""
        self._renumber()
        base = self.base
        enc = _cbor.encode
        text_cache: Dict[str, bytes] = {}

        def text(s: str) -> bytes:
            b = text_cache.get(s)
            if b is None:
                b = text_cache[s] = enc(s)
            return b

        out = bytearray(_cbor.map_head(5 + bool(self.updates) + bool(self.files)))
        for key, item in (("format", FORMAT), ("version", self.version), ("meta", META)):
            out += text(key)
            _cbor.encode_into(out, item)
        if self.files:
            out += text("files")
            _cbor.encode_into(out, self.files)
        out += text("nodes")
        out += _cbor.array_head(self.count)
        # The encodings of small ids, made once per process; larger ones are
        # packed where they are written (a table of all would cost more than
        # the nodes written one by one need when blocks hold most of them).
        small = min(self.count, 1 << 16)
        uint = _cbor.uint_table(small)
        u32 = _cbor.pack_u32
        # By location index: the bytes of the location (b"" for none) and the
        # head of an operation's map, which has one entry more with a location.
        loc_bytes = self._per_location(b"", lambda f, line: text("loc") + _cbor.encode([f, line]))
        op_starts = self._per_location(_cbor.map_head(4) + text("id"), lambda f, line: _cbor.map_head(5) + text("id"))
        range_key = text("range")
        # The head of a leaf's map by its number of entries (see below).
        leaf_starts = [_cbor.map_head(k) + text("id") for k in range(8)]
        # The bytes of each node between its id and its arguments, by op and dtype: built once.
        heads: Dict[str, Dict[str, bytes]] = {}
        leaf_heads: Dict[str, Dict[str, bytes]] = {}  # op and dtype of a leaf, by op and dtype
        name_key = text("name")
        value_key = text("value")
        float_head = b"\xfb"  # float64, as _cbor writes every float
        float_value = value_key + float_head
        text_heads = _TEXT_HEADS
        pack_double = _DOUBLE.pack
        encode_text = _cbor.encode_text
        names = self.names
        # The pieces of the document, joined at the end: cheaper than growing
        # a bytearray piece by piece (measured: callgrind). They are joined
        # per chunk of nodes first: b"".join keeps a buffer view (80 bytes)
        # per piece while it runs, which in one join over the whole document
        # would take several times the document's size.
        chunks: List[Union[bytes, bytearray]] = [bytes(out)]
        parts: List[bytes] = []
        add = parts.append
        extend = parts.extend
        items: List[Any] = self.items  # nodes and blocks (Any: the loop tells them apart)
        records: Optional[_BlockRecords] = None  # made for the first block
        i = -1  # the id of the node last written
        for start in range(0, len(items), _CHUNK):
            for n in items[start:start + _CHUNK]:
                if n.__class__ is Block:
                    if records is None:
                        records = _BlockRecords(self.count, base, text)
                    if parts:
                        chunks.append(b"".join(parts))
                        parts.clear()
                    chunks.extend(records.write(n, loc_bytes[n.loc]))
                    i += n.size
                    continue
                i += 1
                args = n.args
                if args:
                    # Keyed by the op and dtype strings (interned: cheap to
                    # hash); an op has one arity, so it need not be part of
                    # the key. Subscripts in a try are cheaper than two get()s.
                    try:
                        head = heads[n.op][n.dtype]
                    except KeyError:
                        head = heads.setdefault(n.op, {})[n.dtype] = (
                            text("op") + text(n.op) + text("dtype") + text(n.dtype) + text("args") +
                            _cbor.array_head(len(args)))
                    loc = n.loc
                    if len(args) == 2:
                        a0, a1 = args
                        j0 = a0.mark - base
                        j1 = a1.mark - base
                        extend((op_starts[loc], uint[i] if i < small else u32(0x1A, i), head,
                                uint[j0] if j0 < small else u32(0x1A, j0), uint[j1] if j1 < small else u32(0x1A, j1),
                                loc_bytes[loc]))
                        continue
                    extend((op_starts[loc], uint[i] if i < small else u32(0x1A, i), head))
                    for a in args:
                        j0 = a.mark - base
                        add(uint[j0] if j0 < small else u32(0x1A, j0))
                    add(loc_bytes[loc])
                    continue
                op = n.op
                named = op in NAMED_LEAVES
                try:
                    head = leaf_heads[op][n.dtype]
                except KeyError:
                    head = leaf_heads.setdefault(op, {})[n.dtype] = (text("op") + text(op) + text("dtype") +
                                                                      text(n.dtype))
                bounds = n.range
                loc_piece = loc_bytes[n.loc]
                v = n.value
                if named and bounds is None and v.__class__ is float and v - v == 0.0:
                    # The common leaf, an input with a finite float value, in one step.
                    raw = names[n].encode()
                    name_head = text_heads[len(raw)] if len(raw) < 256 else _cbor.encode_head(3, len(raw))
                    extend((leaf_starts[5 + bool(loc_piece)], uint[i] if i < small else u32(0x1A, i), head, name_key,
                            name_head, raw,
                            float_value, pack_double(v), loc_piece))
                    continue
                # id, op, dtype and value; a name, a range and a location if there are.
                extend((leaf_starts[4 + named + (bounds is not None) + bool(loc_piece)],
                        uint[i] if i < small else u32(0x1A, i), head))
                if named:
                    extend((name_key, encode_text(names[n])))  # names are unique: not cached
                add(value_key)
                v = _document_value(n)
                if v.__class__ is float:
                    extend((float_head, pack_double(v)))
                else:
                    add(_cbor.encode(v))
                if bounds is not None:
                    extend((range_key, _cbor.encode([_document_number(n.dtype, b) for b in bounds])))
                add(loc_piece)
            if parts:
                chunks.append(b"".join(parts))
                parts.clear()
        out = bytearray()
        out += text("outputs")
        out += _cbor.array_head(len(self.outputs))
        for name, i in self.outputs:
            out += _cbor.map_head(2) + text("name") + text(name) + text("node")
            _cbor.encode_into(out, i)
        if self.updates:
            out += text("updates") + _cbor.array_head(len(self.updates))
            for st, new in self.updates:
                out += _cbor.map_head(2) + text("state")
                _cbor.encode_into(out, st.mark - base)
                out += text("node")
                _cbor.encode_into(out, new.mark - base)
        chunks.append(bytes(out))
        return chunks

    def write(self, path: PathLike) -> None:
        """Writes the DAG to `path`: CBOR if the name ends in .cbor, else JSON."""
        cbor = os.fspath(path).endswith(".cbor")
        with paused_gc(BULK_SIZE):  # see __init__
            document = self.cbor_chunks() if cbor else "".join(self.json_lines())
        if cbor:
            with open(path, "wb") as f:
                f.writelines(document)  # type: ignore[arg-type]
        else:
            with open(path, "w", encoding="utf-8", newline="\n") as f:
                f.write(document)  # type: ignore[arg-type]


def _column_ids(block: Block, column: Any, base: int, lo: int, hi: int) -> Iterable[int]:
    """The ids a column (_block.Column) gives the block's elements lo ..
    hi-1 (one exported segment), in order."""
    n = hi - lo
    if isinstance(column, Node):
        return repeat(column.mark - base, n)
    if column.__class__ is list:
        return map(operator.sub, map(_mark_of, column[lo:hi]), repeat(base, n))
    if column.__class__ is Run:
        first = _element_id(column.block, column.start + lo, base)
        return range(first, first + n)
    # A Chain (one segment from 0): its first node, then the block's own elements but the last.
    own = block.mark - base
    return chain((column.first.mark - base,), range(own, own + n - 1))


def _element_id(block: Block, j: int, base: int) -> int:
    """The id of element j of a numbered block (which exports it: a Run
    takes elements a block's segment holds, one after the other)."""
    k = block.offset(j)
    if k < 0:
        raise AssertionError(f"element {j} of a block is not exported")
    return block.mark - base + k


_pack_u32 = struct.Struct(">I").pack_into


def _segments(block: Block, base: int) -> Iterator[Tuple[int, int, int]]:
    """(lo, hi, id of element lo) of each exported segment."""
    for lo, hi, off in zip(block.los, block.his, block.offs):
        yield lo, hi, block.mark - base + off


def _block_json(block: Block, txt: List[str], base: int, lt: List[str]) -> str:
    """The JSON lines of a block's elements (see json_lines): the constant
    pieces between the ids, interleaved with the id columns by zip and
    joined once (C loops; str.format would parse a template per line)."""
    k = len(block.columns)
    head = f', "op": "{block.op}", "dtype": "{block.dtype}", "args": ['
    tail = f"]{lt[block.loc]}}},\n"
    out = []
    for lo, hi, own in _segments(block, base):
        n = hi - lo
        pieces = [repeat('  {"id": ', n), txt[own:own + n], repeat(head, n)]
        for j, c in enumerate(block.columns):
            pieces.append(map(txt.__getitem__, _column_ids(block, c, base, lo, hi)))
            pieces.append(repeat(", " if j < k - 1 else tail, n))
        out.append("".join(chain.from_iterable(zip(*pieces))))
    return "".join(out)


class _BlockRecords:
    """Writes blocks' elements as CBOR maps for one document: one record per
    block with every id written in four bytes (CBOR allows any width),
    repeated, and each id field then filled in for all elements at once by
    a strided slice assignment, so the work per element is done by C loops.

    The ids as big-endian words are made once for the whole document: the
    ids of a block's elements and of a Run or Chain column are slices of
    them. The words of a list column are kept per list: a container used
    in several operations gives each of them the same list (_array.py)."""

    def __init__(self, count: int, base: int, text: Callable[[str], bytes]) -> None:
        self.base = base
        self.text = text
        self.words = _counting_words(count)
        self.lists: Dict[Tuple[int, int, int], bytes] = {}  # (id() of a list column, lo, hi) -> its words

    def column(self, block: Block, column: Any, lo: int, hi: int) -> bytes:
        """The words of the ids a column gives the block's elements lo .. hi-1."""
        n = hi - lo
        words = self.words
        if isinstance(column, Node):
            i = 4 * (column.mark - self.base)
            return words[i:i + 4] * n
        if column.__class__ is list:
            key = (id(column), lo, hi)
            made = self.lists.get(key)
            if made is None:
                made = self.lists[key] = _u32_words(_column_ids(block, column, self.base, lo, hi))
            return made
        if column.__class__ is Run:
            i = 4 * _element_id(column.block, column.start + lo, self.base)
            return words[i:i + 4 * n]
        i = 4 * (column.first.mark - self.base)
        own = 4 * (block.mark - self.base)
        return words[i:i + 4] + words[own:own + 4 * (n - 1)]

    def write(self, block: Block, loc: bytes) -> List[bytearray]:
        """The maps of the block's elements, a piece per exported segment
        (`loc`: the bytes of their location entry)."""
        text = self.text
        head = _cbor.map_head(5 if loc else 4) + text("id")
        fields = [len(head) + 1]
        record = bytearray(head + _U32_HEAD)
        record += text("op") + text(block.op) + text("dtype") + text(block.dtype) + text("args")
        record += _cbor.array_head(len(block.columns))
        for _ in block.columns:
            fields.append(len(record) + 1)
            record += _U32_HEAD
        record += loc
        size = len(record)
        pieces = []
        base = self.base
        for lo, hi, own in _segments(block, base):
            n = hi - lo
            if n == 1:  # a single element (scattered picks): its ids packed one by one
                out = bytearray(record)
                _pack_u32(out, fields[0], own)
                for offset, c in zip(fields[1:], block.columns):
                    _pack_u32(out, offset, next(iter(_column_ids(block, c, base, lo, hi))))
                pieces.append(out)
                continue
            out = record * n
            columns = [self.words[4 * own:4 * (own + n)]] + [self.column(block, c, lo, hi) for c in block.columns]
            for offset, words in zip(fields, columns):
                for k in range(4):
                    out[offset + k::size] = words[k::4]
            pieces.append(out)
        return pieces


_U32_HEAD = b"\x1a\0\0\0\0"  # a uint in four bytes, whatever its value
_SWAP = sys.byteorder == "little"  # CBOR's byte order is big-endian
_WORD = array("I").itemsize


def _counting_words(n: int) -> bytes:
    """_u32_words(range(n)), a byte column at a time: byte k of id i is
    (i >> 8 * (3 - k)) & 255, a cycle of runs of equal bytes, made by
    repeating bytes (C loops) instead of converting n ints."""
    out = bytearray(4 * n)
    for k in range(4):
        period = 1 << (8 * (3 - k))  # consecutive ids with the same byte k
        if period >= n:
            continue  # zero for every id
        cycle = b"".join(bytes((v,)) * period for v in range(min(256, -(-n // period))))
        out[k::4] = (cycle * -(-n // len(cycle)))[:n]
    return bytes(out)


def _u32_words(ids: Iterable[int]) -> bytes:
    """`ids` as big-endian 4-byte words."""
    if _WORD != 4:  # no 32-bit array type on this platform: the slow way
        return b"".join(i.to_bytes(4, "big") for i in ids)
    words = array("I", ids)
    if _SWAP:
        words.byteswap()
    return words.tobytes()


def _document_number(dtype: str, v: Union[bool, int, float]) -> Union[bool, int, float, str]:
    """A number of `dtype` in the document: non-finite floats become "inf", "-inf" or "nan"."""
    if dtype == "float" and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def _document_value(n: Node) -> Union[bool, int, float, str]:
    """A leaf's value in the document (see _document_number)."""
    v = n.value
    assert v is not None, "leaves have values"
    return _document_number(n.dtype, v)


def _json_value(n: Node) -> str:
    assert n.value is not None, "leaves have values"
    return _json_number(n.dtype, n.value)


def _json_number(dtype: str, number: Union[bool, int, float]) -> str:
    v = _document_number(dtype, number)
    if isinstance(v, str):
        return f'"{v}"'
    if v is True or v is False:
        return "true" if v else "false"
    return repr(v)  # ints, and floats exactly (repr round-trips the binary64 value)


def flatten(item: Any, name: Optional[str], out: List[Tuple[Optional[str], Any]]) -> None:
    """Appends (name, scalar) for a value, number, container or (nested) list/tuple.

    Elements are named name[0], name[1], ...; elements of a matrix
    name[0][1], ... (None stays None).
    """
    if isinstance(item, ArrayBase):
        if name is None:
            out.extend((None, x) for x in item.values)
            return
        shape = item.shape
        for k, x in enumerate(item.values):
            index = ""
            rest = k
            for d in reversed(shape):
                index = f"[{rest % d}]" + index
                rest //= d
            out.append((name + index, x))
    elif isinstance(item, (list, tuple)):
        for k, element in enumerate(item):
            flatten(element, None if name is None else f"{name}[{k}]", out)
    elif is_scalar(item):
        out.append((name, item))
    else:
        raise TypeError(f"expected copapy values, vectors, tensors, quaternions, numbers or lists of them, "
                        f"not {type(item).__name__}")


def export(path: PathLike, *values: Any, locations: bool = True, **named: Any) -> None:
    """Writes the DAG computing the given values to `path` (CBOR if it ends in .cbor, else JSON).

    Positional values become outputs named like the input if they are
    inputs, else "out_<id>"; keyword values are named by their keyword.
    Vectors and lists become one output per element, named key[0], key[1], ...
    Python numbers become constant nodes, so every requested name exists.

    `locations=False` leaves out where each node was made (the file and line
    of the user's code; DAG format version 3), so that the file does not
    depend on the source's layout and is what older compilers read.
    """
    if not isinstance(locations, bool):
        raise TypeError(f"locations must be True or False, not {locations!r}")
    items: List[Tuple[Optional[str], Any]] = []
    for v in values:
        flatten(v, None, items)
    for key, v in named.items():
        flatten(v, key, items)
    Dag([(name, operand_node(x)) for name, x in items], locations).write(path)
