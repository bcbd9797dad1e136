/*
 * test_stress.c - 2, 4, 8 and 16 threads at once on libdep11.so, after
 * C_Initialize(NULL) and after C_Initialize with CKF_OS_LOCKING_OK (DESIGN
 * section 2: thread-safe whatever the caller passes). Each thread has its own
 * session and also uses two shared ones (single-call functions only there:
 * PKCS#11 allows one active operation per session); every mechanism is mixed
 * in: keygen, policy wrap/unwrap, child wrap/unwrap, chunk derive, chunk
 * AEAD, AEAD one-shot and multi-part, find, destroy, C_GetAttributeValue.
 * Every result is checked (and every decryption against its plaintext).
 * Bounded in time: $DEP11_STRESS_SECONDS (default 2) per thread count.
 * scripts/test runs it under ThreadSanitizer (build-tsan/).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "itest.h"

#define NSHARED 2

struct shared {
    struct itest *t;
    CK_SESSION_HANDLE sh[NSHARED];
    CK_OBJECT_HANDLE pol, site, r1, r2;
    struct itest_blob cblob, pblob;
    double deadline;
    pthread_mutex_t lock;
    unsigned long ops, errors;
};

struct worker {
    struct shared *g;
    int id;
    unsigned long ops, errors;
    pthread_t th;
};

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define CHECK(w, what, rv, want)                                                      \
    do {                                                                              \
        CK_RV r_ = (rv);                                                              \
        if (r_ != (want)) {                                                           \
            if ((w)->errors++ < 5)                                                    \
                fprintf(stderr, "thread %d: %s: 0x%lx (want 0x%lx)\n", (w)->id, what, \
                        (unsigned long)r_, (unsigned long)(want));                    \
            return;                                                                   \
        }                                                                             \
    } while (0)

static const CK_BYTE msg[64] = "stress: sixty-four bytes of plaintext for every AEAD round....";

static void op_keygen_destroy(struct worker *w, CK_SESSION_HANDLE s)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG role = 0;

    CHECK(w, "keygen", itest_keygen(w->g->t, s, DEP11_ROLE_WORKLOAD, 0, &h), CKR_OK);
    CHECK(w, "getattr", itest_get_ulong(w->g->t, s, h, CKA_DEP11_ROLE, &role), CKR_OK);
    CHECK(w, "role", role == DEP11_ROLE_WORKLOAD ? CKR_OK : CKR_GENERAL_ERROR, CKR_OK);
    CHECK(w, "destroy", w->g->t->f->C_DestroyObject(s, h), CKR_OK);
}

static void op_policy(struct worker *w, CK_SESSION_HANDLE s, int flush)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    struct itest_blob b = { 0 };
    const struct itest_blob *src = (w->ops & 1) ? &w->g->cblob : &w->g->pblob;
    CK_ULONG ver = 0;

    if (flush)
        CHECK(w, "flush", w->g->t->x->DEP11_FlushCache(NULL), CKR_OK);
    CHECK(w, "policy unwrap", itest_policy_unwrap(w->g->t, s, src, DEP11_REQUESTER_USER, &h),
          CKR_OK);
    CHECK(w, "version", itest_get_ulong(w->g->t, s, h, CKA_DEP11_POLICY_VERSION, &ver), CKR_OK);
    CHECK(w, "version value", ver == 1 ? CKR_OK : CKR_GENERAL_ERROR, CKR_OK);
    /* A refresh (provider-managed: the roots' private keys stay idle). */
    CHECK(w, "policy wrap", itest_policy_wrap(w->g->t, s, h, 0, 0, 0, &b), CKR_OK);
    itest_blob_free(&b);
    CHECK(w, "destroy policy", w->g->t->f->C_DestroyObject(s, h), CKR_OK);
}

/* Child keys made on session @s; the AEAD rounds run on @data, the thread's
 * own session (an operation on a session shared by threads would meet
 * another thread's operation: CKR_OPERATION_ACTIVE, as PKCS#11 says). */
