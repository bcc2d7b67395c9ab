/*
 * The POSIX host loader (include/copapy/host.h): owns the memory and the page
 * protections around lib/runtime, which validates and patches. One
 * implementation serves coparun (linked statically, also into the cross
 * runners) and libcopapy-runtime.so (loaded by the Python tracer with ctypes
 * to run host images in its own process).
 *
 * Not part of the copapy_runtime library proper: that one must stay free of
 * libc and of memory management for firmware; this file uses malloc, mmap and
 * mprotect.
 *
 * Built with COPAPY_BARE_METAL (the semihosting runners, tools/coparun) it
 * serves a machine without an OS: the memory comes from malloc, there are
 * no page protections to change (an M-profile core without an MPU set up
 * executes from RAM), and fixed-address images are refused (firmware that
 * owns its memory map places those itself). Everything else is shared.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS on glibc (not in POSIX 2008) */

#include <copapy/host.h>
#include <copapy/image.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if !defined(COPAPY_BARE_METAL)
#include <sys/mman.h>
#include <unistd.h>

#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS MAP_ANON
#endif
/* Linux 4.17: map exactly there or fail with EEXIST, never over a mapping
 * that exists. Older kernels ignore the bit and treat the address as a hint,
 * which map_at() notices. */
#if defined(__linux__) && !defined(MAP_FIXED_NOREPLACE)
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#endif /* !COPAPY_BARE_METAL */

struct cp_host_image {
    cp_image image;  /* points into `bytes` (symbol names too) */
    uint8_t *bytes;  /* our copy of the image file */
    void *map;       /* the one mapping: [slack for alignment][code pages][data] */
    size_t map_len;
    void *data_map;  /* fixed-address images: the data's own mapping (the code's is `map`) */
    size_t data_map_len;
    uint8_t *code, *data;
    size_t code_span, data_span;
    uint8_t *exec;   /* the whole pages made read+execute */
    size_t exec_len;
    cp_entry_fn entry;
};

int cp_host_api_version(void) { return CP_HOST_API_VERSION; }

const char *cp_host_target_name(unsigned target) {
    switch (target) {
    case CP_TARGET_X86_64: return "x86_64";
    case CP_TARGET_AARCH64: return "aarch64";
    case CP_TARGET_ARMV7: return "armv7";
    case CP_TARGET_THUMBV7: return "thumbv7";
    case CP_TARGET_THUMBV7EM: return "thumbv7em";
    case CP_TARGET_RISCV64: return "riscv64";
    case CP_TARGET_X86: return "x86";
    case CP_TARGET_ARMV6: return "armv6";
    case CP_TARGET_RISCV32: return "riscv32";
    default: return "unknown";
    }
}

/* 32-bit Arm Linux runs ARM-state and Thumb-2 code alike; the Cortex-M4 code
 * is Thumb-2 with single-precision VFP, which an ARMv7-A with VFP executes too. */
int cp_host_runs(unsigned target) {
#if defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M' && defined(__ARM_FP)
    return target == CP_TARGET_THUMBV7EM; /* a Cortex-M4F (coparun-semihost-thumbv7em) */
#elif defined(__x86_64__)
    return target == CP_TARGET_X86_64;
#elif defined(__aarch64__)
    return target == CP_TARGET_AARCH64;
#elif defined(__arm__) && __ARM_ARCH >= 7
    return target == CP_TARGET_ARMV7 || target == CP_TARGET_THUMBV7 || target == CP_TARGET_THUMBV7EM ||
           target == CP_TARGET_ARMV6;
#elif defined(__arm__)
    return target == CP_TARGET_ARMV6; /* an ARMv6 build (coparun-armv6): no Thumb-2, no ARMv7 */
#elif defined(__riscv) && __riscv_xlen == 64
    return target == CP_TARGET_RISCV64;
#elif defined(__riscv) && __riscv_xlen == 32
    return target == CP_TARGET_RISCV32; /* bare metal (coparun-semihost-riscv32) */
#elif defined(__i386__)
    return target == CP_TARGET_X86;
#else
    (void)target;
    return 0;
#endif
}

