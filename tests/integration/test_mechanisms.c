/*
 * test_mechanisms.c - integration tests of the dep11 mechanisms through
 * libdep11.so over SoftHSM: key generation per role, policy wrap/unwrap
 * (customer- and provider-managed), child wrap/unwrap with owner binding,
 * CKM_DEP11_AEAD, CKM_AES_GCM decryption, roles and attribute rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "itest.h"
#include "core/handle.h"
#include "../gcm_params.h"

#define F (fx->t->f)

static const CK_BYTE OWNER_A[16] = "mailbox-owner-A";
static const CK_BYTE OWNER_B[16] = "mailbox-owner-B";

static CK_OBJECT_HANDLE gen(struct itest_fx *fx, CK_ULONG role, CK_ULONG ptype)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    assert_int_equal(itest_keygen(fx->t, fx->s, role, ptype, &h), CKR_OK);
    assert_true(h != CK_INVALID_HANDLE);
    return h;
}

static void assert_ulong_attr(struct itest_fx *fx, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE a,
                              CK_ULONG want)
{
    CK_ULONG v = ~(CK_ULONG)0;

    assert_int_equal(itest_get_ulong(fx->t, fx->s, h, a, &v), CKR_OK);
    assert_int_equal(v, want);
}

static void assert_bool_attr(struct itest_fx *fx, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE a,
                             CK_BBOOL want)
{
    CK_BBOOL v = 2;
    CK_ATTRIBUTE at = { a, &v, sizeof v };

    assert_int_equal(F->C_GetAttributeValue(fx->s, h, &at, 1), CKR_OK);
    assert_int_equal(v, want);
}

static void get_bytes(struct itest_fx *fx, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE a,
                      CK_BYTE *buf, CK_ULONG len)
{
    CK_ATTRIBUTE at = { a, buf, len };

    assert_int_equal(F->C_GetAttributeValue(fx->s, h, &at, 1), CKR_OK);
    assert_int_equal(at.ulValueLen, len);
}

/* Every module-side key: a sensitive, non-extractable AES-256 session key
 * whose value never comes back. */
static void assert_module_key(struct itest_fx *fx, CK_OBJECT_HANDLE h, CK_ULONG role)
{
    CK_BYTE value[64];
    CK_ATTRIBUTE at = { CKA_VALUE, value, sizeof value };

    assert_ulong_attr(fx, h, CKA_DEP11_ROLE, role);
    assert_ulong_attr(fx, h, CKA_CLASS, CKO_SECRET_KEY);
    assert_ulong_attr(fx, h, CKA_KEY_TYPE, CKK_AES);
    assert_ulong_attr(fx, h, CKA_VALUE_LEN, 32);
    assert_bool_attr(fx, h, CKA_TOKEN, CK_FALSE);
    assert_bool_attr(fx, h, CKA_SENSITIVE, CK_TRUE);
    assert_bool_attr(fx, h, CKA_EXTRACTABLE, CK_FALSE);
    assert_bool_attr(fx, h, CKA_PRIVATE, CK_TRUE);
    assert_int_equal(F->C_GetAttributeValue(fx->s, h, &at, 1), CKR_ATTRIBUTE_SENSITIVE);
    assert_int_equal(at.ulValueLen, CK_UNAVAILABLE_INFORMATION);
}

static void test_keygen_roles(void **state)
{
    struct itest_fx *fx = *state;
    CK_BYTE id1[16], id2[16], tenant[16];
    CK_OBJECT_HANDLE p1 = gen(fx, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX);
    CK_OBJECT_HANDLE p2 = gen(fx, DEP11_ROLE_POLICY, DEP11_POLICY_MULTI_WORKLOAD);
    CK_OBJECT_HANDLE p3 = gen(fx, DEP11_ROLE_POLICY, DEP11_POLICY_FILES);
    CK_OBJECT_HANDLE mb = gen(fx, DEP11_ROLE_MAILBOX, 0);
    CK_OBJECT_HANDLE wl = gen(fx, DEP11_ROLE_WORKLOAD, 0);
    CK_OBJECT_HANDLE st = gen(fx, DEP11_ROLE_SITE, 0);

    assert_module_key(fx, p1, DEP11_ROLE_POLICY);
    assert_module_key(fx, p2, DEP11_ROLE_POLICY);
    assert_module_key(fx, p3, DEP11_ROLE_POLICY);
    assert_module_key(fx, mb, DEP11_ROLE_MAILBOX);
    assert_module_key(fx, wl, DEP11_ROLE_WORKLOAD);
    assert_module_key(fx, st, DEP11_ROLE_SITE);
    assert_ulong_attr(fx, p1, CKA_DEP11_POLICY_TYPE, DEP11_POLICY_MAILBOX);
    assert_ulong_attr(fx, p2, CKA_DEP11_POLICY_TYPE, DEP11_POLICY_MULTI_WORKLOAD);
    assert_ulong_attr(fx, p3, CKA_DEP11_POLICY_TYPE, DEP11_POLICY_FILES);
    /* Each policy gets its own random id; the tenant is the caller's. */
    get_bytes(fx, p1, CKA_DEP11_POLICY_ID, id1, 16);
    get_bytes(fx, p2, CKA_DEP11_POLICY_ID, id2, 16);
    assert_memory_not_equal(id1, id2, 16);
    get_bytes(fx, p1, CKA_DEP11_TENANT, tenant, 16);
    assert_memory_equal(tenant, ITEST_TENANT, 16);
    /* Five distinct handles. */
    assert_true(p1 != p2 && p2 != p3 && p3 != mb && mb != wl && wl != st && st != p1);
}

