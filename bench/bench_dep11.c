/*
 * bench_dep11.c - the hot-path table of issue 15 in one run: each figure
 * through dep11 and directly (plain SoftHSM through a second copy of its
 * library, or OpenSSL in process), their ratio and the target. Needs a
 * world made by tests/integration/setup-tokens.sh and a configuration with
 * the policy-key cache on: run it through bench/run-bench. Figures, not
 * tests: nothing is asserted (a FAILED cell says a call failed).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "bench.h"
#include "itest.h"

#define KEYS_MANY 100000
#define SMALL 64

struct d11_ctx {
    struct itest *t;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE policy, mailbox, site, aes;
    struct itest_blob blob;             /* a policy under root1 and root2 */
    struct itest_blob child;            /* the mailbox key under the policy */
    CK_BYTE policy_id[16];              /* blob's policy id */
    CK_BYTE_PTR flush_id;               /* what a cold unwrap flushes: NULL = all */
    CK_DEP11_CHUNK_PARAMS chunk;
    unsigned char *in, *out;
};

static int d11_open_close(void *p, size_t n)
{
    struct d11_ctx *c = p;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;

    (void)n;
    if (c->t->f->C_OpenSession(c->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) !=
        CKR_OK)
        return 1;
    return c->t->f->C_CloseSession(s) != CKR_OK;
}

static int d11_session_info(void *p, size_t n)
{
    struct d11_ctx *c = p;
    CK_SESSION_INFO info;

    (void)n;
    return c->t->f->C_GetSessionInfo(c->s, &info) != CKR_OK;
}

static int d11_seal(void *p, size_t n)
{
    struct d11_ctx *c = p;
    CK_MECHANISM m = { CKM_DEP11_AEAD, NULL, 0 };
    CK_ULONG out_len = n + DEP11_AEAD_OVERHEAD;

    if (c->t->f->C_EncryptInit(c->s, &m, c->mailbox) != CKR_OK)
        return 1;
    return c->t->f->C_Encrypt(c->s, c->in, n, c->out, &out_len) != CKR_OK;
}

static int d11_chunk_seal(void *p, size_t n)
{
    struct d11_ctx *c = p;
    CK_MECHANISM m = { CKM_DEP11_CHUNK_AEAD, &c->chunk, sizeof c->chunk };
    CK_ULONG out_len = n + DEP11_AEAD_OVERHEAD;

    if (c->t->f->C_EncryptInit(c->s, &m, c->site) != CKR_OK)
        return 1;
    return c->t->f->C_Encrypt(c->s, c->in, n, c->out, &out_len) != CKR_OK;
}

/* Pass-through: CKM_AES_GCM on a backend key, forwarded by dep11. */
static int d11_pt_gcm(void *p, size_t n)
{
    struct d11_ctx *c = p;
    unsigned char iv[12];
    CK_GCM_PARAMS gp = { iv, sizeof iv, 96, NULL, 0, 128 };
    CK_MECHANISM m = { CKM_AES_GCM, &gp, sizeof gp };
    CK_ULONG out_len = n + 16;

    if (RAND_bytes(iv, sizeof iv) != 1 || c->t->f->C_EncryptInit(c->s, &m, c->aes) != CKR_OK)
        return 1;
    return c->t->f->C_Encrypt(c->s, c->in, n, c->out, &out_len) != CKR_OK;
}

/* POLICY_UNWRAP (served from the policy-key cache after the first). */
static int d11_unwrap(void *p, size_t n)
{
    struct d11_ctx *c = p;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    (void)n;
    if (itest_policy_unwrap(c->t, c->s, &c->blob, 0, &h) != CKR_OK)
        return 1;
    return c->t->f->C_DestroyObject(c->s, h) != CKR_OK;
}

/* POLICY_UNWRAP cold: the policy-key cache flushed first (all of it, or
 * the policy's entries only: a miss while the process still remembers the
 * policy's provider-token facts and its root's handle, as after another
 * requester class, an entry pushed out of a full cache or a flush of the one
 * policy; an expired entry's facts expired with it). */
