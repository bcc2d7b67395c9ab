/*
 * Running copapy images in the calling process on a POSIX host: the loader
 * shared by coparun and by libcopapy-runtime.so (which the Python tracer
 * loads with ctypes). lib/runtime itself stays free of libc and of memory
 * management so that firmware can use it; this layer owns the mapping and the
 * page protections on top of it.
 *
 * Memory: one anonymous mapping holds the code, rounded up to whole pages,
 * followed by the data. Code and data are thus in the same block (within
 * +-2 GiB for x86-64 rel32 and +-4 GiB for AArch64 ADRP) and the code pages
 * are switched from read+write to read+execute before anything runs, without
 * touching the data: the code is never writable and executable at once.
 *
 * The API is deliberately small and made of plain C types so that a foreign
 * function interface (Python's ctypes) can call it without a header parser.
 */
#ifndef COPAPY_HOST_H
#define COPAPY_HOST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CP_HOST_API __attribute__((visibility("default")))
#else
#define CP_HOST_API
#endif

/* Version of this API (cp_host_api_version): bumped on any change a caller
 * may depend on, so that it can refuse a library it does not understand.
 * 2: cp_host_run_columns. 3: cp_host_symbol_range and cp_host_symbol_allows
 * (declared ranges). */
#define CP_HOST_API_VERSION 3

/* An image loaded for execution: validated, copied, patched, code read+execute. */
typedef struct cp_host_image cp_host_image;

CP_HOST_API int cp_host_api_version(void);

/* Validates `bytes` (any alignment; they are copied, so the caller may free
 * them afterwards), maps memory, loads and patches the image, makes its code
 * read+execute and flushes the instruction cache. Returns NULL on failure and
 * writes a lower-case message without a trailing period into `error`
 * (NUL-terminated, truncated to `error_size` bytes; may be NULL), e.g.
 * "checksum mismatch: the image is corrupted" or "image is for aarch64, but
 * this runner executes x86_64 code". */
CP_HOST_API cp_host_image *cp_host_load(const void *bytes, size_t size, char *error, size_t error_size);

/* Unmaps the image and frees everything cp_host_load allocated. NULL is a no-op. */
CP_HOST_API void cp_host_free(cp_host_image *image);

/* The data region (read+write; inputs, outputs and states live here, each a
 * little-endian 4-byte value at its symbol's offset) and its size in bytes. */
CP_HOST_API uint8_t *cp_host_data(const cp_host_image *image);
CP_HOST_API uint32_t cp_host_data_size(const cp_host_image *image);

/* Where the code was loaded and how many bytes of it there are (for
 * diagnostics and tests: the pages in [code, code + size) are read+execute). */
CP_HOST_API const uint8_t *cp_host_code(const cp_host_image *image);
CP_HOST_API uint32_t cp_host_code_size(const cp_host_image *image);

/* The target recorded in the image (enum cp_target). */
CP_HOST_API unsigned cp_host_target(const cp_host_image *image);

/* Symbol table access: the number of named values, and the name, data
 * offset, dtype (enum cp_dtype) and flags (enum cp_symbol_flags) of entry
 * `index`. Returns 0 on success, -1 if `index` is out of range. The name
 * stays valid until cp_host_free. */
CP_HOST_API uint32_t cp_host_symbol_count(const cp_host_image *image);
CP_HOST_API int cp_host_symbol(const cp_host_image *image, uint32_t index, const char **name, uint32_t *offset,
                               unsigned *dtype, unsigned *flags);

/* Whether `bits` (a 4-byte value of the symbol's dtype) lies inside the
 * declared range of symbol `index` (CP_SYM_RANGE in its flags): 1 if it does
 * or the symbol declares none, 0 if it does not (the compiler assumed the
 * range, so a host must not write such a value), -1 if `index` is out of
 * range. */
CP_HOST_API int cp_host_symbol_allows(const cp_host_image *image, uint32_t index, uint32_t bits);

/* The declared range of symbol `index` as its dtype's 32-bit patterns: 1 and
 * *lo, *hi if it declares one, 0 if it does not, -1 if `index` is out of
 * range. */
CP_HOST_API int cp_host_symbol_range(const cp_host_image *image, uint32_t index, uint32_t *lo, uint32_t *hi);

/* Calls the entry point `count` times (0 does nothing). */
CP_HOST_API void cp_host_run(cp_host_image *image, uint64_t count);

/* Runs `periods` periods. Before period p it writes writes[p] values: the
 * next writes[p] entries of (offsets, bits), each a 4-byte value at a data
 * offset; after the period it reads the `out_count` values at `out_offsets`
 * into out_bits[p * out_count ...]. Every offset is checked against the data
 * region first: returns 0 on success, -1 (and runs nothing) if one is out of
 * bounds or misaligned. */
CP_HOST_API int cp_host_run_batch(cp_host_image *image, uint64_t periods, const uint32_t *writes,
                                  const uint32_t *offsets, const uint32_t *bits, uint32_t out_count,
                                  const uint32_t *out_offsets, uint32_t *out_bits);

/* Runs `periods` periods over columns of values: before period p it writes
 * in_bits[i * periods + p] at in_offsets[i] for each of the `in_count`
 * inputs; after it, it reads the value at out_offsets[o] into
 * out_bits[o * periods + p]. Column-major, so that a caller holding one
 * sequence per signal (a simulation's inputs and outputs over time) passes
 * and gets them without interleaving. Every offset is checked against the
 * data region first: returns 0 on success, -1 (and runs nothing) if one is
 * out of bounds or misaligned. */
CP_HOST_API int cp_host_run_columns(cp_host_image *image, uint64_t periods, uint32_t in_count,
                                    const uint32_t *in_offsets, const uint32_t *in_bits, uint32_t out_count,
                                    const uint32_t *out_offsets, uint32_t *out_bits);

/* Can this host execute code of `target` (enum cp_target)? */
CP_HOST_API int cp_host_runs(unsigned target);
/* Short names: "x86_64", ... for a target; "32-bit arm" etc. for the host. */
CP_HOST_API const char *cp_host_target_name(unsigned target);
CP_HOST_API const char *cp_host_name(void);

#ifdef __cplusplus
}
#endif
#endif /* COPAPY_HOST_H */
