/*
 * test_files.c - the FILES and MULTI_WORKLOAD hierarchies through
 * libdep11.so over SoftHSM (issue 3): every (policy type, child role) pair
 * of CHILD_WRAP/UNWRAP, CKM_DEP11_CHUNK_KEY_DERIVE and CKM_DEP11_CHUNK_AEAD
 * (single and multi-part, tampering, 64 MiB chunks, object and memory use).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "itest.h"
#include "../gcm_params.h"

#define F (fx->t->f)
#define MIB (1024UL * 1024UL)

static const CK_BYTE OWNER[16] = "site-owner-00001";
static const CK_BYTE FILE_A[16] = "file-id-AAAAAAAA";
static const CK_BYTE FILE_B[16] = "file-id-BBBBBBBB";

static CK_OBJECT_HANDLE gen(struct itest_fx *fx, CK_ULONG role, CK_ULONG ptype)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    assert_int_equal(itest_keygen(fx->t, fx->s, role, ptype, &h), CKR_OK);
    assert_true(h != CK_INVALID_HANDLE);
    return h;
}

static CK_ULONG ulong_attr(struct itest_fx *fx, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE a)
{
    CK_ULONG v = ~(CK_ULONG)0;

    assert_int_equal(itest_get_ulong(fx->t, fx->s, h, a, &v), CKR_OK);
    return v;
}

static CK_ULONG module_keys(struct itest_fx *fx)
{
    CK_ULONG n = 0;

    assert_int_equal(itest_count_module_keys(fx->t, fx->s, &n), CKR_OK);
    return n;
}

/* The chunk AAD of docs/FORMATS.md 5.2: file id || u64be(index). */
static void chunk_aad(const CK_BYTE file[16], CK_ULONG index, CK_BYTE aad[24])
{
    memcpy(aad, file, 16);
    for (int i = 0; i < 8; i++)
        aad[16 + i] = (CK_BYTE)((uint64_t)index >> (56 - 8 * i));
}

static CK_MECHANISM chunk_mech(CK_DEP11_CHUNK_PARAMS *p, const CK_BYTE file[16],
                               CK_ULONG index)
{
    CK_MECHANISM m = { CKM_DEP11_CHUNK_AEAD, p, sizeof *p };

    memcpy(p->fileId, file, 16);
    p->ulChunkIndex = index;
    return m;
}

static uint8_t *pattern(size_t len, uint8_t seed)
{
    uint8_t *p = malloc(len ? len : 1);

    assert_non_null(p);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(seed + i * 131 + (i >> 12));
    return p;
}

/* CHUNK_AEAD seal, single-part (@piece 0) or multi-part in @piece-byte
 * updates; returns the sealed chunk (malloc'ed). */
static void seal(struct itest_fx *fx, CK_OBJECT_HANDLE site, const CK_BYTE file[16],
                 CK_ULONG index, const uint8_t *pt, size_t len, size_t piece,
                 struct itest_blob *out)
{
    CK_DEP11_CHUNK_PARAMS p;
    CK_MECHANISM m = chunk_mech(&p, file, index);
    CK_ULONG n = 0, done = 0, off = 0;

    out->len = len + 28;
    out->p = malloc(out->len);
    assert_non_null(out->p);
    assert_int_equal(F->C_EncryptInit(fx->s, &m, site), CKR_OK);
    if (piece == 0) {
        assert_int_equal(F->C_Encrypt(fx->s, (CK_BYTE_PTR)pt, len, NULL, &n), CKR_OK);
        assert_int_equal(n, len + 28);
        assert_int_equal(F->C_Encrypt(fx->s, (CK_BYTE_PTR)pt, len, out->p, &n), CKR_OK);
        assert_int_equal(n, len + 28);
        return;
    }
    for (off = 0; off < len; off += n) {
        n = len - off < piece ? len - off : piece;
        CK_ULONG cap = out->len - done;
        assert_int_equal(F->C_EncryptUpdate(fx->s, (CK_BYTE_PTR)pt + off, n,
                                            out->p + done, &cap), CKR_OK);
        done += cap;
    }
    n = out->len - done;
    assert_int_equal(F->C_EncryptFinal(fx->s, out->p + done, &n), CKR_OK);
    assert_int_equal(done + n, len + 28);
}

/* CHUNK_AEAD open, single-part (@piece 0) or multi-part. Multi-part:
 * every update releases 0 bytes, and a failing Final leaves the output
 * untouched. Single-part: a failure releases nothing (no plaintext byte in
 * the output). Returns the code of the call that ended the operation. */
