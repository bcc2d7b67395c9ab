"""copapy: trace Python computations into a DAG for the copapy-cc compiler.

Pure Python (>= 3.9, standard library only), compatible with the core API of
the original copapy project:

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

Derivatives. cp.grad(y, x) records a request for dy/dx (a `grad` node) that
copapy-cc expands in reverse mode; x may be a value, a vector or a list. A
file containing such nodes is written as DAG format version 2, any other as
version 1.

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
this package lives in, else on PATH. Runners for other architectures
(coparun-aarch64, coparun-armhf, run under qemu-aarch64 / qemu-arm) are looked
up the same way (COPAPY_RUN_AARCH64, COPAPY_RUN_ARMHF), and also next to
COPAPY_RUN. With Target(arch=None), the environment variable COPAPY_TARGET, if
set, selects the target.
"""
from ._version import __version__
from ._value import value, state, NumLike
from ._array import ArrayBase
from ._vector import vector
from ._tensor import tensor, matrix, zeros, ones, eye, identity, diagonal, arange, concat
from ._math import (sqrt, exp, log, sin, cos, tan, asin, acos, atan, atan2, tanh, hypot, pow, abs, sign, floor, ceil,
                    trunc, round, minimum, maximum, clamp, iif, lerp, min, max, cast)
from ._grad import grad
from ._dag import export
from ._target import Target
from ._jit import jit
from . import linalg

__all__ = ["__version__", "value", "state", "NumLike", "vector", "tensor", "matrix", "zeros", "ones", "eye",
           "identity", "diagonal", "arange", "concat", "sqrt", "exp", "log", "sin", "cos", "tan", "asin", "acos",
           "atan", "atan2", "tanh", "hypot", "pow", "abs", "sign", "floor", "ceil", "trunc", "round", "minimum",
           "maximum", "clamp", "iif", "lerp", "min", "max", "cast", "grad", "export", "Target", "jit", "linalg"]
