/*
 * site.c - the site commands: "site create" (KEY_GEN a site key, CHILD_WRAP
 * it under a FILES policy for a site id) and "site show" (the header of a
 * child blob), and the site-key unwrap the file commands share.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

/* Child blob layout (docs/FORMATS.md section 3). */
#define CHILD_BLOB_LEN 100
static const unsigned char CHILD_MAGIC[4] = { 0x44, 0x31, 0x31, 0x43 }; /* D11C */

struct site_opts {
    const char *policy, *site, *site_id, *out;
    CK_ULONG requester;
    int force;
    unsigned char id[16];
};

enum { OPT_POLICY = 1000, OPT_SITE_ID, OPT_OUT, OPT_FORCE, OPT_REQUESTER };

static int site_opt(struct tool *t, int c, const char *arg, void *ctx)
{
    struct site_opts *o = ctx;

    switch (c) {
    case OPT_POLICY: o->policy = arg; return 0;
    case OPT_SITE_ID: o->site_id = arg; return 0;
    case OPT_OUT: o->out = arg; return 0;
    case OPT_FORCE: o->force = 1; return 0;
    case OPT_REQUESTER: return tool_requester_opt(t, arg, &o->requester);
    default: return TOOL_EXIT_USAGE;
    }
}

static const char *role_name(unsigned r)
{
    switch (r) {
    case DEP11_ROLE_MAILBOX: return "mailbox";
    case DEP11_ROLE_WORKLOAD: return "workload";
    case DEP11_ROLE_SITE: return "site";
    default: return "unknown";
    }
}

static const char *ptype_name(CK_ULONG type)
{
    switch (type) {
    case DEP11_POLICY_MAILBOX: return "mailbox";
    case DEP11_POLICY_MULTI_WORKLOAD: return "multi-workload";
    case DEP11_POLICY_FILES: return "files";
    default: return "unknown";
    }
}

static int not_files(struct tool *t, const char *policy, CK_ULONG type)
{
    return tool_error(t, TOOL_EXIT_FAIL, "%s is a %s policy: site keys live under a "
                      "files policy (policy create --type files)", policy,
                      ptype_name(type));
}

/* A policy blob file @path must be a FILES policy: read from its header
 * with DEP11_GetPolicyInfo, before anything is unwrapped. (A name that is
 * no file is left to tool_unwrap_policy; check_unwrapped() checks it.) */
static int require_files_policy(struct tool *t, const char *path)
{
    CK_DEP11_POLICY_INFO info;
    unsigned char *blob = NULL;
    size_t len = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (strcmp(path, "-") == 0 || access(path, F_OK) != 0)
        return TOOL_EXIT_OK;
    if (t->dep11 == NULL || t->dep11->DEP11_GetPolicyInfo == NULL)
        return tool_error(t, TOOL_EXIT_MODULE,
                          "the module is not dep11 (no DEP11_GetFunctionList)");
    if (tool_read_file(t, path, TOOL_BLOB_MAX, &blob, &len) != 0)
        return TOOL_EXIT_USAGE;
    memset(&info, 0, sizeof info);
    rv = t->dep11->DEP11_GetPolicyInfo(blob, len, &info);
    free(blob);
    if (rv != CKR_OK)
        return tool_fail_rv(t, "DEP11_GetPolicyInfo", rv);
    if (info.ulPolicyType != DEP11_POLICY_FILES)
        return not_files(t, path, info.ulPolicyType);
    return TOOL_EXIT_OK;
}

/* The unwrapped policy key @pol must be a FILES policy key. */
static int check_unwrapped(struct tool *t, const char *policy, CK_OBJECT_HANDLE pol)
{
    CK_ULONG type = 0;
    CK_RV rv = tool_get_ulong(t, pol, CKA_DEP11_POLICY_TYPE, &type);

    if (rv != CKR_OK)
        return tool_fail_rv(t, "C_GetAttributeValue (policy type)", rv);
    return type == DEP11_POLICY_FILES ? TOOL_EXIT_OK : not_files(t, policy, type);
}

/*
 * Loads the module, logs in, checks that @policy is a FILES policy,
 * unwraps it (for @requester) and unwraps the site blob @site for
 * @site_id (C_UnwrapKey CKM_DEP11_CHILD_UNWRAP). On success *@pol and *@key
 * are session objects the caller destroys. Returns a TOOL_EXIT_ code
 * (message printed); on failure both handles are CK_INVALID_HANDLE.
 */
