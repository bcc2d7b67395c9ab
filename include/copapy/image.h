/*
 * copapy image format and runtime API, shared by the compiler (C++) and the
 * runner (C99). This header is the single definition of the on-disk layout and
 * of the patch kinds: the compiler writes what the runner reads, so the two can
 * never disagree. The prose description lives in docs/image-format.md.
 *
 * All multi-byte fields are little-endian and are read and written byte by
 * byte (never by casting a struct onto the buffer), so the runner works on any
 * host endianness and alignment.
 */
#ifndef COPAPY_IMAGE_H
#define COPAPY_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- File layout ------------------------------------------------------- */

/* "CPIMG" then CR LF SUB: detects text-mode mangling, like PNG's signature. */
#define CP_IMAGE_MAGIC "CPIMG\r\n\x1a"
#define CP_IMAGE_MAGIC_SIZE 8
/* Version 2 (from version 1): the header holds the load addresses of
 * fixed-address images (48 -> 64 bytes), and the entry point takes the data
 * region's address, void entry(uint8_t *data) (cp_entry_fn). Version 3: a
 * symbol entry also holds the declared range of an input or state (12 -> 20
 * bytes, CP_SYM_RANGE). Older images are refused: rebuild them. */
#define CP_IMAGE_VERSION 3

/* Byte offsets of the header fields (all u32 unless noted). */
enum cp_header_field {
    CP_HDR_MAGIC = 0,         /* 8 bytes */
    CP_HDR_VERSION = 8,       /* u16 */
    CP_HDR_TARGET = 10,       /* u16, enum cp_target */
    CP_HDR_FLAGS = 12,        /* enum cp_image_flags */
    CP_HDR_CODE_SIZE = 16,
    CP_HDR_CODE_ALIGN = 20,   /* required alignment of the code load address */
    CP_HDR_DATA_SIZE = 24,
    CP_HDR_DATA_ALIGN = 28,   /* required alignment of the data load address */
    CP_HDR_ENTRY = 32,        /* offset of the entry point in the code */
    CP_HDR_PATCH_COUNT = 36,
    CP_HDR_SYMBOL_COUNT = 40,
    CP_HDR_STRTAB_SIZE = 44,
    CP_HDR_CODE_ADDR = 48,    /* u64: with CP_FLAG_FIXED_ADDR, where the code must be loaded; else 0 */
    CP_HDR_DATA_ADDR = 56,    /* u64: with CP_FLAG_FIXED_ADDR, where the data must be loaded; else 0 */
    CP_HEADER_SIZE = 64
};
/* After the header: code, zero padding to 4, data, padding to 4, patches,
 * symbols, string table, padding to 4, then the CRC-32 (IEEE 802.3, as zlib)
 * of every byte before it. */

enum cp_image_flags {
    CP_FLAG_THUMB_ENTRY = 1u << 0, /* call the entry point in Thumb state */
    CP_FLAG_FIXED_ADDR = 1u << 1   /* resolved for fixed addresses (empty patch table) */
};

enum cp_target {
    CP_TARGET_X86_64 = 1,
    CP_TARGET_AARCH64 = 2,
    CP_TARGET_ARMV7 = 3,     /* ARMv7-A, ARM state */
    CP_TARGET_THUMBV7 = 4,   /* ARMv7-A, Thumb-2 */
    CP_TARGET_THUMBV7EM = 5, /* ARMv7E-M (Cortex-M4F), Thumb-2 */
    CP_TARGET_RISCV64 = 6,   /* RV64GC, lp64d */
    CP_TARGET_X86 = 7,       /* i686 + SSE2 */
    CP_TARGET_ARMV6 = 8,     /* ARMv6 (ARM1176JZF-S), ARM state, VFPv2 */
    CP_TARGET_RISCV32 = 9,   /* RV32IMAFC, ilp32f, bare metal */
    CP_TARGET_LAST = CP_TARGET_RISCV32 /* the highest valid value (loaders check against it) */
};

/* One patch: 12 bytes. */
#define CP_PATCH_SIZE 12
enum cp_patch_field {
    CP_PATCH_SITE = 0,     /* u32: offset of the patched field in the code */
    CP_PATCH_KIND = 4,     /* u8: enum cp_patch_kind */
    CP_PATCH_REGION = 5,   /* u8: enum cp_region the target lies in */
    CP_PATCH_RESERVED = 6, /* u16: zero */
    CP_PATCH_ADDEND = 8    /* i32: target offset in the region, addend included */
};

