/*
 * gen_suite1.c - writes tests/vectors/suite1.kat, the suite 1 known-answer
 * vectors, from fixed inputs and the fixed root key suite1-root.pem, using
 * the module's own crypto and blob code. Run by hand, never by make check:
 *   tests/vectors/gen_suite1 tests/vectors/suite1-root.pem > suite1.kat
 * The RSA-OAEP copies are randomised, so a new run gives new copies (and a
 * new MAC); every other output is a pure function of the inputs below.
 * The HSM parts (availability copy, blob MAC) are computed here in software
 * with fixed keys so an independent implementation can check them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "blob/blob.h"
#include "crypto/crypto.h"
#include "crypto/suite1.h"
#include "dep11.h"
#include "util/secmem.h"

/* The fixed inputs: decoded from hex, so the .kat shows them verbatim. */
struct inputs {
    uint8_t policy_key[32], policy_id[16], tenant[16], mac_key[32];
    uint8_t avail_key[32], avail_key_id[16], avail_nonce[12];
    uint8_t child_key[32], child_owner[16], child_nonce[12];
    uint8_t site_key[32], file_id[16], chunk_nonce[12];
    uint64_t chunk_index;
};

static const char *const GEO = "eu";
static const char *const LABEL = "Contoso mailbox DEP";
static const char *const HINT_1 = "root-1";
static const char *const HINT_2 = "root-2";
static const char *const CHUNK_TEXT = "dep11 suite 1 chunk plaintext";

static void unhex(const char *hex, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned int v = 0;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            fprintf(stderr, "bad hex constant\n");
            exit(1);
        }
        out[i] = (uint8_t)v;
    }
}

static void set_inputs(struct inputs *in)
{
    unhex("6f1c2e3d4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0", in->policy_key, 32);
    unhex("0d3a11c0ffee4d0b9b5e2a7c31f5e801", in->policy_id, 16);
    unhex("72f988bf86f141af91ab2d7cd011db47", in->tenant, 16);
    unhex("4d41432d4b45592d464f522d4b41542d53554954452d312d5445535420303031", in->mac_key, 32);
    unhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf", in->avail_key, 32);
    unhex("617661696c2d0d3a11c0ffee4d0b9b5e", in->avail_key_id, 16);
    unhex("000102030405060708090a0b", in->avail_nonce, 12);
    unhex("c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf", in->child_key, 32);
    unhex("8a4e6f4b2c3d4e5f60718293a4b5c6d7", in->child_owner, 16);
    unhex("101112131415161718191a1b", in->child_nonce, 12);
    unhex("5151515151515151515151515151515151515151515151515151515151515151", in->site_key, 32);
    unhex("f11ed00d0123456789abcdeffedcba98", in->file_id, 16);
    unhex("202122232425262728292a2b", in->chunk_nonce, 12);
    in->chunk_index = 0x0000000100000002ULL;
}

static void put(FILE *f, const char *name, const uint8_t *p, size_t n)
{
    fprintf(f, "%s = ", name);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
    fputc('\n', f);
}

static void check(CK_RV rv, const char *what)
{
    if (rv != CKR_OK) {
        fprintf(stderr, "gen_suite1: %s failed: 0x%lx\n", what, (unsigned long)rv);
        exit(1);
    }
}

/* Reads the root's public numbers from the PEM private key. */
static void root_public(const char *pem, uint8_t *n, size_t *n_len, uint8_t *e, size_t *e_len)
{
    FILE *fp = fopen(pem, "r");
    EVP_PKEY *pkey = fp ? PEM_read_PrivateKey(fp, NULL, NULL, NULL) : NULL;
    BIGNUM *bn = NULL, *be = NULL;

    if (pkey == NULL || EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &bn) != 1 ||
        EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &be) != 1) {
        fprintf(stderr, "gen_suite1: cannot read RSA key %s\n", pem);
        exit(1);
    }
    *n_len = (size_t)BN_bn2bin(bn, n);
    *e_len = (size_t)BN_bn2bin(be, e);
    BN_free(bn);
    BN_free(be);
    EVP_PKEY_free(pkey);
    fclose(fp);
}

