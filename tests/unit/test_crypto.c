/*
 * test_crypto.c - unit tests of module/crypto: AES-256-GCM (one-shot,
 * streaming, tamper handling), the KBKDF and suite 1 derivations against
 * values computed independently with Python cryptography, RSA-OAEP against
 * OpenSSL's private-key decryption, and root identities.
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
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "crypto/crypto.h"
#include "crypto/suite1.h"

/* Decodes @hex into @out (capacity @cap); returns the byte count. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2;

    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        unsigned int v = 0;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

static void fill(uint8_t *p, size_t n, uint8_t start)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(start + i);
}

/* --- GCM ------------------------------------------------------------------ */

/* Python: AESGCM(bytes(range(0x20,0x40))).encrypt(bytes(range(0xa0,0xac)),
 * b"The quick brown fox jumps over the lazy dog.", b"dep11 aad") */
static void test_gcm_known_answer(void **state)
{
    uint8_t key[32], iv[12], ct[44], tag[16], exp_ct[44], exp_tag[16], pt[44];
    const char *msg = "The quick brown fox jumps over the lazy dog.";
    (void)state;

    fill(key, 32, 0x20);
    fill(iv, 12, 0xa0);
    unhex("2a54c114b5a2e9c9ca08cfc8492a1886f710b92756c14b527cb2a48fb6148f8c"
          "77301dd867d3ba5aae8db4c3", exp_ct, sizeof exp_ct);
    unhex("881893f279cc434e9ee185bd91aab471", exp_tag, sizeof exp_tag);
    assert_int_equal(dep11_gcm_seal(key, iv, 12, (const uint8_t *)"dep11 aad", 9,
                                    (const uint8_t *)msg, 44, ct, tag), CKR_OK);
    assert_memory_equal(ct, exp_ct, 44);
    assert_memory_equal(tag, exp_tag, 16);
    assert_int_equal(dep11_gcm_open(key, iv, 12, (const uint8_t *)"dep11 aad", 9,
                                    ct, 44, tag, 16, pt), CKR_OK);
    assert_memory_equal(pt, msg, 44);
}

static void test_gcm_round_trip(void **state)
{
    static const size_t lens[] = { 0, 1, 15, 16, 17, 1000, 4099 };
    uint8_t key[32], iv[12], aad[40], tag[16];
    (void)state;

    assert_int_equal(dep11_random(key, sizeof key), CKR_OK);
    assert_int_equal(dep11_random(iv, sizeof iv), CKR_OK);
    fill(aad, sizeof aad, 7);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t n = lens[i];
        uint8_t *pt = malloc(n + 1), *ct = malloc(n + 1), *back = malloc(n + 1);
        assert_non_null(pt);
        assert_non_null(ct);
        assert_non_null(back);
        fill(pt, n, 3);
        assert_int_equal(dep11_gcm_seal(key, iv, 12, aad, sizeof aad, pt, n, ct, tag), CKR_OK);
        if (n >= 16)
            assert_memory_not_equal(ct, pt, n);
        assert_int_equal(dep11_gcm_open(key, iv, 12, aad, sizeof aad, ct, n, tag, 16, back),
                         CKR_OK);
        assert_memory_equal(back, pt, n);
        /* A truncated tag (PKCS#11 allows 4..16) is the tag's prefix... */
        assert_int_equal(dep11_gcm_open(key, iv, 12, aad, sizeof aad, ct, n, tag, 12, back),
                         CKR_OK);
        assert_memory_equal(back, pt, n);
        /* ...and is still checked. */
        tag[11] ^= 1;
        assert_int_equal(dep11_gcm_open(key, iv, 12, aad, sizeof aad, ct, n, tag, 12, back),
                         CKR_ENCRYPTED_DATA_INVALID);
        free(back);
        free(ct);
        free(pt);
    }
}

/* Every tampered input fails with the precise code, and the plaintext
 * buffer comes back cleansed (no unauthenticated bytes leak). */
