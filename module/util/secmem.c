/*
 * secmem.c - memory for key material. OpenSSL's secure heap (mlocked, guard
 * pages, MADV_DONTDUMP) when it can be set up; else plain allocations that are
 * locked and kept out of core dumps where whole pages allow, and always
 * cleansed before release.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "util/log.h"
#include "util/secmem.h"

/* Arena sizes tried in turn (powers of two): 4 MiB holds ~100k 32-byte keys;
 * the smaller ones fit tighter RLIMIT_MEMLOCK settings. */
static const size_t arena_sizes[] = { 4u << 20, 1u << 20, 256u << 10, 64u << 10 };
#define ARENA_MIN_ALLOC 32

static pthread_once_t secmem_once = PTHREAD_ONCE_INIT;
static pthread_once_t exhausted_once = PTHREAD_ONCE_INIT;

static void
secmem_setup(void)
{
    size_t i = 0;
    int ret = 0;

    /* Someone else in the process (an OpenSSL consumer) set it up: share it. */
    if (CRYPTO_secure_malloc_initialized())
        return;
    for (i = 0; i < sizeof arena_sizes / sizeof arena_sizes[0]; i++) {
        ret = CRYPTO_secure_malloc_init(arena_sizes[i], ARENA_MIN_ALLOC);
        if (ret == 1)
            return;
        /* 2: the heap exists but mlock or a guard page failed. It is still
         * empty (we made it), so tear it down and try a smaller arena. */
        if (ret == 2)
            (void)CRYPTO_secure_malloc_done();
    }
    LOG_WARN("secure heap unavailable (RLIMIT_MEMLOCK too low?): key material "
             "uses cleansed plain allocations, locked only where whole pages "
             "allow");
}

/* See secmem.h. Returns 1 when the locked heap is active, 0 on fallback. */
int
dep11_secmem_init(void)
{
    (void)pthread_once(&secmem_once, secmem_setup);
    return dep11_secmem_active();
}

/* See secmem.h. True also when another component set the heap up. */
int
dep11_secmem_active(void)
{
    return CRYPTO_secure_malloc_initialized() ? 1 : 0;
}

/* The whole pages inside [p, p+n): the only part that may be locked and
 * marked no-dump without touching a neighbouring allocation's pages. */
static int
inner_pages(void *p, size_t n, void **start, size_t *len)
{
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)p;
    uintptr_t lo = 0;
    uintptr_t hi = 0;

    if (pg <= 0 || a > UINTPTR_MAX - n)
        return 0;
    lo = (a + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
    hi = (a + n) & ~((uintptr_t)pg - 1);
    if (lo < a || hi <= lo)
        return 0;
    *start = (void *)lo;
    *len = hi - lo;
    return 1;
}

static void
warn_exhausted(void)
{
    LOG_WARN("secure heap exhausted: further key material uses cleansed plain "
             "allocations");
}

static void *
fallback_alloc(size_t n)
{
    void *p = OPENSSL_zalloc(n);
    void *start = NULL;
    size_t len = 0;

    if (p == NULL)
        return NULL;
    /* Best effort: failures are expected under tight limits and harmless. */
    if (inner_pages(p, n, &start, &len)) {
        (void)mlock(start, len);
#ifdef MADV_DONTDUMP
        (void)madvise(start, len, MADV_DONTDUMP);
#endif
    }
    return p;
}

/* See secmem.h. Zeroed; the caller owns it and releases it with
 * dep11_secmem_free(p, n). n == 0 gives a 1-byte allocation. NULL on failure. */
void *
dep11_secmem_alloc(size_t n)
{
    void *p = NULL;

    if (n == 0)
        n = 1;     /* a valid, freeable pointer even for empty secrets */
    (void)dep11_secmem_init();
    if (dep11_secmem_active()) {
        /* An exhausted arena queues an OpenSSL error: keep the queue as the
         * caller left it. */
        (void)ERR_set_mark();
        p = OPENSSL_secure_zalloc(n);
        (void)ERR_pop_to_mark();
        if (p != NULL)
            return p;
        (void)pthread_once(&exhausted_once, warn_exhausted);
    }
    return fallback_alloc(n);
}

/* See secmem.h. Works for secure-heap and fallback pointers alike. */
void
dep11_secmem_free(void *p, size_t n)
{
    void *start = NULL;
    size_t len = 0;

    if (p == NULL)
        return;
    if (n == 0)
        n = 1;
    if (CRYPTO_secure_allocated(p)) {
        OPENSSL_secure_clear_free(p, n);
        return;
    }
    OPENSSL_cleanse(p, n);
    if (inner_pages(p, n, &start, &len)) {
        (void)munlock(start, len);
#ifdef MADV_DODUMP
        (void)madvise(start, len, MADV_DODUMP);
#endif
    }
    OPENSSL_free(p);
}

/* See secmem.h. NULL or 0 is a no-op. */
void
dep11_cleanse(void *p, size_t n)
{
    if (p != NULL && n > 0)
        OPENSSL_cleanse(p, n);
}
