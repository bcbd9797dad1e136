/*
 * provider_keys.c - the keys on dep11's provider token: the MAC key, the
 * two provider roots and the receipt signing key. dep11 never creates them
 * (DESIGN section 2, "Provisioning"): `dep11-tool provider init` does, with
 * the labels of include/dep11-provider.h; the module finds them by label,
 * checks at open that each is there exactly once, and caches the handles.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dep11-provider.h"
#include "hsm/backend.h"
#include "hsm/internal.h"
#include "hsm/provider.h"
#include "hsm/provider_int.h"
#include "hsm/retry.h"
#include "hsm/rsa.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/secmem.h"

enum purpose { P_MAC = 0, P_ROOT1 = 1, P_ROOT2 = 2, P_SIGN = 3, P_COUNT };

/* What each provider key is: the label, the class and key type of the key
 * (the private half of a pair), and whether a public half goes with it. */
static const struct keydef {
    const char *label;
    const char *name;       /* for messages */
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE kt;
    int pair;
} keydef[P_COUNT] = {
    { DEP11_PROVIDER_LABEL_MAC, "mac", CKO_SECRET_KEY, CKK_GENERIC_SECRET, 0 },
    { DEP11_PROVIDER_LABEL_ROOT1, "root-1", CKO_PRIVATE_KEY, CKK_RSA, 1 },
    { DEP11_PROVIDER_LABEL_ROOT2, "root-2", CKO_PRIVATE_KEY, CKK_RSA, 1 },
    { DEP11_PROVIDER_LABEL_SIGN, "receipt-sign", CKO_PRIVATE_KEY, CKK_EC, 1 }, /* or RSA */
};

/* Chosen handles, per process. cache_lock guards the cache only (leaf). */
static dep11_mutex_t cache_lock = DEP11_MUTEX_INIT;
static struct {
    CK_OBJECT_HANDLE h;     /* secret key, or private key of a pair */
    CK_OBJECT_HANDLE pub;   /* public key of a pair (0 for the MAC key) */
} cache[P_COUNT];

void dep11_provider_keys_reset(void)
{
    (void)pthread_mutex_init(&cache_lock, NULL);
    memset(cache, 0, sizeof cache);
}

static CK_OBJECT_HANDLE cached(enum purpose p)
{
    CK_OBJECT_HANDLE h = 0;

    dep11_lock(&cache_lock);
    h = cache[p].h;
    dep11_unlock(&cache_lock);
    return h;
}

static void cache_set(enum purpose p, CK_OBJECT_HANDLE h, CK_OBJECT_HANDLE pub)
{
    dep11_lock(&cache_lock);
    cache[p].h = h;
    cache[p].pub = pub;
    dep11_unlock(&cache_lock);
}

/* ---- finding the keys ---- */

struct found {
    CK_OBJECT_HANDLE h, pub;    /* the first of each (0: none) */
    size_t n, npub;             /* how many carry the label */
};

/* The objects of class @cls, key type @kt and label @label: the first one
 * in *@h, their number in *@n. */
static CK_RV find_labelled(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, CK_KEY_TYPE kt,
                           const char *label, CK_OBJECT_HANDLE *h, size_t *n)
{
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_KEY_TYPE, &kt, sizeof kt },
                         { CKA_LABEL, (void *)label, strlen(label) } };
    CK_OBJECT_HANDLE *all = NULL;
    CK_RV rv = dep11_hsm_find_all(s, t, 3, &all, n);

    *h = rv == CKR_OK && *n > 0 ? all[0] : 0;
    free(all);
    return rv;
}

/* The key of @p and, for a pair, its public half. */
static CK_RV find_key(CK_SESSION_HANDLE s, enum purpose p, struct found *f)
{
    const struct keydef *d = &keydef[p];
    /* the receipt key's type follows the profile's receipt-signature */
    CK_KEY_TYPE kt = p == P_SIGN ? dep11_provider_sign_key_type() : d->kt;
    CK_RV rv = find_labelled(s, d->cls, kt, d->label, &f->h, &f->n);

    f->pub = 0;
    f->npub = 0;
    if (rv == CKR_OK && d->pair)
        rv = find_labelled(s, CKO_PUBLIC_KEY, kt, d->label, &f->pub, &f->npub);
    return rv;
}

/* Appends ", @what" (or "@what" first) to @out (capacity @cap). */
static void add_word(char *out, size_t cap, const char *what, const char *suffix)
{
    size_t n = strlen(out);

    (void)snprintf(out + n, cap - n, "%s%s%s", n ? ", " : "", what, suffix);
}

struct check_arg {
    const char *token;
    struct found f[P_COUNT];
};

