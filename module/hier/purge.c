/*
 * purge.c - DEP11_PurgePolicy (DESIGN sections 3 and 6): proof that no
 * customer key unwraps the policy any more, the tombstone, the destruction
 * of its availability keys and the signed destruction receipt
 * (docs/RECEIPTS.md); the PEM file of the receipt signing key. (The
 * tombstone check of every unwrap is in policy_unwrap.c.)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hier/hier.h"
#include "hier/cache.h"
#include "hier/tenant.h"
#include "blob/blob.h"
#include "crypto/crypto.h"
#include "crypto/suite1.h"
#include "hsm/classify.h"
#include "hsm/provider.h"
#include "hsm/rsa.h"
#include "util/audit.h"
#include "util/log.h"
#include "util/secmem.h"

_Static_assert(DEP11_RECEIPT_MAX <= DEP11_TOMBSTONE_MAX, "a tombstone holds a receipt");

#define CANDIDATES_MAX 256     /* RSA keys examined per look-up (more: refused) */
#define SPKI_LEN 91            /* DER SubjectPublicKeyInfo of a P-256 key */
#define SIG_DER_MAX 72         /* DER ECDSA-Sig-Value of P-256 */
#define PEM_MAX 256

/* DER prefix of a P-256 SubjectPublicKeyInfo (id-ecPublicKey, prime256v1,
 * BIT STRING of 66 bytes with no unused bits); the 65-byte point follows. */
static const uint8_t spki_prefix[SPKI_LEN - DEP11_EC_POINT_LEN] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
};

/* What became of a wrapping key (the receipt's "fate"). */
enum fate { FATE_REVOKED, FATE_DECRYPT_OFF, FATE_INVALID, FATE_DESTROYED };
static const char *const fate_name[] = { "revoked-by-customer", "decrypt-disabled-by-customer",
                                         "invalid-copy", "destroyed" };

/* One purge in progress (no key bytes: values live in secmem briefly). */
struct purge {
    const struct dep11_call *c;
    struct dep11_policy_blob b;
    int roots[2];               /* copy indexes of customer 1/2, -1 = absent */
    int avail;                  /* copy index of the availability copy, -1 */
    enum fate fate[2];
    uint8_t blob_digest[DEP11_SHA256_LEN];
    char receipt[DEP11_RECEIPT_MAX + 1];
    size_t len;
    int overflow;
    struct dep11_policy_state ps;   /* binding, committed version, our token */
};

/* ---- small encoders ---- */

static void put(struct purge *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct purge *p, const char *fmt, ...)
{
    va_list ap;
    int n = 0;

    if (p->overflow)
        return;
    va_start(ap, fmt);
    n = vsnprintf(p->receipt + p->len, sizeof p->receipt - p->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof p->receipt - p->len)
        p->overflow = 1;
    else
        p->len += (size_t)n;
}

static void put_hex(struct purge *p, const uint8_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put(p, "%02x", v[i]);
}