enum cp_region { CP_REGION_CODE = 0, CP_REGION_DATA = 1 };

/* One symbol (a named input or output in the data region, or one bound to
 * a device register): 20 bytes. */
#define CP_SYMBOL_SIZE 20
enum cp_symbol_field {
    CP_SYM_NAME = 0,       /* u32: offset of a NUL-terminated name in the string table */
    CP_SYM_OFFSET = 4,     /* u32: offset of the 4-byte value in the data region (bound: the device address) */
    CP_SYM_DTYPE = 8,      /* u8: enum cp_dtype */
    CP_SYM_FLAGS = 9,      /* u8: enum cp_symbol_flags */
    CP_SYM_RESERVED = 10,  /* u16: zero */
    CP_SYM_LO = 12,        /* u32: with CP_SYM_RANGE, the lowest value the host may write (the dtype's bits);
                              bound: the access width in bits (8, 16 or 32) */
    CP_SYM_HI = 16         /* u32: with CP_SYM_RANGE, the highest; both zero without it */
};

enum cp_dtype { CP_DTYPE_INT = 1, CP_DTYPE_FLOAT = 2, CP_DTYPE_BOOL = 3 };
/* A state (CP_SYM_STATE) is also an input and an output: the host may write it
 * before a run and reads its updated value after it. An input or state with
 * CP_SYM_RANGE has a declared range [lo, hi] (ints signed, floats never NaN):
 * the compiler assumed it, so a host must not write a value outside it.
 * A bound input or output (copapy-cc build --bind) has no slot: the program
 * itself loads it from (CP_SYM_BOUND_INPUT) or stores it to
 * (CP_SYM_BOUND_OUTPUT) the device register at the address in CP_SYM_OFFSET,
 * CP_SYM_LO bits wide (aligned to it), once per run; it has no other flag, so
 * hosts that look for CP_SYM_INPUT / CP_SYM_OUTPUT pass it by. A runner that
 * cannot provide the register must not run the image (coparun maps zeroed
 * memory there on Linux). */
enum cp_symbol_flags {
    CP_SYM_INPUT = 1u << 0,
    CP_SYM_OUTPUT = 1u << 1,
    CP_SYM_STATE = 1u << 2,
    CP_SYM_RANGE = 1u << 3,
    CP_SYM_BOUND_INPUT = 1u << 4,
    CP_SYM_BOUND_OUTPUT = 1u << 5
};
#define CP_SYM_BOUND (CP_SYM_BOUND_INPUT | CP_SYM_BOUND_OUTPUT)

/* ---- Patch kinds --------------------------------------------------------
 * A patch writes the value V = S + A (the absolute target address) into the
 * field at address P. PC-relative kinds encode V - P (AArch64 ADRP: page
 * difference). LO/HI, ranges and instruction shapes are per kind; the
 * encoders live in lib/runtime/patch_<family>.c, one file per target family.
 * RISC-V's PCREL_LO12 kinds encode the low 12 bits of the distance from their
 * auipc, not from themselves: the compiler adds (lo site - auipc site) to their
 * addend, so that V - P is that distance (lib/stencil/stencil_db.cpp).
 *
 *  X(name, value, check, lo, hi)
 *    check: 0 = no overflow check (_NC forms), 1 = signed range [lo, hi] of the
 *    encoded quantity (V - P for relative kinds, V for absolute ones),
 *    2 = unsigned range [0, hi].
 */
