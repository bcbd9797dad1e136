/*
 * store_import.c - "store import": converts a store of the old directory
 * format into a database store (SQLite or PostgreSQL). Every entry is
 * verified before it is written (its blob unwraps under the policy it names,
 * for its owner), everything is written in one transaction, and then read
 * back and compared; the old directory is not changed (it stays readable,
 * read-only).
 */
#include <stdlib.h>
#include <string.h>

#include "tool.h"

struct imp {
    struct tool *t;
    struct store_db *dst;
    struct tool_keycache *c;
    size_t total, written, same, bad;
    int pass;                   /* 0 import, 1 read back */
};

/* Is @a the same row as @b (owner, kind, policies, version, blob)? */
static int same_row(const struct store_row *a, const struct store_row *b)
{
    return !memcmp(a->owner, b->owner, 16) && !strcmp(a->kind, b->kind) &&
           !memcmp(a->assigned, b->assigned, 16) &&
           !memcmp(a->wrapped, b->wrapped, 16) && a->version == b->version &&
           a->blob_len == b->blob_len &&
           !memcmp(a->blob, b->blob, a->blob_len);
}

/* The child of @r unwraps under the policy it names, for its owner. */
static int verify_child(struct imp *m, const struct store_row *r)
{
    struct tool_cached *pol = NULL;
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    int rc = tool_cache_get(m->t, m->c, r->wrapped, &pol);

    if (rc == TOOL_EXIT_OK)
        rc = tool_child_unwrap(m->t, pol->h, r->owner, r->blob, r->blob_len,
                               "child", &key);
    tool_destroy(m->t, key);
    return rc;
}

/* One entry of the old store: verified, then written (pass 0), or
 * compared with what was written (pass 1). */
static int import_one(void *ctx, const struct store_row *r)
{
    struct imp *m = ctx;
    struct store_row have;
    char hex[33];
    int found = 0, rc = m->dst->ops->get(m->t, m->dst, r->owner, 1, &have,
                                          &found);

    tool_hex(r->owner, 16, hex);
    if (rc == TOOL_EXIT_OK && m->pass == 1 && (!found || !same_row(r, &have)))
        rc = tool_error(m->t, TOOL_EXIT_FAIL, "owner %s reads back "
                        "differently from the new store", hex);
    if (rc != TOOL_EXIT_OK || m->pass == 1) {
        store_row_clear(&have);
        return rc;
    }
    m->total++;
    if (found && same_row(r, &have))
        m->same++;
    else if (found)
        rc = tool_error(m->t, TOOL_EXIT_FAIL, "owner %s is already in the "
                        "new store with another blob or policy", hex);
    else if (verify_child(m, r) != TOOL_EXIT_OK)
        rc = tool_error(m->t, TOOL_EXIT_FAIL, "owner %s of the old store "
                        "does not verify: nothing imported", hex);
    else if ((rc = m->dst->ops->put(m->t, m->dst, r)) == TOOL_EXIT_OK)
        m->written++;
    store_row_clear(&have);
    return rc;
}

/* Imports @src into @m->dst in one transaction, then reads it back. */
static int import_run(struct imp *m, struct store_db *src)
{
    const struct store_ops *d = m->dst->ops;
    int rc = d->begin(m->t, m->dst);

    if (rc == TOOL_EXIT_OK)
        rc = src->ops->list(m->t, src, NULL, 1, import_one, m);
    if (rc == TOOL_EXIT_OK)
        rc = d->commit(m->t, m->dst);
    else
        (void)d->rollback(m->t, m->dst);
    m->pass = 1;
    if (rc == TOOL_EXIT_OK)
        rc = src->ops->list(m->t, src, NULL, 1, import_one, m);
    return rc;
}

struct imp_opts {
    const char *store, *from;
    CK_ULONG requester;
};

enum { OPT_STORE = 1000, OPT_FROM, OPT_REQUESTER };

static int imp_opt(struct tool *t, int c, const char *arg, void *ctx)
{
    struct imp_opts *o = ctx;

    switch (c) {
    case OPT_STORE: o->store = arg; return 0;
    case OPT_FROM: o->from = arg; return 0;
    case OPT_REQUESTER: return tool_requester_opt(t, arg, &o->requester);
    default: return TOOL_EXIT_USAGE;
    }
}

static int store_import(struct tool *t, int argc, char **argv)
{
    static const struct option lo[] = {
        {"store", 1, NULL, OPT_STORE}, {"from", 1, NULL, OPT_FROM},
        {"requester", 1, NULL, OPT_REQUESTER}, TOOL_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct imp_opts o = { NULL, NULL, DEP11_REQUESTER_USER };
    struct imp m;
    struct store_db *src = NULL;
    int rc = tool_parse_no_operands(t, &tool_cmd_store_import, argc, argv, lo,
                                    imp_opt, &o);

    memset(&m, 0, sizeof m);
    if (rc != 0)
        return rc < 0 ? TOOL_EXIT_OK : rc;
    if (o.store == NULL || o.from == NULL)
        return tool_error(t, TOOL_EXIT_USAGE, "give --from DIR --store STORE");
    if (store_backend(o.from) != &store_dir_ops)
        return tool_error(t, TOOL_EXIT_USAGE, "--from %s is not a directory "
                          "store of the old format", o.from);
    m.t = t;
    m.c = calloc(1, sizeof *m.c);
    rc = m.c ? store_open(t, o.from, STORE_OPEN_RDONLY, &src) :
         tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    if (rc == TOOL_EXIT_OK)
        rc = tool_load_login(t, 0);
    if (rc == TOOL_EXIT_OK)
        rc = store_open(t, o.store, STORE_OPEN_CREATE | STORE_OPEN_MIGRATE,
                        &m.dst);
    if (rc == TOOL_EXIT_OK) {
        m.c->requester = o.requester;
        rc = import_run(&m, src);
    }
    if (rc == TOOL_EXIT_OK && t->opt.json)
        printf("{\"ok\":true,\"total\":%zu,\"imported\":%zu,\"already\":%zu,"
               "\"verified\":%zu}\n", m.total, m.written, m.same, m.total);
    else if (rc == TOOL_EXIT_OK)
        printf("store import: %zu entries of %s verified; %zu imported into "
               "%s, %zu were there already; all read back identical\n",
               m.total, o.from, m.written, o.store, m.same);
    store_close(m.dst);
    store_close(src);
    if (m.c != NULL)
        tool_cache_free(t, m.c);
    free(m.c);
    return rc;
}

const struct tool_cmd tool_cmd_store_import = {
    "store", "import", store_import,
    "convert a store of the old directory format into a database store",
    "Usage: dep11-tool store import --from DIR --store STORE\n"
    "         [--requester user|system|recovery]\n"
    "         --pin-source file:PATH|env:VAR\n\n"
    "Reads every entry of the old directory store DIR (DIR/owners,\n"
    "DIR/blobs), verifies it (its blob unwraps under the policy it names, for\n"
    "its owner: CKM_DEP11_CHILD_UNWRAP), and writes it into STORE (an SQLite\n"
    "file, created if needed, or a postgresql:// URI) in one transaction: an\n"
    "entry that does not verify, or an owner already in STORE with another\n"
    "blob, imports nothing. Then every entry is read back and compared.\n"
    "DIR is not changed; dep11-tool reads it but never writes it again.",
};
