/*
 * test_log.c - unit tests of module/util/log.c: DEP11_DEBUG parsing, level
 * filtering, the line format, whole lines under concurrency, CK_RV names.
 * main() points DEP11_DEBUG=3 and DEP11_DEBUG_FILE at a temp file first.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dep11.h"
#include "util/log.h"

struct logcap {
    const char *path;   /* DEP11_DEBUG_FILE */
    off_t off;          /* its size when the test started */
};

static int
setup(void **state)
{
    struct logcap *lc = calloc(1, sizeof *lc);
    struct stat st;

    if (lc == NULL)
        return -1;
    lc->path = getenv("DEP11_DEBUG_FILE");
    if (lc->path == NULL)
        return -1;
    lc->off = stat(lc->path, &st) == 0 ? st.st_size : 0;
    *state = lc;
    return 0;
}

static int
teardown(void **state)
{
    free(*state);
    return 0;
}

/* What was logged since setup(); caller frees. */
static char *
captured(const struct logcap *lc)
{
    FILE *f = fopen(lc->path, "r");
    char *buf = NULL;
    long end = 0;
    size_t n = 0;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    end = ftell(f);
    assert_true(end >= lc->off);
    buf = calloc(1, (size_t)(end - lc->off) + 1);
    assert_non_null(buf);
    assert_int_equal(fseek(f, lc->off, SEEK_SET), 0);
    n = fread(buf, 1, (size_t)(end - lc->off), f);
    assert_int_equal(n, (size_t)(end - lc->off));
    fclose(f);
    return buf;
}

static void
test_parse_level(void **state)
{
    (void)state;
    assert_int_equal(dep11_log_parse_level(NULL), 1);
    assert_int_equal(dep11_log_parse_level(""), 1);
    assert_int_equal(dep11_log_parse_level("0"), 0);
    assert_int_equal(dep11_log_parse_level("1"), 1);
    assert_int_equal(dep11_log_parse_level("2"), 2);
    assert_int_equal(dep11_log_parse_level("3"), 3);
    assert_int_equal(dep11_log_parse_level("4"), 4);
    assert_int_equal(dep11_log_parse_level("5"), 4);
    assert_int_equal(dep11_log_parse_level("99"), 4);
    assert_int_equal(dep11_log_parse_level("-1"), 1);
    assert_int_equal(dep11_log_parse_level("+3"), 1);
    assert_int_equal(dep11_log_parse_level(" 3"), 1);
    assert_int_equal(dep11_log_parse_level("3x"), 1);
    assert_int_equal(dep11_log_parse_level("debug"), 1);
    assert_int_equal(dep11_log_parse_level("99999999999999999999999"), 1);
}

static void
test_enabled_follows_env(void **state)
{
    (void)state;
    /* main() set DEP11_DEBUG=3 before the first log call. */
    assert_false(dep11_log_enabled(0));
    assert_true(dep11_log_enabled(DEP11_LOG_ERROR));
    assert_true(dep11_log_enabled(DEP11_LOG_WARN));
    assert_true(dep11_log_enabled(DEP11_LOG_INFO));
    assert_false(dep11_log_enabled(DEP11_LOG_DEBUG));
    assert_false(dep11_log_enabled(5));
}

static void
test_line_format(void **state)
{
    const struct logcap *lc = *state;
    char expect[256];
    char *got = NULL;
    int line = 0;

    LOG_DEBUG("not shown at level 3");
    line = __LINE__ + 1;
    LOG_INFO("hello %d %s", 42, "world");
    LOG_FAIL(CKR_ARGUMENTS_BAD, "also a debug line");
    snprintf(expect, sizeof expect,
             "dep11[%ld]: INFO unit/test_log.c:%d test_line_format: "
             "hello 42 world\n", (long)getpid(), line);
    got = captured(lc);
    assert_string_equal(got, expect);
    free(got);
}

static void
test_levels_named(void **state)
{
    const struct logcap *lc = *state;
    char *got = NULL;

    LOG_ERROR("e");
    LOG_WARN("w");
    got = captured(lc);
    assert_non_null(strstr(got, ": ERROR unit/test_log.c:"));
    assert_non_null(strstr(got, ": WARN unit/test_log.c:"));
    assert_null(strstr(got, "DEBUG"));
    free(got);
}