/* One log line naming the token, what is wrong and the command. */
static CK_RV report(const struct check_arg *a)
{
    char missing[160] = "", extra[160] = "";
    size_t absent = 0, p = 0;
    int half = 0;

    for (p = 0; p < P_COUNT; p++) {
        const struct found *f = &a->f[p];
        int pair = keydef[p].pair;

        if (f->n == 0)
            add_word(missing, sizeof missing, keydef[p].name, pair ? " (private)" : "");
        if (pair && f->npub == 0)
            add_word(missing, sizeof missing, keydef[p].name, " (public)");
        if (f->n > 1 || f->npub > 1)
            add_word(extra, sizeof extra, keydef[p].label, "");
        absent += f->n == 0 && (!pair || f->npub == 0);
        half |= pair && (f->n == 0) != (f->npub == 0);
    }
    if (absent == P_COUNT && extra[0] == '\0') {
        LOG_ERROR("provider token %s holds no provider keys: dep11 never creates them; "
                  "provision the token once with `" DEP11_PROVIDER_INIT_COMMAND "`",
                  a->token);
    } else if (extra[0] != '\0') {
        LOG_ERROR("provider token %s holds more than one key labelled %s: remove the "
                  "extra ones, or re-initialize the token and run `"
                  DEP11_PROVIDER_INIT_COMMAND "`", a->token, extra);
    } else if (half) {
        LOG_ERROR("provider token %s lacks half of a key pair (missing: %s): re-initialize "
                  "the token and run `" DEP11_PROVIDER_INIT_COMMAND "`", a->token, missing);
    } else {
        LOG_ERROR("provider token %s is partly provisioned (missing: %s): complete it "
                  "with `" DEP11_PROVIDER_INIT_COMMAND " --force-complete`", a->token,
                  missing);
    }
    return CKR_FUNCTION_FAILED;
}

static CK_RV check_fn(CK_SESSION_HANDLE s, void *arg)
{
    struct check_arg *a = arg;
    CK_RV rv = CKR_OK;
    size_t p = 0;

    for (p = 0; rv == CKR_OK && p < P_COUNT; p++)
        rv = find_key(s, (enum purpose)p, &a->f[p]);
    return rv;
}

/**
 * See provider_int.h. @token [in] the provider-token setting, for the log
 * line. Fills the handle cache. CKR_OK; CKR_FUNCTION_FAILED (a key missing
 * or there twice: one line names the token and the command); backend codes.
 */
CK_RV dep11_provider_keys_check(const char *token)
{
    struct check_arg a;
    CK_RV rv = CKR_GENERAL_ERROR;
    size_t p = 0;

    memset(&a, 0, sizeof a);
    a.token = token;
    rv = dep11_provider_run(check_fn, &a);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "looking for the provider keys");
        return rv;
    }
    for (p = 0; p < P_COUNT; p++)
        if (a.f[p].n != 1 || a.f[p].npub != (size_t)keydef[p].pair)
            return report(&a);
    for (p = 0; p < P_COUNT; p++)
        cache_set((enum purpose)p, a.f[p].h, a.f[p].pub);
    return CKR_OK;
}

struct find_arg {
    enum purpose p;
    struct found f;
};

static CK_RV find_fn(CK_SESSION_HANDLE s, void *arg)
{
    struct find_arg *a = arg;

    return find_key(s, a->p, &a->f);
}

/* The handle for @p: from the cache, else found again (after a stale
 * handle). A key that is gone is CKR_KEY_HANDLE_INVALID: it is never
 * re-created here. */
static CK_RV ensure(enum purpose p, CK_OBJECT_HANDLE *h)
{
    struct find_arg a;
    CK_RV rv = CKR_GENERAL_ERROR;

    *h = cached(p);
    if (*h != 0)
        return CKR_OK;
    memset(&a, 0, sizeof a);
    a.p = p;
    rv = dep11_provider_run(find_fn, &a);
    if (rv != CKR_OK)
        return rv;
    if (a.f.n != 1 || a.f.npub != (size_t)keydef[p].pair) {
        rv = CKR_KEY_HANDLE_INVALID;
        LOG_ERROR("provider key %s: %zu on the provider token (and %zu public halves); "
                  "dep11 never creates provider keys", keydef[p].label, a.f.n, a.f.npub);
        return rv;
    }
    cache_set(p, a.f.h, a.f.pub);
    *h = a.f.h;
    return CKR_OK;
}

/* Runs @fn with the key of @p in arg->key; a stale cached handle (object
 * destroyed, or handles dropped by the backend) is re-found once. */
struct keyed {
    CK_OBJECT_HANDLE key;
    void *arg;
};

