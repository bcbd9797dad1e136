/*
 * data.c - the mailbox and data commands: "mailbox assign" (KEY_GEN a mailbox
 * key, CHILD_WRAP it to an owner) and "data seal" / "data open" (CHILD_UNWRAP
 * the mailbox key, then CKM_DEP11_AEAD with the owner id as AAD).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "tool.h"

#define PIECE (1024 * 1024) /* seal streams its input in pieces of 1 MiB */
#define SEALED_MAX ((size_t)1 << 30) /* open reads at most 1 GiB */

struct data_opts {
    const char *policy, *mailbox, *owner, *in, *out, *store, *owners;
    CK_ULONG requester;
    int force;
    size_t batch;
    unsigned char owner_id[16];
};

enum {
    OPT_POLICY = 1000, OPT_MAILBOX, OPT_OWNER, OPT_IN, OPT_OUT, OPT_FORCE,
    OPT_REQUESTER, OPT_STORE, OPT_OWNERS, OPT_BATCH,
};

static const struct option data_longopts[] = {
    {"policy", 1, NULL, OPT_POLICY}, {"mailbox", 1, NULL, OPT_MAILBOX},
    {"owner", 1, NULL, OPT_OWNER}, {"in", 1, NULL, OPT_IN},
    {"out", 1, NULL, OPT_OUT}, {"force", 0, NULL, OPT_FORCE},
    {"requester", 1, NULL, OPT_REQUESTER}, {"store", 1, NULL, OPT_STORE},
    {"owners", 1, NULL, OPT_OWNERS}, {"batch", 1, NULL, OPT_BATCH},
    TOOL_COMMON_LONGOPTS,
    {NULL, 0, NULL, 0},
};

static int data_opt(struct tool *t, int c, const char *arg, void *ctx)
{
    struct data_opts *o = ctx;
    char *end = NULL;

    switch (c) {
    case OPT_POLICY: o->policy = arg; return 0;
    case OPT_MAILBOX: o->mailbox = arg; return 0;
    case OPT_OWNER: o->owner = arg; return 0;
    case OPT_IN: o->in = arg; return 0;
    case OPT_OUT: o->out = arg; return 0;
    case OPT_FORCE: o->force = 1; return 0;
    case OPT_STORE: o->store = arg; return 0;
    case OPT_OWNERS: o->owners = arg; return 0;
    case OPT_BATCH:
        o->batch = strtoul(arg, &end, 10);
        if (*arg >= '1' && *arg <= '9' && !*end && o->batch <= 1000000)
            return 0;
        return tool_error(t, TOOL_EXIT_USAGE, "--batch is 1 to 1000000");
    case OPT_REQUESTER: return tool_requester_opt(t, arg, &o->requester);
    default: return TOOL_EXIT_USAGE;
    }
}

/*
 * Parses a data command's options; @need lists the required ones as
 * letters (p policy, m mailbox, o owner, i in, f out). Returns 0 to go on,
 * -1 after --help, or TOOL_EXIT_USAGE.
 */
static int data_parse(struct tool *t, const struct tool_cmd *cmd, int argc,
                      char **argv, struct data_opts *o, const char *need)
{
    int rc = 0;

    memset(o, 0, sizeof *o);
    o->requester = DEP11_REQUESTER_USER;
    o->batch = TOOL_ASSIGN_BATCH;
    rc = tool_parse_no_operands(t, cmd, argc, argv, data_longopts, data_opt, o);
    if (rc != 0)
        return rc;
    if (o->store != NULL && o->mailbox != NULL)
        return tool_error(t, TOOL_EXIT_USAGE, "give --mailbox FILE or "
                          "--store STORE, not both");
    if (o->store != NULL) /* the store names the blob and its policy */
        need = strchr(need, 'i') ? "oif" : o->owners ? "" : "o";
    else if (o->owners != NULL)
        return tool_error(t, TOOL_EXIT_USAGE, "--owners needs --store STORE");
    if (o->owners != NULL && o->owner == NULL)
        return 0;
    if ((strchr(need, 'p') && !o->policy) || (strchr(need, 'm') && !o->mailbox)
        || (strchr(need, 'o') && !o->owner) || (strchr(need, 'i') && !o->in)
        || (strchr(need, 'f') && !o->out))
        return tool_error(t, TOOL_EXIT_USAGE,
                          "missing a required option (see --help)");
    if (tool_owner_id(o->owner, o->owner_id) != 0)
        return tool_error(t, TOOL_EXIT_USAGE, "--owner must not be empty");
    if (t->opt.json && o->out && strcmp(o->out, "-") == 0)
        return tool_error(t, TOOL_EXIT_USAGE, "--json and --out - both "
                          "write to stdout; choose one");
    return o->out ? tool_check_out(t, o->out, o->force) : 0;
}

