/*
 * provider.c - "provider init": provisions dep11's provider token (DESIGN
 * section 2, "Provisioning"): provider roots 1 and 2, the provider MAC key
 * and the receipt signing key, with the labels of include/dep11-provider.h.
 * dep11 never creates these keys itself, and it hides the provider token
 * from its consumers, so this command cannot go through libdep11.so: it
 * reads three keys of the dep11 config (profile, provider-token,
 * provider-pin; same syntax rules as the module), loads the HSM's own
 * PKCS#11 module (the profile's "module", or --module), finds the token,
 * logs in as its user and creates the keys. The key templates live here
 * and nowhere else; the module only finds the keys.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <p11-kit/p11-kit.h>

#include "provider_tmpl.h"
#include "tool.h"

#ifndef DEP11_SYSCONF_PATH
#define DEP11_SYSCONF_PATH "/etc/dep11/dep11.conf"
#endif
#ifndef DEP11_PROFILE_DIR
#define DEP11_PROFILE_DIR "/usr/share/dep11/hsm-profiles"
#endif

#define PATH_CAP 4096
#define LINE_MAX_LEN 4096       /* as the module: longer lines are an error */
#define FILE_MAX_LEN (1 << 20)

struct pinit {
    const char *config;             /* --config, else $DEP11_CONF, else installed */
    int force;                      /* --force-complete */
    char dir[PATH_CAP];             /* the config's directory */
    char profile[PATH_CAP];         /* resolved profile file */
    char token[PATH_CAP];           /* provider-token: label or pkcs11: URI */
    char pin[PATH_CAP];             /* provider-pin: file:ABSPATH or env:VAR */
    char module[PATH_CAP];          /* the profile's module, or --module */
    CK_ULONG rsa_bits;              /* the profile's provider-rsa-bits */
    int sign_rsa;                   /* the profile's receipt-signature is rsa-pss */
    /* what the token holds */
    CK_ULONG nobj;                  /* objects of any kind */
    CK_ULONG npriv[K_COUNT], npub[K_COUNT];
    CK_OBJECT_HANDLE made[2 * K_COUNT]; /* created by this run (undone on failure) */
    size_t nmade;
};

/* ---- the config: three keys, the module's syntax ---- */

static char *trim(char *s)
{
    char *e = NULL;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    *e = '\0';
    return s;
}

/* A path value: absolute as written, relative from @dir. 0 if too long. */
static int set_path(const char *dir, const char *v, char *out)
{
    int n = v[0] == '/' ? snprintf(out, PATH_CAP, "%s", v)
                        : snprintf(out, PATH_CAP, "%s/%s", dir, v);

    return n > 0 && n < PATH_CAP;
}

/*
 * Reads the "key = value" lines of @path and copies the values of the keys
 * named in @keys (NULL-terminated) into @vals (PATH_CAP each). Blank lines,
 * '#' comments and a '#' after a blank end a line, as in the module; other
 * keys are not this command's business (the module checks them); a wanted
 * key given twice is an error. Returns 0 or TOOL_EXIT_USAGE (printed).
 */
static int read_keys(struct tool *t, const char *path, const char *const *keys,
                     char (*vals)[PATH_CAP])
{
    unsigned char *data = NULL;
    unsigned seen[4] = { 0 }, line = 0;
    size_t len = 0, i = 0, k = 0;
    char *p = NULL, *nl = NULL, *key = NULL, *eq = NULL;
    int rc = tool_read_all(t, path, FILE_MAX_LEN, &data, &len);

    for (p = (char *)data; rc == 0 && p != NULL && p < (char *)data + len; p = nl) {
        line++;
        nl = strchr(p, '\n');
        if (nl != NULL)
            *nl++ = '\0';
        if (strlen(p) > LINE_MAX_LEN) {
            rc = tool_error(t, TOOL_EXIT_USAGE, "%s:%u: line too long", path, line);
            break;
        }
        key = trim(p);
        if (key[0] == '\0' || key[0] == '#')
            continue;
        for (i = 1; key[i] != '\0'; i++)
            if (key[i] == '#' && (key[i - 1] == ' ' || key[i - 1] == '\t')) {
                key[i] = '\0';
                break;
            }
        eq = strchr(key, '=');
        if (eq == NULL) {
            rc = tool_error(t, TOOL_EXIT_USAGE, "%s:%u: expected 'key = value'", path, line);
            break;
        }
        *eq = '\0';
        key = trim(key);
        for (k = 0; keys[k] != NULL && strcmp(keys[k], key) != 0; k++)
            ;
        if (keys[k] == NULL)
            continue;
        if (seen[k] != 0) {
            rc = tool_error(t, TOOL_EXIT_USAGE, "%s:%u: duplicate key '%s'", path, line, key);
            break;
        }
        seen[k] = line;
        if (snprintf(vals[k], PATH_CAP, "%s", trim(eq + 1)) >= PATH_CAP)
            rc = tool_error(t, TOOL_EXIT_USAGE, "%s:%u: value too long", path, line);
    }
    free(data);
    return rc;
}

