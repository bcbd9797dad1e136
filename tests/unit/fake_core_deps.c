/*
 * fake_core_deps.c - test doubles for what core's tables call outside core:
 * a cmocka-driven backend function list (dep11_hsm), the provider token
 * (slot 99; object 0x666 exists but is never handed out), worker sessions
 * and root lookups, and the hier
 * free functions. Linked only into core unit tests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/internal.h"
#include "fake_core_deps.h"
#include "hsm/backend.h"
#include "hsm/call.h"
#include "hsm/provider.h"
#include "hsm/rsa.h"
#include "hier/root_reg.h"

static CK_RV fake_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app,
                              CK_NOTIFY notify, CK_SESSION_HANDLE_PTR ph)
{
    *ph = mock_type(CK_SESSION_HANDLE);
    return CKR_OK;
}

static CK_RV fake_CloseSession(CK_SESSION_HANDLE h) { return CKR_OK; }

static CK_RV fake_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
    return slot < 10 ? CKR_OK : CKR_SLOT_ID_INVALID;
}

static CK_RV fake_Login(CK_SESSION_HANDLE h, CK_USER_TYPE u, CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
    return CKR_OK;
}

/* Every backend C_Logout must be expected: expect_value(fake_logout, h, ...). */
static CK_RV fake_Logout(CK_SESSION_HANDLE h)
{
    check_expected(h);
    return CKR_OK;
}

static CK_RV fake_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
    return mock_type(CK_RV);
}

/* One queued handle per call; a queued 0 means "no more". */
static CK_RV fake_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR out, CK_ULONG max,
                              CK_ULONG_PTR n)
{
    CK_OBJECT_HANDLE next = mock_type(CK_OBJECT_HANDLE);

    assert_true(max > 0);
    *n = next != 0;
    if (next != 0)
        out[0] = next;
    return CKR_OK;
}

static CK_RV fake_FindObjectsFinal(CK_SESSION_HANDLE h) { return CKR_OK; }

static CK_RV fake_DestroyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o)
{
    return mock_type(CK_RV);
}

/* FAKE_ROOT and FAKE_RSA_KEY are RSA private keys; anything else unknown. */
static CK_RV fake_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                                    CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
    if (o != FAKE_ROOT && o != FAKE_RSA_KEY)
        return CKR_OBJECT_HANDLE_INVALID;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_ULONG v = t[i].type == CKA_CLASS ? CKO_PRIVATE_KEY : CKK_RSA;
        memcpy(t[i].pValue, &v, sizeof v);
    }
    return CKR_OK;
}

CK_STATE fake_session_state = CKS_RW_USER_FUNCTIONS;

static CK_RV fake_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info)
{
    memset(info, 0, sizeof *info);
    info->state = fake_session_state;
    return CKR_OK;
}

/* Every backend C_SetAttributeValue / C_CopyObject must be queued. */
static CK_RV fake_SetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                                    CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
    return mock_type(CK_RV);
}

static CK_RV fake_CopyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t,
                             CK_ULONG n, CK_OBJECT_HANDLE_PTR out)
{
    *out = mock_type(CK_OBJECT_HANDLE);
    return CKR_OK;
}

static CK_RV fake_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
    check_expected(k);
    return CKR_OK;
}

static CK_FUNCTION_LIST fake_list = {
    .version = { 2, 40 },
    .C_OpenSession = fake_OpenSession,
    .C_CloseSession = fake_CloseSession,
    .C_GetSlotInfo = fake_GetSlotInfo,
    .C_Login = fake_Login,
    .C_Logout = fake_Logout,
    .C_FindObjectsInit = fake_FindObjectsInit,
    .C_FindObjects = fake_FindObjects,
    .C_FindObjectsFinal = fake_FindObjectsFinal,
    .C_DestroyObject = fake_DestroyObject,
    .C_GetAttributeValue = fake_GetAttributeValue,
    .C_SignInit = fake_SignInit,
    .C_GetSessionInfo = fake_GetSessionInfo,
    .C_SetAttributeValue = fake_SetAttributeValue,
    .C_CopyObject = fake_CopyObject,
};

CK_FUNCTION_LIST *dep11_hsm(void) { return &fake_list; }
/* hsm/call.c's wrappers call through the loaded backend: this fake. */
__attribute__((constructor)) static void load_fake_backend(void) { dep11_hsm_backend = &fake_list; }
CK_RV dep11_core_check_init(void) { return CKR_OK; }
/* module.c's profile "reconnect": never here */
int dep11_core_reconnect(CK_RV *rv)
{
    (void)rv;
    return 0;
}
int dep11_provider_is_slot(CK_SLOT_ID slot) { return slot == FAKE_PROVIDER_SLOT; }

void dep11_key_free(struct dep11_key *k)
{
    if (k != NULL)
        free(k->value);
    free(k);
}

void dep11_aead_free(struct dep11_aead_op *op) { free(op); }

CK_RV dep11_hsm_worker_open(CK_SLOT_ID slot, CK_SESSION_HANDLE *out)
{
    *out = 0x5000;
    return CKR_OK;
}

void dep11_hsm_worker_close(CK_SESSION_HANDLE s) { assert_int_equal(s, 0x5000); }

CK_RV dep11_hsm_rsa_resolve(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, struct dep11_hsm_rsa *out)
{
    out->priv = h;
    return CKR_OK;
}

CK_RV dep11_hsm_rsa_registered(CK_SESSION_HANDLE s, const struct dep11_hsm_rsa *k,
                               int *registered)
{
    *registered = k->priv == FAKE_ROOT;
    return CKR_OK;
}

CK_RV dep11_hsm_rsa_in_registered_root(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, int *yes)
{
    assert_int_equal(s, 0x5000); /* asked on a worker session */
    *yes = h == FAKE_ROOT;
    return CKR_OK;
}

/* hier/root_reg.h: the trusted-twin route, over the fakes above. */
CK_RV dep11_root_registered(const struct dep11_config *cfg, CK_SESSION_HANDLE w,
                            CK_SLOT_ID slot, const struct dep11_hsm_rsa *k, int *yes)
{
    (void)cfg;
    (void)slot;
    return dep11_hsm_rsa_registered(w, k, yes);
}

CK_RV dep11_root_obj_registered(const struct dep11_config *cfg, CK_SESSION_HANDLE w,
                                CK_SLOT_ID slot, CK_OBJECT_HANDLE h, int *yes)
{
    (void)cfg;
    (void)slot;
    return dep11_hsm_rsa_in_registered_root(w, h, yes);
}
