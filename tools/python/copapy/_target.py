"""Compiling and running traced programs with copapy-cc and coparun."""
from __future__ import annotations

import json
import numbers
import os
import platform
import re
import shutil
import struct
import subprocess
import tempfile
import warnings
import weakref
from pathlib import Path
from typing import (TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple,
                    TypeVar, Union, overload)

from ._array import ArrayBase, nested_to_flat
from ._dag import Dag, flatten
from ._runner import (RUNNER_KINDS, InProcessRunner, ProcessRunner, Runner, SemihostRunner, ServeRunner, check_input,
                      format_input, load_runtime_library, parse_output, runtime_search_dirs)
from ._value import INT_MAX, INT_MIN, Node, alive_nodes, format_range, node_repr, value

__all__ = ["Target", "find_tool", "known_targets", "resolve_target"]

A = TypeVar("A", bound=ArrayBase[Any])

if TYPE_CHECKING:
    from ._arrays import array

_PACKAGE_DIR = Path(__file__).resolve().parent
# tools/python/copapy/../../../build/bin: the tools of the checkout this package lives in.
_CHECKOUT_BIN = _PACKAGE_DIR.parent.parent.parent / "build" / "bin"


def _install_bins() -> Tuple[Path, ...]:
    """PREFIX/bin of an installed tracer: PREFIX/share/copapy-cc/python/copapy
    (cmake --install) or PREFIX/lib/pythonX.Y/site-packages/copapy (pip)."""
    p = _PACKAGE_DIR.parents
    if len(p) > 3 and p[0].name == "python" and p[1].name == "copapy-cc" and p[2].name == "share":
        return (p[3] / "bin",)
    if len(p) > 3 and p[0].name in ("site-packages", "dist-packages"):
        return (p[3] / "bin",)
    return ()


_INSTALL_BINS = _install_bins()

# platform.machine() -> canonical target the host runs natively.
_HOST_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64",
                  "armv7l": "armv7", "riscv64": "riscv64", "i686": "x86", "i386": "x86",
                  "armv6l": "armv6"}

# Canonical target -> (qemu user-mode emulator, runner built for that target,
# environment variable that may name the runner).
_AARCH64_RUNNER = ("qemu-aarch64", "coparun-aarch64", "COPAPY_RUN_AARCH64")
_ARMHF_RUNNER = ("qemu-arm", "coparun-armhf", "COPAPY_RUN_ARMHF")
_RISCV64_RUNNER = ("qemu-riscv64", "coparun-riscv64", "COPAPY_RUN_RISCV64")
_X86_RUNNER = ("qemu-i386", "coparun-x86", "COPAPY_RUN_X86")
_ARMV6_RUNNER = ("qemu-arm", "coparun-armv6", "COPAPY_RUN_ARMV6")
_EMULATED_RUNNERS = {"aarch64": _AARCH64_RUNNER, "armv7": _ARMHF_RUNNER, "thumbv7": _ARMHF_RUNNER,
                     "thumbv7em": _ARMHF_RUNNER, "riscv64": _RISCV64_RUNNER,
                     "x86": _X86_RUNNER, "armv6": _ARMV6_RUNNER}
# Options for the emulator: armv6 code runs on qemu's model of that very CPU,
# so an ARMv7 instruction in an image fails the tests instead of passing.
_EMULATOR_ARGS = {"armv6": ["-cpu", "arm1176"]}

# Bare-metal machines (Target(runner="semihost")): canonical target ->
# (qemu system emulator and its machine options, the runner firmware built
# for it by tools/coparun/CMakeLists.txt, environment variable that may name
# it, Debian package of the emulator). A target with a machine but no
# user-mode runner (riscv32) runs there with every runner kind.
_SEMIHOST_MACHINES = {
    "thumbv7em": (["qemu-system-arm", "-M", "mps2-an386"], "coparun-semihost-thumbv7em.elf",
                  "COPAPY_RUN_SEMIHOST_THUMBV7EM", "qemu-system-arm"),
    "riscv32": (["qemu-system-riscv32", "-M", "virt", "-bios", "none"], "coparun-semihost-riscv32.elf",
                "COPAPY_RUN_SEMIHOST_RISCV32", "qemu-system-misc"),
}


def _beside_host_runner() -> Tuple[Path, ...]:
    """Where to look first for a cross runner or runner firmware: next to the
    host runner, when COPAPY_RUN names one."""
    host_runner = os.environ.get("COPAPY_RUN")
    return (Path(host_runner).parent,) if host_runner else ()


def _semihost_command(target: str) -> Callable[[List[str]], List[str]]:
    """For a target with a bare-metal machine: what turns coparun's arguments
    into the qemu-system command line that boots the runner firmware with
    them (semihosting's command line; QEMU's option syntax doubles commas)."""
    if target not in _SEMIHOST_MACHINES:
        raise RuntimeError(f"runner 'semihost': no bare-metal machine for target {target!r} "
                           f"(there is one for {', '.join(sorted(_SEMIHOST_MACHINES))})")
    machine, firmware, env_var, package = _SEMIHOST_MACHINES[target]
    found = shutil.which(machine[0])
    if found is None:
        raise FileNotFoundError(f"cannot find {machine[0]} on PATH (needed to run {target} images on the bare-metal "
                                f"machine; Debian package {package})")
    qemu: str = found
    elf = find_tool(firmware, env_var, _beside_host_runner())

    # The arguments go into a file next to the image (`coparun @FILE`):
    # picolibc's semihosting start-up takes a command line of a few hundred
    # bytes only. The firmware's console (its stdout and stderr alike) is
    # QEMU's stdout, through a chardev: without one QEMU writes it to stderr.
    def wrap(args: List[str]) -> List[str]:
        if any("\n" in a for a in args):
            raise ValueError("runner 'semihost': an argument holds a newline")
        arg_file = args[0] + ".args"
        if any(c.isspace() for c in arg_file):  # the firmware's start-up splits its command line at blanks
            raise ValueError(f"runner 'semihost': the path {arg_file!r} has a blank, which semihosting's command "
                             "line cannot carry; put the image (for a Target: TMPDIR) in a directory without one")
        with open(arg_file, "w", encoding="utf-8") as f:
            f.write("\n".join(args) + "\n")
        config = f"enable=on,target=native,chardev=cpsh,arg=@{arg_file.replace(',', ',,')}"
        return [qemu, *machine[1:], "-nographic", "-monitor", "none", "-serial", "null", "-chardev", "stdio,id=cpsh",
                "-semihosting-config", config, "-kernel", elf]
    return wrap

