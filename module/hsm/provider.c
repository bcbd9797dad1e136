/*
 * provider.c - dep11's own token: finding it, logging in, the pool of RW
 * sessions every provider operation borrows one from (with reopen/re-login
 * and retry), and the set of provider-object handles consumers must never
 * name. The keys themselves are in provider_keys.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <p11-kit/uri.h>

#include "hsm/backend.h"
#include "hsm/internal.h"
#include "hsm/profile_check.h"
#include "hsm/provider.h"
#include "hsm/provider_int.h"
#include "hsm/provider_mark.h"
#include "hsm/rsa.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/secmem.h"

/*
 * The token is hidden from consumers, and it must be a different token from
 * every customer token. dep11 cannot tell which tokens consumers log in to:
 * if the config names a token where a consumer also logs in, that consumer
 * shares dep11's login (a C_Logout of its own logs dep11 out, which the
 * retry below repairs) and is the consumer's problem; the docs say so.
 */

#define PIN_MAX 256

/* ---- the session pool (lock.h level 5: never held across an HSM call) ---- */
static struct {
    dep11_mutex_t lock;
    pthread_cond_t cond;
    int open;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE anchor;       /* never lent: see dep11_provider_open */
    unsigned max, nopen;            /* limit; sessions open (free + in use) */
    CK_SESSION_HANDLE *free;        /* max entries */
    size_t nfree;
    unsigned retries, backoff_ms;
    CK_UTF8CHAR label[32];          /* the token's label, as C_GetTokenInfo gives it */
    char pin_src[DEP11_CONF_PATH_MAX];
} pool = { .lock = DEP11_MUTEX_INIT, .cond = PTHREAD_COND_INITIALIZER };

/* pool.open and pool.slot published for dep11_provider_is_slot without the
 * pool lock (every C_OpenSession asks): written under the lock, the slot
 * before the flag. */
static int pub_open;
static CK_SLOT_ID pub_slot;

/* ---- token and login ---- */

static int label_matches(const CK_TOKEN_INFO *ti, const char *label)
{
    char want[sizeof ti->label];
    size_t n = strlen(label);

    if (n > sizeof want)
        return 0;
    memset(want, ' ', sizeof want);
    memcpy(want, label, n);
    return memcmp(want, ti->label, sizeof want) == 0;
}

/* The one slot whose token matches @spec (label or pkcs11: URI), and the
 * token's label. A setting that matches two tokens is refused: the provider
 * token must be one token, distinct from every customer token. */
