/*
 * receipt.c - the purge receipt's bytes (docs/RECEIPTS.md): the JSON body,
 * the signature over it made in the HSM (a DER ECDSA-Sig-Value, or an
 * RSASSA-PSS signature with receipt-signature = rsa-pss, in base64), and
 * the PEM file of the receipt signing key (the config's
 * receipt-public-key). The purge decision is purge.c's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hier/hier.h"
#include "hier/receipt.h"
#include "hsm/provider.h"
#include "util/file.h"
#include "util/hex.h"
#include "util/log.h"

_Static_assert(DEP11_EC_POINT_LEN == DEP11_P256_POINT_LEN, "the signing key is a P-256 key");
_Static_assert(DEP11_EC_SIG_LEN == DEP11_P256_SIG_LEN, "the signature is a P-256 r || s");
_Static_assert(DEP11_SIGN_MAX >= DEP11_P256_SIG_DER_MAX, "room for either signature");

#define SPKI_MAX 600 /* DER SPKI of the signing key: P-256 91, RSA-4096 about 550 */
#define PEM_MAX 1024
#define PEM_FILE_MAX 65536 /* a receipt-public-key file larger than this is not ours */
#define SPKI_B64_LEN DEP11_BASE64_LEN(SPKI_MAX)

/* The receipt signing key's DER SubjectPublicKeyInfo. */
struct spki {
    uint8_t der[SPKI_MAX];
    size_t len;
};

/* The text being built; @overflow once it no longer fits. */
struct text {
    char *s;
    size_t cap, len;
    int overflow;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n = 0;

    if (t->overflow)
        return;
    va_start(ap, fmt);
    n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= t->cap - t->len)
        t->overflow = 1;
    else
        t->len += (size_t)n;
}

static void put_hex(struct text *t, const uint8_t *v, size_t n)
{
    char hex[2 * DEP11_BLOB_KEY_ID_MAX + 1];

    for (size_t done = 0; done < n; done += DEP11_BLOB_KEY_ID_MAX) {
        size_t k = n - done < DEP11_BLOB_KEY_ID_MAX ? n - done : DEP11_BLOB_KEY_ID_MAX;
        put(t, "%s", dep11_hex_encode(v + done, k, hex));
    }
}

/* The receipt signing key's DER SPKI (P-256 or RSA, as provisioned). */
static CK_RV signing_spki(struct spki *out)
{
    struct dep11_sign_public pub;
    CK_RV rv = dep11_provider_sign_public(&pub);

    if (rv != CKR_OK)
        return rv;
    if (pub.type == CKK_RSA)
        return dep11_rsa_spki_into(pub.modulus, pub.mod_len, pub.exponent, pub.exp_len,
                                   out->der, sizeof out->der, &out->len);
    out->len = DEP11_P256_SPKI_LEN;
    return dep11_p256_spki(pub.point, out->der);
}

static const char *type_name(uint8_t t)
{
    return t == DEP11_POLICY_MAILBOX          ? "mailbox"
           : t == DEP11_POLICY_MULTI_WORKLOAD ? "multi-workload"
           : t == DEP11_POLICY_FILES          ? "files"
                                              : "unknown";
}

static void put_key(struct text *t, const struct dep11_receipt_key *k, int first)
{
    put(t, "%s{\"copy\":\"%s\",\"id_type\":\"%s\",\"identity\":\"", first ? "" : ",", k->copy,
        k->id_type);
    put_hex(t, k->cp->key_id, k->cp->key_id_len);
    put(t, "\",\"hint\":\"");
    put_hex(t, k->cp->hint, k->cp->hint_len);
    put(t, "\",\"fate\":\"%s\"}", k->fate);
}

/* Everything up to and including the ',' before "signature": the bytes
 * the signature covers (docs/RECEIPTS.md). */
