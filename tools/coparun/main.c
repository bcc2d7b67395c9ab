/*
 * coparun: loads a copapy image, writes its inputs, runs it and prints its
 * outputs as JSON. A thin POSIX driver around lib/runtime, which does all the
 * validation and patching; this file only owns the memory, the page
 * protections and the command line.
 *
 * Memory: one anonymous mapping holds the code, rounded up to whole pages,
 * followed by the data. Code and data are thus in the same block (within
 * +-2 GiB for x86-64 rel32 and +-4 GiB for AArch64 ADRP) and the code pages
 * can be switched from read+write to read+execute without touching the data:
 * the code is never writable and executable at the same time.
 *
 * Exit status: 0 success, 1 bad image or input, 2 usage error.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS on glibc (not in POSIX 2008) */

#include <copapy/image.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS MAP_ANON
#endif
#ifndef COPAPY_VERSION
#define COPAPY_VERSION "unknown"
#endif

enum { EXIT_BAD_INPUT = 1, EXIT_USAGE = 2 };

/* Continue, or leave main() with this status. */
#define CONTINUE (-1)

static const char usage_line[] =
    "usage: coparun IMAGE [--set NAME=VALUE ...] [--repeat N] [--time] [--help] [--version]\n";

static const char help_text[] =
    "\n"
    "Loads a copapy image (.cpimg) built for this machine, runs it and prints its\n"
    "named outputs as one JSON object on stdout, in symbol-table order, e.g.\n"
    "  {\"c\": 1.99000001, \"flag\": true, \"n\": -3}\n"
    "Floats have 9 significant digits (they round-trip binary32); nan and the\n"
    "infinities are printed as the strings \"nan\", \"inf\" and \"-inf\".\n"
    "\n"
    "The image is validated completely (format, checksum, every patch and symbol)\n"
    "before anything runs; its code is written, then made read+execute (never\n"
    "writable and executable at once), and the instruction cache is flushed.\n"
    "\n"
    "options:\n"
    "  --set NAME=VALUE  write the input NAME before running; repeatable.\n"
    "                    int: decimal, 0x hex or 0 octal, within int32;\n"
    "                    float: a decimal or hex float, inf, nan;\n"
    "                    bool: true, false, 1 or 0\n"
    "  --repeat N        run the program N >= 1 times (default 1)\n"
    "  --time            print 'coparun: time: N runs, X ns/run' on stderr\n"
    "  --help            show this help and exit\n"
    "  --version         show the version and exit\n"
    "\n"
    "exit status: 0 success, 1 bad image or input (message on stderr),\n"
    "2 usage error.\n";

struct setting {
    const char *arg; /* NAME=VALUE as given */
    size_t name_len;
    const char *value;
};

struct options {
    const char *image;
    struct setting *sets;
    size_t set_count;
    unsigned long long repeat;
    int time;
};

/* ---- Messages ----------------------------------------------------------- */

#if defined(__GNUC__)
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PRINTF_LIKE(fmt, args)
#endif

static int usage_error(const char *fmt, ...) PRINTF_LIKE(1, 2);
static int file_error(const char *file, const char *fmt, ...) PRINTF_LIKE(2, 3);

static int usage_error(const char *fmt, ...) {
    va_list ap;
    fputs("coparun: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n", stderr);
    fputs(usage_line, stderr);
    return EXIT_USAGE;
}

/* `coparun: error: <file>: <what>`; returns EXIT_BAD_INPUT. */
static int file_error(const char *file, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "coparun: error: %s: ", file);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n", stderr);
    return EXIT_BAD_INPUT;
}

static const char *target_name(unsigned target) {
    switch (target) {
    case CP_TARGET_X86_64: return "x86_64";
    case CP_TARGET_AARCH64: return "aarch64";
    case CP_TARGET_ARMV7: return "armv7";
    case CP_TARGET_THUMBV7: return "thumbv7";
    case CP_TARGET_THUMBV7EM: return "thumbv7em";
    default: return "unknown";
    }
}

/* Can this build of coparun execute code for `target`? 32-bit Arm Linux
 * runs ARM-state and Thumb-2 code alike; the Cortex-M4 code is Thumb-2 with
 * single-precision VFP, which an ARMv7-A with VFP executes too. */
static int host_runs(unsigned target) {
#if defined(__x86_64__)
    return target == CP_TARGET_X86_64;
#elif defined(__aarch64__)
    return target == CP_TARGET_AARCH64;
#elif defined(__arm__)
    return target == CP_TARGET_ARMV7 || target == CP_TARGET_THUMBV7 ||
           target == CP_TARGET_THUMBV7EM;
#else
    (void)target;
    return 0;
#endif
}

static const char *host_name(void) {
#if defined(__x86_64__)
    return "x86_64";
#elif defined(__aarch64__)
    return "aarch64";
#elif defined(__arm__)
    return "32-bit arm";
#else
    return "this";
#endif
}

