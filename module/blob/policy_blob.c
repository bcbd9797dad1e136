/*
 * policy_blob.c - encoding and parsing of suite 1 policy blobs (byte layout
 * in docs/FORMATS.md section 2). Pure: no I/O, no crypto, no allocation. The
 * encoder and the parser share one set of field rules, so whatever encodes
 * parses and whatever parses re-encodes to the same bytes.
 */
#include <string.h>

#include "blob/blob.h"
#include "blob/wire.h"
#include "dep11.h"
#include "util/log.h"

static const uint8_t policy_magic[4] = { 'D', '1', '1', 'P' };

/* magic, format, suite, type, managed_by, id, tenant, version, geo_len,
 * label_len, kcv: everything but the variable geo and label bytes. */
#define HEADER_FIXED (4 + 1 + 1 + 1 + 1 + 16 + 16 + 4 + 1 + 1 + BLOB_KCV_LEN)
/* kind, alg, key_id_len, hint_len, data_len(2): a copy without its bytes. */
#define COPY_FIXED 6
#define GEO_MAX 16
#define LABEL_MAX 64
#define GCM_COPY_LEN (12 + 32 + 16)
#define RSA_ID_LEN 32

/* Header rules; NULL when @hdr is acceptable, else why not. */
static const char *header_fault(const struct dep11_policy_header *hdr)
{
    if (hdr->suite != BLOB_SUITE1)
        return "unknown suite";
    if (hdr->policy_type < DEP11_POLICY_MAILBOX || hdr->policy_type > DEP11_POLICY_FILES)
        return "unknown policy type";
    if (hdr->managed_by < DEP11_MANAGED_PROVIDER || hdr->managed_by > DEP11_MANAGED_CUSTOMER)
        return "unknown managed-by";
    if (hdr->version == 0)
        return "version 0";
    if (hdr->geo_len > GEO_MAX)
        return "geo longer than 16";
    if (hdr->label_len > LABEL_MAX)
        return "label longer than 64";
    return NULL;
}

/* Rules of one copy; NULL when acceptable, else why not. */
static const char *copy_fault(const struct dep11_wrapped_copy *c)
{
    int root = c->kind >= DEP11_COPY_CUSTOMER_1 && c->kind <= DEP11_COPY_PROVIDER_2;

    if (c->kind < DEP11_COPY_CUSTOMER_1 || c->kind > DEP11_COPY_AVAILABILITY)
        return "unknown copy kind";
    if (c->alg < DEP11_ALG_RSA_OAEP_SHA1 || c->alg > DEP11_ALG_AES_GCM)
        return "unknown copy algorithm";
    if (c->key_id_len == 0 || c->key_id_len > DEP11_BLOB_KEY_ID_MAX)
        return "key id length out of 1..64";
    if (c->hint_len > DEP11_BLOB_KEY_ID_MAX)
        return "hint length out of 0..64";
    if (c->data_len == 0 || c->data_len > DEP11_BLOB_COPY_DATA_MAX)
        return "copy data length out of 1..512";
    /* Roots are RSA keys named by the SHA-256 of their SPKI. */
    if (root && c->alg == DEP11_ALG_AES_GCM)
        return "root copy not RSA-OAEP";
    if (root && c->key_id_len != RSA_ID_LEN)
        return "root key id is not 32 bytes";
    if (c->alg == DEP11_ALG_AES_GCM && c->data_len != GCM_COPY_LEN)
        return "GCM copy is not 60 bytes";
    return NULL;
}

/* Rules of the copy list; NULL when acceptable, else why not. */
static const char *copies_fault(const struct dep11_wrapped_copy *copies, size_t n)
{
    if (n == 0 || n > DEP11_BLOB_MAX_COPIES)
        return "copy count out of 1..4";
    for (size_t i = 0; i < n; i++) {
        const char *why = copy_fault(&copies[i]);
        if (why != NULL)
            return why;
        for (size_t j = 0; j < i; j++)
            if (copies[j].kind == copies[i].kind)
                return "two copies of one kind";
    }
    return NULL;
}

/**
 * dep11_policy_header_len - encoded length of @hdr's header (62 + geo_len +
 * label_len), or 0 for NULL. Does not validate: the encoder does.
 */
size_t dep11_policy_header_len(const struct dep11_policy_header *hdr)
{
    if (hdr == NULL)
        return 0;
    return HEADER_FIXED + (size_t)hdr->geo_len + (size_t)hdr->label_len;
}

/**
 * dep11_policy_blob_len - encoded length of a blob with header @hdr and the
 * @n copies at @copies, MAC included; 0 for NULL arguments. No validation.
 */
size_t dep11_policy_blob_len(const struct dep11_policy_header *hdr,
                             const struct dep11_wrapped_copy *copies, size_t n)
{
    size_t len = 0;

    if (hdr == NULL || (copies == NULL && n != 0) || n > DEP11_BLOB_MAX_COPIES)
        return 0;
    /* Each term is bounded by its uint8/uint16 field: no overflow possible. */
    len = dep11_policy_header_len(hdr) + 1 + DEP11_BLOB_MAC_LEN;
    for (size_t i = 0; i < n; i++)
        len += COPY_FIXED + (size_t)copies[i].key_id_len + copies[i].hint_len +
               copies[i].data_len;
    return len;
}

