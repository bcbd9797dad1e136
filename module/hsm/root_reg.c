/*
 * root_reg.c - root registration records on the provider token and the
 * SO's login on a customer token (root_reg.h). Writes are create-only and
 * run under the provider's write lock; a record is never modified.
 */
#include <stdlib.h>
#include <string.h>

#include "hsm/backend.h"
#include "hsm/internal.h"
#include "hsm/own_sessions.h"
#include "hsm/provider_int.h"
#include "hsm/root_reg.h"
#include "hsm/rsa.h"
#include "util/hex.h"
#include "util/log.h"

#define APP "dep11-rootreg"
#define PREFIX "dep11-rootreg-"
#define LABEL_LEN (sizeof PREFIX - 1 + 2 * DEP11_ROOT_ID_LEN)
#define VALUE_LEN (DEP11_TOKEN_IDENT_LEN + DEP11_ROOT_ID_LEN)

struct reg_arg {
    uint8_t value[VALUE_LEN]; /* token identity || root identity */
    int present;
    unsigned dropped;
};

static void reg_label(char out[LABEL_LEN + 1], const uint8_t *root_id)
{
    memcpy(out, PREFIX, sizeof PREFIX - 1);
    dep11_hex_encode(root_id, DEP11_ROOT_ID_LEN, out + sizeof PREFIX - 1);
}

/* The records of @a's root (any token), by application and label. */
static CK_RV reg_search(CK_SESSION_HANDLE s, const struct reg_arg *a, CK_OBJECT_HANDLE **found,
                        size_t *n)
{
    char label[LABEL_LEN + 1];
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof cls },
                            { CKA_TOKEN, &t, 1 },
                            { CKA_APPLICATION, (void *)APP, sizeof APP - 1 },
                            { CKA_LABEL, label, LABEL_LEN } };

    reg_label(label, a->value + DEP11_TOKEN_IDENT_LEN);
    return dep11_hsm_find_all(s, tmpl, sizeof tmpl / sizeof tmpl[0], found, n);
}

/* Is record @h the one of @a's token? (A record of another shape is not.) */
static CK_RV reg_matches(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const struct reg_arg *a,
                         int *yes)
{
    uint8_t v[VALUE_LEN + 1];
    CK_ATTRIBUTE t = { CKA_VALUE, v, sizeof v };
    CK_RV rv = dep11_hsm_GetAttributeValue(s, h, &t, 1);

    *yes = 0;
    if (rv == CKR_BUFFER_TOO_SMALL || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
        rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_OBJECT_HANDLE_INVALID)
        return CKR_OK;
    if (rv == CKR_OK)
        *yes = t.ulValueLen == VALUE_LEN && memcmp(v, a->value, VALUE_LEN) == 0;
    return rv;
}

/* Finds @a's records; with @drop destroys them. */
static CK_RV reg_walk(CK_SESSION_HANDLE s, struct reg_arg *a, int drop)
{
    CK_OBJECT_HANDLE *found = NULL;
    size_t n = 0;
    int yes = 0;
    CK_RV rv = reg_search(s, a, &found, &n);

    a->present = 0;
    for (size_t i = 0; rv == CKR_OK && i < n; i++) {
        rv = reg_matches(s, found[i], a, &yes);
        if (rv != CKR_OK || !yes)
            continue;
        a->present = 1;
        if (drop) {
            rv = dep11_hsm_DestroyObject(s, found[i]);
            if (rv == CKR_OK)
                a->dropped++;
        }
    }
    free(found);
    return rv;
}

static CK_RV find_fn(CK_SESSION_HANDLE s, void *arg)
{
    return reg_walk(s, arg, 0);
}

static CK_RV drop_fn(CK_SESSION_HANDLE s, void *arg)
{
    return reg_walk(s, arg, 1);
}

/* Creates the record unless it is there (twice on CKR_FUNCTION_FAILED, as
 * provider_state.c: SoftHSM's file store under two writing processes). */
static CK_RV write_fn(CK_SESSION_HANDLE s, void *arg)
{
    struct reg_arg *a = arg;
    char label[LABEL_LEN + 1];
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL t = CK_TRUE, f = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_TOKEN, &t, 1 },
        { CKA_PRIVATE, &t, 1 },
        { CKA_MODIFIABLE, &f, 1 },
        { CKA_APPLICATION, (void *)APP, sizeof APP - 1 },
        { CKA_LABEL, label, LABEL_LEN },
        { CKA_VALUE, a->value, VALUE_LEN },
    };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = reg_walk(s, a, 0);

    if (rv != CKR_OK || a->present)
        return rv;
    reg_label(label, a->value + DEP11_TOKEN_IDENT_LEN);
    for (int i = 0; i < 2; i++) {
        rv = dep11_hsm_CreateObject(s, tmpl, sizeof tmpl / sizeof tmpl[0], &h);
        if (rv != CKR_FUNCTION_FAILED)
            break;
    }
    return rv;
}

/* Runs @fn for (@ident, @root_id); @write: under the write lock. */
static CK_RV run(dep11_provider_fn fn, int write, const uint8_t *ident, const uint8_t *root_id,
                 struct reg_arg *a, const char *what)
{
    CK_RV rv = CKR_ARGUMENTS_BAD;

