/*
 * test_remote.c - one application "host" of test_remote.sh: dep11
 * ($DEP11_MODULE, $DEP11_CONF) over p11-kit-client.so over `p11-kit server`
 * over SoftHSM, on the world $ITEST_WORLD. Each verb is one step of the
 * scale-out story; files in the world directory carry blobs and data from
 * one host to the other.
 *   create  (host A) a FILES policy wrapped under root1 and root2
 *           (policy.blob), a site key wrapped under it (site.blob) and one
 *           chunk sealed with CKM_DEP11_CHUNK_AEAD (chunk.bin, plain.bin)
 *   open    (host B) unwraps both blobs and opens the chunk: must equal
 *           plain.bin
 *   loop STOPFILE  opens the chunk from the blobs again and again (the
 *           cache flushed each time, so every round asks the HSM) until
 *           STOPFILE exists. A failing round is treated as a consumer
 *           would: the session is closed, reopened and logged in again.
 *           Passes when every failure carried a transient code (DESIGN
 *           section 5), at least one round failed (the server really went
 *           away mid-run) and the last rounds succeeded (recovered).
 *   idle READY GO STOP  opens once, writes READY, makes no call until GO
 *           exists (the server dies meanwhile), then as loop until STOP
 *   watch   (host B) unwraps policy.blob (its key is now cached), writes
 *           watch.ready, waits for purged.stamp (host A's purge end,
 *           CLOCK_REALTIME ns), then unwraps every 100 ms until
 *           CKR_DEP11_POLICY_PURGED; passes when that came no later than
 *           cache-seconds ($REMOTE_CACHE_SECONDS) + 2 s after the purge
 *   purge   (host A) DEP11_PurgePolicy on policy.blob, receipt.json, then
 *           purged.stamp
 * Prints one "verb: ..." line per result; exit 0 = pass, 1 = fail, 2 = set-up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"

static const CK_BYTE owner[16] = "site-0000000001";
static const CK_BYTE file_id[16] = "file-0000000042";

/* What a host holds: its session on contoso and what it read. */
struct host {
    struct itest *t;
    CK_SESSION_HANDLE s;
    struct itest_blob policy, site, chunk;
};

static double now_s(clockid_t c)
{
    struct timespec ts;

    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

static int exists(const struct itest *t, const char *name)
{
    char path[1200];

    return access(itest_path(t, name, path, sizeof path), F_OK) == 0;
}

/* Reads DIR/<name> into @b (malloc'ed). 0 or -1. */
static int read_blob(const struct itest *t, const char *name, struct itest_blob *b)
{
    char path[1200];
    FILE *fp = fopen(itest_path(t, name, path, sizeof path), "rb");
    long n = 0;

    b->p = NULL;
    b->len = 0;
    if (fp == NULL)
        return -1;
    if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) > 0 && fseek(fp, 0, SEEK_SET) == 0)
        b->p = malloc((size_t)n);
    if (b->p != NULL && fread(b->p, 1, (size_t)n, fp) == (size_t)n)
        b->len = (CK_ULONG)n;
    fclose(fp);
    if (b->len == 0) {
        free(b->p);
        b->p = NULL;
        return -1;
    }
    return 0;
}

static CK_MECHANISM chunk_mech(CK_DEP11_CHUNK_PARAMS *p)
{
    CK_MECHANISM m = { CKM_DEP11_CHUNK_AEAD, p, sizeof *p };

    memcpy(p->fileId, file_id, 16);
    p->ulChunkIndex = 7;
    return m;
}

