/*
 * rsa.c - the public half of a root key: its DER SubjectPublicKeyInfo, its
 * identity (SHA-256 of that DER), and RSA-OAEP encryption to it. Only public
 * values come through here; private-key operations happen in the HSM.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "crypto/crypto.h"
#include "crypto/fetch.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/secmem.h"

#define RSA_MIN_BITS 1024
#define RSA_EXP_MAX 8

/* Skips leading zero bytes (CKA_MODULUS may carry a sign byte). */
static void strip(const uint8_t **p, size_t *len)
{
    while (*len > 0 && (*p)[0] == 0) {
        (*p)++;
        (*len)--;
    }
}

static CK_RV check_public(const uint8_t *mod, size_t mod_len,
                          const uint8_t *exp, size_t exp_len)
{
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (mod == NULL || exp == NULL) {
        LOG_FAIL(rv, "NULL modulus or exponent");
        return rv;
    }
    strip(&mod, &mod_len);
    strip(&exp, &exp_len);
    if (mod_len == 0 || mod_len > DEP11_RSA_MAX_BYTES ||
        mod_len * 8 < RSA_MIN_BITS || (mod[mod_len - 1] & 1) == 0) {
        LOG_FAIL(rv, "modulus of %zu bytes out of range or even", mod_len);
        return rv;
    }
    if (exp_len == 0 || exp_len > RSA_EXP_MAX || (exp[exp_len - 1] & 1) == 0 ||
        (exp_len == 1 && exp[0] < 3)) {
        LOG_FAIL(rv, "public exponent out of range");
        return rv;
    }
    return CKR_OK;
}

/* The RSA key manager by its OID, one of the names the default provider
 * gives it. Not "RSA": OpenSSL 3.0 maps that name to a NID and, when an
 * ENGINE is the default for RSA (libp11's, as `openssl -engine pkcs11`
 * sets), hands the context to the engine's legacy method whatever library
 * context is passed, and EVP_PKEY_fromdata then fails. A name without a NID
 * goes straight to the provider of dep11's own library context. */
#define RSA_KEYMGMT_NAME "1.2.840.113549.1.1.1"

/* Builds an EVP_PKEY holding only (n, e), in dep11's library context. */
static CK_RV public_key(const uint8_t *mod, size_t mod_len, const uint8_t *exp,
                        size_t exp_len, EVP_PKEY **out)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    BIGNUM *n = NULL, *e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    const struct dep11_algs *algs = NULL;

    rv = check_public(mod, mod_len, exp, exp_len);
    if (rv == CKR_OK)
        rv = dep11_crypto_algs(&algs);
    if (rv != CKR_OK)
        goto out;
    rv = CKR_GENERAL_ERROR;
    n = BN_bin2bn(mod, (int)mod_len, NULL);
    e = BN_bin2bn(exp, (int)exp_len, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (n == NULL || e == NULL || bld == NULL) {
        rv = CKR_HOST_MEMORY;
        LOG_FAIL(rv, "BIGNUM or param builder allocation");
        goto out;
    }
    if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1 ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
        (ctx = EVP_PKEY_CTX_new_from_name(algs->libctx, RSA_KEYMGMT_NAME, NULL)) == NULL ||
        EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        rv = CKR_FUNCTION_FAILED;
        LOG_FAIL(rv, "building the RSA public key failed");
        goto out;
    }
    rv = CKR_OK;
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(e);
    BN_free(n);
    return rv;
}

/**
 * dep11_rsa_spki - DER SubjectPublicKeyInfo (rsaEncryption, NULL parameters)
 * of the public key (@mod, @exp), both big-endian, leading zeros ignored.
 * The modulus must be odd and 1024..4096 bits, the exponent odd, 3..2^64-1.
 * @der [out] allocated with OPENSSL_malloc, freed by the caller with
 * OPENSSL_free; @der_len [out] its length.
 * Returns CKR_OK, CKR_ARGUMENTS_BAD, CKR_HOST_MEMORY, CKR_FUNCTION_FAILED.
 */
