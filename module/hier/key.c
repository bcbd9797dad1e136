/*
 * key.c - module-side keys: allocation, generation (CKM_DEP11_KEY_GEN),
 * release, and the sticky-role rules of DESIGN section 2 (which key may be
 * used for what).
 */
#include <stdlib.h>
#include <string.h>

#include "hier/hier.h"
#include "crypto/crypto.h"
#include "util/log.h"
#include "util/secmem.h"

/**
 * dep11_key_alloc - a zeroed key of @role with a zeroed value buffer.
 * @role [in] DEP11_ROLE_*; @out [out] the key, owned by the caller (free it
 * with dep11_key_free()).
 * Returns CKR_OK, CKR_ARGUMENTS_BAD, CKR_HOST_MEMORY.
 */
CK_RV dep11_key_alloc(CK_ULONG role, struct dep11_key **out)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    struct dep11_key *k = NULL;

    if (out == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL output");
        goto out;
    }
    *out = NULL;
    k = calloc(1, sizeof(*k));
    if (k == NULL) {
        rv = CKR_HOST_MEMORY;
        LOG_FAIL(rv, "key struct");
        goto out;
    }
    k->value = dep11_secmem_alloc(DEP11_KEY_LEN);
    if (k->value == NULL) {
        rv = CKR_HOST_MEMORY;
        LOG_FAIL(rv, "key value in secure memory");
        goto out;
    }
    k->role = role;
    *out = k;
    k = NULL;
    rv = CKR_OK;
out:
    dep11_key_free(k);
    return rv;
}

/* The role/type/tenant/geo rules of a KEY_GEN template. */
static CK_RV check_keygen(const struct dep11_keygen_req *req)
{
    CK_RV rv = CKR_TEMPLATE_INCONSISTENT;

    if (req->geo_len > sizeof(req->geo) || req->label_len > sizeof(req->label) ||
        req->ckaid_len > sizeof(req->ckaid)) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "a length beyond its field");
        return rv;
    }
    switch (req->role) {
    case DEP11_ROLE_POLICY:
        if (req->policy_type < DEP11_POLICY_MAILBOX ||
            req->policy_type > DEP11_POLICY_FILES || !req->has_tenant) {
            LOG_FAIL(rv, "a policy needs a policy type (1..3) and a tenant");
            return rv;
        }
        return CKR_OK;
    case DEP11_ROLE_MAILBOX:
    case DEP11_ROLE_WORKLOAD:
    case DEP11_ROLE_SITE:
        if (req->policy_type != 0 || req->has_tenant || req->geo_len != 0) {
            LOG_FAIL(rv, "policy type, tenant and geo belong to policy keys only");
            return rv;
        }
        return CKR_OK;
    case DEP11_ROLE_CHUNK:
        LOG_FAIL(rv, "chunk keys are derived, never generated");
        return rv;
    default:
        LOG_FAIL(rv, "unknown role %lu", (unsigned long)req->role);
        return rv;
    }
}

/**
 * dep11_key_generate - CKM_DEP11_KEY_GEN: a fresh key of the requested role
 * with a random value; a policy also gets a random policy id.
 * @req [in] the parsed template; @out [out] the key, owned by the caller.
 * Returns CKR_OK, CKR_ARGUMENTS_BAD, CKR_TEMPLATE_INCONSISTENT,
 * CKR_HOST_MEMORY, CKR_FUNCTION_FAILED (no randomness).
 */
CK_RV dep11_key_generate(const struct dep11_keygen_req *req, struct dep11_key **out)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    struct dep11_key *k = NULL;

    if (req == NULL || out == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL argument");
        goto out;
    }
    *out = NULL;
    rv = check_keygen(req);
    if (rv != CKR_OK)
        goto out;
    rv = dep11_key_alloc(req->role, &k);
    if (rv != CKR_OK)
        goto out;
    rv = dep11_random(k->value, DEP11_KEY_LEN);
    if (rv != CKR_OK)
        goto out;
    if (req->role == DEP11_ROLE_POLICY) {
        rv = dep11_random(k->policy_id, sizeof(k->policy_id));
        if (rv != CKR_OK)
            goto out;
        k->has_policy = 1;
        k->policy_type = req->policy_type;
        k->has_tenant = 1;
        memcpy(k->tenant, req->tenant, sizeof(k->tenant));
        memcpy(k->geo, req->geo, req->geo_len);
        k->geo_len = req->geo_len;
    }
    memcpy(k->label, req->label, req->label_len);
    k->label_len = req->label_len;
    memcpy(k->ckaid, req->ckaid, req->ckaid_len);
    k->ckaid_len = req->ckaid_len;
    k->local = CK_TRUE;
    *out = k;
    k = NULL;
    rv = CKR_OK;
out:
    dep11_key_free(k);
    return rv;
}

/**
 * dep11_key_free - cleanses the value and the whole struct, then frees.
 * NULL is a no-op.
 */
void dep11_key_free(struct dep11_key *k)
{
    if (k == NULL)
        return;
    dep11_secmem_free(k->value, DEP11_KEY_LEN);
    dep11_cleanse(k, sizeof(*k));
    free(k);
}

/* Data AEAD on a mailbox, workload or chunk key. */
static int data_mech(CK_MECHANISM_TYPE mech)
{
    return mech == CKM_DEP11_AEAD || mech == CKM_AES_GCM;
}

/* The table of DESIGN section 2: 1 when @k's role allows @what. */
static int role_allows(CK_ULONG role, enum dep11_use what, CK_MECHANISM_TYPE mech)
{
    switch (role) {
    case DEP11_ROLE_POLICY:
        return what == DEP11_USE_WRAP_CHILD || what == DEP11_USE_UNWRAP_CHILD ||
               what == DEP11_USE_WRAPPED_BY_POLICY_WRAP;
    case DEP11_ROLE_SITE:
        if (what == DEP11_USE_ENCRYPT || what == DEP11_USE_DECRYPT)
            return mech == CKM_DEP11_CHUNK_AEAD;
        return what == DEP11_USE_DERIVE_CHUNK || what == DEP11_USE_WRAPPED_BY_CHILD_WRAP;
    case DEP11_ROLE_MAILBOX:
    case DEP11_ROLE_WORKLOAD:
        if (what == DEP11_USE_ENCRYPT || what == DEP11_USE_DECRYPT)
            return data_mech(mech);
        return what == DEP11_USE_WRAPPED_BY_CHILD_WRAP;
    case DEP11_ROLE_CHUNK: /* never wrapped: derived again when needed */
        return (what == DEP11_USE_ENCRYPT || what == DEP11_USE_DECRYPT) && data_mech(mech);
    default:
        return 0;
    }
}

/**
 * dep11_key_permits - may @k be used for @what (with @mech for encrypt and
 * decrypt)? Roles are sticky: DESIGN section 2.
 * Returns CKR_OK, CKR_ARGUMENTS_BAD (NULL key),
 * CKR_KEY_FUNCTION_NOT_PERMITTED (logged).
 */
CK_RV dep11_key_permits(const struct dep11_key *k, enum dep11_use what,
                        CK_MECHANISM_TYPE mech)
{
    CK_RV rv = CKR_KEY_FUNCTION_NOT_PERMITTED;

    if (k == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL key");
        return rv;
    }
    if (role_allows(k->role, what, mech))
        return CKR_OK;
    LOG_FAIL(rv, "role %lu may not be used for use %d with mechanism 0x%lx",
             (unsigned long)k->role, (int)what, (unsigned long)mech);
    return rv;
}