/* Loads the module, logs in and unwraps the policy. */
static int open_policy(struct tool *t, const struct data_opts *o,
                       CK_OBJECT_HANDLE *pol)
{
    int rc = tool_load_login(t, 0);

    if (rc == TOOL_EXIT_OK)
        rc = tool_unwrap_policy(t, o->policy, o->requester, pol);
    return rc;
}

/* C_WrapKey(CKM_DEP11_CHILD_WRAP) of @key under @pol for the owner; writes
 * the child blob to o->out. */
static int wrap_child(struct tool *t, const struct data_opts *o,
                      CK_OBJECT_HANDLE pol, CK_OBJECT_HANDLE key)
{
    unsigned char *blob = NULL;
    CK_ULONG len = 0;
    char owner[33];
    int rc = tool_child_wrap(t, pol, o->owner_id, key, "mailbox", &blob, &len);

    if (rc != TOOL_EXIT_OK)
        return rc;
    rc = TOOL_EXIT_FAIL;
    if (tool_write_atomic(t, o->out, blob, len, o->force) == 0) {
        tool_hex(o->owner_id, 16, owner);
        if (t->opt.json) {
            printf("{\"ok\":true,\"owner_id\":\"%s\",\"file\":", owner);
            tool_json_str(stdout, o->out);
            printf(",\"bytes\":%lu}\n", (unsigned long)len);
        } else {
            printf("mailbox key for owner %s wrapped under the policy: %s "
                   "(%lu bytes)\n", owner, o->out, (unsigned long)len);
        }
        rc = TOOL_EXIT_OK;
    }
    free(blob);
    return rc;
}

static int mailbox_assign(struct tool *t, int argc, char **argv)
{
    CK_MECHANISM mech = { CKM_DEP11_KEY_GEN, NULL, 0 };
    CK_ULONG role = DEP11_ROLE_MAILBOX, type = 0;
    CK_ATTRIBUTE tmpl[] = { { CKA_DEP11_ROLE, &role, sizeof role } };
    CK_OBJECT_HANDLE pol = CK_INVALID_HANDLE, key = CK_INVALID_HANDLE;
    struct data_opts o;
    CK_RV rv = CKR_GENERAL_ERROR;
    int rc = data_parse(t, &tool_cmd_mailbox_assign, argc, argv, &o, "pof");

    if (rc != 0)
        return rc < 0 ? TOOL_EXIT_OK : rc;
    if (o.store != NULL)
        return tool_store_assign(t, o.store, o.policy, o.owner, o.owners,
                                 o.batch, o.requester);
    rc = open_policy(t, &o, &pol);
    if (rc != TOOL_EXIT_OK)
        goto out;
    /* A FILES policy's children are site keys, not mailbox keys. */
    if (tool_get_ulong(t, pol, CKA_DEP11_POLICY_TYPE, &type) == CKR_OK &&
        type == DEP11_POLICY_FILES) {
        rc = tool_error(t, TOOL_EXIT_FAIL, "a files policy holds site keys, "
                        "not mailbox keys: use a mailbox or multi-workload "
                        "policy");
        goto out;
    }
    rv = t->p11->C_GenerateKey(t->session, &mech, tmpl, 1, &key);
    if (rv != CKR_OK) {
        rc = tool_fail_rv(t, "C_GenerateKey (mailbox key)", rv);
        goto out;
    }
    rc = wrap_child(t, &o, pol, key);
out:
    tool_destroy(t, key);
    tool_destroy(t, pol);
    return rc;
}

