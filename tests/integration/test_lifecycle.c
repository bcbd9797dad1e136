/*
 * test_lifecycle.c - the key lifecycle of DESIGN section 6 through libdep11.so
 * and SoftHSM, one scenario per fresh world (test_lifecycle.sh):
 *   purge     refusal while a customer key unwraps, size query and short
 *             buffer destroy nothing, purge with a receipt (written to
 *             DIR/receipt.json for the verifier), repeated purge, PURGED for
 *             every requester in this and other processes, nothing recovers
 *   offboard  customer-managed -> provider-managed, children untouched
 *   onboard   provider-managed -> customer-managed; after revocation the kept
 *             provider blob is superseded, never served
 *   refresh   re-wrap under two new registered roots (root3, root4)
 *   roll      DEP11_WRAP_ROLL_AVAILABILITY: fresh availability key, the old
 *             one destroyed at the commit
 * The re-wrap scenarios are the replay cases of DESIGN section 5: the older
 * blob serves every requester until the new one is committed (its first
 * unwrap, in any process), then is CKR_DEP11_BLOB_SUPERSEDED for USER,
 * SYSTEM and RECOVERY, here and in other processes. Revocation is done with
 * pkcs11-tool on SoftHSM, the customer's own tool.
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
#define DEP11_RECEIPT_MAX_TEST 4096 /* the module's size-query answer */

static const CK_BYTE owner[16] = "mailbox-owner-01";
static const CK_BYTE plain[] = "mail that must become unreadable";

/* One policy with a mailbox child and data sealed under the child. */
struct world {
    CK_OBJECT_HANDLE pol;
    struct itest_blob blob, child, sealed;
};

static void world_free(struct world *w)
{
    itest_blob_free(&w->blob);
    itest_blob_free(&w->child);
    itest_blob_free(&w->sealed);
}

/* KEY_GEN(policy) -> POLICY_WRAP(r1, r2) -> KEY_GEN(mailbox) -> CHILD_WRAP ->
 * seal @plain; the blob goes to DIR/<file>. */
static void make_world(struct itest_fx *fx, struct world *w, const char *file)
{
    CK_OBJECT_HANDLE mbx = CK_INVALID_HANDLE;

    memset(w, 0, sizeof *w);
    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX,
                                  &w->pol), CKR_OK);
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, w->pol, fx->r1, fx->r2, 0, &w->blob),
                     CKR_OK);
    assert_int_equal(itest_write_blob(fx->t, file, &w->blob), 0);
    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_MAILBOX, 0, &mbx), CKR_OK);
    assert_int_equal(itest_child_wrap(fx->t, fx->s, w->pol, mbx, owner, &w->child), CKR_OK);
    assert_int_equal(itest_aead(fx->t, fx->s, 1, mbx, NULL, 0, plain, sizeof plain,
                                &w->sealed), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, mbx), CKR_OK);
}

/* A fresh decision: the cache must not answer for the HSM. */
static CK_RV unwrap(struct itest_fx *fx, const struct itest_blob *b, CK_ULONG requester,
                    CK_OBJECT_HANDLE *h, CK_ULONG *by)
{
    CK_RV rv = CKR_OK;

    assert_int_equal(X->DEP11_FlushCache(NULL), CKR_OK);
    rv = itest_policy_unwrap(fx->t, fx->s, b, requester, h);
    *by = 0;
    if (rv == CKR_OK)
        assert_int_equal(itest_get_ulong(fx->t, fx->s, *h, CKA_DEP11_UNWRAPPED_BY, by), CKR_OK);
    return rv;
}

/* The child of @w unwraps under policy key @pol and opens the sealed data. */
static void assert_child_reads(struct itest_fx *fx, const struct world *w,
                               CK_OBJECT_HANDLE pol)
{
    CK_OBJECT_HANDLE mbx = CK_INVALID_HANDLE;
    struct itest_blob out = { 0 };

    assert_int_equal(itest_child_unwrap(fx->t, fx->s, pol, &w->child, owner, &mbx), CKR_OK);
    assert_int_equal(itest_aead(fx->t, fx->s, 0, mbx, NULL, 0, w->sealed.p, w->sealed.len,
                                &out), CKR_OK);
    assert_int_equal(out.len, sizeof plain);
    assert_memory_equal(out.p, plain, sizeof plain);
    itest_blob_free(&out);
    assert_int_equal(F->C_DestroyObject(fx->s, mbx), CKR_OK);
}

/* Another process (itool) with DIR/<conf> unwraps DIR/<file> as @req. */
static CK_RV other_process(struct itest_fx *fx, const char *conf, const char *file,
                           CK_ULONG req, CK_ULONG *by)
{
    CK_RV rv = CKR_GENERAL_ERROR;

    assert_int_equal(itest_spawn_unwrap(fx->t, conf, file, req, &rv, by), 0);
    return rv;
}

