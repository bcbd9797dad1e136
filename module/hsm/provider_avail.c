/*
 * provider_avail.c - availability keys on the provider token, tagged with a
 * 16-byte id (CKA_LABEL "dep11-avail-<hex tag>", CKA_ID tag || random(8)):
 * AES-256 keys (AES-256-GCM sealing and opening in the HSM) or RSA key pairs
 * (both halves share label and CKA_ID; the copy is RSA-OAEP, encrypted by
 * hier with the public numbers and decrypted in the HSM), and destruction.
 * The GCM seal's 12-byte IV is dep11's (random), or with the profile's
 * gcm-iv = hsm the one the HSM generates and writes back into CK_GCM_PARAMS.
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "hsm/backend.h"
#include "hsm/internal.h"
#include "hsm/provider.h"
#include "hsm/provider_int.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/secmem.h"

#define TAG_LEN 16
#define LABEL_LEN (12 + 2 * TAG_LEN)    /* "dep11-avail-" + hex */
#define GCM_IV 12
#define GCM_TAG 16

static void avail_label(char out[LABEL_LEN + 1], const uint8_t tag[TAG_LEN])
{
    memcpy(out, "dep11-avail-", 12);
    dep11_hex_encode(tag, TAG_LEN, out + 12);
}

/* Which objects of a tag a look-up wants: the AES keys, the RSA private
 * keys, or every object carrying the label (destruction: both halves). */
struct avail_type {
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE kt;
    int any;
};

static const struct avail_type type_aes = { CKO_SECRET_KEY, CKK_AES, 0 };
static const struct avail_type type_rsa = { CKO_PRIVATE_KEY, CKK_RSA, 0 };
static const struct avail_type type_any = { 0, 0, 1 };

/* The availability keys of one tag (by label), with their CKA_IDs. */
struct avail_list {
    CK_OBJECT_HANDLE *h;
    uint8_t (*id)[DEP11_AVAIL_ID_LEN];
    size_t n;
};

static void list_free(struct avail_list *l)
{
    free(l->h);
    free(l->id);
    memset(l, 0, sizeof *l);
}

static CK_RV list_keys(CK_SESSION_HANDLE s, const uint8_t tag[TAG_LEN],
                       const struct avail_type *ty, struct avail_list *l)
{
    char label[LABEL_LEN + 1];
    CK_OBJECT_CLASS cls = ty->cls;
    CK_KEY_TYPE kt = ty->kt;
    CK_ATTRIBUTE t[] = { { CKA_LABEL, label, LABEL_LEN },
                         { CKA_CLASS, &cls, sizeof cls },
                         { CKA_KEY_TYPE, &kt, sizeof kt } };
    CK_OBJECT_HANDLE *found = NULL;
    size_t n = 0, i = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    memset(l, 0, sizeof *l);
    avail_label(label, tag);
    rv = dep11_hsm_find_all(s, t, ty->any ? 1 : 3, &found, &n);
    if (rv != CKR_OK || n == 0)
        goto out;
    l->h = calloc(n, sizeof *l->h);
    l->id = calloc(n, sizeof *l->id);
    if (l->h == NULL || l->id == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    for (i = 0; i < n; i++) {
        CK_ATTRIBUTE a = { CKA_ID, l->id[l->n], DEP11_AVAIL_ID_LEN };

        rv = dep11_hsm_GetAttributeValue(s, found[i], &a, 1);
        /* A key whose CKA_ID has another shape is not ours: skipped. Any
         * other failure (device, session, login) is the backend's answer:
         * a key we could not read is not a key that is gone. */
        if (rv == CKR_BUFFER_TOO_SMALL || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
            rv == CKR_ATTRIBUTE_SENSITIVE) {
            rv = CKR_OK;
            continue;
        }
        if (rv != CKR_OK)
            goto out;
        if (a.ulValueLen == DEP11_AVAIL_ID_LEN && memcmp(l->id[l->n], tag, TAG_LEN) == 0)
            l->h[l->n++] = found[i];
    }
out:
    free(found);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "listing availability keys");
        list_free(l);
    }
    return rv;
}

