/*
 * store_sqlite_job.c - the re-wrap job on SQLite: a job row, one item per
 * owner to move, claims with a lease (BEGIN IMMEDIATE: one writer at a
 * time, so two workers never claim the same item), and the completion of a
 * batch that writes the owners and marks their items done in one
 * transaction, only for items the worker still holds.
 */
#include <stdlib.h>
#include <string.h>

#include "tool.h"
#include "store_sqlite.h"

/* Rolls back after a failure inside a transaction; returns @rc. */
static int undo(struct sq_db *d, int rc)
{
    (void)sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static void bind_spec(sqlite3_stmt *s, const struct store_job_spec *spec)
{
    sqlite3_bind_blob(s, 1, spec->target, 16, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)spec->version);
    if (spec->has_from)
        sqlite3_bind_blob(s, 3, spec->from, 16, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 3);
}

/* The running job of @job->spec: *@found 1 with id and created. */
static int job_find(struct tool *t, struct sq_db *d, struct store_job *job,
                    int *found)
{
    sqlite3_stmt *s = sq_stmt(t, d, SQ_JOB_FIND, "SELECT id, created FROM "
        "jobs WHERE state = 0 AND target = ?1 AND version = ?2 AND from_pol "
        "IS ?3 ORDER BY id LIMIT 1");
    int st = 0;

    *found = 0;
    if (s == NULL)
        return TOOL_EXIT_FAIL;
    bind_spec(s, &job->spec);
    st = sqlite3_step(s);
    if (st == SQLITE_ROW) {
        job->id = sqlite3_column_int64(s, 0);
        job->created = sqlite3_column_int64(s, 1);
        *found = 1;
    }
    sqlite3_reset(s);
    return st == SQLITE_ROW || st == SQLITE_DONE ? TOOL_EXIT_OK :
           sq_fail(t, d, "find the job");
}

/* Creates the job and its items (inside the caller's transaction). A
 * running job of another spec is superseded: its items are dropped (the
 * new job moves every owner that is not where it should be). */
static int job_create(struct tool *t, struct sq_db *d, struct store_job *job)
{
    sqlite3_stmt *s = NULL;
    int rc = sq_exec(t, d, "DELETE FROM job_items WHERE job IN (SELECT id "
                     "FROM jobs WHERE state = 0); UPDATE jobs SET state = 2 "
                     "WHERE state = 0");
    char sql[320];

    if (rc != TOOL_EXIT_OK)
        return rc;
    rc = TOOL_EXIT_FAIL;
    job->created = sq_now();
    if (sqlite3_prepare_v2(d->h, "INSERT INTO jobs (target, version, "
                           "from_pol, state, created, total) VALUES (?1, ?2, "
                           "?3, 0, ?4, 0)", -1, &s, NULL) != SQLITE_OK)
        return sq_fail(t, d, "create the job");
    bind_spec(s, &job->spec);
    sqlite3_bind_int64(s, 4, job->created);
    if (sqlite3_step(s) == SQLITE_DONE)
        rc = TOOL_EXIT_OK;
    sqlite3_finalize(s);
    if (rc != TOOL_EXIT_OK)
        return sq_fail(t, d, "create the job");
    job->id = sqlite3_last_insert_rowid(d->h);
    snprintf(sql, sizeof sql, "INSERT INTO job_items (job, oid, state) "
             "SELECT ?4, id, 0 FROM owners WHERE NOT (assigned = ?1 AND "
             "wrapped = ?1 AND version = ?2)%s ORDER BY id",
             job->spec.has_from ? " AND (wrapped = ?3 OR assigned = ?3)" :
             " AND ?3 IS NULL");
    if (sqlite3_prepare_v2(d->h, sql, -1, &s, NULL) != SQLITE_OK)
        return sq_fail(t, d, "list the job's owners");
    bind_spec(s, &job->spec);
    sqlite3_bind_int64(s, 4, job->id);
    rc = sqlite3_step(s) == SQLITE_DONE ? TOOL_EXIT_OK :
         sq_fail(t, d, "list the job's owners");
    sqlite3_finalize(s);
    snprintf(sql, sizeof sql, "UPDATE jobs SET total = %d WHERE id = %lld",
             sqlite3_changes(d->h), job->id);
    return rc == TOOL_EXIT_OK ? sq_exec(t, d, sql) : rc;
}

