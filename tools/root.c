/*
 * root.c - "root register" and "root unregister": the customer's key
 * officer registers (unregisters) a root where the profile says
 * "root-registration = so-login" (tokens without CKA_TRUSTED, e.g.
 * opencryptoki): the tool finds the RSA public key by label or id (no
 * login: public objects), computes its identity (SHA-256 of the DER
 * SubjectPublicKeyInfo) and calls DEP11_RegisterRoot with the SO PIN;
 * dep11 itself logs the SO in on a session of its own and records the
 * registration on its provider token (docs/SECURITY.md). Runs in its own
 * process: a user login of the same application on that token makes the
 * SO login fail (CKR_USER_ANOTHER_ALREADY_LOGGED_IN).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "tool.h"

struct root_opts {
    const char *key_label, *key_id, *identity, *so_pin;
};

enum { OPT_KEY_LABEL = 1000, OPT_KEY_ID, OPT_IDENTITY, OPT_SO_PIN };

static int root_opt(struct tool *t, int c, const char *arg, void *ctx)
{
    struct root_opts *o = ctx;

    (void)t;
    switch (c) {
    case OPT_KEY_LABEL: o->key_label = arg; return 0;
    case OPT_KEY_ID: o->key_id = arg; return 0;
    case OPT_IDENTITY: o->identity = arg; return 0;
    case OPT_SO_PIN: o->so_pin = arg; return 0;
    default: return TOOL_EXIT_USAGE;
    }
}

/* SHA-256 of the DER SubjectPublicKeyInfo of (@mod, @exp). 0 or -1. */
static int spki_identity(const unsigned char *mod, CK_ULONG mod_len, const unsigned char *exp,
                         CK_ULONG exp_len, unsigned char id[DEP11_ROOT_ID_LEN])
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *pkey = NULL;
    BIGNUM *n = BN_bin2bn(mod, (int)mod_len, NULL), *e = BN_bin2bn(exp, (int)exp_len, NULL);
    unsigned char *der = NULL;
    unsigned int dl = 0;
    int len = -1, ok = -1;

    if (bld != NULL && ctx != NULL && n != NULL && e != NULL &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) &&
        (params = OSSL_PARAM_BLD_to_param(bld)) != NULL && EVP_PKEY_fromdata_init(ctx) > 0 &&
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) > 0)
        len = i2d_PUBKEY(pkey, &der);
    if (len > 0 && EVP_Digest(der, (size_t)len, id, &dl, EVP_sha256(), NULL) && dl == 32)
        ok = 0;
    OPENSSL_free(der);
    EVP_PKEY_free(pkey);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(n);
    BN_free(e);
    return ok;
}

/* The identity of the one RSA public key matching @sel (no login needed
 * for a public object). Returns a TOOL_EXIT_ code (message printed). */
static int find_identity(struct tool *t, CK_ATTRIBUTE *sel, const char *what,
                         unsigned char id[DEP11_ROOT_ID_LEN])
{
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof cls },
                            { CKA_KEY_TYPE, &kt, sizeof kt },
                            *sel };
    unsigned char *mod = NULL, *exp = NULL, other[DEP11_ROOT_ID_LEN];
    CK_OBJECT_HANDLE *found = NULL;
    CK_ULONG n = 0, ml = 0, el = 0;
    CK_RV rv = tool_find(t, tmpl, 3, &found, &n);
    int rc = TOOL_EXIT_FAIL;

    if (rv != CKR_OK)
        return tool_fail_rv(t, "C_FindObjects", rv);
    for (CK_ULONG i = 0; i < n; i++) {
        rv = tool_get_bytes(t, found[i], CKA_MODULUS, &mod, &ml);
        if (rv == CKR_OK)
            rv = tool_get_bytes(t, found[i], CKA_PUBLIC_EXPONENT, &exp, &el);
        if (rv == CKR_OK && spki_identity(mod, ml, exp, el, i == 0 ? id : other) != 0)
            rv = CKR_GENERAL_ERROR;
        free(mod);
        free(exp);
        mod = exp = NULL;
        if (rv != CKR_OK) {
            rc = tool_fail_rv(t, "reading the public key", rv);
            break;
        }
        if (i > 0 && memcmp(id, other, sizeof other) != 0) {
            rc = tool_error(t, TOOL_EXIT_FAIL, "several RSA keys %s: name one by --key-id",
                            what);
            break;
        }
        rc = TOOL_EXIT_OK;
    }
    free(found);
    if (n == 0)
        rc = tool_error(t, TOOL_EXIT_FAIL,
                        "no RSA public key %s visible without login on the token", what);
    return rc;
}