/* Index of the smallest CKA_ID in @l (l->n > 0). */
static size_t smallest(const struct avail_list *l)
{
    size_t i = 0, best = 0;

    for (i = 1; i < l->n; i++)
        if (memcmp(l->id[i], l->id[best], DEP11_AVAIL_ID_LEN) < 0)
            best = i;
    return best;
}

/* The handles a creation made (the public half: RSA only). */
struct made {
    CK_OBJECT_HANDLE h, pub;
};

static CK_RV new_id(uint8_t id[DEP11_AVAIL_ID_LEN], const uint8_t tag[TAG_LEN])
{
    memcpy(id, tag, TAG_LEN);
    if (RAND_bytes(id + TAG_LEN, DEP11_AVAIL_ID_LEN - TAG_LEN) != 1) {
        LOG_FAIL(CKR_FUNCTION_FAILED, "RAND_bytes");
        return CKR_FUNCTION_FAILED;
    }
    return CKR_OK;
}

static CK_RV create_aes(CK_SESSION_HANDLE s, const char *label, const uint8_t *id,
                        struct made *m)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ULONG len = 32;
    CK_BBOOL t = CK_TRUE, f = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_KEY_TYPE, &kt, sizeof kt },
        { CKA_VALUE_LEN, &len, sizeof len },
        { CKA_LABEL, (void *)label, LABEL_LEN },
        { CKA_ID, (void *)id, DEP11_AVAIL_ID_LEN },
        { CKA_TOKEN, &t, 1 },
        { CKA_PRIVATE, &t, 1 },
        { CKA_SENSITIVE, &t, 1 },
        { CKA_EXTRACTABLE, &f, 1 },
        { CKA_ENCRYPT, &t, 1 },
        { CKA_DECRYPT, &t, 1 },
        { CKA_SIGN, &f, 1 },
        { CKA_VERIFY, &f, 1 },
        { CKA_WRAP, &f, 1 },
        { CKA_UNWRAP, &f, 1 },
        { CKA_DERIVE, &f, 1 },
    };
    CK_MECHANISM mech = { CKM_AES_KEY_GEN, NULL, 0 };

    return dep11_hsm_GenerateKey(s, &mech, tmpl, sizeof tmpl / sizeof tmpl[0], &m->h);
}

/* An RSA pair: the private half decrypts only (sensitive, never
 * extractable); the public half, a token object too, is where hier reads
 * the numbers it encrypts the copy with. */
static CK_RV create_rsa(CK_SESSION_HANDLE s, const char *label, const uint8_t *id,
                        CK_ULONG bits, struct made *m)
{
    static const CK_BYTE e65537[] = { 0x01, 0x00, 0x01 };
    CK_KEY_TYPE kt = CKK_RSA;
    CK_BBOOL t = CK_TRUE, f = CK_FALSE;
    CK_ATTRIBUTE pub[] = {
        { CKA_KEY_TYPE, &kt, sizeof kt },
        { CKA_LABEL, (void *)label, LABEL_LEN },
        { CKA_ID, (void *)id, DEP11_AVAIL_ID_LEN },
        { CKA_TOKEN, &t, 1 },
        { CKA_PRIVATE, &f, 1 },
        { CKA_ENCRYPT, &t, 1 },
        { CKA_VERIFY, &f, 1 },
        { CKA_WRAP, &f, 1 },
        { CKA_DERIVE, &f, 1 },
        { CKA_MODULUS_BITS, &bits, sizeof bits },
        { CKA_PUBLIC_EXPONENT, (void *)e65537, sizeof e65537 },
    };
    CK_ATTRIBUTE priv[] = {
        { CKA_KEY_TYPE, &kt, sizeof kt },
        { CKA_LABEL, (void *)label, LABEL_LEN },
        { CKA_ID, (void *)id, DEP11_AVAIL_ID_LEN },
        { CKA_TOKEN, &t, 1 },
        { CKA_PRIVATE, &t, 1 },
        { CKA_SENSITIVE, &t, 1 },
        { CKA_EXTRACTABLE, &f, 1 },
        { CKA_DECRYPT, &t, 1 },
        { CKA_SIGN, &f, 1 },
        { CKA_UNWRAP, &f, 1 },
        { CKA_DERIVE, &f, 1 },
    };
    CK_MECHANISM mech = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };

    return dep11_hsm_GenerateKeyPair(s, &mech, pub, sizeof pub / sizeof pub[0], priv,
                                     sizeof priv / sizeof priv[0], &m->pub, &m->h);
}

