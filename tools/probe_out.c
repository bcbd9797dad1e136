/*
 * probe_out.c - "dep11-tool probe": the routes decided from the trials, and
 * the profile written in hsm-profiles syntax (docs/CONFIG.md, "Profile
 * keys"), every value with a comment saying what the HSM answered; or, with
 * --json, one JSON object. A route no value serves gets no profile: one line
 * per such route on stderr, exit 1.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "probe.h"

/* "yes", or "no (CKR_X from CALL)", or "not tried (why)". */
static const char *said(const struct trial *tr, char *buf, size_t cap)
{
    if (tr->res == TRIAL_OK)
        return "yes";
    if (tr->res == TRIAL_NO)
        snprintf(buf, cap, "no (%s: %s)", tr->why ? tr->why : "?", tool_ckr_name(tr->rv));
    else
        snprintf(buf, cap, "not tried (%s)", tr->why ? tr->why : "?");
    return buf;
}

static void set(struct route *r, const char *key, int kind, const char *value, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));
static void set(struct route *r, const char *key, int kind, const char *value, const char *fmt,
                ...)
{
    va_list ap;

    r->key = key;
    r->kind = kind;
    r->value = value;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
}

static int ok(const struct trial *tr)
{
    return tr->res == TRIAL_OK;
}

static void route_rsa(const struct probe *p, struct route *r)
{
    char a[96], b[96], c[96];
    int any = ok(&p->oaep_sha1) || ok(&p->oaep_sha256);

    set(&r[0], "oaep-hash", ROUTE_KEY,
        ok(&p->oaep_sha256) ? "sha256"
        : ok(&p->oaep_sha1) ? "sha1"
                            : NULL,
        "RSA-OAEP round trip: SHA-256 %s; SHA-1 %s", said(&p->oaep_sha256, a, sizeof a),
        said(&p->oaep_sha1, b, sizeof b));
    set(&r[1], "root-unwrap", ROUTE_KEY,
        any              ? "decrypt"
        : ok(&p->unwrap) ? "unwrap"
                         : NULL,
        "C_Decrypt with RSA-OAEP %s; C_UnwrapKey with RSA-OAEP %s", any ? "yes" : "no",
        said(&p->unwrap, c, sizeof c));
    if (p->rsa_gen.res != TRIAL_OK)
        set(&r[2], "provider-rsa-bits", ROUTE_KEY, NULL, "RSA key pair generation %s",
            said(&p->rsa_gen, a, sizeof a));
    else if (p->rsa_max == 0 || (p->rsa_min <= 3072 && p->rsa_max >= 3072))
        set(&r[2], "provider-rsa-bits", ROUTE_KEY, "3072", "RSA key pairs of %lu..%lu bits",
            p->rsa_min, p->rsa_max);
    else
        set(&r[2], "provider-rsa-bits", ROUTE_KEY, p->rsa_max >= 4096 ? "4096" : "2048",
            "RSA key pairs of %lu..%lu bits (3072 not offered)", p->rsa_min, p->rsa_max);
}

static void route_aes(const struct probe *p, struct route *r)
{
    char a[96], b[96];
    int rsa = ok(&p->oaep_sha1) || ok(&p->oaep_sha256);

    if (ok(&p->kwp))
        set(&r[0], "aes-key-wrap-pad-mechanism", ROUTE_KEY,
            p->kwp_mech == 0x210B ? "0x210B" : "0x210A",
            "C_WrapKey of an AES key with mechanism 0x%lX works", p->kwp_mech);
    else
        set(&r[0], "aes-key-wrap-pad-mechanism", ROUTE_KEY, "0x210A",
            "AES key wrap with padding %s: the default is kept (suite-1 does not use it; "
            "dep11 only records the number)",
            said(&p->kwp, a, sizeof a));
    if (ok(&p->gcm))
        set(&r[1], "gcm-iv", ROUTE_KEY, p->gcm_hsm_iv ? "hsm" : "module",
            p->gcm_hsm_iv ? "AES-GCM: the HSM wrote its own IV into CK_GCM_PARAMS.pIv"
                          : "AES-GCM: the HSM took the caller's 12-byte IV");
    else
        set(&r[1], "gcm-iv", ROUTE_KEY, "module",
            "AES-GCM %s: the setting does not apply (default kept)",
            said(&p->gcm, a, sizeof a));
    if (ok(&p->gcm))
        set(&r[2], "availability-key", ROUTE_KEY, "aes", "AES-256-GCM in the HSM works");
    else
        set(&r[2], "availability-key", ROUTE_KEY, rsa ? "rsa" : NULL,
            "AES-256 key %s; AES-GCM %s%s", said(&p->aes_gen, a, sizeof a),
            said(&p->gcm, b, sizeof b),
            rsa ? "; RSA-OAEP decrypt works" : "; and no RSA-OAEP decrypt either");
}

