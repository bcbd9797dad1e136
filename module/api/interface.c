/*
 * interface.c - the PKCS#11 3.0 entry points of libdep11.so (traced
 * dispatch to core/message.c, or CKR_FUNCTION_NOT_SUPPORTED for message
 * signing, which no dep11 mechanism does), the CK_FUNCTION_LIST_3_0, and
 * interface negotiation: "PKCS 11" 3.0 (the default), "PKCS 11" 2.40 and
 * "Vendor dep11" 1.0 (DESIGN section 3, libdep11(3)). No logic.
 */
#include <string.h>

#include "api/api.h"
#include "core/ops.h"

/* --- PKCS#11 3.0 session functions ---------------------------------------- */

static CK_RV C_LoginUser(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType,
                         CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername,
                         CK_ULONG ulUsernameLen)
{
    DISPATCH(
        dep11_core_LoginUser(hSession, userType, pPin, ulPinLen, pUsername, ulUsernameLen));
}

static CK_RV C_SessionCancel(CK_SESSION_HANDLE hSession, CK_FLAGS flags)
{
    DISPATCH(dep11_core_SessionCancel(hSession, flags));
}

/* --- message-based encryption and decryption --------------------------------- */

static CK_RV C_MessageEncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                  CK_OBJECT_HANDLE hKey)
{
    DISPATCH(dep11_core_MessageCryptInit(hSession, 1, pMechanism, hKey));
}

static CK_RV C_EncryptMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                              CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
                              CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pPlaintext,
                              CK_ULONG ulPlaintextLen, CK_BYTE_PTR pCiphertext,
                              CK_ULONG_PTR pulCiphertextLen)
{
    DISPATCH(dep11_core_CryptMessage(hSession, 1, pParameter, ulParameterLen, pAssociatedData,
                                     ulAssociatedDataLen, pPlaintext, ulPlaintextLen,
                                     pCiphertext, pulCiphertextLen));
}

static CK_RV C_EncryptMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                   CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
                                   CK_ULONG ulAssociatedDataLen)
{
    DISPATCH(dep11_core_CryptMessageBegin(hSession, 1, pParameter, ulParameterLen,
                                          pAssociatedData, ulAssociatedDataLen));
}

static CK_RV C_EncryptMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                  CK_ULONG ulParameterLen, CK_BYTE_PTR pPlaintextPart,
                                  CK_ULONG ulPlaintextPartLen, CK_BYTE_PTR pCiphertextPart,
                                  CK_ULONG_PTR pulCiphertextPartLen, CK_FLAGS flags)
{
    DISPATCH(dep11_core_CryptMessageNext(hSession, 1, pParameter, ulParameterLen,
                                         pPlaintextPart, ulPlaintextPartLen, pCiphertextPart,
                                         pulCiphertextPartLen, flags));
}

static CK_RV C_MessageEncryptFinal(CK_SESSION_HANDLE hSession)
{
    DISPATCH(dep11_core_MessageCryptFinal(hSession, 1));
}

static CK_RV C_MessageDecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                  CK_OBJECT_HANDLE hKey)
{
    DISPATCH(dep11_core_MessageCryptInit(hSession, 0, pMechanism, hKey));
}

static CK_RV C_DecryptMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                              CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
                              CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pCiphertext,
                              CK_ULONG ulCiphertextLen, CK_BYTE_PTR pPlaintext,
                              CK_ULONG_PTR pulPlaintextLen)
{
    DISPATCH(dep11_core_CryptMessage(hSession, 0, pParameter, ulParameterLen, pAssociatedData,
                                     ulAssociatedDataLen, pCiphertext, ulCiphertextLen,
                                     pPlaintext, pulPlaintextLen));
}

static CK_RV C_DecryptMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                   CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
                                   CK_ULONG ulAssociatedDataLen)
{
    DISPATCH(dep11_core_CryptMessageBegin(hSession, 0, pParameter, ulParameterLen,
                                          pAssociatedData, ulAssociatedDataLen));
}