static CK_RV purge(struct itest_fx *fx, CK_SESSION_HANDLE s, const struct itest_blob *b,
                   CK_BYTE *out, CK_ULONG *len)
{
    return X->DEP11_PurgePolicy(s, b->p, b->len, out, len);
}

static CK_ULONG info_version(struct itest_fx *fx, const struct itest_blob *b, CK_ULONG *managed)
{
    CK_DEP11_POLICY_INFO info;

    assert_int_equal(X->DEP11_GetPolicyInfo(b->p, b->len, &info), CKR_OK);
    if (managed != NULL)
        *managed = info.ulManagedBy;
    return info.ulVersion;
}

/* Registered root @label (made by test_lifecycle.sh) as a private handle. */
static CK_OBJECT_HANDLE root(struct itest_fx *fx, const char *label)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    assert_int_equal(itest_find(fx->t, fx->s, CKO_PRIVATE_KEY, label, &h), CKR_OK);
    return h;
}

/* ---- purge ---------------------------------------------------------------- */

/* Purges that must fail and destroy nothing: the availability key still
 * serves a SYSTEM unwrap in another process afterwards. */
static void assert_nothing_destroyed(struct itest_fx *fx, const char *file)
{
    CK_ULONG by = 0;

    assert_int_equal(other_process(fx, "dep11-system.conf", file, DEP11_REQUESTER_SYSTEM, &by),
                     CKR_OK);
    assert_int_equal(by, DEP11_ROOT_AVAILABILITY);
}

static void refused_while_customer_unwraps(struct itest_fx *fx, struct world *w)
{
    CK_BYTE buf[DEP11_RECEIPT_MAX_TEST];
    CK_ULONG len = sizeof buf, by = 0;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    assert_int_equal(purge(fx, fx->s, &w->blob, buf, &len), CKR_FUNCTION_REJECTED);
    len = 0;
    assert_int_equal(purge(fx, fx->s, &w->blob, NULL, &len), CKR_FUNCTION_REJECTED);
    assert_int_equal(itest_destroy_private(fx->t, fx->s, "root1"), CKR_OK);
    len = sizeof buf;
    assert_int_equal(purge(fx, fx->s, &w->blob, buf, &len), CKR_FUNCTION_REJECTED);
    /* Root 2 still serves: nothing was destroyed. Cache a USER answer too:
     * the purge must flush it. */
    assert_int_equal(unwrap(fx, &w->blob, DEP11_REQUESTER_USER, &h, &by), CKR_OK);
    assert_int_equal(by, DEP11_ROOT_CUSTOMER_2);
    assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, &w->blob, DEP11_REQUESTER_USER, &h),
                     CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
    assert_int_equal(itest_destroy_private(fx->t, fx->s, "root2"), CKR_OK);
}

/* Bad calls: wrong blob, wrong session, wrong token, provider-managed. */
static void refused_bad_calls(struct itest_fx *fx, struct world *w)
{
    CK_BYTE buf[DEP11_RECEIPT_MAX_TEST];
    CK_ULONG len = sizeof buf;
    CK_SESSION_HANDLE other = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE pol = CK_INVALID_HANDLE;
    struct itest_blob bad = { malloc(w->blob.len), w->blob.len }, prov = { 0 };

    assert_non_null(bad.p);
    memcpy(bad.p, w->blob.p, bad.len);
    bad.p[bad.len / 2] ^= 1;
    assert_int_equal(purge(fx, fx->s, &bad, buf, &len), CKR_WRAPPED_KEY_INVALID);
    assert_int_equal(X->DEP11_PurgePolicy(fx->s, w->blob.p, 7, buf, &len),
                     CKR_WRAPPED_KEY_INVALID);
    assert_int_equal(X->DEP11_PurgePolicy(fx->s, NULL, 0, buf, &len), CKR_ARGUMENTS_BAD);
    assert_int_equal(purge(fx, 0x7fff1234, &w->blob, buf, &len), CKR_SESSION_HANDLE_INVALID);
    /* A session of another token, logged in: not the policy's customer. */
    assert_int_equal(itest_session(fx->t, "fabrikam", 1, &other), CKR_OK);
    assert_int_equal(purge(fx, other, &w->blob, buf, &len), CKR_DEP11_TENANT_MISMATCH);
    assert_int_equal(F->C_Logout(other), CKR_OK);
    assert_int_equal(purge(fx, other, &w->blob, buf, &len), CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(F->C_CloseSession(other), CKR_OK);
    /* A provider-managed policy has no customer keys to revoke (a policy
     * of its own: w's fresh key wraps nothing once w's blob is committed). */
    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, &pol),
                     CKR_OK);
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, CK_INVALID_HANDLE,
                                       CK_INVALID_HANDLE, 0, &prov), CKR_OK);
    assert_int_equal(purge(fx, fx->s, &prov, buf, &len), CKR_FUNCTION_REJECTED);
    assert_int_equal(F->C_DestroyObject(fx->s, pol), CKR_OK);
    itest_blob_free(&prov);
    itest_blob_free(&bad);
}

