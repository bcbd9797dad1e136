/*
 * file.c - whole-file helpers (file.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/file.h"

int dep11_file_read(const char *path, char *buf, size_t cap, size_t *len)
{
    FILE *fp = fopen(path, "rbe");
    size_t got = 0;
    int err = 0;

    *len = 0;
    if (fp == NULL)
        return errno == ENOENT ? -1 : -2;
    got = fread(buf, 1, cap, fp);
    err = ferror(fp) ? errno : 0;
    fclose(fp);
    if (err != 0) {
        errno = err;
        return -2;
    }
    buf[got] = '\0';
    *len = got;
    return 0;
}

int dep11_file_read_stream(FILE *f, size_t max, char **buf, size_t *n)
{
    size_t cap = 0;
    char *grown = NULL;

    *buf = NULL;
    *n = 0;
    do {
        if (*n == cap) {
            cap = cap == 0 ? 4096 : 2 * cap;
            if (cap > max + 1)
                cap = max + 1;
            if ((grown = realloc(*buf, cap + 1)) == NULL) {
                free(*buf);
                *buf = NULL;
                return -1;
            }
            *buf = grown;
        }
        *n += fread(*buf + *n, 1, cap - *n, f);
    } while (*n == cap && cap <= max && !feof(f) && !ferror(f));
    return 0;
}

int dep11_file_create(const char *path, const void *data, size_t n)
{
    char tmp[PATH_MAX];
    int fd = -1, ok = 0, err = 0;

    if ((size_t)snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    ok = write(fd, data, n) == (ssize_t)n && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    ok = ok && link(tmp, path) == 0;
    err = errno;
    (void)unlink(tmp);
    errno = err;
    if (!ok)
        return err == EEXIST ? 1 : -1;
    return 0;
}
