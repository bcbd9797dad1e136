/*
 * dep11.h - the public vendor ABI of libdep11.so.
 * Every number here is fixed by DESIGN section 3: outside consumers and tests
 * rely on them. Values are CKx_VENDOR_DEFINED | DEP11_VENDOR_TAG | n.
 */
#ifndef DEP11_H
#define DEP11_H

#include <p11-kit/pkcs11.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DEP11_VENDOR_TAG 0x0DE11000UL

#define DEP11_CKM(n) (CKM_VENDOR_DEFINED | DEP11_VENDOR_TAG | (n))
#define DEP11_CKA(n) (CKA_VENDOR_DEFINED | DEP11_VENDOR_TAG | (n))
#define DEP11_CKR(n) (CKR_VENDOR_DEFINED | DEP11_VENDOR_TAG | (n))
#define DEP11_CKO(n) (CKO_VENDOR_DEFINED | DEP11_VENDOR_TAG | (n))

/* Mechanisms */
#define CKM_DEP11_KEY_GEN          DEP11_CKM(1)
#define CKM_DEP11_POLICY_WRAP      DEP11_CKM(2)
#define CKM_DEP11_POLICY_UNWRAP    DEP11_CKM(3)
#define CKM_DEP11_CHILD_WRAP       DEP11_CKM(4)
#define CKM_DEP11_CHILD_UNWRAP     DEP11_CKM(5)
#define CKM_DEP11_CHUNK_KEY_DERIVE DEP11_CKM(6)
#define CKM_DEP11_CHUNK_AEAD       DEP11_CKM(7)
#define CKM_DEP11_AEAD             DEP11_CKM(8)
/* The vendor functions through standard calls (issue 14; docs/ARCHITECTURE.md
 * "Vendor functions through standard calls"): NULL parameter, no key, every
 * input as data, so that p11-kit's proxy (which has only the 2.40 function
 * list) carries them. The same answers and codes as the vendor functions.
 *  9  C_DigestInit / C_Digest(blob) -> the CK_DEP11_POLICY_INFO bytes
 *     (DEP11_GetPolicyInfo; any session, no login needed)
 * 10  C_SignInit(hKey = CK_INVALID_HANDLE) / C_Sign(blob) -> the receipt
 *     (DEP11_PurgePolicy: a logged-in session of the policy's customer
 *     token; NULL output = size query: the most a receipt
 *     takes; nothing destroyed)
 * 11  C_DigestInit / C_Digest(policy id, 16 bytes, or no data for all) ->
 *     no output bytes (DEP11_FlushCache; any session; a NULL output is a
 *     size query and flushes nothing: pass any buffer)
 * Multi-part (C_DigestUpdate/C_DigestFinal, C_SignUpdate/C_SignFinal)
 * gathers the data; one dep11 operation per session at a time. A NULL
 * mechanism to C_DigestInit / C_SignInit ends a running one (PKCS#11 3.0). */
#define CKM_DEP11_POLICY_INFO DEP11_CKM(9)
#define CKM_DEP11_POLICY_PURGE DEP11_CKM(10)
#define CKM_DEP11_FLUSH_CACHE DEP11_CKM(11)
/* 12, 13  C_DigestInit / C_Digest(root identity (32 bytes: SHA-256 of the
 *     root's DER SubjectPublicKeyInfo) || the token's SO PIN) -> no output
 *     bytes: DEP11_RegisterRoot with DEP11_ROOT_REGISTER (12) or
 *     DEP11_ROOT_UNREGISTER (13) on the session's token (a session not
 *     logged in: dep11 logs the SO in on a session of its own, so a user
 *     login of this process gets CKR_USER_ANOTHER_ALREADY_LOGGED_IN and a
 *     read-only session CKR_SESSION_READ_ONLY_EXISTS). Data shorter than 32
 *     bytes is CKR_DATA_LEN_RANGE; a NULL output is a size query and does
 *     nothing. Only under the profile's "root-registration = so-login". */
#define CKM_DEP11_ROOT_REGISTER DEP11_CKM(12)
#define CKM_DEP11_ROOT_UNREGISTER DEP11_CKM(13)