/* A new availability key of @tag: AES-256 (@rsa_bits 0) or an RSA pair. */
static CK_RV create_avail(CK_SESSION_HANDLE s, const uint8_t tag[TAG_LEN], CK_ULONG rsa_bits,
                          uint8_t id[DEP11_AVAIL_ID_LEN], struct made *m)
{
    char label[LABEL_LEN + 1];
    CK_RV rv = new_id(id, tag);

    memset(m, 0, sizeof *m);
    if (rv != CKR_OK)
        return rv;
    avail_label(label, tag);
    rv = rsa_bits == 0 ? create_aes(s, label, id, m) : create_rsa(s, label, id, rsa_bits, m);
    if (rv != CKR_OK)
        LOG_ERROR("creating %s availability key %s: %s", rsa_bits == 0 ? "AES" : "RSA", label,
                  dep11_rv_name(rv));
    return rv;
}

static void destroy_made(CK_SESSION_HANDLE s, const struct made *m)
{
    if (m->h != 0)
        (void)dep11_hsm_DestroyObject(s, m->h);
    if (m->pub != 0)
        (void)dep11_hsm_DestroyObject(s, m->pub);
}

struct key_arg {
    const uint8_t *tag;
    int fresh;
    CK_ULONG rsa_bits;
    uint8_t *id;
};

/* fresh=0: the smallest CKA_ID of the tag, creating one if none (a creator
 * that then sees a smaller one, made concurrently, destroys its own: every
 * key named by a blob stays valid either way). fresh=1: always a new key. */
static CK_RV avail_key_fn(CK_SESSION_HANDLE s, void *arg)
{
    struct key_arg *a = arg;
    const struct avail_type *ty = a->rsa_bits == 0 ? &type_aes : &type_rsa;
    struct avail_list l;
    uint8_t mine[DEP11_AVAIL_ID_LEN];
    struct made mh = { 0, 0 };
    CK_RV rv = CKR_GENERAL_ERROR;

    if (a->fresh)
        return create_avail(s, a->tag, a->rsa_bits, a->id, &mh);
    rv = list_keys(s, a->tag, ty, &l);
    if (rv == CKR_OK && l.n == 0) {
        list_free(&l);
        rv = create_avail(s, a->tag, a->rsa_bits, mine, &mh);
        if (rv == CKR_OK)
            rv = list_keys(s, a->tag, ty, &l);
    }
    if (rv == CKR_OK && l.n == 0) {
        rv = CKR_KEY_HANDLE_INVALID;
        LOG_FAIL(rv, "availability key vanished after creation");
    }
    if (rv == CKR_OK) {
        size_t b = smallest(&l);

        memcpy(a->id, l.id[b], DEP11_AVAIL_ID_LEN);
        if (mh.h != 0 && l.h[b] != mh.h)
            destroy_made(s, &mh);
    }
    list_free(&l);
    return rv;
}

/**
 * See provider.h. @tag [in] 16 bytes; @rsa_bits 0 (AES) or 2048..4096;
 * @key_id [out] DEP11_AVAIL_ID_LEN bytes.
 * CKR_ARGUMENTS_BAD; CKR_FUNCTION_FAILED (RNG); backend codes.
 */
CK_RV dep11_provider_avail_key(const uint8_t tag[16], int fresh, CK_ULONG rsa_bits,
                               uint8_t key_id[DEP11_AVAIL_ID_LEN])
{
    struct key_arg a = { tag, fresh != 0, rsa_bits, key_id };
    CK_RV rv = CKR_GENERAL_ERROR;

    if (tag == NULL || key_id == NULL ||
        (rsa_bits != 0 && (rsa_bits < 2048 || rsa_bits > 4096))) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "bad arguments");
        return rv;
    }
    rv = dep11_provider_run_write(avail_key_fn, &a);
    if (rv != CKR_OK)
        LOG_FAIL(rv, "availability key (fresh=%d)", fresh);
    return rv;
}

