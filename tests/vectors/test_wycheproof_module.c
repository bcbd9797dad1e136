/*
 * test_wycheproof_module.c - Wycheproof vectors through libdep11.so's
 * pass-through to SoftHSM (a world from setup-tokens.sh): RSA-OAEP keys
 * imported with C_CreateObject and used with C_Decrypt(CKM_RSA_PKCS_OAEP);
 * HMAC-SHA256 on imported generic secrets (C_Sign, C_Verify); AES-GCM
 * decryption on imported AES keys; AES key wrap (RFC 3394, 5649) by
 * C_UnwrapKey. Tests the backend cannot express are counted, with the reason.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "../integration/itest.h"
#include "wp.h"
#include "../gcm_params.h"

#define F (fx->t->f)
#define CKM_AES_KWP_SOFTHSM 0x210AUL   /* hsm-profiles/softhsm2.conf */

struct tally {
    const char *name;
    unsigned tests, valid, invalid, acceptable, na;
    const char *why;     /* of the not-applicable ones */
};

static void report(const struct tally *c)
{
    printf("%s: %u tests: %u valid, %u invalid, %u acceptable passed; %u not applicable%s%s\n",
           c->name, c->tests, c->valid, c->invalid, c->acceptable, c->na,
           c->na ? ": " : "", c->na ? c->why : "");
}

static void count(struct tally *c, enum wp_result res)
{
    if (res == WP_VALID)
        c->valid++;
    else if (res == WP_INVALID)
        c->invalid++;
    else
        c->acceptable++;
}

/* Reads the next test of @f into @t (group lines into @g). 1/0. */
static int next_test(FILE *f, struct wp_rec *g, struct wp_rec *t, struct tally *c)
{
    int got;

    while ((got = wp_next(f, t)) == 1) {
        if (t->kind == 'T') {
            c->tests++;
            return 1;
        }
        wp_swap(g, t);
    }
    assert_int_equal(got, 0);
    return 0;
}

static CK_OBJECT_HANDLE secret(struct itest_fx *fx, CK_KEY_TYPE kt, const uint8_t *v,
                               size_t len, CK_ATTRIBUTE_TYPE use1, CK_ATTRIBUTE_TYPE use2,
                               CK_RV *rv)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_KEY_TYPE, &kt, sizeof kt },
                         { CKA_TOKEN, &no, sizeof no }, { CKA_VALUE, (void *)v, len },
                         { use1, &yes, sizeof yes }, { use2, &yes, sizeof yes } };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    *rv = F->C_CreateObject(fx->s, t, 6, &h);
    return h;
}

/* --- RSA-OAEP ------------------------------------------------------------ */

static void bn_attr(EVP_PKEY *pk, const char *name, CK_ATTRIBUTE *a, CK_ATTRIBUTE_TYPE type)
{
    BIGNUM *bn = NULL;

    assert_int_equal(EVP_PKEY_get_bn_param(pk, name, &bn), 1);
    a->type = type;
    a->ulValueLen = (CK_ULONG)BN_num_bytes(bn);
    a->pValue = malloc(a->ulValueLen);
    assert_non_null(a->pValue);
    BN_bn2bin(bn, a->pValue);
    BN_free(bn);
}

/* Imports the group's private key into the session (C_CreateObject). */
static CK_OBJECT_HANDLE import_rsa(struct itest_fx *fx, const struct wp_rec *g)
{
    static const char *names[8] = { OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E,
        OSSL_PKEY_PARAM_RSA_D, OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
        OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
        OSSL_PKEY_PARAM_RSA_COEFFICIENT1 };
    static const CK_ATTRIBUTE_TYPE types[8] = { CKA_MODULUS, CKA_PUBLIC_EXPONENT,
        CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2, CKA_EXPONENT_1, CKA_EXPONENT_2,
        CKA_COEFFICIENT };
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE t[13] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_KEY_TYPE, &kt, sizeof kt },
                           { CKA_TOKEN, &no, sizeof no }, { CKA_DECRYPT, &yes, sizeof yes },
                           { CKA_SENSITIVE, &yes, sizeof yes } };
    size_t dl = 0;
    uint8_t *der = wp_hex(g, "privateKeyPkcs8", &dl);
    const unsigned char *p = der;
    EVP_PKEY *pk = NULL;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    assert_non_null(der);
    pk = d2i_AutoPrivateKey(NULL, &p, (long)dl);
    assert_non_null(pk);
    for (int i = 0; i < 8; i++)
        bn_attr(pk, names[i], &t[5 + i], types[i]);
    assert_int_equal(F->C_CreateObject(fx->s, t, 13, &h), CKR_OK);
    for (int i = 5; i < 13; i++)
        free(t[i].pValue);
    EVP_PKEY_free(pk);
    free(der);
    return h;
}

