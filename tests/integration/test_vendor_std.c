/*
 * test_vendor_std.c - the vendor functions through standard calls (issue 14
 * item 5, include/dep11.h): CKM_DEP11_POLICY_INFO and CKM_DEP11_FLUSH_CACHE
 * through C_DigestInit/C_Digest, CKM_DEP11_POLICY_PURGE through
 * C_SignInit(CK_INVALID_HANDLE)/C_Sign, each compared with the vendor
 * function it carries (same bytes, same codes):
 *   mechs   the mechanism list and info; wrong call family, a parameter, a
 *           key: refused; one op per session; a NULL mechanism ends it
 *   info    single- and multi-part equal to DEP11_GetPolicyInfo, size query
 *           and short buffer keep the op, bad blobs, no login needed
 *   purge   (last: it revokes root1 and root2) refusals equal to
 *           DEP11_PurgePolicy's (a customer key unwraps, another tenant's
 *           token, not logged in, bad blob), the flush made visible (a
 *           cached key served until CKM_DEP11_FLUSH_CACHE), size query and
 *           short buffer destroy nothing, multi-part purge, the receipt
 *           re-issued byte for byte by both routes, PURGED afterwards
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
#define RECEIPT_CAP 4096

/* C_DigestInit(@m, NULL parameter) then C_Digest. */
static CK_RV digest(struct itest_fx *fx, CK_SESSION_HANDLE s, CK_MECHANISM_TYPE m,
                    const CK_BYTE *in, CK_ULONG len, CK_BYTE *out, CK_ULONG *out_len)
{
    CK_MECHANISM mech = { m, NULL, 0 };
    CK_RV rv = F->C_DigestInit(s, &mech);

    if (rv != CKR_OK)
        return rv;
    return F->C_Digest(s, (CK_BYTE_PTR)in, len, out, out_len);
}

/* C_SignInit(CKM_DEP11_POLICY_PURGE, no key) then C_Sign. */
static CK_RV std_purge(struct itest_fx *fx, CK_SESSION_HANDLE s, const struct itest_blob *b,
                       CK_BYTE *out, CK_ULONG *out_len)
{
    CK_MECHANISM mech = { CKM_DEP11_POLICY_PURGE, NULL, 0 };
    CK_RV rv = F->C_SignInit(s, &mech, CK_INVALID_HANDLE);

    if (rv != CKR_OK)
        return rv;
    return F->C_Sign(s, b->p, b->len, out, out_len);
}

/* A customer-managed policy blob under root1 and root2. */
static void make_blob(struct itest_fx *fx, struct itest_blob *b)
{
    CK_OBJECT_HANDLE pol = CK_INVALID_HANDLE;

    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, &pol),
                     CKR_OK);
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, fx->r1, fx->r2, 0, b), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, pol), CKR_OK);
}

/* ---- mechs ---- */