/* Size query and a short buffer answer without destroying anything. */
static void size_query(struct itest_fx *fx, struct world *w)
{
    CK_BYTE small[16];
    CK_ULONG len = 0;

    assert_int_equal(purge(fx, fx->s, &w->blob, NULL, &len), CKR_OK);
    assert_true(len >= 512 && len <= DEP11_RECEIPT_MAX_TEST);
    assert_nothing_destroyed(fx, "purge.blob");
    len = sizeof small;
    assert_int_equal(purge(fx, fx->s, &w->blob, small, &len), CKR_BUFFER_TOO_SMALL);
    assert_true(len > sizeof small);
    assert_nothing_destroyed(fx, "purge.blob");
}

/* Every requester, here and in other processes, for blob file @file. */
static void assert_purged(struct itest_fx *fx, const struct itest_blob *b, const char *file)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG by = 0;

    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, b, DEP11_REQUESTER_USER, &h),
                     CKR_DEP11_POLICY_PURGED); /* no FlushCache: the purge flushed */
    assert_int_equal(unwrap(fx, b, DEP11_REQUESTER_USER, &h, &by), CKR_DEP11_POLICY_PURGED);
    assert_int_equal(unwrap(fx, b, DEP11_REQUESTER_SYSTEM, &h, &by), CKR_DEP11_POLICY_PURGED);
    assert_int_equal(unwrap(fx, b, DEP11_REQUESTER_RECOVERY, &h, &by), CKR_DEP11_POLICY_PURGED);
    assert_int_equal(other_process(fx, "dep11.conf", file, DEP11_REQUESTER_USER, &by),
                     CKR_DEP11_POLICY_PURGED);
    assert_int_equal(other_process(fx, "dep11-system.conf", file, DEP11_REQUESTER_SYSTEM, &by),
                     CKR_DEP11_POLICY_PURGED);
    assert_int_equal(other_process(fx, "dep11-system.conf", file, DEP11_REQUESTER_RECOVERY,
                                   &by), CKR_DEP11_POLICY_PURGED);
}

/* Every object left on the customer token, forced as the unwrapping root of
 * every blob of the policy: none unwraps it. */
static void assert_no_object_unwraps(struct itest_fx *fx, const struct itest_blob *b)
{
    CK_OBJECT_HANDLE objs[64], h = CK_INVALID_HANDLE;
    CK_ULONG n = 0, i = 0;
    CK_MECHANISM m = { CKM_DEP11_POLICY_UNWRAP, NULL, 0 };
    CK_RV rv = CKR_OK;

    assert_int_equal(F->C_FindObjectsInit(fx->s, NULL, 0), CKR_OK);
    assert_int_equal(F->C_FindObjects(fx->s, objs, 64, &n), CKR_OK);
    assert_int_equal(F->C_FindObjectsFinal(fx->s), CKR_OK);
    assert_true(n >= 4); /* public halves, registered twins, other keys */
    for (i = 0; i < n; i++) {
        rv = F->C_UnwrapKey(fx->s, &m, objs[i], b->p, b->len, NULL, 0, &h);
        assert_true(rv != CKR_OK);
    }
}

/* The remaining keys, every way we can think of, recover neither the
 * policy key nor the child. */
static void assert_unrecoverable(struct itest_fx *fx, struct world *w)
{
    CK_OBJECT_HANDLE other = CK_INVALID_HANDLE, h = CK_INVALID_HANDLE;
    struct itest_blob forged = { malloc(w->blob.len), w->blob.len }, prov = { 0 };
    CK_DEP11_POLICY_INFO info, purged;

    assert_int_equal(X->DEP11_GetPolicyInfo(w->blob.p, w->blob.len, &purged), CKR_OK);
    assert_no_object_unwraps(fx, &w->blob);
    /* A fresh policy key has a fresh id and cannot open the child. */
    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, &other),
                     CKR_OK);
    assert_int_equal(itest_child_unwrap(fx->t, fx->s, other, &w->child, owner, &h),
                     CKR_WRAPPED_KEY_INVALID);
    /* Provider-managed wrapping makes a blob of another policy id. */
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, other, CK_INVALID_HANDLE,
                                       CK_INVALID_HANDLE, 0, &prov), CKR_OK);
    assert_int_equal(X->DEP11_GetPolicyInfo(prov.p, prov.len, &info), CKR_OK);
    assert_memory_not_equal(info.policyId, purged.policyId, sizeof info.policyId);
    assert_int_equal(unwrap(fx, &prov, DEP11_REQUESTER_USER, &h, &(CK_ULONG){ 0 }), CKR_OK);
    assert_int_equal(itest_child_unwrap(fx->t, fx->s, h, &w->child, owner, &h),
                     CKR_WRAPPED_KEY_INVALID);
    /* The purged blob relabelled provider-managed fails its MAC. */
    assert_non_null(forged.p);
    memcpy(forged.p, w->blob.p, forged.len);
    for (CK_ULONG i = 0; i < forged.len; i++)
        if (forged.p[i] == DEP11_MANAGED_CUSTOMER) {
            forged.p[i] = DEP11_MANAGED_PROVIDER;
            assert_int_equal(unwrap(fx, &forged, DEP11_REQUESTER_USER, &h, &(CK_ULONG){ 0 }),
                             CKR_WRAPPED_KEY_INVALID);
            forged.p[i] = DEP11_MANAGED_CUSTOMER;
            break;
        }
    itest_blob_free(&forged);
    itest_blob_free(&prov);
}