static void op_child(struct worker *w, CK_SESSION_HANDLE s, CK_SESSION_HANDLE data)
{
    CK_OBJECT_HANDLE mb = CK_INVALID_HANDLE, back = CK_INVALID_HANDLE;
    struct itest_blob b = { 0 }, ct = { 0 }, pt = { 0 };
    CK_BYTE owner[16];

    memset(owner, 'a' + (w->id % 26), sizeof owner);
    CHECK(w, "keygen mailbox", itest_keygen(w->g->t, s, DEP11_ROLE_MAILBOX, 0, &mb), CKR_OK);
    CHECK(w, "child wrap", itest_child_wrap(w->g->t, s, w->g->pol, mb, owner, &b), CKR_OK);
    CHECK(w, "child unwrap", itest_child_unwrap(w->g->t, s, w->g->pol, &b, owner, &back),
          CKR_OK);
    itest_blob_free(&b);
    /* Data sealed by one copy opens with the other. */
    CHECK(w, "aead enc", itest_aead(w->g->t, data, 1, mb, owner, 16, msg, sizeof msg, &ct),
          CKR_OK);
    CHECK(w, "aead dec", itest_aead(w->g->t, data, 0, back, owner, 16, ct.p, ct.len, &pt),
          CKR_OK);
    CHECK(w, "aead plaintext",
          pt.len == sizeof msg && memcmp(pt.p, msg, sizeof msg) == 0 ? CKR_OK : CKR_GENERAL_ERROR,
          CKR_OK);
    itest_blob_free(&ct);
    itest_blob_free(&pt);
    CHECK(w, "destroy", w->g->t->f->C_DestroyObject(s, mb), CKR_OK);
    CHECK(w, "destroy", w->g->t->f->C_DestroyObject(s, back), CKR_OK);
}

static void op_chunk(struct worker *w, CK_SESSION_HANDLE s, int aead)
{
    CK_DEP11_CHUNK_PARAMS p;
    CK_MECHANISM m = { aead ? CKM_DEP11_CHUNK_AEAD : CKM_DEP11_CHUNK_KEY_DERIVE, &p, sizeof p };
    CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;
    CK_BYTE ct[256], pt[256];
    CK_ULONG len = sizeof ct, plen = sizeof pt;
    CK_FUNCTION_LIST_PTR f = w->g->t->f;

    memset(p.fileId, w->id, sizeof p.fileId);
    p.ulChunkIndex = w->ops;
    if (!aead) {
        CHECK(w, "chunk derive", f->C_DeriveKey(s, &m, w->g->site, NULL, 0, &k), CKR_OK);
        CHECK(w, "destroy chunk", f->C_DestroyObject(s, k), CKR_OK);
        return;
    }
    CHECK(w, "chunk enc init", f->C_EncryptInit(s, &m, w->g->site), CKR_OK);
    CHECK(w, "chunk enc", f->C_Encrypt(s, (CK_BYTE_PTR)msg, sizeof msg, ct, &len), CKR_OK);
    CHECK(w, "chunk dec init", f->C_DecryptInit(s, &m, w->g->site), CKR_OK);
    CHECK(w, "chunk dec", f->C_Decrypt(s, ct, len, pt, &plen), CKR_OK);
    CHECK(w, "chunk plaintext",
          plen == sizeof msg && memcmp(pt, msg, plen) == 0 ? CKR_OK : CKR_GENERAL_ERROR, CKR_OK);
}

