/*
 * backend.c - the HSM's PKCS#11 module below dep11: loading it through
 * p11-kit without p11-kit's own initialization, initializing it with
 * CKF_OS_LOCKING_OK (DESIGN section 8), finalizing it, and re-initializing
 * it in a forked child.
 */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <string.h>
#include <sys/stat.h>
#include <p11-kit/p11-kit.h>

#include "hsm/backend.h"
#include "hsm/call.h"
#include "hsm/classify.h"
#include "hsm/rsa.h"
#include "util/lock.h"
#include "util/log.h"

/* The loaded backend is dep11_hsm_backend (hsm/call.h), written here at
 * load/unload only (which the core layer runs under its module state lock). */
/* Did our C_Initialize get CKR_CRYPTOKI_ALREADY_INITIALIZED? Then the
 * application initialized the same module directly and owns finalization. */
static int backend_shared;
static struct dep11_profile backend_profile;
/* CKF_LIBRARY_CANT_CREATE_OS_THREADS when the application said so: the
 * backend runs in its process and is told the same. */
static CK_FLAGS backend_extra_flags;
/* The last dep11_hsm_reconnect's C_Initialize failed (state_lock held). */
static int backend_down;

/* The backend's C_Initialize (@args non-NULL) or C_Finalize (@args NULL),
 * under the profile's SIGPIPE guard and serial lock: a client library
 * connects to its server and says goodbye to it here. */
static CK_RV guarded(CK_FUNCTION_LIST *fl, CK_C_INITIALIZE_ARGS *args)
{
    struct dep11_hsm_sigpipe_state st;
    const int serial = dep11_hsm_serial;
    CK_RV rv = CKR_GENERAL_ERROR;

    memset(&st, 0, sizeof st);
    if (serial)
        dep11_hsm_serial_enter();
    if (dep11_hsm_sigpipe)
        dep11_hsm_sigpipe_enter(&st);
    rv = args != NULL ? fl->C_Initialize(args) : fl->C_Finalize(NULL);
    if (dep11_hsm_sigpipe)
        dep11_hsm_sigpipe_leave(&st);
    if (serial)
        dep11_hsm_serial_leave();
    return rv;
}

static CK_RV init_backend(CK_FUNCTION_LIST *fl, int *shared)
{
    CK_C_INITIALIZE_ARGS args;
    CK_RV rv = CKR_GENERAL_ERROR;

    /* Always OS locking, never the caller's pReserved: SoftHSM without the
     * flag turns its locking off and crashes under threads. */
    memset(&args, 0, sizeof args);
    args.flags = CKF_OS_LOCKING_OK | backend_extra_flags;
    args.pReserved = NULL;
    *shared = 0;
    rv = guarded(fl, &args);
    if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        LOG_INFO("backend already initialized by the application: "
                 "dep11 will not finalize it");
        *shared = 1;
        rv = CKR_OK;
    }
    if (rv != CKR_OK)
        LOG_ERROR("backend C_Initialize failed: %s", dep11_rv_name(rv));
    return rv;
}

/* dep11's own shared object: the one this function lives in. 1/0. */
static int self_object(Dl_info *self)
{
    return dladdr((const void *)&self_object, self) != 0 && self->dli_fname != NULL;
}

/*
 * Is @path dep11 itself? Loading it below dep11 would make C_Initialize
 * call itself and wait forever on its own lock (DESIGN section 7). Caught:
 * the same file under any name (device and inode: a symlink, a hard link,
 * another path), a copy (it exports DEP11_GetFunctionList: looked up with
 * dlsym, nothing in it is called), and a library whose C_GetFunctionList
 * is dep11's own. *@dl gets the library opened for the look-up (NULL if it
 * did not open: p11-kit then says why); the caller closes it after
 * p11-kit's own load, so a backend is not unloaded in between. Returns why,
 * or NULL.
 */
