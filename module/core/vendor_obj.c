/*
 * vendor_obj.c - the vendor functions through request objects (see
 * vendor_obj.h and include/dep11.h CKO_DEP11_REQUEST). C_CreateObject
 * parses the request template, runs the operation through vendor_std.c's
 * route (dep11_vstd_run: no lock held while it runs, a purge calls the
 * HSM), then publishes the output under a handle object.c reserves in the
 * module's range: that handle is no key and no backend object for any other
 * call. The requests live in one table under a leaf lock (util/lock.h 7).
 */
#include <stdlib.h>
#include <string.h>

#include "core/handle.h"
#include "core/hmap.h"
#include "core/internal.h"
#include "core/vendor_obj.h"
#include "core/vendor_std.h"
#include "util/log.h"

/* A request object: what C_GetAttributeValue reads. */
struct vreq {
    CK_SLOT_ID slot;      /* visible to sessions of this token */
    uint64_t creator;     /* serial of the session that made it */
    CK_MECHANISM_TYPE op; /* CKA_DEP11_REQUEST_OP */
    CK_ULONG flags;       /* CKA_DEP11_REQUEST_FLAGS */
    CK_BYTE *out;         /* CKA_DEP11_REQUEST_OUTPUT (NULL: empty) */
    CK_ULONG out_len;
    CK_ULONG value_len; /* CKA_VALUE_LEN */
    struct vreq *next;  /* drop_session's list */
};

/* A parsed request template. */
struct vreq_in {
    CK_ULONG cls, op, flags;
    CK_ULONG cap; /* CKA_VALUE_LEN: the output the consumer takes (SEEN_CAP) */
    const CK_BYTE *in;
    CK_ULONG in_len;
    unsigned seen;
};

#define SEEN_CLASS 1u
#define SEEN_OP 2u
#define SEEN_FLAGS 4u
#define SEEN_INPUT 8u
#define SEEN_CAP 16u

static dep11_mutex_t vreq_lock = DEP11_MUTEX_INIT; /* util/lock.h 7: a leaf */
static struct dep11_hmap vreqs;                    /* handle -> struct vreq */
static unsigned live;                              /* atomic: vreqs.count */

static void vreq_free(struct vreq *r)
{
    if (r != NULL)
        free(r->out);
    free(r);
}

/* ---- the template ---- */

/* Is @t a request template (a CKA_CLASS of CKO_DEP11_REQUEST)? */
static int is_request(const CK_ATTRIBUTE *t, CK_ULONG n)
{
    CK_ULONG cls = 0;

    for (CK_ULONG i = 0; t != NULL && i < n; i++)
        if (t[i].type == CKA_CLASS && t[i].pValue != NULL && t[i].ulValueLen == sizeof cls) {
            memcpy(&cls, t[i].pValue, sizeof cls);
            if (cls == CKO_DEP11_REQUEST)
                return 1;
        }
    return 0;
}

/* A CK_ULONG attribute (@bit of seen): a repeat must agree. */
static CK_RV take_ulong(const CK_ATTRIBUTE *a, unsigned bit, struct vreq_in *q, CK_ULONG *dst)
{
    CK_ULONG v = 0;
    CK_RV rv = CKR_ATTRIBUTE_VALUE_INVALID;

    if (a->pValue == NULL || a->ulValueLen != sizeof v) {
        LOG_FAIL(rv, "attribute 0x%lx is a CK_ULONG", a->type);
        return rv;
    }
    memcpy(&v, a->pValue, sizeof v);
    if ((q->seen & bit) != 0 && *dst != v) {
        rv = CKR_TEMPLATE_INCONSISTENT;
        LOG_FAIL(rv, "attribute 0x%lx twice with two values", a->type);
        return rv;
    }
    q->seen |= bit;
    *dst = v;
    return CKR_OK;
}

/* A boolean the request has fixed at @want: a template may repeat it. */
static CK_RV take_fixed_bool(const CK_ATTRIBUTE *a, int want)
{
    CK_RV rv = CKR_ATTRIBUTE_VALUE_INVALID;

    if (a->pValue == NULL || a->ulValueLen != sizeof(CK_BBOOL)) {
        LOG_FAIL(rv, "attribute 0x%lx is a CK_BBOOL", a->type);
        return rv;
    }
    if ((*(const CK_BBOOL *)a->pValue != CK_FALSE) != want) {
        LOG_FAIL(rv,
                 "a dep11 request has attribute 0x%lx %s (a session object, read "
                 "only, never on a token)",
                 a->type, want ? "CK_TRUE" : "CK_FALSE");
        return rv;
    }
    return CKR_OK;
}

