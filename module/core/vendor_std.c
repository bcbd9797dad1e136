/*
 * vendor_std.c - the vendor functions through standard calls (see
 * vendor_std.h): DEP11_GetPolicyInfo as CKM_DEP11_POLICY_INFO (digest),
 * DEP11_FlushCache as CKM_DEP11_FLUSH_CACHE (digest), DEP11_PurgePolicy as
 * CKM_DEP11_POLICY_PURGE (sign, no key). One op per session at a time; it
 * gathers the input of multi-part calls and runs hier's implementation at
 * the single-part call or the Final. The op is taken out of the session
 * while it runs (a purge calls the HSM: no session lock is held then).
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/mech.h"
#include "core/ops.h"
#include "core/vendor_std.h"
#include "hier/cache.h"
#include "hier/root_reg.h"
#include "util/log.h"
#include "util/secmem.h"

/* Most input a multi-part call gathers (a policy blob is a few KiB). */
#define VSTD_INPUT_MAX (64UL * 1024)

typedef CK_RV (*vstd_run_fn)(struct dep11_session *s, const CK_BYTE *in, CK_ULONG len,
                             CK_BYTE_PTR out, CK_ULONG_PTR out_len);

/* One mechanism of the route. */
struct vstd_route {
    CK_MECHANISM_TYPE mech;
    int login;      /* needs a user login (as its vendor function) */
    CK_RV too_long; /* the answer to gathered input past the max */
    vstd_run_fn run;
};

struct dep11_vstd_op {
    const struct vstd_route *r;
    enum dep11_vstd_family family;
    CK_BYTE *buf; /* gathered input (updates) */
    size_t len, cap;
    int over; /* input went past VSTD_INPUT_MAX */
};

/* An empty input as a pointer: hier reads a NULL blob as a bad argument,
 * the standard calls read it as no data (a malformed blob). */
static const CK_BYTE no_data[1];

/* ---- the three routes: hier's implementation, the same answers ---- */

/* DEP11_GetPolicyInfo: the blob is parsed first (a bad one fails a size
 * query too), then the CK_DEP11_POLICY_INFO bytes. */
static CK_RV run_info(struct dep11_session *s, const CK_BYTE *in, CK_ULONG len, CK_BYTE_PTR out,
                      CK_ULONG_PTR out_len)
{
    CK_DEP11_POLICY_INFO info;
    CK_RV rv = dep11_policy_info(in, len, &info);

    (void)s;
    if (rv != CKR_OK)
        return rv;
    if (out != NULL && *out_len < sizeof info) {
        rv = CKR_BUFFER_TOO_SMALL;
        LOG_FAIL(rv, "policy info is %zu bytes, buffer %lu", sizeof info,
                 (unsigned long)*out_len);
    } else if (out != NULL) {
        memcpy(out, &info, sizeof info);
    }
    *out_len = sizeof info;
    return rv;
}

/* DEP11_FlushCache: 16 bytes name one policy, no data flushes all. The
 * output is empty; a NULL output is a size query and flushes nothing. */
static CK_RV run_flush(struct dep11_session *s, const CK_BYTE *in, CK_ULONG len,
                       CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    CK_RV rv = CKR_DATA_LEN_RANGE;

    (void)s;
    if (len != 0 && len != DEP11_ID_LEN) {
        LOG_FAIL(rv, "a policy id is %d bytes (or none for all), not %lu", DEP11_ID_LEN,
                 (unsigned long)len);
        return rv;
    }
    if (out != NULL)
        dep11_cache_flush(len != 0 ? in : NULL);
    *out_len = 0;
    return CKR_OK;
}

/* DEP11_PurgePolicy on the session's token (still logged in?). */
static CK_RV run_purge(struct dep11_session *s, const CK_BYTE *in, CK_ULONG len,
                       CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    struct dep11_call call = { .slot = dep11_session_slot(s), .cfg = dep11_core_config() };
    CK_RV rv = dep11_session_require_user(s);

    if (rv == CKR_OK)
        rv = dep11_policy_purge(&call, in, len, out, out_len);
    return rv;
}

