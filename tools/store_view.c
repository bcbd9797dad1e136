/*
 * store_view.c - looking at the store: "mailbox show" (with the lazy
 * re-wrap on access), "store inventory" (blobs per policy and version, the
 * seeds' "% rolled") and "store verify" (every blob unwraps; nothing stray).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* asprintf */
#endif
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reg.h"
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
        return tool_error(t, TOOL_EXIT_USAGE, "--store DIR is required");
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

static void show_entry(struct tool *t, const struct view_opts *o,
                       const struct tool_entry *e, const char *moved_from)
{
    struct tool_rec *all = NULL;
    size_t n = 0;
    char oh[33], h1[33], h2[33], *path = tool_store_blob_path(o->store,
        e->wrapped, e->owner);
    struct stat st;
    const char *an = NULL, *wn = NULL;
    int pending = memcmp(e->assigned, e->wrapped, 16) != 0;

    (void)tool_reg_load(t, &all, &n);
    an = name_of(all, n, e->assigned, h1);
    wn = name_of(all, n, e->wrapped, h2);
    tool_hex(e->owner, 16, oh);
    if (path == NULL || stat(path, &st) != 0)
        st.st_size = -1;
    if (t->opt.json) {
        printf("{\"ok\":true,\"owner_id\":\"%s\",\"kind\":\"%s\","
               "\"assigned\":", oh, e->kind);
        tool_json_str(stdout, an);
        printf(",\"wrapped_under\":");
        tool_json_str(stdout, wn);
        printf(",\"version\":%lu,\"pending\":%s,\"rewrapped_from\":",
               e->version, pending ? "true" : "false");
        tool_json_str(stdout, moved_from ? moved_from : "");
        printf(",\"bytes\":%lld}\n", (long long)st.st_size);
    } else {
        printf("owner       %s\nkind        %s\nassigned    %s\n"
               "wrapped by  %s (version %lu)%s\nblob        %s (%lld bytes)"
               "\n", oh, e->kind, an, wn, e->version,
               pending ? " - re-wrap pending" : "", path ? path : "?",
               (long long)st.st_size);
        if (moved_from != NULL)
            printf("re-wrapped  on access: from \"%s\" to \"%s\"\n",
                   moved_from, wn);
    }
    tool_rec_free_all(all, n);
    free(path);
}

/* The lazy path: the owner's assignment changed, so its blob moves now. */
static int lazy_move(struct tool *t, const struct view_opts *o,
                     struct tool_entry *e, char *from, size_t from_len)
{
    struct tool_keycache *c = calloc(1, sizeof *c);
    struct tool_cached *to = NULL, *src = NULL;
    int lock = -1, rc = c ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;

    if (c != NULL)
        c->requester = o->requester;
    if (rc == TOOL_EXIT_OK && tool_store_lock(t, o->store, &lock) != 0)
        rc = TOOL_EXIT_FAIL;
    /* Re-read under the lock: a bulk job may have moved it meanwhile. */
    if (rc == TOOL_EXIT_OK && tool_store_get(t, o->store, e->owner, e) != 0)
        rc = TOOL_EXIT_FAIL;
    if (rc == TOOL_EXIT_OK && memcmp(e->assigned, e->wrapped, 16) != 0) {
        rc = tool_cache_get(t, c, e->wrapped, &src);
        if (rc == TOOL_EXIT_OK)
            snprintf(from, from_len, "%s", src->name);
        if (rc == TOOL_EXIT_OK)
            rc = tool_cache_get(t, c, e->assigned, &to);
        if (rc == TOOL_EXIT_OK)
            rc = tool_store_move(t, o->store, c, e, to);
    }
    if (c != NULL)
        tool_cache_free(t, c);
    free(c);
    if (lock >= 0)
        close(lock);
    return rc;
}

static int mailbox_show(struct tool *t, int argc, char **argv)
{
    struct view_opts o;
    struct tool_entry e;
    unsigned char owner[16];
    char from[DEP11_LABEL_MAX + 1] = "";
    int rc = view_parse(t, &tool_cmd_mailbox_show, argc, argv, &o), got = 0;

    if (rc != 0)
        return rc < 0 ? TOOL_EXIT_OK : rc;
    if (o.owner == NULL || tool_owner_id(o.owner, owner) != 0)
        return tool_error(t, TOOL_EXIT_USAGE, "--owner ID is required");
    got = tool_store_get(t, o.store, owner, &e);
    if (got != 0)
        return got < 0 ? TOOL_EXIT_FAIL
                       : tool_error(t, TOOL_EXIT_FAIL, "no mailbox %s in the "
                                    "store %s", o.owner, o.store);
    rc = tool_load_login(t, 0);
    if (rc == TOOL_EXIT_OK && !o.no_rewrap &&
        memcmp(e.assigned, e.wrapped, 16) != 0)
        rc = lazy_move(t, &o, &e, from, sizeof from);
    if (rc == TOOL_EXIT_OK)
        show_entry(t, &o, &e, from[0] ? from : NULL);
    return rc;
}

