/*
 * Runs the kinematics program that copapy_add_program() embedded as a C
 * array (kinematics.h) on this machine: the steps firmware takes, with POSIX
 * memory protection in place of a linker script.
 *
 *   run_kinematics [THETA1 THETA2]     prints {"x": ..., "y": ...}
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */

#include <copapy/image.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kinematics.h"

static float load_float(const uint8_t *p) {
    uint32_t bits = cp_read_u32(p);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static void store_float(uint8_t *p, float f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    cp_write_u32(p, bits);
}

static int fail(const char *what, cp_status status) {
    fprintf(stderr, "run_kinematics: %s: %s\n", what, cp_status_message(status));
    return 1;
}

int main(int argc, char **argv) {
    cp_image image;
    cp_status status = cp_image_open(&image, kinematics_image, sizeof kinematics_image);
    if (status != CP_OK) return fail("cp_image_open", status);

    /* One mapping, code pages first, then the data: x86-64 code reaches its
     * data RIP-relative, so both must be within 2 GiB. Page alignment covers
     * KINEMATICS_CODE_ALIGN and KINEMATICS_DATA_ALIGN. */
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t code_span = (KINEMATICS_CODE_SIZE + page - 1) / page * page;
    uint8_t *code = mmap(NULL, code_span + KINEMATICS_DATA_SIZE, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED) {
        perror("run_kinematics: mmap");
        return 1;
    }
    uint8_t *data = code + code_span;
    status = cp_image_load(&image, code, code_span, data, KINEMATICS_DATA_SIZE);
    if (status != CP_OK) return fail("cp_image_load", status);

    if (argc == 3) {
        store_float(data + KINEMATICS_OFFSET_theta1, strtof(argv[1], NULL));
        store_float(data + KINEMATICS_OFFSET_theta2, strtof(argv[2], NULL));
    }
    /* Written, now executable: never both at once. */
    if (mprotect(code, code_span, PROT_READ | PROT_EXEC) != 0) {
        perror("run_kinematics: mprotect");
        return 1;
    }
    cp_flush_icache(code, code + KINEMATICS_CODE_SIZE);
    cp_entry_fn entry = (cp_entry_fn)cp_image_entry_address(&image, code);
    entry(data);

    printf("{\"x\": %.9g, \"y\": %.9g}\n", load_float(data + KINEMATICS_OFFSET_x),
           load_float(data + KINEMATICS_OFFSET_y));
    return 0;
}
