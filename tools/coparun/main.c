/*
 * coparun: loads a copapy image, writes its inputs, runs it and prints its
 * outputs as JSON; or, with --serve, keeps the image loaded and answers
 * requests on stdin (serve.c). A thin POSIX driver: lib/runtime does all the
 * validation and patching, lib/runtime/host_loader.c (include/copapy/host.h)
 * owns the memory and the page protections (the code is never writable and
 * executable at once); this file only owns the command line.
 *
 * Exit status: 0 success, 1 bad image or input, 2 usage error.
 *
 * Built with COPAPY_BARE_METAL (coparun-semihost-<target>, a firmware whose
 * files, arguments and output go through semihosting) it has no --serve and
 * no --time: there is no pipe to serve and no clock to read.
 */
#define _POSIX_C_SOURCE 200809L

#include "coparun.h"

#include <copapy/host.h>
#include <copapy/image.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if !defined(COPAPY_BARE_METAL)
#include <time.h>
#endif

#ifndef COPAPY_VERSION
#define COPAPY_VERSION "unknown"
#endif

enum { EXIT_BAD_INPUT = 1, EXIT_USAGE = 2 };

/* Continue, or leave main() with this status. */
#define CONTINUE (-1)

static const char usage_line[] =
    "usage: coparun IMAGE [--set NAME=VALUE ...] [--poke ADDR:WIDTH=VALUE ...] [--peek ADDR:WIDTH ...]\n"
    "                     [--repeat N] [--time] [--serve] [--help] [--version]\n"
    "       coparun @FILE\n";

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
    "A fixed-address image (copapy-cc --code-addr/--data-addr) is mapped at\n"
    "its addresses, or refused with the reason; it never runs elsewhere.\n"
    "\n"
    "With a single argument @FILE the arguments are read from FILE instead, one\n"
    "per line, blank lines skipped (for command lines longer than the system, or\n"
    "semihosting, allows).\n"
    "\n"
    "options:\n"
    "  --set NAME=VALUE  write the input NAME before running; repeatable.\n"
    "                    int: decimal, 0x hex or 0 octal, within int32;\n"
    "                    float: a decimal or hex float, inf, nan;\n"
    "                    bool: true, false, 1 or 0;\n"
    "                    any type: #HHHHHHHH, its 32-bit pattern in hex\n"
    "  --poke ADDR:WIDTH=VALUE\n"
    "                    write a device register before running (for images\n"
    "                    with bound inputs and outputs, see copapy-cc): WIDTH 8,\n"
    "                    16 or 32 bits; ADDR and VALUE decimal or 0x hex ('_'\n"
    "                    between digits), VALUE also #HHHHHHHH. On Linux the\n"
    "                    pages of these and of the image's own bound registers\n"
    "                    are mapped as zeroed memory first (never over memory\n"
    "                    in use); repeatable\n"
    "  --peek ADDR:WIDTH print a device register after the runs, as the key\n"
    "                    \"@ADDR:WIDTH\" after the outputs; repeatable\n"
    "  --repeat N        run the program N >= 1 times (default 1)\n"
    "  --time            print 'coparun: time: N runs, X ns/run' on stderr\n"
    "  --serve           keep the image loaded and answer requests on stdin,\n"
    "                    one per line (after --set, nothing runs until asked)\n"
    "  --help            show this help and exit\n"
    "  --version         show the version and exit\n"
    "\n"
    "serve protocol (docs/cli.md): coparun first prints 'ready 2' (the protocol\n"
    "version), then answers every request line with exactly one line: 'ok',\n"
    "possibly followed by a space and a payload, or 'error: MESSAGE'. Words are\n"
    "separated by blanks; VALUEs are written as for --set; a request is at most\n"
    "1 MiB long.\n"
    "  set NAME VALUE [NAME VALUE ...]   write inputs or states (all or none)\n"
    "  run [N]                           run N >= 1 times (default 1)\n"
    "  get [NAME ...]                    'ok {JSON}': the named values, or all\n"
    "                                    outputs, printed as without --serve\n"
    "  bits [NAME ...]                   'ok HHHHHHHH ...': the same values as\n"
    "                                    32-bit patterns, 8 hex digits each\n"
    "  batch OUT ... | [NAME VALUE ...] | [NAME VALUE ...] ...\n"
    "                                    one period per '|': write its inputs,\n"
    "                                    run once; 'ok HHHHHHHH ...': the bits of\n"
    "                                    the OUT values, period after period\n"
    "  columns PERIODS [OUT ...] | [IN ...] | HEX\n"
    "                                    run PERIODS periods; HEX holds every\n"
    "                                    IN's value of each period, input after\n"
    "                                    input, 8 hex digits each; 'ok HEX': the\n"
    "                                    OUT values the same way\n"
    "  quit                              reply 'ok' and exit 0\n"
    "End of input also exits with status 0; a malformed request gets an 'error:'\n"
    "line and changes nothing.\n"
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
    struct coparun_register *pokes, *peeks; /* in the order given */
    size_t poke_count, peek_count;
    unsigned long long repeat;
    int repeat_given;
    int time;
    int serve;
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
                return usage_error("more than one image given ('%.*s%s' and '%.*s%s')", COPARUN_SHOWN(o->image),
                                   COPARUN_SHOWN(arg));
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
#if defined(COPAPY_BARE_METAL)
            return usage_error("--time is not available in this bare-metal runner (no clock)");