static CK_RV take_input(const CK_ATTRIBUTE *a, struct vreq_in *q)
{
    CK_RV rv = CKR_ATTRIBUTE_VALUE_INVALID;

    if (a->pValue == NULL && a->ulValueLen != 0) {
        LOG_FAIL(rv, "CKA_DEP11_REQUEST_INPUT: NULL value of %lu bytes", a->ulValueLen);
        return rv;
    }
    if ((q->seen & SEEN_INPUT) != 0 &&
        (q->in_len != a->ulValueLen ||
         (a->ulValueLen != 0 && memcmp(q->in, a->pValue, a->ulValueLen) != 0))) {
        rv = CKR_TEMPLATE_INCONSISTENT;
        LOG_FAIL(rv, "CKA_DEP11_REQUEST_INPUT twice with two values");
        return rv;
    }
    q->seen |= SEEN_INPUT;
    q->in = a->pValue;
    q->in_len = a->ulValueLen;
    return CKR_OK;
}

static CK_RV take_one(const CK_ATTRIBUTE *a, struct vreq_in *q)
{
    CK_RV rv = CKR_ATTRIBUTE_TYPE_INVALID;

    switch (a->type) {
    case CKA_CLASS: return take_ulong(a, SEEN_CLASS, q, &q->cls);
    case CKA_DEP11_REQUEST_OP: return take_ulong(a, SEEN_OP, q, &q->op);
    case CKA_DEP11_REQUEST_FLAGS: return take_ulong(a, SEEN_FLAGS, q, &q->flags);
    case CKA_DEP11_REQUEST_INPUT: return take_input(a, q);
    case CKA_VALUE_LEN: return take_ulong(a, SEEN_CAP, q, &q->cap);
    case CKA_TOKEN:
    case CKA_PRIVATE:
    case CKA_MODIFIABLE:
    case CKA_COPYABLE: return take_fixed_bool(a, 0);
    case CKA_DESTROYABLE: return take_fixed_bool(a, 1);
    case CKA_DEP11_REQUEST_OUTPUT:
        rv = CKR_ATTRIBUTE_READ_ONLY;
        LOG_FAIL(rv, "attribute 0x%lx of a dep11 request is its output", a->type);
        return rv;
    default: LOG_FAIL(rv, "a dep11 request has no attribute 0x%lx", a->type); return rv;
    }
}

/* Parses request template @t into @q (include/dep11.h's codes). */
static CK_RV parse(const CK_ATTRIBUTE *t, CK_ULONG n, struct vreq_in *q)
{
    CK_RV rv = CKR_OK;

    memset(q, 0, sizeof *q);
    for (CK_ULONG i = 0; i < n && rv == CKR_OK; i++)
        rv = take_one(&t[i], q);
    if (rv != CKR_OK)
        return rv;
    if (q->cls != CKO_DEP11_REQUEST) {
        rv = CKR_TEMPLATE_INCONSISTENT;
        LOG_FAIL(rv, "CKA_CLASS twice with two values");
    } else if ((q->seen & SEEN_OP) == 0) {
        rv = CKR_TEMPLATE_INCOMPLETE;
        LOG_FAIL(rv, "a dep11 request needs CKA_DEP11_REQUEST_OP");
    } else if ((q->flags & ~DEP11_REQUEST_SIZE_QUERY) != 0) {
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
        LOG_FAIL(rv, "unknown CKA_DEP11_REQUEST_FLAGS 0x%lx", q->flags);
    }
    return rv;
}

/* ---- create ---- */

/* DEP11_REQUEST_LIST: the operations of the route as CK_MECHANISM_TYPEs. */
static CK_RV list_ops(struct vreq *r)
{
    size_t k = dep11_vstd_ops(NULL, 0);
    CK_MECHANISM_TYPE *ops = calloc(k, sizeof *ops);
    CK_RV rv = CKR_HOST_MEMORY;

    if (ops == NULL) {
        LOG_FAIL(rv, "%zu operations", k);
        return rv;
    }
    (void)dep11_vstd_ops(ops, k);
    r->out = (CK_BYTE *)ops;
    r->out_len = r->value_len = (CK_ULONG)(k * sizeof *ops);
    return CKR_OK;
}

