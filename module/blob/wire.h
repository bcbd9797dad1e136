/*
 * wire.h - private to module/blob: a bounds-checked reader and writer over a
 * byte buffer. Every read checks the remaining length first; a failed read
 * leaves the cursor where it was and returns 0.
 */
#ifndef DEP11_BLOB_WIRE_H
#define DEP11_BLOB_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Values the blob layer shares with crypto/suite1.h without depending on
 * it (blob stays free of crypto; a unit test checks they agree). */
#define BLOB_SUITE1 1
#define BLOB_KCV_LEN 16

struct wire_rd {
    const uint8_t *p;
    size_t left;
};

struct wire_wr {
    uint8_t *p;
    size_t left;
};

static inline int rd_bytes(struct wire_rd *r, const uint8_t **out, size_t n)
{
    if (n > r->left)
        return 0;
    *out = r->p;
    r->p += n;
    r->left -= n;
    return 1;
}

static inline int rd_copy(struct wire_rd *r, uint8_t *dst, size_t n)
{
    const uint8_t *src = NULL;

    if (!rd_bytes(r, &src, n))
        return 0;
    if (n != 0)
        memcpy(dst, src, n);
    return 1;
}

static inline int rd_u8(struct wire_rd *r, uint8_t *v)
{
    return rd_copy(r, v, 1);
}

static inline int rd_u16be(struct wire_rd *r, uint16_t *v)
{
    const uint8_t *b = NULL;

    if (!rd_bytes(r, &b, 2))
        return 0;
    *v = (uint16_t)((b[0] << 8) | b[1]);
    return 1;
}

static inline int rd_u32be(struct wire_rd *r, uint32_t *v)
{
    const uint8_t *b = NULL;

    if (!rd_bytes(r, &b, 4))
        return 0;
    *v = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) |
         ((uint32_t)b[2] << 8) | (uint32_t)b[3];
    return 1;
}

/* The writer: callers size the buffer first, so a short write is a bug the
 * return value still reports rather than an overflow. */
static inline int wr_bytes(struct wire_wr *w, const void *src, size_t n)
{
    if (n > w->left)
        return 0;
    if (n != 0)
        memcpy(w->p, src, n);
    w->p += n;
    w->left -= n;
    return 1;
}

static inline int wr_u8(struct wire_wr *w, uint8_t v)
{
    return wr_bytes(w, &v, 1);
}

static inline int wr_u16be(struct wire_wr *w, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

    return wr_bytes(w, b, 2);
}

static inline int wr_u32be(struct wire_wr *w, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

    return wr_bytes(w, b, 4);
}

#endif
