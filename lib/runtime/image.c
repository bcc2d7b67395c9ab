/*
 * Validating and loading images (layout: include/copapy/image.h, prose:
 * docs/image-format.md).
 *
 * Nothing in an image is trusted before cp_image_open has checked it: every
 * field is read byte by byte within the buffer, all offsets are computed in
 * 64-bit arithmetic (u32 sizes and counts cannot overflow it) and compared
 * against the buffer size, and the checksum is verified before any table
 * entry is interpreted, so random corruption is reported as such rather than
 * as whatever field it happened to hit.
 *
 * The library uses no libc (not even memcpy): it must link into bare-metal
 * firmware as well as into coparun.
 */
#include <copapy/image.h>
#include <string.h>

#include "patch_internal.h"

#define CP_MAX_ALIGN 65536u
/* How far before or after its region a patch target may point: the addend
 * carries instruction biases (x86 rel32 -4, ARM -8) and end-of-object
 * pointers, never large displacements. */
#define CP_ADDEND_SLACK 64

/* One decoded patch table entry. */
struct patch {
    uint32_t site;
    uint8_t kind;
    uint8_t region;
    uint16_t reserved;
    int32_t addend;
};

/* Where each part of the image starts, in bytes from the beginning; the
 * *_end members are where the zero padding after a part begins. */
struct layout {
    uint64_t code_end, data, data_end, patches, symbols, strtab, strtab_end, crc, total;
};

static uint64_t align4(uint64_t v) { return (v + 3u) & ~(uint64_t)3u; }

static int is_pow2_align(uint32_t a) { return a >= 1u && a <= CP_MAX_ALIGN && (a & (a - 1u)) == 0; }

static void copy_bytes(uint8_t *dst, const uint8_t *src, uint32_t n) {
    uint32_t i;
    for (i = 0; i < n; ++i) {
        dst[i] = src[i];
    }
}

static int all_zero(const uint8_t *p, uint64_t n) {
    uint64_t i;
    for (i = 0; i < n; ++i) {
        if (p[i] != 0) {
            return 0;
        }
    }
    return 1;
}

static int same_string(const char *a, const char *b) {
    while (*a != '\0' && *a == *b) {
        ++a;
        ++b;
    }
    return *a == *b;
}

static void clear_image(cp_image *img) {
    img->bytes = 0;
    img->size = 0;
    img->version = 0;
    img->target = 0;
    img->flags = 0;
    img->code_size = img->code_align = 0;
    img->data_size = img->data_align = 0;
    img->entry = 0;
    img->patch_count = img->symbol_count = img->strtab_size = 0;
    img->code_addr = img->data_addr = 0;
    img->code = img->data = img->patches = img->symbols = img->strtab = 0;
}

/* ---- Header ------------------------------------------------------------- */

/* Alignment of instructions at the entry point, by target and entry state. */
static uint32_t entry_alignment(uint16_t target, uint32_t flags) {
    switch (target) {
    case CP_TARGET_AARCH64:
        return 4;
    case CP_TARGET_ARMV7:
    case CP_TARGET_THUMBV7:
    case CP_TARGET_THUMBV7EM:
    case CP_TARGET_ARMV6:
        return (flags & CP_FLAG_THUMB_ENTRY) ? 2 : 4;
    case CP_TARGET_RISCV64:
    case CP_TARGET_RISCV32:
        return 2; /* the C extension: 16-bit instructions */
    default:
        return 1; /* x86-64: instructions have no alignment */
    }
}

static int is_arm32(uint16_t target) {
    return target == CP_TARGET_ARMV7 || target == CP_TARGET_THUMBV7 || target == CP_TARGET_THUMBV7EM ||
           target == CP_TARGET_ARMV6;
}

/* Targets with a 32-bit address space. */
static int is_32bit(uint16_t target) {
    return is_arm32(target) || target == CP_TARGET_X86 || target == CP_TARGET_RISCV32;
}

/* [at, at + size) is aligned and lies in the target's address space (no wrap). */
static int region_fits(uint16_t target, uint64_t at, uint32_t size, uint32_t align) {
    const uint64_t highest = is_32bit(target) ? 0xffffffffu : ~(uint64_t)0;
    if ((at & (uint64_t)(align - 1u)) != 0 || at > highest) {
        return 0;
    }
    return size == 0 || (uint64_t)size - 1u <= highest - at;
}

