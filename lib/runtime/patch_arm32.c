/*
 * 32-bit Arm encoders, ARM state and Thumb-2. psABI: "ELF for the Arm
 * Architecture" (https://github.com/ARM-software/abi-aa, aaelf32); encodings
 * from the Arm Architecture Reference Manual (ARMv7-A/R and ARMv7-M).
 *
 * Quirks that matter here:
 * - Two instruction sets. ARM-state instructions are one little-endian
 *   32-bit word, 4-byte aligned. Thumb-2 32-bit instructions are TWO
 *   little-endian halfwords, the first (the one holding the opcode's top
 *   bits) at the lower address, 2-byte aligned: never read them as one u32.
 * - Bit 0 of a code address selects the state (1 = Thumb) when branching
 *   through a register; the runner sets it on the entry address for Thumb
 *   images (cp_image_entry_address). Direct branches never carry it.
 * - The PC reads as the instruction's address + 8 in ARM state and + 4 in
 *   Thumb. That bias belongs to the addend: 32-bit Arm objects use REL
 *   relocations whose implicit addend in the instruction is -8 (ARM) or -4
 *   (Thumb), and the compiler copies it into the patch, so the encoders
 *   compute S + A - P = V - P and never subtract the bias themselves.
 * - MOVW/MOVT build a 32-bit address in two halves (R_ARM_MOVW_ABS_NC,
 *   R_ARM_MOVT_ABS and the R_ARM_THM_ variants); the value is absolute, so
 *   the 16-bit immediate is split over scattered fields.
 * - Interworking (a BL from ARM state to Thumb code or back must become BLX)
 *   is out of scope: all stencils of an image use one instruction set, so
 *   BLX is rejected as an unexpected instruction rather than mis-encoded.
 *
 * Relocations: MOVW_ABS_NC -> ARM_MOVW, MOVT_ABS -> ARM_MOVT, JUMP24/CALL ->
 * ARM_BRANCH24, THM_MOVW_ABS_NC -> THM_MOVW, THM_MOVT_ABS -> THM_MOVT,
 * THM_JUMP24/THM_CALL -> THM_BRANCH24, ABS32 -> ABS32 (patch.c).
 */
#include "patch_internal.h"

/* ARM state. cond (31:28) = 1111 is the unconditional space, where these
 * bit patterns mean other instructions (BLX immediate for 101x). */
#define ARM_COND_NV 0xfu
/* MOVW (A2): cond 0011 0000 imm4 Rd imm12. MOVT (A1): cond 0011 0100 ... */
#define ARM_MOVWT_MASK 0x0ff00000u
#define ARM_MOVW_BITS 0x03000000u
#define ARM_MOVT_BITS 0x03400000u
/* B / BL (A1): cond 101 L imm24. */
#define ARM_B_MASK 0x0e000000u
#define ARM_B_BITS 0x0a000000u

/* Thumb-2, as (first halfword, second halfword). MOVW (T3):
 * 11110 i 10 0100 imm4 | 0 imm3 Rd imm8; MOVT (T1): 11110 i 10 1100 imm4 | ... */
#define THM_MOVWT_HW1_MASK 0xfbf0u
#define THM_MOVW_HW1_BITS 0xf240u
#define THM_MOVT_HW1_BITS 0xf2c0u
#define THM_MOVWT_HW2_MASK 0x8000u
/* B.W (T4): 11110 S imm10 | 10 J1 1 J2 imm11; BL (T1): 11110 S imm10 | 11 J1 1 J2 imm11.
 * Bit 12 of the second halfword is 0 for BLX (T2, to ARM state) and for the
 * conditional B (T3), both rejected. */
#define THM_BRANCH_HW1_MASK 0xf800u
#define THM_BRANCH_HW1_BITS 0xf000u
#define THM_BRANCH_HW2_MASK 0xd000u
#define THM_B_W_HW2_BITS 0x9000u
#define THM_BL_HW2_BITS 0xd000u

/* ---- ARM state ---------------------------------------------------------- */

static int arm_cond_is_nv(uint32_t insn) { return cp_bits(insn, 28, 4) == ARM_COND_NV; }

/* imm16 = imm4:imm12 at bits 19:16 and 11:0. */
static uint32_t arm_set_imm16(uint32_t insn, uint32_t imm16) {
    insn = cp_insert(insn, 16, 4, cp_bits(imm16, 12, 4));
    return cp_insert(insn, 0, 12, cp_bits(imm16, 0, 12));
}

static cp_status encode_arm_movwt(uint8_t *site, uint32_t opcode, uint32_t imm16) {
    const uint32_t insn = cp_read_u32(site);
    if ((insn & ARM_MOVWT_MASK) != opcode || arm_cond_is_nv(insn)) {
        return CP_ERR_PATCH_INSN;
    }
    cp_write_u32(site, arm_set_imm16(insn, imm16));
    return CP_OK;
}

/* R_ARM_MOVW_ABS_NC: the low half of V. */
cp_status cp_encode_arm_movw(uint8_t *site, uint64_t q) {
    return encode_arm_movwt(site, ARM_MOVW_BITS, cp_bits(q, 0, 16));
}

