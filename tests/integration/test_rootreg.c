/*
 * test_rootreg.c - root registration by SO login (profile
 * "root-registration = so-login"; docs/SECURITY.md): dep11 logs the token's
 * SO in on a session of its own and records (token identity, root identity)
 * on its provider token. Run by test_rootreg.sh in phases (argv[1]):
 *   first        twins do not count; a wrong or empty SO PIN, a user login of
 *                this process and a read-only session register nothing;
 *                forged records on the customer token do not count;
 *                registration by DEP11_RegisterRoot and by CKM_DEP11_ROOT_REGISTER
 *                (digest), then wrap and unwrap; protection against destroy
 *                and modify; a registration on contoso does not count for
 *                the same key imported on fabrikam; unregister (mechanism 13)
 *                then wrap refused, register again; a purge needs a root
 *                registered by record
 *   unregistered root2 was unregistered by dep11-tool in another process:
 *                refused, modifiable; root1 still registered and protected
 *   registered   root2 registered again by dep11-tool: wrap and unwrap work
 * The root identity is computed here with OpenSSL, independently of dep11.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "itest.h"

#define F (fx->t->f)
#define X (fx->t->x)

/* SHA-256 of the DER SubjectPublicKeyInfo of public key object @h. */
static void identity_of(struct itest_fx *fx, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                        CK_BYTE id[DEP11_ROOT_ID_LEN])
{
    CK_BYTE mod[512], exp[16];
    CK_ATTRIBUTE a[] = { { CKA_MODULUS, mod, sizeof mod },
                         { CKA_PUBLIC_EXPONENT, exp, sizeof exp } };
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *p = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *k = NULL;
    BIGNUM *n = NULL, *e = NULL;
    unsigned char *der = NULL;
    unsigned int dl = 0;
    int len = 0;

    assert_int_equal(F->C_GetAttributeValue(s, h, a, 2), CKR_OK);
    n = BN_bin2bn(mod, (int)a[0].ulValueLen, NULL);
    e = BN_bin2bn(exp, (int)a[1].ulValueLen, NULL);
    assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n));
    assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e));
    p = OSSL_PARAM_BLD_to_param(bld);
    assert_true(EVP_PKEY_fromdata_init(ctx) > 0);
    assert_true(EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, p) > 0);
    len = i2d_PUBKEY(k, &der);
    assert_true(len > 0);
    assert_true(EVP_Digest(der, (size_t)len, id, &dl, EVP_sha256(), NULL));
    OPENSSL_free(der);
    EVP_PKEY_free(k);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(p);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
}

static void identity(struct itest_fx *fx, CK_SESSION_HANDLE s, const char *label,
                     CK_BYTE id[DEP11_ROOT_ID_LEN])
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    assert_int_equal(itest_find(fx->t, s, CKO_PUBLIC_KEY, label, &h), CKR_OK);
    identity_of(fx, s, h, id);
}

static CK_OBJECT_HANDLE priv(struct itest_fx *fx, CK_SESSION_HANDLE s, const char *label)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    assert_int_equal(itest_find(fx->t, s, CKO_PRIVATE_KEY, label, &h), CKR_OK);
    return h;
}

/* POLICY_WRAP of a fresh policy key under the roots labelled @a and @b on
 * logged-in session @s; with @unwrap, the blob must unwrap again. */
static CK_RV wrap(struct itest_fx *fx, CK_SESSION_HANDLE s, const char *a, const char *b,
                  int unwrap)
{
    CK_OBJECT_HANDLE pol = CK_INVALID_HANDLE, back = CK_INVALID_HANDLE;
    struct itest_blob blob = { 0 };
    CK_RV rv = CKR_GENERAL_ERROR;

    assert_int_equal(itest_keygen(fx->t, s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, &pol),
                     CKR_OK);
    rv = itest_policy_wrap(fx->t, s, pol, priv(fx, s, a), priv(fx, s, b), 0, &blob);
    if (rv == CKR_OK && unwrap) {
        assert_int_equal(itest_policy_unwrap(fx->t, s, &blob, DEP11_REQUESTER_USER, &back),
                         CKR_OK);
        assert_int_equal(F->C_DestroyObject(s, back), CKR_OK);
    }
    itest_blob_free(&blob);
    assert_int_equal(F->C_DestroyObject(s, pol), CKR_OK);
    return rv;
}

