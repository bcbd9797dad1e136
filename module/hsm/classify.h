/*
 * classify.h - the one table (DESIGN section 5) that sorts a backend's
 * answer to a root-key operation into denied / abort / transient / invalid.
 */
#ifndef DEP11_HSM_CLASSIFY_H
#define DEP11_HSM_CLASSIFY_H

#include <p11-kit/pkcs11.h>

enum dep11_fault {
    DEP11_FAULT_NONE = 0,      /* CKR_OK */
    DEP11_FAULT_DENIED = 1,    /* the key is gone or may not decrypt */
    DEP11_FAULT_ABORT = 2,     /* CKR_USER_NOT_LOGGED_IN: fail the call as is */
    DEP11_FAULT_TRANSIENT = 3, /* device/session trouble: may fall back */
    DEP11_FAULT_INVALID = 4,   /* this wrapped copy does not authenticate */
};

/* Classifies @rv. "Anything else" is DENIED with a log line naming the code. */
enum dep11_fault dep11_hsm_classify(CK_RV rv);

/* "none", "denied", "abort", "transient", "invalid". */
const char *dep11_fault_name(enum dep11_fault f);

#endif