#endif
            o->time = 1;
        } else if (strcmp(arg, "--serve") == 0) {
#if defined(COPAPY_BARE_METAL)
            return usage_error("--serve is not available in this bare-metal runner (no pipe to serve)");
#endif
            o->serve = 1;
        } else if ((v = option_value(argc, argv, &i, "--set", &missing)) != NULL) {
            const char *eq = strchr(v, '=');
            if (eq == NULL || eq == v) {
                return usage_error("--set expects NAME=VALUE, got '%.*s%s'", COPARUN_SHOWN(v));
            }
            o->sets[o->set_count].arg = v;
            o->sets[o->set_count].name_len = (size_t)(eq - v);
            o->sets[o->set_count].value = eq + 1;
            ++o->set_count;
        } else if (!missing && (v = option_value(argc, argv, &i, "--poke", &missing)) != NULL) {
            struct coparun_register *r = &o->pokes[o->poke_count++];
            if (!coparun_parse_register(v, r, 1)) {
                return usage_error("--poke expects ADDR:WIDTH=VALUE (WIDTH 8, 16 or 32, ADDR aligned to it, VALUE "
                                   "fitting it), got '%.*s%s'", COPARUN_SHOWN(v));
            }
            r->arg = v;
        } else if (!missing && (v = option_value(argc, argv, &i, "--peek", &missing)) != NULL) {
            struct coparun_register *r = &o->peeks[o->peek_count++];
            if (!coparun_parse_register(v, r, 0)) {
                return usage_error("--peek expects ADDR:WIDTH (WIDTH 8, 16 or 32, ADDR aligned to it), got '%.*s%s'",
                                   COPARUN_SHOWN(v));
            }
            r->arg = v;
        } else if (!missing && (v = option_value(argc, argv, &i, "--repeat", &missing)) != NULL) {
            if (!parse_repeat(v, &o->repeat)) {
                return usage_error("--repeat expects a whole number >= 1, got '%.*s%s'", COPARUN_SHOWN(v));
            }
            o->repeat_given = 1;
        } else if (missing) {
            return usage_error("%s expects a value", arg);
        } else {
            return usage_error("unknown option '%.*s%s'", COPARUN_SHOWN(arg));
        }
    }
    if (o->image == NULL) {
        return usage_error("no image given");
    }
    if (o->serve && (o->repeat_given || o->time || o->peek_count)) {
        return usage_error("--serve runs only on request: it cannot be combined with %s",
                           o->time ? "--time" : o->repeat_given ? "--repeat" : "--peek");
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

/* The first symbol called name[0..len) with one of the flags in `want`
 * (an input or output, a bound one, ...), or -1. */
static long find_symbol(const cp_host_image *h, const char *name, size_t len, unsigned want, unsigned *dtype,
                        unsigned *flags, uint32_t *offset) {
    const uint32_t n = cp_host_symbol_count(h);
    uint32_t i;
    for (i = 0; i < n; ++i) {
        const char *s;
        if (cp_host_symbol(h, i, &s, offset, dtype, flags) == 0 && (*flags & want) && strncmp(s, name, len) == 0 &&
            s[len] == '\0') {
            return (long)i;
        }
    }
    return -1;
}

static int apply_setting(const char *file, cp_host_image *h, const struct setting *s) {
    unsigned dtype, flags;
    uint32_t offset, bits = 0;
    int parsed;
    const long index = find_symbol(h, s->arg, s->name_len, CP_SYM_INPUT | CP_SYM_OUTPUT, &dtype, &flags, &offset);
    if (index < 0 || !(flags & CP_SYM_INPUT)) {
        unsigned bound_dtype, bound_flags;
        uint32_t address;
        if (find_symbol(h, s->arg, s->name_len, CP_SYM_BOUND_INPUT, &bound_dtype, &bound_flags, &address) >= 0) {
            return file_error(file, "--set %.*s%s: '%.*s%s' is bound to the device register at %#lx (write that with "
                              "--poke)", COPARUN_SHOWN(s->arg), COPARUN_SHOWN_N(s->arg, s->name_len),
                              (unsigned long)address);
        }
        if (index < 0) {
            return file_error(file, "--set %.*s%s: no input named '%.*s%s'", COPARUN_SHOWN(s->arg),
                              COPARUN_SHOWN_N(s->arg, s->name_len));
        }
        return file_error(file, "--set %.*s%s: '%.*s%s' is not an input (it is an output)", COPARUN_SHOWN(s->arg),
                          COPARUN_SHOWN_N(s->arg, s->name_len));
    }
    parsed = coparun_parse_value(dtype, s->value, &bits);
    if (parsed < 0) {
        return file_error(file, "--set %.*s%s: '%.*s%s' is %s", COPARUN_SHOWN(s->arg), COPARUN_SHOWN(s->value),
                          coparun_range_hint(dtype));
    }
    if (parsed == 0) {
        return file_error(file, "--set %.*s%s: '%.*s%s' is not a valid %s%s", COPARUN_SHOWN(s->arg),
                          COPARUN_SHOWN(s->value), coparun_dtype_name(dtype), coparun_dtype_hint(dtype));
    }
    if (cp_host_symbol_allows(h, (uint32_t)index, bits) != 1) {
        char range[2 * COPARUN_VALUE_TEXT + 8];
        return file_error(file, "--set %.*s%s: '%.*s%s' is outside the declared range %s of '%.*s%s'",
                          COPARUN_SHOWN(s->arg), COPARUN_SHOWN(s->value),
                          coparun_range_text(h, (uint32_t)index, dtype, range, sizeof range),
                          COPARUN_SHOWN_N(s->arg, s->name_len));
    }
    cp_write_u32(cp_host_data(h) + offset, bits); /* the image is little-endian */
    return CONTINUE;
}

/* ---- Device registers (device.c) ---------------------------------------- */

/* Before the image is loaded (so that its memory keeps clear of them): the
 * pages of every poked and peeked register, then the pokes. */
static int setup_registers(const char *file, struct options *o) {
    char error[160];
    size_t i;
    if (coparun_map_registers(o->pokes, o->poke_count, error, sizeof error) != 0 ||
        coparun_map_registers(o->peeks, o->peek_count, error, sizeof error) != 0) {
        return file_error(file, "%s", error);
    }
    for (i = 0; i < o->poke_count; ++i) coparun_poke(&o->pokes[i]);
    return CONTINUE;
}

/* The registers the image's bound inputs and outputs use (CP_SYM_BOUND):
 * mapped, on Linux, before the image is loaded, like those of --poke and
 * --peek. An image that does not open is left to cp_host_load to report. */
static int map_bound_registers(const char *file, const uint8_t *bytes, size_t size) {
    cp_image image;
    cp_symbol s;
    struct coparun_register r;
    char error[160];
    uint32_t i;
    if (cp_image_open(&image, bytes, size) != CP_OK) {
        return CONTINUE;
    }
    for (i = 0; i < image.symbol_count; ++i) {
        if (cp_image_symbol(&image, i, &s) != CP_OK || !(s.flags & CP_SYM_BOUND)) {
            continue;
        }
        r.address = s.offset;
        r.width = s.lo;
        r.value = 0;
        r.arg = s.name;
        if (coparun_map_registers(&r, 1, error, sizeof error) != 0) {
            return file_error(file, "%s, for the register of '%.*s%s'", error, COPARUN_SHOWN(s.name));
        }
    }
    return CONTINUE;
}

/* ---- Outputs ------------------------------------------------------------ */

static int print_outputs(const char *file, const cp_host_image *h, const struct options *o) {
    const uint32_t n = cp_host_symbol_count(h);
    const uint8_t *data = cp_host_data(h);
    const char *sep = "";
    uint32_t i;
    putchar('{');
    for (i = 0; i < n; ++i) {
        const char *name;
        uint32_t offset;
        unsigned dtype, flags;
        if (cp_host_symbol(h, i, &name, &offset, &dtype, &flags) != 0 || !(flags & CP_SYM_OUTPUT)) {
            continue;
        }
        fputs(sep, stdout);
        coparun_print_json_string(stdout, name);
        fputs(": ", stdout);
        coparun_print_value(stdout, dtype, cp_read_u32(data + offset), 1);
        sep = ", ";
    }
    for (i = 0; i < o->peek_count; ++i) {
        const struct coparun_register *r = &o->peeks[i];
        printf("%s\"@%s\": %lu", sep, r->arg, (unsigned long)coparun_peek(r));
        sep = ", ";
    }
    fputs("}\n", stdout);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        return file_error(file, "cannot write the outputs: %s", strerror(errno));
    }
    return EXIT_SUCCESS;
}

