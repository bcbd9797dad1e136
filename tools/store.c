/*
 * store.c - the old directory format of the child-blob store, read-only
 * (backend "dir" of store_db.h): one index entry per owner in DIR/owners
 * and one file per child blob in DIR/blobs/<policy>/<owner>.blob. Commands
 * that only read (store inventory, store verify, mailbox show --no-rewrap,
 * data open) still read it; everything that writes points to
 * "dep11-tool store import --from DIR", which converts it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* asprintf */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"

#define ENTRY_MAGIC "dep11-store 1\n"

struct dir_db {
    struct store_db base;
};

static char *entry_path(const char *dir, const unsigned char *owner)
{
    char hex[33], *p = NULL;

    tool_hex(owner, 16, hex);
    return asprintf(&p, "%s/owners/%s", dir, hex) < 0 ? NULL : p;
}

/* Path of the blob of @owner under policy @pid (malloc'd; NULL on OOM). */
static char *blob_path(const char *dir, const unsigned char *pid,
                           const unsigned char *owner)
{
    char ph[33], oh[33], *p = NULL;

    tool_hex(pid, 16, ph);
    tool_hex(owner, 16, oh);
    return asprintf(&p, "%s/blobs/%s/%s.blob", dir, ph, oh) < 0 ? NULL : p;
}

/* Parses the entry text @txt into @e. 0 or -1. */
static int entry_decode(char *txt, struct store_row *e)
{
    char *line = NULL, *next = NULL, *eq = NULL;
    int have = 0;

    if (strncmp(txt, ENTRY_MAGIC, strlen(ENTRY_MAGIC)) != 0)
        return -1;
    for (line = txt + strlen(ENTRY_MAGIC); *line; line = next) {
        next = strchr(line, '\n');
        if (next == NULL)
            return -1;
        *next++ = '\0';
        if ((eq = strchr(line, '=')) == NULL)
            return -1;
        *eq++ = '\0';
        if (!strcmp(line, "kind") && strlen(eq) < sizeof e->kind)
            strcpy(e->kind, eq), have |= 1;
        else if (!strcmp(line, "assigned") && !tool_unhex(eq, e->assigned, 16))
            have |= 2;
        else if (!strcmp(line, "wrapped") && !tool_unhex(eq, e->wrapped, 16))
            have |= 4;
        else if (!strcmp(line, "prev"))
            continue;
        else if (!strcmp(line, "version"))
            e->version = strtoul(eq, NULL, 10);
        else
            return -1;
    }
    return have == 7 ? 0 : -1;
}


/* Reads the entry (and with @with_blob, the blob) of @owner. */
static int dir_get(struct tool *t, struct store_db *db,
                   const unsigned char *owner, int with_blob,
                   struct store_row *r, int *found)
{
    const char *dir = db->target;
    char *path = NULL, buf[512];
    unsigned char id[16];
    ssize_t n = 0;
    int fd = -1, rc = TOOL_EXIT_OK;

    memcpy(id, owner, 16); /* @owner may point into @r */
    memset(r, 0, sizeof *r);
    memcpy(r->owner, id, 16);
    *found = 0;
    if ((path = entry_path(dir, id)) == NULL)
        return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        free(path);
        return TOOL_EXIT_OK;
    }
    n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0)
        close(fd);
    if (n >= 0)
        buf[n] = '\0';
    if (n < 0 || (size_t)n == sizeof buf - 1 || entry_decode(buf, r) != 0)
        rc = tool_error(t, TOOL_EXIT_FAIL, "store entry %s is unreadable or "
                        "damaged", path);
    memcpy(r->owner, id, 16);
    free(path);
    path = rc == TOOL_EXIT_OK && with_blob ?
           blob_path(dir, r->wrapped, id) : NULL;
    if (path != NULL &&
        tool_read_file(t, path, TOOL_BLOB_MAX, &r->blob, &r->blob_len) != 0)
        rc = TOOL_EXIT_FAIL;
    if (rc == TOOL_EXIT_OK && with_blob && r->blob_len == 0)
        rc = tool_error(t, TOOL_EXIT_FAIL, "store blob %s is missing or "
                        "empty", path ? path : "?");
    free(path);
    if (rc != TOOL_EXIT_OK)
        store_row_clear(r);
    *found = rc == TOOL_EXIT_OK;
    return rc;
}

