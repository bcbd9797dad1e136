/*
 * test_gcm_iv_hsm.c - the profile's gcm-iv = hsm end to end: dep11 over the
 * fault shim in its GCM IV mode (tests/faultshim/faultmod.c,
 * $DEP11_FAULT_GCM_IV=hsm: an HSM that ignores the caller's GCM IV, makes
 * its own and writes it into CK_GCM_PARAMS.pIv, as network HSMs in FIPS mode
 * do) over SoftHSM. The wrapper (test_gcm_iv_hsm.sh) writes three configs:
 *   dep11-hsm-iv.conf   profile: module = the shim, gcm-iv = hsm
 *   dep11-mod-iv.conf   profile: module = the shim, gcm-iv = module
 *   dep11-system.conf   the world's own: plain SoftHSM, gcm-iv = module,
 *                       SYSTEM requests allowed
 * and points $DEP11_FAULT_GCM_IV_LOG at a file where the shim lists each IV
 * it made. Every path that asks the HSM for GCM (the availability copy):
 *   - POLICY_WRAP seals it under the HSM's IV (the stored copy holds the IV
 *     the shim logged), an availability unwrap (both roots transient)
 *     opens it, and the key served opens the policy's child;
 *   - an availability roll seals a fresh copy (a new IV) that opens the same;
 *   - the blobs unwrap from the availability copy in another process on
 *     plain SoftHSM with gcm-iv = module (roots revoked, SYSTEM), and the
 *     purge after it makes every unwrap CKR_DEP11_POLICY_PURGED there too;
 *   - with gcm-iv = module over the IV-making shim, POLICY_WRAP and the roll
 *     are refused with CKR_GENERAL_ERROR rather than store a copy under an IV
 *     that is not dep11's; over the shim without its GCM mode they work.
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

static const CK_BYTE owner[16] = "gcm-iv-owner-001";

/* Per-test set-ups: the config named, then itest_setup's C_Initialize. */
static int setup_conf(void **state, const char *conf)
{
    struct itest_fx *fx = *state;
    char path[1200];

    if (setenv("DEP11_CONF", itest_path(fx->t, conf, path, sizeof path), 1) != 0)
        return -1;
    return itest_setup(state);
}

static int setup_hsm_iv(void **state)
{
    return setup_conf(state, "dep11-hsm-iv.conf");
}

static int setup_mod_iv(void **state)
{
    return setup_conf(state, "dep11-mod-iv.conf");
}

/* The shim's rules file (re-read on its every call). */
static void faults(struct itest_fx *fx, const char *text)
{
    const struct itest_blob b = { (CK_BYTE *)text, (CK_ULONG)strlen(text) };

    assert_int_equal(itest_write_blob(fx->t, "faults", &b), 0);
}

/* The last IV the shim made (from its log), as bytes; the count of lines. */
static int last_iv(struct itest_fx *fx, CK_BYTE iv[12])
{
    char path[1200], line[256], hex[25] = "";
    FILE *fp = fopen(itest_path(fx->t, "ivs", path, sizeof path), "r");
    int n = 0;

    assert_non_null(fp);
    while (fgets(line, sizeof line, fp) != NULL) {
        assert_int_equal(sscanf(line, "dep11-provider %24s", hex), 1);
        n++;
    }
    fclose(fp);
    for (int i = 0; n > 0 && i < 12; i++) {
        unsigned v = 0;

        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        iv[i] = (CK_BYTE)v;
    }
    return n;
}

/* Does @b hold @iv? (The availability copy is stored as IV || ct || tag.) */
static int holds(const struct itest_blob *b, const CK_BYTE iv[12])
{
    for (CK_ULONG i = 0; i + 12 <= b->len; i++)
        if (memcmp(b->p + i, iv, 12) == 0)
            return 1;
    return 0;
}

/* A POLICY_WRAP that sealed a copy under a new IV of the shim, stored. */
static void sealed_by_hsm(struct itest_fx *fx, int before, const struct itest_blob *b)
{
    CK_BYTE iv[12];

    assert_int_equal(last_iv(fx, iv), before + 1);
    assert_true(holds(b, iv));
}

/* Unwrap with both roots answering CKR_DEVICE_ERROR: the availability
 * copy serves; the key opens @child. */
static void avail_unwrap(struct itest_fx *fx, const struct itest_blob *b,
                         const struct itest_blob *child)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE, ch = CK_INVALID_HANDLE;
    CK_ULONG by = 0;

    assert_int_equal(X->DEP11_FlushCache(NULL), CKR_OK);
    faults(fx, "C_Decrypt rv=0x30 token=contoso\n");
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, b, 0, &h), CKR_OK);
    faults(fx, "");
    assert_int_equal(itest_get_ulong(fx->t, fx->s, h, CKA_DEP11_UNWRAPPED_BY, &by), CKR_OK);
    assert_int_equal(by, DEP11_ROOT_AVAILABILITY);
    assert_int_equal(itest_child_unwrap(fx->t, fx->s, h, child, owner, &ch), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, ch), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
}

