/*
 * receipt_verify.c - "dep11-tool receipt verify": checks a purge receipt
 * (docs/RECEIPTS.md) against the pinned receipt key offline, without
 * loading a module; an independent cross-check of
 * scripts/dep11-receipt-verify.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "json_scan.h"
#include "tool.h"

#define MARKER ",\"signature\":\""

enum { OPT_KEY = 1000 };

/* Canonical standard base64 (padding, no stray bits): *@out malloc'd. */
static int strict_b64(const char *s, size_t n, unsigned char **out,
                      size_t *olen)
{
    unsigned char *raw = NULL, *re = NULL;
    size_t i = 0, pad = 0;
    int r = -1;

    if (n % 4 != 0)
        return -1;
    for (i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '/' ||
              (s[i] == '=' && i >= n - 2)))
            return -1;
    if (n >= 1 && s[n - 1] == '=')
        pad++;
    if (n >= 2 && s[n - 2] == '=') {
        if (s[n - 1] != '=')
            return -1;
        pad++;
    }
    raw = malloc(n / 4 * 3 + 1);
    re = malloc(n + 1);
    if (raw == NULL || re == NULL)
        goto out;
    if (EVP_DecodeBlock(raw, (const unsigned char *)s, (int)n) < 0)
        goto out;
    *olen = n / 4 * 3 - pad;
    if (EVP_EncodeBlock(re, raw, (int)*olen) != (int)n || memcmp(re, s, n))
        goto out;
    *out = raw;
    raw = NULL;
    r = 0;
out:
    free(raw);
    free(re);
    return r;
}

/* An ECDSA P-256 / SHA-256 signature: a canonical DER ECDSA-Sig-Value. */
static const char *verify_ecdsa(const unsigned char *der, size_t dlen, const unsigned char *d,
                                size_t n, EVP_PKEY *pin)
{
    const unsigned char *q = der;
    unsigned char *re = NULL;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &q, (long)dlen);
    EVP_MD_CTX *md = NULL;
    const char *why = "signature is not a DER ECDSA-Sig-Value";
    int rl = 0;

    if (sig == NULL || q != der + dlen)
        goto out;
    why = "signature DER is not canonical";
    rl = i2d_ECDSA_SIG(sig, &re);
    if (rl != (int)dlen || memcmp(re, der, dlen))
        goto out;
    why = "signature does not verify with the pinned key";
    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pin) != 1 ||
        EVP_DigestVerify(md, der, dlen, d, n) != 1)
        goto out;
    why = NULL;
out:
    EVP_MD_CTX_free(md);
    OPENSSL_free(re);
    ECDSA_SIG_free(sig);
    return why;
}

/* An RSASSA-PSS signature (SHA-256, MGF1-SHA256, salt 32) as long as the
 * modulus: receipts of a profile with receipt-signature = rsa-pss. */
static const char *verify_pss(const unsigned char *sig, size_t slen, const unsigned char *d,
                              size_t n, EVP_PKEY *pin)
{
    EVP_MD_CTX *md = NULL;
    EVP_PKEY_CTX *pc = NULL;
    const char *why = "RSA-PSS signature is not as long as the modulus";

    if (EVP_PKEY_get_size(pin) <= 0 || slen != (size_t)EVP_PKEY_get_size(pin))
        return why;
    why = "signature does not verify with the pinned key";
    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestVerifyInit(md, &pc, EVP_sha256(), NULL, pin) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256()) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 32) != 1 ||
        EVP_DigestVerify(md, sig, slen, d, n) != 1)
        goto out;
    why = NULL;
out:
    EVP_MD_CTX_free(md);
    return why;
}

/* Checks the signature over everything before "signature", by the pinned
 * key's type (P-256: ECDSA; RSA: RSA-PSS). NULL or why. */
static const char *check_signature(const unsigned char *d, size_t len,
                                   EVP_PKEY *pin)
{
    const size_t ml = sizeof MARKER - 1;
    unsigned char *der = NULL;
    size_t cut = 0, dlen = 0, i = 0;
    const char *why = "no signature member at the end";
    int found = 0;

    for (i = len >= ml ? len - ml + 1 : 0; i-- > 0;)
        if (!memcmp(d + i, MARKER, ml)) {
            cut = i, found = 1;
            break;
        }
    if (!found || len < 2 || memcmp(d + len - 2, "\"}", 2) ||
        cut + ml > len - 2)
        return why;
    why = "bad base64";
    if (strict_b64((const char *)d + cut + ml, len - 2 - cut - ml, &der, &dlen))
        goto out;
    why = EVP_PKEY_is_a(pin, "RSA") ? verify_pss(der, dlen, d, cut + 1, pin)
                                    : verify_ecdsa(der, dlen, d, cut + 1, pin);
out:
    free(der);
    return why;
}

