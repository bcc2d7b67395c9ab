#!/usr/bin/env python3
"""End-to-end test of every operation and operand type combination.

Traces ONE program that applies every DAG operation to every sensible
combination of int, float and bool operands over a table of edge-case
inputs, compiles it once with copapy-cc for the chosen target, runs it once
(under qemu for foreign targets) and compares every result with a Python
reference that emulates the contract of docs/dag-format.md: binary32
arithmetic (each operation done in double and rounded to binary32, which is
exact for + - * / sqrt), wrapping int32, Python's floor division and modulo,
and defined results where Python would raise.

Operands are program inputs (cp.value), never constants, so the compiler
cannot fold them; the only constants are int-pow exponents, which the
contract requires to be constants. Some inputs are also written with
write_value() to test coparun --set.

Comparison: ints and bools exactly; floats bit for bit (NaN equals NaN, +0
differs from -0), except the libm functions exp log sin cos tan asin acos
atan atan2 pow tanh hypot, which may differ by 2 ulp (and must get non-finite
results and the sign of zero results exactly right). floor ceil trunc round
are exact, so they are compared bit for bit too, signed zeros included
(floor(-0.0) = -0.0, ceil(-0.5) = -0.0, round(-0.4) = -0.0).

tanh, hypot, floor, ceil, trunc and round are recorded with
copapy._value.make (the tracer has no cp.tanh etc. yet).

    python3 test/e2e/run_ops.py [--target NAME]

Prints `e2e-ops[<target>]: N passed, M failed` and every failure; exits 1 on
any failure.
"""
import argparse
import math
import operator
import os
import random
import struct
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools" / "python"))
import copapy as cp  # noqa: E402
from copapy._value import _wrap, make, operand_node  # noqa: E402  (constant values, for --constants)


def raw(op: str) -> Callable[..., Any]:
    """The DAG op itself: the user-facing API rewrites some (x ** 3 is x * x * x
    while tracing, cp.sign is an int), and this suite tests the ops."""
    return lambda *args: make(op, *(operand_node(a) for a in args))


def const_value(x: Any) -> Any:
    """A traced constant (a `const` node), which plain Python numbers only become inside an expression."""
    return _wrap(operand_node(x))

INT_MIN, INT_MAX = -(2 ** 31), 2 ** 31 - 1
INF, NAN = math.inf, math.nan

INTS = [0, 1, -1, 7, -7, 3, -3, INT_MAX, INT_MIN, 100000]
# 1e-40 is subnormal in binary32; the rest is the edge-case table of the test plan.
FLOATS = [0.0, -0.0, 1.5, -2.25, 0.1, 3.0, 1e30, -1e-30, INF, -INF, NAN, 1e-40]
BOOLS = [False, True]
SHIFT_COUNTS = [0, 1, 31, 32, 33, -1]
# Ints used against floats and bools (all of INTS against all FLOATS would be
# many near-duplicate cases): zero, signs, odd values and both extremes.
MIXED_INTS = [0, 1, -7, 3, INT_MAX, INT_MIN]
MIXED_FLOATS = [0.0, -0.0, 1.5, NAN, INF, -INF]
# Inputs in the interesting domains of the math functions, in addition to FLOATS.
MATH_FLOATS = [0.5, -0.5, 0.25, 1.0, -1.0, 2.0, 10.0, -10.0, 88.0, 89.0, -87.0, -104.0, 1e-5, 3.1415927,
               1.5707964, 1e4, -8.0, 0.33333334, 201.0, 2.5, 0.999, -0.999, 100.5, 7.0]
POW_EXPONENTS = [0, 1, 2, 3, 7, 31, 32]
# For floor ceil trunc round, in addition to MATH_FLOATS: ties (half to even
# for round), values just below and above them, the last binary32 values with
# a fraction (spacing 0.5 below 2^23, 1 above), large values and subnormals.
ROUNDING_FLOATS = [1.5, -1.5, 3.5, -3.5, -2.5, 0.4, -0.4, 0.49999997, -0.49999997, 0.50000006, 0.99999994,
                   -0.99999994, 1.0000001, -1.0000001, 2.4999998, 2.5000002, 4194302.5, 4194303.5, -4194303.5,
                   4194304.5, 8388606.5, 8388607.5, -8388607.5, 8388607.0, 8388608.0, -8388608.0, 8388609.0,
                   16777215.0, 16777216.0, 16777218.0, 2147483520.0, -2147483904.0, -1e30, 3.4028235e38,
                   -3.4028235e38, -1e-40, 1.4e-45, -1.4e-45, 1.1754942e-38, 1.1754944e-38]
