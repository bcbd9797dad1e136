/*
 * policy_wrap.c - C_WrapKey(CKM_DEP11_POLICY_WRAP): a policy key wrapped
 * under two roots (customer keys checked for registration, size and
 * sensitivity, or the provider keys) and the policy's availability key,
 * MAC'd by the provider token (DESIGN sections 3 and 4), and audited as
 * the lifecycle step it is (DESIGN sections 5 and 6).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hier/hier.h"
#include "hier/root_reg.h"
#include "hier/tenant.h"
#include "blob/blob.h"
#include "crypto/crypto.h"
#include "crypto/suite1.h"
#include "hsm/provider.h"
#include "hsm/rsa.h"
#include "util/audit.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/secmem.h"

#define ROOT_BITS_MIN 2048
#define ROOT_BITS_MAX 4096
#define AVAIL_COPY_LEN (DEP11_NONCE_LEN + DEP11_KEY_LEN + DEP11_TAG_LEN)
#define HEADER_MAX 256 /* 62 fixed + geo 16 + label 64, with room */
#define NCOPIES 3

/* Everything one wrap builds; cleansed at the end. */
struct wrap {
    int customer;                         /* customer-managed? */
    struct dep11_hsm_rsa roots[2];
    size_t mod_len[2];                    /* significant modulus bytes */
    struct dep11_policy_header hdr;
    uint8_t hdr_bytes[HEADER_MAX];
    size_t hdr_len;
    struct dep11_wrapped_copy copies[NCOPIES];
    uint8_t rsa_ct[2][DEP11_RSA_MAX_BYTES];
    uint8_t avail_ct[DEP11_RSA_MAX_BYTES]; /* GCM: AVAIL_COPY_LEN; RSA: modulus */
    uint8_t avail_id[DEP11_AVAIL_ID_LEN];
    int fresh_made;                       /* a roll created avail_id */
    struct dep11_policy_state ps;         /* binding, the caller's token */
};

/* The copy algorithm for the profile's OAEP hash. */
static CK_RV oaep_alg(CK_MECHANISM_TYPE hash, uint8_t *alg)
{
    if (hash == CKM_SHA_1) {
        *alg = DEP11_ALG_RSA_OAEP_SHA1;
        return CKR_OK;
    }
    if (hash == CKM_SHA256) {
        *alg = DEP11_ALG_RSA_OAEP_SHA256;
        return CKR_OK;
    }
    LOG_FAIL(CKR_FUNCTION_FAILED, "profile OAEP hash 0x%lx is neither SHA-1 nor SHA-256",
             (unsigned long)hash);
    return CKR_FUNCTION_FAILED;
}

/* Modulus length in bytes and bits, leading zero bytes ignored. */
static size_t modulus_bytes(const struct dep11_hsm_rsa *k, size_t *bits)
{
    size_t i = 0;
    unsigned top = 0;

    while (i < k->mod_len && k->modulus[i] == 0)
        i++;
    *bits = 0;
    if (i == k->mod_len)
        return 0;
    top = k->modulus[i];
    *bits = (k->mod_len - i - 1) * 8;
    while (top != 0) {
        (*bits)++;
        top >>= 1;
    }
    return k->mod_len - i;
}

/* Size, sensitivity and registration of resolved customer root @n (1, 2). */
static CK_RV check_root(const struct dep11_call *c, CK_SESSION_HANDLE s,
                        const struct dep11_hsm_rsa *k, int n)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    size_t bits = 0;
    int registered = 0;

    (void)modulus_bytes(k, &bits);
    if (bits < ROOT_BITS_MIN || bits > ROOT_BITS_MAX) {
        rv = CKR_WRAPPING_KEY_SIZE_RANGE;
        LOG_FAIL(rv, "root %d is %zu bits, not 2048..4096", n, bits);
        return rv;
    }
    if (!k->sensitive || k->extractable) {
        rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
        LOG_FAIL(rv, "root %d private key is %s", n,
                 !k->sensitive ? "not sensitive" : "extractable");
        return rv;
    }
    if (c->cfg->trusted_roots_any)
        return CKR_OK;
    rv = dep11_root_registered(c->cfg, s, c->slot, k, &registered);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "registration look-up of root %d", n);
        return rv;
    }
    if (!registered) {
        rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
        LOG_FAIL(rv, "root %d: root not registered (%s)", n,
                 c->cfg->profile.root_reg_so_login
                     ? "no SO registration of this key for this token on the provider token"
                     : "no CKA_TRUSTED public key");
        return rv;
    }
    return CKR_OK;
}

