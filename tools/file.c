/*
 * file.c - the file commands: "file seal" / "file open" stream a file
 * through CKM_DEP11_CHUNK_AEAD under a site key, one chunk in memory at a
 * time, in the sealed-file container of docs/FORMATS.md section 5.3.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "tool.h"

#define HDR_LEN 28                     /* magic .. chunk size */
#define OVERHEAD 28                    /* nonce (12) + tag (16) per chunk */
#define CHUNK_DEFAULT (4UL << 20)      /* 4 MiB */
#define CHUNK_MAX DEP11_MULTIPART_MAX  /* the module's multi-part bound */
#define FINAL_BIT 0x80000000UL         /* index of the last chunk: i | FINAL_BIT */
static const unsigned char FILE_MAGIC[4] = { 0x44, 0x31, 0x31, 0x46 }; /* D11F */

struct file_opts {
    const char *policy, *site, *site_id, *in, *out;
    CK_ULONG requester;
    unsigned long chunk;
    int force;
    unsigned char id[16];
};

/* One seal or open run: streams, buffers and the container's state. */
struct run {
    FILE *in;
    struct tool_afile out;
    unsigned char file_id[16];
    unsigned long chunk;              /* plaintext bytes per chunk */
    unsigned char *plain, *sealed;    /* chunk and chunk + OVERHEAD bytes */
    CK_OBJECT_HANDLE pol, site;
    unsigned long long in_bytes, out_bytes;
    unsigned long chunks;
};

enum {
    OPT_POLICY = 1000, OPT_SITE, OPT_SITE_ID, OPT_CHUNK, OPT_IN, OPT_OUT,
    OPT_FORCE, OPT_REQUESTER,
};

static const struct option file_longopts[] = {
    {"policy", 1, NULL, OPT_POLICY}, {"site", 1, NULL, OPT_SITE},
    {"site-id", 1, NULL, OPT_SITE_ID}, {"chunk-size", 1, NULL, OPT_CHUNK},
    {"in", 1, NULL, OPT_IN}, {"out", 1, NULL, OPT_OUT},
    {"force", 0, NULL, OPT_FORCE}, {"requester", 1, NULL, OPT_REQUESTER},
    TOOL_COMMON_LONGOPTS, {NULL, 0, NULL, 0},
};

/* "N", "NK", "NKiB", "NM", "NMiB": 1 byte .. 64 MiB. 0 or -1. */
static int parse_size(const char *s, unsigned long *out)
{
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned long long mul = 1;

    if (end == s || *s == '-')
        return -1;
    if (!strcmp(end, "K") || !strcmp(end, "KiB") || !strcmp(end, "k"))
        mul = 1024;
    else if (!strcmp(end, "M") || !strcmp(end, "MiB"))
        mul = 1024 * 1024;
    else if (*end != '\0')
        return -1;
    if (v == 0 || v > CHUNK_MAX / mul)
        return -1;
    *out = (unsigned long)(v * mul);
    return 0;
}

static int file_opt(struct tool *t, int c, const char *arg, void *ctx)
{
    struct file_opts *o = ctx;

    switch (c) {
    case OPT_POLICY: o->policy = arg; return 0;
    case OPT_SITE: o->site = arg; return 0;
    case OPT_SITE_ID: o->site_id = arg; return 0;
    case OPT_IN: o->in = arg; return 0;
    case OPT_OUT: o->out = arg; return 0;
    case OPT_FORCE: o->force = 1; return 0;
    case OPT_CHUNK:
        if (parse_size(arg, &o->chunk) == 0)
            return 0;
        return tool_error(t, TOOL_EXIT_USAGE, "--chunk-size: 1 byte to 64 MiB "
                          "(a number, optionally with K or M)");
    case OPT_REQUESTER: return tool_requester_opt(t, arg, &o->requester);
    default: return TOOL_EXIT_USAGE;
    }
}

/* Parses and checks the options of seal (@seal 1) or open. 0 to go on,
 * -1 after --help, else TOOL_EXIT_USAGE. */
static int file_parse(struct tool *t, const struct tool_cmd *cmd, int argc, char **argv,
                      struct file_opts *o, int seal)
{
    int rc = 0;

