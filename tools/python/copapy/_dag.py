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

PathLike = Union[str, "os.PathLike[str]"]


def topological_order(roots: Iterable[Node]) -> List[Node]:
    """Every node reachable from `roots`, each after its operands.

    Depth-first post-order, visiting roots and operands in order, with an
    explicit stack (a chain of a million additions must not recurse).
    """
    order: List[Node] = []
    done: Dict[Node, None] = {}  # insertion-ordered set of finished nodes
    for root in roots:
        if root in done:
            continue
        stack = [root]
        while stack:
            node = stack[-1]
            if node in done:  # reached twice through different parents
                stack.pop()
                continue
            pending = [a for a in node.args if a not in done]
            if pending:
                # Reversed, so that the first operand is finished (numbered) first.
                stack.extend(reversed(pending))
            else:
                stack.pop()
                done[node] = None
                order.append(node)
    return order


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
        roots = [node for _, node in outputs]
        self.nodes = topological_order(roots)
        while True:
            pending = [n.update for n in self.nodes if n.op == "state" and n.update is not None]
            missing = [u for u in pending if u not in set(self.nodes)]
            if not missing:
                break
            roots += missing
            self.nodes = topological_order(roots)
        self.updates = [(n, n.update) for n in self.nodes if n.op == "state" and n.update is not None]
        self.ids: Dict[Node, int] = {n: i for i, n in enumerate(self.nodes)}
        self.version = 2 if any(n.op in VERSION_2_OPS for n in self.nodes) else 1
        self.outputs: List[Tuple[str, int]] = []
        self.output_names: Dict[Node, str] = {}
        self._seen_outputs: Dict[str, int] = {}

        explicit = {check_name(name, "output") for name, _ in outputs if name is not None}
        self._taken = set(explicit)
        self.names: Dict[Node, str] = {}
        user_inputs: Dict[str, int] = {}
        for i, n in enumerate(self.nodes):
            if n.op in NAMED_LEAVES and n.name is not None:
                if n.name in user_inputs:
                    raise ValueError(f"two different inputs are named {n.name!r} (DAG nodes {user_inputs[n.name]} "
                                     f"and {i}); input names must be unique")
                user_inputs[n.name] = i
                self.names[n] = n.name
        self._taken.update(user_inputs)
        for i, n in enumerate(self.nodes):
            if n.op in NAMED_LEAVES and n.name is None:
                self.names[n] = _fresh(f"{'in' if n.op == 'input' else 'state'}_{i}", self._taken)
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

    def json_lines(self) -> Iterator[str]:
        """The JSON document, one node or output per line."""
        yield f'{{"format": "{FORMAT}", "version": {self.version},\n'
        yield f' "meta": {json.dumps(META)},\n'
        yield ' "nodes": [\n'
        last = len(self.nodes) - 1
        ids = self.ids
        for i, n in enumerate(self.nodes):
            if n.op in NAMED_LEAVES:
                line = (f'  {{"id": {i}, "op": "{n.op}", "dtype": "{n.dtype}", "name": "{self.names[n]}", '
                        f'"value": {_json_value(n)}}}')
            elif n.op == "const":
                line = f'  {{"id": {i}, "op": "const", "dtype": "{n.dtype}", "value": {_json_value(n)}}}'
            else:
                args = ", ".join(str(ids[a]) for a in n.args)
                line = f'  {{"id": {i}, "op": "{n.op}", "dtype": "{n.dtype}", "args": [{args}]}}'
            yield line + (",\n" if i != last else "\n")
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
            yield f'  {{"state": {ids[st]}, "node": {ids[new]}}}' + (",\n" if k != last else "\n")
        yield " ]}\n"

    # ---- CBOR ----------------------------------------------------------------

    def cbor(self) -> bytes:
        """The same document as json_lines(), CBOR-encoded."""
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
        ids = self.ids
        for i, n in enumerate(self.nodes):
            leaf = n.op in ("input", "const", "state")
            out += _cbor.map_head(5 if n.op in NAMED_LEAVES else 4)
            out += text("id")
            _cbor.encode_into(out, i)
            out += text("op") + text(n.op) + text("dtype") + text(n.dtype)
            if n.op in NAMED_LEAVES:
                out += text("name") + text(self.names[n])
            if leaf:
                out += text("value")
                _cbor.encode_into(out, _document_value(n))
            else:
                out += text("args")
                _cbor.encode_into(out, [ids[a] for a in n.args])
        out += text("outputs")
        out += _cbor.array_head(len(self.outputs))
        for name, i in self.outputs:
            out += _cbor.map_head(2) + text("name") + text(name) + text("node")
            _cbor.encode_into(out, i)
        if self.updates:
            out += text("updates") + _cbor.array_head(len(self.updates))
            for st, new in self.updates:
                out += _cbor.map_head(2) + text("state")
                _cbor.encode_into(out, ids[st])
                out += text("node")
                _cbor.encode_into(out, ids[new])
        return bytes(out)

    def write(self, path: PathLike) -> None:
        """Writes the DAG to `path`: CBOR if the name ends in .cbor, else JSON."""
        if os.fspath(path).endswith(".cbor"):
            with open(path, "wb") as f:
                f.write(self.cbor())
        else:
            with open(path, "w", encoding="utf-8", newline="\n") as f:
                f.writelines(self.json_lines())


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
