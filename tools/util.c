/*
 * util.c - small helpers of dep11-tool: hex and UUIDs, owner ids,
 * whole-file reads, SHA-256 in hex, atomic file writes (temp + fsync +
 * rename). PINs are pin.c, JSON strings report.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* asprintf */
#endif
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "tool.h"

/* Hex of @len bytes of @in into @out (2 * @len + 1 bytes, NUL-terminated). */
void tool_hex(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i = 0;

    for (i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Parses exactly 2 * @len hex digits of @s into @out. Returns 0 or -1. */
int tool_unhex(const char *s, unsigned char *out, size_t len)
{
    size_t i = 0;

    if (strlen(s) != 2 * len)
        return -1;
    for (i = 0; i < len; i++) {
        int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

/* Parses a non-empty even-length hex string (an optional ":" between bytes
 * is not accepted) into a malloc'd buffer. Returns 0 or -1. */
int tool_unhex_alloc(const char *s, unsigned char **out, size_t *len)
{
    size_t n = strlen(s);

    *out = NULL;
    *len = 0;
    if (n == 0 || n % 2 != 0)
        return -1;
    *out = malloc(n / 2);
    if (*out == NULL || tool_unhex(s, *out, n / 2) != 0) {
        free(*out);
        *out = NULL;
        return -1;
    }
    *len = n / 2;
    return 0;
}

/* Parses a UUID (8-4-4-4-12 hex digits) or 32 hex digits. Returns 0 or -1. */
int tool_parse_uuid(const char *s, unsigned char out[16])
{
    char digits[33];
    size_t i = 0, n = 0;

    if (strlen(s) == 32)
        return tool_unhex(s, out, 16);
    if (strlen(s) != 36)
        return -1;
    for (i = 0; i < 36; i++) {
        int dash = (i == 8 || i == 13 || i == 18 || i == 23);
        if (dash != (s[i] == '-'))
            return -1;
        if (!dash)
            digits[n++] = s[i];
    }
    digits[n] = '\0';
    return tool_unhex(digits, out, 16);
}

/* Formats 16 bytes as a lower-case UUID string into @out (37 bytes). */
void tool_format_uuid(const unsigned char in[16], char out[37])
{
    char hex[33];

    tool_hex(in, 16, hex);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
             hex + 16, hex + 20);
}

/*
 * The 16-byte owner id of a mailbox (and the AAD of its data): 32 hex digits
 * or a UUID are used as they are; any other non-empty string is hashed,
 * the first 16 bytes of SHA-256 of its UTF-8 bytes. Returns 0 or -1 (empty).
 */
int tool_owner_id(const char *s, unsigned char out[16])
{
    unsigned char md[SHA256_DIGEST_LENGTH];

    if (s == NULL || *s == '\0')
        return -1;
    if (tool_parse_uuid(s, out) == 0)
        return 0;
    if (SHA256((const unsigned char *)s, strlen(s), md) == NULL)
        return -1;
    memcpy(out, md, 16);
    return 0;
}

/*
 * Reads all of @path ("-" = stdin), at most @max bytes, into a malloc'd
 * buffer (*@buf; at least one byte allocated even for an empty file).
 * Returns 0, or -1 after printing why (exit code TOOL_EXIT_USAGE fits).
 */
int tool_read_file(struct tool *t, const char *path, size_t max,
                   unsigned char **buf, size_t *len)
{
    FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    unsigned char *p = NULL, *np = NULL;
    size_t cap = 0, n = 0, got = 0;

    *buf = NULL;
    *len = 0;
    if (fp == NULL) {
        tool_error(t, TOOL_EXIT_USAGE, "cannot open %s: %s", path,
                   strerror(errno));
        return -1;
    }
    do {
        if (n == cap) {
            cap = cap == 0 ? 65536 : cap * 2;
            if (cap > max + 1)
                cap = max + 1;
            np = realloc(p, cap);
            if (np == NULL)
                goto fail;
            p = np;
        }
        got = fread(p + n, 1, cap - n, fp);
        n += got;
        if (n > max) {
            errno = EFBIG;
            goto fail;
        }
    } while (got > 0);
    if (ferror(fp))
        goto fail;
    if (fp != stdin)
        fclose(fp);
    *buf = p;
    *len = n;
    return 0;
fail:
    tool_error(t, TOOL_EXIT_USAGE, "cannot read %s: %s", path,
               errno ? strerror(errno) : "read error");
    if (fp != stdin)
        fclose(fp);
    free(p);
    return -1;
}

/*
 * Reads @path (a file, not stdin) whole into a malloc'd, NUL-terminated
 * buffer of at most @max bytes. The offline verifiers' read: their own
 * messages ("cannot open", "cannot read (or too large)").
 * On success *@out (caller frees) and *@len (without the NUL); returns 0,
 * else TOOL_EXIT_USAGE (message printed).
 */
int tool_read_all(struct tool *t, const char *path, long max,
                  unsigned char **out, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *buf = NULL, *nb = NULL;
    size_t cap = 0, n = 0, r = 0;

    if (fp == NULL)
        return tool_error(t, TOOL_EXIT_USAGE, "%s: cannot open", path);
    for (;;) {
        if (n == cap) {
            if (cap >= (size_t)max)
                break;
            nb = realloc(buf, (cap ? cap * 2 : 65536) + 1);
            if (nb == NULL)
                break; /* n == cap: reported below */
            buf = nb;
            cap = cap ? cap * 2 : 65536;
        }
        r = fread(buf + n, 1, cap - n, fp);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(fp) || n == cap) {
        fclose(fp);
        free(buf);
        return tool_error(t, TOOL_EXIT_USAGE, "%s: cannot read (or too large)",
                          path);
    }
    fclose(fp);
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

/* The SHA-256 of @n bytes at @p as 64 lower-case hex digits into @hex. */
void tool_sha256_hex(const unsigned char *p, size_t n, char hex[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];

    SHA256(p, n, md);
    tool_hex(md, sizeof md, hex);
}

/* Refuses an existing @path without @force, before any work is done (the
 * atomic commit checks again). Returns TOOL_EXIT_OK or TOOL_EXIT_USAGE. */
int tool_check_out(struct tool *t, const char *path, int force)
{
    if (force || strcmp(path, "-") == 0 || access(path, F_OK) != 0)
        return TOOL_EXIT_OK;
    return tool_error(t, TOOL_EXIT_USAGE,
                      "%s exists; not replacing it (use --force)", path);
}

/* Opens an atomic output file: a temp file "<path>.XXXXXX" (mode 0600) in
 * the target's directory. Returns 0 or -1 (message printed). */
int tool_afile_open(struct tool *t, struct tool_afile *f, const char *path,
                    int force)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->force = force;
    if (strcmp(path, "-") == 0) {
        f->fd = STDOUT_FILENO;
        return 0;
    }
    if (!force && access(path, F_OK) == 0) {
        tool_error(t, TOOL_EXIT_USAGE,
                   "%s exists; not replacing it (use --force)", path);
        return -1;
    }
    f->path = strdup(path);
    if (f->path == NULL || asprintf(&f->tmp, "%s.XXXXXX", path) < 0) {
        f->tmp = NULL;
        tool_error(t, TOOL_EXIT_FAIL, "out of memory");
        tool_afile_abort(f);
        return -1;
    }
    f->fd = mkstemp(f->tmp);
    if (f->fd < 0) {
        tool_error(t, TOOL_EXIT_USAGE, "cannot create %s: %s", f->tmp,
                   strerror(errno));
        free(f->tmp);
        f->tmp = NULL;
        tool_afile_abort(f);
        return -1;
    }
    return 0;
}

/* Appends @len bytes. Returns 0 or -1 (message printed; the caller aborts). */
int tool_afile_write(struct tool *t, struct tool_afile *f, const void *buf,
                     size_t len)
{
    const unsigned char *p = buf;

    while (len > 0) {
        ssize_t w = write(f->fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            tool_error(t, TOOL_EXIT_FAIL, "cannot write %s: %s",
                       f->path ? f->path : "stdout", strerror(errno));
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* fsyncs the directory holding @path, so that the rename is durable. */
static void sync_dir(const char *path)
{
    char *copy = strdup(path);
    int fd = -1;

    if (copy == NULL)
        return;
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(copy);
}

/*
 * Makes the file visible under its name: fsync, close, then rename (with
 * force) or link + unlink (refusing an existing target). Returns 0 or -1
 * (message printed, temp file removed).
 */
int tool_afile_commit(struct tool *t, struct tool_afile *f)
{
    int rc = -1;

    if (f->path == NULL) /* stdout */
        return fflush(stdout) == 0 ? 0 : -1;
    if (fsync(f->fd) != 0) {
        tool_error(t, TOOL_EXIT_FAIL, "fsync %s: %s", f->tmp, strerror(errno));
        goto out;
    }
    close(f->fd);
    f->fd = -1;
    if (f->force)
        rc = rename(f->tmp, f->path);
    else if ((rc = link(f->tmp, f->path)) == 0)
        (void)unlink(f->tmp);
    if (rc != 0) {
        tool_error(t, TOOL_EXIT_FAIL, "cannot create %s: %s%s", f->path,
                   strerror(errno),
                   errno == EEXIST ? " (use --force to replace it)" : "");
        goto out;
    }
    sync_dir(f->path);
    free(f->tmp);
    f->tmp = NULL;
out:
    tool_afile_abort(f);
    return rc;
}

/* Closes and removes what is left of an uncommitted file; frees names. */
void tool_afile_abort(struct tool_afile *f)
{
    if (f->fd >= 0 && f->path != NULL)
        close(f->fd);
    f->fd = -1;
    if (f->tmp != NULL)
        (void)unlink(f->tmp);
    free(f->tmp);
    free(f->path);
    f->tmp = NULL;
    f->path = NULL;
}

/* Writes @len bytes of @buf to @path atomically. Returns 0 or -1. */
int tool_write_atomic(struct tool *t, const char *path, const void *buf,
                      size_t len, int force)
{
    struct tool_afile f;

    if (tool_afile_open(t, &f, path, force) != 0)
        return -1;
    if (tool_afile_write(t, &f, buf, len) != 0) {
        tool_afile_abort(&f);
        return -1;
    }
    return tool_afile_commit(t, &f);
}

/* Copies a blank-padded field of @len bytes into @out (@len + 1 bytes),
 * without the trailing blanks. */
void tool_trim(const CK_UTF8CHAR *in, size_t len, char *out)
{
    memcpy(out, in, len);
    out[len] = '\0';
    while (len > 0 && (out[len - 1] == ' ' || out[len - 1] == '\0'))
        out[--len] = '\0';
}