static void op_multipart(struct worker *w, CK_SESSION_HANDLE s)
{
    CK_OBJECT_HANDLE mb = CK_INVALID_HANDLE;
    CK_DEP11_AEAD_PARAMS p = { NULL, 0 };
    CK_MECHANISM m = { CKM_DEP11_AEAD, &p, sizeof p };
    CK_BYTE ct[256];
    CK_ULONG total = 0, len = 0;
    CK_FUNCTION_LIST_PTR f = w->g->t->f;
    struct itest_blob pt = { 0 };

    CHECK(w, "keygen", itest_keygen(w->g->t, s, DEP11_ROLE_MAILBOX, 0, &mb), CKR_OK);
    CHECK(w, "enc init", f->C_EncryptInit(s, &m, mb), CKR_OK);
    for (int i = 0; i < 4; i++) {
        len = sizeof ct - total;
        CHECK(w, "enc update", f->C_EncryptUpdate(s, (CK_BYTE_PTR)msg + 16 * i, 16, ct + total,
                                                  &len), CKR_OK);
        total += len;
    }
    len = sizeof ct - total;
    CHECK(w, "enc final", f->C_EncryptFinal(s, ct + total, &len), CKR_OK);
    total += len;
    CHECK(w, "dec", itest_aead(w->g->t, s, 0, mb, NULL, 0, ct, total, &pt), CKR_OK);
    CHECK(w, "plaintext",
          pt.len == sizeof msg && memcmp(pt.p, msg, sizeof msg) == 0 ? CKR_OK : CKR_GENERAL_ERROR,
          CKR_OK);
    itest_blob_free(&pt);
    CHECK(w, "destroy", f->C_DestroyObject(s, mb), CKR_OK);
}

static void op_find(struct worker *w, CK_SESSION_HANDLE s)
{
    CK_ULONG role = DEP11_ROLE_POLICY, n = 0;
    CK_ATTRIBUTE t = { CKA_DEP11_ROLE, &role, sizeof role };
    CK_OBJECT_HANDLE h[64];
    CK_FUNCTION_LIST_PTR f = w->g->t->f;
    int seen = 0;

    CHECK(w, "find init", f->C_FindObjectsInit(s, &t, 1), CKR_OK);
    CHECK(w, "find", f->C_FindObjects(s, h, 64, &n), CKR_OK);
    CHECK(w, "find final", f->C_FindObjectsFinal(s), CKR_OK);
    for (CK_ULONG i = 0; i < n; i++)
        seen |= h[i] == w->g->pol;
    CHECK(w, "find sees the shared policy key", seen ? CKR_OK : CKR_GENERAL_ERROR, CKR_OK);
}

/* Single-call functions on a session every thread shares. */
static void op_shared(struct worker *w, CK_SESSION_HANDLE s)
{
    CK_ULONG role = 0;

    CHECK(w, "shared getattr", itest_get_ulong(w->g->t, s, w->g->site, CKA_DEP11_ROLE, &role),
          CKR_OK);
    CHECK(w, "shared role", role == DEP11_ROLE_SITE ? CKR_OK : CKR_GENERAL_ERROR, CKR_OK);
    op_keygen_destroy(w, s);
    op_chunk(w, s, 0);
    if (w->ops % 8 == 0)
        op_policy(w, s, 0);
}

static void *work(void *arg)
{
    struct worker *w = arg;
    CK_SESSION_HANDLE own = CK_INVALID_HANDLE;
    CK_SLOT_ID slot = 0;

    if (itest_slot(w->g->t, "contoso", &slot) != CKR_OK ||
        w->g->t->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                                  &own) != CKR_OK) {
        w->errors++;
        return NULL;
    }
    while (now() < w->g->deadline) {
        unsigned long before = w->errors;
        switch (w->ops % 9) {
        case 0: op_keygen_destroy(w, own); break;
        case 1: op_policy(w, own, (w->ops / 9) % 4 == 0); break;
        case 2: op_child(w, own, own); break;
        case 3: op_chunk(w, own, 0); break;
        case 4: op_chunk(w, own, 1); break;
        case 5: op_multipart(w, own); break;
        case 6: op_find(w, own); break;
        case 7: op_shared(w, w->g->sh[w->id % NSHARED]); break;
        default: op_child(w, w->g->sh[(w->id + 1) % NSHARED], own); break;
        }
        w->ops++;
        if (w->errors > before && w->errors > 20)
            break;
    }
    if (w->g->t->f->C_CloseSession(own) != CKR_OK)
        w->errors++;
    return NULL;
}

struct fx {
    struct itest *t;
};

static int group_setup(void **state)
{
    struct itest *t = itest_open();

    if (t == NULL)
        return -1;
    *state = t;
    return 0;
}

static int group_teardown(void **state)
{
    itest_close(*state);
    return 0;
}

