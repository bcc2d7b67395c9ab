"""Running compiled images for Target: three runners behind one interface.

- InProcessRunner: host images run in this Python process. libcopapy-runtime.so
  (lib/runtime/host_loader.c, loaded with ctypes) maps, patches and protects
  the image once per compile (code read+write, then read+execute: never both);
  inputs are written into its data region with struct, each run is one call.
- ServeRunner: one `coparun IMAGE --serve` process per compiled program (for
  other targets under qemu user mode, where starting a process costs 25 ms),
  spoken to over pipes with the line protocol of docs/cli.md.
- ProcessRunner: one coparun process per run, as before the two above
  existed; kept as the fallback and as a second path for the tests.

The runners give Target the same semantics: inputs keep the values written
until they are written again, states start from their initial values after
each compile and advance with every run, and reads see the values of the last
run (in-process reads come from a copy of the data region taken after it).
Input values are checked the same way everywhere (check_input).
"""
from __future__ import annotations

import array
import ctypes
import itertools
import json
import math
import numbers
import os
import select
import signal
import struct
import subprocess
import sys
import sysconfig
import tempfile
import time
import weakref
from pathlib import Path
from typing import IO, Any, Callable, Dict, List, Optional, Sequence, Tuple

from ._value import INT_MAX, INT_MIN, f32, value

__all__ = ["RUNNER_KINDS", "Runner", "InProcessRunner", "ServeRunner", "ProcessRunner", "SemihostRunner", "check_input",
           "format_input", "parse_output", "load_runtime_library", "runtime_library_name"]

#: What COPAPY_RUNNER (and Target(runner=...)) accept; "auto" is the default.
RUNNER_KINDS = ("auto", "inprocess", "serve", "process", "semihost")

# The writes of one period: (input name, dtype, Python value), or for a
# container of inputs of one dtype (a segment) (tuple of names, dtype,
# sequence of values), which the runners write without a Python step per value.
Writes = Sequence[Tuple[Any, str, Any]]
Reads = Sequence[Tuple[str, str]]        # (output name, dtype)


# ---- Input values -------------------------------------------------------------

#: The largest finite binary32 value; numbers that round beyond it are refused.
FLOAT_MAX = 3.4028234663852886e+38
_FLOAT_RANGE = f"out of float range (binary32: the largest finite value is {FLOAT_MAX!r})"


def check_input(dtype: str, name: str, x: Any) -> Any:
    """`x` checked for an input of `dtype` and converted to what the image
    stores: a binary32 float, a bool, or an int32. A finite number that
    binary32 cannot hold (1e39) is an OverflowError, as coparun's --set
    refuses it, rather than an infinity nobody asked for; inf and nan given
    as such are written as they are."""
    if isinstance(x, value):
        raise TypeError(f"input {name!r} takes a Python number, not a traced value ({x!r})")
    if dtype == "float":
        if not isinstance(x, numbers.Real):
            raise TypeError(f"input {name!r} is a float; expected a Python number, not {type(x).__name__}")
        try:
            v = float(x)
        except OverflowError:
            raise OverflowError(f"value {x!r} for input {name!r} is {_FLOAT_RANGE}") from None
        r = f32(v)
        if math.isinf(r) and not math.isinf(v):
            raise OverflowError(f"value {x!r} for input {name!r} is {_FLOAT_RANGE}")
        return r
    if dtype == "bool":
        if x is True or x is False or (isinstance(x, int) and x in (0, 1)):
            return bool(x)
        raise TypeError(f"input {name!r} is a bool; expected True, False, 0 or 1, not {x!r}")
    if not isinstance(x, numbers.Integral):
        raise TypeError(f"input {name!r} is an int; expected a Python int, not {type(x).__name__}")
    x = int(x)
    if not INT_MIN <= x <= INT_MAX:
        raise OverflowError(f"value {x} for input {name!r} does not fit in int32")
    return x


def format_input(dtype: str, name: str, x: Any) -> str:
    """`x` as coparun's --set expects it (decimal: exact, since repr round-trips binary32)."""
    v = check_input(dtype, name, x)
    if dtype == "float":
        if math.isfinite(v):
            return repr(v)
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if dtype == "bool":
        return "true" if v else "false"
    return str(v)


def _wire_input(dtype: str, name: str, x: Any) -> str:
    """`x` for the serve protocol: floats as their 32-bit pattern (#HHHHHHHH),
    exact and far cheaper for the runner to read under qemu than decimals."""
    v = check_input(dtype, name, x)
    if dtype == "float":
        return "#" + _BE_F32.pack(v).hex()
    if dtype == "bool":
        return "1" if v else "0"
    return str(v)


def _float_patterns(xs: Sequence[Any]) -> List[str]:
    """#HHHHHHHH of each number rounded to binary32, all in one array('f')
    conversion. OverflowError if a finite number rounds beyond binary32 (the
    callers then take the checked path, which names the input)."""
    a = array.array("f", xs)
    if _overflowed(a, xs):
        raise OverflowError("a value is " + _FLOAT_RANGE)
    if sys.byteorder == "little":
        a.byteswap()  # the patterns are written most significant digit first
    h = a.tobytes().hex()
    return ["#" + h[i:i + 8] for i in range(0, len(h), 8)]


def _overflowed(a: "array.array[float]", xs: Sequence[Any]) -> bool:
    """Did array('f') turn a finite number of `xs` into an infinity? (It
    converts as C does, without a check.) One scan for the common case."""
    if math.inf not in a and -math.inf not in a:
        return False
    return any(math.isinf(y) and not math.isinf(x) for x, y in zip(xs, a))


