/*
 * probe.c - "dep11-tool probe": loads an HSM's PKCS#11 library directly
 * (never dep11), runs trial operations on one of its tokens and writes an
 * HSM profile (hsm-profiles syntax), or says which routes no value serves
 * and why. The user phase (probe_trials.c) and an optional SO phase (may
 * the SO set CKA_TRUSTED?) use session objects only, destroyed again: a
 * probe leaves the token as it found it.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "probe.h"

enum {
    OPT_SO_PIN_SOURCE = 1000,
    OPT_PIN_FILE,
    OPT_SO_PIN_FILE,
    OPT_OUT,
    OPT_FORCE,
    OPT_PROBE_TOKEN,
};

/* --pin-file / --so-pin-file: "file:" + the path, kept for the run. */
struct probe_args {
    struct probe *p;
    char pin_file[4096 + 6];
    char so_pin_file[4096 + 6];
};

static int handle(struct tool *t, int c, const char *arg, void *ctx)
{
    struct probe_args *a = ctx;
    struct probe *p = a->p;

    switch (c) {
    case OPT_SO_PIN_SOURCE: p->so_pin = arg; break;
    case OPT_PIN_FILE:
    case OPT_SO_PIN_FILE: {
        char *dst = c == OPT_PIN_FILE ? a->pin_file : a->so_pin_file;

        if (snprintf(dst, sizeof a->pin_file, "file:%s", arg) >= (int)sizeof a->pin_file)
            return tool_error(t, TOOL_EXIT_USAGE, "PIN file path too long");
        if (c == OPT_PIN_FILE)
            t->opt.pin_source = dst;
        else
            p->so_pin = dst;
        break;
    }
    case OPT_OUT: p->out = arg; break;
    case OPT_FORCE: p->force = 1; break;
    case OPT_PROBE_TOKEN:
        /* a PKCS#11 URI, or else a token label */
        if (strncmp(arg, "pkcs11:", 7) == 0)
            t->opt.token_uri = arg;
        else
            t->opt.token_label = arg;
        break;
    default: return TOOL_EXIT_USAGE;
    }
    return 0;
}

/* Key sizes of RSA key pair generation (0..0 when not reported). */
static void rsa_range(struct tool *t, struct probe *p)
{
    CK_MECHANISM_INFO mi;

    if (t->p11->C_GetMechanismInfo(t->slot, CKM_RSA_PKCS_KEY_PAIR_GEN, &mi) == CKR_OK) {
        p->rsa_min = mi.ulMinKeySize;
        p->rsa_max = mi.ulMaxKeySize;
    }
}

/* How many other present tokens show this token's manufacturerID, model and
 * serialNumber (a token identity that needs the label too). */
