/*
 * test_roots.c - integration tests of the customer root rules: registered
 * roots only (unless trusted-roots = any), never an extractable one, and no
 * private-key operation on a registered root through the pass-through; a
 * user session can neither destroy, modify nor copy a registered root's
 * private key, public key or registered twin (CKR_ACTION_PROHIBITED,
 * checked against SoftHSM directly), the SO can.
 * Run with DEP11_CONF=dep11.conf (argument "require", the default) and
 * again with DEP11_CONF=dep11-any.conf (argument "any").
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

struct roots_fx {
    struct itest_fx base; /* first: the itest fixtures see a struct itest_fx */
    int any;              /* DEP11_CONF is dep11-any.conf */
};

static CK_OBJECT_HANDLE priv(struct itest_fx *fx, const char *label)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    assert_int_equal(itest_find(fx->t, fx->s, CKO_PRIVATE_KEY, label, &h), CKR_OK);
    return h;
}

static CK_OBJECT_HANDLE policy(struct itest_fx *fx)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_POLICY, 1, &h), CKR_OK);
    return h;
}

static void test_extractable_root_refused(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE ext = priv(fx, "extractable"), pol = policy(fx);
    CK_BBOOL e = CK_FALSE;
    CK_ATTRIBUTE at = { CKA_EXTRACTABLE, &e, sizeof e };
    struct itest_blob b = { 0 };

    /* The set-up made it extractable (pkcs11-tool --extractable). */
    assert_int_equal(F->C_GetAttributeValue(fx->s, ext, &at, 1), CKR_OK);
    assert_int_equal(e, CK_TRUE);
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, ext, fx->r2, 0, &b),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, fx->r1, ext, 0, &b),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    itest_blob_free(&b);
}

static void test_unregistered_root(void **state)
{
    struct roots_fx *rf = *state;
    struct itest_fx *fx = &rf->base;
    CK_OBJECT_HANDLE un = priv(fx, "unregistered"), pol = policy(fx), h = 0;
    struct itest_blob b = { 0 };
    CK_RV rv = itest_policy_wrap(fx->t, fx->s, pol, un, fx->r2, 0, &b);

    if (!rf->any) {
        assert_int_equal(rv, CKR_KEY_FUNCTION_NOT_PERMITTED);
        itest_blob_free(&b);
        assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, fx->r1, un, 0, &b),
                         CKR_KEY_FUNCTION_NOT_PERMITTED);
    } else {
        /* trusted-roots = any: accepted, and the blob unwraps. */
        assert_int_equal(rv, CKR_OK);
        assert_int_equal(itest_policy_unwrap(fx->t, fx->s, &b, DEP11_REQUESTER_USER, &h),
                         CKR_OK);
    }
    itest_blob_free(&b);
}

/* Encrypts 32 bytes to @pub with RSA-OAEP(SHA-1) through the pass-through. */
static CK_ULONG oaep_encrypt(struct itest_fx *fx, CK_OBJECT_HANDLE pub, CK_BYTE *ct)
{
    CK_RSA_PKCS_OAEP_PARAMS op = { CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0 };
    CK_MECHANISM m = { CKM_RSA_PKCS_OAEP, &op, sizeof op };
    CK_BYTE pt[32];
    CK_ULONG len = 512;

    memset(pt, 0x5c, sizeof pt);
    assert_int_equal(F->C_EncryptInit(fx->s, &m, pub), CKR_OK);
    assert_int_equal(F->C_Encrypt(fx->s, pt, sizeof pt, ct, &len), CKR_OK);
    return len;
}

