/*
 * fake_hsm.c - the in-memory test double of module/hsm/rsa.h and provider.h
 * (see fake_hsm.h). RSA with OpenSSL keys generated once per process and
 * reused; AES-GCM availability keys; HMAC-SHA256 with a fixed MAC key.
 * Answers follow SoftHSM's (DESIGN section 8): a bad OAEP copy or GCM tag is
 * CKR_GENERAL_ERROR, a missing key CKR_OBJECT_HANDLE_INVALID.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "fake_hsm.h"
#include "hsm/provider_mark.h"
#include "hsm/root_reg.h"

#define CACHE_PER_SIZE 8

static struct fake_hsm fake;
static int fake_used[3];   /* keys of each size handed out to this fake */
static EVP_PKEY *cache[3][CACHE_PER_SIZE];

static const uint8_t mac_key[32] = "dep11 fake provider MAC key 0001";

static int size_index(unsigned bits)
{
    return bits == 1024 ? 0 : bits == 2048 ? 1 : bits == 3072 ? 2 : -1;
}

/* The next cached key of @bits not yet used by this fake (generated once). */
static EVP_PKEY *next_key(unsigned bits)
{
    int i = size_index(bits);

    if (i < 0 || fake_used[i] >= CACHE_PER_SIZE)
        return NULL;
    if (cache[i][fake_used[i]] == NULL)
        cache[i][fake_used[i]] = EVP_RSA_gen(bits);
    return cache[i][fake_used[i]++];
}

struct fake_hsm *fake_hsm_reset(void)
{
    memset(&fake, 0, sizeof(fake));
    fake_hsm_state_reset();
    memset(fake_used, 0, sizeof(fake_used));
    dep11_hsm_own_sessions_forget();
    fake.next_session = 100;
    fake.next_handle = 1000;
    return &fake;
}

void fake_hsm_release(void)
{
    fake_hsm_reset();
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < CACHE_PER_SIZE; j++) {
            EVP_PKEY_free(cache[i][j]);
            cache[i][j] = NULL;
        }
}

static void init_rsa(struct fake_rsa *r, EVP_PKEY *k, const char *ckaid)
{
    memset(r, 0, sizeof(*r));
    r->used = 1;
    r->pkey = k;
    r->priv = fake.next_handle++;
    r->pub = fake.next_handle++;
    r->priv_present = 1;
    r->registered = 1;
    r->sensitive = CK_TRUE;
    r->extractable = CK_FALSE;
    r->can_decrypt = CK_TRUE;
    r->ckaid_len = ckaid != NULL ? strlen(ckaid) : 0;
    if (r->ckaid_len > sizeof(r->ckaid))
        r->ckaid_len = sizeof(r->ckaid);
    memcpy(r->ckaid, ckaid != NULL ? ckaid : "", r->ckaid_len);
}

CK_OBJECT_HANDLE fake_hsm_add_root(struct fake_hsm *h, unsigned bits, const char *ckaid)
{
    EVP_PKEY *k = NULL;

    for (int i = 0; i < FAKE_RSA_MAX; i++) {
        if (h->rsa[i].used)
            continue;
        if ((k = next_key(bits)) == NULL)
            return CK_INVALID_HANDLE;
        init_rsa(&h->rsa[i], k, ckaid);
        return h->rsa[i].priv;
    }
    return CK_INVALID_HANDLE;
}

struct fake_rsa *fake_hsm_root(struct fake_hsm *h, CK_OBJECT_HANDLE handle)
{
    for (int i = 0; i < FAKE_RSA_MAX; i++)
        if (h->rsa[i].used && (h->rsa[i].priv == handle || h->rsa[i].pub == handle))
            return &h->rsa[i];
    return NULL;
}

void fake_hsm_mac(const uint8_t *data, size_t len, uint8_t mac[32])
{
    unsigned int l = 32;

    HMAC(EVP_sha256(), mac_key, sizeof(mac_key), data, len, mac, &l);
}

