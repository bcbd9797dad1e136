/*
 * store_pg_job.c - the shared re-wrap job on PostgreSQL. Any number of
 * `store rewrap` workers, on one host or many, each with its own
 * connection, work on one job (jobs, job_items; docs/STORE.md):
 *
 *   claim:    up to N pending items, or claimed items whose lease ran out
 *             (a killed worker's batch), SELECT ... FOR UPDATE SKIP LOCKED,
 *             become the worker's until now + lease; one statement.
 *   complete: one statement (the batch as binary arrays) deletes the
 *             items still claimed by that worker and writes only their
 *             owner rows; an item taken over by another worker is left
 *             alone. Row locks order a late complete against a take-over:
 *             a child is moved exactly once. A done item is gone: done =
 *             total - pending - claimed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_pg.h"
#include "tool.h"

#define BYTEAOID 17
#define INT8OID 20

#ifndef STORE_WORKER_ANY
#define STORE_WORKER_ANY "*"
#endif

/* Serialises job creation: concurrent workers get the same job. */
#define PG_JOB_LOCK "SELECT pg_advisory_xact_lock(4919131854524871474)"

static void spec_args(struct pga *a, const struct store_job_spec *s)
{
    pga_id(a, s->target);
    pga_i64(a, (long long)s->version);
    if (s->has_from)
        pga_id(a, s->from);
    else
        pga_null(a, BYTEAOID);
}

/* The running job of @spec into @job (*@found). */
static int job_find(struct tool *t, struct pg_db *db,
                    const struct store_job_spec *spec, struct store_job *job,
                    int *found)
{
    struct pga a = {0};
    PGresult *r = NULL;

    *found = 0;
    spec_args(&a, spec);
    r = pg_run(t, db, "SELECT id, created FROM jobs WHERE state = 0 AND "
               "target = $1 AND version = $2 AND from_pol IS NOT DISTINCT "
               "FROM $3 ORDER BY id LIMIT 1", &a, PGRES_TUPLES_OK,
               "find the re-wrap job");
    if (r == NULL)
        return TOOL_EXIT_FAIL;
    if (PQntuples(r) == 1) {
        job->id = col_i64(r, 0, 0);
        job->created = col_i64(r, 0, 1);
        *found = 1;
    }
    PQclear(r);
    return TOOL_EXIT_OK;
}

/* A new job of @spec with one pending item per owner to move, inserted in
 * key order: the primary key grows at its right edge, and a claimed batch
 * (index order, then heap order) is a run of neighbouring rows. */
static int job_create(struct tool *t, struct pg_db *db,
                      const struct store_job_spec *spec, struct store_job *job)
{
    struct pga a = {0}, b = {0};
    PGresult *r = NULL;
    long long n = 0;

    job->created = (long long)time(NULL);
    spec_args(&a, spec);
    pga_i64(&a, job->created);
    r = pg_run(t, db, "INSERT INTO jobs (target, version, from_pol, state, "
               "created, total) VALUES ($1, $2, $3, 0, $4, 0) RETURNING id",
               &a, PGRES_TUPLES_OK, "create the re-wrap job");
    if (r == NULL)
        return TOOL_EXIT_FAIL;
    job->id = col_i64(r, 0, 0);
    PQclear(r);
    pga_i64(&b, job->id);
    spec_args(&b, spec);
    if (pg_cmd(t, db,
               "INSERT INTO job_items (job, owner, state) "
               "SELECT $1, owner, 0 FROM owners WHERE NOT (assigned = $2 "
               "AND wrapped = $2 AND version = $3) AND ($4 IS NULL OR "
               "wrapped = $4 OR assigned = $4) ORDER BY owner",
               &b, "list the children of the job", &n) != TOOL_EXIT_OK)
        return TOOL_EXIT_FAIL;
    memset(&a, 0, sizeof a);
    pga_i64(&a, job->id);
    pga_i64(&a, n);
    if (pg_cmd(t, db, "UPDATE jobs SET total = $2 WHERE id = $1", &a,
               "count the children of the job", NULL) != TOOL_EXIT_OK)
        return TOOL_EXIT_FAIL;
    /* The new job moves every owner that is not where it should be: any
     * other running job is superseded (a late worker of it writes
     * nothing: its items are gone). */
    /* The planner's statistics learn of the new items now, not when
     * autovacuum comes by: the claims and completions look items up by
     * key, not by scanning the job. */
    if (pg_cmd(t, db, "ANALYZE job_items", NULL, "analyze the job", NULL) != TOOL_EXIT_OK)
        return TOOL_EXIT_FAIL;
    memset(&a, 0, sizeof a);
    pga_i64(&a, job->id);
    if (pg_cmd(t, db, "DELETE FROM job_items WHERE job IN (SELECT id FROM "
               "jobs WHERE state = 0 AND id <> $1)", &a,
               "supersede the other jobs", NULL) != TOOL_EXIT_OK)
        return TOOL_EXIT_FAIL;
    return pg_cmd(t, db, "UPDATE jobs SET state = 2 WHERE state = 0 AND "
                  "id <> $1", &a, "supersede the other jobs", NULL);
}

