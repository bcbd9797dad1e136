/*
 * test_attr.c - module/core/attr.c: the CKM_DEP11_KEY_GEN template rules,
 * dep11 unwrap/derive templates, and what C_GetAttributeValue,
 * C_SetAttributeValue and find matching say of module-side keys.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/internal.h"

static const CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static const CK_ULONG role_policy = DEP11_ROLE_POLICY, role_mailbox = DEP11_ROLE_MAILBOX;
static const CK_ULONG type_files = DEP11_POLICY_FILES;
static const uint8_t tenant[DEP11_ID_LEN] = { 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                                              0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f };

#define ATTR(t, p, l) { (t), (void *)(p), (l) }
#define ULONG_ATTR(t, v) ATTR((t), &(v), sizeof(CK_ULONG))
#define BOOL_ATTR(t, v) ATTR((t), &(v), sizeof(CK_BBOOL))

static CK_RV parse(CK_ATTRIBUTE *t, CK_ULONG n)
{
    struct dep11_keygen_req req;
    return dep11_attr_parse_keygen(t, n, &req);
}

/* A mailbox template plus one extra attribute. */
static CK_RV mailbox_with(CK_ATTRIBUTE extra)
{
    CK_ATTRIBUTE t[] = { ULONG_ATTR(CKA_DEP11_ROLE, role_mailbox), extra };
    return parse(t, 2);
}

static void keygen_policy_full(void **state)
{
    struct dep11_keygen_req req;
    const char geo[] = "EUR", label[] = "Contoso mail DEP";
    CK_ULONG cls = CKO_SECRET_KEY, kt = CKK_AES, vl = 32;
    CK_ATTRIBUTE t[] = {
        ULONG_ATTR(CKA_CLASS, cls), ULONG_ATTR(CKA_KEY_TYPE, kt), ULONG_ATTR(CKA_VALUE_LEN, vl),
        BOOL_ATTR(CKA_TOKEN, no), BOOL_ATTR(CKA_SENSITIVE, yes), BOOL_ATTR(CKA_EXTRACTABLE, no),
        ULONG_ATTR(CKA_DEP11_ROLE, role_policy), ULONG_ATTR(CKA_DEP11_POLICY_TYPE, type_files),
        ATTR(CKA_DEP11_TENANT, tenant, 16), ATTR(CKA_DEP11_GEO, geo, 3),
        ATTR(CKA_LABEL, label, strlen(label)), ATTR(CKA_ID, "\x01\x02", 2),
        ULONG_ATTR(CKA_DEP11_ROLE, role_policy), /* a consistent repeat */
        BOOL_ATTR(CKA_WRAP, yes), BOOL_ATTR(CKA_ENCRYPT, no),
    };
    (void)state;
    assert_int_equal(dep11_attr_parse_keygen(t, sizeof t / sizeof t[0], &req), CKR_OK);
    assert_int_equal(req.role, DEP11_ROLE_POLICY);
    assert_int_equal(req.policy_type, DEP11_POLICY_FILES);
    assert_true(req.has_tenant);
    assert_memory_equal(req.tenant, tenant, 16);
    assert_int_equal(req.geo_len, 3);
    assert_memory_equal(req.geo, "EUR", 3);
    assert_int_equal(req.label_len, strlen(label));
    assert_memory_equal(req.label, label, strlen(label));
    assert_int_equal(req.ckaid_len, 2);
}

static void keygen_incomplete(void **state)
{
    CK_ATTRIBUTE no_type[] = { ULONG_ATTR(CKA_DEP11_ROLE, role_policy),
                               ATTR(CKA_DEP11_TENANT, tenant, 16) };
    CK_ATTRIBUTE no_tenant[] = { ULONG_ATTR(CKA_DEP11_ROLE, role_policy),
                                 ULONG_ATTR(CKA_DEP11_POLICY_TYPE, type_files) };
    CK_ATTRIBUTE no_role[] = { ATTR(CKA_LABEL, "x", 1) };
    (void)state;
    assert_int_equal(parse(no_type, 2), CKR_TEMPLATE_INCOMPLETE);
    assert_int_equal(parse(no_tenant, 2), CKR_TEMPLATE_INCOMPLETE);
    assert_int_equal(parse(no_role, 1), CKR_TEMPLATE_INCOMPLETE);
    assert_int_equal(parse(NULL, 0), CKR_TEMPLATE_INCOMPLETE);
}

