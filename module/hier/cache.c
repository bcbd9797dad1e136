/*
 * cache.c - the per-process policy-key cache (DESIGN section 5): a hash
 * table over (blob SHA-256, requester class) with an LRU list, bounded in
 * entries and in time (monotonic clock). Values are deep copies in secmem,
 * cleansed on expiry, eviction, flush and shutdown.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <stdatomic.h>

#include "hier/cache.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/secmem.h"

#define DIGEST_LEN 32
#define BUCKETS_MIN 16
#define BUCKETS_MAX 65536 /* longer chains beyond this; the table stays small */

struct entry {
    uint8_t digest[DIGEST_LEN];
    enum dep11_cache_class cls;
    uint64_t expires_ns;          /* CLOCK_MONOTONIC */
    struct dep11_key *key;        /* our own deep copy */
    struct entry *hnext;          /* bucket chain; also the free list */
    struct entry *prev, *next;    /* LRU list: head = most recently used */
};

/* A leaf lock (util/lock.h): held only to look up, link, unlink and copy
 * 32 bytes; allocation and cleansing happen outside it. */
static struct {
    dep11_mutex_t lock;
    pid_t pid;                    /* the process that configured the cache */
    unsigned seconds, entries;    /* 0 = disabled */
    struct entry **buckets;
    size_t nbuckets;              /* a power of two, or 0 */
    struct entry *head, *tail;
    size_t count;
} cache = { .lock = DEP11_MUTEX_INIT };