/* The availability key (AES key, RSA private key) with CKA_ID @id;
 * CKR_KEY_HANDLE_INVALID if none. */
static CK_RV find_by_id(CK_SESSION_HANDLE s, const struct avail_type *ty, const uint8_t *id,
                        size_t id_len, CK_OBJECT_HANDLE *h)
{
    CK_OBJECT_CLASS cls = ty->cls;
    CK_KEY_TYPE kt = ty->kt;
    CK_ATTRIBUTE t[] = { { CKA_ID, (void *)id, id_len },
                         { CKA_CLASS, &cls, sizeof cls },
                         { CKA_KEY_TYPE, &kt, sizeof kt } };
    CK_OBJECT_HANDLE *found = NULL;
    size_t n = 0;
    CK_RV rv = dep11_hsm_find_all(s, t, ty->any ? 1 : 3, &found, &n);

    if (rv == CKR_OK && n == 0) {
        rv = CKR_KEY_HANDLE_INVALID;
        LOG_FAIL(rv, "no availability key with this CKA_ID");
    }
    if (rv == CKR_OK)
        *h = found[0];
    free(found);
    return rv;
}

/* gcm-iv = hsm: is the IV still the zeros dep11 put there? */
static int iv_unset(const uint8_t iv[GCM_IV])
{
    uint8_t acc = 0;

    for (size_t i = 0; i < GCM_IV; i++)
        acc |= iv[i];
    return acc == 0;
}

struct gcm_arg {
    const uint8_t *id;
    size_t id_len;
    const uint8_t *aad;
    size_t aad_len;
    const uint8_t *in;
    size_t in_len;
    uint8_t *out;
    CK_ULONG out_len;       /* capacity in, length out */
    const uint8_t *iv;
    int seal;
    int hsm_iv; /* gcm-iv = hsm: the HSM writes the IV into *iv */
};

static CK_RV gcm_fn(CK_SESSION_HANDLE s, void *arg)
{
    struct gcm_arg *a = arg;
    CK_GCM_PARAMS p = { (CK_BYTE_PTR)a->iv, GCM_IV, GCM_IV * 8,
                        (CK_BYTE_PTR)a->aad, a->aad_len, GCM_TAG * 8 };
    CK_MECHANISM m = { CKM_AES_GCM, &p, sizeof p };
    CK_ULONG len = a->out_len;
    CK_OBJECT_HANDLE h = 0;
    CK_RV rv = find_by_id(s, &type_aes, a->id, a->id_len, &h);

    if (rv != CKR_OK)
        return rv;
    if (a->seal && a->hsm_iv)
        memset((uint8_t *)a->iv, 0, GCM_IV); /* an output: zero on every try */
    if (a->seal) {
        rv = dep11_hsm_EncryptInit(s, &m, h);
        if (rv == CKR_OK)
            rv = dep11_hsm_Encrypt(s, (CK_BYTE_PTR)a->in, a->in_len, a->out, &len);
    } else {
        rv = dep11_hsm_DecryptInit(s, &m, h);
        if (rv == CKR_OK)
            rv = dep11_hsm_Decrypt(s, (CK_BYTE_PTR)a->in, a->in_len, a->out, &len);
    }
    if (rv == CKR_OK)
        a->out_len = len;
    return rv;
}

/* After a seal the HSM answered CKR_OK to: the output's length, and the IV
 * at a->iv as the profile's gcm-iv says it must be (gcm-iv = hsm: written by
 * the HSM; gcm-iv = module: still @sent, dep11's own). CKR_GENERAL_ERROR
 * rather than store a copy under an IV other than the one promised. */
