/*
 * child.c - CKM_DEP11_CHILD_WRAP / CKM_DEP11_CHILD_UNWRAP: a mailbox,
 * workload or site key wrapped under a policy key with AES-256-GCM, bound to
 * the policy id, policy type, child role and owner (DESIGN sections 3, 4).
 */
#include <string.h>

#include "hier/hier.h"
#include "blob/blob.h"
#include "crypto/crypto.h"
#include "crypto/suite1.h"
#include "util/log.h"
#include "util/secmem.h"

/* Which children a policy type holds (DESIGN section 1). */
static int pair_allowed(CK_ULONG policy_type, CK_ULONG role)
{
    switch (policy_type) {
    case DEP11_POLICY_MAILBOX:
        return role == DEP11_ROLE_MAILBOX;
    case DEP11_POLICY_MULTI_WORKLOAD:
        return role == DEP11_ROLE_WORKLOAD || role == DEP11_ROLE_MAILBOX;
    case DEP11_POLICY_FILES:
        return role == DEP11_ROLE_SITE;
    default:
        return 0;
    }
}

/* The policy key may wrap (@wrap) or unwrap children, and names its policy. */
static CK_RV check_policy(const struct dep11_key *policy, int wrap)
{
    CK_RV rv = dep11_key_permits(policy, wrap ? DEP11_USE_WRAP_CHILD : DEP11_USE_UNWRAP_CHILD,
                                 wrap ? CKM_DEP11_CHILD_WRAP : CKM_DEP11_CHILD_UNWRAP);

    if (rv != CKR_OK)
        return rv;
    if (!policy->has_policy || policy->value == NULL) {
        rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
        LOG_FAIL(rv, "policy key without a policy id");
    }
    return rv;
}

/* Builds and encodes the child header; @kek gets the per-blob key. */
static CK_RV header_and_kek(const struct dep11_key *policy, CK_ULONG role,
                            const uint8_t owner[DEP11_ID_LEN],
                            uint8_t hdr_bytes[DEP11_CHILD_HEADER_LEN], uint8_t *kek)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    struct dep11_child_header h;

    memset(&h, 0, sizeof(h));
    h.suite = DEP11_SUITE1;
    h.role = (uint8_t)role;
    memcpy(h.policy_id, policy->policy_id, DEP11_ID_LEN);
    h.policy_type = (uint8_t)policy->policy_type;
    memcpy(h.owner, owner, DEP11_ID_LEN);
    rv = dep11_child_header_encode(&h, hdr_bytes);
    if (rv == CKR_OK)
        rv = dep11_suite1_child_kek(policy->value, hdr_bytes, DEP11_CHILD_HEADER_LEN, kek);
    return rv;
}

/**
 * dep11_child_wrap - C_WrapKey(CKM_DEP11_CHILD_WRAP).
 * @policy [in] the wrapping policy key; @child [in] a mailbox, workload or
 * site key; @owner [in] 16 bytes; @out [out] DEP11_CHILD_BLOB_LEN bytes, or
 * NULL to learn the length; @out_len [in,out] capacity / length.
 * Returns CKR_OK, CKR_BUFFER_TOO_SMALL, CKR_ARGUMENTS_BAD,
 * CKR_KEY_FUNCTION_NOT_PERMITTED (roles, or a pair the policy type does not
 * hold), CKR_HOST_MEMORY, CKR_FUNCTION_FAILED. @out is cleansed on error.
 */
CK_RV dep11_child_wrap(const struct dep11_key *policy, const struct dep11_key *child,
                       const uint8_t owner[DEP11_ID_LEN], uint8_t *out, CK_ULONG *out_len)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    uint8_t *kek = NULL;
    uint8_t *p = out;
    int written = 0;

    if (policy == NULL || child == NULL || child->value == NULL || owner == NULL ||
        out_len == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL argument");
        goto out;
    }
    rv = check_policy(policy, 1);
    if (rv == CKR_OK)
        rv = dep11_key_permits(child, DEP11_USE_WRAPPED_BY_CHILD_WRAP, CKM_DEP11_CHILD_WRAP);
    if (rv != CKR_OK)
        goto out;
    if (!pair_allowed(policy->policy_type, child->role)) {
        rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
        LOG_FAIL(rv, "policy type %lu holds no role %lu children",
                 (unsigned long)policy->policy_type, (unsigned long)child->role);
        goto out;
    }
    if (out == NULL || *out_len < DEP11_CHILD_BLOB_LEN) {
        rv = out == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
        if (rv != CKR_OK)
            LOG_FAIL(rv, "need %d bytes", DEP11_CHILD_BLOB_LEN);
        *out_len = DEP11_CHILD_BLOB_LEN;
        goto out;
    }
    if ((kek = dep11_secmem_alloc(DEP11_KEY_LEN)) == NULL) {
        rv = CKR_HOST_MEMORY;
        LOG_FAIL(rv, "KEK buffer");
        goto out;
    }
    written = 1;
    /* header || nonce || ct || tag; the header is the AAD */
    rv = header_and_kek(policy, child->role, owner, p, kek);
    if (rv == CKR_OK)
        rv = dep11_random(p + DEP11_CHILD_HEADER_LEN, DEP11_NONCE_LEN);
    if (rv == CKR_OK)
        rv = dep11_gcm_seal(kek, p + DEP11_CHILD_HEADER_LEN, DEP11_NONCE_LEN, p,
                            DEP11_CHILD_HEADER_LEN, child->value, DEP11_KEY_LEN,
                            p + DEP11_CHILD_HEADER_LEN + DEP11_NONCE_LEN,
                            p + DEP11_CHILD_HEADER_LEN + DEP11_NONCE_LEN + DEP11_KEY_LEN);
    if (rv == CKR_OK)
        *out_len = DEP11_CHILD_BLOB_LEN;
