/*
 * ulmap.h - a small open-addressing hash map from non-zero CK_ULONG keys
 * (session and object handles) to pointers, for core's tables. Not locked:
 * the table that embeds it holds its own lock.
 */
#ifndef DEP11_CORE_ULMAP_H
#define DEP11_CORE_ULMAP_H

#include <stdlib.h>
#include <p11-kit/pkcs11.h>

struct dep11_ulmap {
    CK_ULONG *keys; /* 0 = empty slot */
    void **vals;
    size_t cap;     /* a power of two, or 0 before the first insert */
    size_t count;
};

static inline size_t ulmap_hash(CK_ULONG k, size_t cap)
{
    unsigned long long x = (unsigned long long)k * 0x9E3779B97F4A7C15ULL;
    return (size_t)(x ^ (x >> 29)) & (cap - 1);
}

/* The position of @k in the storage, or DEP11_ULMAP_NONE. */
#define DEP11_ULMAP_NONE ((size_t)-1)
static inline size_t dep11_ulmap_find(const struct dep11_ulmap *m, CK_ULONG k)
{
    if (m->cap == 0 || k == 0)
        return DEP11_ULMAP_NONE;
    for (size_t i = ulmap_hash(k, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == k)
            return i;
        if (m->keys[i] == 0)
            return DEP11_ULMAP_NONE;
    }
}

/* The value stored under @k, or NULL. */
static inline void *dep11_ulmap_get(const struct dep11_ulmap *m, CK_ULONG k)
{
    size_t i = dep11_ulmap_find(m, k);

    return i == DEP11_ULMAP_NONE ? NULL : m->vals[i];
}

static inline void ulmap_place(CK_ULONG *keys, void **vals, size_t cap,
                               CK_ULONG k, void *v)
{
    size_t i = ulmap_hash(k, cap);
    while (keys[i] != 0 && keys[i] != k)
        i = (i + 1) & (cap - 1);
    keys[i] = k;
    vals[i] = v;
}

/* Room for one more key (doubles the storage at half load). CKR_OK or
 * CKR_HOST_MEMORY. */
static inline CK_RV ulmap_reserve(struct dep11_ulmap *m)
{
    size_t ncap = 0;
    CK_ULONG *nk = NULL;
    void **nv = NULL;

    if ((m->count + 1) * 2 <= m->cap)
        return CKR_OK;
    ncap = m->cap ? m->cap * 2 : 64;
    nk = calloc(ncap, sizeof *nk);
    nv = calloc(ncap, sizeof *nv);
    if (nk == NULL || nv == NULL) {
        free(nk);
        free(nv);
        return CKR_HOST_MEMORY;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i] != 0)
            ulmap_place(nk, nv, ncap, m->keys[i], m->vals[i]);
    free(m->keys);
    free(m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = ncap;
    return CKR_OK;
}

/* Stores @v under @k (non-zero; replaces). CKR_OK or CKR_HOST_MEMORY. */
static inline CK_RV dep11_ulmap_put(struct dep11_ulmap *m, CK_ULONG k, void *v)
{
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (k == 0)
        return rv;
    rv = ulmap_reserve(m);
    if (rv != CKR_OK)
        return rv;
    if (dep11_ulmap_get(m, k) == NULL)
        m->count++;
    ulmap_place(m->keys, m->vals, m->cap, k, v);
    return CKR_OK;
}

/* Stores @v under @k (non-zero) in one probe unless @k is there already:
 * CKR_OK; CKR_GENERAL_ERROR when @k is present (nothing changes);
 * CKR_HOST_MEMORY. */
static inline CK_RV dep11_ulmap_add(struct dep11_ulmap *m, CK_ULONG k, void *v)
{
    CK_RV rv = CKR_ARGUMENTS_BAD;
    size_t i = 0;

    if (k == 0)
        return rv;
    rv = ulmap_reserve(m);
    if (rv != CKR_OK)
        return rv;
    for (i = ulmap_hash(k, m->cap); m->keys[i] != 0; i = (i + 1) & (m->cap - 1))
        if (m->keys[i] == k)
            return CKR_GENERAL_ERROR;
    m->keys[i] = k;
    m->vals[i] = v;
    m->count++;
    return CKR_OK;
}

/* Removes the key at position @i (from dep11_ulmap_find; backward-shift
 * deletion) and returns its value. */
static inline void *dep11_ulmap_del_at(struct dep11_ulmap *m, size_t i)
{
    size_t mask = m->cap - 1, j = 0;
    void *v = m->vals[i];

    m->keys[i] = 0;
    m->vals[i] = NULL;
    m->count--;
    /* Move later members of the run back so that lookups never stop early. */
    for (j = (i + 1) & mask; m->keys[j] != 0; j = (j + 1) & mask) {
        size_t home = ulmap_hash(m->keys[j], m->cap);
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            m->keys[j] = 0;
            m->vals[j] = NULL;
            i = j;
        }
    }
    return v;
}

/* Removes @k; returns its value or NULL. */
static inline void *dep11_ulmap_del(struct dep11_ulmap *m, CK_ULONG k)
{
    size_t i = dep11_ulmap_find(m, k);

    return i == DEP11_ULMAP_NONE ? NULL : dep11_ulmap_del_at(m, i);
}

/* Frees the map's storage (not the values). */
static inline void dep11_ulmap_free(struct dep11_ulmap *m)
{
    free(m->keys);
    free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->cap = 0;
    m->count = 0;
}

#endif
