/*
 * test_audit.c - the hash-chained audit log (module/util/audit.c): line
 * format and field order, the chain across writes and re-opens, refusals,
 * 4 threads and 8 processes appending at once, and the Python verifier
 * (scripts/dep11-audit-verify) accepting the result and catching edits.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "dep11.h"
#include "util/audit.h"

#define NPROC 8
#define NPROC_LINES 200
#define NTHREAD 4
#define NTHREAD_LINES 100

struct fx {
    char dir[128];
    char path[192];
    char scratch[192];       /* a second file for the verifier's cases */
};

/* One log read back: lines without their newlines. */
struct log {
    char *buf;
    size_t len;
    char **line;
    size_t *line_len;
    size_t n;
};

static const uint8_t PID[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t TENANT[16] = { 0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7,
                                    0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff };

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    if (fx == NULL)
        return -1;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/dep11-test-audit-XXXXXX");
    if (mkdtemp(fx->dir) == NULL)
        return -1;
    snprintf(fx->path, sizeof(fx->path), "%s/audit.jsonl", fx->dir);
    snprintf(fx->scratch, sizeof(fx->scratch), "%s/edited.jsonl", fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    dep11_audit_close();
    unlink(fx->path);
    unlink(fx->scratch);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static struct dep11_audit_event ev(const char *event, CK_ULONG requester, CK_ULONG served,
                                   const char *reason, const char *extra)
{
    struct dep11_audit_event e = { event, PID, 3, requester, served, reason, extra,
                                   NULL, NULL, CKR_OK };
    return e;
}

static void sha256_hex(const char *p, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int len = 0;

    assert_int_equal(EVP_Digest(p, n, md, &len, EVP_sha256(), NULL), 1);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void log_read(const char *path, struct log *l)
{
    FILE *fp = fopen(path, "rb");
    size_t cap = 0;

    memset(l, 0, sizeof(*l));
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    l->len = (size_t)ftell(fp);
    rewind(fp);
    l->buf = malloc(l->len + 1);
    assert_non_null(l->buf);
    assert_int_equal(fread(l->buf, 1, l->len, fp), l->len);
    fclose(fp);
    l->buf[l->len] = '\0';
    for (size_t i = 0; i < l->len; i++)
        cap += l->buf[i] == '\n';
    l->line = calloc(cap + 1, sizeof(*l->line));
    l->line_len = calloc(cap + 1, sizeof(*l->line_len));
    assert_true(l->line != NULL && l->line_len != NULL);
    for (char *p = l->buf, *nl; (nl = memchr(p, '\n', l->buf + l->len - p)) != NULL; p = nl + 1) {
        l->line[l->n] = p;
        l->line_len[l->n] = (size_t)(nl - p);
        l->n++;
    }
}

static void log_free(struct log *l)
{
    free(l->buf);
    free(l->line);
    free(l->line_len);
}

/* Position of @needle in line @i (which is NUL-free), or -1. */
static long find_in(const struct log *l, size_t i, const char *needle)
{
    size_t k = strlen(needle);

    for (size_t p = 0; p + k <= l->line_len[i]; p++)
        if (memcmp(l->line[i] + p, needle, k) == 0)
            return (long)p;
    return -1;
}

/* Every line one record with its fields in the fixed order, seq counting
 * from 1, and prev the SHA-256 of the line before (zeros first). */
static void check_chain(const char *path, size_t want_lines)
{
    static const char *const order[] = {
        "{\"event\":\"", "\",\"time\":\"", "\",\"policy_id\":\"", "\",\"version\":",
        ",\"requester\":\"", "\",\"served_by\":\"", "\",\"reason\":\"", ",\"seq\":",
        ",\"prev\":\"",
    };
    char want[65];
    struct log l;

    log_read(path, &l);
    assert_int_equal(l.n, want_lines);
    assert_true(l.len == 0 || l.buf[l.len - 1] == '\n');
    memset(want, '0', 64);
    want[64] = '\0';
    for (size_t i = 0; i < l.n; i++) {
        long last = -1, seq_at = find_in(&l, i, ",\"seq\":");
        char tail[80];

        assert_true(memchr(l.line[i], '\0', l.line_len[i]) == NULL);
        for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
            long at = find_in(&l, i, order[k]);
            if (at <= last)
                fail_msg("line %zu: '%s' missing or out of order", i + 1, order[k]);
            last = at;
        }
        assert_int_equal(strtoull(l.line[i] + seq_at + 7, NULL, 10), i + 1);
        snprintf(tail, sizeof(tail), ",\"prev\":\"%s\"}", want);
        assert_true(l.line_len[i] > strlen(tail));
        if (memcmp(l.line[i] + l.line_len[i] - strlen(tail), tail, strlen(tail)) != 0)
            fail_msg("line %zu: prev does not chain", i + 1);
        sha256_hex(l.line[i], l.line_len[i], want);
    }
    log_free(&l);
}

static off_t file_size(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* The exact text of a line, and a time that is now, in UTC. */
static void test_format(void **state)
{
    struct fx *fx = *state;
    struct dep11_audit_event e = ev("policy-unwrap", DEP11_REQUESTER_SYSTEM,
                                    DEP11_ROOT_AVAILABILITY, "denied", "\"cache\":\"hit\"");
    struct tm tm;
    struct log l;
    char expect[1024];
    time_t t0 = time(NULL), t = 0;
    long at = 0;

    char host[256], tail[512];

    e.tenant = TENANT;
    e.token = "serial \"7\"";
    e.result = CKR_DEP11_TENANT_MISMATCH;
    assert_int_equal(gethostname(host, sizeof host), 0);
    assert_int_equal(dep11_audit_open(fx->path), CKR_OK);
    assert_int_equal(dep11_audit_write(&e), CKR_OK);
    e = ev("policy-wrap", 0, 0, NULL, NULL);
    e.policy_id = NULL;
    assert_int_equal(dep11_audit_write(&e), CKR_OK);
    log_read(fx->path, &l);
    assert_int_equal(l.n, 2);
    /* {"event":"policy-unwrap","time":"YYYY-MM-DDTHH:MM:SSZ",... */
    at = find_in(&l, 0, "\"time\":\"") + 8;
    assert_int_equal(at, 33);
    memset(&tm, 0, sizeof(tm));
    assert_non_null(strptime(l.line[0] + at, "%Y-%m-%dT%H:%M:%SZ", &tm));
    assert_int_equal(l.line[0][at + 19], 'Z');
    assert_int_equal(l.line[0][at + 20], '"');
    t = timegm(&tm);
    assert_true(t >= t0 - 1 && t <= time(NULL) + 1);
    snprintf(expect, sizeof(expect),
             "{\"event\":\"policy-unwrap\",\"time\":\"%.20s\",\"policy_id\":"
             "\"000102030405060708090a0b0c0d0e0f\",\"version\":3,\"requester\":\"system\","
             "\"served_by\":\"availability\",\"reason\":\"denied\","
             "\"tenant\":\"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\",\"token\":\"serial \\\"7\\\"\","
             "\"host\":\"%s\",\"pid\":%ld,\"result\":\"CKR_DEP11_TENANT_MISMATCH\","
             "\"cache\":\"hit\",\"seq\":1,\"prev\":\"%064d\"}", l.line[0] + at, host,
             (long)getpid(), 0);
    assert_int_equal(l.line_len[0], strlen(expect));
    assert_memory_equal(l.line[0], expect, strlen(expect));
    /* No policy, no requester, no server: empty strings, not absent fields. */
    snprintf(tail, sizeof tail, "\"policy_id\":\"\",\"version\":3,\"requester\":\"\","
             "\"served_by\":\"\",\"reason\":\"\",\"tenant\":\"\",\"token\":\"\",\"host\":\"%s\","
             "\"pid\":%ld,\"result\":\"CKR_OK\",\"seq\":2,", host, (long)getpid());
    assert_true(find_in(&l, 1, tail) > 0);
    log_free(&l);
    check_chain(fx->path, 2);
}

static void test_mode_and_no_log(void **state)
{
    struct fx *fx = *state;
    struct dep11_audit_event e = ev("refresh", 0, 0, NULL, NULL);
    struct stat st;

    /* No log configured: writes succeed and go nowhere. */
    assert_int_equal(dep11_audit_open(""), CKR_OK);
    assert_int_equal(dep11_audit_write(&e), CKR_OK);
    assert_int_equal(dep11_audit_open(NULL), CKR_OK);
    assert_int_equal(dep11_audit_write(&e), CKR_OK);
    assert_int_equal(access(fx->path, F_OK), -1);
    assert_int_equal(dep11_audit_open(fx->path), CKR_OK);
    assert_int_equal(stat(fx->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_true(S_ISREG(st.st_mode));
    /* A directory or an unreachable path cannot be the log. */
    assert_int_equal(dep11_audit_open(fx->dir), CKR_FUNCTION_FAILED);
    assert_int_equal(dep11_audit_open("/nonexistent-dir/x/audit.jsonl"), CKR_FUNCTION_FAILED);
}

static void test_chain_and_reopen(void **state)
{
    struct fx *fx = *state;
    static const char *const events[] = { "policy-wrap", "policy-unwrap", "availability-use",
                                          "availability-roll", "refresh", "purge", "offboard" };
    struct dep11_audit_event e;

    assert_int_equal(dep11_audit_open(fx->path), CKR_OK);
    for (int i = 0; i < 40; i++) {
        e = ev(events[i % 7], (CK_ULONG)(i % 4), (CK_ULONG)(i % 5),
               i % 3 == 0 ? "transient" : "", i % 2 ? "\"n\":1" : NULL);
        assert_int_equal(dep11_audit_write(&e), CKR_OK);
    }
    check_chain(fx->path, 40);
    dep11_audit_close();
    /* Closed: nothing written, no error. */
    assert_int_equal(dep11_audit_write(&e), CKR_OK);
    check_chain(fx->path, 40);
    /* Re-opened (a new C_Initialize): the chain and seq continue. */
    assert_int_equal(dep11_audit_open(fx->path), CKR_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal(dep11_audit_write(&e), CKR_OK);
    check_chain(fx->path, 45);
}

/* Lines longer than one read block: the backwards scan crosses blocks. */
static void test_long_lines(void **state)
{
    struct fx *fx = *state;
    char *extra = malloc(4001);
    struct dep11_audit_event e;

    assert_non_null(extra);
    memcpy(extra, "\"pad\":\"", 7);
    memset(extra + 7, 'x', 4000 - 8);
    memcpy(extra + 3999, "\"", 2);
    e = ev("policy-unwrap", 1, 1, NULL, extra);
    assert_int_equal(dep11_audit_open(fx->path), CKR_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(dep11_audit_write(&e), CKR_OK);
    e.extra_json = NULL;
    assert_int_equal(dep11_audit_write(&e), CKR_OK);
    assert_int_equal(dep11_audit_write(&e), CKR_OK);
    check_chain(fx->path, 5);
    assert_true(file_size(fx->path) > 3 * 4096);
    free(extra);
}

/* Outside the vocabulary, or extra members that would break the record:
 * CKR_ARGUMENTS_BAD and nothing written. */
static void test_rejects(void **state)
{
    struct fx *fx = *state;
    struct dep11_audit_event bad[] = {
        ev("policy-delete", 1, 1, NULL, NULL),     ev(NULL, 1, 1, NULL, NULL),
        ev("policy-unwrap", 4, 1, NULL, NULL),     ev("policy-unwrap", 1, 5, NULL, NULL),
        ev("policy-unwrap", 1, 3, "lost", NULL),   ev("refresh", 0, 0, NULL, "\"a\":\"b\n\""),
        ev("refresh", 0, 0, NULL, "\"prev\":\"0\""), ev("refresh", 0, 0, NULL, "\"seq\":9"),
        ev("refresh", 0, 0, NULL, ",\"a\":1"),      ev("refresh", 0, 0, NULL, "\"a\":1,"),
    };
    struct dep11_audit_event good = ev("purge", 0, 0, NULL, NULL);

    assert_int_equal(dep11_audit_open(fx->path), CKR_OK);
    assert_int_equal(dep11_audit_write(&good), CKR_OK);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (dep11_audit_write(&bad[i]) != CKR_ARGUMENTS_BAD)
            fail_msg("case %zu was accepted", i);
    assert_int_equal(dep11_audit_write(NULL), CKR_ARGUMENTS_BAD);
    check_chain(fx->path, 1);
}

/* A log ending in a partial line (a crash, a hand edit) is not chained
 * onto: the write fails and the file is left as it is. */
static void test_partial_last_line(void **state)
{
    struct fx *fx = *state;
    struct dep11_audit_event e = ev("purge", 0, 0, NULL, NULL);
    int fd = -1;
    off_t size = 0;

    assert_int_equal(dep11_audit_open(fx->path), CKR_OK);
    assert_int_equal(dep11_audit_write(&e), CKR_OK);
    fd = open(fx->path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "{\"event\":", 9), 9);
    close(fd);
    size = file_size(fx->path);
    assert_int_equal(dep11_audit_write(&e), CKR_FUNCTION_FAILED);
    assert_int_equal(file_size(fx->path), size);
}

static void *thread_writer(void *arg)
{
    intptr_t id = (intptr_t)arg;
    char extra[64];
    struct dep11_audit_event e;

    for (int i = 0; i < NTHREAD_LINES; i++) {
        snprintf(extra, sizeof(extra), "\"writer\":%ld,\"n\":%d", (long)id, i);
        e = ev("policy-unwrap", 1, 2, NULL, extra);
        if (dep11_audit_write(&e) != CKR_OK)
            return (void *)1;
    }
    return NULL;
}

/* Each (writer, n) appears exactly once and in order: no line lost,
 * doubled or torn. */
static void check_writers(const char *path, int writers, int per_writer)
{
    struct log l;
    int *next = calloc((size_t)writers, sizeof(int));

    assert_non_null(next);
    log_read(path, &l);
    assert_int_equal(l.n, (size_t)(writers * per_writer));
    for (size_t i = 0; i < l.n; i++) {
        long at = find_in(&l, i, "\"writer\":");
        int w = -1, n = -1;
        assert_true(at > 0);
        assert_int_equal(sscanf(l.line[i] + at, "\"writer\":%d,\"n\":%d", &w, &n), 2);
        assert_true(w >= 0 && w < writers);
        assert_int_equal(n, next[w]);
        next[w]++;
    }
    log_free(&l);
    free(next);
}

static void test_threads(void **state)
{
    struct fx *fx = *state;
    pthread_t th[NTHREAD];
    void *res = NULL;

    assert_int_equal(dep11_audit_open(fx->path), CKR_OK);
    for (intptr_t i = 0; i < NTHREAD; i++)
        assert_int_equal(pthread_create(&th[i], NULL, thread_writer, (void *)i), 0);
    for (int i = 0; i < NTHREAD; i++) {
        assert_int_equal(pthread_join(th[i], &res), 0);
        assert_null(res);
    }
    check_chain(fx->path, NTHREAD * NTHREAD_LINES);
    check_writers(fx->path, NTHREAD, NTHREAD_LINES);
}

/* Runs the Python verifier on @path; its exit status, and its output in
 * @out. Skips the test when not run through make check. */
static int run_verifier(const char *path, char *out, size_t cap)
{
    const char *src = getenv("abs_top_srcdir"), *py = getenv("PYTHON");
    char cmd[1024];
    FILE *p = NULL;
    size_t n = 0;
    int st = 0;

    if (src == NULL)
        skip();
    snprintf(cmd, sizeof(cmd), "'%s' '%s/scripts/dep11-audit-verify' %s 2>&1",
             py != NULL && py[0] != '\0' ? py : "/usr/bin/python3", src, path);
    p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    st = pclose(p);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

/* 8 processes x 200 lines into one log, each with its own descriptor (as
 * 8 services would): one valid chain, every line whole. */
static void test_processes(void **state)
{
    struct fx *fx = *state;
    pid_t pid[NPROC];
    char out[1024];
    int st = 0;

    for (int w = 0; w < NPROC; w++) {
        pid[w] = fork();
        assert_true(pid[w] >= 0);
        if (pid[w] == 0) {
            char extra[64];
            struct dep11_audit_event e;
            int bad = dep11_audit_open(fx->path) != CKR_OK;
            for (int i = 0; i < NPROC_LINES && !bad; i++) {
                snprintf(extra, sizeof(extra), "\"writer\":%d,\"n\":%d", w, i);
                e = ev(i % 2 ? "policy-unwrap" : "availability-use", 2, 3, "transient", extra);
                bad = dep11_audit_write(&e) != CKR_OK;
            }
            _exit(bad);
        }
    }
    for (int w = 0; w < NPROC; w++) {
        assert_int_equal(waitpid(pid[w], &st, 0), pid[w]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    check_chain(fx->path, NPROC * NPROC_LINES);
    check_writers(fx->path, NPROC, NPROC_LINES);
    assert_int_equal(run_verifier(fx->path, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "OK: 1600 lines verify"));
}

/* Writes @l's lines to @path, line @skip left out, line @dup inserted
 * again before line @at, lines @a/@b swapped (all 1-based; 0 = none). */
static void write_edited(const char *path, const struct log *l, size_t skip, size_t dup,
                         size_t at, size_t a, size_t b)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    for (size_t i = 1; i <= l->n; i++) {
        size_t k = i == a ? b : i == b ? a : i;
        if (i == at)
            fprintf(fp, "%.*s\n", (int)l->line_len[dup - 1], l->line[dup - 1]);
        if (i != skip)
            fprintf(fp, "%.*s\n", (int)l->line_len[k - 1], l->line[k - 1]);
    }
    fclose(fp);
}

/* The verifier accepts the log, and names the first bad line and what
 * happened for a changed byte, a removed, inserted or swapped line. */
static void test_verifier(void **state)
{
    struct fx *fx = *state;
    struct dep11_audit_event e = ev("policy-unwrap", 1, 1, NULL, NULL);
    struct log l;
    char out[1024];
    long at = 0;
    FILE *fp = NULL;

    assert_int_equal(dep11_audit_open(fx->path), CKR_OK);
    for (int i = 0; i < 20; i++)
        assert_int_equal(dep11_audit_write(&e), CKR_OK);
    assert_int_equal(run_verifier(fx->path, out, sizeof(out)), 0);
    log_read(fx->path, &l);

    /* A changed byte in line 10 (still valid JSON: a policy id digit). */
    at = find_in(&l, 9, "\"policy_id\":\"") + 13;
    l.line[9][at] = l.line[9][at] == '0' ? '1' : '0';
    write_edited(fx->scratch, &l, 0, 0, 0, 0, 0);
    assert_int_equal(run_verifier(fx->scratch, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "line 10: changed"));
    l.line[9][at] = l.line[9][at] == '0' ? '1' : '0';
    /* A changed byte that breaks the JSON. */
    l.line[4][0] = '[';
    write_edited(fx->scratch, &l, 0, 0, 0, 0, 0);
    assert_int_equal(run_verifier(fx->scratch, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "line 5: malformed"));
    l.line[4][0] = '{';
    write_edited(fx->scratch, &l, 0, 0, 0, 0, 0);
    assert_int_equal(run_verifier(fx->scratch, out, sizeof(out)), 0);

    write_edited(fx->scratch, &l, 7, 0, 0, 0, 0);          /* line 7 removed */
    assert_int_equal(run_verifier(fx->scratch, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "line 7: removed"));
    write_edited(fx->scratch, &l, 1, 0, 0, 0, 0);          /* the first removed */
    assert_int_equal(run_verifier(fx->scratch, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "line 1 does not start the chain"));
    write_edited(fx->scratch, &l, 0, 3, 12, 0, 0);         /* line 3 again at 12 */
    assert_int_equal(run_verifier(fx->scratch, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "line 12: inserted"));
    write_edited(fx->scratch, &l, 0, 0, 0, 8, 9);          /* 8 and 9 swapped */
    assert_int_equal(run_verifier(fx->scratch, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "lines 8 and 9 are swapped"));
    log_free(&l);

    /* A partial line appended; usage errors. */
    fp = fopen(fx->scratch, "ab");
    assert_non_null(fp);
    fputs("{\"event\":", fp);
    fclose(fp);
    assert_int_equal(run_verifier(fx->scratch, out, sizeof(out)), 1);
    assert_int_equal(run_verifier("", out, sizeof(out)), 2);
    assert_int_equal(run_verifier("/nonexistent/audit.jsonl", out, sizeof(out)), 2);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_format),         T(test_mode_and_no_log), T(test_chain_and_reopen),
        T(test_long_lines),     T(test_rejects),         T(test_partial_last_line),
        T(test_threads),        T(test_processes),       T(test_verifier),
    };
#undef T
    return cmocka_run_group_tests_name("audit log", tests, NULL, NULL);
}
