/*
 * test_wycheproof_crypto.c - Wycheproof vectors against the module's crypto
 * layer: AES-GCM (256-bit keys) through dep11_gcm_seal/open, RSA-OAEP
 * decryption with OpenSSL and dep11_rsa_oaep_encrypt round trips, HMAC-SHA256
 * with OpenSSL. Every test of each file is either checked against its
 * expected result or counted as not applicable with a printed reason.
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
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "crypto/crypto.h"
#include "wp.h"

/* Per file: the reader and the tallies. */
struct run {
    const char *name;
    FILE *f;
    struct wp_rec g, t;
    unsigned tests, valid, invalid, acceptable, na;
    unsigned extra;          /* dep11 encrypt round trips (RSA) */
};

static int run_setup(void **state)
{
    struct run *r = calloc(1, sizeof *r);

    if (r == NULL)
        return -1;
    r->name = *state;
    r->f = wp_open(r->name);
    *state = r;
    return r->f == NULL ? -1 : 0;
}

static int run_teardown(void **state)
{
    struct run *r = *state;

    printf("%s: %u tests: %u valid, %u invalid, %u acceptable passed; %u not applicable",
           r->name, r->tests, r->valid, r->invalid, r->acceptable, r->na);
    if (r->extra)
        printf("; %u dep11 encryptions decrypted back", r->extra);
    printf("\n");
    if (r->f != NULL)
        fclose(r->f);
    wp_free(&r->g);
    wp_free(&r->t);
    free(r);
    return 0;
}

/* Next test; group lines are kept in r->g. 1 test, 0 end. */
static int next_test(struct run *r)
{
    int got;

    while ((got = wp_next(r->f, &r->t)) == 1) {
        if (r->t.kind == 'T') {
            r->tests++;
            return 1;
        }
        wp_swap(&r->g, &r->t);
    }
    assert_int_equal(got, 0);
    return 0;
}

static void tally(struct run *r, enum wp_result res)
{
    if (res == WP_VALID)
        r->valid++;
    else if (res == WP_INVALID)
        r->invalid++;
    else
        r->acceptable++;
}

/* --- AES-GCM ------------------------------------------------------------- */

static void gcm_one(struct run *r)
{
    size_t kl, ivl, al, ml, cl, tl;
    uint8_t *k = wp_hex(&r->t, "key", &kl), *iv = wp_hex(&r->t, "iv", &ivl);
    uint8_t *aad = wp_hex(&r->t, "aad", &al), *m = wp_hex(&r->t, "msg", &ml);
    uint8_t *c = wp_hex(&r->t, "ct", &cl), *tag = wp_hex(&r->t, "tag", &tl);
    uint8_t *out = malloc(ml + 1), *pt = malloc(cl + 1), tagout[16];
    enum wp_result res = wp_result(&r->t);
    CK_RV srv, orv;

    assert_non_null(k);
    assert_non_null(iv);
    assert_non_null(aad);
    assert_non_null(m);
    assert_non_null(c);
    assert_non_null(tag);
    assert_int_not_equal(res, WP_BAD);
    srv = dep11_gcm_seal(k, iv, ivl, aad, al, m, ml, out, tagout);
    orv = dep11_gcm_open(k, iv, ivl, aad, al, c, cl, tag, tl, pt);
    if (ivl == 0 || ivl > 128) {
        /* Outside the module's IV bound (OpenSSL's: 1..128 bytes): refused. */
        assert_int_equal(srv, CKR_ARGUMENTS_BAD);
        assert_int_equal(orv, CKR_ARGUMENTS_BAD);
        if (res == WP_VALID)
            r->na++;
        else
            tally(r, res);
    } else if (res == WP_VALID) {
        assert_int_equal(srv, CKR_OK);
        assert_int_equal(cl, ml);
        assert_memory_equal(out, c, ml);
        assert_int_equal(tl, 16);
        assert_memory_equal(tagout, tag, 16);
        assert_int_equal(orv, CKR_OK);
        assert_memory_equal(pt, m, ml);
        tally(r, res);
    } else {
        assert_int_not_equal(orv, CKR_OK);
        assert_true(srv != CKR_OK || cl != ml || tl != 16 || memcmp(out, c, ml) != 0 ||
                    memcmp(tagout, tag, 16) != 0);
        tally(r, res);
    }
    free(k), free(iv), free(aad), free(m), free(c), free(tag), free(out), free(pt);
}