int tool_unwrap_site(struct tool *t, const char *policy, const char *site,
                     const unsigned char site_id[16], CK_ULONG requester,
                     CK_OBJECT_HANDLE *pol, CK_OBJECT_HANDLE *key)
{
    unsigned char *blob = NULL;
    size_t len = 0;
    int rc = tool_load(t);

    *pol = *key = CK_INVALID_HANDLE;
    if (rc == TOOL_EXIT_OK)
        rc = require_files_policy(t, policy);
    if (rc == TOOL_EXIT_OK && tool_read_file(t, site, TOOL_BLOB_MAX, &blob, &len) != 0)
        rc = TOOL_EXIT_USAGE;
    if (rc == TOOL_EXIT_OK)
        rc = tool_open(t, 0, CKU_USER, NULL);
    if (rc == TOOL_EXIT_OK)
        rc = tool_unwrap_policy(t, policy, requester, pol);
    if (rc == TOOL_EXIT_OK)
        rc = check_unwrapped(t, policy, *pol);
    if (rc == TOOL_EXIT_OK)
        rc = tool_child_unwrap(t, *pol, site_id, blob, len, "site", key);
    free(blob);
    if (rc != TOOL_EXIT_OK) {
        tool_destroy(t, *pol);
        *pol = CK_INVALID_HANDLE;
    }
    return rc;
}

/* C_WrapKey(CKM_DEP11_CHILD_WRAP) of site key @key under @pol; writes it. */
static int wrap_site(struct tool *t, const struct site_opts *o, CK_OBJECT_HANDLE pol,
                     CK_OBJECT_HANDLE key)
{
    CK_DEP11_CHILD_PARAMS p;
    CK_MECHANISM mech = { CKM_DEP11_CHILD_WRAP, &p, sizeof p };
    unsigned char blob[CHILD_BLOB_LEN];
    CK_ULONG len = sizeof blob;
    CK_RV rv = CKR_GENERAL_ERROR;
    char id[33];

    memcpy(p.ownerId, o->id, 16);
    rv = t->p11->C_WrapKey(t->session, &mech, pol, key, blob, &len);
    if (rv != CKR_OK)
        return tool_fail_rv(t, "C_WrapKey (site key)", rv);
    if (tool_write_atomic(t, o->out, blob, len, o->force) != 0)
        return TOOL_EXIT_FAIL;
    tool_hex(o->id, 16, id);
    if (t->opt.json) {
        printf("{\"ok\":true,\"site_id\":\"%s\",\"file\":", id);
        tool_json_str(stdout, o->out);
        printf(",\"bytes\":%lu}\n", (unsigned long)len);
    } else {
        printf("site key for site %s wrapped under the files policy: %s "
               "(%lu bytes)\n", id, o->out, (unsigned long)len);
    }
    return TOOL_EXIT_OK;
}

