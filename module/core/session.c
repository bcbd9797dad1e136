/*
 * session.c - the sessions dep11 opened for the consumer (the only session
 * handles it accepts), their references and locks, and the per-slot login
 * state that dep11 mechanisms check. Login, logout and closing the last
 * session of a slot end the module-side objects of that slot.
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/ops.h"
#include "core/ulmap.h"
#include "core/vendor_std.h"
#include "hsm/backend.h"
#include "hsm/call.h"
#include "hsm/provider.h"
#include "util/log.h"

/* Login state of one slot, as this application's sessions see it. */
struct slot_login {
    CK_SLOT_ID slot;
    CK_ULONG open;          /* consumer sessions open on the slot */
    int logged_in;
    CK_USER_TYPE who;       /* CKU_USER or CKU_SO while logged_in */
};

/* Lock order: control_lock (close of a slot's last session, login, logout,
 * close-all: held across those backend calls so that "last session closed"
 * and a login cannot interleave; an open and the close of a session that is
 * not its slot's last need only table_lock, see dep11_core_OpenSession and
 * dep11_core_CloseSession)
 * comes before table_lock (util/lock.h 2), which is held only for lookups. */
static dep11_mutex_t control_lock = DEP11_MUTEX_INIT;
static dep11_spin_t table_lock = DEP11_SPIN_INIT; /* util/lock.h: a spin lock */
static struct dep11_ulmap table;          /* handle -> struct dep11_session */
static struct slot_login *slots;          /* under table_lock */
static size_t n_slots, cap_slots;
static size_t slot_hint;                  /* under table_lock: see slot_state */
static uint64_t next_serial = 1;          /* under table_lock */

/* A few freed session structures, their mutexes still initialised, for the
 * next C_OpenSession (an open/close pair then costs no malloc, free or
 * mutex set-up). Under table_lock (a session is never released with a
 * later lock held), which the fork handlers hold across a fork. */
#define SPARE_MAX 8
static struct dep11_session *spare[SPARE_MAX];
static size_t n_spare;
/* The last freed structure, handed over without a lock (an atomic exchange
 * passes ownership: a close/open pair takes no lock for its structure). */
static struct dep11_session *recent;

/* Every field of @s but its lock back to zero (a mutex is never copied or
 * overwritten while it lives; a new field of struct dep11_session needs a
 * line here). */
static void session_clear(struct dep11_session *s)
{
    s->handle = CK_INVALID_HANDLE;
    s->slot = 0;
    s->serial = 0;
    s->refs = 0;
    s->enc = s->dec = NULL;
    s->enc_key = s->dec_key = NULL;
    s->msg[0] = s->msg[1] = NULL;
    memset(&s->find, 0, sizeof s->find);
    s->vstd = NULL;
    s->made = 0;
}

/* Frees what a session's module-side operations hold (cleansed by their
 * free functions). */
static void session_free_ops(struct dep11_session *s)
{
    dep11_aead_free(s->enc);
    dep11_aead_free(s->dec);
    dep11_object_release(s->enc_key);
    dep11_object_release(s->dec_key);
    dep11_vstd_free(s->vstd);
    dep11_msg_free(s->msg[0]);
    dep11_msg_free(s->msg[1]);
    free(s->find.module);
}

static void session_free(struct dep11_session *s)
{
    /* Most sessions never ran a module-side operation: seven NULL tests
     * instead of seven calls. */
    if (s->enc != NULL || s->dec != NULL || s->enc_key != NULL || s->dec_key != NULL ||
        s->vstd != NULL || s->msg[0] != NULL || s->msg[1] != NULL || s->find.module != NULL)
        session_free_ops(s);
    session_clear(s); /* the lock, unlocked and unused, stays initialised */
    s = __atomic_exchange_n(&recent, s, __ATOMIC_ACQ_REL);
    if (s == NULL)
        return;
    dep11_spin_lock(&table_lock);
    if (n_spare < SPARE_MAX) {
        spare[n_spare++] = s;
        s = NULL;
    }
    dep11_spin_unlock(&table_lock);
    if (s != NULL) {
        pthread_mutex_destroy(&s->lock);
        free(s);
    }
}