/* ---- Command line ------------------------------------------------------- */

/* The value of option `name` at argv[*i]: "--name=value" or "--name value".
 * NULL if argv[*i] is not that option; *missing is set if the value is. */
static const char *option_value(int argc, char **argv, int *i, const char *name, int *missing) {
    const size_t n = strlen(name);
    const char *arg = argv[*i];
    if (strncmp(arg, name, n) != 0) {
        return NULL;
    }
    if (arg[n] == '=') {
        return arg + n + 1;
    }
    if (arg[n] != '\0') {
        return NULL;
    }
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

static int parse_repeat(const char *s, unsigned long long *out) {
    char *end;
    if (s[0] < '0' || s[0] > '9') {
        return 0; /* strtoull would accept "-1", " 1" and "+1" */
    }
    errno = 0;
    *out = strtoull(s, &end, 10);
    return errno == 0 && *end == '\0' && *out >= 1;
}

static int parse_args(int argc, char **argv, struct options *o) {
    int i, only_positional = 0;
    o->repeat = 1;
    for (i = 1; i < argc; ++i) {
        const char *arg = argv[i];
        const char *v;
        int missing = 0;
        if (only_positional || arg[0] != '-' || arg[1] == '\0') {
            if (o->image != NULL) {
                return usage_error("more than one image given ('%s' and '%s')", o->image, arg);
            }
            o->image = arg;
        } else if (strcmp(arg, "--") == 0) {
            only_positional = 1;
        } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(usage_line, stdout);
            fputs(help_text, stdout);
            return EXIT_SUCCESS;
        } else if (strcmp(arg, "--version") == 0) {
            printf("coparun %s (image format %d)\n", COPAPY_VERSION, CP_IMAGE_VERSION);
            return EXIT_SUCCESS;
        } else if (strcmp(arg, "--time") == 0) {
            o->time = 1;
        } else if ((v = option_value(argc, argv, &i, "--set", &missing)) != NULL) {
            const char *eq = strchr(v, '=');
            if (eq == NULL || eq == v) {
                return usage_error("--set expects NAME=VALUE, got '%s'", v);
            }
            o->sets[o->set_count].arg = v;
            o->sets[o->set_count].name_len = (size_t)(eq - v);
            o->sets[o->set_count].value = eq + 1;
            ++o->set_count;
        } else if (!missing && (v = option_value(argc, argv, &i, "--repeat", &missing)) != NULL) {
            if (!parse_repeat(v, &o->repeat)) {
                return usage_error("--repeat expects a whole number >= 1, got '%s'", v);
            }
        } else if (missing) {
            return usage_error("%s expects a value", arg);
        } else {
            return usage_error("unknown option '%s'", arg);
        }
    }
    if (o->image == NULL) {
        return usage_error("no image given");
    }
    return CONTINUE;
}

/* ---- Image file --------------------------------------------------------- */

/* Reads all of `path` (works for pipes too). */
static int read_file(const char *path, uint8_t **bytes, size_t *size) {
    FILE *f = fopen(path, "rb");
    size_t cap = 0, len = 0;
    uint8_t *buf = NULL;
    if (f == NULL) {
        return file_error(path, "cannot open: %s", strerror(errno));
    }
    for (;;) {
        size_t got;
        if (len == cap) {
            uint8_t *grown;
            cap = cap ? cap * 2 : 65536;
            if (cap < len || (grown = realloc(buf, cap)) == NULL) {
                free(buf);
                fclose(f);
                return file_error(path, "cannot read: out of memory");
            }
            buf = grown;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            break;
        }
    }
    if (ferror(f)) {
        const int err = errno;
        free(buf);
        fclose(f);
        return file_error(path, "cannot read: %s", strerror(err));
    }
    fclose(f);
    *bytes = buf;
    *size = len;
    return CONTINUE;
}

/* ---- Inputs ------------------------------------------------------------- */

static int parse_int(const char *s, uint32_t *bits) {
    char *end;
    long v;
    if (s[0] == '\0' || s[0] == ' ' || s[0] == '\t' || s[0] == '\n') {
        return 0;
    }
    errno = 0;
    v = strtol(s, &end, 0);
    if (errno != 0 || *end != '\0' || v < INT32_MIN || v > INT32_MAX) {
        return 0;
    }
    *bits = (uint32_t)(int32_t)v; /* two's complement, as the code reads it */
    return 1;
}

static int parse_float(const char *s, uint32_t *bits) {
    char *end;
    float f;
    if (s[0] == '\0' || s[0] == ' ' || s[0] == '\t' || s[0] == '\n') {
        return 0;
    }
    errno = 0;
    f = strtof(s, &end);
    /* ERANGE on underflow still gives the nearest float: accept it; on
     * overflow the result is an infinity nobody asked for. */
    if (*end != '\0' || (errno == ERANGE && isinf(f))) {
        return 0;
    }
    memcpy(bits, &f, sizeof *bits);
    return 1;
}

