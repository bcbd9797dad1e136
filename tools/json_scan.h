/*
 * json_scan.h - the JSON scanning shared by dep11-tool's offline verifiers
 * (audit_verify.c, receipt_verify.c): a cursor over text, one flat JSON
 * object per line split into members, and the value syntax checks.
 */
#ifndef DEP11_TOOL_JSON_SCAN_H
#define DEP11_TOOL_JSON_SCAN_H

#include <stddef.h>

/* The kinds of member value the verifiers tell apart. */
enum { TOOL_V_STR, TOOL_V_INT, TOOL_V_OTHER };

#define TOOL_MEMBER_NAME_MAX 64
#define TOOL_MEMBERS_MAX 32 /* members of one line, at the most */

/* One member of a flat JSON object; strings are decoded (short). */
struct tool_member {
    char name[TOOL_MEMBER_NAME_MAX];
    int type;          /* TOOL_V_* */
    char str[80];
    int str_long;      /* the string did not fit: no vocabulary matches */
    long long num;
};

/* Text still to scan: [p, end). */
struct tool_cursor {
    const char *p, *end;
};

/*
 * Scans one line (@len bytes at @p, no newline) holding one JSON object
 * into @m (room for TOOL_MEMBERS_MAX members, filled in order) and sets
 * *@nm to their number. Extra nested values are skipped as TOOL_V_OTHER.
 * Returns NULL, or a static string saying why the line is bad ("not JSON",
 * "a member appears twice", ...).
 */
const char *tool_json_scan_line(const char *p, size_t len,
                                struct tool_member *m, size_t *nm);

/* 1 when the @n bytes at @s are lower-case hex digits (0 bytes: 1). */
int tool_is_lhex(const char *s, size_t n);

/* 1 when the @n bytes at @s are an RFC 3339 UTC time to the second
 * ("2024-05-01T12:00:00Z"), else 0. */
int tool_is_rfc3339(const char *s, size_t n);

#endif