static void fill_header(const struct inputs *in, struct dep11_policy_header *h)
{
    memset(h, 0, sizeof(*h));
    h->suite = DEP11_SUITE1;
    memcpy(h->policy_id, in->policy_id, 16);
    h->policy_type = DEP11_POLICY_MAILBOX;
    memcpy(h->tenant, in->tenant, 16);
    h->version = 1;
    h->managed_by = DEP11_MANAGED_CUSTOMER;
    h->geo_len = (uint8_t)strlen(GEO);
    memcpy(h->geo, GEO, h->geo_len);
    h->label_len = (uint8_t)strlen(LABEL);
    memcpy(h->label, LABEL, h->label_len);
    check(dep11_suite1_kcv(in->policy_key, in->policy_id, h->kcv), "kcv");
}

static void rsa_copy(struct dep11_wrapped_copy *c, uint8_t kind, uint8_t alg,
                     const uint8_t id[32], const char *hint, uint8_t *buf)
{
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    c->alg = alg;
    c->key_id_len = 32;
    memcpy(c->key_id, id, 32);
    c->hint_len = (uint8_t)strlen(hint);
    memcpy(c->hint, hint, c->hint_len);
    c->data = buf;
}

/* The policy blob: two RSA-OAEP copies to the root, one GCM copy, the MAC. */
static void policy_section(FILE *f, const struct inputs *in, const char *pem)
{
    struct dep11_policy_header h;
    struct dep11_wrapped_copy c[3];
    uint8_t n[DEP11_RSA_MAX_BYTES], e[8], id[32], hdr[256], blob[DEP11_POLICY_BLOB_MAX];
    uint8_t ct1[DEP11_RSA_MAX_BYTES], ct256[DEP11_RSA_MAX_BYTES], avail[60], mac[32];
    size_t n_len = 0, e_len = 0, hdr_len = 0, blob_len = 0, l1 = 0, l256 = 0, mac_len = 0;

    fill_header(in, &h);
    root_public(pem, n, &n_len, e, &e_len);
    check(dep11_rsa_identity(n, n_len, e, e_len, id), "identity");
    check(dep11_policy_header_encode(&h, hdr, sizeof hdr, &hdr_len), "header");
    check(dep11_rsa_oaep_encrypt(n, n_len, e, e_len, CKM_SHA256, in->policy_key, 32,
                                 ct256, &l256), "OAEP SHA-256");
    check(dep11_rsa_oaep_encrypt(n, n_len, e, e_len, CKM_SHA_1, in->policy_key, 32,
                                 ct1, &l1), "OAEP SHA-1");
    /* In the module the HSM computes this with the availability key. */
    memcpy(avail, in->avail_nonce, 12);
    check(dep11_gcm_seal(in->avail_key, in->avail_nonce, 12, hdr, hdr_len, in->policy_key,
                         32, avail + 12, avail + 44), "availability copy");
    rsa_copy(&c[0], DEP11_COPY_CUSTOMER_1, DEP11_ALG_RSA_OAEP_SHA256, id, HINT_1, ct256);
    c[0].data_len = (uint16_t)l256;
    rsa_copy(&c[1], DEP11_COPY_CUSTOMER_2, DEP11_ALG_RSA_OAEP_SHA1, id, HINT_2, ct1);
    c[1].data_len = (uint16_t)l1;
    memset(&c[2], 0, sizeof c[2]);
    c[2].kind = DEP11_COPY_AVAILABILITY;
    c[2].alg = DEP11_ALG_AES_GCM;
    c[2].key_id_len = 16;
    memcpy(c[2].key_id, in->avail_key_id, 16);
    c[2].data = avail;
    c[2].data_len = sizeof avail;
    check(dep11_policy_blob_encode(&h, c, 3, blob, sizeof blob, &blob_len), "blob");
    /* In the module the HSM computes this with the provider MAC key. */
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, in->mac_key, 32, blob,
                  blob_len - 32, mac, sizeof mac, &mac_len) == NULL || mac_len != 32)
        check(CKR_FUNCTION_FAILED, "HMAC");
    memcpy(blob + blob_len - 32, mac, 32);

    fprintf(f, "\n# --- outputs: policy blob (docs/FORMATS.md sections 2 and 4) ---\n");
    fprintf(f, "# kcv = KBKDF(policy_key, \"%s\", policy_id), 16 bytes\n", DEP11_LABEL_KCV);
    put(f, "kcv", h.kcv, 16);
    fprintf(f, "# SHA-256 of the DER SubjectPublicKeyInfo of suite1-root.pem\n");
    put(f, "root_identity", id, 32);
    fprintf(f, "# the encoded header: AAD of the availability copy\n");
    put(f, "policy_header", hdr, hdr_len);
    fprintf(f, "# nonce || AES-256-GCM(availability_key, nonce, AAD = policy_header, policy_key) || tag\n");
    put(f, "availability_copy", avail, sizeof avail);
    fprintf(f, "# RSA-OAEP (randomised) of policy_key to suite1-root.pem; checkers decrypt them\n");
    put(f, "rsa_copy_sha256", ct256, l256);
    put(f, "rsa_copy_sha1", ct1, l1);
    fprintf(f, "# HMAC-SHA256(mac_key, policy_blob[0 .. len-32))\n");
    put(f, "policy_mac", mac, 32);
    fprintf(f, "# copies: customer-1 (OAEP SHA-256, hint root_hint_1), customer-2 (OAEP SHA-1,\n"
               "# hint root_hint_2), availability (GCM, key id availability_key_id), then the MAC\n");
    put(f, "policy_blob", blob, blob_len);
}

