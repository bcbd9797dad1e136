/*
 * reg.h - dep11-tool's control plane: the policy registry on the customer
 * token (registry.c), the child-blob store on disk (store.c), and the
 * commands built on them (policy_reg.c, lifecycle.c, store_cmd.c), and the
 * offline verifiers (audit_verify.c, receipt_verify.c). Included by the
 * files that use them, after tool.h (which it includes).
 */
#ifndef DEP11_TOOL_REG_H
#define DEP11_TOOL_REG_H

#include "tool.h"

/* Registry states of a policy. */
#define TOOL_STATE_ACTIVE 0
#define TOOL_STATE_DISABLED 1
#define TOOL_STATE_PURGE_REQUESTED 2
#define TOOL_STATE_PURGED 3

/* The seeds' limit on active MAILBOX policies per tenant. */
#define TOOL_MAX_MAILBOX 50

/* One registry record (the CKA_VALUE of a "dep11-registry" data object). */
struct tool_rec {
    char name[DEP11_LABEL_MAX + 1];
    unsigned char id[16];
    CK_ULONG type;                /* DEP11_POLICY_* */
    unsigned char tenant[16];
    char geo[DEP11_GEO_MAX + 1];
    int state;                    /* TOOL_STATE_* */
    int assigned;                 /* MULTI_WORKLOAD: the tenant's policy */
    int customer;                 /* 1 customer-managed, 0 provider */
    char root1[129], root2[129];  /* root labels (customer-managed) */
    unsigned long version;        /* version of the current blob */
    long long created, updated, requested, purged_at; /* Unix seconds */
    unsigned long seq;            /* bumped by every update */
    char reason[257], contact[129]; /* the purge request */
    unsigned char *blob;          /* the current policy blob (malloc'd) */
    size_t blob_len;
    unsigned char *receipt;       /* the purge receipt, once purged */
    size_t receipt_len;
    CK_OBJECT_HANDLE h;           /* the data object */
};

const char *tool_state_name(int state);
const char *tool_type_name(CK_ULONG type);
int tool_parse_type(const char *s, CK_ULONG *out);
void tool_rec_free(struct tool_rec *r);
void tool_rec_free_all(struct tool_rec *all, size_t n);

/* Loads every record (logged-in session). TOOL_EXIT_ code. */
int tool_reg_load(struct tool *t, struct tool_rec **all, size_t *n);
/* Finds a record by @name, or by @id when not NULL. TOOL_EXIT_ code;
 * "no policy ..." printed when absent (TOOL_EXIT_FAIL). */
int tool_reg_find(struct tool *t, const char *name, const unsigned char *id,
                  struct tool_rec *r);
int tool_reg_create(struct tool *t, struct tool_rec *r);
int tool_reg_update(struct tool *t, struct tool_rec *r);
/* The seeds' limits; prints CKR_DEP11_POLICY_LIMIT and returns
 * TOOL_EXIT_FAIL when @r would break one. */
int tool_reg_check_limits(struct tool *t, const struct tool_rec *r,
                          const struct tool_rec *all, size_t n);

/* Unwraps an in-memory policy blob (POLICY_UNWRAP, @requester) into a
 * session key *@h. TOOL_EXIT_ code (message printed). policy.c */
int tool_unwrap_blob(struct tool *t, const unsigned char *blob, size_t len,
                     CK_ULONG requester, CK_OBJECT_HANDLE *h);
/* POLICY_WRAP of @key under roots @r1/@r2 (CK_INVALID_HANDLE for
 * provider-managed) with @flags; *@blob malloc'd. policy.c */
int tool_wrap_policy(struct tool *t, CK_OBJECT_HANDLE key, CK_OBJECT_HANDLE r1,
                     CK_OBJECT_HANDLE r2, CK_FLAGS flags, unsigned char **blob,
                     CK_ULONG *len);
/* Prints a record (table or JSON, with its blob's header). policy_reg.c */
int tool_print_rec(struct tool *t, const struct tool_rec *r);

