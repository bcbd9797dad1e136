/*
 * store_view.c - looking at the store: "mailbox show" (with the lazy
 * re-wrap on access), "store inventory" (blobs per policy and version, the
 * seeds' "% rolled") and "store verify" (every blob unwraps; nothing stray).
 */
#include <stdlib.h>
#include <string.h>

#include "tool.h"

struct view_opts {
    const char *store, *owner, *policy;
    CK_ULONG requester;
    int no_rewrap;
};

enum { OPT_STORE = 1000, OPT_OWNER, OPT_POLICY, OPT_REQUESTER, OPT_NO_REWRAP };

static const struct option view_longopts[] = {
    {"store", 1, NULL, OPT_STORE}, {"owner", 1, NULL, OPT_OWNER},
    {"policy", 1, NULL, OPT_POLICY}, {"requester", 1, NULL, OPT_REQUESTER},
    {"no-rewrap", 0, NULL, OPT_NO_REWRAP}, TOOL_COMMON_LONGOPTS,
    {NULL, 0, NULL, 0},
};

static int view_opt(struct tool *t, int c, const char *arg, void *ctx)
{
    struct view_opts *o = ctx;

    switch (c) {
    case OPT_STORE: o->store = arg; return 0;
    case OPT_OWNER: o->owner = arg; return 0;
    case OPT_POLICY: o->policy = arg; return 0;
    case OPT_NO_REWRAP: o->no_rewrap = 1; return 0;
    case OPT_REQUESTER: return tool_requester_opt(t, arg, &o->requester);
    default: return TOOL_EXIT_USAGE;
    }
}

/* Parses; @store_needed. Returns 0, -1 after --help, or an exit code. */
static int view_parse(struct tool *t, const struct tool_cmd *cmd, int argc,
                      char **argv, struct view_opts *o)
{
    int rc = 0;

    memset(o, 0, sizeof *o);
    o->requester = DEP11_REQUESTER_USER;
    rc = tool_parse_no_operands(t, cmd, argc, argv, view_longopts, view_opt, o);
    if (rc != 0)
        return rc;
    if (o->store == NULL)
        return tool_error(t, TOOL_EXIT_USAGE, "--store STORE is required");
    return 0;
}

/* Name of policy @id among @all, or its hex. */
static const char *name_of(const struct tool_rec *all, size_t n,
                           const unsigned char *id, char hex[33])
{
    size_t i = 0;

    for (i = 0; i < n; i++)
        if (memcmp(all[i].id, id, 16) == 0)
            return all[i].name;
    tool_hex(id, 16, hex);
    return hex;
}

/* ---- mailbox show ---- */

static void show_entry(struct tool *t, const struct store_row *e,
                       const char *moved_from)
{
    struct tool_rec *all = NULL;
    size_t n = 0;
    char oh[33], h1[33], h2[33];
    const char *an = NULL, *wn = NULL;
    int pending = memcmp(e->assigned, e->wrapped, 16) != 0;

    (void)tool_reg_load(t, &all, &n);
    an = name_of(all, n, e->assigned, h1);
    wn = name_of(all, n, e->wrapped, h2);
    tool_hex(e->owner, 16, oh);
    if (t->opt.json) {
        printf("{\"ok\":true,\"owner_id\":\"%s\",\"kind\":\"%s\","
               "\"assigned\":", oh, e->kind);
        tool_json_str(stdout, an);
        printf(",\"wrapped_under\":");
        tool_json_str(stdout, wn);
        printf(",\"version\":%lu,\"pending\":%s,\"rewrapped_from\":",
               e->version, pending ? "true" : "false");
        tool_json_str(stdout, moved_from ? moved_from : "");
        printf(",\"bytes\":%zu}\n", e->blob_len);
    } else {
        printf("owner       %s\nkind        %s\nassigned    %s\n"
               "wrapped by  %s (version %lu)%s\nblob        %zu bytes\n", oh,
               e->kind, an, wn, e->version,
               pending ? " - re-wrap pending" : "", e->blob_len);
        if (moved_from != NULL)
            printf("re-wrapped  on access: from \"%s\" to \"%s\"\n",
                   moved_from, wn);
    }
    tool_rec_free_all(all, n);
}

