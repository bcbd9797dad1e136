/*
 * aead.c - data encryption on module-side keys: CKM_DEP11_AEAD (mailbox,
 * workload, chunk keys), CKM_DEP11_CHUNK_AEAD (site keys, chunk key derived
 * inside the op) and standard CKM_AES_GCM, one-shot and multi-part. Decrypt
 * releases no plaintext before the tag verifies.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hier/hier.h"
#include "crypto/crypto.h"
#include "crypto/suite1.h"
#include "util/log.h"
#include "util/secmem.h"

#define IV_MAX 128                       /* OpenSSL's bound on a GCM IV */
#define GCM_PT_MAX ((1ULL << 36) - 32)   /* SP 800-38D bound per nonce */

/* CK_GCM_PARAMS as some PKCS#11 2.40 headers have it: without ulIvBits. */
struct gcm_params_40 {
    CK_BYTE_PTR pIv;
    CK_ULONG ulIvLen;
    CK_BYTE_PTR pAAD;
    CK_ULONG ulAADLen;
    CK_ULONG ulTagBits;
};

enum aead_kind {
    KIND_DEP11,  /* CKM_DEP11_AEAD and CKM_DEP11_CHUNK_AEAD: nonce||ct||tag */
    KIND_GCM,    /* CKM_AES_GCM with the caller's IV: ct||tag */
};

/* DESIGN section 3: AAD above 64 KiB is CKR_MECHANISM_PARAM_INVALID (for
 * CKM_DEP11_AEAD, and for CKM_AES_GCM on module keys), refused before any
 * allocation. */
#define AAD_MAX DEP11_AAD_MAX

/* A decrypt buffer up to this size stays with a parked op (cleansed). */
#define BUF_KEEP_MAX (64 * 1024)

struct dep11_aead_op {
    /* Kept while the op is parked, for the next op of the same session and
     * direction (dep11_aead_reinit); cleansed by dep11_aead_park(). */
    uint8_t *key;              /* DEP11_KEY_LEN bytes in secmem */
    struct dep11_gcm *gcm;     /* one context for the whole op, and the next */
    uint8_t *aad;              /* copied at init; aad_cap bytes allocated */
    size_t aad_cap;
    uint8_t *buf;              /* multi-part decrypt: the input so far */
    size_t buf_cap;
    int parked;                /* cleansed: nothing of the last op is left */
    /* One operation's state: zeroed by park(). */
    int encrypt;
    enum aead_kind kind;
    size_t aad_len;
    uint8_t iv[IV_MAX];        /* KIND_GCM: the caller's IV */
    size_t iv_len;
    size_t tag_len;            /* 16, or the caller's ulTagBits / 8 */
    int multi;                 /* an update has been seen */
    int started;               /* multi-part encrypt: GCM running */
    int ended;                 /* a result that ends the op was returned */
    uint64_t total;            /* multi-part encrypt: plaintext so far */
    size_t buf_len;
};

/* Bytes the output carries beyond the plaintext, and before it. */
static size_t overhead(const struct dep11_aead_op *op)
{
    return op->kind == KIND_GCM ? op->tag_len : DEP11_AEAD_OVERHEAD;
}

static size_t prefix(const struct dep11_aead_op *op)
{
    return op->kind == KIND_GCM ? 0 : DEP11_NONCE_LEN;
}

static int overlaps(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    return a != NULL && b != NULL && an != 0 && bn != 0 && a < b + bn && b < a + an;
}

/* Copies the AAD at init: @head (the chunk AAD, @hlen bytes, or none) then
 * the caller's @aad. A NULL pointer with a length, and more than AAD_MAX
 * caller bytes, are refused. */