static int d11_unwrap_cold(void *p, size_t n)
{
    struct d11_ctx *c = p;

    if (c->t->x->DEP11_FlushCache(c->flush_id) != CKR_OK)
        return 1;
    return d11_unwrap(p, n);
}

/* CHILD_UNWRAP of the mailbox key under the policy key, then its destroy. */
static int d11_child_unwrap(void *p, size_t n)
{
    static const CK_BYTE owner[16] = "bench-owner-0001";
    struct d11_ctx *c = p;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    (void)n;
    if (itest_child_unwrap(c->t, c->s, c->policy, &c->child, owner, &h) != CKR_OK)
        return 1;
    return c->t->f->C_DestroyObject(c->s, h) != CKR_OK;
}

static int d11_derive_destroy(struct d11_ctx *c, unsigned long i)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    if (itest_chunk_derive(c->t, c->s, c->site, c->chunk.fileId, i, &h) != CKR_OK)
        return 1;
    return c->t->f->C_DestroyObject(c->s, h) != CKR_OK;
}

static int d11_setup(struct d11_ctx *c)
{
    static const CK_BYTE owner[16] = "bench-owner-0001";
    CK_DEP11_POLICY_INFO info;
    CK_OBJECT_HANDLE r1, r2;
    CK_ULONG len = 32;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_MECHANISM kg = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_ATTRIBUTE at[] = { { CKA_VALUE_LEN, &len, sizeof len }, { CKA_TOKEN, &no, 1 },
                          { CKA_ENCRYPT, &yes, 1 } };

    memset(&c->chunk, 0x5a, sizeof c->chunk.fileId);
    c->chunk.ulChunkIndex = 7;
    if ((c->t = itest_open()) == NULL || itest_init(c->t) != CKR_OK ||
        itest_slot(c->t, "contoso", &c->slot) != CKR_OK ||
        itest_session(c->t, "contoso", 1, &c->s) != CKR_OK ||
        itest_find(c->t, c->s, CKO_PRIVATE_KEY, "root1", &r1) != CKR_OK ||
        itest_find(c->t, c->s, CKO_PRIVATE_KEY, "root2", &r2) != CKR_OK ||
        itest_keygen(c->t, c->s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, &c->policy) !=
            CKR_OK ||
        itest_policy_wrap(c->t, c->s, c->policy, r1, r2, 0, &c->blob) != CKR_OK ||
        itest_keygen(c->t, c->s, DEP11_ROLE_MAILBOX, 0, &c->mailbox) != CKR_OK ||
        itest_child_wrap(c->t, c->s, c->policy, c->mailbox, owner, &c->child) != CKR_OK ||
        itest_keygen(c->t, c->s, DEP11_ROLE_SITE, 0, &c->site) != CKR_OK ||
        c->t->f->C_GenerateKey(c->s, &kg, at, 3, &c->aes) != CKR_OK ||
        c->t->x->DEP11_GetPolicyInfo(c->blob.p, c->blob.len, &info) != CKR_OK)
        return -1;
    memcpy(c->policy_id, info.policyId, sizeof c->policy_id);
    c->flush_id = NULL;
    /* The first unwrap of a blob commits its version (a write to the
     * provider token): done here, so that "cold" is a cache miss only. */
    return d11_unwrap(c, 0) != 0 ? -1 : 0;
}

/* --- threads: one session each, same keys ---------------------------------- */
struct thread_arg {
    struct d11_ctx c;
    double deadline;
    unsigned long ops;
    int failed;
    unsigned char in[SMALL], out[SMALL + 64];
};

static void *thread_main(void *p)
{
    struct thread_arg *a = p;

    while (bench_now() < a->deadline) {
        if (d11_seal(&a->c, SMALL) != 0) {
            a->failed = 1;
            break;
        }
        a->ops++;
    }
    return NULL;
}

/* CKM_DEP11_AEAD on @nt threads, each on its own session: total ops/s of
 * one round of bench_round_seconds(), or -1. */
