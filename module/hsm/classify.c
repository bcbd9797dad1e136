/*
 * classify.c - DESIGN section 5's one table: what a backend's answer to a
 * root-key operation means for the availability policy (denied / abort /
 * transient / invalid copy). Session loss is retried before it gets here.
 */
#include "hsm/classify.h"
#include "util/log.h"

_Static_assert(DEP11_OVERRIDE_DENIED == DEP11_FAULT_DENIED &&
               DEP11_OVERRIDE_TRANSIENT == DEP11_FAULT_TRANSIENT &&
               DEP11_OVERRIDE_INVALID == DEP11_FAULT_INVALID,
               "util/fault_codes.h and enum dep11_fault disagree");

/* The profile's changes to the table (written at initialization only). */
static struct dep11_fault_override overrides[DEP11_FAULT_OVERRIDE_MAX];
static unsigned n_overrides;

/** See classify.h. Entries the profile rules refuse (the parser never
 * makes one: dep11_fault_code_check) are dropped. */
void dep11_hsm_classify_set(const struct dep11_fault_override *o, unsigned n)
{
    n_overrides = 0;
    for (unsigned i = 0; o != NULL && i < n && i < DEP11_FAULT_OVERRIDE_MAX; i++)
        if (dep11_fault_code_check(o[i].rv, o[i].fault) == NULL)
            overrides[n_overrides++] = o[i];
}

/**
 * Classifies @rv. CKR_OK is NONE; a code the profile moved goes to its
 * class; codes outside the table are DENIED with a LOG_WARN line naming the
 * code (an unknown answer must never open the transient fallback path by
 * accident).
 */
enum dep11_fault dep11_hsm_classify(CK_RV rv)
{
    for (unsigned i = 0; i < n_overrides; i++)
        if (overrides[i].rv == rv)
            return (enum dep11_fault)overrides[i].fault;
    switch (rv) {
    case CKR_OK:
        return DEP11_FAULT_NONE;
    /* The key is gone from the logged-in token, or may not decrypt. */
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_KEY_HANDLE_INVALID:
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
    case CKR_KEY_TYPE_INCONSISTENT:
        return DEP11_FAULT_DENIED;
    /* Another caller logged the token out: fail as is, no fallback. */
    case CKR_USER_NOT_LOGGED_IN:
        return DEP11_FAULT_ABORT;
    /* Device or session trouble (a lost session here means the one reopen
     * and retries of hsm/retry.c failed as well). */
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_MEMORY:
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_FUNCTION_CANCELED:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
        return DEP11_FAULT_TRANSIENT;
    /* This wrapped copy does not decrypt: SoftHSM answers a tampered OAEP
     * copy or a bad GCM tag with CKR_GENERAL_ERROR (DESIGN section 8). */
    case CKR_GENERAL_ERROR:
    case CKR_ENCRYPTED_DATA_INVALID:
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
    case CKR_WRAPPED_KEY_INVALID:
        return DEP11_FAULT_INVALID;
    default:
        LOG_WARN("backend answered %s: classified as denied", dep11_rv_name(rv));
        return DEP11_FAULT_DENIED;
    }
}

/**
 * The class's name for logs and audit lines: "none", "denied", "abort",
 * "transient", "invalid"; "unknown" for a value outside the enum.
 */
const char *dep11_fault_name(enum dep11_fault f)
{
    switch (f) {
    case DEP11_FAULT_NONE:
        return "none";
    case DEP11_FAULT_DENIED:
        return "denied";
    case DEP11_FAULT_ABORT:
        return "abort";
    case DEP11_FAULT_TRANSIENT:
        return "transient";
    case DEP11_FAULT_INVALID:
        return "invalid";
    }
    return "unknown";
}
