/*
 * entry.c - the PKCS#11 entry points of libdep11.so: every 2.40 function as
 * a traced dispatch to core (module/core/ops.h), the 2.40 and vendor function
 * lists, C_GetFunctionList and DEP11_GetFunctionList. The 3.0 functions and
 * interface negotiation are in interface.c. No logic.
 */
#include "api/api.h"
#include "core/ops.h"
#include "dep11.h"

/* --- PKCS#11 2.40 ----------------------------------------------------------- */

CK_RV C_Initialize(CK_VOID_PTR pInitArgs)
{
    DISPATCH(dep11_core_Initialize(pInitArgs));
}

CK_RV C_Finalize(CK_VOID_PTR pReserved)
{
    DISPATCH(dep11_core_Finalize(pReserved));
}

CK_RV C_GetInfo(CK_INFO_PTR pInfo)
{
    DISPATCH(dep11_core_GetInfo(pInfo));
}

CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount)
{
    DISPATCH(dep11_core_GetSlotList(tokenPresent, pSlotList, pulCount));
}

CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
    DISPATCH(dep11_core_GetSlotInfo(slotID, pInfo));
}

CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
    DISPATCH(dep11_core_GetTokenInfo(slotID, pInfo));
}

CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pList,
                         CK_ULONG_PTR pulCount)
{
    DISPATCH(dep11_core_GetMechanismList(slotID, pList, pulCount));
}

CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type,
                         CK_MECHANISM_INFO_PTR pInfo)
{
    DISPATCH(dep11_core_GetMechanismInfo(slotID, type, pInfo));
}

CK_RV C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
                  CK_UTF8CHAR_PTR pLabel)
{
    DISPATCH(dep11_core_InitToken(slotID, pPin, ulPinLen, pLabel));
}

CK_RV C_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
    DISPATCH(dep11_core_InitPIN(hSession, pPin, ulPinLen));
}

CK_RV C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen,
               CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen)
{
    DISPATCH(dep11_core_SetPIN(hSession, pOldPin, ulOldLen, pNewPin, ulNewLen));
}

CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,
                    CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession)
{
    DISPATCH(dep11_core_OpenSession(slotID, flags, pApplication, Notify, phSession));
}

CK_RV C_CloseSession(CK_SESSION_HANDLE hSession)
{
    DISPATCH(dep11_core_CloseSession(hSession));
}

CK_RV C_CloseAllSessions(CK_SLOT_ID slotID)
{
    DISPATCH(dep11_core_CloseAllSessions(slotID));
}

CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo)
{
    DISPATCH(dep11_core_GetSessionInfo(hSession, pInfo));
}

CK_RV C_GetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                          CK_ULONG_PTR pulOperationStateLen)
{
    DISPATCH(dep11_core_GetOperationState(hSession, pOperationState, pulOperationStateLen));
}

CK_RV C_SetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                          CK_ULONG ulOperationStateLen, CK_OBJECT_HANDLE hEncryptionKey,
                          CK_OBJECT_HANDLE hAuthenticationKey)
{
    DISPATCH(dep11_core_SetOperationState(hSession, pOperationState, ulOperationStateLen, hEncryptionKey, hAuthenticationKey));
}

CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
              CK_ULONG ulPinLen)
{
    DISPATCH(dep11_core_Login(hSession, userType, pPin, ulPinLen));
}

CK_RV C_Logout(CK_SESSION_HANDLE hSession)
{
    DISPATCH(dep11_core_Logout(hSession));
}

CK_RV C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
                     CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phObject)
{
    DISPATCH(dep11_core_CreateObject(hSession, pTemplate, ulCount, phObject));
}

CK_RV C_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                   CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                   CK_OBJECT_HANDLE_PTR phNewObject)
{
    DISPATCH(dep11_core_CopyObject(hSession, hObject, pTemplate, ulCount, phNewObject));
}

CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject)
{
    DISPATCH(dep11_core_DestroyObject(hSession, hObject));
}

