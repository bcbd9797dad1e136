/*
 * test_flat_params.c - through libdep11.so (issue 14 items 6 and 7): the
 * flat AEAD parameter forms of CKM_DEP11_AEAD and CKM_DEP11_CHUNK_AEAD as a
 * binding builds them (raw bytes, no pointer), their malformed lengths, and
 * the text attributes of CKM_DEP11_KEY_GEN (CKA_LABEL and CKA_DEP11_GEO:
 * UTF-8 without NUL).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "itest.h"

#define F (fx->t->f)

static const CK_BYTE msg[] = "flat parameters from a binding";
static const CK_BYTE aad[] = "mailbox 7, item 12";

/* A flat parameter in @buf: @hdr header bytes (prefix already there), then
 * version, flags, AAD length as its last three CK_ULONGs, then the AAD. */
static CK_ULONG flat(CK_BYTE *buf, size_t hdr, CK_ULONG version, const CK_BYTE *a,
                     CK_ULONG a_len)
{
    CK_ULONG tail[3] = { version, 0, a_len };

    memcpy(buf + hdr - sizeof tail, tail, sizeof tail);
    memcpy(buf + hdr, a, a_len);
    return (CK_ULONG)(hdr + a_len);
}

/* One-shot C_Encrypt / C_Decrypt with @m under @k into @out (malloc'd). */
#define crypt(fx, enc, m, k, in, in_len, out)                                                  \
    itest_crypt((fx)->t, (fx)->s, (enc), (m), (k), (in), (in_len), (out))

static void test_flat_aead(void **state)
{
    struct itest_fx *fx = *state;
    const size_t hdr = sizeof(CK_DEP11_AEAD_FLAT_PARAMS);
    CK_BYTE buf[sizeof(CK_DEP11_AEAD_FLAT_PARAMS) + sizeof aad];
    CK_MECHANISM m = { CKM_DEP11_AEAD, buf, 0 };
    CK_OBJECT_HANDLE mb = CK_INVALID_HANDLE;
    struct itest_blob ct = { 0 }, pt = { 0 };
    CK_ULONG good = 0;

    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_MAILBOX, 0, &mb), CKR_OK);
    good = flat(buf, hdr, DEP11_AEAD_FLAT_VERSION, aad, sizeof aad);
    m.ulParameterLen = good;
    assert_int_equal(crypt(fx, 1, &m, mb, msg, sizeof msg, &ct), CKR_OK);
    assert_int_equal(ct.len, sizeof msg + DEP11_AEAD_OVERHEAD);
    /* the pointer form opens it with the same AAD, not with another */
    assert_int_equal(itest_aead(fx->t, fx->s, 0, mb, aad, sizeof aad, ct.p, ct.len, &pt), CKR_OK);
    assert_memory_equal(pt.p, msg, sizeof msg);
    itest_blob_free(&pt);
    assert_int_equal(itest_aead(fx->t, fx->s, 0, mb, aad, sizeof aad - 1, ct.p, ct.len, &pt),
                     CKR_ENCRYPTED_DATA_INVALID);
    itest_blob_free(&pt);
    assert_int_equal(crypt(fx, 0, &m, mb, ct.p, ct.len, &pt), CKR_OK);
    assert_memory_equal(pt.p, msg, sizeof msg);
    itest_blob_free(&pt);
    /* malformed: a byte short or long, no header, version 2 */
    for (CK_ULONG len = 1; len <= good + 1; len++) {
        if (len == good || len == sizeof(CK_DEP11_AEAD_PARAMS))
            continue;
        m.ulParameterLen = len;
        assert_int_equal(F->C_EncryptInit(fx->s, &m, mb), CKR_MECHANISM_PARAM_INVALID);
        assert_int_equal(F->C_DecryptInit(fx->s, &m, mb), CKR_MECHANISM_PARAM_INVALID);
    }
    m.ulParameterLen = flat(buf, hdr, DEP11_AEAD_FLAT_VERSION + 1, aad, sizeof aad);
    assert_int_equal(F->C_EncryptInit(fx->s, &m, mb), CKR_MECHANISM_PARAM_INVALID);
    m.pParameter = NULL;
    assert_int_equal(F->C_EncryptInit(fx->s, &m, mb), CKR_MECHANISM_PARAM_INVALID);
    itest_blob_free(&ct);
}

