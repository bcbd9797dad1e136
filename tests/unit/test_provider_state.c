/*
 * test_provider_state.c - module/hsm/provider_state.c over an in-memory
 * PKCS#11 double of the provider token (objects with CKA_CLASS, CKA_TOKEN,
 * CKA_APPLICATION, CKA_LABEL, CKA_VALUE; find by template): binding records
 * (write once, the smallest of racing ones wins), commit records (the
 * maximum counts, lower ones pruned, a lower number writes nothing), records
 * of other shapes ignored, a retried run, and consumer token identities
 * (token-identity = serial and serial-label; two tokens of one identity).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hsm/backend.h"
#include "hsm/call.h"
#include "hsm/provider_int.h"
#include "hsm/provider_mark.h"
#include "hsm/provider_state.h"
#include "util/config.h"

#define OBJS 32
#define MARK "dep11-state-mark" /* the change mark's CKA_APPLICATION */
#define VAL 160

static struct obj {
    int used;
    char app[64], label[80];
    uint8_t value[VAL];
    size_t value_len;
} objs[OBJS];
static unsigned creates, destroys, finds, runs_twice, write_runs, mark_creates, sets;
static CK_RV create_rv, set_rv;
static CK_FUNCTION_LIST list;

/* ---- the PKCS#11 double ---- */

static CK_RV fake_create(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                         CK_OBJECT_HANDLE_PTR h)
{
    (void)s;
    if (create_rv != CKR_OK)
        return create_rv;
    for (CK_ULONG i = 0; i < OBJS; i++) {
        if (objs[i].used)
            continue;
        memset(&objs[i], 0, sizeof objs[i]);
        objs[i].used = 1;
        for (CK_ULONG k = 0; k < n; k++) {
            if (t[k].type == CKA_APPLICATION)
                memcpy(objs[i].app, t[k].pValue, t[k].ulValueLen);
            else if (t[k].type == CKA_LABEL)
                memcpy(objs[i].label, t[k].pValue, t[k].ulValueLen);
            else if (t[k].type == CKA_VALUE) {
                memcpy(objs[i].value, t[k].pValue, t[k].ulValueLen);
                objs[i].value_len = t[k].ulValueLen;
            }
        }
        *h = i + 1;
        if (strcmp(objs[i].app, MARK) == 0)
            mark_creates++; /* the change mark (provider_mark.c) */
        else
            creates++;
        return CKR_OK;
    }
    return CKR_DEVICE_MEMORY;
}

static CK_RV fake_get(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
    struct obj *o = h >= 1 && h <= OBJS && objs[h - 1].used ? &objs[h - 1] : NULL;
    CK_RV rv = CKR_OK;

    (void)s;
    if (o == NULL)
        return CKR_OBJECT_HANDLE_INVALID;
    for (CK_ULONG k = 0; k < n; k++) {
        const void *src = t[k].type == CKA_LABEL         ? (const void *)o->label
                          : t[k].type == CKA_APPLICATION ? (const void *)o->app
                                                         : o->value;
        size_t len = t[k].type == CKA_LABEL         ? strlen(o->label)
                     : t[k].type == CKA_APPLICATION ? strlen(o->app)
                                                    : o->value_len;

        if (t[k].pValue != NULL && t[k].ulValueLen < len) {
            t[k].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = CKR_BUFFER_TOO_SMALL;
            continue;
        }
        if (t[k].pValue != NULL)
            memcpy(t[k].pValue, src, len);
        t[k].ulValueLen = len;
    }
    return rv;
}

static CK_RV fake_set(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
    (void)s;
    if (set_rv != CKR_OK)
        return set_rv;
    if (h < 1 || h > OBJS || !objs[h - 1].used)
        return CKR_OBJECT_HANDLE_INVALID;
    assert_int_equal(n, 1);
    assert_int_equal(t[0].type, CKA_LABEL);
    assert_true(t[0].ulValueLen < sizeof objs[h - 1].label);
    memset(objs[h - 1].label, 0, sizeof objs[h - 1].label);
    memcpy(objs[h - 1].label, t[0].pValue, t[0].ulValueLen);
    sets++;
    return CKR_OK;
}

