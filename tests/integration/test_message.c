/*
 * test_message.c - through libdep11.so as a PKCS#11 3.0 consumer (issue 14
 * item 4): the interfaces a module offers (what OpenSC p11test's
 * interface_test asserts, and more), the CK_FUNCTION_LIST_3_0, and
 * message-based encryption of CKM_DEP11_AEAD and CKM_DEP11_CHUNK_AEAD:
 * round trips, interoperation with C_Encrypt/C_Decrypt, wrong keys and
 * parameters, AAD tampering, operation states, C_SessionCancel and
 * C_LoginUser.
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

static const CK_BYTE item[] = "mailbox item 12: the quarterly figures";
static const CK_BYTE aad[] = "mailbox 7, item 12";
static const CK_BYTE file_id[16] = "file-0123456789";

/* The 3.0 list, by C_GetInterface(NULL): the default interface. */
static CK_FUNCTION_LIST_3_0_PTR list3(struct itest_fx *fx)
{
    CK_INTERFACE_PTR ifc = NULL;

    assert_int_equal(fx->t->get_interface(NULL, NULL, &ifc, 0), CKR_OK);
    assert_non_null(ifc);
    return ifc->pFunctionList;
}

static CK_OBJECT_HANDLE keygen(struct itest_fx *fx, CK_ULONG role)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    assert_int_equal(itest_keygen(fx->t, fx->s, role, DEP11_POLICY_MAILBOX, &h), CKR_OK);
    return h;
}

/* One whole message with the size-query protocol; @out malloc'ed. */
static CK_RV message(struct itest_fx *fx, int enc, void *param, CK_ULONG plen, const CK_BYTE *a,
                     CK_ULONG alen, const CK_BYTE *in, CK_ULONG in_len, struct itest_blob *out)
{
    CK_FUNCTION_LIST_3_0_PTR l = list3(fx);
    CK_ULONG len = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    out->p = NULL;
    out->len = 0;
    rv = (enc ? l->C_EncryptMessage : l->C_DecryptMessage)(
        fx->s, param, plen, (CK_BYTE_PTR)a, alen, (CK_BYTE_PTR)in, in_len, NULL, &len);
    if (rv != CKR_OK)
        return rv;
    assert_int_equal(len, enc ? in_len + DEP11_AEAD_OVERHEAD : in_len - DEP11_AEAD_OVERHEAD);
    out->p = malloc(len + 1);
    assert_non_null(out->p);
    rv = (enc ? l->C_EncryptMessage : l->C_DecryptMessage)(
        fx->s, param, plen, (CK_BYTE_PTR)a, alen, (CK_BYTE_PTR)in, in_len, out->p, &len);
    out->len = len;
    return rv;
}

/* C_Encrypt / C_Decrypt with @m under @k (@out malloc'ed). */
#define single(fx, enc, m, k, in, in_len, out)                                                 \
    itest_crypt((fx)->t, (fx)->s, (enc), (m), (k), (in), (in_len), (out))

/* A CK_DEP11_CHUNK_PARAMS for chunk @index of file_id. */
static CK_DEP11_CHUNK_PARAMS chunk_param(CK_ULONG index)
{
    CK_DEP11_CHUNK_PARAMS p;

    memset(&p, 0, sizeof p);
    memcpy(p.fileId, file_id, sizeof p.fileId);
    p.ulChunkIndex = index;
    return p;
}

/* --- interfaces ------------------------------------------------------------ */