static void so_pin(struct itest_fx *fx, char pin[64])
{
    assert_true(itest_read_file(fx->t, "so.pin", pin, 64) > 0);
}

static void user_login(struct itest_fx *fx, CK_SESSION_HANDLE s)
{
    char pin[64];

    assert_true(itest_read_file(fx->t, "user.pin", pin, sizeof pin) > 0);
    assert_int_equal(F->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_OK);
}

/* ---- the auditor's view (test_rootreg.sh names an audit log) ---- */

/* The number of root-register / root-unregister lines; the last in @last. */
static int root_lines(struct itest_fx *fx, char *last, size_t cap)
{
    char path[1200], line[4096];
    FILE *fp = fopen(itest_path(fx->t, "audit.jsonl", path, sizeof path), "r");
    int n = 0;

    assert_non_null(fp);
    while (fgets(line, sizeof line, fp) != NULL) {
        if (strstr(line, "{\"event\":\"root-") != line)
            continue;
        n++;
        if (last != NULL)
            snprintf(last, cap, "%s", line);
    }
    fclose(fp);
    return n;
}

/* The serial number of @s's token, blanks trimmed. */
static void serial_of(struct itest_fx *fx, CK_SESSION_HANDLE s, char out[17])
{
    CK_SESSION_INFO si;
    CK_TOKEN_INFO ti;
    int n = 16;

    assert_int_equal(F->C_GetSessionInfo(s, &si), CKR_OK);
    assert_int_equal(F->C_GetTokenInfo(si.slotID, &ti), CKR_OK);
    memcpy(out, ti.serialNumber, 16);
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}