static CK_RV find_slot(const char *spec, CK_SLOT_ID *slot, CK_UTF8CHAR label[32])
{
    P11KitUri *uri = NULL;
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n = 0, i = 0, matches = 0;
    CK_TOKEN_INFO ti;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (strncmp(spec, "pkcs11:", 7) == 0) {
        uri = p11_kit_uri_new();
        if (uri == NULL || p11_kit_uri_parse(spec, P11_KIT_URI_FOR_TOKEN, uri) != P11_KIT_URI_OK) {
            rv = uri == NULL ? CKR_HOST_MEMORY : CKR_FUNCTION_FAILED;
            LOG_ERROR("provider-token: cannot parse URI %s", spec);
            goto out;
        }
    }
    rv = dep11_hsm_GetSlotList(CK_TRUE, NULL, &n);
    if (rv != CKR_OK || n == 0)
        goto none;
    slots = calloc(n, sizeof *slots);
    if (slots == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    rv = dep11_hsm_GetSlotList(CK_TRUE, slots, &n);
    if (rv != CKR_OK)
        goto none;
    for (i = 0; i < n; i++) {
        if (dep11_hsm_GetTokenInfo(slots[i], &ti) != CKR_OK)
            continue;
        if (uri != NULL ? p11_kit_uri_match_token_info(uri, &ti) == 1
                        : label_matches(&ti, spec)) {
            if (matches++ == 0) {
                *slot = slots[i];
                memcpy(label, ti.label, sizeof ti.label);
            }
        }
    }
    if (matches == 1) {
        rv = CKR_OK;
        goto out;
    }
    if (matches > 1) {
        rv = CKR_FUNCTION_FAILED;
        LOG_ERROR("provider-token %s matches %lu tokens: the provider token must be "
                  "exactly one token (a consumer may have initialized a token with its "
                  "label); refusing to start", spec, (unsigned long)matches);
        goto out;
    }
none:
    LOG_ERROR("provider token %s not found (%s)", spec, dep11_rv_name(rv));
    rv = CKR_TOKEN_NOT_PRESENT;
out:
    free(slots);
    if (uri != NULL)
        p11_kit_uri_free(uri);
    return rv;
}

/* C_Login(CKU_USER) on @s with the PIN read afresh from its source. */
static CK_RV login(CK_SESSION_HANDLE s)
{
    char *pin = dep11_secmem_alloc(PIN_MAX);
    size_t len = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (pin == NULL) {
        rv = CKR_HOST_MEMORY;
        LOG_FAIL(rv, "PIN buffer");
        goto out;
    }
    rv = dep11_config_read_pin(pool.pin_src, pin, PIN_MAX, &len);
    if (rv != CKR_OK)
        goto out;
    rv = dep11_hsm_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, len);
    if (rv == CKR_USER_ALREADY_LOGGED_IN)
        rv = CKR_OK;
    if (rv != CKR_OK)
        LOG_ERROR("login to the provider token failed: %s", dep11_rv_name(rv));
out:
    dep11_secmem_free(pin, PIN_MAX);
    return rv;
}

/* ---- the pool ---- */

/* Borrows a session: a free one, a new one under the limit, else waits. */
static CK_RV take(CK_SESSION_HANDLE *out)
{
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    CK_SLOT_ID slot = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    /* ---- locked: pool.lock ---- */
    dep11_lock(&pool.lock);
    while (pool.open && pool.nfree == 0 && pool.nopen >= pool.max)
        (void)pthread_cond_wait(&pool.cond, &pool.lock);
    if (!pool.open) {
        dep11_unlock(&pool.lock);
        rv = CKR_CRYPTOKI_NOT_INITIALIZED;
        LOG_FAIL(rv, "provider token not open");
        return rv;
    }
    if (pool.nfree > 0) {
        *out = pool.free[--pool.nfree];
        dep11_unlock(&pool.lock);
        return CKR_OK;
    }
    pool.nopen++;
    slot = pool.slot;
    dep11_unlock(&pool.lock);
    /* ---- unlocked: open a new session ---- */
    rv = dep11_hsm_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                               NULL, NULL, &h);
    if (rv == CKR_OK) {
        rv = dep11_hsm_own_session_add(h, slot);
        if (rv != CKR_OK)
            (void)dep11_hsm_CloseSession(h);
    }
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "opening a provider session");
        dep11_lock(&pool.lock);
        pool.nopen--;
        (void)pthread_cond_signal(&pool.cond);
        dep11_unlock(&pool.lock);
        return rv;
    }
    *out = h;
    return CKR_OK;
}

static void close_sessions(CK_SESSION_HANDLE *v, size_t n)
{
    size_t i = 0;

    for (i = 0; i < n; i++) {
        dep11_hsm_own_session_del(v[i]);
        (void)dep11_hsm_CloseSession(v[i]);
    }
}

/* Gives @s back. @drop: the last call on it failed, so an operation may
 * still be active on it (a backend that does not end operations on every
 * error): close it rather than hand it to the next caller. @lost: the
 * session is dead; close the free ones too (a lost session usually means
 * all of them were closed). */
