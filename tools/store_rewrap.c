/*
 * store_rewrap.c - "store rewrap": the bulk re-wrap of a store's children
 * under one policy, as a job of the store (store_db.h): a pool of worker
 * threads, each with its own PKCS#11 session, store handle and cache of
 * policy keys, claims batches, re-wraps them (CHILD_UNWRAP, CHILD_WRAP under
 * the cached policy keys) and completes each batch in one transaction. A
 * killed run is resumed by the next (the job and its done items are in the
 * store); on a terminal a progress bar shows count, rate and ETA.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* asprintf */
#endif
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "reg.h"
#include "tool.h"

#define RW_BATCH 500     /* default children claimed at once (--batch) */
#define RW_BATCH_MAX 100000
#define RW_LEASE 120     /* default seconds a claim holds (--lease) */
#define RW_MAX_WORKERS 16
#define RW_WAIT_MIN_MS 20 /* worker_wait: first pause, doubled up to */
#define RW_WAIT_MAX_MS 1000

struct rw_job {
    struct tool *t;
    const char *store;
    struct store_job job;
    unsigned char to_id[16];
    CK_ULONG requester;
    int serialize;            /* SQLite: one writer at a time in-process */
    int lease;                /* seconds a claim holds (--lease) */
    size_t batch;             /* children a claim takes (--batch) */
    pthread_mutex_t lock;     /* the counters; the store when serialize */
    size_t moved, failed, lost;
    int broken;               /* a worker hit a store error */
    int finished, nstarted;   /* workers done / started */
    int done;                 /* job_finish said the job is done */
};

struct rw_worker {
    struct rw_job *j;
    struct tool t;            /* a copy of the run's tool, own session */
    struct store_db *db;
    struct tool_keycache cache;
    char name[96];
    pthread_t th;
    int started, rc;
    long wait_ms; /* the next pause of worker_wait */
};

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void rw_lock(struct rw_job *j)
{
    pthread_mutex_lock(&j->lock);
}

static void rw_unlock(struct rw_job *j)
{
    pthread_mutex_unlock(&j->lock);
}

/* Re-wraps the claimed @rows in place; failures are dropped from the
 * batch (their items stay claimed, and are released at the end). */
static size_t rewrap_batch(struct rw_worker *w, const struct tool_cached *to,
                           struct store_row *rows, size_t n)
{
    size_t i = 0, k = 0;

    for (i = 0; i < n; i++) {
        if (tool_rewrap_row(&w->t, &w->cache, &rows[i], to) != TOOL_EXIT_OK) {
            store_row_clear(&rows[i]);
            continue;
        }
        if (k != i) {
            rows[k] = rows[i];
            rows[i].blob = NULL;
        }
        k++;
    }
    return k;
}

/* One claim-rewrap-complete round. *@more 0 when nothing was left. */
static int worker_round(struct rw_worker *w, const struct tool_cached *to,
                        int *more)
{
    struct rw_job *j = w->j;
    const struct store_ops *ops = w->db->ops;
    struct store_row *rows = NULL;
    size_t n = 0, ok = 0, accepted = 0;
    int rc = TOOL_EXIT_OK;

    if (j->serialize)
        rw_lock(j);
    rc = ops->job_claim(&w->t, w->db, &j->job, w->name, j->batch, j->lease,
                        &rows, &n);
    if (j->serialize)
        rw_unlock(j);
    *more = rc == TOOL_EXIT_OK && n > 0;
    if (!*more) {
        free(rows);
        return rc;
    }
    ok = rewrap_batch(w, to, rows, n);
    if (j->serialize)
        rw_lock(j);
    rc = ops->job_complete(&w->t, w->db, &j->job, w->name, rows, ok,
                           &accepted);
    if (j->serialize)
        rw_unlock(j);
    store_rows_free(rows, n);
    rw_lock(j);
    j->moved += accepted;
    j->failed += n - ok;
    j->lost += ok - accepted;
    rw_unlock(j);
    return rc;
}

/* SIGINT or SIGTERM: the workers stop after their batch, release what
 * they hold, and the run ends "not finished". */
static volatile sig_atomic_t rw_stop;

static void on_stop(int sig)
{
    (void)sig;
    rw_stop = 1;
}

static int is_broken(struct rw_job *j)
{
    int b = 0;

    rw_lock(j);
    b = j->broken || rw_stop;
    rw_unlock(j);
    return b;
}

