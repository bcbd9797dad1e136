/*
 * test_cipher_reuse.c - the data path's parked ops: core/cipher.c,
 * core/session.c, hier/aead.c and crypto/gcm.c together over a fake backend
 * and fake objects with known key values. Many Init/Encrypt/Decrypt cycles
 * on one session across keys, mechanisms and directions, interleaved with
 * failing Inits, short buffers and bad tags, each result checked against
 * OpenSSL EVP computed here; and a steady stream allocates nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "core/core.h"
#include "core/internal.h"
#include "core/ops.h"
#include "crypto/suite1.h"
#include "hsm/backend.h"
#include "hsm/call.h"
#include "hsm/provider.h"
#include "../gcm_params.h"

#define N_MAILBOX 3
#define SITE (N_MAILBOX + 1)     /* object handle of the site key */
#define BACKEND_KEY 0x100        /* a handle the fake resolves to the backend */
#define MSG_MAX 300
#define OUT_MAX (MSG_MAX + 64)
#define CYCLES 400

/* --- the fake world: what cipher.c and session.c call below them ----------
 * A test double needs file-scope state: the linker resolves these calls, so
 * the fixture registers its objects here (and unregisters them). */
struct dep11_object {
    struct dep11_key key;
    uint8_t value[DEP11_KEY_LEN];
    int dead;       /* the table dropped it (a test sets it) */
    int refs;       /* references handed out by resolve, not yet released */
};

struct world {
    struct dep11_object objs[SITE];   /* handles 1..SITE */
    struct dep11_config cfg;
    CK_SESSION_HANDLE next;
};

static struct world *fake;

CK_RV dep11_core_check_init(void) { return CKR_OK; }
/* module.c's profile "reconnect": never here */
int dep11_core_reconnect(CK_RV *rv)
{
    (void)rv;
    return 0;
}
const struct dep11_config *dep11_core_config(void) { return &fake->cfg; }
int dep11_provider_is_slot(CK_SLOT_ID slot) { (void)slot; return 0; }
void dep11_objects_destroy_session(const struct dep11_session *s) { (void)s; }
void dep11_objects_destroy_slot(CK_SLOT_ID slot) { (void)slot; }
void dep11_object_release(struct dep11_object *obj)
{
    if (obj != NULL)
        obj->refs--;
}
int dep11_object_dead(const struct dep11_object *obj) { return obj == NULL || obj->dead; }
const struct dep11_key *dep11_object_key(const struct dep11_object *obj) { return &obj->key; }

CK_RV dep11_object_resolve(struct dep11_session *s, CK_OBJECT_HANDLE h,
                           struct dep11_object **obj, CK_OBJECT_HANDLE *backend)
{
    (void)s;
    *obj = NULL;
    *backend = CK_INVALID_HANDLE;
    if (h >= 1 && h <= SITE) {
        *obj = &fake->objs[h - 1];
        (*obj)->refs++;
        return CKR_OK;
    }
    if (h == BACKEND_KEY) {
        *backend = h;
        return CKR_OK;
    }
    return CKR_OBJECT_HANDLE_INVALID;
}

CK_RV dep11_core_is_registered_root(struct dep11_session *s, CK_OBJECT_HANDLE backend,
                                    int *yes)
{
    (void)s;
    (void)backend;
    *yes = 0;
    return CKR_OK;
}

static CK_RV be_open(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY n,
                     CK_SESSION_HANDLE_PTR h)
{
    (void)slot, (void)flags, (void)app, (void)n;
    *h = ++fake->next;
    return CKR_OK;
}
static CK_RV be_session(CK_SESSION_HANDLE h) { (void)h; return CKR_OK; }
static CK_RV be_login(CK_SESSION_HANDLE h, CK_USER_TYPE u, CK_UTF8CHAR_PTR p, CK_ULONG n)
{
    (void)h, (void)u, (void)p, (void)n;
    return CKR_OK;
}
/* The backend has no op running: whatever reaches it says so. */
static CK_RV be_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
    (void)h, (void)m, (void)k;
    return CKR_MECHANISM_INVALID;
}
static CK_RV be_data(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR out,
                     CK_ULONG_PTR out_len)
{
    (void)h, (void)in, (void)n, (void)out, (void)out_len;
    return CKR_OPERATION_NOT_INITIALIZED;
}
static CK_RV be_final(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    (void)h, (void)out, (void)out_len;
    return CKR_OPERATION_NOT_INITIALIZED;
}

