/*
 * audit_verify.c - "dep11-tool audit verify": checks the hash chain of a
 * dep11 audit log (docs/CONFIG.md) offline, without loading a module; an
 * independent cross-check of scripts/dep11-audit-verify.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "tool.h"

#define FILE_MAX (1024L * 1024 * 1024) /* the largest log we read */
#define MSG_MAX 512

/* 1 when @s is one of the NULL-terminated @set. */
static int in_set(const char *s, const char *const *set)
{
    for (; *set != NULL; set++)
        if (strcmp(s, *set) == 0)
            return 1;
    return 0;
}

static const char *const FIXED[] = {"event", "time", "policy_id", "version",
                                    "requester", "served_by", "reason", "tenant",
                                    "token", "host", "pid", "result", NULL};
static const char *const EVENTS[] = {"policy-wrap", "policy-unwrap",
    "availability-use", "availability-roll", "refresh", "purge", "offboard",
    NULL};
static const char *const REQUESTERS[] = {"", "user", "system", "recovery", NULL};
static const char *const SERVED_BY[] = {"", "customer-1", "customer-2",
                                        "availability", "provider", NULL};
static const char *const REASONS[] = {"", "transient", "denied", NULL};

static int str_in(const struct tool_member *m, const char *const *set)
{
    return m->type == TOOL_V_STR && !m->str_long && in_set(m->str, set);
}

/* A string member holding an RFC 3339 UTC time. */
static int rfc3339(const struct tool_member *m)
{
    return m->type == TOOL_V_STR && !m->str_long &&
           tool_is_rfc3339(m->str, strlen(m->str));
}

/* One audit line, checked as a record. */
struct rec {
    long long seq;
    char prev[65];
    char hash[65];
};

/* A CKR_ name: "CKR_" and letters, digits, underscores. */
static int ckr_name(const struct tool_member *m)
{
    size_t i = 0, n = strlen(m->str);

    if (m->type != TOOL_V_STR || m->str_long || n < 5 || strncmp(m->str, "CKR_", 4) != 0)
        return 0;
    for (i = 4; i < n; i++)
        if (!isalnum((unsigned char)m->str[i]) && m->str[i] != '_')
            return 0;
    return 1;
}

/* The fields after reason: tenant, token, host, pid, result. */
static const char *check_more(const struct tool_member *m)
{
    size_t tl = strlen(m[7].str);

    if (m[7].type != TOOL_V_STR || m[7].str_long || (tl != 0 && tl != 32) ||
        !tool_is_lhex(m[7].str, tl))
        return "tenant is not 16 bytes of hex";
    if (m[8].type != TOOL_V_STR || m[8].str_long || strlen(m[8].str) > 16)
        return "token is not a serial number";
    if (m[9].type != TOOL_V_STR)
        return "host is not a string";
    if (m[10].type != TOOL_V_INT || m[10].num < 1)
        return "pid is not a positive number";
    if (!ckr_name(&m[11]))
        return "result is not a CKR_ name";
    if (strcmp(m[11].str, "CKR_OK") != 0 && m[5].str[0] != '\0')
        return "a refusal names a served_by";
    return NULL;
}

/* Checks the members of a line (scripts/dep11-audit-verify's parse()). */
static const char *check_rec(const struct tool_member *m, size_t n,
                             struct rec *r, char *why, size_t wlen)
{
    const struct tool_member *seq = &m[n - 2], *prev = &m[n - 1];
    const char *bad = NULL;
    size_t i = 0, pl = 0;

    for (i = 0; FIXED[i] != NULL; i++)
        if (i >= n || strcmp(m[i].name, FIXED[i]) != 0) {
            snprintf(why, wlen, "fixed fields missing or out of order");
            return why;
        }
    if (n < i + 2 || strcmp(seq->name, "seq") || strcmp(prev->name, "prev"))
        return "the line does not end with seq, prev";
    if (!str_in(&m[0], EVENTS))
        return "unknown event";
    if (!rfc3339(&m[1]))
        return "time is not RFC 3339 UTC";
    pl = strlen(m[2].str);
    if (m[2].type != TOOL_V_STR || m[2].str_long || (pl != 0 && pl != 32) ||
        !tool_is_lhex(m[2].str, pl))
        return "policy_id is not 16 bytes of hex";
    if (m[3].type != TOOL_V_INT || m[3].num < 0)
        return "version is not a number";
    if (!str_in(&m[4], REQUESTERS))
        return "unknown requester";
    if (!str_in(&m[5], SERVED_BY))
        return "unknown served_by";
    if (!str_in(&m[6], REASONS))
        return "unknown reason";
    if ((bad = check_more(m)) != NULL)
        return bad;
    if (seq->type != TOOL_V_INT || seq->num < 1)
        return "seq is not a positive number";
    if (prev->type != TOOL_V_STR || prev->str_long || strlen(prev->str) != 64 ||
        !tool_is_lhex(prev->str, 64))
        return "prev is not a SHA-256 in hex";
    r->seq = seq->num;
    memcpy(r->prev, prev->str, 65);
    return NULL;
}

