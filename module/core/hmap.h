/*
 * hmap.h - the table of module handles (core/handle.h's range) to objects: a
 * two-level array indexed by the handle's offset in the range. object.c hands
 * handles out in order, so the live ones sit in few pages: about 8 bytes per
 * live object, where a hash map at its load factor took 32 to 64. A page is
 * freed when its last handle goes (RSS stays flat over create/destroy
 * cycles). Not locked: the table that embeds it holds its own lock.
 */
#ifndef DEP11_CORE_HMAP_H
#define DEP11_CORE_HMAP_H

#include <stdlib.h>
#include <p11-kit/pkcs11.h>

#include "core/handle.h"

#define DEP11_HMAP_PAGE_BITS 10
#define DEP11_HMAP_PAGE ((size_t)1 << DEP11_HMAP_PAGE_BITS)
#define DEP11_HMAP_TOP ((size_t)(DEP11_HANDLE_SPAN >> DEP11_HMAP_PAGE_BITS) + 1)

struct dep11_hmap_page {
    size_t used; /* non-NULL entries */
    void *v[DEP11_HMAP_PAGE];
};

struct dep11_hmap {
    struct dep11_hmap_page **top; /* DEP11_HMAP_TOP pages, or NULL before the first put */
    size_t count;
};

/* The value stored under module handle @h, or NULL (also out of range). */
static inline void *dep11_hmap_get(const struct dep11_hmap *m, CK_ULONG h)
{
    CK_ULONG off = h - DEP11_HANDLE_BASE;
    const struct dep11_hmap_page *p = NULL;

    if (m->top == NULL || !dep11_handle_in_range(h))
        return NULL;
    p = m->top[off >> DEP11_HMAP_PAGE_BITS];
    return p != NULL ? p->v[off & (DEP11_HMAP_PAGE - 1)] : NULL;
}

/* Stores @v (non-NULL) under @h (replaces). CKR_OK; CKR_ARGUMENTS_BAD (out
 * of range); CKR_HOST_MEMORY. */
static inline CK_RV dep11_hmap_put(struct dep11_hmap *m, CK_ULONG h, void *v)
{
    CK_ULONG off = h - DEP11_HANDLE_BASE;
    struct dep11_hmap_page **slot = NULL;
    void **e = NULL;

    if (!dep11_handle_in_range(h) || v == NULL)
        return CKR_ARGUMENTS_BAD;
    if (m->top == NULL && (m->top = calloc(DEP11_HMAP_TOP, sizeof *m->top)) == NULL)
        return CKR_HOST_MEMORY;
    slot = &m->top[off >> DEP11_HMAP_PAGE_BITS];
    if (*slot == NULL && (*slot = calloc(1, sizeof **slot)) == NULL)
        return CKR_HOST_MEMORY;
    e = &(*slot)->v[off & (DEP11_HMAP_PAGE - 1)];
    if (*e == NULL) {
        (*slot)->used++;
        m->count++;
    }
    *e = v;
    return CKR_OK;
}

/* Removes @h; returns its value or NULL. */
static inline void *dep11_hmap_del(struct dep11_hmap *m, CK_ULONG h)
{
    CK_ULONG off = h - DEP11_HANDLE_BASE;
    struct dep11_hmap_page **slot = NULL;
    void *v = NULL;

    if (m->top == NULL || !dep11_handle_in_range(h))
        return NULL;
    slot = &m->top[off >> DEP11_HMAP_PAGE_BITS];
    if (*slot == NULL)
        return NULL;
    v = (*slot)->v[off & (DEP11_HMAP_PAGE - 1)];
    if (v == NULL)
        return NULL;
    (*slot)->v[off & (DEP11_HMAP_PAGE - 1)] = NULL;
    m->count--;
    if (--(*slot)->used == 0) {
        free(*slot);
        *slot = NULL;
    }
    return v;
}

/* The first value at offset *@pos or later (then *@pos is its offset), or
 * NULL at the end. Walk: for (pos = 0; (v = dep11_hmap_next(m, &pos)); pos++). */
static inline void *dep11_hmap_next(const struct dep11_hmap *m, size_t *pos)
{
    for (size_t t = *pos >> DEP11_HMAP_PAGE_BITS; m->top != NULL && t < DEP11_HMAP_TOP; t++) {
        const struct dep11_hmap_page *p = m->top[t];
        size_t i = t == (*pos >> DEP11_HMAP_PAGE_BITS) ? *pos & (DEP11_HMAP_PAGE - 1) : 0;

        for (; p != NULL && i < DEP11_HMAP_PAGE; i++)
            if (p->v[i] != NULL) {
                *pos = (t << DEP11_HMAP_PAGE_BITS) | i;
                return p->v[i];
            }
    }
    return NULL;
}

/* Frees the table's storage (not the values). */
static inline void dep11_hmap_free(struct dep11_hmap *m)
{
    for (size_t t = 0; m->top != NULL && t < DEP11_HMAP_TOP; t++)
        free(m->top[t]);
    free(m->top);
    m->top = NULL;
    m->count = 0;
}

#endif
