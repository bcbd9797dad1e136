/*
 * root_reg.h - root registration records on the provider token (profile
 * "root-registration = so-login", docs/SECURITY.md "Root registration by SO
 * login"), and the key officer's SO login on a customer token that proves
 * a registration. A record says: the root with identity R (SHA-256 of its
 * DER SubjectPublicKeyInfo) is registered on the token with identity T
 * (provider_state.h's dep11_hsm_token_ident). It is a CKO_DATA token
 * object, CKA_PRIVATE, CKA_MODIFIABLE=FALSE, CKA_APPLICATION
 * "dep11-rootreg", CKA_LABEL "dep11-rootreg-<hex R>", CKA_VALUE T || R
 * (docs/FORMATS.md). Only dep11 logs in to the provider token, so only
 * dep11 writes one, and it writes one only after the SO's login.
 */
#ifndef DEP11_HSM_ROOT_REG_H
#define DEP11_HSM_ROOT_REG_H

#include <stddef.h>
#include <stdint.h>
#include <p11-kit/pkcs11.h>
#include "hsm/provider_state.h"

#define DEP11_ROOT_ID_LEN 32

/* Is there a record for (@ident, @root_id)? *@present = 1/0 (one search).
 * CKR_OK; CKR_ARGUMENTS_BAD; CKR_CRYPTOKI_NOT_INITIALIZED; backend codes. */
CK_RV dep11_provider_rootreg_find(const uint8_t ident[DEP11_TOKEN_IDENT_LEN],
                                  const uint8_t root_id[DEP11_ROOT_ID_LEN], int *present);

/* Writes the record for (@ident, @root_id) unless it exists (create-only).
 * Codes as above. */
CK_RV dep11_provider_rootreg_write(const uint8_t ident[DEP11_TOKEN_IDENT_LEN],
                                   const uint8_t root_id[DEP11_ROOT_ID_LEN]);

/* Destroys every record for (@ident, @root_id); *@dropped gets how many
 * (0: there was none). Codes as above. */
CK_RV dep11_provider_rootreg_drop(const uint8_t ident[DEP11_TOKEN_IDENT_LEN],
                                  const uint8_t root_id[DEP11_ROOT_ID_LEN], unsigned *dropped);

/* The public numbers of RSA key object @h (private or public) into @k
 * (modulus and exponent; a private key without CKA_PUBLIC_EXPONENT takes
 * its pair's). *@rsa = 0 when @h is no RSA key dep11 could use (gone, not
 * RSA, too large, no exponent): CKR_OK then. Backend codes when the
 * question cannot be answered. */
struct dep11_hsm_rsa;
CK_RV dep11_hsm_rsa_public_numbers(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                                   struct dep11_hsm_rsa *k, int *rsa);

/* Opens a read-write session of dep11's own on @slot (recorded: no consumer
 * can use it) and logs the SO in with @pin (@pin_len bytes). The backend's
 * C_Login code untouched on refusal (CKR_PIN_INCORRECT,
 * CKR_USER_ANOTHER_ALREADY_LOGGED_IN, CKR_SESSION_READ_ONLY_EXISTS, ...):
 * nothing stays open then. */
CK_RV dep11_hsm_so_open(CK_SLOT_ID slot, const uint8_t *pin, size_t pin_len,
                        CK_SESSION_HANDLE *out);

/* Logs the SO out and closes @s (from dep11_hsm_so_open). */
void dep11_hsm_so_close(CK_SESSION_HANDLE s);

#endif