static int mailbox_show(struct tool *t, int argc, char **argv)
{
    struct view_opts o;
    struct store_row e;
    struct store_db *db = NULL;
    struct tool_keycache *c = calloc(1, sizeof *c);
    unsigned char owner[16];
    char from[DEP11_LABEL_MAX + 1] = "";
    int rc = view_parse(t, &tool_cmd_mailbox_show, argc, argv, &o), found = 0;

    memset(&e, 0, sizeof e);
    if (c == NULL || rc != 0) {
        free(c);
        return c == NULL ? TOOL_EXIT_FAIL : rc < 0 ? TOOL_EXIT_OK : rc;
    }
    c->requester = o.requester;
    if (o.owner == NULL || tool_owner_id(o.owner, owner) != 0)
        rc = tool_error(t, TOOL_EXIT_USAGE, "--owner ID is required");
    if (rc == TOOL_EXIT_OK)
        rc = store_open(t, o.store, o.no_rewrap || store_backend(o.store) ==
                        &store_dir_ops ? STORE_OPEN_RDONLY :
                        STORE_OPEN_MIGRATE, &db);
    if (rc == TOOL_EXIT_OK)
        rc = db->ops->get(t, db, owner, 1, &e, &found);
    if (rc == TOOL_EXIT_OK && !found)
        rc = tool_error(t, TOOL_EXIT_FAIL, "no mailbox %s in the store %s",
                        o.owner, o.store);
    if (rc == TOOL_EXIT_OK)
        rc = tool_load_login(t, 0);
    if (rc == TOOL_EXIT_OK && !o.no_rewrap && db->ops->begin != NULL)
        rc = tool_store_touch(t, db, c, &e, from, sizeof from);
    if (rc == TOOL_EXIT_OK)
        show_entry(t, &e, from[0] ? from : NULL);
    store_row_clear(&e);
    store_close(db);
    tool_cache_free(t, c);
    free(c);
    return rc;
}

const struct tool_cmd tool_cmd_mailbox_show = {
    "mailbox", "show", mailbox_show,
    "show a mailbox's policy; re-wrap it if its assignment changed",
    "Usage: dep11-tool mailbox show --store STORE --owner ID [--no-rewrap]\n"
    "         [--requester user|system|recovery]\n"
    "         --pin-source file:PATH|env:VAR\n\n"
    "Prints the mailbox's store entry: the policy it is assigned to, the\n"
    "policy and version its blob is wrapped under, the blob's size. When the\n"
    "assignment changed (mailbox assign --store to another policy) the blob\n"
    "is re-wrapped now, on access: unwrapped under the old policy, wrapped\n"
    "under the assigned one, written in one transaction; --no-rewrap only\n"
    "shows that a re-wrap is pending (and opens the store read-only).",
};

/* ---- store inventory ---- */

struct pol_count {
    unsigned char id[16];
    size_t blobs, assigned, at_current;
    unsigned long ver[8];
    size_t ver_n[8];
    size_t nver;
};

/* Adds @k children of wrapped/version to the per-policy counts @p (at
 * most 64 policies, 8 versions each). */
static void count_add(struct pol_count *p, size_t *np,
                      const struct store_count *e)
{
    size_t i = 0, k = 0;

    for (i = 0; i < *np && memcmp(p[i].id, e->wrapped, 16) != 0; i++)
        ;
    if (i == *np) {
        if (*np == 64)
            return;
        memset(&p[i], 0, sizeof p[i]);
        memcpy(p[i].id, e->wrapped, 16);
        (*np)++;
    }
    p[i].blobs += e->n;
    for (k = 0; k < p[i].nver && p[i].ver[k] != e->version; k++)
        ;
    if (k == p[i].nver && k < 8) {
        p[i].ver[k] = e->version;
        p[i].ver_n[k] = 0;
        p[i].nver++;
    }
    if (k < 8)
        p[i].ver_n[k] += e->n;
}

/* The registry's record of @id among @all, or NULL. */
static const struct tool_rec *rec_of(const struct tool_rec *all, size_t n,
                                     const unsigned char *id)
{
    size_t i = 0;

    for (i = 0; i < n; i++)
        if (memcmp(all[i].id, id, 16) == 0)
            return &all[i];
    return NULL;
}

struct inv {
    struct pol_count p[64];
    size_t np, total, pending, rolled, damaged;
};

/* Adds up the store's counts (one GROUP BY over an index). */
static int inv_count(struct tool *t, struct store_db *db,
                     const struct tool_rec *all, size_t n, struct inv *v)
{
    struct store_count *cs = NULL, *e = NULL;
    const struct tool_rec *r = NULL;
    size_t nc = 0, i = 0, k = 0;
    int rc = db->ops->inventory(t, db, &cs, &nc);

    for (i = 0; rc == TOOL_EXIT_OK && i < nc; i++) {
        e = &cs[i];
        v->total += e->n;
        count_add(v->p, &v->np, e);
        if (memcmp(e->assigned, e->wrapped, 16) != 0) {
            v->pending += e->n;
            continue;
        }
        r = rec_of(all, n, e->wrapped);
        if (r == NULL || r->version != e->version)
            continue;
        v->rolled += e->n;
        for (k = 0; k < v->np; k++)
            if (memcmp(v->p[k].id, e->wrapped, 16) == 0)
                v->p[k].at_current += e->n;
    }
    free(cs);
    return rc;
}