static CK_RV be_slot_info(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
    (void)slot;
    memset(info, 0, sizeof(*info));
    return CKR_OK;
}

static CK_FUNCTION_LIST backend = {
    .C_GetSlotInfo = be_slot_info, .C_OpenSession = be_open, .C_CloseSession = be_session, .C_Login = be_login,
    .C_Logout = be_session, .C_EncryptInit = be_init, .C_DecryptInit = be_init,
    .C_Encrypt = be_data, .C_Decrypt = be_data, .C_EncryptUpdate = be_data,
    .C_DecryptUpdate = be_data, .C_EncryptFinal = be_final, .C_DecryptFinal = be_final,
};

CK_FUNCTION_LIST *dep11_hsm(void) { return &backend; }
/* hsm/call.c's wrappers call through the loaded backend: this fake. */
__attribute__((constructor)) static void load_fake_backend(void) { dep11_hsm_backend = &backend; }

/* --- counting allocator: module code (--wrap) and OpenSSL (mem functions) - */
static unsigned long n_allocs;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

void *__wrap_malloc(size_t n)
{
    __atomic_add_fetch(&n_allocs, 1, __ATOMIC_RELAXED);
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size)
{
    __atomic_add_fetch(&n_allocs, 1, __ATOMIC_RELAXED);
    return __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n)
{
    __atomic_add_fetch(&n_allocs, 1, __ATOMIC_RELAXED);
    return __real_realloc(p, n);
}
static void *ossl_malloc(size_t n, const char *file, int line)
{
    (void)file, (void)line;
    __atomic_add_fetch(&n_allocs, 1, __ATOMIC_RELAXED);
    return __real_malloc(n);
}
static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file, (void)line;
    __atomic_add_fetch(&n_allocs, 1, __ATOMIC_RELAXED);
    return __real_realloc(p, n);
}
static void ossl_free(void *p, const char *file, int line)
{
    (void)file, (void)line;
    free(p);
}

/* --- fixture --------------------------------------------------------------- */
struct fx {
    struct world w;
    CK_FUNCTION_LIST *f;
    CK_SESSION_HANDLE s;
    uint64_t rng;
    uint8_t in[OUT_MAX], out[OUT_MAX], ref[OUT_MAX];
};

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof(*x));

    assert_non_null(x);
    for (int i = 0; i < SITE; i++) {
        struct dep11_object *o = &x->w.objs[i];
        assert_int_equal(RAND_bytes(o->value, DEP11_KEY_LEN), 1);
        o->key.value = o->value;
        o->key.role = i < N_MAILBOX ? DEP11_ROLE_MAILBOX : DEP11_ROLE_SITE;
    }
    x->w.cfg.caller_iv = 1; /* CKM_AES_GCM encryption is part of the mix */
    x->w.next = 0x40;
    x->rng = 0x9e3779b97f4a7c15ULL;
    fake = &x->w;
    assert_int_equal(dep11_core_OpenSession(1, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                                            NULL, NULL, &x->s), CKR_OK);
    assert_int_equal(dep11_core_Login(x->s, CKU_USER, (CK_UTF8CHAR_PTR)"1234", 4), CKR_OK);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;

    dep11_sessions_fini(); /* frees the parked ops (LeakSanitizer checks) */
    fake = NULL;
    free(x);
    return 0;
}

static uint32_t next(struct fx *x)
{
    x->rng ^= x->rng << 13;
    x->rng ^= x->rng >> 7;
    x->rng ^= x->rng << 17;
    return (uint32_t)(x->rng >> 16);
}