const struct tool_cmd tool_cmd_mailbox_assign = {
    "mailbox", "assign", mailbox_assign,
    "create a mailbox key under a policy and write its blob",
    "Usage: dep11-tool mailbox assign --policy FILE|NAME --owner ID --out FILE\n"
    "         [--requester user|system|recovery] [--force]\n"
    "       dep11-tool mailbox assign --store STORE [--policy NAME]\n"
    "         (--owner ID | --owners FILE [--batch N]) [--requester ...]\n"
    "         --pin-source file:PATH|env:VAR\n\n"
    "With --store the key goes into the child-blob store (docs/STORE.md: an\n"
    "SQLite file, created on first use, or a postgresql:// URI) under the\n"
    "active registered policy NAME (--owners: one owner a line, committed\n"
    "N at a time, default 10000); an owner already there is only\n"
    "re-assigned, its key re-wrapped on access (mailbox show, data\n"
    "seal/open) or by store rewrap.\n"
    "Without --policy: the tenant's assigned multi-workload policy, else the\n"
    "provider-managed mailbox policy \"dep11-default-mailbox\", registered\n"
    "on first use. Without --store:\n"
    "Unwraps the policy blob, generates a mailbox key (C_GenerateKey\n"
    "CKM_DEP11_KEY_GEN) and wraps it under the policy key for the owner\n"
    "(C_WrapKey CKM_DEP11_CHILD_WRAP). The child blob is written atomically\n"
    "(mode 0600); an existing FILE is kept unless --force.\n"
    "Owner ids are 16 bytes: 32 hex digits or a UUID are taken as they are;\n"
    "any other string is hashed (the first 16 bytes of its SHA-256). The same\n"
    "--owner must be given to data seal and data open.",
};

/* Reads the mailbox blob and unwraps it under @pol for the owner. */
static int open_mailbox(struct tool *t, const struct data_opts *o,
                        CK_OBJECT_HANDLE pol, CK_OBJECT_HANDLE *key)
{
    unsigned char *blob = NULL;
    size_t len = 0;
    int rc = TOOL_EXIT_FAIL;

    if (tool_read_file(t, o->mailbox, TOOL_BLOB_MAX, &blob, &len) != 0)
        return TOOL_EXIT_USAGE;
    rc = tool_child_unwrap(t, pol, o->owner_id, blob, len, "mailbox", key);
    free(blob);
    return rc;
}

/* The policy and mailbox keys: from --policy and --mailbox files (or
 * registry names), or from the store (--store: the policy the owner's blob
 * is wrapped under). */
static int open_keys(struct tool *t, const struct data_opts *o,
                     CK_OBJECT_HANDLE *pol, CK_OBJECT_HANDLE *key)
{
    unsigned char *blob = NULL;
    size_t len = 0;
    int rc = TOOL_EXIT_OK;

    if (o->store == NULL) {
        rc = open_policy(t, o, pol);
        return rc == TOOL_EXIT_OK ? open_mailbox(t, o, pol[0], key) : rc;
    }
    rc = tool_load_login(t, 0);
    if (rc == TOOL_EXIT_OK)
        rc = tool_store_child(t, o->store, o->owner_id, o->requester, pol,
                              &blob, &len);
    if (rc == TOOL_EXIT_OK)
        rc = tool_child_unwrap(t, *pol, o->owner_id, blob, len, "child", key);
    free(blob);
    return rc;
}

/* C_EncryptUpdate/Final into a buffer grown on CKR_BUFFER_TOO_SMALL, then
 * written out. @in NULL means Final. */
static int seal_step(struct tool *t, struct tool_afile *f, unsigned char *in,
                     CK_ULONG in_len, unsigned char **buf, CK_ULONG *cap,
                     unsigned long long *total)
{
    CK_ULONG n = *cap;
    CK_RV rv = in ? t->p11->C_EncryptUpdate(t->session, in, in_len, *buf, &n)
                  : t->p11->C_EncryptFinal(t->session, *buf, &n);

    if (rv == CKR_BUFFER_TOO_SMALL && n > *cap) {
        unsigned char *grown = realloc(*buf, n);
        if (grown == NULL)
            return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
        *buf = grown;
        *cap = n;
        rv = in ? t->p11->C_EncryptUpdate(t->session, in, in_len, *buf, &n)
                : t->p11->C_EncryptFinal(t->session, *buf, &n);
    }
    if (rv != CKR_OK)
        return tool_fail_rv(t, in ? "C_EncryptUpdate" : "C_EncryptFinal", rv);
    *total += n;
    return tool_afile_write(t, f, *buf, n) == 0 ? TOOL_EXIT_OK
                                                  : TOOL_EXIT_FAIL;
}