CK_RV dep11_rsa_spki(const uint8_t *mod, size_t mod_len, const uint8_t *exp,
                     size_t exp_len, uint8_t **der, size_t *der_len)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    EVP_PKEY *pkey = NULL;
    unsigned char *buf = NULL;
    int len = 0;

    if (der == NULL || der_len == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL output");
        goto out;
    }
    *der = NULL;
    *der_len = 0;
    rv = public_key(mod, mod_len, exp, exp_len, &pkey);
    if (rv != CKR_OK)
        goto out;
    len = i2d_PUBKEY(pkey, &buf);
    if (len <= 0 || buf == NULL) {
        rv = CKR_FUNCTION_FAILED;
        LOG_FAIL(rv, "i2d_PUBKEY failed");
        goto out;
    }
    *der = buf;
    *der_len = (size_t)len;
    rv = CKR_OK;
out:
    EVP_PKEY_free(pkey);
    return rv;
}

/* Identities computed before (public values only): a cold unwrap would
 * otherwise rebuild an EVP_PKEY and its DER for every candidate root. Keyed
 * by the SHA-256 of the public numbers as given; round robin. The lock is a
 * leaf and only tried: a busy lock (or one a fork left held) means no memo. */
#define ID_MEMO 16
#define ID_MEMO_IN_MAX 1100 /* 8 + a 4096-bit modulus + an 8-byte exponent */
static struct {
    uint8_t numbers[DEP11_SHA256_LEN];
    uint8_t id[DEP11_SHA256_LEN];
    int used;
} id_memo[ID_MEMO];
static unsigned id_next;
static dep11_mutex_t id_lock = DEP11_MUTEX_INIT;

/* The memo key of (@mod, @exp): SHA-256 of len32(mod) || mod || len32(exp)
 * || exp. 0 = ok. */
static int numbers_digest(const uint8_t *mod, size_t mod_len, const uint8_t *exp,
                          size_t exp_len, uint8_t out[DEP11_SHA256_LEN])
{
    uint8_t in[ID_MEMO_IN_MAX];
    size_t n = 0;

    if (mod == NULL || exp == NULL || mod_len + exp_len + 8 > sizeof in)
        return -1;
    for (int i = 3; i >= 0; i--)
        in[n++] = (uint8_t)(mod_len >> (8 * i));
    memcpy(in + n, mod, mod_len);
    n += mod_len;
    for (int i = 3; i >= 0; i--)
        in[n++] = (uint8_t)(exp_len >> (8 * i));
    memcpy(in + n, exp, exp_len);
    n += exp_len;
    return dep11_sha256(in, n, out) == CKR_OK ? 0 : -1;
}

/* Looks @numbers up (@store 0) or stores @id under it (@store 1). 1 = hit. */
static int id_memo_use(const uint8_t *numbers, uint8_t *id, int store)
{
    int hit = 0;

    if (pthread_mutex_trylock(&id_lock) != 0)
        return 0;
    for (unsigned i = 0; !store && !hit && i < ID_MEMO; i++)
        if (id_memo[i].used && dep11_ct_equal(id_memo[i].numbers, numbers, DEP11_SHA256_LEN)) {
            memcpy(id, id_memo[i].id, DEP11_SHA256_LEN);
            hit = 1;
        }
    if (store) {
        memcpy(id_memo[id_next].numbers, numbers, DEP11_SHA256_LEN);
        memcpy(id_memo[id_next].id, id, DEP11_SHA256_LEN);
        id_memo[id_next].used = 1;
        id_next = (id_next + 1) % ID_MEMO;
    }
    dep11_unlock(&id_lock);
    return hit;
}

/**
 * dep11_rsa_identity - a root's stable identity: SHA-256 of its DER SPKI.
 * @id [out] 32 bytes. Returns the codes of dep11_rsa_spki() (a key seen
 * before is answered from a memo of public values).
 */