    memset(a, 0, sizeof *a);
    if (ident == NULL || root_id == NULL) {
        LOG_FAIL(rv, "NULL identity");
        return rv;
    }
    memcpy(a->value, ident, DEP11_TOKEN_IDENT_LEN);
    memcpy(a->value + DEP11_TOKEN_IDENT_LEN, root_id, DEP11_ROOT_ID_LEN);
    rv = write ? dep11_provider_run_write(fn, a) : dep11_provider_run(fn, a);
    if (rv != CKR_OK)
        LOG_FAIL(rv, "root registration record: %s", what);
    return rv;
}

/** See root_reg.h. */
CK_RV dep11_provider_rootreg_find(const uint8_t ident[DEP11_TOKEN_IDENT_LEN],
                                  const uint8_t root_id[DEP11_ROOT_ID_LEN], int *present)
{
    struct reg_arg a;
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (present == NULL) {
        LOG_FAIL(rv, "NULL argument");
        return rv;
    }
    rv = run(find_fn, 0, ident, root_id, &a, "look-up");
    *present = rv == CKR_OK && a.present;
    return rv;
}

/** See root_reg.h. */
CK_RV dep11_provider_rootreg_write(const uint8_t ident[DEP11_TOKEN_IDENT_LEN],
                                   const uint8_t root_id[DEP11_ROOT_ID_LEN])
{
    struct reg_arg a;

    return run(write_fn, 1, ident, root_id, &a, "write");
}

/** See root_reg.h. */
CK_RV dep11_provider_rootreg_drop(const uint8_t ident[DEP11_TOKEN_IDENT_LEN],
                                  const uint8_t root_id[DEP11_ROOT_ID_LEN], unsigned *dropped)
{
    struct reg_arg a;
    CK_RV rv = run(drop_fn, 1, ident, root_id, &a, "removal");

    if (dropped != NULL)
        *dropped = a.dropped;
    return rv;
}

/* ---- public numbers of a key object ---- */

/** See root_reg.h. @s a worker session on @h's token. */
CK_RV dep11_hsm_rsa_public_numbers(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                                   struct dep11_hsm_rsa *k, int *rsa)
{
    CK_ATTRIBUTE t[2];
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (k == NULL || rsa == NULL) {
        LOG_FAIL(rv, "NULL argument");
        return rv;
    }
    *rsa = 0;
    memset(k, 0, sizeof *k);
    t[0] = (CK_ATTRIBUTE){ CKA_MODULUS, k->modulus, sizeof k->modulus };
    t[1] = (CK_ATTRIBUTE){ CKA_PUBLIC_EXPONENT, k->exponent, sizeof k->exponent };
    rv = dep11_hsm_GetAttributeValue(s, h, t, 2);
    if (rv == CKR_ATTRIBUTE_TYPE_INVALID && t[0].ulValueLen != CK_UNAVAILABLE_INFORMATION &&
        t[0].ulValueLen != 0) {
        /* a private key without its exponent: the resolved pair has it */
        if (dep11_hsm_rsa_resolve(s, h, k) != CKR_OK)
            return CKR_OK;
        t[0].ulValueLen = k->mod_len;
        t[1].ulValueLen = k->exp_len;
        rv = CKR_OK;
    }
    if (rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
        rv == CKR_BUFFER_TOO_SMALL)
        return CKR_OK;
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "reading the public numbers of object %lu", (unsigned long)h);
        return rv;
    }
    k->mod_len = t[0].ulValueLen;
    k->exp_len = t[1].ulValueLen;
    *rsa = k->mod_len != 0 && k->exp_len != 0;
    return CKR_OK;
}

/* ---- the SO's login ---- */

/**
 * See root_reg.h. @slot a customer token's slot; @pin the SO PIN (never
 * logged); @out [out] the logged-in session.
 */
CK_RV dep11_hsm_so_open(CK_SLOT_ID slot, const uint8_t *pin, size_t pin_len,
                        CK_SESSION_HANDLE *out)
{
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (out == NULL || (pin == NULL && pin_len != 0)) {
        LOG_FAIL(rv, "NULL argument");
        return rv;
    }
    *out = CK_INVALID_HANDLE;
    if (dep11_hsm() == NULL) {
        rv = CKR_CRYPTOKI_NOT_INITIALIZED;
        LOG_FAIL(rv, "backend not loaded");
        return rv;
    }
    rv = dep11_hsm_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "read-write session on slot %lu", (unsigned long)slot);
        return rv;
    }
    rv = dep11_hsm_own_session_add(h, slot);
    if (rv != CKR_OK) {
        (void)dep11_hsm_CloseSession(h);
        return rv;
    }
    rv = dep11_hsm_Login(h, CKU_SO, (CK_BYTE_PTR)pin, (CK_ULONG)pin_len);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "SO login on slot %lu refused", (unsigned long)slot);
        dep11_hsm_own_session_del(h);
        (void)dep11_hsm_CloseSession(h);
        return rv;
    }
    *out = h;
    return CKR_OK;
}

/** See root_reg.h. */
void dep11_hsm_so_close(CK_SESSION_HANDLE s)
{
    if (s == CK_INVALID_HANDLE)
        return;
    (void)dep11_hsm_Logout(s);
    dep11_hsm_own_session_del(s);
    (void)dep11_hsm_CloseSession(s);
}
