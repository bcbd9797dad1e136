/*
 * tool.h - shared state and helpers of dep11-tool, the admin CLI. The tool is
 * a plain PKCS#11 consumer of libdep11.so: it sees only include/dep11.h and
 * p11-kit's pkcs11.h, never module internals.
 */
#ifndef DEP11_TOOL_H
#define DEP11_TOOL_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

#include <p11-kit/pkcs11.h>

#include "dep11.h"
#include "commands.h"

/* Exit codes (documented in --help and dep11-tool.1). */
#define TOOL_EXIT_OK     0 /* the operation succeeded */
#define TOOL_EXIT_FAIL   1 /* the operation failed (a CKR_ code is printed) */
#define TOOL_EXIT_USAGE  2 /* bad command line, PIN source or input file */
#define TOOL_EXIT_MODULE 3 /* the module could not be loaded or initialized */

/* Largest blob the tool reads (policy and child blobs are a few KiB). */
#define TOOL_BLOB_MAX (1024 * 1024)

/* Options common to every command (see tool_common_opt). */
struct tool_opts {
    const char *module;      /* --module, else $DEP11_MODULE, else installed */
    const char *token_label; /* --token-label */
    const char *token_uri;   /* --token pkcs11:... */
    const char *pin_source;  /* --pin-source file:PATH | env:VAR */
    int json;                /* --json */
};

/* One run of the tool: the loaded module and at most one open session. */
struct tool {
    struct tool_opts opt;
    const char *cmd;            /* "keys register", for messages */
    void *dl;                   /* dlopen handle */
    CK_FUNCTION_LIST_PTR p11;   /* the module's 2.40 function list */
    CK_DEP11_FUNCTION_LIST_PTR dep11; /* NULL when the module is not dep11 */
    int initialized;            /* C_Initialize succeeded */
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE session;  /* CK_INVALID_HANDLE when none */
    int logged_in;              /* we logged in and must log out */
    char *uri_pin_source;       /* pin-source of the --token URI (malloc'd) */
};

/* A command: "noun verb". run() returns a TOOL_EXIT_* code. */
struct tool_cmd {
    const char *noun;
    const char *verb;
    int (*run)(struct tool *t, int argc, char **argv);
    const char *summary;
    const char *help;
};

/* ---- opts.c: option handling shared by every command ---- */

/* getopt_long ids of the common options; commands use ids from 1000 up. */
enum {
    OPT_MODULE = 256,
    OPT_TOKEN_LABEL,
    OPT_TOKEN_URI,
    OPT_PIN_SOURCE,
    OPT_JSON,
    OPT_HELP,
};

/* The common long options, to append to a command's own table
 * (TOOL_COMMON_LONGOPTS expands to initializers, ends without a comma). */
#define TOOL_COMMON_LONGOPTS                                                  \
    {"module", 1, NULL, OPT_MODULE}, {"token-label", 1, NULL, OPT_TOKEN_LABEL}, \
    {"token", 1, NULL, OPT_TOKEN_URI}, {"pin-source", 1, NULL, OPT_PIN_SOURCE}, \
    {"json", 0, NULL, OPT_JSON}, {"help", 0, NULL, OPT_HELP}

/* Prints the help of the common options (and the exit codes) on @fp. */
void tool_common_help(FILE *fp);

/*
 * Handles a common option returned by getopt_long.
 * @t [in,out] the run; @c the option id; @arg its argument.
 * Returns 1 when @c was a common option, 0 when not, -1 for --help
 * (the caller prints its help and exits 0).
 */
int tool_common_opt(struct tool *t, int c, const char *arg);

/*
 * Parses a command's options. @t the run; @cmd the command (its help is
 * printed on --help or an error); @shortopts/@longopts the table (include
 * TOOL_COMMON_LONGOPTS); @handle is called for each command option with the
 * option id and argument and returns 0 or TOOL_EXIT_USAGE.
 * Returns 0 to go on, -1 when --help was printed (exit 0), or TOOL_EXIT_USAGE.
 * On return *@optind_out is the index of the first operand.
 */
