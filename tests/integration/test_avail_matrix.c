/*
 * test_avail_matrix.c - DESIGN section 5's availability table through the
 * module, every cell of it, with the customer HSM's answers injected for
 * real by the fault shim (tests/faultshim/faultmod.c) between dep11 and SoftHSM.
 *
 * One MAILBOX, one MULTI_WORKLOAD and one FILES policy, each wrapped under
 * root1 and root2 with a child under it. For every policy type, every
 * requester (USER, SYSTEM, RECOVERY: the wrapper's config allows all three)
 * and every condition of the customer keys below, one uncached
 * POLICY_UNWRAP must give what the expectation function says. That function
 * is written from DESIGN section 5, not from runs:
 *   - a customer key unwraps                  -> served by it
 *   - abort (CKR_USER_NOT_LOGGED_IN)          -> that code, no fallback
 *   - every customer copy invalid             -> CKR_WRAPPED_KEY_INVALID
 *   - transient (either answer transient)     -> availability key, reason
 *     "transient"; where the FILES rule forbids the fallback,
 *     CKR_DEP11_ROOT_KEYS_UNAVAILABLE
 *   - denied (or any code outside the table)  -> USER: _ROOT_KEYS_REVOKED;
 *     SYSTEM and RECOVERY: availability key, reason "denied" (the FILES rule:
 *     SYSTEM gets _ROOT_KEYS_REVOKED)
 *   - after the purge                         -> CKR_DEP11_POLICY_PURGED
 * The conditions: healthy; for every code of the classification table (and
 * four outside it) the first root tried answering it while the other
 * unwraps, and both roots answering it; one answer of each of two classes;
 * one or both roots decrypting to a wrong key (the shim flips a bit: the
 * key check value must catch it). Each served key must open the policy's
 * child; each availability use must add exactly one audit line with its
 * policy id, requester and reason; a failure must leave no module key.
 * Then the roots are destroyed for real (the denied rows again, with no
 * fault injected), the policies purged, and every cell is POLICY_PURGED,
 * however the HSM answers.
 * The wrapper runs it four times, $ITEST_MATRIX naming the profile's mode:
 *   all            files-fallback = all
 *   recovery-only  files-fallback = recovery-only (the SharePoint rule)
 *   hedged         hedged-unwrap = yes: both roots at once, so a root that
 *                  aborts while the other unwraps no longer ends the call
 *   timeout        call-timeout-ms = $ITEST_TIMEOUT_MS: every answer on a
 *                  thread under a deadline; two more conditions, one root
 *                  or both stalling past it (transient)
 *   override       the profile changes the classification table:
 *                  fault-transient = 0x82, fault-denied = 0x30,
 *                  fault-invalid = 0x2 (cls_of() knows the same)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "itest.h"

#define F (fx->t->f)
#define X (fx->t->x)
#define RULE_TAIL "token=contoso"

enum cls { C_NONE, C_DENIED, C_ABORT, C_TRANSIENT, C_INVALID };

/* DESIGN section 5's classification table, and four codes outside it. */
static const struct code {
    CK_RV rv;
    enum cls cls;
} codes[] = {
    { CKR_OBJECT_HANDLE_INVALID, C_DENIED },    { CKR_KEY_HANDLE_INVALID, C_DENIED },
    { CKR_KEY_FUNCTION_NOT_PERMITTED, C_DENIED }, { CKR_KEY_TYPE_INCONSISTENT, C_DENIED },
    { CKR_USER_NOT_LOGGED_IN, C_ABORT },        { CKR_DEVICE_ERROR, C_TRANSIENT },
    { CKR_DEVICE_MEMORY, C_TRANSIENT },         { CKR_DEVICE_REMOVED, C_TRANSIENT },
    { CKR_TOKEN_NOT_PRESENT, C_TRANSIENT },     { CKR_FUNCTION_CANCELED, C_TRANSIENT },
    { CKR_SESSION_HANDLE_INVALID, C_TRANSIENT }, { CKR_SESSION_CLOSED, C_TRANSIENT },
    { CKR_GENERAL_ERROR, C_INVALID },           { CKR_ENCRYPTED_DATA_INVALID, C_INVALID },
    { CKR_ENCRYPTED_DATA_LEN_RANGE, C_INVALID }, { CKR_WRAPPED_KEY_INVALID, C_INVALID },
    /* "anything else: denied" */
    { CKR_HOST_MEMORY, C_DENIED },              { CKR_ARGUMENTS_BAD, C_DENIED },
    { CKR_MECHANISM_INVALID, C_DENIED },        { CKR_FUNCTION_FAILED, C_DENIED },
};
#define NCODES (sizeof codes / sizeof codes[0])

