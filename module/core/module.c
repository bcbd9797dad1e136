/*
 * module.c - the module's life: C_Initialize (config, backend, provider
 * token), C_Finalize, fork awareness (a child must initialize again and
 * never touches its parent's sessions), C_GetInfo, and the calls of the
 * "Vendor dep11" interface that need no session.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "core/ops.h"
#include "crypto/selftest.h"
#include "hier/cache.h"
#include "hier/facts.h"
#include "hsm/backend.h"
#include "hsm/call.h"
#include "hsm/provider.h"
#include "util/audit.h"
#include "util/log.h"
#include "util/secmem.h"
#include "util/tasks.h"

/* util/lock.h 1: init and finalize. Readers of the state use atomics. */
static dep11_mutex_t state_lock = DEP11_MUTEX_INIT;
static int initialized;                 /* atomic */
static int selftest_failed;             /* atomic: the error state */
static pid_t init_pid;                  /* the process that initialized */
static int forked_child;                /* atomic: set in the child of a fork() */
static int atfork_ok;                   /* the fork handlers are registered */
static struct dep11_config cfg;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* Keep the core tables consistent across fork(): no lock may be held by a
 * thread that does not exist in the child. Lock order as util/lock.h. */
static void fork_prepare(void)
{
    dep11_lock(&state_lock);
    dep11_sessions_fork_lock();
    dep11_objects_fork_lock();
}

static void fork_done(void)
{
    dep11_objects_fork_unlock();
    dep11_sessions_fork_unlock();
    dep11_unlock(&state_lock);
}

/* In the child: the parent's initialization is not this process's (checked
 * on every call without a getpid() system call). */
static void fork_child(void)
{
    fork_done();
    __atomic_store_n(&forked_child, 1, __ATOMIC_RELEASE);
}

static void register_atfork(void)
{
    if (pthread_atfork(fork_prepare, fork_done, fork_child) != 0)
        LOG_WARN("pthread_atfork failed: a fork during a call may leave locks held");
    else
        __atomic_store_n(&atfork_ok, 1, __ATOMIC_RELEASE);
}

/**
 * dep11_core_check_init - see core.h. Lock-free.
 */
CK_RV dep11_core_check_init(void)
{
    if (!__atomic_load_n(&initialized, __ATOMIC_ACQUIRE))
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    /* A forked child must initialize again (the fork handler tells; without
     * it, the process id does). */
    if (__atomic_load_n(&atfork_ok, __ATOMIC_ACQUIRE)
            ? __atomic_load_n(&forked_child, __ATOMIC_ACQUIRE) != 0
            : init_pid != getpid())
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    /* Error state after a failed power-on self test: every call that needs
     * the initialized module fails until C_Finalize + C_Initialize. */
    if (__atomic_load_n(&selftest_failed, __ATOMIC_ACQUIRE))
        return CKR_GENERAL_ERROR;
    return CKR_OK;
}

/**
 * dep11_core_config - see core.h.
 */
const struct dep11_config *dep11_core_config(void)
{
    return &cfg;
}

/* The spec's rules for CK_C_INITIALIZE_ARGS. Application mutexes are
 * accepted, never used: dep11 always locks with its own pthread mutexes and
 * runs the backend with CKF_OS_LOCKING_OK. *@no_threads gets
 * CKF_LIBRARY_CANT_CREATE_OS_THREADS (1/0). */
static CK_RV check_init_args(const CK_C_INITIALIZE_ARGS *a, int *no_threads)
{
    CK_RV rv = CKR_ARGUMENTS_BAD;
    int n = 0;

    *no_threads = 0;
    if (a == NULL)
        return CKR_OK;
    *no_threads = (a->flags & CKF_LIBRARY_CANT_CREATE_OS_THREADS) != 0;
    if (a->pReserved != NULL) {
        LOG_FAIL(rv, "pReserved must be NULL");
        return rv;
    }
    n = (a->CreateMutex != NULL) + (a->DestroyMutex != NULL) +
        (a->LockMutex != NULL) + (a->UnlockMutex != NULL);
    if (n != 0 && n != 4) {
        LOG_FAIL(rv, "mutex functions must be given all or none");
        return rv;
    }
    return CKR_OK;
}

