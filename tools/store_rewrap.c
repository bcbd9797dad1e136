/*
 * store_rewrap.c - "store rewrap": the bulk re-wrap of every child of a
 * store under one policy, with a progress bar on a terminal, resumable
 * after a crash or kill -9 (a journal of finished owners; every move is
 * crash-safe on its own, see tool_store_move).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* asprintf */
#endif
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "reg.h"
#include "tool.h"

#define JOURNAL_MAGIC "dep11-rewrap 1"

struct job {
    const char *dir;
    struct tool_keycache *cache;
    struct tool_cached *to;
    unsigned char from[16];
    int has_from;
    unsigned char *done;   /* sorted owners the journal lists */
    size_t ndone;
    int journal;           /* fd, O_APPEND */
    size_t total, seen, moved, already, journaled, skipped, failed;
    double t0, last_draw;
    int bar;               /* draw a progress bar on stderr */
};

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp16(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

/* Reads the journal: if it belongs to this job (same target and version),
 * loads its owners; otherwise starts a new one. Opens it for appending. */
static int journal_open(struct tool *t, struct job *j)
{
    char *path = NULL, head[128], id[33];
    unsigned char *buf = NULL;
    size_t len = 0, off = 0, hl = 0;
    int rc = -1;

    tool_hex(j->to->id, 16, id);
    snprintf(head, sizeof head, "%s target=%s version=%lu\n", JOURNAL_MAGIC,
             id, j->to->version);
    hl = strlen(head);
    if (asprintf(&path, "%s/rewrap.journal", j->dir) < 0)
        return -1;
    if (access(path, F_OK) == 0 &&
        tool_read_file(t, path, (size_t)1 << 28, &buf, &len) == 0 &&
        len >= hl && memcmp(buf, head, hl) == 0) {
        j->done = malloc((len - hl) / 33 * 16 + 16);
        /* Whole lines only: a line torn by a crash is ignored. */
        for (off = hl; j->done && off + 33 <= len; off += 33)
            if (buf[off + 32] == '\n' &&
                (buf[off + 32] = '\0',
                 tool_unhex((char *)buf + off, j->done + 16 * j->ndone, 16)
                     == 0))
                j->ndone++;
        qsort(j->done, j->ndone, 16, cmp16);
        rc = 0;
    } else {
        rc = tool_store_atomic(t, path, head, hl);
    }
    free(buf);
    if (rc == 0)
        j->journal = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (rc == 0 && j->journal < 0) {
        tool_error(t, TOOL_EXIT_FAIL, "cannot open %s", path);
        rc = -1;
    }
    free(path);
    return rc;
}

static void journal_add(struct job *j, const unsigned char *owner)
{
    char line[34];

    tool_hex(owner, 16, line);
    line[32] = '\n';
    if (write(j->journal, line, 33) != 33)
        return; /* the journal only saves work: the entries are the truth */
}

/* Removes temporary files a killed run left in @path (non-recursive). */
static void sweep_dir(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de = NULL;
    char *p = NULL;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strstr(de->d_name, ".tmp.") == NULL)
            continue;
        if (asprintf(&p, "%s/%s", path, de->d_name) > 0) {
            (void)unlink(p);
            free(p);
        }
    }
    closedir(d);
}

/* Sweeps DIR/owners, DIR/blobs/<every policy>. The store lock is held. */
static void sweep(const char *dir)
{
    char *p = NULL, *q = NULL;
    DIR *d = NULL;
    struct dirent *de = NULL;

    if (asprintf(&p, "%s/owners", dir) > 0) {
        sweep_dir(p);
        free(p);
    }
    if (asprintf(&p, "%s/blobs", dir) < 0)
        return;
    d = opendir(p);
    while (d != NULL && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (asprintf(&q, "%s/%s", p, de->d_name) > 0) {
            sweep_dir(q);
            free(q);
        }
    }
    if (d != NULL)
        closedir(d);
    free(p);
}