/* Resolves root @n (@h) to its private key; maps "no such key" to the
 * code of that argument (root 1 is hWrappingKey, root 2 a parameter). */
static CK_RV resolve_root(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, int n,
                          struct dep11_hsm_rsa *out)
{
    CK_RV rv = dep11_hsm_rsa_resolve(s, h, out);

    if (rv == CKR_OK)
        return rv;
    if (rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID ||
        rv == CKR_KEY_TYPE_INCONSISTENT)
        rv = n == 1 ? CKR_WRAPPING_KEY_HANDLE_INVALID : CKR_MECHANISM_PARAM_INVALID;
    LOG_FAIL(rv, "root %d (handle %lu) does not resolve to an RSA private key", n,
             (unsigned long)h);
    return rv;
}

/* Customer mode: resolves and checks both roots on the caller's token. */
static CK_RV customer_roots(const struct dep11_call *c, CK_OBJECT_HANDLE root1,
                            CK_OBJECT_HANDLE root2, struct wrap *w)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    int opened = 0;

    rv = dep11_hsm_worker_open(c->slot, &s);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "worker session on slot %lu", (unsigned long)c->slot);
        goto out;
    }
    opened = 1;
    rv = resolve_root(s, root1, 1, &w->roots[0]);
    if (rv == CKR_OK)
        rv = resolve_root(s, root2, 2, &w->roots[1]);
    if (rv != CKR_OK)
        goto out;
    if (w->roots[0].mod_len == w->roots[1].mod_len &&
        memcmp(w->roots[0].modulus, w->roots[1].modulus, w->roots[0].mod_len) == 0) {
        rv = CKR_MECHANISM_PARAM_INVALID;
        LOG_FAIL(rv, "both roots name the same key");
        goto out;
    }
    rv = check_root(c, s, &w->roots[0], 1);
    if (rv == CKR_OK)
        rv = check_root(c, s, &w->roots[1], 2);
out:
    if (opened)
        dep11_hsm_worker_close(s);
    return rv;
}

/* The header of the new blob (kcv filled later, on a real wrap). */
static CK_RV build_header(const struct dep11_key *p, int customer, struct wrap *w)
{
    CK_RV rv = CKR_KEY_NOT_WRAPPABLE;
    struct dep11_policy_header *h = &w->hdr;

    if (!p->has_policy || !p->has_tenant || p->policy_type < DEP11_POLICY_MAILBOX ||
        p->policy_type > DEP11_POLICY_FILES || p->geo_len > sizeof(h->geo) ||
        p->label_len > sizeof(h->label)) {
        LOG_FAIL(rv, "policy key lacks its id, type or tenant");
        return rv;
    }
    if (p->version >= UINT32_MAX) {
        LOG_FAIL(rv, "policy version %lu cannot grow", (unsigned long)p->version);
        return rv;
    }
    h->suite = DEP11_SUITE1;
    memcpy(h->policy_id, p->policy_id, sizeof(h->policy_id));
    h->policy_type = (uint8_t)p->policy_type;
    memcpy(h->tenant, p->tenant, sizeof(h->tenant));
    h->version = (uint32_t)p->version + 1;
    h->managed_by = customer ? DEP11_MANAGED_CUSTOMER : DEP11_MANAGED_PROVIDER;
    memcpy(h->geo, p->geo, p->geo_len);
    h->geo_len = (uint8_t)p->geo_len;
    memcpy(h->label, p->label, p->label_len);
    h->label_len = (uint8_t)p->label_len;
    return CKR_OK;
}