/* DEP11_RegisterRoot: root identity (32 bytes) || SO PIN. The output is
 * empty; a NULL output is a size query and does nothing. */
static CK_RV run_root(struct dep11_session *s, CK_ULONG action, const CK_BYTE *in, CK_ULONG len,
                      CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    struct dep11_call call = { .slot = dep11_session_slot(s), .cfg = dep11_core_config() };
    CK_RV rv = CKR_DATA_LEN_RANGE;

    if (len < DEP11_ROOT_ID_LEN) {
        LOG_FAIL(rv, "a root identity (%d bytes) and the SO PIN, not %lu bytes",
                 DEP11_ROOT_ID_LEN, (unsigned long)len);
        return rv;
    }
    *out_len = 0;
    if (out == NULL)
        return CKR_OK;
    return dep11_root_register(&call, action, in, DEP11_ROOT_ID_LEN, in + DEP11_ROOT_ID_LEN,
                               len - DEP11_ROOT_ID_LEN);
}

static CK_RV run_register(struct dep11_session *s, const CK_BYTE *in, CK_ULONG len,
                          CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    return run_root(s, DEP11_ROOT_REGISTER, in, len, out, out_len);
}

static CK_RV run_unregister(struct dep11_session *s, const CK_BYTE *in, CK_ULONG len,
                            CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    return run_root(s, DEP11_ROOT_UNREGISTER, in, len, out, out_len);
}

static const struct vstd_route routes[] = {
    { CKM_DEP11_POLICY_INFO, 0, CKR_WRAPPED_KEY_INVALID, run_info },
    { CKM_DEP11_POLICY_PURGE, 1, CKR_WRAPPED_KEY_INVALID, run_purge },
    { CKM_DEP11_FLUSH_CACHE, 0, CKR_DATA_LEN_RANGE, run_flush },
    { CKM_DEP11_ROOT_REGISTER, 0, CKR_DATA_LEN_RANGE, run_register },
    { CKM_DEP11_ROOT_UNREGISTER, 0, CKR_DATA_LEN_RANGE, run_unregister },
};

/**
 * dep11_core_RegisterRoot - see ops.h: DEP11_RegisterRoot on a session
 * dep11 opened for the consumer. CKR_OK; CKR_CRYPTOKI_NOT_INITIALIZED;
 * CKR_ARGUMENTS_BAD; CKR_SESSION_HANDLE_INVALID; hier's codes.
 */
CK_RV dep11_core_RegisterRoot(CK_SESSION_HANDLE hSession, CK_ULONG ulAction,
                              CK_BYTE_PTR pRootId, CK_ULONG ulRootIdLen, CK_UTF8CHAR_PTR pSoPin,
                              CK_ULONG ulSoPinLen)
{
    struct dep11_session *s = NULL;
    struct dep11_call call;
    CK_RV rv = dep11_core_check_init();

    if (rv != CKR_OK)
        return rv;
    if (pRootId == NULL || (pSoPin == NULL && ulSoPinLen != 0)) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL root identity or SO PIN");
        return rv;
    }
    rv = dep11_session_acquire(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    call.slot = dep11_session_slot(s);
    call.cfg = dep11_core_config();
    rv = dep11_root_register(&call, ulAction, pRootId, ulRootIdLen, pSoPin, ulSoPinLen);
    dep11_session_release(s);
    return rv;
}

static const struct vstd_route *route_of(CK_MECHANISM_TYPE m)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (routes[i].mech == m)
            return &routes[i];
    return NULL;
}

/** See vendor_std.h. */
size_t dep11_vstd_ops(CK_MECHANISM_TYPE *out, size_t max)
{
    size_t n = sizeof routes / sizeof routes[0];

    for (size_t i = 0; out != NULL && i < n && i < max; i++)
        out[i] = routes[i].mech;
    return n;
}