static void test_registered_root_no_passthrough(void **state)
{
    struct itest_fx *fx = *state;
    CK_RSA_PKCS_OAEP_PARAMS op = { CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0 };
    CK_MECHANISM oaep = { CKM_RSA_PKCS_OAEP, &op, sizeof op };
    CK_MECHANISM sign = { CKM_SHA256_RSA_PKCS, NULL, 0 };
    CK_MECHANISM raw = { CKM_RSA_X_509, NULL, 0 };
    CK_MECHANISM pkcs = { CKM_RSA_PKCS, NULL, 0 };
    CK_BYTE data[32] = { 0 };
    CK_KEY_DERIVATION_STRING_DATA kd = { data, sizeof data };
    CK_MECHANISM derive = { CKM_AES_ECB_ENCRYPT_DATA, &kd, sizeof kd };
    CK_OBJECT_CLASS sk = CKO_SECRET_KEY;
    CK_KEY_TYPE aes = CKK_AES;
    CK_ULONG vlen = 32;
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &sk, sizeof sk },
                            { CKA_KEY_TYPE, &aes, sizeof aes },
                            { CKA_VALUE_LEN, &vlen, sizeof vlen } };
    CK_OBJECT_HANDLE roots[2] = { fx->r1, fx->r2 }, h = 0, pub = 0;
    CK_BYTE ct[512], out[512];
    CK_ULONG ctlen = 0, len = 0;

    for (int i = 0; i < 2; i++) {
        CK_OBJECT_HANDLE r = roots[i];
        assert_int_equal(itest_find(fx->t, fx->s, CKO_PUBLIC_KEY, i ? "root2" : "root1", &pub),
                         CKR_OK);
        ctlen = oaep_encrypt(fx, pub, ct);
        assert_int_equal(F->C_DecryptInit(fx->s, &oaep, r), CKR_KEY_FUNCTION_NOT_PERMITTED);
        assert_int_equal(F->C_DecryptInit(fx->s, &raw, r), CKR_KEY_FUNCTION_NOT_PERMITTED);
        assert_int_equal(F->C_UnwrapKey(fx->s, &oaep, r, ct, ctlen, tmpl, 3, &h),
                         CKR_KEY_FUNCTION_NOT_PERMITTED);
        assert_int_equal(F->C_SignInit(fx->s, &sign, r), CKR_KEY_FUNCTION_NOT_PERMITTED);
        assert_int_equal(F->C_SignInit(fx->s, &raw, r), CKR_KEY_FUNCTION_NOT_PERMITTED);
        assert_int_equal(F->C_SignRecoverInit(fx->s, &pkcs, r), CKR_KEY_FUNCTION_NOT_PERMITTED);
        assert_int_equal(F->C_DeriveKey(fx->s, &derive, r, tmpl, 3, &h),
                         CKR_KEY_FUNCTION_NOT_PERMITTED);
    }
    /* Control: an unregistered key still works through the pass-through. */
    {
        CK_OBJECT_HANDLE un = priv(fx, "unregistered");
        assert_int_equal(itest_find(fx->t, fx->s, CKO_PUBLIC_KEY, "unregistered", &pub), CKR_OK);
        ctlen = oaep_encrypt(fx, pub, ct);
        assert_int_equal(F->C_DecryptInit(fx->s, &oaep, un), CKR_OK);
        len = sizeof out;
        assert_int_equal(F->C_Decrypt(fx->s, ct, ctlen, out, &len), CKR_OK);
        assert_int_equal(len, 32);
        assert_int_equal(out[0], 0x5c);
        assert_int_equal(F->C_SignInit(fx->s, &sign, un), CKR_OK);
        len = sizeof out;
        assert_int_equal(F->C_Sign(fx->s, data, sizeof data, out, &len), CKR_OK);
        assert_int_equal(len, 256);
    }
}

/* The registered twin of @label ("<label>.registered", CKA_TRUSTED) found
 * through dep11 (a handle handed out like any other). */
static CK_OBJECT_HANDLE twin(struct itest_fx *fx, const char *label)
{
    char name[64];
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE t[3] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_LABEL, name, 0 },
                          { CKA_TRUSTED, &yes, sizeof yes } };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG n = 0;

    snprintf(name, sizeof name, "%s.registered", label);
    t[1].ulValueLen = strlen(name);
    assert_int_equal(F->C_FindObjectsInit(fx->s, t, 3), CKR_OK);
    assert_int_equal(F->C_FindObjects(fx->s, &h, 1, &n), CKR_OK);
    assert_int_equal(F->C_FindObjectsFinal(fx->s), CKR_OK);
    assert_int_equal(n, 1);
    return h;
}

/* SoftHSM's own view (another process, not through dep11): the root's
 * three objects exist once each and its private key still decrypts. */
static void root_intact(struct itest_fx *fx, const char *label)
{
    static const char *const kinds[] = { "priv", "pub", "twin" };
    char target[64];
    CK_ULONG by = 0;

    for (int k = 0; k < 3; k++) {
        snprintf(target, sizeof target, "%s:%s", kinds[k], label);
        assert_int_equal(itest_customer(fx->t, "count", target, &by), CKR_OK);
        assert_int_equal(by, 1);
    }
    snprintf(target, sizeof target, "priv:%s", label);
    assert_int_equal(itest_customer(fx->t, "decrypt", target, &by), CKR_OK);
    assert_int_equal(by, CK_TRUE);
}