static CK_RV C_DecryptMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                  CK_ULONG ulParameterLen, CK_BYTE_PTR pCiphertextPart,
                                  CK_ULONG ulCiphertextPartLen, CK_BYTE_PTR pPlaintextPart,
                                  CK_ULONG_PTR pulPlaintextPartLen, CK_FLAGS flags)
{
    DISPATCH(dep11_core_CryptMessageNext(hSession, 0, pParameter, ulParameterLen,
                                         pCiphertextPart, ulCiphertextPartLen, pPlaintextPart,
                                         pulPlaintextPartLen, flags));
}

static CK_RV C_MessageDecryptFinal(CK_SESSION_HANDLE hSession)
{
    DISPATCH(dep11_core_MessageCryptFinal(hSession, 0));
}

/* --- message-based signing and verification: no dep11 mechanism signs,
 * and the backend (2.40) has none ------------------------------------------- */

static CK_RV not_supported(void)
{
    LOG_FAIL(CKR_FUNCTION_NOT_SUPPORTED, "message-based signing and verification");
    return CKR_FUNCTION_NOT_SUPPORTED;
}

static CK_RV C_MessageSignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                               CK_OBJECT_HANDLE hKey)
{
    (void)hSession, (void)pMechanism, (void)hKey;
    DISPATCH(not_supported());
}

static CK_RV C_SignMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                           CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                           CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
    (void)hSession, (void)pParameter, (void)ulParameterLen, (void)pData, (void)ulDataLen;
    (void)pSignature, (void)pulSignatureLen;
    DISPATCH(not_supported());
}

static CK_RV C_SignMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                CK_ULONG ulParameterLen)
{
    (void)hSession, (void)pParameter, (void)ulParameterLen;
    DISPATCH(not_supported());
}

static CK_RV C_MessageSignFinal(CK_SESSION_HANDLE hSession)
{
    (void)hSession;
    DISPATCH(not_supported());
}

static CK_RV C_VerifyMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                             CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                             CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
    (void)hSession, (void)pParameter, (void)ulParameterLen, (void)pData, (void)ulDataLen;
    (void)pSignature, (void)ulSignatureLen;
    DISPATCH(not_supported());
}

/* --- function lists and interfaces ------------------------------------------- */

/* The X-list expansion ends without a comma, which clang-format reads as an
 * unfinished expression: the list keeps its own layout. */
/* clang-format off */
static CK_FUNCTION_LIST_3_0 list_3_0 = {
    .version = { 3, 0 },
    /* The 2.40 functions, as in dep11_api_list_2_40 (entry.c). */
    DEP11_API_FUNCTIONS_2_40(DEP11_API_ENTRY)
    /* 3.0 */
    .C_GetInterfaceList = C_GetInterfaceList,
    .C_GetInterface = C_GetInterface,
    .C_LoginUser = C_LoginUser,
    .C_SessionCancel = C_SessionCancel,
    .C_MessageEncryptInit = C_MessageEncryptInit,
    .C_EncryptMessage = C_EncryptMessage,
    .C_EncryptMessageBegin = C_EncryptMessageBegin,
    .C_EncryptMessageNext = C_EncryptMessageNext,
    .C_MessageEncryptFinal = C_MessageEncryptFinal,
    .C_MessageDecryptInit = C_MessageDecryptInit,
    .C_DecryptMessage = C_DecryptMessage,
    .C_DecryptMessageBegin = C_DecryptMessageBegin,
    .C_DecryptMessageNext = C_DecryptMessageNext,
    .C_MessageDecryptFinal = C_MessageDecryptFinal,
    .C_MessageSignInit = C_MessageSignInit,
    .C_SignMessage = C_SignMessage,
    .C_SignMessageBegin = C_SignMessageBegin,
    .C_SignMessageNext = C_SignMessage,
    .C_MessageSignFinal = C_MessageSignFinal,
    .C_MessageVerifyInit = C_MessageSignInit,
    .C_VerifyMessage = C_VerifyMessage,
    .C_VerifyMessageBegin = C_SignMessageBegin,
    .C_VerifyMessageNext = C_VerifyMessage,
    .C_MessageVerifyFinal = C_MessageSignFinal,
};
/* clang-format on */

