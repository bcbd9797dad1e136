/*
 * kdf.c - NIST SP 800-108 KBKDF in counter mode with HMAC-SHA256 through
 * OpenSSL's EVP_KDF "KBKDF" (fixed data: label || 0x00 || context || [L]32,
 * a 32-bit counter before it). Every suite 1 derivation goes through here.
 */
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "crypto/crypto.h"
#include "crypto/fetch.h"
#include "util/log.h"
#include "util/secmem.h"

/* Longest derivation dep11 asks for; far below the KDF's own 2^32-bit bound. */
#define KBKDF_OUT_MAX 1024
#define KBKDF_KEY_MAX 1024

static CK_RV kbkdf_check(const uint8_t *key, size_t key_len, const char *label,
                         const uint8_t *context, size_t context_len,
                         const uint8_t *out, size_t out_len)
{
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (key == NULL || key_len == 0 || key_len > KBKDF_KEY_MAX) {
        LOG_FAIL(rv, "bad key (len %zu)", key_len);
        return rv;
    }
    if (label == NULL || label[0] == '\0') {
        LOG_FAIL(rv, "empty label");
        return rv;
    }
    if (context == NULL && context_len != 0) {
        LOG_FAIL(rv, "NULL context of len %zu", context_len);
        return rv;
    }
    if (out == NULL || out_len == 0 || out_len > KBKDF_OUT_MAX) {
        LOG_FAIL(rv, "bad output length %zu", out_len);
        return rv;
    }
    return CKR_OK;
}

/**
 * dep11_kbkdf - derives @out_len bytes from @key (SP 800-108 counter mode,
 * HMAC-SHA256, r = 32, L = 32 bits, separator 0x00).
 * @key [in] @key_len bytes (1..1024); @label [in] non-empty NUL-terminated
 * ASCII, the purpose; @context [in] @context_len bytes (may be empty);
 * @out [out] @out_len bytes (1..1024), a secret the caller cleanses.
 * Returns CKR_OK, CKR_ARGUMENTS_BAD, CKR_HOST_MEMORY, CKR_FUNCTION_FAILED
 * (then @out is cleansed).
 */
CK_RV dep11_kbkdf(const uint8_t *key, size_t key_len, const char *label,
                  const uint8_t *context, size_t context_len,
                  uint8_t *out, size_t out_len)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    const struct dep11_algs *algs = NULL;
    EVP_KDF_CTX *kctx = NULL;
    OSSL_PARAM params[7];
    size_t np = 0;

    rv = kbkdf_check(key, key_len, label, context, context_len, out, out_len);
    if (rv != CKR_OK)
        goto out;
    rv = dep11_crypto_algs(&algs);
    if (rv != CKR_OK)
        goto out;
    kctx = EVP_KDF_CTX_new(algs->kbkdf);
    if (kctx == NULL) {
        rv = CKR_HOST_MEMORY;
        LOG_FAIL(rv, "EVP_KDF_CTX_new");
        goto out;
    }
    /* The casts drop const only for OSSL_PARAM's sake; OpenSSL copies. */
    params[np++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, (char *)"counter", 0);
    params[np++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, (char *)"HMAC", 0);
    params[np++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[np++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, key_len);
    params[np++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)label,
                                                     strlen(label));
    if (context_len != 0)
        params[np++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                         (void *)context, context_len);
    params[np] = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(kctx, out, out_len, params) != 1) {
        rv = CKR_FUNCTION_FAILED;
        LOG_FAIL(rv, "KBKDF derive failed");
        dep11_cleanse(out, out_len);
        goto out;
    }
    rv = CKR_OK;
out:
    EVP_KDF_CTX_free(kctx); /* frees (and cleanses) its copy of the key */
    return rv;
}
