/*
 * hier.h - the key hierarchy: module-side keys and the vendor mechanisms
 * (DESIGN sections 1-5). core/ calls these with keys it has looked up; hier
 * calls crypto/, blob/ and hsm/. Every function returns the most precise
 * CKR_ code and logs one debug line on failure. Outputs that held key
 * material are cleansed on every error path.
 */
#ifndef DEP11_HIER_H
#define DEP11_HIER_H

#include <stddef.h>
#include <stdint.h>
#include "dep11.h"
#include "util/config.h"

/* A module-side key (policy, mailbox, workload, site or chunk key). */
struct dep11_key {
    /* Ordered widest first, flags and lengths in bytes: the struct is
     * per live key (docs/PERFORMANCE.md, RSS per module key). */
    CK_ULONG role;                /* DEP11_ROLE_* */
    CK_ULONG policy_type;         /* DEP11_POLICY_* (0 = none) */
    CK_ULONG version;             /* policy: version of the blob it came from; 0 = fresh */
    CK_ULONG managed_by;          /* policy: DEP11_MANAGED_*; 0 = not yet wrapped */
    CK_ULONG unwrapped_by;        /* DEP11_ROOT_*; 0 = not unwrapped */
    CK_ULONG chunk_index;         /* chunk keys: the index derived for */
    uint8_t *value;               /* DEP11_KEY_LEN bytes in secmem */
    /* policy keys: their own policy; children: the policy they were
     * wrapped under / unwrapped from (has_policy = 0 until then) */
    uint8_t policy_id[DEP11_ID_LEN];
    uint8_t tenant[DEP11_ID_LEN];
    uint8_t owner[DEP11_ID_LEN];   /* children: CKA_DEP11_OWNER */
    uint8_t file_id[DEP11_ID_LEN]; /* chunk keys: the file derived for */
    /* policy keys from a customer-managed blob: the identities (SHA-256 of
     * the public key's DER) of its customer roots, so that a re-wrap can
     * check that the customer has not revoked them (policy_wrap.c) */
    uint8_t root_ids[2][32];
    uint8_t label[DEP11_LABEL_MAX]; /* CKA_LABEL (a policy's name) */
    uint8_t ckaid[64];              /* CKA_ID */
    uint8_t geo[DEP11_GEO_MAX];
    uint8_t label_len; /* <= DEP11_LABEL_MAX */
    uint8_t ckaid_len; /* <= sizeof ckaid */
    uint8_t geo_len;   /* <= DEP11_GEO_MAX */
    uint8_t nroot_ids; /* <= 2 */
    uint8_t has_policy;
    uint8_t has_tenant;
    uint8_t has_owner;
    uint8_t has_file;
    CK_BBOOL local;               /* CKA_LOCAL: generated here (not unwrapped/derived) */
};

/* What a CKM_DEP11_KEY_GEN template asked for (parsed and checked by core). */
struct dep11_keygen_req {
    CK_ULONG role;                /* required */
    CK_ULONG policy_type;         /* required for role POLICY, else 0 */
    int has_tenant;               /* required for role POLICY */
    uint8_t tenant[DEP11_ID_LEN];
    uint8_t geo[DEP11_GEO_MAX];
    size_t geo_len;
    uint8_t label[DEP11_LABEL_MAX];
    size_t label_len;
    uint8_t ckaid[64];
    size_t ckaid_len;
};

/* The caller's context for mechanisms that reach root keys. */
struct dep11_call {
    CK_SLOT_ID slot;                  /* the consumer session's token */
    const struct dep11_config *cfg;   /* the module's config */
};

/* --- keys ----------------------------------------------------------------- */
/* A fresh key with a random value (and, for a policy, a random policy id).
 * CKR_OK; CKR_TEMPLATE_INCONSISTENT (role/type/tenant rules); CKR_HOST_MEMORY. */
CK_RV dep11_key_generate(const struct dep11_keygen_req *req, struct dep11_key **out);

/* Cleanses and frees; NULL is a no-op. */
void dep11_key_free(struct dep11_key *k);

/* May @k be used for this? (sticky roles, DESIGN section 2)
 * CKR_OK or CKR_KEY_FUNCTION_NOT_PERMITTED (logged). @mech is the mechanism;
 * @what is one of the DEP11_USE_* below. */
enum dep11_use {
    DEP11_USE_WRAP_CHILD,      /* CKM_DEP11_CHILD_WRAP as wrapping key  */
    DEP11_USE_UNWRAP_CHILD,    /* CKM_DEP11_CHILD_UNWRAP as unwrapping key */
    DEP11_USE_WRAPPED_BY_POLICY_WRAP, /* the key wrapped by POLICY_WRAP */
    DEP11_USE_WRAPPED_BY_CHILD_WRAP,  /* the key wrapped by CHILD_WRAP */
    DEP11_USE_DERIVE_CHUNK,    /* CKM_DEP11_CHUNK_KEY_DERIVE base */
    DEP11_USE_ENCRYPT,         /* C_EncryptInit with @mech */
    DEP11_USE_DECRYPT,         /* C_DecryptInit with @mech */
};
CK_RV dep11_key_permits(const struct dep11_key *k, enum dep11_use what,
                        CK_MECHANISM_TYPE mech);

