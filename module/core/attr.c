/*
 * attr.c - the attributes of module-side keys (DESIGN sections 2 and 3): what
 * C_GetAttributeValue reports, what a dep11 template may say (key generation,
 * unwrap, derive), what C_SetAttributeValue may change, and find matching.
 * Pure: no locks, no HSM; the caller holds whatever guards @k.
 */
#include <string.h>

#include "core/internal.h"
#include "util/log.h"

enum aval_status { AV_OK, AV_SENSITIVE, AV_INVALID };
enum aval_kind { K_BYTES, K_ULONG, K_BOOL };

/* One attribute value of a key; ptr may point into u. */
struct aval {
    enum aval_kind kind;
    const void *ptr;
    CK_ULONG len;
    union {
        CK_ULONG ul;
        CK_BBOOL b;
    } u;
};

static void set_ulong(struct aval *v, CK_ULONG x)
{
    v->kind = K_ULONG;
    v->u.ul = x;
    v->ptr = &v->u.ul;
    v->len = sizeof(CK_ULONG);
}

static void set_bool(struct aval *v, int x)
{
    v->kind = K_BOOL;
    v->u.b = x ? CK_TRUE : CK_FALSE;
    v->ptr = &v->u.b;
    v->len = sizeof(CK_BBOOL);
}

static void set_bytes(struct aval *v, const void *p, size_t len)
{
    v->kind = K_BYTES;
    v->ptr = p;
    v->len = (CK_ULONG)len;
}

/* Usage flags follow the sticky roles (DESIGN section 2). */
static int role_allows(CK_ULONG role, CK_ATTRIBUTE_TYPE type)
{
    int data = type == CKA_ENCRYPT || type == CKA_DECRYPT;

    switch (role) {
    case DEP11_ROLE_POLICY:
        return type == CKA_WRAP || type == CKA_UNWRAP;
    case DEP11_ROLE_SITE:
        return data || type == CKA_DERIVE; /* chunk derive and chunk AEAD */
    case DEP11_ROLE_MAILBOX:
    case DEP11_ROLE_WORKLOAD:
    case DEP11_ROLE_CHUNK:
        return data;
    default:
        return 0;
    }
}

static int is_usage(CK_ATTRIBUTE_TYPE type)
{
    switch (type) {
    case CKA_ENCRYPT: case CKA_DECRYPT: case CKA_WRAP: case CKA_UNWRAP:
    case CKA_SIGN: case CKA_VERIFY: case CKA_SIGN_RECOVER:
    case CKA_VERIFY_RECOVER: case CKA_DERIVE:
        return 1;
    default:
        return 0;
    }
}

/* The dep11 attributes; each applies only to some keys. */
static enum aval_status vendor_attr(const struct dep11_key *k, CK_ATTRIBUTE_TYPE type,
                                    struct aval *v)
{
    int policy = k->role == DEP11_ROLE_POLICY;

    if (type == CKA_DEP11_ROLE)
        set_ulong(v, k->role);
    else if (type == CKA_DEP11_POLICY_TYPE && k->policy_type != 0)
        set_ulong(v, k->policy_type);
    else if (type == CKA_DEP11_POLICY_ID && k->has_policy)
        set_bytes(v, k->policy_id, DEP11_ID_LEN);
    else if (type == CKA_DEP11_TENANT && k->has_tenant)
        set_bytes(v, k->tenant, DEP11_ID_LEN);
    else if (type == CKA_DEP11_GEO && policy)
        set_bytes(v, k->geo, k->geo_len);
    else if (type == CKA_DEP11_OWNER && k->has_owner)
        set_bytes(v, k->owner, DEP11_ID_LEN);
    else if (type == CKA_DEP11_UNWRAPPED_BY && k->unwrapped_by != 0)
        set_ulong(v, k->unwrapped_by);
    else if (type == CKA_DEP11_POLICY_VERSION && policy)
        set_ulong(v, k->version);
    else if (type == CKA_DEP11_MANAGED_BY && k->managed_by != 0)
        set_ulong(v, k->managed_by);
    else
        return AV_INVALID;
    return AV_OK;
}

