"""Turning traced values into a DAG file (docs/dag-format.md) and `cp.export`.

Nodes are numbered 0, 1, ... in a depth-first post-order from the outputs (so
every node comes after its operands) and written one per line. The same
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
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

from . import _cbor
from ._array import ArrayBase
from ._loc import LOCATIONS, file_table
from ._value import GRAD_MADE, Node, check_name, is_scalar, operand_node

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
_DOUBLE = struct.Struct(">d")
_CHUNK = 4096  # nodes per joined chunk of a document


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

    leaves: the numbered nodes without operands, in id order
    """

    def __init__(self) -> None:
        self.base = _new_base()
        self.order: List[Node] = []
        self.leaves: List[Node] = []

    def extend(self, roots: Iterable[Node]) -> None:
        """Numbers every node reachable from `roots` that is not numbered yet,
        each after its operands: a depth-first post-order visiting roots and
        operands in order, with an explicit stack (a chain of a million
        additions must not recurse).

        Operands that are leaves are numbered on the spot instead of going
        through the stack, and the walk descends into an operand that is not
        numbered yet directly (the node waits on the stack): most nodes of a
        traced program are looked at once or twice."""
        base = self.base
        if _latest_base[0] != base:
            raise RuntimeError("a numbering can only be extended while it is the newest one")
        order = self.order
        number = order.append
        leaf = self.leaves.append
        mark = base + len(order)  # the next node's mark
        stack: List[Node] = list(roots)
        stack.reverse()  # the first root on top
        pop = stack.pop
        push = stack.append
        while stack:
            node = pop()
            if node.mark >= base:  # numbered already (reached through another parent, or a root twice)
                continue
            while True:
                args = node.args
                # Two operands are the common case and get their own branch.
                if len(args) == 2:
                    a0, a1 = args
                    if a0.mark < base:
                        if a0.args:
                            push(node)  # looked at again once a0 is numbered
                            node = a0
                            continue
                        a0.mark = mark
                        mark += 1
                        number(a0)
                        leaf(a0)
                    if a1.mark < base:
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
                            if a.args:
                                pending = a
                                break
                            a.mark = mark
                            mark += 1
                            number(a)
                            leaf(a)
                    if pending is not None:
                        push(node)
                        node = pending
                        continue
                else:
                    leaf(node)  # a root that is a leaf
                node.mark = mark
                mark += 1
                number(node)
                break
        _next_mark[0] = mark


def topological_order(roots: Iterable[Node]) -> List[Node]:
    """Every node reachable from `roots`, each after its operands (see _Numbering)."""
    numbering = _Numbering()
    numbering.extend(roots)
    return numbering.order


class _Ids:
    """node -> id of one Dag, read from the nodes' marks (see _Numbering)."""
    __slots__ = ("_dag",)

    def __init__(self, dag: "Dag") -> None:
        self._dag = dag

    def __contains__(self, node: object) -> bool:
        return isinstance(node, Node) and 0 <= node.mark - self._dag.base < len(self._dag.nodes)

    def __getitem__(self, node: Node) -> int:
        i = node.mark - self._dag.base
        if not 0 <= i < len(self._dag.nodes):
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

    nodes:   every node the outputs depend on, in topological order; the id of
             nodes[i] is i
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
        nodes = numbering.order
        # Version 2 for states and grad nodes; grad nodes are looked for (at C
        # speed) only if this process has made any.
        version2 = any(n.op == "state" for n in leaves) or (GRAD_MADE[0] and "grad" in map(_op_of, nodes))
        self.nodes = nodes
        self.base = numbering.base
        self.ids = _Ids(self)
        if locations:
            # The distinct locations in node order (at C speed), numbered by first use.
            self.files, self.locs = file_table(dict.fromkeys(map(_loc_of, nodes)))
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
        for n in leaves:
            if n.name is None:
                self.names[n] = _fresh(f"{'in' if n.op == 'input' else 'state'}_{n.mark - self.base}", self._taken)
        self._inputs_by_name = {name: n for n, name in self.names.items()}

        for name, node in outputs:
            self.add_output(name, node)

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
        for i, n in enumerate(self.nodes):
            n.mark = base + i
        _next_mark[0] = base + len(self.nodes)

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
        txt = list(map(str, range(len(self.nodes))))
        nodes = self.nodes
        # Joined per chunk of nodes, so that only one chunk's lines are alive at a time.
        for start in range(0, len(nodes), _CHUNK):
            for t, n in zip(txt[start:start + _CHUNK], nodes[start:start + _CHUNK]):
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
            if start + _CHUNK >= len(nodes):
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
        out += _cbor.array_head(len(self.nodes))
        uint = _cbor.uint_table(len(self.nodes))  # every id and argument is below len(nodes)
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
        pack_double = _DOUBLE.pack
        encode_text = _cbor.encode_text
        names = self.names
        # The pieces of the document, joined at the end: cheaper than growing
        # a bytearray piece by piece (measured: callgrind). They are joined
        # per chunk of nodes first: b"".join keeps a buffer view (80 bytes)
        # per piece while it runs, which in one join over the whole document
        # would take several times the document's size.
        chunks: List[bytes] = [bytes(out)]
        parts: List[bytes] = []
        add = parts.append
        extend = parts.extend
        nodes = self.nodes
        for start in range(0, len(nodes), _CHUNK):
            for i, n in enumerate(nodes[start:start + _CHUNK], start):
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
                        extend((op_starts[loc], uint[i], head, uint[a0.mark - base], uint[a1.mark - base],
                                loc_bytes[loc]))
                        continue
                    extend((op_starts[loc], uint[i], head))
                    for a in args:
                        add(uint[a.mark - base])
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
                # id, op, dtype and value; a name, a range and a location if there are.
                extend((leaf_starts[4 + named + (bounds is not None) + bool(loc_piece)], uint[i], head))
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
        return b"".join(chunks)

    def write(self, path: PathLike) -> None:
        """Writes the DAG to `path`: CBOR if the name ends in .cbor, else JSON."""
        if os.fspath(path).endswith(".cbor"):
            with open(path, "wb") as f:
                f.write(self.cbor())
        else:
            with open(path, "w", encoding="utf-8", newline="\n") as f:
                f.write("".join(self.json_lines()))


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
