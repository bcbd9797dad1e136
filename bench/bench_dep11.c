/*
 * bench_dep11.c - throughput and latency of dep11's data path and policy
 * unwrap, compared in the same run with OpenSSL (EVP AES-256-GCM in this
 * process) and with plain SoftHSM (CKM_AES_GCM and RSA-OAEP through the
 * SoftHSM module loaded directly). Needs a world made by
 * tests/integration/setup-tokens.sh: run it through bench/run-bench.
 * Prints a table; asserts nothing (figures are not tests).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "itest.h"

#define SECONDS_PER_CASE 1.0

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One measured case: calls @fn until SECONDS_PER_CASE have passed. */
struct bench_case {
    const char *name;
    size_t bytes;                       /* per operation; 0 = latency only */
    int (*fn)(void *ctx, size_t bytes); /* 0 = ok */
    void *ctx;
};

static void run_case(const struct bench_case *c)
{
    double start = now(), elapsed = 0;
    unsigned long ops = 0;

    do {
        if (c->fn(c->ctx, c->bytes) != 0) {
            printf("%-44s %8s  FAILED\n", c->name, "");
            return;
        }
        ops++;
        elapsed = now() - start;
    } while (elapsed < SECONDS_PER_CASE);
    if (c->bytes > 0)
        printf("%-44s %8zu  %10.0f ops/s  %9.1f MB/s\n", c->name, c->bytes,
               ops / elapsed, ops * (double)c->bytes / elapsed / 1e6);
    else
        printf("%-44s %8s  %10.0f ops/s  %9.3f ms/op\n", c->name, "-",
               ops / elapsed, elapsed * 1e3 / ops);
}

/* --- dep11 ------------------------------------------------------------- */
struct dep11_ctx {
    struct itest *t;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE key;
    CK_OBJECT_HANDLE aes;       /* a backend AES-256 key made through dep11 */
    struct itest_blob blob;
    unsigned char *in, *out;
};

static int dep11_seal(void *p, size_t n)
{
    struct dep11_ctx *c = p;
    CK_MECHANISM m = { CKM_DEP11_AEAD, NULL, 0 };
    CK_ULONG out_len = n + DEP11_AEAD_OVERHEAD;

    if (c->t->f->C_EncryptInit(c->s, &m, c->key) != CKR_OK)
        return 1;
    return c->t->f->C_Encrypt(c->s, c->in, n, c->out, &out_len) != CKR_OK;
}

/* Pass-through: CKM_AES_GCM on a backend key, forwarded by dep11. */
static int dep11_pt_seal(void *p, size_t n)
{
    struct dep11_ctx *c = p;
    unsigned char iv[12];
    CK_GCM_PARAMS gp = { iv, sizeof iv, 96, NULL, 0, 128 };
    CK_MECHANISM m = { CKM_AES_GCM, &gp, sizeof gp };
    CK_ULONG out_len = n + 16;

    if (RAND_bytes(iv, sizeof iv) != 1 ||
        c->t->f->C_EncryptInit(c->s, &m, c->aes) != CKR_OK)
        return 1;
    return c->t->f->C_Encrypt(c->s, c->in, n, c->out, &out_len) != CKR_OK;
}

static int dep11_unwrap(void *p, size_t n)
{
    struct dep11_ctx *c = p;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    (void)n;
    if (itest_policy_unwrap(c->t, c->s, &c->blob, 0, &h) != CKR_OK)
        return 1;
    return c->t->f->C_DestroyObject(c->s, h) != CKR_OK;
}

/* --- threads: one session each, same keys ------------------------------ */
#define BENCH_THREADS 4
#define BENCH_SMALL 64

struct thread_arg {
    struct dep11_ctx c;
    int (*fn)(void *ctx, size_t bytes);
    unsigned long ops;
    int failed;
    unsigned char in[BENCH_SMALL], out[BENCH_SMALL + 64];
};

static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    double start = now();

    do {
        if (a->fn(&a->c, BENCH_SMALL) != 0) {
            a->failed = 1;
            break;
        }
        a->ops++;
    } while (now() - start < SECONDS_PER_CASE);
    return NULL;
}

/* @fn on @nt threads at once, each on its own session of @d's token (the
 * keys are @d's: module-side keys and session objects are visible to every
 * session of the application). Prints the total rate. */
