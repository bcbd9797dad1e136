/*
 * provider_mark.c - the provider token's change mark (provider_mark.h).
 * Writers (provider_state.c, provider_tombstone.c) set it after each record
 * they create, inside their write operation; readers compare its value with
 * the one they read before an earlier search.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "hsm/backend.h"
#include "hsm/internal.h"
#include "hsm/provider_int.h"
#include "hsm/provider_mark.h"
#include "util/hex.h"
#include "util/log.h"

#define MARK_APP "dep11-state-mark"
#define MARK_ID_LEN 32 /* the label's first hex digits: fixed at creation */
#define BUMP_TRIES 3

/* The mark's handle in this process; CK_INVALID_HANDLE when not known. */
static CK_OBJECT_HANDLE mark_handle = CK_INVALID_HANDLE;

static CK_OBJECT_HANDLE remembered(void)
{
    return __atomic_load_n(&mark_handle, __ATOMIC_ACQUIRE);
}

static void remember(CK_OBJECT_HANDLE h)
{
    __atomic_store_n(&mark_handle, h, __ATOMIC_RELEASE);
}

/** See provider_mark.h. */
void dep11_provider_mark_reset(void)
{
    remember(CK_INVALID_HANDLE);
}

/* Every mark on the token. */
static CK_RV search(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE **found, size_t *n)
{
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof cls },
                            { CKA_TOKEN, &t, 1 },
                            { CKA_APPLICATION, (void *)MARK_APP, sizeof MARK_APP - 1 } };

    return dep11_hsm_find_all(s, tmpl, sizeof tmpl / sizeof tmpl[0], found, n);
}

/* The value of mark @h; CKR_OBJECT_HANDLE_INVALID when @h is not a mark
 * (destroyed, or a handle the backend gave to another object). */
static CK_RV read_value(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, uint8_t out[DEP11_MARK_LEN])
{
    char app[sizeof MARK_APP];
    CK_ATTRIBUTE t[] = { { CKA_APPLICATION, app, sizeof app },
                         { CKA_LABEL, out, DEP11_MARK_LEN } };
    CK_RV rv = dep11_hsm_GetAttributeValue(s, h, t, 2);

    if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_BUFFER_TOO_SMALL ||
        rv == CKR_ATTRIBUTE_SENSITIVE ||
        (rv == CKR_OK && (t[0].ulValueLen != sizeof MARK_APP - 1 ||
                          memcmp(app, MARK_APP, sizeof MARK_APP - 1) != 0 ||
                          t[1].ulValueLen != DEP11_MARK_LEN)))
        rv = CKR_OBJECT_HANDLE_INVALID;
    return rv;
}

/* @n random bytes as 2n hex digits into @out. */
static CK_RV random_hex(uint8_t *out, size_t n)
{
    uint8_t r[DEP11_MARK_LEN / 2];

    if (n > sizeof r || RAND_bytes(r, (int)n) != 1) {
        LOG_FAIL(CKR_FUNCTION_FAILED, "RAND_bytes");
        return CKR_FUNCTION_FAILED;
    }
    dep11_hex_encode(r, n, (char *)out); /* writes a NUL after: callers leave room */
    return CKR_OK;
}

/* A new mark: its label random hex, the first MARK_ID_LEN digits its id. */
static CK_RV create(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *h)
{
    uint8_t value[DEP11_MARK_LEN + 1];
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_TOKEN, &t, 1 },
        { CKA_PRIVATE, &t, 1 },
        { CKA_MODIFIABLE, &t, 1 },
        { CKA_APPLICATION, (void *)MARK_APP, sizeof MARK_APP - 1 },
        { CKA_LABEL, value, DEP11_MARK_LEN },
    };
    CK_RV rv = random_hex(value, DEP11_MARK_LEN / 2);

    if (rv == CKR_OK)
        rv = dep11_hsm_CreateObject(s, tmpl, sizeof tmpl / sizeof tmpl[0], h);
    return rv;
}

struct read_arg {
    uint8_t *mark;
    int have;
    size_t n; /* marks found by a search (0: none, or none searched) */
};

static CK_RV read_fn(CK_SESSION_HANDLE s, void *arg)
{
    struct read_arg *a = arg;
    CK_OBJECT_HANDLE h = remembered(), *found = NULL;
    CK_RV rv = CKR_OBJECT_HANDLE_INVALID;

    a->have = 0;
    a->n = 0;
    if (h != CK_INVALID_HANDLE)
        rv = read_value(s, h, a->mark);
    if (rv != CKR_OBJECT_HANDLE_INVALID) {
        a->have = rv == CKR_OK;
        return rv;
    }
    remember(CK_INVALID_HANDLE);
    rv = search(s, &found, &a->n);
    if (rv == CKR_OK && a->n == 1) {
        rv = read_value(s, found[0], a->mark);
        if (rv == CKR_OK) {
            remember(found[0]);
            a->have = 1;
        } else if (rv == CKR_OBJECT_HANDLE_INVALID) {
            rv = CKR_OK; /* destroyed under us: no mark this time */
        }
    }
    free(found);
    return rv;
}