static CK_RV copy_aad(struct dep11_aead_op *op, const uint8_t *head, size_t hlen,
                      const uint8_t *aad, CK_ULONG len)
{
    CK_RV rv = CKR_MECHANISM_PARAM_INVALID;

    if (aad == NULL && len != 0) {
        LOG_FAIL(rv, "AAD pointer NULL with length %lu", (unsigned long)len);
        return rv;
    }
    if (len > AAD_MAX) {
        LOG_FAIL(rv, "AAD of %lu bytes (at most %lu)", (unsigned long)len, (unsigned long)AAD_MAX);
        return rv;
    }
    if (hlen + len == 0)
        return CKR_OK;
    if (hlen + len > op->aad_cap) { /* a parked op's buffer is cleansed already */
        free(op->aad);
        op->aad_cap = 0;
        if ((op->aad = malloc(hlen + len)) == NULL) {
            rv = CKR_HOST_MEMORY;
            LOG_FAIL(rv, "AAD copy of %lu bytes", (unsigned long)(hlen + len));
            return rv;
        }
        op->aad_cap = hlen + len;
    }
    if (hlen != 0)
        memcpy(op->aad, head, hlen);
    if (len != 0)
        memcpy(op->aad + hlen, aad, len);
    op->aad_len = hlen + len;
    return CKR_OK;
}

/* The flat forms are told apart from the pointer forms by their length. */
_Static_assert(sizeof(CK_DEP11_AEAD_FLAT_PARAMS) != sizeof(CK_DEP11_AEAD_PARAMS),
               "flat and pointer AEAD parameters must differ in size");
_Static_assert(sizeof(CK_DEP11_CHUNK_FLAT_PARAMS) != sizeof(CK_DEP11_CHUNK_PARAMS),
               "flat and classic chunk parameters must differ in size");
_Static_assert(offsetof(CK_DEP11_AEAD_FLAT_PARAMS, ulVersion) ==
                   sizeof(CK_DEP11_AEAD_FLAT_PARAMS) - 3 * sizeof(CK_ULONG) &&
               offsetof(CK_DEP11_CHUNK_FLAT_PARAMS, ulVersion) ==
                   sizeof(CK_DEP11_CHUNK_FLAT_PARAMS) - 3 * sizeof(CK_ULONG) &&
               offsetof(CK_DEP11_CHUNK_FLAT_PARAMS, ulChunkIndex) ==
                   offsetof(CK_DEP11_CHUNK_PARAMS, ulChunkIndex),
               "a flat header ends in version, flags, AAD length");

/* A flat parameter (include/dep11.h): @hdr header bytes, of which the last
 * three CK_ULONGs are version, flags and AAD length, then exactly that many
 * AAD bytes. *@aad points into the parameter. */
static CK_RV flat_aad(const CK_MECHANISM *m, size_t hdr, const uint8_t **aad, CK_ULONG *aad_len)
{
    CK_RV rv = CKR_MECHANISM_PARAM_INVALID;
    CK_ULONG tail[3];

    if (m->pParameter == NULL || m->ulParameterLen < hdr) {
        LOG_FAIL(rv, "AEAD parameter of %lu bytes", (unsigned long)m->ulParameterLen);
        return rv;
    }
    memcpy(tail, (const uint8_t *)m->pParameter + hdr - sizeof(tail), sizeof(tail));
    if (tail[0] != DEP11_AEAD_FLAT_VERSION || tail[1] != 0) {
        LOG_FAIL(rv, "flat AEAD parameter version %lu flags 0x%lx", (unsigned long)tail[0],
                 (unsigned long)tail[1]);
        return rv;
    }
    if (tail[2] > AAD_MAX || m->ulParameterLen - hdr != tail[2]) {
        LOG_FAIL(rv, "flat AEAD parameter of %lu bytes with %lu AAD bytes",
                 (unsigned long)m->ulParameterLen, (unsigned long)tail[2]);
        return rv;
    }
    *aad = (const uint8_t *)m->pParameter + hdr;
    *aad_len = tail[2];
    return CKR_OK;
}