static void test_purge(void **state)
{
    struct itest_fx *fx = *state;
    struct world w;
    struct itest_blob v2 = { 0 }, v3 = { 0 };
    CK_BYTE r1[DEP11_RECEIPT_MAX_TEST], r2[DEP11_RECEIPT_MAX_TEST];
    CK_ULONG len1 = sizeof r1, len2 = sizeof r2;
    char pem[1200], hex[33];
    FILE *fp = NULL;
    struct itest_blob out = { 0 };

    /* The PEM was written at C_Initialize (receipt-public-key). */
    fp = fopen(itest_path(fx->t, "receipt-public-key.pem", pem, sizeof pem), "r");
    assert_non_null(fp);
    fclose(fp);
    make_world(fx, &w, "purge.blob");
    /* Another blob of the same policy id (same roots): purged with it. */
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, w.pol, fx->r1, fx->r2, 0, &v2), CKR_OK);
    assert_int_equal(itest_write_blob(fx->t, "purge-v2.blob", &v2), 0);
    /* And one under roots that survive the purge (root3, root4): only the
     * tombstone, checked before any root is tried, stops it afterwards. */
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, w.pol, root(fx, "root3"),
                                       root(fx, "root4"), 0, &v3), CKR_OK);
    assert_int_equal(itest_write_blob(fx->t, "purge-v3.blob", &v3), 0);
    refused_while_customer_unwraps(fx, &w);
    refused_bad_calls(fx, &w);
    size_query(fx, &w);
    /* Held module-side keys die with their sessions; drop ours now. */
    assert_int_equal(F->C_DestroyObject(fx->s, w.pol), CKR_OK);
    assert_int_equal(purge(fx, fx->s, &w.blob, r1, &len1), CKR_OK);
    out.p = r1;
    out.len = len1;
    assert_int_equal(itest_write_blob(fx->t, "receipt.json", &out), 0);
    /* The receipt names the policy id GetPolicyInfo reports. */
    {
        CK_DEP11_POLICY_INFO info;
        char want[64];

        assert_int_equal(X->DEP11_GetPolicyInfo(w.blob.p, w.blob.len, &info), CKR_OK);
        for (int i = 0; i < 16; i++)
            snprintf(hex + 2 * i, 3, "%02x", info.policyId[i]);
        snprintf(want, sizeof want, "\"policy_id\":\"%s\"", hex);
        r1[len1 < sizeof r1 ? len1 : sizeof r1 - 1] = '\0';
        assert_non_null(strstr((char *)r1, want));
        assert_non_null(strstr((char *)r1, "\"fate\":\"destroyed\""));
        assert_non_null(strstr((char *)r1, "\"fate\":\"revoked-by-customer\""));
    }
    /* A repeated purge re-issues the very same receipt, for either blob. */
    assert_int_equal(purge(fx, fx->s, &w.blob, r2, &len2), CKR_OK);
    assert_int_equal(len2, len1);
    assert_memory_equal(r1, r2, len1);
    len2 = sizeof r2;
    assert_int_equal(purge(fx, fx->s, &v2, r2, &len2), CKR_OK);
    assert_memory_equal(r1, r2, len1);
    assert_purged(fx, &w.blob, "purge.blob");
    assert_purged(fx, &v2, "purge-v2.blob");
    assert_purged(fx, &v3, "purge-v3.blob");
    assert_unrecoverable(fx, &w);
    assert_no_object_unwraps(fx, &v3);
    itest_blob_free(&v3);
    itest_blob_free(&v2);
    world_free(&w);
}

/* ---- off-boarding, refresh, roll ------------------------------------------ */

/* ---- re-wraps and superseded blobs (DESIGN sections 5, 6) ------------------ */

