/*
 * keys.c - the root key commands: "keys register" (the key officer, logged
 * in as SO, marks a customer RSA key as a root by creating its trusted public
 * twin; DESIGN section 2) and "keys check" (are the roots fit).
 */
#include <stdlib.h>
#include <string.h>

#include "tool.h"

/* One RSA key found on the token, by its public parts. */
struct rsa_key {
    unsigned char *mod, *exp, *id, *label;
    CK_ULONG mod_len, exp_len, id_len, label_len;
};

struct key_list {
    struct rsa_key *k;
    size_t n;
};

static void key_list_free(struct key_list *l)
{
    size_t i = 0;

    for (i = 0; i < l->n; i++) {
        free(l->k[i].mod);
        free(l->k[i].exp);
        free(l->k[i].id);
        free(l->k[i].label);
    }
    free(l->k);
    l->k = NULL;
    l->n = 0;
}

/* Is a key with modulus @mod already in @l? */
static struct rsa_key *key_list_has(const struct key_list *l,
                                    const unsigned char *mod, CK_ULONG len)
{
    size_t i = 0;

    for (i = 0; i < l->n; i++)
        if (l->k[i].mod_len == len && memcmp(l->k[i].mod, mod, len) == 0)
            return &l->k[i];
    return NULL;
}

/* Bits of a big-endian modulus (leading zero bytes ignored). */
static unsigned long mod_bits(const unsigned char *m, CK_ULONG len)
{
    unsigned long bits = 0;
    unsigned char top = 0;

    while (len > 0 && *m == 0) {
        m++;
        len--;
    }
    if (len == 0)
        return 0;
    for (top = *m, bits = (len - 1) * 8; top; top >>= 1)
        bits++;
    return bits;
}

/* Reads the public parts of @h and appends them to @l unless its modulus is
 * there already. Returns a CKR code. */
static CK_RV key_list_add(struct tool *t, struct key_list *l,
                          CK_OBJECT_HANDLE h)
{
    struct rsa_key k, *grown = NULL;
    CK_RV rv = CKR_GENERAL_ERROR;

    memset(&k, 0, sizeof k);
    rv = tool_get_bytes(t, h, CKA_MODULUS, &k.mod, &k.mod_len);
    if (rv == CKR_OK)
        rv = tool_get_bytes(t, h, CKA_PUBLIC_EXPONENT, &k.exp, &k.exp_len);
    if (rv != CKR_OK)
        goto out;
    /* Label and id are optional on a key. */
    (void)tool_get_bytes(t, h, CKA_ID, &k.id, &k.id_len);
    (void)tool_get_bytes(t, h, CKA_LABEL, &k.label, &k.label_len);
    if (key_list_has(l, k.mod, k.mod_len) != NULL) {
        rv = CKR_OK;
        goto out;
    }
    grown = realloc(l->k, (l->n + 1) * sizeof *grown);
    if (grown == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    l->k = grown;
    l->k[l->n++] = k;
    return CKR_OK;
out:
    free(k.mod);
    free(k.exp);
    free(k.id);
    free(k.label);
    return rv;
}

/*
 * Adds to @l the RSA keys of class @cls matching @sel (a CKA_LABEL or CKA_ID
 * attribute, or NULL for all); @trusted: 1 = only CKA_TRUSTED twins, 0 = skip
 * them. Returns a CKR code.
 */
static CK_RV collect(struct tool *t, struct key_list *l, CK_OBJECT_CLASS cls,
                     const CK_ATTRIBUTE *sel, int trusted)
{
    CK_KEY_TYPE kt = CKK_RSA;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[4] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_KEY_TYPE, &kt, sizeof kt },
    };
    CK_ULONG count = 2, i = 0, n = 0;
    CK_OBJECT_HANDLE *found = NULL;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (sel != NULL)
        tmpl[count++] = *sel;
    if (trusted) {
        tmpl[count].type = CKA_TRUSTED;
        tmpl[count].pValue = &yes;
        tmpl[count++].ulValueLen = sizeof yes;
    }
    rv = tool_find(t, tmpl, count, &found, &n);
    for (i = 0; rv == CKR_OK && i < n; i++) {
        if (!trusted && tool_get_bool(t, found[i], CKA_TRUSTED) == 1)
            continue; /* a registered twin is not a source */
        rv = key_list_add(t, l, found[i]);
    }
    free(found);
    return rv;
}