static int write_header(struct wire_wr *w, const struct dep11_policy_header *hdr)
{
    return wr_bytes(w, policy_magic, sizeof policy_magic) &&
           wr_u8(w, DEP11_BLOB_FORMAT) && wr_u8(w, hdr->suite) &&
           wr_u8(w, hdr->policy_type) && wr_u8(w, hdr->managed_by) &&
           wr_bytes(w, hdr->policy_id, 16) && wr_bytes(w, hdr->tenant, 16) &&
           wr_u32be(w, hdr->version) &&
           wr_u8(w, hdr->geo_len) && wr_bytes(w, hdr->geo, hdr->geo_len) &&
           wr_u8(w, hdr->label_len) && wr_bytes(w, hdr->label, hdr->label_len) &&
           wr_bytes(w, hdr->kcv, BLOB_KCV_LEN);
}

static int write_copy(struct wire_wr *w, const struct dep11_wrapped_copy *c)
{
    return wr_u8(w, c->kind) && wr_u8(w, c->alg) &&
           wr_u8(w, c->key_id_len) && wr_bytes(w, c->key_id, c->key_id_len) &&
           wr_u8(w, c->hint_len) && wr_bytes(w, c->hint, c->hint_len) &&
           wr_u16be(w, c->data_len) && wr_bytes(w, c->data, c->data_len);
}

/* Size-query protocol shared by both encoders. */
static CK_RV size_query(uint8_t *out, size_t cap, size_t need, size_t *len)
{
    *len = need;
    if (out == NULL)
        return CKR_OK;
    if (cap < need) {
        LOG_FAIL(CKR_BUFFER_TOO_SMALL, "need %zu bytes, have %zu", need, cap);
        return CKR_BUFFER_TOO_SMALL;
    }
    return CKR_OK;
}

/**
 * dep11_policy_header_encode - writes the header of @hdr (the AAD of a GCM
 * copy). @out [out] @cap bytes, or NULL to learn the length; @len [out] the
 * header length (also on CKR_BUFFER_TOO_SMALL).
 * Returns CKR_OK, CKR_BUFFER_TOO_SMALL, CKR_ARGUMENTS_BAD (NULL argument or
 * a field out of range: suite, type, managed-by, version 0, geo/label length).
 */
CK_RV dep11_policy_header_encode(const struct dep11_policy_header *hdr,
                                 uint8_t *out, size_t cap, size_t *len)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    const char *why = NULL;
    struct wire_wr w = { out, cap };

    if (hdr == NULL || len == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL argument");
        goto out;
    }
    if ((why = header_fault(hdr)) != NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "header: %s", why);
        goto out;
    }
    rv = size_query(out, cap, dep11_policy_header_len(hdr), len);
    if (rv != CKR_OK || out == NULL)
        goto out;
    rv = write_header(&w, hdr) ? CKR_OK : CKR_GENERAL_ERROR;
out:
    return rv;
}

/**
 * dep11_policy_blob_encode - writes header, copy count and the @n copies,
 * then DEP11_BLOB_MAC_LEN zero bytes where the caller puts the MAC over
 * out[0 .. *len - DEP11_BLOB_MAC_LEN). @out [out] @cap bytes, or NULL to
 * learn the length; @len [out] the blob length (also on BUFFER_TOO_SMALL).
 * Returns CKR_OK, CKR_BUFFER_TOO_SMALL, CKR_ARGUMENTS_BAD (NULL argument, a
 * field out of range, 0 or more than 4 copies, two copies of one kind).
 */
CK_RV dep11_policy_blob_encode(const struct dep11_policy_header *hdr,
                               const struct dep11_wrapped_copy *copies, size_t n,
                               uint8_t *out, size_t cap, size_t *len)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    const char *why = NULL;
    struct wire_wr w = { out, cap };
    static const uint8_t zero_mac[DEP11_BLOB_MAC_LEN];
    int ok = 1;

    if (hdr == NULL || copies == NULL || len == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL argument");
        goto out;
    }
    why = header_fault(hdr);
    if (why == NULL)
        why = copies_fault(copies, n);
    for (size_t i = 0; why == NULL && i < n; i++)
        if (copies[i].data == NULL)
            why = "copy without data";
    if (why != NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "policy blob: %s", why);
        goto out;
    }
    rv = size_query(out, cap, dep11_policy_blob_len(hdr, copies, n), len);
    if (rv != CKR_OK || out == NULL)
        goto out;
    ok = write_header(&w, hdr) && wr_u8(&w, (uint8_t)n);
    for (size_t i = 0; ok && i < n; i++)
        ok = write_copy(&w, &copies[i]);
    ok = ok && wr_bytes(&w, zero_mac, sizeof zero_mac);
    rv = ok ? CKR_OK : CKR_GENERAL_ERROR;