/* Copy descriptors with their final lengths; data pointers into @w.
 * Without roots (a provider-mode size query) the RSA copies take the
 * largest size, so the length is an upper bound. */
static CK_RV describe_copies(const struct dep11_call *c, struct wrap *w, int have_roots)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    uint8_t alg = 0;
    size_t bits = 0;

    rv = oaep_alg(c->cfg->profile.oaep_hash, &alg);
    if (rv != CKR_OK)
        return rv;
    for (int i = 0; i < 2; i++) {
        struct dep11_wrapped_copy *cp = &w->copies[i];
        const struct dep11_hsm_rsa *k = &w->roots[i];

        if (w->customer)
            cp->kind = i == 0 ? DEP11_COPY_CUSTOMER_1 : DEP11_COPY_CUSTOMER_2;
        else
            cp->kind = i == 0 ? DEP11_COPY_PROVIDER_1 : DEP11_COPY_PROVIDER_2;
        cp->alg = alg;
        cp->key_id_len = DEP11_SHA256_LEN;
        cp->hint_len = have_roots ? (uint8_t)k->ckaid_len : DEP11_BLOB_KEY_ID_MAX;
        if (have_roots && k->ckaid_len > DEP11_BLOB_KEY_ID_MAX) {
            rv = CKR_GENERAL_ERROR;
            LOG_FAIL(rv, "root CKA_ID longer than a blob hint");
            return rv;
        }
        memcpy(cp->hint, k->ckaid, have_roots ? k->ckaid_len : 0);
        w->mod_len[i] = have_roots ? modulus_bytes(k, &bits) : DEP11_RSA_MAX_BYTES;
        cp->data_len = (uint16_t)w->mod_len[i];
        cp->data = w->rsa_ct[i];
    }
    /* The availability copy: AES-GCM in the HSM, or (profile
     * "availability-key = rsa") RSA-OAEP with the profile's hash to a key
     * of "availability-rsa-bits". */
    w->copies[2].kind = DEP11_COPY_AVAILABILITY;
    w->copies[2].alg = c->cfg->profile.availability_rsa ? alg : DEP11_ALG_AES_GCM;
    w->copies[2].key_id_len = DEP11_AVAIL_ID_LEN;
    w->copies[2].data_len = c->cfg->profile.availability_rsa
                                ? (uint16_t)(c->cfg->profile.availability_rsa_bits / 8)
                                : AVAIL_COPY_LEN;
    w->copies[2].data = w->avail_ct;
    return CKR_OK;
}

/* RSA-OAEP of the policy key to @k with the profile's hash into @ct; its
 * length must be @want (the copy's announced length). */
static CK_RV oaep_copy(const struct dep11_call *c, const struct dep11_key *p,
                       const struct dep11_hsm_rsa *k, uint8_t *ct, size_t cap, size_t want)
{
    size_t ct_len = cap;
    CK_RV rv =
        dep11_rsa_oaep_encrypt(k->modulus, k->mod_len, k->exponent, k->exp_len,
                               c->cfg->profile.oaep_hash, p->value, DEP11_KEY_LEN, ct, &ct_len);

    if (rv == CKR_OK && ct_len != want) {
        rv = CKR_GENERAL_ERROR;
        LOG_FAIL(rv, "OAEP output %zu bytes, expected %zu", ct_len, want);
    }
    return rv;
}

/* The availability copy in @w->avail_ct: sealed in the HSM with the encoded
 * header as AAD (AES), or RSA-OAEP to the RSA availability key's public
 * numbers (read from the provider token). */
