/*
 * ops.h - the PKCS#11 2.40 functions as core implements them: api/ calls
 * dep11_core_<Fn> with the arguments of C_<Fn> and returns its result.
 * keyops.c and cipher.c (key management and module-side ciphers) implement
 * their part; module.c, slot.c, session.c, object.c, find.c, forward.c the rest.
 */
#ifndef DEP11_CORE_OPS_H
#define DEP11_CORE_OPS_H

#include "dep11.h"

/* --- general purpose (module.c) ------------------------------------------ */
/* C_Initialize: CKR_ARGUMENTS_BAD (pReserved, partial mutex functions);
 * CKR_CRYPTOKI_ALREADY_INITIALIZED; CKR_FUNCTION_FAILED (bad config);
 * backend/provider codes. */
CK_RV dep11_core_Initialize(CK_VOID_PTR pInitArgs);
/* C_Finalize: CKR_ARGUMENTS_BAD (non-NULL); CKR_CRYPTOKI_NOT_INITIALIZED. */
CK_RV dep11_core_Finalize(CK_VOID_PTR pReserved);
CK_RV dep11_core_GetInfo(CK_INFO_PTR pInfo);

/* --- slots and tokens (slot.c) ------------------------------------------- */
/* The provider slot is absent from lists and CKR_SLOT_ID_INVALID here. */
CK_RV dep11_core_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList,
                             CK_ULONG_PTR pulCount);
CK_RV dep11_core_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo);
CK_RV dep11_core_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo);
CK_RV dep11_core_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pList,
                                  CK_ULONG_PTR pulCount);
CK_RV dep11_core_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type,
                                  CK_MECHANISM_INFO_PTR pInfo);
CK_RV dep11_core_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
                           CK_UTF8CHAR_PTR pLabel);
CK_RV dep11_core_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot,
                                  CK_VOID_PTR pReserved);

/* --- sessions and login (session.c) ------------------------------------- */
CK_RV dep11_core_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin,
                         CK_ULONG ulPinLen);
CK_RV dep11_core_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin,
                        CK_ULONG ulOldLen, CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen);
CK_RV dep11_core_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,
                             CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession);
CK_RV dep11_core_CloseSession(CK_SESSION_HANDLE hSession);
CK_RV dep11_core_CloseAllSessions(CK_SLOT_ID slotID);
CK_RV dep11_core_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo);
CK_RV dep11_core_GetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                                   CK_ULONG_PTR pulOperationStateLen);
CK_RV dep11_core_SetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                                   CK_ULONG ulOperationStateLen,
                                   CK_OBJECT_HANDLE hEncryptionKey,
                                   CK_OBJECT_HANDLE hAuthenticationKey);
CK_RV dep11_core_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType,
                       CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen);
CK_RV dep11_core_Logout(CK_SESSION_HANDLE hSession);
CK_RV dep11_core_GetFunctionStatus(CK_SESSION_HANDLE hSession);
CK_RV dep11_core_CancelFunction(CK_SESSION_HANDLE hSession);

/* --- objects (object.c, find.c) ------------------------------------------ */
CK_RV dep11_core_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
                              CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phObject);
CK_RV dep11_core_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                            CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                            CK_OBJECT_HANDLE_PTR phNewObject);
CK_RV dep11_core_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject);
CK_RV dep11_core_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                               CK_ULONG_PTR pulSize);
CK_RV dep11_core_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                   CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount);
CK_RV dep11_core_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                   CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount);
CK_RV dep11_core_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
                                 CK_ULONG ulCount);
CK_RV dep11_core_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
                             CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount);
CK_RV dep11_core_FindObjectsFinal(CK_SESSION_HANDLE hSession);

/* --- encryption and decryption (cipher.c) -------------------------------- */
CK_RV dep11_core_EncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                             CK_OBJECT_HANDLE hKey);
CK_RV dep11_core_Encrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                         CK_BYTE_PTR pEncryptedData, CK_ULONG_PTR pulEncryptedDataLen);
CK_RV dep11_core_EncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                               CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart,
                               CK_ULONG_PTR pulEncryptedPartLen);
CK_RV dep11_core_EncryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastEncryptedPart,
                              CK_ULONG_PTR pulLastEncryptedPartLen);