static CK_CHAR pkcs11_name[] = "PKCS 11";
static CK_CHAR dep11_name[] = DEP11_INTERFACE_NAME;

/* The first is the default (PKCS#11 3.0 section 5.2). Every list begins with
 * its CK_VERSION. None is fork-safe: a child must call C_Initialize again. */
static CK_INTERFACE interfaces[] = {
    { pkcs11_name, &list_3_0, 0 },
    { pkcs11_name, &dep11_api_list_2_40, 0 },
    { dep11_name, &dep11_api_list_vendor, 0 },
};
#define N_INTERFACES (sizeof interfaces / sizeof interfaces[0])

/* Size-query protocol: NULL list -> count; too small -> CKR_BUFFER_TOO_SMALL. */
static CK_RV get_interface_list(CK_INTERFACE_PTR list, CK_ULONG_PTR count)
{
    CK_RV rv = CKR_OK;

    if (count == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL count");
        return rv;
    }
    if (list != NULL && *count < N_INTERFACES) {
        rv = CKR_BUFFER_TOO_SMALL;
        LOG_FAIL(rv, "room for %lu interfaces, %zu needed", *count, N_INTERFACES);
    } else if (list != NULL) {
        memcpy(list, interfaces, sizeof interfaces);
    }
    *count = N_INTERFACES;
    return rv;
}

/* The first interface (in list order, so the newest version first) with
 * that name (NULL: "PKCS 11"), that exact version when given, and every
 * flag asked for. None matching: CKR_ARGUMENTS_BAD. */
static CK_RV get_interface(CK_UTF8CHAR_PTR name, CK_VERSION_PTR version,
                           CK_INTERFACE_PTR_PTR pp, CK_FLAGS flags)
{
    CK_RV rv = CKR_ARGUMENTS_BAD;
    const char *want = name != NULL ? (const char *)name : (const char *)pkcs11_name;

    if (pp == NULL) {
        LOG_FAIL(rv, "NULL interface pointer");
        return rv;
    }
    for (size_t i = 0; i < N_INTERFACES; i++) {
        const CK_VERSION *v = interfaces[i].pFunctionList;
        if (strcmp(want, (const char *)interfaces[i].pInterfaceName) != 0)
            continue;
        if (version != NULL && (version->major != v->major || version->minor != v->minor))
            continue;
        if ((interfaces[i].flags & flags) != flags)
            continue;
        *pp = &interfaces[i];
        return CKR_OK;
    }
    LOG_FAIL(rv, "no interface %s matches", want);
    return rv;
}

/* --- exported ------------------------------------------------------------------ */

/**
 * C_GetInterfaceList - PKCS#11 3.0: "PKCS 11" 3.0, "PKCS 11" 2.40 and
 * "Vendor dep11" 1.0, in that order (static lists; needs no C_Initialize).
 * CKR_OK; CKR_ARGUMENTS_BAD (NULL count); CKR_BUFFER_TOO_SMALL.
 */
DEP11_EXPORT CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount)
{
    DISPATCH(get_interface_list(pInterfacesList, pulCount));
}

/**
 * C_GetInterface - PKCS#11 3.0. @pInterfaceName NULL is the default
 * ("PKCS 11"); @pVersion NULL is the newest (3.0). CKR_OK; CKR_ARGUMENTS_BAD
 * (NULL @ppInterface, or nothing matches name, version and flags).
 */
DEP11_EXPORT CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
                                  CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags)
{
    DISPATCH(get_interface(pInterfaceName, pVersion, ppInterface, flags));
}