/* Standard base64 with padding into @out (4 * ceil(n / 3) + 1 bytes). */
static void base64(char *out, const uint8_t *in, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0, o = 0;

    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = a[(v >> 6) & 63];
        out[o++] = a[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
}

/* One INTEGER of a DER ECDSA-Sig-Value from a 32-byte big-endian value. */
static size_t der_int(uint8_t *out, const uint8_t *v)
{
    size_t i = 0, n = 0;

    while (i < 31 && v[i] == 0)
        i++;
    out[n++] = 0x02;
    out[n++] = (uint8_t)(32 - i + (v[i] & 0x80 ? 1 : 0));
    if (v[i] & 0x80)
        out[n++] = 0x00;
    memcpy(out + n, v + i, 32 - i);
    return n + 32 - i;
}

/* PKCS#11's r || s as a DER ECDSA-Sig-Value (what RECEIPTS.md specifies). */
static size_t sig_to_der(uint8_t out[SIG_DER_MAX], const uint8_t rs[DEP11_EC_SIG_LEN])
{
    uint8_t body[SIG_DER_MAX];
    size_t n = der_int(body, rs);

    n += der_int(body + n, rs + 32);
    out[0] = 0x30;
    out[1] = (uint8_t)n;        /* at most 70: the short form */
    memcpy(out + 2, body, n);
    return n + 2;
}

/* The signing key's DER SPKI. */
static CK_RV signing_spki(uint8_t spki[SPKI_LEN])
{
    CK_RV rv = dep11_provider_sign_public(spki + sizeof spki_prefix);

    if (rv == CKR_OK)
        memcpy(spki, spki_prefix, sizeof spki_prefix);
    return rv;
}

/* ---- the blob ---- */

/* Parse, MAC (one HSM call), copy layout; customer-managed only. */
/* The audit line of a refused purge (tenant mismatch, superseded blob). */
static void audit_refusal(const struct purge *p, CK_RV result)
{
    struct dep11_audit_event e = { .event = "purge", .policy_id = p->b.hdr.policy_id,
                                   .version = p->b.hdr.version, .tenant = p->b.hdr.tenant,
                                   .token = p->ps.serial, .result = result };

    (void)dep11_audit_write(&e);
}

static CK_RV check_blob(struct purge *p, const uint8_t *blob, CK_ULONG len)
{
    uint8_t mac[DEP11_BLOB_MAC_LEN];
    CK_RV rv = dep11_policy_blob_parse(blob, len, &p->b);

    if (rv != CKR_OK)
        return rv;
    rv = dep11_provider_mac(blob, p->b.mac_offset, mac);
    if (rv != CKR_OK)
        return rv;
    if (!dep11_ct_equal(mac, p->b.mac, sizeof mac)) {
        rv = CKR_WRAPPED_KEY_INVALID;
        LOG_FAIL(rv, "blob MAC does not verify");
        return rv;
    }
    /* The tenant binding before anything else (DESIGN section 2). */
    rv = dep11_tenant_check(p->c, p->b.hdr.policy_id, p->b.hdr.tenant, &p->ps);
    if (rv != CKR_OK) {
        if (rv == CKR_DEP11_TENANT_MISMATCH)
            audit_refusal(p, rv);
        return rv;
    }
    if (p->b.hdr.managed_by != DEP11_MANAGED_CUSTOMER) {
        rv = CKR_FUNCTION_REJECTED;
        LOG_ERROR("purge refused: a provider-managed policy has no customer keys to revoke "
                  "(its provider roots serve every provider-managed policy)");
        return rv;
    }
    p->roots[0] = p->roots[1] = p->avail = -1;
    for (size_t i = 0; i < p->b.ncopies; i++) {
        uint8_t k = p->b.copies[i].kind;
        if (k == DEP11_COPY_CUSTOMER_1 || k == DEP11_COPY_CUSTOMER_2)
            p->roots[k - DEP11_COPY_CUSTOMER_1] = (int)i;
        else if (k == DEP11_COPY_AVAILABILITY)
            p->avail = (int)i;
    }
    return dep11_sha256(blob, len, p->blob_digest);
}

/* Does one of the blob's roots have a public key (a registered twin, unless
 * the config accepts any root) on the session's token? Else the caller is
 * not on the policy's customer token. */
static CK_RV check_token(struct purge *p, CK_SESSION_HANDLE s)
{
    struct dep11_hsm_rsa *pub = calloc(CANDIDATES_MAX, sizeof *pub);
    uint8_t id[DEP11_SHA256_LEN];
    size_t n = 0;
    CK_RV rv = pub == NULL ? CKR_HOST_MEMORY : CKR_OK;

    if (rv == CKR_OK)
        rv = dep11_hsm_rsa_public_list(s, !p->c->cfg->trusted_roots_any, pub, CANDIDATES_MAX,
                                       &n);
    for (size_t i = 0; rv == CKR_OK && i < n; i++) {
        if (dep11_rsa_identity(pub[i].modulus, pub[i].mod_len, pub[i].exponent,
                               pub[i].exp_len, id) != CKR_OK)
            continue;
        for (int r = 0; r < 2; r++)
            if (p->roots[r] >= 0 && p->b.copies[p->roots[r]].key_id_len == sizeof id &&
                memcmp(p->b.copies[p->roots[r]].key_id, id, sizeof id) == 0)
                goto out;
    }
    if (rv == CKR_OK) {
        rv = CKR_FUNCTION_REJECTED;
        LOG_ERROR("purge refused: no registered root of this policy on the session's token");
    }
out:
    free(pub);
    return rv;
}

/* ---- does a customer key still unwrap? ---- */

/* Decrypts copy @cp with @k in the HSM and checks the key check value; the
 * value is cleansed at once. */
static enum dep11_fault try_decrypt(struct purge *p, CK_SESSION_HANDLE s,
                                    const struct dep11_hsm_rsa *k,
                                    const struct dep11_wrapped_copy *cp)
{
    uint8_t *pt = dep11_secmem_alloc(DEP11_RSA_MAX_BYTES);
    uint8_t kcv[DEP11_KCV_LEN];
    size_t pt_len = DEP11_RSA_MAX_BYTES;
    enum dep11_fault f = DEP11_FAULT_TRANSIENT;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (pt == NULL)
        return f;
    rv = dep11_hsm_rsa_decrypt(s, k->priv, cp->alg == DEP11_ALG_RSA_OAEP_SHA1 ? CKM_SHA_1
                                                                              : CKM_SHA256,
                               cp->data, cp->data_len, pt, &pt_len);
    f = dep11_hsm_classify(rv);
    if (f == DEP11_FAULT_NONE &&
        (pt_len != DEP11_KEY_LEN ||
         dep11_suite1_kcv(pt, p->b.hdr.policy_id, kcv) != CKR_OK ||
         !dep11_ct_equal(kcv, p->b.hdr.kcv, sizeof kcv)))
        f = DEP11_FAULT_INVALID;
    dep11_cleanse(kcv, sizeof kcv);
    dep11_secmem_free(pt, DEP11_RSA_MAX_BYTES);
    return f;
}

/* Every private key on the token with copy @cp's identity (hint first,
 * then all RSA private keys), each tried. *@f: NONE if one unwraps. */
static CK_RV try_copy(struct purge *p, CK_SESSION_HANDLE s, const struct dep11_wrapped_copy *cp,
                      struct dep11_hsm_rsa *cand, enum dep11_fault *f, int *found)
{
    uint8_t id[DEP11_SHA256_LEN];
    size_t n = 0;
    CK_RV rv = CKR_OK;

    for (int pass = cp->hint_len != 0 ? 0 : 1; pass < 2 && rv == CKR_OK; pass++) {
        rv = dep11_hsm_rsa_find(s, pass == 0 ? cp->hint : NULL, pass == 0 ? cp->hint_len : 0,
                                cand, CANDIDATES_MAX, &n);
        for (size_t i = 0; rv == CKR_OK && i < n && i < CANDIDATES_MAX; i++) {
            if (dep11_rsa_identity(cand[i].modulus, cand[i].mod_len, cand[i].exponent,
                                   cand[i].exp_len, id) != CKR_OK ||
                cp->key_id_len != sizeof id || memcmp(id, cp->key_id, sizeof id) != 0)
                continue;
            *found = 1;
            *f = try_decrypt(p, s, &cand[i], cp);
            if (*f == DEP11_FAULT_NONE || *f == DEP11_FAULT_ABORT ||
                *f == DEP11_FAULT_TRANSIENT)
                return CKR_OK;
        }
    }
    if (rv == CKR_OK && !*found && n >= CANDIDATES_MAX) {
        /* The list may be cut short: absence is not proven. */
        rv = CKR_FUNCTION_REJECTED;
        LOG_ERROR("purge refused: more than %d RSA private keys on the token", CANDIDATES_MAX);
    }
    return rv;
}

/* The refusal rule: CKR_OK when neither customer copy unwraps (fates
 * recorded), CKR_FUNCTION_REJECTED when one does, CKR_DEP11_ROOT_KEYS_
 * UNAVAILABLE when a key answered transiently (nothing proven),
 * CKR_USER_NOT_LOGGED_IN, look-up codes. */
static CK_RV no_customer_unwraps(struct purge *p, CK_SESSION_HANDLE s)
{
    struct dep11_hsm_rsa *cand = calloc(CANDIDATES_MAX, sizeof *cand);
    CK_RV rv = cand == NULL ? CKR_HOST_MEMORY : CKR_OK;

    for (int r = 0; rv == CKR_OK && r < 2; r++) {
        enum dep11_fault f = DEP11_FAULT_DENIED;
        int found = 0;

        if (p->roots[r] < 0)
            continue;
        rv = try_copy(p, s, &p->b.copies[p->roots[r]], cand, &f, &found);
        if (rv != CKR_OK)
            break;
        if (f == DEP11_FAULT_NONE) {
            rv = CKR_FUNCTION_REJECTED;
            LOG_ERROR("purge refused: customer key %d still unwraps the policy", r + 1);
        } else if (f == DEP11_FAULT_ABORT) {
            rv = CKR_USER_NOT_LOGGED_IN;
            LOG_FAIL(rv, "token logged out under the purge");
        } else if (f == DEP11_FAULT_TRANSIENT) {
            rv = CKR_DEP11_ROOT_KEYS_UNAVAILABLE;
            LOG_FAIL(rv, "customer key %d answered transiently: cannot prove it is gone", r + 1);
        }
        p->fate[r] = !found ? FATE_REVOKED
                     : f == DEP11_FAULT_INVALID ? FATE_INVALID : FATE_DECRYPT_OFF;
    }
    if (cand != NULL) {
        dep11_cleanse(cand, CANDIDATES_MAX * sizeof *cand);
        free(cand);
    }
    return rv;
}

/* The token checks on a worker session of the caller's token. */
static CK_RV check_customer(struct purge *p, int refusal)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_RV rv = dep11_hsm_worker_open(p->c->slot, &s);

    if (rv != CKR_OK)
        return rv;
    rv = check_token(p, s);
    if (rv == CKR_OK && refusal)
        rv = no_customer_unwraps(p, s);
    dep11_hsm_worker_close(s);
    return rv;
}

