/*
 * store_pg.c - the child-blob store on PostgreSQL (libpq): --store
 * postgresql://... names a database. The connection, the schema (version
 * check, creation, migration), batches and the owners; the shared re-wrap
 * job is in store_pg_job.c. docs/STORE.md has the schema.
 *
 * A password never comes from the command line: a URI that carries one is
 * refused before any connection; libpq reads it from PGPASSFILE (or
 * ~/.pgpass) or PGPASSWORD. Every parameter is sent in binary with its
 * type (no SQL is built from input).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_pg.h"
#include "tool.h"

#define BYTEAOID 17
#define INT8OID 20
#define TEXTOID 25

/* Serialises schema creation and migration between workers. */
#define PG_SCHEMA_LOCK "SELECT pg_advisory_xact_lock(4919131854524871473)"

static const char pg_schema_v1[] =
    "CREATE TABLE store_version (version INTEGER NOT NULL);"
    "CREATE TABLE owners ("
    " owner bytea NOT NULL PRIMARY KEY, kind text NOT NULL,"
    " assigned bytea NOT NULL, wrapped bytea NOT NULL,"
    " version bigint NOT NULL, blob bytea NOT NULL,"
    " created bigint NOT NULL, updated bigint NOT NULL);"
    "CREATE INDEX owners_inv ON owners (assigned, wrapped, version, kind);"
    "CREATE TABLE jobs ("
    " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " target bytea NOT NULL, version bigint NOT NULL, from_pol bytea,"
    " state integer NOT NULL, created bigint NOT NULL,"
    " total bigint NOT NULL);"
    "CREATE TABLE job_items ("
    " job bigint NOT NULL, owner bytea NOT NULL,"
    " state integer NOT NULL, worker text, lease_until bigint,"
    " PRIMARY KEY (job, owner));"
    "CREATE INDEX job_items_state ON job_items (job, state, lease_until);"
    "INSERT INTO store_version VALUES (1);";

/* ---- parameters and results ---- */

static void pga_addf(struct pga *a, Oid type, const void *p, int len, int fmt)
{
    if (a->n >= PGA_MAX)
        abort(); /* a programming error, never input */
    a->types[a->n] = type;
    a->vals[a->n] = p;
    a->lens[a->n] = len;
    a->fmts[a->n] = fmt;
    a->n++;
}

void pga_add(struct pga *a, Oid type, const void *p, size_t len)
{
    pga_addf(a, type, p, (int)len, 1);
}

void pga_bytes(struct pga *a, const void *p, size_t len)
{
    pga_addf(a, BYTEAOID, p ? p : "", (int)len, 1);
}

void pga_id(struct pga *a, const unsigned char id[16])
{
    pga_bytes(a, id, 16);
}

void pga_i64(struct pga *a, long long v)
{
    uint64_t u = (uint64_t)v;
    unsigned char *b = a->ints[a->n < PGA_MAX ? a->n : 0];

    for (int i = 7; i >= 0; i--, u >>= 8)
        b[i] = (unsigned char)(u & 0xff);
    pga_addf(a, INT8OID, b, 8, 1);
}

void pga_text(struct pga *a, const char *s)
{
    pga_addf(a, TEXTOID, s, (int)strlen(s), 1);
}

void pga_textn(struct pga *a, const char *s, size_t cap)
{
    pga_addf(a, TEXTOID, s, (int)strnlen(s, cap), 1);
}

void pga_null(struct pga *a, Oid type)
{
    pga_addf(a, type, NULL, 0, 1);
}

/* The server's message without its trailing newline, for tool_error. */
static void pg_msg(const char *m, char *out, size_t cap)
{
    size_t n = 0;

    snprintf(out, cap, "%s", m && *m ? m : "no message");
    n = strlen(out);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
        out[--n] = '\0';
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
}

PGresult *pg_run(struct tool *t, struct pg_db *db, const char *sql,
                 const struct pga *a, ExecStatusType want, const char *what)
{
    PGresult *r = NULL;
    char msg[512];

    r = PQexecParams(db->conn, sql, a ? a->n : 0, a ? a->types : NULL,
                     a ? a->vals : NULL, a ? a->lens : NULL,
                     a ? a->fmts : NULL, 1);
    /* A command's result may carry rows too (SELECT pg_advisory_...). */
    if (r != NULL && (PQresultStatus(r) == want ||
                      (want == PGRES_COMMAND_OK &&
                       PQresultStatus(r) == PGRES_TUPLES_OK)))
        return r;
    pg_msg(r ? PQresultErrorMessage(r) : PQerrorMessage(db->conn), msg,
           sizeof msg);
    if (PQstatus(db->conn) != CONNECTION_OK)
        tool_error(t, TOOL_EXIT_FAIL, "PostgreSQL store %s: %s: connection "
                   "lost: %s", db->base.target, what, msg);
    else
        tool_error(t, TOOL_EXIT_FAIL, "PostgreSQL store %s: %s: %s",
                   db->base.target, what, msg);
    PQclear(r);
    return NULL;
}

