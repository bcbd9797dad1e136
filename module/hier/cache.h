/*
 * cache.h - the per-process policy-key cache (DESIGN section 5): unwrapped
 * policy keys keyed by the blob's SHA-256 and the requester class, bounded
 * in entries and in time (config cache-entries, cache-seconds), flushed by
 * DEP11_FlushCache and by a purge in this process. Values live in secmem and
 * are cleansed on eviction and flush.
 */
#ifndef DEP11_HIER_CACHE_H
#define DEP11_HIER_CACHE_H

#include <stdint.h>
#include "hier/hier.h"

/* Requester classes: a USER unwrap and a SYSTEM/RECOVERY unwrap of the same
 * blob may be served differently, so they are cached apart. */
enum dep11_cache_class { DEP11_CACHE_USER = 1, DEP11_CACHE_SYSTEM = 2 };

/* (Re)configures the cache; 0 seconds or 0 entries disables it. */
CK_RV dep11_cache_init(unsigned seconds, unsigned entries);
/* Flushes everything and frees the cache. */
void dep11_cache_shutdown(void);
/* The answer of a look-up: a miss is no error (and no refusal code). */
enum dep11_cache_result { DEP11_CACHE_MISS = 0, DEP11_CACHE_HIT = 1 };

/* A fresh copy of the cached key for (@digest, @cls) that has not expired:
 * CKR_OK with *@res = DEP11_CACHE_HIT and *@out; CKR_OK with
 * DEP11_CACHE_MISS and *@out = NULL when absent, expired or the cache is
 * off; CKR_ARGUMENTS_BAD; CKR_HOST_MEMORY. */
CK_RV dep11_cache_get(const uint8_t digest[32], enum dep11_cache_class cls,
                      struct dep11_key **out, enum dep11_cache_result *res);
/* Stores a copy of @key (evicting the oldest entry when full). Best effort. */
void dep11_cache_put(const uint8_t digest[32], enum dep11_cache_class cls,
                     const struct dep11_key *key);
/* Drops the entries of @policy_id (16 bytes), or every entry for NULL. */
void dep11_cache_flush(const uint8_t *policy_id);
/* The number of whole-cache flushes (DEP11_FlushCache(NULL)) and cache
 * (re)configurations (C_Initialize, C_Finalize) so far: a memo
 * kept beside the cache (a customer root's handle) remembers the number it
 * was taken under and is not used once it changed, so that a flush of
 * everything makes the next unwrap ask the HSM exactly as the first did. */
unsigned long dep11_cache_generation(void);

#endif