/* --- independent reference: OpenSSL EVP here ------------------------------ */
/* AES-256-GCM; encrypt writes @tag, decrypt checks it. 1 = ok. */
static int evp_gcm(int enc, const uint8_t *key, const uint8_t *iv, size_t iv_len,
                   const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len,
                   uint8_t *out, uint8_t *tag, size_t tag_len)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, ok = c != NULL &&
        EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, (int)iv_len, NULL) == 1 &&
        EVP_CipherInit_ex(c, NULL, NULL, key, iv, enc) == 1 &&
        (aad_len == 0 || EVP_CipherUpdate(c, NULL, &n, aad, (int)aad_len) == 1) &&
        EVP_CipherUpdate(c, out, &n, in, (int)len) == 1 &&
        (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, (int)tag_len, tag) == 1) &&
        EVP_CipherFinal_ex(c, out + n, &n) == 1 &&
        (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, (int)tag_len, tag) == 1);

    EVP_CIPHER_CTX_free(c);
    return ok;
}

/* The chunk key, by OpenSSL's KBKDF directly (counter mode, HMAC-SHA256). */
static void chunk_key(const uint8_t *site, const uint8_t ctx[DEP11_CHUNK_AAD_LEN],
                      uint8_t out[DEP11_KEY_LEN])
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "KBKDF", NULL);
    EVP_KDF_CTX *k = EVP_KDF_CTX_new(kdf);
    OSSL_PARAM p[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, "counter", 0),
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, "HMAC", 0),
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)site, DEP11_KEY_LEN),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, DEP11_LABEL_CHUNK_KEY,
                                          strlen(DEP11_LABEL_CHUNK_KEY)),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)ctx,
                                          DEP11_CHUNK_AAD_LEN),
        OSSL_PARAM_construct_end(),
    };

    assert_non_null(k);
    assert_int_equal(EVP_KDF_derive(k, out, DEP11_KEY_LEN, p), 1);
    EVP_KDF_CTX_free(k);
    EVP_KDF_free(kdf);
}

/* --- one cycle's choices ---------------------------------------------------- */
struct job {
    CK_MECHANISM m;
    CK_OBJECT_HANDLE key;
    CK_DEP11_AEAD_PARAMS ap;
    CK_DEP11_CHUNK_PARAMS cp;
    CK_GCM_PARAMS gp;
    uint8_t aad[64], iv[16];
    uint8_t k[DEP11_KEY_LEN];   /* the key the reference uses */
    const uint8_t *raad;        /* the AAD the reference uses */
    size_t raad_len, pre, tag_len;
};

/* Picks key, mechanism and parameters; fills what the reference needs. */
static void pick(struct fx *x, struct job *j)
{
    uint32_t r = next(x) % 3;

    memset(j, 0, sizeof(*j));
    assert_int_equal(RAND_bytes(j->aad, sizeof j->aad), 1);
    assert_int_equal(RAND_bytes(j->iv, sizeof j->iv), 1);
    j->key = 1 + next(x) % N_MAILBOX;
    j->tag_len = DEP11_TAG_LEN;
    j->pre = DEP11_NONCE_LEN;
    if (r == 0) { /* CKM_DEP11_AEAD, with or without AAD */
        j->ap.pAAD = j->aad;
        j->ap.ulAADLen = next(x) % (sizeof j->aad + 1);
        j->m = (CK_MECHANISM){ CKM_DEP11_AEAD, &j->ap, sizeof j->ap };
        if (j->ap.ulAADLen == 0 && next(x) % 2)
            j->m = (CK_MECHANISM){ CKM_DEP11_AEAD, NULL, 0 };
        j->raad = j->aad;
        j->raad_len = j->ap.ulAADLen;
    } else if (r == 1) { /* CKM_DEP11_CHUNK_AEAD on the site key */
        j->key = SITE;
        memcpy(j->cp.fileId, j->aad, 16);
        j->cp.ulChunkIndex = next(x);
        j->m = (CK_MECHANISM){ CKM_DEP11_CHUNK_AEAD, &j->cp, sizeof j->cp };
        dep11_suite1_chunk_aad(j->cp.fileId, j->cp.ulChunkIndex, j->aad);
        j->raad = j->aad;
        j->raad_len = DEP11_CHUNK_AAD_LEN;
    } else { /* CKM_AES_GCM with the caller's IV and tag length */
        j->gp = (CK_GCM_PARAMS){ j->iv, 12 + 4 * (next(x) % 2), 0, j->aad,
                                 next(x) % 40, 96 + 8 * (next(x) % 5) };
        j->gp.iv_bits = j->gp.iv_len * 8;
        j->m = (CK_MECHANISM){ CKM_AES_GCM, &j->gp, sizeof j->gp };
        j->raad = j->aad;
        j->raad_len = j->gp.aad_len;
        j->tag_len = j->gp.tag_bits / 8;
        j->pre = 0;
    }
    if (r == 1)
        chunk_key(fake->objs[SITE - 1].value, j->aad, j->k);
    else
        memcpy(j->k, fake->objs[j->key - 1].value, DEP11_KEY_LEN);
}