int pg_cmd(struct tool *t, struct pg_db *db, const char *sql,
           const struct pga *a, const char *what, long long *rows)
{
    PGresult *r = pg_run(t, db, sql, a, PGRES_COMMAND_OK, what);

    if (r == NULL)
        return TOOL_EXIT_FAIL;
    if (rows != NULL)
        *rows = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return TOOL_EXIT_OK;
}

int col_id(const PGresult *r, int row, int col, unsigned char out[16])
{
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 16)
        return -1;
    memcpy(out, PQgetvalue(r, row, col), 16);
    return 0;
}

long long col_i64(const PGresult *r, int row, int col)
{
    const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
    int len = PQgetlength(r, row, col);
    uint64_t u = 0;

    if (PQgetisnull(r, row, col) || (len != 8 && len != 4))
        return 0;
    for (int i = 0; i < len; i++)
        u = (u << 8) | p[i];
    if (len == 4)
        return (long long)(int32_t)(uint32_t)u;
    return (long long)u;
}

void col_text(const PGresult *r, int row, int col, char *dst, size_t cap)
{
    size_t len = (size_t)PQgetlength(r, row, col);

    if (len >= cap)
        len = cap - 1;
    memcpy(dst, PQgetvalue(r, row, col), len);
    dst[len] = '\0';
}

int pg_row(const PGresult *r, int row, int with_blob, struct store_row *o)
{
    memset(o, 0, sizeof *o);
    if (col_id(r, row, 0, o->owner) != 0 || col_id(r, row, 2, o->assigned) ||
        col_id(r, row, 3, o->wrapped) != 0)
        return -1;
    col_text(r, row, 1, o->kind, sizeof o->kind);
    o->version = (unsigned long)col_i64(r, row, 4);
    o->created = col_i64(r, row, 5);
    o->updated = col_i64(r, row, 6);
    if (with_blob) {
        o->blob = (unsigned char *)PQgetvalue(r, row, 7);
        o->blob_len = (size_t)PQgetlength(r, row, 7);
    }
    return 0;
}

/* ---- transactions ---- */

static int pg_begin(struct tool *t, struct store_db *d)
{
    struct pg_db *db = (struct pg_db *)d;

    if (db->in_tx)
        return tool_error(t, TOOL_EXIT_FAIL, "internal: nested batch");
    if (pg_cmd(t, db, "BEGIN", NULL, "begin a batch", NULL) != TOOL_EXIT_OK)
        return TOOL_EXIT_FAIL;
    db->in_tx = 1;
    return TOOL_EXIT_OK;
}

static int pg_commit(struct tool *t, struct store_db *d)
{
    struct pg_db *db = (struct pg_db *)d;
    PGresult *r = NULL;
    int rc = TOOL_EXIT_FAIL;

    db->in_tx = 0;
    r = pg_run(t, db, "COMMIT", NULL, PGRES_COMMAND_OK, "commit a batch");
    if (r == NULL)
        return TOOL_EXIT_FAIL;
    /* A transaction that failed earlier answers COMMIT with ROLLBACK. */
    if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
        tool_error(t, TOOL_EXIT_FAIL, "PostgreSQL store %s: the batch was "
                   "rolled back", db->base.target);
    else
        rc = TOOL_EXIT_OK;
    PQclear(r);
    return rc;
}

static int pg_rollback(struct tool *t, struct store_db *d)
{
    struct pg_db *db = (struct pg_db *)d;

    db->in_tx = 0;
    return pg_cmd(t, db, "ROLLBACK", NULL, "roll a batch back", NULL);
}

int pg_tx_begin(struct tool *t, struct pg_db *db, int *own)
{
    *own = !db->in_tx;
    return *own ? pg_begin(t, &db->base) : TOOL_EXIT_OK;
}

int pg_tx_end(struct tool *t, struct pg_db *db, int own, int rc)
{
    if (!own)
        return rc;
    if (rc == TOOL_EXIT_OK)
        return pg_commit(t, &db->base);
    (void)pg_rollback(t, &db->base);
    return rc;
}

