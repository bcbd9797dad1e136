/*
 * test_hier_aead.c - data AEAD on module-side keys: CKM_DEP11_AEAD,
 * CKM_DEP11_CHUNK_AEAD and CKM_AES_GCM, one-shot against multi-part, the
 * size-query protocol, tamper detection and the caller-IV rule.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hier/hier.h"
#include "crypto/crypto.h"
#include "crypto/suite1.h"
#include "util/secmem.h"
#include "../gcm_params.h"

#define PT_LEN 1000

struct fx {
    struct dep11_config *cfg;
    struct dep11_key *mailbox, *site, *policy;
    uint8_t pt[PT_LEN];
    uint8_t aad[20];
    CK_DEP11_AEAD_PARAMS ap;
    CK_MECHANISM mech;         /* CKM_DEP11_AEAD with ap */
};

static struct dep11_key *gen(CK_ULONG role)
{
    struct dep11_keygen_req req;
    struct dep11_key *k = NULL;

    memset(&req, 0, sizeof(req));
    req.role = role;
    if (role == DEP11_ROLE_POLICY) {
        req.policy_type = DEP11_POLICY_FILES;
        req.has_tenant = 1;
    }
    assert_int_equal(dep11_key_generate(&req, &k), CKR_OK);
    return k;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->cfg = calloc(1, sizeof(*f->cfg));
    assert_non_null(f->cfg);
    f->mailbox = gen(DEP11_ROLE_MAILBOX);
    f->site = gen(DEP11_ROLE_SITE);
    f->policy = gen(DEP11_ROLE_POLICY);
    for (size_t i = 0; i < PT_LEN; i++)
        f->pt[i] = (uint8_t)(i * 7 + 3);
    memcpy(f->aad, "mailbox 42 item 9001", sizeof(f->aad));
    f->ap.pAAD = f->aad;
    f->ap.ulAADLen = sizeof(f->aad);
    f->mech.mechanism = CKM_DEP11_AEAD;
    f->mech.pParameter = &f->ap;
    f->mech.ulParameterLen = sizeof(f->ap);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    dep11_key_free(f->mailbox);
    dep11_key_free(f->site);
    dep11_key_free(f->policy);
    free(f->cfg);
    free(f);
    return 0;
}

/* One-shot through a fresh op; returns the CKR code. */
static CK_RV oneshot(struct fx *f, const struct dep11_key *k, int enc, const CK_MECHANISM *m,
                     const uint8_t *in, CK_ULONG in_len, uint8_t *out, CK_ULONG *out_len)
{
    struct dep11_aead_op *op = NULL;
    CK_RV rv = dep11_aead_init(f->cfg, k, enc, m, &op);

    if (rv == CKR_OK)
        rv = dep11_aead_oneshot(op, in, in_len, out, out_len);
    dep11_aead_free(op);
    return rv;
}

/* Multi-part in pieces of @step bytes; returns the CKR code. */
static CK_RV multipart(struct fx *f, const struct dep11_key *k, int enc, const CK_MECHANISM *m,
                       const uint8_t *in, CK_ULONG in_len, CK_ULONG step, uint8_t *out,
                       CK_ULONG *out_len)
{
    struct dep11_aead_op *op = NULL;
    CK_ULONG done = 0, n = 0, cap = *out_len;
    CK_RV rv = dep11_aead_init(f->cfg, k, enc, m, &op);

    for (CK_ULONG i = 0; rv == CKR_OK && i < in_len; i += step) {
        CK_ULONG part = in_len - i < step ? in_len - i : step;
        n = cap - done;
        rv = dep11_aead_update(op, in + i, part, out + done, &n);
        if (rv == CKR_OK && !enc)
            assert_int_equal(n, 0); /* nothing released before Final */
        done += n;
    }
    if (rv == CKR_OK) {
        n = cap - done;
        rv = dep11_aead_final(op, out + done, &n);
        done += n;
    }
    *out_len = done;
    dep11_aead_free(op);
    return rv;
}

