/*
 * test_fault.c - integration tests through the fault-injecting shim
 * (tests/tools/faultmod.c) that sits between dep11 and SoftHSM:
 *   test_fault handles    DEP11_FAULT_HANDLE_OFFSET=1: every backend handle
 *                         falls into dep11's reserved range; dep11 must
 *                         translate them and keep them apart from its own
 *   test_fault transient  $DEP11_FAULT_FILE makes C_Decrypt on contoso fail
 *                         with CKR_DEVICE_ERROR: both customer copies are
 *                         transient, the availability key serves a USER
 *                         request; once cleared, a customer key serves again
 * The wrapper points DEP11_CONF at a profile whose module is the shim.
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
#include "core/handle.h"

#define F (fx->t->f)

static CK_OBJECT_HANDLE gen(struct itest_fx *fx, CK_ULONG role, CK_ULONG ptype)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    assert_int_equal(itest_keygen(fx->t, fx->s, role, ptype, &h), CKR_OK);
    return h;
}

static void assert_label(struct itest_fx *fx, CK_OBJECT_HANDLE h, const char *want)
{
    char label[128];
    CK_ATTRIBUTE at = { CKA_LABEL, label, sizeof label };

    assert_int_equal(F->C_GetAttributeValue(fx->s, h, &at, 1), CKR_OK);
    assert_int_equal(at.ulValueLen, strlen(want));
    assert_memory_equal(label, want, at.ulValueLen);
}

static void test_handles_translated(void **state)
{
    struct itest_fx *fx = *state;
    CK_MECHANISM aesgen = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_BYTE iv[16] = { 0 }, pt[32], ct[64], back[64];
    CK_MECHANISM cbc = { CKM_AES_CBC_PAD, iv, sizeof iv };
    CK_ULONG vlen = 32, len = 0, n = 0, role = 0;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = { { CKA_VALUE_LEN, &vlen, sizeof vlen },
                            { CKA_ENCRYPT, &yes, sizeof yes },
                            { CKA_DECRYPT, &yes, sizeof yes },
                            { CKA_LABEL, (void *)"backend-aes", 11 } };
    CK_ATTRIBUTE by_label = { CKA_LABEL, (void *)"backend-aes", 11 };
    CK_OBJECT_HANDLE be = CK_INVALID_HANDLE, found = CK_INVALID_HANDLE, h[8];
    CK_OBJECT_HANDLE pol = CK_INVALID_HANDLE, mb = CK_INVALID_HANDLE, un = CK_INVALID_HANDLE;
    struct itest_blob b = { 0 }, cb = { 0 }, c = { 0 }, p = { 0 };
    static const CK_BYTE owner[16] = "translated-owner";

    /* Backend objects (roots found by label, a fresh AES key) and module ones. */
    assert_int_equal(F->C_GenerateKey(fx->s, &aesgen, tmpl, 4, &be), CKR_OK);
    pol = gen(fx, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX);
    mb = gen(fx, DEP11_ROLE_MAILBOX, 0);
    h[0] = fx->r1;
    h[1] = fx->r2;
    h[2] = be;
    h[3] = pol;
    h[4] = mb;
    for (int i = 0; i < 5; i++) {
        assert_true(h[i] != CK_INVALID_HANDLE);
        /* Backend handles arrive in the reserved range and get aliases
         * from it; module handles come from it. */
        assert_true(dep11_handle_in_range(h[i]));
        for (int j = i + 1; j < 5; j++)
            assert_true(h[i] != h[j]);
    }
    /* Each handle names its own object. */
    assert_label(fx, fx->r1, "root1");
    assert_label(fx, fx->r2, "root2");
    assert_label(fx, be, "backend-aes");
    assert_int_equal(itest_get_ulong(fx->t, fx->s, be, CKA_DEP11_ROLE, &role),
                     CKR_ATTRIBUTE_TYPE_INVALID);
    assert_int_equal(itest_get_ulong(fx->t, fx->s, pol, CKA_DEP11_ROLE, &role), CKR_OK);
    assert_int_equal(role, DEP11_ROLE_POLICY);
    assert_int_equal(itest_get_ulong(fx->t, fx->s, mb, CKA_DEP11_ROLE, &role), CKR_OK);
    assert_int_equal(role, DEP11_ROLE_MAILBOX);
    /* C_FindObjects gives back the handle C_GenerateKey gave. */
    assert_int_equal(F->C_FindObjectsInit(fx->s, &by_label, 1), CKR_OK);
    assert_int_equal(F->C_FindObjects(fx->s, &found, 1, &n), CKR_OK);
    assert_int_equal(F->C_FindObjectsFinal(fx->s), CKR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(found, be);
    /* A standard mechanism on the translated backend key works. */
    memset(pt, 0x42, sizeof pt);
    assert_int_equal(F->C_EncryptInit(fx->s, &cbc, be), CKR_OK);
    len = sizeof ct;
    assert_int_equal(F->C_Encrypt(fx->s, pt, sizeof pt, ct, &len), CKR_OK);
    assert_int_equal(F->C_DecryptInit(fx->s, &cbc, be), CKR_OK);
    n = sizeof back;
    assert_int_equal(F->C_Decrypt(fx->s, ct, len, back, &n), CKR_OK);
    assert_int_equal(n, sizeof pt);
    assert_memory_equal(back, pt, sizeof pt);
    /* The whole hierarchy works over translated root handles. */
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, fx->r1, fx->r2, 0, &b), CKR_OK);
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, &b, DEP11_REQUESTER_USER, &un), CKR_OK);
    assert_int_equal(itest_child_wrap(fx->t, fx->s, un, mb, owner, &cb), CKR_OK);
    assert_int_equal(itest_child_unwrap(fx->t, fx->s, pol, &cb, owner, &h[5]), CKR_OK);
    assert_int_equal(itest_aead(fx->t, fx->s, 1, mb, NULL, 0, pt, sizeof pt, &c), CKR_OK);
    assert_int_equal(itest_aead(fx->t, fx->s, 0, h[5], NULL, 0, c.p, c.len, &p), CKR_OK);
    assert_memory_equal(p.p, pt, sizeof pt);
    /* Destroying the backend key leaves the module keys alone, and back. */
    assert_int_equal(F->C_DestroyObject(fx->s, be), CKR_OK);
    assert_int_equal(F->C_GetAttributeValue(fx->s, be, &by_label, 0), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(itest_get_ulong(fx->t, fx->s, mb, CKA_DEP11_ROLE, &role), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, mb), CKR_OK);
    assert_label(fx, fx->r1, "root1");
    itest_blob_free(&b);
    itest_blob_free(&cb);
    itest_blob_free(&c);
    itest_blob_free(&p);
}

