/*
 * gcm.c - AES-256-GCM through EVP: a streaming context that operations
 * reuse across start() calls (parked in between with its key schedule
 * wiped), and one-shot seal/open built on it. The cipher is fetched once
 * per process (fetch.c).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "crypto/crypto.h"
#include "crypto/fetch.h"
#include "util/log.h"
#include "util/secmem.h"

#define GCM_KEY_LEN 32
#define GCM_TAG_LEN 16
#define GCM_TAG_MIN 4
#define GCM_IV_MAX 128 /* OpenSSL's bound on a GCM IV (1024 bits) */
#define STEP_MAX ((size_t)1 << 30)

enum gcm_state { GCM_IDLE = 0, GCM_RUNNING = 1 };

struct dep11_gcm {
    EVP_CIPHER_CTX *ctx;
    int encrypt;
    enum gcm_state state;
    int ready; /* ctx holds the cipher: a start re-keys its provider context */
    size_t ivlen; /* the IV length the context is set to (while ready) */
};

/* Sets @g's IV length to @ivlen unless it is that already (setting it is
 * a parameter look-up by name in OpenSSL: skipped on the hot path, where
 * every message has the same length). @cipher: NULL once ready. 1 = ok. */
static int set_ivlen(struct dep11_gcm *g, const EVP_CIPHER *cipher, int enc, size_t ivlen)
{
    OSSL_PARAM params[2];

    if (cipher == NULL && g->ivlen == ivlen)
        return 1;
    params[0] = OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &ivlen);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_CipherInit_ex2(g->ctx, cipher, NULL, NULL, enc, params) != 1)
        return 0;
    g->ivlen = ivlen;
    return 1;
}

/**
 * dep11_gcm_new - allocates a streaming GCM context.
 * @out [out] the context; the caller frees it with dep11_gcm_free().
 * Returns CKR_OK, CKR_ARGUMENTS_BAD, CKR_HOST_MEMORY, CKR_FUNCTION_FAILED.
 */
CK_RV dep11_gcm_new(struct dep11_gcm **out)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    const struct dep11_algs *algs = NULL;
    struct dep11_gcm *g = NULL;

    if (out == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL output");
        goto out;
    }
    *out = NULL;
    rv = dep11_crypto_algs(&algs); /* fail early when GCM is missing */
    if (rv != CKR_OK)
        goto out;
    g = calloc(1, sizeof(*g));
    if (g == NULL || (g->ctx = EVP_CIPHER_CTX_new()) == NULL) {
        rv = CKR_HOST_MEMORY;
        LOG_FAIL(rv, "GCM context allocation");
        goto out;
    }
    *out = g;
    g = NULL;
    rv = CKR_OK;
out:
    dep11_gcm_free(g);
    return rv;
}

/**
 * dep11_gcm_free - frees @g and the key schedule it holds (OpenSSL cleanses
 * its cipher data on free). NULL is a no-op.
 */
void dep11_gcm_free(struct dep11_gcm *g)
{
    if (g == NULL)
        return;
    EVP_CIPHER_CTX_free(g->ctx);
    dep11_cleanse(g, sizeof(*g));
    free(g);
}

/**
 * dep11_gcm_park - wipes what the last message left in @g but keeps its
 * OpenSSL context for the next dep11_gcm_start() (no allocation there):
 * the context is re-keyed with an all-zero key and IV, which replaces the
 * key schedule, the GHASH key and the tag mask, and one byte is run
 * through it so the last keystream block is replaced too. Should that
 * fail, the context is reset (OpenSSL cleanses and frees its state).
 * NULL is a no-op.
 */
void dep11_gcm_park(struct dep11_gcm *g)
{
    static const uint8_t zero[GCM_KEY_LEN];
    uint8_t scratch[1];
    int outl = 0;

    if (g == NULL)
        return;
    g->state = GCM_IDLE;
    if (!g->ready)
        return; /* never keyed, or reset after a failure */
    if (!set_ivlen(g, NULL, 1, 12) ||
        EVP_CipherInit_ex2(g->ctx, NULL, zero, zero, 1, NULL) != 1 ||
        EVP_CipherUpdate(g->ctx, scratch, &outl, zero, 1) != 1) {
        LOG_WARN("GCM park by re-key failed: context reset instead");
        EVP_CIPHER_CTX_reset(g->ctx);
        g->ready = 0;
    }
    dep11_cleanse(scratch, sizeof(scratch));
}