/* The value of attribute @type of module-side key @k. */
static enum aval_status key_attr(const struct dep11_key *k, CK_ATTRIBUTE_TYPE type,
                                 struct aval *v)
{
    /* Unwrapped or derived keys were not always sensitive inside the module
     * (PKCS#11 C_UnwrapKey); generated ones were. */
    int local = k->local == CK_TRUE;

    memset(v, 0, sizeof *v);
    if (is_usage(type)) {
        set_bool(v, role_allows(k->role, type));
        return AV_OK;
    }
    switch (type) {
    case CKA_CLASS:             set_ulong(v, CKO_SECRET_KEY); break;
    case CKA_KEY_TYPE:          set_ulong(v, CKK_AES); break;
    case CKA_VALUE_LEN:         set_ulong(v, DEP11_KEY_LEN); break;
    case CKA_KEY_GEN_MECHANISM:
        set_ulong(v, local ? CKM_DEP11_KEY_GEN : CK_UNAVAILABLE_INFORMATION);
        break;
    case CKA_TOKEN:             set_bool(v, 0); break;
    case CKA_PRIVATE:           set_bool(v, 1); break;
    case CKA_MODIFIABLE:        set_bool(v, 1); break; /* CKA_LABEL, CKA_ID */
    case CKA_COPYABLE:          set_bool(v, 0); break;
    case CKA_DESTROYABLE:       set_bool(v, 1); break;
    case CKA_SENSITIVE:         set_bool(v, 1); break;
    case CKA_EXTRACTABLE:       set_bool(v, 0); break;
    case CKA_ALWAYS_SENSITIVE:  set_bool(v, local); break;
    case CKA_NEVER_EXTRACTABLE: set_bool(v, local); break;
    case CKA_LOCAL:             set_bool(v, local); break;
    case CKA_TRUSTED:           set_bool(v, 0); break;
    case CKA_WRAP_WITH_TRUSTED: set_bool(v, 0); break;
    case CKA_LABEL:             set_bytes(v, k->label, k->label_len); break;
    case CKA_ID:                set_bytes(v, k->ckaid, k->ckaid_len); break;
    case CKA_START_DATE:
    case CKA_END_DATE:          set_bytes(v, NULL, 0); break;
    case CKA_VALUE:             return AV_SENSITIVE;
    default:                    return vendor_attr(k, type, v);
    }
    return AV_OK;
}

/* A CK_ULONG or CK_BBOOL attribute must have exactly that size. */
static CK_RV check_size(const CK_ATTRIBUTE *a, enum aval_kind kind)
{
    if (kind == K_ULONG && a->ulValueLen != sizeof(CK_ULONG))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if (kind == K_BOOL && a->ulValueLen != sizeof(CK_BBOOL))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    return CKR_OK;
}

/* Does template attribute @a say the same as @v? (booleans: any non-zero
 * byte is TRUE) */
static int same_value(const CK_ATTRIBUTE *a, const struct aval *v)
{
    if (v->kind == K_BOOL)
        return a->ulValueLen == 1 && (*(const CK_BYTE *)a->pValue != 0) == (v->u.b != 0);
    if (a->ulValueLen != v->len)
        return 0;
    return v->len == 0 || memcmp(a->pValue, v->ptr, v->len) == 0;
}

static CK_RV check_array(const CK_ATTRIBUTE *t, CK_ULONG n)
{
    if (t == NULL && n > 0)
        return CKR_ARGUMENTS_BAD;
    for (CK_ULONG i = 0; i < n; i++)
        if (t[i].pValue == NULL && t[i].ulValueLen > 0)
            return CKR_ARGUMENTS_BAD;
    return CKR_OK;
}

