/*
 * itest.h - shared helpers of the integration tests: load libdep11.so
 * ($DEP11_MODULE) with dlopen, find the tokens of the throwaway SoftHSM world
 * made by setup-tokens.sh ($ITEST_WORLD), and short-hands for the dep11
 * mechanisms. Helpers return CK_RV so each test asserts the code it expects.
 */
#ifndef DEP11_ITEST_H
#define DEP11_ITEST_H

#include <stddef.h>
#include <stdint.h>
#include "dep11.h"

/* What one test process holds: the module's function lists. */
struct itest {
    void *dl;                          /* dlopen handle; never closed */
    CK_FUNCTION_LIST_PTR f;            /* "PKCS 11" list */
    CK_DEP11_FUNCTION_LIST_PTR x;      /* "Vendor dep11" list */
    CK_RV (*get_interface)(CK_UTF8CHAR_PTR, CK_VERSION_PTR,
                           CK_INTERFACE_PTR_PTR, CK_FLAGS);
    CK_RV (*get_interface_list)(CK_INTERFACE_PTR, CK_ULONG_PTR);
    char world[1024];                  /* $ITEST_WORLD */
};

/* A blob held by a test (malloc'ed). */
struct itest_blob {
    CK_BYTE *p;
    CK_ULONG len;
};

/* Loads $DEP11_MODULE (dlopen; never closed, so that LeakSanitizer can
 * symbolise the module's frames) into a malloc'ed struct. Returns NULL and
 * prints why on failure. itest_close frees the struct. */
struct itest *itest_open(void);
void itest_close(struct itest *t);

/* C_Initialize with NULL (as pkcs11-tool does) or OS locking. */
CK_RV itest_init(struct itest *t);
CK_RV itest_finalize(struct itest *t);

/* Path of a file in the world directory, in a static per-call buffer. */
const char *itest_path(const struct itest *t, const char *name, char *buf, size_t cap);

/* Reads DIR/<name> (a PIN file) into @buf, without the trailing newline. */
int itest_read_file(const struct itest *t, const char *name, char *buf, size_t cap);

/* Slot of the token labelled @label (blank padded compare), among the slots
 * C_GetSlotList(TRUE) reports. CKR_OK or CKR_TOKEN_NOT_PRESENT. */
CK_RV itest_slot(struct itest *t, const char *label, CK_SLOT_ID *slot);

/* Opens a R/W session on @label; logs the user in with user.pin if @login. */
CK_RV itest_session(struct itest *t, const char *label, int login, CK_SESSION_HANDLE *s);

/* First object of @cls with CKA_LABEL @label (a public key: the one with
 * CKA_TRUSTED=FALSE, not the registered twin); CKR_OK or
 * CKR_OBJECT_HANDLE_INVALID. */
CK_RV itest_find(struct itest *t, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls,
                 const char *label, CK_OBJECT_HANDLE *h);

/* CKM_DEP11_KEY_GEN of @role; a policy gets @ptype and the tenant id of
 * the session's token (itest_tenant_id). */
CK_RV itest_keygen(struct itest *t, CK_SESSION_HANDLE s, CK_ULONG role,
                   CK_ULONG ptype, CK_OBJECT_HANDLE *h);

/* CKM_DEP11_POLICY_WRAP with the size-query protocol; r1 == 0 and
 * r2 == 0 means provider-managed (NULL parameter). */
CK_RV itest_policy_wrap(struct itest *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pol,
                        CK_OBJECT_HANDLE r1, CK_OBJECT_HANDLE r2, CK_FLAGS flags,
                        struct itest_blob *out);

/* CKM_DEP11_POLICY_UNWRAP with @requester (0 = NULL parameter). */
CK_RV itest_policy_unwrap(struct itest *t, CK_SESSION_HANDLE s, const struct itest_blob *b,
                          CK_ULONG requester, CK_OBJECT_HANDLE *h);

CK_RV itest_child_wrap(struct itest *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pol,
                       CK_OBJECT_HANDLE child, const CK_BYTE owner[16],
                       struct itest_blob *out);
CK_RV itest_child_unwrap(struct itest *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pol,
                         const struct itest_blob *b, const CK_BYTE owner[16],
                         CK_OBJECT_HANDLE *h);

/* CKM_DEP11_AEAD one-shot; @out gets a malloc'ed buffer. */
CK_RV itest_aead(struct itest *t, CK_SESSION_HANDLE s, int encrypt, CK_OBJECT_HANDLE k,
                 const CK_BYTE *aad, CK_ULONG aad_len, const CK_BYTE *in,
                 CK_ULONG in_len, struct itest_blob *out);

/* C_EncryptInit + C_Encrypt (@encrypt 1) or C_DecryptInit + C_Decrypt with
 * @m under @k; @out gets a malloc'ed buffer of in_len + DEP11_AEAD_OVERHEAD
 * bytes and the output length. */
CK_RV itest_crypt(struct itest *t, CK_SESSION_HANDLE s, int encrypt, CK_MECHANISM *m,
                  CK_OBJECT_HANDLE k, const CK_BYTE *in, CK_ULONG in_len,
                  struct itest_blob *out);