int sq_job_open(struct tool *t, struct store_db *db,
                const struct store_job_spec *spec, struct store_job *job)
{
    struct sq_db *d = (struct sq_db *)db;
    int found = 0, rc = TOOL_EXIT_OK;

    memset(job, 0, sizeof *job);
    job->spec = *spec;
    job->state = STORE_JOB_RUNNING;
    rc = sq_exec(t, d, "BEGIN IMMEDIATE");
    if (rc == TOOL_EXIT_OK)
        rc = job_find(t, d, job, &found);
    if (rc == TOOL_EXIT_OK && !found)
        rc = job_create(t, d, job);
    if (rc == TOOL_EXIT_OK)
        rc = sq_exec(t, d, "COMMIT");
    return rc == TOOL_EXIT_OK ? rc : undo(d, rc);
}

/* Claims items matching @s (bound: 1 worker, 2 lease, 3 job, 4 limit, 5
 * now, 6 cursor): appends their owner row ids to @ids; moves the cursor
 * past the last. */
static int claim_step(struct tool *t, struct sq_db *d, sqlite3_stmt *s,
                      long long *ids, size_t *n)
{
    int st = 0;

    while ((st = sqlite3_step(s)) == SQLITE_ROW) {
        ids[*n] = sqlite3_column_int64(s, 0);
        if (ids[*n] >= d->cursor)
            d->cursor = ids[*n] + 1;
        (*n)++;
    }
    sqlite3_reset(s);
    return st == SQLITE_DONE ? TOOL_EXIT_OK : sq_fail(t, d, "claim items");
}

/* Pending items are claimed in row order from this handle's cursor (a
 * walk of the primary key: no index on state to keep up, and the owners'
 * rows of a batch are neighbours); once none is left, claimed items whose
 * lease has expired. */
static int claim_ids(struct tool *t, struct sq_db *d,
                     const struct store_job *job, const char *worker,
                     size_t max, int lease_s, long long *ids, size_t *n)
{
    static const char *const sql[2] = {
        "UPDATE job_items SET state = 1, worker = ?1, lease_until = ?2 WHERE "
        "job = ?3 AND oid IN (SELECT oid FROM job_items WHERE job = ?3 AND "
        "oid >= ?6 AND state = 0 ORDER BY oid LIMIT ?4) AND ?5 IS NOT NULL "
        "RETURNING oid",
        "UPDATE job_items SET state = 1, worker = ?1, lease_until = ?2 WHERE "
        "job = ?3 AND oid IN (SELECT oid FROM job_items WHERE job = ?3 AND "
        "state = 1 AND lease_until < ?5 AND ?6 IS NOT NULL LIMIT ?4) "
        "RETURNING oid",
    };
    int i = 0, rc = TOOL_EXIT_OK;
    sqlite3_stmt *s = NULL;

    if (d->cursor_job != job->id) {
        d->cursor = 0;
        d->cursor_job = job->id;
    }
    for (i = 0; i < 2 && rc == TOOL_EXIT_OK && *n == 0; i++) {
        s = sq_stmt(t, d, i ? SQ_ITEM_EXPIRED : SQ_ITEM_CLAIM, sql[i]);
        if (s == NULL)
            return TOOL_EXIT_FAIL;
        sqlite3_bind_text(s, 1, worker, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, sq_now() + lease_s);
        sqlite3_bind_int64(s, 3, job->id);
        sqlite3_bind_int64(s, 4, (sqlite3_int64)max);
        sqlite3_bind_int64(s, 5, sq_now());
        sqlite3_bind_int64(s, 6, d->cursor);
        rc = claim_step(t, d, s, ids, n);
    }
    return rc;
}

/* Reads the owner row @id (with its blob) into @r; *@found. */
static int row_by_id(struct tool *t, struct sq_db *d, long long id,
                     struct store_row *r, int *found)
{
    sqlite3_stmt *s = sq_stmt(t, d, SQ_GET_ID, "SELECT " ROW_COLS ", blob "
                              "FROM owners WHERE id = ?");

    *found = 0;
    if (s == NULL)
        return TOOL_EXIT_FAIL;
    sqlite3_bind_int64(s, 1, id);
    return sq_step_row(t, d, s, 1, r, found);
}

/* Reads the rows of the claimed @ids into @rows; an owner that is gone has
 * its item marked done. */
