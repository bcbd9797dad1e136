/*
 * test_config.c - unit tests of module/util/config.c: a full config and
 * profile, the defaults, comment and whitespace syntax, profile lookup, every
 * error class (one ERROR line naming file:line), table-driven. PIN sources:
 * test_pin.c.
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

#include "config_fx.h"

/* The last load failed with one ERROR line "file:line: ...reason...", the
 * output is zeroed, and @secret (if any) was never logged. */
static void check_failed(const struct fx *fx, CK_RV rv, const char *file, unsigned line,
                         const char *reason, const char *secret, const char *name)
{
    static const struct dep11_config zero;
    char where[300];
    char *got = log_since(fx);
    const char *err = strstr(got, " ERROR ");

    snprintf(where, sizeof where, ": %s:%u: ", file, line);
    if (rv != CKR_FUNCTION_FAILED || count(got, " ERROR ") != 1 || strstr(err, where) == NULL ||
        strstr(err, reason) == NULL || (secret != NULL && strstr(got, secret) != NULL))
        fail_msg("case '%s': rv 0x%lx, want '%s' and '%s' in one ERROR line; "
                 "log:\n%s",
                 name, (unsigned long)rv, where, reason, got);
    assert_memory_equal(&fx->cfg, &zero, sizeof zero);
    free(got);
}

/* The scalar keys: a value test_full_config sets and what it reads as, the
 * default spelled out and the default itself. One table for the full
 * config, the defaults and the defaults spelled out. */
enum ftype { F_INT, F_UNSIGNED, F_ULONG };

struct scalar_key {
    const char *key;
    int in_profile;
    size_t off; /* in struct dep11_config */
    enum ftype type;
    const char *set;
    unsigned long set_to;
    const char *dflt;
    unsigned long dflt_to;
};

#define C(f) offsetof(struct dep11_config, f)
#define P(f) offsetof(struct dep11_config, profile.f)
static const struct scalar_key scalars[] = {
    { "cache-seconds", 0, C(cache_seconds), F_UNSIGNED, "60", 60, "300", 300 },
    { "cache-entries", 0, C(cache_entries), F_UNSIGNED, "77", 77, "1024", 1024 },
    { "system-requests", 0, C(system_requests), F_INT, "allow", 1, "deny", 0 },
    { "recovery-requests", 0, C(recovery_requests), F_INT, "allow", 1, "deny", 0 },
    { "caller-iv", 0, C(caller_iv), F_INT, "allow", 1, "deny", 0 },
    { "trusted-roots", 0, C(trusted_roots_any), F_INT, "any", 1, "require", 0 },
    { "unbound-policies", 0, C(bind_unbound), F_INT, "bind-on-unwrap", 1, "refuse", 0 },
    { "oaep-hash", 1, P(oaep_hash), F_ULONG, "sha1", CKM_SHA_1, "sha256", CKM_SHA256 },
    { "aes-key-wrap-pad-mechanism", 1, P(aes_wrap_pad_mech), F_ULONG, "0x210B", 0x210B, "8458",
      0x210A },
    /* only the defaults of these two are supported (see bad_cases) */
    { "root-unwrap", 1, P(root_unwrap_decrypt), F_INT, "decrypt", 1, "decrypt", 1 },
    { "gcm-iv", 1, P(gcm_iv_from_module), F_INT, "hsm", 0, "module", 1 },
    { "receipt-signature", 1, P(receipt_rsa_pss), F_INT, "rsa-pss", 1, "ecdsa", 0 },
    { "availability-key", 1, P(availability_rsa), F_INT, "rsa", 1, "aes", 0 },
    { "root-registration", 1, P(root_reg_so_login), F_INT, "so-login", 1, "trusted-twin", 0 },
    { "availability-rsa-bits", 1, P(availability_rsa_bits), F_ULONG, "3072", 3072, "2048",
      2048 },
    { "max-sessions", 1, P(max_sessions), F_UNSIGNED, "16", 16, "8", 8 },
    { "call-timeout-ms", 1, P(call_timeout_ms), F_UNSIGNED, "2500", 2500, "0", 0 },
    { "retries", 1, P(retries), F_UNSIGNED, "3", 3, "1", 1 },
    { "backoff-ms", 1, P(backoff_ms), F_UNSIGNED, "100", 100, "0", 0 },
    { "files-fallback", 1, P(files_fallback_recovery_only), F_INT, "recovery-only", 1, "all",
      0 },
    { "hedged-unwrap", 1, P(hedged), F_INT, "yes", 1, "no", 0 },
    { "provider-rsa-bits", 1, P(provider_rsa_bits), F_ULONG, "4096", 4096, "3072", 3072 },
};
#undef C
#undef P
#define NSCALARS (sizeof scalars / sizeof scalars[0])