/* What is wrong at 0-based line @i (the Python diagnose(), same order). */
static void diagnose(const struct rec *r, size_t nr, size_t i, char *msg,
                     size_t mlen)
{
    size_t n = i + 1, j = 0;
    long long gap = 0;

    if (i == 0) {
        snprintf(msg, mlen, "line 1: line 1 does not start the chain (prev is "
                 "not zeros): lines removed at the start");
        return;
    }
    if (i + 1 < nr && !strcmp(r[i].prev, r[i + 1].hash)) {
        snprintf(msg, mlen, "line %zu: lines %zu and %zu are swapped (out of "
                 "order)", n, n, n + 1);
        return;
    }
    if (i + 1 < nr && !strcmp(r[i + 1].prev, r[i - 1].hash)) {
        snprintf(msg, mlen, "line %zu: inserted: the next line chains to line "
                 "%zu", n, n - 1);
        return;
    }
    if (i >= 2 && !strcmp(r[i].prev, r[i - 2].hash)) {
        snprintf(msg, mlen, "line %zu: inserted: line %zu chains to line %zu",
                 n - 1, n, n - 2);
        return;
    }
    for (j = 0; j < nr; j++)
        if (j != i - 1 && !strcmp(r[j].hash, r[i].prev)) {
            snprintf(msg, mlen, "line %zu: out of order: chains to line %zu",
                     n, j + 1);
            return;
        }
    gap = r[i].seq - r[i - 1].seq;
    if (gap > 1)
        snprintf(msg, mlen, "line %zu: removed: %lld line(s) missing before "
                 "this one (seq %lld follows %lld)", n, gap - 1, r[i].seq,
                 r[i - 1].seq);
    else if (gap == 1)
        snprintf(msg, mlen, "line %zu: changed: its hash does not match the "
                 "prev of line %zu (or that prev was changed)", n - 1, n);
    else
        snprintf(msg, mlen, "line %zu: seq %lld does not follow %lld (changed "
                 "or inserted)", n, r[i].seq, r[i - 1].seq);
}

/* Parses every line of @d into *@out. 1 and @msg when a line is bad. */
static int parse_log(const unsigned char *d, size_t len, struct rec **out,
                     size_t *nr, char *msg, size_t mlen)
{
    struct tool_member *m = calloc(TOOL_MEMBERS_MAX, sizeof *m);
    struct rec *r = NULL;
    const unsigned char *p = d, *nl = NULL;
    size_t lines = 0, i = 0, nm = 0;
    const char *why = NULL;
    char wbuf[128];

    for (i = 0; i < len; i++)
        lines += d[i] == '\n';
    r = calloc(lines + 1, sizeof *r);
    if (m == NULL || r == NULL) {
        free(m);
        free(r);
        snprintf(msg, mlen, "out of memory");
        return 2;
    }
    for (i = 0; i < lines; i++, p = nl + 1) {
        nl = memchr(p, '\n', len - (size_t)(p - d));
        why = tool_json_scan_line((const char *)p, (size_t)(nl - p), m, &nm);
        if (why == NULL)
            why = nm < 2 ? "fixed fields missing or out of order"
                         : check_rec(m, nm, &r[i], wbuf, sizeof wbuf);
        if (why != NULL) {
            snprintf(msg, mlen, "line %zu: malformed (changed?): %s", i + 1, why);
            free(m);
            free(r);
            return 1;
        }
        tool_sha256_hex(p, (size_t)(nl - p), r[i].hash);
    }
    free(m);
    *out = r;
    *nr = lines;
    return 0;
}