/* Creates a mark when there is none (a reader found none). */
static CK_RV create_fn(CK_SESSION_HANDLE s, void *arg)
{
    CK_OBJECT_HANDLE *found = NULL, h = CK_INVALID_HANDLE;
    size_t n = 0;
    CK_RV rv = search(s, &found, &n);

    (void)arg;
    free(found);
    if (rv == CKR_OK && n == 0)
        rv = create(s, &h);
    return rv;
}

/** See provider_mark.h. */
CK_RV dep11_provider_mark_read(uint8_t mark[DEP11_MARK_LEN], int *have)
{
    struct read_arg a = { .mark = mark };
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (mark == NULL || have == NULL) {
        LOG_FAIL(rv, "NULL argument");
        return rv;
    }
    *have = 0;
    rv = dep11_provider_run(read_fn, &a);
    if (rv == CKR_OK && !a.have && a.n == 0) {
        /* Used from the next read on: a writer that searched for marks
         * before this one existed wrote its record before our search. */
        rv = dep11_provider_run_write(create_fn, NULL);
        if (rv == CKR_OK)
            LOG_INFO("provider token: change mark created");
        else /* only a memo is lost: this unwrap searches, as without marks */
            LOG_WARN("%s: no change mark could be made on the provider token: nothing is "
                     "remembered of its records until one exists",
                     dep11_rv_name(rv));
        rv = CKR_OK;
    }
    if (rv != CKR_OK)
        LOG_FAIL(rv, "reading the provider token's change mark");
    *have = rv == CKR_OK && a.have;
    return rv;
}

/* Of several marks, the one every writer keeps: the smallest id. */
static CK_RV keep_one(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *found, size_t n)
{
    uint8_t best[MARK_ID_LEN], v[DEP11_MARK_LEN];
    size_t keep = n;
    CK_RV rv = CKR_OK;

    for (size_t i = 0; i < n; i++) {
        rv = read_value(s, found[i], v);
        if (rv != CKR_OK)
            return CKR_OK; /* leave them all: readers use none of several */
        if (keep == n || memcmp(v, best, MARK_ID_LEN) < 0) {
            memcpy(best, v, MARK_ID_LEN);
            keep = i;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (i != keep) /* best effort: a reader of a destroyed mark searches */
            (void)dep11_hsm_DestroyObject(s, found[i]);
    remember(found[keep]);
    LOG_INFO("provider token: %zu change marks, one kept", n);
    return rv;
}

/* Sets every mark to fresh random bytes (creates one when there is none). */
static CK_RV bump_once(CK_SESSION_HANDLE s)
{
    CK_OBJECT_HANDLE *found = NULL, h = CK_INVALID_HANDLE;
    uint8_t value[DEP11_MARK_LEN + 1];
    CK_ATTRIBUTE a = { CKA_LABEL, value, DEP11_MARK_LEN };
    size_t n = 0;
    CK_RV rv = search(s, &found, &n);

    if (rv == CKR_OK && n == 0) {
        rv = create(s, &h);
        if (rv == CKR_OK)
            remember(h);
    }
    for (size_t i = 0; rv == CKR_OK && i < n; i++) {
        rv = read_value(s, found[i], value); /* its id stays */
        if (rv == CKR_OK)
            rv = random_hex(value + MARK_ID_LEN, (DEP11_MARK_LEN - MARK_ID_LEN) / 2);
        if (rv == CKR_OK)
            rv = dep11_hsm_SetAttributeValue(s, found[i], &a, 1);
    }
    if (rv == CKR_OK && n > 1)
        rv = keep_one(s, found, n);
    free(found);
    if (rv != CKR_OK)
        LOG_FAIL(rv, "setting the provider token's change mark");
    return rv;
}

/* bump_once, again when a mark vanished under it (another writer kept
 * another of two) or SoftHSM's file store failed a write racing another
 * process's: setting a mark twice is harmless. */
static CK_RV bump(CK_SESSION_HANDLE s)
{
    CK_RV rv = CKR_GENERAL_ERROR;

    for (int i = 0; i < BUMP_TRIES; i++) {
        rv = bump_once(s);
        if (rv != CKR_OBJECT_HANDLE_INVALID && rv != CKR_FUNCTION_FAILED)
            break;
        LOG_DEBUG("%s setting the change mark: again", dep11_rv_name(rv));
    }
    return rv;
}

/**
 * dep11_provider_mark_written - provider_int.h. @s [in] the writer's
 * session, inside its write operation; @record [in] the record it has just
 * created.
 */
CK_RV dep11_provider_mark_written(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE record)
{
    CK_RV rv = bump(s);

    if (rv == CKR_OK)
        return rv;
    /* A record no reader may have been told of: taken back, so the write
     * fails whole (a reader that saw it meanwhile refused once, fail-closed). */
    if (dep11_hsm_DestroyObject(s, record) != CKR_OK)
        LOG_ERROR("%s: a provider record stays written without a new change mark: other "
                  "processes may miss it until their memo expires (cache-seconds)",
                  dep11_rv_name(rv));
    return rv;
}
