/*
 * test_blob.c - unit tests of module/blob: encode/parse round trips of
 * policy and child blobs, field limits, every truncation, every single-bit
 * flip, and each malformed field. Blobs are parsed from heap buffers of
 * exactly their length so that ASan catches any over-read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "blob/blob.h"
#include "blob/wire.h"
#include "crypto/suite1.h"
#include "dep11.h"

#define GCM_LEN 60

struct blob_fixture {
    struct dep11_policy_header hdr;
    struct dep11_wrapped_copy copies[DEP11_BLOB_MAX_COPIES];
    uint8_t data[DEP11_BLOB_MAX_COPIES][DEP11_BLOB_COPY_DATA_MAX];
    struct dep11_child_header child;
};

static void fill(uint8_t *p, size_t n, uint8_t start)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(start + 3 * i);
}

/* A valid header and four valid copies (customer 1 and 2 with SHA-256 and
 * SHA-1, provider 1, availability with GCM). */
static int blob_setup(void **state)
{
    struct blob_fixture *f = calloc(1, sizeof(*f));
    static const uint8_t kinds[4] = { DEP11_COPY_CUSTOMER_1, DEP11_COPY_CUSTOMER_2,
                                      DEP11_COPY_PROVIDER_1, DEP11_COPY_AVAILABILITY };
    static const uint8_t algs[4] = { DEP11_ALG_RSA_OAEP_SHA256, DEP11_ALG_RSA_OAEP_SHA1,
                                     DEP11_ALG_RSA_OAEP_SHA256, DEP11_ALG_AES_GCM };

    if (f == NULL)
        return -1;
    f->hdr.suite = DEP11_SUITE1;
    fill(f->hdr.policy_id, 16, 0x10);
    f->hdr.policy_type = DEP11_POLICY_MAILBOX;
    fill(f->hdr.tenant, 16, 0x20);
    f->hdr.version = 0x01020304;
    f->hdr.managed_by = DEP11_MANAGED_CUSTOMER;
    memcpy(f->hdr.geo, "eu", 2);
    f->hdr.geo_len = 2;
    memcpy(f->hdr.label, "Contoso mailboxes", 17);
    f->hdr.label_len = 17;
    fill(f->hdr.kcv, 16, 0x30);
    for (int i = 0; i < 4; i++) {
        struct dep11_wrapped_copy *c = &f->copies[i];
        c->kind = kinds[i];
        c->alg = algs[i];
        c->key_id_len = i == 3 ? 9 : 32;
        fill(c->key_id, c->key_id_len, (uint8_t)(0x40 + i));
        c->hint_len = (uint8_t)(i == 2 ? 0 : 5 + i);
        fill(c->hint, c->hint_len, (uint8_t)(0x50 + i));
        c->data_len = i == 3 ? GCM_LEN : 256;
        fill(f->data[i], c->data_len, (uint8_t)(0x60 + i));
        c->data = f->data[i];
    }
    f->child.suite = DEP11_SUITE1;
    f->child.role = DEP11_ROLE_SITE;
    fill(f->child.policy_id, 16, 0x70);
    f->child.policy_type = DEP11_POLICY_FILES;
    fill(f->child.owner, 16, 0x80);
    *state = f;
    return 0;
}

static int blob_teardown(void **state)
{
    free(*state);
    return 0;
}

/* Encodes into a fresh heap buffer of exactly the blob's length. */
static uint8_t *encode(const struct blob_fixture *f, size_t n, size_t *len)
{
    size_t need = 0;
    uint8_t *buf = NULL;

    assert_int_equal(dep11_policy_blob_encode(&f->hdr, f->copies, n, NULL, 0, &need), CKR_OK);
    assert_int_equal(need, dep11_policy_blob_len(&f->hdr, f->copies, n));
    buf = malloc(need);
    assert_non_null(buf);
    assert_int_equal(dep11_policy_blob_encode(&f->hdr, f->copies, n, buf, need, len), CKR_OK);
    assert_int_equal(*len, need);
    return buf;
}