/* A CK_ULONG attribute. */
CK_RV itest_get_ulong(struct itest *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                      CK_ATTRIBUTE_TYPE type, CK_ULONG *v);

/* Writes @b to DIR/<name>. */
int itest_write_blob(const struct itest *t, const char *name, const struct itest_blob *b);

/* Runs "$ITEST_TOOL unwrap MODULE TOKEN PINFILE BLOBFILE REQUESTER" in a
 * fresh process with DEP11_CONF=DIR/<conf>; *rv and *by get what it printed.
 * Returns 0 when the child ran and printed its line, -1 otherwise. */
int itest_spawn_unwrap(const struct itest *t, const char *conf, const char *blobfile,
                       CK_ULONG requester, CK_RV *rv, CK_ULONG *by);

/* Runs "$ITEST_TOOL purge MODULE TOKEN PINFILE BLOBFILE" the same way:
 * DEP11_PurgePolicy in another process; *rv gets its answer. */
int itest_spawn_purge(const struct itest *t, const char *conf, const char *blobfile, CK_RV *rv);

/* Number of module-side keys the session sees (C_FindObjects by
 * CKA_DEP11_ROLE, every role). */
CK_RV itest_count_module_keys(struct itest *t, CK_SESSION_HANDLE s, CK_ULONG *n);

/* CKM_DEP11_CHUNK_KEY_DERIVE of (@site, @file_id, @index), empty template. */
CK_RV itest_chunk_derive(struct itest *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE site,
                         const CK_BYTE file_id[16], CK_ULONG index, CK_OBJECT_HANDLE *h);

void itest_blob_free(struct itest_blob *b);

/* What the customer does with its own HSM tools, never through dep11 (which
 * refuses a user's changes to registered roots): "itool customer" on
 * SoftHSM directly, in another process, on contoso as user. @action:
 * destroy, decrypt-on, decrypt-off, count, decrypt; @target: priv:LABEL,
 * pub:LABEL or twin:LABEL (see itool.c). *@by (may be NULL) gets the count
 * or CKA_DECRYPT. Returns the backend's code, CKR_GENERAL_ERROR if the
 * helper did not run. */
CK_RV itest_customer(const struct itest *t, const char *action, const char *target,
                     CK_ULONG *by);

/* The customer destroys the private key labelled @label on contoso
 * (itest_customer; @s is not used: revoking is never done through dep11). */
CK_RV itest_destroy_private(struct itest *t, CK_SESSION_HANDLE s, const char *label);

/* Revokes as the customer does, with its own tools and not through dep11:
 * pkcs11-tool on SoftHSM ($SOFTHSM_MODULE) deletes the private key
 * labelled @label on token @token (user PIN from user.pin). 0 or -1. */
int itest_revoke_direct(const struct itest *t, const char *token, const char *label);

/* The fixture most tests share: a logged-in R/W session on "contoso" and the
 * private halves of root1 and root2. */
struct itest_fx {
    struct itest *t;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE r1, r2;
};

/* cmocka fixtures (state is a struct itest_fx *): the group ones load the
 * module; the per-test ones C_Initialize, open and log in, and C_Finalize. */
int itest_group_setup(void **state);
int itest_group_teardown(void **state);
int itest_setup(void **state);
int itest_teardown(void **state);

/* The purge refusals the two standard routes of the vendor functions share
 * (test_vendor_std, test_vendor_obj): @refuse(@fx, session, blob, want)
 * asserts that DEP11_PurgePolicy and the route under test both answer
 * @want, for: @b while its policy's customer keys still unwrap
 * (CKR_FUNCTION_REJECTED); @b with one bit flipped, and its first 7 bytes
 * (CKR_WRAPPED_KEY_INVALID); a logged-in session on fabrikam
 * (CKR_DEP11_TENANT_MISMATCH), then logged out (CKR_USER_NOT_LOGGED_IN),
 * where @logged_out (may be NULL) runs too. 0, or -1 when a set-up step
 * failed (printed). */
typedef void (*itest_refuse_fn)(struct itest_fx *fx, CK_SESSION_HANDLE s,
                                const struct itest_blob *b, CK_RV want);
typedef void (*itest_session_fn)(struct itest_fx *fx, CK_SESSION_HANDLE s);
int itest_purge_refusals(struct itest_fx *fx, const struct itest_blob *b,
                         itest_refuse_fn refuse, itest_session_fn logged_out);

/* The tenant id the tests give policies made on a token: the first 7
 * characters of its label, then "-tenant-1" (16 bytes): "contoso-tenant-1",
 * "fabrika-tenant-1". Each tenant has its own, so a check that reads the
 * wrong policy's tenant fails. */
#define ITEST_TENANT "contoso-tenant-1" /* 16 bytes: contoso's */
CK_RV itest_tenant_id(struct itest *t, CK_SESSION_HANDLE s, CK_BYTE out[16]);

#endif