static void give(CK_SESSION_HANDLE s, int drop, int lost)
{
    CK_SESSION_HANDLE *dead = NULL;
    size_t ndrop = 0;

    dep11_lock(&pool.lock);
    if (!drop && !lost && pool.open) {
        pool.free[pool.nfree++] = s;
        (void)pthread_cond_signal(&pool.cond);
        dep11_unlock(&pool.lock);
        return;
    }
    if (lost && pool.nfree > 0 && (dead = malloc(pool.nfree * sizeof *dead)) != NULL) {
        memcpy(dead, pool.free, pool.nfree * sizeof *dead);
        ndrop = pool.nfree;
        pool.nopen -= (unsigned)ndrop;
        pool.nfree = 0;
    }
    pool.nopen--;
    (void)pthread_cond_broadcast(&pool.cond);
    dep11_unlock(&pool.lock);
    close_sessions(&s, 1);
    close_sessions(dead, ndrop);
    free(dead);
}

/* dep11's own use of the provider token's objects: readers share it,
 * writers hold it alone (provider_int.h). Writer-preferring where glibc
 * offers it, so that a stream of cold unwraps cannot starve a commit (that
 * kind may not be taken twice by one thread: no provider operation runs
 * another inside it). */
#ifdef PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP
static pthread_rwlock_t objects_lock = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
#else
static pthread_rwlock_t objects_lock = PTHREAD_RWLOCK_INITIALIZER;
#endif

/* @fn(@s, @arg) under the object lock, exclusive when @write. */
static CK_RV locked(dep11_provider_fn fn, CK_SESSION_HANDLE s, void *arg, int write)
{
    CK_RV rv = CKR_GENERAL_ERROR;

    if (write)
        (void)pthread_rwlock_wrlock(&objects_lock);
    else
        (void)pthread_rwlock_rdlock(&objects_lock);
    rv = fn(s, arg);
    (void)pthread_rwlock_unlock(&objects_lock);
    return rv;
}

static CK_RV run(dep11_provider_fn fn, void *arg, int write)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    struct dep11_hsm_retry r;
    CK_RV rv = take(&s);

    if (rv != CKR_OK)
        return rv;
    rv = locked(fn, s, arg, write);
    dep11_hsm_retry_start(&r, pool.retries, pool.backoff_ms,
                          DEP11_HSM_RETRY_SESSION_LOST | DEP11_HSM_RETRY_LOGGED_OUT);
    while (dep11_hsm_retry_again(&r, rv)) {
        LOG_INFO("provider session %lu: %s; retrying", (unsigned long)s, dep11_rv_name(rv));
        if (dep11_hsm_session_lost(rv)) {
            give(s, 1, 1);
            rv = take(&s);
            if (rv != CKR_OK)
                return rv;
        }
        /* Lost sessions mean C_CloseAllSessions, which also logs out. */
        rv = login(s);
        if (rv == CKR_OK)
            rv = locked(fn, s, arg, write);
    }
    give(s, rv != CKR_OK, dep11_hsm_session_lost(rv));
    return rv;
}

/** dep11_provider_run - see provider_int.h. */
CK_RV dep11_provider_run(dep11_provider_fn fn, void *arg)
{
    return run(fn, arg, 0);
}

/** dep11_provider_run_write - see provider_int.h. */
CK_RV dep11_provider_run_write(dep11_provider_fn fn, void *arg)
{
    return run(fn, arg, 1);
}

/* ---- open / close ---- */

static CK_RV pool_setup(const struct dep11_config *cfg, CK_SLOT_ID slot,
                        const CK_UTF8CHAR label[32])
{
    const struct dep11_profile *p = &cfg->profile;
    unsigned max = p->max_sessions ? p->max_sessions : 8;
    CK_SESSION_HANDLE *v = calloc(max, sizeof *v);

    if (v == NULL)
        return CKR_HOST_MEMORY;
    dep11_lock(&pool.lock);
    free(pool.free);
    pool.free = v;
    pool.nfree = 0;
    pool.nopen = 0;
    pool.max = max;
    pool.slot = slot;
    pool.retries = p->retries;
    pool.backoff_ms = p->backoff_ms;
    memcpy(pool.label, label, sizeof pool.label);
    memcpy(pool.pin_src, cfg->provider_pin, sizeof pool.pin_src);
    pool.pin_src[sizeof pool.pin_src - 1] = '\0';
    pool.open = 1;
    __atomic_store_n(&pub_slot, slot, __ATOMIC_RELAXED);
    __atomic_store_n(&pub_open, 1, __ATOMIC_RELEASE);
    dep11_unlock(&pool.lock);
    return CKR_OK;
}