/* Parses a heap copy of exactly @len bytes of @src. */
static CK_RV parse_exact(const uint8_t *src, size_t len, struct dep11_policy_blob *out)
{
    uint8_t *buf = malloc(len ? len : 1);
    CK_RV rv;

    assert_non_null(buf);
    if (len)
        memcpy(buf, src, len);
    rv = dep11_policy_blob_parse(buf, len, out);
    free(buf);                       /* @out's pointers die here: callers */
    return rv;                       /* use only its by-value fields */
}

static void assert_copy_equal(const struct dep11_wrapped_copy *a,
                              const struct dep11_wrapped_copy *b)
{
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->alg, b->alg);
    assert_int_equal(a->key_id_len, b->key_id_len);
    assert_memory_equal(a->key_id, b->key_id, a->key_id_len);
    assert_int_equal(a->hint_len, b->hint_len);
    if (a->hint_len)
        assert_memory_equal(a->hint, b->hint, a->hint_len);
    assert_int_equal(a->data_len, b->data_len);
    assert_memory_equal(a->data, b->data, a->data_len);
}

static void assert_header_equal(const struct dep11_policy_header *a,
                                const struct dep11_policy_header *b)
{
    assert_int_equal(a->suite, b->suite);
    assert_memory_equal(a->policy_id, b->policy_id, 16);
    assert_int_equal(a->policy_type, b->policy_type);
    assert_memory_equal(a->tenant, b->tenant, 16);
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->managed_by, b->managed_by);
    assert_int_equal(a->geo_len, b->geo_len);
    if (a->geo_len)
        assert_memory_equal(a->geo, b->geo, a->geo_len);
    assert_int_equal(a->label_len, b->label_len);
    if (a->label_len)
        assert_memory_equal(a->label, b->label, a->label_len);
    assert_memory_equal(a->kcv, b->kcv, 16);
}

/* Encode, parse, compare, re-encode: for 1, 2, 3 and 4 copies. */
static void test_policy_round_trip(void **state)
{
    struct blob_fixture *f = *state;

    for (size_t n = 1; n <= DEP11_BLOB_MAX_COPIES; n++) {
        size_t len = 0, len2 = 0, hlen = 0;
        uint8_t *buf = encode(f, n, &len), *again = NULL, hdr[256];
        struct dep11_policy_blob b;
        static const uint8_t zero[DEP11_BLOB_MAC_LEN];

        assert_memory_equal(buf + len - DEP11_BLOB_MAC_LEN, zero, DEP11_BLOB_MAC_LEN);
        assert_int_equal(dep11_policy_blob_parse(buf, len, &b), CKR_OK);
        assert_header_equal(&b.hdr, &f->hdr);
        assert_int_equal(b.ncopies, n);
        for (size_t i = 0; i < n; i++)
            assert_copy_equal(&b.copies[i], &f->copies[i]);
        assert_ptr_equal(b.header_bytes, buf);
        assert_int_equal(b.header_len, dep11_policy_header_len(&f->hdr));
        assert_int_equal(b.mac_offset, len - DEP11_BLOB_MAC_LEN);
        assert_ptr_equal(b.mac, buf + b.mac_offset);
        /* The header encoder writes exactly the blob's leading bytes. */
        assert_int_equal(dep11_policy_header_encode(&f->hdr, hdr, sizeof hdr, &hlen), CKR_OK);
        assert_int_equal(hlen, b.header_len);
        assert_memory_equal(hdr, buf, hlen);
        /* Re-encoding the parsed blob gives the same bytes. */
        again = malloc(len);
        assert_non_null(again);
        assert_int_equal(dep11_policy_blob_encode(&b.hdr, b.copies, b.ncopies, again, len,
                                                  &len2), CKR_OK);
        assert_int_equal(len2, len);
        assert_memory_equal(again, buf, len);
        free(again);
        free(buf);
    }
}

