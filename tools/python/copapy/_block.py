"""Blocks: one record for a whole container operation.

A container operation on n elements (v + 1, v * w, v @ w, v.sum()) would
make n nodes, each a Python object; tracing and exporting a 100k-node
program then costs several times what compiling it does. A `Block` instead
records the operation once: its op and dtype, its length and where each
operand's elements come from (a `Column`). Its elements are DAG nodes like
any other, numbered consecutively when the program is exported, and written
by the exporter a whole block at a time (_dag.py).

An element becomes a Python object (a `BlockElem`, a Node) only when
something asks for it: the user reading a container's elements, a scalar
result (the last element of a sum), or an exporter step that needs one. It
is made once per element and kept, so that a node keeps one identity (the
keys of a Dag's names and outputs are nodes). A BlockElem's operands are
looked up when `args` is read, so that materializing a container does not
materialize the containers it was computed from.

A column says where the k-th operand of element j comes from:

- a Node: the same node for every element (a scalar operand broadcast);
- a list of n Nodes: element j takes list[j] (a container's own elements);
- `Run(block, start)`: element j takes block element start + j;
- `Chain(first)`: element 0 takes `first`, element j the block's own
  element j - 1 (a running sum: each element adds to the one before).
"""
from __future__ import annotations

import threading
from bisect import bisect_right
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

from ._value import Node

__all__ = ["Block", "BlockElem", "Run", "Chain", "Column", "UNNUMBERED", "column_node", "column_slice"]

# The mark of a block no numbering has numbered: far below every base, so that
# an element's mark (block mark + index) never looks numbered (see _dag.py).
UNNUMBERED = -(1 << 62)

_new = object.__new__


class Run:
    """Element j of the column is element start + j of `block`."""
    __slots__ = ("block", "start")

    def __init__(self, block: "Block", start: int) -> None:
        self.block = block
        self.start = start


class Chain:
    """Element 0 of the column is `first`, element j > 0 the block's own
    element j - 1 (only as a block's first column)."""
    __slots__ = ("first",)

    def __init__(self, first: Node) -> None:
        self.first = first


Column = Union[Node, List[Node], Run, Chain]


class Block:
    """n elements computing `op` over `columns`, all of type `dtype`, made at
    location `loc`.

    los, his: the segments of elements the newest numbering that numbered
            the block exported, los[k] .. his[k]-1, in order (see
            spans_needed: only the elements the roots need)
    offs:   the id of each segment's first element less the first segment's
    size:   the number of elements exported
    mark:   the mark of the first exported element in that numbering (see
            _dag._Numbering), else UNNUMBERED
    elems:  the elements made so far as objects (None where not yet)
    """
    __slots__ = ("op", "dtype", "n", "columns", "loc", "mark", "los", "his", "offs", "size", "elems")

    def __init__(self, op: str, dtype: str, n: int, columns: Tuple[Column, ...], loc: int) -> None:
        self.op = op
        self.dtype = dtype
        self.n = n
        self.columns = columns
        self.loc = loc
        self.mark = UNNUMBERED
        self.set_segments([0], [n])
        self.elems: Optional[List[Optional[BlockElem]]] = None
        MADE[0] = True

    def elem(self, j: int) -> "BlockElem":
        """Element j as a node (made on first use, the same object afterwards,
        also when several threads ask at once)."""
        elems = self.elems
        e = elems[j] if elems is not None else None
        if e is None:
            with _making:
                if self.elems is None:
                    self.elems = [None] * self.n
                e = self.elems[j]
                if e is None:
                    e = _new(BlockElem)
                    e.op = self.op
                    e.dtype = self.dtype
                    e.loc = self.loc
                    e.block = self
                    e.index = j
                    self.elems[j] = e
        return e

    def set_segments(self, los: Sequence[int], his: Sequence[int]) -> None:
        """The segments a numbering exports (see the class docstring)."""
        self.los = tuple(los)
        self.his = tuple(his)
        offs = []
        size = 0
        for lo, hi in zip(los, his):
            offs.append(size)
            size += hi - lo
        self.offs = tuple(offs)
        self.size = size

    def offset(self, j: int) -> int:
        """The id of element j less the first exported element's, or -1 if
        the newest numbering did not export it."""
        los = self.los
        k = 0 if len(los) == 1 else bisect_right(los, j) - 1
        if k < 0 or not los[k] <= j < self.his[k]:
            return -1
        return self.offs[k] + j - los[k]

    def __reduce__(self) -> Tuple[Any, Tuple[str, str, int, Tuple[Column, ...], int]]:
        # copy and pickle: the operation only (elements are made again when
        # asked for; a numbering's mark and span belong to that numbering).
        return Block, (self.op, self.dtype, self.n, self.columns, self.loc)

    def operand(self, column: Column, j: int) -> Node:
        """The node `column` gives element j."""
        if column.__class__ is Chain:
            return column.first if j == 0 else self.elem(j - 1)  # type: ignore[union-attr]
        return column_node(column, j)

    def dependencies(self, seen: Set[Tuple[int, int, int]]) -> List[Union[Node, "Block"]]:
        """What must be numbered before the exported elements: the nodes and
        blocks their columns take elements from, in column order (duplicates
        allowed). The part of a list column whose (id(), lo, hi) is in `seen`
        is left out (it is numbered already)."""
        deps: List[Union[Node, Block]] = []
        for c in self.columns:
            if isinstance(c, Node):
                deps.append(c)
            elif c.__class__ is list:
                for lo, hi in zip(self.los, self.his):
                    if (id(c), lo, hi) not in seen:
                        deps.extend(c[lo:hi])  # type: ignore[index]
            elif c.__class__ is Run:
                deps.append(c.block)  # type: ignore[union-attr]
            else:
                deps.append(c.first)  # type: ignore[union-attr]
        return deps