/* The IV of @j's output @ct (the module's nonce, or the caller's IV). */
static const uint8_t *iv_of(const struct job *j, const uint8_t *ct, size_t *iv_len)
{
    *iv_len = j->pre ? DEP11_NONCE_LEN : j->gp.iv_len;
    return j->pre ? ct : j->iv;
}

/* Checks @ct (@n bytes) of @len bytes of x->in against the reference. */
static void check_ct(struct fx *x, const struct job *j, const uint8_t *ct, CK_ULONG n,
                     size_t len)
{
    size_t iv_len = 0;
    const uint8_t *iv = iv_of(j, ct, &iv_len);
    uint8_t tag[16];

    assert_int_equal(n, j->pre + len + j->tag_len);
    assert_int_equal(evp_gcm(1, j->k, iv, iv_len, j->raad, j->raad_len, x->in, len,
                             x->ref, tag, j->tag_len), 1);
    assert_memory_equal(ct + j->pre, x->ref, len);
    assert_memory_equal(ct + j->pre + len, tag, j->tag_len);
}

/* Encrypts @len bytes one-shot: size query, a short buffer, then the call. */
static void enc_oneshot(struct fx *x, const struct job *j, size_t len)
{
    CK_ULONG n = 0;

    assert_int_equal(dep11_core_Encrypt(x->s, x->in, len, NULL, &n), CKR_OK);
    assert_int_equal(n, j->pre + len + j->tag_len);
    n--;
    assert_int_equal(dep11_core_Encrypt(x->s, x->in, len, x->out, &n), CKR_BUFFER_TOO_SMALL);
    n = OUT_MAX;
    assert_int_equal(dep11_core_Encrypt(x->s, x->in, len, x->out, &n), CKR_OK);
    check_ct(x, j, x->out, n, len);
}

/* Encrypts @len bytes in two updates and a Final that first gets a short
 * buffer (the op goes on) and then room. */
static void enc_multi(struct fx *x, const struct job *j, size_t len)
{
    CK_ULONG n = OUT_MAX, done = 0, half = len / 2;

    assert_int_equal(dep11_core_EncryptUpdate(x->s, x->in, half, x->out, &n), CKR_OK);
    done = n;
    n = OUT_MAX - done;
    assert_int_equal(dep11_core_EncryptUpdate(x->s, x->in + half, len - half, x->out + done,
                                              &n), CKR_OK);
    done += n;
    n = 1;
    assert_int_equal(dep11_core_EncryptFinal(x->s, x->out + done, &n), CKR_BUFFER_TOO_SMALL);
    n = OUT_MAX - done;
    assert_int_equal(dep11_core_EncryptFinal(x->s, x->out + done, &n), CKR_OK);
    check_ct(x, j, x->out, done + n, len);
}