static void test_keygen_bad_templates(void **state)
{
    struct itest_fx *fx = *state;
    CK_MECHANISM m = { CKM_DEP11_KEY_GEN, NULL, 0 };
    CK_ULONG role = DEP11_ROLE_MAILBOX, bad_role = 77;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ATTRIBUTE token[] = { { CKA_DEP11_ROLE, &role, sizeof role },
                             { CKA_TOKEN, &yes, sizeof yes } };
    CK_ATTRIBUTE nosens[] = { { CKA_DEP11_ROLE, &role, sizeof role },
                              { CKA_SENSITIVE, &no, sizeof no } };
    CK_ATTRIBUTE extr[] = { { CKA_DEP11_ROLE, &role, sizeof role },
                            { CKA_EXTRACTABLE, &yes, sizeof yes } };
    CK_ATTRIBUTE badrole[] = { { CKA_DEP11_ROLE, &bad_role, sizeof bad_role } };

    assert_int_equal(F->C_GenerateKey(fx->s, &m, token, 2, &h), CKR_TEMPLATE_INCONSISTENT);
    assert_int_equal(F->C_GenerateKey(fx->s, &m, nosens, 2, &h), CKR_TEMPLATE_INCONSISTENT);
    assert_int_equal(F->C_GenerateKey(fx->s, &m, extr, 2, &h), CKR_TEMPLATE_INCONSISTENT);
    assert_int_not_equal(F->C_GenerateKey(fx->s, &m, badrole, 1, &h), CKR_OK);
    assert_int_not_equal(F->C_GenerateKey(fx->s, &m, NULL, 0, &h), CKR_OK);
    /* A parameter on a mechanism that takes none. */
    m.pParameter = &role;
    m.ulParameterLen = sizeof role;
    assert_int_equal(F->C_GenerateKey(fx->s, &m, token, 1, &h), CKR_MECHANISM_PARAM_INVALID);
}

static void assert_info(struct itest_fx *fx, const struct itest_blob *b, CK_OBJECT_HANDLE pol,
                        CK_ULONG version, CK_ULONG managed)
{
    CK_DEP11_POLICY_INFO info;
    CK_BYTE id[16];

    memset(&info, 0xA5, sizeof info);
    assert_int_equal(fx->t->x->DEP11_GetPolicyInfo(b->p, b->len, &info), CKR_OK);
    get_bytes(fx, pol, CKA_DEP11_POLICY_ID, id, 16);
    assert_memory_equal(info.policyId, id, 16);
    assert_memory_equal(info.tenantId, ITEST_TENANT, 16);
    assert_int_equal(info.ulPolicyType, DEP11_POLICY_MAILBOX);
    assert_int_equal(info.ulVersion, version);
    assert_int_equal(info.ulManagedBy, managed);
    assert_int_equal(info.ulSuite, 1);
    assert_int_equal(info.ulWrappedCopies, 3);
    assert_memory_equal(info.label, "itest policy", 12);
    for (size_t i = 12; i < sizeof info.label; i++)
        assert_int_equal(info.label[i], ' ');
    for (size_t i = 0; i < sizeof info.geo; i++)
        assert_int_equal(info.geo[i], ' ');
}

/* A child wrapped under @a unwraps under @b: the two handles hold one key. */
static void assert_same_policy_key(struct itest_fx *fx, CK_OBJECT_HANDLE a, CK_OBJECT_HANDLE b)
{
    struct itest_blob cb = { 0 }, ct = { 0 }, pt = { 0 };
    CK_OBJECT_HANDLE mb = gen(fx, DEP11_ROLE_MAILBOX, 0), mb2 = CK_INVALID_HANDLE;

    assert_int_equal(itest_child_wrap(fx->t, fx->s, a, mb, OWNER_A, &cb), CKR_OK);
    assert_int_equal(itest_child_unwrap(fx->t, fx->s, b, &cb, OWNER_A, &mb2), CKR_OK);
    assert_int_equal(itest_aead(fx->t, fx->s, 1, mb, NULL, 0, (CK_BYTE *)"same key", 8, &ct),
                     CKR_OK);
    assert_int_equal(itest_aead(fx->t, fx->s, 0, mb2, NULL, 0, ct.p, ct.len, &pt), CKR_OK);
    assert_int_equal(pt.len, 8);
    assert_memory_equal(pt.p, "same key", 8);
    itest_blob_free(&cb);
    itest_blob_free(&ct);
    itest_blob_free(&pt);
}

