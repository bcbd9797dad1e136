/*
 * root_reg.h - is a customer RSA key a registered root (DESIGN section 2,
 * "Registered roots")? One answer for every check, by the profile's
 * "root-registration": trusted-twin (a CKA_TRUSTED=TRUE public key with the
 * same modulus on the token, which only the SO can create) or so-login (a
 * record on the provider token for the token's identity and the root's
 * identity, written by dep11 after the token's SO logged in through it:
 * dep11_root_register; docs/SECURITY.md). The config's
 * "trusted-roots = any" is the callers' to honour.
 */
#ifndef DEP11_HIER_ROOT_REG_H
#define DEP11_HIER_ROOT_REG_H

#include <stdint.h>
#include "hier/hier.h"
#include "hsm/rsa.h"

/* Is resolved RSA key @k (modulus and exponent filled) registered on the
 * token of slot @slot? @w a session of dep11's own on that token.
 * *@yes = 1/0. CKR_OK; CKR_ARGUMENTS_BAD; backend codes. */
CK_RV dep11_root_registered(const struct dep11_config *cfg, CK_SESSION_HANDLE w,
                            CK_SLOT_ID slot, const struct dep11_hsm_rsa *k, int *yes);

/* The same for the root with identity @id (32 bytes: the SHA-256 of its DER
 * SubjectPublicKeyInfo) whose public key @k is on the token. */
CK_RV dep11_root_id_registered(const struct dep11_config *cfg, CK_SESSION_HANDLE w,
                               CK_SLOT_ID slot, const struct dep11_hsm_rsa *k,
                               const uint8_t id[32], int *yes);

/* Is object @h (an RSA private or public key, or a trusted twin) part of a
 * registered root? An object that is not an RSA key dep11 could use is not
 * (*@yes = 0, CKR_OK). Backend codes when the question cannot be answered. */
CK_RV dep11_root_obj_registered(const struct dep11_config *cfg, CK_SESSION_HANDLE w,
                                CK_SLOT_ID slot, CK_OBJECT_HANDLE h, int *yes);

/* DEP11_RegisterRoot (include/dep11.h) on the token of @c->slot: dep11
 * opens its own read-write session there and logs the SO in with @pin
 * (the backend's C_Login code on refusal: CKR_PIN_INCORRECT,
 * CKR_USER_ANOTHER_ALREADY_LOGGED_IN, CKR_SESSION_READ_ONLY_EXISTS, ...;
 * nothing recorded). @action DEP11_ROOT_REGISTER: the SO session must see
 * an RSA public key with identity @root_id (else CKR_KEY_HANDLE_INVALID),
 * then the record is written (kept if there). DEP11_ROOT_UNREGISTER: the
 * token's records of @root_id are destroyed (none: CKR_OK). Only under
 * "root-registration = so-login" (else CKR_FUNCTION_NOT_SUPPORTED).
 * CKR_ARGUMENTS_BAD (bad action, identity length, NULL); backend codes.
 * Every call with good arguments writes one audit line, "root-register" or
 * "root-unregister", with its result, refusals included; a success whose
 * line cannot be written is CKR_FUNCTION_FAILED (a new record undone). */
CK_RV dep11_root_register(const struct dep11_call *c, CK_ULONG action, const uint8_t *root_id,
                          CK_ULONG id_len, const uint8_t *pin, CK_ULONG pin_len);

#endif
