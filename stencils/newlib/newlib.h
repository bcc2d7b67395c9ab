/* newlib's configure-generated header, reduced to what its single-precision
 * math functions read (stencils/CMakeLists.txt, copapy_build_newlib_math):
 * built for the stencils, not as a C library. */
#ifndef __NEWLIB_H__
#define __NEWLIB_H__ 1
#define _NEWLIB_VERSION "3.3.0"
#define __NEWLIB__ 3
#define __NEWLIB_MINOR__ 3
#define __NEWLIB_PATCHLEVEL__ 0
/* arm-none-eabi: long double is double (RISC-V's is 128-bit). */
#if defined(__arm__)
#define _LDBL_EQ_DBL 1
#endif
#endif