/* A zeroed session structure with an initialised lock, or NULL. */
static struct dep11_session *session_new(void)
{
    struct dep11_session *s = __atomic_exchange_n(&recent, NULL, __ATOMIC_ACQ_REL);

    if (s != NULL)
        return s;
    dep11_spin_lock(&table_lock);
    if (n_spare > 0)
        s = spare[--n_spare];
    dep11_spin_unlock(&table_lock);
    if (s != NULL)
        return s;
    s = calloc(1, sizeof *s);
    if (s != NULL && pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        s = NULL;
    }
    return s;
}

/* Frees the spare structures (C_Finalize, a forked child's re-init). */
static void spare_fini(void)
{
    struct dep11_session *gone[SPARE_MAX + 1];
    size_t n = 0;

    struct dep11_session *last = __atomic_exchange_n(&recent, NULL, __ATOMIC_ACQ_REL);

    dep11_spin_lock(&table_lock);
    n = n_spare;
    memcpy(gone, spare, n * sizeof *gone);
    n_spare = 0;
    dep11_spin_unlock(&table_lock);
    if (last != NULL)
        gone[n++] = last;
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_destroy(&gone[i]->lock);
        free(gone[i]);
    }
}

/* The login record of @slot; created when @create. Under table_lock.
 * Records are never removed (but all at once, dep11_sessions_fini), so the
 * index of the last one asked for is tried first. */
static inline struct slot_login *slot_state(CK_SLOT_ID slot, int create)
{
    struct slot_login *n = NULL;

    if (slot_hint < n_slots && slots[slot_hint].slot == slot)
        return &slots[slot_hint];
    for (size_t i = 0; i < n_slots; i++) {
        if (slots[i].slot == slot) {
            slot_hint = i;
            return &slots[i];
        }
    }
    if (!create)
        return NULL;
    if (n_slots == cap_slots) {
        size_t ncap = cap_slots ? cap_slots * 2 : 8;
        n = realloc(slots, ncap * sizeof *n);
        if (n == NULL)
            return NULL;
        slots = n;
        cap_slots = ncap;
    }
    memset(&slots[n_slots], 0, sizeof slots[n_slots]);
    slots[n_slots].slot = slot;
    return &slots[n_slots++];
}

/* The refusal of a session handle dep11 did not open for the consumer. */
static CK_RV unknown_session(CK_SESSION_HANDLE h)
{
    CK_RV rv = CKR_SESSION_HANDLE_INVALID;

    LOG_FAIL(rv, "session 0x%lx is not one dep11 opened for the consumer", h);
    return rv;
}

/* *@out gets a reference to consumer session @h. */
static CK_RV look_up(CK_SESSION_HANDLE h, struct dep11_session **out)
{
    struct dep11_session *s = NULL;

    /* --- table_lock: lookup only --- */
    dep11_spin_lock(&table_lock);
    s = dep11_ulmap_get(&table, h);
    if (s != NULL)
        __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
    dep11_spin_unlock(&table_lock);
    if (s == NULL)
        return unknown_session(h);
    *out = s;
    return CKR_OK;
}

/* Is @h one of the consumer's sessions? (No reference.) */
static inline int session_known(CK_SESSION_HANDLE h)
{
    int known = 0;

    dep11_spin_lock(&table_lock);
    known = dep11_ulmap_find(&table, h) != DEP11_ULMAP_NONE;
    dep11_spin_unlock(&table_lock);
    return known;
}

/**
 * dep11_session_acquire - see core.h. @out gets a reference.
 */