/* ---- the receipt ---- */

static const char *type_name(uint8_t t)
{
    return t == DEP11_POLICY_MAILBOX ? "mailbox"
           : t == DEP11_POLICY_MULTI_WORKLOAD ? "multi-workload"
           : t == DEP11_POLICY_FILES ? "files" : "unknown";
}

static void put_key(struct purge *p, const char *copy, const char *id_type,
                    const struct dep11_wrapped_copy *cp, enum fate f, int *first)
{
    put(p, "%s{\"copy\":\"%s\",\"id_type\":\"%s\",\"identity\":\"", *first ? "" : ",",
        copy, id_type);
    *first = 0;
    put_hex(p, cp->key_id, cp->key_id_len);
    put(p, "\",\"hint\":\"");
    put_hex(p, cp->hint, cp->hint_len);
    put(p, "\",\"fate\":\"%s\"}", fate_name[f]);
}

/* Everything up to and including the ',' before "signature": the bytes
 * the signature covers (docs/RECEIPTS.md). */
static CK_RV put_body(struct purge *p, const uint8_t spki[SPKI_LEN])
{
    char b64[4 * ((SPKI_LEN + 2) / 3) + 1], when[32];
    uint8_t spki_hash[DEP11_SHA256_LEN];
    struct tm tm;
    time_t now = time(NULL);
    const struct dep11_policy_header *h = &p->b.hdr;
    int first = 1;
    CK_RV rv = dep11_sha256(spki, SPKI_LEN, spki_hash);

    if (rv != CKR_OK)
        return rv;
    if (gmtime_r(&now, &tm) == NULL || strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return CKR_FUNCTION_FAILED;
    put(p, "{\"receipt\":\"dep11-purge\",\"receipt_version\":1,\"policy_id\":\"");
    put_hex(p, h->policy_id, sizeof h->policy_id);
    put(p, "\",\"policy_type\":\"%s\",\"tenant\":\"", type_name(h->policy_type));
    put_hex(p, h->tenant, sizeof h->tenant);
    put(p, "\",\"blob_version\":%lu,\"blob_sha256\":\"", (unsigned long)h->version);
    put_hex(p, p->blob_digest, sizeof p->blob_digest);
    put(p, "\",\"time\":\"%s\",\"keys\":[", when);
    for (int r = 0; r < 2; r++)
        if (p->roots[r] >= 0)
            put_key(p, r == 0 ? "customer-1" : "customer-2", "spki-sha256",
                    &p->b.copies[p->roots[r]], p->fate[r], &first);
    if (p->avail >= 0)
        put_key(p, "availability", "cka-id", &p->b.copies[p->avail], FATE_DESTROYED, &first);
    base64(b64, spki, SPKI_LEN);
    put(p, "],\"signing_key\":{\"spki\":\"%s\",\"sha256\":\"", b64);
    put_hex(p, spki_hash, sizeof spki_hash);
    put(p, "\"},");
    return CKR_OK;
}

/* The whole receipt in p->receipt, signed in the HSM. */
static CK_RV make_receipt(struct purge *p)
{
    uint8_t spki[SPKI_LEN], digest[DEP11_SHA256_LEN], rs[DEP11_EC_SIG_LEN];
    uint8_t der[SIG_DER_MAX];
    char b64[4 * ((SIG_DER_MAX + 2) / 3) + 1];
    size_t der_len = 0;
    CK_RV rv = signing_spki(spki);

    if (rv == CKR_OK)
        rv = put_body(p, spki);
    if (rv == CKR_OK && p->overflow)
        rv = CKR_GENERAL_ERROR;
    if (rv == CKR_OK)
        rv = dep11_sha256((const uint8_t *)p->receipt, p->len, digest);
    if (rv == CKR_OK)
        rv = dep11_provider_sign(digest, rs);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "receipt body or signature");
        return rv;
    }
    der_len = sig_to_der(der, rs);
    base64(b64, der, der_len);
    put(p, "\"signature\":\"%s\"}", b64);
    if (p->overflow) {
        LOG_FAIL(CKR_GENERAL_ERROR, "receipt longer than %d bytes", DEP11_RECEIPT_MAX);
        return CKR_GENERAL_ERROR;
    }
    return CKR_OK;
}

