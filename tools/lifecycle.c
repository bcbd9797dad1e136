/*
 * lifecycle.c - the re-wrap commands of a registered policy (DESIGN
 * section 6): "policy refresh" (re-wrap under new customer roots),
 * "policy roll-availability" and "policy offboard" (re-wrap
 * provider-managed). The two-step purge is in purge.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reg.h"
#include "tool.h"

struct lc_opts {
    const char *root1, *root2, *out;
    CK_ULONG requester;
    int force;
};

enum { OPT_ROOT1 = 1000, OPT_ROOT2, OPT_OUT, OPT_FORCE, OPT_REQUESTER };

static int lc_opt(struct tool *t, int c, const char *arg, void *ctx)
{
    struct lc_opts *o = ctx;

    switch (c) {
    case OPT_ROOT1: o->root1 = arg; return 0;
    case OPT_ROOT2: o->root2 = arg; return 0;
    case OPT_OUT: o->out = arg; return 0;
    case OPT_FORCE: o->force = 1; return 0;
    case OPT_REQUESTER: return tool_requester_opt(t, arg, &o->requester);
    default: return TOOL_EXIT_USAGE;
    }
}

static const struct option lc_longopts[] = {
    {"root1", 1, NULL, OPT_ROOT1}, {"root2", 1, NULL, OPT_ROOT2},
    {"out", 1, NULL, OPT_OUT}, {"force", 0, NULL, OPT_FORCE},
    {"requester", 1, NULL, OPT_REQUESTER}, TOOL_COMMON_LONGOPTS,
    {NULL, 0, NULL, 0},
};

/* Parses the options and the one NAME operand; loads the module, opens a
 * read-write logged-in session and finds the record. Returns 0 to go on,
 * -1 after --help, or an exit code. */
static int lc_begin(struct tool *t, const struct tool_cmd *cmd, int argc,
                    char **argv, struct lc_opts *o, struct tool_rec *r)
{
    int rc = 0, first = 0;

    memset(o, 0, sizeof *o);
    memset(r, 0, sizeof *r);
    o->requester = DEP11_REQUESTER_USER;
    rc = tool_parse(t, cmd, argc, argv, lc_longopts, lc_opt, o, &first);
    if (rc != 0)
        return rc;
    if (first != argc - 1)
        return tool_error(t, TOOL_EXIT_USAGE, "give one policy NAME");
    if ((o->root1 == NULL) != (o->root2 == NULL))
        return tool_error(t, TOOL_EXIT_USAGE, "give both --root1 and --root2");
    if (o->root1 && (!strcmp(o->root1, o->root2) || strlen(o->root1) > 128 ||
                     strlen(o->root2) > 128))
        return tool_error(t, TOOL_EXIT_USAGE, "--root1 and --root2: two "
                          "different labels of at most 128 bytes");
    if (o->out != NULL && tool_check_out(t, o->out, o->force) != 0)
        return TOOL_EXIT_USAGE;
    rc = tool_load_login(t, 1);
    if (rc == TOOL_EXIT_OK)
        rc = tool_reg_find(t, argv[first], NULL, r);
    return rc;
}

/* Refuses lifecycle changes of a policy being purged or purged. */
static int lc_live(struct tool *t, const struct tool_rec *r)
{
    if (r->state == TOOL_STATE_PURGED || r->state == TOOL_STATE_PURGE_REQUESTED)
        return tool_error(t, TOOL_EXIT_FAIL, "policy \"%s\" is %s; enable it "
                          "first to withdraw a purge request", r->name,
                          tool_state_name(r->state));
    return TOOL_EXIT_OK;
}

/* Version of blob @blob through DEP11_GetPolicyInfo (0 if unreadable). */
static unsigned long blob_version(struct tool *t, unsigned char *blob,
                                  size_t len)
{
    CK_DEP11_POLICY_INFO in;

    memset(&in, 0, sizeof in);
    if (t->dep11 == NULL || t->dep11->DEP11_GetPolicyInfo == NULL ||
        t->dep11->DEP11_GetPolicyInfo(blob, len, &in) != CKR_OK)
        return 0;
    return in.ulVersion;
}

