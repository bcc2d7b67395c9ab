/*
 * Patch dispatch: one table row per patch kind, checked at compile time to
 * cover every kind of CP_PATCH_KINDS (include/copapy/image.h).
 *
 * A patch writes V = S + A, the absolute target address, into the field at
 * address P. What the field holds depends on the kind:
 *   absolute kinds      V                              (ABS32/64, MOVW/MOVT, LO12)
 *   PC-relative kinds   V - P                          (REL32, branches)
 *   AArch64 ADRP        (V & ~0xfff) - (P & ~0xfff)     (page difference)
 * PC biases (x86 -4, ARM -8, Thumb -4) are part of A, never of the encoders:
 * that is how the ELF relocations define them (S + A - P), so the compiler
 * copies the ELF addend through unchanged.
 *
 * The range check of the quantity happens here, once, driven by the check/lo/
 * hi columns of CP_PATCH_KINDS; the encoders only check the instruction shape
 * and field alignment.
 */
#include "patch_internal.h"

enum quantity {
    Q_ABS,  /* V */
    Q_REL,  /* V - P */
    Q_PAGE  /* (V & ~0xfff) - (P & ~0xfff) */
};

struct kind_info {
    const char *name;        /* lower-case enum name without CP_PATCH_ */
    unsigned char width;     /* bytes touched at the site */
    unsigned char quantity;  /* enum quantity */
    unsigned char addr32;    /* V must be a 32-bit address (32-bit targets) */
    cp_encoder encode;
    unsigned char check;     /* the CP_PATCH_KINDS columns */
    int64_t lo, hi;
};

/* One row per kind: name, width, quantity, addr32, encoder. The table below
 * pastes CP_KIND_<enum name> for every entry of CP_PATCH_KINDS, so a kind
 * added to image.h without a row here fails to compile.
 *
 * MOVW/MOVT are absolute and not overflow-checked by the ELF definition (the
 * pair covers exactly 32 bits), but a 32-bit target cannot have an address
 * above 4 GiB: addr32 rejects it instead of silently truncating when such an
 * image is (mistakenly) loaded at 64-bit addresses. */
#define CP_KIND_CP_PATCH_REL32 "rel32", 4, Q_REL, 0, cp_encode_x86_64_rel32
#define CP_KIND_CP_PATCH_ABS64 "abs64", 8, Q_ABS, 0, cp_encode_abs64
#define CP_KIND_CP_PATCH_ABS32 "abs32", 4, Q_ABS, 0, cp_encode_abs32
#define CP_KIND_CP_PATCH_A64_ADR_PAGE21 "a64_adr_page21", 4, Q_PAGE, 0, cp_encode_aarch64_adrp
#define CP_KIND_CP_PATCH_A64_ADD_LO12 "a64_add_lo12", 4, Q_ABS, 0, cp_encode_aarch64_add_lo12
#define CP_KIND_CP_PATCH_A64_LDST8_LO12 "a64_ldst8_lo12", 4, Q_ABS, 0, cp_encode_aarch64_ldst8_lo12
#define CP_KIND_CP_PATCH_A64_LDST16_LO12 "a64_ldst16_lo12", 4, Q_ABS, 0, cp_encode_aarch64_ldst16_lo12
#define CP_KIND_CP_PATCH_A64_LDST32_LO12 "a64_ldst32_lo12", 4, Q_ABS, 0, cp_encode_aarch64_ldst32_lo12
#define CP_KIND_CP_PATCH_A64_LDST64_LO12 "a64_ldst64_lo12", 4, Q_ABS, 0, cp_encode_aarch64_ldst64_lo12
#define CP_KIND_CP_PATCH_A64_LDST128_LO12 "a64_ldst128_lo12", 4, Q_ABS, 0, cp_encode_aarch64_ldst128_lo12
#define CP_KIND_CP_PATCH_A64_BRANCH26 "a64_branch26", 4, Q_REL, 0, cp_encode_aarch64_branch26
#define CP_KIND_CP_PATCH_ARM_MOVW "arm_movw", 4, Q_ABS, 1, cp_encode_arm_movw
#define CP_KIND_CP_PATCH_ARM_MOVT "arm_movt", 4, Q_ABS, 1, cp_encode_arm_movt
#define CP_KIND_CP_PATCH_ARM_BRANCH24 "arm_branch24", 4, Q_REL, 0, cp_encode_arm_branch24
#define CP_KIND_CP_PATCH_THM_MOVW "thm_movw", 4, Q_ABS, 1, cp_encode_thumb_movw
#define CP_KIND_CP_PATCH_THM_MOVT "thm_movt", 4, Q_ABS, 1, cp_encode_thumb_movt
#define CP_KIND_CP_PATCH_THM_BRANCH24 "thm_branch24", 4, Q_REL, 0, cp_encode_thumb_branch24
#define CP_KIND_CP_PATCH_RV_BRANCH "rv_branch", 4, Q_REL, 0, cp_encode_riscv_branch
#define CP_KIND_CP_PATCH_RV_JAL "rv_jal", 4, Q_REL, 0, cp_encode_riscv_jal
#define CP_KIND_CP_PATCH_RV_CALL "rv_call", 8, Q_REL, 0, cp_encode_riscv_call
#define CP_KIND_CP_PATCH_RV_PCREL_HI20 "rv_pcrel_hi20", 4, Q_REL, 0, cp_encode_riscv_pcrel_hi20
#define CP_KIND_CP_PATCH_RV_PCREL_LO12_I "rv_pcrel_lo12_i", 4, Q_REL, 0, cp_encode_riscv_pcrel_lo12_i
#define CP_KIND_CP_PATCH_RV_PCREL_LO12_S "rv_pcrel_lo12_s", 4, Q_REL, 0, cp_encode_riscv_pcrel_lo12_s
#define CP_KIND_CP_PATCH_RV_RVC_BRANCH "rv_rvc_branch", 2, Q_REL, 0, cp_encode_riscv_rvc_branch
#define CP_KIND_CP_PATCH_RV_RVC_JUMP "rv_rvc_jump", 2, Q_REL, 0, cp_encode_riscv_rvc_jump

