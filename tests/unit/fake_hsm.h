/*
 * fake_hsm.h - a software test double of module/hsm (rsa.h and provider.h)
 * for the hier unit tests: customer root keys, provider roots, availability
 * keys and the provider MAC live in memory (OpenSSL), with knobs that make
 * any call answer a chosen CKR code.
 */
#ifndef DEP11_TEST_FAKE_HSM_H
#define DEP11_TEST_FAKE_HSM_H

#include <stddef.h>
#include <stdint.h>
#include <p11-kit/pkcs11.h>

#include "hsm/provider.h"
#include "hsm/rsa.h"
#include "hsm/provider_mark.h"
#include "hsm/provider_state.h"

#define FAKE_RSA_MAX 12
#define FAKE_AVAIL_MAX 32

/* One RSA key pair "on the token". */
struct fake_rsa {
    int used;
    void *pkey;                 /* EVP_PKEY * (shared with the key cache) */
    CK_OBJECT_HANDLE priv, pub;
    int priv_present;           /* 0: the private half is gone (revoked) */
    int registered;             /* a CKA_TRUSTED twin exists */
    CK_BBOOL sensitive, extractable, can_decrypt;
    CK_RV decrypt_rv;           /* CKR_OK: really decrypt; else answer this */
    uint8_t ckaid[DEP11_HSM_CKAID_MAX];
    size_t ckaid_len;
    unsigned decrypts;          /* decrypt calls that reached this key */
};

struct fake_avail {
    int used;
    uint8_t tag[16];
    uint8_t id[DEP11_AVAIL_ID_LEN];
    uint8_t key[32];
};

struct fake_hsm {
    struct fake_rsa rsa[FAKE_RSA_MAX];     /* the customer token */
    struct fake_rsa provider[2];           /* provider roots 1 and 2 */
    int provider_created[2];               /* provisioned (fake_hsm_provision) */
    struct fake_avail avail[FAKE_AVAIL_MAX];
    /* knobs: CKR_OK = behave */
    CK_RV worker_open_rv, find_rv, registered_rv, mac_rv;
    CK_RV provider_root_rv, avail_key_rv, avail_seal_rv, avail_open_rv;
    CK_RV state_commit_rv;                 /* provider_state.h commits */
    CK_RV mark_rv;                         /* provider_mark.h reads */
    int mark_have;                         /* the provider token has a change mark */
    uint8_t mark[DEP11_MARK_LEN];          /* its value (writes change it) */
    int tombstoned;                        /* every policy id carries a tombstone */
    unsigned state_gets, tomb_finds, mark_reads; /* provider look-ups */
    /* counters */
    unsigned sessions_open;                /* worker sessions not yet closed */
    unsigned sessions_total;
    unsigned provider_root_calls, avail_created, avail_opens, mac_calls;
    unsigned finds; /* dep11_hsm_rsa_find calls (searches) */
    unsigned reads; /* dep11_hsm_rsa_read calls (a remembered handle read again) */
    CK_SESSION_HANDLE next_session;
    CK_OBJECT_HANDLE next_handle;
};

/* A fresh fake (previous state dropped). Keys come from a per-process cache
 * of generated RSA keys, so tests stay fast. */
struct fake_hsm *fake_hsm_reset(void);

/* Provisions the fake provider token: provider roots 1 and 2 exist from now
 * on (as `dep11-tool provider init` makes them; the module never creates
 * them: dep11_provider_root on an unprovisioned fake is
 * CKR_KEY_HANDLE_INVALID). The MAC key is a fixed software key. */
void fake_hsm_provision(struct fake_hsm *h);

/* Drops the fake's state and frees the key cache (group teardown). */
void fake_hsm_release(void);

/* Adds a root key pair of @bits (1024, 2048 or 3072) with CKA_ID @ckaid,
 * sensitive, not extractable, may decrypt, registered. Returns its private
 * handle (the public one is +1), or CK_INVALID_HANDLE when full. */
CK_OBJECT_HANDLE fake_hsm_add_root(struct fake_hsm *h, unsigned bits, const char *ckaid);

/* The key of a private or public handle; NULL if none. */
struct fake_rsa *fake_hsm_root(struct fake_hsm *h, CK_OBJECT_HANDLE handle);

/* The provider MAC with its fixed software key (to re-MAC altered blobs). */
void fake_hsm_mac(const uint8_t *data, size_t len, uint8_t mac[32]);

/* Availability keys of @tag; destroying all of them simulates a purge. */
unsigned fake_hsm_avail_count(struct fake_hsm *h, const uint8_t tag[16]);
void fake_hsm_avail_destroy_all(struct fake_hsm *h, const uint8_t tag[16]);

/* RSA-OAEP encryption to root @handle's public key (tests craft copies). */
int fake_hsm_oaep_encrypt(struct fake_hsm *h, CK_OBJECT_HANDLE handle, const uint8_t *pt,
                          size_t pt_len, uint8_t *ct, size_t *ct_len);

/* Drops every binding and commit record of the double. */
void fake_hsm_state_reset(void);
/* Forgets the committed version of @tag (its binding stays): lets a test
 * wrap one fresh policy key again and again. */
void fake_hsm_state_uncommit(const uint8_t tag[16]);

#endif