/* Public numbers of @r into @out. */
static CK_RV fill_rsa(const struct fake_rsa *r, struct dep11_hsm_rsa *out)
{
    BIGNUM *n = NULL, *e = NULL;
    CK_RV rv = CKR_GENERAL_ERROR;

    memset(out, 0, sizeof(*out));
    if (!EVP_PKEY_get_bn_param(r->pkey, OSSL_PKEY_PARAM_RSA_N, &n) ||
        !EVP_PKEY_get_bn_param(r->pkey, OSSL_PKEY_PARAM_RSA_E, &e))
        goto out;
    out->mod_len = (size_t)BN_bn2bin(n, out->modulus);
    out->exp_len = (size_t)BN_bn2bin(e, out->exponent);
    out->priv = r->priv_present ? r->priv : CK_INVALID_HANDLE;
    memcpy(out->ckaid, r->ckaid, r->ckaid_len);
    out->ckaid_len = r->ckaid_len;
    out->sensitive = r->sensitive;
    out->extractable = r->extractable;
    out->can_decrypt = r->can_decrypt;
    rv = CKR_OK;
out:
    BN_free(n);
    BN_free(e);
    return rv;
}

static const EVP_MD *md_of(CK_MECHANISM_TYPE hash)
{
    return hash == CKM_SHA_1 ? EVP_sha1() : hash == CKM_SHA256 ? EVP_sha256() : NULL;
}

/* RSA-OAEP with @k: @enc 1 encrypt, 0 decrypt. 1 on success. */
static int oaep(EVP_PKEY *k, int enc, CK_MECHANISM_TYPE hash, const uint8_t *in,
                size_t in_len, uint8_t *out, size_t *out_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
    const EVP_MD *md = md_of(hash);
    int ok = ctx != NULL && md != NULL &&
             (enc ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx)) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1 &&
             (enc ? EVP_PKEY_encrypt(ctx, out, out_len, in, in_len)
                  : EVP_PKEY_decrypt(ctx, out, out_len, in, in_len)) == 1;

    EVP_PKEY_CTX_free(ctx);
    return ok;
}

int fake_hsm_oaep_encrypt(struct fake_hsm *h, CK_OBJECT_HANDLE handle, const uint8_t *pt,
                          size_t pt_len, uint8_t *ct, size_t *ct_len)
{
    struct fake_rsa *r = fake_hsm_root(h, handle);

    return r != NULL && oaep(r->pkey, 1, CKM_SHA256, pt, pt_len, ct, ct_len);
}

