/*
 * Bare-metal firmware (Cortex-M4F, QEMU mps2-an386) that runs the kinematics
 * program from kinematics.h: an image copapy-cc resolved for fixed addresses
 * (copapy_add_program(... CODE_ADDR DATA_ADDR)), so it has no patches and the
 * firmware only copies code and data to those addresses.
 *
 * Prints each result as the bits of the binary32 values (exact, and no float
 * printf needed) over semihosting; exits with 0 if everything went well.
 */
#include <copapy/image.h>
#include <stdio.h>
#include <string.h>

#include "kinematics.h"

static void store_float(uint8_t *p, float f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    cp_write_u32(p, bits);
}

static void run(const cp_image *image, uint8_t *code, uint8_t *data) {
    cp_entry_fn entry = (cp_entry_fn)cp_image_entry_address(image, code);
    entry(data);
    printf("x=0x%08lx y=0x%08lx\n", (unsigned long)cp_read_u32(data + KINEMATICS_OFFSET_x),
           (unsigned long)cp_read_u32(data + KINEMATICS_OFFSET_y));
}

int main(void) {
    cp_image image;
    cp_status status = cp_image_open(&image, kinematics_image, sizeof kinematics_image);
    if (status == CP_OK && !(image.flags & CP_FLAG_FIXED_ADDR)) status = CP_ERR_LAYOUT;
    /* The addresses the image was resolved for: outside the firmware's own RAM. */
    uint8_t *code = (uint8_t *)KINEMATICS_CODE_ADDR;
    uint8_t *data = (uint8_t *)KINEMATICS_DATA_ADDR;
    if (status == CP_OK) status = cp_image_load(&image, code, KINEMATICS_CODE_SIZE, data, KINEMATICS_DATA_SIZE);
    if (status != CP_OK) {
        printf("copapy: %s\n", cp_status_message(status));
        return 1;
    }
    /* The M4 has no caches, but the new code must be visible to the pipeline. */
    cp_flush_icache(code, code + KINEMATICS_CODE_SIZE);

    run(&image, code, data); /* the initial inputs: theta1 = 0.5, theta2 = -0.25 */
    store_float(data + KINEMATICS_OFFSET_theta1, 1.0f);
    store_float(data + KINEMATICS_OFFSET_theta2, 0.5f);
    run(&image, code, data);
    return 0;
}