static void test_mechs(void **state)
{
    struct itest_fx *fx = *state;
    static const struct {
        CK_MECHANISM_TYPE m;
        CK_FLAGS flags;
    } want[] = { { CKM_DEP11_POLICY_INFO, CKF_DIGEST },
                 { CKM_DEP11_POLICY_PURGE, CKF_SIGN },
                 { CKM_DEP11_FLUSH_CACHE, CKF_DIGEST } };
    CK_MECHANISM_TYPE list[256];
    CK_ULONG n = 256, len = 0;
    CK_SESSION_INFO si;
    CK_MECHANISM_INFO mi;
    CK_MECHANISM info = { CKM_DEP11_POLICY_INFO, NULL, 0 };
    CK_MECHANISM purge = { CKM_DEP11_POLICY_PURGE, NULL, 0 };
    CK_ULONG param = 1;
    CK_MECHANISM with_param = { CKM_DEP11_POLICY_INFO, &param, sizeof param };
    CK_MECHANISM sha = { CKM_SHA256, NULL, 0 };
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    CK_BYTE h[64];

    assert_int_equal(F->C_GetSessionInfo(fx->s, &si), CKR_OK);
    assert_int_equal(F->C_GetMechanismList(si.slotID, list, &n), CKR_OK);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int found = 0;

        for (CK_ULONG j = 0; j < n; j++)
            found |= list[j] == want[i].m;
        assert_true(found);
        assert_int_equal(F->C_GetMechanismInfo(si.slotID, want[i].m, &mi), CKR_OK);
        assert_int_equal(mi.flags, want[i].flags);
    }
    /* Each serves its own call only. */
    assert_int_equal(F->C_SignInit(fx->s, &info, CK_INVALID_HANDLE), CKR_MECHANISM_INVALID);
    assert_int_equal(F->C_DigestInit(fx->s, &purge), CKR_MECHANISM_INVALID);
    assert_int_equal(F->C_EncryptInit(fx->s, &info, fx->r1), CKR_MECHANISM_INVALID);
    assert_int_equal(F->C_DigestInit(fx->s, &with_param), CKR_MECHANISM_PARAM_INVALID);
    /* The purge takes no key: neither a root nor a module-side key. */
    assert_int_equal(F->C_SignInit(fx->s, &purge, fx->r1), CKR_KEY_HANDLE_INVALID);
    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_MAILBOX, 0, &key), CKR_OK);
    assert_int_equal(F->C_SignInit(fx->s, &purge, key), CKR_KEY_HANDLE_INVALID);
    /* One op at a time; a NULL mechanism ends it; then it is gone. */
    assert_int_equal(F->C_DigestInit(fx->s, &info), CKR_OK);
    assert_int_equal(F->C_DigestInit(fx->s, &info), CKR_OPERATION_ACTIVE);
    assert_int_equal(F->C_DigestInit(fx->s, &sha), CKR_OPERATION_ACTIVE);
    len = 0;
    assert_int_equal(F->C_GetOperationState(fx->s, NULL, &len), CKR_STATE_UNSAVEABLE);
    assert_int_equal(F->C_DigestInit(fx->s, NULL), CKR_OK);
    assert_int_equal(F->C_Digest(fx->s, (CK_BYTE_PTR) "x", 1, NULL, &len),
                     CKR_OPERATION_NOT_INITIALIZED);
    /* A backend digest still works beside it. */
    len = sizeof h;
    assert_int_equal(digest(fx, fx->s, CKM_SHA256, (const CK_BYTE *)"abc", 3, h, &len), CKR_OK);
    assert_int_equal(len, 32);
    assert_int_equal(h[0], 0xba); /* SHA-256("abc") */
    assert_int_equal(F->C_DestroyObject(fx->s, key), CKR_OK);
}

/* ---- info ---- */

/* Multi-part: the blob in three updates. */
static CK_RV info_multipart(struct itest_fx *fx, CK_SESSION_HANDLE s,
                            const struct itest_blob *b, CK_BYTE *out, CK_ULONG *out_len)
{
    CK_MECHANISM mech = { CKM_DEP11_POLICY_INFO, NULL, 0 };
    CK_ULONG third = b->len / 3;
    CK_RV rv = F->C_DigestInit(s, &mech);

    if (rv == CKR_OK)
        rv = F->C_DigestUpdate(s, b->p, third);
    if (rv == CKR_OK)
        rv = F->C_DigestUpdate(s, b->p + third, 0);
    if (rv == CKR_OK)
        rv = F->C_DigestUpdate(s, b->p + third, b->len - third);
    if (rv == CKR_OK)
        rv = F->C_DigestFinal(s, out, out_len);
    return rv;
}

