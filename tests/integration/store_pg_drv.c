/*
 * store_pg_drv.c - drives the PostgreSQL store backend (tools/store_pg*.c)
 * through its store_ops, without the HSM: the job tests of
 * test_tool_store_pg_jobs.sh need workers that can be stalled and killed at
 * will. Its "re-wrap" appends "#<worker>" to the blob, so a child moved
 * twice, torn or lost shows in the check.
 *
 *   store_pg_drv URI open [create|rdonly]   open, print the schema version
 *   store_pg_drv URI seed N                 N owners under policy A v1
 *   store_pg_drv URI put                    one write (fails read-only)
 *   store_pg_drv URI work NAME BATCH LEASE [STALL]
 *            one worker: job "everything to policy B v2"; claims batches
 *            until the job is done (polls while others hold items); with
 *            STALL, sleeps STALL seconds before completing its first batch
 *   store_pg_drv URI check N WORKERS        all N at B v2, each once, whole
 *
 * Exit: 0 ok, 1 failure, 2 usage (as dep11-tool).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_db.h"
#include "tool.h"

#define BLOB_LEN 64

static const unsigned char POL_A[16] = "policy-A--------";
static const unsigned char POL_B[16] = "policy-B--------";

/* The tool's helpers this program stands in for. */
int tool_error(struct tool *t, int code, const char *fmt, ...)
{
    va_list ap;

    (void)t;
    va_start(ap, fmt);
    fprintf(stderr, "store_pg_drv: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return code;
}

void store_row_clear(struct store_row *r)
{
    free(r->blob);
    r->blob = NULL;
}

void store_rows_free(struct store_row *rows, size_t n)
{
    for (size_t i = 0; rows != NULL && i < n; i++)
        store_row_clear(&rows[i]);
    free(rows);
}

static void owner_id(unsigned long i, unsigned char out[16])
{
    char s[32];

    snprintf(s, sizeof s, "owner-%010lu", i % 10000000000UL);
    memcpy(out, s, 16);
}

static void orig_blob(unsigned long i, unsigned char out[BLOB_LEN])
{
    char s[32];

    memset(out, 'x', BLOB_LEN);
    snprintf(s, sizeof s, "child-%010lu", i % 10000000000UL);
    memcpy(out, s, 16);
}

static int seed(struct tool *t, struct store_db *db, unsigned long n)
{
    unsigned char blob[BLOB_LEN];
    int rc = TOOL_EXIT_OK;

    for (unsigned long i = 0; i < n && rc == TOOL_EXIT_OK; i += 1000) {
        rc = db->ops->begin(t, db);
        for (unsigned long k = i; k < n && k < i + 1000 && rc == 0; k++) {
            struct store_row r = {0};
            owner_id(k, r.owner);
            strcpy(r.kind, "mailbox");
            memcpy(r.assigned, POL_A, 16);
            memcpy(r.wrapped, POL_A, 16);
            r.version = 1;
            orig_blob(k, blob);
            r.blob = blob;
            r.blob_len = BLOB_LEN;
            rc = db->ops->put(t, db, &r);
        }
        rc = rc == TOOL_EXIT_OK ? db->ops->commit(t, db)
                                : (db->ops->rollback(t, db), rc);
    }
    return rc;
}

/* "Re-wraps" @r for @name: B v2, blob + "#name". */
static int rewrap(struct store_row *r, const char *name)
{
    size_t nl = strlen(name);
    unsigned char *b = realloc(r->blob, r->blob_len + 1 + nl);

    if (b == NULL)
        return -1;
    b[r->blob_len] = '#';
    memcpy(b + r->blob_len + 1, name, nl);
    r->blob = b;
    r->blob_len += 1 + nl;
    memcpy(r->assigned, POL_B, 16);
    memcpy(r->wrapped, POL_B, 16);
    r->version = 2;
    return 0;
}

static int work_batch(struct tool *t, struct store_db *db,
                      const struct store_job *job, const char *name,
                      struct store_row *rows, size_t n, unsigned *stall,
                      size_t *accepted)
{
    size_t acc = 0;

    for (size_t i = 0; i < n; i++)
        if (rewrap(&rows[i], name) != 0)
            return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    if (*stall > 0) {
        sleep(*stall);
        *stall = 0;
    }
    if (db->ops->job_complete(t, db, job, name, rows, n, &acc) != 0)
        return TOOL_EXIT_FAIL;
    *accepted += acc;
    return TOOL_EXIT_OK;
}

static int work(struct tool *t, struct store_db *db, const char *name,
                size_t batch, int lease, unsigned stall)
{
    struct store_job_spec spec = {0};
    struct store_job job;
    size_t claimed = 0, accepted = 0;
    int rc = TOOL_EXIT_FAIL, done = 0;

    memcpy(spec.target, POL_B, 16);
    spec.version = 2;
    if (db->ops->job_open(t, db, &spec, &job) != TOOL_EXIT_OK)
        return TOOL_EXIT_FAIL;
    while (!done) {
        struct store_row *rows = NULL;
        size_t n = 0;
        if (db->ops->job_claim(t, db, &job, name, batch, lease, &rows, &n))
            goto out;
        claimed += n;
        rc = n ? work_batch(t, db, &job, name, rows, n, &stall, &accepted)
               : db->ops->job_finish(t, db, &job, &done);
        store_rows_free(rows, n);
        if (rc != TOOL_EXIT_OK)
            goto out;
        if (n == 0 && !done)
            usleep(200 * 1000); /* others hold items: wait for a lease */
    }
    rc = TOOL_EXIT_OK;
out:
    printf("worker %s job %lld claimed %zu accepted %zu\n", name, job.id,
           claimed, accepted);
    return rc;
}

struct check {
    unsigned long n, seen, bad;
    const char *workers;
};

static int check_row(void *ctx, const struct store_row *r)
{
    struct check *c = ctx;
    unsigned char owner[16], blob[BLOB_LEN];
    char tag[64];
    size_t tl = r->blob_len - BLOB_LEN;

    owner_id(c->seen, owner);
    orig_blob(c->seen, blob);
    c->seen++;
    if (memcmp(owner, r->owner, 16) != 0 || memcmp(r->wrapped, POL_B, 16) ||
        memcmp(r->assigned, POL_B, 16) || r->version != 2 ||
        r->blob_len <= BLOB_LEN + 1 || tl >= sizeof tag ||
        memcmp(r->blob, blob, BLOB_LEN) != 0 || r->blob[BLOB_LEN] != '#') {
        c->bad++;
        return 0;
    }
    /* ",w1,w2," contains ",<tag>,": moved once, by a worker we ran. */
    tag[0] = ',';
    memcpy(tag + 1, r->blob + BLOB_LEN + 1, tl - 1);
    tag[tl] = ',';
    tag[tl + 1] = '\0';
    if (memchr(tag + 1, '#', tl - 1) || strstr(c->workers, tag) == NULL)
        c->bad++;
    return 0;
}

static int check(struct tool *t, struct store_db *db, unsigned long n,
                 const char *workers)
{
    char w[256];
    struct check c = {n, 0, 0, w};

    snprintf(w, sizeof w, ",%s,", workers);
    if (db->ops->list(t, db, NULL, 1, check_row, &c) != TOOL_EXIT_OK)
        return TOOL_EXIT_FAIL;
    printf("check: %lu owners, %lu bad (want %lu, 0)\n", c.seen, c.bad, n);
    return c.seen == n && c.bad == 0 ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
}

static int one_put(struct tool *t, struct store_db *db)
{
    unsigned char blob[BLOB_LEN];
    struct store_row r = {0};

    owner_id(999999, r.owner);
    strcpy(r.kind, "mailbox");
    memcpy(r.assigned, POL_A, 16);
    memcpy(r.wrapped, POL_A, 16);
    r.version = 1;
    orig_blob(999999, blob);
    r.blob = blob;
    r.blob_len = BLOB_LEN;
    return db->ops->put(t, db, &r);
}

static int run(struct tool *t, int argc, char **argv)
{
    const char *verb = argv[2];
    int flags = 0, rc = TOOL_EXIT_USAGE, v = 0;
    struct store_db *db = NULL;

    if (strcmp(verb, "open") == 0 && argc > 3)
        flags = strcmp(argv[3], "create") == 0 ? STORE_OPEN_CREATE
                                               : STORE_OPEN_RDONLY;
    else if (strcmp(verb, "seed") == 0)
        flags = STORE_OPEN_CREATE;
    else if (strcmp(verb, "check") == 0)
        flags = STORE_OPEN_RDONLY;
    else if (strcmp(verb, "put") == 0 && argc > 3)
        flags = STORE_OPEN_RDONLY;
    if ((rc = store_pg_ops.open(t, argv[1], flags, &db)) != TOOL_EXIT_OK)
        return rc;
    rc = TOOL_EXIT_USAGE;
    if (strcmp(verb, "open") == 0) {
        rc = db->ops->schema_version(t, db, &v);
        printf("schema version %d\n", v);
    } else if (strcmp(verb, "seed") == 0 && argc == 4) {
        rc = seed(t, db, strtoul(argv[3], NULL, 10));
    } else if (strcmp(verb, "put") == 0) {
        rc = one_put(t, db);
    } else if (strcmp(verb, "work") == 0 && argc >= 6) {
        rc = work(t, db, argv[3], strtoul(argv[4], NULL, 10),
                  atoi(argv[5]), argc > 6 ? (unsigned)atoi(argv[6]) : 0);
    } else if (strcmp(verb, "check") == 0 && argc == 5) {
        rc = check(t, db, strtoul(argv[3], NULL, 10), argv[4]);
    }
    db->ops->close(db);
    return rc;
}

int main(int argc, char **argv)
{
    struct tool t = {0};

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3) {
        fprintf(stderr, "usage: store_pg_drv URI open|seed|put|work|check "
                "...\n");
        return TOOL_EXIT_USAGE;
    }
    return run(&t, argc, argv);
}