static void test_gcm_tamper(void **state)
{
    uint8_t key[32], iv[12], aad[24], pt[64], ct[64], tag[16], out[64], zero[64];
    (void)state;

    fill(key, 32, 1);
    fill(iv, 12, 2);
    fill(aad, 24, 3);
    fill(pt, 64, 4);
    memset(zero, 0, sizeof zero);
    assert_int_equal(dep11_gcm_seal(key, iv, 12, aad, 24, pt, 64, ct, tag), CKR_OK);
    for (int what = 0; what < 5; what++) {
        uint8_t k2[32], iv2[12], aad2[24], ct2[64], tag2[16];
        memcpy(k2, key, 32);
        memcpy(iv2, iv, 12);
        memcpy(aad2, aad, 24);
        memcpy(ct2, ct, 64);
        memcpy(tag2, tag, 16);
        switch (what) {
        case 0: ct2[17] ^= 0x01; break;
        case 1: tag2[15] ^= 0x80; break;
        case 2: aad2[0] ^= 0x10; break;
        case 3: iv2[11] ^= 0x04; break;
        default: k2[31] ^= 0x40; break;
        }
        memset(out, 0xAA, sizeof out);
        assert_int_equal(dep11_gcm_open(k2, iv2, 12, aad2, 24, ct2, 64, tag2, 16, out),
                         CKR_ENCRYPTED_DATA_INVALID);
        assert_memory_equal(out, zero, sizeof out);
    }
}

static void test_gcm_bad_arguments(void **state)
{
    uint8_t key[32] = { 0 }, iv[129] = { 0 }, buf[16] = { 0 }, tag[16] = { 0 };
    (void)state;

    assert_int_equal(dep11_gcm_seal(NULL, iv, 12, NULL, 0, buf, 16, buf, tag), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_gcm_seal(key, iv, 0, NULL, 0, buf, 16, buf, tag), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_gcm_seal(key, iv, 129, NULL, 0, buf, 16, buf, tag), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_gcm_seal(key, iv, 12, NULL, 5, buf, 16, buf, tag), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_gcm_open(key, iv, 12, NULL, 0, buf, 16, tag, 3, buf), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_gcm_open(key, iv, 12, NULL, 0, buf, 16, tag, 17, buf), CKR_ARGUMENTS_BAD);
    /* A 128-byte IV is legal GCM (it is GHASHed). */
    assert_int_equal(dep11_gcm_seal(key, iv, 128, NULL, 0, buf, 16, buf, tag), CKR_OK);
}

/* Streaming in uneven pieces gives exactly the one-shot bytes; the same
 * context serves several messages, and a bad tag fails at finish. */
static void test_gcm_streaming(void **state)
{
    static const size_t cuts[] = { 1, 7, 16, 33, 100 };
    uint8_t key[32], iv[12], aad[13], pt[300], ct1[300], ct2[300], back[300];
    uint8_t tag1[16], tag2[16];
    struct dep11_gcm *g = NULL;
    (void)state;

    fill(key, 32, 9);
    fill(iv, 12, 8);
    fill(aad, 13, 7);
    fill(pt, 300, 6);
    assert_int_equal(dep11_gcm_seal(key, iv, 12, aad, 13, pt, 300, ct1, tag1), CKR_OK);
    assert_int_equal(dep11_gcm_new(&g), CKR_OK);
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        size_t step = cuts[c];
        assert_int_equal(dep11_gcm_start(g, 1, key, iv, 12, aad, 13), CKR_OK);
        for (size_t off = 0; off < 300; off += step) {
            size_t n = 300 - off < step ? 300 - off : step;
            assert_int_equal(dep11_gcm_update(g, pt + off, n, ct2 + off), CKR_OK);
        }
        assert_int_equal(dep11_gcm_finish_seal(g, tag2), CKR_OK);
        assert_memory_equal(ct1, ct2, 300);
        assert_memory_equal(tag1, tag2, 16);

        assert_int_equal(dep11_gcm_start(g, 0, key, iv, 12, aad, 13), CKR_OK);
        for (size_t off = 0; off < 300; off += step) {
            size_t n = 300 - off < step ? 300 - off : step;
            assert_int_equal(dep11_gcm_update(g, ct1 + off, n, back + off), CKR_OK);
        }
        assert_int_equal(dep11_gcm_finish_open(g, tag1, 16), CKR_OK);
        assert_memory_equal(back, pt, 300);
    }
    /* Wrong tag on the streaming path. */
    tag2[0] ^= 1;
    assert_int_equal(dep11_gcm_start(g, 0, key, iv, 12, aad, 13), CKR_OK);
    assert_int_equal(dep11_gcm_update(g, ct1, 300, back), CKR_OK);
    assert_int_equal(dep11_gcm_finish_open(g, tag2, 16), CKR_ENCRYPTED_DATA_INVALID);
    /* Misuse: finishing twice, or the wrong direction. */
    assert_int_equal(dep11_gcm_finish_open(g, tag1, 16), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_gcm_update(g, pt, 1, back), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_gcm_start(g, 1, key, iv, 12, NULL, 0), CKR_OK);
    assert_int_equal(dep11_gcm_finish_open(g, tag1, 16), CKR_ARGUMENTS_BAD);
    dep11_gcm_free(g);
    dep11_gcm_free(NULL);
}

