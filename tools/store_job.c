/*
 * store_job.c - moving child blobs between policies: a per-run cache of
 * unwrapped policy keys (looked up in the registry by policy id), the
 * crash-safe move of one owner (new blob beside, entry, then the old blob
 * removed), and the store lock.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* asprintf */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "reg.h"
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

/* Removes the blob of @owner under @pid if it exists (a stale copy). */
static void drop_blob(const char *dir, const unsigned char *pid,
                      const unsigned char *owner)
{
    char *path = tool_store_blob_path(dir, pid, owner);

    if (path != NULL)
        (void)unlink(path);
    free(path);
}

/* Is entry @e already where a move to @to (version @v) would put it? */
int tool_entry_done(const struct tool_entry *e, const struct tool_cached *to)
{
    return memcmp(e->wrapped, to->id, 16) == 0 &&
           memcmp(e->assigned, to->id, 16) == 0 && e->version == to->version;
}

/*
 * Re-wraps the child of entry @e under policy @to: the blob is unwrapped
 * under the policy it is wrapped under (from @c), wrapped under @to, written
 * as DIR/blobs/<to>/<owner>.blob (atomically), the entry is rewritten
 * (assigned = wrapped = @to, prev = the old policy), and only then is the
 * old blob removed. A crash at any point leaves the old blob with the old
 * entry, or the new blob with the new entry (and perhaps a stale old blob,
 * which the next move removes through prev). Returns a TOOL_EXIT_ code.
 */
int tool_store_move(struct tool *t, const char *dir, struct tool_keycache *c,
                    struct tool_entry *e, const struct tool_cached *to)
{
    struct tool_cached *from = NULL;
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    unsigned char *old = NULL, *blob = NULL;
    size_t old_len = 0;
    CK_ULONG len = 0;
    struct tool_entry n = *e;
    int rc = tool_cache_get(t, c, e->wrapped, &from);

    if (rc == TOOL_EXIT_OK && tool_store_read_blob(t, dir, e, &old,
                                                   &old_len) != 0)
        rc = TOOL_EXIT_FAIL;
    if (rc == TOOL_EXIT_OK)
        rc = tool_child_unwrap(t, from->h, e->owner, old, old_len, "child",
                               &key);
    if (rc == TOOL_EXIT_OK)
        rc = tool_child_wrap(t, to->h, e->owner, key, "child", &blob, &len);
    if (rc == TOOL_EXIT_OK &&
        tool_store_write_blob(t, dir, to->id, e->owner, blob, len) != 0)
        rc = TOOL_EXIT_FAIL;
    if (rc == TOOL_EXIT_OK) {
        memcpy(n.assigned, to->id, 16);
        memcpy(n.wrapped, to->id, 16);
        if (memcmp(e->wrapped, to->id, 16) != 0)
            memcpy(n.prev, e->wrapped, 16);
        n.version = to->version;
        if (tool_store_put(t, dir, &n) != 0)
            rc = TOOL_EXIT_FAIL;
    }
    if (rc == TOOL_EXIT_OK) {
        if (memcmp(e->wrapped, to->id, 16) != 0)
            drop_blob(dir, e->wrapped, e->owner);
        *e = n;
    }
    tool_destroy(t, key);
    free(old);
    free(blob);
    return rc;
}

/* Removes the blob a crashed move left under e->prev (if any). */
void tool_store_tidy(const char *dir, const struct tool_entry *e)
{
    static const unsigned char zero[16];

    if (memcmp(e->prev, zero, 16) != 0 && memcmp(e->prev, e->wrapped, 16))
        drop_blob(dir, e->prev, e->owner);
}

/*
 * Takes the store's exclusive lock (DIR/lock, flock): one writer at a time;
 * the kernel drops it when the process dies, even by kill -9. *@fd is the
 * lock (close it to release). Returns 0 or -1 (printed).
 */
int tool_store_lock(struct tool *t, const char *dir, int *fd)
{
    char *path = NULL;

    *fd = -1;
    if (tool_store_init(t, dir) != 0)
        return -1;
    if (asprintf(&path, "%s/lock", dir) < 0)
        return -1;
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    free(path);
    if (*fd < 0 || flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        tool_error(t, TOOL_EXIT_FAIL, "the store %s is busy (another "
                   "dep11-tool holds its lock): %s", dir,
                   strerror(errno));
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        return -1;
    }
    return 0;
}