/* One round: @nthreads workers for the configured time; the totals. */
static void round_of(struct shared *g, int nthreads, double seconds)
{
    struct worker *w = calloc((size_t)nthreads, sizeof *w);

    assert_non_null(w);
    g->deadline = now() + seconds;
    for (int i = 0; i < nthreads; i++) {
        w[i].g = g;
        w[i].id = i;
        assert_int_equal(pthread_create(&w[i].th, NULL, work, &w[i]), 0);
    }
    g->ops = g->errors = 0;
    for (int i = 0; i < nthreads; i++) {
        assert_int_equal(pthread_join(w[i].th, NULL), 0);
        g->ops += w[i].ops;
        g->errors += w[i].errors;
    }
    free(w);
}

static void stress(void **state, int os_locking)
{
    struct itest *t = *state;
    CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
    struct shared g;
    CK_OBJECT_HANDLE r1 = CK_INVALID_HANDLE, r2 = CK_INVALID_HANDLE, pol2 = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    const char *env = getenv("DEP11_STRESS_SECONDS");
    double seconds = env != NULL ? atof(env) : 2.0;
    static const int counts[] = { 2, 4, 8, 16 };

    memset(&g, 0, sizeof g);
    g.t = t;
    assert_int_equal(t->f->C_Initialize(os_locking ? &args : NULL), CKR_OK);
    for (int i = 0; i < NSHARED; i++)
        assert_int_equal(itest_session(t, "contoso", i == 0, &g.sh[i]), CKR_OK);
    assert_int_equal(itest_find(t, g.sh[0], CKO_PRIVATE_KEY, "root1", &r1), CKR_OK);
    assert_int_equal(itest_find(t, g.sh[0], CKO_PRIVATE_KEY, "root2", &r2), CKR_OK);
    assert_int_equal(itest_keygen(t, g.sh[0], DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, &g.pol),
                     CKR_OK);
    assert_int_equal(itest_keygen(t, g.sh[1], DEP11_ROLE_SITE, 0, &g.site), CKR_OK);
    assert_int_equal(itest_policy_wrap(t, g.sh[0], g.pol, r1, r2, 0, &g.cblob), CKR_OK);
    /* the provider-managed blob is another policy's: one blob per version */
    assert_int_equal(itest_keygen(t, g.sh[0], DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, &pol2),
                     CKR_OK);
    assert_int_equal(itest_policy_wrap(t, g.sh[0], pol2, 0, 0, 0, &g.pblob), CKR_OK);
    /* Commit both blobs before the threads start (as a service stores and
     * commits a blob before it serves it): the rounds then write nothing to
     * the provider token, whose SoftHSM file store answers a read racing a
     * write in the same process with CKR_GENERAL_ERROR now and then. */
    assert_int_equal(itest_policy_unwrap(t, g.sh[0], &g.cblob, DEP11_REQUESTER_USER, &h),
                     CKR_OK);
    assert_int_equal(t->f->C_DestroyObject(g.sh[0], h), CKR_OK);
    assert_int_equal(itest_policy_unwrap(t, g.sh[0], &g.pblob, DEP11_REQUESTER_USER, &h),
                     CKR_OK);
    assert_int_equal(t->f->C_DestroyObject(g.sh[0], h), CKR_OK);
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        round_of(&g, counts[i], seconds);
        printf("stress %s: %2d threads: %lu operations in %.1f s, %lu errors\n",
               os_locking ? "CKF_OS_LOCKING_OK" : "C_Initialize(NULL)", counts[i], g.ops,
               seconds, g.errors);
        assert_int_equal(g.errors, 0);
        assert_true(g.ops >= (unsigned long)counts[i]); /* every thread got work done */
    }
    itest_blob_free(&g.cblob);
    itest_blob_free(&g.pblob);
    assert_int_equal(t->f->C_Finalize(NULL), CKR_OK);
}

/* Provider-token writes racing each other and reads in one process: every
 * thread makes its own policies, so that each round creates availability
 * keys (wrap, roll), commit records (first unwrap of each version) and
 * destroys retired availability keys, while the other threads search the
 * provider token (cold unwraps). SoftHSM's file store answered
 * CKR_GENERAL_ERROR now and then before dep11 ran its own provider writes
 * alone (hsm/provider.c). */