static void test_policy_wrap_customer(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE pol = gen(fx, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX);
    CK_OBJECT_HANDLE un = CK_INVALID_HANDLE, un2 = CK_INVALID_HANDLE;
    struct itest_blob b = { 0 }, b2 = { 0 };
    CK_DEP11_POLICY_WRAP_PARAMS p = { fx->r2, 0 };
    CK_MECHANISM m = { CKM_DEP11_POLICY_WRAP, &p, sizeof p };
    CK_BYTE small[16];
    CK_ULONG len = sizeof small, by = 0;
    CK_BYTE id1[16], id2[16];

    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, fx->r1, fx->r2, 0, &b), CKR_OK);
    assert_true(b.len > 2 * 384);
    /* Size-query protocol: too small is CKR_BUFFER_TOO_SMALL with the length. */
    assert_int_equal(F->C_WrapKey(fx->s, &m, fx->r1, pol, small, &len), CKR_BUFFER_TOO_SMALL);
    assert_true(len >= b.len);
    assert_info(fx, &b, pol, 1, DEP11_MANAGED_CUSTOMER);

    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, &b, DEP11_REQUESTER_USER, &un), CKR_OK);
    assert_module_key(fx, un, DEP11_ROLE_POLICY);
    assert_int_equal(itest_get_ulong(fx->t, fx->s, un, CKA_DEP11_UNWRAPPED_BY, &by), CKR_OK);
    assert_true(by == DEP11_ROOT_CUSTOMER_1 || by == DEP11_ROOT_CUSTOMER_2);
    assert_ulong_attr(fx, un, CKA_DEP11_POLICY_VERSION, 1);
    assert_ulong_attr(fx, un, CKA_DEP11_MANAGED_BY, DEP11_MANAGED_CUSTOMER);
    assert_ulong_attr(fx, un, CKA_DEP11_POLICY_TYPE, DEP11_POLICY_MAILBOX);
    get_bytes(fx, pol, CKA_DEP11_POLICY_ID, id1, 16);
    get_bytes(fx, un, CKA_DEP11_POLICY_ID, id2, 16);
    assert_memory_equal(id1, id2, 16);
    assert_same_policy_key(fx, pol, un);

    /* Re-wrapping an unwrapped key (a refresh) gives version 2. */
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, un, fx->r1, fx->r2, 0, &b2), CKR_OK);
    assert_info(fx, &b2, pol, 2, DEP11_MANAGED_CUSTOMER);
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, &b2, 0, &un2), CKR_OK);
    assert_ulong_attr(fx, un2, CKA_DEP11_POLICY_VERSION, 2);
    assert_same_policy_key(fx, pol, un2);
    itest_blob_free(&b);
    itest_blob_free(&b2);
}

static void test_policy_wrap_params(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE pol = gen(fx, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX);
    CK_OBJECT_HANDLE pub1 = CK_INVALID_HANDLE, pub2 = CK_INVALID_HANDLE, un = 0;
    struct itest_blob b = { 0 };
    CK_DEP11_POLICY_WRAP_PARAMS p = { fx->r1, 0 };
    CK_MECHANISM m = { CKM_DEP11_POLICY_WRAP, &p, sizeof p };
    CK_ULONG len = 0;

    /* The same root twice. */
    assert_int_equal(F->C_WrapKey(fx->s, &m, fx->r1, pol, NULL, &len),
                     CKR_MECHANISM_PARAM_INVALID);
    /* A parameter of the wrong length. */
    p.hSecondRootKey = fx->r2;
    m.ulParameterLen = sizeof p - 1;
    assert_int_equal(F->C_WrapKey(fx->s, &m, fx->r1, pol, NULL, &len),
                     CKR_MECHANISM_PARAM_INVALID);
    /* The public halves name the same roots. */
    assert_int_equal(itest_find(fx->t, fx->s, CKO_PUBLIC_KEY, "root1", &pub1), CKR_OK);
    assert_int_equal(itest_find(fx->t, fx->s, CKO_PUBLIC_KEY, "root2", &pub2), CKR_OK);
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, pub1, pub2, 0, &b), CKR_OK);
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, &b, DEP11_REQUESTER_USER, &un), CKR_OK);
    assert_same_policy_key(fx, pol, un);
    itest_blob_free(&b);
}

static void test_policy_wrap_provider(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE pol = gen(fx, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX);
    CK_OBJECT_HANDLE un = CK_INVALID_HANDLE;
    struct itest_blob b = { 0 };

    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, CK_INVALID_HANDLE, CK_INVALID_HANDLE,
                                       0, &b), CKR_OK);
    assert_info(fx, &b, pol, 1, DEP11_MANAGED_PROVIDER);
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, &b, DEP11_REQUESTER_USER, &un), CKR_OK);
    assert_ulong_attr(fx, un, CKA_DEP11_UNWRAPPED_BY, DEP11_ROOT_PROVIDER);
    assert_ulong_attr(fx, un, CKA_DEP11_MANAGED_BY, DEP11_MANAGED_PROVIDER);
    assert_ulong_attr(fx, un, CKA_DEP11_POLICY_VERSION, 1);
    assert_same_policy_key(fx, pol, un);
    itest_blob_free(&b);
}

static void test_child_wrap_unwrap(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE pol = gen(fx, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX);
    CK_OBJECT_HANDLE other = gen(fx, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX);
    CK_OBJECT_HANDLE mb = gen(fx, DEP11_ROLE_MAILBOX, 0), h = CK_INVALID_HANDLE;
    struct itest_blob cb = { 0 }, bad = { 0 };
    CK_BYTE owner[16];

    assert_int_equal(itest_child_wrap(fx->t, fx->s, pol, mb, OWNER_A, &cb), CKR_OK);
    assert_int_equal(itest_child_unwrap(fx->t, fx->s, pol, &cb, OWNER_A, &h), CKR_OK);
    assert_module_key(fx, h, DEP11_ROLE_MAILBOX);
    get_bytes(fx, h, CKA_DEP11_OWNER, owner, 16);
    assert_memory_equal(owner, OWNER_A, 16);
    /* Wrong owner, wrong policy: CKR_WRAPPED_KEY_INVALID. */
    assert_int_equal(itest_child_unwrap(fx->t, fx->s, pol, &cb, OWNER_B, &h),
                     CKR_WRAPPED_KEY_INVALID);
    assert_int_equal(itest_child_unwrap(fx->t, fx->s, other, &cb, OWNER_A, &h),
                     CKR_WRAPPED_KEY_INVALID);
    /* Every byte of the blob counts. */
    bad.len = cb.len;
    bad.p = malloc(cb.len);
    assert_non_null(bad.p);
    for (CK_ULONG i = 0; i < cb.len; i++) {
        memcpy(bad.p, cb.p, cb.len);
        bad.p[i] ^= 0x01;
        assert_int_equal(itest_child_unwrap(fx->t, fx->s, pol, &bad, OWNER_A, &h),
                         CKR_WRAPPED_KEY_INVALID);
    }
    bad.len = cb.len - 1;
    memcpy(bad.p, cb.p, bad.len);
    assert_int_equal(itest_child_unwrap(fx->t, fx->s, pol, &bad, OWNER_A, &h),
                     CKR_WRAPPED_KEY_INVALID);
    itest_blob_free(&bad);
    itest_blob_free(&cb);
}

