/*
 * purge.c - DEP11_PurgePolicy (DESIGN sections 3 and 6): proof that no
 * customer key unwraps the policy any more, the tombstone, the destruction
 * of its availability keys, and the signed destruction receipt it hands
 * out (docs/RECEIPTS.md; its bytes are made by receipt.c). (The tombstone
 * check of every unwrap is in policy_unwrap.c.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hier/hier.h"
#include "hier/root_reg.h"
#include "hier/cache.h"
#include "hier/receipt.h"
#include "hier/tenant.h"
#include "blob/blob.h"
#include "crypto/crypto.h"
#include "crypto/suite1.h"
#include "hsm/classify.h"
#include "hsm/provider.h"
#include "hsm/rsa.h"
#include "util/audit.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/secmem.h"

_Static_assert(DEP11_RECEIPT_MAX <= DEP11_TOMBSTONE_MAX, "a tombstone holds a receipt");

#define CANDIDATES_MAX 256 /* RSA keys examined per look-up (more: refused) */

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
    struct dep11_policy_state ps;   /* binding, committed version, our token */
};

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
    const struct dep11_config *cfg = p->c->cfg;
    struct dep11_hsm_rsa *pub = calloc(CANDIDATES_MAX, sizeof *pub);
    /* a registration by SO login is a provider record, not a twin */
    int by_record = !cfg->trusted_roots_any && cfg->profile.root_reg_so_login;
    int twin_only = !cfg->trusted_roots_any && !by_record, yes = 0;
    size_t n = 0;
    CK_RV rv = pub == NULL ? CKR_HOST_MEMORY : CKR_OK;

    if (rv == CKR_OK)
        rv = dep11_hsm_rsa_public_list(s, twin_only, pub, CANDIDATES_MAX, &n);
    for (size_t i = 0; rv == CKR_OK && i < n; i++)
        for (int r = 0; rv == CKR_OK && r < 2; r++)
            if (p->roots[r] >= 0 &&
                dep11_rsa_has_identity(pub[i].modulus, pub[i].mod_len, pub[i].exponent,
                                       pub[i].exp_len, p->b.copies[p->roots[r]].key_id,
                                       p->b.copies[p->roots[r]].key_id_len)) {
                if (!by_record)
                    goto out;
                rv = dep11_root_id_registered(cfg, s, p->c->slot, &pub[i],
                                              p->b.copies[p->roots[r]].key_id, &yes);
                if (rv == CKR_OK && yes)
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
    size_t n = 0;
    CK_RV rv = CKR_OK;

    for (int pass = cp->hint_len != 0 ? 0 : 1; pass < 2 && rv == CKR_OK; pass++) {
        rv = dep11_hsm_rsa_find(s, pass == 0 ? cp->hint : NULL, pass == 0 ? cp->hint_len : 0,
                                cand, CANDIDATES_MAX, &n);
        for (size_t i = 0; rv == CKR_OK && i < n && i < CANDIDATES_MAX; i++) {
            if (!dep11_rsa_has_identity(cand[i].modulus, cand[i].mod_len, cand[i].exponent,
                                        cand[i].exp_len, cp->key_id, cp->key_id_len))
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

/* The signed receipt of this purge in p->receipt (receipt.c encodes). */
static CK_RV make_receipt(struct purge *p)
{
    struct dep11_receipt_key keys[3];
    struct dep11_receipt_in in = { .hdr = &p->b.hdr,
                                   .blob_sha256 = p->blob_digest,
                                   .keys = keys };

    for (int r = 0; r < 2; r++)
        if (p->roots[r] >= 0)
            keys[in.nkeys++] =
                (struct dep11_receipt_key){ .copy = r == 0 ? "customer-1" : "customer-2",
                                            .id_type = "spki-sha256",
                                            .cp = &p->b.copies[p->roots[r]],
                                            .fate = fate_name[p->fate[r]] };
    if (p->avail >= 0)
        keys[in.nkeys++] = (struct dep11_receipt_key){ .copy = "availability",
                                                       .id_type = "cka-id",
                                                       .cp = &p->b.copies[p->avail],
                                                       .fate = fate_name[FATE_DESTROYED] };
    return dep11_receipt_make(&in, p->receipt, sizeof p->receipt, &p->len);
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
    char extra[160], hex[2 * DEP11_SHA256_LEN + 1];
    uint8_t h[DEP11_SHA256_LEN];
    struct dep11_audit_event e = { .event = "purge", .policy_id = p->b.hdr.policy_id,
                                   .version = p->b.hdr.version, .extra_json = extra,
                                   .tenant = p->b.hdr.tenant, .token = p->ps.serial };

    if (dep11_sha256((const uint8_t *)p->receipt, p->len, h) != CKR_OK)
        memset(h, 0, sizeof h);
    (void)snprintf(extra, sizeof extra,
                   "\"repeated\":%s,\"availability_destroyed\":%u,"
                   "\"receipt_sha256\":\"%s\"",
                   repeated ? "true" : "false", destroyed, dep11_hex_encode(h, sizeof h, hex));
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
