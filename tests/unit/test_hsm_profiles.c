/*
 * test_hsm_profiles.c - C_Initialize's profile checks (module/hsm/
 * profile_check.c) over a fake backend whose C_GetMechanismList /
 * C_GetMechanismInfo offer a chosen list: each route the profile asks for
 * needs its mechanism, flags and key size, a missing one fails with
 * CKR_FUNCTION_FAILED and one log line naming it; and every documented
 * real-HSM profile (the *.conf files of hsm-profiles) passes against a fake that offers
 * exactly its "# offers:" lines and fails when one required mechanism is
 * removed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config_fx.h"
#include "hsm/backend.h"
#include "hsm/call.h"
#include "hsm/profile_check.h"

#define MAX_OFFERS 32
#define SLOT 5

struct offer {
    CK_MECHANISM_TYPE mech;
    CK_MECHANISM_INFO info;
};

static struct offer offers[MAX_OFFERS];
static size_t noffers;
static CK_RV list_rv;
static CK_FUNCTION_LIST list;

static CK_RV fake_list(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR out, CK_ULONG_PTR n)
{
    if (slot != SLOT)
        return CKR_SLOT_ID_INVALID;
    if (list_rv != CKR_OK)
        return list_rv;
    if (out != NULL && *n < noffers) {
        *n = noffers;
        return CKR_BUFFER_TOO_SMALL;
    }
    for (size_t i = 0; out != NULL && i < noffers; i++)
        out[i] = offers[i].mech;
    *n = noffers;
    return CKR_OK;
}

static CK_RV fake_info(CK_SLOT_ID slot, CK_MECHANISM_TYPE m, CK_MECHANISM_INFO_PTR info)
{
    if (slot != SLOT)
        return CKR_SLOT_ID_INVALID;
    for (size_t i = 0; i < noffers; i++)
        if (offers[i].mech == m) {
            *info = offers[i].info;
            return CKR_OK;
        }
    return CKR_MECHANISM_INVALID;
}

static void offer(CK_MECHANISM_TYPE m, CK_FLAGS flags, CK_ULONG min, CK_ULONG max)
{
    assert_true(noffers < MAX_OFFERS);
    offers[noffers++] = (struct offer){ m, { min, max, flags } };
}

static void withdraw(CK_MECHANISM_TYPE m)
{
    for (size_t i = 0; i < noffers; i++)
        if (offers[i].mech == m)
            offers[i] = offers[--noffers];
}

static struct offer *find_offer(CK_MECHANISM_TYPE m)
{
    for (size_t i = 0; i < noffers; i++)
        if (offers[i].mech == m)
            return &offers[i];
    return NULL;
}

static void fake_reset(void)
{
    memset(&list, 0, sizeof list);
    list.C_GetMechanismList = fake_list;
    list.C_GetMechanismInfo = fake_info;
    dep11_hsm_backend = &list;
    noffers = 0;
    list_rv = CKR_OK;
}

/* What SoftHSM 2.6.1 answers for the mechanisms dep11 uses. */
static void offer_softhsm(void)
{
    offer(CKM_SHA256_HMAC, CKF_SIGN | CKF_VERIFY, 32, 512);
    offer(CKM_RSA_PKCS_OAEP, CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP, 512, 16384);
    offer(CKM_RSA_PKCS_PSS, CKF_SIGN | CKF_VERIFY, 512, 16384);
    offer(CKM_ECDSA, CKF_SIGN | CKF_VERIFY, 112, 521);
    offer(CKM_AES_KEY_GEN, CKF_GENERATE, 16, 32);
    offer(CKM_AES_GCM, CKF_ENCRYPT | CKF_DECRYPT, 16, 32);
}

/* Loads @prof (profile text) through the config reader, then runs the check
 * with the log marked: returns its answer; *@log (if not NULL) gets what was
 * logged (caller frees). */
static CK_RV check(struct fx *fx, const char *prof, char **log)
{
    CK_RV rv = load(fx, BASE, prof);

    assert_int_equal(rv, CKR_OK);
    mark_log(fx);
    rv = dep11_profile_check(&fx->cfg.profile, SLOT);
    if (log != NULL)
        *log = log_since(fx);
    return rv;
}

/* Fails, naming @mech in exactly one ERROR line. */
static void refused(struct fx *fx, const char *prof, const char *mech)
{
    char *log = NULL;

    assert_int_equal(check(fx, prof, &log), CKR_FUNCTION_FAILED);
    assert_non_null(strstr(log, mech));
    assert_int_equal(count(log, "ERROR"), 1);
    free(log);
}