/* CK_DEP11_AEAD_PARAMS, its flat form, or no parameter. */
static CK_RV params_dep11(struct dep11_aead_op *op, const CK_MECHANISM *m)
{
    CK_RV rv = CKR_MECHANISM_PARAM_INVALID;
    CK_DEP11_AEAD_PARAMS p;
    const uint8_t *aad = NULL;
    CK_ULONG len = 0;

    if (m->pParameter == NULL && m->ulParameterLen == 0)
        return CKR_OK;
    if (m->pParameter != NULL && m->ulParameterLen == sizeof(p)) {
        memcpy(&p, m->pParameter, sizeof(p));
        return copy_aad(op, NULL, 0, p.pAAD, p.ulAADLen);
    }
    rv = flat_aad(m, sizeof(CK_DEP11_AEAD_FLAT_PARAMS), &aad, &len);
    if (rv != CKR_OK)
        return rv;
    return copy_aad(op, NULL, 0, aad, len);
}

/* CK_DEP11_CHUNK_PARAMS or its flat form: derive the chunk key; the AAD is
 * the chunk AAD, then the caller's (flat form). */
static CK_RV params_chunk(struct dep11_aead_op *op, const struct dep11_key *site,
                          const CK_MECHANISM *m)
{
    CK_RV rv = CKR_MECHANISM_PARAM_INVALID;
    CK_DEP11_CHUNK_PARAMS p;
    uint8_t aad[DEP11_CHUNK_AAD_LEN];
    const uint8_t *extra = NULL;
    CK_ULONG extra_len = 0;

    if (m->pParameter == NULL || m->ulParameterLen != sizeof(p)) {
        rv = flat_aad(m, sizeof(CK_DEP11_CHUNK_FLAT_PARAMS), &extra, &extra_len);
        if (rv != CKR_OK)
            return rv;
    }
    /* Both forms begin with fileId and ulChunkIndex at the same offsets. */
    memcpy(&p, m->pParameter, sizeof(p));
    rv = dep11_suite1_chunk_key(site->value, p.fileId, (uint64_t)p.ulChunkIndex, op->key);
    if (rv != CKR_OK)
        return rv;
    dep11_suite1_chunk_aad(p.fileId, (uint64_t)p.ulChunkIndex, aad);
    return copy_aad(op, aad, sizeof(aad), extra, extra_len);
}

/* CK_GCM_PARAMS, 48 bytes (with ulIvBits) or 40 (without). */
static CK_RV params_gcm(struct dep11_aead_op *op, const CK_MECHANISM *m)
{
    CK_RV rv = CKR_MECHANISM_PARAM_INVALID;
    CK_GCM_PARAMS full;
    struct gcm_params_40 p;

    if (m->pParameter != NULL && m->ulParameterLen == sizeof(full)) {
        memcpy(&full, m->pParameter, sizeof(full));
        p.pIv = full.iv_ptr;
        p.ulIvLen = full.iv_len;
        p.pAAD = full.aad_ptr;
        p.ulAADLen = full.aad_len;
        p.ulTagBits = full.tag_bits;
    } else if (m->pParameter != NULL && m->ulParameterLen == sizeof(p)) {
        memcpy(&p, m->pParameter, sizeof(p));
    } else {
        LOG_FAIL(rv, "GCM parameter of %lu bytes", (unsigned long)m->ulParameterLen);
        return rv;
    }
    if (p.ulTagBits < 96 || p.ulTagBits > 128 || p.ulTagBits % 8 != 0) {
        LOG_FAIL(rv, "GCM tag of %lu bits", (unsigned long)p.ulTagBits);
        return rv;
    }
    if (p.pIv == NULL || p.ulIvLen == 0 || p.ulIvLen > IV_MAX) {
        LOG_FAIL(rv, "GCM IV of %lu bytes", (unsigned long)p.ulIvLen);
        return rv;
    }
    memcpy(op->iv, p.pIv, p.ulIvLen);
    op->iv_len = p.ulIvLen;
    op->tag_len = p.ulTagBits / 8;
    return copy_aad(op, NULL, 0, p.pAAD, p.ulAADLen);
}