CK_RV dep11_core_DecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                             CK_OBJECT_HANDLE hKey);
CK_RV dep11_core_Decrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData,
                         CK_ULONG ulEncryptedDataLen, CK_BYTE_PTR pData,
                         CK_ULONG_PTR pulDataLen);
CK_RV dep11_core_DecryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                               CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
                               CK_ULONG_PTR pulPartLen);
CK_RV dep11_core_DecryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart,
                              CK_ULONG_PTR pulLastPartLen);

/* --- message digesting, signing, dual functions, random (forward.c) ------ */
CK_RV dep11_core_DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism);
CK_RV dep11_core_Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                        CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen);
CK_RV dep11_core_DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                              CK_ULONG ulPartLen);
/* A module-side key: CKR_KEY_INDIGESTIBLE. */
CK_RV dep11_core_DigestKey(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey);
CK_RV dep11_core_DigestFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest,
                             CK_ULONG_PTR pulDigestLen);
/* Sign/Verify(Recover)Init: a module-side key, or (sign side) a registered
 * root: CKR_KEY_FUNCTION_NOT_PERMITTED. */
CK_RV dep11_core_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                          CK_OBJECT_HANDLE hKey);
CK_RV dep11_core_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                      CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen);
CK_RV dep11_core_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                            CK_ULONG ulPartLen);
CK_RV dep11_core_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                           CK_ULONG_PTR pulSignatureLen);
CK_RV dep11_core_SignRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                 CK_OBJECT_HANDLE hKey);
CK_RV dep11_core_SignRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData,
                             CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                             CK_ULONG_PTR pulSignatureLen);
CK_RV dep11_core_VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                            CK_OBJECT_HANDLE hKey);
CK_RV dep11_core_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                        CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen);
CK_RV dep11_core_VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                              CK_ULONG ulPartLen);
CK_RV dep11_core_VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                             CK_ULONG ulSignatureLen);
CK_RV dep11_core_VerifyRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                   CK_OBJECT_HANDLE hKey);
CK_RV dep11_core_VerifyRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                               CK_ULONG ulSignatureLen, CK_BYTE_PTR pData,
                               CK_ULONG_PTR pulDataLen);
CK_RV dep11_core_DigestEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                                     CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart,
                                     CK_ULONG_PTR pulEncryptedPartLen);
CK_RV dep11_core_DecryptDigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                                     CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
                                     CK_ULONG_PTR pulPartLen);
CK_RV dep11_core_SignEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                                   CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart,
                                   CK_ULONG_PTR pulEncryptedPartLen);
CK_RV dep11_core_DecryptVerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                                     CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
                                     CK_ULONG_PTR pulPartLen);
CK_RV dep11_core_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen);
CK_RV dep11_core_GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pRandomData,
                                CK_ULONG ulRandomLen);

/* --- key management (keyops.c) ------------------------------------------- */
CK_RV dep11_core_GenerateKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                             CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                             CK_OBJECT_HANDLE_PTR phKey);
CK_RV dep11_core_GenerateKeyPair(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                 CK_ATTRIBUTE_PTR pPublicKeyTemplate,
                                 CK_ULONG ulPublicKeyAttributeCount,
                                 CK_ATTRIBUTE_PTR pPrivateKeyTemplate,
                                 CK_ULONG ulPrivateKeyAttributeCount,
                                 CK_OBJECT_HANDLE_PTR phPublicKey,
                                 CK_OBJECT_HANDLE_PTR phPrivateKey);
CK_RV dep11_core_WrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                         CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey,
                         CK_BYTE_PTR pWrappedKey, CK_ULONG_PTR pulWrappedKeyLen);
CK_RV dep11_core_UnwrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                           CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey,
                           CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE_PTR pTemplate,
                           CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey);
CK_RV dep11_core_DeriveKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                           CK_OBJECT_HANDLE hBaseKey, CK_ATTRIBUTE_PTR pTemplate,
                           CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey);

/* --- PKCS#11 3.0 (message.c) ----------------------------------------------- */
/* C_LoginUser: without a user name, C_Login; with one,
 * CKR_FUNCTION_NOT_SUPPORTED (the backend's tokens have no user names). */
