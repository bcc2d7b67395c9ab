/* __ieee754_sqrtf for newlib's single-precision functions (asinf, acosf,
 * hypotf call it) on a core whose FPU has a square root instruction (the
 * Cortex-M4's vsqrt.f32, RISC-V F's fsqrt.s): correctly rounded like
 * fdlibm's bit-by-bit loop, which it replaces, and about 5x faster there.
 * Built with -fno-math-errno, so the builtin is the instruction alone. */
float __ieee754_sqrtf(float x) { return __builtin_sqrtf(x); }
