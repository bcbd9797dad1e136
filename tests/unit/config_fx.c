/*
 * config_fx.c - the fixture of the util config and PIN unit tests
 * (config_fx.h).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/config.h"
#include "util/log.h"

#include "config_fx.h"

int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);

    if (fx == NULL)
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "/tmp/dep11-test-config-XXXXXX");
    if (mkdtemp(fx->dir) == NULL)
        return -1;
    snprintf(fx->conf, sizeof fx->conf, "%s/dep11.conf", fx->dir);
    snprintf(fx->prof, sizeof fx->prof, "%s/prof.conf", fx->dir);
    fx->log = getenv("DEP11_DEBUG_FILE");
    if (fx->log == NULL)
        return -1;
    *state = fx;
    return 0;
}

int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int teardown(void **state)
{
    struct fx *fx = *state;

    nftw(fx->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

/* Writes @len bytes of @data to dir/@name (mode 0600). */
void put_bytes(const struct fx *fx, const char *name, const char *data, size_t len)
{
    char path[256];
    int fd = -1;

    snprintf(path, sizeof path, "%s/%s", fx->dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

void put(const struct fx *fx, const char *name, const char *text)
{
    put_bytes(fx, name, text, strlen(text));
}

void mark_log(struct fx *fx)
{
    struct stat st;

    fx->logoff = stat(fx->log, &st) == 0 ? st.st_size : 0;
}

/* What was logged since mark_log(); caller frees. */
char *log_since(const struct fx *fx)
{
    FILE *f = fopen(fx->log, "r");
    char *buf = NULL;
    long end = 0;

    if (f == NULL)
        return strdup("");
    fseek(f, 0, SEEK_END);
    end = ftell(f);
    buf = calloc(1, (size_t)(end - fx->logoff) + 1);
    assert_non_null(buf);
    fseek(f, fx->logoff, SEEK_SET);
    assert_int_equal(fread(buf, 1, (size_t)(end - fx->logoff), f), (size_t)(end - fx->logoff));
    fclose(f);
    return buf;
}

/* Writes @conf (and @prof unless NULL) and loads the config. */
CK_RV load(struct fx *fx, const char *conf, const char *prof)
{
    put(fx, "dep11.conf", conf);
    if (prof != NULL)
        put(fx, "prof.conf", prof);
    mark_log(fx);
    memset(&fx->cfg, 0xA5, sizeof fx->cfg);
    return dep11_config_load(fx->conf, &fx->cfg);
}

int count(const char *hay, const char *needle)
{
    int n = 0;

    for (; (hay = strstr(hay, needle)) != NULL; hay++)
        n++;
    return n;
}

int run_config_tests(const struct CMUnitTest *tests, size_t n)
{
    char dir[] = "/tmp/dep11-test-config-log-XXXXXX";
    char path[sizeof dir + 16];
    int rc = 0;

    if (mkdtemp(dir) == NULL)
        return 99;
    snprintf(path, sizeof path, "%s/log", dir);
    /* Read once by log.c: capture everything, debug lines included. */
    setenv("DEP11_DEBUG", "4", 1);
    setenv("DEP11_DEBUG_FILE", path, 1);
    rc = _cmocka_run_group_tests("config", tests, n, NULL, NULL);
    unlink(path);
    rmdir(dir);
    return rc;
}