/* A strict scanner of the canonical receipt: literal text and values. */
static int lit(struct tool_cursor *c, const char *s)
{
    size_t n = strlen(s);

    if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n))
        return -1;
    c->p += n;
    return 0;
}

/* A string of printable ASCII without escapes: [*@s, *@s + *@n). */
static int rstr(struct tool_cursor *c, const char **s, size_t *n)
{
    if (lit(c, "\"") != 0)
        return -1;
    *s = c->p;
    while (c->p < c->end && *c->p != '"') {
        if ((unsigned char)*c->p < 0x20 || (unsigned char)*c->p >= 0x7f ||
            *c->p == '\\')
            return -1;
        c->p++;
    }
    *n = (size_t)(c->p - *s);
    return lit(c, "\"");
}

static int rnum(struct tool_cursor *c, long long *v)
{
    int digits = 0;

    *v = 0;
    if (c->p < c->end && *c->p == '0')
        return c->p++, 0;
    while (c->p < c->end && isdigit((unsigned char)*c->p) && digits < 18)
        *v = *v * 10 + (*c->p++ - '0'), digits++;
    return digits > 0 && !(c->p < c->end && isdigit((unsigned char)*c->p)) ? 0 : -1;
}

static int eq(const char *s, size_t n, const char *want)
{
    return n == strlen(want) && !memcmp(s, want, n);
}

static int hexn(const char *s, size_t n, size_t want)
{
    return (want == 0 || n == want) && n % 2 == 0 && tool_is_lhex(s, n);
}

/* One member of "keys". NULL or why. */
static const char *check_key(struct tool_cursor *c)
{
    const char *cp, *it, *id, *hi, *fa;
    size_t cn, itn, idn, hin, fan;
    int ok = 0;

    if (lit(c, "{\"copy\":") || rstr(c, &cp, &cn) ||
        lit(c, ",\"id_type\":") || rstr(c, &it, &itn) ||
        lit(c, ",\"identity\":") || rstr(c, &id, &idn) ||
        lit(c, ",\"hint\":") || rstr(c, &hi, &hin) ||
        lit(c, ",\"fate\":") || rstr(c, &fa, &fan) || lit(c, "}"))
        return "a key entry is not canonical or its members are not "
               "copy,id_type,identity,hint,fate";
    ok = ((eq(cp, cn, "customer-1") || eq(cp, cn, "customer-2")) &&
          eq(it, itn, "spki-sha256")) ||
         (eq(cp, cn, "availability") && eq(it, itn, "cka-id"));
    if (!ok || !(eq(fa, fan, "revoked-by-customer") ||
                 eq(fa, fan, "decrypt-disabled-by-customer") ||
                 eq(fa, fan, "invalid-copy") || eq(fa, fan, "destroyed")))
        return "bad key entry";
    if (idn == 0 || !hexn(id, idn, 0) || !hexn(hi, hin, 0))
        return "bad key identity";
    return NULL;
}

/* The members of a receipt: what is printed on success (pid, ptype, time,
 * bver, keys) and what is only checked. Pointers into the document. */
struct receipt {
    const char *pid, *ptype, *time, *keys;
    size_t pidn, ptypen, timen, keysn;
    long long bver;
    const char *tag, *tenant, *bsha, *spki, *ksha;
    size_t tagn, tenantn, bshan, spkin, kshan;
    long long rver;
};

/* Scans the canonical document into @r: the documented members in their
 * order, nothing else. NULL or why not. */
static const char *scan_receipt(const unsigned char *d, size_t len,
                                struct receipt *r)
{
    static const char bad[] = "not canonical, or the members of the "
                              "receipt are not as documented";
    struct tool_cursor c = {(const char *)d, (const char *)d + len};
    const char *sig = NULL, *why = NULL;
    size_t sign = 0;