/*
 * Nothing was left to claim: on PostgreSQL other workers (other processes,
 * other hosts, or dead ones whose leases have not expired yet) may still
 * hold items, so wait a moment and claim again until only what this run
 * failed is held (*@more 1: claim again). The pause starts short (a live
 * worker's last batch is done in a fraction of a second: a run must not
 * idle a whole second after it) and doubles up to a second while the
 * items stay held (a dead worker's lease). SQLite runs alone (the single
 * runner lock): done.
 */
static int worker_wait(struct rw_worker *w, int *more)
{
    struct rw_job *j = w->j;
    struct store_progress p;
    struct timespec pause = { 0, 0 };
    size_t mine = 0;
    int rc = TOOL_EXIT_OK;

    *more = 0;
    if (j->serialize)
        return TOOL_EXIT_OK;
    rc = w->db->ops->job_progress(&w->t, w->db, &j->job, &p);
    rw_lock(j);
    mine = j->failed;
    rw_unlock(j);
    if (rc != TOOL_EXIT_OK || p.claimed <= mine)
        return rc;
    w->wait_ms = w->wait_ms < RW_WAIT_MIN_MS       ? RW_WAIT_MIN_MS
                 : w->wait_ms * 2 > RW_WAIT_MAX_MS ? RW_WAIT_MAX_MS
                                                   : w->wait_ms * 2;
    pause.tv_sec = w->wait_ms / 1000;
    pause.tv_nsec = (w->wait_ms % 1000) * 1000 * 1000;
    nanosleep(&pause, NULL);
    *more = 1;
    return TOOL_EXIT_OK;
}

static void *worker_main(void *arg)
{
    struct rw_worker *w = arg;
    struct tool_cached *to = NULL;
    int more = 1, rc = TOOL_EXIT_OK;

    rc = tool_cache_get(&w->t, &w->cache, w->j->to_id, &to);
    while (rc == TOOL_EXIT_OK && more && !is_broken(w->j)) {
        rc = worker_round(w, to, &more);
        if (rc == TOOL_EXIT_OK && more)
            w->wait_ms = 0;
        else if (rc == TOOL_EXIT_OK)
            rc = worker_wait(w, &more);
    }
    if (rc != TOOL_EXIT_OK) {
        rw_lock(w->j);
        w->j->broken = 1;
        rw_unlock(w->j);
    }
    rw_lock(w->j);
    w->rc = rc;
    w->j->finished++;
    rw_unlock(w->j);
    return NULL;
}

/* Gives worker @i its name, session, store handle and cache. */
static int worker_init(struct rw_job *j, struct rw_worker *w, int i)
{
    struct tool *t = j->t;
    char host[64] = "localhost";
    CK_RV rv = CKR_GENERAL_ERROR;

    (void)gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    snprintf(w->name, sizeof w->name, "%s:%ld:%d", host, (long)getpid(), i);
    w->j = j;
    w->t = *t;
    w->t.opt.json = 0; /* a worker's errors go to stderr; main prints JSON */
    w->cache.requester = j->requester;
    rv = t->p11->C_OpenSession(t->slot, CKF_SERIAL_SESSION, NULL, NULL,
                               &w->t.session);
    if (rv != CKR_OK) {
        w->t.session = CK_INVALID_HANDLE;
        return tool_fail_rv(t, "C_OpenSession (worker)", rv);
    }
    return store_open(t, j->store, STORE_OPEN_MIGRATE, &w->db);
}

static void worker_fini(struct rw_worker *w)
{
    if (w->t.session != CK_INVALID_HANDLE) {
        tool_cache_free(&w->t, &w->cache);
        (void)w->t.p11->C_CloseSession(w->t.session);
    }
    store_close(w->db);
}

/* The progress bar: count, percentage, rate, ETA (stderr, a terminal). */
static void draw(const char *name, size_t seen, size_t total, size_t base,
                 double t0, int final)
{
    double el = now() - t0, rate = 0, eta = 0;
    size_t pct = total ? seen * 100 / total : 100, fill = pct / 4;
    char bar[26];

    rate = el > 0 ? (double)(seen - base) / el : 0;
    eta = rate > 0 ? (double)(total - seen) / rate : 0;
    memset(bar, '#', fill);
    memset(bar + fill, '.', 25 - fill);
    bar[25] = '\0';
    fprintf(stderr, "\rrewrap to \"%s\" [%s] %zu/%zu %3zu%% %7.0f/s ETA "
            "%d:%02d ", name, bar, seen, total, pct, rate, (int)eta / 60,
            (int)eta % 60);
    if (final)
        fputc('\n', stderr);
}