def _expand(writes: Writes) -> List[Tuple[str, str, Any]]:
    """The writes of a period one value at a time (segments taken apart)."""
    out: List[Tuple[str, str, Any]] = []
    for names, dtype, x in writes:
        if names.__class__ is tuple:
            out.extend(zip(names, [dtype] * len(names), x))
        else:
            out.append((names, dtype, x))
    return out


def parse_output(dtype: str, raw: Any, name: str) -> Any:
    """One output as coparun prints it (numbers kept as their source text) -> Python value."""
    try:
        if dtype == "float":
            # Numbers, or the strings "nan", "inf", "-inf"; the text keeps -0 negative.
            return f32(float(raw))
        if dtype == "bool":
            if raw is True or raw is False:
                return raw
            if raw in ("0", "1"):
                return raw == "1"
        elif not isinstance(raw, bool):
            return int(raw)
    except (TypeError, ValueError):
        pass
    raise RuntimeError(f"coparun printed {raw!r} for output {name!r}, which is not a valid {dtype}")


# struct codes of the 4-byte values, by dtype (bools are stored as int 0/1).
_CODES = {"float": "f", "int": "i", "bool": "i"}
_F32, _I32 = struct.Struct("<f"), struct.Struct("<i")
_BE_F32 = struct.Struct(">f")  # the serve protocol's #HHHHHHHH patterns
_ONLY_FLOAT = frozenset((float,))


# ---- The interface -------------------------------------------------------------

class Runner:
    """What Target needs from a runner. Writers and readers are made once per
    compile and called for every write and read, so they are closures that do
    as little as possible."""

    kind = "?"

    def writer(self, name: str, dtype: str) -> Callable[[Any], None]:
        """A function that writes (checked, see check_input) input `name` for the following runs."""
        raise NotImplementedError

    def bulk_writer(self, names: Sequence[str], dtypes: Sequence[str]) -> Optional[Callable[[Sequence[Any]], bool]]:
        """Optionally, a function writing all of `names` from a sequence of
        numbers at once; it returns False (having written nothing) when it
        cannot take the data, and the caller then writes element by element."""
        return None

    def reader(self, name: str, dtype: str) -> Callable[[], Any]:
        """A function returning output `name` as of the last run."""
        raise NotImplementedError

    def run(self, n: int) -> None:
        """Runs n >= 1 times."""
        raise NotImplementedError

    def batch(self, periods: Sequence[Writes], reads: Reads) -> List[Tuple[Any, ...]]:
        """For each period: its writes, one run, the `reads`; returns one tuple
        of read values per period. The written values are plain numbers of
        the input's dtype or already checked (Target checks the rest); all are
        converted before the first period runs. Afterwards the readers see
        the last period's values."""
        raise NotImplementedError

    def columns(self, writes: Sequence[Tuple[str, str]], bits: bytes, periods: int,
                reads: Reads) -> List[List[Any]]:
        """Runs `periods` periods over columns: `bits` holds, for each input
        (name, dtype) of `writes` in turn, its 4-byte little-endian values of
        all periods (checked and converted by Target). Returns, for each of
        `reads`, the tuple of its values after each period (bools as bools).
        Afterwards the readers see the last period's values. This default
        goes through batch(); runners that can take the columns as they are
        override it."""
        view = memoryview(bits)
        cols = [struct.unpack_from(f"<{periods}{_CODES[dtype]}", view, 4 * periods * i)
                for i, (_, dtype) in enumerate(writes)]
        rows = [[(name, dtype, cols[i][p]) for i, (name, dtype) in enumerate(writes)] for p in range(periods)]
        table = self.batch(rows, reads)
        return [[row[i] for row in table] for i in range(len(reads))]

    def close(self) -> None:
        """Releases the image (memory, or the runner process). Idempotent."""


# ---- In process ----------------------------------------------------------------

_DTYPES = {1: "int", 2: "float", 3: "bool"}
_SYM_INPUT, _SYM_OUTPUT = 1, 2
_SYM_BOUND = 16 | 32  # CP_SYM_BOUND_INPUT | CP_SYM_BOUND_OUTPUT (copapy/image.h)
_API_VERSION = 3
_libraries: Dict[str, Any] = {}


def runtime_library_name() -> str:
    return "libcopapy-runtime.so"


def load_runtime_library(env_var: str, search_dirs: Sequence[Path]) -> Tuple[Any, str]:
    """The runtime library (ctypes.CDLL) and its path: from `env_var` (a full
    path), else the first of `search_dirs` that has it. FileNotFoundError
    naming everything tried if there is none; RuntimeError if it is not a
    copapy runtime this tracer understands."""
    configured = os.environ.get(env_var)
    if configured:
        if not os.path.isfile(configured):
            raise FileNotFoundError(f"{env_var}={configured} is not a file")
        path = configured
    else:
        tried = [f"${env_var} (not set)"]
        for d in search_dirs:
            candidate = d / runtime_library_name()
            if candidate.is_file():
                path = str(candidate)
                break
            tried.append(str(candidate))
        else:
            raise FileNotFoundError(f"cannot find {runtime_library_name()}; tried: " + ", ".join(tried) +
                                    f" (build the checkout with tools/quickstart.sh or set {env_var})")
    lib = _libraries.get(path)
    if lib is None:
        try:
            cdll = ctypes.CDLL(path)
            version = cdll.cp_host_api_version
        except (OSError, AttributeError) as e:
            raise RuntimeError(f"cannot load the copapy runtime {path}: {e}") from None
        version.restype = ctypes.c_int
        if version() != _API_VERSION:
            raise RuntimeError(f"{path} implements version {version()} of the host API; this tracer needs "
                               f"version {_API_VERSION} (rebuild the checkout)")
        _declare(cdll)
        lib = _libraries[path] = _Runtime(cdll, path)
    return lib, path