/* --- policy blobs ----------------------------------------------------------- */
/* C_WrapKey(CKM_DEP11_POLICY_WRAP). @root1/@root2: customer roots on the
 * caller's token (private or public key handles, already translated to
 * backend handles), or both CK_INVALID_HANDLE for provider-managed.
 * Size-query protocol: @out NULL -> *@out_len = length, nothing created;
 * too small -> CKR_BUFFER_TOO_SMALL.
 * CKR_OK; CKR_KEY_FUNCTION_NOT_PERMITTED (unregistered, extractable or
 * non-sensitive root); CKR_MECHANISM_PARAM_INVALID (same root twice, one
 * root missing); CKR_WRAPPING_KEY_HANDLE_INVALID; CKR_KEY_NOT_WRAPPABLE;
 * CKR_DEP11_TENANT_MISMATCH (the policy is bound to another token or tenant
 * id: nothing created; the first wrap binds it, hier/tenant.h); backend codes.
 * A roll keeps the older availability keys until the new version is
 * committed by its first unwrap. */
CK_RV dep11_policy_wrap(const struct dep11_call *c, const struct dep11_key *policy,
                        CK_OBJECT_HANDLE root1, CK_OBJECT_HANDLE root2,
                        CK_FLAGS flags, uint8_t *out, CK_ULONG *out_len);

/* C_UnwrapKey(CKM_DEP11_POLICY_UNWRAP): the availability rules of DESIGN
 * section 5. @force_root: CK_INVALID_HANDLE, or a root to try alone.
 * @requester: DEP11_REQUESTER_*; SYSTEM and RECOVERY are checked here against
 * the config (CKR_MECHANISM_PARAM_INVALID when this process may not claim them).
 * Before any root: the tenant binding (CKR_DEP11_TENANT_MISMATCH), the purge
 * tombstone, the committed version (CKR_DEP11_BLOB_SUPERSEDED); a successful
 * unwrap of a newer version commits it (hier/tenant.h).
 * CKR_OK; CKR_WRAPPED_KEY_INVALID; CKR_DEP11_ROOT_KEYS_REVOKED;
 * CKR_DEP11_ROOT_KEYS_UNAVAILABLE; CKR_DEP11_POLICY_PURGED;
 * CKR_DEP11_TENANT_MISMATCH; CKR_DEP11_BLOB_SUPERSEDED;
 * CKR_USER_NOT_LOGGED_IN (abort class). */
CK_RV dep11_policy_unwrap(const struct dep11_call *c, CK_OBJECT_HANDLE force_root,
                          CK_ULONG requester, const uint8_t *blob, CK_ULONG len,
                          struct dep11_key **out);

/* DEP11_GetPolicyInfo: parse only (no HSM). CKR_OK; CKR_WRAPPED_KEY_INVALID;
 * CKR_ARGUMENTS_BAD. */
CK_RV dep11_policy_info(const uint8_t *blob, CK_ULONG len, CK_DEP11_POLICY_INFO *info);

/* --- child blobs ------------------------------------------------------------ */
/* C_WrapKey(CKM_DEP11_CHILD_WRAP). Size-query protocol as above.
 * CKR_KEY_FUNCTION_NOT_PERMITTED for a (policy type, child role) pair that
 * is not allowed. */
CK_RV dep11_child_wrap(const struct dep11_key *policy, const struct dep11_key *child,
                       const uint8_t owner[DEP11_ID_LEN], uint8_t *out, CK_ULONG *out_len);

/* C_UnwrapKey(CKM_DEP11_CHILD_UNWRAP). Wrong owner, policy, type or role,
 * or a blob that does not authenticate: CKR_WRAPPED_KEY_INVALID. */
CK_RV dep11_child_unwrap(const struct dep11_key *policy, const uint8_t owner[DEP11_ID_LEN],
                         const uint8_t *blob, CK_ULONG len, struct dep11_key **out);

/* C_DeriveKey(CKM_DEP11_CHUNK_KEY_DERIVE). */
CK_RV dep11_chunk_derive(const struct dep11_key *site, const uint8_t file_id[DEP11_ID_LEN],
                         CK_ULONG index, struct dep11_key **out);

