/*
 * tasks.c - work run on threads of its own under a deadline (tasks.h).
 * A group of tasks lives until its waiter and every one of its threads have
 * let go of it; a thread the waiter abandoned releases its task itself and is
 * joined later (at the next run, or by the drain at C_Finalize).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/lock.h"
#include "util/log.h"
#include "util/tasks.h"

struct group;

struct slot {
    struct group *g;
    struct dep11_task t;
    enum dep11_task_state state;
    int started;
    pthread_t tid;
};

struct group {
    pthread_mutex_t lock;
    pthread_cond_t cond;  /* CLOCK_MONOTONIC */
    int refs;             /* the waiter and each running thread */
    int ended;            /* tasks that ended while the waiter waited */
    int success;
    int waiting;          /* 0 once the waiter has left: later ends are abandoned */
    struct slot slot[DEP11_TASKS_MAX];
};

/* Set (atomic) while the application's C_Initialize said
 * CKF_LIBRARY_CANT_CREATE_OS_THREADS: no task thread is started then. */
static int no_threads;

/* Abandoned threads, to be joined (util/lock.h: leaf lock). */
static dep11_mutex_t reap_lock = DEP11_MUTEX_INIT;
static pthread_t *reap;
static size_t reap_n, reap_cap;

static void group_free(struct group *g)
{
    (void)pthread_cond_destroy(&g->cond);
    (void)pthread_mutex_destroy(&g->lock);
    free(g);
}

/* Drops one reference; frees @g with the last. */
static void group_put(struct group *g)
{
    int last = 0;

    (void)pthread_mutex_lock(&g->lock);
    last = --g->refs == 0;
    (void)pthread_mutex_unlock(&g->lock);
    if (last)
        group_free(g);
}

static void *task_main(void *p)
{
    struct slot *sl = p;
    struct group *g = sl->g;
    struct dep11_task t = sl->t; /* @sl may go with the group once unlocked */
    int abandoned = 0;

    t.run(t.arg);
    (void)pthread_mutex_lock(&g->lock);
    abandoned = !g->waiting;
    if (!abandoned) {
        sl->state = DEP11_TASK_ENDED;
        g->ended++;
        if (t.succeeded(t.arg))
            g->success = 1;
        (void)pthread_cond_signal(&g->cond);
    }
    (void)pthread_mutex_unlock(&g->lock);
    if (abandoned)
        t.release(t.arg);
    group_put(g);
    return NULL;
}

/* Joins the abandoned threads that have ended. reap_lock held. */
static void reap_ended_locked(void)
{
    size_t k = 0;

    for (size_t i = 0; i < reap_n; i++)
        if (pthread_tryjoin_np(reap[i], NULL) != 0)
            reap[k++] = reap[i];
    reap_n = k;
}

/* Keeps abandoned thread @tid to be joined; detaches it if it cannot. */
static void reap_add(pthread_t tid)
{
    pthread_t *grown = NULL;

    dep11_lock(&reap_lock);
    if (reap_n == reap_cap) {
        size_t cap = reap_cap == 0 ? 8 : 2 * reap_cap;
        grown = realloc(reap, cap * sizeof *reap);
        if (grown != NULL) {
            reap = grown;
            reap_cap = cap;
        }
    }
    if (reap_n < reap_cap)
        reap[reap_n++] = tid;
    else
        (void)pthread_detach(tid);
    dep11_unlock(&reap_lock);
}

/* May another thread start? Not while too many abandoned ones still run. */
static int may_start(void)
{
    int ok = 0;

    dep11_lock(&reap_lock);
    reap_ended_locked();
    ok = reap_n < DEP11_TASKS_ABANDONED_MAX;
    dep11_unlock(&reap_lock);
    return ok;
}

static struct group *group_new(void)
{
    struct group *g = calloc(1, sizeof *g);
    pthread_condattr_t ca;

    if (g == NULL)
        return NULL;
    if (pthread_condattr_init(&ca) != 0) {
        free(g);
        return NULL;
    }
    (void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_cond_init(&g->cond, &ca) != 0) {
        (void)pthread_condattr_destroy(&ca);
        free(g);
        return NULL;
    }
    (void)pthread_condattr_destroy(&ca);
    (void)pthread_mutex_init(&g->lock, NULL);
    g->refs = 1;
    g->waiting = 1;
    return g;
}

/**
 * dep11_tasks_set_no_threads - see tasks.h.
 */
void dep11_tasks_set_no_threads(int yes)
{
    __atomic_store_n(&no_threads, yes ? 1 : 0, __ATOMIC_RELEASE);
}