/* The kind of availability copy a blob holds is its alg byte
 * (docs/FORMATS.md 6.3): RSA-OAEP SHA-1 / SHA-256 (an RSA availability key)
 * and AES-GCM round-trip; any other value of that byte is refused, also on
 * the availability copy. */
static void test_policy_availability_kinds(void **state)
{
    struct blob_fixture *f = *state;
    static const uint8_t good[] = { DEP11_ALG_RSA_OAEP_SHA1, DEP11_ALG_RSA_OAEP_SHA256,
                                    DEP11_ALG_AES_GCM };
    struct dep11_wrapped_copy *av = &f->copies[3];

    for (size_t i = 0; i < sizeof good; i++) {
        size_t len = 0;
        uint8_t *buf = NULL;
        struct dep11_policy_blob b;

        av->alg = good[i];
        av->key_id_len = 24;
        av->data_len = good[i] == DEP11_ALG_AES_GCM ? GCM_LEN : 256;
        buf = encode(f, 4, &len);
        assert_int_equal(dep11_policy_blob_parse(buf, len, &b), CKR_OK);
        assert_int_equal(b.copies[3].kind, DEP11_COPY_AVAILABILITY);
        assert_int_equal(b.copies[3].alg, good[i]);
        assert_int_equal(b.copies[3].data_len, av->data_len);
        /* The alg byte of the availability copy: 0 and 4..255 refused. */
        for (unsigned bad = 0; bad < 256; bad++) {
            size_t at = len - DEP11_BLOB_MAC_LEN - av->data_len - 2 - av->hint_len - 1 -
                        av->key_id_len - 2;
            uint8_t keep = buf[at];

            if (bad >= DEP11_ALG_RSA_OAEP_SHA1 && bad <= DEP11_ALG_AES_GCM)
                continue;
            assert_int_equal(buf[at - 1], DEP11_COPY_AVAILABILITY);
            buf[at] = (uint8_t)bad;
            assert_int_equal(parse_exact(buf, len, &b), CKR_WRAPPED_KEY_INVALID);
            buf[at] = keep;
        }
        free(buf);
    }
}

/* The exact layout, byte by byte, for one copy (docs/FORMATS.md). */
static void test_policy_layout(void **state)
{
    struct blob_fixture *f = *state;
    size_t len = 0, o = 0;
    uint8_t *buf = encode(f, 1, &len);
    const struct dep11_wrapped_copy *c = &f->copies[0];

    assert_memory_equal(buf, "D11P", 4);
    assert_int_equal(buf[4], 1);                  /* format */
    assert_int_equal(buf[5], 1);                  /* suite */
    assert_int_equal(buf[6], DEP11_POLICY_MAILBOX);
    assert_int_equal(buf[7], DEP11_MANAGED_CUSTOMER);
    assert_memory_equal(buf + 8, f->hdr.policy_id, 16);
    assert_memory_equal(buf + 24, f->hdr.tenant, 16);
    assert_memory_equal(buf + 40, "\x01\x02\x03\x04", 4);
    assert_int_equal(buf[44], 2);
    assert_memory_equal(buf + 45, "eu", 2);
    assert_int_equal(buf[47], 17);
    assert_memory_equal(buf + 48, "Contoso mailboxes", 17);
    assert_memory_equal(buf + 65, f->hdr.kcv, 16);
    o = 81;
    assert_int_equal(o, dep11_policy_header_len(&f->hdr));
    assert_int_equal(buf[o++], 1);                /* ncopies */
    assert_int_equal(buf[o++], c->kind);
    assert_int_equal(buf[o++], c->alg);
    assert_int_equal(buf[o++], 32);
    assert_memory_equal(buf + o, c->key_id, 32);
    o += 32;
    assert_int_equal(buf[o++], c->hint_len);
    o += c->hint_len;
    assert_int_equal(buf[o], 0x01);               /* 256, big-endian */
    assert_int_equal(buf[o + 1], 0x00);
    o += 2 + 256;
    assert_int_equal(o + DEP11_BLOB_MAC_LEN, len);
    free(buf);
}

