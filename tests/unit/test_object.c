/*
 * test_object.c - core's tables without a real HSM: the session table and
 * login tracking (session.c), the handle space with aliases for backend
 * handles in the module's range (object.c), the allow-list of handed-out
 * backend handles (allow.c), registered roots kept the customer's, merged
 * searches (find.c), the refusals of forward.c, and the hash map beneath
 * them (ulmap.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <pthread.h>

#include "core/allow.h"
#include "core/handle.h"
#include "core/internal.h"
#include "core/ops.h"
#include "core/hmap.h"
#include "core/ulmap.h"
#include "fake_core_deps.h"
#include "util/lock.h"

/* Sessions the fixture opened: a and b on slot 1, c on slot 2. */
struct fixture {
    CK_SESSION_HANDLE a, b, c;
};

static CK_SESSION_HANDLE open_on(CK_SLOT_ID slot, CK_SESSION_HANDLE backend)
{
    CK_SESSION_HANDLE h = 0;
    will_return(fake_OpenSession, backend);
    assert_int_equal(dep11_core_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_OK);
    assert_int_equal(h, backend);
    return h;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    f->a = open_on(1, 0x101);
    f->b = open_on(1, 0x102);
    f->c = open_on(2, 0x201);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    dep11_objects_fini();
    dep11_sessions_fini();
    free(*state);
    return 0;
}

/* A module-side key of @role created by session @h; returns its handle. */
static CK_OBJECT_HANDLE add_key(CK_SESSION_HANDLE h, CK_ULONG role)
{
    struct dep11_session *s = NULL;
    struct dep11_key *k = calloc(1, sizeof *k);
    CK_OBJECT_HANDLE out = CK_INVALID_HANDLE;

    assert_non_null(k);
    k->role = role;
    assert_int_equal(dep11_session_acquire(h, &s), CKR_OK);
    assert_int_equal(dep11_object_add(s, k, &out), CKR_OK);
    dep11_session_release(s);
    assert_true(dep11_handle_in_range(out));
    return out;
}

/* Hands backend handle @b to the consumer on session @h (as a forwarded
 * create or find would); returns the consumer's handle. */
static CK_OBJECT_HANDLE hand_out(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE b)
{
    struct dep11_session *s = NULL;
    CK_OBJECT_HANDLE out = CK_INVALID_HANDLE;

    assert_int_equal(dep11_session_acquire(h, &s), CKR_OK);
    assert_int_equal(dep11_object_from_backend(s, b, 0, &out), CKR_OK);
    dep11_session_release(s);
    return out;
}

/* Resolves @o on session @h: 1 = module key, 0 = backend (in *@b), -1 = invalid. */
static int resolve(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_OBJECT_HANDLE *b)
{
    struct dep11_session *s = NULL;
    struct dep11_object *obj = NULL;
    CK_OBJECT_HANDLE dummy = 0;
    CK_RV rv;
    int kind = -1;

    assert_int_equal(dep11_session_acquire(h, &s), CKR_OK);
    rv = dep11_object_resolve(s, o, &obj, b != NULL ? b : &dummy);
    if (rv == CKR_OK)
        kind = obj != NULL;
    else
        assert_int_equal(rv, CKR_OBJECT_HANDLE_INVALID);
    dep11_object_release(obj);
    dep11_session_release(s);
    return kind;
}