CK_RV dep11_core_LoginUser(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType,
                           CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername,
                           CK_ULONG ulUsernameLen);
/* C_SessionCancel: CKF_MESSAGE_ENCRYPT / CKF_MESSAGE_DECRYPT end those
 * operations; other flags: CKR_OPERATION_CANCEL_FAILED. */
CK_RV dep11_core_SessionCancel(CK_SESSION_HANDLE hSession, CK_FLAGS flags);
/* Message-based encryption (@encrypt 1) and decryption (0) of
 * CKM_DEP11_AEAD and CKM_DEP11_CHUNK_AEAD on module-side keys
 * (include/dep11.h). Init: CKR_OPERATION_ACTIVE; CKR_KEY_HANDLE_INVALID;
 * CKR_KEY_TYPE_INCONSISTENT (a dep11 mechanism on a backend key);
 * CKR_MECHANISM_INVALID (another mechanism); CKR_MECHANISM_PARAM_INVALID (an
 * Init parameter); CKR_KEY_FUNCTION_NOT_PERMITTED (role);
 * CKR_USER_NOT_LOGGED_IN. The others: CKR_OPERATION_NOT_INITIALIZED (no
 * Init; Next without Begin); CKR_OPERATION_ACTIVE (a whole message or a
 * Begin while a message is under way); CKR_MECHANISM_PARAM_INVALID (the
 * per-message parameter); CKR_DATA_LEN_RANGE (AAD over DEP11_AAD_MAX);
 * CKR_ENCRYPTED_DATA_INVALID (tag); CKR_KEY_HANDLE_INVALID (the key died:
 * the operation ends); size-query protocol for every output. */
CK_RV dep11_core_MessageCryptInit(CK_SESSION_HANDLE hSession, int encrypt,
                                  CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey);
CK_RV dep11_core_CryptMessage(CK_SESSION_HANDLE hSession, int encrypt, CK_VOID_PTR pParameter,
                              CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
                              CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pIn, CK_ULONG ulInLen,
                              CK_BYTE_PTR pOut, CK_ULONG_PTR pulOutLen);
CK_RV dep11_core_CryptMessageBegin(CK_SESSION_HANDLE hSession, int encrypt,
                                   CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                                   CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen);
/* @flags: 0 or CKF_END_OF_MESSAGE (the last part: its output ends with the
 * tag, or is the whole plaintext once the tag is verified). */
CK_RV dep11_core_CryptMessageNext(CK_SESSION_HANDLE hSession, int encrypt,
                                  CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                                  CK_BYTE_PTR pIn, CK_ULONG ulInLen, CK_BYTE_PTR pOut,
                                  CK_ULONG_PTR pulOutLen, CK_FLAGS flags);
CK_RV dep11_core_MessageCryptFinal(CK_SESSION_HANDLE hSession, int encrypt);

/* --- the "Vendor dep11" interface (module.c) ------------------------------ */
/* Parse only: CKR_OK; CKR_WRAPPED_KEY_INVALID; CKR_ARGUMENTS_BAD. */
CK_RV dep11_core_GetPolicyInfo(CK_BYTE_PTR pBlob, CK_ULONG ulBlobLen,
                               CK_DEP11_POLICY_INFO *pInfo);
/* The data purge path (hier/purge.c, docs/RECEIPTS.md): a logged-in session of
 * the policy's customer token; size-query protocol for the receipt. */
CK_RV dep11_core_PurgePolicy(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pBlob,
                             CK_ULONG ulBlobLen, CK_BYTE_PTR pReceipt,
                             CK_ULONG_PTR pulReceiptLen);
/* @pPolicyId: 16 bytes, or NULL for all. CKR_OK. */
CK_RV dep11_core_FlushCache(CK_BYTE_PTR pPolicyId);
/* DEP11_RegisterRoot (vendor_std.c: the same work as CKM_DEP11_ROOT_REGISTER
 * and CKM_DEP11_ROOT_UNREGISTER; hier/root_reg.h). */
CK_RV dep11_core_RegisterRoot(CK_SESSION_HANDLE hSession, CK_ULONG ulAction,
                              CK_BYTE_PTR pRootId, CK_ULONG ulRootIdLen, CK_UTF8CHAR_PTR pSoPin,
                              CK_ULONG ulSoPinLen);

#endif
