/*
 * test_encode.c - unit tests of the encoders the purge receipt is made of:
 * util/hex.c, util/file.c (the config reads through it too) and
 * crypto/encode.c (base64, P-256 and RSA SPKI, DER ECDSA-Sig-Value, PEM). Expected
 * bytes come from RFC 4648 and from OpenSSL's own encoders (i2d_PUBKEY,
 * PEM_write_bio_PUBKEY, EVP_DigestSign), so an encoder that drifts from
 * them fails here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto/crypto.h"
#include "util/file.h"
#include "util/hex.h"

static void test_hex(void **state)
{
    static const uint8_t in[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
    char out[2 * sizeof in + 1];

    (void)state;
    assert_ptr_equal(dep11_hex_encode(in, sizeof in, out), out);
    assert_string_equal(out, "00017f80abff");
    assert_string_equal(dep11_hex_encode(in, 0, out), "");
}

/* RFC 4648 section 10. */
static void test_base64_rfc4648(void **state)
{
    static const char *const want[] = { "",         "Zg==",     "Zm8=",    "Zm9v",
                                        "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
    char out[16];

    (void)state;
    for (size_t n = 0; n <= 6; n++) {
        assert_int_equal(dep11_base64((const uint8_t *)"foobar", n, out, sizeof out), CKR_OK);
        assert_string_equal(out, want[n]);
    }
    /* too small a buffer is refused, not cut */
    assert_int_equal(dep11_base64((const uint8_t *)"foobar", 6, out, DEP11_BASE64_LEN(6) - 1),
                     CKR_ARGUMENTS_BAD);
}

static EVP_PKEY *p256_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");

    assert_non_null(k);
    return k;
}

/* The SPKI of a point equals OpenSSL's DER of the same public key. */
static void test_p256_spki(void **state)
{
    EVP_PKEY *k = p256_key();
    uint8_t point[DEP11_P256_POINT_LEN], spki[DEP11_P256_SPKI_LEN], *der = NULL;
    size_t plen = 0;
    int n = 0;

    (void)state;
    assert_int_equal(
        EVP_PKEY_get_octet_string_param(k, "encoded-pub-key", point, sizeof point, &plen), 1);
    assert_int_equal(plen, sizeof point);
    assert_int_equal(dep11_p256_spki(point, spki), CKR_OK);
    n = i2d_PUBKEY(k, &der);
    assert_int_equal(n, DEP11_P256_SPKI_LEN);
    assert_memory_equal(spki, der, sizeof spki);
    point[0] = 0x02; /* compressed: refused */
    assert_int_equal(dep11_p256_spki(point, spki), CKR_ARGUMENTS_BAD);
    OPENSSL_free(der);
    EVP_PKEY_free(k);
}

/* r || s of @der as 64 bytes. */
static void raw_of(const uint8_t *der, size_t len, uint8_t rs[DEP11_P256_SIG_LEN])
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);

    assert_non_null(sig);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32), 32);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32), 32);
    ECDSA_SIG_free(sig);
}

/* Real signatures: OpenSSL's DER -> r || s -> ours is the same DER. */
static void test_ecdsa_der_round_trip(void **state)
{
    EVP_PKEY *k = p256_key();
    uint8_t msg[32] = { 1 }, der[DEP11_P256_SIG_DER_MAX], rs[DEP11_P256_SIG_LEN];
    unsigned char sig[80];
    size_t len = 0, got = 0;

    (void)state;
    for (int i = 0; i < 64; i++) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();

        msg[1] = (uint8_t)i;
        len = sizeof sig;
        assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k), 1);
        assert_int_equal(EVP_DigestSign(ctx, sig, &len, msg, sizeof msg), 1);
        EVP_MD_CTX_free(ctx);
        raw_of(sig, len, rs);
        assert_int_equal(dep11_ecdsa_p256_der(rs, der, &got), CKR_OK);
        assert_int_equal(got, len);
        assert_memory_equal(der, sig, len);
    }
    EVP_PKEY_free(k);
}

/* The DER INTEGER rules by hand: a high bit gets a 0x00, leading zeros go. */
static void test_ecdsa_der_integers(void **state)
{
    uint8_t rs[DEP11_P256_SIG_LEN] = { 0 }, der[DEP11_P256_SIG_DER_MAX];
    size_t len = 0;

    (void)state;
    memset(rs, 0xff, 32); /* r: 32 bytes, high bit */
    rs[63] = 0x05;        /* s: 5 */
    assert_int_equal(dep11_ecdsa_p256_der(rs, der, &len), CKR_OK);
    assert_int_equal(len, 2 + 2 + 33 + 3);
    assert_int_equal(der[0], 0x30);
    assert_int_equal(der[1], len - 2);
    assert_int_equal(der[2], 0x02);
    assert_int_equal(der[3], 33);
    assert_int_equal(der[4], 0x00);
    assert_int_equal(der[5], 0xff);
    assert_memory_equal(der + 37, "\x02\x01\x05", 3);
}