static void test_gcm(void **state)
{
    struct run *r = *state;
    unsigned other = 0;

    while (next_test(r)) {
        if (wp_int(&r->g, "keySize", 0) != 256) {
            other++;          /* dep11's GCM API is AES-256 only */
            continue;
        }
        gcm_one(r);
    }
    r->na += other;
    printf("%s: %u tests with 128/192-bit keys not applicable (AES-256-only API; "
           "test_wycheproof_module runs them through SoftHSM)\n", r->name, other);
    assert_int_equal(r->valid + r->invalid + r->acceptable + r->na, r->tests);
    assert_true(r->valid > 0 && r->invalid > 0);
}

/* --- RSA-OAEP -------------------------------------------------------------- */

static const EVP_MD *md_of(const char *name)
{
    if (name != NULL && strcmp(name, "SHA-1") == 0)
        return EVP_sha1();
    if (name != NULL && strcmp(name, "SHA-256") == 0)
        return EVP_sha256();
    return NULL;
}

static int oaep_decrypt(EVP_PKEY *pk, const EVP_MD *md, const EVP_MD *mgf,
                        const uint8_t *label, size_t ll, const uint8_t *c, size_t cl,
                        uint8_t *out, size_t *ol)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    unsigned char *lab = ll ? OPENSSL_memdup(label, ll) : NULL;
    int ok = ctx != NULL && EVP_PKEY_decrypt_init(ctx) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, mgf) == 1;

    if (ok && ll) {
        ok = EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, lab, (int)ll) == 1;
        if (ok)
            lab = NULL;      /* owned by ctx now */
    }
    ok = ok && EVP_PKEY_decrypt(ctx, out, ol, c, cl) == 1;
    OPENSSL_free(lab);
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static EVP_PKEY *group_key(struct run *r, uint8_t **n, size_t *nl, uint8_t **e, size_t *el)
{
    size_t dl = 0;
    uint8_t *der = wp_hex(&r->g, "privateKeyPkcs8", &dl);
    const unsigned char *p = der;
    EVP_PKEY *pk = NULL;
    BIGNUM *bn = NULL, *be = NULL;

    assert_non_null(der);
    pk = d2i_AutoPrivateKey(NULL, &p, (long)dl);
    assert_non_null(pk);
    assert_int_equal(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &bn), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &be), 1);
    *nl = (size_t)BN_num_bytes(bn);
    *el = (size_t)BN_num_bytes(be);
    *n = malloc(*nl);
    *e = malloc(*el);
    assert_non_null(*n);
    assert_non_null(*e);
    BN_bn2bin(bn, *n);
    BN_bn2bin(be, *e);
    BN_free(bn);
    BN_free(be);
    free(der);
    return pk;
}

/* dep11_rsa_oaep_encrypt of a valid test's message decrypts back. */
static void oaep_roundtrip(struct run *r, EVP_PKEY *pk, const EVP_MD *md,
                           const uint8_t *n, size_t nl, const uint8_t *e, size_t el,
                           const uint8_t *m, size_t ml)
{
    uint8_t ct[DEP11_RSA_MAX_BYTES], back[DEP11_RSA_MAX_BYTES];
    size_t cl = 0, bl = sizeof back;
    CK_MECHANISM_TYPE h = md == EVP_sha1() ? CKM_SHA_1 : CKM_SHA256;
    CK_RV rv = dep11_rsa_oaep_encrypt(n, nl, e, el, h, m, ml, ct, &cl);

    if (ml == 0) {
        assert_int_equal(rv, CKR_ARGUMENTS_BAD);   /* dep11 wraps keys, never nothing */
        return;
    }
    assert_int_equal(rv, CKR_OK);
    assert_int_equal(cl, nl);
    assert_true(oaep_decrypt(pk, md, md, NULL, 0, ct, cl, back, &bl));
    assert_int_equal(bl, ml);
    assert_memory_equal(back, m, ml);
    r->extra++;
}

