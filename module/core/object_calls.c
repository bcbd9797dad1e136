/*
 * object_calls.c - the consumer's object calls (C_CreateObject,
 * C_CopyObject, C_DestroyObject, C_GetObjectSize, C_GetAttributeValue,
 * C_SetAttributeValue) over the handle space of object.c: module-side keys
 * and request objects answered here, backend objects forwarded through the
 * allow-list, and a registered root kept the customer's (no destroy, no
 * change through dep11: DESIGN section 2).
 */
#include <stdlib.h>
#include <string.h>

#include "core/allow.h"
#include "core/handle.h"
#include "core/internal.h"
#include "core/ops.h"
#include "core/vendor_obj.h"
#include "hsm/backend.h"
#include "hsm/call.h"
#include "hsm/rsa.h"
#include "hier/root_reg.h"
#include "util/log.h"

/* The class of backend object @b when it is an RSA key, else 0 (one
 * attribute read; an unreadable object is no RSA key). */
static CK_OBJECT_CLASS rsa_key_class(CK_SESSION_HANDLE hs, CK_OBJECT_HANDLE b)
{
    CK_OBJECT_CLASS cls = (CK_OBJECT_CLASS)-1;
    CK_KEY_TYPE type = (CK_KEY_TYPE)-1;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_KEY_TYPE, &type, sizeof type },
    };

    if (dep11_hsm_GetAttributeValue(hs, b, t, 2) != CKR_OK ||
        (cls != CKO_PRIVATE_KEY && cls != CKO_PUBLIC_KEY) || type != CKK_RSA)
        return 0;
    return cls;
}

/* Is backend object @b an RSA private key? (unreadable: no) */
static int is_rsa_private(CK_SESSION_HANDLE hs, CK_OBJECT_HANDLE b)
{
    return rsa_key_class(hs, b) == CKO_PRIVATE_KEY;
}

/* Is backend object @b (an RSA key, known) part of a registered root? Asked
 * on a worker session of @s's slot. CKR_OK and *@yes; worker or backend
 * codes when the question cannot be answered. */
static CK_RV root_obj(struct dep11_session *s, CK_OBJECT_HANDLE b, int *yes)
{
    CK_SESSION_HANDLE w = CK_INVALID_HANDLE;
    CK_RV rv = dep11_hsm_worker_open(s->slot, &w);

    *yes = 0;
    if (rv == CKR_OK) {
        rv = dep11_root_obj_registered(dep11_core_config(), w, s->slot, b, yes);
        dep11_hsm_worker_close(w);
    }
    return rv;
}

/*
 * Roots are the customer's (DESIGN section 2): a session that is not the
 * token's SO may not destroy, modify or copy (a copy outlives a revocation)
 * the private or public key object of a registered root or its registered
 * twin. CKR_OK to go on; CKR_ACTION_PROHIBITED; worker or backend codes
 * when the question cannot be answered. @what names the call in the log.
 */
static CK_RV refuse_root_change(struct dep11_session *s, CK_OBJECT_HANDLE b, CK_OBJECT_HANDLE h,
                                const char *what)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    CK_SESSION_INFO info;
    int yes = 0;

    if (rsa_key_class(dep11_session_backend(s), b) == 0)
        return CKR_OK; /* a data object, an AES key: one read, no more */
    memset(&info, 0, sizeof info);
    rv = dep11_hsm_GetSessionInfo(dep11_session_backend(s), &info);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "%s of 0x%lx: no session state", what, h);
        return rv;
    }
    if (info.state == CKS_RW_SO_FUNCTIONS)
        return CKR_OK; /* the key officer: unregistering is the customer's act */
    rv = root_obj(s, b, &yes);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "%s of 0x%lx: cannot tell whether it is a registered root", what, h);
        return rv;
    }
    if (yes) {
        rv = CKR_ACTION_PROHIBITED;
        LOG_FAIL(rv,
                 "%s of 0x%lx: a registered root (or its twin) is the customer's; "
                 "its SO or its own HSM tools change it",
                 what, h);
    }
    return rv;
}

/* CKA_DEP11_ROOT_REGISTERED of backend object @b into @a (the spec's
 * per-attribute protocol): DEP11_ROOT_REG_* by the profile's route. */
