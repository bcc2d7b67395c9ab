"""copapy: trace Python computations into a DAG for the copapy-cc compiler.

Pure Python (>= 3.9, standard library only), compatible with the public API
of the original copapy project:

    import copapy as cp

    a = cp.value(0.25)            # an input the host may write before each run
    b = cp.value(0.87)
    c = a + b * 2.0               # records DAG nodes; nothing is computed here
    d = c ** 2 + cp.sin(a)

    tg = cp.Target()              # the host; Target("aarch64") etc. for others
    tg.compile(c, d)              # copapy-cc build ... -> image
    tg.run()                      # coparun IMAGE --set ... -> outputs
    print(tg.read_value(d))

    cp.export("prog.json", c, d=d)   # or write the DAG file for later use

Types follow docs/dag-format.md: "int" (int32, wrapping), "float"
(binary32) and "bool". Python numbers used in operations become constants,
floats rounded to binary32. Operations are recorded as written; optimizing is
the compiler's job.

Containers. cp.vector, cp.tensor (cp.matrix is the same class), cp.quaternion
and cp.array share one array core (_array.py): shapes, NumPy broadcasting,
elementwise operators and functions, reductions. Every cp.* math function
works elementwise on them. See docs/tracer.md for the whole API and where it
differs from the original project.

Derivatives. cp.grad(y, x) records a request for dy/dx (a `grad` node) that
copapy-cc expands in reverse mode; x may be a value, a container or a list.
y may contain derivatives itself (second order). A file containing such
nodes is written as DAG format version 2, any other as version 1, unless it
records source locations (the default; cp.export(..., locations=False)
leaves them out) or declared ranges (cp.value(x, range=(lo, hi))): then 3.

Outputs of a compiled program. Target.compile(*values) makes every given
value an output. In addition, every value that is still alive (referenced
from Python, e.g. by a variable or a vector) when compile() is called and
that the program computes becomes an output too, so that read_value() works
on intermediate results as in the original copapy. Temporaries that were
garbage collected by then are not outputs (CPython frees them at once; where
some survive longer they merely become extra outputs). Outputs are named after the input
for inputs, else "out_<id>" with the node's id in the DAG; inputs without a
name get "in_<id>".

Tools. Target finds copapy-cc and coparun through the environment variables
COPAPY_CC and COPAPY_RUN (full paths), else in build/bin of the checkout
this package lives in, else in the bin/ directory of the installation it
belongs to (cmake --install or pip into a prefix), else on PATH. Runners for
other architectures (coparun-aarch64, coparun-armhf, run under qemu-aarch64 /
qemu-arm) are looked up the same way (COPAPY_RUN_AARCH64, COPAPY_RUN_ARMHF),
and also next to COPAPY_RUN. With Target(arch=None), the environment variable
COPAPY_TARGET, if set, selects the target.
"""
from ._version import __version__
from ._value import value, state, NumLike
from ._array import ArrayBase
from ._vector import (vector, cross, dot, distance, scalar_projection, vector_projection, angle_between,
                      rotate_vector)
from ._tensor import tensor, matrix, zeros, ones, eye, identity, diagonal, arange, concat, ravel
from ._quaternion import quaternion
from ._arrays import array
from ._math import (sqrt, exp, log, sin, cos, tan, asin, acos, atan, atan2, tanh, hypot, pow, abs, sign, floor, ceil,
                    trunc, round, minimum, maximum, clamp, iif, min, max, cast, to_float, to_int, to_bool, to_bytes)
from ._interp import lerp, interp
from ._sorting import sort, argsort
from ._grad import grad
from ._dag import export
from ._target import CompileWarning, Target
from ._jit import jit
from .linalg import solve, inv, det
from . import linalg
from . import nn
from . import filters
from .nn import relu, sigmoid

__all__ = [
    "__version__", "Target", "CompileWarning", "NumLike", "value", "state", "iif", "vector", "tensor", "matrix", "array",
    "quaternion", "identity", "zeros", "ones", "eye", "diagonal", "arange", "concat", "ravel",
    "sqrt", "abs", "sin", "sign", "cos", "tan", "tanh", "asin", "acos", "atan", "atan2", "log", "exp", "pow",
    "hypot", "floor", "ceil", "trunc", "round", "clamp", "minimum", "maximum", "min", "max",
    "cast", "to_float", "to_int", "to_bool", "to_bytes",
    "cross", "dot", "distance", "scalar_projection", "angle_between", "rotate_vector", "vector_projection",
    "grad", "solve", "inv", "det", "interp", "lerp", "sort", "argsort", "relu", "sigmoid",
    "linalg", "nn", "filters", "jit", "export", "ArrayBase",
]
