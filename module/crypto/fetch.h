/*
 * fetch.h - private to module/crypto: dep11's own OpenSSL library context and
 * the algorithm objects fetched from it once per process (pthread_once),
 * shared by every caller. Every EVP call of module/crypto goes through this
 * context, never the process default: a host application's engines (libp11's
 * as default, say), providers or openssl.cnf do not change dep11's crypto.
 */
#ifndef DEP11_CRYPTO_FETCH_H
#define DEP11_CRYPTO_FETCH_H

#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/types.h>
#include <p11-kit/pkcs11.h>

/* The process-wide algorithm set; members are never NULL once fetched. */
struct dep11_algs {
    OSSL_LIB_CTX *libctx; /* dep11's own, with the default provider loaded */
    EVP_CIPHER *gcm;   /* "AES-256-GCM" */
    EVP_KDF *kbkdf;    /* "KBKDF" */
    EVP_MD *sha1;      /* "SHA1" (OAEP with SoftHSM) */
    EVP_MD *sha256;    /* "SHA256" */
};

/* Fetches the algorithms on first use and hands out the shared set.
 * @algs [out] borrowed pointer, valid for the life of the process.
 * CKR_OK, or CKR_FUNCTION_FAILED when OpenSSL lacks one (logged, and every
 * later call fails the same way). */
CK_RV dep11_crypto_algs(const struct dep11_algs **algs);

#endif
