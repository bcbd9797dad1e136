/*
 * test_tenants.c - two tenants on one dep11 (DESIGN section 2, "Tenant
 * binding"): contoso and fabrikam, each with two registered roots. Every
 * vendor mechanism and vendor function is tried from one tenant's session on
 * the other's policies and keys, for USER, SYSTEM and RECOVERY, customer- and
 * provider-managed: CKR_DEP11_TENANT_MISMATCH for every policy unwrap and
 * purge, before any root is tried and without fallback (also while the
 * owner's roots are healthy, and after they are revoked), module-side keys of
 * one token invisible to the other's sessions, nothing destroyed by a
 * refused purge. test_revoked_across revokes contoso's roots: it runs last.
 * Run with a config that allows SYSTEM and RECOVERY and has
 * an audit log (test_tenants.sh); the script then checks one refusal line
 * per refusal counted here (DIR/tenants.expect).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "itest.h"

#define F (fx->t->f)
#define X (fx->t->x)
#define MISMATCH CKR_DEP11_TENANT_MISMATCH

static const CK_ULONG requesters[] = { DEP11_REQUESTER_USER, DEP11_REQUESTER_SYSTEM,
                                       DEP11_REQUESTER_RECOVERY };
static const CK_BYTE owner[16] = "mailbox-owner-01";
static const CK_BYTE file_id[16] = "file-id-00000001";
static unsigned long refusals;  /* TENANT_MISMATCH answers that reached dep11 */

/* A fabrikam session, logged in, and its two roots (private handles). */
static void fabrikam(struct itest_fx *fx, CK_SESSION_HANDLE *fs, CK_OBJECT_HANDLE *f1,
                     CK_OBJECT_HANDLE *f2)
{
    assert_int_equal(itest_session(fx->t, "fabrikam", 1, fs), CKR_OK);
    if (f1 != NULL)
        assert_int_equal(itest_find(fx->t, *fs, CKO_PRIVATE_KEY, "froot1", f1), CKR_OK);
    if (f2 != NULL)
        assert_int_equal(itest_find(fx->t, *fs, CKO_PRIVATE_KEY, "froot2", f2), CKR_OK);
}

/* A policy of session @s's token: customer-managed under @r1/@r2, or
 * provider-managed (0, 0); the policy key stays in *@pol. */
static void policy(struct itest_fx *fx, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE r1,
                   CK_OBJECT_HANDLE r2, CK_OBJECT_HANDLE *pol, struct itest_blob *b)
{
    assert_int_equal(itest_keygen(fx->t, s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, pol),
                     CKR_OK);
    assert_int_equal(itest_policy_wrap(fx->t, s, *pol, r1, r2, 0, b), CKR_OK);
}

/* A provider-managed policy of its own on @s's token (one blob per policy
 * version: the customer-managed policy's key is not wrapped twice). */
static void prov_policy(struct itest_fx *fx, CK_SESSION_HANDLE s, struct itest_blob *b)
{
    CK_OBJECT_HANDLE pol = CK_INVALID_HANDLE;

    policy(fx, s, 0, 0, &pol, b);
}

/* Unwrap with a forced root (or none), as @requester. */
static CK_RV unwrap_forced(struct itest_fx *fx, CK_SESSION_HANDLE s, const struct itest_blob *b,
                           CK_OBJECT_HANDLE force, CK_ULONG requester)
{
    CK_DEP11_POLICY_UNWRAP_PARAMS p = { requester };
    CK_MECHANISM m = { CKM_DEP11_POLICY_UNWRAP, &p, sizeof p };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = F->C_UnwrapKey(s, &m, force, b->p, b->len, NULL, 0, &h);

    if (rv == CKR_OK)
        (void)F->C_DestroyObject(s, h);
    return rv;
}

/* @b, unwrapped from foreign session @fs: refused for every requester,
 * with and without a forced root of the foreign token. */
static void assert_foreign_refused(struct itest_fx *fx, CK_SESSION_HANDLE fs,
                                   const struct itest_blob *b, CK_OBJECT_HANDLE foreign_root)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(itest_policy_unwrap(fx->t, fs, b, requesters[i], &h), MISMATCH);
        refusals++;
        if (foreign_root != CK_INVALID_HANDLE) {
            assert_int_equal(unwrap_forced(fx, fs, b, foreign_root, requesters[i]), MISMATCH);
            refusals++;
        }
    }
    assert_int_equal(itest_policy_unwrap(fx->t, fs, b, 0, &h), MISMATCH); /* NULL param */
    refusals++;
}