/* Waits for the workers, drawing the bar while they run. */
static void watch(struct rw_job *j, struct rw_worker *w, int nw, int bar,
                  const char *name, size_t total, size_t base, double t0)
{
    struct timespec tick = { 0, 100 * 1000 * 1000 };
    size_t seen = 0;
    int i = 0, running = 1;

    while (bar && running) {
        nanosleep(&tick, NULL);
        rw_lock(j);
        seen = base + j->moved + j->failed + j->lost;
        running = j->finished < j->nstarted;
        rw_unlock(j);
        draw(name, seen, total, base, t0, 0);
    }
    for (i = 0; i < nw; i++)
        if (w[i].started)
            pthread_join(w[i].th, NULL);
    if (bar)
        draw(name, base + j->moved + j->failed + j->lost, total, base, t0, 1);
}

struct rw_opts {
    const char *store, *to, *from;
    CK_ULONG requester;
    int workers, lease;
    size_t batch;
};

/* Starts @o->workers workers on job @j and waits for them. */
static int run_workers(struct rw_job *j, const struct rw_opts *o,
                       const struct tool_cached *to, size_t total,
                       size_t base)
{
    struct rw_worker *w = calloc((size_t)o->workers, sizeof *w);
    int i = 0, rc = TOOL_EXIT_OK;
    int bar = !j->t->opt.json && isatty(STDERR_FILENO);

    if (w == NULL)
        return tool_error(j->t, TOOL_EXIT_FAIL, "out of memory");
    for (i = 0; rc == TOOL_EXIT_OK && i < o->workers; i++) {
        rc = worker_init(j, &w[i], i);
        if (rc == TOOL_EXIT_OK &&
            pthread_create(&w[i].th, NULL, worker_main, &w[i]) == 0) {
            w[i].started = 1;
            rw_lock(j);
            j->nstarted++;
            rw_unlock(j);
        } else if (rc == TOOL_EXIT_OK) {
            rc = tool_error(j->t, TOOL_EXIT_FAIL, "cannot start a worker");
        }
    }
    if (rc != TOOL_EXIT_OK) {
        rw_lock(j);
        j->broken = 1;
        rw_unlock(j);
    }
    watch(j, w, o->workers, bar && rc == TOOL_EXIT_OK, to->name, total, base,
          now());
    for (i = 0; i < o->workers; i++) {
        if (w[i].started && w[i].rc != TOOL_EXIT_OK && rc == TOOL_EXIT_OK)
            rc = w[i].rc;
        if (w[i].db != NULL) /* the children that failed: back to pending */
            (void)w[i].db->ops->job_release(j->t, w[i].db, &j->job,
                                            w[i].name);
        worker_fini(&w[i]);
    }
    free(w);
    return rc;
}

enum {
    OPT_STORE = 1000, OPT_TO, OPT_FROM, OPT_REQUESTER, OPT_WORKERS, OPT_LEASE, OPT_BATCH,
};

static int rw_opt(struct tool *t, int c, const char *arg, void *ctx)
{
    struct rw_opts *o = ctx;
    char *end = NULL;

    switch (c) {
    case OPT_STORE: o->store = arg; return 0;
    case OPT_TO: o->to = arg; return 0;
    case OPT_FROM: o->from = arg; return 0;
    case OPT_REQUESTER: return tool_requester_opt(t, arg, &o->requester);
    case OPT_WORKERS:
        o->workers = (int)strtol(arg, &end, 10);
        if (*arg && !*end && o->workers >= 1 && o->workers <= RW_MAX_WORKERS)
            return 0;
        return tool_error(t, TOOL_EXIT_USAGE, "--workers is 1 to %d",
                          RW_MAX_WORKERS);
    case OPT_LEASE:
        o->lease = (int)strtol(arg, &end, 10);
        if (*arg && !*end && o->lease >= 1 && o->lease <= 86400)
            return 0;
        return tool_error(t, TOOL_EXIT_USAGE, "--lease is 1 to 86400 "
                          "seconds");
    case OPT_BATCH: {
        long n = strtol(arg, &end, 10);

        if (*arg && !*end && n >= 1 && n <= RW_BATCH_MAX) {
            o->batch = (size_t)n;
            return 0;
        }
        return tool_error(t, TOOL_EXIT_USAGE, "--batch is 1 to %d children",
                          RW_BATCH_MAX);
    }
    default: return TOOL_EXIT_USAGE;
    }
}