/* One condition of the customer keys: the shim's rules and the class of
 * the combined answer. */
struct cond {
    char what[96];
    char rules[256];
    enum cls cls;
};

#define MAXCOND (2 * NCODES + 16)

/* One answer of each of two classes, the first-tried root answering @a
 * (their classes by default: denied + transient, invalid + denied,
 * invalid + transient). */
static const struct mix {
    CK_RV a, b;
} mixes[] = {
    { CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_DEVICE_ERROR },
    { CKR_DEVICE_ERROR, CKR_KEY_FUNCTION_NOT_PERMITTED },
    { CKR_GENERAL_ERROR, CKR_OBJECT_HANDLE_INVALID },
    { CKR_OBJECT_HANDLE_INVALID, CKR_GENERAL_ERROR },
    { CKR_GENERAL_ERROR, CKR_TOKEN_NOT_PRESENT },
    { CKR_TOKEN_NOT_PRESENT, CKR_GENERAL_ERROR },
};

static int mode_is(const char *m);

/* The class of @rv: the table's, or in the override mode the one the
 * wrapper's profile moves it to (fault-transient = 0x82, fault-denied =
 * 0x30, fault-invalid = 0x2). */
static enum cls cls_of(CK_RV rv)
{
    if (mode_is("override")) {
        if (rv == CKR_OBJECT_HANDLE_INVALID)
            return C_TRANSIENT;
        if (rv == CKR_DEVICE_ERROR)
            return C_DENIED;
        if (rv == CKR_HOST_MEMORY)
            return C_INVALID;
    }
    for (size_t i = 0; i < NCODES; i++)
        if (codes[i].rv == rv)
            return codes[i].cls;
    return C_DENIED;
}

/* Two roots' answers, neither unwrapping (DESIGN section 5): every copy
 * invalid is invalid; one transient answer makes the transient row; else
 * denied (an invalid copy never counts as transient). */
static enum cls combine(enum cls a, enum cls b)
{
    if (a == C_INVALID && b == C_INVALID)
        return C_INVALID;
    if (a == C_TRANSIENT || b == C_TRANSIENT)
        return C_TRANSIENT;
    return C_DENIED;
}

static int add(struct cond *c, int n, enum cls cls, const char *what, const char *rules)
{
    snprintf(c[n].what, sizeof c[n].what, "%s", what);
    snprintf(c[n].rules, sizeof c[n].rules, "%s", rules);
    c[n].cls = cls;
    return n + 1;
}

static int mode_is(const char *m)
{
    const char *v = getenv("ITEST_MATRIX");

    return v != NULL && strcmp(v, m) == 0;
}

/* The stall of a call in the timeout mode: well past the deadline. */
static long stall_ms(void)
{
    const char *t = getenv("ITEST_TIMEOUT_MS");

    return 3 * (t != NULL ? atol(t) : 300) + 200;
}

/* Every condition. The shim counts matching calls per rule text, so
 * cell() makes each text unique before it writes it ("cell=<n>"). */
