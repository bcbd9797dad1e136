/*
 * store_db.h - the child-blob store's backend interface: one table of
 * owners (assignment, the policy and version the blob is wrapped under, the
 * blob, timestamps) and the tables of a re-wrap job (docs/STORE.md has the
 * schema). Two backends implement it: SQLite (store_sqlite.c, the embedded
 * default: --store PATH names a database file) and PostgreSQL
 * (store_pg.c: --store postgresql://...).
 *
 * Conventions
 * - Every function returns a TOOL_EXIT_ code; on a refusal it has printed
 *   one clear message through tool_error() (never a blob byte).
 * - A struct store_db is used by one thread at a time. Concurrent workers
 *   open one handle each (SQLite: one connection each, a busy timeout;
 *   PostgreSQL: one connection each).
 * - Outside begin/commit every write is its own transaction. Inside,
 *   nothing is visible to others before commit; rollback (or a crash, or
 *   kill -9) leaves the store as it was at begin.
 * - Ids are 16 raw bytes (owner ids: tool_owner_id(); policy ids: the
 *   registry's). Times are Unix seconds.
 */
#ifndef DEP11_TOOL_STORE_DB_H
#define DEP11_TOOL_STORE_DB_H

#include <stddef.h>

struct tool;

/* The schema version this build reads and writes (table store_version). */
#define STORE_SCHEMA_VERSION 1

/* open() flags. */
#define STORE_OPEN_RDONLY 0x1  /* no write at all (verify, inventory, show) */
#define STORE_OPEN_CREATE 0x2  /* create an empty store with the schema */
#define STORE_OPEN_MIGRATE 0x4 /* migrate an older schema up to current */

/* One owner: its row of the owners table. */
struct store_row {
    unsigned char owner[16];
    char kind[16];               /* "mailbox", "site", ... */
    unsigned char assigned[16];  /* the policy the owner is assigned to */
    unsigned char wrapped[16];   /* the policy its blob is wrapped under */
    unsigned long version;       /* that policy's version at wrap time */
    unsigned char *blob;         /* the child blob (malloc'd by get/claim;
                                    NULL when not asked for) */
    size_t blob_len;
    long long created, updated;  /* set by put/complete; read by get */
};

/* Frees r->blob (and sets it NULL); the row itself is the caller's. */
void store_row_clear(struct store_row *r);
void store_rows_free(struct store_row *rows, size_t n);

/* One line of the inventory: how many owners have this combination. */
struct store_count {
    unsigned char assigned[16];
    unsigned char wrapped[16];
    unsigned long version;
    char kind[16];
    size_t n;
};

/* What a re-wrap job moves: every owner (or with has_from, every owner
 * wrapped under or assigned to @from) to @target at @version. */
struct store_job_spec {
    unsigned char target[16];
    unsigned long version;
    unsigned char from[16];
    int has_from;
};

/* States of a job and of its items. */
#define STORE_JOB_RUNNING 0
#define STORE_JOB_DONE 1
#define STORE_JOB_SUPERSEDED 2   /* a job of another spec was opened */
#define STORE_ITEM_PENDING 0
#define STORE_ITEM_CLAIMED 1
#define STORE_ITEM_DONE 2

struct store_job {
    long long id;
    struct store_job_spec spec;
    int state;                   /* STORE_JOB_* */
    long long created;
};

struct store_progress {
    size_t total;                /* items of the job */
    size_t pending, claimed, done;
    size_t expired;              /* claimed items whose lease ran out */
};

/* Called once per row by list(); return non-zero to stop (that value is
 * returned by list()). The row (and its blob) is only valid during the
 * call. */
typedef int (*store_row_cb)(void *ctx, const struct store_row *r);

/* job_release(): every claimed item, whoever holds it. */
#define STORE_WORKER_ANY "*"

struct store_db;

struct store_ops {
    const char *name;            /* "sqlite", "postgresql" */

    /* ---- the connection and the schema ---- */
    /* Opens @target (a path, or a connection URI) with STORE_OPEN_ flags.
     * A missing store without _CREATE, a file that is not a store, a
     * damaged database or a schema version this build does not know is
     * refused (TOOL_EXIT_USAGE for "not a store", _FAIL otherwise) and
     * nothing is changed. Checks the schema version (and with _MIGRATE,
     * migrates in one transaction). */
    int (*open)(struct tool *t, const char *target, int flags,
                struct store_db **db);
    void (*close)(struct store_db *db);
    /* The schema version stored (0: none yet). */
    int (*schema_version)(struct tool *t, struct store_db *db, int *version);

