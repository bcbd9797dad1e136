/*
 * profile_check.c - the HSM profile's routes against what the backend
 * offers (DESIGN section 7): each row says which mechanism, usage flags and
 * key size one profile setting needs on the provider token's slot. A
 * profile that asks for what the HSM lacks fails C_Initialize with
 * CKR_FUNCTION_FAILED (the code PKCS#11 allows there) and one log line
 * naming the mechanism. What a mechanism list cannot show (OAEP hashes, who
 * makes the GCM IV) is left to the routes' own refusals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsm/backend.h"
#include "hsm/internal.h"
#include "hsm/profile_check.h"
#include "util/log.h"

/* The table: (profile key, value) -> mechanism, flags, key size. */
static const struct dep11_profile_need needs[] = {
    { NULL, NULL, CKM_SHA256_HMAC, "CKM_SHA256_HMAC", CKF_SIGN, DEP11_NEED_ANY,
      "the provider MAC over every blob" },
    { "root-unwrap", "decrypt", CKM_RSA_PKCS_OAEP, "CKM_RSA_PKCS_OAEP", CKF_DECRYPT,
      DEP11_NEED_RSA_BITS, "provider roots decrypt policy-key copies" },
    { "root-unwrap", "unwrap", CKM_RSA_PKCS_OAEP, "CKM_RSA_PKCS_OAEP", CKF_UNWRAP,
      DEP11_NEED_RSA_BITS, "provider roots unwrap policy-key copies" },
    { "availability-key", "aes", CKM_AES_KEY_GEN, "CKM_AES_KEY_GEN", CKF_GENERATE,
      DEP11_NEED_AES256, "per-policy availability keys (AES-256)" },
    { "availability-key", "aes", CKM_AES_GCM, "CKM_AES_GCM", CKF_ENCRYPT | CKF_DECRYPT,
      DEP11_NEED_AES256, "the availability copy (AES-256-GCM in the HSM)" },
    { "receipt-signature", "ecdsa", CKM_ECDSA, "CKM_ECDSA", CKF_SIGN, DEP11_NEED_P256,
      "purge receipts (ECDSA P-256)" },
    { "receipt-signature", "rsa-pss", CKM_RSA_PKCS_PSS, "CKM_RSA_PKCS_PSS", CKF_SIGN,
      DEP11_NEED_RSA_BITS, "purge receipts (RSA-PSS)" },
};

/* The word @p has for @key (as written in a profile); NULL: unknown key. */
static const char *value_of(const struct dep11_profile *p, const char *key)
{
    if (strcmp(key, "root-unwrap") == 0)
        return p->root_unwrap_decrypt ? "decrypt" : "unwrap";
    if (strcmp(key, "availability-key") == 0)
        return p->availability_rsa ? "rsa" : "aes";
    if (strcmp(key, "receipt-signature") == 0)
        return p->receipt_rsa_pss ? "rsa-pss" : "ecdsa";
    if (strcmp(key, "gcm-iv") == 0)
        return p->gcm_iv_from_module ? "module" : "hsm";
    return NULL;
}

static int applies(const struct dep11_profile *p, const struct dep11_profile_need *n)
{
    const char *v = n->key != NULL ? value_of(p, n->key) : NULL;

    return n->key == NULL || (v != NULL && strcmp(v, n->value) == 0);
}

/** See profile_check.h. */
size_t dep11_profile_needs(const struct dep11_profile *p, const struct dep11_profile_need **out,
                           size_t cap)
{
    size_t k = 0;

    for (size_t i = 0; p != NULL && i < sizeof needs / sizeof needs[0]; i++) {
        if (!applies(p, &needs[i]))
            continue;
        if (out != NULL && k < cap)
            out[k] = &needs[i];
        k++;
    }
    return k;
}

static int in_range(const CK_MECHANISM_INFO *mi, CK_ULONG v)
{
    return v >= mi->ulMinKeySize && (mi->ulMaxKeySize == 0 || v <= mi->ulMaxKeySize);
}

/* Does @mi allow the key size row @n needs? *@want gets that size. */
static int size_ok(const struct dep11_profile *p, const struct dep11_profile_need *n,
                   const CK_MECHANISM_INFO *mi, CK_ULONG *want)
{
    *want = n->size == DEP11_NEED_RSA_BITS ? p->provider_rsa_bits
            : n->size == DEP11_NEED_P256   ? 256
            : n->size == DEP11_NEED_AES256 ? 32
                                           : 0;
    if (n->size == DEP11_NEED_AES256)
        return in_range(mi, 32) || in_range(mi, 256); /* bytes, or bits */
    return n->size == DEP11_NEED_ANY || in_range(mi, *want);
}

