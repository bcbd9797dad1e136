/*
 * chunk.c - CKM_DEP11_CHUNK_KEY_DERIVE: a per-chunk key derived from a site
 * key, a file id and a chunk index (suite 1 KBKDF). Chunk keys are never
 * stored and never wrapped: they are derived again when needed.
 */
#include <string.h>

#include "hier/hier.h"
#include "crypto/suite1.h"
#include "util/log.h"

/**
 * dep11_chunk_derive - the chunk key of (@site, @file_id, @index).
 * @site [in] a site key; @file_id [in] 16 bytes; @index [in] chunk index;
 * @out [out] a role CHUNK key, owned by the caller. It inherits the site
 * key's policy and tenant attributes.
 * Returns CKR_OK, CKR_ARGUMENTS_BAD, CKR_KEY_FUNCTION_NOT_PERMITTED (not a
 * site key), CKR_HOST_MEMORY, CKR_FUNCTION_FAILED.
 */
CK_RV dep11_chunk_derive(const struct dep11_key *site, const uint8_t file_id[DEP11_ID_LEN],
                         CK_ULONG index, struct dep11_key **out)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    struct dep11_key *k = NULL;

    if (site == NULL || site->value == NULL || file_id == NULL || out == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL argument");
        goto out;
    }
    *out = NULL;
    rv = dep11_key_permits(site, DEP11_USE_DERIVE_CHUNK, CKM_DEP11_CHUNK_KEY_DERIVE);
    if (rv == CKR_OK)
        rv = dep11_key_alloc(DEP11_ROLE_CHUNK, &k);
    if (rv == CKR_OK)
        rv = dep11_suite1_chunk_key(site->value, file_id, (uint64_t)index, k->value);
    if (rv != CKR_OK)
        goto out;
    k->has_policy = site->has_policy;
    memcpy(k->policy_id, site->policy_id, DEP11_ID_LEN);
    k->policy_type = site->policy_type;
    k->has_tenant = site->has_tenant;
    memcpy(k->tenant, site->tenant, DEP11_ID_LEN);
    k->has_file = 1;
    memcpy(k->file_id, file_id, DEP11_ID_LEN);
    k->chunk_index = index;
    k->local = CK_FALSE;
    *out = k;
    k = NULL;
out:
    dep11_key_free(k);
    return rv;
}
