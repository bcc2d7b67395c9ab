/*
 * coparun --serve: one image stays loaded and a client (the Python tracer's
 * ServeRunner, typically through qemu-user) sends requests on stdin, one per
 * line, and reads one reply line per request on stdout. Starting a process
 * costs about 1 ms on the host and 25 ms under qemu; a request costs a pipe
 * round trip. The protocol is documented in docs/cli.md and coparun --help.
 *
 *   startup:  "ready 2"  (the protocol version; on a bad image coparun
 *             prints its usual error on stderr and exits 1 instead)
 *   set NAME VALUE [NAME VALUE ...]   -> ok
 *   run [N]                           -> ok
 *   get [NAME ...]                    -> ok {"NAME": VALUE, ...}
 *   bits [NAME ...]                   -> ok HHHHHHHH ...  (32-bit patterns)
 *   batch OUT ... | [NAME VALUE ...] | [NAME VALUE ...] ...
 *                                     -> ok HHHHHHHH ...  (periods x OUTs)
 *   columns PERIODS [OUT ...] | [IN ...] | HHHH...
 *                                     -> ok HHHH...  (column-major patterns)
 *   quit                              -> ok, then exit 0
 *   anything malformed                -> error: REQUEST: MESSAGE
 *
 * Robustness: every request is bounded (MAX_REQUEST bytes; a longer line is
 * answered with an error and skipped up to its newline); a request is checked
 * completely before it changes anything; end of input (the client went away)
 * exits with status 0; a reply to a client that closed its end of the pipe
 * ends the runner with SIGPIPE.
 *
 * Replies are buffered and flushed only when no complete request is left in
 * the input buffer: a client that pipelines "set", "run" and "get" in one
 * write gets the three replies in one read.
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
#include <unistd.h>

#define PROTOCOL_VERSION 2
/* Longest request, newline included: a batch of 10,000 periods of 4 inputs
 * in hex floats fits; the client splits longer batches. */
#define MAX_REQUEST (1u << 20)

struct sym {
    const char *name;
    uint32_t offset;
    unsigned dtype, flags;
    uint32_t index; /* in the image's symbol table */
};

struct server {
    cp_host_image *image;
    uint8_t *data;
    struct sym *syms; /* sorted by name, for lookups */
    uint32_t sym_count;
};

static int by_name(const void *a, const void *b) {
    return strcmp(((const struct sym *)a)->name, ((const struct sym *)b)->name);
}

static const struct sym *lookup(const struct server *s, const char *name) {
    struct sym key;
    key.name = name;
    return bsearch(&key, s->syms, s->sym_count, sizeof *s->syms, by_name);
}

/* ---- Words -------------------------------------------------------------- */

/* Splits [line, end) into NUL-terminated words in place; returns their count. */
static size_t split_words(char *line, char *end) {
    size_t n = 0;
    int in_word = 0;
    char *p;
    for (p = line; p < end; ++p) {
        if (*p == ' ' || *p == '\t') {
            *p = '\0';
            in_word = 0;
        } else if (!in_word) {
            in_word = 1;
            ++n;
        }
    }
    return n;
}

/* The word at or after *p (skipping NULs), advancing *p past it; NULL at the end. */
static char *next_word(char **p, char *end) {
    char *w = *p;
    while (w < end && *w == '\0') ++w;
    if (w >= end) {
        *p = end;
        return NULL;
    }
    *p = w + strlen(w);
    return w;
}

/* ---- Replies ------------------------------------------------------------ */