class _Runtime:
    """The loaded library: its functions as declared, plus cp_host_run once
    more without ctypes' release of the GIL around the call (through
    PyDLL), which halves the cost of a short run; long runs release it."""

    def __init__(self, cdll: Any, path: str) -> None:
        self.cdll = cdll
        self.path = path
        self.run_holding_gil = ctypes.PyDLL(path).cp_host_run
        self.run_holding_gil.restype = None  # arguments: prebuilt c_void_p and c_uint64 objects

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cdll, name)


def _declare(lib: Any) -> None:
    """Argument and result types of the C API (include/copapy/host.h)."""
    p, u32, u64, cp = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_char_p
    sig = {
        "cp_host_load": (p, [cp, ctypes.c_size_t, cp, ctypes.c_size_t]),
        "cp_host_free": (None, [p]),
        "cp_host_data": (p, [p]),
        "cp_host_data_size": (u32, [p]),
        "cp_host_code": (p, [p]),
        "cp_host_code_size": (u32, [p]),
        "cp_host_target": (ctypes.c_uint, [p]),
        "cp_host_symbol_count": (u32, [p]),
        "cp_host_symbol": (ctypes.c_int, [p, u32, ctypes.POINTER(cp), ctypes.POINTER(u32),
                                          ctypes.POINTER(ctypes.c_uint), ctypes.POINTER(ctypes.c_uint)]),
        "cp_host_run": (None, [p, u64]),
        "cp_host_run_batch": (ctypes.c_int, [p, u64, cp, cp, cp, u32, cp, p]),
        "cp_host_run_columns": (ctypes.c_int, [p, u64, u32, cp, cp, u32, cp, p]),
    }
    for name, (restype, argtypes) in sig.items():
        f = getattr(lib, name)
        f.restype = restype
        f.argtypes = argtypes


def _free_image(lib: Any, handle: int) -> None:
    lib.cp_host_free(handle)


