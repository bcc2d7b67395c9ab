"""Compiling and running traced programs with copapy-cc and coparun."""
from __future__ import annotations

import json
import math
import numbers
import os
import platform
import shutil
import subprocess
import tempfile
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, TypeVar, Union, overload

from ._array import ArrayBase, nested_to_flat
from ._dag import Dag, flatten
from ._value import INT_MAX, INT_MIN, Node, alive_values, f32, value

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
                  "armv7l": "armv7"}

# Canonical target -> (qemu user-mode emulator, runner built for that target,
# environment variable that may name the runner).
_AARCH64_RUNNER = ("qemu-aarch64", "coparun-aarch64", "COPAPY_RUN_AARCH64")
_ARMHF_RUNNER = ("qemu-arm", "coparun-armhf", "COPAPY_RUN_ARMHF")
_EMULATED_RUNNERS = {"aarch64": _AARCH64_RUNNER, "armv7": _ARMHF_RUNNER, "thumbv7": _ARMHF_RUNNER,
                     "thumbv7em": _ARMHF_RUNNER}

# What `-O` levels the optimization= argument accepts. The original project's
# levels are gcc's for its stencils ("O3" by default); ours are the compiler's
# passes, -O2 being the highest, so "O3" means -O2.
_OPT_LEVELS = {0: "0", 1: "1", 2: "2", 3: "2"}


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
    # A cross runner sits next to the host runner, so look there first when COPAPY_RUN names one.
    host_runner = os.environ.get("COPAPY_RUN")
    extra = (Path(host_runner).parent,) if host_runner else ()
    return [qemu, find_tool(runner, env_var, extra)]


def _format_input(node: Node, name: str, x: Any) -> str:
    """`x` as coparun's --set expects it for an input of node's type."""
    dtype = node.dtype
    if isinstance(x, value):
        raise TypeError(f"input {name!r} takes a Python number, not a traced value ({x!r})")
    if dtype == "float":
        if not isinstance(x, numbers.Real):
            raise TypeError(f"input {name!r} is a float; expected a Python number, not {type(x).__name__}")
        v = f32(float(x))
        if math.isfinite(v):
            return repr(v)  # exact: v is a binary32 value, and repr round-trips it
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if dtype == "bool":
        if x is True or x is False or (isinstance(x, int) and x in (0, 1)):
            return "true" if x else "false"
        raise TypeError(f"input {name!r} is a bool; expected True, False, 0 or 1, not {x!r}")
    if not isinstance(x, numbers.Integral):
        raise TypeError(f"input {name!r} is an int; expected a Python int, not {type(x).__name__}")
    x = int(x)
    if not INT_MIN <= x <= INT_MAX:
        raise OverflowError(f"value {x} for input {name!r} does not fit in int32")
    return str(x)


def _parse_output(dtype: str, raw: Any, name: str) -> Any:
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


# Target.save() kinds -> copapy-cc --emit kind and default file suffix.
_SAVE_KINDS = {"image": ".cpimg", "c-header": ".h", "listing": ".lst", "manifest": ".manifest.json",
               "dot": ".dot", "c": ".c", "dag": ".json"}


