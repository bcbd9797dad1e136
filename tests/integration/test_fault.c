/*
 * test_fault.c - integration tests through the fault-injecting shim
 * (tests/faultshim/faultmod.c) that sits between dep11 and SoftHSM:
 *   test_fault handles    DEP11_FAULT_HANDLE_OFFSET=1: every backend handle
 *                         falls into dep11's reserved range; dep11 must
 *                         translate them and keep them apart from its own
 *   test_fault transient  $DEP11_FAULT_FILE makes C_Decrypt on contoso fail
 *                         with CKR_DEVICE_ERROR: both customer copies are
 *                         transient, the availability key serves a USER
 *                         request; once cleared, a customer key serves again
 *   test_fault timeout    profile call-timeout-ms = $ITEST_TIMEOUT_MS (300): the
 *                         shim stalls chosen C_Decrypt calls; a root that does
 *                         not answer in time counts as transient (the other
 *                         root, or the availability key, serves; audited),
 *                         and C_Finalize waits for the abandoned calls
 *   test_fault hedged     profile hedged-unwrap = yes: both roots are asked
 *                         at once and the first to unwrap wins, so one stalled
 *                         root costs nothing; every availability row still holds
 * The wrapper points DEP11_CONF at a profile whose module is the shim.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "itest.h"
#include "core/handle.h"

#define F (fx->t->f)

static CK_OBJECT_HANDLE gen(struct itest_fx *fx, CK_ULONG role, CK_ULONG ptype)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    assert_int_equal(itest_keygen(fx->t, fx->s, role, ptype, &h), CKR_OK);
    return h;
}

static void assert_label(struct itest_fx *fx, CK_OBJECT_HANDLE h, const char *want)
{
    char label[128];
    CK_ATTRIBUTE at = { CKA_LABEL, label, sizeof label };

    assert_int_equal(F->C_GetAttributeValue(fx->s, h, &at, 1), CKR_OK);
    assert_int_equal(at.ulValueLen, strlen(want));
    assert_memory_equal(label, want, at.ulValueLen);
}

static void test_handles_translated(void **state)
{
    struct itest_fx *fx = *state;
    CK_MECHANISM aesgen = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_BYTE iv[16] = { 0 }, pt[32], ct[64], back[64];
    CK_MECHANISM cbc = { CKM_AES_CBC_PAD, iv, sizeof iv };
    CK_ULONG vlen = 32, len = 0, n = 0, role = 0;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = { { CKA_VALUE_LEN, &vlen, sizeof vlen },
                            { CKA_ENCRYPT, &yes, sizeof yes },
                            { CKA_DECRYPT, &yes, sizeof yes },
                            { CKA_LABEL, (void *)"backend-aes", 11 } };
    CK_ATTRIBUTE by_label = { CKA_LABEL, (void *)"backend-aes", 11 };
    CK_OBJECT_HANDLE be = CK_INVALID_HANDLE, found = CK_INVALID_HANDLE, h[8];
    CK_OBJECT_HANDLE pol = CK_INVALID_HANDLE, mb = CK_INVALID_HANDLE, un = CK_INVALID_HANDLE;
    struct itest_blob b = { 0 }, cb = { 0 }, c = { 0 }, p = { 0 };
    static const CK_BYTE owner[16] = "translated-owner";

    /* Backend objects (roots found by label, a fresh AES key) and module ones. */
    assert_int_equal(F->C_GenerateKey(fx->s, &aesgen, tmpl, 4, &be), CKR_OK);
    pol = gen(fx, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX);
    mb = gen(fx, DEP11_ROLE_MAILBOX, 0);
    h[0] = fx->r1;
    h[1] = fx->r2;
    h[2] = be;
    h[3] = pol;
    h[4] = mb;
    for (int i = 0; i < 5; i++) {
        assert_true(h[i] != CK_INVALID_HANDLE);
        /* Backend handles arrive in the reserved range and get aliases
         * from it; module handles come from it. */
        assert_true(dep11_handle_in_range(h[i]));
        for (int j = i + 1; j < 5; j++)
            assert_true(h[i] != h[j]);
    }
    /* Each handle names its own object. */
    assert_label(fx, fx->r1, "root1");
    assert_label(fx, fx->r2, "root2");
    assert_label(fx, be, "backend-aes");
    assert_int_equal(itest_get_ulong(fx->t, fx->s, be, CKA_DEP11_ROLE, &role),
                     CKR_ATTRIBUTE_TYPE_INVALID);
    assert_int_equal(itest_get_ulong(fx->t, fx->s, pol, CKA_DEP11_ROLE, &role), CKR_OK);
    assert_int_equal(role, DEP11_ROLE_POLICY);
    assert_int_equal(itest_get_ulong(fx->t, fx->s, mb, CKA_DEP11_ROLE, &role), CKR_OK);
    assert_int_equal(role, DEP11_ROLE_MAILBOX);
    /* C_FindObjects gives back the handle C_GenerateKey gave. */
    assert_int_equal(F->C_FindObjectsInit(fx->s, &by_label, 1), CKR_OK);
    assert_int_equal(F->C_FindObjects(fx->s, &found, 1, &n), CKR_OK);
    assert_int_equal(F->C_FindObjectsFinal(fx->s), CKR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(found, be);
    /* A standard mechanism on the translated backend key works. */
    memset(pt, 0x42, sizeof pt);
    assert_int_equal(F->C_EncryptInit(fx->s, &cbc, be), CKR_OK);
    len = sizeof ct;
    assert_int_equal(F->C_Encrypt(fx->s, pt, sizeof pt, ct, &len), CKR_OK);
    assert_int_equal(F->C_DecryptInit(fx->s, &cbc, be), CKR_OK);
    n = sizeof back;
    assert_int_equal(F->C_Decrypt(fx->s, ct, len, back, &n), CKR_OK);
    assert_int_equal(n, sizeof pt);
    assert_memory_equal(back, pt, sizeof pt);
    /* The whole hierarchy works over translated root handles. */
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, fx->r1, fx->r2, 0, &b), CKR_OK);
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, &b, DEP11_REQUESTER_USER, &un), CKR_OK);
    assert_int_equal(itest_child_wrap(fx->t, fx->s, un, mb, owner, &cb), CKR_OK);
    assert_int_equal(itest_child_unwrap(fx->t, fx->s, pol, &cb, owner, &h[5]), CKR_OK);
    assert_int_equal(itest_aead(fx->t, fx->s, 1, mb, NULL, 0, pt, sizeof pt, &c), CKR_OK);
    assert_int_equal(itest_aead(fx->t, fx->s, 0, h[5], NULL, 0, c.p, c.len, &p), CKR_OK);
    assert_memory_equal(p.p, pt, sizeof pt);
    /* Destroying the backend key leaves the module keys alone, and back. */
    assert_int_equal(F->C_DestroyObject(fx->s, be), CKR_OK);
    assert_int_equal(F->C_GetAttributeValue(fx->s, be, &by_label, 0), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(itest_get_ulong(fx->t, fx->s, mb, CKA_DEP11_ROLE, &role), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, mb), CKR_OK);
    assert_label(fx, fx->r1, "root1");
    itest_blob_free(&b);
    itest_blob_free(&cb);
    itest_blob_free(&c);
    itest_blob_free(&p);
}