static void test_roundtrips(void **state)
{
    struct fx *f = *state;
    uint8_t ct1[PT_LEN + 28], ct2[PT_LEN + 28], back[PT_LEN + 28];
    CK_ULONG l1 = sizeof(ct1), l2 = sizeof(ct2), lb = sizeof(back);

    assert_int_equal(oneshot(f, f->mailbox, 1, &f->mech, f->pt, PT_LEN, ct1, &l1), CKR_OK);
    assert_int_equal(l1, PT_LEN + 28);
    assert_int_equal(multipart(f, f->mailbox, 1, &f->mech, f->pt, PT_LEN, 333, ct2, &l2), CKR_OK);
    assert_int_equal(l2, PT_LEN + 28);
    assert_memory_not_equal(ct1, ct2, 12); /* a fresh nonce every op */
    /* each opens the other's output */
    assert_int_equal(multipart(f, f->mailbox, 0, &f->mech, ct1, l1, 100, back, &lb), CKR_OK);
    assert_int_equal(lb, PT_LEN);
    assert_memory_equal(back, f->pt, PT_LEN);
    lb = sizeof(back);
    assert_int_equal(oneshot(f, f->mailbox, 0, &f->mech, ct2, l2, back, &lb), CKR_OK);
    assert_int_equal(lb, PT_LEN);
    assert_memory_equal(back, f->pt, PT_LEN);
    /* one-byte pieces, and an empty message */
    lb = sizeof(back);
    assert_int_equal(multipart(f, f->mailbox, 0, &f->mech, ct1, l1, 1, back, &lb), CKR_OK);
    assert_memory_equal(back, f->pt, PT_LEN);
    l1 = sizeof(ct1);
    assert_int_equal(multipart(f, f->mailbox, 1, &f->mech, NULL, 0, 1, ct1, &l1), CKR_OK);
    assert_int_equal(l1, 28); /* Final emits nonce and tag */
    lb = sizeof(back);
    assert_int_equal(oneshot(f, f->mailbox, 0, &f->mech, ct1, l1, back, &lb), CKR_OK);
    assert_int_equal(lb, 0);
    /* the ciphertext is AES-256-GCM under the key with the AAD */
    l1 = sizeof(ct1);
    assert_int_equal(oneshot(f, f->mailbox, 1, &f->mech, f->pt, 64, ct1, &l1), CKR_OK);
    assert_int_equal(dep11_gcm_open(f->mailbox->value, ct1, 12, f->aad, sizeof(f->aad),
                                    ct1 + 12, 64, ct1 + 76, 16, back), CKR_OK);
    assert_memory_equal(back, f->pt, 64);
}

static void test_tamper(void **state)
{
    struct fx *f = *state;
    uint8_t ct[128 + 28], back[128 + 28];
    CK_ULONG l = sizeof(ct), lb = 0;
    CK_MECHANISM noaad = { CKM_DEP11_AEAD, NULL, 0 };

    assert_int_equal(oneshot(f, f->mailbox, 1, &f->mech, f->pt, 128, ct, &l), CKR_OK);
    for (size_t i = 0; i < l; i++) {
        ct[i] ^= 0x80;
        memset(back, 0xAA, sizeof(back));
        lb = sizeof(back);
        assert_int_equal(oneshot(f, f->mailbox, 0, &f->mech, ct, l, back, &lb),
                         CKR_ENCRYPTED_DATA_INVALID);
        assert_memory_not_equal(back, f->pt, 16);
        for (size_t j = 0; j < 128; j++)
            assert_true(back[j] == 0 || back[j] == 0xAA); /* cleansed or untouched */
        lb = sizeof(back);
        memset(back, 0xAA, sizeof(back));
        assert_int_equal(multipart(f, f->mailbox, 0, &f->mech, ct, l, 50, back, &lb),
                         CKR_ENCRYPTED_DATA_INVALID);
        for (size_t j = 0; j < 128; j++)
            assert_true(back[j] == 0 || back[j] == 0xAA);
        ct[i] ^= 0x80;
    }
    /* other AAD, other key */
    lb = sizeof(back);
    assert_int_equal(oneshot(f, f->mailbox, 0, &noaad, ct, l, back, &lb),
                     CKR_ENCRYPTED_DATA_INVALID);
    struct dep11_key *other = gen(DEP11_ROLE_MAILBOX);
    lb = sizeof(back);
    assert_int_equal(oneshot(f, other, 0, &f->mech, ct, l, back, &lb), CKR_ENCRYPTED_DATA_INVALID);
    dep11_key_free(other);
    /* short inputs */
    lb = sizeof(back);
    assert_int_equal(oneshot(f, f->mailbox, 0, &f->mech, ct, 27, back, &lb),
                     CKR_ENCRYPTED_DATA_LEN_RANGE);
    lb = sizeof(back);
    assert_int_equal(multipart(f, f->mailbox, 0, &f->mech, ct, 27, 5, back, &lb),
                     CKR_ENCRYPTED_DATA_LEN_RANGE);
}

