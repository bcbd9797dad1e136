/*
 * vendor_obj.h - the vendor functions through request objects (issue 14
 * item 5; include/dep11.h CKO_DEP11_REQUEST; docs/ARCHITECTURE.md "Vendor
 * functions through request objects"): C_CreateObject with CKA_CLASS =
 * CKO_DEP11_REQUEST runs a route operation of vendor_std.c (the same code,
 * checks, audit and codes) and keeps its output in a session object that
 * C_GetAttributeValue reads and C_DestroyObject frees. For consumers that
 * carry no dep11 mechanism (p11-kit 0.24's remoting).
 *
 * object.c asks here first; each function returns 1 when the call was a
 * request's (its result in *@rv) and 0 when it is not.
 */
#ifndef DEP11_CORE_VENDOR_OBJ_H
#define DEP11_CORE_VENDOR_OBJ_H

#include <stdint.h>
#include "core/core.h"

/* C_CreateObject: ours when the template's CKA_CLASS is CKO_DEP11_REQUEST. */
int dep11_vobj_create(CK_SESSION_HANDLE hs, const CK_ATTRIBUTE *t, CK_ULONG n,
                      CK_OBJECT_HANDLE_PTR out, CK_RV *rv);

/* C_GetAttributeValue on request @h (standard semantics, attr.c's order
 * of codes). */
int dep11_vobj_get(CK_SESSION_HANDLE hs, CK_OBJECT_HANDLE h, CK_ATTRIBUTE *t, CK_ULONG n,
                   CK_RV *rv);

/* C_DestroyObject of request @h. */
int dep11_vobj_destroy(CK_SESSION_HANDLE hs, CK_OBJECT_HANDLE h, CK_RV *rv);

/* C_GetObjectSize (@size_call 1: *@size = the output's length) and
 * C_SetAttributeValue / C_CopyObject (@size_call 0: CKR_ACTION_PROHIBITED). */
int dep11_vobj_other(CK_SESSION_HANDLE hs, CK_OBJECT_HANDLE h, int size_call, CK_ULONG_PTR size,
                     CK_RV *rv);

/* The requests session @serial made (its close); all of them without
 * giving their handles back (C_Finalize: object.c drops the handles). */
void dep11_vobj_drop_session(uint64_t serial);
void dep11_vobj_fini(void);
void dep11_vobj_fork_lock(void);
void dep11_vobj_fork_unlock(void);

#endif