/* Checks the shim is really below: a backend handle is in dep11's range. */
static void test_shim_is_active(void **state)
{
    struct itest_fx *fx = *state;
    const char *off = getenv("DEP11_FAULT_HANDLE_OFFSET");

    (void)fx;
    assert_non_null(off);
    assert_string_equal(off, "1");
    assert_non_null(getenv("DEP11_FAULT_MODULE"));
}

/* The shim's rules, re-read on its every call. */
static void write_faults(struct itest_fx *fx, const char *text)
{
    const struct itest_blob b = { (CK_BYTE *)text, (CK_ULONG)strlen(text) };

    assert_int_equal(itest_write_blob(fx->t, "faults", &b), 0);
}

static CK_RV unwrap_by(struct itest_fx *fx, const struct itest_blob *b, CK_ULONG *by)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = CKR_OK;

    assert_int_equal(fx->t->x->DEP11_FlushCache(NULL), CKR_OK);
    rv = itest_policy_unwrap(fx->t, fx->s, b, DEP11_REQUESTER_USER, &h);
    *by = 0;
    if (rv == CKR_OK)
        assert_int_equal(itest_get_ulong(fx->t, fx->s, h, CKA_DEP11_UNWRAPPED_BY, by), CKR_OK);
    return rv;
}

static void test_transient_served_by_availability(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE pol = gen(fx, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX);
    struct itest_blob b = { 0 };
    CK_ULONG by = 0;

    write_faults(fx, "");
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, fx->r1, fx->r2, 0, &b), CKR_OK);
    assert_int_equal(unwrap_by(fx, &b, &by), CKR_OK);
    assert_true(by == DEP11_ROOT_CUSTOMER_1 || by == DEP11_ROOT_CUSTOMER_2);
    /* The customer's HSM answers CKR_DEVICE_ERROR to every decrypt. */
    write_faults(fx, "# both customer copies transient\nC_Decrypt rv=0x30 token=contoso\n"
                     "C_UnwrapKey rv=0x30 token=contoso\n");
    assert_int_equal(unwrap_by(fx, &b, &by), CKR_OK);
    assert_int_equal(by, DEP11_ROOT_AVAILABILITY);
    /* Healed: a customer key serves again. */
    write_faults(fx, "");
    assert_int_equal(unwrap_by(fx, &b, &by), CKR_OK);
    assert_true(by == DEP11_ROOT_CUSTOMER_1 || by == DEP11_ROOT_CUSTOMER_2);
    itest_blob_free(&b);
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How long the shim stalls a call: well past the time-outs an unwrap may
 * meet (three: both roots, then the availability key). */
