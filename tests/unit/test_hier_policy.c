/*
 * test_hier_policy.c - policy blobs against the in-memory HSM double:
 * wrap/unwrap in customer and provider mode, versions, the availability
 * table of DESIGN section 5 for every requester, invalid copies, the blob
 * MAC, root checks, forced roots, availability rolls and policy info.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hier/hier.h"
#include "hier/cache.h"
#include "blob/blob.h"
#include "crypto/crypto.h"
#include "util/secmem.h"
#include "fake_hsm.h"
#include "policy_fx.h"

/* Re-MACs f->blob after a test changed it (as only the provider could). */
static void remac(struct fx *f)
{
    fake_hsm_mac(f->blob, f->len - DEP11_BLOB_MAC_LEN, f->blob + f->len - DEP11_BLOB_MAC_LEN);
}

/* Offset of copy @kind's data in f->blob. */
static size_t copy_offset(struct fx *f, uint8_t kind, size_t *len)
{
    struct dep11_policy_blob b;

    assert_int_equal(dep11_policy_blob_parse(f->blob, f->len, &b), CKR_OK);
    for (size_t i = 0; i < b.ncopies; i++)
        if (b.copies[i].kind == kind) {
            *len = b.copies[i].data_len;
            return (size_t)(b.copies[i].data - f->blob);
        }
    fail_msg("no copy of kind %u", kind);
    return 0;
}

static void check_policy_fields(const struct dep11_key *got, const struct dep11_key *want,
                                CK_ULONG version, CK_ULONG managed, CK_ULONG by)
{
    assert_int_equal(got->role, DEP11_ROLE_POLICY);
    assert_memory_equal(got->value, want->value, DEP11_KEY_LEN);
    assert_memory_equal(got->policy_id, want->policy_id, DEP11_ID_LEN);
    assert_int_equal(got->policy_type, want->policy_type);
    assert_memory_equal(got->tenant, want->tenant, DEP11_ID_LEN);
    assert_int_equal(got->geo_len, want->geo_len);
    assert_memory_equal(got->geo, want->geo, want->geo_len);
    assert_int_equal(got->label_len, want->label_len);
    assert_memory_equal(got->label, want->label, want->label_len);
    assert_int_equal(got->version, version);
    assert_int_equal(got->managed_by, managed);
    assert_int_equal(got->unwrapped_by, by);
    assert_true(got->has_policy);
    assert_false(got->local);
}

static void test_customer_roundtrip(void **state)
{
    struct fx *f = *state;
    struct dep11_key *k = pfx_new_policy(DEP11_POLICY_MAILBOX), *u = NULL;
    CK_ULONG need = 0;

    assert_int_equal(dep11_policy_wrap(&f->call, k, f->r1, f->r2, 0, NULL, &need), CKR_OK);
    assert_true(need > 2 * 256);
    f->len = need - 1;
    assert_int_equal(dep11_policy_wrap(&f->call, k, f->r1, f->r2, 0, f->blob, &f->len),
                     CKR_BUFFER_TOO_SMALL);
    assert_int_equal(f->len, need);
    assert_int_equal(f->hsm->avail_created, 0); /* nothing created */
    assert_int_equal(f->hsm->mac_calls, 0);
    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_OK);
    assert_int_equal(f->len, need);
    assert_int_equal(f->hsm->avail_created, 1);
    assert_int_equal(f->hsm->provider_root_calls, 0);
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_OK);
    assert_true(u->unwrapped_by == DEP11_ROOT_CUSTOMER_1 ||
                u->unwrapped_by == DEP11_ROOT_CUSTOMER_2);
    check_policy_fields(u, k, 1, DEP11_MANAGED_CUSTOMER, u->unwrapped_by);
    assert_int_equal(f->hsm->avail_opens, 0);
    dep11_key_free(u);
    /* both orders happen: over 40 unwraps each root serves at least once */
    int served[3] = { 0 };
    for (int i = 0; i < 40; i++) {
        assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_OK);
        served[u->unwrapped_by]++;
        dep11_key_free(u);
    }
    assert_true(served[1] > 0 && served[2] > 0);
    /* the header is the key's; the copies say SHA-256 */
    struct dep11_policy_blob b;
    assert_int_equal(dep11_policy_blob_parse(f->blob, f->len, &b), CKR_OK);
    assert_int_equal(b.ncopies, 3);
    assert_int_equal(b.copies[0].alg, DEP11_ALG_RSA_OAEP_SHA256);
    assert_memory_equal(b.copies[0].hint, "root-1", 6);
    dep11_key_free(k);
}

static void test_sha1_profile(void **state)
{
    struct fx *f = *state;
    struct dep11_key *k = pfx_new_policy(DEP11_POLICY_FILES), *u = NULL;
    struct dep11_policy_blob b;

    f->cfg->profile.oaep_hash = CKM_SHA_1;
    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_OK);
    assert_int_equal(dep11_policy_blob_parse(f->blob, f->len, &b), CKR_OK);
    assert_int_equal(b.copies[1].alg, DEP11_ALG_RSA_OAEP_SHA1);
    f->cfg->profile.oaep_hash = CKM_SHA256; /* the recorded hash wins at unwrap */
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_OK);
    assert_memory_equal(u->value, k->value, 32);
    dep11_key_free(u);
    f->cfg->profile.oaep_hash = CKM_MD5;
    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_FUNCTION_FAILED);
    dep11_key_free(k);
}

/* An unprovisioned provider token: provider-managed wraps fail, and nothing
 * is created on first use (the module only finds provider keys). */