/* Runs request @q on @s into @r: the size query, then (unless only that
 * was asked) the operation into a buffer of that size, or of the template's
 * CKA_VALUE_LEN where that is less: the vendor function's *pulLen, so an
 * output that does not fit is CKR_BUFFER_TOO_SMALL with nothing done (a
 * purge destroys nothing; hier's rule). */
static CK_RV perform(struct dep11_session *s, const struct vreq_in *q, struct vreq *r)
{
    CK_ULONG n = 0;
    CK_RV rv = CKR_HOST_MEMORY;

    if (q->op == DEP11_REQUEST_LIST)
        return list_ops(r);
    rv = dep11_vstd_run(s, q->op, q->in, q->in_len, NULL, &n);
    r->value_len = n;
    if (rv != CKR_OK || (q->flags & DEP11_REQUEST_SIZE_QUERY) != 0)
        return rv;
    if ((q->seen & SEEN_CAP) != 0 && q->cap < n)
        n = q->cap;
    r->out = calloc(1, n != 0 ? n : 1);
    if (r->out == NULL) {
        rv = CKR_HOST_MEMORY;
        LOG_FAIL(rv, "%lu bytes of output", (unsigned long)n);
        return rv;
    }
    rv = dep11_vstd_run(s, q->op, q->in, q->in_len, r->out, &n);
    r->out_len = r->value_len = n;
    return rv;
}

/* Gives @r a handle of @s's token and lists it. Runs after the operation:
 * if it fails (CKR_HOST_MEMORY, a full handle range) a purge is done all
 * the same, and the next request re-issues its receipt. */
static CK_RV publish(struct dep11_session *s, struct vreq *r, CK_OBJECT_HANDLE *out)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = dep11_object_reserve(s, &h);

    if (rv != CKR_OK)
        return rv;
    dep11_session_mark(s, DEP11_MADE_REQUESTS); /* before the request can be seen */
    dep11_lock(&vreq_lock);
    rv = dep11_hmap_put(&vreqs, h, r);
    if (rv == CKR_OK)
        __atomic_add_fetch(&live, 1, __ATOMIC_RELEASE);
    dep11_unlock(&vreq_lock);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "no room for the request's handle");
        dep11_object_unreserve(h);
        return rv;
    }
    *out = h;
    return CKR_OK;
}

/** See vendor_obj.h. */
int dep11_vobj_create(CK_SESSION_HANDLE hs, const CK_ATTRIBUTE *t, CK_ULONG n,
                      CK_OBJECT_HANDLE_PTR out, CK_RV *rv)
{
    struct dep11_session *s = NULL;
    struct vreq *r = NULL;
    struct vreq_in q;

    if (!is_request(t, n))
        return 0;
    *rv = dep11_session_acquire(hs, &s);
    if (*rv != CKR_OK)
        return 1;
    if (out == NULL) {
        *rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(*rv, "NULL output");
        goto out;
    }
    *rv = parse(t, n, &q);
    if (*rv != CKR_OK)
        goto out;
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        *rv = CKR_HOST_MEMORY;
        LOG_FAIL(*rv, "request object");
        goto out;
    }
    r->slot = dep11_session_slot(s);
    r->creator = dep11_session_serial(s);
    r->op = q.op;
    r->flags = q.flags;
    *rv = perform(s, &q, r);
    if (*rv == CKR_OK)
        *rv = publish(s, r, out);
    if (*rv == CKR_OK)
        r = NULL;
out:
    vreq_free(r);
    dep11_session_release(s);
    return 1;
}

/* ---- the calls on a request ---- */

/* Could @h be a request? (no lock while none lives: the hot paths) */
static int known(CK_OBJECT_HANDLE h)
{
    int yes = 0;

    if (!dep11_handle_in_range(h) || __atomic_load_n(&live, __ATOMIC_ACQUIRE) == 0)
        return 0;
    dep11_lock(&vreq_lock);
    yes = dep11_hmap_get(&vreqs, h) != NULL;
    dep11_unlock(&vreq_lock);
    return yes;
}

/* The preamble of every call on a request: 0 when @h is no request (the
 * call is not ours); else 1, and *@rv: CKR_OK with session @hs acquired,
 * request @h of its token found (*@s, *@r) and vreq_lock held; or the code,
 * nothing held. */