/* ---- the connection and the schema ---- */

/* Refuses a URI that libpq cannot parse or that carries a password. */
static int pg_check_uri(struct tool *t, const char *target)
{
    char *err = NULL, msg[512];
    PQconninfoOption *o = PQconninfoParse(target, &err);
    int rc = TOOL_EXIT_OK;

    if (o == NULL) {
        pg_msg(err ? err : "out of memory", msg, sizeof msg);
        PQfreemem(err);
        return tool_error(t, TOOL_EXIT_USAGE, "bad PostgreSQL connection "
                          "URI: %s", msg);
    }
    for (const PQconninfoOption *p = o; p->keyword != NULL; p++)
        if (strcmp(p->keyword, "password") == 0 && p->val && p->val[0])
            rc = tool_error(t, TOOL_EXIT_USAGE, "the --store URI carries a "
                            "password: never give one on the command line; "
                            "put it in PGPASSFILE (or ~/.pgpass) or "
                            "PGPASSWORD");
    PQconninfoFree(o);
    return rc;
}

static void pg_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int pg_read_version(struct tool *t, struct pg_db *db, int *version)
{
    PGresult *r = NULL;
    int rc = TOOL_EXIT_FAIL;

    *version = 0;
    r = pg_run(t, db, "SELECT to_regclass('store_version') IS NOT NULL",
               NULL, PGRES_TUPLES_OK, "read the schema version");
    if (r == NULL)
        return TOOL_EXIT_FAIL;
    if (PQgetvalue(r, 0, 0)[0] == 0) {
        PQclear(r);
        return TOOL_EXIT_OK; /* no schema: version 0 */
    }
    PQclear(r);
    r = pg_run(t, db, "SELECT version::bigint FROM store_version", NULL,
               PGRES_TUPLES_OK, "read the schema version");
    if (r == NULL)
        return TOOL_EXIT_FAIL;
    if (PQntuples(r) != 1 || col_i64(r, 0, 0) < 1)
        tool_error(t, TOOL_EXIT_FAIL, "PostgreSQL store %s is damaged: "
                   "store_version holds %d rows", db->base.target,
                   PQntuples(r));
    else {
        *version = (int)col_i64(r, 0, 0);
        rc = TOOL_EXIT_OK;
    }
    PQclear(r);
    return rc;
}

static int pg_schema_version(struct tool *t, struct store_db *d, int *version)
{
    return pg_read_version(t, (struct pg_db *)d, version);
}

/* Checks (and with @flags creates or migrates) the schema, one
 * transaction. */
static int pg_schema(struct tool *t, struct pg_db *db, int flags)
{
    int rc = TOOL_EXIT_FAIL, own = 0, v = 0;

    if (pg_tx_begin(t, db, &own) != TOOL_EXIT_OK)
        return TOOL_EXIT_FAIL;
    if (!(flags & STORE_OPEN_RDONLY) &&
        pg_cmd(t, db, PG_SCHEMA_LOCK, NULL, "lock the schema", NULL) != 0)
        goto out;
    if ((rc = pg_read_version(t, db, &v)) != TOOL_EXIT_OK)
        goto out;
    rc = TOOL_EXIT_FAIL;
    if (v > STORE_SCHEMA_VERSION) {
        tool_error(t, TOOL_EXIT_FAIL, "PostgreSQL store %s has schema "
                   "version %d; this dep11-tool knows up to %d (nothing "
                   "changed)", db->base.target, v, STORE_SCHEMA_VERSION);
    } else if (v == 0 && !(flags & STORE_OPEN_CREATE)) {
        rc = tool_error(t, TOOL_EXIT_USAGE, "%s is not a dep11 store (no "
                        "store_version table)", db->base.target);
    } else if (v == 0) {
        PGresult *r = PQexec(db->conn, pg_schema_v1);
        if (PQresultStatus(r) == PGRES_COMMAND_OK)
            rc = TOOL_EXIT_OK;
        else
            tool_error(t, TOOL_EXIT_FAIL, "PostgreSQL store %s: cannot "
                       "create the schema: %s", db->base.target,
                       PQerrorMessage(db->conn));
        PQclear(r);
    } else {
        /* v == STORE_SCHEMA_VERSION: no migration step exists yet. */
        rc = TOOL_EXIT_OK;
    }
out:
    return pg_tx_end(t, db, own, rc);
}

