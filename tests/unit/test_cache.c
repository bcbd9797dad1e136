/*
 * test_cache.c - the policy-key cache (module/hier/cache.c): hit and miss,
 * requester classes apart, independent copies, expiry, LRU eviction at the
 * bound, flush by policy and of everything, a disabled cache, threads, and
 * every cached value released through the cleansing dep11_secmem_free.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hier/cache.h"
#include "util/secmem.h"

/* Link-time hook (-Wl,--wrap): counts live secmem buffers of key size, so
 * a test can see that the cache released (and so cleansed) every value it
 * held. A counter is the only way a --wrap hook can report; it is atomic
 * and only ever compared with a value read in the same test. */
void *__real_dep11_secmem_alloc(size_t n);
void __real_dep11_secmem_free(void *p, size_t n);
static long live_values; /* atomic */

void *__wrap_dep11_secmem_alloc(size_t n)
{
    void *p = __real_dep11_secmem_alloc(n);

    if (p != NULL && n == DEP11_KEY_LEN)
        __atomic_add_fetch(&live_values, 1, __ATOMIC_SEQ_CST);
    return p;
}

void __wrap_dep11_secmem_free(void *p, size_t n)
{
    if (p != NULL && n == DEP11_KEY_LEN)
        __atomic_sub_fetch(&live_values, 1, __ATOMIC_SEQ_CST);
    __real_dep11_secmem_free(p, n);
}

static long live(void)
{
    return __atomic_load_n(&live_values, __ATOMIC_SEQ_CST);
}

#define NKEYS 5

struct fx {
    struct dep11_key *k[NKEYS];   /* policy keys: policy id and value from i */
    uint8_t d[NKEYS][32];         /* their blob digests */
};

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 31 + i * 7 + 1);
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    if (fx == NULL)
        return -1;
    for (unsigned i = 0; i < NKEYS; i++) {
        if (dep11_key_alloc(DEP11_ROLE_POLICY, &fx->k[i]) != CKR_OK)
            return -1;
        fill(fx->k[i]->value, DEP11_KEY_LEN, i);
        fx->k[i]->has_policy = 1;
        fill(fx->k[i]->policy_id, DEP11_ID_LEN, 100 + i);
        fx->k[i]->policy_type = DEP11_POLICY_MAILBOX;
        fx->k[i]->version = 7 + i;
        fx->k[i]->managed_by = DEP11_MANAGED_CUSTOMER;
        fx->k[i]->unwrapped_by = DEP11_ROOT_CUSTOMER_2;
        fill(fx->d[i], 32, 200 + i);
    }
    if (dep11_cache_init(60, 4) != CKR_OK)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    dep11_cache_shutdown();
    for (int i = 0; i < NKEYS; i++)
        dep11_key_free(fx->k[i]);
    free(fx);
    return 0;
}

/* A hit gives key @i's value and metadata, in a buffer of its own. */
static void expect_hit(struct fx *fx, int i, enum dep11_cache_class cls)
{
    struct dep11_key *got = NULL;
    enum dep11_cache_result res = DEP11_CACHE_MISS;

    assert_int_equal(dep11_cache_get(fx->d[i], cls, &got, &res), CKR_OK);
    assert_int_equal(res, DEP11_CACHE_HIT);
    assert_non_null(got);
    assert_ptr_not_equal(got->value, fx->k[i]->value);
    assert_memory_equal(got->value, fx->k[i]->value, DEP11_KEY_LEN);
    assert_memory_equal(got->policy_id, fx->k[i]->policy_id, DEP11_ID_LEN);
    assert_int_equal(got->role, DEP11_ROLE_POLICY);
    assert_int_equal(got->version, fx->k[i]->version);
    assert_int_equal(got->unwrapped_by, fx->k[i]->unwrapped_by);
    assert_int_equal(got->managed_by, fx->k[i]->managed_by);
    dep11_key_free(got);
}

static void expect_miss(struct fx *fx, int i, enum dep11_cache_class cls)
{
    struct dep11_key *got = (struct dep11_key *)1;
    enum dep11_cache_result res = DEP11_CACHE_HIT;

    /* a miss is an answer, not an error (no refusal code a caller could
     * pass on or classify) */
    assert_int_equal(dep11_cache_get(fx->d[i], cls, &got, &res), CKR_OK);
    assert_int_equal(res, DEP11_CACHE_MISS);
    assert_null(got);
}