/* Contoso's customer- and provider-managed blobs on fabrikam, while
 * contoso's roots are healthy and its keys cached in this process. */
static void test_unwrap_across(void **state)
{
    struct itest_fx *fx = *state;
    CK_SESSION_HANDLE fs = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE pol = CK_INVALID_HANDLE, h = CK_INVALID_HANDLE, f1 = 0, f2 = 0;
    struct itest_blob cust = { 0 }, prov = { 0 }, fcust = { 0 }, fprov = { 0 };

    policy(fx, fx->s, fx->r1, fx->r2, &pol, &cust);
    prov_policy(fx, fx->s, &prov);
    for (size_t i = 0; i < 3; i++) { /* served, and cached, on contoso */
        assert_int_equal(itest_policy_unwrap(fx->t, fx->s, &cust, requesters[i], &h), CKR_OK);
        assert_int_equal(itest_policy_unwrap(fx->t, fx->s, &prov, requesters[i], &h), CKR_OK);
    }
    fabrikam(fx, &fs, &f1, &f2);
    /* The cache is keyed by token: contoso's cached keys never answer here. */
    assert_foreign_refused(fx, fs, &cust, f1);
    assert_foreign_refused(fx, fs, &prov, CK_INVALID_HANDLE);
    /* A forced root of the foreign token on a provider-managed blob. */
    assert_int_equal(unwrap_forced(fx, fs, &prov, f2, DEP11_REQUESTER_USER), MISMATCH);
    refusals++;
    /* And the other way round: fabrikam's policies on contoso. */
    policy(fx, fs, f1, f2, &pol, &fcust);
    prov_policy(fx, fs, &fprov);
    assert_int_equal(itest_policy_unwrap(fx->t, fs, &fcust, DEP11_REQUESTER_USER, &h), CKR_OK);
    assert_int_equal(itest_policy_unwrap(fx->t, fs, &fprov, DEP11_REQUESTER_SYSTEM, &h), CKR_OK);
    assert_foreign_refused(fx, fx->s, &fcust, fx->r1);
    assert_foreign_refused(fx, fx->s, &fprov, CK_INVALID_HANDLE);
    /* The owners still read their own policies. */
    assert_int_equal(X->DEP11_FlushCache(NULL), CKR_OK);
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, &cust, DEP11_REQUESTER_USER, &h), CKR_OK);
    assert_int_equal(itest_policy_unwrap(fx->t, fs, &fcust, DEP11_REQUESTER_RECOVERY, &h), CKR_OK);
    itest_blob_free(&cust);
    itest_blob_free(&prov);
    itest_blob_free(&fcust);
    itest_blob_free(&fprov);
    assert_int_equal(F->C_CloseSession(fs), CKR_OK);
}

/* Every mechanism with contoso's module-side keys named from a fabrikam
 * session: the keys do not exist there. */
