/*
 * bench_direct.c - the reference sides of the bench table and its
 * measuring helpers (bench.h): plain SoftHSM through a second copy of its
 * library (dlopen of another file gives another instance: no state shared
 * with the SoftHSM under dep11), and OpenSSL in process.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "bench.h"
#include "dep11-provider.h"

double bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double env_double(const char *name, double dflt)
{
    const char *v = getenv(name);
    double d = v != NULL ? atof(v) : 0;

    return d > 0 ? d : dflt;
}

double bench_round_seconds(void) { return env_double("BENCH_SECONDS", 0.25); }
int bench_rounds(void) { return (int)env_double("BENCH_ROUNDS", 5); }

/* Calls @fn for one round; its rate, or -1 on a failure. */
static double one_round(bench_fn fn, void *ctx, size_t bytes)
{
    double start = bench_now(), elapsed = 0, limit = bench_round_seconds();
    unsigned long ops = 0;

    do {
        if (fn(ctx, bytes) != 0)
            return -1;
        ops++;
        elapsed = bench_now() - start;
    } while (elapsed < limit);
    return ops / elapsed;
}

double bench_rate(bench_fn fn, void *ctx, size_t bytes)
{
    double best = 0;

    for (int r = 0; r < bench_rounds(); r++) {
        double x = one_round(fn, ctx, bytes);
        if (x < 0)
            return -1;
        best = x > best ? x : best;
    }
    return best;
}

void bench_pair(bench_fn a, void *actx, bench_fn b, void *bctx, size_t bytes,
                double *ra, double *rb)
{
    *ra = *rb = 0;
    for (int r = 0; r < bench_rounds(); r++) {
        double x = *ra >= 0 ? one_round(a, actx, bytes) : -1;
        double y = *rb >= 0 ? one_round(b, bctx, bytes) : -1;
        *ra = x < 0 ? -1 : x > *ra ? x : *ra;
        *rb = y < 0 ? -1 : y > *rb ? y : *rb;
    }
}

void bench_row(const char *figure, double dep11, double direct, const char *unit,
               const char *target)
{
    if (dep11 < 0 || direct < 0) {
        printf("| %-52s | %14s | %14s | %8s | %-8s |\n", figure, "FAILED", "", "", target);
        return;
    }
    if (direct == 0) /* a figure with no direct counterpart */
        printf("| %-52s | %8.0f %-5s | %14s | %8s | %-8s |\n", figure, dep11, unit, "-", "-",
               target);
    else
        printf("| %-52s | %8.0f %-5s | %8.0f %-5s | %8.3f | %-8s |\n", figure, dep11, unit,
               direct, unit, dep11 / direct, target);
    fflush(stdout);
}

void bench_row_ratio(const char *figure, double ratio, const char *what, const char *target)
{
    if (ratio < 0)
        printf("| %-52s | %31s | %8s | %-8s |\n", figure, "FAILED", "", target);
    else
        printf("| %-52s | %31s | %8.3f | %-8s |\n", figure, what, ratio, target);
    fflush(stdout);
}

long bench_rss(void)
{
    long size = 0, rss = 0;
    FILE *fp = fopen("/proc/self/statm", "r");

    if (fp == NULL)
        return -1;
    if (fscanf(fp, "%ld %ld", &size, &rss) != 2)
        rss = -1;
    fclose(fp);
    return rss < 0 ? -1 : rss * sysconf(_SC_PAGESIZE);
}

/* --- plain SoftHSM ------------------------------------------------------- */
static int hsm_load(struct bench_hsm *h)
{
    const char *path = h->module != NULL ? h->module : getenv("BENCH_DIRECT_MODULE");
    CK_RV (*gfl)(CK_FUNCTION_LIST_PTR_PTR) = NULL;
    void *dl = path != NULL ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;

    if (dl == NULL) {
        fprintf(stderr, "bench: %s (a copy of SoftHSM) does not load\n",
                path != NULL ? path : "BENCH_DIRECT_MODULE");
        return -1;
    }
    /* As dep11 initializes its backend (CKF_OS_LOCKING_OK: SoftHSM then
     * locks for real, as any threaded consumer of it needs) */
    CK_C_INITIALIZE_ARGS args = { NULL, NULL, NULL, NULL, CKF_OS_LOCKING_OK, NULL };

    gfl = (CK_RV (*)(CK_FUNCTION_LIST_PTR_PTR))dlsym(dl, "C_GetFunctionList");
    if (gfl == NULL || gfl(&h->f) != CKR_OK ||
        h->f->C_Initialize(getenv("BENCH_DIRECT_NOLOCK") ? NULL : &args) != CKR_OK) {
        fprintf(stderr, "bench: the SoftHSM copy does not initialize (shared with dep11's?)\n");
        return -1;
    }
    return 0;
}