static CK_RV open_chunk(struct itest_fx *fx, CK_OBJECT_HANDLE key, CK_MECHANISM *m,
                        const uint8_t *in, size_t len, size_t piece,
                        const uint8_t *expect_pt, size_t pt_len)
{
    size_t cap = len + 1;
    uint8_t *out = malloc(cap), *fill = malloc(cap);
    CK_ULONG n = 0, off = 0;
    CK_RV rv = CKR_OK;

    assert_non_null(out);
    assert_non_null(fill);
    memset(fill, 0xA5, cap);
    memcpy(out, fill, cap);
    assert_int_equal(F->C_DecryptInit(fx->s, m, key), CKR_OK);
    if (piece == 0) {
        n = cap;
        rv = F->C_Decrypt(fx->s, (CK_BYTE_PTR)in, len, out, &n);
    } else {
        for (off = 0; off < len && rv == CKR_OK; off += piece) {
            CK_ULONG k = len - off < piece ? len - off : piece;
            n = cap;
            rv = F->C_DecryptUpdate(fx->s, (CK_BYTE_PTR)in + off, k, out, &n);
            if (rv == CKR_OK)
                assert_int_equal(n, 0); /* nothing before the tag */
        }
        n = cap;
        if (rv == CKR_OK)
            rv = F->C_DecryptFinal(fx->s, out, &n);
        if (rv != CKR_OK) /* untouched (memcmp: fast on 64 MiB) */
            assert_true(memcmp(out, fill, cap) == 0);
    }
    if (rv == CKR_OK) {
        assert_int_equal(n, pt_len);
        if (pt_len != 0)
            assert_true(memcmp(out, expect_pt, pt_len) == 0);
    } else {
        /* nothing released: each byte is the fill or cleansed to zero */
        for (size_t i = 0; i < cap; i++)
            if (out[i] != 0xA5 && out[i] != 0)
                fail_msg("byte %zu of the output of a failed open is 0x%02x", i, out[i]);
    }
    free(fill);
    free(out);
    return rv;
}

static CK_RV open_at(struct itest_fx *fx, CK_OBJECT_HANDLE site, const CK_BYTE file[16],
                     CK_ULONG index, const struct itest_blob *b, size_t piece,
                     const uint8_t *pt, size_t pt_len)
{
    CK_DEP11_CHUNK_PARAMS p;
    CK_MECHANISM m = chunk_mech(&p, file, index);

    return open_chunk(fx, site, &m, b->p, b->len, piece, pt, pt_len);
}

/* ---- child wrap/unwrap: every (policy type, role) pair ------------------ */

static int pair_allowed(CK_ULONG type, CK_ULONG role)
{
    return (type == DEP11_POLICY_MAILBOX && role == DEP11_ROLE_MAILBOX) ||
           (type == DEP11_POLICY_MULTI_WORKLOAD &&
            (role == DEP11_ROLE_WORKLOAD || role == DEP11_ROLE_MAILBOX)) ||
           (type == DEP11_POLICY_FILES && role == DEP11_ROLE_SITE);
}

static const CK_ULONG TYPES[3] = { DEP11_POLICY_MAILBOX, DEP11_POLICY_MULTI_WORKLOAD,
                                   DEP11_POLICY_FILES };
static const CK_ULONG ROLES[3] = { DEP11_ROLE_MAILBOX, DEP11_ROLE_WORKLOAD, DEP11_ROLE_SITE };

/* A child wrapped under each allowed pair unwraps to the same key (proved
 * by data), with its role, policy type and owner; every other pair is
 * CKR_KEY_FUNCTION_NOT_PERMITTED at wrap. */
static void test_child_pairs_wrap(void **state)
{
    struct itest_fx *fx = *state;
    static const CK_BYTE msg[] = "bound to its policy type and role";
    int allowed = 0, refused = 0;

    for (int ti = 0; ti < 3; ti++) {
        CK_OBJECT_HANDLE pol = gen(fx, DEP11_ROLE_POLICY, TYPES[ti]);
        for (int ri = 0; ri < 3; ri++) {
            CK_OBJECT_HANDLE child = gen(fx, ROLES[ri], 0), h = CK_INVALID_HANDLE;
            struct itest_blob b = { 0 };
            CK_RV rv = itest_child_wrap(fx->t, fx->s, pol, child, OWNER, &b);

            if (!pair_allowed(TYPES[ti], ROLES[ri])) {
                assert_int_equal(rv, CKR_KEY_FUNCTION_NOT_PERMITTED);
                refused++;
                itest_blob_free(&b);
                continue;
            }
            assert_int_equal(rv, CKR_OK);
            assert_int_equal(b.len, 100);
            assert_int_equal(b.p[6], ROLES[ri]);  /* role in the header */
            assert_int_equal(b.p[23], TYPES[ti]); /* policy type */
            assert_int_equal(itest_child_unwrap(fx->t, fx->s, pol, &b, OWNER, &h), CKR_OK);
            assert_int_equal(ulong_attr(fx, h, CKA_DEP11_ROLE), ROLES[ri]);
            assert_int_equal(ulong_attr(fx, h, CKA_DEP11_POLICY_TYPE), TYPES[ti]);
            if (ROLES[ri] != DEP11_ROLE_SITE) { /* same key value: data crosses */
                struct itest_blob ct = { 0 }, pt = { 0 };
                assert_int_equal(itest_aead(fx->t, fx->s, 1, child, NULL, 0, msg,
                                            sizeof msg, &ct), CKR_OK);
                assert_int_equal(itest_aead(fx->t, fx->s, 0, h, NULL, 0, ct.p, ct.len,
                                            &pt), CKR_OK);
                assert_memory_equal(pt.p, msg, sizeof msg);
                itest_blob_free(&ct);
                itest_blob_free(&pt);
            } else {
                struct itest_blob ct = { 0 };
                seal(fx, child, FILE_A, 0, msg, sizeof msg, 0, &ct);
                assert_int_equal(open_at(fx, h, FILE_A, 0, &ct, 0, msg, sizeof msg),
                                 CKR_OK);
                itest_blob_free(&ct);
            }
            allowed++;
            itest_blob_free(&b);
        }
    }
    assert_int_equal(allowed, 4);
    assert_int_equal(refused, 5);
}