# For tanh, in addition to MATH_FLOATS: where it saturates to +-1 in binary32
# (about 9.01) and beyond, tiny arguments where tanh(x) rounds to x.
TANH_FLOATS = [9.0, 9.1, -9.1, 20.0, -20.0, 0.55, -0.55, 1e-4, -1e-5, 0.0078125, 3e-4, -1.4e-45]
# (a, b) for hypot besides the generic tables: exact results, scaling at
# both ends of the range (no overflow or underflow in the intermediate
# squares), overflow of the result itself, and inf beating NaN (C's rule).
HYPOT_PAIRS = [(3.0, 4.0), (-5.0, 12.0), (1e30, 1e30), (3e38, 3e38), (-3e38, 1.0), (1e-40, 1e-40), (1e-45, 1e-45),
               (1e-20, 1e-20), (1e20, 1e-20), (INF, NAN), (NAN, -INF), (NAN, 0.0), (-0.0, -0.0), (1.0, 1e-8),
               (0.70710677, 0.70710677), (8388607.0, 1.0)]

LIBM = {"exp", "log", "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "pow", "tanh", "hypot"}
ROUNDING = {"floor": math.floor, "ceil": math.ceil, "trunc": math.trunc, "round": round}  # Python's round: half to even
ULP_TOLERANCE = 2


# ---- Reference semantics ----------------------------------------------------

def f32(x: float) -> float:
    """Nearest binary32 value (ties to even); overflow gives +-inf like a C cast."""
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:
        return math.copysign(INF, x)


def bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def wrap(x: int) -> int:
    """x modulo 2**32 as a signed int32."""
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x & 0x80000000 else x


def to_float(x: Any) -> float:
    """The binary32 value an int or bool operand is promoted to."""
    return f32(float(x))


def ieee_div(a: float, b: float) -> float:
    if b != 0 or math.isnan(b):
        return f32(a / b) if not math.isnan(b) else NAN
    if a == 0 or math.isnan(a):
        return NAN
    return INF if (math.copysign(1, a) > 0) == (math.copysign(1, b) > 0) else -INF


def fmodf(a: float, b: float) -> float:
    """C fmodf on binary32 values: exact; NaN for x % 0, inf % y and NaN operands."""
    if math.isnan(a) or math.isnan(b) or math.isinf(a) or b == 0:
        return NAN
    if math.isinf(b):
        return a
    return math.fmod(a, b)


def mod_float(a: float, b: float) -> float:
    """CPython's float_rem in binary32 (x % 0.0 is NaN instead of raising)."""
    m = fmodf(a, b)
    if m != 0:  # NaN included, as in C
        if (b < 0) != (m < 0):
            m = f32(m + b)
    else:
        m = math.copysign(0.0, b)
    return m


def floordiv_float(a: float, b: float) -> float:
    """CPython's float_floor_div in binary32 (x // 0.0 is x / 0.0 instead of raising)."""
    if b == 0:
        return ieee_div(a, b)
    m = fmodf(a, b)
    d = ieee_div(f32(a - m), b)
    if m != 0 and (b < 0) != (m < 0):
        d = f32(d - 1.0)
    if d != 0:  # NaN included, as in C
        if math.isnan(d) or math.isinf(d):
            return d
        fl = float(math.floor(d))
        if f32(d - fl) > 0.5:
            fl = f32(fl + 1.0)
        return fl
    return math.copysign(0.0, ieee_div(a, b))


def odd_integer(y: float) -> bool:
    return math.isfinite(y) and y == math.floor(y) and int(y) % 2 == 1


def powf(x: float, y: float) -> float:
    """C powf: IEEE results where Python raises."""
    try:
        return f32(math.pow(x, y))
    except ValueError:
        if x == 0:  # pole: 0 ** negative
            return -INF if math.copysign(1, x) < 0 and odd_integer(y) else INF
        return NAN  # negative base, non-integer exponent
    except OverflowError:
        return -INF if x < 0 and odd_integer(y) else INF


def rounding(name: str, x: float) -> float:
    """floor, ceil, trunc or round (half to even) of a binary32 value, exactly.

    Python computes them exactly on the (double) value and returns an int; an
    integer that comes from a binary32 value is itself a binary32 value. A
    zero result keeps the operand's sign, as C's floorf etc. and numpy do:
    floor(-0.0) = -0.0, ceil(-0.5) = -0.0, round(-0.4) = -0.0. inf and NaN
    pass through (Python would raise)."""
    if not math.isfinite(x):
        return x
    r = float(ROUNDING[name](x))
    assert f32(r) == r
    return math.copysign(0.0, x) if r == 0 else r


def libm(name: str, *args: float) -> float:
    """The C function in double precision, rounded to binary32; C's results where Python raises."""
    try:
        return f32(getattr(math, name)(*args))
    except ValueError:
        return -INF if name == "log" and args[0] == 0 else NAN
    except OverflowError:
        return INF


class Operand(NamedTuple):
    dtype: str          # "int", "float" or "bool"
    py: Any             # its Python value (int, float or bool)
    v: Any              # the copapy input value
    how: str = ""       # how the value got there, for failure messages

    def __str__(self) -> str:
        return f"{self.how}{self.dtype} {self.py!r}"


def int_like(dtype: str) -> bool:
    return dtype != "float"


def same_kind(a: Operand, b: Operand) -> str:
    if a.dtype == "bool" and b.dtype == "bool":
        return "bool"
    return "int" if int_like(a.dtype) and int_like(b.dtype) else "float"


def coerce(dtype: str, x: Any) -> Any:
    return to_float(x) if dtype == "float" else (bool(x) if dtype == "bool" else int(x))


ARITH = {"add": operator.add, "sub": operator.sub, "mul": operator.mul}
COMPARE = {"gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le, "eq": operator.eq,
           "ne": operator.ne}
BITWISE = {"and": operator.and_, "or": operator.or_, "xor": operator.xor}
# How the test writes each two-operand op in Python (on copapy values; the
# reference applies ARITH, COMPARE and BITWISE to Python numbers too).
BINARY_FUNCTIONS: Dict[str, Callable[[Any, Any], Any]] = {
    **ARITH, **COMPARE, **BITWISE, "div": operator.truediv, "floordiv": operator.floordiv, "mod": operator.mod,
    "pow": raw("pow"), "min": cp.minimum, "max": cp.maximum, "atan2": cp.atan2, "lshift": operator.lshift,
    "rshift": operator.rshift, "hypot": cp.hypot}
UNARY_FUNCTIONS: Dict[str, Callable[[Any], Any]] = {
    "neg": operator.neg, "abs": abs,
    "sign": raw("sign"),
    **{name: getattr(cp, name) for name in ("sqrt", "exp", "log", "sin", "cos", "tan", "asin", "acos", "atan",
                                            "tanh", *ROUNDING)}}


def ref_binary(op: str, x: Operand, y: Operand) -> Tuple[str, Any]:
    """(result type, result) of a two-operand op per docs/dag-format.md."""
    a, b = x.py, y.py
    ints = int_like(x.dtype) and int_like(y.dtype)
    if op in ARITH:
        if ints:
            return "int", wrap(ARITH[op](int(a), int(b)))
        return "float", f32(ARITH[op](to_float(a), to_float(b)))
    if op == "div":
        return "float", ieee_div(to_float(a), to_float(b))
    if op == "floordiv":
        if ints:
            return "int", 0 if b == 0 else wrap(int(a) // int(b))
        return "float", floordiv_float(to_float(a), to_float(b))
    if op == "mod":
        if ints:
            return "int", 0 if b == 0 else wrap(int(a) % int(b))
        return "float", mod_float(to_float(a), to_float(b))
    if op == "pow":
        # int ** int stays int only for a constant exponent >= 0 (wrapping); else powf
        if ints and y.v._node.op == "const" and int(b) >= 0:
            return "int", wrap(pow(int(a), int(b), 1 << 32))
        return "float", powf(to_float(a), to_float(b))
    if op in ("atan2", "hypot"):
        return "float", libm(op, to_float(a), to_float(b))
    if op in ("min", "max"):
        t = same_kind(x, y)
        a, b = coerce(t, a), coerce(t, b)
        better = b < a if op == "min" else b > a
        return t, b if better else a
    if op in COMPARE:
        if ints:
            return "bool", COMPARE[op](int(a), int(b))
        return "bool", COMPARE[op](to_float(a), to_float(b))
    if op in BITWISE:
        if x.dtype == "bool" and y.dtype == "bool":
            return "bool", bool(BITWISE[op](a, b))
        return "int", BITWISE[op](int(a), int(b))
    if op == "lshift":
        return "int", wrap(int(a) << (int(b) & 31))
    if op == "rshift":
        return "int", int(a) >> (int(b) & 31)
    raise ValueError(op)


def ref_unary(op: str, x: Operand) -> Tuple[str, Any]:
    a = x.py
    if op in ("neg", "abs", "sign"):
        if x.dtype == "float":
            if op == "neg":
                return "float", -a
            if op == "abs":
                return "float", abs(a)
            return "float", 1.0 if a > 0 else -1.0 if a < 0 else a
        a = int(a)
        if op == "neg":
            return "int", wrap(-a)
        if op == "abs":
            return "int", wrap(abs(a))
        return "int", (a > 0) - (a < 0)
    if op == "sqrt":
        a = to_float(a)
        return "float", NAN if a < 0 or math.isnan(a) else f32(math.sqrt(a))
    if op in ROUNDING:
        return "float", rounding(op, to_float(a))
    return "float", libm(op, to_float(a))


def truthy(x: Operand) -> bool:
    return x.py != 0 or (x.dtype == "float" and math.isnan(x.py))


# ---- Comparison -------------------------------------------------------------

def ordered(x: float) -> int:
    """binary32 bit pattern mapped to integers in the order of the floats (+0 and -0 both 0)."""
    b = bits(x)
    return b if b < 0x80000000 else 0x80000000 - b


def matches(dtype: str, expected: Any, got: Any, ulps: int) -> bool:
    if dtype != "float":
        return type(got) is type(expected) and got == expected
    if not isinstance(got, float):
        return False
    if math.isnan(expected) or math.isnan(got):
        return math.isnan(expected) and math.isnan(got)
    if ulps == 0 or not (math.isfinite(expected) and math.isfinite(got)):
        return bits(expected) == bits(got)
    if (expected == 0 or got == 0) and math.copysign(1, expected) != math.copysign(1, got):
        return False  # a zero must have the right sign, however close the other value is
    return abs(ordered(expected) - ordered(got)) <= ulps


def show(dtype: str, x: Any) -> str:
    if dtype == "float" and isinstance(x, float):
        return f"{x!r} (0x{bits(x):08x})"
    return repr(x)


# ---- The program --------------------------------------------------------------

class Case(NamedTuple):
    label: str
    v: Any              # the copapy value computed by the program
    dtype: str          # the type the contract gives the result
    expected: Any
    ulps: int           # allowed distance for floats (0: bit-exact)


class Suite:
    def __init__(self, constants: bool = False) -> None:
        # constants: operands are constant nodes instead of inputs, so the
        # compiler folds every case (checking its folder against the reference).
        self.constants = constants
        self.cases: List[Case] = []
        self._inputs: dict = {}
        self.writes: List[Tuple[Any, Any]] = []   # (input value, Python value) for write_value

    def input(self, dtype: str, x: Any) -> Operand:
        """The program input holding x (one per distinct value; floats by bit pattern)."""
        if dtype == "float":
            x = f32(x)  # what the input holds; the reference must start from the same value
        key = (dtype, bits(x) if dtype == "float" else x)
        if key not in self._inputs and self.constants:
            self._inputs[key] = Operand(dtype, x, const_value({"int": int, "float": float, "bool": bool}[dtype](x)))
        if key not in self._inputs:
            name = f"{dtype[0]}{sum(1 for k in self._inputs if k[0] == dtype)}"
            self._inputs[key] = Operand(dtype, x, cp.value({"int": int, "float": float, "bool": bool}[dtype](x),
                                                           name=name))
        return self._inputs[key]

    def add(self, label: str, v: Any, dtype: str, expected: Any, ulps: int = 0) -> None:
        self.cases.append(Case(label, v, dtype, expected, ulps))

    def binary(self, op: str, x: Operand, y: Operand) -> None:
        dtype, expected = ref_binary(op, x, y)
        self.add(f"{op}({x}, {y})", BINARY_FUNCTIONS[op](x.v, y.v), dtype, expected,
                 ULP_TOLERANCE if op in LIBM else 0)

    def unary(self, op: str, x: Operand) -> None:
        dtype, expected = ref_unary(op, x)
        self.add(f"{op}({x})", UNARY_FUNCTIONS[op](x.v), dtype, expected, ULP_TOLERANCE if op in LIBM else 0)


CHAIN_STEPS = 300
# Arithmetic listed three times: comparisons and bit operations yield bools and
# ints, and too many of them would leave few floats in the chains.
CHAIN_BINARY = 3 * ["add", "sub", "mul", "div", "floordiv", "mod", "min", "max"] + \
    [*COMPARE, *BITWISE, "lshift", "rshift"]
CHAIN_UNARY = ["neg", "abs", "sign", "sqrt", *ROUNDING]


def chains(s: Suite, rng: random.Random) -> None:
    """Random expressions over earlier results, with the bit-exact operations only.

    The cases in build() are one operation on inputs each; these make long
    dependency chains, shared subexpressions and type changes between
    operations, which exercise the compiler's register planning, spills and
    conversions."""
    base = [s.input("int", i) for i in (3, -7, 100000, INT_MIN, 2)] + \
        [s.input("float", f) for f in (1.5, -2.25, 0.1, 3.0, -0.0)] + [s.input("bool", b) for b in BOOLS]
    pool = [(x, x.v.name) for x in base]   # (operand, label) of inputs and earlier results

    def pick(ints_only: bool = False) -> Tuple[Operand, str]:
        # Mostly recent results (long chains), sometimes anything (long live ranges);
        # half of the time a float if there is one, as ints and bools dominate otherwise.
        choices = pool[-6:] if rng.random() < 0.7 else pool
        if ints_only:
            choices = [p for p in choices if p[0].dtype != "float"] or [p for p in pool if p[0].dtype != "float"]
        elif rng.random() < 0.5:
            choices = [p for p in choices if p[0].dtype == "float"] or choices
        return rng.choice(choices)

    for k in range(CHAIN_STEPS):
        kind = rng.random()
        if kind < 0.15:
            op = rng.choice(CHAIN_UNARY)
            x, xl = pick()
            dtype, expected = ref_unary(op, x)
            v = UNARY_FUNCTIONS[op](x.v)
            label = f"{op}({xl})"
        elif kind < 0.25:
            (c, cl), (a, al), (b, bl) = pick(), pick(), pick()
            dtype = same_kind(a, b)
            expected = coerce(dtype, a.py if truthy(c) else b.py)
            v = cp.iif(c.v, a.v, b.v)
            label = f"select({cl}, {al}, {bl})"
        elif kind < 0.3:
            x, xl = pick(ints_only=True)
            e = rng.choice(POW_EXPONENTS)
            dtype, expected, v = "int", wrap(pow(int(x.py), e, 1 << 32)), raw("pow")(x.v, e)
            label = f"pow({xl}, const int {e})"
        else:
            op = rng.choice(CHAIN_BINARY)
            ints_only = op in BITWISE or op in ("lshift", "rshift")
            (x, xl), (y, yl) = pick(ints_only), pick(ints_only)
            dtype, expected = ref_binary(op, x, y)
            v = BINARY_FUNCTIONS[op](x.v, y.v)
            label = f"{op}({xl}, {yl})"
        result = Operand(dtype, expected, v)
        s.add(f"chain[{k}] = {label} = {result}", v, dtype, expected)
        pool.append((result, f"chain[{k}]"))


def build(s: Suite) -> None:
    ints = [s.input("int", i) for i in INTS]
    floats = [s.input("float", f) for f in FLOATS]
    bools = [s.input("bool", b) for b in BOOLS]
    mixed_ints = [s.input("int", i) for i in MIXED_INTS]
    mixed_floats = [s.input("float", f) for f in MIXED_FLOATS]
    counts = [s.input("int", c) for c in SHIFT_COUNTS]
    math_floats = floats + [s.input("float", f32(f)) for f in MATH_FLOATS]

    # Inputs read back unchanged: initial values travel through the DAG file and the image.
    for x in ints + floats + bools:
        s.add(f"input({x})", x.v, x.dtype, x.py)

    numeric = ["add", "sub", "mul", "div", "floordiv", "mod", "min", "max", *COMPARE]
    for op in numeric + list(BITWISE):
        for x in ints:
            for y in ints:
                s.binary(op, x, y)
    for op in numeric + ["pow", "atan2", "hypot"]:
        for x in floats:
            for y in floats:
                s.binary(op, x, y)
    # Mixed int/float: the int is promoted to float (binary32).
    for op in numeric + ["pow", "atan2", "hypot"]:
        for i in mixed_ints:
            for f in floats:
                s.binary(op, i, f)
                s.binary(op, f, i)
    # bool operands count as int; bool with bool keeps bool for min, max, & | ^.
    for op in numeric + list(BITWISE) + ["lshift", "rshift"]:
        for x in bools:
            for y in bools:
                s.binary(op, x, y)
    for op in ["add", "sub", "mul", "floordiv", "mod", "min", "max", "lt", "eq", *BITWISE]:
        for b in bools:
            for i in mixed_ints:
                s.binary(op, b, i)
                s.binary(op, i, b)
    for op in ["add", "sub", "mul", "div", "min", "max", "lt", "eq"]:
        for b in bools:
            for f in mixed_floats:
                s.binary(op, b, f)
                s.binary(op, f, b)
    # Shifts: the count is taken modulo 32, >> is arithmetic.
    for op in ["lshift", "rshift"]:
        for x in ints + bools:
            for c in counts:
                s.binary(op, x, c)

    # int ** non-negative int constant stays int (wrapping); anything else is powf.
    for x in ints + bools:
        for e in POW_EXPONENTS:
            expected = wrap(pow(int(x.py), e, 1 << 32))
            s.add(f"pow({x}, const int {e})", raw("pow")(x.v, e), "int", expected)
    for x in mixed_ints:
        s.add(f"pow({x}, const int -1)", x.v ** -1, "float", powf(to_float(x.py), -1.0), ULP_TOLERANCE)
        s.add(f"pow({x}, const float 2.0)", x.v ** 2.0, "float", powf(to_float(x.py), 2.0), ULP_TOLERANCE)
        if s.constants and int_like(x.dtype) and int(x.py) >= 0:  # a constant exponent: int pow
            s.add(f"pow(const int 2, {x})", 2 ** x.v, "int", wrap(pow(2, int(x.py), 1 << 32)))
        else:
            s.add(f"pow(const int 2, {x})", 2 ** x.v, "float", powf(2.0, to_float(x.py)), ULP_TOLERANCE)
        for y in [s.input("int", 2), s.input("int", 3), s.input("int", -1)]:
            s.binary("pow", x, y)
    for x in math_floats:
        s.add(f"pow({x}, const int 3)", raw("pow")(x.v, 3), "float", powf(x.py, 3.0), ULP_TOLERANCE)
    for x, y in [(-8.0, 0.33333334), (2.0, 127.0), (2.0, 128.0), (-2.0, 127.0), (2.0, -149.0), (2.0, -150.0),
                 (10.0, -45.0), (0.5, -INF), (-1.0, INF), (-0.0, -3.0), (-0.0, -2.0), (-INF, 3.0), (-INF, -3.0),
                 (7.0, 0.5), (2.5, 10.0), (100.5, 19.0)]:
        s.binary("pow", s.input("float", f32(x)), s.input("float", f32(y)))

    for op in ["neg", "abs", "sign"]:
        for x in ints + floats + bools:
            s.unary(op, x)
    for op in ["sqrt", "exp", "log", "sin", "cos", "tan", "asin", "acos", "atan"]:
        for x in math_floats:
            s.unary(op, x)
        for x in mixed_ints:
            s.unary(op, x)
    for y in math_floats[::3]:
        for x in math_floats[1::4]:
            s.binary("atan2", y, x)
            s.binary("hypot", y, x)
    for x in math_floats + [s.input("float", f32(f)) for f in TANH_FLOATS]:
        s.unary("tanh", x)
    for x in mixed_ints + bools:
        s.unary("tanh", x)
    for a, b in HYPOT_PAIRS:
        s.binary("hypot", s.input("float", f32(a)), s.input("float", f32(b)))
    # The roundings of ints and bools are their float values (int operands promote).
    for op in ROUNDING:
        for x in math_floats + [s.input("float", f32(f)) for f in ROUNDING_FLOATS] + ints + bools:
            s.unary(op, x)

    # select: any condition type (non-zero is true; NaN is true), result typed like min.
    conditions = bools + [s.input("int", i) for i in (0, 1, -7, INT_MIN)] + \
        [s.input("float", f) for f in (0.0, -0.0, NAN, 1.5, -INF)]
    pairs = [(s.input("int", 7), s.input("int", -3)), (s.input("float", 1.5), s.input("float", NAN)),
             (s.input("bool", True), s.input("bool", False)), (s.input("int", -7), s.input("float", 0.1)),
             (s.input("float", -0.0), s.input("int", 3)), (s.input("bool", True), s.input("int", 0)),
             (s.input("bool", False), s.input("float", -2.25))]
    for c in conditions:
        for a, b in pairs:
            t = same_kind(a, b)
            expected = coerce(t, a.py if truthy(c) else b.py)
            s.add(f"select({c}, {a}, {b})", cp.iif(c.v, a.v, b.v), t, expected)

    # Inputs written with write_value (coparun --set) before the run; their
    # initial values differ, so a lost write shows up.
    for dtype, xs in (("int", INTS), ("float", FLOATS), ("bool", [True])):
        for k, x in enumerate(xs):
            w = cp.value({"int": 12345, "float": 12345.0, "bool": False}[dtype], name=f"w{dtype[0]}{k}")
            s.writes.append((w, x))
            op = Operand(dtype, f32(x) if dtype == "float" else x, w, "written ")
            s.add(f"input({op})", w, dtype, op.py)
            s.unary("neg", op)

    chains(s, random.Random(20240611))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--constants", action="store_true",
                        help="make operands constants, so that the compiler folds every case")
    parser.add_argument("--target", default=None,
                        help="copapy-cc target name (default: $COPAPY_TARGET, else the host)")
    args = parser.parse_args()
    label = (args.target or os.environ.get("COPAPY_TARGET") or "host") + (", folded" if args.constants else "")

    suite = Suite(args.constants)
    build(suite)
    tg = cp.Target(args.target)
    try:
        tg.compile([c.v for c in suite.cases])
        for w, x in suite.writes:
            tg.write_value(w, x)
        tg.run()
    except (RuntimeError, OSError) as e:  # the tools are missing, failed or printed garbage
        print(f"ERROR {e}")
        print(f"e2e-ops[{label}]: 0 passed, {len(suite.cases)} failed")
        return 1

    failures = []
    for c in suite.cases:
        got = tg.read_value(c.v)
        if c.v.dtype != c.dtype:
            failures.append(f"{c.label}: traced dtype {c.v.dtype}, the contract says {c.dtype}")
        elif not matches(c.dtype, c.expected, got, c.ulps):
            tolerance = f" (within {c.ulps} ulp)" if c.ulps else ""
            failures.append(f"{c.label}: expected {show(c.dtype, c.expected)}{tolerance}, got {show(c.dtype, got)}")
    for f in failures:
        print("FAIL", f)
    print(f"e2e-ops[{label}]: {len(suite.cases) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
