/*
 * suite1.c - the derivations of blob suite 1 (docs/FORMATS.md section 4):
 * key check value, child key-encryption key, chunk key and chunk AAD. Each
 * is one KBKDF call with its own label and its whole context.
 */
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/suite1.h"
#include "util/log.h"
#include "util/secmem.h"

/* Writes @v big-endian into 8 bytes. */
static void put_u64be(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

/**
 * dep11_suite1_kcv - key check value of a policy key:
 * KBKDF(@policy_key, DEP11_LABEL_KCV, @policy_id) -> 16 bytes (the KDF is
 * asked for exactly 16 bytes, so L = 128). @kcv [out] 16 bytes (public).
 * Returns CKR_OK, CKR_ARGUMENTS_BAD, CKR_HOST_MEMORY, CKR_FUNCTION_FAILED.
 */
CK_RV dep11_suite1_kcv(const uint8_t policy_key[32], const uint8_t policy_id[16],
                       uint8_t kcv[DEP11_KCV_LEN])
{
    if (policy_id == NULL) {
        LOG_FAIL(CKR_ARGUMENTS_BAD, "NULL policy id");
        return CKR_ARGUMENTS_BAD;
    }
    return dep11_kbkdf(policy_key, 32, DEP11_LABEL_KCV, policy_id, 16,
                       kcv, DEP11_KCV_LEN);
}

/**
 * dep11_suite1_child_kek - the key that wraps one child:
 * KBKDF(@policy_key, DEP11_LABEL_CHILD_KEK, @header) -> 32 bytes (L = 256).
 * @header [in] the child blob's encoded header (@header_len > 0);
 * @kek [out] 32 secret bytes the caller cleanses.
 * Returns CKR_OK, CKR_ARGUMENTS_BAD, CKR_HOST_MEMORY, CKR_FUNCTION_FAILED.
 */
CK_RV dep11_suite1_child_kek(const uint8_t policy_key[32], const uint8_t *header,
                             size_t header_len, uint8_t kek[32])
{
    if (header == NULL || header_len == 0) {
        LOG_FAIL(CKR_ARGUMENTS_BAD, "empty child header");
        return CKR_ARGUMENTS_BAD;
    }
    return dep11_kbkdf(policy_key, 32, DEP11_LABEL_CHILD_KEK, header, header_len,
                       kek, 32);
}

/**
 * dep11_suite1_chunk_key - the key of chunk @index of file @file_id:
 * KBKDF(@site_key, DEP11_LABEL_CHUNK_KEY, file_id || uint64be(index)) -> 32.
 * @chunk_key [out] 32 secret bytes the caller cleanses.
 * Returns CKR_OK, CKR_ARGUMENTS_BAD, CKR_HOST_MEMORY, CKR_FUNCTION_FAILED.
 */
CK_RV dep11_suite1_chunk_key(const uint8_t site_key[32], const uint8_t file_id[16],
                             uint64_t index, uint8_t chunk_key[32])
{
    uint8_t ctx[DEP11_CHUNK_AAD_LEN];

    if (file_id == NULL) {
        LOG_FAIL(CKR_ARGUMENTS_BAD, "NULL file id");
        return CKR_ARGUMENTS_BAD;
    }
    dep11_suite1_chunk_aad(file_id, index, ctx);
    return dep11_kbkdf(site_key, 32, DEP11_LABEL_CHUNK_KEY, ctx, sizeof ctx,
                       chunk_key, 32);
}

/**
 * dep11_suite1_chunk_aad - the 24-byte AAD (and KDF context) of a chunk:
 * @file_id (16) || uint64be(@index). All arguments non-NULL.
 */
void dep11_suite1_chunk_aad(const uint8_t file_id[16], uint64_t index,
                            uint8_t aad[DEP11_CHUNK_AAD_LEN])
{
    memcpy(aad, file_id, 16);
    put_u64be(aad + 16, index);
}
