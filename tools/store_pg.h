/*
 * store_pg.h - internals shared by the PostgreSQL store backend
 * (store_pg.c: connection, schema, owners; store_pg_job.c: the shared
 * re-wrap job). Not an interface: the tool sees store_db.h only.
 */
#ifndef DEP11_TOOL_STORE_PG_H
#define DEP11_TOOL_STORE_PG_H

#include <libpq-fe.h>

#include "store_db.h"

struct pg_db {
    struct store_db base;        /* first: ops and target */
    PGconn *conn;
    int in_tx;                   /* inside begin() .. commit()/rollback() */
    int rdonly;                  /* STORE_OPEN_RDONLY */
};

/* Statement parameters, all sent in binary with explicit types. */
#define PGA_MAX 10
struct pga {
    int n;
    Oid types[PGA_MAX];
    const char *vals[PGA_MAX];
    int lens[PGA_MAX];
    int fmts[PGA_MAX];
    unsigned char ints[PGA_MAX][8];
};

/* A value of type @type in its binary format (@len < 2^31). */
void pga_add(struct pga *a, Oid type, const void *p, size_t len);
void pga_bytes(struct pga *a, const void *p, size_t len);
void pga_id(struct pga *a, const unsigned char id[16]);
void pga_i64(struct pga *a, long long v);
void pga_text(struct pga *a, const char *s);
void pga_textn(struct pga *a, const char *s, size_t cap); /* not NUL-ended */
void pga_null(struct pga *a, Oid type);

/* Runs @sql with @a (NULL: none), results in binary. Returns the result
 * when its status is @want, else prints "@what: <server message>" and
 * returns NULL. */
PGresult *pg_run(struct tool *t, struct pg_db *db, const char *sql,
                 const struct pga *a, ExecStatusType want, const char *what);
/* pg_run of a command whose result is only checked (TOOL_EXIT_ code). */
int pg_cmd(struct tool *t, struct pg_db *db, const char *sql,
           const struct pga *a, const char *what, long long *rows);

/* Binary result columns. col_id refuses a value that is not 16 bytes. */
int col_id(const PGresult *r, int row, int col, unsigned char out[16]);
long long col_i64(const PGresult *r, int row, int col);
void col_text(const PGresult *r, int row, int col, char *dst, size_t cap);
/* One owners row (columns OWNER_COLS, blob last when @with_blob) into @o;
 * o->blob points into @r. 0 or -1 (a damaged row). */
int pg_row(const PGresult *r, int row, int with_blob, struct store_row *o);
#define OWNER_COLS "owner, kind, assigned, wrapped, version, created, updated"

/* A transaction of our own unless the caller's batch is open: *@own says
 * which; pg_tx_end commits (rc OK) or rolls back an own one. */
int pg_tx_begin(struct tool *t, struct pg_db *db, int *own);
int pg_tx_end(struct tool *t, struct pg_db *db, int own, int rc);

/* store_pg_job.c */
int pg_job_open(struct tool *t, struct store_db *db,
                const struct store_job_spec *spec, struct store_job *job);
int pg_job_claim(struct tool *t, struct store_db *db,
                 const struct store_job *job, const char *worker, size_t max,
                 int lease_s, struct store_row **rows, size_t *n);
int pg_job_complete(struct tool *t, struct store_db *db,
                    const struct store_job *job, const char *worker,
                    const struct store_row *rows, size_t n,
                    size_t *accepted);
int pg_job_release(struct tool *t, struct store_db *db,
                   const struct store_job *job, const char *worker);
int pg_job_progress(struct tool *t, struct store_db *db,
                    const struct store_job *job, struct store_progress *p);
int pg_job_finish(struct tool *t, struct store_db *db,
                  const struct store_job *job, int *done);

#endif
