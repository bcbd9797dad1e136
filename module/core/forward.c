/*
 * forward.c - the standard calls that only the backend can serve: digest,
 * sign, verify, the dual-function updates, random. The session is checked
 * and key handles are resolved; module-side keys never reach a standard
 * mechanism, and registered roots take no pass-through signature.
 */
#include "core/internal.h"
#include "core/ops.h"
#include "core/vendor_std.h"
#include "hsm/backend.h"
#include "hsm/call.h"
#include "util/log.h"

/* What a key handle given to an *Init call means for the backend: *@b gets
 * the backend's handle. A module-side key gets @module_rv; with
 * @refuse_root, a registered root's private key gets
 * CKR_KEY_FUNCTION_NOT_PERMITTED (a raw RSA signature is a decryption). */
static CK_RV backend_key(struct dep11_session *s, CK_OBJECT_HANDLE h, CK_RV module_rv,
                         int refuse_root, CK_OBJECT_HANDLE *b)
{
    struct dep11_object *o = NULL;
    int root = 0;
    CK_RV rv = dep11_object_resolve(s, h, &o, b);

    if (rv == CKR_OBJECT_HANDLE_INVALID)
        rv = CKR_KEY_HANDLE_INVALID;
    if (rv != CKR_OK)
        return rv;
    if (o != NULL) {
        dep11_object_release(o);
        LOG_FAIL(module_rv, "module-side key 0x%lx with a standard mechanism", h);
        return module_rv;
    }
    if (!refuse_root)
        return CKR_OK;
    rv = dep11_core_is_registered_root(s, *b, &root);
    if (rv == CKR_OK && root) {
        rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
        LOG_WARN("%s: key 0x%lx is a registered root: only dep11 mechanisms use it",
                 dep11_rv_name(rv), h);
    }
    return rv;
}

/*
 * Plain forwarding: the session checked and translated, the backend's result
 * returned unchanged. CKR_CRYPTOKI_NOT_INITIALIZED; CKR_SESSION_HANDLE_INVALID;
 * backend codes. (The dual-function updates make sense only with backend
 * operations; with a module-side operation active the backend answers
 * CKR_OPERATION_NOT_INITIALIZED for its half.)
 */

CK_RV dep11_core_DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism)
{
    struct dep11_session *s = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv == CKR_OK &&
        !dep11_vstd_init(s, DEP11_VSTD_DIGEST, pMechanism, CK_INVALID_HANDLE, &rv))
        rv = dep11_hsm_DigestInit(s->handle, pMechanism);
    dep11_session_release(s);
    return rv;
}

CK_RV dep11_core_Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                        CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen)
{
    struct dep11_session *s = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv == CKR_OK &&
        !dep11_vstd_step(s, DEP11_VSTD_DIGEST, 0, pData, ulDataLen, pDigest, pulDigestLen, &rv))
        rv = dep11_hsm_Digest(s->handle, pData, ulDataLen, pDigest, pulDigestLen);
    dep11_session_release(s);
    return rv;
}

CK_RV dep11_core_DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                              CK_ULONG ulPartLen)
{
    struct dep11_session *s = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv == CKR_OK && !dep11_vstd_update(s, DEP11_VSTD_DIGEST, pPart, ulPartLen, &rv))
        rv = dep11_hsm_DigestUpdate(s->handle, pPart, ulPartLen);
    dep11_session_release(s);
    return rv;
}

CK_RV dep11_core_DigestFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest,
                             CK_ULONG_PTR pulDigestLen)
{
    struct dep11_session *s = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv == CKR_OK &&
        !dep11_vstd_step(s, DEP11_VSTD_DIGEST, 1, NULL, 0, pDigest, pulDigestLen, &rv))
        rv = dep11_hsm_DigestFinal(s->handle, pDigest, pulDigestLen);
    dep11_session_release(s);
    return rv;
}