CK_RV C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                      CK_ULONG_PTR pulSize)
{
    DISPATCH(dep11_core_GetObjectSize(hSession, hObject, pulSize));
}

CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                          CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    DISPATCH(dep11_core_GetAttributeValue(hSession, hObject, pTemplate, ulCount));
}

CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                          CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    DISPATCH(dep11_core_SetAttributeValue(hSession, hObject, pTemplate, ulCount));
}

CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
                        CK_ULONG ulCount)
{
    DISPATCH(dep11_core_FindObjectsInit(hSession, pTemplate, ulCount));
}

CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
                    CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount)
{
    DISPATCH(dep11_core_FindObjects(hSession, phObject, ulMaxObjectCount, pulObjectCount));
}

CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession)
{
    DISPATCH(dep11_core_FindObjectsFinal(hSession));
}

CK_RV C_EncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                    CK_OBJECT_HANDLE hKey)
{
    DISPATCH(dep11_core_EncryptInit(hSession, pMechanism, hKey));
}

CK_RV C_Encrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                CK_BYTE_PTR pEncryptedData, CK_ULONG_PTR pulEncryptedDataLen)
{
    DISPATCH(dep11_core_Encrypt(hSession, pData, ulDataLen, pEncryptedData, pulEncryptedDataLen));
}

CK_RV C_EncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
                      CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen)
{
    DISPATCH(dep11_core_EncryptUpdate(hSession, pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen));
}

CK_RV C_EncryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastEncryptedPart,
                     CK_ULONG_PTR pulLastEncryptedPartLen)
{
    DISPATCH(dep11_core_EncryptFinal(hSession, pLastEncryptedPart, pulLastEncryptedPartLen));
}

CK_RV C_DecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                    CK_OBJECT_HANDLE hKey)
{
    DISPATCH(dep11_core_DecryptInit(hSession, pMechanism, hKey));
}

CK_RV C_Decrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData,
                CK_ULONG ulEncryptedDataLen, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen)
{
    DISPATCH(dep11_core_Decrypt(hSession, pEncryptedData, ulEncryptedDataLen, pData, pulDataLen));
}

CK_RV C_DecryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                      CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
                      CK_ULONG_PTR pulPartLen)
{
    DISPATCH(dep11_core_DecryptUpdate(hSession, pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen));
}

CK_RV C_DecryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart,
                     CK_ULONG_PTR pulLastPartLen)
{
    DISPATCH(dep11_core_DecryptFinal(hSession, pLastPart, pulLastPartLen));
}

CK_RV C_DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism)
{
    DISPATCH(dep11_core_DigestInit(hSession, pMechanism));
}

CK_RV C_Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
               CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen)
{
    DISPATCH(dep11_core_Digest(hSession, pData, ulDataLen, pDigest, pulDigestLen));
}

CK_RV C_DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
    DISPATCH(dep11_core_DigestUpdate(hSession, pPart, ulPartLen));
}

CK_RV C_DigestKey(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey)
{
    DISPATCH(dep11_core_DigestKey(hSession, hKey));
}

CK_RV C_DigestFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest,
                    CK_ULONG_PTR pulDigestLen)
{
    DISPATCH(dep11_core_DigestFinal(hSession, pDigest, pulDigestLen));
}

CK_RV C_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                 CK_OBJECT_HANDLE hKey)
{
    DISPATCH(dep11_core_SignInit(hSession, pMechanism, hKey));
}

CK_RV C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
             CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
    DISPATCH(dep11_core_Sign(hSession, pData, ulDataLen, pSignature, pulSignatureLen));
}

CK_RV C_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
    DISPATCH(dep11_core_SignUpdate(hSession, pPart, ulPartLen));
}

CK_RV C_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                  CK_ULONG_PTR pulSignatureLen)
{
    DISPATCH(dep11_core_SignFinal(hSession, pSignature, pulSignatureLen));
}

CK_RV C_SignRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                        CK_OBJECT_HANDLE hKey)
{
    DISPATCH(dep11_core_SignRecoverInit(hSession, pMechanism, hKey));
}

