/*
 * Device registers for images with bound inputs and outputs (copapy-cc build
 * --bind): `coparun --poke ADDR:WIDTH=VALUE` writes a register before the
 * runs, `--peek ADDR:WIDTH` reads one after them. On a board the addresses
 * are the machine's own; on Linux (natively or under qemu-user) coparun
 * first maps zeroed read/write memory at each page the addresses touch, so
 * a bound program can be tried on a host as if its registers were RAM.
 */
#define _DEFAULT_SOURCE

#include "coparun.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if !defined(COPAPY_BARE_METAL)
#include <sys/mman.h>
#include <unistd.h>
#endif

/* A whole number as copapy-cc's --bind writes addresses: decimal, or 0x hex,
 * with optional '_' between digits (no octal: a leading 0 is just a 0), up
 * to `stop` or the end. Returns the character after it, or NULL. */
static const char *parse_number(const char *p, char stop, unsigned long long max, unsigned long long *out) {
    const int hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
    const unsigned base = hex ? 16u : 10u;
    unsigned long long v = 0;
    int digits = 0;
    if (hex) p += 2;
    for (; *p != '\0' && *p != stop; ++p) {
        unsigned d;
        if (*p == '_' && digits > 0 && p[1] != '\0' && p[1] != stop && p[1] != '_') continue;
        if (*p >= '0' && *p <= '9') d = (unsigned)(*p - '0');
        else if (hex && *p >= 'a' && *p <= 'f') d = (unsigned)(*p - 'a' + 10);
        else if (hex && *p >= 'A' && *p <= 'F') d = (unsigned)(*p - 'A' + 10);
        else return NULL;
        if (v > (max - d) / base) return NULL;
        v = v * base + d;
        ++digits;
    }
    if (digits == 0) return NULL;
    *out = v;
    return p;
}

/* "0x4000_1000:16" (and "=VALUE" with with_value). 0 if malformed. */
int coparun_parse_register(const char *text, struct coparun_register *r, int with_value) {
    unsigned long long addr, width, value = 0;
    const char *p = parse_number(text, ':', UINT32_MAX, &addr);
    if (p == NULL || *p != ':') return 0;
    p = parse_number(p + 1, with_value ? '=' : '\0', 32, &width);
    if (p == NULL || (width != 8 && width != 16 && width != 32) || addr % (width / 8) != 0) return 0;
    if (with_value) {
        if (*p != '=') return 0;
        ++p;
        if (*p == '#') { /* the bits in hex, as for --set */
            size_t n = strlen(++p);
            char *end;
            if (n == 0 || n > 8 || strspn(p, "0123456789abcdefABCDEF") != n) return 0;
            value = strtoull(p, &end, 16);
            p = end;
        } else if ((p = parse_number(p, '\0', UINT32_MAX, &value)) == NULL) {
            return 0;
        }
        if (width < 32 && value >> width != 0) return 0;
    }
    if (*p != '\0') return 0;
    r->address = (uint32_t)addr;
    r->width = (unsigned)width;
    r->value = (uint32_t)value;
    return 1;
}

#if defined(COPAPY_BARE_METAL)
int coparun_map_registers(const struct coparun_register *regs, size_t count, char *error, size_t error_size) {
    (void)regs, (void)count, (void)error, (void)error_size;
    return 0; /* the board's own addresses */
}
#else
/* Pages mapped so far (a handful: one per distinct page of the registers). */
static uintptr_t *mapped;
static size_t mapped_count;

int coparun_map_registers(const struct coparun_register *regs, size_t count, char *error, size_t error_size) {
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    size_t i, k;
    for (i = 0; i < count; ++i) {
        const uintptr_t base = (uintptr_t)regs[i].address & ~(page - 1);
        void *p;
        for (k = 0; k < mapped_count && mapped[k] != base; ++k) {
        }
        if (k < mapped_count) continue;
        /* A hint, not MAP_FIXED: an address already in use is refused, never replaced. */
        p = mmap((void *)base, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED || (uintptr_t)p != base) {
            if (p != MAP_FAILED) munmap(p, page);
            snprintf(error, error_size, "cannot map device memory at %#lx (the page is in use or not mappable here)",
                     (unsigned long)base);
            return -1;
        }
        uintptr_t *grown = realloc(mapped, (mapped_count + 1) * sizeof *mapped);
        if (grown == NULL) {
            munmap(p, page);
            snprintf(error, error_size, "out of memory");
            return -1;
        }
        mapped = grown;
        mapped[mapped_count++] = base;
    }
    return 0;
}
#endif

void coparun_poke(const struct coparun_register *r) {
    const uintptr_t a = r->address;
    if (r->width == 8) *(volatile uint8_t *)a = (uint8_t)r->value;
    else if (r->width == 16) *(volatile uint16_t *)a = (uint16_t)r->value;
    else *(volatile uint32_t *)a = r->value;
}

uint32_t coparun_peek(const struct coparun_register *r) {
    const uintptr_t a = r->address;
    if (r->width == 8) return *(volatile uint8_t *)a;
    if (r->width == 16) return *(volatile uint16_t *)a;
    return *(volatile uint32_t *)a;
}
