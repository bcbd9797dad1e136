/*
 * provider_state.c - binding and commit records for a 16-byte tag on the
 * provider token (provider_state.h), and consumer token identities.
 * Every write is create-only, so processes racing each other agree: the
 * smallest binding value wins, the largest commit number counts.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hsm/backend.h"
#include "hsm/internal.h"
#include "hsm/provider_int.h"
#include "hsm/provider_state.h"
#include "util/config.h"
#include "util/hex.h"
#include "util/lock.h"
#include "util/log.h"

#define APP_PREFIX "dep11-state-"
#define BIND_PREFIX "dep11-bind-"
#define COMMIT_PREFIX "dep11-commit-"
#define NAME_MAX_LEN 48          /* longest prefix + 32 hex digits */
#define NUMBER_LEN 8             /* big-endian number */
#define COMMIT_LEN (NUMBER_LEN + DEP11_COMMIT_DIGEST_LEN)
#define VALUE_CAP 128
#define SLOTS 32                 /* remembered token serials */

/* ---- consumer token identities ---- */

static dep11_mutex_t serial_lock = DEP11_MUTEX_INIT;
static struct {
    int used;
    CK_SLOT_ID slot;
    char serial[DEP11_TOKEN_SERIAL_LEN + 1];
    int unique; /* ident (below) was seen unique among the tokens */
    uint8_t ident[DEP11_TOKEN_IDENT_LEN];
} serials[SLOTS];
static unsigned serial_next;

/* @n bytes of a blank-padded CK_TOKEN_INFO field into @out (n + 1 bytes):
 * trailing blanks dropped, printable ASCII only (it goes into JSON). */
static void printable(const CK_UTF8CHAR *src, size_t n, char *out)
{
    while (n > 0 && (src[n - 1] == ' ' || src[n - 1] == '\0'))
        n--;
    for (size_t i = 0; i < n; i++)
        out[i] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
    out[n] = '\0';
}

/* The entry of @slot (a new or recycled one when absent); under serial_lock. */
static size_t entry_of(CK_SLOT_ID slot)
{
    size_t i = 0;

    for (i = 0; i < SLOTS && !(serials[i].used && serials[i].slot == slot); i++)
        ;
    if (i == SLOTS) {
        i = serial_next++ % SLOTS;
        memset(&serials[i], 0, sizeof serials[i]);
    }
    serials[i].used = 1;
    serials[i].slot = slot;
    return i;
}

/* Remembers @slot's serial; 1 when @ident was already seen unique there. */
static int remember_serial(CK_SLOT_ID slot, const CK_UTF8CHAR *sn,
                           const uint8_t ident[DEP11_TOKEN_IDENT_LEN])
{
    char s[DEP11_TOKEN_SERIAL_LEN + 1];
    size_t i = 0;
    int unique = 0;

    printable(sn, DEP11_TOKEN_SERIAL_LEN, s);
    dep11_lock(&serial_lock);
    i = entry_of(slot);
    memcpy(serials[i].serial, s, sizeof s);
    unique = serials[i].unique && memcmp(serials[i].ident, ident, DEP11_TOKEN_IDENT_LEN) == 0;
    dep11_unlock(&serial_lock);
    return unique;
}

static void remember_unique(CK_SLOT_ID slot, const uint8_t ident[DEP11_TOKEN_IDENT_LEN])
{
    size_t i = 0;

    dep11_lock(&serial_lock);
    i = entry_of(slot);
    serials[i].unique = 1;
    memcpy(serials[i].ident, ident, DEP11_TOKEN_IDENT_LEN);
    dep11_unlock(&serial_lock);
}

/* The identity of the token described by @ti under the profile's
 * token-identity (provider_state.h, docs/FORMATS.md). */
static CK_RV ident_of(const CK_TOKEN_INFO *ti, uint8_t ident[DEP11_TOKEN_IDENT_LEN])
{
    const struct dep11_profile *p = dep11_hsm_profile();
    uint8_t fields[DEP11_TOKEN_IDENT_LEN];
    unsigned int len = 0;

    memcpy(fields, ti->manufacturerID, 32);
    memcpy(fields + 32, ti->model, 16);
    memcpy(fields + 48, ti->serialNumber, 16);
    if (p == NULL || !p->token_identity_label) {
        /* serial: byte-identical to the records made before the key existed */
        memcpy(ident, fields, DEP11_TOKEN_IDENT_LEN);
        return CKR_OK;
    }
    memcpy(ident, ti->label, 32);
    if (EVP_Digest(fields, sizeof fields, ident + 32, &len, EVP_sha256(), NULL) != 1 ||
        len != 32) {
        LOG_FAIL(CKR_FUNCTION_FAILED, "SHA-256 of the token identity");
        return CKR_FUNCTION_FAILED;
    }
    return CKR_OK;
}