static void test_keys_across(void **state)
{
    struct itest_fx *fx = *state;
    CK_SESSION_HANDLE fs = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE pol = 0, mbx = 0, site = 0, h = 0, f1 = 0, f2 = 0;
    CK_ULONG n = 99;
    struct itest_blob b = { 0 }, child = { 0 }, sealed = { 0 }, out = { 0 };
    CK_DEP11_CHUNK_PARAMS cp;
    CK_MECHANISM chunk = { CKM_DEP11_CHUNK_AEAD, &cp, sizeof cp };
    CK_ULONG role = 0;
    CK_ATTRIBUTE ra = { CKA_DEP11_ROLE, &role, sizeof role };

    memcpy(cp.fileId, file_id, 16);
    cp.ulChunkIndex = 0;
    policy(fx, fx->s, fx->r1, fx->r2, &pol, &b);
    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_MAILBOX, 0, &mbx), CKR_OK);
    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_SITE, 0, &site), CKR_OK);
    assert_int_equal(itest_child_wrap(fx->t, fx->s, pol, mbx, owner, &child), CKR_OK);
    assert_int_equal(itest_aead(fx->t, fx->s, 1, mbx, NULL, 0, owner, 16, &sealed), CKR_OK);
    fabrikam(fx, &fs, &f1, &f2);
    assert_int_equal(itest_count_module_keys(fx->t, fs, &n), CKR_OK);
    assert_int_equal(n, 0);
    /* CHILD_WRAP / CHILD_UNWRAP under contoso's policy key, POLICY_WRAP of it
     * (a re-wrap from fabrikam, under fabrikam's roots or provider keys). */
    assert_int_not_equal(itest_child_wrap(fx->t, fs, pol, mbx, owner, &out), CKR_OK);
    assert_int_not_equal(itest_child_unwrap(fx->t, fs, pol, &child, owner, &h), CKR_OK);
    assert_int_not_equal(itest_policy_wrap(fx->t, fs, pol, f1, f2, 0, &out), CKR_OK);
    assert_int_not_equal(itest_policy_wrap(fx->t, fs, pol, 0, 0, 0, &out), CKR_OK);
    assert_int_not_equal(itest_policy_wrap(fx->t, fs, pol, f1, f2, DEP11_WRAP_ROLL_AVAILABILITY,
                                           &out), CKR_OK);
    /* CHUNK_KEY_DERIVE, CHUNK_AEAD, AEAD with contoso's keys. */
    assert_int_not_equal(itest_chunk_derive(fx->t, fs, site, file_id, 0, &h), CKR_OK);
    assert_int_not_equal(F->C_EncryptInit(fs, &chunk, site), CKR_OK);
    assert_int_not_equal(itest_aead(fx->t, fs, 0, mbx, NULL, 0, sealed.p, sealed.len, &out),
                         CKR_OK);
    assert_int_not_equal(itest_aead(fx->t, fs, 1, mbx, NULL, 0, owner, 16, &out), CKR_OK);
    assert_int_equal(F->C_GetAttributeValue(fs, pol, &ra, 1), CKR_OBJECT_HANDLE_INVALID);
    assert_int_not_equal(F->C_DestroyObject(fs, pol), CKR_OK);
    /* Still there for contoso. */
    assert_int_equal(itest_child_unwrap(fx->t, fx->s, pol, &child, owner, &h), CKR_OK);
    assert_int_equal(itest_aead(fx->t, fx->s, 0, h, NULL, 0, sealed.p, sealed.len, &out), CKR_OK);
    assert_int_equal(out.len, 16);
    /* DEP11_GetPolicyInfo parses anywhere (no key, no session). */
    {
        CK_DEP11_POLICY_INFO info;
        assert_int_equal(X->DEP11_GetPolicyInfo(b.p, b.len, &info), CKR_OK);
        assert_memory_equal(info.tenantId, ITEST_TENANT, 16);
    }
    itest_blob_free(&b);
    itest_blob_free(&child);
    itest_blob_free(&sealed);
    itest_blob_free(&out);
    assert_int_equal(F->C_CloseSession(fs), CKR_OK);
}

/* DEP11_PurgePolicy from fabrikam: refused, nothing destroyed. */
static void test_purge_across(void **state)
{
    struct itest_fx *fx = *state;
    CK_SESSION_HANDLE fs = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE pol = 0, h = 0;
    CK_ULONG by = 0;
    struct itest_blob cust = { 0 }, prov = { 0 };
    CK_BYTE buf[4096];
    CK_ULONG len = sizeof buf;

    policy(fx, fx->s, fx->r1, fx->r2, &pol, &cust);
    prov_policy(fx, fx->s, &prov);
    assert_int_equal(itest_write_blob(fx->t, "purge-across.blob", &cust), 0);
    fabrikam(fx, &fs, NULL, NULL);
    assert_int_equal(X->DEP11_PurgePolicy(fs, cust.p, cust.len, buf, &len), MISMATCH);
    refusals++;
    len = sizeof buf;
    assert_int_equal(X->DEP11_PurgePolicy(fs, prov.p, prov.len, buf, &len), MISMATCH);
    refusals++;
    len = 0;
    assert_int_equal(X->DEP11_PurgePolicy(fs, cust.p, cust.len, NULL, &len), MISMATCH);
    refusals++;
    /* Nothing destroyed: contoso reads it, and the availability key serves
     * a SYSTEM request in another process once contoso's roots are gone
     * (test_revoked_across); here: the key is still there. */
    assert_int_equal(X->DEP11_FlushCache(NULL), CKR_OK);
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, &cust, DEP11_REQUESTER_USER, &h), CKR_OK);
    assert_int_equal(itest_get_ulong(fx->t, fx->s, h, CKA_DEP11_UNWRAPPED_BY, &by), CKR_OK);
    assert_true(by == DEP11_ROOT_CUSTOMER_1 || by == DEP11_ROOT_CUSTOMER_2);
    itest_blob_free(&cust);
    itest_blob_free(&prov);
    assert_int_equal(F->C_CloseSession(fs), CKR_OK);
}

