/*
 * policy_unwrap.c - C_UnwrapKey(CKM_DEP11_POLICY_UNWRAP): MAC check, the
 * root copies tried (random order or hedged; copy_open.c opens each and
 * classifies its answer), then the availability rules of DESIGN section 5
 * (who may fall back, and when); the policy-key cache in front, and the
 * audit lines of every answer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hier/hier.h"
#include "hier/cache.h"
#include "hier/copy_open.h"
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

/* One unwrap in progress. */
struct unwrap {
    const struct dep11_call *c;
    CK_ULONG requester;
    struct dep11_policy_blob b;
    int roots[2];          /* indexes of the root copies, -1 = absent */
    int avail;             /* index of the availability copy, -1 = absent */
    uint8_t *value;        /* DEP11_KEY_LEN secmem bytes once unwrapped */
    CK_ULONG served_by;    /* DEP11_ROOT_* */
    const char *reason;    /* "transient"/"denied" when the availability key served */
    int unbound;           /* no tenant binding: only a customer root may serve */
    uint8_t digest[DEP11_SHA256_LEN]; /* SHA-256 of the blob: its commit identity */
};

static const char *requester_name(CK_ULONG r)
{
    return r == DEP11_REQUESTER_SYSTEM ? "system"
           : r == DEP11_REQUESTER_RECOVERY ? "recovery" : "user";
}

/* May this process claim @r? */
static CK_RV check_requester(const struct dep11_config *cfg, CK_ULONG r)
{
    CK_RV rv = CKR_MECHANISM_PARAM_INVALID;

    if (r < DEP11_REQUESTER_USER || r > DEP11_REQUESTER_RECOVERY) {
        LOG_FAIL(rv, "unknown requester %lu", (unsigned long)r);
        return rv;
    }
    if (r == DEP11_REQUESTER_SYSTEM && !cfg->system_requests) {
        LOG_FAIL(rv, "requester SYSTEM refused: config says system-requests = deny");
        return rv;
    }
    if (r == DEP11_REQUESTER_RECOVERY && !cfg->recovery_requests) {
        LOG_FAIL(rv, "requester RECOVERY refused: config says recovery-requests = deny");
        return rv;
    }
    return CKR_OK;
}

/* The provider MAC over everything before it; then the copy layout. */
static CK_RV verify_blob(const uint8_t *blob, struct unwrap *u)
{
    CK_RV rv = CKR_WRAPPED_KEY_INVALID;
    uint8_t mac[DEP11_BLOB_MAC_LEN];
    uint8_t root_base = u->b.hdr.managed_by == DEP11_MANAGED_CUSTOMER
                            ? DEP11_COPY_CUSTOMER_1 : DEP11_COPY_PROVIDER_1;

    rv = dep11_provider_mac(blob, u->b.mac_offset, mac);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "provider MAC");
        return rv;
    }
    if (!dep11_ct_equal(mac, u->b.mac, sizeof(mac))) {
        rv = CKR_WRAPPED_KEY_INVALID;
        LOG_FAIL(rv, "blob MAC does not verify");
        return rv;
    }
    u->roots[0] = u->roots[1] = u->avail = -1;
    for (size_t i = 0; i < u->b.ncopies; i++) {
        uint8_t kind = u->b.copies[i].kind;
        if (kind == root_base || kind == root_base + 1)
            u->roots[kind - root_base] = (int)i;
        else if (kind == DEP11_COPY_AVAILABILITY) /* AES-GCM or RSA-OAEP (either hash) */
            u->avail = (int)i;
        else {
            rv = CKR_WRAPPED_KEY_INVALID;
            LOG_FAIL(rv, "copy kind %u alg %u does not fit a %s-managed blob", kind,
                     u->b.copies[i].alg, root_base == DEP11_COPY_CUSTOMER_1 ? "customer"
                                                                             : "provider");
            return rv;
        }
    }
    if (u->roots[0] < 0 && u->roots[1] < 0) {
        rv = CKR_WRAPPED_KEY_INVALID;
        LOG_FAIL(rv, "blob has no root copy");
        return rv;
    }
    return CKR_OK;
}