/* Role and caller-IV rules for @mech on @key. */
static CK_RV check_use(const struct dep11_config *cfg, const struct dep11_key *key,
                       int encrypt, CK_MECHANISM_TYPE mech)
{
    CK_RV rv = CKR_MECHANISM_INVALID;

    if (mech != CKM_DEP11_AEAD && mech != CKM_DEP11_CHUNK_AEAD && mech != CKM_AES_GCM) {
        LOG_FAIL(rv, "mechanism 0x%lx on a module key", (unsigned long)mech);
        return rv;
    }
    rv = dep11_key_permits(key, encrypt ? DEP11_USE_ENCRYPT : DEP11_USE_DECRYPT, mech);
    if (rv != CKR_OK)
        return rv;
    if (mech == CKM_AES_GCM && encrypt && (cfg == NULL || !cfg->caller_iv)) {
        rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
        LOG_FAIL(rv, "CKM_AES_GCM encryption with a caller IV: nonces are the module's job");
        return rv;
    }
    return CKR_OK;
}

/* Fills a clean (new or parked) @op for @mech on @key: parameters, key
 * copy or chunk key, and the GCM context if it has none yet. */
static CK_RV setup(struct dep11_aead_op *op, const struct dep11_key *key, int encrypt,
                   const CK_MECHANISM *mech)
{
    CK_RV rv = CKR_GENERAL_ERROR;

    op->parked = 0;
    op->ended = 0;
    op->encrypt = encrypt ? 1 : 0;
    op->kind = mech->mechanism == CKM_AES_GCM ? KIND_GCM : KIND_DEP11;
    op->tag_len = DEP11_TAG_LEN;
    if (mech->mechanism == CKM_DEP11_CHUNK_AEAD) {
        rv = params_chunk(op, key, mech);
    } else {
        memcpy(op->key, key->value, DEP11_KEY_LEN);
        rv = mech->mechanism == CKM_AES_GCM ? params_gcm(op, mech) : params_dep11(op, mech);
    }
    if (rv == CKR_OK && op->gcm == NULL)
        rv = dep11_gcm_new(&op->gcm);
    return rv;
}

/**
 * dep11_aead_init - starts one encrypt or decrypt op on a module-side key.
 * @cfg [in] for caller-iv; @key [in] copied from (may be destroyed later);
 * @encrypt [in] 1/0; @mech [in] CKM_DEP11_AEAD, CKM_DEP11_CHUNK_AEAD or
 * CKM_AES_GCM with its parameter; @out [out] the op, freed by the caller with
 * dep11_aead_free() (or parked with dep11_aead_park() and started again
 * with dep11_aead_reinit()).
 * Returns CKR_OK, CKR_ARGUMENTS_BAD, CKR_MECHANISM_INVALID,
 * CKR_MECHANISM_PARAM_INVALID, CKR_KEY_FUNCTION_NOT_PERMITTED,
 * CKR_HOST_MEMORY, CKR_FUNCTION_FAILED.
 */
CK_RV dep11_aead_init(const struct dep11_config *cfg, const struct dep11_key *key,
                      int encrypt, const CK_MECHANISM *mech, struct dep11_aead_op **out)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    struct dep11_aead_op *op = NULL;

    if (key == NULL || key->value == NULL || mech == NULL || out == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL argument");
        goto out;
    }
    *out = NULL;
    rv = check_use(cfg, key, encrypt, mech->mechanism);
    if (rv != CKR_OK)
        goto out;
    if ((op = calloc(1, sizeof(*op))) == NULL ||
        (op->key = dep11_secmem_alloc(DEP11_KEY_LEN)) == NULL) {
        rv = CKR_HOST_MEMORY;
        LOG_FAIL(rv, "AEAD op");
        goto out;
    }
    rv = setup(op, key, encrypt, mech);
    if (rv != CKR_OK)
        goto out;
    *out = op;
    op = NULL;
out:
    dep11_aead_free(op);
    return rv;
}

/**
 * dep11_aead_reinit - dep11_aead_init() into an existing op, reusing its
 * key buffer, AAD buffer and GCM context (no allocation in the steady
 * state). @op [in/out] an op from dep11_aead_init(), running, ended or
 * parked (a running one is parked first: its operation ends). Same
 * arguments otherwise, same codes; on failure @op is left parked (cleansed)
 * and may be started again or freed.
 */