/* The customer revokes root @label with its own tools (not through dep11). */
static void revoke(struct itest_fx *fx, const char *label)
{
    assert_int_equal(itest_revoke_direct(fx->t, "contoso", label), 0);
}

/* Availability keys of @b's policy on the provider token, counted with
 * pkcs11-tool directly on SoftHSM (dep11 hides that token). */
static int avail_keys(struct itest_fx *fx, const struct itest_blob *b)
{
    CK_DEP11_POLICY_INFO info;
    char pin[128], cmd[2048], line[512], want[64];
    const char *mod = getenv("SOFTHSM_MODULE");
    FILE *p = NULL;
    int n = 0, counted = 0;

    assert_int_equal(X->DEP11_GetPolicyInfo(b->p, b->len, &info), CKR_OK);
    n = snprintf(want, sizeof want, "dep11-avail-");
    for (int i = 0; i < 16; i++)
        n += snprintf(want + n, sizeof want - (size_t)n, "%02x", info.policyId[i]);
    assert_true(itest_read_file(fx->t, "provider.pin", pin, sizeof pin) > 0);
    /* AES keys, or the private halves of RSA pairs (availability-key = rsa). */
    snprintf(cmd, sizeof cmd,
             "ASAN_OPTIONS=detect_leaks=0 LD_PRELOAD= pkcs11-tool --module "
             "'%s' --token-label dep11-provider --login --pin '%s' -O 2>/dev/null",
             mod != NULL && mod[0] != '\0' ? mod : "/usr/lib/softhsm/libsofthsm2.so", pin);
    p = popen(cmd, "r");
    assert_non_null(p);
    n = 0;
    while (fgets(line, sizeof line, p) != NULL) {
        if (strstr(line, " Object") != NULL && line[0] != ' ')
            counted = strncmp(line, "Secret Key Object", 17) == 0 ||
                      strncmp(line, "Private Key Object", 18) == 0;
        n += counted && strstr(line, "label:") != NULL && strstr(line, want) != NULL;
    }
    assert_int_equal(pclose(p), 0);
    return n;
}

/* @file is superseded for every requester, here and in other processes. */
static void assert_superseded(struct itest_fx *fx, const struct itest_blob *b, const char *file)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG by = 0;

    assert_int_equal(unwrap(fx, b, DEP11_REQUESTER_USER, &h, &by), CKR_DEP11_BLOB_SUPERSEDED);
    assert_int_equal(other_process(fx, "dep11.conf", file, DEP11_REQUESTER_USER, &by),
                     CKR_DEP11_BLOB_SUPERSEDED);
    assert_int_equal(other_process(fx, "dep11-system.conf", file, DEP11_REQUESTER_SYSTEM, &by),
                     CKR_DEP11_BLOB_SUPERSEDED);
    assert_int_equal(other_process(fx, "dep11-system.conf", file, DEP11_REQUESTER_RECOVERY,
                                   &by), CKR_DEP11_BLOB_SUPERSEDED);
}

/* @file still serves every requester (other processes: nothing cached). */
static void assert_serves(struct itest_fx *fx, const char *file)
{
    CK_ULONG by = 0;

    assert_int_equal(other_process(fx, "dep11.conf", file, DEP11_REQUESTER_USER, &by), CKR_OK);
    assert_int_equal(other_process(fx, "dep11-system.conf", file, DEP11_REQUESTER_SYSTEM, &by),
                     CKR_OK);
    assert_int_equal(other_process(fx, "dep11-system.conf", file, DEP11_REQUESTER_RECOVERY,
                                   &by), CKR_OK);
}

/* Re-wraps the policy of @w (unwrapped here from v1) under @r1/@r2 (0, 0:
 * provider-managed) with @flags into DIR/v2.blob; the policy key of v1 in *@h. */
static void rewrap(struct itest_fx *fx, struct world *w, CK_OBJECT_HANDLE r1,
                   CK_OBJECT_HANDLE r2, CK_FLAGS flags, struct itest_blob *v2)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG by = 0;

    assert_int_equal(F->C_DestroyObject(fx->s, w->pol), CKR_OK);
    assert_int_equal(unwrap(fx, &w->blob, DEP11_REQUESTER_USER, &h, &by), CKR_OK);
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, h, r1, r2, flags, v2), CKR_OK);
    assert_int_equal(itest_write_blob(fx->t, "v2.blob", v2), 0);
    assert_int_equal(info_version(fx, v2, NULL), 2);
}