static void pg_close(struct store_db *d)
{
    struct pg_db *db = (struct pg_db *)d;

    if (db == NULL)
        return;
    PQfinish(db->conn);
    free(db->base.target);
    free(db);
}

static int pg_open(struct tool *t, const char *target, int flags,
                   struct store_db **out)
{
    struct pg_db *db = NULL;
    char msg[512];
    int rc = TOOL_EXIT_FAIL;

    *out = NULL;
    if ((rc = pg_check_uri(t, target)) != TOOL_EXIT_OK)
        return rc;
    db = calloc(1, sizeof *db);
    if (db == NULL || (db->base.target = strdup(target)) == NULL) {
        rc = tool_error(t, TOOL_EXIT_FAIL, "out of memory");
        goto out;
    }
    db->base.ops = &store_pg_ops;
    db->rdonly = !!(flags & STORE_OPEN_RDONLY);
    db->conn = PQconnectdb(target);
    if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
        pg_msg(db->conn ? PQerrorMessage(db->conn) : "out of memory", msg,
               sizeof msg);
        rc = tool_error(t, TOOL_EXIT_FAIL, "cannot connect to the "
                        "PostgreSQL store %s: %s", target, msg);
        goto out;
    }
    PQsetNoticeProcessor(db->conn, pg_quiet, NULL);
    if ((rc = pg_schema(t, db, flags)) != TOOL_EXIT_OK)
        goto out;
    if (db->rdonly)
        rc = pg_cmd(t, db, "SET default_transaction_read_only = on", NULL,
                    "open read-only", NULL);
out:
    if (rc != TOOL_EXIT_OK)
        pg_close(db ? &db->base : NULL);
    else
        *out = &db->base;
    return rc;
}

/* ---- owners ---- */

static int pg_get(struct tool *t, struct store_db *d,
                  const unsigned char *owner, int with_blob,
                  struct store_row *r, int *found)
{
    struct pg_db *db = (struct pg_db *)d;
    struct pga a = {0};
    PGresult *res = NULL;
    unsigned char id[16];
    int rc = TOOL_EXIT_FAIL;

    memcpy(id, owner, 16); /* @owner may be r->owner */
    memset(r, 0, sizeof *r);
    *found = 0;
    pga_id(&a, id);
    res = pg_run(t, db, with_blob
                 ? "SELECT " OWNER_COLS ", blob FROM owners WHERE owner = $1"
                 : "SELECT " OWNER_COLS " FROM owners WHERE owner = $1",
                 &a, PGRES_TUPLES_OK, "read an owner");
    if (res == NULL)
        return TOOL_EXIT_FAIL;
    if (PQntuples(res) == 0) {
        rc = TOOL_EXIT_OK;
    } else if (pg_row(res, 0, with_blob, r) != 0) {
        memset(r, 0, sizeof *r);
        tool_error(t, TOOL_EXIT_FAIL, "PostgreSQL store %s: a damaged owner "
                   "row", db->base.target);
    } else {
        rc = TOOL_EXIT_OK;
        *found = 1;
        if (with_blob) {
            unsigned char *copy = malloc(r->blob_len ? r->blob_len : 1);
            if (copy == NULL)
                rc = tool_error(t, TOOL_EXIT_FAIL, "out of memory");
            else
                memcpy(copy, r->blob, r->blob_len);
            r->blob = copy;
        }
    }
    PQclear(res);
    return rc;
}

static int pg_put(struct tool *t, struct store_db *d, const struct store_row *r)
{
    struct pga a = {0};

    if (r->blob == NULL || r->blob_len == 0)
        return tool_error(t, TOOL_EXIT_FAIL, "internal: an owner without a "
                          "blob");
    pga_id(&a, r->owner);
    pga_textn(&a, r->kind, sizeof r->kind);
    pga_id(&a, r->assigned);
    pga_id(&a, r->wrapped);
    pga_i64(&a, (long long)r->version);
    pga_bytes(&a, r->blob, r->blob_len);
    pga_i64(&a, (long long)time(NULL));
    return pg_cmd(t, (struct pg_db *)d,
                  "INSERT INTO owners (owner, kind, assigned, wrapped, "
                  "version, blob, created, updated) "
                  "VALUES ($1, $2, $3, $4, $5, $6, $7, $7) "
                  "ON CONFLICT (owner) DO UPDATE SET kind = EXCLUDED.kind, "
                  "assigned = EXCLUDED.assigned, wrapped = EXCLUDED.wrapped, "
                  "version = EXCLUDED.version, blob = EXCLUDED.blob, "
                  "updated = EXCLUDED.updated", &a, "write an owner", NULL);
}