    if (lit(&c, "{\"receipt\":") || rstr(&c, &r->tag, &r->tagn) ||
        lit(&c, ",\"receipt_version\":") || rnum(&c, &r->rver) ||
        lit(&c, ",\"policy_id\":") || rstr(&c, &r->pid, &r->pidn) ||
        lit(&c, ",\"policy_type\":") || rstr(&c, &r->ptype, &r->ptypen) ||
        lit(&c, ",\"tenant\":") || rstr(&c, &r->tenant, &r->tenantn) ||
        lit(&c, ",\"blob_version\":") || rnum(&c, &r->bver) ||
        lit(&c, ",\"blob_sha256\":") || rstr(&c, &r->bsha, &r->bshan) ||
        lit(&c, ",\"time\":") || rstr(&c, &r->time, &r->timen) ||
        lit(&c, ",\"keys\":["))
        return bad;
    r->keys = c.p;
    do {
        if ((why = check_key(&c)) != NULL)
            return why;
    } while (lit(&c, ",") == 0);
    r->keysn = (size_t)(c.p - r->keys);
    if (lit(&c, "],\"signing_key\":{\"spki\":") ||
        rstr(&c, &r->spki, &r->spkin) ||
        lit(&c, ",\"sha256\":") || rstr(&c, &r->ksha, &r->kshan) ||
        lit(&c, "},\"signature\":") || rstr(&c, &sig, &sign) ||
        lit(&c, "}") || c.p != c.end)
        return bad;
    return NULL;
}

/* The values of the scanned members. NULL or why one is bad. */
static const char *check_values(const struct receipt *r)
{
    if (!eq(r->tag, r->tagn, "dep11-purge") || r->rver != 1)
        return "not a dep11 purge receipt of version 1";
    if (!hexn(r->pid, r->pidn, 32) || !hexn(r->tenant, r->tenantn, 32) ||
        !hexn(r->bsha, r->bshan, 64))
        return "bad policy id, tenant or blob digest";
    if (!eq(r->ptype, r->ptypen, "mailbox") &&
        !eq(r->ptype, r->ptypen, "multi-workload") &&
        !eq(r->ptype, r->ptypen, "files"))
        return "unknown policy type";
    if (!tool_is_rfc3339(r->time, r->timen))
        return "bad time";
    if (r->bver < 1)
        return "bad blob version";
    return NULL;
}

/* The signing_key member names @pin: its DER and its SHA-256. NULL or why
 * not. */
static const char *check_signing_key(const struct receipt *r, EVP_PKEY *pin)
{
    unsigned char *raw = NULL, *want = NULL;
    const char *why = NULL;
    size_t rawn = 0;
    char hex[65];
    int wl = 0;

    if (strict_b64(r->spki, r->spkin, &raw, &rawn) != 0)
        return "bad base64";
    wl = i2d_PUBKEY(pin, &want);
    if (wl <= 0 || (size_t)wl != rawn || memcmp(want, raw, rawn))
        why = "the receipt names another signing key than the pinned one";
    else {
        tool_sha256_hex(raw, rawn, hex);
        if (!eq(r->ksha, r->kshan, hex))
            why = "signing key digest does not match";
    }
    OPENSSL_free(want);
    free(raw);
    return why;
}

/* The document: canonical, fixed members, names the pinned key. */
static const char *check_document(const unsigned char *d, size_t len,
                                  EVP_PKEY *pin, struct receipt *r)
{
    const char *why = scan_receipt(d, len, r);

    if (why == NULL)
        why = check_values(r);
    if (why == NULL)
        why = check_signing_key(r, pin);
    return why;
}

/* Loads the pinned PEM: a SubjectPublicKeyInfo of a P-256 key, or of an
 * RSA key of 2048 bits or more (receipt-signature = rsa-pss). */
static int load_key(struct tool *t, const char *path, EVP_PKEY **out)
{
    BIO *b = BIO_new_file(path, "rb");
    EVP_PKEY *k = NULL;
    char group[64];
    size_t gl = 0;

    if (b == NULL)
        return tool_error(t, TOOL_EXIT_USAGE, "%s: cannot open", path);
    k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    BIO_free(b);
    if (k != NULL && EVP_PKEY_is_a(k, "RSA") && EVP_PKEY_get_bits(k) >= 2048) {
        *out = k;
        return 0;
    }
    if (k == NULL || !EVP_PKEY_is_a(k, "EC") ||
        EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof group, &gl) != 1 ||
        strcmp(group, "prime256v1") != 0) {
        EVP_PKEY_free(k);
        return tool_error(t, TOOL_EXIT_USAGE,
                          "%s: not a PEM P-256 or RSA (2048 bits "
                          "or more) public key",
                          path);
    }
    *out = k;
    return 0;
}