static void same_identity(struct tool *t, struct probe *p)
{
    CK_SLOT_ID *slots = NULL;
    CK_TOKEN_INFO ti;
    CK_ULONG n = 0, i = 0;

    if (t->p11->C_GetSlotList(CK_TRUE, NULL, &n) != CKR_OK || n == 0)
        return;
    slots = calloc(n, sizeof *slots);
    if (slots == NULL || t->p11->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
        n = 0;
    for (i = 0; i < n; i++) {
        if (slots[i] == t->slot || t->p11->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
            continue;
        if (memcmp(ti.manufacturerID, p->ti.manufacturerID, sizeof ti.manufacturerID) == 0 &&
            memcmp(ti.model, p->ti.model, sizeof ti.model) == 0 &&
            memcmp(ti.serialNumber, p->ti.serialNumber, sizeof ti.serialNumber) == 0)
            p->same_identity++;
    }
    free(slots);
}

/* Loads the library, selects the token, reads its facts. */
static int start(struct tool *t, struct probe *p)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    int rc = tool_load(t);

    if (rc != TOOL_EXIT_OK)
        return rc;
    if (t->dep11 != NULL)
        return tool_error(t, TOOL_EXIT_USAGE,
                          "%s is dep11 itself: probe the HSM's own PKCS#11 library", p->module);
    rv = t->p11->C_GetInfo(&p->info);
    if (rv != CKR_OK)
        return tool_fail_rv(t, "C_GetInfo", rv);
    rc = tool_open(t, 1, CKU_USER, NULL);
    if (rc != TOOL_EXIT_OK)
        return rc;
    rv = t->p11->C_GetTokenInfo(t->slot, &p->ti);
    if (rv != CKR_OK)
        return tool_fail_rv(t, "C_GetTokenInfo", rv);
    rsa_range(t, p);
    same_identity(t, p);
    return TOOL_EXIT_OK;
}

static int run(struct tool *t, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "token", 1, NULL, OPT_PROBE_TOKEN }, /* before the common --token: URI or label */
        { "so-pin-source", 1, NULL, OPT_SO_PIN_SOURCE },
        { "pin-file", 1, NULL, OPT_PIN_FILE },
        { "so-pin-file", 1, NULL, OPT_SO_PIN_FILE },
        { "output", 1, NULL, OPT_OUT },
        { "force", 0, NULL, OPT_FORCE },
        TOOL_COMMON_LONGOPTS,
        { NULL, 0, NULL, 0 },
    };
    static char long_out[] = "--output";
    struct probe_args a;
    struct route r[PROBE_ROUTES];
    struct probe *p = calloc(1, sizeof *p);
    int rc = TOOL_EXIT_FAIL, bad = 0, i = 0;

    if (p == NULL)
        return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    memset(&a, 0, sizeof a);
    a.p = p;
    /* "-o FILE" as a short option: map it to --output before parsing. */
    for (i = 1; i < argc; i++)
        if (strcmp(argv[i], "-o") == 0)
            argv[i] = long_out;
    rc = tool_parse_no_operands(t, &tool_cmd_probe, argc, argv, longopts, handle, &a);
    if (rc != 0)
        goto out;
    rc = TOOL_EXIT_USAGE;
    if (t->opt.module == NULL) {
        tool_error(t, rc, "--module LIB is required (the HSM's PKCS#11 library)");
        goto out;
    }
    if (tool_check_pin_source(t, p->so_pin, "--so-pin-source") != TOOL_EXIT_OK ||
        (p->out != NULL && tool_check_out(t, p->out, p->force) != 0))
        goto out;
    (void)snprintf(p->module, sizeof p->module, "%s", t->opt.module);
    rc = start(t, p);
    if (rc != TOOL_EXIT_OK)
        goto out;
    probe_trials(t, p);
    probe_cleanup(t, p);
    probe_fork(t, p);
    rc = probe_trusted_so(t, p);
    if (rc != TOOL_EXIT_OK)
        goto out;
    bad = probe_routes(p, r);
    rc = probe_write(t, p, r, bad);
out:
    probe_cleanup(t, p);
    OPENSSL_cleanse(p, sizeof *p);
    free(p);
    return rc;
}

const struct tool_cmd tool_cmd_probe = {
    "probe",
    "", /* no verb: "dep11-tool probe --module LIB ..." */
    run,
    "try an HSM's PKCS#11 library and write its dep11 profile",
    "Usage: dep11-tool probe --module LIB --token URI|LABEL [--pin-file F]\n"
    "           [--so-pin-file F] [-o FILE [--force]] [--json]\n\n"
    "Loads LIB (the HSM's own PKCS#11 library, not dep11), logs in to the token\n"
    "as its user and runs trial operations with session objects (destroyed\n"
    "again; the token keeps the objects it had): RSA-OAEP with SHA-1 and\n"
    "SHA-256, C_UnwrapKey with RSA-OAEP, AES-256-GCM (who makes the IV), AES\n"
    "key wrap with padding (0x210A or 0x210B), HMAC-SHA256, EC P-256 + ECDSA,\n"
    "RSA-PSS, a forked child's C_Initialize; with an SO PIN also whether the SO\n"
    "(and only the SO) may set CKA_TRUSTED. Writes a profile in hsm-profiles\n"
    "syntax (docs/CONFIG.md) on standard output or into FILE, each value with a\n"
    "comment saying what the HSM answered. When no value serves a route,\n"
    "prints one line per such route (\"cannot serve KEY: why\"), writes\n"
    "nothing and exits 1.\n\n"
    "  --token URI|LABEL    the token: a pkcs11: URI, or else its label\n"
    "  --pin-file F         the user PIN from file F (as --pin-source file:F)\n"
    "  --so-pin-file F      the SO PIN from file F (--so-pin-source SRC also\n"
    "                       takes env:VAR); without it root-registration is\n"
    "                       not probed and so-login is written\n"
    "  -o, --output FILE    write the profile to FILE (atomically; refuses an\n"
    "                       existing FILE unless --force)\n"
    "  --json               one JSON object: the routes, each with its value\n"
    "                       (null: cannot be served) and why",
};