static void test_hit_miss(void **state)
{
    struct fx *fx = *state;
    struct dep11_key *got = NULL;
    enum dep11_cache_result res = DEP11_CACHE_MISS;

    expect_miss(fx, 0, DEP11_CACHE_USER);
    dep11_cache_put(fx->d[0], DEP11_CACHE_USER, fx->k[0]);
    expect_hit(fx, 0, DEP11_CACHE_USER);
    expect_hit(fx, 0, DEP11_CACHE_USER);
    expect_miss(fx, 1, DEP11_CACHE_USER);
    /* The same policy under another blob digest is another entry. */
    memcpy(fx->d[1], fx->d[0], 32);
    fx->d[1][31] ^= 1;
    expect_miss(fx, 1, DEP11_CACHE_USER);
    assert_int_equal(dep11_cache_get(NULL, DEP11_CACHE_USER, &got, &res), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_cache_get(fx->d[0], DEP11_CACHE_USER, NULL, &res),
                     CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_cache_get(fx->d[0], DEP11_CACHE_USER, &got, NULL),
                     CKR_ARGUMENTS_BAD);
    dep11_cache_put(NULL, DEP11_CACHE_USER, fx->k[0]);       /* ignored */
    dep11_cache_put(fx->d[2], DEP11_CACHE_USER, NULL);       /* ignored */
    expect_miss(fx, 2, DEP11_CACHE_USER);
}

/* A USER entry never answers a SYSTEM request, nor the reverse. */
static void test_classes_apart(void **state)
{
    struct fx *fx = *state;

    dep11_cache_put(fx->d[0], DEP11_CACHE_USER, fx->k[0]);
    expect_miss(fx, 0, DEP11_CACHE_SYSTEM);
    memcpy(fx->d[1], fx->d[0], 32);   /* key 1 cached under the same digest */
    dep11_cache_put(fx->d[1], DEP11_CACHE_SYSTEM, fx->k[1]);
    expect_hit(fx, 0, DEP11_CACHE_USER);
    expect_hit(fx, 1, DEP11_CACHE_SYSTEM);
}

/* The cache holds its own copy, and hands out copies: changing either
 * side changes nothing in the cache. */
