/*
 * wp.h - reader of the Wycheproof line format that wycheproof2txt.py writes:
 * "G key=value ..." per test group, "T key=value ..." per test. Shared by
 * the Wycheproof test programs; no JSON here.
 */
#ifndef DEP11_WP_H
#define DEP11_WP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define WP_FIELDS 48

/* One line: its kind ('G' or 'T') and its fields (pointers into buf). */
struct wp_rec {
    char kind;
    char *buf;                  /* getline buffer, owned */
    size_t cap;
    size_t n;
    char *key[WP_FIELDS];
    char *val[WP_FIELDS];
};

/* Opens $WYCHEPROOF_DIR/<name> (the converted files); NULL and a message
 * on stderr when it cannot. */
FILE *wp_open(const char *name);
/* Reads the next G or T line into @r. 1 read, 0 end of file, -1 malformed. */
int wp_next(FILE *f, struct wp_rec *r);
void wp_free(struct wp_rec *r);
/* Swaps two records (keeps the group while tests are read). */
void wp_swap(struct wp_rec *a, struct wp_rec *b);
/* A field's value or NULL when absent. */
const char *wp_get(const struct wp_rec *r, const char *key);
/* A decimal field; @dflt when absent. */
long wp_int(const struct wp_rec *r, const char *key, long dflt);
/* A hex field decoded into a malloc'ed buffer (never NULL for a present,
 * well-formed field, even when empty); NULL when absent or not hex. */
uint8_t *wp_hex(const struct wp_rec *r, const char *key, size_t *len);
/* Has the comma-separated "flags" field the flag @flag? */
int wp_flag(const struct wp_rec *r, const char *flag);

/* Expected result of a test. */
enum wp_result { WP_INVALID = 0, WP_VALID = 1, WP_ACCEPTABLE = 2, WP_BAD = -1 };
enum wp_result wp_result(const struct wp_rec *r);

#endif
