/*
 * keyops.c - C_GenerateKey, C_GenerateKeyPair, C_WrapKey, C_UnwrapKey and
 * C_DeriveKey: a dep11 mechanism goes to hier/, a standard one on backend
 * objects is forwarded unchanged, and a module-side key never reaches a
 * standard mechanism (sticky roles, DESIGN section 2).
 */
#include <string.h>

#include "core/core.h"
#include "core/mech.h"
#include "core/ops.h"
#include "hsm/backend.h"
#include "hsm/call.h"
#include "util/log.h"

/*
 * Checks that @mech carries a parameter of exactly @size bytes (or none,
 * when @optional). CKR_OK or CKR_MECHANISM_PARAM_INVALID.
 */
static CK_RV check_param(const CK_MECHANISM *mech, size_t size, int optional)
{
    if (mech->pParameter == NULL && mech->ulParameterLen == 0 && optional)
        return CKR_OK;
    if (mech->pParameter == NULL || mech->ulParameterLen != size) {
        LOG_FAIL(CKR_MECHANISM_PARAM_INVALID,
                 "mechanism 0x%lx: parameter of %lu bytes, want %zu",
                 mech->mechanism, mech->ulParameterLen, size);
        return CKR_MECHANISM_PARAM_INVALID;
    }
    return CKR_OK;
}

/* Does a template carry a dep11 attribute? Such keys are made only by dep11
 * mechanisms. */
static int template_has_dep11(const CK_ATTRIBUTE *t, CK_ULONG n)
{
    CK_ULONG i;

    for (i = 0; t != NULL && i < n; i++)
        if ((t[i].type & ~(CK_ULONG)0xfff) ==
            (CKA_VENDOR_DEFINED | DEP11_VENDOR_TAG))
            return 1;
    return 0;
}

/*
 * Resolves @h on @s, mapping "no such object" to @invalid_rv (the precise
 * code for the role the handle plays in the call).
 */
static CK_RV resolve_as(struct dep11_session *s, CK_OBJECT_HANDLE h,
                        CK_RV invalid_rv, struct dep11_object **obj,
                        CK_OBJECT_HANDLE *backend)
{
    CK_RV rv = dep11_object_resolve(s, h, obj, backend);

    if (rv == CKR_OBJECT_HANDLE_INVALID) {
        LOG_FAIL(invalid_rv, "handle 0x%lx names no usable object", h);
        return invalid_rv;
    }
    return rv;
}

/* Refuses a pass-through private-key operation on a registered root. */
static CK_RV refuse_registered_root(struct dep11_session *s, CK_OBJECT_HANDLE backend)
{
    int yes = 0;
    CK_RV rv = dep11_core_is_registered_root(s, backend, &yes);

    if (rv != CKR_OK)
        return rv;
    if (yes) {
        LOG_FAIL(CKR_KEY_FUNCTION_NOT_PERMITTED,
                 "key 0x%lx is a registered root: only dep11 mechanisms use it",
                 backend);
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    }
    return CKR_OK;
}

/*
 * Resolves @h for a standard mechanism: it must name a backend object.
 * A module-side key gives @module_rv (with @why logged); "no such object"
 * gives @invalid_rv. With @root_check, a registered root is refused too.
 */
static CK_RV backend_key(struct dep11_session *s, CK_OBJECT_HANDLE h,
                         CK_RV invalid_rv, CK_RV module_rv, const char *why,
                         int root_check, CK_OBJECT_HANDLE *backend)
{
    struct dep11_object *obj = NULL;
    CK_RV rv = resolve_as(s, h, invalid_rv, &obj, backend);

    if (rv != CKR_OK)
        return rv;
    if (obj != NULL) {
        dep11_object_release(obj);
        LOG_FAIL(module_rv, "%s", why);
        return module_rv;
    }
    return root_check ? refuse_registered_root(s, *backend) : CKR_OK;
}

/* A template for a backend key may not carry dep11 attributes. */
static CK_RV backend_template(const CK_ATTRIBUTE *t, CK_ULONG n)
{
    if (template_has_dep11(t, n)) {
        LOG_FAIL(CKR_TEMPLATE_INCONSISTENT, "dep11 attributes on a backend key");
        return CKR_TEMPLATE_INCONSISTENT;
    }
    return CKR_OK;
}

