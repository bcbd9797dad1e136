/*
 * store_sqlite.h - private to the SQLite backend (store_sqlite.c, the owner
 * calls; store_sqlite_job.c, the re-wrap job calls).
 */
#ifndef DEP11_TOOL_STORE_SQLITE_H
#define DEP11_TOOL_STORE_SQLITE_H

#include <sqlite3.h>

#include "store_db.h"

/* The cached statements. */
enum {
    SQ_GET, SQ_GET_BLOB, SQ_PUT, SQ_ASSIGN, SQ_INV, SQ_JOB_FIND,
    SQ_ITEM_CLAIM, SQ_ITEM_EXPIRED, SQ_ITEM_DONE, SQ_OWNER_MOVE,
    SQ_PROGRESS, SQ_GET_ID, SQ_N
};

/* The columns sq_row() reads, in its order (then the blob). */
#define ROW_COLS "owner, kind, assigned, wrapped, version, created, updated"

struct sq_db {
    struct store_db base;
    sqlite3 *h;
    int rdonly;
    sqlite3_stmt *st[SQ_N];
    long long cursor_job;        /* the job the claim cursor walks */
    long long cursor;            /* the next owner row id to claim from */
};

long long sq_now(void);
int sq_fail(struct tool *t, struct sq_db *d, const char *what);
sqlite3_stmt *sq_stmt(struct tool *t, struct sq_db *d, int i,
                      const char *sql);
int sq_exec(struct tool *t, struct sq_db *d, const char *sql);
int sq_row(sqlite3_stmt *s, int with_blob, struct store_row *r);
int sq_step_row(struct tool *t, struct sq_db *d, sqlite3_stmt *s,
                int with_blob, struct store_row *r, int *found);
int sq_get_row(struct tool *t, struct sq_db *d, const unsigned char *owner,
               int with_blob, struct store_row *r, int *found);
int sq_put_row(struct tool *t, struct sq_db *d, const struct store_row *r);

int sq_job_open(struct tool *t, struct store_db *db,
                const struct store_job_spec *spec, struct store_job *job);
int sq_job_claim(struct tool *t, struct store_db *db,
                 const struct store_job *job, const char *worker, size_t max,
                 int lease_s, struct store_row **rows, size_t *n);
int sq_job_complete(struct tool *t, struct store_db *db,
                    const struct store_job *job, const char *worker,
                    const struct store_row *rows, size_t n, size_t *accepted);
int sq_job_release(struct tool *t, struct store_db *db,
                   const struct store_job *job, const char *worker);
int sq_job_progress(struct tool *t, struct store_db *db,
                    const struct store_job *job, struct store_progress *p);
int sq_job_finish(struct tool *t, struct store_db *db,
                  const struct store_job *job, int *done);

#endif
