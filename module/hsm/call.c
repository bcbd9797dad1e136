/*
 * call.c - the out-of-line half of hsm/call.h: the backend pointer, the
 * missing-function answer, the trace line, the wrappers that carry a
 * quirk gate and the whole wrappers behind the lean ones.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "hsm/call.h"
#include "util/lock.h"
#include "util/log.h"

CK_FUNCTION_LIST *dep11_hsm_backend;
int dep11_hsm_tracing;
int dep11_hsm_sigpipe;
int dep11_hsm_serial;

/* Serializes C_GetTokenInfo (the quirk below); a leaf lock, taken before
 * serial_lock when both are. */
static dep11_mutex_t token_info_lock = DEP11_MUTEX_INIT;
/* "backend-calls = serial": held across each backend call; a leaf lock. */
static dep11_mutex_t serial_lock = DEP11_MUTEX_INIT;

/** See call.h. */
void dep11_hsm_serial_enter(void)
{
    dep11_lock(&serial_lock);
}

/** See call.h. */
void dep11_hsm_serial_leave(void)
{
    dep11_unlock(&serial_lock);
}

/** See call.h: in a forked child another parent thread may have held them
 * at fork time (it does not exist here). */
void dep11_hsm_locks_forget(void)
{
    (void)pthread_mutex_init(&token_info_lock, NULL);
    (void)pthread_mutex_init(&serial_lock, NULL);
}

/** See call.h. */
CK_RV dep11_hsm_absent(const char *fn, int loaded)
{
    CK_RV rv = CKR_CRYPTOKI_NOT_INITIALIZED;

    if (loaded) {
        rv = CKR_FUNCTION_NOT_SUPPORTED;
        LOG_FAIL(rv, "the backend's function list has no C_%s", fn);
    }
    return rv;
}

/** See call.h. Never logs an argument. */
void dep11_hsm_trace(const char *fn, CK_RV rv)
{
    LOG_DEBUG("backend C_%s: %s", fn, dep11_rv_name(rv));
}

static void sigpipe_set(sigset_t *set)
{
    (void)sigemptyset(set);
    (void)sigaddset(set, SIGPIPE);
}

/** See call.h. @st [out] what leave needs. */
void dep11_hsm_sigpipe_enter(struct dep11_hsm_sigpipe_state *st)
{
    sigset_t pipe, pend;

    sigpipe_set(&pipe);
    st->pending = sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE) == 1;
    (void)pthread_sigmask(SIG_BLOCK, &pipe, &st->old);
}

/** See call.h: takes back a SIGPIPE raised during the call, then restores
 * the thread's mask. @st [in] from enter. */
void dep11_hsm_sigpipe_leave(const struct dep11_hsm_sigpipe_state *st)
{
    sigset_t pipe, pend;
    const struct timespec now = { 0, 0 };

    sigpipe_set(&pipe);
    if (!st->pending && sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE) == 1)
        while (sigtimedwait(&pipe, NULL, &now) < 0 && errno == EINTR)
            ;
    (void)pthread_sigmask(SIG_SETMASK, &st->old, NULL);
}

/**
 * C_GetTokenInfo one caller at a time: SoftHSM 2.6 fills utcTime with
 * gmtime(), whose buffer all threads share (ThreadSanitizer saw two dep11
 * threads race in it). Not a data-path call.
 * @slot_id [in]; @info [out]. CKR_CRYPTOKI_NOT_INITIALIZED;
 * CKR_FUNCTION_NOT_SUPPORTED; the backend's result.
 */
CK_RV dep11_hsm_GetTokenInfo(CK_SLOT_ID slot_id, CK_TOKEN_INFO_PTR info)
{
    CK_FUNCTION_LIST *const f = dep11_hsm_backend;
    const int serial = dep11_hsm_serial;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (f == NULL || f->C_GetTokenInfo == NULL)
        return dep11_hsm_absent("GetTokenInfo", f != NULL);
    dep11_lock(&token_info_lock);
    if (serial)
        dep11_lock(&serial_lock);
    if (DEP11_HSM_UNLIKELY(dep11_hsm_sigpipe)) {
        struct dep11_hsm_sigpipe_state st;

        dep11_hsm_sigpipe_enter(&st);
        rv = f->C_GetTokenInfo(slot_id, info);
        dep11_hsm_sigpipe_leave(&st);
    } else {
        rv = f->C_GetTokenInfo(slot_id, info);
    }
    if (serial)
        dep11_unlock(&serial_lock);
    dep11_unlock(&token_info_lock);
    if (DEP11_HSM_UNLIKELY(dep11_hsm_tracing))
        dep11_hsm_trace("GetTokenInfo", rv);
    return rv;
}

/**
 * C_WaitForSlotEvent: with CKF_DONT_BLOCK a call like any other; a blocking
 * wait never under "backend-calls = serial" (it would hold every other call
 * until a token came or went). Not a data-path call.
 * @flags, @slot [out], @reserved: as PKCS#11. CKR_CRYPTOKI_NOT_INITIALIZED;
 * CKR_FUNCTION_NOT_SUPPORTED; the backend's result.
 */
CK_RV dep11_hsm_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR slot, CK_VOID_PTR reserved)
{
    CK_FUNCTION_LIST *const f = dep11_hsm_backend;
    const int serial = dep11_hsm_serial && (flags & CKF_DONT_BLOCK) != 0;
    const int pipe = dep11_hsm_sigpipe;
    struct dep11_hsm_sigpipe_state st;
    CK_RV rv = CKR_GENERAL_ERROR;

    memset(&st, 0, sizeof st);
    if (f == NULL || f->C_WaitForSlotEvent == NULL)
        return dep11_hsm_absent("WaitForSlotEvent", f != NULL);
    if (serial)
        dep11_lock(&serial_lock);
    if (pipe)
        dep11_hsm_sigpipe_enter(&st);
    rv = f->C_WaitForSlotEvent(flags, slot, reserved);
    if (pipe)
        dep11_hsm_sigpipe_leave(&st);
    if (serial)
        dep11_unlock(&serial_lock);
    if (DEP11_HSM_UNLIKELY(dep11_hsm_tracing))
        dep11_hsm_trace("WaitForSlotEvent", rv);
    return rv;
}

/* The whole wrappers behind the lean ones (call.h DEP11_HSM_LEAN): the
 * missing-function answer, the serial lock, the SIGPIPE guard, tracing. */
#define DEP11_HSM_CALL(name, params, args)
#define DEP11_HSM_QUIRK(name, params, args)
#define DEP11_HSM_LEAN(name, params, args)                                                     \
    CK_RV dep11_hsm_full_##name params                                                         \
    {                                                                                          \
        DEP11_HSM_BODY(name, args);                                                            \
    }
#include "hsm/calls.def"
#undef DEP11_HSM_CALL
#undef DEP11_HSM_QUIRK
#undef DEP11_HSM_LEAN
