/*
 * purge.c - "policy purge", two steps (DESIGN section 6): --request records
 * the reason and a contact (state purge-requested); --confirm calls
 * DEP11_PurgePolicy (size query first), writes the signed receipt and marks
 * the policy purged. --dry-run says what would happen and changes nothing.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reg.h"
#include "tool.h"

struct purge_opts {
    const char *reason, *contact, *receipt;
    int request, confirm, dry_run, force;
};

enum {
    OPT_REQUEST = 1000, OPT_CONFIRM, OPT_DRY_RUN, OPT_REASON, OPT_CONTACT,
    OPT_RECEIPT, OPT_FORCE,
};

static int purge_opt(struct tool *t, int c, const char *arg, void *ctx)
{
    struct purge_opts *o = ctx;

    (void)t;
    switch (c) {
    case OPT_REQUEST: o->request = 1; return 0;
    case OPT_CONFIRM: o->confirm = 1; return 0;
    case OPT_DRY_RUN: o->dry_run = 1; return 0;
    case OPT_REASON: o->reason = arg; return 0;
    case OPT_CONTACT: o->contact = arg; return 0;
    case OPT_RECEIPT: o->receipt = arg; return 0;
    case OPT_FORCE: o->force = 1; return 0;
    default: return TOOL_EXIT_USAGE;
    }
}

/* Checks the option combination. */
static int purge_check(struct tool *t, const struct purge_opts *o)
{
    if (o->request == o->confirm)
        return tool_error(t, TOOL_EXIT_USAGE, "give --request or --confirm");
    if (o->request && (o->reason == NULL || o->contact == NULL))
        return tool_error(t, TOOL_EXIT_USAGE,
                          "--request needs --reason TEXT and --contact EMAIL");
    if (o->request && (!*o->reason || strlen(o->reason) > 256 ||
                       strchr(o->reason, '\n')))
        return tool_error(t, TOOL_EXIT_USAGE,
                          "--reason: 1 to 256 bytes, one line");
    if (o->request && (strlen(o->contact) > 128 || !strchr(o->contact, '@') ||
                       strchr(o->contact, '\n')))
        return tool_error(t, TOOL_EXIT_USAGE,
                          "--contact takes an e-mail address");
    if (o->confirm && o->receipt == NULL)
        return tool_error(t, TOOL_EXIT_USAGE, "--confirm needs --receipt FILE");
    if (o->confirm && !o->dry_run &&
        tool_check_out(t, o->receipt, o->force) != 0)
        return TOOL_EXIT_USAGE;
    return TOOL_EXIT_OK;
}

/* Step 1: records the request. */
static int purge_request(struct tool *t, const struct purge_opts *o,
                         struct tool_rec *r)
{
    if (r->state == TOOL_STATE_PURGED)
        return tool_error(t, TOOL_EXIT_FAIL, "policy \"%s\" is already "
                          "purged", r->name);
    if (r->assigned)
        return tool_error(t, TOOL_EXIT_FAIL, "\"%s\" is the tenant's assigned "
                          "policy: policy unassign-tenant it first", r->name);
    if (o->dry_run) {
        printf("dry run: would record a purge request for policy \"%s\" "
               "(state %s -> purge-requested), reason \"%s\", contact %s; "
               "nothing changed\n", r->name, tool_state_name(r->state),
               o->reason, o->contact);
        return TOOL_EXIT_OK;
    }
    r->state = TOOL_STATE_PURGE_REQUESTED;
    r->requested = (long long)time(NULL);
    strcpy(r->reason, o->reason);
    strcpy(r->contact, o->contact);
    if (tool_reg_update(t, r) != TOOL_EXIT_OK)
        return TOOL_EXIT_FAIL;
    if (!t->opt.json)
        printf("purge requested for policy \"%s\"; confirm with: dep11-tool "
               "policy purge \"%s\" --confirm --receipt FILE\n", r->name,
               r->name);
    return tool_print_rec(t, r);
}

/* --confirm --dry-run: is a customer key still unwrapping the policy? */
static int purge_dry_confirm(struct tool *t, const struct purge_opts *o,
                             struct tool_rec *r)
{
    CK_DEP11_POLICY_UNWRAP_PARAMS p = { DEP11_REQUESTER_USER };
    CK_MECHANISM mech = { CKM_DEP11_POLICY_UNWRAP, &p, sizeof p };
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = { { CKA_TOKEN, &no, sizeof no } };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG max = 0;
    CK_RV rv = t->p11->C_UnwrapKey(t->session, &mech, CK_INVALID_HANDLE,
                                   r->blob, r->blob_len, tmpl, 1, &h);
    CK_RV q = t->dep11->DEP11_PurgePolicy(t->session, r->blob, r->blob_len,
                                          NULL, &max);

    tool_destroy(t, h);
    printf("dry run: policy \"%s\" (%s)\n", r->name, tool_state_name(r->state));
    if (q == CKR_FUNCTION_NOT_SUPPORTED)
        printf("  the module does not support purge yet "
               "(DEP11_PurgePolicy: CKR_FUNCTION_NOT_SUPPORTED)\n");
    if (rv == CKR_OK && r->customer)
        printf("  a customer key still unwraps the policy: the purge would "
               "be refused (CKR_FUNCTION_REJECTED); revoke both keys first\n");
    else
        printf("  would write a purge tombstone for the policy id, destroy "
               "its availability keys, and write the signed receipt "
               "(at most %lu bytes) to %s\n", (unsigned long)max, o->receipt);
    printf("  nothing changed\n");
    return TOOL_EXIT_OK;
}