CK_RV dep11_aead_reinit(const struct dep11_config *cfg, const struct dep11_key *key,
                        int encrypt, const CK_MECHANISM *mech, struct dep11_aead_op *op)
{
    CK_RV rv = CKR_GENERAL_ERROR;

    if (key == NULL || key->value == NULL || mech == NULL || op == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL argument");
        goto out;
    }
    dep11_aead_park(op); /* no-op when parked already */
    rv = check_use(cfg, key, encrypt, mech->mechanism);
    if (rv == CKR_OK)
        rv = setup(op, key, encrypt, mech);
out:
    if (rv != CKR_OK)
        dep11_aead_park(op); /* wipes a key or AAD copied before the failure */
    return rv;
}

/**
 * dep11_aead_active - 1 while @op is running (from init until a result
 * that ends it), 0 once it has ended or is parked, and for NULL.
 */
int dep11_aead_active(const struct dep11_aead_op *op)
{
    return op != NULL && !op->ended;
}

/* Size-query protocol: CKR_OK with *@done = 0 when @out holds @need bytes. */
static CK_RV size_query(uint8_t *out, CK_ULONG *out_len, size_t need, int *done)
{
    CK_RV rv = CKR_OK;

    *done = 0;
    if (out == NULL || *out_len < need) {
        *done = 1;
        if (out != NULL) {
            rv = CKR_BUFFER_TOO_SMALL;
            LOG_FAIL(rv, "need %zu bytes, have %lu", need, (unsigned long)*out_len);
        }
    }
    *out_len = need;
    return rv;
}

/* Starts the GCM; for KIND_DEP11 encryption picks a fresh nonce into @nonce_out. */
static CK_RV start(struct dep11_aead_op *op, const uint8_t *iv, uint8_t *nonce_out)
{
    CK_RV rv = CKR_OK;

    if (op->kind == KIND_GCM) {
        iv = op->iv;
    } else if (op->encrypt) {
        rv = dep11_random(nonce_out, DEP11_NONCE_LEN);
        iv = nonce_out;
    }
    if (rv == CKR_OK)
        rv = dep11_gcm_start(op->gcm, op->encrypt, op->key, iv,
                             op->kind == KIND_GCM ? op->iv_len : DEP11_NONCE_LEN,
                             op->aad, op->aad_len);
    return rv;
}

/* Seals @len bytes of @in into @out: [nonce] || ct || tag. @out holds it. */
static CK_RV seal_all(struct dep11_aead_op *op, const uint8_t *in, size_t len, uint8_t *out)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    size_t pre = prefix(op);
    uint8_t tag[DEP11_TAG_LEN];

    if (overlaps(in, len, out, pre + len + op->tag_len) && in != out + pre) {
        memmove(out + pre, in, len); /* in-place call: move before the nonce lands */
        in = out + pre;
    }
    rv = start(op, NULL, out);
    if (rv == CKR_OK)
        rv = dep11_gcm_update(op->gcm, in, len, out + pre);
    if (rv == CKR_OK)
        rv = dep11_gcm_finish_seal(op->gcm, tag);
    if (rv == CKR_OK)
        memcpy(out + pre + len, tag, op->tag_len);
    dep11_cleanse(tag, sizeof(tag));
    return rv;
}

/* Opens @in (@len bytes: [nonce] || ct || tag) into @out; nothing is
 * released unless the tag verifies (@out cleansed otherwise). */
static CK_RV open_all(struct dep11_aead_op *op, const uint8_t *in, size_t len, uint8_t *out)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    size_t pre = prefix(op), n = len - overhead(op);
    uint8_t nonce[DEP11_NONCE_LEN], tag[DEP11_TAG_LEN];
    const uint8_t *ct = in + pre;

    memcpy(nonce, in, pre);
    memcpy(tag, in + len - op->tag_len, op->tag_len);
    if (overlaps(ct, n, out, n) && ct != out) {
        memmove(out, ct, n);
        ct = out;
    }
    rv = start(op, nonce, NULL);
    if (rv == CKR_OK)
        rv = dep11_gcm_update(op->gcm, ct, n, out);
    if (rv == CKR_OK)
        rv = dep11_gcm_finish_open(op->gcm, tag, op->tag_len);
    if (rv != CKR_OK) {
        dep11_cleanse(out, n);
        if (rv == CKR_ENCRYPTED_DATA_INVALID)
            LOG_FAIL(rv, "tag does not verify: no plaintext released");
    }
    return rv;
}

