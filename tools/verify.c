/*
 * verify.c - dep11-tool's offline verifiers: "audit verify" checks the
 * hash chain of an audit log (docs/CONFIG.md), "receipt verify" a purge
 * receipt against the pinned receipt key (docs/RECEIPTS.md). They load no
 * module and are an independent cross-check of scripts/dep11-*-verify.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "tool.h"

#define FILE_MAX (1024L * 1024 * 1024) /* the largest log we read */
#define MSG_MAX 512

/* Reads @path whole into a malloc'd buffer. 0 or TOOL_EXIT_USAGE. */
static int read_all(struct tool *t, const char *path, long max,
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

static void sha256_hex(const unsigned char *p, size_t n, char hex[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    size_t i = 0;

    SHA256(p, n, md);
    for (i = 0; i < sizeof md; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static int is_lhex(const char *s, size_t n)
{
    size_t i = 0;

    for (i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int in_set(const char *s, const char *const *set)
{
    for (; *set != NULL; set++)
        if (strcmp(s, *set) == 0)
            return 1;
    return 0;
}

/* ==== audit verify ==== */

enum { V_STR, V_INT, V_OTHER };
#define NAME_MAX_LEN 64
#define MEMBERS_MAX 32

/* One member of a flat audit record; strings are decoded (short). */
struct member {
    char name[NAME_MAX_LEN];
    int type;
    char str[80];
    int str_long;      /* the string did not fit: no vocabulary matches */
    long long num;
};

struct cursor {
    const char *p, *end;
};

static void skip_ws(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' ||
                             *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

/* A JSON string at c->p into @out (cap @cap; *@trunc set when longer).
 * Non-ASCII escapes decode to 0x80. Returns 0 or -1. */
static int scan_str(struct cursor *c, char *out, size_t cap, int *trunc)
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
static int scan_num(struct cursor *c, long long *v, int *is_int)
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
static int skip_value(struct cursor *c, int depth)
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

/* Scans one line into @m (*@nm members). Returns NULL or why it is bad. */
static const char *scan_line(const char *p, size_t len, struct member *m,
                             size_t *nm)
{
    struct cursor c = {p, p + len};
    struct cursor v;
    int trunc = 0, is_int = 0;
    size_t n = 0, i = 0;

    skip_ws(&c);
    if (c.p >= c.end || *c.p != '{')
        return skip_value(&c, 0) == 0 ? "not a JSON object" : "not JSON";
    c.p++;
    skip_ws(&c);
    if (c.p < c.end && *c.p == '}')
        c.p++;
    else
        for (;; n++) {
            if (n == MEMBERS_MAX)
                return "too many members";
            memset(&m[n], 0, sizeof m[n]);
            skip_ws(&c);
            if (scan_str(&c, m[n].name, sizeof m[n].name, &trunc) != 0)
                return "not JSON";
            skip_ws(&c);
            if (c.p >= c.end || *c.p++ != ':')
                return "not JSON";
            skip_ws(&c);
            v = c;
            if (c.p < c.end && *c.p == '"') {
                m[n].type = V_STR;
                if (scan_str(&c, m[n].str, sizeof m[n].str, &m[n].str_long))
                    return "not JSON";
            } else if (c.p < c.end && (*c.p == '-' || isdigit((unsigned char)*c.p))) {
                if (scan_num(&c, &m[n].num, &is_int) != 0)
                    return "not JSON";
                m[n].type = is_int ? V_INT : V_OTHER;
            } else {
                m[n].type = V_OTHER;
                c = v;
                if (skip_value(&c, 0) != 0)
                    return "not JSON";
            }
            skip_ws(&c);
            if (c.p < c.end && *c.p == ',') {
                c.p++;
                continue;
            }
            if (c.p < c.end && *c.p == '}') {
                c.p++;
                n++;
                break;
            }
            return "not JSON";
        }
    skip_ws(&c);
    if (c.p != c.end)
        return "not JSON";
    for (i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (!strcmp(m[i].name, m[j].name))
                return "a member appears twice";
    *nm = n;
    return NULL;
}

static const char *const FIXED[] = {"event", "time", "policy_id", "version",
                                    "requester", "served_by", "reason", NULL};
static const char *const EVENTS[] = {"policy-wrap", "policy-unwrap",
    "availability-use", "availability-roll", "refresh", "purge", "offboard",
    NULL};
static const char *const REQUESTERS[] = {"", "user", "system", "recovery", NULL};
static const char *const SERVED_BY[] = {"", "customer-1", "customer-2",
                                        "availability", "provider", NULL};
static const char *const REASONS[] = {"", "transient", "denied", NULL};

static int str_in(const struct member *m, const char *const *set)
{
    return m->type == V_STR && !m->str_long && in_set(m->str, set);
}

static int rfc3339(const struct member *m)
{
    static const char pat[] = "dddd-dd-ddTdd:dd:ddZ";
    size_t i = 0;

    if (m->type != V_STR || m->str_long || strlen(m->str) != 20)
        return 0;
    for (i = 0; i < 20; i++)
        if (pat[i] == 'd' ? !isdigit((unsigned char)m->str[i])
                          : m->str[i] != pat[i])
            return 0;
    return 1;
}

/* One audit line, checked as a record. */
struct rec {
    long long seq;
    char prev[65];
    char hash[65];
};

/* Checks the members of a line (scripts/dep11-audit-verify's parse()). */
static const char *check_rec(const struct member *m, size_t n, struct rec *r,
                             char *why, size_t wlen)
{
    const struct member *seq = &m[n - 2], *prev = &m[n - 1];
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
    if (m[2].type != V_STR || m[2].str_long || (pl != 0 && pl != 32) ||
        !is_lhex(m[2].str, pl))
        return "policy_id is not 16 bytes of hex";
    if (m[3].type != V_INT || m[3].num < 0)
        return "version is not a number";
    if (!str_in(&m[4], REQUESTERS))
        return "unknown requester";
    if (!str_in(&m[5], SERVED_BY))
        return "unknown served_by";
    if (!str_in(&m[6], REASONS))
        return "unknown reason";
    if (seq->type != V_INT || seq->num < 1)
        return "seq is not a positive number";
    if (prev->type != V_STR || prev->str_long || strlen(prev->str) != 64 ||
        !is_lhex(prev->str, 64))
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
    struct member *m = calloc(MEMBERS_MAX, sizeof *m);
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
        why = scan_line((const char *)p, (size_t)(nl - p), m, &nm);
        if (why == NULL)
            why = nm < 2 ? "fixed fields missing or out of order"
                         : check_rec(m, nm, &r[i], wbuf, sizeof wbuf);
        if (why != NULL) {
            snprintf(msg, mlen, "line %zu: malformed (changed?): %s", i + 1, why);
            free(m);
            free(r);
            return 1;
        }
        sha256_hex(p, (size_t)(nl - p), r[i].hash);
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

enum { OPT_HEAD = 1000, OPT_QUIET, OPT_KEY };

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
            dl != 64 || !is_lhex(colon + 1, 64))
            return tool_error(t, TOOL_EXIT_USAGE, "--head wants SEQ:SHA256");
        hseq = strtoll(o.head, &end, 10);
        if (end != colon)
            return tool_error(t, TOOL_EXIT_USAGE, "--head wants SEQ:SHA256");
    }
    rc = read_all(t, argv[first], FILE_MAX, &data, &len);
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


/* ==== receipt verify ==== */

#define MARKER ",\"signature\":\""

/* Canonical standard base64 (padding, no stray bits): *@out malloc'd. */
static int strict_b64(const char *s, size_t n, unsigned char **out,
                      size_t *olen)
{
    unsigned char *raw = NULL, *re = NULL;
    size_t i = 0, pad = 0;
    int r = -1;

    if (n % 4 != 0)
        return -1;
    for (i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '/' ||
              (s[i] == '=' && i >= n - 2)))
            return -1;
    if (n >= 1 && s[n - 1] == '=')
        pad++;
    if (n >= 2 && s[n - 2] == '=') {
        if (s[n - 1] != '=')
            return -1;
        pad++;
    }
    raw = malloc(n / 4 * 3 + 1);
    re = malloc(n + 1);
    if (raw == NULL || re == NULL)
        goto out;
    if (EVP_DecodeBlock(raw, (const unsigned char *)s, (int)n) < 0)
        goto out;
    *olen = n / 4 * 3 - pad;
    if (EVP_EncodeBlock(re, raw, (int)*olen) != (int)n || memcmp(re, s, n))
        goto out;
    *out = raw;
    raw = NULL;
    r = 0;
out:
    free(raw);
    free(re);
    return r;
}

/* Checks the signature over everything before "signature". NULL or why. */
static const char *check_signature(const unsigned char *d, size_t len,
                                   EVP_PKEY *pin)
{
    const size_t ml = sizeof MARKER - 1;
    unsigned char *der = NULL, *re = NULL;
    const unsigned char *q = NULL;
    size_t cut = 0, dlen = 0, i = 0;
    ECDSA_SIG *sig = NULL;
    EVP_MD_CTX *md = NULL;
    const char *why = "no signature member at the end";
    int found = 0, rl = 0;

    for (i = len >= ml ? len - ml + 1 : 0; i-- > 0;)
        if (!memcmp(d + i, MARKER, ml)) {
            cut = i, found = 1;
            break;
        }
    if (!found || len < 2 || memcmp(d + len - 2, "\"}", 2) ||
        cut + ml > len - 2)
        return why;
    why = "bad base64";
    if (strict_b64((const char *)d + cut + ml, len - 2 - cut - ml, &der, &dlen))
        goto out;
    why = "signature is not a DER ECDSA-Sig-Value";
    q = der;
    sig = d2i_ECDSA_SIG(NULL, &q, (long)dlen);
    if (sig == NULL || q != der + dlen)
        goto out;
    why = "signature DER is not canonical";
    rl = i2d_ECDSA_SIG(sig, &re);
    if (rl != (int)dlen || memcmp(re, der, dlen))
        goto out;
    why = "signature does not verify with the pinned key";
    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pin) != 1 ||
        EVP_DigestVerify(md, der, dlen, d, cut + 1) != 1)
        goto out;
    why = NULL;
out:
    EVP_MD_CTX_free(md);
    OPENSSL_free(re);
    ECDSA_SIG_free(sig);
    free(der);
    return why;
}

/* A strict scanner of the canonical receipt: literal text and values. */
static int lit(struct cursor *c, const char *s)
{
    size_t n = strlen(s);

    if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n))
        return -1;
    c->p += n;
    return 0;
}

/* A string of printable ASCII without escapes: [*@s, *@s + *@n). */
static int rstr(struct cursor *c, const char **s, size_t *n)
{
    if (lit(c, "\"") != 0)
        return -1;
    *s = c->p;
    while (c->p < c->end && *c->p != '"') {
        if ((unsigned char)*c->p < 0x20 || (unsigned char)*c->p >= 0x7f ||
            *c->p == '\\')
            return -1;
        c->p++;
    }
    *n = (size_t)(c->p - *s);
    return lit(c, "\"");
}

static int rnum(struct cursor *c, long long *v)
{
    int digits = 0;

    *v = 0;
    if (c->p < c->end && *c->p == '0')
        return c->p++, 0;
    while (c->p < c->end && isdigit((unsigned char)*c->p) && digits < 18)
        *v = *v * 10 + (*c->p++ - '0'), digits++;
    return digits > 0 && !(c->p < c->end && isdigit((unsigned char)*c->p)) ? 0 : -1;
}

static int eq(const char *s, size_t n, const char *want)
{
    return n == strlen(want) && !memcmp(s, want, n);
}

static int hexn(const char *s, size_t n, size_t want)
{
    return (want == 0 || n == want) && n % 2 == 0 && is_lhex(s, n);
}

/* One member of "keys". NULL or why. */
static const char *check_key(struct cursor *c)
{
    const char *cp, *it, *id, *hi, *fa;
    size_t cn, itn, idn, hin, fan;
    int ok = 0;

    if (lit(c, "{\"copy\":") || rstr(c, &cp, &cn) ||
        lit(c, ",\"id_type\":") || rstr(c, &it, &itn) ||
        lit(c, ",\"identity\":") || rstr(c, &id, &idn) ||
        lit(c, ",\"hint\":") || rstr(c, &hi, &hin) ||
        lit(c, ",\"fate\":") || rstr(c, &fa, &fan) || lit(c, "}"))
        return "a key entry is not canonical or its members are not "
               "copy,id_type,identity,hint,fate";
    ok = ((eq(cp, cn, "customer-1") || eq(cp, cn, "customer-2")) &&
          eq(it, itn, "spki-sha256")) ||
         (eq(cp, cn, "availability") && eq(it, itn, "cka-id"));
    if (!ok || !(eq(fa, fan, "revoked-by-customer") ||
                 eq(fa, fan, "decrypt-disabled-by-customer") ||
                 eq(fa, fan, "invalid-copy") || eq(fa, fan, "destroyed")))
        return "bad key entry";
    if (idn == 0 || !hexn(id, idn, 0) || !hexn(hi, hin, 0))
        return "bad key identity";
    return NULL;
}

/* The fields of a receipt printed on success. */
struct receipt {
    const char *pid, *ptype, *time, *keys;
    size_t pidn, ptypen, timen, keysn;
    long long bver;
};

/* The document: canonical, fixed members, names the pinned key. */
static const char *check_document(const unsigned char *d, size_t len,
                                  EVP_PKEY *pin, struct receipt *r)
{
    struct cursor c = {(const char *)d, (const char *)d + len};
    const char *rc, *ten, *bs, *spki, *ksha, *sig, *why = NULL;
    size_t rcn, tenn, bsn, spkin, kshan, sign, rawn = 0;
    unsigned char *raw = NULL, *want = NULL;
    char hex[65];
    long long rver = 0;
    int wl = 0;

    if (lit(&c, "{\"receipt\":") || rstr(&c, &rc, &rcn) ||
        lit(&c, ",\"receipt_version\":") || rnum(&c, &rver) ||
        lit(&c, ",\"policy_id\":") || rstr(&c, &r->pid, &r->pidn) ||
        lit(&c, ",\"policy_type\":") || rstr(&c, &r->ptype, &r->ptypen) ||
        lit(&c, ",\"tenant\":") || rstr(&c, &ten, &tenn) ||
        lit(&c, ",\"blob_version\":") || rnum(&c, &r->bver) ||
        lit(&c, ",\"blob_sha256\":") || rstr(&c, &bs, &bsn) ||
        lit(&c, ",\"time\":") || rstr(&c, &r->time, &r->timen) ||
        lit(&c, ",\"keys\":["))
        return "not canonical, or the members of the receipt are not as "
               "documented";
    r->keys = c.p;
    do {
        if ((why = check_key(&c)) != NULL)
            return why;
    } while (lit(&c, ",") == 0);
    r->keysn = (size_t)(c.p - r->keys);
    if (lit(&c, "],\"signing_key\":{\"spki\":") || rstr(&c, &spki, &spkin) ||
        lit(&c, ",\"sha256\":") || rstr(&c, &ksha, &kshan) ||
        lit(&c, "},\"signature\":") || rstr(&c, &sig, &sign) ||
        lit(&c, "}") || c.p != c.end)
        return "not canonical, or the members of the receipt are not as "
               "documented";
    if (!eq(rc, rcn, "dep11-purge") || rver != 1)
        return "not a dep11 purge receipt of version 1";
    if (!hexn(r->pid, r->pidn, 32) || !hexn(ten, tenn, 32) || !hexn(bs, bsn, 64))
        return "bad policy id, tenant or blob digest";
    if (!eq(r->ptype, r->ptypen, "mailbox") &&
        !eq(r->ptype, r->ptypen, "multi-workload") &&
        !eq(r->ptype, r->ptypen, "files"))
        return "unknown policy type";
    {
        struct member m;

        memset(&m, 0, sizeof m);
        m.type = V_STR;
        if (r->timen < sizeof m.str)
            memcpy(m.str, r->time, r->timen);
        if (r->timen >= sizeof m.str || !rfc3339(&m))
            return "bad time";
    }
    if (r->bver < 1)
        return "bad blob version";
    if (strict_b64(spki, spkin, &raw, &rawn) != 0)
        return "bad base64";
    wl = i2d_PUBKEY(pin, &want);
    if (wl <= 0 || (size_t)wl != rawn || memcmp(want, raw, rawn))
        why = "the receipt names another signing key than the pinned one";
    else {
        sha256_hex(raw, rawn, hex);
        if (!eq(ksha, kshan, hex))
            why = "signing key digest does not match";
    }
    OPENSSL_free(want);
    free(raw);
    return why;
}

/* Loads the pinned PEM: a P-256 SubjectPublicKeyInfo. */
static int load_key(struct tool *t, const char *path, EVP_PKEY **out)
{
    BIO *b = BIO_new_file(path, "rb");
    EVP_PKEY *k = NULL;
    char group[64];
    size_t gl = 0;

    if (b == NULL)
        return tool_error(t, TOOL_EXIT_USAGE, "%s: cannot open", path);
    k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    BIO_free(b);
    if (k == NULL || !EVP_PKEY_is_a(k, "EC") ||
        EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof group, &gl) != 1 ||
        strcmp(group, "prime256v1") != 0) {
        EVP_PKEY_free(k);
        return tool_error(t, TOOL_EXIT_USAGE, "%s: not a PEM P-256 public key",
                          path);
    }
    *out = k;
    return 0;
}

struct receipt_opts {
    const char *key;
};

static int receipt_opt(struct tool *t, int c, const char *arg, void *ctx)
{
    (void)t;
    if (c == OPT_KEY)
        ((struct receipt_opts *)ctx)->key = arg;
    return 0;
}

/* Prints the verdict of a receipt; returns the exit code. */
static int receipt_report(struct tool *t, const char *why,
                          const struct receipt *r)
{
    if (why != NULL) {
        fprintf(stderr, "INVALID: %s\n", why);
        if (t->opt.json) {
            printf("{\"ok\":false,\"exit\":1,\"message\":");
            tool_json_str(stdout, why);
            printf("}\n");
        }
        return TOOL_EXIT_FAIL;
    }
    if (t->opt.json) {
        printf("{\"ok\":true,\"policy_id\":\"%.*s\",\"policy_type\":\"%.*s\","
               "\"blob_version\":%lld,\"time\":\"%.*s\",\"keys\":[%.*s]}\n",
               (int)r->pidn, r->pid, (int)r->ptypen, r->ptype, r->bver,
               (int)r->timen, r->time, (int)r->keysn, r->keys);
        return TOOL_EXIT_OK;
    }
    printf("VALID: policy %.*s (%.*s, blob version %lld) purged at %.*s\n",
           (int)r->pidn, r->pid, (int)r->ptypen, r->ptype, r->bver,
           (int)r->timen, r->time);
    return TOOL_EXIT_OK;
}

static int receipt_verify(struct tool *t, int argc, char **argv)
{
    static const struct option lo[] = {
        {"key", 1, NULL, OPT_KEY}, TOOL_COMMON_LONGOPTS, {NULL, 0, NULL, 0},
    };
    struct receipt_opts o = {NULL};
    struct receipt r;
    unsigned char *data = NULL;
    size_t len = 0;
    EVP_PKEY *pin = NULL;
    const char *why = NULL;
    int rc = 0, first = 0;

    memset(&r, 0, sizeof r);
    rc = tool_parse(t, &tool_cmd_receipt_verify, argc, argv, lo, receipt_opt,
                    &o, &first);
    if (rc != 0)
        return rc < 0 ? TOOL_EXIT_OK : rc;
    if (first != argc - 1 || o.key == NULL)
        return tool_error(t, TOOL_EXIT_USAGE,
                          "give --key PEM and one receipt (see --help)");
    rc = load_key(t, o.key, &pin);
    if (rc != 0)
        return rc;
    rc = read_all(t, argv[first], TOOL_BLOB_MAX, &data, &len);
    if (rc == 0) {
        why = check_signature(data, len, pin);
        if (why == NULL)
            why = check_document(data, len, pin, &r);
        rc = receipt_report(t, why, &r);
    }
    free(data);
    EVP_PKEY_free(pin);
    return rc;
}

const struct tool_cmd tool_cmd_receipt_verify = {
    "receipt", "verify", receipt_verify,
    "check a purge receipt against the pinned receipt key (no module needed)",
    "Usage: dep11-tool receipt verify FILE --key PEM\n\n"
    "Checks a dep11 destruction receipt (docs/RECEIPTS.md) with the pinned\n"
    "receipt public key alone: the document is canonical with the documented\n"
    "members; its signing_key is the pinned key (DER and SHA-256); the\n"
    "signature (base64 of a DER ECDSA-Sig-Value, canonical) is an ECDSA\n"
    "P-256/SHA-256 signature over every byte up to and including the ','\n"
    "before \"signature\". --key is the PEM PUBLIC KEY the customer pinned.\n"
    "Exit 0: valid; 1: invalid (the reason on stderr); 2: usage error,\n"
    "unreadable file, or a key that is not a P-256 public key.",
};