static int claim_rows(struct tool *t, struct sq_db *d,
                      const struct store_job *job, const long long *ids,
                      size_t nids, struct store_row *rows, size_t *n)
{
    char sql[128];
    int found = 0, rc = TOOL_EXIT_OK;
    size_t i = 0;

    for (i = 0; i < nids && rc == TOOL_EXIT_OK; i++) {
        rc = row_by_id(t, d, ids[i], &rows[*n], &found);
        if (rc == TOOL_EXIT_OK && found) {
            (*n)++;
            continue;
        }
        snprintf(sql, sizeof sql, "UPDATE job_items SET state = 2 WHERE job "
                 "= %lld AND oid = %lld", job->id, ids[i]);
        if (rc == TOOL_EXIT_OK)
            rc = sq_exec(t, d, sql);
    }
    return rc;
}

int sq_job_claim(struct tool *t, struct store_db *db,
                 const struct store_job *job, const char *worker, size_t max,
                 int lease_s, struct store_row **rows, size_t *n)
{
    struct sq_db *d = (struct sq_db *)db;
    long long *ids = max ? calloc(max, sizeof *ids) : NULL;
    size_t nids = 0;
    int rc = TOOL_EXIT_OK;

    *n = 0;
    *rows = max ? calloc(max, sizeof **rows) : NULL;
    if (ids == NULL || *rows == NULL) {
        free(ids);
        free(*rows);
        *rows = NULL;
        return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    }
    rc = sq_exec(t, d, "BEGIN IMMEDIATE");
    if (rc == TOOL_EXIT_OK)
        rc = claim_ids(t, d, job, worker, max, lease_s, ids, &nids);
    if (rc == TOOL_EXIT_OK)
        rc = claim_rows(t, d, job, ids, nids, *rows, n);
    if (rc == TOOL_EXIT_OK)
        rc = sq_exec(t, d, "COMMIT");
    free(ids);
    if (rc != TOOL_EXIT_OK) {
        store_rows_free(*rows, *n);
        *rows = NULL;
        *n = 0;
        return undo(d, rc);
    }
    return TOOL_EXIT_OK;
}

/* Marks the item of @r done if @worker holds it (*@held), then moves the
 * owner's row. */
static int complete_one(struct tool *t, struct sq_db *d,
                        const struct store_job *job, const char *worker,
                        const struct store_row *r, int *held)
{
    sqlite3_stmt *s = sq_stmt(t, d, SQ_ITEM_DONE, "UPDATE job_items SET "
        "state = 2, worker = NULL, lease_until = NULL WHERE job = ?1 AND "
        "oid = (SELECT id FROM owners WHERE owner = ?2) AND state = 1 AND "
        "worker = ?3");
    int st = 0;

    *held = 0;
    if (s == NULL)
        return TOOL_EXIT_FAIL;
    sqlite3_bind_int64(s, 1, job->id);
    sqlite3_bind_blob(s, 2, r->owner, 16, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, worker, -1, SQLITE_STATIC);
    st = sqlite3_step(s);
    sqlite3_reset(s);
    if (st != SQLITE_DONE)
        return sq_fail(t, d, "complete an item");
    if (sqlite3_changes(d->h) == 0)
        return TOOL_EXIT_OK;
    *held = 1;
    s = sq_stmt(t, d, SQ_OWNER_MOVE, "UPDATE owners SET assigned = ?1, "
                "wrapped = ?2, version = ?3, blob = ?4, updated = ?5 WHERE "
                "owner = ?6");
    if (s == NULL || r->blob == NULL)
        return TOOL_EXIT_FAIL;
    sqlite3_bind_blob(s, 1, r->assigned, 16, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, r->wrapped, 16, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)r->version);
    sqlite3_bind_blob(s, 4, r->blob, (int)r->blob_len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, sq_now());
    sqlite3_bind_blob(s, 6, r->owner, 16, SQLITE_STATIC);
    st = sqlite3_step(s);
    sqlite3_reset(s);
    return st == SQLITE_DONE ? TOOL_EXIT_OK : sq_fail(t, d, "move an owner");
}