/* Streams o->in through the AEAD operation into the atomic file @f. */
static int seal_stream(struct tool *t, const struct data_opts *o,
                       struct tool_afile *f, unsigned long long *in_total,
                       unsigned long long *out_total)
{
    FILE *fp = strcmp(o->in, "-") == 0 ? stdin : fopen(o->in, "rb");
    unsigned char *piece = malloc(PIECE), *buf = NULL;
    CK_ULONG cap = PIECE + 64;
    size_t got = 0;
    int rc = TOOL_EXIT_OK;

    buf = malloc(cap);
    if (fp == NULL)
        rc = tool_error(t, TOOL_EXIT_USAGE, "cannot open %s", o->in);
    else if (piece == NULL || buf == NULL)
        rc = tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    while (rc == TOOL_EXIT_OK && (got = fread(piece, 1, PIECE, fp)) > 0) {
        *in_total += got;
        rc = seal_step(t, f, piece, (CK_ULONG)got, &buf, &cap, out_total);
    }
    if (rc == TOOL_EXIT_OK && ferror(fp))
        rc = tool_error(t, TOOL_EXIT_USAGE, "cannot read %s", o->in);
    if (rc == TOOL_EXIT_OK)
        rc = seal_step(t, f, NULL, 0, &buf, &cap, out_total);
    if (fp != NULL && fp != stdin)
        fclose(fp);
    if (piece != NULL)
        OPENSSL_cleanse(piece, PIECE); /* plaintext */
    free(piece);
    free(buf);
    return rc;
}

/* Prints the result of seal/open. */
static void report_data(struct tool *t, const char *what,
                        const struct data_opts *o, unsigned long long in,
                        unsigned long long out)
{
    if (strcmp(o->out, "-") == 0) {
        fprintf(stderr, "%s %llu bytes into %llu bytes\n", what, in, out);
        return;
    }
    if (t->opt.json) {
        printf("{\"ok\":true,\"in_bytes\":%llu,\"out_bytes\":%llu,\"out\":",
               in, out);
        tool_json_str(stdout, o->out);
        printf("}\n");
    } else {
        printf("%s %llu bytes into %llu bytes: %s\n", what, in, out, o->out);
    }
}

static int data_seal(struct tool *t, int argc, char **argv)
{
    CK_OBJECT_HANDLE pol = CK_INVALID_HANDLE, key = CK_INVALID_HANDLE;
    CK_DEP11_AEAD_PARAMS ap;
    CK_MECHANISM mech = { CKM_DEP11_AEAD, &ap, sizeof ap };
    struct tool_afile f;
    struct data_opts o;
    unsigned long long in = 0, out = 0;
    CK_RV rv = CKR_GENERAL_ERROR;
    int rc = data_parse(t, &tool_cmd_data_seal, argc, argv, &o, "pmoif");

    memset(&f, 0, sizeof f);
    f.fd = -1;
    if (rc != 0)
        return rc < 0 ? TOOL_EXIT_OK : rc;
    ap.pAAD = o.owner_id; /* the data is bound to its owner */
    ap.ulAADLen = sizeof o.owner_id;
    rc = open_keys(t, &o, &pol, &key);
    if (rc != TOOL_EXIT_OK)
        goto out;
    if (tool_afile_open(t, &f, o.out, o.force) != 0) {
        rc = TOOL_EXIT_USAGE;
        goto out;
    }
    rv = t->p11->C_EncryptInit(t->session, &mech, key);
    if (rv != CKR_OK) {
        rc = tool_fail_rv(t, "C_EncryptInit (CKM_DEP11_AEAD)", rv);
        goto out;
    }
    rc = seal_stream(t, &o, &f, &in, &out);
    if (rc == TOOL_EXIT_OK && tool_afile_commit(t, &f) != 0)
        rc = TOOL_EXIT_FAIL;
    if (rc == TOOL_EXIT_OK)
        report_data(t, "sealed", &o, in, out);
out:
    tool_afile_abort(&f);
    tool_destroy(t, key);
    tool_destroy(t, pol);
    return rc;
}

