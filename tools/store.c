/*
 * store.c - the child-blob store of the data plane: a directory with one
 * index entry per owner (which policy it is assigned to, which policy and
 * version its blob is wrapped under) and one file per child blob, every file
 * written atomically (temporary file, fsync, rename, fsync of the directory).
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

#include "reg.h"
#include "tool.h"

#define ENTRY_MAGIC "dep11-store 1\n"

static int mkdir_p(struct tool *t, const char *path)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST)
        return 0;
    tool_error(t, TOOL_EXIT_FAIL, "cannot create %s: %s", path,
               strerror(errno));
    return -1;
}

/* Creates DIR, DIR/owners and DIR/blobs. Returns 0 or -1 (printed). */
int tool_store_init(struct tool *t, const char *dir)
{
    char *p = NULL;
    int rc = mkdir_p(t, dir);

    if (rc == 0 && asprintf(&p, "%s/owners", dir) > 0) {
        rc = mkdir_p(t, p);
        free(p);
    }
    if (rc == 0 && asprintf(&p, "%s/blobs", dir) > 0) {
        rc = mkdir_p(t, p);
        free(p);
    }
    return rc;
}

/* fsyncs directory @path. */
static int sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    int rc = -1;

    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/*
 * Writes @len bytes to @path atomically: "<path>.tmp.<pid>" (mode 0600),
 * fsync, rename over @path, fsync of the directory. A crash leaves either
 * the old file or the new one, never a mix; a leftover temporary file is
 * removed by the next store rewrap. Returns 0 or -1 (printed).
 */
int tool_store_atomic(struct tool *t, const char *path, const void *buf,
                      size_t len)
{
    char *tmp = NULL, *dir = NULL, *slash = NULL;
    int fd = -1, rc = -1;

    if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
        tool_error(t, TOOL_EXIT_FAIL, "out of memory");
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write_all(fd, buf, len) != 0 || fsync(fd) != 0) {
        tool_error(t, TOOL_EXIT_FAIL, "cannot write %s: %s", tmp,
                   strerror(errno));
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, path) != 0) {
        tool_error(t, TOOL_EXIT_FAIL, "cannot rename %s: %s", tmp,
                   strerror(errno));
        goto out;
    }
    dir = strdup(path);
    slash = dir ? strrchr(dir, '/') : NULL;
    if (slash != NULL)
        *slash = '\0';
    if (dir == NULL || sync_dir(slash ? dir : ".") != 0) {
        tool_error(t, TOOL_EXIT_FAIL, "cannot sync the directory of %s",
                   path);
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        (void)unlink(tmp);
    free(tmp);
    free(dir);
    return rc;
}

static char *entry_path(const char *dir, const unsigned char *owner)
{
    char hex[33], *p = NULL;

    tool_hex(owner, 16, hex);
    return asprintf(&p, "%s/owners/%s", dir, hex) < 0 ? NULL : p;
}

/* Path of the blob of @owner under policy @pid (malloc'd; NULL on OOM). */
char *tool_store_blob_path(const char *dir, const unsigned char *pid,
                           const unsigned char *owner)
{
    char ph[33], oh[33], *p = NULL;

    tool_hex(pid, 16, ph);
    tool_hex(owner, 16, oh);
    return asprintf(&p, "%s/blobs/%s/%s.blob", dir, ph, oh) < 0 ? NULL : p;
}

/* Parses the entry text @txt into @e. 0 or -1. */
static int entry_decode(char *txt, struct tool_entry *e)
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
        else if (!strcmp(line, "prev") && !tool_unhex(eq, e->prev, 16))
            continue;
        else if (!strcmp(line, "version"))
            e->version = strtoul(eq, NULL, 10);
        else
            return -1;
    }
    return have == 7 ? 0 : -1;
}

/*
 * Reads the index entry of @owner. Returns 0, 1 when the owner has none,
 * or -1 (message printed: unreadable or damaged entry).
 */
int tool_store_get(struct tool *t, const char *dir, const unsigned char *owner,
                   struct tool_entry *e)
{
    char *path = entry_path(dir, owner);
    char buf[512];
    unsigned char id[16];
    ssize_t n = 0;
    int fd = -1;

