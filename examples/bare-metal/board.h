/*
 * What the realtime example (realtime.c) needs from a board: a periodic
 * timer interrupt that calls realtime_period(), a cycle counter, an overrun
 * check, and a UART to report on. One implementation per board:
 * board_mps2.c (Cortex-M4F, SysTick), board_virt.c (RISC-V, CLINT timer).
 */
#ifndef BOARD_H
#define BOARD_H

#include <stdint.h>

/* Starts the timer: realtime_period() then runs every `period_us`
 * microseconds, from its interrupt. */
void board_start_timer(uint32_t period_us);
void board_stop_timer(void);
/* Waits for an interrupt (the idle loop). Called with interrupts masked
 * (board_mask_interrupts), it still wakes for a pending one, which runs when
 * they are unmasked: so a check before the wait cannot miss the interrupt
 * that would have ended it. */
void board_wait(void);
void board_mask_interrupts(void);
void board_unmask_interrupts(void);
/* The cycle counter the board offers, as a number that grows by one per
 * cycle (it may wrap). */
uint32_t board_cycles(void);
/* Did the next timer tick arrive before the current period finished? */
int board_overran(void);
/* Writes one character to the UART's data register. */
void board_putc(char c);
/* The LED register (only boards with LEDs define it; realtime.c reads it
 * where the build bound `leds` to it). */
uint32_t board_leds(void);

/* Called by the board's timer interrupt handler. */
void realtime_period(void);

#endif /* BOARD_H */