/* In a forked child: forget the parent's state without touching the
 * parent's sessions (no backend call on them). state_lock held. */
static void drop_parent_state(void)
{
    dep11_objects_fini();   /* cleanses the keys copied into this process */
    dep11_sessions_fini();
    dep11_tasks_forget();   /* the parent's task threads are not here */
    dep11_provider_forget();
    __atomic_store_n(&initialized, 0, __ATOMIC_RELEASE);
}

/*
 * CKF_LIBRARY_CANT_CREATE_OS_THREADS (docs/CONFIG.md): hedged tries and the
 * per-call time-out run on threads of dep11's own, so a profile asking for
 * either is CKR_NEED_TO_CREATE_THREADS (the spec's answer); otherwise the
 * flag is accepted and no thread is ever started (util/tasks.c refuses,
 * and the backend is told the same).
 */
static CK_RV check_threads(int no_threads)
{
    CK_RV rv = CKR_NEED_TO_CREATE_THREADS;
    const struct dep11_profile *p = &cfg.profile;

    if (no_threads && (p->hedged || p->call_timeout_ms > 0)) {
        LOG_ERROR("C_Initialize: CKF_LIBRARY_CANT_CREATE_OS_THREADS, but profile %s asks "
                  "for %s, which runs on threads of dep11's own: %s", p->path,
                  p->hedged ? "hedged-unwrap = yes" : "call-timeout-ms",
                  dep11_rv_name(rv));
        return rv;
    }
    dep11_tasks_set_no_threads(no_threads);
    dep11_hsm_set_no_threads(no_threads);
    return CKR_OK;
}

/* Config, backend, provider token; unwinds fully on failure. */
static CK_RV start(int forked, int no_threads)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    const char *path = dep11_config_default_path();

    if (dep11_config_absent()) {
        /* Not an error: a p11-kit registration loads dep11 into every
         * consumer on the machine; those without a config skip it quietly. */
        rv = CKR_FUNCTION_FAILED;
        LOG_WARN("not configured in this process: no DEP11_CONF, no readable %s (dep11.conf(5))",
                 path);
        goto out;
    }
    (void)dep11_secmem_init(); /* 0 = cleansed fallback only; secmem logs it */
    /* Power-on self tests first; a failure (logged by name) is the error
     * state, entered once the rest has started so C_Finalize unwinds it. */
    __atomic_store_n(&selftest_failed, dep11_selftest_run(NULL) != CKR_OK,
                     __ATOMIC_RELEASE);
    rv = dep11_config_load(path, &cfg);
    if (rv != CKR_OK) {
        if (rv != CKR_HOST_MEMORY)
            rv = CKR_FUNCTION_FAILED;
        LOG_FAIL(rv, "config %s", path != NULL ? path : "(none)");
        goto out;
    }
    rv = check_threads(no_threads);
    if (rv != CKR_OK)
        goto out;
    /* No audit log that cannot be opened: nothing may happen unaudited. */
    rv = dep11_audit_open(cfg.audit_log);
    if (rv == CKR_OK)
        rv = dep11_cache_init(cfg.cache_seconds, cfg.cache_entries);
    if (rv == CKR_OK)
        dep11_facts_reset();
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "audit log %s or policy-key cache", cfg.audit_log);
        goto out;
    }
    rv = forked ? dep11_hsm_reload_after_fork(&cfg.profile) : dep11_hsm_load(&cfg.profile);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "backend %s", cfg.profile.module);
        goto out;
    }
    rv = dep11_provider_open(&cfg);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "provider token %s", cfg.provider_token);
        dep11_hsm_unload();
        goto out;
    }
    /* The receipt signing key's public key, for customers to pin
     * (DESIGN section 6); the key is created here on first use. */
    if (cfg.receipt_public_key[0] != '\0' &&
        (rv = dep11_purge_write_public_key(cfg.receipt_public_key)) != CKR_OK) {
        LOG_FAIL(rv, "receipt-public-key %s", cfg.receipt_public_key);
        dep11_provider_close();
        dep11_hsm_unload();
        goto out;
    }
    init_pid = getpid();
    __atomic_store_n(&forked_child, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&initialized, 1, __ATOMIC_RELEASE);