static void route_sign(const struct probe *p, struct route *r)
{
    char a[96], b[96], c[96];

    set(&r[0], "receipt-signature", ROUTE_KEY,
        ok(&p->ecdsa) ? "ecdsa"
        : ok(&p->pss) ? "rsa-pss"
                      : NULL,
        "EC P-256 key pair %s; ECDSA %s; RSA-PSS (SHA-256, 32-byte salt) %s",
        said(&p->ec, a, sizeof a), ok(&p->ec) ? said(&p->ecdsa, b, sizeof b) : "-",
        said(&p->pss, c, sizeof c));
    set(&r[1], "CKM_SHA256_HMAC", ROUTE_NEED, ok(&p->hmac_sign) ? "yes" : NULL,
        "the provider MAC key: HMAC-SHA256 with a generated generic secret %s",
        said(&p->hmac_sign, a, sizeof a));
}

static void route_token(const struct probe *p, struct route *r, char *sessions, size_t cap)
{
    char a[96], b[96];
    CK_ULONG max = p->ti.ulMaxSessionCount;
    /* 0 is "effectively infinite"; ~0 unavailable; opencryptoki says ~0 - 1.
     * A limit above dep11's largest pool (1024) binds nothing. */
    int finite = max != CK_EFFECTIVELY_INFINITE && max <= 1024;

    snprintf(sessions, cap, "%lu", finite && max < 8 ? max : 8UL);
    if (finite)
        set(&r[0], "max-sessions", ROUTE_KEY, sessions,
            "the token reports at most %lu sessions", max);
    else
        set(&r[0], "max-sessions", ROUTE_KEY, sessions,
            "the token reports no session limit below 1024: dep11's default");
    if (p->trusted_so.res == TRIAL_SKIP)
        set(&r[1], "root-registration", ROUTE_NEW_KEY, "so-login",
            "CKA_TRUSTED by the SO %s: so-login serves any token",
            said(&p->trusted_so, a, sizeof a));
    else if (ok(&p->trusted_so) && !ok(&p->trusted_user))
        set(&r[1], "root-registration", ROUTE_NEW_KEY, "trusted-twin",
            "CKA_TRUSTED: the SO may set it, a user session may not (%s)",
            tool_ckr_name(p->trusted_user.rv));
    else
        set(&r[1], "root-registration", ROUTE_NEW_KEY, "so-login",
            "CKA_TRUSTED by the SO %s; by a user session %s", said(&p->trusted_so, a, sizeof a),
            said(&p->trusted_user, b, sizeof b));
    if (p->same_identity > 0)
        set(&r[2], "token-identity", ROUTE_NEW_KEY, "serial-label",
            "%lu other token(s) show the same manufacturerID, model and serialNumber",
            p->same_identity);
    else
        set(&r[2], "token-identity", ROUTE_NEW_KEY, "serial",
            "no other visible token shares manufacturerID, model and serialNumber");
}

int probe_routes(const struct probe *p, struct route *r)
{
    static char sessions[24];
    int bad = 0, i = 0;

    memset(r, 0, PROBE_ROUTES * sizeof *r);
    route_rsa(p, r);
    route_aes(p, r + 3);
    route_sign(p, r + 6);
    route_token(p, r + 8, sessions, sizeof sessions);
    for (i = 0; i < PROBE_ROUTES; i++)
        bad += r[i].value == NULL;
    return bad;
}

/* Writes @s, a blank-padded PKCS#11 text field of @len bytes, trimmed. */
static const char *field(const CK_UTF8CHAR *s, size_t len, char *out)
{
    tool_trim(s, len, out);
    return out;
}

