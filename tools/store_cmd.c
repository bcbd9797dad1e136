/*
 * store_cmd.c - the store side of the mailbox commands: "mailbox assign
 * --store" (new key, or a changed assignment re-wrapped lazily),
 * "mailbox show" (re-wraps on access when the assignment changed), the
 * child lookup of data seal/open --store, and "store inventory".
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reg.h"
#include "tool.h"

/* A new mailbox key for @owner under @to: KEY_GEN, CHILD_WRAP, blob, entry. */
static int assign_new(struct tool *t, const char *dir,
                      const struct tool_cached *to, const unsigned char *owner)
{
    CK_MECHANISM mech = { CKM_DEP11_KEY_GEN, NULL, 0 };
    CK_ULONG role = DEP11_ROLE_MAILBOX;
    CK_ATTRIBUTE tmpl[] = { { CKA_DEP11_ROLE, &role, sizeof role } };
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    struct tool_entry e;
    unsigned char *blob = NULL;
    CK_ULONG len = 0;
    CK_RV rv = t->p11->C_GenerateKey(t->session, &mech, tmpl, 1, &key);
    int rc = TOOL_EXIT_FAIL;

    if (rv != CKR_OK)
        return tool_fail_rv(t, "C_GenerateKey (mailbox key)", rv);
    rc = tool_child_wrap(t, to->h, owner, key, "child", &blob, &len);
    if (rc == TOOL_EXIT_OK &&
        tool_store_write_blob(t, dir, to->id, owner, blob, len) != 0)
        rc = TOOL_EXIT_FAIL;
    memset(&e, 0, sizeof e);
    memcpy(e.owner, owner, 16);
    strcpy(e.kind, "mailbox");
    memcpy(e.assigned, to->id, 16);
    memcpy(e.wrapped, to->id, 16);
    e.version = to->version;
    if (rc == TOOL_EXIT_OK && tool_store_put(t, dir, &e) != 0)
        rc = TOOL_EXIT_FAIL;
    (void)t->p11->C_DestroyObject(t->session, key);
    free(blob);
    return rc;
}

enum { AS_CREATED, AS_REASSIGNED, AS_UNCHANGED, AS_N };
static const char *const as_words[] = { "created", "reassigned", "unchanged" };

/* Assigns one owner; *@what gets AS_*. */
static int assign_one(struct tool *t, const char *dir,
                      const struct tool_cached *to, const char *owner_s,
                      int *what)
{
    unsigned char owner[16];
    struct tool_entry e;
    int got = 0;

    if (tool_owner_id(owner_s, owner) != 0)
        return tool_error(t, TOOL_EXIT_USAGE, "empty owner");
    got = tool_store_get(t, dir, owner, &e);
    if (got < 0)
        return TOOL_EXIT_FAIL;
    if (got == 1) {
        *what = AS_CREATED;
        return assign_new(t, dir, to, owner);
    }
    if (memcmp(e.assigned, to->id, 16) == 0) {
        *what = AS_UNCHANGED;
        return TOOL_EXIT_OK;
    }
    *what = AS_REASSIGNED; /* the blob moves on access or by store rewrap */
    memcpy(e.assigned, to->id, 16);
    return tool_store_put(t, dir, &e) == 0 ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
}

/* Assigns every owner listed in @path (one a line; blank lines skipped). */
static int assign_file(struct tool *t, const char *dir,
                       const struct tool_cached *to, const char *path,
                       size_t counts[AS_N])
{
    FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char line[1024];
    int rc = TOOL_EXIT_OK, what = 0;

    if (fp == NULL)
        return tool_error(t, TOOL_EXIT_USAGE, "cannot read %s", path);
    while (rc == TOOL_EXIT_OK && fgets(line, sizeof line, fp) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0')
            continue;
        rc = assign_one(t, dir, to, line, &what);
        if (rc == TOOL_EXIT_OK)
            counts[what]++;
    }
    if (fp != stdin)
        fclose(fp);
    return rc;
}

/* Finds, checks and unwraps the target policy @name into the cache. */
static int target_policy(struct tool *t, struct tool_keycache *c,
                         const char *name, struct tool_cached **to)
{
    struct tool_rec r;
    int rc = tool_reg_find(t, name, NULL, &r);

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
 * mailbox assign --store DIR: assigns @owner (or every owner of
 * @owners_file) to the registered policy @policy. A new owner gets a fresh
 * mailbox key wrapped under the policy; an owner already in the store only
 * has its assignment changed: its blob is re-wrapped on access (mailbox
 * show) or by store rewrap. Returns a TOOL_EXIT_ code.
 */
int tool_store_assign(struct tool *t, const char *dir, const char *policy,
                      const char *owner, const char *owners_file,
                      CK_ULONG requester)
{
    struct tool_keycache *c = calloc(1, sizeof *c);
    struct tool_cached *to = NULL;
    size_t counts[AS_N] = { 0, 0, 0 };
    int rc = c ? tool_load_login(t, 0) : TOOL_EXIT_FAIL;
    int lock = -1, what = 0;

    if (c == NULL)
        return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    c->requester = requester;
    if (rc == TOOL_EXIT_OK && tool_store_lock(t, dir, &lock) != 0)
        rc = TOOL_EXIT_FAIL;
    if (rc == TOOL_EXIT_OK)
        rc = target_policy(t, c, policy, &to);
    if (rc == TOOL_EXIT_OK && owner != NULL) {
        rc = assign_one(t, dir, to, owner, &what);
        counts[what] += rc == TOOL_EXIT_OK;
    }
    if (rc == TOOL_EXIT_OK && owners_file != NULL)
        rc = assign_file(t, dir, to, owners_file, counts);
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
    tool_cache_free(t, c);
    free(c);
    if (lock >= 0)
        close(lock);
    return rc;
}

/*
 * The child of @owner in store @dir for data seal/open: unwraps the policy
 * its blob is wrapped under (*@pol) and reads the blob (*@blob, malloc'd).
 * Returns a TOOL_EXIT_ code (printed).
 */
int tool_store_child(struct tool *t, const char *dir,
                     const unsigned char *owner, CK_ULONG requester,
                     CK_OBJECT_HANDLE *pol, unsigned char **blob, size_t *len)
{
    struct tool_entry e;
    struct tool_rec r;
    char hex[33];
    int got = tool_store_get(t, dir, owner, &e), rc = TOOL_EXIT_FAIL;

    *pol = CK_INVALID_HANDLE;
    *blob = NULL;
    tool_hex(owner, 16, hex);
    if (got < 0)
        return TOOL_EXIT_FAIL;
    if (got == 1)
        return tool_error(t, TOOL_EXIT_FAIL, "no mailbox %s in the store %s",
                          hex, dir);
    rc = tool_reg_find(t, NULL, e.wrapped, &r);
    if (rc == TOOL_EXIT_OK)
        rc = tool_unwrap_blob(t, r.blob, r.blob_len, requester, pol);
    tool_rec_free(&r);
    if (rc == TOOL_EXIT_OK && tool_store_read_blob(t, dir, &e, blob, len))
        rc = TOOL_EXIT_FAIL;
    return rc;
}
