/*
 * internal.h - what module.c, session.c, object.c, find.c, attr.c, slot.c and
 * forward.c (and vendor_std.c, vendor_obj.c) share beyond core.h: the session structure, table set-up and
 * teardown, and the attribute rules of module-side keys. Not for keyops.c
 * or cipher.c (they use core.h only).
 */
#ifndef DEP11_CORE_INTERNAL_H
#define DEP11_CORE_INTERNAL_H

#include <stdint.h>
#include "core/core.h"
#include "util/lock.h"

/* An active C_FindObjects* search (under the session lock). */
struct dep11_find {
    int active;
    int backend_open;           /* the backend's search needs its Final */
    int backend_active;         /* ... and may have more results */
    CK_OBJECT_HANDLE *module;   /* snapshot of matching module-side objects */
    CK_ULONG n_module;
    CK_ULONG pos;
};

/* A session dep11 opened for the consumer. The consumer sees the backend's
 * handle; only handles in the table are accepted. Freed structures are kept
 * for reuse (session.c): a new field also goes into session_clear(). */
struct dep11_session {
    CK_SESSION_HANDLE handle;   /* consumer handle == backend handle */
    CK_SLOT_ID slot;
    uint64_t serial;            /* unique per process: creator of objects */
    unsigned refs;              /* atomic; the table holds one */
    dep11_mutex_t lock;         /* lock order 4 */
    struct dep11_aead_op *enc;  /* module-side encrypt op, or NULL */
    struct dep11_aead_op *dec;  /* module-side decrypt op, or NULL */
    struct dep11_object *enc_key; /* the key of a running enc (referenced), or NULL */
    struct dep11_object *dec_key; /* the key of a running dec (referenced), or NULL */
    struct dep11_msg *msg[2];     /* message-based decrypt [0], encrypt [1] (message.c) */
    struct dep11_find find;
    struct dep11_vstd_op *vstd; /* a vendor_std.c op (digest or sign), or NULL */
    int made;                   /* atomic: DEP11_MADE_* bits */
};

/* --- module.c ------------------------------------------------------------- */
/* Profile "reconnect = yes": after a consumer's C_GetSlotList or
 * C_OpenSession got @*rv from the backend, re-initialize a backend that lost
 * its HSM. 1 = call the backend again; 0 = keep *@rv (CKR_DEVICE_ERROR while
 * the HSM stays away). Ends every consumer session and module-side key. */
int dep11_core_reconnect(CK_RV *rv);

/* --- session.c ------------------------------------------------------------ */
/* Drops every session and the login states without a backend call (at
 * C_Finalize the backend's own C_Finalize closes them; in a forked child
 * they are the parent's). A session still referenced by a call in flight is
 * freed when that call releases it. */
void dep11_sessions_fini(void);
/* pthread_atfork helpers: take / drop session.c's locks (module.c). */
void dep11_sessions_fork_lock(void);
void dep11_sessions_fork_unlock(void);
/* The session's creator serial (for object ownership). */
uint64_t dep11_session_serial(const struct dep11_session *s);
/* What a session made, so that its close skips the clean-up of what it
 * never made: a backend session object (listed in the allow-list: a walk
 * of every shard) or a module-side key (its creator list: obj_lock). */
#define DEP11_MADE_BACKEND 1
#define DEP11_MADE_KEYS 2
#define DEP11_MADE_REQUESTS 4 /* a dep11 request object (vendor_obj.c) */
void dep11_session_mark(struct dep11_session *s, int made);
int dep11_session_made(const struct dep11_session *s);

/* --- object.c --------------------------------------------------------------- */
/* Destroys (cleanses) module-side objects created by session @s (its own
 * list: O(its keys), not O(all keys)) / of @slot / all of them (C_Finalize,
 * fork: also forgets aliases). */
void dep11_objects_destroy_session(const struct dep11_session *s);
void dep11_objects_destroy_slot(CK_SLOT_ID slot);
void dep11_objects_fini(void);
void dep11_objects_fork_lock(void);
void dep11_objects_fork_unlock(void);
/* Handles of the module-side objects of @slot matching template @t
 * (C_FindObjectsInit). *@out is malloc'ed (NULL when *@n = 0).
 * CKR_OK; CKR_HOST_MEMORY. */
CK_RV dep11_objects_snapshot(CK_SLOT_ID slot, const CK_ATTRIBUTE *t, CK_ULONG n,
                             CK_OBJECT_HANDLE **out, CK_ULONG *count);
/* Objects visited so far by the destroy walks (close, logout, finalize): a
 * test seam that shows a close visiting only its own session's keys. */
unsigned long dep11_objects_visits(void);
/* A handle of the module's range for a dep11 request of @s's token
 * (vendor_obj.c): no key, no alias; every other call finds no object
 * behind it. CKR_OK; CKR_HOST_MEMORY; CKR_DEVICE_MEMORY (range full).
 * dep11_object_unreserve gives it back (C_Finalize drops them all). */
CK_RV dep11_object_reserve(struct dep11_session *s, CK_OBJECT_HANDLE *out);
void dep11_object_unreserve(CK_OBJECT_HANDLE h);
/* Removes module-side object @o from the table (C_DestroyObject in
 * object_calls.c); 0 when another thread removed it first. */
int dep11_object_unlink(struct dep11_object *o);
/* core/attr.c's read and change of module-side key @o, under the table
 * lock (C_GetAttributeValue, C_SetAttributeValue). */
CK_RV dep11_object_attr_get(struct dep11_object *o, CK_ATTRIBUTE_PTR t, CK_ULONG n);
CK_RV dep11_object_attr_set(struct dep11_object *o, CK_ATTRIBUTE_PTR t, CK_ULONG n);
/* Is @h still a module-side object of @slot? */
int dep11_object_alive(CK_OBJECT_HANDLE h, CK_SLOT_ID slot);

/* --- attr.c ------------------------------------------------------------------ */
/* C_GetAttributeValue on a module-side key, with the standard semantics:
 * every attribute processed; CKR_ATTRIBUTE_SENSITIVE (CKA_VALUE), then
 * CKR_ATTRIBUTE_TYPE_INVALID, then CKR_BUFFER_TOO_SMALL by precedence;
 * ulValueLen = CK_UNAVAILABLE_INFORMATION for each failed attribute.
 * CKR_ARGUMENTS_BAD for a NULL template with @n > 0. */
CK_RV dep11_attr_get(const struct dep11_key *k, CK_ATTRIBUTE *t, CK_ULONG n);
/* Does @k match every attribute of @t (C_FindObjectsInit)? 1/0. */
int dep11_attr_match(const struct dep11_key *k, const CK_ATTRIBUTE *t, CK_ULONG n);
/* C_SetAttributeValue on a module-side key: only CKA_LABEL and CKA_ID
 * change (all or nothing); other attributes of the key:
 * CKR_ATTRIBUTE_READ_ONLY; unknown ones CKR_ATTRIBUTE_TYPE_INVALID;
 * CKR_ATTRIBUTE_VALUE_INVALID (too long); CKR_ARGUMENTS_BAD. */
CK_RV dep11_attr_set(struct dep11_key *k, const CK_ATTRIBUTE *t, CK_ULONG n);
/* Does template @t name any CKA_DEP11_* attribute? 1/0. */
int dep11_attr_has_vendor(const CK_ATTRIBUTE *t, CK_ULONG n);

#endif
