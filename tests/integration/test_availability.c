/*
 * test_availability.c - integration tests of the availability rows of DESIGN
 * section 5 that the foundation covers. Each scenario damages the customer's
 * roots, so the wrapper runs each in a fresh world:
 *   test_availability one          root1 destroyed: root2 serves
 *   test_availability both         both destroyed: USER revoked, SYSTEM (in a
 *                                  process allowed to ask) served by availability
 *   test_availability decrypt-off  CKA_DECRYPT off on both: counts as denied
 *   test_availability mixed        root1 destroyed, root2 decrypt off: denied
 * SYSTEM and RECOVERY requests from a process whose config does not allow
 * them are CKR_MECHANISM_PARAM_INVALID in every scenario.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "itest.h"

#define F (fx->t->f)

/* Makes a customer-managed MAILBOX policy; writes its blob to DIR/<file>. */
static void make_policy(struct itest_fx *fx, struct itest_blob *b, const char *file)
{
    CK_OBJECT_HANDLE pol = CK_INVALID_HANDLE;

    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, &pol),
                     CKR_OK);
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, fx->r1, fx->r2, 0, b), CKR_OK);
    assert_int_equal(itest_write_blob(fx->t, file, b), 0);
}

static CK_RV unwrap_by(struct itest_fx *fx, const struct itest_blob *b, CK_ULONG requester,
                       CK_ULONG *by)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = CKR_OK;

    /* A fresh decision every time: the cache must not hide a revocation. */
    assert_int_equal(fx->t->x->DEP11_FlushCache(NULL), CKR_OK);
    rv = itest_policy_unwrap(fx->t, fx->s, b, requester, &h);
    *by = 0;
    if (rv == CKR_OK)
        assert_int_equal(itest_get_ulong(fx->t, fx->s, h, CKA_DEP11_UNWRAPPED_BY, by), CKR_OK);
    return rv;
}

