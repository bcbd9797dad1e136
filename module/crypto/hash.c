/*
 * hash.c - randomness from OpenSSL's private DRBG, SHA-256, and constant-time
 * comparison: the small primitives the rest of the module builds on.
 */
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto/crypto.h"
#include "crypto/fetch.h"
#include "util/log.h"
#include "util/secmem.h"

/* Largest request handed to OpenSSL at once (its lengths are int). */
#define CHUNK_MAX ((size_t)1 << 30)

/**
 * dep11_random - fills @buf with @n bytes from the private DRBG of dep11's own
 * OpenSSL library context (the one meant for keys; nonces take it too, which
 * costs nothing).
 * @buf [out] caller's buffer; @n may be 0.
 * Returns CKR_OK, CKR_ARGUMENTS_BAD (NULL buffer), CKR_FUNCTION_FAILED.
 */
CK_RV dep11_random(uint8_t *buf, size_t n)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    const struct dep11_algs *algs = NULL;
    size_t done = 0;

    if (buf == NULL && n != 0) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL buffer");
        goto out;
    }
    rv = dep11_crypto_algs(&algs);
    if (rv != CKR_OK)
        goto out;
    rv = CKR_GENERAL_ERROR;
    while (done < n) {
        size_t step = n - done < CHUNK_MAX ? n - done : CHUNK_MAX;
        if (RAND_priv_bytes_ex(algs->libctx, buf + done, step, 0) != 1) {
            rv = CKR_FUNCTION_FAILED;
            LOG_FAIL(rv, "RAND_priv_bytes_ex failed");
            dep11_cleanse(buf, n);
            goto out;
        }
        done += step;
    }
    rv = CKR_OK;
out:
    return rv;
}

/**
 * dep11_sha256 - SHA-256 of @data.
 * @data [in] @len bytes (NULL only when @len is 0); @out [out] 32 bytes.
 * Returns CKR_OK, CKR_ARGUMENTS_BAD, CKR_FUNCTION_FAILED.
 */
CK_RV dep11_sha256(const uint8_t *data, size_t len, uint8_t out[DEP11_SHA256_LEN])
{
    CK_RV rv = CKR_GENERAL_ERROR;
    const struct dep11_algs *algs = NULL;
    EVP_MD_CTX *md = NULL;
    unsigned int olen = 0;

    if ((data == NULL && len != 0) || out == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL argument");
        goto out;
    }
    rv = dep11_crypto_algs(&algs);
    if (rv != CKR_OK)
        goto out;
    md = EVP_MD_CTX_new();
    if (md == NULL) {
        rv = CKR_HOST_MEMORY;
        LOG_FAIL(rv, "EVP_MD_CTX_new");
        goto out;
    }
    if (EVP_DigestInit_ex2(md, algs->sha256, NULL) != 1 ||
        (len != 0 && EVP_DigestUpdate(md, data, len) != 1) ||
        EVP_DigestFinal_ex(md, out, &olen) != 1 || olen != DEP11_SHA256_LEN) {
        rv = CKR_FUNCTION_FAILED;
        LOG_FAIL(rv, "SHA-256 failed");
        goto out;
    }
    rv = CKR_OK;
out:
    EVP_MD_CTX_free(md);
    return rv;
}

/**
 * dep11_ct_equal - compares two @n-byte buffers in time independent of their
 * contents. Returns 1 when equal, 0 when not.
 */
int dep11_ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}
