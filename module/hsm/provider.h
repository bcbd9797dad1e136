/*
 * provider.h - dep11's own token: provider root keys, the provider MAC key,
 * availability keys (one or more per 16-byte tag; hier uses the policy id).
 * Only dep11 logs in to it; it is hidden from consumers. Operations take a session from
 * a small pool (no global lock held across an HSM call).
 * Keys are found by CKA_LABEL/CKA_ID, never by stored handles across
 * processes. The provider keys (roots, MAC key, receipt signing key) are
 * never created here: `dep11-tool provider init` provisions them with the
 * labels of include/dep11-provider.h (DESIGN section 2, "Provisioning").
 * Keys dep11 creates (availability keys) are sensitive, never extractable,
 * CKA_TOKEN=TRUE, with every usage attribute set explicitly (SoftHSM
 * defaults them to TRUE), and never CKA_DERIVE.
 */
#ifndef DEP11_HSM_PROVIDER_H
#define DEP11_HSM_PROVIDER_H

#include <stddef.h>
#include <stdint.h>
#include <p11-kit/pkcs11.h>
#include "hsm/rsa.h"
#include "util/config.h"

#define DEP11_AVAIL_ID_LEN 24 /* CKA_ID of an availability key: tag(16) || random(8) */

/* Finds the provider token (label or pkcs11: URI in cfg->provider_token),
 * reads the PIN from cfg->provider_pin, opens the session pool, logs in and
 * finds the provider keys. CKR_OK; CKR_TOKEN_NOT_PRESENT (no such token:
 * logged); CKR_PIN_INCORRECT; CKR_FUNCTION_FAILED (PIN source unreadable;
 * the setting matches more than one token; the token is not provisioned:
 * one log line each); backend codes. */
CK_RV dep11_provider_open(const struct dep11_config *cfg);

/* Closes dep11's provider sessions (logging out). Safe when not open. */
void dep11_provider_close(void);

/* In a forked child: forget the parent's sessions without closing them. */
void dep11_provider_forget(void);

/* The provider token's slot; is @slot it? */
int dep11_provider_is_slot(CK_SLOT_ID slot);

/* Is the token label @label (32 bytes, blank padded as in C_InitToken) the
 * open provider token's label? Trailing blanks (and NULs) are ignored on
 * both sides. 0 when the provider is not open. */
int dep11_provider_is_label(const CK_UTF8CHAR *label);

/* HMAC-SHA256 of @data with the provider MAC key (provisioned, found by
 * label). CKR_OK or a backend code. */
CK_RV dep11_provider_mac(const uint8_t *data, size_t len, uint8_t mac[32]);

/* Provider root @n (1 or 2), a provisioned RSA key pair found by label.
 * Fills @out (priv + public numbers). */
CK_RV dep11_provider_root(int n, struct dep11_hsm_rsa *out);

/* RSA-OAEP decryption with provider root @n. Backend code untouched. */
CK_RV dep11_provider_root_decrypt(int n, CK_MECHANISM_TYPE hash, const uint8_t *ct,
                                  size_t ct_len, uint8_t *pt, size_t *pt_len);

/* The availability key for @tag of one type: @rsa_bits 0 an AES-256 key,
 * else an RSA key pair of that size (the profile's "availability-key" and
 * "availability-rsa-bits"). With @fresh=0 the existing one of that type
 * (smallest CKA_ID if several), created if none; with @fresh=1 always a new
 * one. @key_id gets its CKA_ID (DEP11_AVAIL_ID_LEN bytes). */
CK_RV dep11_provider_avail_key(const uint8_t tag[16], int fresh, CK_ULONG rsa_bits,
                               uint8_t key_id[DEP11_AVAIL_ID_LEN]);

/* The RSA availability key with CKA_ID @key_id: its public numbers (hier
 * encrypts the RSA-OAEP copy with them). CKR_KEY_HANDLE_INVALID when none. */
CK_RV dep11_provider_avail_rsa_public(const uint8_t *key_id, size_t key_id_len,
                                      struct dep11_hsm_rsa *out);

/* RSA-OAEP decryption (@hash CKM_SHA_1 / CKM_SHA256, MGF1 alike, no label)
 * in the HSM with the RSA availability key @key_id. CKR_KEY_HANDLE_INVALID
 * when the key is gone; otherwise the backend's code untouched (classify). */
CK_RV dep11_provider_avail_rsa_open(const uint8_t *key_id, size_t key_id_len,
                                    CK_MECHANISM_TYPE hash, const uint8_t *ct, size_t ct_len,
                                    uint8_t *pt, size_t *pt_len);