static CK_RV fake_destroy(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
    (void)s;
    if (h < 1 || h > OBJS || !objs[h - 1].used)
        return CKR_OBJECT_HANDLE_INVALID;
    objs[h - 1].used = 0;
    destroys++;
    return CKR_OK;
}

/* Tokens in slots 5, 6 and 7 (and any slot asked for); with same_serial,
 * every token has serial "123" (opencryptoki's soft tokens). */
static int same_serial;
static struct dep11_profile profile;

static CK_RV fake_token_info(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR ti)
{
    memset(ti, ' ', sizeof *ti);
    memcpy(ti->manufacturerID, "SoftHSM project", 15);
    memcpy(ti->model, "SoftHSM v2", 10);
    if (same_serial)
        snprintf((char *)ti->serialNumber, 16, "123");
    else
        snprintf((char *)ti->serialNumber, 16, "serial%lu", (unsigned long)slot);
    ti->serialNumber[strlen((char *)ti->serialNumber)] = ' ';
    snprintf((char *)ti->label, 32, "tenant%lu", (unsigned long)slot);
    ti->label[strlen((char *)ti->label)] = ' ';
    return slot == 99 ? CKR_SLOT_ID_INVALID : CKR_OK;
}

static CK_RV fake_slot_list(CK_BBOOL present, CK_SLOT_ID_PTR slots, CK_ULONG_PTR n)
{
    static const CK_SLOT_ID mine[] = { 5, 6, 7 };

    (void)present;
    if (slots != NULL && *n < 3)
        return CKR_BUFFER_TOO_SMALL;
    if (slots != NULL)
        memcpy(slots, mine, sizeof mine);
    *n = 3;
    return CKR_OK;
}

CK_FUNCTION_LIST *dep11_hsm(void)
{
    return &list;
}

const struct dep11_profile *dep11_hsm_profile(void)
{
    return &profile;
}

/* hsm/call.c's wrappers call through the loaded backend: this double. */
__attribute__((constructor)) static void load_double(void)
{
    dep11_hsm_backend = &list;
}

/* The find of hsm/find.c: the template's CKA_APPLICATION and, when given,
 * CKA_LABEL (what provider_state.c and provider_mark.c search by besides
 * class and token). */
CK_RV dep11_hsm_find_all(CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE **out,
                         size_t *count)
{
    const char *app = NULL, *label = NULL;
    size_t app_len = 0, label_len = 0, c = 0;

    (void)s;
    finds++;
    for (CK_ULONG k = 0; k < n; k++)
        if (t[k].type == CKA_APPLICATION) {
            app = t[k].pValue;
            app_len = t[k].ulValueLen;
        } else if (t[k].type == CKA_LABEL) {
            label = t[k].pValue;
            label_len = t[k].ulValueLen;
        }
    assert_non_null(app);
    *out = calloc(OBJS, sizeof **out);
    assert_non_null(*out);
    for (size_t i = 0; i < OBJS; i++)
        if (objs[i].used && strlen(objs[i].app) == app_len &&
            memcmp(objs[i].app, app, app_len) == 0 &&
            (label == NULL || (strlen(objs[i].label) == label_len &&
                               memcmp(objs[i].label, label, label_len) == 0)))
            (*out)[c++] = i + 1;
    *count = c;
    return CKR_OK;
}

/* Runs @fn; with runs_twice, twice (as a retry after a lost session). */
CK_RV dep11_provider_run(dep11_provider_fn fn, void *arg)
{
    CK_RV rv = fn(1, arg);

    if (runs_twice)
        rv = fn(1, arg);
    return rv;
}

/* A writer's run: the real one holds the provider object lock alone. */
CK_RV dep11_provider_run_write(dep11_provider_fn fn, void *arg)
{
    write_runs++;
    return dep11_provider_run(fn, arg);
}

/* ---- helpers ---- */

static const uint8_t TAG[16] = "policy-id-000001";
#define APP "dep11-state-706f6c6963792d69642d303030303031"
#define BIND "dep11-bind-706f6c6963792d69642d303030303031"
#define COMMIT "dep11-commit-706f6c6963792d69642d303030303031"