/* host A: policy, site key, one sealed chunk. */
static CK_RV create(struct host *h)
{
    CK_OBJECT_HANDLE r1 = 0, r2 = 0, pol = 0, site = 0;
    CK_DEP11_CHUNK_PARAMS cp;
    CK_MECHANISM m = chunk_mech(&cp);
    struct itest_blob plain = { NULL, 4096 }, out = { NULL, 0 };
    CK_RV rv = itest_find(h->t, h->s, CKO_PRIVATE_KEY, "root1", &r1);

    if (rv == CKR_OK)
        rv = itest_find(h->t, h->s, CKO_PRIVATE_KEY, "root2", &r2);
    if (rv == CKR_OK)
        rv = itest_keygen(h->t, h->s, DEP11_ROLE_POLICY, DEP11_POLICY_FILES, &pol);
    if (rv == CKR_OK)
        rv = itest_policy_wrap(h->t, h->s, pol, r1, r2, 0, &h->policy);
    if (rv == CKR_OK)
        rv = itest_keygen(h->t, h->s, DEP11_ROLE_SITE, 0, &site);
    if (rv == CKR_OK)
        rv = itest_child_wrap(h->t, h->s, pol, site, owner, &h->site);
    plain.p = malloc(plain.len);
    if (plain.p == NULL)
        rv = CKR_HOST_MEMORY;
    for (CK_ULONG i = 0; rv == CKR_OK && i < plain.len; i++)
        plain.p[i] = (CK_BYTE)(i * 131 + getpid());
    if (rv == CKR_OK)
        rv = itest_crypt(h->t, h->s, 1, &m, site, plain.p, plain.len, &out);
    if (rv == CKR_OK && (itest_write_blob(h->t, "policy.blob", &h->policy) != 0 ||
                         itest_write_blob(h->t, "site.blob", &h->site) != 0 ||
                         itest_write_blob(h->t, "chunk.bin", &out) != 0 ||
                         itest_write_blob(h->t, "plain.bin", &plain) != 0))
        rv = CKR_FUNCTION_FAILED;
    itest_blob_free(&plain);
    itest_blob_free(&out);
    return rv;
}

/* Policy unwrap, child unwrap, open the chunk; the plaintext must match.
 * *@by gets CKA_DEP11_UNWRAPPED_BY of the policy key. */
static CK_RV open_chunk(struct host *h, CK_ULONG *by)
{
    CK_OBJECT_HANDLE pol = 0, site = 0;
    CK_DEP11_CHUNK_PARAMS cp;
    CK_MECHANISM m = chunk_mech(&cp);
    struct itest_blob plain = { NULL, 0 }, out = { NULL, 0 };
    CK_RV rv = itest_policy_unwrap(h->t, h->s, &h->policy, DEP11_REQUESTER_USER, &pol);

    if (rv == CKR_OK && by != NULL)
        rv = itest_get_ulong(h->t, h->s, pol, CKA_DEP11_UNWRAPPED_BY, by);
    if (rv == CKR_OK)
        rv = itest_child_unwrap(h->t, h->s, pol, &h->site, owner, &site);
    if (rv == CKR_OK)
        rv = itest_crypt(h->t, h->s, 0, &m, site, h->chunk.p, h->chunk.len, &out);
    if (rv == CKR_OK && read_blob(h->t, "plain.bin", &plain) != 0)
        rv = CKR_FUNCTION_FAILED;
    if (rv == CKR_OK && (out.len != plain.len || memcmp(out.p, plain.p, plain.len) != 0))
        rv = CKR_DATA_INVALID; /* opened, but not the chunk host A sealed */
    if (site != 0)
        (void)h->t->f->C_DestroyObject(h->s, site);
    if (pol != 0)
        (void)h->t->f->C_DestroyObject(h->s, pol);
    itest_blob_free(&plain);
    itest_blob_free(&out);
    return rv;
}

/* DESIGN section 5's transient answers, and the unwrap's answer when no
 * root and no availability key could be asked (ROOT_KEYS_UNAVAILABLE). */
static int transient(CK_RV rv)
{
    switch (rv) {
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_MEMORY:
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_FUNCTION_CANCELED:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_DEP11_ROOT_KEYS_UNAVAILABLE: return 1;
    default: return 0;
    }
}

/* A consumer's answer to a lost session: close it (whatever that says),
 * open a new one on contoso and log in. */
static CK_RV reopen(struct host *h)
{
    (void)h->t->f->C_CloseSession(h->s);
    h->s = CK_INVALID_HANDLE;
    return itest_session(h->t, "contoso", 1, &h->s);
}

