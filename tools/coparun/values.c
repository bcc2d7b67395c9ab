/* Parsing and printing values for coparun (see coparun.h). */
#define _POSIX_C_SOURCE 200809L

#include "coparun.h"

#include <copapy/image.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int starts_blank(const char *s) { return s[0] == '\0' || s[0] == ' ' || s[0] == '\t' || s[0] == '\n'; }

static int parse_int(const char *s, uint32_t *bits) {
    char *end;
    long v;
    if (starts_blank(s)) {
        return 0; /* strtol would skip leading blanks */
    }
    errno = 0;
    v = strtol(s, &end, 0);
    if (end == s || *end != '\0') {
        return 0;
    }
    if (errno == ERANGE || v < INT32_MIN || v > INT32_MAX) {
        return -1; /* a number, but not an int32 */
    }
    *bits = (uint32_t)(int32_t)v; /* two's complement, as the code reads it */
    return 1;
}

static int parse_float(const char *s, uint32_t *bits) {
    char *end;
    float f;
    if (starts_blank(s)) {
        return 0;
    }
    errno = 0;
    f = strtof(s, &end);
    if (end == s || *end != '\0') {
        return 0;
    }
    /* ERANGE on underflow still gives the nearest float: accept it; on
     * overflow the result is an infinity nobody asked for. */
    if (errno == ERANGE && isinf(f)) {
        return -1;
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

/* "#HHHHHHHH": the value's 32-bit pattern, 8 hex digits as `bits` replies
 * print it. Exact for every value (NaN payloads included) and, unlike
 * strtof, cheap: the serve client writes floats this way. */
static int parse_pattern(unsigned dtype, const char *s, uint32_t *bits) {
    uint32_t v = 0;
    int i;
    for (i = 1; i <= 8; ++i) {
        const char c = s[i];
        const unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                           : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                           : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16u;
        if (d == 16u) {
            return 0;
        }
        v = v << 4 | d;
    }
    if (s[9] != '\0' || (dtype == CP_DTYPE_BOOL && v > 1u)) {
        return 0;
    }
    *bits = v;
    return 1;
}

int coparun_parse_value(unsigned dtype, const char *text, uint32_t *bits) {
    if (text[0] == '#') {
        return parse_pattern(dtype, text, bits);
    }
    switch (dtype) {
    case CP_DTYPE_INT: return parse_int(text, bits);
    case CP_DTYPE_FLOAT: return parse_float(text, bits);
    case CP_DTYPE_BOOL: return parse_bool(text, bits);
    default: return 0;
    }
}

const char *coparun_dtype_name(unsigned dtype) {
    switch (dtype) {
    case CP_DTYPE_INT: return "int";
    case CP_DTYPE_FLOAT: return "float";
    case CP_DTYPE_BOOL: return "bool";
    default: return "?";
    }
}

const char *coparun_range_hint(unsigned dtype) {
    return dtype == CP_DTYPE_FLOAT ? "out of float range (binary32: the largest finite value is 3.40282347e+38)"
                                   : "out of int32 range (-2147483648 to 2147483647)";
}

const char *coparun_dtype_hint(unsigned dtype) {
    switch (dtype) {
    case CP_DTYPE_INT: return " (int32)";
    case CP_DTYPE_BOOL: return " (true, false, 1 or 0)";
    default: return "";
    }
}

void coparun_print_json_string(FILE *out, const char *s) {
    putc('"', out);
    for (; *s != '\0'; ++s) {
        const unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            putc('\\', out);
            putc(c, out);
        } else if (c < 0x20) {
            fprintf(out, "\\u%04x", c);
        } else {
            putc(c, out);
        }
    }
    putc('"', out);
}

void coparun_format_value(char *text, size_t size, unsigned dtype, uint32_t bits, int json) {
    if (dtype == CP_DTYPE_FLOAT) {
        float f;
        memcpy(&f, &bits, sizeof f);
        if (isnan(f)) {
            snprintf(text, size, "%s", json ? "\"nan\"" : "nan");
        } else if (isinf(f)) {
            snprintf(text, size, "%s", f > 0 ? (json ? "\"inf\"" : "inf") : (json ? "\"-inf\"" : "-inf"));
        } else {
            /* In JSON always with a '.' or an exponent, so that readers see a
             * float (and keep the sign of -0.0) rather than an integer. */
            const int n = snprintf(text, size, "%.9g", (double)f);
            if (json && !strpbrk(text, ".e") && n >= 0 && (size_t)n + 2 < size) strcat(text, ".0");
        }
    } else if (dtype == CP_DTYPE_BOOL) {
        snprintf(text, size, "%s", bits != 0 ? "true" : "false");
    } else {
        /* two's complement int32, converted without implementation-defined casts */
        const long v = bits <= 0x7fffffffu ? (long)bits : -(long)(~bits) - 1;
        snprintf(text, size, "%ld", v);
    }
}

void coparun_print_value(FILE *out, unsigned dtype, uint32_t bits, int json) {
    char text[COPARUN_VALUE_TEXT];
    coparun_format_value(text, sizeof text, dtype, bits, json);
    fputs(text, out);
}

const char *coparun_range_text(const cp_host_image *h, uint32_t index, unsigned dtype, char *text, size_t size) {
    uint32_t lo = 0, hi = 0;
    char a[COPARUN_VALUE_TEXT], b[COPARUN_VALUE_TEXT];
    if (cp_host_symbol_range(h, index, &lo, &hi) != 1) {
        snprintf(text, size, "(none)");
        return text;
    }
    coparun_format_value(a, sizeof a, dtype, lo, 0);
    coparun_format_value(b, sizeof b, dtype, hi, 0);
    snprintf(text, size, "[%s, %s]", a, b);
    return text;
}