static CK_RV root_route_attr(struct dep11_session *s, CK_OBJECT_HANDLE b, CK_ATTRIBUTE *a)
{
    CK_ULONG route = DEP11_ROOT_REG_NONE;
    int yes = 0;
    CK_RV rv = CKR_OK;

    if (a->pValue == NULL) {
        a->ulValueLen = sizeof route;
        return CKR_OK;
    }
    if (a->ulValueLen < sizeof route) {
        a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return CKR_BUFFER_TOO_SMALL;
    }
    if (rsa_key_class(dep11_session_backend(s), b) != 0)
        rv = root_obj(s, b, &yes);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "CKA_DEP11_ROOT_REGISTERED: cannot tell whether it is a registered root");
        return rv;
    }
    if (yes)
        route = dep11_core_config()->profile.root_reg_so_login ? DEP11_ROOT_REG_SO_LOGIN
                                                               : DEP11_ROOT_REG_TWIN;
    memcpy(a->pValue, &route, sizeof route);
    a->ulValueLen = sizeof route;
    return CKR_OK;
}

/* C_GetAttributeValue of backend object @b: forwarded, except
 * CKA_DEP11_ROOT_REGISTERED, answered here. A per-attribute code of the
 * backend (type invalid, sensitive, too small) wins over CKR_OK of ours. */
static CK_RV backend_get(struct dep11_session *s, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR t,
                         CK_ULONG n)
{
    CK_ATTRIBUTE *rest = NULL;
    CK_ULONG i = 0, m = 0;
    CK_RV rv = CKR_GENERAL_ERROR, own = CKR_OK;

    for (i = 0; t != NULL && i < n && t[i].type != CKA_DEP11_ROOT_REGISTERED; i++)
        ;
    if (t == NULL || i == n)
        return dep11_hsm_GetAttributeValue(dep11_session_backend(s), b, t, n);
    if ((rest = calloc(n, sizeof *rest)) == NULL) {
        rv = CKR_HOST_MEMORY;
        LOG_FAIL(rv, "template copy");
        return rv;
    }
    for (i = 0; i < n; i++)
        if (t[i].type != CKA_DEP11_ROOT_REGISTERED)
            rest[m++] = t[i];
    rv = m > 0 ? dep11_hsm_GetAttributeValue(dep11_session_backend(s), b, rest, m) : CKR_OK;
    for (i = 0, m = 0; i < n; i++) {
        if (t[i].type != CKA_DEP11_ROOT_REGISTERED)
            t[i].ulValueLen = rest[m++].ulValueLen;
        else if (rv == CKR_OK || rv == CKR_ATTRIBUTE_SENSITIVE ||
                 rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_BUFFER_TOO_SMALL)
            own = own == CKR_OK ? root_route_attr(s, b, &t[i]) : own;
    }
    free(rest);
    return rv == CKR_OK ? own : rv;
}

/* Acquires session @hs and resolves object @ho on it: *@o (a module-side key,
 * referenced) or *@b (a backend handle). On failure nothing is held. */
static CK_RV open_object(CK_SESSION_HANDLE hs, CK_OBJECT_HANDLE ho, struct dep11_session **s,
                         struct dep11_object **o, CK_OBJECT_HANDLE *b)
{
    CK_RV rv = dep11_session_acquire(hs, s);

    if (rv != CKR_OK)
        return rv;
    rv = dep11_object_resolve(*s, ho, o, b);
    if (rv != CKR_OK) {
        dep11_session_release(*s);
        *s = NULL;
    }
    return rv;
}

static void close_object(struct dep11_session *s, struct dep11_object *o)
{
    dep11_object_release(o);
    dep11_session_release(s);
}

/* Translates a new backend object for the consumer; on failure destroys it
 * (the consumer could never name it). */
static CK_RV new_backend_object(struct dep11_session *s, CK_OBJECT_HANDLE b, int session_object,
                                CK_OBJECT_HANDLE *out)
{
    CK_RV rv = dep11_object_from_backend(s, b, session_object, out);

    if (rv != CKR_OK)
        (void)dep11_hsm_DestroyObject(dep11_session_backend(s), b);
    return rv;
}

/**
 * dep11_core_CreateObject - forwarded. Module-side objects come only from
 * dep11 mechanisms: a template naming a CKA_DEP11_* attribute is
 * CKR_TEMPLATE_INCONSISTENT. CKR_ARGUMENTS_BAD; backend codes.
 */
