/*
 * test_tasks.c - util/tasks.c: tasks on threads under a deadline. Slow
 * tasks wait on a gate the test opens, so every assertion is about order
 * (the call returned while the task was still blocked), not about speed.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/tasks.h"

struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int open;
    int released;  /* release() calls, by the caller or the task's thread */
    int ran;
};

struct job {
    struct gate *g;
    int wait_gate; /* block until the gate opens */
    int ok;        /* what the task reports */
    int done;
};

static void gate_wait(struct gate *g)
{
    pthread_mutex_lock(&g->lock);
    while (!g->open)
        pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
}

static void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->open = 1;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

static int gate_count(struct gate *g, int *field)
{
    int n = 0;

    pthread_mutex_lock(&g->lock);
    n = *field;
    pthread_mutex_unlock(&g->lock);
    return n;
}

static void job_run(void *arg)
{
    struct job *j = arg;

    if (j->wait_gate)
        gate_wait(j->g);
    pthread_mutex_lock(&j->g->lock);
    j->g->ran++;
    pthread_mutex_unlock(&j->g->lock);
    j->done = 1;
}

static int job_ok(const void *arg)
{
    return ((const struct job *)arg)->ok;
}

static void job_release(void *arg)
{
    struct job *j = arg;
    struct gate *g = j->g;

    free(j);
    pthread_mutex_lock(&g->lock);
    g->released++;
    pthread_mutex_unlock(&g->lock);
}

static struct dep11_task task(struct gate *g, int wait_gate, int ok)
{
    struct job *j = calloc(1, sizeof *j);
    struct dep11_task t = { job_run, job_ok, job_release, j };

    assert_non_null(j);
    j->g = g;
    j->wait_gate = wait_gate;
    j->ok = ok;
    return t;
}

static int setup(void **state)
{
    struct gate *g = calloc(1, sizeof *g);

    if (g == NULL)
        return -1;
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
    *state = g;
    return 0;
}

/* Opens the gate and drains: every abandoned task has ended and released. */
static int teardown(void **state)
{
    struct gate *g = *state;

    gate_open(g);
    dep11_tasks_drain();
    if (dep11_tasks_abandoned() != 0)
        return -1;
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->lock);
    free(g);
    return 0;
}

/* Without a winner rule every task runs to its end; the caller owns them. */
static void test_all_end(void **state)
{
    struct gate *g = *state;
    struct dep11_task t[3] = { task(g, 0, 0), task(g, 0, 1), task(g, 0, 0) };
    enum dep11_task_state st[3];

    assert_int_equal(dep11_tasks_run(t, 3, 0, 0, st), CKR_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(st[i], DEP11_TASK_ENDED);
        assert_true(((struct job *)t[i].arg)->done);
        t[i].release(t[i].arg);
    }
    assert_int_equal(gate_count(g, &g->ran), 3);
    assert_int_equal(gate_count(g, &g->released), 3);
}

/* First success wins while the other task is still blocked; the blocked
 * one is abandoned and releases itself once it ends. */
static void test_first_wins(void **state)
{
    struct gate *g = *state;
    struct dep11_task t[2] = { task(g, 1, 1), task(g, 0, 1) };
    enum dep11_task_state st[2];

    assert_int_equal(dep11_tasks_run(t, 2, 1, 0, st), CKR_OK);
    assert_int_equal(st[0], DEP11_TASK_ABANDONED);
    assert_int_equal(st[1], DEP11_TASK_ENDED);
    assert_int_equal(gate_count(g, &g->ran), 1);
    t[1].release(t[1].arg);
    assert_int_equal(dep11_tasks_abandoned(), 1);
    gate_open(g);
    dep11_tasks_drain();
    assert_int_equal(dep11_tasks_abandoned(), 0);
    assert_int_equal(gate_count(g, &g->ran), 2);
    assert_int_equal(gate_count(g, &g->released), 2);
}

