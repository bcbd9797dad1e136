/*
 * json_scan.c - the JSON scanning of dep11-tool's offline verifiers: one
 * flat JSON object per line split into its members (an audit log record),
 * and the syntax checks of the values they carry (lower hex, RFC 3339 UTC).
 */
#include <ctype.h>
#include <string.h>

#include "json_scan.h"

static void skip_ws(struct tool_cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' ||
                             *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

/* A JSON string at c->p into @out (cap @cap; *@trunc set when longer).
 * Non-ASCII escapes decode to 0x80. Returns 0 or -1. */
static int scan_str(struct tool_cursor *c, char *out, size_t cap, int *trunc)
{
    size_t n = 0;
    int ch = 0, i = 0;

    if (c->p >= c->end || *c->p != '"')
        return -1;
    for (c->p++; c->p < c->end && *c->p != '"'; c->p++) {
        ch = (unsigned char)*c->p;
        if (ch < 0x20)
            return -1;
        if (ch == '\\') {
            if (++c->p >= c->end)
                return -1;
            switch (*c->p) {
            case '"': case '\\': case '/': ch = *c->p; break;
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'n': ch = '\n'; break;
            case 'r': ch = '\r'; break;
            case 't': ch = '\t'; break;
            case 'u':
                if (c->end - c->p < 5)
                    return -1;
                for (ch = 0, i = 1; i <= 4; i++) {
                    if (!isxdigit((unsigned char)c->p[i]))
                        return -1;
                    ch = ch * 16 + (isdigit((unsigned char)c->p[i])
                                        ? c->p[i] - '0'
                                        : (tolower((unsigned char)c->p[i]) - 'a' + 10));
                }
                c->p += 4;
                if (ch >= 0x80 || ch == 0)
                    ch = 0x80;
                break;
            default: return -1;
            }
        }
        if (n + 1 < cap)
            out[n++] = (char)ch;
        else
            *trunc = 1;
    }
    if (c->p >= c->end)
        return -1;
    c->p++;
    out[n] = 0;
    return 0;
}

/* A JSON number; *@is_int when it has no fraction or exponent and fits. */
static int scan_num(struct tool_cursor *c, long long *v, int *is_int)
{
    const char *s = c->p;
    long long x = 0;
    int neg = 0, big = 0;

    *is_int = 1;
    if (c->p < c->end && *c->p == '-')
        neg = 1, c->p++;
    if (c->p >= c->end || !isdigit((unsigned char)*c->p))
        return -1;
    if (*c->p == '0' && c->p + 1 < c->end && isdigit((unsigned char)c->p[1]))
        return -1;
    for (; c->p < c->end && isdigit((unsigned char)*c->p); c->p++) {
        if (x > (1LL << 58))
            big = 1;
        x = x * 10 + (*c->p - '0');
    }
    if (c->p < c->end && *c->p == '.') {
        *is_int = 0;
        if (++c->p >= c->end || !isdigit((unsigned char)*c->p))
            return -1;
        while (c->p < c->end && isdigit((unsigned char)*c->p))
            c->p++;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        *is_int = 0;
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
            c->p++;
        if (c->p >= c->end || !isdigit((unsigned char)*c->p))
            return -1;
        while (c->p < c->end && isdigit((unsigned char)*c->p))
            c->p++;
    }
    if (big) /* a number this large is no valid seq or version */
        x = -1, neg = 0;
    *v = neg ? -x : x;
    return c->p > s ? 0 : -1;
}

/* Skips any JSON value (nested arrays and objects of an extra member). */
static int skip_value(struct tool_cursor *c, int depth)
{
    char junk[2];
    int trunc = 0, is_int = 0;
    long long v = 0;
    char close = 0;

    skip_ws(c);
    if (depth > 16 || c->p >= c->end)
        return -1;
    if (*c->p == '"')
        return scan_str(c, junk, sizeof junk, &trunc);
    if (*c->p == '-' || isdigit((unsigned char)*c->p))
        return scan_num(c, &v, &is_int);
    if (*c->p == '[' || *c->p == '{') {
        close = *c->p == '[' ? ']' : '}';
        c->p++;
        skip_ws(c);
        if (c->p < c->end && *c->p == close)
            return c->p++, 0;
        for (;;) {
            if (close == '}') {
                skip_ws(c);
                if (scan_str(c, junk, sizeof junk, &trunc) != 0)
                    return -1;
                skip_ws(c);
                if (c->p >= c->end || *c->p++ != ':')
                    return -1;
            }
            if (skip_value(c, depth + 1) != 0)
                return -1;
            skip_ws(c);
            if (c->p < c->end && *c->p == ',') {
                c->p++;
                continue;
            }
            if (c->p < c->end && *c->p == close)
                return c->p++, 0;
            return -1;
        }
    }
    for (const char *w = "true\0false\0null\0"; *w; w += strlen(w) + 1)
        if ((size_t)(c->end - c->p) >= strlen(w) && !memcmp(c->p, w, strlen(w)))
            return c->p += strlen(w), 0;
    return -1;
}

/* One "name": value member at c->p into @m. NULL or why it is bad. */
static const char *scan_member(struct tool_cursor *c, struct tool_member *m)
{
    int trunc = 0, is_int = 0;

    memset(m, 0, sizeof *m);
    skip_ws(c);
    if (scan_str(c, m->name, sizeof m->name, &trunc) != 0)
        return "not JSON";
    skip_ws(c);
    if (c->p >= c->end || *c->p++ != ':')
        return "not JSON";
    skip_ws(c);
    if (c->p < c->end && *c->p == '"') {
        m->type = TOOL_V_STR;
        if (scan_str(c, m->str, sizeof m->str, &m->str_long))
            return "not JSON";
    } else if (c->p < c->end &&
               (*c->p == '-' || isdigit((unsigned char)*c->p))) {
        if (scan_num(c, &m->num, &is_int) != 0)
            return "not JSON";
        m->type = is_int ? TOOL_V_INT : TOOL_V_OTHER;
    } else {
        m->type = TOOL_V_OTHER; /* true, false, null, an array or object */
        if (skip_value(c, 0) != 0)
            return "not JSON";
    }
    return NULL;
}

/* 1 when two of the @n members of @m have the same name. */
static int name_twice(const struct tool_member *m, size_t n)
{
    size_t i = 0, j = 0;

    for (i = 0; i < n; i++)
        for (j = i + 1; j < n; j++)
            if (!strcmp(m[i].name, m[j].name))
                return 1;
    return 0;
}

/* See json_scan.h. */
const char *tool_json_scan_line(const char *p, size_t len,
                                struct tool_member *m, size_t *nm)
{
    struct tool_cursor c = {p, p + len};
    const char *why = NULL;
    size_t n = 0;

    skip_ws(&c);
    if (c.p >= c.end || *c.p != '{')
        return skip_value(&c, 0) == 0 ? "not a JSON object" : "not JSON";
    c.p++;
    skip_ws(&c);
    if (c.p < c.end && *c.p == '}')
        c.p++;
    else
        for (;;) {
            if (n == TOOL_MEMBERS_MAX)
                return "too many members";
            if ((why = scan_member(&c, &m[n++])) != NULL)
                return why;
            skip_ws(&c);
            if (c.p < c.end && *c.p == ',') {
                c.p++;
                continue;
            }
            if (c.p < c.end && *c.p == '}') {
                c.p++;
                break;
            }
            return "not JSON";
        }
    skip_ws(&c);
    if (c.p != c.end)
        return "not JSON";
    if (name_twice(m, n))
        return "a member appears twice";
    *nm = n;
    return NULL;
}

/* See json_scan.h. */
int tool_is_lhex(const char *s, size_t n)
{
    size_t i = 0;

    for (i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* See json_scan.h. */
int tool_is_rfc3339(const char *s, size_t n)
{
    static const char pat[] = "dddd-dd-ddTdd:dd:ddZ";
    size_t i = 0;

    if (n != sizeof pat - 1)
        return 0;
    for (i = 0; i < n; i++)
        if (pat[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != pat[i])
            return 0;
    return 1;
}
