/*
 * test_cache_audit.c - the policy-key cache and the audit log through
 * libdep11.so over SoftHSM. The customer's keys are destroyed by ANOTHER
 * process (pkcs11-tool on SoftHSM directly), as a customer would revoke:
 *   test_cache_audit bound      cache-seconds = 2: served from the cache within
 *                               the bound, revoked after it; audit lines checked
 *   test_cache_audit flush      cache-seconds = 300: DEP11_FlushCache (one policy,
 *                               then all) makes the revocation immediate
 *   test_cache_audit nocache    cache-seconds = 0: revocation is immediate
 *   test_cache_audit purge      cache-seconds = 2: ANOTHER process purges the
 *                               policy; cached keys serve here within the
 *                               bound, every requester is purged after it
 *   test_cache_audit lifecycle  policy-wrap, refresh, availability-roll, offboard
 *                               and a provider unwrap, as audited
 *   test_cache_audit writer N   N wrap+unwrap rounds (two run at once by the
 *                               .sh: one chain in a shared log)
 *   test_cache_audit memo       cache-seconds = 300, one policy flushed: a commit
 *                               and a purge in ANOTHER process bite at once
 *                               through the provider token's change mark
 * DEP11_CONF names a config with the cache-seconds and audit-log wanted;
 * ITEST_AUDIT_LOG the log to check.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glob.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"

#define F (fx->t->f)

/* One expected audit line: every non-NULL substring occurs in it. */
struct want {
    const char *s[5];
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
    double d = t - now_s();

    if (d > 0) {
        struct timespec ts = { (time_t)d, (long)((d - (time_t)d) * 1e9) };
        while (nanosleep(&ts, &ts) != 0)
            ;
    }
}

/* Destroys the private keys of root1 and root2 on contoso from another
 * process: pkcs11-tool straight on SoftHSM, as the customer would. */
static void revoke_elsewhere(void)
{
    const char *softhsm = getenv("SOFTHSM_MODULE");

    assert_non_null(softhsm);
    for (int i = 1; i <= 2; i++) {
        char label[8];
        int st = 0;
        pid_t pid;

        snprintf(label, sizeof label, "root%d", i);
        fflush(NULL);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            if (freopen("/dev/null", "w", stdout) == NULL)
                _exit(127);
            unsetenv("LD_PRELOAD");
            execlp("pkcs11-tool", "pkcs11-tool", "--module", softhsm, "--token-label",
                   "contoso", "--login", "--pin", "1234", "--delete-object", "--type",
                   "privkey", "--label", label, (char *)NULL);
            _exit(127);
        }
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
}

/* CKM_DEP11_POLICY_UNWRAP; *@by gets CKA_DEP11_UNWRAPPED_BY on success.
 * The key object is destroyed again. */
static CK_RV unwrap_by(struct itest_fx *fx, const struct itest_blob *b, CK_ULONG requester,
                       CK_ULONG *by)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = itest_policy_unwrap(fx->t, fx->s, b, requester, &h);

    *by = 0;
    if (rv == CKR_OK) {
        assert_int_equal(itest_get_ulong(fx->t, fx->s, h, CKA_DEP11_UNWRAPPED_BY, by), CKR_OK);
        assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
    }
    return rv;
}

/* A fresh MAILBOX policy wrapped under root1 and root2, written to @file. */
static void new_policy(struct itest_fx *fx, struct itest_blob *b, const char *file)
{
    CK_OBJECT_HANDLE pol = CK_INVALID_HANDLE;

    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, &pol),
                     CKR_OK);
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, pol, fx->r1, fx->r2, 0, b), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, pol), CKR_OK);
    if (file != NULL)
        assert_int_equal(itest_write_blob(fx->t, file, b), 0);
}

static void policy_id_hex(struct itest_fx *fx, const struct itest_blob *b, char out[33],
                          CK_BYTE id[16])
{
    CK_DEP11_POLICY_INFO info;

    assert_int_equal(fx->t->x->DEP11_GetPolicyInfo(b->p, b->len, &info), CKR_OK);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", info.policyId[i]);
    if (id != NULL)
        memcpy(id, info.policyId, 16);
}