static void test_policy_size_query(void **state)
{
    struct blob_fixture *f = *state;
    size_t need = dep11_policy_blob_len(&f->hdr, f->copies, 2), len = 0;
    uint8_t *buf = malloc(need);

    assert_non_null(buf);
    assert_int_equal(dep11_policy_blob_encode(&f->hdr, f->copies, 2, buf, need - 1, &len),
                     CKR_BUFFER_TOO_SMALL);
    assert_int_equal(len, need);
    len = 0;
    assert_int_equal(dep11_policy_header_encode(&f->hdr, buf, 80, &len), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(len, 81);
    assert_int_equal(dep11_policy_header_encode(&f->hdr, NULL, 0, &len), CKR_OK);
    assert_int_equal(len, 81);
    assert_int_equal(dep11_policy_blob_encode(&f->hdr, f->copies, 2, buf, need, &len), CKR_OK);
    assert_int_equal(len, need);
    free(buf);
}

/* The largest legal values of every variable field round-trip. */
static void test_policy_limits(void **state)
{
    struct blob_fixture *f = *state;
    struct dep11_policy_blob b;
    size_t len = 0;
    uint8_t *buf = NULL;

    f->hdr.geo_len = 16;
    fill(f->hdr.geo, 16, 'a');
    f->hdr.label_len = 64;
    fill(f->hdr.label, 64, 'A');
    f->hdr.version = UINT32_MAX;
    f->copies[0].data_len = DEP11_BLOB_COPY_DATA_MAX;
    fill(f->data[0], DEP11_BLOB_COPY_DATA_MAX, 1);
    f->copies[0].hint_len = 64;
    f->copies[3].key_id_len = 64;
    f->copies[3].hint_len = 64;
    buf = encode(f, 4, &len);
    assert_true(len <= DEP11_POLICY_BLOB_MAX);
    assert_int_equal(parse_exact(buf, len, &b), CKR_OK);
    assert_header_equal(&b.hdr, &f->hdr);
    assert_int_equal(b.copies[0].data_len, 512);
    assert_int_equal(b.copies[3].key_id_len, 64);
    free(buf);
}

/* Every field out of range is refused by the encoder. */
static void test_policy_encode_rejects(void **state)
{
    struct blob_fixture *f = *state;
    uint8_t buf[DEP11_POLICY_BLOB_MAX];
    size_t len = 0;

    for (int t = 0; t < 22; t++) {
        struct dep11_policy_header h = f->hdr;
        struct dep11_wrapped_copy c[DEP11_BLOB_MAX_COPIES];
        size_t n = 4;
        memcpy(c, f->copies, sizeof c);
        switch (t) {
        case 0: h.suite = 2; break;
        case 1: h.policy_type = 0; break;
        case 2: h.policy_type = 4; break;
        case 3: h.managed_by = 0; break;
        case 4: h.managed_by = 3; break;
        case 5: h.version = 0; break;
        case 6: h.geo_len = 17; break;
        case 7: h.label_len = 65; break;
        case 8: n = 0; break;
        case 9: n = 5; break;
        case 10: c[1].kind = c[0].kind; break;
        case 11: c[0].kind = 0; break;
        case 12: c[0].kind = 6; break;
        case 13: c[0].alg = 0; break;
        case 14: c[0].alg = 4; break;
        case 15: c[0].key_id_len = 0; break;
        case 16: c[3].key_id_len = 65; break;
        case 17: c[0].hint_len = 65; break;
        case 18: c[0].data_len = 0; break;
        case 19: c[0].data_len = 513; break;
        case 20: c[0].alg = DEP11_ALG_AES_GCM; break;   /* a root must be RSA */
        default: c[3].data_len = 59; break;             /* GCM copy is 60 */
        }
        assert_int_equal(dep11_policy_blob_encode(&h, c, n, buf, sizeof buf, &len),
                         CKR_ARGUMENTS_BAD);
        if (t <= 7)
            assert_int_equal(dep11_policy_header_encode(&h, buf, sizeof buf, &len),
                             CKR_ARGUMENTS_BAD);
    }
    assert_int_equal(dep11_policy_blob_encode(&f->hdr, f->copies, 4, buf, sizeof buf, NULL),
                     CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_policy_blob_encode(NULL, f->copies, 4, buf, sizeof buf, &len),
                     CKR_ARGUMENTS_BAD);
    f->copies[1].data = NULL;
    assert_int_equal(dep11_policy_blob_encode(&f->hdr, f->copies, 4, buf, sizeof buf, &len),
                     CKR_ARGUMENTS_BAD);
}

/* Every proper prefix of a valid blob, and the blob with a byte appended. */
static void test_policy_truncations(void **state)
{
    struct blob_fixture *f = *state;
    struct dep11_policy_blob b;
    size_t len = 0;
    uint8_t *buf = encode(f, 4, &len), *longer = malloc(len + 1);

    for (size_t l = 0; l < len; l++)
        assert_int_equal(parse_exact(buf, l, &b), CKR_WRAPPED_KEY_INVALID);
    assert_non_null(longer);
    memcpy(longer, buf, len);
    longer[len] = 0;
    assert_int_equal(parse_exact(longer, len + 1, &b), CKR_WRAPPED_KEY_INVALID);
    assert_int_equal(parse_exact(buf, len, &b), CKR_OK);
    free(longer);
    free(buf);
}

/* Every single-bit flip is rejected or parses to a blob that re-encodes to
 * exactly the flipped bytes (so some field changed): never a crash. */
static void test_policy_bit_flips(void **state)
{
    struct blob_fixture *f = *state;
    struct dep11_policy_blob b;
    size_t len = 0, len2 = 0, accepted = 0;
    uint8_t *buf = encode(f, 4, &len), *again = malloc(len);

    assert_non_null(again);
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            uint8_t *flip = malloc(len);
            CK_RV rv;
            assert_non_null(flip);
            memcpy(flip, buf, len);
            flip[i] ^= (uint8_t)(1u << bit);
            rv = dep11_policy_blob_parse(flip, len, &b);
            if (rv == CKR_OK) {
                accepted++;
                assert_int_equal(dep11_policy_blob_encode(&b.hdr, b.copies, b.ncopies,
                                                          again, len, &len2), CKR_OK);
                assert_int_equal(len2, len);
                assert_memory_equal(again, flip, b.mac_offset);
                assert_memory_equal(b.mac, flip + b.mac_offset, DEP11_BLOB_MAC_LEN);
            } else {
                assert_int_equal(rv, CKR_WRAPPED_KEY_INVALID);
            }
            /* magic, format and suite admit no other value */
            if (i < 6)
                assert_int_equal(rv, CKR_WRAPPED_KEY_INVALID);
            free(flip);
        }
    }
    assert_true(accepted > 0 && accepted < len * 8);
    free(again);
    free(buf);
}

