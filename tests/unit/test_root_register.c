/*
 * test_root_register.c - DEP11_RegisterRoot's audit lines (hier/
 * root_register.c) over doubles of the HSM side (SO login, the token's
 * public keys, the provider token's records) and of the audit log: one line
 * per well-formed call with its event, root identity, route, token serial
 * and result, refusals included; malformed calls write none; a success
 * whose line cannot be written is CKR_FUNCTION_FAILED, and a record it had
 * just written is destroyed again (an earlier record stays).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "hier/root_reg.h"
#include "crypto/crypto.h"
#include "hsm/provider_state.h"
#include "hsm/root_reg.h"
#include "util/audit.h"
#include "util/config.h"

static struct {
    CK_RV login_rv, audit_rv;
    int sees_root, record; /* the SO sees the key; the provider token's record */
    int writes, drops, lines;
    char event[32], extra[256], token[32];
    CK_RV result;
} fake;

/* ---- the doubles ---- */

CK_RV dep11_hsm_token_ident(CK_SLOT_ID slot, uint8_t ident[DEP11_TOKEN_IDENT_LEN])
{
    (void)slot;
    memset(ident, 0x11, DEP11_TOKEN_IDENT_LEN);
    return CKR_OK;
}

void dep11_hsm_token_serial(CK_SLOT_ID slot, char out[DEP11_TOKEN_SERIAL_LEN + 1])
{
    (void)slot;
    snprintf(out, DEP11_TOKEN_SERIAL_LEN + 1, "5e71a1");
}

CK_RV dep11_hsm_so_open(CK_SLOT_ID slot, const uint8_t *pin, size_t pin_len,
                        CK_SESSION_HANDLE *out)
{
    (void)slot, (void)pin, (void)pin_len;
    *out = 9;
    return fake.login_rv;
}

void dep11_hsm_so_close(CK_SESSION_HANDLE s)
{
    (void)s;
}

CK_RV dep11_hsm_rsa_public_list(CK_SESSION_HANDLE s, int trusted_only,
                                struct dep11_hsm_rsa *out, size_t cap, size_t *n)
{
    (void)s, (void)trusted_only, (void)cap;
    memset(out, 0, sizeof *out);
    *n = 1;
    return CKR_OK;
}

int dep11_rsa_has_identity(const uint8_t *mod, size_t mod_len, const uint8_t *exp,
                           size_t exp_len, const uint8_t *id, size_t id_len)
{
    (void)mod, (void)mod_len, (void)exp, (void)exp_len, (void)id, (void)id_len;
    return fake.sees_root;
}

CK_RV dep11_provider_rootreg_find(const uint8_t ident[DEP11_TOKEN_IDENT_LEN],
                                  const uint8_t root_id[DEP11_ROOT_ID_LEN], int *present)
{
    (void)ident, (void)root_id;
    *present = fake.record;
    return CKR_OK;
}

CK_RV dep11_provider_rootreg_write(const uint8_t ident[DEP11_TOKEN_IDENT_LEN],
                                   const uint8_t root_id[DEP11_ROOT_ID_LEN])
{
    (void)ident, (void)root_id;
    fake.writes++;
    fake.record = 1;
    return CKR_OK;
}

CK_RV dep11_provider_rootreg_drop(const uint8_t ident[DEP11_TOKEN_IDENT_LEN],
                                  const uint8_t root_id[DEP11_ROOT_ID_LEN], unsigned *dropped)
{
    (void)ident, (void)root_id;
    fake.drops++;
    *dropped = (unsigned)fake.record;
    fake.record = 0;
    return CKR_OK;
}

CK_RV dep11_audit_write(const struct dep11_audit_event *e)
{
    fake.lines++;
    snprintf(fake.event, sizeof fake.event, "%s", e->event);
    snprintf(fake.extra, sizeof fake.extra, "%s", e->extra_json ? e->extra_json : "");
    snprintf(fake.token, sizeof fake.token, "%s", e->token ? e->token : "");
    fake.result = e->result;
    assert_null(e->policy_id);
    assert_null(e->tenant);
    return fake.audit_rv;
}

/* ---- the tests ---- */