CK_RV C_SignRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                    CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
    DISPATCH(dep11_core_SignRecover(hSession, pData, ulDataLen, pSignature, pulSignatureLen));
}

CK_RV C_VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                   CK_OBJECT_HANDLE hKey)
{
    DISPATCH(dep11_core_VerifyInit(hSession, pMechanism, hKey));
}

CK_RV C_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
               CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
    DISPATCH(dep11_core_Verify(hSession, pData, ulDataLen, pSignature, ulSignatureLen));
}

CK_RV C_VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
    DISPATCH(dep11_core_VerifyUpdate(hSession, pPart, ulPartLen));
}

CK_RV C_VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                    CK_ULONG ulSignatureLen)
{
    DISPATCH(dep11_core_VerifyFinal(hSession, pSignature, ulSignatureLen));
}

CK_RV C_VerifyRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                          CK_OBJECT_HANDLE hKey)
{
    DISPATCH(dep11_core_VerifyRecoverInit(hSession, pMechanism, hKey));
}

CK_RV C_VerifyRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                      CK_ULONG ulSignatureLen, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen)
{
    DISPATCH(dep11_core_VerifyRecover(hSession, pSignature, ulSignatureLen, pData, pulDataLen));
}

CK_RV C_DigestEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                            CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart,
                            CK_ULONG_PTR pulEncryptedPartLen)
{
    DISPATCH(dep11_core_DigestEncryptUpdate(hSession, pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen));
}

CK_RV C_DecryptDigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                            CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
                            CK_ULONG_PTR pulPartLen)
{
    DISPATCH(dep11_core_DecryptDigestUpdate(hSession, pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen));
}

CK_RV C_SignEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
                          CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen)
{
    DISPATCH(dep11_core_SignEncryptUpdate(hSession, pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen));
}

CK_RV C_DecryptVerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                            CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
                            CK_ULONG_PTR pulPartLen)
{
    DISPATCH(dep11_core_DecryptVerifyUpdate(hSession, pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen));
}

CK_RV C_GenerateKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                    CK_OBJECT_HANDLE_PTR phKey)
{
    DISPATCH(dep11_core_GenerateKey(hSession, pMechanism, pTemplate, ulCount, phKey));
}

CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                        CK_ATTRIBUTE_PTR pPublicKeyTemplate,
                        CK_ULONG ulPublicKeyAttributeCount,
                        CK_ATTRIBUTE_PTR pPrivateKeyTemplate,
                        CK_ULONG ulPrivateKeyAttributeCount,
                        CK_OBJECT_HANDLE_PTR phPublicKey, CK_OBJECT_HANDLE_PTR phPrivateKey)
{
    DISPATCH(dep11_core_GenerateKeyPair(hSession, pMechanism, pPublicKeyTemplate, ulPublicKeyAttributeCount, pPrivateKeyTemplate, ulPrivateKeyAttributeCount, phPublicKey, phPrivateKey));
}

CK_RV C_WrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey,
                CK_BYTE_PTR pWrappedKey, CK_ULONG_PTR pulWrappedKeyLen)
{
    DISPATCH(dep11_core_WrapKey(hSession, pMechanism, hWrappingKey, hKey, pWrappedKey, pulWrappedKeyLen));
}

CK_RV C_UnwrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                  CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey,
                  CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE_PTR pTemplate,
                  CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
    DISPATCH(dep11_core_UnwrapKey(hSession, pMechanism, hUnwrappingKey, pWrappedKey, ulWrappedKeyLen, pTemplate, ulAttributeCount, phKey));
}

CK_RV C_DeriveKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                  CK_OBJECT_HANDLE hBaseKey, CK_ATTRIBUTE_PTR pTemplate,
                  CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
    DISPATCH(dep11_core_DeriveKey(hSession, pMechanism, hBaseKey, pTemplate, ulAttributeCount, phKey));
}

