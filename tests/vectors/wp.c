/*
 * wp.c - reader of the Wycheproof line format (wp.h): splits each line into
 * key=value fields and decodes hex. Test code only.
 */
#include <stdlib.h>
#include <string.h>

#include "wp.h"

FILE *wp_open(const char *name)
{
    const char *dir = getenv("WYCHEPROOF_DIR");
    char path[4096];
    FILE *f = NULL;

    if (dir == NULL) {
        fprintf(stderr, "WYCHEPROOF_DIR is not set (run through the .sh wrapper)\n");
        return NULL;
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "r");
    if (f == NULL)
        perror(path);
    return f;
}

int wp_next(FILE *f, struct wp_rec *r)
{
    ssize_t len;

    for (;;) {
        char *p = NULL, *save = NULL;

        len = getline(&r->buf, &r->cap, f);
        if (len < 0)
            return 0;
        if (r->buf[0] != 'G' && r->buf[0] != 'T')
            continue;               /* comments */
        r->kind = r->buf[0];
        r->n = 0;
        for (p = strtok_r(r->buf + 1, " \n", &save); p != NULL;
             p = strtok_r(NULL, " \n", &save)) {
            char *eq = strchr(p, '=');
            if (eq == NULL || r->n == WP_FIELDS)
                return -1;
            *eq = '\0';
            r->key[r->n] = p;
            r->val[r->n++] = eq + 1;
        }
        return 1;
    }
}

void wp_free(struct wp_rec *r)
{
    free(r->buf);
    memset(r, 0, sizeof *r);
}

void wp_swap(struct wp_rec *a, struct wp_rec *b)
{
    struct wp_rec t = *a;

    *a = *b;
    *b = t;
}

const char *wp_get(const struct wp_rec *r, const char *key)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->key[i], key) == 0)
            return r->val[i];
    return NULL;
}

long wp_int(const struct wp_rec *r, const char *key, long dflt)
{
    const char *v = wp_get(r, key);

    return v != NULL ? strtol(v, NULL, 10) : dflt;
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

uint8_t *wp_hex(const struct wp_rec *r, const char *key, size_t *len)
{
    const char *v = wp_get(r, key);
    size_t n = v != NULL ? strlen(v) : 0;
    uint8_t *out = NULL;

    *len = 0;
    if (v == NULL || n % 2 != 0 || (out = malloc(n / 2 + 1)) == NULL)
        return NULL;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = nibble(v[2 * i]), lo = nibble(v[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(out);
            return NULL;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return out;
}

int wp_flag(const struct wp_rec *r, const char *flag)
{
    const char *v = wp_get(r, "flags");
    size_t n = strlen(flag);

    while (v != NULL && *v != '\0') {
        if (strncmp(v, flag, n) == 0 && (v[n] == ',' || v[n] == '\0'))
            return 1;
        v = strchr(v, ',');
        v = v != NULL ? v + 1 : NULL;
    }
    return 0;
}

enum wp_result wp_result(const struct wp_rec *r)
{
    const char *v = wp_get(r, "result");

    if (v == NULL)
        return WP_BAD;
    if (strcmp(v, "valid") == 0)
        return WP_VALID;
    if (strcmp(v, "invalid") == 0)
        return WP_INVALID;
    if (strcmp(v, "acceptable") == 0)
        return WP_ACCEPTABLE;
    return WP_BAD;
}