/* DEP11_RegisterRoot actions */
#define DEP11_ROOT_REGISTER 1UL
#define DEP11_ROOT_UNREGISTER 2UL
#define DEP11_ROOT_ID_LEN 32

/* Attributes */
#define CKA_DEP11_ROLE           DEP11_CKA(1)
#define CKA_DEP11_POLICY_TYPE    DEP11_CKA(2)
#define CKA_DEP11_POLICY_ID      DEP11_CKA(3)
#define CKA_DEP11_TENANT         DEP11_CKA(4)
#define CKA_DEP11_GEO            DEP11_CKA(5)
#define CKA_DEP11_OWNER          DEP11_CKA(6)
#define CKA_DEP11_UNWRAPPED_BY   DEP11_CKA(7)
#define CKA_DEP11_POLICY_VERSION DEP11_CKA(8)
#define CKA_DEP11_MANAGED_BY     DEP11_CKA(9)

/*
 * The vendor functions through objects (issue 14; docs/ARCHITECTURE.md
 * "Vendor functions through request objects"), for consumers that carry
 * no dep11 mechanism (p11-kit 0.24's remoting: p11-kit server with
 * p11-kit-client.so) but carry C_CreateObject, C_GetAttributeValue and
 * C_DestroyObject with attributes of unknown types as byte arrays.
 * C_CreateObject with CKA_CLASS = CKO_DEP11_REQUEST performs the operation
 * CKA_DEP11_REQUEST_OP names (a route mechanism above: the same checks,
 * audit and codes as its vendor function; a refusal creates nothing and is
 * C_CreateObject's code) and returns a request object:
 *  CKA_DEP11_REQUEST_OP     CK_MECHANISM_TYPE, required: CKM_DEP11_POLICY_INFO,
 *                           CKM_DEP11_POLICY_PURGE, CKM_DEP11_FLUSH_CACHE, or
 *                           DEP11_REQUEST_LIST (the output: the CK_MECHANISM_TYPE
 *                           array of the operations this route serves)
 *  CKA_DEP11_REQUEST_INPUT  bytes, optional (none = no data): the data the
 *                           route mechanism takes (blob; policy id or none)
 *  CKA_DEP11_REQUEST_FLAGS  CK_ULONG, optional: DEP11_REQUEST_SIZE_QUERY runs
 *                           the size query only (NULL output: nothing
 *                           purged or flushed; CKA_VALUE_LEN = the answer)
 *  CKA_DEP11_REQUEST_OUTPUT bytes, read only: the output (CK_DEP11_POLICY_INFO,
 *                           the signed receipt, nothing for a flush)
 *  CKA_VALUE_LEN            its length (or the size query's answer); in a
 *                           template, optional: the most output the consumer
 *                           takes (the vendor function's *pulLen): an output
 *                           that does not fit is CKR_BUFFER_TOO_SMALL, with
 *                           nothing done (no purge; the size query gives the
 *                           size)
 * A policy info request also has its output's fields as the attributes of
 * a policy key: CKA_DEP11_POLICY_ID, CKA_DEP11_TENANT, CKA_DEP11_POLICY_TYPE,
 * CKA_DEP11_POLICY_VERSION, CKA_DEP11_MANAGED_BY, CKA_LABEL and
 * CKA_DEP11_GEO (these two without the blank padding);
 * plus CKA_TOKEN, CKA_PRIVATE, CKA_MODIFIABLE, CKA_COPYABLE (CK_FALSE) and
 * CKA_DESTROYABLE (CK_TRUE); a template may repeat these values, another
 * value is CKR_ATTRIBUTE_VALUE_INVALID (CKA_TOKEN = CK_TRUE included), any
 * other attribute CKR_ATTRIBUTE_TYPE_INVALID, the output
 * CKR_ATTRIBUTE_READ_ONLY, a missing op CKR_TEMPLATE_INCOMPLETE, a repeated
 * attribute with another value CKR_TEMPLATE_INCONSISTENT, an unknown op
 * CKR_ATTRIBUTE_VALUE_INVALID. A request is a session object of the token
 * of the session that made it, never a key (every key operation refuses
 * its handle), not listed by C_FindObjects, read only (C_SetAttributeValue,
 * C_CopyObject: CKR_ACTION_PROHIBITED); it goes with C_DestroyObject, its
 * session's close or C_Finalize.
 */