/* Multi-part decrypt final: opens the buffered input in place (the buffer
 * is the op's own) and copies the plaintext to @out only once the tag has
 * verified, so a failing chunk leaves @out untouched. */
static CK_RV open_buffered(struct dep11_aead_op *op, uint8_t *out)
{
    size_t pre = prefix(op), n = op->buf_len - overhead(op);
    CK_RV rv = open_all(op, op->buf, op->buf_len, op->buf + pre);

    if (rv == CKR_OK && n != 0)
        memcpy(out, op->buf + pre, n);
    return rv; /* op->buf is cleansed by dep11_aead_park() or _free() */
}

/* Common checks of every data call; CKR_OK to go on. */
static CK_RV check_call(struct dep11_aead_op *op, const uint8_t *in, CK_ULONG in_len,
                        const CK_ULONG *out_len)
{
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (op == NULL || out_len == NULL || (in == NULL && in_len != 0)) {
        LOG_FAIL(rv, "NULL argument");
        return rv;
    }
    if (op->ended) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
        LOG_FAIL(rv, "operation already ended");
        return rv;
    }
    return CKR_OK;
}

/**
 * dep11_aead_oneshot - C_Encrypt / C_Decrypt. Encrypt: @out gets
 * [nonce(12)] || ct || tag; decrypt: the plaintext of such an input.
 * @out NULL -> *@out_len = length needed, op goes on; too small ->
 * CKR_BUFFER_TOO_SMALL, op goes on; any other result ends the op.
 * Returns CKR_OK, CKR_BUFFER_TOO_SMALL, CKR_ARGUMENTS_BAD,
 * CKR_DATA_LEN_RANGE, CKR_ENCRYPTED_DATA_LEN_RANGE (shorter than nonce +
 * tag), CKR_ENCRYPTED_DATA_INVALID (tag; @out cleansed),
 * CKR_OPERATION_ACTIVE (multi-part under way), CKR_FUNCTION_FAILED.
 */
CK_RV dep11_aead_oneshot(struct dep11_aead_op *op, const uint8_t *in, CK_ULONG in_len,
                         uint8_t *out, CK_ULONG *out_len)
{
    CK_RV rv = check_call(op, in, in_len, out_len);
    size_t need = 0;
    int done = 0;

    if (rv != CKR_OK)
        return rv;
    if (op->multi) {
        rv = CKR_OPERATION_ACTIVE;
        LOG_FAIL(rv, "one-shot call inside a multi-part operation");
    } else if (op->encrypt && (in_len > GCM_PT_MAX)) {
        rv = CKR_DATA_LEN_RANGE;
        LOG_FAIL(rv, "%lu bytes exceed one GCM message", (unsigned long)in_len);
    } else if (!op->encrypt && in_len < overhead(op)) {
        rv = CKR_ENCRYPTED_DATA_LEN_RANGE;
        LOG_FAIL(rv, "%lu bytes cannot hold nonce and tag", (unsigned long)in_len);
    }
    if (rv == CKR_OK) {
        need = op->encrypt ? in_len + overhead(op) : in_len - overhead(op);
        rv = size_query(out, out_len, need, &done);
        if (rv == CKR_BUFFER_TOO_SMALL || done)
            return rv; /* the op goes on */
        rv = op->encrypt ? seal_all(op, in, in_len, out) : open_all(op, in, in_len, out);
    }
    op->ended = 1;
    return rv;
}