/* Workload keys under a MULTI_WORKLOAD policy, site keys under FILES; a
 * child of one policy type does not unwrap under a policy of another type. */
static void test_child_roles(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE mw = gen(fx, DEP11_ROLE_POLICY, DEP11_POLICY_MULTI_WORKLOAD);
    CK_OBJECT_HANDLE fl = gen(fx, DEP11_ROLE_POLICY, DEP11_POLICY_FILES);
    CK_OBJECT_HANDLE wl = gen(fx, DEP11_ROLE_WORKLOAD, 0);
    CK_OBJECT_HANDLE st = gen(fx, DEP11_ROLE_SITE, 0), h = CK_INVALID_HANDLE;
    struct itest_blob wb = { 0 }, sb = { 0 };

    assert_int_equal(itest_child_wrap(fx->t, fx->s, mw, wl, OWNER_A, &wb), CKR_OK);
    assert_int_equal(itest_child_unwrap(fx->t, fx->s, mw, &wb, OWNER_A, &h), CKR_OK);
    assert_module_key(fx, h, DEP11_ROLE_WORKLOAD);
    assert_int_equal(itest_child_wrap(fx->t, fx->s, fl, st, OWNER_B, &sb), CKR_OK);
    assert_int_equal(itest_child_unwrap(fx->t, fx->s, fl, &sb, OWNER_B, &h), CKR_OK);
    assert_module_key(fx, h, DEP11_ROLE_SITE);
    assert_int_equal(itest_child_unwrap(fx->t, fx->s, fl, &wb, OWNER_A, &h),
                     CKR_WRAPPED_KEY_INVALID);
    itest_blob_free(&wb);
    itest_blob_free(&sb);
}

static void test_aead_oneshot(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE mb = gen(fx, DEP11_ROLE_MAILBOX, 0);
    static const CK_BYTE msg[] = "Dear customer, your keys are yours.";
    static const CK_BYTE aad[] = "message-id:42";
    struct itest_blob c1 = { 0 }, c2 = { 0 }, pt = { 0 }, bad = { 0 };
    CK_DEP11_AEAD_PARAMS p = { (CK_BYTE_PTR)aad, sizeof aad };
    CK_MECHANISM m = { CKM_DEP11_AEAD, &p, sizeof p };
    CK_BYTE small[8];
    CK_ULONG len = sizeof small;

    assert_int_equal(itest_aead(fx->t, fx->s, 1, mb, aad, sizeof aad, msg, sizeof msg, &c1),
                     CKR_OK);
    assert_int_equal(c1.len, sizeof msg + DEP11_AEAD_OVERHEAD);
    assert_int_equal(itest_aead(fx->t, fx->s, 1, mb, aad, sizeof aad, msg, sizeof msg, &c2),
                     CKR_OK);
    assert_memory_not_equal(c1.p, c2.p, DEP11_NONCE_LEN); /* fresh nonces */
    assert_int_equal(itest_aead(fx->t, fx->s, 0, mb, aad, sizeof aad, c1.p, c1.len, &pt), CKR_OK);
    assert_int_equal(pt.len, sizeof msg);
    assert_memory_equal(pt.p, msg, sizeof msg);
    itest_blob_free(&pt);
    /* A flipped bit anywhere (nonce, ciphertext, tag) fails the tag. */
    bad.p = malloc(c1.len);
    assert_non_null(bad.p);
    for (CK_ULONG i = 0; i < c1.len; i += 5) {
        memcpy(bad.p, c1.p, c1.len);
        bad.p[i] ^= 0x80;
        assert_int_equal(itest_aead(fx->t, fx->s, 0, mb, aad, sizeof aad, bad.p, c1.len, &pt),
                         CKR_ENCRYPTED_DATA_INVALID);
        itest_blob_free(&pt);
    }
    free(bad.p);
    /* Wrong AAD, and a ciphertext shorter than nonce + tag. */
    assert_int_equal(itest_aead(fx->t, fx->s, 0, mb, (CK_BYTE *)"x", 1, c1.p, c1.len, &pt),
                     CKR_ENCRYPTED_DATA_INVALID);
    itest_blob_free(&pt);
    assert_int_not_equal(itest_aead(fx->t, fx->s, 0, mb, aad, sizeof aad, c1.p, 20, &pt),
                         CKR_OK);
    itest_blob_free(&pt);
    /* NULL parameter: no AAD. */
    m.pParameter = NULL;
    m.ulParameterLen = 0;
    assert_int_equal(F->C_EncryptInit(fx->s, &m, mb), CKR_OK);
    assert_int_equal(F->C_Encrypt(fx->s, (CK_BYTE_PTR)msg, sizeof msg, small, &len),
                     CKR_BUFFER_TOO_SMALL);
    assert_true(len >= sizeof msg + DEP11_AEAD_OVERHEAD);
    itest_blob_free(&c2);
    c2.p = malloc(len);
    assert_non_null(c2.p);
    assert_int_equal(F->C_Encrypt(fx->s, (CK_BYTE_PTR)msg, sizeof msg, c2.p, &len), CKR_OK);
    assert_int_equal(len, sizeof msg + DEP11_AEAD_OVERHEAD);
    c2.len = len;
    assert_int_equal(itest_aead(fx->t, fx->s, 0, mb, NULL, 0, c2.p, c2.len, &pt), CKR_OK);
    assert_memory_equal(pt.p, msg, sizeof msg);
    /* A parameter of the wrong length. */
    m.pParameter = &p;
    m.ulParameterLen = sizeof p + 1;
    assert_int_equal(F->C_EncryptInit(fx->s, &m, mb), CKR_MECHANISM_PARAM_INVALID);
    itest_blob_free(&pt);
    itest_blob_free(&c1);
    itest_blob_free(&c2);
}