/* The refusal of row @n: one line, then CKR_FUNCTION_FAILED. */
static CK_RV refuse(const struct dep11_profile *p, const struct dep11_profile_need *n,
                    CK_SLOT_ID slot, const char *what)
{
    LOG_ERROR("profile %s: %s%s%s needs %s (%s) on the provider token's slot %lu: %s", p->path,
              n->key != NULL ? n->key : "every profile", n->key != NULL ? " = " : "",
              n->key != NULL ? n->value : "", n->mech_name, n->why, (unsigned long)slot, what);
    return CKR_FUNCTION_FAILED;
}

/* Checks row @n against the slot's list @list (@count entries). */
static CK_RV check_one(const struct dep11_profile *p, const struct dep11_profile_need *n,
                       CK_SLOT_ID slot, const CK_MECHANISM_TYPE *list, CK_ULONG count)
{
    CK_MECHANISM_INFO mi;
    CK_ULONG i = 0, want = 0;
    char what[160];
    CK_RV rv = CKR_GENERAL_ERROR;

    while (i < count && list[i] != n->mech)
        i++;
    if (i == count)
        return refuse(p, n, slot, "the HSM does not offer it (C_GetMechanismList)");
    memset(&mi, 0, sizeof mi);
    rv = dep11_hsm_GetMechanismInfo(slot, n->mech, &mi);
    if (rv != CKR_OK) {
        (void)snprintf(what, sizeof what, "C_GetMechanismInfo answers 0x%lx",
                       (unsigned long)rv);
        return refuse(p, n, slot, what);
    }
    if ((mi.flags & n->flags) != n->flags) {
        (void)snprintf(what, sizeof what, "the HSM offers it without flags 0x%lx",
                       (unsigned long)(n->flags & ~mi.flags));
        return refuse(p, n, slot, what);
    }
    if (!size_ok(p, n, &mi, &want)) {
        (void)snprintf(what, sizeof what, "the HSM offers it for key sizes %lu..%lu, not %lu",
                       (unsigned long)mi.ulMinKeySize, (unsigned long)mi.ulMaxKeySize,
                       (unsigned long)want);
        return refuse(p, n, slot, what);
    }
    return CKR_OK;
}

/* The slot's mechanism list, allocated into *@list. One entry more than the
 * backend asks for: a backend that filters the list in place may read one
 * entry past its end (valgrind saw p11-kit 0.24.1's client do it, dropping
 * what its wire cannot carry). */
static CK_RV mechanism_list(CK_SLOT_ID slot, CK_MECHANISM_TYPE **list, CK_ULONG *count)
{
    CK_RV rv = dep11_hsm_GetMechanismList(slot, NULL, count);

    *list = NULL;
    if (rv == CKR_OK && *count > 0) {
        *list = calloc(*count + 1, sizeof **list);
        rv = *list == NULL ? CKR_HOST_MEMORY : dep11_hsm_GetMechanismList(slot, *list, count);
    }
    return rv;
}

/** See profile_check.h. @p [in] the loaded profile; @slot the provider token's slot. */
CK_RV dep11_profile_check(const struct dep11_profile *p, CK_SLOT_ID slot)
{
    CK_MECHANISM_TYPE *list = NULL;
    CK_ULONG count = 0;
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (p == NULL) {
        LOG_FAIL(rv, "no profile");
        return rv;
    }
    rv = mechanism_list(slot, &list, &count);
    if (rv == CKR_HOST_MEMORY) {
        LOG_FAIL(rv, "mechanism list of %lu entries", (unsigned long)count);
        goto out;
    }
    if (rv != CKR_OK) {
        LOG_ERROR("profile %s: C_GetMechanismList on the provider token's slot %lu answers "
                  "0x%lx: the profile's routes cannot be checked",
                  p->path, (unsigned long)slot, (unsigned long)rv);
        rv = CKR_FUNCTION_FAILED;
        goto out;
    }
    for (size_t i = 0; rv == CKR_OK && i < sizeof needs / sizeof needs[0]; i++)
        if (applies(p, &needs[i]))
            rv = check_one(p, &needs[i], slot, list, count);
out:
    free(list);
    return rv;
}
