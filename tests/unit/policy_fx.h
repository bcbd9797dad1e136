/*
 * policy_fx.h - the fixture that the hier policy unit tests share
 * (test_hier_policy.c, test_hier_tenant.c): the in-memory HSM double with
 * two customer roots on slot 1 and the provider keys provisioned, a config
 * that allows SYSTEM and RECOVERY, and wrap/unwrap into one blob buffer.
 */
#ifndef DEP11_TEST_POLICY_FX_H
#define DEP11_TEST_POLICY_FX_H

#include "hier/hier.h"
#include "blob/blob.h"
#include "fake_hsm.h"

struct fx {
    struct fake_hsm *hsm;
    struct dep11_config *cfg;
    struct dep11_call call;
    CK_OBJECT_HANDLE r1, r2;
    uint8_t blob[DEP11_POLICY_BLOB_MAX];
    CK_ULONG len;
};

/* cmocka set-up and tear-downs (the tear-down checks that every worker
 * session was closed). */
int pfx_setup(void **state);
int pfx_teardown(void **state);
int pfx_group_teardown(void **state);
/* A fresh MAILBOX/MULTI_WORKLOAD/FILES policy key of tenant ab..ab, geo NAM. */
struct dep11_key *pfx_new_policy(CK_ULONG type);
/* Wraps @k into f->blob under (r1, r2), or provider-managed with 0, 0.
 * A fresh key (version 0) wraps as a new policy each time: the committed
 * version of its policy is forgotten first (dep11 itself refuses a fresh
 * key once a blob of its policy is committed; test_hier_tenant checks
 * that with dep11_policy_wrap directly). */
CK_RV pfx_wrap(struct fx *f, const struct dep11_key *k, CK_OBJECT_HANDLE r1,
               CK_OBJECT_HANDLE r2, CK_FLAGS flags);
/* Unwraps f->blob as @requester, no forced root. */
CK_RV pfx_unwrap(struct fx *f, CK_ULONG requester, struct dep11_key **out);

#endif