static const char *served(CK_ULONG by)
{
    return by == DEP11_ROOT_CUSTOMER_1 ? "\"served_by\":\"customer-1\""
           : by == DEP11_ROOT_CUSTOMER_2 ? "\"served_by\":\"customer-2\""
           : by == DEP11_ROOT_AVAILABILITY ? "\"served_by\":\"availability\""
           : "\"served_by\":\"provider\"";
}

/* The audit log, whole (malloc'ed, NUL-terminated). */
static char *read_log(void)
{
    const char *path = getenv("ITEST_AUDIT_LOG");
    FILE *fp = NULL;
    char *buf = NULL;
    long n = 0;

    assert_non_null(path);
    fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    n = ftell(fp);
    rewind(fp);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

/* @w[0..n) occur as lines of the log in this order (other lines may sit
 * between them). Lines not mentioning @policy are ignored. */
static void expect_lines(const char *policy, const struct want *w, size_t n)
{
    char *log = read_log(), *line = log, *nl = NULL;
    size_t k = 0;

    for (; k < n && (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        int all = 1;
        *nl = '\0';
        all &= strstr(line, policy) != NULL;
        for (int j = 0; j < 5 && w[k].s[j] != NULL; j++)
            all &= strstr(line, w[k].s[j]) != NULL;
        if (all)
            k++;
    }
    if (k != n)
        fail_msg("audit line %zu of %zu not found (policy %s): %s %s %s %s", k + 1, n, policy,
                 w[k].s[0], w[k].s[1] ? w[k].s[1] : "", w[k].s[2] ? w[k].s[2] : "",
                 w[k].s[3] ? w[k].s[3] : "");
    free(log);
}

/* How many log lines mention @needle. */
static int count_lines(const char *needle, const char *and_also)
{
    char *log = read_log(), *line = log, *nl = NULL;
    int n = 0;

    for (; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        *nl = '\0';
        n += strstr(line, needle) != NULL && (and_also == NULL || strstr(line, and_also));
    }
    free(log);
    return n;
}

/* cache-seconds = 2: after the customer destroys both keys elsewhere, the
 * cached policy key still serves within the bound, and not after it. */
static void test_bound(void **state)
{
    struct itest_fx *fx = *state;
    struct itest_blob b = { 0 };
    CK_ULONG by = 0, by1 = 0;
    CK_RV rv = CKR_OK;
    char id[33];
    double t0 = 0;

    new_policy(fx, &b, "bound.blob");
    policy_id_hex(fx, &b, id, NULL);
    t0 = now_s();
    assert_int_equal(unwrap_by(fx, &b, DEP11_REQUESTER_USER, &by1), CKR_OK);
    assert_true(by1 == DEP11_ROOT_CUSTOMER_1 || by1 == DEP11_ROOT_CUSTOMER_2);
    revoke_elsewhere();
    /* Another process has no cache: revoked there at once. */
    assert_int_equal(itest_spawn_unwrap(fx->t, "dep11-cache2.conf", "bound.blob",
                                        DEP11_REQUESTER_USER, &rv, &by), 0);
    assert_int_equal(rv, CKR_DEP11_ROOT_KEYS_REVOKED);
    /* Here: still served from the cache, by the root that served before. */
    assert_int_equal(unwrap_by(fx, &b, DEP11_REQUESTER_USER, &by), CKR_OK);
    assert_int_equal(by, by1);
    if (now_s() - t0 >= 1.9)
        fail_msg("revocation took %.2f s: too slow to test a 2 s cache", now_s() - t0);
    /* After the bound: revoked here too. */
    sleep_until(t0 + 2.2);
    assert_int_equal(unwrap_by(fx, &b, DEP11_REQUESTER_USER, &by), CKR_DEP11_ROOT_KEYS_REVOKED);
    /* A SYSTEM worker falls back to the availability key, audited. */
    assert_int_equal(itest_spawn_unwrap(fx->t, "dep11-system-audit.conf", "bound.blob",
                                        DEP11_REQUESTER_SYSTEM, &rv, &by), 0);
    assert_int_equal(rv, CKR_OK);
    assert_int_equal(by, DEP11_ROOT_AVAILABILITY);
    {
        const struct want w[] = {
            { { "\"event\":\"policy-wrap\"", "\"version\":1,", "\"managed_by\":\"customer\"" } },
            { { "\"event\":\"policy-unwrap\"", "\"requester\":\"user\"", served(by1),
                "\"result\":\"CKR_OK\",\"seq\"" } },
            { { "\"event\":\"policy-unwrap\"", "\"requester\":\"user\"",
                "\"served_by\":\"\"", "\"result\":\"CKR_DEP11_ROOT_KEYS_REVOKED\"" } },
            { { "\"event\":\"policy-unwrap\"", "\"requester\":\"user\"", served(by1),
                "\"cache\":\"hit\"" } },
            { { "\"event\":\"policy-unwrap\"", "\"requester\":\"user\"",
                "\"result\":\"CKR_DEP11_ROOT_KEYS_REVOKED\"" } },
            { { "\"event\":\"availability-use\"", "\"requester\":\"system\"",
                "\"served_by\":\"availability\"", "\"reason\":\"denied\"" } },
            { { "\"event\":\"policy-unwrap\"", "\"requester\":\"system\"",
                "\"served_by\":\"availability\"", "\"reason\":\"denied\"",
                "\"result\":\"CKR_OK\"" } },
        };
        expect_lines(id, w, sizeof w / sizeof w[0]);
    }
    assert_int_equal(count_lines("\"cache\":\"hit\"", NULL), 1);
    itest_blob_free(&b);
}

/* cache-seconds = 2 in a worker (SYSTEM and RECOVERY allowed): the customer
 * revokes elsewhere and ANOTHER process purges. Keys this process cached
 * before (USER and SYSTEM) serve within the bound; after it every
 * requester gets CKR_DEP11_POLICY_PURGED (SYSTEM no longer falls back). */
static void test_purge(void **state)
{
    struct itest_fx *fx = *state;
    struct itest_blob b = { 0 };
    CK_ULONG by = 0, by_user = 0, by_sys = 0;
    CK_RV rv = CKR_OK;
    char id[33];
    double t0 = 0;

    new_policy(fx, &b, "purge.blob");
    policy_id_hex(fx, &b, id, NULL);
    t0 = now_s();
    assert_int_equal(unwrap_by(fx, &b, DEP11_REQUESTER_USER, &by_user), CKR_OK);
    assert_int_equal(unwrap_by(fx, &b, DEP11_REQUESTER_SYSTEM, &by_sys), CKR_OK);
    assert_true(by_user != DEP11_ROOT_AVAILABILITY && by_sys != DEP11_ROOT_AVAILABILITY);
    revoke_elsewhere();
    /* Another process purges; a third, with no cache, sees it at once. */
    assert_int_equal(itest_spawn_purge(fx->t, "dep11-cache2.conf", "purge.blob", &rv), 0);
    assert_int_equal(rv, CKR_OK);
    assert_int_equal(itest_spawn_unwrap(fx->t, "dep11-system-audit.conf", "purge.blob",
                                        DEP11_REQUESTER_SYSTEM, &rv, &by), 0);
    assert_int_equal(rv, CKR_DEP11_POLICY_PURGED);
    /* Here, within the bound: the cached keys, by the roots that served. */
    assert_int_equal(unwrap_by(fx, &b, DEP11_REQUESTER_USER, &by), CKR_OK);
    assert_int_equal(by, by_user);
    assert_int_equal(unwrap_by(fx, &b, DEP11_REQUESTER_SYSTEM, &by), CKR_OK);
    assert_int_equal(by, by_sys);
    if (now_s() - t0 >= 1.9)
        fail_msg("the purge took %.2f s: too slow to test a 2 s cache", now_s() - t0);
    /* After the bound: purged for everyone here too. */
    sleep_until(t0 + 2.2);
    assert_int_equal(unwrap_by(fx, &b, DEP11_REQUESTER_USER, &by), CKR_DEP11_POLICY_PURGED);
    assert_int_equal(unwrap_by(fx, &b, DEP11_REQUESTER_SYSTEM, &by), CKR_DEP11_POLICY_PURGED);
    assert_int_equal(unwrap_by(fx, &b, DEP11_REQUESTER_RECOVERY, &by),
                     CKR_DEP11_POLICY_PURGED);
    {
        const struct want w[] = {
            { { "\"event\":\"policy-unwrap\"", "\"requester\":\"user\"", served(by_user),
                "\"result\":\"CKR_OK\",\"seq\"" } },
            { { "\"event\":\"purge\"" } },
            { { "\"event\":\"policy-unwrap\"", "\"requester\":\"system\"",
                "\"result\":\"CKR_DEP11_POLICY_PURGED\"" } },
            { { "\"event\":\"policy-unwrap\"", "\"requester\":\"user\"", "\"cache\":\"hit\"" } },
            { { "\"event\":\"policy-unwrap\"", "\"requester\":\"system\"", "\"cache\":\"hit\"" } },
            { { "\"event\":\"policy-unwrap\"", "\"requester\":\"user\"",
                "\"result\":\"CKR_DEP11_POLICY_PURGED\"" } },
            { { "\"event\":\"policy-unwrap\"", "\"requester\":\"recovery\"",
                "\"result\":\"CKR_DEP11_POLICY_PURGED\"" } },
        };
        expect_lines(id, w, sizeof w / sizeof w[0]);
    }
    assert_int_equal(count_lines("\"event\":\"availability-use\"", id), 0);
    itest_blob_free(&b);
}

/* cache-seconds = 300: only a flush lets the revocation bite at once. */
static void test_flush(void **state)
{
    struct itest_fx *fx = *state;
    struct itest_blob p = { 0 }, q = { 0 };
    CK_BYTE pid[16];
    CK_ULONG by = 0;
    char pidhex[33], qidhex[33];

    new_policy(fx, &p, NULL);
    new_policy(fx, &q, NULL);
    policy_id_hex(fx, &p, pidhex, pid);
    policy_id_hex(fx, &q, qidhex, NULL);
    assert_int_equal(unwrap_by(fx, &p, DEP11_REQUESTER_USER, &by), CKR_OK);
    assert_int_equal(unwrap_by(fx, &q, DEP11_REQUESTER_USER, &by), CKR_OK);
    revoke_elsewhere();
    assert_int_equal(unwrap_by(fx, &p, DEP11_REQUESTER_USER, &by), CKR_OK);
    assert_int_equal(unwrap_by(fx, &q, DEP11_REQUESTER_USER, &by), CKR_OK);
    assert_int_equal(fx->t->x->DEP11_FlushCache(pid), CKR_OK);
    assert_int_equal(unwrap_by(fx, &p, DEP11_REQUESTER_USER, &by), CKR_DEP11_ROOT_KEYS_REVOKED);
    assert_int_equal(unwrap_by(fx, &q, DEP11_REQUESTER_USER, &by), CKR_OK);   /* still cached */
    assert_int_equal(fx->t->x->DEP11_FlushCache(NULL), CKR_OK);
    assert_int_equal(unwrap_by(fx, &q, DEP11_REQUESTER_USER, &by), CKR_DEP11_ROOT_KEYS_REVOKED);
    assert_int_equal(count_lines(pidhex, "\"cache\":\"hit\""), 1);
    assert_int_equal(count_lines(qidhex, "\"cache\":\"hit\""), 2);
    itest_blob_free(&p);
    itest_blob_free(&q);
}

/* cache-seconds = 0: nothing is kept, the revocation bites at once. */
static void test_nocache(void **state)
{
    struct itest_fx *fx = *state;
    struct itest_blob b = { 0 };
    CK_ULONG by = 0;

    new_policy(fx, &b, NULL);
    assert_int_equal(unwrap_by(fx, &b, DEP11_REQUESTER_USER, &by), CKR_OK);
    assert_int_equal(unwrap_by(fx, &b, DEP11_REQUESTER_USER, &by), CKR_OK);
    revoke_elsewhere();
    assert_int_equal(unwrap_by(fx, &b, DEP11_REQUESTER_USER, &by), CKR_DEP11_ROOT_KEYS_REVOKED);
    assert_int_equal(count_lines("\"cache\":\"hit\"", NULL), 0);
    assert_int_equal(count_lines("\"event\":\"policy-unwrap\"", "\"result\":\"CKR_OK\""), 2);
    itest_blob_free(&b);
}

/* Unwraps @in and wraps the key again (roots @r1/@r2, 0 = provider). */
static void rewrap(struct itest_fx *fx, const struct itest_blob *in, CK_OBJECT_HANDLE r1,
                   CK_OBJECT_HANDLE r2, CK_FLAGS flags, struct itest_blob *out)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, in, DEP11_REQUESTER_USER, &h), CKR_OK);
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, h, r1, r2, flags, out), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, h), CKR_OK);
}