/* Resolves @force_root and names the one copy it may open. */
static CK_RV forced_copy(struct unwrap *u, CK_OBJECT_HANDLE force_root,
                         struct dep11_hsm_rsa *key, int *which)
{
    CK_RV rv = CKR_UNWRAPPING_KEY_HANDLE_INVALID;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;

    if (u->b.hdr.managed_by != DEP11_MANAGED_CUSTOMER) {
        LOG_FAIL(rv, "a provider-managed blob takes no unwrapping key");
        return rv;
    }
    rv = dep11_hsm_worker_open(u->c->slot, &s);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "worker session");
        return rv;
    }
    rv = dep11_hsm_rsa_resolve(s, force_root, key);
    dep11_hsm_worker_close(s);
    if (rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID ||
        rv == CKR_KEY_TYPE_INCONSISTENT)
        rv = CKR_UNWRAPPING_KEY_HANDLE_INVALID;
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "forced root %lu does not resolve", (unsigned long)force_root);
        return rv;
    }
    for (int i = 0; i < 2; i++)
        if (u->roots[i] >= 0 &&
            dep11_rsa_has_identity(key->modulus, key->mod_len, key->exponent, key->exp_len,
                                   u->b.copies[u->roots[i]].key_id,
                                   u->b.copies[u->roots[i]].key_id_len)) {
            *which = i;
            return CKR_OK;
        }
    rv = CKR_UNWRAPPING_KEY_HANDLE_INVALID;
    LOG_FAIL(rv, "forced root is neither of the blob's roots");
    return rv;
}

/* Combines the answers of the root copies tried. */
static enum dep11_fault combine(const enum dep11_fault *f, int n)
{
    int all_invalid = 1, transient = 0;

    for (int i = 0; i < n; i++) {
        all_invalid &= f[i] == DEP11_FAULT_INVALID;
        transient |= f[i] == DEP11_FAULT_TRANSIENT;
    }
    if (all_invalid)
        return DEP11_FAULT_INVALID; /* never treated as transient */
    return transient ? DEP11_FAULT_TRANSIENT : DEP11_FAULT_DENIED;
}

/* The opens of the root copies, in random order (spreading the load), or
 * the forced one alone; @idx gets each open's root (0 or 1). */
static CK_RV prepare_roots(struct unwrap *u, CK_OBJECT_HANDLE force_root,
                           struct dep11_copy_open **o, int *idx, int *n)
{
    CK_RV rv = CKR_OK;
    struct dep11_hsm_rsa forced;
    int customer = u->b.hdr.managed_by == DEP11_MANAGED_CUSTOMER, only = -1;
    uint8_t coin = 0;

    memset(&forced, 0, sizeof(forced));
    *n = 0;
    if (force_root != CK_INVALID_HANDLE &&
        (rv = forced_copy(u, force_root, &forced, &only)) != CKR_OK)
        return rv;
    if ((rv = dep11_random(&coin, 1)) != CKR_OK)
        return rv;
    for (int k = 0; k < 2 && rv == CKR_OK; k++) {
        int i = (coin & 1) ? 1 - k : k;

        if (u->roots[i] < 0 || (only >= 0 && i != only))
            continue;
        rv = dep11_copy_open_new(&u->b, (size_t)u->roots[i],
                                 customer ? DEP11_OPEN_CUSTOMER : DEP11_OPEN_PROVIDER,
                                 u->c->slot, i + 1, only >= 0 ? &forced : NULL, &o[*n]);
        if (rv == CKR_OK) {
            o[*n]->handles_unique = u->c->cfg->profile.handles_unique;
            idx[(*n)++] = i;
        }
    }
    dep11_cleanse(&forced, sizeof(forced));
    return rv;
}

/* Tries the root copies (one after the other, or hedged, as the profile
 * says): NONE with u->value and u->served_by set, or the combined fault. */