/* --- KBKDF and suite 1 ------------------------------------------------------ */

/* Expected bytes computed once with Python cryptography 38:
 * KBKDFHMAC(SHA256, CounterMode, length=L, rlen=4, llen=4, BeforeFixed,
 *           label=..., context=bytes(range(0x40,0x50))).derive(bytes(range(32))) */
static void test_kbkdf_known_answer(void **state)
{
    uint8_t key[32], ctx[16], out[48], exp[48];
    (void)state;

    fill(key, 32, 0);
    fill(ctx, 16, 0x40);
    unhex("0639fbcb69f24d5b8e5414b655575ed2ec4f0d4b9f9b9ec818e89fc8f8a35a34", exp, 48);
    assert_int_equal(dep11_kbkdf(key, 32, "dep11 test label", ctx, 16, out, 32), CKR_OK);
    assert_memory_equal(out, exp, 32);
    /* L is part of the input: 48 bytes are not an extension of 32. */
    unhex("2ea6179c8451e7271060c0193ee8cf35181c5a93c4d93c398418bd2d6c3ddf48"
          "47b7826a683a9f8d4048cac40b0b581f", exp, 48);
    assert_int_equal(dep11_kbkdf(key, 32, "dep11 test label", ctx, 16, out, 48), CKR_OK);
    assert_memory_equal(out, exp, 48);
    /* The suite 1 key check value is the same KDF with its own label. */
    unhex("f49b464ccac4736e5173dcc37025730f", exp, 16);
    assert_int_equal(dep11_suite1_kcv(key, ctx, out), CKR_OK);
    assert_memory_equal(out, exp, 16);
}

static void test_kbkdf_bad_arguments(void **state)
{
    uint8_t key[32] = { 0 }, out[32];
    (void)state;

    assert_int_equal(dep11_kbkdf(key, 32, "", NULL, 0, out, 32), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_kbkdf(key, 32, NULL, NULL, 0, out, 32), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_kbkdf(key, 0, "x", NULL, 0, out, 32), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_kbkdf(key, 32, "x", NULL, 0, out, 0), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_kbkdf(key, 32, "x", NULL, 3, out, 32), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_kbkdf(key, 32, "x", NULL, 0, out, 32), CKR_OK);
}

/* Suite 1 derivations are the KBKDF with their documented label and context,
 * and each input changes the output. */
static void test_suite1_derivations(void **state)
{
    uint8_t site[32], fid[16], ctx[24], a[32], b[32], aad[DEP11_CHUNK_AAD_LEN];
    uint8_t hdr[40];
    (void)state;

    fill(site, 32, 0x11);
    fill(fid, 16, 0x22);
    dep11_suite1_chunk_aad(fid, 0x0102030405060708ULL, aad);
    assert_memory_equal(aad, fid, 16);
    memcpy(ctx, fid, 16);
    fill(ctx + 16, 8, 1);
    assert_memory_equal(aad + 16, ctx + 16, 8);
    assert_int_equal(dep11_suite1_chunk_key(site, fid, 0x0102030405060708ULL, a), CKR_OK);
    assert_int_equal(dep11_kbkdf(site, 32, DEP11_LABEL_CHUNK_KEY, ctx, 24, b, 32), CKR_OK);
    assert_memory_equal(a, b, 32);
    assert_int_equal(dep11_suite1_chunk_key(site, fid, 0x0102030405060709ULL, b), CKR_OK);
    assert_memory_not_equal(a, b, 32);

    fill(hdr, 40, 0x33);
    assert_int_equal(dep11_suite1_child_kek(site, hdr, 40, a), CKR_OK);
    assert_int_equal(dep11_kbkdf(site, 32, DEP11_LABEL_CHILD_KEK, hdr, 40, b, 32), CKR_OK);
    assert_memory_equal(a, b, 32);
    hdr[39] ^= 1;
    assert_int_equal(dep11_suite1_child_kek(site, hdr, 40, b), CKR_OK);
    assert_memory_not_equal(a, b, 32);
    assert_int_equal(dep11_suite1_child_kek(site, NULL, 40, b), CKR_ARGUMENTS_BAD);
}

/* --- hashes, comparison, randomness ----------------------------------------- */