/* ---- Running ------------------------------------------------------------ */

#if defined(COPAPY_BARE_METAL)
static int run(const char *file, cp_host_image *h, const struct options *o) {
    cp_host_run(h, o->repeat);
    return print_outputs(file, h, o);
}

int coparun_serve(const char *file, cp_host_image *image) { /* never called: --serve is refused */
    (void)image;
    return file_error(file, "--serve is not available in this bare-metal runner");
}
#else
static int run(const char *file, cp_host_image *h, const struct options *o) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cp_host_run(h, o->repeat);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (o->time) {
        const double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
        fprintf(stderr, "coparun: time: %llu runs, %.2f ns/run\n", o->repeat, ns / (double)o->repeat);
    }
    return print_outputs(file, h, o);
}
#endif

/* `coparun @FILE`: the arguments from FILE, one per line (a final newline
 * optional, a carriage return before it dropped, blank lines skipped),
 * after argv[0]. The lines live in *text, which the caller frees. */
static int read_response_file(const char *path, char *argv0, int *argc, char ***argv, char **text) {
    uint8_t *bytes;
    size_t size, i, lines = 1;
    char *s, **out;
    int n = 0, rc = read_file(path, &bytes, &size);
    if (rc != CONTINUE) {
        return rc;
    }
    s = (char *)bytes;
    if (memchr(s, '\0', size) != NULL) {
        free(bytes);
        return file_error(path, "an argument file holds text, one argument per line (this has a NUL byte)");
    }
    for (i = 0; i < size; ++i) lines += s[i] == '\n';
    out = calloc(lines + 2, sizeof *out);
    if (out == NULL || (s = realloc(s, size + 1)) == NULL) {
        free(out);
        free(bytes);
        return file_error(path, "cannot read: out of memory");
    }
    s[size] = '\0';
    out[n++] = argv0;
    for (i = 0; i < size;) {
        char *line = s + i, *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        i += len + (nl != NULL);
        if (len > 0 && line[len - 1] == '\r') --len;
        line[len] = '\0';
        if (len > 0) out[n++] = line;
    }
    *argc = n;
    *argv = out;
    *text = s;
    return CONTINUE;
}