CK_RV dep11_core_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                      CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
    struct dep11_session *s = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv == CKR_OK && !dep11_vstd_step(s, DEP11_VSTD_SIGN, 0, pData, ulDataLen, pSignature,
                                         pulSignatureLen, &rv))
        rv = dep11_hsm_Sign(s->handle, pData, ulDataLen, pSignature, pulSignatureLen);
    dep11_session_release(s);
    return rv;
}

CK_RV dep11_core_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                            CK_ULONG ulPartLen)
{
    struct dep11_session *s = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv == CKR_OK && !dep11_vstd_update(s, DEP11_VSTD_SIGN, pPart, ulPartLen, &rv))
        rv = dep11_hsm_SignUpdate(s->handle, pPart, ulPartLen);
    dep11_session_release(s);
    return rv;
}

CK_RV dep11_core_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                           CK_ULONG_PTR pulSignatureLen)
{
    struct dep11_session *s = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv == CKR_OK &&
        !dep11_vstd_step(s, DEP11_VSTD_SIGN, 1, NULL, 0, pSignature, pulSignatureLen, &rv))
        rv = dep11_hsm_SignFinal(s->handle, pSignature, pulSignatureLen);
    dep11_session_release(s);
    return rv;
}

CK_RV dep11_core_SignRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData,
                             CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                             CK_ULONG_PTR pulSignatureLen)
{
    struct dep11_session *s = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv == CKR_OK)
        rv = dep11_hsm_SignRecover(s->handle, pData, ulDataLen, pSignature, pulSignatureLen);
    dep11_session_release(s);
    return rv;
}

CK_RV dep11_core_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                        CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
    struct dep11_session *s = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv == CKR_OK)
        rv = dep11_hsm_Verify(s->handle, pData, ulDataLen, pSignature, ulSignatureLen);
    dep11_session_release(s);
    return rv;
}

CK_RV dep11_core_VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                              CK_ULONG ulPartLen)
{
    struct dep11_session *s = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv == CKR_OK)
        rv = dep11_hsm_VerifyUpdate(s->handle, pPart, ulPartLen);
    dep11_session_release(s);
    return rv;
}

CK_RV dep11_core_VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                             CK_ULONG ulSignatureLen)
{
    struct dep11_session *s = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv == CKR_OK)
        rv = dep11_hsm_VerifyFinal(s->handle, pSignature, ulSignatureLen);
    dep11_session_release(s);
    return rv;
}

CK_RV dep11_core_VerifyRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                               CK_ULONG ulSignatureLen, CK_BYTE_PTR pData,
                               CK_ULONG_PTR pulDataLen)
{
    struct dep11_session *s = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv == CKR_OK)
        rv = dep11_hsm_VerifyRecover(s->handle, pSignature, ulSignatureLen, pData, pulDataLen);
    dep11_session_release(s);
    return rv;
}

CK_RV dep11_core_DigestEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                                     CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart,
                                     CK_ULONG_PTR pulEncryptedPartLen)
{
    struct dep11_session *s = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv == CKR_OK)
        rv = dep11_hsm_DigestEncryptUpdate(s->handle, pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen);
    dep11_session_release(s);
    return rv;
}

CK_RV dep11_core_DecryptDigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                                     CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
                                     CK_ULONG_PTR pulPartLen)
{
    struct dep11_session *s = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv == CKR_OK)
        rv = dep11_hsm_DecryptDigestUpdate(s->handle, pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen);
    dep11_session_release(s);
    return rv;
}

CK_RV dep11_core_SignEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                                   CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart,
                                   CK_ULONG_PTR pulEncryptedPartLen)
{
    struct dep11_session *s = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv == CKR_OK)
        rv = dep11_hsm_SignEncryptUpdate(s->handle, pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen);
    dep11_session_release(s);
    return rv;
}