/* An unwrap in another process on plain SoftHSM (dep11-system.conf). */
static CK_RV plain_unwrap(struct itest_fx *fx, const char *file, CK_ULONG *by)
{
    CK_RV rv = CKR_GENERAL_ERROR;

    assert_int_equal(
        itest_spawn_unwrap(fx->t, "dep11-system.conf", file, DEP11_REQUESTER_SYSTEM, &rv, by),
        0);
    return rv;
}

static void test_hsm_iv_end_to_end(void **state)
{
    struct itest_fx *fx = *state;
    struct itest_blob b1 = { 0 }, b2 = { 0 }, child = { 0 };
    CK_OBJECT_HANDLE pol = CK_INVALID_HANDLE, k = CK_INVALID_HANDLE, h = CK_INVALID_HANDLE;
    CK_BYTE iv1[12], receipt[4096];
    CK_ULONG by = 0, rlen = sizeof receipt;
    int n = 0;

    faults(fx, "");
    n = last_iv(fx, iv1);
    /* Create: the copy is sealed under the HSM's IV, and serves. */
    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, &pol),
                     CKR_OK);
    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_MAILBOX, 0, &k), CKR_OK);
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, fx->r1, fx->r2, 0, &b1), CKR_OK);
    sealed_by_hsm(fx, n, &b1);
    assert_int_equal(last_iv(fx, iv1), n + 1);
    assert_int_equal(itest_child_wrap(fx->t, fx->s, pol, k, owner, &child), CKR_OK);
    avail_unwrap(fx, &b1, &child);
    /* Roll (DESIGN section 6: unwrap, then wrap with the flag): a fresh
     * availability key, a fresh IV of the HSM's. */
    assert_int_equal(X->DEP11_FlushCache(NULL), CKR_OK);
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, &b1, 0, &h), CKR_OK);
    assert_int_equal(
        itest_policy_wrap(fx->t, fx->s, h, fx->r1, fx->r2, DEP11_WRAP_ROLL_AVAILABILITY, &b2),
        CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
    sealed_by_hsm(fx, n + 1, &b2);
    assert_false(holds(&b2, iv1));
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, &b2, 0, &h), CKR_OK); /* commits v2 */
    assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
    avail_unwrap(fx, &b2, &child);
    /* On plain SoftHSM with gcm-iv = module, roots revoked: the copy the
     * HSM sealed under its IV serves a SYSTEM request. */
    assert_int_equal(itest_write_blob(fx->t, "b1.blob", &b1), 0);
    assert_int_equal(itest_write_blob(fx->t, "b2.blob", &b2), 0);
    assert_int_equal(itest_destroy_private(fx->t, fx->s, "root1"), CKR_OK);
    assert_int_equal(itest_destroy_private(fx->t, fx->s, "root2"), CKR_OK);
    assert_int_equal(plain_unwrap(fx, "b2.blob", &by), CKR_OK);
    assert_int_equal(by, DEP11_ROOT_AVAILABILITY);
    assert_int_equal(plain_unwrap(fx, "b1.blob", &by), CKR_DEP11_BLOB_SUPERSEDED);
    /* Purge after the roll (the receipt signed through the shim). */
    assert_int_equal(X->DEP11_PurgePolicy(fx->s, b2.p, b2.len, receipt, &rlen), CKR_OK);
    assert_int_equal(plain_unwrap(fx, "b2.blob", &by), CKR_DEP11_POLICY_PURGED);
    assert_int_equal(X->DEP11_FlushCache(NULL), CKR_OK);
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, &b2, 0, &h), CKR_DEP11_POLICY_PURGED);
    assert_int_equal(last_iv(fx, iv1), n + 2); /* no seal after the roll */
    itest_blob_free(&b1);
    itest_blob_free(&b2);
    itest_blob_free(&child);
}

/* gcm-iv = module over an HSM that replaces the IV: refused, nothing
 * stored; the same profile over the shim without its GCM mode works. */
static void test_module_iv_refused(void **state)
{
    struct itest_fx *fx = *state;
    struct itest_blob b = { 0 }, b2 = { 0 };
    CK_OBJECT_HANDLE pol = CK_INVALID_HANDLE;

    faults(fx, "");
    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, &pol),
                     CKR_OK);
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, 0, 0, 0, &b), CKR_GENERAL_ERROR);
    assert_null(b.p);
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, fx->r1, fx->r2, 0, &b),
                     CKR_GENERAL_ERROR);
    assert_null(b.p);
    /* the control: an HSM that keeps dep11's IV */
    assert_int_equal(unsetenv("DEP11_FAULT_GCM_IV"), 0);
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, fx->r1, fx->r2, 0, &b), CKR_OK);
    assert_int_equal(setenv("DEP11_FAULT_GCM_IV", "hsm", 1), 0);
    /* ... and the roll over the IV-making HSM again: refused */
    assert_int_equal(
        itest_policy_wrap(fx->t, fx->s, pol, fx->r1, fx->r2, DEP11_WRAP_ROLL_AVAILABILITY, &b2),
        CKR_GENERAL_ERROR);
    assert_null(b2.p);
    itest_blob_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_module_iv_refused, setup_mod_iv, itest_teardown),
        cmocka_unit_test_setup_teardown(test_hsm_iv_end_to_end, setup_hsm_iv, itest_teardown),
    };

    return cmocka_run_group_tests(tests, itest_group_setup, itest_group_teardown);
}
