/*
 * test_hier_child.c - module-side keys (generation, sticky roles), child
 * blobs for every (policy type, role) pair, and chunk key derivation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hier/hier.h"
#include "blob/blob.h"
#include "crypto/crypto.h"
#include "crypto/suite1.h"
#include "util/secmem.h"

struct fx {
    struct dep11_key *policy[4];     /* index = DEP11_POLICY_* */
    struct dep11_key *child[6];      /* index = DEP11_ROLE_* (1..4 generated) */
};

static struct dep11_key *gen(CK_ULONG role, CK_ULONG type)
{
    struct dep11_keygen_req req;
    struct dep11_key *k = NULL;

    memset(&req, 0, sizeof(req));
    req.role = role;
    if (role == DEP11_ROLE_POLICY) {
        req.policy_type = type;
        req.has_tenant = 1;
        memset(req.tenant, 0x7e, sizeof(req.tenant));
        memcpy(req.geo, "EUR", 3);
        req.geo_len = 3;
    }
    assert_int_equal(dep11_key_generate(&req, &k), CKR_OK);
    return k;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    for (CK_ULONG t = DEP11_POLICY_MAILBOX; t <= DEP11_POLICY_FILES; t++)
        f->policy[t] = gen(DEP11_ROLE_POLICY, t);
    for (CK_ULONG r = DEP11_ROLE_MAILBOX; r <= DEP11_ROLE_SITE; r++)
        f->child[r] = gen(r, 0);
    f->child[DEP11_ROLE_POLICY] = gen(DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    for (int i = 0; i < 4; i++)
        dep11_key_free(f->policy[i]);
    for (int i = 0; i < 6; i++)
        dep11_key_free(f->child[i]);
    free(f);
    return 0;
}

static void test_keygen_rules(void **state)
{
    struct dep11_keygen_req req;
    struct dep11_key *a = NULL, *b = NULL;

    (void)state;
    memset(&req, 0, sizeof(req));
    req.role = DEP11_ROLE_POLICY;
    req.policy_type = DEP11_POLICY_FILES;
    assert_int_equal(dep11_key_generate(&req, &a), CKR_TEMPLATE_INCONSISTENT); /* no tenant */
    req.has_tenant = 1;
    req.policy_type = 0;
    assert_int_equal(dep11_key_generate(&req, &a), CKR_TEMPLATE_INCONSISTENT);
    req.policy_type = 4;
    assert_int_equal(dep11_key_generate(&req, &a), CKR_TEMPLATE_INCONSISTENT);
    assert_null(a);
    memset(&req, 0, sizeof(req));
    req.role = DEP11_ROLE_MAILBOX;
    req.policy_type = DEP11_POLICY_MAILBOX;
    assert_int_equal(dep11_key_generate(&req, &a), CKR_TEMPLATE_INCONSISTENT);
    req.policy_type = 0;
    req.has_tenant = 1;
    assert_int_equal(dep11_key_generate(&req, &a), CKR_TEMPLATE_INCONSISTENT);
    req.has_tenant = 0;
    req.geo_len = 2;
    assert_int_equal(dep11_key_generate(&req, &a), CKR_TEMPLATE_INCONSISTENT);
    req.geo_len = 0;
    req.role = DEP11_ROLE_CHUNK;
    assert_int_equal(dep11_key_generate(&req, &a), CKR_TEMPLATE_INCONSISTENT);
    req.role = 9;
    assert_int_equal(dep11_key_generate(&req, &a), CKR_TEMPLATE_INCONSISTENT);
    assert_int_equal(dep11_key_generate(NULL, &a), CKR_ARGUMENTS_BAD);
    assert_null(a);

    a = gen(DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX);
    b = gen(DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX);
    assert_true(a->local);
    assert_true(a->has_policy);
    assert_int_equal(a->version, 0);
    assert_int_equal(a->geo_len, 3);
    assert_memory_not_equal(a->policy_id, b->policy_id, DEP11_ID_LEN);
    assert_memory_not_equal(a->value, b->value, DEP11_KEY_LEN);
    dep11_key_free(a);
    dep11_key_free(b);
    a = gen(DEP11_ROLE_SITE, 0);
    assert_false(a->has_policy);
    assert_int_equal(a->role, DEP11_ROLE_SITE);
    dep11_key_free(a);
    dep11_key_free(NULL);
}

struct permit_row {
    CK_ULONG role;
    enum dep11_use use;
    CK_MECHANISM_TYPE mech;
    CK_RV rv;
};

static void test_permits_table(void **state)
{
    static const struct permit_row rows[] = {
        { DEP11_ROLE_POLICY, DEP11_USE_WRAP_CHILD, CKM_DEP11_CHILD_WRAP, CKR_OK },
        { DEP11_ROLE_POLICY, DEP11_USE_UNWRAP_CHILD, CKM_DEP11_CHILD_UNWRAP, CKR_OK },
        { DEP11_ROLE_POLICY, DEP11_USE_WRAPPED_BY_POLICY_WRAP, CKM_DEP11_POLICY_WRAP, CKR_OK },
        { DEP11_ROLE_POLICY, DEP11_USE_WRAPPED_BY_CHILD_WRAP, CKM_DEP11_CHILD_WRAP, CKR_KEY_FUNCTION_NOT_PERMITTED },
        { DEP11_ROLE_POLICY, DEP11_USE_ENCRYPT, CKM_DEP11_AEAD, CKR_KEY_FUNCTION_NOT_PERMITTED },
        { DEP11_ROLE_POLICY, DEP11_USE_DECRYPT, CKM_AES_GCM, CKR_KEY_FUNCTION_NOT_PERMITTED },
        { DEP11_ROLE_POLICY, DEP11_USE_DERIVE_CHUNK, CKM_DEP11_CHUNK_KEY_DERIVE, CKR_KEY_FUNCTION_NOT_PERMITTED },
        { DEP11_ROLE_SITE, DEP11_USE_DERIVE_CHUNK, CKM_DEP11_CHUNK_KEY_DERIVE, CKR_OK },
        { DEP11_ROLE_SITE, DEP11_USE_ENCRYPT, CKM_DEP11_CHUNK_AEAD, CKR_OK },
        { DEP11_ROLE_SITE, DEP11_USE_DECRYPT, CKM_DEP11_CHUNK_AEAD, CKR_OK },
        { DEP11_ROLE_SITE, DEP11_USE_ENCRYPT, CKM_DEP11_AEAD, CKR_KEY_FUNCTION_NOT_PERMITTED },
        { DEP11_ROLE_SITE, DEP11_USE_DECRYPT, CKM_AES_GCM, CKR_KEY_FUNCTION_NOT_PERMITTED },
        { DEP11_ROLE_SITE, DEP11_USE_WRAPPED_BY_CHILD_WRAP, CKM_DEP11_CHILD_WRAP, CKR_OK },
        { DEP11_ROLE_SITE, DEP11_USE_WRAP_CHILD, CKM_DEP11_CHILD_WRAP, CKR_KEY_FUNCTION_NOT_PERMITTED },
        { DEP11_ROLE_SITE, DEP11_USE_WRAPPED_BY_POLICY_WRAP, CKM_DEP11_POLICY_WRAP, CKR_KEY_FUNCTION_NOT_PERMITTED },
        { DEP11_ROLE_MAILBOX, DEP11_USE_ENCRYPT, CKM_DEP11_AEAD, CKR_OK },
        { DEP11_ROLE_MAILBOX, DEP11_USE_DECRYPT, CKM_AES_GCM, CKR_OK },
        { DEP11_ROLE_MAILBOX, DEP11_USE_ENCRYPT, CKM_DEP11_CHUNK_AEAD, CKR_KEY_FUNCTION_NOT_PERMITTED },
        { DEP11_ROLE_MAILBOX, DEP11_USE_ENCRYPT, CKM_AES_CBC, CKR_KEY_FUNCTION_NOT_PERMITTED },
        { DEP11_ROLE_MAILBOX, DEP11_USE_WRAPPED_BY_CHILD_WRAP, CKM_DEP11_CHILD_WRAP, CKR_OK },
        { DEP11_ROLE_MAILBOX, DEP11_USE_WRAP_CHILD, CKM_DEP11_CHILD_WRAP, CKR_KEY_FUNCTION_NOT_PERMITTED },
        { DEP11_ROLE_MAILBOX, DEP11_USE_DERIVE_CHUNK, CKM_DEP11_CHUNK_KEY_DERIVE, CKR_KEY_FUNCTION_NOT_PERMITTED },
        { DEP11_ROLE_WORKLOAD, DEP11_USE_DECRYPT, CKM_DEP11_AEAD, CKR_OK },
        { DEP11_ROLE_WORKLOAD, DEP11_USE_WRAPPED_BY_CHILD_WRAP, CKM_DEP11_CHILD_WRAP, CKR_OK },
        { DEP11_ROLE_WORKLOAD, DEP11_USE_UNWRAP_CHILD, CKM_DEP11_CHILD_UNWRAP, CKR_KEY_FUNCTION_NOT_PERMITTED },
        { DEP11_ROLE_CHUNK, DEP11_USE_ENCRYPT, CKM_DEP11_AEAD, CKR_OK },
        { DEP11_ROLE_CHUNK, DEP11_USE_DECRYPT, CKM_AES_GCM, CKR_OK },
        { DEP11_ROLE_CHUNK, DEP11_USE_WRAPPED_BY_CHILD_WRAP, CKM_DEP11_CHILD_WRAP, CKR_KEY_FUNCTION_NOT_PERMITTED },
        { DEP11_ROLE_CHUNK, DEP11_USE_DERIVE_CHUNK, CKM_DEP11_CHUNK_KEY_DERIVE, CKR_KEY_FUNCTION_NOT_PERMITTED },
        { DEP11_ROLE_CHUNK, DEP11_USE_ENCRYPT, CKM_DEP11_CHUNK_AEAD, CKR_KEY_FUNCTION_NOT_PERMITTED },
        { 0, DEP11_USE_ENCRYPT, CKM_DEP11_AEAD, CKR_KEY_FUNCTION_NOT_PERMITTED },
    };
    struct dep11_key k;

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        memset(&k, 0, sizeof(k));
        k.role = rows[i].role;
        assert_int_equal(dep11_key_permits(&k, rows[i].use, rows[i].mech), rows[i].rv);
    }
    assert_int_equal(dep11_key_permits(NULL, DEP11_USE_ENCRYPT, CKM_DEP11_AEAD),
                     CKR_ARGUMENTS_BAD);
}