static void test_interface_list(void **state)
{
    struct itest_fx *fx = *state;
    CK_INTERFACE list[3], small[2];
    CK_INTERFACE_PTR ifc = NULL;
    CK_VERSION v = { 0, 0 };
    CK_ULONG n = 0;

    assert_int_equal(fx->t->get_interface_list(NULL, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(fx->t->get_interface_list(NULL, &n), CKR_OK);
    assert_int_equal(n, 3);
    n = 2;
    assert_int_equal(fx->t->get_interface_list(small, &n), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 3);
    assert_int_equal(fx->t->get_interface_list(list, &n), CKR_OK);
    /* "PKCS 11" 3.0 first (the default), then 2.40, then the vendor's */
    assert_string_equal((char *)list[0].pInterfaceName, "PKCS 11");
    assert_int_equal(((CK_VERSION *)list[0].pFunctionList)->major, 3);
    assert_int_equal(((CK_VERSION *)list[0].pFunctionList)->minor, 0);
    assert_string_equal((char *)list[1].pInterfaceName, "PKCS 11");
    assert_int_equal(((CK_VERSION *)list[1].pFunctionList)->major, 2);
    assert_int_equal(((CK_VERSION *)list[1].pFunctionList)->minor, 40);
    assert_ptr_equal(list[1].pFunctionList, F); /* what C_GetFunctionList gives */
    assert_string_equal((char *)list[2].pInterfaceName, DEP11_INTERFACE_NAME);
    assert_ptr_equal(list[2].pFunctionList, fx->t->x);
    for (int i = 0; i < 3; i++)
        assert_int_equal(list[i].flags, 0);
    /* NULL name: the default, the same list as the first entry */
    assert_int_equal(fx->t->get_interface(NULL, NULL, &ifc, 0), CKR_OK);
    assert_string_equal((char *)ifc->pInterfaceName, "PKCS 11");
    assert_ptr_equal(ifc->pFunctionList, list[0].pFunctionList);
    assert_int_equal(ifc->flags, 0);
    v.major = 3;
    assert_int_equal(fx->t->get_interface((CK_UTF8CHAR_PTR) "PKCS 11", &v, &ifc, 0), CKR_OK);
    assert_ptr_equal(ifc->pFunctionList, list[0].pFunctionList);
    v.major = 2;
    v.minor = 40;
    assert_int_equal(fx->t->get_interface((CK_UTF8CHAR_PTR) "PKCS 11", &v, &ifc, 0), CKR_OK);
    assert_ptr_equal(ifc->pFunctionList, list[1].pFunctionList);
    /* unknown name, version, flags; no output pointer */
    assert_int_equal(fx->t->get_interface((CK_UTF8CHAR_PTR) "PKCS 11 other", NULL, &ifc, 0),
                     CKR_ARGUMENTS_BAD);
    v.major = 4;
    v.minor = 50;
    assert_int_equal(fx->t->get_interface((CK_UTF8CHAR_PTR) "PKCS 11", &v, &ifc, 0),
                     CKR_ARGUMENTS_BAD);
    assert_int_equal(
        fx->t->get_interface((CK_UTF8CHAR_PTR) "PKCS 11", NULL, &ifc, CKF_INTERFACE_FORK_SAFE),
        CKR_ARGUMENTS_BAD);
    assert_int_equal(fx->t->get_interface((CK_UTF8CHAR_PTR) "PKCS 11", NULL, &ifc, 2),
                     CKR_ARGUMENTS_BAD);
    assert_int_equal(fx->t->get_interface(NULL, NULL, NULL, 0), CKR_ARGUMENTS_BAD);
}

static void test_function_list_3_0(void **state)
{
    struct itest_fx *fx = *state;
    CK_FUNCTION_LIST_3_0_PTR l = list3(fx);
    const size_t from = offsetof(CK_FUNCTION_LIST_3_0, C_Initialize);
    const size_t n240 = sizeof(CK_FUNCTION_LIST) - offsetof(CK_FUNCTION_LIST, C_Initialize);
    void (*const *fn)(void) = (void (*const *)(void))((const char *)l + from);
    size_t count = (sizeof(*l) - from) / sizeof(*fn);

    /* the 3.0 layout: 68 2.40 functions then 24 new ones, none NULL */
    assert_int_equal(count, 68 + 24);
    for (size_t i = 0; i < count; i++)
        assert_non_null(fn[i]);
    /* its 2.40 part is the 2.40 list's, function for function */
    assert_memory_equal((const char *)l + from, (const char *)F + from, n240);
    assert_ptr_equal(l->C_GetInterface, fx->t->get_interface);
    assert_ptr_equal(l->C_GetInterfaceList, fx->t->get_interface_list);
    /* no dep11 mechanism signs: message signing is not supported */
    assert_int_equal(l->C_MessageSignInit(fx->s, NULL, CK_INVALID_HANDLE),
                     CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(l->C_MessageVerifyInit(fx->s, NULL, CK_INVALID_HANDLE),
                     CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(l->C_SignMessageBegin(fx->s, NULL, 0), CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(l->C_MessageSignFinal(fx->s), CKR_FUNCTION_NOT_SUPPORTED);
}

/* --- CKM_DEP11_AEAD: one message per mailbox item ---------------------------- */

static void test_aead_round_trip_and_interop(void **state)
{
    struct itest_fx *fx = *state;
    CK_FUNCTION_LIST_3_0_PTR l = list3(fx);
    CK_MECHANISM m = { CKM_DEP11_AEAD, NULL, 0 };
    CK_DEP11_AEAD_PARAMS ap = { (CK_BYTE_PTR)aad, sizeof aad };
    CK_MECHANISM mp = { CKM_DEP11_AEAD, &ap, sizeof ap };
    CK_OBJECT_HANDLE mb = keygen(fx, DEP11_ROLE_MAILBOX);
    struct itest_blob c1 = { 0 }, c2 = { 0 }, pt = { 0 }, cs = { 0 };

    assert_int_equal(l->C_MessageEncryptInit(fx->s, &m, mb), CKR_OK);
    assert_int_equal(message(fx, 1, NULL, 0, aad, sizeof aad, item, sizeof item, &c1), CKR_OK);
    assert_int_equal(message(fx, 1, NULL, 0, aad, sizeof aad, item, sizeof item, &c2), CKR_OK);
    assert_int_equal(c1.len, sizeof item + DEP11_AEAD_OVERHEAD);
    /* a fresh module nonce per message */
    assert_memory_not_equal(c1.p, c2.p, DEP11_NONCE_LEN);
    assert_int_equal(l->C_MessageEncryptFinal(fx->s), CKR_OK);
    /* a message sealed by C_EncryptMessage opens with C_Decrypt ... */
    assert_int_equal(single(fx, 0, &mp, mb, c1.p, c1.len, &pt), CKR_OK);
    assert_int_equal(pt.len, sizeof item);
    assert_memory_equal(pt.p, item, sizeof item);
    itest_blob_free(&pt);
    /* ... and one sealed by C_Encrypt opens with C_DecryptMessage */
    assert_int_equal(single(fx, 1, &mp, mb, item, sizeof item, &cs), CKR_OK);
    assert_int_equal(l->C_MessageDecryptInit(fx->s, &m, mb), CKR_OK);
    assert_int_equal(message(fx, 0, NULL, 0, aad, sizeof aad, cs.p, cs.len, &pt), CKR_OK);
    assert_memory_equal(pt.p, item, sizeof item);
    itest_blob_free(&pt);
    assert_int_equal(message(fx, 0, NULL, 0, aad, sizeof aad, c2.p, c2.len, &pt), CKR_OK);
    assert_memory_equal(pt.p, item, sizeof item);
    itest_blob_free(&pt);
    /* tampered AAD, ciphertext or tag: refused, and the operation goes on */
    assert_int_equal(message(fx, 0, NULL, 0, aad, sizeof aad - 1, c1.p, c1.len, &pt),
                     CKR_ENCRYPTED_DATA_INVALID);
    itest_blob_free(&pt);
    assert_int_equal(message(fx, 0, NULL, 0, NULL, 0, c1.p, c1.len, &pt),
                     CKR_ENCRYPTED_DATA_INVALID);
    itest_blob_free(&pt);
    c1.p[c1.len - 1] ^= 1;
    assert_int_equal(message(fx, 0, NULL, 0, aad, sizeof aad, c1.p, c1.len, &pt),
                     CKR_ENCRYPTED_DATA_INVALID);
    itest_blob_free(&pt);
    /* shorter than nonce and tag */
    assert_int_equal(
        message(fx, 0, NULL, 0, aad, sizeof aad, c1.p, DEP11_AEAD_OVERHEAD - 1, &pt),
        CKR_ENCRYPTED_DATA_LEN_RANGE);
    assert_int_equal(message(fx, 0, NULL, 0, aad, sizeof aad, c2.p, c2.len, &pt), CKR_OK);
    itest_blob_free(&pt);
    assert_int_equal(l->C_MessageDecryptFinal(fx->s), CKR_OK);
    itest_blob_free(&c1);
    itest_blob_free(&c2);
    itest_blob_free(&cs);
}

/* --- CKM_DEP11_CHUNK_AEAD: one message per chunk under one site key --------- */

static void test_chunk_round_trip_and_interop(void **state)
{
    struct itest_fx *fx = *state;
    CK_FUNCTION_LIST_3_0_PTR l = list3(fx);
    CK_MECHANISM m = { CKM_DEP11_CHUNK_AEAD, NULL, 0 };
    CK_DEP11_CHUNK_PARAMS cp, other;
    CK_MECHANISM classic = { CKM_DEP11_CHUNK_AEAD, &cp, sizeof cp };
    CK_BYTE flatbuf[sizeof(CK_DEP11_CHUNK_FLAT_PARAMS) + sizeof aad];
    CK_DEP11_CHUNK_FLAT_PARAMS fp;
    CK_MECHANISM flat = { CKM_DEP11_CHUNK_AEAD, flatbuf, sizeof flatbuf };
    CK_OBJECT_HANDLE site = keygen(fx, DEP11_ROLE_SITE);
    struct itest_blob c0 = { 0 }, ca = { 0 }, cs = { 0 }, pt = { 0 };

    cp = chunk_param(3);
    other = chunk_param(4);
    memset(&fp, 0, sizeof fp);
    memcpy(fp.fileId, file_id, sizeof fp.fileId);
    fp.ulChunkIndex = 3;
    fp.ulVersion = DEP11_AEAD_FLAT_VERSION;
    fp.ulAADLen = sizeof aad;
    memcpy(flatbuf, &fp, sizeof fp);
    memcpy(flatbuf + sizeof fp, aad, sizeof aad);

    assert_int_equal(l->C_MessageEncryptInit(fx->s, &m, site), CKR_OK);
    assert_int_equal(message(fx, 1, &cp, sizeof cp, NULL, 0, item, sizeof item, &c0), CKR_OK);
    assert_int_equal(message(fx, 1, &cp, sizeof cp, aad, sizeof aad, item, sizeof item, &ca),
                     CKR_OK);
    assert_int_equal(l->C_MessageEncryptFinal(fx->s), CKR_OK);
    /* without AAD it is the classic chunk form, with AAD the flat one */
    assert_int_equal(single(fx, 0, &classic, site, c0.p, c0.len, &pt), CKR_OK);
    assert_memory_equal(pt.p, item, sizeof item);
    itest_blob_free(&pt);
    assert_int_equal(single(fx, 0, &flat, site, ca.p, ca.len, &pt), CKR_OK);
    assert_memory_equal(pt.p, item, sizeof item);
    itest_blob_free(&pt);
    assert_int_equal(single(fx, 0, &classic, site, ca.p, ca.len, &pt),
                     CKR_ENCRYPTED_DATA_INVALID);
    itest_blob_free(&pt);
    /* C_Encrypt's chunk opens as a message; the index and AAD are bound */
    assert_int_equal(single(fx, 1, &classic, site, item, sizeof item, &cs), CKR_OK);
    assert_int_equal(l->C_MessageDecryptInit(fx->s, &m, site), CKR_OK);
    assert_int_equal(message(fx, 0, &cp, sizeof cp, NULL, 0, cs.p, cs.len, &pt), CKR_OK);
    assert_memory_equal(pt.p, item, sizeof item);
    itest_blob_free(&pt);
    assert_int_equal(message(fx, 0, &other, sizeof other, NULL, 0, cs.p, cs.len, &pt),
                     CKR_ENCRYPTED_DATA_INVALID);
    itest_blob_free(&pt);
    assert_int_equal(message(fx, 0, &cp, sizeof cp, aad, 1, ca.p, ca.len, &pt),
                     CKR_ENCRYPTED_DATA_INVALID);
    itest_blob_free(&pt);
    assert_int_equal(message(fx, 0, &cp, sizeof cp, aad, sizeof aad, ca.p, ca.len, &pt),
                     CKR_OK);
    assert_memory_equal(pt.p, item, sizeof item);
    itest_blob_free(&pt);
    /* a parameter of another length, or none */
    assert_int_equal(message(fx, 0, &cp, sizeof cp - 1, NULL, 0, cs.p, cs.len, &pt),
                     CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(message(fx, 0, flatbuf, sizeof flatbuf, NULL, 0, cs.p, cs.len, &pt),
                     CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(message(fx, 0, NULL, 0, NULL, 0, cs.p, cs.len, &pt),
                     CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(l->C_MessageDecryptFinal(fx->s), CKR_OK);
    itest_blob_free(&c0);
    itest_blob_free(&ca);
    itest_blob_free(&cs);
}

/* --- multi-part messages (Begin / Next) ---------------------------------------- */

static void test_multipart(void **state)
{
    struct itest_fx *fx = *state;
    CK_FUNCTION_LIST_3_0_PTR l = list3(fx);
    CK_MECHANISM m = { CKM_DEP11_AEAD, NULL, 0 };
    CK_DEP11_AEAD_PARAMS ap = { (CK_BYTE_PTR)aad, sizeof aad };
    CK_MECHANISM mp = { CKM_DEP11_AEAD, &ap, sizeof ap };
    CK_OBJECT_HANDLE mb = keygen(fx, DEP11_ROLE_MAILBOX);
    CK_BYTE ct[sizeof item + DEP11_AEAD_OVERHEAD], pt[sizeof item];
    CK_ULONG off = 0, len = 0, cut = 10;
    struct itest_blob out = { 0 };

    assert_int_equal(l->C_MessageEncryptInit(fx->s, &m, mb), CKR_OK);
    assert_int_equal(
        l->C_EncryptMessageNext(fx->s, NULL, 0, (CK_BYTE_PTR)item, cut, ct, &len, 0),
        CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(l->C_EncryptMessageBegin(fx->s, NULL, 0, (CK_BYTE_PTR)aad, sizeof aad),
                     CKR_OK);
    /* a whole message or a second Begin while one is under way */
    assert_int_equal(l->C_EncryptMessageBegin(fx->s, NULL, 0, NULL, 0), CKR_OPERATION_ACTIVE);
    len = 0;
    assert_int_equal(
        l->C_EncryptMessage(fx->s, NULL, 0, NULL, 0, (CK_BYTE_PTR)item, 1, NULL, &len),
        CKR_OPERATION_ACTIVE);
    len = sizeof ct;
    assert_int_equal(
        l->C_EncryptMessageNext(fx->s, NULL, 0, (CK_BYTE_PTR)item, cut, ct, &len, 0), CKR_OK);
    assert_int_equal(len, DEP11_NONCE_LEN + cut);
    off = len;
    /* the last part: size query, a short buffer, then the part */
    len = 0;
    assert_int_equal(l->C_EncryptMessageNext(fx->s, NULL, 0, (CK_BYTE_PTR)item + cut,
                                             sizeof item - cut, NULL, &len, CKF_END_OF_MESSAGE),
                     CKR_OK);
    assert_int_equal(len, sizeof item - cut + DEP11_TAG_LEN);
    len = 3;
    assert_int_equal(l->C_EncryptMessageNext(fx->s, NULL, 0, (CK_BYTE_PTR)item + cut,
                                             sizeof item - cut, ct + off, &len,
                                             CKF_END_OF_MESSAGE),
                     CKR_BUFFER_TOO_SMALL);
    len = sizeof ct - off;
    assert_int_equal(l->C_EncryptMessageNext(fx->s, NULL, 0, (CK_BYTE_PTR)item + cut,
                                             sizeof item - cut, ct + off, &len,
                                             CKF_END_OF_MESSAGE),
                     CKR_OK);
    assert_int_equal(off + len, sizeof ct);
    /* the message ended, the operation goes on */
    assert_int_equal(l->C_EncryptMessageNext(fx->s, NULL, 0, NULL, 0, ct, &len, 0),
                     CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(l->C_MessageEncryptFinal(fx->s), CKR_OK);
    assert_int_equal(single(fx, 0, &mp, mb, ct, sizeof ct, &out), CKR_OK);
    assert_memory_equal(out.p, item, sizeof item);
    itest_blob_free(&out);

    /* decrypt in three parts: nothing before the last, then all of it */
    assert_int_equal(l->C_MessageDecryptInit(fx->s, &m, mb), CKR_OK);
    assert_int_equal(l->C_DecryptMessageBegin(fx->s, NULL, 0, (CK_BYTE_PTR)aad, sizeof aad),
                     CKR_OK);
    len = sizeof pt;
    assert_int_equal(l->C_DecryptMessageNext(fx->s, NULL, 0, ct, 5, pt, &len, 0), CKR_OK);
    assert_int_equal(len, 0);
    len = 0;
    assert_int_equal(l->C_DecryptMessageNext(fx->s, NULL, 0, ct + 5, 20, NULL, &len, 0),
                     CKR_OK);
    assert_int_equal(len, 0);
    len = sizeof pt;
    assert_int_equal(l->C_DecryptMessageNext(fx->s, NULL, 0, ct + 25, sizeof ct - 25, pt, &len,
                                             CKF_END_OF_MESSAGE),
                     CKR_OK);
    assert_int_equal(len, sizeof item);
    assert_memory_equal(pt, item, sizeof item);
    /* a tampered part fails at the end, and gives nothing */
    ct[DEP11_NONCE_LEN] ^= 1;
    assert_int_equal(l->C_DecryptMessageBegin(fx->s, NULL, 0, (CK_BYTE_PTR)aad, sizeof aad),
                     CKR_OK);
    memset(pt, 0, sizeof pt);
    len = sizeof pt;
    assert_int_equal(
        l->C_DecryptMessageNext(fx->s, NULL, 0, ct, sizeof ct, pt, &len, CKF_END_OF_MESSAGE),
        CKR_ENCRYPTED_DATA_INVALID);
    assert_int_equal(pt[0], 0);
    /* unknown flags */
    assert_int_equal(l->C_DecryptMessageBegin(fx->s, NULL, 0, NULL, 0), CKR_OK);
    len = sizeof pt;
    assert_int_equal(l->C_DecryptMessageNext(fx->s, NULL, 0, ct, 1, pt, &len, 0x80),
                     CKR_ARGUMENTS_BAD);
    assert_int_equal(l->C_MessageDecryptFinal(fx->s), CKR_OK);
}

static void test_chunk_multipart_param(void **state)
{
    struct itest_fx *fx = *state;
    CK_FUNCTION_LIST_3_0_PTR l = list3(fx);
    CK_MECHANISM m = { CKM_DEP11_CHUNK_AEAD, NULL, 0 };
    CK_DEP11_CHUNK_PARAMS cp, other;
    CK_MECHANISM classic = { CKM_DEP11_CHUNK_AEAD, &cp, sizeof cp };
    CK_OBJECT_HANDLE site = keygen(fx, DEP11_ROLE_SITE);
    CK_BYTE ct[sizeof item + DEP11_AEAD_OVERHEAD];
    CK_ULONG len = sizeof ct;
    struct itest_blob out = { 0 };

    cp = chunk_param(9);
    other = chunk_param(10);
    assert_int_equal(l->C_MessageEncryptInit(fx->s, &m, site), CKR_OK);
    assert_int_equal(l->C_EncryptMessageBegin(fx->s, &cp, sizeof cp, NULL, 0), CKR_OK);
    /* Next must name the message's own parameter */
    assert_int_equal(l->C_EncryptMessageNext(fx->s, &other, sizeof other, (CK_BYTE_PTR)item,
                                             sizeof item, ct, &len, CKF_END_OF_MESSAGE),
                     CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(l->C_EncryptMessageBegin(fx->s, &cp, sizeof cp, NULL, 0), CKR_OK);
    len = sizeof ct;
    assert_int_equal(l->C_EncryptMessageNext(fx->s, &cp, sizeof cp, (CK_BYTE_PTR)item,
                                             sizeof item, ct, &len, CKF_END_OF_MESSAGE),
                     CKR_OK);
    assert_int_equal(len, sizeof ct);
    assert_int_equal(l->C_MessageEncryptFinal(fx->s), CKR_OK);
    assert_int_equal(single(fx, 0, &classic, site, ct, sizeof ct, &out), CKR_OK);
    assert_memory_equal(out.p, item, sizeof item);
    itest_blob_free(&out);
}

/* --- refusals ------------------------------------------------------------------ */

static void test_states_and_keys(void **state)
{
    struct itest_fx *fx = *state;
    CK_FUNCTION_LIST_3_0_PTR l = list3(fx);
    CK_MECHANISM aead = { CKM_DEP11_AEAD, NULL, 0 };
    CK_MECHANISM chunk = { CKM_DEP11_CHUNK_AEAD, NULL, 0 };
    CK_MECHANISM gcm = { CKM_AES_GCM, NULL, 0 };
    CK_DEP11_AEAD_PARAMS ap = { NULL, 0 };
    CK_MECHANISM with_param = { CKM_DEP11_AEAD, &ap, sizeof ap };
    CK_OBJECT_HANDLE mb = keygen(fx, DEP11_ROLE_MAILBOX);
    CK_OBJECT_HANDLE site = keygen(fx, DEP11_ROLE_SITE);
    CK_OBJECT_HANDLE pol = keygen(fx, DEP11_ROLE_POLICY);
    CK_BYTE *big = calloc(1, DEP11_AAD_MAX + 1);
    CK_BYTE out[128];
    CK_ULONG len = sizeof out;
    struct itest_blob b = { 0 };

    assert_non_null(big);
    /* no Init */
    assert_int_equal(
        l->C_EncryptMessage(fx->s, NULL, 0, NULL, 0, (CK_BYTE_PTR)item, 4, out, &len),
        CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(l->C_DecryptMessageBegin(fx->s, NULL, 0, NULL, 0),
                     CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(l->C_MessageEncryptFinal(fx->s), CKR_OPERATION_NOT_INITIALIZED);
    /* wrong key roles, mechanisms, handles, an Init parameter */
    assert_int_equal(l->C_MessageEncryptInit(fx->s, &aead, site),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(l->C_MessageEncryptInit(fx->s, &chunk, mb),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(l->C_MessageDecryptInit(fx->s, &aead, pol),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(l->C_MessageEncryptInit(fx->s, &gcm, mb), CKR_MECHANISM_INVALID);
    assert_int_equal(l->C_MessageEncryptInit(fx->s, &with_param, mb),
                     CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(l->C_MessageEncryptInit(fx->s, NULL, mb), CKR_ARGUMENTS_BAD);
    assert_int_equal(l->C_MessageEncryptInit(fx->s, &aead, 0x7777777), CKR_KEY_HANDLE_INVALID);
    assert_int_equal(l->C_MessageEncryptInit(fx->s, &aead, fx->r1), CKR_KEY_TYPE_INCONSISTENT);
    assert_int_equal(l->C_MessageEncryptInit(fx->s, &gcm, fx->r1), CKR_MECHANISM_INVALID);
    assert_int_equal(l->C_MessageEncryptInit(0x5151, &aead, mb), CKR_SESSION_HANDLE_INVALID);
    /* nothing was started by those */
    assert_int_equal(l->C_MessageEncryptFinal(fx->s), CKR_OPERATION_NOT_INITIALIZED);
    /* Init twice */
    assert_int_equal(l->C_MessageEncryptInit(fx->s, &aead, mb), CKR_OK);
    assert_int_equal(l->C_MessageEncryptInit(fx->s, &aead, mb), CKR_OPERATION_ACTIVE);
    /* per-message parameter and AAD */
    assert_int_equal(message(fx, 1, &ap, sizeof ap, NULL, 0, item, sizeof item, &b),
                     CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(message(fx, 1, NULL, 0, big, DEP11_AAD_MAX + 1, item, sizeof item, &b),
                     CKR_DATA_LEN_RANGE);
    assert_int_equal(message(fx, 1, NULL, 0, NULL, 4, item, sizeof item, &b),
                     CKR_ARGUMENTS_BAD);
    assert_int_equal(message(fx, 1, NULL, 0, big, DEP11_AAD_MAX, item, sizeof item, &b),
                     CKR_OK);
    itest_blob_free(&b);
    assert_int_equal(
        l->C_EncryptMessage(fx->s, NULL, 0, NULL, 0, (CK_BYTE_PTR)item, 4, out, NULL),
        CKR_ARGUMENTS_BAD);
    /* the key dies: the operation ends with it */
    assert_int_equal(F->C_DestroyObject(fx->s, mb), CKR_OK);
    assert_int_equal(message(fx, 1, NULL, 0, NULL, 0, item, sizeof item, &b),
                     CKR_KEY_HANDLE_INVALID);
    assert_int_equal(message(fx, 1, NULL, 0, NULL, 0, item, sizeof item, &b),
                     CKR_OPERATION_NOT_INITIALIZED);
    free(big);
}

/* C_GetMechanismInfo says which mechanisms serve the message-based
 * functions (the two AEADs, both directions; no other dep11 mechanism),
 * and a saved operation state would leave a message-based operation out:
 * C_GetOperationState refuses it while one runs. */
static void test_mechanism_flags_and_state(void **state)
{
    struct itest_fx *fx = *state;
    CK_FUNCTION_LIST_3_0_PTR l = list3(fx);
    CK_MECHANISM aead = { CKM_DEP11_AEAD, NULL, 0 };
    CK_MECHANISM wrap = { CKM_DEP11_CHILD_WRAP, NULL, 0 };
    CK_OBJECT_HANDLE mb = keygen(fx, DEP11_ROLE_MAILBOX);
    CK_OBJECT_HANDLE pol = keygen(fx, DEP11_ROLE_POLICY);
    const CK_FLAGS msg = CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT;
    CK_SESSION_INFO si;
    CK_MECHANISM_INFO mi;
    CK_ULONG len = 0;
    CK_RV base = CKR_GENERAL_ERROR;

    assert_int_equal(F->C_GetSessionInfo(fx->s, &si), CKR_OK);
    for (CK_ULONG k = 1; k <= 11; k++) {
        CK_FLAGS want = k == 7 || k == 8 ? msg : 0;
        assert_int_equal(F->C_GetMechanismInfo(si.slotID, DEP11_CKM(k), &mi), CKR_OK);
        assert_int_equal(mi.flags & msg, want);
    }
    /* a mechanism without the flag has no message-based form */
    assert_int_equal(l->C_MessageEncryptInit(fx->s, &wrap, pol), CKR_MECHANISM_INVALID);
    /* the backend's own answer without one (SoftHSM: not supported) */
    base = F->C_GetOperationState(fx->s, NULL, &len);
    assert_int_not_equal(base, CKR_STATE_UNSAVEABLE);
    assert_int_equal(l->C_MessageDecryptInit(fx->s, &aead, mb), CKR_OK);
    assert_int_equal(F->C_GetOperationState(fx->s, NULL, &len), CKR_STATE_UNSAVEABLE);
    assert_int_equal(l->C_MessageDecryptFinal(fx->s), CKR_OK);
    assert_int_equal(F->C_GetOperationState(fx->s, NULL, &len), base);
}

static void test_cancel_login_close(void **state)
{
    struct itest_fx *fx = *state;
    CK_FUNCTION_LIST_3_0_PTR l = list3(fx);
    CK_MECHANISM aead = { CKM_DEP11_AEAD, NULL, 0 };
    CK_OBJECT_HANDLE mb = keygen(fx, DEP11_ROLE_MAILBOX);
    CK_SESSION_HANDLE s2 = CK_INVALID_HANDLE;
    struct itest_blob b = { 0 };
    char pin[64];

    /* C_SessionCancel ends message-based operations only */
    assert_int_equal(l->C_MessageEncryptInit(fx->s, &aead, mb), CKR_OK);
    assert_int_equal(l->C_MessageDecryptInit(fx->s, &aead, mb), CKR_OK);
    assert_int_equal(l->C_SessionCancel(fx->s, CKF_MESSAGE_ENCRYPT), CKR_OK);
    assert_int_equal(message(fx, 1, NULL, 0, NULL, 0, item, sizeof item, &b),
                     CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(l->C_MessageDecryptFinal(fx->s), CKR_OK); /* untouched */
    assert_int_equal(l->C_SessionCancel(fx->s, CKF_ENCRYPT), CKR_OPERATION_CANCEL_FAILED);
    assert_int_equal(l->C_SessionCancel(0x5151, CKF_MESSAGE_ENCRYPT),
                     CKR_SESSION_HANDLE_INVALID);
    /* a session closed with an operation running frees it */
    assert_int_equal(itest_session(fx->t, "contoso", 0, &s2), CKR_OK);
    assert_int_equal(l->C_MessageEncryptInit(s2, &aead, mb), CKR_OK);
    assert_int_equal(F->C_CloseSession(s2), CKR_OK);
    /* C_LoginUser: without a user name it is C_Login; the backend has none */
    assert_int_equal(itest_read_file(fx->t, "user.pin", pin, sizeof pin) > 0, 1);
    assert_int_equal(l->C_LoginUser(fx->s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin),
                                    (CK_UTF8CHAR_PTR) "alice", 5),
                     CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(F->C_Logout(fx->s), CKR_OK);
    assert_int_equal(l->C_MessageEncryptInit(fx->s, &aead, mb), CKR_KEY_HANDLE_INVALID);
    assert_int_equal(l->C_LoginUser(fx->s, CKU_USER, (CK_UTF8CHAR_PTR) "wrong-pin", 9, NULL, 0),
                     CKR_PIN_INCORRECT);
    assert_int_equal(
        l->C_LoginUser(fx->s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin), NULL, 0), CKR_OK);
    assert_int_equal(
        l->C_LoginUser(0x5151, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin), NULL, 0),
        CKR_SESSION_HANDLE_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_interface_list, itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_function_list_3_0, itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_aead_round_trip_and_interop, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_chunk_round_trip_and_interop, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_multipart, itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_chunk_multipart_param, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_states_and_keys, itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_mechanism_flags_and_state, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_login_close, itest_setup, itest_teardown),
    };

    return cmocka_run_group_tests(tests, itest_group_setup, itest_group_teardown);
}
