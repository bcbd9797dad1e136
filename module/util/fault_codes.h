/*
 * fault_codes.h - a profile's changes to DESIGN section 5's classification
 * table: the keys fault-denied, fault-transient and fault-invalid each list
 * backend return codes that count in that class on this HSM.
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

/*
 * Appends the codes listed in @v ("0x30, 0x31", hex with 0x or decimal,
 * separated by commas and blanks; empty: none) with class @fault to
 * @o[*n...]. Returns NULL, or why the list is refused (a static string): malformed, too
 * many codes in all (DEP11_FAULT_OVERRIDE_MAX), CKR_OK, CKR_USER_NOT_LOGGED_IN
 * (abort stays abort), or a code listed twice (in this key or another).
 * On refusal *@n is unchanged.
 */
const char *dep11_fault_codes_add(const char *v, int fault, struct dep11_fault_override *o,
                                  unsigned *n);

#endif