int pg_job_open(struct tool *t, struct store_db *d,
                const struct store_job_spec *spec, struct store_job *job)
{
    struct pg_db *db = (struct pg_db *)d;
    int rc = TOOL_EXIT_FAIL, own = 0, found = 0;

    memset(job, 0, sizeof *job);
    job->spec = *spec;
    job->state = STORE_JOB_RUNNING;
    if (pg_tx_begin(t, db, &own) != TOOL_EXIT_OK)
        return TOOL_EXIT_FAIL;
    if (pg_cmd(t, db, PG_JOB_LOCK, NULL, "lock the jobs", NULL) != 0 ||
        job_find(t, db, spec, job, &found) != TOOL_EXIT_OK)
        goto out;
    rc = found ? TOOL_EXIT_OK : job_create(t, db, spec, job);
out:
    return pg_tx_end(t, db, own, rc);
}

/* One statement: a dead worker's items first (claimed, lease run out),
 * then pending ones, in index order (job, state, lease_until): a scan never
 * walks the items already done. The claimed rows are locked, so their ctid
 * holds until the update (a TID scan, not a join over the job's items); the
 * owners by their primary key. */
#define CLAIM_SQL                                                                              \
    "WITH e AS (SELECT ctid FROM job_items WHERE job = $1 AND state = 1 "                      \
    " AND lease_until < $2 ORDER BY job, state, lease_until LIMIT $3 "                         \
    " FOR UPDATE SKIP LOCKED), "                                                               \
    "p AS (SELECT ctid FROM job_items WHERE job = $1 AND state = 0 "                           \
    " ORDER BY job, state, lease_until LIMIT $3 - (SELECT count(*) FROM e) "                   \
    " FOR UPDATE SKIP LOCKED), "                                                               \
    "u AS (UPDATE job_items SET state = 1, worker = $4, lease_until = $5 "                     \
    " WHERE ctid = ANY (ARRAY (SELECT ctid FROM e UNION ALL "                                  \
    " SELECT ctid FROM p)) RETURNING owner) "                                                  \
    "SELECT " OWNER_COLS ", blob FROM owners "                                                 \
    "WHERE owner = ANY (ARRAY (SELECT owner FROM u)) ORDER BY owner"

