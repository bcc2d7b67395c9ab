/*
 * Private to lib/runtime: the per-family encoders and the bit-field helpers
 * they share. Not installed, not part of the API.
 *
 * Division of labour: cp_patch_apply (patch.c) turns the target address V and
 * the field address P into the quantity a kind encodes (V, V - P or the
 * AArch64 page difference), range-checks it once against the CP_PATCH_KINDS
 * table and then calls one encoder. An encoder only checks the instruction's
 * shape and any alignment the field needs, then writes the field. Encoders
 * leave the site untouched when they fail.
 */
#ifndef COPAPY_RUNTIME_PATCH_INTERNAL_H
#define COPAPY_RUNTIME_PATCH_INTERNAL_H

#include <copapy/image.h>

/* `q` is the already range-checked quantity, two's complement in 64 bits. */
typedef cp_status (*cp_encoder)(uint8_t *site, uint64_t q);

/* patch.c: data words (any target) */
cp_status cp_encode_abs32(uint8_t *site, uint64_t q);
cp_status cp_encode_abs64(uint8_t *site, uint64_t q);

/* patch_x86_64.c */
cp_status cp_encode_x86_64_rel32(uint8_t *site, uint64_t q);

/* patch_aarch64.c */
cp_status cp_encode_aarch64_adrp(uint8_t *site, uint64_t q);
cp_status cp_encode_aarch64_add_lo12(uint8_t *site, uint64_t q);
cp_status cp_encode_aarch64_ldst8_lo12(uint8_t *site, uint64_t q);
cp_status cp_encode_aarch64_ldst16_lo12(uint8_t *site, uint64_t q);
cp_status cp_encode_aarch64_ldst32_lo12(uint8_t *site, uint64_t q);
cp_status cp_encode_aarch64_ldst64_lo12(uint8_t *site, uint64_t q);
cp_status cp_encode_aarch64_ldst128_lo12(uint8_t *site, uint64_t q);
cp_status cp_encode_aarch64_branch26(uint8_t *site, uint64_t q);

/* patch_arm32.c */
cp_status cp_encode_arm_movw(uint8_t *site, uint64_t q);
cp_status cp_encode_arm_movt(uint8_t *site, uint64_t q);
cp_status cp_encode_arm_branch24(uint8_t *site, uint64_t q);
cp_status cp_encode_thumb_movw(uint8_t *site, uint64_t q);
cp_status cp_encode_thumb_movt(uint8_t *site, uint64_t q);
cp_status cp_encode_thumb_branch24(uint8_t *site, uint64_t q);

/* patch_riscv.c */
cp_status cp_encode_riscv_branch(uint8_t *site, uint64_t q);
cp_status cp_encode_riscv_jal(uint8_t *site, uint64_t q);
cp_status cp_encode_riscv_call(uint8_t *site, uint64_t q);
cp_status cp_encode_riscv_pcrel_hi20(uint8_t *site, uint64_t q);
cp_status cp_encode_riscv_pcrel_lo12_i(uint8_t *site, uint64_t q);
cp_status cp_encode_riscv_pcrel_lo12_s(uint8_t *site, uint64_t q);
cp_status cp_encode_riscv_rvc_branch(uint8_t *site, uint64_t q);
cp_status cp_encode_riscv_rvc_jump(uint8_t *site, uint64_t q);

/* ---- Bit-field helpers -------------------------------------------------- */

/* A mask of the low `width` bits, 1 <= width <= 32. */
static inline uint32_t cp_mask32(unsigned width) {
    return width >= 32 ? 0xffffffffu : (1u << width) - 1u;
}

/* Bits [lo, lo + width) of v, as an unsigned field. Taking the low bits of
 * the two's complement representation is how a signed quantity is cut to
 * its field width, so no signed shifts (implementation-defined) are needed. */
static inline uint32_t cp_bits(uint64_t v, unsigned lo, unsigned width) {
    return (uint32_t)(v >> lo) & cp_mask32(width);
}

/* `word` with bits [lo, lo + width) replaced by the low bits of `field`. */
static inline uint32_t cp_insert(uint32_t word, unsigned lo, unsigned width, uint32_t field) {
    const uint32_t mask = cp_mask32(width) << lo;
    return (word & ~mask) | ((field << lo) & mask);
}

/* The signed value of a 64-bit two's complement pattern, without relying on
 * the implementation-defined unsigned-to-signed conversion. */
static inline int64_t cp_as_signed64(uint64_t v) {
    return v <= (uint64_t)INT64_MAX ? (int64_t)v : -(int64_t)(~v) - 1;
}

static inline int32_t cp_as_signed32(uint32_t v) {
    return v <= (uint32_t)INT32_MAX ? (int32_t)v : -(int32_t)(~v) - 1;
}

#endif /* COPAPY_RUNTIME_PATCH_INTERNAL_H */