CK_RV dep11_core_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
                              CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phObject)
{
    struct dep11_session *s = NULL;
    CK_OBJECT_HANDLE b = CK_INVALID_HANDLE;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (dep11_vobj_create(hSession, pTemplate, ulCount, phObject, &rv))
        return rv; /* a dep11 request (vendor_obj.c) */
    rv = dep11_session_acquire(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    if (phObject == NULL || (pTemplate == NULL && ulCount > 0)) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL template or output");
        goto out;
    }
    if (dep11_attr_has_vendor(pTemplate, ulCount)) {
        rv = CKR_TEMPLATE_INCONSISTENT;
        LOG_FAIL(rv, "dep11 attributes are set by dep11 mechanisms only");
        goto out;
    }
    rv = dep11_hsm_CreateObject(dep11_session_backend(s), pTemplate, ulCount, &b);
    if (rv == CKR_OK)
        rv = new_backend_object(s, b, dep11_template_session_object(pTemplate, ulCount),
                                phObject);
out:
    dep11_session_release(s);
    return rv;
}

/* Is copy @nb a session object? (CKA_TOKEN comes from the template or the
 * original; unreadable counts as one: it then leaves the list early.) */
static int copy_is_session_object(struct dep11_session *s, CK_OBJECT_HANDLE nb)
{
    CK_BBOOL token = CK_FALSE;
    CK_ATTRIBUTE t = { CKA_TOKEN, &token, sizeof token };

    if (dep11_hsm_GetAttributeValue(dep11_session_backend(s), nb, &t, 1) != CKR_OK)
        return 1;
    return token == CK_FALSE;
}

/**
 * dep11_core_CopyObject - forwarded for backend objects. A module-side key
 * is never copied (a copy with new attributes would undo its rules):
 * CKR_ACTION_PROHIBITED. dep11 attributes in the template:
 * CKR_TEMPLATE_INCONSISTENT.
 */
CK_RV dep11_core_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                            CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                            CK_OBJECT_HANDLE_PTR phNewObject)
{
    struct dep11_session *s = NULL;
    struct dep11_object *o = NULL;
    CK_OBJECT_HANDLE b = CK_INVALID_HANDLE, nb = CK_INVALID_HANDLE;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (dep11_vobj_other(hSession, hObject, 0, NULL, &rv))
        return rv;
    rv = open_object(hSession, hObject, &s, &o, &b);

    if (rv != CKR_OK)
        return rv;
    if (phNewObject == NULL || (pTemplate == NULL && ulCount > 0)) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL template or output");
    } else if (o != NULL) {
        rv = CKR_ACTION_PROHIBITED;
        LOG_FAIL(rv, "module-side key 0x%lx cannot be copied", hObject);
    } else if (dep11_attr_has_vendor(pTemplate, ulCount)) {
        rv = CKR_TEMPLATE_INCONSISTENT;
        LOG_FAIL(rv, "dep11 attributes are set by dep11 mechanisms only");
    } else {
        rv = refuse_root_change(s, b, hObject, "C_CopyObject");
        if (rv == CKR_OK) {
            rv = dep11_hsm_CopyObject(dep11_session_backend(s), b, pTemplate, ulCount, &nb);
            if (rv == CKR_OK)
                rv = new_backend_object(s, nb, copy_is_session_object(s, nb), phNewObject);
        }
    }
    close_object(s, o);
    return rv;
}

/**
 * dep11_core_DestroyObject - a module-side key is removed and cleansed (at
 * once, or when the last operation holding it ends); a backend object is
 * forwarded and its handle leaves the allow-list, except a registered root's
 * objects outside an SO session (CKR_ACTION_PROHIBITED).
 * CKR_OBJECT_HANDLE_INVALID.
 */
CK_RV dep11_core_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject)
{
    struct dep11_session *s = NULL;
    struct dep11_object *o = NULL;
    CK_OBJECT_HANDLE b = CK_INVALID_HANDLE;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (dep11_vobj_destroy(hSession, hObject, &rv))
        return rv;
    rv = open_object(hSession, hObject, &s, &o, &b);

    if (rv != CKR_OK)
        return rv;
    if (o != NULL) {
        rv = dep11_object_unlink(o) ? CKR_OK : CKR_OBJECT_HANDLE_INVALID;
        if (rv != CKR_OK)
            LOG_FAIL(rv, "object 0x%lx destroyed meanwhile", hObject);
    } else {
        rv = refuse_root_change(s, b, hObject, "C_DestroyObject");
        if (rv == CKR_OK) {
            rv = dep11_hsm_DestroyObject(dep11_session_backend(s), b);
            /* Gone (or already gone): the handle names nothing of the consumer's. */
            if (rv == CKR_OK || rv == CKR_OBJECT_HANDLE_INVALID)
                dep11_allow_del(s->slot, b);
        }
    }
    close_object(s, o);
    return rv;
}

/**
 * dep11_core_GetObjectSize - module-side keys: CKR_INFORMATION_SENSITIVE;
 * backend objects: forwarded.
 */