/* Multi-part encrypt update: [nonce on the first call] || ct. */
static CK_RV enc_update(struct dep11_aead_op *op, const uint8_t *in, size_t len,
                        uint8_t *out, CK_ULONG *out_len)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    size_t pre = op->started ? 0 : prefix(op);
    int done = 0;

    if (len > GCM_PT_MAX - op->total) {
        rv = CKR_DATA_LEN_RANGE;
        LOG_FAIL(rv, "plaintext exceeds one GCM message");
        return rv;
    }
    rv = size_query(out, out_len, pre + len, &done);
    if (rv != CKR_OK || done)
        return rv;
    if (overlaps(in, len, out, pre + len) && in != out + pre) {
        memmove(out + pre, in, len);
        in = out + pre;
    }
    if (!op->started) {
        rv = start(op, NULL, out);
        if (rv != CKR_OK)
            return rv;
        op->started = 1;
    }
    op->total += len;
    return dep11_gcm_update(op->gcm, in, len, out + pre);
}

/* Multi-part decrypt update: buffer, release nothing. */
static CK_RV dec_update(struct dep11_aead_op *op, const uint8_t *in, size_t len,
                        uint8_t *out, CK_ULONG *out_len)
{
    CK_RV rv = CKR_ENCRYPTED_DATA_LEN_RANGE;
    size_t total = 0, cap = 0;
    uint8_t *nb = NULL;

    if (out == NULL) { /* size query: nothing buffered yet */
        *out_len = 0;
        return CKR_OK;
    }
    if (__builtin_add_overflow(op->buf_len, len, &total) || total > DEP11_AEAD_MAX_BUFFERED) {
        LOG_FAIL(rv, "multi-part decrypt input over %lu bytes", DEP11_AEAD_MAX_BUFFERED);
        return rv;
    }
    if (total > op->buf_cap) {
        cap = op->buf_cap ? op->buf_cap : 4096;
        while (cap < total)
            cap = cap > DEP11_AEAD_MAX_BUFFERED / 2 ? DEP11_AEAD_MAX_BUFFERED : cap * 2;
        /* realloc, not malloc + copy + cleanse: until Final the buffer
         * holds only ciphertext (Final opens it in place, and the op's
         * free cleanses it), and glibc grows large blocks without copying. */
        if ((nb = realloc(op->buf, cap)) == NULL) {
            rv = CKR_HOST_MEMORY;
            LOG_FAIL(rv, "decrypt buffer of %zu bytes", cap);
            return rv;
        }
        op->buf = nb;
        op->buf_cap = cap;
    }
    if (len != 0)
        memcpy(op->buf + op->buf_len, in, len);
    op->buf_len = total;
    *out_len = 0;
    return CKR_OK;
}

/**
 * dep11_aead_update - C_EncryptUpdate / C_DecryptUpdate. Encrypt emits the
 * nonce before the first ciphertext; decrypt buffers its input and returns
 * 0 bytes until dep11_aead_final(). Size-query protocol as for one-shot.
 * Returns CKR_OK, CKR_BUFFER_TOO_SMALL, CKR_ARGUMENTS_BAD,
 * CKR_DATA_LEN_RANGE, CKR_ENCRYPTED_DATA_LEN_RANGE (over
 * DEP11_AEAD_MAX_BUFFERED), CKR_HOST_MEMORY, CKR_FUNCTION_FAILED.
 */
CK_RV dep11_aead_update(struct dep11_aead_op *op, const uint8_t *in, CK_ULONG in_len,
                        uint8_t *out, CK_ULONG *out_len)
{
    CK_RV rv = check_call(op, in, in_len, out_len);

    if (rv != CKR_OK)
        return rv;
    op->multi = 1;
    rv = op->encrypt ? enc_update(op, in, in_len, out, out_len)
                     : dec_update(op, in, in_len, out, out_len);
    if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
        op->ended = 1;
    return rv;
}

/* Multi-part encrypt final: [nonce, if no update came] || tag. */
static CK_RV enc_final(struct dep11_aead_op *op, uint8_t *out, CK_ULONG *out_len)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    size_t pre = op->started ? 0 : prefix(op);
    uint8_t tag[DEP11_TAG_LEN];
    int done = 0;

    rv = size_query(out, out_len, pre + op->tag_len, &done);
    if (rv != CKR_OK || done)
        return rv;
    if (!op->started) {
        rv = start(op, NULL, out);
        if (rv != CKR_OK)
            return rv;
        op->started = 1;
    }
    rv = dep11_gcm_finish_seal(op->gcm, tag);
    if (rv == CKR_OK)
        memcpy(out + pre, tag, op->tag_len);
    dep11_cleanse(tag, sizeof(tag));
    return rv;
}

