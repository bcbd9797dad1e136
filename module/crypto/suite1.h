/*
 * suite1.h - the derivations of blob suite 1 (docs/FORMATS.md): each a KBKDF
 * (crypto.h) with its own label and the full context. Pure functions of
 * their inputs; outputs are secrets the caller cleanses.
 */
#ifndef DEP11_CRYPTO_SUITE1_H
#define DEP11_CRYPTO_SUITE1_H

#include <stddef.h>
#include <stdint.h>
#include <p11-kit/pkcs11.h>

#define DEP11_SUITE1 1
#define DEP11_KCV_LEN 16

#define DEP11_LABEL_KCV       "dep11 suite1 key check value"
#define DEP11_LABEL_CHILD_KEK "dep11 suite1 child wrap"
#define DEP11_LABEL_CHUNK_KEY "dep11 suite1 chunk key"

/* Key check value of a policy key: KBKDF(policy_key, LABEL_KCV, policy_id)[0..16). */
CK_RV dep11_suite1_kcv(const uint8_t policy_key[32], const uint8_t policy_id[16],
                       uint8_t kcv[DEP11_KCV_LEN]);

/* The per-blob key that wraps one child: KBKDF(policy_key, LABEL_CHILD_KEK,
 * child header bytes (the blob's authenticated header)) -> 32 bytes. */
CK_RV dep11_suite1_child_kek(const uint8_t policy_key[32], const uint8_t *header,
                             size_t header_len, uint8_t kek[32]);

/* A chunk key: KBKDF(site_key, LABEL_CHUNK_KEY, file_id || uint64be(index)) -> 32 bytes. */
CK_RV dep11_suite1_chunk_key(const uint8_t site_key[32], const uint8_t file_id[16],
                             uint64_t index, uint8_t chunk_key[32]);

/* The AAD of a chunk: file_id || uint64be(index) (24 bytes). */
#define DEP11_CHUNK_AAD_LEN 24
void dep11_suite1_chunk_aad(const uint8_t file_id[16], uint64_t index,
                            uint8_t aad[DEP11_CHUNK_AAD_LEN]);

#endif