/* The anchor session is never lent out and stays open until close: when
 * the last session of an application on a token closes, the login ends
 * and SoftHSM drops every object handle of the token, so a pool that
 * closes a failed session must never close the last one. Opens it on
 * @slot and logs in. */
static CK_RV open_anchor(CK_SLOT_ID slot)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_RV rv = dep11_hsm_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);

    if (rv != CKR_OK)
        return rv;
    pool.anchor = s;
    rv = dep11_hsm_own_session_add(s, slot);
    if (rv == CKR_OK)
        rv = login(s);
    return rv;
}

/* After the start-up checks, with nothing borrowed: the checks found every
 * provider key, both halves of each pair, and the backend keeps a handle
 * for each until the token's last session in the process closes. SoftHSM
 * walks every handle of the process at each C_CloseSession, a consumer's
 * too. So every session closes (the login ends with the last) and the
 * anchor opens again, logged in: only the keys in use get a handle again
 * (found on first use). The pool stays open throughout (the provider slot
 * stays refused to consumers). One more C_Login at start. */
static CK_RV restart_sessions(CK_SLOT_ID slot)
{
    CK_SESSION_HANDLE *fresh = calloc(pool.max, sizeof *fresh), *old = NULL;
    size_t n = 0;

    if (fresh == NULL)
        return CKR_HOST_MEMORY;
    dep11_lock(&pool.lock);
    old = pool.free;
    n = pool.nfree;
    pool.free = fresh;
    pool.nfree = 0;
    pool.nopen -= (unsigned)n;
    dep11_unlock(&pool.lock);
    (void)dep11_hsm_Logout(pool.anchor);
    close_sessions(old, n);
    close_sessions(&pool.anchor, 1);
    pool.anchor = CK_INVALID_HANDLE;
    free(old);
    dep11_provider_keys_reset();
    dep11_provider_mark_reset();
    return open_anchor(slot);
}

/**
 * See provider.h. @cfg [in] provider_token, provider_pin and the profile
 * (max-sessions, retries, backoff-ms, provider-rsa-bits); the backend must be
 * loaded. Opening an open provider is CKR_OK. CKR_ARGUMENTS_BAD;
 * CKR_CRYPTOKI_NOT_INITIALIZED (no backend); CKR_TOKEN_NOT_PRESENT;
 * CKR_FUNCTION_FAILED (PIN source; two matching tokens; not provisioned);
 * CKR_PIN_INCORRECT and other backend codes.
 */
CK_RV dep11_provider_open(const struct dep11_config *cfg)
{
    CK_SLOT_ID slot = 0;
    CK_UTF8CHAR label[32];
    CK_RV rv = CKR_GENERAL_ERROR;

    if (cfg == NULL || cfg->provider_token[0] == '\0') {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "no provider token configured");
        return rv;
    }
    if (dep11_hsm() == NULL) {
        rv = CKR_CRYPTOKI_NOT_INITIALIZED;
        LOG_FAIL(rv, "backend not loaded");
        return rv;
    }
    if (pool.open)
        return CKR_OK;
    rv = find_slot(cfg->provider_token, &slot, label);
    if (rv == CKR_OK)
        rv = dep11_profile_check(&cfg->profile, slot); /* the profile's routes */
    if (rv != CKR_OK)
        return rv;
    rv = pool_setup(cfg, slot, label);
    if (rv == CKR_OK)
        rv = open_anchor(slot);
    /* Provisioned? (DESIGN section 2: dep11 never creates provider keys.) */
    if (rv == CKR_OK)
        rv = dep11_provider_keys_check(cfg->provider_token);
    if (rv == CKR_OK)
        rv = dep11_provider_oaep_check(cfg);
    /* Only where it pays: SoftHSM, whose close walks every handle (the
     * profile's object-handles = unique names it here). With the restart
     * on every backend, CI once failed over p11-kit remoting (test_remote,
     * CKR_GENERAL_ERROR after a reconnect; not understood), and neither
     * opencryptoki nor p11-kit walks handles at close. */
    if (rv == CKR_OK && cfg->profile.handles_unique)
        rv = restart_sessions(slot);
    if (rv != CKR_OK) {
        dep11_provider_close();
        return rv;
    }
    LOG_DEBUG("provider token %s open on slot %lu", cfg->provider_token,
              (unsigned long)slot);
    return CKR_OK;
}

