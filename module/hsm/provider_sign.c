/*
 * provider_sign.c - the receipt signing key on the provider token
 * (provisioned by dep11-tool, found by provider_keys.c): its public half
 * and signatures over a caller's digest. The profile's receipt-signature
 * picks its kind: ecdsa (P-256, CKM_ECDSA) or rsa-pss (RSA,
 * CKM_RSA_PKCS_PSS with SHA-256, MGF1-SHA256 and a 32-byte salt) for HSMs
 * without EC. Encodings (SPKI, DER) are the caller's (hier/receipt.c).
 */
#include <stdlib.h>
#include <string.h>

#include "hsm/backend.h"
#include "hsm/internal.h"
#include "hsm/provider.h"
#include "hsm/provider_int.h"
#include "util/log.h"
#include "util/secmem.h"

/** See provider.h: CKK_RSA with receipt-signature = rsa-pss, else CKK_EC. */
CK_KEY_TYPE dep11_provider_sign_key_type(void)
{
    const struct dep11_profile *p = dep11_hsm_profile();

    return p != NULL && p->receipt_rsa_pss ? CKK_RSA : CKK_EC;
}

/* The uncompressed P-256 point of the public half @pub. */
static CK_RV ec_point(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, uint8_t *point)
{
    uint8_t buf[DEP11_EC_POINT_LEN + 8];
    CK_ATTRIBUTE a = { CKA_EC_POINT, buf, sizeof buf };
    CK_RV rv = dep11_hsm_GetAttributeValue(s, pub, &a, 1);

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

/* The modulus and public exponent of the RSA public half @pub. */
static CK_RV rsa_numbers(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub,
                         struct dep11_sign_public *out)
{
    CK_ATTRIBUTE a[] = { { CKA_MODULUS, out->modulus, sizeof out->modulus },
                         { CKA_PUBLIC_EXPONENT, out->exponent, sizeof out->exponent } };
    CK_RV rv = dep11_hsm_GetAttributeValue(s, pub, a, 2);

    if (rv == CKR_OK && (a[0].ulValueLen < 256 || a[1].ulValueLen == 0)) {
        rv = CKR_GENERAL_ERROR;
        LOG_FAIL(rv, "RSA receipt key: modulus of %lu bytes (at least 2048 bits wanted)",
                 (unsigned long)a[0].ulValueLen);
    }
    if (rv != CKR_OK)
        return rv;
    out->mod_len = a[0].ulValueLen;
    out->exp_len = a[1].ulValueLen;
    return CKR_OK;
}

static CK_RV public_fn(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub,
                       void *arg)
{
    struct dep11_sign_public *out = arg;
    CK_RV rv = CKR_KEY_HANDLE_INVALID;

    (void)priv;
    if (pub == 0) {
        LOG_FAIL(rv, "signing key has no public half");
        return rv;
    }
    return out->type == CKK_RSA ? rsa_numbers(s, pub, out) : ec_point(s, pub, out->point);
}

/**
 * See provider.h. @out [out] the key's kind and its public numbers.
 * CKR_ARGUMENTS_BAD; CKR_GENERAL_ERROR (odd point or modulus); backend codes.
 */
CK_RV dep11_provider_sign_public(struct dep11_sign_public *out)
{
    CK_RV rv = CKR_GENERAL_ERROR;

    if (out == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL out");
        return rv;
    }
    memset(out, 0, sizeof *out);
    out->type = dep11_provider_sign_key_type();
    rv = dep11_provider_with_sign_key(public_fn, out);
    if (rv != CKR_OK)
        LOG_FAIL(rv, "receipt signing key");
    return rv;
}

struct sign_arg {
    const uint8_t *digest;
    CK_KEY_TYPE type;
    uint8_t *sig;
    size_t cap, len;
};

static CK_RV sign_fn(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub,
                     void *arg)
{
    struct sign_arg *a = arg;
    CK_RSA_PKCS_PSS_PARAMS pss = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
    CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
    CK_ULONG len = a->cap;
    CK_RV rv = CKR_GENERAL_ERROR;

    (void)pub;
    if (a->type == CKK_RSA)
        m = (CK_MECHANISM){ CKM_RSA_PKCS_PSS, &pss, sizeof pss };
    rv = dep11_hsm_SignInit(s, &m, priv);
    if (rv == CKR_OK)
        rv = dep11_hsm_Sign(s, (CK_BYTE_PTR)a->digest, 32, a->sig, &len);
    if (rv == CKR_OK && a->type == CKK_EC && len != DEP11_EC_SIG_LEN) {
        rv = CKR_GENERAL_ERROR;
        LOG_FAIL(rv, "ECDSA signature of %lu bytes", (unsigned long)len);
    }
    if (rv == CKR_OK)
        a->len = len;
    return rv;
}

/**
 * See provider.h. @digest [in] SHA-256 of the signed bytes (computed by the
 * caller); @type [out] CKK_EC or CKK_RSA; @sig [out] r || s (32 bytes each,
 * CKM_ECDSA's output) or the RSASSA-PSS signature (the modulus length),
 * capacity in *@sig_len, length out. CKR_ARGUMENTS_BAD; backend codes.
 */
CK_RV dep11_provider_sign(const uint8_t digest[32], CK_KEY_TYPE *type, uint8_t *sig,
                          size_t *sig_len)
{
    struct sign_arg a = { digest, dep11_provider_sign_key_type(), sig, 0, 0 };
    CK_RV rv = CKR_GENERAL_ERROR;

    if (digest == NULL || type == NULL || sig == NULL || sig_len == NULL ||
        *sig_len < DEP11_EC_SIG_LEN) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "bad arguments");
        return rv;
    }
    a.cap = *sig_len;
    rv = dep11_provider_with_sign_key(sign_fn, &a);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "receipt signature (%s)", a.type == CKK_RSA ? "RSA-PSS" : "ECDSA");
        return rv;
    }
    *type = a.type;
    *sig_len = a.len;
    return CKR_OK;
}