/* R_ARM_MOVT_ABS: the high half of V (V >> 16). */
cp_status cp_encode_arm_movt(uint8_t *site, uint64_t q) {
    return encode_arm_movwt(site, ARM_MOVT_BITS, cp_bits(q, 16, 16));
}

/* R_ARM_JUMP24 / R_ARM_CALL on B or BL: (V - P) >> 2 into imm24, the -8 PC
 * bias being part of the addend. Range (+-32 MiB) checked by the table. The
 * distance must be a whole ARM instruction; an odd one means a Thumb target
 * (the Thumb bit), which only BLX could reach: rejected, see above. */
cp_status cp_encode_arm_branch24(uint8_t *site, uint64_t q) {
    const uint32_t insn = cp_read_u32(site);
    if ((insn & ARM_B_MASK) != ARM_B_BITS || arm_cond_is_nv(insn)) {
        return CP_ERR_PATCH_INSN;
    }
    if ((q & 3u) != 0) {
        return CP_ERR_PATCH_RANGE;
    }
    cp_write_u32(site, cp_insert(insn, 0, 24, cp_bits(q, 2, 24)));
    return CP_OK;
}

/* ---- Thumb-2 ------------------------------------------------------------ */

static uint32_t read_hw(const uint8_t *p) { return cp_read_u16(p); }
static void write_hw(uint8_t *p, uint32_t hw) { cp_write_u16(p, (uint16_t)hw); }

/* imm16 = imm4:i:imm3:imm8; first halfword: i at bit 10, imm4 at 3:0;
 * second halfword: imm3 at 14:12, imm8 at 7:0. */
static cp_status encode_thumb_movwt(uint8_t *site, uint32_t hw1_opcode, uint32_t imm16) {
    uint32_t hw1 = read_hw(site);
    uint32_t hw2 = read_hw(site + 2);
    if ((hw1 & THM_MOVWT_HW1_MASK) != hw1_opcode || (hw2 & THM_MOVWT_HW2_MASK) != 0) {
        return CP_ERR_PATCH_INSN;
    }
    hw1 = cp_insert(hw1, 0, 4, cp_bits(imm16, 12, 4));
    hw1 = cp_insert(hw1, 10, 1, cp_bits(imm16, 11, 1));
    hw2 = cp_insert(hw2, 12, 3, cp_bits(imm16, 8, 3));
    hw2 = cp_insert(hw2, 0, 8, cp_bits(imm16, 0, 8));
    write_hw(site, hw1);
    write_hw(site + 2, hw2);
    return CP_OK;
}

/* R_ARM_THM_MOVW_ABS_NC: the low half of V. */
cp_status cp_encode_thumb_movw(uint8_t *site, uint64_t q) {
    return encode_thumb_movwt(site, THM_MOVW_HW1_BITS, cp_bits(q, 0, 16));
}

/* R_ARM_THM_MOVT_ABS: the high half of V. */
cp_status cp_encode_thumb_movt(uint8_t *site, uint64_t q) {
    return encode_thumb_movwt(site, THM_MOVT_HW1_BITS, cp_bits(q, 16, 16));
}

/* R_ARM_THM_JUMP24 / R_ARM_THM_CALL on B.W or BL: the 25-bit signed offset
 * V - P (the -4 PC bias is in the addend), split as S:I1:I2:imm10:imm11:0
 * with J1 = NOT(I1) XOR S and J2 = NOT(I2) XOR S (ARM ARM: I1 = NOT(J1 XOR
 * S)). Range (+-16 MiB) checked by the table. Bit 0 is not encoded and not
 * checked: the psABI computes ((S + A) | T) - P, so it is the Thumb bit of
 * a Thumb target (the compiler sets it for Thumb symbols), not misalignment. */
cp_status cp_encode_thumb_branch24(uint8_t *site, uint64_t q) {
    uint32_t hw1 = read_hw(site);
    uint32_t hw2 = read_hw(site + 2);
    uint32_t s, j1, j2;
    if ((hw1 & THM_BRANCH_HW1_MASK) != THM_BRANCH_HW1_BITS ||
        ((hw2 & THM_BRANCH_HW2_MASK) != THM_B_W_HW2_BITS &&
         (hw2 & THM_BRANCH_HW2_MASK) != THM_BL_HW2_BITS)) {
        return CP_ERR_PATCH_INSN;
    }
    s = cp_bits(q, 24, 1);
    j1 = (cp_bits(q, 23, 1) ^ 1u) ^ s;
    j2 = (cp_bits(q, 22, 1) ^ 1u) ^ s;
    hw1 = cp_insert(hw1, 10, 1, s);
    hw1 = cp_insert(hw1, 0, 10, cp_bits(q, 12, 10));
    hw2 = cp_insert(hw2, 13, 1, j1);
    hw2 = cp_insert(hw2, 11, 1, j2);
    hw2 = cp_insert(hw2, 0, 11, cp_bits(q, 1, 11));
    write_hw(site, hw1);
    write_hw(site + 2, hw2);
    return CP_OK;
}
