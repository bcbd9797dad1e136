/*
 * own_sessions.h - sessions dep11 opens on the backend for itself: worker
 * sessions (the consumer's session may have an operation active) and the
 * provider pool's, all recorded so that a consumer can never use one.
 */
#ifndef DEP11_HSM_OWN_SESSIONS_H
#define DEP11_HSM_OWN_SESSIONS_H

#include <p11-kit/pkcs11.h>

/* Opens a session of dep11's own on @slot (R/O, serial). Login state is the
 * application's, so it sees what the consumer's logged-in session sees.
 * The handle is recorded so that consumers can never use it. */
CK_RV dep11_hsm_worker_open(CK_SLOT_ID slot, CK_SESSION_HANDLE *out);
void dep11_hsm_worker_close(CK_SESSION_HANDLE s);

/* Is @h a session dep11 opened for itself (worker or provider)? */
int dep11_hsm_is_own_session(CK_SESSION_HANDLE h);

/* The registry behind dep11_hsm_is_own_session: provider.c records its pool
 * sessions here too. _add returns CKR_OK or CKR_HOST_MEMORY. */
CK_RV dep11_hsm_own_session_add(CK_SESSION_HANDLE h, CK_SLOT_ID slot);
void dep11_hsm_own_session_del(CK_SESSION_HANDLE h);
/* The slot of own session @h; CKR_SESSION_HANDLE_INVALID if not ours. */
CK_RV dep11_hsm_own_session_slot(CK_SESSION_HANDLE h, CK_SLOT_ID *slot);
/* Empties the registry without closing anything (unload, forked child). */
void dep11_hsm_own_sessions_forget(void);

#endif
