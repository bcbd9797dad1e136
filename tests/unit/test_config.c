/*
 * test_config.c - unit tests of module/util/config.c: a full config and
 * profile, the defaults, comment and whitespace syntax, profile lookup, every
 * error class (one ERROR line naming file:line), PIN sources.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/config.h"
#include "util/log.h"

#define BASE "profile = prof\n" \
             "provider-token = dep11-provider\n" \
             "provider-pin = env:DEP11_TEST_PIN\n"
#define GOOD_PROFILE "module = /usr/lib/softhsm/libsofthsm2.so\n"
#define SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"

struct fx {
    char dir[64];          /* mkdtemp: every file of the test lives here */
    char conf[128];        /* dir/dep11.conf */
    char prof[128];        /* dir/prof.conf */
    const char *log;       /* DEP11_DEBUG_FILE (set by main) */
    off_t logoff;          /* log size before the call under test */
    struct dep11_config cfg;
};

static int
setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);

    if (fx == NULL)
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "/tmp/dep11-test-config-XXXXXX");
    if (mkdtemp(fx->dir) == NULL)
        return -1;
    snprintf(fx->conf, sizeof fx->conf, "%s/dep11.conf", fx->dir);
    snprintf(fx->prof, sizeof fx->prof, "%s/prof.conf", fx->dir);
    fx->log = getenv("DEP11_DEBUG_FILE");
    if (fx->log == NULL)
        return -1;
    *state = fx;
    return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int
