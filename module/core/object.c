/*
 * object.c - the module's handle space: module-side keys as session objects
 * of the slot that made them, aliases for backend handles that fall into the
 * module's range, the allow-list of backend handles handed to the consumer
 * (core/allow.c), and the C_* object functions (create, copy, destroy, size,
 * get/set attributes), which keep a registered root the customer's.
 */
#include <stdlib.h>
#include <string.h>

#include "core/allow.h"
#include "core/handle.h"
#include "core/internal.h"
#include "core/ops.h"
#include "core/hmap.h"
#include "core/ulmap.h"
#include "core/vendor_obj.h"
#include "util/log.h"

/* A module-side key, or an alias of a backend handle (key == NULL). */
struct dep11_object {
    CK_OBJECT_HANDLE handle;
    struct dep11_key *key;
    /* A key is on its creator's list (obj_lock), so that C_CloseSession
     * visits only the keys of the closing session, not every key of the
     * process; an alias is on none (the union keeps a key at 56 bytes). */
    union {
        CK_OBJECT_HANDLE backend;   /* alias: the backend's handle */
        struct dep11_object *cprev; /* key */
    };
    struct dep11_object *cnext;     /* key */
    CK_SLOT_ID slot;            /* key: visible to sessions of this slot */
    uint64_t creator;           /* key: serial of the creating session */
    unsigned refs;              /* key: atomic; the table holds one */
    int dead;                   /* key: atomic; set when the table drops it */
};

/* util/lock.h 3; a leaf in practice: nothing else is locked under it. */
static dep11_mutex_t obj_lock = DEP11_MUTEX_INIT;
static struct dep11_hmap objects;   /* consumer handle -> struct dep11_object */
static struct dep11_ulmap aliases;  /* backend handle -> alias object */
static struct dep11_ulmap creators; /* session serial -> its newest key (list head) */
static CK_ULONG next_handle;        /* offset into the range */
/* Objects a close, logout or finalize visited (tests: stays O(keys of the
 * session) per close). Under obj_lock. */
static unsigned long visits;

/* The creator-list key of @serial (0 never is one: serials start at 1). */
static CK_ULONG creator_key(uint64_t serial)
{
    return (CK_ULONG)serial;
}

/* Links key @o at the head of its creator's list. obj_lock held.
 * CKR_OK; CKR_HOST_MEMORY. */
static CK_RV creator_link(struct dep11_object *o)
{
    struct dep11_object *head = dep11_ulmap_get(&creators, creator_key(o->creator));
    CK_RV rv = dep11_ulmap_put(&creators, creator_key(o->creator), o);

    if (rv != CKR_OK)
        return rv;
    o->cprev = NULL;
    o->cnext = head;
    if (head != NULL)
        head->cprev = o;
    return CKR_OK;
}

/* Unlinks key @o from its creator's list. obj_lock held. */
static void creator_unlink(struct dep11_object *o)
{
    if (o->cprev != NULL) {
        o->cprev->cnext = o->cnext;
    } else {
        (void)dep11_ulmap_del(&creators, creator_key(o->creator));
        /* One member fewer than before the delete: the put cannot grow
         * the map, so it cannot fail. */
        if (o->cnext != NULL)
            (void)dep11_ulmap_put(&creators, creator_key(o->creator), o->cnext);
    }
    if (o->cnext != NULL)
        o->cnext->cprev = o->cprev;
    o->cprev = o->cnext = NULL;
}

static void object_put_ref(struct dep11_object *o)
{
    if (o != NULL && __atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        dep11_key_free(o->key);
        free(o);
    }
}

/* A free handle of the module's range, or CK_INVALID_HANDLE. obj_lock held. */
static CK_OBJECT_HANDLE alloc_handle(void)
{
    for (CK_ULONG tries = 0; tries < DEP11_HANDLE_SPAN; tries++) {
        CK_OBJECT_HANDLE h = DEP11_HANDLE_BASE + next_handle;
        next_handle = (next_handle + 1) % DEP11_HANDLE_SPAN;
        if (h != CK_INVALID_HANDLE && dep11_hmap_get(&objects, h) == NULL)
            return h;
    }
    return CK_INVALID_HANDLE;
}

