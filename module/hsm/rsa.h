/*
 * rsa.h - RSA root keys on a customer token, through sessions of dep11's own
 * (worker sessions: the consumer's session may have an operation active).
 * The module never asks for a private key's value.
 */
#ifndef DEP11_HSM_RSA_H
#define DEP11_HSM_RSA_H

#include <stddef.h>
#include <stdint.h>
#include <p11-kit/pkcs11.h>
#include "hsm/own_sessions.h" /* worker sessions */

#define DEP11_HSM_RSA_MOD_MAX 512
#define DEP11_HSM_CKAID_MAX 64

/* What dep11 knows of one RSA root. */
struct dep11_hsm_rsa {
    CK_OBJECT_HANDLE priv;      /* the private key; CK_INVALID_HANDLE if absent */
    uint8_t modulus[DEP11_HSM_RSA_MOD_MAX];
    size_t mod_len;
    uint8_t exponent[16];
    size_t exp_len;
    uint8_t ckaid[DEP11_HSM_CKAID_MAX]; /* CKA_ID of the private key (hint) */
    size_t ckaid_len;
    CK_BBOOL sensitive;         /* CKA_SENSITIVE of the private key */
    CK_BBOOL extractable;       /* CKA_EXTRACTABLE of the private key */
    CK_BBOOL can_decrypt;       /* CKA_DECRYPT of the private key */
};

/* Resolves @h (an RSA private or public key object) to the RSA private key
 * with the same modulus on the session's token; fills @out.
 * CKR_OK; CKR_KEY_HANDLE_INVALID (no such object, or not an RSA key);
 * CKR_KEY_HANDLE_INVALID with out->priv = CK_INVALID_HANDLE is never
 * returned: a public key without its private half is CKR_KEY_HANDLE_INVALID. */
CK_RV dep11_hsm_rsa_resolve(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                            struct dep11_hsm_rsa *out);

/* Is there a public-key object with @k's modulus and CKA_TRUSTED=TRUE on the
 * session's token? *@registered = 1/0. CKR_OK or the backend's error. */
CK_RV dep11_hsm_rsa_registered(CK_SESSION_HANDLE s, const struct dep11_hsm_rsa *k,
                               int *registered);

/* Is RSA key object @h (a private key, a public key, or a registered twin)
 * part of a registered root: is there a public-key object with its modulus
 * and CKA_TRUSTED=TRUE on the session's token? *@yes = 1/0. An object that
 * is gone or has no readable modulus (not an RSA key, or one over
 * DEP11_HSM_RSA_MOD_MAX bytes) is not (*@yes = 0, CKR_OK). Backend codes
 * when the question cannot be answered. */
CK_RV dep11_hsm_rsa_in_registered_root(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, int *yes);

/* Lists RSA private keys on the session's token into @out (capacity @cap);
 * with a non-empty @hint, first those whose CKA_ID equals @hint, and only if
 * none match, all of them. *@n gets the count (0 = none: "denied"). */
CK_RV dep11_hsm_rsa_find(CK_SESSION_HANDLE s, const uint8_t *hint, size_t hint_len,
                         struct dep11_hsm_rsa *out, size_t cap, size_t *n);

/* Reads key @h into @out as dep11_hsm_rsa_find lists a key (one
 * C_GetAttributeValue, which also proves it an RSA private key): the
 * check of a handle remembered from an earlier search. CKR_OK;
 * CKR_KEY_HANDLE_INVALID (gone, or not an RSA private key);
 * CKR_KEY_SIZE_RANGE; backend codes. */
CK_RV dep11_hsm_rsa_read(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, struct dep11_hsm_rsa *out);

/* RSA-OAEP decryption in the HSM (C_DecryptInit/C_Decrypt, MGF1 with the
 * same hash, no label). @hash: CKM_SHA_1 or CKM_SHA256. @pt capacity in
 * *@pt_len. Returns the backend's code untouched (classify it), after one
 * retry on a fresh worker session when the session was lost. */
CK_RV dep11_hsm_rsa_decrypt(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv,
                            CK_MECHANISM_TYPE hash, const uint8_t *ct,
                            size_t ct_len, uint8_t *pt, size_t *pt_len);

/* The RSA public keys on the token of session @s (@trusted_only: only the
 * CKA_TRUSTED=TRUE ones, i.e. registered roots), modulus and exponent into
 * @out (capacity @cap), *@n of them. (The registration
 * evidence of a customer token; rsa_public.c.) */
CK_RV dep11_hsm_rsa_public_list(CK_SESSION_HANDLE s, int trusted_only,
                                struct dep11_hsm_rsa *out, size_t cap, size_t *n);

#endif