CK_RV dep11_session_acquire(CK_SESSION_HANDLE h, struct dep11_session **out)
{
    CK_RV rv = dep11_core_check_init();

    if (rv != CKR_OK)
        return rv;
    if (out == NULL)
        return CKR_ARGUMENTS_BAD;
    return look_up(h, out);
}

/**
 * dep11_session_release - see core.h. The last reference frees the
 * session's module-side operations, running or parked (cleansed by
 * dep11_aead_free): at C_CloseSession, C_CloseAllSessions, C_Finalize and
 * in a forked child (dep11_sessions_fini).
 */
void dep11_session_release(struct dep11_session *s)
{
    if (s != NULL && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0)
        session_free(s);
}

CK_SLOT_ID dep11_session_slot(const struct dep11_session *s) { return s->slot; }
CK_SESSION_HANDLE dep11_session_backend(const struct dep11_session *s) { return s->handle; }
uint64_t dep11_session_serial(const struct dep11_session *s) { return s->serial; }
void dep11_session_mark(struct dep11_session *s, int made)
{
    if ((__atomic_load_n(&s->made, __ATOMIC_ACQUIRE) & made) != made)
        (void)__atomic_fetch_or(&s->made, made, __ATOMIC_ACQ_REL);
}
int dep11_session_made(const struct dep11_session *s)
{
    return __atomic_load_n(&s->made, __ATOMIC_ACQUIRE);
}
void dep11_session_lock(struct dep11_session *s) { dep11_lock(&s->lock); }
void dep11_session_unlock(struct dep11_session *s) { dep11_unlock(&s->lock); }

/**
 * dep11_session_aead_slot - see core.h.
 */
struct dep11_aead_op **dep11_session_aead_slot(struct dep11_session *s, int encrypt)
{
    return encrypt ? &s->enc : &s->dec;
}

/**
 * dep11_session_aead_key - see core.h.
 */
struct dep11_object **dep11_session_aead_key(struct dep11_session *s, int encrypt)
{
    return encrypt ? &s->enc_key : &s->dec_key;
}

/**
 * dep11_session_msg_slot - see core.h.
 */
struct dep11_msg **dep11_session_msg_slot(struct dep11_session *s, int encrypt)
{
    return &s->msg[encrypt ? 1 : 0];
}

/**
 * dep11_session_require_user - see core.h. No backend call.
 */
CK_RV dep11_session_require_user(struct dep11_session *s)
{
    CK_RV rv = CKR_USER_NOT_LOGGED_IN;
    struct slot_login *l = NULL;

    dep11_spin_lock(&table_lock);
    l = slot_state(s->slot, 0);
    if (l != NULL && l->logged_in && l->who == CKU_USER)
        rv = CKR_OK;
    dep11_spin_unlock(&table_lock);
    if (rv != CKR_OK)
        LOG_FAIL(rv, "dep11 mechanisms need a user login on slot %lu", s->slot);
    return rv;
}

/* Inserts a new session for backend handle @h on @slot. */
static CK_RV session_add(CK_SESSION_HANDLE h, CK_SLOT_ID slot)
{
    CK_RV rv = CKR_HOST_MEMORY;
    struct dep11_session *s = session_new();
    struct slot_login *l = NULL;

    if (s == NULL) {
        LOG_FAIL(rv, "session 0x%lx", h);
        return rv;
    }
    s->handle = h;
    s->slot = slot;
    s->refs = 1;
    dep11_spin_lock(&table_lock);
    l = slot_state(slot, 1);
    /* CKR_GENERAL_ERROR from the map: the backend handed out a live handle
     * twice */
    if (l != NULL)
        rv = dep11_ulmap_add(&table, h, s);
    if (rv == CKR_OK) {
        s->serial = next_serial++;
        l->open++;
    }
    dep11_spin_unlock(&table_lock);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "cannot record session 0x%lx", h);
        session_free(s);
    }
    return rv;
}

