/*
 * test_suite1_kat.c - checks that the module's crypto and blob code
 * reproduce every deterministic output of tests/vectors/suite1.kat (kcv,
 * identity, header, availability copy, child KEK and blob, AEAD and chunk
 * outputs), parses the policy blob to the expected fields, and opens its
 * copies (the RSA ones with OpenSSL and suite1-root.pem).
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
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "blob/blob.h"
#include "crypto/crypto.h"
#include "crypto/suite1.h"
#include "dep11.h"

#ifndef DEP11_VECTORS_DIR
#define DEP11_VECTORS_DIR "tests/vectors"
#endif
#define KAT_MAX 64

struct kat_entry {
    char name[48];
    uint8_t *val;
    size_t len;
};

struct kat {
    struct kat_entry e[KAT_MAX];
    size_t n;
    char dir[1024];
};

static int parse_line(struct kat *k, char *line)
{
    char *eq = strchr(line, '='), *hex = NULL, *end = NULL;
    struct kat_entry *e = &k->e[k->n];
    size_t hlen = 0;

    if (eq == NULL || k->n == KAT_MAX)
        return -1;
    *eq = '\0';
    if (sscanf(line, "%47s", e->name) != 1)
        return -1;
    for (hex = eq + 1; *hex == ' '; hex++)
        ;
    for (end = hex; (*end >= '0' && *end <= '9') || (*end >= 'a' && *end <= 'f'); end++)
        ;
    hlen = (size_t)(end - hex);
    e->len = hlen / 2;
    e->val = malloc(e->len + 1);
    if (e->val == NULL || hlen % 2 != 0)
        return -1;
    for (size_t i = 0; i < e->len; i++) {
        unsigned int v = 0;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        e->val[i] = (uint8_t)v;
    }
    k->n++;
    return 0;
}

static int kat_teardown(void **state)
{
    struct kat *k = *state;

    for (size_t i = 0; k != NULL && i < k->n; i++)
        free(k->e[i].val);
    free(k);
    return 0;
}

/* Loads suite1.kat from $abs_top_srcdir/tests/vectors (make check) or the
 * source directory compiled in. */
static int kat_setup(void **state)
{
    struct kat *k = calloc(1, sizeof(*k));
    const char *top = getenv("abs_top_srcdir");
    char path[1200], line[4096];
    FILE *f = NULL;
    int rc = 0;

    if (k == NULL)
        return -1;
    *state = k;
    if (top != NULL && *top != '\0')
        snprintf(k->dir, sizeof k->dir, "%s/tests/vectors", top);
    else
        snprintf(k->dir, sizeof k->dir, "%s", DEP11_VECTORS_DIR);
    snprintf(path, sizeof path, "%s/suite1.kat", k->dir);
    f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
        char *hash = strchr(line, '#');
        if (hash != NULL)
            *hash = '\0';
        if (strspn(line, " \t\r\n") != strlen(line))
            rc = parse_line(k, line);
    }
    fclose(f);
    return rc;
}

/* The value of @name, asserting it exists (and, when @len, its length). */
static const uint8_t *get(const struct kat *k, const char *name, size_t len, size_t *out_len)
{
    for (size_t i = 0; i < k->n; i++) {
        if (strcmp(k->e[i].name, name) == 0) {
            if (len != 0 && k->e[i].len != len)
                fail_msg("%s has %zu bytes, want %zu", name, k->e[i].len, len);
            if (out_len != NULL)
                *out_len = k->e[i].len;
            return k->e[i].val;
        }
    }
    fail_msg("suite1.kat lacks %s", name);
    return NULL;
}

#define GET(name, len) get(k, name, len, NULL)

static void expect(const struct kat *k, const char *name, const uint8_t *got, size_t len)
{
    size_t want_len = 0;
    const uint8_t *want = get(k, name, 0, &want_len);

    assert_int_equal(len, want_len);
    assert_memory_equal(got, want, len);
}

