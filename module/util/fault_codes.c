/*
 * fault_codes.c - the rules for the codes a profile moves to another class
 * of the classification table (see fault_codes.h). Pure: no I/O, no logging.
 */
#include <stddef.h>

#include "util/fault_codes.h"

/* See fault_codes.h. */
const char *dep11_fault_code_check(CK_RV rv, int fault)
{
    if (fault != DEP11_OVERRIDE_DENIED && fault != DEP11_OVERRIDE_TRANSIENT &&
        fault != DEP11_OVERRIDE_INVALID)
        return "not a class a profile may move a code to";
    if (rv == CKR_OK)
        return "CKR_OK is not a failure";
    if (rv == CKR_USER_NOT_LOGGED_IN)
        return "CKR_USER_NOT_LOGGED_IN always aborts (no fallback after a log-out)";
    return NULL;
}

/* See fault_codes.h. */
const char *dep11_fault_code_add(CK_RV rv, int fault, struct dep11_fault_override *o,
                                 unsigned *n)
{
    const char *why = dep11_fault_code_check(rv, fault);

    if (why != NULL)
        return why;
    for (unsigned i = 0; i < *n; i++)
        if (o[i].rv == rv)
            return "a code is listed twice";
    if (*n >= DEP11_FAULT_OVERRIDE_MAX)
        return "more than 16 codes in all";
    o[*n].rv = rv;
    o[*n].fault = fault;
    (*n)++;
    return NULL;
}