static double threads_round(const struct d11_ctx *d, int nt)
{
    struct thread_arg a[2];
    pthread_t th[2];
    double start = 0, total = 0;
    int failed = 0;

    memset(a, 0, sizeof a);
    for (int i = 0; i < nt; i++) {
        a[i].c = *d;
        a[i].c.in = a[i].in;
        a[i].c.out = a[i].out;
        if (itest_session(d->t, "contoso", 0, &a[i].c.s) != CKR_OK)
            return -1;
    }
    start = bench_now();
    for (int i = 0; i < nt; i++) {
        a[i].deadline = start + bench_round_seconds();
        pthread_create(&th[i], NULL, thread_main, &a[i]);
    }
    for (int i = 0; i < nt; i++) {
        pthread_join(th[i], NULL);
        total += a[i].ops;
        failed |= a[i].failed;
        d->t->f->C_CloseSession(a[i].c.s);
    }
    return failed ? -1 : total / (bench_now() - start);
}

static double threads_speedup(const struct d11_ctx *d)
{
    double one = 0, two = 0;

    for (int r = 0; r < bench_rounds(); r++) {
        double x = threads_round(d, 1), y = threads_round(d, 2);
        if (x < 0 || y < 0)
            return -1;
        one = x > one ? x : one;
        two = y > two ? y : two;
    }
    return two / one;
}

/* --- the table ---------------------------------------------------------------- */
/* BENCH_ONLY=WORD runs only the rows whose figure contains WORD (profiling). */
static int wanted(const char *figure)
{
    const char *only = getenv("BENCH_ONLY");

    return only == NULL || strstr(figure, only) != NULL;
}

static void row_pair(const char *figure, bench_fn a, void *actx, bench_fn b, void *bctx,
                     size_t bytes, const char *target)
{
    double ra = 0, rb = 0;

    if (!wanted(figure))
        return;
    bench_pair(a, actx, b, bctx, bytes, &ra, &rb);
    bench_row(figure, ra, rb, "ops/s", target);
}

/* The floor (a third copy of SoftHSM holding a provider login and the MAC
 * key): NULL when run-bench gave none. */
static struct bench_hsm *floor_hsm;

static void rows_data(struct d11_ctx *d, struct bench_hsm *h, struct bench_ossl *o)
{
    static const struct { size_t n; const char *name, *target; } chunk[] = {
        { 4096, "CKM_DEP11_CHUNK_AEAD 4 KiB / OpenSSL KBKDF+GCM", ">= 0.90" },
        { 65536, "CKM_DEP11_CHUNK_AEAD 64 KiB / OpenSSL KBKDF+GCM", ">= 0.95" },
        { 1 << 20, "CKM_DEP11_CHUNK_AEAD 1 MiB / OpenSSL KBKDF+GCM", ">= 0.99" },
    };

    row_pair("C_OpenSession + C_CloseSession / SoftHSM", d11_open_close, d,
             bench_hsm_open_close, h, 0, ">= 0.90");
    if (floor_hsm != NULL)
        row_pair("open + close / the floor (SoftHSM, provider login)", d11_open_close, d,
                 bench_hsm_open_close, floor_hsm, 0, "-");
    row_pair("C_GetSessionInfo / SoftHSM", d11_session_info, d, bench_hsm_session_info, h, 0,
             ">= 0.95");
    row_pair("pass-through C_Encrypt AES-GCM 4 KiB / SoftHSM", d11_pt_gcm, d, bench_hsm_gcm, h,
             4096, ">= 0.98");
    for (size_t i = 0; i < sizeof chunk / sizeof chunk[0]; i++)
        row_pair(chunk[i].name, d11_chunk_seal, d, bench_ossl_chunk_seal, o, chunk[i].n,
                 chunk[i].target);
    if (wanted("CHILD_UNWRAP"))
        bench_row("CKM_DEP11_CHILD_UNWRAP + C_DestroyObject (no direct)",
                  bench_rate(d11_child_unwrap, d, 0), 0, "ops/s", "-");
}