/* CKR_OK when no other token visible now has @ident; else
 * CKR_TOKEN_NOT_RECOGNIZED after one line naming both labels. */
static CK_RV check_unique(CK_SLOT_ID slot, const CK_TOKEN_INFO *ti,
                          const uint8_t ident[DEP11_TOKEN_IDENT_LEN])
{
    CK_RV rv = CKR_GENERAL_ERROR;
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n = 0;
    CK_TOKEN_INFO other;
    uint8_t oid[DEP11_TOKEN_IDENT_LEN];
    char a[33], b[33];

    rv = dep11_hsm_GetSlotList(CK_TRUE, NULL, &n);
    if (rv == CKR_OK && n > 0 && (slots = calloc(n, sizeof *slots)) == NULL)
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK && n > 0)
        rv = dep11_hsm_GetSlotList(CK_TRUE, slots, &n);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "listing the tokens to check identities are unique");
        goto out;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        if (slots[i] == slot || dep11_hsm_GetTokenInfo(slots[i], &other) != CKR_OK ||
            ident_of(&other, oid) != CKR_OK || memcmp(oid, ident, sizeof oid) != 0)
            continue;
        printable(ti->label, 32, a);
        printable(other.label, 32, b);
        rv = CKR_TOKEN_NOT_RECOGNIZED;
        LOG_ERROR("%s: tokens '%s' (slot %lu) and '%s' (slot %lu) have the same identity "
                  "(manufacturerID, model, serialNumber): tenants cannot be told apart; "
                  "set token-identity = serial-label in the profile",
                  dep11_rv_name(rv), a, (unsigned long)slot, b, (unsigned long)slots[i]);
        goto out;
    }
    rv = CKR_OK;
out:
    free(slots);
    return rv;
}

/**
 * See provider_state.h. @slot [in] a consumer token's slot; @ident [out].
 */
CK_RV dep11_hsm_token_ident(CK_SLOT_ID slot, uint8_t ident[DEP11_TOKEN_IDENT_LEN])
{
    CK_RV rv = CKR_ARGUMENTS_BAD;
    CK_TOKEN_INFO ti;

    if (ident == NULL || dep11_hsm() == NULL) {
        rv = ident == NULL ? CKR_ARGUMENTS_BAD : CKR_CRYPTOKI_NOT_INITIALIZED;
        LOG_FAIL(rv, "token identity");
        return rv;
    }
    memset(&ti, 0, sizeof ti);
    rv = dep11_hsm_GetTokenInfo(slot, &ti);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "C_GetTokenInfo of slot %lu", (unsigned long)slot);
        return rv;
    }
    rv = ident_of(&ti, ident);
    if (rv != CKR_OK || remember_serial(slot, ti.serialNumber, ident))
        return rv;
    rv = check_unique(slot, &ti, ident);
    if (rv == CKR_OK)
        remember_unique(slot, ident);
    return rv;
}

/** See provider_state.h. */
void dep11_hsm_token_serial(CK_SLOT_ID slot, char out[DEP11_TOKEN_SERIAL_LEN + 1])
{
    out[0] = '\0';
    dep11_lock(&serial_lock);
    for (size_t i = 0; i < SLOTS; i++)
        if (serials[i].used && serials[i].slot == slot) {
            memcpy(out, serials[i].serial, sizeof serials[i].serial);
            break;
        }
    dep11_unlock(&serial_lock);
}

/* ---- records ---- */

/* @prefix followed by the tag in hex; returns the length. */
static size_t name(char out[NAME_MAX_LEN + 1], const char *prefix, const uint8_t tag[16])
{
    size_t p = strlen(prefix);

    memcpy(out, prefix, p);
    dep11_hex_encode(tag, 16, out + p);
    return p + 32;
}

/* What one search found. */
struct state_arg {
    const uint8_t *tag;
    struct dep11_tag_state *st;
    const uint8_t *bind;         /* bind: the value to write */
    uint64_t number;             /* commit: the number to write */
    const uint8_t *digest;       /* commit: its digest */
    CK_OBJECT_HANDLE *old;       /* commit records (their numbers in oldn) */
    uint64_t *oldn;
    size_t nold;
};