/* --- data AEAD ---------------------------------------------------------------
 * One operation (C_EncryptInit..C_EncryptFinal or C_DecryptInit..Final) on
 * a module-side key: CKM_DEP11_AEAD, CKM_DEP11_CHUNK_AEAD (site key) or
 * CKM_AES_GCM (decrypt; encrypt only with caller-iv = allow).
 * The op copies what it needs from the key at init (the key may be destroyed
 * afterwards). Output/size rules follow PKCS#11: @out NULL -> *@out_len gets
 * the length needed and the op goes on; too small -> CKR_BUFFER_TOO_SMALL
 * and the op goes on; any other result ends the op (the caller frees it).
 * Encrypt output: nonce(12) || ciphertext || tag(16). Decrypt releases no
 * plaintext before the tag is verified (multi-part buffers to Final, at most
 * DEP11_AEAD_MAX_BUFFERED bytes, else CKR_ENCRYPTED_DATA_LEN_RANGE). */
#define DEP11_AEAD_MAX_BUFFERED (DEP11_MULTIPART_MAX + DEP11_AEAD_OVERHEAD)
struct dep11_aead_op;

/* CKR_MECHANISM_PARAM_INVALID (bad parameter length or content);
 * CKR_KEY_FUNCTION_NOT_PERMITTED (role, or caller IV not allowed);
 * CKR_MECHANISM_INVALID; CKR_HOST_MEMORY. */
CK_RV dep11_aead_init(const struct dep11_config *cfg, const struct dep11_key *key,
                      int encrypt, const CK_MECHANISM *mech, struct dep11_aead_op **out);
CK_RV dep11_aead_oneshot(struct dep11_aead_op *op, const uint8_t *in, CK_ULONG in_len,
                         uint8_t *out, CK_ULONG *out_len);
CK_RV dep11_aead_update(struct dep11_aead_op *op, const uint8_t *in, CK_ULONG in_len,
                        uint8_t *out, CK_ULONG *out_len);
CK_RV dep11_aead_final(struct dep11_aead_op *op, uint8_t *out, CK_ULONG *out_len);
void dep11_aead_free(struct dep11_aead_op *op);
/* Reuse on the data path (a session keeps its ended op per direction):
 * dep11_aead_park ends @op and cleanses its key copy, AAD, buffered input and
 * the cipher context's key schedule, keeping the allocations; NULL ok.
 * dep11_aead_reinit starts a new op in @op (running, ended or parked) with
 * the codes of dep11_aead_init; on failure @op is left parked.
 * dep11_aead_active: 1 from init until a result that ends the op; 0 once
 * ended or parked, and for NULL. */
void dep11_aead_park(struct dep11_aead_op *op);
CK_RV dep11_aead_reinit(const struct dep11_config *cfg, const struct dep11_key *key,
                        int encrypt, const CK_MECHANISM *mech, struct dep11_aead_op *op);
int dep11_aead_active(const struct dep11_aead_op *op);

/* --- purge (purge.c; docs/RECEIPTS.md) -------------------------------------- */
/* The longest destruction receipt: the answer to a size query. */
#define DEP11_RECEIPT_MAX 4096

/* DEP11_PurgePolicy on the caller's logged-in token (@c->slot): refuses
 * (CKR_FUNCTION_REJECTED) a provider-managed blob, a token that holds no
 * registered root of the policy, and a policy a customer key still unwraps;
 * else writes the tombstone, destroys every availability key of the policy
 * id, flushes this process's cache, audits "purge" and returns the signed
 * receipt. A purged policy re-issues its stored receipt. Size-query
 * protocol: @out NULL -> *@out_len = DEP11_RECEIPT_MAX, nothing destroyed;
 * too small -> CKR_BUFFER_TOO_SMALL, nothing destroyed.
 * A session of another token than the policy's: CKR_DEP11_TENANT_MISMATCH,
 * nothing destroyed; a first purge by a blob older than the committed
 * version: CKR_DEP11_BLOB_SUPERSEDED.
 * CKR_OK; CKR_ARGUMENTS_BAD; CKR_WRAPPED_KEY_INVALID; CKR_FUNCTION_REJECTED;
 * CKR_DEP11_ROOT_KEYS_UNAVAILABLE (a customer key answered transiently);
 * CKR_USER_NOT_LOGGED_IN; CKR_BUFFER_TOO_SMALL; backend codes. */
CK_RV dep11_policy_purge(const struct dep11_call *c, const uint8_t *blob, CK_ULONG len,
                         uint8_t *out, CK_ULONG *out_len);

/* Writes the receipt signing key's public key as PEM to @path (the config's
 * receipt-public-key) when the file is absent; a file holding another key is
 * never overwritten. CKR_OK; CKR_FUNCTION_FAILED (another key in the file,
 * cannot read or write: logged with the path); backend codes. */
CK_RV dep11_purge_write_public_key(const char *path);

/* --- shared inside module/hier (not called by core) ------------------------ */
/* A zeroed key of @role whose value is a fresh DEP11_KEY_LEN-byte secmem
 * buffer (all zero); free it with dep11_key_free(). CKR_OK; CKR_HOST_MEMORY. */
CK_RV dep11_key_alloc(CK_ULONG role, struct dep11_key **out);

#endif