#define CKO_DEP11_REQUEST DEP11_CKO(1)
#define CKA_DEP11_REQUEST_OP DEP11_CKA(10)
#define CKA_DEP11_REQUEST_INPUT DEP11_CKA(11)
#define CKA_DEP11_REQUEST_OUTPUT DEP11_CKA(12)
#define CKA_DEP11_REQUEST_FLAGS DEP11_CKA(13)
#define DEP11_REQUEST_LIST 0UL       /* CKA_DEP11_REQUEST_OP: list the route */
#define DEP11_REQUEST_SIZE_QUERY 1UL /* CKA_DEP11_REQUEST_FLAGS */

/* CKA_DEP11_ROOT_REGISTERED (CK_ULONG, read only): asked through dep11 of a
 * customer token's RSA private or public key (or registered twin), whether it
 * is a registered root and by which route (the profile's
 * "root-registration"): DEP11_ROOT_REG_NONE, _TWIN (a CKA_TRUSTED public
 * twin the SO made), _SO_LOGIN (a record dep11 wrote after the SO's login
 * through DEP11_RegisterRoot). Any other object: DEP11_ROOT_REG_NONE. */
#define CKA_DEP11_ROOT_REGISTERED DEP11_CKA(14)
#define DEP11_ROOT_REG_NONE 0UL
#define DEP11_ROOT_REG_TWIN 1UL
#define DEP11_ROOT_REG_SO_LOGIN 2UL

/* Return codes */
#define CKR_DEP11_ROOT_KEYS_REVOKED     DEP11_CKR(1)
#define CKR_DEP11_ROOT_KEYS_UNAVAILABLE DEP11_CKR(2)
#define CKR_DEP11_POLICY_PURGED         DEP11_CKR(3)
#define CKR_DEP11_POLICY_LIMIT          DEP11_CKR(4)
#define CKR_DEP11_TENANT_MISMATCH       DEP11_CKR(5)
#define CKR_DEP11_BLOB_SUPERSEDED       DEP11_CKR(6)

/* CKA_DEP11_ROLE values */
#define DEP11_ROLE_POLICY   1UL
#define DEP11_ROLE_MAILBOX  2UL
#define DEP11_ROLE_WORKLOAD 3UL
#define DEP11_ROLE_SITE     4UL
#define DEP11_ROLE_CHUNK    5UL

/* CKA_DEP11_POLICY_TYPE values */
#define DEP11_POLICY_MAILBOX        1UL
#define DEP11_POLICY_MULTI_WORKLOAD 2UL
#define DEP11_POLICY_FILES          3UL

/* CKA_DEP11_UNWRAPPED_BY values */
#define DEP11_ROOT_CUSTOMER_1    1UL
#define DEP11_ROOT_CUSTOMER_2    2UL
#define DEP11_ROOT_AVAILABILITY  3UL
#define DEP11_ROOT_PROVIDER      4UL

/* CKA_DEP11_MANAGED_BY values */
#define DEP11_MANAGED_PROVIDER 1UL
#define DEP11_MANAGED_CUSTOMER 2UL

/* CK_DEP11_POLICY_WRAP_PARAMS.flags */
#define DEP11_WRAP_ROLL_AVAILABILITY 1UL

/* CK_DEP11_POLICY_UNWRAP_PARAMS.ulRequester */
#define DEP11_REQUESTER_USER     1UL
#define DEP11_REQUESTER_SYSTEM   2UL
#define DEP11_REQUESTER_RECOVERY 3UL

/* Sizes */
#define DEP11_ID_LEN        16 /* policy id, tenant id, owner id, file id */
#define DEP11_KEY_LEN       32 /* every module-side key is AES-256 */
#define DEP11_NONCE_LEN     12
#define DEP11_TAG_LEN       16
#define DEP11_AEAD_OVERHEAD (DEP11_NONCE_LEN + DEP11_TAG_LEN)
#define DEP11_GEO_MAX       16
#define DEP11_LABEL_MAX     64
#define DEP11_AAD_MAX       (64UL * 1024) /* caller AAD of CKM_DEP11_AEAD, CHUNK_AEAD */
/* The most a multi-part CKM_DEP11_AEAD / CKM_DEP11_CHUNK_AEAD decrypt
 * buffers (plaintext bytes; the tag is checked before any is released). */