static int hsm_slot(struct bench_hsm *h, const char *token, CK_SLOT_ID *slot)
{
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    CK_TOKEN_INFO ti;
    size_t len = strlen(token);

    if (h->f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
        return -1;
    for (CK_ULONG i = 0; i < n; i++)
        if (h->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK && memcmp(ti.label, token, len) == 0 &&
            ti.label[len] == ' ') {
            *slot = slots[i];
            return 0;
        }
    return -1;
}

static CK_OBJECT_HANDLE hsm_find(struct bench_hsm *h, CK_OBJECT_CLASS cls, const char *label)
{
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls },
                         { CKA_LABEL, (void *)label, strlen(label) } };
    CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
    CK_ULONG n = 0;

    if (h->f->C_FindObjectsInit(h->s, t, 2) != CKR_OK)
        return CK_INVALID_HANDLE;
    if (h->f->C_FindObjects(h->s, &o, 1, &n) != CKR_OK || n != 1)
        o = CK_INVALID_HANDLE;
    (void)h->f->C_FindObjectsFinal(h->s);
    return o;
}

/* BENCH_DIRECT_WARM=1: the direct copy also holds what dep11's SoftHSM
 * holds beyond the consumer's session: a session on every token and a
 * handle for every object on them (SoftHSM's session and handle tables
 * are walked on every open and close). Shows how much of a figure is
 * SoftHSM's own state rather than dep11's code. */
