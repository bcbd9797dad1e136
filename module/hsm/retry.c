/*
 * retry.c - the backend retry policy (retry.h) and its pause.
 */
#include <errno.h>
#include <time.h>

#include "hsm/backend.h"
#include "hsm/retry.h"

/** See retry.h. */
void dep11_hsm_retry_start(struct dep11_hsm_retry *r, unsigned tries,
                           unsigned backoff_ms, unsigned on)
{
    r->left = tries;
    r->backoff_ms = backoff_ms;
    r->on = on;
}

/** See retry.h. */
void dep11_hsm_retry_start_profile(struct dep11_hsm_retry *r, unsigned on)
{
    const struct dep11_profile *prof = dep11_hsm_profile();

    dep11_hsm_retry_start(r, prof != NULL ? prof->retries : 1,
                          prof != NULL ? prof->backoff_ms : 0, on);
}

/* Is @rv one of the results @on retries? 1/0. */
static int retried(unsigned on, CK_RV rv)
{
    return ((on & DEP11_HSM_RETRY_SESSION_LOST) && dep11_hsm_session_lost(rv)) ||
           ((on & DEP11_HSM_RETRY_LOGGED_OUT) && rv == CKR_USER_NOT_LOGGED_IN);
}

/** See retry.h. */
int dep11_hsm_retry_again(struct dep11_hsm_retry *r, CK_RV rv)
{
    if (r->left == 0 || !retried(r->on, rv))
        return 0;
    r->left--;
    dep11_hsm_sleep_ms(r->backoff_ms);
    return 1;
}

/** See retry.h. */
int dep11_hsm_session_lost(CK_RV rv)
{
    return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED;
}

/** See retry.h. */
void dep11_hsm_sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

    while (ms != 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}
