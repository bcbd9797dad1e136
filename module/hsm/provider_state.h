/*
 * provider_state.h - small records kept on the provider token for a 16-byte
 * tag (hier uses the policy id): one "binding" record (the identity of a
 * token and a 16-byte owner id, written once) and "commit" records (a
 * 64-bit number and a 32-byte digest each; the state's number is their
 * maximum, so it only rises, without a read-modify-write between
 * processes, and its digest is the one record of that number that every
 * process picks: the smallest). Also the identity
 * of a consumer token (C_GetTokenInfo), cached per slot for audit lines.
 * Records are CKO_DATA token objects, CKA_PRIVATE, CKA_MODIFIABLE=FALSE,
 * CKA_APPLICATION "dep11-state-<hex tag>", CKA_LABEL "dep11-bind-<hex tag>"
 * or "dep11-commit-<hex tag>" (docs/FORMATS.md). One search finds both.
 */
#ifndef DEP11_HSM_PROVIDER_STATE_H
#define DEP11_HSM_PROVIDER_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <p11-kit/pkcs11.h>

/* A token's identity, 64 bytes, by the profile's token-identity:
 * serial (default): manufacturerID(32) || model(16) || serialNumber(16) of
 * CK_TOKEN_INFO; serial-label: label(32) || SHA-256(manufacturerID ||
 * model || serialNumber) (docs/FORMATS.md section on binding records). */
#define DEP11_TOKEN_IDENT_LEN 64
#define DEP11_TOKEN_SERIAL_LEN 16
/* A commit record's value: number (8, big endian) || digest (32) */
#define DEP11_COMMIT_DIGEST_LEN 32
/* A binding record's value: token identity || owner id (16) */
#define DEP11_BINDING_LEN (DEP11_TOKEN_IDENT_LEN + 16)

/* The identity of the token in @slot (one C_GetTokenInfo); remembered per
 * slot for dep11_hsm_token_serial. The first time an identity is seen in a
 * slot, every other visible token is compared with it: a token with the same
 * identity is CKR_TOKEN_NOT_RECOGNIZED (one log line naming both labels).
 * CKR_OK; CKR_ARGUMENTS_BAD; CKR_HOST_MEMORY; backend codes. */
CK_RV dep11_hsm_token_ident(CK_SLOT_ID slot, uint8_t ident[DEP11_TOKEN_IDENT_LEN]);

/* The serial number of the token last identified in @slot, blanks trimmed,
 * into @out (17 bytes); "" when never identified. No HSM call. */
void dep11_hsm_token_serial(CK_SLOT_ID slot, char out[DEP11_TOKEN_SERIAL_LEN + 1]);

/* The records of one tag. */
struct dep11_tag_state {
    int bound;                              /* a binding record exists */
    uint8_t binding[DEP11_BINDING_LEN];     /* the one every process picks */
    uint64_t number;                        /* max over commit records; 0 = none */
    uint8_t digest[DEP11_COMMIT_DIGEST_LEN]; /* of that record (smallest if several) */
};

/* One search: the binding (smallest value, should two have raced) and the
 * committed number of @tag. CKR_OK; CKR_ARGUMENTS_BAD; CKR_HOST_MEMORY;
 * CKR_CRYPTOKI_NOT_INITIALIZED; backend codes. */
CK_RV dep11_provider_state_get(const uint8_t tag[16], struct dep11_tag_state *st);

/* Writes the binding @binding for @tag unless one exists; @st gets the
 * records afterwards (st->binding is the binding in force, which may be
 * another process's). Codes as above. */
CK_RV dep11_provider_state_bind(const uint8_t tag[16], const uint8_t binding[DEP11_BINDING_LEN],
                                struct dep11_tag_state *st);

/* Records @number with @digest for @tag (create-only), then drops records
 * below it. CKR_OK when (@number, @digest) is the state afterwards (also
 * when it was already); CKR_FUNCTION_REJECTED when a higher number, or
 * the same number with another digest, is in force (another process
 * committed first: the caller withholds what it was about to give).
 * Codes as above. */
CK_RV dep11_provider_state_commit(const uint8_t tag[16], uint64_t number,
                                  const uint8_t digest[DEP11_COMMIT_DIGEST_LEN]);

#endif