struct reg_opts {
    const char *key_label, *key_id, *so_pin;
    int force;
};

enum { OPT_KEY_LABEL = 1000, OPT_KEY_ID, OPT_SO_PIN };

static int reg_opt(struct tool *t, int c, const char *arg, void *ctx)
{
    struct reg_opts *o = ctx;

    switch (c) {
    case OPT_KEY_LABEL: o->key_label = arg; return 0;
    case OPT_KEY_ID: o->key_id = arg; return 0;
    case OPT_SO_PIN: o->so_pin = arg; return 0;
    default: return TOOL_EXIT_USAGE;
    }
}

/** See tool.h. */
CK_RV tool_twin_create(struct tool *t, const struct tool_twin *tw, CK_OBJECT_HANDLE *h)
{
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE, token = tw->token ? CK_TRUE : CK_FALSE;
    CK_ATTRIBUTE tmpl[14] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_KEY_TYPE, &kt, sizeof kt },
        { CKA_TOKEN, &token, sizeof token },
        { CKA_PRIVATE, &no, sizeof no },
        { CKA_ENCRYPT, &no, sizeof no },
        { CKA_VERIFY, &no, sizeof no },
        { CKA_VERIFY_RECOVER, &no, sizeof no },
        { CKA_WRAP, &no, sizeof no },
        { CKA_DERIVE, &no, sizeof no },
        { CKA_MODULUS, (void *)tw->mod, tw->mod_len },
        { CKA_PUBLIC_EXPONENT, (void *)tw->exp, tw->exp_len },
    };
    CK_ULONG n = 11;

    if (tw->trusted)
        tmpl[n++] = (CK_ATTRIBUTE){ CKA_TRUSTED, &yes, sizeof yes };
    if (tw->label != NULL)
        tmpl[n++] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)tw->label, strlen(tw->label) };
    if (tw->id != NULL)
        tmpl[n++] = (CK_ATTRIBUTE){ CKA_ID, (void *)tw->id, tw->id_len };
    *h = CK_INVALID_HANDLE;
    return t->p11->C_CreateObject(t->session, tmpl, n, h);
}

/* Creates the trusted twin of @k (SO session). Returns a CKR code. */
static CK_RV create_twin(struct tool *t, const struct rsa_key *k, const char *label)
{
    const struct tool_twin tw = { k->mod,    k->exp, k->id, k->mod_len, k->exp_len,
                                  k->id_len, label,  1,     1 };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    return tool_twin_create(t, &tw, &h);
}

/* Prints one key's outcome (table line or JSON array element). */
static void report_key(struct tool *t, const struct rsa_key *k, int first,
                       const char *status, const char *twin)
{
    char id[2 * 64 + 1] = "";

    if (k->id != NULL && k->id_len <= 64)
        tool_hex(k->id, k->id_len, id);
    if (t->opt.json) {
        printf("%s{\"label\":", first ? "" : ",");
        tool_json_str(stdout, k->label ? (char *)k->label : "");
        printf(",\"id\":\"%s\",\"bits\":%lu,\"status\":\"%s\",\"twin\":", id,
               mod_bits(k->mod, k->mod_len), status);
        tool_json_str(stdout, twin);
        printf("}");
        return;
    }
    if (strcmp(status, "registered") == 0)
        printf("registered key \"%s\" (id %s, RSA %lu): created trusted "
               "public key \"%s\"\n", k->label ? (char *)k->label : "", id,
               mod_bits(k->mod, k->mod_len), twin);
    else if (k->label != NULL && strcmp((char *)k->label, twin) == 0)
        printf("already registered: trusted public key \"%s\" (id %s, RSA "
               "%lu)\n", twin, id, mod_bits(k->mod, k->mod_len));
    else
        printf("key \"%s\" (id %s, RSA %lu) is already registered "
               "(trusted public key \"%s\")\n", k->label ? (char *)k->label : "",
               id, mod_bits(k->mod, k->mod_len), twin);
}