/* The load addresses of a fixed-address image; zero in any other. */
static cp_status check_addresses(const cp_image *img) {
    if (!(img->flags & CP_FLAG_FIXED_ADDR)) {
        return img->code_addr == 0 && img->data_addr == 0 ? CP_OK : CP_ERR_LAYOUT;
    }
    if (!region_fits(img->target, img->code_addr, img->code_size, img->code_align) ||
        !region_fits(img->target, img->data_addr, img->data_size, img->data_align)) {
        return CP_ERR_LAYOUT;
    }
    /* The regions do not overlap (both fit, so the ends do not wrap). */
    if (img->data_size != 0 && img->code_addr < img->data_addr + img->data_size &&
        img->data_addr < img->code_addr + img->code_size) {
        return CP_ERR_LAYOUT;
    }
    return CP_OK;
}

/* The header fields other than the version and the sizes, which were needed
 * (and checked) to find the checksum. */
static cp_status check_header(const cp_image *img) {
    const uint32_t known_flags = CP_FLAG_THUMB_ENTRY | CP_FLAG_FIXED_ADDR;
    if (img->target < CP_TARGET_X86_64 || img->target > CP_TARGET_LAST) {
        return CP_ERR_TARGET;
    }
    /* Unknown flags could change the meaning of the image: refuse them. The
     * Thumb state only exists on 32-bit Arm; an odd entry address elsewhere
     * would jump into the middle of an instruction. */
    if ((img->flags & ~known_flags) != 0 ||
        ((img->flags & CP_FLAG_THUMB_ENTRY) && !is_arm32(img->target))) {
        return CP_ERR_LAYOUT;
    }
    if (!is_pow2_align(img->code_align) || !is_pow2_align(img->data_align)) {
        return CP_ERR_LAYOUT;
    }
    if (img->code_size == 0 || img->entry >= img->code_size ||
        (img->entry & (entry_alignment(img->target, img->flags) - 1u)) != 0) {
        return CP_ERR_LAYOUT;
    }
    /* A fixed-address image has nothing left to patch. */
    if ((img->flags & CP_FLAG_FIXED_ADDR) && img->patch_count != 0) {
        return CP_ERR_LAYOUT;
    }
    return check_addresses(img);
}

static void compute_layout(const cp_image *img, struct layout *l) {
    l->code_end = (uint64_t)CP_HEADER_SIZE + img->code_size;
    l->data = align4(l->code_end);
    l->data_end = l->data + img->data_size;
    l->patches = align4(l->data_end);
    l->symbols = l->patches + (uint64_t)img->patch_count * CP_PATCH_SIZE;
    l->strtab = l->symbols + (uint64_t)img->symbol_count * CP_SYMBOL_SIZE;
    l->strtab_end = l->strtab + img->strtab_size;
    l->crc = align4(l->strtab_end);
    l->total = l->crc + 4u;
}

/* ---- Table entries ------------------------------------------------------ */

static void read_patch(const cp_image *img, uint32_t index, struct patch *p) {
    const uint8_t *e = img->patches + (size_t)index * CP_PATCH_SIZE;
    p->site = cp_read_u32(e + CP_PATCH_SITE);
    p->kind = e[CP_PATCH_KIND];
    p->region = e[CP_PATCH_REGION];
    p->reserved = cp_read_u16(e + CP_PATCH_RESERVED);
    p->addend = cp_as_signed32(cp_read_u32(e + CP_PATCH_ADDEND));
}

/* Patch kinds that make sense in code for a target: its own instruction
 * encoders plus the pointer widths it can have. ARM and Thumb encoders are
 * allowed on both A-profile targets (library code may use either state);
 * the M-profile has no ARM state. */