static void test_provider_unprovisioned(void **state)
{
    struct fx *f = *state;
    struct dep11_key *k = pfx_new_policy(DEP11_POLICY_MULTI_WORKLOAD);

    f->hsm->provider_created[0] = f->hsm->provider_created[1] = 0;
    assert_int_equal(pfx_wrap(f, k, 0, 0, 0), CKR_KEY_HANDLE_INVALID);
    assert_true(f->hsm->provider_root_calls > 0);
    assert_false(f->hsm->provider_created[0] || f->hsm->provider_created[1]);
    dep11_key_free(k);
}

static void test_provider_roundtrip(void **state)
{
    struct fx *f = *state;
    struct dep11_key *k = pfx_new_policy(DEP11_POLICY_MULTI_WORKLOAD), *u = NULL;
    CK_ULONG bound = 0;

    assert_int_equal(dep11_policy_wrap(&f->call, k, 0, 0, 0, NULL, &bound), CKR_OK);
    f->len = 300;
    assert_int_equal(dep11_policy_wrap(&f->call, k, 0, 0, 0, f->blob, &f->len),
                     CKR_BUFFER_TOO_SMALL);
    assert_int_equal(f->len, bound);
    assert_int_equal(f->hsm->provider_root_calls, 0);
    assert_int_equal(f->hsm->avail_created, 0);
    assert_int_equal(pfx_wrap(f, k, 0, 0, 0), CKR_OK);
    assert_true(f->len <= bound);
    assert_int_equal(f->hsm->provider_root_calls, 2);
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_OK);
    check_policy_fields(u, k, 1, DEP11_MANAGED_PROVIDER, DEP11_ROOT_PROVIDER);
    dep11_key_free(u);
    /* the same availability rules */
    f->hsm->provider[0].decrypt_rv = CKR_DEVICE_ERROR;
    f->hsm->provider[1].decrypt_rv = CKR_DEVICE_ERROR;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_OK);
    assert_int_equal(u->unwrapped_by, DEP11_ROOT_AVAILABILITY);
    assert_memory_equal(u->value, k->value, 32);
    dep11_key_free(u);
    f->hsm->provider[0].decrypt_rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
    f->hsm->provider[1].decrypt_rv = CKR_OBJECT_HANDLE_INVALID;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_DEP11_ROOT_KEYS_REVOKED);
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_SYSTEM, &u), CKR_OK);
    assert_int_equal(u->unwrapped_by, DEP11_ROOT_AVAILABILITY);
    dep11_key_free(u);
    f->hsm->provider[1].decrypt_rv = CKR_OK;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_OK);
    assert_int_equal(u->unwrapped_by, DEP11_ROOT_PROVIDER);
    dep11_key_free(u);
    dep11_key_free(k);
}

static void test_version_and_refresh(void **state)
{
    struct fx *f = *state;
    struct dep11_key *k = pfx_new_policy(DEP11_POLICY_MAILBOX), *u1 = NULL, *u2 = NULL;
    CK_OBJECT_HANDLE r3 = fake_hsm_add_root(f->hsm, 2048, "root-3");
    CK_OBJECT_HANDLE r4 = fake_hsm_add_root(f->hsm, 3072, "root-4");
    CK_DEP11_POLICY_INFO info;
    uint8_t old[DEP11_POLICY_BLOB_MAX];
    CK_ULONG old_len = 0;

    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_OK);
    memcpy(old, f->blob, f->len);
    old_len = f->len;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u1), CKR_OK);
    assert_int_equal(u1->version, 1);
    /* refresh onto new roots (one of 3072 bits, public handle): version 2 */
    assert_int_equal(pfx_wrap(f, u1, r3, r4 + 1, 0), CKR_OK);
    assert_int_equal(dep11_policy_info(f->blob, f->len, &info), CKR_OK);
    assert_int_equal(info.ulVersion, 2);
    f->hsm->rsa[0].priv_present = 0; /* the old roots go */
    f->hsm->rsa[1].priv_present = 0;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u2), CKR_OK);
    assert_int_equal(u2->version, 2);
    assert_true(u2->unwrapped_by == DEP11_ROOT_CUSTOMER_1 ||
                u2->unwrapped_by == DEP11_ROOT_CUSTOMER_2);
    assert_memory_equal(u2->value, k->value, 32);
    /* v2 is committed: the old blob is superseded for every requester,
     * before any root is tried */
    dep11_key_free(u1);
    u1 = NULL;
    f->hsm->rsa[0].priv_present = 1;
    unsigned before = f->hsm->rsa[0].decrypts + f->hsm->rsa[1].decrypts;
    assert_int_equal(dep11_policy_unwrap(&f->call, 0, DEP11_REQUESTER_USER, old, old_len, &u1),
                     CKR_DEP11_BLOB_SUPERSEDED);
    assert_int_equal(dep11_policy_unwrap(&f->call, 0, DEP11_REQUESTER_SYSTEM, old, old_len, &u1),
                     CKR_DEP11_BLOB_SUPERSEDED);
    assert_int_equal(f->hsm->rsa[0].decrypts + f->hsm->rsa[1].decrypts, before);
    assert_null(u1);
    /* v2 -> v3 */
    assert_int_equal(pfx_wrap(f, u2, r3, r4, 0), CKR_OK);
    assert_int_equal(dep11_policy_info(f->blob, f->len, &info), CKR_OK);
    assert_int_equal(info.ulVersion, 3);
    dep11_key_free(u2);
    dep11_key_free(k);
}

enum answer { OK_, TRANSIENT, GONE, NODECRYPT, UNKNOWN_RV };

struct table_row {
    CK_ULONG type;
    int files_recovery_only;
    enum answer a1, a2;
    int avail_gone;
    CK_ULONG requester;
    CK_RV rv;
    CK_ULONG served_by;       /* when rv == CKR_OK */
};