static CK_RV avail_copy(const struct dep11_call *c, const struct dep11_key *p, struct wrap *w)
{
    struct dep11_hsm_rsa k;
    size_t ct_len = sizeof(w->avail_ct);
    CK_RV rv = CKR_GENERAL_ERROR;

    if (!c->cfg->profile.availability_rsa) {
        rv =
            dep11_provider_avail_seal(w->avail_id, DEP11_AVAIL_ID_LEN, w->hdr_bytes, w->hdr_len,
                                      p->value, DEP11_KEY_LEN, w->avail_ct, &ct_len);
        if (rv == CKR_OK && ct_len != AVAIL_COPY_LEN) {
            rv = CKR_GENERAL_ERROR;
            LOG_FAIL(rv, "availability copy is %zu bytes", ct_len);
        }
        return rv;
    }
    rv = dep11_provider_avail_rsa_public(w->avail_id, DEP11_AVAIL_ID_LEN, &k);
    if (rv == CKR_OK && k.mod_len != w->copies[2].data_len) {
        rv = CKR_KEY_SIZE_RANGE;
        LOG_FAIL(rv,
                 "RSA availability key of %zu bytes, the profile's availability-rsa-bits "
                 "says %u: roll the availability key",
                 k.mod_len, w->copies[2].data_len);
    }
    if (rv == CKR_OK)
        rv = oaep_copy(c, p, &k, w->avail_ct, sizeof(w->avail_ct), w->copies[2].data_len);
    return rv;
}

/* The three copies: RSA-OAEP to each root, then the availability copy
 * sealed in the HSM with the encoded header as AAD. */
static CK_RV make_copies(const struct dep11_call *c, const struct dep11_key *p,
                         CK_FLAGS flags, struct wrap *w)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    const struct dep11_profile *pr = &c->cfg->profile;

    for (int i = 0; i < 2; i++) {
        const struct dep11_hsm_rsa *k = &w->roots[i];
        struct dep11_wrapped_copy *cp = &w->copies[i];

        rv = dep11_rsa_identity(k->modulus, k->mod_len, k->exponent, k->exp_len,
                                cp->key_id);
        if (rv == CKR_OK)
            rv = oaep_copy(c, p, k, w->rsa_ct[i], sizeof(w->rsa_ct[i]), cp->data_len);
        if (rv != CKR_OK)
            return rv;
    }
    rv = dep11_provider_avail_key(p->policy_id, (flags & DEP11_WRAP_ROLL_AVAILABILITY) != 0,
                                  pr->availability_rsa ? pr->availability_rsa_bits : 0,
                                  w->avail_id);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "availability key");
        return rv;
    }
    w->fresh_made = (flags & DEP11_WRAP_ROLL_AVAILABILITY) != 0;
    memcpy(w->copies[2].key_id, w->avail_id, DEP11_AVAIL_ID_LEN);
    return avail_copy(c, p, w);
}

/* The length of the blob to come, and the size-query protocol. *@done is
 * set when the caller only asked for the length or the buffer is short. */
static CK_RV size_check(const struct dep11_call *c, struct wrap *w, int have_roots,
                        uint8_t *out, CK_ULONG *out_len, size_t *need, int *done)
{
    CK_RV rv = describe_copies(c, w, have_roots);

    *done = 0;
    if (rv != CKR_OK)
        return rv;
    *need = dep11_policy_blob_len(&w->hdr, w->copies, NCOPIES);
    if (out == NULL || *out_len < *need) {
        rv = out == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
        if (rv != CKR_OK)
            LOG_FAIL(rv, "need %zu bytes, have %lu", *need, (unsigned long)*out_len);
        *out_len = *need;
        *done = 1;
    }
    return rv;
}

/* Argument, role and mode checks. */
static CK_RV check_args(const struct dep11_call *c, const struct dep11_key *policy,
                        CK_OBJECT_HANDLE root1, CK_OBJECT_HANDLE root2, CK_FLAGS flags,
                        const CK_ULONG *out_len)
{
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (c == NULL || c->cfg == NULL || policy == NULL || policy->value == NULL ||
        out_len == NULL) {
        LOG_FAIL(rv, "NULL argument");
        return rv;
    }
    rv = dep11_key_permits(policy, DEP11_USE_WRAPPED_BY_POLICY_WRAP, CKM_DEP11_POLICY_WRAP);
    if (rv != CKR_OK)
        return rv;
    if ((flags & ~(CK_FLAGS)DEP11_WRAP_ROLL_AVAILABILITY) != 0) {
        rv = CKR_MECHANISM_PARAM_INVALID;
        LOG_FAIL(rv, "unknown flag bits 0x%lx", (unsigned long)flags);
        return rv;
    }
    if ((root1 == CK_INVALID_HANDLE) != (root2 == CK_INVALID_HANDLE)) {
        rv = CKR_MECHANISM_PARAM_INVALID;
        LOG_FAIL(rv, "one root given without the other");
        return rv;
    }
    return CKR_OK;
}