static void test_aead_multipart(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE mb = gen(fx, DEP11_ROLE_MAILBOX, 0);
    CK_DEP11_AEAD_PARAMS p = { (CK_BYTE_PTR)"hdr", 3 };
    CK_MECHANISM m = { CKM_DEP11_AEAD, &p, sizeof p };
    CK_BYTE msg[1000], ct[1100], out[1100];
    CK_ULONG total = 0, len = 0;
    struct itest_blob pt = { 0 };

    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (CK_BYTE)(i * 7);
    assert_int_equal(F->C_EncryptInit(fx->s, &m, mb), CKR_OK);
    for (size_t off = 0; off < sizeof msg; off += 333) {
        size_t n = sizeof msg - off < 333 ? sizeof msg - off : 333;
        len = sizeof ct - total;
        assert_int_equal(F->C_EncryptUpdate(fx->s, msg + off, n, ct + total, &len), CKR_OK);
        total += len;
    }
    len = sizeof ct - total;
    assert_int_equal(F->C_EncryptFinal(fx->s, ct + total, &len), CKR_OK);
    total += len;
    assert_int_equal(total, sizeof msg + DEP11_AEAD_OVERHEAD);
    /* One-shot decrypt of the multi-part output. */
    assert_int_equal(itest_aead(fx->t, fx->s, 0, mb, (CK_BYTE *)"hdr", 3, ct, total, &pt),
                     CKR_OK);
    assert_int_equal(pt.len, sizeof msg);
    assert_memory_equal(pt.p, msg, sizeof msg);
    itest_blob_free(&pt);
    /* Multi-part decrypt, then again with a flipped tag byte. */
    for (int tamper = 0; tamper < 2; tamper++) {
        CK_ULONG got = 0;
        CK_RV rv = CKR_OK;
        if (tamper)
            ct[total - 1] ^= 1;
        assert_int_equal(F->C_DecryptInit(fx->s, &m, mb), CKR_OK);
        for (CK_ULONG off = 0; off < total; off += 100) {
            CK_ULONG n = total - off < 100 ? total - off : 100;
            len = sizeof out - got;
            assert_int_equal(F->C_DecryptUpdate(fx->s, ct + off, n, out + got, &len), CKR_OK);
            got += len;
        }
        len = sizeof out - got;
        rv = F->C_DecryptFinal(fx->s, out + got, &len);
        if (tamper) {
            assert_int_equal(rv, CKR_ENCRYPTED_DATA_INVALID);
        } else {
            assert_int_equal(rv, CKR_OK);
            got += len;
            assert_int_equal(got, sizeof msg);
            assert_memory_equal(out, msg, sizeof msg);
        }
    }
}

static CK_RV gcm_decrypt(struct itest_fx *fx, CK_OBJECT_HANDLE k, int with_bits,
                         const CK_BYTE *aad, CK_ULONG aad_len, const struct itest_blob *c,
                         CK_BYTE *out, CK_ULONG *out_len)
{
    struct gcm48 p48 = { c->p, 12, 96, (CK_BYTE_PTR)aad, aad_len, 128 };
    struct gcm40 p40 = { c->p, 12, (CK_BYTE_PTR)aad, aad_len, 128 };
    CK_MECHANISM m = { CKM_AES_GCM, NULL, 0 };
    CK_RV rv = CKR_OK;

    if (with_bits) {
        m.pParameter = &p48;
        m.ulParameterLen = sizeof p48;
    } else {
        m.pParameter = &p40;
        m.ulParameterLen = sizeof p40;
    }
    rv = F->C_DecryptInit(fx->s, &m, k);
    if (rv != CKR_OK)
        return rv;
    return F->C_Decrypt(fx->s, c->p + 12, c->len - 12, out, out_len);
}

