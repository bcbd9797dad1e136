/*
 * test_hier_tenant.c - tenant binding and committed versions in
 * module/hier (tenant.c, and their use in policy_wrap.c / policy_unwrap.c)
 * over the HSM double tests/unit/fake_hsm.c, whose sessions of slot N are
 * on "fake token N": a policy bound to one token is refused on another,
 * binding-less policies, a commit that cannot be written.
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
#include "hier/facts.h"
#include "blob/blob.h"
#include "crypto/crypto.h"
#include "util/secmem.h"
#include "fake_hsm.h"
#include "policy_fx.h"

/* Tenant binding (DESIGN section 2): the first wrap binds the policy to
 * the session's token and the tenant id; any other token is refused before
 * any root or the availability key is tried, and a wrap from it creates
 * nothing. */
static void test_tenant_binding(void **state)
{
    struct fx *f = *state;
    struct dep11_key *k = pfx_new_policy(DEP11_POLICY_MAILBOX), *u = NULL;
    const CK_ULONG req[] = { DEP11_REQUESTER_USER, DEP11_REQUESTER_SYSTEM,
                             DEP11_REQUESTER_RECOVERY };
    unsigned created = 0;

    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_OK);
    f->call.slot = 2;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pfx_unwrap(f, req[i], &u), CKR_DEP11_TENANT_MISMATCH);
        assert_null(u);
    }
    f->hsm->rsa[0].priv_present = f->hsm->rsa[1].priv_present = 0; /* revoked: same answer */
    for (int i = 0; i < 3; i++)
        assert_int_equal(pfx_unwrap(f, req[i], &u), CKR_DEP11_TENANT_MISMATCH);
    f->hsm->rsa[0].priv_present = f->hsm->rsa[1].priv_present = 1;
    assert_int_equal(f->hsm->rsa[0].decrypts + f->hsm->rsa[1].decrypts, 0);
    assert_int_equal(f->hsm->avail_opens, 0);
    created = f->hsm->avail_created;
    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, DEP11_WRAP_ROLL_AVAILABILITY),
                     CKR_DEP11_TENANT_MISMATCH);
    assert_int_equal(pfx_wrap(f, k, 0, 0, 0), CKR_DEP11_TENANT_MISMATCH);
    assert_int_equal(f->hsm->avail_created, created);
    /* Another tenant id on the bound token. */
    f->call.slot = 1;
    k->tenant[0] ^= 1;
    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_DEP11_TENANT_MISMATCH);
    k->tenant[0] ^= 1;
    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_OK);
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_OK);
    dep11_key_free(u);
    dep11_key_free(k);
}

/* A policy with no binding (made before bindings existed): only a customer
 * root found on the session's token serves it; no fallback, no provider
 * roots. Its next wrap binds it. */
static void test_unbound_policy(void **state)
{
    struct fx *f = *state;
    struct dep11_key *k = pfx_new_policy(DEP11_POLICY_MAILBOX), *u = NULL;

    assert_int_equal(pfx_wrap(f, k, 0, 0, 0), CKR_OK);
    fake_hsm_state_reset();
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_DEP11_TENANT_MISMATCH);
    assert_int_equal(f->hsm->provider[0].decrypts + f->hsm->provider[1].decrypts, 0);
    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_OK);
    fake_hsm_state_reset();
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_OK);
    assert_true(u->unwrapped_by == DEP11_ROOT_CUSTOMER_1 ||
                u->unwrapped_by == DEP11_ROOT_CUSTOMER_2);
    dep11_key_free(u);
    u = NULL;
    f->hsm->rsa[0].priv_present = f->hsm->rsa[1].priv_present = 0;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_SYSTEM, &u), CKR_DEP11_TENANT_MISMATCH);
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_RECOVERY, &u), CKR_DEP11_TENANT_MISMATCH);
    assert_int_equal(f->hsm->avail_opens, 0);
    assert_null(u);
    /* The next wrap on this token binds it: the fallback is back. */
    f->hsm->rsa[0].priv_present = f->hsm->rsa[1].priv_present = 1;
    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_OK);
    f->hsm->rsa[0].priv_present = f->hsm->rsa[1].priv_present = 0;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_SYSTEM, &u), CKR_OK);
    assert_int_equal(u->unwrapped_by, DEP11_ROOT_AVAILABILITY);
    dep11_key_free(u);
    f->call.slot = 2;
    u = NULL;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_SYSTEM, &u), CKR_DEP11_TENANT_MISMATCH);
    dep11_key_free(k);
}

/* unbound-policies = bind-on-unwrap (the migration of policies made before
 * bindings existed): the first token whose unwrap succeeds claims a
 * binding-less policy, provider-managed or not, with the fallback; every
 * other token is refused from then on. */