static int is_file(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The profile file a "profile" value names, resolved as the module does: a
 * path (relative from the config's directory), or a bare name looked up in
 * the installed profiles, then beside the config. */
static int find_profile(struct tool *t, struct pinit *p, const char *ref)
{
    size_t n = strlen(ref);
    const char *ext = n > 5 && strcmp(ref + n - 5, ".conf") == 0 ? "" : ".conf";

    if (strchr(ref, '/') != NULL) {
        if (set_path(p->dir, ref, p->profile) && is_file(p->profile))
            return 0;
        return tool_error(t, TOOL_EXIT_USAGE, "profile %s: not a readable file", ref);
    }
    if (snprintf(p->profile, PATH_CAP, "%s/%s%s", DEP11_PROFILE_DIR, ref, ext) < PATH_CAP &&
        is_file(p->profile))
        return 0;
    if (snprintf(p->profile, PATH_CAP, "%s/%s", p->dir, ref) < PATH_CAP && is_file(p->profile))
        return 0;
    if (*ext && snprintf(p->profile, PATH_CAP, "%s/%s%s", p->dir, ref, ext) < PATH_CAP &&
        is_file(p->profile))
        return 0;
    return tool_error(t, TOOL_EXIT_USAGE, "profile '%s' not found in %s or %s", ref,
                      DEP11_PROFILE_DIR, p->dir);
}

/* The provider-pin value: file:PATH (relative from the config) or env:VAR. */
static int set_pin(struct tool *t, struct pinit *p, const char *v)
{
    char path[PATH_CAP];

    if (strncmp(v, "env:", 4) == 0 && v[4] != '\0') {
        (void)snprintf(p->pin, PATH_CAP, "%s", v);
        return 0;
    }
    if (strncmp(v, "file:", 5) != 0 || v[5] == '\0' || !set_path(p->dir, v + 5, path))
        return tool_error(t, TOOL_EXIT_USAGE, "%s: provider-pin must be file:PATH or "
                          "env:VAR, never the PIN itself (value not shown)", p->config);
    if (snprintf(p->pin, PATH_CAP, "file:%s", path) >= PATH_CAP)
        return tool_error(t, TOOL_EXIT_USAGE, "%s: provider-pin: path too long", p->config);
    return 0;
}

/* The config's profile, provider-token, provider-pin; the profile's module
 * (unless --module), provider-rsa-bits and receipt-signature. */
static int read_config(struct tool *t, struct pinit *p)
{
    static const char *const ckeys[] = { "profile", "provider-token", "provider-pin", NULL };
    static const char *const pkeys_[] = { "module", "provider-rsa-bits", "receipt-signature",
                                          NULL };
    char cv[3][PATH_CAP], pv[3][PATH_CAP];
    char *slash = NULL;
    int rc = 0, i = 0;

    memset(cv, 0, sizeof cv);
    memset(pv, 0, sizeof pv);
    if (p->config == NULL || *p->config == '\0')
        p->config = getenv("DEP11_CONF");
    if (p->config == NULL || *p->config == '\0')
        p->config = DEP11_SYSCONF_PATH;
    (void)snprintf(p->dir, PATH_CAP, "%s", p->config);
    slash = strrchr(p->dir, '/');
    if (slash == NULL)
        (void)snprintf(p->dir, PATH_CAP, ".");
    else
        slash[slash == p->dir] = '\0';
    rc = read_keys(t, p->config, ckeys, cv);
    for (i = 0; rc == 0 && ckeys[i] != NULL; i++)
        if (cv[i][0] == '\0')
            rc = tool_error(t, TOOL_EXIT_USAGE, "%s: missing key '%s'", p->config, ckeys[i]);
    if (rc == 0)
        rc = find_profile(t, p, cv[0]);
    if (rc == 0)
        rc = set_pin(t, p, cv[2]);
    if (rc == 0)
        rc = read_keys(t, p->profile, pkeys_, pv);
    if (rc != 0)
        return rc;
    (void)snprintf(p->token, PATH_CAP, "%s", cv[1]);
    if (t->opt.module != NULL)
        (void)snprintf(p->module, PATH_CAP, "%s", t->opt.module);
    else if (pv[0][0] != '\0')
        (void)snprintf(p->module, PATH_CAP, "%s", pv[0]);
    else
        return tool_error(t, TOOL_EXIT_USAGE, "profile %s has no 'module'", p->profile);
    p->rsa_bits = pv[1][0] == '\0' ? 3072 : strtoul(pv[1], NULL, 10);
    if (p->rsa_bits != 2048 && p->rsa_bits != 3072 && p->rsa_bits != 4096)
        return tool_error(t, TOOL_EXIT_USAGE, "profile %s: provider-rsa-bits is 2048, "
                          "3072 or 4096", p->profile);
    p->sign_rsa = strcmp(pv[2], "rsa-pss") == 0;
    if (pv[2][0] != '\0' && !p->sign_rsa && strcmp(pv[2], "ecdsa") != 0)
        return tool_error(t, TOOL_EXIT_USAGE,
                          "profile %s: receipt-signature is ecdsa or "
                          "rsa-pss",
                          p->profile);
    return 0;
}

/* A PIN file that the group or others may read is refused, as the module
 * refuses it (DESIGN section 7). */
static int check_pin_file(struct tool *t, const struct pinit *p)
{
    struct stat st;

    if (strncmp(p->pin, "file:", 5) != 0)
        return 0;
    if (stat(p->pin + 5, &st) != 0)
        return tool_error(t, TOOL_EXIT_USAGE, "provider-pin %s: %s", p->pin,
                          strerror(errno));
    if ((st.st_mode & 077) != 0)
        return tool_error(t, TOOL_EXIT_USAGE, "provider-pin %s: readable by group or "
                          "others (chmod 600 it)", p->pin);
    return 0;
}

/* ---- the HSM's module ---- */

/* Loads the HSM module through p11-kit (as the module does, so a relative
 * name resolves the same way) and initializes it. A module that is dep11
 * itself is refused: dep11 hides the provider token. */
static int load_hsm(struct tool *t, const struct pinit *p)
{
    CK_FUNCTION_LIST *fl = p11_kit_module_load(p->module, P11_KIT_MODULE_UNMANAGED);
    CK_C_INITIALIZE_ARGS args;
    char *file = NULL;
    void *dl = NULL;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (fl == NULL)
        return tool_error(t, TOOL_EXIT_MODULE, "cannot load the HSM module %s: %s",
                          p->module, p11_kit_message() ? p11_kit_message() : "?");
    file = p11_kit_module_get_filename(fl);
    dl = file != NULL ? dlopen(file, RTLD_NOW | RTLD_NOLOAD) : NULL;
    free(file);
    if (dl != NULL && dlsym(dl, "DEP11_GetFunctionList") != NULL)
        return tool_error(t, TOOL_EXIT_USAGE, "%s is dep11 itself: provider init needs "
                          "the HSM's own module (the profile's 'module', or --module)",
                          p->module);
    memset(&args, 0, sizeof args);
    args.flags = CKF_OS_LOCKING_OK;
    rv = fl->C_Initialize(&args);
    if (rv != CKR_OK)
        return tool_error(t, TOOL_EXIT_MODULE, "C_Initialize of %s: %s", p->module,
                          tool_ckr_name(rv));
    t->p11 = fl;
    t->initialized = 1;
    return 0;
}

/* ---- what the token holds ---- */

static CK_RV count(struct tool *t, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_ULONG *out)
{
    CK_OBJECT_HANDLE *all = NULL;
    CK_RV rv = tool_find(t, tmpl, n, &all, out);

    free(all);
    return rv;
}

static CK_RV inventory(struct tool *t, struct pinit *p)
{
    CK_OBJECT_CLASS pubc = CKO_PUBLIC_KEY;
    CK_RV rv = count(t, NULL, 0, &p->nobj);
    size_t k = 0;

    for (k = 0; rv == CKR_OK && k < K_COUNT; k++) {
        CK_OBJECT_CLASS cls = pkeys[k].cls;
        CK_ATTRIBUTE priv[] = { { CKA_CLASS, &cls, sizeof cls },
                                { CKA_LABEL, (void *)pkeys[k].label, strlen(pkeys[k].label) } };
        CK_ATTRIBUTE pub[] = { { CKA_CLASS, &pubc, sizeof pubc },
                               { CKA_LABEL, (void *)pkeys[k].label, strlen(pkeys[k].label) } };

        rv = count(t, priv, 2, &p->npriv[k]);
        p->npub[k] = 0;
        if (rv == CKR_OK && pkeys[k].pair)
            rv = count(t, pub, 2, &p->npub[k]);
    }
    return rv;
}

static int key_complete(const struct pinit *p, size_t k)
{
    return p->npriv[k] == 1 && p->npub[k] == (CK_ULONG)pkeys[k].pair;
}

static int key_absent(const struct pinit *p, size_t k)
{
    return p->npriv[k] == 0 && p->npub[k] == 0;
}

/* May this run create the missing keys? Prints why not. */
static int decide(struct tool *t, const struct pinit *p)
{
    size_t k = 0, complete = 0, absent = 0;

    for (k = 0; k < K_COUNT; k++) {
        complete += key_complete(p, k);
        absent += key_absent(p, k);
    }
    if (complete == K_COUNT)
        return tool_error(t, TOOL_EXIT_FAIL, "provider token %s is already provisioned: "
                          "refused (new provider keys would make every existing blob "
                          "unusable)", p->token);
    for (k = 0; k < K_COUNT; k++)
        if (!key_complete(p, k) && !key_absent(p, k))
            return tool_error(t, TOOL_EXIT_FAIL, "provider token %s holds %lu private/secret "
                              "and %lu public objects labelled %s (expected 1%s): cannot "
                              "repair that; re-initialize the token, then run provider init",
                              p->token, (unsigned long)p->npriv[k],
                              (unsigned long)p->npub[k], pkeys[k].label,
                              pkeys[k].pair ? " and 1" : " and 0");
    if (p->nobj == 0 || p->force)
        return 0;
    if (complete > 0)
        return tool_error(t, TOOL_EXIT_FAIL, "provider token %s is partly provisioned "
                          "(%zu of %d provider keys; an earlier run stopped midway?): "
                          "run provider init --force-complete to create only the missing "
                          "ones, or re-initialize the token", p->token, complete, K_COUNT);
    return tool_error(t, TOOL_EXIT_FAIL, "provider token %s is not empty (%lu objects, no "
                      "provider keys): provider init needs an empty token (--force-complete "
                      "creates the provider keys beside what is there)", p->token,
                      (unsigned long)p->nobj);
}

static CK_RV create_key(struct tool *t, struct pinit *p, size_t k)
{
    CK_OBJECT_HANDLE a = CK_INVALID_HANDLE, b = CK_INVALID_HANDLE;
    CK_RV rv = provider_key_create_for(t->p11, t->session, k, p->rsa_bits, p->sign_rsa, &a, &b);

    if (rv != CKR_OK)
        return rv;
    p->made[p->nmade++] = a;
    if (b != CK_INVALID_HANDLE)
        p->made[p->nmade++] = b;
    return CKR_OK;
}

/* Destroys what this run created (a failure midway leaves the token as it
 * found it, as far as the HSM lets us). */
static void undo(struct tool *t, struct pinit *p)
{
    while (p->nmade > 0)
        (void)t->p11->C_DestroyObject(t->session, p->made[--p->nmade]);
}

/* ---- the command ---- */

enum { OPT_CONFIG = 1000, OPT_FORCE };

static int handle(struct tool *t, int c, const char *arg, void *ctx)
{
    struct pinit *p = ctx;

    (void)t;
    if (c == OPT_CONFIG)
        p->config = arg;
    else if (c == OPT_FORCE)
        p->force = 1;
    return 0;
}

static void report(struct tool *t, const struct pinit *p, const int *created)
{
    size_t k = 0;
    int first = 1;

    if (t->opt.json) {
        printf("{\"ok\":true,\"token\":");
        tool_json_str(stdout, p->token);
        printf(",\"created\":[");
        for (k = 0; k < K_COUNT; k++)
            if (created[k]) {
                printf("%s", first ? "" : ",");
                tool_json_str(stdout, pkeys[k].label);
                first = 0;
            }
        printf("]}\n");
        return;
    }
    printf("provider token %s provisioned\n", p->token);
    for (k = 0; k < K_COUNT; k++)
        printf("  %-28s %s%s\n", pkeys[k].label, pkeys[k].what,
               created[k] ? "" : " (already there)");
}

/* Opens the token: config, PIN file mode, module, token, login. */
static int open_provider(struct tool *t, struct pinit *p)
{
    int rc = 0;

    if (t->opt.token_label != NULL || t->opt.token_uri != NULL || t->opt.pin_source != NULL)
        return tool_error(t, TOOL_EXIT_USAGE, "provider init takes the token and its PIN "
                          "from the dep11 config (provider-token, provider-pin), not from "
                          "--token-label, --token or --pin-source");
    rc = read_config(t, p);
    if (rc == 0)
        rc = check_pin_file(t, p);
    if (rc == 0)
        rc = load_hsm(t, p);
    if (rc != 0)
        return rc;
    if (strncmp(p->token, "pkcs11:", 7) == 0)
        t->opt.token_uri = p->token;
    else
        t->opt.token_label = p->token;
    return tool_open(t, 1, CKU_USER, p->pin);
}

static int provider_init(struct tool *t, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", 1, NULL, OPT_CONFIG}, {"force-complete", 0, NULL, OPT_FORCE},
        TOOL_COMMON_LONGOPTS, {NULL, 0, NULL, 0},
    };
    struct pinit *p = calloc(1, sizeof *p);
    int created[K_COUNT] = { 0 }, rc = 0;
    size_t k = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (p == NULL)
        return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    rc = tool_parse_no_operands(t, &tool_cmd_provider_init, argc, argv, longopts, handle, p);
    if (rc == 0)
        rc = open_provider(t, p);
    if (rc == 0 && (rv = inventory(t, p)) != CKR_OK)
        rc = tool_fail_rv(t, "looking for the provider keys", rv);
    if (rc == 0)
        rc = decide(t, p);
    for (k = 0; rc == 0 && k < K_COUNT; k++) {
        if (!key_absent(p, k))
            continue;
        rv = create_key(t, p, k);
        if (rv != CKR_OK) {
            rc = tool_fail_rv(t, pkeys[k].what, rv);
            undo(t, p);
        } else {
            created[k] = 1;
        }
    }
    /* What the module will look for is there, once each. */
    if (rc == 0 && (rv = inventory(t, p)) != CKR_OK)
        rc = tool_fail_rv(t, "checking the provider keys", rv);
    for (k = 0; rc == 0 && k < K_COUNT; k++)
        if (!key_complete(p, k))
            rc = tool_error(t, TOOL_EXIT_FAIL, "after creation the token holds %lu objects "
                            "labelled %s: another provider init ran at the same time? "
                            "re-initialize the token and run provider init once",
                            (unsigned long)(p->npriv[k] + p->npub[k]), pkeys[k].label);
    if (rc == 0)
        report(t, p, created);
    free(p);
    return rc < 0 ? TOOL_EXIT_OK : rc;
}

const struct tool_cmd tool_cmd_provider_init = {
    "provider",
    "init",
    provider_init,
    "provision the provider token (roots, MAC key, receipt signing key)",
    "Usage: dep11-tool provider init [--config FILE] [--module PATH]\n"
    "                                [--force-complete]\n\n"
    "Creates dep11's provider keys on the provider token named in the dep11\n"
    "config (FILE, else $DEP11_CONF, else the installed dep11.conf):\n"
    "provider roots 1 and 2 (RSA, the profile's provider-rsa-bits), the\n"
    "provider MAC key and the receipt signing key (ECDSA P-256; RSA of\n"
    "provider-rsa-bits signing with RSA-PSS when the profile says\n"
    "receipt-signature = rsa-pss). dep11 never creates them itself. The\n"
    "command talks to the HSM's own PKCS#11 module (the profile's 'module',\n"
    "or --module PATH), not to libdep11.so, and logs\n"
    "in with the config's provider-pin (a PIN file readable by group or\n"
    "others is refused). --token-label, --token and --pin-source are refused.\n"
    "Refused (exit 1) on a provisioned token, on a token that holds other\n"
    "objects, and on a partly provisioned one (a run that stopped midway):\n"
    "--force-complete then creates only the missing keys. A key that is there\n"
    "twice, or half of a key pair, cannot be repaired: re-initialize the token.\n"
    "A failure midway destroys what this run created.",
};