/* Checks the shim is really below: a backend handle is in dep11's range. */
static void test_shim_is_active(void **state)
{
    struct itest_fx *fx = *state;
    const char *off = getenv("DEP11_FAULT_HANDLE_OFFSET");

    (void)fx;
    assert_non_null(off);
    assert_string_equal(off, "1");
    assert_non_null(getenv("DEP11_FAULT_MODULE"));
}

static void write_faults(struct itest_fx *fx, const char *text)
{
    char path[1200];
    FILE *fp = fopen(itest_path(fx->t, "faults", path, sizeof path), "w");

    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

static CK_RV unwrap_by(struct itest_fx *fx, const struct itest_blob *b, CK_ULONG *by)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = CKR_OK;

    assert_int_equal(fx->t->x->DEP11_FlushCache(NULL), CKR_OK);
    rv = itest_policy_unwrap(fx->t, fx->s, b, DEP11_REQUESTER_USER, &h);
    *by = 0;
    if (rv == CKR_OK)
        assert_int_equal(itest_get_ulong(fx->t, fx->s, h, CKA_DEP11_UNWRAPPED_BY, by), CKR_OK);
    return rv;
}

static void test_transient_served_by_availability(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE pol = gen(fx, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX);
    struct itest_blob b = { 0 };
    CK_ULONG by = 0;

    write_faults(fx, "");
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, fx->r1, fx->r2, 0, &b), CKR_OK);
    assert_int_equal(unwrap_by(fx, &b, &by), CKR_OK);
    assert_true(by == DEP11_ROOT_CUSTOMER_1 || by == DEP11_ROOT_CUSTOMER_2);
    /* The customer's HSM answers CKR_DEVICE_ERROR to every decrypt. */
    write_faults(fx, "# both customer copies transient\nC_Decrypt rv=0x30 token=contoso\n"
                     "C_UnwrapKey rv=0x30 token=contoso\n");
    assert_int_equal(unwrap_by(fx, &b, &by), CKR_OK);
    assert_int_equal(by, DEP11_ROOT_AVAILABILITY);
    /* Healed: a customer key serves again. */
    write_faults(fx, "");
    assert_int_equal(unwrap_by(fx, &b, &by), CKR_OK);
    assert_true(by == DEP11_ROOT_CUSTOMER_1 || by == DEP11_ROOT_CUSTOMER_2);
    itest_blob_free(&b);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "handles";
#define T(fn) cmocka_unit_test_setup_teardown(fn, itest_setup, itest_teardown)
    const struct CMUnitTest handles[] = { T(test_shim_is_active), T(test_handles_translated) };
    const struct CMUnitTest transient[] = { T(test_transient_served_by_availability) };
#undef T
    if (strcmp(which, "handles") == 0)
        return cmocka_run_group_tests_name("fault shim: handle translation", handles,
                                           itest_group_setup, itest_group_teardown);
    if (strcmp(which, "transient") == 0)
        return cmocka_run_group_tests_name("fault shim: transient customer keys", transient,
                                           itest_group_setup, itest_group_teardown);
    return 2;
}
