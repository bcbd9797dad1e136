/*
 * fuzz_policy_blob.c - libFuzzer harness of dep11_policy_blob_parse: any
 * input parses or is refused with CKR_WRAPPED_KEY_INVALID, never reads
 * outside the input, and whatever parses re-encodes to the same bytes and
 * parses again to the same fields.
 */
#include <stdlib.h>
#include <string.h>

#include "blob/blob.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static int within(const uint8_t *p, size_t n, const uint8_t *base, size_t len)
{
    return p >= base && n <= len && (size_t)(p - base) <= len - n;
}

/* Pointers and lengths of a parsed blob stay inside its input. */
static void check_parsed(const struct dep11_policy_blob *b, const uint8_t *data, size_t size)
{
    FUZZ_CHECK(b->ncopies >= 1 && b->ncopies <= DEP11_BLOB_MAX_COPIES);
    FUZZ_CHECK(b->header_bytes == data);
    FUZZ_CHECK(b->header_len == dep11_policy_header_len(&b->hdr));
    FUZZ_CHECK(b->mac_offset + DEP11_BLOB_MAC_LEN == size);
    FUZZ_CHECK(b->mac == data + b->mac_offset);
    FUZZ_CHECK(b->hdr.geo_len <= 16 && b->hdr.label_len <= 64 && b->hdr.version >= 1);
    for (size_t i = 0; i < b->ncopies; i++) {
        const struct dep11_wrapped_copy *c = &b->copies[i];
        FUZZ_CHECK(c->key_id_len >= 1 && c->key_id_len <= DEP11_BLOB_KEY_ID_MAX);
        FUZZ_CHECK(c->hint_len <= DEP11_BLOB_KEY_ID_MAX);
        FUZZ_CHECK(c->data_len >= 1 && c->data_len <= DEP11_BLOB_COPY_DATA_MAX);
        FUZZ_CHECK(within(c->data, c->data_len, data, b->mac_offset));
    }
}

/* Encode(parse(x)) == x, and the header alone encodes to its bytes. */
static void check_roundtrip(const struct dep11_policy_blob *b, const uint8_t *data, size_t size)
{
    uint8_t hdr[512];
    size_t hlen = 0, len = dep11_policy_blob_len(&b->hdr, b->copies, b->ncopies), olen = 0;
    uint8_t *out = malloc(len ? len : 1);
    struct dep11_policy_blob again;

    FUZZ_CHECK(out != NULL);
    FUZZ_CHECK(len == size);
    FUZZ_CHECK(dep11_policy_header_encode(&b->hdr, hdr, sizeof hdr, &hlen) == CKR_OK);
    FUZZ_CHECK(hlen == b->header_len && memcmp(hdr, data, hlen) == 0);
    FUZZ_CHECK(dep11_policy_blob_encode(&b->hdr, b->copies, b->ncopies, out, len, &olen)
               == CKR_OK);
    FUZZ_CHECK(olen == size);
    FUZZ_CHECK(memcmp(out, data, size - DEP11_BLOB_MAC_LEN) == 0);
    for (size_t i = size - DEP11_BLOB_MAC_LEN; i < size; i++)
        FUZZ_CHECK(out[i] == 0);
    /* One byte short of room must be refused, not overrun. */
    FUZZ_CHECK(dep11_policy_blob_encode(&b->hdr, b->copies, b->ncopies, out, len - 1, &olen)
               == CKR_BUFFER_TOO_SMALL);
    memcpy(out + size - DEP11_BLOB_MAC_LEN, b->mac, DEP11_BLOB_MAC_LEN);
    FUZZ_CHECK(dep11_policy_blob_parse(out, size, &again) == CKR_OK);
    FUZZ_CHECK(again.ncopies == b->ncopies && again.header_len == b->header_len);
    FUZZ_CHECK(memcmp(&again.hdr, &b->hdr, sizeof again.hdr) == 0);
    for (size_t i = 0; i < b->ncopies; i++) {
        FUZZ_CHECK(again.copies[i].data - out == b->copies[i].data - data);
        FUZZ_CHECK(again.copies[i].kind == b->copies[i].kind &&
                   again.copies[i].alg == b->copies[i].alg &&
                   again.copies[i].data_len == b->copies[i].data_len);
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dep11_policy_blob b;
    CK_RV rv = CKR_GENERAL_ERROR;

    memset(&b, 0, sizeof b);
    rv = dep11_policy_blob_parse(data, size, &b);
    if (rv != CKR_OK) {
        FUZZ_CHECK(rv == CKR_WRAPPED_KEY_INVALID);
        return 0;
    }
    check_parsed(&b, data, size);
    check_roundtrip(&b, data, size);
    return 0;
}