/* A template attribute that may only repeat what the key already is. */
static CK_RV check_repeat(const struct dep11_key *k, const CK_ATTRIBUTE *a)
{
    struct aval v;
    enum aval_status st = key_attr(k, a->type, &v);
    CK_RV rv = CKR_OK;

    if (st == AV_SENSITIVE) {
        rv = CKR_TEMPLATE_INCONSISTENT;
        LOG_FAIL(rv, "the module makes the key value (attribute 0x%lx)", a->type);
        return rv;
    }
    if (st == AV_INVALID) {
        rv = CKR_ATTRIBUTE_TYPE_INVALID;
        LOG_FAIL(rv, "attribute 0x%lx does not apply to this key", a->type);
        return rv;
    }
    rv = check_size(a, v.kind);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "attribute 0x%lx has length %lu", a->type, a->ulValueLen);
        return rv;
    }
    if (!same_value(a, &v)) {
        rv = CKR_TEMPLATE_INCONSISTENT;
        LOG_FAIL(rv, "attribute 0x%lx contradicts the key's rules", a->type);
    }
    return rv;
}

/* Is @p[0..len) valid UTF-8 (shortest forms, no surrogates)? */
static int utf8_valid(const uint8_t *p, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint8_t c = p[i];
        size_t more = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2
                    : (c & 0xF8) == 0xF0 ? 3 : 4;
        uint32_t cp = more == 0 ? c : more == 1 ? (c & 0x1Fu) : more == 2 ? (c & 0x0Fu)
                    : (c & 0x07u);
        if (more == 4 || len - i - 1 < more)
            return 0;
        for (size_t j = 1; j <= more; j++) {
            if ((p[i + j] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + j] & 0x3Fu);
        }
        if ((more == 1 && cp < 0x80) || (more == 2 && cp < 0x800) ||
            (more == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += more + 1;
    }
    return 1;
}

/* A text attribute (geo, label): UTF-8 without NUL (the tool prints it, a
 * JSON consumer parses it, a C consumer stops at a NUL), else
 * CKR_ATTRIBUTE_VALUE_INVALID. */
static CK_RV check_text(const char *name, const uint8_t *p, size_t len)
{
    CK_RV rv = CKR_ATTRIBUTE_VALUE_INVALID;

    if (memchr(p, 0, len) != NULL) {
        LOG_FAIL(rv, "%s holds a NUL byte", name);
        return rv;
    }
    if (!utf8_valid(p, len)) {
        LOG_FAIL(rv, "%s is not UTF-8", name);
        return rv;
    }
    return CKR_OK;
}

/* A byte attribute of at most @max bytes (exactly @max when @exact);
 * a repeat with another value is CKR_TEMPLATE_INCONSISTENT. */
static CK_RV take_bytes(const CK_ATTRIBUTE *a, size_t max, int exact, int *seen,
                        uint8_t *dst, size_t *dst_len)
{
    CK_RV rv = CKR_OK;

    if (a->ulValueLen > max || (exact && a->ulValueLen != max)) {
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
        LOG_FAIL(rv, "attribute 0x%lx: %lu bytes", a->type, a->ulValueLen);
        return rv;
    }
    if (*seen) {
        if (*dst_len != a->ulValueLen ||
            (a->ulValueLen > 0 && memcmp(dst, a->pValue, a->ulValueLen) != 0)) {
            rv = CKR_TEMPLATE_INCONSISTENT;
            LOG_FAIL(rv, "attribute 0x%lx given twice with different values", a->type);
        }
        return rv;
    }
    if (a->ulValueLen > 0)
        memcpy(dst, a->pValue, a->ulValueLen);
    *dst_len = a->ulValueLen;
    *seen = 1;
    return CKR_OK;
}

/* A CK_ULONG attribute whose value lies in [1, @max]. */
static CK_RV take_enum(const CK_ATTRIBUTE *a, CK_ULONG max, CK_ULONG *dst)
{
    CK_ULONG x = 0;
    CK_RV rv = CKR_ATTRIBUTE_VALUE_INVALID;

    if (a->ulValueLen != sizeof(CK_ULONG)) {
        LOG_FAIL(rv, "attribute 0x%lx has length %lu", a->type, a->ulValueLen);
        return rv;
    }
    memcpy(&x, a->pValue, sizeof x);
    if (x < 1 || x > max) {
        LOG_FAIL(rv, "attribute 0x%lx: unknown value %lu", a->type, x);
        return rv;
    }
    if (*dst != 0 && *dst != x) {
        rv = CKR_TEMPLATE_INCONSISTENT;
        LOG_FAIL(rv, "attribute 0x%lx given twice with different values", a->type);
        return rv;
    }
    *dst = x;
    return CKR_OK;
}

static int is_read_only_vendor(CK_ATTRIBUTE_TYPE type)
{
    return type == CKA_DEP11_POLICY_ID || type == CKA_DEP11_OWNER ||
           type == CKA_DEP11_UNWRAPPED_BY || type == CKA_DEP11_POLICY_VERSION ||
           type == CKA_DEP11_MANAGED_BY;
}

/* Attributes a key-generation template sets (pass 1), as opposed to those
 * that may only repeat what the key will be (pass 2). */
static int keygen_sets(CK_ATTRIBUTE_TYPE type)
{
    return type == CKA_DEP11_ROLE || type == CKA_DEP11_POLICY_TYPE ||
           type == CKA_DEP11_TENANT || type == CKA_DEP11_GEO || type == CKA_LABEL ||
           type == CKA_ID || is_read_only_vendor(type);
}

struct keygen_seen {
    int tenant, geo, label, id;
};

static CK_RV keygen_take(const CK_ATTRIBUTE *a, struct dep11_keygen_req *req,
                         struct keygen_seen *seen)
{
    CK_RV rv = CKR_OK;
    size_t tenant_len = DEP11_ID_LEN;

    switch (a->type) {
    case CKA_DEP11_ROLE:
        return take_enum(a, DEP11_ROLE_CHUNK, &req->role);
    case CKA_DEP11_POLICY_TYPE:
        return take_enum(a, DEP11_POLICY_FILES, &req->policy_type);
    case CKA_DEP11_TENANT:
        rv = take_bytes(a, DEP11_ID_LEN, 1, &seen->tenant, req->tenant, &tenant_len);
        req->has_tenant = seen->tenant;
        return rv;
    case CKA_DEP11_GEO:
        rv = take_bytes(a, DEP11_GEO_MAX, 0, &seen->geo, req->geo, &req->geo_len);
        return rv == CKR_OK ? check_text("CKA_DEP11_GEO", req->geo, req->geo_len) : rv;
    case CKA_LABEL:
        rv = take_bytes(a, DEP11_LABEL_MAX, 0, &seen->label, req->label, &req->label_len);
        return rv == CKR_OK ? check_text("CKA_LABEL", req->label, req->label_len) : rv;
    case CKA_ID:
        return take_bytes(a, sizeof req->ckaid, 0, &seen->id, req->ckaid, &req->ckaid_len);
    default:
        rv = CKR_ATTRIBUTE_READ_ONLY; /* the read-only dep11 attributes */
        LOG_FAIL(rv, "attribute 0x%lx is set by the module", a->type);
        return rv;
    }
}

static CK_RV keygen_roles(const struct dep11_keygen_req *req, const struct keygen_seen *seen)
{
    CK_RV rv = CKR_OK;

    if (req->role == 0) {
        rv = CKR_TEMPLATE_INCOMPLETE;
        LOG_FAIL(rv, "no CKA_DEP11_ROLE");
    } else if (req->role == DEP11_ROLE_POLICY) {
        if (req->policy_type == 0 || !req->has_tenant) {
            rv = CKR_TEMPLATE_INCOMPLETE;
            LOG_FAIL(rv, "a policy needs CKA_DEP11_POLICY_TYPE and CKA_DEP11_TENANT");
        }
    } else if (req->policy_type != 0 || req->has_tenant || seen->geo) {
        rv = CKR_TEMPLATE_INCONSISTENT;
        LOG_FAIL(rv, "policy type, tenant and geo belong to a policy key");
    }
    return rv;
}

/**
 * dep11_attr_parse_keygen - see core.h. @t may be NULL when @n is 0; @req is
 * filled (zeroed first). Pass 1 takes what the template sets; pass 2 checks
 * every other attribute against the key it would produce.
 */
CK_RV dep11_attr_parse_keygen(const CK_ATTRIBUTE *t, CK_ULONG n,
                              struct dep11_keygen_req *req)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    struct keygen_seen seen = { 0 };
    struct dep11_key k;

    if (req == NULL || check_array(t, n) != CKR_OK) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "bad template array");
        return rv;
    }
    memset(req, 0, sizeof *req);
    for (CK_ULONG i = 0; i < n; i++)
        if (keygen_sets(t[i].type) && (rv = keygen_take(&t[i], req, &seen)) != CKR_OK)
            goto out;
    rv = keygen_roles(req, &seen);
    if (rv != CKR_OK)
        goto out;
    /* The key as it will be: a fresh local key with what pass 1 took. */
    memset(&k, 0, sizeof k);
    k.role = req->role;
    k.policy_type = req->policy_type;
    k.has_policy = req->role == DEP11_ROLE_POLICY;
    k.has_tenant = req->has_tenant;
    memcpy(k.tenant, req->tenant, sizeof k.tenant);
    k.local = CK_TRUE;
    for (CK_ULONG i = 0; i < n; i++)
        if (!keygen_sets(t[i].type) && (rv = check_repeat(&k, &t[i])) != CKR_OK)
            goto out;
    rv = CKR_OK;