static unsigned long field(const struct dep11_config *c, const struct scalar_key *k)
{
    const char *p = (const char *)c + k->off;

    if (k->type == F_INT)
        return (unsigned long)*(const int *)(const void *)p;
    if (k->type == F_UNSIGNED)
        return *(const unsigned *)(const void *)p;
    return *(const CK_ULONG *)(const void *)p;
}

/* Appends "key = value" of every scalar (@set: the set values, else the
 * defaults spelled out) to @conf or @prof. */
static void append_scalars(char *conf, char *prof, size_t cap, int set)
{
    for (size_t i = 0; i < NSCALARS; i++) {
        char *to = scalars[i].in_profile ? prof : conf;
        size_t n = strlen(to);

        snprintf(to + n, cap - n, "%s = %s\n", scalars[i].key,
                 set ? scalars[i].set : scalars[i].dflt);
    }
}

static void check_scalars(const struct dep11_config *c, int set)
{
    for (size_t i = 0; i < NSCALARS; i++) {
        unsigned long want = set ? scalars[i].set_to : scalars[i].dflt_to;

        if (field(c, &scalars[i]) != want)
            fail_msg("%s: read %lu, want %lu", scalars[i].key, field(c, &scalars[i]), want);
    }
}

static void check_defaults(const struct dep11_config *c)
{
    assert_string_equal(c->audit_log, "");
    assert_string_equal(c->receipt_public_key, "");
    check_scalars(c, 0);
}

static void test_full_config(void **state)
{
    struct fx *fx = *state;
    const struct dep11_config *c = &fx->cfg;
    char conf[2048] = "# dep11 test config\n"
                      "profile = prof   # trailing comment\n"
                      "provider-token = pkcs11:token=dep11-provider;serial=0123\n"
                      "provider-pin = file:pin.txt\n"
                      "audit-log = logs/audit.jsonl\n"
                      "receipt-public-key = /var/lib/dep11/receipts.pem\n";
    char prof[2048] = "module = " SOFTHSM "\n";
    char want[256];

    append_scalars(conf, prof, sizeof conf, 1);
    assert_int_equal(load(fx, conf, prof), CKR_OK);
    assert_string_equal(c->path, fx->conf);
    assert_string_equal(c->profile.path, fx->prof);
    assert_string_equal(c->provider_token, "pkcs11:token=dep11-provider;serial=0123");
    snprintf(want, sizeof want, "file:%s/pin.txt", fx->dir);
    assert_string_equal(c->provider_pin, want);
    snprintf(want, sizeof want, "%s/logs/audit.jsonl", fx->dir);
    assert_string_equal(c->audit_log, want);
    assert_string_equal(c->receipt_public_key, "/var/lib/dep11/receipts.pem");
    assert_string_equal(c->profile.module, SOFTHSM);
    check_scalars(c, 1);
}

static void test_defaults(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(load(fx, BASE, GOOD_PROFILE), CKR_OK);
    assert_string_equal(fx->cfg.provider_token, "dep11-provider");
    assert_string_equal(fx->cfg.provider_pin, "env:DEP11_TEST_PIN");
    assert_string_equal(fx->cfg.profile.module, SOFTHSM);
    check_defaults(&fx->cfg);
}

