/*
 * root_register.c - DEP11_RegisterRoot (hier/root_reg.h): the key
 * officer's registration by SO login. dep11 logs the SO in on a session of
 * its own, finds the root's public key by identity, logs out, and records
 * (token identity, root identity) on the provider token (hsm/root_reg.h;
 * docs/SECURITY.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hier/root_reg.h"
#include "crypto/crypto.h"
#include "hsm/provider_state.h"
#include "hsm/root_reg.h"
#include "util/audit.h"
#include "util/hex.h"
#include "util/log.h"

#define PUBLIC_MAX 64 /* RSA public keys examined on a token */

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

/* Checks the arguments of a registration; CKR_OK or CKR_ARGUMENTS_BAD (a
 * malformed call: not audited, like a malformed blob). */
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
    return CKR_OK;
}

/* The SO's act: login on a session of dep11's own, the root seen (register),
 * logout, then the record written or dropped. @ident gets the token's
 * identity, *@fresh whether a register wrote a record that was not there. */
static CK_RV so_act(const struct dep11_call *c, CK_ULONG action, const uint8_t *root_id,
                    const char *hex, const uint8_t *pin, CK_ULONG pin_len,
                    uint8_t ident[DEP11_TOKEN_IDENT_LEN], int *fresh)
{
    CK_SESSION_HANDLE so = CK_INVALID_HANDLE;
    unsigned dropped = 0;
    int found = 0;
    CK_RV rv = dep11_hsm_token_ident(c->slot, ident); /* the audit line's token too */

    if (rv != CKR_OK)
        return rv;
    if (!c->cfg->profile.root_reg_so_login) {
        rv = CKR_FUNCTION_NOT_SUPPORTED;
        LOG_FAIL(rv, "the profile registers roots by trusted twin "
                     "(root-registration = trusted-twin): the SO creates the twin");
        return rv;
    }
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
    if (rv == CKR_OK && action == DEP11_ROOT_REGISTER) {
        rv = dep11_provider_rootreg_find(ident, root_id, &found);
        if (rv == CKR_OK)
            rv = dep11_provider_rootreg_write(ident, root_id);
        *fresh = rv == CKR_OK && !found;
    } else if (rv == CKR_OK) {
        rv = dep11_provider_rootreg_drop(ident, root_id, &dropped);
    }
    if (rv == CKR_OK)
        LOG_INFO("root %s %s by the SO of slot %lu", hex,
                 action == DEP11_ROOT_REGISTER ? "registered"
                 : dropped > 0                 ? "unregistered"
                                               : "was not registered",
                 (unsigned long)c->slot);
    return rv;
}

/* The audit line of a registration or unregistration (refusals included):
 * DESIGN section 5's fixed fields (no policy: policy_id, tenant "", the
 * token's serial number), then root_id (hex) and route. The log's answer. */
static CK_RV audit_act(const struct dep11_call *c, CK_ULONG action, const char *hex,
                       CK_RV result)
{
    char extra[2 * DEP11_ROOT_ID_LEN + 64], serial[DEP11_TOKEN_SERIAL_LEN + 1];
    struct dep11_audit_event e = { .event = action == DEP11_ROOT_REGISTER ? "root-register"
                                                                          : "root-unregister",
                                   .extra_json = extra,
                                   .token = serial,
                                   .result = result };

    dep11_hsm_token_serial(c->slot, serial);
    (void)snprintf(extra, sizeof extra, "\"root_id\":\"%s\",\"route\":\"%s\"", hex,
                   c->cfg->profile.root_reg_so_login ? "so-login" : "trusted-twin");
    return dep11_audit_write(&e);
}

/** See root_reg.h. */
CK_RV dep11_root_register(const struct dep11_call *c, CK_ULONG action, const uint8_t *root_id,
                          CK_ULONG id_len, const uint8_t *pin, CK_ULONG pin_len)
{
    uint8_t ident[DEP11_TOKEN_IDENT_LEN];
    char hex[2 * DEP11_ROOT_ID_LEN + 1];
    unsigned dropped = 0;
    int fresh = 0;
    CK_RV rv = check_args(c, action, root_id, id_len, pin, pin_len), arv = CKR_OK;

    if (rv != CKR_OK)
        return rv;
    dep11_hex_encode(root_id, DEP11_ROOT_ID_LEN, hex);
    rv = so_act(c, action, root_id, hex, pin, pin_len, ident, &fresh);
    arv = audit_act(c, action, hex, rv);
    if (rv == CKR_OK && arv != CKR_OK) {
        /* An act the auditor cannot see does not stand where it can be
         * undone: a new record goes again; an unregistration is done. */
        if (fresh)
            (void)dep11_provider_rootreg_drop(ident, root_id, &dropped);
        rv = CKR_FUNCTION_FAILED;
        LOG_FAIL(rv, "root %s: the audit line could not be written (%s)", hex,
                 fresh ? "registration undone" : "the records stay as they are now");
    }
    return rv;
}
