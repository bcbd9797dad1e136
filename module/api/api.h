/*
 * api.h - what entry.c and interface.c share: the traced dispatch helper,
 * the export attribute, and the function lists that both files name.
 */
#ifndef DEP11_API_H
#define DEP11_API_H

#include "dep11.h"
#include "util/log.h"

/* The four symbols the module exports (module/dep11.map); everything else
 * is hidden by -fvisibility=hidden. */
#define DEP11_EXPORT __attribute__((visibility("default")))

/*
 * DEP11_API_FUNCTIONS_2_40(X): the 68 PKCS#11 2.40 functions in
 * CK_FUNCTION_LIST order, X(name) each; both lists (entry.c's 2.40 and
 * interface.c's 3.0, whose first part is the same) expand it with
 * DEP11_API_ENTRY, so they cannot drift apart.
 */
/* clang-format off */
#define DEP11_API_FUNCTIONS_2_40(X) \
    X(C_Initialize) X(C_Finalize) X(C_GetInfo) X(C_GetFunctionList) X(C_GetSlotList) \
    X(C_GetSlotInfo) X(C_GetTokenInfo) X(C_GetMechanismList) X(C_GetMechanismInfo) \
    X(C_InitToken) X(C_InitPIN) X(C_SetPIN) X(C_OpenSession) X(C_CloseSession) \
    X(C_CloseAllSessions) X(C_GetSessionInfo) X(C_GetOperationState) X(C_SetOperationState) \
    X(C_Login) X(C_Logout) X(C_CreateObject) X(C_CopyObject) X(C_DestroyObject) \
    X(C_GetObjectSize) X(C_GetAttributeValue) X(C_SetAttributeValue) X(C_FindObjectsInit) \
    X(C_FindObjects) X(C_FindObjectsFinal) X(C_EncryptInit) X(C_Encrypt) X(C_EncryptUpdate) \
    X(C_EncryptFinal) X(C_DecryptInit) X(C_Decrypt) X(C_DecryptUpdate) X(C_DecryptFinal) \
    X(C_DigestInit) X(C_Digest) X(C_DigestUpdate) X(C_DigestKey) X(C_DigestFinal) X(C_SignInit) \
    X(C_Sign) X(C_SignUpdate) X(C_SignFinal) X(C_SignRecoverInit) X(C_SignRecover) \
    X(C_VerifyInit) X(C_Verify) X(C_VerifyUpdate) X(C_VerifyFinal) X(C_VerifyRecoverInit) \
    X(C_VerifyRecover) X(C_DigestEncryptUpdate) X(C_DecryptDigestUpdate) X(C_SignEncryptUpdate) \
    X(C_DecryptVerifyUpdate) X(C_GenerateKey) X(C_GenerateKeyPair) X(C_WrapKey) X(C_UnwrapKey) \
    X(C_DeriveKey) X(C_SeedRandom) X(C_GenerateRandom) X(C_GetFunctionStatus) \
    X(C_CancelFunction) X(C_WaitForSlotEvent)
/* clang-format on */

/* One designated initialiser: .C_Name = C_Name (pkcs11.h declares them). */
#define DEP11_API_ENTRY(name) .name = name,

/* The "PKCS 11" 2.40 list and the "Vendor dep11" 1.0 list (entry.c). */
extern CK_FUNCTION_LIST dep11_api_list_2_40;
extern CK_DEP11_FUNCTION_LIST dep11_api_list_vendor;

/*
 * Is the debug level on? The log reads DEP11_DEBUG once per process, so the
 * answer is asked once and kept (-1: not asked yet): a call then costs one
 * load, not two log calls and a dep11_rv_name() (about a quarter of dep11's
 * own instructions on a pass-through C_EncryptInit + C_Encrypt).
 */
static inline int dep11_api_tracing(void)
{
    static int trace_state = -1;
    int t = __atomic_load_n(&trace_state, __ATOMIC_RELAXED);

    if (__builtin_expect(t < 0, 0)) {
        t = dep11_log_enabled(DEP11_LOG_DEBUG);
        __atomic_store_n(&trace_state, t, __ATOMIC_RELAXED);
    }
    return t;
}

/*
 * DISPATCH(call): the one dispatch helper STYLE allows to return. Traces
 * "in", evaluates @call (a dep11_core_* function), traces "out: CKR_NAME"
 * at debug level and returns the result. The trace names the C_* function.
 */
#define DISPATCH(call)                                                                         \
    do {                                                                                       \
        CK_RV dispatch_rv_ = CKR_GENERAL_ERROR;                                                \
        int dispatch_trace_ = dep11_api_tracing();                                             \
                                                                                               \
        if (dispatch_trace_)                                                                   \
            LOG_DEBUG("in");                                                                   \
        dispatch_rv_ = (call);                                                                 \
        if (dispatch_trace_)                                                                   \
            LOG_DEBUG("out: %s", dep11_rv_name(dispatch_rv_));                                 \
        return dispatch_rv_;                                                                   \
    } while (0)

#endif
