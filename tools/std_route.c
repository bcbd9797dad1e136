/*
 * std_route.c - the vendor functions through standard calls, for a dep11
 * reached without its vendor interface (p11-kit-proxy.so and other
 * consumers that export only C_GetFunctionList): a CK_DEP11_FUNCTION_LIST
 * whose functions run CKM_DEP11_POLICY_INFO, CKM_DEP11_POLICY_PURGE and
 * CKM_DEP11_FLUSH_CACHE (include/dep11.h) through the 2.40 function list,
 * or, where no slot lists those mechanisms (p11-kit 0.24's remoting drops
 * them), through CKO_DEP11_REQUEST objects: C_CreateObject,
 * C_GetAttributeValue, C_DestroyObject. The commands keep calling t->dep11
 * and get the same answers.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "tool.h"

/* The one run the list serves (the tool loads one module, one thread). */
static struct tool *route_tool;
static CK_SLOT_ID route_slot; /* a slot that offers the route */
static int route_objects;     /* 1: request objects, 0: mechanisms */

/* Runs @m on @session: C_DigestInit or C_SignInit (no key, NULL
 * parameter), then the single-part call. A size query (NULL @out) or a
 * too-small buffer leaves the op running in the module: ended here with
 * a NULL mechanism (as PKCS#11 3.0 says), so each call stands alone. */
static CK_RV run(CK_SESSION_HANDLE session, CK_MECHANISM_TYPE m, int sign, const CK_BYTE *in,
                 CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    CK_FUNCTION_LIST_PTR f = route_tool->p11;
    CK_MECHANISM mech = { m, NULL, 0 };
    CK_RV rv = sign ? f->C_SignInit(session, &mech, CK_INVALID_HANDLE)
                    : f->C_DigestInit(session, &mech);

    if (rv != CKR_OK)
        return rv;
    rv = sign ? f->C_Sign(session, (CK_BYTE_PTR)in, in_len, out, out_len)
              : f->C_Digest(session, (CK_BYTE_PTR)in, in_len, out, out_len);
    if ((rv == CKR_OK && out == NULL) || rv == CKR_BUFFER_TOO_SMALL)
        (void)(sign ? f->C_SignInit(session, NULL, CK_INVALID_HANDLE)
                    : f->C_DigestInit(session, NULL));
    return rv;
}

/* Runs request @op on @session: C_CreateObject (a NULL @out asks for the
 * size query only: nothing purged or flushed), reads the output (or its
 * length) and destroys the request. A too-small @out answers
 * CKR_BUFFER_TOO_SMALL with the length, like the vendor function (a purge
 * then is done: the next call re-issues its receipt). */
static CK_RV run_object(CK_SESSION_HANDLE session, CK_ULONG op, const CK_BYTE *in,
                        CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    CK_FUNCTION_LIST_PTR f = route_tool->p11;
    CK_OBJECT_CLASS cls = CKO_DEP11_REQUEST;
    CK_ULONG flags = out == NULL ? DEP11_REQUEST_SIZE_QUERY : 0, len = 0;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls },
                         { CKA_DEP11_REQUEST_OP, &op, sizeof op },
                         { CKA_DEP11_REQUEST_FLAGS, &flags, sizeof flags },
                         { CKA_DEP11_REQUEST_INPUT, (CK_BYTE_PTR)in, in_len } };
    CK_ATTRIBUTE value_len = { CKA_VALUE_LEN, &len, sizeof len };
    CK_ATTRIBUTE output = { CKA_DEP11_REQUEST_OUTPUT, out, out != NULL ? *out_len : 0 };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = f->C_CreateObject(session, t, in_len != 0 ? 4 : 3, &h);

    if (rv != CKR_OK)
        return rv;
    rv = f->C_GetAttributeValue(session, h, out != NULL ? &output : &value_len, 1);
    if (rv == CKR_BUFFER_TOO_SMALL &&
        f->C_GetAttributeValue(session, h, &value_len, 1) == CKR_OK)
        *out_len = len;
    else if (rv == CKR_OK)
        *out_len = out != NULL ? output.ulValueLen : len;
    (void)f->C_DestroyObject(session, h);
    return rv;
}

/* Runs route operation @m on @session by the route found: the mechanism
 * (@sign: C_SignInit, else C_DigestInit) or a request object. */
static CK_RV run_route(CK_SESSION_HANDLE session, CK_MECHANISM_TYPE m, int sign,
                       const CK_BYTE *in, CK_ULONG in_len, CK_BYTE_PTR out,
                       CK_ULONG_PTR out_len)
{
    if (route_objects)
        return run_object(session, m, in, in_len, out, out_len);
    return run(session, m, sign, in, in_len, out, out_len);
}

/* Runs digest mechanism @m on the tool's session, or on a read-only one
 * opened for the call (policy info and cache flush need no login). */
