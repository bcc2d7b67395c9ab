/*
 * The realtime example on QEMU's RISC-V virt machine (RV32IMAFC): the
 * CLINT's machine timer (mtime, 10 MHz) interrupts at the period, mcycle is
 * the cycle counter (QEMU 7.2 derives it from its virtual clock: under
 * -icount shift=N it advances 2^N per instruction), and a period overran if
 * mtime has passed the next deadline when it ends. The 16550 UART's data register is at 0x1000_0000.
 */
#include "board.h"

#define MTIMECMP_LO (*(volatile uint32_t *)0x02004000u)
#define MTIMECMP_HI (*(volatile uint32_t *)0x02004004u)
#define MTIME_LO (*(volatile uint32_t *)0x0200BFF8u)
#define UART_THR (*(volatile uint8_t *)0x10000000u)
#define UART_LSR (*(volatile uint8_t *)0x10000005u)
#define TIMER_HZ 10000000u

static uint32_t interval, deadline;
static volatile int running;

/* CSR access as .insn (csrrs/csrrc/csrrw): the assembler of Debian 12's
 * riscv64-unknown-elf-gcc wants Zicsr spelled out in -march otherwise. */
#define STR2(x) #x
#define STR(x) STR2(x)
#define CSR_READ(csr, out) __asm__ volatile(".insn i 0x73, 2, %0, x0, " STR(csr) : "=r"(out))
#define CSR_SET(csr, bits) __asm__ volatile(".insn i 0x73, 2, x0, %0, " STR(csr) ::"r"(bits))
#define CSR_CLEAR(csr, bits) __asm__ volatile(".insn i 0x73, 3, x0, %0, " STR(csr) ::"r"(bits))
#define CSR_WRITE(csr, v) __asm__ volatile(".insn i 0x73, 1, x0, %0, " STR(csr) ::"r"(v))
#define MSTATUS 0x300
#define MIE 0x304
#define MTVEC 0x305
#define MCYCLE (-1280) /* 0xB00: .insn takes the CSR number as a signed 12-bit immediate */
#define MIE_MTIE (1u << 7)
#define MSTATUS_MIE (1u << 3)

static void set_deadline(uint32_t t) {
    MTIMECMP_HI = UINT32_MAX; /* no spurious interrupt between the two writes */
    MTIMECMP_LO = t;
    MTIMECMP_HI = 0; /* mtime stays below 2^32 for 429 s at 10 MHz */
}

__attribute__((interrupt("machine"), aligned(4))) static void timer_isr(void) {
    deadline += interval;
    set_deadline(deadline);
    if (running) realtime_period();
}

void board_start_timer(uint32_t period_us) {
    interval = TIMER_HZ / 1000000u * period_us;
    CSR_WRITE(MTVEC, (uint32_t)(uintptr_t)timer_isr); /* direct mode */
    running = 1;
    deadline = MTIME_LO + interval;
    set_deadline(deadline);
    CSR_SET(MIE, MIE_MTIE);
    CSR_SET(MSTATUS, MSTATUS_MIE);
}

void board_stop_timer(void) {
    running = 0;
    CSR_CLEAR(MIE, MIE_MTIE);
}

/* wfi wakes for an interrupt pending and enabled in mie, whatever mstatus.MIE says. */
void board_wait(void) { __asm__ volatile("wfi" ::: "memory"); }
void board_mask_interrupts(void) { CSR_CLEAR(MSTATUS, MSTATUS_MIE); }
void board_unmask_interrupts(void) { CSR_SET(MSTATUS, MSTATUS_MIE); }

uint32_t board_cycles(void) {
    uint32_t c;
    CSR_READ(MCYCLE, c);
    return c;
}

/* Called at the end of a period: the next deadline (set on entry) passed? */
int board_overran(void) { return (int32_t)(MTIME_LO - deadline) >= 0; }

void board_putc(char c) {
    while (!(UART_LSR & 0x20)) { /* transmit holding register not empty */
    }
    UART_THR = (uint8_t)c;
}