static CK_RV seal_check(const struct gcm_arg *a, const uint8_t sent[GCM_IV], size_t pt_len)
{
    CK_RV rv = CKR_GENERAL_ERROR;

    if (a->out_len != pt_len + GCM_TAG) {
        LOG_FAIL(rv, "HSM returned %lu bytes of GCM output", (unsigned long)a->out_len);
        return rv;
    }
    if (a->hsm_iv && iv_unset(a->iv)) {
        LOG_FAIL(rv, "gcm-iv = hsm: the HSM returned no GCM IV in CK_GCM_PARAMS");
        return rv;
    }
    if (!a->hsm_iv && CRYPTO_memcmp(a->iv, sent, GCM_IV) != 0) {
        LOG_FAIL(rv, "gcm-iv = module: the HSM replaced dep11's GCM IV with its own "
                     "(an HSM that makes the IV needs gcm-iv = hsm in its profile)");
        return rv;
    }
    return CKR_OK;
}

/**
 * See provider.h. Size query: @out NULL gives the length in *@out_len
 * (pt_len + 28) without any HSM call. CKR_ARGUMENTS_BAD; CKR_DATA_LEN_RANGE
 * (overflow); CKR_BUFFER_TOO_SMALL; CKR_KEY_HANDLE_INVALID; backend codes.
 */
CK_RV dep11_provider_avail_seal(const uint8_t *key_id, size_t key_id_len,
                                const uint8_t *aad, size_t aad_len,
                                const uint8_t *pt, size_t pt_len,
                                uint8_t *out, size_t *out_len)
{
    struct gcm_arg a = { key_id, key_id_len, aad, aad_len, pt, pt_len, NULL, 0, NULL, 1, 0 };
    uint8_t sent[GCM_IV] = { 0 };
    size_t need = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (key_id == NULL || key_id_len == 0 || (aad == NULL && aad_len > 0) ||
        pt == NULL || out_len == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "bad arguments");
        return rv;
    }
    if (__builtin_add_overflow(pt_len, (size_t)(GCM_IV + GCM_TAG), &need)) {
        rv = CKR_DATA_LEN_RANGE;
        LOG_FAIL(rv, "plaintext too long");
        return rv;
    }
    if (out == NULL) {
        *out_len = need;
        return CKR_OK;
    }
    if (*out_len < need) {
        rv = CKR_BUFFER_TOO_SMALL;
        LOG_FAIL(rv, "need %zu bytes, have %zu", need, *out_len);
        *out_len = need;
        return rv;
    }
    a.hsm_iv = dep11_hsm_profile() != NULL && !dep11_hsm_profile()->gcm_iv_from_module;
    if (!a.hsm_iv && RAND_bytes(out, GCM_IV) != 1) {
        rv = CKR_FUNCTION_FAILED;
        LOG_FAIL(rv, "RAND_bytes");
        return rv;
    }
    if (!a.hsm_iv)
        memcpy(sent, out, GCM_IV); /* to see whether the HSM kept it */
    a.iv = out;
    a.out = out + GCM_IV;
    a.out_len = need - GCM_IV;
    rv = dep11_provider_run(gcm_fn, &a);
    if (rv == CKR_OK)
        rv = seal_check(&a, sent, pt_len);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "availability seal");
        dep11_cleanse(out, need);
        return rv;
    }
    *out_len = need;
    return CKR_OK;
}

/**
 * See provider.h. Size query: @pt NULL gives in_len - 28 without an HSM call.
 * CKR_ARGUMENTS_BAD; CKR_ENCRYPTED_DATA_LEN_RANGE (shorter than nonce and
 * tag); CKR_BUFFER_TOO_SMALL; CKR_KEY_HANDLE_INVALID (key gone); the backend's
 * code for a bad tag. @pt is cleansed on every error.
 */