static CK_RV try_roots(struct unwrap *u, CK_OBJECT_HANDLE force_root, enum dep11_fault *out)
{
    const struct dep11_profile *p = &u->c->cfg->profile;
    struct dep11_copy_open *o[2] = { NULL, NULL };
    enum dep11_fault f[2] = { DEP11_FAULT_INVALID, DEP11_FAULT_INVALID };
    int idx[2] = { 0, 1 }, n = 0, tried = 0, w = -1;
    CK_RV rv = prepare_roots(u, force_root, o, idx, &n);

    if (rv == CKR_OK && n > 0) {
        tried = dep11_copy_open_run(o, n, p->hedged, p->call_timeout_ms, f, &w);
        *out = w >= 0 ? f[w] : combine(f, tried);
    } else if (rv == CKR_OK) {
        *out = DEP11_FAULT_INVALID; /* no root copy to try */
    }
    if (w >= 0) {
        u->served_by = u->b.hdr.managed_by != DEP11_MANAGED_CUSTOMER ? DEP11_ROOT_PROVIDER
                       : idx[w] == 0 ? DEP11_ROOT_CUSTOMER_1 : DEP11_ROOT_CUSTOMER_2;
        if (f[w] == DEP11_FAULT_NONE)
            memcpy(u->value, o[w]->value, DEP11_KEY_LEN);
    }
    for (int i = 0; i < 2; i++)
        dep11_copy_open_free(o[i]);
    return rv;
}

/* Opens the availability copy into u->value: CKR_OK, or the code the
 * caller returns. With @probe, only tells whether the key is gone. */
static CK_RV open_avail(struct unwrap *u, int probe, CK_RV no_fallback)
{
    CK_RV rv = CKR_GENERAL_ERROR, got = CKR_FUNCTION_CANCELED;
    struct dep11_copy_open *o = NULL;
    enum dep11_fault f = DEP11_FAULT_TRANSIENT;
    int w = -1;

    if (u->avail < 0) {
        LOG_FAIL(no_fallback, "blob has no availability copy");
        return no_fallback;
    }
    rv = dep11_copy_open_new(&u->b, (size_t)u->avail, DEP11_OPEN_AVAILABILITY, u->c->slot, 0,
                             NULL, &o);
    if (rv != CKR_OK)
        return rv;
    (void)dep11_copy_open_run(&o, 1, 0, u->c->cfg->profile.call_timeout_ms, &f, &w);
    if (o != NULL) /* else abandoned at the time-out: transient */
        got = o->rv;
    if (got == CKR_KEY_HANDLE_INVALID || got == CKR_OBJECT_HANDLE_INVALID) {
        rv = CKR_DEP11_POLICY_PURGED;
        LOG_FAIL(rv, "availability key destroyed and no root unwraps");
    } else if (probe) {
        rv = no_fallback; /* the key exists: the value is not used */
        LOG_FAIL(rv, "no fallback for requester %s", requester_name(u->requester));
    } else if (f == DEP11_FAULT_NONE) {
        memcpy(u->value, o->value, DEP11_KEY_LEN);
        rv = CKR_OK;
    } else {
        rv = f == DEP11_FAULT_INVALID     ? CKR_WRAPPED_KEY_INVALID
             : f == DEP11_FAULT_DENIED    ? no_fallback
                                          : CKR_DEP11_ROOT_KEYS_UNAVAILABLE;
        LOG_FAIL(rv, "availability copy: %s", dep11_fault_name(f));
    }
    dep11_copy_open_free(o);
    return rv;
}

