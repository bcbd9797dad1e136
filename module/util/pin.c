/*
 * pin.c - reading a PIN source of the config ("file:PATH", "env:NAME"),
 * never logging the PIN itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/config.h"
#include "util/log.h"
#include "util/secmem.h"

/* First line of @path into @pin (cap bytes incl. NUL); @len its length. */
static CK_RV
pin_from_file(const char *source, const char *path, char *pin, size_t cap,
              size_t *len)
{
    char buf[256];
    CK_RV rv = CKR_GENERAL_ERROR;
    struct stat st;
    ssize_t got = 0;
    ssize_t i = 0;
    size_t n = 0;
    int done = 0;
    int fd = -1;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        LOG_ERROR("PIN source %s: cannot open: %s", source, strerror(errno));
        rv = CKR_FUNCTION_FAILED;
        goto out;
    }
    /* DESIGN section 7: a PIN others may read is a configuration error. */
    if ((st.st_mode & 077) != 0) {
        LOG_ERROR("PIN source %s: mode %04o lets group or others read it "
                  "(chmod 600)", source, (unsigned)(st.st_mode & 07777));
        rv = CKR_FUNCTION_FAILED;
        goto out;
    }
    while (!done && (got = read(fd, buf, sizeof buf)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            LOG_ERROR("PIN source %s: read: %s", source, strerror(errno));
            rv = CKR_FUNCTION_FAILED;
            goto out;
        }
        for (i = 0; i < got && !done; i++) {
            if (buf[i] == '\n') {
                done = 1;
            } else if (buf[i] == '\0') {
                LOG_ERROR("PIN source %s: NUL byte in PIN", source);
                rv = CKR_FUNCTION_FAILED;
                goto out;
            } else if (n + 1 >= cap) {
                LOG_ERROR("PIN source %s: PIN longer than %zu bytes", source,
                          cap - 1);
                rv = CKR_FUNCTION_FAILED;
                goto out;
            } else {
                pin[n++] = buf[i];
            }
        }
    }
    if (n > 0 && pin[n - 1] == '\r')
        n--;
    pin[n] = '\0';
    *len = n;
    rv = CKR_OK;
out:
    dep11_cleanse(buf, sizeof buf);
    if (fd >= 0)
        (void)close(fd);
    return rv;
}

/* See config.h. On failure @pin is cleansed and *len is 0. */
CK_RV
dep11_config_read_pin(const char *source, char *pin, size_t cap, size_t *len)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    const char *env = NULL;
    size_t n = 0;

    if (source == NULL || pin == NULL || len == NULL || cap < 2) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL argument or cap < 2");
        return rv;
    }
    *len = 0;
    if (strncmp(source, "file:", 5) == 0 && source[5] != '\0') {
        rv = pin_from_file(source, source + 5, pin, cap, &n);
        if (rv != CKR_OK)
            goto out;
    } else if (strncmp(source, "env:", 4) == 0 && source[4] != '\0') {
        env = getenv(source + 4);
        if (env == NULL) {
            LOG_ERROR("PIN source %s: variable not set", source);
            rv = CKR_FUNCTION_FAILED;
            goto out;
        }
        n = strlen(env);
        if (n >= cap) {
            LOG_ERROR("PIN source %s: PIN longer than %zu bytes", source,
                      cap - 1);
            rv = CKR_FUNCTION_FAILED;
            goto out;
        }
        memcpy(pin, env, n + 1);
    } else {
        /* Not shown: a malformed source may be the PIN itself. */
        LOG_ERROR("PIN source must be file:<path> or env:<VARIABLE>");
        rv = CKR_FUNCTION_FAILED;
        goto out;
    }
    if (n == 0) {
        LOG_ERROR("PIN source %s: empty PIN", source);
        rv = CKR_FUNCTION_FAILED;
        goto out;
    }
    *len = n;
    rv = CKR_OK;
out:
    if (rv != CKR_OK)
        dep11_cleanse(pin, cap);
    return rv;
}