/* Resolves --to (active, unwrapped: *@to) and --from into @spec. */
static int job_policies(struct tool *t, const struct rw_opts *o,
                        struct tool_keycache *c, struct tool_cached **to,
                        struct store_job_spec *spec)
{
    struct tool_rec r;
    int rc = tool_reg_find(t, o->to, NULL, &r);

    if (rc == TOOL_EXIT_OK && r.state != TOOL_STATE_ACTIVE)
        rc = tool_error(t, TOOL_EXIT_FAIL, "policy \"%s\" is %s: re-wrap "
                        "under an active policy", r.name,
                        tool_state_name(r.state));
    if (rc == TOOL_EXIT_OK)
        rc = tool_cache_get(t, c, r.id, to);
    tool_rec_free(&r);
    if (rc != TOOL_EXIT_OK)
        return rc;
    memcpy(spec->target, (*to)->id, 16);
    spec->version = (*to)->version;
    if (o->from != NULL) {
        rc = tool_reg_find(t, o->from, NULL, &r);
        memcpy(spec->from, r.id, 16);
        spec->has_from = 1;
        tool_rec_free(&r);
    }
    return rc;
}

/*
 * SQLite: one rewrap at a time per store (an flock on STORE.rewrap, which
 * the kernel drops when the process dies, even by kill -9), taken before
 * the job is opened; whatever a killed run had claimed is then free to
 * take at once (job_release STORE_WORKER_ANY, after job_open). *@fd: close
 * it.
 */
static int single_runner(struct tool *t, struct store_db *db,
                         const char *store, int *fd)
{
    char *path = NULL;

    *fd = -1;
    if (db->ops != &store_sqlite_ops)
        return TOOL_EXIT_OK;
    if (asprintf(&path, "%s.rewrap", store) < 0)
        return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    free(path);
    if (*fd < 0 || flock(*fd, LOCK_EX | LOCK_NB) != 0)
        return tool_error(t, TOOL_EXIT_FAIL, "the store %s is busy (another "
                          "store rewrap runs on it)", store);
    return TOOL_EXIT_OK;
}

static void summary(struct tool *t, const struct rw_job *j,
                    const struct tool_cached *to, size_t total, size_t base,
                    int done, double secs)
{
    int ok = j->failed == 0 && !j->broken;

    if (t->opt.json)
        printf("{\"ok\":%s,\"policy\":\"%s\",\"version\":%lu,\"total\":%zu,"
               "\"rewrapped\":%zu,\"resumed\":%zu,\"failed\":%zu,"
               "\"finished\":%s,\"seconds\":%.2f}\n", ok ? "true" : "false",
               to->name, to->version, total, j->moved, base, j->failed,
               done ? "true" : "false", secs);
    else
        printf("store rewrap to \"%s\" (version %lu): %zu children to move: "
               "%zu re-wrapped now, %zu done before, %zu failed; job %s, "
               "%.1f s\n", to->name, to->version, total, j->moved, base,
               j->failed, done ? "finished" : "not finished", secs);
}

/* Opens the job, runs the workers, finishes the job. */
static int job_run(struct rw_job *j, const struct rw_opts *o,
                   struct store_db *db, const struct tool_cached *to)
{
    struct store_progress p;
    double t0 = now();
    int rc = db->ops->job_progress(j->t, db, &j->job, &p), done = 0;

    if (rc == TOOL_EXIT_OK)
        rc = run_workers(j, o, to, p.total, p.done);
    if (rc == TOOL_EXIT_OK)
        rc = db->ops->job_finish(j->t, db, &j->job, &done);
    j->done = done;
    if (rc == TOOL_EXIT_OK)
        summary(j->t, j, to, p.total, p.done, done, now() - t0);
    if (rc == TOOL_EXIT_OK && j->failed && !j->t->opt.json)
        fprintf(stderr, "dep11-tool: store rewrap: %zu children failed (left "
                "where they are; re-run to retry)\n", j->failed);
    if (rc == TOOL_EXIT_OK && j->failed)
        rc = TOOL_EXIT_FAIL;
    return rc;
}