static void run_threads(const char *name, int (*fn)(void *, size_t),
                        const struct dep11_ctx *d, int nt)
{
    struct thread_arg a[BENCH_THREADS];
    pthread_t th[BENCH_THREADS];
    unsigned long total = 0;
    double start;
    int i, failed = 0;

    memset(a, 0, sizeof a);
    for (i = 0; i < nt; i++) {
        a[i].c = *d;
        a[i].fn = fn;
        a[i].c.in = a[i].in;
        a[i].c.out = a[i].out;
        if (itest_session(d->t, "contoso", 0, &a[i].c.s) != CKR_OK) {
            printf("%-44s %8s  FAILED (session)\n", name, "");
            return;
        }
    }
    start = now();
    for (i = 0; i < nt; i++)
        pthread_create(&th[i], NULL, thread_main, &a[i]);
    for (i = 0; i < nt; i++) {
        pthread_join(th[i], NULL);
        total += a[i].ops;
        failed |= a[i].failed;
        d->t->f->C_CloseSession(a[i].c.s);
    }
    if (failed)
        printf("%-44s %8s  FAILED\n", name, "");
    else
        printf("%-44s %8d  %10.0f ops/s  (%d threads)\n", name, BENCH_SMALL,
               total / (now() - start), nt);
}

/* --- OpenSSL ------------------------------------------------------------ */
struct ossl_ctx {
    EVP_CIPHER_CTX *ctx;
    unsigned char key[32];
    unsigned char *in, *out;
};

static int ossl_seal(void *p, size_t n)
{
    struct ossl_ctx *c = p;
    unsigned char iv[12], tag[16];
    int len = 0;

    if (RAND_bytes(iv, sizeof iv) != 1 ||
        EVP_EncryptInit_ex(c->ctx, EVP_aes_256_gcm(), NULL, c->key, iv) != 1 ||
        EVP_EncryptUpdate(c->ctx, c->out, &len, c->in, (int)n) != 1 ||
        EVP_EncryptFinal_ex(c->ctx, c->out + len, &len) != 1)
        return 1;
    return EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1;
}

/* --- plain SoftHSM ------------------------------------------------------ */
struct hsm_ctx {
    CK_FUNCTION_LIST_PTR f;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE aes, rsa_priv;
    unsigned char ct[512];
    CK_ULONG ct_len;
    unsigned char *in, *out;
};

static int hsm_seal(void *p, size_t n)
{
    struct hsm_ctx *c = p;
    unsigned char iv[12];
    CK_GCM_PARAMS gp = { iv, sizeof iv, 96, NULL, 0, 128 };
    CK_MECHANISM m = { CKM_AES_GCM, &gp, sizeof gp };
    CK_ULONG out_len = n + 16;

    if (RAND_bytes(iv, sizeof iv) != 1 ||
        c->f->C_EncryptInit(c->s, &m, c->aes) != CKR_OK)
        return 1;
    return c->f->C_Encrypt(c->s, c->in, n, c->out, &out_len) != CKR_OK;
}

static int hsm_oaep(void *p, size_t n)
{
    struct hsm_ctx *c = p;
    CK_RSA_PKCS_OAEP_PARAMS op = { CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0 };
    CK_MECHANISM m = { CKM_RSA_PKCS_OAEP, &op, sizeof op };
    unsigned char pt[512];
    CK_ULONG pt_len = sizeof pt;

    (void)n;
    if (c->f->C_DecryptInit(c->s, &m, c->rsa_priv) != CKR_OK)
        return 1;
    return c->f->C_Decrypt(c->s, c->ct, c->ct_len, pt, &pt_len) != CKR_OK;
}

/* Loads SoftHSM directly, logs in to fabrikam, makes an AES-256 session
 * key and an RSA-3072 session key pair with one OAEP ciphertext. */
static int hsm_setup(struct hsm_ctx *c, const char *pin)
{
    CK_RV (*gfl)(CK_FUNCTION_LIST_PTR_PTR);
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16, i, bits = 3072, len = 32;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_TOKEN_INFO ti;
    CK_MECHANISM kg = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_MECHANISM kpg = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
    CK_ATTRIBUTE at[] = { { CKA_VALUE_LEN, &len, sizeof len }, { CKA_TOKEN, &no, 1 },
                          { CKA_ENCRYPT, &yes, 1 } };
    CK_ATTRIBUTE pub[] = { { CKA_MODULUS_BITS, &bits, sizeof bits }, { CKA_TOKEN, &no, 1 },
                           { CKA_ENCRYPT, &yes, 1 } };
    CK_ATTRIBUTE priv[] = { { CKA_TOKEN, &no, 1 }, { CKA_DECRYPT, &yes, 1 } };
    CK_RSA_PKCS_OAEP_PARAMS op = { CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0 };
    CK_MECHANISM om = { CKM_RSA_PKCS_OAEP, &op, sizeof op };
    CK_OBJECT_HANDLE rsa_pub;
    unsigned char pt[32] = { 1 };
    void *dl = dlopen(getenv("SOFTHSM_MODULE"), RTLD_NOW);
    CK_RV rv;

    if (dl == NULL || (gfl = (CK_RV (*)(CK_FUNCTION_LIST_PTR_PTR))dlsym(dl, "C_GetFunctionList")) == NULL ||
        gfl(&c->f) != CKR_OK)
        return 1;
    /* dep11 has initialized the same SoftHSM in this process already. */
    rv = c->f->C_Initialize(NULL);
    if ((rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) ||
        c->f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
        return 1;
    for (i = 0; i < n; i++)
        if (c->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
            memcmp(ti.label, "fabrikam ", 9) == 0)
            break;
    c->ct_len = sizeof c->ct;
    if (i == n || c->f->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &c->s) != CKR_OK ||
        c->f->C_Login(c->s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)) != CKR_OK ||
        c->f->C_GenerateKey(c->s, &kg, at, 3, &c->aes) != CKR_OK ||
        c->f->C_GenerateKeyPair(c->s, &kpg, pub, 3, priv, 2, &rsa_pub, &c->rsa_priv) != CKR_OK ||
        c->f->C_EncryptInit(c->s, &om, rsa_pub) != CKR_OK ||
        c->f->C_Encrypt(c->s, pt, sizeof pt, c->ct, &c->ct_len) != CKR_OK)
        return 1;
    return 0;
}

