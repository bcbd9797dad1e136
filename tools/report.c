/*
 * report.c - how dep11-tool reports: failure messages on stderr, the JSON
 * error object under --json, and JSON strings that are always valid (bytes
 * that are not UTF-8 become U+FFFD). Depends on ckr.c only, so that every
 * other file can report without a cycle.
 */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "tool.h"

/*
 * Prints "dep11-tool: CMD: message" on stderr; under --json also a JSON
 * object {"ok":false,"exit":N,"message":...} on stdout. Returns @code.
 */
int tool_error(struct tool *t, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "dep11-tool: %s%s%s\n", t->cmd ? t->cmd : "",
            t->cmd ? ": " : "", msg);
    if (t->opt.json) {
        printf("{\"ok\":false,\"exit\":%d,\"message\":", code);
        tool_json_str(stdout, msg);
        printf("}\n");
    }
    return code;
}

/*
 * Reports failed call @what with @rv: its CKR name, value and meaning.
 * Under --json the object also carries "error" (the name) and "rv".
 * Returns TOOL_EXIT_FAIL.
 */
int tool_fail_rv(struct tool *t, const char *what, CK_RV rv)
{
    const char *name = tool_ckr_name(rv);
    const char *why = tool_ckr_explain(rv);

    fprintf(stderr, "dep11-tool: %s%s%s failed: %s (0x%08lx)%s%s\n",
            t->cmd ? t->cmd : "", t->cmd ? ": " : "", what, name,
            (unsigned long)rv, why ? ": " : "", why ? why : "");
    if (t->opt.json) {
        printf("{\"ok\":false,\"exit\":%d,\"call\":", TOOL_EXIT_FAIL);
        tool_json_str(stdout, what);
        printf(",\"error\":");
        tool_json_str(stdout, name);
        printf(",\"rv\":%lu,\"message\":", (unsigned long)rv);
        tool_json_str(stdout, why ? why : name);
        printf("}\n");
    }
    return TOOL_EXIT_FAIL;
}

/*
 * The length of the UTF-8 sequence at @p (at most @n bytes): 1 to 4, or 0
 * when it is not valid UTF-8 (overlong, surrogate, above U+10FFFF,
 * truncated, a stray continuation byte).
 */
size_t tool_utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t more = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2
                : (c & 0xF8) == 0xF0 ? 3 : 4;
    uint32_t cp = more == 1 ? (c & 0x1Fu) : more == 2 ? (c & 0x0Fu) : (c & 0x07u);
    size_t j = 0;

    if (more == 0)
        return 1;
    if (more == 4 || n - 1 < more)
        return 0;
    for (j = 1; j <= more; j++) {
        if ((p[j] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[j] & 0x3Fu);
    }
    if ((more == 1 && cp < 0x80) || (more == 2 && cp < 0x800) ||
        (more == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return more + 1;
}

/* Is the NUL-terminated @s valid UTF-8? */
int tool_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), k = 0;

    while (n > 0) {
        if ((k = tool_utf8_seq(p, n)) == 0)
            return 0;
        p += k;
        n -= k;
    }
    return 1;
}

/* Writes @s as a JSON string literal on @fp: quotes, backslashes and
 * control bytes escaped, each byte that is not part of valid UTF-8 written
 * as \ufffd, so the output is valid JSON whatever a label holds. */
void tool_json_str(FILE *fp, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), k = 0;

    fputc('"', fp);
    while (n > 0) {
        if (*p == '"' || *p == '\\')
            fprintf(fp, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(fp, "\\u%04x", *p);
        else if ((k = tool_utf8_seq(p, n)) == 0)
            fputs("\\ufffd", fp);
        else {
            fwrite(p, 1, k, fp);
            p += k;
            n -= k;
            continue;
        }
        p++;
        n--;
    }
    fputc('"', fp);
}
