/*
 * Shared between coparun's one-shot mode (main.c) and its serving mode
 * (serve.c): reading values as the command line and the serve protocol
 * write them, and printing them as both print them.
 */
#ifndef COPARUN_H
#define COPARUN_H

#include <copapy/host.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* A user's word quoted in a message: at most 64 bytes of it, then "...".
 * Use with "'%.*s%s'". */
#define COPARUN_QUOTE_LIMIT 64
#define COPARUN_SHOWN_N(w, n) (int)((n) > COPARUN_QUOTE_LIMIT ? COPARUN_QUOTE_LIMIT : (n)), (w), \
    ((n) > COPARUN_QUOTE_LIMIT ? "..." : "")
#define COPARUN_SHOWN(w) COPARUN_SHOWN_N(w, strlen(w))

/* Parses `text` as a value of `dtype` (enum cp_dtype) into its 4-byte image
 * representation: int in decimal, 0x hex or 0 octal within int32; float a
 * decimal or hex float, inf or nan (an overflow to infinity is an error);
 * bool true, false, 1 or 0 (also True and False); any of them also as
 * "#HHHHHHHH", the 32-bit pattern in 8 hex digits (a bool's is 0 or 1).
 * Returns 1 on success, 0 if `text` is not such a value, -1 if it is a
 * number outside the type's range (1e39 for a float, 2^31 for an int). */
int coparun_parse_value(unsigned dtype, const char *text, uint32_t *bits);

/* What -1 from coparun_parse_value means, e.g. "out of float range (...)". */
const char *coparun_range_hint(unsigned dtype);

/* "int", "float", "bool", and what a valid one looks like: " (int32)" etc. */
const char *coparun_dtype_name(unsigned dtype);
const char *coparun_dtype_hint(unsigned dtype);

/* Value printing: floats with 9 significant digits (they round-trip
 * binary32). As JSON (json != 0): floats always with a '.' or an exponent,
 * nan and the infinities as the strings "nan", "inf", "-inf". As a plain
 * word (json == 0): the same numbers without the added ".0", nan/inf/-inf
 * unquoted. Bools are true/false in both forms. */
void coparun_print_value(FILE *out, unsigned dtype, uint32_t bits, int json);
/* The same into text[size] (COPARUN_VALUE_TEXT bytes hold any value). */
#define COPARUN_VALUE_TEXT 32
void coparun_format_value(char *text, size_t size, unsigned dtype, uint32_t bits, int json);
/* "[lo, hi]": the declared range of symbol `index` (of `dtype`), in text[size]
 * (2 * COPARUN_VALUE_TEXT + 8 bytes hold any); returns text. */
const char *coparun_range_text(const cp_host_image *h, uint32_t index, unsigned dtype, char *text, size_t size);
void coparun_print_json_string(FILE *out, const char *s);

/* A device register for --poke ADDR:WIDTH=VALUE and --peek ADDR:WIDTH
 * (device.c): images with bound inputs and outputs read and write them. */
struct coparun_register {
    uint32_t address;
    unsigned width; /* bits: 8, 16 or 32; the address is aligned to it */
    uint32_t value; /* --poke: what to write */
    const char *arg; /* as given, for messages and the output's key */
};
/* Parses "ADDR:WIDTH" (with_value: "ADDR:WIDTH=VALUE", VALUE a whole number
 * that fits the width or #HHHHHHHH). Returns 1, or 0 if malformed. */
int coparun_parse_register(const char *text, struct coparun_register *r, int with_value);
/* Makes the registers' addresses accessible: on Linux, maps zeroed memory at
 * each page they touch (never over memory in use); on a board, nothing.
 * Returns 0, or -1 with the reason in error. */
int coparun_map_registers(const struct coparun_register *regs, size_t count, char *error, size_t error_size);
void coparun_poke(const struct coparun_register *r);
uint32_t coparun_peek(const struct coparun_register *r);

/* Serves requests on stdin/stdout for a loaded image until EOF or `quit`
 * (the protocol is described in serve.c and in coparun --help). Returns the
 * exit status. `file` names the image in messages. */
int coparun_serve(const char *file, cp_host_image *image);

#endif /* COPARUN_H */
