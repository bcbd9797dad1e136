/*
 * reg.h - dep11-tool's control plane: the policy registry on the customer
 * token (registry.c), the child-blob store on disk (store.c), and the
 * commands built on them (policy_reg.c, lifecycle.c, store_cmd.c), and the
 * offline verifiers (audit_verify.c, receipt_verify.c). Included by tool.h.
 */
#ifndef DEP11_TOOL_REG_H
#define DEP11_TOOL_REG_H

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
/* Creates and registers a provider-managed policy, printing nothing (the
 * store's default policy). policy.c */
int tool_policy_create_provider(struct tool *t, CK_ULONG type,
                                const unsigned char *tenant, const char *name);
/* Prints a record (table or JSON, with its blob's header). policy_reg.c */
int tool_print_rec(struct tool *t, const struct tool_rec *r);

/* ---- the child-blob store: store_db.h (SQLite, PostgreSQL, and the old
 * directory format read-only), docs/STORE.md ---- */
#include "store_db.h"

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
/* Is row @r already where a move to @to would put it? */
int tool_row_done(const struct store_row *r, const struct tool_cached *to);
/* Re-wraps the blob of @r (under r->wrapped, key from @c) under @to, in
 * memory: r->blob replaced, r->assigned = r->wrapped = to, its version.
 * CHILD_UNWRAP + CHILD_WRAP only (t->session). TOOL_EXIT_ code. */
int tool_rewrap_row(struct tool *t, struct tool_keycache *c,
                    struct store_row *r, const struct tool_cached *to);
/* tool_rewrap_row, then the row written (one transaction). */
int tool_store_move(struct tool *t, struct store_db *db,
                    struct tool_keycache *c, struct store_row *r,
                    const struct tool_cached *to);
/* The access rule: a row whose assignment changed is moved now. *@from
 * gets the old policy's name when it moved. @db opened for writing. */
int tool_store_touch(struct tool *t, struct store_db *db,
                     struct tool_keycache *c, struct store_row *r,
                     char *from, size_t from_len);
/* For data seal/open --store: re-wraps on access, unwraps the policy the
 * owner's blob is under (*@pol, destroy it after) and reads the blob.
 * TOOL_EXIT_ code. */
int tool_store_child(struct tool *t, const char *store,
                     const unsigned char *owner, CK_ULONG requester,
                     CK_OBJECT_HANDLE *pol, unsigned char **blob, size_t *len);
/* mailbox assign --store (store_cmd.c); @owners_file: one owner a line,
 * @batch owners per transaction; @policy NULL: the default. */
#define TOOL_ASSIGN_BATCH 10000
int tool_store_assign(struct tool *t, const char *store, const char *policy,
                      const char *owner, const char *owners_file,
                      size_t batch, CK_ULONG requester);

/* ---- commands of the control plane ---- */
extern const struct tool_cmd tool_cmd_policy_list;
extern const struct tool_cmd tool_cmd_policy_enable;
extern const struct tool_cmd tool_cmd_policy_disable;
extern const struct tool_cmd tool_cmd_policy_assign_tenant;
extern const struct tool_cmd tool_cmd_policy_unassign_tenant;
extern const struct tool_cmd tool_cmd_policy_refresh;
extern const struct tool_cmd tool_cmd_policy_roll_availability;
extern const struct tool_cmd tool_cmd_policy_offboard;
extern const struct tool_cmd tool_cmd_policy_purge;
extern const struct tool_cmd tool_cmd_mailbox_show;
extern const struct tool_cmd tool_cmd_store_rewrap;
extern const struct tool_cmd tool_cmd_store_inventory;
extern const struct tool_cmd tool_cmd_store_verify;
extern const struct tool_cmd tool_cmd_store_import;
extern const struct tool_cmd tool_cmd_audit_verify;
extern const struct tool_cmd tool_cmd_receipt_verify;

/* The entries of these commands in main.c's table (trailing comma). */
#define TOOL_REG_COMMANDS                                                    \
    &tool_cmd_policy_list, &tool_cmd_policy_enable, &tool_cmd_policy_disable, \
    &tool_cmd_policy_assign_tenant, &tool_cmd_policy_unassign_tenant,        \
    &tool_cmd_policy_refresh, &tool_cmd_policy_roll_availability,            \
    &tool_cmd_policy_offboard, &tool_cmd_policy_purge,                     \
    &tool_cmd_mailbox_show, &tool_cmd_store_rewrap,                          \
    &tool_cmd_store_inventory, &tool_cmd_store_verify, &tool_cmd_store_import,

#endif