static EVP_PKEY *load_root(const struct kat *k)
{
    char path[1200];
    FILE *f = NULL;
    EVP_PKEY *pkey = NULL;

    snprintf(path, sizeof path, "%s/suite1-root.pem", k->dir);
    f = fopen(path, "r");
    assert_non_null(f);
    pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(pkey);
    return pkey;
}

static void build_header(const struct kat *k, struct dep11_policy_header *h)
{
    size_t geo_len = 0, label_len = 0;
    const uint8_t *geo = get(k, "geo", 0, &geo_len), *label = get(k, "label", 0, &label_len);
    const uint8_t *v = GET("version", 4);

    memset(h, 0, sizeof(*h));
    h->suite = DEP11_SUITE1;
    memcpy(h->policy_id, GET("policy_id", 16), 16);
    h->policy_type = GET("policy_type", 1)[0];
    memcpy(h->tenant, GET("tenant", 16), 16);
    h->version = ((uint32_t)v[0] << 24) | ((uint32_t)v[1] << 16) | ((uint32_t)v[2] << 8) | v[3];
    h->managed_by = GET("managed_by", 1)[0];
    assert_true(geo_len <= 16 && label_len <= 64);
    h->geo_len = (uint8_t)geo_len;
    memcpy(h->geo, geo, geo_len);
    h->label_len = (uint8_t)label_len;
    memcpy(h->label, label, label_len);
    assert_int_equal(dep11_suite1_kcv(GET("policy_key", 32), h->policy_id, h->kcv), CKR_OK);
}

static void test_kat_kcv_and_identity(void **state)
{
    const struct kat *k = *state;
    uint8_t kcv[16], id[32], n[DEP11_RSA_MAX_BYTES], e[8];
    EVP_PKEY *pkey = load_root(k);
    BIGNUM *bn = NULL, *be = NULL;

    assert_int_equal(dep11_suite1_kcv(GET("policy_key", 32), GET("policy_id", 16), kcv), CKR_OK);
    expect(k, "kcv", kcv, 16);
    assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &bn), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &be), 1);
    assert_int_equal(dep11_rsa_identity(n, (size_t)BN_bn2bin(bn, n), e,
                                        (size_t)BN_bn2bin(be, e), id), CKR_OK);
    expect(k, "root_identity", id, 32);
    BN_free(bn);
    BN_free(be);
    EVP_PKEY_free(pkey);
}

static void test_kat_header_and_availability(void **state)
{
    const struct kat *k = *state;
    struct dep11_policy_header h;
    uint8_t hdr[256], copy[60], back[32];
    size_t len = 0;

    build_header(k, &h);
    assert_int_equal(dep11_policy_header_encode(&h, hdr, sizeof hdr, &len), CKR_OK);
    expect(k, "policy_header", hdr, len);
    memcpy(copy, GET("availability_nonce", 12), 12);
    assert_int_equal(dep11_gcm_seal(GET("availability_key", 32), copy, 12, hdr, len,
                                    GET("policy_key", 32), 32, copy + 12, copy + 44), CKR_OK);
    expect(k, "availability_copy", copy, sizeof copy);
    assert_int_equal(dep11_gcm_open(GET("availability_key", 32), copy, 12, hdr, len,
                                    copy + 12, 32, copy + 44, 16, back), CKR_OK);
    assert_memory_equal(back, GET("policy_key", 32), 32);
}

static void rsa_open(EVP_PKEY *pkey, const struct dep11_wrapped_copy *c, const uint8_t *want)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    const char *md = c->alg == DEP11_ALG_RSA_OAEP_SHA1 ? "SHA1" : "SHA256";
    uint8_t pt[512];
    size_t pt_len = sizeof pt;

    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_decrypt_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, md, NULL), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, md, NULL), 1);
    assert_int_equal(EVP_PKEY_decrypt(ctx, pt, &pt_len, c->data, c->data_len), 1);
    assert_int_equal(pt_len, 32);
    assert_memory_equal(pt, want, 32);
    EVP_PKEY_CTX_free(ctx);
}