static CK_MECHANISM_TYPE hash_of(const char *name, CK_RSA_PKCS_MGF_TYPE *mgf)
{
    int sha1 = name != NULL && strcmp(name, "SHA-1") == 0;

    *mgf = sha1 ? CKG_MGF1_SHA1 : CKG_MGF1_SHA256;
    return sha1 ? CKM_SHA_1 : CKM_SHA256;
}

static CK_RV oaep_decrypt(struct itest_fx *fx, CK_OBJECT_HANDLE k, const struct wp_rec *g,
                          const uint8_t *c, size_t cl, uint8_t *out, CK_ULONG *ol)
{
    CK_RSA_PKCS_OAEP_PARAMS p = { 0, 0, CKZ_DATA_SPECIFIED, NULL, 0 };
    CK_MECHANISM m = { CKM_RSA_PKCS_OAEP, &p, sizeof p };
    CK_RV rv;

    p.hashAlg = hash_of(wp_get(g, "sha"), &p.mgf);
    rv = F->C_DecryptInit(fx->s, &m, k);
    if (rv == CKR_OK)
        rv = F->C_Decrypt(fx->s, (CK_BYTE_PTR)c, cl, out, ol);
    return rv;
}

static struct tally run_oaep(struct itest_fx *fx, const char *file)
{
    struct tally c = { file, 0, 0, 0, 0, 0, "a label (SoftHSM takes none)" };
    struct wp_rec g = { 0 }, t = { 0 };
    FILE *f = wp_open(file);
    CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;
    const char *cur = NULL;
    int refused = 0;

    assert_non_null(f);
    while (next_test(f, &g, &t, &c)) {
        size_t ml, cl, ll;
        uint8_t *m = wp_hex(&t, "msg", &ml), *ct = wp_hex(&t, "ct", &cl);
        uint8_t *lab = wp_hex(&t, "label", &ll), out[512];
        CK_ULONG ol = sizeof out;
        enum wp_result res = wp_result(&t);
        CK_RV rv;

        assert_true(m != NULL && ct != NULL && lab != NULL && res != WP_BAD);
        if (cur != wp_get(&g, "privateKeyPkcs8")) {
            if (k != CK_INVALID_HANDLE)
                assert_int_equal(F->C_DestroyObject(fx->s, k), CKR_OK);
            k = import_rsa(fx, &g);
            cur = wp_get(&g, "privateKeyPkcs8");
        }
        if (ll != 0) {
            c.na++;
        } else {
            rv = oaep_decrypt(fx, k, &g, ct, cl, out, &ol);
            if (strcmp(wp_get(&g, "sha"), "SHA-1") != 0 &&
                (rv == CKR_ARGUMENTS_BAD || rv == CKR_MECHANISM_PARAM_INVALID)) {
                /* SoftHSM 2.6.1: OAEP with SHA-1 only (hsm-profiles/softhsm2.conf). */
                refused++;
                c.na++;
            } else if (res == WP_VALID) {
                assert_int_equal(rv, CKR_OK);
                assert_int_equal(ol, ml);
                assert_memory_equal(out, m, ml);
                count(&c, res);
            } else {
                if (res == WP_INVALID)
                    assert_int_not_equal(rv, CKR_OK);
                count(&c, res);
            }
        }
        free(m), free(ct), free(lab);
    }
    if (k != CK_INVALID_HANDLE)
        assert_int_equal(F->C_DestroyObject(fx->s, k), CKR_OK);
    if (refused)
        c.why = "SoftHSM refuses OAEP with SHA-256, or a label";
    report(&c);
    assert_int_equal(c.valid + c.invalid + c.acceptable + c.na, c.tests);
    fclose(f);
    wp_free(&g);
    wp_free(&t);
    return c;
}

static void test_oaep_sha1(void **state)
{
    struct itest_fx *fx = *state;

    struct tally c = run_oaep(fx, "rsa_oaep_2048_sha1_mgf1sha1_test.txt");

    assert_true(c.valid > 0 && c.invalid > 0);
}

static void test_oaep_sha256(void **state)
{
    struct itest_fx *fx = *state;

    run_oaep(fx, "rsa_oaep_2048_sha256_mgf1sha256_test.txt");
    run_oaep(fx, "rsa_oaep_3072_sha256_mgf1sha256_test.txt");
}

/* --- HMAC-SHA256 ------------------------------------------------------------- */

