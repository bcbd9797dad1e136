/*
 * store_cmd.c - the store side of the mailbox commands: "mailbox assign
 * --store" (new key, or a changed assignment re-wrapped lazily; bulk
 * assigns in batches of one transaction each) and the child lookup of data
 * seal/open --store (which re-wraps on access).
 */
#include <stdlib.h>
#include <string.h>

#include "tool.h"

/* The provider-managed mailbox policy of owners assigned none. */
#define TOOL_DEFAULT_POLICY "dep11-default-mailbox"

/* A new mailbox key for @owner under @to: KEY_GEN, CHILD_WRAP, the row. */
static int assign_new(struct tool *t, struct store_db *db,
                      const struct tool_cached *to, const unsigned char *owner)
{
    CK_MECHANISM mech = { CKM_DEP11_KEY_GEN, NULL, 0 };
    CK_ULONG role = DEP11_ROLE_MAILBOX;
    CK_ATTRIBUTE tmpl[] = { { CKA_DEP11_ROLE, &role, sizeof role } };
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    struct store_row r;
    CK_ULONG len = 0;
    CK_RV rv = t->p11->C_GenerateKey(t->session, &mech, tmpl, 1, &key);
    int rc = TOOL_EXIT_FAIL;

    if (rv != CKR_OK)
        return tool_fail_rv(t, "C_GenerateKey (mailbox key)", rv);
    memset(&r, 0, sizeof r);
    rc = tool_child_wrap(t, to->h, owner, key, "child", &r.blob, &len);
    tool_destroy(t, key);
    memcpy(r.owner, owner, 16);
    strcpy(r.kind, "mailbox");
    memcpy(r.assigned, to->id, 16);
    memcpy(r.wrapped, to->id, 16);
    r.version = to->version;
    r.blob_len = len;
    if (rc == TOOL_EXIT_OK)
        rc = db->ops->put(t, db, &r);
    store_row_clear(&r);
    return rc;
}

enum { AS_CREATED, AS_REASSIGNED, AS_UNCHANGED, AS_N };
static const char *const as_words[] = { "created", "reassigned", "unchanged" };

/* Assigns one owner; *@what gets AS_*. */
static int assign_one(struct tool *t, struct store_db *db,
                      const struct tool_cached *to, const char *owner_s,
                      int *what)
{
    unsigned char owner[16];
    struct store_row r;
    int found = 0, rc = TOOL_EXIT_OK;

    if (tool_owner_id(owner_s, owner) != 0)
        return tool_error(t, TOOL_EXIT_USAGE, "empty owner");
    rc = db->ops->get(t, db, owner, 0, &r, &found);
    if (rc != TOOL_EXIT_OK)
        return rc;
    if (!found) {
        *what = AS_CREATED;
        return assign_new(t, db, to, owner);
    }
    if (memcmp(r.assigned, to->id, 16) == 0) {
        *what = AS_UNCHANGED;
        return TOOL_EXIT_OK;
    }
    *what = AS_REASSIGNED; /* the blob moves on access or by store rewrap */
    return db->ops->set_assigned(t, db, owner, to->id, &found);
}

/* Ends the open batch: commit when @rc is OK, else roll back. */
static int batch_end(struct tool *t, struct store_db *db, int rc)
{
    if (rc == TOOL_EXIT_OK)
        return db->ops->commit(t, db);
    (void)db->ops->rollback(t, db);
    return rc;
}

/* Assigns every owner listed in @path (one a line; blank lines skipped),
 * @batch owners per transaction: a batch commits whole or not at all, and
 * a re-run finds the committed ones "unchanged". */
static int assign_file(struct tool *t, struct store_db *db,
                       const struct tool_cached *to, const char *path,
                       size_t batch, size_t counts[AS_N])
{
    FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char line[1024];
    int rc = TOOL_EXIT_OK, what = 0, open = 0;
    size_t in_batch = 0, c[AS_N] = { 0, 0, 0 }, i = 0;

    if (fp == NULL)
        return tool_error(t, TOOL_EXIT_USAGE, "cannot read %s", path);
    while (rc == TOOL_EXIT_OK && fgets(line, sizeof line, fp) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0')
            continue;
        if (!open && (rc = db->ops->begin(t, db)) == TOOL_EXIT_OK)
            open = 1;
        if (rc == TOOL_EXIT_OK)
            rc = assign_one(t, db, to, line, &what);
        if (rc == TOOL_EXIT_OK)
            c[what]++;
        if (rc == TOOL_EXIT_OK && ++in_batch == batch) {
            open = 0;
            in_batch = 0;
            rc = batch_end(t, db, rc);
            for (i = 0; rc == TOOL_EXIT_OK && i < AS_N; i++)
                counts[i] += c[i], c[i] = 0;
        }
    }
    if (open)
        rc = batch_end(t, db, rc);
    for (i = 0; rc == TOOL_EXIT_OK && i < AS_N; i++)
        counts[i] += c[i];
    if (fp != stdin)
        fclose(fp);
    return rc;
}

