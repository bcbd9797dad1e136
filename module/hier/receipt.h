/*
 * receipt.h - the purge receipt's bytes (docs/RECEIPTS.md): its JSON, its
 * signature by the provider token's receipt signing key, and the PEM file
 * of that key. purge.c decides; this file encodes. Internal to module/hier.
 */
#ifndef DEP11_HIER_RECEIPT_H
#define DEP11_HIER_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#include "blob/blob.h"
#include "crypto/crypto.h"

/* One entry of the receipt's "keys". */
struct dep11_receipt_key {
    const char *copy;    /* "customer-1", "customer-2", "availability" */
    const char *id_type; /* "spki-sha256", "cka-id" */
    const struct dep11_wrapped_copy *cp;
    const char *fate; /* "revoked-by-customer", ..., "destroyed" */
};

/* What a receipt states. */
struct dep11_receipt_in {
    const struct dep11_policy_header *hdr;
    const uint8_t *blob_sha256; /* DEP11_SHA256_LEN bytes */
    const struct dep11_receipt_key *keys;
    size_t nkeys;
};

/* The signed receipt of @in into @out (@cap bytes); *@len gets its length
 * (no NUL counted). CKR_OK; CKR_GENERAL_ERROR (longer than @cap - 1);
 * CKR_FUNCTION_FAILED (clock); provider backend codes (signing). */
CK_RV dep11_receipt_make(const struct dep11_receipt_in *in, char *out, size_t cap, size_t *len);

#endif