/**
 * dep11_core_OpenSession - C_OpenSession on a consumer slot. The backend's
 * handle is the consumer's. Notifications are not forwarded (the backend
 * gets NULL callbacks). CKR_SLOT_ID_INVALID for the provider slot;
 * CKR_ARGUMENTS_BAD; backend codes; CKR_HOST_MEMORY.
 */
CK_RV dep11_core_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,
                             CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession)
{
    CK_RV rv = dep11_core_check_init();
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;

    if (rv != CKR_OK)
        return rv;
    if (phSession == NULL) {
        LOG_FAIL(CKR_ARGUMENTS_BAD, "phSession is NULL");
        return CKR_ARGUMENTS_BAD;
    }
    if (dep11_provider_is_slot(slotID)) {
        LOG_FAIL(CKR_SLOT_ID_INVALID, "slot %lu is dep11's own", slotID);
        return CKR_SLOT_ID_INVALID;
    }
    /* A second round after the profile's reconnect. No control_lock: the
     * new session joins its slot's record under table_lock in one step, so
     * a close of the slot's last session or a login/logout (which hold
     * control_lock across their backend calls) sees it either before (then
     * a close is not the last one) or after (then it starts logged out, as
     * the backend's logout of the token leaves it too); and an open does not
     * wait for another thread's C_Login. */
    for (int round = 0; round < 2; round++) {
        rv = dep11_hsm_OpenSession(slotID, flags, NULL, NULL, &h);
        if (rv == CKR_OK) {
            rv = session_add(h, slotID);
            if (rv != CKR_OK)
                (void)dep11_hsm_CloseSession(h);
        }
        if (rv == CKR_OK || round > 0 || !dep11_core_reconnect(&rv))
            break;
    }
    if (rv == CKR_OK)
        *phSession = h;
    return rv;
}

/* The rest of a close once @s left the table: the objects it made, at the
 * slot's last session (@last) the slot's module-side keys and its login
 * (@was_logged_in), the backend's session, and the table's reference. */
static CK_RV session_end(struct dep11_session *s, int last, int was_logged_in)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    const CK_SESSION_HANDLE h = s->handle;

    if (dep11_session_made(s) != 0)
        dep11_objects_destroy_session(s);
    if (last) {
        dep11_objects_destroy_slot(s->slot);
        /* dep11's own worker sessions may keep the token open: end the login
         * explicitly so that the next consumer session starts logged out. */
        if (was_logged_in)
            (void)dep11_hsm_Logout(h);
    }
    rv = dep11_hsm_CloseSession(h);
    if (rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED)
        rv = CKR_OK; /* gone below as well */
    /* Out of the table, @s gains no reference (look_up takes them under
     * table_lock from the table only): the table's alone, it is freed
     * without a locked read-modify-write. */
    if (__atomic_load_n(&s->refs, __ATOMIC_ACQUIRE) == 1)
        session_free(s);
    else
        dep11_session_release(s);
    return rv;
}

/* Removes session @h and everything it owns; control_lock held. */
static CK_RV session_close(CK_SESSION_HANDLE h)
{
    CK_RV rv = CKR_SESSION_HANDLE_INVALID;
    struct dep11_session *s = NULL;
    struct slot_login *l = NULL;
    int last = 0, was_logged_in = 0;

    dep11_spin_lock(&table_lock);
    s = dep11_ulmap_del(&table, h);
    l = s != NULL ? slot_state(s->slot, 0) : NULL;
    if (l != NULL) {
        last = --l->open == 0;
        was_logged_in = l->logged_in;
        if (last)
            l->logged_in = 0; /* PKCS#11: closing the last session logs out */
    }
    dep11_spin_unlock(&table_lock);
    if (s == NULL) {
        LOG_FAIL(rv, "session 0x%lx", h);
        return rv;
    }
    return session_end(s, last, was_logged_in);
}

/* Takes session @h out of the table when another consumer session of its
 * slot stays open (then the close changes no login state); NULL when @h is
 * absent or its slot's last session (session_close decides that one under
 * control_lock). */