/**
 * dep11_object_add - see core.h. The object belongs to @s's slot and dies
 * with @s, a C_Logout of that slot, or C_Finalize.
 */
CK_RV dep11_object_add(struct dep11_session *s, struct dep11_key *key, CK_OBJECT_HANDLE *out)
{
    CK_RV rv = CKR_HOST_MEMORY;
    struct dep11_object *o = NULL;

    if (s == NULL || key == NULL || out == NULL) {
        dep11_key_free(key);
        LOG_FAIL(CKR_ARGUMENTS_BAD, "NULL argument");
        return CKR_ARGUMENTS_BAD;
    }
    o = calloc(1, sizeof *o);
    if (o == NULL)
        goto out;
    o->key = key;
    o->slot = dep11_session_slot(s);
    o->creator = dep11_session_serial(s);
    o->refs = 1;
    dep11_session_mark(s, DEP11_MADE_KEYS); /* before the key can be seen */
    dep11_lock(&obj_lock);
    o->handle = alloc_handle();
    if (o->handle != CK_INVALID_HANDLE && (rv = creator_link(o)) == CKR_OK) {
        rv = dep11_hmap_put(&objects, o->handle, o);
        if (rv != CKR_OK)
            creator_unlink(o);
    }
    dep11_unlock(&obj_lock);
    if (rv == CKR_OK)
        *out = o->handle;
out:
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "cannot store a module-side key");
        free(o);
        dep11_key_free(key);
    }
    return rv;
}

/**
 * dep11_object_reserve - see internal.h. The handle's entry is an alias of
 * no backend object: every call that resolves it answers
 * CKR_OBJECT_HANDLE_INVALID (a key call CKR_KEY_HANDLE_INVALID).
 */
CK_RV dep11_object_reserve(struct dep11_session *s, CK_OBJECT_HANDLE *out)
{
    struct dep11_object *o = calloc(1, sizeof *o);
    CK_RV rv = CKR_HOST_MEMORY;

    if (o == NULL) {
        LOG_FAIL(rv, "handle entry");
        return rv;
    }
    o->backend = CK_INVALID_HANDLE;
    o->slot = dep11_session_slot(s);
    dep11_lock(&obj_lock);
    o->handle = alloc_handle();
    rv = o->handle == CK_INVALID_HANDLE ? CKR_DEVICE_MEMORY
                                        : dep11_hmap_put(&objects, o->handle, o);
    dep11_unlock(&obj_lock);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "no free handle in the module's range");
        free(o);
        return rv;
    }
    *out = o->handle;
    return CKR_OK;
}

/**
 * dep11_object_unreserve - see internal.h.
 */
void dep11_object_unreserve(CK_OBJECT_HANDLE h)
{
    struct dep11_object *o = NULL;

    dep11_lock(&obj_lock);
    o = dep11_hmap_get(&objects, h);
    if (o != NULL && o->key == NULL && o->backend == CK_INVALID_HANDLE)
        (void)dep11_hmap_del(&objects, h);
    else
        o = NULL;
    dep11_unlock(&obj_lock);
    free(o);
}

/* The alias of a backend handle in the module's range (made on first
 * use); CKR_OK or CKR_HOST_MEMORY. Aliases live until C_Finalize. */
static CK_RV alias_of(CK_OBJECT_HANDLE backend, CK_OBJECT_HANDLE *out)
{
    CK_RV rv = CKR_HOST_MEMORY;
    struct dep11_object *o = NULL;

    /* --- obj_lock --- */
    dep11_lock(&obj_lock);
    o = dep11_ulmap_get(&aliases, backend);
    if (o != NULL) {
        rv = CKR_OK;
    } else if ((o = calloc(1, sizeof *o)) != NULL) {
        o->backend = backend;
        o->handle = alloc_handle();
        if (o->handle != CK_INVALID_HANDLE &&
            dep11_hmap_put(&objects, o->handle, o) == CKR_OK) {
            rv = dep11_ulmap_put(&aliases, backend, o);
            if (rv != CKR_OK)
                (void)dep11_hmap_del(&objects, o->handle);
        }
        if (rv != CKR_OK) {
            free(o);
            o = NULL;
        }
    }
    if (o != NULL)
        *out = o->handle;
    dep11_unlock(&obj_lock);
    return rv;
}