static void test_hmac(void **state)
{
    struct itest_fx *fx = *state;
    struct tally c = { "hmac_sha256_test.txt", 0, 0, 0, 0, 0,
                       "key shorter than SoftHSM's HMAC-SHA256 minimum (CKR_KEY_SIZE_RANGE)" };
    struct wp_rec g = { 0 }, t = { 0 };
    FILE *f = wp_open(c.name);
    CK_MECHANISM m = { CKM_SHA256_HMAC, NULL, 0 };

    assert_non_null(f);
    while (next_test(f, &g, &t, &c)) {
        size_t kl, ml, tl, want = (size_t)wp_int(&g, "tagSize", 0) / 8;
        uint8_t *k = wp_hex(&t, "key", &kl), *msg = wp_hex(&t, "msg", &ml);
        uint8_t *tag = wp_hex(&t, "tag", &tl), mac[64];
        CK_ULONG macl = sizeof mac;
        enum wp_result res = wp_result(&t);
        CK_RV rv;
        CK_OBJECT_HANDLE h = secret(fx, CKK_GENERIC_SECRET, k, kl, CKA_SIGN, CKA_VERIFY, &rv);
        int same;

        assert_true(msg != NULL && tag != NULL && res != WP_BAD);
        assert_int_equal(rv, CKR_OK);
        rv = F->C_SignInit(fx->s, &m, h);
        if (rv == CKR_KEY_SIZE_RANGE) {
            c.na++;
        } else {
            assert_int_equal(rv, CKR_OK);
            assert_int_equal(F->C_Sign(fx->s, msg, ml, mac, &macl), CKR_OK);
            assert_int_equal(macl, 32);
            same = tl == want && memcmp(mac, tag, want) == 0;
            if (res == WP_VALID)
                assert_true(same);
            else if (res == WP_INVALID)
                assert_false(same);
            if (want == 32) {   /* the full tag through C_Verify as well */
                assert_int_equal(F->C_VerifyInit(fx->s, &m, h), CKR_OK);
                rv = F->C_Verify(fx->s, msg, ml, tag, tl);
                if (res == WP_VALID)
                    assert_int_equal(rv, CKR_OK);
                else if (res == WP_INVALID)
                    assert_int_not_equal(rv, CKR_OK);
            }
            count(&c, res);
        }
        assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
        free(k), free(msg), free(tag);
    }
    report(&c);
    assert_int_equal(c.valid + c.invalid + c.acceptable + c.na, c.tests);
    assert_true(c.valid > 0 && c.invalid > 0);
    fclose(f);
    wp_free(&g);
    wp_free(&t);
}

/* --- AES-GCM ------------------------------------------------------------------ */

static CK_RV gcm_decrypt(struct itest_fx *fx, CK_OBJECT_HANDLE k, const struct wp_rec *t,
                         uint8_t *out, CK_ULONG *ol)
{
    size_t ivl, al, cl, tl;
    uint8_t *iv = wp_hex(t, "iv", &ivl), *aad = wp_hex(t, "aad", &al);
    uint8_t *ct = wp_hex(t, "ct", &cl), *tag = wp_hex(t, "tag", &tl);
    uint8_t *in = malloc(cl + tl + 1);
    CK_GCM_PARAMS p;
    CK_MECHANISM m = { CKM_AES_GCM, &p, sizeof p };
    CK_RV rv;

    assert_true(iv != NULL && aad != NULL && ct != NULL && tag != NULL && in != NULL);
    memcpy(in, ct, cl);
    memcpy(in + cl, tag, tl);
    p = gcm_params(iv, ivl, al ? aad : NULL, al, tl * 8);
    rv = F->C_DecryptInit(fx->s, &m, k);
    if (rv == CKR_OK)
        rv = F->C_Decrypt(fx->s, in, cl + tl, out, ol);
    free(iv), free(aad), free(ct), free(tag), free(in);
    return rv;
}

