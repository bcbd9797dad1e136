/*
 * core.h - what the core files share: module state, the session table,
 * module-side objects and handle translation, template rules. The C_*
 * semantics live in the core files; api/ only dispatches to them.
 *
 * Ownership: core/module.c, session.c, object.c, find.c, attr.c, slot.c,
 * forward.c implement these; core/keyops.c and core/cipher.c use them.
 */
#ifndef DEP11_CORE_H
#define DEP11_CORE_H

#include "dep11.h"
#include "hier/hier.h"
#include "util/config.h"

struct dep11_session;
struct dep11_object;

/* --- module state (module.c) --------------------------------------------- */
/* CKR_OK when initialized in this process (a forked child that has not
 * called C_Initialize again gets CKR_CRYPTOKI_NOT_INITIALIZED). */
CK_RV dep11_core_check_init(void);
/* The loaded config; valid while initialized. */
const struct dep11_config *dep11_core_config(void);

/* --- sessions (session.c) -------------------------------------------------- */
/* Looks up a session dep11 opened for the consumer and takes a reference.
 * CKR_CRYPTOKI_NOT_INITIALIZED; CKR_SESSION_HANDLE_INVALID for any other
 * handle (dep11's own sessions included). */
CK_RV dep11_session_acquire(CK_SESSION_HANDLE h, struct dep11_session **out);
void dep11_session_release(struct dep11_session *s);
CK_SLOT_ID dep11_session_slot(const struct dep11_session *s);
/* The backend's handle of this session (what standard calls forward to). */
CK_SESSION_HANDLE dep11_session_backend(const struct dep11_session *s);
/* CKR_OK if the session's token is logged in as user (tracked from
 * C_Login/C_Logout/session closes: no backend call), else
 * CKR_USER_NOT_LOGGED_IN. */
CK_RV dep11_session_require_user(struct dep11_session *s);
/* Per-session operation state. Lock order: see util/lock.h (4). */
void dep11_session_lock(struct dep11_session *s);
void dep11_session_unlock(struct dep11_session *s);
/* The slot holding the module-side encrypt (@encrypt=1) or decrypt op of
 * this session; NULL inside, or an op that is not dep11_aead_active (parked
 * for reuse by the next Init), means none is running (a backend op may be).
 * The session frees what the slot holds when it goes. Call with the
 * session locked. */
struct dep11_aead_op **dep11_session_aead_slot(struct dep11_session *s, int encrypt);
/* The key of the op in that slot: a referenced module-side object while
 * the op runs (set by the Init that started it, released when it ends),
 * else NULL. Call with the session locked. */
struct dep11_object **dep11_session_aead_key(struct dep11_session *s, int encrypt);
/* The session's message-based encrypt (@encrypt=1) or decrypt operation
 * (message.c), NULL when it never had one; the session frees it with
 * dep11_msg_free when it goes. Call with the session locked. */
struct dep11_msg;
struct dep11_msg **dep11_session_msg_slot(struct dep11_session *s, int encrypt);
void dep11_msg_free(struct dep11_msg *m);
int dep11_msg_active(const struct dep11_msg *m);

/* --- objects (object.c) ---------------------------------------------------- */
/* Resolves a consumer object handle on session @s:
 *  - a module-side key visible to @s: *@obj gets it with a reference
 *    (release with dep11_object_release), *@backend = CK_INVALID_HANDLE;
 *  - a backend object: *@obj = NULL, *@backend = the backend's handle
 *    (an alias translated back), only when dep11 handed that handle to this
 *    application for @s's token (the allow-list, core/allow.h).
 * CKR_OBJECT_HANDLE_INVALID for CK_INVALID_HANDLE, every backend handle not
 * on the list (whether or not an object exists behind it), unknown module
 * handles and module objects of another token. */
CK_RV dep11_object_resolve(struct dep11_session *s, CK_OBJECT_HANDLE h,
                           struct dep11_object **obj, CK_OBJECT_HANDLE *backend);
void dep11_object_release(struct dep11_object *obj);
/* 1 once the table has dropped @obj (C_DestroyObject, its session closed,
 * C_Logout of its token, C_Finalize), and for NULL: an operation running on
 * it ends (DESIGN section 2). One atomic load, no lock. */
int dep11_object_dead(const struct dep11_object *obj);
/* The key of a module-side object (valid while the reference is held). */
const struct dep11_key *dep11_object_key(const struct dep11_object *obj);
/* Stores a new module-side key as a session object created by @s; takes
 * ownership of @key (freed on failure). CKR_OK; CKR_HOST_MEMORY. */
CK_RV dep11_object_add(struct dep11_session *s, struct dep11_key *key,
                       CK_OBJECT_HANDLE *out);
/* Hands backend object @backend to the consumer of @s: lists it for @s's
 * token (the allow-list) and gives the handle the consumer sees (an alias
 * when it falls into the module's range). Every call that gives a consumer
 * a backend handle goes through here (find, create, copy, generate, unwrap,
 * derive). @session_object: @s just made it as a session object (it leaves
 * the list when @s closes); 0 for a token object or a search result.
 * CKR_OK; CKR_HOST_MEMORY; CKR_ARGUMENTS_BAD. */
CK_RV dep11_object_from_backend(struct dep11_session *s, CK_OBJECT_HANDLE backend,
                                int session_object, CK_OBJECT_HANDLE *out);
/* Does template @t make a session object (CKA_TOKEN absent or FALSE)? 1/0. */
int dep11_template_session_object(const CK_ATTRIBUTE *t, CK_ULONG n);

/* --- templates (attr.c) ---------------------------------------------------- */
/* Parses a CKM_DEP11_KEY_GEN template (DESIGN section 3): CKA_DEP11_ROLE,
 * for a policy CKA_DEP11_POLICY_TYPE, CKA_DEP11_TENANT, optional
 * CKA_DEP11_GEO; CKA_LABEL, CKA_ID; the standard attributes that may repeat
 * consistent values. CKR_TEMPLATE_INCOMPLETE (no role; a policy without
 * type or tenant); CKR_TEMPLATE_INCONSISTENT; CKR_ATTRIBUTE_VALUE_INVALID;
 * CKR_ATTRIBUTE_TYPE_INVALID; CKR_ARGUMENTS_BAD. */
CK_RV dep11_attr_parse_keygen(const CK_ATTRIBUTE *t, CK_ULONG n,
                              struct dep11_keygen_req *req);
/* Checks the template of a dep11 unwrap or derive (may be empty; may repeat
 * consistent standard attributes; CKA_LABEL/CKA_ID are applied to @key).
 * Same codes as above. */
CK_RV dep11_attr_apply_template(const CK_ATTRIBUTE *t, CK_ULONG n,
                                struct dep11_key *key);

/* --- roots (object.c) -------------------------------------------------------- */
/* Is backend object @backend (on @s's token) a registered root's private
 * key? (an RSA private key whose modulus has a CKA_TRUSTED public twin)
 * *@yes = 1/0. Used to refuse pass-through private-key operations. */
CK_RV dep11_core_is_registered_root(struct dep11_session *s,
                                    CK_OBJECT_HANDLE backend, int *yes);

#endif