MADE = [False]  # whether this process has made a block: only then do exports look for spans
_making = threading.Lock()


class BlockElem(Node):
    """Element `index` of `block`, as a node. Its operands and mark are the
    block's (read when asked for), so making one costs one small object."""
    __slots__ = ("block", "index")
    block: Block
    index: int

    @property  # type: ignore[override]
    def args(self) -> Tuple[Node, ...]:
        b = self.block
        j = self.index
        return tuple(b.operand(c, j) for c in b.columns)

    @property  # type: ignore[override]
    def mark(self) -> int:
        b = self.block
        j = self.index
        if len(b.los) == 1:
            lo = b.los[0]
            return b.mark + j - lo if lo <= j < b.his[0] else UNNUMBERED
        k = b.offset(j)
        return b.mark + k if k >= 0 else UNNUMBERED

    def __reduce__(self) -> Tuple[Any, Tuple[Block, int]]:
        # copy and pickle: the element of the (copied) block, not a new
        # object with these slots (args and mark cannot be set).
        return _element, (self.block, self.index)


def _element(block: Block, j: int) -> BlockElem:
    return block.elem(j)


Spans = bytearray  # one byte per element: 1 where it is needed


def mark_needed(need: Spans, a: int, b: int) -> List[Tuple[int, int]]:
    """Marks elements a .. b-1 as needed and returns the ranges of them
    that were not marked yet, in order (bytearray.find: C loops, and as
    cheap for the thousandth scattered element as for the first)."""
    parts = []
    p = need.find(0, a, b)
    while p != -1:
        q = need.find(1, p, b)
        if q == -1:
            q = b
        parts.append((p, q))
        need[p:q] = b"\x01" * (q - p)
        p = need.find(0, q, b) if q < b else -1
    return parts


def segments(need: Spans) -> Tuple[List[int], List[int]]:
    """The starts and ends of the runs of needed elements."""
    los: List[int] = []
    his: List[int] = []
    p = need.find(1)
    while p != -1:
        q = need.find(0, p)
        if q == -1:
            q = len(need)
        los.append(p)
        his.append(q)
        p = need.find(1, q)
    return los, his


def spans_needed(roots: Iterable[Node], base: int, spans: Dict[Block, Spans]) -> None:
    """Adds to `spans` the elements of each block that `roots` need
    (transitively, through nodes, columns and the updates of states), for
    the blocks the numbering of `base` has not numbered yet: a block exports
    those elements only, so that a program using some elements of a
    container operation gets their nodes and inputs and nothing else, as
    without blocks. A running sum needs its elements from 0 on."""
    seen: Set[int] = set()
    lists: Dict[int, Spans] = {}  # id() of a list column -> the parts of it pushed
    stack: List[Any] = list(roots)
    pop = stack.pop
    push = stack.append
    while stack:
        x = pop()
        cls = x.__class__
        if cls is BlockElem:
            block, lo, hi = x.block, x.index, x.index + 1
        elif cls is tuple:
            block, lo, hi = x
        else:
            if x.mark >= base or id(x) in seen:
                continue
            seen.add(id(x))
            stack.extend(x.args)
            if x.update is not None:
                push(x.update)
            continue
        if block.mark >= base:
            continue  # numbered by an earlier extend, over what was needed then
        columns = block.columns
        if columns[0].__class__ is Chain:
            lo = 0
        have = spans.get(block)
        if have is None:
            have = spans[block] = bytearray(block.n)
        for a, b in mark_needed(have, lo, hi):
            for c in columns:
                if isinstance(c, Node):
                    push(c)
                elif c.__class__ is list:
                    pushed = lists.get(id(c))
                    if pushed is None:
                        pushed = lists[id(c)] = bytearray(len(c))
                    for p, q in mark_needed(pushed, a, b):
                        stack.extend(c[p:q])
                elif c.__class__ is Run:
                    push((c.block, c.start + a, c.start + b))
                elif a == 0:
                    push(c.first)


def column_node(column: Column, j: int) -> Node:
    """Element j of a column that is not a Chain, as a node."""
    if isinstance(column, Node):
        return column
    if column.__class__ is list:
        return column[j]  # type: ignore[index]
    return column.block.elem(column.start + j)  # type: ignore[union-attr]


def column_slice(column: Column, start: int, stop: int) -> Column:
    """Elements start .. stop-1 of a column that is not a Chain, as a column."""
    if isinstance(column, Node):
        return column
    if column.__class__ is list:
        return column[start:stop]  # type: ignore[index]
    return Run(column.block, column.start + start)  # type: ignore[union-attr]
