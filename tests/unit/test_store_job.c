/*
 * test_store_job.c - the SQLite backend of the child-blob store through its
 * interface (tools/store_db.h): the schema on open, owners, the inventory,
 * and the re-wrap job's contract that the PostgreSQL backend shares: two
 * workers never hold one item, a completion counts only items the worker
 * still holds (a child is moved exactly once), an expired lease is taken
 * over, release returns claims, a job of another spec supersedes a running
 * one. The tool's helpers the backend calls are stubbed below.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_db.h"
#include "tool.h"

/* ---- stubs of dep11-tool's helpers ---- */
int tool_error(struct tool *t, int code, const char *fmt, ...)
{
    (void)t;
    (void)fmt;
    return code;
}

void tool_hex(const unsigned char *in, size_t len, char *out)
{
    size_t i = 0;

    for (i = 0; i < len; i++)
        sprintf(out + 2 * i, "%02x", in[i]);
}

int tool_unhex(const char *s, unsigned char *out, size_t len)
{
    (void)s;
    (void)out;
    (void)len;
    return -1;
}

int tool_read_file(struct tool *t, const char *path, size_t max,
                   unsigned char **buf, size_t *len)
{
    (void)t;
    (void)path;
    (void)max;
    *buf = NULL;
    *len = 0;
    return -1;
}

/* ---- fixtures ---- */
static struct tool T;
static const unsigned char A[16] = { 0xa }, B[16] = { 0xb }, C[16] = { 0xc };

struct fx {
    char path[64];
    struct store_db *db, *db2;
};

static void owner_id(unsigned char *o, int i)
{
    memset(o, 0, 16);
    o[0] = 0x40;
    o[14] = (unsigned char)(i >> 8);
    o[15] = (unsigned char)i;
}