static const char *is_dep11(const char *path, void **dl)
{
    Dl_info self, other;
    struct stat a, b;
    void *gfl = NULL;
    int have_self = self_object(&self);

    *dl = NULL;
    if (have_self && stat(self.dli_fname, &a) == 0 && stat(path, &b) == 0 &&
        a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        return "the same file as dep11's own library";
    *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (*dl == NULL)
        return NULL;
    if (dlsym(*dl, "DEP11_GetFunctionList") != NULL)
        return "it exports DEP11_GetFunctionList: a copy of dep11";
    gfl = dlsym(*dl, "C_GetFunctionList");
    if (have_self && gfl != NULL && dladdr(gfl, &other) != 0 &&
        other.dli_fbase == self.dli_fbase)
        return "its C_GetFunctionList is dep11's own";
    return NULL;
}

/**
 * Loads @profile->module (p11_kit_module_load, P11_KIT_MODULE_UNMANAGED, so
 * that p11-kit does not call C_Initialize(NULL) itself) and initializes it
 * with CKF_OS_LOCKING_OK. Loading twice without unload is CKR_OK (no-op).
 * @profile [in] copied; the caller keeps ownership.
 * Returns CKR_OK; CKR_ARGUMENTS_BAD (NULL or empty module path);
 * CKR_FUNCTION_FAILED (cannot load: a LOG_ERROR line names the path and
 * p11-kit's message; the module is dep11 itself: a LOG_ERROR line names the
 * profile file and line); the backend's C_Initialize result.
 */
CK_RV dep11_hsm_load(const struct dep11_profile *profile)
{
    CK_FUNCTION_LIST *fl = NULL;
    void *probe = NULL;
    const char *self = NULL;
    int shared = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (profile == NULL || profile->module[0] == '\0') {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "no backend module path");
        goto out;
    }
    /* The profile's changes to the classification table, before any call
     * is classified. */
    dep11_hsm_classify_set(profile->fault_override, profile->fault_overrides);
    if (dep11_hsm_backend != NULL) {
        rv = CKR_OK;
        goto out;
    }
    if ((self = is_dep11(profile->module, &probe)) != NULL) {
        rv = CKR_FUNCTION_FAILED;
        LOG_ERROR("%s:%u: module %s is dep11 itself (%s); a profile names the HSM's "
                  "PKCS#11 library", profile->path, profile->module_line, profile->module,
                  self);
        goto out;
    }
    fl = p11_kit_module_load(profile->module, P11_KIT_MODULE_UNMANAGED);
    if (fl == NULL) {
        const char *msg = p11_kit_message();

        rv = CKR_FUNCTION_FAILED;
        LOG_ERROR("cannot load HSM module %s: %s", profile->module,
                  msg != NULL ? msg : "unknown error");
        goto out;
    }
    dep11_hsm_sigpipe = profile->block_sigpipe;
    dep11_hsm_serial = profile->backend_serial;
    rv = init_backend(fl, &shared);
    if (rv != CKR_OK) {
        dep11_hsm_sigpipe = 0;
        dep11_hsm_serial = 0;
        goto out;
    }
    backend_profile = *profile;
    backend_shared = shared;
    dep11_hsm_backend = fl;
    dep11_hsm_tracing = dep11_log_enabled(DEP11_LOG_DEBUG);
    fl = NULL;
    LOG_DEBUG("backend %s loaded (%s)", profile->module,
              shared ? "shared initialization" : "initialized by dep11");
out:
    if (fl != NULL)
        p11_kit_module_release(fl);
    if (probe != NULL)
        (void)dlclose(probe);
    return rv;
}

/**
 * The application's CKF_LIBRARY_CANT_CREATE_OS_THREADS (@no_threads 1/0),
 * passed on to the backend's C_Initialize with CKF_OS_LOCKING_OK at the next
 * load (a backend that needs threads then answers CKR_NEED_TO_CREATE_THREADS).
 */
void dep11_hsm_set_no_threads(int no_threads)
{
    backend_extra_flags = no_threads ? CKF_LIBRARY_CANT_CREATE_OS_THREADS : 0;
}

/**
 * Finalizes the backend (unless the application initialized it: then it is
 * the application's to finalize) and releases it. Worker sessions are
 * forgotten (C_Finalize closed them). Safe when not loaded.
 */
void dep11_hsm_unload(void)
{
    CK_FUNCTION_LIST *fl = dep11_hsm_backend;

    if (fl == NULL)
        return;
    dep11_hsm_backend = NULL;
    dep11_hsm_own_sessions_forget();
    if (!backend_shared && !backend_down) {
        CK_RV rv = guarded(fl, NULL);

        if (rv != CKR_OK)
            LOG_WARN("backend C_Finalize: %s", dep11_rv_name(rv));
    }
    backend_shared = 0;
    backend_down = 0;
    dep11_hsm_sigpipe = 0;
    dep11_hsm_serial = 0;
    p11_kit_module_release(fl);
}