out:
    if (rv != CKR_OK) {
        dep11_cache_shutdown();
        dep11_audit_close();
        memset(&cfg, 0, sizeof cfg);
    }
    return rv;
}

/*
 * C_Initialize answers only the codes PKCS#11 lists for it. Another code
 * from the start (the provider token's CKR_PIN_INCORRECT or
 * CKR_TOKEN_NOT_PRESENT, a backend's device error) becomes
 * CKR_FUNCTION_FAILED; the line that logged the cause stays the one error
 * line, this one is at debug level.
 */
static CK_RV initialize_code(CK_RV rv)
{
    switch (rv) {
    case CKR_OK:
    case CKR_ARGUMENTS_BAD:
    case CKR_CANT_LOCK:
    case CKR_CRYPTOKI_ALREADY_INITIALIZED:
    case CKR_FUNCTION_FAILED:
    case CKR_GENERAL_ERROR:
    case CKR_HOST_MEMORY:
    case CKR_NEED_TO_CREATE_THREADS:
        return rv;
    default:
        LOG_FAIL(rv, "not a C_Initialize code: answered as CKR_FUNCTION_FAILED");
        return CKR_FUNCTION_FAILED;
    }
}

/**
 * dep11_core_Initialize - C_Initialize (DESIGN section 7). @pInitArgs: NULL
 * or a CK_C_INITIALIZE_ARGS. CKR_OK; CKR_ARGUMENTS_BAD;
 * CKR_CRYPTOKI_ALREADY_INITIALIZED (in this process); CKR_FUNCTION_FAILED
 * (bad config: logged with file and line); CKR_NEED_TO_CREATE_THREADS
 * (CKF_LIBRARY_CANT_CREATE_OS_THREADS with a profile that needs threads);
 * CKR_HOST_MEMORY; CKR_FUNCTION_FAILED also for every other failure of the
 * backend or the provider token (a wrong provider PIN, a provider-token
 * setting that matches no token or two), after one log line.
 */
CK_RV dep11_core_Initialize(CK_VOID_PTR pInitArgs)
{
    int no_threads = 0;
    CK_RV rv = check_init_args(pInitArgs, &no_threads);

    if (rv != CKR_OK)
        return rv;
    (void)pthread_once(&atfork_once, register_atfork);
    /* --- state_lock --- */
    dep11_lock(&state_lock);
    if (__atomic_load_n(&initialized, __ATOMIC_ACQUIRE) && init_pid == getpid()) {
        rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
        LOG_FAIL(rv, "in process %ld", (long)init_pid);
    } else {
        int forked = __atomic_load_n(&initialized, __ATOMIC_ACQUIRE);
        if (forked)
            drop_parent_state();
        rv = initialize_code(start(forked, no_threads));
    }
    dep11_unlock(&state_lock);
    return rv;
}

/**
 * dep11_core_Finalize - C_Finalize: destroys (cleanses) every module-side
 * object, drops the consumer sessions, closes the provider sessions and
 * unloads the backend. CKR_ARGUMENTS_BAD (non-NULL @pReserved);
 * CKR_CRYPTOKI_NOT_INITIALIZED.
 */
CK_RV dep11_core_Finalize(CK_VOID_PTR pReserved)
{
    CK_RV rv = CKR_GENERAL_ERROR;

    if (pReserved != NULL) {
        LOG_FAIL(CKR_ARGUMENTS_BAD, "pReserved must be NULL");
        return CKR_ARGUMENTS_BAD;
    }
    dep11_lock(&state_lock);
    rv = dep11_core_check_init();
    if (rv == CKR_GENERAL_ERROR)    /* the self-test error state ends here */
        rv = CKR_OK;
    if (rv == CKR_OK) {
        /* New calls fail from here on; calls in flight hold references. */
        __atomic_store_n(&initialized, 0, __ATOMIC_RELEASE);
        dep11_objects_fini();
        dep11_sessions_fini();
        /* HSM calls abandoned at their time-out end before the backend goes. */
        dep11_tasks_drain();
        dep11_provider_close();
        dep11_hsm_unload();
        dep11_cache_shutdown();     /* cleanses every cached policy key */
        dep11_audit_close();
    }
    dep11_unlock(&state_lock);
    return rv;
}