static const struct {
    CK_RV rv;
    const char *name;
} ckr_names[] = {
    { CKR_OK, "CKR_OK" },
    { CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT" },
    { CKR_USER_ANOTHER_ALREADY_LOGGED_IN, "CKR_USER_ANOTHER_ALREADY_LOGGED_IN" },
    { CKR_SESSION_READ_ONLY_EXISTS, "CKR_SESSION_READ_ONLY_EXISTS" },
    { CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID" },
};

/* The call on @s just answered @rv wrote exactly one line since @before:
 * @action's event, the root's identity @id, @s's token, the result's name,
 * the route; no policy, no tenant. */
static void audited(struct itest_fx *fx, CK_SESSION_HANDLE s, int before, CK_ULONG action,
                    const CK_BYTE id[DEP11_ROOT_ID_LEN], CK_RV rv)
{
    char last[4096] = "", want[160], serial[17];
    int known = 0;

    assert_int_equal(root_lines(fx, last, sizeof last), before + 1);
    snprintf(want, sizeof want, "{\"event\":\"%s\",",
             action == DEP11_ROOT_REGISTER ? "root-register" : "root-unregister");
    assert_non_null(strstr(last, want));
    assert_non_null(strstr(last, "\"policy_id\":\"\",\"version\":0,"));
    assert_non_null(strstr(last, "\"tenant\":\"\","));
    serial_of(fx, s, serial);
    snprintf(want, sizeof want, "\"token\":\"%s\",", serial);
    assert_non_null(strstr(last, want));
    snprintf(want, sizeof want, "\"root_id\":\"");
    for (int i = 0; i < DEP11_ROOT_ID_LEN; i++)
        snprintf(want + strlen(want), 3, "%02x", id[i]);
    strcat(want, "\",\"route\":\"so-login\"");
    assert_non_null(strstr(last, want));
    for (size_t i = 0; i < sizeof ckr_names / sizeof ckr_names[0]; i++) {
        if (ckr_names[i].rv != rv)
            continue;
        snprintf(want, sizeof want, "\"result\":\"%s\",", ckr_names[i].name);
        assert_non_null(strstr(last, want));
        known = 1;
    }
    if (!known) /* a refusal this table does not name: still no success */
        assert_null(strstr(last, "\"result\":\"CKR_OK\""));
}

/* CKM_DEP11_ROOT_REGISTER / _UNREGISTER: identity || SO PIN as digest data;
 * one audit line checked. */
static CK_RV std_register(struct itest_fx *fx, CK_SESSION_HANDLE s, CK_MECHANISM_TYPE m,
                          const CK_BYTE id[DEP11_ROOT_ID_LEN], const char *pin)
{
    CK_MECHANISM mech = { m, NULL, 0 };
    CK_BYTE data[DEP11_ROOT_ID_LEN + 64], out[1];
    CK_ULONG len = sizeof out;
    int before = root_lines(fx, NULL, 0);
    CK_RV rv = F->C_DigestInit(s, &mech);

    memcpy(data, id, DEP11_ROOT_ID_LEN);
    memcpy(data + DEP11_ROOT_ID_LEN, pin, strlen(pin));
    if (rv != CKR_OK)
        return rv;
    rv = F->C_Digest(s, data, DEP11_ROOT_ID_LEN + strlen(pin), out, &len);
    if (rv == CKR_OK)
        assert_int_equal(len, 0);
    audited(fx, s, before,
            m == CKM_DEP11_ROOT_REGISTER ? DEP11_ROOT_REGISTER : DEP11_ROOT_UNREGISTER, id, rv);
    return rv;
}

/* DEP11_RegisterRoot; one audit line checked. */
static CK_RV reg(struct itest_fx *fx, CK_SESSION_HANDLE s, CK_ULONG action,
                 const CK_BYTE id[DEP11_ROOT_ID_LEN], const char *pin)
{
    int before = root_lines(fx, NULL, 0);
    CK_RV rv = X->DEP11_RegisterRoot(s, action, (CK_BYTE_PTR)id, DEP11_ROOT_ID_LEN,
                                     (CK_UTF8CHAR_PTR)pin, strlen(pin));

    audited(fx, s, before, action, id, rv);
    return rv;
}

/* ---- phase "first" ---- */

/* The CKA_TRUSTED twins the world made count for nothing under so-login;
 * nor does a user's imitation of a record on its own token. */
static void test_twins_and_forgeries_do_not_count(void **state)
{
    struct itest_fx *fx = *state;
    CK_BYTE id[DEP11_ROOT_ID_LEN], ident[DEP11_ROOT_ID_LEN + 64];
    char label[96] = "dep11-rootreg-";
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof cls }, { CKA_TOKEN, &t, 1 },
        { CKA_PRIVATE, &t, 1 },          { CKA_APPLICATION, "dep11-rootreg", 13 },
        { CKA_LABEL, label, 0 },         { CKA_VALUE, ident, sizeof ident },
    };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_SLOT_ID slot = 0;
    CK_TOKEN_INFO ti;

    assert_int_equal(wrap(fx, fx->s, "root1", "root2", 0), CKR_KEY_FUNCTION_NOT_PERMITTED);
    /* a record-shaped data object on the customer token */
    identity(fx, fx->s, "unregistered", id);
    for (int i = 0; i < DEP11_ROOT_ID_LEN; i++)
        sprintf(label + 14 + 2 * i, "%02x", id[i]);
    tmpl[4].ulValueLen = strlen(label);
    assert_int_equal(itest_slot(fx->t, "contoso", &slot), CKR_OK);
    assert_int_equal(F->C_GetTokenInfo(slot, &ti), CKR_OK);
    memcpy(ident, ti.manufacturerID, 32);
    memcpy(ident + 32, ti.model, 16);
    memcpy(ident + 48, ti.serialNumber, 16);
    memcpy(ident + 64, id, DEP11_ROOT_ID_LEN);
    assert_int_equal(F->C_CreateObject(fx->s, tmpl, 6, &h), CKR_OK);
    assert_int_equal(wrap(fx, fx->s, "unregistered", "root2", 0),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
}

/* Wrong or empty SO PIN, a user logged in, a read-only session: nothing. */
static void test_refusals_record_nothing(void **state)
{
    struct itest_fx *fx = *state;
    CK_BYTE id[DEP11_ROOT_ID_LEN];
    CK_SESSION_HANDLE ro = CK_INVALID_HANDLE;
    CK_SLOT_ID slot = 0;
    char pin[64];
    int lines = 0;

    so_pin(fx, pin);
    identity(fx, fx->s, "root1", id);
    /* the user is logged in (this process): the SO login is refused */
    assert_int_equal(reg(fx, fx->s, DEP11_ROOT_REGISTER, id, pin),
                     CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
    assert_int_equal(std_register(fx, fx->s, CKM_DEP11_ROOT_REGISTER, id, pin),
                     CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
    assert_int_equal(F->C_Logout(fx->s), CKR_OK);
    assert_int_equal(reg(fx, fx->s, DEP11_ROOT_REGISTER, id, "0000"), CKR_PIN_INCORRECT);
    assert_int_equal(reg(fx, fx->s, DEP11_ROOT_REGISTER, id, "1234"), CKR_PIN_INCORRECT);
    /* A good SO login (registers nothing) between the wrong ones:
     * opencryptoki locks the SO PIN after three failures in a row. */
    assert_int_equal(F->C_Login(fx->s, CKU_SO, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_OK);
    assert_int_equal(F->C_Logout(fx->s), CKR_OK);
    assert_int_equal(std_register(fx, fx->s, CKM_DEP11_ROOT_REGISTER, id, "0000"),
                     CKR_PIN_INCORRECT);
    assert_int_not_equal(reg(fx, fx->s, DEP11_ROOT_REGISTER, id, ""), CKR_OK);
    /* a read-only session of this application on the token */
    assert_int_equal(itest_slot(fx->t, "contoso", &slot), CKR_OK);
    assert_int_equal(F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &ro), CKR_OK);
    assert_int_equal(reg(fx, ro, DEP11_ROOT_REGISTER, id, pin), CKR_SESSION_READ_ONLY_EXISTS);
    assert_int_equal(F->C_CloseSession(ro), CKR_OK);
    /* bad arguments: malformed calls, not audited */
    lines = root_lines(fx, NULL, 0);
    assert_int_equal(X->DEP11_RegisterRoot(fx->s, 3, id, DEP11_ROOT_ID_LEN,
                                           (CK_UTF8CHAR_PTR)pin, strlen(pin)),
                     CKR_ARGUMENTS_BAD);
    assert_int_equal(X->DEP11_RegisterRoot(fx->s, DEP11_ROOT_REGISTER, id, 31,
                                           (CK_UTF8CHAR_PTR)pin, strlen(pin)),
                     CKR_ARGUMENTS_BAD);
    assert_int_equal(root_lines(fx, NULL, 0), lines);
    user_login(fx, fx->s);
    assert_int_equal(wrap(fx, fx->s, "root1", "root2", 0), CKR_KEY_FUNCTION_NOT_PERMITTED);
}

/* The SO registers root1 (vendor function) and root2 (standard route). */
static void test_register_then_wrap(void **state)
{
    struct itest_fx *fx = *state;
    CK_BYTE id1[DEP11_ROOT_ID_LEN], id2[DEP11_ROOT_ID_LEN], none[DEP11_ROOT_ID_LEN];
    CK_MECHANISM mech = { CKM_DEP11_ROOT_REGISTER, NULL, 0 };
    CK_ULONG len = 5;
    char pin[64];
    int lines = 0;

    so_pin(fx, pin);
    identity(fx, fx->s, "root1", id1);
    identity(fx, fx->s, "root2", id2);
    memset(none, 0x5a, sizeof none);
    assert_int_equal(F->C_Logout(fx->s), CKR_OK);
    /* short data; a size query does nothing */
    assert_int_equal(F->C_DigestInit(fx->s, &mech), CKR_OK);
    lines = root_lines(fx, NULL, 0);
    assert_int_equal(F->C_Digest(fx->s, id2, 31, NULL, &len), CKR_DATA_LEN_RANGE);
    assert_int_equal(root_lines(fx, NULL, 0), lines); /* malformed: not audited */
    assert_int_equal(reg(fx, fx->s, DEP11_ROOT_REGISTER, none, pin), CKR_KEY_HANDLE_INVALID);
    assert_int_equal(reg(fx, fx->s, DEP11_ROOT_REGISTER, id1, pin), CKR_OK);
    assert_int_equal(reg(fx, fx->s, DEP11_ROOT_REGISTER, id1, pin), CKR_OK); /* idempotent */
    user_login(fx, fx->s);
    assert_int_equal(wrap(fx, fx->s, "root1", "root2", 0), CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(F->C_Logout(fx->s), CKR_OK);
    assert_int_equal(std_register(fx, fx->s, CKM_DEP11_ROOT_REGISTER, id2, pin), CKR_OK);
    user_login(fx, fx->s);
    assert_int_equal(wrap(fx, fx->s, "root1", "root2", 1), CKR_OK);
    assert_int_equal(wrap(fx, fx->s, "root2", "root1", 1), CKR_OK);
    assert_int_equal(wrap(fx, fx->s, "root1", "unregistered", 0),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
}

/* Registered roots are protected; an unregistered key is not. */
static void test_registered_protected(void **state)
{
    struct itest_fx *fx = *state;
    const char *l = "renamed";
    CK_ATTRIBUTE a = { CKA_LABEL, (void *)l, 7 };
    CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, upub = CK_INVALID_HANDLE;

    assert_int_equal(itest_find(fx->t, fx->s, CKO_PUBLIC_KEY, "root1", &pub), CKR_OK);
    assert_int_equal(itest_find(fx->t, fx->s, CKO_PUBLIC_KEY, "unregistered", &upub), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, fx->r1), CKR_ACTION_PROHIBITED);
    assert_int_equal(F->C_DestroyObject(fx->s, pub), CKR_ACTION_PROHIBITED);
    assert_int_equal(F->C_SetAttributeValue(fx->s, fx->r2, &a, 1), CKR_ACTION_PROHIBITED);
    assert_int_equal(F->C_SetAttributeValue(fx->s, pub, &a, 1), CKR_ACTION_PROHIBITED);
    a.pValue = (void *)"unregistered";
    a.ulValueLen = 12;
    assert_int_equal(F->C_SetAttributeValue(fx->s, upub, &a, 1), CKR_OK);
    assert_int_equal(wrap(fx, fx->s, "root1", "root2", 0), CKR_OK);
}

/* Creates an RSA-2048 pair with the numbers of @k on @s (token objects). */
static void import_pair(struct itest_fx *fx, CK_SESSION_HANDLE s, EVP_PKEY *k,
                        const char *label)
{
    static const char *names[] = {
        OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
        OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
        OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
        OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1
    };
    static const CK_ATTRIBUTE_TYPE types[] = { CKA_MODULUS,          CKA_PUBLIC_EXPONENT,
                                               CKA_PRIVATE_EXPONENT, CKA_PRIME_1,
                                               CKA_PRIME_2,          CKA_EXPONENT_1,
                                               CKA_EXPONENT_2,       CKA_COEFFICIENT };
    CK_BYTE v[8][256];
    CK_OBJECT_CLASS pc = CKO_PRIVATE_KEY, uc = CKO_PUBLIC_KEY;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_BBOOL y = CK_TRUE, n = CK_FALSE;
    CK_ATTRIBUTE pt[20] = {
        { CKA_CLASS, &pc, sizeof pc },
        { CKA_KEY_TYPE, &kt, sizeof kt },
        { CKA_TOKEN, &y, 1 },
        { CKA_PRIVATE, &y, 1 },
        { CKA_SENSITIVE, &y, 1 },
        { CKA_EXTRACTABLE, &n, 1 },
        { CKA_DECRYPT, &y, 1 },
        { CKA_SIGN, &n, 1 },
        { CKA_UNWRAP, &n, 1 },
        { CKA_DERIVE, &n, 1 },
        { CKA_LABEL, (void *)label, strlen(label) },
    };
    CK_ATTRIBUTE ut[8] = {
        { CKA_CLASS, &uc, sizeof uc }, { CKA_KEY_TYPE, &kt, sizeof kt },
        { CKA_TOKEN, &y, 1 },          { CKA_PRIVATE, &n, 1 },
        { CKA_ENCRYPT, &y, 1 },        { CKA_LABEL, (void *)label, strlen(label) },
    };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    for (int i = 0; i < 8; i++) {
        BIGNUM *b = NULL;

        assert_true(EVP_PKEY_get_bn_param(k, names[i], &b));
        pt[11 + i].type = types[i];
        pt[11 + i].pValue = v[i];
        pt[11 + i].ulValueLen = (CK_ULONG)BN_bn2bin(b, v[i]);
        BN_free(b);
    }
    ut[6] = pt[11];
    ut[7] = pt[12];
    assert_int_equal(F->C_CreateObject(s, pt, 19, &h), CKR_OK);
    assert_int_equal(F->C_CreateObject(s, ut, 8, &h), CKR_OK);
}

/* The same key on contoso (registered there) and fabrikam (not). */
static void test_registration_is_per_token(void **state)
{
    struct itest_fx *fx = *state;
    EVP_PKEY *k = EVP_RSA_gen(2048);
    CK_SESSION_HANDLE fab = CK_INVALID_HANDLE;
    CK_BYTE id[DEP11_ROOT_ID_LEN], f1[DEP11_ROOT_ID_LEN], f2[DEP11_ROOT_ID_LEN];
    char pin[64];

    assert_non_null(k);
    so_pin(fx, pin);
    import_pair(fx, fx->s, k, "copied");
    assert_int_equal(itest_session(fx->t, "fabrikam", 0, &fab), CKR_OK);
    identity(fx, fab, "froot1", f1);
    identity(fx, fab, "froot2", f2);
    assert_int_equal(reg(fx, fab, DEP11_ROOT_REGISTER, f1, pin), CKR_OK);
    assert_int_equal(reg(fx, fab, DEP11_ROOT_REGISTER, f2, pin), CKR_OK);
    user_login(fx, fab);
    import_pair(fx, fab, k, "copied");
    identity(fx, fx->s, "copied", id);
    assert_int_equal(F->C_Logout(fx->s), CKR_OK);
    assert_int_equal(reg(fx, fx->s, DEP11_ROOT_REGISTER, id, pin), CKR_OK);
    user_login(fx, fx->s);
    assert_int_equal(wrap(fx, fx->s, "copied", "root1", 1), CKR_OK);
    assert_int_equal(wrap(fx, fab, "froot1", "froot2", 1), CKR_OK);
    assert_int_equal(wrap(fx, fab, "copied", "froot1", 0), CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(wrap(fx, fab, "froot2", "copied", 0), CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(F->C_CloseSession(fab), CKR_OK);
    EVP_PKEY_free(k);
}

/* Unregister (mechanism 13): refused at once; a wrong PIN unregisters
 * nothing; register again. */
static void test_unregister(void **state)
{
    struct itest_fx *fx = *state;
    CK_BYTE id[DEP11_ROOT_ID_LEN];
    char pin[64];

    so_pin(fx, pin);
    identity(fx, fx->s, "copied", id);
    assert_int_equal(F->C_Logout(fx->s), CKR_OK);
    assert_int_equal(std_register(fx, fx->s, CKM_DEP11_ROOT_UNREGISTER, id, "0000"),
                     CKR_PIN_INCORRECT);
    user_login(fx, fx->s);
    assert_int_equal(wrap(fx, fx->s, "copied", "root1", 0), CKR_OK);
    assert_int_equal(F->C_Logout(fx->s), CKR_OK);
    assert_int_equal(std_register(fx, fx->s, CKM_DEP11_ROOT_UNREGISTER, id, pin), CKR_OK);
    user_login(fx, fx->s);
    assert_int_equal(wrap(fx, fx->s, "copied", "root1", 0), CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(wrap(fx, fx->s, "root1", "copied", 0), CKR_KEY_FUNCTION_NOT_PERMITTED);
    /* no longer a registered root: the user may remove it */
    assert_int_equal(F->C_DestroyObject(fx->s, priv(fx, fx->s, "copied")), CKR_OK);
    assert_int_equal(wrap(fx, fx->s, "root1", "root2", 0), CKR_OK);
}

/* Purge asks the same question: a revoked policy purges only from a token
 * where one of its roots is registered (here: by record). */
static void test_purge_needs_registration(void **state)
{
    struct itest_fx *fx = *state;
    EVP_PKEY *ka = EVP_RSA_gen(2048), *kb = EVP_RSA_gen(2048);
    CK_OBJECT_HANDLE pol = CK_INVALID_HANDLE;
    CK_BYTE ida[DEP11_ROOT_ID_LEN], idb[DEP11_ROOT_ID_LEN], receipt[4096];
    CK_ULONG len = sizeof receipt;
    struct itest_blob blob = { 0 };
    char pin[64];

    assert_non_null(ka);
    assert_non_null(kb);
    so_pin(fx, pin);
    import_pair(fx, fx->s, ka, "purge-a");
    import_pair(fx, fx->s, kb, "purge-b");
    identity(fx, fx->s, "purge-a", ida);
    identity(fx, fx->s, "purge-b", idb);
    assert_int_equal(F->C_Logout(fx->s), CKR_OK);
    assert_int_equal(reg(fx, fx->s, DEP11_ROOT_REGISTER, ida, pin), CKR_OK);
    assert_int_equal(reg(fx, fx->s, DEP11_ROOT_REGISTER, idb, pin), CKR_OK);
    user_login(fx, fx->s);
    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, &pol),
                     CKR_OK);
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, priv(fx, fx->s, "purge-a"),
                                       priv(fx, fx->s, "purge-b"), 0, &blob),
                     CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, pol), CKR_OK);
    /* the customer revokes both with its own tools (dep11 refuses it) */
    assert_int_equal(itest_customer(fx->t, "destroy", "priv:purge-a", NULL), CKR_OK);
    assert_int_equal(itest_customer(fx->t, "destroy", "priv:purge-b", NULL), CKR_OK);
    assert_int_equal(F->C_Logout(fx->s), CKR_OK);
    assert_int_equal(reg(fx, fx->s, DEP11_ROOT_UNREGISTER, ida, pin), CKR_OK);
    assert_int_equal(reg(fx, fx->s, DEP11_ROOT_UNREGISTER, idb, pin), CKR_OK);
    user_login(fx, fx->s);
    assert_int_equal(X->DEP11_PurgePolicy(fx->s, blob.p, blob.len, receipt, &len),
                     CKR_FUNCTION_REJECTED);
    assert_int_equal(F->C_Logout(fx->s), CKR_OK);
    assert_int_equal(reg(fx, fx->s, DEP11_ROOT_REGISTER, idb, pin), CKR_OK);
    user_login(fx, fx->s);
    len = sizeof receipt;
    assert_int_equal(X->DEP11_PurgePolicy(fx->s, blob.p, blob.len, receipt, &len), CKR_OK);
    assert_true(len > 0);
    itest_blob_free(&blob);
    EVP_PKEY_free(ka);
    EVP_PKEY_free(kb);
}

/* ---- phases after dep11-tool ran in another process ---- */

static void test_after_tool_unregister(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
    const char *l = "root2";
    CK_ATTRIBUTE a = { CKA_LABEL, (void *)l, 5 };

    assert_int_equal(wrap(fx, fx->s, "root1", "root2", 0), CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(itest_find(fx->t, fx->s, CKO_PUBLIC_KEY, "root2", &pub), CKR_OK);
    assert_int_equal(F->C_SetAttributeValue(fx->s, pub, &a, 1), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, fx->r1), CKR_ACTION_PROHIBITED);
}

static void test_after_tool_register(void **state)
{
    struct itest_fx *fx = *state;

    assert_int_equal(wrap(fx, fx->s, "root1", "root2", 1), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, fx->r2), CKR_ACTION_PROHIBITED);
}

int main(int argc, char **argv)
{
    const char *phase = argc > 1 ? argv[1] : "first";
    const struct CMUnitTest first[] = {
        cmocka_unit_test_setup_teardown(test_twins_and_forgeries_do_not_count, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_refusals_record_nothing, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_register_then_wrap, itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_registered_protected, itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_registration_is_per_token, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_unregister, itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_purge_needs_registration, itest_setup,
                                        itest_teardown),
    };
    const struct CMUnitTest unregistered[] = {
        cmocka_unit_test_setup_teardown(test_after_tool_unregister, itest_setup,
                                        itest_teardown),
    };
    const struct CMUnitTest registered[] = {
        cmocka_unit_test_setup_teardown(test_after_tool_register, itest_setup, itest_teardown),
    };

    if (strcmp(phase, "unregistered") == 0)
        return cmocka_run_group_tests(unregistered, itest_group_setup, itest_group_teardown);
    if (strcmp(phase, "registered") == 0)
        return cmocka_run_group_tests(registered, itest_group_setup, itest_group_teardown);
    return cmocka_run_group_tests(first, itest_group_setup, itest_group_teardown);
}