#define DEP11_MULTIPART_MAX (64UL * 1024 * 1024)

typedef struct CK_DEP11_POLICY_WRAP_PARAMS {
    CK_OBJECT_HANDLE hSecondRootKey;
    CK_FLAGS flags;
} CK_DEP11_POLICY_WRAP_PARAMS;

typedef struct CK_DEP11_POLICY_UNWRAP_PARAMS {
    CK_ULONG ulRequester;
} CK_DEP11_POLICY_UNWRAP_PARAMS;

typedef struct CK_DEP11_CHILD_PARAMS {
    CK_BYTE ownerId[16];
} CK_DEP11_CHILD_PARAMS;

typedef struct CK_DEP11_CHUNK_PARAMS {
    CK_BYTE fileId[16];
    CK_ULONG ulChunkIndex;
} CK_DEP11_CHUNK_PARAMS;

typedef struct CK_DEP11_AEAD_PARAMS {
    CK_BYTE_PTR pAAD;
    CK_ULONG ulAADLen;
} CK_DEP11_AEAD_PARAMS;

/*
 * The flat parameter forms (issue 14): no pointer, so that bindings which
 * pass a mechanism parameter as raw bytes (PyKCS11, Go, Java) can give AAD.
 * The header is followed directly by ulAADLen AAD bytes, and ulParameterLen
 * must be exactly sizeof(header) + ulAADLen. The module tells the forms
 * apart by the length: exactly sizeof(CK_DEP11_AEAD_PARAMS) (resp.
 * sizeof(CK_DEP11_CHUNK_PARAMS)) is the pointer (resp. classic) form, any
 * other length is the flat form, whose ulVersion must be
 * DEP11_AEAD_FLAT_VERSION and ulFlags 0. AAD above DEP11_AAD_MAX, a short
 * or long parameter, a wrong version or flags are CKR_MECHANISM_PARAM_INVALID.
 * For CKM_DEP11_CHUNK_AEAD the caller's AAD follows the chunk AAD (file id
 * and index, which stay bound); without it the output is the classic one.
 * Layout (CK_ULONG in the platform's size and byte order, as every
 * PKCS#11 structure): see docs/FORMATS.md "Flat AEAD parameters".
 */
#define DEP11_AEAD_FLAT_VERSION 1UL

typedef struct CK_DEP11_AEAD_FLAT_PARAMS {
    CK_ULONG ulVersion;   /* DEP11_AEAD_FLAT_VERSION */
    CK_ULONG ulFlags;     /* 0 */
    CK_ULONG ulAADLen;    /* the AAD bytes that follow this header */
} CK_DEP11_AEAD_FLAT_PARAMS;

typedef struct CK_DEP11_CHUNK_FLAT_PARAMS {
    CK_BYTE fileId[16];
    CK_ULONG ulChunkIndex;
    CK_ULONG ulVersion;   /* DEP11_AEAD_FLAT_VERSION */
    CK_ULONG ulFlags;     /* 0 */
    CK_ULONG ulAADLen;    /* the AAD bytes that follow this header */
} CK_DEP11_CHUNK_FLAT_PARAMS;

typedef struct CK_DEP11_POLICY_INFO {
    CK_BYTE policyId[16];
    CK_ULONG ulPolicyType;    /* DEP11_POLICY_* */
    CK_BYTE tenantId[16];
    CK_ULONG ulVersion;       /* CKA_DEP11_POLICY_VERSION of the blob */
    CK_ULONG ulManagedBy;     /* DEP11_MANAGED_* */
    CK_ULONG ulSuite;         /* 1 */
    CK_ULONG ulWrappedCopies; /* 3 for two roots + availability key */
    CK_UTF8CHAR label[64];    /* blank padded, like CK_TOKEN_INFO */
    CK_UTF8CHAR geo[16];      /* blank padded */
} CK_DEP11_POLICY_INFO;