/* ---- profile "reconnect" ---------------------------------------------- */

/* atomic: the last reconnect failed (the HSM is still away) */
static int backend_lost;

/* Answers of a backend that lost its HSM: the wire broke (device error,
 * removed), or a reconnect's C_Initialize failed and left it uninitialized. */
static int lost_answer(CK_RV rv)
{
    return rv == CKR_DEVICE_ERROR || rv == CKR_DEVICE_REMOVED ||
           rv == CKR_CRYPTOKI_NOT_INITIALIZED;
}

/* state_lock held: everything tied to the old connection goes (module-side
 * keys, consumer sessions, the provider sessions; cached policy keys and the
 * audit log stay), then the backend and the provider token start again. */
static CK_RV restart_backend(void)
{
    CK_ULONG n = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    /* Another thread may have reconnected since this caller's failure. */
    if (!__atomic_load_n(&backend_lost, __ATOMIC_ACQUIRE) &&
        dep11_hsm_GetSlotList(CK_FALSE, NULL, &n) == CKR_OK)
        return CKR_OK;
    dep11_objects_fini();
    dep11_sessions_fini();
    dep11_tasks_drain();
    dep11_provider_close();
    rv = dep11_hsm_reconnect();
    if (rv == CKR_OK)
        rv = dep11_provider_open(&cfg);
    if (rv != CKR_OK)
        dep11_provider_close();
    __atomic_store_n(&backend_lost, rv != CKR_OK, __ATOMIC_RELEASE);
    return rv;
}

/**
 * dep11_core_reconnect - see internal.h. @rv [in/out] the backend's answer
 * to a consumer's C_GetSlotList or C_OpenSession; while the last reconnect
 * failed, also CKR_OK (a client library that cannot reach its server may
 * initialize with no slots at all). Returns 1 when the caller
 * should call again (the backend was re-initialized); 0 otherwise, with
 * *@rv CKR_DEVICE_ERROR while the HSM stays away (never the backend's
 * CKR_CRYPTOKI_NOT_INITIALIZED: dep11 itself is initialized).
 */
int dep11_core_reconnect(CK_RV *rv)
{
    CK_RV r = CKR_GENERAL_ERROR;

    if (!cfg.profile.reconnect ||
        (!lost_answer(*rv) && !__atomic_load_n(&backend_lost, __ATOMIC_ACQUIRE)))
        return 0;
    dep11_lock(&state_lock);
    r = __atomic_load_n(&initialized, __ATOMIC_ACQUIRE) ? restart_backend()
                                                        : CKR_CRYPTOKI_NOT_INITIALIZED;
    dep11_unlock(&state_lock);
    if (r == CKR_OK) {
        LOG_WARN("backend %s had lost its HSM: initialized again; consumer sessions must be "
                 "opened again",
                 cfg.profile.module);
        return 1;
    }
    LOG_FAIL(r, "reconnecting backend %s after %s", cfg.profile.module, dep11_rv_name(*rv));
    *rv = CKR_DEVICE_ERROR;
    return 0;
}

static void blank_pad(CK_UTF8CHAR *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    memset(dst, ' ', cap);
    memcpy(dst, src, n < cap ? n : cap);
}

/**
 * dep11_core_GetInfo - C_GetInfo: dep11 itself (not the backend).
 * CKR_ARGUMENTS_BAD; CKR_CRYPTOKI_NOT_INITIALIZED.
 */