/** See vendor_std.h. */
CK_RV dep11_vstd_run(struct dep11_session *s, CK_MECHANISM_TYPE m, const CK_BYTE *in,
                     CK_ULONG len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    const struct vstd_route *r = route_of(m);
    CK_RV rv = CKR_ATTRIBUTE_VALUE_INVALID;

    if (r == NULL) {
        LOG_FAIL(rv, "0x%lx is not an operation of the dep11 routes", m);
        return rv;
    }
    rv = r->login ? dep11_session_require_user(s) : CKR_OK; /* as check_init */
    if (rv != CKR_OK)
        return rv;
    if (len > VSTD_INPUT_MAX) {
        rv = r->too_long;
        LOG_FAIL(rv, "input longer than %lu bytes", VSTD_INPUT_MAX);
        return rv;
    }
    return r->run(s, len != 0 ? in : no_data, len, out, out_len);
}

/** See vendor_std.h. */
void dep11_vstd_free(struct dep11_vstd_op *op)
{
    if (op == NULL)
        return;
    if (op->buf != NULL)
        dep11_cleanse(op->buf, op->cap);
    free(op->buf);
    free(op);
}

/* ---- Init ---- */

/* The checks of an Init with dep11 mechanism @m; *@r gets its route. */
static CK_RV check_init(struct dep11_session *s, enum dep11_vstd_family family,
                        const CK_MECHANISM *m, CK_OBJECT_HANDLE key,
                        const struct vstd_route **r)
{
    CK_FLAGS want = family == DEP11_VSTD_SIGN ? CKF_SIGN : CKF_DIGEST;
    CK_RV rv = CKR_MECHANISM_INVALID;

    *r = route_of(m->mechanism);
    if (*r == NULL || dep11_mech_refuses(m->mechanism, want)) {
        LOG_FAIL(rv, "mechanism 0x%lx does not %s", m->mechanism,
                 family == DEP11_VSTD_SIGN ? "sign" : "digest");
        return rv;
    }
    if (m->pParameter != NULL || m->ulParameterLen != 0) {
        rv = CKR_MECHANISM_PARAM_INVALID;
        LOG_FAIL(rv, "mechanism 0x%lx takes no parameter", m->mechanism);
        return rv;
    }
    if (key != CK_INVALID_HANDLE) {
        rv = CKR_KEY_HANDLE_INVALID;
        LOG_FAIL(rv, "mechanism 0x%lx takes no key (CK_INVALID_HANDLE)", m->mechanism);
        return rv;
    }
    return (*r)->login ? dep11_session_require_user(s) : CKR_OK;
}

/* Installs a fresh op of route @r and @family on @s. */
static CK_RV start(struct dep11_session *s, enum dep11_vstd_family family,
                   const struct vstd_route *r)
{
    struct dep11_vstd_op *op = calloc(1, sizeof *op);
    CK_RV rv = CKR_HOST_MEMORY;

    if (op == NULL) {
        LOG_FAIL(rv, "vendor op");
        return rv;
    }
    op->r = r;
    op->family = family;
    dep11_session_lock(s);
    /* LOCKED: session operation state */
    if (s->vstd == NULL) {
        s->vstd = op;
        op = NULL;
        rv = CKR_OK;
    } else {
        rv = CKR_OPERATION_ACTIVE;
    }
    dep11_session_unlock(s);
    if (op != NULL) {
        LOG_FAIL(rv, "a dep11 operation is running on the session");
        dep11_vstd_free(op);
    }
    return rv;
}

/* Is a vendor op of @family running on @s? */
static int running(struct dep11_session *s, enum dep11_vstd_family family)
{
    int yes = 0;

    dep11_session_lock(s);
    /* LOCKED: session operation state */
    yes = s->vstd != NULL && s->vstd->family == family;
    dep11_session_unlock(s);
    return yes;
}

/* Takes the op of @family out of @s (NULL when none runs). */
static struct dep11_vstd_op *take(struct dep11_session *s, enum dep11_vstd_family family)
{
    struct dep11_vstd_op *op = NULL;

    dep11_session_lock(s);
    /* LOCKED: session operation state */
    if (s->vstd != NULL && s->vstd->family == family) {
        op = s->vstd;
        s->vstd = NULL;
    }
    dep11_session_unlock(s);
    return op;
}