static void set_answer(struct fake_rsa *r, enum answer a)
{
    r->priv_present = a != GONE;
    r->can_decrypt = a != NODECRYPT;
    r->decrypt_rv = a == TRANSIENT ? CKR_TOKEN_NOT_PRESENT
                    : a == UNKNOWN_RV ? CKR_PIN_EXPIRED : CKR_OK;
}

#define U DEP11_REQUESTER_USER
#define S DEP11_REQUESTER_SYSTEM
#define R DEP11_REQUESTER_RECOVERY
#define MB DEP11_POLICY_MAILBOX
#define MW DEP11_POLICY_MULTI_WORKLOAD
#define FI DEP11_POLICY_FILES
#define C1 DEP11_ROOT_CUSTOMER_1
#define C2 DEP11_ROOT_CUSTOMER_2
#define AV DEP11_ROOT_AVAILABILITY
#define REVOKED CKR_DEP11_ROOT_KEYS_REVOKED
#define UNAVAIL CKR_DEP11_ROOT_KEYS_UNAVAILABLE
#define PURGED CKR_DEP11_POLICY_PURGED

static const struct table_row table[] = {
    /* at least one customer key unwraps */
    { MB, 0, OK_, GONE, 0, U, CKR_OK, C1 },
    { MB, 0, NODECRYPT, OK_, 0, S, CKR_OK, C2 },
    { MW, 0, TRANSIENT, OK_, 0, R, CKR_OK, C2 },
    { MW, 0, OK_, TRANSIENT, 1, U, CKR_OK, C1 },
    /* both transient */
    { MB, 0, TRANSIENT, TRANSIENT, 0, U, CKR_OK, AV },
    { MB, 0, TRANSIENT, TRANSIENT, 0, S, CKR_OK, AV },
    { MB, 0, TRANSIENT, TRANSIENT, 0, R, CKR_OK, AV },
    /* both denied */
    { MW, 0, GONE, NODECRYPT, 0, U, REVOKED, 0 },
    { MW, 0, GONE, GONE, 0, S, CKR_OK, AV },
    { MW, 0, NODECRYPT, NODECRYPT, 0, R, CKR_OK, AV },
    { MB, 0, UNKNOWN_RV, GONE, 0, U, REVOKED, 0 },   /* unknown code = denied */
    /* one transient, one denied: the transient row */
    { MB, 0, TRANSIENT, GONE, 0, U, CKR_OK, AV },
    { MB, 0, NODECRYPT, TRANSIENT, 0, S, CKR_OK, AV },
    { MB, 0, GONE, TRANSIENT, 0, R, CKR_OK, AV },
    /* availability key destroyed and no customer key unwraps */
    { MB, 0, GONE, GONE, 1, U, PURGED, 0 },
    { MB, 0, GONE, GONE, 1, S, PURGED, 0 },
    { MB, 0, GONE, GONE, 1, R, PURGED, 0 },
    { MW, 0, TRANSIENT, TRANSIENT, 1, U, PURGED, 0 },
    { MW, 0, TRANSIENT, GONE, 1, S, PURGED, 0 },
    /* FILES without the profile option: the common rules */
    { FI, 0, TRANSIENT, TRANSIENT, 0, U, CKR_OK, AV },
    { FI, 0, GONE, GONE, 0, S, CKR_OK, AV },
    /* FILES with files-fallback = recovery-only */
    { FI, 1, TRANSIENT, TRANSIENT, 0, U, UNAVAIL, 0 },
    { FI, 1, TRANSIENT, TRANSIENT, 0, S, UNAVAIL, 0 },
    { FI, 1, TRANSIENT, TRANSIENT, 0, R, CKR_OK, AV },
    { FI, 1, GONE, GONE, 0, U, REVOKED, 0 },
    { FI, 1, GONE, NODECRYPT, 0, S, REVOKED, 0 },
    { FI, 1, GONE, GONE, 0, R, CKR_OK, AV },
    { FI, 1, TRANSIENT, GONE, 0, S, UNAVAIL, 0 },
    { FI, 1, OK_, GONE, 0, S, CKR_OK, C1 },
    { FI, 1, TRANSIENT, TRANSIENT, 1, S, PURGED, 0 },
    { FI, 1, GONE, GONE, 1, R, PURGED, 0 },
    /* the option narrows FILES policies only */
    { MB, 1, GONE, GONE, 0, S, CKR_OK, AV },
    { MW, 1, TRANSIENT, TRANSIENT, 0, U, CKR_OK, AV },
};

static void test_availability_table(void **state)
{
    struct fx *f = *state;

    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        const struct table_row *t = &table[i];
        struct dep11_key *k = pfx_new_policy(t->type), *u = NULL;
        unsigned opens = 0;

        set_answer(&f->hsm->rsa[0], OK_);
        set_answer(&f->hsm->rsa[1], OK_);
        f->cfg->profile.files_fallback_recovery_only = t->files_recovery_only;
        assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_OK);
        set_answer(&f->hsm->rsa[0], t->a1);
        set_answer(&f->hsm->rsa[1], t->a2);
        if (t->avail_gone)
            fake_hsm_avail_destroy_all(f->hsm, k->policy_id);
        opens = f->hsm->avail_opens;
        CK_RV rv = pfx_unwrap(f, t->requester, &u);
        if (rv != t->rv)
            fail_msg("row %zu: got 0x%lx, want 0x%lx", i, (unsigned long)rv,
                     (unsigned long)t->rv);
        if (rv == CKR_OK) {
            if (u->unwrapped_by != t->served_by)
                fail_msg("row %zu: served by %lu, want %lu", i,
                         (unsigned long)u->unwrapped_by, (unsigned long)t->served_by);
            check_policy_fields(u, k, 1, DEP11_MANAGED_CUSTOMER, t->served_by);
            /* the availability key is touched only when it serves */
            assert_int_equal(f->hsm->avail_opens - opens, t->served_by == AV ? 1 : 0);
        } else {
            assert_null(u);
        }
        dep11_key_free(u);
        dep11_key_free(k);
    }
}