/* Keys that are no child at all: a policy key and a chunk key. */
static void test_child_wrap_non_children(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE fl = gen(fx, DEP11_ROLE_POLICY, DEP11_POLICY_FILES);
    CK_OBJECT_HANDLE mb = gen(fx, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX);
    CK_OBJECT_HANDLE site = gen(fx, DEP11_ROLE_SITE, 0), chunk = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE mbox = gen(fx, DEP11_ROLE_MAILBOX, 0);
    struct itest_blob b = { 0 };

    CK_OBJECT_HANDLE pols[3] = { mb, gen(fx, DEP11_ROLE_POLICY, TYPES[1]), fl };

    assert_int_equal(itest_chunk_derive(fx->t, fx->s, site, FILE_A, 1, &chunk), CKR_OK);
    for (int ti = 0; ti < 3; ti++) {
        assert_int_equal(itest_child_wrap(fx->t, fx->s, pols[ti], chunk, OWNER, &b),
                         CKR_KEY_FUNCTION_NOT_PERMITTED);
        itest_blob_free(&b);
        assert_int_equal(itest_child_wrap(fx->t, fx->s, pols[ti], pols[(ti + 1) % 3],
                                          OWNER, &b), CKR_KEY_FUNCTION_NOT_PERMITTED);
        itest_blob_free(&b);
    }
    /* A child key is no wrapping key. */
    assert_int_equal(itest_child_wrap(fx->t, fx->s, site, mbox, OWNER, &b),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    itest_blob_free(&b);
    assert_int_equal(itest_child_wrap(fx->t, fx->s, mbox, site, OWNER, &b),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    itest_blob_free(&b);
}

/* Unwrap, the other way: a blob of an allowed pair, presented under a
 * policy key of another type (the pair it would make is not allowed, or
 * is another policy), or with its type or role byte rewritten, never
 * unwraps: CKR_WRAPPED_KEY_INVALID (DESIGN section 3, CHILD_UNWRAP). */
static void test_child_pairs_unwrap_forged(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE pols[3], h = CK_INVALID_HANDLE;
    int tries = 0;

    for (int ti = 0; ti < 3; ti++)
        pols[ti] = gen(fx, DEP11_ROLE_POLICY, TYPES[ti]);
    for (int ti = 0; ti < 3; ti++) {
        for (int ri = 0; ri < 3; ri++) {
            CK_OBJECT_HANDLE child = CK_INVALID_HANDLE;
            struct itest_blob b = { 0 }, f = { 0 };

            if (!pair_allowed(TYPES[ti], ROLES[ri]))
                continue;
            child = gen(fx, ROLES[ri], 0);
            assert_int_equal(itest_child_wrap(fx->t, fx->s, pols[ti], child, OWNER, &b),
                             CKR_OK);
            f.len = b.len;
            f.p = malloc(b.len);
            assert_non_null(f.p);
            for (int oi = 0; oi < 3; oi++) {
                if (oi == ti)
                    continue;
                /* as it is, under the wrong-type key */
                assert_int_equal(itest_child_unwrap(fx->t, fx->s, pols[oi], &b, OWNER, &h),
                                 CKR_WRAPPED_KEY_INVALID);
                /* claiming the other type, under either key */
                memcpy(f.p, b.p, b.len);
                f.p[23] = (CK_BYTE)TYPES[oi];
                assert_int_equal(itest_child_unwrap(fx->t, fx->s, pols[oi], &f, OWNER, &h),
                                 CKR_WRAPPED_KEY_INVALID);
                assert_int_equal(itest_child_unwrap(fx->t, fx->s, pols[ti], &f, OWNER, &h),
                                 CKR_WRAPPED_KEY_INVALID);
                tries += 3;
            }
            for (int oi = 0; oi < 3; oi++) { /* another role, same policy */
                if (ROLES[oi] == ROLES[ri])
                    continue;
                memcpy(f.p, b.p, b.len);
                f.p[6] = (CK_BYTE)ROLES[oi];
                assert_int_equal(itest_child_unwrap(fx->t, fx->s, pols[ti], &f, OWNER, &h),
                                 CKR_WRAPPED_KEY_INVALID);
                tries++;
            }
            assert_int_equal(h, CK_INVALID_HANDLE);
            itest_blob_free(&f);
            itest_blob_free(&b);
        }
    }
    assert_int_equal(tries, 4 * (2 * 3 + 2));
}

/* ---- chunk keys ---------------------------------------------------------- */

/* Encrypts with chunk key @a, decrypts with @b (CKM_DEP11_AEAD, no AAD). */
static CK_RV cross(struct itest_fx *fx, CK_OBJECT_HANDLE a, CK_OBJECT_HANDLE b)
{
    static const CK_BYTE msg[] = "same (site key, file, index), same key";
    struct itest_blob ct = { 0 }, pt = { 0 };
    CK_RV rv = CKR_OK;

    assert_int_equal(itest_aead(fx->t, fx->s, 1, a, NULL, 0, msg, sizeof msg, &ct), CKR_OK);
    rv = itest_aead(fx->t, fx->s, 0, b, NULL, 0, ct.p, ct.len, &pt);
    if (rv == CKR_OK) {
        assert_int_equal(pt.len, sizeof msg);
        assert_memory_equal(pt.p, msg, sizeof msg);
    }
    itest_blob_free(&ct);
    itest_blob_free(&pt);
    return rv;
}

static void test_chunk_key_deterministic(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE site = gen(fx, DEP11_ROLE_SITE, 0), site2 = gen(fx, DEP11_ROLE_SITE, 0);
    CK_OBJECT_HANDLE k1, k2, kf, ki, ks, khi, k0;
    const CK_ULONG big = (CK_ULONG)1 << (sizeof(CK_ULONG) * 8 - 1);

    assert_int_equal(itest_chunk_derive(fx->t, fx->s, site, FILE_A, 7, &k1), CKR_OK);
    assert_int_equal(itest_chunk_derive(fx->t, fx->s, site, FILE_A, 7, &k2), CKR_OK);
    assert_true(k1 != k2);
    assert_int_equal(ulong_attr(fx, k1, CKA_DEP11_ROLE), DEP11_ROLE_CHUNK);
    assert_int_equal(cross(fx, k1, k2), CKR_OK);
    assert_int_equal(cross(fx, k2, k1), CKR_OK);
    /* A change of any of the three gives another key. */
    assert_int_equal(itest_chunk_derive(fx->t, fx->s, site, FILE_B, 7, &kf), CKR_OK);
    assert_int_equal(itest_chunk_derive(fx->t, fx->s, site, FILE_A, 8, &ki), CKR_OK);
    assert_int_equal(itest_chunk_derive(fx->t, fx->s, site2, FILE_A, 7, &ks), CKR_OK);
    assert_int_equal(cross(fx, k1, kf), CKR_ENCRYPTED_DATA_INVALID);
    assert_int_equal(cross(fx, k1, ki), CKR_ENCRYPTED_DATA_INVALID);
    assert_int_equal(cross(fx, k1, ks), CKR_ENCRYPTED_DATA_INVALID);
    /* The whole index counts, high bit included (u64be in the context). */
    assert_int_equal(itest_chunk_derive(fx->t, fx->s, site, FILE_A, big, &khi), CKR_OK);
    assert_int_equal(itest_chunk_derive(fx->t, fx->s, site, FILE_A, 0, &k0), CKR_OK);
    assert_int_equal(cross(fx, khi, k0), CKR_ENCRYPTED_DATA_INVALID);
    /* One bit of the file id. */
    CK_BYTE fb[16];
    memcpy(fb, FILE_A, 16);
    fb[15] ^= 0x80;
    assert_int_equal(itest_chunk_derive(fx->t, fx->s, site, fb, 7, &kf), CKR_OK);
    assert_int_equal(cross(fx, k1, kf), CKR_ENCRYPTED_DATA_INVALID);
}

/* A chunk key is a plain data key: CKM_DEP11_AEAD and CKM_AES_GCM decrypt;
 * nothing else. It opens CHUNK_AEAD output of its (file, index) with the
 * chunk AAD, which proves the format of docs/FORMATS.md 5.2. */
static void test_chunk_key_formats(void **state)
{
    struct itest_fx *fx = *state;
    static const CK_BYTE msg[] = "a chunk of a SharePoint file";
    CK_OBJECT_HANDLE site = gen(fx, DEP11_ROLE_SITE, 0), ck, h;
    struct itest_blob sealed = { 0 }, pt = { 0 };
    CK_BYTE aad[24], out[128];
    CK_ULONG n = sizeof out;
    struct gcm48 g;
    CK_MECHANISM gm = { CKM_AES_GCM, &g, sizeof g };
    CK_DEP11_CHUNK_PARAMS p;
    CK_MECHANISM dm = { CKM_DEP11_CHUNK_KEY_DERIVE, &p, sizeof p };
    CK_MECHANISM cm = chunk_mech(&p, FILE_A, 3);

    seal(fx, site, FILE_A, 3, msg, sizeof msg, 0, &sealed);
    assert_int_equal(itest_chunk_derive(fx->t, fx->s, site, FILE_A, 3, &ck), CKR_OK);
    chunk_aad(FILE_A, 3, aad);
    assert_int_equal(itest_aead(fx->t, fx->s, 0, ck, aad, 24, sealed.p, sealed.len, &pt),
                     CKR_OK);
    assert_memory_equal(pt.p, msg, sizeof msg);
    itest_blob_free(&pt);
    /* Without the AAD, it fails: the AAD binds file and index. */
    assert_int_equal(itest_aead(fx->t, fx->s, 0, ck, NULL, 0, sealed.p, sealed.len, &pt),
                     CKR_ENCRYPTED_DATA_INVALID);
    itest_blob_free(&pt);
    g = (struct gcm48){ sealed.p, 12, 96, aad, 24, 128 };
    assert_int_equal(F->C_DecryptInit(fx->s, &gm, ck), CKR_OK);
    assert_int_equal(F->C_Decrypt(fx->s, sealed.p + 12, sealed.len - 12, out, &n), CKR_OK);
    assert_int_equal(n, sizeof msg);
    assert_memory_equal(out, msg, sizeof msg);
    /* Roles: a chunk key derives nothing and runs no CHUNK_AEAD; a site
     * key runs no plain AEAD. */
    memcpy(p.fileId, FILE_A, 16);
    p.ulChunkIndex = 1;
    assert_int_equal(F->C_DeriveKey(fx->s, &dm, ck, NULL, 0, &h),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(F->C_EncryptInit(fx->s, &cm, ck), CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(itest_aead(fx->t, fx->s, 1, site, NULL, 0, msg, 4, &pt),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    itest_blob_free(&pt);
    /* Parameters: wrong length, none. */
    cm.ulParameterLen = sizeof p - 1;
    assert_int_equal(F->C_EncryptInit(fx->s, &cm, site), CKR_MECHANISM_PARAM_INVALID);
    cm.pParameter = NULL;
    cm.ulParameterLen = 0;
    assert_int_equal(F->C_EncryptInit(fx->s, &cm, site), CKR_MECHANISM_PARAM_INVALID);
    dm.ulParameterLen = sizeof p + 1;
    assert_int_equal(F->C_DeriveKey(fx->s, &dm, site, NULL, 0, &h),
                     CKR_MECHANISM_PARAM_INVALID);
    itest_blob_free(&sealed);
}

/* The site key's blob, unwrapped again after C_Finalize (a new module
 * life, new handles), derives the same chunk keys: data sealed before
 * opens after. */
static void test_chunk_key_after_restart(void **state)
{
    struct itest_fx *fx = *state;
    static const CK_BYTE msg[] = "sealed before the restart";
    CK_OBJECT_HANDLE pol = gen(fx, DEP11_ROLE_POLICY, DEP11_POLICY_FILES);
    CK_OBJECT_HANDLE site = gen(fx, DEP11_ROLE_SITE, 0), ck, s2;
    struct itest_blob pb = { 0 }, sb = { 0 }, c1 = { 0 }, c2 = { 0 }, pt = { 0 };

    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, fx->r1, fx->r2, 0, &pb), CKR_OK);
    assert_int_equal(itest_child_wrap(fx->t, fx->s, pol, site, OWNER, &sb), CKR_OK);
    seal(fx, site, FILE_A, 5, msg, sizeof msg, 0, &c1);
    assert_int_equal(itest_chunk_derive(fx->t, fx->s, site, FILE_B, 9, &ck), CKR_OK);
    assert_int_equal(itest_aead(fx->t, fx->s, 1, ck, NULL, 0, msg, sizeof msg, &c2), CKR_OK);

    assert_int_equal(itest_finalize(fx->t), CKR_OK);
    assert_int_equal(itest_init(fx->t), CKR_OK);
    assert_int_equal(itest_session(fx->t, "contoso", 1, &fx->s), CKR_OK);
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, &pb, 0, &pol), CKR_OK);
    assert_int_equal(itest_child_unwrap(fx->t, fx->s, pol, &sb, OWNER, &s2), CKR_OK);
    assert_int_equal(ulong_attr(fx, s2, CKA_DEP11_ROLE), DEP11_ROLE_SITE);
    assert_int_equal(open_at(fx, s2, FILE_A, 5, &c1, 0, msg, sizeof msg), CKR_OK);
    assert_int_equal(itest_chunk_derive(fx->t, fx->s, s2, FILE_B, 9, &ck), CKR_OK);
    assert_int_equal(itest_aead(fx->t, fx->s, 0, ck, NULL, 0, c2.p, c2.len, &pt), CKR_OK);
    assert_memory_equal(pt.p, msg, sizeof msg);
    itest_blob_free(&pt);
    assert_int_equal(itest_chunk_derive(fx->t, fx->s, s2, FILE_B, 10, &ck), CKR_OK);
    assert_int_equal(itest_aead(fx->t, fx->s, 0, ck, NULL, 0, c2.p, c2.len, &pt),
                     CKR_ENCRYPTED_DATA_INVALID);
    itest_blob_free(&pt);
    itest_blob_free(&c1);
    itest_blob_free(&c2);
    itest_blob_free(&sb);
    itest_blob_free(&pb);
}

/* ---- CHUNK_AEAD ------------------------------------------------------------ */

/* Single and multi-part each open the other's output; nonces differ. */
static void test_chunk_aead_parts(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE site = gen(fx, DEP11_ROLE_SITE, 0);
    static const size_t lens[] = { 0, 1, 15, 16, 17, 4096, 100003 };
    static const size_t pieces[] = { 1, 7, 16, 4096 };

    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        size_t len = lens[li];
        uint8_t *pt = pattern(len, (uint8_t)li);
        struct itest_blob a = { 0 }, b = { 0 }, c = { 0 };

        seal(fx, site, FILE_A, li, pt, len, 0, &a);
        seal(fx, site, FILE_A, li, pt, len, pieces[li % 4], &b);
        seal(fx, site, FILE_A, li, pt, len, 0, &c);
        /* fresh nonce per seal: three different outputs of one chunk */
        assert_memory_not_equal(a.p, b.p, 12);
        assert_memory_not_equal(a.p, c.p, 12);
        assert_memory_not_equal(b.p, c.p, 12);
        if (len >= 16)
            assert_memory_not_equal(a.p + 12, c.p + 12, 16);
        if (len >= 8)
            assert_memory_not_equal(a.p + 12, pt, 8);
        for (size_t pi = 0; pi < 4; pi++) {
            if (pieces[pi] > len + 28 && pi != 0)
                continue;
            assert_int_equal(open_at(fx, site, FILE_A, li, &a, pieces[pi], pt, len), CKR_OK);
            assert_int_equal(open_at(fx, site, FILE_A, li, &b, pieces[pi], pt, len), CKR_OK);
        }
        assert_int_equal(open_at(fx, site, FILE_A, li, &b, 0, pt, len), CKR_OK);
        assert_int_equal(open_at(fx, site, FILE_A, li, &c, 0, pt, len), CKR_OK);
        itest_blob_free(&a);
        itest_blob_free(&b);
        itest_blob_free(&c);
        free(pt);
    }
}