CK_RV dep11_core_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                               CK_ULONG_PTR pulSize)
{
    struct dep11_session *s = NULL;
    struct dep11_object *o = NULL;
    CK_OBJECT_HANDLE b = CK_INVALID_HANDLE;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (dep11_vobj_other(hSession, hObject, 1, pulSize, &rv))
        return rv;
    rv = open_object(hSession, hObject, &s, &o, &b);

    if (rv != CKR_OK)
        return rv;
    if (pulSize == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "pulSize is NULL");
    } else if (o != NULL) {
        rv = CKR_INFORMATION_SENSITIVE;
        LOG_FAIL(rv, "size of module-side key 0x%lx", hObject);
    } else {
        rv = dep11_hsm_GetObjectSize(dep11_session_backend(s), b, pulSize);
    }
    close_object(s, o);
    return rv;
}

/* The shared half of C_GetAttributeValue (@set 0) and C_SetAttributeValue
 * (@set 1): request objects (vendor_obj.c), module-side keys (attr.c), and
 * backend objects (forwarded; a set outside an SO session may not touch a
 * registered root: CKR_ACTION_PROHIBITED). */
static CK_RV attr_call(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                       CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount, int set)
{
    struct dep11_session *s = NULL;
    struct dep11_object *o = NULL;
    CK_OBJECT_HANDLE b = CK_INVALID_HANDLE;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (set ? dep11_vobj_other(hSession, hObject, 0, NULL, &rv)
            : dep11_vobj_get(hSession, hObject, pTemplate, ulCount, &rv))
        return rv;
    rv = open_object(hSession, hObject, &s, &o, &b);
    if (rv != CKR_OK)
        return rv;
    if (o != NULL)
        rv = set ? dep11_object_attr_set(o, pTemplate, ulCount)
                 : dep11_object_attr_get(o, pTemplate, ulCount);
    else if (!set)
        rv = backend_get(s, b, pTemplate, ulCount);
    else if ((rv = refuse_root_change(s, b, hObject, "C_SetAttributeValue")) == CKR_OK)
        rv = dep11_hsm_SetAttributeValue(dep11_session_backend(s), b, pTemplate, ulCount);
    close_object(s, o);
    return rv;
}

/**
 * dep11_core_GetAttributeValue - module-side keys per attr.c (CKA_VALUE is
 * never returned); backend objects forwarded, CKA_DEP11_ROOT_REGISTERED
 * answered by dep11 (include/dep11.h).
 */
CK_RV dep11_core_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                   CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    return attr_call(hSession, hObject, pTemplate, ulCount, 0);
}

/**
 * dep11_core_SetAttributeValue - module-side keys: only CKA_LABEL and CKA_ID
 * change (CKR_ATTRIBUTE_READ_ONLY for the rest); backend objects forwarded,
 * except a registered root's objects outside an SO session
 * (CKR_ACTION_PROHIBITED).
 */
CK_RV dep11_core_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                   CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    return attr_call(hSession, hObject, pTemplate, ulCount, 1);
}

/**
 * dep11_core_is_registered_root - see core.h. Asks on a worker session of
 * @s's slot (the consumer's session may have an operation active). An object
 * that cannot be read or resolved is not a root (*@yes = 0, CKR_OK: the
 * backend then answers the caller's own call). CKR_ARGUMENTS_BAD; worker or
 * backend codes when the question cannot be answered (callers refuse).
 */
CK_RV dep11_core_is_registered_root(struct dep11_session *s, CK_OBJECT_HANDLE backend, int *yes)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    CK_SESSION_HANDLE w = CK_INVALID_HANDLE;
    struct dep11_hsm_rsa rsa;

    if (s == NULL || yes == NULL)
        return CKR_ARGUMENTS_BAD;
    *yes = 0;
    if (!is_rsa_private(dep11_session_backend(s), backend))
        return CKR_OK;
    rv = dep11_hsm_worker_open(dep11_session_slot(s), &w);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "no worker session on slot %lu", dep11_session_slot(s));
        return rv;
    }
    memset(&rsa, 0, sizeof rsa);
    rv = dep11_hsm_rsa_resolve(w, backend, &rsa);
    if (rv == CKR_OK)
        rv = dep11_root_registered(dep11_core_config(), w, dep11_session_slot(s), &rsa, yes);
    else if (rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID)
        rv = CKR_OK; /* not an RSA key pair dep11 can use: not a root */
    dep11_hsm_worker_close(w);
    if (rv != CKR_OK)
        LOG_FAIL(rv, "cannot tell whether 0x%lx is a registered root", backend);
    return rv;
}