struct receipt_opts {
    const char *key;
};

static int receipt_opt(struct tool *t, int c, const char *arg, void *ctx)
{
    (void)t;
    if (c == OPT_KEY)
        ((struct receipt_opts *)ctx)->key = arg;
    return 0;
}

/* Prints the verdict of a receipt; returns the exit code. */
static int receipt_report(struct tool *t, const char *why,
                          const struct receipt *r)
{
    if (why != NULL) {
        fprintf(stderr, "INVALID: %s\n", why);
        if (t->opt.json) {
            printf("{\"ok\":false,\"exit\":1,\"message\":");
            tool_json_str(stdout, why);
            printf("}\n");
        }
        return TOOL_EXIT_FAIL;
    }
    if (t->opt.json) {
        printf("{\"ok\":true,\"policy_id\":\"%.*s\",\"policy_type\":\"%.*s\","
               "\"blob_version\":%lld,\"time\":\"%.*s\",\"keys\":[%.*s]}\n",
               (int)r->pidn, r->pid, (int)r->ptypen, r->ptype, r->bver,
               (int)r->timen, r->time, (int)r->keysn, r->keys);
        return TOOL_EXIT_OK;
    }
    printf("VALID: policy %.*s (%.*s, blob version %lld) purged at %.*s\n",
           (int)r->pidn, r->pid, (int)r->ptypen, r->ptype, r->bver,
           (int)r->timen, r->time);
    return TOOL_EXIT_OK;
}

static int receipt_verify(struct tool *t, int argc, char **argv)
{
    static const struct option lo[] = {
        {"key", 1, NULL, OPT_KEY}, TOOL_COMMON_LONGOPTS, {NULL, 0, NULL, 0},
    };
    struct receipt_opts o = {NULL};
    struct receipt r;
    unsigned char *data = NULL;
    size_t len = 0;
    EVP_PKEY *pin = NULL;
    const char *why = NULL;
    int rc = 0, first = 0;

    memset(&r, 0, sizeof r);
    rc = tool_parse(t, &tool_cmd_receipt_verify, argc, argv, lo, receipt_opt,
                    &o, &first);
    if (rc != 0)
        return rc < 0 ? TOOL_EXIT_OK : rc;
    if (first != argc - 1 || o.key == NULL)
        return tool_error(t, TOOL_EXIT_USAGE,
                          "give --key PEM and one receipt (see --help)");
    rc = load_key(t, o.key, &pin);
    if (rc != 0)
        return rc;
    rc = tool_read_all(t, argv[first], TOOL_BLOB_MAX, &data, &len);
    if (rc == 0) {
        why = check_signature(data, len, pin);
        if (why == NULL)
            why = check_document(data, len, pin, &r);
        rc = receipt_report(t, why, &r);
    }
    free(data);
    EVP_PKEY_free(pin);
    return rc;
}

const struct tool_cmd tool_cmd_receipt_verify = {
    "receipt",
    "verify",
    receipt_verify,
    "check a purge receipt against the pinned receipt key (no module needed)",
    "Usage: dep11-tool receipt verify FILE --key PEM\n\n"
    "Checks a dep11 destruction receipt (docs/RECEIPTS.md) with the pinned\n"
    "receipt public key alone: the document is canonical with the documented\n"
    "members; its signing_key is the pinned key (DER and SHA-256); the\n"
    "signature covers every byte up to and including the ',' before\n"
    "\"signature\": with a P-256 key, base64 of a canonical DER\n"
    "ECDSA-Sig-Value (ECDSA/SHA-256); with an RSA key (a profile with\n"
    "receipt-signature = rsa-pss), base64 of an RSASSA-PSS signature\n"
    "(SHA-256, MGF1-SHA256, salt 32). --key is the PEM PUBLIC KEY the\n"
    "customer pinned. Exit 0: valid; 1: invalid (the reason on stderr);\n"
    "2: usage error, unreadable file, or a key that is neither.",
};