static int lock_req(CK_SESSION_HANDLE hs, CK_OBJECT_HANDLE h, struct dep11_session **s,
                    struct vreq **r, CK_RV *rv)
{
    if (!known(h))
        return 0;
    *rv = dep11_session_acquire(hs, s);
    if (*rv != CKR_OK)
        return 1;
    dep11_lock(&vreq_lock);
    *r = dep11_hmap_get(&vreqs, h);
    if (*r != NULL && (*r)->slot == dep11_session_slot(*s))
        return 1;
    dep11_unlock(&vreq_lock);
    dep11_session_release(*s);
    *s = NULL;
    *rv = CKR_OBJECT_HANDLE_INVALID;
    LOG_FAIL(*rv, "request 0x%lx is gone or of another token", h);
    return 1;
}

/* Length of blank-padded text @p (@cap bytes) without the padding. */
static CK_ULONG unpadded(const CK_UTF8CHAR *p, CK_ULONG cap)
{
    while (cap > 0 && p[cap - 1] == ' ')
        cap--;
    return cap;
}

/* The fields of a policy info request's output as the attributes a
 * module-side policy key has (CKA_LABEL, CKA_DEP11_GEO unpadded): *@p,
 * *@len (a CK_ULONG goes through *@ul). 0 for any other attribute or
 * request. */
static int info_field(const struct vreq *r, CK_ATTRIBUTE_TYPE type, const void **p,
                      CK_ULONG *len, CK_ULONG *ul)
{
    const CK_DEP11_POLICY_INFO *i = (const CK_DEP11_POLICY_INFO *)r->out;

    if (r->op != CKM_DEP11_POLICY_INFO || i == NULL || r->out_len != sizeof *i)
        return 0;
    *p = ul;
    *len = sizeof *ul;
    switch (type) {
    case CKA_DEP11_POLICY_ID:
        *p = i->policyId;
        *len = DEP11_ID_LEN;
        break;
    case CKA_DEP11_TENANT:
        *p = i->tenantId;
        *len = DEP11_ID_LEN;
        break;
    case CKA_DEP11_POLICY_TYPE: *ul = i->ulPolicyType; break;
    case CKA_DEP11_POLICY_VERSION: *ul = i->ulVersion; break;
    case CKA_DEP11_MANAGED_BY: *ul = i->ulManagedBy; break;
    case CKA_LABEL:
        *p = i->label;
        *len = unpadded(i->label, sizeof i->label);
        break;
    case CKA_DEP11_GEO:
        *p = i->geo;
        *len = unpadded(i->geo, sizeof i->geo);
        break;
    default: return 0;
    }
    return 1;
}

/* One attribute of @r into @a. */
static CK_RV get_one(const struct vreq *r, CK_ATTRIBUTE *a)
{
    static const CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
    CK_ULONG ul = 0;
    const void *p = &ul;
    CK_ULONG len = sizeof ul;

    switch (a->type) {
    case CKA_CLASS: ul = CKO_DEP11_REQUEST; break;
    case CKA_DEP11_REQUEST_OP: ul = r->op; break;
    case CKA_DEP11_REQUEST_FLAGS: ul = r->flags; break;
    case CKA_VALUE_LEN: ul = r->value_len; break;
    case CKA_DEP11_REQUEST_OUTPUT:
        p = r->out;
        len = r->out_len;
        break;
    case CKA_TOKEN:
    case CKA_PRIVATE:
    case CKA_MODIFIABLE:
    case CKA_COPYABLE:
        p = &no;
        len = sizeof no;
        break;
    case CKA_DESTROYABLE:
        p = &yes;
        len = sizeof yes;
        break;
    default:
        if (info_field(r, a->type, &p, &len, &ul))
            break;
        a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return CKR_ATTRIBUTE_TYPE_INVALID;
    }
    if (a->pValue != NULL && a->ulValueLen < len) {
        a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return CKR_BUFFER_TOO_SMALL;
    }
    if (a->pValue != NULL && len != 0)
        memcpy(a->pValue, p, len);
    a->ulValueLen = len;
    return CKR_OK;
}

