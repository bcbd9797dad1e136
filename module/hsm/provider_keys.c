/*
 * provider_keys.c - the keys on dep11's provider token: the MAC key, the
 * two provider roots and the receipt signing key (created on first use,
 * race-safe across processes). Every key is a sensitive, never extractable
 * token object with all usage attributes set explicitly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/rand.h>

#include "hsm/backend.h"
#include "hsm/internal.h"
#include "hsm/provider.h"
#include "hsm/provider_int.h"
#include "hsm/rsa.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/secmem.h"

#define LABEL_MAX 64
#define TAG_HEX 16              /* random label suffix: 8 bytes in hex */
#define SETTLE_MS 50            /* pause between looks after a creation */
#define WINDOW_MS 1000          /* shortest time a creator keeps looking */

enum purpose { P_MAC = 0, P_ROOT1 = 1, P_ROOT2 = 2, P_SIGN = 3, P_COUNT };
static const char *const purpose_name[P_COUNT] = { "mac", "root-1", "root-2", "sign" };

/* Chosen handles, per process. create_lock serializes first-use creation in
 * this process and is held across HSM calls (never while holding a pool
 * session, and never taken by code that holds one: order create_lock, then
 * pool lock). cache_lock guards the cache only (leaf). */
static dep11_mutex_t create_lock = DEP11_MUTEX_INIT;
static dep11_mutex_t cache_lock = DEP11_MUTEX_INIT;
static struct {
    CK_OBJECT_HANDLE h;     /* secret key, or private key of a pair */
    CK_OBJECT_HANDLE pub;   /* public key of a pair (may be 0) */
} cache[P_COUNT];

void dep11_prov_keys_reset(void)
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

static void hex(char *out, const uint8_t *in, size_t n)
{
    static const char d[] = "0123456789abcdef";
    size_t i = 0;

    for (i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static CK_RV random_bytes(uint8_t *out, size_t n)
{
    if (RAND_bytes(out, (int)n) != 1) {
        LOG_FAIL(CKR_FUNCTION_FAILED, "RAND_bytes");
        return CKR_FUNCTION_FAILED;
    }
    return CKR_OK;
}

/* ---- race-safe purpose keys ---- */

struct pick {
    enum purpose p;
    CK_OBJECT_HANDLE h, pub;        /* the chosen key (0: none) */
    size_t candidates;              /* keys of this purpose seen */
    char label[LABEL_MAX + 1];
    CK_OBJECT_HANDLE mine, mine_pub;/* created by this call (0: none) */
    char mine_label[LABEL_MAX + 1];
};

/* Among keys of @pk->p's class and type, the one with the smallest
 * "dep11-<purpose>-<16 hex>" label. */
static CK_RV pick_smallest(CK_SESSION_HANDLE s, struct pick *pk)
{
    CK_OBJECT_CLASS cls = pk->p == P_MAC ? CKO_SECRET_KEY : CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = pk->p == P_MAC ? CKK_GENERIC_SECRET : pk->p == P_SIGN ? CKK_EC : CKK_RSA;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_KEY_TYPE, &kt, sizeof kt } };
    char prefix[32], lab[LABEL_MAX + 1];
    CK_OBJECT_HANDLE *found = NULL;
    size_t n = 0, i = 0, plen = 0;
    CK_RV rv = dep11_prov_find(s, t, 2, &found, &n);

    pk->h = 0;
    pk->candidates = 0;
    pk->label[0] = '\0';
    if (rv != CKR_OK)
        return rv;
    plen = (size_t)snprintf(prefix, sizeof prefix, "dep11-%s-", purpose_name[pk->p]);
    for (i = 0; i < n; i++) {
        CK_ATTRIBUTE a = { CKA_LABEL, lab, LABEL_MAX };

        if (dep11_hsm()->C_GetAttributeValue(s, found[i], &a, 1) != CKR_OK ||
            a.ulValueLen != plen + TAG_HEX)
            continue;
        lab[a.ulValueLen] = '\0';
        if (memcmp(lab, prefix, plen) != 0)
            continue;
        pk->candidates++;
        if (pk->h == 0 || strcmp(lab, pk->label) < 0) {
            pk->h = found[i];
            memcpy(pk->label, lab, a.ulValueLen + 1);
        }
    }
    free(found);
    return CKR_OK;
}