/* Off-boarding: customer v1 -> provider v2. */
static void test_offboard(void **state)
{
    struct itest_fx *fx = *state;
    struct world w;
    struct itest_blob prov = { 0 };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG by = 0, managed = 0, v = 0;
    CK_BYTE buf[DEP11_RECEIPT_MAX_TEST];
    CK_ULONG len = sizeof buf;

    make_world(fx, &w, "v1.blob");
    rewrap(fx, &w, CK_INVALID_HANDLE, CK_INVALID_HANDLE, 0, &prov);
    assert_int_equal(info_version(fx, &prov, &managed), 2);
    assert_int_equal(managed, DEP11_MANAGED_PROVIDER);
    /* Stored, not yet committed: v1 still serves everyone. */
    assert_serves(fx, "v1.blob");
    /* The first unwrap of v2 commits it; v1 is superseded. */
    assert_int_equal(unwrap(fx, &prov, DEP11_REQUESTER_USER, &h, &by), CKR_OK);
    assert_int_equal(by, DEP11_ROOT_PROVIDER);
    assert_superseded(fx, &w.blob, "v1.blob");
    /* The customer leaves: its keys go, the off-boarded policy serves. */
    revoke(fx, "root1");
    revoke(fx, "root2");
    assert_int_equal(unwrap(fx, &prov, DEP11_REQUESTER_USER, &h, &by), CKR_OK);
    assert_int_equal(by, DEP11_ROOT_PROVIDER);
    assert_int_equal(itest_get_ulong(fx->t, fx->s, h, CKA_DEP11_MANAGED_BY, &managed), CKR_OK);
    assert_int_equal(managed, DEP11_MANAGED_PROVIDER);
    assert_int_equal(itest_get_ulong(fx->t, fx->s, h, CKA_DEP11_POLICY_VERSION, &v), CKR_OK);
    assert_int_equal(v, 2);
    assert_child_reads(fx, &w, h);
    assert_int_equal(other_process(fx, "dep11.conf", "v2.blob", DEP11_REQUESTER_USER, &by),
                     CKR_OK);
    assert_int_equal(by, DEP11_ROOT_PROVIDER);
    /* The old customer blob is superseded, never "revoked"; the
     * provider-managed blob is never purged. */
    assert_superseded(fx, &w.blob, "v1.blob");
    assert_int_equal(purge(fx, fx->s, &prov, buf, &len), CKR_FUNCTION_REJECTED);
    itest_blob_free(&prov);
    world_free(&w);
}

/* Onboarding to customer keys: provider v1 -> customer v2; after the
 * customer revokes, the kept provider blob must not serve. */
static void test_onboard(void **state)
{
    struct itest_fx *fx = *state;
    struct world w;
    struct itest_blob v2 = { 0 };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE, mbx = CK_INVALID_HANDLE;
    CK_ULONG by = 0, managed = 0;

    memset(&w, 0, sizeof w);
    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX,
                                  &w.pol), CKR_OK);
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, w.pol, 0, 0, 0, &w.blob), CKR_OK);
    assert_int_equal(itest_write_blob(fx->t, "v1.blob", &w.blob), 0);
    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_MAILBOX, 0, &mbx), CKR_OK);
    assert_int_equal(itest_child_wrap(fx->t, fx->s, w.pol, mbx, owner, &w.child), CKR_OK);
    assert_int_equal(itest_aead(fx->t, fx->s, 1, mbx, NULL, 0, plain, sizeof plain, &w.sealed),
                     CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, mbx), CKR_OK);
    rewrap(fx, &w, fx->r1, fx->r2, 0, &v2);
    assert_int_equal(info_version(fx, &v2, &managed), 2);
    assert_int_equal(managed, DEP11_MANAGED_CUSTOMER);
    assert_serves(fx, "v1.blob");
    assert_int_equal(other_process(fx, "dep11-system.conf", "v2.blob", DEP11_REQUESTER_RECOVERY,
                                   &by), CKR_OK); /* the commit, in another process */
    assert_true(by == DEP11_ROOT_CUSTOMER_1 || by == DEP11_ROOT_CUSTOMER_2);
    assert_superseded(fx, &w.blob, "v1.blob");
    assert_int_equal(unwrap(fx, &v2, DEP11_REQUESTER_USER, &h, &by), CKR_OK);
    assert_child_reads(fx, &w, h);
    /* The customer revokes both keys: v2 is revoked for users, and the kept
     * provider-managed v1 is superseded: never served. */
    revoke(fx, "root1");
    revoke(fx, "root2");
    assert_int_equal(unwrap(fx, &v2, DEP11_REQUESTER_USER, &h, &by),
                     CKR_DEP11_ROOT_KEYS_REVOKED);
    assert_superseded(fx, &w.blob, "v1.blob");
    itest_blob_free(&v2);
    world_free(&w);
}