struct patch {
    size_t off;
    int nbytes;        /* 1, 2 (u16be) or 4 (u32be) */
    uint32_t value;
    CK_RV expect;
};

static void apply(uint8_t *p, const struct patch *pt)
{
    for (int k = 0; k < pt->nbytes; k++)
        p[pt->off + k] = (uint8_t)(pt->value >> (8 * (pt->nbytes - 1 - k)));
}

/* Each malformed field of a two-copy blob, patched into the bytes. */
static void test_policy_parse_rejects(void **state)
{
    struct blob_fixture *f = *state;
    struct dep11_policy_blob b;
    size_t len = 0;
    uint8_t *buf = encode(f, 2, &len), *big = NULL;
    const size_t h = dep11_policy_header_len(&f->hdr), c0 = h + 1;
    const size_t c1 = c0 + 6 + 32 + f->copies[0].hint_len + f->copies[0].data_len;
    const size_t d0 = c0 + 4 + 32 + f->copies[0].hint_len;
    const CK_RV bad = CKR_WRAPPED_KEY_INVALID;
    const struct patch patches[] = {
        { 0, 1, 'X', bad }, { 3, 1, 'C', bad },         /* magic ("D11C" is a child) */
        { 4, 1, 0, bad }, { 4, 1, 2, bad },             /* format */
        { 5, 1, 0, bad }, { 5, 1, 2, bad },             /* suite */
        { 6, 1, 0, bad }, { 6, 1, 4, bad },             /* policy type */
        { 6, 1, 3, CKR_OK },
        { 7, 1, 0, bad }, { 7, 1, 3, bad },             /* managed by */
        { 40, 4, 0, bad }, { 40, 4, 1, CKR_OK },        /* version */
        { 44, 1, 17, bad }, { 44, 1, 255, bad },        /* geo length */
        { 47, 1, 65, bad }, { 47, 1, 255, bad },        /* label length */
        { h, 1, 0, bad }, { h, 1, 3, bad }, { h, 1, 5, bad }, { h, 1, 255, bad },
        { h, 1, 1, bad },                               /* 1 copy + trailing bytes */
        { c0, 1, 0, bad }, { c0, 1, 6, bad },           /* kind */
        { c1, 1, DEP11_COPY_CUSTOMER_1, bad },          /* duplicate kind */
        { c1, 1, DEP11_COPY_AVAILABILITY, CKR_OK },     /* RSA availability copy */
        { c0 + 1, 1, 0, bad }, { c0 + 1, 1, 4, bad },   /* alg */
        { c0 + 1, 1, DEP11_ALG_AES_GCM, bad },          /* root with GCM */
        { c0 + 2, 1, 0, bad }, { c0 + 2, 1, 65, bad },  /* key id length */
        { c0 + 2, 1, 31, bad },                         /* root id must be 32 */
        { c0 + 3 + 32, 1, 65, bad },                    /* hint length */
        { d0, 2, 0, bad }, { d0, 2, 513, bad }, { d0, 2, 0xffff, bad },
        { d0, 2, 255, bad },                            /* data length mismatch */
    };

    for (size_t i = 0; i < sizeof patches / sizeof patches[0]; i++) {
        uint8_t *p = malloc(len);
        assert_non_null(p);
        memcpy(p, buf, len);
        apply(p, &patches[i]);
        if (dep11_policy_blob_parse(p, len, &b) != patches[i].expect)
            fail_msg("patch %zu (offset %zu value %u)", i, patches[i].off,
                     (unsigned)patches[i].value);
        free(p);
    }
    /* An availability copy with GCM must be 60 bytes. */
    {
        uint8_t *p = malloc(len);
        assert_non_null(p);
        memcpy(p, buf, len);
        p[c1] = DEP11_COPY_AVAILABILITY;
        p[c1 + 1] = DEP11_ALG_AES_GCM;
        assert_int_equal(dep11_policy_blob_parse(p, len, &b), bad);
        free(p);
    }
    /* Oversized input, even with a valid prefix. */
    big = calloc(1, DEP11_POLICY_BLOB_MAX + 1);
    assert_non_null(big);
    memcpy(big, buf, len);
    assert_int_equal(dep11_policy_blob_parse(big, DEP11_POLICY_BLOB_MAX + 1, &b), bad);
    assert_int_equal(dep11_policy_blob_parse(NULL, 0, &b), bad);
    assert_int_equal(dep11_policy_blob_parse(buf, len, NULL), CKR_ARGUMENTS_BAD);
    free(big);
    free(buf);
}