static int site_create(struct tool *t, int argc, char **argv)
{
    static const struct option lo[] = {
        {"policy", 1, NULL, OPT_POLICY}, {"site-id", 1, NULL, OPT_SITE_ID},
        {"out", 1, NULL, OPT_OUT}, {"force", 0, NULL, OPT_FORCE},
        {"requester", 1, NULL, OPT_REQUESTER}, TOOL_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    CK_MECHANISM mech = { CKM_DEP11_KEY_GEN, NULL, 0 };
    CK_ULONG role = DEP11_ROLE_SITE;
    CK_ATTRIBUTE tmpl[] = { { CKA_DEP11_ROLE, &role, sizeof role } };
    CK_OBJECT_HANDLE pol = CK_INVALID_HANDLE, key = CK_INVALID_HANDLE;
    struct site_opts o;
    CK_RV rv = CKR_GENERAL_ERROR;
    int rc = 0;

    memset(&o, 0, sizeof o);
    o.requester = DEP11_REQUESTER_USER;
    rc = tool_parse_no_operands(t, &tool_cmd_site_create, argc, argv, lo,
                                site_opt, &o);
    if (rc != 0)
        return rc < 0 ? TOOL_EXIT_OK : rc;
    if (!o.policy || !o.site_id || !o.out)
        return tool_error(t, TOOL_EXIT_USAGE,
                          "--policy, --site-id and --out are required");
    if (tool_owner_id(o.site_id, o.id) != 0)
        return tool_error(t, TOOL_EXIT_USAGE, "--site-id must not be empty");
    if (tool_check_out(t, o.out, o.force) != TOOL_EXIT_OK)
        return TOOL_EXIT_USAGE;
    rc = tool_load(t);
    if (rc == TOOL_EXIT_OK)
        rc = require_files_policy(t, o.policy);
    if (rc == TOOL_EXIT_OK)
        rc = tool_open(t, 0, CKU_USER, NULL);
    if (rc == TOOL_EXIT_OK)
        rc = tool_unwrap_policy(t, o.policy, o.requester, &pol);
    if (rc == TOOL_EXIT_OK)
        rc = check_unwrapped(t, o.policy, pol);
    if (rc == TOOL_EXIT_OK) {
        rv = t->p11->C_GenerateKey(t->session, &mech, tmpl, 1, &key);
        if (rv != CKR_OK) {
            key = CK_INVALID_HANDLE;
            rc = tool_fail_rv(t, "C_GenerateKey (site key)", rv);
        }
    }
    if (rc == TOOL_EXIT_OK)
        rc = wrap_site(t, &o, pol, key);
    tool_destroy(t, key);
    tool_destroy(t, pol);
    return rc;
}

const struct tool_cmd tool_cmd_site_create = {
    "site", "create", site_create,
    "create a site key under a files policy and write its blob",
    "Usage: dep11-tool site create --policy FILE --site-id ID --out FILE\n"
    "         [--requester user|system|recovery] [--force]\n"
    "         --pin-source file:PATH|env:VAR\n\n"
    "The policy must be a files policy (the tenant intermediate key of the\n"
    "SharePoint/OneDrive/Teams-files hierarchy). Unwraps it, generates a site\n"
    "key (C_GenerateKey CKM_DEP11_KEY_GEN) and wraps it under the policy key\n"
    "for the site (C_WrapKey CKM_DEP11_CHILD_WRAP): a 100-byte child blob,\n"
    "written atomically (mode 0600; an existing FILE is kept unless --force).\n"
    "Site ids are 16 bytes: 32 hex digits or a UUID are taken as they are; any\n"
    "other string is hashed (the first 16 bytes of its SHA-256). The same\n"
    "--site-id must be given to file seal and file open.",
};

/* Prints a parsed child blob header. */
static void print_child(struct tool *t, const char *file, const unsigned char *b)
{
    char pid[33], owner[33];

    tool_hex(b + 7, 16, pid);
    tool_hex(b + 24, 16, owner);
    if (t->opt.json) {
        printf("{\"ok\":true,\"file\":");
        tool_json_str(stdout, file);
        printf(",\"bytes\":%d,\"role\":\"%s\",\"policy_id\":\"%s\","
               "\"policy_type\":\"%s\",\"owner\":\"%s\",\"suite\":%u}\n",
               CHILD_BLOB_LEN, role_name(b[6]), pid, ptype_name(b[23]), owner, b[5]);
        return;
    }
    printf("file         %s (%d bytes)\nrole         %s\npolicy id    %s\n"
           "policy type  %s\nowner        %s\nsuite        %u\n", file, CHILD_BLOB_LEN,
           role_name(b[6]), pid, ptype_name(b[23]), owner, b[5]);
}

static int no_opt(struct tool *t, int c, const char *arg, void *ctx)
{
    return TOOL_EXIT_USAGE;
}

static int site_show(struct tool *t, int argc, char **argv)
{
    static const struct option lo[] = { TOOL_COMMON_LONGOPTS, {NULL, 0, NULL, 0} };
    unsigned char *blob = NULL;
    size_t len = 0;
    int rc = 0, first = 0;

    rc = tool_parse(t, &tool_cmd_site_show, argc, argv, lo, no_opt, NULL, &first);
    if (rc != 0)
        return rc < 0 ? TOOL_EXIT_OK : rc;
    if (first != argc - 1)
        return tool_error(t, TOOL_EXIT_USAGE, "give one site blob FILE");
    if (tool_read_file(t, argv[first], TOOL_BLOB_MAX, &blob, &len) != 0)
        return TOOL_EXIT_USAGE;
    if (len != CHILD_BLOB_LEN || memcmp(blob, CHILD_MAGIC, 4) != 0 || blob[4] != 1 ||
        blob[5] != 1)
        rc = tool_error(t, TOOL_EXIT_FAIL, "%s is not a dep11 child blob (%zu bytes; "
                        "want %d, magic D11C, format 1, suite 1)", argv[first], len,
                        CHILD_BLOB_LEN);
    else if (blob[6] < DEP11_ROLE_MAILBOX || blob[6] > DEP11_ROLE_SITE ||
             blob[23] < DEP11_POLICY_MAILBOX || blob[23] > DEP11_POLICY_FILES)
        rc = tool_error(t, TOOL_EXIT_FAIL, "%s: unknown role %u or policy type %u",
                        argv[first], blob[6], blob[23]);
    else
        print_child(t, argv[first], blob);
    free(blob);
    return rc;
}

const struct tool_cmd tool_cmd_site_show = {
    "site", "show", site_show,
    "print the header of a site (child) blob",
    "Usage: dep11-tool site show FILE\n\n"
    "Prints the header of a child blob (docs/FORMATS.md section 3): role (site,\n"
    "or mailbox / workload for other child blobs), the id and type of the\n"
    "policy it is wrapped under, the owner (site) id and the suite. Needs no\n"
    "module, token or login: the blob is parsed, not unwrapped, so an altered\n"
    "header shows here as it is and fails only at unwrap\n"
    "(CKR_WRAPPED_KEY_INVALID).",
};