    memset(o, 0, sizeof *o);
    o->requester = DEP11_REQUESTER_USER;
    o->chunk = CHUNK_DEFAULT;
    rc = tool_parse_no_operands(t, cmd, argc, argv, file_longopts, file_opt, o);
    if (rc != 0)
        return rc;
    if (!o->policy || !o->site || !o->site_id || !o->in || !o->out)
        return tool_error(t, TOOL_EXIT_USAGE, "--policy, --site, --site-id, --in "
                          "and --out are required");
    if (!seal && o->chunk != CHUNK_DEFAULT)
        return tool_error(t, TOOL_EXIT_USAGE, "--chunk-size is for file seal; "
                          "file open reads it from the file");
    if (tool_owner_id(o->site_id, o->id) != 0)
        return tool_error(t, TOOL_EXIT_USAGE, "--site-id must not be empty");
    if (t->opt.json && strcmp(o->out, "-") == 0)
        return tool_error(t, TOOL_EXIT_USAGE, "--json and --out - both write to "
                          "stdout; choose one");
    return tool_check_out(t, o->out, o->force);
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads up to @len bytes (fewer only at end of input). */
static size_t read_full(FILE *fp, unsigned char *buf, size_t len)
{
    size_t got = 0, n = 0;

    while (got < len && (n = fread(buf + got, 1, len - got, fp)) > 0)
        got += n;
    return got;
}

/* 1 when nothing follows in @fp (end of input), else 0. */
static int at_eof(FILE *fp)
{
    int c = getc(fp);

    if (c == EOF)
        return 1;
    ungetc(c, fp);
    return 0;
}

/* Opens the input, allocates the chunk buffers, unwraps the site key and
 * opens the atomic output. */
static int run_start(struct tool *t, const struct file_opts *o, struct run *r)
{
    int rc = TOOL_EXIT_OK;

    r->in = strcmp(o->in, "-") == 0 ? stdin : fopen(o->in, "rb");
    if (r->in == NULL)
        return tool_error(t, TOOL_EXIT_USAGE, "cannot open %s", o->in);
    rc = tool_unwrap_site(t, o->policy, o->site, o->id, o->requester, &r->pol, &r->site);
    if (rc == TOOL_EXIT_OK && tool_afile_open(t, &r->out, o->out, o->force) != 0)
        rc = TOOL_EXIT_USAGE;
    return rc;
}

static int run_buffers(struct tool *t, struct run *r)
{
    r->plain = malloc(r->chunk ? r->chunk : 1);
    r->sealed = malloc(r->chunk + OVERHEAD);
    if (r->plain == NULL || r->sealed == NULL)
        return tool_error(t, TOOL_EXIT_FAIL, "out of memory for a chunk of %lu bytes",
                          r->chunk);
    return TOOL_EXIT_OK;
}

/* Removes the temporary output (unless committed), destroys the keys,
 * cleanses the plaintext buffer. */
static void run_end(struct tool *t, struct run *r)
{
    tool_afile_abort(&r->out);
    if (r->in != NULL && r->in != stdin)
        fclose(r->in);
    tool_destroy(t, r->site);
    tool_destroy(t, r->pol);
    if (r->plain != NULL)
        OPENSSL_cleanse(r->plain, r->chunk);
    free(r->plain);
    free(r->sealed);
}

static void run_init(struct run *r)
{
    memset(r, 0, sizeof *r);
    r->out.fd = -1;
    r->pol = r->site = CK_INVALID_HANDLE;
}

/* One CKM_DEP11_CHUNK_AEAD call on chunk @index: seal (@enc) @len bytes of
 * @in into @out, or open them. *@out_len: capacity in, length out. */
static CK_RV chunk_aead(struct tool *t, struct run *r, int enc, CK_ULONG index,
                        unsigned char *in, CK_ULONG len, unsigned char *out,
                        CK_ULONG *out_len)
{
    CK_DEP11_CHUNK_PARAMS p;
    CK_MECHANISM mech = { CKM_DEP11_CHUNK_AEAD, &p, sizeof p };
    CK_RV rv = CKR_GENERAL_ERROR;

    memcpy(p.fileId, r->file_id, 16);
    p.ulChunkIndex = index;
    rv = enc ? t->p11->C_EncryptInit(t->session, &mech, r->site)
             : t->p11->C_DecryptInit(t->session, &mech, r->site);
    if (rv == CKR_OK)
        rv = enc ? t->p11->C_Encrypt(t->session, in, len, out, out_len)
                 : t->p11->C_Decrypt(t->session, in, len, out, out_len);
    return rv;
}

static void report(struct tool *t, const char *what, const struct file_opts *o,
                   const struct run *r)
{
    char id[33];

    tool_hex(r->file_id, 16, id);
    if (t->opt.json) {
        printf("{\"ok\":true,\"file_id\":\"%s\",\"chunk_size\":%lu,\"chunks\":%lu,"
               "\"in_bytes\":%llu,\"out_bytes\":%llu,\"out\":", id, r->chunk,
               r->chunks, r->in_bytes, r->out_bytes);
        tool_json_str(stdout, o->out);
        printf("}\n");
        return;
    }
    fprintf(strcmp(o->out, "-") ? stdout : stderr,
            "%s %llu bytes in %lu chunk%s of up to %lu bytes into %llu bytes: %s "
            "(file id %s)\n", what, r->in_bytes, r->chunks, r->chunks == 1 ? "" : "s",
            r->chunk, r->out_bytes, o->out, id);
}

/* Seals the input chunk by chunk; the last one carries FINAL_BIT. */
static int seal_chunks(struct tool *t, struct run *r)
{
    unsigned char len4[4];
    CK_ULONG n = 0, out_len = 0;
    CK_RV rv = CKR_GENERAL_ERROR;
    int last = 0;

    for (r->chunks = 0; !last; r->chunks++) {
        if (r->chunks >= FINAL_BIT)
            return tool_error(t, TOOL_EXIT_FAIL, "more than 2^31 chunks: use a "
                              "larger --chunk-size");
        n = read_full(r->in, r->plain, r->chunk);
        if (ferror(r->in))
            return tool_error(t, TOOL_EXIT_USAGE, "cannot read the input");
        last = n < r->chunk || at_eof(r->in);
        out_len = n + OVERHEAD;
        rv = chunk_aead(t, r, 1, r->chunks | (last ? FINAL_BIT : 0), r->plain, n,
                        r->sealed, &out_len);
        if (rv != CKR_OK)
            return tool_fail_rv(t, "C_Encrypt (CKM_DEP11_CHUNK_AEAD)", rv);
        put_u32(len4, (uint32_t)out_len);
        if (tool_afile_write(t, &r->out, len4, 4) != 0 ||
            tool_afile_write(t, &r->out, r->sealed, out_len) != 0)
            return TOOL_EXIT_FAIL;
        r->in_bytes += n;
        r->out_bytes += 4 + out_len;
    }
    return TOOL_EXIT_OK;
}

static int file_seal(struct tool *t, int argc, char **argv)
{
    struct file_opts o;
    struct run r;
    unsigned char hdr[HDR_LEN];
    int rc = file_parse(t, &tool_cmd_file_seal, argc, argv, &o, 1);

    if (rc != 0)
        return rc < 0 ? TOOL_EXIT_OK : rc;
    run_init(&r);
    r.chunk = o.chunk;
    rc = run_buffers(t, &r);
    if (rc == TOOL_EXIT_OK)
        rc = run_start(t, &o, &r);
    if (rc == TOOL_EXIT_OK && RAND_bytes(r.file_id, sizeof r.file_id) != 1)
        rc = tool_error(t, TOOL_EXIT_FAIL, "no random bytes for the file id");
    if (rc == TOOL_EXIT_OK) {
        memcpy(hdr, FILE_MAGIC, 4);
        hdr[4] = 1; /* format */
        hdr[5] = 1; /* suite */
        hdr[6] = hdr[7] = 0;
        memcpy(hdr + 8, r.file_id, 16);
        put_u32(hdr + 24, (uint32_t)r.chunk);
        r.out_bytes = HDR_LEN;
        if (tool_afile_write(t, &r.out, hdr, HDR_LEN) != 0)
            rc = TOOL_EXIT_FAIL;
    }
    if (rc == TOOL_EXIT_OK)
        rc = seal_chunks(t, &r);
    if (rc == TOOL_EXIT_OK && tool_afile_commit(t, &r.out) != 0)
        rc = TOOL_EXIT_FAIL;
    if (rc == TOOL_EXIT_OK)
        report(t, "sealed", &o, &r);
    run_end(t, &r);
    return rc;
}

const struct tool_cmd tool_cmd_file_seal = {
    "file", "seal", file_seal,
    "encrypt a file in chunks under a site key",
    "Usage: dep11-tool file seal --policy FILE --site FILE --site-id ID\n"
    "         [--chunk-size N] --in FILE --out FILE\n"
    "         [--requester user|system|recovery] [--force]\n"
    "         --pin-source file:PATH|env:VAR\n\n"
    "Unwraps the files policy and the site key (site create), picks a random\n"
    "16-byte file id and encrypts --in chunk by chunk with\n"
    "CKM_DEP11_CHUNK_AEAD: each chunk under its own key, derived in the module\n"
    "from the site key, the file id and the chunk index, with a fresh nonce.\n"
    "The output is the sealed-file container of docs/FORMATS.md 5.3: a header\n"
    "(magic D11F, file id, chunk size), then each chunk as a 4-byte length and\n"
    "nonce || ciphertext || tag; the last chunk is sealed as final, so a file\n"
    "cut at a chunk boundary does not open. --chunk-size: bytes, or with K or\n"
    "M (KiB, MiB); default 4M, at most 64M. One chunk is in memory at a time.\n"
    "--out is written atomically (mode 0600; kept unless --force); \"-\" means\n"
    "stdin / stdout.",
};

/* The header: magic, format, suite, reserved, file id, chunk size. */
static int read_header(struct tool *t, const struct file_opts *o, struct run *r)
{
    unsigned char hdr[HDR_LEN];
    size_t n = read_full(r->in, hdr, HDR_LEN);

    if (n < 4 || memcmp(hdr, FILE_MAGIC, 4) != 0)
        return tool_error(t, TOOL_EXIT_USAGE, "%s is not a dep11 sealed file "
                          "(no D11F magic)", o->in);
    if (n < HDR_LEN)
        return tool_error(t, TOOL_EXIT_FAIL, "%s: the header is truncated", o->in);
    if (hdr[4] != 1 || hdr[5] != 1 || hdr[6] != 0 || hdr[7] != 0)
        return tool_error(t, TOOL_EXIT_FAIL, "%s: format %u, suite %u: not one this "
                          "tool reads (format 1, suite 1)", o->in, hdr[4], hdr[5]);
    memcpy(r->file_id, hdr + 8, 16);
    r->chunk = get_u32(hdr + 24);
    if (r->chunk == 0 || r->chunk > CHUNK_MAX)
        return tool_error(t, TOOL_EXIT_FAIL, "%s: chunk size %lu out of range (damaged "
                          "header)", o->in, r->chunk);
    return TOOL_EXIT_OK;
}

/* Opens chunk @i (@len sealed bytes in r->sealed; @last: nothing follows)
 * into r->plain; *@n gets its length. Says what is wrong when it fails:
 * a chunk that opens only as the other kind (final / not final) means a
 * cut or extended file; else it is damaged or misplaced. */
static int open_one(struct tool *t, struct run *r, unsigned long i, CK_ULONG len,
                    int last, CK_ULONG *n)
{
    CK_ULONG want = last ? (i | FINAL_BIT) : i, other = last ? i : (i | FINAL_BIT);
    CK_RV rv = CKR_GENERAL_ERROR;

    *n = r->chunk;
    rv = chunk_aead(t, r, 0, want, r->sealed, len, r->plain, n);
    if (rv == CKR_OK)
        return TOOL_EXIT_OK;
    if (rv != CKR_ENCRYPTED_DATA_INVALID)
        return tool_fail_rv(t, "C_Decrypt (CKM_DEP11_CHUNK_AEAD)", rv);
    *n = r->chunk;
    rv = chunk_aead(t, r, 0, other, r->sealed, len, r->plain, n);
    OPENSSL_cleanse(r->plain, r->chunk); /* nothing of it is written */
    if (rv != CKR_OK && rv != CKR_ENCRYPTED_DATA_INVALID)
        return tool_fail_rv(t, "C_Decrypt (CKM_DEP11_CHUNK_AEAD)", rv);
    if (rv == CKR_OK && last)
        return tool_error(t, TOOL_EXIT_FAIL, "the file is truncated: it ends after "
                          "chunk %lu, which is not the final chunk", i);
    if (rv == CKR_OK)
        return tool_error(t, TOOL_EXIT_FAIL, "chunk %lu is the final chunk but data "
                          "follows it", i);
    return tool_error(t, TOOL_EXIT_FAIL, "chunk %lu failed to authenticate "
                      "(CKR_ENCRYPTED_DATA_INVALID): damaged, or moved from another "
                      "position or file", i);
}

/* Reads, opens and writes chunk after chunk until the final one. */
static int open_chunks(struct tool *t, struct run *r)
{
    unsigned char len4[4];
    CK_ULONG len = 0, n = 0;
    size_t got = 0;
    int last = 0, rc = TOOL_EXIT_OK;

    for (r->chunks = 0; !last; r->chunks++) {
        got = read_full(r->in, len4, 4);
        if (ferror(r->in))
            return tool_error(t, TOOL_EXIT_USAGE, "cannot read the input");
        if (got == 0)
            return tool_error(t, TOOL_EXIT_FAIL, "the file is truncated: chunk %lu "
                              "and the final chunk are missing", r->chunks);
        len = got == 4 ? get_u32(len4) : 0;
        if (len < OVERHEAD || len > r->chunk + OVERHEAD)
            return tool_error(t, TOOL_EXIT_FAIL, "chunk %lu: %s (damaged)", r->chunks,
                              got < 4 ? "truncated length" : "length out of range");
        if (read_full(r->in, r->sealed, len) != len)
            return tool_error(t, TOOL_EXIT_FAIL, "chunk %lu is truncated", r->chunks);
        last = at_eof(r->in);
        rc = open_one(t, r, r->chunks, len, last, &n);
        if (rc == TOOL_EXIT_OK && !last && n != r->chunk)
            rc = tool_error(t, TOOL_EXIT_FAIL, "chunk %lu holds %lu bytes, not the "
                            "chunk size %lu (damaged header)", r->chunks, n, r->chunk);
        if (rc == TOOL_EXIT_OK && tool_afile_write(t, &r->out, r->plain, n) != 0)
            rc = TOOL_EXIT_FAIL;
        OPENSSL_cleanse(r->plain, n);
        if (rc != TOOL_EXIT_OK)
            return rc;
        r->in_bytes += 4 + len;
        r->out_bytes += n;
    }
    return TOOL_EXIT_OK;
}

static int file_open(struct tool *t, int argc, char **argv)
{
    struct file_opts o;
    struct run r;
    int rc = file_parse(t, &tool_cmd_file_open, argc, argv, &o, 0);

    if (rc != 0)
        return rc < 0 ? TOOL_EXIT_OK : rc;
    run_init(&r);
    r.in = strcmp(o.in, "-") == 0 ? stdin : fopen(o.in, "rb");
    if (r.in == NULL)
        rc = tool_error(t, TOOL_EXIT_USAGE, "cannot open %s", o.in);
    if (rc == TOOL_EXIT_OK)
        rc = read_header(t, &o, &r);
    if (rc == TOOL_EXIT_OK)
        rc = run_buffers(t, &r);
    if (rc == TOOL_EXIT_OK) {
        rc = tool_unwrap_site(t, o.policy, o.site, o.id, o.requester, &r.pol, &r.site);
        if (rc == TOOL_EXIT_OK && tool_afile_open(t, &r.out, o.out, o.force) != 0)
            rc = TOOL_EXIT_USAGE;
    }
    r.in_bytes = HDR_LEN;
    if (rc == TOOL_EXIT_OK)
        rc = open_chunks(t, &r);
    if (rc == TOOL_EXIT_OK && tool_afile_commit(t, &r.out) != 0)
        rc = TOOL_EXIT_FAIL;
    if (rc == TOOL_EXIT_OK)
        report(t, "opened", &o, &r);
    run_end(t, &r);
    return rc;
}

const struct tool_cmd tool_cmd_file_open = {
    "file", "open", file_open,
    "decrypt a file sealed with file seal",
    "Usage: dep11-tool file open --policy FILE --site FILE --site-id ID\n"
    "         --in FILE --out FILE [--requester user|system|recovery]\n"
    "         [--force] --pin-source file:PATH|env:VAR\n\n"
    "Unwraps the files policy and the site key as file seal does and opens the\n"
    "sealed file chunk by chunk (CKM_DEP11_CHUNK_AEAD, one chunk in memory at a\n"
    "time). A chunk that does not authenticate (altered, or moved to another\n"
    "position or file) stops it with \"chunk N failed to authenticate\" and\n"
    "exit 1; so does a file cut short (\"the file is truncated\") or extended.\n"
    "--out is written to a temporary file and renamed only when every chunk\n"
    "has opened, so a failure leaves no output file (mode 0600; kept unless\n"
    "--force). With --out -, authenticated chunks are written to stdout as\n"
    "they open: a failure stops the output midway (exit 1).",
};
