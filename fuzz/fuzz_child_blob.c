/*
 * fuzz_child_blob.c - libFuzzer harness of dep11_child_blob_parse: any input
 * parses or is refused with CKR_WRAPPED_KEY_INVALID; a parsed blob is exactly
 * DEP11_CHILD_BLOB_LEN bytes, its parts point into the input in order, and
 * its header re-encodes to the same bytes.
 */
#include <string.h>

#include "blob/blob.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dep11_child_blob b;
    uint8_t hdr[DEP11_CHILD_HEADER_LEN];
    CK_RV rv = CKR_GENERAL_ERROR;

    memset(&b, 0, sizeof b);
    rv = dep11_child_blob_parse(data, size, &b);
    if (rv != CKR_OK) {
        FUZZ_CHECK(rv == CKR_WRAPPED_KEY_INVALID);
        return 0;
    }
    FUZZ_CHECK(size == DEP11_CHILD_BLOB_LEN);
    FUZZ_CHECK(b.header_bytes == data);
    FUZZ_CHECK(b.nonce == data + DEP11_CHILD_HEADER_LEN);
    FUZZ_CHECK(b.ct == b.nonce + 12 && b.tag == b.ct + 32);
    FUZZ_CHECK(b.hdr.suite == 1);
    FUZZ_CHECK(dep11_child_header_encode(&b.hdr, hdr) == CKR_OK);
    FUZZ_CHECK(memcmp(hdr, data, DEP11_CHILD_HEADER_LEN) == 0);
    return 0;
}