typedef struct CK_DEP11_FUNCTION_LIST {
    CK_VERSION version; /* 1.1 (1.0 ends after DEP11_FlushCache) */
    CK_RV (*DEP11_GetPolicyInfo)(CK_BYTE_PTR pBlob, CK_ULONG ulBlobLen,
                                 CK_DEP11_POLICY_INFO *pInfo);
    CK_RV (*DEP11_PurgePolicy)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pBlob,
                               CK_ULONG ulBlobLen, CK_BYTE_PTR pReceipt,
                               CK_ULONG_PTR pulReceiptLen);
    CK_RV (*DEP11_FlushCache)(CK_BYTE_PTR pPolicyId);
    /* 1.1: root registration by the token's SO (profile "root-registration =
     * so-login"; docs/SECURITY.md): hSession is a session on the customer
     * token (not logged in, read-write); ulAction DEP11_ROOT_REGISTER or
     * DEP11_ROOT_UNREGISTER; pRootId the root's identity
     * (DEP11_ROOT_ID_LEN bytes); pSoPin the token's SO PIN, which dep11
     * passes to C_Login(CKU_SO) on a session of its own and forgets. */
    CK_RV(*DEP11_RegisterRoot)
    (CK_SESSION_HANDLE hSession, CK_ULONG ulAction, CK_BYTE_PTR pRootId, CK_ULONG ulRootIdLen,
     CK_UTF8CHAR_PTR pSoPin, CK_ULONG ulSoPinLen);
} CK_DEP11_FUNCTION_LIST;

typedef CK_DEP11_FUNCTION_LIST *CK_DEP11_FUNCTION_LIST_PTR;
typedef CK_DEP11_FUNCTION_LIST_PTR *CK_DEP11_FUNCTION_LIST_PTR_PTR;

#define DEP11_INTERFACE_NAME "Vendor dep11"

/*
 * PKCS#11 3.0 names that p11-kit's v2.40 header lacks (DESIGN section 8).
 */
#ifndef CKF_INTERFACE_FORK_SAFE
typedef struct CK_INTERFACE {
    CK_CHAR *pInterfaceName;
    CK_VOID_PTR pFunctionList;
    CK_FLAGS flags;
} CK_INTERFACE;
typedef CK_INTERFACE *CK_INTERFACE_PTR;
typedef CK_INTERFACE_PTR *CK_INTERFACE_PTR_PTR;
#define CKF_INTERFACE_FORK_SAFE 0x00000001UL
#endif

/*
 * The PKCS#11 3.0 function list and the names of its new functions
 * (libdep11(3)). The layout is the standard's: the 2.40 list, then the
 * 3.0 functions in the standard's order.
 */
#ifndef CKF_END_OF_MESSAGE
#define CKF_END_OF_MESSAGE 0x00000001UL
#endif
#ifndef CKF_MESSAGE_ENCRYPT
#define CKF_MESSAGE_ENCRYPT 0x00000002UL
#define CKF_MESSAGE_DECRYPT 0x00000004UL
#define CKF_MESSAGE_SIGN 0x00000008UL
#define CKF_MESSAGE_VERIFY 0x00000010UL
#define CKF_MULTI_MESSAGE 0x00000020UL
#define CKF_FIND_OBJECTS 0x00000040UL
#endif
#ifndef CKR_OPERATION_CANCEL_FAILED
#define CKR_OPERATION_CANCEL_FAILED 0x00000202UL
#endif

#ifndef CK_FUNCTION_LIST_3_0_DEFINED
#define CK_FUNCTION_LIST_3_0_DEFINED 1
typedef CK_RV (*CK_C_GetInterfaceList)(CK_INTERFACE_PTR, CK_ULONG_PTR);
typedef CK_RV (*CK_C_GetInterface)(CK_UTF8CHAR_PTR, CK_VERSION_PTR, CK_INTERFACE_PTR_PTR,
                                   CK_FLAGS);
typedef CK_RV (*CK_C_LoginUser)(CK_SESSION_HANDLE, CK_USER_TYPE, CK_UTF8CHAR_PTR, CK_ULONG,
                                CK_UTF8CHAR_PTR, CK_ULONG);
