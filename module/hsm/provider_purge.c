/*
 * provider_purge.c - what a policy purge needs from the backend: purge
 * tombstones on the provider token (data objects holding the signed receipt),
 * the receipt signing key (ECDSA P-256 in the HSM; provisioned by dep11-tool,
 * found by provider_keys.c)
 * and the RSA public keys of a customer token (the registration evidence).
 */
#include <stdlib.h>
#include <string.h>

#include "hsm/backend.h"
#include "hsm/internal.h"
#include "hsm/provider.h"
#include "hsm/provider_int.h"
#include "util/log.h"
#include "util/secmem.h"

#define TOMB_PREFIX "dep11-tombstone-"
#define TOMB_LABEL_LEN (sizeof TOMB_PREFIX - 1 + 2 * 16)
#define APP "dep11"

/* ---- tombstones ---- */

static void tomb_label(char out[TOMB_LABEL_LEN + 1], const uint8_t id[16])
{
    static const char d[] = "0123456789abcdef";
    size_t i = 0, p = sizeof TOMB_PREFIX - 1;

    memcpy(out, TOMB_PREFIX, p);
    for (i = 0; i < 16; i++) {
        out[p + 2 * i] = d[id[i] >> 4];
        out[p + 2 * i + 1] = d[id[i] & 15];
    }
    out[TOMB_LABEL_LEN] = '\0';
}

/* One search: the tombstones of @id (normally 0 or 1; two concurrent purges
 * in two processes may leave two). Handles are recorded as provider objects. */
static CK_RV tomb_search(CK_SESSION_HANDLE s, const uint8_t id[16], CK_OBJECT_HANDLE **found,
                         size_t *n)
{
    char label[TOMB_LABEL_LEN + 1];
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_TOKEN, &t, 1 },
                            { CKA_APPLICATION, (void *)APP, sizeof APP - 1 },
                            { CKA_LABEL, label, TOMB_LABEL_LEN } };

    tomb_label(label, id);
    return dep11_hsm_find_all(s, tmpl, sizeof tmpl / sizeof tmpl[0], found, n);
}

struct tomb_arg {
    const uint8_t *id;
    uint8_t *value;         /* NULL: presence only */
    size_t cap;
    size_t len;             /* of the chosen receipt */
    int present;
    const uint8_t *write;   /* the receipt to store (write only) */
    size_t write_len;
};

/* Reads CKA_VALUE of @h into a fresh buffer (at most DEP11_TOMBSTONE_MAX). */
static CK_RV read_value(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, uint8_t **out, size_t *len)
{
    CK_ATTRIBUTE a = { CKA_VALUE, NULL, 0 };
    CK_RV rv = dep11_hsm_GetAttributeValue(s, h, &a, 1);

    *out = NULL;
    if (rv != CKR_OK)
        return rv;
    if (a.ulValueLen == 0 || a.ulValueLen > DEP11_TOMBSTONE_MAX) {
        LOG_FAIL(CKR_GENERAL_ERROR, "tombstone value of %lu bytes", (unsigned long)a.ulValueLen);
        return CKR_GENERAL_ERROR;
    }
    a.pValue = malloc(a.ulValueLen);
    if (a.pValue == NULL)
        return CKR_HOST_MEMORY;
    rv = dep11_hsm_GetAttributeValue(s, h, &a, 1);
    if (rv != CKR_OK) {
        free(a.pValue);
        return rv;
    }
    *out = a.pValue;
    *len = a.ulValueLen;
    return CKR_OK;
}

/* Is @a (@al bytes) before @b (@bl) in byte order, shorter first on a tie? */
static int value_before(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);

    return c < 0 || (c == 0 && al < bl);
}

/* Presence, and with a->value the receipt of the tombstone every process
 * agrees on (the smallest value, should two purges have raced). */
static CK_RV tomb_find_fn(CK_SESSION_HANDLE s, void *arg)
{
    struct tomb_arg *a = arg;
    CK_OBJECT_HANDLE *found = NULL;
    uint8_t *best = NULL, *v = NULL;
    size_t n = 0, i = 0, best_len = 0, len = 0;
    CK_RV rv = tomb_search(s, a->id, &found, &n);

    a->present = rv == CKR_OK && n > 0;
    for (i = 0; rv == CKR_OK && a->value != NULL && i < n; i++) {
        rv = read_value(s, found[i], &v, &len);
        if (rv == CKR_OK && (best == NULL || value_before(v, len, best, best_len))) {
            free(best);
            best = v;
            best_len = len;
        } else {
            free(v);
        }
        v = NULL;
    }
    if (rv == CKR_OK && best != NULL) {
        a->len = best_len;
        if (a->cap < best_len) {
            rv = CKR_BUFFER_TOO_SMALL;
            LOG_FAIL(rv, "stored receipt is %zu bytes, buffer %zu", best_len, a->cap);
        } else {
            memcpy(a->value, best, best_len);
        }
    }
    free(best);
    free(found);
    return rv;
}

