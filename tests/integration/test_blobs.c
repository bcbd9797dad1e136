/*
 * test_blobs.c - integration tests of policy blobs as data: a blob made here
 * unwraps in another process; every altered, truncated or extended blob is
 * CKR_WRAPPED_KEY_INVALID; and a blob forged outside dep11 from the public
 * keys alone (well-formed, RSA-OAEP copies made with OpenSSL to both real
 * roots, a correct check value, any MAC) is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "itest.h"
#include "blob/blob.h"
#include "crypto/suite1.h"

#define F (fx->t->f)

static void make_blob(struct itest_fx *fx, int provider, struct itest_blob *b)
{
    CK_OBJECT_HANDLE pol = CK_INVALID_HANDLE;

    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, &pol),
                     CKR_OK);
    if (provider)
        assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, 0, 0, 0, b), CKR_OK);
    else
        assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, fx->r1, fx->r2, 0, b), CKR_OK);
}

static void test_other_process(void **state)
{
    struct itest_fx *fx = *state;
    struct itest_blob c = { 0 }, p = { 0 };
    CK_RV rv = CKR_GENERAL_ERROR;
    CK_ULONG by = 0;

    make_blob(fx, 0, &c);
    make_blob(fx, 1, &p);
    assert_int_equal(itest_write_blob(fx->t, "customer.blob", &c), 0);
    assert_int_equal(itest_write_blob(fx->t, "provider.blob", &p), 0);
    assert_int_equal(itest_spawn_unwrap(fx->t, "dep11.conf", "customer.blob",
                                        DEP11_REQUESTER_USER, &rv, &by), 0);
    assert_int_equal(rv, CKR_OK);
    assert_true(by == DEP11_ROOT_CUSTOMER_1 || by == DEP11_ROOT_CUSTOMER_2);
    assert_int_equal(itest_spawn_unwrap(fx->t, "dep11.conf", "provider.blob",
                                        DEP11_REQUESTER_USER, &rv, &by), 0);
    assert_int_equal(rv, CKR_OK);
    assert_int_equal(by, DEP11_ROOT_PROVIDER);
    itest_blob_free(&c);
    itest_blob_free(&p);
}

static CK_RV unwrap_bytes(struct itest_fx *fx, const CK_BYTE *p, CK_ULONG len)
{
    struct itest_blob b = { (CK_BYTE *)p, len };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    return itest_policy_unwrap(fx->t, fx->s, &b, DEP11_REQUESTER_USER, &h);
}

static void test_altered_blobs(void **state)
{
    struct itest_fx *fx = *state;
    struct itest_blob b = { 0 };
    CK_BYTE *x = NULL;
    CK_DEP11_POLICY_INFO info;

    for (int provider = 0; provider < 2; provider++) {
        make_blob(fx, provider, &b);
        x = malloc(b.len + 1);
        assert_non_null(x);
        /* Bit flips: every byte of the header region, then every 7th. */
        for (CK_ULONG i = 0; i < b.len; i += (i < 200 || i + 40 > b.len) ? 1 : 7) {
            memcpy(x, b.p, b.len);
            x[i] ^= (CK_BYTE)(1u << (i % 8));
            if (unwrap_bytes(fx, x, b.len) != CKR_WRAPPED_KEY_INVALID)
                fail_msg("flipping byte %lu of %lu: not CKR_WRAPPED_KEY_INVALID",
                         (unsigned long)i, (unsigned long)b.len);
        }
        /* Truncations and an extra byte. */
        for (CK_ULONG n = 1; n < b.len; n += (n < 64 || n + 64 > b.len) ? 1 : 13)
            if (unwrap_bytes(fx, b.p, n) != CKR_WRAPPED_KEY_INVALID)
                fail_msg("truncated to %lu: not CKR_WRAPPED_KEY_INVALID", (unsigned long)n);
        memcpy(x, b.p, b.len);
        x[b.len] = 0;
        assert_int_equal(unwrap_bytes(fx, x, b.len + 1), CKR_WRAPPED_KEY_INVALID);
        assert_int_equal(fx->t->x->DEP11_GetPolicyInfo(x, b.len / 2, &info),
                         CKR_WRAPPED_KEY_INVALID);
        /* The untouched blob still unwraps. */
        assert_int_equal(unwrap_bytes(fx, b.p, b.len), CKR_OK);
        free(x);
        itest_blob_free(&b);
    }
}

static void get_pub(struct itest_fx *fx, const char *label, CK_BYTE *n, CK_ULONG *nlen,
                    CK_BYTE *e, CK_ULONG *elen)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ATTRIBUTE at[] = { { CKA_MODULUS, n, *nlen }, { CKA_PUBLIC_EXPONENT, e, *elen } };

    assert_int_equal(itest_find(fx->t, fx->s, CKO_PUBLIC_KEY, label, &h), CKR_OK);
    assert_int_equal(F->C_GetAttributeValue(fx->s, h, at, 2), CKR_OK);
    *nlen = at[0].ulValueLen;
    *elen = at[1].ulValueLen;
}