static void
test_one_record_one_line(void **state)
{
    const struct logcap *lc = *state;
    char *got = NULL;

    LOG_ERROR("first\nforged line\r\tend");
    got = captured(lc);
    assert_non_null(strstr(got, "first?forged line??end\n"));
    assert_ptr_equal(strchr(got, '\n'), got + strlen(got) - 1);
    free(got);
}

static void
test_long_message_truncated(void **state)
{
    const struct logcap *lc = *state;
    char *msg = malloc(10000);
    char *got = NULL;
    size_t n = 0;

    assert_non_null(msg);
    memset(msg, 'x', 9999);
    msg[9999] = '\0';
    LOG_ERROR("%s", msg);
    got = captured(lc);
    n = strlen(got);
    assert_true(n > 1000 && n <= 2048);
    assert_int_equal(got[n - 1], '\n');
    assert_memory_equal(got + n - 4, "...", 3);
    assert_ptr_equal(strchr(got, '\n'), got + n - 1);
    free(got);
    free(msg);
}

#define THREADS 8
#define PER_THREAD 200
#define PAYLOAD 300

static void *
log_worker(void *arg)
{
    char payload[PAYLOAD + 1];
    int t = (int)(intptr_t)arg;
    int i = 0;

    memset(payload, 'a' + t, PAYLOAD);
    payload[PAYLOAD] = '\0';
    for (i = 0; i < PER_THREAD; i++)
        LOG_INFO("t%d i%03d %s|", t, i, payload);
    return NULL;
}