/* Decrypts as the HSM would: SoftHSM answers a bad copy CKR_GENERAL_ERROR. */
static CK_RV hsm_decrypt(struct fake_rsa *r, CK_MECHANISM_TYPE hash, const uint8_t *ct,
                         size_t ct_len, uint8_t *pt, size_t *pt_len)
{
    uint8_t buf[512];
    size_t n = sizeof(buf);

    r->decrypts++;
    if (r->decrypt_rv != CKR_OK)
        return r->decrypt_rv;
    if (!r->can_decrypt)
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    if (md_of(hash) == NULL)
        return CKR_MECHANISM_PARAM_INVALID;
    if (!oaep(r->pkey, 0, hash, ct, ct_len, buf, &n))
        return CKR_GENERAL_ERROR;
    if (n > *pt_len) {
        OPENSSL_cleanse(buf, sizeof(buf));
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(pt, buf, n);
    *pt_len = n;
    OPENSSL_cleanse(buf, sizeof(buf));
    return CKR_OK;
}

/* --- rsa.h ----------------------------------------------------------------- */

CK_RV dep11_hsm_worker_open(CK_SLOT_ID slot, CK_SESSION_HANDLE *out)
{
    (void)slot;
    if (fake.worker_open_rv != CKR_OK)
        return fake.worker_open_rv;
    *out = ++fake.next_session;
    fake.sessions_open++;
    fake.sessions_total++;
    return CKR_OK;
}

void dep11_hsm_worker_close(CK_SESSION_HANDLE s)
{
    if (s != CK_INVALID_HANDLE && fake.sessions_open > 0)
        fake.sessions_open--;
}

#define OWN_MAX 16
static CK_SESSION_HANDLE own[OWN_MAX];
static CK_SLOT_ID own_slot[OWN_MAX];

CK_RV dep11_hsm_own_session_add(CK_SESSION_HANDLE h, CK_SLOT_ID slot)
{
    for (int i = 0; i < OWN_MAX; i++)
        if (own[i] == CK_INVALID_HANDLE) {
            own[i] = h;
            own_slot[i] = slot;
            return CKR_OK;
        }
    return CKR_HOST_MEMORY;
}

void dep11_hsm_own_session_del(CK_SESSION_HANDLE h)
{
    for (int i = 0; i < OWN_MAX; i++)
        if (own[i] == h)
            own[i] = CK_INVALID_HANDLE;
}

CK_RV dep11_hsm_own_session_slot(CK_SESSION_HANDLE h, CK_SLOT_ID *slot)
{
    for (int i = 0; i < OWN_MAX; i++)
        if (h != CK_INVALID_HANDLE && own[i] == h) {
            *slot = own_slot[i];
            return CKR_OK;
        }
    return CKR_SESSION_HANDLE_INVALID;
}

void dep11_hsm_own_sessions_forget(void)
{
    memset(own, 0, sizeof(own));
}

/* Worker sessions are numbered above 100; the registry holds the others. */
int dep11_hsm_is_own_session(CK_SESSION_HANDLE h)
{
    CK_SLOT_ID slot = 0;

    return (h > 100 && h <= fake.next_session) ||
           dep11_hsm_own_session_slot(h, &slot) == CKR_OK;
}

CK_RV dep11_hsm_rsa_resolve(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, struct dep11_hsm_rsa *out)
{
    struct fake_rsa *r = fake_hsm_root(&fake, h);

    (void)s;
    if (r == NULL || !r->priv_present)
        return CKR_KEY_HANDLE_INVALID;
    return fill_rsa(r, out);
}

CK_RV dep11_hsm_rsa_registered(CK_SESSION_HANDLE s, const struct dep11_hsm_rsa *k,
                               int *registered)
{
    struct dep11_hsm_rsa mine;

    (void)s;
    *registered = 0;
    if (fake.registered_rv != CKR_OK)
        return fake.registered_rv;
    for (int i = 0; i < FAKE_RSA_MAX; i++) {
        if (!fake.rsa[i].used || fill_rsa(&fake.rsa[i], &mine) != CKR_OK)
            continue;
        if (mine.mod_len == k->mod_len && memcmp(mine.modulus, k->modulus, k->mod_len) == 0)
            *registered = fake.rsa[i].registered;
    }
    return CKR_OK;
}

/* Root registration by SO login (hsm/root_reg.h): the fake keeps no
 * records (the hier tests run the trusted-twin route). */
CK_RV dep11_provider_rootreg_find(const uint8_t ident[DEP11_TOKEN_IDENT_LEN],
                                  const uint8_t root_id[DEP11_ROOT_ID_LEN], int *present)
{
    (void)ident;
    (void)root_id;
    *present = 0;
    return CKR_OK;
}

CK_RV dep11_hsm_rsa_public_numbers(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                                   struct dep11_hsm_rsa *k, int *rsa)
{
    struct fake_rsa *r = fake_hsm_root(&fake, h);

    (void)s;
    *rsa = r != NULL && fill_rsa(r, k) == CKR_OK;
    return CKR_OK;
}

CK_RV dep11_hsm_rsa_in_registered_root(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, int *yes)
{
    struct dep11_hsm_rsa k;
    int rsa = 0;

    *yes = 0;
    (void)dep11_hsm_rsa_public_numbers(s, h, &k, &rsa);
    return rsa ? dep11_hsm_rsa_registered(s, &k, yes) : CKR_OK;
}

CK_RV dep11_hsm_rsa_find(CK_SESSION_HANDLE s, const uint8_t *hint, size_t hint_len,
                         struct dep11_hsm_rsa *out, size_t cap, size_t *n)
{
    (void)s;
    *n = 0;
    fake.finds++;
    if (fake.find_rv != CKR_OK)
        return fake.find_rv;
    for (int pass = hint_len != 0 ? 0 : 1; pass < 2 && *n == 0; pass++)
        for (int i = 0; i < FAKE_RSA_MAX && *n < cap; i++) {
            struct fake_rsa *r = &fake.rsa[i];
            if (!r->used || !r->priv_present)
                continue;
            if (pass == 0 && (r->ckaid_len != hint_len || memcmp(r->ckaid, hint, hint_len)))
                continue;
            if (fill_rsa(r, &out[*n]) == CKR_OK)
                (*n)++;
        }
    return CKR_OK;
}

/* A look-up fault (find_rv) fails the read of a remembered handle too. */
CK_RV dep11_hsm_rsa_read(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, struct dep11_hsm_rsa *out)
{
    struct fake_rsa *r = fake_hsm_root(&fake, h);

    (void)s;
    fake.reads++;
    if (fake.find_rv != CKR_OK)
        return fake.find_rv;
    if (r == NULL || r->priv != h || !r->priv_present)
        return CKR_KEY_HANDLE_INVALID;
    return fill_rsa(r, out);
}

CK_RV dep11_hsm_rsa_decrypt(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, CK_MECHANISM_TYPE hash,
                            const uint8_t *ct, size_t ct_len, uint8_t *pt, size_t *pt_len)
{
    struct fake_rsa *r = fake_hsm_root(&fake, priv);

    (void)s;
    if (r == NULL || r->priv != priv || !r->priv_present)
        return CKR_OBJECT_HANDLE_INVALID;
    return hsm_decrypt(r, hash, ct, ct_len, pt, pt_len);
}

/* --- provider.h ------------------------------------------------------------ */

CK_RV dep11_provider_open(const struct dep11_config *cfg)
{
    (void)cfg;
    return CKR_OK;
}

void dep11_provider_close(void)
{
}

void dep11_provider_forget(void)
{
}

int dep11_provider_is_slot(CK_SLOT_ID slot)
{
    return slot == 99;
}

CK_RV dep11_provider_mac(const uint8_t *data, size_t len, uint8_t mac[32])
{
    fake.mac_calls++;
    if (fake.mac_rv != CKR_OK)
        return fake.mac_rv;
    fake_hsm_mac(data, len, mac);
    return CKR_OK;
}

void fake_hsm_provision(struct fake_hsm *h)
{
    EVP_PKEY *k = NULL;

    for (int n = 0; n < 2; n++) {
        if (h->provider_created[n])
            continue;
        k = next_key(2048);
        assert(k != NULL);
        init_rsa(&h->provider[n], k, n == 0 ? "dep11-provider-1" : "dep11-provider-2");
        h->provider_created[n] = 1;
    }
}

CK_RV dep11_provider_root(int n, struct dep11_hsm_rsa *out)
{
    if (n < 1 || n > 2)
        return CKR_ARGUMENTS_BAD;
    fake.provider_root_calls++;
    if (fake.provider_root_rv != CKR_OK)
        return fake.provider_root_rv;
    if (!fake.provider_created[n - 1])
        return CKR_KEY_HANDLE_INVALID;  /* not provisioned: never created here */
    return fill_rsa(&fake.provider[n - 1], out);
}

CK_RV dep11_provider_root_decrypt(int n, CK_MECHANISM_TYPE hash, const uint8_t *ct,
                                  size_t ct_len, uint8_t *pt, size_t *pt_len)
{
    if (n < 1 || n > 2)
        return CKR_ARGUMENTS_BAD;
    if (!fake.provider_created[n - 1])
        return CKR_KEY_HANDLE_INVALID;
    return hsm_decrypt(&fake.provider[n - 1], hash, ct, ct_len, pt, pt_len);
}

static struct fake_avail *avail_by_id(const uint8_t *id, size_t id_len)
{
    for (int i = 0; i < FAKE_AVAIL_MAX; i++)
        if (fake.avail[i].used && id_len == DEP11_AVAIL_ID_LEN &&
            memcmp(fake.avail[i].id, id, id_len) == 0)
            return &fake.avail[i];
    return NULL;
}

/* The fake holds AES availability keys only (RSA ones: integration tests). */
CK_RV dep11_provider_avail_rsa_public(const uint8_t *key_id, size_t key_id_len,
                                      struct dep11_hsm_rsa *out)
{
    (void)key_id, (void)key_id_len, (void)out;
    return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV dep11_provider_avail_rsa_open(const uint8_t *key_id, size_t key_id_len,
                                    CK_MECHANISM_TYPE hash, const uint8_t *ct, size_t ct_len,
                                    uint8_t *pt, size_t *pt_len)
{
    (void)key_id, (void)key_id_len, (void)hash, (void)ct, (void)ct_len, (void)pt, (void)pt_len;
    return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV dep11_provider_avail_key(const uint8_t tag[16], int fresh, CK_ULONG rsa_bits,
                               uint8_t key_id[DEP11_AVAIL_ID_LEN])
{
    struct fake_avail *best = NULL;

    if (rsa_bits != 0)
        return CKR_FUNCTION_NOT_SUPPORTED;
    if (fake.avail_key_rv != CKR_OK)
        return fake.avail_key_rv;
    for (int i = 0; !fresh && i < FAKE_AVAIL_MAX; i++)
        if (fake.avail[i].used && memcmp(fake.avail[i].tag, tag, 16) == 0 &&
            (best == NULL || memcmp(fake.avail[i].id, best->id, DEP11_AVAIL_ID_LEN) < 0))
            best = &fake.avail[i];
    for (int i = 0; best == NULL && i < FAKE_AVAIL_MAX; i++)
        if (!fake.avail[i].used) {
            best = &fake.avail[i];
            best->used = 1;
            memcpy(best->tag, tag, 16);
            memcpy(best->id, tag, 16);
            RAND_bytes(best->id + 16, DEP11_AVAIL_ID_LEN - 16);
            RAND_bytes(best->key, sizeof(best->key));
            fake.avail_created++;
        }
    if (best == NULL)
        return CKR_DEVICE_MEMORY;
    memcpy(key_id, best->id, DEP11_AVAIL_ID_LEN);
    return CKR_OK;
}

/* AES-256-GCM with a 12-byte IV and 16-byte tag; 1 on success. */
static int gcm(int enc, const uint8_t *key, const uint8_t *iv, const uint8_t *aad,
               size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int l = 0, ok = ctx != NULL &&
                    EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv, enc) == 1 &&
                    EVP_CipherUpdate(ctx, NULL, &l, aad, (int)aad_len) == 1 &&
                    EVP_CipherUpdate(ctx, out, &l, in, (int)len) == 1;

    if (ok && !enc)
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, (void *)tag) == 1;
    ok = ok && EVP_CipherFinal_ex(ctx, out + len, &l) == 1;
    if (ok && enc)
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

CK_RV dep11_provider_avail_seal(const uint8_t *key_id, size_t key_id_len, const uint8_t *aad,
                                size_t aad_len, const uint8_t *pt, size_t pt_len, uint8_t *out,
                                size_t *out_len)
{
    struct fake_avail *a = avail_by_id(key_id, key_id_len);

    if (fake.avail_seal_rv != CKR_OK)
        return fake.avail_seal_rv;
    if (a == NULL)
        return CKR_KEY_HANDLE_INVALID;
    if (*out_len < pt_len + 28)
        return CKR_BUFFER_TOO_SMALL;
    RAND_bytes(out, 12);
    if (!gcm(1, a->key, out, aad, aad_len, pt, pt_len, out + 12, out + 12 + pt_len))
        return CKR_GENERAL_ERROR;
    *out_len = pt_len + 28;
    return CKR_OK;
}

CK_RV dep11_provider_avail_open(const uint8_t *key_id, size_t key_id_len, const uint8_t *aad,
                                size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *pt,
                                size_t *pt_len)
{
    struct fake_avail *a = avail_by_id(key_id, key_id_len);
    uint8_t tag[16];

    fake.avail_opens++;
    if (fake.avail_open_rv != CKR_OK)
        return fake.avail_open_rv;
    if (a == NULL)
        return CKR_KEY_HANDLE_INVALID;
    if (in_len < 28)
        return CKR_ENCRYPTED_DATA_LEN_RANGE;
    if (*pt_len < in_len - 28)
        return CKR_BUFFER_TOO_SMALL;
    memcpy(tag, in + in_len - 16, 16);
    if (!gcm(0, a->key, in, aad, aad_len, in + 12, in_len - 28, pt, tag)) {
        OPENSSL_cleanse(pt, in_len - 28);
        return CKR_GENERAL_ERROR;
    }
    *pt_len = in_len - 28;
    return CKR_OK;
}

CK_RV dep11_provider_avail_destroy(const uint8_t tag[16], const uint8_t *keep, size_t keep_len,
                                   unsigned *destroyed)
{
    *destroyed = 0;
    for (int i = 0; i < FAKE_AVAIL_MAX; i++) {
        struct fake_avail *a = &fake.avail[i];
        if (!a->used || memcmp(a->tag, tag, 16) != 0)
            continue;
        if (keep != NULL && keep_len == DEP11_AVAIL_ID_LEN && memcmp(a->id, keep, keep_len) == 0)
            continue;
        OPENSSL_cleanse(a, sizeof(*a));
        (*destroyed)++;
    }
    return CKR_OK;
}

CK_RV dep11_provider_avail_drop(const uint8_t key_id[DEP11_AVAIL_ID_LEN])
{
    struct fake_avail *a = avail_by_id(key_id, DEP11_AVAIL_ID_LEN);

    if (a != NULL)
        OPENSSL_cleanse(a, sizeof(*a));
    return CKR_OK;
}

unsigned fake_hsm_avail_count(struct fake_hsm *h, const uint8_t tag[16])
{
    unsigned n = 0;

    for (int i = 0; i < FAKE_AVAIL_MAX; i++)
        n += h->avail[i].used && memcmp(h->avail[i].tag, tag, 16) == 0;
    return n;
}

void fake_hsm_avail_destroy_all(struct fake_hsm *h, const uint8_t tag[16])
{
    unsigned n = 0;

    (void)h;
    (void)dep11_provider_avail_destroy(tag, NULL, 0, &n);
}

/* Purge tombstones (hsm/provider.h): the hier unit tests never purge (the
 * purge is tested through SoftHSM, tests/integration/test_lifecycle), so
 * no policy id of this double carries one. */
CK_RV dep11_provider_tombstone_find(const uint8_t policy_id[16], uint8_t *value,
                                    size_t *value_len, int *present)
{
    (void)value;
    (void)value_len;
    if (policy_id == NULL || present == NULL)
        return CKR_ARGUMENTS_BAD;
    fake.tomb_finds++;
    *present = fake.tombstoned;
    return CKR_OK;
}

/* The provider token's change mark (hsm/provider_mark.h). */
CK_RV dep11_provider_mark_read(uint8_t mark[DEP11_MARK_LEN], int *have)
{
    fake.mark_reads++;
    *have = 0;
    if (fake.mark_rv != CKR_OK)
        return fake.mark_rv;
    memcpy(mark, fake.mark, DEP11_MARK_LEN);
    *have = fake.mark_have;
    return CKR_OK;
}

/* A record written through this double: the mark changes, as the real
 * writers set it. */
static void mark_written(void)
{
    fake.mark[0]++;
    if (fake.mark[0] == 0)
        fake.mark[1]++;
}

/* Consumer token identities and provider state records (hsm/provider_state.h):
 * the token of slot N is "fake token N"; records live in a small table. */
#define FAKE_STATE_MAX 64
static struct {
    int used;
    uint8_t tag[16];
    struct dep11_tag_state st;
} fake_state[FAKE_STATE_MAX];

void fake_hsm_state_reset(void)
{
    memset(fake_state, 0, sizeof fake_state);
}

CK_RV dep11_hsm_token_ident(CK_SLOT_ID slot, uint8_t ident[DEP11_TOKEN_IDENT_LEN])
{
    char serial[DEP11_TOKEN_SERIAL_LEN + 1];

    memset(ident, ' ', DEP11_TOKEN_IDENT_LEN);
    memcpy(ident, "fake", 4);
    dep11_hsm_token_serial(slot, serial);
    memcpy(ident + 48, serial, strlen(serial));
    return CKR_OK;
}

void dep11_hsm_token_serial(CK_SLOT_ID slot, char out[DEP11_TOKEN_SERIAL_LEN + 1])
{
    snprintf(out, DEP11_TOKEN_SERIAL_LEN + 1, "fake%lu", (unsigned long)slot);
}

static struct dep11_tag_state *state_of(const uint8_t tag[16], int create)
{
    int free_slot = -1;

    for (int i = 0; i < FAKE_STATE_MAX; i++) {
        if (fake_state[i].used && memcmp(fake_state[i].tag, tag, 16) == 0)
            return &fake_state[i].st;
        if (!fake_state[i].used && free_slot < 0)
            free_slot = i;
    }
    if (!create || free_slot < 0)
        return NULL;
    fake_state[free_slot].used = 1;
    memcpy(fake_state[free_slot].tag, tag, 16);
    return &fake_state[free_slot].st;
}

CK_RV dep11_provider_state_get(const uint8_t tag[16], struct dep11_tag_state *st)
{
    const struct dep11_tag_state *s = state_of(tag, 0);

    fake.state_gets++;
    memset(st, 0, sizeof *st);
    if (s != NULL)
        *st = *s;
    return CKR_OK;
}

CK_RV dep11_provider_state_bind(const uint8_t tag[16], const uint8_t binding[DEP11_BINDING_LEN],
                                struct dep11_tag_state *st)
{
    struct dep11_tag_state *s = state_of(tag, 1);

    if (s == NULL)
        return CKR_DEVICE_MEMORY;
    if (!s->bound) {
        mark_written();
        s->bound = 1;
        memcpy(s->binding, binding, DEP11_BINDING_LEN);
    }
    *st = *s;
    return CKR_OK;
}

void fake_hsm_state_uncommit(const uint8_t tag[16])
{
    struct dep11_tag_state *s = state_of(tag, 0);

    if (s != NULL) {
        s->number = 0;
        memset(s->digest, 0, sizeof s->digest);
    }
}

CK_RV dep11_provider_state_commit(const uint8_t tag[16], uint64_t number,
                                  const uint8_t digest[DEP11_COMMIT_DIGEST_LEN])
{
    struct dep11_tag_state *s = state_of(tag, 1);

    if (fake.state_commit_rv != CKR_OK)
        return fake.state_commit_rv;
    if (s == NULL)
        return CKR_DEVICE_MEMORY;
    if (s->number < number) {
        mark_written();
        s->number = number;
        memcpy(s->digest, digest, DEP11_COMMIT_DIGEST_LEN);
    }
    return s->number == number && memcmp(s->digest, digest, DEP11_COMMIT_DIGEST_LEN) == 0
               ? CKR_OK : CKR_FUNCTION_REJECTED;
}