/* What an uncached unwrap cannot avoid on this HSM: the calls DESIGN
 * requires, made directly (bench_hsm_unwrap_floor), against the decrypt
 * alone; then dep11's miss against that floor. */
static void rows_unwrap_floor(struct d11_ctx *d, struct bench_hsm *h)
{
    double fl = 0, raw = 0, miss = 0, cold = 0;

    if (floor_hsm == NULL || !wanted("floor: POLICY_UNWRAP"))
        return;
    floor_hsm->mac_in = d->blob.p;
    floor_hsm->mac_len = d->blob.len - 32;
    strcpy(floor_hsm->state_app, "dep11-state-");
    for (int i = 0; i < 16; i++)
        sprintf(floor_hsm->state_app + 12 + 2 * i, "%02x", d->policy_id[i]);
    bench_pair(bench_hsm_unwrap_floor, floor_hsm, bench_hsm_oaep, h, 0, &fl, &raw);
    bench_row("floor: POLICY_UNWRAP's HSM calls / the decrypt", fl, raw, "ops/s", "-");
    d->flush_id = d->policy_id;
    bench_pair(d11_unwrap_cold, d, bench_hsm_unwrap_floor, floor_hsm, 0, &miss, &fl);
    d->flush_id = NULL;
    bench_row("POLICY_UNWRAP miss / the floor: POLICY_UNWRAP's calls", miss, fl, "ops/s", "-");
    bench_pair(bench_hsm_unwrap_floor_cold, floor_hsm, bench_hsm_oaep, h, 0, &fl, &raw);
    bench_row("floor: cold POLICY_UNWRAP's HSM calls / the decrypt", fl, raw, "ops/s", "-");
    bench_pair(d11_unwrap_cold, d, bench_hsm_unwrap_floor_cold, floor_hsm, 0, &cold, &fl);
    bench_row("cold POLICY_UNWRAP / the floor: cold POLICY_UNWRAP's calls", cold, fl, "ops/s",
              "-");
}

static void rows_unwrap(struct d11_ctx *d, struct bench_hsm *h)
{
    double cold = 0, raw = 0, hot = 0, miss = 0;
    char what[64];

    if (wanted("POLICY_UNWRAP miss, one policy flushed")) {
        d->flush_id = d->policy_id;
        bench_pair(d11_unwrap_cold, d, bench_hsm_oaep, h, 0, &miss, &raw);
        d->flush_id = NULL;
        bench_row("POLICY_UNWRAP miss, one policy flushed / SoftHSM RSA-3072 OAEP decrypt",
                  miss, raw, "ops/s", ">= 0.95");
    }
    rows_unwrap_floor(d, h);
    if (!wanted("cold POLICY_UNWRAP threads"))
        return;
    bench_pair(d11_unwrap_cold, d, bench_hsm_oaep, h, 0, &cold, &raw);
    bench_row("cold POLICY_UNWRAP / SoftHSM RSA-3072 OAEP decrypt", cold, raw, "ops/s",
              ">= 0.95");
    hot = bench_rate(d11_unwrap, d, 0);
    snprintf(what, sizeof what, "%.0f vs %.0f ops/s", hot, cold);
    bench_row_ratio("cached POLICY_UNWRAP / cold", hot < 0 || cold <= 0 ? -1 : hot / cold, what,
                    ">= 1780");
    snprintf(what, sizeof what, "CKM_DEP11_AEAD %d B", SMALL);
    bench_row_ratio("2 threads / 1 thread (own sessions, same key)", threads_speedup(d), what,
                    ">= 1.84");
}

/* RSS after @cycles chunk-key derive/destroy cycles against after a tenth
 * of them: flat memory is 1.00. */