static void
test_threads_never_interleave(void **state)
{
    const struct logcap *lc = *state;
    pthread_t th[THREADS];
    int counts[THREADS] = { 0 };
    char *got = NULL;
    char *line = NULL;
    char *save = NULL;
    int total = 0;
    int t = 0;

    for (t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, log_worker,
                                        (void *)(intptr_t)t), 0);
    for (t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    got = captured(lc);
    for (line = strtok_r(got, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        const char *m = strstr(line, "log_worker: t");
        int i = 0;
        size_t k = 0;

        assert_non_null(m);
        assert_ptr_equal(line, strstr(line, "dep11["));
        assert_int_equal(sscanf(m, "log_worker: t%d i%d", &t, &i), 2);
        assert_true(t >= 0 && t < THREADS);
        m = strchr(m + 13, ' ') + 1;
        m = strchr(m, ' ') + 1;
        for (k = 0; k < PAYLOAD; k++)
            assert_int_equal(m[k], 'a' + t);
        assert_string_equal(m + PAYLOAD, "|");
        counts[t]++;
        total++;
    }
    assert_int_equal(total, THREADS * PER_THREAD);
    for (t = 0; t < THREADS; t++)
        assert_int_equal(counts[t], PER_THREAD);
    free(got);
}

static void
test_rv_names_known(void **state)
{
    (void)state;
    assert_string_equal(dep11_rv_name(CKR_OK), "CKR_OK");
    assert_string_equal(dep11_rv_name(CKR_HOST_MEMORY), "CKR_HOST_MEMORY");
    assert_string_equal(dep11_rv_name(CKR_FUNCTION_FAILED),
                        "CKR_FUNCTION_FAILED");
    assert_string_equal(dep11_rv_name(CKR_UNWRAPPING_KEY_HANDLE_INVALID),
                        "CKR_UNWRAPPING_KEY_HANDLE_INVALID");
    assert_string_equal(dep11_rv_name(CKR_PIN_INCORRECT), "CKR_PIN_INCORRECT");
    assert_string_equal(dep11_rv_name(CKR_BUFFER_TOO_SMALL),
                        "CKR_BUFFER_TOO_SMALL");
    assert_string_equal(dep11_rv_name(CKR_PUBLIC_KEY_INVALID),
                        "CKR_PUBLIC_KEY_INVALID");
    assert_string_equal(dep11_rv_name(CKR_FUNCTION_REJECTED),
                        "CKR_FUNCTION_REJECTED");
    assert_string_equal(dep11_rv_name(CKR_VENDOR_DEFINED),
                        "CKR_VENDOR_DEFINED");
}

static void
test_rv_names_dep11(void **state)
{
    (void)state;
    assert_string_equal(dep11_rv_name(CKR_DEP11_ROOT_KEYS_REVOKED),
                        "CKR_DEP11_ROOT_KEYS_REVOKED");
    assert_string_equal(dep11_rv_name(CKR_DEP11_ROOT_KEYS_UNAVAILABLE),
                        "CKR_DEP11_ROOT_KEYS_UNAVAILABLE");
    assert_string_equal(dep11_rv_name(CKR_DEP11_POLICY_PURGED),
                        "CKR_DEP11_POLICY_PURGED");
    assert_string_equal(dep11_rv_name(CKR_DEP11_POLICY_LIMIT),
                        "CKR_DEP11_POLICY_LIMIT");
    assert_string_equal(dep11_rv_name(CKR_DEP11_TENANT_MISMATCH),
                        "CKR_DEP11_TENANT_MISMATCH");
    assert_string_equal(dep11_rv_name(CKR_DEP11_BLOB_SUPERSEDED),
                        "CKR_DEP11_BLOB_SUPERSEDED");
    assert_string_equal(dep11_rv_name(DEP11_CKR(7)), "CKR_0x8de11007");
}

/* All 94 standard codes below CKR_VENDOR_DEFINED in p11-kit's pkcs11.h
 * (v2.40) have a name, each name is distinct, and nothing else does. */
static void
test_rv_names_complete(void **state)
{
    const char *names[0x201] = { NULL };
    CK_RV rv = 0;
    CK_RV j = 0;
    int known = 0;

    (void)state;
    for (rv = 0; rv <= 0x200; rv++) {
        const char *n = dep11_rv_name(rv);
        char unknown[32];

        assert_int_equal(strncmp(n, "CKR_", 4), 0);
        snprintf(unknown, sizeof unknown, "CKR_0x%lx", (unsigned long)rv);
        if (strcmp(n, unknown) == 0)
            continue;
        known++;
        for (j = 0; j < rv; j++)
            assert_false(names[j] != NULL && strcmp(names[j], n) == 0);
        names[rv] = n;
    }
    assert_int_equal(known, 94);
}

static void *
name_worker(void *arg)
{
    const char *n = dep11_rv_name(0x7777);

    /* Another thread's buffer: this one is untouched by the main thread. */
    *(const char **)arg = n;
    return NULL;
}

static void
test_rv_names_unknown(void **state)
{
    const char *mine = NULL;
    const char *theirs = NULL;
    pthread_t th;

    (void)state;
    assert_string_equal(dep11_rv_name(0x12345), "CKR_0x12345");
    assert_string_equal(dep11_rv_name(0x7fffffffUL), "CKR_0x7fffffff");
    assert_string_equal(dep11_rv_name(CKR_VENDOR_DEFINED | 1),
                        "CKR_0x80000001");
    mine = dep11_rv_name(0x4444);
    assert_int_equal(pthread_create(&th, NULL, name_worker, &theirs), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_ptr_not_equal(mine, theirs);
    assert_string_equal(mine, "CKR_0x4444");
}

int
main(void)
{
    char dir[] = "/tmp/dep11-test-log-XXXXXX";
    char path[sizeof dir + 16];
    int rc = 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_level),
        cmocka_unit_test(test_enabled_follows_env),
        cmocka_unit_test_setup_teardown(test_line_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_levels_named, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_record_one_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_long_message_truncated, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_threads_never_interleave, setup,
                                        teardown),
        cmocka_unit_test(test_rv_names_known),
        cmocka_unit_test(test_rv_names_dep11),
        cmocka_unit_test(test_rv_names_complete),
        cmocka_unit_test(test_rv_names_unknown),
    };

    if (mkdtemp(dir) == NULL)
        return 99;
    snprintf(path, sizeof path, "%s/log", dir);
    /* Before any log call: the level and file are read once. */
    setenv("DEP11_DEBUG", "3", 1);
    setenv("DEP11_DEBUG_FILE", path, 1);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(path);
    rmdir(dir);
    return rc;
}
