/*
 * retry.h - the backend retry policy, one place for the callers that own a
 * session they can replace (RSA decryption on a worker session, the
 * provider pool): which results are worth another attempt, how many
 * attempts ("retries" of the profile) and the pause before each
 * ("backoff-ms").
 */
#ifndef DEP11_HSM_RETRY_H
#define DEP11_HSM_RETRY_H

#include <p11-kit/pkcs11.h>

/* The results that are retried. */
enum dep11_hsm_retry_on {
    DEP11_HSM_RETRY_SESSION_LOST = 1,   /* CKR_SESSION_HANDLE_INVALID/_CLOSED */
    DEP11_HSM_RETRY_LOGGED_OUT = 2,     /* CKR_USER_NOT_LOGGED_IN */
};

struct dep11_hsm_retry {
    unsigned left;          /* attempts still allowed */
    unsigned backoff_ms;    /* pause before each */
    unsigned on;            /* enum dep11_hsm_retry_on bits */
};

/* Starts a policy of @tries further attempts, each after @backoff_ms, for
 * the results in @on. */
void dep11_hsm_retry_start(struct dep11_hsm_retry *r, unsigned tries,
                           unsigned backoff_ms, unsigned on);

/* The same with the loaded profile's retries/backoff-ms (1 and 0 when no
 * profile is loaded). */
void dep11_hsm_retry_start_profile(struct dep11_hsm_retry *r, unsigned on);

/* Is the call that answered @rv to be made again? 1 after the pause (one
 * attempt used); 0 when @rv is not retried or no attempt is left. */
int dep11_hsm_retry_again(struct dep11_hsm_retry *r, CK_RV rv);

/* Is @rv the loss of a session (CKR_SESSION_HANDLE_INVALID / _CLOSED)? */
int dep11_hsm_session_lost(CK_RV rv);

/* Sleeps @ms milliseconds (0: returns at once). */
void dep11_hsm_sleep_ms(unsigned ms);

#endif