static void row_rss_cycles(struct d11_ctx *d)
{
    const char *env = getenv("BENCH_CYCLES");
    unsigned long n = env != NULL ? strtoul(env, NULL, 10) : 1000000, i = 0;
    long early = 0, late = 0;
    char what[80];

    if (!wanted("RSS cycles"))
        return;
    for (i = 0; i < n; i++) {
        if (d11_derive_destroy(d, i) != 0)
            break;
        if (i + 1 == n / 10)
            early = bench_rss();
    }
    late = bench_rss();
    snprintf(what, sizeof what, "%ld KiB after %lu, %ld KiB", late / 1024, n, early / 1024);
    bench_row_ratio("RSS over derive/destroy cycles (last / first tenth)",
                    i < n || early <= 0 ? -1 : (double)late / (double)early, what, "1.00");
}

/* Open + close with KEYS_MANY live module keys (made on the bench's own
 * session) against none, and what one key costs in RSS. */
static void rows_many_keys(struct d11_ctx *d)
{
    double none = 0, many = 0;
    long before = 0, after = 0;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    char what[64];
    int i = 0;

    if (!wanted("100,000 live module keys"))
        return;
    none = bench_rate(d11_open_close, d, 0);
    before = bench_rss();
    for (i = 0; i < KEYS_MANY; i++)
        if (itest_keygen(d->t, d->s, DEP11_ROLE_MAILBOX, 0, &h) != CKR_OK)
            break;
    after = bench_rss();
    many = i < KEYS_MANY ? -1 : bench_rate(d11_open_close, d, 0);
    bench_row("open + close, 100,000 live module keys / none", many, none, "ops/s", ">= 0.5");
    snprintf(what, sizeof what, "%.0f bytes per key", (double)(after - before) / KEYS_MANY);
    bench_row_ratio("RSS per live module key / 474 bytes", (double)(after - before) / KEYS_MANY / 474,
                    what, "<= 1.00");
}

int main(void)
{
    struct d11_ctx d;
    struct bench_hsm h;
    struct bench_ossl o;
    unsigned char *in = calloc(1, (1 << 20) + 64), *out = calloc(1, (1 << 20) + 64);

    memset(&d, 0, sizeof d);
    memset(&h, 0, sizeof h);
    memset(&o, 0, sizeof o);
    if (in == NULL || out == NULL || d11_setup(&d) != 0 ||
        bench_hsm_setup(&h, "contoso", "1234") != 0 || bench_ossl_setup(&o) != 0) {
        fprintf(stderr, "bench: set-up failed\n");
        return 1;
    }
    if (getenv("BENCH_FLOOR_MODULE") != NULL && getenv("BENCH_FLOOR_MODULE")[0] != 0) {
        static struct bench_hsm fl;
        char pin_file[4096];

        fl.module = getenv("BENCH_FLOOR_MODULE");
        snprintf(pin_file, sizeof pin_file, "%s/provider.pin", getenv("ITEST_WORLD"));
        if (bench_hsm_setup(&fl, "contoso", "1234") != 0 ||
            bench_hsm_provider(&fl, "dep11-provider", pin_file) != 0)
            return 1;
        floor_hsm = &fl;
    }
    memcpy(o.file_id, d.chunk.fileId, 16);
    o.index = d.chunk.ulChunkIndex;
    d.in = o.in = h.in = in;
    d.out = o.out = h.out = out;
    printf("best of %d rounds of %.2f s each, A and B alternating\n\n", bench_rounds(),
           bench_round_seconds());
    printf("| %-52s | %14s | %14s | %8s | %-8s |\n", "figure", "through dep11", "direct", "ratio",
           "target");
    printf("|%s|%s|%s|%s|%s|\n", "------------------------------------------------------",
           "----------------", "----------------", "----------", "----------");
    fflush(stdout);
    rows_data(&d, &h, &o);
    rows_unwrap(&d, &h);
    row_rss_cycles(&d);
    rows_many_keys(&d);
    bench_ossl_free(&o);
    itest_blob_free(&d.blob);
    itest_blob_free(&d.child);
    itest_finalize(d.t);
    itest_close(d.t);
    free(in);
    free(out);
    return 0;
}