/* The claim statement: up to @max items, their rows into @out (*@n). */
static int claim_step(struct tool *t, struct pg_db *db, long long job, const char *worker,
                      size_t max, long long lease_until, struct store_row *out, size_t *n)
{
    struct pga a = {0};
    PGresult *r = NULL;
    int rc = TOOL_EXIT_FAIL;

    pga_i64(&a, job);
    pga_i64(&a, (long long)time(NULL));
    pga_i64(&a, (long long)max);
    pga_text(&a, worker);
    pga_i64(&a, lease_until);
    r = pg_run(t, db, CLAIM_SQL, &a, PGRES_TUPLES_OK, "claim a batch");
    if (r == NULL)
        return TOOL_EXIT_FAIL;
    for (int i = 0; i < PQntuples(r) && *n < max; i++) {
        struct store_row o;
        if (pg_row(r, i, 1, &o) != 0) {
            tool_error(t, TOOL_EXIT_FAIL, "PostgreSQL store %s: a damaged "
                       "owner row", db->base.target);
            goto out;
        }
        out[*n] = o;
        out[*n].blob = malloc(o.blob_len ? o.blob_len : 1);
        if (out[*n].blob == NULL) {
            tool_error(t, TOOL_EXIT_FAIL, "out of memory");
            goto out;
        }
        memcpy(out[*n].blob, o.blob, o.blob_len);
        (*n)++;
    }
    rc = TOOL_EXIT_OK;
out:
    PQclear(r);
    return rc;
}

int pg_job_claim(struct tool *t, struct store_db *d,
                 const struct store_job *job, const char *worker, size_t max,
                 int lease_s, struct store_row **rows, size_t *n)
{
    struct pg_db *db = (struct pg_db *)d;
    struct store_row *out = NULL;
    long long until = (long long)time(NULL) + (lease_s > 0 ? lease_s : 1);
    int rc = TOOL_EXIT_FAIL;

    *rows = NULL;
    *n = 0;
    if (max == 0)
        return TOOL_EXIT_OK;
    out = calloc(max, sizeof *out);
    if (out == NULL)
        return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    rc = claim_step(t, db, job->id, worker, max, until, out, n);
    if (rc != TOOL_EXIT_OK) {
        store_rows_free(out, *n);
        *n = 0;
        return rc;
    }
    *rows = out;
    return TOOL_EXIT_OK;
}

/* The batch as arrays, one statement: the items still claimed by the
 * worker become done, and only their owner rows are written. The items
 * are looked up by key (owner = ANY): whatever the planner's estimates,
 * a batch never scans the job's other items. */
#define COMPLETE_SQL                                                                           \
    "WITH v AS (SELECT * FROM unnest($2::bytea[], $4::bytea[], "                               \
    " $5::bytea[], $6::bigint[], $7::bytea[]) "                                                \
    " AS v(owner, assigned, wrapped, version, blob)), "                                        \
    "d AS (DELETE FROM job_items i USING v WHERE i.job = $1 "                                  \
    " AND i.owner = ANY ($2) AND i.owner = v.owner AND i.state = 1 "                           \
    " AND i.worker = $3 "                                                                      \
    " RETURNING v.*) "                                                                         \
    "UPDATE owners o SET assigned = d.assigned, wrapped = d.wrapped, "                         \
    "version = d.version, blob = d.blob, updated = $8 "                                        \
    "FROM d WHERE o.owner = d.owner"

#define BYTEA_ARRAY_OID 1001
#define INT8_ARRAY_OID 1016

/* A one-dimensional array in PostgreSQL's binary format. */
struct pg_arr {
    unsigned char *p;
    size_t len, cap;
};

static void arr_u32(struct pg_arr *a, uint32_t v)
{
    for (int i = 3; i >= 0; i--)
        a->p[a->len++] = (unsigned char)(v >> (8 * i));
}

/* Room for @n elements of @each bytes (+ their length words) and @extra
 * bytes after the header of an array of @n elements of type @elem. -1:
 * too large, or out of memory. */
static int arr_init(struct pg_arr *a, Oid elem, size_t n, size_t each, size_t extra)
{
    a->len = 0;
    if (n > (INT32_MAX - 20) / (4 + each) || extra > INT32_MAX - 20 - n * (4 + each))
        return -1;
    a->cap = 20 + n * (4 + each) + extra; /* fits a message (int) */
    if ((a->p = malloc(a->cap)) == NULL)
        return -1;
    arr_u32(a, 1); /* dimensions */
    arr_u32(a, 0); /* no NULLs */
    arr_u32(a, (uint32_t)elem);
    arr_u32(a, (uint32_t)n); /* length */
    arr_u32(a, 1);           /* lower bound */
    return 0;
}