static void write_expect(struct itest_fx *fx);

/* Contoso revokes both roots (pkcs11-tool on SoftHSM): on fabrikam its
 * blobs are still TENANT_MISMATCH (never "revoked", never the availability
 * key); on contoso SYSTEM falls back and USER is revoked; the blob a
 * refused purge kept is still served to SYSTEM. Runs last. */
static void test_revoked_across(void **state)
{
    struct itest_fx *fx = *state;
    CK_SESSION_HANDLE fs = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE pol = 0, h = 0, f1 = 0;
    CK_ULONG by = 0;
    struct itest_blob cust = { 0 }, prov = { 0 };
    CK_RV rv = CKR_OK;

    policy(fx, fx->s, fx->r1, fx->r2, &pol, &cust);
    prov_policy(fx, fx->s, &prov);
    assert_int_equal(itest_revoke_direct(fx->t, "contoso", "root1"), 0);
    assert_int_equal(itest_revoke_direct(fx->t, "contoso", "root2"), 0);
    assert_int_equal(X->DEP11_FlushCache(NULL), CKR_OK);
    fabrikam(fx, &fs, &f1, NULL);
    assert_foreign_refused(fx, fs, &cust, f1);
    assert_foreign_refused(fx, fs, &prov, CK_INVALID_HANDLE);
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, &cust, DEP11_REQUESTER_USER, &h),
                     CKR_DEP11_ROOT_KEYS_REVOKED);
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, &cust, DEP11_REQUESTER_SYSTEM, &h), CKR_OK);
    assert_int_equal(itest_get_ulong(fx->t, fx->s, h, CKA_DEP11_UNWRAPPED_BY, &by), CKR_OK);
    assert_int_equal(by, DEP11_ROOT_AVAILABILITY);
    /* The blob whose purge fabrikam tried (test_purge_across). */
    assert_int_equal(itest_spawn_unwrap(fx->t, "tenants.conf", "purge-across.blob",
                                        DEP11_REQUESTER_SYSTEM, &rv, &by), 0);
    assert_int_equal(rv, CKR_OK);
    assert_int_equal(by, DEP11_ROOT_AVAILABILITY);
    itest_blob_free(&cust);
    itest_blob_free(&prov);
    assert_int_equal(F->C_CloseSession(fs), CKR_OK);
    write_expect(fx);
}

/* What the script checks in the audit log: the refusals counted and the
 * serial numbers of both tokens. */
static void write_expect(struct itest_fx *fx)
{
    static const char *const tokens[] = { "contoso", "fabrikam" };
    CK_SLOT_ID slot = 0;
    CK_TOKEN_INFO ti;
    char path[1200];
    FILE *fp = fopen(itest_path(fx->t, "tenants.expect", path, sizeof path), "w");

    assert_non_null(fp);
    fprintf(fp, "%lu", refusals);
    for (int i = 0; i < 2; i++) {
        int n = 16;
        assert_int_equal(itest_slot(fx->t, tokens[i], &slot), CKR_OK);
        assert_int_equal(F->C_GetTokenInfo(slot, &ti), CKR_OK);
        while (n > 0 && ti.serialNumber[n - 1] == ' ')
            n--;
        fprintf(fp, " %.*s", n, (const char *)ti.serialNumber);
    }
    fprintf(fp, "\n");
    fclose(fp);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, itest_setup, itest_teardown)
    const struct CMUnitTest tests[] = {
        T(test_unwrap_across), T(test_keys_across), T(test_purge_across),
        T(test_revoked_across),
    };
#undef T
    return cmocka_run_group_tests_name("tenants", tests, itest_group_setup,
                                       itest_group_teardown);
}