static void keygen_inconsistent(void **state)
{
    CK_ULONG priv = CKO_PRIVATE_KEY, des = CKK_DES3, len16 = 16, other = DEP11_ROLE_SITE;
    uint8_t value[32] = { 0 };
    (void)state;
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)BOOL_ATTR(CKA_TOKEN, yes)), CKR_TEMPLATE_INCONSISTENT);
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)BOOL_ATTR(CKA_SENSITIVE, no)), CKR_TEMPLATE_INCONSISTENT);
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)BOOL_ATTR(CKA_EXTRACTABLE, yes)), CKR_TEMPLATE_INCONSISTENT);
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)BOOL_ATTR(CKA_PRIVATE, no)), CKR_TEMPLATE_INCONSISTENT);
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)ATTR(CKA_VALUE, value, 32)), CKR_TEMPLATE_INCONSISTENT);
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)ULONG_ATTR(CKA_CLASS, priv)), CKR_TEMPLATE_INCONSISTENT);
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)ULONG_ATTR(CKA_KEY_TYPE, des)), CKR_TEMPLATE_INCONSISTENT);
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)ULONG_ATTR(CKA_VALUE_LEN, len16)), CKR_TEMPLATE_INCONSISTENT);
    /* roles are sticky: a mailbox key never wraps or derives */
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)BOOL_ATTR(CKA_WRAP, yes)), CKR_TEMPLATE_INCONSISTENT);
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)BOOL_ATTR(CKA_DERIVE, yes)), CKR_TEMPLATE_INCONSISTENT);
    /* a second, different role */
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)ULONG_ATTR(CKA_DEP11_ROLE, other)), CKR_TEMPLATE_INCONSISTENT);
    /* policy-only attributes on a child */
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)ATTR(CKA_DEP11_TENANT, tenant, 16)), CKR_TEMPLATE_INCONSISTENT);
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)ULONG_ATTR(CKA_DEP11_POLICY_TYPE, type_files)), CKR_TEMPLATE_INCONSISTENT);
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)ATTR(CKA_DEP11_GEO, "EU", 2)), CKR_TEMPLATE_INCONSISTENT);
}

static void keygen_consistent_repeats(void **state)
{
    CK_ULONG cls = CKO_SECRET_KEY, kt = CKK_AES, vl = 32;
    CK_BYTE truthy = 7; /* any non-zero byte is TRUE */
    (void)state;
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)ULONG_ATTR(CKA_CLASS, cls)), CKR_OK);
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)ULONG_ATTR(CKA_KEY_TYPE, kt)), CKR_OK);
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)ULONG_ATTR(CKA_VALUE_LEN, vl)), CKR_OK);
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)BOOL_ATTR(CKA_TOKEN, no)), CKR_OK);
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)ATTR(CKA_SENSITIVE, &truthy, 1)), CKR_OK);
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)BOOL_ATTR(CKA_EXTRACTABLE, no)), CKR_OK);
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)BOOL_ATTR(CKA_ENCRYPT, yes)), CKR_OK);
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)BOOL_ATTR(CKA_WRAP, no)), CKR_OK);
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)ULONG_ATTR(CKA_DEP11_ROLE, role_mailbox)), CKR_OK);
}