static void test_requester_rules(void **state)
{
    struct fx *f = *state;
    struct dep11_key *k = pfx_new_policy(DEP11_POLICY_MAILBOX), *u = NULL;

    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_OK);
    assert_int_equal(pfx_unwrap(f, 0, &u), CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(pfx_unwrap(f, 4, &u), CKR_MECHANISM_PARAM_INVALID);
    f->cfg->system_requests = 0;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_SYSTEM, &u), CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_RECOVERY, &u), CKR_OK); /* separate switch */
    dep11_key_free(u);
    u = NULL;
    f->cfg->system_requests = 1;
    f->cfg->recovery_requests = 0;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_RECOVERY, &u), CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_SYSTEM, &u), CKR_OK);
    dep11_key_free(u);
    u = NULL;
    /* refused before any HSM work */
    unsigned macs = f->hsm->mac_calls;
    f->cfg->system_requests = 0;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_SYSTEM, &u), CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(f->hsm->mac_calls, macs);
    assert_null(u);
    dep11_key_free(k);
}

static void test_abort(void **state)
{
    struct fx *f = *state;
    struct dep11_key *k = pfx_new_policy(DEP11_POLICY_MAILBOX), *u = NULL;

    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_OK);
    for (int i = 0; i < 10; i++) { /* whichever root comes first */
        f->hsm->rsa[i % 2].decrypt_rv = CKR_USER_NOT_LOGGED_IN;
        f->hsm->rsa[(i + 1) % 2].decrypt_rv = CKR_DEVICE_ERROR;
        assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_SYSTEM, &u), CKR_USER_NOT_LOGGED_IN);
        assert_null(u);
    }
    assert_int_equal(f->hsm->avail_opens, 0);
    f->hsm->rsa[0].decrypt_rv = CKR_OK;
    f->hsm->rsa[1].decrypt_rv = CKR_OK;
    f->hsm->find_rv = CKR_USER_NOT_LOGGED_IN;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_SYSTEM, &u), CKR_USER_NOT_LOGGED_IN);
    f->hsm->find_rv = CKR_DEVICE_REMOVED; /* a look-up failure is transient */
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_OK);
    assert_int_equal(u->unwrapped_by, DEP11_ROOT_AVAILABILITY);
    dep11_key_free(u);
    dep11_key_free(k);
}

static void test_invalid_copies(void **state)
{
    struct fx *f = *state;
    struct dep11_key *k = pfx_new_policy(DEP11_POLICY_MAILBOX), *u = NULL;
    size_t n1 = 0, n2 = 0, o1 = 0, o2 = 0;
    uint8_t good[DEP11_POLICY_BLOB_MAX], other[32], ct[512];
    size_t ct_len = sizeof(ct);

    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_OK);
    memcpy(good, f->blob, f->len);
    o1 = copy_offset(f, DEP11_COPY_CUSTOMER_1, &n1);
    o2 = copy_offset(f, DEP11_COPY_CUSTOMER_2, &n2);
    /* copy 1 corrupt: root 2 serves */
    f->blob[o1 + n1 / 2] ^= 0x10;
    remac(f);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_OK);
        assert_int_equal(u->unwrapped_by, DEP11_ROOT_CUSTOMER_2);
        dep11_key_free(u);
    }
    /* copy 1 corrupt, root 2 transient: transient row */
    f->hsm->rsa[1].decrypt_rv = CKR_DEVICE_ERROR;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_OK);
    assert_int_equal(u->unwrapped_by, DEP11_ROOT_AVAILABILITY);
    dep11_key_free(u);
    /* copy 1 corrupt, root 2 denied: denied row */
    f->hsm->rsa[1].decrypt_rv = CKR_KEY_HANDLE_INVALID;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_DEP11_ROOT_KEYS_REVOKED);
    f->hsm->rsa[1].decrypt_rv = CKR_OK;
    /* both corrupt: invalid, never transient, whatever the requester (the
     * variants below are new blobs of version 1: forget the committed one) */
    fake_hsm_state_uncommit(k->policy_id);
    f->blob[o2 + 3] ^= 0x01;
    remac(f);
    unsigned opens = f->hsm->avail_opens;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_WRAPPED_KEY_INVALID);
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_SYSTEM, &u), CKR_WRAPPED_KEY_INVALID);
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_RECOVERY, &u), CKR_WRAPPED_KEY_INVALID);
    assert_int_equal(f->hsm->avail_opens, opens);
    /* valid OAEP copies of another key: the check value catches them */
    memcpy(f->blob, good, f->len);
    memset(other, 0x5c, sizeof(other));
    assert_true(fake_hsm_oaep_encrypt(f->hsm, f->r1, other, 32, ct, &ct_len));
    assert_int_equal(ct_len, n1);
    memcpy(f->blob + o1, ct, n1);
    ct_len = sizeof(ct);
    assert_true(fake_hsm_oaep_encrypt(f->hsm, f->r2, other, 32, ct, &ct_len));
    memcpy(f->blob + o2, ct, n2);
    remac(f);
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_SYSTEM, &u), CKR_WRAPPED_KEY_INVALID);
    /* a 31-byte value is no policy key either */
    ct_len = sizeof(ct);
    assert_true(fake_hsm_oaep_encrypt(f->hsm, f->r1, k->value, 31, ct, &ct_len));
    memcpy(f->blob + o1, ct, n1);
    remac(f);
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_SYSTEM, &u), CKR_WRAPPED_KEY_INVALID);
    assert_null(u);
    /* a corrupt availability copy with both roots transient */
    memcpy(f->blob, good, f->len);
    o1 = copy_offset(f, DEP11_COPY_AVAILABILITY, &n1);
    f->blob[o1 + 20] ^= 1;
    remac(f);
    f->hsm->rsa[0].decrypt_rv = CKR_DEVICE_ERROR;
    f->hsm->rsa[1].decrypt_rv = CKR_DEVICE_ERROR;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_WRAPPED_KEY_INVALID);
    /* an availability key that answers transiently */
    memcpy(f->blob, good, f->len);
    f->hsm->avail_open_rv = CKR_DEVICE_ERROR;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_DEP11_ROOT_KEYS_UNAVAILABLE);
    assert_null(u);
    dep11_key_free(k);
}

