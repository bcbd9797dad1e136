/*
 * blob.h - encoding and parsing of policy and child blobs (suite 1; bytes in
 * docs/FORMATS.md). Pure: no I/O, no crypto, no allocation. Parsers reject
 * every malformed, truncated, oversized or unknown input with
 * CKR_WRAPPED_KEY_INVALID and never read outside [in, in+len).
 */
#ifndef DEP11_BLOB_H
#define DEP11_BLOB_H

#include <stddef.h>
#include <stdint.h>
#include <p11-kit/pkcs11.h>

#define DEP11_BLOB_FORMAT 1
#define DEP11_BLOB_MAX_COPIES 4
#define DEP11_BLOB_KEY_ID_MAX 64   /* identity of a wrapping key */
#define DEP11_BLOB_COPY_DATA_MAX 512
#define DEP11_BLOB_MAC_LEN 32
#define DEP11_POLICY_BLOB_MAX 4096

/* Who a wrapped copy belongs to. */
enum dep11_copy_kind {
    DEP11_COPY_CUSTOMER_1 = 1,
    DEP11_COPY_CUSTOMER_2 = 2,
    DEP11_COPY_PROVIDER_1 = 3,
    DEP11_COPY_PROVIDER_2 = 4,
    DEP11_COPY_AVAILABILITY = 5,
};

/* How a copy is wrapped. */
enum dep11_copy_alg {
    DEP11_ALG_RSA_OAEP_SHA1 = 1,   /* data = RSA-OAEP(SHA-1/MGF1-SHA1) ciphertext of the policy key */
    DEP11_ALG_RSA_OAEP_SHA256 = 2, /* data = RSA-OAEP(SHA-256/MGF1-SHA256) ciphertext */
    DEP11_ALG_AES_GCM = 3,         /* data = nonce(12) || ct(32) || tag(16), AAD = header bytes */
};

struct dep11_policy_header {
    uint8_t suite;          /* 1 */
    uint8_t policy_id[16];
    uint8_t policy_type;    /* DEP11_POLICY_* */
    uint8_t tenant[16];
    uint32_t version;       /* >= 1 */
    uint8_t managed_by;     /* DEP11_MANAGED_* */
    uint8_t geo[16];
    uint8_t geo_len;        /* 0..16 */
    uint8_t label[64];
    uint8_t label_len;      /* 0..64 */
    uint8_t kcv[16];
};

struct dep11_wrapped_copy {
    uint8_t kind;                       /* enum dep11_copy_kind */
    uint8_t alg;                        /* enum dep11_copy_alg */
    uint8_t key_id[DEP11_BLOB_KEY_ID_MAX]; /* RSA: SHA-256 of SPKI (32); availability: its CKA_ID */
    uint8_t key_id_len;                 /* 1..64 */
    uint8_t hint[DEP11_BLOB_KEY_ID_MAX];   /* RSA: the root's CKA_ID as a look-up hint; may be empty */
    uint8_t hint_len;                   /* 0..64 */
    const uint8_t *data;                /* the wrapped policy key */
    uint16_t data_len;                  /* 1..512 */
};

/* A parsed policy blob. Pointers point into the parsed input. */
struct dep11_policy_blob {
    struct dep11_policy_header hdr;
    const uint8_t *header_bytes;   /* the encoded header: AAD of GCM copies */
    size_t header_len;
    struct dep11_wrapped_copy copies[DEP11_BLOB_MAX_COPIES];
    size_t ncopies;                /* 1..4 */
    const uint8_t *mac;            /* DEP11_BLOB_MAC_LEN bytes at the end */
    size_t mac_offset;             /* = length of the MAC'd span */
};

/* Encoded header length of @hdr. */
size_t dep11_policy_header_len(const struct dep11_policy_header *hdr);

/* Writes the header of @hdr to @out (capacity @cap); *@len gets its length.
 * CKR_OK, CKR_BUFFER_TOO_SMALL, CKR_ARGUMENTS_BAD (a field out of range). */
CK_RV dep11_policy_header_encode(const struct dep11_policy_header *hdr,
                                 uint8_t *out, size_t cap, size_t *len);

/* Length of the full blob (header, copies, MAC). */
size_t dep11_policy_blob_len(const struct dep11_policy_header *hdr,
                             const struct dep11_wrapped_copy *copies, size_t n);

/* Writes header and copies to @out and leaves the last DEP11_BLOB_MAC_LEN
 * bytes zero for the caller's MAC over out[0 .. *len - MAC_LEN).
 * CKR_OK, CKR_BUFFER_TOO_SMALL, CKR_ARGUMENTS_BAD. */
CK_RV dep11_policy_blob_encode(const struct dep11_policy_header *hdr,
                               const struct dep11_wrapped_copy *copies, size_t n,
                               uint8_t *out, size_t cap, size_t *len);

/* Parses @in. CKR_OK or CKR_WRAPPED_KEY_INVALID (logged: why). */
CK_RV dep11_policy_blob_parse(const uint8_t *in, size_t len,
                              struct dep11_policy_blob *out);

/* --- child blobs --------------------------------------------------------- */
#define DEP11_CHILD_HEADER_LEN 40
#define DEP11_CHILD_BLOB_LEN (DEP11_CHILD_HEADER_LEN + 12 + 32 + 16)

struct dep11_child_header {
    uint8_t suite;          /* 1 */
    uint8_t role;           /* DEP11_ROLE_MAILBOX / _WORKLOAD / _SITE */
    uint8_t policy_id[16];
    uint8_t policy_type;    /* DEP11_POLICY_* */
    uint8_t owner[16];
};

struct dep11_child_blob {
    struct dep11_child_header hdr;
    const uint8_t *header_bytes;   /* DEP11_CHILD_HEADER_LEN bytes: AAD and KEK context */
    const uint8_t *nonce;          /* 12 */
    const uint8_t *ct;             /* 32 */
    const uint8_t *tag;            /* 16 */
};

/* Writes the DEP11_CHILD_HEADER_LEN header bytes. CKR_ARGUMENTS_BAD on a bad field. */
CK_RV dep11_child_header_encode(const struct dep11_child_header *hdr,
                                uint8_t out[DEP11_CHILD_HEADER_LEN]);

/* Parses a child blob. CKR_OK or CKR_WRAPPED_KEY_INVALID. */
CK_RV dep11_child_blob_parse(const uint8_t *in, size_t len,
                             struct dep11_child_blob *out);

#endif