/* Parses the options into @id (from --identity or the key). */
static int root_identity(struct tool *t, const struct root_opts *o,
                         unsigned char id[DEP11_ROOT_ID_LEN], char *what, size_t what_len)
{
    unsigned char *idbuf = NULL;
    size_t len = 0;
    CK_ATTRIBUTE sel;
    int rc = TOOL_EXIT_OK;

    if (o->identity != NULL) {
        snprintf(what, what_len, "with identity %s", o->identity);
        return tool_unhex(o->identity, id, DEP11_ROOT_ID_LEN) == 0
                   ? TOOL_EXIT_OK
                   : tool_error(t, TOOL_EXIT_USAGE, "--identity takes 64 hex digits");
    }
    if (o->key_label != NULL) {
        sel.type = CKA_LABEL;
        sel.pValue = (void *)o->key_label;
        sel.ulValueLen = strlen(o->key_label);
        snprintf(what, what_len, "labelled \"%s\"", o->key_label);
    } else if (tool_unhex_alloc(o->key_id, &idbuf, &len) != 0) {
        return tool_error(t, TOOL_EXIT_USAGE, "--key-id takes hex digits (e.g. 01ab)");
    } else {
        sel.type = CKA_ID;
        sel.pValue = idbuf;
        sel.ulValueLen = len;
        snprintf(what, what_len, "with id %s", o->key_id);
    }
    rc = find_identity(t, &sel, what, id);
    free(idbuf);
    return rc;
}

static int check_opts(struct tool *t, const struct root_opts *o)
{
    int given = (o->key_label != NULL) + (o->key_id != NULL) + (o->identity != NULL);

    if (given != 1)
        return tool_error(t, TOOL_EXIT_USAGE,
                          "give exactly one of --key-label, --key-id and --identity");
    if (o->so_pin == NULL)
        return tool_error(t, TOOL_EXIT_USAGE, "--so-pin-source file:PATH|env:VAR is required");
    return tool_check_pin_source(t, o->so_pin, "--so-pin-source");
}

/* Calls DEP11_RegisterRoot (@action) with the SO PIN; prints the outcome. */
static int call_register(struct tool *t, const struct root_opts *o, CK_ULONG action,
                         const unsigned char id[DEP11_ROOT_ID_LEN], const char *what)
{
    char *pin = NULL, hex[2 * DEP11_ROOT_ID_LEN + 1];
    size_t pin_len = 0;
    const char *verb = action == DEP11_ROOT_REGISTER ? "registered" : "unregistered";
    CK_RV rv = CKR_GENERAL_ERROR;
    int rc = TOOL_EXIT_OK;

    if (t->dep11 == NULL || t->dep11->version.major != 1 || t->dep11->version.minor < 1)
        return tool_error(t, TOOL_EXIT_FAIL,
                          "the module offers no DEP11_RegisterRoot (not dep11 1.1 or later)");
    rc = tool_read_pin(t, o->so_pin, &pin, &pin_len);
    if (rc != TOOL_EXIT_OK)
        return rc;
    rv = t->dep11->DEP11_RegisterRoot(t->session, action, (CK_BYTE_PTR)id, DEP11_ROOT_ID_LEN,
                                      (CK_UTF8CHAR_PTR)pin, (CK_ULONG)pin_len);
    tool_free_pin(pin, pin_len);
    if (rv != CKR_OK)
        return tool_fail_rv(t, "DEP11_RegisterRoot", rv);
    tool_hex(id, DEP11_ROOT_ID_LEN, hex);
    if (t->opt.json)
        printf("{\"ok\":true,\"action\":\"%s\",\"identity\":\"%s\"}\n",
               action == DEP11_ROOT_REGISTER ? "register" : "unregister", hex);
    else
        printf("%s root %s (identity %s)\n", verb, what, hex);
    return TOOL_EXIT_OK;
}