static void test_mac(void **state)
{
    struct fx *f = *state;
    struct dep11_key *k = pfx_new_policy(DEP11_POLICY_MULTI_WORKLOAD), *u = NULL;

    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_OK);
    for (size_t i = 0; i < f->len; i++) {
        f->blob[i] ^= 0x04;
        assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_SYSTEM, &u), CKR_WRAPPED_KEY_INVALID);
        f->blob[i] ^= 0x04;
    }
    assert_int_equal(f->hsm->rsa[0].decrypts + f->hsm->rsa[1].decrypts, 0);
    assert_int_equal(f->hsm->avail_opens, 0);
    f->len--;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_WRAPPED_KEY_INVALID);
    f->len++;
    /* a provider error is returned as is */
    f->hsm->mac_rv = CKR_DEVICE_ERROR;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_DEVICE_ERROR);
    f->hsm->mac_rv = CKR_OK;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_OK);
    dep11_key_free(u);
    u = NULL;
    /* the blob of another policy with this blob's copies does not verify */
    struct dep11_key *k2 = pfx_new_policy(DEP11_POLICY_MULTI_WORKLOAD);
    uint8_t first[DEP11_POLICY_BLOB_MAX];
    CK_ULONG first_len = f->len;
    size_t n = 0, o = copy_offset(f, DEP11_COPY_CUSTOMER_1, &n);
    memcpy(first, f->blob, f->len);
    assert_int_equal(pfx_wrap(f, k2, f->r1, f->r2, 0), CKR_OK);
    assert_int_equal(f->len, first_len);
    memcpy(f->blob + o, first + o, n);
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_WRAPPED_KEY_INVALID);
    assert_null(u);
    dep11_key_free(k2);
    dep11_key_free(k);
}

static void test_root_checks(void **state)
{
    struct fx *f = *state;
    struct dep11_key *k = pfx_new_policy(DEP11_POLICY_MAILBOX);
    struct dep11_key *mbx = NULL;
    struct dep11_keygen_req req;
    CK_OBJECT_HANDLE small = fake_hsm_add_root(f->hsm, 1024, "small");
    struct fake_rsa *a = fake_hsm_root(f->hsm, f->r1);

    a->registered = 0;
    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_KEY_FUNCTION_NOT_PERMITTED);
    f->cfg->trusted_roots_any = 1;
    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_OK);
    f->cfg->trusted_roots_any = 0;
    a->registered = 1;
    a->extractable = CK_TRUE;
    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_KEY_FUNCTION_NOT_PERMITTED);
    a->extractable = CK_FALSE;
    fake_hsm_root(f->hsm, f->r2)->sensitive = CK_FALSE;
    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_KEY_FUNCTION_NOT_PERMITTED);
    fake_hsm_root(f->hsm, f->r2)->sensitive = CK_TRUE;
    f->cfg->trusted_roots_any = 1; /* the size rule holds even for experiments */
    assert_int_equal(pfx_wrap(f, k, small, f->r2, 0), CKR_WRAPPING_KEY_SIZE_RANGE);
    assert_int_equal(pfx_wrap(f, k, f->r1, small + 1, 0), CKR_WRAPPING_KEY_SIZE_RANGE);
    f->cfg->trusted_roots_any = 0;
    /* the same key twice (private and public handle) */
    assert_int_equal(pfx_wrap(f, k, f->r1, f->r1 + 1, 0), CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(pfx_wrap(f, k, f->r2, f->r2, 0), CKR_MECHANISM_PARAM_INVALID);
    /* one root missing */
    assert_int_equal(pfx_wrap(f, k, f->r1, 0, 0), CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(pfx_wrap(f, k, 0, f->r2, 0), CKR_MECHANISM_PARAM_INVALID);
    /* handles that are no root */
    assert_int_equal(pfx_wrap(f, k, 4242, f->r2, 0), CKR_WRAPPING_KEY_HANDLE_INVALID);
    assert_int_equal(pfx_wrap(f, k, f->r1, 4242, 0), CKR_MECHANISM_PARAM_INVALID);
    a->priv_present = 0; /* a public key without its private half */
    assert_int_equal(pfx_wrap(f, k, f->r1 + 1, f->r2, 0), CKR_WRAPPING_KEY_HANDLE_INVALID);
    a->priv_present = 1;
    /* flags and the wrapped key's role */
    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 2), CKR_MECHANISM_PARAM_INVALID);
    memset(&req, 0, sizeof(req));
    req.role = DEP11_ROLE_MAILBOX;
    assert_int_equal(dep11_key_generate(&req, &mbx), CKR_OK);
    assert_int_equal(pfx_wrap(f, mbx, f->r1, f->r2, 0), CKR_KEY_FUNCTION_NOT_PERMITTED);
    /* worker sessions fail: the backend's code */
    f->hsm->worker_open_rv = CKR_SLOT_ID_INVALID;
    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_SLOT_ID_INVALID);
    f->hsm->worker_open_rv = CKR_OK;
    /* only the one good wrap above created an availability key */
    assert_int_equal(f->hsm->avail_created, 1);
    assert_int_equal(f->hsm->mac_calls, 1);
    /* on a failure after the output was started, the output is cleansed */
    f->hsm->mac_rv = CKR_DEVICE_ERROR;
    memset(f->blob, 0x77, sizeof(f->blob));
    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_DEVICE_ERROR);
    for (size_t i = 0; i < 200; i++)
        assert_int_not_equal(f->blob[i], 0x77);
    dep11_key_free(mbx);
    dep11_key_free(k);
}