CK_RV dep11_core_DecryptVerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                                     CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
                                     CK_ULONG_PTR pulPartLen)
{
    struct dep11_session *s = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv == CKR_OK)
        rv = dep11_hsm_DecryptVerifyUpdate(s->handle, pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen);
    dep11_session_release(s);
    return rv;
}

CK_RV dep11_core_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed,
                            CK_ULONG ulSeedLen)
{
    struct dep11_session *s = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv == CKR_OK)
        rv = dep11_hsm_SeedRandom(s->handle, pSeed, ulSeedLen);
    dep11_session_release(s);
    return rv;
}

CK_RV dep11_core_GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pRandomData,
                                CK_ULONG ulRandomLen)
{
    struct dep11_session *s = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv == CKR_OK)
        rv = dep11_hsm_GenerateRandom(s->handle, pRandomData, ulRandomLen);
    dep11_session_release(s);
    return rv;
}

/*
 * Calls that name a key: a module-side key is refused (the code below),
 * handles are translated, provider-token objects are CKR_KEY_HANDLE_INVALID;
 * SignInit and SignRecoverInit also refuse registered roots.
 */

CK_RV dep11_core_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                          CK_OBJECT_HANDLE hKey)
{
    struct dep11_session *s = NULL;
    CK_OBJECT_HANDLE b = CK_INVALID_HANDLE;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv == CKR_OK && dep11_vstd_init(s, DEP11_VSTD_SIGN, pMechanism, hKey, &rv))
        goto out; /* dep11's own: CKM_DEP11_POLICY_PURGE */
    if (rv == CKR_OK)
        rv = backend_key(s, hKey, CKR_KEY_FUNCTION_NOT_PERMITTED, 1, &b);
    if (rv == CKR_OK)
        rv = dep11_hsm_SignInit(s->handle, pMechanism, b);
out:
    dep11_session_release(s);
    return rv;
}

CK_RV dep11_core_SignRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                 CK_OBJECT_HANDLE hKey)
{
    struct dep11_session *s = NULL;
    CK_OBJECT_HANDLE b = CK_INVALID_HANDLE;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv == CKR_OK)
        rv = backend_key(s, hKey, CKR_KEY_FUNCTION_NOT_PERMITTED, 1, &b);
    if (rv == CKR_OK)
        rv = dep11_hsm_SignRecoverInit(s->handle, pMechanism, b);
    dep11_session_release(s);
    return rv;
}

CK_RV dep11_core_VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                            CK_OBJECT_HANDLE hKey)
{
    struct dep11_session *s = NULL;
    CK_OBJECT_HANDLE b = CK_INVALID_HANDLE;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv == CKR_OK)
        rv = backend_key(s, hKey, CKR_KEY_FUNCTION_NOT_PERMITTED, 0, &b);
    if (rv == CKR_OK)
        rv = dep11_hsm_VerifyInit(s->handle, pMechanism, b);
    dep11_session_release(s);
    return rv;
}

CK_RV dep11_core_VerifyRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                   CK_OBJECT_HANDLE hKey)
{
    struct dep11_session *s = NULL;
    CK_OBJECT_HANDLE b = CK_INVALID_HANDLE;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv == CKR_OK)
        rv = backend_key(s, hKey, CKR_KEY_FUNCTION_NOT_PERMITTED, 0, &b);
    if (rv == CKR_OK)
        rv = dep11_hsm_VerifyRecoverInit(s->handle, pMechanism, b);
    dep11_session_release(s);
    return rv;
}

CK_RV dep11_core_DigestKey(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey)
{
    struct dep11_session *s = NULL;
    CK_OBJECT_HANDLE b = CK_INVALID_HANDLE;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv == CKR_OK)
        rv = backend_key(s, hKey, CKR_KEY_INDIGESTIBLE, 0, &b);
    if (rv == CKR_OK)
        rv = dep11_hsm_DigestKey(s->handle, b);
    dep11_session_release(s);
    return rv;
}