int tool_parse(struct tool *t, const struct tool_cmd *cmd, int argc,
               char **argv, const struct option *longopts,
               int (*handle)(struct tool *, int, const char *, void *),
               void *ctx, int *optind_out);

/* tool_parse for a command that takes no operands: one left over prints
 * "unexpected argument ARG". Returns 0 to go on, -1 when --help was printed
 * (exit 0), or TOOL_EXIT_USAGE. */
int tool_parse_no_operands(struct tool *t, const struct tool_cmd *cmd,
                           int argc, char **argv,
                           const struct option *longopts,
                           int (*handle)(struct tool *, int, const char *,
                                         void *),
                           void *ctx);

/* ---- report.c: how failures are reported ---- */

/* Prints "dep11-tool: CMD: message" on stderr (and a JSON error object on
 * stdout under --json); returns @code. */
int tool_error(struct tool *t, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reports a failed PKCS#11 call: CKR name, hex value, one-line meaning.
 * @what names the call ("C_UnwrapKey"). Returns TOOL_EXIT_FAIL. */
int tool_fail_rv(struct tool *t, const char *what, CK_RV rv);

/* ---- ckr.c ---- */

/* "CKR_PIN_INCORRECT"; "CKR_0x..." (static per-thread buffer) if unknown. */
const char *tool_ckr_name(CK_RV rv);
/* A one-line explanation for the codes a dep11 admin meets, else NULL. */
const char *tool_ckr_explain(CK_RV rv);

/* ---- p11.c: module, token, session ---- */

/* dlopens the module, C_GetFunctionList, C_Initialize (OS locking), and
 * DEP11_GetFunctionList if exported. Returns TOOL_EXIT_OK or _MODULE. */
int tool_load(struct tool *t);

/* std_route.c: when the module offers no vendor interface (p11-kit's
 * proxy exports only C_GetFunctionList) but a slot offers
 * CKM_DEP11_POLICY_INFO, t->dep11 gets a list that runs the vendor
 * functions through standard calls (include/dep11.h); when no slot lists
 * it but one serves CKO_DEP11_REQUEST objects (p11-kit remoting), a list
 * that runs them through request objects; else it stays NULL. */
void tool_std_route(struct tool *t);

/* Selects the token (--token-label / --token / the only one), opens a
 * session (@rw: read-write) and, if @user is CKU_USER or CKU_SO, logs in with
 * the PIN from @pin_source (NULL: --pin-source). Returns a TOOL_EXIT_ code. */
int tool_open(struct tool *t, int rw, CK_USER_TYPE user, const char *pin_source);
#define TOOL_NO_LOGIN ((CK_USER_TYPE)-1)

/* tool_load, then tool_open of a session (@rw: read-write) logged in as the
 * user (PIN from --pin-source). Returns a TOOL_EXIT_ code. */
int tool_load_login(struct tool *t, int rw);

/* Logs out (if we logged in), closes the session, C_Finalize, dlclose. */
void tool_close(struct tool *t);

/* Logs out and closes the session, keeping the module initialized. */
void tool_end_session(struct tool *t);

/* Destroys session object @h unless it is CK_INVALID_HANDLE (or no module
 * is loaded); errors are ignored. */
void tool_destroy(struct tool *t, CK_OBJECT_HANDLE h);

/* Finds objects matching @tmpl. *@out (malloc'd, caller frees) gets the
 * handles, *@n their number. Returns a CKR code. */
CK_RV tool_find(struct tool *t, CK_ATTRIBUTE *tmpl, CK_ULONG count,
                CK_OBJECT_HANDLE **out, CK_ULONG *n);

/* Reads one variable-length attribute into a malloc'd, NUL-terminated
 * buffer (*@val, *@len without the NUL). Returns a CKR code; an unavailable
 * attribute gives CKR_ATTRIBUTE_TYPE_INVALID/SENSITIVE and *@val NULL. */
CK_RV tool_get_bytes(struct tool *t, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type,
                     unsigned char **val, CK_ULONG *len);

/* Reads a CK_BBOOL attribute: 1, 0, or -1 when it cannot be read. */
int tool_get_bool(struct tool *t, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type);

/* Reads a CK_ULONG attribute into *@v. Returns a CKR code. */
CK_RV tool_get_ulong(struct tool *t, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type,
                     CK_ULONG *v);

/* Finds the one RSA private key labelled @label. Returns TOOL_EXIT_OK and
 * *@h, or an exit code after printing why (none, several, call failed). */
int tool_find_root(struct tool *t, const char *label, CK_OBJECT_HANDLE *h);

/* ---- pin.c ---- */

/* Reads a PIN from "file:PATH" (first line) or "env:VAR"; for a NULL
 * @source from the --token URI's pin-source (a file others cannot read),
 * else a prompt without echo when stdin is a terminal. Into a malloc'd
 * buffer (cleanse with tool_free_pin). Returns TOOL_EXIT_OK or _USAGE
 * (message printed). */
int tool_read_pin(struct tool *t, const char *source, char **pin, size_t *len);
void tool_free_pin(char *pin, size_t len);
/* Checks the syntax of a PIN source given to option @opt (NULL is fine).
 * Returns TOOL_EXIT_OK or TOOL_EXIT_USAGE (message printed). */
int tool_check_pin_source(struct tool *t, const char *source, const char *opt);

/* ---- util.c ---- */

/* Hex of @len bytes into @out (2*len+1 bytes). */
void tool_hex(const unsigned char *in, size_t len, char *out);
/* Parses exactly 2*@len hex digits. Returns 0 or -1. */
int tool_unhex(const char *s, unsigned char *out, size_t len);
/* Parses a hex string of any even length into a malloc'd buffer. 0 or -1. */
int tool_unhex_alloc(const char *s, unsigned char **out, size_t *len);
/* Parses a UUID (8-4-4-4-12) or 32 hex digits into 16 bytes. 0 or -1. */
int tool_parse_uuid(const char *s, unsigned char out[16]);
/* Formats 16 bytes as a UUID string (37 bytes). */
void tool_format_uuid(const unsigned char in[16], char out[37]);
/* Owner id: 32 hex digits or a UUID are taken as they are; any other string
 * is hashed: the first 16 bytes of SHA-256(string). Returns 0 or -1. */
int tool_owner_id(const char *s, unsigned char out[16]);

/* Reads a whole file (or stdin for "-") of at most @max bytes. Returns 0 or
 * -1 with errno-based message printed through tool_error. */
int tool_read_file(struct tool *t, const char *path, size_t max,
                   unsigned char **buf, size_t *len);
/* Reads a whole file (not stdin) of at most @max bytes, NUL-terminated, for
 * the offline verifiers. Returns 0 or TOOL_EXIT_USAGE (message printed). */
int tool_read_all(struct tool *t, const char *path, long max,
                  unsigned char **out, size_t *len);
/* The SHA-256 of @n bytes at @p as 64 lower-case hex digits into @hex. */
void tool_sha256_hex(const unsigned char *p, size_t n, char hex[65]);

/* An output file written atomically: data goes to a temporary file beside
 * the target, fsync'd, then renamed (or linked, refusing to replace an
 * existing file unless @force). "-" writes to stdout directly. */
struct tool_afile {
    char *path;
    char *tmp;
    int fd;
    int force;
};
int tool_check_out(struct tool *t, const char *path, int force);
int tool_afile_open(struct tool *t, struct tool_afile *f, const char *path,
                    int force);
int tool_afile_write(struct tool *t, struct tool_afile *f, const void *buf,
                     size_t len);
int tool_afile_commit(struct tool *t, struct tool_afile *f);
/* Removes the temporary file (no-op after a commit). */
void tool_afile_abort(struct tool_afile *f);
/* open + write + commit. Returns 0 or -1 (message printed). */
int tool_write_atomic(struct tool *t, const char *path, const void *buf,
                      size_t len, int force);

/* ---- report.c (also tool_error and tool_fail_rv above) ---- */

/* Writes @s as a JSON string literal (quotes included) on @fp; bytes that
 * are not valid UTF-8 are written as \ufffd, so the JSON stays valid. */
void tool_json_str(FILE *fp, const char *s);
/* Length (1-4) of the valid UTF-8 sequence at @p (@n > 0 bytes), or 0. */
size_t tool_utf8_seq(const unsigned char *p, size_t n);
/* Is NUL-terminated @s valid UTF-8? */
int tool_utf8_valid(const char *s);

/* ---- util.c, continued ---- */
/* Copies a blank-padded PKCS#11 text field into a NUL-terminated string. */
void tool_trim(const CK_UTF8CHAR *in, size_t len, char *out);

/* site.c: loads the module, logs in, checks that @policy is a FILES policy,
 * unwraps it and the site blob @site for @site_id. *@pol and *@key are
 * session objects the caller destroys. Returns a TOOL_EXIT_ code. */
int tool_unwrap_site(struct tool *t, const char *policy, const char *site,
                     const unsigned char site_id[16], CK_ULONG requester,
                     CK_OBJECT_HANDLE *pol, CK_OBJECT_HANDLE *key);

/* ---- child.c: CHILD_WRAP and CHILD_UNWRAP of child keys ---- */

/* CHILD_UNWRAP of @blob under @pol for @owner (16 bytes) into session key
 * *@key; a failure prints "C_UnwrapKey (@what key) failed: ..." and leaves
 * *@key CK_INVALID_HANDLE. Returns TOOL_EXIT_OK or TOOL_EXIT_FAIL. */
int tool_child_unwrap(struct tool *t, CK_OBJECT_HANDLE pol,
                      const unsigned char *owner, const unsigned char *blob,
                      size_t len, const char *what, CK_OBJECT_HANDLE *key);
/* CHILD_WRAP of @key under @pol for @owner; *@blob malloc'd (caller frees),
 * *@len its length; a failure prints "C_WrapKey (@what key) failed: ...".
 * Returns TOOL_EXIT_OK or TOOL_EXIT_FAIL. */
int tool_child_wrap(struct tool *t, CK_OBJECT_HANDLE pol,
                    const unsigned char *owner, CK_OBJECT_HANDLE key,
                    const char *what, unsigned char **blob, CK_ULONG *len);

/* ---- shared by the policy, mailbox and data commands (policy.c) ---- */

/* Parses user|system|recovery into a DEP11_REQUESTER_ value. 0 or -1. */
int tool_parse_requester(const char *s, CK_ULONG *out);
/* An option handler's --requester: parses @arg into *@out. Returns 0, or
 * TOOL_EXIT_USAGE after "--requester is user, system or recovery". */
int tool_requester_opt(struct tool *t, const char *arg, CK_ULONG *out);
const char *tool_requester_name(CK_ULONG r);

/* Reads the policy blob at @path and unwraps it (POLICY_UNWRAP with
 * @requester). Returns a TOOL_EXIT_ code and *@h. */
int tool_unwrap_policy(struct tool *t, const char *path, CK_ULONG requester,
                       CK_OBJECT_HANDLE *h);

/* keys.c: a registration twin of RSA public numbers (keys register's
 * template: a public key, no usage, CKA_TRUSTED = TRUE; the probe's control
 * leaves CKA_TRUSTED out with @trusted 0), a token object when @token,
 * with @label and @id where not NULL. The backend's code; *@h the object. */
struct tool_twin {
    const CK_BYTE *mod, *exp, *id;
    CK_ULONG mod_len, exp_len, id_len;
    const char *label;
    int token, trusted;
};
CK_RV tool_twin_create(struct tool *t, const struct tool_twin *tw, CK_OBJECT_HANDLE *h);

#endif