#define CP_PATCH_KINDS(X)                                                               \
    X(CP_PATCH_REL32, 1, 1, -2147483648LL, 2147483647LL)      /* x86_64 PC32/PLT32 */    \
    X(CP_PATCH_ABS64, 2, 0, 0, 0)                             /* 64-bit pointer */       \
    X(CP_PATCH_ABS32, 3, 2, 0, 4294967295LL)                  /* 32-bit pointer */       \
    X(CP_PATCH_A64_ADR_PAGE21, 4, 1, -4294967296LL, 4294967295LL) /* adrp, pages */      \
    X(CP_PATCH_A64_ADD_LO12, 5, 0, 0, 0)                      /* add #:lo12: */          \
    X(CP_PATCH_A64_LDST8_LO12, 6, 0, 0, 0)                    /* ldrb/strb :lo12: */     \
    X(CP_PATCH_A64_LDST16_LO12, 7, 0, 0, 0)                                              \
    X(CP_PATCH_A64_LDST32_LO12, 8, 0, 0, 0)                                              \
    X(CP_PATCH_A64_LDST64_LO12, 9, 0, 0, 0)                                              \
    X(CP_PATCH_A64_LDST128_LO12, 10, 0, 0, 0)                                            \
    X(CP_PATCH_A64_BRANCH26, 11, 1, -134217728LL, 134217727LL) /* b/bl */                \
    X(CP_PATCH_ARM_MOVW, 12, 0, 0, 0)                         /* movw #:lower16: */      \
    X(CP_PATCH_ARM_MOVT, 13, 0, 0, 0)                         /* movt #:upper16: */      \
    X(CP_PATCH_ARM_BRANCH24, 14, 1, -33554432LL, 33554431LL)  /* b/bl (ARM state) */     \
    X(CP_PATCH_THM_MOVW, 15, 0, 0, 0)                                                    \
    X(CP_PATCH_THM_MOVT, 16, 0, 0, 0)                                                    \
    X(CP_PATCH_THM_BRANCH24, 17, 1, -16777216LL, 16777215LL)  /* b.w/bl (Thumb-2) */    \
    X(CP_PATCH_RV_BRANCH, 18, 1, -4096LL, 4095LL)             /* beq.. (B-type) */       \
    X(CP_PATCH_RV_JAL, 19, 1, -1048576LL, 1048575LL)          /* jal (J-type) */         \
    X(CP_PATCH_RV_CALL, 20, 1, -2147485696LL, 2147481599LL)   /* auipc+jalr pair */      \
    X(CP_PATCH_RV_PCREL_HI20, 21, 1, -2147485696LL, 2147481599LL) /* auipc */            \
    X(CP_PATCH_RV_PCREL_LO12_I, 22, 0, 0, 0)                  /* addi/load, paired */    \
    X(CP_PATCH_RV_PCREL_LO12_S, 23, 0, 0, 0)                  /* store, paired */        \
    X(CP_PATCH_RV_RVC_BRANCH, 24, 1, -256LL, 255LL)           /* c.beqz/c.bnez */        \
    X(CP_PATCH_RV_RVC_JUMP, 25, 1, -2048LL, 2047LL)           /* c.j */

enum cp_patch_kind {
#define CP_X_ENUM(name, value, check, lo, hi) name = value,
    CP_PATCH_KINDS(CP_X_ENUM)
#undef CP_X_ENUM
    CP_PATCH_KIND_MAX
};

/* ---- Runtime API (lib/runtime) ----------------------------------------- */

typedef enum cp_status {
    CP_OK = 0,
    CP_ERR_TRUNCATED,    /* the buffer ends before a table the header announces */
    CP_ERR_MAGIC,        /* not a copapy image */
    CP_ERR_VERSION,      /* unsupported format version */
    CP_ERR_TARGET,       /* unknown target, or not the one this runner executes */
    CP_ERR_CHECKSUM,     /* CRC-32 mismatch: the image is corrupted */
    CP_ERR_LAYOUT,       /* inconsistent sizes, alignments or entry point */
    CP_ERR_PATCH_BOUNDS, /* a patch site or target lies outside its region */
    CP_ERR_PATCH_KIND,   /* unknown patch kind or region */
    CP_ERR_PATCH_RANGE,  /* the value does not fit the instruction field */
    CP_ERR_PATCH_INSN,   /* the patched bytes are not the expected instruction */
    CP_ERR_SYMBOL,       /* malformed symbol table entry */
    CP_ERR_NOT_FOUND,    /* no symbol of that name */
    CP_ERR_MEMORY,       /* memory given to the loader is too small or misaligned */
    CP_ERR_ADDRESS       /* a fixed-address image given memory at other addresses */
} cp_status;

/* A short lower-case description of a status, e.g. "checksum mismatch". */
const char *cp_status_message(cp_status status);