static void test_softhsm_routes(void **state)
{
    struct fx *fx = *state;

    fake_reset();
    offer_softhsm();
    assert_int_equal(check(fx, GOOD_PROFILE, NULL), CKR_OK);
    /* each default route needs its mechanism */
    withdraw(CKM_AES_GCM);
    refused(fx, GOOD_PROFILE, "CKM_AES_GCM");
    offer(CKM_AES_GCM, CKF_ENCRYPT, 16, 32); /* no CKF_DECRYPT */
    refused(fx, GOOD_PROFILE, "CKM_AES_GCM");
    find_offer(CKM_AES_GCM)->info = (CK_MECHANISM_INFO){ 16, 24, CKF_ENCRYPT | CKF_DECRYPT };
    refused(fx, GOOD_PROFILE, "CKM_AES_GCM"); /* no AES-256 */
    find_offer(CKM_AES_GCM)->info = (CK_MECHANISM_INFO){ 128, 256, CKF_ENCRYPT | CKF_DECRYPT };
    assert_int_equal(check(fx, GOOD_PROFILE, NULL), CKR_OK); /* sizes in bits: fine */
    withdraw(CKM_ECDSA);
    refused(fx, GOOD_PROFILE, "CKM_ECDSA");
    offer(CKM_ECDSA, CKF_SIGN | CKF_VERIFY, 384, 521); /* no P-256 */
    refused(fx, GOOD_PROFILE, "CKM_ECDSA");
    withdraw(CKM_ECDSA);
    offer(CKM_ECDSA, CKF_SIGN, 256, 0); /* max 0: no upper bound */
    assert_int_equal(check(fx, GOOD_PROFILE, NULL), CKR_OK);
    find_offer(CKM_RSA_PKCS_OAEP)->info.ulMaxKeySize = 2048; /* provider-rsa-bits 3072 */
    refused(fx, GOOD_PROFILE, "CKM_RSA_PKCS_OAEP");
    assert_int_equal(check(fx, GOOD_PROFILE "provider-rsa-bits = 2048\n", NULL), CKR_OK);
    withdraw(CKM_SHA256_HMAC);
    refused(fx, GOOD_PROFILE, "CKM_SHA256_HMAC");
}

static void test_receipt_signature_routes(void **state)
{
    struct fx *fx = *state;
    const char *pss = GOOD_PROFILE "receipt-signature = rsa-pss\n";

    fake_reset();
    offer_softhsm();
    withdraw(CKM_ECDSA); /* an HSM without EC */
    refused(fx, GOOD_PROFILE, "CKM_ECDSA");
    assert_int_equal(check(fx, pss, NULL), CKR_OK);
    withdraw(CKM_RSA_PKCS_PSS);
    refused(fx, pss, "CKM_RSA_PKCS_PSS");
    offer(CKM_RSA_PKCS_PSS, CKF_VERIFY, 512, 16384); /* verify only */
    refused(fx, pss, "CKM_RSA_PKCS_PSS");
}

static void test_root_unwrap_and_list_errors(void **state)
{
    struct fx *fx = *state;

    fake_reset();
    offer_softhsm();
    find_offer(CKM_RSA_PKCS_OAEP)->info.flags = CKF_ENCRYPT | CKF_UNWRAP;
    refused(fx, GOOD_PROFILE, "CKM_RSA_PKCS_OAEP"); /* root-unwrap = decrypt */
    find_offer(CKM_RSA_PKCS_OAEP)->info.flags = CKF_DECRYPT;
    list_rv = CKR_DEVICE_ERROR;
    refused(fx, GOOD_PROFILE, "C_GetMechanismList");
    list_rv = CKR_OK;
    noffers = 0;
    refused(fx, GOOD_PROFILE, "CKM_SHA256_HMAC"); /* an empty list: the first row */
}

/* ---- the documented real-HSM profiles ---- */

static const struct {
    const char *name;
    CK_MECHANISM_TYPE mech;
} mech_names[] = {
    { "CKM_SHA256_HMAC", CKM_SHA256_HMAC },
    { "CKM_RSA_PKCS_OAEP", CKM_RSA_PKCS_OAEP },
    { "CKM_RSA_PKCS_PSS", CKM_RSA_PKCS_PSS },
    { "CKM_ECDSA", CKM_ECDSA },
    { "CKM_AES_KEY_GEN", CKM_AES_KEY_GEN },
    { "CKM_AES_GCM", CKM_AES_GCM },
    { "CKM_RSA_PKCS_KEY_PAIR_GEN", CKM_RSA_PKCS_KEY_PAIR_GEN },
    { "CKM_EC_KEY_PAIR_GEN", CKM_EC_KEY_PAIR_GEN },
    { "CKM_GENERIC_SECRET_KEY_GEN", CKM_GENERIC_SECRET_KEY_GEN },
};

