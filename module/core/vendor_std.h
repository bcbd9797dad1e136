/*
 * vendor_std.h - the vendor functions through standard calls (issue 14
 * item 5; docs/ARCHITECTURE.md "Vendor functions through standard calls"):
 * CKM_DEP11_POLICY_INFO and CKM_DEP11_FLUSH_CACHE through C_DigestInit /
 * C_Digest (or C_DigestUpdate / C_DigestFinal), CKM_DEP11_POLICY_PURGE
 * through C_SignInit(CK_INVALID_HANDLE) / C_Sign (or C_SignUpdate /
 * C_SignFinal). NULL mechanism parameters, every input as data, so that a
 * consumer that has only the 2.40 function list (p11-kit's proxy) reaches
 * them. The work is hier's (policy_info.c, purge.c, cache.c): these calls
 * give the same answers and codes as DEP11_GetPolicyInfo,
 * DEP11_PurgePolicy and DEP11_FlushCache.
 *
 * forward.c asks here first; each function returns 1 when the call was
 * dep11's (its result in *@rv) and 0 when it goes to the backend.
 */
#ifndef DEP11_CORE_VENDOR_STD_H
#define DEP11_CORE_VENDOR_STD_H

#include "core/core.h"

/* The operation families the standard route uses. */
enum dep11_vstd_family {
    DEP11_VSTD_DIGEST = 0,
    DEP11_VSTD_SIGN = 1,
};

struct dep11_vstd_op;

/* Frees a session's vendor op (NULL is fine). */
void dep11_vstd_free(struct dep11_vstd_op *op);

/* C_DigestInit / C_SignInit. Ours: a dep11 mechanism (a wrong family is
 * CKR_MECHANISM_INVALID), or any mechanism while a vendor op of @family
 * runs on @s (CKR_OPERATION_ACTIVE), or a NULL @m while one runs (it ends
 * that op, as PKCS#11 3.0 says). @key: CK_INVALID_HANDLE for digest. */
int dep11_vstd_init(struct dep11_session *s, enum dep11_vstd_family family,
                    const CK_MECHANISM *m, CK_OBJECT_HANDLE key, CK_RV *rv);

/* C_Digest / C_Sign (@final = 0, input @in) or C_DigestFinal / C_SignFinal
 * (@final = 1, the input the updates gathered) on a vendor op of @family:
 * the size-query protocol of PKCS#11 (NULL @out, or CKR_BUFFER_TOO_SMALL,
 * keeps the op; anything else ends it). */
int dep11_vstd_step(struct dep11_session *s, enum dep11_vstd_family family, int final,
                    const CK_BYTE *in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len,
                    CK_RV *rv);

/* C_DigestUpdate / C_SignUpdate on a vendor op of @family: gathers input. */
int dep11_vstd_update(struct dep11_session *s, enum dep11_vstd_family family,
                      const CK_BYTE *part, CK_ULONG len, CK_RV *rv);

/* The operations of the route (CKM_DEP11_*): copies at most @max into
 * @out (may be NULL) and returns how many there are. */
size_t dep11_vstd_ops(CK_MECHANISM_TYPE *out, size_t max);

/* Runs operation @m (one of dep11_vstd_ops) once on @s, as the single-part
 * call of its route would: input @in/@len (no data: @len 0), the size-query
 * protocol on @out/@out_len. The same checks and codes as the route (a
 * purge needs the user logged in); an @m not on the route:
 * CKR_ATTRIBUTE_VALUE_INVALID (the object route, vendor_obj.c, uses it). */
CK_RV dep11_vstd_run(struct dep11_session *s, CK_MECHANISM_TYPE m, const CK_BYTE *in,
                     CK_ULONG len, CK_BYTE_PTR out, CK_ULONG_PTR out_len);

#endif