static uint64_t now_ns(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t bucket_of(const uint8_t *digest, enum dep11_cache_class cls, size_t n)
{
    uint64_t h = 0;

    memcpy(&h, digest, sizeof(h)); /* a SHA-256 is already well mixed */
    return (size_t)(h ^ (uint64_t)cls) & (n - 1);
}

/* A deep copy of @src (its own secmem value). CKR_OK; CKR_HOST_MEMORY. */
static CK_RV copy_key(const struct dep11_key *src, struct dep11_key **out)
{
    CK_RV rv = dep11_key_alloc(src->role, out);
    uint8_t *value = NULL;

    if (rv != CKR_OK)
        return rv;
    value = (*out)->value;
    **out = *src;
    (*out)->value = value;
    memcpy(value, src->value, DEP11_KEY_LEN);
    return CKR_OK;
}

static void free_entries(struct entry *e)
{
    while (e != NULL) {
        struct entry *next = e->hnext;
        dep11_key_free(e->key); /* cleanses the value */
        dep11_cleanse(e->digest, sizeof(e->digest));
        free(e);
        e = next;
    }
}

/* Unlinks @e from its bucket and the LRU list and pushes it on @garbage.
 * cache.lock held. */
static void unlink_entry(struct entry *e, struct entry **garbage)
{
    struct entry **pp = &cache.buckets[bucket_of(e->digest, e->cls, cache.nbuckets)];

    while (*pp != NULL && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp == e)
        *pp = e->hnext;
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        cache.head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        cache.tail = e->prev;
    cache.count--;
    e->prev = e->next = NULL;
    e->hnext = *garbage;
    *garbage = e;
}

/* Moves @e to the head of the LRU list (or links it there). Lock held. */
static void to_front(struct entry *e, int linked)
{
    if (linked) {
        if (cache.head == e)
            return;
        e->prev->next = e->next; /* e is not the head, so prev != NULL */
        if (e->next != NULL)
            e->next->prev = e->prev;
        else
            cache.tail = e->prev;
    }
    e->prev = NULL;
    e->next = cache.head;
    if (cache.head != NULL)
        cache.head->prev = e;
    cache.head = e;
    if (cache.tail == NULL)
        cache.tail = e;
}

static struct entry *find(const uint8_t *digest, enum dep11_cache_class cls)
{
    struct entry *e = cache.buckets[bucket_of(digest, cls, cache.nbuckets)];

    while (e != NULL && (e->cls != cls || memcmp(e->digest, digest, DIGEST_LEN) != 0))
        e = e->hnext;
    return e;
}

/* Every entry onto @garbage. Lock held. */
static void drop_all(struct entry **garbage)
{
    while (cache.head != NULL)
        unlink_entry(cache.head, garbage);
}

/* Bumped by every flush of the whole cache and every (re)configuration
 * (C_Initialize, C_Finalize): memos taken before it (hier/copy_open.c's
 * root handles) are not used after it. */
static atomic_ulong flush_generation;

/**
 * dep11_cache_init - (re)configures the cache: every entry is dropped.
 * @seconds [in] lifetime of an entry; @entries [in] most entries held;
 * either 0 disables the cache. In a forked child it first forgets the
 * parent's lock state.
 * Returns CKR_OK; CKR_HOST_MEMORY (the cache stays disabled).
 */
CK_RV dep11_cache_init(unsigned seconds, unsigned entries)
{
    CK_RV rv = CKR_OK;
    struct entry **buckets = NULL, **old = NULL, *garbage = NULL;
    size_t n = 0;

    if (cache.pid != 0 && cache.pid != getpid()) {
        /* A child of the configuring process: the lock may have been held
         * by a thread that does not exist here. */
        static const dep11_mutex_t fresh = DEP11_MUTEX_INIT;
        cache.lock = fresh;
    }
    if (seconds != 0 && entries != 0) {
        for (n = BUCKETS_MIN; n < entries && n < BUCKETS_MAX; n <<= 1)
            ;
        buckets = calloc(n, sizeof(*buckets));
        if (buckets == NULL) {
            rv = CKR_HOST_MEMORY;
            LOG_FAIL(rv, "cache table of %zu buckets", n);
            n = 0;
        }
    }
    /* --- cache.lock --- */
    dep11_lock(&cache.lock);
    if (cache.buckets != NULL)
        drop_all(&garbage);
    old = cache.buckets;
    cache.buckets = buckets;
    cache.nbuckets = n;
    cache.seconds = n != 0 ? seconds : 0;
    cache.entries = n != 0 ? entries : 0;
    cache.pid = getpid();
    dep11_unlock(&cache.lock);
    atomic_fetch_add_explicit(&flush_generation, 1, memory_order_acq_rel);
    free_entries(garbage);
    free(old);
    LOG_DEBUG("policy-key cache: %u s, %u entries", cache.seconds, cache.entries);
    return rv;
}

/**
 * dep11_cache_shutdown - drops (cleanses) every entry and frees the table;
 * the cache is disabled until the next dep11_cache_init.
 */
void dep11_cache_shutdown(void)
{
    (void)dep11_cache_init(0, 0);
}

/* Is the cache configured at all? (A disabled cache answers a miss
 * before any allocation.) */
static int cache_on(void)
{
    int on = 0;

    dep11_lock(&cache.lock);
    on = cache.nbuckets != 0;
    dep11_unlock(&cache.lock);
    return on;
}

/**
 * dep11_cache_get - a fresh deep copy of the live entry for (@digest, @cls).
 * @digest [in] 32 bytes; @cls [in] the requester class; @out [out] the
 * copy, owned by the caller (dep11_key_free), or NULL on a miss; @res [out]
 * DEP11_CACHE_HIT or DEP11_CACHE_MISS (absent, expired, or cache off). An
 * expired entry is dropped.
 * Returns CKR_OK (hit or miss); CKR_ARGUMENTS_BAD; CKR_HOST_MEMORY.
 */
CK_RV dep11_cache_get(const uint8_t digest[32], enum dep11_cache_class cls,
                      struct dep11_key **out, enum dep11_cache_result *res)
{
    struct dep11_key *k = NULL;
    struct entry *e = NULL, *garbage = NULL;
    uint8_t *value = NULL;

    if (digest == NULL || out == NULL || res == NULL) {
        LOG_FAIL(CKR_ARGUMENTS_BAD, "NULL digest or output");
        return CKR_ARGUMENTS_BAD;
    }
    *out = NULL;
    *res = DEP11_CACHE_MISS;
    if (!cache_on())
        return CKR_OK;
    if (dep11_key_alloc(DEP11_ROLE_POLICY, &k) != CKR_OK)
        return CKR_HOST_MEMORY;
    value = k->value;
    /* --- cache.lock --- */
    dep11_lock(&cache.lock);
    if (cache.nbuckets != 0 && (e = find(digest, cls)) != NULL) {
        if (now_ns() < e->expires_ns) {
            *k = *e->key;
            k->value = value;
            memcpy(value, e->key->value, DEP11_KEY_LEN);
            to_front(e, 1);
            *res = DEP11_CACHE_HIT;
        } else {
            unlink_entry(e, &garbage);
        }
    }
    dep11_unlock(&cache.lock);
    free_entries(garbage);
    if (*res == DEP11_CACHE_HIT)
        *out = k;
    else
        dep11_key_free(k);
    return CKR_OK;
}

/**
 * dep11_cache_put - stores a deep copy of @key under (@digest, @cls),
 * replacing an entry of the same pair, for the configured lifetime from
 * now; the least recently used entry goes when the cache is full.
 * @digest [in] 32 bytes; @key [in] a policy key (not kept). Best effort:
 * a failure (memory) or a disabled cache stores nothing.
 */
void dep11_cache_put(const uint8_t digest[32], enum dep11_cache_class cls,
                     const struct dep11_key *key)
{
    struct entry *e = NULL, *old = NULL, *garbage = NULL;

    if (digest == NULL || key == NULL || key->value == NULL)
        return;
    e = calloc(1, sizeof(*e));
    if (e == NULL || copy_key(key, &e->key) != CKR_OK) {
        LOG_FAIL(CKR_HOST_MEMORY, "cache entry: not cached");
        free(e);
        return;
    }
    memcpy(e->digest, digest, DIGEST_LEN);
    e->cls = cls;
    /* --- cache.lock --- */
    dep11_lock(&cache.lock);
    if (cache.nbuckets != 0) {
        e->expires_ns = now_ns() + (uint64_t)cache.seconds * 1000000000u;
        if ((old = find(digest, cls)) != NULL)
            unlink_entry(old, &garbage);
        while (cache.count >= cache.entries && cache.tail != NULL)
            unlink_entry(cache.tail, &garbage); /* least recently used */
        size_t b = bucket_of(digest, cls, cache.nbuckets);
        e->hnext = cache.buckets[b];
        cache.buckets[b] = e;
        to_front(e, 0);
        cache.count++;
        e = NULL;
    }
    dep11_unlock(&cache.lock);
    if (e != NULL) {
        e->hnext = garbage; /* the cache is off: drop our copy too */
        garbage = e;
    }
    free_entries(garbage);
}

/** dep11_cache_generation - see cache.h. */
unsigned long dep11_cache_generation(void)
{
    return atomic_load_explicit(&flush_generation, memory_order_acquire);
}

/**
 * dep11_cache_flush - drops (cleanses) the entries of @policy_id (16 bytes),
 * every requester class, or every entry when @policy_id is NULL.
 */
void dep11_cache_flush(const uint8_t *policy_id)
{
    struct entry *e = NULL, *next = NULL, *garbage = NULL;
    size_t n = 0;

    /* --- cache.lock --- */
    dep11_lock(&cache.lock);
    for (e = cache.head; e != NULL; e = next) {
        next = e->next;
        if (policy_id == NULL ||
            (e->key->has_policy && memcmp(e->key->policy_id, policy_id, DEP11_ID_LEN) == 0)) {
            unlink_entry(e, &garbage);
            n++;
        }
    }
    dep11_unlock(&cache.lock);
    if (policy_id == NULL)
        atomic_fetch_add_explicit(&flush_generation, 1, memory_order_acq_rel);
    free_entries(garbage);
    LOG_DEBUG("cache flush (%s): %zu entries dropped", policy_id == NULL ? "all" : "one policy",
              n);
}