out:
    if (rv != CKR_OK)
        memset(req, 0, sizeof *req);
    return rv;
}

/**
 * dep11_attr_apply_template - see core.h. CKA_LABEL and CKA_ID are staged and
 * applied to @key only when the whole template passes; every other attribute
 * must say what @key already is.
 */
CK_RV dep11_attr_apply_template(const CK_ATTRIBUTE *t, CK_ULONG n, struct dep11_key *key)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    uint8_t label[DEP11_LABEL_MAX], id[sizeof key->ckaid];
    size_t label_len = 0, id_len = 0;
    int have_label = 0, have_id = 0;

    if (key == NULL || check_array(t, n) != CKR_OK) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "bad template array");
        return rv;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        if (t[i].type == CKA_LABEL)
            rv = take_bytes(&t[i], DEP11_LABEL_MAX, 0, &have_label, label, &label_len);
        else if (t[i].type == CKA_ID)
            rv = take_bytes(&t[i], sizeof id, 0, &have_id, id, &id_len);
        else
            rv = check_repeat(key, &t[i]);
        if (rv != CKR_OK)
            return rv;
    }
    if (have_label) {
        memcpy(key->label, label, label_len);
        key->label_len = label_len;
    }
    if (have_id) {
        memcpy(key->ckaid, id, id_len);
        key->ckaid_len = id_len;
    }
    return CKR_OK;
}