/* Registers every source key that has no twin yet. */
static int register_all(struct tool *t, const struct key_list *src,
                        const struct key_list *twins)
{
    size_t i = 0;
    CK_RV rv = CKR_GENERAL_ERROR;
    char label[DEP11_LABEL_MAX * 4 + 16];

    if (t->opt.json)
        printf("{\"ok\":true,\"keys\":[");
    for (i = 0; i < src->n; i++) {
        const struct rsa_key *k = &src->k[i];
        const struct rsa_key *tw = key_list_has(twins, k->mod, k->mod_len);
        if (tw != NULL) {
            report_key(t, k, i == 0, "already-registered",
                       tw->label ? (char *)tw->label : "");
            continue;
        }
        snprintf(label, sizeof label, "%.*s.registered",
                 (int)(k->label_len > 200 ? 200 : k->label_len),
                 k->label ? (char *)k->label : "");
        rv = create_twin(t, k, label);
        if (rv != CKR_OK) {
            if (t->opt.json)
                printf("]}\n");
            return tool_fail_rv(t, "C_CreateObject (trusted public key)", rv);
        }
        report_key(t, k, i == 0, "registered", label);
    }
    if (t->opt.json)
        printf("]}\n");
    return TOOL_EXIT_OK;
}

/* Builds the key selector attribute from --key-label / --key-id. */
static int make_selector(struct tool *t, const struct reg_opts *o,
                         CK_ATTRIBUTE *sel, unsigned char **idbuf)
{
    size_t len = 0;

    if ((o->key_label == NULL) == (o->key_id == NULL))
        return tool_error(t, TOOL_EXIT_USAGE,
                          "give exactly one of --key-label and --key-id");
    if (o->so_pin == NULL)
        return tool_error(t, TOOL_EXIT_USAGE,
                          "--so-pin-source file:PATH|env:VAR is required");
    if (tool_check_pin_source(t, o->so_pin, "--so-pin-source") != 0)
        return TOOL_EXIT_USAGE;
    if (o->key_label != NULL) {
        sel->type = CKA_LABEL;
        sel->pValue = (void *)o->key_label;
        sel->ulValueLen = strlen(o->key_label);
        return TOOL_EXIT_OK;
    }
    if (tool_unhex_alloc(o->key_id, idbuf, &len) != 0)
        return tool_error(t, TOOL_EXIT_USAGE,
                          "--key-id takes hex digits (e.g. 01ab)");
    sel->type = CKA_ID;
    sel->pValue = *idbuf;
    sel->ulValueLen = len;
    return TOOL_EXIT_OK;
}

/* Finds the source keys: through a user login when --pin-source is given
 * (so private keys and private public halves count), then as the SO. */
static int find_sources(struct tool *t, const CK_ATTRIBUTE *sel,
                        struct key_list *src)
{
    CK_RV rv = CKR_OK;
    int rc = TOOL_EXIT_OK;

    if (t->opt.pin_source != NULL) {
        rc = tool_open(t, 0, CKU_USER, NULL);
        if (rc != TOOL_EXIT_OK)
            return rc;
        rv = collect(t, src, CKO_PRIVATE_KEY, sel, 0);
        if (rv == CKR_OK)
            rv = collect(t, src, CKO_PUBLIC_KEY, sel, 0);
        tool_end_session(t);
        if (rv != CKR_OK)
            return tool_fail_rv(t, "reading the key", rv);
    }
    return TOOL_EXIT_OK;
}