out:
    if (rv != CKR_OK && written)
        dep11_cleanse(out, DEP11_CHILD_BLOB_LEN);
    dep11_secmem_free(kek, DEP11_KEY_LEN);
    return rv;
}

/* The bindings of a parsed child blob against the policy key and owner;
 * NULL when they hold, else why not. */
static const char *binding_fault(const struct dep11_child_blob *b,
                                 const struct dep11_key *policy,
                                 const uint8_t owner[DEP11_ID_LEN])
{
    if (memcmp(b->hdr.policy_id, policy->policy_id, DEP11_ID_LEN) != 0)
        return "blob belongs to another policy";
    if (b->hdr.policy_type != policy->policy_type)
        return "blob names another policy type";
    if (memcmp(b->hdr.owner, owner, DEP11_ID_LEN) != 0)
        return "blob belongs to another owner";
    if (!pair_allowed(b->hdr.policy_type, b->hdr.role))
        return "role not held by this policy type";
    return NULL;
}

/* The attributes of the child key of blob @b under @policy. */
static void fill_child(struct dep11_key *k, const struct dep11_child_blob *b,
                       const struct dep11_key *policy)
{
    k->has_policy = 1;
    memcpy(k->policy_id, policy->policy_id, DEP11_ID_LEN);
    k->policy_type = policy->policy_type;
    k->has_tenant = policy->has_tenant;
    memcpy(k->tenant, policy->tenant, DEP11_ID_LEN);
    k->has_owner = 1;
    memcpy(k->owner, b->hdr.owner, DEP11_ID_LEN);
    k->local = CK_FALSE;
}

/**
 * dep11_child_unwrap - C_UnwrapKey(CKM_DEP11_CHILD_UNWRAP).
 * @policy [in] the unwrapping policy key; @owner [in] the owner expected;
 * @blob [in] @len bytes; @out [out] the child key, owned by the caller.
 * Returns CKR_OK, CKR_ARGUMENTS_BAD, CKR_KEY_FUNCTION_NOT_PERMITTED (not a
 * policy key), CKR_WRAPPED_KEY_INVALID (malformed; wrong policy, type,
 * owner or role; does not authenticate), CKR_HOST_MEMORY.
 */
CK_RV dep11_child_unwrap(const struct dep11_key *policy, const uint8_t owner[DEP11_ID_LEN],
                         const uint8_t *blob, CK_ULONG len, struct dep11_key **out)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    struct dep11_child_blob b;
    struct dep11_key *k = NULL;
    uint8_t *kek = NULL;
    const char *why = NULL;

    if (policy == NULL || owner == NULL || blob == NULL || out == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL argument");
        goto out;
    }
    *out = NULL;
    rv = check_policy(policy, 0);
    if (rv == CKR_OK)
        rv = dep11_child_blob_parse(blob, len, &b);
    if (rv != CKR_OK)
        goto out;
    if ((why = binding_fault(&b, policy, owner)) != NULL) {
        rv = CKR_WRAPPED_KEY_INVALID;
        LOG_FAIL(rv, "child blob: %s", why);
        goto out;
    }
    rv = dep11_key_alloc(b.hdr.role, &k);
    if (rv == CKR_OK && (kek = dep11_secmem_alloc(DEP11_KEY_LEN)) == NULL)
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK)
        rv = dep11_suite1_child_kek(policy->value, b.header_bytes, DEP11_CHILD_HEADER_LEN, kek);
    if (rv == CKR_OK)
        rv = dep11_gcm_open(kek, b.nonce, DEP11_NONCE_LEN, b.header_bytes,
                            DEP11_CHILD_HEADER_LEN, b.ct, DEP11_KEY_LEN, b.tag,
                            DEP11_TAG_LEN, k->value);
    if (rv == CKR_ENCRYPTED_DATA_INVALID) {
        rv = CKR_WRAPPED_KEY_INVALID;
        LOG_FAIL(rv, "child blob does not authenticate under this policy key");
    }
    if (rv != CKR_OK)
        goto out;
    fill_child(k, &b, policy);
    *out = k;
    k = NULL;
out:
    dep11_secmem_free(kek, DEP11_KEY_LEN);
    dep11_key_free(k);
    return rv;
}
