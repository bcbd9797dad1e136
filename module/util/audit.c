/*
 * audit.c - the append-only, hash-chained audit log (DESIGN section 5): one
 * JSON line per event: the fixed fields in a fixed order, extra members,
 * "seq" (one more than the previous line's) and "prev" (the SHA-256 of the
 * previous line) last. Many processes may append to one file: each write
 * holds flock(LOCK_EX) around read-last-line + one write() call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "dep11.h"
#include "util/audit.h"
#include "util/hex.h"
#include "util/lock.h"
#include "util/log.h"

#define HASH_LEN 32
#define LINE_CAP 8192            /* one line we write, newline included */
#define EXTRA_MAX 4096           /* extra_json members */
#define LAST_LINE_MAX (1 << 20)  /* refuse to chain onto a longer last line */
#define BLOCK 4096               /* read size when seeking the last line */
#define SEQ_TAIL 160             /* "seq":N,"prev":"<64 hex>"} fits in this */

/* A leaf lock (util/lock.h): held only around one append; only the log
 * lock may be taken inside it. flock() does not exclude threads sharing
 * one open file description, hence this mutex as well. */
static dep11_mutex_t audit_lock = DEP11_MUTEX_INIT;
static int audit_fd = -1;
static pid_t audit_pid;          /* the process that opened audit_fd */
static char audit_path[PATH_MAX];

/* DESIGN section 5's events, then root registration by SO login. */
static const char *const EVENTS[] = {
    "policy-wrap", "policy-unwrap", "availability-use", "availability-roll", "refresh",
    "purge",       "offboard",      "root-register",    "root-unregister",
};

/* A bounded line under construction; @over is set once it did not fit. */
struct line {
    char buf[LINE_CAP];
    size_t len;
    int over;
};