/* The policy blob parses to the inputs, re-encodes to itself, carries the
 * HMAC of its bytes, and each copy opens to the policy key. */
static void test_kat_policy_blob(void **state)
{
    const struct kat *k = *state;
    struct dep11_policy_header h;
    struct dep11_policy_blob b;
    size_t len = 0, len2 = 0, mlen = 0;
    const uint8_t *blob = get(k, "policy_blob", 0, &len);
    const uint8_t *pk = GET("policy_key", 32), *id = GET("root_identity", 32);
    uint8_t *heap = malloc(len), *again = malloc(len), mac[32], back[32];
    EVP_PKEY *pkey = load_root(k);

    assert_non_null(heap);
    assert_non_null(again);
    memcpy(heap, blob, len);
    build_header(k, &h);
    assert_int_equal(dep11_policy_blob_parse(heap, len, &b), CKR_OK);
    assert_memory_equal(&b.hdr, &h, sizeof h);   /* both zero-filled past lengths */
    expect(k, "policy_header", b.header_bytes, b.header_len);
    assert_int_equal(b.ncopies, 3);
    assert_int_equal(b.copies[0].kind, DEP11_COPY_CUSTOMER_1);
    assert_int_equal(b.copies[0].alg, DEP11_ALG_RSA_OAEP_SHA256);
    assert_memory_equal(b.copies[0].key_id, id, 32);
    expect(k, "root_hint_1", b.copies[0].hint, b.copies[0].hint_len);
    expect(k, "rsa_copy_sha256", b.copies[0].data, b.copies[0].data_len);
    assert_int_equal(b.copies[1].kind, DEP11_COPY_CUSTOMER_2);
    assert_int_equal(b.copies[1].alg, DEP11_ALG_RSA_OAEP_SHA1);
    assert_memory_equal(b.copies[1].key_id, id, 32);
    expect(k, "root_hint_2", b.copies[1].hint, b.copies[1].hint_len);
    expect(k, "rsa_copy_sha1", b.copies[1].data, b.copies[1].data_len);
    assert_int_equal(b.copies[2].kind, DEP11_COPY_AVAILABILITY);
    assert_int_equal(b.copies[2].alg, DEP11_ALG_AES_GCM);
    expect(k, "availability_key_id", b.copies[2].key_id, b.copies[2].key_id_len);
    assert_int_equal(b.copies[2].hint_len, 0);
    expect(k, "availability_copy", b.copies[2].data, b.copies[2].data_len);
    assert_int_equal(b.mac_offset, len - 32);
    expect(k, "policy_mac", b.mac, 32);
    assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, GET("mac_key", 32), 32,
                              heap, b.mac_offset, mac, sizeof mac, &mlen));
    assert_memory_equal(mac, b.mac, 32);
    assert_int_equal(dep11_policy_blob_encode(&b.hdr, b.copies, b.ncopies, again, len, &len2),
                     CKR_OK);
    assert_int_equal(len2, len);
    assert_memory_equal(again, heap, len - 32);
    rsa_open(pkey, &b.copies[0], pk);
    rsa_open(pkey, &b.copies[1], pk);
    assert_int_equal(dep11_gcm_open(GET("availability_key", 32), b.copies[2].data, 12,
                                    b.header_bytes, b.header_len, b.copies[2].data + 12, 32,
                                    b.copies[2].data + 44, 16, back), CKR_OK);
    assert_memory_equal(back, pk, 32);
    EVP_PKEY_free(pkey);
    free(again);
    free(heap);
}

