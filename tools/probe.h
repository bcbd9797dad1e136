/*
 * probe.h - "dep11-tool probe": trial operations on any PKCS#11 library
 * (loaded directly, not through dep11) that decide the routes of an HSM
 * profile (docs/CONFIG.md, "Profile keys"). probe.c runs the command,
 * probe_trials.c the cryptographic trials, probe_out.c writes the profile.
 */
#ifndef DEP11_TOOL_PROBE_H
#define DEP11_TOOL_PROBE_H

#include "tool.h"

/* Outcome of one trial: TRIAL_OK, TRIAL_NO (the HSM refused; rv says how),
 * TRIAL_SKIP (not tried: a prerequisite failed or a PIN was not given). */
enum { TRIAL_SKIP = 0, TRIAL_OK, TRIAL_NO };

struct trial {
    int res;
    CK_RV rv;        /* the refusal (TRIAL_NO) */
    const char *why; /* which call refused, or why skipped */
};

/* Everything the probe learnt. */
struct probe {
    const char *so_pin;        /* --so-pin-source (NULL: root registration not probed) */
    const char *out;           /* -o FILE (NULL: stdout) */
    int force;                 /* --force: replace FILE */
    char module[4096];         /* the library, as given */
    CK_TOKEN_INFO ti;          /* the probed token */
    CK_INFO info;              /* the library */
    CK_ULONG rsa_min, rsa_max; /* CKM_RSA_PKCS_KEY_PAIR_GEN key sizes (bits) */
    /* session objects of the user phase (destroyed by probe_cleanup) */
    CK_OBJECT_HANDLE rsa_pub, rsa_priv, aes, aes_target, ec_pub, ec_priv, hmac;
    unsigned char mod[1024], exp[16]; /* the RSA public key, for the twin */
    CK_ULONG mod_len, exp_len;
    struct trial rsa_gen, oaep_sha1, oaep_sha256, unwrap, hmac_sign;
    struct trial aes_gen, gcm, kwp, ec, ecdsa, pss;
    struct trial trusted_user; /* a user session made a CKA_TRUSTED object (bad) */
    struct trial trusted_so;   /* the SO made one */
    struct trial fork_child;   /* a forked child initialized the library again */
    struct trial handles;      /* session objects made and destroyed in turn */
    int handle_reused;         /* one of them got an earlier one's handle */
    int gcm_hsm_iv;            /* the HSM wrote its own IV into pIv */
    CK_ULONG kwp_mech;         /* the AES key wrap with padding number that worked */
    CK_ULONG same_identity;    /* other tokens with this token's maker/model/serial */
};

/* probe_trials.c: the user phase (a logged-in RW session on t->session).
 * Fills @p; never fails (each refusal is recorded in its trial). */
void probe_trials(struct tool *t, struct probe *p);
/* Forks a child that calls C_Initialize, C_GetTokenInfo and C_Finalize
 * and reports through a pipe (a comment in the profile, no key). */
void probe_fork(struct tool *t, struct probe *p);
/* Destroys the session objects the trials made. */
void probe_cleanup(struct tool *t, struct probe *p);
/* The SO phase, after probe_cleanup: may the SO create a CKA_TRUSTED
 * object? Ends the user session, logs in as SO on a fresh RW session and
 * destroys what it made. Returns a TOOL_EXIT_ code (a failed SO login). */
int probe_trusted_so(struct tool *t, struct probe *p);

/* probe_out.c: the route each key gets; NULL value = cannot be served, with
 * the reason in *why. */
struct route {
    const char *key;
    const char *value; /* NULL: no value serves this HSM */
    char why[400];
    int kind; /* ROUTE_KEY, ROUTE_NEW_KEY (added by issue 13 beside this
                * tool), ROUTE_NEED (a requirement, not a key) */
};
enum { ROUTE_KEY = 0, ROUTE_NEW_KEY, ROUTE_NEED };
#define PROBE_ROUTES 11
/* Decides the routes from @p into @r (PROBE_ROUTES entries). Returns how
 * many cannot be served. */
int probe_routes(const struct probe *p, struct route *r);
/* Writes the profile (or, with --json, the JSON report) to -o or stdout.
 * Returns a TOOL_EXIT_ code. */
int probe_write(struct tool *t, const struct probe *p, const struct route *r, int bad);

#endif