    memcpy(id, owner, 16); /* @owner may point into @e */
    owner = id;
    memset(e, 0, sizeof *e);
    memcpy(e->owner, owner, 16);
    if (path == NULL) {
        tool_error(t, TOOL_EXIT_FAIL, "out of memory");
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        free(path);
        return 1;
    }
    n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0)
        close(fd);
    if (n >= 0)
        buf[n] = '\0';
    if (n < 0 || (size_t)n == sizeof buf - 1 || entry_decode(buf, e) != 0) {
        tool_error(t, TOOL_EXIT_FAIL, "store entry %s is unreadable or "
                   "damaged", path);
        free(path);
        return -1;
    }
    memcpy(e->owner, owner, 16);
    free(path);
    return 0;
}

/* Writes the entry @e atomically. Returns 0 or -1 (printed). */
int tool_store_put(struct tool *t, const char *dir, const struct tool_entry *e)
{
    static const unsigned char zero[16];
    char a[33], w[33], p[33], buf[512];
    char *path = entry_path(dir, e->owner);
    int n = 0, rc = -1;

    if (path == NULL)
        return -1;
    tool_hex(e->assigned, 16, a);
    tool_hex(e->wrapped, 16, w);
    tool_hex(e->prev, 16, p);
    n = snprintf(buf, sizeof buf, "%skind=%s\nassigned=%s\nwrapped=%s\n"
                 "%s%s%sversion=%lu\n", ENTRY_MAGIC, e->kind, a, w,
                 memcmp(e->prev, zero, 16) ? "prev=" : "",
                 memcmp(e->prev, zero, 16) ? p : "",
                 memcmp(e->prev, zero, 16) ? "\n" : "", e->version);
    if (n > 0 && (size_t)n < sizeof buf)
        rc = tool_store_atomic(t, path, buf, (size_t)n);
    free(path);
    return rc;
}

/* Reads the blob of entry @e (under e->wrapped). 0 or -1 (printed). */
int tool_store_read_blob(struct tool *t, const char *dir,
                         const struct tool_entry *e, unsigned char **blob,
                         size_t *len)
{
    char *path = tool_store_blob_path(dir, e->wrapped, e->owner);
    int rc = -1;

    *blob = NULL;
    *len = 0;
    if (path != NULL)
        rc = tool_read_file(t, path, TOOL_BLOB_MAX, blob, len);
    if (rc == 0 && *len == 0) {
        tool_error(t, TOOL_EXIT_FAIL, "store blob %s is empty", path);
        free(*blob);
        *blob = NULL;
        rc = -1;
    }
    free(path);
    return rc;
}

/* Writes the child blob of @owner under @pid atomically (replacing it).
 * Returns 0 or -1 (printed). */
int tool_store_write_blob(struct tool *t, const char *dir,
                          const unsigned char *pid, const unsigned char *owner,
                          const unsigned char *blob, size_t len)
{
    char ph[33], *sub = NULL, *path = NULL;
    int rc = -1;

    tool_hex(pid, 16, ph);
    if (asprintf(&sub, "%s/blobs/%s", dir, ph) < 0)
        return -1;
    if (mkdir_p(t, sub) == 0) {
        path = tool_store_blob_path(dir, pid, owner);
        if (path != NULL)
            rc = tool_store_atomic(t, path, blob, len);
    }
    free(path);
    free(sub);
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

/*
 * Lists the owners with an index entry: *@owners is a malloc'd array of
 * @n 16-byte ids (caller frees). Temporary files are not owners.
 * Returns 0 or -1 (printed).
 */
int tool_store_list(struct tool *t, const char *dir, unsigned char **owners,
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
        return -1;
    d = opendir(path);
    if (d == NULL) {
        tool_error(t, TOOL_EXIT_USAGE, "%s is not a dep11 store (%s: %s)",
                   dir, path, strerror(errno));
        free(path);
        return -1;
    }
    free(path);
    while ((de = readdir(d)) != NULL) {
        if (!is_hex32(de->d_name))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 1024;
            grown = realloc(all, cap * 16);
            if (grown == NULL)
                break;
            all = grown;
        }
        (void)tool_unhex(de->d_name, all + 16 * *n, 16);
        (*n)++;
    }
    closedir(d);
    if (de != NULL) {
        free(all);
        *n = 0;
        tool_error(t, TOOL_EXIT_FAIL, "out of memory");
        return -1;
    }
    *owners = all;
    return 0;
}