static void alias_roundtrip(void **state)
{
    struct fixture *f = *state;
    CK_OBJECT_HANDLE in1 = DEP11_HANDLE_BASE + 3, in2 = DEP11_HANDLE_BASE + 4;
    CK_OBJECT_HANDLE a1 = 0, a2 = 0, plain = 0, b = 0, key;
    struct dep11_session *s = NULL;

    plain = hand_out(f->a, 5);
    assert_int_equal(plain, 5);
    a1 = hand_out(f->a, in1);
    assert_true(dep11_handle_in_range(a1));
    assert_int_not_equal(a1, in1);
    assert_int_equal(hand_out(f->b, in1), a1);
    a2 = hand_out(f->c, in2);
    assert_int_not_equal(a2, a1);
    /* back: the alias names the backend's object, on the slot it was
     * handed out for */
    assert_int_equal(resolve(f->a, a1, &b), 0);
    assert_int_equal(b, in1);
    assert_int_equal(resolve(f->c, a2, &b), 0);
    assert_int_equal(b, in2);
    assert_int_equal(resolve(f->a, 5, &b), 0);
    assert_int_equal(b, 5);
    assert_int_equal(resolve(f->c, a1, NULL), -1);
    assert_int_equal(resolve(f->a, a2, NULL), -1);
    /* module keys and aliases never share a handle */
    key = add_key(f->a, DEP11_ROLE_MAILBOX);
    assert_int_not_equal(key, a1);
    assert_int_not_equal(key, a2);
    assert_int_equal(dep11_session_acquire(f->a, &s), CKR_OK);
    assert_int_equal(dep11_object_from_backend(s, 5, 0, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_object_from_backend(NULL, 5, 0, &b), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_object_from_backend(s, CK_INVALID_HANDLE, 0, &b), CKR_GENERAL_ERROR);
    dep11_session_release(s);
}

static void object_visibility(void **state)
{
    struct fixture *f = *state;
    CK_OBJECT_HANDLE key = add_key(f->a, DEP11_ROLE_POLICY), b = 0;

    assert_int_equal(resolve(f->a, key, NULL), 1);
    assert_int_equal(resolve(f->b, key, NULL), 1);   /* same slot */
    assert_int_equal(resolve(f->c, key, NULL), -1);  /* another token */
    assert_int_equal(resolve(f->a, CK_INVALID_HANDLE, NULL), -1);
    assert_int_equal(resolve(f->a, FAKE_PROVIDER_OBJECT, NULL), -1);
    assert_int_equal(resolve(f->a, DEP11_HANDLE_BASE + 0xABCDE, NULL), -1);
    /* a backend handle never handed out: refused, object or not */
    assert_int_equal(resolve(f->a, 5, NULL), -1);
    b = hand_out(f->a, 5);
    assert_int_equal(resolve(f->a, b, NULL), 0);
    assert_int_equal(resolve(f->b, b, NULL), 0);     /* the application's */
    assert_int_equal(resolve(f->c, b, NULL), -1);    /* not on another token */
}

/* The lists: per slot, removal keeps the other slots' entries, C_Finalize
 * (dep11_objects_fini) empties them. */
static void allow_list_rules(void **state)
{
    struct fixture *f = *state;
    CK_OBJECT_HANDLE gone = 0x4001;

    (void)f;
    assert_int_equal(dep11_allow_count(), 0);
    assert_int_equal(dep11_allow_add(1, CK_INVALID_HANDLE, 0), CKR_ARGUMENTS_BAD);
    for (CK_ULONG h = 1; h <= 1000; h++)
        assert_int_equal(dep11_allow_add(1 + h % 3, h, 0), CKR_OK);
    assert_int_equal(dep11_allow_add(2, 7, 0), CKR_OK);      /* 7 was on slot 2 */
    assert_int_equal(dep11_allow_add(1, 7, 0), CKR_OK);
    assert_int_equal(dep11_allow_add(3, 7, 0), CKR_OK);
    assert_int_equal(dep11_allow_count(), 1002);
    for (CK_ULONG h = 1; h <= 1000; h++) {
        assert_true(dep11_allow_has(1 + h % 3, h));
        assert_false(dep11_allow_has(1 + (h + 1) % 3, h) && h != 7);
    }
    /* the head of 7's list goes, then the middle, then the last */
    dep11_allow_del(3, 7);
    assert_false(dep11_allow_has(3, 7));
    assert_true(dep11_allow_has(1, 7) && dep11_allow_has(2, 7));
    dep11_allow_del(2, 7);
    assert_true(dep11_allow_has(1, 7));
    assert_false(dep11_allow_has(2, 7));
    dep11_allow_del(1, 7);
    assert_false(dep11_allow_has(1, 7));
    dep11_allow_del(1, gone); /* absent: no-op */
    assert_int_equal(dep11_allow_count(), 999);
    /* Session objects of creator 9 (5000: many a shard, several passes)
     * leave with it; a number a search found again keeps its creator; a
     * new object under a listed number takes the new one. */
    for (CK_ULONG h = 2001; h <= 7000; h++)
        assert_int_equal(dep11_allow_add(1, h, 9), CKR_OK);
    assert_int_equal(dep11_allow_add(2, 2001, 0), CKR_OK);   /* slot 2: another object */
    assert_int_equal(dep11_allow_add(1, 2002, 0), CKR_OK);   /* found: still 9's */
    assert_int_equal(dep11_allow_add(1, 3, 9), CKR_OK);      /* 3 was found before */
    assert_int_equal(dep11_allow_add(1, 2003, 8), CKR_OK);   /* 8's now */
    assert_int_equal(dep11_allow_count(), 999 + 5000 + 1);
    dep11_allow_drop_creator(0);                              /* no-op */
    dep11_allow_drop_creator(9);
    assert_int_equal(dep11_allow_count(), 999 + 2 - 1);
    assert_false(dep11_allow_has(1, 2001) || dep11_allow_has(1, 2002) || dep11_allow_has(1, 3));
    assert_true(dep11_allow_has(2, 2001) && dep11_allow_has(1, 2003) && dep11_allow_has(1, 6));
    assert_int_equal(dep11_allow_add(1, 2002, 0), CKR_OK);   /* found again */
    assert_true(dep11_allow_has(1, 2002));
    dep11_objects_fini();
    assert_int_equal(dep11_allow_count(), 0);
    assert_false(dep11_allow_has(2, 1));
}

/* A session object a session made leaves the list when that session
 * closes; a token object and what a search found stay. */
static void session_objects_leave_with_session(void **state)
{
    struct fixture *f = *state;
    struct dep11_session *s = NULL;
    CK_OBJECT_HANDLE out = 0;

    assert_int_equal(dep11_session_acquire(f->a, &s), CKR_OK);
    assert_int_equal(dep11_object_from_backend(s, 0x501, 1, &out), CKR_OK);
    assert_int_equal(dep11_object_from_backend(s, 0x502, 0, &out), CKR_OK);
    dep11_session_release(s);
    assert_int_equal(resolve(f->b, 0x501, NULL), 0);  /* visible to the slot */
    assert_int_equal(dep11_core_CloseSession(f->a), CKR_OK);
    assert_int_equal(resolve(f->b, 0x501, NULL), -1);
    assert_int_equal(resolve(f->b, 0x502, NULL), 0);
}

static void objects_die_with_session_and_logout(void **state)
{
    struct fixture *f = *state;
    CK_OBJECT_HANDLE ka = add_key(f->a, DEP11_ROLE_MAILBOX);
    CK_OBJECT_HANDLE kb = add_key(f->b, DEP11_ROLE_SITE);
    CK_OBJECT_HANDLE kc = add_key(f->c, DEP11_ROLE_SITE);

    assert_int_equal(dep11_core_CloseSession(f->a), CKR_OK);
    assert_int_equal(resolve(f->b, ka, NULL), -1);
    assert_int_equal(resolve(f->b, kb, NULL), 1);
    /* C_Logout ends every module object of the slot, not others */
    assert_int_equal(dep11_core_Login(f->b, CKU_USER, (CK_UTF8CHAR_PTR)"1234", 4), CKR_OK);
    expect_value(fake_Logout, h, f->b);
    assert_int_equal(dep11_core_Logout(f->b), CKR_OK);
    assert_int_equal(resolve(f->b, kb, NULL), -1);
    assert_int_equal(resolve(f->c, kc, NULL), 1);
}

/* A close visits its own session's keys only (the creator list), however
 * many keys other sessions hold: counted through dep11_objects_visits, so
 * an O(all keys) walk fails here without any timing. Keys destroyed one by
 * one (head, middle, tail of a list) leave the lists consistent. */
static void close_visits_only_own_keys(void **state)
{
    struct fixture *f = *state;
    enum { MANY = 2000, ROUNDS = 50 };
    CK_OBJECT_HANDLE *ka = calloc(MANY, sizeof *ka), kb[3];
    unsigned long v0 = 0;

    assert_non_null(ka);
    for (int i = 0; i < MANY; i++)
        ka[i] = add_key(f->a, DEP11_ROLE_MAILBOX);
    for (int i = 0; i < 3; i++)
        kb[i] = add_key(f->b, DEP11_ROLE_SITE);
    v0 = dep11_objects_visits();
    for (int r = 0; r < ROUNDS; r++) {
        CK_SESSION_HANDLE d = open_on(1, 0x110 + (CK_SESSION_HANDLE)r);
        (void)add_key(d, DEP11_ROLE_WORKLOAD);
        (void)add_key(d, DEP11_ROLE_WORKLOAD);
        assert_int_equal(dep11_core_CloseSession(d), CKR_OK);
    }
    assert_int_equal(dep11_objects_visits() - v0, 2 * ROUNDS);
    /* the newest (list head), the oldest (tail) and one between */
    assert_int_equal(dep11_core_DestroyObject(f->a, ka[MANY - 1]), CKR_OK);
    assert_int_equal(dep11_core_DestroyObject(f->a, ka[0]), CKR_OK);
    assert_int_equal(dep11_core_DestroyObject(f->a, ka[MANY / 2]), CKR_OK);
    assert_int_equal(dep11_core_DestroyObject(f->b, kb[1]), CKR_OK);
    v0 = dep11_objects_visits();
    assert_int_equal(dep11_core_CloseSession(f->b), CKR_OK);
    assert_int_equal(dep11_objects_visits() - v0, 2);
    assert_int_equal(resolve(f->a, kb[0], NULL), -1);
    assert_int_equal(resolve(f->a, kb[2], NULL), -1);
    assert_int_equal(resolve(f->a, ka[1], NULL), 1);
    assert_int_equal(resolve(f->a, ka[MANY / 2], NULL), -1);
    /* a's own close takes the rest of its list, all of it */
    f->b = open_on(1, 0x102);
    v0 = dep11_objects_visits();
    assert_int_equal(dep11_core_CloseSession(f->a), CKR_OK);
    assert_int_equal(dep11_objects_visits() - v0, MANY - 3);
    for (int i = 0; i < MANY; i++)
        assert_int_equal(resolve(f->b, ka[i], NULL), -1);
    free(ka);
}

static void login_tracking(void **state)
{
    struct fixture *f = *state;
    struct dep11_session *s = NULL;
    CK_OBJECT_HANDLE k;

    assert_int_equal(dep11_session_acquire(f->a, &s), CKR_OK);
    assert_int_equal(dep11_session_require_user(s), CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(dep11_core_Login(f->b, CKU_SO, (CK_UTF8CHAR_PTR)"so", 2), CKR_OK);
    assert_int_equal(dep11_session_require_user(s), CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(dep11_core_Login(f->b, CKU_USER, (CK_UTF8CHAR_PTR)"1234", 4), CKR_OK);
    assert_int_equal(dep11_session_require_user(s), CKR_OK); /* login is per slot */
    dep11_session_release(s);
    k = add_key(f->a, DEP11_ROLE_WORKLOAD);
    /* closing the last session of slot 1 logs it out and ends its objects */
    assert_int_equal(dep11_core_CloseSession(f->a), CKR_OK);
    /* not the last one (no control lock): the slot stays logged in, a's
     * keys are gone */
    assert_int_equal(resolve(f->b, k, NULL), -1);
    assert_int_equal(dep11_session_acquire(f->b, &s), CKR_OK);
    assert_int_equal(dep11_session_require_user(s), CKR_OK);
    dep11_session_release(s);
    assert_int_equal(dep11_core_CloseSession(f->a), CKR_SESSION_HANDLE_INVALID);
    expect_value(fake_Logout, h, f->b);
    assert_int_equal(dep11_core_CloseSession(f->b), CKR_OK);
    f->a = open_on(1, 0x103);
    assert_int_equal(resolve(f->a, k, NULL), -1);
    assert_int_equal(dep11_session_acquire(f->a, &s), CKR_OK);
    assert_int_equal(dep11_session_require_user(s), CKR_USER_NOT_LOGGED_IN);
    dep11_session_release(s);
}

static void session_table(void **state)
{
    struct fixture *f = *state;
    struct dep11_session *s = NULL;
    CK_SESSION_HANDLE h = 0;

    assert_int_equal(dep11_session_acquire(0x5000, &s), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(dep11_session_acquire(0x999, &s), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(dep11_core_OpenSession(FAKE_PROVIDER_SLOT, CKF_SERIAL_SESSION, NULL, NULL, &h),
                     CKR_SLOT_ID_INVALID);
    assert_int_equal(dep11_core_OpenSession(1, CKF_SERIAL_SESSION, NULL, NULL, NULL),
                     CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_session_acquire(f->c, &s), CKR_OK);
    assert_int_equal(dep11_session_slot(s), 2);
    assert_int_equal(dep11_session_backend(s), f->c);
    /* closed while referenced: the handle is gone, the memory stays valid */
    assert_int_equal(dep11_core_CloseSession(f->c), CKR_OK);
    assert_int_equal(dep11_core_CloseSession(f->c), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(dep11_session_slot(s), 2);
    *dep11_session_aead_slot(s, 1) = malloc(8); /* freed with the last reference */
    dep11_session_release(s);
    assert_int_equal(dep11_session_acquire(f->c, &s), CKR_SESSION_HANDLE_INVALID);
}

static void close_all_of_one_slot(void **state)
{
    struct fixture *f = *state;
    struct dep11_session *s = NULL;

    assert_int_equal(dep11_core_CloseAllSessions(FAKE_PROVIDER_SLOT), CKR_SLOT_ID_INVALID);
    assert_int_equal(dep11_core_CloseAllSessions(42), CKR_SLOT_ID_INVALID);
    assert_int_equal(dep11_core_CloseAllSessions(1), CKR_OK);
    assert_int_equal(dep11_session_acquire(f->a, &s), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(dep11_session_acquire(f->b, &s), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(dep11_session_acquire(f->c, &s), CKR_OK);
    dep11_session_release(s);
}

static void find_merges_both_spaces(void **state)
{
    struct fixture *f = *state;
    CK_OBJECT_HANDLE key = add_key(f->a, DEP11_ROLE_MAILBOX), other_slot, alias = 0;
    CK_OBJECT_HANDLE out[10], one[1];
    CK_ULONG n = 99, role = DEP11_ROLE_MAILBOX;
    CK_ATTRIBUTE by_role = { CKA_DEP11_ROLE, &role, sizeof role };

    other_slot = add_key(f->c, DEP11_ROLE_MAILBOX);
    assert_int_equal(dep11_core_FindObjects(f->a, out, 10, &n), CKR_OPERATION_NOT_INITIALIZED);
    will_return(fake_FindObjectsInit, CKR_OK);
    assert_int_equal(dep11_core_FindObjectsInit(f->a, NULL, 0), CKR_OK);
    assert_int_equal(dep11_core_FindObjectsInit(f->a, NULL, 0), CKR_OPERATION_ACTIVE);
    will_return(fake_FindObjects, 5);
    will_return(fake_FindObjects, DEP11_HANDLE_BASE + 3);
    will_return(fake_FindObjects, 0);
    assert_false(dep11_allow_has(1, 5));
    assert_int_equal(dep11_core_FindObjects(f->a, out, 10, &n), CKR_OK);
    /* what a search found is handed out: listed for slot 1 only */
    assert_true(dep11_allow_has(1, 5));
    assert_true(dep11_allow_has(1, DEP11_HANDLE_BASE + 3));
    assert_false(dep11_allow_has(2, 5));
    alias = hand_out(f->a, DEP11_HANDLE_BASE + 3);
    assert_int_equal(n, 3);
    assert_int_equal(out[0], 5);
    assert_int_equal(out[1], alias);
    assert_int_equal(out[2], key);
    assert_int_not_equal(out[2], other_slot);
    assert_int_equal(dep11_core_FindObjects(f->a, out, 10, &n), CKR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(dep11_core_FindObjectsFinal(f->a), CKR_OK);
    assert_int_equal(dep11_core_FindObjectsFinal(f->a), CKR_OPERATION_NOT_INITIALIZED);
    /* a dep11 attribute searches module keys only (no backend call queued),
     * one handle per call */
    assert_int_equal(dep11_core_FindObjectsInit(f->a, &by_role, 1), CKR_OK);
    assert_int_equal(dep11_core_FindObjects(f->a, one, 1, &n), CKR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(one[0], key);
    assert_int_equal(dep11_core_FindObjects(f->a, one, 1, &n), CKR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(dep11_core_FindObjectsFinal(f->a), CKR_OK);
}

static void object_calls_on_module_keys(void **state)
{
    struct fixture *f = *state;
    CK_OBJECT_HANDLE key = add_key(f->a, DEP11_ROLE_SITE), copy = 0;
    CK_ULONG cls = 0, size = 0, role = DEP11_ROLE_SITE;
    uint8_t value[32];
    CK_ATTRIBUTE get[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_VALUE, value, sizeof value } };
    CK_ATTRIBUTE label = { CKA_LABEL, "site", 4 };
    CK_ATTRIBUTE vendor = { CKA_DEP11_ROLE, &role, sizeof role };

    assert_int_equal(dep11_core_GetAttributeValue(f->b, key, get, 2), CKR_ATTRIBUTE_SENSITIVE);
    assert_int_equal(cls, CKO_SECRET_KEY);
    assert_int_equal(get[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(dep11_core_CopyObject(f->a, key, NULL, 0, &copy), CKR_ACTION_PROHIBITED);
    assert_int_equal(dep11_core_GetObjectSize(f->a, key, &size), CKR_INFORMATION_SENSITIVE);
    assert_int_equal(dep11_core_SetAttributeValue(f->a, key, &label, 1), CKR_OK);
    assert_int_equal(dep11_core_CreateObject(f->a, &vendor, 1, &copy), CKR_TEMPLATE_INCONSISTENT);
    assert_int_equal(dep11_core_DestroyObject(f->c, key), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(dep11_core_DestroyObject(f->b, key), CKR_OK);
    assert_int_equal(dep11_core_GetAttributeValue(f->a, key, get, 1), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(dep11_core_DestroyObject(f->a, FAKE_PROVIDER_OBJECT), CKR_OBJECT_HANDLE_INVALID);
    /* never handed out: no backend call (none is queued) */
    assert_int_equal(dep11_core_DestroyObject(f->a, 5), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(hand_out(f->a, 5), 5);
    will_return(fake_DestroyObject, CKR_OK);
    assert_int_equal(dep11_core_DestroyObject(f->a, 5), CKR_OK);
    /* destroyed: off the list, the same answer as a handle never seen */
    assert_int_equal(dep11_core_DestroyObject(f->a, 5), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(dep11_core_GetAttributeValue(f->a, 5, get, 1), CKR_OBJECT_HANDLE_INVALID);
}

/* A registered root's objects: no destroy, modify or copy outside an SO
 * session (CKR_ACTION_PROHIBITED, no backend call); other RSA keys and
 * the SO go through. */
static void roots_are_the_customers(void **state)
{
    struct fixture *f = *state;
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE off = { CKA_DECRYPT, &no, sizeof no };
    CK_OBJECT_HANDLE copy = 0;

    hand_out(f->a, FAKE_ROOT);
    hand_out(f->a, FAKE_RSA_KEY);
    assert_int_equal(dep11_core_DestroyObject(f->a, FAKE_ROOT), CKR_ACTION_PROHIBITED);
    assert_int_equal(dep11_core_SetAttributeValue(f->a, FAKE_ROOT, &off, 1),
                     CKR_ACTION_PROHIBITED);
    assert_int_equal(dep11_core_CopyObject(f->a, FAKE_ROOT, NULL, 0, &copy),
                     CKR_ACTION_PROHIBITED);
    assert_int_equal(copy, 0);
    will_return(fake_SetAttributeValue, CKR_OK);
    assert_int_equal(dep11_core_SetAttributeValue(f->a, FAKE_RSA_KEY, &off, 1), CKR_OK);
    will_return(fake_CopyObject, 0x79);
    assert_int_equal(dep11_core_CopyObject(f->a, FAKE_RSA_KEY, NULL, 0, &copy), CKR_OK);
    assert_true(dep11_allow_has(1, 0x79));
    will_return(fake_DestroyObject, CKR_OK);
    assert_int_equal(dep11_core_DestroyObject(f->a, FAKE_RSA_KEY), CKR_OK);
    /* the key officer unregisters */
    fake_session_state = CKS_RW_SO_FUNCTIONS;
    will_return(fake_SetAttributeValue, CKR_OK);
    assert_int_equal(dep11_core_SetAttributeValue(f->a, FAKE_ROOT, &off, 1), CKR_OK);
    will_return(fake_DestroyObject, CKR_OK);
    assert_int_equal(dep11_core_DestroyObject(f->a, FAKE_ROOT), CKR_OK);
    fake_session_state = CKS_RW_USER_FUNCTIONS;
}

static void forward_refusals(void **state)
{
    struct fixture *f = *state;
    CK_OBJECT_HANDLE key = add_key(f->a, DEP11_ROLE_MAILBOX);
    CK_MECHANISM m = { CKM_RSA_PKCS, NULL, 0 };

    /* not handed out yet: the same code as a handle with nothing behind it */
    assert_int_equal(dep11_core_SignInit(f->a, &m, FAKE_RSA_KEY), CKR_KEY_HANDLE_INVALID);
    assert_int_equal(dep11_core_SignInit(f->a, &m, 0x123456), CKR_KEY_HANDLE_INVALID);
    hand_out(f->a, FAKE_ROOT);
    hand_out(f->a, FAKE_RSA_KEY);
    assert_int_equal(dep11_core_SignInit(f->c, &m, FAKE_RSA_KEY), CKR_KEY_HANDLE_INVALID);
    assert_int_equal(dep11_core_SignInit(f->a, &m, key), CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(dep11_core_VerifyInit(f->a, &m, key), CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(dep11_core_DigestKey(f->a, key), CKR_KEY_INDIGESTIBLE);
    assert_int_equal(dep11_core_SignInit(f->a, &m, FAKE_ROOT), CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(dep11_core_SignRecoverInit(f->a, &m, FAKE_ROOT),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(dep11_core_SignInit(f->a, &m, FAKE_PROVIDER_OBJECT), CKR_KEY_HANDLE_INVALID);
    assert_int_equal(dep11_core_SignInit(0x4242, &m, FAKE_RSA_KEY), CKR_SESSION_HANDLE_INVALID);
    expect_value(fake_SignInit, k, FAKE_RSA_KEY);
    assert_int_equal(dep11_core_SignInit(f->a, &m, FAKE_RSA_KEY), CKR_OK);
}

/* The hash map against a plain array, through growth and backward shifts. */
static void ulmap_matches_reference(void **state)
{
    enum { N = 4096 };
    struct dep11_ulmap m = { 0 };
    uintptr_t *ref = calloc(N, sizeof *ref); /* ref[k]: the value, 0 = absent */
    unsigned seed = 12345;
    size_t n = 0;
    (void)state;

    assert_non_null(ref);
    for (int i = 0; i < 200000; i++) {
        CK_ULONG k;
        seed = seed * 1103515245u + 12345u;
        k = 1 + (seed >> 8) % (N - 1);
        if (((seed >> 3) & 3) == 0) {
            /* add: only when absent, and a present key keeps its value */
            CK_RV want = ref[k] != 0 ? CKR_GENERAL_ERROR : CKR_OK;
            assert_int_equal(dep11_ulmap_add(&m, k, (void *)(uintptr_t)(i + 1)), want);
            if (want == CKR_OK)
                ref[k] = (uintptr_t)(i + 1);
        } else if ((seed >> 4) & 1) {
            assert_int_equal(dep11_ulmap_put(&m, k, (void *)(uintptr_t)(i + 1)), CKR_OK);
            ref[k] = (uintptr_t)(i + 1);
        } else {
            assert_true((uintptr_t)dep11_ulmap_del(&m, k) == ref[k]);
            ref[k] = 0;
        }
    }
    for (CK_ULONG k = 1; k < N; k++) {
        assert_true((uintptr_t)dep11_ulmap_get(&m, k) == ref[k]);
        if (ref[k] != 0)
            n++;
    }
    assert_int_equal(m.count, n);
    dep11_ulmap_free(&m);
    free(ref);
}

/* The handle table against a plain array over several pages: get, the walk
 * in handle order, the count, out-of-range handles, and pages freed when
 * their last handle goes. */
static void hmap_matches_reference(void **state)
{
    enum { N = 3 * DEP11_HMAP_PAGE + 77 };
    struct dep11_hmap m = { 0 };
    uintptr_t *ref = calloc(N, sizeof *ref); /* ref[off]: the value, 0 = absent */
    unsigned seed = 4711;
    size_t live = 0, pos = 0, seen = 0;
    void *v = NULL;
    (void)state;

    assert_non_null(ref);
    assert_int_equal(dep11_hmap_put(&m, 0x42, ref), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_hmap_put(&m, DEP11_HANDLE_BASE + DEP11_HANDLE_SPAN, ref),
                     CKR_ARGUMENTS_BAD);
    for (int i = 0; i < 100000; i++) {
        CK_ULONG off;
        seed = seed * 1103515245u + 12345u;
        off = (seed >> 8) % N;
        if ((seed >> 4) & 1) {
            assert_int_equal(
                dep11_hmap_put(&m, DEP11_HANDLE_BASE + off, (void *)(uintptr_t)(i + 1)),
                CKR_OK);
            ref[off] = (uintptr_t)(i + 1);
        } else {
            assert_true((uintptr_t)dep11_hmap_del(&m, DEP11_HANDLE_BASE + off) == ref[off]);
            ref[off] = 0;
        }
    }
    for (CK_ULONG off = 0; off < N; off++) {
        assert_true((uintptr_t)dep11_hmap_get(&m, DEP11_HANDLE_BASE + off) == ref[off]);
        live += ref[off] != 0;
    }
    assert_int_equal(m.count, live);
    for (pos = 0; (v = dep11_hmap_next(&m, &pos)) != NULL; pos++, seen++)
        assert_true((uintptr_t)v == ref[pos]);
    assert_int_equal(seen, live);
    assert_null(dep11_hmap_get(&m, 0x42));
    for (CK_ULONG off = 0; off < N; off++)
        (void)dep11_hmap_del(&m, DEP11_HANDLE_BASE + off);
    assert_int_equal(m.count, 0);
    for (size_t t = 0; t < DEP11_HMAP_TOP; t++)
        assert_null(m.top[t]);
    dep11_hmap_free(&m);
    free(ref);
}

/* The session table's spin lock excludes: threads that add to a plain
 * counter under it lose no increment (and TSan sees no race). */
enum { SPIN_THREADS = 4, SPIN_ROUNDS = 100000 };
static dep11_spin_t spin = DEP11_SPIN_INIT;
static unsigned long spin_count;

static void *spin_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        dep11_spin_lock(&spin);
        spin_count = spin_count + 1;
        dep11_spin_unlock(&spin);
    }
    return NULL;
}

static void spin_lock_excludes(void **state)
{
    pthread_t t[SPIN_THREADS];
    (void)state;

    for (int i = 0; i < SPIN_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, spin_worker, NULL), 0);
    for (int i = 0; i < SPIN_THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(spin_count, (unsigned long)SPIN_THREADS * SPIN_ROUNDS);
    assert_int_equal(__atomic_load_n(&spin.held, __ATOMIC_ACQUIRE), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(alias_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(object_visibility, setup, teardown),
        cmocka_unit_test_setup_teardown(allow_list_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(session_objects_leave_with_session, setup, teardown),
        cmocka_unit_test_setup_teardown(roots_are_the_customers, setup, teardown),
        cmocka_unit_test_setup_teardown(objects_die_with_session_and_logout, setup, teardown),
        cmocka_unit_test_setup_teardown(close_visits_only_own_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(login_tracking, setup, teardown),
        cmocka_unit_test_setup_teardown(session_table, setup, teardown),
        cmocka_unit_test_setup_teardown(close_all_of_one_slot, setup, teardown),
        cmocka_unit_test_setup_teardown(find_merges_both_spaces, setup, teardown),
        cmocka_unit_test_setup_teardown(object_calls_on_module_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(forward_refusals, setup, teardown),
        cmocka_unit_test(ulmap_matches_reference),
        cmocka_unit_test(hmap_matches_reference),
        cmocka_unit_test(spin_lock_excludes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