/* The availability rules: may this requester fall back after @f? */
static CK_RV fall_back(struct unwrap *u, enum dep11_fault f)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    CK_RV no_fallback = f == DEP11_FAULT_TRANSIENT ? CKR_DEP11_ROOT_KEYS_UNAVAILABLE
                                                   : CKR_DEP11_ROOT_KEYS_REVOKED;
    int allowed = f == DEP11_FAULT_TRANSIENT || u->requester != DEP11_REQUESTER_USER;
    char id[2 * DEP11_ID_LEN + 1];

    if (u->b.hdr.policy_type == DEP11_POLICY_FILES &&
        u->c->cfg->profile.files_fallback_recovery_only &&
        u->requester != DEP11_REQUESTER_RECOVERY)
        allowed = 0; /* the SharePoint rule */
    rv = open_avail(u, !allowed, no_fallback);
    if (rv != CKR_OK)
        return rv;
    u->served_by = DEP11_ROOT_AVAILABILITY;
    u->reason = f == DEP11_FAULT_TRANSIENT ? "transient" : "denied";
    dep11_hex_encode(u->b.hdr.policy_id, DEP11_ID_LEN, id);
    LOG_INFO("availability-use: policy %s version %lu requester %s reason %s", id,
             (unsigned long)u->b.hdr.version, requester_name(u->requester),
             f == DEP11_FAULT_TRANSIENT ? "transient" : "denied");
    return CKR_OK;
}

/* The policy key: every header field, and who served it. */
static CK_RV make_key(struct unwrap *u, struct dep11_key **out)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    struct dep11_key *k = NULL;
    const struct dep11_policy_header *h = &u->b.hdr;

    rv = dep11_key_alloc(DEP11_ROLE_POLICY, &k);
    if (rv != CKR_OK)
        return rv;
    memcpy(k->value, u->value, DEP11_KEY_LEN);
    k->has_policy = 1;
    memcpy(k->policy_id, h->policy_id, DEP11_ID_LEN);
    k->policy_type = h->policy_type;
    k->has_tenant = 1;
    memcpy(k->tenant, h->tenant, DEP11_ID_LEN);
    memcpy(k->geo, h->geo, h->geo_len);
    k->geo_len = h->geo_len;
    memcpy(k->label, h->label, h->label_len);
    k->label_len = h->label_len;
    k->version = h->version;
    k->managed_by = h->managed_by;
    k->unwrapped_by = u->served_by;
    k->local = CK_FALSE;
    for (int i = 0; i < 2 && h->managed_by == DEP11_MANAGED_CUSTOMER; i++) {
        const struct dep11_wrapped_copy *cp = u->roots[i] >= 0 ? &u->b.copies[u->roots[i]] : NULL;

        if (cp != NULL && cp->key_id_len == sizeof k->root_ids[0])
            memcpy(k->root_ids[k->nroot_ids++], cp->key_id, sizeof k->root_ids[0]);
    }
    *out = k;
    return CKR_OK;
}

/* The roots, then the availability rules. */
static CK_RV unwrap_value(struct unwrap *u, CK_OBJECT_HANDLE force_root)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    enum dep11_fault f = DEP11_FAULT_DENIED;

    rv = try_roots(u, force_root, &f);
    if (rv != CKR_OK)
        return rv;
    switch (f) {
    case DEP11_FAULT_NONE:
        return CKR_OK;
    case DEP11_FAULT_ABORT:
        rv = CKR_USER_NOT_LOGGED_IN;
        LOG_FAIL(rv, "token logged out under us: no fallback");
        return rv;
    case DEP11_FAULT_INVALID:
        rv = CKR_WRAPPED_KEY_INVALID;
        LOG_FAIL(rv, "every root copy is invalid");
        return rv;
    default:
        if (u->unbound && !u->c->cfg->bind_unbound) {
            rv = CKR_DEP11_TENANT_MISMATCH;
            LOG_FAIL(rv, "no customer root of this token unwraps a policy with no tenant "
                         "binding: no fallback");
            return rv;
        }
        return fall_back(u, f);
    }
}

/* The cache keeps USER unwraps apart from SYSTEM and RECOVERY ones. */
static enum dep11_cache_class cache_class(CK_ULONG requester)
{
    return requester == DEP11_REQUESTER_USER ? DEP11_CACHE_USER : DEP11_CACHE_SYSTEM;
}

/* What the audit lines of one unwrap carry besides the result. */
struct unwrap_note {
    CK_ULONG served_by;
    const uint8_t *policy_id;
    CK_ULONG version;
    CK_ULONG requester;
    const char *reason;
    const uint8_t *tenant;
    const char *token;
    int hit;
};

