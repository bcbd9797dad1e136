/*
 * test_selftest_module.c - the self-test error state through libdep11.so
 * (debug builds: DEP11_SELFTEST_FAIL): after a forced failure C_Initialize
 * succeeds but every call that needs the module, the dep11 mechanisms and
 * pass-through crypto included, answers CKR_GENERAL_ERROR; C_Finalize ends
 * the state and C_Initialize without the fault brings the module back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../integration/itest.h"

#define F (fx->t->f)

/* Every crypto entry point answers CKR_GENERAL_ERROR on session @s. */
static void assert_error_state(struct itest_fx *fx, CK_SESSION_HANDLE s, CK_SLOT_ID slot)
{
    CK_MECHANISM gen = { CKM_DEP11_KEY_GEN, NULL, 0 };
    CK_DEP11_AEAD_PARAMS ap = { NULL, 0 };
    CK_MECHANISM aead = { CKM_DEP11_AEAD, &ap, sizeof ap };
    CK_MECHANISM unwrap = { CKM_DEP11_POLICY_UNWRAP, NULL, 0 };
    CK_MECHANISM hmac = { CKM_SHA256_HMAC, NULL, 0 };
    CK_ULONG role = DEP11_ROLE_MAILBOX, len = 64;
    CK_ATTRIBUTE t = { CKA_DEP11_ROLE, &role, sizeof role };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_SESSION_HANDLE s2 = CK_INVALID_HANDLE;
    CK_BYTE buf[64] = { 0 };

    assert_int_equal(F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s2),
                     CKR_GENERAL_ERROR);
    assert_int_equal(F->C_GenerateKey(s, &gen, &t, 1, &h), CKR_GENERAL_ERROR);
    assert_int_equal(F->C_EncryptInit(s, &aead, h), CKR_GENERAL_ERROR);
    assert_int_equal(F->C_DecryptInit(s, &aead, h), CKR_GENERAL_ERROR);
    assert_int_equal(F->C_Encrypt(s, buf, 16, buf, &len), CKR_GENERAL_ERROR);
    assert_int_equal(F->C_Decrypt(s, buf, 44, buf, &len), CKR_GENERAL_ERROR);
    assert_int_equal(F->C_UnwrapKey(s, &unwrap, CK_INVALID_HANDLE, buf, sizeof buf,
                                    NULL, 0, &h), CKR_GENERAL_ERROR);
    assert_int_equal(F->C_WrapKey(s, &unwrap, fx->r1, h, NULL, &len), CKR_GENERAL_ERROR);
    assert_int_equal(F->C_DeriveKey(s, &unwrap, h, NULL, 0, &h), CKR_GENERAL_ERROR);
    assert_int_equal(F->C_SignInit(s, &hmac, h), CKR_GENERAL_ERROR);
    assert_int_equal(F->C_GenerateRandom(s, buf, sizeof buf), CKR_GENERAL_ERROR);
}

static void forced(void **state, const char *name)
{
    struct itest_fx *fx = *state;
    CK_SESSION_INFO si;
    CK_SESSION_HANDLE old = fx->s;
    CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;

    assert_int_equal(F->C_GetSessionInfo(old, &si), CKR_OK);
    /* Re-initialize with the fault: the state is entered at C_Initialize. */
    assert_int_equal(itest_finalize(fx->t), CKR_OK);
    setenv("DEP11_SELFTEST_FAIL", name, 1);
    assert_int_equal(itest_init(fx->t), CKR_OK);
    unsetenv("DEP11_SELFTEST_FAIL");
    assert_error_state(fx, old, si.slotID);
    /* Still in the error state without the variable: only re-init ends it. */
    assert_int_equal(F->C_OpenSession(si.slotID, CKF_SERIAL_SESSION, NULL, NULL, &old),
                     CKR_GENERAL_ERROR);
    assert_int_equal(itest_finalize(fx->t), CKR_OK);
    assert_int_equal(itest_init(fx->t), CKR_OK);
    assert_int_equal(itest_session(fx->t, "contoso", 1, &fx->s), CKR_OK);
    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_MAILBOX, 0, &k), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, k), CKR_OK);
}

static void test_gcm_seal(void **state) { forced(state, "gcm-seal"); }
static void test_gcm_open(void **state) { forced(state, "gcm-open"); }
static void test_kbkdf(void **state) { forced(state, "kbkdf"); }
static void test_sha256(void **state) { forced(state, "sha256"); }
static void test_rsa_oaep(void **state) { forced(state, "rsa-oaep"); }
static void test_random(void **state) { forced(state, "random"); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gcm_seal, itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_gcm_open, itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_kbkdf, itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_sha256, itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_rsa_oaep, itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_random, itest_setup, itest_teardown),
    };

#if !DEP11_DEBUG_BUILD
    printf("SKIP: DEP11_SELFTEST_FAIL works only in --enable-debug builds\n");
    return 77;
#endif
    return cmocka_run_group_tests(tests, itest_group_setup, itest_group_teardown);
}