static int kind_allowed(uint16_t target, unsigned kind) {
    switch (target) {
    case CP_TARGET_X86_64:
        return kind == CP_PATCH_REL32 || kind == CP_PATCH_ABS64 || kind == CP_PATCH_ABS32;
    case CP_TARGET_X86:
        return kind == CP_PATCH_REL32 || kind == CP_PATCH_ABS32;
    case CP_TARGET_ARMV6: /* no MOVW/MOVT before ARMv6T2: literal pools */
        return kind == CP_PATCH_ARM_BRANCH24 || kind == CP_PATCH_ABS32;
    case CP_TARGET_AARCH64:
        return (kind >= CP_PATCH_A64_ADR_PAGE21 && kind <= CP_PATCH_A64_BRANCH26) ||
               kind == CP_PATCH_ABS64 || kind == CP_PATCH_ABS32;
    case CP_TARGET_ARMV7:
    case CP_TARGET_THUMBV7:
        return (kind >= CP_PATCH_ARM_MOVW && kind <= CP_PATCH_THM_BRANCH24) || kind == CP_PATCH_ABS32;
    case CP_TARGET_THUMBV7EM:
        return (kind >= CP_PATCH_THM_MOVW && kind <= CP_PATCH_THM_BRANCH24) || kind == CP_PATCH_ABS32;
    case CP_TARGET_RISCV64:
        return (kind >= CP_PATCH_RV_BRANCH && kind <= CP_PATCH_RV_RVC_JUMP) || kind == CP_PATCH_ABS64 ||
               kind == CP_PATCH_ABS32;
    case CP_TARGET_RISCV32:
        return (kind >= CP_PATCH_RV_BRANCH && kind <= CP_PATCH_RV_RVC_JUMP) || kind == CP_PATCH_ABS32;
    default:
        return 0;
    }
}

static cp_status check_patch(const cp_image *img, const struct patch *p) {
    const unsigned width = cp_patch_kind_width(p->kind);
    uint32_t region_size;
    if (width == 0 || !kind_allowed(img->target, p->kind) || p->reserved != 0) {
        return CP_ERR_PATCH_KIND;
    }
    if (p->region == CP_REGION_CODE) {
        region_size = img->code_size;
    } else if (p->region == CP_REGION_DATA) {
        region_size = img->data_size;
    } else {
        return CP_ERR_PATCH_KIND;
    }
    if ((uint64_t)p->site + width > img->code_size) {
        return CP_ERR_PATCH_BOUNDS;
    }
    if ((int64_t)p->addend < -CP_ADDEND_SLACK ||
        (int64_t)p->addend > (int64_t)region_size + CP_ADDEND_SLACK) {
        return CP_ERR_PATCH_BOUNDS;
    }
    return CP_OK;
}

static void read_symbol(const cp_image *img, uint32_t index, uint32_t *name, cp_symbol *s,
                        uint16_t *reserved) {
    const uint8_t *e = img->symbols + (size_t)index * CP_SYMBOL_SIZE;
    *name = cp_read_u32(e + CP_SYM_NAME);
    s->offset = cp_read_u32(e + CP_SYM_OFFSET);
    s->dtype = e[CP_SYM_DTYPE];
    s->flags = e[CP_SYM_FLAGS];
    *reserved = cp_read_u16(e + CP_SYM_RESERVED);
    s->lo = cp_read_u32(e + CP_SYM_LO);
    s->hi = cp_read_u32(e + CP_SYM_HI);
}