static long stall_ms(void)
{
    const char *t = getenv("ITEST_TIMEOUT_MS");

    return 5 * (t != NULL ? atol(t) : 300) + 3500;
}

/* Writes one stall rule "C_Decrypt delay-ms=<stall + @tag> @rest": the tag
 * keeps the rule texts (the shim's counter keys) apart. Returns the stall. */
static long write_stall(struct itest_fx *fx, int tag, const char *rest)
{
    char rule[256];
    long ms = stall_ms() + tag;

    snprintf(rule, sizeof rule, "C_Decrypt delay-ms=%ld %s\n", ms, rest);
    write_faults(fx, rule);
    return ms;
}

static int is_customer(CK_ULONG by)
{
    return by == DEP11_ROOT_CUSTOMER_1 || by == DEP11_ROOT_CUSTOMER_2;
}

/* Lines of the audit log that hold both @a and @b. */
static int audit_lines(struct itest_fx *fx, const char *a, const char *b)
{
    char path[1200], line[4096];
    FILE *fp = fopen(itest_path(fx->t, "audit.jsonl", path, sizeof path), "r");
    int n = 0;

    assert_non_null(fp);
    while (fgets(line, sizeof line, fp) != NULL)
        n += strstr(line, a) != NULL && strstr(line, b) != NULL;
    fclose(fp);
    return n;
}

/* A customer-managed MAILBOX policy wrapped under root1 and root2. */
static void make_blob(struct itest_fx *fx, struct itest_blob *b)
{
    CK_OBJECT_HANDLE pol = gen(fx, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX);

    write_faults(fx, "");
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, fx->r1, fx->r2, 0, b), CKR_OK);
}

/* C_Finalize returns only once the abandoned calls have (the shim sleeps
 * until @ends_ms); then the fixture's state is set up again. */
static void assert_finalize_drains(void **state, long ends_ms)
{
    struct itest_fx *fx = *state;
    long left = ends_ms - now_ms(), t0 = now_ms();

    assert_int_equal(itest_finalize(fx->t), CKR_OK);
    if (left > 500)
        assert_true(now_ms() - t0 >= left - 100);
    write_faults(fx, "");
    assert_int_equal(itest_setup(state), 0);
}

/* Availability uses audited as transient so far. */
static int transient_uses(struct itest_fx *fx)
{
    return audit_lines(fx, "\"availability-use\"", "\"transient\"");
}

/* Stalls C_Decrypt as write_stall(@tag, @rest) says, then unwraps @b as
 * USER: the answer is @want, and it came well before the stall ended.
 * Returns when the stalled calls end (monotonic ms). */
static long stalled_unwrap(struct itest_fx *fx, const struct itest_blob *b, int tag,
                           const char *rest, CK_RV want, CK_ULONG *by)
{
    long stall = write_stall(fx, tag, rest), t0 = now_ms();

    assert_int_equal(unwrap_by(fx, b, by), want);
    assert_true(now_ms() - t0 < stall - 1000);
    return t0 + stall;
}

/* backend-calls = serial (test_fault.sh sets ITEST_BACKEND_SERIAL from the
 * profile): a stalled call holds the library, so nothing else can answer
 * before it ends (docs/CONFIG.md); the stall cases say so and skip. */