/* ---- the child-blob store (store.c) ----
 * DIR/owners/<owner-hex>             the owner's index entry (text):
 *                                    kind, assigned policy id, the policy id
 *                                    and version its blob is wrapped under,
 *                                    the previous policy id (for clean-up)
 * DIR/blobs/<policy-id-hex>/<owner-hex>.blob   the child blob
 * DIR/rewrap.journal                 the owners a bulk re-wrap has finished
 * Every file is written atomically (temp, fsync, rename, fsync dir). */
struct tool_entry {
    unsigned char owner[16];
    char kind[16];               /* "mailbox", "site", ... */
    unsigned char assigned[16];  /* the policy the owner is assigned to */
    unsigned char wrapped[16];   /* the policy its blob is wrapped under */
    unsigned char prev[16];      /* the policy before (all zero: none) */
    unsigned long version;       /* the policy version at wrap time */
};

/* Creates DIR/owners and DIR/blobs if needed. 0 or -1 (message printed). */
int tool_store_init(struct tool *t, const char *dir);
/* Reads the entry of @owner. 0, 1 when absent, -1 on error (printed). */
int tool_store_get(struct tool *t, const char *dir, const unsigned char *owner,
                   struct tool_entry *e);
/* Writes the entry atomically. 0 or -1 (printed). */
int tool_store_put(struct tool *t, const char *dir, const struct tool_entry *e);
/* Path of the blob of @owner under policy @pid (malloc'd). */
char *tool_store_blob_path(const char *dir, const unsigned char *pid,
                           const unsigned char *owner);
/* Reads the child blob of entry @e. 0 or -1 (printed). */
int tool_store_read_blob(struct tool *t, const char *dir,
                         const struct tool_entry *e, unsigned char **blob,
                         size_t *len);
/* Writes a child blob for @owner under @pid atomically (replacing). */
int tool_store_write_blob(struct tool *t, const char *dir,
                          const unsigned char *pid, const unsigned char *owner,
                          const unsigned char *blob, size_t len);
/* Lists the owners of the store (malloc'd array of 16-byte ids). */
int tool_store_list(struct tool *t, const char *dir, unsigned char **owners,
                    size_t *n);
/* Writes @len bytes to @path atomically (temp in the same directory, fsync,
 * rename over, fsync dir). 0 or -1 (printed). */
int tool_store_atomic(struct tool *t, const char *path, const void *buf,
                      size_t len);

/* ---- moving children between policies (store_job.c) ---- */
#define TOOL_CACHE_MAX 64
struct tool_cached {             /* an unwrapped policy key of this run */
    unsigned char id[16];
    char name[DEP11_LABEL_MAX + 1];
    unsigned long version;       /* the registry's current version */
    int state;
    CK_ULONG type;
    CK_OBJECT_HANDLE h;
};
struct tool_keycache {
    CK_ULONG requester;          /* DEP11_REQUESTER_* for the unwraps */
    size_t n;
    struct tool_cached e[TOOL_CACHE_MAX];
};
void tool_cache_free(struct tool *t, struct tool_keycache *c);
int tool_cache_get(struct tool *t, struct tool_keycache *c,
                   const unsigned char *pid, struct tool_cached **out);
int tool_entry_done(const struct tool_entry *e, const struct tool_cached *to);
int tool_store_move(struct tool *t, const char *dir, struct tool_keycache *c,
                    struct tool_entry *e, const struct tool_cached *to);
void tool_store_tidy(const char *dir, const struct tool_entry *e);
int tool_store_lock(struct tool *t, const char *dir, int *fd);
/* For data seal/open --store: unwraps the policy the owner's blob is under
 * (*@pol, destroy it after) and reads the blob. TOOL_EXIT_ code. */
int tool_store_child(struct tool *t, const char *dir,
                     const unsigned char *owner, CK_ULONG requester,
                     CK_OBJECT_HANDLE *pol, unsigned char **blob, size_t *len);
/* mailbox assign --store (store_cmd.c); @owners_file: one owner a line. */
int tool_store_assign(struct tool *t, const char *dir, const char *policy,
                      const char *owner, const char *owners_file,
                      CK_ULONG requester);

#endif