/* The public half (same label) of the chosen root. */
static CK_RV find_pub(CK_SESSION_HANDLE s, const char *label, CK_OBJECT_HANDLE *pub)
{
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls },
                         { CKA_LABEL, (void *)label, strlen(label) } };
    CK_OBJECT_HANDLE *found = NULL;
    size_t n = 0;
    CK_RV rv = dep11_prov_find(s, t, 2, &found, &n);

    *pub = rv == CKR_OK && n > 0 ? found[0] : 0;
    free(found);
    return rv;
}

static CK_RV create_mac(CK_SESSION_HANDLE s, const char *label, CK_OBJECT_HANDLE *h)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_ULONG len = 32;
    CK_BBOOL t = CK_TRUE, f = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof cls }, { CKA_KEY_TYPE, &kt, sizeof kt },
        { CKA_VALUE_LEN, &len, sizeof len }, { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_TOKEN, &t, 1 }, { CKA_PRIVATE, &t, 1 }, { CKA_SENSITIVE, &t, 1 },
        { CKA_EXTRACTABLE, &f, 1 }, { CKA_SIGN, &t, 1 }, { CKA_VERIFY, &t, 1 },
        { CKA_ENCRYPT, &f, 1 }, { CKA_DECRYPT, &f, 1 }, { CKA_WRAP, &f, 1 },
        { CKA_UNWRAP, &f, 1 }, { CKA_DERIVE, &f, 1 },
    };
    CK_MECHANISM m = { CKM_GENERIC_SECRET_KEY_GEN, NULL, 0 };

    return dep11_hsm()->C_GenerateKey(s, &m, tmpl, sizeof tmpl / sizeof tmpl[0], h);
}

static CK_RV create_root(CK_SESSION_HANDLE s, const char *label, CK_OBJECT_HANDLE *pub,
                         CK_OBJECT_HANDLE *priv)
{
    CK_ULONG bits = dep11_prov_rsa_bits();
    CK_BYTE e[] = { 1, 0, 1 };
    CK_BBOOL t = CK_TRUE, f = CK_FALSE;
    CK_ATTRIBUTE pt[] = {
        { CKA_LABEL, (void *)label, strlen(label) }, { CKA_TOKEN, &t, 1 },
        { CKA_PRIVATE, &t, 1 }, { CKA_MODULUS_BITS, &bits, sizeof bits },
        { CKA_PUBLIC_EXPONENT, e, sizeof e }, { CKA_ENCRYPT, &t, 1 },
        { CKA_VERIFY, &f, 1 }, { CKA_VERIFY_RECOVER, &f, 1 }, { CKA_WRAP, &f, 1 },
        { CKA_DERIVE, &f, 1 },
    };
    CK_ATTRIBUTE vt[] = {
        { CKA_LABEL, (void *)label, strlen(label) }, { CKA_TOKEN, &t, 1 },
        { CKA_PRIVATE, &t, 1 }, { CKA_SENSITIVE, &t, 1 }, { CKA_EXTRACTABLE, &f, 1 },
        { CKA_DECRYPT, &t, 1 }, { CKA_SIGN, &f, 1 }, { CKA_SIGN_RECOVER, &f, 1 },
        { CKA_UNWRAP, &f, 1 }, { CKA_DERIVE, &f, 1 },
    };
    CK_MECHANISM m = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };

    return dep11_hsm()->C_GenerateKeyPair(s, &m, pt, sizeof pt / sizeof pt[0], vt,
                                          sizeof vt / sizeof vt[0], pub, priv);
}

/* The receipt signing key: ECDSA P-256, the private half signs only. */
static CK_RV create_sign(CK_SESSION_HANDLE s, const char *label, CK_OBJECT_HANDLE *pub,
                         CK_OBJECT_HANDLE *priv)
{
    static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
    CK_BBOOL t = CK_TRUE, f = CK_FALSE;
    CK_ATTRIBUTE pt[] = {
        { CKA_LABEL, (void *)label, strlen(label) }, { CKA_TOKEN, &t, 1 },
        { CKA_PRIVATE, &t, 1 }, { CKA_EC_PARAMS, (void *)p256, sizeof p256 },
        { CKA_VERIFY, &t, 1 }, { CKA_ENCRYPT, &f, 1 }, { CKA_VERIFY_RECOVER, &f, 1 },
        { CKA_WRAP, &f, 1 }, { CKA_DERIVE, &f, 1 },
    };
    CK_ATTRIBUTE vt[] = {
        { CKA_LABEL, (void *)label, strlen(label) }, { CKA_TOKEN, &t, 1 },
        { CKA_PRIVATE, &t, 1 }, { CKA_SENSITIVE, &t, 1 }, { CKA_EXTRACTABLE, &f, 1 },
        { CKA_SIGN, &t, 1 }, { CKA_DECRYPT, &f, 1 }, { CKA_SIGN_RECOVER, &f, 1 },
        { CKA_UNWRAP, &f, 1 }, { CKA_DERIVE, &f, 1 },
    };
    CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };

    return dep11_hsm()->C_GenerateKeyPair(s, &m, pt, sizeof pt / sizeof pt[0], vt,
                                          sizeof vt / sizeof vt[0], pub, priv);
}