static int conditions(struct cond *c)
{
    char what[96], rules[256];
    int n = 0;

    n = add(c, n, C_NONE, "healthy", "");
    for (size_t i = 0; i < NCODES; i++) {
        unsigned long rv = (unsigned long)codes[i].rv;

        snprintf(what, sizeof what, "first root 0x%lx, other unwraps", rv);
        snprintf(rules, sizeof rules, "C_Decrypt rv=0x%lx count=1 " RULE_TAIL "\n", rv);
        /* A lost session is reopened and retried once: the retry unwraps. */
        n = add(c, n, cls_of(codes[i].rv) == C_ABORT && !mode_is("hedged") ? C_ABORT : C_NONE,
                what, rules);
        snprintf(what, sizeof what, "both roots 0x%lx", rv);
        snprintf(rules, sizeof rules, "C_Decrypt rv=0x%lx " RULE_TAIL "\n", rv);
        n = add(c, n, cls_of(codes[i].rv), what, rules);
    }
    for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++) {
        snprintf(what, sizeof what, "first root 0x%lx, second 0x%lx", (unsigned long)mixes[i].a,
                 (unsigned long)mixes[i].b);
        snprintf(rules, sizeof rules,
                 "C_Decrypt rv=0x%lx count=1 " RULE_TAIL "\n"
                 "C_Decrypt rv=0x%lx " RULE_TAIL "\n",
                 (unsigned long)mixes[i].a, (unsigned long)mixes[i].b);
        n = add(c, n, combine(cls_of(mixes[i].a), cls_of(mixes[i].b)), what, rules);
    }
    snprintf(rules, sizeof rules, "C_Decrypt flip=1 count=1 " RULE_TAIL "\n");
    n = add(c, n, C_NONE, "first root decrypts to a wrong key, other unwraps", rules);
    snprintf(rules, sizeof rules, "C_Decrypt flip=1 " RULE_TAIL "\n");
    n = add(c, n, C_INVALID, "both roots decrypt to a wrong key", rules);
    if (mode_is("timeout") && getenv("ITEST_BACKEND_SERIAL") != NULL) {
        /* backend-calls = serial: the stalled call holds the library, so
         * the other root cannot answer in time (docs/CONFIG.md). */
        printf("NOT RUN: the stall conditions: this backend's calls take turns "
               "(backend-calls = serial)\n");
    } else if (mode_is("timeout")) {
        snprintf(rules, sizeof rules, "C_Decrypt delay-ms=%ld count=1 " RULE_TAIL "\n",
                 stall_ms());
        n = add(c, n, C_NONE, "first root stalls past the time-out, other unwraps", rules);
        snprintf(rules, sizeof rules, "C_Decrypt delay-ms=%ld " RULE_TAIL "\n", stall_ms());
        n = add(c, n, C_TRANSIENT, "both roots stall past the time-out", rules);
    }
    assert_true(n <= (int)MAXCOND);
    return n;
}

/* ---- the expectation: DESIGN section 5 ---- */
struct want {
    CK_RV rv;
    CK_ULONG by;            /* 0: a customer key */
    const char *reason;     /* availability use: "transient" / "denied" */
};

static struct want expect(CK_ULONG ptype, CK_ULONG req, enum cls cls)
{
    struct want w = { CKR_OK, 0, NULL };
    int files_rule = ptype == DEP11_POLICY_FILES && mode_is("recovery-only");
    int may = !files_rule || req == DEP11_REQUESTER_RECOVERY;

    switch (cls) {
    case C_NONE:
        break;
    case C_ABORT:
        w.rv = CKR_USER_NOT_LOGGED_IN;
        break;
    case C_INVALID:
        w.rv = CKR_WRAPPED_KEY_INVALID;
        break;
    case C_TRANSIENT:
        w.rv = may ? CKR_OK : CKR_DEP11_ROOT_KEYS_UNAVAILABLE;
        w.by = may ? DEP11_ROOT_AVAILABILITY : 0;
        w.reason = "transient";
        break;
    case C_DENIED:
        may = may && req != DEP11_REQUESTER_USER;
        w.rv = may ? CKR_OK : CKR_DEP11_ROOT_KEYS_REVOKED;
        w.by = may ? DEP11_ROOT_AVAILABILITY : 0;
        w.reason = "denied";
        break;
    }
    return w;
}

/* ---- the fixture ---- */
struct policy {
    CK_ULONG ptype, child_role;
    const char *name;
    struct itest_blob blob, child;
    char id_hex[33];
};

static const CK_BYTE owner[16] = "matrix-owner-001";
static const CK_ULONG requesters[] = { DEP11_REQUESTER_USER, DEP11_REQUESTER_SYSTEM,
                                       DEP11_REQUESTER_RECOVERY };
static const char *const req_name[] = { "?", "user", "system", "recovery" };

/* Writes @text as the shim's rules, each line tagged " cell=<n>" with a
 * number no earlier call used, so that every cell starts its counts at 0. */
static void write_cell_faults(struct itest_fx *fx, const char *text)
{
    static unsigned serial;
    char path[1200], line[256];
    FILE *fp = fopen(itest_path(fx->t, "faults", path, sizeof path), "w");
    const char *p = text;

    assert_non_null(fp);
    serial++;
    while (*p != '\0') {
        size_t n = strcspn(p, "\n");

        assert_true(n < sizeof line - 16);
        memcpy(line, p, n);
        line[n] = '\0';
        fprintf(fp, "%s cell=%u\n", line, serial);
        p += n + (p[n] == '\n');
    }
    assert_int_equal(fclose(fp), 0);
}

/* The shim's rules, re-read on its every call. */
static void write_faults(struct itest_fx *fx, const char *text)
{
    const struct itest_blob b = { (CK_BYTE *)text, (CK_ULONG)strlen(text) };

    assert_int_equal(itest_write_blob(fx->t, "faults", &b), 0);
}

