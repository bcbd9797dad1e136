/*
 * store_sqlite.c - the SQLite backend of the child-blob store (the embedded
 * default): one database file in WAL mode, the schema of docs/STORE.md, a
 * version table and its migrations, and the owner calls of store_db.h. The
 * re-wrap job calls are in store_sqlite_job.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tool.h"
#include "store_sqlite.h"

/* The schema, version by version: step i takes version i to i + 1. */
static const char *const migrations[] = {
    "CREATE TABLE store_version (version INTEGER NOT NULL);"
    "INSERT INTO store_version VALUES (0);"
    "CREATE TABLE owners (id INTEGER PRIMARY KEY, owner BLOB NOT NULL "
    "UNIQUE, kind TEXT NOT NULL, assigned BLOB NOT NULL, wrapped BLOB NOT "
    "NULL, version BIGINT NOT NULL, blob BLOB NOT NULL, created BIGINT NOT "
    "NULL, updated BIGINT NOT NULL);"
    "CREATE INDEX owners_inv ON owners (assigned, wrapped, version, kind);"
    "CREATE TABLE jobs (id INTEGER PRIMARY KEY, target BLOB NOT NULL, "
    "version BIGINT NOT NULL, from_pol BLOB, state INTEGER NOT NULL, "
    "created BIGINT NOT NULL, total BIGINT NOT NULL);"
    "CREATE TABLE job_items (job BIGINT NOT NULL REFERENCES jobs (id), "
    "oid BIGINT NOT NULL, state INTEGER NOT NULL, worker TEXT, lease_until "
    "BIGINT, PRIMARY KEY (job, oid)) WITHOUT ROWID;",
};
#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])

long long sq_now(void)
{
    return (long long)time(NULL);
}

/* Prints "store PATH: @what: <sqlite's reason>" and returns the exit code:
 * TOOL_EXIT_USAGE for a file that is not a database, else _FAIL. */
int sq_fail(struct tool *t, struct sq_db *d, const char *what)
{
    int ec = sqlite3_extended_errcode(d->h);
    int code = ec & 0xff;

    if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
        return tool_error(t, code == SQLITE_NOTADB ? TOOL_EXIT_USAGE :
                          TOOL_EXIT_FAIL, "store %s is not a dep11 store or "
                          "is damaged (%s: %s)", d->base.target, what,
                          sqlite3_errmsg(d->h));
    if (code == SQLITE_READONLY)
        return tool_error(t, TOOL_EXIT_FAIL, "store %s is read-only (%s: "
                          "%s)", d->base.target, what, sqlite3_errmsg(d->h));
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
        return tool_error(t, TOOL_EXIT_FAIL, "store %s is busy (another "
                          "writer holds it): %s", d->base.target, what);
    return tool_error(t, TOOL_EXIT_FAIL, "store %s: %s: %s", d->base.target,
                      what, sqlite3_errmsg(d->h));
}

/* The cached statement @sql (prepared on first use). NULL: printed. */
sqlite3_stmt *sq_stmt(struct tool *t, struct sq_db *d, int i, const char *sql)
{
    if (d->st[i] == NULL &&
        sqlite3_prepare_v3(d->h, sql, -1, SQLITE_PREPARE_PERSISTENT,
                           &d->st[i], NULL) != SQLITE_OK) {
        (void)sq_fail(t, d, "prepare");
        return NULL;
    }
    sqlite3_reset(d->st[i]);
    sqlite3_clear_bindings(d->st[i]);
    return d->st[i];
}

int sq_exec(struct tool *t, struct sq_db *d, const char *sql)
{
    if (sqlite3_exec(d->h, sql, NULL, NULL, NULL) != SQLITE_OK)
        return sq_fail(t, d, sql);
    return TOOL_EXIT_OK;
}