static void write_head(FILE *fp, const struct probe *p)
{
    char lab[33], man[33], mod[17], ser[17], lib[33];
    char when[32] = "";
    time_t now = time(NULL);
    struct tm tm;

    if (gmtime_r(&now, &tm) != NULL)
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(fp,
            "# dep11 HSM profile written by dep11-tool probe at %s.\n"
            "# Library: %s (%s, library version %u.%u, Cryptoki %u.%u).\n"
            "# Token: label \"%s\", manufacturer \"%s\", model \"%s\", serial \"%s\";\n"
            "# PIN length %lu..%lu.\n"
            "# Each value below is decided by a trial operation on this token (session\n"
            "# objects only, destroyed again); the comment above it says what the HSM\n"
            "# answered. Keys and values: docs/CONFIG.md, \"Profile keys\".\n\n",
            when, p->module, field(p->info.manufacturerID, 32, lib),
            p->info.libraryVersion.major, p->info.libraryVersion.minor,
            p->info.cryptokiVersion.major, p->info.cryptokiVersion.minor,
            field(p->ti.label, 32, lab), field(p->ti.manufacturerID, 32, man),
            field(p->ti.model, 16, mod), field(p->ti.serialNumber, 16, ser), p->ti.ulMinPinLen,
            p->ti.ulMaxPinLen);
    fprintf(fp, "module = %s\n\n", p->module);
}

/* "backend-calls": no trial can prove a library safe for concurrent calls;
 * opencryptoki's API library ("IBM", "Meta PKCS11 LIBRARY", libraryVersion
 * 1.4 in 3.8 and 3.12 alike) is not before 3.12 (docs/CONFIG.md). */
static void write_backend_calls(FILE *fp, const struct probe *p)
{
    char man[33], desc[33];
    int ock = strcmp(field(p->info.manufacturerID, 32, man), "IBM") == 0 &&
              strcmp(field(p->info.libraryDescription, 32, desc), "Meta PKCS11 LIBRARY") == 0;

    fprintf(fp,
            "# Concurrent calls: no trial can prove a library thread-safe. %s\n"
            "backend-calls = %s\n\n",
            ock ? "opencryptoki before 3.12\n# is not (its version here does not say which): "
                  "serial."
                : "Concurrent (the\n# PKCS#11 rule for CKF_OS_LOCKING_OK); serial if the "
                  "vendor says otherwise.",
            ock ? "serial" : "concurrent");
}

/* "object-handles": reused when a destroyed object's handle came back in
 * the trial (or the trial could not run), else unique. */
static void write_object_handles(FILE *fp, const struct probe *p)
{
    int unique = p->handles.res == TRIAL_OK && !p->handle_reused;

    if (p->handles.res != TRIAL_OK)
        fprintf(fp, "# Object handles: the trial could not run (%s): reused, the safe value.\n",
                p->handles.why != NULL ? p->handles.why : "skipped");
    else
        fprintf(fp, "# Object handles: %s\n",
                unique ? "16 session objects, each destroyed before the next, got 16\n"
                         "# distinct handles: unique. No trial proves a library never reuses\n"
                         "# one: check the vendor's word (SoftHSM documents it)."
                       : "a destroyed session object's handle went to a later one:\n"
                         "# reused (a remembered root handle is read again before each use).");
    fprintf(fp, "object-handles = %s\n\n", unique ? "unique" : "reused");
}

