/*
 * classify.h - the one table (DESIGN section 5) that sorts a backend's
 * answer to a root-key operation into denied / abort / transient / invalid.
 */
#ifndef DEP11_HSM_CLASSIFY_H
#define DEP11_HSM_CLASSIFY_H

#include <p11-kit/pkcs11.h>

#include "util/fault_codes.h"

enum dep11_fault {
    DEP11_FAULT_NONE = 0,      /* CKR_OK */
    DEP11_FAULT_DENIED = 1,    /* the key is gone or may not decrypt */
    DEP11_FAULT_ABORT = 2,     /* CKR_USER_NOT_LOGGED_IN: fail the call as is */
    DEP11_FAULT_TRANSIENT = 3, /* device/session trouble: may fall back */
    DEP11_FAULT_INVALID = 4,   /* this wrapped copy does not authenticate */
};

/* Classifies @rv: a code the profile moved (dep11_hsm_classify_set) goes
 * to its class, any other as the table says. "Anything else" is DENIED with
 * a log line naming the code. */
enum dep11_fault dep11_hsm_classify(CK_RV rv);

/* The profile's changes (fault-denied, fault-transient, fault-invalid):
 * @n entries of @o, copied (at most DEP11_FAULT_OVERRIDE_MAX; n = 0: the
 * table as it is). Set while the module initializes, before any call is
 * classified: classifying reads it without a lock. */
void dep11_hsm_classify_set(const struct dep11_fault_override *o, unsigned n);

/* "none", "denied", "abort", "transient", "invalid". */
const char *dep11_fault_name(enum dep11_fault f);

#endif