/* The one tenant the registry's records name (else a usage error). */
static int one_tenant(struct tool *t, const struct tool_rec *all, size_t n,
                      unsigned char *tenant)
{
    size_t i = 0;

    for (i = 0; i < n; i++)
        if (i > 0 && memcmp(all[i].tenant, tenant, 16) != 0)
            return tool_error(t, TOOL_EXIT_USAGE, "the registry names more "
                              "than one tenant: give --policy");
        else
            memcpy(tenant, all[i].tenant, 16);
    if (n == 0)
        return tool_error(t, TOOL_EXIT_USAGE, "the registry names no tenant "
                          "yet: give --policy");
    return TOOL_EXIT_OK;
}

/*
 * The seeds' defaults for an owner assigned no mailbox policy: the
 * tenant's assigned multi-workload policy, else the provider-managed
 * mailbox policy TOOL_DEFAULT_POLICY, registered here on first use ("By
 * default your mailboxes get encrypted using Microsoft-managed keys").
 * *@name gets its name (malloc'd). Returns a TOOL_EXIT_ code.
 */
static int default_policy(struct tool *t, char **name)
{
    struct tool_rec *all = NULL;
    unsigned char tenant[16];
    size_t n = 0, i = 0;
    int rc = tool_reg_load(t, &all, &n);

    *name = NULL;
    for (i = 0; rc == TOOL_EXIT_OK && i < n && *name == NULL; i++)
        if (all[i].type == DEP11_POLICY_MULTI_WORKLOAD && all[i].assigned &&
            all[i].state == TOOL_STATE_ACTIVE)
            *name = strdup(all[i].name);
    for (i = 0; rc == TOOL_EXIT_OK && i < n && *name == NULL; i++)
        if (strcmp(all[i].name, TOOL_DEFAULT_POLICY) == 0)
            *name = strdup(all[i].name);
    if (rc == TOOL_EXIT_OK && *name == NULL)
        rc = one_tenant(t, all, n, tenant);
    if (rc == TOOL_EXIT_OK && *name == NULL)
        rc = tool_policy_create_provider(t, DEP11_POLICY_MAILBOX, tenant,
                                         TOOL_DEFAULT_POLICY);
    if (rc == TOOL_EXIT_OK && *name == NULL &&
        (*name = strdup(TOOL_DEFAULT_POLICY)) == NULL)
        rc = tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    tool_rec_free_all(all, n);
    return rc;
}

/* Finds, checks and unwraps the target policy @name (NULL: the default)
 * into the cache. */
static int target_policy(struct tool *t, struct tool_keycache *c,
                         const char *name, struct tool_cached **to)
{
    struct tool_rec r;
    char *dflt = NULL;
    int rc = name ? TOOL_EXIT_OK : default_policy(t, &dflt);

    memset(&r, 0, sizeof r);
    if (rc == TOOL_EXIT_OK)
        rc = tool_reg_find(t, name ? name : dflt, NULL, &r);
    free(dflt);

    if (rc == TOOL_EXIT_OK && r.state != TOOL_STATE_ACTIVE)
        rc = tool_error(t, TOOL_EXIT_FAIL, "policy \"%s\" is %s: it takes "
                        "no new owners", r.name, tool_state_name(r.state));
    if (rc == TOOL_EXIT_OK && r.type == DEP11_POLICY_FILES)
        rc = tool_error(t, TOOL_EXIT_FAIL, "a files policy holds site keys, "
                        "not mailbox keys: use a mailbox or multi-workload "
                        "policy");
    if (rc == TOOL_EXIT_OK)
        rc = tool_cache_get(t, c, r.id, to);
    tool_rec_free(&r);
    return rc;
}

/*
 * mailbox assign --store STORE: assigns @owner (or every owner of
 * @owners_file) to the registered policy @policy (NULL: the default, see
 * tool_default_policy). A new owner gets a fresh mailbox key wrapped under
 * the policy; an owner already in the store only has its assignment
 * changed: its blob is re-wrapped on access or by store rewrap. Returns a
 * TOOL_EXIT_ code.
 */