/* A store of 10 owners under A (blob: 8 bytes of i). */
static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct store_row r;
    unsigned char blob[8];
    int i = 0;

    assert_non_null(f);
    snprintf(f->path, sizeof f->path, "/tmp/dep11-ustore.%ld.db",
             (long)getpid());
    unlink(f->path);
    assert_int_equal(store_open(&T, f->path, STORE_OPEN_CREATE, &f->db), 0);
    for (i = 0; i < 10; i++) {
        memset(&r, 0, sizeof r);
        owner_id(r.owner, i);
        strcpy(r.kind, "mailbox");
        memcpy(r.assigned, A, 16);
        memcpy(r.wrapped, A, 16);
        r.version = 1;
        memset(blob, i, sizeof blob);
        r.blob = blob;
        r.blob_len = sizeof blob;
        assert_int_equal(f->db->ops->put(&T, f->db, &r), 0);
    }
    assert_int_equal(store_open(&T, f->path, 0, &f->db2), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char p[80];

    store_close(f->db);
    store_close(f->db2);
    unlink(f->path);
    snprintf(p, sizeof p, "%s-wal", f->path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", f->path);
    unlink(p);
    free(f);
    return 0;
}

static void spec_to(struct store_job_spec *s, const unsigned char *target)
{
    memset(s, 0, sizeof *s);
    memcpy(s->target, target, 16);
    s->version = 1;
}

/* Re-wraps @rows in memory as a worker would: under @to, new blob. */
static void move_rows(struct store_row *rows, size_t n,
                      const unsigned char *to)
{
    size_t i = 0;

    for (i = 0; i < n; i++) {
        memcpy(rows[i].assigned, to, 16);
        memcpy(rows[i].wrapped, to, 16);
        rows[i].blob[0] ^= 0xff;
    }
}

static size_t count_under(struct store_db *db, const unsigned char *p)
{
    struct store_count *c = NULL;
    size_t n = 0, i = 0, k = 0;

    assert_int_equal(db->ops->inventory(&T, db, &c, &n), 0);
    for (i = 0; i < n; i++)
        if (!memcmp(c[i].wrapped, p, 16) && !memcmp(c[i].assigned, p, 16))
            k += c[i].n;
    free(c);
    return k;
}

/* ---- tests ---- */
static void test_schema_and_owners(void **state)
{
    struct fx *f = *state;
    struct store_db *db = NULL;
    struct store_row r;
    unsigned char o[16];
    int v = 0, found = 0;

    assert_int_equal(f->db->ops->schema_version(&T, f->db, &v), 0);
    assert_int_equal(v, STORE_SCHEMA_VERSION);
    assert_int_equal(store_open(&T, "/tmp/dep11-ustore-none.db",
                                STORE_OPEN_RDONLY, &db), TOOL_EXIT_USAGE);
    assert_null(db);
    owner_id(o, 3);
    assert_int_equal(f->db->ops->get(&T, f->db, o, 1, &r, &found), 0);
    assert_int_equal(found, 1);
    assert_int_equal(r.blob_len, 8);
    assert_int_equal(r.blob[0], 3);
    store_row_clear(&r);
    assert_int_equal(f->db->ops->set_assigned(&T, f->db, o, B, &found), 0);
    assert_int_equal(found, 1);
    assert_int_equal(count_under(f->db, A), 9);
    owner_id(o, 99);
    assert_int_equal(f->db->ops->get(&T, f->db, o, 0, &r, &found), 0);
    assert_int_equal(found, 0);
    assert_int_equal(f->db->ops->set_assigned(&T, f->db, o, B, &found), 0);
    assert_int_equal(found, 0);
}

static void test_claims_exactly_once(void **state)
{
    struct fx *f = *state;
    const struct store_ops *ops = f->db->ops;
    struct store_job_spec s;
    struct store_job j1, j2;
    struct store_progress p;
    struct store_row *r1 = NULL, *r2 = NULL, *r3 = NULL;
    size_t n1 = 0, n2 = 0, n3 = 0, acc = 0, i = 0, k = 0;
    int done = 0;

    spec_to(&s, B);
    assert_int_equal(ops->job_open(&T, f->db, &s, &j1), 0);
    assert_int_equal(ops->job_open(&T, f->db2, &s, &j2), 0);
    assert_true(j1.id == j2.id); /* the same job for every worker */
    assert_int_equal(ops->job_claim(&T, f->db, &j1, "w1", 4, 100, &r1, &n1),
                     0);
    assert_int_equal(ops->job_claim(&T, f->db2, &j2, "w2", 100, 100, &r2,
                                    &n2), 0);
    assert_int_equal(n1, 4);
    assert_int_equal(n2, 6);
    for (i = 0; i < n1; i++) /* disjoint */
        for (k = 0; k < n2; k++)
            assert_memory_not_equal(r1[i].owner, r2[k].owner, 16);
    assert_int_equal(ops->job_claim(&T, f->db2, &j2, "w3", 100, 100, &r3,
                                    &n3), 0);
    assert_int_equal(n3, 0);
    store_rows_free(r3, n3);
    move_rows(r1, n1, B);
    assert_int_equal(ops->job_complete(&T, f->db, &j1, "w1", r1, n1, &acc),
                     0);
    assert_int_equal(acc, 4);
    assert_int_equal(ops->job_complete(&T, f->db, &j1, "w1", r1, n1, &acc),
                     0);
    assert_int_equal(acc, 0); /* done items are not moved again */
    assert_int_equal(ops->job_complete(&T, f->db2, &j2, "w1", r2, n2, &acc),
                     0);
    assert_int_equal(acc, 0); /* not w1's */
    assert_int_equal(ops->job_finish(&T, f->db, &j1, &done), 0);
    assert_int_equal(done, 0);
    move_rows(r2, n2, B);
    assert_int_equal(ops->job_complete(&T, f->db2, &j2, "w2", r2, n2, &acc),
                     0);
    assert_int_equal(acc, 6);
    assert_int_equal(ops->job_progress(&T, f->db, &j1, &p), 0);
    assert_int_equal(p.done, 10);
    assert_int_equal(ops->job_finish(&T, f->db, &j1, &done), 0);
    assert_int_equal(done, 1);
    assert_int_equal(count_under(f->db, B), 10);
    store_rows_free(r1, n1);
    store_rows_free(r2, n2);
}

static void test_lease_takeover_and_release(void **state)
{
    struct fx *f = *state;
    const struct store_ops *ops = f->db->ops;
    struct store_job_spec s;
    struct store_job j;
    struct store_progress p;
    struct store_row *dead = NULL, *live = NULL, *x = NULL;
    size_t nd = 0, nl = 0, nx = 0, acc = 0;

    spec_to(&s, B);
    assert_int_equal(ops->job_open(&T, f->db, &s, &j), 0);
    /* a worker that dies with its lease already over */
    assert_int_equal(ops->job_claim(&T, f->db, &j, "dead", 3, -5, &dead,
                                    &nd), 0);
    assert_int_equal(nd, 3);
    assert_int_equal(ops->job_progress(&T, f->db, &j, &p), 0);
    assert_int_equal(p.expired, 3);
    assert_int_equal(ops->job_claim(&T, f->db2, &j, "live", 100, 100, &live,
                                    &nl), 0);
    assert_int_equal(nl, 7); /* the pending ones first */
    assert_int_equal(ops->job_claim(&T, f->db2, &j, "live", 100, 100, &x,
                                    &nx), 0);
    assert_int_equal(nx, 3); /* then the dead worker's batch */
    move_rows(dead, nd, B);
    assert_int_equal(ops->job_complete(&T, f->db, &j, "dead", dead, nd,
                                       &acc), 0);
    assert_int_equal(acc, 0); /* taken over: not the dead one's any more */
    assert_int_equal(ops->job_release(&T, f->db2, &j, "live"), 0);
    assert_int_equal(ops->job_progress(&T, f->db, &j, &p), 0);
    assert_int_equal(p.pending, 10);
    assert_int_equal(p.claimed, 0);
    store_rows_free(x, nx);
    assert_int_equal(ops->job_claim(&T, f->db2, &j, "other", 2, 100, &x,
                                    &nx), 0);
    assert_int_equal(ops->job_release(&T, f->db, &j, STORE_WORKER_ANY), 0);
    assert_int_equal(ops->job_progress(&T, f->db, &j, &p), 0);
    assert_int_equal(p.claimed, 0);
    assert_int_equal(count_under(f->db, A), 10); /* nothing moved */
    store_rows_free(dead, nd);
    store_rows_free(live, nl);
    store_rows_free(x, nx);
}

static void test_supersede(void **state)
{
    struct fx *f = *state;
    const struct store_ops *ops = f->db->ops;
    struct store_job_spec s;
    struct store_job jb, jc, again;
    struct store_progress p;

    spec_to(&s, B);
    assert_int_equal(ops->job_open(&T, f->db, &s, &jb), 0);
    spec_to(&s, C);
    assert_int_equal(ops->job_open(&T, f->db, &s, &jc), 0);
    assert_true(jc.id != jb.id);
    assert_int_equal(ops->job_progress(&T, f->db, &jb, &p), 0);
    assert_int_equal(p.total, 0); /* superseded: its items are gone */
    spec_to(&s, B);
    assert_int_equal(ops->job_open(&T, f->db, &s, &again), 0);
    assert_true(again.id != jb.id); /* not resumed: a new job */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schema_and_owners, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_claims_exactly_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lease_takeover_and_release,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_supersede, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