static int reset(void **state)
{
    (void)state;
    memset(objs, 0, sizeof objs);
    creates = destroys = finds = runs_twice = write_runs = mark_creates = sets = 0;
    create_rv = set_rv = CKR_OK;
    dep11_provider_mark_reset();
    memset(&list, 0, sizeof list);
    list.C_CreateObject = fake_create;
    list.C_GetAttributeValue = fake_get;
    list.C_DestroyObject = fake_destroy;
    list.C_SetAttributeValue = fake_set;
    list.C_GetTokenInfo = fake_token_info;
    list.C_GetSlotList = fake_slot_list;
    memset(&profile, 0, sizeof profile);
    same_serial = 0;
    return 0;
}

static void put(const char *app, const char *label, const uint8_t *v, size_t len)
{
    CK_ATTRIBUTE t[] = { { CKA_APPLICATION, (void *)app, strlen(app) },
                         { CKA_LABEL, (void *)label, strlen(label) },
                         { CKA_VALUE, (void *)v, len } };
    CK_OBJECT_HANDLE h = 0;

    assert_int_equal(fake_create(1, t, 3, &h), CKR_OK);
}

/* A commit record another process wrote: number @v, digest @d (NULL: zeros). */
static void put_commit_digest(uint64_t v, const uint8_t *d)
{
    uint8_t b[8 + DEP11_COMMIT_DIGEST_LEN];

    memset(b, 0, sizeof b);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    if (d != NULL)
        memcpy(b + 8, d, DEP11_COMMIT_DIGEST_LEN);
    put(APP, COMMIT, b, sizeof b);
}

static void put_commit(uint64_t v)
{
    put_commit_digest(v, NULL);
}

static unsigned count_label(const char *label)
{
    unsigned n = 0;

    for (size_t i = 0; i < OBJS; i++)
        n += objs[i].used && strcmp(objs[i].label, label) == 0;
    return n;
}

/* ---- tests ---- */

static void test_empty(void **state)
{
    struct dep11_tag_state st;

    (void)state;
    memset(&st, 0xff, sizeof st);
    assert_int_equal(dep11_provider_state_get(TAG, &st), CKR_OK);
    assert_int_equal(st.bound, 0);
    assert_int_equal(st.number, 0);
    assert_int_equal(finds, 1); /* one search */
    assert_int_equal(write_runs, 0); /* a reader: shares the object lock */
    assert_int_equal(dep11_provider_state_get(NULL, &st), CKR_ARGUMENTS_BAD);
}

static void test_bind(void **state)
{
    struct dep11_tag_state st;
    uint8_t a[DEP11_BINDING_LEN], b[DEP11_BINDING_LEN];

    (void)state;
    memset(a, 'a', sizeof a);
    memset(b, 'b', sizeof b);
    assert_int_equal(dep11_provider_state_bind(TAG, b, &st), CKR_OK);
    assert_int_equal(st.bound, 1);
    assert_memory_equal(st.binding, b, sizeof b);
    assert_int_equal(count_label(BIND), 1);
    /* create-only: a second bind keeps the first */
    assert_int_equal(dep11_provider_state_bind(TAG, a, &st), CKR_OK);
    assert_memory_equal(st.binding, b, sizeof b);
    assert_int_equal(creates, 1);
    assert_int_equal(write_runs, 2); /* each bind ran alone */
    /* two racing processes both wrote: everyone picks the smallest */
    put(APP, BIND, a, sizeof a);
    assert_int_equal(dep11_provider_state_get(TAG, &st), CKR_OK);
    assert_memory_equal(st.binding, a, sizeof a);
    /* a write that fails is the backend's answer */
    reset(NULL);
    create_rv = CKR_DEVICE_ERROR;
    assert_int_equal(dep11_provider_state_bind(TAG, a, &st), CKR_DEVICE_ERROR);
    assert_int_equal(dep11_provider_state_bind(TAG, NULL, &st), CKR_ARGUMENTS_BAD);
}

