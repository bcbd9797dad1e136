/*
 * test_vendor_obj.c - the vendor functions through request objects (issue 14
 * item 5, include/dep11.h CKO_DEP11_REQUEST), directly on libdep11.so, each
 * compared with the vendor function it carries (same bytes, same codes):
 *   abuse   the template's codes (token, private, missing or unknown op,
 *           read-only output, foreign attributes, two classes, request
 *           attributes on another class); the handle is no key, not found,
 *           not copied or changed, invisible to another token, gone with
 *           C_DestroyObject and with its session; C_GetAttributeValue's
 *           standard semantics; the op list
 *   info    equal to DEP11_GetPolicyInfo, size query, bad and long blobs,
 *           no login needed
 *   purge   (last: it revokes root1 and root2) refusals equal to
 *           DEP11_PurgePolicy's, the flush made visible, size queries
 *           destroy nothing and flush nothing, the receipt re-issued byte
 *           for byte by both routes, PURGED afterwards
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "itest.h"

#define F (fx->t->f)
#define X (fx->t->x)
#define RECEIPT_CAP 4096

/* C_CreateObject of a request: @op, input @in/@len (NULL: none), @flags. */
/* ... with @cap (not NULL) as CKA_VALUE_LEN: the most output taken. */
static CK_RV request_cap(struct itest_fx *fx, CK_SESSION_HANDLE s, CK_ULONG op, const void *in,
                         CK_ULONG len, CK_ULONG flags, CK_ULONG *cap, CK_OBJECT_HANDLE *h)
{
    CK_OBJECT_CLASS cls = CKO_DEP11_REQUEST;
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_TOKEN, &no, sizeof no },
        { CKA_DEP11_REQUEST_OP, &op, sizeof op },
        { CKA_DEP11_REQUEST_FLAGS, &flags, sizeof flags },
        { CKA_VALUE_LEN, cap, sizeof *cap },
        { CKA_DEP11_REQUEST_INPUT, (void *)in, len },
    };
    CK_ULONG n = 4;

    if (cap != NULL)
        t[n++] = t[4];
    if (in != NULL)
        t[n++] = t[5];
    *h = CK_INVALID_HANDLE;
    return F->C_CreateObject(s, t, n, h);
}

static CK_RV request(struct itest_fx *fx, CK_SESSION_HANDLE s, CK_ULONG op, const void *in,
                     CK_ULONG len, CK_ULONG flags, CK_OBJECT_HANDLE *h)
{
    return request_cap(fx, s, op, in, len, flags, NULL, h);
}

/* Reads a request's output into @out (*@len: its size; then the length). */
static CK_RV output(struct itest_fx *fx, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, void *out,
                    CK_ULONG *len)
{
    CK_ATTRIBUTE a = { CKA_DEP11_REQUEST_OUTPUT, out, *len };
    CK_RV rv = F->C_GetAttributeValue(s, h, &a, 1);

    *len = a.ulValueLen;
    return rv;
}

/* A request run to its output and destroyed: the vendor function's code. */
static CK_RV run(struct itest_fx *fx, CK_SESSION_HANDLE s, CK_ULONG op, const void *in,
                 CK_ULONG in_len, void *out, CK_ULONG *out_len)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = request(fx, s, op, in, in_len, 0, &h);

    if (rv != CKR_OK)
        return rv;
    assert_true(h != CK_INVALID_HANDLE);
    rv = output(fx, s, h, out, out_len);
    assert_int_equal(F->C_DestroyObject(s, h), CKR_OK);
    return rv;
}

/* A customer-managed policy blob under root1 and root2. */
static void make_blob(struct itest_fx *fx, struct itest_blob *b)
{
    CK_OBJECT_HANDLE pol = CK_INVALID_HANDLE;

    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, &pol),
                     CKR_OK);
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, fx->r1, fx->r2, 0, b), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, pol), CKR_OK);
}

/* ---- abuse ---- */

/* C_CreateObject of template @t (@n attributes): code @want, no object. */
static void refused(struct itest_fx *fx, CK_ATTRIBUTE *t, CK_ULONG n, CK_RV want)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    assert_int_equal(F->C_CreateObject(fx->s, t, n, &h), want);
    assert_int_equal(h, CK_INVALID_HANDLE);
}