static int keys_register(struct tool *t, int argc, char **argv)
{
    static const struct option lo[] = {
        {"key-label", 1, NULL, OPT_KEY_LABEL}, {"key-id", 1, NULL, OPT_KEY_ID},
        {"so-pin-source", 1, NULL, OPT_SO_PIN}, TOOL_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct reg_opts o;
    struct key_list src = { NULL, 0 }, twins = { NULL, 0 };
    CK_ATTRIBUTE sel;
    unsigned char *idbuf = NULL;
    CK_RV rv = CKR_OK;
    int rc = TOOL_EXIT_USAGE;

    memset(&o, 0, sizeof o);
    rc = tool_parse_no_operands(t, &tool_cmd_keys_register, argc, argv, lo,
                                reg_opt, &o);
    if (rc != 0)
        return rc < 0 ? TOOL_EXIT_OK : rc;
    rc = make_selector(t, &o, &sel, &idbuf);
    if (rc == TOOL_EXIT_OK)
        rc = tool_load(t);
    if (rc == TOOL_EXIT_OK)
        rc = find_sources(t, &sel, &src);
    if (rc == TOOL_EXIT_OK)
        rc = tool_open(t, 1, CKU_SO, o.so_pin);
    if (rc != TOOL_EXIT_OK)
        goto out;
    rv = collect(t, &src, CKO_PUBLIC_KEY, &sel, 0);
    if (rv == CKR_OK)
        rv = collect(t, &twins, CKO_PUBLIC_KEY, NULL, 1);
    if (rv != CKR_OK) {
        rc = tool_fail_rv(t, "C_FindObjects", rv);
        goto out;
    }
    /* No source: the selector may name a twin itself (then it is
     * registered already), or nothing the SO can see. */
    if (src.n == 0)
        rv = collect(t, &src, CKO_PUBLIC_KEY, &sel, 1);
    if (rv != CKR_OK)
        rc = tool_fail_rv(t, "C_FindObjects", rv);
    else if (src.n == 0)
        rc = tool_error(t, TOOL_EXIT_FAIL,
                        "no RSA key %s %s visible to the SO on the token (if "
                        "its public key is private, add --pin-source)",
                        o.key_label ? "labelled" : "with id",
                        o.key_label ? o.key_label : o.key_id);
    else
        rc = register_all(t, &src, &twins);
out:
    key_list_free(&src);
    key_list_free(&twins);
    free(idbuf);
    return rc;
}

const struct tool_cmd tool_cmd_keys_register = {
    "keys", "register", keys_register,
    "register a customer RSA key as a root (as the token's SO)",
    "Usage: dep11-tool keys register (--key-label LABEL | --key-id HEX)\n"
    "                                --so-pin-source file:PATH|env:VAR\n"
    "                                [--pin-source file:PATH|env:VAR]\n\n"
    "The customer's key officer registers a root (DESIGN section 2): logged in\n"
    "as the token's SO, the tool finds the RSA key(s) with that CKA_LABEL or\n"
    "CKA_ID and creates, for each, a token public-key object with the same\n"
    "modulus and exponent, CKA_TRUSTED=TRUE, CKA_PRIVATE=FALSE, no usage\n"
    "(encrypt, verify, wrap all FALSE), label \"<label>.registered\" and the\n"
    "same CKA_ID. dep11 uses a customer key as a root only if this twin exists.\n"
    "Only the SO can create a trusted object; a user login gets\n"
    "CKR_ATTRIBUTE_READ_ONLY.\n"
    "Idempotent: a key that already has a trusted twin is reported and left\n"
    "alone (exit 0).\n"
    "The SO sees only public objects: when the key's public half is private\n"
    "(pkcs11-tool --private), give --pin-source too and the tool first reads\n"
    "the key's public parts through a user login.",
};


/* One private key's check results. */
struct key_state {
    int sensitive, extractable, decrypt, registered;
    CK_ULONG route; /* DEP11_ROOT_REG_*: the route that registered it */
    unsigned long bits;
};

static const char *route_name(CK_ULONG route, int json)
{
    if (route == DEP11_ROOT_REG_SO_LOGIN)
        return json ? "\"so-login\"" : "so-login";
    if (route == DEP11_ROOT_REG_TWIN)
        return json ? "\"trusted-twin\"" : "twin";
    return json ? "null" : "-";
}

/* Fit to be a root: registered (a twin public key on the token), sensitive
 * and not extractable. The table and --json both read this. */
static int key_fit(const struct key_state *s)
{
    return s->registered && s->sensitive == 1 && s->extractable == 0;
}

static const char *yes_no(int v)
{
    return v < 0 ? "?" : v ? "yes" : "no";
}

/* Prints one line (or JSON element) of "keys check". */
static void check_line(struct tool *t, const struct rsa_key *k,
                       const struct key_state *s, int first)
{
    char id[2 * 64 + 1] = "";
    const char *label = k->label ? (char *)k->label : "";
    int fit = key_fit(s);

    if (k->id != NULL && k->id_len <= 64)
        tool_hex(k->id, k->id_len, id);
    if (t->opt.json) {
        printf("%s{\"label\":", first ? "" : ",");
        tool_json_str(stdout, label);
        printf(",\"id\":\"%s\",\"bits\":%lu,\"sensitive\":%s,"
               "\"extractable\":%s,\"decrypt\":%s,\"registered\":%s,"
               "\"route\":%s,\"fit\":%s}",
               id, s->bits, s->sensitive == 1 ? "true" : "false",
               s->extractable != 0 ? "true" : "false", s->decrypt == 1 ? "true" : "false",
               s->registered ? "true" : "false", route_name(s->route, 1),
               fit ? "true" : "false");
        return;
    }
    printf("%-24s %-16s %5lu  %-9s %-11s %-7s %-10s %-5s %s\n", label, id, s->bits,
           yes_no(s->sensitive), yes_no(s->extractable), yes_no(s->decrypt),
           s->registered ? "yes" : "no",
           !s->registered ? "-"
           : fit          ? "fit"
                          : "UNFIT",
           route_name(s->route, 0));
}

/* Reads the state of private key @h; its public parts go to @k. */
static CK_RV key_state_read(struct tool *t, CK_OBJECT_HANDLE h,
                            const struct key_list *twins, struct key_list *one,
                            struct key_state *s)
{
    CK_RV rv = key_list_add(t, one, h);
    CK_ATTRIBUTE reg = { CKA_DEP11_ROOT_REGISTERED, NULL, sizeof(CK_ULONG) };
    const struct rsa_key *k = NULL;

    if (rv != CKR_OK)
        return rv;
    k = &one->k[0];
    s->bits = mod_bits(k->mod, k->mod_len);
    s->sensitive = tool_get_bool(t, h, CKA_SENSITIVE);
    s->extractable = tool_get_bool(t, h, CKA_EXTRACTABLE);
    s->decrypt = tool_get_bool(t, h, CKA_DECRYPT);
    /* Through dep11 its answer, by the profile's route (a so-login record
     * is on dep11's provider token, out of the tool's sight); on the HSM's
     * own library only a twin can be seen. */
    reg.pValue = &s->route;
    if (t->p11->C_GetAttributeValue(t->session, h, &reg, 1) != CKR_OK ||
        reg.ulValueLen != sizeof s->route)
        s->route = key_list_has(twins, k->mod, k->mod_len) != NULL ? DEP11_ROOT_REG_TWIN
                                                                   : DEP11_ROOT_REG_NONE;
    s->registered = s->route != DEP11_ROOT_REG_NONE;
    return CKR_OK;
}

static int no_opt(struct tool *t, int c, const char *arg, void *ctx)
{
    return TOOL_EXIT_USAGE;
}

struct labelled {
    char *label;
    CK_OBJECT_HANDLE h;
};

static int by_label(const void *a, const void *b)
{
    const struct labelled *x = a, *y = b;
    int c = strcmp(x->label ? x->label : "", y->label ? y->label : "");

    return c != 0 ? c : (x->h > y->h) - (x->h < y->h);
}

/* Orders @found by CKA_LABEL, so that the listing is stable. */
static void sort_by_label(struct tool *t, CK_OBJECT_HANDLE *found, CK_ULONG n)
{
    struct labelled *l = calloc(n ? n : 1, sizeof *l);
    CK_ULONG i = 0, len = 0;

    if (l == NULL)
        return; /* unsorted is still correct */
    for (i = 0; i < n; i++) {
        l[i].h = found[i];
        (void)tool_get_bytes(t, found[i], CKA_LABEL,
                             (unsigned char **)&l[i].label, &len);
    }
    qsort(l, n, sizeof *l, by_label);
    for (i = 0; i < n; i++) {
        found[i] = l[i].h;
        free(l[i].label);
    }
    free(l);
}

/* Lists every RSA private key with what makes it fit to be a root. */
static int check_all(struct tool *t, CK_OBJECT_HANDLE *found, CK_ULONG n,
                     const struct key_list *twins)
{
    struct key_list one = { NULL, 0 };
    struct key_state s;
    CK_ULONG i = 0, unfit = 0;
    CK_RV rv = CKR_OK;

    sort_by_label(t, found, n);
    if (t->opt.json)
        printf("{\"ok\":true,\"keys\":[");
    else
        printf("%-24s %-16s %5s  %-9s %-11s %-7s %-10s %-5s %s\n", "LABEL", "ID", "BITS",
               "SENSITIVE", "EXTRACTABLE", "DECRYPT", "REGISTERED", "ROOT", "ROUTE");
    for (i = 0; i < n; i++) {
        memset(&s, 0, sizeof s);
        rv = key_state_read(t, found[i], twins, &one, &s);
        if (rv != CKR_OK)
            break;
        check_line(t, &one.k[0], &s, i == 0);
        if (s.registered && !key_fit(&s))
            unfit++;
        key_list_free(&one);
    }
    if (t->opt.json)
        printf("],\"unfit\":%lu}\n", (unsigned long)unfit);
    key_list_free(&one);
    if (rv != CKR_OK)
        return tool_fail_rv(t, "C_GetAttributeValue", rv);
    if (unfit > 0) {
        fprintf(stderr, "dep11-tool: %s: %lu registered key(s) not fit to be "
                "a root (extractable or not sensitive); dep11 refuses them "
                "with CKR_KEY_FUNCTION_NOT_PERMITTED\n", t->cmd,
                (unsigned long)unfit);
        return TOOL_EXIT_FAIL;
    }
    return TOOL_EXIT_OK;
}

static int keys_check(struct tool *t, int argc, char **argv)
{
    static const struct option lo[] = { TOOL_COMMON_LONGOPTS,
                                        {NULL, 0, NULL, 0} };
    struct key_list twins = { NULL, 0 };
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_KEY_TYPE, &kt, sizeof kt },
    };
    CK_OBJECT_HANDLE *found = NULL;
    CK_ULONG n = 0;
    CK_RV rv = CKR_OK;
    int rc = TOOL_EXIT_USAGE;

    rc = tool_parse_no_operands(t, &tool_cmd_keys_check, argc, argv, lo, no_opt,
                                NULL);
    if (rc != 0)
        return rc < 0 ? TOOL_EXIT_OK : rc;
    rc = tool_load_login(t, 0);
    if (rc != TOOL_EXIT_OK)
        return rc;
    rv = collect(t, &twins, CKO_PUBLIC_KEY, NULL, 1);
    if (rv == CKR_OK)
        rv = tool_find(t, tmpl, 2, &found, &n);
    if (rv != CKR_OK)
        rc = tool_fail_rv(t, "C_FindObjects", rv);
    else
        rc = check_all(t, found, n, &twins);
    free(found);
    key_list_free(&twins);
    return rc;
}

const struct tool_cmd tool_cmd_keys_check = {
    "keys",
    "check",
    keys_check,
    "list the RSA private keys and whether they can serve as roots",
    "Usage: dep11-tool keys check --pin-source file:PATH|env:VAR\n\n"
    "Logs in as the user and lists every RSA private key on the token: label,\n"
    "CKA_ID, bits, sensitive, extractable, decrypt allowed, registered, and\n"
    "the ROUTE that registered it: \"twin\" (a trusted public twin with the same\n"
    "modulus, see keys register) or \"so-login\" (a record dep11 wrote after the\n"
    "SO's login, see root register; only dep11 can tell: give --module libdep11.so;\n"
    "on the HSM's own library only twins are seen). --json: \"route\" is\n"
    "\"trusted-twin\", \"so-login\" or null.\n"
    "ROOT is \"fit\" for a registered key that is sensitive and not\n"
    "extractable, \"UNFIT\" otherwise, \"-\" for an unregistered key (under\n"
    "--json \"fit\" is true only for a fit registered key). A key with\n"
    "decrypt off is revoked.\n"
    "Exit 1 when a registered key is unfit.",
};