# What `-O` levels the optimization= argument accepts. The original project's
# levels are gcc's for its stencils ("O3" by default); ours are the compiler's
# passes, -O2 being the highest, so "O3" means -O2.
_OPT_LEVELS = {0: "0", 1: "1", 2: "2", 3: "2"}


class CompileWarning(UserWarning):
    """What copapy-cc warns about while compiling a Target's program: above all
    the value-range analysis' findings ("model.py:42: node 17 ('floordiv'):
    divisor in [-2, 3] includes 0"), which name the Python line."""


_WARNING_PREFIX = "copapy-cc: warning: "


_PLACE = re.compile(r"(?P<file>[^:]+\.py):(?P<line>\d+): (?P<what>.*)\Z")


def _forward_warnings(stderr: str) -> None:
    """copapy-cc's warnings as Python warnings, so that a Target's user sees
    them too: one that names a Python line ("model.py:42: ...") is issued at
    that line, like any warning of the user's code; others at the caller."""
    for line in stderr.splitlines():
        if not line.startswith(_WARNING_PREFIX):
            continue
        text = line[len(_WARNING_PREFIX):]
        place = _PLACE.match(text)
        if place:
            warnings.warn_explicit(place["what"], CompileWarning, place["file"], int(place["line"]))
        else:
            warnings.warn(text, CompileWarning, stacklevel=3)


def _host_target() -> Optional[str]:
    return _HOST_MACHINES.get(platform.machine().lower())


def find_tool(name: str, env_var: str, extra_dirs: Tuple[Path, ...] = ()) -> str:
    """The path of tool `name`: from environment variable `env_var` (a full
    path), else from `extra_dirs`, else from the checkout's build/bin, else
    from the installation this package belongs to (PREFIX/bin), else from
    PATH. Raises FileNotFoundError naming everything tried."""
    configured = os.environ.get(env_var)
    if configured:
        if os.path.isfile(configured) and os.access(configured, os.X_OK):
            return configured
        raise FileNotFoundError(f"{env_var}={configured} is not an executable file")
    tried = [f"${env_var} (not set)"]
    for d in (*extra_dirs, _CHECKOUT_BIN, *_INSTALL_BINS):
        candidate = d / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
        tried.append(str(candidate))
    found = shutil.which(name)
    if found:
        return found
    tried.append(f"{name} on PATH")
    raise FileNotFoundError(f"cannot find {name}; tried: " + ", ".join(tried) +
                            " (build the checkout with tools/quickstart.sh or set " + env_var + ")")


_known: Dict[str, List[Dict[str, Any]]] = {}