/**
 * See provider.h. @policy_id [in] 16 bytes; @value [out] NULL for a
 * presence check (one search), else the stored receipt, capacity in
 * *@value_len; *@value_len [out] its length; *@present [out] 1/0.
 * CKR_OK; CKR_ARGUMENTS_BAD; CKR_BUFFER_TOO_SMALL (*@value_len = length);
 * CKR_HOST_MEMORY; CKR_CRYPTOKI_NOT_INITIALIZED; backend codes.
 */
CK_RV dep11_provider_tombstone_find(const uint8_t policy_id[16], uint8_t *value,
                                    size_t *value_len, int *present)
{
    struct tomb_arg a;
    CK_RV rv = CKR_GENERAL_ERROR;

    memset(&a, 0, sizeof a);
    if (policy_id == NULL || present == NULL || (value != NULL && value_len == NULL)) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "bad arguments");
        return rv;
    }
    *present = 0;
    a.id = policy_id;
    a.value = value;
    a.cap = value != NULL ? *value_len : 0;
    rv = dep11_prov_run(tomb_find_fn, &a);
    *present = a.present;
    if (value_len != NULL && a.len != 0)
        *value_len = a.len;
    if (rv != CKR_OK)
        LOG_FAIL(rv, "tombstone look-up");
    return rv;
}

static CK_RV tomb_write_fn(CK_SESSION_HANDLE s, void *arg)
{
    struct tomb_arg *a = arg;
    char label[TOMB_LABEL_LEN + 1];
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL t = CK_TRUE, f = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof cls }, { CKA_TOKEN, &t, 1 }, { CKA_PRIVATE, &t, 1 },
        { CKA_MODIFIABLE, &f, 1 }, { CKA_APPLICATION, (void *)APP, sizeof APP - 1 },
        { CKA_LABEL, label, TOMB_LABEL_LEN },
        { CKA_VALUE, (void *)a->write, a->write_len },
    };
    CK_OBJECT_HANDLE *found = NULL, h = 0;
    size_t n = 0;
    CK_RV rv = tomb_search(s, a->id, &found, &n);

    free(found);
    if (rv != CKR_OK || n > 0) {
        a->present = n > 0;     /* already purged: keep what is there */
        return rv;
    }
    tomb_label(label, a->id);
    /* Twice on CKR_FUNCTION_FAILED: SoftHSM's file store answers that now
     * and then when two processes write the token at once. */
    for (int i = 0; i < 2; i++) {
        rv = dep11_hsm_CreateObject(s, tmpl, sizeof tmpl / sizeof tmpl[0], &h);
        if (rv != CKR_FUNCTION_FAILED)
            break;
    }
    return rv;
}

/**
 * See provider.h. @policy_id [in] 16 bytes; @receipt [in] @len bytes (1 to
 * DEP11_TOMBSTONE_MAX), stored as the tombstone's CKA_VALUE. When a
 * tombstone exists already nothing is written and CKR_OK is returned.
 * CKR_ARGUMENTS_BAD; CKR_DATA_LEN_RANGE; backend codes.
 */
CK_RV dep11_provider_tombstone_write(const uint8_t policy_id[16], const uint8_t *receipt,
                                     size_t len)
{
    struct tomb_arg a;
    CK_RV rv = CKR_GENERAL_ERROR;

    memset(&a, 0, sizeof a);
    if (policy_id == NULL || receipt == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "bad arguments");
        return rv;
    }
    if (len == 0 || len > DEP11_TOMBSTONE_MAX) {
        rv = CKR_DATA_LEN_RANGE;
        LOG_FAIL(rv, "receipt of %zu bytes", len);
        return rv;
    }
    a.id = policy_id;
    a.write = receipt;
    a.write_len = len;
    rv = dep11_prov_run(tomb_write_fn, &a);
    if (rv != CKR_OK)
        LOG_FAIL(rv, "writing the tombstone");
    else if (a.present)
        LOG_INFO("tombstone exists already: kept");
    return rv;
}

/* ---- the receipt signing key ---- */

static CK_RV point_fn(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub,
                      void *arg)
{
    uint8_t *point = arg, buf[DEP11_EC_POINT_LEN + 8];
    CK_ATTRIBUTE a = { CKA_EC_POINT, buf, sizeof buf };
    CK_RV rv = CKR_KEY_HANDLE_INVALID;

    (void)priv;
    if (pub == 0) {
        LOG_FAIL(rv, "signing key has no public half");
        return rv;
    }
    rv = dep11_hsm_GetAttributeValue(s, pub, &a, 1);
    if (rv != CKR_OK)
        return rv;
    /* PKCS#11 says DER OCTET STRING; some HSMs give the raw point. */
    if (a.ulValueLen == DEP11_EC_POINT_LEN + 2 && buf[0] == 0x04 &&
        buf[1] == DEP11_EC_POINT_LEN && buf[2] == 0x04) {
        memcpy(point, buf + 2, DEP11_EC_POINT_LEN);
        return CKR_OK;
    }
    if (a.ulValueLen == DEP11_EC_POINT_LEN && buf[0] == 0x04) {
        memcpy(point, buf, DEP11_EC_POINT_LEN);
        return CKR_OK;
    }
    rv = CKR_GENERAL_ERROR;
    LOG_FAIL(rv, "CKA_EC_POINT of %lu bytes is not an uncompressed P-256 point",
             (unsigned long)a.ulValueLen);
    return rv;
}