/* Adds a key made by hier, after applying the caller's template to it. */
static CK_RV add_key(struct dep11_session *s, struct dep11_key *key,
                     const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    CK_RV rv = dep11_attr_apply_template(t, n, key);

    if (rv != CKR_OK) {
        dep11_key_free(key);
        return rv;
    }
    return dep11_object_add(s, key, out); /* frees key on failure */
}

/* Hands out a backend handle a forwarded call produced from template @t. */
static CK_RV out_handle(struct dep11_session *s, CK_RV rv, CK_OBJECT_HANDLE backend,
                        const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    if (rv != CKR_OK)
        return rv;
    return dep11_object_from_backend(s, backend, dep11_template_session_object(t, n), out);
}

static CK_RV generate_dep11(struct dep11_session *s, CK_MECHANISM_PTR mech,
                            CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR out)
{
    struct dep11_keygen_req req;
    struct dep11_key *key = NULL;
    CK_RV rv = CKR_GENERAL_ERROR;

    memset(&req, 0, sizeof req);
    rv = check_param(mech, 0, 1);
    if (rv != CKR_OK)
        return rv;
    rv = dep11_session_require_user(s);
    if (rv != CKR_OK)
        return rv;
    rv = dep11_attr_parse_keygen(t, n, &req);
    if (rv != CKR_OK)
        return rv;
    rv = dep11_key_generate(&req, &key);
    if (rv != CKR_OK)
        return rv;
    return dep11_object_add(s, key, out);
}

