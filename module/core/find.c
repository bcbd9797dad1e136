/*
 * find.c - C_FindObjectsInit/C_FindObjects/C_FindObjectsFinal over both
 * object spaces: the backend's search (each handle handed out: listed for
 * the session's token and translated) first, then a snapshot of the
 * matching module-side keys.
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/ops.h"
#include "hsm/backend.h"
#include "hsm/call.h"
#include "util/log.h"

static void find_clear(struct dep11_find *f)
{
    free(f->module);
    memset(f, 0, sizeof *f);
}

/**
 * dep11_core_FindObjectsInit - starts a search on the session.
 * CKR_OPERATION_ACTIVE (a search is running); CKR_ARGUMENTS_BAD;
 * CKR_HOST_MEMORY; backend codes. A template naming a dep11 attribute
 * searches module-side keys only (no backend object carries one).
 */
CK_RV dep11_core_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
                                 CK_ULONG ulCount)
{
    struct dep11_session *s = NULL;
    struct dep11_find *f = NULL;
    CK_OBJECT_HANDLE *snap = NULL;
    CK_ULONG n_snap = 0;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv != CKR_OK)
        return rv;
    if (pTemplate == NULL && ulCount > 0) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL template with %lu attributes", ulCount);
        goto out;
    }
    /* The snapshot reads the object table (lock 3) before the session lock
     * (4) is taken: util/lock.h order. */
    rv = dep11_objects_snapshot(s->slot, pTemplate, ulCount, &snap, &n_snap);
    if (rv != CKR_OK)
        goto out;
    /* --- session lock: the search state --- */
    dep11_lock(&s->lock);
    f = &s->find;
    if (f->active) {
        rv = CKR_OPERATION_ACTIVE;
        LOG_FAIL(rv, "a search is active on session 0x%lx", hSession);
        goto unlock;
    }
    if (!dep11_attr_has_vendor(pTemplate, ulCount)) {
        rv = dep11_hsm_FindObjectsInit(s->handle, pTemplate, ulCount);
        if (rv != CKR_OK)
            goto unlock;
        f->backend_open = f->backend_active = 1;
    }
    f->module = snap;
    f->n_module = n_snap;
    snap = NULL;
    f->active = 1;
    f->pos = 0;
unlock:
    dep11_unlock(&s->lock);
out:
    free(snap);
    dep11_session_release(s);
    return rv;
}

/* One raw batch into @out (capacity @max > 0), under the session lock: the
 * backend's next handles while its search lasts, then module-side handles
 * from the snapshot. *@from_backend tells which; *@done: nothing left. */
static CK_RV find_batch(struct dep11_session *s, CK_OBJECT_HANDLE *out, CK_ULONG max,
                        CK_ULONG *n, int *from_backend, int *done)
{
    struct dep11_find *f = &s->find;
    CK_RV rv = CKR_OK;

    *n = 0;
    *from_backend = f->backend_active;
    if (f->backend_active) {
        rv = dep11_hsm_FindObjects(s->handle, out, max, n);
        if (rv == CKR_OK && *n > max) {
            rv = CKR_GENERAL_ERROR;
            LOG_FAIL(rv, "backend returned %lu handles for %lu", *n, max);
        }
        if (rv != CKR_OK)
            return rv;
        if (*n == 0)
            f->backend_active = 0; /* exhausted: module keys next */
    }
    if (!f->backend_active && *n == 0) {
        *from_backend = 0;
        for (; *n < max && f->pos < f->n_module; f->pos++)
            out[(*n)++] = f->module[f->pos];
    }
    *done = !f->backend_active && f->pos >= f->n_module;
    return CKR_OK;
}

/* Outside the session lock: hands out backend handles (allow-list, alias),
 * or drops module-side keys destroyed since the snapshot.
 * *@n is updated. CKR_OK; CKR_HOST_MEMORY (no alias). */
static CK_RV find_filter(struct dep11_session *s, CK_OBJECT_HANDLE *out, CK_ULONG *n,
                         int from_backend)
{
    CK_ULONG kept = 0;
    CK_RV rv = CKR_OK;

    for (CK_ULONG i = 0; i < *n && rv == CKR_OK; i++) {
        CK_OBJECT_HANDLE h = out[i];
        if (from_backend)
            rv = dep11_object_from_backend(s, h, 0, &out[kept++]);
        else if (!from_backend && dep11_object_alive(h, s->slot))
            out[kept++] = h;
    }
    *n = kept;
    return rv;
}

/**
 * dep11_core_FindObjects - the backend's matches first, then the module-side
 * keys of the snapshot that still exist, as many as fit.
 * CKR_OPERATION_NOT_INITIALIZED; CKR_ARGUMENTS_BAD; backend codes.
 */
CK_RV dep11_core_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
                             CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount)
{
    struct dep11_session *s = NULL;
    CK_ULONG n = 0, total = 0;
    int from_backend = 0, done = 0;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv != CKR_OK)
        return rv;
    if (pulObjectCount == NULL || phObject == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL output");
        goto out;
    }
    /* Batches until the buffer is full or nothing is left (a batch may
     * filter down to nothing, which is not the end). */
    do {
        dep11_lock(&s->lock);
        if (!s->find.active) {
            rv = CKR_OPERATION_NOT_INITIALIZED;
            LOG_FAIL(rv, "no search on session 0x%lx", hSession);
        } else if (total < ulMaxObjectCount) {
            rv = find_batch(s, phObject + total, ulMaxObjectCount - total, &n,
                            &from_backend, &done);
        }
        dep11_unlock(&s->lock);
        if (rv == CKR_OK)
            rv = find_filter(s, phObject + total, &n, from_backend);
        total += rv == CKR_OK ? n : 0;
        n = 0;
    } while (rv == CKR_OK && total < ulMaxObjectCount && !done);
    if (rv == CKR_OK)
        *pulObjectCount = total;
out:
    dep11_session_release(s);
    return rv;
}

/**
 * dep11_core_FindObjectsFinal - ends the search.
 * CKR_OPERATION_NOT_INITIALIZED; backend codes.
 */
CK_RV dep11_core_FindObjectsFinal(CK_SESSION_HANDLE hSession)
{
    struct dep11_session *s = NULL;
    struct dep11_find *f = NULL;
    int backend = 0;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv != CKR_OK)
        return rv;
    dep11_lock(&s->lock);
    f = &s->find;
    if (!f->active) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
        LOG_FAIL(rv, "no search on session 0x%lx", hSession);
    } else {
        /* The backend's search stays open until its own Final, even when
         * its results ran out. */
        backend = f->backend_open;
        find_clear(f);
        if (backend)
            rv = dep11_hsm_FindObjectsFinal(s->handle);
    }
    dep11_unlock(&s->lock);
    dep11_session_release(s);
    return rv;
}
