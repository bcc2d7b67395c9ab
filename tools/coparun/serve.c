/*
 * coparun --serve: one image stays loaded and a client (the Python tracer's
 * ServeRunner, typically through qemu-user) sends requests on stdin, one per
 * line, and reads one reply line per request on stdout. Starting a process
 * costs about 1 ms on the host and 25 ms under qemu; a request costs a pipe
 * round trip. The protocol is documented in docs/cli.md and coparun --help.
 *
 *   startup:  "ready 1"  (the protocol version; on a bad image coparun
 *             prints its usual error on stderr and exits 1 instead)
 *   set NAME VALUE [NAME VALUE ...]   -> ok
 *   run [N]                           -> ok
 *   get [NAME ...]                    -> ok {"NAME": VALUE, ...}
 *   bits [NAME ...]                   -> ok HHHHHHHH ...  (32-bit patterns)
 *   batch OUT ... | [NAME VALUE ...] | [NAME VALUE ...] ...
 *                                     -> ok HHHHHHHH ...  (periods x OUTs)
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

#define PROTOCOL_VERSION 1
/* Longest request, newline included: a batch of 10,000 periods of 4 inputs
 * in hex floats fits; the client splits longer batches. */
#define MAX_REQUEST (1u << 20)

struct sym {
    const char *name;
    uint32_t offset;
    unsigned dtype, flags;
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
    } else if (strcmp(request, "quit") == 0) {
        if (next_word(&p, end) != NULL) {
            reply_error("quit: expected no arguments");
            return 0;
        }
        puts("ok");
        return 1;
    } else {
        reply_error("unknown request '%.*s' (known: set, run, get, bits, batch, quit)", SHOWN(request));
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
        }
        qsort(s.syms, s.sym_count, sizeof *s.syms, by_name);
        printf("ready %d\n", PROTOCOL_VERSION);
        rc = serve_loop(file, &s, buf);
    }
    free(buf);
    free(s.syms);
    return rc;
}
