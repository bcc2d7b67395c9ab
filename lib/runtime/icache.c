/*
 * Making freshly written code visible to instruction fetch.
 *
 * x86 keeps instruction and data caches coherent, so nothing is needed there
 * (gcc expands the builtin to nothing). AArch64 and ARMv7-A Linux need the
 * data cache cleaned and the instruction cache invalidated for the range:
 * gcc's __builtin___clear_cache calls libgcc's __clear_cache, which does the
 * cache maintenance (AArch64, in user mode) or the cacheflush system call
 * (32-bit Arm Linux).
 *
 * For bare-metal M-profile (Cortex-M4) gcc expands the builtin to nothing,
 * which is right for the caches (the M4 has none) but not for the pipeline:
 * the architecture requires a DSB so the stores complete and an ISB so no
 * stale instructions that were prefetched are executed. A Cortex-M7 with caches
 * would also need SCB cache maintenance, which is not a supported target.
 * Bare-metal RISC-V (riscv32) needs fence.i, which the builtin does not give
 * outside Linux.
 */
#include <copapy/image.h>

void cp_flush_icache(void *begin, void *end) {
#if defined(__GNUC__)
    __builtin___clear_cache((char *)begin, (char *)end);
#if defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
#if defined(__riscv) && !defined(__linux__)
    /* Bare-metal RISC-V: libgcc's __clear_cache is empty there; fence.i
     * orders this hart's stores before its later instruction fetches. Spelt
     * as its encoding: the Zifencei extension is not in every -march
     * (rv32imafc selects the multilibs). */
    __asm__ volatile(".insn i 0x0f, 1, x0, x0, 0" ::: "memory"); /* fence.i */
#endif
#else
#error "cp_flush_icache: port me (needs the compiler's or the OS's cache flush)"
#endif
}