static void test_force_root(void **state)
{
    struct fx *f = *state;
    struct dep11_key *k = pfx_new_policy(DEP11_POLICY_MAILBOX), *u = NULL;
    CK_OBJECT_HANDLE r3 = fake_hsm_add_root(f->hsm, 2048, "root-3");

    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_OK);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(dep11_policy_unwrap(&f->call, f->r2 + 1, DEP11_REQUESTER_USER,
                                             f->blob, f->len, &u), CKR_OK);
        assert_int_equal(u->unwrapped_by, DEP11_ROOT_CUSTOMER_2);
        dep11_key_free(u);
        u = NULL;
    }
    assert_int_equal(f->hsm->rsa[0].decrypts, 0);
    assert_int_equal(dep11_policy_unwrap(&f->call, r3, DEP11_REQUESTER_USER, f->blob, f->len, &u),
                     CKR_UNWRAPPING_KEY_HANDLE_INVALID);
    assert_int_equal(dep11_policy_unwrap(&f->call, 4242, DEP11_REQUESTER_USER, f->blob, f->len,
                                         &u), CKR_UNWRAPPING_KEY_HANDLE_INVALID);
    /* the forced root denied: the table for that one answer */
    f->hsm->rsa[0].can_decrypt = CK_FALSE;
    assert_int_equal(dep11_policy_unwrap(&f->call, f->r1, DEP11_REQUESTER_USER, f->blob, f->len,
                                         &u), CKR_DEP11_ROOT_KEYS_REVOKED);
    assert_null(u);
    /* provider-managed blobs take no unwrapping key */
    assert_int_equal(pfx_wrap(f, k, 0, 0, 0), CKR_OK);
    assert_int_equal(dep11_policy_unwrap(&f->call, f->r1, DEP11_REQUESTER_USER, f->blob, f->len,
                                         &u), CKR_UNWRAPPING_KEY_HANDLE_INVALID);
    dep11_key_free(k);
}

static void test_hint_moved(void **state)
{
    struct fx *f = *state;
    struct dep11_key *k = pfx_new_policy(DEP11_POLICY_MAILBOX), *u = NULL;

    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_OK);
    /* the roots' CKA_IDs changed (re-imported): found by identity */
    memcpy(f->hsm->rsa[0].ckaid, "root-2", 6);
    memcpy(f->hsm->rsa[1].ckaid, "zzzz-9", 6);
    f->hsm->rsa[1].priv_present = 0;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_OK);
    assert_int_equal(u->unwrapped_by, DEP11_ROOT_CUSTOMER_1);
    dep11_key_free(u);
    dep11_key_free(k);
}

/* One USER unwrap that must answer CKR_DEP11_ROOT_KEYS_REVOKED. */
static void unwrap_revoked(struct fx *f)
{
    struct dep11_key *u = NULL;

    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_DEP11_ROOT_KEYS_REVOKED);
    assert_null(u);
}

/* Unwraps @n times; counts who served in @served (indexed by DEP11_ROOT_*). */
static void unwrap_n(struct fx *f, int n, int served[3])
{
    struct dep11_key *u = NULL;

    for (int i = 0; i < n; i++) {
        assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_OK);
        assert_true(u->unwrapped_by == DEP11_ROOT_CUSTOMER_1 ||
                    u->unwrapped_by == DEP11_ROOT_CUSTOMER_2);
        served[u->unwrapped_by]++;
        dep11_key_free(u);
    }
}

/* A root's handle is remembered (no search on the next unwrap), but never
 * trusted: a handle that now names another key, or a destroyed root, goes
 * back to the search, and revocation is seen at once. */