static struct dep11_session *take_not_last(CK_SESSION_HANDLE h)
{
    struct dep11_session *s = NULL;
    struct slot_login *l = NULL;
    size_t i = DEP11_ULMAP_NONE;

    dep11_spin_lock(&table_lock);
    i = dep11_ulmap_find(&table, h);
    if (i != DEP11_ULMAP_NONE) {
        s = table.vals[i];
        l = slot_state(s->slot, 0);
        if (l != NULL && l->open > 1) {
            l->open--;
            (void)dep11_ulmap_del_at(&table, i);
        } else {
            s = NULL;
        }
    }
    dep11_spin_unlock(&table_lock);
    return s;
}

/**
 * dep11_core_CloseSession - C_CloseSession: frees the session's module-side
 * operations, destroys the module-side objects it created, and closes the
 * backend's session. CKR_SESSION_HANDLE_INVALID; backend codes.
 * A session that is not its slot's last leaves the table and the slot's
 * count in one step under table_lock and takes no control_lock: the login
 * state does not change, and a close of the slot's last session, a login or
 * a logout sees it either still open or gone, as with the lock. Only the
 * last session's close (which logs the slot out) holds control_lock.
 */
CK_RV dep11_core_CloseSession(CK_SESSION_HANDLE hSession)
{
    CK_RV rv = dep11_core_check_init();
    struct dep11_session *s = NULL;

    if (rv != CKR_OK)
        return rv;
    s = take_not_last(hSession);
    if (s != NULL)
        return session_end(s, 0, 0);
    dep11_lock(&control_lock);
    rv = session_close(hSession);
    dep11_unlock(&control_lock);
    return rv;
}

/**
 * dep11_core_CloseAllSessions - closes the consumer's sessions of @slotID one
 * by one (never the backend's C_CloseAllSessions: dep11's own sessions on
 * that token survive). CKR_SLOT_ID_INVALID (provider slot, or the backend
 * does not know it); CKR_HOST_MEMORY.
 */
CK_RV dep11_core_CloseAllSessions(CK_SLOT_ID slotID)
{
    CK_RV rv = dep11_core_check_init();
    CK_SESSION_HANDLE *hs = NULL;
    CK_SLOT_INFO info;
    size_t n = 0;

    if (rv != CKR_OK)
        return rv;
    if (dep11_provider_is_slot(slotID)) {
        rv = CKR_SLOT_ID_INVALID;
        LOG_FAIL(rv, "slot %lu is dep11's own", slotID);
        return rv;
    }
    rv = dep11_hsm_GetSlotInfo(slotID, &info);
    if (rv != CKR_OK)
        return rv;
    dep11_lock(&control_lock);
    dep11_spin_lock(&table_lock);
    hs = calloc(table.count + 1, sizeof *hs);
    for (size_t i = 0; hs != NULL && i < table.cap; i++) {
        struct dep11_session *s = table.vals[i];
        if (table.keys[i] != 0 && s->slot == slotID)
            hs[n++] = s->handle;
    }
    dep11_spin_unlock(&table_lock);
    rv = hs == NULL ? CKR_HOST_MEMORY : CKR_OK;
    for (size_t i = 0; i < n; i++) {
        CK_RV r = session_close(hs[i]);
        if (rv == CKR_OK && r != CKR_OK && r != CKR_SESSION_HANDLE_INVALID)
            rv = r;
    }
    dep11_unlock(&control_lock);
    free(hs);
    return rv;
}

/**
 * dep11_sessions_fini - see internal.h. No backend call.
 */
void dep11_sessions_fini(void)
{
    struct dep11_ulmap old;

    dep11_spin_lock(&table_lock);
    old = table;
    memset(&table, 0, sizeof table);
    free(slots);
    slots = NULL;
    n_slots = cap_slots = 0;
    dep11_spin_unlock(&table_lock);
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i] != 0)
            dep11_session_release(old.vals[i]);
    dep11_ulmap_free(&old);
    spare_fini();
}