CK_RV dep11_core_GetInfo(CK_INFO_PTR pInfo)
{
    CK_RV rv = dep11_core_check_init();
    char *end = NULL;
    unsigned long major = 0, minor = 0;

    if (rv != CKR_OK)
        return rv;
    if (pInfo == NULL) {
        LOG_FAIL(CKR_ARGUMENTS_BAD, "pInfo is NULL");
        return CKR_ARGUMENTS_BAD;
    }
    memset(pInfo, 0, sizeof *pInfo);
    pInfo->cryptokiVersion.major = 2;
    pInfo->cryptokiVersion.minor = 40;
    blank_pad(pInfo->manufacturerID, sizeof pInfo->manufacturerID, "dep11");
    blank_pad(pInfo->libraryDescription, sizeof pInfo->libraryDescription,
              "dep11 service encryption module");
    major = strtoul(PACKAGE_VERSION, &end, 10);
    if (end != NULL && *end == '.')
        minor = strtoul(end + 1, NULL, 10);
    pInfo->libraryVersion.major = (CK_BYTE)(major > 255 ? 255 : major);
    pInfo->libraryVersion.minor = (CK_BYTE)(minor > 255 ? 255 : minor);
    pInfo->flags = 0;
    return CKR_OK;
}

/**
 * dep11_core_GetPolicyInfo - DEP11_GetPolicyInfo: parses the blob's header
 * (no HSM call). CKR_OK; CKR_ARGUMENTS_BAD; CKR_WRAPPED_KEY_INVALID;
 * CKR_CRYPTOKI_NOT_INITIALIZED.
 */
CK_RV dep11_core_GetPolicyInfo(CK_BYTE_PTR pBlob, CK_ULONG ulBlobLen,
                               CK_DEP11_POLICY_INFO *pInfo)
{
    CK_RV rv = dep11_core_check_init();

    if (rv != CKR_OK)
        return rv;
    if (pBlob == NULL || pInfo == NULL) {
        LOG_FAIL(CKR_ARGUMENTS_BAD, "NULL blob or info");
        return CKR_ARGUMENTS_BAD;
    }
    return dep11_policy_info(pBlob, ulBlobLen, pInfo);
}

/**
 * dep11_core_PurgePolicy - DEP11_PurgePolicy (DESIGN sections 3 and 6): on a
 * session dep11 opened for the consumer, whose token is logged in as user;
 * the purge itself is hier's (dep11_policy_purge, docs/RECEIPTS.md).
 * @pReceipt NULL: size query. CKR_OK; CKR_CRYPTOKI_NOT_INITIALIZED;
 * CKR_ARGUMENTS_BAD; CKR_SESSION_HANDLE_INVALID; CKR_USER_NOT_LOGGED_IN;
 * CKR_WRAPPED_KEY_INVALID; CKR_FUNCTION_REJECTED; CKR_BUFFER_TOO_SMALL;
 * CKR_DEP11_ROOT_KEYS_UNAVAILABLE; backend codes.
 */
CK_RV dep11_core_PurgePolicy(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pBlob,
                             CK_ULONG ulBlobLen, CK_BYTE_PTR pReceipt,
                             CK_ULONG_PTR pulReceiptLen)
{
    struct dep11_session *s = NULL;
    struct dep11_call call;
    CK_RV rv = dep11_core_check_init();

    if (rv != CKR_OK)
        return rv;
    if (pBlob == NULL || pulReceiptLen == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL blob or receipt length");
        return rv;
    }
    rv = dep11_session_acquire(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    rv = dep11_session_require_user(s);
    if (rv == CKR_OK) {
        call.slot = dep11_session_slot(s);
        call.cfg = &cfg;
        rv = dep11_policy_purge(&call, pBlob, ulBlobLen, pReceipt, pulReceiptLen);
    }
    dep11_session_release(s);
    return rv;
}

/**
 * dep11_core_FlushCache - DEP11_FlushCache. @pPolicyId: NULL flushes every
 * entry, else 16 bytes naming one policy: this process's cached policy keys
 * (every requester class) are cleansed, so the next unwrap asks the HSM.
 * CKR_OK; CKR_CRYPTOKI_NOT_INITIALIZED.
 */
CK_RV dep11_core_FlushCache(CK_BYTE_PTR pPolicyId)
{
    CK_RV rv = dep11_core_check_init();

    if (rv != CKR_OK)
        return rv;
    dep11_cache_flush(pPolicyId);
    return CKR_OK;
}
