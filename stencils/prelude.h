/*
 * Prelude of the generated stencil source (stencils.c, made by gen_stencils
 * from lib/ops/ops.def). Compiled freestanding by gcc for every target: no libc
 * headers, only gcc's <stdint.h>; math functions come from musl's libm, merged
 * into the stencil object after compilation.
 *
 * Helpers here implement Python's semantics where C differs (floor division,
 * modulo with the sign of the divisor) and define results where C has
 * undefined behaviour or traps (division by zero, INT_MIN / -1, float to int
 * overflow), so generated code never traps and behaves the same on every CPU.
 */
#ifndef COPAPY_STENCIL_PRELUDE_H
#define COPAPY_STENCIL_PRELUDE_H

#include <stdint.h>

/* Placeholders: the next stencil (one per register state) and the memory
 * operand of far stencils. They stay undefined in the object; the compiler
 * resolves them. Every stencil has the continuations' signature: r0 in i0 or
 * f0 by its class, r1 in i1 or f1 (lib/ops/ops.hpp). */
void result_ii(int32_t i0, int32_t i1, float f0, float f1);
void result_if(int32_t i0, int32_t i1, float f0, float f1);
void result_fi(int32_t i0, int32_t i1, float f0, float f1);
void result_ff(int32_t i0, int32_t i1, float f0, float f1);
extern int32_t cp_hole_i;
extern float cp_hole_f;

/* libm (musl) */
float expf(float);
float logf(float);
float sinf(float);
float cosf(float);
float tanf(float);
float asinf(float);
float acosf(float);
float atanf(float);
float atan2f(float, float);
float tanhf(float);
float hypotf(float, float);
float powf(float, float);
float fmodf(float, float);
float floorf(float);
float ceilf(float);
float truncf(float);

/* Memory-mapped I/O of bound inputs and outputs (lib/ops/ops.def, io_*): the
 * address is an operand's 32-bit pattern, the access volatile, so it happens
 * exactly as written, once, with the bound width. */
static inline uint32_t cp_addr_i(int32_t a) { return (uint32_t)a; }
static inline uint32_t cp_addr_f(float a) { uint32_t u; __builtin_memcpy(&u, &a, 4); return u; }
#define CP_IO(T, addr) (*(volatile T *)(uintptr_t)(addr))

/* Python a // b on int32: rounds toward minus infinity. b == 0 gives 0 and
 * INT_MIN // -1 wraps to INT_MIN (C would trap on x86 for both). */
static inline int32_t cp_floordiv_i(int32_t a, int32_t b) {
    if (b == 0) return 0;
    if (b == -1) return (int32_t)(0u - (uint32_t)a);
    int32_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1;
    return q;
}

/* Python a % b on int32: the result has the sign of b; b == 0 gives 0. */
static inline int32_t cp_mod_i(int32_t a, int32_t b) {
    if (b == 0 || b == -1) return 0;
    int32_t r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
}

/* Python's float modulo (CPython float_rem) in binary32: fmod, then moved to
 * the sign of the divisor; a zero result takes the divisor's sign. x % 0.0 is
 * NaN (fmod's IEEE result) instead of an exception. */
static inline float cp_mod_f(float a, float b) {
    float m = fmodf(a, b);
    if (m != 0.0f) {
        if ((b < 0.0f) != (m < 0.0f)) m += b;
    } else {
        m = __builtin_copysignf(0.0f, b);
    }
    return m;
}

/* Python's float floor division (CPython float_floor_div) in binary32.
 * x // 0.0 is x / 0.0 (IEEE: +-inf or NaN) instead of an exception. */
static inline float cp_floordiv_f(float a, float b) {
    if (b == 0.0f) return a / b;
    float m = fmodf(a, b);
    float d = (a - m) / b;
    if (m != 0.0f && ((b < 0.0f) != (m < 0.0f))) d -= 1.0f;
    if (d != 0.0f) {
        float f = __builtin_floorf(d);
        if (d - f > 0.5f) f += 1.0f;
        return f;
    }
    return __builtin_copysignf(0.0f, a / b);
}

/* Round to nearest, ties to even (Python's round(x, 0), numpy.round), in
 * plain binary32 arithmetic rather than rintf/roundevenf: musl 1.2.3 and
 * picolibc lack roundevenf, and rintf follows the dynamic rounding mode, so
 * this is the one definition that is the same on every target and in the
 * constant folder. For |x| < 2^23, |x| + 2^23 lies in [2^23, 2^24), where
 * binary32 spacing is 1, so the addition itself rounds to an integer with
 * ties to even (2^23 is even) and the subtraction is exact. |x| >= 2^23 is
 * already an integer; NaN and inf fail the comparison and pass through. The
 * sign is restored last, so round(-0.4) is -0.0 like numpy's. */
static inline float cp_round_f(float x) {
    float ax = __builtin_fabsf(x);
    if (!(ax < 8388608.0f)) return x;
    float r = (ax + 8388608.0f) - 8388608.0f;
    return __builtin_copysignf(r, x);
}

/* int ** non-negative int, wrapping (exponentiation by squaring). The compiler
 * only selects it for a constant exponent >= 0; a negative one yields 0. */
static inline int32_t cp_pow_i(int32_t a, int32_t b) {
    if (b < 0) return 0;
    uint32_t base = (uint32_t)a, r = 1;
    uint32_t e = (uint32_t)b;
    while (e) {
        if (e & 1u) r *= base;
        base *= base;
        e >>= 1;
    }
    return (int32_t)r;
}

/* float -> int: truncation toward zero, saturating, NaN -> 0 (C leaves the
 * out-of-range cases undefined and CPUs disagree on them). */
static inline int32_t cp_ftoi(float x) {
    if (x != x) return 0;
    if (x >= 2147483648.0f) return INT32_MAX;
    if (x <= -2147483648.0f) return INT32_MIN;
    return (int32_t)x;
}

#endif