/* ---- the purge ---- */

/* Destroys what the tombstone condemns, flushes this process's cache. */
static CK_RV destroy_availability(const struct purge *p, unsigned *destroyed)
{
    CK_RV rv = dep11_provider_avail_destroy(p->b.hdr.policy_id, NULL, 0, destroyed);

    dep11_cache_flush(p->b.hdr.policy_id);
    return rv;
}

static void audit_purge(const struct purge *p, unsigned destroyed, int repeated)
{
    char extra[160];
    uint8_t h[DEP11_SHA256_LEN];
    size_t n = 0;
    struct dep11_audit_event e = { .event = "purge", .policy_id = p->b.hdr.policy_id,
                                   .version = p->b.hdr.version, .extra_json = extra,
                                   .tenant = p->b.hdr.tenant, .token = p->ps.serial };

    if (dep11_sha256((const uint8_t *)p->receipt, p->len, h) != CKR_OK)
        memset(h, 0, sizeof h);
    n = (size_t)snprintf(extra, sizeof extra, "\"repeated\":%s,\"availability_destroyed\":%u,"
                         "\"receipt_sha256\":\"", repeated ? "true" : "false", destroyed);
    for (size_t i = 0; i < sizeof h && n + 3 < sizeof extra; i++)
        n += (size_t)snprintf(extra + n, sizeof extra - n, "%02x", h[i]);
    if (n + 2 <= sizeof extra)
        memcpy(extra + n, "\"", 2);
    (void)dep11_audit_write(&e);
}