/* A mailbox child under the policy key, and its use with CKM_DEP11_AEAD. */
static void child_section(FILE *f, const struct inputs *in)
{
    struct dep11_child_header ch;
    uint8_t hdr[DEP11_CHILD_HEADER_LEN], kek[32], blob[DEP11_CHILD_BLOB_LEN];
    uint8_t aead[12 + 64 + 16];
    const char *msg = "dep11 suite 1 mailbox item";
    const char *aad = "item 42";
    size_t mlen = strlen(msg);

    memset(&ch, 0, sizeof ch);
    ch.suite = DEP11_SUITE1;
    ch.role = DEP11_ROLE_MAILBOX;
    memcpy(ch.policy_id, in->policy_id, 16);
    ch.policy_type = DEP11_POLICY_MAILBOX;
    memcpy(ch.owner, in->child_owner, 16);
    check(dep11_child_header_encode(&ch, hdr), "child header");
    check(dep11_suite1_child_kek(in->policy_key, hdr, sizeof hdr, kek), "child KEK");
    memcpy(blob, hdr, sizeof hdr);
    memcpy(blob + 40, in->child_nonce, 12);
    check(dep11_gcm_seal(kek, in->child_nonce, 12, hdr, sizeof hdr, in->child_key, 32,
                         blob + 52, blob + 84), "child seal");
    memcpy(aead, in->child_nonce, 12); /* any fresh nonce; fixed here */
    check(dep11_gcm_seal(in->child_key, in->child_nonce, 12, (const uint8_t *)aad, strlen(aad),
                         (const uint8_t *)msg, mlen, aead + 12, aead + 12 + mlen), "AEAD");

    fprintf(f, "\n# --- outputs: child blob (docs/FORMATS.md section 3) ---\n");
    fprintf(f, "# role mailbox (2) under policy_id, policy type mailbox (1), owner child_owner\n");
    put(f, "child_header", hdr, sizeof hdr);
    fprintf(f, "# KBKDF(policy_key, \"%s\", child_header), 32 bytes\n", DEP11_LABEL_CHILD_KEK);
    put(f, "child_kek", kek, 32);
    fprintf(f, "# child_header || nonce || AES-256-GCM(child_kek, nonce, AAD = child_header, child_key) || tag\n");
    put(f, "child_blob", blob, sizeof blob);
    fprintf(f, "\n# --- outputs: CKM_DEP11_AEAD with child_key, nonce child_nonce ---\n");
    put(f, "aead_plaintext", (const uint8_t *)msg, mlen);
    put(f, "aead_aad", (const uint8_t *)aad, strlen(aad));
    fprintf(f, "# nonce || ciphertext || tag\n");
    put(f, "aead_output", aead, 12 + mlen + 16);
    dep11_cleanse(kek, sizeof kek);
}