#define WRITE_ROUNDS 6

/* One policy through v1 and v2, each committed, v1 then refused. */
static void write_round(struct worker *w, CK_SESSION_HANDLE s)
{
    struct itest *t = w->g->t;
    CK_OBJECT_HANDLE pol = CK_INVALID_HANDLE, h1 = CK_INVALID_HANDLE, h2 = CK_INVALID_HANDLE;
    struct itest_blob v1 = { 0 }, v2 = { 0 };
    unsigned long before = w->errors;

    CHECK(w, "keygen", itest_keygen(t, s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, &pol),
          CKR_OK);
    CHECK(w, "wrap v1", itest_policy_wrap(t, s, pol, w->g->r1, w->g->r2, 0, &v1), CKR_OK);
    CHECK(w, "unwrap v1", itest_policy_unwrap(t, s, &v1, DEP11_REQUESTER_USER, &h1), CKR_OK);
    CHECK(w, "wrap v2",
          itest_policy_wrap(t, s, h1, w->g->r1, w->g->r2, DEP11_WRAP_ROLL_AVAILABILITY, &v2),
          CKR_OK);
    CHECK(w, "unwrap v2", itest_policy_unwrap(t, s, &v2, DEP11_REQUESTER_USER, &h2), CKR_OK);
    CHECK(w, "flush", t->x->DEP11_FlushCache(NULL), CKR_OK);
    CHECK(w, "v1 superseded", itest_policy_unwrap(t, s, &v1, DEP11_REQUESTER_USER, &h1),
          CKR_DEP11_BLOB_SUPERSEDED);
    CHECK(w, "destroy", t->f->C_DestroyObject(s, pol), CKR_OK);
    itest_blob_free(&v1);
    itest_blob_free(&v2);
    if (w->errors == before)
        w->ops++;
}

static void *writer(void *arg)
{
    struct worker *w = arg;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_SLOT_ID slot = 0;

    if (itest_slot(w->g->t, "contoso", &slot) != CKR_OK ||
        w->g->t->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) !=
            CKR_OK) {
        w->errors++;
        return NULL;
    }
    for (int r = 0; r < WRITE_ROUNDS && w->errors == 0; r++)
        write_round(w, s);
    if (w->g->t->f->C_CloseSession(s) != CKR_OK)
        w->errors++;
    return NULL;
}

static void test_provider_writes(void **state)
{
    struct itest *t = *state;
    CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
    struct shared g;
    struct worker w[8];
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    double start = now();

    memset(&g, 0, sizeof g);
    memset(w, 0, sizeof w);
    g.t = t;
    assert_int_equal(t->f->C_Initialize(&args), CKR_OK);
    assert_int_equal(itest_session(t, "contoso", 1, &s), CKR_OK);
    assert_int_equal(itest_find(t, s, CKO_PRIVATE_KEY, "root1", &g.r1), CKR_OK);
    assert_int_equal(itest_find(t, s, CKO_PRIVATE_KEY, "root2", &g.r2), CKR_OK);
    for (int i = 0; i < 8; i++) {
        w[i].g = &g;
        w[i].id = i;
        assert_int_equal(pthread_create(&w[i].th, NULL, writer, &w[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        assert_int_equal(pthread_join(w[i].th, NULL), 0);
        g.ops += w[i].ops;
        g.errors += w[i].errors;
    }
    printf("provider writes: 8 threads: %lu policies rolled in %.1f s, %lu errors\n", g.ops,
           now() - start, g.errors);
    assert_int_equal(g.errors, 0);
    assert_int_equal(g.ops, 8 * WRITE_ROUNDS);
    assert_int_equal(t->f->C_Finalize(NULL), CKR_OK);
}

static void test_stress_null_init(void **state)
{
    stress(state, 0);
}

static void test_stress_os_locking(void **state)
{
    stress(state, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stress_null_init),
        cmocka_unit_test(test_stress_os_locking),
        cmocka_unit_test(test_provider_writes),
    };

    return cmocka_run_group_tests_name("threads", tests, group_setup, group_teardown);
}