/* Spelling out each default gives the same result as leaving it out. */
static void test_explicit_defaults(void **state)
{
    struct fx *fx = *state;
    char conf[2048] = BASE "audit-log =\nreceipt-public-key =\n", prof[2048] = GOOD_PROFILE;

    append_scalars(conf, prof, sizeof conf, 0);
    assert_int_equal(load(fx, conf, prof), CKR_OK);
    check_defaults(&fx->cfg);
}

static void test_syntax(void **state)
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

/* A config error, and a profile error (the config is BASE). */
/* clang-format off */
#define IN_CONF(name, conf, line, reason) { name, conf, NULL, 0, line, reason, NULL }
#define IN_PROF(name, prof, line, reason) { name, BASE, prof, 1, line, reason, NULL }
/* clang-format on */
static const struct bad_case bad_cases[] = {
    IN_CONF("unknown key", BASE "colour = blue\n", 4, "unknown key 'colour'"),
    IN_CONF("duplicate key", BASE "cache-seconds = 1\n\ncache-seconds = 2\n", 6,
            "duplicate key 'cache-seconds' (first set on line 4)"),
    IN_CONF("duplicate required key", BASE "profile = prof\n", 4, "duplicate key 'profile'"),
    IN_CONF("missing profile", "provider-token = t\nprovider-pin = env:X\n", 2,
            "missing required key 'profile'"),
    IN_CONF("missing provider-token", "profile = prof\n# c\nprovider-pin = env:X\n", 3,
            "missing required key 'provider-token'"),
    IN_CONF("missing provider-pin", "profile = prof\nprovider-token = t\n", 2,
            "missing required key 'provider-pin'"),
    IN_CONF("no equals sign", BASE "cache-seconds 5\n", 4, "expected 'key = value'"),
    IN_CONF("no key", BASE " = 5\n", 4, "missing key"),
    IN_CONF("cache-seconds word", BASE "cache-seconds = abc\n", 4,
            "cache-seconds: 'abc' is not a decimal number"),
    IN_CONF("cache-seconds negative", BASE "cache-seconds = -1\n", 4,
            "is not a decimal number"),
    IN_CONF("cache-seconds empty", BASE "cache-seconds =\n", 4, "is not a decimal number"),
    IN_CONF("cache-seconds two words", BASE "cache-seconds = 1 0\n", 4,
            "is not a decimal number"),
    IN_CONF("cache-seconds glued comment", BASE "cache-seconds = 5#x\n", 4,
            "is not a decimal number"),
    IN_CONF("cache-seconds hex", BASE "cache-seconds = 0x10\n", 4, "is not a decimal number"),
    IN_CONF("cache-seconds too large", BASE "cache-seconds = 86401\n", 4,
            "cache-seconds: '86401' is out of range 0..86400"),
    IN_CONF("cache-seconds overflow", BASE "cache-seconds = 99999999999999999999999\n", 4,
            "is out of range"),
    IN_CONF("cache-entries too large", BASE "cache-entries = 1048577\n", 4,
            "cache-entries: '1048577' is out of range"),
    IN_CONF("cache-entries word", BASE "cache-entries = many\n", 4, "is not a decimal number"),
    IN_CONF("system-requests", BASE "system-requests = maybe\n", 4,
            "system-requests: 'maybe' is not allow or deny"),
    IN_CONF("recovery-requests", BASE "recovery-requests = yes\n", 4,
            "recovery-requests: 'yes' is not allow or deny"),
    IN_CONF("caller-iv case", BASE "caller-iv = Allow\n", 4,
            "caller-iv: 'Allow' is not allow or deny"),
    IN_CONF("trusted-roots", BASE "trusted-roots = allow\n", 4,
            "trusted-roots: 'allow' is not any or require"),
    IN_CONF("unbound-policies", BASE "unbound-policies = bind\n", 4,
            "unbound-policies: 'bind' is not bind-on-unwrap or refuse"),
    IN_CONF("label too long",
            "profile = prof\nprovider-token = 0123456789abcdef0123456789abcdefX\n"
            "provider-pin = env:X\n",
            2, "1 to 32 bytes"),
    IN_CONF("empty label", "profile = prof\nprovider-token =\nprovider-pin = env:X\n", 2,
            "1 to 32 bytes"),
    IN_CONF("bad URI",
            "profile = prof\nprovider-token = pkcs11:token=%zz\n"
            "provider-pin = env:X\n",
            2, "bad PKCS#11 URI"),
    IN_CONF("URI without token",
            "profile = prof\nprovider-token = pkcs11:\n"
            "provider-pin = env:X\n",
            2, "must name a token"),
    IN_CONF("URI names an object",
            "profile = prof\nprovider-token = pkcs11:token=a;object=b\n"
            "provider-pin = env:X\n",
            2, "must name a token"),
    IN_CONF("URI names a slot",
            "profile = prof\nprovider-token = pkcs11:slot-id=1\n"
            "provider-pin = env:X\n",
            2, "must name a token"),
    { "URI with PIN",
      "profile = prof\nprovider-token = pkcs11:token=a?pin-value=987654\n"
      "provider-pin = env:X\n",
      NULL, 0, 2, "must not carry a PIN", "987654" },
    { "PIN itself",
      "profile = prof\nprovider-token = t\n"
      "provider-pin = 135791\n",
      NULL, 0, 3, "must be file:<path> or env:", "135791" },
    { "PIN unknown scheme",
      "profile = prof\nprovider-token = t\n"
      "provider-pin = pin:246802\n",
      NULL, 0, 3, "must be file:<path> or env:", "246802" },
    IN_CONF("PIN env bad name",
            "profile = prof\nprovider-token = t\n"
            "provider-pin = env:1X\n",
            3, "needs a variable name"),
    IN_CONF("PIN env empty",
            "profile = prof\nprovider-token = t\n"
            "provider-pin = env:\n",
            3, "needs a variable name"),
    IN_CONF("PIN file empty",
            "profile = prof\nprovider-token = t\n"
            "provider-pin = file:\n",
            3, "file: needs a path"),
    IN_CONF("profile bare name missing",
            "provider-token = t\nprovider-pin = env:X\n"
            "profile = nosuch\n",
            3, "profile 'nosuch' not found"),
    IN_CONF("profile path missing",
            "provider-token = t\nprovider-pin = env:X\n"
            "profile = ./nosuch.conf\n",
            3, "No such file"),
    IN_CONF("profile is a directory",
            "provider-token = t\nprovider-pin = env:X\n"
            "profile = /tmp/\n",
            3, "not a regular file"),
    IN_CONF("profile empty",
            "provider-token = t\nprovider-pin = env:X\n"
            "profile =\n",
            3, "profile: empty value"),
    IN_PROF("profile without module", "# no module\noaep-hash = sha1\n", 2,
            "missing required key 'module'"),
    IN_PROF("profile empty file", "", 0, "missing required key 'module'"),
    IN_PROF("profile empty module", "module =\n", 1, "module: empty value"),
    IN_PROF("profile unknown key", GOOD_PROFILE "profile = x\n", 2, "unknown key 'profile'"),
    IN_PROF("profile duplicate", GOOD_PROFILE "module = /x.so\n", 2,
            "duplicate key 'module' (first set on line 1)"),
    IN_PROF("oaep-hash", GOOD_PROFILE "oaep-hash = sha512\n", 2,
            "oaep-hash: 'sha512' is not sha1 or sha256"),
    IN_PROF("wrap mechanism zero", GOOD_PROFILE "aes-key-wrap-pad-mechanism = 0\n", 2,
            "non-zero mechanism"),
    IN_PROF("wrap mechanism junk", GOOD_PROFILE "aes-key-wrap-pad-mechanism = 0xZZ\n", 2,
            "non-zero mechanism"),
    IN_PROF("wrap mechanism overflow",
            GOOD_PROFILE "aes-key-wrap-pad-mechanism = 0x1ffffffffffffffff\n", 2,
            "non-zero mechanism"),
    IN_PROF("root-unwrap", GOOD_PROFILE "root-unwrap = both\n", 2,
            "root-unwrap: 'both' is not decrypt or unwrap"),
    IN_PROF("gcm-iv", GOOD_PROFILE "gcm-iv = random\n", 2,
            "gcm-iv: 'random' is not module or hsm"),
    IN_PROF("max-sessions zero", GOOD_PROFILE "max-sessions = 0\n", 2,
            "max-sessions: '0' is out of range 1..1024"),
    IN_PROF("max-sessions large", GOOD_PROFILE "max-sessions = 1025\n", 2,
            "is out of range 1..1024"),
    IN_PROF("call-timeout-ms", GOOD_PROFILE "call-timeout-ms = 3600001\n", 2,
            "is out of range 0..3600000"),
    IN_PROF("retries", GOOD_PROFILE "retries = 11\n", 2, "is out of range 0..10"),
    IN_PROF("backoff-ms", GOOD_PROFILE "backoff-ms = soon\n", 2,
            "backoff-ms: 'soon' is not a decimal number"),
    IN_PROF("availability-key", GOOD_PROFILE "availability-key = ec\n", 2,
            "availability-key: 'ec' is not rsa or aes"),
    IN_PROF("files-fallback", GOOD_PROFILE "files-fallback = none\n", 2,
            "files-fallback: 'none' is not recovery-only or all"),
    IN_PROF("hedged-unwrap", GOOD_PROFILE "hedged-unwrap = true\n", 2,
            "hedged-unwrap: 'true' is not yes or no"),
    IN_PROF("provider-rsa-bits", GOOD_PROFILE "provider-rsa-bits = 1024\n", 2,
            "provider-rsa-bits: '1024' is not 2048, 3072 or 4096"),
    IN_PROF("profile no equals", GOOD_PROFILE "\n\nretries\n", 4, "expected 'key = value'"),
    IN_PROF("fault-transient junk", GOOD_PROFILE "fault-transient = 0x30 0x31\n", 2,
            "fault-transient: expected a comma between codes"),
    IN_PROF("fault-denied word", GOOD_PROFILE "fault-denied = CKR_DEVICE_ERROR\n", 2,
            "fault-denied: expected return codes"),
    IN_PROF("fault-invalid trailing comma", GOOD_PROFILE "fault-invalid = 0x30,\n", 2,
            "fault-invalid: a list does not end in a comma"),
    IN_PROF("fault-denied 0x", GOOD_PROFILE "fault-denied = 0x\n", 2,
            "fault-denied: expected return codes"),
    IN_PROF("fault-transient CKR_OK", GOOD_PROFILE "fault-transient = 0\n", 2,
            "fault-transient: CKR_OK is not a failure"),
    IN_PROF("fault-transient abort", GOOD_PROFILE "fault-transient = 0x101\n", 2,
            "CKR_USER_NOT_LOGGED_IN always aborts"),
    IN_PROF("fault code twice", GOOD_PROFILE "fault-denied = 0x30\nfault-transient = 48\n", 3,
            "fault-transient: a code is listed twice"),
    IN_PROF("fault codes too many",
            GOOD_PROFILE
            "fault-denied = 1,2,3,4,5,6,7,8,9\nfault-invalid = 10,11,12,13,14,15,16,"
            "17\n",
            3, "fault-invalid: more than 16 codes in all"),
    IN_PROF("fault code too large", GOOD_PROFILE "fault-denied = 0x1ffffffffffffffffff\n", 2,
            "fault-denied: expected return codes"),
    /* DESIGN section 5: SYSTEM or RECOVERY requests need an audit log. */
    IN_CONF("system-requests without audit-log", BASE "system-requests = allow\n", 4,
            "system-requests = allow needs an audit-log"),
    IN_CONF("recovery-requests without audit-log",
            BASE "cache-seconds = 1\n"
                 "recovery-requests = allow\n",
            5, "recovery-requests = allow needs an audit-log"),
    IN_CONF("both requests without audit-log",
            BASE "recovery-requests = allow\n"
                 "system-requests = allow\n",
            4, "recovery-requests = allow needs an audit-log"),
    IN_CONF("system allowed, recovery denied, no audit-log",
            BASE "recovery-requests = deny\nsystem-requests = allow\n", 5,
            "system-requests = allow needs an audit-log"),
    /* Valid values this version does not act on: refused, not ignored. */
    IN_PROF("root-unwrap unwrap", GOOD_PROFILE "root-unwrap = unwrap\n", 2,
            "root-unwrap: not supported by this version"),
    IN_PROF("receipt-signature", GOOD_PROFILE "receipt-signature = rsa\n", 2,
            "receipt-signature: 'rsa' is not rsa-pss or ecdsa"),
    IN_PROF("availability-rsa-bits 1024", GOOD_PROFILE "availability-rsa-bits = 1024\n", 2,
            "availability-rsa-bits: '1024' is not 2048, 3072 or 4096"),
    IN_PROF("root-registration", GOOD_PROFILE "root-registration = trusted\n", 2,
            "root-registration: 'trusted' is not so-login or trusted-twin"),
};
#undef IN_CONF
#undef IN_PROF