const char *cp_host_name(void) {
#if defined(__x86_64__)
    return "x86_64";
#elif defined(__aarch64__)
    return "aarch64";
#elif defined(__arm__)
    return "32-bit arm";
#elif defined(__riscv) && __riscv_xlen == 64
    return "riscv64";
#elif defined(__riscv) && __riscv_xlen == 32
    return "riscv32";
#elif defined(__i386__)
    return "32-bit x86";
#else
    return "this";
#endif
}

#if defined(__GNUC__)
static void set_error(char *error, size_t error_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#endif
static void set_error(char *error, size_t error_size, const char *fmt, ...) {
    va_list ap;
    if (error == NULL || error_size == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(error, error_size, fmt, ap);
    va_end(ap);
}

/* An image for another machine is reported as such whenever it is intact as
 * far as the format goes (magic, version, size, checksum): a failure of the
 * deeper, target-specific checks then most likely means the target field was
 * rewritten, and "wrong machine" is the actionable message either way. */
static int check_image(cp_image *img, const uint8_t *bytes, size_t size, char *error, size_t error_size) {
    const cp_status st = cp_image_open(img, bytes, size);
    const int intact = size >= CP_HEADER_SIZE && st != CP_ERR_MAGIC && st != CP_ERR_TRUNCATED &&
                       st != CP_ERR_VERSION && st != CP_ERR_CHECKSUM;
    const unsigned target = intact ? cp_read_u16(bytes + CP_HDR_TARGET) : 0;
    if (intact && target >= CP_TARGET_X86_64 && target <= CP_TARGET_LAST && !cp_host_runs(target)) {
        set_error(error, error_size, "image is for %s, but this runner executes %s code", cp_host_target_name(target),
                  cp_host_name());
        return 0;
    }
    if (st == CP_ERR_VERSION) {
        const unsigned version = cp_read_u16(bytes + CP_HDR_VERSION);
        set_error(error, error_size, "%s %u (this runner reads version %d): %s", cp_status_message(st), version,
                  CP_IMAGE_VERSION, version < CP_IMAGE_VERSION ? "rebuild the image with this copapy-cc" : "use a newer runner");
        return 0;
    }
    if (st != CP_OK) {
        set_error(error, error_size, "%s", cp_status_message(st));
        return 0;
    }
    return 1;
}

static uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

#if defined(COPAPY_BARE_METAL)
/* ---- Memory without an OS ------------------------------------------------ */

static int map_fixed(cp_host_image *h, char *error, size_t error_size) {
    (void)h;
    set_error(error, error_size,
              "fixed-address image: this bare-metal runner loads relocatable images only (firmware that owns "
              "the memory map places a fixed-address image itself)");
    return 0;
}

static int map_memory(cp_host_image *h, char *error, size_t error_size) {
    const cp_image *img = &h->image;
    uint64_t align = img->code_align > img->data_align ? img->code_align : img->data_align, code_span, len;
    if (align < 8) align = 8;
    code_span = round_up(img->code_size ? img->code_size : 1u, img->data_align ? img->data_align : 1u);
    len = align + code_span + (img->data_size ? img->data_size : 1u);
    if (len > (uint64_t)SIZE_MAX / 2 || (h->map = malloc((size_t)len)) == NULL) {
        set_error(error, error_size, "out of memory: the image needs %llu bytes", (unsigned long long)len);
        return 0;
    }
    h->map_len = (size_t)len;
    h->code = (uint8_t *)(uintptr_t)round_up((uintptr_t)h->map, align);
    h->code_span = (size_t)code_span;
    h->data = h->code + h->code_span;
    h->data_span = (size_t)(len - (uint64_t)(h->data - (uint8_t *)h->map));
    h->exec = h->code;
    h->exec_len = h->code_span;
    return 1;
}

static int make_executable(cp_host_image *h, char *error, size_t error_size) {
    (void)h, (void)error, (void)error_size;
    return 1;
}

static void unmap(cp_host_image *h) { free(h->map); }

#else
/* ---- Memory from the OS: mmap, W^X -------------------------------------- */

static uint64_t page_size(void) {
    const long page = sysconf(_SC_PAGESIZE);
    return page > 0 ? (uint64_t)page : 4096u;
}

#if defined(MAP_FIXED_NOREPLACE)
/* Maps the whole pages around [at, at + size) read+write at exactly that
 * place, or says why not. */
static void *map_at(const char *what, uint64_t at, uint64_t size, size_t *len, char *error, size_t error_size) {
    const uint64_t page = page_size();
    const uint64_t first = at / page * page;
    const uint64_t end = round_up(at + (size ? size : 1u), page);
    void *p;
    if (end > (uint64_t)(uintptr_t)-1 || end < at) {
        set_error(error, error_size, "fixed-address image: the %s at %#llx is outside this host's address space", what,
                  (unsigned long long)at);
        return NULL;
    }
    *len = (size_t)(end - first);
    p = mmap((void *)(uintptr_t)first, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
             -1, 0);
    if (p == MAP_FAILED) {
        const int e = errno;
        set_error(error, error_size, "fixed-address image: cannot map the %s at %#llx, where it was built to run: %s%s",
                  what, (unsigned long long)at, strerror(e),
                  e == EEXIST ? " (that address range is already in use in this process)"
                  : e == EPERM || e == EACCES ? " (the system does not allow mappings there, see vm.mmap_min_addr)"
                  : "");
        return NULL;
    }
    if ((uintptr_t)p != (uintptr_t)first) { /* a kernel older than 4.17 took the address as a hint */
        munmap(p, *len);
        set_error(error, error_size,
                  "fixed-address image: cannot map the %s at %#llx, where it was built to run: the address range is "
                  "in use or this kernel cannot map at a fixed address without replacing what is there",
                  what, (unsigned long long)at);
        return NULL;
    }
    return p;
}
#endif

/* A fixed-address image runs only where it was resolved for: code and data
 * each get their own mapping at exactly those addresses. */
static int map_fixed(cp_host_image *h, char *error, size_t error_size) {
#if defined(MAP_FIXED_NOREPLACE)
    const cp_image *img = &h->image;
    const uint64_t page = page_size();
    const uint64_t code_end = round_up(img->code_addr + img->code_size, page);
    const uint64_t data_first = img->data_addr / page * page;
    /* W^X needs the code on pages of its own. */
    if (img->data_size != 0 && data_first < code_end && img->code_addr / page * page < img->data_addr + img->data_size) {
        set_error(error, error_size,
                  "fixed-address image: code at %#llx and data at %#llx share a %llu-byte page, which cannot be "
                  "read+execute and writable at once; build it with the data on other pages",
                  (unsigned long long)img->code_addr, (unsigned long long)img->data_addr, (unsigned long long)page);
        return 0;
    }
    h->map = map_at("code", img->code_addr, img->code_size, &h->map_len, error, error_size);
    if (h->map == NULL) {
        return 0;
    }
    h->code = (uint8_t *)(uintptr_t)img->code_addr;
    h->code_span = (size_t)((uint64_t)(uintptr_t)h->map + h->map_len - img->code_addr);
    h->exec = (uint8_t *)h->map;
    h->exec_len = h->map_len;
    if (img->data_size == 0) {
        h->data = h->code + img->code_size; /* not used: nothing to read or write */
        h->data_span = 0;
        return 1;
    }
    h->data_map = map_at("data", img->data_addr, img->data_size, &h->data_map_len, error, error_size);
    if (h->data_map == NULL) {
        return 0;
    }
    h->data = (uint8_t *)(uintptr_t)img->data_addr;
    h->data_span = (size_t)((uint64_t)(uintptr_t)h->data_map + h->data_map_len - img->data_addr);
    return 1;
#else
    (void)h;
    set_error(error, error_size,
              "fixed-address image: this system cannot map memory at a given address without replacing what is "
              "there, so the image cannot run here");
    return 0;
#endif
}

static int map_memory(cp_host_image *h, char *error, size_t error_size) {
    const cp_image *img = &h->image;
    const uint64_t page = page_size();
    uint64_t align = page, code_span, data_span, len;
    uintptr_t base;
    if (img->code_align > align) align = img->code_align;
    if (img->data_align > align) align = img->data_align;
    /* Data starts right after the code pages, aligned for both; the code
     * span is whole pages so that its protection changes alone. */
    code_span = round_up(img->code_size ? img->code_size : 1u, img->data_align > page ? img->data_align : page);
    data_span = round_up(img->data_size ? img->data_size : 1u, page);
    len = (align - page) + code_span + data_span; /* mmap gives page alignment */
    if (len > (uint64_t)SIZE_MAX / 2) {
        set_error(error, error_size, "image too large for this host's address space");
        return 0;
    }
    h->map_len = (size_t)len;
    h->map = mmap(NULL, h->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (h->map == MAP_FAILED) {
        h->map = NULL;
        set_error(error, error_size, "cannot map %zu bytes: %s", h->map_len, strerror(errno));
        return 0;
    }
    base = (uintptr_t)round_up((uintptr_t)h->map, align);
    h->code = (uint8_t *)h->map + (base - (uintptr_t)h->map);
    h->code_span = (size_t)code_span;
    h->data = h->code + h->code_span;
    h->data_span = (size_t)data_span;
    h->exec = h->code;
    h->exec_len = h->code_span;
    return 1;
}

/* W^X: the code stops being writable before it becomes executable. */
static int make_executable(cp_host_image *h, char *error, size_t error_size) {
    if (mprotect(h->exec, h->exec_len, PROT_READ | PROT_EXEC) != 0) {
        set_error(error, error_size, "cannot make the code executable: %s", strerror(errno));
        return 0;
    }
    return 1;
}

static void unmap(cp_host_image *h) {
    if (h->map != NULL) {
        munmap(h->map, h->map_len);
    }
    if (h->data_map != NULL) {
        munmap(h->data_map, h->data_map_len);
    }
}
#endif /* COPAPY_BARE_METAL */

cp_host_image *cp_host_load(const void *bytes, size_t size, char *error, size_t error_size) {
    cp_host_image *h;
    cp_status st;
    uintptr_t address;
    if (error != NULL && error_size > 0) {
        error[0] = '\0';
    }
    if (bytes == NULL && size != 0) {
        set_error(error, error_size, "no image bytes given");
        return NULL;
    }
    h = calloc(1, sizeof *h);
    /* One byte more than needed: never a zero-sized allocation. */
    if (h == NULL || size == SIZE_MAX || (h->bytes = malloc(size + 1u)) == NULL) {
        free(h);
        set_error(error, error_size, "out of memory");
        return NULL;
    }
    memcpy(h->bytes, size != 0 ? bytes : (const void *)"", size);
    h->bytes[size] = 0;
    if (!check_image(&h->image, h->bytes, size, error, error_size) ||
        !((h->image.flags & CP_FLAG_FIXED_ADDR) ? map_fixed(h, error, error_size) : map_memory(h, error, error_size))) {
        cp_host_free(h);
        return NULL;
    }
    st = cp_image_load(&h->image, h->code, h->code_span, h->data, h->data_span);
    if (st != CP_OK) {
        set_error(error, error_size, "cannot load: %s", cp_status_message(st));
        cp_host_free(h);
        return NULL;
    }
    if (!make_executable(h, error, error_size)) {
        cp_host_free(h);
        return NULL;
    }
    cp_flush_icache(h->code, h->code + h->image.code_size);
    /* POSIX guarantees that data addresses convert to function pointers; the
     * entry address carries the Thumb bit where needed. */
    address = cp_image_entry_address(&h->image, h->code);
    h->entry = (cp_entry_fn)address;
    return h;
}

void cp_host_free(cp_host_image *h) {
    if (h == NULL) {
        return;
    }
    unmap(h);
    free(h->bytes);
    free(h);
}

uint8_t *cp_host_data(const cp_host_image *h) { return h->data; }
uint32_t cp_host_data_size(const cp_host_image *h) { return h->image.data_size; }
const uint8_t *cp_host_code(const cp_host_image *h) { return h->code; }
uint32_t cp_host_code_size(const cp_host_image *h) { return h->image.code_size; }
unsigned cp_host_target(const cp_host_image *h) { return h->image.target; }
uint32_t cp_host_symbol_count(const cp_host_image *h) { return h->image.symbol_count; }

int cp_host_symbol(const cp_host_image *h, uint32_t index, const char **name, uint32_t *offset, unsigned *dtype,
                   unsigned *flags) {
    cp_symbol sym;
    if (cp_image_symbol(&h->image, index, &sym) != CP_OK) {
        return -1;
    }
    if (name != NULL) *name = sym.name;
    if (offset != NULL) *offset = sym.offset;
    if (dtype != NULL) *dtype = sym.dtype;
    if (flags != NULL) *flags = sym.flags;
    return 0;
}

int cp_host_symbol_allows(const cp_host_image *h, uint32_t index, uint32_t bits) {
    cp_symbol sym;
    if (cp_image_symbol(&h->image, index, &sym) != CP_OK) {
        return -1;
    }
    return cp_symbol_allows(&sym, bits);
}

int cp_host_symbol_range(const cp_host_image *h, uint32_t index, uint32_t *lo, uint32_t *hi) {
    cp_symbol sym;
    if (cp_image_symbol(&h->image, index, &sym) != CP_OK) {
        return -1;
    }
    if (!(sym.flags & CP_SYM_RANGE)) {
        return 0;
    }
    if (lo != NULL) *lo = sym.lo;
    if (hi != NULL) *hi = sym.hi;
    return 1;
}

void cp_host_run(cp_host_image *h, uint64_t count) {
    const cp_entry_fn entry = h->entry;
    uint64_t i;
    for (i = 0; i < count; ++i) {
        entry(h->data);
    }
}

/* A whole, aligned 4-byte slot of the data region (as the symbols are). */
static int valid_slot(const cp_host_image *h, uint32_t offset) {
    return (offset & 3u) == 0 && (uint64_t)offset + 4u <= h->image.data_size;
}

int cp_host_run_batch(cp_host_image *h, uint64_t periods, const uint32_t *writes, const uint32_t *offsets,
                      const uint32_t *bits, uint32_t out_count, const uint32_t *out_offsets, uint32_t *out_bits) {
    uint64_t p, total = 0, k;
    uint32_t i;
    /* Everything is checked before the first period runs, so that a bad
     * request leaves the data region as it was. */
    for (p = 0; p < periods; ++p) {
        total += writes[p];
    }
    for (k = 0; k < total; ++k) {
        if (!valid_slot(h, offsets[k])) {
            return -1;
        }
    }
    for (i = 0; i < out_count; ++i) {
        if (!valid_slot(h, out_offsets[i])) {
            return -1;
        }
    }
    k = 0;
    for (p = 0; p < periods; ++p) {
        const uint64_t end = k + writes[p];
        for (; k < end; ++k) {
            cp_write_u32(h->data + offsets[k], bits[k]); /* the image is little-endian */
        }
        h->entry(h->data);
        for (i = 0; i < out_count; ++i) {
            out_bits[p * out_count + i] = cp_read_u32(h->data + out_offsets[i]);
        }
    }
    return 0;
}

int cp_host_run_columns(cp_host_image *h, uint64_t periods, uint32_t in_count, const uint32_t *in_offsets,
                        const uint32_t *in_bits, uint32_t out_count, const uint32_t *out_offsets,
                        uint32_t *out_bits) {
    const cp_entry_fn entry = h->entry;
    uint8_t *const data = h->data;
    uint64_t p;
    uint32_t i;
    for (i = 0; i < in_count; ++i) {
        if (!valid_slot(h, in_offsets[i])) {
            return -1;
        }
    }
    for (i = 0; i < out_count; ++i) {
        if (!valid_slot(h, out_offsets[i])) {
            return -1;
        }
    }
    for (p = 0; p < periods; ++p) {
        for (i = 0; i < in_count; ++i) {
            cp_write_u32(data + in_offsets[i], in_bits[i * periods + p]); /* the image is little-endian */
        }
        entry(h->data);
        for (i = 0; i < out_count; ++i) {
            out_bits[i * periods + p] = cp_read_u32(data + out_offsets[i]);
        }
    }
    return 0;
}
