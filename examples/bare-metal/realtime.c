/*
 * A realtime loop on bare metal: a timer interrupt runs the copapy program
 * of realtime.py at a fixed rate, PERIODS times, while the processor idles
 * in between. The program reads its input from a device register and writes
 * its outputs to others itself (bound at compile time: copapy-cc --bind);
 * the firmware only loads the image (resolved for fixed addresses) and
 * calls its entry once per tick.
 *
 * Reports over the UART, after the program's own digits:
 *   periods=N overruns=O cycles: MIN..MAX
 *   cycles: c0 c1 ... (per period, the board's cycle counter)
 *   leds=L period=P filtered=0xHHHHHHHH
 * and exits with 0 (semihosting) if every period finished before the next
 * tick.
 */
#include <copapy/image.h>
#include <stdio.h>
#include <stdlib.h>

#include "board.h"
#include "realtime.h"

#define PERIODS 40
#define PERIOD_US 1000 /* 1 kHz */

static cp_entry_fn entry;
static volatile uint32_t done;
static uint32_t cycles[PERIODS];
static uint32_t overruns;

void realtime_period(void) {
    if (done == PERIODS) return; /* a tick that was pending when the timer stopped */
    const uint32_t start = board_cycles();
    entry((uint8_t *)REALTIME_DATA_ADDR);
    cycles[done] = board_cycles() - start;
    overruns += board_overran() != 0;
    if (++done == PERIODS) board_stop_timer();
}

static void put(const char *s) {
    while (*s) board_putc(*s++);
}

static void put_u32(uint32_t v) {
    char text[11];
    int n = 0;
    do text[n++] = (char)('0' + v % 10); while ((v /= 10) != 0);
    while (n > 0) board_putc(text[--n]);
}

static void put_hex(uint32_t v) {
    int k;
    put("0x");
    for (k = 28; k >= 0; k -= 4) board_putc("0123456789abcdef"[(v >> k) & 15]);
}

int main(void) {
    cp_image image;
    uint8_t *code = (uint8_t *)REALTIME_CODE_ADDR, *data = (uint8_t *)REALTIME_DATA_ADDR;
    cp_status status = cp_image_open(&image, realtime_image, sizeof realtime_image);
    if (status == CP_OK && !(image.flags & CP_FLAG_FIXED_ADDR)) status = CP_ERR_LAYOUT;
    if (status == CP_OK) status = cp_image_load(&image, code, REALTIME_CODE_SIZE, data, REALTIME_DATA_SIZE);
    if (status != CP_OK) {
        printf("copapy: %s\n", cp_status_message(status));
        return 1;
    }
    cp_flush_icache(code, code + REALTIME_CODE_SIZE);
    entry = (cp_entry_fn)cp_image_entry_address(&image, code);

    board_start_timer(PERIOD_US);
    /* Masked between the check and the wait: the last period's interrupt,
     * which stops the timer, cannot slip in between and leave the wait for
     * an interrupt that never comes. */
    board_mask_interrupts();
    while (done < PERIODS) {
        board_wait();
        board_unmask_interrupts(); /* the pending interrupt runs here */
        board_mask_interrupts();
    }
    board_unmask_interrupts();

    uint32_t lo = UINT32_MAX, hi = 0, k;
    for (k = 0; k < PERIODS; ++k) {
        lo = cycles[k] < lo ? cycles[k] : lo;
        hi = cycles[k] > hi ? cycles[k] : hi;
    }
    put("\nperiods=");
    put_u32(done);
    put(" overruns=");
    put_u32(overruns);
    put(" cycles: ");
    put_u32(lo);
    put("..");
    put_u32(hi);
    put("\ncycles:");
    for (k = 0; k < PERIODS; ++k) {
        board_putc(' ');
        put_u32(cycles[k]);
    }
    put("\nleds=");
#ifdef REALTIME_OFFSET_leds
    put_u32(cp_read_u32(data + REALTIME_OFFSET_leds)); /* not bound: the board has no LEDs */
#else
    put_u32(board_leds()); /* bound: read back from the LED register */
#endif
    put(" period=");
    put_u32(cp_read_u32(data + REALTIME_OFFSET_period));
    put(" filtered=");
    put_hex(cp_read_u32(data + REALTIME_OFFSET_filtered));
    put("\n");
    return overruns == 0 ? 0 : 2;
}