/* Reads store_version (0 when the database is empty). -1: not a store. */
static int read_version(struct tool *t, struct sq_db *d, int *v)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(d->h, "SELECT count(*) FROM sqlite_master",
                                -1, &s, NULL);
    int ntables = -1;

    *v = -1;
    if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        ntables = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    s = NULL;
    if (ntables < 0)
        return sq_fail(t, d, "read the schema");
    if (ntables == 0) {
        *v = 0;
        return TOOL_EXIT_OK;
    }
    if (sqlite3_prepare_v2(d->h, "SELECT version FROM store_version", -1, &s,
                           NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        *v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (*v < 0)
        return tool_error(t, TOOL_EXIT_USAGE, "%s is not a dep11 store (an "
                          "SQLite database without a store_version table)",
                          d->base.target);
    return TOOL_EXIT_OK;
}

/* Runs the migrations from @from up to STORE_SCHEMA_VERSION, one
 * transaction for all. */
static int migrate(struct tool *t, struct sq_db *d, int from)
{
    char sql[64];
    int rc = sq_exec(t, d, "BEGIN IMMEDIATE"), v = from;

    for (; rc == TOOL_EXIT_OK && v < (int)N_MIGRATIONS; v++)
        rc = sq_exec(t, d, migrations[v]);
    snprintf(sql, sizeof sql, "UPDATE store_version SET version = %d", v);
    if (rc == TOOL_EXIT_OK)
        rc = sq_exec(t, d, sql);
    if (rc == TOOL_EXIT_OK)
        rc = sq_exec(t, d, "COMMIT");
    if (rc != TOOL_EXIT_OK)
        (void)sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Checks (and with the flags, creates or migrates) the schema. */
static int check_schema(struct tool *t, struct sq_db *d, int flags)
{
    int v = 0, rc = read_version(t, d, &v);

    if (rc != TOOL_EXIT_OK)
        return rc;
    if (v > STORE_SCHEMA_VERSION)
        return tool_error(t, TOOL_EXIT_FAIL, "store %s has schema version "
                          "%d; this dep11-tool knows up to %d: use a newer "
                          "dep11-tool", d->base.target, v,
                          STORE_SCHEMA_VERSION);
    if (v == STORE_SCHEMA_VERSION)
        return TOOL_EXIT_OK;
    if (v == 0 && !(flags & STORE_OPEN_CREATE))
        return tool_error(t, TOOL_EXIT_USAGE, "%s is not a dep11 store (an "
                          "empty database)", d->base.target);
    if (v > 0 && !(flags & STORE_OPEN_MIGRATE))
        return tool_error(t, TOOL_EXIT_FAIL, "store %s has schema version "
                          "%d: open it with a command that writes to migrate "
                          "it to %d", d->base.target, v, STORE_SCHEMA_VERSION);
    if (flags & STORE_OPEN_RDONLY)
        return tool_error(t, TOOL_EXIT_FAIL, "store %s needs a migration; "
                          "it is opened read-only", d->base.target);
    return migrate(t, d, v);
}

/* Is @path absent (and may it be created)? Prints when it may not. */
static int path_check(struct tool *t, const char *path, int flags)
{
    struct stat st;

    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return tool_error(t, TOOL_EXIT_USAGE, "%s is a directory, not a "
                          "store database", path);
    if (stat(path, &st) != 0 && errno == ENOENT &&
        !(flags & STORE_OPEN_CREATE))
        return tool_error(t, TOOL_EXIT_USAGE, "%s is not a dep11 store (no "
                          "such file)", path);
    return TOOL_EXIT_OK;
}

static int sq_open(struct tool *t, const char *target, int flags,
                   struct store_db **out)
{
    struct sq_db *d = NULL;
    int of = (flags & STORE_OPEN_RDONLY) ? SQLITE_OPEN_READONLY :
             SQLITE_OPEN_READWRITE | ((flags & STORE_OPEN_CREATE) ?
                                      SQLITE_OPEN_CREATE : 0);
    int rc = path_check(t, target, flags);

    *out = NULL;
    if (rc != TOOL_EXIT_OK)
        return rc;
    d = calloc(1, sizeof *d);
    if (d == NULL || (d->base.target = strdup(target)) == NULL) {
        free(d);
        return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    }
    d->base.ops = &store_sqlite_ops;
    d->rdonly = !!(flags & STORE_OPEN_RDONLY);
    if (sqlite3_open_v2(target, &d->h, of | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK)
        rc = sq_fail(t, d, "open");
    if (rc == TOOL_EXIT_OK)
        (void)sqlite3_busy_timeout(d->h, 30000);
    if (rc == TOOL_EXIT_OK) /* nothing is written before this check */
        rc = check_schema(t, d, flags);
    if (rc == TOOL_EXIT_OK && !d->rdonly)
        rc = sq_exec(t, d, "PRAGMA journal_mode=WAL");
    if (rc == TOOL_EXIT_OK) /* WAL: durable at commit against a crash of
                                the process; a checkpoint syncs the file */
        rc = sq_exec(t, d, "PRAGMA synchronous=NORMAL; PRAGMA cache_size="
                     "-262144");
    if (rc != TOOL_EXIT_OK) {
        store_sqlite_ops.close(&d->base);
        return rc;
    }
    *out = &d->base;
    return TOOL_EXIT_OK;
}

static void sq_close(struct store_db *db)
{
    struct sq_db *d = (struct sq_db *)db;
    int i = 0;

    if (d == NULL)
        return;
    for (i = 0; i < SQ_N; i++)
        sqlite3_finalize(d->st[i]);
    sqlite3_close(d->h);
    free(d->base.target);
    free(d);
}

static int sq_schema_version(struct tool *t, struct store_db *db, int *v)
{
    return read_version(t, (struct sq_db *)db, v);
}

static int sq_begin(struct tool *t, struct store_db *db)
{
    return sq_exec(t, (struct sq_db *)db, "BEGIN IMMEDIATE");
}

static int sq_commit(struct tool *t, struct store_db *db)
{
    return sq_exec(t, (struct sq_db *)db, "COMMIT");
}

static int sq_rollback(struct tool *t, struct store_db *db)
{
    return sq_exec(t, (struct sq_db *)db, "ROLLBACK");
}

/* Copies a 16-byte id column (a wrong length is a damaged row). */
static int col16(sqlite3_stmt *s, int i, unsigned char *out)
{
    if (sqlite3_column_bytes(s, i) != 16)
        return -1;
    memcpy(out, sqlite3_column_blob(s, i), 16);
    return 0;
}

/* Reads the row at @s: owner, kind, assigned, wrapped, version, created,
 * updated[, blob]. 0 or -1 (damaged). */
int sq_row(sqlite3_stmt *s, int with_blob, struct store_row *r)
{
    const unsigned char *kind = sqlite3_column_text(s, 1);
    int n = with_blob ? sqlite3_column_bytes(s, 7) : 0;

    memset(r, 0, sizeof *r);
    if (col16(s, 0, r->owner) || col16(s, 2, r->assigned) ||
        col16(s, 3, r->wrapped) || kind == NULL ||
        strlen((const char *)kind) >= sizeof r->kind)
        return -1;
    strcpy(r->kind, (const char *)kind);
    r->version = (unsigned long)sqlite3_column_int64(s, 4);
    r->created = sqlite3_column_int64(s, 5);
    r->updated = sqlite3_column_int64(s, 6);
    if (!with_blob)
        return 0;
    if (n <= 0 || (r->blob = malloc((size_t)n)) == NULL)
        return -1;
    memcpy(r->blob, sqlite3_column_blob(s, 7), (size_t)n);
    r->blob_len = (size_t)n;
    return 0;
}

/* Steps the bound statement @s for at most one row into @r (*@found),
 * then resets it. */
int sq_step_row(struct tool *t, struct sq_db *d, sqlite3_stmt *s,
                int with_blob, struct store_row *r, int *found)
{
    int rc = TOOL_EXIT_OK, st = sqlite3_step(s);

    *found = 0;
    if (st == SQLITE_ROW && sq_row(s, with_blob, r) != 0) {
        store_row_clear(r);
        rc = tool_error(t, TOOL_EXIT_FAIL, "store %s: the row of an owner "
                        "is damaged", d->base.target);
    } else if (st == SQLITE_ROW) {
        *found = 1;
    } else if (st != SQLITE_DONE) {
        rc = sq_fail(t, d, "read an owner");
    }
    sqlite3_reset(s);
    return rc;
}

int sq_get_row(struct tool *t, struct sq_db *d, const unsigned char *owner,
               int with_blob, struct store_row *r, int *found)
{
    sqlite3_stmt *s = with_blob ?
        sq_stmt(t, d, SQ_GET_BLOB, "SELECT " ROW_COLS ", blob FROM owners "
                "WHERE owner = ?") :
        sq_stmt(t, d, SQ_GET, "SELECT " ROW_COLS " FROM owners WHERE "
                "owner = ?");
    unsigned char id[16];
    int rc = TOOL_EXIT_OK;

    memcpy(id, owner, 16); /* @owner may point into @r */
    memset(r, 0, sizeof *r);
    *found = 0;
    if (s == NULL)
        return TOOL_EXIT_FAIL;
    sqlite3_bind_blob(s, 1, id, 16, SQLITE_STATIC);
    rc = sq_step_row(t, d, s, with_blob, r, found);
    if (!*found)
        memcpy(r->owner, id, 16);
    return rc;
}

static int sq_get(struct tool *t, struct store_db *db,
                  const unsigned char *owner, int with_blob,
                  struct store_row *r, int *found)
{
    return sq_get_row(t, (struct sq_db *)db, owner, with_blob, r, found);
}

int sq_put_row(struct tool *t, struct sq_db *d, const struct store_row *r)
{
    sqlite3_stmt *s = sq_stmt(t, d, SQ_PUT, "INSERT INTO owners (" ROW_COLS
        ", blob) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7) ON CONFLICT (owner) "
        "DO UPDATE SET kind = excluded.kind, assigned = excluded.assigned, "
        "wrapped = excluded.wrapped, version = excluded.version, blob = "
        "excluded.blob, updated = excluded.updated");
    int st = 0;

    if (s == NULL)
        return TOOL_EXIT_FAIL;
    if (r->blob == NULL || r->blob_len == 0)
        return tool_error(t, TOOL_EXIT_FAIL, "store: an owner without a "
                          "blob");
    sqlite3_bind_blob(s, 1, r->owner, 16, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, r->kind, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, r->assigned, 16, SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, r->wrapped, 16, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)r->version);
    sqlite3_bind_int64(s, 6, sq_now());
    sqlite3_bind_blob(s, 7, r->blob, (int)r->blob_len, SQLITE_STATIC);
    st = sqlite3_step(s);
    sqlite3_reset(s);
    return st == SQLITE_DONE ? TOOL_EXIT_OK : sq_fail(t, d, "write an owner");
}

static int sq_put(struct tool *t, struct store_db *db,
                  const struct store_row *r)
{
    return sq_put_row(t, (struct sq_db *)db, r);
}

static int sq_set_assigned(struct tool *t, struct store_db *db,
                           const unsigned char *owner,
                           const unsigned char *assigned, int *found)
{
    struct sq_db *d = (struct sq_db *)db;
    sqlite3_stmt *s = sq_stmt(t, d, SQ_ASSIGN, "UPDATE owners SET assigned "
                              "= ?1, updated = ?2 WHERE owner = ?3");
    int st = 0;

    *found = 0;
    if (s == NULL)
        return TOOL_EXIT_FAIL;
    sqlite3_bind_blob(s, 1, assigned, 16, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, sq_now());
    sqlite3_bind_blob(s, 3, owner, 16, SQLITE_STATIC);
    st = sqlite3_step(s);
    sqlite3_reset(s);
    if (st != SQLITE_DONE)
        return sq_fail(t, d, "assign an owner");
    *found = sqlite3_changes(d->h) > 0;
    return TOOL_EXIT_OK;
}

static int sq_inventory(struct tool *t, struct store_db *db,
                        struct store_count **out, size_t *n)
{
    struct sq_db *d = (struct sq_db *)db;
    sqlite3_stmt *s = sq_stmt(t, d, SQ_INV, "SELECT assigned, wrapped, "
        "version, kind, count(*) FROM owners GROUP BY assigned, wrapped, "
        "version, kind");
    struct store_count *all = NULL, *grown = NULL, *c = NULL;
    size_t cap = 0;
    int st = 0, rc = TOOL_EXIT_OK;
    const unsigned char *kind = NULL;

    *out = NULL;
    *n = 0;
    while (s != NULL && rc == TOOL_EXIT_OK &&
           (st = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            if ((grown = realloc(all, cap * sizeof *all)) == NULL) {
                rc = tool_error(t, TOOL_EXIT_FAIL, "out of memory");
                break;
            }
            all = grown;
        }
        c = &all[*n];
        memset(c, 0, sizeof *c);
        kind = sqlite3_column_text(s, 3);
        if (col16(s, 0, c->assigned) || col16(s, 1, c->wrapped) ||
            kind == NULL || strlen((const char *)kind) >= sizeof c->kind)
            rc = tool_error(t, TOOL_EXIT_FAIL, "store %s: a damaged row",
                            d->base.target);
        else
            strcpy(c->kind, (const char *)kind);
        c->version = (unsigned long)sqlite3_column_int64(s, 2);
        c->n = (size_t)sqlite3_column_int64(s, 4);
        (*n)++;
    }
    if (s == NULL || (rc == TOOL_EXIT_OK && st != SQLITE_DONE))
        rc = s == NULL ? TOOL_EXIT_FAIL : sq_fail(t, d, "inventory");
    if (s != NULL)
        sqlite3_reset(s);
    if (rc != TOOL_EXIT_OK) {
        free(all);
        all = NULL;
        *n = 0;
    }
    *out = all;
    return rc;
}

static int sq_list(struct tool *t, struct store_db *db,
                   const unsigned char *policy, int with_blob,
                   store_row_cb cb, void *ctx)
{
    struct sq_db *d = (struct sq_db *)db;
    char sql[256];
    sqlite3_stmt *s = NULL;
    struct store_row r;
    int st = 0, rc = TOOL_EXIT_OK;

    snprintf(sql, sizeof sql, "SELECT " ROW_COLS "%s FROM owners %s ORDER "
             "BY owner", with_blob ? ", blob" : "",
             policy ? "WHERE wrapped = ?1 OR assigned = ?1" : "");
    if (sqlite3_prepare_v2(d->h, sql, -1, &s, NULL) != SQLITE_OK)
        return sq_fail(t, d, "list the owners");
    if (policy != NULL)
        sqlite3_bind_blob(s, 1, policy, 16, SQLITE_STATIC);
    while (rc == TOOL_EXIT_OK && (st = sqlite3_step(s)) == SQLITE_ROW) {
        if (sq_row(s, with_blob, &r) != 0)
            rc = tool_error(t, TOOL_EXIT_FAIL, "store %s: a damaged row",
                            d->base.target);
        else
            rc = cb(ctx, &r);
        store_row_clear(&r);
    }
    if (rc == TOOL_EXIT_OK && st != SQLITE_DONE)
        rc = sq_fail(t, d, "list the owners");
    sqlite3_finalize(s);
    return rc;
}

const struct store_ops store_sqlite_ops = {
    "sqlite", sq_open, sq_close, sq_schema_version, sq_begin, sq_commit,
    sq_rollback, sq_get, sq_put, sq_set_assigned, sq_inventory, sq_list,
    sq_job_open, sq_job_claim, sq_job_complete, sq_job_release,
    sq_job_progress, sq_job_finish,
};