/* Is @a before @b in byte order? */
static int before(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, DEP11_BINDING_LEN) < 0;
}

/* Reads one record into @st (and a commit record into @a's list). A record
 * of another shape is not ours: skipped. */
static CK_RV read_record(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, struct state_arg *a,
                         const char *bind, const char *commit)
{
    char label[NAME_MAX_LEN + 1];
    uint8_t value[VALUE_CAP];
    CK_ATTRIBUTE t[] = { { CKA_LABEL, label, NAME_MAX_LEN }, { CKA_VALUE, value, VALUE_CAP } };
    CK_RV rv = dep11_hsm_GetAttributeValue(s, h, t, 2);
    uint64_t v = 0;

    if (rv == CKR_BUFFER_TOO_SMALL || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
        rv == CKR_ATTRIBUTE_SENSITIVE)
        return CKR_OK;
    if (rv != CKR_OK)
        return rv;
    label[t[0].ulValueLen] = '\0';
    if (strcmp(label, bind) == 0 && t[1].ulValueLen == DEP11_BINDING_LEN) {
        if (!a->st->bound || before(value, a->st->binding))
            memcpy(a->st->binding, value, DEP11_BINDING_LEN);
        a->st->bound = 1;
    } else if (strcmp(label, commit) == 0 && t[1].ulValueLen == COMMIT_LEN) {
        for (int i = 0; i < NUMBER_LEN; i++)
            v = v << 8 | value[i];
        if (v > a->st->number ||
            (v == a->st->number &&
             memcmp(value + NUMBER_LEN, a->st->digest, DEP11_COMMIT_DIGEST_LEN) < 0)) {
            a->st->number = v;
            memcpy(a->st->digest, value + NUMBER_LEN, DEP11_COMMIT_DIGEST_LEN);
        }
        if (a->old != NULL) {
            a->old[a->nold] = h;
            a->oldn[a->nold++] = v;
        }
    }
    return CKR_OK;
}

/* One search and the reads: fills a->st (and a->old when @keep_commits). */
static CK_RV collect(CK_SESSION_HANDLE s, struct state_arg *a, int keep_commits)
{
    char app[NAME_MAX_LEN + 1], bind[NAME_MAX_LEN + 1], commit[NAME_MAX_LEN + 1];
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_TOKEN, &t, 1 },
                            { CKA_APPLICATION, app, 0 } };
    CK_OBJECT_HANDLE *found = NULL;
    size_t n = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    tmpl[2].ulValueLen = name(app, APP_PREFIX, a->tag);
    (void)name(bind, BIND_PREFIX, a->tag);
    (void)name(commit, COMMIT_PREFIX, a->tag);
    memset(a->st, 0, sizeof *a->st);
    free(a->old); /* a retried run collects afresh */
    free(a->oldn);
    a->old = NULL;
    a->oldn = NULL;
    a->nold = 0;
    rv = dep11_hsm_find_all(s, tmpl, 3, &found, &n);
    if (rv == CKR_OK && keep_commits && n > 0) {
        a->old = calloc(n, sizeof *a->old);
        a->oldn = calloc(n, sizeof *a->oldn);
        if (a->old == NULL || a->oldn == NULL)
            rv = CKR_HOST_MEMORY;
    }
    for (size_t i = 0; rv == CKR_OK && i < n; i++)
        rv = read_record(s, found[i], a, bind, commit);
    free(found);
    return rv;
}

/* Creates one record (twice on CKR_FUNCTION_FAILED: SoftHSM's file store
 * answers that now and then when two processes write the token at once),
 * then sets the change mark (or takes the record back). */
static CK_RV create(CK_SESSION_HANDLE s, const uint8_t tag[16], const char *prefix,
                    const uint8_t *value, size_t len)
{
    char app[NAME_MAX_LEN + 1], label[NAME_MAX_LEN + 1];
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL t = CK_TRUE, f = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof cls }, { CKA_TOKEN, &t, 1 }, { CKA_PRIVATE, &t, 1 },
        { CKA_MODIFIABLE, &f, 1 }, { CKA_APPLICATION, app, 0 }, { CKA_LABEL, label, 0 },
        { CKA_VALUE, (void *)value, len },
    };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = CKR_GENERAL_ERROR;

    tmpl[4].ulValueLen = name(app, APP_PREFIX, tag);
    tmpl[5].ulValueLen = name(label, prefix, tag);
    for (int i = 0; i < 2; i++) {
        rv = dep11_hsm_CreateObject(s, tmpl, sizeof tmpl / sizeof tmpl[0], &h);
        if (rv != CKR_FUNCTION_FAILED)
            break;
    }
    if (rv == CKR_OK)
        rv = dep11_provider_mark_written(s, h);
    return rv;
}