/* Refresh to new roots: customer v1 (root1, root2) -> v2 (root3, root4). */
static void test_refresh(void **state)
{
    struct itest_fx *fx = *state;
    struct world w;
    struct itest_blob v2 = { 0 };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG by = 0, v = 0;
    CK_BYTE buf[DEP11_RECEIPT_MAX_TEST];
    CK_ULONG len = sizeof buf;

    make_world(fx, &w, "v1.blob");
    rewrap(fx, &w, root(fx, "root3"), root(fx, "root4"), 0, &v2);
    assert_serves(fx, "v1.blob");
    assert_int_equal(unwrap(fx, &v2, DEP11_REQUESTER_USER, &h, &by), CKR_OK);
    assert_int_equal(itest_get_ulong(fx->t, fx->s, h, CKA_DEP11_POLICY_VERSION, &v), CKR_OK);
    assert_int_equal(v, 2);
    assert_child_reads(fx, &w, h);
    assert_superseded(fx, &w.blob, "v1.blob");
    /* The customer retires the old roots: v2 goes on, v1 stays superseded
     * (the old roots' revocation is never what answers). */
    revoke(fx, "root1");
    revoke(fx, "root2");
    /* v1's roots are all gone, but a purge presented with v1 proves nothing
     * about the committed v2: refused, nothing destroyed. */
    assert_int_equal(purge(fx, fx->s, &w.blob, buf, &len), CKR_DEP11_BLOB_SUPERSEDED);
    assert_int_equal(unwrap(fx, &v2, DEP11_REQUESTER_USER, &h, &by), CKR_OK);
    assert_true(by == DEP11_ROOT_CUSTOMER_1 || by == DEP11_ROOT_CUSTOMER_2);
    assert_child_reads(fx, &w, h);
    assert_int_equal(other_process(fx, "dep11.conf", "v2.blob", DEP11_REQUESTER_USER, &by),
                     CKR_OK);
    assert_superseded(fx, &w.blob, "v1.blob");
    /* The availability key is still there: with v2's roots revoked too, the
     * system is served by it. */
    revoke(fx, "root3");
    revoke(fx, "root4");
    assert_int_equal(other_process(fx, "dep11-system.conf", "v2.blob", DEP11_REQUESTER_SYSTEM,
                                   &by), CKR_OK);
    assert_int_equal(by, DEP11_ROOT_AVAILABILITY);
    itest_blob_free(&v2);
    world_free(&w);
}

/* No re-wrap undoes a revocation (the outside tester's attack): a policy
 * key held from before the customer turned CKA_DECRYPT off on both roots,
 * or destroyed them, neither off-boards nor rolls; the fresh key and a key
 * of an older version mint nothing once a newer blob is committed; and
 * the revoked policy can still be purged. */
static void test_revoked_rewrap(void **state)
{
    struct itest_fx *fx = *state;
    struct world w;
    struct itest_blob out = { 0 }, v2 = { 0 };
    CK_OBJECT_HANDLE h1 = CK_INVALID_HANDLE, h2 = CK_INVALID_HANDLE;
    CK_ULONG by = 0, len = DEP11_RECEIPT_MAX_TEST;
    CK_BYTE buf[DEP11_RECEIPT_MAX_TEST];

    make_world(fx, &w, "v1.blob");
    assert_int_equal(unwrap(fx, &w.blob, DEP11_REQUESTER_USER, &h1, &by), CKR_OK);
    /* the fresh key once v1 is committed: nothing */
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, w.pol, 0, 0, 0, &out),
                     CKR_DEP11_BLOB_SUPERSEDED);
    /* v1 -> v2 (availability roll) committed: the v1 key is stale */
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, h1, fx->r1, fx->r2,
                                       DEP11_WRAP_ROLL_AVAILABILITY, &v2), CKR_OK);
    assert_int_equal(itest_write_blob(fx->t, "v2.blob", &v2), 0);
    assert_int_equal(unwrap(fx, &v2, DEP11_REQUESTER_USER, &h2, &by), CKR_OK);
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, h1, 0, 0, 0, &out),
                     CKR_DEP11_BLOB_SUPERSEDED);
    /* CKA_DECRYPT off on both roots (the customer's own tools) */
    assert_int_equal(itest_customer(fx->t, "decrypt-off", "priv:root1", NULL), CKR_OK);
    assert_int_equal(itest_customer(fx->t, "decrypt-off", "priv:root2", NULL), CKR_OK);
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, h2, 0, 0, 0, &out),
                     CKR_DEP11_ROOT_KEYS_REVOKED);
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, h2, 0, 0, DEP11_WRAP_ROLL_AVAILABILITY,
                                       &out), CKR_DEP11_ROOT_KEYS_REVOKED);
    assert_int_equal(other_process(fx, "dep11.conf", "v1.blob", DEP11_REQUESTER_USER, &by),
                     CKR_DEP11_BLOB_SUPERSEDED);
    /* one root back on: the customer allows it again */
    assert_int_equal(itest_customer(fx->t, "decrypt-on", "priv:root2", NULL), CKR_OK);
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, h2, 0, 0, 0, &out), CKR_OK);
    itest_blob_free(&out);
    /* destroyed: no re-wrap, and the purge goes through */
    revoke(fx, "root1");
    revoke(fx, "root2");
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, h2, 0, 0, 0, &out),
                     CKR_DEP11_ROOT_KEYS_REVOKED);
    assert_int_equal(unwrap(fx, &v2, DEP11_REQUESTER_USER, &h1, &by), CKR_DEP11_ROOT_KEYS_REVOKED);
    assert_int_equal(purge(fx, fx->s, &v2, buf, &len), CKR_OK);
    assert_int_equal(other_process(fx, "dep11-system.conf", "v2.blob", DEP11_REQUESTER_SYSTEM,
                                   &by), CKR_DEP11_POLICY_PURGED);
    itest_blob_free(&v2);
    world_free(&w);
}