static int pg_set_assigned(struct tool *t, struct store_db *d,
                           const unsigned char *owner,
                           const unsigned char *assigned, int *found)
{
    struct pga a = {0};
    long long n = 0;
    int rc = TOOL_EXIT_FAIL;

    pga_id(&a, owner);
    pga_id(&a, assigned);
    pga_i64(&a, (long long)time(NULL));
    rc = pg_cmd(t, (struct pg_db *)d, "UPDATE owners SET assigned = $2, "
                "updated = $3 WHERE owner = $1", &a, "assign an owner", &n);
    *found = n > 0;
    return rc;
}

static int pg_inventory(struct tool *t, struct store_db *d,
                        struct store_count **out, size_t *n)
{
    struct pg_db *db = (struct pg_db *)d;
    PGresult *r = NULL;
    struct store_count *c = NULL;
    int rows = 0, rc = TOOL_EXIT_FAIL;

    *out = NULL;
    *n = 0;
    r = pg_run(t, db, "SELECT assigned, wrapped, version, kind, count(*) "
               "FROM owners GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4", NULL,
               PGRES_TUPLES_OK, "count the owners");
    if (r == NULL)
        return TOOL_EXIT_FAIL;
    rows = PQntuples(r);
    c = calloc(rows ? (size_t)rows : 1, sizeof *c);
    if (c == NULL) {
        rc = tool_error(t, TOOL_EXIT_FAIL, "out of memory");
        goto out;
    }
    for (int i = 0; i < rows; i++) {
        if (col_id(r, i, 0, c[i].assigned) || col_id(r, i, 1, c[i].wrapped)) {
            tool_error(t, TOOL_EXIT_FAIL, "PostgreSQL store %s: a damaged "
                       "owner row", db->base.target);
            goto out;
        }
        c[i].version = (unsigned long)col_i64(r, i, 2);
        col_text(r, i, 3, c[i].kind, sizeof c[i].kind);
        c[i].n = (size_t)col_i64(r, i, 4);
    }
    *out = c;
    *n = (size_t)rows;
    c = NULL;
    rc = TOOL_EXIT_OK;
out:
    free(c);
    PQclear(r);
    return rc;
}

/* Rows per page of list(): the callback runs between pages, with no query
 * in flight, so it may use the store itself. */
#define LIST_PAGE 1000

static int pg_list(struct tool *t, struct store_db *d,
                   const unsigned char *policy, int with_blob,
                   store_row_cb cb, void *ctx)
{
    struct pg_db *db = (struct pg_db *)d;
    unsigned char last[16];
    size_t last_len = 0;
    char sql[320];
    int rc = TOOL_EXIT_OK, rows = LIST_PAGE;

    snprintf(sql, sizeof sql, "SELECT " OWNER_COLS "%s FROM owners "
             "WHERE owner > $1 %s ORDER BY owner LIMIT %d",
             with_blob ? ", blob" : "",
             policy ? "AND (wrapped = $2 OR assigned = $2)" : "", LIST_PAGE);
    while (rc == TOOL_EXIT_OK && rows == LIST_PAGE) {
        struct pga a = {0};
        PGresult *r = NULL;

        pga_bytes(&a, last, last_len);
        if (policy != NULL)
            pga_id(&a, policy);
        r = pg_run(t, db, sql, &a, PGRES_TUPLES_OK, "list the owners");
        if (r == NULL)
            return TOOL_EXIT_FAIL;
        rows = PQntuples(r);
        for (int i = 0; i < rows && rc == TOOL_EXIT_OK; i++) {
            struct store_row o;
            if (pg_row(r, i, with_blob, &o) != 0)
                rc = tool_error(t, TOOL_EXIT_FAIL, "PostgreSQL store %s: a "
                                "damaged owner row", db->base.target);
            else
                rc = cb(ctx, &o);
            memcpy(last, o.owner, 16);
            last_len = 16;
        }
        PQclear(r);
    }
    return rc;
}

const struct store_ops store_pg_ops = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .schema_version = pg_schema_version,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .get = pg_get,
    .put = pg_put,
    .set_assigned = pg_set_assigned,
    .inventory = pg_inventory,
    .list = pg_list,
    .job_open = pg_job_open,
    .job_claim = pg_job_claim,
    .job_complete = pg_job_complete,
    .job_release = pg_job_release,
    .job_progress = pg_job_progress,
    .job_finish = pg_job_finish,
};
