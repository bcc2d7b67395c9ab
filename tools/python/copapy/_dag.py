"""Turning traced values into a DAG file (docs/dag-format.md) and `cp.export`.

Nodes are numbered 0, 1, ... in a depth-first post-order from the outputs (so
every node comes after its operands) and written one per line. The same
program always gives the same file, byte for byte: nothing depends on object
addresses, hash order or time. The traversal is iterative and every step is
linear, so graphs of millions of nodes export without hitting the recursion
limit.
"""
import itertools
import json
import math
import os
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

from . import _cbor
from ._array import ArrayBase
from ._value import Node, check_name, is_scalar, operand_node

__all__ = ["Dag", "export", "flatten"]

FORMAT = "copapy-dag"
# Version 1 unless the graph uses what only version 2 has (grad and state
# nodes), so that files stay readable by compilers that only know version 1.
VERSION_2_OPS = frozenset(("grad", "state"))
META = {"generator": "copapy tracer"}
NAMED_LEAVES = ("input", "state")  # leaves with a name the host writes and reads
_SPECIAL = frozenset(NAMED_LEAVES) | VERSION_2_OPS  # what Dag() looks for in its one pass

PathLike = Union[str, "os.PathLike[str]"]


_epochs = itertools.count(1)


class _Numbering:
    """The order of a DAG being built: nodes get their id (`idx`) and the
    numbering's `epoch` as marks, so that "already numbered?" and "what is its
    id?" are attribute reads instead of dictionary lookups."""

    def __init__(self) -> None:
        self.epoch = next(_epochs)
        self.order: List[Node] = []

    def extend(self, roots: Iterable[Node]) -> None:
        """Numbers every node reachable from `roots` that is not numbered yet,
        each after its operands: a depth-first post-order visiting roots and
        operands in order, with an explicit stack (a chain of a million
        additions must not recurse)."""
        epoch = self.epoch
        order = self.order
        for root in roots:
            if root.epoch == epoch:
                continue
            stack = [root]
            pop = stack.pop
            push = stack.append
            while stack:
                node = stack[-1]
                if node.epoch == epoch:  # reached twice through different parents
                    pop()
                    continue
                args = node.args
                # Operands not numbered yet are pushed in reverse, so that the
                # first operand is finished (numbered) first. Two operands are
                # the common case and get their own branch.
                if len(args) == 2:
                    a0, a1 = args
                    p1 = a1.epoch != epoch
                    p0 = a0.epoch != epoch
                    if p1:
                        push(a1)
                    if p0:
                        push(a0)
                    if p0 or p1:
                        continue
                elif args:
                    pending = False
                    for k in range(len(args) - 1, -1, -1):
                        a = args[k]
                        if a.epoch != epoch:
                            push(a)
                            pending = True
                    if pending:
                        continue
                pop()
                node.epoch = epoch
                node.idx = len(order)
                order.append(node)


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
        return isinstance(node, Node) and node.epoch == self._dag.epoch

    def __getitem__(self, node: Node) -> int:
        if node.epoch != self._dag.epoch:
            raise KeyError(node)
        return node.idx


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
    version: the DAG format version the nodes need (1 or 2)
    ids:     node -> id
    names:   input node -> its name (user-given or automatic "in_<id>")
    outputs: [(name, id)] in order
    output_names: node -> the first output name under which it is written
    """

    def __init__(self, outputs: Sequence[Tuple[Optional[str], Node]]) -> None:
        """`outputs` lists (name, node); a None name means: the input's name
        for an input, else an automatic "out_<id>"."""
        # The new values of states are roots too, and may reach further states.
        numbering = _Numbering()
        numbering.extend(node for _, node in outputs)
        # One pass over the nodes (extended while state updates add nodes):
        # named leaves, updated states and whether version 2 is needed.
        leaves: List[Node] = []
        self.updates: List[Tuple[Node, Node]] = []
        version2 = False
        checked = 0
        nodes = numbering.order
        while checked < len(nodes):
            missing: List[Node] = []
            for k in range(checked, len(nodes)):
                n = nodes[k]
                op = n.op
                if op in _SPECIAL:
                    if op in NAMED_LEAVES:
                        leaves.append(n)
                    if op in VERSION_2_OPS:
                        version2 = True
                    if op == "state" and n.update is not None:
                        self.updates.append((n, n.update))
                        missing.append(n.update)
            checked = len(nodes)
            numbering.extend(missing)
        self.nodes = nodes
        self.epoch = numbering.epoch
        self.ids = _Ids(self)
        self.version = 2 if version2 else 1
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
                                     f"and {n.idx}); input names must be unique")
                user_inputs[n.name] = n.idx
                self.names[n] = n.name
        self._taken.update(user_inputs)
        for n in leaves:
            if n.name is None:
                self.names[n] = _fresh(f"{'in' if n.op == 'input' else 'state'}_{n.idx}", self._taken)
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
        """Makes the nodes' marks this Dag's again if another Dag sharing nodes
        was built since (the marks are only valid for the newest one)."""
        epoch = self.epoch
        for i, n in enumerate(self.nodes):
            if n.epoch != epoch or n.idx != i:
                for k, m in enumerate(self.nodes):
                    m.epoch = epoch
                    m.idx = k
                return

    def json_lines(self) -> Iterator[str]:
        """The JSON document, one node or output per line."""
        self._renumber()
        yield f'{{"format": "{FORMAT}", "version": {self.version},\n'
        yield f' "meta": {json.dumps(META)},\n'
        yield ' "nodes": [\n'
        names = self.names
        lines: List[str] = []
        add = lines.append
        # The text of each node after its id, by (op, dtype): built once.
        heads: Dict[str, Dict[str, str]] = {}
        for i, n in enumerate(self.nodes):
            op = n.op
            args = n.args
            if args:
                by_dtype = heads.get(op)
                if by_dtype is None:
                    by_dtype = heads[op] = {}
                head = by_dtype.get(n.dtype)
                if head is None:
                    head = by_dtype[n.dtype] = f', "op": "{op}", "dtype": "{n.dtype}", "args": ['
                if len(args) == 2:
                    add(f'  {{"id": {i}{head}{args[0].idx}, {args[1].idx}]}},\n')
                elif len(args) == 1:
                    add(f'  {{"id": {i}{head}{args[0].idx}]}},\n')
                else:
                    add(f'  {{"id": {i}{head}{", ".join(str(a.idx) for a in args)}]}},\n')
            elif op in NAMED_LEAVES:
                add(f'  {{"id": {i}, "op": "{op}", "dtype": "{n.dtype}", "name": "{names[n]}", '
                    f'"value": {_json_value(n)}}},\n')
            else:
                add(f'  {{"id": {i}, "op": "{op}", "dtype": "{n.dtype}", "value": {_json_value(n)}}},\n')
        if lines:
            lines[-1] = lines[-1][:-2] + "\n"  # no comma after the last node
        yield "".join(lines)
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
            yield f'  {{"state": {st.idx}, "node": {new.idx}}}' + (",\n" if k != last else "\n")
        yield " ]}\n"

    # ---- CBOR ----------------------------------------------------------------

    def cbor(self) -> bytes:
        """The same document as json_lines(), CBOR-encoded."""
        self._renumber()
        enc = _cbor.encode
        text_cache: Dict[str, bytes] = {}

        def text(s: str) -> bytes:
            b = text_cache.get(s)
            if b is None:
                b = text_cache[s] = enc(s)
            return b

        out = bytearray(_cbor.map_head(6 if self.updates else 5))
        for key, item in (("format", FORMAT), ("version", self.version), ("meta", META)):
            out += text(key)
            _cbor.encode_into(out, item)
        out += text("nodes")
        out += _cbor.array_head(len(self.nodes))
        uint = _cbor.uint_table(len(self.nodes))  # every id and argument is below len(nodes)
        op_start = _cbor.map_head(4) + text("id")
        leaf_start = _cbor.map_head(5) + text("id")
        # The bytes of each node between its id and its arguments, by (op, dtype): built once.
        heads: Dict[str, Dict[str, bytes]] = {}
        names = self.names
        for i, n in enumerate(self.nodes):
            op = n.op
            args = n.args
            if args:
                # Keyed by the op and dtype strings (interned: cheap to hash);
                # an op has one arity, so it need not be part of the key.
                by_dtype = heads.get(op)
                if by_dtype is None:
                    by_dtype = heads[op] = {}
                head = by_dtype.get(n.dtype)
                if head is None:
                    head = by_dtype[n.dtype] = (text("op") + text(op) + text("dtype") + text(n.dtype) +
                                                text("args") + _cbor.array_head(len(args)))
                if len(args) == 2:
                    out += op_start + uint[i] + head + uint[args[0].idx] + uint[args[1].idx]
                    continue
                out += op_start
                out += uint[i]
                out += head
                for a in args:
                    out += uint[a.idx]
                continue
            named = op in NAMED_LEAVES
            out += leaf_start if named else op_start
            out += uint[i]
            out += text("op") + text(op) + text("dtype") + text(n.dtype)
            if named:
                out += text("name") + text(names[n])
            out += text("value")
            _cbor.encode_into(out, _document_value(n))
        out += text("outputs")
        out += _cbor.array_head(len(self.outputs))
        for name, i in self.outputs:
            out += _cbor.map_head(2) + text("name") + text(name) + text("node")
            _cbor.encode_into(out, i)
        if self.updates:
            out += text("updates") + _cbor.array_head(len(self.updates))
            for st, new in self.updates:
                out += _cbor.map_head(2) + text("state")
                _cbor.encode_into(out, st.idx)
                out += text("node")
                _cbor.encode_into(out, new.idx)
        return bytes(out)

    def write(self, path: PathLike) -> None:
        """Writes the DAG to `path`: CBOR if the name ends in .cbor, else JSON."""
        if os.fspath(path).endswith(".cbor"):
            with open(path, "wb") as f:
                f.write(self.cbor())
        else:
            with open(path, "w", encoding="utf-8", newline="\n") as f:
                f.write("".join(self.json_lines()))


def _document_value(n: Node) -> Union[bool, int, float, str]:
    """A leaf's value in the document: non-finite floats become "inf", "-inf" or "nan"."""
    v = n.value
    assert v is not None, "leaves have values"
    if n.dtype == "float" and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def _json_value(n: Node) -> str:
    v = _document_value(n)
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


def export(path: PathLike, *values: Any, **named: Any) -> None:
    """Writes the DAG computing the given values to `path` (CBOR if it ends in .cbor, else JSON).

    Positional values become outputs named like the input if they are
    inputs, else "out_<id>"; keyword values are named by their keyword.
    Vectors and lists become one output per element, named key[0], key[1], ...
    Python numbers become constant nodes, so every requested name exists.
    """
    items: List[Tuple[Optional[str], Any]] = []
    for v in values:
        flatten(v, None, items)
    for key, v in named.items():
        flatten(v, key, items)
    Dag([(name, operand_node(x)) for name, x in items]).write(path)