static void test_copies_independent(void **state)
{
    struct fx *fx = *state;
    struct dep11_key *a = NULL, *b = NULL;
    enum dep11_cache_result res = DEP11_CACHE_MISS;
    uint8_t orig[DEP11_KEY_LEN];

    memcpy(orig, fx->k[0]->value, sizeof(orig));
    dep11_cache_put(fx->d[0], DEP11_CACHE_USER, fx->k[0]);
    fx->k[0]->value[0] ^= 0xff;
    fx->k[0]->version = 99;
    assert_int_equal(dep11_cache_get(fx->d[0], DEP11_CACHE_USER, &a, &res), CKR_OK);
    assert_int_equal(res, DEP11_CACHE_HIT);
    assert_memory_equal(a->value, orig, sizeof(orig));
    assert_int_equal(a->version, 7);
    a->value[1] ^= 0xff;
    assert_int_equal(dep11_cache_get(fx->d[0], DEP11_CACHE_USER, &b, &res), CKR_OK);
    assert_int_equal(res, DEP11_CACHE_HIT);
    assert_ptr_not_equal(a, b);
    assert_ptr_not_equal(a->value, b->value);
    assert_memory_equal(b->value, orig, sizeof(orig));
    dep11_key_free(a);
    dep11_key_free(b);
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* An entry lives cache-seconds from its store, whatever its use. */
static void test_expiry(void **state)
{
    struct fx *fx = *state;
    long before = live();

    assert_int_equal(dep11_cache_init(1, 4), CKR_OK);
    dep11_cache_put(fx->d[0], DEP11_CACHE_USER, fx->k[0]);
    assert_int_equal(live(), before + 1);
    sleep_ms(500);
    expect_hit(fx, 0, DEP11_CACHE_USER);
    sleep_ms(600);
    expect_miss(fx, 0, DEP11_CACHE_USER);
    assert_int_equal(live(), before); /* the expired value was released */
    /* Storing again starts a new lifetime. */
    dep11_cache_put(fx->d[0], DEP11_CACHE_USER, fx->k[0]);
    expect_hit(fx, 0, DEP11_CACHE_USER);
}

/* At the bound the least recently used entry goes. */
static void test_eviction(void **state)
{
    struct fx *fx = *state;
    long before = live();

    assert_int_equal(dep11_cache_init(60, 3), CKR_OK);
    for (int i = 0; i < 3; i++)
        dep11_cache_put(fx->d[i], DEP11_CACHE_USER, fx->k[i]);
    assert_int_equal(live(), before + 3);
    expect_hit(fx, 0, DEP11_CACHE_USER);      /* 0 is now the most recent: 1 is oldest */
    dep11_cache_put(fx->d[3], DEP11_CACHE_USER, fx->k[3]);
    assert_int_equal(live(), before + 3);     /* still 3 held: 1 was evicted and released */
    expect_miss(fx, 1, DEP11_CACHE_USER);
    expect_hit(fx, 0, DEP11_CACHE_USER);
    expect_hit(fx, 2, DEP11_CACHE_USER);
    expect_hit(fx, 3, DEP11_CACHE_USER);
    /* Storing the same pair again replaces, it does not grow. */
    dep11_cache_put(fx->d[3], DEP11_CACHE_USER, fx->k[4]);
    assert_int_equal(live(), before + 3);
    expect_hit(fx, 0, DEP11_CACHE_USER);
    expect_hit(fx, 2, DEP11_CACHE_USER);
    memcpy(fx->d[4], fx->d[3], 32);
    expect_hit(fx, 4, DEP11_CACHE_USER);
}

static void test_flush(void **state)
{
    struct fx *fx = *state;
    long before = live();

    /* Key 1 is another blob of key 0's policy (say, an older version). */
    memcpy(fx->k[1]->policy_id, fx->k[0]->policy_id, DEP11_ID_LEN);
    dep11_cache_put(fx->d[0], DEP11_CACHE_USER, fx->k[0]);
    dep11_cache_put(fx->d[0], DEP11_CACHE_SYSTEM, fx->k[0]);
    dep11_cache_put(fx->d[1], DEP11_CACHE_USER, fx->k[1]);
    dep11_cache_put(fx->d[2], DEP11_CACHE_USER, fx->k[2]);
    assert_int_equal(live(), before + 4);
    dep11_cache_flush(fx->k[0]->policy_id);
    assert_int_equal(live(), before + 1);
    expect_miss(fx, 0, DEP11_CACHE_USER);
    expect_miss(fx, 0, DEP11_CACHE_SYSTEM);
    expect_miss(fx, 1, DEP11_CACHE_USER);
    expect_hit(fx, 2, DEP11_CACHE_USER);
    dep11_cache_flush(fx->k[3]->policy_id);   /* not cached: nothing happens */
    expect_hit(fx, 2, DEP11_CACHE_USER);
    dep11_cache_put(fx->d[3], DEP11_CACHE_SYSTEM, fx->k[3]);
    dep11_cache_flush(NULL);
    assert_int_equal(live(), before);
    expect_miss(fx, 2, DEP11_CACHE_USER);
    expect_miss(fx, 3, DEP11_CACHE_SYSTEM);
}

/* cache-seconds = 0 or cache-entries = 0: nothing is kept. Re-init and
 * shutdown drop (and release) everything. */
static void test_disabled_and_reinit(void **state)
{
    struct fx *fx = *state;
    long before = live();

    dep11_cache_put(fx->d[0], DEP11_CACHE_USER, fx->k[0]);
    assert_int_equal(dep11_cache_init(0, 10), CKR_OK);
    assert_int_equal(live(), before);
    expect_miss(fx, 0, DEP11_CACHE_USER);
    dep11_cache_put(fx->d[0], DEP11_CACHE_USER, fx->k[0]);
    expect_miss(fx, 0, DEP11_CACHE_USER);
    assert_int_equal(live(), before);
    assert_int_equal(dep11_cache_init(10, 0), CKR_OK);
    dep11_cache_put(fx->d[0], DEP11_CACHE_USER, fx->k[0]);
    expect_miss(fx, 0, DEP11_CACHE_USER);
    assert_int_equal(dep11_cache_init(10, 2), CKR_OK);
    dep11_cache_put(fx->d[0], DEP11_CACHE_USER, fx->k[0]);
    dep11_cache_put(fx->d[1], DEP11_CACHE_USER, fx->k[1]);
    assert_int_equal(live(), before + 2);
    dep11_cache_shutdown();
    assert_int_equal(live(), before);
    expect_miss(fx, 0, DEP11_CACHE_USER);
    dep11_cache_flush(NULL);                  /* harmless when off */
}

struct worker {
    struct fx *fx;
    int id;
    int bad;
};

/* Many threads storing, reading and flushing: every hit is the key that
 * was stored under that digest. */
static void *hammer(void *arg)
{
    struct worker *w = arg;
    struct dep11_key *got = NULL;
    enum dep11_cache_result res = DEP11_CACHE_MISS;

    for (int n = 0; n < 3000; n++) {
        int i = (n * 7 + w->id) % NKEYS;
        enum dep11_cache_class cls = n % 3 ? DEP11_CACHE_USER : DEP11_CACHE_SYSTEM;
        if (n % 2 == 0)
            dep11_cache_put(w->fx->d[i], cls, w->fx->k[i]);
        if (n % 97 == 0)
            dep11_cache_flush(n % 194 ? NULL : w->fx->k[i]->policy_id);
        if (dep11_cache_get(w->fx->d[i], cls, &got, &res) == CKR_OK &&
            res == DEP11_CACHE_HIT) {
            w->bad |= memcmp(got->value, w->fx->k[i]->value, DEP11_KEY_LEN) != 0;
            dep11_key_free(got);
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    struct fx *fx = *state;
    struct worker w[6];
    pthread_t th[6];
    long before = live();

    for (int i = 0; i < 6; i++) {
        w[i].fx = fx;
        w[i].id = i;
        w[i].bad = 0;
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].bad, 0);
    }
    assert_true(live() <= before + 4);        /* never beyond the bound */
    dep11_cache_flush(NULL);
    assert_int_equal(live(), before);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_hit_miss),   T(test_classes_apart),      T(test_copies_independent),
        T(test_expiry),     T(test_eviction),           T(test_flush),
        T(test_disabled_and_reinit), T(test_threads),
    };
#undef T
    return cmocka_run_group_tests_name("policy-key cache", tests, NULL, NULL);
}
