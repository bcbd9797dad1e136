/*
 * test_fork.c - fork awareness (DESIGN section 2; PKCS#11 2.40 section 6.7.7):
 * a parent with sessions, module keys, a policy key and blobs forks; the
 * child gets CKR_CRYPTOKI_NOT_INITIALIZED from every call until it calls
 * C_Initialize; after it, the child works on its own (own session, unwraps
 * a policy blob and a child blob the parent made, seals data the parent can
 * open), and the parent still works with everything it had.
 * The child reports through its exit status: 0 = all well, else the step
 * number that failed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "itest.h"

#define F (fx->t->f)

static const CK_BYTE owner[16] = "fork-test-owner1";
static const CK_BYTE msg[32] = "sealed across a fork, both ways";

struct parent {
    CK_OBJECT_HANDLE pol, pol2, mb;   /* pblob holds pol2: one blob per policy version */
    struct itest_blob pblob, cblob, child, ct;
};

/* Runs in the child; returns 0 or the failing step. */
static int child_main(struct itest_fx *fx, const struct parent *p, int pipefd)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_SESSION_INFO si;
    CK_OBJECT_HANDLE pol = CK_INVALID_HANDLE, cpol = CK_INVALID_HANDLE, mb = CK_INVALID_HANDLE;
    CK_ULONG n = 8, by = 0;
    CK_SLOT_ID slots[8];
    struct itest_blob pt = { 0 }, ct = { 0 };
    CK_DEP11_AEAD_PARAMS ap = { NULL, 0 };
    CK_MECHANISM aead = { CKM_DEP11_AEAD, &ap, sizeof ap };

    /* 1-4: the parent's module state is not the child's. */
    if (F->C_GetSlotList(CK_TRUE, slots, &n) != CKR_CRYPTOKI_NOT_INITIALIZED)
        return 1;
    if (F->C_GetSessionInfo(fx->s, &si) != CKR_CRYPTOKI_NOT_INITIALIZED)
        return 2;
    if (F->C_EncryptInit(fx->s, &aead, p->mb) != CKR_CRYPTOKI_NOT_INITIALIZED)
        return 3;
    if (F->C_Finalize(NULL) != CKR_CRYPTOKI_NOT_INITIALIZED)
        return 4;
    /* 5-6: initialize; the parent's session handle means nothing here. */
    if (itest_init(fx->t) != CKR_OK)
        return 5;
    if (F->C_GetSessionInfo(fx->s, &si) != CKR_SESSION_HANDLE_INVALID)
        return 6;
    /* 7-12: own session, the parent's blobs unwrap, data crosses over. */
    if (itest_session(fx->t, "contoso", 1, &s) != CKR_OK)
        return 7;
    if (itest_policy_unwrap(fx->t, s, &p->cblob, DEP11_REQUESTER_USER, &pol) != CKR_OK)
        return 8;
    if (itest_get_ulong(fx->t, s, pol, CKA_DEP11_UNWRAPPED_BY, &by) != CKR_OK ||
        (by != DEP11_ROOT_CUSTOMER_1 && by != DEP11_ROOT_CUSTOMER_2))
        return 9;
    cpol = pol;
    if (itest_policy_unwrap(fx->t, s, &p->pblob, DEP11_REQUESTER_USER, &pol) != CKR_OK)
        return 10;
    if (itest_child_unwrap(fx->t, s, cpol, &p->child, owner, &mb) != CKR_OK)
        return 11;
    if (itest_aead(fx->t, s, 0, mb, NULL, 0, p->ct.p, p->ct.len, &pt) != CKR_OK ||
        pt.len != sizeof msg || memcmp(pt.p, msg, sizeof msg) != 0)
        return 12;
    /* 13: seal for the parent. */
    if (itest_aead(fx->t, s, 1, mb, (CK_BYTE *)"child", 5, msg, sizeof msg, &ct) != CKR_OK ||
        write(pipefd, ct.p, ct.len) != (ssize_t)ct.len)
        return 13;
    /* 14: finalize cleanly. */
    if (itest_finalize(fx->t) != CKR_OK)
        return 14;
    itest_blob_free(&pt);
    itest_blob_free(&ct);
    return 0;
}

static void test_fork(void **state)
{
    struct itest_fx *fx = *state;
    struct parent p;
    int fds[2], status = 0;
    pid_t pid;
    CK_BYTE buf[256];
    ssize_t got = 0;
    struct itest_blob ct = { 0 }, pt = { 0 };
    CK_OBJECT_HANDLE un = CK_INVALID_HANDLE;

    memset(&p, 0, sizeof p);
    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, &p.pol),
                     CKR_OK);
    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_MAILBOX, 0, &p.mb), CKR_OK);
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, p.pol, fx->r1, fx->r2, 0, &p.cblob), CKR_OK);
    assert_int_equal(itest_keygen(fx->t, fx->s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, &p.pol2),
                     CKR_OK);
    assert_int_equal(itest_policy_wrap(fx->t, fx->s, p.pol2, 0, 0, 0, &p.pblob), CKR_OK);
    assert_int_equal(itest_child_wrap(fx->t, fx->s, p.pol, p.mb, owner, &p.child), CKR_OK);
    assert_int_equal(itest_aead(fx->t, fx->s, 1, p.mb, NULL, 0, msg, sizeof msg, &p.ct), CKR_OK);
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        _exit(child_main(fx, &p, fds[1]));
    }
    close(fds[1]);
    while (got < (ssize_t)sizeof buf) {
        ssize_t r = read(fds[0], buf + got, sizeof buf - (size_t)got);
        if (r <= 0)
            break;
        got += r;
    }
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("child failed at step %d", WEXITSTATUS(status));
    /* The parent still works with its own session, keys and blobs. */
    assert_int_equal((size_t)got, sizeof msg + DEP11_AEAD_OVERHEAD);
    ct.p = buf;
    ct.len = (CK_ULONG)got;
    assert_int_equal(itest_aead(fx->t, fx->s, 0, p.mb, (CK_BYTE *)"child", 5, ct.p, ct.len, &pt),
                     CKR_OK);
    assert_memory_equal(pt.p, msg, sizeof msg);
    itest_blob_free(&pt);
    assert_int_equal(fx->t->x->DEP11_FlushCache(NULL), CKR_OK);
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, &p.cblob, DEP11_REQUESTER_USER, &un),
                     CKR_OK);
    assert_int_equal(itest_policy_unwrap(fx->t, fx->s, &p.pblob, DEP11_REQUESTER_USER, &un),
                     CKR_OK);
    assert_int_equal(itest_aead(fx->t, fx->s, 0, p.mb, NULL, 0, p.ct.p, p.ct.len, &pt), CKR_OK);
    itest_blob_free(&pt);
    itest_blob_free(&p.pblob);
    itest_blob_free(&p.cblob);
    itest_blob_free(&p.child);
    itest_blob_free(&p.ct);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fork, itest_setup, itest_teardown),
    };

    return cmocka_run_group_tests_name("fork", tests, itest_group_setup, itest_group_teardown);
}
