/*
 * RISC-V encoders (RV32 and RV64). psABI: "RISC-V ELF psABI specification"
 * (https://github.com/riscv-non-isa/riscv-elf-psabi-doc), chapter "Relocations".
 *
 * Quirks that matter here:
 * - Instructions are little-endian 32-bit words, or 16-bit ones with the C
 *   extension (bits 1:0 != 11), so code is only 2-byte aligned and every
 *   branch distance is even; the encoders reject an odd one.
 * - Immediates are scattered over the word (B, J, CB, CJ formats), and the
 *   12-bit immediates of I/S-type instructions are sign-extended by the
 *   hardware. A 32-bit PC-relative distance is split as hi20 = (d + 0x800) >> 12
 *   (for auipc) and lo12 = d - (hi20 << 12) (the sign-extended low 12 bits),
 *   which is why the reach is [-2^31 - 2^11, 2^31 - 2^11).
 * - R_RISCV_PCREL_LO12_I/S refer to the label of the auipc that holds the high
 *   part, not to the target: both halves encode the distance from the auipc.
 *   The compiler makes that the quantity of the low half too, by adding
 *   (lo site - auipc site) to its addend, so the encoder is a plain "low 12
 *   bits of V - P".
 * - R_RISCV_CALL/CALL_PLT cover an auipc + jalr pair (8 bytes) through the
 *   same register.
 *
 * Relocations: BRANCH -> RV_BRANCH, JAL -> RV_JAL, CALL/CALL_PLT -> RV_CALL,
 * PCREL_HI20 -> RV_PCREL_HI20, PCREL_LO12_I/S -> RV_PCREL_LO12_I/S,
 * RVC_BRANCH -> RV_RVC_BRANCH, RVC_JUMP -> RV_RVC_JUMP.
 */
#include "patch_internal.h"

#define RV_OPCODE(insn) ((insn) & 0x7fu)
#define RV_OP_BRANCH 0x63u  /* beq, bne, blt, bge, bltu, bgeu */
#define RV_OP_JAL 0x6fu
#define RV_OP_JALR 0x67u
#define RV_OP_AUIPC 0x17u
#define RV_OP_LOAD 0x03u
#define RV_OP_LOAD_FP 0x07u
#define RV_OP_IMM 0x13u     /* addi, ... */
#define RV_OP_IMM_32 0x1bu  /* addiw (RV64) */
#define RV_OP_STORE 0x23u
#define RV_OP_STORE_FP 0x27u

static uint32_t rd(uint32_t insn) { return cp_bits(insn, 7, 5); }
static uint32_t rs1(uint32_t insn) { return cp_bits(insn, 15, 5); }

/* The auipc's 20 bits of a distance (rounded, so that the low part's sign
 * extension is compensated). */
static uint32_t hi20(uint64_t q) { return cp_bits(q + 0x800u, 12, 20); }

static int is_i_type(uint32_t insn) {
    const uint32_t op = RV_OPCODE(insn);
    return op == RV_OP_LOAD || op == RV_OP_LOAD_FP || op == RV_OP_IMM || op == RV_OP_IMM_32 ||
           (op == RV_OP_JALR && cp_bits(insn, 12, 3) == 0);
}

static int is_s_type(uint32_t insn) {
    const uint32_t op = RV_OPCODE(insn);
    return op == RV_OP_STORE || op == RV_OP_STORE_FP;
}

static uint32_t with_i_imm(uint32_t insn, uint64_t q) { return cp_insert(insn, 20, 12, cp_bits(q, 0, 12)); }

static uint32_t with_s_imm(uint32_t insn, uint64_t q) {
    insn = cp_insert(insn, 7, 5, cp_bits(q, 0, 5));
    return cp_insert(insn, 25, 7, cp_bits(q, 5, 7));
}

/* R_RISCV_BRANCH: imm[12|10:5] at 31:25, imm[4:1|11] at 11:7. */
cp_status cp_encode_riscv_branch(uint8_t *site, uint64_t q) {
    uint32_t insn = cp_read_u32(site);
    if (RV_OPCODE(insn) != RV_OP_BRANCH) {
        return CP_ERR_PATCH_INSN;
    }
    if ((q & 1u) != 0) {
        return CP_ERR_PATCH_RANGE;
    }
    insn = cp_insert(insn, 31, 1, cp_bits(q, 12, 1));
    insn = cp_insert(insn, 25, 6, cp_bits(q, 5, 6));
    insn = cp_insert(insn, 8, 4, cp_bits(q, 1, 4));
    insn = cp_insert(insn, 7, 1, cp_bits(q, 11, 1));
    cp_write_u32(site, insn);
    return CP_OK;
}

/* R_RISCV_JAL: imm[20|10:1|11|19:12] at 31:12. */
cp_status cp_encode_riscv_jal(uint8_t *site, uint64_t q) {
    uint32_t insn = cp_read_u32(site);
    if (RV_OPCODE(insn) != RV_OP_JAL) {
        return CP_ERR_PATCH_INSN;
    }
    if ((q & 1u) != 0) {
        return CP_ERR_PATCH_RANGE;
    }
    insn = cp_insert(insn, 31, 1, cp_bits(q, 20, 1));
    insn = cp_insert(insn, 21, 10, cp_bits(q, 1, 10));
    insn = cp_insert(insn, 20, 1, cp_bits(q, 11, 1));
    insn = cp_insert(insn, 12, 8, cp_bits(q, 12, 8));
    cp_write_u32(site, insn);
    return CP_OK;
}