teardown(void **state)
{
    struct fx *fx = *state;

    nftw(fx->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

/* Writes @len bytes of @data to dir/@name (mode 0600). */
static void
put_bytes(const struct fx *fx, const char *name, const char *data, size_t len)
{
    char path[256];
    int fd = -1;

    snprintf(path, sizeof path, "%s/%s", fx->dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void
put(const struct fx *fx, const char *name, const char *text)
{
    put_bytes(fx, name, text, strlen(text));
}

static void
mark_log(struct fx *fx)
{
    struct stat st;

    fx->logoff = stat(fx->log, &st) == 0 ? st.st_size : 0;
}

/* What was logged since mark_log(); caller frees. */
static char *
log_since(const struct fx *fx)
{
    FILE *f = fopen(fx->log, "r");
    char *buf = NULL;
    long end = 0;

    if (f == NULL)
        return strdup("");
    fseek(f, 0, SEEK_END);
    end = ftell(f);
    buf = calloc(1, (size_t)(end - fx->logoff) + 1);
    assert_non_null(buf);
    fseek(f, fx->logoff, SEEK_SET);
    assert_int_equal(fread(buf, 1, (size_t)(end - fx->logoff), f),
                     (size_t)(end - fx->logoff));
    fclose(f);
    return buf;
}

/* Writes @conf (and @prof unless NULL) and loads the config. */
static CK_RV
load(struct fx *fx, const char *conf, const char *prof)
{
    put(fx, "dep11.conf", conf);
    if (prof != NULL)
        put(fx, "prof.conf", prof);
    mark_log(fx);
    memset(&fx->cfg, 0xA5, sizeof fx->cfg);
    return dep11_config_load(fx->conf, &fx->cfg);
}

static int
count(const char *hay, const char *needle)
{
    int n = 0;

    for (; (hay = strstr(hay, needle)) != NULL; hay++)
        n++;
    return n;
}

/* The last load failed with one ERROR line "file:line: ...reason...", the
 * output is zeroed, and @secret (if any) was never logged. */
static void
check_failed(const struct fx *fx, CK_RV rv, const char *file, unsigned line,
             const char *reason, const char *secret, const char *name)
{
    static const struct dep11_config zero;
    char where[300];
    char *got = log_since(fx);
    const char *err = strstr(got, " ERROR ");

    snprintf(where, sizeof where, ": %s:%u: ", file, line);
    if (rv != CKR_FUNCTION_FAILED || count(got, " ERROR ") != 1 ||
        strstr(err, where) == NULL || strstr(err, reason) == NULL ||
        (secret != NULL && strstr(got, secret) != NULL))
        fail_msg("case '%s': rv 0x%lx, want '%s' and '%s' in one ERROR line; "
                 "log:\n%s", name, (unsigned long)rv, where, reason, got);
    assert_memory_equal(&fx->cfg, &zero, sizeof zero);
    free(got);
}

static void
test_full_config(void **state)
{
    struct fx *fx = *state;
    const struct dep11_config *c = &fx->cfg;
    char want[256];

    assert_int_equal(load(fx,
        "# dep11 test config\n"
        "profile = prof   # trailing comment\n"
        "provider-token = pkcs11:token=dep11-provider;serial=0123\n"
        "provider-pin = file:pin.txt\n"
        "audit-log = logs/audit.jsonl\n"
        "cache-seconds = 60\n"
        "cache-entries = 77\n"
        "system-requests = allow\n"
        "recovery-requests = allow\n"
        "caller-iv = allow\n"
        "trusted-roots = any\n"
        "receipt-public-key = /var/lib/dep11/receipts.pem\n"
        "unbound-policies = bind-on-unwrap\n",
        "module = " SOFTHSM "\n"
        "oaep-hash = sha1\n"
        "aes-key-wrap-pad-mechanism = 0x210B\n"
        "root-unwrap = decrypt\n"
        "gcm-iv = module\n"
        "max-sessions = 16\n"
        "call-timeout-ms = 2500\n"
        "retries = 3\n"
        "backoff-ms = 100\n"
        "availability-key = aes\n"
        "files-fallback = recovery-only\n"
        "hedged-unwrap = yes\n"
        "provider-rsa-bits = 4096\n"), CKR_OK);
    assert_string_equal(c->path, fx->conf);
    assert_string_equal(c->profile.path, fx->prof);
    assert_string_equal(c->provider_token,
                        "pkcs11:token=dep11-provider;serial=0123");
    snprintf(want, sizeof want, "file:%s/pin.txt", fx->dir);
    assert_string_equal(c->provider_pin, want);
    snprintf(want, sizeof want, "%s/logs/audit.jsonl", fx->dir);
    assert_string_equal(c->audit_log, want);
    assert_int_equal(c->cache_seconds, 60);
    assert_int_equal(c->cache_entries, 77);
    assert_int_equal(c->system_requests, 1);
    assert_int_equal(c->recovery_requests, 1);
    assert_int_equal(c->caller_iv, 1);
    assert_int_equal(c->trusted_roots_any, 1);
    assert_int_equal(c->bind_unbound, 1);
    assert_string_equal(c->receipt_public_key, "/var/lib/dep11/receipts.pem");
    assert_string_equal(c->profile.module, SOFTHSM);
    assert_int_equal(c->profile.oaep_hash, CKM_SHA_1);
    assert_int_equal(c->profile.aes_wrap_pad_mech, 0x210B);
    assert_int_equal(c->profile.root_unwrap_decrypt, 1);
    assert_int_equal(c->profile.gcm_iv_from_module, 1);
    assert_int_equal(c->profile.max_sessions, 16);
    assert_int_equal(c->profile.call_timeout_ms, 2500);
    assert_int_equal(c->profile.retries, 3);
    assert_int_equal(c->profile.backoff_ms, 100);
    assert_int_equal(c->profile.availability_rsa, 0);
    assert_int_equal(c->profile.files_fallback_recovery_only, 1);
    assert_int_equal(c->profile.hedged, 1);
    assert_int_equal(c->profile.provider_rsa_bits, 4096);
}

static void
check_defaults(const struct dep11_config *c)
{
    assert_string_equal(c->audit_log, "");
    assert_string_equal(c->receipt_public_key, "");
    assert_int_equal(c->cache_seconds, 300);
    assert_int_equal(c->cache_entries, 1024);
    assert_int_equal(c->system_requests, 0);
    assert_int_equal(c->recovery_requests, 0);
    assert_int_equal(c->caller_iv, 0);
    assert_int_equal(c->trusted_roots_any, 0);
    assert_int_equal(c->bind_unbound, 0);
    assert_int_equal(c->profile.oaep_hash, CKM_SHA256);
    assert_int_equal(c->profile.aes_wrap_pad_mech, 0x210A);
    assert_int_equal(c->profile.root_unwrap_decrypt, 1);
    assert_int_equal(c->profile.gcm_iv_from_module, 1);
    assert_int_equal(c->profile.max_sessions, 8);
    assert_int_equal(c->profile.call_timeout_ms, 0);
    assert_int_equal(c->profile.retries, 1);
    assert_int_equal(c->profile.backoff_ms, 0);
    assert_int_equal(c->profile.availability_rsa, 0);
    assert_int_equal(c->profile.files_fallback_recovery_only, 0);
    assert_int_equal(c->profile.hedged, 0);
    assert_int_equal(c->profile.provider_rsa_bits, 3072);
}

static void
test_defaults(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(load(fx, BASE, GOOD_PROFILE), CKR_OK);
    assert_string_equal(fx->cfg.provider_token, "dep11-provider");
    assert_string_equal(fx->cfg.provider_pin, "env:DEP11_TEST_PIN");
    assert_string_equal(fx->cfg.profile.module, SOFTHSM);
    check_defaults(&fx->cfg);
}

/* Spelling out each default gives the same result as leaving it out. */
static void
test_explicit_defaults(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(load(fx, BASE
        "audit-log =\n"
        "cache-seconds = 300\n"
        "cache-entries = 1024\n"
        "system-requests = deny\n"
        "recovery-requests = deny\n"
        "caller-iv = deny\n"
        "trusted-roots = require\n"
        "receipt-public-key =\n"
        "unbound-policies = refuse\n",
        GOOD_PROFILE
        "oaep-hash = sha256\n"
        "aes-key-wrap-pad-mechanism = 8458\n"
        "root-unwrap = decrypt\n"
        "gcm-iv = module\n"
        "max-sessions = 8\n"
        "call-timeout-ms = 0\n"
        "retries = 1\n"
        "backoff-ms = 0\n"
        "availability-key = aes\n"
        "files-fallback = all\n"
        "hedged-unwrap = no\n"
        "provider-rsa-bits = 3072\n"), CKR_OK);
    check_defaults(&fx->cfg);
}

static void
test_syntax(void **state)
{
    struct fx *fx = *state;

    /* CRLF, tabs, blank lines with blanks, indented comments, no spaces
     * around '=', '#' inside a value, no newline at the end. */
    assert_int_equal(load(fx,
        "\r\n"
        "   # indented comment\r\n"
        " \t \r\n"
        "\tprofile\t=\tprof\t# tab comment\r\n"
        "provider-token=dep11#x\r\n"
        "provider-pin   =   file:/run/pin#1   # comment # more\r\n"
        "cache-seconds = 0",
        "#!\nmodule=" SOFTHSM "#not-a-comment\n"), CKR_OK);
    assert_string_equal(fx->cfg.provider_token, "dep11#x");
    assert_string_equal(fx->cfg.provider_pin, "file:/run/pin#1");
    assert_int_equal(fx->cfg.cache_seconds, 0);
    assert_string_equal(fx->cfg.profile.module, SOFTHSM "#not-a-comment");
}

struct bad_case {
    const char *name;
    const char *conf;
    const char *prof;      /* NULL: GOOD_PROFILE */
    int in_profile;        /* error names prof.conf, not dep11.conf */
    unsigned line;
    const char *reason;
    const char *secret;    /* must not appear in the log */
};

static const struct bad_case bad_cases[] = {
    { "unknown key", BASE "colour = blue\n", NULL, 0, 4,
      "unknown key 'colour'", NULL },
    { "duplicate key", BASE "cache-seconds = 1\n\ncache-seconds = 2\n", NULL,
      0, 6, "duplicate key 'cache-seconds' (first set on line 4)", NULL },
    { "duplicate required key", BASE "profile = prof\n", NULL, 0, 4,
      "duplicate key 'profile'", NULL },
    { "missing profile", "provider-token = t\nprovider-pin = env:X\n", NULL,
      0, 2, "missing required key 'profile'", NULL },
    { "missing provider-token", "profile = prof\n# c\nprovider-pin = env:X\n",
      NULL, 0, 3, "missing required key 'provider-token'", NULL },
    { "missing provider-pin", "profile = prof\nprovider-token = t\n", NULL, 0,
      2, "missing required key 'provider-pin'", NULL },
    { "no equals sign", BASE "cache-seconds 5\n", NULL, 0, 4,
      "expected 'key = value'", NULL },
    { "no key", BASE " = 5\n", NULL, 0, 4, "missing key", NULL },
    { "cache-seconds word", BASE "cache-seconds = abc\n", NULL, 0, 4,
      "cache-seconds: 'abc' is not a decimal number", NULL },
    { "cache-seconds negative", BASE "cache-seconds = -1\n", NULL, 0, 4,
      "is not a decimal number", NULL },
    { "cache-seconds empty", BASE "cache-seconds =\n", NULL, 0, 4,
      "is not a decimal number", NULL },
    { "cache-seconds two words", BASE "cache-seconds = 1 0\n", NULL, 0, 4,
      "is not a decimal number", NULL },
    { "cache-seconds glued comment", BASE "cache-seconds = 5#x\n", NULL, 0, 4,
      "is not a decimal number", NULL },
    { "cache-seconds hex", BASE "cache-seconds = 0x10\n", NULL, 0, 4,
      "is not a decimal number", NULL },
    { "cache-seconds too large", BASE "cache-seconds = 86401\n", NULL, 0, 4,
      "cache-seconds: '86401' is out of range 0..86400", NULL },
    { "cache-seconds overflow", BASE "cache-seconds = 99999999999999999999999\n",
      NULL, 0, 4, "is out of range", NULL },
    { "cache-entries too large", BASE "cache-entries = 1048577\n", NULL, 0, 4,
      "cache-entries: '1048577' is out of range", NULL },
    { "cache-entries word", BASE "cache-entries = many\n", NULL, 0, 4,
      "is not a decimal number", NULL },
    { "system-requests", BASE "system-requests = maybe\n", NULL, 0, 4,
      "system-requests: 'maybe' is not allow or deny", NULL },
    { "recovery-requests", BASE "recovery-requests = yes\n", NULL, 0, 4,
      "recovery-requests: 'yes' is not allow or deny", NULL },
    { "caller-iv case", BASE "caller-iv = Allow\n", NULL, 0, 4,
      "caller-iv: 'Allow' is not allow or deny", NULL },
    { "trusted-roots", BASE "trusted-roots = allow\n", NULL, 0, 4,
      "trusted-roots: 'allow' is not any or require", NULL },
    { "unbound-policies", BASE "unbound-policies = bind\n", NULL, 0, 4,
      "unbound-policies: 'bind' is not bind-on-unwrap or refuse", NULL },
    { "label too long",
      "profile = prof\nprovider-token = 0123456789abcdef0123456789abcdefX\n"
      "provider-pin = env:X\n", NULL, 0, 2, "1 to 32 bytes", NULL },
    { "empty label", "profile = prof\nprovider-token =\nprovider-pin = env:X\n",
      NULL, 0, 2, "1 to 32 bytes", NULL },
    { "bad URI", "profile = prof\nprovider-token = pkcs11:token=%zz\n"
      "provider-pin = env:X\n", NULL, 0, 2, "bad PKCS#11 URI", NULL },
    { "URI without token", "profile = prof\nprovider-token = pkcs11:\n"
      "provider-pin = env:X\n", NULL, 0, 2, "must name a token", NULL },
    { "URI names an object",
      "profile = prof\nprovider-token = pkcs11:token=a;object=b\n"
      "provider-pin = env:X\n", NULL, 0, 2, "must name a token", NULL },
    { "URI names a slot",
      "profile = prof\nprovider-token = pkcs11:slot-id=1\n"
      "provider-pin = env:X\n", NULL, 0, 2, "must name a token", NULL },
    { "URI with PIN",
      "profile = prof\nprovider-token = pkcs11:token=a?pin-value=987654\n"
      "provider-pin = env:X\n", NULL, 0, 2, "must not carry a PIN", "987654" },
    { "PIN itself", "profile = prof\nprovider-token = t\n"
      "provider-pin = 135791\n", NULL, 0, 3, "must be file:<path> or env:",
      "135791" },
    { "PIN unknown scheme", "profile = prof\nprovider-token = t\n"
      "provider-pin = pin:246802\n", NULL, 0, 3,
      "must be file:<path> or env:", "246802" },
    { "PIN env bad name", "profile = prof\nprovider-token = t\n"
      "provider-pin = env:1X\n", NULL, 0, 3, "needs a variable name", NULL },
    { "PIN env empty", "profile = prof\nprovider-token = t\n"
      "provider-pin = env:\n", NULL, 0, 3, "needs a variable name", NULL },
    { "PIN file empty", "profile = prof\nprovider-token = t\n"
      "provider-pin = file:\n", NULL, 0, 3, "file: needs a path", NULL },
    { "profile bare name missing", "provider-token = t\nprovider-pin = env:X\n"
      "profile = nosuch\n", NULL, 0, 3, "profile 'nosuch' not found", NULL },
    { "profile path missing", "provider-token = t\nprovider-pin = env:X\n"
      "profile = ./nosuch.conf\n", NULL, 0, 3, "No such file", NULL },
    { "profile is a directory", "provider-token = t\nprovider-pin = env:X\n"
      "profile = /tmp/\n", NULL, 0, 3, "not a regular file", NULL },
    { "profile empty", "provider-token = t\nprovider-pin = env:X\n"
      "profile =\n", NULL, 0, 3, "profile: empty value", NULL },
    { "profile without module", BASE, "# no module\noaep-hash = sha1\n", 1, 2,
      "missing required key 'module'", NULL },
    { "profile empty file", BASE, "", 1, 0, "missing required key 'module'",
      NULL },
    { "profile empty module", BASE, "module =\n", 1, 1,
      "module: empty value", NULL },
    { "profile unknown key", BASE, GOOD_PROFILE "profile = x\n", 1, 2,
      "unknown key 'profile'", NULL },
    { "profile duplicate", BASE, GOOD_PROFILE "module = /x.so\n", 1, 2,
      "duplicate key 'module' (first set on line 1)", NULL },
    { "oaep-hash", BASE, GOOD_PROFILE "oaep-hash = sha512\n", 1, 2,
      "oaep-hash: 'sha512' is not sha1 or sha256", NULL },
    { "wrap mechanism zero", BASE, GOOD_PROFILE
      "aes-key-wrap-pad-mechanism = 0\n", 1, 2, "non-zero mechanism", NULL },
    { "wrap mechanism junk", BASE, GOOD_PROFILE
      "aes-key-wrap-pad-mechanism = 0xZZ\n", 1, 2, "non-zero mechanism",
      NULL },
    { "wrap mechanism overflow", BASE, GOOD_PROFILE
      "aes-key-wrap-pad-mechanism = 0x1ffffffffffffffff\n", 1, 2,
      "non-zero mechanism", NULL },
    { "root-unwrap", BASE, GOOD_PROFILE "root-unwrap = both\n", 1, 2,
      "root-unwrap: 'both' is not decrypt or unwrap", NULL },
    { "gcm-iv", BASE, GOOD_PROFILE "gcm-iv = random\n", 1, 2,
      "gcm-iv: 'random' is not module or hsm", NULL },
    { "max-sessions zero", BASE, GOOD_PROFILE "max-sessions = 0\n", 1, 2,
      "max-sessions: '0' is out of range 1..1024", NULL },
    { "max-sessions large", BASE, GOOD_PROFILE "max-sessions = 1025\n", 1, 2,
      "is out of range 1..1024", NULL },
    { "call-timeout-ms", BASE, GOOD_PROFILE "call-timeout-ms = 3600001\n", 1,
      2, "is out of range 0..3600000", NULL },
    { "retries", BASE, GOOD_PROFILE "retries = 11\n", 1, 2,
      "is out of range 0..10", NULL },
    { "backoff-ms", BASE, GOOD_PROFILE "backoff-ms = soon\n", 1, 2,
      "backoff-ms: 'soon' is not a decimal number", NULL },
    { "availability-key", BASE, GOOD_PROFILE "availability-key = ec\n", 1, 2,
      "availability-key: 'ec' is not rsa or aes", NULL },
    { "files-fallback", BASE, GOOD_PROFILE "files-fallback = none\n", 1, 2,
      "files-fallback: 'none' is not recovery-only or all", NULL },
    { "hedged-unwrap", BASE, GOOD_PROFILE "hedged-unwrap = true\n", 1, 2,
      "hedged-unwrap: 'true' is not yes or no", NULL },
    { "provider-rsa-bits", BASE, GOOD_PROFILE "provider-rsa-bits = 1024\n", 1,
      2, "provider-rsa-bits: '1024' is not 2048, 3072 or 4096", NULL },
    { "profile no equals", BASE, GOOD_PROFILE "\n\nretries\n", 1, 4,
      "expected 'key = value'", NULL },
    { "fault-transient junk", BASE, GOOD_PROFILE "fault-transient = 0x30 0x31\n", 1,
      2, "fault-transient: expected a comma between codes", NULL },
    { "fault-denied word", BASE, GOOD_PROFILE "fault-denied = CKR_DEVICE_ERROR\n", 1,
      2, "fault-denied: expected return codes", NULL },
    { "fault-invalid trailing comma", BASE, GOOD_PROFILE "fault-invalid = 0x30,\n", 1,
      2, "fault-invalid: a list does not end in a comma", NULL },
    { "fault-denied 0x", BASE, GOOD_PROFILE "fault-denied = 0x\n", 1, 2,
      "fault-denied: expected return codes", NULL },
    { "fault-transient CKR_OK", BASE, GOOD_PROFILE "fault-transient = 0\n", 1, 2,
      "fault-transient: CKR_OK is not a failure", NULL },
    { "fault-transient abort", BASE, GOOD_PROFILE "fault-transient = 0x101\n", 1, 2,
      "CKR_USER_NOT_LOGGED_IN always aborts", NULL },
    { "fault code twice", BASE,
      GOOD_PROFILE "fault-denied = 0x30\nfault-transient = 48\n", 1, 3,
      "fault-transient: a code is listed twice", NULL },
    { "fault codes too many", BASE,
      GOOD_PROFILE "fault-denied = 1,2,3,4,5,6,7,8,9\nfault-invalid = 10,11,12,13,14,15,16,"
                   "17\n", 1, 3, "fault-invalid: more than 16 codes in all", NULL },
    { "fault code too large", BASE,
      GOOD_PROFILE "fault-denied = 0x1ffffffffffffffffff\n", 1, 2,
      "fault-denied: expected return codes", NULL },
    /* DESIGN section 5: SYSTEM or RECOVERY requests need an audit log. */
    { "system-requests without audit-log", BASE "system-requests = allow\n", NULL,
      0, 4, "system-requests = allow needs an audit-log", NULL },
    { "recovery-requests without audit-log", BASE "cache-seconds = 1\n"
      "recovery-requests = allow\n", NULL, 0, 5,
      "recovery-requests = allow needs an audit-log", NULL },
    { "both requests without audit-log", BASE "recovery-requests = allow\n"
      "system-requests = allow\n", NULL, 0, 4,
      "recovery-requests = allow needs an audit-log", NULL },
    { "system allowed, recovery denied, no audit-log", BASE
      "recovery-requests = deny\nsystem-requests = allow\n", NULL, 0, 5,
      "system-requests = allow needs an audit-log", NULL },
    /* Valid values this version does not act on: refused, not ignored. */
    { "root-unwrap unwrap", BASE, GOOD_PROFILE "root-unwrap = unwrap\n", 1, 2,
      "root-unwrap: not supported by this version", NULL },
    { "gcm-iv hsm", BASE, GOOD_PROFILE "\ngcm-iv = hsm\n", 1, 3,
      "gcm-iv: not supported by this version", NULL },
    { "availability-key rsa", BASE, GOOD_PROFILE "availability-key = rsa\n", 1,
      2, "availability-key: not supported by this version", NULL },
};

static void
test_bad_values(void **state)
{
    struct fx *fx = *state;
    size_t i = 0;

    for (i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *b = &bad_cases[i];
        CK_RV rv = load(fx, b->conf, b->prof != NULL ? b->prof : GOOD_PROFILE);

        check_failed(fx, rv, b->in_profile ? fx->prof : fx->conf, b->line,
                     b->reason, b->secret, b->name);
    }
}

/* fault-denied / -transient / -invalid: the codes, in order, each with
 * its class; an empty value moves nothing. */
static void
test_fault_codes(void **state)
{
    struct fx *fx = *state;
    const struct dep11_profile *p = &fx->cfg.profile;

    assert_int_equal(load(fx, BASE, GOOD_PROFILE "fault-transient = 0x82 ,0xE0\n"
                          "fault-denied = 48\nfault-invalid =\n"), CKR_OK);
    assert_int_equal(p->fault_overrides, 3);
    assert_int_equal(p->fault_override[0].rv, CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(p->fault_override[0].fault, DEP11_OVERRIDE_TRANSIENT);
    assert_int_equal(p->fault_override[1].rv, CKR_TOKEN_NOT_PRESENT);
    assert_int_equal(p->fault_override[1].fault, DEP11_OVERRIDE_TRANSIENT);
    assert_int_equal(p->fault_override[2].rv, CKR_DEVICE_ERROR);
    assert_int_equal(p->fault_override[2].fault, DEP11_OVERRIDE_DENIED);
    assert_int_equal(load(fx, BASE, GOOD_PROFILE), CKR_OK);
    assert_int_equal(p->fault_overrides, 0);
}

/* A file of exactly 1 MiB (comment lines after the keys, last key at the
 * very end) loads, read in growing steps; one byte more is refused. */
static void
test_file_size(void **state)
{
    struct fx *fx = *state;
    const size_t max = 1u << 20;
    const char *tail = "cache-seconds = 7\n";
    char *text = malloc(max + 2);
    size_t n = 0;

    assert_non_null(text);
    n = (size_t)sprintf(text, BASE);
    while (n < max - strlen(tail)) {
        size_t room = max - strlen(tail) - n, k = room > 4000 ? 4000 : room;

        memset(text + n, 'c', k);
        text[n] = '#';
        text[n + k - 1] = '\n';
        n += k;
    }
    strcpy(text + n, tail);
    assert_int_equal(strlen(text), max);
    assert_int_equal(load(fx, text, GOOD_PROFILE), CKR_OK);
    assert_int_equal(fx->cfg.cache_seconds, 7);
    strcat(text, "\n");
    check_failed(fx, load(fx, text, GOOD_PROFILE), fx->conf, 0,
                 "larger than 1048576 bytes", NULL, "over 1 MiB");
    free(text);
}

static void
test_line_length(void **state)
{
    struct fx *fx = *state;
    char *text = malloc(8192);
    size_t n = 0;

    assert_non_null(text);
    /* Exactly 4096 characters (a comment), then CRLF: accepted. */
    n = (size_t)sprintf(text, BASE "#");
    memset(text + n, 'x', 4095);
    strcpy(text + n + 4095, "\n");
    assert_int_equal(load(fx, text, GOOD_PROFILE), CKR_OK);
    /* 4097 characters on line 4: refused. */
    memset(text + n, 'x', 4096);
    strcpy(text + n + 4096, "\ncache-seconds = 1\n");
    check_failed(fx, load(fx, text, GOOD_PROFILE), fx->conf, 4,
                 "line longer than 4096 characters", NULL, "overlong");
    /* The same in a profile names the profile. */
    n = (size_t)sprintf(text, GOOD_PROFILE "#");
    memset(text + n, 'y', 4096);
    strcpy(text + n + 4096, "\n");
    check_failed(fx, load(fx, BASE, text), fx->prof, 2,
                 "line longer than 4096 characters", NULL, "overlong profile");
    /* A relative path that only becomes too long once joined. */
    n = (size_t)sprintf(text, BASE "audit-log = ");
    memset(text + n, 'z', 4080);
    strcpy(text + n + 4080, "\n");
    check_failed(fx, load(fx, text, GOOD_PROFILE), fx->conf, 4,
                 "audit-log: path too long", NULL, "long path");
    free(text);
}

static void
test_nul_byte(void **state)
{
    struct fx *fx = *state;
    static const char conf[] = BASE "cache-seconds = 1\0 0\n";

    put(fx, "prof.conf", GOOD_PROFILE);
    put_bytes(fx, "dep11.conf", conf, sizeof conf - 1);
    mark_log(fx);
    memset(&fx->cfg, 0xA5, sizeof fx->cfg);
    check_failed(fx, dep11_config_load(fx->conf, &fx->cfg), fx->conf, 4,
                 "NUL byte", NULL, "NUL");
}

static void
test_missing_file(void **state)
{
    struct fx *fx = *state;

    mark_log(fx);
    memset(&fx->cfg, 0xA5, sizeof fx->cfg);
    check_failed(fx, dep11_config_load(fx->conf, &fx->cfg), fx->conf, 0,
                 "cannot open: No such file", NULL, "missing config");
    assert_int_equal(dep11_config_load(NULL, &fx->cfg), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_config_load(fx->conf, NULL), CKR_ARGUMENTS_BAD);
}

static void
test_profile_lookup(void **state)
{
    struct fx *fx = *state;
    char path[256];
    char conf[512];

    snprintf(path, sizeof path, "%s/sub", fx->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    put(fx, "sub/p2.conf", "module = /two.so\n");
    put(fx, "p3", "module = /three.so\n");
    put(fx, "p4", "module = /four.so\n");
    put(fx, "p4.conf", "module = /four-conf.so\n");
    put(fx, "prof.conf", GOOD_PROFILE);

    /* Relative path: from the config's directory, not the cwd. */
    assert_int_equal(load(fx, "profile = sub/p2.conf\nprovider-token = t\n"
                          "provider-pin = env:X\n", NULL), CKR_OK);
    snprintf(path, sizeof path, "%s/sub/p2.conf", fx->dir);
    assert_string_equal(fx->cfg.profile.path, path);
    assert_string_equal(fx->cfg.profile.module, "/two.so");
    /* Bare name, file without extension beside the config. */
    assert_int_equal(load(fx, "profile = p3\nprovider-token = t\n"
                          "provider-pin = env:X\n", NULL), CKR_OK);
    assert_string_equal(fx->cfg.profile.module, "/three.so");
    /* Bare name: <name> is tried before <name>.conf. */
    assert_int_equal(load(fx, "profile = p4\nprovider-token = t\n"
                          "provider-pin = env:X\n", NULL), CKR_OK);
    assert_string_equal(fx->cfg.profile.module, "/four.so");
    /* Bare name that already ends in .conf. */
    assert_int_equal(load(fx, "profile = prof.conf\nprovider-token = t\n"
                          "provider-pin = env:X\n", NULL), CKR_OK);
    assert_string_equal(fx->cfg.profile.path, fx->prof);
    /* Absolute path. */
    snprintf(conf, sizeof conf, "profile = %s/p3\nprovider-token = t\n"
             "provider-pin = env:X\n", fx->dir);
    assert_int_equal(load(fx, conf, NULL), CKR_OK);
    assert_string_equal(fx->cfg.profile.module, "/three.so");
}

/* The profile shipped in hsm-profiles/ parses and says what SoftHSM needs. */
static void
test_shipped_softhsm_profile(void **state)
{
    struct fx *fx = *state;
    const char *top = getenv("abs_top_srcdir");
    char conf[PATH_MAX + 128];
    const struct dep11_profile *p = &fx->cfg.profile;

    if (top == NULL)
        skip();
    snprintf(conf, sizeof conf, "profile = %s/hsm-profiles/softhsm2.conf\n"
             "provider-token = t\nprovider-pin = env:X\n", top);
    assert_int_equal(load(fx, conf, NULL), CKR_OK);
    assert_string_equal(p->module, SOFTHSM);
    assert_int_equal(p->oaep_hash, CKM_SHA_1);
    assert_int_equal(p->aes_wrap_pad_mech, 0x210A);
    assert_int_equal(p->root_unwrap_decrypt, 1);
    assert_int_equal(p->gcm_iv_from_module, 1);
    assert_int_equal(p->availability_rsa, 0);
    assert_int_equal(p->files_fallback_recovery_only, 0);
    assert_int_equal(p->hedged, 0);
    assert_int_equal(p->provider_rsa_bits, 3072);
    assert_true(p->max_sessions >= 1);
}

static void
test_default_path(void **state)
{
    const char *old = getenv("DEP11_CONF");
    char *saved = old != NULL ? strdup(old) : NULL;

    (void)state;
    setenv("DEP11_CONF", "/some/where.conf", 1);
    assert_string_equal(dep11_config_default_path(), "/some/where.conf");
    setenv("DEP11_CONF", "", 1);
    assert_string_equal(dep11_config_default_path(), DEP11_SYSCONF_PATH);
    unsetenv("DEP11_CONF");
    assert_string_equal(dep11_config_default_path(), DEP11_SYSCONF_PATH);
    if (saved != NULL)
        setenv("DEP11_CONF", saved, 1);
    free(saved);
}

static void
assert_zero(const char *p, size_t n)
{
    size_t i = 0;

    for (i = 0; i < n; i++)
        assert_int_equal(p[i], 0);
}

/* read_pin of dir/@file with @cap: CKR and the PIN read. */
static CK_RV
pin_file(const struct fx *fx, const char *content, size_t cap, char *pin,
         size_t *len)
{
    char src[256];

    put(fx, "pin", content);
    snprintf(src, sizeof src, "file:%s/pin", fx->dir);
    memset(pin, 'Q', cap);
    return dep11_config_read_pin(src, pin, cap, len);
}

static void
test_pin_file(void **state)
{
    struct fx *fx = *state;
    char pin[64];
    size_t len = 99;
    char *got = NULL;

    mark_log(fx);
    assert_int_equal(pin_file(fx, "1234\n", sizeof pin, pin, &len), CKR_OK);
    assert_string_equal(pin, "1234");
    assert_int_equal(len, 4);
    assert_int_equal(pin_file(fx, "s3cr\xc3\xa9t\r\nsecond line\n", sizeof pin,
                              pin, &len), CKR_OK);
    assert_string_equal(pin, "s3cr\xc3\xa9t");
    assert_int_equal(len, 7);
    assert_int_equal(pin_file(fx, "no-newline", sizeof pin, pin, &len), CKR_OK);
    assert_string_equal(pin, "no-newline");
    /* cap 8 holds 7 bytes and the NUL. */
    assert_int_equal(pin_file(fx, "7777777\n", 8, pin, &len), CKR_OK);
    assert_int_equal(len, 7);
    got = log_since(fx);
    assert_null(strstr(got, "1234"));
    assert_null(strstr(got, "s3cr"));
    assert_null(strstr(got, "no-newline"));
    assert_int_equal(count(got, " ERROR "), 0);
    free(got);
}

static void
test_pin_file_bad(void **state)
{
    struct fx *fx = *state;
    char pin[64];
    size_t len = 99;
    char src[256];
    char *got = NULL;

    mark_log(fx);
    assert_int_equal(pin_file(fx, "", sizeof pin, pin, &len),
                     CKR_FUNCTION_FAILED);
    assert_int_equal(len, 0);
    assert_int_equal(pin_file(fx, "\n1234\n", sizeof pin, pin, &len),
                     CKR_FUNCTION_FAILED);
    assert_int_equal(pin_file(fx, "\r\n", sizeof pin, pin, &len),
                     CKR_FUNCTION_FAILED);
    assert_int_equal(pin_file(fx, "88888888\n", 8, pin, &len),
                     CKR_FUNCTION_FAILED);
    assert_zero(pin, 8);   /* the partial PIN is cleansed */
    assert_int_equal(len, 0);
    snprintf(src, sizeof src, "file:%s/absent", fx->dir);
    assert_int_equal(dep11_config_read_pin(src, pin, sizeof pin, &len),
                     CKR_FUNCTION_FAILED);
    got = log_since(fx);
    assert_int_equal(count(got, " ERROR "), 5);
    assert_non_null(strstr(got, "empty PIN"));
    assert_non_null(strstr(got, "longer than 7 bytes"));
    assert_non_null(strstr(got, "absent: cannot open"));
    assert_null(strstr(got, "1234"));
    assert_null(strstr(got, "8888"));
    free(got);
}

static void
test_pin_env(void **state)
{
    struct fx *fx = *state;
    char pin[16];
    size_t len = 0;
    char *got = NULL;

    mark_log(fx);
    setenv("DEP11_TEST_PIN", "env-pin-42", 1);
    assert_int_equal(dep11_config_read_pin("env:DEP11_TEST_PIN", pin,
                                           sizeof pin, &len), CKR_OK);
    assert_string_equal(pin, "env-pin-42");
    assert_int_equal(len, 10);
    setenv("DEP11_TEST_PIN", "0123456789abcdef", 1);   /* 16 > cap - 1 */
    assert_int_equal(dep11_config_read_pin("env:DEP11_TEST_PIN", pin,
                                           sizeof pin, &len),
                     CKR_FUNCTION_FAILED);
    assert_zero(pin, sizeof pin);
    setenv("DEP11_TEST_PIN", "", 1);
    assert_int_equal(dep11_config_read_pin("env:DEP11_TEST_PIN", pin,
                                           sizeof pin, &len),
                     CKR_FUNCTION_FAILED);
    unsetenv("DEP11_TEST_PIN");
    assert_int_equal(dep11_config_read_pin("env:DEP11_TEST_PIN", pin,
                                           sizeof pin, &len),
                     CKR_FUNCTION_FAILED);
    got = log_since(fx);
    assert_int_equal(count(got, " ERROR "), 3);
    assert_non_null(strstr(got, "variable not set"));
    assert_null(strstr(got, "env-pin-42"));
    assert_null(strstr(got, "0123456789abcdef"));
    free(got);
}

static void
test_pin_bad_source(void **state)
{
    struct fx *fx = *state;
    char pin[16];
    size_t len = 0;
    char *got = NULL;

    mark_log(fx);
    assert_int_equal(dep11_config_read_pin("314159", pin, sizeof pin, &len),
                     CKR_FUNCTION_FAILED);
    assert_int_equal(dep11_config_read_pin("file:", pin, sizeof pin, &len),
                     CKR_FUNCTION_FAILED);
    assert_int_equal(dep11_config_read_pin("env:", pin, sizeof pin, &len),
                     CKR_FUNCTION_FAILED);
    assert_int_equal(dep11_config_read_pin("File:/x", pin, sizeof pin, &len),
                     CKR_FUNCTION_FAILED);
    assert_int_equal(dep11_config_read_pin(NULL, pin, sizeof pin, &len),
                     CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_config_read_pin("env:X", NULL, sizeof pin, &len),
                     CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_config_read_pin("env:X", pin, 1, &len),
                     CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_config_read_pin("env:X", pin, sizeof pin, NULL),
                     CKR_ARGUMENTS_BAD);
    got = log_since(fx);
    assert_null(strstr(got, "314159"));
    assert_int_equal(count(got, "must be file:<path> or env:<VARIABLE>"), 4);
    free(got);
}

/* SYSTEM / RECOVERY allowed with an audit log, or denied without one:
 * both load. */
static void
test_requests_audit(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(load(fx, BASE "system-requests = allow\n"
                          "recovery-requests = allow\naudit-log = /var/log/a.jsonl\n",
                          GOOD_PROFILE), CKR_OK);
    assert_int_equal(fx->cfg.system_requests, 1);
    assert_int_equal(fx->cfg.recovery_requests, 1);
    assert_int_equal(load(fx, BASE "audit-log = a.jsonl\nrecovery-requests = allow\n",
                          GOOD_PROFILE), CKR_OK);
    assert_int_equal(load(fx, BASE "system-requests = deny\n"
                          "recovery-requests = deny\n", GOOD_PROFILE), CKR_OK);
    assert_int_equal(fx->cfg.audit_log[0], '\0');
}

/* The profile records the line of its "module" key (for the refusal of a
 * profile whose module is dep11 itself). */
static void
test_profile_module_line(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(load(fx, BASE, "# a profile\nretries = 2\n\n" GOOD_PROFILE),
                     CKR_OK);
    assert_int_equal(fx->cfg.profile.module_line, 4);
    assert_int_equal(load(fx, BASE, GOOD_PROFILE), CKR_OK);
    assert_int_equal(fx->cfg.profile.module_line, 1);
}

/* A PIN file the group or others may read is refused (DESIGN section 7):
 * CKR_FUNCTION_FAILED, one ERROR line naming the file, the PIN cleansed and
 * never logged; 0600 and 0400 are read. */
static void
test_pin_file_mode(void **state)
{
    struct fx *fx = *state;
    static const mode_t bad[] = { 0640, 0604, 0660, 0644, 0610, 0601, 0620, 0602 };
    char pin[32], src[300], path[256];
    size_t len = 99;
    char *got = NULL;

    put(fx, "pin", "mode-pin-77\n");
    snprintf(path, sizeof path, "%s/pin", fx->dir);
    snprintf(src, sizeof src, "file:%s", path);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(chmod(path, bad[i]), 0);
        mark_log(fx);
        memset(pin, 'Q', sizeof pin);
        len = 99;
        assert_int_equal(dep11_config_read_pin(src, pin, sizeof pin, &len),
                         CKR_FUNCTION_FAILED);
        assert_int_equal(len, 0);
        assert_zero(pin, sizeof pin);
        got = log_since(fx);
        assert_int_equal(count(got, " ERROR "), 1);
        assert_non_null(strstr(got, path));
        assert_non_null(strstr(got, "group or others"));
        assert_null(strstr(got, "mode-pin-77"));
        free(got);
    }
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(dep11_config_read_pin(src, pin, sizeof pin, &len), CKR_OK);
    assert_string_equal(pin, "mode-pin-77");
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(dep11_config_read_pin(src, pin, sizeof pin, &len), CKR_OK);
}

/* A relative file: source in the config is read from beside the config. */
static void
test_pin_relative_to_config(void **state)
{
    struct fx *fx = *state;
    char pin[32];
    size_t len = 0;

    put(fx, "pin.txt", "rel-pin\n");
    assert_int_equal(load(fx, "profile = prof\nprovider-token = t\n"
                          "provider-pin = file:pin.txt\n", GOOD_PROFILE),
                     CKR_OK);
    assert_int_equal(dep11_config_read_pin(fx->cfg.provider_pin, pin,
                                           sizeof pin, &len), CKR_OK);
    assert_string_equal(pin, "rel-pin");
}

int
main(void)
{
    char dir[] = "/tmp/dep11-test-config-log-XXXXXX";
    char path[sizeof dir + 16];
    int rc = 0;
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_full_config),
        T(test_defaults),
        T(test_explicit_defaults),
        T(test_syntax),
        T(test_fault_codes),
        T(test_bad_values),
        T(test_line_length),
        T(test_file_size),
        T(test_nul_byte),
        T(test_missing_file),
        T(test_profile_lookup),
        T(test_shipped_softhsm_profile),
        T(test_default_path),
        T(test_pin_file),
        T(test_pin_file_bad),
        T(test_pin_env),
        T(test_pin_bad_source),
        T(test_pin_relative_to_config),
        T(test_pin_file_mode),
        T(test_requests_audit),
        T(test_profile_module_line),
    };
#undef T

    if (mkdtemp(dir) == NULL)
        return 99;
    snprintf(path, sizeof path, "%s/log", dir);
    /* Read once by log.c: capture everything, debug lines included, so the
     * tests also prove no PIN reaches any level. */
    setenv("DEP11_DEBUG", "4", 1);
    setenv("DEP11_DEBUG_FILE", path, 1);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(path);
    rmdir(dir);
    return rc;
}
