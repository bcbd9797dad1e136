/*
 * tenant.c - tenant binding and committed versions (tenant.h).
 */
#include <string.h>

#include <stdlib.h>

#include "hier/cache.h"
#include "hier/facts.h"
#include "hier/tenant.h"
#include "crypto/crypto.h"
#include "hsm/provider.h"
#include "hsm/rsa.h"
#include "util/log.h"
#include "util/secmem.h"

#define LIVE_CANDIDATES 64 /* RSA private keys listed per token */

/* The binding @ps->st.binding against the caller's token and @tenant. */
static CK_RV compare(const struct dep11_policy_state *ps, const uint8_t tenant[DEP11_ID_LEN])
{
    CK_RV rv = CKR_DEP11_TENANT_MISMATCH;

    if (!ps->st.bound)
        return CKR_OK;
    if (memcmp(ps->st.binding, ps->ident, DEP11_TOKEN_IDENT_LEN) != 0) {
        LOG_FAIL(rv, "policy is bound to another token than this session's (serial %s)",
                 ps->serial);
        return rv;
    }
    if (memcmp(ps->st.binding + DEP11_TOKEN_IDENT_LEN, tenant, DEP11_ID_LEN) != 0) {
        LOG_FAIL(rv, "policy is bound to another tenant id on this token");
        return rv;
    }
    return CKR_OK;
}

/* The caller's token identity and serial. */
static CK_RV identify(const struct dep11_call *c, struct dep11_policy_state *ps)
{
    CK_RV rv = dep11_hsm_token_ident(c->slot, ps->ident);

    if (rv == CKR_OK)
        dep11_hsm_token_serial(c->slot, ps->serial);
    return rv;
}

/**
 * dep11_tenant_check - see tenant.h. @c [in] the caller's slot; @policy_id,
 * @tenant [in] from the authenticated blob or the policy key; @ps [out].
 */
CK_RV dep11_tenant_check(const struct dep11_call *c, const uint8_t policy_id[DEP11_ID_LEN],
                         const uint8_t tenant[DEP11_ID_LEN], struct dep11_policy_state *ps)
{
    CK_RV rv = CKR_GENERAL_ERROR;

    memset(ps, 0, sizeof *ps);
    rv = identify(c, ps);
    if (rv == CKR_OK)
        rv = dep11_provider_state_get(policy_id, &ps->st);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "tenant binding look-up");
        return rv;
    }
    return compare(ps, tenant);
}

/** dep11_tenant_facts - see tenant.h. */
CK_RV dep11_tenant_facts(const struct dep11_call *c, const uint8_t policy_id[DEP11_ID_LEN],
                         const uint8_t tenant[DEP11_ID_LEN], unsigned seconds,
                         struct dep11_policy_state *ps, int *purged)
{
    struct dep11_facts_look lk;
    struct dep11_policy_facts f;
    int known = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    memset(ps, 0, sizeof *ps);
    *purged = 0;
    rv = identify(c, ps);
    if (rv == CKR_OK)
        rv = dep11_facts_begin(policy_id, seconds, &lk, &f, &known);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "tenant binding look-up");
        return rv;
    }
    ps->st = f.st;
    rv = compare(ps, tenant);
    if (rv == CKR_OK && !known)
        rv = dep11_facts_end(policy_id, &lk, &f);
    *purged = f.purged;
    return rv;
}

/** dep11_tenant_bind - see tenant.h. Arguments as dep11_tenant_check. */
CK_RV dep11_tenant_bind(const struct dep11_call *c, const uint8_t policy_id[DEP11_ID_LEN],
                        const uint8_t tenant[DEP11_ID_LEN], struct dep11_policy_state *ps)
{
    uint8_t binding[DEP11_BINDING_LEN];
    CK_RV rv = dep11_tenant_check(c, policy_id, tenant, ps);

    if (rv != CKR_OK || ps->st.bound)
        return rv;
    memcpy(binding, ps->ident, DEP11_TOKEN_IDENT_LEN);
    memcpy(binding + DEP11_TOKEN_IDENT_LEN, tenant, DEP11_ID_LEN);
    rv = dep11_provider_state_bind(policy_id, binding, &ps->st);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "writing the tenant binding");
        return rv;
    }
    if (!ps->st.bound) {
        rv = CKR_FUNCTION_FAILED;
        LOG_FAIL(rv, "tenant binding not found after writing it");
        return rv;
    }
    return compare(ps, tenant);
}