const struct tool_cmd tool_cmd_mailbox_show = {
    "mailbox", "show", mailbox_show,
    "show a mailbox's policy; re-wrap it if its assignment changed",
    "Usage: dep11-tool mailbox show --store DIR --owner ID [--no-rewrap]\n"
    "         [--requester user|system|recovery]\n"
    "         --pin-source file:PATH|env:VAR\n\n"
    "Prints the mailbox's store entry: the policy it is assigned to, the\n"
    "policy and version its blob is wrapped under, the blob file. When the\n"
    "assignment changed (mailbox assign --store to another policy) the blob\n"
    "is re-wrapped now, on access: unwrapped under the old policy, wrapped\n"
    "under the assigned one, crash-safe as in store rewrap; --no-rewrap only\n"
    "shows that a re-wrap is pending.",
};

/* ---- store inventory ---- */

struct pol_count {
    unsigned char id[16];
    size_t blobs, assigned, at_current;
    unsigned long ver[8];
    size_t ver_n[8];
    size_t nver;
};

/* Adds entry @e to the per-policy counts @p (at most 64 policies). */
static void count_entry(struct pol_count *p, size_t *np,
                        const struct tool_entry *e)
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
    p[i].blobs++;
    for (k = 0; k < p[i].nver && p[i].ver[k] != e->version; k++)
        ;
    if (k == p[i].nver && k < 8) {
        p[i].ver[k] = e->version;
        p[i].ver_n[k] = 0;
        p[i].nver++;
    }
    if (k < 8)
        p[i].ver_n[k]++;
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

/* Counts every entry of the store. */
static int inv_count(struct tool *t, const char *dir, const struct tool_rec *all,
                     size_t n, struct inv *v)
{
    unsigned char *owners = NULL;
    struct tool_entry e;
    const struct tool_rec *r = NULL;
    size_t i = 0, k = 0;

    if (tool_store_list(t, dir, &owners, &v->total) != 0)
        return TOOL_EXIT_USAGE;
    for (i = 0; i < v->total; i++) {
        if (tool_store_get(t, dir, owners + 16 * i, &e) != 0) {
            v->damaged++;
            continue;
        }
        count_entry(v->p, &v->np, &e);
        if (memcmp(e.assigned, e.wrapped, 16) != 0) {
            v->pending++;
            continue;
        }
        r = rec_of(all, n, e.wrapped);
        if (r != NULL && r->version == e.version) {
            v->rolled++;
            for (k = 0; k < v->np; k++)
                if (memcmp(v->p[k].id, e.wrapped, 16) == 0)
                    v->p[k].at_current++;
        }
    }
    free(owners);
    return TOOL_EXIT_OK;
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
        rc = inv_count(t, o.store, all, n, v);
    if (rc == TOOL_EXIT_OK && t->opt.json)
        inv_print_json(v, all, n);
    else if (rc == TOOL_EXIT_OK)
        inv_print(v, all, n);
    tool_rec_free_all(all, n);
    free(v);
    return rc;
}

const struct tool_cmd tool_cmd_store_inventory = {
    "store", "inventory", store_inventory,
    "count a store's blobs per policy and version (% rolled)",
    "Usage: dep11-tool store inventory --store DIR\n"
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
    size_t total, ok, failed, pending, not_under, stray;
    unsigned char *pairs;  /* sorted (owner, wrapped) pairs, 32 bytes each */
    size_t npairs;
};

