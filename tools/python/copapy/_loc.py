"""Source locations of traced nodes: where the user's code made each node.

A location is the file and line of the first stack frame outside the copapy
package when the node was made (DAG format version 3, docs/dag-format.md,
"Source locations"). Nodes hold a small int, an index into LOCATIONS, so
that recording one costs a frame walk and two dictionary lookups, and a
node holds no tuple of its own; index 0 is "no location".

Bulk container operations make many nodes on one line of user code: they
look the location up once (`here()`) and give it to every node they make.
Where such an operation makes its nodes through the scalar paths (which
look up a location per node), it pins the location for its duration
(`pinned_location`), so that those lookups return at once.

Caches, for the process: whether a file belongs to the package (by the
file name string, whose hash Python keeps), and the location index of each
(code object, instruction offset) of the user's code. The latter is keyed by
the code object's id, not the object: a code object hashes its whole
contents on every lookup; the cache holds the object, so its id cannot be
reused. Within a code object it is keyed by the instruction offset
(`f_lasti`, an attribute read) rather than the line, because a frame
computes its `f_lineno` from the code's line table, at a cost that grows
with the function's length.
"""
import os
import sys
import threading
from types import CodeType, FrameType
from typing import Any, Dict, List, Optional, Tuple

__all__ = ["LOCATIONS", "NO_LOCATION", "PINNED", "here", "location_from", "pinned_location", "file_table"]

NO_LOCATION = 0
#: location index -> (the code object's file name as Python reports it, line)
LOCATIONS: List[Tuple[str, int]] = [("", 0)]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_inside: Dict[str, bool] = {}  # code file name -> whether it is one of the package's modules
# id(code object of the user's) -> (the code object, its instruction offsets -> location index)
_codes: Dict[int, Tuple[CodeType, Dict[int, int]]] = {}
_by_line: Dict[Tuple[str, int], int] = {}     # (file name, line) -> location index
_new_location = threading.Lock()  # two threads must not give two places one index
_getframe = sys._getframe
_get_ident = threading.get_ident
#: thread id -> the location pinned by the bulk operation it is in (see
#: pinned_location; hot paths read it inline, as here() does)
PINNED: Dict[int, int] = {}


def _is_package_file(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_PACKAGE_DIR) and not filename.startswith("<")


def location_from(frame: Optional[FrameType]) -> int:
    """The location index of the first frame from `frame` outward that is not
    the package's (NO_LOCATION if there is none, or it has no line). A hot
    path that knows its callers are the package's starts further out
    (`location_from(sys._getframe(2))`): every frame costs a step here."""
    inside = _inside
    while frame is not None:
        code = frame.f_code
        filename = code.co_filename
        known = inside.get(filename)
        if known is None:
            known = inside[filename] = _is_package_file(filename)
        if not known:
            entry = _codes.get(id(code))
            if entry is None:
                entry = _codes[id(code)] = (code, {})
            offsets = entry[1]
            offset = frame.f_lasti
            loc = offsets.get(offset)
            if loc is None:
                loc = offsets[offset] = _line_location(code.co_filename, frame.f_lineno)
            return loc
        frame = frame.f_back
    return NO_LOCATION


def _line_location(filename: str, line: Optional[int]) -> int:
    """The location index of a file and line, made on first use."""
    if line is None or line < 1:
        return NO_LOCATION
    loc = _by_line.get((filename, line))
    if loc is None:
        with _new_location:
            loc = _by_line.get((filename, line))
            if loc is None:
                loc = _by_line[(filename, line)] = len(LOCATIONS)
                LOCATIONS.append((filename, line))
    return loc


def here() -> int:
    """The location index of the user's code that called into the package
    (the bulk operation's pinned location while one runs in this thread)."""
    if PINNED:
        loc = PINNED.get(_get_ident())
        if loc is not None:
            return loc
    return location_from(_getframe(2))  # from the caller's caller: the caller is the package's


class pinned_location:
    """`with pinned_location():` makes here() return the caller's location
    without a frame walk until the block ends, in this thread. For bulk
    operations that call no user code (the user's own functions, such as
    one given to map(), must see their own lines). Nested pins keep the
    outer one: it is the same user line."""
    __slots__ = ("_ident", "_owner")

    def __enter__(self) -> None:
        ident = self._ident = _get_ident()
        self._owner = ident not in PINNED
        if self._owner:
            PINNED[ident] = location_from(_getframe(1))

    def __exit__(self, *exc: Any) -> None:
        if self._owner:
            del PINNED[self._ident]


_MAX_FILE_BYTES = 4096  # docs/dag-format.md: longer file names cannot be written


def _document_path(filename: str, cwd: str) -> Optional[str]:
    """`filename` as a DAG file records it: relative to `cwd` if it lies below
    it, else absolute; pseudo-files ("<stdin>", "<string>") as they are.
    None if it is too long for the format."""
    if not (filename.startswith("<") and filename.endswith(">")):
        path = os.path.abspath(filename)
        filename = os.path.relpath(path, cwd) if path.startswith(cwd + os.sep) else path
    if not filename or len(filename.encode("utf-8", "surrogateescape")) > _MAX_FILE_BYTES:
        return None
    return filename


def file_table(locs: Any) -> Tuple[List[str], Dict[int, Tuple[int, int]]]:
    """For the location indices `locs` (in the order a document meets them):
    the document's `files` table (first use first) and, per index,
    (file index, line). Indices without a writable file are left out."""
    cwd = os.getcwd()
    files: List[str] = []
    file_index: Dict[str, int] = {}
    by_name: Dict[str, Optional[int]] = {}  # Python's file name -> file index (two spellings may be one file)
    out: Dict[int, Tuple[int, int]] = {}
    for loc in locs:
        if loc == NO_LOCATION:
            continue
        filename, line = LOCATIONS[loc]
        if filename not in by_name:
            path = _document_path(filename, cwd)
            if path is None:
                by_name[filename] = None
            else:
                if path not in file_index:
                    file_index[path] = len(files)
                    files.append(path)
                by_name[filename] = file_index[path]
        k = by_name[filename]
        if k is not None:
            out[loc] = (k, line)
    return files, out