/* --- child blobs --------------------------------------------------------- */

static uint8_t *child_blob(const struct blob_fixture *f)
{
    uint8_t *buf = malloc(DEP11_CHILD_BLOB_LEN);

    assert_non_null(buf);
    assert_int_equal(dep11_child_header_encode(&f->child, buf), CKR_OK);
    fill(buf + DEP11_CHILD_HEADER_LEN, DEP11_CHILD_BLOB_LEN - DEP11_CHILD_HEADER_LEN, 0x90);
    return buf;
}

static void test_child_round_trip(void **state)
{
    struct blob_fixture *f = *state;
    uint8_t *buf = child_blob(f);
    struct dep11_child_blob b;
    const uint8_t roles[3] = { DEP11_ROLE_MAILBOX, DEP11_ROLE_WORKLOAD, DEP11_ROLE_SITE };

    assert_int_equal(DEP11_CHILD_HEADER_LEN, 40);
    assert_int_equal(DEP11_CHILD_BLOB_LEN, 100);
    assert_int_equal(BLOB_SUITE1, DEP11_SUITE1);   /* blob's private copies agree */
    assert_int_equal(BLOB_KCV_LEN, DEP11_KCV_LEN);
    assert_memory_equal(buf, "D11C\x01\x01\x04", 7);
    assert_memory_equal(buf + 7, f->child.policy_id, 16);
    assert_int_equal(buf[23], DEP11_POLICY_FILES);
    assert_memory_equal(buf + 24, f->child.owner, 16);
    assert_int_equal(dep11_child_blob_parse(buf, DEP11_CHILD_BLOB_LEN, &b), CKR_OK);
    assert_int_equal(b.hdr.suite, 1);
    assert_int_equal(b.hdr.role, DEP11_ROLE_SITE);
    assert_int_equal(b.hdr.policy_type, DEP11_POLICY_FILES);
    assert_memory_equal(b.hdr.policy_id, f->child.policy_id, 16);
    assert_memory_equal(b.hdr.owner, f->child.owner, 16);
    assert_ptr_equal(b.header_bytes, buf);
    assert_ptr_equal(b.nonce, buf + 40);
    assert_ptr_equal(b.ct, buf + 52);
    assert_ptr_equal(b.tag, buf + 84);
    free(buf);
    for (int i = 0; i < 3; i++) {
        f->child.role = roles[i];
        for (uint8_t t = 1; t <= 3; t++) {
            f->child.policy_type = t;
            buf = child_blob(f);
            assert_int_equal(dep11_child_blob_parse(buf, DEP11_CHILD_BLOB_LEN, &b), CKR_OK);
            assert_int_equal(b.hdr.role, roles[i]);
            assert_int_equal(b.hdr.policy_type, t);
            free(buf);
        }
    }
}