class InProcessRunner(Runner):
    """Host images in this process, through libcopapy-runtime.so."""

    kind = "inprocess"

    def __init__(self, lib: Any, image: bytes, where: str) -> None:
        error = ctypes.create_string_buffer(256)
        handle = lib.cp_host_load(image, len(image), error, len(error))
        if not handle:
            raise RuntimeError(f"cannot load {where}: {error.value.decode(errors='replace')}")
        self._lib = lib
        self._handle: Optional[int] = handle
        self._finalizer = weakref.finalize(self, _free_image, lib, handle)
        size = lib.cp_host_data_size(handle)
        # A ctypes view of the live data region: struct packs inputs into it
        # and copies it after each run.
        self._data = (ctypes.c_ubyte * max(size, 1)).from_address(lib.cp_host_data(handle))
        self._snapshot = b""
        self._run = lib.cp_host_run
        self._run_short = lib.run_holding_gil
        self._handle_arg = ctypes.c_void_p(handle)
        self._one = ctypes.c_uint64(1)
        self.symbols: Dict[str, Tuple[int, str, int]] = {}  # name -> (offset, dtype, flags)
        self._input_slots: Dict[str, int] = {}
        self._segments: Dict[Tuple[str, ...], List[int]] = {}
        name_p, off, dt, fl = ctypes.c_char_p(), ctypes.c_uint32(), ctypes.c_uint(), ctypes.c_uint()
        for i in range(lib.cp_host_symbol_count(handle)):
            lib.cp_host_symbol(handle, i, ctypes.byref(name_p), ctypes.byref(off), ctypes.byref(dt), ctypes.byref(fl))
            if fl.value & _SYM_BOUND:
                continue  # a device register (Target does not run such images), not a slot
            self.symbols[(name_p.value or b"").decode()] = (off.value, _DTYPES[dt.value], fl.value)

    def code_range(self) -> Tuple[int, int]:
        """Where the code is mapped (address, size): for tests of its protection."""
        self._alive()
        return self._lib.cp_host_code(self._handle), self._lib.cp_host_code_size(self._handle)

    def _alive(self) -> int:
        if self._handle is None:
            raise RuntimeError("the in-process runner was closed (compile() again)")
        return self._handle

    def _slot(self, name: str, dtype: str, flag: int) -> int:
        entry = self.symbols.get(name)
        if entry is None or not entry[2] & flag:
            raise RuntimeError(f"the loaded image has no {'input' if flag == _SYM_INPUT else 'output'} "
                               f"named {name!r}")
        if entry[1] != dtype:
            raise RuntimeError(f"the loaded image has {name!r} as {entry[1]}, the program as {dtype}")
        return entry[0]

    def writer(self, name: str, dtype: str) -> Callable[[Any], None]:
        off, buf = self._slot(name, dtype, _SYM_INPUT), self._data
        if dtype == "float":
            pack_f = _F32.pack_into

            def write_float(x: Any) -> None:
                if type(x) is float:
                    try:
                        pack_f(buf, off, x)
                        return
                    except OverflowError:
                        pass  # outside binary32: check_input gives the infinity
                pack_f(buf, off, check_input("float", name, x))
            return write_float
        pack_i = _I32.pack_into
        if dtype == "int":
            def write_int(x: Any) -> None:
                if type(x) is int and INT_MIN <= x <= INT_MAX:
                    pack_i(buf, off, x)
                else:
                    pack_i(buf, off, check_input("int", name, x))
            return write_int

        def write_bool(x: Any) -> None:
            pack_i(buf, off, x if (x is True or x is False) else check_input("bool", name, x))
        return write_bool

    def bulk_writer(self, names: Sequence[str], dtypes: Sequence[str]) -> Optional[Callable[[Sequence[Any]], bool]]:
        # Containers of float or int inputs. The compiler lays inputs out by
        # first use, so a vector's elements are often evenly spaced (two
        # vectors used together interleave): then one strided memoryview
        # assignment writes them all; otherwise the elements' own writers.
        # Either way the guard admits only plain numbers that cannot fail
        # halfway, so a container is written completely or not at all.
        if not names or any(d != dtypes[0] for d in dtypes) or dtypes[0] not in ("float", "int"):
            return None
        offsets = [self._slot(n, d, _SYM_INPUT) for n, d in zip(names, dtypes)]
        count, code = len(offsets), _CODES[dtypes[0]]
        plain = frozenset((float, int)) if code == "f" else frozenset((int,))
        stride = offsets[1] - offsets[0] if count > 1 else 4
        if stride > 0 and all(b - a == stride for a, b in zip(offsets, offsets[1:])):
            view = memoryview(self._data).cast("B").cast(code)  # the host is little-endian, as images are
            where = slice(offsets[0] // 4, offsets[0] // 4 + count * stride // 4, stride // 4)
            is_int = code == "i"

            def write_strided(xs: Sequence[Any]) -> bool:
                if len(xs) != count or not plain.issuperset(map(type, xs)):
                    return False
                if is_int and not (INT_MIN <= min(xs) and max(xs) <= INT_MAX):
                    return False
                try:
                    converted = array.array(code, xs)  # float: rounds to binary32, overflow gives inf
                except OverflowError:
                    return False  # an int too large for a double: the checked path reports it
                if not is_int and _overflowed(converted, xs):
                    return False  # beyond binary32: the checked path reports it
                view[where] = converted
                return True
            return write_strided
        writers = [self.writer(n, d) for n, d in zip(names, dtypes)]

        def write_each(xs: Sequence[Any]) -> bool:
            if len(xs) != count or not plain.issuperset(map(type, xs)):
                return False
            if code == "i" and not (INT_MIN <= min(xs) and max(xs) <= INT_MAX):
                return False
            if code == "f" and any(type(x) is int and not -(2 ** 128) < x < 2 ** 128 for x in xs):
                return False
            for w, x in zip(writers, xs):
                w(x)
            return True
        return write_each

    def reader(self, name: str, dtype: str) -> Callable[[], Any]:
        off = self._slot(name, dtype, _SYM_OUTPUT)
        if dtype == "float":
            unpack_f = _F32.unpack_from
            return lambda: unpack_f(self._snapshot, off)[0]
        unpack_i = _I32.unpack_from
        if dtype == "int":
            return lambda: unpack_i(self._snapshot, off)[0]
        return lambda: unpack_i(self._snapshot, off)[0] != 0

    def run(self, n: int) -> None:
        if self._handle is None:
            self._alive()
        if n == 1:
            self._run_short(self._handle_arg, self._one)
        elif n < 4096:
            self._run_short(self._handle_arg, ctypes.c_uint64(n))
        else:
            self._run(self._handle, n)  # let other threads go on meanwhile
        self._snapshot = bytes(self._data)

    def batch(self, periods: Sequence[Writes], reads: Reads) -> List[Tuple[Any, ...]]:
        handle = self._alive()
        slots, segments = self._input_slots, self._segments
        counts: List[int] = []
        offsets: List[int] = []
        codes: List[str] = []
        values: List[Any] = []
        for writes in periods:
            n = 0
            for names, dtype, x in writes:
                if names.__class__ is tuple:
                    offs = segments.get(names)
                    if offs is None:
                        offs = segments[names] = [self._slot(e, dtype, _SYM_INPUT) for e in names]
                    offsets.extend(offs)
                    values.extend(x)
                    codes.append(_CODES[dtype] * len(offs))
                    n += len(offs)
                else:
                    off = slots.get(names)
                    if off is None:
                        off = slots[names] = self._slot(names, dtype, _SYM_INPUT)
                    offsets.append(off)
                    values.append(x)
                    codes.append(_CODES[dtype])
                    n += 1
            counts.append(n)
        fmt = "<" + "".join(codes)
        try:
            # Plain numbers of the right type pack as they are; anything else
            # (and floats beyond binary32, which struct refuses) is checked
            # and converted first.
            bits = struct.pack(fmt, *values)
        except (OverflowError, TypeError, struct.error):
            bits = struct.pack(fmt, *[check_input(dtype, name, x) for writes in periods
                                      for name, dtype, x in _expand(writes)])
        out_offsets = [self._slot(name, dtype, _SYM_OUTPUT) for name, dtype in reads]
        row = "".join(_CODES[d] for _, d in reads)
        out = ctypes.create_string_buffer(max(4 * len(row) * len(periods), 1))
        rc = self._lib.cp_host_run_batch(
            handle, len(periods), struct.pack(f"<{len(counts)}I", *counts),
            struct.pack(f"<{len(offsets)}I", *offsets), bits,
            len(out_offsets), struct.pack(f"<{len(out_offsets)}I", *out_offsets), out)
        if rc != 0:
            raise RuntimeError("the runtime rejected a batch (a data offset out of bounds)")
        if periods:
            self._snapshot = bytes(self._data)
        return _rows(struct.unpack_from("<" + row * len(periods), out), reads, len(periods))

    def columns(self, writes: Sequence[Tuple[str, str]], bits: bytes, periods: int,
                reads: Reads) -> List[List[Any]]:
        handle = self._alive()
        ins = [self._slot(name, dtype, _SYM_INPUT) for name, dtype in writes]
        outs = [self._slot(name, dtype, _SYM_OUTPUT) for name, dtype in reads]
        if len(bits) != 4 * periods * len(ins):
            raise ValueError(f"columns(): {len(bits)} bytes for {periods} periods of {len(ins)} inputs")
        if periods == 0:
            return [[] for _ in reads]
        out = ctypes.create_string_buffer(max(4 * periods * len(outs), 1))
        rc = self._lib.cp_host_run_columns(handle, periods, len(ins), struct.pack(f"<{len(ins)}I", *ins), bits,
                                           len(outs), struct.pack(f"<{len(outs)}I", *outs), out)
        if rc != 0:
            raise RuntimeError("the runtime rejected a batch (a data offset out of bounds)")
        self._snapshot = bytes(self._data)
        return _columns_of(out, reads, periods, "<")

    def close(self) -> None:
        self._handle = None
        self._finalizer()


def _columns_of(raw: Any, reads: Reads, periods: int, order: str) -> List[List[Any]]:
    """4-byte values of `reads`, column after column (byte order "<" or ">")
    -> one list per read, bools as bools."""
    cols: List[List[Any]] = []
    view = memoryview(raw).cast("B")
    native = order == ("<" if sys.byteorder == "little" else ">")
    for i, (_, dtype) in enumerate(reads):
        if native:  # a cast of the bytes, the cheapest way to a list of Python numbers
            col = view[4 * periods * i:4 * periods * (i + 1)].cast(_CODES[dtype]).tolist()
        else:
            col = list(struct.unpack_from(f"{order}{periods}{_CODES[dtype]}", view, 4 * periods * i))
        cols.append(list(map(bool, col)) if dtype == "bool" else col)
    return cols


def _rows(flat: Tuple[Any, ...], reads: Reads, periods: int) -> List[Tuple[Any, ...]]:
    """Flat values, period after period -> one tuple per period, bools as bools."""
    width = len(reads)
    bools = [i for i, (_, d) in enumerate(reads) if d == "bool"]
    rows = [flat[k * width:(k + 1) * width] for k in range(periods)]
    if bools:
        fixed = []
        for r in rows:
            items = list(r)
            for i in bools:
                items[i] = items[i] != 0
            fixed.append(tuple(items))
        rows = fixed
    return rows


# ---- Serving process -----------------------------------------------------------

_PROTOCOL = b"ready 2"
_MAX_LINE = 1 << 20          # coparun's limit, newline included
_LINE_BUDGET = 900_000       # what the client puts in one request
_MAX_COLUMN_PERIODS = 1 << 20  # coparun's limit of periods per columns request
_RUN_CHUNK = 1 << 16         # runs per request, so that a long run(n) keeps answering
_DEFAULT_TIMEOUT = 120.0     # seconds without a reply before the runner is given up


def _timeout() -> float:
    text = os.environ.get("COPAPY_RUNNER_TIMEOUT")
    if not text:
        return _DEFAULT_TIMEOUT
    try:
        t = float(text)
        if t > 0:
            return t
    except ValueError:
        pass
    raise ValueError(f"COPAPY_RUNNER_TIMEOUT={text} is not a positive number of seconds")


def _describe_exit(code: Optional[int]) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _stop(proc: "subprocess.Popen[bytes]", stderr: IO[bytes]) -> None:
    """Ends a serving process: end of input makes it exit by itself."""
    try:
        if proc.stdin is not None:
            proc.stdin.close()
    except OSError:
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
    stderr.close()


class ServeRunner(Runner):
    """One `coparun IMAGE --serve` process (under qemu for other targets)."""

    kind = "serve"

    def __init__(self, command: Sequence[str], image_path: str, outputs: Dict[str, str]) -> None:
        self.command = list(command) + [image_path, "--serve"]
        self.label = os.path.basename(command[-1])  # the runner itself, not qemu
        self._outputs = outputs                     # output name -> dtype, as the program has them
        self._stderr = tempfile.TemporaryFile()     # read only when the runner fails: never fills up
        try:
            self._proc = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=self._stderr, bufsize=0)
        except OSError as e:
            self._stderr.close()
            raise RuntimeError(f"cannot start {' '.join(self.command)}: {e}") from None
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._in, self._out = self._proc.stdin.fileno(), self._proc.stdout.fileno()
        os.set_blocking(self._in, False)  # see _exchange
        self._poll = select.poll()
        self._poll.register(self._out, select.POLLIN)
        self._finalizer = weakref.finalize(self, _stop, self._proc, self._stderr)
        self._buffer = b""
        self._broken: Optional[str] = None
        self._pending: Dict[str, str] = {}    # input name -> "NAME VALUE" for the next set request
        self._values: Tuple[Any, ...] = ()    # outputs of the last run, in the image's order
        self._index: Dict[str, int] = {}      # output name -> position in _values
        self._codes = ""                      # struct codes of _values
        self._prefixes: Dict[Tuple[str, ...], List[str]] = {}  # segment names -> "NAME " each
        self._unpack_all: Callable[[bytes], Tuple[Any, ...]] = struct.Struct(">").unpack
        # The greeting and the output names ('get') come with the replies to
        # the first request: no round trip of their own.
        self._started = False
        self._send_first = b"get\n"
        self._timeout = _timeout()

    # -- plumbing

    def _fail(self, what: str, wait: bool = True) -> RuntimeError:
        """Marks the runner unusable; the error names it, its exit status and its stderr."""
        code = self._proc.poll()
        if code is None and wait:
            try:
                code = self._proc.wait(timeout=2)  # it closed its output: it is exiting
            except subprocess.TimeoutExpired:
                pass
        if code is None:
            self._proc.kill()
            code = self._proc.wait()
        self._stderr.seek(0)
        tail = self._stderr.read()[-2000:].decode(errors="replace").strip()
        message = f"{self.label} ({' '.join(self.command)}) {what} ({_describe_exit(code)})"
        if tail:
            message += f"; its stderr:\n{tail}"
        self._broken = message
        return RuntimeError(message)

    def _exchange(self, request: bytes, replies: int) -> List[bytes]:
        """Sends `request` (whole lines) and returns the next `replies` reply
        lines. Writing and reading interleave (the input pipe is non-blocking),
        so that neither side can block the other on a full pipe. The runner's
        death ends the wait at once; silence for longer than the timeout
        (COPAPY_RUNNER_TIMEOUT) gives up on it."""
        if self._broken is not None:
            raise RuntimeError(f"the runner cannot be used any more: {self._broken}")
        try:
            return self._exchange_lines(request, replies)
        except RuntimeError:
            raise
        except BaseException as e:
            # Interrupted (Ctrl-C) halfway: replies may still be on their way,
            # and the next request would read them as its own.
            if self._broken is None:
                self._broken = f"a request was interrupted ({type(e).__name__}); compile() again"
                self._proc.kill()
            raise

    def _exchange_lines(self, request: bytes, replies: int) -> List[bytes]:
        first = not self._started
        if first:
            request, replies, self._started = self._send_first + request, replies + 2, True
        timeout = self._timeout
        lines: List[bytes] = []
        out = memoryview(request)
        if out:
            # Requests are usually small: the pipe takes them at once, and only
            # the rest (if any) waits for POLLOUT.
            try:
                out = out[os.write(self._in, out):]
            except BlockingIOError:
                pass
            except BrokenPipeError:
                raise self._fail("exited unexpectedly") from None
        buffer = self._buffer
        deadline = time.monotonic() + timeout
        writing = False
        while True:
            while len(lines) < replies and b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                lines.append(line)
            if len(lines) == replies and not out:
                break
            if bool(out) != writing:
                writing = bool(out)
                if writing:
                    self._poll.register(self._in, select.POLLOUT)
                else:
                    self._poll.unregister(self._in)
            events = self._poll.poll(max(0.0, deadline - time.monotonic()) * 1000)
            if not events:
                raise self._fail(f"did not answer within {timeout:g} s (COPAPY_RUNNER_TIMEOUT); killed it",
                                 wait=False)
            for fd, event in events:
                if fd == self._in:
                    try:
                        out = out[os.write(self._in, out):]
                    except BlockingIOError:
                        pass
                    except BrokenPipeError:
                        raise self._fail("exited unexpectedly") from None
                else:
                    chunk = os.read(self._out, 1 << 16)
                    if not chunk:
                        raise self._fail("exited unexpectedly")
                    buffer += chunk
            deadline = time.monotonic() + timeout
        if writing:
            self._poll.unregister(self._in)
        self._buffer = buffer
        if first:
            self._handshake(lines[0], lines[1])
            lines = lines[2:]
        return lines

    def _handshake(self, ready: bytes, listing: bytes) -> None:
        if ready != _PROTOCOL:
            raise self._fail(f"is not a coparun --serve speaking protocol 2: it printed {ready[:100]!r} "
                             "instead of 'ready 2'", wait=False)
        printed = self._payload(listing, "get")
        try:
            names = json.loads(printed)
        except ValueError as e:
            raise self._fail(f"replied {printed[:100]!r} to 'get', which is not a JSON object ({e})",
                             wait=False) from None
        if not isinstance(names, dict):
            raise self._fail(f"replied {printed[:100]!r} to 'get', which is not a JSON object", wait=False)
        order = list(names)
        missing = [n for n in self._outputs if n not in names]
        if missing:
            raise self._fail(f"runs an image without the outputs {', '.join(missing[:5])} of the program",
                             wait=False)
        self._index = {n: i for i, n in enumerate(order)}
        # Outputs the program does not know are decoded as ints and never read.
        self._codes = "".join(_CODES[self._outputs.get(n, "int")] for n in order)
        self._unpack_all = struct.Struct(">" + self._codes).unpack

    def _payload(self, line: bytes, request: str) -> str:
        """What follows 'ok' in a reply; an 'error: ' reply or anything else is an error."""
        if line == b"ok":
            return ""
        if line.startswith(b"ok "):
            return line[3:].decode(errors="replace")
        if line.startswith(b"error: "):
            # The tracer checks every request it makes: a refusal means the
            # runner and the program disagree, and nothing is known to work.
            raise self._fail(f"rejected {request!r}: {line[7:].decode(errors='replace')}", wait=False)
        raise self._fail(f"replied {line[:100]!r} to {request!r}, which is not 'ok ...' or 'error: ...'",
                         wait=False)

    def _bits(self, text: str, codes: str, request: str) -> Tuple[Any, ...]:
        """Hex 32-bit patterns (one per struct code) -> Python numbers."""
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = b""
        if len(raw) != 4 * len(codes):
            raise self._fail(f"replied {text[:100]!r} to {request!r}, expected {len(codes)} hex values of "
                             "8 digits", wait=False)
        return struct.unpack(">" + codes, raw)

    def start(self) -> None:
        """Waits for the runner to load its image (errors of a bad image show here)."""
        if not self._started:
            self._exchange(b"", 0)

    def _set_line(self) -> bytes:
        if not self._pending:
            return b""
        line = "set " + " ".join(self._pending.values()) + "\n"
        self._pending.clear()
        return line.encode()

    # -- Runner

    def writer(self, name: str, dtype: str) -> Callable[[Any], None]:
        pending, prefix, pack_be = self._pending, name + " ", _BE_F32.pack
        if dtype == "float":
            def write_float(x: Any) -> None:
                if type(x) is float:
                    try:
                        pending[name] = prefix + "#" + pack_be(x).hex()
                        return
                    except OverflowError:
                        pass
                pending[name] = prefix + _wire_input("float", name, x)
            return write_float

        def write(x: Any) -> None:
            pending[name] = prefix + _wire_input(dtype, name, x)
        return write

    def bulk_writer(self, names: Sequence[str], dtypes: Sequence[str]) -> Optional[Callable[[Sequence[Any]], bool]]:
        # Containers of float inputs: array('f') rounds them all to binary32
        # in one call; plain numbers only. A number beyond binary32 goes to
        # the checked path, which refuses it.
        if not names or any(d != "float" for d in dtypes):
            return None
        pending, count, plain, keys = self._pending, len(names), frozenset((float, int)), tuple(names)
        prefixes = [n + " " for n in names]

        def write_all(xs: Sequence[Any]) -> bool:
            if len(xs) != count or not plain.issuperset(map(type, xs)):
                return False
            try:
                patterns = _float_patterns(xs)
            except OverflowError:
                return False
            pending.update(zip(keys, map(str.__add__, prefixes, patterns)))
            return True
        return write_all

    def reader(self, name: str, dtype: str) -> Callable[[], Any]:
        # Positions are known after the greeting (checked there to cover
        # every output of the program), which need not have arrived yet.
        if dtype == "bool":
            return lambda: self._values[self._index[name]] != 0
        return lambda: self._values[self._index[name]]

    def run(self, n: int) -> None:
        # One round trip: the writes, the runs, the outputs. Many runs go in
        # chunks, one request each, so that the runner answers regularly
        # (the timeout measures silence, not the length of a run).
        while n > _RUN_CHUNK:
            request = self._set_line()
            lines = self._exchange(request + f"run {_RUN_CHUNK}\n".encode(), 2 if request else 1)
            for line, kind in zip(lines, ("set", "run") if request else ("run",)):
                self._payload(line, kind)
            n -= _RUN_CHUNK
        tail = b"run 1\nbits\n" if n == 1 else f"run {n}\nbits\n".encode()
        pending = self._pending
        if pending:
            request = ("set " + " ".join(pending.values()) + "\n").encode() + tail
            pending.clear()
            lines = self._exchange(request, 3)
            if lines[0] != b"ok":
                self._payload(lines[0], "set")
        else:
            lines = self._exchange(tail, 2)
        if lines[-2] != b"ok":
            self._payload(lines[-2], "run")
        last = lines[-1]
        try:
            if last[:3] != b"ok ":
                raise ValueError("not ok")
            self._values = self._unpack_all(bytes.fromhex(last[3:].decode()))
        except (ValueError, struct.error):
            # Outputs-free images reply a bare "ok"; anything else is an error.
            self._values = self._bits(self._payload(last, "bits"), self._codes, "bits")

    def batch(self, periods: Sequence[Writes], reads: Reads) -> List[Tuple[Any, ...]]:
        # Every value is converted (and so checked) before anything is sent;
        # the floats of a container at once, rounded to binary32 by array('f').
        texts = []
        for writes in periods:
            parts = []
            for names, dtype, x in writes:
                if names.__class__ is tuple:
                    prefixes = self._prefixes.get(names)
                    if prefixes is None:
                        prefixes = self._prefixes[names] = [n + " " for n in names]
                    patterns = None
                    if dtype == "float" and _ONLY_FLOAT.issuperset(map(type, x)):
                        try:
                            patterns = _float_patterns(x)
                        except OverflowError:
                            pass  # the checked path below names the input
                    if patterns is not None:
                        parts.append(" ".join(map(str.__add__, prefixes, patterns)))
                    else:
                        parts.append(" ".join([p + _wire_input(dtype, n, v) for p, n, v in zip(prefixes, names, x)]))
                elif dtype == "float" and x.__class__ is float:
                    try:
                        parts.append(names + " #" + _BE_F32.pack(x).hex())
                    except OverflowError:
                        parts.append(names + " " + _wire_input(dtype, names, x))
                else:
                    parts.append(names + " " + _wire_input(dtype, names, x))
            texts.append(" ".join(parts))
        head = "batch" + "".join(f" {name}" for name, _ in reads) + " |"
        if len(head) >= _LINE_BUDGET:
            raise ValueError("run_batch(): too many values to read per period for one request")
        request = self._set_line()
        kinds = ["set"] if request else []
        chunks: List[int] = []                         # periods per batch request
        line, count = head, 0
        for t in texts:
            part = f" {t} |" if t else " |"
            if count and len(line) + len(part) > _LINE_BUDGET:
                request += line[:-2].encode() + b"\n"   # a '|' starts a period: drop the last
                chunks.append(count)
                line, count = head, 0
            line += part
            count += 1
        if count:
            request += line[:-2].encode() + b"\n"
            chunks.append(count)
        kinds += ["batch"] * len(chunks)
        lines = self._exchange(request + b"bits\n", len(kinds) + 1)
        codes = "".join(_CODES[d] for _, d in reads)
        flat: List[Any] = []
        chunk_sizes = iter(chunks)
        for line_b, kind in zip(lines, kinds):
            payload = self._payload(line_b, kind)
            if kind == "batch":
                flat.extend(self._bits(payload, codes * next(chunk_sizes), "batch"))
        self._values = self._bits(self._payload(lines[-1], "bits"), self._codes, "bits")
        return _rows(tuple(flat), reads, len(periods))

    def columns(self, writes: Sequence[Tuple[str, str]], bits: bytes, periods: int,
                reads: Reads) -> List[List[Any]]:
        # One 'columns' request per chunk of periods, each one word of hex
        # patterns (most significant digit first, hence the byte swap of
        # the little-endian columns), all pipelined in one exchange.
        if len(bits) != 4 * periods * len(writes):
            raise ValueError(f"columns(): {len(bits)} bytes for {periods} periods of {len(writes)} inputs")
        if periods == 0:
            return [[] for _ in reads]
        words = array.array("I")
        words.frombytes(bits)
        if sys.byteorder == "little":
            words.byteswap()
        head = f" {' '.join(name for name, _ in reads)} | {' '.join(name for name, _ in writes)} | "
        per = max(1, min(_MAX_COLUMN_PERIODS, (_LINE_BUDGET - len(head) - 16) // (8 * max(len(writes), 1))))
        if len(head) + 16 + 8 * len(writes) >= _LINE_BUDGET:
            raise ValueError("run_batch(): too many inputs and outputs for one request")
        pending = self._set_line()
        request = pending
        chunks = []
        for start in range(0, periods, per):
            stop = min(periods, start + per)
            hexed = "".join(words[i * periods + start:i * periods + stop].tobytes().hex()
                            for i in range(len(writes)))
            request += f"columns {stop - start}{head}{hexed}\n".encode()
            chunks.append(stop - start)
        lines = self._exchange(request + b"bits\n", (1 if pending else 0) + len(chunks) + 1)
        if pending:
            self._payload(lines[0], "set")
        replies = lines[1 if pending else 0:-1]
        parts: List[List[List[Any]]] = []
        for line, count in zip(replies, chunks):
            text = self._payload(line, "columns")
            try:
                raw = bytes.fromhex(text)
            except ValueError:
                raw = b""
            if len(raw) != 4 * count * len(reads):
                raise self._fail(f"replied {text[:100]!r} to 'columns', expected {count * len(reads)} hex values "
                                 "of 8 digits", wait=False)
            parts.append(_columns_of(raw, reads, count, ">"))
        self._values = self._bits(self._payload(lines[-1], "bits"), self._codes, "bits")
        if len(parts) == 1:
            return parts[0]
        return [list(itertools.chain.from_iterable(part[i] for part in parts)) for i in range(len(reads))]

    def close(self) -> None:
        self._broken = self._broken or "it was closed"
        self._finalizer()


# ---- One process per run -------------------------------------------------------

class ProcessRunner(Runner):
    """coparun IMAGE --set ... [--repeat N] for every run, states carried by re-sending them.

    `wrap`, if given, turns coparun's arguments into the command line to run
    (the semihosting runner's are passed to qemu-system, not to a process);
    by default they follow `command`."""

    kind = "process"

    def __init__(self, command: Sequence[str], image_path: str, outputs: Dict[str, str], states: Sequence[str],
                 wrap: Optional[Callable[[List[str]], List[str]]] = None) -> None:
        self.command = list(command)
        self._wrap = wrap
        self.image_path = image_path
        self._outputs = outputs            # output name -> dtype
        self._states = list(states)
        self._written: Dict[str, Any] = {}  # input name -> --set text
        self._results: Dict[str, Any] = {}

    def writer(self, name: str, dtype: str) -> Callable[[Any], None]:
        written = self._written

        def write(x: Any) -> None:
            written[name] = format_input(dtype, name, x)
        return write

    def reader(self, name: str, dtype: str) -> Callable[[], Any]:
        return lambda: self._results[name]

    def run(self, n: int) -> None:
        args = [self.image_path]
        for name, text in self._written.items():
            args += ["--set", f"{name}={text}"]
        if n != 1:
            args += ["--repeat", str(n)]
        cmd = self._wrap(args) if self._wrap is not None else self.command + args
        timeout = _timeout()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout)
        except subprocess.TimeoutExpired:  # run() kills it; a program caught in a loop on a board ends here
            raise RuntimeError(f"{os.path.basename(cmd[0])} did not finish within {timeout:g} s "
                               "(COPAPY_RUNNER_TIMEOUT); killed it") from None
        if proc.returncode != 0:  # a bare-metal runner's message is on its console, stdout
            raise RuntimeError(f"{os.path.basename(cmd[0])} failed ({_describe_exit(proc.returncode)}):\n"
                               f"{proc.stderr.strip() or proc.stdout.strip()}")
        try:
            # Numbers as their text: float("-0") keeps the sign that json's int parsing would drop.
            printed = json.loads(proc.stdout, parse_int=str, parse_float=str)
        except json.JSONDecodeError as e:
            raise RuntimeError(f"cannot parse the runner's output as JSON ({e}): {proc.stdout[:200]!r}") from None
        if not isinstance(printed, dict):
            raise RuntimeError(f"the runner printed {type(printed).__name__}, expected a JSON object")
        results: Dict[str, Any] = {}
        for name, dtype in self._outputs.items():
            if name not in printed:
                raise RuntimeError(f"the runner's output lacks {name!r}")
            results[name] = parse_output(dtype, printed[name], name)
        self._results = results
        for name in self._states:
            self._written[name] = printed[name]  # the next run starts from the new state

    def batch(self, periods: Sequence[Writes], reads: Reads) -> List[Tuple[Any, ...]]:
        texts = [[(name, format_input(dtype, name, x)) for name, dtype, x in _expand(writes)]
                 for writes in periods]          # everything checked before the first run
        rows = []
        for writes in texts:
            for name, text in writes:
                self._written[name] = text
            self.run(1)
            rows.append(tuple(self._results[name] for name, _ in reads))
        return rows


class SemihostRunner(ProcessRunner):
    """A ProcessRunner on the target's bare-metal machine (Target(runner="semihost")):
    every run boots coparun built as firmware, `wrap` giving the qemu-system command."""

    kind = "semihost"


def runtime_search_dirs(prefixes: Sequence[Path], extra: Sequence[Path] = ()) -> List[Path]:
    """Where libcopapy-runtime.so may be: `extra`, then PREFIX/lib (and the
    multiarch and lib64 variants, which cmake --install may choose) of each prefix."""
    dirs = list(extra)
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    for p in prefixes:
        dirs.append(p / "lib")
        if multiarch:
            dirs.append(p / "lib" / multiarch)
        dirs.append(p / "lib64")
    return dirs