int sq_job_complete(struct tool *t, struct store_db *db,
                    const struct store_job *job, const char *worker,
                    const struct store_row *rows, size_t n, size_t *accepted)
{
    struct sq_db *d = (struct sq_db *)db;
    int rc = sq_exec(t, d, "BEGIN IMMEDIATE"), held = 0;
    size_t i = 0, ok = 0;

    *accepted = 0;
    for (i = 0; i < n && rc == TOOL_EXIT_OK; i++) {
        rc = complete_one(t, d, job, worker, &rows[i], &held);
        ok += (size_t)held;
    }
    if (rc == TOOL_EXIT_OK)
        rc = sq_exec(t, d, "COMMIT");
    if (rc != TOOL_EXIT_OK)
        return undo(d, rc);
    *accepted = ok;
    return TOOL_EXIT_OK;
}

int sq_job_release(struct tool *t, struct store_db *db,
                   const struct store_job *job, const char *worker)
{
    struct sq_db *d = (struct sq_db *)db;
    sqlite3_stmt *s = NULL;
    int any = worker != NULL && strcmp(worker, STORE_WORKER_ANY) == 0;
    int st = 0;
    char sql[192];

    snprintf(sql, sizeof sql, "UPDATE job_items SET state = 0, worker = "
             "NULL, lease_until = NULL WHERE job = ?1 AND state = 1%s",
             any ? "" : worker ? " AND worker = ?2" : " AND lease_until < ?3");
    if (sqlite3_prepare_v2(d->h, sql, -1, &s, NULL) != SQLITE_OK)
        return sq_fail(t, d, "release items");
    sqlite3_bind_int64(s, 1, job->id);
    if (worker != NULL && !any)
        sqlite3_bind_text(s, 2, worker, -1, SQLITE_STATIC);
    else if (worker == NULL)
        sqlite3_bind_int64(s, 3, sq_now());
    st = sqlite3_step(s);
    sqlite3_finalize(s);
    return st == SQLITE_DONE ? TOOL_EXIT_OK : sq_fail(t, d, "release items");
}

int sq_job_progress(struct tool *t, struct store_db *db,
                    const struct store_job *job, struct store_progress *p)
{
    struct sq_db *d = (struct sq_db *)db;
    sqlite3_stmt *s = sq_stmt(t, d, SQ_PROGRESS, "SELECT state, count(*), "
        "sum(lease_until < ?2) FROM job_items WHERE job = ?1 GROUP BY state");
    int st = 0;
    size_t c = 0;

    memset(p, 0, sizeof *p);
    if (s == NULL)
        return TOOL_EXIT_FAIL;
    sqlite3_bind_int64(s, 1, job->id);
    sqlite3_bind_int64(s, 2, sq_now());
    while ((st = sqlite3_step(s)) == SQLITE_ROW) {
        c = (size_t)sqlite3_column_int64(s, 1);
        switch (sqlite3_column_int(s, 0)) {
        case STORE_ITEM_PENDING: p->pending = c; break;
        case STORE_ITEM_CLAIMED:
            p->claimed = c;
            p->expired = (size_t)sqlite3_column_int64(s, 2);
            break;
        default: p->done = c; break;
        }
        p->total += c;
    }
    sqlite3_reset(s);
    return st == SQLITE_DONE ? TOOL_EXIT_OK : sq_fail(t, d, "job progress");
}

int sq_job_finish(struct tool *t, struct store_db *db,
                  const struct store_job *job, int *done)
{
    struct sq_db *d = (struct sq_db *)db;
    char sql[160];
    sqlite3_stmt *s = NULL;
    int rc = sq_exec(t, d, "BEGIN IMMEDIATE"), left = -1;

    *done = 0;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM job_items WHERE job = "
             "%lld AND state < 2", job->id);
    if (rc == TOOL_EXIT_OK &&
        sqlite3_prepare_v2(d->h, sql, -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        left = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (rc == TOOL_EXIT_OK && left < 0)
        rc = sq_fail(t, d, "finish the job");
    snprintf(sql, sizeof sql, "UPDATE jobs SET state = 1 WHERE id = %lld; "
             "DELETE FROM job_items WHERE job = %lld", job->id, job->id);
    if (rc == TOOL_EXIT_OK && left == 0)
        rc = sq_exec(t, d, sql);
    if (rc == TOOL_EXIT_OK)
        rc = sq_exec(t, d, "COMMIT");
    if (rc != TOOL_EXIT_OK)
        return undo(d, rc);
    *done = left == 0;
    return TOOL_EXIT_OK;
}