static void keygen_value_invalid(void **state)
{
    CK_ULONG cls = CKO_SECRET_KEY, bad_role = 6, zero = 0, bad_type = 4;
    CK_ULONG four_bools = 1;
    char geo17[17], label65[65];
    const uint8_t not_utf8[] = { 'E', 0xC0, 0x80 };
    const uint8_t geo_nul[] = { 'E', 'U', 0, 'X' };
    const uint8_t geo_utf8[] = { 'M', 0xC3, 0xBC, 'n' }; /* "Mün" */
    const uint8_t latin1[] = { 'M', 0xFC, 'n' };
    CK_ATTRIBUTE policy[] = { ULONG_ATTR(CKA_DEP11_ROLE, role_policy),
                              ULONG_ATTR(CKA_DEP11_POLICY_TYPE, type_files),
                              ATTR(CKA_DEP11_TENANT, tenant, 16), ATTR(CKA_DEP11_GEO, geo17, 17) };
    CK_ATTRIBUTE short_role[] = { ATTR(CKA_DEP11_ROLE, &role_mailbox, sizeof(CK_ULONG) - 1) };
    CK_ATTRIBUTE role6[] = { ULONG_ATTR(CKA_DEP11_ROLE, bad_role) };
    CK_ATTRIBUTE role0[] = { ULONG_ATTR(CKA_DEP11_ROLE, zero) };
    (void)state;
    memset(geo17, 'g', sizeof geo17);
    memset(label65, 'l', sizeof label65);
    assert_int_equal(parse(policy, 4), CKR_ATTRIBUTE_VALUE_INVALID);
    policy[3].ulValueLen = 16;
    assert_int_equal(parse(policy, 4), CKR_OK);
    policy[3] = (CK_ATTRIBUTE)ATTR(CKA_DEP11_GEO, not_utf8, sizeof not_utf8);
    assert_int_equal(parse(policy, 4), CKR_ATTRIBUTE_VALUE_INVALID);
    policy[3] = (CK_ATTRIBUTE)ATTR(CKA_DEP11_GEO, geo_nul, sizeof geo_nul);
    assert_int_equal(parse(policy, 4), CKR_ATTRIBUTE_VALUE_INVALID);
    policy[3] = (CK_ATTRIBUTE)ATTR(CKA_DEP11_GEO, geo_utf8, sizeof geo_utf8);
    assert_int_equal(parse(policy, 4), CKR_OK);
    policy[3] = (CK_ATTRIBUTE)ATTR(CKA_LABEL, label65, 65);
    assert_int_equal(parse(policy, 4), CKR_ATTRIBUTE_VALUE_INVALID);
    policy[3].ulValueLen = 64;
    assert_int_equal(parse(policy, 4), CKR_OK);
    policy[3] = (CK_ATTRIBUTE)ATTR(CKA_LABEL, not_utf8, sizeof not_utf8);
    assert_int_equal(parse(policy, 4), CKR_ATTRIBUTE_VALUE_INVALID);
    policy[3] = (CK_ATTRIBUTE)ATTR(CKA_LABEL, latin1, sizeof latin1);
    assert_int_equal(parse(policy, 4), CKR_ATTRIBUTE_VALUE_INVALID);
    policy[3] = (CK_ATTRIBUTE)ATTR(CKA_LABEL, geo_nul, sizeof geo_nul);
    assert_int_equal(parse(policy, 4), CKR_ATTRIBUTE_VALUE_INVALID);
    policy[3] = (CK_ATTRIBUTE)ATTR(CKA_LABEL, geo_utf8, sizeof geo_utf8);
    assert_int_equal(parse(policy, 4), CKR_OK);
    policy[2].ulValueLen = 15; /* tenant is 16 bytes */
    assert_int_equal(parse(policy, 4), CKR_ATTRIBUTE_VALUE_INVALID);
    policy[2].ulValueLen = 16;
    policy[1] = (CK_ATTRIBUTE)ULONG_ATTR(CKA_DEP11_POLICY_TYPE, bad_type);
    assert_int_equal(parse(policy, 4), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(parse(short_role, 1), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(parse(role6, 1), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(parse(role0, 1), CKR_ATTRIBUTE_VALUE_INVALID);
    /* bad-length CK_ULONG and CK_BBOOL standard attributes */
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)ATTR(CKA_CLASS, &cls, 4 + (sizeof(CK_ULONG) == 4))),
                     CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)ATTR(CKA_TOKEN, &four_bools, sizeof four_bools)),
                     CKR_ATTRIBUTE_VALUE_INVALID);
}

static void keygen_other_codes(void **state)
{
    uint8_t id[16] = { 0 };
    CK_ULONG v = 1;
    CK_ATTRIBUTE null_value[] = { ULONG_ATTR(CKA_DEP11_ROLE, role_mailbox),
                                  ATTR(CKA_LABEL, NULL, 4) };
    struct dep11_keygen_req req;
    (void)state;
    assert_int_equal(parse(null_value, 2), CKR_ARGUMENTS_BAD);
    assert_int_equal(parse(NULL, 1), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_attr_parse_keygen(null_value, 0, NULL), CKR_ARGUMENTS_BAD);
    /* attributes the module sets */
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)ATTR(CKA_DEP11_POLICY_ID, id, 16)), CKR_ATTRIBUTE_READ_ONLY);
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)ATTR(CKA_DEP11_OWNER, id, 16)), CKR_ATTRIBUTE_READ_ONLY);
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)ULONG_ATTR(CKA_DEP11_POLICY_VERSION, v)), CKR_ATTRIBUTE_READ_ONLY);
    /* attributes a secret key does not have */
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)ATTR(CKA_MODULUS, id, 16)), CKR_ATTRIBUTE_TYPE_INVALID);
    assert_int_equal(mailbox_with((CK_ATTRIBUTE)ATTR(CKA_DEP11_ROLE + 100, id, 1)), CKR_ATTRIBUTE_TYPE_INVALID);
    /* a failed parse leaves nothing behind */
    memset(&req, 0xAA, sizeof req);
    assert_int_equal(dep11_attr_parse_keygen(null_value, 2, &req), CKR_ARGUMENTS_BAD);
    null_value[1] = (CK_ATTRIBUTE)BOOL_ATTR(CKA_TOKEN, yes);
    assert_int_equal(dep11_attr_parse_keygen(null_value, 2, &req), CKR_TEMPLATE_INCONSISTENT);
    assert_int_equal(req.role, 0);
}