/** dep11_policy_commit - see tenant.h. */
CK_RV dep11_policy_commit(const uint8_t policy_id[DEP11_ID_LEN], CK_ULONG version,
                          const uint8_t digest[DEP11_COMMIT_DIGEST_LEN], const uint8_t *keep,
                          size_t keep_len)
{
    unsigned destroyed = 0;
    CK_RV rv = dep11_provider_state_commit(policy_id, (uint64_t)version, digest);

    if (rv == CKR_FUNCTION_REJECTED) {
        rv = CKR_DEP11_BLOB_SUPERSEDED;
        LOG_FAIL(rv, "another blob of version %lu or later was committed first",
                 (unsigned long)version);
        return rv;
    }
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "commit record of version %lu not written", (unsigned long)version);
        return rv;
    }
    dep11_cache_flush(policy_id);
    if (keep != NULL)
        rv = dep11_provider_avail_destroy(policy_id, keep, keep_len, &destroyed);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "version %lu committed, but the availability keys of older versions "
                     "were not all destroyed (the next commit or a purge does it)",
                 (unsigned long)version);
        return rv;
    }
    if (destroyed > 0)
        LOG_INFO("version %lu committed: %u older availability key(s) destroyed",
                 (unsigned long)version, destroyed);
    return CKR_OK;
}

/* Is candidate @k one of @p's roots, with CKA_DECRYPT on? */
static int live_root(const struct dep11_key *p, const struct dep11_hsm_rsa *k)
{
    uint8_t id[DEP11_SHA256_LEN];

    if (!k->can_decrypt ||
        dep11_rsa_identity(k->modulus, k->mod_len, k->exponent, k->exp_len, id) != CKR_OK)
        return 0;
    for (int i = 0; i < p->nroot_ids && i < 2; i++)
        if (memcmp(id, p->root_ids[i], sizeof id) == 0)
            return 1;
    return 0;
}

/** dep11_policy_roots_live - see tenant.h. */
CK_RV dep11_policy_roots_live(const struct dep11_call *c, const struct dep11_key *p)
{
    struct dep11_hsm_rsa *cand = calloc(LIVE_CANDIDATES, sizeof *cand);
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    size_t n = 0;
    int live = 0;
    CK_RV rv = cand == NULL ? CKR_HOST_MEMORY : dep11_hsm_worker_open(c->slot, &s);

    if (rv == CKR_OK) {
        rv = dep11_hsm_rsa_find(s, NULL, 0, cand, LIVE_CANDIDATES, &n);
        dep11_hsm_worker_close(s);
    }
    for (size_t i = 0; rv == CKR_OK && i < n && i < LIVE_CANDIDATES && !live; i++)
        live = live_root(p, &cand[i]);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "cannot list the customer's root keys");
    } else if (!live && n >= LIVE_CANDIDATES) {
        rv = CKR_DEP11_ROOT_KEYS_UNAVAILABLE;
        LOG_FAIL(rv, "more than %d RSA private keys on the token: revocation not ruled out",
                 LIVE_CANDIDATES);
    } else if (!live) {
        rv = CKR_DEP11_ROOT_KEYS_REVOKED;
        LOG_FAIL(rv, "the customer has revoked the policy's roots: no re-wrap");
    }
    if (cand != NULL) {
        dep11_cleanse(cand, LIVE_CANDIDATES * sizeof *cand);
        free(cand);
    }
    return rv;
}
