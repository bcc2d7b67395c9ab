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

from typing import Any, List, Optional, Sequence, Set, Tuple, Union

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

    mark:  the mark of element 0 in the newest numbering that numbered the
           block (see _dag._Numbering), else UNNUMBERED
    elems: the elements made so far as objects (None where not yet)
    """
    __slots__ = ("op", "dtype", "n", "columns", "loc", "mark", "elems")

    def __init__(self, op: str, dtype: str, n: int, columns: Tuple[Column, ...], loc: int) -> None:
        self.op = op
        self.dtype = dtype
        self.n = n
        self.columns = columns
        self.loc = loc
        self.mark = UNNUMBERED
        self.elems: Optional[List[Optional[BlockElem]]] = None

    def elem(self, j: int) -> "BlockElem":
        """Element j as a node (made on first use, the same object afterwards)."""
        elems = self.elems
        if elems is None:
            elems = self.elems = [None] * self.n
        e = elems[j]
        if e is None:
            e = elems[j] = _new(BlockElem)
            e.op = self.op
            e.dtype = self.dtype
            e.loc = self.loc
            e.block = self
            e.index = j
        return e

    def operand(self, column: Column, j: int) -> Node:
        """The node `column` gives element j."""
        if isinstance(column, Node):
            return column
        if column.__class__ is list:
            return column[j]  # type: ignore[index]
        if column.__class__ is Run:
            return column.block.elem(column.start + j)  # type: ignore[union-attr]
        return column.first if j == 0 else self.elem(j - 1)  # type: ignore[union-attr]

    def dependencies(self, seen: Set[int]) -> List[Union[Node, "Block"]]:
        """What must be numbered before the block: the nodes and blocks its
        columns take elements from, in column order (duplicates allowed).
        The nodes of a list column whose id() is in `seen` are left out;
        the others' ids are added to it."""
        deps: List[Union[Node, Block]] = []
        for c in self.columns:
            if isinstance(c, Node):
                deps.append(c)
            elif c.__class__ is list:
                if id(c) not in seen:
                    seen.add(id(c))
                    deps.extend(c)  # type: ignore[arg-type]
            elif c.__class__ is Run:
                deps.append(c.block)  # type: ignore[union-attr]
            else:
                deps.append(c.first)  # type: ignore[union-attr]
        return deps


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
        return self.block.mark + self.index


def column_node(column: Column, j: int, block_of_chain: Optional[Block] = None) -> Node:
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