/**
 * dep11_gcm_start - (re)starts @g for one message: key, IV and the whole AAD.
 * @encrypt [in] 1 seal, 0 open; @key [in] 32 bytes; @iv [in] @iv_len bytes
 * (1..128); @aad [in] @aad_len bytes (NULL when 0).
 * Returns CKR_OK, CKR_ARGUMENTS_BAD, CKR_FUNCTION_FAILED.
 */
CK_RV dep11_gcm_start(struct dep11_gcm *g, int encrypt, const uint8_t *key,
                      const uint8_t *iv, size_t iv_len,
                      const uint8_t *aad, size_t aad_len)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    const struct dep11_algs *algs = NULL;
    int outl = 0;

    if (g == NULL || g->ctx == NULL || key == NULL || iv == NULL ||
        iv_len == 0 || iv_len > GCM_IV_MAX || (aad == NULL && aad_len != 0)) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "bad GCM start arguments (iv_len %zu)", iv_len);
        goto out;
    }
    g->state = GCM_IDLE;
    g->encrypt = encrypt ? 1 : 0;
    rv = dep11_crypto_algs(&algs);
    if (rv != CKR_OK)
        goto out;
    /* The IV length must be set before the IV itself: two init steps (the
     * first skipped when the length is set already). Passing the cipher
     * again would reset the context and allocate a new provider context;
     * once it is set, NULL re-keys the one there. */
    if (!set_ivlen(g, g->ready ? NULL : algs->gcm, g->encrypt, iv_len) ||
        EVP_CipherInit_ex2(g->ctx, NULL, key, iv, g->encrypt, NULL) != 1) {
        rv = CKR_FUNCTION_FAILED;
        LOG_FAIL(rv, "GCM init failed");
        EVP_CIPHER_CTX_reset(g->ctx); /* wipes a half-set key; start afresh */
        g->ready = 0;
        goto out;
    }
    g->ready = 1;
    for (size_t done = 0; done < aad_len;) {
        size_t step = aad_len - done < STEP_MAX ? aad_len - done : STEP_MAX;
        if (EVP_CipherUpdate(g->ctx, NULL, &outl, aad + done, (int)step) != 1) {
            rv = CKR_FUNCTION_FAILED;
            LOG_FAIL(rv, "GCM AAD failed");
            goto out;
        }
        done += step;
    }
    g->state = GCM_RUNNING;
    rv = CKR_OK;
out:
    return rv;
}

/**
 * dep11_gcm_update - seals or opens the next @len bytes of @in into @out
 * (exactly @len bytes; @in == @out allowed). On open the output is not yet
 * authenticated: the caller keeps it until dep11_gcm_finish_open() says OK.
 * Returns CKR_OK, CKR_ARGUMENTS_BAD (not started, NULL buffers),
 * CKR_FUNCTION_FAILED.
 */
CK_RV dep11_gcm_update(struct dep11_gcm *g, const uint8_t *in, size_t len, uint8_t *out)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    int outl = 0;

    if (g == NULL || g->state != GCM_RUNNING ||
        (len != 0 && (in == NULL || out == NULL))) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "GCM update without start or with NULL buffers");
        goto out;
    }
    for (size_t done = 0; done < len;) {
        size_t step = len - done < STEP_MAX ? len - done : STEP_MAX;
        if (EVP_CipherUpdate(g->ctx, out + done, &outl, in + done, (int)step) != 1 ||
            (size_t)outl != step) {
            rv = CKR_FUNCTION_FAILED;
            LOG_FAIL(rv, "GCM update failed");
            g->state = GCM_IDLE;
            goto out;
        }
        done += step;
    }
    rv = CKR_OK;
out:
    return rv;
}

/**
 * dep11_gcm_finish_seal - ends a seal and writes the 16-byte tag.
 * Returns CKR_OK, CKR_ARGUMENTS_BAD (not a running seal), CKR_FUNCTION_FAILED.
 */
CK_RV dep11_gcm_finish_seal(struct dep11_gcm *g, uint8_t tag[16])
{
    CK_RV rv = CKR_GENERAL_ERROR;
    uint8_t last[GCM_TAG_LEN];
    int outl = 0;

    if (g == NULL || g->state != GCM_RUNNING || !g->encrypt || tag == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "finish_seal without a running seal");
        goto out;
    }
    g->state = GCM_IDLE;
    if (EVP_EncryptFinal_ex(g->ctx, last, &outl) != 1 || outl != 0 ||
        EVP_CIPHER_CTX_ctrl(g->ctx, EVP_CTRL_AEAD_GET_TAG, GCM_TAG_LEN, tag) != 1) {
        rv = CKR_FUNCTION_FAILED;
        LOG_FAIL(rv, "GCM final failed");
        goto out;
    }
    rv = CKR_OK;
out:
    return rv;
}

