/*
 * slot.c - slots, tokens and mechanisms: the backend's, minus the provider
 * token (absent from lists, CKR_SLOT_ID_INVALID everywhere), plus the eight
 * dep11 mechanisms in mechanism lists and infos (DESIGN section 3).
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/mech.h"
#include "core/ops.h"
#include "hsm/backend.h"
#include "hsm/call.h"
#include "hsm/provider.h"
#include "util/log.h"

/* The dep11 mechanisms and their infos: the table of core/mech.c. */
#define N_DEP11_MECHS dep11_mechs_n

/* CKR_OK for a consumer slot; CKR_SLOT_ID_INVALID for the provider's. */
static CK_RV consumer_slot(CK_SLOT_ID slot)
{
    CK_RV rv = dep11_core_check_init();

    if (rv == CKR_OK && dep11_provider_is_slot(slot)) {
        rv = CKR_SLOT_ID_INVALID;
        LOG_FAIL(rv, "slot %lu is dep11's own", slot);
    }
    return rv;
}

/* Size-query protocol for an array of CK_ULONG-sized items. */
static CK_RV give_list(const CK_ULONG *items, CK_ULONG n, CK_ULONG *out, CK_ULONG *count)
{
    CK_RV rv = CKR_OK;

    if (out != NULL && *count < n) {
        rv = CKR_BUFFER_TOO_SMALL;
        LOG_FAIL(rv, "%lu items, room for %lu", n, *count);
    } else if (out != NULL && n > 0) {
        memcpy(out, items, n * sizeof *items);
    }
    *count = n;
    return rv;
}

/**
 * dep11_core_GetSlotList - the backend's slots without the provider slot.
 * Size-query protocol: NULL list -> count; too small -> CKR_BUFFER_TOO_SMALL
 * with the count. CKR_ARGUMENTS_BAD; CKR_HOST_MEMORY; backend codes.
 */
CK_RV dep11_core_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList,
                             CK_ULONG_PTR pulCount)
{
    CK_RV rv = dep11_core_check_init();
    CK_SLOT_ID *all = NULL;
    CK_ULONG n = 0, k = 0;

    if (rv != CKR_OK)
        return rv;
    if (pulCount == NULL) {
        LOG_FAIL(CKR_ARGUMENTS_BAD, "pulCount is NULL");
        return CKR_ARGUMENTS_BAD;
    }
    /* The list may grow between the two calls (hot plug): retry a little. */
    for (int tries = 0; tries < 4; tries++) {
        free(all);
        all = NULL;
        rv = dep11_hsm_GetSlotList(tokenPresent, NULL, &n);
        if (tries == 0 && dep11_core_reconnect(&rv))
            rv = dep11_hsm_GetSlotList(tokenPresent, NULL, &n); /* a new connection */
        if (rv != CKR_OK)
            goto out;
        all = calloc(n + 1, sizeof *all);
        if (all == NULL) {
            rv = CKR_HOST_MEMORY;
            LOG_FAIL(rv, "%lu slots", n);
            goto out;
        }
        rv = dep11_hsm_GetSlotList(tokenPresent, all, &n);
        if (rv != CKR_BUFFER_TOO_SMALL)
            break;
    }
    if (rv != CKR_OK)
        goto out;
    for (CK_ULONG i = 0; i < n; i++)
        if (!dep11_provider_is_slot(all[i]))
            all[k++] = all[i];
    rv = give_list(all, k, pSlotList, pulCount);
out:
    free(all);
    return rv;
}

/**
 * dep11_core_GetSlotInfo - forwarded; CKR_SLOT_ID_INVALID for the provider slot.
 */
CK_RV dep11_core_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
    CK_RV rv = consumer_slot(slotID);

    return rv != CKR_OK ? rv : dep11_hsm_GetSlotInfo(slotID, pInfo);
}

/**
 * dep11_core_GetTokenInfo - forwarded; CKR_SLOT_ID_INVALID for the provider slot.
 */
CK_RV dep11_core_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
    CK_RV rv = consumer_slot(slotID);

    return rv != CKR_OK ? rv : dep11_hsm_GetTokenInfo(slotID, pInfo);
}

/**
 * dep11_core_GetMechanismList - the backend's mechanisms followed by the
 * dep11 ones. Size-query protocol as for slots. CKR_SLOT_ID_INVALID;
 * CKR_ARGUMENTS_BAD; CKR_HOST_MEMORY; backend codes.
 */