/* Hands the receipt in p->receipt to the caller (size-query protocol). */
static CK_RV give(const struct purge *p, uint8_t *out, CK_ULONG *out_len)
{
    CK_RV rv = CKR_BUFFER_TOO_SMALL;

    if (*out_len < p->len) {
        LOG_FAIL(rv, "receipt is %zu bytes, buffer %lu", p->len, (unsigned long)*out_len);
        *out_len = p->len;
        return rv;
    }
    memcpy(out, p->receipt, p->len);
    *out_len = p->len;
    return CKR_OK;
}

/* A purged policy: finish what an interrupted purge may have left, then
 * re-issue the stored receipt. */
static CK_RV reissue(struct purge *p, uint8_t *out, CK_ULONG *out_len)
{
    unsigned destroyed = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (out == NULL) {
        *out_len = DEP11_RECEIPT_MAX;
        return CKR_OK;
    }
    if (*out_len < p->len) {
        *out_len = p->len;      /* before anything is destroyed */
        LOG_FAIL(CKR_BUFFER_TOO_SMALL, "stored receipt is %zu bytes", p->len);
        return CKR_BUFFER_TOO_SMALL;
    }
    rv = destroy_availability(p, &destroyed);
    if (rv != CKR_OK)
        return rv;
    audit_purge(p, destroyed, 1);
    return give(p, out, out_len);
}