/**
 * dep11_sessions_fork_lock / dep11_sessions_fork_unlock - see internal.h.
 */
void dep11_sessions_fork_lock(void)
{
    dep11_lock(&control_lock);
    dep11_spin_lock(&table_lock);
}

void dep11_sessions_fork_unlock(void)
{
    dep11_spin_unlock(&table_lock);
    dep11_unlock(&control_lock);
}

/**
 * dep11_core_GetSessionInfo - forwarded. CKR_SESSION_HANDLE_INVALID.
 * Only the look-up: the consumer's handle is the backend's (session_add),
 * and nothing of the structure is read after it, so no reference is taken
 * (a reference never kept the backend session open anyway: a close racing
 * this call closes it either way).
 */
CK_RV dep11_core_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo)
{
    CK_RV rv = dep11_core_check_init();

    if (rv != CKR_OK)
        return rv;
    if (!session_known(hSession))
        return unknown_session(hSession);
    return dep11_hsm_GetSessionInfo(hSession, pInfo);
}

/**
 * dep11_core_Login - forwarded; a success (or "already logged in") records
 * the slot's login state for dep11_session_require_user.
 */
CK_RV dep11_core_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType,
                       CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
    struct dep11_session *s = NULL;
    struct slot_login *l = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv != CKR_OK)
        return rv;
    dep11_lock(&control_lock);
    rv = dep11_hsm_Login(s->handle, userType, pPin, ulPinLen);
    if ((rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) &&
        (userType == CKU_USER || userType == CKU_SO)) {
        dep11_spin_lock(&table_lock);
        l = slot_state(s->slot, 1);
        if (l != NULL) {
            l->logged_in = 1;
            l->who = userType;
        }
        dep11_spin_unlock(&table_lock);
    }
    dep11_unlock(&control_lock);
    dep11_session_release(s);
    return rv;
}

/**
 * dep11_core_Logout - forwarded; when the token is logged out afterwards,
 * the slot's login state ends and its module-side objects are destroyed.
 */
CK_RV dep11_core_Logout(CK_SESSION_HANDLE hSession)
{
    struct dep11_session *s = NULL;
    struct slot_login *l = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv != CKR_OK)
        return rv;
    dep11_lock(&control_lock);
    rv = dep11_hsm_Logout(s->handle);
    if (rv == CKR_OK || rv == CKR_USER_NOT_LOGGED_IN) {
        dep11_spin_lock(&table_lock);
        l = slot_state(s->slot, 0);
        if (l != NULL)
            l->logged_in = 0;
        dep11_spin_unlock(&table_lock);
        dep11_objects_destroy_slot(s->slot);
    }
    dep11_unlock(&control_lock);
    dep11_session_release(s);
    return rv;
}

/**
 * dep11_core_InitPIN - forwarded (the PIN is never logged).
 */
CK_RV dep11_core_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
    struct dep11_session *s = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv != CKR_OK)
        return rv;
    rv = dep11_hsm_InitPIN(s->handle, pPin, ulPinLen);
    dep11_session_release(s);
    return rv;
}

/**
 * dep11_core_SetPIN - forwarded (the PINs are never logged).
 */
CK_RV dep11_core_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin,
                        CK_ULONG ulOldLen, CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen)
{
    struct dep11_session *s = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv != CKR_OK)
        return rv;
    rv = dep11_hsm_SetPIN(s->handle, pOldPin, ulOldLen, pNewPin, ulNewLen);
    dep11_session_release(s);
    return rv;
}

/**
 * dep11_core_GetOperationState - forwarded; CKR_STATE_UNSAVEABLE while a
 * module-side operation is active (its state holds key material; or a
 * vendor_std.c op or a message-based one, which the backend's state would
 * leave out).
 */