static CK_RV with_key(enum purpose p, dep11_provider_fn fn, struct keyed *k)
{
    CK_RV rv = ensure(p, &k->key);
    int again = 1;

    while (rv == CKR_OK) {
        rv = dep11_provider_run(fn, k);
        if (!again || (rv != CKR_OBJECT_HANDLE_INVALID && rv != CKR_KEY_HANDLE_INVALID))
            break;
        again = 0;
        LOG_INFO("provider %s key handle %lu stale: finding it again",
                 keydef[p].name, (unsigned long)k->key);
        dep11_lock(&cache_lock);
        if (cache[p].h == k->key)
            cache[p].h = cache[p].pub = 0;
        dep11_unlock(&cache_lock);
        rv = ensure(p, &k->key);
    }
    return rv;
}

/* ---- MAC and roots ---- */

struct mac_arg {
    const uint8_t *data;
    size_t len;
    uint8_t *mac;
};

static CK_RV mac_fn(CK_SESSION_HANDLE s, void *arg)
{
    struct keyed *k = arg;
    struct mac_arg *a = k->arg;
    CK_MECHANISM m = { CKM_SHA256_HMAC, NULL, 0 };
    CK_ULONG len = 32;
    CK_RV rv = dep11_hsm_SignInit(s, &m, k->key);

    if (rv == CKR_OK)
        rv = dep11_hsm_Sign(s, (CK_BYTE_PTR)a->data, a->len, a->mac, &len);
    if (rv == CKR_OK && len != 32)
        rv = CKR_GENERAL_ERROR;
    return rv;
}

/**
 * See provider.h. @data [in] may be empty; @mac [out] 32 bytes.
 * CKR_ARGUMENTS_BAD; CKR_CRYPTOKI_NOT_INITIALIZED (provider not open);
 * backend codes.
 */
CK_RV dep11_provider_mac(const uint8_t *data, size_t len, uint8_t mac[32])
{
    uint8_t empty = 0;
    struct mac_arg a = { data != NULL ? data : &empty, len, mac };
    struct keyed k = { 0, &a };
    CK_RV rv = CKR_GENERAL_ERROR;

    if ((data == NULL && len > 0) || mac == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "bad arguments");
        return rv;
    }
    rv = with_key(P_MAC, mac_fn, &k);
    if (rv != CKR_OK)
        LOG_FAIL(rv, "provider MAC");
    return rv;
}

static CK_RV root_fn(CK_SESSION_HANDLE s, void *arg)
{
    struct keyed *k = arg;

    return dep11_hsm_rsa_resolve(s, k->key, k->arg);
}

/**
 * See provider.h. @n 1 or 2; @out [out] the private key handle and public
 * numbers (attributes as on the token). CKR_ARGUMENTS_BAD; backend codes.
 */
CK_RV dep11_provider_root(int n, struct dep11_hsm_rsa *out)
{
    struct keyed k = { 0, out };
    CK_RV rv = CKR_GENERAL_ERROR;

    if ((n != 1 && n != 2) || out == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "provider root %d", n);
        return rv;
    }
    rv = with_key(n == 1 ? P_ROOT1 : P_ROOT2, root_fn, &k);
    if (rv != CKR_OK)
        LOG_FAIL(rv, "provider root %d", n);
    return rv;
}

struct dec_arg {
    CK_MECHANISM_TYPE hash;
    const uint8_t *ct;
    size_t ct_len;
    uint8_t *pt;
    size_t *pt_len;
    size_t cap;
};

static CK_RV dec_fn(CK_SESSION_HANDLE s, void *arg)
{
    struct keyed *k = arg;
    struct dec_arg *a = k->arg;

    *a->pt_len = a->cap;        /* a retry starts with the caller's capacity */
    return dep11_hsm_rsa_decrypt(s, k->key, a->hash, a->ct, a->ct_len, a->pt, a->pt_len);
}

/**
 * See provider.h. @hash CKM_SHA_1 or CKM_SHA256; @pt [out] capacity in
 * *@pt_len (cleansed on error). Returns dep11_hsm_rsa_decrypt's codes.
 */
CK_RV dep11_provider_root_decrypt(int n, CK_MECHANISM_TYPE hash, const uint8_t *ct,
                                  size_t ct_len, uint8_t *pt, size_t *pt_len)
{
    struct dec_arg a = { hash, ct, ct_len, pt, pt_len, 0 };
    struct keyed k = { 0, &a };
    CK_RV rv = CKR_GENERAL_ERROR;

    if ((n != 1 && n != 2) || ct == NULL || pt == NULL || pt_len == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "bad arguments");
        return rv;
    }
    a.cap = *pt_len;
    return with_key(n == 1 ? P_ROOT1 : P_ROOT2, dec_fn, &k);
}

/* ---- the receipt signing key ---- */

struct pair_arg {
    dep11_provider_pair_fn fn;
    void *arg;
};