/* A first purge: receipt, tombstone, destruction. */
static CK_RV first_purge(struct purge *p, uint8_t *out, CK_ULONG *out_len)
{
    size_t stored = sizeof p->receipt - 1;
    unsigned destroyed = 0;
    int present = 0;
    CK_RV rv = make_receipt(p);

    if (rv != CKR_OK)
        return rv;
    if (*out_len < p->len) {
        LOG_FAIL(CKR_BUFFER_TOO_SMALL, "receipt is %zu bytes, buffer %lu", p->len,
                 (unsigned long)*out_len);
        *out_len = p->len;
        return CKR_BUFFER_TOO_SMALL;
    }
    rv = dep11_provider_tombstone_write(p->b.hdr.policy_id, (const uint8_t *)p->receipt,
                                        p->len);
    /* Read back: a purge racing in another process may have written first,
     * and every process hands out the receipt every other one reads. */
    if (rv == CKR_OK)
        rv = dep11_provider_tombstone_find(p->b.hdr.policy_id, (uint8_t *)p->receipt,
                                           &stored, &present);
    if (rv == CKR_OK && !present) {
        rv = CKR_FUNCTION_FAILED;
        LOG_FAIL(rv, "tombstone not found after writing it");
    }
    if (rv != CKR_OK)
        return rv;
    p->len = stored;
    rv = destroy_availability(p, &destroyed);
    if (rv != CKR_OK)
        return rv;
    LOG_INFO("policy purged: %u availability key(s) destroyed", destroyed);
    audit_purge(p, destroyed, 0);
    return give(p, out, out_len);
}

