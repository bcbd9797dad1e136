/*
 * bench.h - what the bench programs share: a clock, interleaved A/B rate
 * measurement (best of several short rounds, so that a noisy machine hurts
 * both sides alike), the table row printer, and the reference sides (plain
 * SoftHSM through a second copy of its library, and OpenSSL in process).
 * Figures, not tests: nothing here asserts.
 */
#ifndef DEP11_BENCH_H
#define DEP11_BENCH_H

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include "dep11.h"

/* One measured operation: 0 = ok. */
typedef int (*bench_fn)(void *ctx, size_t bytes);

double bench_now(void);
/* Seconds per round (BENCH_SECONDS, default 0.25) and rounds (BENCH_ROUNDS,
 * default 5). */
double bench_round_seconds(void);
int bench_rounds(void);
/* Best rate (ops/s) of @fn over the rounds; -1 when a call failed. */
double bench_rate(bench_fn fn, void *ctx, size_t bytes);
/* Rates of @a and @b, measured in alternating rounds (best of each). */
void bench_pair(bench_fn a, void *actx, bench_fn b, void *bctx, size_t bytes,
                double *ra, double *rb);
/* One row of the table: figure, through dep11, direct, ratio, target. A
 * negative rate prints FAILED. @unit names the two values ("ops/s", ...). */
void bench_row(const char *figure, double dep11, double direct, const char *unit,
               const char *target);
void bench_row_ratio(const char *figure, double ratio, const char *what, const char *target);
/* Resident set size of this process, bytes (/proc/self/statm). */
long bench_rss(void);

/* --- plain SoftHSM, its own copy of the library (bench_direct.c) ---------- */
struct bench_hsm {
    CK_FUNCTION_LIST_PTR f;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE aes;                 /* AES-256 session key */
    CK_OBJECT_HANDLE root_priv;           /* contoso's root1, RSA-3072 */
    unsigned char ct[512];                /* OAEP(SHA-1) ciphertext under root1 */
    CK_ULONG ct_len;
    unsigned char *in, *out;
    const char *module;          /* NULL: $BENCH_DIRECT_MODULE */
    CK_SESSION_HANDLE ps;        /* the floor's provider session */
    CK_OBJECT_HANDLE mac;        /* the provider MAC key */
    const unsigned char *mac_in; /* what the floor MACs: a blob */
    CK_ULONG mac_len;
    char state_app[64];        /* the policy's records: dep11-state-<id> */
    unsigned char root_id[64]; /* root1's CKA_ID */
    CK_ULONG root_id_len;
};
/* Loads @h->module (or $BENCH_DIRECT_MODULE) (a copy of SoftHSM: its own state), logs in
 * to @token with @pin, makes an AES key and an OAEP ciphertext under the
 * token's root1. 0 or -1 (printed why). */
int bench_hsm_setup(struct bench_hsm *h, const char *token, const char *pin);
int bench_hsm_open_close(void *p, size_t n);
int bench_hsm_session_info(void *p, size_t n);
int bench_hsm_gcm(void *p, size_t n);
int bench_hsm_oaep(void *p, size_t n);
/* The floor (another copy of the library, set up as above): also logs in
 * to the provider token @label with the PIN in @pin_file and finds the
 * provider MAC key: the least a module that follows DESIGN holds in its
 * SoftHSM. 0 or -1. */
int bench_hsm_provider(struct bench_hsm *h, const char *label, const char *pin_file);
/* The HSM calls DESIGN requires of every uncached POLICY_UNWRAP, made
 * directly: the caller's token identity (C_GetTokenInfo), the blob MAC with
 * the provider MAC key (C_SignInit + C_Sign over @h->mac_in) and the RSA-OAEP
 * decrypt of bench_hsm_oaep. */
int bench_hsm_unwrap_floor(void *p, size_t n);
/* The same when the process knows nothing yet (the first unwrap of a
 * policy, or after a flush of everything): also one search of the provider
 * token for the policy's records (@h->state_app) and one of the customer
 * token for the root (RSA private key with root1's CKA_ID), each fetching
 * what it found. */
int bench_hsm_unwrap_floor_cold(void *p, size_t n);

/* --- OpenSSL in process ----------------------------------------------------- */
struct bench_ossl {
    EVP_CIPHER_CTX *ctx;
    EVP_CIPHER *gcm;
    EVP_KDF *kbkdf;
    unsigned char site[32];
    unsigned char file_id[16];
    unsigned long index;
    unsigned char *in, *out;
};
int bench_ossl_setup(struct bench_ossl *o);
void bench_ossl_free(struct bench_ossl *o);
/* What CKM_DEP11_CHUNK_AEAD computes, done with OpenSSL: KBKDF(HMAC-SHA256)
 * of the chunk key, then AES-256-GCM with a random nonce. */
int bench_ossl_chunk_seal(void *p, size_t n);

#endif