out:
    return rv;
}

/* Reads the header into @h; NULL on success, else why it failed. */
static const char *read_header(struct wire_rd *r, struct dep11_policy_header *h)
{
    const uint8_t *magic = NULL;
    uint8_t format = 0;

    if (!rd_bytes(r, &magic, sizeof policy_magic))
        return "truncated magic";
    if (memcmp(magic, policy_magic, sizeof policy_magic) != 0)
        return "not a policy blob (magic)";
    if (!rd_u8(r, &format))
        return "truncated format";
    if (format != DEP11_BLOB_FORMAT)
        return "unknown format version";
    if (!rd_u8(r, &h->suite) || !rd_u8(r, &h->policy_type) ||
        !rd_u8(r, &h->managed_by) || !rd_copy(r, h->policy_id, 16) ||
        !rd_copy(r, h->tenant, 16) || !rd_u32be(r, &h->version) ||
        !rd_u8(r, &h->geo_len))
        return "truncated header";
    if (h->geo_len > GEO_MAX)
        return "geo longer than 16";
    if (!rd_copy(r, h->geo, h->geo_len) || !rd_u8(r, &h->label_len))
        return "truncated geo";
    if (h->label_len > LABEL_MAX)
        return "label longer than 64";
    if (!rd_copy(r, h->label, h->label_len) || !rd_copy(r, h->kcv, BLOB_KCV_LEN))
        return "truncated label or check value";
    return header_fault(h);
}

/* Reads one copy into @c; NULL on success, else why it failed. Each length
 * is checked against its bound before the bytes it announces are read. */
static const char *read_copy(struct wire_rd *r, struct dep11_wrapped_copy *c)
{
    if (!rd_u8(r, &c->kind) || !rd_u8(r, &c->alg) || !rd_u8(r, &c->key_id_len))
        return "truncated copy";
    if (c->key_id_len == 0 || c->key_id_len > DEP11_BLOB_KEY_ID_MAX)
        return "key id length out of 1..64";
    if (!rd_copy(r, c->key_id, c->key_id_len) || !rd_u8(r, &c->hint_len))
        return "truncated key id";
    if (c->hint_len > DEP11_BLOB_KEY_ID_MAX)
        return "hint length out of 0..64";
    if (!rd_copy(r, c->hint, c->hint_len) || !rd_u16be(r, &c->data_len))
        return "truncated hint";
    if (c->data_len == 0 || c->data_len > DEP11_BLOB_COPY_DATA_MAX)
        return "copy data length out of 1..512";
    if (!rd_bytes(r, &c->data, c->data_len))
        return "truncated copy data";
    return copy_fault(c);
}

static const char *read_body(struct wire_rd *r, struct dep11_policy_blob *b)
{
    const char *why = NULL;
    uint8_t n = 0;

    if (!rd_u8(r, &n))
        return "truncated copy count";
    if (n == 0 || n > DEP11_BLOB_MAX_COPIES)
        return "copy count out of 1..4";
    for (size_t i = 0; i < n; i++) {
        why = read_copy(r, &b->copies[i]);
        if (why != NULL)
            return why;
    }
    b->ncopies = n;
    return copies_fault(b->copies, b->ncopies); /* duplicate kinds */
}

/**
 * dep11_policy_blob_parse - parses the policy blob @in (@len bytes).
 * @out [out] the fields; its pointers (header_bytes, copies[].data, mac)
 * point into @in, which must outlive it. Zeroed on failure. The MAC is not
 * verified here (that needs the HSM): the caller checks it over
 * in[0 .. mac_offset).
 * Returns CKR_OK, CKR_ARGUMENTS_BAD (NULL pointer), CKR_WRAPPED_KEY_INVALID
 * (malformed, truncated, oversized, unknown values, trailing bytes; logged).
 */
CK_RV dep11_policy_blob_parse(const uint8_t *in, size_t len,
                              struct dep11_policy_blob *out)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    const char *why = NULL;
    struct wire_rd r = { in, len };

    if (out == NULL || (in == NULL && len != 0)) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL argument");
        goto out;
    }
    memset(out, 0, sizeof(*out));
    if (len > DEP11_POLICY_BLOB_MAX) {
        why = "longer than the largest policy blob";
        goto out;
    }
    why = read_header(&r, &out->hdr);
    if (why != NULL)
        goto out;
    out->header_bytes = in;
    out->header_len = len - r.left;
    why = read_body(&r, out);
    if (why != NULL)
        goto out;
    out->mac_offset = len - r.left;
    if (r.left < DEP11_BLOB_MAC_LEN) {
        why = "truncated MAC";
        goto out;
    }
    if (r.left > DEP11_BLOB_MAC_LEN) {
        why = "trailing bytes after the MAC";
        goto out;
    }
    out->mac = r.p;
    rv = CKR_OK;
out:
    if (why != NULL) {
        rv = CKR_WRAPPED_KEY_INVALID;
        LOG_FAIL(rv, "policy blob: %s", why);
        memset(out, 0, sizeof(*out));
    }
    return rv;
}
