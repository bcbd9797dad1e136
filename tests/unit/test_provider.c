/*
 * test_provider.c - module/hsm against throwaway SoftHSM tokens: the provider
 * token's keys (MAC, roots, availability keys and their attributes; the
 * provider keys provisioned first with dep11-tool's templates, since the
 * module never creates them), an unprovisioned or ambiguous provider token
 * refused at open, RSA roots on a customer token, and the fault module
 * (faults, retries, handles in dep11's reserved range).
 * Skips (77) without SOFTHSM_MODULE or softhsm2-util.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <sys/stat.h>

#include "core/handle.h"
#include "hsm/backend.h"
#include "hsm/classify.h"
#include "hsm/provider.h"
#include "hsm/rsa.h"
#include "provider_tmpl.h"          /* tools/: dep11-tool's key templates */

struct fx {
    char dir[64];
    char faults[128];
    struct dep11_config cfg;
    int faultmod;               /* group 2: the backend is the fault module */
};

/* ---- token set-up ---- */

static int sh(const char *cmd)
{
    int st = system(cmd);

    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int init_token(const char *label)
{
    char cmd[256];

    snprintf(cmd, sizeof cmd, "softhsm2-util --init-token --free --label %s "
             "--pin 1234 --so-pin 5678 >/dev/null 2>&1", label);
    return sh(cmd);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int make_tokens(struct fx *fx)
{
    char path[128], conf[256];

    snprintf(fx->dir, sizeof fx->dir, "/tmp/dep11-hsm-XXXXXX");
    if (mkdtemp(fx->dir) == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/tokens", fx->dir);
    if (mkdir(path, 0700) != 0)
        return -1;
    snprintf(conf, sizeof conf, "directories.tokendir = %s\nobjectstore.backend = file\n"
             "log.level = ERROR\nslots.removable = false\n", path);
    snprintf(path, sizeof path, "%s/softhsm2.conf", fx->dir);
    write_file(path, conf);
    setenv("SOFTHSM2_CONF", path, 1);
    snprintf(path, sizeof path, "%s/pin", fx->dir);
    write_file(path, "1234\n");
    (void)chmod(path, 0600);
    snprintf(fx->faults, sizeof fx->faults, "%s/faults", fx->dir);
    write_file(fx->faults, "");
    if (init_token("dep11-provider") != 0 || init_token("customer") != 0 ||
        init_token("dep11-race") != 0)
        return -1;
    return 0;
}

static void fill_config(struct fx *fx, const char *module)
{
    struct dep11_config *c = &fx->cfg;

    memset(c, 0, sizeof *c);
    snprintf(c->profile.module, sizeof c->profile.module, "%s", module);
    c->profile.oaep_hash = CKM_SHA_1;
    c->profile.max_sessions = 4;
    c->profile.retries = 1;
    c->profile.backoff_ms = 0;
    c->profile.provider_rsa_bits = 2048;
    c->profile.gcm_iv_from_module = 1; /* the defaults of set_defaults() */
    c->profile.root_unwrap_decrypt = 1;
    snprintf(c->provider_token, sizeof c->provider_token, "dep11-provider");
    snprintf(c->provider_pin, sizeof c->provider_pin, "file:%s/pin", fx->dir);
}

static void provision(const char *label);

static int group_common(void **state, int faultmod)
{
    const char *mod = getenv("SOFTHSM_MODULE");
    const char *top = getenv("abs_top_builddir");
    struct fx *fx = calloc(1, sizeof *fx);
    char path[DEP11_CONF_PATH_MAX];

    if (fx == NULL || make_tokens(fx) != 0)
        return -1;
    fx->faultmod = faultmod;
    if (faultmod) {
        snprintf(path, sizeof path, "%s/tests/faultshim/.libs/libdep11-faultmod.so",
                 top != NULL ? top : ".");
        setenv("DEP11_FAULT_MODULE", mod, 1);
        setenv("DEP11_FAULT_FILE", fx->faults, 1);
        setenv("DEP11_FAULT_HANDLE_OFFSET", "1", 1);
        fill_config(fx, path);
    } else {
        fill_config(fx, mod);
    }
    if (dep11_hsm_load(&fx->cfg.profile) != CKR_OK)
        return -1;
    provision("dep11-provider");
    if (dep11_provider_open(&fx->cfg) != CKR_OK)
        return -1;
    *state = fx;
    return 0;
}

static int group_setup(void **state) { return group_common(state, 0); }
static int group_setup_fault(void **state) { return group_common(state, 1); }

static int group_teardown(void **state)
{
    struct fx *fx = *state;
    char cmd[128];

    dep11_provider_close();
    dep11_hsm_unload();
    if (fx != NULL) {
        snprintf(cmd, sizeof cmd, "rm -rf %s", fx->dir);
        (void)sh(cmd);
        free(fx);
    }
    unsetenv("DEP11_FAULT_FILE");
    return 0;
}

/* ---- raw access to the backend, as a consumer would have ---- */

static CK_SLOT_ID slot_of(const char *label)
{
    CK_FUNCTION_LIST *f = dep11_hsm();
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16, i = 0;
    CK_TOKEN_INFO ti;
    char want[32];

    memset(want, ' ', sizeof want);
    memcpy(want, label, strlen(label));
    assert_int_equal(f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    for (i = 0; i < n; i++) {
        assert_int_equal(f->C_GetTokenInfo(slots[i], &ti), CKR_OK);
        if (memcmp(ti.label, want, 32) == 0)
            return slots[i];
    }
    fail_msg("no token %s", label);
    return 0;
}

/* A RW session on @label, logged in as @user (CKU_USER / CKU_SO, or -1). */
static CK_SESSION_HANDLE session_on(const char *label, long user)
{
    CK_FUNCTION_LIST *f = dep11_hsm();
    CK_SESSION_HANDLE s = 0;
    CK_RV rv;

    assert_int_equal(f->C_OpenSession(slot_of(label), CKF_SERIAL_SESSION | CKF_RW_SESSION,
                                      NULL, NULL, &s), CKR_OK);
    if (user >= 0) {
        rv = f->C_Login(s, (CK_USER_TYPE)user,
                        (CK_UTF8CHAR_PTR)(user == CKU_SO ? "5678" : "1234"), 4);
        assert_true(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN);
    }
    return s;
}

/* Provisions @label as `dep11-tool provider init` does (its templates;
 * 2048-bit roots to keep the test fast): the module never creates them. */
static void provision(const char *label)
{
    CK_SESSION_HANDLE s = session_on(label, CKU_USER);
    CK_OBJECT_HANDLE a = 0, b = 0;
    size_t k = 0;

    for (k = 0; k < K_COUNT; k++)
        assert_int_equal(provider_key_create(dep11_hsm(), s, k, 2048, &a, &b), CKR_OK);
    assert_int_equal(dep11_hsm()->C_CloseSession(s), CKR_OK);
}

/* Every object on @label (a user session, so private ones too). */
static size_t count_objects(const char *label);

static size_t find(CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG n,
                   CK_OBJECT_HANDLE *out, size_t cap)
{
    CK_FUNCTION_LIST *f = dep11_hsm();
    CK_ULONG got = 0;

    assert_int_equal(f->C_FindObjectsInit(s, t, n), CKR_OK);
    assert_int_equal(f->C_FindObjects(s, out, cap, &got), CKR_OK);
    assert_int_equal(f->C_FindObjectsFinal(s), CKR_OK);
    return got;
}

static size_t count_objects(const char *label)
{
    CK_SESSION_HANDLE s = session_on(label, CKU_USER);
    CK_OBJECT_HANDLE all[64];
    size_t n = find(s, NULL, 0, all, 64);

    assert_int_equal(dep11_hsm()->C_CloseSession(s), CKR_OK);
    return n;
}

/* Handles of keys whose label starts with @prefix and of class @cls. */
static size_t find_prefixed(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *prefix,
                            CK_OBJECT_HANDLE *out, size_t cap)
{
    CK_ATTRIBUTE t = { CKA_CLASS, &cls, sizeof cls };
    CK_OBJECT_HANDLE all[64];
    size_t n = find(s, &t, 1, all, 64), i = 0, k = 0;

    for (i = 0; i < n && k < cap; i++) {
        char lab[65] = { 0 };
        CK_ATTRIBUTE a = { CKA_LABEL, lab, 64 };

        if (dep11_hsm()->C_GetAttributeValue(s, all[i], &a, 1) == CKR_OK &&
            strncmp(lab, prefix, strlen(prefix)) == 0)
            out[k++] = all[i];
    }
    return k;
}

static CK_BBOOL get_bool(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type)
{
    CK_BBOOL v = 0xAA;
    CK_ATTRIBUTE a = { type, &v, sizeof v };

    assert_int_equal(dep11_hsm()->C_GetAttributeValue(s, h, &a, 1), CKR_OK);
    return v;
}

struct want { CK_ATTRIBUTE_TYPE type; CK_BBOOL v; };

static void check_bools(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const struct want *w, size_t n)
{
    size_t i = 0;

    for (i = 0; i < n; i++)
        if (get_bool(s, h, w[i].type) != w[i].v)
            fail_msg("attribute 0x%lx of object %lu is not %d", (unsigned long)w[i].type,
                     (unsigned long)h, w[i].v);
}

/* RSA-OAEP-SHA1 encryption with OpenSSL under (n, e). */
static size_t oaep_encrypt(const struct dep11_hsm_rsa *k, const uint8_t *pt, size_t len,
                           uint8_t *ct)
{
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    BIGNUM *n = BN_bin2bn(k->modulus, (int)k->mod_len, NULL);
    BIGNUM *e = BN_bin2bn(k->exponent, (int)k->exp_len, NULL);
    OSSL_PARAM *p = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL), *ec = NULL;
    EVP_PKEY *pk = NULL;
    size_t out = 512;

    assert_true(b && n && e && c);
    assert_int_equal(OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, n), 1);
    assert_int_equal(OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, e), 1);
    p = OSSL_PARAM_BLD_to_param(b);
    assert_int_equal(EVP_PKEY_fromdata_init(c), 1);
    assert_int_equal(EVP_PKEY_fromdata(c, &pk, EVP_PKEY_PUBLIC_KEY, p), 1);
    ec = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    assert_int_equal(EVP_PKEY_encrypt_init(ec), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ec, RSA_PKCS1_OAEP_PADDING), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md(ec, EVP_sha1()), 1);
    assert_int_equal(EVP_PKEY_encrypt(ec, ct, &out, pt, len), 1);
    EVP_PKEY_CTX_free(ec);
    EVP_PKEY_free(pk);
    EVP_PKEY_CTX_free(c);
    OSSL_PARAM_free(p);
    OSSL_PARAM_BLD_free(b);
    BN_free(n);
    BN_free(e);
    return out;
}

