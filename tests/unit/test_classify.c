/*
 * test_classify.c - DESIGN section 5's classification table: every code it
 * names maps to its class, anything else is denied.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hsm/classify.h"

struct row {
    CK_RV rv;
    enum dep11_fault want;
};

static void test_table(void **state)
{
    static const struct row rows[] = {
        { CKR_OK, DEP11_FAULT_NONE },
        { CKR_OBJECT_HANDLE_INVALID, DEP11_FAULT_DENIED },
        { CKR_KEY_HANDLE_INVALID, DEP11_FAULT_DENIED },
        { CKR_KEY_FUNCTION_NOT_PERMITTED, DEP11_FAULT_DENIED },
        { CKR_KEY_TYPE_INCONSISTENT, DEP11_FAULT_DENIED },
        { CKR_USER_NOT_LOGGED_IN, DEP11_FAULT_ABORT },
        { CKR_DEVICE_ERROR, DEP11_FAULT_TRANSIENT },
        { CKR_DEVICE_MEMORY, DEP11_FAULT_TRANSIENT },
        { CKR_DEVICE_REMOVED, DEP11_FAULT_TRANSIENT },
        { CKR_TOKEN_NOT_PRESENT, DEP11_FAULT_TRANSIENT },
        { CKR_FUNCTION_CANCELED, DEP11_FAULT_TRANSIENT },
        { CKR_SESSION_HANDLE_INVALID, DEP11_FAULT_TRANSIENT },
        { CKR_SESSION_CLOSED, DEP11_FAULT_TRANSIENT },
        { CKR_GENERAL_ERROR, DEP11_FAULT_INVALID },
        { CKR_ENCRYPTED_DATA_INVALID, DEP11_FAULT_INVALID },
        { CKR_ENCRYPTED_DATA_LEN_RANGE, DEP11_FAULT_INVALID },
        { CKR_WRAPPED_KEY_INVALID, DEP11_FAULT_INVALID },
        /* anything else: denied */
        { CKR_ARGUMENTS_BAD, DEP11_FAULT_DENIED },
        { CKR_MECHANISM_INVALID, DEP11_FAULT_DENIED },
        { CKR_FUNCTION_FAILED, DEP11_FAULT_DENIED },
        { CKR_HOST_MEMORY, DEP11_FAULT_DENIED },
        { CKR_PIN_INCORRECT, DEP11_FAULT_DENIED },
        { CKR_VENDOR_DEFINED | 0x1234, DEP11_FAULT_DENIED },
    };
    size_t i = 0;

    (void)state;
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        enum dep11_fault got = dep11_hsm_classify(rows[i].rv);

        if (got != rows[i].want)
            fail_msg("CKR 0x%lx: got %s, want %s", (unsigned long)rows[i].rv,
                     dep11_fault_name(got), dep11_fault_name(rows[i].want));
    }
}

/* A profile's changes: moved codes go to their class, the rest of the table
 * stands, and an empty set restores it. Abort cannot be moved. */
static void test_override(void **state)
{
    const struct dep11_fault_override o[] = {
        { CKR_OBJECT_HANDLE_INVALID, DEP11_OVERRIDE_TRANSIENT },
        { CKR_DEVICE_ERROR, DEP11_OVERRIDE_DENIED },
        { CKR_HOST_MEMORY, DEP11_OVERRIDE_INVALID },
        { CKR_USER_NOT_LOGGED_IN, DEP11_OVERRIDE_TRANSIENT }, /* dropped */
        { CKR_OK, DEP11_OVERRIDE_DENIED },                    /* dropped */
        { CKR_GENERAL_ERROR, 2 },                             /* not a class */
    };

    (void)state;
    dep11_hsm_classify_set(o, sizeof o / sizeof o[0]);
    assert_int_equal(dep11_hsm_classify(CKR_OBJECT_HANDLE_INVALID), DEP11_FAULT_TRANSIENT);
    assert_int_equal(dep11_hsm_classify(CKR_DEVICE_ERROR), DEP11_FAULT_DENIED);
    assert_int_equal(dep11_hsm_classify(CKR_HOST_MEMORY), DEP11_FAULT_INVALID);
    assert_int_equal(dep11_hsm_classify(CKR_USER_NOT_LOGGED_IN), DEP11_FAULT_ABORT);
    assert_int_equal(dep11_hsm_classify(CKR_OK), DEP11_FAULT_NONE);
    assert_int_equal(dep11_hsm_classify(CKR_GENERAL_ERROR), DEP11_FAULT_INVALID);
    assert_int_equal(dep11_hsm_classify(CKR_KEY_HANDLE_INVALID), DEP11_FAULT_DENIED);
    assert_int_equal(dep11_hsm_classify(CKR_DEVICE_REMOVED), DEP11_FAULT_TRANSIENT);
    dep11_hsm_classify_set(NULL, 0);
    assert_int_equal(dep11_hsm_classify(CKR_OBJECT_HANDLE_INVALID), DEP11_FAULT_DENIED);
    assert_int_equal(dep11_hsm_classify(CKR_DEVICE_ERROR), DEP11_FAULT_TRANSIENT);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(dep11_fault_name(DEP11_FAULT_NONE), "none");
    assert_string_equal(dep11_fault_name(DEP11_FAULT_DENIED), "denied");
    assert_string_equal(dep11_fault_name(DEP11_FAULT_ABORT), "abort");
    assert_string_equal(dep11_fault_name(DEP11_FAULT_TRANSIENT), "transient");
    assert_string_equal(dep11_fault_name(DEP11_FAULT_INVALID), "invalid");
    assert_string_equal(dep11_fault_name((enum dep11_fault)42), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_override),
        cmocka_unit_test(test_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
