/*
 * policy_info.c - DEP11_GetPolicyInfo: what a policy blob says about itself
 * (ids, type, version, who manages it, how many copies), from parsing alone:
 * no HSM, no MAC check.
 */
#include <string.h>

#include "hier/hier.h"
#include "blob/blob.h"
#include "util/log.h"

/* Copies @n bytes and pads the rest of the @cap-byte field with blanks. */
static void blank_pad(CK_UTF8CHAR *dst, size_t cap, const uint8_t *src, size_t n)
{
    memset(dst, ' ', cap);
    memcpy(dst, src, n < cap ? n : cap);
}

/**
 * dep11_policy_info - fills @info from the policy blob @blob (@len bytes).
 * The blob is parsed, not authenticated (its MAC needs the provider token).
 * Returns CKR_OK, CKR_ARGUMENTS_BAD (NULL pointer), CKR_WRAPPED_KEY_INVALID.
 * @info is left zeroed on error.
 */
CK_RV dep11_policy_info(const uint8_t *blob, CK_ULONG len, CK_DEP11_POLICY_INFO *info)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    struct dep11_policy_blob b;

    if (blob == NULL || info == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL argument");
        goto out;
    }
    memset(info, 0, sizeof(*info));
    rv = dep11_policy_blob_parse(blob, len, &b);
    if (rv != CKR_OK)
        goto out;
    memcpy(info->policyId, b.hdr.policy_id, sizeof(info->policyId));
    info->ulPolicyType = b.hdr.policy_type;
    memcpy(info->tenantId, b.hdr.tenant, sizeof(info->tenantId));
    info->ulVersion = b.hdr.version;
    info->ulManagedBy = b.hdr.managed_by;
    info->ulSuite = b.hdr.suite;
    info->ulWrappedCopies = b.ncopies;
    blank_pad(info->label, sizeof(info->label), b.hdr.label, b.hdr.label_len);
    blank_pad(info->geo, sizeof(info->geo), b.hdr.geo, b.hdr.geo_len);
    rv = CKR_OK;
out:
    return rv;
}