static int is_hex32(const char *s)
{
    size_t i = 0;

    for (i = 0; i < 32; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[32] == '\0';
}

static int cmp16(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

/* The owners with an index entry, sorted (*@owners malloc'd). */
static int dir_owners(struct tool *t, const char *dir, unsigned char **owners,
                      size_t *n)
{
    char *path = NULL;
    DIR *d = NULL;
    struct dirent *de = NULL;
    unsigned char *all = NULL, *grown = NULL;
    size_t cap = 0;

    *owners = NULL;
    *n = 0;
    if (asprintf(&path, "%s/owners", dir) < 0)
        return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    d = opendir(path);
    free(path);
    if (d == NULL)
        return tool_error(t, TOOL_EXIT_USAGE, "%s is not a dep11 store",
                          dir);
    while ((de = readdir(d)) != NULL) {
        if (!is_hex32(de->d_name))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 1024;
            if ((grown = realloc(all, cap * 16)) == NULL)
                break;
            all = grown;
        }
        (void)tool_unhex(de->d_name, all + 16 * (*n)++, 16);
    }
    closedir(d);
    if (de != NULL) {
        free(all);
        *n = 0;
        return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    }
    qsort(all, *n, 16, cmp16);
    *owners = all;
    return TOOL_EXIT_OK;
}

static int dir_list(struct tool *t, struct store_db *db,
                    const unsigned char *policy, int with_blob,
                    store_row_cb cb, void *ctx)
{
    unsigned char *owners = NULL;
    struct store_row r;
    size_t n = 0, i = 0;
    int rc = dir_owners(t, db->target, &owners, &n), found = 0;

    for (i = 0; i < n && rc == TOOL_EXIT_OK; i++) {
        rc = dir_get(t, db, owners + 16 * i, with_blob, &r, &found);
        if (rc == TOOL_EXIT_OK && found &&
            (policy == NULL || !memcmp(r.wrapped, policy, 16) ||
             !memcmp(r.assigned, policy, 16)))
            rc = cb(ctx, &r);
        store_row_clear(&r);
    }
    free(owners);
    return rc;
}

struct inv_ctx {
    struct tool *t;
    struct store_count *c;
    size_t n, cap;
};

static int inv_add(void *ctx, const struct store_row *r)
{
    struct inv_ctx *v = ctx;
    struct store_count *grown = NULL;
    size_t i = 0;

    for (i = 0; i < v->n; i++)
        if (!memcmp(v->c[i].assigned, r->assigned, 16) &&
            !memcmp(v->c[i].wrapped, r->wrapped, 16) &&
            v->c[i].version == r->version && !strcmp(v->c[i].kind, r->kind))
            break;
    if (i == v->n && v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 16;
        if ((grown = realloc(v->c, v->cap * sizeof *grown)) == NULL)
            return tool_error(v->t, TOOL_EXIT_FAIL, "out of memory");
        v->c = grown;
    }
    if (i == v->n) {
        memset(&v->c[i], 0, sizeof v->c[i]);
        memcpy(v->c[i].assigned, r->assigned, 16);
        memcpy(v->c[i].wrapped, r->wrapped, 16);
        v->c[i].version = r->version;
        strcpy(v->c[i].kind, r->kind);
        v->n++;
    }
    v->c[i].n++;
    return TOOL_EXIT_OK;
}

static int dir_inventory(struct tool *t, struct store_db *db,
                         struct store_count **out, size_t *n)
{
    struct inv_ctx v = { t, NULL, 0, 0 };
    int rc = dir_list(t, db, NULL, 0, inv_add, &v);

    if (rc != TOOL_EXIT_OK) {
        free(v.c);
        v.c = NULL;
        v.n = 0;
    }
    *out = v.c;
    *n = v.n;
    return rc;
}

static int dir_open(struct tool *t, const char *target, int flags,
                    struct store_db **out)
{
    struct dir_db *d = NULL;
    struct stat st;
    char *p = NULL;

    *out = NULL;
    if (flags != STORE_OPEN_RDONLY)
        return tool_error(t, TOOL_EXIT_USAGE, "%s is a store of the old "
                          "directory format, which is read-only: convert it "
                          "with dep11-tool store import --from %s --store "
                          "FILE", target, target);
    if (asprintf(&p, "%s/owners", target) < 0)
        return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
        free(p);
        return tool_error(t, TOOL_EXIT_USAGE, "%s is a directory, not a "
                          "dep11 store", target);
    }
    free(p);
    d = calloc(1, sizeof *d);
    if (d == NULL || (d->base.target = strdup(target)) == NULL) {
        free(d);
        return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    }
    d->base.ops = &store_dir_ops;
    *out = &d->base;
    return TOOL_EXIT_OK;
}

static void dir_close(struct store_db *db)
{
    if (db != NULL)
        free(db->target);
    free(db);
}

static int dir_version(struct tool *t, struct store_db *db, int *v)
{
    (void)t;
    (void)db;
    *v = 0; /* before any schema */
    return TOOL_EXIT_OK;
}

const struct store_ops store_dir_ops = {
    "dir", dir_open, dir_close, dir_version, NULL, NULL, NULL, dir_get, NULL,
    NULL, dir_inventory, dir_list, NULL, NULL, NULL, NULL, NULL, NULL,
};
