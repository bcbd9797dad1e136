/*
 * provider_sign.c - the receipt signing key on the provider token (ECDSA
 * P-256 in the HSM; provisioned by dep11-tool, found by provider_keys.c):
 * its public point and signatures over a caller's digest.
 */
#include <stdlib.h>
#include <string.h>

#include "hsm/backend.h"
#include "hsm/internal.h"
#include "hsm/provider.h"
#include "hsm/provider_int.h"
#include "util/log.h"
#include "util/secmem.h"

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
    rv = dep11_provider_with_sign_key(point_fn, point);
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
    rv = dep11_provider_with_sign_key(sign_fn, &a);
    if (rv != CKR_OK)
        LOG_FAIL(rv, "receipt signature");
    return rv;
}
