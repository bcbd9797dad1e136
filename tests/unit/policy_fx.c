/*
 * policy_fx.c - the shared fixture of the hier policy unit tests
 * (policy_fx.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "policy_fx.h"

int pfx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->hsm = fake_hsm_reset();
    f->cfg = calloc(1, sizeof(*f->cfg));
    assert_non_null(f->cfg);
    f->cfg->profile.oaep_hash = CKM_SHA256;
    f->cfg->system_requests = 1;
    f->cfg->recovery_requests = 1;
    f->call.slot = 1;
    f->call.cfg = f->cfg;
    f->r1 = fake_hsm_add_root(f->hsm, 2048, "root-1");
    f->r2 = fake_hsm_add_root(f->hsm, 2048, "root-2");
    fake_hsm_provision(f->hsm); /* the provider roots: provisioned, never made on use */
    assert_int_not_equal(f->r1, CK_INVALID_HANDLE);
    assert_int_not_equal(f->r2, CK_INVALID_HANDLE);
    *state = f;
    return 0;
}

int pfx_teardown(void **state)
{
    struct fx *f = *state;

    assert_int_equal(f->hsm->sessions_open, 0); /* every worker session closed */
    free(f->cfg);
    free(f);
    return 0;
}

int pfx_group_teardown(void **state)
{
    (void)state;
    fake_hsm_release();
    return 0;
}

struct dep11_key *pfx_new_policy(CK_ULONG type)
{
    struct dep11_keygen_req req;
    struct dep11_key *k = NULL;

    memset(&req, 0, sizeof(req));
    req.role = DEP11_ROLE_POLICY;
    req.policy_type = type;
    req.has_tenant = 1;
    memset(req.tenant, 0xab, sizeof(req.tenant));
    memcpy(req.geo, "NAM", 3);
    req.geo_len = 3;
    memcpy(req.label, "Contoso mailboxes", 17);
    req.label_len = 17;
    assert_int_equal(dep11_key_generate(&req, &k), CKR_OK);
    return k;
}

CK_RV pfx_wrap(struct fx *f, const struct dep11_key *k, CK_OBJECT_HANDLE r1,
               CK_OBJECT_HANDLE r2, CK_FLAGS flags)
{
    f->len = sizeof(f->blob);
    if (k->version == 0)
        fake_hsm_state_uncommit(k->policy_id); /* see policy_fx.h */
    return dep11_policy_wrap(&f->call, k, r1, r2, flags, f->blob, &f->len);
}

CK_RV pfx_unwrap(struct fx *f, CK_ULONG requester, struct dep11_key **out)
{
    return dep11_policy_unwrap(&f->call, CK_INVALID_HANDLE, requester, f->blob, f->len, out);
}