/* Which lifecycle step a wrap is (DESIGN section 6): a fresh policy, an
 * off-boarding (customer-managed re-wrapped provider-managed), an
 * availability roll, or a refresh (any other re-wrap: version > 1). */
static const char *wrap_event(const struct dep11_key *p, int customer, CK_FLAGS flags)
{
    if (p->version == 0)
        return "policy-wrap";
    if (p->managed_by == DEP11_MANAGED_CUSTOMER && !customer)
        return "offboard";
    if (flags & DEP11_WRAP_ROLL_AVAILABILITY)
        return "availability-roll";
    return "refresh";
}

/* The audit line of a wrap, written once the blob is complete (and the
 * policy bound): the roots' identities, the availability key's
 * CKA_ID (public identifiers, no key bytes). CKR_OK or CKR_FUNCTION_FAILED. */
static CK_RV audit_wrap(const struct dep11_key *p, CK_FLAGS flags, const struct wrap *w)
{
    struct dep11_audit_event e;
    char r1[2 * DEP11_SHA256_LEN + 1], r2[2 * DEP11_SHA256_LEN + 1];
    char avail[2 * DEP11_AVAIL_ID_LEN + 1], extra[320];

    dep11_hex_encode(w->copies[0].key_id, DEP11_SHA256_LEN, r1);
    dep11_hex_encode(w->copies[1].key_id, DEP11_SHA256_LEN, r2);
    dep11_hex_encode(w->avail_id, DEP11_AVAIL_ID_LEN, avail);
    snprintf(extra, sizeof(extra),
             "\"managed_by\":\"%s\",\"roots\":[\"%s\",\"%s\"],\"availability_key\":\"%s\"",
             w->customer ? "customer" : "provider", r1, r2, avail);
    memset(&e, 0, sizeof(e));
    e.event = wrap_event(p, w->customer, flags);
    e.policy_id = p->policy_id;
    e.version = w->hdr.version;
    e.extra_json = extra;
    e.tenant = p->tenant;
    e.token = w->ps.serial;
    if (dep11_audit_write(&e) != CKR_OK) {
        LOG_FAIL(CKR_FUNCTION_FAILED, "audit line not written: the blob is withheld");
        return CKR_FUNCTION_FAILED;
    }
    return CKR_OK;
}

/* The audit line of a wrap refused before anything was created (tenant
 * binding, superseded key, revoked roots) with its @result. */
static void audit_refusal(const struct dep11_key *p, CK_FLAGS flags, const struct wrap *w,
                          CK_RV result)
{
    struct dep11_audit_event e;

    memset(&e, 0, sizeof(e));
    e.event = wrap_event(p, w->customer, flags);
    e.policy_id = p->policy_id;
    e.version = w->hdr.version;
    e.tenant = p->tenant;
    e.token = w->ps.serial;
    e.result = result;
    (void)dep11_audit_write(&e);
}

/* Fills @out (capacity checked) with the complete, MAC'd blob, and
 * audits it. */