/**
 * dep11_object_from_backend - see core.h. The handle stays listed for @s's
 * token until the consumer destroys it, @s closes (a session object @s
 * made), or C_Finalize.
 */
CK_RV dep11_object_from_backend(struct dep11_session *s, CK_OBJECT_HANDLE backend,
                                int session_object, CK_OBJECT_HANDLE *out)
{
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (s == NULL || out == NULL) {
        LOG_FAIL(rv, "NULL session or output");
        return rv;
    }
    if (backend == CK_INVALID_HANDLE) {
        rv = CKR_GENERAL_ERROR;
        LOG_FAIL(rv, "the backend made an object with handle CK_INVALID_HANDLE");
        return rv;
    }
    if (session_object)
        dep11_session_mark(s, DEP11_MADE_BACKEND); /* its close clears the allow-list */
    rv = dep11_allow_add(dep11_session_slot(s), backend,
                         session_object ? dep11_session_serial(s) : 0);
    if (rv == CKR_OK && dep11_handle_in_range(backend)) {
        rv = alias_of(backend, out);
        if (rv != CKR_OK)
            dep11_allow_del(dep11_session_slot(s), backend);
    } else if (rv == CKR_OK) {
        *out = backend;
    }
    if (rv != CKR_OK)
        LOG_FAIL(rv, "cannot hand out backend handle 0x%lx", backend);
    return rv;
}

/**
 * dep11_template_session_object - see core.h. A CKA_TOKEN of the wrong
 * size is left to the backend to refuse (counted as a session object).
 */
int dep11_template_session_object(const CK_ATTRIBUTE *t, CK_ULONG n)
{
    for (CK_ULONG i = 0; t != NULL && i < n; i++)
        if (t[i].type == CKA_TOKEN && t[i].pValue != NULL &&
            t[i].ulValueLen == sizeof(CK_BBOOL))
            return *(const CK_BBOOL *)t[i].pValue == CK_FALSE;
    return 1;
}

/**
 * dep11_object_resolve - see core.h.
 */
CK_RV dep11_object_resolve(struct dep11_session *s, CK_OBJECT_HANDLE h,
                           struct dep11_object **obj, CK_OBJECT_HANDLE *backend)
{
    CK_RV rv = CKR_OBJECT_HANDLE_INVALID;
    struct dep11_object *o = NULL;
    CK_OBJECT_HANDLE b = h;

    if (s == NULL || obj == NULL || backend == NULL)
        return CKR_ARGUMENTS_BAD;
    *obj = NULL;
    *backend = CK_INVALID_HANDLE;
    if (h == CK_INVALID_HANDLE) {
        LOG_FAIL(rv, "CK_INVALID_HANDLE");
        return rv;
    }
    if (dep11_handle_in_range(h)) {
        dep11_lock(&obj_lock);
        o = dep11_hmap_get(&objects, h);
        if (o != NULL && o->key != NULL && o->slot == dep11_session_slot(s))
            __atomic_add_fetch(&o->refs, 1, __ATOMIC_RELAXED);
        b = o != NULL && o->key == NULL ? o->backend : CK_INVALID_HANDLE;
        dep11_unlock(&obj_lock);
        if (o != NULL && o->key != NULL) {
            if (o->slot != dep11_session_slot(s)) {
                LOG_FAIL(rv, "object 0x%lx belongs to another token", h);
                return rv;
            }
            *obj = o;
            return CKR_OK;
        }
        if (o == NULL) {
            LOG_FAIL(rv, "no module object 0x%lx", h);
            return rv;
        }
    }
    /* One answer for every handle not handed to this application on this
     * token, whether or not an object exists behind it. */
    if (!dep11_allow_has(dep11_session_slot(s), b)) {
        LOG_FAIL(rv, "object 0x%lx was not handed out on this token", h);
        return rv;
    }
    *backend = b;
    return CKR_OK;
}