/**
 * dep11_attr_get - see internal.h. Never writes key material: CKA_VALUE is
 * always CKR_ATTRIBUTE_SENSITIVE.
 */
CK_RV dep11_attr_get(const struct dep11_key *k, CK_ATTRIBUTE *t, CK_ULONG n)
{
    int sensitive = 0, invalid = 0, small = 0;
    struct aval v;

    if (k == NULL || (t == NULL && n > 0)) {
        LOG_FAIL(CKR_ARGUMENTS_BAD, "bad template array");
        return CKR_ARGUMENTS_BAD;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        enum aval_status st = key_attr(k, t[i].type, &v);
        if (st != AV_OK) {
            sensitive |= st == AV_SENSITIVE;
            invalid |= st == AV_INVALID;
            t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
        } else if (t[i].pValue == NULL) {
            t[i].ulValueLen = v.len;
        } else if (t[i].ulValueLen < v.len) {
            small = 1;
            t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
        } else {
            if (v.len > 0)
                memcpy(t[i].pValue, v.ptr, v.len);
            t[i].ulValueLen = v.len;
        }
    }
    if (sensitive || invalid || small)
        LOG_FAIL(sensitive ? CKR_ATTRIBUTE_SENSITIVE : invalid ? CKR_ATTRIBUTE_TYPE_INVALID
                 : CKR_BUFFER_TOO_SMALL, "on a module-side key");
    return sensitive ? CKR_ATTRIBUTE_SENSITIVE
         : invalid   ? CKR_ATTRIBUTE_TYPE_INVALID
         : small     ? CKR_BUFFER_TOO_SMALL
                     : CKR_OK;
}