/* --- keys for GetAttributeValue ------------------------------------------- */

struct keys {
    struct dep11_key k[6]; /* indexed by role (1..5) */
};

static int keys_setup(void **state)
{
    struct keys *ks = calloc(1, sizeof *ks);

    if (ks == NULL)
        return -1;
    for (CK_ULONG r = DEP11_ROLE_POLICY; r <= DEP11_ROLE_CHUNK; r++)
        ks->k[r].role = r;
    /* a fresh policy key */
    ks->k[1].has_policy = 1;
    memset(ks->k[1].policy_id, 0x42, DEP11_ID_LEN);
    ks->k[1].policy_type = DEP11_POLICY_MAILBOX;
    ks->k[1].has_tenant = 1;
    memcpy(ks->k[1].tenant, tenant, DEP11_ID_LEN);
    memcpy(ks->k[1].geo, "NAM", 3);
    ks->k[1].geo_len = 3;
    memcpy(ks->k[1].label, "policy-label", 12);
    ks->k[1].label_len = 12;
    ks->k[1].local = CK_TRUE;
    /* an unwrapped mailbox key */
    ks->k[2].has_owner = 1;
    memset(ks->k[2].owner, 0x07, DEP11_ID_LEN);
    ks->k[2].has_policy = 1;
    memset(ks->k[2].policy_id, 0x42, DEP11_ID_LEN);
    ks->k[2].policy_type = DEP11_POLICY_MAILBOX;
    ks->k[2].local = CK_FALSE;
    *state = ks;
    return 0;
}

static int keys_teardown(void **state)
{
    free(*state);
    return 0;
}

static CK_BBOOL get_bool(const struct dep11_key *k, CK_ATTRIBUTE_TYPE type)
{
    CK_BBOOL b = 0xEE;
    CK_ATTRIBUTE a = { type, &b, sizeof b };
    assert_int_equal(dep11_attr_get(k, &a, 1), CKR_OK);
    assert_int_equal(a.ulValueLen, 1);
    return b;
}

static CK_ULONG get_ulong(const struct dep11_key *k, CK_ATTRIBUTE_TYPE type)
{
    CK_ULONG v = 0xEEEE;
    CK_ATTRIBUTE a = { type, &v, sizeof v };
    assert_int_equal(dep11_attr_get(k, &a, 1), CKR_OK);
    assert_int_equal(a.ulValueLen, sizeof v);
    return v;
}

static void get_fixed_attributes(void **state)
{
    struct keys *ks = *state;
    for (CK_ULONG r = DEP11_ROLE_POLICY; r <= DEP11_ROLE_CHUNK; r++) {
        const struct dep11_key *k = &ks->k[r];
        assert_int_equal(get_ulong(k, CKA_CLASS), CKO_SECRET_KEY);
        assert_int_equal(get_ulong(k, CKA_KEY_TYPE), CKK_AES);
        assert_int_equal(get_ulong(k, CKA_VALUE_LEN), 32);
        assert_int_equal(get_ulong(k, CKA_DEP11_ROLE), r);
        assert_int_equal(get_bool(k, CKA_TOKEN), CK_FALSE);
        assert_int_equal(get_bool(k, CKA_PRIVATE), CK_TRUE);
        assert_int_equal(get_bool(k, CKA_MODIFIABLE), CK_TRUE);
        assert_int_equal(get_bool(k, CKA_SENSITIVE), CK_TRUE);
        assert_int_equal(get_bool(k, CKA_EXTRACTABLE), CK_FALSE);
        assert_int_equal(get_bool(k, CKA_COPYABLE), CK_FALSE);
        assert_int_equal(get_bool(k, CKA_LOCAL), k->local);
    }
    /* generated: always sensitive, never extractable; unwrapped: not (spec) */
    assert_int_equal(get_bool(&ks->k[1], CKA_ALWAYS_SENSITIVE), CK_TRUE);
    assert_int_equal(get_bool(&ks->k[1], CKA_NEVER_EXTRACTABLE), CK_TRUE);
    assert_int_equal(get_bool(&ks->k[2], CKA_ALWAYS_SENSITIVE), CK_FALSE);
    assert_int_equal(get_bool(&ks->k[2], CKA_NEVER_EXTRACTABLE), CK_FALSE);
}