/* Availability roll: v1 (key A) -> v2 (key B); A goes at v2's commit. */
static void test_roll(void **state)
{
    struct itest_fx *fx = *state;
    struct world w;
    struct itest_blob v2 = { 0 };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG by = 0, v = 0;

    make_world(fx, &w, "v1.blob");
    rewrap(fx, &w, fx->r1, fx->r2, DEP11_WRAP_ROLL_AVAILABILITY, &v2);
    /* Stored, not committed: both keys exist, v1 serves everyone. */
    assert_int_equal(avail_keys(fx, &v2), 2);
    assert_serves(fx, "v1.blob");
    assert_int_equal(avail_keys(fx, &v2), 2);
    /* A SYSTEM unwrap of v2 in another process commits it. */
    assert_int_equal(other_process(fx, "dep11-system.conf", "v2.blob", DEP11_REQUESTER_SYSTEM,
                                   &by), CKR_OK);
    assert_int_equal(avail_keys(fx, &v2), 1);
    assert_superseded(fx, &w.blob, "v1.blob");
    assert_int_equal(unwrap(fx, &v2, DEP11_REQUESTER_USER, &h, &by), CKR_OK);
    assert_int_equal(itest_get_ulong(fx->t, fx->s, h, CKA_DEP11_POLICY_VERSION, &v), CKR_OK);
    assert_int_equal(v, 2);
    assert_child_reads(fx, &w, h);
    /* The roots go: v2's fresh key serves SYSTEM, users are refused, v1 is
     * superseded (not "purged"). */
    revoke(fx, "root1");
    revoke(fx, "root2");
    assert_int_equal(other_process(fx, "dep11-system.conf", "v2.blob", DEP11_REQUESTER_SYSTEM,
                                   &by), CKR_OK);
    assert_int_equal(by, DEP11_ROOT_AVAILABILITY);
    assert_int_equal(unwrap(fx, &v2, DEP11_REQUESTER_USER, &h, &by),
                     CKR_DEP11_ROOT_KEYS_REVOKED);
    assert_superseded(fx, &w.blob, "v1.blob");
    itest_blob_free(&v2);
    world_free(&w);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "purge";
#define T(fn) cmocka_unit_test_setup_teardown(fn, itest_setup, itest_teardown)
    const struct CMUnitTest purge_t[] = { T(test_purge) };
    const struct CMUnitTest offboard_t[] = { T(test_offboard) };
    const struct CMUnitTest refresh_t[] = { T(test_refresh) };
    const struct CMUnitTest roll_t[] = { T(test_roll) };
    const struct CMUnitTest onboard_t[] = { T(test_onboard) };
    const struct CMUnitTest revoked_t[] = { T(test_revoked_rewrap) };
#undef T
    if (strcmp(which, "purge") == 0)
        return cmocka_run_group_tests_name("lifecycle: purge", purge_t, itest_group_setup,
                                           itest_group_teardown);
    if (strcmp(which, "offboard") == 0)
        return cmocka_run_group_tests_name("lifecycle: off-boarding", offboard_t,
                                           itest_group_setup, itest_group_teardown);
    if (strcmp(which, "refresh") == 0)
        return cmocka_run_group_tests_name("lifecycle: refresh", refresh_t, itest_group_setup,
                                           itest_group_teardown);
    if (strcmp(which, "roll") == 0)
        return cmocka_run_group_tests_name("lifecycle: availability roll", roll_t,
                                           itest_group_setup, itest_group_teardown);
    if (strcmp(which, "onboard") == 0)
        return cmocka_run_group_tests_name("lifecycle: onboarding", onboard_t,
                                           itest_group_setup, itest_group_teardown);
    if (strcmp(which, "revoked-rewrap") == 0)
        return cmocka_run_group_tests_name("lifecycle: no re-wrap after revocation", revoked_t,
                                           itest_group_setup, itest_group_teardown);
    return 2;
}
