/*
 * fetch.c - dep11's own OpenSSL library context, and the algorithms
 * module/crypto needs fetched from it exactly once per process. Fetching is
 * costly (a provider look-up under a lock), so every operation borrows the
 * same objects; they and the context live until the process exits or this
 * library is unloaded.
 *
 * The context is private (OSSL_LIB_CTX_new, no config file read, the
 * built-in "default" provider loaded into it explicitly), so nothing the host
 * process does to OpenSSL's default context reaches dep11: an ENGINE set as
 * default for RSA (libp11's, as `openssl -engine pkcs11` does), providers
 * loaded or unloaded, an openssl.cnf with other defaults.
 */
#include <pthread.h>
#include <stdlib.h>
#include <openssl/crypto.h>
#include <openssl/provider.h>

#include "crypto/fetch.h"
#include "util/log.h"

static pthread_once_t algs_once = PTHREAD_ONCE_INIT;
static struct dep11_algs algs_set;
static OSSL_PROVIDER *algs_default;
static int algs_ok;

static void free_partial(void)
{
    EVP_CIPHER_free(algs_set.gcm);
    EVP_KDF_free(algs_set.kbkdf);
    EVP_MD_free(algs_set.sha1);
    EVP_MD_free(algs_set.sha256);
    if (algs_default != NULL)
        (void)OSSL_PROVIDER_unload(algs_default);
    OSSL_LIB_CTX_free(algs_set.libctx);
    algs_set.gcm = NULL;
    algs_set.kbkdf = NULL;
    algs_set.sha1 = NULL;
    algs_set.sha256 = NULL;
    algs_set.libctx = NULL;
    algs_default = NULL;
    algs_ok = 0; /* after the exit handler: refused, never a freed object */
}

static void fetch_all(void)
{
    OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();

    algs_set.libctx = ctx;
    if (ctx == NULL || (algs_default = OSSL_PROVIDER_load(ctx, "default")) == NULL) {
        LOG_ERROR("OpenSSL: no library context with the default provider");
        free_partial();
        return;
    }
    algs_set.gcm = EVP_CIPHER_fetch(ctx, "AES-256-GCM", NULL);
    algs_set.kbkdf = EVP_KDF_fetch(ctx, "KBKDF", NULL);
    algs_set.sha1 = EVP_MD_fetch(ctx, "SHA1", NULL);
    algs_set.sha256 = EVP_MD_fetch(ctx, "SHA256", NULL);
    if (algs_set.gcm == NULL || algs_set.kbkdf == NULL ||
        algs_set.sha1 == NULL || algs_set.sha256 == NULL) {
        LOG_ERROR("OpenSSL lacks AES-256-GCM, KBKDF, SHA1 or SHA256");
        free_partial();
        return;
    }
    algs_ok = 1;
    /* Freed at exit, or at dlclose of this library, whichever comes first
     * (atexit in a shared object is __cxa_atexit with its DSO handle; not
     * OPENSSL_atexit, whose handler would outlive a dlclose'd module: Debian's
     * libcrypto is built with OPENSSL_USE_NODELETE and pins nothing). The
     * context's DRBGs sit in thread-local storage that a leak checker does not
     * see, so a context left alive reads as a leak. */
    if (atexit(free_partial) != 0)
        LOG_DEBUG("no exit handler: the OpenSSL library context stays until exit");
}

CK_RV dep11_crypto_algs(const struct dep11_algs **algs)
{
    CK_RV rv = CKR_GENERAL_ERROR;

    if (algs == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL output");
        goto out;
    }
    if (pthread_once(&algs_once, fetch_all) != 0 || !algs_ok) {
        rv = CKR_FUNCTION_FAILED;
        LOG_FAIL(rv, "algorithm fetch failed");
        goto out;
    }
    *algs = &algs_set;
    rv = CKR_OK;
out:
    return rv;
}