static void test_bad_values(void **state)
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
static void test_fault_codes(void **state)
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
static void test_file_size(void **state)
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

static void test_line_length(void **state)
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

static void test_nul_byte(void **state)
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

static void test_missing_file(void **state)
{
    struct fx *fx = *state;

    mark_log(fx);
    memset(&fx->cfg, 0xA5, sizeof fx->cfg);
    check_failed(fx, dep11_config_load(fx->conf, &fx->cfg), fx->conf, 0,
                 "cannot open: No such file", NULL, "missing config");
    assert_int_equal(dep11_config_load(NULL, &fx->cfg), CKR_ARGUMENTS_BAD);
    assert_int_equal(dep11_config_load(fx->conf, NULL), CKR_ARGUMENTS_BAD);
}

static void test_profile_lookup(void **state)
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

/* Loads hsm-profiles/@name (skips outside make check). */
static void load_shipped(struct fx *fx, const char *name)
{
    const char *top = getenv("abs_top_srcdir");
    char conf[PATH_MAX + 128];

    if (top == NULL)
        skip();
    snprintf(conf, sizeof conf,
             "profile = %s/hsm-profiles/%s\n"
             "provider-token = t\nprovider-pin = env:X\n",
             top, name);
    assert_int_equal(load(fx, conf, NULL), CKR_OK);
}