/**
 * dep11_object_release - see core.h. NULL is a no-op.
 */
void dep11_object_release(struct dep11_object *obj)
{
    object_put_ref(obj);
}

/**
 * dep11_object_key - see core.h.
 */
const struct dep11_key *dep11_object_key(const struct dep11_object *obj)
{
    return obj != NULL ? obj->key : NULL;
}

/**
 * dep11_object_dead - see core.h. One atomic load, no lock.
 */
int dep11_object_dead(const struct dep11_object *obj)
{
    return obj == NULL || __atomic_load_n(&obj->dead, __ATOMIC_ACQUIRE) != 0;
}

/**
 * dep11_object_alive - see internal.h.
 */
int dep11_object_alive(CK_OBJECT_HANDLE h, CK_SLOT_ID slot)
{
    struct dep11_object *o = NULL;
    int alive = 0;

    dep11_lock(&obj_lock);
    o = dep11_hmap_get(&objects, h);
    alive = o != NULL && o->key != NULL && o->slot == slot;
    dep11_unlock(&obj_lock);
    return alive;
}

/**
 * dep11_objects_snapshot - see internal.h.
 */
CK_RV dep11_objects_snapshot(CK_SLOT_ID slot, const CK_ATTRIBUTE *t, CK_ULONG n,
                             CK_OBJECT_HANDLE **out, CK_ULONG *count)
{
    CK_RV rv = CKR_OK;
    CK_OBJECT_HANDLE *hs = NULL;
    struct dep11_object *o = NULL;
    CK_ULONG k = 0;

    *out = NULL;
    *count = 0;
    dep11_lock(&obj_lock);
    if (objects.count > 0)
        hs = calloc(objects.count, sizeof *hs);
    if (objects.count > 0 && hs == NULL)
        rv = CKR_HOST_MEMORY;
    for (size_t pos = 0; hs != NULL && (o = dep11_hmap_next(&objects, &pos)) != NULL; pos++)
        if (o->key != NULL && o->slot == slot && dep11_attr_match(o->key, t, n))
            hs[k++] = o->handle;
    dep11_unlock(&obj_lock);
    if (k == 0) {
        free(hs);
        hs = NULL;
    }
    *out = hs;
    *count = k;
    return rv;
}

/* Takes @o out of the table: no new user finds it; it dies when its last
 * user lets go. obj_lock held. */
static void drop_locked(struct dep11_object *o)
{
    (void)dep11_hmap_del(&objects, o->handle);
    if (o->key != NULL)
        creator_unlink(o);
    __atomic_store_n(&o->dead, 1, __ATOMIC_RELEASE);
}

/* Drops the table's references to @gone[0..@n), outside obj_lock. */
static void put_gone(struct dep11_object **gone, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (gone[i]->key == NULL)
            free(gone[i]); /* an alias: never referenced */
        else
            object_put_ref(gone[i]);
    }
}

/* Removes the module-side keys selected by @pick (and, with @all, the
 * aliases), then drops the table's references outside the lock. Visits
 * every object: for logout, the last session of a slot and finalize. */
static void destroy_where(int (*pick)(const struct dep11_object *, const void *),
                          const void *arg, int all)
{
    struct dep11_object **gone = NULL, *o = NULL;
    size_t n = 0;

    dep11_lock(&obj_lock);
    gone = calloc(objects.count + 1, sizeof *gone);
    for (size_t pos = 0; gone != NULL && (o = dep11_hmap_next(&objects, &pos)) != NULL; pos++)
        if (all || (o->key != NULL && pick(o, arg)))
            gone[n++] = o;
    visits += objects.count;
    for (size_t i = 0; i < n; i++)
        drop_locked(gone[i]);
    if (all && gone != NULL) {
        dep11_hmap_free(&objects);
        dep11_ulmap_free(&aliases);
        dep11_ulmap_free(&creators);
        next_handle = 0;
    }
    dep11_unlock(&obj_lock);
    if (gone == NULL)
        LOG_ERROR("out of memory: module-side keys stay until C_Finalize");
    put_gone(gone, n);
    free(gone);
}