static int parse_bool(const char *s, uint32_t *bits) {
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "1") == 0) {
        *bits = 1;
    } else if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "0") == 0) {
        *bits = 0;
    } else {
        return 0;
    }
    return 1;
}

static const char *dtype_name(unsigned dtype) {
    switch (dtype) {
    case CP_DTYPE_INT: return "int";
    case CP_DTYPE_FLOAT: return "float";
    case CP_DTYPE_BOOL: return "bool";
    default: return "?";
    }
}

static int apply_setting(const char *file, const cp_image *img, uint8_t *data, const struct setting *s) {
    cp_symbol sym;
    uint32_t bits = 0;
    int ok, found;
    char *name = malloc(s->name_len + 1);
    if (name == NULL) {
        return file_error(file, "out of memory");
    }
    memcpy(name, s->arg, s->name_len);
    name[s->name_len] = '\0';
    found = cp_image_find(img, name, &sym) == CP_OK;
    if (!found || !(sym.flags & CP_SYM_INPUT)) {
        const int rc = found ? file_error(file, "--set %s: '%s' is not an input (it is an output)", s->arg, name)
                             : file_error(file, "--set %s: no input named '%s'", s->arg, name);
        free(name);
        return rc;
    }
    free(name);
    switch (sym.dtype) {
    case CP_DTYPE_INT: ok = parse_int(s->value, &bits); break;
    case CP_DTYPE_FLOAT: ok = parse_float(s->value, &bits); break;
    default: ok = parse_bool(s->value, &bits); break;
    }
    if (!ok) {
        return file_error(file, "--set %s: '%s' is not a valid %s%s", s->arg, s->value,
                          dtype_name(sym.dtype),
                          sym.dtype == CP_DTYPE_INT ? " (int32)"
                          : sym.dtype == CP_DTYPE_BOOL ? " (true, false, 1 or 0)" : "");
    }
    cp_write_u32(data + sym.offset, bits); /* the image is little-endian */
    return CONTINUE;
}

/* ---- Outputs ------------------------------------------------------------ */

static void print_json_string(const char *s) {
    putchar('"');
    for (; *s != '\0'; ++s) {
        const unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            putchar('\\');
            putchar(c);
        } else if (c < 0x20) {
            printf("\\u%04x", c);
        } else {
            putchar(c);
        }
    }
    putchar('"');
}

static void print_value(unsigned dtype, uint32_t bits) {
    if (dtype == CP_DTYPE_FLOAT) {
        float f;
        memcpy(&f, &bits, sizeof f);
        if (isnan(f)) {
            fputs("\"nan\"", stdout);
        } else if (isinf(f)) {
            fputs(f > 0 ? "\"inf\"" : "\"-inf\"", stdout);
        } else {
            /* Always with a '.' or an exponent, so that JSON readers see a
             * float (and keep the sign of -0.0) rather than an integer. */
            char text[32];
            snprintf(text, sizeof text, "%.9g", (double)f);
            fputs(text, stdout);
            if (!strpbrk(text, ".e")) fputs(".0", stdout);
        }
    } else if (dtype == CP_DTYPE_BOOL) {
        fputs(bits != 0 ? "true" : "false", stdout);
    } else {
        /* two's complement int32, converted without implementation-defined casts */
        const long v = bits <= 0x7fffffffu ? (long)bits : -(long)(~bits) - 1;
        printf("%ld", v);
    }
}

static int print_outputs(const char *file, const cp_image *img, const uint8_t *data) {
    const char *sep = "";
    uint32_t i;
    putchar('{');
    for (i = 0; i < img->symbol_count; ++i) {
        cp_symbol sym;
        if (cp_image_symbol(img, i, &sym) != CP_OK || !(sym.flags & CP_SYM_OUTPUT)) {
            continue;
        }
        fputs(sep, stdout);
        print_json_string(sym.name);
        fputs(": ", stdout);
        print_value(sym.dtype, cp_read_u32(data + sym.offset));
        sep = ", ";
    }
    fputs("}\n", stdout);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        return file_error(file, "cannot write the outputs: %s", strerror(errno));
    }
    return EXIT_SUCCESS;
}

/* Validates the image and checks that this machine can run it. An image
 * for another machine is reported as such whenever it is intact as far as
 * the format goes (magic, version, size, checksum): a failure of the deeper,
 * target-specific checks then most likely means the target field was
 * rewritten, and "wrong machine" is the actionable message either way. */