static void inv_print_json(const struct inv *v, const struct tool_rec *all,
                           size_t n)
{
    const struct tool_rec *r = NULL;
    char hex[33];
    size_t i = 0, k = 0;

    printf("{\"ok\":true,\"total\":%zu,\"pending\":%zu,\"rolled\":%zu,"
           "\"rolled_pct\":%.1f,\"damaged\":%zu,\"policies\":[", v->total,
           v->pending, v->rolled,
           v->total ? 100.0 * v->rolled / v->total : 100.0, v->damaged);
    for (i = 0; i < v->np; i++) {
        r = rec_of(all, n, v->p[i].id);
        tool_hex(v->p[i].id, 16, hex);
        printf("%s{\"policy_id\":\"%s\",\"name\":", i ? "," : "", hex);
        tool_json_str(stdout, r ? r->name : "");
        printf(",\"state\":\"%s\",\"current_version\":%lu,\"blobs\":%zu,"
               "\"at_current\":%zu,\"versions\":{", r ? tool_state_name(r->state)
               : "unknown", r ? r->version : 0, v->p[i].blobs,
               v->p[i].at_current);
        for (k = 0; k < v->p[i].nver; k++)
            printf("%s\"%lu\":%zu", k ? "," : "", v->p[i].ver[k],
                   v->p[i].ver_n[k]);
        printf("}}");
    }
    printf("]}\n");
}

static void inv_print(const struct inv *v, const struct tool_rec *all,
                      size_t n)
{
    const struct tool_rec *r = NULL;
    char hex[33], vers[128];
    size_t i = 0, k = 0, off = 0;

    printf("%-24s %-15s %-4s %7s  %-22s %s\n", "POLICY", "STATE", "CUR",
           "BLOBS", "BY VERSION", "AT CURRENT");
    for (i = 0; i < v->np; i++) {
        r = rec_of(all, n, v->p[i].id);
        tool_hex(v->p[i].id, 16, hex);
        for (k = 0, off = 0; k < v->p[i].nver && off < sizeof vers - 24; k++)
            off += (size_t)snprintf(vers + off, sizeof vers - off, "%sv%lu:%zu",
                                    k ? " " : "", v->p[i].ver[k],
                                    v->p[i].ver_n[k]);
        vers[off] = '\0';
        if (r != NULL)
            printf("%-24s %-15s v%-3lu %7zu  %-22s %5.1f%%\n", r->name,
                   tool_state_name(r->state), r->version, v->p[i].blobs, vers,
                   100.0 * v->p[i].at_current / v->p[i].blobs);
        else
            printf("%-24.24s %-15s %-4s %7zu  %-22s %s\n", hex, "unknown",
                   "?", v->p[i].blobs, vers, "?");
    }
    printf("total %zu children; %zu pending a re-wrap to a new assignment; "
           "%zu (%.1f%%) rolled: under their assigned policy at its current "
           "version%s\n", v->total, v->pending, v->rolled,
           v->total ? 100.0 * v->rolled / v->total : 100.0,
           n == 0 ? " (no registry read: give --pin-source)" : "");
    if (v->damaged)
        printf("%zu damaged entries (see store verify)\n", v->damaged);
}

static int store_inventory(struct tool *t, int argc, char **argv)
{
    struct view_opts o;
    struct tool_rec *all = NULL;
    struct inv *v = calloc(1, sizeof *v);
    struct store_db *db = NULL;
    size_t n = 0;
    int rc = view_parse(t, &tool_cmd_store_inventory, argc, argv, &o);

    if (v == NULL || rc != 0) {
        free(v);
        return v == NULL ? TOOL_EXIT_FAIL : rc < 0 ? TOOL_EXIT_OK : rc;
    }
    if (t->opt.pin_source != NULL) { /* names and versions: the registry */
        rc = tool_load_login(t, 0);
        if (rc == TOOL_EXIT_OK)
            rc = tool_reg_load(t, &all, &n);
    }
    if (rc == TOOL_EXIT_OK)
        rc = store_open(t, o.store, STORE_OPEN_RDONLY, &db);
    if (rc == TOOL_EXIT_OK)
        rc = inv_count(t, db, all, n, v);
    if (rc == TOOL_EXIT_OK && t->opt.json)
        inv_print_json(v, all, n);
    else if (rc == TOOL_EXIT_OK)
        inv_print(v, all, n);
    store_close(db);
    tool_rec_free_all(all, n);
    free(v);
    return rc;
}

