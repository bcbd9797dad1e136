/*
 * lock.h - the module's locks, every one of them, in lock order (never take
 * an earlier one while holding a later one):
 *   1.  module state lock    (core/module.c state_lock: init/finalize,
 *                             global tables)
 *   1b. session control lock (core/session.c control_lock: close of a
 *                             slot's last session, login, logout; held
 *                             across those backend calls so that "last
 *                             session closed" and a login cannot interleave;
 *                             an open and any other close take only lock 2)
 *   2.  session table lock   (core/session.c table_lock, a dep11_spin_t:
 *                             handle -> session lookups and the login
 *                             records; held only for those)
 *   3.  object table lock    (core/object.c obj_lock: module-side objects)
 *   4.  per-session lock     (struct dep11_session.lock, core/internal.h:
 *                             operation state of one session)
 *   5.  provider object lock (hsm/provider.c objects_lock, a reader/writer
 *                             lock: held across one provider operation's
 *                             backend calls, shared by readers, alone by a
 *                             write of dep11's own provider-token objects;
 *                             taken after a pool session, given up before
 *                             the session goes back: never with 6 held)
 *   6.  provider pool lock   (hsm/provider.c pool.lock: dep11's own sessions;
 *                             never held across an HSM call)
 *   7.  leaf locks: nothing is taken under them but the log lock
 *       - each allow-list shard's lock    (core/allow.c)
 *       - the provider key-handle cache   (hsm/provider_keys.c cache_lock)
 *       - the token serial table          (hsm/provider_state.c serial_lock)
 *       - the own-session registry        (hsm/own_sessions.c reg_lock)
 *       - the backend's C_GetTokenInfo    (hsm/call.c token_info_lock; held
 *                                          across that one backend call)
 *       - the backend's serial lock       (hsm/call.c serial_lock, with the
 *                                          profile's backend-calls = serial:
 *                                          held across each backend call; the
 *                                          only lock taken under
 *                                          token_info_lock)
 *       - the policy-key cache            (hier/cache.c)
 *       - the dep11 request table         (core/vendor_obj.c vreq_lock)
 *       - the root-identity memo          (crypto/rsa.c id_lock; only tried)
 *       - the customer root handle hints  (hier/copy_open.c hint_lock)
 *       - the policy facts memo           (hier/facts.c memo.lock)
 *       - the audit log                   (util/audit.c audit_lock)
 *       - the list of abandoned task threads and each task group's lock
 *                                         (util/tasks.c)
 *   8.  log lock             (util/log.c log_mutex)
 * The data path (AEAD on a module key) takes the session table lock (a spin
 * lock) and the object table lock each for one look-up (never held across
 * work), then the per-session lock for the operation; a backend call through
 * hsm/call.h takes none (but the serial lock with backend-calls = serial).
 */
#ifndef DEP11_UTIL_LOCK_H
#define DEP11_UTIL_LOCK_H

#include <pthread.h>
#include <sched.h>

typedef pthread_mutex_t dep11_mutex_t;
#define DEP11_MUTEX_INIT PTHREAD_MUTEX_INITIALIZER

static inline void dep11_lock(dep11_mutex_t *m) { (void)pthread_mutex_lock(m); }
static inline void dep11_unlock(dep11_mutex_t *m) { (void)pthread_mutex_unlock(m); }

/* A spin lock for the session table, taken on every call that names a
 * session: uncontended it costs a fifth of a pthread mutex (about 10
 * instructions for a pair against 55). Only for short critical sections
 * (look-ups, an occasional table growth); never held across a backend call,
 * a walk of many objects or a sleep. Test-and-test-and-set; a waiter yields
 * the CPU after a few spins, so a preempted holder is not starved. */
typedef struct {
    int held; /* atomic */
} dep11_spin_t;
#define DEP11_SPIN_INIT                                                                        \
    {                                                                                          \
        0                                                                                      \
    }

static inline void dep11_spin_lock(dep11_spin_t *l)
{
    unsigned spins = 0;

    while (__atomic_exchange_n(&l->held, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&l->held, __ATOMIC_RELAXED))
            if (++spins % 64 == 0)
                (void)sched_yield();
}

static inline void dep11_spin_unlock(dep11_spin_t *l)
{
    __atomic_store_n(&l->held, 0, __ATOMIC_RELEASE);
}

#endif
