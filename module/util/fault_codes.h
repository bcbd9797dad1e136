/*
 * fault_codes.h - a profile's changes to DESIGN section 5's classification
 * table: the keys fault-denied, fault-transient and fault-invalid each list
 * backend return codes that count in that class on this HSM (parsed by
 * config.c; applied by hsm/classify.c).
 */
#ifndef DEP11_UTIL_FAULT_CODES_H
#define DEP11_UTIL_FAULT_CODES_H

#include <p11-kit/pkcs11.h>

#define DEP11_FAULT_OVERRIDE_MAX 16

/* The classes a profile may move a code to: the values of enum dep11_fault
 * (hsm/classify.h, which checks that they match). Abort is not one: a
 * logged-out token must never open a fallback. */
#define DEP11_OVERRIDE_DENIED 1
#define DEP11_OVERRIDE_TRANSIENT 3
#define DEP11_OVERRIDE_INVALID 4

struct dep11_fault_override {
    CK_RV rv;
    int fault;   /* DEP11_OVERRIDE_* */
};

/* May a profile move @rv to class @fault? NULL, or why not (a static
 * string): not such a class, CKR_OK, CKR_USER_NOT_LOGGED_IN (abort stays
 * abort). */
const char *dep11_fault_code_check(CK_RV rv, int fault);

/* Appends (@rv, @fault) to @o[0..*n): NULL, or why not (the check above, a
 * code listed twice, more than DEP11_FAULT_OVERRIDE_MAX in all); on refusal
 * *@n is unchanged. */
const char *dep11_fault_code_add(CK_RV rv, int fault, struct dep11_fault_override *o,
                                 unsigned *n);

#endif