/* A user-facing process may not claim to be the system or a recovery. */
static void assert_no_system_here(struct itest_fx *fx, const struct itest_blob *b)
{
    CK_ULONG by = 0;

    assert_int_equal(unwrap_by(fx, b, DEP11_REQUESTER_SYSTEM, &by), CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(unwrap_by(fx, b, DEP11_REQUESTER_RECOVERY, &by),
                     CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(unwrap_by(fx, b, 99, &by), CKR_MECHANISM_PARAM_INVALID);
}

/* The customer turns CKA_DECRYPT of root @label (handle @h here) on or off
 * with its own tools (dep11 refuses it from a user session); this process
 * sees the change at once. */
static void set_decrypt(struct itest_fx *fx, CK_OBJECT_HANDLE h, CK_BBOOL v)
{
    CK_BBOOL got = !v;
    CK_ATTRIBUTE get = { CKA_DECRYPT, &got, sizeof got };
    const char *target = h == fx->r1 ? "priv:root1" : "priv:root2";

    assert_int_equal(itest_customer(fx->t, v ? "decrypt-on" : "decrypt-off", target, NULL),
                     CKR_OK);
    assert_int_equal(F->C_GetAttributeValue(fx->s, h, &get, 1), CKR_OK);
    assert_int_equal(got, v);
}

static void test_healthy(void **state)
{
    struct itest_fx *fx = *state;
    struct itest_blob b = { 0 };
    CK_ULONG by = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    make_policy(fx, &b, "healthy.blob");
    assert_int_equal(unwrap_by(fx, &b, DEP11_REQUESTER_USER, &by), CKR_OK);
    assert_true(by == DEP11_ROOT_CUSTOMER_1 || by == DEP11_ROOT_CUSTOMER_2);
    assert_no_system_here(fx, &b);
    /* A SYSTEM request where allowed, with customer keys that work, is
     * served by a customer key too. */
    assert_int_equal(itest_spawn_unwrap(fx->t, "dep11-system.conf", "healthy.blob",
                                        DEP11_REQUESTER_SYSTEM, &rv, &by), 0);
    assert_int_equal(rv, CKR_OK);
    assert_true(by == DEP11_ROOT_CUSTOMER_1 || by == DEP11_ROOT_CUSTOMER_2);
    itest_blob_free(&b);
}

static void test_one_destroyed(void **state)
{
    struct itest_fx *fx = *state;
    struct itest_blob b = { 0 };
    CK_ULONG by = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    make_policy(fx, &b, "one.blob");
    assert_int_equal(itest_destroy_private(fx->t, fx->s, "root1"), CKR_OK);
    /* Tried in random order: whichever comes first, root2 serves. */
    for (int i = 0; i < 6; i++) {
        assert_int_equal(unwrap_by(fx, &b, DEP11_REQUESTER_USER, &by), CKR_OK);
        assert_int_equal(by, DEP11_ROOT_CUSTOMER_2);
    }
    assert_int_equal(itest_spawn_unwrap(fx->t, "dep11.conf", "one.blob", DEP11_REQUESTER_USER,
                                        &rv, &by), 0);
    assert_int_equal(rv, CKR_OK);
    assert_int_equal(by, DEP11_ROOT_CUSTOMER_2);
    assert_no_system_here(fx, &b);
    itest_blob_free(&b);
}

/* Both customer keys deny: USER is revoked, SYSTEM (where allowed) is
 * served by the availability key, SYSTEM here is refused. */
static void assert_denied_rows(struct itest_fx *fx, const struct itest_blob *b,
                               const char *file)
{
    CK_ULONG by = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    assert_int_equal(unwrap_by(fx, b, DEP11_REQUESTER_USER, &by), CKR_DEP11_ROOT_KEYS_REVOKED);
    assert_int_equal(unwrap_by(fx, b, 0, &by), CKR_DEP11_ROOT_KEYS_REVOKED); /* NULL = USER */
    assert_no_system_here(fx, b);
    assert_int_equal(itest_spawn_unwrap(fx->t, "dep11-system.conf", file,
                                        DEP11_REQUESTER_SYSTEM, &rv, &by), 0);
    assert_int_equal(rv, CKR_OK);
    assert_int_equal(by, DEP11_ROOT_AVAILABILITY);
    assert_int_equal(itest_spawn_unwrap(fx->t, "dep11-system.conf", file,
                                        DEP11_REQUESTER_RECOVERY, &rv, &by), 0);
    assert_int_equal(rv, CKR_OK);
    assert_int_equal(by, DEP11_ROOT_AVAILABILITY);
    /* A worker's USER request is still a user's. */
    assert_int_equal(itest_spawn_unwrap(fx->t, "dep11-system.conf", file,
                                        DEP11_REQUESTER_USER, &rv, &by), 0);
    assert_int_equal(rv, CKR_DEP11_ROOT_KEYS_REVOKED);
    assert_int_equal(itest_spawn_unwrap(fx->t, "dep11.conf", file, DEP11_REQUESTER_SYSTEM,
                                        &rv, &by), 0);
    assert_int_equal(rv, CKR_MECHANISM_PARAM_INVALID);
}

static void test_both_destroyed(void **state)
{
    struct itest_fx *fx = *state;
    struct itest_blob b = { 0 };

    make_policy(fx, &b, "both.blob");
    assert_int_equal(itest_destroy_private(fx->t, fx->s, "root1"), CKR_OK);
    assert_int_equal(itest_destroy_private(fx->t, fx->s, "root2"), CKR_OK);
    assert_denied_rows(fx, &b, "both.blob");
    itest_blob_free(&b);
}

static void test_decrypt_off(void **state)
{
    struct itest_fx *fx = *state;
    struct itest_blob b = { 0 };
    CK_ULONG by = 0;

    make_policy(fx, &b, "off.blob");
    set_decrypt(fx, fx->r1, CK_FALSE);
    assert_int_equal(unwrap_by(fx, &b, DEP11_REQUESTER_USER, &by), CKR_OK);
    assert_int_equal(by, DEP11_ROOT_CUSTOMER_2);
    set_decrypt(fx, fx->r2, CK_FALSE);
    assert_denied_rows(fx, &b, "off.blob");
    /* The customer turns decrypt back on: the customer key serves again. */
    set_decrypt(fx, fx->r1, CK_TRUE);
    assert_int_equal(unwrap_by(fx, &b, DEP11_REQUESTER_USER, &by), CKR_OK);
    assert_int_equal(by, DEP11_ROOT_CUSTOMER_1);
    itest_blob_free(&b);
}

static void test_mixed_denials(void **state)
{
    struct itest_fx *fx = *state;
    struct itest_blob b = { 0 };

    make_policy(fx, &b, "mixed.blob");
    assert_int_equal(itest_destroy_private(fx->t, fx->s, "root1"), CKR_OK);
    set_decrypt(fx, fx->r2, CK_FALSE);
    assert_denied_rows(fx, &b, "mixed.blob");
    itest_blob_free(&b);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "one";
#define T(fn) cmocka_unit_test_setup_teardown(fn, itest_setup, itest_teardown)
    const struct CMUnitTest one[] = { T(test_healthy), T(test_one_destroyed) };
    const struct CMUnitTest both[] = { T(test_both_destroyed) };
    const struct CMUnitTest off[] = { T(test_decrypt_off) };
    const struct CMUnitTest mixed[] = { T(test_mixed_denials) };
#undef T
    if (strcmp(which, "one") == 0)
        return cmocka_run_group_tests_name("availability: one root destroyed", one,
                                           itest_group_setup, itest_group_teardown);
    if (strcmp(which, "both") == 0)
        return cmocka_run_group_tests_name("availability: both roots destroyed", both,
                                           itest_group_setup, itest_group_teardown);
    if (strcmp(which, "decrypt-off") == 0)
        return cmocka_run_group_tests_name("availability: CKA_DECRYPT off", off,
                                           itest_group_setup, itest_group_teardown);
    if (strcmp(which, "mixed") == 0)
        return cmocka_run_group_tests_name("availability: destroyed + decrypt off", mixed,
                                           itest_group_setup, itest_group_teardown);
    return 2;
}