static void test_commit(void **state)
{
    struct dep11_tag_state st;
    uint8_t d1[DEP11_COMMIT_DIGEST_LEN], d2[DEP11_COMMIT_DIGEST_LEN];

    (void)state;
    memset(d1, 0x11, sizeof d1);
    memset(d2, 0x22, sizeof d2);
    assert_int_equal(dep11_provider_state_commit(TAG, 2, d2), CKR_OK);
    assert_int_equal(write_runs, 1); /* the commit ran alone */
    assert_int_equal(dep11_provider_state_get(TAG, &st), CKR_OK);
    assert_int_equal(write_runs, 1);
    assert_int_equal(st.number, 2);
    assert_memory_equal(st.digest, d2, sizeof d2);
    /* the same record again: nothing written; a lower number or another
     * blob of the same number is refused and writes nothing */
    assert_int_equal(dep11_provider_state_commit(TAG, 2, d2), CKR_OK);
    assert_int_equal(dep11_provider_state_commit(TAG, 1, d1), CKR_FUNCTION_REJECTED);
    assert_int_equal(dep11_provider_state_commit(TAG, 2, d1), CKR_FUNCTION_REJECTED);
    assert_int_equal(creates, 1);
    assert_int_equal(dep11_provider_state_get(TAG, &st), CKR_OK);
    assert_int_equal(st.number, 2);
    assert_memory_equal(st.digest, d2, sizeof d2);
    /* a higher one: written, lower records pruned (a racing writer's 3 too) */
    put_commit(3);
    assert_int_equal(dep11_provider_state_commit(TAG, 0x100000005ULL, d1), CKR_OK);
    assert_int_equal(dep11_provider_state_get(TAG, &st), CKR_OK);
    assert_int_equal(st.number, 0x100000005ULL);
    assert_int_equal(count_label(COMMIT), 1);
    /* a retried run (lost session) collects afresh and leaks nothing */
    runs_twice = 1;
    assert_int_equal(dep11_provider_state_commit(TAG, 7 + 0x100000000ULL, d1), CKR_OK);
    assert_int_equal(count_label(COMMIT), 1);
    create_rv = CKR_DEVICE_ERROR;
    assert_int_equal(dep11_provider_state_commit(TAG, 0x200000000ULL, d1), CKR_DEVICE_ERROR);
    assert_int_equal(dep11_provider_state_commit(TAG, 1, NULL), CKR_ARGUMENTS_BAD);
}

/* Two processes commit two blobs of one number at once: both records
 * exist, every reader picks the smaller digest, and the writer of the
 * other one is told it lost. */
static void test_commit_race(void **state)
{
    struct dep11_tag_state st;
    uint8_t small[DEP11_COMMIT_DIGEST_LEN], big[DEP11_COMMIT_DIGEST_LEN];

    (void)state;
    memset(small, 0x01, sizeof small);
    memset(big, 0xf0, sizeof big);
    put_commit_digest(4, small);      /* the racing process's record */
    assert_int_equal(dep11_provider_state_commit(TAG, 4, big), CKR_FUNCTION_REJECTED);
    assert_int_equal(dep11_provider_state_get(TAG, &st), CKR_OK);
    assert_memory_equal(st.digest, small, sizeof small);
    put_commit_digest(5, big);
    assert_int_equal(dep11_provider_state_commit(TAG, 5, small), CKR_FUNCTION_REJECTED);
    assert_int_equal(dep11_provider_state_get(TAG, &st), CKR_OK);
    assert_int_equal(st.number, 5);
    assert_memory_equal(st.digest, big, sizeof big);
}

/* Records of another shape, another tag, or another label are not ours. */
static void test_foreign_records(void **state)
{
    struct dep11_tag_state st;
    uint8_t v[DEP11_BINDING_LEN + 1], c9[8] = { 0, 0, 0, 0, 0, 0, 0, 9 };

    (void)state;
    memset(v, 'v', sizeof v);
    put(APP, BIND, v, sizeof v);              /* too long for a binding */
    put(APP, COMMIT, v, 7);                   /* too short for a number */
    put(APP, COMMIT, v, 8);                   /* a number without its digest */
    put(APP, "dep11-bind-other", v, DEP11_BINDING_LEN);
    put("dep11-state-other", COMMIT, c9, 8);  /* another tag */
    assert_int_equal(dep11_provider_state_get(TAG, &st), CKR_OK);
    assert_int_equal(st.bound, 0);
    assert_int_equal(st.number, 0);
}