static void test_gcm_decrypt(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE mb = gen(fx, DEP11_ROLE_MAILBOX, 0);
    CK_OBJECT_HANDLE wl = gen(fx, DEP11_ROLE_WORKLOAD, 0);
    static const CK_BYTE msg[] = "standard GCM reads dep11 output";
    struct itest_blob c = { 0 };
    CK_BYTE out[128];
    CK_ULONG len = 0;

    assert_int_equal(sizeof(struct gcm48), 6 * sizeof(CK_ULONG));
    assert_int_equal(sizeof(struct gcm40), 5 * sizeof(CK_ULONG));
    for (int k = 0; k < 2; k++) {
        CK_OBJECT_HANDLE key = k ? wl : mb;
        assert_int_equal(itest_aead(fx->t, fx->s, 1, key, (CK_BYTE *)"aad", 3, msg,
                                    sizeof msg, &c), CKR_OK);
        for (int bits = 0; bits < 2; bits++) {
            len = sizeof out;
            assert_int_equal(gcm_decrypt(fx, key, bits, (CK_BYTE *)"aad", 3, &c, out, &len),
                             CKR_OK);
            assert_int_equal(len, sizeof msg);
            assert_memory_equal(out, msg, sizeof msg);
        }
        c.p[20] ^= 4;
        len = sizeof out;
        assert_int_equal(gcm_decrypt(fx, key, 1, (CK_BYTE *)"aad", 3, &c, out, &len),
                         CKR_ENCRYPTED_DATA_INVALID);
        itest_blob_free(&c);
    }
}

static void test_caller_iv_refused(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE mb = gen(fx, DEP11_ROLE_MAILBOX, 0);
    CK_BYTE iv[12] = { 1, 2, 3 };
    struct gcm48 p = { iv, 12, 96, NULL, 0, 128 };
    CK_MECHANISM m = { CKM_AES_GCM, &p, sizeof p };

    assert_int_equal(F->C_EncryptInit(fx->s, &m, mb), CKR_KEY_FUNCTION_NOT_PERMITTED);
}

static void test_roles_are_sticky(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE pol = gen(fx, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX);
    CK_OBJECT_HANDLE mb = gen(fx, DEP11_ROLE_MAILBOX, 0);
    CK_OBJECT_HANDLE mb2 = gen(fx, DEP11_ROLE_MAILBOX, 0);
    CK_OBJECT_HANDLE st = gen(fx, DEP11_ROLE_SITE, 0);
    CK_MECHANISM aead = { CKM_DEP11_AEAD, NULL, 0 };
    CK_DEP11_CHILD_PARAMS cp;
    CK_MECHANISM cw = { CKM_DEP11_CHILD_WRAP, &cp, sizeof cp };
    CK_ULONG len = 0;
    struct itest_blob b = { 0 };

    memcpy(cp.ownerId, OWNER_A, 16);
    /* A policy key cannot encrypt data, nor can a site key. */
    assert_int_equal(F->C_EncryptInit(fx->s, &aead, pol), CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(F->C_DecryptInit(fx->s, &aead, pol), CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(F->C_EncryptInit(fx->s, &aead, st), CKR_KEY_FUNCTION_NOT_PERMITTED);
    /* A mailbox key cannot wrap (neither another mailbox key nor a policy). */
    assert_int_equal(F->C_WrapKey(fx->s, &cw, mb, mb2, NULL, &len),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(itest_child_wrap(fx->t, fx->s, mb, pol, OWNER_A, &b),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    /* A policy key is no child, and a mailbox key is no policy. */
    assert_int_not_equal(itest_child_wrap(fx->t, fx->s, pol, pol, OWNER_A, &b), CKR_OK);
    assert_int_not_equal(itest_policy_wrap(fx->t, fx->s, mb, fx->r1, fx->r2, 0, &b), CKR_OK);
    itest_blob_free(&b);
}

static void test_not_logged_in(void **state)
{
    struct itest_fx *fx = *state;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE, pol = gen(fx, DEP11_ROLE_POLICY, 1);
    struct itest_blob b = { 0 };

    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, fx->r1, fx->r2, 0, &b), CKR_OK);
    /* fabrikam: a session without login. */
    assert_int_equal(itest_session(fx->t, "fabrikam", 0, &s), CKR_OK);
    assert_int_equal(itest_keygen(fx->t, s, DEP11_ROLE_MAILBOX, 0, &h), CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(itest_keygen(fx->t, s, DEP11_ROLE_POLICY, 1, &h), CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(itest_policy_unwrap(fx->t, s, &b, DEP11_REQUESTER_USER, &h),
                     CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(F->C_CloseSession(s), CKR_OK);
    /* contoso after C_Logout: no fallback of any kind. */
    assert_int_equal(F->C_Logout(fx->s), CKR_OK);
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, &b, DEP11_REQUESTER_USER, &h),
                     CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_MAILBOX, 0, &h),
                     CKR_USER_NOT_LOGGED_IN);
    itest_blob_free(&b);
}

static void test_objects_die_with_session(void **state)
{
    struct itest_fx *fx = *state;
    CK_SESSION_HANDLE s2 = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE h2 = CK_INVALID_HANDLE, h1 = CK_INVALID_HANDLE;
    CK_ULONG role = 0;
    char pin[16];

    assert_int_equal(itest_session(fx->t, "contoso", 0, &s2), CKR_OK);
    assert_int_equal(itest_keygen(fx->t, s2, DEP11_ROLE_MAILBOX, 0, &h2), CKR_OK);
    /* Visible to every session of the application on the token... */
    assert_int_equal(itest_get_ulong(fx->t, fx->s, h2, CKA_DEP11_ROLE, &role), CKR_OK);
    assert_int_equal(role, DEP11_ROLE_MAILBOX);
    /* ...and gone with the session that made it. */
    assert_int_equal(F->C_CloseSession(s2), CKR_OK);
    assert_int_equal(itest_get_ulong(fx->t, fx->s, h2, CKA_DEP11_ROLE, &role),
                     CKR_OBJECT_HANDLE_INVALID);
    /* C_Logout ends every module-side object of the token. */
    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_MAILBOX, 0, &h1), CKR_OK);
    assert_int_equal(F->C_Logout(fx->s), CKR_OK);
    assert_int_equal(itest_read_file(fx->t, "user.pin", pin, sizeof pin), 4);
    assert_int_equal(F->C_Login(fx->s, CKU_USER, (CK_UTF8CHAR_PTR)pin, 4), CKR_OK);
    assert_int_equal(itest_get_ulong(fx->t, fx->s, h1, CKA_DEP11_ROLE, &role),
                     CKR_OBJECT_HANDLE_INVALID);
}