/* The profile shipped in hsm-profiles/ parses and says what SoftHSM needs. */
static void test_shipped_softhsm_profile(void **state)
{
    struct fx *fx = *state;
    const struct dep11_profile *p = &fx->cfg.profile;

    load_shipped(fx, "softhsm2.conf");
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
    assert_int_equal(p->reconnect, 0);
    assert_int_equal(p->block_sigpipe, 0);
}

/* The remoting profile: the routes p11-kit 0.24.1's wire carries. */
static void test_shipped_remote_profile(void **state)
{
    struct fx *fx = *state;
    const struct dep11_profile *p = &fx->cfg.profile;

    load_shipped(fx, "p11-kit-remote.conf");
    assert_non_null(strstr(p->module, "p11-kit-client.so"));
    assert_int_equal(p->availability_rsa, 1);
    assert_int_equal(p->oaep_hash, CKM_SHA_1);
    assert_int_equal(p->reconnect, 1);
    assert_int_equal(p->block_sigpipe, 1);
    assert_int_equal(p->receipt_rsa_pss, 0);
    /* the key's words: anything else is an error line */
    assert_int_equal(load(fx, BASE, GOOD_PROFILE "reconnect = yes\n"), CKR_OK);
    assert_int_equal(p->reconnect, 1);
    assert_int_equal(load(fx, BASE, GOOD_PROFILE "reconnect = maybe\n"), CKR_FUNCTION_FAILED);
    assert_int_equal(load(fx, BASE, GOOD_PROFILE "block-sigpipe = yes\n"), CKR_OK);
    assert_int_equal(p->block_sigpipe, 1);
    assert_int_equal(load(fx, BASE, GOOD_PROFILE "block-sigpipe = 1\n"), CKR_FUNCTION_FAILED);
}