/* The "roots" member of the line with @event: both identities (hex). */
static void roots_of(const char *id, const char *event, char out[2][65])
{
    char *log = read_log(), *line = log, *nl = NULL, *r = NULL;

    for (; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        *nl = '\0';
        if (strstr(line, id) && strstr(line, event) && (r = strstr(line, "\"roots\":[\"")))
            break;
    }
    assert_non_null(r);
    assert_int_equal(sscanf(r, "\"roots\":[\"%64[0-9a-f]\",\"%64[0-9a-f]\"]", out[0], out[1]),
                     2);
    assert_int_equal(strlen(out[0]), 64);
    assert_int_equal(strlen(out[1]), 64);
    free(log);
}

/* Each lifecycle step of DESIGN section 6 is audited as what it is. */
static void test_lifecycle(void **state)
{
    struct itest_fx *fx = *state;
    struct itest_blob v1 = { 0 }, v2 = { 0 }, v3 = { 0 }, v4 = { 0 };
    char id[33], a[2][65], b[2][65], c[2][65];
    CK_ULONG by = 0;

    new_policy(fx, &v1, NULL);
    policy_id_hex(fx, &v1, id, NULL);
    rewrap(fx, &v1, fx->r1, fx->r2, 0, &v2);
    rewrap(fx, &v2, fx->r1, fx->r2, DEP11_WRAP_ROLL_AVAILABILITY, &v3);
    rewrap(fx, &v3, 0, 0, 0, &v4);
    assert_int_equal(unwrap_by(fx, &v4, DEP11_REQUESTER_USER, &by), CKR_OK);
    assert_int_equal(by, DEP11_ROOT_PROVIDER);
    {
        const struct want w[] = {
            { { "\"event\":\"policy-wrap\"", "\"version\":1,", "\"managed_by\":\"customer\"" } },
            { { "\"event\":\"policy-unwrap\"", "\"version\":1,", "\"result\":\"CKR_OK\"" } },
            { { "\"event\":\"refresh\"", "\"version\":2,", "\"managed_by\":\"customer\"" } },
            { { "\"event\":\"policy-unwrap\"", "\"version\":2,", "\"result\":\"CKR_OK\"" } },
            { { "\"event\":\"availability-roll\"", "\"version\":3,", "\"requester\":\"\"" } },
            { { "\"event\":\"policy-unwrap\"", "\"version\":3,", "\"result\":\"CKR_OK\"" } },
            { { "\"event\":\"offboard\"", "\"version\":4,", "\"managed_by\":\"provider\"" } },
            { { "\"event\":\"policy-unwrap\"", "\"version\":4,", "\"served_by\":\"provider\"" } },
        };
        expect_lines(id, w, sizeof w / sizeof w[0]);
    }
    /* The same customer roots on wrap and refresh; provider roots after. */
    roots_of(id, "\"event\":\"policy-wrap\"", a);
    roots_of(id, "\"event\":\"refresh\"", b);
    roots_of(id, "\"event\":\"offboard\"", c);
    assert_string_equal(a[0], b[0]);
    assert_string_equal(a[1], b[1]);
    assert_string_not_equal(a[0], a[1]);
    assert_string_not_equal(c[0], a[0]);
    assert_string_not_equal(c[0], a[1]);
    itest_blob_free(&v1);
    itest_blob_free(&v2);
    itest_blob_free(&v3);
    itest_blob_free(&v4);
}