static CK_RV get_fn(CK_SESSION_HANDLE s, void *arg)
{
    return collect(s, arg, 0);
}

/* Writes the binding when there is none, then reads again: a binding a
 * racing process wrote at the same time is then seen, and the smaller wins. */
static CK_RV bind_fn(CK_SESSION_HANDLE s, void *arg)
{
    struct state_arg *a = arg;
    CK_RV rv = collect(s, a, 0);

    if (rv != CKR_OK || a->st->bound)
        return rv;
    rv = create(s, a->tag, BIND_PREFIX, a->bind, DEP11_BINDING_LEN);
    if (rv == CKR_OK)
        rv = collect(s, a, 0);
    return rv;
}

/* Is (number, digest) of @a the state in force? */
static int in_force(const struct state_arg *a)
{
    return a->st->number == a->number &&
           memcmp(a->st->digest, a->digest, DEP11_COMMIT_DIGEST_LEN) == 0;
}

/* Writes the commit record unless a record of that number is there, reads
 * again (a racing writer of the same number: the smaller digest wins),
 * then drops the records below it (never the largest: the number only
 * rises). */
static CK_RV commit_fn(CK_SESSION_HANDLE s, void *arg)
{
    struct state_arg *a = arg;
    uint8_t v[COMMIT_LEN];
    CK_RV rv = collect(s, a, 1);

    if (rv == CKR_OK && a->st->number < a->number) {
        for (int i = 0; i < NUMBER_LEN; i++)
            v[i] = (uint8_t)(a->number >> (8 * (NUMBER_LEN - 1 - i)));
        memcpy(v + NUMBER_LEN, a->digest, DEP11_COMMIT_DIGEST_LEN);
        rv = create(s, a->tag, COMMIT_PREFIX, v, COMMIT_LEN);
        if (rv == CKR_OK)
            rv = collect(s, a, 1);
    }
    if (rv == CKR_OK && !in_force(a)) {
        rv = CKR_FUNCTION_REJECTED;
        LOG_FAIL(rv, "another record is in force (number %llu)",
                 (unsigned long long)a->st->number);
    }
    for (size_t i = 0; rv == CKR_OK && i < a->nold; i++)
        if (a->oldn[i] < a->number) /* best effort: a leftover is harmless */
            (void)dep11_hsm_DestroyObject(s, a->old[i]);
    free(a->old);
    free(a->oldn);
    a->old = NULL;
    a->oldn = NULL;
    a->nold = 0;
    return rv;
}

static CK_RV run(dep11_provider_fn fn, struct state_arg *a, const char *what)
{
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (a->tag == NULL || a->st == NULL) {
        LOG_FAIL(rv, "NULL argument");
        return rv;
    }
    rv = fn == get_fn ? dep11_provider_run(fn, a) : dep11_provider_run_write(fn, a);
    if (rv != CKR_OK)
        LOG_FAIL(rv, "provider state %s", what);
    return rv;
}

/** See provider_state.h. */
CK_RV dep11_provider_state_get(const uint8_t tag[16], struct dep11_tag_state *st)
{
    struct state_arg a = { .tag = tag, .st = st };

    return run(get_fn, &a, "look-up");
}

/** See provider_state.h. */
CK_RV dep11_provider_state_bind(const uint8_t tag[16], const uint8_t binding[DEP11_BINDING_LEN],
                                struct dep11_tag_state *st)
{
    struct state_arg a = { .tag = tag, .st = st, .bind = binding };

    if (binding == NULL) {
        LOG_FAIL(CKR_ARGUMENTS_BAD, "NULL binding");
        return CKR_ARGUMENTS_BAD;
    }
    return run(bind_fn, &a, "binding");
}

/** See provider_state.h. */
CK_RV dep11_provider_state_commit(const uint8_t tag[16], uint64_t number,
                                  const uint8_t digest[DEP11_COMMIT_DIGEST_LEN])
{
    struct dep11_tag_state st;
    struct state_arg a = { .tag = tag, .st = &st, .number = number, .digest = digest };

    if (digest == NULL) {
        LOG_FAIL(CKR_ARGUMENTS_BAD, "NULL digest");
        return CKR_ARGUMENTS_BAD;
    }
    return run(commit_fn, &a, "commit");
}
