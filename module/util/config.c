/*
 * config.c - reading the module config (DESIGN section 7) and the HSM profile
 * it names: "key = value" lines, '#' comments, strict keys and values. Every
 * error is one LOG_ERROR line "file:line: reason" and CKR_FUNCTION_FAILED.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <p11-kit/uri.h>

#include "util/config.h"
#include "util/file.h"
#include "util/log.h"
#include "util/secmem.h"

#ifdef DEP11_SYSCONF_PATH
#define SYSCONF_PATH DEP11_SYSCONF_PATH
#else
#define SYSCONF_PATH "/etc/dep11/dep11.conf"
#endif
#ifdef DEP11_PROFILE_DIR
#define PROFILE_DIR DEP11_PROFILE_DIR
#else
#define PROFILE_DIR "/usr/share/dep11/hsm-profiles"
#endif

#define LINE_MAX_LEN 4096        /* characters of one line, newline excluded */
#define FILE_MAX_LEN (1u << 20)  /* a config of a megabyte is a mistake */
#define LABEL_MAX_LEN 32         /* CK_TOKEN_INFO.label */
#define SHOW 64                  /* bytes of a bad value quoted in a message */
#define MAX_KEYS 32

enum kind {
    K_PATH,     /* char[]: relative to the file's directory; empty = none */
    K_MODULE,   /* char[]: non-empty, kept as written (p11-kit resolves it) */
    K_UINT,     /* unsigned: decimal in [min, max] */
    K_WORDS,    /* int: word1 -> 1, word0 -> 0 */
    K_MECH,     /* CK_MECHANISM_TYPE: decimal or 0x hex, non-zero */
    K_OAEP,     /* CK_MECHANISM_TYPE: sha1 | sha256 */
    K_RSA_BITS, /* CK_ULONG: 2048 | 3072 | 4096 */
    K_PROFILE,  /* char[]: raw reference, resolved after the whole file */
    K_TOKEN,    /* char[]: label or pkcs11: URI */
    K_PIN,      /* char[]: file:<path> or env:<NAME> */
    K_CODES,    /* a profile's fault_override list; min = the class */
};

struct key_def {
    const char *name;
    enum kind kind;
    size_t off;
    int required;
    unsigned long min, max;
    const char *word1, *word0;
};

#define C(f) offsetof(struct dep11_config, f)
#define P(f) offsetof(struct dep11_profile, f)
static const struct key_def config_keys[] = {
    { "profile", K_PROFILE, C(profile.path), 1, 0, 0, NULL, NULL },
    { "provider-token", K_TOKEN, C(provider_token), 1, 0, 0, NULL, NULL },
    { "provider-pin", K_PIN, C(provider_pin), 1, 0, 0, NULL, NULL },
    { "audit-log", K_PATH, C(audit_log), 0, 0, 0, NULL, NULL },
    { "cache-seconds", K_UINT, C(cache_seconds), 0, 0, 86400, NULL, NULL },
    { "cache-entries", K_UINT, C(cache_entries), 0, 0, 1048576, NULL, NULL },
    { "system-requests", K_WORDS, C(system_requests), 0, 0, 0, "allow", "deny" },
    { "recovery-requests", K_WORDS, C(recovery_requests), 0, 0, 0, "allow",
      "deny" },
    { "caller-iv", K_WORDS, C(caller_iv), 0, 0, 0, "allow", "deny" },
    { "trusted-roots", K_WORDS, C(trusted_roots_any), 0, 0, 0, "any",
      "require" },
    { "receipt-public-key", K_PATH, C(receipt_public_key), 0, 0, 0, NULL, NULL },
    { "unbound-policies", K_WORDS, C(bind_unbound), 0, 0, 0, "bind-on-unwrap",
      "refuse" },
};