static CK_RV create_mine(CK_SESSION_HANDLE s, struct pick *pk)
{
    uint8_t tag[TAG_HEX / 2];
    char suffix[TAG_HEX + 1];
    CK_RV rv = random_bytes(tag, sizeof tag);

    if (rv != CKR_OK)
        return rv;
    hex(suffix, tag, sizeof tag);
    (void)snprintf(pk->mine_label, sizeof pk->mine_label, "dep11-%s-%s",
                   purpose_name[pk->p], suffix);
    /* Twice on CKR_FUNCTION_FAILED: SoftHSM's file store answers that now
     * and then when two processes write the token at the same moment. */
    for (int i = 0; i < 2; i++) {
        if (pk->p == P_MAC)
            rv = create_mac(s, pk->mine_label, &pk->mine);
        else if (pk->p == P_SIGN)
            rv = create_sign(s, pk->mine_label, &pk->mine_pub, &pk->mine);
        else
            rv = create_root(s, pk->mine_label, &pk->mine_pub, &pk->mine);
        if (rv != CKR_FUNCTION_FAILED)
            break;
    }
    if (rv != CKR_OK) {
        LOG_ERROR("creating provider key %s: %s", pk->mine_label, dep11_rv_name(rv));
        pk->mine = pk->mine_pub = 0;
        return rv;
    }
    (void)dep11_prov_note(pk->mine);
    (void)dep11_prov_note(pk->mine_pub);
    LOG_INFO("created provider key %s", pk->mine_label);
    return CKR_OK;
}

/* Destroys our own key if another one won. */
static void drop_mine_if_lost(CK_SESSION_HANDLE s, struct pick *pk)
{
    if (pk->mine == 0 || pk->h == pk->mine)
        return;
    LOG_INFO("provider key %s lost the race to %s: destroying it", pk->mine_label,
             pk->label);
    (void)dep11_hsm()->C_DestroyObject(s, pk->mine);
    if (pk->mine_pub != 0)
        (void)dep11_hsm()->C_DestroyObject(s, pk->mine_pub);
    pk->mine = pk->mine_pub = 0;
}

static unsigned long now_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long)ts.tv_sec * 1000UL + (unsigned long)(ts.tv_nsec / 1000000L);
}

/* Makes every other process re-read the token's object list: creates and
 * destroys a data object. Why: SoftHSM's file store re-reads a token only
 * when its generation counter on disk differs from the one the process last
 * wrote, so of two processes that create at once, the one that writes second
 * never sees the first one's object until a third write (measured; see
 * OSToken::index / Generation::commit). */
static void bump(CK_SESSION_HANDLE s)
{
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL t = CK_TRUE;
    static const char label[] = "dep11-sync";
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_TOKEN, &t, 1 },
                            { CKA_PRIVATE, &t, 1 },
                            { CKA_LABEL, (void *)label, sizeof label - 1 } };
    CK_OBJECT_HANDLE h = 0;

    if (dep11_hsm()->C_CreateObject(s, tmpl, 4, &h) == CKR_OK) {
        (void)dep11_prov_note(h);
        (void)dep11_hsm()->C_DestroyObject(s, h);
    }
}

/* After our creation: keep looking for a window (at least WINDOW_MS, and
 * twice as long as the creation took, since a rival's creation may be as
 * slow); stop as soon as another key wins. A winner that sees rivals bumps
 * once, so that a rival blind to our key (see bump) re-reads and loses. */