/* The progress bar: count, percentage, rate, ETA (stderr, a terminal). */
static void draw(struct job *j, int final)
{
    double el = now() - j->t0, rate = 0, eta = 0;
    size_t pct = j->total ? j->seen * 100 / j->total : 100, fill = pct / 4;
    char bar[26];

    if (!j->bar || (!final && now() - j->last_draw < 0.1))
        return;
    j->last_draw = now();
    rate = el > 0 ? (double)(j->seen - j->journaled) / el : 0;
    eta = rate > 0 ? (double)(j->total - j->seen) / rate : 0;
    memset(bar, '#', fill);
    memset(bar + fill, '.', 25 - fill);
    bar[25] = '\0';
    fprintf(stderr, "\rrewrap to \"%s\" [%s] %zu/%zu %3zu%% %7.0f/s ETA "
            "%d:%02d ", j->to->name, bar, j->seen, j->total, pct, rate,
            (int)eta / 60, (int)eta % 60);
    if (final)
        fputc('\n', stderr);
}

/* One owner of the job. */
static void job_one(struct tool *t, struct job *j, const unsigned char *owner)
{
    struct tool_entry e;

    j->seen++;
    if (j->ndone && bsearch(owner, j->done, j->ndone, 16, cmp16)) {
        j->journaled++;
        return;
    }
    if (tool_store_get(t, j->dir, owner, &e) != 0) {
        j->failed++;
        return;
    }
    if (j->has_from && memcmp(e.wrapped, j->from, 16) != 0 &&
        memcmp(e.assigned, j->from, 16) != 0) {
        j->skipped++;
        return;
    }
    if (tool_entry_done(&e, j->to)) {
        tool_store_tidy(j->dir, &e);
        j->already++;
    } else if (tool_store_move(t, j->dir, j->cache, &e, j->to) ==
               TOOL_EXIT_OK) {
        j->moved++;
    } else {
        j->failed++;
        return;
    }
    journal_add(j, owner);
}

/* Runs the job over every owner; prints the summary. */
static int job_run(struct tool *t, struct job *j)
{
    unsigned char *owners = NULL;
    size_t i = 0;
    char *path = NULL;

    if (tool_store_list(t, j->dir, &owners, &j->total) != 0)
        return TOOL_EXIT_FAIL;
    qsort(owners, j->total, 16, cmp16);
    sweep(j->dir);
    j->t0 = now();
    for (i = 0; i < j->total; i++) {
        int js = t->opt.json; /* per-child errors: stderr only */
        t->opt.json = 0;
        job_one(t, j, owners + 16 * i);
        t->opt.json = js;
        draw(j, 0);
    }
    draw(j, 1);
    free(owners);
    if (j->failed == 0 && asprintf(&path, "%s/rewrap.journal", j->dir) > 0) {
        (void)unlink(path); /* the job is complete */
        free(path);
    }
    if (t->opt.json)
        printf("{\"ok\":%s,\"policy\":\"%s\",\"version\":%lu,\"total\":%zu,"
               "\"rewrapped\":%zu,\"already\":%zu,\"resumed\":%zu,"
               "\"skipped\":%zu,\"failed\":%zu,\"seconds\":%.2f}\n",
               j->failed ? "false" : "true", j->to->name, j->to->version,
               j->total, j->moved, j->already, j->journaled, j->skipped,
               j->failed, now() - j->t0);
    else
        printf("store rewrap to \"%s\" (version %lu): %zu children: %zu "
               "re-wrapped, %zu already there, %zu done before (journal), "
               "%zu not selected, %zu failed, %.1f s\n", j->to->name,
               j->to->version, j->total, j->moved, j->already, j->journaled,
               j->skipped, j->failed, now() - j->t0);
    return j->failed ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
}

struct rw_opts {
    const char *store, *to, *from;
    CK_ULONG requester;
};

enum { OPT_STORE = 1000, OPT_TO, OPT_FROM, OPT_REQUESTER };

static int rw_opt(struct tool *t, int c, const char *arg, void *ctx)
{
    struct rw_opts *o = ctx;

    switch (c) {
    case OPT_STORE: o->store = arg; return 0;
    case OPT_TO: o->to = arg; return 0;
    case OPT_FROM: o->from = arg; return 0;
    case OPT_REQUESTER: return tool_requester_opt(t, arg, &o->requester);
    default: return TOOL_EXIT_USAGE;
    }
}