/**
 * dep11_policy_purge - DEP11_PurgePolicy (see hier.h and docs/RECEIPTS.md).
 * @c [in] the caller's (logged-in) slot and config; @blob [in] @len bytes
 * of a customer-managed policy blob; @out [out] the receipt, NULL for a
 * size query (DEP11_RECEIPT_MAX; nothing destroyed); @out_len [in,out].
 * Returns CKR_OK, CKR_ARGUMENTS_BAD, CKR_WRAPPED_KEY_INVALID (malformed, or
 * MAC fails), CKR_DEP11_TENANT_MISMATCH (the policy is bound to another
 * token: nothing destroyed), CKR_DEP11_BLOB_SUPERSEDED (a first purge by a
 * blob older than the committed version), CKR_FUNCTION_REJECTED (provider-managed; not the policy's
 * customer token; a customer key still unwraps), CKR_DEP11_ROOT_KEYS_
 * UNAVAILABLE (a customer key answered transiently), CKR_USER_NOT_LOGGED_IN,
 * CKR_BUFFER_TOO_SMALL (nothing destroyed), CKR_HOST_MEMORY, backend codes.
 */
CK_RV dep11_policy_purge(const struct dep11_call *c, const uint8_t *blob, CK_ULONG len,
                         uint8_t *out, CK_ULONG *out_len)
{
    struct purge *p = NULL;
    size_t stored = 0;
    int present = 0;
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (c == NULL || c->cfg == NULL || blob == NULL || out_len == NULL) {
        LOG_FAIL(rv, "NULL argument");
        return rv;
    }
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        rv = CKR_HOST_MEMORY;
        LOG_FAIL(rv, "purge state");
        return rv;
    }
    p->c = c;
    stored = sizeof p->receipt - 1;
    rv = check_blob(p, blob, len);
    if (rv == CKR_OK)
        rv = dep11_provider_tombstone_find(p->b.hdr.policy_id, (uint8_t *)p->receipt,
                                           &stored, &present);
    /* A first purge by an older blob is refused: its roots may be gone
     * while the committed version's still unwrap. */
    if (rv == CKR_OK && !present && p->b.hdr.version < p->ps.st.number) {
        rv = CKR_DEP11_BLOB_SUPERSEDED;
        LOG_FAIL(rv, "purge with blob version %lu, committed version %llu",
                 (unsigned long)p->b.hdr.version, (unsigned long long)p->ps.st.number);
        audit_refusal(p, rv);
    }
    if (rv == CKR_OK)
        rv = check_customer(p, !present);
    if (rv != CKR_OK)
        goto out;
    if (present) {
        p->len = stored;
        rv = reissue(p, out, out_len);
    } else if (out == NULL) {
        *out_len = DEP11_RECEIPT_MAX;
    } else {
        rv = first_purge(p, out, out_len);
    }
out:
    free(p);
    return rv;
}

/* The PEM text of @spki. */
static size_t pem(char *out, size_t cap, const uint8_t spki[SPKI_LEN])
{
    char b64[4 * ((SPKI_LEN + 2) / 3) + 1];
    size_t n = 0, len = 0;

    base64(b64, spki, SPKI_LEN);
    len = strlen(b64);
    n = (size_t)snprintf(out, cap, "-----BEGIN PUBLIC KEY-----\n");
    for (size_t i = 0; i < len && n < cap; i += 64)
        n += (size_t)snprintf(out + n, cap - n, "%.64s\n", b64 + i);
    if (n < cap)
        n += (size_t)snprintf(out + n, cap - n, "-----END PUBLIC KEY-----\n");
    return n < cap ? n : 0;
}

#define PEM_FILE_MAX 65536     /* a receipt-public-key file larger than this is not ours */

/* What the file at @path holds: 1 the PEM of the key whose base64 is @b64
 * (blanks and line breaks aside), 0 something else, -1 absent (ENOENT),
 * -2 unreadable (logged). */
