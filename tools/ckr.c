/*
 * ckr.c - names and plain-words meanings of PKCS#11 return codes, so that
 * every failure the tool reports names its CKR_ code and what it means for
 * a dep11 administrator.
 */
#include <stdio.h>

#include "tool.h"

#define N(x) { x, #x }

static const struct {
    CK_RV rv;
    const char *name;
} names[] = {
    N(CKR_OK),
    N(CKR_CANCEL),
    N(CKR_HOST_MEMORY),
    N(CKR_SLOT_ID_INVALID),
    N(CKR_GENERAL_ERROR),
    N(CKR_FUNCTION_FAILED),
    N(CKR_ARGUMENTS_BAD),
    N(CKR_NO_EVENT),
    N(CKR_NEED_TO_CREATE_THREADS),
    N(CKR_CANT_LOCK),
    N(CKR_ATTRIBUTE_READ_ONLY),
    N(CKR_ATTRIBUTE_SENSITIVE),
    N(CKR_ATTRIBUTE_TYPE_INVALID),
    N(CKR_ATTRIBUTE_VALUE_INVALID),
    N(CKR_ACTION_PROHIBITED),
    N(CKR_DATA_INVALID),
    N(CKR_DATA_LEN_RANGE),
    N(CKR_DEVICE_ERROR),
    N(CKR_DEVICE_MEMORY),
    N(CKR_DEVICE_REMOVED),
    N(CKR_ENCRYPTED_DATA_INVALID),
    N(CKR_ENCRYPTED_DATA_LEN_RANGE),
    N(CKR_FUNCTION_CANCELED),
    N(CKR_FUNCTION_NOT_PARALLEL),
    N(CKR_FUNCTION_NOT_SUPPORTED),
    N(CKR_KEY_HANDLE_INVALID),
    N(CKR_KEY_SIZE_RANGE),
    N(CKR_KEY_TYPE_INCONSISTENT),
    N(CKR_KEY_NOT_NEEDED),
    N(CKR_KEY_CHANGED),
    N(CKR_KEY_NEEDED),
    N(CKR_KEY_INDIGESTIBLE),
    N(CKR_KEY_FUNCTION_NOT_PERMITTED),
    N(CKR_KEY_NOT_WRAPPABLE),
    N(CKR_KEY_UNEXTRACTABLE),
    N(CKR_MECHANISM_INVALID),
    N(CKR_MECHANISM_PARAM_INVALID),
    N(CKR_OBJECT_HANDLE_INVALID),
    N(CKR_OPERATION_ACTIVE),
    N(CKR_OPERATION_NOT_INITIALIZED),
    N(CKR_PIN_INCORRECT),
    N(CKR_PIN_INVALID),
    N(CKR_PIN_LEN_RANGE),
    N(CKR_PIN_EXPIRED),
    N(CKR_PIN_LOCKED),
    N(CKR_SESSION_CLOSED),
    N(CKR_SESSION_COUNT),
    N(CKR_SESSION_HANDLE_INVALID),
    N(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
    N(CKR_SESSION_READ_ONLY),
    N(CKR_SESSION_EXISTS),
    N(CKR_SESSION_READ_ONLY_EXISTS),
    N(CKR_SESSION_READ_WRITE_SO_EXISTS),
    N(CKR_SIGNATURE_INVALID),
    N(CKR_SIGNATURE_LEN_RANGE),
    N(CKR_TEMPLATE_INCOMPLETE),
    N(CKR_TEMPLATE_INCONSISTENT),
    N(CKR_TOKEN_NOT_PRESENT),
    N(CKR_TOKEN_NOT_RECOGNIZED),
    N(CKR_TOKEN_WRITE_PROTECTED),
    N(CKR_UNWRAPPING_KEY_SIZE_RANGE),
    N(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT),
    N(CKR_USER_ALREADY_LOGGED_IN),
    N(CKR_USER_NOT_LOGGED_IN),
    N(CKR_USER_PIN_NOT_INITIALIZED),
    N(CKR_USER_TYPE_INVALID),
    N(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
    N(CKR_USER_TOO_MANY_TYPES),
    N(CKR_WRAPPED_KEY_INVALID),
    N(CKR_WRAPPED_KEY_LEN_RANGE),
    N(CKR_WRAPPING_KEY_HANDLE_INVALID),
    N(CKR_WRAPPING_KEY_SIZE_RANGE),
    N(CKR_WRAPPING_KEY_TYPE_INCONSISTENT),
    N(CKR_RANDOM_SEED_NOT_SUPPORTED),
    N(CKR_RANDOM_NO_RNG),
    N(CKR_DOMAIN_PARAMS_INVALID),
    N(CKR_CURVE_NOT_SUPPORTED),
    N(CKR_BUFFER_TOO_SMALL),
    N(CKR_SAVED_STATE_INVALID),
    N(CKR_INFORMATION_SENSITIVE),
    N(CKR_STATE_UNSAVEABLE),
    N(CKR_CRYPTOKI_NOT_INITIALIZED),
    N(CKR_CRYPTOKI_ALREADY_INITIALIZED),
    N(CKR_MUTEX_BAD),
    N(CKR_MUTEX_NOT_LOCKED),
    N(CKR_NEW_PIN_MODE),
    N(CKR_NEXT_OTP),
    N(CKR_EXCEEDED_MAX_ITERATIONS),
    N(CKR_FIPS_SELF_TEST_FAILED),
    N(CKR_LIBRARY_LOAD_FAILED),
    N(CKR_PIN_TOO_WEAK),
    N(CKR_PUBLIC_KEY_INVALID),
    N(CKR_FUNCTION_REJECTED),
    N(CKR_DEP11_ROOT_KEYS_REVOKED),
    N(CKR_DEP11_ROOT_KEYS_UNAVAILABLE),
    N(CKR_DEP11_POLICY_PURGED),
    N(CKR_DEP11_POLICY_LIMIT),
    N(CKR_DEP11_TENANT_MISMATCH),
    N(CKR_DEP11_BLOB_SUPERSEDED),
};

static const struct {
    CK_RV rv;
    const char *text;
} meanings[] = {
    { CKR_DEP11_ROOT_KEYS_REVOKED,
      "both customer keys are revoked and this requester may not use the "
      "availability key" },
    { CKR_DEP11_ROOT_KEYS_UNAVAILABLE,
      "the customer keys cannot be used right now and the availability key "
      "may not serve this request; retry later" },
    { CKR_DEP11_POLICY_PURGED,
      "the policy was purged: its availability key is destroyed and its data "
      "is cryptographically deleted" },
    { CKR_DEP11_POLICY_LIMIT, "a policy limit of the tenant was reached" },
    { CKR_DEP11_TENANT_MISMATCH,
      "the policy belongs to another tenant token than this session's" },
    { CKR_DEP11_BLOB_SUPERSEDED,
      "a newer blob of this policy has been committed: use the newest blob" },
    { CKR_PIN_INCORRECT, "the PIN is wrong" },
    { CKR_PIN_LOCKED, "the PIN is locked after too many wrong tries" },
    { CKR_PIN_LEN_RANGE, "the PIN has a length the token does not accept" },
    { CKR_USER_PIN_NOT_INITIALIZED, "the token's user PIN was never set" },
    { CKR_USER_NOT_LOGGED_IN,
      "the session is not logged in (dep11 mechanisms need a user login)" },
    { CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
      "another user type is already logged in to this token in this process" },
    { CKR_USER_TYPE_INVALID, "the token does not know this user type" },
    { CKR_ATTRIBUTE_READ_ONLY,
      "the token refused an attribute; a trusted (registered) key can only be "
      "created by the security officer" },
    { CKR_ATTRIBUTE_VALUE_INVALID, "an attribute value was refused" },
    { CKR_ATTRIBUTE_TYPE_INVALID, "the module does not know an attribute" },
    { CKR_TEMPLATE_INCONSISTENT,
      "the key template contradicts dep11's rules (a module-side key cannot be "
      "a token object, extractable or non-sensitive)" },
    { CKR_TEMPLATE_INCOMPLETE, "the key template lacks a required attribute" },
    { CKR_KEY_FUNCTION_NOT_PERMITTED,
      "the key may not be used this way (an unregistered or unfit root, or a "
      "key of another role)" },
    { CKR_KEY_HANDLE_INVALID, "the key is gone from the token" },
    { CKR_OBJECT_HANDLE_INVALID, "the object is gone from the token" },
    { CKR_KEY_TYPE_INCONSISTENT, "the key has the wrong type for this use" },
    { CKR_WRAPPED_KEY_INVALID,
      "the blob is damaged, altered, not a dep11 blob, or bound to another "
      "policy, owner or role" },
    { CKR_WRAPPED_KEY_LEN_RANGE, "the blob has an impossible length" },
    { CKR_ENCRYPTED_DATA_INVALID,
      "the sealed data is damaged or altered, or was sealed for another owner "
      "or key" },
    { CKR_ENCRYPTED_DATA_LEN_RANGE,
      "the sealed data is too short to be dep11 output" },
    { CKR_MECHANISM_INVALID,
      "the module does not offer this mechanism (is --module libdep11.so?)" },
    { CKR_MECHANISM_PARAM_INVALID,
      "a mechanism parameter was refused (a SYSTEM or RECOVERY requester needs "
      "system-requests / recovery-requests = allow in this process's config; "
      "two roots must be different keys)" },
    { CKR_FUNCTION_REJECTED, "the module refused the request" },
    { CKR_SLOT_ID_INVALID, "no such slot" },
    { CKR_TOKEN_NOT_PRESENT, "the token is not present" },
    { CKR_TOKEN_WRITE_PROTECTED, "the token is write-protected" },
    { CKR_SESSION_READ_ONLY, "the session is read-only" },
    { CKR_DEVICE_ERROR, "the HSM reported a device error" },
    { CKR_DEVICE_MEMORY, "the HSM ran out of memory" },
    { CKR_HOST_MEMORY, "out of memory" },
    { CKR_ARGUMENTS_BAD, "the module refused the call's arguments" },
    { CKR_FUNCTION_FAILED,
      "the module failed (a bad dep11 config fails C_Initialize with this; "
      "set DEP11_DEBUG=2 for the reason)" },
    { CKR_GENERAL_ERROR, "the module or the HSM failed" },
    { CKR_CRYPTOKI_NOT_INITIALIZED, "the module is not initialized" },
    { CKR_DATA_LEN_RANGE, "the input has a length the mechanism refuses" },
    { CKR_FUNCTION_NOT_SUPPORTED, "the module does not support this call" },
};

/*
 * Symbolic name of @rv. Returns a static string, or for an unknown code a
 * "CKR_0x..." string in a static per-thread buffer.
 */
const char *tool_ckr_name(CK_RV rv)
{
    static __thread char buf[32];
    size_t i = 0;

    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (names[i].rv == rv)
            return names[i].name;
    }
    snprintf(buf, sizeof buf, "CKR_0x%lx", (unsigned long)rv);
    return buf;
}

/*
 * One line saying what @rv means for an administrator, or NULL when the
 * name says it all.
 */
const char *tool_ckr_explain(CK_RV rv)
{
    size_t i = 0;

    for (i = 0; i < sizeof meanings / sizeof meanings[0]; i++) {
        if (meanings[i].rv == rv)
            return meanings[i].text;
    }
    return NULL;
}