/* Resolves --to (active, unwrapped) and --from (an id). */
static int job_policies(struct tool *t, const struct rw_opts *o, struct job *j)
{
    struct tool_rec r;
    int rc = tool_reg_find(t, o->to, NULL, &r);

    if (rc == TOOL_EXIT_OK && r.state != TOOL_STATE_ACTIVE)
        rc = tool_error(t, TOOL_EXIT_FAIL, "policy \"%s\" is %s: re-wrap "
                        "under an active policy", r.name,
                        tool_state_name(r.state));
    if (rc == TOOL_EXIT_OK)
        rc = tool_cache_get(t, j->cache, r.id, &j->to);
    tool_rec_free(&r);
    if (rc == TOOL_EXIT_OK && o->from != NULL) {
        rc = tool_reg_find(t, o->from, NULL, &r);
        memcpy(j->from, r.id, 16);
        j->has_from = 1;
        tool_rec_free(&r);
    }
    return rc;
}

static int store_rewrap(struct tool *t, int argc, char **argv)
{
    static const struct option lo[] = {
        {"store", 1, NULL, OPT_STORE}, {"to", 1, NULL, OPT_TO},
        {"from", 1, NULL, OPT_FROM}, {"requester", 1, NULL, OPT_REQUESTER},
        TOOL_COMMON_LONGOPTS, {NULL, 0, NULL, 0},
    };
    struct rw_opts o = { NULL, NULL, NULL, DEP11_REQUESTER_USER };
    struct job j;
    int rc = 0, first = 0, lock = -1;

    memset(&j, 0, sizeof j);
    j.journal = -1;
    rc = tool_parse(t, &tool_cmd_store_rewrap, argc, argv, lo, rw_opt, &o,
                    &first);
    if (rc != 0)
        return rc < 0 ? TOOL_EXIT_OK : rc;
    if (first != argc || o.store == NULL || o.to == NULL)
        return tool_error(t, TOOL_EXIT_USAGE, "give --store DIR --to POLICY");
    j.dir = o.store;
    if (access(o.store, F_OK) != 0) /* a job never creates a store */
        return tool_error(t, TOOL_EXIT_USAGE, "%s is not a dep11 store",
                          o.store);
    j.bar = !t->opt.json && isatty(STDERR_FILENO);
    j.cache = calloc(1, sizeof *j.cache);
    if (j.cache == NULL)
        return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    j.cache->requester = o.requester;
    rc = tool_load_login(t, 0);
    if (rc == TOOL_EXIT_OK && tool_store_lock(t, o.store, &lock) != 0)
        rc = TOOL_EXIT_FAIL;
    if (rc == TOOL_EXIT_OK)
        rc = job_policies(t, &o, &j);
    if (rc == TOOL_EXIT_OK && journal_open(t, &j) != 0)
        rc = TOOL_EXIT_FAIL;
    if (rc == TOOL_EXIT_OK)
        rc = job_run(t, &j);
    if (j.journal >= 0)
        close(j.journal);
    if (lock >= 0)
        close(lock);
    free(j.done);
    tool_cache_free(t, j.cache);
    free(j.cache);
    return rc;
}

const struct tool_cmd tool_cmd_store_rewrap = {
    "store", "rewrap", store_rewrap,
    "re-wrap every child of a store under one policy (bulk, resumable)",
    "Usage: dep11-tool store rewrap --store DIR --to POLICY [--from POLICY]\n"
    "         [--requester user|system|recovery]\n"
    "         --pin-source file:PATH|env:VAR\n\n"
    "The bulk job of a re-assignment (DESIGN section 6): every child of the\n"
    "store (with --from, only those wrapped under or assigned to that policy)\n"
    "is unwrapped under the policy it is wrapped under and wrapped under the\n"
    "active registered policy POLICY (CKM_DEP11_CHILD_UNWRAP, then\n"
    "CKM_DEP11_CHILD_WRAP; the child key itself does not change), and\n"
    "assigned to it. A child already under POLICY at its current version is\n"
    "left alone. Each move writes the new blob beside the old one\n"
    "(temporary file, fsync, rename, fsync of the directory), then the\n"
    "owner's index entry the same way, and only then removes the old blob,\n"
    "so a crash or kill -9 at any point loses nothing and leaves nothing\n"
    "half-written. Finished owners are appended to DIR/rewrap.journal; a\n"
    "re-run of the same job skips them and removes the journal at the end.\n"
    "On a terminal a progress bar (count, %, rate, ETA) is drawn on stderr;\n"
    "--json prints only a summary object. Exit 1 if any child failed (the\n"
    "others are done; re-run to retry).",
};