static void test_unbound_migration(void **state)
{
    struct fx *f = *state;
    struct dep11_key *k = pfx_new_policy(DEP11_POLICY_MAILBOX), *u = NULL;

    assert_int_equal(pfx_wrap(f, k, 0, 0, 0), CKR_OK);
    fake_hsm_state_reset();
    f->cfg->bind_unbound = 1;
    f->call.slot = 2;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_OK);
    assert_int_equal(u->unwrapped_by, DEP11_ROOT_PROVIDER);
    dep11_key_free(u);
    u = NULL;
    f->call.slot = 1;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_DEP11_TENANT_MISMATCH);
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_SYSTEM, &u), CKR_DEP11_TENANT_MISMATCH);
    assert_null(u);
    f->call.slot = 2;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_SYSTEM, &u), CKR_OK);
    dep11_key_free(u);
    u = NULL;
    /* Once bound, a wrap from the other token is refused. A customer-managed
     * policy whose roots are gone: the availability key serves SYSTEM and
     * binds the token that asked. */
    f->call.slot = 1;
    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_DEP11_TENANT_MISMATCH);
    dep11_key_free(k);
    k = pfx_new_policy(DEP11_POLICY_MAILBOX);
    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_OK);
    fake_hsm_state_reset();
    f->hsm->rsa[0].priv_present = f->hsm->rsa[1].priv_present = 0;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_DEP11_ROOT_KEYS_REVOKED);
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_SYSTEM, &u), CKR_OK);
    assert_int_equal(u->unwrapped_by, DEP11_ROOT_AVAILABILITY);
    dep11_key_free(u);
    u = NULL;
    f->call.slot = 2;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_SYSTEM, &u), CKR_DEP11_TENANT_MISMATCH);
    assert_null(u);
    f->hsm->rsa[0].priv_present = f->hsm->rsa[1].priv_present = 1;
    dep11_key_free(k);
}

/* Wraps @k into @blob directly (no fixture help: the committed version
 * stays as dep11 keeps it). */
static CK_RV wrap_direct(struct fx *f, const struct dep11_key *k, CK_OBJECT_HANDLE r1,
                         CK_OBJECT_HANDLE r2, uint8_t *blob, CK_ULONG *len)
{
    *len = DEP11_POLICY_BLOB_MAX;
    return dep11_policy_wrap(&f->call, k, r1, r2, 0, blob, len);
}

/* One blob per version, and no re-wrap undoes a revocation: two v1 blobs
 * of one fresh key (the first to unwrap is committed, the other is
 * superseded); the fresh key once v1 is committed, and a v1 key once v2
 * is, wrap nothing; a key from customer roots re-wraps only while one of
 * them is on the token with CKA_DECRYPT on. */
static void test_rewrap_rules(void **state)
{
    struct fx *f = *state;
    struct dep11_key *k = pfx_new_policy(DEP11_POLICY_MAILBOX), *v1 = NULL, *v2 = NULL;
    uint8_t *a = calloc(3, DEP11_POLICY_BLOB_MAX), *b = a + DEP11_POLICY_BLOB_MAX,
            *c = b + DEP11_POLICY_BLOB_MAX;
    CK_ULONG alen = 0, blen = 0, clen = 0;

    assert_non_null(a);
    assert_int_equal(wrap_direct(f, k, f->r1, f->r2, a, &alen), CKR_OK);
    assert_int_equal(wrap_direct(f, k, 0, 0, b, &blen), CKR_OK); /* not committed yet */
    assert_int_equal(dep11_policy_unwrap(&f->call, 0, DEP11_REQUESTER_USER, a, alen, &v1),
                     CKR_OK);
    assert_int_equal(dep11_policy_unwrap(&f->call, 0, DEP11_REQUESTER_USER, b, blen, &v2),
                     CKR_DEP11_BLOB_SUPERSEDED);
    assert_int_equal(f->hsm->provider[0].decrypts + f->hsm->provider[1].decrypts, 0);
    assert_int_equal(wrap_direct(f, k, 0, 0, c, &clen), CKR_DEP11_BLOB_SUPERSEDED);
    /* v1 -> v2 committed: the v1 key is stale */
    assert_int_equal(wrap_direct(f, v1, f->r1, f->r2, b, &blen), CKR_OK);
    assert_int_equal(dep11_policy_unwrap(&f->call, 0, DEP11_REQUESTER_USER, b, blen, &v2),
                     CKR_OK);
    assert_int_equal(wrap_direct(f, v1, 0, 0, c, &clen), CKR_DEP11_BLOB_SUPERSEDED);
    /* the customer turns CKA_DECRYPT off on both roots, then destroys them:
     * the v2 key held from before re-wraps to nothing */
    f->hsm->rsa[0].can_decrypt = f->hsm->rsa[1].can_decrypt = CK_FALSE;
    assert_int_equal(wrap_direct(f, v2, 0, 0, c, &clen), CKR_DEP11_ROOT_KEYS_REVOKED);
    f->hsm->rsa[1].can_decrypt = CK_TRUE; /* one root back: the re-wrap works */
    assert_int_equal(wrap_direct(f, v2, 0, 0, c, &clen), CKR_OK);
    f->hsm->rsa[0].priv_present = f->hsm->rsa[1].priv_present = 0;
    assert_int_equal(wrap_direct(f, v2, 0, 0, c, &clen), CKR_DEP11_ROOT_KEYS_REVOKED);
    f->hsm->rsa[0].priv_present = f->hsm->rsa[1].priv_present = 1;
    f->hsm->rsa[0].can_decrypt = CK_TRUE;
    dep11_key_free(v2);
    dep11_key_free(v1);
    dep11_key_free(k);
    free(a);
}

