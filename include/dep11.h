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
    CK_VERSION version; /* 1.0 */
    CK_RV (*DEP11_GetPolicyInfo)(CK_BYTE_PTR pBlob, CK_ULONG ulBlobLen,
                                 CK_DEP11_POLICY_INFO *pInfo);
    CK_RV (*DEP11_PurgePolicy)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pBlob,
                               CK_ULONG ulBlobLen, CK_BYTE_PTR pReceipt,
                               CK_ULONG_PTR pulReceiptLen);
    CK_RV (*DEP11_FlushCache)(CK_BYTE_PTR pPolicyId);
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

CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount);
CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
                     CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags);
CK_RV DEP11_GetFunctionList(CK_DEP11_FUNCTION_LIST_PTR_PTR ppFunctionList);

#ifdef __cplusplus
}
#endif

#endif /* DEP11_H */