CK_RV dep11_core_GetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                                   CK_ULONG_PTR pulOperationStateLen)
{
    struct dep11_session *s = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv != CKR_OK)
        return rv;
    dep11_lock(&s->lock);
    if (dep11_aead_active(s->enc) || dep11_aead_active(s->dec) || s->vstd != NULL ||
        dep11_msg_active(s->msg[0]) || dep11_msg_active(s->msg[1])) {
        rv = CKR_STATE_UNSAVEABLE;
        LOG_FAIL(rv, "a module-side operation is active");
    } else {
        rv = dep11_hsm_GetOperationState(s->handle, pOperationState,
                                         pulOperationStateLen);
    }
    dep11_unlock(&s->lock);
    dep11_session_release(s);
    return rv;
}

/* A key handle given to C_SetOperationState, translated; module-side keys
 * are never part of a saved state (CKR_KEY_NOT_NEEDED). */
static CK_RV state_key(struct dep11_session *s, CK_OBJECT_HANDLE h, CK_OBJECT_HANDLE *out)
{
    struct dep11_object *obj = NULL;
    CK_RV rv = CKR_OK;

    *out = CK_INVALID_HANDLE;
    if (h == CK_INVALID_HANDLE)
        return CKR_OK;
    rv = dep11_object_resolve(s, h, &obj, out);
    if (rv == CKR_OBJECT_HANDLE_INVALID)
        rv = CKR_KEY_HANDLE_INVALID;
    if (rv == CKR_OK && obj != NULL) {
        rv = CKR_KEY_NOT_NEEDED;
        LOG_FAIL(rv, "module-side key 0x%lx is never part of a saved state", h);
        dep11_object_release(obj);
    }
    return rv;
}

/**
 * dep11_core_SetOperationState - forwarded with the key handles translated;
 * a restored state replaces any module-side operation of the session.
 */
CK_RV dep11_core_SetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                                   CK_ULONG ulOperationStateLen,
                                   CK_OBJECT_HANDLE hEncryptionKey,
                                   CK_OBJECT_HANDLE hAuthenticationKey)
{
    struct dep11_session *s = NULL;
    struct dep11_object *keys[2] = { NULL, NULL };
    CK_OBJECT_HANDLE enc = CK_INVALID_HANDLE, auth = CK_INVALID_HANDLE;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv != CKR_OK)
        return rv;
    rv = state_key(s, hEncryptionKey, &enc);
    if (rv == CKR_OK)
        rv = state_key(s, hAuthenticationKey, &auth);
    if (rv != CKR_OK)
        goto out;
    dep11_lock(&s->lock);
    rv = dep11_hsm_SetOperationState(s->handle, pOperationState, ulOperationStateLen,
                                     enc, auth);
    if (rv == CKR_OK) {
        dep11_aead_free(s->enc);
        dep11_aead_free(s->dec);
        s->enc = s->dec = NULL;
        keys[0] = s->enc_key;
        keys[1] = s->dec_key;
        s->enc_key = s->dec_key = NULL;
    }
    dep11_unlock(&s->lock);
    dep11_object_release(keys[0]);
    dep11_object_release(keys[1]);
out:
    dep11_session_release(s);
    return rv;
}

/**
 * dep11_core_GetFunctionStatus - forwarded (legacy).
 */
CK_RV dep11_core_GetFunctionStatus(CK_SESSION_HANDLE hSession)
{
    struct dep11_session *s = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv != CKR_OK)
        return rv;
    rv = dep11_hsm_GetFunctionStatus(s->handle);
    dep11_session_release(s);
    return rv;
}

/**
 * dep11_core_CancelFunction - forwarded (legacy).
 */
CK_RV dep11_core_CancelFunction(CK_SESSION_HANDLE hSession)
{
    struct dep11_session *s = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv != CKR_OK)
        return rv;
    rv = dep11_hsm_CancelFunction(s->handle);
    dep11_session_release(s);
    return rv;
}