static int root_run(struct tool *t, const struct tool_cmd *cmd, CK_ULONG action, int argc,
                    char **argv)
{
    static const struct option lo[] = {
        { "key-label", 1, NULL, OPT_KEY_LABEL },
        { "key-id", 1, NULL, OPT_KEY_ID },
        { "identity", 1, NULL, OPT_IDENTITY },
        { "so-pin-source", 1, NULL, OPT_SO_PIN },
        TOOL_COMMON_LONGOPTS,
        { NULL, 0, NULL, 0 },
    };
    struct root_opts o;
    unsigned char id[DEP11_ROOT_ID_LEN];
    char what[256];
    int rc = TOOL_EXIT_USAGE;

    memset(&o, 0, sizeof o);
    rc = tool_parse_no_operands(t, cmd, argc, argv, lo, root_opt, &o);
    if (rc != 0)
        return rc < 0 ? TOOL_EXIT_OK : rc;
    rc = check_opts(t, &o);
    if (rc == TOOL_EXIT_OK)
        rc = tool_load(t);
    /* read-write and not logged in: dep11 logs the SO in beside it */
    if (rc == TOOL_EXIT_OK)
        rc = tool_open(t, 1, TOOL_NO_LOGIN, NULL);
    if (rc == TOOL_EXIT_OK)
        rc = root_identity(t, &o, id, what, sizeof what);
    if (rc == TOOL_EXIT_OK)
        rc = call_register(t, &o, action, id, what);
    return rc;
}

static int root_register(struct tool *t, int argc, char **argv)
{
    return root_run(t, &tool_cmd_root_register, DEP11_ROOT_REGISTER, argc, argv);
}

static int root_unregister(struct tool *t, int argc, char **argv)
{
    return root_run(t, &tool_cmd_root_unregister, DEP11_ROOT_UNREGISTER, argc, argv);
}

#define ROOT_USAGE(verb)                                                                       \
    "Usage: dep11-tool root " verb " (--key-label LABEL | --key-id HEX | --identity HEX)\n"    \
    "                              --so-pin-source file:PATH|env:VAR\n\n"

const struct tool_cmd tool_cmd_root_register = {
    "root",
    "register",
    root_register,
    "register a customer RSA key as a root by the SO's login (profile so-login)",
    ROOT_USAGE(
        "register") "For tokens without CKA_TRUSTED (profile \"root-registration = "
                    "so-login\"):\n"
                    "the tool finds the RSA public key with that CKA_LABEL or CKA_ID (a "
                    "public\n"
                    "object, read without login), computes its identity (SHA-256 of its DER\n"
                    "SubjectPublicKeyInfo, 64 hex digits; --identity gives it directly) and\n"
                    "calls DEP11_RegisterRoot with the SO PIN. dep11 opens a session of its\n"
                    "own on the token, logs in as the SO (a wrong PIN: CKR_PIN_INCORRECT,\n"
                    "nothing recorded), checks that the SO sees that public key, logs out and\n"
                    "records (token identity, root identity) on its provider token. Only then\n"
                    "does dep11 accept the key as a root of this token (docs/SECURITY.md).\n"
                    "Run it in a process of its own: a user login of the same process on the\n"
                    "token makes the SO login fail (CKR_USER_ANOTHER_ALREADY_LOGGED_IN).\n"
                    "Idempotent. Under \"root-registration = trusted-twin\" (the default) use\n"
                    "keys register: this command gets CKR_FUNCTION_NOT_SUPPORTED.",
};

const struct tool_cmd tool_cmd_root_unregister = {
    "root",
    "unregister",
    root_unregister,
    "unregister a root registered by SO login (profile so-login)",
    ROOT_USAGE(
        "unregister") "The reverse of root register, proven the same way (the SO's login "
                      "through\n"
                      "dep11): the provider token's registration records of that root for "
                      "this\n"
                      "token are destroyed, and dep11 refuses the key as a root from then on\n"
                      "(CKR_KEY_FUNCTION_NOT_PERMITTED). --identity names a root whose public\n"
                      "key is gone. Unregistering a root that is not registered succeeds.",
};