/* ---- provider token ---- */

static void test_mac(void **state)
{
    struct fx *fx = *state;
    uint8_t a[32], b[32], c[32], zero[32] = { 0 };

    assert_int_equal(dep11_provider_mac((const uint8_t *)"blob", 4, a), CKR_OK);
    assert_int_equal(dep11_provider_mac((const uint8_t *)"blob", 4, b), CKR_OK);
    assert_memory_equal(a, b, 32);
    assert_memory_not_equal(a, zero, 32);
    assert_int_equal(dep11_provider_mac((const uint8_t *)"blob!", 5, c), CKR_OK);
    assert_memory_not_equal(a, c, 32);
    assert_int_equal(dep11_provider_mac(NULL, 0, c), CKR_OK);
    assert_int_equal(dep11_provider_mac(NULL, 3, c), CKR_ARGUMENTS_BAD);
    /* stable across close + open (found again, not created again) */
    dep11_provider_close();
    assert_int_equal(dep11_provider_mac((const uint8_t *)"blob", 4, c),
                     CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(dep11_provider_open(&fx->cfg), CKR_OK);
    assert_int_equal(dep11_provider_mac((const uint8_t *)"blob", 4, c), CKR_OK);
    assert_memory_equal(a, c, 32);
}

static void test_roots(void **state)
{
    struct fx *fx = *state;
    struct dep11_hsm_rsa r1, r2, again;
    uint8_t ct[512], pt[512], msg[32];
    size_t ct_len = 0, pt_len = sizeof pt;
    CK_RV rv;

    memset(msg, 0x5A, sizeof msg);
    assert_int_equal(dep11_provider_root(1, &r1), CKR_OK);
    assert_int_equal(dep11_provider_root(2, &r2), CKR_OK);
    assert_int_equal(dep11_provider_root(3, &r2), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_provider_root(2, &r2), CKR_OK);
    assert_int_equal(r1.mod_len, 256);
    assert_int_equal(r1.exp_len, 3);
    assert_memory_equal(r1.exponent, "\x01\x00\x01", 3);
    assert_memory_not_equal(r1.modulus, r2.modulus, 256);
    assert_true(r1.sensitive && !r1.extractable && r1.can_decrypt);
    dep11_provider_close();
    assert_int_equal(dep11_provider_open(&fx->cfg), CKR_OK);
    assert_int_equal(dep11_provider_root(1, &again), CKR_OK);
    assert_int_equal(again.mod_len, r1.mod_len);
    assert_memory_equal(again.modulus, r1.modulus, r1.mod_len);
    /* decrypt in the HSM what OpenSSL encrypted to the public numbers */
    ct_len = oaep_encrypt(&r1, msg, sizeof msg, ct);
    assert_int_equal(dep11_provider_root_decrypt(1, CKM_SHA_1, ct, ct_len, pt, &pt_len), CKR_OK);
    assert_int_equal(pt_len, sizeof msg);
    assert_memory_equal(pt, msg, sizeof msg);
    /* the other root cannot: an invalid copy, not a device fault */
    pt_len = sizeof pt;
    rv = dep11_provider_root_decrypt(2, CKM_SHA_1, ct, ct_len, pt, &pt_len);
    assert_int_equal(dep11_hsm_classify(rv), DEP11_FAULT_INVALID);
    pt_len = 4;
    assert_int_equal(dep11_provider_root_decrypt(1, CKM_SHA_1, ct, ct_len, pt, &pt_len),
                     CKR_BUFFER_TOO_SMALL);
    pt_len = sizeof pt;
    assert_int_equal(dep11_provider_root_decrypt(1, CKM_MD5, ct, ct_len, pt, &pt_len),
                     CKR_MECHANISM_PARAM_INVALID);
}

static void test_attributes(void **state)
{
    static const struct want mac[] = {
        { CKA_TOKEN, 1 }, { CKA_PRIVATE, 1 }, { CKA_SENSITIVE, 1 }, { CKA_EXTRACTABLE, 0 },
        { CKA_SIGN, 1 }, { CKA_VERIFY, 1 }, { CKA_ENCRYPT, 0 }, { CKA_DECRYPT, 0 },
        { CKA_WRAP, 0 }, { CKA_UNWRAP, 0 }, { CKA_DERIVE, 0 },
    };
    static const struct want priv[] = {
        { CKA_TOKEN, 1 }, { CKA_PRIVATE, 1 }, { CKA_SENSITIVE, 1 }, { CKA_EXTRACTABLE, 0 },
        { CKA_DECRYPT, 1 }, { CKA_SIGN, 0 }, { CKA_SIGN_RECOVER, 0 }, { CKA_UNWRAP, 0 },
        { CKA_DERIVE, 0 },
    };
    static const struct want pub[] = {
        { CKA_TOKEN, 1 }, { CKA_PRIVATE, 1 }, { CKA_ENCRYPT, 1 }, { CKA_VERIFY, 0 },
        { CKA_VERIFY_RECOVER, 0 }, { CKA_WRAP, 0 }, { CKA_DERIVE, 0 },
    };
    static const struct want avail[] = {
        { CKA_TOKEN, 1 }, { CKA_PRIVATE, 1 }, { CKA_SENSITIVE, 1 }, { CKA_EXTRACTABLE, 0 },
        { CKA_ENCRYPT, 1 }, { CKA_DECRYPT, 1 }, { CKA_SIGN, 0 }, { CKA_VERIFY, 0 },
        { CKA_WRAP, 0 }, { CKA_UNWRAP, 0 }, { CKA_DERIVE, 0 },
    };
    uint8_t tag[16], id[DEP11_AVAIL_ID_LEN], m[32], value[64];
    struct dep11_hsm_rsa r;
    CK_OBJECT_HANDLE h[8];
    CK_SESSION_HANDLE s;
    CK_ATTRIBUTE va = { CKA_VALUE, value, sizeof value };

    (void)state;
    memset(tag, 0x11, sizeof tag);
    assert_int_equal(dep11_provider_mac((const uint8_t *)"x", 1, m), CKR_OK);
    assert_int_equal(dep11_provider_root(1, &r), CKR_OK);
    assert_int_equal(dep11_provider_avail_key(tag, 0, 0, id), CKR_OK);
    s = session_on("dep11-provider", -1);   /* dep11's login is the app's */
    assert_int_equal(find_prefixed(s, CKO_SECRET_KEY, DEP11_PROVIDER_LABEL_MAC, h, 8), 1);
    check_bools(s, h[0], mac, sizeof mac / sizeof mac[0]);
    assert_int_equal(dep11_hsm()->C_GetAttributeValue(s, h[0], &va, 1), CKR_ATTRIBUTE_SENSITIVE);
    assert_int_equal(find_prefixed(s, CKO_PRIVATE_KEY, DEP11_PROVIDER_LABEL_ROOT1, h, 8), 1);
    check_bools(s, h[0], priv, sizeof priv / sizeof priv[0]);
    assert_int_equal(find_prefixed(s, CKO_PUBLIC_KEY, DEP11_PROVIDER_LABEL_ROOT1, h, 8), 1);
    check_bools(s, h[0], pub, sizeof pub / sizeof pub[0]);
    assert_int_equal(find_prefixed(s, CKO_SECRET_KEY, "dep11-avail-1111", h, 8), 1);
    check_bools(s, h[0], avail, sizeof avail / sizeof avail[0]);
    assert_int_equal(dep11_hsm()->C_CloseSession(s), CKR_OK);
}

static void test_avail(void **state)
{
    uint8_t tag[16], k1[24], k2[24], k3[24], k4[24];
    uint8_t aad[] = "header", pt[40], sealed[128], back[64];
    size_t sealed_len = sizeof sealed, back_len = sizeof back;
    unsigned destroyed = 0;
    CK_RV rv;

    (void)state;
    memset(tag, 0x22, sizeof tag);
    memset(pt, 0x33, sizeof pt);
    assert_int_equal(dep11_provider_avail_key(tag, 0, 0, k1), CKR_OK);
    assert_memory_equal(k1, tag, 16);
    assert_int_equal(dep11_provider_avail_key(tag, 0, 0, k2), CKR_OK);
    assert_memory_equal(k1, k2, 24);
    assert_int_equal(dep11_provider_avail_key(tag, 1, 0, k3), CKR_OK);
    assert_memory_equal(k3, tag, 16);
    assert_memory_not_equal(k1, k3, 24);
    assert_int_equal(dep11_provider_avail_key(tag, 0, 0, k4), CKR_OK);
    assert_memory_equal(k4, memcmp(k1, k3, 24) < 0 ? k1 : k3, 24);

    /* seal / open */
    assert_int_equal(dep11_provider_avail_seal(k1, 24, aad, 6, pt, 40, NULL, &sealed_len), CKR_OK);
    assert_int_equal(sealed_len, 40 + 28);
    sealed_len = 40;
    assert_int_equal(dep11_provider_avail_seal(k1, 24, aad, 6, pt, 40, sealed, &sealed_len),
                     CKR_BUFFER_TOO_SMALL);
    sealed_len = sizeof sealed;
    assert_int_equal(dep11_provider_avail_seal(k1, 24, aad, 6, pt, 40, sealed, &sealed_len), CKR_OK);
    assert_int_equal(sealed_len, 68);
    assert_int_equal(dep11_provider_avail_open(k1, 24, aad, 6, sealed, 68, back, &back_len), CKR_OK);
    assert_int_equal(back_len, 40);
    assert_memory_equal(back, pt, 40);
    /* the other key, a changed tag, other AAD: invalid copy */
    back_len = sizeof back;
    rv = dep11_provider_avail_open(k3, 24, aad, 6, sealed, 68, back, &back_len);
    assert_int_equal(dep11_hsm_classify(rv), DEP11_FAULT_INVALID);
    sealed[67] ^= 1;
    back_len = sizeof back;
    rv = dep11_provider_avail_open(k1, 24, aad, 6, sealed, 68, back, &back_len);
    assert_int_not_equal(rv, CKR_OK);
    assert_int_equal(dep11_hsm_classify(rv), DEP11_FAULT_INVALID);
    sealed[67] ^= 1;
    back_len = sizeof back;
    rv = dep11_provider_avail_open(k1, 24, aad, 5, sealed, 68, back, &back_len);
    assert_int_equal(dep11_hsm_classify(rv), DEP11_FAULT_INVALID);
    back_len = sizeof back;
    assert_int_equal(dep11_provider_avail_open(k1, 24, aad, 6, sealed, 27, back, &back_len),
                     CKR_ENCRYPTED_DATA_LEN_RANGE);

    /* drop one key by its CKA_ID (a failed roll's fresh key); again: OK */
    assert_int_equal(dep11_provider_avail_key(tag, 1, 0, k2), CKR_OK);
    assert_int_equal(dep11_provider_avail_drop(k2), CKR_OK);
    assert_int_equal(dep11_provider_avail_drop(k2), CKR_OK);
    back_len = sizeof back;
    sealed_len = sizeof sealed;
    assert_int_equal(dep11_provider_avail_seal(k2, 24, aad, 6, pt, 40, sealed, &sealed_len),
                     CKR_KEY_HANDLE_INVALID);
    sealed_len = sizeof sealed;
    assert_int_equal(dep11_provider_avail_seal(k1, 24, aad, 6, pt, 40, sealed, &sealed_len), CKR_OK);
    assert_int_equal(dep11_provider_avail_drop(NULL), CKR_ARGUMENTS_BAD);

    /* destroy all but k3, then all */
    assert_int_equal(dep11_provider_avail_destroy(tag, k3, 24, &destroyed), CKR_OK);
    assert_int_equal(destroyed, 1);
    back_len = sizeof back;
    assert_int_equal(dep11_provider_avail_open(k1, 24, aad, 6, sealed, 68, back, &back_len),
                     CKR_KEY_HANDLE_INVALID);
    assert_int_equal(dep11_provider_avail_key(tag, 0, 0, k4), CKR_OK);
    assert_memory_equal(k4, k3, 24);
    assert_int_equal(dep11_provider_avail_destroy(tag, NULL, 0, &destroyed), CKR_OK);
    assert_int_equal(destroyed, 1);
    sealed_len = sizeof sealed;
    assert_int_equal(dep11_provider_avail_seal(k3, 24, aad, 6, pt, 40, sealed, &sealed_len),
                     CKR_KEY_HANDLE_INVALID);
}

/* An RSA pair on the customer token (logged in as user through @s). */
static void make_customer_key(CK_SESSION_HANDLE s, const char *id, CK_OBJECT_HANDLE *pub,
                              CK_OBJECT_HANDLE *priv)
{
    CK_ULONG bits = 2048;
    CK_BYTE e[] = { 1, 0, 1 };
    CK_BBOOL t = CK_TRUE, f = CK_FALSE;
    CK_ATTRIBUTE pt[] = { { CKA_TOKEN, &t, 1 }, { CKA_MODULUS_BITS, &bits, sizeof bits },
                          { CKA_PUBLIC_EXPONENT, e, 3 }, { CKA_ENCRYPT, &t, 1 },
                          { CKA_ID, (void *)id, strlen(id) } };
    CK_ATTRIBUTE vt[] = { { CKA_TOKEN, &t, 1 }, { CKA_SENSITIVE, &t, 1 },
                          { CKA_EXTRACTABLE, &f, 1 }, { CKA_DECRYPT, &t, 1 },
                          { CKA_ID, (void *)id, strlen(id) } };
    CK_MECHANISM m = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };

    assert_int_equal(dep11_hsm()->C_GenerateKeyPair(s, &m, pt, 5, vt, 5, pub, priv), CKR_OK);
}

