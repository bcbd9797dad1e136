/*
 * test_hsm_call.c - unit tests of module/hsm/call.[ch] and retry.c: every
 * backend call goes through one wrapper that answers for a missing backend
 * or function, passes arguments and results through untouched, traces the
 * name and result (never an argument) at debug level, serializes
 * C_GetTokenInfo (and every call with backend-calls = serial, a blocking
 * C_WaitForSlotEvent aside), and the one retry policy counts, filters and
 * pauses.
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
#include <sys/wait.h>
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

static CK_RV be_session_info(CK_SESSION_HANDLE s, CK_SESSION_INFO_PTR info)
{
    seen_session = s;
    info->slotID = 7;
    return s == 44 ? CKR_OK : CKR_SESSION_HANDLE_INVALID;
}

/* The lean wrappers (session open/close/info): the plain call inline, the
 * trace, the missing-function answer and the serial lock through the whole
 * wrapper as for every other call. */
static void test_lean_wrapper(void **state)
{
    CK_SESSION_INFO info;
    char *log = NULL;

    (void)state;
    assert_int_equal(dep11_hsm_GetSessionInfo(44, &info), CKR_FUNCTION_NOT_SUPPORTED);
    be.C_GetSessionInfo = be_session_info;
    assert_int_equal(dep11_hsm_GetSessionInfo(44, &info), CKR_OK);
    assert_int_equal(seen_session, 44);
    assert_int_equal(info.slotID, 7);
    log = log_text();
    assert_int_equal(count(log, "has no C_GetSessionInfo"), 1);
    assert_int_equal(count(log, "backend C_GetSessionInfo"), 0); /* tracing off */
    free(log);
    dep11_hsm_tracing = 1;
    assert_int_equal(dep11_hsm_GetSessionInfo(45, &info), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(seen_session, 45);
    log = log_text();
    assert_int_equal(count(log, "backend C_GetSessionInfo: CKR_SESSION_HANDLE_INVALID"), 1);
    free(log);
    dep11_hsm_tracing = 0;
    be.C_GetSessionInfo = NULL;
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

/* ---- backend-calls = serial ---- */

/* Calls of the double under way at once (atomics: in the concurrent
 * control they do overlap), the most seen, and a blocking wait's flag. */
static int in_call, max_in_call, wait_released;

static void enter_leave(void)
{
    int now = __atomic_add_fetch(&in_call, 1, __ATOMIC_SEQ_CST);
    int max = __atomic_load_n(&max_in_call, __ATOMIC_SEQ_CST);
    struct timespec ts = { 0, 300000 };

    while (now > max && !__atomic_compare_exchange_n(&max_in_call, &max, now, 0,
                                                     __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        ;
    (void)nanosleep(&ts, NULL);
    (void)__atomic_sub_fetch(&in_call, 1, __ATOMIC_SEQ_CST);
}

static CK_RV be_find_init(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
    (void)s, (void)t, (void)n;
    enter_leave();
    return CKR_OK;
}

static CK_RV be_close(CK_SESSION_HANDLE s)
{
    (void)s;
    enter_leave();
    return CKR_OK;
}

/* Non-blocking: one call like the others. Blocking: waits (2 s at most)
 * until be_destroy releases it. */
static CK_RV be_wait(CK_FLAGS flags, CK_SLOT_ID_PTR slot, CK_VOID_PTR reserved)
{
    (void)slot, (void)reserved;
    if (flags & CKF_DONT_BLOCK) {
        enter_leave();
        return CKR_NO_EVENT;
    }
    for (int i = 0; i < 2000 && !__atomic_load_n(&wait_released, __ATOMIC_SEQ_CST); i++)
        (void)usleep(1000);
    return __atomic_load_n(&wait_released, __ATOMIC_SEQ_CST) ? CKR_OK : CKR_FUNCTION_FAILED;
}

static CK_RV be_destroy(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o)
{
    (void)s, (void)o;
    __atomic_store_n(&wait_released, 1, __ATOMIC_SEQ_CST);
    return CKR_OK;
}

static void *serial_thread(void *arg)
{
    CK_TOKEN_INFO ti;
    CK_SLOT_ID slot = 0;

    for (int i = 0; i < 40; i++) {
        int bad = dep11_hsm_FindObjectsInit(1, NULL, 0) != CKR_OK ||
                  dep11_hsm_CloseSession(2) != CKR_OK ||
                  dep11_hsm_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, NULL) != CKR_NO_EVENT ||
                  dep11_hsm_GetTokenInfo(3, &ti) != CKR_OK;

        if (bad)
            return arg;
    }
    return NULL;
}

/* Runs 4 threads of mixed calls; returns the most calls seen at once. */
static int overlap(int serial)
{
    pthread_t t[4];
    void *bad = NULL;

    be.C_FindObjectsInit = be_find_init;
    be.C_CloseSession = be_close;
    be.C_WaitForSlotEvent = be_wait;
    be.C_GetTokenInfo = be_token_info;
    in_call = max_in_call = 0;
    dep11_hsm_serial = serial;
    for (uintptr_t i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, serial_thread, (void *)(i + 1)), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], &bad), 0);
        assert_null(bad);
    }
    dep11_hsm_serial = 0;
    return max_in_call;
}