/* ITEST_ROUNDS rounds of wrap + unwrap (2 audit lines each). */
/* With $ITEST_SYNC_DIR: marks this writer at @stage (a file
 * "<stage>.<pid>") and waits until $ITEST_WRITERS writers are there. The
 * writers meet after C_Initialize and login, and again before C_Finalize:
 * SoftHSM 2.6 rewrites token.object in place at every login, and another
 * process reading it then finds no token (docs/CONFIG.md); that race is
 * not what this test is about, the audit log's is. */
static void meet(const char *stage)
{
    const char *dir = getenv("ITEST_SYNC_DIR"), *nenv = getenv("ITEST_WRITERS");
    char path[1200], pattern[1200];
    double t0 = now_s();
    glob_t g;
    FILE *fp = NULL;
    size_t want = nenv != NULL ? (size_t)atoi(nenv) : 2, have = 0;

    if (dir == NULL)
        return;
    snprintf(path, sizeof path, "%s/%s.%ld", dir, stage, (long)getpid());
    fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fclose(fp), 0);
    snprintf(pattern, sizeof pattern, "%s/%s.*", dir, stage);
    do {
        memset(&g, 0, sizeof g);
        have = glob(pattern, 0, NULL, &g) == 0 ? g.gl_pathc : 0;
        globfree(&g);
        if (have < want)
            sleep_until(now_s() + 0.02);
    } while (have < want && now_s() - t0 < 120);
    assert_true(have >= want);
}