/* Decrypts a reference ciphertext of @len bytes (tampered when @bad). */
static void decrypt(struct fx *x, const struct job *j, size_t len, int multi, int bad)
{
    uint8_t ct[OUT_MAX], pt[OUT_MAX], tag[16];
    size_t iv_len = 0, ct_len = j->pre + len + j->tag_len;
    const uint8_t *iv = NULL;
    CK_ULONG n = 0, m = 0;
    CK_RV want = bad ? CKR_ENCRYPTED_DATA_INVALID : CKR_OK;

    assert_int_equal(RAND_bytes(ct, DEP11_NONCE_LEN), 1);
    iv = iv_of(j, ct, &iv_len);
    assert_int_equal(evp_gcm(1, j->k, iv, iv_len, j->raad, j->raad_len, x->in, len,
                             ct + j->pre, tag, j->tag_len), 1);
    memcpy(ct + j->pre + len, tag, j->tag_len);
    ct[ct_len - 1] ^= (uint8_t)bad;
    if (!multi) {
        n = len ? len - 1 : 0;
        if (len > 0)
            assert_int_equal(dep11_core_Decrypt(x->s, ct, ct_len, pt, &n),
                             CKR_BUFFER_TOO_SMALL);
        n = OUT_MAX;
        assert_int_equal(dep11_core_Decrypt(x->s, ct, ct_len, pt, &n), want);
    } else {
        n = OUT_MAX;
        assert_int_equal(dep11_core_DecryptUpdate(x->s, ct, 5, pt, &n), CKR_OK);
        assert_int_equal(n, 0);
        assert_int_equal(dep11_core_DecryptUpdate(x->s, ct + 5, ct_len - 5, pt, &n), CKR_OK);
        m = len ? len - 1 : 0;
        if (len > 0)
            assert_int_equal(dep11_core_DecryptFinal(x->s, pt, &m), CKR_BUFFER_TOO_SMALL);
        n = OUT_MAX;
        assert_int_equal(dep11_core_DecryptFinal(x->s, pt, &n), want);
    }
    if (!bad) {
        assert_int_equal(n, len);
        assert_memory_equal(pt, x->in, len);
    }
    /* the op has ended either way: the backend answers now */
    n = OUT_MAX;
    assert_int_equal(dep11_core_Decrypt(x->s, ct, ct_len, pt, &n),
                     CKR_OPERATION_NOT_INITIALIZED);
}

/* A failing Init of one of three kinds; nothing may stay running after it. */
static void failing_init(struct fx *x, int encrypt, uint32_t kind)
{
    CK_DEP11_AEAD_PARAMS p = { NULL, 8 };
    CK_MECHANISM bad_param = { CKM_DEP11_AEAD, &p, sizeof p };
    CK_MECHANISM aead = { CKM_DEP11_AEAD, NULL, 0 };
    CK_RV (*init)(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE) =
        encrypt ? dep11_core_EncryptInit : dep11_core_DecryptInit;
    CK_RV (*oneshot)(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR) =
        encrypt ? dep11_core_Encrypt : dep11_core_Decrypt;
    CK_ULONG n = OUT_MAX;

    if (kind == 0)
        assert_int_equal(init(x->s, &bad_param, 1), CKR_MECHANISM_PARAM_INVALID);
    else if (kind == 1)
        assert_int_equal(init(x->s, &aead, SITE), CKR_KEY_FUNCTION_NOT_PERMITTED);
    else
        assert_int_equal(init(x->s, &aead, 0x999), CKR_KEY_HANDLE_INVALID);
    assert_int_equal(oneshot(x->s, x->in, 64, x->out, &n), CKR_OPERATION_NOT_INITIALIZED);
}

/* One cycle: an encryption and a decryption with fresh choices, the two
 * ops overlapping on the session, with the disturbances picked by @r. */