typedef CK_RV (*CK_C_SessionCancel)(CK_SESSION_HANDLE, CK_FLAGS);
typedef CK_RV (*CK_C_MessageInit)(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE);
typedef CK_RV (*CK_C_CryptMessage)(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR,
                                   CK_ULONG, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR);
typedef CK_RV (*CK_C_CryptMessageBegin)(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR,
                                        CK_ULONG);
typedef CK_RV (*CK_C_CryptMessageNext)(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR,
                                       CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR, CK_FLAGS);
typedef CK_RV (*CK_C_MessageFinal)(CK_SESSION_HANDLE);
typedef CK_RV (*CK_C_SignMessage)(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR,
                                  CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR);
typedef CK_RV (*CK_C_SignMessageBegin)(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG);
typedef CK_RV (*CK_C_VerifyMessage)(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR,
                                    CK_ULONG, CK_BYTE_PTR, CK_ULONG);

typedef struct CK_FUNCTION_LIST_3_0 {
    CK_VERSION version; /* 3.0 */
    CK_C_Initialize C_Initialize;
    CK_C_Finalize C_Finalize;
    CK_C_GetInfo C_GetInfo;
    CK_C_GetFunctionList C_GetFunctionList;
    CK_C_GetSlotList C_GetSlotList;
    CK_C_GetSlotInfo C_GetSlotInfo;
    CK_C_GetTokenInfo C_GetTokenInfo;
    CK_C_GetMechanismList C_GetMechanismList;
    CK_C_GetMechanismInfo C_GetMechanismInfo;
    CK_C_InitToken C_InitToken;
    CK_C_InitPIN C_InitPIN;
    CK_C_SetPIN C_SetPIN;
    CK_C_OpenSession C_OpenSession;
    CK_C_CloseSession C_CloseSession;
    CK_C_CloseAllSessions C_CloseAllSessions;
    CK_C_GetSessionInfo C_GetSessionInfo;
    CK_C_GetOperationState C_GetOperationState;
    CK_C_SetOperationState C_SetOperationState;
    CK_C_Login C_Login;
    CK_C_Logout C_Logout;
    CK_C_CreateObject C_CreateObject;
    CK_C_CopyObject C_CopyObject;
    CK_C_DestroyObject C_DestroyObject;
    CK_C_GetObjectSize C_GetObjectSize;
    CK_C_GetAttributeValue C_GetAttributeValue;
    CK_C_SetAttributeValue C_SetAttributeValue;
    CK_C_FindObjectsInit C_FindObjectsInit;
    CK_C_FindObjects C_FindObjects;
    CK_C_FindObjectsFinal C_FindObjectsFinal;
    CK_C_EncryptInit C_EncryptInit;
    CK_C_Encrypt C_Encrypt;
    CK_C_EncryptUpdate C_EncryptUpdate;
    CK_C_EncryptFinal C_EncryptFinal;
    CK_C_DecryptInit C_DecryptInit;
    CK_C_Decrypt C_Decrypt;
    CK_C_DecryptUpdate C_DecryptUpdate;
    CK_C_DecryptFinal C_DecryptFinal;
    CK_C_DigestInit C_DigestInit;
    CK_C_Digest C_Digest;
    CK_C_DigestUpdate C_DigestUpdate;
    CK_C_DigestKey C_DigestKey;
    CK_C_DigestFinal C_DigestFinal;
    CK_C_SignInit C_SignInit;
    CK_C_Sign C_Sign;
    CK_C_SignUpdate C_SignUpdate;
    CK_C_SignFinal C_SignFinal;
    CK_C_SignRecoverInit C_SignRecoverInit;
    CK_C_SignRecover C_SignRecover;
    CK_C_VerifyInit C_VerifyInit;
    CK_C_Verify C_Verify;
    CK_C_VerifyUpdate C_VerifyUpdate;
    CK_C_VerifyFinal C_VerifyFinal;
    CK_C_VerifyRecoverInit C_VerifyRecoverInit;
    CK_C_VerifyRecover C_VerifyRecover;
    CK_C_DigestEncryptUpdate C_DigestEncryptUpdate;
    CK_C_DecryptDigestUpdate C_DecryptDigestUpdate;
    CK_C_SignEncryptUpdate C_SignEncryptUpdate;
    CK_C_DecryptVerifyUpdate C_DecryptVerifyUpdate;
    CK_C_GenerateKey C_GenerateKey;
    CK_C_GenerateKeyPair C_GenerateKeyPair;
    CK_C_WrapKey C_WrapKey;
    CK_C_UnwrapKey C_UnwrapKey;
    CK_C_DeriveKey C_DeriveKey;
    CK_C_SeedRandom C_SeedRandom;
    CK_C_GenerateRandom C_GenerateRandom;
    CK_C_GetFunctionStatus C_GetFunctionStatus;
    CK_C_CancelFunction C_CancelFunction;
    CK_C_WaitForSlotEvent C_WaitForSlotEvent;
    /* 3.0 */
    CK_C_GetInterfaceList C_GetInterfaceList;
    CK_C_GetInterface C_GetInterface;
    CK_C_LoginUser C_LoginUser;
    CK_C_SessionCancel C_SessionCancel;
    CK_C_MessageInit C_MessageEncryptInit;
    CK_C_CryptMessage C_EncryptMessage;
    CK_C_CryptMessageBegin C_EncryptMessageBegin;
    CK_C_CryptMessageNext C_EncryptMessageNext;
    CK_C_MessageFinal C_MessageEncryptFinal;
    CK_C_MessageInit C_MessageDecryptInit;
    CK_C_CryptMessage C_DecryptMessage;
    CK_C_CryptMessageBegin C_DecryptMessageBegin;
    CK_C_CryptMessageNext C_DecryptMessageNext;
    CK_C_MessageFinal C_MessageDecryptFinal;
    CK_C_MessageInit C_MessageSignInit;
    CK_C_SignMessage C_SignMessage;
    CK_C_SignMessageBegin C_SignMessageBegin;
    CK_C_SignMessage C_SignMessageNext;
    CK_C_MessageFinal C_MessageSignFinal;
    CK_C_MessageInit C_MessageVerifyInit;
    CK_C_VerifyMessage C_VerifyMessage;
    CK_C_SignMessageBegin C_VerifyMessageBegin;
    CK_C_VerifyMessage C_VerifyMessageNext;
    CK_C_MessageFinal C_MessageVerifyFinal;
} CK_FUNCTION_LIST_3_0;
typedef CK_FUNCTION_LIST_3_0 *CK_FUNCTION_LIST_3_0_PTR;
typedef CK_FUNCTION_LIST_3_0_PTR *CK_FUNCTION_LIST_3_0_PTR_PTR;
#endif