static int loop(struct host *h, const char *stop)
{
    unsigned long rounds = 0, ok = 0, failed = 0, bad = 0, tail_ok = 0;
    CK_RV last_bad = CKR_OK, rv = CKR_OK;
    double t0 = now_s(CLOCK_MONOTONIC), t1 = 0, busy = 0;
    int opening = 0, login_race = 0;

    while (!exists(h->t, stop)) {
        rounds++;
        (void)h->t->x->DEP11_FlushCache(NULL);
        opening = h->s != CK_INVALID_HANDLE;
        t1 = now_s(CLOCK_MONOTONIC);
        rv = opening ? open_chunk(h, NULL) : reopen(h);
        if (rv == CKR_OK && opening) {
            busy += now_s(CLOCK_MONOTONIC) - t1;
            ok++;
            tail_ok++;
            continue;
        }
        if (rv == CKR_OK)
            continue;
        tail_ok = 0;
        failed++;
        /* A new session's login may meet the other host's at the same
         * instant in SoftHSM's token file (one server process per host:
         * README, "SoftHSM behind the server"); the opens themselves must
         * answer only transient codes. */
        login_race = !opening && rv == CKR_GENERAL_ERROR;
        if (!transient(rv) && !login_race) {
            bad++;
            last_bad = rv;
        }
        printf("loop: round %lu at %.2f s: 0x%lx%s\n", rounds, now_s(CLOCK_MONOTONIC) - t0,
               (unsigned long)rv,
               transient(rv) ? " (transient)"
               : login_race  ? " (login: SoftHSM's token file race)"
                             : " (NOT transient)");
        if (reopen(h) != CKR_OK)
            h->s = CK_INVALID_HANDLE;
        nap_ms(50);
    }
    printf("loop: %lu rounds, %lu opened (%.1f ms each: policy unwrap, child unwrap, chunk), "
           "%lu failed (%lu not transient, last 0x%lx), %lu opened at the end\n",
           rounds, ok, ok > 0 ? busy * 1000 / (double)ok : 0.0, failed, bad,
           (unsigned long)last_bad, tail_ok);
    return bad == 0 && failed > 0 && tail_ok >= 3 ? 0 : 1;
}

/* Opens once, writes READY, waits (idle: no call on the wire) until GO
 * exists, then loops as loop() until STOP. The server dies while the host
 * is idle: its next call writes to a dead socket. */
static int idle(struct host *h, const char *ready, const char *go, const char *stop)
{
    struct itest_blob mark = { (CK_BYTE *)"1", 1 };
    CK_RV rv = open_chunk(h, NULL);
    int i = 0;

    if (rv != CKR_OK || itest_write_blob(h->t, ready, &mark) != 0) {
        printf("idle: first open 0x%lx\n", (unsigned long)rv);
        return 1;
    }
    for (i = 0; i < 3000 && !exists(h->t, go); i++)
        nap_ms(20);
    return loop(h, stop);
}

/* host B: the purge elsewhere shows within the cache bound. */
static int watch(struct host *h)
{
    const char *cs = getenv("REMOTE_CACHE_SECONDS");
    double bound = (cs != NULL ? atof(cs) : 0) + 2.0, purged = 0, seen = 0;
    CK_OBJECT_HANDLE pol = 0;
    unsigned long hits = 0;
    char stamp[64];
    CK_RV rv = itest_policy_unwrap(h->t, h->s, &h->policy, DEP11_REQUESTER_USER, &pol);

    if (rv != CKR_OK) {
        printf("watch: first unwrap 0x%lx\n", (unsigned long)rv);
        return 1;
    }
    (void)h->t->f->C_DestroyObject(h->s, pol);
    if (itest_write_blob(h->t, "watch.ready", &h->policy) != 0)
        return 2;
    for (int i = 0; i < 3000 && !exists(h->t, "purged.stamp"); i++)
        nap_ms(20); /* at most a minute: host A's purge may fail */
    if (itest_read_file(h->t, "purged.stamp", stamp, sizeof stamp) <= 0)
        return 2;
    purged = atof(stamp);
    do {
        pol = 0;
        rv = itest_policy_unwrap(h->t, h->s, &h->policy, DEP11_REQUESTER_USER, &pol);
        seen = now_s(CLOCK_REALTIME) - purged;
        if (rv == CKR_OK) {
            hits++;
            (void)h->t->f->C_DestroyObject(h->s, pol);
            nap_ms(100);
        }
    } while (rv == CKR_OK && seen < bound + 5);
    printf("watch: 0x%lx %.2f s after the purge (bound %.1f s; %lu unwraps served before)\n",
           (unsigned long)rv, seen, bound, hits);
    return rv == CKR_DEP11_POLICY_PURGED && seen <= bound ? 0 : 1;
}