static void test_root_handle_remembered(void **state)
{
    struct fx *f = *state;
    struct dep11_key *k = pfx_new_policy(DEP11_POLICY_MAILBOX);
    int served[3] = { 0 };
    unsigned finds = 0, d0 = 0, d1 = 0;
    CK_OBJECT_HANDLE h0 = 0;

    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_OK);
    unwrap_n(f, 40, served); /* both roots served, both remembered */
    assert_true(served[1] > 0 && served[2] > 0);
    finds = f->hsm->finds;
    unwrap_n(f, 20, served);
    assert_int_equal(f->hsm->finds, finds); /* no search at all */
    /* the backend hands root 1's handle to root 2 (root 1 re-imported
     * under a new handle): each copy is still opened with its own root */
    h0 = f->hsm->rsa[0].priv;
    f->hsm->rsa[0].priv = f->hsm->rsa[1].priv + 1000;
    f->hsm->rsa[1].priv = h0;
    memset(served, 0, sizeof served);
    d0 = f->hsm->rsa[0].decrypts;
    d1 = f->hsm->rsa[1].decrypts;
    unwrap_n(f, 40, served);
    assert_true(served[1] > 0 && served[2] > 0);
    assert_int_equal(f->hsm->rsa[0].decrypts - d0, (unsigned)served[1]);
    assert_int_equal(f->hsm->rsa[1].decrypts - d1, (unsigned)served[2]);
    /* a flush of one policy keeps the handles; a flush of everything drops
     * them: the next unwrap searches as a first one does */
    finds = f->hsm->finds;
    dep11_cache_flush(k->policy_id);
    unwrap_n(f, 1, served);
    assert_int_equal(f->hsm->finds, finds);
    dep11_cache_flush(NULL);
    unwrap_n(f, 1, served);
    assert_true(f->hsm->finds > finds);
    memset(served, 0, sizeof served);
    unwrap_n(f, 40, served); /* both roots tried first again: remembered again */
    assert_true(served[1] > 0 && served[2] > 0);
    finds = f->hsm->finds;
    unwrap_n(f, 20, served);
    assert_int_equal(f->hsm->finds, finds);
    /* CKA_DECRYPT off on both (the hints still name them, no search runs):
     * revoked on the very next unwrap, and served again once back on */
    f->hsm->rsa[0].can_decrypt = f->hsm->rsa[1].can_decrypt = CK_FALSE;
    unwrap_revoked(f);
    assert_int_equal(f->hsm->finds, finds);
    f->hsm->rsa[0].can_decrypt = f->hsm->rsa[1].can_decrypt = CK_TRUE;
    unwrap_n(f, 1, served);
    /* both roots destroyed: revoked on the very next unwrap */
    f->hsm->rsa[0].priv_present = f->hsm->rsa[1].priv_present = 0;
    unwrap_revoked(f);
    dep11_key_free(k);
}

/* "object-handles = unique": a remembered handle whose key was proven
 * sensitive and not extractable is used without reading the key again;
 * anything but a decrypt that serves goes the proven way (read, search). */
static void test_root_handle_unique(void **state)
{
    struct fx *f = *state;
    struct dep11_key *k = pfx_new_policy(DEP11_POLICY_MAILBOX);
    int served[3] = { 0 };
    unsigned finds = 0, reads = 0, d0 = 0;

    f->cfg->profile.handles_unique = 1;
    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_OK);
    unwrap_n(f, 40, served); /* both roots served, both remembered */
    assert_true(served[1] > 0 && served[2] > 0);
    finds = f->hsm->finds;
    reads = f->hsm->reads;
    unwrap_n(f, 20, served);
    assert_int_equal(f->hsm->finds, finds); /* no search */
    assert_int_equal(f->hsm->reads, reads); /* and no read either */
    /* root 1 destroyed and imported again under a new handle: the old
     * handle answers CKR_OBJECT_HANDLE_INVALID, the search finds the new
     * one, and root 1 keeps serving its copy */
    f->hsm->rsa[0].priv += 1000;
    memset(served, 0, sizeof served);
    d0 = f->hsm->rsa[0].decrypts;
    unwrap_n(f, 40, served);
    assert_true(served[1] > 0 && served[2] > 0);
    assert_true(f->hsm->finds > finds);
    assert_true(f->hsm->rsa[0].decrypts - d0 >= (unsigned)served[1]);
    /* CKA_DECRYPT off on both: revoked at once (the proven way decides) */
    f->hsm->rsa[0].can_decrypt = f->hsm->rsa[1].can_decrypt = CK_FALSE;
    unwrap_revoked(f);
    f->hsm->rsa[0].can_decrypt = f->hsm->rsa[1].can_decrypt = CK_TRUE;
    /* a root found extractable is never used, and its handle is never
     * trusted: every unwrap reads it again and refuses it */
    f->hsm->rsa[0].extractable = f->hsm->rsa[1].extractable = CK_TRUE;
    dep11_cache_flush(NULL);
    unwrap_revoked(f);
    reads = f->hsm->reads;
    d0 = f->hsm->rsa[0].decrypts + f->hsm->rsa[1].decrypts;
    unwrap_revoked(f);
    assert_int_equal(f->hsm->reads, reads + 2);
    assert_int_equal(f->hsm->rsa[0].decrypts + f->hsm->rsa[1].decrypts, d0);
    /* both destroyed: revoked on the very next unwrap */
    f->hsm->rsa[0].extractable = f->hsm->rsa[1].extractable = CK_FALSE;
    unwrap_n(f, 1, served);
    f->hsm->rsa[0].priv_present = f->hsm->rsa[1].priv_present = 0;
    unwrap_revoked(f);
    dep11_key_free(k);
}

