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

/* "0x40001000:16" (and "=VALUE" when value != NULL). 0 if malformed. */
int coparun_parse_register(const char *text, struct coparun_register *r, int with_value) {
    char *end;
    unsigned long long addr, width, value = 0;
    if (text[0] < '0' || text[0] > '9') return 0;
    errno = 0;
    addr = strtoull(text, &end, 0);
    if (errno != 0 || *end != ':' || addr > UINT32_MAX) return 0;
    text = end + 1;
    if (text[0] < '0' || text[0] > '9') return 0;
    width = strtoull(text, &end, 10);
    if (errno != 0 || (width != 8 && width != 16 && width != 32) || addr % (width / 8) != 0) return 0;
    if (with_value) {
        if (*end != '=') return 0;
        text = end + 1;
        if (text[0] == '#') {
            ++text;
            if (text[0] == '\0' || strlen(text) > 8 || strspn(text, "0123456789abcdefABCDEF") != strlen(text)) return 0;
            value = strtoull(text, &end, 16);
        } else {
            if (text[0] < '0' || text[0] > '9') return 0;
            value = strtoull(text, &end, 0);
        }
        if (errno != 0 || (width < 32 && value >> width != 0) || value > UINT32_MAX) return 0;
    }
    if (*end != '\0') return 0;
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
