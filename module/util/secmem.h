/*
 * secmem.h - memory for key material: locked (mlock), excluded from core dumps,
 * cleansed before release. Backed by OpenSSL's secure heap when it can be set
 * up, else by plain allocations that are still cleansed on free.
 */
#ifndef DEP11_UTIL_SECMEM_H
#define DEP11_UTIL_SECMEM_H

#include <stddef.h>

/* Sets up the secure heap once per process (idempotent, thread-safe).
 * Returns 1 when the locked heap is active, 0 when only the fallback is. */
int dep11_secmem_init(void);

/* Is the secure (locked, no-dump) heap active? Tests assert it. */
int dep11_secmem_active(void);

/* Zeroed allocation of @n bytes for secrets; NULL on failure. */
void *dep11_secmem_alloc(size_t n);

/* Cleanses @n bytes at @p and frees; NULL is a no-op. */
void dep11_secmem_free(void *p, size_t n);

/* Cleanses @n bytes (never optimised away). */
void dep11_cleanse(void *p, size_t n);

#endif