static void test_child_rejects(void **state)
{
    struct blob_fixture *f = *state;
    uint8_t *buf = child_blob(f), *p = NULL, out[DEP11_CHILD_HEADER_LEN];
    struct dep11_child_blob b;
    const struct patch patches[] = {
        { 0, 1, 'X', 0 }, { 3, 1, 'P', 0 }, { 4, 1, 0, 0 }, { 4, 1, 2, 0 },
        { 5, 1, 0, 0 }, { 5, 1, 2, 0 }, { 6, 1, 0, 0 }, { 6, 1, DEP11_ROLE_POLICY, 0 },
        { 6, 1, DEP11_ROLE_CHUNK, 0 }, { 6, 1, 255, 0 }, { 23, 1, 0, 0 }, { 23, 1, 4, 0 },
    };

    for (size_t l = 0; l < DEP11_CHILD_BLOB_LEN; l++) {
        p = malloc(l ? l : 1);
        assert_non_null(p);
        memcpy(p, buf, l);
        assert_int_equal(dep11_child_blob_parse(p, l, &b), CKR_WRAPPED_KEY_INVALID);
        free(p);
    }
    p = malloc(DEP11_CHILD_BLOB_LEN + 1);
    assert_non_null(p);
    memcpy(p, buf, DEP11_CHILD_BLOB_LEN);
    p[DEP11_CHILD_BLOB_LEN] = 0;
    assert_int_equal(dep11_child_blob_parse(p, DEP11_CHILD_BLOB_LEN + 1, &b),
                     CKR_WRAPPED_KEY_INVALID);
    free(p);
    for (size_t i = 0; i < sizeof patches / sizeof patches[0]; i++) {
        p = malloc(DEP11_CHILD_BLOB_LEN);
        assert_non_null(p);
        memcpy(p, buf, DEP11_CHILD_BLOB_LEN);
        apply(p, &patches[i]);
        assert_int_equal(dep11_child_blob_parse(p, DEP11_CHILD_BLOB_LEN, &b),
                         CKR_WRAPPED_KEY_INVALID);
        free(p);
    }
    f->child.role = DEP11_ROLE_POLICY;
    assert_int_equal(dep11_child_header_encode(&f->child, out), CKR_ARGUMENTS_BAD);
    f->child.role = DEP11_ROLE_CHUNK;
    assert_int_equal(dep11_child_header_encode(&f->child, out), CKR_ARGUMENTS_BAD);
    f->child.role = DEP11_ROLE_MAILBOX;
    f->child.policy_type = 4;
    assert_int_equal(dep11_child_header_encode(&f->child, out), CKR_ARGUMENTS_BAD);
    f->child.policy_type = 1;
    f->child.suite = 2;
    assert_int_equal(dep11_child_header_encode(&f->child, out), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_child_header_encode(NULL, out), CKR_ARGUMENTS_BAD);
    free(buf);
}

