/*
 * lock.h - the module's locks. Lock order (never take an earlier one while
 * holding a later one):
 *   1. module state lock   (core/module.c: init/finalize, global tables)
 *   2. session table lock  (core/session.c: handle -> session lookups)
 *   3. object table lock   (core/object.c: module-side objects)
 *   4. per-session lock    (operation state of one session)
 *   5. provider create lock (hsm/provider_keys.c: held across the HSM calls
 *      that create provider keys, so one thread of a process creates them)
 *   6. provider pool lock  (hsm/provider.c: dep11's own sessions; never held
 *      across an HSM call)
 *   7. leaf locks: the policy-key cache (hier/cache.c), the audit log
 *      (util/audit.c), the list of abandoned task threads and each task
 *      group's lock (util/tasks.c); nothing is taken under them but the
 *      log lock
 *      and the backend's C_GetTokenInfo lock (hsm/backend.c)
 *   8. log lock            (util/log.c)
 * The data path (AEAD on a module key) takes only the per-session lock.
 */
#ifndef DEP11_UTIL_LOCK_H
#define DEP11_UTIL_LOCK_H

#include <pthread.h>

typedef pthread_mutex_t dep11_mutex_t;
#define DEP11_MUTEX_INIT PTHREAD_MUTEX_INITIALIZER

static inline void dep11_lock(dep11_mutex_t *m) { (void)pthread_mutex_lock(m); }
static inline void dep11_unlock(dep11_mutex_t *m) { (void)pthread_mutex_unlock(m); }

#endif