/** See vendor_obj.h. */
int dep11_vobj_get(CK_SESSION_HANDLE hs, CK_OBJECT_HANDLE h, CK_ATTRIBUTE *t, CK_ULONG n,
                   CK_RV *rv)
{
    struct dep11_session *s = NULL;
    struct vreq *r = NULL;

    if (!lock_req(hs, h, &s, &r, rv))
        return 0; /* not a request */
    if (*rv != CKR_OK)
        return 1;
    if (t == NULL && n > 0) {
        *rv = CKR_ARGUMENTS_BAD;
    } else {
        for (CK_ULONG i = 0; i < n; i++) {
            CK_RV one = get_one(r, &t[i]);
            /* every attribute is processed; TYPE_INVALID outranks TOO_SMALL */
            if (one != CKR_OK && *rv != CKR_ATTRIBUTE_TYPE_INVALID)
                *rv = one;
        }
    }
    dep11_unlock(&vreq_lock);
    if (*rv != CKR_OK)
        LOG_FAIL(*rv, "C_GetAttributeValue of request 0x%lx", h);
    dep11_session_release(s);
    return 1;
}

/** See vendor_obj.h. */
int dep11_vobj_destroy(CK_SESSION_HANDLE hs, CK_OBJECT_HANDLE h, CK_RV *rv)
{
    struct dep11_session *s = NULL;
    struct vreq *r = NULL;

    if (!lock_req(hs, h, &s, &r, rv))
        return 0; /* not a request */
    if (*rv != CKR_OK)
        return 1;
    (void)dep11_hmap_del(&vreqs, h);
    __atomic_sub_fetch(&live, 1, __ATOMIC_RELEASE);
    dep11_unlock(&vreq_lock);
    dep11_object_unreserve(h);
    vreq_free(r);
    dep11_session_release(s);
    return 1;
}

/** See vendor_obj.h. */
int dep11_vobj_other(CK_SESSION_HANDLE hs, CK_OBJECT_HANDLE h, int size_call, CK_ULONG_PTR size,
                     CK_RV *rv)
{
    struct dep11_session *s = NULL;
    struct vreq *r = NULL;

    if (!lock_req(hs, h, &s, &r, rv))
        return 0; /* not a request */
    if (*rv != CKR_OK)
        return 1;
    if (size_call && size != NULL)
        *size = r->out_len;
    dep11_unlock(&vreq_lock);
    if (size_call && size == NULL) {
        *rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(*rv, "pulSize is NULL");
    } else if (!size_call) {
        *rv = CKR_ACTION_PROHIBITED;
        LOG_FAIL(*rv, "request 0x%lx is read only and not copyable", h);
    }
    dep11_session_release(s);
    return 1;
}

/* ---- clean-up ---- */

/** See vendor_obj.h. */
void dep11_vobj_drop_session(uint64_t serial)
{
    struct vreq *gone = NULL, *r = NULL;
    CK_OBJECT_HANDLE *hs = NULL;
    size_t n = 0;

    dep11_lock(&vreq_lock);
    hs = calloc(vreqs.count + 1, sizeof *hs);
    for (size_t pos = 0; hs != NULL && (r = dep11_hmap_next(&vreqs, &pos)) != NULL; pos++)
        if (r->creator == serial)
            hs[n++] = DEP11_HANDLE_BASE + (CK_OBJECT_HANDLE)pos;
    for (size_t i = 0; i < n; i++) {
        r = dep11_hmap_del(&vreqs, hs[i]);
        r->next = gone;
        gone = r;
        __atomic_sub_fetch(&live, 1, __ATOMIC_RELEASE);
    }
    dep11_unlock(&vreq_lock);
    if (hs == NULL)
        LOG_ERROR("out of memory: the session's dep11 requests stay until C_Finalize");
    for (size_t k = 0; k < n; k++)
        dep11_object_unreserve(hs[k]);
    free(hs);
    for (; gone != NULL; gone = r) {
        r = gone->next;
        vreq_free(gone);
    }
}

/** See vendor_obj.h. */
void dep11_vobj_fini(void)
{
    struct vreq *r = NULL;

    dep11_lock(&vreq_lock);
    for (size_t pos = 0; (r = dep11_hmap_next(&vreqs, &pos)) != NULL; pos++)
        vreq_free(r);
    dep11_hmap_free(&vreqs);
    __atomic_store_n(&live, 0, __ATOMIC_RELEASE);
    dep11_unlock(&vreq_lock);
}

void dep11_vobj_fork_lock(void)
{
    dep11_lock(&vreq_lock);
}
void dep11_vobj_fork_unlock(void)
{
    dep11_unlock(&vreq_lock);
}