static void test_writer(void **state)
{
    struct itest_fx *fx = *state;
    const char *env = getenv("ITEST_ROUNDS");
    int rounds = env != NULL ? atoi(env) : 20;
    CK_ULONG by = 0;

    meet("ready");
    for (int i = 0; i < rounds; i++) {
        struct itest_blob b = { 0 };
        new_policy(fx, &b, NULL);
        assert_int_equal(unwrap_by(fx, &b, DEP11_REQUESTER_USER, &by), CKR_OK);
        itest_blob_free(&b);
    }
    meet("done");
}

/* cache-seconds = 300, and only the policy's own cache entries flushed: the
 * next unwrap misses the key cache but may use this process's memo of the
 * provider token's records (hier/facts.c). Records written by ANOTHER process
 * change the provider token's mark, so they bite here at once: a newer
 * version committed elsewhere supersedes the blob this process unwrapped
 * (a memo that ignored the mark would serve it), a purge elsewhere is
 * PURGED. */
static void test_memo(void **state)
{
    struct itest_fx *fx = *state;
    struct itest_blob p = { 0 }, q1 = { 0 }, q2 = { 0 };
    CK_BYTE pid[16], qid[16];
    CK_ULONG by = 0;
    CK_RV rv = CKR_OK;
    char hex[33];

    new_policy(fx, &p, "memo-p.blob");
    new_policy(fx, &q1, "memo-q1.blob");
    policy_id_hex(fx, &p, hex, pid);
    policy_id_hex(fx, &q1, hex, qid);
    for (int i = 0; i < 3; i++) { /* commits, then served with the memo */
        assert_int_equal(fx->t->x->DEP11_FlushCache(pid), CKR_OK);
        assert_int_equal(unwrap_by(fx, &p, DEP11_REQUESTER_USER, &by), CKR_OK);
        assert_int_equal(fx->t->x->DEP11_FlushCache(qid), CKR_OK);
        assert_int_equal(unwrap_by(fx, &q1, DEP11_REQUESTER_USER, &by), CKR_OK);
    }
    assert_int_equal(count_lines(hex, "\"cache\":\"hit\""), 0);
    /* what this process remembers of q now says version 1 is committed
     * (a flush of everything drops what it remembered before the commit) */
    assert_int_equal(fx->t->x->DEP11_FlushCache(NULL), CKR_OK);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(fx->t->x->DEP11_FlushCache(qid), CKR_OK);
        assert_int_equal(unwrap_by(fx, &q1, DEP11_REQUESTER_USER, &by), CKR_OK);
    }
    /* version 2 of q, committed by another process */
    rewrap(fx, &q1, fx->r1, fx->r2, 0, &q2);
    assert_int_equal(itest_write_blob(fx->t, "memo-q2.blob", &q2), 0);
    assert_int_equal(itest_spawn_unwrap(fx->t, "dep11-cache2.conf", "memo-q2.blob",
                                        DEP11_REQUESTER_USER, &rv, &by),
                     0);
    assert_int_equal(rv, CKR_OK);
    assert_int_equal(fx->t->x->DEP11_FlushCache(qid), CKR_OK);
    assert_int_equal(unwrap_by(fx, &q1, DEP11_REQUESTER_USER, &by), CKR_DEP11_BLOB_SUPERSEDED);
    assert_int_equal(unwrap_by(fx, &q2, DEP11_REQUESTER_USER, &by), CKR_OK);
    /* p: revoked by the customer, purged by another process */
    assert_int_equal(fx->t->x->DEP11_FlushCache(pid), CKR_OK);
    assert_int_equal(unwrap_by(fx, &p, DEP11_REQUESTER_USER, &by), CKR_OK);
    revoke_elsewhere();
    assert_int_equal(itest_spawn_purge(fx->t, "dep11-cache2.conf", "memo-p.blob", &rv), 0);
    assert_int_equal(rv, CKR_OK);
    assert_int_equal(fx->t->x->DEP11_FlushCache(pid), CKR_OK);
    assert_int_equal(unwrap_by(fx, &p, DEP11_REQUESTER_USER, &by), CKR_DEP11_POLICY_PURGED);
    itest_blob_free(&p);
    itest_blob_free(&q1);
    itest_blob_free(&q2);
}

