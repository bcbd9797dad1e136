/*
 * policy.c - the policy commands: "policy create" (KEY_GEN + POLICY_WRAP,
 * registered on the token and optionally written to a file), "policy show"
 * (DEP11_GetPolicyInfo of a file or a registered policy) and "policy unwrap"
 * (which root serves, for which requester), and the wrap/unwrap helpers the
 * other commands share.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reg.h"
#include "tool.h"

static const char *const requesters[] = { NULL, "user", "system", "recovery" };

/* Parses user|system|recovery. Returns 0 and *@out, or -1. */
int tool_parse_requester(const char *s, CK_ULONG *out)
{
    CK_ULONG i = 0;

    for (i = DEP11_REQUESTER_USER; i <= DEP11_REQUESTER_RECOVERY; i++) {
        if (strcmp(s, requesters[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    return -1;
}

/* Handles --requester @arg for a command's option handler: *@out gets the
 * DEP11_REQUESTER_ value. Returns 0, or TOOL_EXIT_USAGE (message printed). */
int tool_requester_opt(struct tool *t, const char *arg, CK_ULONG *out)
{
    if (tool_parse_requester(arg, out) == 0)
        return 0;
    return tool_error(t, TOOL_EXIT_USAGE,
                      "--requester is user, system or recovery");
}

/* "user", "system", "recovery" or "?". */
const char *tool_requester_name(CK_ULONG r)
{
    return r >= DEP11_REQUESTER_USER && r <= DEP11_REQUESTER_RECOVERY
               ? requesters[r] : "?";
}

#define type_name tool_type_name

static const char *served_name(CK_ULONG by)
{
    switch (by) {
    case DEP11_ROOT_CUSTOMER_1: return "customer-1";
    case DEP11_ROOT_CUSTOMER_2: return "customer-2";
    case DEP11_ROOT_AVAILABILITY: return "availability";
    case DEP11_ROOT_PROVIDER: return "provider";
    default: return "unknown";
    }
}

static const char *served_words(CK_ULONG by)
{
    switch (by) {
    case DEP11_ROOT_CUSTOMER_1: return "customer key 1";
    case DEP11_ROOT_CUSTOMER_2: return "customer key 2";
    case DEP11_ROOT_AVAILABILITY: return "the availability key";
    case DEP11_ROOT_PROVIDER: return "a provider key";
    default: return "an unknown root";
    }
}

/*
 * Unwraps the policy blob @blob (@len bytes) with CKM_DEP11_POLICY_UNWRAP for
 * @requester (the module finds the roots). Needs a logged-in session.
 * Returns a TOOL_EXIT_ code (message printed) and the policy key in *@h.
 */
int tool_unwrap_blob(struct tool *t, const unsigned char *blob, size_t len,
                     CK_ULONG requester, CK_OBJECT_HANDLE *h)
{
    CK_DEP11_POLICY_UNWRAP_PARAMS p = { requester };
    CK_MECHANISM mech = { CKM_DEP11_POLICY_UNWRAP, &p, sizeof p };
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = { { CKA_TOKEN, &no, sizeof no } };
    CK_RV rv = CKR_GENERAL_ERROR;

    *h = CK_INVALID_HANDLE;
    rv = t->p11->C_UnwrapKey(t->session, &mech, CK_INVALID_HANDLE,
                             (CK_BYTE_PTR)blob, len, tmpl, 1, h);
    if (rv != CKR_OK)
        return tool_fail_rv(t, "C_UnwrapKey (policy)", rv);
    return TOOL_EXIT_OK;
}

/*
 * Unwraps the policy @path names: a blob file, or, when no such file exists,
 * the current blob of the registered policy of that name. Needs a logged-in
 * session. Returns a TOOL_EXIT_ code (message printed) and *@h.
 */
int tool_unwrap_policy(struct tool *t, const char *path, CK_ULONG requester,
                       CK_OBJECT_HANDLE *h)
{
    struct tool_rec r;
    unsigned char *blob = NULL;
    size_t len = 0;
    int rc = TOOL_EXIT_FAIL;

    *h = CK_INVALID_HANDLE;
    if (strcmp(path, "-") != 0 && access(path, F_OK) != 0 &&
        strchr(path, '/') == NULL) {
        rc = tool_reg_find(t, path, NULL, &r);
        if (rc == TOOL_EXIT_OK)
            rc = tool_unwrap_blob(t, r.blob, r.blob_len, requester, h);
        tool_rec_free(&r);
        return rc;
    }
    if (tool_read_file(t, path, TOOL_BLOB_MAX, &blob, &len) != 0)
        return TOOL_EXIT_USAGE;
    rc = tool_unwrap_blob(t, blob, len, requester, h);
    free(blob);
    return rc;
}

/* Prints the header of a policy blob (table or JSON). */
static void print_info(struct tool *t, const CK_DEP11_POLICY_INFO *in,
                       const char *file, size_t blob_len)
{
    char id[33], tenant[37], name[DEP11_LABEL_MAX + 1], geo[DEP11_GEO_MAX + 1];
    const char *managed = in->ulManagedBy == DEP11_MANAGED_CUSTOMER ? "customer"
                          : in->ulManagedBy == DEP11_MANAGED_PROVIDER
                              ? "provider" : "unknown";

    tool_hex(in->policyId, 16, id);
    tool_format_uuid(in->tenantId, tenant);
    tool_trim(in->label, sizeof in->label, name);
    tool_trim(in->geo, sizeof in->geo, geo);
    if (t->opt.json) {
        printf("{\"ok\":true,\"file\":");
        tool_json_str(stdout, file);
        printf(",\"bytes\":%zu,\"policy_id\":\"%s\",\"type\":\"%s\","
               "\"tenant\":\"%s\",\"version\":%lu,\"managed_by\":\"%s\","
               "\"suite\":%lu,\"copies\":%lu,\"name\":", blob_len, id,
               type_name(in->ulPolicyType), tenant,
               (unsigned long)in->ulVersion, managed,
               (unsigned long)in->ulSuite,
               (unsigned long)in->ulWrappedCopies);
        tool_json_str(stdout, name);
        printf(",\"geo\":");
        tool_json_str(stdout, geo);
        printf("}\n");
        return;
    }
    printf("file        %s (%zu bytes)\npolicy id   %s\ntype        %s\n"
           "tenant      %s\nversion     %lu\nmanaged by  %s\nsuite       %lu\n"
           "copies      %lu\nname        %s\ngeo         %s\n", file, blob_len,
           id, type_name(in->ulPolicyType), tenant,
           (unsigned long)in->ulVersion, managed, (unsigned long)in->ulSuite,
           (unsigned long)in->ulWrappedCopies, name, geo[0] ? geo : "-");
}

/* DEP11_GetPolicyInfo on a blob in memory; prints it. */
static int show_blob(struct tool *t, const char *file, unsigned char *blob,
                     size_t len)
{
    CK_DEP11_POLICY_INFO info;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (t->dep11 == NULL || t->dep11->DEP11_GetPolicyInfo == NULL)
        return tool_error(t, TOOL_EXIT_MODULE,
                          "the module is not dep11 (neither its vendor interface nor "
                          "its mechanisms)");
    memset(&info, 0, sizeof info);
    rv = t->dep11->DEP11_GetPolicyInfo(blob, len, &info);
    if (rv != CKR_OK)
        return tool_fail_rv(t, "DEP11_GetPolicyInfo", rv);
    print_info(t, &info, file, len);
    return TOOL_EXIT_OK;
}

/* ---- policy create ---- */

struct create_opts {
    const char *type, *tenant, *name, *geo, *root1, *root2, *out;
    int provider, force, assign;
    CK_ULONG type_v;
    unsigned char tenant_id[16];
};

enum {
    OPT_TYPE = 1000, OPT_TENANT, OPT_NAME, OPT_GEO, OPT_ROOT1, OPT_ROOT2,
    OPT_PROVIDER, OPT_OUT, OPT_FORCE, OPT_REQUESTER, OPT_ASSIGN,
};

static int create_opt(struct tool *t, int c, const char *arg, void *ctx)
{
    struct create_opts *o = ctx;

    switch (c) {
    case OPT_TYPE: o->type = arg; return 0;
    case OPT_TENANT: o->tenant = arg; return 0;
    case OPT_NAME: o->name = arg; return 0;
    case OPT_GEO: o->geo = arg; return 0;
    case OPT_ROOT1: o->root1 = arg; return 0;
    case OPT_ROOT2: o->root2 = arg; return 0;
    case OPT_PROVIDER: o->provider = 1; return 0;
    case OPT_OUT: o->out = arg; return 0;
    case OPT_FORCE: o->force = 1; return 0;
    case OPT_ASSIGN: o->assign = 1; return 0;
    default: return TOOL_EXIT_USAGE;
    }
}

/* Checks the create options; fills type_v and tenant_id. */
static int create_check(struct tool *t, struct create_opts *o)
{
    if (!o->type || !o->tenant || !o->name)
        return tool_error(t, TOOL_EXIT_USAGE,
                          "--type, --tenant and --name are required");
    if (tool_parse_type(o->type, &o->type_v) != 0)
        return tool_error(t, TOOL_EXIT_USAGE,
                          "--type is mailbox, multi-workload or files");
    if (o->assign && o->type_v != DEP11_POLICY_MULTI_WORKLOAD)
        return tool_error(t, TOOL_EXIT_USAGE, "--assign is for a "
                          "multi-workload policy");
    if (strchr(o->name, '\n') != NULL || strchr(o->name, '/') != NULL)
        return tool_error(t, TOOL_EXIT_USAGE, "--name: no newline or '/'");
    if (tool_parse_uuid(o->tenant, o->tenant_id) != 0)
        return tool_error(t, TOOL_EXIT_USAGE, "--tenant takes a UUID");
    if (*o->name == '\0' || strlen(o->name) > DEP11_LABEL_MAX)
        return tool_error(t, TOOL_EXIT_USAGE, "--name: 1 to %d bytes",
                          DEP11_LABEL_MAX);
    if (o->geo != NULL && (*o->geo == '\0' || strlen(o->geo) > DEP11_GEO_MAX))
        return tool_error(t, TOOL_EXIT_USAGE, "--geo: 1 to %d bytes",
                          DEP11_GEO_MAX);
    if (o->provider == (o->root1 != NULL || o->root2 != NULL) ||
        (!o->provider && (o->root1 == NULL || o->root2 == NULL)))
        return tool_error(t, TOOL_EXIT_USAGE, "give --root1 LABEL --root2 "
                          "LABEL, or --provider-managed");
    if (!o->provider && strcmp(o->root1, o->root2) == 0)
        return tool_error(t, TOOL_EXIT_USAGE, "--root1 and --root2 must be "
                          "two different keys");
    if (!o->provider && (strlen(o->root1) > 128 || strlen(o->root2) > 128 ||
                         strchr(o->root1, '\n') || strchr(o->root2, '\n')))
        return tool_error(t, TOOL_EXIT_USAGE, "root labels: at most 128 "
                          "bytes, no newline");
    return o->out ? tool_check_out(t, o->out, o->force) : TOOL_EXIT_OK;
}

/* C_GenerateKey(CKM_DEP11_KEY_GEN) of a policy key from the options. */
static int generate_policy(struct tool *t, struct create_opts *o,
                           CK_OBJECT_HANDLE *h)
{
    CK_MECHANISM mech = { CKM_DEP11_KEY_GEN, NULL, 0 };
    CK_ULONG role = DEP11_ROLE_POLICY;
    CK_ATTRIBUTE tmpl[] = {
        { CKA_DEP11_ROLE, &role, sizeof role },
        { CKA_DEP11_POLICY_TYPE, &o->type_v, sizeof o->type_v },
        { CKA_DEP11_TENANT, o->tenant_id, 16 },
        { CKA_LABEL, (void *)o->name, strlen(o->name) },
        { CKA_DEP11_GEO, (void *)o->geo, o->geo ? strlen(o->geo) : 0 },
    };
    CK_RV rv = t->p11->C_GenerateKey(t->session, &mech, tmpl,
                                     o->geo ? 5 : 4, h);

    if (rv != CKR_OK)
        return tool_fail_rv(t, "C_GenerateKey (policy key)", rv);
    return TOOL_EXIT_OK;
}

/*
 * C_WrapKey(CKM_DEP11_POLICY_WRAP) of policy key @key under roots @r1 and @r2
 * (CK_INVALID_HANDLE for provider-managed) with @flags
 * (DEP11_WRAP_ROLL_AVAILABILITY), size query first. *@blob is malloc'd
 * (caller frees). Returns a TOOL_EXIT_ code (message printed).
 */
int tool_wrap_policy(struct tool *t, CK_OBJECT_HANDLE key, CK_OBJECT_HANDLE r1,
                     CK_OBJECT_HANDLE r2, CK_FLAGS flags, unsigned char **blob,
                     CK_ULONG *len)
{
    CK_DEP11_POLICY_WRAP_PARAMS p = { r2, flags };
    CK_MECHANISM mech = { CKM_DEP11_POLICY_WRAP, &p, sizeof p };
    CK_RV rv = CKR_GENERAL_ERROR;

    if (r1 == CK_INVALID_HANDLE && flags == 0) { /* provider: no parameter */
        mech.pParameter = NULL;
        mech.ulParameterLen = 0;
    }
    *blob = NULL;
    rv = t->p11->C_WrapKey(t->session, &mech, r1, key, NULL, len);
    if (rv == CKR_OK) {
        *blob = malloc(*len ? *len : 1);
        if (*blob == NULL)
            return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
        rv = t->p11->C_WrapKey(t->session, &mech, r1, key, *blob, len);
    }
    if (rv != CKR_OK) {
        free(*blob);
        *blob = NULL;
        return tool_fail_rv(t, "C_WrapKey (policy)", rv);
    }
    return TOOL_EXIT_OK;
}

/* Fills the registry record of the policy about to be created and checks
 * that the name is free and that no limit is broken. */
static int create_admit(struct tool *t, const struct create_opts *o,
                        struct tool_rec *r)
{
    struct tool_rec *all = NULL;
    size_t n = 0, i = 0;
    int rc = TOOL_EXIT_OK;

    memset(r, 0, sizeof *r);
    strcpy(r->name, o->name);
    r->type = o->type_v;
    memcpy(r->tenant, o->tenant_id, 16);
    if (o->geo != NULL)
        strcpy(r->geo, o->geo);
    r->state = TOOL_STATE_ACTIVE;
    r->assigned = o->assign;
    r->customer = !o->provider;
    if (!o->provider) {
        strcpy(r->root1, o->root1);
        strcpy(r->root2, o->root2);
    }
    r->version = 1;
    rc = tool_reg_load(t, &all, &n);
    for (i = 0; rc == TOOL_EXIT_OK && i < n; i++)
        if (strcmp(all[i].name, o->name) == 0)
            rc = tool_error(t, TOOL_EXIT_FAIL, "a policy named \"%s\" is "
                            "already registered on this token", o->name);
    if (rc == TOOL_EXIT_OK)
        rc = tool_reg_check_limits(t, r, all, n);
    tool_rec_free_all(all, n);
    return rc;
}

/* Wraps the new key @key, writes --out, registers @r and (@print)
 * prints it. */
static int create_finish(struct tool *t, const struct create_opts *o,
                         CK_OBJECT_HANDLE key, CK_OBJECT_HANDLE r1,
                         CK_OBJECT_HANDLE r2, struct tool_rec *r, int print)
{
    unsigned char *pid = NULL;
    CK_ULONG pid_len = 0, len = 0;
    CK_RV rv = tool_get_bytes(t, key, CKA_DEP11_POLICY_ID, &pid, &pid_len);
    int rc = TOOL_EXIT_FAIL;

    if (rv != CKR_OK || pid_len != 16) {
        free(pid);
        return tool_fail_rv(t, "C_GetAttributeValue (policy id)",
                            rv != CKR_OK ? rv : CKR_GENERAL_ERROR);
    }
    memcpy(r->id, pid, 16);
    free(pid);
    rc = tool_wrap_policy(t, key, r1, r2, 0, &r->blob, &len);
    r->blob_len = len;
    if (rc == TOOL_EXIT_OK && o->out != NULL &&
        tool_write_atomic(t, o->out, r->blob, len, o->force) != 0)
        rc = TOOL_EXIT_FAIL;
    if (rc == TOOL_EXIT_OK)
        rc = tool_reg_create(t, r);
    if (rc == TOOL_EXIT_OK && print)
        rc = tool_print_rec(t, r);
    return rc;
}

/*
 * Creates and registers the provider-managed policy @name of @type for
 * @tenant, printing nothing (the store's default policy, created on first
 * use). The session must be read-write. Returns a TOOL_EXIT_ code.
 */
int tool_policy_create_provider(struct tool *t, CK_ULONG type,
                                const unsigned char *tenant, const char *name)
{
    struct create_opts o;
    struct tool_rec r;
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    int rc = TOOL_EXIT_OK;

    memset(&o, 0, sizeof o);
    o.name = name;
    o.provider = 1;
    o.type_v = type;
    memcpy(o.tenant_id, tenant, 16);
    rc = create_admit(t, &o, &r);
    if (rc == TOOL_EXIT_OK)
        rc = generate_policy(t, &o, &key);
    if (rc == TOOL_EXIT_OK)
        rc = create_finish(t, &o, key, CK_INVALID_HANDLE, CK_INVALID_HANDLE,
                           &r, 0);
    tool_destroy(t, key);
    tool_rec_free(&r);
    return rc;
}

static int policy_create(struct tool *t, int argc, char **argv)
{
    static const struct option lo[] = {
        {"type", 1, NULL, OPT_TYPE}, {"tenant", 1, NULL, OPT_TENANT},
        {"name", 1, NULL, OPT_NAME}, {"geo", 1, NULL, OPT_GEO},
        {"root1", 1, NULL, OPT_ROOT1}, {"root2", 1, NULL, OPT_ROOT2},
        {"provider-managed", 0, NULL, OPT_PROVIDER},
        {"out", 1, NULL, OPT_OUT}, {"force", 0, NULL, OPT_FORCE},
        {"assign", 0, NULL, OPT_ASSIGN},
        TOOL_COMMON_LONGOPTS, {NULL, 0, NULL, 0},
    };
    struct create_opts o;
    struct tool_rec r;
    CK_OBJECT_HANDLE r1 = CK_INVALID_HANDLE, r2 = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    int rc = TOOL_EXIT_USAGE;

    memset(&o, 0, sizeof o);
    memset(&r, 0, sizeof r);
    rc = tool_parse_no_operands(t, &tool_cmd_policy_create, argc, argv, lo,
                                create_opt, &o);
    if (rc != 0)
        return rc < 0 ? TOOL_EXIT_OK : rc;
    rc = create_check(t, &o);
    if (rc == TOOL_EXIT_OK)
        rc = tool_load_login(t, 1);
    if (rc == TOOL_EXIT_OK)
        rc = create_admit(t, &o, &r);
    if (rc == TOOL_EXIT_OK && !o.provider)
        rc = tool_find_root(t, o.root1, &r1);
    if (rc == TOOL_EXIT_OK && !o.provider)
        rc = tool_find_root(t, o.root2, &r2);
    if (rc == TOOL_EXIT_OK)
        rc = generate_policy(t, &o, &key);
    if (rc == TOOL_EXIT_OK)
        rc = create_finish(t, &o, key, r1, r2, &r, 1);
    tool_destroy(t, key);
    tool_rec_free(&r);
    return rc;
}

const struct tool_cmd tool_cmd_policy_create = {
    "policy",
    "create",
    policy_create,
    "create a policy key and register it",
    "Usage: dep11-tool policy create --type mailbox|multi-workload|files\n"
    "         --tenant UUID --name NAME [--geo GEO] [--assign]\n"
    "         (--root1 LABEL --root2 LABEL | --provider-managed)\n"
    "         [--out FILE [--force]] --pin-source file:PATH|env:VAR\n\n"
    "Generates a policy key (C_GenerateKey CKM_DEP11_KEY_GEN) and wraps it\n"
    "(C_WrapKey CKM_DEP11_POLICY_WRAP) under the two customer root keys, the\n"
    "RSA private keys with these CKA_LABELs (registered with keys register),\n"
    "or under the provider keys with --provider-managed; dep11 adds the\n"
    "availability copy. The policy is registered on the token: a private\n"
    "CKO_DATA object (CKA_APPLICATION \"dep11-registry\", CKA_LABEL NAME)\n"
    "holding its record (with the policy id) and current blob; NAME\n"
    "must be unused on the token. The seeds' limits are enforced, with\n"
    "CKR_DEP11_POLICY_LIMIT and exit 1: at most 50 active mailbox policies\n"
    "per tenant; one assigned multi-workload policy per tenant (--assign\n"
    "assigns the new one; see policy assign-tenant); one files policy per\n"
    "tenant and geo. With --out the blob is also written atomically\n"
    "(temporary file, fsync, rename; mode 0600); an existing FILE is kept\n"
    "unless --force. NAME is at most 64 bytes, GEO at most 16. The record\n"
    "and the blob's header are printed as by policy show.",
};

/* ---- policy show ---- */

static int no_opt(struct tool *t, int c, const char *arg, void *ctx)
{
    return TOOL_EXIT_USAGE;
}

/* policy show NAME: the registry record (needs a login). */
static int show_registered(struct tool *t, const char *name)
{
    struct tool_rec r;
    int rc = tool_load_login(t, 0);

    memset(&r, 0, sizeof r);
    if (rc == TOOL_EXIT_OK)
        rc = tool_reg_find(t, name, NULL, &r);
    if (rc == TOOL_EXIT_OK)
        rc = tool_print_rec(t, &r);
    tool_rec_free(&r);
    return rc;
}

static int policy_show(struct tool *t, int argc, char **argv)
{
    static const struct option lo[] = { TOOL_COMMON_LONGOPTS,
                                        {NULL, 0, NULL, 0} };
    unsigned char *blob = NULL;
    size_t len = 0;
    int rc = TOOL_EXIT_USAGE, first = 0;

    rc = tool_parse(t, &tool_cmd_policy_show, argc, argv, lo, no_opt, NULL,
                    &first);
    if (rc != 0)
        return rc < 0 ? TOOL_EXIT_OK : rc;
    if (first != argc - 1)
        return tool_error(t, TOOL_EXIT_USAGE, "give one policy NAME or FILE");
    if (access(argv[first], F_OK) != 0 && strchr(argv[first], '/') == NULL)
        return show_registered(t, argv[first]);
    if (tool_read_file(t, argv[first], TOOL_BLOB_MAX, &blob, &len) != 0)
        return TOOL_EXIT_USAGE;
    rc = tool_load(t);
    if (rc == TOOL_EXIT_OK)
        rc = show_blob(t, argv[first], blob, len);
    free(blob);
    return rc;
}

const struct tool_cmd tool_cmd_policy_show = {
    "policy", "show", policy_show,
    "print a registered policy, or the header of a policy blob",
    "Usage: dep11-tool policy show NAME|FILE\n\n"
    "NAME (no such file, no '/'): prints the policy's registry record (state,\n"
    "tenant assignment, roots, times, purge request) and its current blob's\n"
    "header; this needs --pin-source (the records are private objects).\n"
    "FILE: prints the policy blob's header through DEP11_GetPolicyInfo: policy id,\n"
    "type, tenant, version, managed by, suite, number of wrapped copies, name\n"
    "and geo. Needs no token and no login; the blob is parsed, not unwrapped,\n"
    "so its MAC is not checked: an altered header shows here as it is and\n"
    "fails only at unwrap (CKR_WRAPPED_KEY_INVALID).",
};


/* ---- policy unwrap ---- */

struct unwrap_opts {
    CK_ULONG requester;
};

static int unwrap_opt(struct tool *t, int c, const char *arg, void *ctx)
{
    struct unwrap_opts *o = ctx;

    if (c == OPT_REQUESTER)
        return tool_requester_opt(t, arg, &o->requester);
    return TOOL_EXIT_USAGE;
}

/* Prints what served the unwrap of policy key @h. */
static int report_unwrap(struct tool *t, CK_OBJECT_HANDLE h, CK_ULONG req)
{
    CK_ULONG by = 0, version = 0, type = 0;
    unsigned char *pid = NULL;
    CK_ULONG pid_len = 0;
    char id[33] = "";
    CK_RV rv = tool_get_ulong(t, h, CKA_DEP11_UNWRAPPED_BY, &by);

    if (rv == CKR_OK)
        rv = tool_get_ulong(t, h, CKA_DEP11_POLICY_VERSION, &version);
    if (rv == CKR_OK)
        rv = tool_get_ulong(t, h, CKA_DEP11_POLICY_TYPE, &type);
    if (rv == CKR_OK)
        rv = tool_get_bytes(t, h, CKA_DEP11_POLICY_ID, &pid, &pid_len);
    if (rv != CKR_OK)
        return tool_fail_rv(t, "C_GetAttributeValue (policy key)", rv);
    if (pid_len == 16)
        tool_hex(pid, 16, id);
    free(pid);
    if (t->opt.json)
        printf("{\"ok\":true,\"policy_id\":\"%s\",\"type\":\"%s\","
               "\"version\":%lu,\"requester\":\"%s\",\"unwrapped_by\":\"%s\"}"
               "\n", id, type_name(type), (unsigned long)version,
               tool_requester_name(req), served_name(by));
    else
        printf("policy %s (%s, version %lu) unwrapped for requester %s: "
               "served by %s\n", id, type_name(type), (unsigned long)version,
               tool_requester_name(req), served_words(by));
    return TOOL_EXIT_OK;
}

static int policy_unwrap(struct tool *t, int argc, char **argv)
{
    static const struct option lo[] = {
        {"requester", 1, NULL, OPT_REQUESTER}, TOOL_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct unwrap_opts o = { DEP11_REQUESTER_USER };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    int rc = TOOL_EXIT_USAGE, first = 0;

    rc = tool_parse(t, &tool_cmd_policy_unwrap, argc, argv, lo, unwrap_opt,
                    &o, &first);
    if (rc != 0)
        return rc < 0 ? TOOL_EXIT_OK : rc;
    if (first != argc - 1)
        return tool_error(t, TOOL_EXIT_USAGE, "give one policy blob FILE");
    rc = tool_load_login(t, 0);
    if (rc == TOOL_EXIT_OK)
        rc = tool_unwrap_policy(t, argv[first], o.requester, &h);
    if (rc == TOOL_EXIT_OK)
        rc = report_unwrap(t, h, o.requester);
    tool_destroy(t, h);
    return rc;
}

const struct tool_cmd tool_cmd_policy_unwrap = {
    "policy", "unwrap", policy_unwrap,
    "unwrap a policy blob and say which root served",
    "Usage: dep11-tool policy unwrap FILE [--requester user|system|recovery]\n"
    "         --pin-source file:PATH|env:VAR\n\n"
    "Unwraps the policy blob (C_UnwrapKey CKM_DEP11_POLICY_UNWRAP; the module\n"
    "finds the roots named in the blob) and prints the policy id, version and\n"
    "the root that served it (CKA_DEP11_UNWRAPPED_BY): customer key 1 or 2,\n"
    "the availability key, or a provider key. The requester defaults to user;\n"
    "system and recovery are honoured only in a process whose dep11 config\n"
    "says system-requests / recovery-requests = allow. Nothing is written.\n"
    "A failure names the CKR code, e.g. CKR_DEP11_ROOT_KEYS_REVOKED: both\n"
    "customer keys are revoked and this requester may not use the\n"
    "availability key.",
};
