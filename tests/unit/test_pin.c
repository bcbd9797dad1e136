/*
 * test_pin.c - unit tests of module/util/pin.c, table-driven: PIN files
 * (first line, line ends, size limit, mode), environment variables, bad
 * sources, a file: source relative to the config; a refused PIN is cleansed
 * and no PIN is ever logged, at any level.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
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

#include "util/config.h"
#include "util/log.h"

#include "config_fx.h"

static void assert_zero(const char *p, size_t n)
{
    size_t i = 0;

    for (i = 0; i < n; i++)
        assert_int_equal(p[i], 0);
}

/* One PIN source read: what it holds, the buffer size, the result, the PIN
 * read (failures: none, the buffer cleansed), the reason logged (one ERROR
 * line on failure, none on success); @secret never reaches the log. */
struct pin_case {
    const char *content; /* file: the file; env: the variable (NULL: unset) */
    size_t cap;
    CK_RV rv;
    const char *pin;
    const char *reason;
    const char *secret;
};

static const struct pin_case pin_files[] = {
    { "1234\n", 64, CKR_OK, "1234", NULL, "1234" },
    { "s3cr\xc3\xa9t\r\nsecond line\n", 64, CKR_OK, "s3cr\xc3\xa9t", NULL, "s3cr" },
    { "no-newline", 64, CKR_OK, "no-newline", NULL, "no-newline" },
    { "7777777\n", 8, CKR_OK, "7777777", NULL, "7777777" }, /* 7 bytes and the NUL */
    { "", 64, CKR_FUNCTION_FAILED, NULL, "empty PIN", NULL },
    { "\n1234\n", 64, CKR_FUNCTION_FAILED, NULL, "empty PIN", "1234" },
    { "\r\n", 64, CKR_FUNCTION_FAILED, NULL, "empty PIN", NULL },
    { "88888888\n", 8, CKR_FUNCTION_FAILED, NULL, "longer than 7 bytes", "8888" },
};

static const struct pin_case pin_envs[] = {
    { "env-pin-42", 16, CKR_OK, "env-pin-42", NULL, "env-pin-42" },
    { "0123456789abcdef", 16, CKR_FUNCTION_FAILED, NULL, "DEP11_TEST_PIN", "0123456789abcdef" },
    { "", 16, CKR_FUNCTION_FAILED, NULL, "DEP11_TEST_PIN", NULL },
    { NULL, 16, CKR_FUNCTION_FAILED, NULL, "variable not set", NULL },
};

static void check_pin(struct fx *fx, const char *src, const struct pin_case *t)
{
    char pin[64], *got = NULL;
    size_t len = 99;
    CK_RV rv = CKR_GENERAL_ERROR;

    mark_log(fx);
    memset(pin, 'Q', sizeof pin);
    rv = dep11_config_read_pin(src, pin, t->cap, &len);
    got = log_since(fx);
    if (rv != t->rv || count(got, " ERROR ") != (t->rv != CKR_OK) ||
        (t->reason != NULL && strstr(got, t->reason) == NULL) ||
        (t->secret != NULL && strstr(got, t->secret) != NULL))
        fail_msg("%s: rv 0x%lx, want 0x%lx; log:\n%s", src, (unsigned long)rv,
                 (unsigned long)t->rv, got);
    if (t->pin != NULL) {
        assert_string_equal(pin, t->pin);
        assert_int_equal(len, strlen(t->pin));
    } else {
        assert_int_equal(len, 0);
        assert_zero(pin, t->cap); /* a partial PIN is cleansed */
    }
    free(got);
}

static void test_pin_file(void **state)
{
    struct fx *fx = *state;
    char src[256];
    const struct pin_case absent = { NULL, 64, CKR_FUNCTION_FAILED, NULL, "absent: cannot open",
                                     NULL };

    snprintf(src, sizeof src, "file:%s/pin", fx->dir);
    for (size_t i = 0; i < sizeof pin_files / sizeof pin_files[0]; i++) {
        put(fx, "pin", pin_files[i].content);
        check_pin(fx, src, &pin_files[i]);
    }
    snprintf(src, sizeof src, "file:%s/absent", fx->dir);
    check_pin(fx, src, &absent);
}

static void test_pin_env(void **state)
{
    for (size_t i = 0; i < sizeof pin_envs / sizeof pin_envs[0]; i++) {
        if (pin_envs[i].content != NULL)
            setenv("DEP11_TEST_PIN", pin_envs[i].content, 1);
        else
            unsetenv("DEP11_TEST_PIN");
        check_pin(*state, "env:DEP11_TEST_PIN", &pin_envs[i]);
    }
}

static void test_pin_bad_source(void **state)
{
    static const char *const bad[] = { "314159", "file:", "env:", "File:/x" };
    const struct pin_case refused = {
        NULL, 16, CKR_FUNCTION_FAILED, NULL, "must be file:<path> or env:<VARIABLE>", "314159"
    };
    char pin[16];
    size_t len = 0;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        check_pin(*state, bad[i], &refused);
    assert_int_equal(dep11_config_read_pin(NULL, pin, sizeof pin, &len), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_config_read_pin("env:X", NULL, sizeof pin, &len), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_config_read_pin("env:X", pin, 1, &len), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_config_read_pin("env:X", pin, sizeof pin, NULL), CKR_ARGUMENTS_BAD);
}

/* A PIN file the group or others may read is refused (DESIGN section 7):
 * CKR_FUNCTION_FAILED, one ERROR line naming the file, the PIN cleansed and
 * never logged; 0600 and 0400 are read. */
static void test_pin_file_mode(void **state)
{
    struct fx *fx = *state;
    static const mode_t bad[] = { 0640, 0604, 0660, 0644, 0610, 0601, 0620, 0602 };
    const struct pin_case ok = { NULL, 32, CKR_OK, "mode-pin-77", NULL, "mode-pin-77" };
    struct pin_case refused = ok;
    char src[300], reason[400];

    put(fx, "pin", "mode-pin-77\n");
    snprintf(src, sizeof src, "file:%s/pin", fx->dir);
    refused.rv = CKR_FUNCTION_FAILED;
    refused.pin = NULL;
    refused.reason = reason;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(chmod(src + 5, bad[i]), 0);
        snprintf(reason, sizeof reason, "%s: mode %04o lets group or others read it", src + 5,
                 (unsigned)bad[i]);
        check_pin(fx, src, &refused);
    }
    assert_int_equal(chmod(src + 5, 0400), 0);
    check_pin(fx, src, &ok);
    assert_int_equal(chmod(src + 5, 0600), 0);
    check_pin(fx, src, &ok);
}

/* A relative file: source in the config is read from beside the config. */
static void test_pin_relative_to_config(void **state)
{
    struct fx *fx = *state;
    char pin[32];
    size_t len = 0;

    put(fx, "pin.txt", "rel-pin\n");
    assert_int_equal(load(fx,
                          "profile = prof\nprovider-token = t\n"
                          "provider-pin = file:pin.txt\n",
                          GOOD_PROFILE),
                     CKR_OK);
    assert_int_equal(dep11_config_read_pin(fx->cfg.provider_pin, pin, sizeof pin, &len),
                     CKR_OK);
    assert_string_equal(pin, "rel-pin");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_pin_file),       T(test_pin_env),
        T(test_pin_bad_source), T(test_pin_relative_to_config),
        T(test_pin_file_mode),
    };
#undef T

    return run_config_tests(tests, sizeof tests / sizeof tests[0]);
}