/* The SO registers @k: a CKA_TRUSTED public key with its numbers. */
static void register_root(const struct dep11_hsm_rsa *k)
{
    CK_FUNCTION_LIST *f = dep11_hsm();
    CK_SESSION_HANDLE so = session_on("customer", -1);
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_KEY_TYPE, &kt, sizeof kt },
                            { CKA_TOKEN, &t, 1 }, { CKA_TRUSTED, &t, 1 },
                            { CKA_MODULUS, (void *)k->modulus, k->mod_len },
                            { CKA_PUBLIC_EXPONENT, (void *)k->exponent, k->exp_len } };
    CK_OBJECT_HANDLE h = 0;

    assert_int_equal(f->C_Logout(so), CKR_OK);
    assert_int_equal(f->C_Login(so, CKU_SO, (CK_UTF8CHAR_PTR)"5678", 4), CKR_OK);
    assert_int_equal(f->C_CreateObject(so, tmpl, 6, &h), CKR_OK);
    assert_int_equal(f->C_Logout(so), CKR_OK);
    assert_int_equal(f->C_Login(so, CKU_USER, (CK_UTF8CHAR_PTR)"1234", 4), CKR_OK);
    assert_int_equal(f->C_CloseSession(so), CKR_OK);
}

static void test_customer_rsa(void **state)
{
    struct fx *fx = *state;
    CK_SESSION_HANDLE s = session_on("customer", CKU_USER), w = 0;
    CK_OBJECT_HANDLE pub = 0, priv = 0;
    struct dep11_hsm_rsa k, list[4];
    uint8_t ct[512], pt[512], msg[32];
    size_t n = 0, ct_len = 0, pt_len = sizeof pt;
    int reg = -1;

    memset(msg, 0x77, sizeof msg);
    make_customer_key(s, "cust-1", &pub, &priv);
    assert_int_equal(dep11_hsm_worker_open(slot_of("customer"), &w), CKR_OK);
    assert_true(dep11_hsm_is_own_session(w));
    assert_false(dep11_hsm_is_own_session(s));
    /* either half resolves to the private key */
    assert_int_equal(dep11_hsm_rsa_resolve(w, pub, &k), CKR_OK);
    assert_int_equal(k.priv, priv);
    assert_int_equal(k.ckaid_len, 6);
    assert_memory_equal(k.ckaid, "cust-1", 6);
    assert_true(k.sensitive && !k.extractable && k.can_decrypt);
    assert_int_equal(dep11_hsm_rsa_resolve(w, priv, &k), CKR_OK);
    assert_int_equal(k.priv, priv);
    assert_int_equal(dep11_hsm_rsa_resolve(w, 0x7FFFFFF0, &list[0]), CKR_KEY_HANDLE_INVALID);
    assert_int_equal(list[0].priv, CK_INVALID_HANDLE);
    /* registration by the SO */
    assert_int_equal(dep11_hsm_rsa_registered(w, &k, &reg), CKR_OK);
    assert_int_equal(reg, 0);
    /* (an SO login needs every R/O session of the token closed) */
    dep11_hsm_worker_close(w);
    register_root(&k);
    assert_int_equal(dep11_hsm_worker_open(slot_of("customer"), &w), CKR_OK);
    assert_int_equal(dep11_hsm_rsa_registered(w, &k, &reg), CKR_OK);
    assert_int_equal(reg, 1);
    /* listing with and without a hint (the SO's login dropped the handles
     * of private objects: find the key again) */
    assert_int_equal(dep11_hsm_rsa_find(w, (const uint8_t *)"cust-1", 6, list, 4, &n), CKR_OK);
    assert_int_equal(n, 1);
    assert_memory_equal(list[0].modulus, k.modulus, k.mod_len);
    priv = list[0].priv;
    assert_int_equal(dep11_hsm_rsa_find(w, (const uint8_t *)"nope", 4, list, 4, &n), CKR_OK);
    assert_true(n >= 1);
    /* decryption in the HSM */
    ct_len = oaep_encrypt(&k, msg, sizeof msg, ct);
    assert_int_equal(dep11_hsm_rsa_decrypt(w, priv, CKM_SHA_1, ct, ct_len, pt, &pt_len), CKR_OK);
    assert_int_equal(pt_len, sizeof msg);
    assert_memory_equal(pt, msg, sizeof msg);
    if (fx->faultmod) {
        /* a lost session is retried once on a fresh worker */
        write_file(fx->faults, "C_Decrypt rv=0xB3 count=1\n");
        pt_len = sizeof pt;
        assert_int_equal(dep11_hsm_rsa_decrypt(w, priv, CKM_SHA_1, ct, ct_len, pt, &pt_len),
                         CKR_OK);
        write_file(fx->faults, "C_Decrypt rv=0xB3\n");
        pt_len = sizeof pt;
        assert_int_equal(dep11_hsm_rsa_decrypt(w, priv, CKM_SHA_1, ct, ct_len, pt, &pt_len),
                         CKR_SESSION_HANDLE_INVALID);
        /* a fault on one token only */
        write_file(fx->faults, "C_Decrypt rv=0x30 token=customer\n");
        pt_len = sizeof pt;
        assert_int_equal(dep11_hsm_rsa_decrypt(w, priv, CKM_SHA_1, ct, ct_len, pt, &pt_len),
                         CKR_DEVICE_ERROR);
        write_file(fx->faults, "");
        assert_true(dep11_handle_in_range(priv));
    }
    dep11_hsm_worker_close(w);
    assert_false(dep11_hsm_is_own_session(w));
    assert_int_equal(dep11_hsm()->C_CloseSession(s), CKR_OK);
}