static void arr_put(struct pg_arr *a, const void *p, size_t len)
{
    arr_u32(a, (uint32_t)len);
    memcpy(a->p + a->len, p, len);
    a->len += len;
}

static void arr_i64(struct pg_arr *a, long long v)
{
    unsigned char b[8];
    uint64_t u = (uint64_t)v;

    for (int i = 7; i >= 0; i--, u >>= 8)
        b[i] = (unsigned char)(u & 0xff);
    arr_put(a, b, 8);
}

enum { ARR_OWNER, ARR_ASSIGNED, ARR_WRAPPED, ARR_VERSION, ARR_BLOB, ARR_N };

/* The batch @rows as the arrays of COMPLETE_SQL. -1: out of memory. */
static int complete_arrays(struct pg_arr arr[ARR_N], const struct store_row *rows, size_t n)
{
    size_t blobs = 0;
    int rc = 0;

    for (size_t i = 0; i < n; i++)
        blobs += rows[i].blob_len;
    for (int k = 0; k < ARR_N; k++)
        rc |= arr_init(&arr[k], k == ARR_VERSION ? INT8OID : BYTEAOID, n,
                       k == ARR_BLOB ? 0 : 16, k == ARR_BLOB ? blobs : 0);
    if (rc != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        arr_put(&arr[ARR_OWNER], rows[i].owner, 16);
        arr_put(&arr[ARR_ASSIGNED], rows[i].assigned, 16);
        arr_put(&arr[ARR_WRAPPED], rows[i].wrapped, 16);
        arr_i64(&arr[ARR_VERSION], (long long)rows[i].version);
        arr_put(&arr[ARR_BLOB], rows[i].blob, rows[i].blob_len);
    }
    return 0;
}

int pg_job_complete(struct tool *t, struct store_db *d,
                    const struct store_job *job, const char *worker,
                    const struct store_row *rows, size_t n, size_t *accepted)
{
    struct pg_db *db = (struct pg_db *)d;
    struct pg_arr arr[ARR_N];
    struct pga a = { 0 };
    long long got = 0;
    int rc = TOOL_EXIT_FAIL;

    *accepted = 0;
    memset(arr, 0, sizeof arr);
    for (size_t i = 0; i < n; i++)
        if (rows[i].blob == NULL || rows[i].blob_len == 0)
            return tool_error(t, TOOL_EXIT_FAIL, "internal: a re-wrapped "
                              "child without a blob");
    if (n == 0)
        return TOOL_EXIT_OK;
    if (complete_arrays(arr, rows, n) != 0) {
        rc = tool_error(t, TOOL_EXIT_FAIL, "out of memory");
        goto out;
    }
    pga_i64(&a, job->id);
    pga_add(&a, BYTEA_ARRAY_OID, arr[ARR_OWNER].p, arr[ARR_OWNER].len);
    pga_text(&a, worker);
    pga_add(&a, BYTEA_ARRAY_OID, arr[ARR_ASSIGNED].p, arr[ARR_ASSIGNED].len);
    pga_add(&a, BYTEA_ARRAY_OID, arr[ARR_WRAPPED].p, arr[ARR_WRAPPED].len);
    pga_add(&a, INT8_ARRAY_OID, arr[ARR_VERSION].p, arr[ARR_VERSION].len);
    pga_add(&a, BYTEA_ARRAY_OID, arr[ARR_BLOB].p, arr[ARR_BLOB].len);
    pga_i64(&a, (long long)time(NULL));
    /* One statement: the batch is written whole or not at all. */
    rc = pg_cmd(t, db, COMPLETE_SQL, &a, "complete a batch", &got);
    if (rc == TOOL_EXIT_OK)
        *accepted = (size_t)got;
out:
    for (int k = 0; k < ARR_N; k++)
        free(arr[k].p);
    return rc;
}

