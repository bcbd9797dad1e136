/*
 * child_blob.c - encoding of the child blob header and parsing of whole
 * suite 1 child blobs (docs/FORMATS.md section 3): a fixed 40-byte header
 * that is both the GCM AAD and the KEK derivation context, then nonce,
 * wrapped key and tag. Pure: no I/O, no crypto, no allocation.
 */
#include <string.h>

#include "blob/blob.h"
#include "blob/wire.h"
#include "dep11.h"
#include "util/log.h"

static const uint8_t child_magic[4] = { 'D', '1', '1', 'C' };

/* Field rules shared by the encoder and the parser; NULL when acceptable. */
static const char *child_fault(const struct dep11_child_header *h)
{
    if (h->suite != BLOB_SUITE1)
        return "unknown suite";
    if (h->role < DEP11_ROLE_MAILBOX || h->role > DEP11_ROLE_SITE)
        return "role is not mailbox, workload or site";
    if (h->policy_type < DEP11_POLICY_MAILBOX || h->policy_type > DEP11_POLICY_FILES)
        return "unknown policy type";
    return NULL;
}

/**
 * dep11_child_header_encode - writes the DEP11_CHILD_HEADER_LEN (40) header
 * bytes of @hdr to @out: "D11C", format, suite, role, policy id, policy type,
 * owner.
 * Returns CKR_OK, CKR_ARGUMENTS_BAD (NULL argument, suite not 1, role not
 * mailbox/workload/site, unknown policy type).
 */
CK_RV dep11_child_header_encode(const struct dep11_child_header *hdr,
                                uint8_t out[DEP11_CHILD_HEADER_LEN])
{
    CK_RV rv = CKR_GENERAL_ERROR;
    const char *why = NULL;
    struct wire_wr w = { out, DEP11_CHILD_HEADER_LEN };

    if (hdr == NULL || out == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL argument");
        goto out;
    }
    if ((why = child_fault(hdr)) != NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "child header: %s", why);
        goto out;
    }
    if (!(wr_bytes(&w, child_magic, sizeof child_magic) &&
          wr_u8(&w, DEP11_BLOB_FORMAT) && wr_u8(&w, hdr->suite) &&
          wr_u8(&w, hdr->role) && wr_bytes(&w, hdr->policy_id, 16) &&
          wr_u8(&w, hdr->policy_type) && wr_bytes(&w, hdr->owner, 16)) ||
        w.left != 0) {
        rv = CKR_GENERAL_ERROR; /* DEP11_CHILD_HEADER_LEN out of step */
        LOG_FAIL(rv, "child header layout mismatch");
        goto out;
    }
    rv = CKR_OK;
out:
    return rv;
}

static const char *read_child(struct wire_rd *r, struct dep11_child_blob *b)
{
    const uint8_t *magic = NULL;
    uint8_t format = 0;

    if (!rd_bytes(r, &magic, sizeof child_magic))
        return "truncated magic";
    if (memcmp(magic, child_magic, sizeof child_magic) != 0)
        return "not a child blob (magic)";
    if (!rd_u8(r, &format))
        return "truncated format";
    if (format != DEP11_BLOB_FORMAT)
        return "unknown format version";
    if (!rd_u8(r, &b->hdr.suite) || !rd_u8(r, &b->hdr.role) ||
        !rd_copy(r, b->hdr.policy_id, 16) || !rd_u8(r, &b->hdr.policy_type) ||
        !rd_copy(r, b->hdr.owner, 16))
        return "truncated header";
    if (!rd_bytes(r, &b->nonce, 12) || !rd_bytes(r, &b->ct, 32) ||
        !rd_bytes(r, &b->tag, 16))
        return "truncated wrapped key";
    return child_fault(&b->hdr);
}

/**
 * dep11_child_blob_parse - parses the child blob @in (@len bytes, exactly
 * DEP11_CHILD_BLOB_LEN). @out [out] its pointers point into @in; zeroed on
 * failure. Owner, policy and role are returned, not judged: the caller
 * compares them with what it expects.
 * Returns CKR_OK, CKR_ARGUMENTS_BAD (NULL pointer), CKR_WRAPPED_KEY_INVALID
 * (wrong length, magic, format, suite, role or type; logged).
 */
CK_RV dep11_child_blob_parse(const uint8_t *in, size_t len,
                             struct dep11_child_blob *out)
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
    why = read_child(&r, out);
    if (why == NULL && r.left != 0)
        why = "trailing bytes";
    if (why != NULL)
        goto out;
    out->header_bytes = in;
    rv = CKR_OK;
out:
    if (why != NULL) {
        rv = CKR_WRAPPED_KEY_INVALID;
        LOG_FAIL(rv, "child blob: %s (%zu bytes)", why, len);
        memset(out, 0, sizeof(*out));
    }
    return rv;
}