/**
 * See provider.h. @point [out] 0x04 || X || Y (65 bytes) of the provisioned
 * key. CKR_ARGUMENTS_BAD; CKR_GENERAL_ERROR (odd point); backend codes.
 */
CK_RV dep11_provider_sign_public(uint8_t point[DEP11_EC_POINT_LEN])
{
    CK_RV rv = CKR_GENERAL_ERROR;

    if (point == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL point");
        return rv;
    }
    rv = dep11_prov_with_sign_key(point_fn, point);
    if (rv != CKR_OK)
        LOG_FAIL(rv, "receipt signing key");
    return rv;
}

struct sign_arg {
    const uint8_t *digest;
    uint8_t *sig;
};

static CK_RV sign_fn(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub,
                     void *arg)
{
    struct sign_arg *a = arg;
    CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
    CK_ULONG len = DEP11_EC_SIG_LEN;
    CK_RV rv = dep11_hsm_SignInit(s, &m, priv);

    (void)pub;
    if (rv == CKR_OK)
        rv = dep11_hsm_Sign(s, (CK_BYTE_PTR)a->digest, 32, a->sig, &len);
    if (rv == CKR_OK && len != DEP11_EC_SIG_LEN) {
        rv = CKR_GENERAL_ERROR;
        LOG_FAIL(rv, "ECDSA signature of %lu bytes", (unsigned long)len);
    }
    return rv;
}

/**
 * See provider.h. @digest [in] SHA-256 of the signed bytes (computed by the
 * caller); @sig [out] r || s, 32 bytes each (PKCS#11's CKM_ECDSA output).
 * CKR_ARGUMENTS_BAD; backend codes.
 */
CK_RV dep11_provider_sign(const uint8_t digest[32], uint8_t sig[DEP11_EC_SIG_LEN])
{
    struct sign_arg a = { digest, sig };
    CK_RV rv = CKR_GENERAL_ERROR;

    if (digest == NULL || sig == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "bad arguments");
        return rv;
    }
    rv = dep11_prov_with_sign_key(sign_fn, &a);
    if (rv != CKR_OK)
        LOG_FAIL(rv, "receipt signature");
    return rv;
}

/* ---- registration evidence on a customer token ---- */

static CK_RV read_public(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, struct dep11_hsm_rsa *k)
{
    CK_ATTRIBUTE a[] = { { CKA_MODULUS, k->modulus, sizeof k->modulus },
                         { CKA_PUBLIC_EXPONENT, k->exponent, sizeof k->exponent } };
    CK_RV rv = CKR_GENERAL_ERROR;

    memset(k, 0, sizeof *k);
    rv = dep11_hsm_GetAttributeValue(s, h, a, 2);
    if (rv != CKR_OK)
        return rv;
    k->mod_len = a[0].ulValueLen;
    k->exp_len = a[1].ulValueLen;
    return CKR_OK;
}

/**
 * See provider.h. @s [in] a session on the customer token; @trusted_only 1:
 * only CKA_TRUSTED=TRUE public keys (the registered twins); @out [out]
 * capacity @cap, modulus and exponent filled (priv = CK_INVALID_HANDLE);
 * *@n [out] how many. Keys whose attributes do not fit are skipped.
 * CKR_ARGUMENTS_BAD; CKR_HOST_MEMORY; backend codes.
 */
CK_RV dep11_hsm_rsa_public_list(CK_SESSION_HANDLE s, int trusted_only,
                                struct dep11_hsm_rsa *out, size_t cap, size_t *n)
{
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_KEY_TYPE, &kt, sizeof kt },
                            { CKA_TRUSTED, &t, 1 } };
    CK_OBJECT_HANDLE *found = NULL;
    size_t count = 0, i = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (out == NULL || n == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "bad arguments");
        return rv;
    }
    *n = 0;
    rv = dep11_hsm_find_all(s, tmpl, trusted_only ? 3 : 2, &found, &count);
    for (i = 0; rv == CKR_OK && i < count && *n < cap; i++)
        if (read_public(s, found[i], &out[*n]) == CKR_OK)
            (*n)++;
    free(found);
    if (rv != CKR_OK)
        LOG_FAIL(rv, "listing RSA public keys");
    return rv;
}