/** See vendor_std.h. */
int dep11_vstd_init(struct dep11_session *s, enum dep11_vstd_family family,
                    const CK_MECHANISM *m, CK_OBJECT_HANDLE key, CK_RV *rv)
{
    const struct vstd_route *r = NULL;
    struct dep11_vstd_op *op = NULL;

    if (m == NULL) { /* PKCS#11 3.0: a NULL mechanism ends the operation */
        op = take(s, family);
        if (op == NULL)
            return 0;
        dep11_vstd_free(op);
        *rv = CKR_OK;
        return 1;
    }
    if (dep11_mech_find(m->mechanism) == NULL) {
        if (!running(s, family))
            return 0;
        *rv = CKR_OPERATION_ACTIVE;
        LOG_FAIL(*rv, "a dep11 operation is running on the session");
        return 1;
    }
    *rv = check_init(s, family, m, key, &r);
    if (*rv == CKR_OK)
        *rv = start(s, family, r);
    return 1;
}

/* ---- the calls that run it ---- */

/* Gives @op back to @s (an op that goes on after a size query). */
static void put_back(struct dep11_session *s, struct dep11_vstd_op *op)
{
    dep11_session_lock(s);
    /* LOCKED: session operation state */
    if (s->vstd == NULL) {
        s->vstd = op;
        op = NULL;
    }
    dep11_session_unlock(s);
    dep11_vstd_free(op); /* another Init took the session meanwhile */
}

/** See vendor_std.h. */
int dep11_vstd_step(struct dep11_session *s, enum dep11_vstd_family family, int final,
                    const CK_BYTE *in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len,
                    CK_RV *rv)
{
    struct dep11_vstd_op *op = take(s, family);

    if (op == NULL)
        return 0;
    if (final) {
        in = op->buf;
        in_len = op->len;
    }
    if (out_len == NULL || (in == NULL && in_len != 0)) {
        *rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(*rv, "NULL data or output length");
    } else if (op->over) {
        *rv = op->r->too_long;
        LOG_FAIL(*rv, "input longer than %lu bytes", VSTD_INPUT_MAX);
    } else {
        *rv = op->r->run(s, in_len != 0 ? in : no_data, in_len, out, out_len);
    }
    if ((*rv == CKR_OK && out == NULL) || *rv == CKR_BUFFER_TOO_SMALL)
        put_back(s, op);
    else
        dep11_vstd_free(op);
    return 1;
}

/* Appends @len bytes to @op's input (past the max: only marks it). */
static CK_RV gather(struct dep11_vstd_op *op, const CK_BYTE *part, CK_ULONG len)
{
    CK_BYTE *grown = NULL;
    size_t cap = op->cap;

    if (op->over || len > VSTD_INPUT_MAX - op->len) {
        op->over = 1;
        return CKR_OK;
    }
    while (cap < op->len + len)
        cap = cap == 0 ? 4096 : 2 * cap;
    if (cap != op->cap) {
        grown = calloc(1, cap);
        if (grown == NULL) {
            LOG_FAIL(CKR_HOST_MEMORY, "%zu bytes of input", cap);
            return CKR_HOST_MEMORY;
        }
        if (op->buf != NULL) {
            memcpy(grown, op->buf, op->len);
            dep11_cleanse(op->buf, op->cap);
            free(op->buf);
        }
        op->buf = grown;
        op->cap = cap;
    }
    if (len != 0)
        memcpy(op->buf + op->len, part, len);
    op->len += len;
    return CKR_OK;
}

/** See vendor_std.h. */
int dep11_vstd_update(struct dep11_session *s, enum dep11_vstd_family family,
                      const CK_BYTE *part, CK_ULONG len, CK_RV *rv)
{
    struct dep11_vstd_op *op = take(s, family);

    if (op == NULL)
        return 0;
    if (part == NULL && len != 0) {
        *rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(*rv, "NULL part");
    } else {
        *rv = gather(op, part, len);
    }
    if (*rv == CKR_OK)
        put_back(s, op);
    else
        dep11_vstd_free(op); /* an error ends the operation */
    return 1;
}