static void test_gcm(void **state)
{
    struct itest_fx *fx = *state;
    struct tally c = { "aes_gcm_test.txt", 0, 0, 0, 0, 0,
                       "IV longer than 128 bytes (OpenSSL's bound, under SoftHSM)" };
    struct wp_rec g = { 0 }, t = { 0 };
    FILE *f = wp_open(c.name);

    assert_non_null(f);
    while (next_test(f, &g, &t, &c)) {
        size_t kl, ml;
        uint8_t *k = wp_hex(&t, "key", &kl), *msg = wp_hex(&t, "msg", &ml), out[1024];
        CK_ULONG ol = sizeof out;
        enum wp_result res = wp_result(&t);
        CK_RV rv;
        CK_OBJECT_HANDLE h = secret(fx, CKK_AES, k, kl, CKA_ENCRYPT, CKA_DECRYPT, &rv);

        assert_true(msg != NULL && ml <= sizeof out && res != WP_BAD);
        assert_int_equal(rv, CKR_OK);
        rv = gcm_decrypt(fx, h, &t, out, &ol);
        if (res == WP_VALID && rv != CKR_OK && wp_int(&g, "ivSize", 96) > 1024) {
            /* OpenSSL (under SoftHSM) bounds a GCM IV at 128 bytes. */
            c.na++;
        } else if (res == WP_VALID) {
            if (rv != CKR_OK)
                printf("%s tcId %s (key %ld, iv %ld bits): valid, got 0x%lx\n", c.name,
                       wp_get(&t, "tcId"), wp_int(&g, "keySize", 0),
                       wp_int(&g, "ivSize", 0), (unsigned long)rv);
            assert_int_equal(rv, CKR_OK);
            assert_int_equal(ol, ml);
            assert_memory_equal(out, msg, ml);
            count(&c, res);
        } else {
            if (res == WP_INVALID)
                assert_int_not_equal(rv, CKR_OK);
            count(&c, res);
        }
        assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
        free(k), free(msg);
    }
    report(&c);
    assert_int_equal(c.valid + c.invalid + c.acceptable + c.na, c.tests);
    assert_true(c.valid > 0 && c.invalid > 0);
    fclose(f);
    wp_free(&g);
    wp_free(&t);
}

/* --- AES key wrap ---------------------------------------------------------------- */

static CK_RV unwrap(struct itest_fx *fx, CK_MECHANISM_TYPE mech, CK_OBJECT_HANDLE wk,
                    const uint8_t *ct, size_t cl, uint8_t *out, CK_ULONG *ol)
{
    CK_MECHANISM m = { mech, NULL, 0 };
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_KEY_TYPE, &kt, sizeof kt },
                         { CKA_TOKEN, &no, sizeof no }, { CKA_SENSITIVE, &no, sizeof no },
                         { CKA_EXTRACTABLE, &yes, sizeof yes } };
    CK_ATTRIBUTE v = { CKA_VALUE, out, *ol };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = F->C_UnwrapKey(fx->s, &m, wk, (CK_BYTE_PTR)ct, cl, t, 5, &h);

    if (rv == CKR_OK) {
        rv = F->C_GetAttributeValue(fx->s, h, &v, 1);
        *ol = v.ulValueLen;
        assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
    }
    return rv;
}

static struct tally run_wrap(struct itest_fx *fx, const char *file, CK_MECHANISM_TYPE mech)
{
    struct tally c = { file, 0, 0, 0, 0, 0, "" };
    struct wp_rec g = { 0 }, t = { 0 };
    FILE *f = wp_open(file);

    assert_non_null(f);
    while (next_test(f, &g, &t, &c)) {
        size_t kl, ml, cl;
        uint8_t *k = wp_hex(&t, "key", &kl), *msg = wp_hex(&t, "msg", &ml);
        uint8_t *ct = wp_hex(&t, "ct", &cl), out[1024];
        CK_ULONG ol = sizeof out;
        enum wp_result res = wp_result(&t);
        CK_RV rv;
        CK_OBJECT_HANDLE h = secret(fx, CKK_AES, k, kl, CKA_WRAP, CKA_UNWRAP, &rv);

        assert_true(msg != NULL && ct != NULL && res != WP_BAD);
        assert_int_equal(rv, CKR_OK);
        rv = unwrap(fx, mech, h, ct, cl, out, &ol);
        if (res == WP_VALID) {
            if (rv != CKR_OK)
                printf("%s tcId %s: valid, got 0x%lx\n", file, wp_get(&t, "tcId"),
                       (unsigned long)rv);
            assert_int_equal(rv, CKR_OK);
            assert_int_equal(ol, ml);
            assert_memory_equal(out, msg, ml);
        } else if (res == WP_INVALID) {
            assert_int_not_equal(rv, CKR_OK);
        }
        count(&c, res);
        assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
        free(k), free(msg), free(ct);
    }
    report(&c);
    assert_int_equal(c.valid + c.invalid + c.acceptable + c.na, c.tests);
    fclose(f);
    wp_free(&g);
    wp_free(&t);
    return c;
}

static void test_aes_wrap(void **state)
{
    struct tally c = run_wrap(*state, "aes_wrap_test.txt", CKM_AES_KEY_WRAP);

    assert_true(c.valid > 0 && c.invalid > 0);
}

static void test_aes_kwp(void **state)
{
    struct tally c = run_wrap(*state, "aes_kwp_test.txt", CKM_AES_KWP_SOFTHSM);

    assert_true(c.valid > 0 && c.invalid > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_oaep_sha1, itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_oaep_sha256, itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_hmac, itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_gcm, itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_aes_wrap, itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_aes_kwp, itest_setup, itest_teardown),
    };

    return cmocka_run_group_tests(tests, itest_group_setup, itest_group_teardown);
}