static int file_holds(const char *path, const char *b64)
{
    static const char begin[] = "-----BEGIN PUBLIC KEY-----", end[] = "-----END PUBLIC KEY-----";
    char *buf = malloc(PEM_FILE_MAX + 1), *body = NULL, *stop = NULL;
    size_t got = 0, o = 0;
    FILE *fp = NULL;
    int r = 0;

    if (buf == NULL)
        return -2;
    fp = fopen(path, "rbe");
    if (fp == NULL) {
        r = errno == ENOENT ? -1 : -2;
        if (r == -2)
            LOG_ERROR("receipt-public-key: cannot read %s: %s", path, strerror(errno));
        free(buf);
        return r;
    }
    got = fread(buf, 1, PEM_FILE_MAX, fp);
    fclose(fp);
    buf[got] = '\0';
    body = strstr(buf, begin);
    stop = body != NULL ? strstr(body, end) : NULL;
    if (stop != NULL && strlen(buf) == got) {
        /* squeeze the body's blanks out, in place */
        for (body += sizeof begin - 1; body < stop; body++)
            if (*body != '\n' && *body != '\r' && *body != ' ' && *body != '\t')
                buf[o++] = *body;
        buf[o] = '\0';
        r = strcmp(buf, b64) == 0;
    }
    free(buf);
    return r;
}

/* Creates @path holding @text, never replacing a file: the text goes to a
 * temporary file that is then linked to @path (EEXIST: another process was
 * first; *@raced is set and nothing is written). */
static CK_RV write_new(const char *path, const char *text, size_t n, int *raced)
{
    char tmp[DEP11_CONF_PATH_MAX + 32];
    int fd = -1, ok = 0, err = 0;

    *raced = 0;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) >= sizeof tmp)
        return CKR_FUNCTION_FAILED;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        ok = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
        ok = close(fd) == 0 && ok;
        ok = ok && link(tmp, path) == 0;
        err = errno;
        (void)unlink(tmp);
    } else {
        err = errno;
    }
    if (!ok && err == EEXIST) {
        *raced = 1;
        return CKR_OK;
    }
    if (!ok) {
        LOG_ERROR("receipt-public-key: cannot write %s: %s", path, strerror(err));
        return CKR_FUNCTION_FAILED;
    }
    return CKR_OK;
}

/**
 * dep11_purge_write_public_key - the config's receipt-public-key @path and
 * the receipt signing key (DESIGN section 2, "Provisioning"): an absent file
 * is written (PEM SubjectPublicKeyInfo, mode 0644); a file holding that key
 * is left untouched; a file holding anything else is a configuration error
 * (customers pin that key) and is never overwritten. CKR_OK;
 * CKR_ARGUMENTS_BAD; CKR_FUNCTION_FAILED (another key, unreadable or
 * unwritable: one line names the file); provider backend codes.
 */
CK_RV dep11_purge_write_public_key(const char *path)
{
    uint8_t spki[SPKI_LEN];
    char text[PEM_MAX], b64[4 * ((SPKI_LEN + 2) / 3) + 1];
    size_t n = 0;
    int held = 0, raced = 0;
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (path == NULL || path[0] == '\0') {
        LOG_FAIL(rv, "no path");
        return rv;
    }
    rv = signing_spki(spki);
    if (rv != CKR_OK)
        return rv;
    n = pem(text, sizeof text, spki);
    if (n == 0)
        return CKR_GENERAL_ERROR;
    base64(b64, spki, SPKI_LEN);
    held = file_holds(path, b64);
    if (held == -1) {
        rv = write_new(path, text, n, &raced);
        if (rv != CKR_OK)
            return rv;
        if (!raced) {
            LOG_INFO("receipt signing key written to %s", path);
            return CKR_OK;
        }
        held = file_holds(path, b64);   /* another process wrote it first */
    }
    if (held == 1)
        return CKR_OK;
    rv = CKR_FUNCTION_FAILED;
    if (held == 0)
        LOG_ERROR("receipt-public-key %s holds another key than the provider token's "
                  "receipt signing key: not overwritten (customers pin that key); fix "
                  "the config or the provider token", path);
    return rv;
}