static void cycle(struct fx *x)
{
    struct job e, d;
    uint32_t r = next(x);
    size_t len = next(x) % MSG_MAX;
    CK_MECHANISM other = { CKM_DEP11_AEAD, NULL, 0 };

    assert_int_equal(RAND_bytes(x->in, MSG_MAX), 1);
    if (r % 4 == 0)
        failing_init(x, 1, (r >> 2) % 3);
    if (r % 5 == 0)
        failing_init(x, 0, (r >> 3) % 3);
    pick(x, &e);
    pick(x, &d);
    assert_int_equal(dep11_core_EncryptInit(x->s, &e.m, e.key), CKR_OK);
    /* a second Init while running: refused, the running op unharmed */
    if (r % 3 == 0)
        assert_int_equal(dep11_core_EncryptInit(x->s, &other, 1 + r % N_MAILBOX),
                         CKR_OPERATION_ACTIVE);
    assert_int_equal(dep11_core_DecryptInit(x->s, &d.m, d.key), CKR_OK);
    if ((r >> 4) % 2)
        enc_multi(x, &e, len);
    else
        enc_oneshot(x, &e, len);
    decrypt(x, &d, len, (r >> 5) % 2, (r >> 6) % 7 == 0);
}

static void test_cycles(void **state)
{
    struct fx *x = *state;

    for (int i = 0; i < CYCLES; i++)
        cycle(x);
}

/* Closing a session (C_CloseSession, C_CloseAllSessions) frees its parked
 * ops (LeakSanitizer would report them), and a new session starts with no
 * op; teardown (dep11_sessions_fini, as at C_Finalize and in a forked
 * child) frees a running one. */
static void test_close_frees(void **state)
{
    struct fx *x = *state;
    CK_MECHANISM m = { CKM_DEP11_AEAD, NULL, 0 };
    CK_ULONG n = OUT_MAX;

    cycle(x);
    assert_int_equal(dep11_core_CloseSession(x->s), CKR_OK);
    /* closing the last session logged the slot out: log in again */
    assert_int_equal(dep11_core_OpenSession(1, CKF_SERIAL_SESSION, NULL, NULL, &x->s), CKR_OK);
    assert_int_equal(dep11_core_Login(x->s, CKU_USER, (CK_UTF8CHAR_PTR)"1234", 4), CKR_OK);
    cycle(x);
    assert_int_equal(dep11_core_CloseAllSessions(1), CKR_OK);
    assert_int_equal(dep11_core_OpenSession(1, CKF_SERIAL_SESSION, NULL, NULL, &x->s), CKR_OK);
    assert_int_equal(dep11_core_Login(x->s, CKU_USER, (CK_UTF8CHAR_PTR)"1234", 4), CKR_OK);
    assert_int_equal(dep11_core_Encrypt(x->s, x->in, 16, x->out, &n),
                     CKR_OPERATION_NOT_INITIALIZED);
    cycle(x);
    assert_int_equal(dep11_core_EncryptInit(x->s, &m, 1), CKR_OK);
}

/* After a warm-up, Init+Encrypt and Init+Decrypt on one session allocate
 * nothing, across key changes: the ops and their cipher contexts are the
 * parked ones. Without reuse each Init allocates an op and an EVP context. */
static void test_steady_state_allocates_nothing(void **state)
{
    struct fx *x = *state;
    uint8_t aad[32] = { 7 };
    CK_DEP11_AEAD_PARAMS p = { aad, sizeof aad };
    CK_MECHANISM m = { CKM_DEP11_AEAD, &p, sizeof p };
    uint8_t ct[2][64 + DEP11_AEAD_OVERHEAD], pt[64];
    CK_ULONG n = 0;
    unsigned long before = 0;

    for (int i = 0; i < 2; i++) { /* warm-up: one op per direction */
        n = sizeof ct[i];
        assert_int_equal(dep11_core_EncryptInit(x->s, &m, 1 + i), CKR_OK);
        assert_int_equal(dep11_core_Encrypt(x->s, x->in, 64, ct[i], &n), CKR_OK);
        n = sizeof pt;
        assert_int_equal(dep11_core_DecryptInit(x->s, &m, 1 + i), CKR_OK);
        assert_int_equal(dep11_core_Decrypt(x->s, ct[i], sizeof ct[i], pt, &n), CKR_OK);
    }
    before = __atomic_load_n(&n_allocs, __ATOMIC_RELAXED);
    for (int i = 0; i < 100; i++) {
        n = sizeof ct[i % 2];
        assert_int_equal(dep11_core_EncryptInit(x->s, &m, 1 + i % 2), CKR_OK);
        assert_int_equal(dep11_core_Encrypt(x->s, x->in, 64, ct[i % 2], &n), CKR_OK);
        n = sizeof pt;
        assert_int_equal(dep11_core_DecryptInit(x->s, &m, 1 + i % 2), CKR_OK);
        assert_int_equal(dep11_core_Decrypt(x->s, ct[i % 2], sizeof ct[i % 2], pt, &n),
                         CKR_OK);
        assert_memory_equal(pt, x->in, 64);
    }
    assert_int_equal(__atomic_load_n(&n_allocs, __ATOMIC_RELAXED) - before, 0);
}