static int pair_ok(CK_ULONG type, CK_ULONG role)
{
    return (type == DEP11_POLICY_MAILBOX && role == DEP11_ROLE_MAILBOX) ||
           (type == DEP11_POLICY_MULTI_WORKLOAD &&
            (role == DEP11_ROLE_MAILBOX || role == DEP11_ROLE_WORKLOAD)) ||
           (type == DEP11_POLICY_FILES && role == DEP11_ROLE_SITE);
}

static void test_child_pairs(void **state)
{
    struct fx *f = *state;
    uint8_t owner[16], blob[DEP11_CHILD_BLOB_LEN + 8];
    CK_ULONG len = 0;
    struct dep11_key *back = NULL;

    memset(owner, 0x42, sizeof(owner));
    for (CK_ULONG t = DEP11_POLICY_MAILBOX; t <= DEP11_POLICY_FILES; t++) {
        for (CK_ULONG r = DEP11_ROLE_POLICY; r <= DEP11_ROLE_SITE; r++) {
            len = sizeof(blob);
            CK_RV rv = dep11_child_wrap(f->policy[t], f->child[r], owner, blob, &len);
            if (!pair_ok(t, r)) {
                assert_int_equal(rv, CKR_KEY_FUNCTION_NOT_PERMITTED);
                continue;
            }
            assert_int_equal(rv, CKR_OK);
            assert_int_equal(len, DEP11_CHILD_BLOB_LEN);
            assert_int_equal(dep11_child_unwrap(f->policy[t], owner, blob, len, &back), CKR_OK);
            assert_int_equal(back->role, r);
            assert_memory_equal(back->value, f->child[r]->value, DEP11_KEY_LEN);
            assert_true(back->has_policy);
            assert_memory_equal(back->policy_id, f->policy[t]->policy_id, DEP11_ID_LEN);
            assert_int_equal(back->policy_type, t);
            assert_true(back->has_tenant);
            assert_memory_equal(back->tenant, f->policy[t]->tenant, DEP11_ID_LEN);
            assert_true(back->has_owner);
            assert_memory_equal(back->owner, owner, DEP11_ID_LEN);
            assert_false(back->local);
            dep11_key_free(back);
            back = NULL;
        }
    }
    /* A chunk key is never wrapped. */
    struct dep11_key *chunk = NULL;
    assert_int_equal(dep11_chunk_derive(f->child[DEP11_ROLE_SITE], owner, 1, &chunk), CKR_OK);
    len = sizeof(blob);
    assert_int_equal(dep11_child_wrap(f->policy[DEP11_POLICY_FILES], chunk, owner, blob, &len),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    /* A child cannot wrap: roles are sticky. */
    assert_int_equal(dep11_child_wrap(f->child[DEP11_ROLE_MAILBOX], f->child[DEP11_ROLE_MAILBOX],
                                      owner, blob, &len), CKR_KEY_FUNCTION_NOT_PERMITTED);
    dep11_key_free(chunk);
}

static void test_child_bindings(void **state)
{
    struct fx *f = *state;
    struct dep11_key *mp = f->policy[DEP11_POLICY_MAILBOX], *back = NULL;
    struct dep11_key *other = gen(DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX);
    struct dep11_key twin;
    uint8_t owner[16], wrong[16], blob[DEP11_CHILD_BLOB_LEN];
    CK_ULONG len = sizeof(blob);

    memset(owner, 1, sizeof(owner));
    memset(wrong, 2, sizeof(wrong));
    assert_int_equal(dep11_child_wrap(mp, f->child[DEP11_ROLE_MAILBOX], owner, blob, &len),
                     CKR_OK);
    assert_int_equal(dep11_child_unwrap(mp, wrong, blob, len, &back), CKR_WRAPPED_KEY_INVALID);
    assert_int_equal(dep11_child_unwrap(other, owner, blob, len, &back),
                     CKR_WRAPPED_KEY_INVALID);
    /* Same id and value, another type: the blob's type binding fails. */
    twin = *mp;
    twin.policy_type = DEP11_POLICY_MULTI_WORKLOAD;
    assert_int_equal(dep11_child_unwrap(&twin, owner, blob, len, &back),
                     CKR_WRAPPED_KEY_INVALID);
    /* Same id, type and owner, another value: the GCM does not open. */
    memcpy(other->policy_id, mp->policy_id, DEP11_ID_LEN);
    assert_int_equal(dep11_child_unwrap(other, owner, blob, len, &back),
                     CKR_WRAPPED_KEY_INVALID);
    for (size_t i = 0; i < len; i++) {
        blob[i] ^= 0x01;
        assert_int_equal(dep11_child_unwrap(mp, owner, blob, len, &back),
                         CKR_WRAPPED_KEY_INVALID);
        blob[i] ^= 0x01;
    }
    assert_int_equal(dep11_child_unwrap(mp, owner, blob, len - 1, &back),
                     CKR_WRAPPED_KEY_INVALID);
    assert_null(back);
    /* Only a policy key unwraps children. */
    assert_int_equal(dep11_child_unwrap(f->child[DEP11_ROLE_MAILBOX], owner, blob, len, &back),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(dep11_child_unwrap(mp, owner, blob, len, &back), CKR_OK);
    dep11_key_free(back);
    dep11_key_free(other);
}

/* A blob whose role the policy type does not hold, well formed and sealed
 * with the right KEK, is still refused at unwrap. */
static void test_child_forged_role(void **state)
{
    struct fx *f = *state;
    struct dep11_key *mp = f->policy[DEP11_POLICY_MAILBOX], *back = NULL;
    struct dep11_child_header h;
    uint8_t blob[DEP11_CHILD_BLOB_LEN], kek[32], owner[16];

    memset(owner, 3, sizeof(owner));
    memset(&h, 0, sizeof(h));
    h.suite = 1;
    h.role = DEP11_ROLE_WORKLOAD;
    memcpy(h.policy_id, mp->policy_id, 16);
    h.policy_type = DEP11_POLICY_MAILBOX;
    memcpy(h.owner, owner, 16);
    assert_int_equal(dep11_child_header_encode(&h, blob), CKR_OK);
    assert_int_equal(dep11_suite1_child_kek(mp->value, blob, DEP11_CHILD_HEADER_LEN, kek), CKR_OK);
    memset(blob + 40, 9, 12);
    assert_int_equal(dep11_gcm_seal(kek, blob + 40, 12, blob, 40, f->child[3]->value, 32,
                                    blob + 52, blob + 84), CKR_OK);
    assert_int_equal(dep11_child_unwrap(mp, owner, blob, sizeof(blob), &back),
                     CKR_WRAPPED_KEY_INVALID);
    /* The same forgery with an allowed role opens: the check above is the role rule. */
    h.role = DEP11_ROLE_MAILBOX;
    assert_int_equal(dep11_child_header_encode(&h, blob), CKR_OK);
    assert_int_equal(dep11_suite1_child_kek(mp->value, blob, DEP11_CHILD_HEADER_LEN, kek), CKR_OK);
    assert_int_equal(dep11_gcm_seal(kek, blob + 40, 12, blob, 40, f->child[3]->value, 32,
                                    blob + 52, blob + 84), CKR_OK);
    assert_int_equal(dep11_child_unwrap(mp, owner, blob, sizeof(blob), &back), CKR_OK);
    assert_int_equal(back->role, DEP11_ROLE_MAILBOX);
    dep11_key_free(back);
    dep11_cleanse(kek, sizeof(kek));
}

static void test_child_size_query(void **state)
{
    struct fx *f = *state;
    struct dep11_key *fp = f->policy[DEP11_POLICY_FILES];
    uint8_t owner[16] = { 0 }, blob[DEP11_CHILD_BLOB_LEN], zero[DEP11_CHILD_BLOB_LEN];
    CK_ULONG len = 0;

    memset(blob, 0, sizeof(blob));
    memset(zero, 0, sizeof(zero));
    assert_int_equal(dep11_child_wrap(fp, f->child[DEP11_ROLE_SITE], owner, NULL, &len), CKR_OK);
    assert_int_equal(len, DEP11_CHILD_BLOB_LEN);
    len = DEP11_CHILD_BLOB_LEN - 1;
    assert_int_equal(dep11_child_wrap(fp, f->child[DEP11_ROLE_SITE], owner, blob, &len),
                     CKR_BUFFER_TOO_SMALL);
    assert_int_equal(len, DEP11_CHILD_BLOB_LEN);
    assert_memory_equal(blob, zero, sizeof(blob));
    /* Two wraps of one key differ (fresh nonce) and both open. */
    uint8_t b2[DEP11_CHILD_BLOB_LEN];
    CK_ULONG l2 = sizeof(b2);
    struct dep11_key *k = NULL;
    assert_int_equal(dep11_child_wrap(fp, f->child[DEP11_ROLE_SITE], owner, blob, &len), CKR_OK);
    assert_int_equal(dep11_child_wrap(fp, f->child[DEP11_ROLE_SITE], owner, b2, &l2), CKR_OK);
    assert_memory_not_equal(blob, b2, sizeof(b2));
    assert_int_equal(dep11_child_unwrap(fp, owner, b2, l2, &k), CKR_OK);
    dep11_key_free(k);
}

static void test_chunk_derive(void **state)
{
    struct fx *f = *state;
    struct dep11_key *site = f->child[DEP11_ROLE_SITE];
    struct dep11_key *site2 = gen(DEP11_ROLE_SITE, 0);
    struct dep11_key *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;
    uint8_t file[16], file2[16], expect[32];

    memset(file, 0x11, sizeof(file));
    memset(file2, 0x12, sizeof(file2));
    assert_int_equal(dep11_chunk_derive(site, file, 7, &a), CKR_OK);
    assert_int_equal(dep11_chunk_derive(site, file, 7, &b), CKR_OK);
    assert_int_equal(dep11_chunk_derive(site, file, 8, &c), CKR_OK);
    assert_int_equal(dep11_chunk_derive(site, file2, 7, &d), CKR_OK);
    assert_int_equal(dep11_chunk_derive(site2, file, 7, &e), CKR_OK);
    assert_memory_equal(a->value, b->value, 32);
    assert_memory_not_equal(a->value, c->value, 32);
    assert_memory_not_equal(a->value, d->value, 32);
    assert_memory_not_equal(a->value, e->value, 32);
    assert_int_equal(dep11_suite1_chunk_key(site->value, file, 7, expect), CKR_OK);
    assert_memory_equal(a->value, expect, 32);
    assert_memory_not_equal(a->value, site->value, 32);
    assert_int_equal(a->role, DEP11_ROLE_CHUNK);
    assert_true(a->has_file);
    assert_memory_equal(a->file_id, file, 16);
    assert_int_equal(a->chunk_index, 7);
    assert_false(a->local);
    dep11_key_free(b);
    b = NULL;
    assert_int_equal(dep11_chunk_derive(f->child[DEP11_ROLE_MAILBOX], file, 7, &b),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(dep11_chunk_derive(a, file, 7, &b), CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(dep11_chunk_derive(f->policy[DEP11_POLICY_FILES], file, 7, &b),
                     CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_null(b);
    dep11_key_free(a);
    dep11_key_free(c);
    dep11_key_free(d);
    dep11_key_free(e);
    dep11_key_free(site2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keygen_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permits_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_child_pairs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_child_bindings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_child_forged_role, setup, teardown),
        cmocka_unit_test_setup_teardown(test_child_size_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunk_derive, setup, teardown),
    };

    dep11_secmem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