static void test_token_ident(void **state)
{
    uint8_t id[DEP11_TOKEN_IDENT_LEN];
    char serial[DEP11_TOKEN_SERIAL_LEN + 1];

    (void)state;
    dep11_hsm_token_serial(5, serial);
    assert_string_equal(serial, "");
    assert_int_equal(dep11_hsm_token_ident(5, id), CKR_OK);
    assert_memory_equal(id, "SoftHSM project", 15);
    assert_memory_equal(id + 32, "SoftHSM v2", 10);
    assert_memory_equal(id + 48, "serial5", 7);
    dep11_hsm_token_serial(5, serial);
    assert_string_equal(serial, "serial5");   /* blanks trimmed */
    assert_int_equal(dep11_hsm_token_ident(99, id), CKR_SLOT_ID_INVALID);
    assert_int_equal(dep11_hsm_token_ident(6, NULL), CKR_ARGUMENTS_BAD);
    for (CK_SLOT_ID s = 100; s < 200; s++) /* more slots than remembered */
        assert_int_equal(dep11_hsm_token_ident(s, id), CKR_OK);
    dep11_hsm_token_serial(199, serial);
    assert_string_equal(serial, "serial199");
}

/* Two tokens with the same manufacturerID, model and serialNumber: under
 * token-identity = serial neither can be identified; under serial-label the
 * label tells them apart, and the identity is label || SHA-256 of the rest. */
static void test_token_ident_collision(void **state)
{
    uint8_t id5[DEP11_TOKEN_IDENT_LEN], id6[DEP11_TOKEN_IDENT_LEN];
    /* SHA-256("SoftHSM project" + 17 blanks, "SoftHSM v2" + 6, "123" + 13) */
    static const uint8_t want[32] = {
        0x79, 0x5c, 0xb8, 0x02, 0x5c, 0xe0, 0xc9, 0x82, 0x88, 0x0e, 0xb7,
        0x4b, 0x70, 0x30, 0x65, 0x10, 0x6e, 0x73, 0x65, 0xd1, 0x5b, 0xb9,
        0x4b, 0x9d, 0xee, 0xd7, 0x93, 0xbd, 0x6a, 0x36, 0x8e, 0xa6,
    };

    (void)state;
    same_serial = 1;
    assert_int_equal(dep11_hsm_token_ident(205, id5), CKR_TOKEN_NOT_RECOGNIZED);
    assert_int_equal(dep11_hsm_token_ident(206, id6), CKR_TOKEN_NOT_RECOGNIZED);
    profile.token_identity_label = 1;
    assert_int_equal(dep11_hsm_token_ident(5, id5), CKR_OK);
    assert_int_equal(dep11_hsm_token_ident(6, id6), CKR_OK);
    assert_memory_equal(id5, "tenant5 ", 8);
    assert_memory_equal(id6, "tenant6 ", 8);
    assert_memory_equal(id5 + 32, want, 32);
    assert_memory_equal(id6 + 32, want, 32);
    /* unique tokens: serial is the 0.x layout, label form differs from it */
    same_serial = 0;
    profile.token_identity_label = 0;
    assert_int_equal(dep11_hsm_token_ident(205, id5), CKR_OK);
    assert_memory_equal(id5 + 48, "serial205 ", 10);
}

/* ---- the change mark (provider_mark.c) ---- */

static unsigned count_marks(void)
{
    unsigned n = 0;

    for (size_t i = 0; i < OBJS; i++)
        n += objs[i].used && strcmp(objs[i].app, MARK) == 0;
    return n;
}

