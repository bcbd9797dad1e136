/*
 * crypto.h - OpenSSL 3 EVP helpers: AES-256-GCM (one-shot and streaming),
 * NIST SP 800-108 KBKDF (counter mode, HMAC-SHA256), SHA-256, RSA-OAEP
 * encryption with a public key, SPKI identities, randomness.
 * Never calls the HSM. Every function returns a CK_RV:
 * CKR_OK, CKR_ARGUMENTS_BAD (bad sizes), CKR_HOST_MEMORY,
 * CKR_ENCRYPTED_DATA_INVALID (a GCM tag that fails), CKR_FUNCTION_FAILED
 * (OpenSSL refused; logged).
 */
#ifndef DEP11_CRYPTO_H
#define DEP11_CRYPTO_H

#include <stddef.h>
#include <stdint.h>
#include <p11-kit/pkcs11.h>

#define DEP11_SHA256_LEN 32
#define DEP11_RSA_MAX_BYTES 512 /* RSA-4096 */

/* --- randomness -------------------------------------------------------- */
CK_RV dep11_random(uint8_t *buf, size_t n);

/* --- hashes and comparisons --------------------------------------------- */
CK_RV dep11_sha256(const uint8_t *data, size_t len, uint8_t out[DEP11_SHA256_LEN]);
/* Constant-time equality of two n-byte buffers: 1 equal, 0 not. */
int dep11_ct_equal(const void *a, const void *b, size_t n);

/* --- KBKDF ---------------------------------------------------------------
 * SP 800-108 counter mode, PRF HMAC-SHA256, 32-bit counter before the fixed
 * data, fixed data = label || 0x00 || context || [L]32 (OpenSSL "KBKDF"
 * defaults, the same as Python cryptography's KBKDFHMAC with rlen=4, llen=4,
 * location BeforeFixed). @label is a NUL-terminated ASCII string. */
CK_RV dep11_kbkdf(const uint8_t *key, size_t key_len, const char *label,
                  const uint8_t *context, size_t context_len,
                  uint8_t *out, size_t out_len);

/* --- AES-256-GCM --------------------------------------------------------- */
/* One-shot seal: @ct gets @len bytes, @tag 16. @key is 32 bytes. */
CK_RV dep11_gcm_seal(const uint8_t *key, const uint8_t *iv, size_t iv_len,
                     const uint8_t *aad, size_t aad_len,
                     const uint8_t *pt, size_t len, uint8_t *ct, uint8_t *tag);
/* One-shot open; CKR_ENCRYPTED_DATA_INVALID on a bad tag, and then @pt is
 * cleansed. @tag_len 4..16. */
CK_RV dep11_gcm_open(const uint8_t *key, const uint8_t *iv, size_t iv_len,
                     const uint8_t *aad, size_t aad_len,
                     const uint8_t *ct, size_t len,
                     const uint8_t *tag, size_t tag_len, uint8_t *pt);

/* Streaming GCM over a reusable context (one per operation, or reused by
 * the next after dep11_gcm_park; the cipher is fetched once per process). */
struct dep11_gcm;
CK_RV dep11_gcm_new(struct dep11_gcm **out);
void dep11_gcm_free(struct dep11_gcm *g); /* NULL ok; cleanses */
/* Between messages: wipes the key schedule and the last message's state
 * but keeps the context for the next dep11_gcm_start. NULL ok. */
void dep11_gcm_park(struct dep11_gcm *g);
CK_RV dep11_gcm_start(struct dep11_gcm *g, int encrypt, const uint8_t *key,
                      const uint8_t *iv, size_t iv_len,
                      const uint8_t *aad, size_t aad_len);
/* Processes @len bytes; @out gets exactly @len bytes. */
CK_RV dep11_gcm_update(struct dep11_gcm *g, const uint8_t *in, size_t len, uint8_t *out);
CK_RV dep11_gcm_finish_seal(struct dep11_gcm *g, uint8_t tag[16]);
CK_RV dep11_gcm_finish_open(struct dep11_gcm *g, const uint8_t *tag, size_t tag_len);