/**
 * In a forked child: forget the parent's sessions, then initialize the
 * backend for this process.
 *
 * What works (measured with SoftHSM 2.6.1, see test_provider.c): a child's
 * plain C_Initialize answers CKR_CRYPTOKI_ALREADY_INITIALIZED and leaves the
 * child a copy of the parent's sessions and login state (and of any mutex
 * another parent thread held at fork time). C_Finalize followed by
 * C_Initialize gives the child a clean backend, and the parent's sessions
 * stay valid: an in-process module's state after fork is the child's private
 * copy, so finalizing it touches nothing of the parent's. So when dep11
 * initialized the backend it finalizes the child's copy and initializes
 * again; when the application did (shared), the application re-initializes
 * its own module and dep11 only calls C_Initialize (ALREADY_INITIALIZED ok).
 * A network HSM whose C_Finalize would close the parent's connection must
 * detect fork itself, as the PKCS#11 spec asks of modules.
 * @profile [in] the profile (its module must be the one loaded).
 * Returns CKR_OK or as dep11_hsm_load.
 */
CK_RV dep11_hsm_reload_after_fork(const struct dep11_profile *profile)
{
    CK_FUNCTION_LIST *fl = dep11_hsm_backend;
    int shared = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    dep11_hsm_locks_forget();
    dep11_hsm_own_sessions_forget();
    if (fl == NULL) {
        rv = dep11_hsm_load(profile);
        goto out;
    }
    if (profile != NULL && strcmp(profile->module, backend_profile.module) != 0) {
        /* A different module: the parent's stays as it is (not finalized:
         * the parent owns it); load the new one. */
        dep11_hsm_backend = NULL;
        backend_shared = 0;
        rv = dep11_hsm_load(profile);
        goto out;
    }
    if (!backend_shared)
        (void)guarded(fl, NULL);
    rv = init_backend(fl, &shared);
    if (rv != CKR_OK) {
        dep11_hsm_backend = NULL;
        goto out;
    }
    /* Remains shared if it was; a child cannot take ownership. */
    backend_shared = backend_shared || shared;
    if (profile != NULL) {
        backend_profile = *profile;
        dep11_hsm_classify_set(profile->fault_override, profile->fault_overrides);
    }
out:
    return rv;
}

/**
 * Profile "reconnect = yes" (core/module.c): the same library finalized and
 * initialized again in this process, for a backend that lost its HSM (a
 * client library whose server went away answers every call with an error
 * until it is initialized again). Its sessions are forgotten (they died with
 * the connection). Never for a backend the application initialized itself.
 * Returns CKR_OK; CKR_CRYPTOKI_NOT_INITIALIZED (not loaded, or shared); the
 * backend's C_Initialize result (the HSM still away).
 */
CK_RV dep11_hsm_reconnect(void)
{
    CK_FUNCTION_LIST *fl = dep11_hsm_backend;
    int shared = 0;
    CK_RV rv = CKR_CRYPTOKI_NOT_INITIALIZED;

    if (fl == NULL || backend_shared) {
        LOG_FAIL(rv, "no backend of dep11's own to initialize again");
        return rv;
    }
    dep11_hsm_own_sessions_forget();
    if (!backend_down) /* not after a failed C_Initialize */
        (void)guarded(fl, NULL);
    rv = init_backend(fl, &shared);
    backend_down = rv != CKR_OK;
    if (rv == CKR_OK && shared) /* another initialization came between */
        backend_shared = 1;
    return rv;
}

/**
 * The backend's function list; NULL when not loaded. Owned by this file.
 */
CK_FUNCTION_LIST *dep11_hsm(void)
{
    return dep11_hsm_backend;
}

/**
 * The profile the backend was loaded with (a copy owned by this file);
 * NULL when not loaded.
 */
const struct dep11_profile *dep11_hsm_profile(void)
{
    return dep11_hsm_backend != NULL ? &backend_profile : NULL;
}

/**
 * Did the application initialize the backend itself (dep11 then never
 * finalizes it)? 1/0.
 */
int dep11_hsm_is_shared(void)
{
    return dep11_hsm_backend != NULL && backend_shared;
}