#if defined(__GNUC__)
static void reply_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif
static void reply_error(const char *fmt, ...) {
    va_list ap;
    fputs("error: ", stdout);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* A word quoted for a message, cut short so an error line stays readable. */
#define SHOWN(w) (strlen(w) > 64 ? 64 : (int)strlen(w)), (w)

/* Whether `bits` lies in y's declared range; else replies with an error
 * (`where` names the period, or is ""). */
static int range_allows(const struct server *s, const struct sym *y, uint32_t bits, const char *request,
                        const char *where) {
    char value[COPARUN_VALUE_TEXT], range[2 * COPARUN_VALUE_TEXT + 8];
    if ((y->flags & CP_SYM_RANGE) == 0 || cp_host_symbol_allows(s->image, y->index, bits) == 1) {
        return 1;
    }
    coparun_format_value(value, sizeof value, y->dtype, bits, 0);
    reply_error("%s: %s is outside the declared range %s of '%.*s'%s", request, value,
                coparun_range_text(s->image, y->index, y->dtype, range, sizeof range), SHOWN(y->name), where);
    return 0;
}

/* Parses NAME VALUE for `request`; on error replies and returns NULL. */
static const struct sym *parse_write(const struct server *s, const char *request, const char *name,
                                     const char *text, uint32_t *bits) {
    const struct sym *y = lookup(s, name);
    if (y == NULL) {
        reply_error("%s: no input named '%.*s'", request, SHOWN(name));
        return NULL;
    }
    if (!(y->flags & CP_SYM_INPUT)) {
        reply_error("%s: '%.*s' is not an input (it is an output)", request, SHOWN(name));
        return NULL;
    }
    if (text == NULL) {
        reply_error("%s: '%.*s' has no value (expected NAME VALUE pairs)", request, SHOWN(name));
        return NULL;
    }
    const int parsed = coparun_parse_value(y->dtype, text, bits);
    if (parsed < 0) {
        reply_error("%s: '%.*s' is %s for '%.*s'", request, SHOWN(text), coparun_range_hint(y->dtype), SHOWN(name));
        return NULL;
    }
    if (parsed == 0) {
        reply_error("%s: '%.*s' is not a valid %s%s for '%.*s'", request, SHOWN(text),
                    coparun_dtype_name(y->dtype), coparun_dtype_hint(y->dtype), SHOWN(name));
        return NULL;
    }
    if (!range_allows(s, y, *bits, request, "")) {
        return NULL;
    }
    return y;
}

/* The 32-bit pattern of a value as 8 lower-case hex digits (%08x without
 * printf: printing floats with printf is the most expensive step of a
 * request under qemu, and clients that read many values want exact bits). */
static void put_bits(uint32_t v) {
    static const char digits[] = "0123456789abcdef";
    char text[8];
    int i;
    for (i = 7; i >= 0; --i) {
        text[i] = digits[v & 15u];
        v >>= 4;
    }
    fwrite(text, 1, sizeof text, stdout);
}

/* ---- Requests ----------------------------------------------------------- */

/* A request of `words` words writes fewer than `words` values: parsed once
 * into these, then written, so that a bad pair leaves every input as it was. */
struct writes {
    uint32_t *offsets, *bits;
};

static int alloc_writes(struct writes *w, size_t words, const char *request) {
    w->offsets = malloc((words + 1) * sizeof *w->offsets);
    w->bits = malloc((words + 1) * sizeof *w->bits);
    if (w->offsets == NULL || w->bits == NULL) {
        free(w->offsets);
        free(w->bits);
        reply_error("%s: out of memory", request);
        return 0;
    }
    return 1;
}

static void free_writes(struct writes *w) {
    free(w->offsets);
    free(w->bits);
}

static void do_set(struct server *s, char *p, char *end, size_t words) {
    struct writes w;
    size_t n = 0, i;
    char *name;
    if (!alloc_writes(&w, words, "set")) {
        return;
    }
    while ((name = next_word(&p, end)) != NULL) {
        const struct sym *y = parse_write(s, "set", name, next_word(&p, end), &w.bits[n]);
        if (y == NULL) {
            free_writes(&w);
            return;
        }
        w.offsets[n++] = y->offset;
    }
    for (i = 0; i < n; ++i) {
        cp_write_u32(s->data + w.offsets[i], w.bits[i]); /* the image is little-endian */
    }
    free_writes(&w);
    puts("ok");
}

static void do_run(struct server *s, char *p, char *end) {
    const char *count = next_word(&p, end);
    unsigned long long n = 1;
    if (count != NULL) {
        char *stop;
        errno = 0;
        n = count[0] >= '0' && count[0] <= '9' ? strtoull(count, &stop, 10) : 0;
        if (n == 0 || errno != 0 || *stop != '\0') {
            reply_error("run: expected a whole number of runs >= 1, got '%.*s'", SHOWN(count));
            return;
        }
    }
    if (next_word(&p, end) != NULL) {
        reply_error("run: expected at most one argument (the number of runs)");
        return;
    }
    cp_host_run(s->image, n);
    puts("ok");
}

static void print_entry(const struct server *s, const struct sym *y, const char *sep) {
    fputs(sep, stdout);
    coparun_print_json_string(stdout, y->name);
    fputs(": ", stdout);
    coparun_print_value(stdout, y->dtype, cp_read_u32(s->data + y->offset), 1);
}

/* get (JSON, as coparun prints outputs) and bits (hex patterns): the named
 * values in the order named, or every output in symbol-table order. */
static void do_get(struct server *s, const char *request, char *p, char *end, int json) {
    char *start = p, *name;
    const char *sep = "";
    uint32_t i;
    int named = 0;
    while ((name = next_word(&p, end)) != NULL) {
        if (lookup(s, name) == NULL) {
            reply_error("%s: no value named '%.*s'", request, SHOWN(name));
            return;
        }
        named = 1;
    }
    fputs(json ? "ok {" : "ok", stdout);
    p = start;
    for (i = 0;; ++i) {
        struct sym y;
        if (named) {
            if ((name = next_word(&p, end)) == NULL) break;
            y = *lookup(s, name);
        } else {
            if (i >= cp_host_symbol_count(s->image)) break;
            if (cp_host_symbol(s->image, i, &y.name, &y.offset, &y.dtype, &y.flags) != 0 ||
                !(y.flags & CP_SYM_OUTPUT)) {
                continue;
            }
        }
        if (json) {
            print_entry(s, &y, sep);
            sep = ", ";
        } else {
            putchar(' ');
            put_bits(cp_read_u32(s->data + y.offset));
        }
    }
    fputs(json ? "}\n" : "\n", stdout);
}

/* Scratch for one batch: a request of `words` words has fewer writes,
 * periods and outputs than words. */
struct batch {
    uint32_t *offsets, *bits;
    size_t *counts;
    const struct sym **outs;
};

static void run_batch(struct server *s, struct batch *b, char *p, char *end) {
    char *w;
    size_t out_count = 0, periods, writes = 0, k, i, o;
    /* Outputs up to the first '|'. */
    while ((w = next_word(&p, end)) != NULL && strcmp(w, "|") != 0) {
        const struct sym *y = lookup(s, w);
        if (y == NULL) {
            reply_error("batch: no value named '%.*s'", SHOWN(w));
            return;
        }
        b->outs[out_count++] = y;
    }
    if (w == NULL) {
        reply_error("batch: expected 'batch OUT ... | [NAME VALUE ...] | ...' (no '|' found)");
        return;
    }
    /* Periods, one per '|': check and record every write, so that nothing
     * runs if one of them is bad. */
    b->counts[0] = 0;
    periods = 1;
    while ((w = next_word(&p, end)) != NULL) {
        uint32_t bits;
        const struct sym *y;
        if (strcmp(w, "|") == 0) {
            b->counts[periods++] = 0;
            continue;
        }
        y = parse_write(s, "batch", w, next_word(&p, end), &bits);
        if (y == NULL) {
            return;
        }
        b->offsets[writes] = y->offset;
        b->bits[writes] = bits;
        ++writes;
        ++b->counts[periods - 1];
    }
    fputs("ok", stdout);
    for (i = 0, k = 0; i < periods; ++i) {
        const size_t stop = k + b->counts[i];
        for (; k < stop; ++k) {
            cp_write_u32(s->data + b->offsets[k], b->bits[k]);
        }
        cp_host_run(s->image, 1);
        for (o = 0; o < out_count; ++o) {
            putchar(' ');
            put_bits(cp_read_u32(s->data + b->outs[o]->offset));
        }
    }
    putchar('\n');
}

static void do_batch(struct server *s, char *p, char *end, size_t words) {
    struct batch b;
    b.offsets = malloc(words * sizeof *b.offsets);
    b.bits = malloc(words * sizeof *b.bits);
    b.counts = malloc(words * sizeof *b.counts);
    b.outs = malloc(words * sizeof *b.outs);
    if (b.offsets == NULL || b.bits == NULL || b.counts == NULL || b.outs == NULL) {
        reply_error("batch: out of memory");
    } else {
        run_batch(s, &b, p, end);
    }
    free(b.offsets);
    free(b.bits);
    free(b.counts);
    free((void *)b.outs);
}

/* The value of hex digit c, or -1. */
static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Most periods one columns request may ask for: bounds the reply buffer
 * when a request has no input column to bound it. */
#define MAX_COLUMN_PERIODS (1u << 20)

/* Scratch for one columns request (all sized from the request's words). */
struct columns {
    const struct sym **outs, **ins;
    uint32_t *bits;     /* ins x periods input patterns, column-major */
    uint32_t *results;  /* outs x periods output patterns, column-major */
    char *text;         /* the reply's hex digits */
};

/* columns PERIODS OUT ... | IN ... | HEX: the inputs' values of every period
 * as one word of 8-digit patterns, column by column (the first input's
 * values of all periods, then the next input's); the reply is the outputs'
 * patterns the same way. One word per request instead of a word per value:
 * under qemu, splitting and parsing words is what a batch request costs. */
static void run_columns(struct server *s, struct columns *c, char *p, char *end) {
    const char *count = next_word(&p, end), *hex;
    size_t out_count = 0, in_count = 0, periods, i, k, o;
    char *w, *stop;
    errno = 0;
    periods = count != NULL && count[0] >= '0' && count[0] <= '9' ? strtoul(count, &stop, 10) : 0;
    if (count == NULL || periods == 0 || periods > MAX_COLUMN_PERIODS || errno != 0 || *stop != '\0') {
        const char *shown = count != NULL ? count : "";
        reply_error("columns: expected a number of periods from 1 to %u, got '%.*s'", MAX_COLUMN_PERIODS,
                    SHOWN(shown));
        return;
    }
    while ((w = next_word(&p, end)) != NULL && strcmp(w, "|") != 0) {
        if ((c->outs[out_count] = lookup(s, w)) == NULL) {
            reply_error("columns: no value named '%.*s'", SHOWN(w));
            return;
        }
        ++out_count;
    }
    while (w != NULL && (w = next_word(&p, end)) != NULL && strcmp(w, "|") != 0) {
        const struct sym *y = lookup(s, w);
        if (y == NULL || !(y->flags & CP_SYM_INPUT)) {
            reply_error(y == NULL ? "columns: no input named '%.*s'" : "columns: '%.*s' is not an input",
                        SHOWN(w));
            return;
        }
        c->ins[in_count++] = y;
    }
    if (w == NULL) {
        reply_error("columns: expected 'columns PERIODS OUT ... | IN ... | HEX' (a '|' is missing)");
        return;
    }
    hex = next_word(&p, end);
    if (next_word(&p, end) != NULL) {
        reply_error("columns: expected one word of hex digits after the second '|'");
        return;
    }
    {
        const size_t digits = hex != NULL ? strlen(hex) : 0;
        /* periods <= 2^20 and in_count < 2^20 words: the product cannot overflow. */
        if (digits != 8 * periods * in_count) {
            reply_error("columns: expected %zu hex digits (%zu periods x %zu inputs x 8), got %zu",
                        8 * periods * in_count, periods, in_count, digits);
            return;
        }
    }
    if (in_count > 0) {
        c->bits = malloc(periods * in_count * sizeof *c->bits);
    }
    if (out_count > 0) {
        c->results = malloc(periods * out_count * sizeof *c->results);
        c->text = malloc(periods * out_count * 8 + 1);
    }
    if ((in_count > 0 && c->bits == NULL) || (out_count > 0 && (c->results == NULL || c->text == NULL))) {
        reply_error("columns: out of memory");
        return;
    }
    for (i = 0; i < in_count; ++i) {
        for (k = 0; k < periods; ++k) {
            const char *h = hex + 8 * (i * periods + k);
            uint32_t v = 0;
            int d, j;
            for (j = 0; j < 8; ++j) {
                if ((d = hex_digit(h[j])) < 0) {
                    reply_error("columns: '%c' is not a hex digit (period %zu of '%.*s')", h[j], k,
                                SHOWN(c->ins[i]->name));
                    return;
                }
                v = v << 4 | (uint32_t)d;
            }
            if (c->ins[i]->dtype == CP_DTYPE_BOOL && v > 1) {
                reply_error("columns: %08x is not a bool (0 or 1) for '%.*s' in period %zu", (unsigned)v,
                            SHOWN(c->ins[i]->name), k);
                return;
            }
            if (c->ins[i]->flags & CP_SYM_RANGE) {
                char where[40];
                snprintf(where, sizeof where, " in period %zu", k);
                if (!range_allows(s, c->ins[i], v, "columns", where)) {
                    return;
                }
            }
            c->bits[i * periods + k] = v;
        }
    }
    for (k = 0; k < periods; ++k) {
        for (i = 0; i < in_count; ++i) {
            cp_write_u32(s->data + c->ins[i]->offset, c->bits[i * periods + k]); /* the image is little-endian */
        }
        cp_host_run(s->image, 1);
        for (o = 0; o < out_count; ++o) {
            c->results[o * periods + k] = cp_read_u32(s->data + c->outs[o]->offset);
        }
    }
    fputs(out_count > 0 ? "ok " : "ok", stdout);
    for (k = 0; k < periods * out_count; ++k) {
        static const char digits[] = "0123456789abcdef";
        uint32_t v = c->results[k];
        int j;
        for (j = 7; j >= 0; --j) {
            c->text[8 * k + (size_t)j] = digits[v & 15u];
            v >>= 4;
        }
    }
    fwrite(c->text, 1, periods * out_count * 8, stdout);
    putchar('\n');
}

static void do_columns(struct server *s, char *p, char *end, size_t words) {
    struct columns c;
    memset(&c, 0, sizeof c);
    c.outs = malloc((words + 1) * sizeof *c.outs);
    c.ins = malloc((words + 1) * sizeof *c.ins);
    if (c.outs == NULL || c.ins == NULL) {
        reply_error("columns: out of memory");
    } else {
        run_columns(s, &c, p, end);
    }
    free((void *)c.outs);
    free((void *)c.ins);
    free(c.bits);
    free(c.results);
    free(c.text);
}

/* Handles one request line [line, end) (no newline); returns 0 to go on, 1 on quit. */
static int handle(struct server *s, char *line, char *end) {
    const size_t words = split_words(line, end);
    char *p = line;
    const char *request = next_word(&p, end);
    if (request == NULL) {
        return 0; /* a blank line is not a request: no reply */
    }
    if (strcmp(request, "set") == 0) {
        do_set(s, p, end, words);
    } else if (strcmp(request, "run") == 0) {
        do_run(s, p, end);
    } else if (strcmp(request, "get") == 0) {
        do_get(s, request, p, end, 1);
    } else if (strcmp(request, "bits") == 0) {
        do_get(s, request, p, end, 0);
    } else if (strcmp(request, "batch") == 0) {
        do_batch(s, p, end, words);
    } else if (strcmp(request, "columns") == 0) {
        do_columns(s, p, end, words);
    } else if (strcmp(request, "quit") == 0) {
        if (next_word(&p, end) != NULL) {
            reply_error("quit: expected no arguments");
            return 0;
        }
        puts("ok");
        return 1;
    } else {
        reply_error("unknown request '%.*s' (known: set, run, get, bits, batch, columns, quit)", SHOWN(request));
    }
    return 0;
}

/* ---- The loop ----------------------------------------------------------- */

static int serve_loop(const char *file, struct server *s, char *buf) {
    size_t len = 0, start = 0;
    int discarding = 0; /* skipping the rest of an over-long request */
    for (;;) {
        char *nl = len > start ? memchr(buf + start, '\n', len - start) : NULL;
        ssize_t got;
        if (nl != NULL) {
            char *line = buf + start, *end = nl;
            start = (size_t)(nl - buf) + 1;
            if (discarding) {
                discarding = 0;
                continue;
            }
            if (end > line && end[-1] == '\r') --end;
            *end = '\0'; /* words end at NULs (split_words) */
            if (handle(s, line, end)) {
                return fflush(stdout) == 0 ? EXIT_SUCCESS : 1;
            }
            continue;
        }
        /* No complete request left: keep the partial one, send the replies. */
        if (discarding) {
            len = start = 0;
        } else if (start > 0) {
            memmove(buf, buf + start, len - start);
            len -= start;
            start = 0;
        }
        if (len == MAX_REQUEST) {
            reply_error("request longer than %u bytes (the rest of the line is skipped)", MAX_REQUEST);
            discarding = 1;
            len = 0;
        }
        if (fflush(stdout) != 0) {
            fprintf(stderr, "coparun: error: %s: cannot write a reply: %s\n", file, strerror(errno));
            return 1;
        }
        got = read(STDIN_FILENO, buf + len, MAX_REQUEST - len);
        if (got == 0) {
            return EXIT_SUCCESS; /* the client went away; an unfinished line is dropped */
        }
        if (got < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "coparun: error: %s: cannot read requests: %s\n", file, strerror(errno));
            return 1;
        }
        len += (size_t)got;
    }
}

int coparun_serve(const char *file, cp_host_image *image) {
    struct server s;
    char *buf = malloc(MAX_REQUEST);
    uint32_t i;
    int rc = 1;
    memset(&s, 0, sizeof s);
    s.image = image;
    s.data = cp_host_data(image);
    s.sym_count = cp_host_symbol_count(image);
    s.syms = calloc(s.sym_count ? s.sym_count : 1u, sizeof *s.syms);
    if (buf == NULL || s.syms == NULL) {
        fprintf(stderr, "coparun: error: %s: out of memory\n", file);
    } else {
        for (i = 0; i < s.sym_count; ++i) {
            cp_host_symbol(image, i, &s.syms[i].name, &s.syms[i].offset, &s.syms[i].dtype, &s.syms[i].flags);
            s.syms[i].index = i;
        }
        qsort(s.syms, s.sym_count, sizeof *s.syms, by_name);
        printf("ready %d\n", PROTOCOL_VERSION);
        rc = serve_loop(file, &s, buf);
    }
    free(buf);
    free(s.syms);
    return rc;
}