static CK_RV seal_blob(const struct dep11_call *c, const struct dep11_key *policy,
                       CK_FLAGS flags, struct wrap *w, uint8_t *out, size_t need)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    size_t len = 0;

    rv = dep11_suite1_kcv(policy->value, policy->policy_id, w->hdr.kcv);
    if (rv == CKR_OK)
        rv = dep11_policy_header_encode(&w->hdr, w->hdr_bytes, sizeof(w->hdr_bytes),
                                        &w->hdr_len);
    if (rv == CKR_OK)
        rv = make_copies(c, policy, flags, w);
    if (rv == CKR_OK)
        rv = dep11_policy_blob_encode(&w->hdr, w->copies, NCOPIES, out, need, &len);
    if (rv != CKR_OK)
        return rv;
    if (len != need || len < DEP11_BLOB_MAC_LEN) {
        LOG_FAIL(CKR_GENERAL_ERROR, "blob is %zu bytes, expected %zu", len, need);
        return CKR_GENERAL_ERROR;
    }
    rv = dep11_provider_mac(out, len - DEP11_BLOB_MAC_LEN, out + len - DEP11_BLOB_MAC_LEN);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "provider MAC");
        return rv;
    }
    /* The first wrap binds the policy to this token and tenant (a racing
     * process's binding may win: then this wrap is refused). */
    if (!w->ps.st.bound) {
        rv = dep11_tenant_bind(c, policy->policy_id, policy->tenant, &w->ps);
        if (rv == CKR_DEP11_TENANT_MISMATCH)
            audit_refusal(policy, flags, w, CKR_DEP11_TENANT_MISMATCH);
        if (rv != CKR_OK)
            return rv;
    }
    return audit_wrap(policy, flags, w);
}

/* seal_blob; a roll that fails anywhere drops the fresh key it made, since
 * the blob naming it is withheld: a failed roll leaves no key behind. The
 * older availability keys of a roll stay until the new version is committed
 * (its first successful unwrap, policy_unwrap.c): until then older blobs
 * still work. */
static CK_RV write_blob(const struct dep11_call *c, const struct dep11_key *policy,
                        CK_FLAGS flags, struct wrap *w, uint8_t *out, size_t need)
{
    CK_RV rv = seal_blob(c, policy, flags, w, out, need);

    if (rv != CKR_OK && w->fresh_made && dep11_provider_avail_drop(w->avail_id) != CKR_OK)
        LOG_WARN("a fresh availability key of a failed roll stays on the provider token");
    return rv;
}

/* The tenant binding (DESIGN section 2), before anything is created: a
 * policy bound to another token or tenant id is refused, audited. */
static CK_RV check_tenant(const struct dep11_call *c, const struct dep11_key *p, CK_FLAGS flags,
                          struct wrap *w)
{
    CK_RV rv = dep11_tenant_check(c, p->policy_id, p->tenant, &w->ps);

    if (rv == CKR_DEP11_TENANT_MISMATCH)
        audit_refusal(p, flags, w, rv);
    return rv;
}

/* A re-wrap starts from the policy as it stands (after check_tenant):
 * a key unwrapped from a blob older than the committed version, or a
 * freshly generated one once a blob of it is committed, is superseded (a
 * kept handle must not mint a blob that outlives the customer's newer one), and a key that came from customer roots is
 * re-wrapped only while one of them is still on the token with
 * CKA_DECRYPT on: once the customer has revoked, no re-wrap (an
 * off-boarding above all) may make the policy readable again. Refusals
 * are audited; nothing is created. */
static CK_RV check_current(const struct dep11_call *c, const struct dep11_key *p,
                           CK_FLAGS flags, struct wrap *w)
{
    CK_RV rv = CKR_OK;

    if (p->version == 0 && w->ps.st.number == 0)
        return CKR_OK; /* a fresh policy, no blob of it committed yet */
    if ((uint64_t)p->version < w->ps.st.number) {
        rv = CKR_DEP11_BLOB_SUPERSEDED;
        LOG_FAIL(rv, "policy key of version %lu, committed version %llu",
                 (unsigned long)p->version, (unsigned long long)w->ps.st.number);
    } else if (p->managed_by == DEP11_MANAGED_CUSTOMER) {
        rv = dep11_policy_roots_live(c, p);
    }
    if (rv == CKR_DEP11_BLOB_SUPERSEDED || rv == CKR_DEP11_ROOT_KEYS_REVOKED)
        audit_refusal(p, flags, w, rv);
    return rv;
}