/*
 * Commits the stored blob of @r (DESIGN section 5): one unwrap of it makes
 * its version the policy's committed one, so older blobs are superseded and
 * the availability keys they alone name are destroyed. Until then old and
 * new blobs both work: a run killed before this point leaves the policy
 * readable, and the next unwrap of the stored blob commits it.
 * DEP11_TOOL_TEST_STOP_BEFORE_COMMIT=1 exits here (status 70), for the
 * crash-safety test. Returns a TOOL_EXIT_ code.
 */
static int commit_blob(struct tool *t, const struct tool_rec *r, CK_ULONG requester)
{
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    const char *stop = getenv("DEP11_TOOL_TEST_STOP_BEFORE_COMMIT");
    int rc = TOOL_EXIT_FAIL;

    if (stop != NULL && strcmp(stop, "1") == 0) {
        fprintf(stderr, "dep11-tool: stopping before the commit "
                "(DEP11_TOOL_TEST_STOP_BEFORE_COMMIT)\n");
        _exit(70);
    }
    rc = tool_unwrap_blob(t, r->blob, r->blob_len, requester, &key);
    if (rc != TOOL_EXIT_OK)
        fprintf(stderr, "dep11-tool: the new blob of \"%s\" is stored but not "
                "committed; older blobs still work until it is unwrapped once\n", r->name);
    tool_destroy(t, key);
    return rc;
}

/*
 * Unwraps @r's blob and wraps it again: under @root1/@root2 (labels), or
 * provider-managed when @root1 is NULL, with @flags. Updates @r (blob,
 * version, roots), writes o->out if given, updates the registry (the
 * store), commits the new blob and prints the record. Returns a TOOL_EXIT_
 * code.
 */
static int rewrap(struct tool *t, const struct lc_opts *o, struct tool_rec *r,
                  const char *root1, const char *root2, CK_FLAGS flags)
{
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE h1 = CK_INVALID_HANDLE, h2 = CK_INVALID_HANDLE;
    unsigned char *blob = NULL;
    CK_ULONG len = 0;
    int rc = tool_unwrap_blob(t, r->blob, r->blob_len, o->requester, &key);

    if (rc == TOOL_EXIT_OK && root1 != NULL)
        rc = tool_find_root(t, root1, &h1);
    if (rc == TOOL_EXIT_OK && root1 != NULL)
        rc = tool_find_root(t, root2, &h2);
    if (rc == TOOL_EXIT_OK)
        rc = tool_wrap_policy(t, key, h1, h2, flags, &blob, &len);
    if (rc == TOOL_EXIT_OK && o->out != NULL &&
        tool_write_atomic(t, o->out, blob, len, o->force) != 0)
        rc = TOOL_EXIT_FAIL;
    if (rc == TOOL_EXIT_OK) {
        free(r->blob);
        r->blob = blob;
        r->blob_len = len;
        blob = NULL;
        r->version = blob_version(t, r->blob, r->blob_len);
        r->customer = root1 != NULL;
        /* copy first: root1 may point into r itself */
        memmove(r->root1, root1 ? root1 : "", root1 ? strlen(root1) + 1 : 1);
        memmove(r->root2, root2 ? root2 : "", root2 ? strlen(root2) + 1 : 1);
        rc = tool_reg_update(t, r);
    }
    tool_destroy(t, key);
    key = CK_INVALID_HANDLE;
    if (rc == TOOL_EXIT_OK)
        rc = commit_blob(t, r, o->requester);
    if (rc == TOOL_EXIT_OK)
        rc = tool_print_rec(t, r);
    tool_destroy(t, key);
    free(blob);
    return rc;
}

static int policy_refresh(struct tool *t, int argc, char **argv)
{
    struct lc_opts o;
    struct tool_rec r;
    int rc = lc_begin(t, &tool_cmd_policy_refresh, argc, argv, &o, &r);

    if (rc == TOOL_EXIT_OK)
        rc = lc_live(t, &r);
    if (rc == TOOL_EXIT_OK && o.root1 == NULL && r.customer) {
        o.root1 = r.root1; /* the same roots: a re-wrap, version + 1 */
        o.root2 = r.root2;
    }
    if (rc == TOOL_EXIT_OK)
        rc = rewrap(t, &o, &r, o.root1, o.root2, 0);
    tool_rec_free(&r);
    return rc < 0 ? TOOL_EXIT_OK : rc;
}