static void test_kat_child(void **state)
{
    const struct kat *k = *state;
    struct dep11_child_header ch;
    struct dep11_child_blob b;
    uint8_t hdr[DEP11_CHILD_HEADER_LEN], kek[32], blob[DEP11_CHILD_BLOB_LEN], back[32];
    const uint8_t *nonce = GET("child_nonce", 12);

    memset(&ch, 0, sizeof ch);
    ch.suite = DEP11_SUITE1;
    ch.role = DEP11_ROLE_MAILBOX;
    memcpy(ch.policy_id, GET("policy_id", 16), 16);
    ch.policy_type = GET("policy_type", 1)[0];
    memcpy(ch.owner, GET("child_owner", 16), 16);
    assert_int_equal(dep11_child_header_encode(&ch, hdr), CKR_OK);
    expect(k, "child_header", hdr, sizeof hdr);
    assert_int_equal(dep11_suite1_child_kek(GET("policy_key", 32), hdr, sizeof hdr, kek), CKR_OK);
    expect(k, "child_kek", kek, 32);
    memcpy(blob, hdr, sizeof hdr);
    memcpy(blob + 40, nonce, 12);
    assert_int_equal(dep11_gcm_seal(kek, nonce, 12, hdr, sizeof hdr, GET("child_key", 32), 32,
                                    blob + 52, blob + 84), CKR_OK);
    expect(k, "child_blob", blob, sizeof blob);
    /* And the unwrap path, from the stored bytes. */
    assert_int_equal(dep11_child_blob_parse(GET("child_blob", DEP11_CHILD_BLOB_LEN),
                                            DEP11_CHILD_BLOB_LEN, &b), CKR_OK);
    assert_memory_equal(&b.hdr, &ch, sizeof ch);
    assert_int_equal(dep11_suite1_child_kek(GET("policy_key", 32), b.header_bytes,
                                            DEP11_CHILD_HEADER_LEN, kek), CKR_OK);
    assert_int_equal(dep11_gcm_open(kek, b.nonce, 12, b.header_bytes, DEP11_CHILD_HEADER_LEN,
                                    b.ct, 32, b.tag, 16, back), CKR_OK);
    assert_memory_equal(back, GET("child_key", 32), 32);
}

/* Output = nonce || GCM(key, nonce, aad, plaintext) || tag. */
static void check_aead(const struct kat *k, const uint8_t *key, const char *nonce_name,
                       const uint8_t *aad, size_t aad_len, const char *pt_name,
                       const char *out_name)
{
    size_t pt_len = 0;
    const uint8_t *pt = get(k, pt_name, 0, &pt_len);
    uint8_t *out = malloc(pt_len + 28);

    assert_non_null(out);
    memcpy(out, GET(nonce_name, 12), 12);
    assert_int_equal(dep11_gcm_seal(key, out, 12, aad, aad_len, pt, pt_len, out + 12,
                                    out + 12 + pt_len), CKR_OK);
    expect(k, out_name, out, pt_len + 28);
    free(out);
}

static void test_kat_aead_and_chunk(void **state)
{
    const struct kat *k = *state;
    uint8_t aad[DEP11_CHUNK_AAD_LEN], key[32];
    const uint8_t *ib = GET("chunk_index", 8);
    uint64_t index = 0;
    size_t aad_len = 0;
    const uint8_t *user_aad = get(k, "aead_aad", 0, &aad_len);

    check_aead(k, GET("child_key", 32), "child_nonce", user_aad, aad_len, "aead_plaintext",
               "aead_output");
    for (int i = 0; i < 8; i++)
        index = (index << 8) | ib[i];
    dep11_suite1_chunk_aad(GET("file_id", 16), index, aad);
    expect(k, "chunk_aad", aad, sizeof aad);
    assert_int_equal(dep11_suite1_chunk_key(GET("site_key", 32), GET("file_id", 16), index, key),
                     CKR_OK);
    expect(k, "chunk_key", key, 32);
    check_aead(k, key, "chunk_nonce", aad, sizeof aad, "chunk_plaintext", "chunk_aead");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, kat_setup, kat_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_kat_kcv_and_identity),
        T(test_kat_header_and_availability),
        T(test_kat_policy_blob),
        T(test_kat_child),
        T(test_kat_aead_and_chunk),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
