/*
 * selftest.h - power-on self tests of module/crypto (FIPS 140-3 style):
 * known answers of AES-256-GCM seal and open, the suite 1 KBKDF, SHA-256 and
 * RSA-OAEP, and a health check of the random generator. C_Initialize runs
 * them; a failure puts the module in its error state (core/module.c).
 */
#ifndef DEP11_CRYPTO_SELFTEST_H
#define DEP11_CRYPTO_SELFTEST_H

#include <p11-kit/pkcs11.h>

/* The tests, in the order they run. */
#define DEP11_SELFTEST_NAMES "gcm-seal gcm-open kbkdf sha256 rsa-oaep random"

/*
 * Runs every self test. @failed [out, may be NULL] the name of the first
 * test that failed (a static string), NULL when all passed. Logs the failed
 * test at error level. In builds configured with --enable-debug
 * (DEP11_DEBUG_BUILD), $DEP11_SELFTEST_FAIL=<name> corrupts that test's
 * expected value so that it fails; other builds ignore the variable.
 * Returns CKR_OK or CKR_GENERAL_ERROR.
 */
CK_RV dep11_selftest_run(const char **failed);

/*
 * Test-only entry point: as dep11_selftest_run() but the test named
 * @corrupt (NULL: none) runs against a corrupted expected value, whatever
 * the build. Returns CKR_OK, CKR_GENERAL_ERROR; CKR_ARGUMENTS_BAD when
 * @corrupt names no test.
 */
CK_RV dep11_selftest_run_corrupt(const char *corrupt, const char **failed);

#endif