const struct tool_cmd tool_cmd_store_inventory = {
    "store", "inventory", store_inventory,
    "count a store's blobs per policy and version (% rolled)",
    "Usage: dep11-tool store inventory --store STORE\n"
    "         [--pin-source file:PATH|env:VAR]\n\n"
    "Counts the children of the store per policy they are wrapped under and\n"
    "per policy version they were wrapped at, like the seeds' \"% of sites\n"
    "rolled\": a child is rolled when it is wrapped under the policy it is\n"
    "assigned to, at that policy's current registry version (store rewrap\n"
    "--to rolls the rest). With --pin-source the registry gives names,\n"
    "states and current versions; without, only policy ids are shown and\n"
    "the module is not loaded. Reads only.",
};

/* ---- store verify ---- */

struct ver {
    struct tool *t;
    struct tool_keycache *c;
    const unsigned char *under;
    size_t total, ok, failed, pending, not_under;
};

/* Unwraps the child of one row under the policy it is wrapped under. */
static int verify_one(void *ctx, const struct store_row *r)
{
    struct ver *v = ctx;
    struct tool_cached *pol = NULL;
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    int js = v->t->opt.json; /* per-child errors: stderr only */

    v->t->opt.json = 0;
    v->total++;
    if (tool_cache_get(v->t, v->c, r->wrapped, &pol) != TOOL_EXIT_OK ||
        tool_child_unwrap(v->t, pol->h, r->owner, r->blob, r->blob_len,
                          "child", &key) != TOOL_EXIT_OK) {
        v->failed++;
    } else {
        tool_destroy(v->t, key);
        v->ok++;
        v->pending += memcmp(r->assigned, r->wrapped, 16) != 0;
        v->not_under += v->under && memcmp(r->wrapped, v->under, 16) != 0;
    }
    v->t->opt.json = js;
    return TOOL_EXIT_OK;
}

static int verify_run(struct tool *t, const struct view_opts *o,
                      struct ver *v)
{
    unsigned char under[16];
    struct tool_rec r;
    struct store_db *db = NULL;
    int rc = TOOL_EXIT_OK;

    if (o->policy != NULL) {
        rc = tool_reg_find(t, o->policy, NULL, &r);
        memcpy(under, r.id, 16);
        tool_rec_free(&r);
        if (rc != TOOL_EXIT_OK)
            return rc;
        v->under = under;
    }
    rc = store_open(t, o->store, STORE_OPEN_RDONLY, &db);
    if (rc == TOOL_EXIT_OK)
        rc = db->ops->list(t, db, NULL, 1, verify_one, v);
    v->under = NULL;
    store_close(db);
    return rc;
}

static int store_verify(struct tool *t, int argc, char **argv)
{
    struct view_opts o;
    struct ver v;
    struct tool_keycache *c = calloc(1, sizeof *c);
    int rc = view_parse(t, &tool_cmd_store_verify, argc, argv, &o), bad = 0;

    memset(&v, 0, sizeof v);
    if (c == NULL || rc != 0) {
        free(c);
        return c == NULL ? TOOL_EXIT_FAIL : rc < 0 ? TOOL_EXIT_OK : rc;
    }
    c->requester = o.requester;
    v.t = t;
    v.c = c;
    rc = tool_load_login(t, 0);
    if (rc == TOOL_EXIT_OK)
        rc = verify_run(t, &o, &v);
    bad = v.failed || v.not_under;
    if (rc == TOOL_EXIT_OK && t->opt.json)
        printf("{\"ok\":%s,\"total\":%zu,\"unwrapped\":%zu,\"failed\":%zu,"
               "\"pending\":%zu,\"not_under\":%zu}\n",
               bad ? "false" : "true", v.total, v.ok, v.failed, v.pending,
               v.not_under);
    else if (rc == TOOL_EXIT_OK)
        printf("store %s: %zu children, %zu unwrap, %zu fail; %zu pending a "
               "re-wrap; %zu not under %s\n", o.store, v.total, v.ok,
               v.failed, v.pending, v.not_under, o.policy ? o.policy : "-");
    if (rc == TOOL_EXIT_OK && bad) {
        fprintf(stderr, "dep11-tool: store verify: the store does not "
                "verify\n");
        rc = TOOL_EXIT_FAIL;
    }
    tool_cache_free(t, c);
    free(c);
    return rc;
}

const struct tool_cmd tool_cmd_store_verify = {
    "store", "verify", store_verify,
    "check that every child of a store unwraps",
    "Usage: dep11-tool store verify --store STORE [--policy NAME]\n"
    "         [--requester user|system|recovery]\n"
    "         --pin-source file:PATH|env:VAR\n\n"
    "Unwraps every child blob under the policy its row names\n"
    "(CKM_DEP11_CHILD_UNWRAP with the owner id). With --policy, every child\n"
    "must be wrapped under that policy. Exit 1 if any child fails or is not\n"
    "under --policy. Opens the store read-only.",
};