/**
 * dep11_attr_match - see internal.h. An attribute the key does not have, or
 * one it keeps secret, never matches.
 */
int dep11_attr_match(const struct dep11_key *k, const CK_ATTRIBUTE *t, CK_ULONG n)
{
    struct aval v;

    if (k == NULL || (t == NULL && n > 0))
        return 0;
    for (CK_ULONG i = 0; i < n; i++) {
        if (t[i].pValue == NULL && t[i].ulValueLen > 0)
            return 0;
        if (key_attr(k, t[i].type, &v) != AV_OK || !same_value(&t[i], &v))
            return 0;
    }
    return 1;
}

/**
 * dep11_attr_set - see internal.h. All or nothing.
 */
CK_RV dep11_attr_set(struct dep11_key *k, const CK_ATTRIBUTE *t, CK_ULONG n)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    uint8_t label[DEP11_LABEL_MAX], id[sizeof k->ckaid];
    size_t label_len = 0, id_len = 0;
    int have_label = 0, have_id = 0;
    struct aval v;

    if (k == NULL || check_array(t, n) != CKR_OK) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "bad template array");
        return rv;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        /* A repeat in one call is the caller's last word: forget the
         * earlier value so that take_bytes stores rather than compares. */
        if (t[i].type == CKA_LABEL) {
            have_label = 0;
            rv = take_bytes(&t[i], DEP11_LABEL_MAX, 0, &have_label, label, &label_len);
        } else if (t[i].type == CKA_ID) {
            have_id = 0;
            rv = take_bytes(&t[i], sizeof id, 0, &have_id, id, &id_len);
        } else if (key_attr(k, t[i].type, &v) == AV_INVALID)
            rv = CKR_ATTRIBUTE_TYPE_INVALID;
        else
            rv = CKR_ATTRIBUTE_READ_ONLY;
        if (rv != CKR_OK) {
            LOG_FAIL(rv, "attribute 0x%lx of a module-side key", t[i].type);
            return rv;
        }
    }
    if (have_label) {
        memcpy(k->label, label, label_len);
        k->label_len = label_len;
    }
    if (have_id) {
        memcpy(k->ckaid, id, id_len);
        k->ckaid_len = id_len;
    }
    return CKR_OK;
}

/**
 * dep11_attr_has_vendor - see internal.h.
 */
int dep11_attr_has_vendor(const CK_ATTRIBUTE *t, CK_ULONG n)
{
    for (CK_ULONG i = 0; t != NULL && i < n; i++)
        if ((t[i].type & ~(CK_ULONG)0xFF) == (DEP11_CKA(0) & ~(CK_ULONG)0xFF))
            return 1;
    return 0;
}