/* Two-word profile keys: the default, both words, a bad word, and what the
 * shipped SoftHSM and opencryptoki profiles say. "backend-calls": serial
 * for opencryptoki 3.8 (not safe for concurrent calls); "object-handles":
 * unique for SoftHSM (its HandleManager never issues a handle twice in a
 * process), reused for opencryptoki (the probe sees a handle come back). */
static const struct word_key {
    const char *key, *word1, *word0;
    size_t off;       /* the int in struct dep11_profile */
    int softhsm, ock; /* the shipped profiles' values */
} word_keys[] = {
    { "backend-calls", "serial", "concurrent", offsetof(struct dep11_profile, backend_serial),
      0, 1 },
    { "object-handles", "unique", "reused", offsetof(struct dep11_profile, handles_unique), 1,
      0 },
};

static void test_word_keys(void **state)
{
    struct fx *fx = *state;
    const char *p = (const char *)&fx->cfg.profile;
    char prof[1024];

    for (size_t i = 0; i < sizeof word_keys / sizeof word_keys[0]; i++) {
        const struct word_key *k = &word_keys[i];
        const int *v = (const int *)(p + k->off);

        assert_int_equal(load(fx, BASE, GOOD_PROFILE), CKR_OK);
        assert_int_equal(*v, 0);
        snprintf(prof, sizeof prof, GOOD_PROFILE "%s = %s\n", k->key, k->word1);
        assert_int_equal(load(fx, BASE, prof), CKR_OK);
        assert_int_equal(*v, 1);
        snprintf(prof, sizeof prof, GOOD_PROFILE "%s = %s\n", k->key, k->word0);
        assert_int_equal(load(fx, BASE, prof), CKR_OK);
        assert_int_equal(*v, 0);
        snprintf(prof, sizeof prof, GOOD_PROFILE "%s = yes\n", k->key);
        assert_int_equal(load(fx, BASE, prof), CKR_FUNCTION_FAILED);
        load_shipped(fx, "softhsm2.conf");
        assert_int_equal(*v, k->softhsm);
        load_shipped(fx, "opencryptoki.conf");
        assert_int_equal(*v, k->ock);
    }
}

static void test_default_path(void **state)
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

/* SYSTEM / RECOVERY allowed with an audit log, or denied without one:
 * both load. */
static void test_requests_audit(void **state)
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
static void test_profile_module_line(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(load(fx, BASE, "# a profile\nretries = 2\n\n" GOOD_PROFILE),
                     CKR_OK);
    assert_int_equal(fx->cfg.profile.module_line, 4);
    assert_int_equal(load(fx, BASE, GOOD_PROFILE), CKR_OK);
    assert_int_equal(fx->cfg.profile.module_line, 1);
}

int main(void)
{
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
        T(test_shipped_remote_profile),
        T(test_word_keys),
        T(test_default_path),
        T(test_requests_audit),
        T(test_profile_module_line),
    };
#undef T

    return run_config_tests(tests, sizeof tests / sizeof tests[0]);
}
