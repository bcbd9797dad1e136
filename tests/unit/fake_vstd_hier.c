/*
 * fake_vstd_hier.c - for unit tests that link module/core/session.c and
 * forward.c (which route the vendor functions' standard calls through
 * core/vendor_std.c) without module/hier: the three hier entry points it
 * calls (and DEP11_RegisterRoot's) answer CKR_FUNCTION_NOT_SUPPORTED. The integration test
 * test_vendor_std runs the real ones.
 */
#include "hier/cache.h"
#include "hier/hier.h"
#include "hier/root_reg.h"
#include "core/core.h"

CK_RV dep11_policy_info(const uint8_t *blob, CK_ULONG len, CK_DEP11_POLICY_INFO *info)
{
    (void)blob;
    (void)len;
    (void)info;
    return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV dep11_policy_purge(const struct dep11_call *c, const uint8_t *blob, CK_ULONG len,
                         uint8_t *out, CK_ULONG *out_len)
{
    (void)c;
    (void)blob;
    (void)len;
    (void)out;
    (void)out_len;
    return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV dep11_root_register(const struct dep11_call *c, CK_ULONG action, const uint8_t *root_id,
                          CK_ULONG id_len, const uint8_t *pin, CK_ULONG pin_len)
{
    (void)c;
    (void)action;
    (void)root_id;
    (void)id_len;
    (void)pin;
    (void)pin_len;
    return CKR_FUNCTION_NOT_SUPPORTED;
}

void dep11_cache_flush(const uint8_t *policy_id)
{
    (void)policy_id;
}

/* A test that has its own config keeps it (a strong definition wins). */
__attribute__((weak)) const struct dep11_config *dep11_core_config(void)
{
    return NULL;
}
