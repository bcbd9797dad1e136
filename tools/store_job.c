/*
 * store_job.c - moving child blobs between policies: a per-run cache of
 * unwrapped policy keys (looked up in the registry by policy id), the
 * re-wrap of one row in memory, its move in one transaction, and the
 * re-wrap on access.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

/* Drops every cached policy key. */
void tool_cache_free(struct tool *t, struct tool_keycache *c)
{
    size_t i = 0;

    for (i = 0; i < c->n; i++)
        tool_destroy(t, c->e[i].h);
    c->n = 0;
}

/*
 * The policy key of policy id @pid: from the cache, else found in the
 * registry and unwrapped (c->requester). *@out points into the cache (its
 * name, version, state and handle). Returns a TOOL_EXIT_ code (printed).
 */
int tool_cache_get(struct tool *t, struct tool_keycache *c,
                   const unsigned char *pid, struct tool_cached **out)
{
    struct tool_rec r;
    struct tool_cached *e = NULL;
    size_t i = 0;
    int rc = TOOL_EXIT_FAIL;

    *out = NULL;
    for (i = 0; i < c->n; i++) {
        if (memcmp(c->e[i].id, pid, 16) == 0) {
            *out = &c->e[i];
            return TOOL_EXIT_OK;
        }
    }
    if (c->n == TOOL_CACHE_MAX)
        return tool_error(t, TOOL_EXIT_FAIL, "more than %d policies in one "
                          "run", TOOL_CACHE_MAX);
    rc = tool_reg_find(t, NULL, pid, &r);
    if (rc != TOOL_EXIT_OK)
        return rc;
    e = &c->e[c->n];
    memset(e, 0, sizeof *e);
    memcpy(e->id, pid, 16);
    strcpy(e->name, r.name);
    e->version = r.version;
    e->state = r.state;
    e->type = r.type;
    rc = tool_unwrap_blob(t, r.blob, r.blob_len, c->requester, &e->h);
    tool_rec_free(&r);
    if (rc != TOOL_EXIT_OK)
        return rc;
    c->n++;
    *out = e;
    return TOOL_EXIT_OK;
}

/* Is row @r already where a move to @to would put it? */
int tool_row_done(const struct store_row *r, const struct tool_cached *to)
{
    return memcmp(r->wrapped, to->id, 16) == 0 &&
           memcmp(r->assigned, to->id, 16) == 0 && r->version == to->version;
}

/*
 * Re-wraps the child of row @r under policy @to, in memory: the blob is
 * unwrapped under the policy it is wrapped under (from @c), wrapped under
 * @to (the child key itself does not change), and the row says assigned =
 * wrapped = @to at its version. Nothing is written. Returns a TOOL_EXIT_
 * code; on failure @r is unchanged.
 */
int tool_rewrap_row(struct tool *t, struct tool_keycache *c,
                    struct store_row *r, const struct tool_cached *to)
{
    struct tool_cached *from = NULL;
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    unsigned char *blob = NULL;
    CK_ULONG len = 0;
    int rc = tool_cache_get(t, c, r->wrapped, &from);

    if (rc == TOOL_EXIT_OK && r->blob == NULL)
        rc = tool_error(t, TOOL_EXIT_FAIL, "store: a row without its blob");
    if (rc == TOOL_EXIT_OK)
        rc = tool_child_unwrap(t, from->h, r->owner, r->blob, r->blob_len,
                               "child", &key);
    if (rc == TOOL_EXIT_OK)
        rc = tool_child_wrap(t, to->h, r->owner, key, "child", &blob, &len);
    tool_destroy(t, key);
    if (rc != TOOL_EXIT_OK)
        return rc;
    store_row_clear(r);
    r->blob = blob;
    r->blob_len = len;
    memcpy(r->assigned, to->id, 16);
    memcpy(r->wrapped, to->id, 16);
    r->version = to->version;
    return TOOL_EXIT_OK;
}

/*
 * Moves row @r (read with its blob) under @to: tool_rewrap_row, then the
 * row is written in one transaction, so a crash leaves the old row or the
 * new one, never a mix. Returns a TOOL_EXIT_ code.
 */
int tool_store_move(struct tool *t, struct store_db *db,
                    struct tool_keycache *c, struct store_row *r,
                    const struct tool_cached *to)
{
    struct store_row n = *r;
    int rc = TOOL_EXIT_OK;

    n.blob = NULL;
    if (r->blob != NULL && (n.blob = malloc(r->blob_len)) == NULL)
        return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    if (n.blob != NULL)
        memcpy(n.blob, r->blob, r->blob_len);
    rc = tool_rewrap_row(t, c, &n, to);
    if (rc == TOOL_EXIT_OK)
        rc = db->ops->put(t, db, &n);
    if (rc == TOOL_EXIT_OK) {
        store_row_clear(r);
        *r = n;
    } else {
        store_row_clear(&n);
    }
    return rc;
}

/*
 * The seeds' rule "rewraps the mailbox ... as long as a user or a system
 * operation accesses the mailbox data": when @r's assignment changed, the
 * row is re-read inside a transaction (a bulk job may have moved it
 * meanwhile) and moved under the assigned policy. *@from (when not NULL)
 * gets the name of the policy it moved from, else "". TOOL_EXIT_ code.
 */
int tool_store_touch(struct tool *t, struct store_db *db,
                     struct tool_keycache *c, struct store_row *r,
                     char *from, size_t from_len)
{
    struct tool_cached *to = NULL, *src = NULL;
    int rc = TOOL_EXIT_OK, found = 0;

    if (from != NULL && from_len > 0)
        from[0] = '\0';
    if (memcmp(r->assigned, r->wrapped, 16) == 0)
        return TOOL_EXIT_OK;
    rc = db->ops->begin(t, db);
    if (rc == TOOL_EXIT_OK) {
        store_row_clear(r);
        rc = db->ops->get(t, db, r->owner, 1, r, &found);
    }
    if (rc == TOOL_EXIT_OK && found && memcmp(r->assigned, r->wrapped, 16)) {
        rc = tool_cache_get(t, c, r->wrapped, &src);
        if (rc == TOOL_EXIT_OK && from != NULL)
            snprintf(from, from_len, "%s", src->name);
        if (rc == TOOL_EXIT_OK)
            rc = tool_cache_get(t, c, r->assigned, &to);
        if (rc == TOOL_EXIT_OK)
            rc = tool_store_move(t, db, c, r, to);
    }
    if (rc == TOOL_EXIT_OK)
        return db->ops->commit(t, db);
    (void)db->ops->rollback(t, db);
    if (from != NULL && from_len > 0)
        from[0] = '\0';
    return rc;
}