static void get_usage_by_role(void **state)
{
    struct keys *ks = *state;
    static const CK_ATTRIBUTE_TYPE usage[] = { CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP,
                                               CKA_SIGN, CKA_VERIFY, CKA_DERIVE };
    /* expected[role][usage] */
    static const CK_BBOOL expected[6][7] = {
        [DEP11_ROLE_POLICY] = { 0, 0, 1, 1, 0, 0, 0 },
        [DEP11_ROLE_MAILBOX] = { 1, 1, 0, 0, 0, 0, 0 },
        [DEP11_ROLE_WORKLOAD] = { 1, 1, 0, 0, 0, 0, 0 },
        [DEP11_ROLE_SITE] = { 1, 1, 0, 0, 0, 0, 1 },
        [DEP11_ROLE_CHUNK] = { 1, 1, 0, 0, 0, 0, 0 },
    };
    for (int r = 1; r <= 5; r++)
        for (int u = 0; u < 7; u++)
            assert_int_equal(get_bool(&ks->k[r], usage[u]), expected[r][u]);
}

static void get_value_is_sensitive(void **state)
{
    struct keys *ks = *state;
    uint8_t buf[64];
    CK_ATTRIBUTE a = { CKA_VALUE, buf, sizeof buf };
    memset(buf, 0x5A, sizeof buf);
    assert_int_equal(dep11_attr_get(&ks->k[2], &a, 1), CKR_ATTRIBUTE_SENSITIVE);
    assert_int_equal(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0x5A);
    a.pValue = NULL;
    a.ulValueLen = 0;
    assert_int_equal(dep11_attr_get(&ks->k[2], &a, 1), CKR_ATTRIBUTE_SENSITIVE);
    assert_int_equal(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
}

static void get_vendor_attributes(void **state)
{
    struct keys *ks = *state;
    uint8_t id[16], geo[16], owner[16];
    CK_ATTRIBUTE pol[] = { { CKA_DEP11_POLICY_ID, id, 16 }, { CKA_DEP11_TENANT, geo, 16 },
                           { CKA_DEP11_GEO, geo, 16 } };
    CK_ATTRIBUTE child[] = { { CKA_DEP11_OWNER, owner, 16 } };
    CK_ATTRIBUTE missing = { CKA_DEP11_OWNER, owner, 16 };

    assert_int_equal(dep11_attr_get(&ks->k[1], pol, 2), CKR_OK);
    assert_memory_equal(id, ks->k[1].policy_id, 16);
    assert_memory_equal(geo, tenant, 16);
    assert_int_equal(dep11_attr_get(&ks->k[1], &pol[2], 1), CKR_OK);
    assert_int_equal(pol[2].ulValueLen, 3);
    assert_memory_equal(geo, "NAM", 3);
    assert_int_equal(get_ulong(&ks->k[1], CKA_DEP11_POLICY_TYPE), DEP11_POLICY_MAILBOX);
    assert_int_equal(get_ulong(&ks->k[1], CKA_DEP11_POLICY_VERSION), 0);
    assert_int_equal(dep11_attr_get(&ks->k[2], child, 1), CKR_OK);
    assert_memory_equal(owner, ks->k[2].owner, 16);
    /* not applicable to this key */
    assert_int_equal(dep11_attr_get(&ks->k[1], &missing, 1), CKR_ATTRIBUTE_TYPE_INVALID);
    assert_int_equal(missing.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    missing = (CK_ATTRIBUTE){ CKA_DEP11_UNWRAPPED_BY, owner, sizeof(CK_ULONG) };
    assert_int_equal(dep11_attr_get(&ks->k[1], &missing, 1), CKR_ATTRIBUTE_TYPE_INVALID);
    missing = (CK_ATTRIBUTE){ CKA_DEP11_MANAGED_BY, owner, sizeof(CK_ULONG) };
    assert_int_equal(dep11_attr_get(&ks->k[1], &missing, 1), CKR_ATTRIBUTE_TYPE_INVALID);
    missing = (CK_ATTRIBUTE){ CKA_DEP11_GEO, owner, 16 };
    assert_int_equal(dep11_attr_get(&ks->k[2], &missing, 1), CKR_ATTRIBUTE_TYPE_INVALID);
    ks->k[1].unwrapped_by = DEP11_ROOT_AVAILABILITY;
    ks->k[1].managed_by = DEP11_MANAGED_CUSTOMER;
    ks->k[1].version = 4;
    assert_int_equal(get_ulong(&ks->k[1], CKA_DEP11_UNWRAPPED_BY), DEP11_ROOT_AVAILABILITY);
    assert_int_equal(get_ulong(&ks->k[1], CKA_DEP11_MANAGED_BY), DEP11_MANAGED_CUSTOMER);
    assert_int_equal(get_ulong(&ks->k[1], CKA_DEP11_POLICY_VERSION), 4);
}

static void get_size_query_and_too_small(void **state)
{
    struct keys *ks = *state;
    char small[4];
    CK_ATTRIBUTE a = { CKA_LABEL, NULL, 0 };

    assert_int_equal(dep11_attr_get(&ks->k[1], &a, 1), CKR_OK);
    assert_int_equal(a.ulValueLen, 12);
    a.pValue = small;
    a.ulValueLen = sizeof small;
    assert_int_equal(dep11_attr_get(&ks->k[1], &a, 1), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
}

static void get_mixed(void **state)
{
    struct keys *ks = *state;
    CK_ULONG cls = 0;
    uint8_t val[32], mod[8];
    char small[2];
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_VALUE, val, sizeof val },
                         { CKA_MODULUS, mod, sizeof mod }, { CKA_LABEL, small, sizeof small },
                         { CKA_LABEL, NULL, 0 } };

    /* every attribute processed; SENSITIVE wins over TYPE_INVALID over TOO_SMALL */
    assert_int_equal(dep11_attr_get(&ks->k[1], t, 5), CKR_ATTRIBUTE_SENSITIVE);
    assert_int_equal(cls, CKO_SECRET_KEY);
    assert_int_equal(t[0].ulValueLen, sizeof cls);
    assert_int_equal(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(t[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(t[3].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(t[4].ulValueLen, 12);
    t[2].ulValueLen = sizeof mod;
    t[3].ulValueLen = sizeof small;
    assert_int_equal(dep11_attr_get(&ks->k[1], &t[2], 2), CKR_ATTRIBUTE_TYPE_INVALID);
    t[3].ulValueLen = sizeof small;
    assert_int_equal(dep11_attr_get(&ks->k[1], &t[3], 1), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(dep11_attr_get(&ks->k[1], NULL, 1), CKR_ARGUMENTS_BAD);
}

static void apply_template_rules(void **state)
{
    struct keys *ks = *state;
    struct dep11_key *k = &ks->k[2];
    CK_ULONG site = DEP11_ROLE_SITE;
    CK_ATTRIBUTE ok[] = { ATTR(CKA_LABEL, "mbx", 3), ATTR(CKA_ID, "\x09", 1),
                          ULONG_ATTR(CKA_DEP11_ROLE, role_mailbox), BOOL_ATTR(CKA_TOKEN, no),
                          ATTR(CKA_DEP11_OWNER, k->owner, 16) };
    CK_ATTRIBUTE bad[] = { ATTR(CKA_LABEL, "other", 5), ULONG_ATTR(CKA_DEP11_ROLE, site) };
    CK_ATTRIBUTE token[] = { BOOL_ATTR(CKA_TOKEN, yes) };

    assert_int_equal(dep11_attr_apply_template(NULL, 0, k), CKR_OK);
    assert_int_equal(k->label_len, 0);
    assert_int_equal(dep11_attr_apply_template(ok, 5, k), CKR_OK);
    assert_int_equal(k->label_len, 3);
    assert_memory_equal(k->label, "mbx", 3);
    assert_int_equal(k->ckaid_len, 1);
    /* all or nothing: the label is not applied when the role contradicts */
    assert_int_equal(dep11_attr_apply_template(bad, 2, k), CKR_TEMPLATE_INCONSISTENT);
    assert_memory_equal(k->label, "mbx", 3);
    assert_int_equal(dep11_attr_apply_template(token, 1, k), CKR_TEMPLATE_INCONSISTENT);
    bad[0].pValue = NULL;
    assert_int_equal(dep11_attr_apply_template(bad, 1, k), CKR_ARGUMENTS_BAD);
}

static void set_and_match(void **state)
{
    struct keys *ks = *state;
    struct dep11_key *k = &ks->k[1];
    uint8_t val[32] = { 0 };
    CK_ATTRIBUTE label[] = { ATTR(CKA_LABEL, "renamed", 7), ATTR(CKA_ID, "\x01", 1) };
    CK_ATTRIBUTE ro[] = { ATTR(CKA_LABEL, "nope", 4), BOOL_ATTR(CKA_SENSITIVE, no) };
    CK_ATTRIBUTE usage[] = { BOOL_ATTR(CKA_WRAP, no) };
    CK_ATTRIBUTE unknown[] = { ATTR(CKA_MODULUS, val, 8) };
    CK_ATTRIBUTE find_ok[] = { ULONG_ATTR(CKA_DEP11_ROLE, role_policy), ATTR(CKA_LABEL, "renamed", 7) };
    CK_ATTRIBUTE find_value[] = { ATTR(CKA_VALUE, val, 32) };
    CK_ATTRIBUTE find_role[] = { ULONG_ATTR(CKA_DEP11_ROLE, role_mailbox) };

    assert_int_equal(dep11_attr_set(k, label, 2), CKR_OK);
    assert_int_equal(k->label_len, 7);
    assert_memory_equal(k->label, "renamed", 7);
    assert_int_equal(dep11_attr_set(k, ro, 2), CKR_ATTRIBUTE_READ_ONLY);
    assert_memory_equal(k->label, "renamed", 7); /* nothing applied */
    assert_int_equal(dep11_attr_set(k, usage, 1), CKR_ATTRIBUTE_READ_ONLY);
    assert_int_equal(dep11_attr_set(k, unknown, 1), CKR_ATTRIBUTE_TYPE_INVALID);
    assert_true(dep11_attr_match(k, NULL, 0));
    assert_true(dep11_attr_match(k, find_ok, 2));
    assert_false(dep11_attr_match(k, find_value, 1));
    assert_false(dep11_attr_match(k, find_role, 1));
    assert_true(dep11_attr_match(&ks->k[2], find_role, 1));
}

static void vendor_detection(void **state)
{
    CK_ATTRIBUTE std[] = { ATTR(CKA_LABEL, "x", 1), BOOL_ATTR(CKA_TOKEN, yes) };
    CK_ATTRIBUTE mixed[] = { ATTR(CKA_LABEL, "x", 1), ULONG_ATTR(CKA_DEP11_ROLE, role_policy) };
    CK_ATTRIBUTE other_vendor[] = { ATTR(CKA_VENDOR_DEFINED | 0x1234, "x", 1) };
    (void)state;
    assert_false(dep11_attr_has_vendor(std, 2));
    assert_true(dep11_attr_has_vendor(mixed, 2));
    assert_false(dep11_attr_has_vendor(other_vendor, 1));
    assert_false(dep11_attr_has_vendor(NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keygen_policy_full),
        cmocka_unit_test(keygen_incomplete),
        cmocka_unit_test(keygen_inconsistent),
        cmocka_unit_test(keygen_consistent_repeats),
        cmocka_unit_test(keygen_value_invalid),
        cmocka_unit_test(keygen_other_codes),
        cmocka_unit_test_setup_teardown(get_fixed_attributes, keys_setup, keys_teardown),
        cmocka_unit_test_setup_teardown(get_usage_by_role, keys_setup, keys_teardown),
        cmocka_unit_test_setup_teardown(get_value_is_sensitive, keys_setup, keys_teardown),
        cmocka_unit_test_setup_teardown(get_vendor_attributes, keys_setup, keys_teardown),
        cmocka_unit_test_setup_teardown(get_size_query_and_too_small, keys_setup, keys_teardown),
        cmocka_unit_test_setup_teardown(get_mixed, keys_setup, keys_teardown),
        cmocka_unit_test_setup_teardown(apply_template_rules, keys_setup, keys_teardown),
        cmocka_unit_test_setup_teardown(set_and_match, keys_setup, keys_teardown),
        cmocka_unit_test(vendor_detection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