/*
 * Message-based encryption (PKCS#11 3.0, C_MessageEncryptInit ...
 * C_MessageDecryptFinal) serves CKM_DEP11_AEAD and CKM_DEP11_CHUNK_AEAD on
 * module-side keys; docs/FORMATS.md "Message-based encryption". The Init
 * mechanism has no parameter. Each message's ciphertext is the dep11 output
 * form nonce(12) || ciphertext || tag(16), the same bytes C_Encrypt gives,
 * so a message sealed one way opens the other way:
 *  - CKM_DEP11_AEAD (one message per mailbox item): per-message parameter
 *    none (NULL, 0); pAssociatedData is the AAD, as CK_DEP11_AEAD_PARAMS
 *    gives it to C_Encrypt; the module generates the nonce.
 *  - CKM_DEP11_CHUNK_AEAD (one message per chunk under one site key):
 *    per-message parameter CK_DEP11_CHUNK_PARAMS; pAssociatedData, if any,
 *    follows the chunk AAD as in the flat form CK_DEP11_CHUNK_FLAT_PARAMS.
 * A parameter of another length is CKR_MECHANISM_PARAM_INVALID; more than
 * DEP11_AAD_MAX AAD bytes are CKR_DATA_LEN_RANGE.
 */

CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount);
CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
                     CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags);
CK_RV DEP11_GetFunctionList(CK_DEP11_FUNCTION_LIST_PTR_PTR ppFunctionList);

#ifdef __cplusplus
}
#endif

#endif /* DEP11_H */