CK_RV dep11_core_GenerateKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                             CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                             CK_OBJECT_HANDLE_PTR phKey)
{
    struct dep11_session *s = NULL;
    CK_OBJECT_HANDLE bh = CK_INVALID_HANDLE;
    CK_RV rv = CKR_GENERAL_ERROR;

    rv = dep11_session_acquire(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    rv = CKR_ARGUMENTS_BAD;
    if (pMechanism == NULL || phKey == NULL || (ulCount > 0 && pTemplate == NULL)) {
        LOG_FAIL(rv, "NULL mechanism, key handle or template");
        goto out;
    }
    if (pMechanism->mechanism == CKM_DEP11_KEY_GEN) {
        rv = generate_dep11(s, pMechanism, pTemplate, ulCount, phKey);
        goto out;
    }
    rv = CKR_MECHANISM_INVALID;
    if (dep11_mech_refuses(pMechanism->mechanism, CKF_GENERATE)) {
        LOG_FAIL(rv, "mechanism 0x%lx does not generate keys", pMechanism->mechanism);
        goto out;
    }
    rv = backend_template(pTemplate, ulCount);
    if (rv != CKR_OK)
        goto out;
    rv = dep11_hsm_GenerateKey(dep11_session_backend(s), pMechanism,
                               pTemplate, ulCount, &bh);
    rv = out_handle(s, rv, bh, pTemplate, ulCount, phKey);
out:
    dep11_session_release(s);
    return rv;
}

CK_RV dep11_core_GenerateKeyPair(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                 CK_ATTRIBUTE_PTR pPublicKeyTemplate,
                                 CK_ULONG ulPublicKeyAttributeCount,
                                 CK_ATTRIBUTE_PTR pPrivateKeyTemplate,
                                 CK_ULONG ulPrivateKeyAttributeCount,
                                 CK_OBJECT_HANDLE_PTR phPublicKey,
                                 CK_OBJECT_HANDLE_PTR phPrivateKey)
{
    struct dep11_session *s = NULL;
    CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
    CK_RV rv = CKR_GENERAL_ERROR;

    rv = dep11_session_acquire(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    rv = CKR_ARGUMENTS_BAD;
    if (pMechanism == NULL || phPublicKey == NULL || phPrivateKey == NULL) {
        LOG_FAIL(rv, "NULL mechanism or key handle pointer");
        goto out;
    }
    rv = CKR_MECHANISM_INVALID;
    if (dep11_mech_refuses(pMechanism->mechanism, CKF_GENERATE_KEY_PAIR)) {
        LOG_FAIL(rv, "mechanism 0x%lx does not generate key pairs", pMechanism->mechanism);
        goto out;
    }
    rv = backend_template(pPublicKeyTemplate, ulPublicKeyAttributeCount);
    if (rv == CKR_OK)
        rv = backend_template(pPrivateKeyTemplate, ulPrivateKeyAttributeCount);
    if (rv != CKR_OK)
        goto out;
    rv = dep11_hsm_GenerateKeyPair(
                                   dep11_session_backend(s), pMechanism, pPublicKeyTemplate,
                                   ulPublicKeyAttributeCount, pPrivateKeyTemplate,
                                   ulPrivateKeyAttributeCount, &pub, &priv);
    if (rv == CKR_OK)
        rv = out_handle(s, rv, pub, pPublicKeyTemplate, ulPublicKeyAttributeCount,
                        phPublicKey);
    if (rv == CKR_OK)
        rv = out_handle(s, rv, priv, pPrivateKeyTemplate, ulPrivateKeyAttributeCount,
                        phPrivateKey);
out:
    dep11_session_release(s);
    return rv;
}

/* The key to be wrapped by a dep11 wrap must be a module-side key. */
static CK_RV wrapped_module_key(struct dep11_session *s, CK_OBJECT_HANDLE h,
                                enum dep11_use use, struct dep11_object **obj)
{
    CK_OBJECT_HANDLE bh = CK_INVALID_HANDLE;
    CK_RV rv = resolve_as(s, h, CKR_KEY_HANDLE_INVALID, obj, &bh);

    if (rv != CKR_OK)
        return rv;
    if (*obj == NULL) {
        LOG_FAIL(CKR_KEY_NOT_WRAPPABLE, "key 0x%lx is not a dep11 key", h);
        return CKR_KEY_NOT_WRAPPABLE;
    }
    return dep11_key_permits(dep11_object_key(*obj), use, 0);
}

/*
 * Resolves a root handle of POLICY_WRAP: CK_INVALID_HANDLE stays so; a
 * module-side key is never a root. @bad is the code for an unusable handle.
 */
static CK_RV root_handle(struct dep11_session *s, CK_OBJECT_HANDLE h, CK_RV bad,
                         CK_OBJECT_HANDLE *backend)
{
    struct dep11_object *obj = NULL;
    CK_RV rv = CKR_GENERAL_ERROR;

    *backend = CK_INVALID_HANDLE;
    if (h == CK_INVALID_HANDLE)
        return CKR_OK;
    rv = resolve_as(s, h, bad, &obj, backend);
    if (rv != CKR_OK)
        return rv;
    if (obj != NULL) {
        dep11_object_release(obj);
        LOG_FAIL(bad, "handle 0x%lx is a dep11 key, not an RSA root", h);
        return bad;
    }
    return CKR_OK;
}

static CK_RV wrap_policy(struct dep11_session *s, CK_MECHANISM_PTR mech,
                         CK_OBJECT_HANDLE hRoot1, CK_OBJECT_HANDLE hKey,
                         CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    const CK_DEP11_POLICY_WRAP_PARAMS *p = NULL;
    struct dep11_object *obj = NULL;
    struct dep11_call call;
    CK_OBJECT_HANDLE r1 = CK_INVALID_HANDLE, r2 = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE second = CK_INVALID_HANDLE;
    CK_FLAGS flags = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    rv = check_param(mech, sizeof *p, 1);
    if (rv != CKR_OK)
        return rv;
    p = mech->pParameter;
    if (p != NULL) {
        second = p->hSecondRootKey;
        flags = p->flags;
    }
    if ((hRoot1 == CK_INVALID_HANDLE) != (second == CK_INVALID_HANDLE)) {
        LOG_FAIL(CKR_MECHANISM_PARAM_INVALID,
                 "customer-managed needs two roots, provider-managed none");
        return CKR_MECHANISM_PARAM_INVALID;
    }
    rv = dep11_session_require_user(s);
    if (rv != CKR_OK)
        return rv;
    rv = root_handle(s, hRoot1, CKR_WRAPPING_KEY_HANDLE_INVALID, &r1);
    if (rv == CKR_OK)
        rv = root_handle(s, second, CKR_MECHANISM_PARAM_INVALID, &r2);
    if (rv != CKR_OK)
        return rv;
    rv = wrapped_module_key(s, hKey, DEP11_USE_WRAPPED_BY_POLICY_WRAP, &obj);
    if (rv == CKR_OK) {
        call.slot = dep11_session_slot(s);
        call.cfg = dep11_core_config();
        rv = dep11_policy_wrap(&call, dep11_object_key(obj), r1, r2, flags,
                               out, out_len);
    }
    if (obj != NULL)
        dep11_object_release(obj);
    return rv;
}

static CK_RV wrap_child(struct dep11_session *s, CK_MECHANISM_PTR mech,
                        CK_OBJECT_HANDLE hPolicy, CK_OBJECT_HANDLE hKey,
                        CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    const CK_DEP11_CHILD_PARAMS *p = NULL;
    struct dep11_object *pol = NULL, *child = NULL;
    CK_OBJECT_HANDLE bh = CK_INVALID_HANDLE;
    CK_RV rv = CKR_GENERAL_ERROR;

    rv = check_param(mech, sizeof *p, 0);
    if (rv != CKR_OK)
        return rv;
    p = mech->pParameter;
    rv = dep11_session_require_user(s);
    if (rv != CKR_OK)
        return rv;
    rv = resolve_as(s, hPolicy, CKR_WRAPPING_KEY_HANDLE_INVALID, &pol, &bh);
    if (rv != CKR_OK)
        goto out;
    rv = CKR_WRAPPING_KEY_TYPE_INCONSISTENT;
    if (pol == NULL) {
        LOG_FAIL(rv, "wrapping key 0x%lx is not a dep11 policy key", hPolicy);
        goto out;
    }
    rv = dep11_key_permits(dep11_object_key(pol), DEP11_USE_WRAP_CHILD, 0);
    if (rv != CKR_OK)
        goto out;
    rv = wrapped_module_key(s, hKey, DEP11_USE_WRAPPED_BY_CHILD_WRAP, &child);
    if (rv != CKR_OK)
        goto out;
    rv = dep11_child_wrap(dep11_object_key(pol), dep11_object_key(child),
                          p->ownerId, out, out_len);
out:
    if (child != NULL)
        dep11_object_release(child);
    if (pol != NULL)
        dep11_object_release(pol);
    return rv;
}

/* A standard wrap: both keys must be backend keys. */
static CK_RV wrap_standard(struct dep11_session *s, CK_MECHANISM_PTR mech,
                           CK_OBJECT_HANDLE hWrapping, CK_OBJECT_HANDLE hKey,
                           CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    CK_OBJECT_HANDLE bw = CK_INVALID_HANDLE, bk = CK_INVALID_HANDLE;
    CK_RV rv = CKR_GENERAL_ERROR;

    rv = backend_key(s, hWrapping, CKR_WRAPPING_KEY_HANDLE_INVALID,
                     CKR_KEY_FUNCTION_NOT_PERMITTED,
                     "a dep11 key wraps only with dep11 mechanisms", 0, &bw);
    if (rv == CKR_OK)
        rv = backend_key(s, hKey, CKR_KEY_HANDLE_INVALID, CKR_KEY_NOT_WRAPPABLE,
                         "a dep11 key leaves the module only as a dep11 blob",
                         0, &bk);
    if (rv != CKR_OK)
        return rv;
    return dep11_hsm_WrapKey(dep11_session_backend(s), mech, bw, bk, out,
                             out_len);
}

CK_RV dep11_core_WrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                         CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey,
                         CK_BYTE_PTR pWrappedKey, CK_ULONG_PTR pulWrappedKeyLen)
{
    struct dep11_session *s = NULL;
    CK_RV rv = CKR_GENERAL_ERROR;

    rv = dep11_session_acquire(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    if (pMechanism == NULL || pulWrappedKeyLen == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL mechanism or length pointer");
    } else if (pMechanism->mechanism == CKM_DEP11_POLICY_WRAP) {
        rv = wrap_policy(s, pMechanism, hWrappingKey, hKey, pWrappedKey,
                         pulWrappedKeyLen);
    } else if (pMechanism->mechanism == CKM_DEP11_CHILD_WRAP) {
        rv = wrap_child(s, pMechanism, hWrappingKey, hKey, pWrappedKey,
                        pulWrappedKeyLen);
    } else if (dep11_mech_refuses(pMechanism->mechanism, CKF_WRAP)) {
        rv = CKR_MECHANISM_INVALID;
        LOG_FAIL(rv, "mechanism 0x%lx does not wrap", pMechanism->mechanism);
    } else {
        rv = wrap_standard(s, pMechanism, hWrappingKey, hKey, pWrappedKey,
                           pulWrappedKeyLen);
    }
    dep11_session_release(s);
    return rv;
}

static CK_RV unwrap_policy(struct dep11_session *s, CK_MECHANISM_PTR mech,
                           CK_OBJECT_HANDLE hRoot, CK_BYTE_PTR blob, CK_ULONG len,
                           CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR out)
{
    const CK_DEP11_POLICY_UNWRAP_PARAMS *p = NULL;
    CK_ULONG requester = DEP11_REQUESTER_USER;
    CK_OBJECT_HANDLE root = CK_INVALID_HANDLE;
    struct dep11_key *key = NULL;
    struct dep11_call call;
    CK_RV rv = CKR_GENERAL_ERROR;

    rv = check_param(mech, sizeof *p, 1);
    if (rv != CKR_OK)
        return rv;
    p = mech->pParameter;
    if (p != NULL)
        requester = p->ulRequester;
    rv = dep11_session_require_user(s);
    if (rv != CKR_OK)
        return rv;
    rv = root_handle(s, hRoot, CKR_UNWRAPPING_KEY_HANDLE_INVALID, &root);
    if (rv != CKR_OK)
        return rv;
    call.slot = dep11_session_slot(s);
    call.cfg = dep11_core_config();
    rv = dep11_policy_unwrap(&call, root, requester, blob, len, &key);
    if (rv != CKR_OK)
        return rv;
    return add_key(s, key, t, n, out);
}

static CK_RV unwrap_child(struct dep11_session *s, CK_MECHANISM_PTR mech,
                          CK_OBJECT_HANDLE hPolicy, CK_BYTE_PTR blob, CK_ULONG len,
                          CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR out)
{
    const CK_DEP11_CHILD_PARAMS *p = NULL;
    struct dep11_object *pol = NULL;
    struct dep11_key *key = NULL;
    CK_OBJECT_HANDLE bh = CK_INVALID_HANDLE;
    CK_RV rv = CKR_GENERAL_ERROR;

    rv = check_param(mech, sizeof *p, 0);
    if (rv != CKR_OK)
        return rv;
    p = mech->pParameter;
    rv = dep11_session_require_user(s);
    if (rv != CKR_OK)
        return rv;
    rv = resolve_as(s, hPolicy, CKR_UNWRAPPING_KEY_HANDLE_INVALID, &pol, &bh);
    if (rv != CKR_OK)
        return rv;
    rv = CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT;
    if (pol == NULL) {
        LOG_FAIL(rv, "unwrapping key 0x%lx is not a dep11 policy key", hPolicy);
        return rv;
    }
    rv = dep11_key_permits(dep11_object_key(pol), DEP11_USE_UNWRAP_CHILD, 0);
    if (rv == CKR_OK)
        rv = dep11_child_unwrap(dep11_object_key(pol), p->ownerId, blob, len, &key);
    dep11_object_release(pol);
    if (rv != CKR_OK)
        return rv;
    return add_key(s, key, t, n, out);
}

/* A standard unwrap: the unwrapping key must be a backend key, and not a
 * registered root (its private half serves only dep11's mechanisms). */
static CK_RV unwrap_standard(struct dep11_session *s, CK_MECHANISM_PTR mech,
                             CK_OBJECT_HANDLE hUnwrap, CK_BYTE_PTR blob,
                             CK_ULONG len, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                             CK_OBJECT_HANDLE_PTR out)
{
    CK_OBJECT_HANDLE bu = CK_INVALID_HANDLE, bk = CK_INVALID_HANDLE;
    CK_RV rv = CKR_GENERAL_ERROR;

    rv = backend_key(s, hUnwrap, CKR_UNWRAPPING_KEY_HANDLE_INVALID,
                     CKR_KEY_FUNCTION_NOT_PERMITTED,
                     "a dep11 key unwraps only with dep11 mechanisms", 1, &bu);
    if (rv == CKR_OK)
        rv = backend_template(t, n);
    if (rv != CKR_OK)
        return rv;
    rv = dep11_hsm_UnwrapKey(dep11_session_backend(s), mech, bu, blob, len,
                             t, n, &bk);
    return out_handle(s, rv, bk, t, n, out);
}

CK_RV dep11_core_UnwrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                           CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey,
                           CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE_PTR pTemplate,
                           CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
    struct dep11_session *s = NULL;
    CK_MECHANISM_TYPE m;
    CK_RV rv = CKR_GENERAL_ERROR;

    rv = dep11_session_acquire(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    if (pMechanism == NULL || pWrappedKey == NULL || phKey == NULL ||
        (ulAttributeCount > 0 && pTemplate == NULL)) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL mechanism, blob, template or key handle pointer");
        goto out;
    }
    m = pMechanism->mechanism;
    if (m == CKM_DEP11_POLICY_UNWRAP) {
        rv = unwrap_policy(s, pMechanism, hUnwrappingKey, pWrappedKey,
                           ulWrappedKeyLen, pTemplate, ulAttributeCount, phKey);
    } else if (m == CKM_DEP11_CHILD_UNWRAP) {
        rv = unwrap_child(s, pMechanism, hUnwrappingKey, pWrappedKey,
                          ulWrappedKeyLen, pTemplate, ulAttributeCount, phKey);
    } else if (dep11_mech_refuses(m, CKF_UNWRAP)) {
        rv = CKR_MECHANISM_INVALID;
        LOG_FAIL(rv, "mechanism 0x%lx does not unwrap", m);
    } else {
        rv = unwrap_standard(s, pMechanism, hUnwrappingKey, pWrappedKey,
                             ulWrappedKeyLen, pTemplate, ulAttributeCount, phKey);
    }
out:
    dep11_session_release(s);
    return rv;
}

static CK_RV derive_chunk(struct dep11_session *s, CK_MECHANISM_PTR mech,
                          CK_OBJECT_HANDLE hBase, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                          CK_OBJECT_HANDLE_PTR out)
{
    const CK_DEP11_CHUNK_PARAMS *p = NULL;
    struct dep11_object *site = NULL;
    struct dep11_key *key = NULL;
    CK_OBJECT_HANDLE bh = CK_INVALID_HANDLE;
    CK_RV rv = CKR_GENERAL_ERROR;

    rv = check_param(mech, sizeof *p, 0);
    if (rv != CKR_OK)
        return rv;
    p = mech->pParameter;
    rv = dep11_session_require_user(s);
    if (rv != CKR_OK)
        return rv;
    rv = resolve_as(s, hBase, CKR_KEY_HANDLE_INVALID, &site, &bh);
    if (rv != CKR_OK)
        return rv;
    rv = CKR_KEY_TYPE_INCONSISTENT;
    if (site == NULL) {
        LOG_FAIL(rv, "base key 0x%lx is not a dep11 site key", hBase);
        return rv;
    }
    rv = dep11_key_permits(dep11_object_key(site), DEP11_USE_DERIVE_CHUNK, 0);
    if (rv == CKR_OK)
        rv = dep11_chunk_derive(dep11_object_key(site), p->fileId,
                                p->ulChunkIndex, &key);
    dep11_object_release(site);
    if (rv != CKR_OK)
        return rv;
    return add_key(s, key, t, n, out);
}

/* A standard derive: backend base keys only, never a registered root. */
static CK_RV derive_standard(struct dep11_session *s, CK_MECHANISM_PTR mech,
                             CK_OBJECT_HANDLE hBase, CK_ATTRIBUTE_PTR t,
                             CK_ULONG n, CK_OBJECT_HANDLE_PTR out)
{
    CK_OBJECT_HANDLE bb = CK_INVALID_HANDLE, bk = CK_INVALID_HANDLE;
    CK_RV rv = CKR_GENERAL_ERROR;

    rv = backend_key(s, hBase, CKR_KEY_HANDLE_INVALID,
                     CKR_KEY_FUNCTION_NOT_PERMITTED,
                     "a dep11 key derives only with CKM_DEP11_CHUNK_KEY_DERIVE",
                     1, &bb);
    if (rv == CKR_OK)
        rv = backend_template(t, n);
    if (rv != CKR_OK)
        return rv;
    rv = dep11_hsm_DeriveKey(dep11_session_backend(s), mech, bb, t, n, &bk);
    return out_handle(s, rv, bk, t, n, out);
}

CK_RV dep11_core_DeriveKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                           CK_OBJECT_HANDLE hBaseKey, CK_ATTRIBUTE_PTR pTemplate,
                           CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
    struct dep11_session *s = NULL;
    CK_RV rv = CKR_GENERAL_ERROR;

    rv = dep11_session_acquire(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    if (pMechanism == NULL || phKey == NULL ||
        (ulAttributeCount > 0 && pTemplate == NULL)) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL mechanism, template or key handle pointer");
    } else if (pMechanism->mechanism == CKM_DEP11_CHUNK_KEY_DERIVE) {
        rv = derive_chunk(s, pMechanism, hBaseKey, pTemplate, ulAttributeCount,
                          phKey);
    } else if (dep11_mech_refuses(pMechanism->mechanism, CKF_DERIVE)) {
        rv = CKR_MECHANISM_INVALID;
        LOG_FAIL(rv, "mechanism 0x%lx does not derive", pMechanism->mechanism);
    } else {
        rv = derive_standard(s, pMechanism, hBaseKey, pTemplate, ulAttributeCount,
                             phKey);
    }
    dep11_session_release(s);
    return rv;
}