static void test_roots_are_the_customers(void **state)
{
    struct itest_fx *fx = *state;
    static const char *const labels[] = { "root1", "root2" };
    CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
    CK_ATTRIBUTE off = { CKA_DECRYPT, &no, sizeof no };
    CK_ATTRIBUTE relabel = { CKA_LABEL, "mine", 4 };
    CK_ATTRIBUTE on = { CKA_DECRYPT, &yes, sizeof yes };
    CK_OBJECT_HANDLE pol = policy(fx), h = 0, copy = 0, pub = 0, upriv = 0;
    CK_MECHANISM kpg = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
    CK_ULONG bits = 2048;
    CK_ATTRIBUTE pt[] = { { CKA_MODULUS_BITS, &bits, sizeof bits }, { CKA_TOKEN, &no, 1 } };
    CK_ATTRIBUTE vt[] = { { CKA_TOKEN, &no, 1 }, { CKA_DECRYPT, &yes, 1 } };
    struct itest_blob b = { 0 };

    for (int i = 0; i < 2; i++) {
        CK_OBJECT_HANDLE objs[3] = { priv(fx, labels[i]), 0, twin(fx, labels[i]) };

        assert_int_equal(itest_find(fx->t, fx->s, CKO_PUBLIC_KEY, labels[i], &objs[1]), CKR_OK);
        for (int k = 0; k < 3; k++) {
            assert_int_equal(F->C_DestroyObject(fx->s, objs[k]), CKR_ACTION_PROHIBITED);
            assert_int_equal(F->C_SetAttributeValue(fx->s, objs[k], &off, 1),
                             CKR_ACTION_PROHIBITED);
            assert_int_equal(F->C_SetAttributeValue(fx->s, objs[k], &relabel, 1),
                             CKR_ACTION_PROHIBITED);
            assert_int_equal(F->C_CopyObject(fx->s, objs[k], &on, 1, &copy),
                             CKR_ACTION_PROHIBITED);
        }
        root_intact(fx, labels[i]);
    }
    /* Still roots: a policy wraps under them and unwraps. */
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, fx->r1, fx->r2, 0, &b), CKR_OK);
    assert_int_equal(fx->t->x->DEP11_FlushCache(NULL), CKR_OK);
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, &b, DEP11_REQUESTER_USER, &h), CKR_OK);
    itest_blob_free(&b);
    /* Keys that are no root: the user's own pair goes; the unregistered key
     * may be changed. */
    assert_int_equal(F->C_GenerateKeyPair(fx->s, &kpg, pt, 2, vt, 2, &pub, &upriv), CKR_OK);
    assert_int_equal(F->C_SetAttributeValue(fx->s, upriv, &off, 1), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, upriv), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, pub), CKR_OK);
    assert_int_equal(F->C_SetAttributeValue(fx->s, priv(fx, "unregistered"), &on, 1), CKR_OK);
}

/* The customer's key officer is not a user session: its changes pass
 * (unregistering is the customer's act). */
static void test_so_may_change_roots(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE t1 = twin(fx, "root1"), extra = CK_INVALID_HANDLE;
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_BYTE mod[512], exp[8];
    CK_ATTRIBUTE get[] = { { CKA_MODULUS, mod, sizeof mod },
                           { CKA_PUBLIC_EXPONENT, exp, sizeof exp } };
    CK_ATTRIBUTE same = { CKA_LABEL, "root1.registered", 16 };
    char so[32];
    CK_ULONG by = 0;

    assert_int_equal(F->C_GetAttributeValue(fx->s, t1, get, 2), CKR_OK);
    assert_true(itest_read_file(fx->t, "so.pin", so, sizeof so) > 0);
    assert_int_equal(F->C_Logout(fx->s), CKR_OK);
    assert_int_equal(F->C_Login(fx->s, CKU_SO, (CK_UTF8CHAR_PTR)so, strlen(so)), CKR_OK);
    assert_int_equal(F->C_SetAttributeValue(fx->s, t1, &same, 1), CKR_OK);
    {
        CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_KEY_TYPE, &kt, sizeof kt },
                             { CKA_TOKEN, &yes, 1 }, { CKA_PRIVATE, &no, 1 },
                             { CKA_TRUSTED, &yes, 1 }, { CKA_LABEL, "root1.extra", 11 },
                             { CKA_MODULUS, mod, get[0].ulValueLen },
                             { CKA_PUBLIC_EXPONENT, exp, get[1].ulValueLen } };
        assert_int_equal(F->C_CreateObject(fx->s, t, 8, &extra), CKR_OK);
    }
    assert_int_equal(F->C_DestroyObject(fx->s, extra), CKR_OK);
    assert_int_equal(F->C_Logout(fx->s), CKR_OK);
    assert_int_equal(itest_customer(fx->t, "count", "twin:root1", &by), CKR_OK);
    assert_int_equal(by, 1);
}

static int group_setup(void **state, int any)
{
    struct roots_fx *rf = calloc(1, sizeof *rf);

    if (rf == NULL)
        return -1;
    rf->base.t = itest_open();
    if (rf->base.t == NULL) {
        free(rf);
        return -1;
    }
    rf->any = any;
    *state = rf;
    return 0;
}

static int setup_require(void **state)
{
    return group_setup(state, 0);
}

static int setup_any(void **state)
{
    return group_setup(state, 1);
}

int main(int argc, char **argv)
{
    int any = argc > 1 && strcmp(argv[1], "any") == 0;
#define T(fn) cmocka_unit_test_setup_teardown(fn, itest_setup, itest_teardown)
    const struct CMUnitTest tests[] = {
        T(test_extractable_root_refused),
        T(test_unregistered_root),
        T(test_registered_root_no_passthrough),
        T(test_roots_are_the_customers),
        T(test_so_may_change_roots),
    };
#undef T
    return cmocka_run_group_tests_name(any ? "roots (trusted-roots = any)" : "roots", tests,
                                       any ? setup_any : setup_require, itest_group_teardown);
}