/* The audit lines of one unwrap (DESIGN section 5): availability-use when
 * that key served, then policy-unwrap with the result (a refusal after the
 * blob authenticated is audited too: its policy id is genuine). A success
 * that cannot be audited fails: nothing is served unaudited. */
static CK_RV audit_unwrap(const struct unwrap_note *n, CK_RV result)
{
    CK_RV rv = CKR_OK;
    struct dep11_audit_event e;

    memset(&e, 0, sizeof(e));
    e.policy_id = n->policy_id;
    e.version = n->version;
    e.requester = n->requester;
    e.tenant = n->tenant;
    e.token = n->token;
    if (result == CKR_OK && n->served_by == DEP11_ROOT_AVAILABILITY) {
        e.event = "availability-use";
        e.served_by = n->served_by;
        e.reason = n->reason;
        rv = dep11_audit_write(&e);
    }
    e.event = "policy-unwrap";
    e.served_by = result == CKR_OK ? n->served_by : 0;
    e.reason = result == CKR_OK ? n->reason : NULL;
    e.result = result;
    e.extra_json = n->hit ? "\"cache\":\"hit\"" : NULL;
    if (rv == CKR_OK)
        rv = dep11_audit_write(&e);
    if (rv != CKR_OK && result == CKR_OK) {
        LOG_FAIL(CKR_FUNCTION_FAILED, "audit line not written: the policy key is withheld");
        return CKR_FUNCTION_FAILED;
    }
    return result;
}

/* The cache key of @blob for the token in @slot: SHA-256(slot || SHA-256(blob)).
 * The slot is part of it so that a key cached for one tenant's token never
 * serves a session on another token of the same process. @blob_digest
 * [out] SHA-256(blob), which the commit step needs too. */
static CK_RV cache_digest(CK_SLOT_ID slot, const uint8_t *blob, CK_ULONG len,
                          uint8_t blob_digest[DEP11_SHA256_LEN],
                          uint8_t digest[DEP11_SHA256_LEN])
{
    uint8_t in[8 + DEP11_SHA256_LEN];
    uint64_t v = (uint64_t)slot;
    CK_RV rv;

    for (int i = 7; i >= 0; i--, v >>= 8)
        in[i] = (uint8_t)v;
    rv = dep11_sha256(blob, len, in + 8);
    if (rv == CKR_OK) {
        memcpy(blob_digest, in + 8, DEP11_SHA256_LEN);
        rv = dep11_sha256(in, sizeof in, digest);
    }
    return rv;
}

/* A cache hit for (@digest, @requester): no HSM call at all (the entry was
 * verified when stored), audited. CKR_OK with *@res = DEP11_CACHE_HIT and
 * *@out; CKR_OK with DEP11_CACHE_MISS (also when the cache cannot copy the
 * entry out: the unwrap then goes to the roots); CKR_FUNCTION_FAILED when
 * the audit line of a hit cannot be written. */
static CK_RV from_cache(CK_SLOT_ID slot, const uint8_t *digest, CK_ULONG requester,
                        struct dep11_key **out, enum dep11_cache_result *res)
{
    CK_RV rv = dep11_cache_get(digest, cache_class(requester), out, res);
    char serial[DEP11_TOKEN_SERIAL_LEN + 1];
    struct unwrap_note n;

    if (rv != CKR_OK || *res != DEP11_CACHE_HIT) {
        *res = DEP11_CACHE_MISS;
        return CKR_OK;
    }
    dep11_hsm_token_serial(slot, serial); /* remembered: no HSM call */
    memset(&n, 0, sizeof n);
    n.served_by = (*out)->unwrapped_by;
    n.policy_id = (*out)->policy_id;
    n.version = (*out)->version;
    n.requester = requester;
    n.tenant = (*out)->tenant;
    n.token = serial;
    n.hit = 1;
    rv = audit_unwrap(&n, CKR_OK);
    if (rv != CKR_OK) {
        dep11_key_free(*out);
        *out = NULL;
    }
    return rv;
}