/* RSA-OAEP (MGF1 with the same hash, no label) with OpenSSL alone. */
static size_t oaep(const CK_BYTE *n, size_t nlen, const CK_BYTE *e, size_t elen, int sha256,
                   const uint8_t *pt, size_t ptlen, uint8_t *ct, size_t cap)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL), *be = BN_bin2bn(e, (int)elen, NULL);
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL), *ectx = NULL;
    EVP_PKEY *pkey = NULL;
    const char *md = sha256 ? "SHA256" : "SHA1";
    size_t out = cap;

    assert_true(bld && bn && be && ctx);
    assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn), 1);
    assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be), 1);
    params = OSSL_PARAM_BLD_to_param(bld);
    assert_non_null(params);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params), 1);
    ectx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    assert_non_null(ectx);
    assert_int_equal(EVP_PKEY_encrypt_init(ectx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ectx, RSA_PKCS1_OAEP_PADDING), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md_name(ectx, md, NULL), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md_name(ectx, md, NULL), 1);
    assert_int_equal(EVP_PKEY_encrypt(ectx, ct, &out, pt, ptlen), 1);
    EVP_PKEY_CTX_free(ectx);
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    BN_free(bn);
    BN_free(be);
    OSSL_PARAM_BLD_free(bld);
    return out;
}

static void test_forged_blob(void **state)
{
    struct itest_fx *fx = *state;
    struct itest_blob g = { 0 };
    struct dep11_policy_blob parsed;
    struct dep11_policy_header hdr;
    struct dep11_wrapped_copy copies[DEP11_BLOB_MAX_COPIES];
    uint8_t key[32], mackey[32], rsa_ct[2][512], out[DEP11_POLICY_BLOB_MAX];
    CK_BYTE n[512], e[16];
    CK_ULONG nlen = 0, elen = 0;
    size_t len = 0;
    unsigned int maclen = 0;
    int customer = 0;

    make_blob(fx, 0, &g);
    assert_int_equal(dep11_policy_blob_parse(g.p, g.len, &parsed), CKR_OK);
    hdr = parsed.hdr;
    memcpy(copies, parsed.copies, sizeof copies);
    assert_int_equal(RAND_bytes(key, sizeof key), 1);
    assert_int_equal(RAND_bytes(mackey, sizeof mackey), 1);
    /* A forger knows suite 1, so the check value is right for its key. */
    assert_int_equal(dep11_suite1_kcv(key, hdr.policy_id, hdr.kcv), CKR_OK);
    for (size_t i = 0; i < parsed.ncopies; i++) {
        struct dep11_wrapped_copy *c = &copies[i];
        if (c->kind != DEP11_COPY_CUSTOMER_1 && c->kind != DEP11_COPY_CUSTOMER_2)
            continue;
        assert_true(c->alg == DEP11_ALG_RSA_OAEP_SHA1 || c->alg == DEP11_ALG_RSA_OAEP_SHA256);
        nlen = sizeof n;
        elen = sizeof e;
        get_pub(fx, c->kind == DEP11_COPY_CUSTOMER_1 ? "root1" : "root2", n, &nlen, e, &elen);
        c->data_len = (uint16_t)oaep(n, nlen, e, elen, c->alg == DEP11_ALG_RSA_OAEP_SHA256, key,
                                     sizeof key, rsa_ct[customer], sizeof rsa_ct[customer]);
        c->data = rsa_ct[customer++];
    }
    assert_int_equal(customer, 2);
    assert_int_equal(dep11_policy_blob_encode(&hdr, copies, parsed.ncopies, out, sizeof out,
                                              &len), CKR_OK);
    assert_true(len > DEP11_BLOB_MAC_LEN);
    /* Any MAC: HMAC-SHA256 under a key of the forger's own... */
    assert_non_null(HMAC(EVP_sha256(), mackey, sizeof mackey, out, len - DEP11_BLOB_MAC_LEN,
                         out + len - DEP11_BLOB_MAC_LEN, &maclen));
    assert_int_equal(maclen, DEP11_BLOB_MAC_LEN);
    assert_int_equal(unwrap_bytes(fx, out, len), CKR_WRAPPED_KEY_INVALID);
    /* ...the genuine blob's MAC... */
    memcpy(out + len - DEP11_BLOB_MAC_LEN, g.p + g.len - DEP11_BLOB_MAC_LEN, DEP11_BLOB_MAC_LEN);
    assert_int_equal(unwrap_bytes(fx, out, len), CKR_WRAPPED_KEY_INVALID);
    /* ...or none at all. */
    memset(out + len - DEP11_BLOB_MAC_LEN, 0, DEP11_BLOB_MAC_LEN);
    assert_int_equal(unwrap_bytes(fx, out, len), CKR_WRAPPED_KEY_INVALID);
    /* Control: the same encoder reproduces the genuine blob byte for byte,
     * so the forgery is refused for its MAC, not for its layout. */
    assert_int_equal(dep11_policy_blob_encode(&parsed.hdr, parsed.copies, parsed.ncopies, out,
                                              sizeof out, &len), CKR_OK);
    assert_int_equal(len, g.len);
    assert_memory_equal(out, g.p, len - DEP11_BLOB_MAC_LEN);
    itest_blob_free(&g);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, itest_setup, itest_teardown)
    const struct CMUnitTest tests[] = {
        T(test_other_process),
        T(test_altered_blobs),
        T(test_forged_blob),
    };
#undef T
    return cmocka_run_group_tests_name("blobs", tests, itest_group_setup, itest_group_teardown);
}