/**
 * dep11_policy_wrap - C_WrapKey(CKM_DEP11_POLICY_WRAP).
 * @c [in] caller's slot and config; @policy [in] the policy key;
 * @root1/@root2 [in] customer roots (backend handles of RSA private or
 * public keys), or both CK_INVALID_HANDLE for provider-managed; @flags [in]
 * DEP11_WRAP_ROLL_AVAILABILITY or 0; @out [out] the blob, NULL to learn its
 * length (exact for customer roots; for provider-managed an upper bound,
 * 512-byte RSA copies, which is also the capacity asked for, because the
 * provider roots that fix the exact length may not exist yet and a short
 * buffer must create nothing); @out_len [in,out] capacity / length.
 * Returns CKR_OK, CKR_BUFFER_TOO_SMALL, CKR_ARGUMENTS_BAD,
 * CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_KEY_NOT_WRAPPABLE,
 * CKR_MECHANISM_PARAM_INVALID, CKR_WRAPPING_KEY_HANDLE_INVALID,
 * CKR_WRAPPING_KEY_SIZE_RANGE, CKR_DEP11_TENANT_MISMATCH (the policy is
 * bound to another token or tenant: nothing created),
 * CKR_DEP11_BLOB_SUPERSEDED (the key came from a blob older than the
 * committed version), CKR_DEP11_ROOT_KEYS_REVOKED (the key came from
 * customer roots that are no longer on the token with CKA_DECRYPT on),
 * CKR_DEP11_ROOT_KEYS_UNAVAILABLE (that cannot be told), CKR_FUNCTION_FAILED (the audit log is
 * configured but the line could not be written: no blob is returned and a
 * roll destroys nothing), backend codes. @out is cleansed on error.
 */
CK_RV dep11_policy_wrap(const struct dep11_call *c, const struct dep11_key *policy,
                        CK_OBJECT_HANDLE root1, CK_OBJECT_HANDLE root2,
                        CK_FLAGS flags, uint8_t *out, CK_ULONG *out_len)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    struct wrap *w = NULL;
    size_t need = 0;
    int done = 0, written = 0;

    rv = check_args(c, policy, root1, root2, flags, out_len);
    if (rv != CKR_OK)
        goto out;
    w = calloc(1, sizeof(*w)); /* no key bytes: the policy value stays in @policy */
    if (w == NULL) {
        rv = CKR_HOST_MEMORY;
        LOG_FAIL(rv, "wrap state");
        goto out;
    }
    w->customer = root1 != CK_INVALID_HANDLE;
    rv = build_header(policy, w->customer, w);
    if (rv == CKR_OK && w->customer)
        rv = customer_roots(c, root1, root2, w);
    if (rv == CKR_OK)
        rv = size_check(c, w, w->customer, out, out_len, &need, &done);
    if (rv != CKR_OK || done)
        goto out; /* a size query or a short buffer creates nothing */
    rv = check_tenant(c, policy, flags, w);
    if (rv == CKR_OK)
        rv = check_current(c, policy, flags, w);
    if (rv != CKR_OK)
        goto out;
    if (!w->customer) {
        rv = dep11_provider_root(1, &w->roots[0]);
        if (rv == CKR_OK)
            rv = dep11_provider_root(2, &w->roots[1]);
        if (rv == CKR_OK)
            rv = describe_copies(c, w, 1);
        if (rv != CKR_OK) {
            LOG_FAIL(rv, "provider roots");
            goto out;
        }
        need = dep11_policy_blob_len(&w->hdr, w->copies, NCOPIES);
    }
    written = 1;
    rv = write_blob(c, policy, flags, w, out, need);
    if (rv == CKR_OK)
        *out_len = need;
out:
    if (rv != CKR_OK && written)
        dep11_cleanse(out, need);
    if (w != NULL) {
        dep11_cleanse(w, sizeof(*w));
        free(w);
    }
    return rv;
}