/* AES-256-GCM in the HSM with the availability key @key_id: @out gets
 * nonce(12) || ct(pt_len) || tag(16); *@out_len its length (capacity in).
 * CKR_OK; CKR_KEY_HANDLE_INVALID when no such key; backend codes. */
CK_RV dep11_provider_avail_seal(const uint8_t *key_id, size_t key_id_len,
                                const uint8_t *aad, size_t aad_len,
                                const uint8_t *pt, size_t pt_len,
                                uint8_t *out, size_t *out_len);

/* The reverse; CKR_KEY_HANDLE_INVALID when the key is gone (destroyed);
 * the backend's code for a bad tag (classify it). */
CK_RV dep11_provider_avail_open(const uint8_t *key_id, size_t key_id_len,
                                const uint8_t *aad, size_t aad_len,
                                const uint8_t *in, size_t in_len,
                                uint8_t *pt, size_t *pt_len);

/* Destroys every availability key of @tag (either type, both halves of a
 * pair) except @keep (NULL: all).
 * *@destroyed gets the count. */
CK_RV dep11_provider_avail_destroy(const uint8_t tag[16], const uint8_t *keep,
                                   size_t keep_len, unsigned *destroyed);

/* Destroys the one availability key (both halves of a pair) with CKA_ID @key_id: a fresh key that
 * no blob names (a roll that failed before its blob existed). CKR_OK when
 * it is gone, also when it was gone already; backend codes. */
CK_RV dep11_provider_avail_drop(const uint8_t key_id[DEP11_AVAIL_ID_LEN]);

/* --- tombstones (provider_tombstone.c) and the receipt signing key
 *     (provider_sign.c) ------------------------------------------------ */
#define DEP11_TOMBSTONE_MAX 4096  /* largest receipt a tombstone holds */
#define DEP11_EC_POINT_LEN 65     /* uncompressed P-256 point: 04 || X || Y */
#define DEP11_EC_SIG_LEN 64       /* CKM_ECDSA output on P-256: r || s */

/* The tombstone for id @id: a CKO_DATA token object on the provider
 * token (CKA_APPLICATION "dep11", CKA_LABEL "dep11-tombstone-<hex id>",
 * CKA_MODIFIABLE=FALSE, CKA_VALUE = the signed receipt). With @value NULL
 * only *@present is filled (one search); else the receipt is copied to
 * @value (capacity in *@value_len, length out; CKR_BUFFER_TOO_SMALL).
 * Should two writers have raced, every process picks the same value. */
CK_RV dep11_provider_tombstone_find(const uint8_t id[16], uint8_t *value,
                                    size_t *value_len, int *present);

/* Writes the tombstone for id @id holding @receipt, unless one exists
 * (then nothing is written: CKR_OK). */
CK_RV dep11_provider_tombstone_write(const uint8_t id[16], const uint8_t *receipt,
                                     size_t len);

#define DEP11_SIGN_MAX 512 /* longest raw receipt signature: RSA-4096 PSS */

/* The receipt signing key's public half (provider_sign.c). */
struct dep11_sign_public {
    CK_KEY_TYPE type;                       /* CKK_EC (P-256) or CKK_RSA */
    uint8_t point[DEP11_EC_POINT_LEN];      /* CKK_EC: 04 || X || Y */
    uint8_t modulus[DEP11_HSM_RSA_MOD_MAX]; /* CKK_RSA: big-endian */
    size_t mod_len;
    uint8_t exponent[16];
    size_t exp_len;
};

/* The kind of receipt signing key the profile asks for: CKK_RSA with
 * receipt-signature = rsa-pss, else CKK_EC (also with no backend loaded).
 * provider_keys.c looks for a key of this type. */
CK_KEY_TYPE dep11_provider_sign_key_type(void);

/* The public half of the receipt signing key (on the provider token;
 * private half sensitive, never extractable, CKA_SIGN only; provisioned,
 * found by label). */
CK_RV dep11_provider_sign_public(struct dep11_sign_public *out);

/* Signs @digest (a SHA-256 the caller computed) with the receipt signing
 * key: CKM_ECDSA (@sig gets r || s) or CKM_RSA_PKCS_PSS with SHA-256,
 * MGF1-SHA256, salt 32 (@sig gets the signature). *@type gets the key's
 * kind; @sig's capacity in *@sig_len (at least DEP11_EC_SIG_LEN), length out. */
CK_RV dep11_provider_sign(const uint8_t digest[32], CK_KEY_TYPE *type, uint8_t *sig,
                          size_t *sig_len);

#endif