/* DEP11_PurgePolicy with the size query first; *@out malloc'd. */
static int call_purge(struct tool *t, struct tool_rec *r, unsigned char **out,
                      CK_ULONG *len)
{
    CK_RV rv = t->dep11->DEP11_PurgePolicy(t->session, r->blob, r->blob_len,
                                           NULL, len);

    *out = NULL;
    if (rv == CKR_OK) {
        *out = malloc(*len ? *len : 1);
        if (*out == NULL)
            return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
        rv = t->dep11->DEP11_PurgePolicy(t->session, r->blob, r->blob_len,
                                         *out, len);
    }
    if (rv != CKR_OK) {
        free(*out);
        *out = NULL;
        return tool_fail_rv(t, "DEP11_PurgePolicy", rv);
    }
    return TOOL_EXIT_OK;
}

/* Step 2: the purge itself. */
static int purge_confirm(struct tool *t, const struct purge_opts *o,
                         struct tool_rec *r)
{
    unsigned char *receipt = NULL;
    CK_ULONG len = 0;
    int rc = TOOL_EXIT_FAIL;

    if (r->state != TOOL_STATE_PURGE_REQUESTED &&
        r->state != TOOL_STATE_PURGED)
        return tool_error(t, TOOL_EXIT_FAIL, "policy \"%s\" is %s: request "
                          "the purge first (--request --reason --contact)",
                          r->name, tool_state_name(r->state));
    if (t->dep11 == NULL || t->dep11->DEP11_PurgePolicy == NULL)
        return tool_error(t, TOOL_EXIT_MODULE,
                          "the module is not dep11 (neither its "
                          "vendor interface nor its mechanisms)");
    if (o->dry_run)
        return purge_dry_confirm(t, o, r);
    rc = call_purge(t, r, &receipt, &len);
    if (rc != TOOL_EXIT_OK)
        return rc;
    free(r->receipt);
    r->receipt = receipt;
    r->receipt_len = len;
    if (r->state != TOOL_STATE_PURGED)
        r->purged_at = (long long)time(NULL);
    r->state = TOOL_STATE_PURGED;
    rc = tool_reg_update(t, r); /* the receipt is kept in the registry too */
    if (tool_write_atomic(t, o->receipt, receipt, len, o->force) != 0)
        return TOOL_EXIT_FAIL;
    if (rc == TOOL_EXIT_OK && !t->opt.json)
        printf("policy \"%s\" purged; receipt (%lu bytes) written to %s\n",
               r->name, (unsigned long)len, o->receipt);
    return rc == TOOL_EXIT_OK ? tool_print_rec(t, r) : rc;
}

static int policy_purge(struct tool *t, int argc, char **argv)
{
    static const struct option lo[] = {
        {"request", 0, NULL, OPT_REQUEST}, {"confirm", 0, NULL, OPT_CONFIRM},
        {"dry-run", 0, NULL, OPT_DRY_RUN}, {"reason", 1, NULL, OPT_REASON},
        {"contact", 1, NULL, OPT_CONTACT}, {"receipt", 1, NULL, OPT_RECEIPT},
        {"force", 0, NULL, OPT_FORCE}, TOOL_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct purge_opts o;
    struct tool_rec r;
    int rc = 0, first = 0;

    memset(&o, 0, sizeof o);
    memset(&r, 0, sizeof r);
    rc = tool_parse(t, &tool_cmd_policy_purge, argc, argv, lo, purge_opt, &o,
                    &first);
    if (rc != 0)
        return rc < 0 ? TOOL_EXIT_OK : rc;
    if (first != argc - 1)
        return tool_error(t, TOOL_EXIT_USAGE, "give one policy NAME");
    rc = purge_check(t, &o);
    if (rc == TOOL_EXIT_OK)
        rc = tool_load_login(t, 1);
    if (rc == TOOL_EXIT_OK)
        rc = tool_reg_find(t, argv[first], NULL, &r);
    if (rc == TOOL_EXIT_OK)
        rc = o.request ? purge_request(t, &o, &r) : purge_confirm(t, &o, &r);
    tool_rec_free(&r);
    return rc;
}

const struct tool_cmd tool_cmd_policy_purge = {
    "policy",
    "purge",
    policy_purge,
    "purge a policy: request, then confirm (data deletion)",
    "Usage: dep11-tool policy purge NAME --request --reason TEXT\n"
    "         --contact EMAIL [--dry-run]\n"
    "       dep11-tool policy purge NAME --confirm --receipt FILE [--force]\n"
    "         [--dry-run]\n"
    "         --pin-source file:PATH|env:VAR\n\n"
    "The data purge path, in two steps. --request records the reason and a\n"
    "contact address in the registry (state purge-requested; policy enable\n"
    "withdraws it). --confirm calls DEP11_PurgePolicy (size query first; through\n"
    "p11-kit's proxy its standard call, CKM_DEP11_POLICY_PURGE with C_Sign): the\n"
    "module refuses (CKR_FUNCTION_REJECTED) while a customer key still\n"
    "unwraps the policy; otherwise it writes a tombstone for the policy id,\n"
    "destroys its availability keys, and returns a signed receipt (JSON),\n"
    "written atomically to FILE (kept unless --force) and kept in the\n"
    "registry; the state becomes purged. Afterwards every blob of the policy\n"
    "fails with CKR_DEP11_POLICY_PURGED. A repeated --confirm re-issues the\n"
    "receipt. Verify it with dep11-tool receipt verify. --dry-run says what\n"
    "would happen (for --confirm: whether a customer key still unwraps, the\n"
    "receipt's maximum size) and changes nothing.",
};
