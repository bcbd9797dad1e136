/*
 * root_reg.c - the registered-root question, one function for every check
 * (root_reg.h), and the key officer's registration by SO login: dep11 logs
 * the SO in on a session of its own, finds the root's public key by
 * identity, logs out, and records (token identity, root identity) on the
 * provider token (root_register.c; docs/SECURITY.md).
 */
#include "hier/root_reg.h"
#include "crypto/crypto.h"
#include "hsm/provider_state.h"
#include "hsm/root_reg.h"
#include "util/log.h"

/** See root_reg.h. */
CK_RV dep11_root_id_registered(const struct dep11_config *cfg, CK_SESSION_HANDLE w,
                               CK_SLOT_ID slot, const struct dep11_hsm_rsa *k,
                               const uint8_t id[32], int *yes)
{
    uint8_t ident[DEP11_TOKEN_IDENT_LEN];
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (cfg == NULL || k == NULL || id == NULL || yes == NULL) {
        LOG_FAIL(rv, "NULL argument");
        return rv;
    }
    *yes = 0;
    if (!cfg->profile.root_reg_so_login)
        return dep11_hsm_rsa_registered(w, k, yes);
    rv = dep11_hsm_token_ident(slot, ident);
    if (rv == CKR_OK)
        rv = dep11_provider_rootreg_find(ident, id, yes);
    return rv;
}

/** See root_reg.h. */
CK_RV dep11_root_registered(const struct dep11_config *cfg, CK_SESSION_HANDLE w,
                            CK_SLOT_ID slot, const struct dep11_hsm_rsa *k, int *yes)
{
    uint8_t id[DEP11_SHA256_LEN];
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (cfg == NULL || k == NULL || yes == NULL) {
        LOG_FAIL(rv, "NULL argument");
        return rv;
    }
    *yes = 0;
    if (!cfg->profile.root_reg_so_login)
        return dep11_hsm_rsa_registered(w, k, yes);
    if (k->exp_len == 0)
        return CKR_OK; /* no identity: not a root dep11 could use */
    rv = dep11_rsa_identity(k->modulus, k->mod_len, k->exponent, k->exp_len, id);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "identity of an RSA key");
        return rv;
    }
    return dep11_root_id_registered(cfg, w, slot, k, id, yes);
}

/** See root_reg.h. @w a worker session on @slot's token. */
CK_RV dep11_root_obj_registered(const struct dep11_config *cfg, CK_SESSION_HANDLE w,
                                CK_SLOT_ID slot, CK_OBJECT_HANDLE h, int *yes)
{
    struct dep11_hsm_rsa k;
    int rsa = 0;
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (cfg == NULL || yes == NULL) {
        LOG_FAIL(rv, "NULL argument");
        return rv;
    }
    *yes = 0;
    if (!cfg->profile.root_reg_so_login)
        return dep11_hsm_rsa_in_registered_root(w, h, yes);
    rv = dep11_hsm_rsa_public_numbers(w, h, &k, &rsa);
    if (rv != CKR_OK || !rsa)
        return rv; /* no public numbers dep11 could use: no root of dep11's */
    return dep11_root_registered(cfg, w, slot, &k, yes);
}