int tool_store_assign(struct tool *t, const char *store, const char *policy,
                      const char *owner, const char *owners_file,
                      size_t batch, CK_ULONG requester)
{
    struct tool_keycache *c = calloc(1, sizeof *c);
    struct tool_cached *to = NULL;
    struct store_db *db = NULL;
    size_t counts[AS_N] = { 0, 0, 0 };
    int rc = c ? tool_load_login(t, policy == NULL) : TOOL_EXIT_FAIL;
    int what = 0;

    if (c == NULL)
        return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    c->requester = requester;
    if (rc == TOOL_EXIT_OK)
        rc = target_policy(t, c, policy, &to);
    if (rc == TOOL_EXIT_OK)
        rc = store_open(t, store, STORE_OPEN_CREATE | STORE_OPEN_MIGRATE,
                        &db);
    if (rc == TOOL_EXIT_OK && owner != NULL) {
        rc = assign_one(t, db, to, owner, &what);
        counts[what] += rc == TOOL_EXIT_OK;
    }
    if (rc == TOOL_EXIT_OK && owners_file != NULL)
        rc = assign_file(t, db, to, owners_file, batch, counts);
    if (rc == TOOL_EXIT_OK && t->opt.json)
        printf("{\"ok\":true,\"policy\":\"%s\",\"created\":%zu,"
               "\"reassigned\":%zu,\"unchanged\":%zu}\n", to->name,
               counts[AS_CREATED], counts[AS_REASSIGNED],
               counts[AS_UNCHANGED]);
    else if (rc == TOOL_EXIT_OK && owners_file == NULL)
        printf("mailbox %s: %s under policy \"%s\"%s\n", owner,
               as_words[what], to->name, what == AS_REASSIGNED ?
               " (its key is re-wrapped on next access, or by store rewrap)"
               : "");
    else if (rc == TOOL_EXIT_OK)
        printf("policy \"%s\": %zu mailboxes created, %zu reassigned, %zu "
               "unchanged\n", to->name, counts[AS_CREATED],
               counts[AS_REASSIGNED], counts[AS_UNCHANGED]);
    store_close(db);
    tool_cache_free(t, c);
    free(c);
    return rc;
}

/*
 * The child of @owner in @store for data seal/open: re-wraps it first when
 * its assignment changed (the seeds' access rule; not on a read-only old
 * directory store), unwraps the policy its blob is wrapped under (*@pol)
 * and reads the blob (*@blob, malloc'd). Returns a TOOL_EXIT_ code.
 */
int tool_store_child(struct tool *t, const char *store,
                     const unsigned char *owner, CK_ULONG requester,
                     CK_OBJECT_HANDLE *pol, unsigned char **blob, size_t *len)
{
    struct tool_keycache *c = calloc(1, sizeof *c);
    struct store_db *db = NULL;
    struct store_row r;
    struct tool_cached *under = NULL;
    char hex[33];
    int ro = store_backend(store) == &store_dir_ops, found = 0;
    int rc = c ? store_open(t, store, ro ? STORE_OPEN_RDONLY :
                            STORE_OPEN_MIGRATE, &db) : TOOL_EXIT_FAIL;

    *pol = CK_INVALID_HANDLE;
    *blob = NULL;
    memset(&r, 0, sizeof r);
    tool_hex(owner, 16, hex);
    if (c != NULL)
        c->requester = requester;
    if (rc == TOOL_EXIT_OK)
        rc = db->ops->get(t, db, owner, 1, &r, &found);
    if (rc == TOOL_EXIT_OK && !found)
        rc = tool_error(t, TOOL_EXIT_FAIL, "no mailbox %s in the store %s",
                        hex, store);
    if (rc == TOOL_EXIT_OK && !ro)
        rc = tool_store_touch(t, db, c, &r, NULL, 0);
    if (rc == TOOL_EXIT_OK)
        rc = tool_cache_get(t, c, r.wrapped, &under);
    if (rc == TOOL_EXIT_OK) {
        *pol = under->h; /* the caller destroys it */
        under->h = CK_INVALID_HANDLE;
        *blob = r.blob;
        *len = r.blob_len;
        r.blob = NULL;
    }
    store_row_clear(&r);
    store_close(db);
    if (c != NULL)
        tool_cache_free(t, c);
    free(c);
    return rc;
}