static const struct key_def profile_keys[] = {
    { "module", K_MODULE, P(module), 1, 0, 0, NULL, NULL },
    { "oaep-hash", K_OAEP, P(oaep_hash), 0, 0, 0, NULL, NULL },
    { "aes-key-wrap-pad-mechanism", K_MECH, P(aes_wrap_pad_mech), 0, 0, 0, NULL, NULL },
    { "root-unwrap", K_WORDS, P(root_unwrap_decrypt), 0, 0, 0, "decrypt", "unwrap" },
    { "gcm-iv", K_WORDS, P(gcm_iv_from_module), 0, 0, 0, "module", "hsm" },
    { "max-sessions", K_UINT, P(max_sessions), 0, 1, 1024, NULL, NULL },
    { "call-timeout-ms", K_UINT, P(call_timeout_ms), 0, 0, 3600000, NULL, NULL },
    { "retries", K_UINT, P(retries), 0, 0, 10, NULL, NULL },
    { "backoff-ms", K_UINT, P(backoff_ms), 0, 0, 60000, NULL, NULL },
    { "availability-key", K_WORDS, P(availability_rsa), 0, 0, 0, "rsa", "aes" },
    { "files-fallback", K_WORDS, P(files_fallback_recovery_only), 0, 0, 0, "recovery-only",
      "all" },
    { "hedged-unwrap", K_WORDS, P(hedged), 0, 0, 0, "yes", "no" },
    { "provider-rsa-bits", K_RSA_BITS, P(provider_rsa_bits), 0, 0, 0, NULL, NULL },
    { "receipt-signature", K_WORDS, P(receipt_rsa_pss), 0, 0, 0, "rsa-pss", "ecdsa" },
    { "availability-rsa-bits", K_RSA_BITS, P(availability_rsa_bits), 0, 0, 0, NULL, NULL },
    { "root-registration", K_WORDS, P(root_reg_so_login), 0, 0, 0, "so-login", "trusted-twin" },
    { "token-identity", K_WORDS, P(token_identity_label), 0, 0, 0, "serial-label", "serial" },
    { "fault-denied", K_CODES, P(fault_override), 0, DEP11_OVERRIDE_DENIED, 0, NULL, NULL },
    { "fault-transient", K_CODES, P(fault_override), 0, DEP11_OVERRIDE_TRANSIENT, 0, NULL,
      NULL },
    { "fault-invalid", K_CODES, P(fault_override), 0, DEP11_OVERRIDE_INVALID, 0, NULL, NULL },
    { "reconnect", K_WORDS, P(reconnect), 0, 0, 0, "yes", "no" },
    { "block-sigpipe", K_WORDS, P(block_sigpipe), 0, 0, 0, "yes", "no" },
    { "backend-calls", K_WORDS, P(backend_serial), 0, 0, 0, "serial", "concurrent" },
    { "object-handles", K_WORDS, P(handles_unique), 0, 0, 0, "unique", "reused" },
};
#undef C
#undef P

_Static_assert(sizeof config_keys / sizeof config_keys[0] <= MAX_KEYS &&
               sizeof profile_keys / sizeof profile_keys[0] <= MAX_KEYS,
               "struct parse.seen is too small");

/* One file being parsed. */
struct parse {
    const char *file;                  /* named in every message */
    char dir[DEP11_CONF_PATH_MAX];     /* its directory, for relative paths */
    const struct key_def *defs;
    size_t ndefs;
    char *base;                        /* struct the offsets point into */
    unsigned seen[MAX_KEYS];           /* line of first occurrence, 0 = unset */
    unsigned line;                     /* current (or last) line number */
};

/* The one error line of a failed load: "file:line: reason", logged with the
 * source location of the check that failed (hence the fail() macro). */
static CK_RV __attribute__((format(printf, 5, 6)))
fail_at(int src_line, const char *func, const char *file, unsigned line,
        const char *fmt, ...)
{
    char why[512];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    dep11_log(DEP11_LOG_ERROR, __FILE__, src_line, func, "%s:%u: %s", file,
              line, why);
    return CKR_FUNCTION_FAILED;
}
#define fail(...) fail_at(__LINE__, __func__, __VA_ARGS__)

static void
dir_of(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    size_t n = 0;

    if (slash == NULL) {
        (void)snprintf(dir, cap, ".");
        return;
    }
    n = (size_t)(slash - path);
    if (n == 0)
        n = 1;  /* "/x.conf" lives in "/" */
    if (n >= cap)
        n = cap - 1;
    memcpy(dir, path, n);
    dir[n] = '\0';
}

/* dir + "/" + name + suffix into out; 0 if it does not fit. */
static int
join(const char *dir, const char *name, const char *suffix, char *out,
     size_t cap)
{
    const char *sep = (dir[0] != '\0' && dir[strlen(dir) - 1] == '/') ? "" : "/";
    int n = snprintf(out, cap, "%s%s%s%s", dir, sep, name, suffix);

    return n >= 0 && (size_t)n < cap;
}

