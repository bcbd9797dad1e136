/*
 * store_db.c - picking the store's backend from --store, and the row
 * helpers every backend shares.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tool.h"

void store_row_clear(struct store_row *r)
{
    free(r->blob);
    r->blob = NULL;
    r->blob_len = 0;
}

void store_rows_free(struct store_row *rows, size_t n)
{
    size_t i = 0;

    for (i = 0; rows != NULL && i < n; i++)
        store_row_clear(&rows[i]);
    free(rows);
}

/* Is @target a PostgreSQL connection URI? */
static int is_pg(const char *target)
{
    return strncmp(target, "postgresql://", 13) == 0 ||
           strncmp(target, "postgres://", 11) == 0;
}

const struct store_ops *store_backend(const char *target)
{
    struct stat st;

    if (is_pg(target)) {
#ifdef HAVE_LIBPQ
        return &store_pg_ops;
#else
        return NULL;
#endif
    }
    if (stat(target, &st) == 0 && S_ISDIR(st.st_mode))
        return &store_dir_ops;
    return &store_sqlite_ops;
}

int store_open(struct tool *t, const char *target, int flags,
               struct store_db **db)
{
    const struct store_ops *ops = store_backend(target);

    *db = NULL;
    if (ops == NULL)
        return tool_error(t, TOOL_EXIT_USAGE, "this dep11-tool was built "
                          "without PostgreSQL support (libpq)");
    return ops->open(t, target, flags, db);
}

void store_close(struct store_db *db)
{
    if (db != NULL)
        db->ops->close(db);
}