static int serial_backend(const char *what)
{
    if (getenv("ITEST_BACKEND_SERIAL") == NULL)
        return 0;
    printf("NOT RUN: %s: this backend's calls take turns (backend-calls = serial)\n", what);
    return 1;
}

/* One root stalls: after the time-out the other one is asked and serves. */
static void test_timeout_one_root_stalls(void **state)
{
    struct itest_fx *fx = *state;
    struct itest_blob b = { 0 };
    CK_ULONG by = 0;
    long ends = 0;
    int used = 0;

    if (serial_backend("one root stalls")) {
        skip();
        return;
    }

    make_blob(fx, &b);
    used = transient_uses(fx);
    ends = stalled_unwrap(fx, &b, 0, "count=1 token=contoso", CKR_OK, &by);
    assert_true(is_customer(by));
    assert_int_equal(transient_uses(fx), used);
    assert_finalize_drains(state, ends);
    itest_blob_free(&b);
}

/* Both roots stall: transient, the availability key serves (audited); once
 * the HSM answers again a customer key serves, with the late calls still
 * running. */
static void test_timeout_both_roots_stall(void **state)
{
    struct itest_fx *fx = *state;
    struct itest_blob b = { 0 };
    CK_ULONG by = 0;
    long ends = 0;
    int used = 0;

    if (serial_backend("both roots stall")) {
        skip();
        return;
    }

    make_blob(fx, &b);
    used = transient_uses(fx);
    ends = stalled_unwrap(fx, &b, 1, "token=contoso", CKR_OK, &by);
    assert_int_equal(by, DEP11_ROOT_AVAILABILITY);
    assert_int_equal(transient_uses(fx), used + 1);
    write_faults(fx, "");
    assert_int_equal(unwrap_by(fx, &b, &by), CKR_OK);
    assert_true(is_customer(by));
    assert_finalize_drains(state, ends);
    itest_blob_free(&b);
}

/* Roots and the availability key all stall: CKR_DEP11_ROOT_KEYS_UNAVAILABLE
 * after three time-outs, not after the HSM's stall. */
static void test_timeout_everything_stalls(void **state)
{
    struct itest_fx *fx = *state;
    struct itest_blob b = { 0 };
    CK_ULONG by = 0;

    make_blob(fx, &b);
    assert_finalize_drains(state, stalled_unwrap(fx, &b, 2, "", CKR_DEP11_ROOT_KEYS_UNAVAILABLE,
                                                 &by));
    itest_blob_free(&b);
}

/* A slow answer within the time-out is an answer. */
static void test_timeout_slow_in_time(void **state)
{
    struct itest_fx *fx = *state;
    struct itest_blob b = { 0 };
    CK_ULONG by = 0;
    int used = 0;

    make_blob(fx, &b);
    used = transient_uses(fx);
    write_faults(fx, "C_Decrypt delay-ms=50 token=contoso\n");
    for (int i = 0; i < 5; i++) {
        assert_int_equal(unwrap_by(fx, &b, &by), CKR_OK);
        assert_true(is_customer(by));
    }
    assert_int_equal(transient_uses(fx), used);
    itest_blob_free(&b);
}

/* Hedged: the first root to answer wins, so a stalled one costs nothing
 * (without hedging or a time-out this unwrap waits out the stall). The key served
 * is the policy key: a child wrapped under it opens under the original. */
static void test_hedged_first_answer_wins(void **state)
{
    struct itest_fx *fx = *state;
    CK_OBJECT_HANDLE pol = gen(fx, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX);
    CK_OBJECT_HANDLE mb = gen(fx, DEP11_ROLE_MAILBOX, 0), un = 0, back = 0;
    struct itest_blob b = { 0 }, cb = { 0 };
    static const CK_BYTE owner[16] = "hedged-owner-001";
    CK_ULONG by = 0;
    long ends = 0;

    if (serial_backend("hedged: the first answer wins while the other try stalls")) {
        skip();
        return;
    }

    write_faults(fx, "");
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, fx->r1, fx->r2, 0, &b), CKR_OK);
    ends = stalled_unwrap(fx, &b, 3, "count=1 token=contoso", CKR_OK, &by);
    assert_true(is_customer(by));
    for (int i = 0; i < 8; i++) {
        assert_int_equal(fx->t->x->DEP11_FlushCache(NULL), CKR_OK);
        assert_int_equal(itest_policy_unwrap(fx->t, fx->s, &b, DEP11_REQUESTER_USER, &un),
                         CKR_OK);
        assert_int_equal(itest_child_wrap(fx->t, fx->s, un, mb, owner, &cb), CKR_OK);
        assert_int_equal(itest_child_unwrap(fx->t, fx->s, pol, &cb, owner, &back), CKR_OK);
        assert_int_equal(F->C_DestroyObject(fx->s, un), CKR_OK);
        assert_int_equal(F->C_DestroyObject(fx->s, back), CKR_OK);
        itest_blob_free(&cb);
    }
    assert_finalize_drains(state, ends);
    itest_blob_free(&b);
}

