/*
 * allow.h - the handle allow-list (DESIGN section 2): the backend object
 * handles dep11 handed to this application, per token (slot). A consumer
 * reaches a backend object only by a handle listed for its session's slot;
 * every other handle gets one answer whether or not an object exists behind
 * it. dep11's own calls (hier, hsm) use backend handles directly and never
 * consult the list.
 *
 * Concurrency: 32 shards by handle hash, each a mutex (a leaf: nothing is
 * taken under it) and a map; no lock is shared by all calls. Owned by
 * core/allow.c; used by core/object.c only.
 */
#ifndef DEP11_CORE_ALLOW_H
#define DEP11_CORE_ALLOW_H

#include <stdint.h>
#include <p11-kit/pkcs11.h>

/* Lists backend handle @h for @slot. @creator: the serial of the consumer
 * session that just created @h as a session object (it dies with that
 * session, and a backend may then give its number to another object), or 0
 * (a token object, or a handle a search found: an entry keeps the creator
 * it has). CKR_OK; CKR_HOST_MEMORY; CKR_ARGUMENTS_BAD (CK_INVALID_HANDLE). */
CK_RV dep11_allow_add(CK_SLOT_ID slot, CK_OBJECT_HANDLE h, uint64_t creator);
/* Is @h listed for @slot? 1/0. */
int dep11_allow_has(CK_SLOT_ID slot, CK_OBJECT_HANDLE h);
/* Unlists @h for @slot (a consumer's C_DestroyObject); a no-op if absent. */
void dep11_allow_del(CK_SLOT_ID slot, CK_OBJECT_HANDLE h);
/* Unlists the session objects session @creator made (its C_CloseSession:
 * they die with it). Visits every shard, one at a time. */
void dep11_allow_drop_creator(uint64_t creator);
/* Empties every list (C_Finalize; a forked child's re-initialization). */
void dep11_allow_fini(void);
/* pthread_atfork helpers: take / drop every shard lock (object.c's fork
 * helpers call them under the object table lock). */
void dep11_allow_fork_lock(void);
void dep11_allow_fork_unlock(void);
/* Number of listed (slot, handle) pairs (tests). */
unsigned long dep11_allow_count(void);

#endif