/* The profile text: every key of docs/CONFIG.md's table. */
static void write_profile(FILE *fp, const struct probe *p, const struct route *r)
{
    char fork_why[160];
    int i = 0;

    write_head(fp, p);
    for (i = 0; i < PROBE_ROUTES; i++) {
        if (r[i].kind == ROUTE_NEED) {
            fprintf(fp, "# %s: %s\n\n", r[i].key, r[i].why);
            continue;
        }
        fprintf(fp, "# %s\n", r[i].why);
        if (r[i].kind == ROUTE_NEW_KEY)
            fprintf(fp, "# (a key of issue 13's profile routes)\n");
        fprintf(fp, "%s = %s\n\n", r[i].key, r[i].value);
    }
    fprintf(fp,
            "# fork: a child process initializes the library again and reads the token:\n"
            "# %s (no profile key: dep11 always initializes the library itself)\n\n",
            said(&p->fork_child, fork_why, sizeof fork_why));
    write_backend_calls(fp, p);
    write_object_handles(fp, p);
    fprintf(fp, "# Not decided by a trial: dep11's defaults (tune for the deployment).\n"
                "availability-rsa-bits = 2048\n"
                "call-timeout-ms = 0\nretries = 1\nbackoff-ms = 0\n"
                "files-fallback = all\nhedged-unwrap = no\n"
                "fault-denied =\nfault-transient =\nfault-invalid =\n"
                "# For a library that reaches its HSM over a socket and can lose it\n"
                "# (p11-kit-client.so): yes for both (hsm-profiles/p11-kit-remote.conf).\n"
                "reconnect = no\nblock-sigpipe = no\n");
}

static void write_json(FILE *fp, const struct probe *p, const struct route *r, int bad,
                       const char *text)
{
    char lab[33], ser[17], fork_why[160];
    int i = 0;

    fprintf(fp, "{\"module\":");
    tool_json_str(fp, p->module);
    fprintf(fp, ",\"token\":");
    tool_json_str(fp, field(p->ti.label, 32, lab));
    fprintf(fp, ",\"serial\":");
    tool_json_str(fp, field(p->ti.serialNumber, 16, ser));
    fprintf(fp, ",\"pin_min\":%lu,\"pin_max\":%lu,\"fork\":", p->ti.ulMinPinLen,
            p->ti.ulMaxPinLen);
    tool_json_str(fp, said(&p->fork_child, fork_why, sizeof fork_why));
    fprintf(fp, ",\"ok\":%s,\"routes\":[", bad ? "false" : "true");
    for (i = 0; i < PROBE_ROUTES; i++) {
        fprintf(fp, "%s{\"key\":", i ? "," : "");
        tool_json_str(fp, r[i].key);
        fprintf(fp, ",\"value\":");
        if (r[i].value != NULL)
            tool_json_str(fp, r[i].value);
        else
            fputs("null", fp);
        fprintf(fp, ",\"kind\":\"%s\",\"why\":",
                r[i].kind == ROUTE_KEY       ? "key"
                : r[i].kind == ROUTE_NEW_KEY ? "new-key"
                                             : "need");
        tool_json_str(fp, r[i].why);
        fputc('}', fp);
    }
    fprintf(fp, "],\"file\":");
    if (p->out != NULL && !bad)
        tool_json_str(fp, p->out);
    else
        fputs("null", fp);
    fprintf(fp, ",\"profile\":");
    if (text != NULL)
        tool_json_str(fp, text);
    else
        fputs("null", fp);
    fprintf(fp, "}\n");
}

int probe_write(struct tool *t, const struct probe *p, const struct route *r, int bad)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = NULL;
    int i = 0, rc = TOOL_EXIT_OK;

    for (i = 0; i < PROBE_ROUTES; i++)
        if (r[i].value == NULL)
            fprintf(stderr, "dep11-tool: probe: cannot serve %s: %s\n", r[i].key, r[i].why);
    if (!bad) {
        mem = open_memstream(&text, &len);
        if (mem == NULL)
            return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
        write_profile(mem, p, r);
        if (fclose(mem) != 0) {
            free(text);
            return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
        }
        if (p->out != NULL && tool_write_atomic(t, p->out, text, len, p->force) != 0)
            rc = TOOL_EXIT_FAIL;
        else if (p->out == NULL && !t->opt.json)
            fputs(text, stdout);
    }
    if (t->opt.json && rc == TOOL_EXIT_OK)
        write_json(stdout, p, r, bad, p->out == NULL ? text : NULL);
    else if (rc == TOOL_EXIT_OK && p->out != NULL && !bad)
        printf("wrote %s\n", p->out);
    free(text);
    if (rc == TOOL_EXIT_OK && bad) {
        /* not tool_error: under --json the report above is the one object */
        fprintf(stderr, "dep11-tool: probe: %d route(s) cannot be served: no profile written\n",
                bad);
        rc = TOOL_EXIT_FAIL;
    }
    return rc;
}