/* Three chunks of FILE_A; every misplacement or alteration fails. */
static void test_chunk_aead_tamper(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE site = gen(fx, DEP11_ROLE_SITE, 0), other = gen(fx, DEP11_ROLE_SITE, 0);
    const size_t len = 300;
    uint8_t *pt[3];
    struct itest_blob c[3], bad = { 0 };
    static const size_t parts[] = { 0, 64 };

    for (int i = 0; i < 3; i++) {
        pt[i] = pattern(len, (uint8_t)(17 * i + 1));
        seal(fx, site, FILE_A, i, pt[i], len, 0, &c[i]);
    }
    for (size_t pi = 0; pi < 2; pi++) {
        size_t piece = parts[pi];
        for (int i = 0; i < 3; i++) {
            assert_int_equal(open_at(fx, site, FILE_A, i, &c[i], piece, pt[i], len), CKR_OK);
            /* swapped / reordered: chunk i at every other index */
            for (int j = 0; j < 3; j++)
                if (j != i)
                    assert_int_equal(open_at(fx, site, FILE_A, j, &c[i], piece, pt[i], len),
                                     CKR_ENCRYPTED_DATA_INVALID);
            /* moved to another file; under another site key */
            assert_int_equal(open_at(fx, site, FILE_B, i, &c[i], piece, pt[i], len),
                             CKR_ENCRYPTED_DATA_INVALID);
            assert_int_equal(open_at(fx, other, FILE_A, i, &c[i], piece, pt[i], len),
                             CKR_ENCRYPTED_DATA_INVALID);
        }
        /* a bit flipped anywhere: nonce, ciphertext, tag */
        bad.p = malloc(c[1].len + 1);
        assert_non_null(bad.p);
        for (size_t k = 0; k < c[1].len; k++) {
            memcpy(bad.p, c[1].p, c[1].len);
            bad.len = c[1].len;
            bad.p[k] ^= (uint8_t)(1u << (k % 8));
            assert_int_equal(open_at(fx, site, FILE_A, 1, &bad, piece, pt[1], len),
                             CKR_ENCRYPTED_DATA_INVALID);
        }
        /* truncated: short of the tag's end; below nonce + tag */
        memcpy(bad.p, c[1].p, c[1].len);
        for (size_t cut = 1; cut <= 16; cut++) {
            bad.len = c[1].len - cut;
            assert_int_equal(open_at(fx, site, FILE_A, 1, &bad, piece, pt[1], len),
                             CKR_ENCRYPTED_DATA_INVALID);
        }
        bad.len = 28 + 10;
        assert_int_equal(open_at(fx, site, FILE_A, 1, &bad, piece, pt[1], len),
                         CKR_ENCRYPTED_DATA_INVALID);
        bad.len = 27;
        assert_int_equal(open_at(fx, site, FILE_A, 1, &bad, piece, pt[1], len),
                         CKR_ENCRYPTED_DATA_LEN_RANGE);
        bad.len = 0; /* multi-part: Final alone */
        assert_int_equal(open_at(fx, site, FILE_A, 1, &bad, piece, pt[1], len),
                         CKR_ENCRYPTED_DATA_LEN_RANGE);
        /* one byte appended */
        memcpy(bad.p, c[1].p, c[1].len);
        bad.p[c[1].len] = 0;
        bad.len = c[1].len + 1;
        assert_int_equal(open_at(fx, site, FILE_A, 1, &bad, piece, pt[1], len),
                         CKR_ENCRYPTED_DATA_INVALID);
        /* two chunks' halves swapped: ct of 0 under the nonce/tag of 1 */
        memcpy(bad.p, c[1].p, c[1].len);
        memcpy(bad.p + 12, c[0].p + 12, len);
        bad.len = c[1].len;
        assert_int_equal(open_at(fx, site, FILE_A, 1, &bad, piece, pt[1], len),
                         CKR_ENCRYPTED_DATA_INVALID);
        itest_blob_free(&bad);
    }
    for (int i = 0; i < 3; i++) {
        itest_blob_free(&c[i]);
        free(pt[i]);
    }
}