static CK_RV pair_fn(CK_SESSION_HANDLE s, void *arg)
{
    struct keyed *k = arg;
    struct pair_arg *a = k->arg;
    CK_OBJECT_HANDLE pub = 0;

    dep11_lock(&cache_lock);
    if (cache[P_SIGN].h == k->key)
        pub = cache[P_SIGN].pub;
    dep11_unlock(&cache_lock);
    return a->fn(s, k->key, pub, a->arg);
}

/**
 * See provider_int.h. @fn [in] runs on a pool session with the signing key's
 * private and public handles (the public one 0 if it could not be found);
 * a stale handle is re-found once. Returns @fn's code or the look-up's.
 */
CK_RV dep11_provider_with_sign_key(dep11_provider_pair_fn fn, void *arg)
{
    struct pair_arg a = { fn, arg };
    struct keyed k = { 0, &a };

    return with_key(P_SIGN, pair_fn, &k);
}

/* ---- the profile's OAEP hash ---- */

struct oaep_arg {
    CK_MECHANISM_TYPE hash;
    CK_OBJECT_HANDLE priv, pub;
    const char *step; /* the call that failed */
};

/* RSA-OAEP with @a->hash round trip in the HSM: provider root 1's public
 * half encrypts a fixed 32-byte pattern (no key), its private half decrypts
 * it. Each error of C_Encrypt/C_Decrypt ends its operation. */
static CK_RV oaep_trial_fn(CK_SESSION_HANDLE s, void *arg)
{
    struct oaep_arg *a = arg;
    CK_RSA_PKCS_OAEP_PARAMS p = { a->hash,
                                  a->hash == CKM_SHA_1 ? CKG_MGF1_SHA1 : CKG_MGF1_SHA256,
                                  CKZ_DATA_SPECIFIED, NULL, 0 };
    CK_MECHANISM m = { CKM_RSA_PKCS_OAEP, &p, sizeof p };
    CK_BYTE pt[32], ct[DEP11_HSM_RSA_MOD_MAX], back[DEP11_HSM_RSA_MOD_MAX];
    CK_ULONG ct_len = sizeof ct, back_len = sizeof back;
    CK_RV rv = CKR_OK;

    memset(pt, 0x5a, sizeof pt);
    a->step = "C_EncryptInit";
    rv = dep11_hsm_EncryptInit(s, &m, a->pub);
    if (rv == CKR_OK && (a->step = "C_Encrypt") != NULL)
        rv = dep11_hsm_Encrypt(s, pt, sizeof pt, ct, &ct_len);
    if (rv == CKR_OK && (a->step = "C_DecryptInit") != NULL)
        rv = dep11_hsm_DecryptInit(s, &m, a->priv);
    if (rv == CKR_OK && (a->step = "C_Decrypt") != NULL)
        rv = dep11_hsm_Decrypt(s, ct, ct_len, back, &back_len);
    if (rv == CKR_OK && (back_len != sizeof pt || memcmp(back, pt, sizeof pt) != 0)) {
        a->step = "the round trip (decrypted to other bytes)";
        rv = CKR_GENERAL_ERROR;
    }
    return rv;
}

/**
 * See provider_int.h. One HSM round trip with provider root 1 (found by
 * dep11_provider_keys_check). CKR_OK; CKR_FUNCTION_FAILED after one ERROR
 * line naming the profile, the mechanism, the hash and the HSM's answer;
 * session or login codes as they come.
 */
CK_RV dep11_provider_oaep_check(const struct dep11_config *cfg)
{
    struct oaep_arg a = { 0, 0, 0, "" };
    CK_RV rv = CKR_GENERAL_ERROR;
    const char *name = NULL;

    if (cfg == NULL)
        return CKR_ARGUMENTS_BAD;
    a.hash = cfg->profile.oaep_hash;
    name = a.hash == CKM_SHA_1 ? "sha1" : a.hash == CKM_SHA256 ? "sha256" : NULL;
    dep11_lock(&cache_lock);
    a.priv = cache[P_ROOT1].h;
    a.pub = cache[P_ROOT1].pub;
    dep11_unlock(&cache_lock);
    if (name == NULL || a.priv == 0 || a.pub == 0) {
        LOG_FAIL(rv, "OAEP check without a hash or provider root 1");
        return rv;
    }
    rv = dep11_provider_run(oaep_trial_fn, &a);
    if (rv == CKR_OK || rv == CKR_USER_NOT_LOGGED_IN || dep11_hsm_session_lost(rv))
        return rv;
    LOG_ERROR("profile %s: oaep-hash = %s, but the HSM refuses CKM_RSA_PKCS_OAEP with %s "
              "(MGF1 alike, no label): %s answered %s; set the hash this HSM offers",
              cfg->profile.path, name, a.hash == CKM_SHA_1 ? "SHA-1" : "SHA-256", a.step,
              dep11_rv_name(rv));
    return CKR_FUNCTION_FAILED;
}