/* The checks before any root is tried (DESIGN section 5): the tenant
 * binding (a policy bound nowhere, made by an earlier version, may only be
 * served by a customer root on this token: u->unbound; unless the config
 * says unbound-policies = bind-on-unwrap), the purge tombstone,
 * the committed version. Each is one search on the provider token, unless
 * the facts memo answers (facts.h: the provider token's change mark is
 * unchanged since they were searched). */
static CK_RV before_roots(struct unwrap *u, struct dep11_policy_state *ps)
{
    int purged = 0;
    /* the facts memo lives as long as a cache entry, and not when the
     * cache is off (either key 0) */
    unsigned seconds = u->c->cfg->cache_entries != 0 ? u->c->cfg->cache_seconds : 0;
    CK_RV rv =
        dep11_tenant_facts(u->c, u->b.hdr.policy_id, u->b.hdr.tenant, seconds, ps, &purged);

    if (rv != CKR_OK)
        return rv;
    u->unbound = !ps->st.bound;
    if (u->unbound && u->c->cfg->bind_unbound) {
        LOG_INFO("policy with no tenant binding: bound to this token if it unwraps "
                 "(unbound-policies = bind-on-unwrap)");
    } else if (u->unbound && u->b.hdr.managed_by != DEP11_MANAGED_CUSTOMER) {
        rv = CKR_DEP11_TENANT_MISMATCH;
        LOG_FAIL(rv, "provider-managed policy with no tenant binding: no proof of tenancy");
        return rv;
    }
    if (purged) {
        rv = CKR_DEP11_POLICY_PURGED;
        LOG_FAIL(rv, "the policy id carries a purge tombstone");
    }
    if (rv == CKR_OK && u->b.hdr.version < ps->st.number) {
        rv = CKR_DEP11_BLOB_SUPERSEDED;
        LOG_FAIL(rv, "blob version %lu, committed version %llu", (unsigned long)u->b.hdr.version,
                 (unsigned long long)ps->st.number);
    } else if (rv == CKR_OK && u->b.hdr.version == ps->st.number &&
               !dep11_ct_equal(u->digest, ps->st.digest, sizeof u->digest)) {
        rv = CKR_DEP11_BLOB_SUPERSEDED;
        LOG_FAIL(rv, "another blob of version %lu is the committed one",
                 (unsigned long)u->b.hdr.version);
    }
    return rv;
}

/* An authenticated blob's unwrap: the checks before the roots, the roots
 * and the availability rules, the commit of a newer version, the key, and
 * the audit lines of whatever the answer is. */
static CK_RV decide(struct unwrap *u, CK_OBJECT_HANDLE force_root, struct dep11_key **out)
{
    struct dep11_policy_state ps;
    struct unwrap_note n;
    CK_RV rv = CKR_HOST_MEMORY;

    memset(&ps, 0, sizeof(ps));
    u->value = dep11_secmem_alloc(DEP11_KEY_LEN);
    if (u->value == NULL) {
        LOG_FAIL(rv, "policy value");
        return rv;
    }
    rv = before_roots(u, &ps);
    if (rv == CKR_OK)
        rv = unwrap_value(u, force_root);
    /* The migration of a policy made before bindings existed (config
     * unbound-policies = bind-on-unwrap): the first token that unwraps it
     * claims it; a race lost to another token is a mismatch. */
    if (rv == CKR_OK && u->unbound && u->c->cfg->bind_unbound)
        rv = dep11_tenant_bind(u->c, u->b.hdr.policy_id, u->b.hdr.tenant, &ps);
    if (rv == CKR_OK && u->b.hdr.version > ps.st.number)
        rv = dep11_policy_commit(u->b.hdr.policy_id, u->b.hdr.version, u->digest,
                                 u->avail >= 0 ? u->b.copies[u->avail].key_id : NULL,
                                 u->avail >= 0 ? u->b.copies[u->avail].key_id_len : 0);
    if (rv == CKR_OK)
        rv = make_key(u, out);
    memset(&n, 0, sizeof n);
    n.served_by = u->served_by;
    n.policy_id = u->b.hdr.policy_id;
    n.version = u->b.hdr.version;
    n.requester = u->requester;
    n.reason = u->reason;
    n.tenant = u->b.hdr.tenant;
    n.token = ps.serial;
    return audit_unwrap(&n, rv);
}