CK_RV dep11_provider_avail_open(const uint8_t *key_id, size_t key_id_len,
                                const uint8_t *aad, size_t aad_len,
                                const uint8_t *in, size_t in_len,
                                uint8_t *pt, size_t *pt_len)
{
    struct gcm_arg a = { key_id, key_id_len, aad, aad_len, NULL, 0, NULL, 0, in, 0, 0 };
    size_t need = 0, cap = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (key_id == NULL || key_id_len == 0 || (aad == NULL && aad_len > 0) ||
        in == NULL || pt_len == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "bad arguments");
        return rv;
    }
    if (in_len < GCM_IV + GCM_TAG) {
        rv = CKR_ENCRYPTED_DATA_LEN_RANGE;
        LOG_FAIL(rv, "sealed copy of %zu bytes", in_len);
        return rv;
    }
    need = in_len - GCM_IV - GCM_TAG;
    if (pt == NULL) {
        *pt_len = need;
        return CKR_OK;
    }
    cap = *pt_len;
    if (cap < need) {
        rv = CKR_BUFFER_TOO_SMALL;
        LOG_FAIL(rv, "need %zu bytes, have %zu", need, cap);
        *pt_len = need;
        return rv;
    }
    /* SoftHSM wants room for ciphertext and tag even though the tag is not
     * output: decrypt into a secure buffer of that size, then copy. */
    a.in = in + GCM_IV;
    a.in_len = in_len - GCM_IV;
    a.out_len = a.in_len;
    a.out = dep11_secmem_alloc(a.in_len);
    if (a.out == NULL) {
        rv = CKR_HOST_MEMORY;
        LOG_FAIL(rv, "plaintext buffer");
        goto out;
    }
    rv = dep11_provider_run(gcm_fn, &a);
    if (rv == CKR_OK && a.out_len != need) {
        rv = CKR_GENERAL_ERROR;
        LOG_FAIL(rv, "HSM returned %lu plaintext bytes", (unsigned long)a.out_len);
    }
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "availability open");
        goto out;
    }
    memcpy(pt, a.out, need);
    *pt_len = need;
out:
    dep11_secmem_free(a.out, a.in_len);
    if (rv != CKR_OK)
        dep11_cleanse(pt, cap);
    return rv;
}

struct destroy_arg {
    const uint8_t *tag;
    const uint8_t *keep;
    size_t keep_len;
    unsigned count;
};

static CK_RV destroy_fn(CK_SESSION_HANDLE s, void *arg)
{
    struct destroy_arg *a = arg;
    struct avail_list l;
    size_t i = 0;
    CK_RV rv = list_keys(s, a->tag, &type_any, &l);

    /* Every object of the tag but @keep's: both halves of an RSA pair, and
     * keys of the other type left by an earlier profile. */
    for (i = 0; rv == CKR_OK && i < l.n; i++) {
        CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
        CK_ATTRIBUTE c = { CKA_CLASS, &cls, sizeof cls };

        if (a->keep != NULL && a->keep_len == DEP11_AVAIL_ID_LEN &&
            memcmp(l.id[i], a->keep, DEP11_AVAIL_ID_LEN) == 0)
            continue;
        /* A pair counts once: its public half is not counted. */
        if (dep11_hsm_GetAttributeValue(s, l.h[i], &c, 1) != CKR_OK)
            cls = CKO_SECRET_KEY;
        rv = dep11_hsm_DestroyObject(s, l.h[i]);
        if (rv == CKR_OBJECT_HANDLE_INVALID)
            rv = CKR_OK;            /* someone else destroyed it first */
        else if (rv == CKR_OK && cls != CKO_PUBLIC_KEY)
            a->count++;
    }
    list_free(&l);
    return rv;
}

/**
 * See provider.h. @keep [in] a CKA_ID to spare, or NULL; @destroyed [out]
 * (may be NULL) how many keys this call destroyed. CKR_ARGUMENTS_BAD;
 * backend codes.
 */
CK_RV dep11_provider_avail_destroy(const uint8_t tag[16], const uint8_t *keep,
                                   size_t keep_len, unsigned *destroyed)
{
    struct destroy_arg a = { tag, keep, keep_len, 0 };
    CK_RV rv = CKR_GENERAL_ERROR;

    if (tag == NULL || (keep == NULL && keep_len > 0)) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "bad arguments");
        return rv;
    }
    rv = dep11_provider_run_write(destroy_fn, &a);
    if (destroyed != NULL)
        *destroyed = a.count;
    if (rv != CKR_OK)
        LOG_FAIL(rv, "destroying availability keys");
    return rv;
}