/**
 * dep11_gcm_finish_open - ends an open by checking @tag (@tag_len 4..16).
 * Returns CKR_OK, CKR_ENCRYPTED_DATA_INVALID (tag mismatch: the caller must
 * discard and cleanse what update() produced), CKR_ARGUMENTS_BAD.
 */
CK_RV dep11_gcm_finish_open(struct dep11_gcm *g, const uint8_t *tag, size_t tag_len)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    uint8_t last[GCM_TAG_LEN];
    uint8_t tbuf[GCM_TAG_LEN];
    int outl = 0;

    if (g == NULL || g->state != GCM_RUNNING || g->encrypt || tag == NULL ||
        tag_len < GCM_TAG_MIN || tag_len > GCM_TAG_LEN) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "finish_open without a running open, or tag_len %zu", tag_len);
        goto out;
    }
    g->state = GCM_IDLE;
    memcpy(tbuf, tag, tag_len); /* the ctrl takes a non-const pointer */
    if (EVP_CIPHER_CTX_ctrl(g->ctx, EVP_CTRL_AEAD_SET_TAG, (int)tag_len, tbuf) != 1) {
        rv = CKR_FUNCTION_FAILED;
        LOG_FAIL(rv, "GCM set tag failed");
        goto out;
    }
    if (EVP_DecryptFinal_ex(g->ctx, last, &outl) != 1) {
        rv = CKR_ENCRYPTED_DATA_INVALID;
        LOG_FAIL(rv, "GCM tag mismatch");
        goto out;
    }
    rv = CKR_OK;
out:
    return rv;
}

/**
 * dep11_gcm_seal - one-shot AES-256-GCM encryption.
 * @key [in] 32 bytes; @iv [in] @iv_len (1..128); @aad [in] @aad_len bytes;
 * @pt [in] @len bytes; @ct [out] @len bytes (may be @pt); @tag [out] 16.
 * Returns CKR_OK, CKR_ARGUMENTS_BAD, CKR_HOST_MEMORY, CKR_FUNCTION_FAILED
 * (then @ct is cleansed).
 */
CK_RV dep11_gcm_seal(const uint8_t *key, const uint8_t *iv, size_t iv_len,
                     const uint8_t *aad, size_t aad_len,
                     const uint8_t *pt, size_t len, uint8_t *ct, uint8_t *tag)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    struct dep11_gcm *g = NULL;

    if (tag == NULL || (len != 0 && (pt == NULL || ct == NULL))) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL buffer");
        goto out;
    }
    rv = dep11_gcm_new(&g);
    if (rv != CKR_OK)
        goto out;
    rv = dep11_gcm_start(g, 1, key, iv, iv_len, aad, aad_len);
    if (rv == CKR_OK)
        rv = dep11_gcm_update(g, pt, len, ct);
    if (rv == CKR_OK)
        rv = dep11_gcm_finish_seal(g, tag);
    if (rv != CKR_OK && ct != NULL)
        dep11_cleanse(ct, len);
out:
    dep11_gcm_free(g);
    return rv;
}

/**
 * dep11_gcm_open - one-shot AES-256-GCM decryption and tag check.
 * @ct [in] @len bytes; @tag [in] @tag_len bytes (4..16); @pt [out] @len bytes
 * (may be @ct). Returns CKR_OK, CKR_ENCRYPTED_DATA_INVALID (bad tag; @pt is
 * cleansed), CKR_ARGUMENTS_BAD, CKR_HOST_MEMORY, CKR_FUNCTION_FAILED (@pt
 * cleansed).
 */
CK_RV dep11_gcm_open(const uint8_t *key, const uint8_t *iv, size_t iv_len,
                     const uint8_t *aad, size_t aad_len,
                     const uint8_t *ct, size_t len,
                     const uint8_t *tag, size_t tag_len, uint8_t *pt)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    struct dep11_gcm *g = NULL;

    if (tag == NULL || (len != 0 && (pt == NULL || ct == NULL))) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL buffer");
        goto out;
    }
    rv = dep11_gcm_new(&g);
    if (rv != CKR_OK)
        goto out;
    rv = dep11_gcm_start(g, 0, key, iv, iv_len, aad, aad_len);
    if (rv == CKR_OK)
        rv = dep11_gcm_update(g, ct, len, pt);
    if (rv == CKR_OK)
        rv = dep11_gcm_finish_open(g, tag, tag_len);
    /* Unauthenticated plaintext never leaves: wipe it on any failure. */
    if (rv != CKR_OK && pt != NULL)
        dep11_cleanse(pt, len);
out:
    dep11_gcm_free(g);
    return rv;
}