/* A validated view of an image held in memory (no copies are made). */
typedef struct cp_image {
    const uint8_t *bytes;
    size_t size;
    uint16_t version;
    uint16_t target;
    uint32_t flags;
    uint32_t code_size, code_align;
    uint32_t data_size, data_align;
    uint32_t entry;
    uint32_t patch_count, symbol_count, strtab_size;
    uint64_t code_addr, data_addr; /* CP_FLAG_FIXED_ADDR: the only valid load addresses */
    const uint8_t *code, *data, *patches, *symbols, *strtab;
} cp_image;

typedef struct cp_symbol {
    const char *name;
    uint32_t offset; /* in the data region */
    uint8_t dtype;   /* enum cp_dtype */
    uint8_t flags;   /* enum cp_symbol_flags */
    uint32_t lo, hi; /* CP_SYM_RANGE: the declared range, as the dtype's bits; else 0 */
} cp_symbol;

/* Whether `bits` (a value of the symbol's dtype) lies inside its declared
 * range; always true for a symbol without CP_SYM_RANGE. NaN never does. */
int cp_symbol_allows(const cp_symbol *symbol, uint32_t bits);

/* Checks every header field, table bound, patch, symbol and the checksum,
 * in time linear in `size`.
 *
 * Contract: the view points into `bytes`, which must stay allocated and
 * unchanged for as long as the view is used. The functions below do not
 * trust that blindly: cp_image_symbol and cp_image_find re-check the entry
 * they read (name and value slot inside their tables, the string table still
 * NUL-terminated) and return CP_ERR_SYMBOL otherwise, and cp_image_load
 * re-checks every patch before writing it, so a changed buffer can give wrong
 * values but never an access outside the buffer or the load memory. */
cp_status cp_image_open(cp_image *image, const void *bytes, size_t size);
cp_status cp_image_symbol(const cp_image *image, uint32_t index, cp_symbol *out);
cp_status cp_image_find(const cp_image *image, const char *name, cp_symbol *out);

/* Copies code and data into caller-provided memory and applies the patches
 * for those addresses. `code` must hold code_size bytes aligned to code_align
 * and `data` data_size bytes aligned to data_align. Nothing is executed and no
 * protection is changed: make the code executable and flush the instruction
 * cache (cp_flush_icache) afterwards. A fixed-address image
 * (CP_FLAG_FIXED_ADDR) is already patched for image->code_addr and
 * image->data_addr: `code` and (if data_size != 0) `data` must be exactly
 * those addresses, else CP_ERR_ADDRESS and nothing is written. */
cp_status cp_image_load(const cp_image *image, uint8_t *code, size_t code_capacity,
                        uint8_t *data, size_t data_capacity);

/* Address to call: code + entry, with the Thumb bit set for Thumb entries.
 * Call it as a cp_entry_fn with the address of the loaded data region. */
uintptr_t cp_image_entry_address(const cp_image *image, const uint8_t *code);
typedef void (*cp_entry_fn)(uint8_t *data);

/* Encodes one patch: writes V = value into the field at `site`, whose run-time
 * address is `place`. Checks the instruction shape and the range. */
cp_status cp_patch_apply(unsigned kind, uint8_t *site, uint64_t value, uint64_t place);

/* Name of a patch kind ("rel32", "a64_adr_page21", ...) or NULL if unknown. */
const char *cp_patch_kind_name(unsigned kind);
/* Bytes the patch touches at its site (0 for an unknown kind). */
unsigned cp_patch_kind_width(unsigned kind);

uint32_t cp_crc32(const void *bytes, size_t size);
void cp_flush_icache(void *begin, void *end);

/* Little-endian field access (also used by the compiler's writer). */
static inline uint32_t cp_read_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint16_t cp_read_u16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint64_t cp_read_u64(const uint8_t *p) {
    return (uint64_t)cp_read_u32(p) | ((uint64_t)cp_read_u32(p + 4) << 32);
}
static inline void cp_write_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void cp_write_u64(uint8_t *p, uint64_t v) {
    cp_write_u32(p, (uint32_t)v); cp_write_u32(p + 4, (uint32_t)(v >> 32));
}
static inline void cp_write_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);
}

#ifdef __cplusplus
}
#endif
#endif /* COPAPY_IMAGE_H */