/* A binary32 pattern as a float, without type punning through pointers. */
static float float_of_bits(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* A declared range is well formed: lo <= hi in the dtype's order, no NaN,
 * within [0, 1] for bools; only on inputs. Without CP_SYM_RANGE both are 0. */
static int range_valid(const cp_symbol *s) {
    if (!(s->flags & CP_SYM_RANGE)) {
        return s->lo == 0 && s->hi == 0;
    }
    if (!(s->flags & CP_SYM_INPUT)) {
        return 0;
    }
    if (s->dtype == CP_DTYPE_FLOAT) {
        const float lo = float_of_bits(s->lo), hi = float_of_bits(s->hi);
        return lo == lo && hi == hi && lo <= hi; /* x == x: not NaN */
    }
    if ((int32_t)s->lo > (int32_t)s->hi) {
        return 0;
    }
    return s->dtype != CP_DTYPE_BOOL || ((int32_t)s->lo >= 0 && (int32_t)s->hi <= 1);
}

int cp_symbol_allows(const cp_symbol *s, uint32_t bits) {
    if (!(s->flags & CP_SYM_RANGE)) {
        return 1;
    }
    if (s->dtype == CP_DTYPE_FLOAT) {
        const float v = float_of_bits(bits);
        return v >= float_of_bits(s->lo) && v <= float_of_bits(s->hi); /* false for NaN */
    }
    return (int32_t)bits >= (int32_t)s->lo && (int32_t)bits <= (int32_t)s->hi;
}

/* A non-empty string table ends with a NUL (the writer puts one after every
 * name), so that each name in it is NUL-terminated inside it: checked once
 * per image instead of scanning every name, which would take time
 * quadratic in the image size when many symbols share one long name. */
static int strtab_terminated(const cp_image *img) {
    return img->strtab_size == 0 || img->strtab[img->strtab_size - 1u] == '\0';
}

/* Checks entry `index`, and gives it in *out (name included) if it is valid.
 * Constant time: it also guards every later use of an opened image. */
static cp_status check_symbol(const cp_image *img, uint32_t index, cp_symbol *out) {
    const uint32_t known_flags = CP_SYM_INPUT | CP_SYM_OUTPUT | CP_SYM_STATE | CP_SYM_RANGE;
    uint32_t name;
    uint16_t reserved;
    cp_symbol s;
    read_symbol(img, index, &name, &s, &reserved);
    /* The name: non-empty and inside the string table, whose final NUL ends it. */
    if (name >= img->strtab_size || img->strtab[name] == '\0' || !strtab_terminated(img)) {
        return CP_ERR_SYMBOL;
    }
    if (s.dtype < CP_DTYPE_INT || s.dtype > CP_DTYPE_BOOL || reserved != 0) {
        return CP_ERR_SYMBOL;
    }
    if (s.flags & CP_SYM_BOUND) {
        /* A device register: one direction, a width, an address aligned to it
         * (floats 32 bits wide), nothing else. */
        if ((s.flags != CP_SYM_BOUND_INPUT && s.flags != CP_SYM_BOUND_OUTPUT) ||
            (s.lo != 8 && s.lo != 16 && s.lo != 32) || s.hi != 0 || s.offset % (s.lo / 8u) != 0 ||
            (s.dtype == CP_DTYPE_FLOAT && s.lo != 32)) {
            return CP_ERR_SYMBOL;
        }
    } else if ((s.offset & 3u) != 0 || (uint64_t)s.offset + 4u > img->data_size || s.flags == 0 ||
               (s.flags & ~known_flags) != 0 || !range_valid(&s)) {
        /* The value: a whole, aligned 4-byte slot of the data region. */
        return CP_ERR_SYMBOL;
    }
    if (out != 0) {
        s.name = (const char *)(img->strtab + name);
        *out = s;
    }
    return CP_OK;
}

/* ---- Opening ------------------------------------------------------------ */

static cp_status open_image(cp_image *img, const uint8_t *b, size_t size) {
    static const char magic[CP_IMAGE_MAGIC_SIZE] = CP_IMAGE_MAGIC;
    struct layout l;
    cp_status st;
    uint32_t i;
    size_t n;

    /* Magic first, over what is there: a short text file is "not an image"
     * rather than "truncated". */
    for (n = 0; n < CP_IMAGE_MAGIC_SIZE && n < size; ++n) {
        if (b[n] != (uint8_t)magic[n]) {
            return CP_ERR_MAGIC;
        }
    }
    /* The version field comes first: an older image may have a shorter
     * header, and is "an unsupported version" rather than "truncated". */
    if (size < CP_HDR_VERSION + 2u) {
        return CP_ERR_TRUNCATED;
    }
    if (cp_read_u16(b + CP_HDR_VERSION) != CP_IMAGE_VERSION) {
        return CP_ERR_VERSION;
    }
    if (size < CP_HEADER_SIZE) {
        return CP_ERR_TRUNCATED;
    }
    img->bytes = b;
    img->size = size;
    img->version = cp_read_u16(b + CP_HDR_VERSION);
    img->target = cp_read_u16(b + CP_HDR_TARGET);
    img->flags = cp_read_u32(b + CP_HDR_FLAGS);
    img->code_size = cp_read_u32(b + CP_HDR_CODE_SIZE);
    img->code_align = cp_read_u32(b + CP_HDR_CODE_ALIGN);
    img->data_size = cp_read_u32(b + CP_HDR_DATA_SIZE);
    img->data_align = cp_read_u32(b + CP_HDR_DATA_ALIGN);
    img->entry = cp_read_u32(b + CP_HDR_ENTRY);
    img->patch_count = cp_read_u32(b + CP_HDR_PATCH_COUNT);
    img->symbol_count = cp_read_u32(b + CP_HDR_SYMBOL_COUNT);
    img->strtab_size = cp_read_u32(b + CP_HDR_STRTAB_SIZE);
    img->code_addr = cp_read_u64(b + CP_HDR_CODE_ADDR);
    img->data_addr = cp_read_u64(b + CP_HDR_DATA_ADDR);
    /* Another version may have another layout: nothing else can be read. */
    if (img->version != CP_IMAGE_VERSION) {
        return CP_ERR_VERSION;
    }

    /* Where the checksum is follows from the sizes alone. */
    compute_layout(img, &l);
    if (l.total > (uint64_t)size) {
        return CP_ERR_TRUNCATED;
    }
    if (l.total < (uint64_t)size) {
        return CP_ERR_LAYOUT; /* trailing bytes: not what the writer produced */
    }
    /* From here on every offset in `l` lies inside the buffer, so the casts
     * to size_t below are exact. The checksum comes before any semantic
     * check, so that corruption is reported as corruption. */
    if (cp_crc32(b, (size_t)l.crc) != cp_read_u32(b + (size_t)l.crc)) {
        return CP_ERR_CHECKSUM;
    }
    st = check_header(img);
    if (st != CP_OK) {
        return st;
    }
    /* Padding is zero, so that equal images are equal byte for byte. */
    if (!all_zero(b + (size_t)l.code_end, l.data - l.code_end) ||
        !all_zero(b + (size_t)l.data_end, l.patches - l.data_end) ||
        !all_zero(b + (size_t)l.strtab_end, l.crc - l.strtab_end)) {
        return CP_ERR_LAYOUT;
    }
    img->code = b + CP_HEADER_SIZE;
    img->data = b + (size_t)l.data;
    img->patches = b + (size_t)l.patches;
    img->symbols = b + (size_t)l.symbols;
    img->strtab = b + (size_t)l.strtab;

    for (i = 0; i < img->patch_count; ++i) {
        struct patch p;
        read_patch(img, i, &p);
        st = check_patch(img, &p);
        if (st != CP_OK) {
            return st;
        }
    }
    for (i = 0; i < img->symbol_count; ++i) {
        st = check_symbol(img, i, 0);
        if (st != CP_OK) {
            return st;
        }
    }
    return CP_OK;
}

cp_status cp_image_open(cp_image *image, const void *bytes, size_t size) {
    cp_status st;
    if (image == 0) {
        return CP_ERR_MEMORY;
    }
    clear_image(image);
    if (bytes == 0) {
        return size == 0 ? CP_ERR_TRUNCATED : CP_ERR_MEMORY;
    }
    st = open_image(image, (const uint8_t *)bytes, size);
    if (st != CP_OK) {
        clear_image(image); /* never leave a half-validated view behind */
    }
    return st;
}

/* ---- Symbols ------------------------------------------------------------ */

/* The entry is checked again (in constant time): the buffer may have changed
 * since cp_image_open, against the contract in image.h. */
cp_status cp_image_symbol(const cp_image *image, uint32_t index, cp_symbol *out) {
    if (image == 0 || out == 0 || image->bytes == 0 || index >= image->symbol_count) {
        return CP_ERR_NOT_FOUND;
    }
    return check_symbol(image, index, out);
}

cp_status cp_image_find(const cp_image *image, const char *name, cp_symbol *out) {
    uint32_t i;
    if (image == 0 || name == 0 || image->bytes == 0) {
        return CP_ERR_NOT_FOUND;
    }
    for (i = 0; i < image->symbol_count; ++i) {
        cp_symbol s;
        const cp_status st = check_symbol(image, i, &s);
        if (st != CP_OK) {
            return st;
        }
        if (same_string(s.name, name)) {
            if (out != 0) {
                *out = s;
            }
            return CP_OK;
        }
    }
    return CP_ERR_NOT_FOUND;
}

/* ---- Loading ------------------------------------------------------------ */

static int aligned(const void *p, uint32_t alignment) {
    return ((uintptr_t)p & (uintptr_t)(alignment - 1u)) == 0;
}

/* Do [a, a + an) and [b, b + bn) share a byte? */
static int overlap(const uint8_t *a, uint32_t an, const uint8_t *b, uint32_t bn) {
    const uintptr_t a0 = (uintptr_t)a, b0 = (uintptr_t)b;
    if (an == 0 || bn == 0) {
        return 0;
    }
    return a0 >= b0 ? a0 - b0 < bn : b0 - a0 < an; /* no wrap-around near the top */
}

/* On failure the memory may hold a partly patched copy: never run it. */
cp_status cp_image_load(const cp_image *image, uint8_t *code, size_t code_capacity,
                        uint8_t *data, size_t data_capacity) {
    uint32_t i;
    if (image == 0 || image->bytes == 0 || code == 0 || (data == 0 && image->data_size != 0)) {
        return CP_ERR_MEMORY;
    }
    if (code_capacity < image->code_size || data_capacity < image->data_size ||
        !aligned(code, image->code_align) || !aligned(data, image->data_align) ||
        overlap(code, image->code_size, data, image->data_size)) {
        return CP_ERR_MEMORY;
    }
    /* Patched at compile time for one place: anywhere else the code would
     * read and write whatever is mapped at the addresses it was built for. */
    if ((image->flags & CP_FLAG_FIXED_ADDR) &&
        ((uint64_t)(uintptr_t)code != image->code_addr ||
         (image->data_size != 0 && (uint64_t)(uintptr_t)data != image->data_addr))) {
        return CP_ERR_ADDRESS;
    }
    copy_bytes(code, image->code, image->code_size);
    if (image->data_size != 0) {
        copy_bytes(data, image->data, image->data_size);
    }
    for (i = 0; i < image->patch_count; ++i) {
        struct patch p;
        uint64_t base, value;
        cp_status st;
        read_patch(image, i, &p);
        /* Already checked by cp_image_open; repeated because it guards a
         * write and costs nothing next to the encoding. */
        st = check_patch(image, &p);
        if (st != CP_OK) {
            return st;
        }
        base = (uint64_t)(uintptr_t)(p.region == CP_REGION_CODE ? code : data);
        value = base + (uint64_t)(int64_t)p.addend; /* modulo 2^64: adds a signed addend */
        st = cp_patch_apply(p.kind, code + p.site, value, (uint64_t)(uintptr_t)(code + p.site));
        if (st != CP_OK) {
            return st;
        }
    }
    return CP_OK;
}

uintptr_t cp_image_entry_address(const cp_image *image, const uint8_t *code) {
    uintptr_t address = (uintptr_t)code + image->entry;
    if (image->flags & CP_FLAG_THUMB_ENTRY) {
        address |= 1u;
    }
    return address;
}

/* ---- Messages and checksum ---------------------------------------------- */

const char *cp_status_message(cp_status status) {
    switch (status) {
    case CP_OK: return "success";
    case CP_ERR_TRUNCATED: return "image is truncated";
    case CP_ERR_MAGIC: return "bad magic: not a copapy image";
    case CP_ERR_VERSION: return "unsupported image format version";
    case CP_ERR_TARGET: return "unknown or unsupported target";
    case CP_ERR_CHECKSUM: return "checksum mismatch: the image is corrupted";
    case CP_ERR_LAYOUT: return "inconsistent image layout (sizes, alignment, flags or entry point)";
    case CP_ERR_PATCH_BOUNDS: return "patch site or target out of bounds";
    case CP_ERR_PATCH_KIND: return "unknown patch kind or region";
    case CP_ERR_PATCH_RANGE: return "patch value out of range for its instruction field";
    case CP_ERR_PATCH_INSN: return "patched bytes are not the expected instruction";
    case CP_ERR_SYMBOL: return "malformed symbol table entry";
    case CP_ERR_NOT_FOUND: return "no such symbol";
    case CP_ERR_MEMORY: return "load memory too small, misaligned or overlapping";
    case CP_ERR_ADDRESS: return "fixed-address image: it must be loaded at the addresses it was built for";
    }
    return "unknown status";
}

/* CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320, init and final xor
 * 0xFFFFFFFF), equal to zlib.crc32. Four bits per step with a 16-entry const
 * table: no mutable state (reentrant, ROM-able) and small enough for
 * firmware, yet fast enough for images of a few hundred KiB. Entry i is the
 * CRC register after shifting the nibble i through it. */
uint32_t cp_crc32(const void *bytes, size_t size) {
    static const uint32_t nibble[16] = {
        0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu, 0x76dc4190u, 0x6b6b51f4u,
        0x4db26158u, 0x5005713cu, 0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
        0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu};
    const uint8_t *p = (const uint8_t *)bytes;
    uint32_t crc = 0xffffffffu;
    size_t i;
    for (i = 0; i < size; ++i) {
        crc ^= p[i];
        crc = (crc >> 4) ^ nibble[crc & 15u];
        crc = (crc >> 4) ^ nibble[crc & 15u];
    }
    return crc ^ 0xffffffffu;
}