/* Every reference resolve handed out has been released. */
static void assert_no_refs(const struct fx *x)
{
    for (int i = 0; i < SITE; i++)
        assert_int_equal(x->w.objs[i].refs, 0);
}

/* Starts an op of @mech_kind (0 CKM_DEP11_AEAD, 1 CHUNK_AEAD, 2 AES_GCM) in
 * @encrypt's direction; returns its key's handle. A multi-part op (@step
 * not 0) gets one update first. */
static CK_OBJECT_HANDLE start_op(struct fx *x, int mech_kind, int encrypt, int step,
                                 struct job *j)
{
    CK_ULONG n = OUT_MAX;

    memset(j, 0, sizeof(*j));
    j->key = 1;
    j->m = (CK_MECHANISM){ CKM_DEP11_AEAD, NULL, 0 };
    if (mech_kind == 1) {
        j->key = SITE;
        j->m = (CK_MECHANISM){ CKM_DEP11_CHUNK_AEAD, &j->cp, sizeof j->cp };
    } else if (mech_kind == 2) {
        j->key = 2;
        j->gp = gcm_params(j->iv, 12, NULL, 0, 128);
        j->m = (CK_MECHANISM){ CKM_AES_GCM, &j->gp, sizeof j->gp };
    }
    assert_int_equal((encrypt ? dep11_core_EncryptInit : dep11_core_DecryptInit)(
                         x->s, &j->m, j->key), CKR_OK);
    if (step != 0)
        assert_int_equal((encrypt ? dep11_core_EncryptUpdate : dep11_core_DecryptUpdate)(
                             x->s, x->in, 40, x->out, &n), CKR_OK);
    return j->key;
}

/* The next call of @step (0 one-shot, 1 update, 2 final) in @encrypt's
 * direction; with @untouched, x->out must stay as it was. */
static CK_RV step_call(struct fx *x, int encrypt, int step, int untouched)
{
    CK_ULONG n = OUT_MAX;
    uint8_t before[OUT_MAX];
    CK_RV rv;

    memset(x->out, 0xEE, OUT_MAX);
    memcpy(before, x->out, OUT_MAX);
    if (step == 0)
        rv = (encrypt ? dep11_core_Encrypt : dep11_core_Decrypt)(x->s, x->in, 64, x->out, &n);
    else if (step == 1)
        rv = (encrypt ? dep11_core_EncryptUpdate : dep11_core_DecryptUpdate)(x->s, x->in, 64,
                                                                            x->out, &n);
    else
        rv = (encrypt ? dep11_core_EncryptFinal : dep11_core_DecryptFinal)(x->s, x->out, &n);
    if (untouched)
        assert_memory_equal(x->out, before, OUT_MAX);
    return rv;
}

/* DESIGN section 2: an operation on a module key ends with the key. When
 * the object table drops the key (C_DestroyObject, its session closed) of a
 * running op, the op's next call - one-shot, update or final, encrypt or
 * decrypt, CKM_DEP11_AEAD, CKM_DEP11_CHUNK_AEAD or CKM_AES_GCM - is
 * CKR_KEY_HANDLE_INVALID with nothing written, the op is over (the backend
 * answers the call after), and the op's reference to the key is released.
 * After C_Logout (which drops the token's keys) the answer is
 * CKR_USER_NOT_LOGGED_IN. */