static void test_flat_chunk(void **state)
{
    struct itest_fx *fx = *state;
    const size_t hdr = sizeof(CK_DEP11_CHUNK_FLAT_PARAMS);
    CK_BYTE buf[sizeof(CK_DEP11_CHUNK_FLAT_PARAMS) + sizeof aad];
    CK_DEP11_CHUNK_PARAMS cp;
    CK_MECHANISM m = { CKM_DEP11_CHUNK_AEAD, buf, 0 };
    CK_MECHANISM classic = { CKM_DEP11_CHUNK_AEAD, &cp, sizeof cp };
    CK_OBJECT_HANDLE site = CK_INVALID_HANDLE;
    struct itest_blob ct = { 0 }, pt = { 0 };

    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_SITE, 0, &site), CKR_OK);
    memcpy(cp.fileId, "flat-chunk-file!", 16);
    cp.ulChunkIndex = 5;
    memcpy(buf, &cp, sizeof cp);
    /* no caller AAD: the classic chunk */
    m.ulParameterLen = flat(buf, hdr, DEP11_AEAD_FLAT_VERSION, aad, 0);
    assert_int_equal(crypt(fx, 1, &classic, site, msg, sizeof msg, &ct), CKR_OK);
    assert_int_equal(crypt(fx, 0, &m, site, ct.p, ct.len, &pt), CKR_OK);
    assert_memory_equal(pt.p, msg, sizeof msg);
    itest_blob_free(&pt);
    itest_blob_free(&ct);
    /* with AAD: bound, the classic form does not open it */
    m.ulParameterLen = flat(buf, hdr, DEP11_AEAD_FLAT_VERSION, aad, sizeof aad);
    assert_int_equal(crypt(fx, 1, &m, site, msg, sizeof msg, &ct), CKR_OK);
    assert_int_equal(crypt(fx, 0, &classic, site, ct.p, ct.len, &pt), CKR_ENCRYPTED_DATA_INVALID);
    itest_blob_free(&pt);
    assert_int_equal(crypt(fx, 0, &m, site, ct.p, ct.len, &pt), CKR_OK);
    assert_memory_equal(pt.p, msg, sizeof msg);
    itest_blob_free(&pt);
    m.ulParameterLen--;
    assert_int_equal(F->C_DecryptInit(fx->s, &m, site), CKR_MECHANISM_PARAM_INVALID);
    m.ulParameterLen += 2;
    assert_int_equal(F->C_DecryptInit(fx->s, &m, site), CKR_MECHANISM_PARAM_INVALID);
    itest_blob_free(&ct);
}

/* CKM_DEP11_KEY_GEN of a policy with @type set to @v (@n bytes). */
static CK_RV gen_policy_with(struct itest_fx *fx, CK_ATTRIBUTE_TYPE type, const void *v,
                             CK_ULONG n)
{
    CK_ULONG role = DEP11_ROLE_POLICY, ptype = DEP11_POLICY_MAILBOX;
    CK_MECHANISM m = { CKM_DEP11_KEY_GEN, NULL, 0 };
    static const CK_BYTE tenant[16] = "flat-test-tenant";
    CK_ATTRIBUTE tmpl[] = {
        { CKA_DEP11_ROLE, &role, sizeof role },
        { CKA_DEP11_POLICY_TYPE, &ptype, sizeof ptype },
        { CKA_DEP11_TENANT, (void *)tenant, 16 },
        { type, (void *)v, n },
    };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = F->C_GenerateKey(fx->s, &m, tmpl, 4, &h);

    if (rv == CKR_OK)
        assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
    return rv;
}

static void test_text_attributes(void **state)
{
    struct itest_fx *fx = *state;
    static const CK_BYTE latin1[] = { 'M', 0xFC, 'n', 'c', 'h', 'e', 'n' };
    static const CK_BYTE utf8[] = { 'M', 0xC3, 0xBC, 'n', 'c', 'h', 'e', 'n' };
    static const CK_BYTE nul[] = { 'E', 'U', 0, 'x' };

    assert_int_equal(gen_policy_with(fx, CKA_LABEL, utf8, sizeof utf8), CKR_OK);
    assert_int_equal(gen_policy_with(fx, CKA_DEP11_GEO, utf8, sizeof utf8), CKR_OK);
    assert_int_equal(gen_policy_with(fx, CKA_LABEL, latin1, sizeof latin1),
                     CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(gen_policy_with(fx, CKA_DEP11_GEO, latin1, sizeof latin1),
                     CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(gen_policy_with(fx, CKA_LABEL, nul, sizeof nul), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(gen_policy_with(fx, CKA_DEP11_GEO, nul, sizeof nul),
                     CKR_ATTRIBUTE_VALUE_INVALID);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, itest_setup, itest_teardown)
    const struct CMUnitTest tests[] = {
        T(test_flat_aead),
        T(test_flat_chunk),
        T(test_text_attributes),
    };
#undef T
    return cmocka_run_group_tests_name("flat AEAD parameters and text attributes", tests,
                                       itest_group_setup, itest_group_teardown);
}