const struct tool_cmd tool_cmd_data_seal = {
    "data", "seal", data_seal,
    "encrypt a file with a mailbox key",
    "Usage: dep11-tool data seal (--policy FILE|NAME --mailbox FILE |\n"
    "         --store STORE) --owner ID\n"
    "         --in FILE --out FILE [--requester user|system|recovery]\n"
    "         [--force] --pin-source file:PATH|env:VAR\n\n"
    "With --store the owner's child comes from the store; a child whose\n"
    "assignment changed is re-wrapped first (the seeds' re-wrap on access).\n"
    "Unwraps the policy blob, unwraps the mailbox key blob for the owner\n"
    "(C_UnwrapKey CKM_DEP11_CHILD_UNWRAP) and encrypts --in with\n"
    "CKM_DEP11_AEAD (AES-256-GCM, module-chosen 96-bit nonce): the output is\n"
    "nonce (12 bytes) || ciphertext || tag (16 bytes). The AAD is the 16-byte\n"
    "owner id, so data sealed for one owner does not open for another. The\n"
    "input is streamed through C_EncryptUpdate in pieces of 1 MiB. --out is\n"
    "written atomically (mode 0600; kept unless --force); \"-\" means stdin /\n"
    "stdout. Owner ids as in mailbox assign.",
};

static int data_open(struct tool *t, int argc, char **argv)
{
    CK_OBJECT_HANDLE pol = CK_INVALID_HANDLE, key = CK_INVALID_HANDLE;
    CK_DEP11_AEAD_PARAMS ap;
    CK_MECHANISM mech = { CKM_DEP11_AEAD, &ap, sizeof ap };
    struct data_opts o;
    unsigned char *sealed = NULL, *plain = NULL;
    size_t sealed_len = 0;
    CK_ULONG plain_len = 0, cap = 0;
    CK_RV rv = CKR_GENERAL_ERROR;
    int rc = data_parse(t, &tool_cmd_data_open, argc, argv, &o, "pmoif");

    if (rc != 0)
        return rc < 0 ? TOOL_EXIT_OK : rc;
    ap.pAAD = o.owner_id;
    ap.ulAADLen = sizeof o.owner_id;
    if (tool_read_file(t, o.in, SEALED_MAX, &sealed, &sealed_len) != 0)
        return TOOL_EXIT_USAGE;
    rc = open_keys(t, &o, &pol, &key);
    if (rc != TOOL_EXIT_OK)
        goto out;
    rv = t->p11->C_DecryptInit(t->session, &mech, key);
    /* One C_Decrypt: GCM releases nothing before the tag is checked, so the
     * module buffers a multi-part decryption to its Final anyway. */
    if (rv == CKR_OK)
        rv = t->p11->C_Decrypt(t->session, sealed, sealed_len, NULL, &cap);
    if (rv == CKR_OK && (plain = malloc(cap ? cap : 1)) == NULL)
        rv = CKR_HOST_MEMORY;
    plain_len = cap;
    if (rv == CKR_OK)
        rv = t->p11->C_Decrypt(t->session, sealed, sealed_len, plain,
                               &plain_len);
    if (rv != CKR_OK) {
        rc = tool_fail_rv(t, "C_Decrypt (CKM_DEP11_AEAD)", rv);
        goto out;
    }
    if (tool_write_atomic(t, o.out, plain, plain_len, o.force) != 0)
        rc = TOOL_EXIT_FAIL;
    else
        report_data(t, "opened", &o, sealed_len, plain_len);
out:
    if (plain != NULL)
        OPENSSL_cleanse(plain, cap);
    free(plain);
    free(sealed);
    tool_destroy(t, key);
    tool_destroy(t, pol);
    return rc;
}

const struct tool_cmd tool_cmd_data_open = {
    "data", "open", data_open,
    "decrypt a file sealed with data seal",
    "Usage: dep11-tool data open (--policy FILE|NAME --mailbox FILE |\n"
    "         --store STORE) --owner ID\n"
    "         --in FILE --out FILE [--requester user|system|recovery]\n"
    "         [--force] --pin-source file:PATH|env:VAR\n\n"
    "Unwraps the policy and the mailbox key as data seal does and decrypts\n"
    "--in (nonce || ciphertext || tag) with CKM_DEP11_AEAD and the owner id\n"
    "as AAD, in one C_Decrypt: AES-GCM releases nothing before the tag is\n"
    "checked, so the module buffers the whole input (at most 1 GiB here).\n"
    "Altered data, or another owner, is CKR_ENCRYPTED_DATA_INVALID and\n"
    "nothing is written. --out is written atomically (mode 0600; kept unless\n"
    "--force); \"-\" means stdin / stdout.",
};