static void put_raw(struct line *l, const char *s, size_t n)
{
    if (l->over || n > sizeof(l->buf) - l->len) {
        l->over = 1;
        return;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void put(struct line *l, const char *s)
{
    put_raw(l, s, strlen(s));
}

/* A JSON string: quotes, backslashes and control bytes escaped; other
 * bytes (UTF-8) as they are. */
static void put_str(struct line *l, const char *s)
{
    char esc[8];

    put_raw(l, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            put_raw(l, esc, 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", *p);
            put_raw(l, esc, 6);
        } else {
            put_raw(l, (const char *)p, 1);
        }
    }
    put_raw(l, "\"", 1);
}

/* "name":"value", (a member with its trailing comma). */
static void put_member(struct line *l, const char *name, const char *value)
{
    put_str(l, name);
    put_raw(l, ":", 1);
    put_str(l, value);
    put_raw(l, ",", 1);
}

static const char *requester_name(CK_ULONG r)
{
    return r == 0 ? "" : r == DEP11_REQUESTER_USER ? "user"
           : r == DEP11_REQUESTER_SYSTEM ? "system"
           : r == DEP11_REQUESTER_RECOVERY ? "recovery" : NULL;
}

static const char *served_name(CK_ULONG s)
{
    return s == 0 ? "" : s == DEP11_ROOT_CUSTOMER_1 ? "customer-1"
           : s == DEP11_ROOT_CUSTOMER_2 ? "customer-2"
           : s == DEP11_ROOT_AVAILABILITY ? "availability"
           : s == DEP11_ROOT_PROVIDER ? "provider" : NULL;
}

/* The event's fields against the vocabulary of DESIGN section 5. Extra
 * members are the module's own text; still, they must keep the line one
 * record and must not repeat a fixed field. */
static CK_RV check_event(const struct dep11_audit_event *e)
{
    CK_RV rv = CKR_ARGUMENTS_BAD;
    int known = 0;

    for (size_t i = 0; e->event != NULL && i < sizeof(EVENTS) / sizeof(EVENTS[0]); i++)
        known |= strcmp(e->event, EVENTS[i]) == 0;
    if (!known || requester_name(e->requester) == NULL || served_name(e->served_by) == NULL) {
        LOG_FAIL(rv, "audit event '%s' requester %lu served_by %lu outside the vocabulary",
                 e->event != NULL ? e->event : "(null)", (unsigned long)e->requester,
                 (unsigned long)e->served_by);
        return rv;
    }
    if (e->reason != NULL && e->reason[0] != '\0' && strcmp(e->reason, "transient") != 0 &&
        strcmp(e->reason, "denied") != 0) {
        LOG_FAIL(rv, "audit reason '%s' is neither transient nor denied", e->reason);
        return rv;
    }
    if (e->extra_json != NULL) {
        size_t n = strnlen(e->extra_json, EXTRA_MAX + 1);
        int ctl = 0;

        for (size_t i = 0; i < n; i++)
            ctl |= (unsigned char)e->extra_json[i] < 0x20;
        if (n > EXTRA_MAX || ctl || strstr(e->extra_json, "\"prev\"") != NULL ||
            strstr(e->extra_json, "\"seq\"") != NULL ||
            (n > 0 && (e->extra_json[0] == ',' || e->extra_json[n - 1] == ','))) {
            LOG_FAIL(rv, "audit extra members rejected (%zu bytes)", n);
            return rv;
        }
    }
    return CKR_OK;
}

/* Everything of the line but "seq" and "prev": the fixed fields in their
 * fixed order, then the extra members. */
static void format_body(struct line *l, const struct dep11_audit_event *e)
{
    char id[2 * DEP11_ID_LEN + 1] = "";
    char num[32], when[32], tenant[2 * DEP11_ID_LEN + 1], host[256];
    struct timespec ts;
    struct tm tm;

    if (e->policy_id != NULL)
        dep11_hex_encode(e->policy_id, DEP11_ID_LEN, id);
    when[0] = '\0';
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && gmtime_r(&ts.tv_sec, &tm) != NULL)
        (void)strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    put(l, "{");
    put_member(l, "event", e->event);
    put_member(l, "time", when);
    put_member(l, "policy_id", id);
    snprintf(num, sizeof(num), "\"version\":%lu,", (unsigned long)e->version);
    put(l, num);
    put_member(l, "requester", requester_name(e->requester));
    put_member(l, "served_by", served_name(e->served_by));
    put_member(l, "reason", e->reason != NULL ? e->reason : "");
    tenant[0] = '\0';
    if (e->tenant != NULL)
        dep11_hex_encode(e->tenant, DEP11_ID_LEN, tenant);
    put_member(l, "tenant", tenant);
    put_member(l, "token", e->token != NULL ? e->token : "");
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    put_member(l, "host", host);
    snprintf(num, sizeof(num), "\"pid\":%ld,", (long)getpid());
    put(l, num);
    put_member(l, "result", dep11_rv_name(e->result));
    if (e->extra_json != NULL && e->extra_json[0] != '\0') {
        put(l, e->extra_json);
        put(l, ",");
    }
}

/* pread() of exactly @n bytes at @off: 0, or -1 (short file, I/O error). */
static int pread_full(int fd, void *buf, size_t n, off_t off)
{
    size_t done = 0;

    while (done < n) {
        ssize_t r = pread(fd, (char *)buf + done, n - done, off + (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

/* Where the last line of a file of @size bytes begins: it ends at the
 * final newline, and starts after the newline before it (or at 0).
 * Reads backwards in blocks, never the whole file. */
static CK_RV last_line_start(int fd, off_t size, off_t *start)
{
    char buf[BLOCK];
    off_t end = size - 1, pos = end;

    if (pread_full(fd, buf, 1, end) != 0 || buf[0] != '\n') {
        LOG_FAIL(CKR_FUNCTION_FAILED, "audit log %s does not end in a newline (a "
                 "partial or edited last line): refusing to chain onto it", audit_path);
        return CKR_FUNCTION_FAILED;
    }
    while (pos > 0) {
        size_t chunk = pos < (off_t)BLOCK ? (size_t)pos : BLOCK;
        if (pread_full(fd, buf, chunk, pos - (off_t)chunk) != 0) {
            LOG_FAIL(CKR_FUNCTION_FAILED, "reading audit log %s: %s", audit_path,
                     strerror(errno));
            return CKR_FUNCTION_FAILED;
        }
        for (size_t i = chunk; i-- > 0;)
            if (buf[i] == '\n') {
                *start = pos - (off_t)chunk + (off_t)i + 1;
                return CKR_OK;
            }
        pos -= (off_t)chunk;
        if (end - pos > LAST_LINE_MAX) {
            LOG_FAIL(CKR_FUNCTION_FAILED, "audit log %s: last line over %d bytes",
                     audit_path, LAST_LINE_MAX);
            return CKR_FUNCTION_FAILED;
        }
    }
    *start = 0;
    return CKR_OK;
}

/* The "seq" of the line [@start, @end): it sits just before "prev", in
 * the line's last SEQ_TAIL bytes. 0 (and a warning) when absent. */
static uint64_t last_seq(int fd, off_t start, off_t end)
{
    char tail[SEQ_TAIL + 1];
    size_t n = end - start < SEQ_TAIL ? (size_t)(end - start) : SEQ_TAIL;
    const char *p = NULL, *q = NULL;
    uint64_t seq = 0;

    if (pread_full(fd, tail, n, end - (off_t)n) == 0) {
        tail[n] = '\0';
        for (q = tail; (q = strstr(q, "\"seq\":")) != NULL; q++)
            p = q + 6;
    }
    if (p == NULL || *p < '0' || *p > '9') {
        LOG_WARN("audit log %s: last line carries no seq; numbering restarts", audit_path);
        return 0;
    }
    for (; *p >= '0' && *p <= '9' && seq < UINT64_MAX / 10 - 9; p++)
        seq = seq * 10 + (uint64_t)(*p - '0');
    return seq;
}

/* SHA-256 of the last line (without its newline), 32 zeros when empty;
 * *@seq gets its "seq" (0 when empty). */
static CK_RV last_line_hash(int fd, off_t size, uint8_t out[HASH_LEN], uint64_t *seq)
{
    CK_RV rv = CKR_FUNCTION_FAILED;
    EVP_MD_CTX *md = NULL;
    char buf[BLOCK];
    off_t start = 0, end = size - 1;
    unsigned int n = 0;

    memset(out, 0, HASH_LEN);
    *seq = 0;
    if (size == 0)
        return CKR_OK;
    rv = last_line_start(fd, size, &start);
    if (rv != CKR_OK)
        return rv;
    *seq = last_seq(fd, start, end);
    rv = CKR_FUNCTION_FAILED;
    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        goto out;
    for (off_t pos = start; pos < end;) {
        size_t chunk = end - pos < (off_t)BLOCK ? (size_t)(end - pos) : BLOCK;
        if (pread_full(fd, buf, chunk, pos) != 0 || EVP_DigestUpdate(md, buf, chunk) != 1)
            goto out;
        pos += (off_t)chunk;
    }
    if (EVP_DigestFinal_ex(md, out, &n) == 1 && n == HASH_LEN)
        rv = CKR_OK;
out:
    if (rv != CKR_OK)
        LOG_FAIL(rv, "hashing the last line of audit log %s", audit_path);
    EVP_MD_CTX_free(md);
    return rv;
}

/* One write() of the whole line; a short write is undone (the flock is
 * held, so the file still ends where it did). */
static CK_RV append(int fd, off_t size, const char *p, size_t n)
{
    ssize_t w = -1;

    do
        w = write(fd, p, n);
    while (w < 0 && errno == EINTR);
    if (w == (ssize_t)n)
        return CKR_OK;
    LOG_FAIL(CKR_FUNCTION_FAILED, "writing audit log %s: %s", audit_path,
             w < 0 ? strerror(errno) : "short write");
    if (w > 0 && ftruncate(fd, size) != 0)
        LOG_ERROR("audit log %s: cannot undo a partial line: %s", audit_path,
                  strerror(errno));
    return CKR_FUNCTION_FAILED;
}

/* Under audit_lock: flock, chain, format, append, unlock. */
static CK_RV write_locked(const struct dep11_audit_event *e, struct line *l)
{
    CK_RV rv = CKR_FUNCTION_FAILED;
    uint8_t prev[HASH_LEN];
    char prev_hex[2 * HASH_LEN + 1], num[40];
    uint64_t seq = 0;
    struct stat st;

    if (flock(audit_fd, LOCK_EX) != 0) {
        LOG_FAIL(rv, "locking audit log %s: %s", audit_path, strerror(errno));
        return rv;
    }
    /* --- flock held: no other writer appends until LOCK_UN --- */
    if (fstat(audit_fd, &st) != 0) {
        LOG_FAIL(rv, "stat of audit log %s: %s", audit_path, strerror(errno));
        goto out;
    }
    rv = last_line_hash(audit_fd, st.st_size, prev, &seq);
    if (rv != CKR_OK)
        goto out;
    dep11_hex_encode(prev, HASH_LEN, prev_hex);
    format_body(l, e);
    snprintf(num, sizeof(num), "\"seq\":%llu,", (unsigned long long)seq + 1);
    put(l, num);
    put(l, "\"prev\":\"");
    put(l, prev_hex);
    put(l, "\"}\n");
    if (l->over) {
        rv = CKR_FUNCTION_FAILED;
        LOG_FAIL(rv, "audit line longer than %d bytes", LINE_CAP);
        goto out;
    }
    rv = append(audit_fd, st.st_size, l->buf, l->len);
out:
    (void)flock(audit_fd, LOCK_UN);
    return rv;
}

/**
 * dep11_audit_write - appends one line for @e (see audit.h).
 * @e [in] the event; its strings are copied into the line, never kept.
 * Returns CKR_OK (also when no log is open: nothing is written);
 * CKR_ARGUMENTS_BAD (NULL, or a field outside the vocabulary of DESIGN
 * section 5); CKR_FUNCTION_FAILED (the line could not be written, the log
 * ends in a partial line, or it was opened by a parent process; logged).
 */
CK_RV dep11_audit_write(const struct dep11_audit_event *e)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    struct line l;

    if (e == NULL) {
        LOG_FAIL(CKR_ARGUMENTS_BAD, "NULL audit event");
        return CKR_ARGUMENTS_BAD;
    }
    rv = check_event(e);
    if (rv != CKR_OK)
        return rv;
    l.len = 0;
    l.over = 0;
    /* --- audit_lock --- */
    dep11_lock(&audit_lock);
    if (audit_fd < 0) {
        rv = CKR_OK;
    } else if (audit_pid != getpid()) {
        rv = CKR_FUNCTION_FAILED;
        LOG_FAIL(rv, "audit log opened by the parent process: initialize again");
    } else {
        rv = write_locked(e, &l);
    }
    dep11_unlock(&audit_lock);
    return rv;
}

/* Closes the log; audit_lock held. In a forked child the descriptor is the
 * child's own copy: closing it leaves the parent's open. */
static void close_locked(void)
{
    if (audit_fd >= 0)
        (void)close(audit_fd);
    audit_fd = -1;
    audit_path[0] = '\0';
}

/* Opens @path for appending (created 0600); audit_lock held. */
static CK_RV open_locked(const char *path)
{
    CK_RV rv = CKR_FUNCTION_FAILED;
    struct stat st;
    int fd = -1;

    if (strlen(path) >= sizeof(audit_path)) {
        LOG_FAIL(rv, "audit log path too long");
        return rv;
    }
    fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
        LOG_FAIL(rv, "opening audit log %s: %s", path, strerror(errno));
        LOG_ERROR("cannot open audit log %s: %s", path, strerror(errno));
        return rv;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        LOG_FAIL(rv, "audit log %s is not a regular file", path);
        LOG_ERROR("audit log %s is not a regular file", path);
        (void)close(fd);
        return rv;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        LOG_WARN("audit log %s is writable by group or others", path);
    audit_fd = fd;
    audit_pid = getpid();
    memcpy(audit_path, path, strlen(path) + 1);
    return CKR_OK;
}

/* In a child of the opener (called at its C_Initialize/C_Finalize, with
 * the module's state lock held): a thread of the parent may have held
 * audit_lock at fork time, and that thread does not exist here. */
static void forget_parent(void)
{
    static const dep11_mutex_t fresh = DEP11_MUTEX_INIT;

    if (audit_fd >= 0 && audit_pid != getpid())
        audit_lock = fresh;
}

/**
 * dep11_audit_open - opens (creating it with mode 0600) the audit log at
 * @path for appending; a log already open is closed first. @path [in] a
 * path, or NULL/"" to run without a log. In a forked child it first
 * forgets the parent's descriptor and lock state.
 * Returns CKR_OK; CKR_FUNCTION_FAILED (logged with the path).
 */
CK_RV dep11_audit_open(const char *path)
{
    CK_RV rv = CKR_OK;

    forget_parent();
    /* --- audit_lock --- */
    dep11_lock(&audit_lock);
    close_locked();
    if (path != NULL && path[0] != '\0')
        rv = open_locked(path);
    dep11_unlock(&audit_lock);
    return rv;
}

/**
 * dep11_audit_close - closes the log (no-op when none is open). Later
 * writes succeed and write nothing until dep11_audit_open.
 */
void dep11_audit_close(void)
{
    forget_parent();
    dep11_lock(&audit_lock);
    close_locked();
    dep11_unlock(&audit_lock);
}