/* Opens dep11 on contoso, makes a customer-managed policy under root1/root2
 * and a mailbox key. */
static int dep11_setup(struct dep11_ctx *c)
{
    CK_OBJECT_HANDLE pol, r1, r2;
    CK_ULONG len = 32;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_MECHANISM kg = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_ATTRIBUTE at[] = { { CKA_VALUE_LEN, &len, sizeof len }, { CKA_TOKEN, &no, 1 },
                          { CKA_ENCRYPT, &yes, 1 } };

    if ((c->t = itest_open()) == NULL || itest_init(c->t) != CKR_OK ||
        itest_session(c->t, "contoso", 1, &c->s) != CKR_OK ||
        itest_find(c->t, c->s, CKO_PRIVATE_KEY, "root1", &r1) != CKR_OK ||
        itest_find(c->t, c->s, CKO_PRIVATE_KEY, "root2", &r2) != CKR_OK ||
        itest_keygen(c->t, c->s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, &pol) != CKR_OK ||
        itest_policy_wrap(c->t, c->s, pol, r1, r2, 0, &c->blob) != CKR_OK ||
        itest_keygen(c->t, c->s, DEP11_ROLE_MAILBOX, 0, &c->key) != CKR_OK ||
        c->t->f->C_GenerateKey(c->s, &kg, at, 3, &c->aes) != CKR_OK)
        return 1;
    return 0;
}

int main(void)
{
    static const size_t sizes[] = { 64, 4096, 1 << 20 };
    struct dep11_ctx d = { 0 };
    struct ossl_ctx o = { 0 };
    struct hsm_ctx h = { 0 };
    unsigned char *in = calloc(1, (1 << 20) + 64), *out = calloc(1, (1 << 20) + 64);
    char name[64];
    size_t i;

    if (in == NULL || out == NULL || dep11_setup(&d) != 0 || hsm_setup(&h, "1234") != 0 ||
        (o.ctx = EVP_CIPHER_CTX_new()) == NULL || RAND_bytes(o.key, 32) != 1) {
        fprintf(stderr, "bench: set-up failed\n");
        return 1;
    }
    d.in = o.in = h.in = in;
    d.out = o.out = h.out = out;
    printf("%-44s %8s  %s\n", "case", "bytes", "result");
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        struct bench_case cases[] = {
            { "OpenSSL EVP AES-256-GCM seal", sizes[i], ossl_seal, &o },
            { "dep11 CKM_DEP11_AEAD seal (init+encrypt)", sizes[i], dep11_seal, &d },
            { "SoftHSM CKM_AES_GCM seal (init+encrypt)", sizes[i], hsm_seal, &h },
            { "dep11 pass-through CKM_AES_GCM seal", sizes[i], dep11_pt_seal, &d },
        };
        for (size_t j = 0; j < sizeof cases / sizeof cases[0]; j++)
            run_case(&cases[j]);
    }
    for (int nt = 2; nt <= BENCH_THREADS; nt *= 2) {
        run_threads("dep11 CKM_DEP11_AEAD seal, threads", dep11_seal, &d, nt);
        run_threads("dep11 pass-through CKM_AES_GCM seal, threads", dep11_pt_seal, &d, nt);
    }
    snprintf(name, sizeof name, "SoftHSM RSA-3072 OAEP decrypt");
    run_case(&(struct bench_case){ name, 0, hsm_oaep, &h });
    run_case(&(struct bench_case){ "dep11 POLICY_UNWRAP (cache as configured)", 0,
                                   dep11_unwrap, &d });
    EVP_CIPHER_CTX_free(o.ctx);
    free(in);
    free(out);
    return 0;
}