static int by_slot(const struct dep11_object *o, const void *arg)
{
    return o->slot == *(const CK_SLOT_ID *)arg;
}

/* C_CloseSession: the session's module-side keys (its creator list, taken
 * whole: no other object is visited, nothing is allocated) and the session
 * objects it made in the backend (their handles leave the allow-list). */
void dep11_objects_destroy_session(const struct dep11_session *s)
{
    struct dep11_object *o = NULL, *next = NULL;
    int made = dep11_session_made(s);

    if (made & DEP11_MADE_BACKEND)
        dep11_allow_drop_creator(dep11_session_serial(s));
    if (made & DEP11_MADE_REQUESTS)
        dep11_vobj_drop_session(dep11_session_serial(s));
    if (!(made & DEP11_MADE_KEYS))
        return;
    dep11_lock(&obj_lock);
    o = dep11_ulmap_del(&creators, creator_key(dep11_session_serial(s)));
    for (next = o; next != NULL; next = next->cnext) {
        (void)dep11_hmap_del(&objects, next->handle);
        __atomic_store_n(&next->dead, 1, __ATOMIC_RELEASE);
        visits++;
    }
    dep11_unlock(&obj_lock);
    /* Out of the table and the creator map: the list is this call's alone. */
    for (; o != NULL; o = next) {
        next = o->cnext;
        object_put_ref(o);
    }
}

/**
 * dep11_objects_visits - see internal.h.
 */
unsigned long dep11_objects_visits(void)
{
    unsigned long n = 0;

    dep11_lock(&obj_lock);
    n = visits;
    dep11_unlock(&obj_lock);
    return n;
}

void dep11_objects_destroy_slot(CK_SLOT_ID slot) { destroy_where(by_slot, &slot, 0); }
/* C_Finalize and a forked child's re-initialization: the allow-lists die
 * with the aliases. */
void dep11_objects_fini(void)
{
    destroy_where(NULL, NULL, 1);
    dep11_allow_fini();
    dep11_vobj_fini(); /* its handles went with the table */
}

void dep11_objects_fork_lock(void)
{
    dep11_lock(&obj_lock);
    dep11_allow_fork_lock();
    dep11_vobj_fork_lock();
}

void dep11_objects_fork_unlock(void)
{
    dep11_vobj_fork_unlock();
    dep11_allow_fork_unlock();
    dep11_unlock(&obj_lock);
}

/**
 * dep11_object_unlink - see internal.h: removes module-side object @o from
 * the table (C_DestroyObject); 0 when another thread removed it first.
 */
int dep11_object_unlink(struct dep11_object *o)
{
    int mine = 0;

    dep11_lock(&obj_lock);
    if (dep11_hmap_get(&objects, o->handle) == o) {
        drop_locked(o);
        mine = 1;
    }
    dep11_unlock(&obj_lock);
    if (mine)
        object_put_ref(o); /* the table's reference */
    return mine;
}

/**
 * dep11_object_attr_get - see internal.h: core/attr.c's read of module-side
 * key @o under the table lock (CKA_LABEL/CKA_ID may change under
 * C_SetAttributeValue).
 */
CK_RV dep11_object_attr_get(struct dep11_object *o, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
    CK_RV rv = CKR_GENERAL_ERROR;

    dep11_lock(&obj_lock);
    rv = dep11_attr_get(o->key, t, n);
    dep11_unlock(&obj_lock);
    return rv;
}

/**
 * dep11_object_attr_set - see internal.h: core/attr.c's change of
 * module-side key @o under the table lock.
 */
CK_RV dep11_object_attr_set(struct dep11_object *o, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
    CK_RV rv = CKR_GENERAL_ERROR;

    dep11_lock(&obj_lock);
    rv = dep11_attr_set(o->key, t, n);
    dep11_unlock(&obj_lock);
    return rv;
}