/* A flip in the header is rejected or changes a parsed field; a flip in
 * nonce, wrapped key or tag parses (GCM catches it) with the same header. */
static void test_child_bit_flips(void **state)
{
    struct blob_fixture *f = *state;
    uint8_t *buf = child_blob(f), again[DEP11_CHILD_HEADER_LEN];
    struct dep11_child_blob b;

    for (size_t i = 0; i < DEP11_CHILD_BLOB_LEN; i++) {
        for (int bit = 0; bit < 8; bit++) {
            uint8_t *p = malloc(DEP11_CHILD_BLOB_LEN);
            CK_RV rv;
            assert_non_null(p);
            memcpy(p, buf, DEP11_CHILD_BLOB_LEN);
            p[i] ^= (uint8_t)(1u << bit);
            rv = dep11_child_blob_parse(p, DEP11_CHILD_BLOB_LEN, &b);
            if (i < 7)   /* magic, format, suite: no other value is valid */
                assert_int_equal(rv, CKR_WRAPPED_KEY_INVALID);
            if (rv == CKR_OK) {
                assert_int_equal(dep11_child_header_encode(&b.hdr, again), CKR_OK);
                assert_memory_equal(again, p, DEP11_CHILD_HEADER_LEN);
                if (i >= DEP11_CHILD_HEADER_LEN)
                    assert_memory_equal(again, buf, DEP11_CHILD_HEADER_LEN);
                else
                    assert_memory_not_equal(again, buf, DEP11_CHILD_HEADER_LEN);
            } else {
                assert_int_equal(rv, CKR_WRAPPED_KEY_INVALID);
                assert_true(i < DEP11_CHILD_HEADER_LEN);
            }
            free(p);
        }
    }
    free(buf);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, blob_setup, blob_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_policy_round_trip),    T(test_policy_availability_kinds),
        T(test_policy_layout),        T(test_policy_size_query),
        T(test_policy_limits),        T(test_policy_encode_rejects),
        T(test_policy_truncations),   T(test_policy_bit_flips),
        T(test_policy_parse_rejects), T(test_child_round_trip),
        T(test_child_rejects),        T(test_child_bit_flips),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