static void abuse_templates(struct itest_fx *fx)
{
    CK_OBJECT_CLASS cls = CKO_DEP11_REQUEST, data = CKO_DATA;
    CK_ULONG info = CKM_DEP11_POLICY_INFO, aead = CKM_DEP11_AEAD, flags = 2;
    CK_BBOOL yes = CK_TRUE;
    unsigned int small = (unsigned int)info;
    CK_BYTE value[4] = { 1, 2, 3, 4 };
    CK_ATTRIBUTE t[3] = { { CKA_CLASS, &cls, sizeof cls },
                          { CKA_DEP11_REQUEST_OP, &info, sizeof info } };
    CK_ATTRIBUTE extra[] = {
        { CKA_TOKEN, &yes, sizeof yes },                   /* never on a token */
        { CKA_PRIVATE, &yes, sizeof yes },                 /* not private */
        { CKA_MODIFIABLE, &yes, sizeof yes },              /* read only */
        { CKA_DEP11_REQUEST_OP, &aead, sizeof aead },      /* two ops */
        { CKA_DEP11_REQUEST_OUTPUT, value, sizeof value }, /* the output */
        { CKA_VALUE, value, sizeof value },                /* not a request's */
        { CKA_CLASS, &data, sizeof data },                 /* two classes */
        { CKA_DEP11_REQUEST_FLAGS, &flags, sizeof flags }, /* unknown flag */
    };
    static const CK_RV want[] = { CKR_ATTRIBUTE_VALUE_INVALID, CKR_ATTRIBUTE_VALUE_INVALID,
                                  CKR_ATTRIBUTE_VALUE_INVALID, CKR_TEMPLATE_INCONSISTENT,
                                  CKR_ATTRIBUTE_READ_ONLY,     CKR_ATTRIBUTE_TYPE_INVALID,
                                  CKR_TEMPLATE_INCONSISTENT,   CKR_ATTRIBUTE_VALUE_INVALID };

    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        t[2] = extra[i];
        refused(fx, t, 3, want[i]);
    }
    refused(fx, t, 1, CKR_TEMPLATE_INCOMPLETE); /* no op */
    t[1].pValue = &aead;                        /* not an op of the route */
    refused(fx, t, 2, CKR_ATTRIBUTE_VALUE_INVALID);
    t[1].pValue = &small; /* a CK_ULONG of the wrong size */
    t[1].ulValueLen = sizeof small;
    refused(fx, t, 2, CKR_ATTRIBUTE_VALUE_INVALID);
    /* Request attributes on another class: never reach the backend. */
    t[0].pValue = &data;
    t[1].pValue = &info;
    t[1].ulValueLen = sizeof info;
    refused(fx, t, 2, CKR_TEMPLATE_INCONSISTENT);
    t[0].pValue = &cls;
    assert_int_equal(F->C_CreateObject(fx->s, t, 2, NULL), CKR_ARGUMENTS_BAD);
}

