/*
 * test_selftest.c - the power-on self tests (module/crypto/selftest.c):
 * they pass on a sound build, well inside 50 ms; each test run against a
 * corrupted expected value (the test-only entry point) fails and is named;
 * an unknown name is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "crypto/selftest.h"

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void test_pass_and_time(void **state)
{
    const char *failed = "unset";
    double t0, best = 1e9;

    (void)state;
    for (int i = 0; i < 5; i++) {
        t0 = now_ms();
        assert_int_equal(dep11_selftest_run_corrupt(NULL, &failed), CKR_OK);
        if (now_ms() - t0 < best)
            best = now_ms() - t0;
        assert_null(failed);
    }
    printf("self tests: best of 5 runs %.2f ms\n", best);
    assert_true(best < 50.0);
}

static void test_each_corruption_fails(void **state)
{
    char names[] = DEP11_SELFTEST_NAMES;
    char *save = NULL;
    unsigned n = 0;

    (void)state;
    for (char *name = strtok_r(names, " ", &save); name != NULL;
         name = strtok_r(NULL, " ", &save)) {
        const char *failed = NULL;
        assert_int_equal(dep11_selftest_run_corrupt(name, &failed), CKR_GENERAL_ERROR);
        assert_non_null(failed);
        assert_string_equal(failed, name);
        n++;
    }
    assert_int_equal(n, 6);
}

static void test_unknown_name(void **state)
{
    const char *failed = "unset";

    (void)state;
    assert_int_equal(dep11_selftest_run_corrupt("no-such-test", &failed), CKR_ARGUMENTS_BAD);
    assert_null(failed);
}

/* The environment variable works only in --enable-debug builds. */
static void test_env_variable(void **state)
{
    const char *failed = NULL;

    (void)state;
    setenv("DEP11_SELFTEST_FAIL", "kbkdf", 1);
#if DEP11_DEBUG_BUILD
    assert_int_equal(dep11_selftest_run(&failed), CKR_GENERAL_ERROR);
    assert_string_equal(failed, "kbkdf");
#else
    assert_int_equal(dep11_selftest_run(&failed), CKR_OK);
    assert_null(failed);
#endif
    unsetenv("DEP11_SELFTEST_FAIL");
    assert_int_equal(dep11_selftest_run(&failed), CKR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pass_and_time),
        cmocka_unit_test(test_each_corruption_fails),
        cmocka_unit_test(test_unknown_name),
        cmocka_unit_test(test_env_variable),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