/* Bad blobs: the codes of DEP11_GetPolicyInfo. */
static void info_bad_blobs(struct itest_fx *fx, const struct itest_blob *b)
{
    CK_DEP11_POLICY_INFO info;
    CK_ULONG len = sizeof info;
    CK_BYTE *cut = malloc(b->len);

    assert_non_null(cut);
    memcpy(cut, b->p, b->len);
    cut[0] ^= 0xff; /* the magic */
    assert_int_equal(X->DEP11_GetPolicyInfo(cut, b->len, &info), CKR_WRAPPED_KEY_INVALID);
    assert_int_equal(
        digest(fx, fx->s, CKM_DEP11_POLICY_INFO, cut, b->len, (CK_BYTE *)&info, &len),
        CKR_WRAPPED_KEY_INVALID);
    /* The error ended the op. */
    assert_int_equal(F->C_Digest(fx->s, b->p, b->len, (CK_BYTE *)&info, &len),
                     CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(X->DEP11_GetPolicyInfo(b->p, 7, &info), CKR_WRAPPED_KEY_INVALID);
    assert_int_equal(digest(fx, fx->s, CKM_DEP11_POLICY_INFO, b->p, 7, (CK_BYTE *)&info, &len),
                     CKR_WRAPPED_KEY_INVALID);
    /* No data is a malformed blob, also for a size query. */
    assert_int_equal(digest(fx, fx->s, CKM_DEP11_POLICY_INFO, NULL, 0, NULL, &len),
                     CKR_WRAPPED_KEY_INVALID);
    free(cut);
}

static void test_info(void **state)
{
    struct itest_fx *fx = *state;
    struct itest_blob b = { 0 };
    CK_DEP11_POLICY_INFO want, got;
    CK_BYTE small[8];
    CK_ULONG len = 0;
    CK_SESSION_HANDLE other = CK_INVALID_HANDLE;

    make_blob(fx, &b);
    assert_int_equal(X->DEP11_GetPolicyInfo(b.p, b.len, &want), CKR_OK);
    assert_int_equal(want.ulManagedBy, DEP11_MANAGED_CUSTOMER);
    /* Size query: the op goes on; a short buffer too; then the answer. */
    assert_int_equal(digest(fx, fx->s, CKM_DEP11_POLICY_INFO, b.p, b.len, NULL, &len), CKR_OK);
    assert_int_equal(len, sizeof want);
    len = sizeof small;
    assert_int_equal(F->C_Digest(fx->s, b.p, b.len, small, &len), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(len, sizeof want);
    memset(&got, 0, sizeof got);
    assert_int_equal(F->C_Digest(fx->s, b.p, b.len, (CK_BYTE *)&got, &len), CKR_OK);
    assert_int_equal(len, sizeof want);
    assert_memory_equal(&got, &want, sizeof want);
    /* Multi-part gives the same bytes. */
    memset(&got, 0, sizeof got);
    len = sizeof got;
    assert_int_equal(info_multipart(fx, fx->s, &b, (CK_BYTE *)&got, &len), CKR_OK);
    assert_memory_equal(&got, &want, sizeof want);
    /* Like DEP11_GetPolicyInfo, no login needed: a session on fabrikam. */
    assert_int_equal(itest_session(fx->t, "fabrikam", 0, &other), CKR_OK);
    memset(&got, 0, sizeof got);
    len = sizeof got;
    assert_int_equal(
        digest(fx, other, CKM_DEP11_POLICY_INFO, b.p, b.len, (CK_BYTE *)&got, &len), CKR_OK);
    assert_memory_equal(&got, &want, sizeof want);
    assert_int_equal(F->C_CloseSession(other), CKR_OK);
    info_bad_blobs(fx, &b);
    itest_blob_free(&b);
}

/* ---- flush and purge ---- */

/* The same purge call through both routes: the same code. */
static void both_refuse(struct itest_fx *fx, CK_SESSION_HANDLE s, const struct itest_blob *b,
                        CK_RV want)
{
    CK_BYTE buf[RECEIPT_CAP];
    CK_ULONG len = sizeof buf;

    assert_int_equal(X->DEP11_PurgePolicy(s, b->p, b->len, buf, &len), want);
    len = sizeof buf;
    assert_int_equal(std_purge(fx, s, b, buf, &len), want);
}

/* The availability key still serves a SYSTEM unwrap in another process
 * (once both customer keys are revoked). */
static void assert_nothing_destroyed(struct itest_fx *fx)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    CK_ULONG by = 0;

    assert_int_equal(itest_spawn_unwrap(fx->t, "dep11-system.conf", "std.blob",
                                        DEP11_REQUESTER_SYSTEM, &rv, &by),
                     0);
    assert_int_equal(rv, CKR_OK);
    assert_int_equal(by, DEP11_ROOT_AVAILABILITY);
}

/* On a session of another token, logged out: no purge operation starts. */
static void sign_init_refused(struct itest_fx *fx, CK_SESSION_HANDLE s)
{
    CK_MECHANISM purge = { CKM_DEP11_POLICY_PURGE, NULL, 0 };

    assert_int_equal(F->C_SignInit(s, &purge, CK_INVALID_HANDLE), CKR_USER_NOT_LOGGED_IN);
}

/* Refusals while the policy's keys still unwrap, and on other sessions. */
static void purge_refusals(struct itest_fx *fx, const struct itest_blob *b)
{
    assert_int_equal(itest_purge_refusals(fx, b, both_refuse, sign_init_refused), 0);
}

/* A cached key serves after revocation until CKM_DEP11_FLUSH_CACHE. */
static void flush_made_visible(struct itest_fx *fx, const struct itest_blob *b)
{
    CK_DEP11_POLICY_INFO info;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_BYTE any[1];
    CK_ULONG len = sizeof any;

    assert_int_equal(X->DEP11_GetPolicyInfo(b->p, b->len, &info), CKR_OK);
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, b, DEP11_REQUESTER_USER, &h), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
    assert_int_equal(itest_revoke_direct(fx->t, "contoso", "root1"), 0);
    assert_int_equal(itest_revoke_direct(fx->t, "contoso", "root2"), 0);
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, b, DEP11_REQUESTER_USER, &h), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
    /* A policy id of the wrong length; a size query flushes nothing. */
    assert_int_equal(digest(fx, fx->s, CKM_DEP11_FLUSH_CACHE, info.policyId, 15, any, &len),
                     CKR_DATA_LEN_RANGE);
    assert_int_equal(digest(fx, fx->s, CKM_DEP11_FLUSH_CACHE, info.policyId, 16, NULL, &len),
                     CKR_OK);
    assert_int_equal(len, 0);
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, b, DEP11_REQUESTER_USER, &h), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
    len = sizeof any;
    assert_int_equal(F->C_Digest(fx->s, info.policyId, 16, any, &len), CKR_OK);
    assert_int_equal(len, 0);
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, b, DEP11_REQUESTER_USER, &h),
                     CKR_DEP11_ROOT_KEYS_REVOKED);
    /* No data flushes every entry. */
    len = sizeof any;
    assert_int_equal(digest(fx, fx->s, CKM_DEP11_FLUSH_CACHE, NULL, 0, any, &len), CKR_OK);
}