/**
 * dep11_aead_final - C_EncryptFinal / C_DecryptFinal. Encrypt emits the tag
 * (with the nonce first if no update came); decrypt verifies the buffered
 * input and only then releases its plaintext (the buffered length minus
 * nonce and tag). Size-query protocol as for one-shot.
 * Returns CKR_OK, CKR_BUFFER_TOO_SMALL, CKR_ARGUMENTS_BAD,
 * CKR_ENCRYPTED_DATA_LEN_RANGE, CKR_ENCRYPTED_DATA_INVALID (decrypt: @out
 * not written), CKR_FUNCTION_FAILED.
 */
CK_RV dep11_aead_final(struct dep11_aead_op *op, uint8_t *out, CK_ULONG *out_len)
{
    CK_RV rv = check_call(op, NULL, 0, out_len);
    int done = 0;

    if (rv != CKR_OK)
        return rv;
    op->multi = 1;
    if (op->encrypt) {
        rv = enc_final(op, out, out_len);
    } else if (op->buf_len < overhead(op)) {
        rv = CKR_ENCRYPTED_DATA_LEN_RANGE;
        LOG_FAIL(rv, "%zu bytes cannot hold nonce and tag", op->buf_len);
    } else {
        rv = size_query(out, out_len, op->buf_len - overhead(op), &done);
        if (rv == CKR_OK && !done)
            rv = open_buffered(op, out);
        else
            return rv; /* size query or short buffer: the op goes on */
    }
    if (rv != CKR_BUFFER_TOO_SMALL && !(rv == CKR_OK && out == NULL))
        op->ended = 1;
    return rv;
}

/* Zeroes one operation's state (not the buffers kept for the next). */
static void reset_state(struct dep11_aead_op *op)
{
    op->encrypt = 0;
    op->kind = KIND_DEP11;
    op->aad_len = 0;
    dep11_cleanse(op->iv, sizeof(op->iv));
    op->iv_len = 0;
    op->tag_len = 0;
    op->multi = 0;
    op->started = 0;
    op->total = 0;
    op->buf_len = 0;
}

/**
 * dep11_aead_park - ends @op (if running) and cleanses everything its
 * operation left: the key copy, the AAD, the IV, buffered input and the
 * GCM context's key schedule (dep11_gcm_park). The allocations stay for
 * dep11_aead_reinit(), except a decrypt buffer over BUF_KEEP_MAX (freed).
 * NULL or an op parked already: no-op.
 */
void dep11_aead_park(struct dep11_aead_op *op)
{
    if (op == NULL || op->parked)
        return;
    dep11_gcm_park(op->gcm);
    dep11_cleanse(op->key, DEP11_KEY_LEN);
    if (op->aad != NULL)
        dep11_cleanse(op->aad, op->aad_len);
    if (op->buf != NULL) {
        /* only [0, buf_len) was ever written in this block */
        dep11_cleanse(op->buf, op->buf_len);
        if (op->buf_cap > BUF_KEEP_MAX) {
            free(op->buf);
            op->buf = NULL;
            op->buf_cap = 0;
        }
    }
    reset_state(op);
    op->ended = 1;
    op->parked = 1;
}

/**
 * dep11_aead_free - cleanses the key copy, the AAD and any buffered input,
 * and frees the op (running, ended or parked). NULL is a no-op.
 */
void dep11_aead_free(struct dep11_aead_op *op)
{
    if (op == NULL)
        return;
    dep11_gcm_free(op->gcm);
    dep11_secmem_free(op->key, DEP11_KEY_LEN);
    if (op->aad != NULL) {
        dep11_cleanse(op->aad, op->aad_cap);
        free(op->aad);
    }
    if (op->buf != NULL) {
        dep11_cleanse(op->buf, op->buf_cap);
        free(op->buf);
    }
    dep11_cleanse(op, sizeof(*op));
    free(op);
}