CK_RV dep11_rsa_identity(const uint8_t *mod, size_t mod_len, const uint8_t *exp,
                         size_t exp_len, uint8_t id[DEP11_SHA256_LEN])
{
    CK_RV rv = CKR_GENERAL_ERROR;
    uint8_t *der = NULL;
    size_t der_len = 0;
    uint8_t numbers[DEP11_SHA256_LEN];
    int memo = 0;

    if (id == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL output");
        goto out;
    }
    memo = numbers_digest(mod, mod_len, exp, exp_len, numbers) == 0;
    if (memo && id_memo_use(numbers, id, 0))
        return CKR_OK;
    rv = dep11_rsa_spki(mod, mod_len, exp, exp_len, &der, &der_len);
    if (rv != CKR_OK)
        goto out;
    rv = dep11_sha256(der, der_len, id);
    if (rv == CKR_OK && memo)
        (void)id_memo_use(numbers, id, 1);
out:
    OPENSSL_free(der);
    return rv;
}

/**
 * dep11_rsa_has_identity - is @id (@id_len bytes) the identity of the RSA
 * public key (@mod, @exp)? 1 yes; 0 no, or the key is malformed.
 */
int dep11_rsa_has_identity(const uint8_t *mod, size_t mod_len, const uint8_t *exp,
                           size_t exp_len, const uint8_t *id, size_t id_len)
{
    uint8_t mine[DEP11_SHA256_LEN];

    if (id == NULL || id_len != sizeof mine ||
        dep11_rsa_identity(mod, mod_len, exp, exp_len, mine) != CKR_OK)
        return 0;
    return memcmp(mine, id, sizeof mine) == 0;
}

static CK_RV oaep_md(CK_MECHANISM_TYPE hash, const EVP_MD **md, size_t *hlen,
                     OSSL_LIB_CTX **libctx)
{
    const struct dep11_algs *algs = NULL;
    CK_RV rv = dep11_crypto_algs(&algs);

    if (rv != CKR_OK)
        return rv;
    *libctx = algs->libctx;
    if (hash == CKM_SHA_1) {
        *md = algs->sha1;
        *hlen = 20;
    } else if (hash == CKM_SHA256) {
        *md = algs->sha256;
        *hlen = 32;
    } else {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "OAEP hash 0x%lx is neither SHA-1 nor SHA-256", (unsigned long)hash);
    }
    return rv;
}

/**
 * dep11_rsa_oaep_encrypt - RSA-OAEP encryption of @pt to (@mod, @exp) with
 * @hash (CKM_SHA_1 or CKM_SHA256) for both OAEP and MGF1 and an empty label.
 * @pt [in] @pt_len bytes, 1..k-2*hLen-2; @ct [out] room for the modulus
 * length k; @ct_len [out] k. Returns CKR_OK, CKR_ARGUMENTS_BAD (sizes, hash,
 * key), CKR_HOST_MEMORY, CKR_FUNCTION_FAILED.
 */
CK_RV dep11_rsa_oaep_encrypt(const uint8_t *mod, size_t mod_len,
                             const uint8_t *exp, size_t exp_len,
                             CK_MECHANISM_TYPE hash, const uint8_t *pt,
                             size_t pt_len, uint8_t *ct, size_t *ct_len)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    const EVP_MD *md = NULL;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    OSSL_LIB_CTX *libctx = NULL;
    size_t hlen = 0, k = 0, outl = 0;

    if (pt == NULL || pt_len == 0 || ct == NULL || ct_len == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL or empty buffer");
        goto out;
    }
    rv = oaep_md(hash, &md, &hlen, &libctx);
    if (rv == CKR_OK)
        rv = public_key(mod, mod_len, exp, exp_len, &pkey);
    if (rv != CKR_OK)
        goto out;
    k = (size_t)EVP_PKEY_get_size(pkey);
    if (k < 2 * hlen + 2 || pt_len > k - 2 * hlen - 2) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "%zu bytes do not fit OAEP in a %zu-byte modulus", pt_len, k);
        goto out;
    }
    outl = k;
    ctx = EVP_PKEY_CTX_new_from_pkey(libctx, pkey, NULL);
    if (ctx == NULL || EVP_PKEY_encrypt_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1 ||
        EVP_PKEY_encrypt(ctx, ct, &outl, pt, pt_len) != 1 || outl != k) {
        rv = CKR_FUNCTION_FAILED;
        LOG_FAIL(rv, "RSA-OAEP encryption failed");
        goto out;
    }
    *ct_len = outl;
    rv = CKR_OK;
out:
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return rv;
}