int main(int argc, char **argv)
{
#define T(f) cmocka_unit_test_setup_teardown(f, itest_setup, itest_teardown)
    const struct CMUnitTest bound[] = { T(test_bound) };
    const struct CMUnitTest flush[] = { T(test_flush) };
    const struct CMUnitTest nocache[] = { T(test_nocache) };
    const struct CMUnitTest purge[] = { T(test_purge) };
    const struct CMUnitTest lifecycle[] = { T(test_lifecycle) };
    const struct CMUnitTest writer[] = { T(test_writer) };
    const struct CMUnitTest memo[] = { T(test_memo) };
#undef T
    const char *what = argc > 1 ? argv[1] : "";

    if (strcmp(what, "bound") == 0)
        return cmocka_run_group_tests_name("cache: 2 s bound", bound, itest_group_setup,
                                           itest_group_teardown);
    if (strcmp(what, "flush") == 0)
        return cmocka_run_group_tests_name("cache: flush", flush, itest_group_setup,
                                           itest_group_teardown);
    if (strcmp(what, "nocache") == 0)
        return cmocka_run_group_tests_name("cache: off", nocache, itest_group_setup,
                                           itest_group_teardown);
    if (strcmp(what, "purge") == 0)
        return cmocka_run_group_tests_name("cache: a purge elsewhere, 2 s bound", purge,
                                           itest_group_setup, itest_group_teardown);
    if (strcmp(what, "lifecycle") == 0)
        return cmocka_run_group_tests_name("audit: lifecycle events", lifecycle,
                                           itest_group_setup, itest_group_teardown);
    if (strcmp(what, "writer") == 0)
        return cmocka_run_group_tests_name("audit: a writer", writer, itest_group_setup,
                                           itest_group_teardown);
    if (strcmp(what, "memo") == 0)
        return cmocka_run_group_tests_name("cache: the facts memo, writes elsewhere", memo,
                                           itest_group_setup, itest_group_teardown);
    fprintf(stderr, "usage: %s bound|flush|nocache|purge|lifecycle|writer|memo\n", argv[0]);
    return 2;
}