static const struct {
    const char *name;
    CK_FLAGS flag;
} flag_names[] = {
    { "sign", CKF_SIGN },         { "verify", CKF_VERIFY },
    { "encrypt", CKF_ENCRYPT },   { "decrypt", CKF_DECRYPT },
    { "wrap", CKF_WRAP },         { "unwrap", CKF_UNWRAP },
    { "generate", CKF_GENERATE }, { "generate_key_pair", CKF_GENERATE_KEY_PAIR },
};

/* One "# offers: CKM_X flag,flag MIN..MAX [source]" line into the fake. */
static void parse_offer(const char *line)
{
    char mech[64], flags[128];
    unsigned long min = 0, max = 0;
    CK_FLAGS f = 0;
    size_t i = 0;

    assert_int_equal(sscanf(line, "# offers: %63s %127s %lu..%lu", mech, flags, &min, &max), 4);
    for (char *tok = strtok(flags, ","); tok != NULL; tok = strtok(NULL, ",")) {
        for (i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++)
            if (strcmp(tok, flag_names[i].name) == 0)
                break;
        assert_true(i < sizeof flag_names / sizeof flag_names[0]);
        f |= flag_names[i].flag;
    }
    for (i = 0; i < sizeof mech_names / sizeof mech_names[0]; i++)
        if (strcmp(mech, mech_names[i].name) == 0)
            break;
    assert_true(i < sizeof mech_names / sizeof mech_names[0]);
    offer(mech_names[i].mech, f, min, max);
}

/* The text of hsm-profiles/@name; its offers into the fake. */
static char *read_profile(const char *name)
{
    const char *top = getenv("abs_top_srcdir");
    char path[4096], line[1024];
    char *text = calloc(1, 65536);
    size_t len = 0;
    FILE *f = NULL;

    assert_non_null(top);
    assert_non_null(text);
    (void)snprintf(path, sizeof path, "%s/hsm-profiles/%s", top, name);
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "# offers:", 9) == 0)
            parse_offer(line);
        assert_true(len + strlen(line) < 65536);
        memcpy(text + len, line, strlen(line) + 1);
        len += strlen(line);
    }
    fclose(f);
    assert_non_null(strstr(text, "NOT TESTED HERE"));
    return text;
}

static void vendor_profile(struct fx *fx, const char *name)
{
    struct offer all[MAX_OFFERS];
    size_t n = 0, required = 0;
    char *text = NULL;

    fake_reset();
    text = read_profile(name);
    assert_true(noffers >= 4);
    if (strstr(text, "\navailability-key = rsa") != NULL && load(fx, BASE, text) != CKR_OK) {
        print_message("SKIP %s: availability-key = rsa is not implemented in this build\n",
                      name);
        free(text);
        return;
    }
    assert_int_equal(check(fx, text, NULL), CKR_OK);
    memcpy(all, offers, sizeof all);
    n = noffers;
    /* each offer the profile's routes need is required; the others not */
    for (size_t i = 0; i < n; i++) {
        const struct dep11_profile_need *need[16];
        size_t k = dep11_profile_needs(&fx->cfg.profile, need, 16), j = 0;
        int needed = 0;

        for (j = 0; j < k && j < 16; j++)
            needed |= need[j]->mech == all[i].mech;
        memcpy(offers, all, sizeof all);
        noffers = n;
        withdraw(all[i].mech);
        assert_int_equal(check(fx, text, NULL), needed ? CKR_FUNCTION_FAILED : CKR_OK);
        required += (size_t)needed;
    }
    assert_true(required >= 3); /* MAC, root decryption, receipt signature at least */
    print_message("%s: %zu offers, %zu required by its routes\n", name, n, required);
    free(text);
}

static void test_vendor_profiles(void **state)
{
    static const char *const names[] = {
        "aws-cloudhsm.conf", "luna7.conf",   "nshield.conf",
        "yubihsm2.conf",     "utimaco.conf", "gcp-kmsp11.conf"
    };

    if (getenv("abs_top_srcdir") == NULL)
        skip();
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        vendor_profile(*state, names[i]);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_softhsm_routes),
        T(test_receipt_signature_routes),
        T(test_root_unwrap_and_list_errors),
        T(test_vendor_profiles),
    };
#undef T

    return run_config_tests(tests, sizeof tests / sizeof tests[0]);
}