CK_RV dep11_core_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pList,
                                  CK_ULONG_PTR pulCount)
{
    CK_RV rv = consumer_slot(slotID);
    CK_MECHANISM_TYPE *all = NULL;
    CK_ULONG n = 0;

    if (rv != CKR_OK)
        return rv;
    if (pulCount == NULL) {
        LOG_FAIL(CKR_ARGUMENTS_BAD, "pulCount is NULL");
        return CKR_ARGUMENTS_BAD;
    }
    rv = dep11_hsm_GetMechanismList(slotID, NULL, &n);
    if (rv != CKR_OK)
        goto out;
    if (n > (CK_ULONG)-1 / sizeof *all - N_DEP11_MECHS) {
        rv = CKR_GENERAL_ERROR;
        LOG_FAIL(rv, "backend claims %lu mechanisms", n);
        goto out;
    }
    all = calloc(n + N_DEP11_MECHS, sizeof *all);
    if (all == NULL) {
        rv = CKR_HOST_MEMORY;
        LOG_FAIL(rv, "%lu mechanisms", n);
        goto out;
    }
    rv = dep11_hsm_GetMechanismList(slotID, all, &n);
    if (rv != CKR_OK)
        goto out;
    for (size_t i = 0; i < N_DEP11_MECHS; i++)
        all[n++] = dep11_mechs[i].type;
    rv = give_list(all, n, pList, pulCount);
out:
    free(all);
    return rv;
}

/**
 * dep11_core_GetMechanismInfo - the dep11 mechanisms per DESIGN section 3
 * (after the backend confirms the slot has a token); others forwarded.
 * CKR_SLOT_ID_INVALID; CKR_ARGUMENTS_BAD; backend codes.
 */
CK_RV dep11_core_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type,
                                  CK_MECHANISM_INFO_PTR pInfo)
{
    CK_RV rv = consumer_slot(slotID);
    const struct dep11_mech *mech = NULL;
    CK_ULONG n = 0;

    if (rv != CKR_OK)
        return rv;
    mech = dep11_mech_find(type);
    if (mech == NULL)
        return dep11_hsm_GetMechanismInfo(slotID, type, pInfo);
    if (pInfo == NULL) {
        LOG_FAIL(CKR_ARGUMENTS_BAD, "pInfo is NULL");
        return CKR_ARGUMENTS_BAD;
    }
    rv = dep11_hsm_GetMechanismList(slotID, NULL, &n);
    if (rv == CKR_OK)
        *pInfo = mech->info;
    return rv;
}

/**
 * dep11_core_InitToken - forwarded (the PIN is never logged);
 * CKR_SLOT_ID_INVALID for the provider slot; CKR_ARGUMENTS_BAD for the
 * provider token's label (32 bytes, blank padded, compared without trailing
 * blanks: DESIGN section 2, a second token with that label would make the
 * provider-token setting ambiguous). A NULL @pLabel goes to the backend.
 */
CK_RV dep11_core_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
                           CK_UTF8CHAR_PTR pLabel)
{
    CK_RV rv = consumer_slot(slotID);

    if (rv == CKR_OK && pLabel != NULL && dep11_provider_is_label(pLabel)) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_ERROR("C_InitToken on slot %lu with the provider token's label refused",
                  (unsigned long)slotID);
    }
    return rv != CKR_OK ? rv : dep11_hsm_InitToken(slotID, pPin, ulPinLen, pLabel);
}

/**
 * dep11_core_WaitForSlotEvent - forwarded; an event on the provider slot is
 * skipped (the wait goes on, or CKR_NO_EVENT under CKF_DONT_BLOCK once the
 * backend has nothing else). CKR_ARGUMENTS_BAD (NULL pSlot, non-NULL
 * pReserved); backend codes.
 */
CK_RV dep11_core_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved)
{
    CK_RV rv = dep11_core_check_init();
    CK_SLOT_ID slot = 0;

    if (rv != CKR_OK)
        return rv;
    if (pSlot == NULL || pReserved != NULL) {
        LOG_FAIL(CKR_ARGUMENTS_BAD, "pSlot NULL or pReserved set");
        return CKR_ARGUMENTS_BAD;
    }
    do {
        rv = dep11_hsm_WaitForSlotEvent(flags, &slot, NULL);
    } while (rv == CKR_OK && dep11_provider_is_slot(slot) &&
             (rv = dep11_core_check_init()) == CKR_OK);
    if (rv == CKR_OK)
        *pSlot = slot;
    return rv;
}