/* Size query and short buffer: the op goes on, nothing is destroyed. */
static void purge_size_query(struct itest_fx *fx, const struct itest_blob *b)
{
    CK_BYTE small[16];
    CK_ULONG vlen = 0, len = 0;
    CK_MECHANISM purge = { CKM_DEP11_POLICY_PURGE, NULL, 0 };

    assert_int_equal(X->DEP11_PurgePolicy(fx->s, b->p, b->len, NULL, &vlen), CKR_OK);
    assert_int_equal(std_purge(fx, fx->s, b, NULL, &len), CKR_OK);
    assert_int_equal(len, vlen);
    assert_int_equal(F->C_SignInit(fx->s, &purge, CK_INVALID_HANDLE), CKR_OPERATION_ACTIVE);
    assert_nothing_destroyed(fx);
    len = sizeof small;
    assert_int_equal(F->C_Sign(fx->s, b->p, b->len, small, &len), CKR_BUFFER_TOO_SMALL);
    assert_true(len > sizeof small && len <= vlen);
    assert_nothing_destroyed(fx);
    assert_int_equal(F->C_SignInit(fx->s, NULL, CK_INVALID_HANDLE), CKR_OK);
    assert_nothing_destroyed(fx);
}

static void test_flush_purge(void **state)
{
    struct itest_fx *fx = *state;
    CK_MECHANISM purge = { CKM_DEP11_POLICY_PURGE, NULL, 0 };
    struct itest_blob b = { 0 };
    CK_BYTE r1[RECEIPT_CAP], r2[RECEIPT_CAP], r3[RECEIPT_CAP];
    CK_ULONG l1 = sizeof r1, l2 = sizeof r2, l3 = sizeof r3, by = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    make_blob(fx, &b);
    assert_int_equal(itest_write_blob(fx->t, "std.blob", &b), 0);
    purge_refusals(fx, &b);
    flush_made_visible(fx, &b);
    purge_size_query(fx, &b);
    /* Multi-part purge: the blob in two updates. */
    assert_int_equal(F->C_SignInit(fx->s, &purge, CK_INVALID_HANDLE), CKR_OK);
    assert_int_equal(F->C_SignUpdate(fx->s, b.p, 100), CKR_OK);
    assert_int_equal(F->C_SignUpdate(fx->s, b.p + 100, b.len - 100), CKR_OK);
    assert_int_equal(F->C_SignFinal(fx->s, r1, &l1), CKR_OK);
    assert_true(l1 > 100 && r1[0] == '{');
    assert_int_equal(itest_spawn_unwrap(fx->t, "dep11-system.conf", "std.blob",
                                        DEP11_REQUESTER_SYSTEM, &rv, &by),
                     0);
    assert_int_equal(rv, CKR_DEP11_POLICY_PURGED);
    /* Re-issued, the same bytes, by either route. */
    assert_int_equal(X->DEP11_PurgePolicy(fx->s, b.p, b.len, r2, &l2), CKR_OK);
    assert_int_equal(std_purge(fx, fx->s, &b, r3, &l3), CKR_OK);
    assert_int_equal(l2, l1);
    assert_int_equal(l3, l1);
    assert_memory_equal(r2, r1, l1);
    assert_memory_equal(r3, r1, l1);
    itest_blob_free(&b);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, itest_setup, itest_teardown)
    const struct CMUnitTest tests[] = { T(test_mechs), T(test_info), T(test_flush_purge) };
#undef T
    return cmocka_run_group_tests_name("vendor functions through standard calls", tests,
                                       itest_group_setup, itest_group_teardown);
}