static const struct kind_info kinds[CP_PATCH_KIND_MAX] = {
#define CP_X_ROW(name, value, check, lo, hi) [name] = {CP_KIND_##name, check, lo, hi},
    CP_PATCH_KINDS(CP_X_ROW)
#undef CP_X_ROW
};

static const struct kind_info *find_kind(unsigned kind) {
    if (kind >= CP_PATCH_KIND_MAX || kinds[kind].encode == 0) {
        return 0; /* 0 and the gaps, should the numbering ever get one */
    }
    return &kinds[kind];
}

const char *cp_patch_kind_name(unsigned kind) {
    const struct kind_info *k = find_kind(kind);
    return k ? k->name : 0;
}

unsigned cp_patch_kind_width(unsigned kind) {
    const struct kind_info *k = find_kind(kind);
    return k ? k->width : 0;
}

/* Is the quantity inside the kind's range? */
static int in_range(const struct kind_info *k, uint64_t q) {
    switch (k->check) {
    case 1: {
        const int64_t s = cp_as_signed64(q);
        return s >= k->lo && s <= k->hi;
    }
    case 2:
        return q <= (uint64_t)k->hi;
    default:
        return 1; /* _NC forms: the encoder takes the bits it needs */
    }
}

cp_status cp_patch_apply(unsigned kind, uint8_t *site, uint64_t value, uint64_t place) {
    const struct kind_info *k = find_kind(kind);
    uint64_t q;
    if (k == 0) {
        return CP_ERR_PATCH_KIND;
    }
    if (site == 0) {
        return CP_ERR_MEMORY;
    }
    if (k->addr32 && value > 0xffffffffu) {
        return CP_ERR_PATCH_RANGE;
    }
    switch (k->quantity) {
    case Q_REL:
        q = value - place; /* modulo 2^64: a signed difference */
        break;
    case Q_PAGE:
        q = (value & ~(uint64_t)0xfff) - (place & ~(uint64_t)0xfff);
        break;
    default:
        q = value;
        break;
    }
    if (!in_range(k, q)) {
        return CP_ERR_PATCH_RANGE;
    }
    return k->encode(site, q);
}

/* ---- Data words --------------------------------------------------------
 * Pointers stored in code (literal pools: R_ARM_ABS32 on Cortex-M, where
 * gcc keeps addresses next to the function; R_X86_64_64, R_AARCH64_ABS64).
 * All targets are little-endian. The range of ABS32 is checked by the table. */

cp_status cp_encode_abs32(uint8_t *site, uint64_t q) {
    cp_write_u32(site, (uint32_t)q);
    return CP_OK;
}

cp_status cp_encode_abs64(uint8_t *site, uint64_t q) {
    cp_write_u32(site, (uint32_t)q);
    cp_write_u32(site + 4, (uint32_t)(q >> 32));
    return CP_OK;
}
