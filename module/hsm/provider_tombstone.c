/*
 * provider_tombstone.c - tombstones on the provider token: for an id X, a
 * data object that holds a value once and for good (the caller's signed
 * receipt), found again by every process.
 */
#include <stdlib.h>
#include <string.h>

#include "hsm/backend.h"
#include "hsm/internal.h"
#include "hsm/provider.h"
#include "hsm/provider_int.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/secmem.h"

#define TOMB_PREFIX "dep11-tombstone-"
#define TOMB_LABEL_LEN (sizeof TOMB_PREFIX - 1 + 2 * 16)
#define APP "dep11"

static void tomb_label(char out[TOMB_LABEL_LEN + 1], const uint8_t id[16])
{
    memcpy(out, TOMB_PREFIX, sizeof TOMB_PREFIX - 1);
    dep11_hex_encode(id, 16, out + sizeof TOMB_PREFIX - 1);
}

/* One search: the tombstones of @id (normally 0 or 1; two concurrent writers
 * in two processes may leave two). */
static CK_RV tomb_search(CK_SESSION_HANDLE s, const uint8_t id[16], CK_OBJECT_HANDLE **found,
                         size_t *n)
{
    char label[TOMB_LABEL_LEN + 1];
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_TOKEN, &t, 1 },
                            { CKA_APPLICATION, (void *)APP, sizeof APP - 1 },
                            { CKA_LABEL, label, TOMB_LABEL_LEN } };

    tomb_label(label, id);
    return dep11_hsm_find_all(s, tmpl, sizeof tmpl / sizeof tmpl[0], found, n);
}

struct tomb_arg {
    const uint8_t *id;
    uint8_t *value;         /* NULL: presence only */
    size_t cap;
    size_t len;             /* of the chosen receipt */
    int present;
    const uint8_t *write;   /* the receipt to store (write only) */
    size_t write_len;
};

/* Reads CKA_VALUE of @h into a fresh buffer (at most DEP11_TOMBSTONE_MAX). */
static CK_RV read_value(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, uint8_t **out, size_t *len)
{
    CK_ATTRIBUTE a = { CKA_VALUE, NULL, 0 };
    CK_RV rv = dep11_hsm_GetAttributeValue(s, h, &a, 1);

    *out = NULL;
    if (rv != CKR_OK)
        return rv;
    if (a.ulValueLen == 0 || a.ulValueLen > DEP11_TOMBSTONE_MAX) {
        LOG_FAIL(CKR_GENERAL_ERROR, "tombstone value of %lu bytes", (unsigned long)a.ulValueLen);
        return CKR_GENERAL_ERROR;
    }
    a.pValue = malloc(a.ulValueLen);
    if (a.pValue == NULL)
        return CKR_HOST_MEMORY;
    rv = dep11_hsm_GetAttributeValue(s, h, &a, 1);
    if (rv != CKR_OK) {
        free(a.pValue);
        return rv;
    }
    *out = a.pValue;
    *len = a.ulValueLen;
    return CKR_OK;
}

/* Is @a (@al bytes) before @b (@bl) in byte order, shorter first on a tie? */
static int value_before(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);

    return c < 0 || (c == 0 && al < bl);
}

/* Presence, and with a->value the receipt of the tombstone every process
 * agrees on (the smallest value, should two writers have raced). */
static CK_RV tomb_find_fn(CK_SESSION_HANDLE s, void *arg)
{
    struct tomb_arg *a = arg;
    CK_OBJECT_HANDLE *found = NULL;
    uint8_t *best = NULL, *v = NULL;
    size_t n = 0, i = 0, best_len = 0, len = 0;
    CK_RV rv = tomb_search(s, a->id, &found, &n);

    a->present = rv == CKR_OK && n > 0;
    for (i = 0; rv == CKR_OK && a->value != NULL && i < n; i++) {
        rv = read_value(s, found[i], &v, &len);
        if (rv == CKR_OK && (best == NULL || value_before(v, len, best, best_len))) {
            free(best);
            best = v;
            best_len = len;
        } else {
            free(v);
        }
        v = NULL;
    }
    if (rv == CKR_OK && best != NULL) {
        a->len = best_len;
        if (a->cap < best_len) {
            rv = CKR_BUFFER_TOO_SMALL;
            LOG_FAIL(rv, "stored receipt is %zu bytes, buffer %zu", best_len, a->cap);
        } else {
            memcpy(a->value, best, best_len);
        }
    }
    free(best);
    free(found);
    return rv;
}