/* --- encodings of public values (encode.c) --------------------------------- */
#define DEP11_P256_POINT_LEN 65   /* uncompressed: 04 || X || Y */
#define DEP11_P256_SPKI_LEN 91    /* DER SubjectPublicKeyInfo of a P-256 key */
#define DEP11_P256_SIG_LEN 64     /* CKM_ECDSA output: r || s */
#define DEP11_P256_SIG_DER_MAX 72 /* DER ECDSA-Sig-Value */
/* The base64 of @n bytes with its NUL. */
#define DEP11_BASE64_LEN(n) (4 * (((n) + 2) / 3) + 1)
/* Standard base64 with padding, one line, NUL-ended; @cap >= DEP11_BASE64_LEN(n). */
CK_RV dep11_base64(const uint8_t *in, size_t n, char *out, size_t cap);
/* The DER SPKI of an uncompressed P-256 point. */
CK_RV dep11_p256_spki(const uint8_t point[DEP11_P256_POINT_LEN],
                      uint8_t spki[DEP11_P256_SPKI_LEN]);
/* PKCS#11's r || s as a DER ECDSA-Sig-Value; *@len gets its length. */
CK_RV dep11_ecdsa_p256_der(const uint8_t rs[DEP11_P256_SIG_LEN],
                           uint8_t der[DEP11_P256_SIG_DER_MAX], size_t *len);
/* PEM text ("-----BEGIN @name-----", lines of 64) of @der, NUL-ended, in
 * @out of @cap bytes; *@len gets its length without the NUL. */
CK_RV dep11_pem_encode(const char *name, const uint8_t *der, size_t n, char *out, size_t cap,
                       size_t *len);
/* 1 when @text holds a PEM block labelled @name with the bytes @der (line
 * breaks and text around it aside), else 0. */
int dep11_pem_holds(const char *text, size_t n, const char *name, const uint8_t *der,
                    size_t der_len);

/* --- RSA public-key side ------------------------------------------------- */
/* DER SubjectPublicKeyInfo of (modulus, exponent), both big-endian.
 * *@der is allocated with OPENSSL_malloc; free with OPENSSL_free. */
CK_RV dep11_rsa_spki(const uint8_t *mod, size_t mod_len, const uint8_t *exp,
                     size_t exp_len, uint8_t **der, size_t *der_len);
/* The same into the caller's @out of @cap bytes; *@len gets its length.
 * CKR_ARGUMENTS_BAD when it does not fit. */
CK_RV dep11_rsa_spki_into(const uint8_t *mod, size_t mod_len, const uint8_t *exp,
                          size_t exp_len, uint8_t *out, size_t cap, size_t *len);
/* A root's identity: SHA-256 of its DER SPKI. */
CK_RV dep11_rsa_identity(const uint8_t *mod, size_t mod_len, const uint8_t *exp,
                         size_t exp_len, uint8_t id[DEP11_SHA256_LEN]);
/* Is @id the identity of the key (@mod, @exp)? 1 yes, 0 no (or malformed). */
int dep11_rsa_has_identity(const uint8_t *mod, size_t mod_len, const uint8_t *exp,
                           size_t exp_len, const uint8_t *id, size_t id_len);
/* RSA-OAEP encryption, MGF1 with the same hash, empty label.
 * @hash is CKM_SHA_1 or CKM_SHA256. @ct must hold the modulus length;
 * *@ct_len gets it. */
CK_RV dep11_rsa_oaep_encrypt(const uint8_t *mod, size_t mod_len,
                             const uint8_t *exp, size_t exp_len,
                             CK_MECHANISM_TYPE hash, const uint8_t *pt,
                             size_t pt_len, uint8_t *ct, size_t *ct_len);

#endif