static int store_rewrap(struct tool *t, int argc, char **argv)
{
    static const struct option lo[] = {
        {"store", 1, NULL, OPT_STORE}, {"to", 1, NULL, OPT_TO},
        {"from", 1, NULL, OPT_FROM}, {"requester", 1, NULL, OPT_REQUESTER},
        {"workers", 1, NULL, OPT_WORKERS}, {"lease", 1, NULL, OPT_LEASE},
        {"batch", 1, NULL, OPT_BATCH}, TOOL_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct rw_opts o = { NULL, NULL, NULL, DEP11_REQUESTER_USER, 2, RW_LEASE, RW_BATCH };
    struct store_job_spec spec;
    struct tool_keycache *c = calloc(1, sizeof *c);
    struct tool_cached *to = NULL;
    struct store_db *db = NULL;
    struct rw_job j;
    struct sigaction sa;
    int rc = 0, first = 0, lock = -1;

    memset(&j, 0, sizeof j);
    memset(&spec, 0, sizeof spec);
    memset(&sa, 0, sizeof sa);
    if (c == NULL)
        return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    sa.sa_handler = on_stop; /* from here on: stop after the batch */
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    rc = tool_parse(t, &tool_cmd_store_rewrap, argc, argv, lo, rw_opt, &o,
                    &first);
    if (rc == 0 && (first != argc || o.store == NULL || o.to == NULL))
        rc = tool_error(t, TOOL_EXIT_USAGE, "give --store STORE --to POLICY");
    if (rc == 0) /* a job never creates a store */
        rc = store_open(t, o.store, STORE_OPEN_MIGRATE, &db);
    c->requester = o.requester;
    if (rc == TOOL_EXIT_OK)
        rc = tool_load_login(t, 0);
    if (rc == TOOL_EXIT_OK)
        rc = job_policies(t, &o, c, &to, &spec);
    if (rc == TOOL_EXIT_OK)
        rc = single_runner(t, db, o.store, &lock);
    if (rc == TOOL_EXIT_OK)
        rc = db->ops->job_open(t, db, &spec, &j.job);
    if (rc == TOOL_EXIT_OK && lock >= 0)
        rc = db->ops->job_release(t, db, &j.job, STORE_WORKER_ANY);
    j.t = t;
    j.store = o.store;
    j.requester = o.requester;
    j.serialize = db != NULL && db->ops == &store_sqlite_ops;
    j.lease = o.lease;
    j.batch = o.batch;
    if (to != NULL)
        memcpy(j.to_id, to->id, 16);
    pthread_mutex_init(&j.lock, NULL);
    if (rc == TOOL_EXIT_OK)
        rc = job_run(&j, &o, db, to);
    if (rc == TOOL_EXIT_OK && rw_stop && !j.done)
        rc = tool_error(t, TOOL_EXIT_FAIL, "interrupted: the job is not "
                        "finished (re-run to resume)");
    pthread_mutex_destroy(&j.lock);
    if (lock >= 0)
        close(lock);
    store_close(db);
    tool_cache_free(t, c);
    free(c);
    return rc < 0 ? TOOL_EXIT_OK : rc;
}

const struct tool_cmd tool_cmd_store_rewrap = {
    "store", "rewrap", store_rewrap,
    "re-wrap every child of a store under one policy (bulk, resumable)",
    "Usage: dep11-tool store rewrap --store STORE --to POLICY [--from POLICY]\n"
    "         [--workers N] [--lease SECONDS] [--batch N]\n"
    "         [--requester user|system|recovery]\n"
    "         --pin-source file:PATH|env:VAR\n\n"
    "The bulk job of a re-assignment (DESIGN section 6): every child of the\n"
    "store (with --from, only those wrapped under or assigned to that policy)\n"
    "that is not already under the active registered policy POLICY at its\n"
    "current version is unwrapped under the policy it is wrapped under and\n"
    "wrapped under POLICY (CKM_DEP11_CHILD_UNWRAP, then CKM_DEP11_CHILD_WRAP;\n"
    "the child key itself does not change), and assigned to it. The job is\n"
    "kept in the store: N worker threads (default 2), each with its own\n"
    "PKCS#11 session, claim batches of children, re-wrap them and complete\n"
    "each batch in one transaction, so a crash or kill -9 loses nothing and\n"
    "leaves nothing half-written, and a re-run resumes the job. A claim\n"
    "holds for --lease seconds (default 120); then another worker takes it\n"
    "over; a claim takes --batch children (default 500). On PostgreSQL\n"
    "several runs, on one host or many, share the job:\n"
    "a run that finds nothing left to claim waits while other workers hold\n"
    "items. SIGINT or SIGTERM stops the workers after their batch and\n"
    "returns what they hold (exit 1; re-run to resume). On a\n"
    "terminal a progress bar (count, %, rate, ETA) is drawn on stderr;\n"
    "--json prints only a summary object. Exit 1 if any child failed (the\n"
    "others are done; re-run to retry).",
};
