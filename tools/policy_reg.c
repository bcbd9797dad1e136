/*
 * policy_reg.c - the registry commands: "policy list", "policy enable",
 * "policy disable", "policy assign-tenant", "policy unassign-tenant", and
 * how a registry record is printed (table or JSON).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reg.h"
#include "tool.h"

/* Formats Unix time @s as "2025-01-31T12:00:00Z" ("-" for 0) into @out. */
static void fmt_time(long long s, char out[32])
{
    time_t tt = (time_t)s;
    struct tm tm;

    if (s == 0 || gmtime_r(&tt, &tm) == NULL) {
        strcpy(out, "-");
        return;
    }
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The blob header's copies and suite, or 0 when it cannot be parsed. */
static void blob_facts(struct tool *t, const struct tool_rec *r,
                       CK_DEP11_POLICY_INFO *in)
{
    memset(in, 0, sizeof *in);
    if (t->dep11 == NULL || t->dep11->DEP11_GetPolicyInfo == NULL ||
        t->dep11->DEP11_GetPolicyInfo(r->blob, r->blob_len, in) != CKR_OK)
        memset(in, 0, sizeof *in);
}

static void print_rec_json(const struct tool_rec *r,
                           const CK_DEP11_POLICY_INFO *in, int whole)
{
    char id[33], tenant[37], c[32], u[32], q[32], p[32];

    tool_hex(r->id, 16, id);
    tool_format_uuid(r->tenant, tenant);
    fmt_time(r->created, c);
    fmt_time(r->updated, u);
    fmt_time(r->requested, q);
    fmt_time(r->purged_at, p);
    printf("%s\"name\":", whole ? "{\"ok\":true," : "{");
    tool_json_str(stdout, r->name);
    printf(",\"policy_id\":\"%s\",\"type\":\"%s\",\"tenant\":\"%s\","
           "\"geo\":", id, tool_type_name(r->type), tenant);
    tool_json_str(stdout, r->geo);
    printf(",\"state\":\"%s\",\"assigned\":%s,\"managed_by\":\"%s\","
           "\"root1\":", tool_state_name(r->state),
           r->assigned ? "true" : "false",
           r->customer ? "customer" : "provider");
    tool_json_str(stdout, r->root1);
    printf(",\"root2\":");
    tool_json_str(stdout, r->root2);
    printf(",\"version\":%lu,\"copies\":%lu,\"suite\":%lu,\"bytes\":%zu,"
           "\"created\":\"%s\",\"updated\":\"%s\",\"purge_requested\":\"%s\","
           "\"purged\":\"%s\",\"reason\":", r->version,
           (unsigned long)in->ulWrappedCopies, (unsigned long)in->ulSuite,
           r->blob_len, c, u, q, p);
    tool_json_str(stdout, r->reason);
    printf(",\"contact\":");
    tool_json_str(stdout, r->contact);
    printf(",\"receipt_bytes\":%zu}%s", r->receipt_len, whole ? "\n" : "");
}

/*
 * Prints registry record @r: a "key  value" table, or one JSON object under
 * --json. Returns TOOL_EXIT_OK.
 */
int tool_print_rec(struct tool *t, const struct tool_rec *r)
{
    CK_DEP11_POLICY_INFO in;
    char id[33], tenant[37], c[32], u[32];

    blob_facts(t, r, &in);
    if (t->opt.json) {
        print_rec_json(r, &in, 1);
        return TOOL_EXIT_OK;
    }
    tool_hex(r->id, 16, id);
    tool_format_uuid(r->tenant, tenant);
    fmt_time(r->created, c);
    fmt_time(r->updated, u);
    printf("name        %s\npolicy id   %s\ntype        %s\ntenant      %s\n"
           "geo         %s\nstate       %s\n", r->name, id,
           tool_type_name(r->type), tenant, r->geo[0] ? r->geo : "-",
           tool_state_name(r->state));
    if (r->type == DEP11_POLICY_MULTI_WORKLOAD)
        printf("assigned    %s\n", r->assigned ? "yes (the tenant's policy)"
                                               : "no");
    printf("managed by  %s\n", r->customer ? "customer" : "provider");
    if (r->customer)
        printf("roots       %s, %s\n", r->root1, r->root2);
    printf("version     %lu\ncopies      %lu\nsuite       %lu\n"
           "blob        %zu bytes\ncreated     %s\nupdated     %s\n",
           r->version, (unsigned long)in.ulWrappedCopies,
           (unsigned long)in.ulSuite, r->blob_len, c, u);
    if (r->requested != 0) {
        fmt_time(r->requested, c);
        printf("purge asked %s\nreason      %s\ncontact     %s\n", c,
               r->reason, r->contact);
    }
    if (r->purged_at != 0) {
        fmt_time(r->purged_at, c);
        printf("purged      %s (receipt %zu bytes)\n", c, r->receipt_len);
    }
    return TOOL_EXIT_OK;
}

/* ---- policy list ---- */

struct list_opts {
    const char *type, *tenant;
    CK_ULONG type_v;
    unsigned char tenant_id[16];
};

enum { OPT_LTYPE = 1000, OPT_LTENANT, OPT_REPLACE };

static int list_opt(struct tool *t, int c, const char *arg, void *ctx)
{
    struct list_opts *o = ctx;

    if (c == OPT_LTYPE && tool_parse_type(arg, &o->type_v) == 0) {
        o->type = arg;
        return 0;
    }
    if (c == OPT_LTENANT && tool_parse_uuid(arg, o->tenant_id) == 0) {
        o->tenant = arg;
        return 0;
    }
    if (c == OPT_LTYPE)
        return tool_error(t, TOOL_EXIT_USAGE,
                          "--type is mailbox, multi-workload or files");
    if (c == OPT_LTENANT)
        return tool_error(t, TOOL_EXIT_USAGE, "--tenant takes a UUID");
    return TOOL_EXIT_USAGE;
}

static int by_created(const void *a, const void *b)
{
    const struct tool_rec *x = a, *y = b;

    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void list_print(struct tool *t, struct tool_rec *all, size_t n,
                       const struct list_opts *o)
{
    CK_DEP11_POLICY_INFO in;
    char tenant[37];
    size_t i = 0, shown = 0;

    if (t->opt.json)
        printf("{\"ok\":true,\"policies\":[");
    else
        printf("%-24s %-14s %-15s %-8s %-3s %-8s %-6s %s\n", "NAME", "TYPE",
               "STATE", "GEO", "VER", "MANAGED", "ASSIGN", "TENANT");
    for (i = 0; i < n; i++) {
        if ((o->type && all[i].type != o->type_v) ||
            (o->tenant && memcmp(all[i].tenant, o->tenant_id, 16) != 0))
            continue;
        if (t->opt.json) {
            blob_facts(t, &all[i], &in);
            printf("%s", shown ? "," : "");
            print_rec_json(&all[i], &in, 0);
        } else {
            tool_format_uuid(all[i].tenant, tenant);
            printf("%-24s %-14s %-15s %-8s %-3lu %-8s %-6s %s\n", all[i].name,
                   tool_type_name(all[i].type), tool_state_name(all[i].state),
                   all[i].geo[0] ? all[i].geo : "-", all[i].version,
                   all[i].customer ? "customer" : "provider",
                   all[i].type != DEP11_POLICY_MULTI_WORKLOAD ? "-"
                   : all[i].assigned ? "yes" : "no", tenant);
        }
        shown++;
    }
    if (t->opt.json)
        printf("],\"count\":%zu}\n", shown);
    else
        printf("%zu polic%s\n", shown, shown == 1 ? "y" : "ies");
}

static int policy_list(struct tool *t, int argc, char **argv)
{
    static const struct option lo[] = {
        {"type", 1, NULL, OPT_LTYPE}, {"tenant", 1, NULL, OPT_LTENANT},
        TOOL_COMMON_LONGOPTS, {NULL, 0, NULL, 0},
    };
    struct list_opts o;
    struct tool_rec *all = NULL;
    size_t n = 0;
    int rc = 0;

    memset(&o, 0, sizeof o);
    rc = tool_parse_no_operands(t, &tool_cmd_policy_list, argc, argv, lo,
                                list_opt, &o);
    if (rc != 0)
        return rc < 0 ? TOOL_EXIT_OK : rc;
    rc = tool_load_login(t, 0);
    if (rc == TOOL_EXIT_OK)
        rc = tool_reg_load(t, &all, &n);
    if (rc == TOOL_EXIT_OK) {
        qsort(all, n, sizeof *all, by_created);
        list_print(t, all, n, &o);
    }
    tool_rec_free_all(all, n);
    return rc;
}

const struct tool_cmd tool_cmd_policy_list = {
    "policy", "list", policy_list,
    "list the policies registered on the token",
    "Usage: dep11-tool policy list [--type TYPE] [--tenant UUID]\n"
    "         --pin-source file:PATH|env:VAR\n\n"
    "Lists the policy registry of the token (private CKO_DATA objects with\n"
    "CKA_APPLICATION \"dep11-registry\"), oldest first: name, type, state\n"
    "(active, disabled, purge-requested, purged), geo, current blob version,\n"
    "managed by, whether a multi-workload policy is the tenant's assigned\n"
    "one, tenant. --json prints {\"policies\":[...],\"count\":N}, each entry\n"
    "as policy show --json prints it.",
};

/* ---- enable, disable, assign-tenant, unassign-tenant ---- */

enum { ACT_ENABLE, ACT_DISABLE, ACT_ASSIGN, ACT_UNASSIGN };

/* Applies @act to @all[@i] (checks and the change in memory). Returns
 * TOOL_EXIT_OK, or an error; *@noop set when nothing changes. */
static int apply(struct tool *t, int act, struct tool_rec *all, size_t n,
                 size_t i, int *noop)
{
    struct tool_rec *r = &all[i];

    *noop = 0;
    if (r->state == TOOL_STATE_PURGED)
        return tool_error(t, TOOL_EXIT_FAIL, "policy \"%s\" is purged",
                          r->name);
    if ((act == ACT_ASSIGN || act == ACT_UNASSIGN) &&
        r->type != DEP11_POLICY_MULTI_WORKLOAD)
        return tool_error(t, TOOL_EXIT_FAIL, "only a multi-workload policy "
                          "is assigned to a tenant; \"%s\" is a %s policy",
                          r->name, tool_type_name(r->type));
    switch (act) {
    case ACT_ENABLE:
        *noop = r->state == TOOL_STATE_ACTIVE;
        r->state = TOOL_STATE_ACTIVE;
        r->requested = 0; /* enabling withdraws a purge request */
        r->reason[0] = r->contact[0] = '\0';
        break;
    case ACT_DISABLE:
        if (r->assigned)
            return tool_error(t, TOOL_EXIT_FAIL, "\"%s\" is the tenant's "
                              "assigned policy: policy unassign-tenant it "
                              "first", r->name);
        *noop = r->state == TOOL_STATE_DISABLED;
        r->state = TOOL_STATE_DISABLED;
        break;
    case ACT_ASSIGN:
        if (r->state != TOOL_STATE_ACTIVE)
            return tool_error(t, TOOL_EXIT_FAIL, "\"%s\" is %s, not active",
                              r->name, tool_state_name(r->state));
        *noop = r->assigned;
        r->assigned = 1;
        break;
    default:
        *noop = !r->assigned;
        r->assigned = 0;
        break;
    }
    return *noop ? TOOL_EXIT_OK : tool_reg_check_limits(t, r, all, n);
}

/* --replace of assign-tenant: unassigns the tenant's other assigned
 * multi-workload policies first. */
static int unassign_others(struct tool *t, struct tool_rec *all, size_t n,
                           size_t me)
{
    size_t i = 0;
    int rc = TOOL_EXIT_OK;

    for (i = 0; rc == TOOL_EXIT_OK && i < n; i++) {
        if (i == me || !all[i].assigned || all[i].type != all[me].type ||
            memcmp(all[i].tenant, all[me].tenant, 16) != 0)
            continue;
        all[i].assigned = 0;
        rc = tool_reg_update(t, &all[i]);
        if (rc == TOOL_EXIT_OK && !t->opt.json)
            printf("policy \"%s\" unassigned from the tenant\n", all[i].name);
    }
    return rc;
}

static int state_opt(struct tool *t, int c, const char *arg, void *ctx)
{
    (void)t;
    (void)arg;
    if (c == OPT_REPLACE && ctx != NULL) {
        *(int *)ctx = 1;
        return 0;
    }
    return TOOL_EXIT_USAGE;
}

/* The shared body of the four state commands. */
static int state_cmd(struct tool *t, const struct tool_cmd *cmd, int act,
                     int argc, char **argv)
{
    static const struct option lo[] = {
        {"replace", 0, NULL, OPT_REPLACE}, TOOL_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct tool_rec *all = NULL;
    size_t n = 0, i = 0;
    int rc = 0, first = 0, replace = 0, noop = 0;

    rc = tool_parse(t, cmd, argc, argv, act == ACT_ASSIGN ? lo : lo + 1,
                    state_opt, act == ACT_ASSIGN ? &replace : NULL, &first);
    if (rc != 0)
        return rc < 0 ? TOOL_EXIT_OK : rc;
    if (first != argc - 1)
        return tool_error(t, TOOL_EXIT_USAGE, "give one policy NAME");
    rc = tool_load_login(t, 1);
    if (rc == TOOL_EXIT_OK)
        rc = tool_reg_load(t, &all, &n);
    for (i = 0; rc == TOOL_EXIT_OK && i < n; i++)
        if (strcmp(all[i].name, argv[first]) == 0)
            break;
    if (rc == TOOL_EXIT_OK && i == n)
        rc = tool_error(t, TOOL_EXIT_FAIL, "no policy named \"%s\" in the "
                        "registry of this token", argv[first]);
    if (rc == TOOL_EXIT_OK && replace)
        rc = unassign_others(t, all, n, i);
    if (rc == TOOL_EXIT_OK)
        rc = apply(t, act, all, n, i, &noop);
    if (rc == TOOL_EXIT_OK && !noop)
        rc = tool_reg_update(t, &all[i]);
    if (rc == TOOL_EXIT_OK && !t->opt.json)
        printf("policy \"%s\": %s%s%s\n", all[i].name, noop ? "already " : "",
               act == ACT_ASSIGN ? "assigned to the tenant"
               : act == ACT_UNASSIGN ? "not assigned to the tenant"
               : tool_state_name(all[i].state), noop ? " (no change)" : "");
    if (rc == TOOL_EXIT_OK && t->opt.json)
        tool_print_rec(t, &all[i]);
    tool_rec_free_all(all, n);
    return rc;
}

static int policy_enable(struct tool *t, int argc, char **argv)
{
    return state_cmd(t, &tool_cmd_policy_enable, ACT_ENABLE, argc, argv);
}

static int policy_disable(struct tool *t, int argc, char **argv)
{
    return state_cmd(t, &tool_cmd_policy_disable, ACT_DISABLE, argc, argv);
}

static int policy_assign(struct tool *t, int argc, char **argv)
{
    return state_cmd(t, &tool_cmd_policy_assign_tenant, ACT_ASSIGN, argc,
                     argv);
}

static int policy_unassign(struct tool *t, int argc, char **argv)
{
    return state_cmd(t, &tool_cmd_policy_unassign_tenant, ACT_UNASSIGN, argc,
                     argv);
}

const struct tool_cmd tool_cmd_policy_enable = {
    "policy", "enable", policy_enable,
    "make a registered policy active again",
    "Usage: dep11-tool policy enable NAME --pin-source file:PATH|env:VAR\n\n"
    "Sets the policy's registry state to active (from disabled, or from\n"
    "purge-requested, which withdraws the purge request). A mailbox policy\n"
    "counts against the limit of 50 active mailbox policies per tenant:\n"
    "over it, CKR_DEP11_POLICY_LIMIT and exit 1. A purged policy cannot be\n"
    "enabled. Enabling an active policy changes nothing (exit 0).",
};

const struct tool_cmd tool_cmd_policy_disable = {
    "policy", "disable", policy_disable,
    "stop assigning new owners to a policy",
    "Usage: dep11-tool policy disable NAME --pin-source file:PATH|env:VAR\n\n"
    "Sets the policy's registry state to disabled: mailbox assign refuses it\n"
    "for new owners; existing blobs still unwrap (disabling is not revoking:\n"
    "for that the customer removes its root keys). A disabled mailbox policy\n"
    "does not count against the 50 active per tenant. The tenant's assigned\n"
    "multi-workload policy must be unassigned first.",
};

const struct tool_cmd tool_cmd_policy_assign_tenant = {
    "policy", "assign-tenant", policy_assign,
    "make a multi-workload policy the tenant's",
    "Usage: dep11-tool policy assign-tenant NAME [--replace]\n"
    "         --pin-source file:PATH|env:VAR\n\n"
    "Marks the active multi-workload policy NAME as its tenant's assigned\n"
    "policy. One may be assigned per tenant at a time (many may exist): if\n"
    "another is, the command fails with CKR_DEP11_POLICY_LIMIT (exit 1)\n"
    "unless --replace, which unassigns the other one first.",
};

const struct tool_cmd tool_cmd_policy_unassign_tenant = {
    "policy", "unassign-tenant", policy_unassign,
    "withdraw a multi-workload policy's tenant assignment",
    "Usage: dep11-tool policy unassign-tenant NAME\n"
    "         --pin-source file:PATH|env:VAR\n\n"
    "Clears the assigned mark of the multi-workload policy NAME.",
};