CK_RV C_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen)
{
    DISPATCH(dep11_core_SeedRandom(hSession, pSeed, ulSeedLen));
}

CK_RV C_GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pRandomData,
                       CK_ULONG ulRandomLen)
{
    DISPATCH(dep11_core_GenerateRandom(hSession, pRandomData, ulRandomLen));
}

CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE hSession)
{
    DISPATCH(dep11_core_GetFunctionStatus(hSession));
}

CK_RV C_CancelFunction(CK_SESSION_HANDLE hSession)
{
    DISPATCH(dep11_core_CancelFunction(hSession));
}

CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved)
{
    DISPATCH(dep11_core_WaitForSlotEvent(flags, pSlot, pReserved));
}

/* --- "Vendor dep11" 1.0 (reached only through its function list) ----------- */

static CK_RV DEP11_GetPolicyInfo(CK_BYTE_PTR pBlob, CK_ULONG ulBlobLen,
                                 CK_DEP11_POLICY_INFO *pInfo)
{
    DISPATCH(dep11_core_GetPolicyInfo(pBlob, ulBlobLen, pInfo));
}

static CK_RV DEP11_PurgePolicy(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pBlob,
                               CK_ULONG ulBlobLen, CK_BYTE_PTR pReceipt,
                               CK_ULONG_PTR pulReceiptLen)
{
    DISPATCH(dep11_core_PurgePolicy(hSession, pBlob, ulBlobLen, pReceipt, pulReceiptLen));
}

static CK_RV DEP11_FlushCache(CK_BYTE_PTR pPolicyId)
{
    DISPATCH(dep11_core_FlushCache(pPolicyId));
}

static CK_RV DEP11_RegisterRoot(CK_SESSION_HANDLE hSession, CK_ULONG ulAction,
                                CK_BYTE_PTR pRootId, CK_ULONG ulRootIdLen,
                                CK_UTF8CHAR_PTR pSoPin, CK_ULONG ulSoPinLen)
{
    DISPATCH(
        dep11_core_RegisterRoot(hSession, ulAction, pRootId, ulRootIdLen, pSoPin, ulSoPinLen));
}

/* --- function lists and interfaces ------------------------------------------- */

CK_FUNCTION_LIST dep11_api_list_2_40 = { .version = { 2, 40 },
                                         DEP11_API_FUNCTIONS_2_40(DEP11_API_ENTRY) };

CK_DEP11_FUNCTION_LIST dep11_api_list_vendor = {
    .version = { 1, 1 },
    .DEP11_GetPolicyInfo = DEP11_GetPolicyInfo,
    .DEP11_PurgePolicy = DEP11_PurgePolicy,
    .DEP11_FlushCache = DEP11_FlushCache,
    .DEP11_RegisterRoot = DEP11_RegisterRoot,
};

static CK_RV get_function_list(CK_FUNCTION_LIST_PTR_PTR pp)
{
    if (pp == NULL)
        return CKR_ARGUMENTS_BAD;
    *pp = &dep11_api_list_2_40;
    return CKR_OK;
}

static CK_RV get_dep11_function_list(CK_DEP11_FUNCTION_LIST_PTR_PTR pp)
{
    if (pp == NULL)
        return CKR_ARGUMENTS_BAD;
    *pp = &dep11_api_list_vendor;
    return CKR_OK;
}

/* --- exported ------------------------------------------------------------------ */

/**
 * C_GetFunctionList - the PKCS#11 2.40 function list (static; the caller
 * must not free it). CKR_OK; CKR_ARGUMENTS_BAD. Needs no C_Initialize.
 */
DEP11_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
    DISPATCH(get_function_list(ppFunctionList));
}

/**
 * DEP11_GetFunctionList - the "Vendor dep11" 1.0 list for 2.40 consumers
 * (static). CKR_OK; CKR_ARGUMENTS_BAD.
 */
DEP11_EXPORT CK_RV DEP11_GetFunctionList(CK_DEP11_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
    DISPATCH(get_dep11_function_list(ppFunctionList));
}
