/*
 * test_small_gaps.c - issue 11, item 7 (the smaller gaps of its point 6),
 * through libdep11.so over SoftHSM, each with DESIGN's answer:
 *  - an AEAD operation on a module key ends with the key (DESIGN section 2):
 *    CKM_DEP11_AEAD, CKM_DEP11_CHUNK_AEAD, CKM_AES_GCM; encrypt and decrypt;
 *    one-shot, update and final; after C_Logout (CKR_USER_NOT_LOGGED_IN),
 *    after the key's creating session closed and after C_DestroyObject of
 *    the key (CKR_KEY_HANDLE_INVALID), also while another thread destroys
 *    it under a stream of updates; never a result;
 *  - AAD above 64 KiB is CKR_MECHANISM_PARAM_INVALID (DESIGN section 3);
 *  - C_Initialize with a profile whose module is dep11 itself (the same file,
 *    a symlink, a copy) fails fast with CKR_FUNCTION_FAILED and one line
 *    naming the profile file and line (DESIGN section 7);
 *  - a group- or world-readable provider PIN file and system- or
 *    recovery-requests = allow without audit-log fail C_Initialize;
 *  - CKF_LIBRARY_CANT_CREATE_OS_THREADS: CKR_NEED_TO_CREATE_THREADS with a
 *    profile asking for hedged tries or a call time-out, else accepted and
 *    no thread is started (docs/CONFIG.md).
 * C_Initialize cases run in a fresh process (this program, executed again
 * with "init MODE"), watched with a time-out so that a deadlock fails the
 * test.
 * The world (tests/integration/test_small_gaps.sh) writes the configs.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "itest.h"
#include "../gcm_params.h"

#define F (fx->t->f)
#define MSG 64
#define OUT (MSG + 64)
#define INIT_TIMEOUT_S 10

/* ---- a. an AEAD operation ends with its key ------------------------------ */

enum kind { K_AEAD, K_CHUNK, K_GCM, N_KINDS };
enum event { EV_LOGOUT, EV_CLOSE_CREATOR, EV_DESTROY, N_EVENTS };
enum step { ST_ONESHOT, ST_UPDATE, ST_FINAL, N_STEPS };

static const char *const kind_name[] = { "CKM_DEP11_AEAD", "CKM_DEP11_CHUNK_AEAD",
                                         "CKM_AES_GCM" };
static const char *const event_name[] = { "C_Logout", "creator session closed",
                                          "C_DestroyObject" };
static const char *const step_name[] = { "one-shot", "update", "final" };

/* One case's mechanism and its parameter. */
struct mech {
    CK_MECHANISM m;
    CK_DEP11_CHUNK_PARAMS cp;
    CK_GCM_PARAMS gp;
    CK_BYTE iv[12];
};

static void mech_of(enum kind k, struct mech *m)
{
    memset(m, 0, sizeof *m);
    m->m = (CK_MECHANISM){ CKM_DEP11_AEAD, NULL, 0 };
    if (k == K_CHUNK) {
        memcpy(m->cp.fileId, "small-gaps-file1", 16);
        m->cp.ulChunkIndex = 7;
        m->m = (CK_MECHANISM){ CKM_DEP11_CHUNK_AEAD, &m->cp, sizeof m->cp };
    } else if (k == K_GCM) {
        memset(m->iv, 0x42, sizeof m->iv);
        m->gp = gcm_params(m->iv, sizeof m->iv, NULL, 0, 128);
        m->m = (CK_MECHANISM){ CKM_AES_GCM, &m->gp, sizeof m->gp };
    }
}

/* Encrypts MSG bytes of @pt under @key one-shot: the ciphertext a decrypt
 * case opens. */
static CK_ULONG seal(struct itest_fx *fx, struct mech *m, CK_OBJECT_HANDLE key,
                     const CK_BYTE *pt, CK_BYTE *ct)
{
    CK_ULONG n = OUT;

    assert_int_equal(F->C_EncryptInit(fx->s, &m->m, key), CKR_OK);
    assert_int_equal(F->C_Encrypt(fx->s, (CK_BYTE_PTR)pt, MSG, ct, &n), CKR_OK);
    return n;
}