/* The label of the one mark on the token. */
static void mark_value(uint8_t out[DEP11_MARK_LEN])
{
    assert_int_equal(count_marks(), 1);
    for (size_t i = 0; i < OBJS; i++)
        if (objs[i].used && strcmp(objs[i].app, MARK) == 0) {
            assert_int_equal(strlen(objs[i].label), DEP11_MARK_LEN);
            memcpy(out, objs[i].label, DEP11_MARK_LEN);
        }
}

/* Every record written sets the mark afresh (the first one creates it);
 * a read sees the value the token holds; a look-up changes nothing. */
static void test_mark_written(void **state)
{
    struct dep11_tag_state st;
    uint8_t b[DEP11_BINDING_LEN], d[DEP11_COMMIT_DIGEST_LEN], m1[DEP11_MARK_LEN],
        m2[DEP11_MARK_LEN], r[DEP11_MARK_LEN];
    int have = 0;

    (void)state;
    memset(b, 0xb1, sizeof b);
    memset(d, 0xd1, sizeof d);
    assert_int_equal(dep11_provider_state_bind(TAG, b, &st), CKR_OK);
    assert_int_equal(mark_creates, 1);
    mark_value(m1);
    assert_int_equal(dep11_provider_mark_read(r, &have), CKR_OK);
    assert_int_equal(have, 1);
    assert_memory_equal(r, m1, sizeof r);
    assert_int_equal(dep11_provider_state_get(TAG, &st), CKR_OK);
    assert_int_equal(dep11_provider_mark_read(r, &have), CKR_OK);
    assert_memory_equal(r, m1, sizeof r);
    assert_int_equal(dep11_provider_state_commit(TAG, 1, d), CKR_OK);
    assert_int_equal(mark_creates, 1);
    assert_int_equal(sets, 1);
    mark_value(m2);
    assert_memory_not_equal(m1, m2, sizeof m1);
    finds = 0;
    assert_int_equal(dep11_provider_mark_read(r, &have), CKR_OK);
    assert_int_equal(have, 1);
    assert_memory_equal(r, m2, sizeof r);
    assert_int_equal(finds, 0); /* by its remembered handle: no search */
    /* the same commit again writes nothing, so the mark stays */
    assert_int_equal(dep11_provider_state_commit(TAG, 1, d), CKR_OK);
    assert_int_equal(sets, 1);
}

/* No mark yet (a provider token from before marks): the read says so and
 * creates one, used from the next read on. */
static void test_mark_none(void **state)
{
    uint8_t r[DEP11_MARK_LEN], m[DEP11_MARK_LEN];
    int have = 1;

    (void)state;
    assert_int_equal(dep11_provider_mark_read(r, &have), CKR_OK);
    assert_int_equal(have, 0);
    assert_int_equal(mark_creates, 1);
    assert_int_equal(write_runs, 1);
    mark_value(m);
    assert_int_equal(dep11_provider_mark_read(r, &have), CKR_OK);
    assert_int_equal(have, 1);
    assert_memory_equal(r, m, sizeof r);
    /* a mark that cannot be made costs the memo, not the read */
    reset(NULL);
    create_rv = CKR_DEVICE_MEMORY;
    assert_int_equal(dep11_provider_mark_read(r, &have), CKR_OK);
    assert_int_equal(have, 0);
    assert_int_equal(count_marks(), 0);
    create_rv = CKR_OK;
    assert_int_equal(dep11_provider_mark_read(r, &have), CKR_OK); /* made now */
    assert_int_equal(count_marks(), 1);
    /* a failing backend is its answer, and no mark to use */
    dep11_provider_mark_reset();
    list.C_GetAttributeValue = NULL;
    assert_int_not_equal(dep11_provider_mark_read(r, &have), CKR_OK);
    assert_int_equal(have, 0);
    assert_int_equal(dep11_provider_mark_read(NULL, &have), CKR_ARGUMENTS_BAD);
}

/* A mark that cannot be set: the record just written is taken back and
 * the write fails whole (nobody relies on a record no mark announced). */