int pg_job_release(struct tool *t, struct store_db *d,
                   const struct store_job *job, const char *worker)
{
    struct pga a = {0};

    pga_i64(&a, job->id);
    if (worker != NULL && strcmp(worker, STORE_WORKER_ANY) == 0)
        return pg_cmd(t, (struct pg_db *)d, "UPDATE job_items SET state = 0, "
                      "worker = NULL, lease_until = NULL WHERE job = $1 AND "
                      "state = 1", &a, "release every batch", NULL);
    if (worker != NULL) {
        pga_text(&a, worker);
        return pg_cmd(t, (struct pg_db *)d, "UPDATE job_items SET state = 0, "
                      "worker = NULL, lease_until = NULL WHERE job = $1 AND "
                      "state = 1 AND worker = $2", &a, "release a batch",
                      NULL);
    }
    pga_i64(&a, (long long)time(NULL));
    return pg_cmd(t, (struct pg_db *)d, "UPDATE job_items SET state = 0, "
                  "worker = NULL, lease_until = NULL WHERE job = $1 AND "
                  "state = 1 AND lease_until < $2", &a,
                  "release expired batches", NULL);
}

int pg_job_progress(struct tool *t, struct store_db *d,
                    const struct store_job *job, struct store_progress *p)
{
    struct pg_db *db = (struct pg_db *)d;
    struct pga a = {0};
    PGresult *r = NULL;

    memset(p, 0, sizeof *p);
    pga_i64(&a, job->id);
    pga_i64(&a, (long long)time(NULL));
    r = pg_run(t, db, "SELECT j.total, j.state, "
               "(SELECT count(*) FROM job_items WHERE job = $1 AND state = 0),"
               "(SELECT count(*) FROM job_items WHERE job = $1 AND state = 1),"
               "(SELECT count(*) FROM job_items WHERE job = $1 AND state = 1 "
               " AND lease_until < $2) FROM jobs j WHERE j.id = $1", &a,
               PGRES_TUPLES_OK, "read the job's progress");
    if (r == NULL)
        return TOOL_EXIT_FAIL;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return tool_error(t, TOOL_EXIT_FAIL, "PostgreSQL store %s: re-wrap "
                          "job %lld is gone", db->base.target, job->id);
    }
    p->total = (size_t)col_i64(r, 0, 0);
    p->pending = (size_t)col_i64(r, 0, 2);
    p->claimed = (size_t)col_i64(r, 0, 3);
    p->expired = (size_t)col_i64(r, 0, 4);
    /* Done items are deleted when the job finishes. */
    p->done = p->total >= p->pending + p->claimed
              ? p->total - p->pending - p->claimed : 0;
    PQclear(r);
    return TOOL_EXIT_OK;
}

int pg_job_finish(struct tool *t, struct store_db *d,
                  const struct store_job *job, int *done)
{
    struct pg_db *db = (struct pg_db *)d;
    struct pga a = {0};
    PGresult *r = NULL;
    int rc = TOOL_EXIT_FAIL, own = 0, left = 1;

    *done = 0;
    pga_i64(&a, job->id);
    if (pg_tx_begin(t, db, &own) != TOOL_EXIT_OK)
        return TOOL_EXIT_FAIL;
    r = pg_run(t, db, "SELECT 1 FROM job_items WHERE job = $1 AND state < 2 "
               "LIMIT 1", &a, PGRES_TUPLES_OK, "finish the job");
    if (r == NULL)
        goto out;
    left = PQntuples(r) > 0;
    PQclear(r);
    rc = TOOL_EXIT_OK;
    if (!left &&
        (rc = pg_cmd(t, db, "UPDATE jobs SET state = 1 WHERE id = $1", &a,
                     "finish the job", NULL)) == TOOL_EXIT_OK)
        rc = pg_cmd(t, db, "DELETE FROM job_items WHERE job = $1", &a,
                    "finish the job", NULL);
out:
    rc = pg_tx_end(t, db, own, rc);
    if (rc == TOOL_EXIT_OK)
        *done = !left;
    return rc;
}