static int purge(struct host *h)
{
    CK_BYTE receipt[8192];
    CK_ULONG len = sizeof receipt;
    struct itest_blob r = { receipt, 0 };
    char stamp[64], tmp[1200], path[1200];
    FILE *fp = NULL;
    CK_RV rv = h->t->x->DEP11_PurgePolicy(h->s, h->policy.p, h->policy.len, receipt, &len);

    printf("purge: 0x%lx, receipt %lu bytes\n", (unsigned long)rv, (unsigned long)len);
    if (rv != CKR_OK)
        return 1;
    r.len = len;
    if (itest_write_blob(h->t, "receipt.json", &r) != 0)
        return 2;
    (void)snprintf(stamp, sizeof stamp, "%.3f\n", now_s(CLOCK_REALTIME));
    fp = fopen(itest_path(h->t, "purged.stamp.tmp", tmp, sizeof tmp), "w");
    if (fp == NULL)
        return 2;
    if (fputs(stamp, fp) < 0) {
        fclose(fp);
        return 2;
    }
    if (fclose(fp) != 0)
        return 2;
    /* renamed into place: host B never reads half a stamp */
    return rename(tmp, itest_path(h->t, "purged.stamp", path, sizeof path)) == 0 ? 0 : 2;
}

static int run(struct host *h, int argc, char **argv)
{
    CK_ULONG by = 0;
    CK_RV rv = CKR_OK;

    if (strcmp(argv[1], "create") == 0) {
        rv = create(h);
        printf("create: 0x%lx\n", (unsigned long)rv);
        return rv == CKR_OK ? 0 : 1;
    }
    if (read_blob(h->t, "policy.blob", &h->policy) != 0 ||
        read_blob(h->t, "site.blob", &h->site) != 0 ||
        read_blob(h->t, "chunk.bin", &h->chunk) != 0)
        return 2;
    if (strcmp(argv[1], "open") == 0) {
        rv = open_chunk(h, &by);
        printf("open: 0x%lx, unwrapped by %lu\n", (unsigned long)rv, (unsigned long)by);
        return rv == CKR_OK && (by == DEP11_ROOT_CUSTOMER_1 || by == DEP11_ROOT_CUSTOMER_2) ? 0
                                                                                            : 1;
    }
    if (strcmp(argv[1], "loop") == 0 && argc == 3)
        return loop(h, argv[2]);
    if (strcmp(argv[1], "idle") == 0 && argc == 5)
        return idle(h, argv[2], argv[3], argv[4]);
    if (strcmp(argv[1], "watch") == 0)
        return watch(h);
    if (strcmp(argv[1], "purge") == 0)
        return purge(h);
    return 2;
}

int main(int argc, char **argv)
{
    struct host h;
    int status = 2;
    CK_RV rv = CKR_OK;

    memset(&h, 0, sizeof h);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2 || (h.t = itest_open()) == NULL) {
        fprintf(stderr,
                "usage: test_remote create|open|loop STOP|idle READY GO STOP|watch|purge\n");
        return 2;
    }
    rv = itest_init(h.t);
    if (rv == CKR_OK)
        rv = itest_session(h.t, "contoso", 1, &h.s);
    if (rv != CKR_OK)
        printf("%s: C_Initialize / session on contoso: 0x%lx\n", argv[1], (unsigned long)rv);
    else
        status = run(&h, argc, argv);
    (void)itest_finalize(h.t);
    itest_blob_free(&h.policy);
    itest_blob_free(&h.site);
    itest_blob_free(&h.chunk);
    itest_close(h.t);
    return status;
}