/* The call of @step in @enc's direction on fx->s; the input is @in. */
static CK_RV call(struct itest_fx *fx, int enc, enum step step, CK_BYTE *in, CK_ULONG len,
                  CK_BYTE *out, CK_ULONG *n)
{
    *n = OUT;
    if (step == ST_ONESHOT)
        return enc ? F->C_Encrypt(fx->s, in, len, out, n) : F->C_Decrypt(fx->s, in, len, out, n);
    if (step == ST_UPDATE)
        return enc ? F->C_EncryptUpdate(fx->s, in, len, out, n)
                   : F->C_DecryptUpdate(fx->s, in, len, out, n);
    return enc ? F->C_EncryptFinal(fx->s, out, n) : F->C_DecryptFinal(fx->s, out, n);
}

/* Makes the key in session @c and ends it by @ev (C_Logout on @c, closing
 * @c, C_DestroyObject on fx->s). Returns 1 when @c is still open. */
static int end_key(struct itest_fx *fx, CK_SESSION_HANDLE c, CK_OBJECT_HANDLE key,
                   enum event ev)
{
    if (ev == EV_LOGOUT) {
        assert_int_equal(F->C_Logout(c), CKR_OK);
        return 1;
    }
    if (ev == EV_CLOSE_CREATOR) {
        assert_int_equal(F->C_CloseSession(c), CKR_OK);
        return 0;
    }
    assert_int_equal(F->C_DestroyObject(fx->s, key), CKR_OK);
    return 1;
}

/* One case: an op on fx->s with a key made by another session @c of the
 * token, the key ended by @ev before the @step call. */