static void test_rsa_oaep(void **state)
{
    struct run *r = *state;
    EVP_PKEY *pk = NULL;
    uint8_t *n = NULL, *e = NULL;
    size_t nl = 0, el = 0;
    const char *cur = NULL;

    while (next_test(r)) {
        const EVP_MD *md = md_of(wp_get(&r->g, "sha")), *mgf = md_of(wp_get(&r->g, "mgfSha"));
        size_t ml, cl, ll, ol = DEP11_RSA_MAX_BYTES;
        uint8_t *m = wp_hex(&r->t, "msg", &ml), *c = wp_hex(&r->t, "ct", &cl);
        uint8_t *lab = wp_hex(&r->t, "label", &ll), out[DEP11_RSA_MAX_BYTES];
        enum wp_result res = wp_result(&r->t);
        int ok;

        assert_non_null(md);
        assert_non_null(mgf);
        assert_true(m != NULL && c != NULL && lab != NULL && res != WP_BAD);
        if (cur != wp_get(&r->g, "privateKeyPkcs8")) {
            EVP_PKEY_free(pk), free(n), free(e);
            pk = group_key(r, &n, &nl, &e, &el);
            cur = wp_get(&r->g, "privateKeyPkcs8");
        }
        ok = oaep_decrypt(pk, md, mgf, lab, ll, c, cl, out, &ol);
        if (res == WP_VALID) {
            assert_true(ok);
            assert_int_equal(ol, ml);
            assert_memory_equal(out, m, ml);
            if (ll == 0 && md == mgf)
                oaep_roundtrip(r, pk, md, n, nl, e, el, m, ml);
        } else if (res == WP_INVALID) {
            assert_false(ok);
        }
        tally(r, res);
        free(m), free(c), free(lab);
    }
    EVP_PKEY_free(pk), free(n), free(e);
    assert_int_equal(r->valid + r->invalid + r->acceptable, r->tests);
    assert_true(r->valid > 0 && r->invalid > 0 && r->extra > 0);
}

/* --- HMAC-SHA256 ------------------------------------------------------------- */

static void test_hmac(void **state)
{
    struct run *r = *state;

    while (next_test(r)) {
        size_t kl, ml, tl, want = (size_t)wp_int(&r->g, "tagSize", 0) / 8;
        uint8_t *k = wp_hex(&r->t, "key", &kl), *m = wp_hex(&r->t, "msg", &ml);
        uint8_t *tag = wp_hex(&r->t, "tag", &tl), mac[EVP_MAX_MD_SIZE];
        unsigned int macl = 0;
        enum wp_result res = wp_result(&r->t);
        int same;

        assert_true(k != NULL && m != NULL && tag != NULL && res != WP_BAD);
        assert_true(want >= 1 && want <= 32);
        assert_non_null(HMAC(EVP_sha256(), k, (int)kl, m, ml, mac, &macl));
        assert_int_equal(macl, 32);
        same = tl == want && memcmp(mac, tag, want) == 0;
        if (res == WP_VALID)
            assert_true(same);
        else if (res == WP_INVALID)
            assert_false(same);
        tally(r, res);
        free(k), free(m), free(tag);
    }
    assert_int_equal(r->valid + r->invalid + r->acceptable, r->tests);
    assert_true(r->valid > 0 && r->invalid > 0);
}

#define RUN(fn, file) \
    cmocka_unit_test_prestate_setup_teardown(fn, run_setup, run_teardown, (void *)(file))

int main(void)
{
    const struct CMUnitTest tests[] = {
        RUN(test_gcm, "aes_gcm_test.txt"),
        RUN(test_rsa_oaep, "rsa_oaep_2048_sha1_mgf1sha1_test.txt"),
        RUN(test_rsa_oaep, "rsa_oaep_2048_sha256_mgf1sha256_test.txt"),
        RUN(test_rsa_oaep, "rsa_oaep_3072_sha256_mgf1sha256_test.txt"),
        RUN(test_hmac, "hmac_sha256_test.txt"),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
