/*
 * AArch64 encoders. psABI: "ELF for the Arm 64-bit Architecture (AArch64)"
 * (https://github.com/ARM-software/abi-aa, aaelf64).
 *
 * Quirks that matter here:
 * - Every instruction is one little-endian 32-bit word (also on big-endian
 *   data configurations), 4-byte aligned.
 * - Addresses are built in two steps: ADRP materialises the 4 KiB page of the
 *   target relative to the page of the ADRP itself (+-4 GiB), then an ADD or
 *   the load/store's unsigned offset supplies the low 12 bits. The load/store
 *   offset is scaled by the access size, so a :lo12: offset into a 64-bit
 *   load must be a multiple of 8 (the ELF _NC relocations only drop the
 *   overflow check, not this one).
 * - B/BL reach +-128 MiB in units of 4 bytes.
 *
 * Relocations: ADR_PREL_PG_HI21 -> ADR_PAGE21, ADD_ABS_LO12_NC -> ADD_LO12,
 * LDST{8,16,32,64,128}_ABS_LO12_NC -> LDSTn_LO12, JUMP26/CALL26 -> BRANCH26.
 */
#include "patch_internal.h"

/* ADRP Xd, label: 1 immlo(2) 10000 immhi(19) Rd(5). */
#define A64_ADRP_MASK 0x9f000000u
#define A64_ADRP_BITS 0x90000000u
/* ADD (immediate), 32 or 64 bit, no flags, sh = 0: sf 0 0 100010 0 imm12 Rn Rd.
 * sh = 1 (imm12 << 12) would place the low 12 bits at the wrong position. */
#define A64_ADD_IMM_MASK 0x7fc00000u
#define A64_ADD_IMM_BITS 0x11000000u
/* Load/store register (unsigned immediate): size 111 V 01 opc imm12 Rn Rt. */
#define A64_LDST_UIMM_MASK 0x3b000000u
#define A64_LDST_UIMM_BITS 0x39000000u
/* B / BL: op 00101 imm26 (op = 0 for B, 1 for BL). */
#define A64_B_MASK 0x7c000000u
#define A64_B_BITS 0x14000000u

static uint32_t read_insn(const uint8_t *site) { return cp_read_u32(site); }
static void write_insn(uint8_t *site, uint32_t insn) { cp_write_u32(site, insn); }

/* R_AARCH64_ADR_PREL_PG_HI21: the page difference, a multiple of 4096 already
 * range-checked to 21 signed bits of pages; immlo = bits 1:0 of the page
 * count at 30:29, immhi = bits 20:2 at 23:5. */
cp_status cp_encode_aarch64_adrp(uint8_t *site, uint64_t q) {
    uint32_t insn = read_insn(site);
    const uint64_t pages = q >> 12; /* low bits of the two's complement count */
    if ((insn & A64_ADRP_MASK) != A64_ADRP_BITS) {
        return CP_ERR_PATCH_INSN;
    }
    insn = cp_insert(insn, 29, 2, cp_bits(pages, 0, 2));
    insn = cp_insert(insn, 5, 19, cp_bits(pages, 2, 19));
    write_insn(site, insn);
    return CP_OK;
}

/* R_AARCH64_ADD_ABS_LO12_NC: V & 0xfff into imm12 (bits 21:10). */
cp_status cp_encode_aarch64_add_lo12(uint8_t *site, uint64_t q) {
    const uint32_t insn = read_insn(site);
    if ((insn & A64_ADD_IMM_MASK) != A64_ADD_IMM_BITS) {
        return CP_ERR_PATCH_INSN;
    }
    write_insn(site, cp_insert(insn, 10, 12, cp_bits(q, 0, 12)));
    return CP_OK;
}

/* log2 of the bytes a load/store (unsigned immediate) accesses: `size`
 * (bits 31:30), except for the 128-bit SIMD form (V = 1, size = 00, opc<1> = 1). */
static unsigned ldst_scale(uint32_t insn) {
    const uint32_t size = cp_bits(insn, 30, 2);
    const uint32_t simd = cp_bits(insn, 26, 1);
    const uint32_t opc1 = cp_bits(insn, 23, 1);
    return (simd && size == 0 && opc1) ? 4u : (unsigned)size;
}

/* R_AARCH64_LDST<8 << scale>_ABS_LO12_NC: (V & 0xfff) >> scale into imm12.
 * The instruction must access 1 << scale bytes (otherwise the relocation was
 * classified wrongly), and the low `scale` bits of the offset must be zero:
 * the hardware cannot encode a misaligned scaled offset. */
static cp_status encode_ldst_lo12(uint8_t *site, uint64_t q, unsigned scale) {
    const uint32_t insn = read_insn(site);
    const uint32_t lo12 = cp_bits(q, 0, 12);
    if ((insn & A64_LDST_UIMM_MASK) != A64_LDST_UIMM_BITS || ldst_scale(insn) != scale) {
        return CP_ERR_PATCH_INSN;
    }
    if ((lo12 & ((1u << scale) - 1u)) != 0) {
        return CP_ERR_PATCH_RANGE;
    }
    write_insn(site, cp_insert(insn, 10, 12, lo12 >> scale));
    return CP_OK;
}

cp_status cp_encode_aarch64_ldst8_lo12(uint8_t *site, uint64_t q) { return encode_ldst_lo12(site, q, 0); }
cp_status cp_encode_aarch64_ldst16_lo12(uint8_t *site, uint64_t q) { return encode_ldst_lo12(site, q, 1); }
cp_status cp_encode_aarch64_ldst32_lo12(uint8_t *site, uint64_t q) { return encode_ldst_lo12(site, q, 2); }
cp_status cp_encode_aarch64_ldst64_lo12(uint8_t *site, uint64_t q) { return encode_ldst_lo12(site, q, 3); }
cp_status cp_encode_aarch64_ldst128_lo12(uint8_t *site, uint64_t q) { return encode_ldst_lo12(site, q, 4); }

/* R_AARCH64_JUMP26 / CALL26: (V - P) >> 2 into imm26 (bits 25:0). The
 * distance was range-checked to +-128 MiB; it must be a whole instruction. */
cp_status cp_encode_aarch64_branch26(uint8_t *site, uint64_t q) {
    const uint32_t insn = read_insn(site);
    if ((insn & A64_B_MASK) != A64_B_BITS) {
        return CP_ERR_PATCH_INSN;
    }
    if ((q & 3u) != 0) {
        return CP_ERR_PATCH_RANGE;
    }
    write_insn(site, cp_insert(insn, 0, 26, cp_bits(q, 2, 26)));
    return CP_OK;
}