/* The list request: the route's operations; its standard attributes. */
static void list_request(struct itest_fx *fx, CK_OBJECT_HANDLE h)
{
    CK_MECHANISM_TYPE ops[16];
    CK_ULONG len = sizeof ops, cls = 0, vlen = 0, size = 0;
    CK_BBOOL token = CK_TRUE, destroyable = CK_FALSE;
    CK_BYTE tiny[2];
    CK_ATTRIBUTE a[] = { { CKA_CLASS, &cls, sizeof cls },
                         { CKA_TOKEN, &token, sizeof token },
                         { CKA_DESTROYABLE, &destroyable, sizeof destroyable },
                         { CKA_VALUE_LEN, &vlen, sizeof vlen } };
    CK_ATTRIBUTE bad[] = { { CKA_VALUE, tiny, sizeof tiny },
                           { CKA_DEP11_REQUEST_OUTPUT, tiny, sizeof tiny } };
    int seen = 0;

    assert_int_equal(output(fx, fx->s, h, ops, &len), CKR_OK);
    assert_int_equal(len % sizeof ops[0], 0);
    for (CK_ULONG i = 0; i < len / sizeof ops[0]; i++)
        seen |= (ops[i] == CKM_DEP11_POLICY_INFO) | (ops[i] == CKM_DEP11_POLICY_PURGE) << 1 |
                (ops[i] == CKM_DEP11_FLUSH_CACHE) << 2;
    assert_int_equal(seen, 7);
    assert_int_equal(F->C_GetAttributeValue(fx->s, h, a, 4), CKR_OK);
    assert_int_equal(cls, CKO_DEP11_REQUEST);
    assert_int_equal(token, CK_FALSE);
    assert_int_equal(destroyable, CK_TRUE);
    assert_int_equal(vlen, len);
    assert_int_equal(F->C_GetObjectSize(fx->s, h, &size), CKR_OK);
    assert_int_equal(size, len);
    assert_int_equal(F->C_GetObjectSize(fx->s, h, NULL), CKR_ARGUMENTS_BAD);
    /* Every attribute processed; TYPE_INVALID outranks BUFFER_TOO_SMALL. */
    assert_int_equal(F->C_GetAttributeValue(fx->s, h, bad, 2), CKR_ATTRIBUTE_TYPE_INVALID);
    assert_int_equal(bad[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(bad[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    bad[1].ulValueLen = sizeof tiny;
    assert_int_equal(F->C_GetAttributeValue(fx->s, h, &bad[1], 1), CKR_BUFFER_TOO_SMALL);
}

/* The request handle is no key, no findable, changeable or copyable object. */
static void not_a_key(struct itest_fx *fx, CK_OBJECT_HANDLE h)
{
    CK_MECHANISM aes = { CKM_AES_ECB, NULL, 0 };
    CK_MECHANISM dep11 = { CKM_DEP11_AEAD, NULL, 0 };
    CK_OBJECT_CLASS cls = CKO_DEP11_REQUEST;
    CK_ATTRIBUTE find = { CKA_CLASS, &cls, sizeof cls };
    CK_BYTE label[] = "x";
    CK_ATTRIBUTE set = { CKA_LABEL, label, 1 };
    CK_OBJECT_HANDLE found[4], copy = CK_INVALID_HANDLE;
    CK_ULONG n = 99;

    assert_int_equal(F->C_EncryptInit(fx->s, &aes, h), CKR_KEY_HANDLE_INVALID);
    assert_int_equal(F->C_EncryptInit(fx->s, &dep11, h), CKR_KEY_HANDLE_INVALID);
    assert_int_equal(F->C_SignInit(fx->s, &aes, h), CKR_KEY_HANDLE_INVALID);
    assert_int_equal(F->C_SetAttributeValue(fx->s, h, &set, 1), CKR_ACTION_PROHIBITED);
    assert_int_equal(F->C_CopyObject(fx->s, h, NULL, 0, &copy), CKR_ACTION_PROHIBITED);
    assert_int_equal(F->C_FindObjectsInit(fx->s, &find, 1), CKR_OK);
    assert_int_equal(F->C_FindObjects(fx->s, found, 4, &n), CKR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(F->C_FindObjectsFinal(fx->s), CKR_OK);
}

static void test_abuse(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE, h2 = CK_INVALID_HANDLE;
    CK_SESSION_HANDLE same = CK_INVALID_HANDLE, other = CK_INVALID_HANDLE;
    CK_ULONG cls = 0, size = 0;
    CK_ATTRIBUTE a = { CKA_CLASS, &cls, sizeof cls };

    abuse_templates(fx);
    assert_int_equal(request(fx, fx->s, DEP11_REQUEST_LIST, NULL, 0, 0, &h), CKR_OK);
    list_request(fx, h);
    not_a_key(fx, h);
    /* Another session of the token sees it; another token does not. */
    assert_int_equal(itest_session(fx->t, "contoso", 0, &same), CKR_OK);
    assert_int_equal(F->C_GetAttributeValue(same, h, &a, 1), CKR_OK);
    assert_int_equal(itest_session(fx->t, "fabrikam", 0, &other), CKR_OK);
    assert_int_equal(F->C_GetAttributeValue(other, h, &a, 1), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(F->C_GetObjectSize(other, h, &size), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(F->C_DestroyObject(other, h), CKR_OBJECT_HANDLE_INVALID);
    /* Gone with C_DestroyObject, and with the session that made it. */
    assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
    assert_int_equal(F->C_GetAttributeValue(fx->s, h, &a, 1), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(request(fx, same, DEP11_REQUEST_LIST, NULL, 0, 0, &h2), CKR_OK);
    assert_int_equal(F->C_GetAttributeValue(fx->s, h2, &a, 1), CKR_OK);
    assert_int_equal(F->C_CloseSession(same), CKR_OK);
    assert_int_equal(F->C_GetAttributeValue(fx->s, h2, &a, 1), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(F->C_CloseSession(other), CKR_OK);
    /* A request left standing goes with C_Finalize (the teardown; valgrind). */
    assert_int_equal(request(fx, fx->s, DEP11_REQUEST_LIST, NULL, 0, 0, &h), CKR_OK);
}

/* ---- info ---- */

/* The fields of a policy info request as attributes, against @want. */
static void info_fields(struct itest_fx *fx, CK_OBJECT_HANDLE h,
                        const CK_DEP11_POLICY_INFO *want)
{
    CK_BYTE id[16], tenant[16], label[64], geo[16];
    CK_ULONG type = 0, version = 0, managed = 0, llen = 64, glen = 16;
    CK_ATTRIBUTE a[] = { { CKA_DEP11_POLICY_ID, id, sizeof id },
                         { CKA_DEP11_TENANT, tenant, sizeof tenant },
                         { CKA_DEP11_POLICY_TYPE, &type, sizeof type },
                         { CKA_DEP11_POLICY_VERSION, &version, sizeof version },
                         { CKA_DEP11_MANAGED_BY, &managed, sizeof managed },
                         { CKA_LABEL, label, sizeof label },
                         { CKA_DEP11_GEO, geo, sizeof geo } };

    assert_int_equal(F->C_GetAttributeValue(fx->s, h, a, 7), CKR_OK);
    assert_memory_equal(id, want->policyId, 16);
    assert_memory_equal(tenant, want->tenantId, 16);
    assert_int_equal(type, want->ulPolicyType);
    assert_int_equal(version, want->ulVersion);
    assert_int_equal(managed, want->ulManagedBy);
    while (llen > 0 && want->label[llen - 1] == ' ')
        llen--;
    while (glen > 0 && want->geo[glen - 1] == ' ')
        glen--;
    assert_int_equal(a[5].ulValueLen, llen);
    assert_memory_equal(label, want->label, llen);
    assert_int_equal(a[6].ulValueLen, glen);
    assert_memory_equal(geo, want->geo, glen);
}

static void test_info(void **state)
{
    struct itest_fx *fx = *state;
    struct itest_blob b = { 0 };
    CK_DEP11_POLICY_INFO want, got;
    CK_ULONG len = sizeof got, vlen = 0;
    CK_ATTRIBUTE a = { CKA_VALUE_LEN, &vlen, sizeof vlen };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_SESSION_HANDLE other = CK_INVALID_HANDLE;
    CK_BYTE *big = calloc(1, 65 * 1024);

    assert_non_null(big);
    make_blob(fx, &b);
    assert_int_equal(X->DEP11_GetPolicyInfo(b.p, b.len, &want), CKR_OK);
    memset(&got, 0, sizeof got);
    assert_int_equal(run(fx, fx->s, CKM_DEP11_POLICY_INFO, b.p, b.len, &got, &len), CKR_OK);
    assert_int_equal(len, sizeof want);
    assert_memory_equal(&got, &want, sizeof want);
    assert_int_equal(request(fx, fx->s, CKM_DEP11_POLICY_INFO, b.p, b.len, 0, &h), CKR_OK);
    info_fields(fx, h, &want);
    assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
    /* The size query: the length, no output. */
    assert_int_equal(
        request(fx, fx->s, CKM_DEP11_POLICY_INFO, b.p, b.len, DEP11_REQUEST_SIZE_QUERY, &h),
        CKR_OK);
    assert_int_equal(F->C_GetAttributeValue(fx->s, h, &a, 1), CKR_OK);
    assert_int_equal(vlen, sizeof want);
    len = sizeof got;
    assert_int_equal(output(fx, fx->s, h, &got, &len), CKR_OK);
    assert_int_equal(len, 0);
    assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
    /* No login needed: a session on fabrikam. */
    assert_int_equal(itest_session(fx->t, "fabrikam", 0, &other), CKR_OK);
    memset(&got, 0, sizeof got);
    len = sizeof got;
    assert_int_equal(run(fx, other, CKM_DEP11_POLICY_INFO, b.p, b.len, &got, &len), CKR_OK);
    assert_memory_equal(&got, &want, sizeof want);
    assert_int_equal(F->C_CloseSession(other), CKR_OK);
    /* Bad blobs: DEP11_GetPolicyInfo's code; no object made. */
    assert_int_equal(X->DEP11_GetPolicyInfo(b.p, 7, &got), CKR_WRAPPED_KEY_INVALID);
    assert_int_equal(request(fx, fx->s, CKM_DEP11_POLICY_INFO, b.p, 7, 0, &h),
                     CKR_WRAPPED_KEY_INVALID);
    assert_int_equal(h, CK_INVALID_HANDLE);
    assert_int_equal(request(fx, fx->s, CKM_DEP11_POLICY_INFO, NULL, 0, 0, &h),
                     CKR_WRAPPED_KEY_INVALID);
    assert_int_equal(request(fx, fx->s, CKM_DEP11_POLICY_INFO, big, 65 * 1024, 0, &h),
                     CKR_WRAPPED_KEY_INVALID);
    free(big);
    itest_blob_free(&b);
}

/* ---- flush and purge ---- */

/* The same purge through both routes: the same code. */
static void both_refuse(struct itest_fx *fx, CK_SESSION_HANDLE s, const struct itest_blob *b,
                        CK_RV want)
{
    CK_BYTE buf[RECEIPT_CAP];
    CK_ULONG len = sizeof buf;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    CK_RV query = CKR_GENERAL_ERROR;

    assert_int_equal(X->DEP11_PurgePolicy(s, b->p, b->len, buf, &len), want);
    assert_int_equal(request(fx, s, CKM_DEP11_POLICY_PURGE, b->p, b->len, 0, &h), want);
    assert_int_equal(h, CK_INVALID_HANDLE);
    /* The size queries answer alike too. */
    query = X->DEP11_PurgePolicy(s, b->p, b->len, NULL, &len);
    assert_int_equal(
        request(fx, s, CKM_DEP11_POLICY_PURGE, b->p, b->len, DEP11_REQUEST_SIZE_QUERY, &h),
        query);
    if (h != CK_INVALID_HANDLE)
        assert_int_equal(F->C_DestroyObject(s, h), CKR_OK);
}

/* The availability key still serves a SYSTEM unwrap in another process. */
static void assert_nothing_destroyed(struct itest_fx *fx)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    CK_ULONG by = 0;

    assert_int_equal(itest_spawn_unwrap(fx->t, "dep11-system.conf", "obj.blob",
                                        DEP11_REQUESTER_SYSTEM, &rv, &by),
                     0);
    assert_int_equal(rv, CKR_OK);
    assert_int_equal(by, DEP11_ROOT_AVAILABILITY);
}

static void purge_refusals(struct itest_fx *fx, const struct itest_blob *b)
{
    assert_int_equal(itest_purge_refusals(fx, b, both_refuse, NULL), 0);
}

/* A cached key serves after revocation until the flush request. */
static void flush_made_visible(struct itest_fx *fx, const struct itest_blob *b)
{
    CK_DEP11_POLICY_INFO info;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_BYTE any[1];
    CK_ULONG len = sizeof any;

    assert_int_equal(X->DEP11_GetPolicyInfo(b->p, b->len, &info), CKR_OK);
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, b, DEP11_REQUESTER_USER, &h), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
    assert_int_equal(itest_revoke_direct(fx->t, "contoso", "root1"), 0);
    assert_int_equal(itest_revoke_direct(fx->t, "contoso", "root2"), 0);
    /* A policy id of the wrong length; a size query flushes nothing. */
    assert_int_equal(request(fx, fx->s, CKM_DEP11_FLUSH_CACHE, info.policyId, 15, 0, &h),
                     CKR_DATA_LEN_RANGE);
    assert_int_equal(request(fx, fx->s, CKM_DEP11_FLUSH_CACHE, info.policyId, 16,
                             DEP11_REQUEST_SIZE_QUERY, &h),
                     CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, b, DEP11_REQUESTER_USER, &h), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
    assert_int_equal(run(fx, fx->s, CKM_DEP11_FLUSH_CACHE, info.policyId, 16, any, &len),
                     CKR_OK);
    assert_int_equal(len, 0);
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, b, DEP11_REQUESTER_USER, &h),
                     CKR_DEP11_ROOT_KEYS_REVOKED);
    len = sizeof any; /* no data flushes every entry */
    assert_int_equal(run(fx, fx->s, CKM_DEP11_FLUSH_CACHE, NULL, 0, any, &len), CKR_OK);
}

/* A purge request that takes less output than the receipt (CKA_VALUE_LEN
 * in its template, as the vendor function's *pulLen): CKR_BUFFER_TOO_SMALL
 * like DEP11_PurgePolicy's, no object, nothing destroyed; a buffer of the
 * size query's answer is enough. */
static void purge_too_small(struct itest_fx *fx, const struct itest_blob *b)
{
    CK_BYTE small[64];
    CK_ULONG len = sizeof small, cap = sizeof small;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    assert_int_equal(X->DEP11_PurgePolicy(fx->s, b->p, b->len, small, &len),
                     CKR_BUFFER_TOO_SMALL);
    assert_true(len > sizeof small);
    assert_int_equal(request_cap(fx, fx->s, CKM_DEP11_POLICY_PURGE, b->p, b->len, 0, &cap, &h),
                     CKR_BUFFER_TOO_SMALL);
    assert_int_equal(h, CK_INVALID_HANDLE);
    assert_nothing_destroyed(fx);
    cap = 0;
    assert_int_equal(request_cap(fx, fx->s, CKM_DEP11_POLICY_PURGE, b->p, b->len, 0, &cap, &h),
                     CKR_BUFFER_TOO_SMALL);
    assert_nothing_destroyed(fx);
    /* a capacity on a size query changes nothing: the answer, no purge */
    assert_int_equal(request_cap(fx, fx->s, CKM_DEP11_POLICY_PURGE, b->p, b->len,
                                 DEP11_REQUEST_SIZE_QUERY, &cap, &h),
                     CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
    assert_nothing_destroyed(fx);
}

static void test_flush_purge(void **state)
{
    struct itest_fx *fx = *state;
    struct itest_blob b = { 0 };
    CK_BYTE r1[RECEIPT_CAP], r2[RECEIPT_CAP], r3[RECEIPT_CAP];
    CK_ULONG l1 = sizeof r1, l2 = sizeof r2, l3 = sizeof r3, by = 0, vmax = 0, qmax = 0;
    CK_ATTRIBUTE a = { CKA_VALUE_LEN, &qmax, sizeof qmax };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = CKR_GENERAL_ERROR;

    make_blob(fx, &b);
    assert_int_equal(itest_write_blob(fx->t, "obj.blob", &b), 0);
    purge_refusals(fx, &b);
    flush_made_visible(fx, &b);
    /* The size query: the vendor function's answer, nothing destroyed. */
    assert_int_equal(X->DEP11_PurgePolicy(fx->s, b.p, b.len, NULL, &vmax), CKR_OK);
    assert_int_equal(
        request(fx, fx->s, CKM_DEP11_POLICY_PURGE, b.p, b.len, DEP11_REQUEST_SIZE_QUERY, &h),
        CKR_OK);
    assert_int_equal(F->C_GetAttributeValue(fx->s, h, &a, 1), CKR_OK);
    assert_int_equal(qmax, vmax);
    assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
    assert_nothing_destroyed(fx);
    purge_too_small(fx, &b);
    /* The purge. */
    assert_int_equal(run(fx, fx->s, CKM_DEP11_POLICY_PURGE, b.p, b.len, r1, &l1), CKR_OK);
    assert_true(l1 > 100 && l1 <= vmax && r1[0] == '{');
    assert_int_equal(itest_spawn_unwrap(fx->t, "dep11-system.conf", "obj.blob",
                                        DEP11_REQUESTER_SYSTEM, &rv, &by),
                     0);
    assert_int_equal(rv, CKR_DEP11_POLICY_PURGED);
    /* Re-issued, the same bytes, by either route. */
    assert_int_equal(X->DEP11_PurgePolicy(fx->s, b.p, b.len, r2, &l2), CKR_OK);
    assert_int_equal(run(fx, fx->s, CKM_DEP11_POLICY_PURGE, b.p, b.len, r3, &l3), CKR_OK);
    assert_int_equal(l2, l1);
    assert_int_equal(l3, l1);
    assert_memory_equal(r2, r1, l1);
    assert_memory_equal(r3, r1, l1);
    itest_blob_free(&b);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, itest_setup, itest_teardown)
    const struct CMUnitTest tests[] = { T(test_abuse), T(test_info), T(test_flush_purge) };
#undef T
    return cmocka_run_group_tests_name("vendor functions through request objects", tests,
                                       itest_group_setup, itest_group_teardown);
}
