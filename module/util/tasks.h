/*
 * tasks.h - work run on threads of its own under a deadline. The caller
 * waits for the first success, for every task, or for the time-out, and
 * abandons a task that has not ended: the task ends on its own thread and
 * releases its state there. C_Finalize drains the abandoned ones.
 */
#ifndef DEP11_UTIL_TASKS_H
#define DEP11_UTIL_TASKS_H

#include <p11-kit/pkcs11.h>

#define DEP11_TASKS_MAX 4
/* Abandoned tasks still running in the process at most: past this, a new
 * task is not started (an HSM that stopped answering must not make the
 * module start a thread per request). */
#define DEP11_TASKS_ABANDONED_MAX 32

struct dep11_task {
    void (*run)(void *arg);             /* the work, on its own thread */
    int (*succeeded)(const void *arg);  /* after run: did it succeed? */
    void (*release)(void *arg);         /* cleanses and frees @arg */
    void *arg;
};

/* What became of one task of dep11_tasks_run. */
enum dep11_task_state {
    DEP11_TASK_ENDED = 1,       /* ended in time: @arg holds its result; the caller releases it */
    DEP11_TASK_ABANDONED = 2,   /* still running at the deadline (or after the winner):
                                 * its thread releases @arg; the caller must not touch it */
    DEP11_TASK_NOT_STARTED = 3, /* no thread (resources, or too many abandoned):
                                 * never ran; the caller releases @arg */
};

/**
 * dep11_tasks_run - starts @n (1..DEP11_TASKS_MAX) tasks, each on a thread
 * of its own, and waits until one has succeeded (with @first_wins), every
 * started task has ended, or @timeout_ms (0 = no limit) has passed since the
 * call began. @state[i] gets what became of task i (see above).
 * CKR_OK (whatever the tasks did); CKR_ARGUMENTS_BAD.
 */
CK_RV dep11_tasks_run(struct dep11_task *tasks, int n, int first_wins, unsigned timeout_ms,
                      enum dep11_task_state *state);

/**
 * dep11_tasks_drain - waits until every task thread of the process has
 * ended and been joined (C_Finalize, before the backend goes), with a log
 * line every second while abandoned tasks keep it waiting.
 */
void dep11_tasks_drain(void);

/**
 * dep11_tasks_forget - in a forked child: the parent's task threads do not
 * exist here; forget them (their state is left, not touched).
 */
void dep11_tasks_forget(void);

/* @yes: the application's C_Initialize said CKF_LIBRARY_CANT_CREATE_OS_THREADS;
 * from now on no task thread is started (a task is DEP11_TASK_NOT_STARTED).
 * core/module.c refuses that flag with a profile that needs threads. */
void dep11_tasks_set_no_threads(int yes);

/* Abandoned task threads not yet joined (for tests and logs). */
unsigned dep11_tasks_abandoned(void);

#endif