static CK_RV run_digest(CK_MECHANISM_TYPE m, const CK_BYTE *in, CK_ULONG in_len,
                        CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    CK_FUNCTION_LIST_PTR f = route_tool->p11;
    CK_SESSION_HANDLE s = route_tool->session;
    CK_RV rv = CKR_OK;

    if (s == CK_INVALID_HANDLE)
        rv = f->C_OpenSession(route_slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
    if (rv == CKR_OK)
        rv = run_route(s, m, 0, in, in_len, out, out_len);
    if (s != route_tool->session && s != CK_INVALID_HANDLE)
        (void)f->C_CloseSession(s);
    return rv;
}

static CK_RV std_get_policy_info(CK_BYTE_PTR pBlob, CK_ULONG ulBlobLen,
                                 CK_DEP11_POLICY_INFO *pInfo)
{
    CK_ULONG n = sizeof *pInfo;
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (pBlob == NULL || pInfo == NULL)
        return rv;
    rv = run_digest(CKM_DEP11_POLICY_INFO, pBlob, ulBlobLen, (CK_BYTE_PTR)pInfo, &n);
    if (rv == CKR_OK && n != sizeof *pInfo)
        rv = CKR_DEVICE_ERROR; /* not this header's layout */
    return rv;
}

static CK_RV std_purge_policy(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pBlob, CK_ULONG ulBlobLen,
                              CK_BYTE_PTR pReceipt, CK_ULONG_PTR pulReceiptLen)
{
    if (pBlob == NULL || pulReceiptLen == NULL)
        return CKR_ARGUMENTS_BAD;
    return run_route(hSession, CKM_DEP11_POLICY_PURGE, 1, pBlob, ulBlobLen, pReceipt,
                     pulReceiptLen);
}

static CK_RV std_flush_cache(CK_BYTE_PTR pPolicyId)
{
    CK_BYTE none[1];
    CK_ULONG n = 0;

    return run_digest(CKM_DEP11_FLUSH_CACHE, pPolicyId, pPolicyId != NULL ? DEP11_ID_LEN : 0,
                      none, &n);
}

/* DEP11_RegisterRoot: identity || SO PIN as the data of mechanism 12/13. */
static CK_RV std_register_root(CK_SESSION_HANDLE hSession, CK_ULONG ulAction,
                               CK_BYTE_PTR pRootId, CK_ULONG ulRootIdLen,
                               CK_UTF8CHAR_PTR pSoPin, CK_ULONG ulSoPinLen)
{
    CK_BYTE buf[DEP11_ROOT_ID_LEN + 256], none[1];
    CK_ULONG n = 0;
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (pRootId == NULL || ulRootIdLen != DEP11_ROOT_ID_LEN || ulSoPinLen > 256 ||
        (pSoPin == NULL && ulSoPinLen != 0) ||
        (ulAction != DEP11_ROOT_REGISTER && ulAction != DEP11_ROOT_UNREGISTER))
        return rv;
    memcpy(buf, pRootId, DEP11_ROOT_ID_LEN);
    if (ulSoPinLen != 0)
        memcpy(buf + DEP11_ROOT_ID_LEN, pSoPin, ulSoPinLen);
    rv = run(hSession,
             ulAction == DEP11_ROOT_REGISTER ? CKM_DEP11_ROOT_REGISTER
                                             : CKM_DEP11_ROOT_UNREGISTER,
             0, buf, DEP11_ROOT_ID_LEN + ulSoPinLen, none, &n);
    OPENSSL_cleanse(buf, sizeof buf);
    return rv;
}

static CK_DEP11_FUNCTION_LIST std_list = {
    { 1, 1 }, std_get_policy_info, std_purge_policy, std_flush_cache, std_register_root,
};

/* Does @slot offer the route (CKM_DEP11_POLICY_INFO as a digest)? */
static int offers_route(struct tool *t, CK_SLOT_ID slot)
{
    CK_MECHANISM_INFO mi;

    memset(&mi, 0, sizeof mi);
    return t->p11->C_GetMechanismInfo(slot, CKM_DEP11_POLICY_INFO, &mi) == CKR_OK &&
           (mi.flags & CKF_DIGEST) != 0;
}

/* Does @slot serve request objects (a DEP11_REQUEST_LIST request naming
 * CKM_DEP11_POLICY_INFO)? Asked on a read-only session opened for it. */
static int offers_objects(struct tool *t, CK_SLOT_ID slot)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_MECHANISM_TYPE ops[16];
    CK_ULONG len = sizeof ops;
    int yes = 0;

    if (t->p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
        return 0;
    route_tool = t;
    if (run_object(s, DEP11_REQUEST_LIST, NULL, 0, (CK_BYTE_PTR)ops, &len) == CKR_OK)
        for (CK_ULONG i = 0; i < len / sizeof ops[0]; i++)
            yes |= ops[i] == CKM_DEP11_POLICY_INFO;
    (void)t->p11->C_CloseSession(s);
    return yes;
}

/**
 * tool_std_route - see tool.h: t->dep11 gets the standard-call list when
 * a token's slot offers dep11's mechanisms, or else serves its request
 * objects; else it stays NULL.
 */
void tool_std_route(struct tool *t)
{
    CK_SLOT_ID slots[64];
    CK_ULONG n = sizeof slots / sizeof slots[0];

    if (t->p11->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
        return;
    for (int objects = 0; objects < 2; objects++)
        for (CK_ULONG i = 0; i < n; i++)
            if (objects ? offers_objects(t, slots[i]) : offers_route(t, slots[i])) {
                route_tool = t;
                route_slot = slots[i];
                route_objects = objects;
                t->dep11 = &std_list;
                return;
            }
    route_tool = NULL;
}