static CK_RV settle(CK_SESSION_HANDLE s, struct pick *pk, unsigned long took)
{
    unsigned long end = now_ms() + (2 * took > WINDOW_MS ? 2 * took : WINDOW_MS);
    int bumped = 0;
    CK_RV rv = CKR_OK;

    do {
        dep11_hsm_sleep_ms(SETTLE_MS);
        rv = pick_smallest(s, pk);
        /* SoftHSM's file store may briefly list none of the keys (not even
         * ours) while a rival writes: only another key winning counts. */
        if (rv != CKR_OK || (pk->h != 0 && pk->h != pk->mine))
            break;
        if (pk->candidates > 1 && !bumped) {
            bump(s);
            bumped = 1;
        }
    } while (now_ms() < end);
    if (rv == CKR_OK && pk->h == 0) {
        pk->h = pk->mine;
        memcpy(pk->label, pk->mine_label, sizeof pk->label);
    }
    return rv;
}

/* DESIGN section 2: look; if none, create with a random tag and look again
 * (see settle); everyone keeps the smallest label and a loser destroys its
 * own before any use. What remains: a rival whose creation outlasts our
 * window and who cannot see our key; provisioning the provider keys once
 * before starting many processes (dep11-tool) avoids even that. */
static CK_RV ensure_fn(CK_SESSION_HANDLE s, void *arg)
{
    struct pick *pk = arg;
    unsigned long t0 = 0;
    CK_RV rv = pick_smallest(s, pk);

    if (rv == CKR_OK && pk->h == 0 && pk->mine == 0) {
        t0 = now_ms();
        rv = create_mine(s, pk);
        if (rv == CKR_OK)
            rv = settle(s, pk, now_ms() - t0);
        if (rv == CKR_OK)
            drop_mine_if_lost(s, pk);
    }
    if (rv == CKR_OK && pk->h == 0) {
        rv = CKR_KEY_HANDLE_INVALID;
        LOG_FAIL(rv, "no provider %s key after creation", purpose_name[pk->p]);
    }
    if (rv == CKR_OK && pk->p != P_MAC)
        rv = find_pub(s, pk->label, &pk->pub);
    return rv;
}

/* The handle for @p, from the cache or found/created. */
static CK_RV ensure(enum purpose p, CK_OBJECT_HANDLE *h)
{
    struct pick pk;
    CK_RV rv = CKR_GENERAL_ERROR;

    *h = cached(p);
    if (*h != 0)
        return CKR_OK;
    memset(&pk, 0, sizeof pk);
    pk.p = p;
    /* ---- locked: create_lock, across HSM calls (see above) ---- */
    dep11_lock(&create_lock);
    *h = cached(p);
    if (*h == 0) {
        rv = dep11_prov_run(ensure_fn, &pk);
        if (rv == CKR_OK) {
            cache_set(p, pk.h, pk.pub);
            *h = pk.h;
        }
    } else {
        rv = CKR_OK;
    }
    dep11_unlock(&create_lock);
    return rv;
}

/* Runs @fn with the key of @p in arg->key; a stale cached handle (object
 * destroyed, or handles dropped by the backend) is re-found once. */
struct keyed {
    CK_OBJECT_HANDLE key;
    void *arg;
};

static CK_RV with_key(enum purpose p, dep11_prov_fn fn, struct keyed *k)
{
    CK_RV rv = ensure(p, &k->key);
    int again = 1;

    while (rv == CKR_OK) {
        rv = dep11_prov_run(fn, k);
        if (!again || (rv != CKR_OBJECT_HANDLE_INVALID && rv != CKR_KEY_HANDLE_INVALID))
            break;
        again = 0;
        LOG_INFO("provider %s key handle %lu stale: finding it again",
                 purpose_name[p], (unsigned long)k->key);
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
    CK_RV rv = dep11_hsm()->C_SignInit(s, &m, k->key);

    if (rv == CKR_OK)
        rv = dep11_hsm()->C_Sign(s, (CK_BYTE_PTR)a->data, a->len, a->mac, &len);
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
    dep11_prov_pair_fn fn;
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
 * a stale handle is re-found once. Returns @fn's code or the creation's.
 */
CK_RV dep11_prov_with_sign_key(dep11_prov_pair_fn fn, void *arg)
{
    struct pair_arg a = { fn, arg };
    struct keyed k = { 0, &a };

    return with_key(P_SIGN, pair_fn, &k);
}