static void test_roll(void **state)
{
    struct fx *f = *state;
    struct dep11_key *k = pfx_new_policy(DEP11_POLICY_MAILBOX), *u = NULL;
    uint8_t v1[DEP11_POLICY_BLOB_MAX], v1_id[DEP11_AVAIL_ID_LEN];
    CK_ULONG v1_len = 0;

    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_OK);
    memcpy(v1, f->blob, f->len);
    v1_len = f->len;
    struct dep11_policy_blob b;
    assert_int_equal(dep11_policy_blob_parse(f->blob, f->len, &b), CKR_OK);
    assert_int_equal(b.copies[2].kind, DEP11_COPY_AVAILABILITY);
    memcpy(v1_id, b.copies[2].key_id, DEP11_AVAIL_ID_LEN);
    /* a plain re-wrap keeps the availability key */
    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_OK);
    assert_int_equal(f->hsm->avail_created, 1);
    /* a size query with the roll flag creates nothing */
    CK_ULONG need = 0;
    assert_int_equal(dep11_policy_wrap(&f->call, k, f->r1, f->r2, DEP11_WRAP_ROLL_AVAILABILITY,
                                       NULL, &need), CKR_OK);
    assert_int_equal(f->hsm->avail_created, 1);
    /* a roll that fails after making its fresh key drops it: the token
     * is as it was, and the v1 blob keeps its availability key */
    f->hsm->avail_seal_rv = CKR_DEVICE_ERROR;
    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, DEP11_WRAP_ROLL_AVAILABILITY), CKR_DEVICE_ERROR);
    f->hsm->avail_seal_rv = CKR_OK;
    assert_int_equal(f->hsm->avail_created, 2);
    assert_int_equal(fake_hsm_avail_count(f->hsm, k->policy_id), 1);
    memcpy(f->blob, v1, v1_len);
    f->len = v1_len;
    f->hsm->rsa[0].priv_present = f->hsm->rsa[1].priv_present = 0;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_SYSTEM, &u), CKR_OK);
    assert_int_equal(u->unwrapped_by, DEP11_ROOT_AVAILABILITY);
    dep11_key_free(u);
    u = NULL;
    f->hsm->rsa[0].priv_present = f->hsm->rsa[1].priv_present = 1;
    /* the roll of an unwrapped v1 key: v2 under a fresh availability key;
     * the old key stays until v2 is committed */
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_OK);
    assert_int_equal(pfx_wrap(f, u, f->r1, f->r2, DEP11_WRAP_ROLL_AVAILABILITY), CKR_OK);
    dep11_key_free(u);
    u = NULL;
    assert_int_equal(f->hsm->avail_created, 3);
    assert_int_equal(fake_hsm_avail_count(f->hsm, k->policy_id), 2);
    assert_int_equal(dep11_policy_blob_parse(f->blob, f->len, &b), CKR_OK);
    assert_int_equal(b.hdr.version, 2);
    assert_memory_not_equal(b.copies[2].key_id, v1_id, DEP11_AVAIL_ID_LEN);
    assert_memory_equal(b.copies[2].key_id, k->policy_id, 16); /* tagged with the policy */
    /* both roots revoked: before the commit v1 still serves SYSTEM */
    f->hsm->rsa[0].priv_present = 0;
    f->hsm->rsa[1].priv_present = 0;
    assert_int_equal(dep11_policy_unwrap(&f->call, 0, DEP11_REQUESTER_SYSTEM, v1, v1_len, &u),
                     CKR_OK);
    assert_int_equal(u->unwrapped_by, DEP11_ROOT_AVAILABILITY);
    dep11_key_free(u);
    u = NULL;
    /* v2's first unwrap commits it: the old key goes, v1 is superseded */
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_SYSTEM, &u), CKR_OK);
    assert_int_equal(u->unwrapped_by, DEP11_ROOT_AVAILABILITY);
    dep11_key_free(u);
    u = NULL;
    assert_int_equal(fake_hsm_avail_count(f->hsm, k->policy_id), 1);
    assert_int_equal(dep11_policy_unwrap(&f->call, 0, DEP11_REQUESTER_SYSTEM, v1, v1_len, &u),
                     CKR_DEP11_BLOB_SUPERSEDED);
    assert_null(u);
    dep11_key_free(k);
}

static void test_policy_info(void **state)
{
    struct fx *f = *state;
    struct dep11_key *k = pfx_new_policy(DEP11_POLICY_FILES);
    CK_DEP11_POLICY_INFO info;
    uint8_t label[64], geo[16];

    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_OK);
    assert_int_equal(dep11_policy_info(f->blob, f->len, &info), CKR_OK);
    assert_memory_equal(info.policyId, k->policy_id, 16);
    assert_memory_equal(info.tenantId, k->tenant, 16);
    assert_int_equal(info.ulPolicyType, DEP11_POLICY_FILES);
    assert_int_equal(info.ulVersion, 1);
    assert_int_equal(info.ulManagedBy, DEP11_MANAGED_CUSTOMER);
    assert_int_equal(info.ulSuite, 1);
    assert_int_equal(info.ulWrappedCopies, 3);
    memset(label, ' ', sizeof(label));
    memcpy(label, "Contoso mailboxes", 17);
    memset(geo, ' ', sizeof(geo));
    memcpy(geo, "NAM", 3);
    assert_memory_equal(info.label, label, 64);
    assert_memory_equal(info.geo, geo, 16);
    assert_int_equal(dep11_policy_info(NULL, f->len, &info), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_policy_info(f->blob, f->len, NULL), CKR_ARGUMENTS_BAD);
    f->blob[0] ^= 1;
    assert_int_equal(dep11_policy_info(f->blob, f->len, &info), CKR_WRAPPED_KEY_INVALID);
    assert_int_equal(dep11_policy_info(f->blob, 10, &info), CKR_WRAPPED_KEY_INVALID);
    f->blob[0] ^= 1;
    assert_int_equal(pfx_wrap(f, k, 0, 0, 0), CKR_OK);
    assert_int_equal(dep11_policy_info(f->blob, f->len, &info), CKR_OK);
    assert_int_equal(info.ulManagedBy, DEP11_MANAGED_PROVIDER);
    dep11_key_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_customer_roundtrip, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_sha1_profile, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_root_handle_unique, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_provider_roundtrip, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_provider_unprovisioned, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_version_and_refresh, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_availability_table, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_requester_rules, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_abort, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_copies, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_mac, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_root_checks, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_force_root, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_hint_moved, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_root_handle_remembered, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_roll, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_policy_info, pfx_setup, pfx_teardown),
    };

    dep11_secmem_init();
    return cmocka_run_group_tests(tests, NULL, pfx_group_teardown);
}