/* A commit record that cannot be written withholds the key. */
static void test_commit_failure(void **state)
{
    struct fx *f = *state;
    struct dep11_key *k = pfx_new_policy(DEP11_POLICY_MAILBOX), *u = NULL;

    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_OK);
    f->hsm->state_commit_rv = CKR_DEVICE_ERROR;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_DEVICE_ERROR);
    assert_null(u);
    f->hsm->state_commit_rv = CKR_OK;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_OK);
    assert_int_equal(u->version, 1);
    dep11_key_free(u);
    dep11_key_free(k);
}

/* The facts memo (hier/facts.c): with cache-seconds set and a change mark
 * on the provider token, an unwrap that misses the policy-key cache (none
 * here) reads the mark and, while it is unchanged, neither the records nor
 * the tombstone again. A record written with the mark set (a purge
 * elsewhere) is seen at the next unwrap; a flush of everything, a missing
 * mark, a mark that cannot be read or the cache off (cache-seconds = 0 or
 * cache-entries = 0) search again. */
static void test_facts_memo(void **state)
{
    struct fx *f = *state;
    struct dep11_key *k = pfx_new_policy(DEP11_POLICY_MAILBOX), *u = NULL;

    dep11_facts_reset();
    f->cfg->cache_seconds = 300;
    f->cfg->cache_entries = 1024;
    f->hsm->mark_have = 1;
    assert_int_equal(pfx_wrap(f, k, f->r1, f->r2, 0), CKR_OK);
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_OK); /* commits v1 */
    dep11_key_free(u);
    f->hsm->state_gets = f->hsm->tomb_finds = f->hsm->mark_reads = 0;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_OK);
    dep11_key_free(u);
    assert_int_equal(f->hsm->state_gets + f->hsm->tomb_finds,
                     2); /* mark changed by the commit */
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_SYSTEM, &u), CKR_OK);
    dep11_key_free(u);
    assert_int_equal(f->hsm->state_gets + f->hsm->tomb_finds, 2); /* remembered */
    assert_int_equal(f->hsm->mark_reads, 2);
    /* a tombstone written without a new mark (a writer that died between
     * its record and the mark) is not seen while the memo lives... */
    f->hsm->tombstoned = 1;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_OK);
    dep11_key_free(u);
    /* ...and at once when the mark changes, or after a flush of everything */
    f->hsm->mark[7] ^= 1;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_DEP11_POLICY_PURGED);
    assert_null(u);
    f->hsm->tombstoned = 0;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_DEP11_POLICY_PURGED);
    dep11_cache_flush(NULL);
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_OK);
    dep11_key_free(u);
    f->hsm->state_gets = f->hsm->tomb_finds = 0;
    /* no mark, an unreadable mark (fail closed), no memo lifetime */
    f->hsm->mark_have = 0;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_OK);
    dep11_key_free(u);
    assert_int_equal(f->hsm->state_gets + f->hsm->tomb_finds, 2);
    f->hsm->mark_have = 1;
    f->hsm->mark_rv = CKR_DEVICE_ERROR;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_DEVICE_ERROR);
    assert_null(u);
    f->hsm->mark_rv = CKR_OK;
    f->cfg->cache_seconds = 0;
    f->hsm->mark_reads = 0;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_OK);
    dep11_key_free(u);
    assert_int_equal(f->hsm->mark_reads, 0);
    assert_int_equal(f->hsm->state_gets + f->hsm->tomb_finds, 4);
    f->cfg->cache_seconds = 300; /* the cache off by its other key */
    f->cfg->cache_entries = 0;
    assert_int_equal(pfx_unwrap(f, DEP11_REQUESTER_USER, &u), CKR_OK);
    dep11_key_free(u);
    assert_int_equal(f->hsm->mark_reads, 0);
    assert_int_equal(f->hsm->state_gets + f->hsm->tomb_finds, 6);
    dep11_key_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tenant_binding, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_unbound_policy, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_unbound_migration, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_rewrap_rules, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_commit_failure, pfx_setup, pfx_teardown),
        cmocka_unit_test_setup_teardown(test_facts_memo, pfx_setup, pfx_teardown),
    };

    return cmocka_run_group_tests_name("hier tenant", tests, NULL, pfx_group_teardown);
}
