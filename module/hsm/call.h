/*
 * call.h - every call dep11 makes into the backend HSM's PKCS#11 module:
 * dep11_hsm_<Function>(...) for each PKCS#11 2.40 function (the list is
 * hsm/calls.def), so that nothing outside module/hsm touches the backend's
 * function list. One place for:
 *   - the missing-function check: no backend loaded is
 *     CKR_CRYPTOKI_NOT_INITIALIZED; a NULL pointer in the backend's list is
 *     CKR_FUNCTION_NOT_SUPPORTED with one debug line naming the function;
 *   - the quirk gates (DEP11_HSM_QUIRK entries, in call.c): C_GetTokenInfo
 *     one caller at a time (SoftHSM 2.6 fills utcTime with gmtime(), whose
 *     buffer all threads share); a blocking C_WaitForSlotEvent outside the
 *     serial lock below;
 *   - the profile's "backend-calls = serial": every call under one lock;
 *   - tracing: with DEP11_DEBUG=4 at load, one debug line per call with the
 *     function's name and result, never an argument;
 *   - the retry policy on session loss (dep11_hsm_retry_*, hsm/retry.h),
 *     used by the callers that own a session they can reopen.
 * A plain wrapper is inline: two loads, three predicted branches and the
 * call (no lock, no extra call frame, unless the profile says serial), so
 * the data path costs what it did; a lean one (DEP11_HSM_LEAN) inlines
 * only the plain call and leaves the rest to call.c.
 */
#ifndef DEP11_HSM_CALL_H
#define DEP11_HSM_CALL_H

#include <signal.h>
#include <p11-kit/pkcs11.h>

/* The loaded backend's function list, NULL when none. Written by backend.c
 * at load and unload only (under core's module state lock), read on every
 * call without a lock, like the application's own handles. */
extern CK_FUNCTION_LIST *dep11_hsm_backend;

/* 1 when the debug log level was on at load: calls are traced. */
extern int dep11_hsm_tracing;

/* Profile "block-sigpipe = yes" (set at load): each call runs with SIGPIPE
 * blocked in the calling thread, and a SIGPIPE the call raised is taken
 * back, so a client library writing to a server that went away answers an
 * error instead of killing the process. */
extern int dep11_hsm_sigpipe;
struct dep11_hsm_sigpipe_state {
    sigset_t old;
    int pending; /* a SIGPIPE was pending before: not ours to take */
};
void dep11_hsm_sigpipe_enter(struct dep11_hsm_sigpipe_state *st);
void dep11_hsm_sigpipe_leave(const struct dep11_hsm_sigpipe_state *st);

/* Profile "backend-calls = serial" (set at load): one call into the backend
 * at a time in the process, for a library that is not safe for concurrent
 * calls although it takes CKF_OS_LOCKING_OK (docs/CONFIG.md). The lock is a
 * leaf lock (util/lock.h) held across that one call. */
extern int dep11_hsm_serial;
void dep11_hsm_serial_enter(void);
void dep11_hsm_serial_leave(void);
/* In a forked child (hsm/backend.c, before the backend is initialized
 * again): the wrappers' locks as new, whoever held them in the parent. */
void dep11_hsm_locks_forget(void);

/* The answer for a call that cannot be made: CKR_CRYPTOKI_NOT_INITIALIZED
 * when no backend is loaded (@loaded 0), else CKR_FUNCTION_NOT_SUPPORTED
 * after one debug line naming C_@fn. */
CK_RV dep11_hsm_absent(const char *fn, int loaded);

/* One debug line: "backend C_@fn: <result>". */
void dep11_hsm_trace(const char *fn, CK_RV rv);

#if defined(__GNUC__)
#define DEP11_HSM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define DEP11_HSM_UNLIKELY(x) (x)
#endif

/* The whole wrapper's body: the missing-function answer, the serial lock,
 * the SIGPIPE guard and tracing around the call. */
#define DEP11_HSM_BODY(name, args)                                                             \
    do {                                                                                       \
        CK_FUNCTION_LIST *const f_ = dep11_hsm_backend;                                        \
        const int serial_ = dep11_hsm_serial;                                                  \
        CK_RV rv_ = CKR_GENERAL_ERROR;                                                         \
                                                                                               \
        if (DEP11_HSM_UNLIKELY(f_ == NULL || f_->C_##name == NULL))                            \
            return dep11_hsm_absent(#name, f_ != NULL);                                        \
        if (DEP11_HSM_UNLIKELY(serial_))                                                       \
            dep11_hsm_serial_enter();                                                          \
        if (DEP11_HSM_UNLIKELY(dep11_hsm_sigpipe)) {                                           \
            struct dep11_hsm_sigpipe_state st_;                                                \
                                                                                               \
            dep11_hsm_sigpipe_enter(&st_);                                                     \
            rv_ = f_->C_##name args;                                                           \
            dep11_hsm_sigpipe_leave(&st_);                                                     \
        } else {                                                                               \
            rv_ = f_->C_##name args;                                                           \
        }                                                                                      \
        if (DEP11_HSM_UNLIKELY(serial_))                                                       \
            dep11_hsm_serial_leave();                                                          \
        if (DEP11_HSM_UNLIKELY(dep11_hsm_tracing))                                             \
            dep11_hsm_trace(#name, rv_);                                                       \
        return rv_;                                                                            \
    } while (0)

#define DEP11_HSM_CALL(name, params, args)                                                     \
    static inline CK_RV dep11_hsm_##name params                                                \
    {                                                                                          \
        DEP11_HSM_BODY(name, args);                                                            \
    }
#define DEP11_HSM_QUIRK(name, params, args) CK_RV dep11_hsm_##name params;
/* A lean call (the session open/close/info paths): inline only the plain
 * call, when the backend has the function and no serial lock, SIGPIPE guard
 * or tracing is on; anything else goes to the whole wrapper, out of line in
 * call.c (dep11_hsm_full_<name>). The caller then carries no signal set on
 * its stack (nor the stack protector's check that comes with it). */
#define DEP11_HSM_LEAN(name, params, args)                                                     \
    CK_RV dep11_hsm_full_##name params;                                                        \
    static inline CK_RV dep11_hsm_##name params                                                \
    {                                                                                          \
        CK_FUNCTION_LIST *const f_ = dep11_hsm_backend;                                        \
                                                                                               \
        if (DEP11_HSM_UNLIKELY(f_ == NULL || f_->C_##name == NULL ||                           \
                               (dep11_hsm_serial | dep11_hsm_sigpipe | dep11_hsm_tracing)))    \
            return dep11_hsm_full_##name args;                                                 \
        return f_->C_##name args;                                                              \
    }
#include "hsm/calls.def"
#undef DEP11_HSM_CALL
#undef DEP11_HSM_QUIRK
#undef DEP11_HSM_LEAN

#endif