/* Audit lines "availability-use": of @p with @req and @reason, or every
 * one when @p is NULL. */
static int avail_lines(struct itest_fx *fx, const struct policy *p, CK_ULONG req,
                       const char *reason)
{
    char path[1200], line[4096], want_req[48] = "", want_reason[48] = "", want_id[64] = "";
    FILE *fp = fopen(itest_path(fx->t, "audit.jsonl", path, sizeof path), "r");
    int n = 0;

    assert_non_null(fp);
    if (p != NULL) {
        snprintf(want_req, sizeof want_req, "\"requester\":\"%s\"", req_name[req]);
        snprintf(want_reason, sizeof want_reason, "\"reason\":\"%s\"", reason ? reason : "");
        snprintf(want_id, sizeof want_id, "\"policy_id\":\"%s\"", p->id_hex);
    }
    while (fgets(line, sizeof line, fp) != NULL)
        n += strstr(line, "\"event\":\"availability-use\"") != NULL &&
             strstr(line, want_req) != NULL && strstr(line, want_reason) != NULL &&
             strstr(line, want_id) != NULL;
    fclose(fp);
    return n;
}

static void make_policy(struct itest_fx *fx, struct policy *p)
{
    CK_OBJECT_HANDLE pol = CK_INVALID_HANDLE, child = CK_INVALID_HANDLE;
    CK_DEP11_POLICY_INFO info;

    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_POLICY, p->ptype, &pol), CKR_OK);
    assert_int_equal(itest_keygen(fx->t, fx->s, p->child_role, 0, &child), CKR_OK);
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, fx->r1, fx->r2, 0, &p->blob), CKR_OK);
    assert_int_equal(itest_child_wrap(fx->t, fx->s, pol, child, owner, &p->child), CKR_OK);
    assert_int_equal(X->DEP11_GetPolicyInfo(p->blob.p, p->blob.len, &info), CKR_OK);
    assert_int_equal(info.ulPolicyType, p->ptype);
    for (int i = 0; i < 16; i++)
        snprintf(p->id_hex + 2 * i, 3, "%02x", info.policyId[i]);
    assert_int_equal(F->C_DestroyObject(fx->s, pol), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, child), CKR_OK);
}

static CK_ULONG module_keys(struct itest_fx *fx)
{
    CK_ULONG n = 0;

    assert_int_equal(itest_count_module_keys(fx->t, fx->s, &n), CKR_OK);
    return n;
}

/* One cell: an uncached unwrap of @p as @req under @rules. Returns 1 when
 * it gives @w (and the served key opens the child, the audit log gained
 * exactly the availability line due, a failure left no key), else prints
 * the cell and returns 0. */
static int cell(struct itest_fx *fx, const struct policy *p, CK_ULONG req, const char *what,
                const char *rules, struct want w)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE, ch = CK_INVALID_HANDLE;
    CK_ULONG by = 0, keys = module_keys(fx), ch_role = 0;
    int due = w.rv == CKR_OK && w.by == DEP11_ROOT_AVAILABILITY;
    int before = avail_lines(fx, p, req, w.reason), all = avail_lines(fx, NULL, 0, NULL), ok = 1;
    CK_RV rv = CKR_OK;

    assert_int_equal(X->DEP11_FlushCache(NULL), CKR_OK);
    write_cell_faults(fx, rules);
    rv = itest_policy_unwrap(fx->t, fx->s, &p->blob, req, &h);
    write_faults(fx, "");
    if (rv == CKR_OK) {
        assert_int_equal(itest_get_ulong(fx->t, fx->s, h, CKA_DEP11_UNWRAPPED_BY, &by), CKR_OK);
        /* The key served is the policy key: the child opens under it. */
        ok &= itest_child_unwrap(fx->t, fx->s, h, &p->child, owner, &ch) == CKR_OK;
        ok &= itest_get_ulong(fx->t, fx->s, ch, CKA_DEP11_ROLE, &ch_role) == CKR_OK &&
              ch_role == p->child_role;
        if (ch != CK_INVALID_HANDLE)
            assert_int_equal(F->C_DestroyObject(fx->s, ch), CKR_OK);
        assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
    }
    ok &= rv == w.rv;
    if (rv == CKR_OK && w.by == 0)
        ok &= by == DEP11_ROOT_CUSTOMER_1 || by == DEP11_ROOT_CUSTOMER_2;
    else if (rv == CKR_OK)
        ok &= by == w.by;
    ok &= module_keys(fx) == keys;
    ok &= avail_lines(fx, p, req, w.reason) == before + due;
    ok &= avail_lines(fx, NULL, 0, NULL) == all + due;
    if (!ok)
        printf("CELL FAIL %s %s [%s]: want 0x%lx by %lu (reason %s), got 0x%lx by %lu\n",
               p->name, req_name[req], what, (unsigned long)w.rv, (unsigned long)w.by,
               w.reason ? w.reason : "-", (unsigned long)rv, (unsigned long)by);
    return ok;
}

