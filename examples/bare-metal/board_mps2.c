/*
 * The realtime example on QEMU's mps2-an386 (Cortex-M4F): SysTick on the
 * 25 MHz core clock interrupts at the period; its current value is the
 * cycle counter (QEMU models no DWT cycle counter: reads give 0), the
 * interrupt's pending bit the overrun check; CMSDK UART0 and the FPGA's LED
 * register as documented for the AN386 board.
 */
#include "board.h"

#define REG(addr) (*(volatile uint32_t *)(addr))
#define SYST_CSR REG(0xE000E010u)
#define SYST_RVR REG(0xE000E014u)
#define SYST_CVR REG(0xE000E018u)
#define SCB_ICSR REG(0xE000ED04u)
#define ICSR_PENDSTSET (1u << 26)
#define UART0_DATA REG(0x40004000u)
#define UART0_STATE REG(0x40004004u)
#define UART0_CTRL REG(0x40004008u)
#define UART0_BAUDDIV REG(0x40004010u)
#define FPGAIO_LED0 REG(0x40028000u)
#define CORE_HZ 25000000u

static uint32_t reload;

void board_start_timer(uint32_t period_us) {
    UART0_BAUDDIV = 16;
    UART0_CTRL = 1; /* transmit enable */
    reload = CORE_HZ / 1000000u * period_us;
    SYST_RVR = reload - 1;
    SYST_CVR = 0;
    SYST_CSR = 7; /* core clock, interrupt, enable */
}

void board_stop_timer(void) { SYST_CSR = 0; }

/* Spins instead of wfi: QEMU 7.2's mps2-an386 under -icount sleep=off
 * (the test's deterministic clock) lets SysTick periods pass unseen across
 * a wfi (measured: the counter advanced 50,000 per interrupt instead of
 * 25,000). On real hardware this would be wfi. */
void board_wait(void) { __asm__ volatile("" ::: "memory"); }
void board_mask_interrupts(void) { __asm__ volatile("cpsid i" ::: "memory"); }
void board_unmask_interrupts(void) { __asm__ volatile("cpsie i" ::: "memory"); }

/* SysTick counts down from reload - 1: the cycles since the tick. */
uint32_t board_cycles(void) { return reload - 1 - SYST_CVR; }

int board_overran(void) { return (SCB_ICSR & ICSR_PENDSTSET) != 0; }

void board_putc(char c) {
    while (UART0_STATE & 1u) { /* transmit buffer full */
    }
    UART0_DATA = (uint8_t)c;
}

uint32_t board_leds(void) { return FPGAIO_LED0; }

/* picolibc's vector table names SysTick's handler arm_systick_isr (weak). */
void arm_systick_isr(void) { realtime_period(); }