/* A path value: absolute as written, relative from the file's directory. */
static int
set_path(const struct parse *ps, const char *v, char *out)
{
    int n = 0;

    if (v[0] == '\0' || v[0] == '/') {
        n = snprintf(out, DEP11_CONF_PATH_MAX, "%s", v);
        return n >= 0 && n < DEP11_CONF_PATH_MAX;
    }
    return join(ps->dir, v, "", out, DEP11_CONF_PATH_MAX);
}

/* Decimal digits only (or 0x hex if @hex): no sign, no blanks. Returns 1,
 * 0 if malformed, 2 if it does not fit in an unsigned long. */
static int
parse_number(const char *v, int hex, unsigned long *out)
{
    const char *digits = v;
    char *end = NULL;
    int base = 10;

    if (hex && (strncmp(v, "0x", 2) == 0 || strncmp(v, "0X", 2) == 0)) {
        digits = v + 2;
        base = 16;
    }
    if (!(base == 16 ? isxdigit((unsigned char)digits[0])
                     : isdigit((unsigned char)digits[0])))
        return 0;
    errno = 0;
    *out = strtoul(digits, &end, base);
    if (*end != '\0')
        return 0;
    return errno == ERANGE ? 2 : 1;
}

static int
valid_env_name(const char *s)
{
    if (!(isalpha((unsigned char)*s) || *s == '_'))
        return 0;
    for (; *s != '\0'; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return 0;
    return 1;
}

/* provider-token: a label of 1..32 bytes, or a pkcs11: URI naming a token. */
static CK_RV
set_token(const struct parse *ps, const char *v, char *out)
{
    P11KitUri *uri = NULL;
    CK_TOKEN_INFO *ti = NULL;
    CK_RV rv = CKR_GENERAL_ERROR;
    int r = 0;

    if (strncmp(v, "pkcs11:", 7) != 0) {
        if (v[0] == '\0' || strlen(v) > LABEL_MAX_LEN)
            return fail(ps->file, ps->line, "provider-token: a token label has "
                        "1 to %d bytes (or use a pkcs11: URI)", LABEL_MAX_LEN);
        (void)snprintf(out, DEP11_CONF_PATH_MAX, "%s", v);
        return CKR_OK;
    }
    uri = p11_kit_uri_new();
    if (uri == NULL) {
        rv = CKR_HOST_MEMORY;
        LOG_FAIL(rv, "p11_kit_uri_new");
        goto out;
    }
    /* URIs are never quoted back: one may carry a pin-value. */
    r = p11_kit_uri_parse(v, P11_KIT_URI_FOR_TOKEN, uri);
    if (r != P11_KIT_URI_OK) {
        rv = fail(ps->file, ps->line, "provider-token: bad PKCS#11 URI (%s)",
                  p11_kit_uri_message(r));
        goto out;
    }
    if (p11_kit_uri_get_pin_value(uri) != NULL ||
        p11_kit_uri_get_pin_source(uri) != NULL) {
        rv = fail(ps->file, ps->line, "provider-token: the URI must not carry "
                  "a PIN (use provider-pin)");
        goto out;
    }
    ti = p11_kit_uri_get_token_info(uri);
    if (p11_kit_uri_any_unrecognized(uri) || ti == NULL ||
        (ti->label[0] == 0 && ti->manufacturerID[0] == 0 &&
         ti->model[0] == 0 && ti->serialNumber[0] == 0)) {
        rv = fail(ps->file, ps->line, "provider-token: the URI must name a "
                  "token (token=, serial=, model=, manufacturer=) and nothing "
                  "else");
        goto out;
    }
    if (strlen(v) >= DEP11_CONF_PATH_MAX) {
        rv = fail(ps->file, ps->line, "provider-token: URI too long");
        goto out;
    }
    (void)snprintf(out, DEP11_CONF_PATH_MAX, "%s", v);
    rv = CKR_OK;
out:
    if (uri != NULL)
        p11_kit_uri_free(uri);
    return rv;
}

/* provider-pin: never quote the value, in case someone wrote the PIN itself. */
static CK_RV
set_pin(const struct parse *ps, const char *v, char *out)
{
    char path[DEP11_CONF_PATH_MAX];
    int n = 0;

    if (strncmp(v, "env:", 4) == 0) {
        if (!valid_env_name(v + 4))
            return fail(ps->file, ps->line, "provider-pin: env: needs a "
                        "variable name ([A-Za-z_][A-Za-z0-9_]*)");
        n = snprintf(out, DEP11_CONF_PATH_MAX, "%s", v);
        if (n < 0 || n >= DEP11_CONF_PATH_MAX)
            return fail(ps->file, ps->line, "provider-pin: too long");
        return CKR_OK;
    }
    if (strncmp(v, "file:", 5) != 0)
        return fail(ps->file, ps->line, "provider-pin: must be file:<path> or "
                    "env:<VARIABLE>, never the PIN itself (value not shown)");
    if (v[5] == '\0')
        return fail(ps->file, ps->line, "provider-pin: file: needs a path");
    if (!set_path(ps, v + 5, path))
        return fail(ps->file, ps->line, "provider-pin: path too long");
    n = snprintf(out, DEP11_CONF_PATH_MAX, "file:%s", path);
    if (n < 0 || n >= DEP11_CONF_PATH_MAX)
        return fail(ps->file, ps->line, "provider-pin: path too long");
    return CKR_OK;
}

/* Typed scalar values (numbers, words, hashes). */
static CK_RV
set_scalar(const struct parse *ps, const struct key_def *d, const char *v,
           char *field)
{
    unsigned long n = 0;
    int r = 0;

    switch (d->kind) {
    case K_UINT:
        r = parse_number(v, 0, &n);
        if (r == 0)
            return fail(ps->file, ps->line, "%s: '%.*s' is not a decimal "
                        "number", d->name, SHOW, v);
        if (r == 2 || n < d->min || n > d->max)
            return fail(ps->file, ps->line, "%s: '%.*s' is out of range "
                        "%lu..%lu", d->name, SHOW, v, d->min, d->max);
        *(unsigned *)(void *)field = (unsigned)n;
        return CKR_OK;
    case K_WORDS:
        if (strcmp(v, d->word1) != 0 && strcmp(v, d->word0) != 0)
            return fail(ps->file, ps->line, "%s: '%.*s' is not %s or %s",
                        d->name, SHOW, v, d->word1, d->word0);
        *(int *)(void *)field = strcmp(v, d->word1) == 0;
        return CKR_OK;
    case K_MECH:
        if (parse_number(v, 1, &n) != 1 || n == 0)
            return fail(ps->file, ps->line, "%s: '%.*s' is not a non-zero "
                        "mechanism number", d->name, SHOW, v);
        *(CK_MECHANISM_TYPE *)(void *)field = n;
        return CKR_OK;
    case K_OAEP:
        if (strcmp(v, "sha1") != 0 && strcmp(v, "sha256") != 0)
            return fail(ps->file, ps->line, "%s: '%.*s' is not sha1 or sha256",
                        d->name, SHOW, v);
        *(CK_MECHANISM_TYPE *)(void *)field =
            strcmp(v, "sha1") == 0 ? CKM_SHA_1 : CKM_SHA256;
        return CKR_OK;
    case K_RSA_BITS:
        if (parse_number(v, 0, &n) != 1 ||
            (n != 2048 && n != 3072 && n != 4096))
            return fail(ps->file, ps->line, "%s: '%.*s' is not 2048, 3072 or "
                        "4096", d->name, SHOW, v);
        *(CK_ULONG *)(void *)field = n;
        return CKR_OK;
    default:
        break;
    }
    return fail(ps->file, ps->line, "%s: internal error (kind %d)", d->name,
                (int)d->kind);
}

/* fault-denied / -transient / -invalid: return codes (0x hex or decimal)
 * separated by commas, each appended with class d->min to the profile's
 * fault_override (util/fault_codes.h); an empty value appends none. */
static CK_RV
set_codes(const struct parse *ps, const struct key_def *d, const char *v)
{
    static const char *const malformed =
        "expected return codes (0x hex or decimal) separated by commas";
    struct dep11_profile *p = (struct dep11_profile *)(void *)ps->base;
    char tok[SHOW + 1];
    const char *why = NULL;
    unsigned long n = 0;

    while (*v != '\0') {
        size_t len = strcspn(v, ","), k = len;

        while (k > 0 && (v[k - 1] == ' ' || v[k - 1] == '\t'))
            k--;
        if (v[len] == ',' && v[len + 1 + strspn(v + len + 1, " \t")] == '\0') {
            why = "a list does not end in a comma";
        } else if (strcspn(v, " \t") < k) {
            why = "expected a comma between codes";
        } else if (k == 0 || k > SHOW) {
            why = malformed;
        } else {
            memcpy(tok, v, k);
            tok[k] = '\0';
            why = parse_number(tok, 1, &n) != 1
                      ? malformed
                      : dep11_fault_code_add(n, (int)d->min, p->fault_override,
                                             &p->fault_overrides);
        }
        if (why != NULL)
            return fail(ps->file, ps->line, "%s: %s", d->name, why);
        v += len + (v[len] == ',');
        v += strspn(v, " \t");
    }
    return CKR_OK;
}

/* Stores @v into the field @d names, after checking it. */
static CK_RV
set_value(const struct parse *ps, const struct key_def *d, const char *v)
{
    char *field = ps->base + d->off;
    size_t len = strlen(v);

    switch (d->kind) {
    case K_PATH:
        if (!set_path(ps, v, field))
            return fail(ps->file, ps->line, "%s: path too long", d->name);
        return CKR_OK;
    case K_MODULE:
    case K_PROFILE:
        if (len == 0)
            return fail(ps->file, ps->line, "%s: empty value", d->name);
        if (len >= DEP11_CONF_PATH_MAX)
            return fail(ps->file, ps->line, "%s: value too long", d->name);
        memcpy(field, v, len + 1);
        return CKR_OK;
    case K_TOKEN:
        return set_token(ps, v, field);
    case K_PIN:
        return set_pin(ps, v, field);
    case K_CODES:
        return set_codes(ps, d, v);
    default:
        return set_scalar(ps, d, v, field);
    }
}

static char *
trim(char *s)
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

/* One line (NUL-terminated, newline gone): comment, blank, or key = value. */
static CK_RV
parse_line(struct parse *ps, char *line)
{
    char *key = NULL;
    char *val = NULL;
    char *eq = NULL;
    size_t i = 0;

    line = trim(line);
    if (line[0] == '\0' || line[0] == '#')
        return CKR_OK;
    /* A trailing comment starts at a '#' after a blank ("file:/a#b" stays). */
    for (i = 1; line[i] != '\0'; i++) {
        if (line[i] == '#' && (line[i - 1] == ' ' || line[i - 1] == '\t')) {
            line[i] = '\0';
            break;
        }
    }
    eq = strchr(line, '=');
    if (eq == NULL)
        return fail(ps->file, ps->line, "expected 'key = value'");
    *eq = '\0';
    key = trim(line);
    val = trim(eq + 1);
    if (key[0] == '\0')
        return fail(ps->file, ps->line, "missing key before '='");
    for (i = 0; i < ps->ndefs; i++)
        if (strcmp(ps->defs[i].name, key) == 0)
            break;
    if (i == ps->ndefs)
        return fail(ps->file, ps->line, "unknown key '%.*s'", SHOW, key);
    if (ps->seen[i] != 0)
        return fail(ps->file, ps->line, "duplicate key '%s' (first set on line "
                    "%u)", key, ps->seen[i]);
    ps->seen[i] = ps->line;
    return set_value(ps, &ps->defs[i], val);
}

/* Reads all of @path (at most FILE_MAX_LEN) into a NUL-terminated buffer. */
static CK_RV
read_all(const char *path, char **data, size_t *len)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    FILE *f = NULL;
    char *buf = NULL;
    size_t n = 0;

    f = fopen(path, "re");
    if (f == NULL) {
        rv = fail(path, 0, "cannot open: %s", strerror(errno));
        goto out;
    }
    if (dep11_file_read_stream(f, FILE_MAX_LEN, &buf, &n) != 0) {
        rv = CKR_HOST_MEMORY;
        LOG_FAIL(rv, "config buffer");
        goto out;
    }
    if (ferror(f)) {
        rv = fail(path, 0, "cannot read: %s", strerror(errno));
        goto out;
    }
    if (n > FILE_MAX_LEN) {
        rv = fail(path, 0, "larger than %u bytes", FILE_MAX_LEN);
        goto out;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    buf = NULL;
    rv = CKR_OK;
out:
    free(buf);
    if (f != NULL)
        (void)fclose(f);
    return rv;
}

/* Parses the file ps->file into ps->base with ps->defs; checks required keys. */
static CK_RV
parse_file(struct parse *ps)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    char *data = NULL;
    char *line = NULL;
    size_t len = 0;
    size_t pos = 0;
    size_t i = 0;

    rv = read_all(ps->file, &data, &len);
    if (rv != CKR_OK)
        goto out;
    ps->line = 0;
    while (pos < len) {
        char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - data) : len;

        ps->line++;
        line = data + pos;
        data[end] = '\0';
        pos = end + 1;
        if (end - (size_t)(line - data) > LINE_MAX_LEN) {
            rv = fail(ps->file, ps->line, "line longer than %d characters",
                      LINE_MAX_LEN);
            goto out;
        }
        if (strlen(line) != end - (size_t)(line - data)) {
            rv = fail(ps->file, ps->line, "NUL byte in line");
            goto out;
        }
        rv = parse_line(ps, line);
        if (rv != CKR_OK)
            goto out;
    }
    for (i = 0; i < ps->ndefs; i++) {
        if (ps->defs[i].required && ps->seen[i] == 0) {
            rv = fail(ps->file, ps->line, "missing required key '%s' (end of "
                      "file)", ps->defs[i].name);
            goto out;
        }
    }
    rv = CKR_OK;