/* Destroys every object with CKA_ID @arg (an RSA pair has two). */
static CK_RV drop_fn(CK_SESSION_HANDLE s, void *arg)
{
    CK_OBJECT_HANDLE h = 0;
    CK_RV rv = CKR_OK;

    for (int i = 0; rv == CKR_OK && i < 4; i++) {
        rv = find_by_id(s, &type_any, arg, DEP11_AVAIL_ID_LEN, &h);
        if (rv == CKR_KEY_HANDLE_INVALID)
            return CKR_OK; /* gone (already) */
        if (rv == CKR_OK)
            rv = dep11_hsm_DestroyObject(s, h);
        if (rv == CKR_OBJECT_HANDLE_INVALID)
            rv = CKR_OK;
    }
    return rv;
}

/** See provider.h. CKR_ARGUMENTS_BAD; backend codes. */
CK_RV dep11_provider_avail_drop(const uint8_t key_id[DEP11_AVAIL_ID_LEN])
{
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (key_id == NULL) {
        LOG_FAIL(rv, "bad arguments");
        return rv;
    }
    rv = dep11_provider_run_write(drop_fn, (void *)key_id);
    if (rv != CKR_OK)
        LOG_FAIL(rv, "dropping a fresh availability key");
    return rv;
}

/* ---- RSA availability keys ---- */

struct rsa_arg {
    const uint8_t *id;
    size_t id_len;
    CK_MECHANISM_TYPE hash;
    const uint8_t *ct;
    size_t ct_len;
    uint8_t *pt;
    size_t *pt_len;
    size_t cap;
    struct dep11_hsm_rsa *pub; /* public: the numbers; else NULL */
};

static CK_RV rsa_fn(CK_SESSION_HANDLE s, void *arg)
{
    struct rsa_arg *a = arg;
    CK_OBJECT_HANDLE h = 0;
    CK_RV rv = find_by_id(s, &type_rsa, a->id, a->id_len, &h);

    if (rv != CKR_OK)
        return rv;
    if (a->pub != NULL)
        return dep11_hsm_rsa_resolve(s, h, a->pub);
    *a->pt_len = a->cap; /* a retry starts with the caller's capacity */
    return dep11_hsm_rsa_decrypt(s, h, a->hash, a->ct, a->ct_len, a->pt, a->pt_len);
}

/**
 * See provider.h. @out [out] the private key's handle, public numbers and
 * flags. CKR_ARGUMENTS_BAD; CKR_KEY_HANDLE_INVALID (no such key); backend
 * codes.
 */
CK_RV dep11_provider_avail_rsa_public(const uint8_t *key_id, size_t key_id_len,
                                      struct dep11_hsm_rsa *out)
{
    struct rsa_arg a = { key_id, key_id_len, 0, NULL, 0, NULL, NULL, 0, out };
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (key_id == NULL || key_id_len == 0 || out == NULL) {
        LOG_FAIL(rv, "bad arguments");
        return rv;
    }
    memset(out, 0, sizeof *out);
    rv = dep11_provider_run(rsa_fn, &a);
    if (rv != CKR_OK)
        LOG_FAIL(rv, "RSA availability key's public numbers");
    return rv;
}

/**
 * See provider.h. @hash CKM_SHA_1 or CKM_SHA256; @pt [out] capacity in
 * *@pt_len (cleansed on error). CKR_ARGUMENTS_BAD; CKR_KEY_HANDLE_INVALID
 * (the key is gone); dep11_hsm_rsa_decrypt's codes.
 */
CK_RV dep11_provider_avail_rsa_open(const uint8_t *key_id, size_t key_id_len,
                                    CK_MECHANISM_TYPE hash, const uint8_t *ct, size_t ct_len,
                                    uint8_t *pt, size_t *pt_len)
{
    struct rsa_arg a = { key_id, key_id_len, hash, ct, ct_len, pt, pt_len, 0, NULL };
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (key_id == NULL || key_id_len == 0 || ct == NULL || pt == NULL || pt_len == NULL) {
        LOG_FAIL(rv, "bad arguments");
        return rv;
    }
    a.cap = *pt_len;
    rv = dep11_provider_run(rsa_fn, &a);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "RSA availability open");
        dep11_cleanse(pt, a.cap);
    }
    return rv;
}