/**
 * See provider.h. @id [in] 16 bytes; @value [out] NULL for a
 * presence check (one search), else the stored receipt, capacity in
 * *@value_len; *@value_len [out] its length; *@present [out] 1/0.
 * CKR_OK; CKR_ARGUMENTS_BAD; CKR_BUFFER_TOO_SMALL (*@value_len = length);
 * CKR_HOST_MEMORY; CKR_CRYPTOKI_NOT_INITIALIZED; backend codes.
 */
CK_RV dep11_provider_tombstone_find(const uint8_t id[16], uint8_t *value,
                                    size_t *value_len, int *present)
{
    struct tomb_arg a;
    CK_RV rv = CKR_GENERAL_ERROR;

    memset(&a, 0, sizeof a);
    if (id == NULL || present == NULL || (value != NULL && value_len == NULL)) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "bad arguments");
        return rv;
    }
    *present = 0;
    a.id = id;
    a.value = value;
    a.cap = value != NULL ? *value_len : 0;
    rv = dep11_provider_run(tomb_find_fn, &a);
    *present = a.present;
    if (value_len != NULL && a.len != 0)
        *value_len = a.len;
    if (rv != CKR_OK)
        LOG_FAIL(rv, "tombstone look-up");
    return rv;
}

static CK_RV tomb_write_fn(CK_SESSION_HANDLE s, void *arg)
{
    struct tomb_arg *a = arg;
    char label[TOMB_LABEL_LEN + 1];
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL t = CK_TRUE, f = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof cls }, { CKA_TOKEN, &t, 1 }, { CKA_PRIVATE, &t, 1 },
        { CKA_MODIFIABLE, &f, 1 }, { CKA_APPLICATION, (void *)APP, sizeof APP - 1 },
        { CKA_LABEL, label, TOMB_LABEL_LEN },
        { CKA_VALUE, (void *)a->write, a->write_len },
    };
    CK_OBJECT_HANDLE *found = NULL, h = 0;
    size_t n = 0;
    CK_RV rv = tomb_search(s, a->id, &found, &n);

    free(found);
    if (rv != CKR_OK || n > 0) {
        a->present = n > 0;     /* written already: keep what is there */
        return rv;
    }
    tomb_label(label, a->id);
    /* Twice on CKR_FUNCTION_FAILED: SoftHSM's file store answers that now
     * and then when two processes write the token at once. */
    for (int i = 0; i < 2; i++) {
        rv = dep11_hsm_CreateObject(s, tmpl, sizeof tmpl / sizeof tmpl[0], &h);
        if (rv != CKR_FUNCTION_FAILED)
            break;
    }
    if (rv == CKR_OK)
        rv = dep11_provider_mark_written(s, h);
    return rv;
}

/**
 * See provider.h. @id [in] 16 bytes; @receipt [in] @len bytes (1 to
 * DEP11_TOMBSTONE_MAX), stored as the tombstone's CKA_VALUE. When a
 * tombstone exists already nothing is written and CKR_OK is returned.
 * CKR_ARGUMENTS_BAD; CKR_DATA_LEN_RANGE; backend codes.
 */
CK_RV dep11_provider_tombstone_write(const uint8_t id[16], const uint8_t *receipt,
                                     size_t len)
{
    struct tomb_arg a;
    CK_RV rv = CKR_GENERAL_ERROR;

    memset(&a, 0, sizeof a);
    if (id == NULL || receipt == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "bad arguments");
        return rv;
    }
    if (len == 0 || len > DEP11_TOMBSTONE_MAX) {
        rv = CKR_DATA_LEN_RANGE;
        LOG_FAIL(rv, "receipt of %zu bytes", len);
        return rv;
    }
    a.id = id;
    a.write = receipt;
    a.write_len = len;
    rv = dep11_provider_run_write(tomb_write_fn, &a);
    if (rv != CKR_OK)
        LOG_FAIL(rv, "writing the tombstone");
    else if (a.present)
        LOG_INFO("tombstone exists already: kept");
    return rv;
}
