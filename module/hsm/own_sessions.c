/*
 * own_sessions.c - the sessions dep11 opens on the backend for itself:
 * the registry (worker sessions and the provider pool's sessions), which
 * keeps consumers from ever naming one, and worker sessions.
 */
#include <stdlib.h>

#include "hsm/backend.h"
#include "hsm/call.h"
#include "hsm/own_sessions.h"
#include "util/lock.h"
#include "util/log.h"

struct own_session {
    CK_SESSION_HANDLE h;
    CK_SLOT_ID slot;
};

static dep11_mutex_t reg_lock = DEP11_MUTEX_INIT;
static struct own_session *reg;
static size_t reg_n, reg_cap;

/**
 * Records @h (on @slot) as a session of dep11's own.
 * Returns CKR_OK or CKR_HOST_MEMORY.
 */
CK_RV dep11_hsm_own_session_add(CK_SESSION_HANDLE h, CK_SLOT_ID slot)
{
    CK_RV rv = CKR_GENERAL_ERROR;

    /* ---- locked: reg_lock (leaf; no HSM call) ---- */
    dep11_lock(&reg_lock);
    if (reg_n == reg_cap) {
        size_t cap = reg_cap ? reg_cap * 2 : 16;
        struct own_session *p = realloc(reg, cap * sizeof *p);

        if (p == NULL) {
            rv = CKR_HOST_MEMORY;
            LOG_FAIL(rv, "session registry");
            goto out;
        }
        reg = p;
        reg_cap = cap;
    }
    reg[reg_n].h = h;
    reg[reg_n].slot = slot;
    reg_n++;
    rv = CKR_OK;
out:
    dep11_unlock(&reg_lock);
    return rv;
}

/** Removes @h from the registry (no-op if absent). */
void dep11_hsm_own_session_del(CK_SESSION_HANDLE h)
{
    size_t i = 0;

    dep11_lock(&reg_lock);
    for (i = 0; i < reg_n; i++) {
        if (reg[i].h == h) {
            reg[i] = reg[--reg_n];
            break;
        }
    }
    dep11_unlock(&reg_lock);
}

/**
 * The slot of own session @h in *@slot.
 * Returns CKR_OK or CKR_SESSION_HANDLE_INVALID (not one of ours).
 */
CK_RV dep11_hsm_own_session_slot(CK_SESSION_HANDLE h, CK_SLOT_ID *slot)
{
    CK_RV rv = CKR_SESSION_HANDLE_INVALID;
    size_t i = 0;

    dep11_lock(&reg_lock);
    for (i = 0; i < reg_n; i++) {
        if (reg[i].h == h) {
            *slot = reg[i].slot;
            rv = CKR_OK;
            break;
        }
    }
    dep11_unlock(&reg_lock);
    return rv;
}

/** Empties the registry without closing anything (unload, forked child). */
void dep11_hsm_own_sessions_forget(void)
{
    dep11_lock(&reg_lock);
    free(reg);
    reg = NULL;
    reg_n = reg_cap = 0;
    dep11_unlock(&reg_lock);
}

/** Is @h a session dep11 opened for itself (worker or provider)? 1/0. */
int dep11_hsm_is_own_session(CK_SESSION_HANDLE h)
{
    CK_SLOT_ID slot = 0;

    return h != CK_INVALID_HANDLE && dep11_hsm_own_session_slot(h, &slot) == CKR_OK;
}

/* ---- worker sessions ---- */

/**
 * Opens a R/O serial session of dep11's own on @slot and records it.
 * @out [out] the handle. CKR_OK; CKR_CRYPTOKI_NOT_INITIALIZED; CKR_HOST_MEMORY;
 * the backend's C_OpenSession code.
 */
CK_RV dep11_hsm_worker_open(CK_SLOT_ID slot, CK_SESSION_HANDLE *out)
{
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (out == NULL)
        return CKR_ARGUMENTS_BAD;
    *out = CK_INVALID_HANDLE;
    if (dep11_hsm() == NULL) {
        rv = CKR_CRYPTOKI_NOT_INITIALIZED;
        LOG_FAIL(rv, "backend not loaded");
        return rv;
    }
    rv = dep11_hsm_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "worker session on slot %lu", (unsigned long)slot);
        return rv;
    }
    rv = dep11_hsm_own_session_add(h, slot);
    if (rv != CKR_OK) {
        (void)dep11_hsm_CloseSession(h);
        return rv;
    }
    *out = h;
    return CKR_OK;
}

/** Closes worker session @s (forgets it first). Safe on CK_INVALID_HANDLE. */
void dep11_hsm_worker_close(CK_SESSION_HANDLE s)
{
    if (s == CK_INVALID_HANDLE)
        return;
    dep11_hsm_own_session_del(s);
    if (dep11_hsm() != NULL)
        (void)dep11_hsm_CloseSession(s);
}
