/*
 * find.c - draining an object search on a session of dep11's own
 * (internal.h).
 */
#include <stdlib.h>
#include <string.h>

#include "hsm/backend.h"
#include "hsm/call.h"
#include "hsm/internal.h"
#include "util/log.h"

/** See internal.h. */
CK_RV dep11_hsm_find_all(CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                         CK_OBJECT_HANDLE **out, size_t *count)
{
    CK_OBJECT_HANDLE batch[32];
    CK_OBJECT_HANDLE *all = NULL, *p = NULL;
    CK_ULONG got = 0;
    size_t total = 0;
    CK_RV rv = CKR_GENERAL_ERROR, rv2 = CKR_OK;

    *out = NULL;
    *count = 0;
    if (dep11_hsm() == NULL) {
        rv = CKR_CRYPTOKI_NOT_INITIALIZED;
        LOG_FAIL(rv, "backend not loaded");
        return rv;
    }
    rv = dep11_hsm_FindObjectsInit(s, tmpl, n);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "C_FindObjectsInit on session %lu", (unsigned long)s);
        return rv;
    }
    for (;;) {
        rv = dep11_hsm_FindObjects(s, batch, 32, &got);
        if (rv != CKR_OK || got == 0)
            break;
        p = realloc(all, (total + got) * sizeof *all);
        if (p == NULL) {
            rv = CKR_HOST_MEMORY;
            break;
        }
        all = p;
        memcpy(all + total, batch, got * sizeof *batch);
        total += got;
    }
    /* Always end the search, whatever happened. */
    rv2 = dep11_hsm_FindObjectsFinal(s);
    if (rv == CKR_OK)
        rv = rv2;
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "object search on session %lu", (unsigned long)s);
        free(all);
        return rv;
    }
    *out = all;
    *count = total;
    return CKR_OK;
}