static int policy_roll(struct tool *t, int argc, char **argv)
{
    struct lc_opts o;
    struct tool_rec r;
    int rc = lc_begin(t, &tool_cmd_policy_roll_availability, argc, argv, &o,
                      &r);

    if (rc == TOOL_EXIT_OK)
        rc = lc_live(t, &r);
    if (rc == TOOL_EXIT_OK && o.root1 == NULL && r.customer) {
        o.root1 = r.root1;
        o.root2 = r.root2;
    }
    if (rc == TOOL_EXIT_OK)
        rc = rewrap(t, &o, &r, o.root1, o.root2,
                    DEP11_WRAP_ROLL_AVAILABILITY);
    tool_rec_free(&r);
    return rc < 0 ? TOOL_EXIT_OK : rc;
}

static int policy_offboard(struct tool *t, int argc, char **argv)
{
    struct lc_opts o;
    struct tool_rec r;
    int rc = lc_begin(t, &tool_cmd_policy_offboard, argc, argv, &o, &r);

    if (rc == TOOL_EXIT_OK && o.root1 != NULL)
        rc = tool_error(t, TOOL_EXIT_USAGE, "offboard takes no roots: the "
                        "policy is re-wrapped under the provider keys");
    if (rc == TOOL_EXIT_OK)
        rc = lc_live(t, &r);
    if (rc == TOOL_EXIT_OK)
        rc = rewrap(t, &o, &r, NULL, NULL, 0);
    tool_rec_free(&r);
    return rc < 0 ? TOOL_EXIT_OK : rc;
}

#define LC_COMMON "         --pin-source file:PATH|env:VAR\n\n"
#define LC_OUT \
    "The policy key is unwrapped (CKM_DEP11_POLICY_UNWRAP, --requester,\n" \
    "default user) and wrapped again (CKM_DEP11_POLICY_WRAP): the new blob\n" \
    "has version + 1, replaces the registry's current blob and is also\n"   \
    "written to --out FILE if given (kept unless --force). Child blobs are\n" \
    "untouched: the policy key does not change. The new blob is stored\n"  \
    "first, then unwrapped once to commit it: from then on older blobs\n"  \
    "are refused (CKR_DEP11_BLOB_SUPERSEDED). "

const struct tool_cmd tool_cmd_policy_refresh = {
    "policy", "refresh", policy_refresh,
    "re-wrap a policy under (new) customer roots: version + 1",
    "Usage: dep11-tool policy refresh NAME [--root1 LABEL --root2 LABEL]\n"
    "         [--requester user|system|recovery] [--out FILE [--force]]\n"
    LC_COMMON
    "Rolls a customer key (Set-DataEncryptionPolicy -Refresh): wraps the\n"
    "policy under the roots given, by default the ones the registry records\n"
    "(a provider-managed policy without roots stays provider-managed). "
    LC_OUT "A purged or purge-requested policy is refused.",
};

const struct tool_cmd tool_cmd_policy_roll_availability = {
    "policy", "roll-availability", policy_roll,
    "re-wrap a policy under a fresh availability key",
    "Usage: dep11-tool policy roll-availability NAME\n"
    "         [--root1 LABEL --root2 LABEL] [--requester ...]\n"
    "         [--out FILE [--force]]\n" LC_COMMON
    "As refresh, with DEP11_WRAP_ROLL_AVAILABILITY: dep11 creates a new\n"
    "availability key for the policy and destroys the old one once the new\n"
    "blob is committed. " LC_OUT,
};

const struct tool_cmd tool_cmd_policy_offboard = {
    "policy", "offboard", policy_offboard,
    "re-wrap a policy under the provider keys (leave Customer Key)",
    "Usage: dep11-tool policy offboard NAME [--requester ...]\n"
    "         [--out FILE [--force]]\n" LC_COMMON
    "Off-boarding without purge: the policy is re-wrapped provider-managed\n"
    "(C_WrapKey with no parameter), so the data stays encrypted, now under\n"
    "dep11's provider keys; the registry records managed by provider. "
    LC_OUT,
};
