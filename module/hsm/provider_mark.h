/*
 * provider_mark.h - the provider token's change mark: one data object whose
 * CKA_VALUE every writer of a binding, commit or tombstone record sets
 * afresh (random bytes) after writing its record. A process that
 * read the mark before it searched the records, and reads the same value
 * later, knows no record was written since its search by a writer that has
 * finished (docs/ARCHITECTURE.md, "Caches and memos"). Object: CKO_DATA,
 * token, private, modifiable, CKA_APPLICATION "dep11-state-mark", CKA_LABEL
 * 64 hex digits: a random id fixed at creation (32), then 32 each writer sets
 * afresh (the label: PKCS#11 lets C_SetAttributeValue change it on every
 * storage object, where SoftHSM refuses a data object's CKA_VALUE with
 * CKR_ATTRIBUTE_READ_ONLY; docs/FORMATS.md).
 */
#ifndef DEP11_HSM_PROVIDER_MARK_H
#define DEP11_HSM_PROVIDER_MARK_H

#include <stdint.h>
#include <p11-kit/pkcs11.h>

#define DEP11_MARK_LEN 64 /* the label: hex id (32, fixed) || 32 hex digits set afresh */

/* Reads the mark's label (DEP11_MARK_LEN bytes) into @mark (one C_GetAttributeValue by its
 * remembered handle; the first time, or when the handle is no longer the
 * mark, one search). *@have = 1 when exactly one mark existed before the
 * read; 0 when there was none (one is created: it may be used from the next
 * read on; a creation that fails is logged, not returned) or several (a
 * writer keeps one). CKR_OK; CKR_ARGUMENTS_BAD;
 * CKR_CRYPTOKI_NOT_INITIALIZED; backend codes. */
CK_RV dep11_provider_mark_read(uint8_t mark[DEP11_MARK_LEN], int *have);

/* Forgets the remembered handle (provider close, fork). No HSM call. */
void dep11_provider_mark_reset(void);

#endif