/* Hedged, the availability rows: one root failing leaves the other; both
 * transient fall back; both denied revoke a USER; a log-out aborts. */
static void test_hedged_rows(void **state)
{
    struct itest_fx *fx = *state;
    struct itest_blob b = { 0 }, pb = { 0 };
    CK_OBJECT_HANDLE pol = gen(fx, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX);
    CK_ULONG by = 0;
    int used = 0;

    make_blob(fx, &b);
    used = transient_uses(fx);
    write_faults(fx, "C_Decrypt rv=0x30 count=1 token=contoso\n");
    assert_int_equal(unwrap_by(fx, &b, &by), CKR_OK);
    assert_true(is_customer(by));
    write_faults(fx, "C_Decrypt rv=0x68 count=1 token=contoso\n");
    assert_int_equal(unwrap_by(fx, &b, &by), CKR_OK);
    assert_true(is_customer(by));
    write_faults(fx, "C_Decrypt rv=0x30 token=contoso\n");
    assert_int_equal(unwrap_by(fx, &b, &by), CKR_OK);
    assert_int_equal(by, DEP11_ROOT_AVAILABILITY);
    write_faults(fx, "C_Decrypt rv=0x68 token=contoso\n");
    assert_int_equal(unwrap_by(fx, &b, &by), CKR_DEP11_ROOT_KEYS_REVOKED);
    write_faults(fx, "C_Decrypt rv=0x68 token=contoso count=1\nC_Decrypt rv=0x30 token=contoso\n");
    assert_int_equal(unwrap_by(fx, &b, &by), CKR_OK); /* one of each: transient row */
    assert_int_equal(by, DEP11_ROOT_AVAILABILITY);
    write_faults(fx, "C_Decrypt rv=0x101 token=contoso\n");
    assert_int_equal(unwrap_by(fx, &b, &by), CKR_USER_NOT_LOGGED_IN);
    /* A provider-managed blob: both provider roots asked at once. */
    write_faults(fx, "");
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, 0, 0, 0, &pb), CKR_OK);
    assert_int_equal(unwrap_by(fx, &pb, &by), CKR_OK);
    assert_int_equal(by, DEP11_ROOT_PROVIDER);
    assert_int_equal(transient_uses(fx), used + 2);
    itest_blob_free(&b);
    itest_blob_free(&pb);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "handles";
#define T(fn) cmocka_unit_test_setup_teardown(fn, itest_setup, itest_teardown)
    const struct CMUnitTest handles[] = { T(test_shim_is_active), T(test_handles_translated) };
    const struct CMUnitTest transient[] = { T(test_transient_served_by_availability) };
    const struct CMUnitTest timeout[] = { T(test_timeout_one_root_stalls),
                                          T(test_timeout_both_roots_stall),
                                          T(test_timeout_everything_stalls),
                                          T(test_timeout_slow_in_time) };
    const struct CMUnitTest hedged[] = { T(test_hedged_first_answer_wins), T(test_hedged_rows) };
#undef T
    if (strcmp(which, "handles") == 0)
        return cmocka_run_group_tests_name("fault shim: handle translation", handles,
                                           itest_group_setup, itest_group_teardown);
    if (strcmp(which, "transient") == 0)
        return cmocka_run_group_tests_name("fault shim: transient customer keys", transient,
                                           itest_group_setup, itest_group_teardown);
    if (strcmp(which, "timeout") == 0)
        return cmocka_run_group_tests_name("fault shim: per-call time-outs", timeout,
                                           itest_group_setup, itest_group_teardown);
    if (strcmp(which, "hedged") == 0)
        return cmocka_run_group_tests_name("fault shim: hedged root tries", hedged,
                                           itest_group_setup, itest_group_teardown);
    return 2;
}