static CK_ULONG find_all(struct itest_fx *fx, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                         CK_OBJECT_HANDLE *out, CK_ULONG cap)
{
    CK_ULONG got = 0, total = 0;

    assert_int_equal(F->C_FindObjectsInit(fx->s, tmpl, n), CKR_OK);
    do {
        assert_int_equal(F->C_FindObjects(fx->s, out + total, 1, &got), CKR_OK);
        total += got;
    } while (got == 1 && total < cap);
    assert_int_equal(F->C_FindObjectsFinal(fx->s), CKR_OK);
    return total;
}

static int has(const CK_OBJECT_HANDLE *v, CK_ULONG n, CK_OBJECT_HANDLE h)
{
    for (CK_ULONG i = 0; i < n; i++)
        if (v[i] == h)
            return 1;
    return 0;
}

static void test_find_and_destroy(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE mb1 = gen(fx, DEP11_ROLE_MAILBOX, 0), mb2 = gen(fx, DEP11_ROLE_MAILBOX, 0);
    CK_OBJECT_HANDLE wl = gen(fx, DEP11_ROLE_WORKLOAD, 0), found[256];
    CK_ULONG role = DEP11_ROLE_MAILBOX, n = 0, v = 0;
    CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE by_role = { CKA_DEP11_ROLE, &role, sizeof role };
    CK_ATTRIBUTE by_class = { CKA_CLASS, &priv, sizeof priv };

    n = find_all(fx, &by_role, 1, found, 256);
    assert_int_equal(n, 2);
    assert_true(has(found, n, mb1) && has(found, n, mb2) && !has(found, n, wl));
    n = find_all(fx, &by_class, 1, found, 256);
    assert_true(has(found, n, fx->r1) && has(found, n, fx->r2) && !has(found, n, mb1));
    /* An empty template finds module-side and backend objects. */
    n = find_all(fx, NULL, 0, found, 256);
    assert_true(has(found, n, fx->r1) && has(found, n, mb1) && has(found, n, wl));

    assert_int_equal(F->C_DestroyObject(fx->s, mb1), CKR_OK);
    assert_int_equal(itest_get_ulong(fx->t, fx->s, mb1, CKA_DEP11_ROLE, &v),
                     CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(F->C_DestroyObject(fx->s, mb1), CKR_OBJECT_HANDLE_INVALID);
    n = find_all(fx, &by_role, 1, found, 256);
    assert_int_equal(n, 1);
    assert_int_equal(found[0], mb2);
}

static void test_handles_distinct(void **state)
{
    struct itest_fx *fx = *state;
    CK_MECHANISM aes = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_ULONG vlen = 32;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE at[] = { { CKA_VALUE_LEN, &vlen, sizeof vlen },
                          { CKA_ENCRYPT, &yes, sizeof yes },
                          { CKA_LABEL, (void *)"backend-aes", 11 } };
    CK_OBJECT_HANDLE h[40];
    size_t n = 0;

    h[n++] = fx->r1;
    h[n++] = fx->r2;
    for (int i = 0; i < 16; i++) {
        assert_int_equal(F->C_GenerateKey(fx->s, &aes, at, 3, &h[n]), CKR_OK);
        n++;
        h[n++] = gen(fx, i % 2 ? DEP11_ROLE_MAILBOX : DEP11_ROLE_POLICY, 1);
    }
    for (size_t i = 0; i < n; i++) {
        assert_true(h[i] != CK_INVALID_HANDLE);
        for (size_t j = i + 1; j < n; j++)
            assert_true(h[i] != h[j]);
    }
    /* Module handles come from the reserved range, SoftHSM's do not. */
    for (size_t i = 0; i < n; i++)
        assert_int_equal(dep11_handle_in_range(h[i]), i >= 2 && i % 2 == 1);
    /* Each handle still names the object it was given for. */
    for (size_t i = 2; i < n; i += 2) {
        CK_ULONG cls = 0;
        assert_int_equal(itest_get_ulong(fx->t, fx->s, h[i], CKA_CLASS, &cls), CKR_OK);
        assert_int_equal(cls, CKO_SECRET_KEY);
        assert_int_equal(itest_get_ulong(fx->t, fx->s, h[i], CKA_DEP11_ROLE, &cls),
                         CKR_ATTRIBUTE_TYPE_INVALID);
        assert_int_equal(itest_get_ulong(fx->t, fx->s, h[i + 1], CKA_DEP11_ROLE, &cls), CKR_OK);
    }
}

static void test_mechanism_list(void **state)
{
    struct itest_fx *fx = *state;
    CK_SESSION_INFO si;
    CK_MECHANISM_TYPE *list = NULL;
    CK_ULONG n = 0, m = 0;
    CK_MECHANISM_INFO mi;
    static const CK_FLAGS flags[9] = { 0, CKF_GENERATE, CKF_WRAP, CKF_UNWRAP, CKF_WRAP,
                                       CKF_UNWRAP, CKF_DERIVE, CKF_ENCRYPT | CKF_DECRYPT,
                                       CKF_ENCRYPT | CKF_DECRYPT };

    assert_int_equal(F->C_GetSessionInfo(fx->s, &si), CKR_OK);
    assert_int_equal(F->C_GetMechanismList(si.slotID, NULL, &n), CKR_OK);
    assert_true(n > 8);
    list = calloc(n, sizeof *list);
    assert_non_null(list);
    m = n - 1;
    assert_int_equal(F->C_GetMechanismList(si.slotID, list, &m), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(m, n);
    assert_int_equal(F->C_GetMechanismList(si.slotID, list, &m), CKR_OK);
    assert_int_equal(m, n);
    for (CK_ULONG k = 1; k <= 8; k++) {
        int seen = 0;
        for (CK_ULONG i = 0; i < n; i++)
            seen += list[i] == DEP11_CKM(k);
        assert_int_equal(seen, 1);
        assert_int_equal(F->C_GetMechanismInfo(si.slotID, DEP11_CKM(k), &mi), CKR_OK);
        assert_true((mi.flags & flags[k]) == flags[k]);
        if (k != 2 && k != 3) {
            assert_int_equal(mi.ulMinKeySize, 32);
            assert_int_equal(mi.ulMaxKeySize, 32);
        } else {
            assert_true(mi.ulMinKeySize <= 2048 && mi.ulMaxKeySize >= 4096);
        }
    }
    /* The backend's own mechanisms are still there. */
    {
        int sha = 0, oaep = 0; /* both backends offer these (not all AES-GCM) */
        for (CK_ULONG i = 0; i < n; i++) {
            sha |= list[i] == CKM_SHA256;
            oaep |= list[i] == CKM_RSA_PKCS_OAEP;
        }
        assert_true(sha && oaep);
    }
    /* 9..13 are the vendor functions through standard calls (test_vendor_std,
     * test_rootreg). */
    assert_int_equal(F->C_GetMechanismInfo(si.slotID, DEP11_CKM(13), &mi), CKR_OK);
    assert_int_equal(mi.flags, CKF_DIGEST);
    free(list);
}

static void test_interfaces(void **state)
{
    struct itest_fx *fx = *state;
    CK_INTERFACE_PTR ifc = NULL;
    CK_INTERFACE list[8];
    CK_ULONG n = 0;
    CK_DEP11_FUNCTION_LIST_PTR x = NULL;
    CK_FUNCTION_LIST_PTR f = NULL;

    assert_non_null(fx->t->get_interface);
    assert_non_null(fx->t->get_interface_list);
    assert_int_equal(fx->t->get_interface_list(NULL, &n), CKR_OK);
    assert_true(n >= 2 && n <= 8);
    assert_int_equal(fx->t->get_interface_list(list, &n), CKR_OK);
    assert_int_equal(fx->t->get_interface((CK_UTF8CHAR_PTR)"Vendor dep11", NULL, &ifc, 0),
                     CKR_OK);
    assert_non_null(ifc);
    assert_string_equal((const char *)ifc->pInterfaceName, "Vendor dep11");
    x = ifc->pFunctionList;
    assert_int_equal(x->version.major, 1);
    assert_int_equal(x->version.minor, 1); /* 1.1: DEP11_RegisterRoot */
    assert_non_null(x->DEP11_RegisterRoot);
    assert_ptr_equal(x->DEP11_GetPolicyInfo, fx->t->x->DEP11_GetPolicyInfo);
    assert_non_null(x->DEP11_PurgePolicy);
    assert_non_null(x->DEP11_FlushCache);
    /* "PKCS 11" without a version is 3.0 now (test_interface_3_0.c): ask for 2.40 */
    {
        CK_VERSION v240 = { 2, 40 };
        assert_int_equal(fx->t->get_interface((CK_UTF8CHAR_PTR) "PKCS 11", &v240, &ifc, 0),
                         CKR_OK);
    }
    f = ifc->pFunctionList;
    assert_int_equal(f->version.major, 2);
    assert_int_equal(f->version.minor, 40);
    assert_ptr_equal(f->C_WrapKey, F->C_WrapKey);
    assert_int_not_equal(fx->t->get_interface((CK_UTF8CHAR_PTR)"Vendor nobody", NULL, &ifc, 0),
                         CKR_OK);
    /* GetPolicyInfo on garbage. */
    {
        CK_BYTE junk[64] = { 0 };
        CK_DEP11_POLICY_INFO info;
        assert_int_equal(x->DEP11_GetPolicyInfo(junk, sizeof junk, &info),
                         CKR_WRAPPED_KEY_INVALID);
        assert_int_equal(x->DEP11_GetPolicyInfo(NULL, 10, &info), CKR_ARGUMENTS_BAD);
    }
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, itest_setup, itest_teardown)
    const struct CMUnitTest tests[] = {
        T(test_keygen_roles),        T(test_keygen_bad_templates),
        T(test_policy_wrap_customer), T(test_policy_wrap_params),
        T(test_policy_wrap_provider), T(test_child_wrap_unwrap),
        T(test_child_roles),         T(test_aead_oneshot),
        T(test_aead_multipart),      T(test_gcm_decrypt),
        T(test_caller_iv_refused),   T(test_roles_are_sticky),
        T(test_not_logged_in),       T(test_objects_die_with_session),
        T(test_find_and_destroy),    T(test_handles_distinct),
        T(test_mechanism_list),      T(test_interfaces),
    };
#undef T
    return cmocka_run_group_tests_name("mechanisms", tests, itest_group_setup,
                                       itest_group_teardown);
}