static void one_case(struct itest_fx *fx, enum kind k, int enc, enum step step, enum event ev)
{
    CK_BYTE pt[MSG], ct[OUT], out[OUT], before[OUT];
    CK_SESSION_HANDLE c = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    CK_ULONG ct_len = 0, n = 0, first = 0;
    CK_BYTE *in = NULL;
    CK_ULONG in_len = 0;
    struct mech m;
    CK_RV want = ev == EV_LOGOUT ? CKR_USER_NOT_LOGGED_IN : CKR_KEY_HANDLE_INVALID, rv;
    char pin[64];

    mech_of(k, &m);
    for (size_t i = 0; i < MSG; i++)
        pt[i] = (CK_BYTE)(i * 13 + k);
    assert_int_equal(itest_session(fx->t, "contoso", 0, &c), CKR_OK);
    assert_int_equal(itest_keygen(fx->t, c, k == K_CHUNK ? DEP11_ROLE_SITE : DEP11_ROLE_MAILBOX,
                                  0, &key), CKR_OK);
    ct_len = seal(fx, &m, key, pt, ct);
    in = enc ? pt : ct;
    in_len = enc ? MSG : ct_len;
    assert_int_equal(enc ? F->C_EncryptInit(fx->s, &m.m, key)
                         : F->C_DecryptInit(fx->s, &m.m, key), CKR_OK);
    if (step != ST_ONESHOT) {
        first = in_len / 3;
        assert_int_equal(call(fx, enc, ST_UPDATE, in, first, out, &n), CKR_OK);
    }
    int open_c = end_key(fx, c, key, ev);
    memset(out, 0xEE, sizeof out);
    memcpy(before, out, sizeof out);
    rv = call(fx, enc, step, in + first, in_len - first, out, &n);
    if (rv != want)
        fail_msg("%s %s %s after %s: 0x%lx, want 0x%lx", kind_name[k], enc ? "encrypt" : "decrypt",
                 step_name[step], event_name[ev], (unsigned long)rv, (unsigned long)want);
    assert_memory_equal(out, before, sizeof out);
    /* the operation is over: the backend answers the next call */
    assert_int_equal(call(fx, enc, step, in + first, in_len - first, out, &n),
                     CKR_OPERATION_NOT_INITIALIZED);
    if (open_c)
        assert_int_equal(F->C_CloseSession(c), CKR_OK);
    if (ev == EV_LOGOUT) {
        assert_true(itest_read_file(fx->t, "user.pin", pin, sizeof pin) > 0);
        assert_int_equal(F->C_Login(fx->s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_OK);
    }
}

/* Every mechanism x direction x step x event: 54 operations, each refused
 * with DESIGN's code at its next call, none producing output. */
static void test_op_ends_with_key(void **state)
{
    struct itest_fx *fx = *state;

    for (int k = 0; k < N_KINDS; k++)
        for (int enc = 0; enc <= 1; enc++)
            for (int st = 0; st < N_STEPS; st++)
                for (int ev = 0; ev < N_EVENTS; ev++)
                    one_case(fx, (enum kind)k, enc, (enum step)st, (enum event)ev);
}

/* The racing destroyer of test_destroy_races_op. */
struct race {
    struct itest_fx *fx;
    CK_SESSION_HANDLE other;     /* the destroyer's session */
    CK_OBJECT_HANDLE key;
    int updates;                 /* atomic: updates done so far */
    int destroyed;               /* atomic: C_DestroyObject has returned */
    CK_RV rv;                    /* its answer */
};

static void *destroyer(void *arg)
{
    struct race *r = arg;

    while (__atomic_load_n(&r->updates, __ATOMIC_ACQUIRE) < 50)
        sched_yield();
    r->rv = r->fx->t->f->C_DestroyObject(r->other, r->key);
    __atomic_store_n(&r->destroyed, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* A C_DestroyObject from another thread and session while updates stream:
 * no update that starts after the destroy has returned produces output, and
 * the op ends with CKR_KEY_HANDLE_INVALID. 20 rounds. */
static void test_destroy_races_op(void **state)
{
    struct itest_fx *fx = *state;
    CK_MECHANISM m = { CKM_DEP11_AEAD, NULL, 0 };
    CK_BYTE in[16] = { 0 }, out[64];

    for (int round = 0; round < 20; round++) {
        struct race r = { fx, CK_INVALID_HANDLE, CK_INVALID_HANDLE, 0, 0, CKR_GENERAL_ERROR };
        pthread_t th;
        CK_RV rv = CKR_OK;
        CK_ULONG n = 0;

        assert_int_equal(itest_session(fx->t, "contoso", 0, &r.other), CKR_OK);
        assert_int_equal(itest_keygen(fx->t, r.other, DEP11_ROLE_MAILBOX, 0, &r.key), CKR_OK);
        assert_int_equal(F->C_EncryptInit(fx->s, &m, r.key), CKR_OK);
        assert_int_equal(pthread_create(&th, NULL, destroyer, &r), 0);
        while (rv == CKR_OK) {
            int after = __atomic_load_n(&r.destroyed, __ATOMIC_ACQUIRE);

            n = sizeof out;
            rv = F->C_EncryptUpdate(fx->s, in, sizeof in, out, &n);
            if (after && rv == CKR_OK)
                fail_msg("round %d: an update after C_DestroyObject returned produced output",
                         round);
            __atomic_add_fetch(&r.updates, 1, __ATOMIC_ACQ_REL);
        }
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_int_equal(r.rv, CKR_OK);
        assert_int_equal(rv, CKR_KEY_HANDLE_INVALID);
        assert_int_equal(F->C_CloseSession(r.other), CKR_OK);
    }
}

/* ---- b. AAD bound -------------------------------------------------------- */

/* DESIGN section 3: AAD above 64 KiB is CKR_MECHANISM_PARAM_INVALID at Init
 * (CKM_DEP11_AEAD and CKM_AES_GCM on a module key, both directions), before
 * any allocation (a length of ~0 with a 12-byte buffer gets that code, not
 * CKR_HOST_MEMORY); no operation is started; 64 KiB itself works. */
static void test_aad_bound(void **state)
{
    struct itest_fx *fx = *state;
    const CK_ULONG max = 64 * 1024;
    CK_BYTE *aad = calloc(1, max + 1), iv[12], pt[MSG], out[OUT];
    CK_DEP11_AEAD_PARAMS p = { aad, max + 1 };
    CK_MECHANISM m = { CKM_DEP11_AEAD, &p, sizeof p };
    CK_GCM_PARAMS g = gcm_params(iv, sizeof iv, aad, max + 1, 128);
    CK_MECHANISM mg = { CKM_AES_GCM, &g, sizeof g };
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    struct itest_blob ct = { NULL, 0 }, back = { NULL, 0 };
    CK_ULONG n = OUT;

    assert_non_null(aad);
    memset(iv, 1, sizeof iv);
    memset(pt, 2, sizeof pt);
    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_WORKLOAD, 0, &key), CKR_OK);
    for (int round = 0; round < 2; round++) {
        if (round == 1) { /* a length past any buffer: refused before any copy */
            p.pAAD = iv;
            p.ulAADLen = ~(CK_ULONG)0;
            g.aad_ptr = iv;
            g.aad_len = ~(CK_ULONG)0;
        }
        assert_int_equal(F->C_EncryptInit(fx->s, &m, key), CKR_MECHANISM_PARAM_INVALID);
        assert_int_equal(F->C_DecryptInit(fx->s, &m, key), CKR_MECHANISM_PARAM_INVALID);
        assert_int_equal(F->C_EncryptInit(fx->s, &mg, key), CKR_MECHANISM_PARAM_INVALID);
        assert_int_equal(F->C_DecryptInit(fx->s, &mg, key), CKR_MECHANISM_PARAM_INVALID);
        n = OUT;
        assert_int_equal(F->C_Encrypt(fx->s, pt, sizeof pt, out, &n),
                         CKR_OPERATION_NOT_INITIALIZED);
    }
    memset(aad, 0x61, max);
    assert_int_equal(itest_aead(fx->t, fx->s, 1, key, aad, max, pt, sizeof pt, &ct), CKR_OK);
    assert_int_equal(itest_aead(fx->t, fx->s, 0, key, aad, max, ct.p, ct.len, &back), CKR_OK);
    assert_int_equal(back.len, sizeof pt);
    assert_memory_equal(back.p, pt, sizeof pt);
    itest_blob_free(&ct);
    itest_blob_free(&back);
    free(aad);
}

/* ---- C_Initialize in a fresh process ------------------------------------- */

/* What a child reported. */
struct child {
    int finished;          /* 0: killed at the time-out (a hang) */
    CK_RV rv;              /* C_Initialize */
    CK_RV work;            /* the work after it (mode "threads"), or ~0 */
    int threads;           /* most threads seen (mode "threads"), or -1 */
    char log[8192];        /* its log file */
};

static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e = NULL;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* Child mode "threads": a policy wrapped under both roots and unwrapped,
 * counting this process's threads after each call. */
static CK_RV child_work(struct itest *t, int *most)
{
    struct itest_fx fx = { t, CK_INVALID_HANDLE, 0, 0 };
    struct itest_blob blob = { NULL, 0 };
    CK_OBJECT_HANDLE pol = 0, back = 0;
    CK_RV rv = itest_session(t, "contoso", 1, &fx.s);
    int n = 0;

#define STEP(x) do { if (rv == CKR_OK) rv = (x); n = count_threads(); if (n > *most) *most = n; } while (0)
    STEP(itest_find(t, fx.s, CKO_PRIVATE_KEY, "root1", &fx.r1));
    STEP(itest_find(t, fx.s, CKO_PRIVATE_KEY, "root2", &fx.r2));
    STEP(itest_keygen(t, fx.s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, &pol));
    STEP(itest_policy_wrap(t, fx.s, pol, fx.r1, fx.r2, 0, &blob));
    STEP(itest_policy_unwrap(t, fx.s, &blob, DEP11_REQUESTER_USER, &back));
    STEP(t->x->DEP11_FlushCache(NULL));
    STEP(itest_policy_unwrap(t, fx.s, &blob, DEP11_REQUESTER_USER, &back));
#undef STEP
    itest_blob_free(&blob);
    return rv;
}

/* The child: "init os|nothreads|threads": C_Initialize with
 * CKF_OS_LOCKING_OK, or with CKF_LIBRARY_CANT_CREATE_OS_THREADS (and, for
 * "threads", the work above); prints "rv=.. work=.. threads=..". */
static int child_main(const char *mode)
{
    struct itest *t = itest_open();
    CK_C_INITIALIZE_ARGS a;
    CK_RV rv, work = ~(CK_ULONG)0;
    int most = count_threads();

    if (t == NULL)
        return 125;
    memset(&a, 0, sizeof a);
    a.flags = strcmp(mode, "os") == 0 ? CKF_OS_LOCKING_OK : CKF_LIBRARY_CANT_CREATE_OS_THREADS;
    rv = t->f->C_Initialize(&a);
    if (rv == CKR_OK && strcmp(mode, "threads") == 0)
        work = child_work(t, &most);
    printf("rv=0x%lx work=0x%lx threads=%d\n", (unsigned long)rv, (unsigned long)work,
           strcmp(mode, "threads") == 0 ? most : -1);
    fflush(stdout);
    if (rv == CKR_OK)
        (void)t->f->C_Finalize(NULL);
    return 0;
}

static void read_text(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n = 0;

    buf[0] = '\0';
    if (f == NULL)
        return;
    n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Runs "this-program init @mode" with DEP11_CONF = world/@conf and its log
 * in world/@conf.log; kills it after INIT_TIMEOUT_S (a hang). */
static void run_child(const struct itest *t, const char *conf, const char *mode,
                      struct child *out)
{
    char confpath[1200], logpath[1300], line[256] = "";
    int fds[2], status = 0;
    pid_t pid;
    size_t got = 0;
    time_t t0 = time(NULL);

    memset(out, 0, sizeof *out);
    out->threads = -1;
    itest_path(t, conf, confpath, sizeof confpath);
    snprintf(logpath, sizeof logpath, "%s.log", confpath);
    (void)unlink(logpath);
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        setenv("DEP11_CONF", confpath, 1);
        setenv("DEP11_DEBUG_FILE", logpath, 1);
        if (dup2(fds[1], STDOUT_FILENO) < 0)
            _exit(125);
        execl(getenv("ITEST_SMALL_GAPS_SELF"), "test_small_gaps", "init", mode, (char *)NULL);
        _exit(126);
    }
    close(fds[1]);
    while (time(NULL) - t0 < INIT_TIMEOUT_S && got < sizeof line - 1) {
        struct pollfd p = { fds[0], POLLIN, 0 };
        ssize_t r;

        if (poll(&p, 1, 200) <= 0)
            continue;
        r = read(fds[0], line + got, sizeof line - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        line[got] = '\0';
        if (strchr(line, '\n') != NULL)
            break;
    }
    close(fds[0]);
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (time(NULL) - t0 >= INIT_TIMEOUT_S) {
            (void)kill(pid, SIGKILL);
            (void)waitpid(pid, &status, 0);
            break;
        }
        (void)poll(NULL, 0, 50);
    }
    unsigned long rv = 0, work = 0;
    int threads = -1;
    out->finished = sscanf(line, "rv=0x%lx work=0x%lx threads=%d", &rv, &work, &threads) == 3;
    out->rv = rv;
    out->work = work;
    out->threads = threads;
    read_text(logpath, out->log, sizeof out->log);
    if (!out->finished)
        fail_msg("%s (%s): C_Initialize did not answer within %d s (a deadlock?); log:\n%s",
                 conf, mode, INIT_TIMEOUT_S, out->log);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* The child failed C_Initialize with @want and logged one ERROR line
 * holding each of @a and @b. */
static void assert_refused(const struct child *c, const char *conf, CK_RV want, const char *a,
                           const char *b)
{
    const char *err = strstr(c->log, " ERROR ");

    if (c->rv != want || count(c->log, " ERROR ") != 1 || strstr(err, a) == NULL ||
        (b != NULL && strstr(err, b) == NULL))
        fail_msg("%s: rv 0x%lx (want 0x%lx), want one ERROR line with '%s' and '%s'; log:\n%s",
                 conf, (unsigned long)c->rv, (unsigned long)want, a, b ? b : "", c->log);
}

/* "PATH:LINE:" of the first line of world/@file that starts with @key. */
static void where(const struct itest *t, const char *file, const char *key, char *out,
                  size_t cap)
{
    char path[1200], buf[8192];
    unsigned line = 1;

    itest_path(t, file, path, sizeof path);
    read_text(path, buf, sizeof buf);
    for (const char *p = buf; *p != '\0'; p = strchr(p, '\n') + 1, line++) {
        if (strncmp(p, key, strlen(key)) == 0) {
            snprintf(out, cap, "%s:%u:", path, line);
            return;
        }
        if (strchr(p, '\n') == NULL)
            break;
    }
    fail_msg("no '%s' in %s", key, path);
}

/* ---- c. a profile whose module is dep11 itself --------------------------- */

/* The built libdep11.so, a symlink to it and a copy of it, each as the
 * profile's module: CKR_FUNCTION_FAILED within the time-out (not a hang),
 * one line naming the profile file and the module's line. */
static void test_profile_module_is_dep11(void **state)
{
    struct itest_fx *fx = *state;
    static const char *const confs[][2] = {
        { "dep11-self.conf", "self-profile.conf" },
        { "dep11-self-link.conf", "self-link-profile.conf" },
        { "dep11-self-copy.conf", "self-copy-profile.conf" },
    };
    struct child c;
    char at[1400];

    for (size_t i = 0; i < sizeof confs / sizeof confs[0]; i++) {
        run_child(fx->t, confs[i][0], "os", &c);
        where(fx->t, confs[i][1], "module", at, sizeof at);
        assert_refused(&c, confs[i][0], CKR_FUNCTION_FAILED, at, "is dep11 itself");
    }
}

/* ---- d, e. configuration errors ------------------------------------------ */

/* A provider PIN file the group or others may read: CKR_FUNCTION_FAILED,
 * one line naming the file. */
static void test_pin_file_mode(void **state)
{
    struct itest_fx *fx = *state;
    static const char *const confs[][2] = {
        { "dep11-pin-group.conf", "provider-group.pin" },
        { "dep11-pin-world.conf", "provider-world.pin" },
    };
    struct child c;
    char pin[1200];

    for (size_t i = 0; i < sizeof confs / sizeof confs[0]; i++) {
        run_child(fx->t, confs[i][0], "os", &c);
        itest_path(fx->t, confs[i][1], pin, sizeof pin);
        assert_refused(&c, confs[i][0], CKR_FUNCTION_FAILED, pin, "group or others");
    }
    /* the same file at 0600 serves */
    run_child(fx->t, "dep11-pin-ok.conf", "os", &c);
    assert_int_equal(c.rv, CKR_OK);
}

/* The provider token refused at C_Initialize (issue 14 item 7): a wrong
 * provider PIN is CKR_FUNCTION_FAILED (C_Initialize may not answer
 * CKR_PIN_INCORRECT), one line naming the login; a provider-token URI that
 * matches two tokens is CKR_FUNCTION_FAILED, one line, not the first. */
static void test_provider_token_refused(void **state)
{
    struct itest_fx *fx = *state;
    struct child c;

    run_child(fx->t, "dep11-pin-wrong.conf", "os", &c);
    assert_refused(&c, "dep11-pin-wrong.conf", CKR_FUNCTION_FAILED,
                   "login to the provider token failed", "CKR_PIN_INCORRECT");
    /* The URI of dep11-provider-two.conf (test_small_gaps.sh: the
     * backend's manufacturer, which all its tokens share). */
    const char *uri = getenv("ITEST_TWO_TOKENS_URI");
    char want[256];

    snprintf(want, sizeof want, "%s matches",
             uri != NULL ? uri : "pkcs11:manufacturer=SoftHSM%20project");
    run_child(fx->t, "dep11-provider-two.conf", "os", &c);
    assert_refused(&c, "dep11-provider-two.conf", CKR_FUNCTION_FAILED, want, "tokens");
}

/* system-requests = allow or recovery-requests = allow without audit-log:
 * CKR_FUNCTION_FAILED, one line naming the config file and the line. */
static void test_requests_need_audit(void **state)
{
    struct itest_fx *fx = *state;
    static const char *const confs[][2] = {
        { "dep11-sys-noaudit.conf", "system-requests" },
        { "dep11-rec-noaudit.conf", "recovery-requests" },
    };
    struct child c;
    char at[1400];

    for (size_t i = 0; i < sizeof confs / sizeof confs[0]; i++) {
        run_child(fx->t, confs[i][0], "os", &c);
        where(fx->t, confs[i][0], confs[i][1], at, sizeof at);
        assert_refused(&c, confs[i][0], CKR_FUNCTION_FAILED, at, "needs an audit-log");
    }
}

/* ---- f. CKF_LIBRARY_CANT_CREATE_OS_THREADS ------------------------------- */

/* With the flag: a profile asking for hedged tries or a call time-out is
 * CKR_NEED_TO_CREATE_THREADS (one line naming the profile); without the
 * flag it initializes; the shipped profile (neither) accepts the flag and a
 * wrap and two unwraps run with this process's one thread. */
static void test_cant_create_threads(void **state)
{
    struct itest_fx *fx = *state;
    static const char *const confs[][2] = {
        { "dep11-hedged.conf", "hedged-profile.conf" },
        { "dep11-timeout.conf", "timeout-profile.conf" },
    };
    struct child c;
    char prof[1200];

    for (size_t i = 0; i < sizeof confs / sizeof confs[0]; i++) {
        run_child(fx->t, confs[i][0], "nothreads", &c);
        itest_path(fx->t, confs[i][1], prof, sizeof prof);
        assert_refused(&c, confs[i][0], CKR_NEED_TO_CREATE_THREADS, prof,
                       "CKF_LIBRARY_CANT_CREATE_OS_THREADS");
        run_child(fx->t, confs[i][0], "os", &c);
        assert_int_equal(c.rv, CKR_OK);
    }
    run_child(fx->t, "dep11.conf", "threads", &c);
    assert_int_equal(c.rv, CKR_OK);
    assert_int_equal(c.work, CKR_OK);
    assert_int_equal(c.threads, 1);
}

int main(int argc, char **argv)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, itest_setup, itest_teardown)
    const struct CMUnitTest tests[] = {
        T(test_op_ends_with_key),      T(test_destroy_races_op),      T(test_aad_bound),
        T(test_profile_module_is_dep11), T(test_pin_file_mode),
        T(test_requests_need_audit),   T(test_cant_create_threads),
        T(test_provider_token_refused),
    };
#undef T

    char *self = NULL;

    if (argc == 3 && strcmp(argv[1], "init") == 0)
        return child_main(argv[2]);
    /* The C_Initialize cases run this program again: by its own path (under
     * valgrind, /proc/self/exe would be valgrind's). */
    self = realpath(argv[0], NULL);
    if (self == NULL || setenv("ITEST_SMALL_GAPS_SELF", self, 1) != 0)
        return 99;
    free(self);
    return cmocka_run_group_tests_name("small gaps of issue 11", tests, itest_group_setup,
                                       itest_group_teardown);
}