/* PEM equals OpenSSL's PEM of the same public key; pem_holds finds it. */
static void test_pem(void **state)
{
    EVP_PKEY *k = p256_key(), *other = p256_key();
    BIO *bio = BIO_new(BIO_s_mem());
    uint8_t *der = NULL, *oder = NULL;
    char text[256], *ossl = NULL, wide[512];
    size_t len = 0, o = 0;
    long olen = 0;
    int n = i2d_PUBKEY(k, &der), on = i2d_PUBKEY(other, &oder);

    (void)state;
    assert_int_equal(dep11_pem_encode("PUBLIC KEY", der, (size_t)n, text, sizeof text, &len),
                     CKR_OK);
    assert_int_equal(PEM_write_bio_PUBKEY(bio, k), 1);
    olen = BIO_get_mem_data(bio, &ossl);
    assert_int_equal(len, (size_t)olen);
    assert_memory_equal(text, ossl, len);
    assert_int_equal(text[len], '\0');
    assert_int_equal(dep11_pem_encode("PUBLIC KEY", der, (size_t)n, text, len, &o),
                     CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_pem_encode("PUBLIC KEY", der, (size_t)n, text, sizeof text, &len),
                     CKR_OK);

    assert_true(dep11_pem_holds(text, len, "PUBLIC KEY", der, (size_t)n));
    assert_false(dep11_pem_holds(text, len, "PUBLIC KEY", oder, (size_t)on));
    assert_false(dep11_pem_holds(text, len, "PRIVATE KEY", der, (size_t)n));
    assert_false(dep11_pem_holds("not a key\n", 10, "PUBLIC KEY", der, (size_t)n));
    /* text before it and CRLF line ends do not matter */
    o = (size_t)snprintf(wide, sizeof wide, "a comment\r\n");
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n')
            wide[o++] = '\r';
        wide[o++] = text[i];
    }
    assert_true(dep11_pem_holds(wide, o, "PUBLIC KEY", der, (size_t)n));
    OPENSSL_free(der);
    OPENSSL_free(oder);
    BIO_free(bio);
    EVP_PKEY_free(k);
    EVP_PKEY_free(other);
}

static void test_file(void **state)
{
    char dir[] = "/tmp/dep11-test-encode-XXXXXX", path[64], buf[16];
    size_t len = 0;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/f", dir);
    assert_int_equal(dep11_file_read(path, buf, sizeof buf - 1, &len), -1);
    assert_int_equal(dep11_file_create(path, "first", 5), 0);
    assert_int_equal(dep11_file_create(path, "second", 6), 1); /* never replaced */
    assert_int_equal(dep11_file_read(path, buf, sizeof buf - 1, &len), 0);
    assert_int_equal(len, 5);
    assert_string_equal(buf, "first");
    assert_int_equal(dep11_file_read(path, buf, 3, &len), 0); /* bounded */
    assert_string_equal(buf, "fir");
    assert_int_equal(dep11_file_read(dir, buf, sizeof buf - 1, &len), -2);
    assert_int_equal(unlink(path), 0);
    snprintf(path, sizeof path, "%s/no/f", dir);
    assert_int_equal(dep11_file_create(path, "x", 1), -1);
    assert_int_equal(rmdir(dir), 0);
}

/* The bounded stream read: up to @max, one byte more says "too long". */
static void test_file_read_stream(void **state)
{
    char data[10000];
    char *buf = NULL;
    size_t n = 0;
    FILE *f = NULL;

    (void)state;
    memset(data, 'a', sizeof data);
    data[5000] = 'b';
    f = fmemopen(data, sizeof data, "r");
    assert_non_null(f);
    assert_int_equal(dep11_file_read_stream(f, 20000, &buf, &n), 0);
    assert_int_equal(n, sizeof data);
    assert_memory_equal(buf, data, sizeof data);
    free(buf);
    rewind(f);
    assert_int_equal(dep11_file_read_stream(f, 4096, &buf, &n), 0);
    assert_int_equal(n, 4097);
    free(buf);
    fclose(f);
}

/* The RSA receipt key's SPKI into a caller's buffer: the bytes
 * i2d_PUBKEY gives for the same key, and a short buffer refused. */
static void test_rsa_spki_into(void **state)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    BIGNUM *n = NULL, *e = NULL;
    uint8_t mod[256], exp[8], out[600], small[100];
    unsigned char *want = NULL;
    size_t len = 0;
    int want_len = 0, elen = 0;

    (void)state;
    assert_non_null(k);
    assert_int_equal(EVP_PKEY_get_bn_param(k, "n", &n), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(k, "e", &e), 1);
    assert_int_equal(BN_bn2binpad(n, mod, sizeof mod), (int)sizeof mod);
    elen = BN_bn2bin(e, exp);
    want_len = i2d_PUBKEY(k, &want);
    assert_true(want_len > 0);
    assert_int_equal(
        dep11_rsa_spki_into(mod, sizeof mod, exp, (size_t)elen, out, sizeof out, &len), CKR_OK);
    assert_int_equal(len, (size_t)want_len);
    assert_memory_equal(out, want, len);
    assert_int_equal(
        dep11_rsa_spki_into(mod, sizeof mod, exp, (size_t)elen, small, sizeof small, &len),
        CKR_ARGUMENTS_BAD);
    OPENSSL_free(want);
    BN_free(n);
    BN_free(e);
    EVP_PKEY_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_base64_rfc4648),
        cmocka_unit_test(test_p256_spki),
        cmocka_unit_test(test_ecdsa_der_round_trip),
        cmocka_unit_test(test_ecdsa_der_integers),
        cmocka_unit_test(test_rsa_spki_into),
        cmocka_unit_test(test_pem),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_file_read_stream),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