static void test_sha256_and_compare(void **state)
{
    uint8_t d[32], exp[32], r1[32], r2[32];
    (void)state;

    unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", exp, 32);
    assert_int_equal(dep11_sha256((const uint8_t *)"abc", 3, d), CKR_OK);
    assert_memory_equal(d, exp, 32);
    unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", exp, 32);
    assert_int_equal(dep11_sha256(NULL, 0, d), CKR_OK);
    assert_memory_equal(d, exp, 32);
    assert_true(dep11_ct_equal(d, exp, 32));
    d[31] ^= 1;
    assert_false(dep11_ct_equal(d, exp, 32));
    assert_int_equal(dep11_random(r1, 32), CKR_OK);
    assert_int_equal(dep11_random(r2, 32), CKR_OK);
    assert_memory_not_equal(r1, r2, 32);
    assert_int_equal(dep11_random(NULL, 1), CKR_ARGUMENTS_BAD);
}

/* --- RSA ----------------------------------------------------------------- */

struct rsa_fixture {
    EVP_PKEY *pkey;
    uint8_t n[DEP11_RSA_MAX_BYTES + 1];
    size_t n_len;
    uint8_t e[8];
    size_t e_len;
};

static int rsa_setup(void **state)
{
    struct rsa_fixture *f = calloc(1, sizeof(*f));
    BIGNUM *n = NULL, *e = NULL;

    if (f == NULL)
        return -1;
    f->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    if (f->pkey == NULL ||
        EVP_PKEY_get_bn_param(f->pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
        EVP_PKEY_get_bn_param(f->pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
        return -1;
    f->n_len = (size_t)BN_bn2bin(n, f->n);
    f->e_len = (size_t)BN_bn2bin(e, f->e);
    BN_free(n);
    BN_free(e);
    *state = f;
    return 0;
}

static int rsa_teardown(void **state)
{
    struct rsa_fixture *f = *state;

    EVP_PKEY_free(f->pkey);
    free(f);
    return 0;
}

/* Decrypts with OpenSSL's private key, OAEP with @md for OAEP and MGF1. */
static int oaep_decrypt(EVP_PKEY *pkey, const char *md, const uint8_t *ct,
                        size_t ct_len, uint8_t *pt, size_t *pt_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok = ctx != NULL && EVP_PKEY_decrypt_init(ctx) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, md, NULL) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, md, NULL) == 1 &&
             EVP_PKEY_decrypt(ctx, pt, pt_len, ct, ct_len) == 1;

    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static void test_rsa_oaep(void **state)
{
    struct rsa_fixture *f = *state;
    uint8_t key[32], ct[DEP11_RSA_MAX_BYTES], ct2[DEP11_RSA_MAX_BYTES], pt[512];
    size_t ct_len = 0, ct2_len = 0, pt_len = 0;

    fill(key, 32, 0x5a);
    /* SHA-1 (what SoftHSM offers) */
    assert_int_equal(dep11_rsa_oaep_encrypt(f->n, f->n_len, f->e, f->e_len, CKM_SHA_1,
                                            key, 32, ct, &ct_len), CKR_OK);
    assert_int_equal(ct_len, 256);
    pt_len = sizeof pt;
    assert_true(oaep_decrypt(f->pkey, "SHA1", ct, ct_len, pt, &pt_len));
    assert_int_equal(pt_len, 32);
    assert_memory_equal(pt, key, 32);
    pt_len = sizeof pt;
    assert_false(oaep_decrypt(f->pkey, "SHA256", ct, ct_len, pt, &pt_len));
    /* SHA-256; OAEP is randomised, so two encryptions differ. */
    assert_int_equal(dep11_rsa_oaep_encrypt(f->n, f->n_len, f->e, f->e_len, CKM_SHA256,
                                            key, 32, ct, &ct_len), CKR_OK);
    assert_int_equal(dep11_rsa_oaep_encrypt(f->n, f->n_len, f->e, f->e_len, CKM_SHA256,
                                            key, 32, ct2, &ct2_len), CKR_OK);
    assert_memory_not_equal(ct, ct2, 256);
    pt_len = sizeof pt;
    assert_true(oaep_decrypt(f->pkey, "SHA256", ct, ct_len, pt, &pt_len));
    assert_int_equal(pt_len, 32);
    assert_memory_equal(pt, key, 32);
    pt_len = sizeof pt;
    assert_false(oaep_decrypt(f->pkey, "SHA1", ct2, ct2_len, pt, &pt_len));
}

static void test_rsa_oaep_bad_arguments(void **state)
{
    struct rsa_fixture *f = *state;
    uint8_t big[256] = { 0 }, ct[DEP11_RSA_MAX_BYTES], even[256];
    size_t ct_len = 0;

    /* 2048-bit modulus with SHA-256: at most 256 - 66 = 190 bytes. */
    assert_int_equal(dep11_rsa_oaep_encrypt(f->n, f->n_len, f->e, f->e_len, CKM_SHA256,
                                            big, 191, ct, &ct_len), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_rsa_oaep_encrypt(f->n, f->n_len, f->e, f->e_len, CKM_SHA256,
                                            big, 190, ct, &ct_len), CKR_OK);
    assert_int_equal(dep11_rsa_oaep_encrypt(f->n, f->n_len, f->e, f->e_len, CKM_MD5,
                                            big, 32, ct, &ct_len), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_rsa_oaep_encrypt(f->n, 100, f->e, f->e_len, CKM_SHA256,
                                            big, 32, ct, &ct_len), CKR_ARGUMENTS_BAD);
    memcpy(even, f->n, 256);
    even[255] &= 0xfe;
    assert_int_equal(dep11_rsa_oaep_encrypt(even, 256, f->e, f->e_len, CKM_SHA256,
                                            big, 32, ct, &ct_len), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_rsa_oaep_encrypt(f->n, f->n_len, f->e, f->e_len, CKM_SHA256,
                                            big, 0, ct, &ct_len), CKR_ARGUMENTS_BAD);
}

/* Identity = SHA-256 of the DER SPKI OpenSSL itself writes for the key;
 * a leading zero byte in the modulus (as CKA_MODULUS may have) changes
 * nothing. */
static void test_rsa_identity(void **state)
{
    struct rsa_fixture *f = *state;
    uint8_t *ref = NULL, *der = NULL, id[32], exp[32], padded[DEP11_RSA_MAX_BYTES + 1];
    size_t der_len = 0;
    int ref_len = i2d_PUBKEY(f->pkey, &ref);

    assert_true(ref_len > 0);
    assert_int_equal(dep11_rsa_spki(f->n, f->n_len, f->e, f->e_len, &der, &der_len), CKR_OK);
    assert_int_equal(der_len, (size_t)ref_len);
    assert_memory_equal(der, ref, der_len);
    assert_int_equal(dep11_sha256(ref, (size_t)ref_len, exp), CKR_OK);
    assert_int_equal(dep11_rsa_identity(f->n, f->n_len, f->e, f->e_len, id), CKR_OK);
    assert_memory_equal(id, exp, 32);
    padded[0] = 0;
    memcpy(padded + 1, f->n, f->n_len);
    assert_int_equal(dep11_rsa_identity(padded, f->n_len + 1, f->e, f->e_len, id), CKR_OK);
    assert_memory_equal(id, exp, 32);
    padded[f->n_len] ^= 2; /* another modulus, another identity */
    assert_int_equal(dep11_rsa_identity(padded, f->n_len + 1, f->e, f->e_len, id), CKR_OK);
    assert_memory_not_equal(id, exp, 32);
    assert_int_equal(dep11_rsa_identity(f->n, f->n_len, f->e, 0, id), CKR_ARGUMENTS_BAD);
    /* answered again (from the memo of identities), after more keys than
     * the memo holds went through it, each still its own */
    padded[f->n_len] ^= 2; /* the original modulus again */
    for (int i = 0; i < 20; i++) {
        uint8_t other[32];
        padded[f->n_len] ^= (uint8_t)(2 * (i + 1));
        assert_int_equal(dep11_rsa_identity(padded, f->n_len + 1, f->e, f->e_len, other),
                         CKR_OK);
        assert_memory_not_equal(other, exp, 32);
        padded[f->n_len] ^= (uint8_t)(2 * (i + 1));
        assert_int_equal(dep11_rsa_identity(f->n, f->n_len, f->e, f->e_len, id), CKR_OK);
        assert_memory_equal(id, exp, 32);
    }
    OPENSSL_free(der);
    OPENSSL_free(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gcm_known_answer),
        cmocka_unit_test(test_gcm_round_trip),
        cmocka_unit_test(test_gcm_tamper),
        cmocka_unit_test(test_gcm_bad_arguments),
        cmocka_unit_test(test_gcm_streaming),
        cmocka_unit_test(test_kbkdf_known_answer),
        cmocka_unit_test(test_kbkdf_bad_arguments),
        cmocka_unit_test(test_suite1_derivations),
        cmocka_unit_test(test_sha256_and_compare),
        cmocka_unit_test_setup_teardown(test_rsa_oaep, rsa_setup, rsa_teardown),
        cmocka_unit_test_setup_teardown(test_rsa_oaep_bad_arguments, rsa_setup, rsa_teardown),
        cmocka_unit_test_setup_teardown(test_rsa_identity, rsa_setup, rsa_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