/* ---- provisioning: the module finds, never creates ---- */

/* Opens @token as the provider (after closing the group's): the code. */
static CK_RV open_as(struct fx *fx, const char *token)
{
    struct dep11_config cfg = fx->cfg;

    dep11_provider_close();
    snprintf(cfg.provider_token, sizeof cfg.provider_token, "%s", token);
    return dep11_provider_open(&cfg);
}

/* An empty provider token: refused, and still empty; a partly provisioned
 * one (a key missing, a pair's public half missing) and one with a key
 * twice: refused, and nothing created; provisioned: opens. */
static void test_unprovisioned(void **state)
{
    struct fx *fx = *state;
    CK_OBJECT_HANDLE h[8], a = 0, b = 0;
    CK_SESSION_HANDLE s;
    uint8_t mac[32];
    size_t n = 0;

    assert_int_equal(count_objects("dep11-race"), 0);
    assert_int_equal(open_as(fx, "dep11-race"), CKR_FUNCTION_FAILED);
    assert_false(dep11_provider_is_slot(slot_of("dep11-race")));
    assert_int_equal(dep11_provider_mac((const uint8_t *)"x", 1, mac),
                     CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(count_objects("dep11-race"), 0);
    /* everything but the MAC key */
    s = session_on("dep11-race", CKU_USER);
    assert_int_equal(provider_key_create(dep11_hsm(), s, K_ROOT1, 2048, &a, &b), CKR_OK);
    assert_int_equal(provider_key_create(dep11_hsm(), s, K_ROOT2, 2048, &a, &b), CKR_OK);
    assert_int_equal(provider_key_create(dep11_hsm(), s, K_SIGN, 2048, &a, &b), CKR_OK);
    assert_int_equal(dep11_hsm()->C_CloseSession(s), CKR_OK);
    assert_int_equal(open_as(fx, "dep11-race"), CKR_FUNCTION_FAILED);
    assert_int_equal(count_objects("dep11-race"), 6);
    /* the MAC key twice */
    s = session_on("dep11-race", CKU_USER);
    assert_int_equal(provider_key_create(dep11_hsm(), s, K_MAC, 0, &a, &b), CKR_OK);
    assert_int_equal(provider_key_create(dep11_hsm(), s, K_MAC, 0, &a, &b), CKR_OK);
    assert_int_equal(dep11_hsm()->C_CloseSession(s), CKR_OK);
    assert_int_equal(open_as(fx, "pkcs11:token=dep11-race"), CKR_FUNCTION_FAILED);
    assert_int_equal(count_objects("dep11-race"), 8);
    /* (dep11's close logged the application out: a new session) */
    s = session_on("dep11-race", CKU_USER);
    assert_int_equal(find_prefixed(s, CKO_SECRET_KEY, DEP11_PROVIDER_LABEL_MAC, h, 8), 2);
    assert_int_equal(dep11_hsm()->C_DestroyObject(s, h[1]), CKR_OK);
    /* root 2 without its public half */
    n = find_prefixed(s, CKO_PUBLIC_KEY, DEP11_PROVIDER_LABEL_ROOT2, h, 8);
    assert_int_equal(n, 1);
    assert_int_equal(dep11_hsm()->C_DestroyObject(s, h[0]), CKR_OK);
    assert_int_equal(dep11_hsm()->C_CloseSession(s), CKR_OK);
    assert_int_equal(open_as(fx, "dep11-race"), CKR_FUNCTION_FAILED);
    assert_int_equal(count_objects("dep11-race"), 6);
    /* complete again: opens, and the keys work */
    s = session_on("dep11-race", CKU_USER);
    n = find_prefixed(s, CKO_PRIVATE_KEY, DEP11_PROVIDER_LABEL_ROOT2, h, 8);
    assert_int_equal(n, 1);
    assert_int_equal(dep11_hsm()->C_DestroyObject(s, h[0]), CKR_OK);
    assert_int_equal(provider_key_create(dep11_hsm(), s, K_ROOT2, 2048, &a, &b), CKR_OK);
    assert_int_equal(dep11_hsm()->C_CloseSession(s), CKR_OK);
    assert_int_equal(open_as(fx, "dep11-race"), CKR_OK);
    assert_int_equal(dep11_provider_mac((const uint8_t *)"x", 1, mac), CKR_OK);
    assert_int_equal(count_objects("dep11-race"), 7);
    dep11_provider_close();
    assert_int_equal(dep11_provider_open(&fx->cfg), CKR_OK);
}

/* A provider-token setting that matches two tokens is refused. */
static void test_ambiguous(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(open_as(fx, "pkcs11:manufacturer=SoftHSM%20project"),
                     CKR_FUNCTION_FAILED);
    assert_false(dep11_provider_is_slot(slot_of("dep11-provider")));
    assert_int_equal(open_as(fx, "pkcs11:token=dep11-provider"), CKR_OK);
    dep11_provider_close();
    assert_int_equal(dep11_provider_open(&fx->cfg), CKR_OK);
}

/* The provider label, blank padded or not; other labels are not it. */
static void test_is_label(void **state)
{
    CK_UTF8CHAR l[32];

    (void)state;
    memset(l, ' ', sizeof l);
    memcpy(l, "dep11-provider", 14);
    assert_true(dep11_provider_is_label(l));
    memset(l + 14, 0, sizeof l - 14);
    assert_true(dep11_provider_is_label(l));
    memset(l, ' ', sizeof l);
    memcpy(l, "dep11-provider2", 15);
    assert_false(dep11_provider_is_label(l));
    memset(l, ' ', sizeof l);
    memcpy(l, "dep11-provide", 13);
    assert_false(dep11_provider_is_label(l));
    assert_false(dep11_provider_is_label(NULL));
    dep11_provider_close();
    memset(l, ' ', sizeof l);
    memcpy(l, "dep11-provider", 14);
    assert_false(dep11_provider_is_label(l));  /* not open */
    assert_int_equal(dep11_provider_open(&((struct fx *)*state)->cfg), CKR_OK);
}

/* Threads of one process: the same key, and nothing created. */
static void *mac_thread(void *arg)
{
    return (void *)(intptr_t)dep11_provider_mac((const uint8_t *)"t", 1, arg);
}

static void test_threads(void **state)
{
    struct fx *fx = *state;
    pthread_t t[4];
    uint8_t mac[4][32];
    void *rv = NULL;
    size_t before = count_objects("dep11-provider");
    int i = 0;

    dep11_provider_close();
    assert_int_equal(dep11_provider_open(&fx->cfg), CKR_OK);
    for (i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, mac_thread, mac[i]), 0);
    for (i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], &rv), 0);
        assert_int_equal((CK_RV)(intptr_t)rv, CKR_OK);
        assert_memory_equal(mac[i], mac[0], 32);
    }
    assert_int_equal(count_objects("dep11-provider"), before);
}