/* A failure does not win: the waiter waits for the other task. */
static void test_failure_does_not_win(void **state)
{
    struct gate *g = *state;
    struct dep11_task t[2] = { task(g, 0, 0), task(g, 0, 1) };
    enum dep11_task_state st[2];

    assert_int_equal(dep11_tasks_run(t, 2, 1, 0, st), CKR_OK);
    /* Task 1 may end first and win, or end second: either way it ended. */
    assert_int_equal(st[1], DEP11_TASK_ENDED);
    for (int i = 0; i < 2; i++)
        if (st[i] == DEP11_TASK_ENDED)
            t[i].release(t[i].arg);
    dep11_tasks_drain();
    assert_int_equal(gate_count(g, &g->released), 2);
}

/* The deadline: a blocked task is abandoned, the call returns. */
static void test_deadline(void **state)
{
    struct gate *g = *state;
    struct dep11_task t[1] = { task(g, 1, 1) };
    enum dep11_task_state st[1];

    assert_int_equal(dep11_tasks_run(t, 1, 0, 50, st), CKR_OK);
    assert_int_equal(st[0], DEP11_TASK_ABANDONED);
    assert_int_equal(gate_count(g, &g->ran), 0);
    assert_int_equal(gate_count(g, &g->released), 0);
    gate_open(g);
    dep11_tasks_drain();
    assert_int_equal(gate_count(g, &g->ran), 1);
    assert_int_equal(gate_count(g, &g->released), 1);
}

/* A task within its deadline is not abandoned. */
static void test_in_time(void **state)
{
    struct gate *g = *state;
    struct dep11_task t[2] = { task(g, 0, 0), task(g, 0, 0) };
    enum dep11_task_state st[2];

    assert_int_equal(dep11_tasks_run(t, 2, 1, 60000, st), CKR_OK);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(st[i], DEP11_TASK_ENDED);
        t[i].release(t[i].arg);
    }
}

/* Past DEP11_TASKS_ABANDONED_MAX still-running tasks, no thread starts. */
static void test_abandoned_cap(void **state)
{
    struct gate *g = *state;
    enum dep11_task_state st[1];
    struct dep11_task t[1];

    for (int i = 0; i < DEP11_TASKS_ABANDONED_MAX; i++) {
        t[0] = task(g, 1, 1);
        assert_int_equal(dep11_tasks_run(t, 1, 0, 1, st), CKR_OK);
        assert_int_equal(st[0], DEP11_TASK_ABANDONED);
    }
    assert_int_equal(dep11_tasks_abandoned(), DEP11_TASKS_ABANDONED_MAX);
    t[0] = task(g, 0, 1);
    assert_int_equal(dep11_tasks_run(t, 1, 0, 1000, st), CKR_OK);
    assert_int_equal(st[0], DEP11_TASK_NOT_STARTED);
    assert_false(((struct job *)t[0].arg)->done);
    t[0].release(t[0].arg);
    gate_open(g);
    dep11_tasks_drain();
    assert_int_equal(dep11_tasks_abandoned(), 0);
    assert_int_equal(gate_count(g, &g->released), DEP11_TASKS_ABANDONED_MAX + 1);
    /* Room again: a task starts and ends. */
    t[0] = task(g, 0, 1);
    assert_int_equal(dep11_tasks_run(t, 1, 0, 0, st), CKR_OK);
    assert_int_equal(st[0], DEP11_TASK_ENDED);
    t[0].release(t[0].arg);
}

static void test_bad_arguments(void **state)
{
    struct gate *g = *state;
    struct dep11_task t[DEP11_TASKS_MAX + 1];
    enum dep11_task_state st[DEP11_TASKS_MAX + 1];

    (void)g;
    memset(t, 0, sizeof t);
    assert_int_equal(dep11_tasks_run(NULL, 1, 0, 0, st), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_tasks_run(t, 1, 0, 0, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_tasks_run(t, 0, 0, 0, st), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_tasks_run(t, DEP11_TASKS_MAX + 1, 0, 0, st), CKR_ARGUMENTS_BAD);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_all_end),       T(test_first_wins),    T(test_failure_does_not_win),
        T(test_deadline),      T(test_in_time),       T(test_abandoned_cap),
        T(test_bad_arguments),
    };
#undef T
    return cmocka_run_group_tests_name("util/tasks", tests, NULL, NULL);
}