/**
 * dep11_policy_unwrap - C_UnwrapKey(CKM_DEP11_POLICY_UNWRAP).
 * @c [in] caller's slot and config; @force_root [in] CK_INVALID_HANDLE or
 * the one customer root to try; @requester [in] DEP11_REQUESTER_*;
 * @blob [in] @len bytes; @out [out] the policy key, owned by the caller.
 * A live entry of the policy-key cache (same blob digest, token and
 * requester class, no forced root) is served without any HSM call; a key served by a
 * root is stored there. Every answer after the blob authenticated, and every
 * cache hit, is audited (util/audit.h).
 * Returns CKR_OK, CKR_ARGUMENTS_BAD, CKR_MECHANISM_PARAM_INVALID (requester
 * unknown or not allowed here), CKR_WRAPPED_KEY_INVALID,
 * CKR_UNWRAPPING_KEY_HANDLE_INVALID, CKR_USER_NOT_LOGGED_IN,
 * CKR_DEP11_ROOT_KEYS_REVOKED, CKR_DEP11_ROOT_KEYS_UNAVAILABLE,
 * CKR_DEP11_POLICY_PURGED, CKR_DEP11_TENANT_MISMATCH (bound to another
 * token or tenant; or bound nowhere and no customer root of this token
 * unwraps), CKR_DEP11_BLOB_SUPERSEDED (a newer version is committed),
 * CKR_HOST_MEMORY, CKR_FUNCTION_FAILED (the audit
 * log is configured but the line could not be written), provider backend
 * codes.
 */
CK_RV dep11_policy_unwrap(const struct dep11_call *c, CK_OBJECT_HANDLE force_root,
                          CK_ULONG requester, const uint8_t *blob, CK_ULONG len,
                          struct dep11_key **out)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    struct unwrap u;
    uint8_t digest[DEP11_SHA256_LEN];
    enum dep11_cache_result res = DEP11_CACHE_MISS;
    int cached = 0;

    memset(&u, 0, sizeof(u));
    if (c == NULL || c->cfg == NULL || blob == NULL || out == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL argument");
        goto out;
    }
    *out = NULL;
    u.c = c;
    u.requester = requester;
    rv = check_requester(c->cfg, requester);
    /* The cache first: a hit makes no HSM call. A forced root is always
     * tried for real. */
    if (rv == CKR_OK && force_root == CK_INVALID_HANDLE && len <= DEP11_POLICY_BLOB_MAX &&
        cache_digest(c->slot, blob, len, u.digest, digest) == CKR_OK) {
        cached = 1;
        rv = from_cache(c->slot, digest, requester, out, &res);
        if (rv != CKR_OK || res == DEP11_CACHE_HIT)
            goto out;
    }
    if (rv == CKR_OK)
        rv = dep11_policy_blob_parse(blob, len, &u.b);
    if (rv == CKR_OK)
        rv = verify_blob(blob, &u);
    if (rv == CKR_OK && !cached)
        rv = dep11_sha256(blob, len, u.digest);
    if (rv != CKR_OK)
        goto out;
    rv = decide(&u, force_root, out);
    /* A fallback is decided afresh (and audited) every time: only keys
     * served by a root are cached. */
    if (rv == CKR_OK && cached && u.served_by != DEP11_ROOT_AVAILABILITY)
        dep11_cache_put(digest, cache_class(requester), *out);
out:
    if (rv != CKR_OK && out != NULL && *out != NULL) {
        dep11_key_free(*out);
        *out = NULL;
    }
    dep11_secmem_free(u.value, DEP11_KEY_LEN);
    dep11_cleanse(&u, sizeof(u));
    return rv;
}