/* Starts the threads of @g's first @n slots; returns how many started. */
static int start_all(struct group *g, int n)
{
    int started = 0;

    for (int i = 0; i < n; i++) {
        struct slot *sl = &g->slot[i];

        sl->state = DEP11_TASK_NOT_STARTED;
        if (__atomic_load_n(&no_threads, __ATOMIC_ACQUIRE)) {
            LOG_FAIL(CKR_NEED_TO_CREATE_THREADS, "task %d not started: the application "
                     "said CKF_LIBRARY_CANT_CREATE_OS_THREADS", i);
            continue;
        }
        if (!may_start()) {
            LOG_FAIL(CKR_FUNCTION_CANCELED, "task %d not started: %d abandoned tasks still "
                     "wait for the HSM", i, DEP11_TASKS_ABANDONED_MAX);
            continue;
        }
        (void)pthread_mutex_lock(&g->lock);
        g->refs++;
        (void)pthread_mutex_unlock(&g->lock);
        if (pthread_create(&sl->tid, NULL, task_main, sl) != 0) {
            LOG_FAIL(CKR_HOST_MEMORY, "task %d: no thread", i);
            group_put(g); /* never the last: the waiter holds one */
            continue;
        }
        sl->started = 1;
        started++;
    }
    return started;
}

/* Waits on @g until the rule of dep11_tasks_run is met. g->lock held. */
static void wait_locked(struct group *g, int started, int first_wins, unsigned timeout_ms,
                        const struct timespec *t0)
{
    struct timespec until = *t0;

    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (g->ended < started && !(first_wins && g->success)) {
        if (timeout_ms == 0)
            (void)pthread_cond_wait(&g->cond, &g->lock);
        else if (pthread_cond_timedwait(&g->cond, &g->lock, &until) == ETIMEDOUT)
            break;
    }
}

/* See tasks.h. */
CK_RV dep11_tasks_run(struct dep11_task *tasks, int n, int first_wins, unsigned timeout_ms,
                      enum dep11_task_state *state)
{
    CK_RV rv = CKR_ARGUMENTS_BAD;
    struct group *g = NULL;
    struct timespec t0;
    int started = 0;

    if (tasks == NULL || state == NULL || n < 1 || n > DEP11_TASKS_MAX) {
        LOG_FAIL(rv, "bad task list (%d tasks)", n);
        return rv;
    }
    for (int i = 0; i < n; i++)
        state[i] = DEP11_TASK_NOT_STARTED;
    (void)clock_gettime(CLOCK_MONOTONIC, &t0);
    if ((g = group_new()) == NULL) {
        LOG_FAIL(CKR_HOST_MEMORY, "task group: no task started");
        return CKR_OK;
    }
    for (int i = 0; i < n; i++) {
        g->slot[i].g = g;
        g->slot[i].t = tasks[i];
    }
    started = start_all(g, n);
    (void)pthread_mutex_lock(&g->lock);
    wait_locked(g, started, first_wins, timeout_ms, &t0);
    g->waiting = 0;
    for (int i = 0; i < n; i++)
        state[i] = g->slot[i].state == DEP11_TASK_ENDED ? DEP11_TASK_ENDED
                   : g->slot[i].started                 ? DEP11_TASK_ABANDONED
                                                        : DEP11_TASK_NOT_STARTED;
    (void)pthread_mutex_unlock(&g->lock);
    for (int i = 0; i < n; i++) {
        if (state[i] == DEP11_TASK_ENDED)
            (void)pthread_join(g->slot[i].tid, NULL); /* it is returning now */
        else if (state[i] == DEP11_TASK_ABANDONED)
            reap_add(g->slot[i].tid);
    }
    group_put(g);
    return CKR_OK;
}

/* See tasks.h. */
void dep11_tasks_drain(void)
{
    struct timespec until;
    unsigned waited = 0;

    dep11_lock(&reap_lock);
    while (reap_n > 0) {
        pthread_t tid = reap[reap_n - 1];

        (void)clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        if (pthread_timedjoin_np(tid, NULL, &until) == 0) {
            reap_n--;
            continue;
        }
        waited++;
        LOG_WARN("waiting %u s for %zu abandoned HSM call(s) to return", waited, reap_n);
    }
    free(reap);
    reap = NULL;
    reap_cap = 0;
    dep11_unlock(&reap_lock);
}

/* See tasks.h. */
void dep11_tasks_forget(void)
{
    (void)pthread_mutex_init(&reap_lock, NULL);
    free(reap);
    reap = NULL;
    reap_n = reap_cap = 0;
}

/* See tasks.h. */
unsigned dep11_tasks_abandoned(void)
{
    unsigned n = 0;

    dep11_lock(&reap_lock);
    reap_ended_locked();
    n = (unsigned)reap_n;
    dep11_unlock(&reap_lock);
    return n;
}
