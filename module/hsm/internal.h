/*
 * internal.h - helpers shared by the files of module/hsm only: draining
 * object searches (find.c), session-loss codes, pauses and the retry policy
 * (retry.h). Not part of the layer's interface.
 */
#ifndef DEP11_HSM_INTERNAL_H
#define DEP11_HSM_INTERNAL_H

#include <stddef.h>
#include <p11-kit/pkcs11.h>
#include "hsm/call.h"
#include "hsm/retry.h"

/* Runs C_FindObjectsInit/C_FindObjects/C_FindObjectsFinal on @s with @tmpl
 * and drains the search completely (SoftHSM issues a handle for every match
 * at Init time, returned or not). Final is always called after a successful
 * Init. *@out gets a malloc'd array (caller frees; NULL when *@count is 0).
 * CKR_OK; CKR_HOST_MEMORY; CKR_CRYPTOKI_NOT_INITIALIZED; backend codes. */
CK_RV dep11_hsm_find_all(CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                         CK_OBJECT_HANDLE **out, size_t *count);

#endif
