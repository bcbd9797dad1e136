/*
 * mech.c - the table of dep11's own mechanisms (mech.h).
 */
#include "core/mech.h"
#include "dep11.h"

#define KEY_BITS DEP11_KEY_LEN, DEP11_KEY_LEN   /* min, max as info reports */
#define ROOT_BITS 2048, 4096
/* PKCS#11 3.0 message-based encryption (message.c): the two AEADs only. */
#define MESSAGE_FLAGS CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT

const struct dep11_mech dep11_mechs[] = {
    { CKM_DEP11_KEY_GEN, "CKM_DEP11_KEY_GEN", DEP11_MECH_KEY_NONE, { KEY_BITS, CKF_GENERATE } },
    { CKM_DEP11_POLICY_WRAP,
      "CKM_DEP11_POLICY_WRAP",
      DEP11_MECH_KEY_ROOTS,
      { ROOT_BITS, CKF_WRAP } },
    { CKM_DEP11_POLICY_UNWRAP,
      "CKM_DEP11_POLICY_UNWRAP",
      DEP11_MECH_KEY_ROOTS,
      { ROOT_BITS, CKF_UNWRAP } },
    { CKM_DEP11_CHILD_WRAP,
      "CKM_DEP11_CHILD_WRAP",
      DEP11_MECH_KEY_POLICY,
      { KEY_BITS, CKF_WRAP } },
    { CKM_DEP11_CHILD_UNWRAP,
      "CKM_DEP11_CHILD_UNWRAP",
      DEP11_MECH_KEY_POLICY,
      { KEY_BITS, CKF_UNWRAP } },
    { CKM_DEP11_CHUNK_KEY_DERIVE,
      "CKM_DEP11_CHUNK_KEY_DERIVE",
      DEP11_MECH_KEY_SITE,
      { KEY_BITS, CKF_DERIVE } },
    { CKM_DEP11_CHUNK_AEAD,
      "CKM_DEP11_CHUNK_AEAD",
      DEP11_MECH_KEY_SITE,
      { KEY_BITS, CKF_ENCRYPT | CKF_DECRYPT | MESSAGE_FLAGS } },
    { CKM_DEP11_AEAD,
      "CKM_DEP11_AEAD",
      DEP11_MECH_KEY_DATA,
      { KEY_BITS, CKF_ENCRYPT | CKF_DECRYPT | MESSAGE_FLAGS } },
    /* The vendor functions through standard calls (vendor_std.c): no key. */
    { CKM_DEP11_POLICY_INFO,
      "CKM_DEP11_POLICY_INFO",
      DEP11_MECH_KEY_NONE,
      { 0, 0, CKF_DIGEST } },
    { CKM_DEP11_POLICY_PURGE,
      "CKM_DEP11_POLICY_PURGE",
      DEP11_MECH_KEY_NONE,
      { 0, 0, CKF_SIGN } },
    { CKM_DEP11_FLUSH_CACHE,
      "CKM_DEP11_FLUSH_CACHE",
      DEP11_MECH_KEY_NONE,
      { 0, 0, CKF_DIGEST } },
    { CKM_DEP11_ROOT_REGISTER,
      "CKM_DEP11_ROOT_REGISTER",
      DEP11_MECH_KEY_NONE,
      { 0, 0, CKF_DIGEST } },
    { CKM_DEP11_ROOT_UNREGISTER,
      "CKM_DEP11_ROOT_UNREGISTER",
      DEP11_MECH_KEY_NONE,
      { 0, 0, CKF_DIGEST } },
};
const size_t dep11_mechs_n = sizeof dep11_mechs / sizeof dep11_mechs[0];

/** See mech.h. The numbers are consecutive (DESIGN section 3): an index. */
const struct dep11_mech *dep11_mech_find(CK_MECHANISM_TYPE type)
{
    if (type < CKM_DEP11_KEY_GEN || type - CKM_DEP11_KEY_GEN >= dep11_mechs_n)
        return NULL;
    return &dep11_mechs[type - CKM_DEP11_KEY_GEN];
}

/** See mech.h. */
int dep11_mech_refuses(CK_MECHANISM_TYPE type, CK_FLAGS op)
{
    const struct dep11_mech *m = dep11_mech_find(type);

    return m != NULL && (m->info.flags & op) == 0;
}