static int open_image(const char *file, const uint8_t *bytes, size_t size, cp_image *img) {
    const cp_status st = cp_image_open(img, bytes, size);
    const int intact = size >= CP_HEADER_SIZE && st != CP_ERR_MAGIC && st != CP_ERR_TRUNCATED && st != CP_ERR_VERSION &&
                       st != CP_ERR_CHECKSUM;
    const unsigned target = intact ? cp_read_u16(bytes + CP_HDR_TARGET) : 0;
    if (intact && target >= CP_TARGET_X86_64 && target <= CP_TARGET_THUMBV7EM && !host_runs(target)) {
        return file_error(file, "image is for %s, but this coparun runs %s code", target_name(target),
                          host_name());
    }
    if (st != CP_OK) {
        return file_error(file, "%s", cp_status_message(st));
    }
    return CONTINUE;
}

/* ---- Memory and running ------------------------------------------------- */

struct memory {
    void *map;
    size_t map_len;
    uint8_t *code, *data;
    size_t code_span, data_span;
};

static uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

/* One RW mapping: [slack for alignment][code, whole pages][data]. */
static int map_memory(const char *file, const cp_image *img, struct memory *m) {
    const long page_l = sysconf(_SC_PAGESIZE);
    const uint64_t page = page_l > 0 ? (uint64_t)page_l : 4096u;
    uint64_t align = page, code_span, data_span, len;
    uintptr_t base;
    if (img->code_align > align) align = img->code_align;
    if (img->data_align > align) align = img->data_align;
    /* Data starts right after the code pages, aligned for both. */
    code_span = round_up(img->code_size, img->data_align > page ? img->data_align : page);
    data_span = round_up(img->data_size ? img->data_size : 1u, page);
    len = (align - page) + code_span + data_span; /* mmap gives page alignment */
    if (len > (uint64_t)SIZE_MAX / 2) {
        return file_error(file, "image too large for this host's address space");
    }
    m->map_len = (size_t)len;
    m->map = mmap(NULL, m->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m->map == MAP_FAILED) {
        m->map = NULL;
        return file_error(file, "cannot map %zu bytes: %s", m->map_len, strerror(errno));
    }
    base = (uintptr_t)round_up((uintptr_t)m->map, align);
    m->code = (uint8_t *)m->map + (base - (uintptr_t)m->map);
    m->code_span = (size_t)code_span;
    m->data = m->code + m->code_span;
    m->data_span = (size_t)data_span;
    return CONTINUE;
}

static int run(const char *file, const cp_image *img, const struct options *o, struct memory *m) {
    void (*entry)(void);
    uintptr_t address;
    struct timespec t0, t1;
    unsigned long long n;
    size_t i;
    int rc;
    cp_status st = cp_image_load(img, m->code, m->code_span, m->data, m->data_span);
    if (st != CP_OK) {
        return file_error(file, "cannot load: %s", cp_status_message(st));
    }
    for (i = 0; i < o->set_count; ++i) {
        if ((rc = apply_setting(file, img, m->data, &o->sets[i])) != CONTINUE) {
            return rc;
        }
    }
    /* W^X: the code stops being writable before it becomes executable. */
    if (mprotect(m->code, m->code_span, PROT_READ | PROT_EXEC) != 0) {
        return file_error(file, "cannot make the code executable: %s", strerror(errno));
    }
    cp_flush_icache(m->code, m->code + img->code_size);
    /* POSIX guarantees that data addresses convert to function pointers; the
     * entry address carries the Thumb bit where needed. */
    address = cp_image_entry_address(img, m->code);
    entry = (void (*)(void))address;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (n = 0; n < o->repeat; ++n) {
        entry();
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (o->time) {
        const double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
        fprintf(stderr, "coparun: time: %llu runs, %.2f ns/run\n", o->repeat, ns / (double)o->repeat);
    }
    return print_outputs(file, img, m->data);
}

int main(int argc, char **argv) {
    struct options o;
    struct memory m;
    uint8_t *bytes = NULL;
    size_t size = 0;
    cp_image img;
    int rc;

    memset(&o, 0, sizeof o);
    memset(&m, 0, sizeof m);
    o.sets = calloc((size_t)(argc > 0 ? argc : 1), sizeof *o.sets); /* at most one per argument */
    if (o.sets == NULL) {
        fputs("coparun: error: out of memory\n", stderr);
        return EXIT_BAD_INPUT;
    }
    rc = parse_args(argc, argv, &o);
    if (rc == CONTINUE) {
        rc = read_file(o.image, &bytes, &size);
    }
    if (rc == CONTINUE) {
        rc = open_image(o.image, bytes, size, &img);
    }
    if (rc == CONTINUE) {
        rc = map_memory(o.image, &img, &m);
    }
    if (rc == CONTINUE) {
        rc = run(o.image, &img, &o, &m);
    }
    if (m.map != NULL) {
        munmap(m.map, m.map_len);
    }
    free(bytes);
    free(o.sets);
    return rc;
}