static void test_mark_fails(void **state)
{
    struct dep11_tag_state st;
    uint8_t b[DEP11_BINDING_LEN], d[DEP11_COMMIT_DIGEST_LEN], r[DEP11_MARK_LEN];
    int have = 0;

    (void)state;
    memset(b, 0xb1, sizeof b);
    memset(d, 0xd1, sizeof d);
    assert_int_equal(dep11_provider_mark_read(r, &have), CKR_OK); /* creates it */
    set_rv = CKR_DEVICE_ERROR;
    assert_int_equal(dep11_provider_state_commit(TAG, 3, d), CKR_DEVICE_ERROR);
    assert_int_equal(count_label(COMMIT), 0);
    assert_int_equal(dep11_provider_state_bind(TAG, b, &st), CKR_DEVICE_ERROR);
    assert_int_equal(count_label(BIND), 0);
    set_rv = CKR_OK;
    assert_int_equal(dep11_provider_state_get(TAG, &st), CKR_OK);
    assert_int_equal(st.bound, 0);
    assert_int_equal(st.number, 0);
}

/* Two marks (two processes created one each at once): no reader uses
 * either; the next writer sets both and keeps the one with the smaller
 * CKA_ID; a handle that no longer names a mark is searched again. */
static void test_mark_several(void **state)
{
    uint8_t d[DEP11_COMMIT_DIGEST_LEN], r[DEP11_MARK_LEN], m[DEP11_MARK_LEN];
    int have = 1;
    CK_OBJECT_HANDLE h = 0;
    CK_ATTRIBUTE t[] = { { CKA_APPLICATION, MARK, strlen(MARK) },
                         { CKA_LABEL, NULL, DEP11_MARK_LEN } };
    uint8_t big[DEP11_MARK_LEN], small[DEP11_MARK_LEN], v[8];

    (void)state;
    memset(d, 0xd1, sizeof d);
    memset(big, 'e', sizeof big);
    memset(small, '1', sizeof small);
    memset(v, 0x55, sizeof v);
    t[1].pValue = big;
    assert_int_equal(fake_create(1, t, 2, &h), CKR_OK);
    t[1].pValue = small;
    assert_int_equal(fake_create(1, t, 2, &h), CKR_OK);
    assert_int_equal(dep11_provider_mark_read(r, &have), CKR_OK);
    assert_int_equal(have, 0);
    assert_int_equal(mark_creates, 2); /* none made by the read */
    assert_int_equal(dep11_provider_state_commit(TAG, 1, d), CKR_OK);
    assert_int_equal(sets, 2);
    assert_int_equal(count_marks(), 1);
    mark_value(m);
    assert_memory_equal(m, small, 32); /* the kept one: its id stays */
    assert_memory_not_equal(m + 32, small + 32, DEP11_MARK_LEN - 32);
    assert_int_equal(dep11_provider_mark_read(r, &have), CKR_OK);
    assert_int_equal(have, 1);
    assert_memory_equal(r, m, sizeof r);
    /* the mark is destroyed and its handle reused by another object */
    assert_int_equal(fake_destroy(1, h), CKR_OK);
    while (!objs[h - 1].used) /* the double hands out the lowest free handle */
        put(APP, COMMIT, v, sizeof v);
    finds = 0;
    assert_int_equal(dep11_provider_mark_read(r, &have), CKR_OK);
    assert_int_equal(have, 0);
    assert_int_equal(finds, 2); /* searched again, found none, made one (its own search) */
    assert_int_equal(count_marks(), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_empty, reset),
        cmocka_unit_test_setup(test_bind, reset),
        cmocka_unit_test_setup(test_commit, reset),
        cmocka_unit_test_setup(test_commit_race, reset),
        cmocka_unit_test_setup(test_foreign_records, reset),
        cmocka_unit_test_setup(test_token_ident, reset),
        cmocka_unit_test_setup(test_token_ident_collision, reset),
        cmocka_unit_test_setup(test_mark_written, reset),
        cmocka_unit_test_setup(test_mark_none, reset),
        cmocka_unit_test_setup(test_mark_fails, reset),
        cmocka_unit_test_setup(test_mark_several, reset),
    };

    return cmocka_run_group_tests_name("provider_state", tests, NULL, NULL);
}
