/*
 * config.h - the module config file (DESIGN section 7) and the HSM profile it
 * names. Syntax: "key = value" lines, '#' comments, unknown keys are an error.
 */
#ifndef DEP11_UTIL_CONFIG_H
#define DEP11_UTIL_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <p11-kit/pkcs11.h>

#include "util/fault_codes.h"

#define DEP11_CONF_PATH_MAX 4096

/* What differs between HSMs (hsm-profiles/<name>.conf). */
struct dep11_profile {
    char path[DEP11_CONF_PATH_MAX];     /* the profile file itself */
    char module[DEP11_CONF_PATH_MAX];   /* "module": the HSM's PKCS#11 library (required) */
    unsigned module_line;               /* the line of "module" in the profile file */
    CK_MECHANISM_TYPE oaep_hash;        /* "oaep-hash": sha1 -> CKM_SHA_1, sha256 -> CKM_SHA256 (default sha256) */
    CK_MECHANISM_TYPE aes_wrap_pad_mech;/* "aes-key-wrap-pad-mechanism": number, default 0x210A */
    int root_unwrap_decrypt;            /* "root-unwrap": decrypt (1, default) | unwrap (0) */
    int gcm_iv_from_module;             /* "gcm-iv": module (1, default) | hsm (0): the HSM
                                         * generates the GCM IV and returns it in CK_GCM_PARAMS */
    unsigned max_sessions;              /* "max-sessions": provider session pool size, default 8 */
    unsigned call_timeout_ms;           /* "call-timeout-ms": per-call time-out, 0 = none (default) */
    unsigned retries;                   /* "retries": reopen-and-retry count on session loss, default 1 */
    unsigned backoff_ms;                /* "backoff-ms": pause before a retry, default 0 */
    int availability_rsa;               /* "availability-key": aes (0, default) | rsa (1) */
    int files_fallback_recovery_only;   /* "files-fallback": all (0, default) | recovery-only (1) */
    int hedged;                         /* "hedged-unwrap": no (0, default) | yes (1) */
    CK_ULONG provider_rsa_bits;         /* "provider-rsa-bits": 2048|3072|4096, default 3072 */
    int receipt_rsa_pss;            /* "receipt-signature": ecdsa (0, default) | rsa-pss (1) */
    CK_ULONG availability_rsa_bits; /* "availability-rsa-bits": 2048|3072|4096, default 2048 */
    int root_reg_so_login;          /* "root-registration": trusted-twin (0, default) |
                                     * so-login (1): the SO's login through dep11, recorded
                                     * on the provider token (docs/SECURITY.md) */
    int token_identity_label;       /* "token-identity": serial (0, default) | serial-label (1):
                                     * the tenant identity also holds CK_TOKEN_INFO.label */
    /* "fault-denied", "fault-transient", "fault-invalid": codes moved to
     * that class of DESIGN section 5's table (util/fault_codes.h) */
    struct dep11_fault_override fault_override[DEP11_FAULT_OVERRIDE_MAX];
    unsigned fault_overrides;
    /* "reconnect": no (0, default) | yes (1): initialize a backend that lost
     * its HSM again (core/module.c) */
    int reconnect;
    /* "block-sigpipe": no (0, default) | yes (1): SIGPIPE blocked around each
     * backend call (hsm/call.h) */
    int block_sigpipe;
    /* "backend-calls": concurrent (0, default) | serial (1): one call into
     * the backend at a time in the process (hsm/call.h) */
    int backend_serial;
    /* "object-handles": reused (0, default) | unique (1): the backend never
     * gives an object's handle to another object in the process, so a root
     * handle proven once is used without reading the key again
     * (hier/copy_open.c) */
    int handles_unique;
};

struct dep11_config {
    char path[DEP11_CONF_PATH_MAX];            /* the file read */
    struct dep11_profile profile;              /* "profile" (required) */
    char provider_token[DEP11_CONF_PATH_MAX];  /* "provider-token": label or pkcs11: URI (required) */
    char provider_pin[DEP11_CONF_PATH_MAX];    /* "provider-pin": "file:..." or "env:..." (required) */
    char audit_log[DEP11_CONF_PATH_MAX];       /* "audit-log": empty = none */
    unsigned cache_seconds;                    /* "cache-seconds": default 300 */
    unsigned cache_entries;                    /* "cache-entries": default 1024 */
    int system_requests;                       /* "system-requests": allow (1) | deny (0, default) */
    int recovery_requests;                     /* "recovery-requests": allow (1) | deny (0, default) */
    int caller_iv;                             /* "caller-iv": allow (1) | deny (0, default) */
    int trusted_roots_any;                     /* "trusted-roots": any (1) | require (0, default) */
    int bind_unbound;                          /* "unbound-policies": bind-on-unwrap (1) | refuse (0, default) */
    char receipt_public_key[DEP11_CONF_PATH_MAX]; /* "receipt-public-key": empty = none */
};

/*
 * Reads the config at @path (and the profile it names) into @out.
 * A relative or bare profile name is looked up in DEP11_PROFILE_DIR
 * ($(datadir)/dep11/hsm-profiles), then beside the config file.
 * Returns CKR_OK, or CKR_FUNCTION_FAILED after one log line naming the file
 * and line of the first error; CKR_HOST_MEMORY.
 */
CK_RV dep11_config_load(const char *path, struct dep11_config *out);

/* The config path to use: $DEP11_CONF, else DEP11_SYSCONF_PATH. */
const char *dep11_config_default_path(void);

/* 1 when this process has no dep11 config at all: DEP11_CONF unset or empty
 * and no file at DEP11_SYSCONF_PATH that it may read (ENOENT or EACCES). Then C_Initialize fails without an
 * ERROR line, so a p11-kit registration (dep11.module) stays silent and
 * absent in the processes of the machine that do not use dep11. */
int dep11_config_absent(void);

/*
 * Resolves a PIN source ("file:/path": first line, trailing newline dropped;
 * "env:NAME") into @pin (NUL-terminated, at most @cap-1 bytes); @len gets
 * its length. The caller cleanses @pin. Returns CKR_OK, CKR_FUNCTION_FAILED
 * (unreadable, group- or world-readable file, empty, too long, bad scheme;
 * logged without the PIN).
 */
CK_RV dep11_config_read_pin(const char *source, char *pin, size_t cap, size_t *len);

#endif