static int cmp32(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* Unwraps the child of one owner under its policy. */
static void verify_one(struct tool *t, const char *dir, struct tool_keycache *c,
                       const unsigned char *owner, const unsigned char *under,
                       struct ver *v)
{
    struct tool_entry e;
    struct tool_cached *pol = NULL;
    unsigned char *blob = NULL;
    size_t len = 0;
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;

    if (tool_store_get(t, dir, owner, &e) != 0) {
        v->failed++;
        return;
    }
    memcpy(v->pairs + 32 * v->npairs, owner, 16); /* its blob is no stray */
    memcpy(v->pairs + 32 * v->npairs + 16, e.wrapped, 16);
    v->npairs++;
    if (tool_store_read_blob(t, dir, &e, &blob, &len) != 0 ||
        tool_cache_get(t, c, e.wrapped, &pol) != TOOL_EXIT_OK ||
        tool_child_unwrap(t, pol->h, owner, blob, len, "child", &key) !=
            TOOL_EXIT_OK) {
        v->failed++;
        free(blob);
        return;
    }
    (void)t->p11->C_DestroyObject(t->session, key);
    free(blob);
    v->ok++;
    v->pending += memcmp(e.assigned, e.wrapped, 16) != 0;
    v->not_under += under != NULL && memcmp(e.wrapped, under, 16) != 0;
}

/* Counts blob files no entry points to, and temporary files. */
static void verify_stray(const char *dir, struct ver *v)
{
    char *p = NULL, *q = NULL;
    DIR *d = NULL, *s = NULL;
    struct dirent *de = NULL, *fe = NULL;
    unsigned char key[32];

    qsort(v->pairs, v->npairs, 32, cmp32);
    if (asprintf(&p, "%s/blobs", dir) < 0 || (d = opendir(p)) == NULL) {
        free(p);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        if (tool_unhex(de->d_name, key + 16, 16) != 0 ||
            asprintf(&q, "%s/%s", p, de->d_name) < 0)
            continue;
        s = opendir(q);
        while (s != NULL && (fe = readdir(s)) != NULL) {
            if (fe->d_name[0] == '.')
                continue;
            if (strlen(fe->d_name) != 37 || strcmp(fe->d_name + 32, ".blob") ||
                (fe->d_name[32] = '\0', tool_unhex(fe->d_name, key, 16)) ||
                !bsearch(key, v->pairs, v->npairs, 32, cmp32))
                v->stray++;
        }
        if (s != NULL)
            closedir(s);
        free(q);
    }
    closedir(d);
    free(p);
}

static int verify_run(struct tool *t, const struct view_opts *o,
                      struct tool_keycache *c, struct ver *v)
{
    unsigned char *owners = NULL, under[16];
    struct tool_rec r;
    size_t i = 0;
    int rc = TOOL_EXIT_OK;

    if (o->policy != NULL) {
        rc = tool_reg_find(t, o->policy, NULL, &r);
        memcpy(under, r.id, 16);
        tool_rec_free(&r);
        if (rc != TOOL_EXIT_OK)
            return rc;
    }
    if (tool_store_list(t, o->store, &owners, &v->total) != 0)
        return TOOL_EXIT_USAGE;
    v->pairs = malloc(32 * (v->total ? v->total : 1));
    if (v->pairs == NULL) {
        free(owners);
        return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    }
    for (i = 0; i < v->total; i++) { /* per-child errors: stderr only */
        int js = t->opt.json;
        t->opt.json = 0;
        verify_one(t, o->store, c, owners + 16 * i, o->policy ? under : NULL,
                   v);
        t->opt.json = js;
    }
    verify_stray(o->store, v);
    free(owners);
    return TOOL_EXIT_OK;
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
    rc = tool_load_login(t, 0);
    if (rc == TOOL_EXIT_OK)
        rc = verify_run(t, &o, c, &v);
    bad = v.failed || v.not_under || v.stray;
    if (rc == TOOL_EXIT_OK && t->opt.json)
        printf("{\"ok\":%s,\"total\":%zu,\"unwrapped\":%zu,\"failed\":%zu,"
               "\"pending\":%zu,\"not_under\":%zu,\"stray\":%zu}\n",
               bad ? "false" : "true", v.total, v.ok, v.failed, v.pending,
               v.not_under, v.stray);
    else if (rc == TOOL_EXIT_OK)
        printf("store %s: %zu children, %zu unwrap, %zu fail; %zu pending a "
               "re-wrap; %zu not under %s; %zu stray files\n", o.store,
               v.total, v.ok, v.failed, v.pending, v.not_under,
               o.policy ? o.policy : "-", v.stray);
    if (rc == TOOL_EXIT_OK && bad) {
        fprintf(stderr, "dep11-tool: store verify: the store does not "
                "verify\n");
        rc = TOOL_EXIT_FAIL;
    }
    free(v.pairs);
    tool_cache_free(t, c);
    free(c);
    return rc;
}

const struct tool_cmd tool_cmd_store_verify = {
    "store", "verify", store_verify,
    "check that every child of a store unwraps",
    "Usage: dep11-tool store verify --store DIR [--policy NAME]\n"
    "         [--requester user|system|recovery]\n"
    "         --pin-source file:PATH|env:VAR\n\n"
    "Unwraps every child blob under the policy its entry names\n"
    "(CKM_DEP11_CHILD_UNWRAP with the owner id), and looks for blob files no\n"
    "entry points to (a stale copy, a temporary file). With --policy, every\n"
    "child must be wrapped under that policy. Exit 1 if any child fails, is\n"
    "not under --policy, or a stray file exists. Reads only.",
};