/**
 * Logs dep11 out of the provider token and closes the pool's free sessions
 * (sessions still borrowed are closed when given back). Forgets cached key
 * handles. Safe when not open.
 */
void dep11_provider_close(void)
{
    CK_SESSION_HANDLE *v = NULL;
    size_t n = 0;

    dep11_lock(&pool.lock);
    if (!pool.open) {
        dep11_unlock(&pool.lock);
        return;
    }
    pool.open = 0;
    __atomic_store_n(&pub_open, 0, __ATOMIC_RELEASE);
    v = pool.free;
    n = pool.nfree;
    pool.free = NULL;
    pool.nfree = 0;
    pool.nopen -= (unsigned)n;
    (void)pthread_cond_broadcast(&pool.cond);
    dep11_unlock(&pool.lock);
    if (dep11_hsm() != NULL) {
        if (pool.anchor != CK_INVALID_HANDLE)
            (void)dep11_hsm_Logout(pool.anchor);
        close_sessions(v, n);
        if (pool.anchor != CK_INVALID_HANDLE)
            close_sessions(&pool.anchor, 1);
    }
    pool.anchor = CK_INVALID_HANDLE;
    free(v);
    dep11_provider_keys_reset();
    dep11_provider_mark_reset();
}

/**
 * In a forked child: forget the parent's provider sessions and cached
 * handles without any HSM call (the sessions are the parent's),
 * and re-create the locks (another thread may have held one at fork time).
 */
void dep11_provider_forget(void)
{
    /* A thread of the parent may have held it across the fork. */
    (void)pthread_rwlock_init(&objects_lock, NULL);
    (void)pthread_mutex_init(&pool.lock, NULL);
    (void)pthread_cond_init(&pool.cond, NULL);
    free(pool.free);
    pool.free = NULL;
    pool.nfree = 0;
    pool.nopen = 0;
    pool.open = 0;
    __atomic_store_n(&pub_open, 0, __ATOMIC_RELEASE);
    pool.anchor = CK_INVALID_HANDLE;
    dep11_provider_keys_reset();
    dep11_provider_mark_reset();
}

/** Is @slot the (open) provider token's slot? 1/0. */
int dep11_provider_is_slot(CK_SLOT_ID slot)
{
    return __atomic_load_n(&pub_open, __ATOMIC_ACQUIRE) &&
           __atomic_load_n(&pub_slot, __ATOMIC_RELAXED) == slot;
}

/* Length of @l (32 bytes) without trailing blanks and NULs. */
static size_t label_len(const CK_UTF8CHAR *l)
{
    size_t n = 32;

    while (n > 0 && (l[n - 1] == ' ' || l[n - 1] == '\0'))
        n--;
    return n;
}

/** Is @label (32 bytes, blank padded) the open provider token's? 1/0.
 * (A token label is public: a plain comparison.) */
int dep11_provider_is_label(const CK_UTF8CHAR *label)
{
    size_t n = 0, i = 0;
    int r = 0;

    if (label == NULL)
        return 0;
    n = label_len(label);
    dep11_lock(&pool.lock);
    r = pool.open && n == label_len(pool.label);
    for (i = 0; r && i < n; i++)
        r = label[i] == pool.label[i];
    dep11_unlock(&pool.lock);
    return r;
}