/* "backend-calls = serial": no two calls in the backend at once; without
 * it (the control) the same threads do overlap. */
static void test_serial_calls(void **state)
{
    (void)state;
    assert_int_equal(overlap(1), 1);
    assert_true(overlap(0) > 1);
}

static void *blocking_wait_thread(void *arg)
{
    CK_SLOT_ID slot = 0;

    (void)arg;
    return dep11_hsm_WaitForSlotEvent(0, &slot, NULL) == CKR_OK ? NULL : (void *)1;
}

/* A blocking C_WaitForSlotEvent does not hold the serial lock: another
 * thread's call (the one that ends the wait) still gets through. */
static void test_serial_blocking_wait(void **state)
{
    pthread_t t;
    void *bad = (void *)1;
    struct timespec ts = { 0, 20000000 };

    (void)state;
    be.C_WaitForSlotEvent = be_wait;
    be.C_DestroyObject = be_destroy;
    wait_released = 0;
    dep11_hsm_serial = 1;
    assert_int_equal(pthread_create(&t, NULL, blocking_wait_thread, NULL), 0);
    (void)nanosleep(&ts, NULL); /* let it block first */
    assert_int_equal(dep11_hsm_DestroyObject(1, 2), CKR_OK);
    assert_int_equal(pthread_join(t, &bad), 0);
    dep11_hsm_serial = 0;
    assert_null(bad);
}

/* A call that holds the serial lock until released (the fork test). */
static int hold_entered, hold_released;

static CK_RV be_hold(CK_SESSION_HANDLE s)
{
    (void)s;
    __atomic_store_n(&hold_entered, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&hold_released, __ATOMIC_SEQ_CST))
        (void)usleep(1000);
    return CKR_OK;
}

static void *hold_thread(void *arg)
{
    (void)arg;
    return dep11_hsm_CloseSession(1) == CKR_OK ? NULL : (void *)1;
}

/* fork() while another thread is inside a serial call: the child, after
 * dep11_hsm_locks_forget (what the reload after fork does first), can call
 * the backend; without it, it would wait forever (alarm: the test fails). */
static void test_serial_fork(void **state)
{
    pthread_t t;
    void *bad = (void *)1;
    int st = -1;
    pid_t pid;

    (void)state;
    be.C_CloseSession = be_hold;
    be.C_FindObjectsInit = be_find_init;
    hold_entered = hold_released = 0;
    dep11_hsm_serial = 1;
    assert_int_equal(pthread_create(&t, NULL, hold_thread, NULL), 0);
    while (!__atomic_load_n(&hold_entered, __ATOMIC_SEQ_CST))
        (void)usleep(1000);
    pid = fork();
    if (pid == 0) {
        alarm(5);
        dep11_hsm_locks_forget();
        _exit(dep11_hsm_FindObjectsInit(1, NULL, 0) == CKR_OK ? 0 : 1);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    __atomic_store_n(&hold_released, 1, __ATOMIC_SEQ_CST);
    assert_int_equal(pthread_join(t, &bad), 0);
    dep11_hsm_serial = 0;
    assert_null(bad);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
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
        cmocka_unit_test_setup(test_lean_wrapper, load_double),
        cmocka_unit_test_setup(test_token_info_serialized, load_double),
        cmocka_unit_test_setup(test_retry_policy, load_double),
        cmocka_unit_test_setup(test_serial_calls, load_double),
        cmocka_unit_test_setup(test_serial_blocking_wait, load_double),
        cmocka_unit_test_setup(test_serial_fork, load_double),
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