/* The Python verify(): 0 ok, 1 broken (@msg says why), 2 no memory. */
static int audit_check(const unsigned char *d, size_t len, long long hseq,
                       const char *hhash, char *msg, size_t mlen)
{
    struct rec *r = NULL;
    size_t nr = 0, i = 0, nl = 0;
    int rc = 0;
    const char *want = NULL;

    if (len > 0 && d[len - 1] != '\n') {
        for (i = 0; i < len; i++)
            nl += d[i] == '\n';
        snprintf(msg, mlen, "line %zu: no newline at the end (a partial or "
                 "appended line)", nl + 1);
        return 1;
    }
    rc = parse_log(d, len, &r, &nr, msg, mlen);
    if (rc != 0)
        return rc;
    for (i = 0; i < nr; i++) {
        want = i == 0 ? "0000000000000000000000000000000000000000000000000000"
                        "000000000000" : r[i - 1].hash;
        if (strcmp(r[i].prev, want) != 0 ||
            r[i].seq != (i == 0 ? 1 : r[i - 1].seq + 1)) {
            diagnose(r, nr, i, msg, mlen);
            free(r);
            return 1;
        }
    }
    if (hhash != NULL) {
        for (i = 0; i < nr && r[i].seq != hseq; i++)
            ;
        if (i == nr || strcmp(r[i].hash, hhash) != 0) {
            snprintf(msg, mlen, "head seq %lld (%.16s...) is not in the log: "
                     "lines removed at the end", hseq, hhash);
            free(r);
            return 1;
        }
    }
    if (nr == 0)
        snprintf(msg, mlen, "empty log");
    else
        snprintf(msg, mlen, "%zu lines verify; head %lld:%s", nr,
                 r[nr - 1].seq, r[nr - 1].hash);
    free(r);
    return 0;
}
enum { OPT_HEAD = 1000, OPT_QUIET };

struct audit_opts {
    const char *head;
    int quiet;
};

static int audit_opt(struct tool *t, int c, const char *arg, void *ctx)
{
    struct audit_opts *o = ctx;

    (void)t;
    if (c == OPT_HEAD)
        o->head = arg;
    else if (c == OPT_QUIET)
        o->quiet = 1;
    return 0;
}

/* Prints the verdict (text or JSON) and returns the exit code. */
static int audit_report(struct tool *t, const char *path, int ok,
                        const char *msg, int quiet)
{
    if (t->opt.json) {
        printf("{\"ok\":%s,\"file\":", ok ? "true" : "false");
        tool_json_str(stdout, path);
        printf(",\"message\":");
        tool_json_str(stdout, msg);
        printf("}\n");
    } else if (!ok || !quiet) {
        printf("%s: %s: %s\n", path, ok ? "OK" : "BROKEN", msg);
    }
    return ok ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
}

static int audit_verify(struct tool *t, int argc, char **argv)
{
    static const struct option lo[] = {
        {"head", 1, NULL, OPT_HEAD}, {"quiet", 0, NULL, OPT_QUIET},
        TOOL_COMMON_LONGOPTS, {NULL, 0, NULL, 0},
    };
    struct audit_opts o = {NULL, 0};
    unsigned char *data = NULL;
    size_t len = 0, dl = 0;
    char msg[MSG_MAX], *end = NULL;
    const char *colon = NULL;
    long long hseq = 0;
    int rc = 0, first = 0;

    rc = tool_parse(t, &tool_cmd_audit_verify, argc, argv, lo, audit_opt, &o,
                    &first);
    if (rc != 0)
        return rc < 0 ? TOOL_EXIT_OK : rc;
    if (first != argc - 1)
        return tool_error(t, TOOL_EXIT_USAGE, "give one audit log (see --help)");
    if (o.head != NULL) {
        colon = strchr(o.head, ':');
        dl = colon ? strlen(colon + 1) : 0;
        if (colon == NULL || colon == o.head || !isdigit((unsigned char)*o.head) ||
            dl != 64 || !tool_is_lhex(colon + 1, 64))
            return tool_error(t, TOOL_EXIT_USAGE, "--head wants SEQ:SHA256");
        hseq = strtoll(o.head, &end, 10);
        if (end != colon)
            return tool_error(t, TOOL_EXIT_USAGE, "--head wants SEQ:SHA256");
    }
    rc = tool_read_all(t, argv[first], FILE_MAX, &data, &len);
    if (rc != 0)
        return rc;
    rc = audit_check(data, len, hseq, colon ? colon + 1 : NULL, msg, sizeof msg);
    free(data);
    if (rc == 2)
        return tool_error(t, TOOL_EXIT_FAIL, "%s", msg);
    return audit_report(t, argv[first], rc == 0, msg, o.quiet);
}

const struct tool_cmd tool_cmd_audit_verify = {
    "audit", "verify", audit_verify,
    "check the hash chain of a dep11 audit log (no module needed)",
    "Usage: dep11-tool audit verify FILE [--head SEQ:SHA256] [--quiet]\n\n"
    "Checks a dep11 audit log (docs/CONFIG.md): every line a JSON object\n"
    "with the fixed fields in order and \"seq\", \"prev\" last; \"seq\"\n"
    "counts from 1; \"prev\" is the SHA-256 (hex) of the previous line\n"
    "without its newline, 64 zeros on the first. The first bad line is\n"
    "reported with what went wrong (changed, removed, inserted, swapped,\n"
    "partial, malformed). On success the head (SEQ:SHA256 of the last\n"
    "line) is printed: pass it back with --head next time to detect lines\n"
    "cut from the end. --quiet prints nothing on success.\n"
    "Exit 0: the log verifies; 1: it does not; 2: usage or I/O error.",
};

