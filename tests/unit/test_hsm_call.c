/*
 * test_hsm_call.c - unit tests of module/hsm/call.[ch] and retry.c: every
 * backend call goes through one wrapper that answers for a missing backend
 * or function, passes arguments and results through untouched, traces the
 * name and result (never an argument) at debug level, serializes
 * C_GetTokenInfo, and the one retry policy counts, filters and pauses.
 * main() points DEP11_DEBUG=4 and DEP11_DEBUG_FILE at a temp file first.
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hsm/backend.h"
#include "hsm/call.h"
#include "hsm/retry.h"
#include "util/log.h"

/* retry.c reads the loaded profile; none here (retries 1, backoff 0). */
const struct dep11_profile *dep11_hsm_profile(void) { return NULL; }

static char log_path[] = "/tmp/dep11-test-hsm-call-XXXXXX";

/* What the log file holds (malloc'd, NUL-terminated). */
static char *log_text(void)
{
    FILE *f = fopen(log_path, "r");
    char *buf = calloc(1, 1 << 20);
    size_t n = 0;

    assert_non_null(f);
    assert_non_null(buf);
    n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    (void)fclose(f);
    return buf;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* ---- a backend double ---- */

static CK_SESSION_HANDLE seen_session;
static CK_USER_TYPE seen_user;
static CK_ULONG seen_pin_len;
static int in_token_info, max_in_token_info, token_info_calls;

static CK_RV be_login(CK_SESSION_HANDLE s, CK_USER_TYPE u, CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
    seen_session = s;
    seen_user = u;
    seen_pin_len = len;
    (void)pin;
    return CKR_PIN_INCORRECT;
}

static CK_RV be_token_info(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR ti)
{
    /* Plain ints on purpose: the wrapper's lock is what keeps them exact
     * (and what keeps ThreadSanitizer quiet). */
    int now = ++in_token_info;
    struct timespec ts = { 0, 200000 };

    if (now > max_in_token_info)
        max_in_token_info = now;
    token_info_calls++;
    (void)nanosleep(&ts, NULL);
    memset(ti, ' ', sizeof *ti);
    ti->ulMaxSessionCount = slot;
    in_token_info--;
    return CKR_OK;
}

static CK_FUNCTION_LIST be;

static int load_double(void **state)
{
    (void)state;
    memset(&be, 0, sizeof be);
    be.C_Login = be_login;
    be.C_GetTokenInfo = be_token_info;
    dep11_hsm_backend = &be;
    dep11_hsm_tracing = 0;
    return 0;
}

/* No backend: every wrapper says CKR_CRYPTOKI_NOT_INITIALIZED. */
static void test_not_loaded(void **state)
{
    CK_SESSION_HANDLE h = 0;
    CK_TOKEN_INFO ti;

    (void)state;
    dep11_hsm_backend = NULL;
    assert_int_equal(dep11_hsm_OpenSession(1, CKF_SERIAL_SESSION, NULL, NULL, &h),
                     CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(dep11_hsm_GetTokenInfo(1, &ti), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(dep11_hsm_Encrypt(1, NULL, 0, NULL, NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
}

/* A NULL entry in the backend's list: CKR_FUNCTION_NOT_SUPPORTED and one
 * debug line naming the function, the backend not called. */
static void test_missing_function(void **state)
{
    CK_SESSION_HANDLE h = 0;
    char *log = NULL;

    (void)state;
    assert_int_equal(dep11_hsm_OpenSession(1, CKF_SERIAL_SESSION, NULL, NULL, &h),
                     CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(dep11_hsm_WaitForSlotEvent(0, NULL, NULL), CKR_FUNCTION_NOT_SUPPORTED);
    be.C_GetTokenInfo = NULL;
    assert_int_equal(dep11_hsm_GetTokenInfo(1, NULL), CKR_FUNCTION_NOT_SUPPORTED);
    log = log_text();
    assert_int_equal(count(log, "has no C_OpenSession"), 1);
    assert_int_equal(count(log, "has no C_WaitForSlotEvent"), 1);
    assert_int_equal(count(log, "has no C_GetTokenInfo"), 1);
    free(log);
}

/* Arguments reach the backend and its result comes back as it is; with
 * tracing on, one line with the name and result and nothing of the PIN. */
static void test_pass_through_and_trace(void **state)
{
    CK_UTF8CHAR pin[] = "s3cr3t-PIN-4711";
    char *log = NULL;

    (void)state;
    assert_int_equal(dep11_hsm_Login(42, CKU_USER, pin, 15), CKR_PIN_INCORRECT);
    assert_int_equal(seen_session, 42);
    assert_int_equal(seen_user, CKU_USER);
    assert_int_equal(seen_pin_len, 15);
    log = log_text();
    assert_int_equal(count(log, "backend C_Login"), 0);     /* tracing off */
    free(log);
    dep11_hsm_tracing = 1;
    assert_int_equal(dep11_hsm_Login(43, CKU_SO, pin, 15), CKR_PIN_INCORRECT);
    assert_int_equal(seen_session, 43);
    log = log_text();
    assert_int_equal(count(log, "backend C_Login: CKR_PIN_INCORRECT"), 1);
    assert_null(strstr(log, "s3cr3t"));
    free(log);
}

static void *token_info_thread(void *arg)
{
    CK_TOKEN_INFO ti;

    for (int i = 0; i < 50; i++)
        if (dep11_hsm_GetTokenInfo((CK_SLOT_ID)(uintptr_t)arg, &ti) != CKR_OK ||
            ti.ulMaxSessionCount != (CK_ULONG)(uintptr_t)arg)
            return arg;
    return NULL;
}

/* The C_GetTokenInfo quirk: one caller at a time, results untouched. */
static void test_token_info_serialized(void **state)
{
    pthread_t t[4];
    void *bad = NULL;

    (void)state;
    in_token_info = max_in_token_info = token_info_calls = 0;
    for (uintptr_t i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, token_info_thread, (void *)(i + 1)), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], &bad), 0);
        assert_null(bad);
    }
    assert_int_equal(token_info_calls, 200);
    assert_int_equal(max_in_token_info, 1);
}

/* The retry policy: only the results asked for, as many times as allowed,
 * each after the pause. */
static void test_retry_policy(void **state)
{
    struct dep11_hsm_retry r;
    struct timespec a, b;
    long ms = 0;

    (void)state;
    dep11_hsm_retry_start(&r, 2, 0, DEP11_HSM_RETRY_SESSION_LOST);
    assert_int_equal(dep11_hsm_retry_again(&r, CKR_OK), 0);
    assert_int_equal(dep11_hsm_retry_again(&r, CKR_USER_NOT_LOGGED_IN), 0);
    assert_int_equal(dep11_hsm_retry_again(&r, CKR_DEVICE_ERROR), 0);
    assert_int_equal(dep11_hsm_retry_again(&r, CKR_SESSION_CLOSED), 1);
    assert_int_equal(dep11_hsm_retry_again(&r, CKR_SESSION_HANDLE_INVALID), 1);
    assert_int_equal(dep11_hsm_retry_again(&r, CKR_SESSION_HANDLE_INVALID), 0);

    dep11_hsm_retry_start(&r, 1, 0,
                          DEP11_HSM_RETRY_SESSION_LOST | DEP11_HSM_RETRY_LOGGED_OUT);
    assert_int_equal(dep11_hsm_retry_again(&r, CKR_USER_NOT_LOGGED_IN), 1);
    assert_int_equal(dep11_hsm_retry_again(&r, CKR_USER_NOT_LOGGED_IN), 0);

    dep11_hsm_retry_start(&r, 0, 0, DEP11_HSM_RETRY_SESSION_LOST);
    assert_int_equal(dep11_hsm_retry_again(&r, CKR_SESSION_CLOSED), 0);

    /* No profile loaded: one retry, no pause. */
    dep11_hsm_retry_start_profile(&r, DEP11_HSM_RETRY_SESSION_LOST);
    assert_int_equal(r.left, 1);
    assert_int_equal(r.backoff_ms, 0);

    dep11_hsm_retry_start(&r, 1, 30, DEP11_HSM_RETRY_SESSION_LOST);
    (void)clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(dep11_hsm_retry_again(&r, CKR_SESSION_CLOSED), 1);
    (void)clock_gettime(CLOCK_MONOTONIC, &b);
    ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    assert_true(ms >= 29);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_not_loaded, load_double),
        cmocka_unit_test_setup(test_missing_function, load_double),
        cmocka_unit_test_setup(test_pass_through_and_trace, load_double),
        cmocka_unit_test_setup(test_token_info_serialized, load_double),
        cmocka_unit_test_setup(test_retry_policy, load_double),
    };
    int fd = mkstemp(log_path);
    int rc = 0;

    if (fd < 0)
        return 1;
    (void)close(fd);
    setenv("DEP11_DEBUG", "4", 1);
    setenv("DEP11_DEBUG_FILE", log_path, 1);
    rc = cmocka_run_group_tests_name("hsm_call", tests, NULL, NULL);
    (void)unlink(log_path);
    return rc;
}