static void hsm_warm(struct bench_hsm *h)
{
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16, got = 0;
    CK_OBJECT_HANDLE objs[64];
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;

    if (getenv("BENCH_DIRECT_WARM") == NULL || h->f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
        return;
    for (CK_ULONG i = 0; i < n; i++) {
        if (h->f->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
            continue;
        if (h->f->C_FindObjectsInit(s, NULL, 0) == CKR_OK) {
            (void)h->f->C_FindObjects(s, objs, 64, &got);
            (void)h->f->C_FindObjectsFinal(s);
        }
    }
}

int bench_hsm_setup(struct bench_hsm *h, const char *token, const char *pin)
{
    CK_ULONG len = 32;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_MECHANISM kg = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_ATTRIBUTE at[] = { { CKA_VALUE_LEN, &len, sizeof len }, { CKA_TOKEN, &no, 1 },
                          { CKA_ENCRYPT, &yes, 1 } };
    CK_RSA_PKCS_OAEP_PARAMS op = { CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0 };
    CK_MECHANISM om = { CKM_RSA_PKCS_OAEP, &op, sizeof op };
    CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
    unsigned char pt[32] = { 1 };

    if (hsm_load(h) != 0 || hsm_slot(h, token, &h->slot) != 0 ||
        h->f->C_OpenSession(h->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h->s) !=
            CKR_OK ||
        h->f->C_Login(h->s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)) != CKR_OK ||
        h->f->C_GenerateKey(h->s, &kg, at, 3, &h->aes) != CKR_OK)
        return -1;
    h->root_priv = hsm_find(h, CKO_PRIVATE_KEY, "root1");
    pub = hsm_find(h, CKO_PUBLIC_KEY, "root1");
    h->ct_len = sizeof h->ct;
    {
        CK_ATTRIBUTE id = { CKA_ID, h->root_id, sizeof h->root_id };

        if (h->root_priv != CK_INVALID_HANDLE &&
            h->f->C_GetAttributeValue(h->s, h->root_priv, &id, 1) == CKR_OK)
            h->root_id_len = id.ulValueLen;
    }
    if (h->root_priv == CK_INVALID_HANDLE || pub == CK_INVALID_HANDLE ||
        h->f->C_EncryptInit(h->s, &om, pub) != CKR_OK ||
        h->f->C_Encrypt(h->s, pt, sizeof pt, h->ct, &h->ct_len) != CKR_OK) {
        fprintf(stderr, "bench: no root1 key pair on %s\n", token);
        return -1;
    }
    hsm_warm(h);
    return 0;
}

int bench_hsm_open_close(void *p, size_t n)
{
    struct bench_hsm *h = p;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;

    (void)n;
    if (h->f->C_OpenSession(h->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) !=
        CKR_OK)
        return 1;
    return h->f->C_CloseSession(s) != CKR_OK;
}

int bench_hsm_session_info(void *p, size_t n)
{
    struct bench_hsm *h = p;
    CK_SESSION_INFO info;

    (void)n;
    return h->f->C_GetSessionInfo(h->s, &info) != CKR_OK;
}

int bench_hsm_gcm(void *p, size_t n)
{
    struct bench_hsm *h = p;
    unsigned char iv[12];
    CK_GCM_PARAMS gp = { iv, sizeof iv, 96, NULL, 0, 128 };
    CK_MECHANISM m = { CKM_AES_GCM, &gp, sizeof gp };
    CK_ULONG out_len = n + 16;

    if (RAND_bytes(iv, sizeof iv) != 1 || h->f->C_EncryptInit(h->s, &m, h->aes) != CKR_OK)
        return 1;
    return h->f->C_Encrypt(h->s, h->in, n, h->out, &out_len) != CKR_OK;
}

int bench_hsm_oaep(void *p, size_t n)
{
    struct bench_hsm *h = p;
    CK_RSA_PKCS_OAEP_PARAMS op = { CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0 };
    CK_MECHANISM m = { CKM_RSA_PKCS_OAEP, &op, sizeof op };
    unsigned char pt[512];
    CK_ULONG pt_len = sizeof pt;

    (void)n;
    if (h->f->C_DecryptInit(h->s, &m, h->root_priv) != CKR_OK)
        return 1;
    return h->f->C_Decrypt(h->s, h->ct, h->ct_len, pt, &pt_len) != CKR_OK;
}

/* --- the floor: SoftHSM holding what dep11 must hold ---------------------- */
int bench_hsm_provider(struct bench_hsm *h, const char *label, const char *pin_file)
{
    CK_SLOT_ID slot = 0;
    CK_ULONG got = 0;
    CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &secret, sizeof secret },
                         { CKA_LABEL, (void *)DEP11_PROVIDER_LABEL_MAC,
                           sizeof DEP11_PROVIDER_LABEL_MAC - 1 } };
    char pin[128] = "";
    FILE *fp = fopen(pin_file, "r");

    if (fp == NULL || fgets(pin, sizeof pin, fp) == NULL)
        pin[0] = 0;
    if (fp != NULL)
        fclose(fp);
    pin[strcspn(pin, "\r\n")] = 0;
    if (pin[0] == 0 || hsm_slot(h, label, &slot) != 0 ||
        h->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h->ps) !=
            CKR_OK ||
        h->f->C_Login(h->ps, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)) != CKR_OK) {
        fprintf(stderr, "bench: the floor cannot log in to %s\n", label);
        return -1;
    }
    /* what every uncached unwrap needs: the provider login and the MAC key
     * (dep11 holds more: bench/run-callgrind counts it) */
    if (h->f->C_FindObjectsInit(h->ps, t, 2) != CKR_OK ||
        h->f->C_FindObjects(h->ps, &h->mac, 1, &got) != CKR_OK || got != 1) {
        fprintf(stderr, "bench: no provider MAC key on %s\n", label);
        return -1;
    }
    (void)h->f->C_FindObjectsFinal(h->ps);
    return 0;
}

int bench_hsm_unwrap_floor(void *p, size_t n)
{
    struct bench_hsm *h = p;
    CK_MECHANISM m = { CKM_SHA256_HMAC, NULL, 0 };
    CK_TOKEN_INFO ti;
    unsigned char mac[32];
    CK_ULONG mac_len = sizeof mac;

    if (h->f->C_GetTokenInfo(h->slot, &ti) != CKR_OK ||
        h->f->C_SignInit(h->ps, &m, h->mac) != CKR_OK ||
        h->f->C_Sign(h->ps, (CK_BYTE_PTR)h->mac_in, h->mac_len, mac, &mac_len) != CKR_OK)
        return 1;
    return bench_hsm_oaep(p, n);
}