class Target:
    """A machine to compile for and run on: the host (arch None or "native") or
    a target as copapy-cc names it (`copapy-cc targets`: x86_64, aarch64,
    armv7, thumbv7, thumbv7em, and the aliases arm64, armv7thumb, armv7mthumb,
    ...; names are case-insensitive and checked when the Target is made).

    With arch None the environment variable COPAPY_TARGET, if set, picks the
    target, so that unchanged scripts can be run for another architecture.
    Images for a target the host cannot run natively run under qemu user mode
    (qemu-aarch64 or qemu-arm with build/bin/coparun-aarch64 or coparun-armhf).

    `optimization` is copapy-cc's -O level (0, 1, 2; "O3", the original
    project's default, means 2); None uses the compiler's default (-O2).
    """

    def __init__(self, arch: Optional[str] = None, optimization: Any = None) -> None:
        requested = arch if arch is not None else (os.environ.get("COPAPY_TARGET") or None)
        self.arch: str = resolve_target(requested)
        self.optimization = _optimization_flag(optimization)
        self._dir: Optional[str] = None
        self._dag_path: Optional[str] = None
        self._image: Optional[str] = None
        self._outputs: Dict[Node, Tuple[str, str]] = {}   # node -> (output name, dtype)
        self._inputs: Dict[Node, str] = {}                # input node -> input name
        self._states: Dict[Node, str] = {}
        self._written: Dict[str, str] = {}                # input name -> --set text
        self._results: Optional[Dict[str, Any]] = None

    def __repr__(self) -> str:
        return f"Target({self.arch!r})"

    def _workdir(self) -> str:
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="copapy-")
            weakref.finalize(self, shutil.rmtree, self._dir, True)
        return self._dir

    def _build_command(self, dag_path: str) -> List[str]:
        cmd = [find_tool("copapy-cc", "COPAPY_CC"), "build", dag_path, "-t", self.arch]
        if self.optimization is not None:
            cmd += ["-O", self.optimization]
        return cmd

    def compile(self, *values: Any) -> None:
        """Compiles the program computing `values`: values, vectors, tensors,
        quaternions, or any iterable of them (lists, tuples, generators; one
        level deep). Python numbers among them are ignored.

        Besides the given values, every value that is still referenced from
        Python and that the program computes becomes an output too, so that
        read_value() works on intermediate results as well.
        """
        items: List[Tuple[Optional[str], Any]] = []
        for v in values:
            if not isinstance(v, (ArrayBase, value, list, tuple)) and hasattr(v, "__iter__"):
                v = list(v)  # a generator or another iterable, one level deep
            flatten(v, None, items)
        dag = Dag([(None, x._node) for _, x in items if isinstance(x, value)])
        for av in alive_values():
            if av._node in dag.ids:
                dag.add_output(None, av._node)

        workdir = self._workdir()
        dag_path = os.path.join(workdir, "program.json")
        image = os.path.join(workdir, "program.cpimg")
        dag.write(dag_path)
        proc = subprocess.run(self._build_command(dag_path) + ["-o", image], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"copapy-cc failed (exit status {proc.returncode}):\n{proc.stderr.strip()}")

        self._dag_path = dag_path
        self._image = image
        self._outputs = {node: (name, node.dtype) for node, name in dag.output_names.items()}
        self._inputs = {node: name for node, name in dag.names.items()}
        # States are read back after every run and carried into the next one
        # (each run is a new runner process).
        self._states = {node: name for node, name in dag.names.items() if node.op == "state"}
        for node, name in self._states.items():
            self._outputs.setdefault(node, (name, node.dtype))
        self._written = {}
        self._results = None

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
        cmd = self._build_command(self._dag_path) + ["--emit", f"{kind}={target}"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"copapy-cc failed (exit status {proc.returncode}):\n{proc.stderr.strip()}")

    def run(self) -> None:
        """Runs the compiled program once, with every input written by
        write_value() since compile(), and keeps its outputs for read_value()."""
        if self._image is None:
            raise RuntimeError("nothing to run: call compile() first")
        cmd = _runner_command(self.arch) + [self._image]
        for name, text in self._written.items():
            cmd += ["--set", f"{name}={text}"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{os.path.basename(cmd[0])} failed (exit status {proc.returncode}):\n"
                               f"{proc.stderr.strip()}")
        try:
            # Numbers as their text: float("-0") keeps the sign that json's int parsing would drop.
            printed = json.loads(proc.stdout, parse_int=str, parse_float=str)
        except json.JSONDecodeError as e:
            raise RuntimeError(f"cannot parse the runner's output as JSON ({e}): {proc.stdout[:200]!r}") from None
        if not isinstance(printed, dict):
            raise RuntimeError(f"the runner printed {type(printed).__name__}, expected a JSON object")
        results: Dict[str, Any] = {}
        for name, dtype in self._outputs.values():
            if name not in printed:
                raise RuntimeError(f"the runner's output lacks {name!r}")
            results[name] = _parse_output(dtype, printed[name], name)
        self._results = results
        for name in self._states.values():
            self._written[name] = printed[name]  # the next run starts from the new state

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
        from ._arrays import array
        if isinstance(v, array):
            return v.map(self._read_scalar).tolist()  # nested lists, as the original
        if isinstance(v, ArrayBase):
            return v.map(self._read_scalar)
        if isinstance(v, (list, tuple)):
            return [self.read_value(x) for x in v]
        return self._read_scalar(v)

    def _read_scalar(self, v: Any) -> Any:
        if not isinstance(v, value):
            if isinstance(v, (bool, int, float)):
                return v
            raise TypeError(f"read_value() takes copapy values, vectors, tensors, quaternions or lists, "
                            f"not {type(v).__name__}")
        if self._image is None:
            raise RuntimeError("nothing compiled: call compile() and run() first")
        entry = self._outputs.get(v._node)
        if entry is None:
            raise ValueError(f"{v!r} is not part of the compiled program: pass it to compile(), or keep a "
                             "reference to it (e.g. in a variable) until compile() is called")
        if self._results is None:
            raise RuntimeError("no results yet: call run() first")
        return self._results[entry[0]]

    def write_value(self, v: Any, x: Any) -> None:
        """Sets input `v` (made by cp.value or cp.state) to `x` for every
        following run(). A vector, tensor or quaternion of inputs takes a
        container or nested sequences of the same shape; a list or tuple of
        inputs a sequence of the same length."""
        if isinstance(v, ArrayBase):
            try:
                flat, shape = nested_to_flat(x, "write_value")
            except (TypeError, ValueError) as e:
                raise ValueError(f"write_value() for a {type(v).__name__} of shape {v.shape}: {e}") from None
            if shape != v.shape:
                raise ValueError(f"write_value() for a {type(v).__name__} of shape {v.shape} got data of shape "
                                 f"{shape}")
            for vi, xi in zip(v.values, flat):
                self.write_value(vi, xi)
            return
        if isinstance(v, (list, tuple)):
            xs = list(x) if isinstance(x, (ArrayBase, list, tuple)) else None
            if xs is None or len(xs) != len(v):
                raise ValueError(f"write_value() for {len(v)} inputs needs a sequence of {len(v)} items")
            for vi, xi in zip(v, xs):
                self.write_value(vi, xi)
            return
        if not isinstance(v, value) or v._node.op not in ("input", "state"):
            raise ValueError("write_value() needs an input made by cp.value() or a state made by cp.state(), not "
                             f"{v!r} (only inputs and states can be written)")
        if self._image is None:
            raise RuntimeError("nothing compiled: call compile() before write_value()")
        name = self._inputs.get(v._node)
        if name is None:
            raise ValueError(f"{v!r} is not an input of the compiled program (no compiled value depends on it)")
        self._written[name] = _format_input(v._node, name, x)

