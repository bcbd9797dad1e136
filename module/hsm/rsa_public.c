/*
 * rsa_public.c - the RSA public keys on a customer token (all, or only the
 * CKA_TRUSTED=TRUE ones: the registered roots), read through a session of
 * dep11's own.
 */
#include <stdlib.h>
#include <string.h>

#include "hsm/backend.h"
#include "hsm/internal.h"
#include "hsm/rsa.h"
#include "util/log.h"

static CK_RV read_public(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, struct dep11_hsm_rsa *k)
{
    CK_ATTRIBUTE a[] = { { CKA_MODULUS, k->modulus, sizeof k->modulus },
                         { CKA_PUBLIC_EXPONENT, k->exponent, sizeof k->exponent } };
    CK_RV rv = CKR_GENERAL_ERROR;

    memset(k, 0, sizeof *k);
    rv = dep11_hsm_GetAttributeValue(s, h, a, 2);
    if (rv != CKR_OK)
        return rv;
    k->mod_len = a[0].ulValueLen;
    k->exp_len = a[1].ulValueLen;
    return CKR_OK;
}

/**
 * See provider.h. @s [in] a session on the customer token; @trusted_only 1:
 * only CKA_TRUSTED=TRUE public keys (the registered twins); @out [out]
 * capacity @cap, modulus and exponent filled (priv = CK_INVALID_HANDLE);
 * *@n [out] how many. Keys whose attributes do not fit are skipped.
 * CKR_ARGUMENTS_BAD; CKR_HOST_MEMORY; backend codes.
 */
CK_RV dep11_hsm_rsa_public_list(CK_SESSION_HANDLE s, int trusted_only,
                                struct dep11_hsm_rsa *out, size_t cap, size_t *n)
{
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_KEY_TYPE, &kt, sizeof kt },
                            { CKA_TRUSTED, &t, 1 } };
    CK_OBJECT_HANDLE *found = NULL;
    size_t count = 0, i = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (out == NULL || n == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "bad arguments");
        return rv;
    }
    *n = 0;
    rv = dep11_hsm_find_all(s, tmpl, trusted_only ? 3 : 2, &found, &count);
    for (i = 0; rv == CKR_OK && i < count && *n < cap; i++)
        if (read_public(s, found[i], &out[*n]) == CKR_OK)
            (*n)++;
    free(found);
    if (rv != CKR_OK)
        LOG_FAIL(rv, "listing RSA public keys");
    return rv;
}
