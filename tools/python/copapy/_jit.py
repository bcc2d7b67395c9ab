"""@cp.jit: compile a Python function once per argument signature, then run it.

The first call with a new signature traces the function: every argument
becomes named inputs of its Python type (a number one input, a sequence,
vector, tensor or quaternion one input per element, in a container of the
same kind), the return value becomes the outputs, and the program is
compiled with copapy-cc for the chosen target. Every call (the first one
included) then writes the arguments into the inputs, runs the compiled
program and returns the results with the structure of the traced return
value, holding Python numbers.

What retraces: a new signature, that is a different number of arguments, a
different kind (number, list, tuple, vector, tensor, quaternion), a
different element type (bool, int, float) or a different shape of any
argument. Different numbers of the same kinds and types do not retrace: they
are inputs. Anything else the function reads (globals, closures, default
arguments, keyword arguments) is fixed when it is traced, as a constant; a
change to it needs a new decorated function, or `func.cache_clear()`.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar, Union, overload

from ._array import ArrayBase
from ._target import Target
from ._value import value

__all__ = ["jit"]

F = TypeVar("F", bound=Callable[..., Any])

Signature = Tuple[Any, ...]


def _kind(x: Any) -> str:
    t = type(x)
    if t is bool:
        return "bool"
    if t is int:
        return "int"
    if t is float:
        return "float"
    import numbers
    if isinstance(x, numbers.Integral):
        return "int"
    if isinstance(x, numbers.Real):
        return "float"
    raise TypeError(f"jit arguments must be Python numbers or sequences or containers of them, "
                    f"not {t.__name__}")


def _signature(x: Any) -> Any:
    """What decides whether a call reuses a compiled program (see the module docstring)."""
    if isinstance(x, value):
        raise TypeError("jit functions take Python numbers (they are the inputs); call the function "
                        "itself, undecorated, to trace it with copapy values")
    if isinstance(x, ArrayBase):
        return (type(x).__name__, x.shape, tuple(_kind(e) for e in x.values))
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, tuple(_signature(e) for e in x))
    return _kind(x)


def _make_inputs(x: Any, name: str) -> Any:
    """Inputs mirroring argument x, named after the parameter (name, name[0], ...)."""
    if isinstance(x, ArrayBase):
        counter = iter(range(len(x.values)))
        return x.map(lambda e: value(e, name=_element_name(name, x.shape, next(counter))))
    if isinstance(x, (list, tuple)):
        items = [_make_inputs(e, f"{name}[{i}]") for i, e in enumerate(x)]
        return type(x)(items) if isinstance(x, tuple) else items
    return value(x, name=name)


def _element_name(name: str, shape: Tuple[int, ...], k: int) -> str:
    index = ""
    for d in reversed(shape):
        index = f"[{k % d}]" + index
        k //= d
    return name + index


class _Compiled:
    """One traced and compiled program: its target, inputs and outputs."""

    def __init__(self, target: Target, inputs: List[Any], result: Any) -> None:
        self.target = target
        self.inputs = inputs
        self.result = result

    def __call__(self, args: Tuple[Any, ...]) -> Any:
        for inp, arg in zip(self.inputs, args):
            self.target.write_value(inp, arg)
        self.target.run()
        return _read(self.target, self.result)


def _read(tg: Target, result: Any) -> Any:
    if isinstance(result, tuple):
        return tuple(_read(tg, r) for r in result)
    if isinstance(result, list):
        return [_read(tg, r) for r in result]
    return tg.read_value(result)


class JitFunction:
    """A function compiled by @cp.jit (see the module docstring); call it like the function."""

    def __init__(self, func: Callable[..., Any], target: Optional[str], optimization: Any,
                 locations: bool = True) -> None:
        if not isinstance(locations, bool):
            raise TypeError(f"locations must be True or False, not {locations!r}")
        functools.update_wrapper(self, func)
        self._func = func
        self._target = target
        self._optimization = optimization
        self._locations = locations
        self._cache: Dict[Signature, _Compiled] = {}
        self._params = [p.name for p in inspect.signature(func).parameters.values()
                        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]

    def __call__(self, *args: Any) -> Any:
        key = tuple(_signature(a) for a in args)
        compiled = self._cache.get(key)
        if compiled is None:
            compiled = self._cache[key] = self._trace(args)
        return compiled(args)

    def _trace(self, args: Tuple[Any, ...]) -> _Compiled:
        names = [self._params[i] if i < len(self._params) else f"arg{i}" for i in range(len(args))]
        inputs = [_make_inputs(a, n) for a, n in zip(args, names)]
        result = self._func(*inputs)
        if result is None:
            raise TypeError(f"the jit function {self._func.__name__}() returned None; it must return the "
                            "values to compute (a value, container, or a tuple or list of them)")
        tg = Target(self._target, self._optimization)
        tg.compile(result if isinstance(result, (tuple, list)) else [result], inputs, locations=self._locations)
        return _Compiled(tg, inputs, result)

    @property
    def targets(self) -> List[Target]:
        """The Target of every compiled signature (e.g. to save() an image)."""
        return [c.target for c in self._cache.values()]

    def cache_clear(self) -> None:
        """Forgets every compiled signature: the next call traces again."""
        self._cache.clear()


@overload
def jit(func: F) -> F: ...
@overload
def jit(func: None = None, *, target: Optional[str] = None, optimization: Any = None,
        locations: bool = True) -> Callable[[F], F]: ...


def jit(func: Optional[Callable[..., Any]] = None, *, target: Optional[str] = None,
        optimization: Any = None, locations: bool = True) -> Any:
    """Decorator: compile the function with copapy-cc and run the compiled
    program on every call (see the module docstring). `@cp.jit` compiles
    for the host, `@cp.jit(target="thumbv7em")` for another target (run under
    qemu), `optimization=` as for Target, `locations=` as for
    Target.compile and cp.export."""
    if func is None:
        return lambda f: JitFunction(f, target, optimization, locations)
    return JitFunction(func, target, optimization, locations)
