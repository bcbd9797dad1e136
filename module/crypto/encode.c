/*
 * encode.c - encodings of public values through OpenSSL: base64, PEM, a
 * P-256 public key as DER SubjectPublicKeyInfo, and PKCS#11's raw ECDSA
 * signature (r || s) as a DER ECDSA-Sig-Value. No secrets come through
 * here (the purge receipt and its signing key use them).
 */
#include <limits.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "crypto/crypto.h"
#include "util/log.h"

/* DER prefix of a P-256 SubjectPublicKeyInfo (id-ecPublicKey, prime256v1,
 * BIT STRING of 66 bytes with no unused bits); the 65-byte point follows. */
static const uint8_t spki_prefix[DEP11_P256_SPKI_LEN - DEP11_P256_POINT_LEN] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
};

/**
 * dep11_base64 - standard base64 with padding, no line breaks, NUL-ended.
 * @cap is at least DEP11_BASE64_LEN(@n). CKR_OK; CKR_ARGUMENTS_BAD.
 */
CK_RV dep11_base64(const uint8_t *in, size_t n, char *out, size_t cap)
{
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (in == NULL || out == NULL || n > INT_MAX / 2 || cap < DEP11_BASE64_LEN(n)) {
        LOG_FAIL(rv, "base64 of %zu bytes into %zu", n, cap);
        return rv;
    }
    (void)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    return CKR_OK;
}

/**
 * dep11_p256_spki - the DER SubjectPublicKeyInfo of the uncompressed P-256
 * point @point (04 || X || Y, as CKA_EC_POINT's value). CKR_OK;
 * CKR_ARGUMENTS_BAD (not an uncompressed point).
 */
CK_RV dep11_p256_spki(const uint8_t point[DEP11_P256_POINT_LEN],
                      uint8_t spki[DEP11_P256_SPKI_LEN])
{
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (point == NULL || spki == NULL || point[0] != 0x04) {
        LOG_FAIL(rv, "not an uncompressed P-256 point");
        return rv;
    }
    memcpy(spki, spki_prefix, sizeof spki_prefix);
    memcpy(spki + sizeof spki_prefix, point, DEP11_P256_POINT_LEN);
    return CKR_OK;
}

/**
 * dep11_ecdsa_p256_der - PKCS#11's P-256 ECDSA signature @rs (r || s, 32
 * bytes each) as a DER ECDSA-Sig-Value into @der (DEP11_P256_SIG_DER_MAX
 * bytes); *@len gets its length. CKR_OK; CKR_ARGUMENTS_BAD; CKR_HOST_MEMORY.
 */
CK_RV dep11_ecdsa_p256_der(const uint8_t rs[DEP11_P256_SIG_LEN],
                           uint8_t der[DEP11_P256_SIG_DER_MAX], size_t *len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, DEP11_P256_SIG_LEN / 2, NULL);
    BIGNUM *s = BN_bin2bn(rs + DEP11_P256_SIG_LEN / 2, DEP11_P256_SIG_LEN / 2, NULL);
    unsigned char *p = der;
    int n = 0;
    CK_RV rv = CKR_HOST_MEMORY;

    if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
        LOG_FAIL(rv, "ECDSA-Sig-Value");
        goto out;
    }
    r = s = NULL; /* owned by sig */
    rv = CKR_ARGUMENTS_BAD;
    n = i2d_ECDSA_SIG(sig, NULL);
    if (n <= 0 || n > DEP11_P256_SIG_DER_MAX || i2d_ECDSA_SIG(sig, &p) != n) {
        LOG_FAIL(rv, "ECDSA-Sig-Value of %d bytes", n);
        goto out;
    }
    *len = (size_t)n;
    rv = CKR_OK;
out:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return rv;
}

/**
 * dep11_pem_encode - the PEM text of the @n DER bytes at @der under the
 * label @name ("-----BEGIN @name-----", base64 in lines of 64, the END
 * line), NUL-ended, into @out of @cap bytes; *@len gets its length
 * without the NUL. CKR_OK; CKR_ARGUMENTS_BAD (too long); CKR_HOST_MEMORY.
 */
CK_RV dep11_pem_encode(const char *name, const uint8_t *der, size_t n, char *out, size_t cap,
                       size_t *len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *text = NULL;
    long got = 0;
    CK_RV rv = CKR_HOST_MEMORY;

    if (bio == NULL || n > INT_MAX || PEM_write_bio(bio, name, "", der, (long)n) <= 0) {
        LOG_FAIL(rv, "PEM of %zu bytes", n);
        goto out;
    }
    got = BIO_get_mem_data(bio, &text);
    rv = CKR_ARGUMENTS_BAD;
    if (got <= 0 || (size_t)got >= cap) {
        LOG_FAIL(rv, "PEM of %ld bytes into %zu", got, cap);
        goto out;
    }
    memcpy(out, text, (size_t)got);
    out[got] = '\0';
    *len = (size_t)got;
    rv = CKR_OK;
out:
    BIO_free(bio);
    return rv;
}

/**
 * dep11_pem_holds - does @text (@n bytes) hold a PEM block labelled @name
 * whose content is the @der_len bytes at @der? The first block with that
 * label counts; text around it, other blocks before it, and how its base64
 * is broken into lines do not. 1 yes, 0 no (absent, malformed or other
 * bytes).
 */
int dep11_pem_holds(const char *text, size_t n, const char *name, const uint8_t *der,
                    size_t der_len)
{
    BIO *bio = n <= INT_MAX ? BIO_new_mem_buf(text, (int)n) : NULL;
    unsigned char *data = NULL;
    char *label = NULL;
    long len = 0;
    int r = 0;

    if (bio != NULL && PEM_bytes_read_bio(&data, &len, &label, name, bio, NULL, NULL) == 1)
        r = (size_t)len == der_len && memcmp(data, der, der_len) == 0;
    ERR_clear_error(); /* "no start line" is an answer here, not an error */
    OPENSSL_free(data);
    OPENSSL_free(label);
    BIO_free(bio);
    return r;
}

/**
 * dep11_rsa_spki_into - dep11_rsa_spki() into the caller's buffer: the DER
 * SubjectPublicKeyInfo of (@mod, @exp) into @out (@cap bytes); *@len gets
 * its length. CKR_OK; CKR_ARGUMENTS_BAD (it does not fit); the codes of
 * dep11_rsa_spki().
 */
CK_RV dep11_rsa_spki_into(const uint8_t *mod, size_t mod_len, const uint8_t *exp,
                          size_t exp_len, uint8_t *out, size_t cap, size_t *len)
{
    uint8_t *der = NULL;
    size_t n = 0;
    CK_RV rv = dep11_rsa_spki(mod, mod_len, exp, exp_len, &der, &n);

    if (rv == CKR_OK && (out == NULL || len == NULL || n > cap)) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "SPKI of %zu bytes into %zu", n, cap);
    }
    if (rv == CKR_OK) {
        memcpy(out, der, n);
        *len = n;
    }
    OPENSSL_free(der);
    return rv;
}