static void test_size_queries(void **state)
{
    struct fx *f = *state;
    struct dep11_aead_op *op = NULL;
    uint8_t ct[300], back[300];
    CK_ULONG l = 0, total = 0;

    /* one-shot encrypt: query, short buffer, then the same op succeeds */
    assert_int_equal(dep11_aead_init(f->cfg, f->mailbox, 1, &f->mech, &op), CKR_OK);
    assert_int_equal(dep11_aead_oneshot(op, f->pt, 100, NULL, &l), CKR_OK);
    assert_int_equal(l, 128);
    l = 127;
    assert_int_equal(dep11_aead_oneshot(op, f->pt, 100, ct, &l), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(l, 128);
    l = sizeof(ct);
    assert_int_equal(dep11_aead_oneshot(op, f->pt, 100, ct, &l), CKR_OK);
    assert_int_equal(l, 128);
    assert_int_equal(dep11_aead_oneshot(op, f->pt, 100, ct, &l), CKR_OPERATION_NOT_INITIALIZED);
    dep11_aead_free(op);
    /* multi-part encrypt: the first update announces nonce + data */
    assert_int_equal(dep11_aead_init(f->cfg, f->mailbox, 1, &f->mech, &op), CKR_OK);
    assert_int_equal(dep11_aead_update(op, f->pt, 40, NULL, &l), CKR_OK);
    assert_int_equal(l, 52);
    l = 51;
    assert_int_equal(dep11_aead_update(op, f->pt, 40, ct, &l), CKR_BUFFER_TOO_SMALL);
    l = sizeof(ct);
    assert_int_equal(dep11_aead_update(op, f->pt, 40, ct, &l), CKR_OK);
    assert_int_equal(l, 52);
    total = l;
    assert_int_equal(dep11_aead_update(op, f->pt + 40, 60, NULL, &l), CKR_OK);
    assert_int_equal(l, 60);
    l = sizeof(ct) - total;
    assert_int_equal(dep11_aead_update(op, f->pt + 40, 60, ct + total, &l), CKR_OK);
    total += l;
    assert_int_equal(dep11_aead_final(op, NULL, &l), CKR_OK);
    assert_int_equal(l, 16);
    l = 15;
    assert_int_equal(dep11_aead_final(op, ct + total, &l), CKR_BUFFER_TOO_SMALL);
    l = sizeof(ct) - total;
    assert_int_equal(dep11_aead_final(op, ct + total, &l), CKR_OK);
    total += l;
    assert_int_equal(total, 128);
    dep11_aead_free(op);
    /* multi-part decrypt: Final announces buffered - 28 */
    assert_int_equal(dep11_aead_init(f->cfg, f->mailbox, 0, &f->mech, &op), CKR_OK);
    l = sizeof(back);
    assert_int_equal(dep11_aead_update(op, ct, 70, back, &l), CKR_OK);
    assert_int_equal(l, 0);
    l = sizeof(back);
    assert_int_equal(dep11_aead_update(op, ct + 70, 58, back, &l), CKR_OK);
    assert_int_equal(l, 0);
    assert_int_equal(dep11_aead_final(op, NULL, &l), CKR_OK);
    assert_int_equal(l, 100);
    l = 99;
    assert_int_equal(dep11_aead_final(op, back, &l), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(l, 100);
    l = 100;
    assert_int_equal(dep11_aead_final(op, back, &l), CKR_OK);
    assert_memory_equal(back, f->pt, 100);
    dep11_aead_free(op);
    /* one-shot decrypt size query */
    assert_int_equal(dep11_aead_init(f->cfg, f->mailbox, 0, &f->mech, &op), CKR_OK);
    assert_int_equal(dep11_aead_oneshot(op, ct, 128, NULL, &l), CKR_OK);
    assert_int_equal(l, 100);
    l = 10;
    assert_int_equal(dep11_aead_oneshot(op, ct, 128, back, &l), CKR_BUFFER_TOO_SMALL);
    l = 100;
    assert_int_equal(dep11_aead_oneshot(op, ct, 128, back, &l), CKR_OK);
    dep11_aead_free(op);
}

static void test_buffer_limit_and_inplace(void **state)
{
    struct fx *f = *state;
    struct dep11_aead_op *op = NULL;
    uint8_t buf[200 + 28], one[1] = { 0 };
    CK_ULONG l = sizeof(buf);

    assert_int_equal(dep11_aead_init(f->cfg, f->mailbox, 0, &f->mech, &op), CKR_OK);
    /* the length check comes before any copy */
    assert_int_equal(dep11_aead_update(op, one, DEP11_AEAD_MAX_BUFFERED + 1, buf, &l),
                     CKR_ENCRYPTED_DATA_LEN_RANGE);
    dep11_aead_free(op);
    /* in place: out == in, both directions */
    memcpy(buf, f->pt, 200);
    l = sizeof(buf);
    assert_int_equal(oneshot(f, f->mailbox, 1, &f->mech, buf, 200, buf, &l), CKR_OK);
    assert_int_equal(l, 228);
    assert_int_equal(oneshot(f, f->mailbox, 0, &f->mech, buf, 228, buf, &l), CKR_OK);
    assert_int_equal(l, 200);
    assert_memory_equal(buf, f->pt, 200);
}

static void test_params(void **state)
{
    struct fx *f = *state;
    struct dep11_aead_op *op = NULL;
    CK_DEP11_AEAD_PARAMS p = { NULL, 4 };
    CK_MECHANISM m = { CKM_DEP11_AEAD, &p, sizeof(p) - 1 };
    uint8_t aad[4] = "abcd", ct[64], back[64];
    CK_ULONG l = sizeof(ct), lb = sizeof(back);

    assert_int_equal(dep11_aead_init(f->cfg, f->mailbox, 1, &m, &op), CKR_MECHANISM_PARAM_INVALID);
    m.ulParameterLen = sizeof(p);
    assert_int_equal(dep11_aead_init(f->cfg, f->mailbox, 1, &m, &op), CKR_MECHANISM_PARAM_INVALID);
    m.pParameter = NULL;
    assert_int_equal(dep11_aead_init(f->cfg, f->mailbox, 1, &m, &op), CKR_MECHANISM_PARAM_INVALID);
    m.ulParameterLen = 0;
    assert_int_equal(dep11_aead_init(f->cfg, f->mailbox, 1, &m, &op), CKR_OK);
    dep11_aead_free(op);
    op = NULL;
    m.mechanism = CKM_AES_CBC_PAD;
    assert_int_equal(dep11_aead_init(f->cfg, f->mailbox, 1, &m, &op), CKR_MECHANISM_INVALID);
    assert_null(op);
    /* AAD is copied at init; the key may go away after init */
    struct dep11_key *k = gen(DEP11_ROLE_WORKLOAD);
    uint8_t kv[32];
    memcpy(kv, k->value, 32);
    p.pAAD = aad;
    m.mechanism = CKM_DEP11_AEAD;
    m.pParameter = &p;
    m.ulParameterLen = sizeof(p);
    assert_int_equal(dep11_aead_init(f->cfg, k, 1, &m, &op), CKR_OK);
    aad[0] = 'X';
    dep11_key_free(k);
    assert_int_equal(dep11_aead_oneshot(op, f->pt, 20, ct, &l), CKR_OK);
    dep11_aead_free(op);
    assert_int_equal(dep11_gcm_open(kv, ct, 12, (const uint8_t *)"abcd", 4, ct + 12, 20,
                                    ct + 32, 16, back), CKR_OK);
    assert_memory_equal(back, f->pt, 20);
    (void)lb;
    /* roles */
    assert_int_equal(dep11_aead_init(f->cfg, f->site, 1, &f->mech, &op),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(dep11_aead_init(f->cfg, f->policy, 0, &f->mech, &op),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_null(op);
}

static void test_chunk_aead(void **state)
{
    struct fx *f = *state;
    CK_DEP11_CHUNK_PARAMS cp;
    CK_MECHANISM m = { CKM_DEP11_CHUNK_AEAD, &cp, sizeof(cp) };
    struct dep11_key *chunk = NULL;
    uint8_t ct[300 + 28], back[300 + 28], aad[DEP11_CHUNK_AAD_LEN];
    CK_DEP11_AEAD_PARAMS ap = { aad, sizeof(aad) };
    CK_MECHANISM am = { CKM_DEP11_AEAD, &ap, sizeof(ap) };
    CK_ULONG l = sizeof(ct), lb = sizeof(back);

    memset(cp.fileId, 0x5a, sizeof(cp.fileId));
    cp.ulChunkIndex = 3;
    assert_int_equal(oneshot(f, f->site, 1, &m, f->pt, 300, ct, &l), CKR_OK);
    assert_int_equal(l, 328);
    assert_int_equal(multipart(f, f->site, 0, &m, ct, l, 77, back, &lb), CKR_OK);
    assert_int_equal(lb, 300);
    assert_memory_equal(back, f->pt, 300);
    /* = AEAD with the derived chunk key and the chunk AAD */
    assert_int_equal(dep11_chunk_derive(f->site, cp.fileId, 3, &chunk), CKR_OK);
    dep11_suite1_chunk_aad(cp.fileId, 3, aad);
    lb = sizeof(back);
    assert_int_equal(oneshot(f, chunk, 0, &am, ct, l, back, &lb), CKR_OK);
    assert_memory_equal(back, f->pt, 300);
    dep11_key_free(chunk);
    /* another index or file does not open it */
    cp.ulChunkIndex = 4;
    lb = sizeof(back);
    assert_int_equal(oneshot(f, f->site, 0, &m, ct, l, back, &lb), CKR_ENCRYPTED_DATA_INVALID);
    cp.ulChunkIndex = 3;
    cp.fileId[0] ^= 1;
    lb = sizeof(back);
    assert_int_equal(oneshot(f, f->site, 0, &m, ct, l, back, &lb), CKR_ENCRYPTED_DATA_INVALID);
    /* parameter rules and roles */
    m.ulParameterLen = sizeof(cp) + 1;
    assert_int_equal(oneshot(f, f->site, 1, &m, f->pt, 10, ct, &l), CKR_MECHANISM_PARAM_INVALID);
    m.pParameter = NULL;
    m.ulParameterLen = 0;
    assert_int_equal(oneshot(f, f->site, 1, &m, f->pt, 10, ct, &l), CKR_MECHANISM_PARAM_INVALID);
    m.pParameter = &cp;
    m.ulParameterLen = sizeof(cp);
    assert_int_equal(oneshot(f, f->mailbox, 1, &m, f->pt, 10, ct, &l),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
}

/* A flat parameter (include/dep11.h) in @buf: @hdr header bytes ending in
 * version, flags and AAD length, then @aad_len bytes of @aad. Returns the
 * parameter length. */
static CK_ULONG flat(uint8_t *buf, size_t hdr, CK_ULONG version, CK_ULONG flags,
                     const uint8_t *aad, CK_ULONG aad_len)
{
    CK_ULONG tail[3] = { version, flags, aad_len };

    memcpy(buf + hdr - sizeof(tail), tail, sizeof(tail));
    if (aad_len != 0)
        memcpy(buf + hdr, aad, aad_len);
    return (CK_ULONG)(hdr + aad_len);
}

/* CKM_DEP11_AEAD's flat form: the same output as the pointer form (either
 * opens the other's), AAD bound, exact lengths, version and flags checked. */
static void test_flat_aead(void **state)
{
    struct fx *f = *state;
    const size_t hdr = sizeof(CK_DEP11_AEAD_FLAT_PARAMS), max = 64 * 1024;
    uint8_t *buf = calloc(1, hdr + max + 2), *big = calloc(1, max + 1);
    uint8_t ct[PT_LEN + 28], back[PT_LEN + 28];
    CK_MECHANISM m = { CKM_DEP11_AEAD, buf, 0 }, none = { CKM_DEP11_AEAD, NULL, 0 };
    CK_ULONG l = sizeof(ct), lb = sizeof(back);
    struct dep11_aead_op *op = NULL;

    assert_non_null(buf);
    assert_non_null(big);
    assert_int_not_equal(hdr, sizeof(CK_DEP11_AEAD_PARAMS));
    m.ulParameterLen = flat(buf, hdr, DEP11_AEAD_FLAT_VERSION, 0, f->aad, sizeof(f->aad));
    assert_int_equal(oneshot(f, f->mailbox, 1, &m, f->pt, PT_LEN, ct, &l), CKR_OK);
    assert_int_equal(multipart(f, f->mailbox, 0, &f->mech, ct, l, 100, back, &lb), CKR_OK);
    assert_int_equal(lb, PT_LEN);
    assert_memory_equal(back, f->pt, PT_LEN);
    l = sizeof(ct);
    lb = sizeof(back);
    assert_int_equal(oneshot(f, f->mailbox, 1, &f->mech, f->pt, 50, ct, &l), CKR_OK);
    assert_int_equal(multipart(f, f->mailbox, 0, &m, ct, l, 7, back, &lb), CKR_OK);
    assert_memory_equal(back, f->pt, 50);
    /* another AAD does not open it; an empty flat AAD is the no-parameter form */
    buf[hdr] ^= 1;
    lb = sizeof(back);
    assert_int_equal(oneshot(f, f->mailbox, 0, &m, ct, l, back, &lb), CKR_ENCRYPTED_DATA_INVALID);
    m.ulParameterLen = flat(buf, hdr, DEP11_AEAD_FLAT_VERSION, 0, NULL, 0);
    l = sizeof(ct);
    lb = sizeof(back);
    assert_int_equal(oneshot(f, f->mailbox, 1, &m, f->pt, 30, ct, &l), CKR_OK);
    assert_int_equal(oneshot(f, f->mailbox, 0, &none, ct, l, back, &lb), CKR_OK);
    /* malformed: a byte short or long, header cut, version, flags, AAD bound */
    m.ulParameterLen = flat(buf, hdr, DEP11_AEAD_FLAT_VERSION, 0, f->aad, sizeof(f->aad));
    for (int d = -1; d <= 1; d += 2) {
        CK_MECHANISM bad = { CKM_DEP11_AEAD, buf, m.ulParameterLen + (CK_ULONG)d };
        assert_int_equal(dep11_aead_init(f->cfg, f->mailbox, 1, &bad, &op), CKR_MECHANISM_PARAM_INVALID);
        assert_null(op);
    }
    for (CK_ULONG cut = 1; cut < hdr; cut++) {
        CK_MECHANISM bad = { CKM_DEP11_AEAD, buf, cut };
        if (cut != sizeof(CK_DEP11_AEAD_PARAMS))
            assert_int_equal(dep11_aead_init(f->cfg, f->mailbox, 1, &bad, &op),
                             CKR_MECHANISM_PARAM_INVALID);
        assert_null(op);
    }
    m.ulParameterLen = flat(buf, hdr, DEP11_AEAD_FLAT_VERSION + 1, 0, f->aad, sizeof(f->aad));
    assert_int_equal(dep11_aead_init(f->cfg, f->mailbox, 1, &m, &op), CKR_MECHANISM_PARAM_INVALID);
    m.ulParameterLen = flat(buf, hdr, DEP11_AEAD_FLAT_VERSION, 1, f->aad, sizeof(f->aad));
    assert_int_equal(dep11_aead_init(f->cfg, f->mailbox, 1, &m, &op), CKR_MECHANISM_PARAM_INVALID);
    m.ulParameterLen = flat(buf, hdr, DEP11_AEAD_FLAT_VERSION, 0, big, max + 1);
    assert_int_equal(dep11_aead_init(f->cfg, f->mailbox, 1, &m, &op), CKR_MECHANISM_PARAM_INVALID);
    memcpy(buf + hdr - sizeof(CK_ULONG), &(CK_ULONG){ ~(CK_ULONG)0 }, sizeof(CK_ULONG));
    m.ulParameterLen = hdr + 20; /* an AAD length that wraps hdr + len */
    assert_int_equal(dep11_aead_init(f->cfg, f->mailbox, 1, &m, &op), CKR_MECHANISM_PARAM_INVALID);
    assert_null(op);
    /* exactly 64 KiB */
    m.ulParameterLen = flat(buf, hdr, DEP11_AEAD_FLAT_VERSION, 0, big, max);
    l = sizeof(ct);
    assert_int_equal(oneshot(f, f->mailbox, 1, &m, f->pt, 10, ct, &l), CKR_OK);
    free(big);
    free(buf);
}

/* CKM_DEP11_CHUNK_AEAD's flat form: without AAD the classic output; with
 * AAD, the chunk AAD then the caller's under the chunk key. */
static void test_flat_chunk(void **state)
{
    struct fx *f = *state;
    const size_t hdr = sizeof(CK_DEP11_CHUNK_FLAT_PARAMS);
    uint8_t buf[sizeof(CK_DEP11_CHUNK_FLAT_PARAMS) + 32], both[DEP11_CHUNK_AAD_LEN + 20];
    uint8_t ct[300 + 28], back[300 + 28];
    CK_DEP11_CHUNK_PARAMS cp;
    CK_MECHANISM m = { CKM_DEP11_CHUNK_AEAD, buf, 0 }, classic = { CKM_DEP11_CHUNK_AEAD, &cp, sizeof(cp) };
    CK_DEP11_AEAD_PARAMS ap = { both, sizeof(both) };
    CK_MECHANISM am = { CKM_DEP11_AEAD, &ap, sizeof(ap) };
    struct dep11_key *chunk = NULL;
    struct dep11_aead_op *op = NULL;
    CK_ULONG l = sizeof(ct), lb = sizeof(back);

    memset(cp.fileId, 0x33, sizeof(cp.fileId));
    cp.ulChunkIndex = 9;
    memset(buf, 0, sizeof(buf));
    memcpy(buf, &cp, sizeof(cp));
    m.ulParameterLen = flat(buf, hdr, DEP11_AEAD_FLAT_VERSION, 0, NULL, 0);
    assert_int_equal(oneshot(f, f->site, 1, &classic, f->pt, 300, ct, &l), CKR_OK);
    assert_int_equal(multipart(f, f->site, 0, &m, ct, l, 64, back, &lb), CKR_OK);
    assert_memory_equal(back, f->pt, 300);
    /* caller AAD: the classic form no longer opens it, the chunk key with
     * chunk AAD || caller AAD does */
    m.ulParameterLen = flat(buf, hdr, DEP11_AEAD_FLAT_VERSION, 0, f->aad, sizeof(f->aad));
    l = sizeof(ct);
    assert_int_equal(oneshot(f, f->site, 1, &m, f->pt, 300, ct, &l), CKR_OK);
    lb = sizeof(back);
    assert_int_equal(oneshot(f, f->site, 0, &classic, ct, l, back, &lb), CKR_ENCRYPTED_DATA_INVALID);
    assert_int_equal(dep11_chunk_derive(f->site, cp.fileId, 9, &chunk), CKR_OK);
    dep11_suite1_chunk_aad(cp.fileId, 9, both);
    memcpy(both + DEP11_CHUNK_AAD_LEN, f->aad, sizeof(f->aad));
    lb = sizeof(back);
    assert_int_equal(oneshot(f, chunk, 0, &am, ct, l, back, &lb), CKR_OK);
    assert_memory_equal(back, f->pt, 300);
    dep11_key_free(chunk);
    lb = sizeof(back);
    assert_int_equal(oneshot(f, f->site, 0, &m, ct, l, back, &lb), CKR_OK);
    /* malformed */
    m.ulParameterLen--;
    assert_int_equal(dep11_aead_init(f->cfg, f->site, 1, &m, &op), CKR_MECHANISM_PARAM_INVALID);
    m.ulParameterLen += 2;
    assert_int_equal(dep11_aead_init(f->cfg, f->site, 1, &m, &op), CKR_MECHANISM_PARAM_INVALID);
    m.ulParameterLen = flat(buf, hdr, 0, 0, f->aad, sizeof(f->aad));
    assert_int_equal(dep11_aead_init(f->cfg, f->site, 1, &m, &op), CKR_MECHANISM_PARAM_INVALID);
    m.ulParameterLen = flat(buf, hdr, DEP11_AEAD_FLAT_VERSION, 2, f->aad, sizeof(f->aad));
    assert_int_equal(dep11_aead_init(f->cfg, f->site, 1, &m, &op), CKR_MECHANISM_PARAM_INVALID);
    m.ulParameterLen = hdr - 1;
    assert_int_equal(dep11_aead_init(f->cfg, f->site, 1, &m, &op), CKR_MECHANISM_PARAM_INVALID);
    assert_null(op);
}

/* DESIGN section 3: AAD above 64 KiB is CKR_MECHANISM_PARAM_INVALID, for
 * CKM_DEP11_AEAD and for CKM_AES_GCM on module keys, checked before any
 * allocation (a length near the top of the range with a short buffer is
 * refused by that code, neither copied nor CKR_HOST_MEMORY); 64 KiB itself
 * seals and opens. Also through a parked op (dep11_aead_reinit). */
static void test_aad_bound(void **state)
{
    struct fx *f = *state;
    const CK_ULONG max = 64 * 1024;
    static const CK_ULONG huge[] = { 64 * 1024 + 1, 1UL << 31, ~(CK_ULONG)0 - 64, ~(CK_ULONG)0 };
    uint8_t *aad = calloc(1, max + 1), iv[12], ct[64 + 28], back[64 + 28];
    CK_DEP11_AEAD_PARAMS p = { aad, max + 1 };
    CK_MECHANISM m = { CKM_DEP11_AEAD, &p, sizeof(p) };
    CK_GCM_PARAMS g = gcm_params(iv, 12, aad, max + 1, 128);
    CK_MECHANISM mg = { CKM_AES_GCM, &g, sizeof(g) };
    struct dep11_aead_op *op = NULL;
    CK_ULONG l = sizeof(ct), lb = sizeof(back);

    assert_non_null(aad);
    memset(iv, 7, sizeof(iv));
    for (int enc = 0; enc <= 1; enc++) {
        assert_int_equal(dep11_aead_init(f->cfg, f->mailbox, enc, &m, &op),
                         CKR_MECHANISM_PARAM_INVALID);
        assert_null(op);
        assert_int_equal(dep11_aead_init(f->cfg, f->mailbox, 0, &mg, &op),
                         CKR_MECHANISM_PARAM_INVALID);
        assert_null(op);
    }
    p.pAAD = iv; /* a 12-byte buffer: a copy of the length given would overrun it */
    g.pAAD = iv;
    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
        p.ulAADLen = huge[i];
        g.aad_len = huge[i];
        assert_int_equal(dep11_aead_init(f->cfg, f->mailbox, 1, &m, &op),
                         CKR_MECHANISM_PARAM_INVALID);
        assert_int_equal(dep11_aead_init(f->cfg, f->mailbox, 0, &mg, &op),
                         CKR_MECHANISM_PARAM_INVALID);
        assert_null(op);
    }
    /* exactly 64 KiB: sealed and opened, also through a parked op */
    p.pAAD = aad;
    p.ulAADLen = max;
    memset(aad, 0x5a, max);
    assert_int_equal(oneshot(f, f->mailbox, 1, &m, f->pt, 64, ct, &l), CKR_OK);
    assert_int_equal(dep11_aead_init(f->cfg, f->mailbox, 0, &m, &op), CKR_OK);
    assert_int_equal(dep11_aead_oneshot(op, ct, l, back, &lb), CKR_OK);
    assert_memory_equal(back, f->pt, 64);
    p.ulAADLen = max + 1;
    assert_int_equal(dep11_aead_reinit(f->cfg, f->mailbox, 0, &m, op),
                     CKR_MECHANISM_PARAM_INVALID);
    assert_false(dep11_aead_active(op));
    g.pAAD = aad;
    g.aad_len = max + 1;
    assert_int_equal(dep11_aead_reinit(f->cfg, f->mailbox, 0, &mg, op),
                     CKR_MECHANISM_PARAM_INVALID);
    p.ulAADLen = max;
    lb = sizeof(back);
    assert_int_equal(dep11_aead_reinit(f->cfg, f->mailbox, 0, &m, op), CKR_OK);
    assert_int_equal(dep11_aead_oneshot(op, ct, l, back, &lb), CKR_OK);
    assert_memory_equal(back, f->pt, 64);
    dep11_aead_free(op);
    free(aad);
}

static void test_aes_gcm(void **state)
{
    struct fx *f = *state;
    uint8_t ct[200 + 28], back[228], iv[12];
    CK_ULONG l = sizeof(ct), lb = sizeof(back);
    CK_GCM_PARAMS g48;
    struct gcm40 g40;
    CK_MECHANISM m = { CKM_AES_GCM, &g48, sizeof(g48) };

    assert_int_equal(sizeof(g48), 48);
    assert_int_equal(sizeof(g40), 40);
    assert_int_equal(oneshot(f, f->mailbox, 1, &f->mech, f->pt, 200, ct, &l), CKR_OK);
    memcpy(iv, ct, 12);
    g48 = gcm_params(iv, 12, f->aad, sizeof(f->aad), 128);
    assert_int_equal(oneshot(f, f->mailbox, 0, &m, ct + 12, 216, back, &lb), CKR_OK);
    assert_int_equal(lb, 200);
    assert_memory_equal(back, f->pt, 200);
    g40 = (struct gcm40){ iv, 12, f->aad, sizeof(f->aad), 128 };
    m.pParameter = &g40;
    m.ulParameterLen = sizeof(g40);
    lb = sizeof(back);
    assert_int_equal(multipart(f, f->mailbox, 0, &m, ct + 12, 216, 64, back, &lb), CKR_OK);
    assert_int_equal(lb, 200);
    assert_memory_equal(back, f->pt, 200);
    ct[20] ^= 4;
    lb = sizeof(back);
    assert_int_equal(oneshot(f, f->mailbox, 0, &m, ct + 12, 216, back, &lb),
                     CKR_ENCRYPTED_DATA_INVALID);
    /* tag and IV rules */
    static const CK_ULONG bad_tags[] = { 0, 64, 88, 100, 136 };
    for (size_t i = 0; i < sizeof(bad_tags) / sizeof(bad_tags[0]); i++) {
        g40.ulTagBits = bad_tags[i];
        assert_int_equal(oneshot(f, f->mailbox, 0, &m, ct + 12, 216, back, &lb),
                         CKR_MECHANISM_PARAM_INVALID);
    }
    g40.ulTagBits = 128;
    g40.ulIvLen = 0;
    assert_int_equal(oneshot(f, f->mailbox, 0, &m, ct + 12, 216, back, &lb),
                     CKR_MECHANISM_PARAM_INVALID);
    g40.ulIvLen = 12;
    g40.pIv = NULL;
    assert_int_equal(oneshot(f, f->mailbox, 0, &m, ct + 12, 216, back, &lb),
                     CKR_MECHANISM_PARAM_INVALID);
    g40.pIv = iv;
    m.ulParameterLen = 44;
    assert_int_equal(oneshot(f, f->mailbox, 0, &m, ct + 12, 216, back, &lb),
                     CKR_MECHANISM_PARAM_INVALID);
    m.ulParameterLen = sizeof(g40);
    assert_int_equal(oneshot(f, f->site, 0, &m, ct + 12, 216, back, &lb),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    lb = 10;
    assert_int_equal(oneshot(f, f->mailbox, 0, &m, ct, 15, back, &lb),
                     CKR_ENCRYPTED_DATA_LEN_RANGE);
}

static void test_caller_iv(void **state)
{
    struct fx *f = *state;
    uint8_t iv[12], ct[100 + 16], back[100 + 28], full[100 + 28];
    CK_GCM_PARAMS g = gcm_params(iv, 12, f->aad, sizeof(f->aad), 96);
    CK_MECHANISM m = { CKM_AES_GCM, &g, sizeof(g) };
    CK_ULONG l = sizeof(ct), lb = sizeof(back);

    memset(iv, 0x33, sizeof(iv));
    assert_int_equal(oneshot(f, f->mailbox, 1, &m, f->pt, 100, ct, &l),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    f->cfg->caller_iv = 1;
    /* 96-bit tag: output ct || tag(12) */
    assert_int_equal(oneshot(f, f->mailbox, 1, &m, f->pt, 100, ct, &l), CKR_OK);
    assert_int_equal(l, 112);
    assert_int_equal(oneshot(f, f->mailbox, 0, &m, ct, l, back, &lb), CKR_OK);
    assert_memory_equal(back, f->pt, 100);
    lb = sizeof(back);
    assert_int_equal(multipart(f, f->mailbox, 1, &m, f->pt, 100, 30, back, &lb), CKR_OK);
    assert_int_equal(lb, 112);
    assert_memory_equal(back, ct, 112); /* same IV, same output */
    /* 128-bit tag: nonce || ct || tag is CKM_DEP11_AEAD's format */
    g.ulTagBits = 128;
    l = sizeof(ct);
    assert_int_equal(oneshot(f, f->mailbox, 1, &m, f->pt, 100, ct, &l), CKR_OK);
    memcpy(full, iv, 12);
    memcpy(full + 12, ct, 116);
    lb = sizeof(back);
    assert_int_equal(oneshot(f, f->mailbox, 0, &f->mech, full, 128, back, &lb), CKR_OK);
    assert_memory_equal(back, f->pt, 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffer_limit_and_inplace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunk_aead, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flat_aead, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flat_chunk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aad_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aes_gcm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caller_iv, setup, teardown),
    };

    dep11_secmem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
