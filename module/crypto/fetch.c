/*
 * fetch.c - fetches the OpenSSL algorithms module/crypto needs exactly once
 * per process. Fetching is costly (a provider look-up under a lock), so every
 * operation borrows the same objects; they live until the process ends.
 */
#include <pthread.h>

#include "crypto/fetch.h"
#include "util/log.h"

static pthread_once_t algs_once = PTHREAD_ONCE_INIT;
static struct dep11_algs algs_set;
static int algs_ok;

static void free_partial(void)
{
    EVP_CIPHER_free(algs_set.gcm);
    EVP_KDF_free(algs_set.kbkdf);
    EVP_MD_free(algs_set.sha1);
    EVP_MD_free(algs_set.sha256);
    algs_set.gcm = NULL;
    algs_set.kbkdf = NULL;
    algs_set.sha1 = NULL;
    algs_set.sha256 = NULL;
}

static void fetch_all(void)
{
    algs_set.gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    algs_set.kbkdf = EVP_KDF_fetch(NULL, "KBKDF", NULL);
    algs_set.sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    algs_set.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (algs_set.gcm == NULL || algs_set.kbkdf == NULL ||
        algs_set.sha1 == NULL || algs_set.sha256 == NULL) {
        LOG_ERROR("OpenSSL lacks AES-256-GCM, KBKDF, SHA1 or SHA256");
        free_partial();
        return;
    }
    algs_ok = 1;
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
