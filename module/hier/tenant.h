/*
 * tenant.h - tenant binding and committed versions of policies (DESIGN
 * sections 2 and 5), over the provider token's records for the policy id
 * (hsm/provider_state.h). Shared by policy_wrap.c, policy_unwrap.c and
 * purge.c; not called by core.
 */
#ifndef DEP11_HIER_TENANT_H
#define DEP11_HIER_TENANT_H

#include <stdint.h>
#include "hier/hier.h"
#include "hsm/provider_state.h"

/* What the provider token says of one policy, seen from the caller's token. */
struct dep11_policy_state {
    struct dep11_tag_state st;      /* binding and committed version */
    uint8_t ident[DEP11_TOKEN_IDENT_LEN];  /* the caller's token */
    char serial[DEP11_TOKEN_SERIAL_LEN + 1];
};

/* Reads the caller's token identity and the policy's records (one
 * C_GetTokenInfo, one search). CKR_OK when the policy is bound to this
 * token and @tenant, or not bound at all (ps->st.bound = 0);
 * CKR_DEP11_TENANT_MISMATCH (logged) when bound to another token or tenant;
 * backend codes. */
CK_RV dep11_tenant_check(const struct dep11_call *c, const uint8_t policy_id[DEP11_ID_LEN],
                         const uint8_t tenant[DEP11_ID_LEN], struct dep11_policy_state *ps);

/* dep11_tenant_check for a policy unwrap, with the facts memo (facts.h,
 * lifetime @seconds): one C_GetTokenInfo and the change mark, then the
 * remembered facts or the two searches (records, tombstone). The binding
 * is compared before the tombstone is searched (DESIGN section 5's order).
 * *@purged [out] the policy id carries a purge tombstone. Same codes. */
CK_RV dep11_tenant_facts(const struct dep11_call *c, const uint8_t policy_id[DEP11_ID_LEN],
                         const uint8_t tenant[DEP11_ID_LEN], unsigned seconds,
                         struct dep11_policy_state *ps, int *purged);

/* dep11_tenant_check (@ps is filled afresh), then, for a policy bound nowhere, writes the binding
 * to the caller's token and @tenant (create-only; a binding a racing process
 * wrote first is then checked instead). Same codes. */
CK_RV dep11_tenant_bind(const struct dep11_call *c, const uint8_t policy_id[DEP11_ID_LEN],
                        const uint8_t tenant[DEP11_ID_LEN], struct dep11_policy_state *ps);

/* Commits @version of the policy, the blob whose SHA-256 is @digest (it
 * unwrapped successfully and is newer than the committed one): the commit
 * record, then every availability key of the policy but @keep (@keep_len
 * bytes, NULL: none kept) is destroyed and this process's cache entries of
 * the policy are flushed. CKR_OK; CKR_DEP11_BLOB_SUPERSEDED when another
 * blob of this or a later version was committed first (a racing process);
 * backend codes: the record could not be written, or a key could not be
 * destroyed (the version stays committed: older blobs are superseded
 * whatever keys remain); the caller withholds the key either way. */
CK_RV dep11_policy_commit(const uint8_t policy_id[DEP11_ID_LEN], CK_ULONG version,
                          const uint8_t digest[DEP11_COMMIT_DIGEST_LEN], const uint8_t *keep,
                          size_t keep_len);

/* Has the customer left a root of policy key @p in place? CKR_OK when a
 * private key with one of p->root_ids is on the caller's token with
 * CKA_DECRYPT on (what DESIGN section 5 calls not "denied");
 * CKR_DEP11_ROOT_KEYS_REVOKED when neither is (logged);
 * CKR_DEP11_ROOT_KEYS_UNAVAILABLE when the token lists too many RSA keys to
 * prove it either way; worker-session and backend codes. */
CK_RV dep11_policy_roots_live(const struct dep11_call *c, const struct dep11_key *p);

#endif
