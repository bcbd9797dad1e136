/*
 * fault_codes.c - parsing a profile's fault-denied / fault-transient /
 * fault-invalid lists (see fault_codes.h). Pure: no I/O, no logging.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/fault_codes.h"

/* One code at *@p (hex with 0x, or decimal); advances *@p. 0 if malformed. */
static int one_code(const char **p, CK_RV *out)
{
    const char *s = *p;
    char *end = NULL;
    int base = 10;
    unsigned long v = 0;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        base = 16;
    }
    if (!(base == 16 ? isxdigit((unsigned char)*s) : isdigit((unsigned char)*s)))
        return 0;
    errno = 0;
    v = strtoul(s, &end, base);
    if (errno == ERANGE || (*end != '\0' && *end != ',' && *end != ' ' && *end != '\t'))
        return 0;
    *out = (CK_RV)v;
    *p = end;
    return 1;
}

static int listed(const struct dep11_fault_override *o, unsigned n, CK_RV rv)
{
    for (unsigned i = 0; i < n; i++)
        if (o[i].rv == rv)
            return 1;
    return 0;
}

/* See fault_codes.h. */
const char *dep11_fault_codes_add(const char *v, int fault, struct dep11_fault_override *o,
                                  unsigned *n)
{
    unsigned k = *n;
    CK_RV rv = 0;

    if (fault != DEP11_OVERRIDE_DENIED && fault != DEP11_OVERRIDE_TRANSIENT &&
        fault != DEP11_OVERRIDE_INVALID)
        return "not a class a profile may move a code to";
    while (*v != '\0') {
        while (*v == ' ' || *v == '\t')
            v++;
        if (!one_code(&v, &rv))
            return "expected return codes (0x hex or decimal) separated by commas";
        if (rv == CKR_OK)
            return "CKR_OK is not a failure";
        if (rv == CKR_USER_NOT_LOGGED_IN)
            return "CKR_USER_NOT_LOGGED_IN always aborts (no fallback after a log-out)";
        if (listed(o, k, rv))
            return "a code is listed twice";
        if (k == DEP11_FAULT_OVERRIDE_MAX)
            return "more than 16 codes in all";
        o[k].rv = rv;
        o[k].fault = fault;
        k++;
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v == ',') {
            v++;
            while (*v == ' ' || *v == '\t')
                v++;
            if (*v == '\0')
                return "a list does not end in a comma";
        } else if (*v != '\0') {
            return "expected a comma between codes";
        }
    }
    *n = k; /* an empty value moves nothing */
    return NULL;
}