/* R_RISCV_CALL / CALL_PLT: auipc rX, hi20 then jalr rd, lo12(rX). */
cp_status cp_encode_riscv_call(uint8_t *site, uint64_t q) {
    const uint32_t auipc = cp_read_u32(site), jalr = cp_read_u32(site + 4);
    if (RV_OPCODE(auipc) != RV_OP_AUIPC || RV_OPCODE(jalr) != RV_OP_JALR || cp_bits(jalr, 12, 3) != 0 ||
        rs1(jalr) != rd(auipc)) {
        return CP_ERR_PATCH_INSN;
    }
    if ((q & 1u) != 0) {
        return CP_ERR_PATCH_RANGE;
    }
    cp_write_u32(site, cp_insert(auipc, 12, 20, hi20(q)));
    cp_write_u32(site + 4, with_i_imm(jalr, q));
    return CP_OK;
}

/* R_RISCV_PCREL_HI20: the auipc's U immediate. */
cp_status cp_encode_riscv_pcrel_hi20(uint8_t *site, uint64_t q) {
    const uint32_t insn = cp_read_u32(site);
    if (RV_OPCODE(insn) != RV_OP_AUIPC) {
        return CP_ERR_PATCH_INSN;
    }
    cp_write_u32(site, cp_insert(insn, 12, 20, hi20(q)));
    return CP_OK;
}

/* R_RISCV_PCREL_LO12_I: the I-type immediate (addi, loads, jalr). */
cp_status cp_encode_riscv_pcrel_lo12_i(uint8_t *site, uint64_t q) {
    const uint32_t insn = cp_read_u32(site);
    if (!is_i_type(insn)) {
        return CP_ERR_PATCH_INSN;
    }
    cp_write_u32(site, with_i_imm(insn, q));
    return CP_OK;
}

/* R_RISCV_PCREL_LO12_S: the S-type immediate (stores), imm[11:5] at 31:25,
 * imm[4:0] at 11:7. */
cp_status cp_encode_riscv_pcrel_lo12_s(uint8_t *site, uint64_t q) {
    const uint32_t insn = cp_read_u32(site);
    if (!is_s_type(insn)) {
        return CP_ERR_PATCH_INSN;
    }
    cp_write_u32(site, with_s_imm(insn, q));
    return CP_OK;
}

/* R_RISCV_RVC_BRANCH: c.beqz / c.bnez (quadrant 1, funct3 110/111),
 * offset[8|4:3] at 12:10, offset[7:6|2:1|5] at 6:2. */
cp_status cp_encode_riscv_rvc_branch(uint8_t *site, uint64_t q) {
    uint32_t insn = cp_read_u16(site);
    if ((insn & 3u) != 1u || cp_bits(insn, 14, 2) != 3u) {
        return CP_ERR_PATCH_INSN;
    }
    if ((q & 1u) != 0) {
        return CP_ERR_PATCH_RANGE;
    }
    insn = cp_insert(insn, 12, 1, cp_bits(q, 8, 1));
    insn = cp_insert(insn, 10, 2, cp_bits(q, 3, 2));
    insn = cp_insert(insn, 5, 2, cp_bits(q, 6, 2));
    insn = cp_insert(insn, 3, 2, cp_bits(q, 1, 2));
    insn = cp_insert(insn, 2, 1, cp_bits(q, 5, 1));
    cp_write_u16(site, (uint16_t)insn);
    return CP_OK;
}

/* R_RISCV_RVC_JUMP: c.j (quadrant 1, funct3 101) or RV32's c.jal (001),
 * offset[11|4|9:8|10|6|7|3:1|5] at 12:2. */
cp_status cp_encode_riscv_rvc_jump(uint8_t *site, uint64_t q) {
    uint32_t insn = cp_read_u16(site);
    const uint32_t funct3 = cp_bits(insn, 13, 3);
    if ((insn & 3u) != 1u || (funct3 != 5u && funct3 != 1u)) {
        return CP_ERR_PATCH_INSN;
    }
    if ((q & 1u) != 0) {
        return CP_ERR_PATCH_RANGE;
    }
    insn = cp_insert(insn, 12, 1, cp_bits(q, 11, 1));
    insn = cp_insert(insn, 11, 1, cp_bits(q, 4, 1));
    insn = cp_insert(insn, 9, 2, cp_bits(q, 8, 2));
    insn = cp_insert(insn, 8, 1, cp_bits(q, 10, 1));
    insn = cp_insert(insn, 7, 1, cp_bits(q, 6, 1));
    insn = cp_insert(insn, 6, 1, cp_bits(q, 7, 1));
    insn = cp_insert(insn, 3, 3, cp_bits(q, 1, 3));
    insn = cp_insert(insn, 2, 1, cp_bits(q, 5, 1));
    cp_write_u16(site, (uint16_t)insn);
    return CP_OK;
}
