/*
 * profile_check.h - at C_Initialize, every route the HSM profile asks for
 * is checked against the backend's C_GetMechanismList / C_GetMechanismInfo
 * on the provider token's slot (mechanism present, usage flags, key size).
 * The table of (profile key, value) -> required mechanisms lives in
 * profile_check.c: a new route adds rows there.
 */
#ifndef DEP11_HSM_PROFILE_CHECK_H
#define DEP11_HSM_PROFILE_CHECK_H

#include <stddef.h>
#include <p11-kit/pkcs11.h>

#include "util/config.h"

/* How a row's key size is checked against ulMinKeySize..ulMaxKeySize. */
enum dep11_need_size {
    DEP11_NEED_ANY,      /* no size check */
    DEP11_NEED_RSA_BITS, /* the profile's provider-rsa-bits */
    DEP11_NEED_P256,     /* 256 (bits) */
    DEP11_NEED_AES256,   /* 32 bytes (PKCS#11) or 256 (HSMs that count bits) */
};

/* One required mechanism of a route. */
struct dep11_profile_need {
    const char *key;   /* profile key; NULL: every profile */
    const char *value; /* the value that asks for it */
    CK_MECHANISM_TYPE mech;
    const char *mech_name; /* "CKM_AES_GCM", for the log line */
    CK_FLAGS flags;        /* all of these in CK_MECHANISM_INFO.flags */
    enum dep11_need_size size;
    const char *why; /* what dep11 does with it */
};

/* The rows that apply to @p, in table order, into @out (capacity @cap);
 * returns how many apply (may exceed @cap: only @cap are written). */
size_t dep11_profile_needs(const struct dep11_profile *p, const struct dep11_profile_need **out,
                           size_t cap);

/* Checks every row that applies to @p against the loaded backend's slot
 * @slot. CKR_OK; CKR_FUNCTION_FAILED after one log line naming the
 * profile, its setting and the mechanism (absent, without a flag, or not
 * for that key size) or the failed C_GetMechanismList; CKR_HOST_MEMORY. */
CK_RV dep11_profile_check(const struct dep11_profile *p, CK_SLOT_ID slot);

#endif