/* CHUNK_AEAD creates no object, even when it fails; the session stays
 * usable (the failed operation ended). */
static void test_chunk_aead_no_objects(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE site = gen(fx, DEP11_ROLE_SITE, 0);
    CK_ULONG before = module_keys(fx);
    uint8_t *pt = pattern(1000, 3);
    struct itest_blob c = { 0 };

    assert_int_equal(before, 1);
    for (CK_ULONG i = 0; i < 200; i++) {
        seal(fx, site, FILE_A, i, pt, 1000, i % 2 ? 100 : 0, &c);
        assert_int_equal(open_at(fx, site, FILE_A, i, &c, i % 3 ? 0 : 256, pt, 1000), CKR_OK);
        assert_int_equal(open_at(fx, site, FILE_B, i, &c, i % 3 ? 256 : 0, pt, 1000),
                         CKR_ENCRYPTED_DATA_INVALID);
        itest_blob_free(&c);
    }
    assert_int_equal(module_keys(fx), before);
    free(pt);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Times one CHUNK_AEAD operation on (FILE_A, 0), module calls only
 * (@out pre-touched): single-part (@piece 0) or in @piece-byte updates.
 * *@out_len gets the output length. */
static double timed(struct itest_fx *fx, CK_OBJECT_HANDLE site, int enc, const uint8_t *in,
                    size_t len, size_t piece, uint8_t *out, size_t *out_len)
{
    CK_DEP11_CHUNK_PARAMS p;
    CK_MECHANISM m = chunk_mech(&p, FILE_A, 0);
    CK_ULONG n = 0, done = 0;
    double t0 = now();

    assert_int_equal(enc ? F->C_EncryptInit(fx->s, &m, site) : F->C_DecryptInit(fx->s, &m, site),
                     CKR_OK);
    if (piece == 0) {
        n = len + 28;
        assert_int_equal(enc ? F->C_Encrypt(fx->s, (CK_BYTE_PTR)in, len, out, &n)
                             : F->C_Decrypt(fx->s, (CK_BYTE_PTR)in, len, out, &n), CKR_OK);
        *out_len = n;
        return now() - t0;
    }
    for (size_t off = 0; off < len; off += piece) {
        CK_ULONG k = len - off < piece ? len - off : piece;
        n = len + 28 - done;
        assert_int_equal(enc ? F->C_EncryptUpdate(fx->s, (CK_BYTE_PTR)in + off, k, out + done, &n)
                             : F->C_DecryptUpdate(fx->s, (CK_BYTE_PTR)in + off, k, out + done, &n),
                         CKR_OK);
        done += n;
    }
    n = len + 28 - done;
    assert_int_equal(enc ? F->C_EncryptFinal(fx->s, out + done, &n)
                         : F->C_DecryptFinal(fx->s, out + done, &n), CKR_OK);
    *out_len = done + n;
    return now() - t0;
}

/* A 64 MiB chunk, single-part and in 1 MiB updates, each way (and each
 * opens the other's output); one byte more than the multi-part decrypt
 * bound is CKR_ENCRYPTED_DATA_LEN_RANGE (single-part has no such bound). */
static void test_chunk_aead_64mib(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE site = gen(fx, DEP11_ROLE_SITE, 0);
    const size_t len = 64 * MIB;
    uint8_t *pt = pattern(len + 1, 9), *s1 = malloc(len + 28), *sm = malloc(len + 28);
    uint8_t *back = malloc(len + 28);
    struct itest_blob b1 = { 0 }, big = { 0 };
    size_t n = 0;
    double ts1, tsm, to1, tom;

    assert_non_null(s1);
    assert_non_null(sm);
    assert_non_null(back);
    memset(s1, 0, len + 28); /* page faults outside the timed calls */
    memset(sm, 0, len + 28);
    memset(back, 0, len + 28);
    ts1 = timed(fx, site, 1, pt, len, 0, s1, &n);
    assert_int_equal(n, len + 28);
    tsm = timed(fx, site, 1, pt, len, MIB, sm, &n);
    assert_int_equal(n, len + 28);
    to1 = timed(fx, site, 0, sm, len + 28, 0, back, &n); /* single opens multi */
    assert_int_equal(n, len);
    assert_true(memcmp(back, pt, len) == 0);
    memset(back, 0, len);
    tom = timed(fx, site, 0, s1, len + 28, MIB, back, &n); /* multi opens single */
    assert_int_equal(n, len);
    assert_true(memcmp(back, pt, len) == 0);
    printf("# 64 MiB chunk (module calls only): seal single %.2f s, seal multi (1 MiB) "
           "%.2f s, open single %.2f s, open multi (1 MiB) %.2f s\n", ts1, tsm, to1, tom);
    /* and through the checking helper: a flipped bit releases nothing */
    b1.p = sm;
    b1.len = len + 28;
    assert_int_equal(open_at(fx, site, FILE_A, 0, &b1, MIB, pt, len), CKR_OK);
    sm[len / 2] ^= 1;
    assert_int_equal(open_at(fx, site, FILE_A, 0, &b1, MIB, pt, len),
                     CKR_ENCRYPTED_DATA_INVALID);
    assert_int_equal(open_at(fx, site, FILE_A, 0, &b1, 0, pt, len),
                     CKR_ENCRYPTED_DATA_INVALID);
    seal(fx, site, FILE_A, 0, pt, len + 1, 0, &big);
    assert_int_equal(open_at(fx, site, FILE_A, 0, &big, 0, pt, len + 1), CKR_OK);
    assert_int_equal(open_at(fx, site, FILE_A, 0, &big, MIB, pt, len + 1),
                     CKR_ENCRYPTED_DATA_LEN_RANGE);
    itest_blob_free(&big);
    free(back);
    free(sm);
    free(s1);
    free(pt);
}

static long rss_kib(void)
{
    FILE *fp = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;

    assert_non_null(fp);
    assert_int_equal(fscanf(fp, "%ld %ld", &size, &res), 2);
    fclose(fp);
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* One derive/destroy cycle, with a CHUNK_AEAD seal and open on the way. */
static void cycle(struct itest_fx *fx, CK_OBJECT_HANDLE site, CK_ULONG i)
{
    static const CK_BYTE msg[] = "cycle";
    CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;
    CK_BYTE out[64], back[64];
    CK_ULONG n = sizeof out, m = sizeof back;
    CK_DEP11_CHUNK_PARAMS p;
    CK_MECHANISM cm = chunk_mech(&p, FILE_A, i);

    assert_int_equal(itest_chunk_derive(fx->t, fx->s, site, FILE_A, i, &k), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, k), CKR_OK);
    if (i % 8 != 0)
        return;
    assert_int_equal(F->C_EncryptInit(fx->s, &cm, site), CKR_OK);
    assert_int_equal(F->C_Encrypt(fx->s, (CK_BYTE_PTR)msg, sizeof msg, out, &n), CKR_OK);
    assert_int_equal(F->C_DecryptInit(fx->s, &cm, site), CKR_OK);
    assert_int_equal(F->C_Decrypt(fx->s, out, n, back, &m), CKR_OK);
}

/* Many derive/destroy cycles: object count and resident memory flat. */
static void test_derive_destroy_cycles(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE site = gen(fx, DEP11_ROLE_SITE, 0);
    const char *env = getenv("ITEST_CYCLES");
    CK_ULONG cycles = env ? strtoul(env, NULL, 10) : 20000, warm = 2000, i;
    CK_ULONG n0 = module_keys(fx);
    long r0 = 0, r1 = 0, slack = 0;
    double t0;

    for (i = 0; i < warm; i++)
        cycle(fx, site, i);
    r0 = rss_kib();
    t0 = now();
    for (i = 0; i < cycles; i++)
        cycle(fx, site, warm + i);
    r1 = rss_kib();
    /* Slack: 1 MiB unless the wrapper says otherwise (test_files.sh runs
     * this test alone, with ASan's quarantine turned down). */
    env = getenv("ITEST_RSS_SLACK_KIB");
    slack = env ? atol(env) : 1024;
    printf("# %lu derive/destroy cycles in %.2f s: module keys %lu -> %lu; "
           "RSS after warm-up %ld KiB, at the end %ld KiB (+%ld KiB, slack %ld)\n",
           (unsigned long)cycles, now() - t0, (unsigned long)n0,
           (unsigned long)module_keys(fx), r0, r1, r1 - r0, slack);
    assert_int_equal(module_keys(fx), n0);
    assert_true(r1 - r0 <= slack);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, itest_setup, itest_teardown)
        T(test_child_pairs_wrap),
        T(test_child_wrap_non_children),
        T(test_child_pairs_unwrap_forged),
        T(test_chunk_key_deterministic),
        T(test_chunk_key_formats),
        T(test_chunk_key_after_restart),
        T(test_chunk_aead_parts),
        T(test_chunk_aead_tamper),
        T(test_chunk_aead_no_objects),
        T(test_chunk_aead_64mib),
        T(test_derive_destroy_cycles),
#undef T
    };

    /* test_files.sh runs the cycles test alone (its own ASan settings). */
    if (argc > 1 && argv[1][0] != '\0')
        cmocka_set_test_filter(argv[1]);
    if (argc > 2 && argv[2][0] != '\0')
        cmocka_set_skip_filter(argv[2]);
    return cmocka_run_group_tests_name("files", tests, itest_group_setup,
                                       itest_group_teardown);
}