int main(int argc, char **argv) {
    struct options o;
    cp_host_image *h = NULL;
    uint8_t *bytes = NULL;
    char *response = NULL, **response_argv = NULL;
    size_t size = 0, i;
    int rc;

    if (argc == 2 && argv[1][0] == '@') {
        rc = read_response_file(argv[1] + 1, argv[0], &argc, &response_argv, &response);
        if (rc != CONTINUE) {
            return rc;
        }
        argv = response_argv;
    }
    memset(&o, 0, sizeof o);
    o.sets = calloc((size_t)(argc > 0 ? argc : 1), sizeof *o.sets); /* at most one per argument */
    o.pokes = calloc((size_t)(argc > 0 ? argc : 1), sizeof *o.pokes); /* the same bound */
    o.peeks = calloc((size_t)(argc > 0 ? argc : 1), sizeof *o.peeks);
    if (o.sets == NULL || o.pokes == NULL || o.peeks == NULL) {
        fputs("coparun: error: out of memory\n", stderr);
        return EXIT_BAD_INPUT;
    }
    rc = parse_args(argc, argv, &o);
    if (rc == CONTINUE) {
        rc = setup_registers(o.image, &o);
    }
    if (rc == CONTINUE) {
        rc = read_file(o.image, &bytes, &size);
    }
    if (rc == CONTINUE) {
        rc = map_bound_registers(o.image, bytes, size);
    }
    if (rc == CONTINUE) {
        char error[256];
        h = cp_host_load(bytes, size, error, sizeof error);
        if (h == NULL) {
            rc = file_error(o.image, "%s", error);
        }
        free(bytes); /* the loader keeps its own copy */
    }
    for (i = 0; rc == CONTINUE && i < o.set_count; ++i) {
        rc = apply_setting(o.image, h, &o.sets[i]);
    }
    if (rc == CONTINUE) {
        rc = o.serve ? coparun_serve(o.image, h) : run(o.image, h, &o);
    }
    cp_host_free(h);
    free(o.sets);
    free(o.pokes);
    free(o.peeks);
    free(response_argv);
    free(response);
    return rc;
}