static void test_dead_key_ends_op(void **state)
{
    struct fx *x = *state;
    struct job j;

    assert_int_equal(RAND_bytes(x->in, MSG_MAX), 1);
    for (int kind = 0; kind < 3; kind++) {
        for (int enc = 0; enc <= 1; enc++) {
            for (int step = 0; step < 3; step++) {
                CK_OBJECT_HANDLE k = start_op(x, kind, enc, step, &j);

                x->w.objs[k - 1].dead = 1;
                assert_int_equal(step_call(x, enc, step, 1), CKR_KEY_HANDLE_INVALID);
                assert_int_equal(step_call(x, enc, step, 1), CKR_OPERATION_NOT_INITIALIZED);
                x->w.objs[k - 1].dead = 0;
                assert_no_refs(x);
                /* the session goes on: the next op on a live key runs */
                start_op(x, kind, enc, 0, &j);
                assert_int_equal(step_call(x, enc, 0, 0), enc ? CKR_OK : CKR_ENCRYPTED_DATA_INVALID);
                assert_no_refs(x);
            }
        }
    }
    /* C_Logout: the token's keys die with it; the running op's next call
     * says why. */
    for (int enc = 0; enc <= 1; enc++) {
        for (int step = 0; step < 3; step++) {
            CK_OBJECT_HANDLE k = start_op(x, step % 3, enc, step, &j);

            assert_int_equal(dep11_core_Logout(x->s), CKR_OK);
            x->w.objs[k - 1].dead = 1;
            assert_int_equal(step_call(x, enc, step, 1), CKR_USER_NOT_LOGGED_IN);
            assert_int_equal(step_call(x, enc, step, 1), CKR_OPERATION_NOT_INITIALIZED);
            x->w.objs[k - 1].dead = 0;
            assert_no_refs(x);
            assert_int_equal(dep11_core_Login(x->s, CKU_USER, (CK_UTF8CHAR_PTR)"1234", 4),
                             CKR_OK);
        }
    }
}

/* A running op holds its key's reference until it ends, and no longer: a
 * finished op, an op ended by a short-buffer-free error, and a session
 * closed with an op running each leave no reference behind. */
static void test_op_key_reference(void **state)
{
    struct fx *x = *state;
    struct job j;
    CK_ULONG n = OUT_MAX;

    start_op(x, 0, 1, 1, &j);
    assert_int_equal(x->w.objs[0].refs, 1);
    n = OUT_MAX;
    assert_int_equal(dep11_core_EncryptFinal(x->s, x->out, &n), CKR_OK);
    assert_no_refs(x);
    start_op(x, 1, 0, 0, &j);
    assert_int_equal(x->w.objs[SITE - 1].refs, 1);
    /* a second Init while running is refused and takes no reference */
    assert_int_equal(dep11_core_DecryptInit(x->s, &j.m, SITE), CKR_OPERATION_ACTIVE);
    assert_int_equal(x->w.objs[SITE - 1].refs, 1);
    n = OUT_MAX;
    assert_int_equal(dep11_core_Decrypt(x->s, x->in, 10, x->out, &n),
                     CKR_ENCRYPTED_DATA_LEN_RANGE);
    assert_no_refs(x);
    start_op(x, 2, 0, 1, &j);
    assert_int_equal(dep11_core_CloseSession(x->s), CKR_OK);
    assert_no_refs(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cycles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_frees, setup, teardown),
        cmocka_unit_test_setup_teardown(test_steady_state_allocates_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_key_ends_op, setup, teardown),
        cmocka_unit_test_setup_teardown(test_op_key_reference, setup, teardown),
    };

    /* before OpenSSL allocates anything: count its allocations too */
    if (CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free) != 1)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
