/*
 * root_reg.c - the registered-root question, one function for every check
 * (root_reg.h), and the key officer's registration by SO login: dep11 logs
 * the SO in on a session of its own, finds the root's public key by
 * identity, logs out, and records (token identity, root identity) on the
 * provider token (hsm/root_reg.h; docs/SECURITY.md).
 */
#include <stdlib.h>
#include <string.h>

#include "hier/root_reg.h"
#include "crypto/crypto.h"
#include "hsm/call.h"
#include "hsm/provider_state.h"
#include "hsm/root_reg.h"
#include "util/hex.h"
#include "util/log.h"

#define PUBLIC_MAX 64 /* RSA public keys examined on a token */

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
    CK_ATTRIBUTE t[] = { { CKA_MODULUS, k.modulus, sizeof k.modulus },
                         { CKA_PUBLIC_EXPONENT, k.exponent, sizeof k.exponent } };
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (cfg == NULL || yes == NULL) {
        LOG_FAIL(rv, "NULL argument");
        return rv;
    }
    *yes = 0;
    if (!cfg->profile.root_reg_so_login)
        return dep11_hsm_rsa_in_registered_root(w, h, yes);
    memset(&k, 0, sizeof k);
    rv = dep11_hsm_GetAttributeValue(w, h, t, 2);
    if (rv == CKR_ATTRIBUTE_TYPE_INVALID && t[0].ulValueLen != CK_UNAVAILABLE_INFORMATION &&
        t[0].ulValueLen != 0) {
        /* a private key without its exponent: the resolved pair has it */
        rv = dep11_hsm_rsa_resolve(w, h, &k);
        if (rv != CKR_OK)
            return CKR_OK; /* no pair dep11 could use: not a root */
        t[0].ulValueLen = k.mod_len;
        t[1].ulValueLen = k.exp_len;
    }
    if (rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
        rv == CKR_BUFFER_TOO_SMALL || (rv == CKR_OK && t[0].ulValueLen == 0))
        return CKR_OK; /* no modulus dep11 could use: no root of dep11's */
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "reading the public numbers of object %lu", (unsigned long)h);
        return rv;
    }
    k.mod_len = t[0].ulValueLen;
    k.exp_len = t[1].ulValueLen;
    return dep11_root_registered(cfg, w, slot, &k, yes);
}

/* ---- registration by the SO ---- */

/* Is an RSA public key with identity @id visible on SO session @so? */
static CK_RV so_sees_root(CK_SESSION_HANDLE so, const uint8_t *id, int *found)
{
    struct dep11_hsm_rsa *pub = calloc(PUBLIC_MAX, sizeof *pub);
    size_t n = 0;
    CK_RV rv = pub == NULL ? CKR_HOST_MEMORY : CKR_OK;

    *found = 0;
    if (rv == CKR_OK)
        rv = dep11_hsm_rsa_public_list(so, 0, pub, PUBLIC_MAX, &n);
    for (size_t i = 0; rv == CKR_OK && i < n && !*found; i++)
        *found = dep11_rsa_has_identity(pub[i].modulus, pub[i].mod_len, pub[i].exponent,
                                        pub[i].exp_len, id, DEP11_ROOT_ID_LEN);
    free(pub);
    return rv;
}

/* Checks the arguments of a registration; CKR_OK or the code. */
static CK_RV check_args(const struct dep11_call *c, CK_ULONG action, const uint8_t *root_id,
                        CK_ULONG id_len, const uint8_t *pin, CK_ULONG pin_len)
{
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (c == NULL || c->cfg == NULL || root_id == NULL || (pin == NULL && pin_len != 0)) {
        LOG_FAIL(rv, "NULL argument");
        return rv;
    }
    if (action != DEP11_ROOT_REGISTER && action != DEP11_ROOT_UNREGISTER) {
        LOG_FAIL(rv, "action %lu is neither register (1) nor unregister (2)", action);
        return rv;
    }
    if (id_len != DEP11_ROOT_ID_LEN) {
        LOG_FAIL(rv, "a root identity is %d bytes, not %lu", DEP11_ROOT_ID_LEN, id_len);
        return rv;
    }
    if (!c->cfg->profile.root_reg_so_login) {
        rv = CKR_FUNCTION_NOT_SUPPORTED;
        LOG_FAIL(rv, "the profile registers roots by trusted twin "
                     "(root-registration = trusted-twin): the SO creates the twin");
        return rv;
    }
    return CKR_OK;
}

/** See root_reg.h. */
CK_RV dep11_root_register(const struct dep11_call *c, CK_ULONG action, const uint8_t *root_id,
                          CK_ULONG id_len, const uint8_t *pin, CK_ULONG pin_len)
{
    uint8_t ident[DEP11_TOKEN_IDENT_LEN];
    char hex[2 * DEP11_ROOT_ID_LEN + 1];
    CK_SESSION_HANDLE so = CK_INVALID_HANDLE;
    unsigned dropped = 0;
    int found = 0;
    CK_RV rv = check_args(c, action, root_id, id_len, pin, pin_len);

    if (rv != CKR_OK)
        return rv;
    dep11_hex_encode(root_id, DEP11_ROOT_ID_LEN, hex);
    rv = dep11_hsm_token_ident(c->slot, ident);
    if (rv != CKR_OK)
        return rv;
    rv = dep11_hsm_so_open(c->slot, pin, pin_len, &so);
    if (rv != CKR_OK)
        return rv; /* the SO's login is the proof: no login, no record */
    if (action == DEP11_ROOT_REGISTER)
        rv = so_sees_root(so, root_id, &found);
    dep11_hsm_so_close(so);
    if (rv == CKR_OK && action == DEP11_ROOT_REGISTER && !found) {
        rv = CKR_KEY_HANDLE_INVALID;
        LOG_FAIL(rv, "no RSA public key with identity %s on the token", hex);
        return rv;
    }
    if (rv != CKR_OK)
        return rv;
    if (action == DEP11_ROOT_REGISTER)
        rv = dep11_provider_rootreg_write(ident, root_id);
    else
        rv = dep11_provider_rootreg_drop(ident, root_id, &dropped);
    if (rv == CKR_OK)
        LOG_INFO("root %s %s by the SO of slot %lu", hex,
                 action == DEP11_ROOT_REGISTER ? "registered"
                 : dropped > 0                 ? "unregistered"
                                               : "was not registered",
                 (unsigned long)c->slot);
    return rv;
}