def known_targets() -> List[Dict[str, Any]]:
    """The compiler's own target table (`copapy-cc targets --json`), read once per process and compiler."""
    cc = find_tool("copapy-cc", "COPAPY_CC")
    table = _known.get(cc)
    if table is None:
        proc = subprocess.run([cc, "targets", "--json"], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{cc} targets --json failed (exit status {proc.returncode}): {proc.stderr.strip()}")
        try:
            table = json.loads(proc.stdout)
            if not isinstance(table, list) or not all(isinstance(t, dict) and "name" in t for t in table):
                raise ValueError("not a list of targets")
        except ValueError as e:
            raise RuntimeError(f"cannot read the target table printed by {cc}: {e}") from None
        _known[cc] = table
    return table


def resolve_target(arch: Optional[str]) -> str:
    """The canonical name of target `arch` (a name or alias, any case; None or
    "native" for the host), checked against the compiler's table."""
    if arch is not None and not isinstance(arch, str):
        raise TypeError(f"the target must be a name (str), not {type(arch).__name__}")
    table = known_targets()
    if arch is None or arch.lower() == "native":
        for t in table:
            if t.get("host"):
                return str(t["name"])
        raise RuntimeError("copapy-cc reports no host target")
    wanted = arch.lower()
    for t in table:
        if wanted == str(t["name"]).lower() or wanted in (str(a).lower() for a in t.get("aliases", [])):
            return str(t["name"])
    listing = ", ".join(t["name"] + (f" ({', '.join(t['aliases'])})" if t.get("aliases") else "") for t in table)
    raise ValueError(f"unknown target {arch!r}: this copapy-cc knows {listing}, and 'native' for the host")


# An input named in a message, as check_input() and the runners write it.
_AUTO_NAME = re.compile(r"input '(in_[0-9]+)'")


def _runner_command(target: str) -> List[str]:
    """The command line prefix that runs an image built for `target`: coparun
    itself for the host, else the target's runner under qemu user mode."""
    if target == _host_target():
        return [find_tool("coparun", "COPAPY_RUN")]
    if target not in _EMULATED_RUNNERS:
        raise RuntimeError(f"no way to run target {target!r} on this {platform.machine()} host "
                           f"(known: {', '.join(sorted(_EMULATED_RUNNERS))})")
    emulator, runner, env_var = _EMULATED_RUNNERS[target]
    qemu = shutil.which(emulator)
    if qemu is None:
        raise FileNotFoundError(f"cannot find {emulator} on PATH (needed to run {target} images; "
                                "Debian package qemu-user)")
    return [qemu, *_EMULATOR_ARGS.get(target, []), find_tool(runner, env_var, _beside_host_runner())]


def _command_line(target: str, args: List[str]) -> List[str]:
    """The command that runs coparun with `args` (the image first) for
    `target`: the runner (under qemu user mode), or for a target that has
    only a bare-metal machine, the semihosting firmware on it."""
    if target in _SEMIHOST_MACHINES and target not in _EMULATED_RUNNERS and target != _host_target():
        return _semihost_command(target)(list(args))
    return [*_runner_command(target), *args]


def _bind_arguments(bind: Optional[Mapping[Any, Any]], dag: Dag) -> List[str]:
    """compile(bind=...) as copapy-cc's --bind arguments: each key an input or
    output (a traced value or its name), each value an address or (address,
    width). The compiler checks names, alignment and overlaps; this checks
    the Python types and turns values into the names the DAG gives them."""
    if bind is None:
        return []
    if not isinstance(bind, Mapping):
        raise TypeError(f"bind must be a mapping {{input or output: address or (address, width)}}, "
                        f"not {type(bind).__name__}")
    args: List[str] = []
    for key, where in bind.items():
        if isinstance(key, str):
            name = key
        elif isinstance(key, value):
            found = dag.names.get(key._node) or dag.output_names.get(key._node)
            if found is None:
                raise ValueError(f"bind: {node_repr(key._node)} is neither an input nor an output of the compiled "
                                 "program (pass it to compile() or give it a name)")
            name = found
        else:
            raise TypeError(f"bind: a key is an input or output (a traced value or its name), not "
                            f"{type(key).__name__}")
        width = 32
        if isinstance(where, tuple):
            if len(where) != 2:
                raise TypeError(f"bind[{name!r}]: expected an address or (address, width), not a tuple of {len(where)}")
            where, width = where
        for what, x in (("address", where), ("width", width)):
            if isinstance(x, bool) or not isinstance(x, numbers.Integral):
                raise TypeError(f"bind[{name!r}]: the {what} must be an int, not {type(x).__name__}")
        if where < 0:
            raise ValueError(f"bind[{name!r}]: the address must not be negative ({where})")
        args += ["--bind", f"{name}={int(where):#x}:{int(width)}"]
    return args


def _format_input(node: Node, name: str, x: Any) -> str:
    """`x` as coparun's --set expects it for an input of node's type."""
    return format_input(node.dtype, name, x)


_parse_output = parse_output


# Column packing for run_batch(): the Python types packed as they are per
# input dtype, and the struct codes of the 4-byte values (bools as int 0/1).
_COLUMN_TYPES = {"float": frozenset((float, int)), "int": frozenset((int,)), "bool": frozenset((bool,))}
_CODES = {"float": "f", "int": "i", "bool": "i"}


def _pack_column(dtype: str, col: Sequence[Any]) -> Optional[bytes]:
    """A column of plain numbers of an input's dtype as 4-byte little-endian
    values, converted in one struct call; None when the column needs
    write_value()'s checks instead (other types, values beyond the type)."""
    if not _COLUMN_TYPES[dtype].issuperset(map(type, col)):
        return None
    try:
        return struct.pack(f"<{len(col)}{_CODES[dtype]}", *col)
    except (OverflowError, struct.error):
        return None


def _in_range(node: Node, name: str, x: Any) -> Any:
    """`x` (checked by check_input) if it lies in the declared range of input
    or state `node`, else a ValueError naming both: the compiler assumed the
    range (docs/dag-format.md, "Declared ranges"), so nothing outside it may
    reach the image."""
    assert node.range is not None, "only inputs with a declared range are checked"
    lo, hi = node.range
    if not lo <= x <= hi:  # NaN is outside every range
        raise ValueError(f"value {x!r} for {node.op} {name!r} is outside its declared range {format_range(node.range)}")
    return x


def _column_in_range(node: Node, bits: bytes) -> bool:
    """Whether every value of a packed column (see _pack_column) lies in the
    declared range of `node` (a column that does not goes through the
    checks per period, which name the period)."""
    assert node.range is not None, "only inputs with a declared range are checked"
    lo, hi = node.range
    values = struct.unpack(f"<{len(bits) // 4}{_CODES[node.dtype]}", bits)
    return all(lo <= x <= hi for x in values)


def _runtime_dirs() -> List[Path]:
    """Where the in-process runner's library may be: next to the runner that
    $COPAPY_RUN names (its ../lib), the checkout's build/lib, PREFIX/lib of
    the installation this package belongs to."""
    extra = []
    host_runner = os.environ.get("COPAPY_RUN")
    if host_runner:
        extra.append(Path(host_runner).resolve().parent.parent / "lib")
    extra.append(_CHECKOUT_BIN.parent / "lib")
    return runtime_search_dirs([b.parent for b in _INSTALL_BINS], extra)


def _runner_kind(requested: Optional[str]) -> str:
    """The runner asked for by Target(runner=...), else by $COPAPY_RUNNER, else "auto"."""
    source = "runner"
    if requested is None:
        requested = os.environ.get("COPAPY_RUNNER") or "auto"
        source = "COPAPY_RUNNER"
    if not isinstance(requested, str) or requested.lower() not in RUNNER_KINDS:
        raise ValueError(f"{source} must be one of {', '.join(RUNNER_KINDS)}, not {requested!r}")
    return requested.lower()


def _optimization_flag(level: Any) -> Optional[str]:
    """-O level for copapy-cc from 0..3, "O0".."O3" or "-O2" (None: the compiler's default)."""
    if level is None:
        return None
    text = str(level)
    if text[:2] in ("-O", "-o"):
        text = text[1:]  # the "-O2" spelling; a negative number stays negative
    if text[:1] in ("O", "o"):
        text = text[1:]
    if text.isdigit() and int(text) in _OPT_LEVELS:
        return _OPT_LEVELS[int(text)]
    raise ValueError(f"optimization must be 0, 1, 2 (or 'O0'..'O3'; 'O3' means -O2), not {level!r}")


_ONLY_FLOAT, _ONLY_INT = frozenset((float,)), frozenset((int,))
_ARRAY: List[Any] = []


def _array_class() -> Any:
    """cp.array, imported on first use (the module imports this one)."""
    if not _ARRAY:
        from ._arrays import array
        _ARRAY.append(array)
    return _ARRAY[0]


# Target.save() kinds -> copapy-cc --emit kind and default file suffix.
_SAVE_KINDS = {"image": ".cpimg", "c-header": ".h", "listing": ".lst", "manifest": ".manifest.json",
               "dot": ".dot", "c": ".c", "dag": ".json"}


class Target:
    """A machine to compile for and run on: the host (arch None or "native") or
    a target as copapy-cc names it (`copapy-cc targets`: x86_64, aarch64,
    armv7, thumbv7, thumbv7em, or any alias it lists, such as arm64,
    armv7thumb, armv7mthumb; names are case-insensitive and checked when the
    Target is made).

    With arch None the environment variable COPAPY_TARGET, if set, picks the
    target, so that unchanged scripts can be run for another architecture.

    `optimization` is copapy-cc's -O level (0, 1, 2; "O3", the original
    project's default, means 2); None uses the compiler's default (-O2).

    `runner` says how compiled programs run (None: $COPAPY_RUNNER, else "auto"):
      "auto"       host images in this process (libcopapy-runtime.so, found
                   like the tools, or through $COPAPY_RUNTIME_LIB; without it
                   as "serve"), other targets as "serve";
      "inprocess"  the same, but a missing library is an error;
      "serve"      one `coparun IMAGE --serve` per compile(), answering every
                   run() over a pipe; for other targets under qemu user mode
                   (qemu-aarch64 or qemu-arm with build/bin/coparun-aarch64 or
                   coparun-armhf);
      "process"    one coparun process per run(), inputs and states passed
                   on its command line;
      "semihost"   the same on the target's bare-metal machine: every run()
                   boots coparun built as firmware (thumbv7em: a Cortex-M4F,
                   qemu-system-arm -M mps2-an386) with semihosting for its
                   command line, the image file and its output; riscv32,
                   which has no Linux runner, runs this way whatever the
                   runner (qemu-system-riscv32 -M virt).
    All give the same results. The loaded program (the mapping, or the
    process) lives until the next compile(), close() or the Target's end. A
    runner process that dies, replies nonsense or stays silent for
    $COPAPY_RUNNER_TIMEOUT seconds (default 120) raises RuntimeError.

    Runs: run(n) runs n periods; run_batch(inputs, read) runs one period per
    mapping of inputs and returns what read_value(read) gives after each.
    """

    def __init__(self, arch: Optional[str] = None, optimization: Any = None, runner: Optional[str] = None) -> None:
        requested = arch if arch is not None else (os.environ.get("COPAPY_TARGET") or None)
        self.arch: str = resolve_target(requested)
        self.optimization = _optimization_flag(optimization)
        self.runner: str = _runner_kind(runner)
        self._dir: Optional[str] = None
        self._compiles = 0
        self._dag_path: Optional[str] = None
        self._image: Optional[str] = None
        self._outputs: Dict[Node, Tuple[str, str]] = {}   # node -> (output name, dtype)
        self._inputs: Dict[Node, str] = {}                # input node -> input name
        self._labels: Dict[str, str] = {}                 # automatic input name -> description
        self._states: Dict[Node, str] = {}
        self._program: Optional[Tuple[str, Dict[str, str], List[str]]] = None  # image, outputs, states
        self._runner: Optional[Runner] = None             # made by compile() on the host, else on first use
        self._writers: Dict[Node, Callable[[Any], None]] = {}  # made on first use, per compile
        self._readers: Dict[Node, Callable[[], Any]] = {}
        self._bulk: Dict[int, Tuple[Any, Any]] = {}       # id(container) -> (container, bulk writer or None)
        self._elements: Dict[int, Tuple[Any, Any]] = {}   # id(container) -> (container, _element_inputs())
        self._ranged: Set[Node] = set()                   # inputs and states with a declared range
        self._bind_args: List[str] = []                   # copapy-cc --bind arguments of the compiled program
        self._ran = False

    def __repr__(self) -> str:
        return f"Target({self.arch!r})"

    def __enter__(self) -> "Target":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _workdir(self) -> str:
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="copapy-")
            weakref.finalize(self, shutil.rmtree, self._dir, True)
        return self._dir

    def _build_command(self, dag_path: str, bind_args: Sequence[str] = ()) -> List[str]:
        cmd = [find_tool("copapy-cc", "COPAPY_CC"), "build", dag_path, "-t", self.arch, *bind_args]
        if self.optimization is not None:
            cmd += ["-O", self.optimization]
        return cmd

    def _make_runner(self, image: str, outputs: Dict[str, str], states: List[str]) -> Runner:
        kind = self.runner
        if kind in ("auto", "inprocess") and self.arch == _host_target():
            try:
                lib, _ = load_runtime_library("COPAPY_RUNTIME_LIB", _runtime_dirs())
            except FileNotFoundError:
                # Without the library "auto" still works, one process per compile.
                if kind == "inprocess" or os.environ.get("COPAPY_RUNTIME_LIB"):
                    raise
            else:
                with open(image, "rb") as f:
                    return InProcessRunner(lib, f.read(), image)
        if kind == "semihost" or (self.arch in _SEMIHOST_MACHINES and self.arch not in _EMULATED_RUNNERS):
            return SemihostRunner([], image, outputs, states, wrap=_semihost_command(self.arch))
        if kind == "process":
            return ProcessRunner(_runner_command(self.arch), image, outputs, states)
        return ServeRunner(_runner_command(self.arch), image, outputs)

    def compile(self, *values: Any, locations: bool = True, bind: Optional[Mapping[Any, Any]] = None) -> None:
        """Compiles the program computing `values`: values, vectors, tensors,
        quaternions, or any iterable of them (lists, tuples, generators; one
        level deep). Python numbers among them are ignored.

        `locations` (as for cp.export) says whether the DAG given to the
        compiler records the line of Python that made each node, which its
        diagnostics, listings and manifests then name.

        Besides the given values, every value that is still referenced from
        Python and that the program computes becomes an output too, so that
        read_value() works on intermediate results as well.

        `bind` maps inputs and outputs (traced values, or their names) to
        device registers: {adc: 0x40001000, led: (0x40002000, 8)}, an
        address or (address, width in bits: 8, 16 or 32), as `copapy-cc
        build --bind`. The program then reads or writes those addresses
        itself, once per run; such a program runs only on its device:
        save() it (image or c-header, with the board's toolchain), run() refuses.

        The program replaces the one compiled before (whose image is released),
        with every input and state at its initial value.
        """
        if not isinstance(locations, bool):
            raise TypeError(f"locations must be True or False, not {locations!r}")
        items: List[Tuple[Optional[str], Any]] = []
        for v in values:
            if not isinstance(v, (ArrayBase, value, list, tuple)) and hasattr(v, "__iter__"):
                v = list(v)  # a generator or another iterable, one level deep
            flatten(v, None, items)
        dag = Dag([(None, x._node) for _, x in items if isinstance(x, value)], locations)
        for node in alive_nodes():
            if node in dag.ids:
                dag.add_output(None, node)

        # New file names per compile: the program compiled before keeps its
        # image until the new one has been built and loaded.
        workdir = self._workdir()
        self._compiles += 1
        stem = "program" if self._compiles == 1 else f"program-{self._compiles}"
        dag_path = os.path.join(workdir, stem + ".json")
        image = os.path.join(workdir, stem + ".cpimg")
        bind_args = _bind_arguments(bind, dag)
        dag.write(dag_path)
        proc = subprocess.run(self._build_command(dag_path, bind_args) + ["-o", image], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"copapy-cc failed (exit status {proc.returncode}):\n{proc.stderr.strip()}")
        _forward_warnings(proc.stderr)

        outputs = {node: (name, node.dtype) for node, name in dag.output_names.items()}
        states = {node: name for node, name in dag.names.items() if node.op == "state"}
        for node, name in states.items():
            outputs.setdefault(node, (name, node.dtype))  # states are always readable
        program = (image, {name: dtype for name, dtype in outputs.values()}, list(states.values()))
        # Host images are loaded now, so that compile() reports a bad one; a
        # runner process starts with the first run (a Target that only saves
        # images needs neither qemu nor the runners).
        runner = self._make_runner(*program) if self._loads_now() and not bind_args else None

        old = (self._runner, self._dag_path, self._image)
        self._dag_path = dag_path
        self._image = image
        self._bind_args = bind_args
        self._outputs = outputs
        self._inputs = {node: name for node, name in dag.names.items()}
        # Inputs and states with a declared range: writes to them are checked
        # against it, so they stay off the unchecked fast paths.
        self._ranged = {node for node in dag.names if node.range is not None}
        # What an error about an input the user never named says about it:
        # its automatic name alone ("in_3") would mean nothing to them.
        self._labels = {name: f"{node_repr(node)}, DAG node {dag.ids[node]}"
                        for node, name in dag.names.items() if node.name is None}
        self._states = states
        self._program = program
        self._runner = runner
        self._writers, self._readers, self._bulk, self._elements = {}, {}, {}, {}
        self._ran = False
        if old[0] is not None:
            old[0].close()
        for path in old[1:]:
            if path is not None:
                try:
                    os.remove(path)
                except OSError:
                    pass

    def close(self) -> None:
        """Releases the compiled program (its in-process image or its runner
        process); compile() again to run. Also done by `with cp.Target() as tg:`."""
        if self._runner is not None:
            self._runner.close()
        self._runner = None
        self._program = None
        self._writers, self._readers, self._bulk, self._elements = {}, {}, {}, {}
        self._ran = False

    def save(self, path: Union[str, "os.PathLike[str]"], kind: str = "image") -> None:
        """Writes an artifact of the compiled program to `path`: "image" (the
        .cpimg file), "c-header" (the image as a C array), "listing",
        "manifest", "dot", "c" (copapy-cc's --emit kinds) or "dag" (the DAG file)."""
        if self._image is None or self._dag_path is None:
            raise RuntimeError("nothing compiled: call compile() before save()")
        if kind not in _SAVE_KINDS:
            raise ValueError(f"unknown kind {kind!r}; known: {', '.join(_SAVE_KINDS)}")
        target = os.fspath(path)
        if kind == "image":
            shutil.copyfile(self._image, target)
            return
        if kind == "dag":
            shutil.copyfile(self._dag_path, target)
            return
        cmd = self._build_command(self._dag_path, self._bind_args) + ["--emit", f"{kind}={target}"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"copapy-cc failed (exit status {proc.returncode}):\n{proc.stderr.strip()}")

    # ---- Running

    def _loads_now(self) -> bool:
        return self.runner in ("auto", "inprocess") and self.arch == _host_target()

    def _active(self) -> Runner:
        runner = self._runner
        if runner is None:
            if self._program is None:
                raise RuntimeError("nothing to run: call compile() first")
            if self._bind_args:
                raise RuntimeError("this program has bound inputs or outputs (compile(bind=...)): it reads and writes "
                                   "device registers, so it runs only on its device; save() it for the firmware")
            runner = self._runner = self._make_runner(*self._program)
        return runner

    def run(self, n: int = 1) -> None:
        """Runs the compiled program n times (default once), with every input
        written by write_value() since compile() (inputs keep their values,
        states advance from run to run), and keeps the outputs of the last
        run for read_value()."""
        runner = self._runner or self._active()
        if n.__class__ is not int or n < 1:
            if isinstance(n, bool) or not isinstance(n, numbers.Integral):
                raise TypeError(f"run(n): n must be an int, not {type(n).__name__}")
            if n < 1:
                raise ValueError(f"run(n): n must be at least 1, not {n}")
            n = int(n)
        runner.run(n)
        self._ran = True

    def run_batch(self, inputs: Union[Iterable[Mapping[Any, Any]], Mapping[Any, Sequence[Any]]],
                  read: Any, periods: Optional[int] = None) -> List[Any]:
        """Runs one period per item of `inputs` and returns, for each, what
        read_value(read) returns after it: a list with one entry per period.

        `inputs` is either a sequence of periods, each a mapping {input:
        data}, or a mapping of columns {input: [data of period 0, data of
        period 1, ...]} (every column as long as the others; the number of
        periods is their length, or `periods`, which an empty mapping needs).
        Columns are the fast form: a column of plain numbers is converted at
        once and the runner gets every period in one call
        (tools/bench/python_runs.py).

        Each item is a mapping {input: data} written as write_value(input,
        data) before its period runs (inputs, states and containers of them);
        what a period does not write keeps its value, and states advance from
        period to period, exactly as with write_value() and run() in a loop.
        Every item is checked before the first period runs; afterwards
        read_value() sees the last period. On a served runner (other targets)
        the whole batch is one round trip for up to about 1 MB of requests.

            ys = tg.run_batch([{x: 0.5}, {x: 1.0}, {x: 1.5}], y)        # [y0, y1, y2]
            rows = tg.run_batch(({u: u_k, w: w_k} for u_k, w_k in data), [y, z])
            ys = tg.run_batch({x: [0.5, 1.0, 1.5]}, y)                # the same as columns
        """
        if isinstance(inputs, Mapping):
            return self._run_batch_columns(inputs, read, periods)
        if periods is not None:
            raise TypeError("run_batch(): periods= goes with a mapping of columns; a sequence of periods has "
                            "its own length")
        runner = self._active()
        period_writes: List[List[Tuple[Any, str, Any]]] = []
        names = self._inputs
        ranged = self._ranged
        for k, period in enumerate(inputs):
            if period.__class__ is not dict and not isinstance(period, Mapping):
                raise TypeError(f"run_batch(): period {k} must be a mapping {{input: data}} as write_value() "
                                f"takes them, not {type(period).__name__}")
            writes: List[Tuple[Any, str, Any]] = []
            try:
                for v, x in period.items():
                    node = getattr(v, "_node", None)
                    if x.__class__ is float and node is not None and node.dtype == "float" and node in names \
                            and node not in ranged:
                        writes.append((names[node], "float", x))  # the commonest case, inline
                    elif not self._plain_writes(v, x, writes):
                        checked: List[Tuple[Node, str, Any]] = []
                        self._collect(v, x, checked)
                        writes.extend((name, node.dtype, cx) for node, name, cx in checked)
            except (TypeError, ValueError, OverflowError) as e:
                raise self._relabel(type(e)(f"run_batch(): period {k}: {e}")) from None
            period_writes.append(writes)
        nodes, reads = self._read_plan(read)
        try:
            rows = runner.batch(period_writes, reads)
        except (TypeError, ValueError, OverflowError) as e:  # a value the fast path above let through
            raise self._relabel(type(e)(f"run_batch(): {e}")) from None
        if period_writes:
            self._ran = True
        if isinstance(read, value):
            return [row[0] for row in rows]
        if isinstance(read, (list, tuple)) and all(isinstance(v, value) for v in read):
            where = [nodes[v._node] for v in read]
            return [[row[i] for i in where] for row in rows]
        results = []
        for row in rows:
            results.append(self._read_tree(read, lambda v: row[nodes[v._node]] if isinstance(v, value) else v))
        return results

    def _read_plan(self, read: Any) -> Tuple[Dict[Node, int], List[Tuple[str, str]]]:
        """The values `read` names (checked as read_value() checks them),
        numbered in first-seen order, and their (output name, dtype) in that
        order, as a runner's batch reads them."""
        nodes: Dict[Node, int] = {}

        def record(v: Any) -> Any:
            if isinstance(v, value):
                self._output_entry(v)
                nodes.setdefault(v._node, len(nodes))
            return self._check_readable(v)
        self._read_tree(read, record)
        return nodes, [self._outputs[node] for node in nodes]

    def run_columns(self, columns: Mapping[Any, Sequence[Any]], read: Any, periods: Optional[int] = None) -> Any:
        """Runs one period per item of the columns {input: [data of period 0,
        data of period 1, ...]} (as run_batch() takes them) and returns the
        outputs as columns too: for a value `read`, the list of its values
        after each period; for a list or tuple of values, or a container, one
        such list per value (per element). The fastest way through a
        simulation: no Python step per period on either side.

            ys = tg.run_columns({x: xs}, y)               # ys[k]: y after period k
            ys, zs = tg.run_columns({u: us, w: ws}, [y, z])
        """
        targets = list(read.values) if isinstance(read, ArrayBase) else read
        if isinstance(targets, value):
            return self._run_columns(columns, [targets], periods, "run_columns()")[1][0]
        if not isinstance(targets, (list, tuple)) or not all(isinstance(v, value) for v in targets):
            raise TypeError("run_columns() reads a copapy value, a list or tuple of values or a container of "
                            f"values, not {type(read).__name__} (run_batch() reads nested structures)")
        return self._run_columns(columns, list(targets), periods, "run_columns()")[1]

    def _run_batch_columns(self, columns: Mapping[Any, Sequence[Any]], read: Any,
                           periods: Optional[int]) -> List[Any]:
        """run_batch() over a mapping of columns: run_columns() turned into one result per period."""
        if isinstance(read, value):
            return self._run_columns(columns, [read], periods, "run_batch()")[1][0]
        leaves: List[value[Any]] = []

        def collect(v: Any) -> Any:
            if isinstance(v, value):
                leaves.append(v)
            return v
        self._read_tree(read, collect)
        count, cols = self._run_columns(columns, leaves, periods, "run_batch()")
        if isinstance(read, (list, tuple)) and all(isinstance(v, value) for v in read):
            return list(map(list, zip(*cols))) if cols else [[] for _ in range(count)]
        where = {v._node: col for v, col in zip(leaves, cols)}
        return [self._read_tree(read, lambda v: where[v._node][k] if isinstance(v, value) else v)
                for k in range(count)]

    def _run_columns(self, columns: Mapping[Any, Sequence[Any]], read: List["value[Any]"],
                     periods: Optional[int], who: str) -> Tuple[int, List[List[Any]]]:
        """Runs the periods of `columns`; returns their number and, for each
        value of `read`, the list of its values after each period (a fresh
        list per value, even where `read` names one value twice)."""
        runner = self._active()
        if periods is not None and (periods.__class__ is not int or periods < 0):
            raise ValueError(f"{who}: periods must be a whole number >= 0, not {periods!r}")
        if periods is None and not columns:
            raise ValueError(f"{who}: no columns: say how many periods to run with periods=N")
        writes: List[Tuple[str, str]] = []
        parts: List[bytes] = []
        for v, col in columns.items():
            try:
                n = len(col)
            except TypeError:
                raise TypeError(f"{who}: the column of {v!r} must be a sequence with one item per period, "
                                f"not {type(col).__name__}") from None
            if periods is None:
                periods = n
            elif n != periods:
                raise ValueError(f"{who}: the column of {v!r} has {n} items for {periods} periods")
            node = getattr(v, "_node", None)
            name = self._inputs.get(node) if node is not None else None
            if name is not None and node is not None:
                bits = _pack_column(node.dtype, col)
                if bits is not None and (node not in self._ranged or _column_in_range(node, bits)):
                    writes.append((name, node.dtype))
                    parts.append(bits)
                    continue
            elif self._element_columns(v, col, writes, parts):
                continue
            # Anything else (containers, numbers that need a conversion or
            # have a wrong type): checked period by period as write_value()
            # checks them, then transposed.
            rows: List[List[Tuple[Node, str, Any]]] = []
            for k, x in enumerate(col):
                checked: List[Tuple[Node, str, Any]] = []
                try:
                    self._collect(v, x, checked)
                except (TypeError, ValueError, OverflowError) as e:
                    raise self._relabel(type(e)(f"{who}: period {k}: {e}")) from None
                rows.append(checked)
            if rows:
                for j, (element, element_name, _) in enumerate(rows[0]):
                    writes.append((element_name, element.dtype))
                    parts.append(struct.pack(f"<{n}{_CODES[element.dtype]}", *[r[j][2] for r in rows]))
        nodes, reads = self._read_plan(read)
        count = periods or 0
        cols = runner.columns(writes, b"".join(parts), count, reads)
        if count:
            self._ran = True
        seen: Set[int] = set()
        result = []
        for v in read:
            k = nodes[v._node]
            result.append(cols[k] if k not in seen else list(cols[k]))
            seen.add(k)
        return count, result

    def _element_columns(self, v: Any, col: Sequence[Any], writes: List[Tuple[str, str]],
                         parts: List[bytes]) -> bool:
        """The fast path of columns for a 1-D container of inputs of one dtype
        given a list or tuple of plain numbers per period: transposed and
        packed an element's column at a time. False (nothing appended) for
        anything else, which then goes through write_value()'s checks."""
        if not isinstance(v, ArrayBase) or not col:
            return False
        elements = self._element_inputs(v)  # None for elements with a declared range
        if elements is None:
            return False
        names, dtype = elements
        width = len(names)
        if not all(x.__class__ in (list, tuple) and len(x) == width for x in col):
            return False
        packed = [_pack_column(dtype, c) for c in zip(*col)]
        if any(b is None for b in packed):
            return False
        writes.extend((name, dtype) for name in names)
        parts.extend(b for b in packed if b is not None)
        return True

    def _plain_writes(self, v: Any, x: Any, out: List[Tuple[Any, str, Any]]) -> bool:
        """The fast path of run_batch(): appends (name, dtype, x) for an input
        or a 1-D container of inputs given numbers of exactly their type (a
        float for a float, an int32 for an int, True or False), which need no
        further checks. False (nothing appended) for anything else, which
        then goes through the checks of write_value()."""
        node = getattr(v, "_node", None)
        if node is not None:
            name = self._inputs.get(node)
            if name is None or node in self._ranged:
                return False
            dtype = node.dtype
            if (x.__class__ is float and dtype == "float") or (x is True or x is False) and dtype == "bool" or \
                    (x.__class__ is int and dtype == "int" and INT_MIN <= x <= INT_MAX):
                out.append((name, dtype, x))
                return True
            return False
        if not isinstance(v, ArrayBase) or x.__class__ not in (list, tuple):
            return False
        entry = self._elements.get(id(v))
        if entry is None or entry[0] is not v:
            entry = (v, self._element_inputs(v))
            if len(self._elements) > 1024:
                self._elements.clear()
            self._elements[id(v)] = entry
        elements = entry[1]
        if elements is None or len(x) != len(elements[0]):
            return False
        names, dtype = elements
        if dtype == "float":
            ok = _ONLY_FLOAT.issuperset(map(type, x))
        elif dtype == "int":
            ok = _ONLY_INT.issuperset(map(type, x)) and INT_MIN <= min(x) and max(x) <= INT_MAX
        else:
            ok = all(e is True or e is False for e in x)
        if ok:
            # A segment, which the runner writes without a step per value; a
            # copy, since the caller may refill the same list for every period.
            out.append((names, dtype, x if x.__class__ is tuple else tuple(x)))
        return ok

    def _element_inputs(self, v: ArrayBase[Any]) -> Optional[Tuple[Tuple[str, ...], str]]:
        """Input names and their common dtype for a 1-D container of inputs of
        one dtype without declared ranges, else None."""
        if len(v.shape) != 1 or not v.values:
            return None
        names = []
        for e in v.values:
            name = self._inputs.get(e._node) if isinstance(e, value) else None
            if name is None or e._node.dtype != v.values[0]._node.dtype or e._node in self._ranged:
                return None
            names.append(name)
        return tuple(names), v.values[0]._node.dtype

    # ---- Reading

    @overload
    def read_value(self, v: value[bool]) -> bool: ...
    @overload
    def read_value(self, v: value[int]) -> int: ...
    @overload
    def read_value(self, v: value[float]) -> float: ...
    @overload
    def read_value(self, v: "array") -> List[Any]: ...  # type: ignore[misc]
    @overload
    def read_value(self, v: A) -> A: ...
    @overload
    def read_value(self, v: Union[List[Any], Tuple[Any, ...]]) -> List[Any]: ...
    @overload
    def read_value(self, v: float) -> float: ...

    def read_value(self, v: Any) -> Any:
        """The value of `v` after the last run(): a Python float, int or bool
        for a value; for a vector, tensor or quaternion the same kind of
        container holding Python numbers; a list for a list or tuple. Python
        numbers are returned as they are."""
        node = getattr(v, "_node", None)
        if node is not None and self._ran:
            reader = self._readers.get(node)
            if reader is not None:
                return reader()
        return self._read_tree(v, self._read_scalar)

    def _read_tree(self, v: Any, scalar: Callable[[Any], Any]) -> Any:
        if isinstance(v, ArrayBase):
            if isinstance(v, _array_class()):
                return v.map(scalar).tolist()  # nested lists, as the original
            return v.map(scalar)
        if isinstance(v, (list, tuple)):
            return [self._read_tree(x, scalar) for x in v]
        return scalar(v)

    def _check_readable(self, v: Any) -> Any:
        if not isinstance(v, value):
            if isinstance(v, (bool, int, float)):
                return v
            raise TypeError(f"read_value() takes copapy values, vectors, tensors, quaternions or lists, "
                            f"not {type(v).__name__}")
        return None

    def _output_entry(self, v: value[Any]) -> Tuple[str, str]:
        if self._program is None:
            raise RuntimeError("nothing compiled: call compile() and run() first")
        entry = self._outputs.get(v._node)
        if entry is None:
            raise ValueError(f"{v!r} is not part of the compiled program: pass it to compile(), or keep a "
                             "reference to it (e.g. in a variable) until compile() is called")
        return entry

    def _read_scalar(self, v: Any) -> Any:
        if not isinstance(v, value):
            return self._check_readable(v)
        name, dtype = self._output_entry(v)
        if not self._ran:
            raise RuntimeError("no results yet: call run() first")
        reader = self._readers.get(v._node)
        if reader is None:
            reader = self._readers[v._node] = self._active().reader(name, dtype)
        return reader()

    # ---- Writing

    def _relabel(self, e: Exception) -> Exception:
        """`e` with every automatic input name in its message described (see compile())."""
        labels = self._labels
        if not labels:
            return e
        text = str(e)
        new = _AUTO_NAME.sub(lambda m: m.group(0) + f" ({labels[m.group(1)]})" if m.group(1) in labels
                             else m.group(0), text)
        if new == text:
            return e
        try:
            return type(e)(new)
        except Exception:  # an exception type that takes other arguments: keep it as it is
            return e

    def write_value(self, v: Any, x: Any) -> None:
        """Sets input `v` (made by cp.value or cp.state) to `x` for every
        following run(). A vector, tensor or quaternion of inputs takes a
        container or nested sequences of the same shape; a list or tuple of
        inputs a sequence of the same length. Every value is checked before
        any is written; a float beyond binary32's range (1e39) is refused
        with an OverflowError."""
        try:
            self._write_value(v, x)
        except (TypeError, ValueError, OverflowError) as e:
            raise self._relabel(e) from None

    def _write_value(self, v: Any, x: Any) -> None:
        node = getattr(v, "_node", None)
        if node is not None:
            writer = self._writers.get(node)
            if writer is not None:
                writer(x)
                return
        elif isinstance(v, ArrayBase) and self._program is not None:
            entry = self._bulk.get(id(v))
            if entry is None or entry[0] is not v:
                entry = (v, self._bulk_writer(v))
                if len(self._bulk) > 1024:
                    self._bulk.clear()  # containers made anew for every write: do not hoard them
                self._bulk[id(v)] = entry
            if entry[1] is not None and x.__class__ in (list, tuple) and entry[1](x):
                return
        writes: List[Tuple[Node, str, Any]] = []
        self._collect(v, x, writes)
        for n, name, checked in writes:
            writer = self._writers.get(n)
            if writer is None:
                writer = self._writers[n] = self._writer(n, name)
            writer(checked)

    def _writer(self, node: Node, name: str) -> Callable[[Any], None]:
        """The runner's writer of input (or state) `node`, which checks the
        declared range first if it has one (write_value() calls it with
        values not checked yet once it exists)."""
        write = self._active().writer(name, node.dtype)
        if node not in self._ranged:
            return write

        def write_in_range(x: Any) -> None:
            write(_in_range(node, name, check_input(node.dtype, name, x)))
        return write_in_range

    def _bulk_writer(self, v: ArrayBase[Any]) -> Optional[Callable[[Sequence[Any]], bool]]:
        """A runner's writer for all elements of a 1-D container of inputs
        (without declared ranges) at once, if it has one."""
        if len(v.shape) != 1:
            return None
        names: List[str] = []
        for e in v.values:
            name = self._inputs.get(e._node) if isinstance(e, value) else None
            if name is None or e._node in self._ranged:
                return None
            names.append(name)
        return self._active().bulk_writer(names, [e._node.dtype for e in v.values])

    def _collect(self, v: Any, x: Any, out: List[Tuple[Node, str, Any]]) -> None:
        """Appends (input node, name, checked value) for write_value(v, x), or raises."""
        if isinstance(v, ArrayBase):
            try:
                flat, shape = nested_to_flat(x, "write_value")
            except (TypeError, ValueError) as e:
                raise ValueError(f"write_value() for a {type(v).__name__} of shape {v.shape}: {e}") from None
            if shape != v.shape:
                raise ValueError(f"write_value() for a {type(v).__name__} of shape {v.shape} got data of shape "
                                 f"{shape}")
            for vi, xi in zip(v.values, flat):
                self._collect(vi, xi, out)
            return
        if isinstance(v, (list, tuple)):
            xs = list(x) if isinstance(x, (ArrayBase, list, tuple)) else None
            if xs is None or len(xs) != len(v):
                raise ValueError(f"write_value() for {len(v)} inputs needs a sequence of {len(v)} items")
            for vi, xi in zip(v, xs):
                self._collect(vi, xi, out)
            return
        if not isinstance(v, value) or v._node.op not in ("input", "state"):
            raise ValueError("write_value() needs an input made by cp.value() or a state made by cp.state(), not "
                             f"{v!r} (only inputs and states can be written)")
        if self._program is None:
            raise RuntimeError("nothing compiled: call compile() before write_value()")
        name = self._inputs.get(v._node)
        if name is None:
            raise ValueError(f"{v!r} is not an input of the compiled program (no compiled value depends on it)")
        checked = check_input(v._node.dtype, name, x)
        out.append((v._node, name, _in_range(v._node, name, checked) if v._node in self._ranged else checked))
