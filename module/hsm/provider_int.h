/*
 * provider_int.h - what provider.c (token, session pool)
 * gives provider_keys.c (the keys on the token). Private to module/hsm.
 */
#ifndef DEP11_HSM_PROVIDER_INT_H
#define DEP11_HSM_PROVIDER_INT_H

#include <stddef.h>
#include <p11-kit/pkcs11.h>

/* One operation on a provider session. */
typedef CK_RV (*dep11_provider_fn)(CK_SESSION_HANDLE s, void *arg);

/* Takes a pool session, runs @fn(s, @arg), gives the session back. When @fn
 * answers CKR_SESSION_HANDLE_INVALID / CKR_SESSION_CLOSED (reopen, re-login)
 * or CKR_USER_NOT_LOGGED_IN (re-login), retries (profile "retries", pausing
 * "backoff-ms"). Returns @fn's code; CKR_CRYPTOKI_NOT_INITIALIZED when the
 * provider is not open; pool and login codes.
 * @fn runs under the provider token's object lock, shared: any number of
 * readers at once. */
CK_RV dep11_provider_run(dep11_provider_fn fn, void *arg);

/* The same for an @fn that creates or destroys objects on the provider
 * token (an availability key, a state record, a tombstone): it runs under
 * the object lock held exclusively, so no other of dep11's provider
 * operations in this process runs at the same time. SoftHSM's file store
 * locks with fcntl(2), which does not exclude two threads of one process:
 * a token write racing a read or another write of the same process answers
 * CKR_GENERAL_ERROR now and then (test_isolation's threads, 1 valgrind run
 * in 3). Writes are rare (a commit, a binding, a purge, a new or retired
 * availability key); the data path never takes the lock. */
CK_RV dep11_provider_run_write(dep11_provider_fn fn, void *arg);

/* Inside a write operation (dep11_provider_run_write), after @record (a
 * binding, commit or tombstone record) was created on session @s: sets the
 * provider token's change mark (provider_mark.h) afresh, creating it when
 * there is none. When that fails, @record is destroyed again and the
 * backend's code returned: the write fails whole. */
CK_RV dep11_provider_mark_written(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE record);

/* Finds the provider keys (include/dep11-provider.h) and caches their
 * handles. Each must be on the token exactly once (a pair with its public
 * half): else CKR_FUNCTION_FAILED and one log line naming @token (the
 * provider-token setting) and `dep11-tool provider init`. Creates nothing. */
CK_RV dep11_provider_keys_check(const char *token);

/* The profile's "oaep-hash" against the HSM (after keys_check): one RSA-OAEP
 * round trip with provider root 1. A refusal is CKR_FUNCTION_FAILED after
 * one ERROR line naming the profile, mechanism, hash and answer. */
struct dep11_config;
CK_RV dep11_provider_oaep_check(const struct dep11_config *cfg);

/* Drops provider_keys.c's cached handles (close, forget). */
void dep11_provider_keys_reset(void);

/* One operation with the provider's receipt signing key pair. */
typedef CK_RV (*dep11_provider_pair_fn)(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv,
                                    CK_OBJECT_HANDLE pub, void *arg);

/* Runs @fn(s, priv, pub, @arg) with the receipt signing key (ECDSA P-256,
 * private half CKA_SIGN only; found by label, provider_keys.c). Returns
 * @fn's code, or the look-up's. */
CK_RV dep11_provider_with_sign_key(dep11_provider_pair_fn fn, void *arg);

#endif