static struct dep11_config cfg;
static const struct dep11_call call = { 3, &cfg };
static const uint8_t id[DEP11_ROOT_ID_LEN] = { 0xab, 0xcd };
static const char id_hex[] = "abcd000000000000000000000000000000000000000000000000000000000000";

static int setup(void **state)
{
    (void)state;
    memset(&fake, 0, sizeof fake);
    fake.sees_root = 1;
    memset(&cfg, 0, sizeof cfg);
    cfg.profile.root_reg_so_login = 1;
    return 0;
}

static CK_RV reg(CK_ULONG action)
{
    return dep11_root_register(&call, action, id, sizeof id, (const uint8_t *)"5678", 4);
}

/* The last line: @event, @result, this root, @route, the token's serial. */
static void line(int n, const char *event, CK_RV result, const char *route)
{
    char want[160];

    assert_int_equal(fake.lines, n);
    assert_string_equal(fake.event, event);
    assert_int_equal(fake.result, result);
    assert_string_equal(fake.token, "5e71a1");
    snprintf(want, sizeof want, "\"root_id\":\"%s\",\"route\":\"%s\"", id_hex, route);
    assert_string_equal(fake.extra, want);
}

static void test_each_call_one_line(void **state)
{
    (void)state;
    assert_int_equal(reg(DEP11_ROOT_REGISTER), CKR_OK);
    line(1, "root-register", CKR_OK, "so-login");
    assert_int_equal(fake.record, 1);
    fake.login_rv = CKR_PIN_INCORRECT;
    assert_int_equal(reg(DEP11_ROOT_UNREGISTER), CKR_PIN_INCORRECT);
    line(2, "root-unregister", CKR_PIN_INCORRECT, "so-login");
    assert_int_equal(fake.record, 1);
    fake.login_rv = CKR_OK;
    fake.sees_root = 0;
    assert_int_equal(reg(DEP11_ROOT_REGISTER), CKR_KEY_HANDLE_INVALID);
    line(3, "root-register", CKR_KEY_HANDLE_INVALID, "so-login");
    assert_int_equal(reg(DEP11_ROOT_UNREGISTER), CKR_OK);
    line(4, "root-unregister", CKR_OK, "so-login");
    assert_int_equal(fake.record, 0);
    cfg.profile.root_reg_so_login = 0;
    assert_int_equal(reg(DEP11_ROOT_REGISTER), CKR_FUNCTION_NOT_SUPPORTED);
    line(5, "root-register", CKR_FUNCTION_NOT_SUPPORTED, "trusted-twin");
}

static void test_malformed_not_audited(void **state)
{
    (void)state;
    assert_int_equal(dep11_root_register(&call, 3, id, sizeof id, NULL, 0), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_root_register(&call, DEP11_ROOT_REGISTER, id, 31, NULL, 0),
                     CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_root_register(&call, DEP11_ROOT_REGISTER, NULL, 32, NULL, 0),
                     CKR_ARGUMENTS_BAD);
    assert_int_equal(fake.lines, 0);
}

/* No line, no registration: a new record goes again; one that was there
 * before stays (an earlier, audited registration). */
static void test_unaudited_success(void **state)
{
    (void)state;
    fake.audit_rv = CKR_FUNCTION_FAILED;
    assert_int_equal(reg(DEP11_ROOT_REGISTER), CKR_FUNCTION_FAILED);
    assert_int_equal(fake.writes, 1);
    assert_int_equal(fake.drops, 1);
    assert_int_equal(fake.record, 0);
    fake.record = 1;
    assert_int_equal(reg(DEP11_ROOT_REGISTER), CKR_FUNCTION_FAILED);
    assert_int_equal(fake.drops, 1);
    assert_int_equal(fake.record, 1);
    /* a refusal the log cannot take stays that refusal */
    fake.login_rv = CKR_PIN_INCORRECT;
    assert_int_equal(reg(DEP11_ROOT_REGISTER), CKR_PIN_INCORRECT);
    /* an unregistration the log cannot take: done, but said */
    fake.login_rv = CKR_OK;
    assert_int_equal(reg(DEP11_ROOT_UNREGISTER), CKR_FUNCTION_FAILED);
    assert_int_equal(fake.record, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_each_call_one_line, setup),
        cmocka_unit_test_setup(test_malformed_not_audited, setup),
        cmocka_unit_test_setup(test_unaudited_success, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