    /* ---- batches: all or nothing ---- */
    int (*begin)(struct tool *t, struct store_db *db);
    int (*commit)(struct tool *t, struct store_db *db);
    int (*rollback)(struct tool *t, struct store_db *db);

    /* ---- owners ---- */
    /* Reads @owner into @r (*@found 0 when absent; @r then zeroed). With
     * @with_blob, r->blob is malloc'd (store_row_clear). */
    int (*get)(struct tool *t, struct store_db *db, const unsigned char *owner,
               int with_blob, struct store_row *r, int *found);
    /* Inserts or replaces the whole row of r->owner (blob included; a NULL
     * blob is refused). Keeps 'created' of an existing row. */
    int (*put)(struct tool *t, struct store_db *db, const struct store_row *r);
    /* Changes only the assignment of @owner (the blob moves later: on
     * access or by a job). *@found 0 when the owner is absent. */
    int (*set_assigned)(struct tool *t, struct store_db *db,
                        const unsigned char *owner,
                        const unsigned char *assigned, int *found);
    /* Counts per (assigned, wrapped, version, kind): *@out malloc'd. Served
     * by an index (no blob is read). */
    int (*inventory)(struct tool *t, struct store_db *db,
                     struct store_count **out, size_t *n);
    /* Every owner in owner order; with @policy, only those wrapped under or
     * assigned to it. With @with_blob the blobs are read too. */
    int (*list)(struct tool *t, struct store_db *db,
                const unsigned char *policy, int with_blob, store_row_cb cb,
                void *ctx);

    /* ---- the re-wrap job ---- */
    /* Finds the running job of @spec (same target, version, from), else
     * creates it with one pending item per selected owner that is not yet
     * wrapped under and assigned to the target at its version; creating
     * it supersedes every other running job (state STORE_JOB_SUPERSEDED,
     * items deleted). Several workers calling this at once get the same
     * job. */
    int (*job_open)(struct tool *t, struct store_db *db,
                    const struct store_job_spec *spec, struct store_job *job);
    /* Claims up to @max pending items (and items whose lease has expired:
     * a killed worker's batch is taken over) for @worker until now +
     * @lease_s: *@rows (malloc'd, store_rows_free) are their owners' rows
     * with blobs, *@n of them (0: nothing left to claim). Two workers never
     * hold the same item (SQLite: one writer; PostgreSQL: SELECT ... FOR
     * UPDATE SKIP LOCKED). */
    int (*job_claim)(struct tool *t, struct store_db *db,
                     const struct store_job *job, const char *worker,
                     size_t max, int lease_s, struct store_row **rows,
                     size_t *n);
    /* In one transaction: for each of @rows (re-wrapped by the caller:
     * wrapped = assigned = target, version, blob) whose item is still
     * claimed by @worker, writes the owner row and marks the item done.
     * Items no longer held by @worker (lease expired and taken over) are
     * left alone: *@accepted counts the rows written. A child is moved
     * exactly once. */
    int (*job_complete)(struct tool *t, struct store_db *db,
                        const struct store_job *job, const char *worker,
                        const struct store_row *rows, size_t n,
                        size_t *accepted);
    /* Returns the items @worker holds to pending (@worker NULL: every
     * claimed item whose lease has expired; STORE_WORKER_ANY: every
     * claimed item, for a caller that knows no other worker lives). */
    int (*job_release)(struct tool *t, struct store_db *db,
                       const struct store_job *job, const char *worker);
    int (*job_progress)(struct tool *t, struct store_db *db,
                        const struct store_job *job, struct store_progress *p);
    /* Marks the job done when no item is pending or claimed (*@done 1), and
     * then deletes its items. */
    int (*job_finish)(struct tool *t, struct store_db *db,
                      const struct store_job *job, int *done);
};

/* Every backend's handle starts with this. */
struct store_db {
    const struct store_ops *ops;
    char *target;                /* as given (for messages; never a password) */
};

extern const struct store_ops store_sqlite_ops;
/* The old directory format (store.c): read-only; open() refuses any flag
 * but STORE_OPEN_RDONLY and points to "store import"; its write and job
 * calls are NULL. */
extern const struct store_ops store_dir_ops;
#ifdef HAVE_LIBPQ
extern const struct store_ops store_pg_ops;
#endif

/* The backend of @target: "postgresql://" or "postgres://" -> PostgreSQL
 * (NULL when built without libpq), a directory -> the old format
 * (store_dir_ops), else SQLite. */
const struct store_ops *store_backend(const char *target);
/* store_backend(@target)->open(...). */
int store_open(struct tool *t, const char *target, int flags,
               struct store_db **db);
void store_close(struct store_db *db);

#endif