/* A chunk key and one CKM_DEP11_CHUNK_AEAD output. */
static void chunk_section(FILE *f, const struct inputs *in)
{
    uint8_t aad[DEP11_CHUNK_AAD_LEN], key[32], out[12 + 64 + 16];
    size_t mlen = strlen(CHUNK_TEXT);

    dep11_suite1_chunk_aad(in->file_id, in->chunk_index, aad);
    check(dep11_suite1_chunk_key(in->site_key, in->file_id, in->chunk_index, key), "chunk key");
    memcpy(out, in->chunk_nonce, 12);
    check(dep11_gcm_seal(key, in->chunk_nonce, 12, aad, sizeof aad,
                         (const uint8_t *)CHUNK_TEXT, mlen, out + 12, out + 12 + mlen), "chunk");
    fprintf(f, "\n# --- outputs: chunks (docs/FORMATS.md section 5) ---\n");
    fprintf(f, "# file_id || uint64be(chunk_index): the chunk AAD and the KDF context\n");
    put(f, "chunk_aad", aad, sizeof aad);
    fprintf(f, "# KBKDF(site_key, \"%s\", chunk_aad), 32 bytes\n", DEP11_LABEL_CHUNK_KEY);
    put(f, "chunk_key", key, 32);
    fprintf(f, "# CKM_DEP11_CHUNK_AEAD: nonce || AES-256-GCM(chunk_key, nonce, AAD = chunk_aad) || tag\n");
    put(f, "chunk_aead", out, 12 + mlen + 16);
    dep11_cleanse(key, sizeof key);
}

static void input_section(FILE *f, const struct inputs *in)
{
    uint8_t idx[8];

    for (int i = 0; i < 8; i++)
        idx[i] = (uint8_t)(in->chunk_index >> (56 - 8 * i));
    fprintf(f, "# dep11 blob suite 1 known-answer vectors (docs/FORMATS.md).\n"
               "# Written by tests/vectors/gen_suite1 from its fixed inputs and\n"
               "# tests/vectors/suite1-root.pem; checked by test_suite1_kat (the C code)\n"
               "# and check_suite1.py (an independent Python implementation).\n"
               "# Format: name = hex, one per line; '#' starts a comment.\n\n"
               "# --- inputs ---\n");
    put(f, "policy_key", in->policy_key, 32);
    put(f, "policy_id", in->policy_id, 16);
    put(f, "tenant", in->tenant, 16);
    fprintf(f, "# policy type mailbox, managed by customer, version 1 (uint32be)\n");
    put(f, "policy_type", (const uint8_t *)"\x01", 1);
    put(f, "managed_by", (const uint8_t *)"\x02", 1);
    put(f, "version", (const uint8_t *)"\x00\x00\x00\x01", 4);
    put(f, "geo", (const uint8_t *)GEO, strlen(GEO));
    put(f, "label", (const uint8_t *)LABEL, strlen(LABEL));
    put(f, "root_hint_1", (const uint8_t *)HINT_1, strlen(HINT_1));
    put(f, "root_hint_2", (const uint8_t *)HINT_2, strlen(HINT_2));
    fprintf(f, "# stand-ins for keys that live in the HSM (provider MAC key, availability key)\n");
    put(f, "mac_key", in->mac_key, 32);
    put(f, "availability_key", in->avail_key, 32);
    put(f, "availability_key_id", in->avail_key_id, 16);
    put(f, "availability_nonce", in->avail_nonce, 12);
    put(f, "child_key", in->child_key, 32);
    put(f, "child_owner", in->child_owner, 16);
    put(f, "child_nonce", in->child_nonce, 12);
    put(f, "site_key", in->site_key, 32);
    put(f, "file_id", in->file_id, 16);
    put(f, "chunk_index", idx, 8);
    put(f, "chunk_nonce", in->chunk_nonce, 12);
    put(f, "chunk_plaintext", (const uint8_t *)CHUNK_TEXT, strlen(CHUNK_TEXT));
}

int main(int argc, char **argv)
{
    struct inputs in;

    if (argc != 2) {
        fprintf(stderr, "usage: %s suite1-root.pem > suite1.kat\n", argv[0]);
        return 2;
    }
    set_inputs(&in);
    input_section(stdout, &in);
    policy_section(stdout, &in, argv[1]);
    child_section(stdout, &in);
    chunk_section(stdout, &in);
    return fflush(stdout) == 0 ? 0 : 1;
}