out:
    free(data);
    return rv;
}

static int
is_file(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The profile file a "profile" value names, into @out. */
static CK_RV
find_profile(const struct parse *ps, const char *ref, unsigned line, char *out)
{
    struct stat st;
    size_t n = strlen(ref);
    int has_conf = n > 5 && strcmp(ref + n - 5, ".conf") == 0;

    if (strchr(ref, '/') != NULL) {
        if (!set_path(ps, ref, out))
            return fail(ps->file, line, "profile: path too long");
        if (stat(out, &st) != 0)
            return fail(ps->file, line, "profile '%s': %s", out,
                        strerror(errno));
        if (!S_ISREG(st.st_mode))
            return fail(ps->file, line, "profile '%s': not a regular file",
                        out);
        return CKR_OK;
    }
    /* A bare name: the installed profiles first, then beside the config. */
    if (join(PROFILE_DIR, ref, has_conf ? "" : ".conf", out,
             DEP11_CONF_PATH_MAX) && is_file(out))
        return CKR_OK;
    if (join(ps->dir, ref, "", out, DEP11_CONF_PATH_MAX) && is_file(out))
        return CKR_OK;
    if (!has_conf && join(ps->dir, ref, ".conf", out, DEP11_CONF_PATH_MAX) &&
        is_file(out))
        return CKR_OK;
    out[0] = '\0';
    return fail(ps->file, line, "profile '%s' not found in %s or %s", ref,
                PROFILE_DIR, ps->dir);
}

static void
set_defaults(struct dep11_config *c)
{
    c->cache_seconds = 300;
    c->cache_entries = 1024;
    c->profile.oaep_hash = CKM_SHA256;
    c->profile.aes_wrap_pad_mech = 0x210A;
    c->profile.root_unwrap_decrypt = 1;
    c->profile.gcm_iv_from_module = 1;
    c->profile.max_sessions = 8;
    c->profile.retries = 1;
    c->profile.provider_rsa_bits = 3072;
    c->profile.availability_rsa_bits = 2048;
}

/*
 * Profile settings this version parses but does not act on: a profile that
 * asks for one of them is refused rather than silently ignored.
 */
static CK_RV refuse_unsupported(const struct parse *ps, const struct dep11_profile *p)
{
    static const struct {
        const char *key, *why;
    } later[] = {
        { "root-unwrap", "only 'decrypt' (C_Decrypt with RSA-OAEP) is implemented" },
    };
    const int asked[] = { !p->root_unwrap_decrypt };

    for (size_t i = 0; i < sizeof later / sizeof later[0]; i++) {
        if (!asked[i])
            continue;
        for (size_t k = 0; k < ps->ndefs; k++)
            if (strcmp(ps->defs[k].name, later[i].key) == 0)
                return fail(ps->file, ps->seen[k], "%s: not supported by this "
                            "version of dep11 (%s)", later[i].key, later[i].why);
    }
    return CKR_OK;
}

/* The line on which key @name was set in @ps (0 = not set). */
static unsigned
line_of(const struct parse *ps, const char *name)
{
    for (size_t k = 0; k < ps->ndefs; k++)
        if (strcmp(ps->defs[k].name, name) == 0)
            return ps->seen[k];
    return 0;
}

/*
 * DESIGN section 5: a process that may unwrap as SYSTEM or RECOVERY must
 * have an audit log, or the availability key would serve with nothing
 * recorded. Names the line of the first "allow".
 */
static CK_RV
require_audit(const struct parse *ps, const struct dep11_config *c)
{
    unsigned sys = c->system_requests ? line_of(ps, "system-requests") : 0;
    unsigned rec = c->recovery_requests ? line_of(ps, "recovery-requests") : 0;
    int first_sys = sys != 0 && (rec == 0 || sys < rec);

    if (c->audit_log[0] != '\0' || (sys == 0 && rec == 0))
        return CKR_OK;
    return fail(ps->file, first_sys ? sys : rec, "%s = allow needs an audit-log "
                "(every SYSTEM or RECOVERY unwrap must be recorded)",
                first_sys ? "system-requests" : "recovery-requests");
}

/* Parses the profile named in c->profile.path (on config line @line). */
static CK_RV
load_profile(const struct parse *cps, unsigned line, struct dep11_config *c)
{
    struct parse *ps = NULL;
    char ref[DEP11_CONF_PATH_MAX];
    CK_RV rv = CKR_GENERAL_ERROR;

    memcpy(ref, c->profile.path, sizeof ref);
    rv = find_profile(cps, ref, line, c->profile.path);
    if (rv != CKR_OK)
        goto out;
    ps = calloc(1, sizeof *ps);
    if (ps == NULL) {
        rv = CKR_HOST_MEMORY;
        LOG_FAIL(rv, "profile parser");
        goto out;
    }
    ps->file = c->profile.path;
    dir_of(ps->file, ps->dir, sizeof ps->dir);
    ps->defs = profile_keys;
    ps->ndefs = sizeof profile_keys / sizeof profile_keys[0];
    ps->base = (char *)&c->profile;
    rv = parse_file(ps);
    if (rv == CKR_OK)
        rv = refuse_unsupported(ps, &c->profile);
    c->profile.module_line = line_of(ps, "module");
out:
    free(ps);
    return rv;
}

/* See config.h. @out is all zero on failure. */
CK_RV
dep11_config_load(const char *path, struct dep11_config *out)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    struct dep11_config *c = NULL;
    struct parse *ps = NULL;

    if (path == NULL || out == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL path or out");
        return rv;
    }
    memset(out, 0, sizeof *out);
    if (path[0] == '\0' || strlen(path) >= sizeof c->path) {
        rv = fail(path, 0, "config path empty or too long");
        goto out;
    }
    c = calloc(1, sizeof *c);
    ps = calloc(1, sizeof *ps);
    if (c == NULL || ps == NULL) {
        rv = CKR_HOST_MEMORY;
        LOG_FAIL(rv, "config parser");
        goto out;
    }
    set_defaults(c);
    memcpy(c->path, path, strlen(path) + 1);
    ps->file = c->path;
    dir_of(path, ps->dir, sizeof ps->dir);
    ps->defs = config_keys;
    ps->ndefs = sizeof config_keys / sizeof config_keys[0];
    ps->base = (char *)c;
    rv = parse_file(ps);
    if (rv == CKR_OK)
        rv = require_audit(ps, c);
    if (rv != CKR_OK)
        goto out;
    /* config_keys[0] is "profile"; seen[0] is its line. */
    rv = load_profile(ps, ps->seen[0], c);
    if (rv != CKR_OK)
        goto out;
    memcpy(out, c, sizeof *out);
    LOG_INFO("config %s: profile %s, module %s", c->path, c->profile.path,
             c->profile.module);
out:
    free(ps);
    free(c);
    return rv;
}

/* See config.h. The string is the environment's or a constant; not owned. */
const char *
dep11_config_default_path(void)
{
#ifdef __GLIBC__
    const char *env = secure_getenv("DEP11_CONF");
#else
    const char *env = getenv("DEP11_CONF");
#endif

    if (env != NULL && env[0] != '\0')
        return env;
    return SYSCONF_PATH;
}

/* See config.h. */
int
dep11_config_absent(void)
{
    if (strcmp(dep11_config_default_path(), SYSCONF_PATH) != 0)
        return 0;
    /* EACCES too: a default config readable only by the service's group
     * (mode 640) leaves the machine's other users' processes unconfigured. */
    return access(SYSCONF_PATH, R_OK) != 0 && (errno == ENOENT || errno == EACCES);
}