static CK_RV put_body(struct text *t, const struct dep11_receipt_in *in,
                      const struct spki *spki)
{
    char b64[SPKI_B64_LEN], when[32];
    uint8_t spki_hash[DEP11_SHA256_LEN];
    struct tm tm;
    time_t now = time(NULL);
    const struct dep11_policy_header *h = in->hdr;
    CK_RV rv = dep11_sha256(spki->der, spki->len, spki_hash);

    if (rv == CKR_OK)
        rv = dep11_base64(spki->der, spki->len, b64, sizeof b64);
    if (rv != CKR_OK)
        return rv;
    if (gmtime_r(&now, &tm) == NULL ||
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return CKR_FUNCTION_FAILED;
    put(t, "{\"receipt\":\"dep11-purge\",\"receipt_version\":1,\"policy_id\":\"");
    put_hex(t, h->policy_id, sizeof h->policy_id);
    put(t, "\",\"policy_type\":\"%s\",\"tenant\":\"", type_name(h->policy_type));
    put_hex(t, h->tenant, sizeof h->tenant);
    put(t, "\",\"blob_version\":%lu,\"blob_sha256\":\"", (unsigned long)h->version);
    put_hex(t, in->blob_sha256, DEP11_SHA256_LEN);
    put(t, "\",\"time\":\"%s\",\"keys\":[", when);
    for (size_t i = 0; i < in->nkeys; i++)
        put_key(t, &in->keys[i], i == 0);
    put(t, "],\"signing_key\":{\"spki\":\"%s\",\"sha256\":\"", b64);
    put_hex(t, spki_hash, sizeof spki_hash);
    put(t, "\"},");
    return CKR_OK;
}

/* The signature over the body in @t, appended: "signature":"<base64>"}, of
 * the DER ECDSA-Sig-Value or of the RSASSA-PSS signature as it is. */
static CK_RV put_signature(struct text *t)
{
    uint8_t digest[DEP11_SHA256_LEN], sig[DEP11_SIGN_MAX], der[DEP11_P256_SIG_DER_MAX];
    char b64[DEP11_BASE64_LEN(DEP11_SIGN_MAX)];
    size_t sig_len = sizeof sig, der_len = 0;
    CK_KEY_TYPE type = CKK_EC;
    CK_RV rv = dep11_sha256((const uint8_t *)t->s, t->len, digest);

    if (rv == CKR_OK)
        rv = dep11_provider_sign(digest, &type, sig, &sig_len);
    if (rv == CKR_OK && type == CKK_EC) {
        rv = dep11_ecdsa_p256_der(sig, der, &der_len);
        if (rv == CKR_OK) {
            memcpy(sig, der, der_len);
            sig_len = der_len;
        }
    }
    if (rv == CKR_OK)
        rv = dep11_base64(sig, sig_len, b64, sizeof b64);
    if (rv == CKR_OK)
        put(t, "\"signature\":\"%s\"}", b64);
    return rv;
}

/**
 * dep11_receipt_make - see receipt.h.
 */
CK_RV dep11_receipt_make(const struct dep11_receipt_in *in, char *out, size_t cap, size_t *len)
{
    struct spki spki;
    struct text t = { .s = out, .cap = cap };
    CK_RV rv = signing_spki(&spki);

    if (rv == CKR_OK)
        rv = put_body(&t, in, &spki);
    if (rv == CKR_OK && t.overflow)
        rv = CKR_GENERAL_ERROR;
    if (rv == CKR_OK)
        rv = put_signature(&t);
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "receipt body or signature");
        return rv;
    }
    if (t.overflow) {
        rv = CKR_GENERAL_ERROR;
        LOG_FAIL(rv, "receipt longer than %zu bytes", cap - 1);
        return rv;
    }
    *len = t.len;
    return CKR_OK;
}

/* ---- the receipt-public-key file ---- */

/* What the file at @path holds: 1 the PEM of @spki, 0 something else, -1
 * absent, -2 unreadable (logged). */
static int file_holds(const char *path, const struct spki *spki)
{
    char *buf = malloc(PEM_FILE_MAX + 1);
    size_t got = 0;
    int r = buf == NULL ? -2 : dep11_file_read(path, buf, PEM_FILE_MAX, &got);

    if (r == -2 && buf != NULL)
        LOG_ERROR("receipt-public-key: cannot read %s: %s", path, strerror(errno));
    /* a NUL inside the file: not a PEM file */
    if (r == 0)
        r = strlen(buf) == got && dep11_pem_holds(buf, got, "PUBLIC KEY", spki->der, spki->len);
    free(buf);
    return r;
}

/* Creates @path holding @text, never replacing a file. *@raced: another
 * process created it first (nothing written). */
static CK_RV write_new(const char *path, const char *text, size_t n, int *raced)
{
    int r = dep11_file_create(path, text, n);

    *raced = r == 1;
    if (r < 0) {
        LOG_ERROR("receipt-public-key: cannot write %s: %s", path, strerror(errno));
        return CKR_FUNCTION_FAILED;
    }
    return CKR_OK;
}

/**
 * dep11_purge_write_public_key - the config's receipt-public-key @path and
 * the receipt signing key (DESIGN section 2, "Provisioning"): an absent file
 * is written (PEM SubjectPublicKeyInfo, mode 0644); a file holding that key
 * is left untouched; a file holding anything else is a configuration error
 * (customers pin that key) and is never overwritten. CKR_OK;
 * CKR_ARGUMENTS_BAD; CKR_FUNCTION_FAILED (another key, unreadable or
 * unwritable: one line names the file); provider backend codes.
 */
CK_RV dep11_purge_write_public_key(const char *path)
{
    struct spki spki;
    char text[PEM_MAX];
    size_t n = 0;
    int held = 0, raced = 0;
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (path == NULL || path[0] == '\0') {
        LOG_FAIL(rv, "no path");
        return rv;
    }
    rv = signing_spki(&spki);
    if (rv == CKR_OK)
        rv = dep11_pem_encode("PUBLIC KEY", spki.der, spki.len, text, sizeof text, &n);
    if (rv != CKR_OK)
        return rv;
    held = file_holds(path, &spki);
    if (held == -1) {
        rv = write_new(path, text, n, &raced);
        if (rv != CKR_OK)
            return rv;
        if (!raced) {
            LOG_INFO("receipt signing key written to %s", path);
            return CKR_OK;
        }
        held = file_holds(path, &spki); /* another process wrote it first */
    }
    if (held == 1)
        return CKR_OK;
    rv = CKR_FUNCTION_FAILED;
    if (held == 0)
        LOG_ERROR("receipt-public-key %s holds another key than the provider token's "
                  "receipt signing key: not overwritten (customers pin that key); fix "
                  "the config or the provider token",
                  path);
    return rv;
}