/* Every type x requester under @rules, against @cls (or @fixed when it is
 * not CKR_OK: the purged rows). Counts cells and failures. */
static void row(struct itest_fx *fx, struct policy *pols, const char *what, const char *rules,
                enum cls cls, CK_RV fixed, unsigned *cells, unsigned *bad)
{
    for (int t = 0; t < 3; t++)
        for (size_t r = 0; r < 3; r++) {
            struct want w = expect(pols[t].ptype, requesters[r], cls);

            if (fixed != CKR_OK)
                w = (struct want){ fixed, 0, NULL };
            (*cells)++;
            *bad += !cell(fx, &pols[t], requesters[r], what, rules, w);
        }
}

static CK_RV purge(struct itest_fx *fx, const struct policy *p)
{
    CK_BYTE receipt[4096];
    CK_ULONG len = sizeof receipt;

    return X->DEP11_PurgePolicy(fx->s, p->blob.p, p->blob.len, receipt, &len);
}

static void test_matrix(void **state)
{
    struct itest_fx *fx = *state;
    struct policy pols[3] = {
        { DEP11_POLICY_MAILBOX, DEP11_ROLE_MAILBOX, "MAILBOX", { 0 }, { 0 }, "" },
        { DEP11_POLICY_MULTI_WORKLOAD, DEP11_ROLE_WORKLOAD, "MULTI_WORKLOAD", { 0 }, { 0 }, "" },
        { DEP11_POLICY_FILES, DEP11_ROLE_SITE, "FILES", { 0 }, { 0 }, "" },
    };
    struct cond *c = calloc(MAXCOND, sizeof *c);
    unsigned cells = 0, bad = 0;
    int n = 0;

    assert_non_null(c);
    write_faults(fx, "");
    for (int t = 0; t < 3; t++)
        make_policy(fx, &pols[t]);
    n = conditions(c);
    for (int i = 0; i < n; i++)
        row(fx, pols, c[i].what, c[i].rules, c[i].cls, CKR_OK, &cells, &bad);
    /* A purge is refused while a customer key unwraps: nothing changes. */
    for (int t = 0; t < 3; t++)
        assert_int_equal(purge(fx, &pols[t]), CKR_FUNCTION_REJECTED);
    row(fx, pols, "healthy after a refused purge", "", C_NONE, CKR_OK, &cells, &bad);
    /* The customer destroys both private roots for real: denied, with no
     * fault injected (the public halves and registered twins remain). */
    assert_int_equal(itest_destroy_private(fx->t, fx->s, "root1"), CKR_OK);
    assert_int_equal(itest_destroy_private(fx->t, fx->s, "root2"), CKR_OK);
    row(fx, pols, "both roots destroyed", "", C_DENIED, CKR_OK, &cells, &bad);
    /* The purge: every cell is POLICY_PURGED, whatever the HSM says. */
    for (int t = 0; t < 3; t++)
        assert_int_equal(purge(fx, &pols[t]), CKR_OK);
    row(fx, pols, "purged", "", C_NONE, CKR_DEP11_POLICY_PURGED, &cells, &bad);
    row(fx, pols, "purged, customer HSM failing", "C_Decrypt rv=0x30 " RULE_TAIL "\n", C_NONE,
        CKR_DEP11_POLICY_PURGED, &cells, &bad);
    printf("availability matrix (%s): %d conditions, %u cells, %u failed\n",
           getenv("ITEST_MATRIX"), n + 4, cells, bad);
    for (int t = 0; t < 3; t++) {
        itest_blob_free(&pols[t].blob);
        itest_blob_free(&pols[t].child);
    }
    free(c);
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_matrix, itest_setup, itest_teardown),
    };

    if (getenv("DEP11_FAULT_FILE") == NULL || getenv("ITEST_MATRIX") == NULL) {
        fprintf(stderr, "test_avail_matrix: run through test_avail_matrix.sh\n");
        return 77;
    }
    return cmocka_run_group_tests_name("availability matrix", tests, itest_group_setup,
                                       itest_group_teardown);
}