/* One search (@s, @t of @n attributes), all it finds fetched. 0 or 1. */
static int hsm_search(struct bench_hsm *h, CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG n)
{
    CK_OBJECT_HANDLE objs[16];
    CK_ULONG got = 0;

    if (h->f->C_FindObjectsInit(s, t, n) != CKR_OK)
        return 1;
    if (h->f->C_FindObjects(s, objs, 16, &got) != CKR_OK || got == 0) {
        (void)h->f->C_FindObjectsFinal(s);
        return 1;
    }
    return h->f->C_FindObjectsFinal(s) != CKR_OK;
}

int bench_hsm_unwrap_floor_cold(void *p, size_t n)
{
    struct bench_hsm *h = p;
    CK_OBJECT_CLASS data = CKO_DATA, priv = CKO_PRIVATE_KEY;
    CK_KEY_TYPE rsa = CKK_RSA;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE records[] = { { CKA_CLASS, &data, sizeof data },
                               { CKA_TOKEN, &yes, 1 },
                               { CKA_APPLICATION, h->state_app, strlen(h->state_app) } };
    CK_ATTRIBUTE root[] = { { CKA_CLASS, &priv, sizeof priv },
                            { CKA_KEY_TYPE, &rsa, sizeof rsa },
                            { CKA_ID, h->root_id, h->root_id_len } };

    if (hsm_search(h, h->ps, records, 3) != 0 || hsm_search(h, h->s, root, 3) != 0)
        return 1;
    return bench_hsm_unwrap_floor(p, n);
}

/* --- OpenSSL --------------------------------------------------------------- */
int bench_ossl_setup(struct bench_ossl *o)
{
    o->ctx = EVP_CIPHER_CTX_new();
    o->gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    o->kbkdf = EVP_KDF_fetch(NULL, "KBKDF", NULL);
    if (o->ctx == NULL || o->gcm == NULL || o->kbkdf == NULL ||
        RAND_bytes(o->site, sizeof o->site) != 1 || RAND_bytes(o->file_id, 16) != 1)
        return -1;
    return 0;
}

void bench_ossl_free(struct bench_ossl *o)
{
    EVP_CIPHER_CTX_free(o->ctx);
    EVP_CIPHER_free(o->gcm);
    EVP_KDF_free(o->kbkdf);
}

/* KBKDF counter mode, HMAC-SHA256, label "dep11 suite1 chunk key",
 * context file_id || uint64be(index): the chunk key. */
static int ossl_chunk_key(struct bench_ossl *o, const unsigned char ctx[24],
                          unsigned char key[32])
{
    static char label[] = "dep11 suite1 chunk key";
    EVP_KDF_CTX *k = EVP_KDF_CTX_new(o->kbkdf);
    OSSL_PARAM ps[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, (char *)"counter", 0),
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, (char *)"HMAC", 0),
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, o->site, 32),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, label, sizeof label - 1),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)ctx, 24),
        OSSL_PARAM_construct_end(),
    };
    int ok = k != NULL && EVP_KDF_derive(k, key, 32, ps) == 1;

    EVP_KDF_CTX_free(k);
    return ok ? 0 : -1;
}

int bench_ossl_chunk_seal(void *p, size_t n)
{
    struct bench_ossl *o = p;
    unsigned char aad[24], key[32], *iv = o->out;
    int len = 0, fin = 0;

    memcpy(aad, o->file_id, 16);
    for (int i = 0; i < 8; i++)
        aad[16 + i] = (unsigned char)(o->index >> (56 - 8 * i));
    if (ossl_chunk_key(o, aad, key) != 0 || RAND_bytes(iv, 12) != 1 ||
        EVP_EncryptInit_ex2(o->ctx, o->gcm, key, iv, NULL) != 1 ||
        EVP_EncryptUpdate(o->ctx, NULL, &len, aad, sizeof aad) != 1 ||
        EVP_EncryptUpdate(o->ctx, o->out + 12, &len, o->in, (int)n) != 1 ||
        EVP_EncryptFinal_ex(o->ctx, o->out + 12 + len, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(o->ctx, EVP_CTRL_GCM_GET_TAG, 16, o->out + 12 + n) != 1)
        return 1;
    OPENSSL_cleanse(key, sizeof key);
    return 0;
}
