/*
 * hex.h - the one lower-case hex encoder of module/ (audit lines, receipts,
 * log lines, labels).
 */
#ifndef DEP11_UTIL_HEX_H
#define DEP11_UTIL_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes the @n bytes at @in as 2 * @n lower-case hex digits and a NUL to
 * @out (2 * @n + 1 bytes); returns @out. */
char *dep11_hex_encode(const uint8_t *in, size_t n, char *out);

#endif