static void test_open_errors(void **state)
{
    struct fx *fx = *state;
    struct dep11_config cfg = fx->cfg;

    dep11_provider_close();
    snprintf(cfg.provider_token, sizeof cfg.provider_token, "no-such-token");
    assert_int_equal(dep11_provider_open(&cfg), CKR_TOKEN_NOT_PRESENT);
    cfg = fx->cfg;
    snprintf(cfg.provider_pin, sizeof cfg.provider_pin, "file:%s/missing", fx->dir);
    assert_int_equal(dep11_provider_open(&cfg), CKR_FUNCTION_FAILED);
    assert_false(dep11_provider_is_slot(slot_of("dep11-provider")));
    assert_int_equal(dep11_provider_open(&fx->cfg), CKR_OK);
    assert_true(dep11_provider_is_slot(slot_of("dep11-provider")));
    assert_false(dep11_provider_is_slot(slot_of("customer")));
}

/* ---- through the fault module ---- */

static void test_faults(void **state)
{
    struct fx *fx = *state;
    uint8_t tag[16], id[24], pt[32], sealed[64], back[32];
    size_t sealed_len = sizeof sealed, back_len = sizeof back;
    struct dep11_hsm_rsa r;
    CK_RV rv;

    memset(tag, 0x44, sizeof tag);
    memset(pt, 0x55, sizeof pt);
    /* handles from the backend fall in dep11's reserved range */
    assert_int_equal(dep11_provider_root(1, &r), CKR_OK);
    assert_true(dep11_handle_in_range(r.priv));
    assert_int_equal(dep11_provider_avail_key(tag, 0, 0, id), CKR_OK);
    assert_int_equal(dep11_provider_avail_seal(id, 24, NULL, 0, pt, 32, sealed, &sealed_len),
                     CKR_OK);
    /* a device fault on C_Decrypt appears ... */
    write_file(fx->faults, "C_Decrypt rv=0x30\n");
    rv = dep11_provider_avail_open(id, 24, NULL, 0, sealed, sealed_len, back, &back_len);
    assert_int_equal(rv, CKR_DEVICE_ERROR);
    assert_int_equal(dep11_hsm_classify(rv), DEP11_FAULT_TRANSIENT);
    /* ... only on its token ... */
    write_file(fx->faults, "C_Decrypt rv=0x30 token=customer\n");
    back_len = sizeof back;
    assert_int_equal(dep11_provider_avail_open(id, 24, NULL, 0, sealed, sealed_len, back,
                                               &back_len), CKR_OK);
    /* ... a lost session or a lost login is retried once ... */
    write_file(fx->faults, "C_Decrypt rv=0xB3 count=1\n");
    back_len = sizeof back;
    assert_int_equal(dep11_provider_avail_open(id, 24, NULL, 0, sealed, sealed_len, back,
                                               &back_len), CKR_OK);
    write_file(fx->faults, "C_Sign rv=0x101 count=1\n");
    assert_int_equal(dep11_provider_mac(pt, 32, back), CKR_OK);
    write_file(fx->faults, "C_Sign rv=0x101 after=2\n");
    assert_int_equal(dep11_provider_mac(pt, 32, back), CKR_OK);
    assert_int_equal(dep11_provider_mac(pt, 32, back), CKR_USER_NOT_LOGGED_IN);
    /* ... and clears when the file is emptied */
    write_file(fx->faults, "");
    back_len = sizeof back;
    assert_int_equal(dep11_provider_avail_open(id, 24, NULL, 0, sealed, sealed_len, back,
                                               &back_len), CKR_OK);
    assert_memory_equal(back, pt, 32);
}

int main(void)
{
    const char *mod = getenv("SOFTHSM_MODULE");
    const struct CMUnitTest direct[] = {
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_mac),
        cmocka_unit_test(test_roots),
        cmocka_unit_test(test_attributes),
        cmocka_unit_test(test_avail),
        cmocka_unit_test(test_customer_rsa),
        cmocka_unit_test(test_unprovisioned),
        cmocka_unit_test(test_ambiguous),
        cmocka_unit_test(test_is_label),
        cmocka_unit_test(test_threads),
    };
    const struct CMUnitTest faulted[] = {
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_avail),
        cmocka_unit_test(test_customer_rsa),
    };
    int rc = 0;

    if (mod == NULL || *mod == '\0' || sh("command -v softhsm2-util >/dev/null") != 0) {
        fprintf(stderr, "SKIP: SOFTHSM_MODULE or softhsm2-util missing\n");
        return 77;
    }
    rc = cmocka_run_group_tests_name("direct", direct, group_setup, group_teardown);
    rc |= cmocka_run_group_tests_name("fault-module", faulted, group_setup_fault,
                                      group_teardown);
    return rc;
}
