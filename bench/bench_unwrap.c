/*
 * bench_unwrap.c - latency of CKM_DEP11_POLICY_UNWRAP through libdep11.so:
 * uncached (DEP11_FlushCache before each call: MAC check and a customer
 * root's RSA decryption in the HSM) against served from the policy-key
 * cache. Prints; asserts nothing. Needs the world of setup-tokens.sh
 * (ITEST_WORLD, DEP11_MODULE, DEP11_CONF with cache-seconds > 0).
 *   bench_unwrap [LABEL]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "itest.h"

#define UNCACHED 40
#define CACHED 2000

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* @n unwraps of @b, each timed into @t; flushing the cache first when
 * @flush (outside the timing). Returns 0, or -1 on a failed call. */
static int run(struct itest *t, CK_SESSION_HANDLE s, const struct itest_blob *b, int flush,
               double *tm, int n)
{
    for (int i = 0; i < n; i++) {
        CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
        double t0 = 0;
        CK_RV rv = CKR_OK;

        if (flush && t->x->DEP11_FlushCache(NULL) != CKR_OK)
            return -1;
        t0 = now_us();
        rv = itest_policy_unwrap(t, s, b, DEP11_REQUESTER_USER, &h);
        tm[i] = now_us() - t0;
        if (rv != CKR_OK || t->f->C_DestroyObject(s, h) != CKR_OK) {
            fprintf(stderr, "bench_unwrap: unwrap 0x%lx\n", (unsigned long)rv);
            return -1;
        }
    }
    qsort(tm, (size_t)n, sizeof(*tm), cmp);
    return 0;
}

int main(int argc, char **argv)
{
    static double unc[UNCACHED], hit[CACHED];
    struct itest *t = itest_open();
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE r1 = 0, r2 = 0, pol = 0;
    struct itest_blob b = { 0 };
    const char *label = argc > 1 ? argv[1] : "";

    if (t == NULL || itest_init(t) != CKR_OK || itest_session(t, "contoso", 1, &s) != CKR_OK ||
        itest_find(t, s, CKO_PRIVATE_KEY, "root1", &r1) != CKR_OK ||
        itest_find(t, s, CKO_PRIVATE_KEY, "root2", &r2) != CKR_OK ||
        itest_keygen(t, s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, &pol) != CKR_OK ||
        itest_policy_wrap(t, s, pol, r1, r2, 0, &b) != CKR_OK) {
        fprintf(stderr, "bench_unwrap: set-up failed\n");
        return 1;
    }
    if (run(t, s, &b, 1, unc, UNCACHED) != 0 || run(t, s, &b, 0, hit, CACHED) != 0)
        return 1;
    printf("bench_unwrap %s: uncached  n=%d median %8.1f us  p90 %8.1f us\n", label, UNCACHED,
           unc[UNCACHED / 2], unc[UNCACHED * 9 / 10]);
    printf("bench_unwrap %s: cached    n=%d median %8.1f us  p90 %8.1f us  (%.0fx)\n", label,
           CACHED, hit[CACHED / 2], hit[CACHED * 9 / 10], unc[UNCACHED / 2] / hit[CACHED / 2]);
    itest_blob_free(&b);
    t->f->C_Logout(s);
    t->f->C_CloseSession(s);
    itest_finalize(t);
    itest_close(t);
    return 0;
}
