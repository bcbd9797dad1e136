/*
 * rsa.c - RSA root keys on a customer token, through worker sessions of
 * dep11's own (own_sessions.c): resolving a key object to its private half,
 * the registration check, listing, and RSA-OAEP decryption, retried on
 * session loss as the retry policy allows (retry.c).
 * Never reads CKA_VALUE or a private component.
 */
#include <stdlib.h>
#include <string.h>

#include "hsm/backend.h"
#include "hsm/internal.h"
#include "hsm/rsa.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/secmem.h"

/* ---- key attributes ---- */

/* Object gone (or never there) -> CKR_KEY_HANDLE_INVALID; others as is. */
static CK_RV map_handle_rv(CK_RV rv)
{
    return rv == CKR_OBJECT_HANDLE_INVALID ? CKR_KEY_HANDLE_INVALID : rv;
}

/* Reads the public numbers and flags of private key @priv into @out.
 * Attributes the key lacks stay empty / FALSE (a read of several attributes
 * answers CKR_ATTRIBUTE_TYPE_INVALID for the whole call but fills the rest). */
static CK_RV fill_private(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv,
                          struct dep11_hsm_rsa *out)
{
    CK_BBOOL sens = CK_FALSE, extr = CK_TRUE, dec = CK_FALSE;
    CK_OBJECT_CLASS cls = 0;
    CK_KEY_TYPE kt = 0;
    CK_ATTRIBUTE t[] = {
        { CKA_MODULUS, out->modulus, sizeof out->modulus },
        { CKA_PUBLIC_EXPONENT, out->exponent, sizeof out->exponent },
        { CKA_ID, out->ckaid, sizeof out->ckaid },
        { CKA_SENSITIVE, &sens, sizeof sens },
        { CKA_EXTRACTABLE, &extr, sizeof extr },
        { CKA_DECRYPT, &dec, sizeof dec },
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_KEY_TYPE, &kt, sizeof kt },
    };
    CK_RV rv = dep11_hsm_GetAttributeValue(s, priv, t, sizeof t / sizeof t[0]);

    if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID &&
        rv != CKR_ATTRIBUTE_SENSITIVE && rv != CKR_BUFFER_TOO_SMALL) {
        rv = map_handle_rv(rv);
        LOG_FAIL(rv, "attributes of private key %lu", (unsigned long)priv);
        return rv;
    }
    /* Read in the same call, so that a handle remembered from an earlier
     * search (hier/copy_open.c) is proven to name an RSA private key. */
    if (t[6].ulValueLen != sizeof cls || cls != CKO_PRIVATE_KEY ||
        t[7].ulValueLen != sizeof kt || kt != CKK_RSA) {
        rv = CKR_KEY_HANDLE_INVALID;
        LOG_FAIL(rv, "object %lu is not an RSA private key", (unsigned long)priv);
        return rv;
    }
    if (t[0].ulValueLen == CK_UNAVAILABLE_INFORMATION || t[0].ulValueLen == 0) {
        rv = CKR_KEY_SIZE_RANGE;
        LOG_FAIL(rv, "RSA modulus of key %lu unreadable or over %d bytes",
                 (unsigned long)priv, DEP11_HSM_RSA_MOD_MAX);
        return rv;
    }
    out->priv = priv;
    out->mod_len = t[0].ulValueLen;
    out->exp_len = t[1].ulValueLen == CK_UNAVAILABLE_INFORMATION ? 0 : t[1].ulValueLen;
    /* An over-long CKA_ID is dropped: it is only a hint. */
    out->ckaid_len = t[2].ulValueLen == CK_UNAVAILABLE_INFORMATION ? 0 : t[2].ulValueLen;
    out->sensitive = t[3].ulValueLen == sizeof sens ? sens : CK_FALSE;
    out->extractable = t[4].ulValueLen == sizeof extr ? extr : CK_TRUE;
    out->can_decrypt = t[5].ulValueLen == sizeof dec ? dec : CK_FALSE;
    return CKR_OK;
}

/* Empties @out for key object @h: CKR_ARGUMENTS_BAD (no @out),
 * CKR_KEY_HANDLE_INVALID (no @h) or CKR_OK. */
static CK_RV clear_out(CK_OBJECT_HANDLE h, struct dep11_hsm_rsa *out)
{
    CK_RV rv = out == NULL ? CKR_ARGUMENTS_BAD : CKR_KEY_HANDLE_INVALID;

    if (out == NULL || h == CK_INVALID_HANDLE) {
        LOG_FAIL(rv, "no key object");
        return rv;
    }
    memset(out, 0, sizeof *out);
    out->priv = CK_INVALID_HANDLE;
    return CKR_OK;
}

/* Finds the RSA private key whose CKA_MODULUS is @mod on @s's token. */
static CK_RV find_private_by_modulus(CK_SESSION_HANDLE s, const uint8_t *mod,
                                     size_t mod_len, CK_OBJECT_HANDLE *priv)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_KEY_TYPE, &kt, sizeof kt },
        { CKA_MODULUS, (void *)mod, mod_len },
    };
    CK_OBJECT_HANDLE *found = NULL;
    size_t n = 0;
    CK_RV rv = dep11_hsm_find_all(s, t, 3, &found, &n);

    if (rv != CKR_OK)
        return rv;
    if (n == 0) {
        rv = CKR_KEY_HANDLE_INVALID;
        LOG_FAIL(rv, "no RSA private key with this modulus on the token");
    } else {
        *priv = found[0];
    }
    free(found);
    return rv;
}

/**
 * See rsa.h. @s a session on the key's token; @h an RSA public or private key
 * object; @out [out] filled on CKR_OK. CKR_ARGUMENTS_BAD; CKR_KEY_HANDLE_INVALID
 * (no such object, not an RSA key, or no private half); CKR_KEY_SIZE_RANGE
 * (modulus over DEP11_HSM_RSA_MOD_MAX); backend codes.
 */
CK_RV dep11_hsm_rsa_resolve(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                            struct dep11_hsm_rsa *out)
{
    CK_OBJECT_CLASS cls = 0;
    CK_KEY_TYPE kt = 0;
    uint8_t mod[DEP11_HSM_RSA_MOD_MAX];
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_KEY_TYPE, &kt, sizeof kt },
        { CKA_MODULUS, mod, sizeof mod },
    };
    CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE;
    CK_RV rv = CKR_GENERAL_ERROR;

    rv = clear_out(h, out);
    if (rv != CKR_OK)
        return rv;
    if (dep11_hsm() == NULL)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    rv = dep11_hsm_GetAttributeValue(s, h, t, 3);
    if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_BUFFER_TOO_SMALL ||
        (rv == CKR_OK && (kt != CKK_RSA ||
                          (cls != CKO_PRIVATE_KEY && cls != CKO_PUBLIC_KEY)))) {
        rv = CKR_KEY_HANDLE_INVALID;
        LOG_FAIL(rv, "object %lu is not an RSA key (or its modulus is over %d bytes)",
                 (unsigned long)h, DEP11_HSM_RSA_MOD_MAX);
        return rv;
    }
    if (rv != CKR_OK) {
        rv = map_handle_rv(rv);
        LOG_FAIL(rv, "reading object %lu", (unsigned long)h);
        return rv;
    }
    if (cls == CKO_PRIVATE_KEY) {
        priv = h;
    } else {
        rv = find_private_by_modulus(s, mod, t[2].ulValueLen, &priv);
        if (rv != CKR_OK)
            return rv;
    }
    rv = fill_private(s, priv, out);
    if (rv == CKR_OK && out->exp_len == 0 && cls == CKO_PUBLIC_KEY) {
        /* A private key without CKA_PUBLIC_EXPONENT: take the public one's. */
        CK_ATTRIBUTE e = { CKA_PUBLIC_EXPONENT, out->exponent, sizeof out->exponent };

        if (dep11_hsm_GetAttributeValue(s, h, &e, 1) == CKR_OK)
            out->exp_len = e.ulValueLen;
    }
    if (rv == CKR_OK && out->exp_len == 0) {
        rv = CKR_KEY_HANDLE_INVALID;
        LOG_FAIL(rv, "RSA key %lu has no readable public exponent", (unsigned long)priv);
    }
    if (rv != CKR_OK) {
        memset(out, 0, sizeof *out);
        out->priv = CK_INVALID_HANDLE;
    }
    return rv;
}

/**
 * See rsa.h. @registered [out] 1 when an SO-registered (CKA_TRUSTED) RSA
 * public key with @k's modulus exists on @s's token, else 0.
 * CKR_OK; CKR_ARGUMENTS_BAD; backend codes.
 */
CK_RV dep11_hsm_rsa_registered(CK_SESSION_HANDLE s, const struct dep11_hsm_rsa *k,
                               int *registered)
{
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_BBOOL yes = CK_TRUE;
    CK_OBJECT_HANDLE *found = NULL;
    size_t n = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (k == NULL || registered == NULL || k->mod_len == 0 ||
        k->mod_len > sizeof k->modulus) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "no key to check");
        return rv;
    }
    *registered = 0;
    {
        CK_ATTRIBUTE t[] = {
            { CKA_CLASS, &cls, sizeof cls },
            { CKA_KEY_TYPE, &kt, sizeof kt },
            { CKA_MODULUS, (void *)k->modulus, k->mod_len },
            { CKA_TRUSTED, &yes, sizeof yes },
        };

        rv = dep11_hsm_find_all(s, t, 4, &found, &n);
    }
    if (rv == CKR_OK)
        *registered = n > 0;
    free(found);
    return rv;
}

/**
 * See rsa.h. @s a session on @h's token (a worker: it searches).
 * CKR_OK; CKR_ARGUMENTS_BAD; backend codes.
 */
CK_RV dep11_hsm_rsa_in_registered_root(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, int *yes)
{
    struct dep11_hsm_rsa k;
    CK_ATTRIBUTE t = { CKA_MODULUS, k.modulus, sizeof k.modulus };
    CK_RV rv = CKR_GENERAL_ERROR;

    if (yes == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL argument");
        return rv;
    }
    *yes = 0;
    if (dep11_hsm() == NULL)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    memset(&k, 0, sizeof k);
    rv = dep11_hsm_GetAttributeValue(s, h, &t, 1);
    if (rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
        rv == CKR_BUFFER_TOO_SMALL || (rv == CKR_OK && t.ulValueLen == 0))
        return CKR_OK; /* no modulus dep11 could use: no root of dep11's */
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "reading the modulus of object %lu", (unsigned long)h);
        return rv;
    }
    k.mod_len = t.ulValueLen;
    return dep11_hsm_rsa_registered(s, &k, yes);
}

/**
 * See rsa.h. @s a session on the key's token; @h [in] a handle that may
 * name an RSA private key (one remembered from an earlier search); @out
 * [out] as dep11_hsm_rsa_find lists it. CKR_KEY_HANDLE_INVALID (no such
 * object, or not an RSA private key), CKR_KEY_SIZE_RANGE, backend codes.
 */
CK_RV dep11_hsm_rsa_read(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, struct dep11_hsm_rsa *out)
{
    CK_RV rv = clear_out(h, out);

    if (rv == CKR_OK)
        rv = fill_private(s, h, out);
    if (rv != CKR_OK && out != NULL) {
        memset(out, 0, sizeof *out);
        out->priv = CK_INVALID_HANDLE;
    }
    return rv;
}

/* One search for RSA private keys (with CKA_ID = @id when @id_len > 0). */
static CK_RV list_private(CK_SESSION_HANDLE s, const uint8_t *id, size_t id_len,
                          CK_OBJECT_HANDLE **found, size_t *n)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_KEY_TYPE, &kt, sizeof kt },
        { CKA_ID, (void *)id, id_len },
    };

    return dep11_hsm_find_all(s, t, id_len > 0 ? 3 : 2, found, n);
}

/**
 * See rsa.h. @out [out] up to @cap keys (more are not listed); keys whose
 * numbers cannot be read are skipped. CKR_OK; CKR_ARGUMENTS_BAD; backend codes.
 */
CK_RV dep11_hsm_rsa_find(CK_SESSION_HANDLE s, const uint8_t *hint, size_t hint_len,
                         struct dep11_hsm_rsa *out, size_t cap, size_t *n)
{
    CK_OBJECT_HANDLE *found = NULL;
    size_t nfound = 0, i = 0, k = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (n == NULL || (out == NULL && cap > 0) || (hint == NULL && hint_len > 0)) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "bad arguments");
        return rv;
    }
    *n = 0;
    if (hint_len > 0) {
        rv = list_private(s, hint, hint_len, &found, &nfound);
        if (rv != CKR_OK)
            goto out;
    }
    if (nfound == 0) {
        rv = list_private(s, NULL, 0, &found, &nfound);
        if (rv != CKR_OK)
            goto out;
    }
    for (i = 0; i < nfound && k < cap; i++) {
        memset(&out[k], 0, sizeof out[k]);
        rv = fill_private(s, found[i], &out[k]);
        if (rv == CKR_OK)
            k++;
        else if (rv != CKR_KEY_SIZE_RANGE && rv != CKR_KEY_HANDLE_INVALID)
            goto out; /* device, session or login trouble: the caller's to classify */
    }
    *n = k;
    rv = CKR_OK;
out:
    free(found);
    return rv;
}

/* One OAEP decryption on @s into @buf (capacity @cap). */
static CK_RV decrypt_once(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv,
                          CK_RSA_PKCS_OAEP_PARAMS *p, const uint8_t *ct,
                          size_t ct_len, uint8_t *buf, CK_ULONG *len)
{
    CK_MECHANISM m = { CKM_RSA_PKCS_OAEP, p, sizeof *p };
    CK_RV rv = dep11_hsm_DecryptInit(s, &m, priv);

    if (rv != CKR_OK)
        return rv;
    return dep11_hsm_Decrypt(s, (CK_BYTE_PTR)ct, ct_len, buf, len);
}

/* After a lost session: a fresh worker on @s's slot, as the retry policy
 * allows (the profile's retries and backoff-ms). */
static CK_RV decrypt_retry(CK_SESSION_HANDLE s, CK_RV lost, CK_OBJECT_HANDLE priv,
                           CK_RSA_PKCS_OAEP_PARAMS *p, const uint8_t *ct,
                           size_t ct_len, uint8_t *buf, CK_ULONG *len)
{
    struct dep11_hsm_retry r;
    CK_SLOT_ID slot = 0;
    CK_SESSION_HANDLE w = CK_INVALID_HANDLE;
    CK_ULONG cap = *len;
    CK_RV rv = lost;

    if (dep11_hsm_own_session_slot(s, &slot) != CKR_OK)
        return lost;            /* not ours: we do not know its slot */
    dep11_hsm_retry_start_profile(&r, DEP11_HSM_RETRY_SESSION_LOST);
    while (dep11_hsm_retry_again(&r, rv)) {
        rv = dep11_hsm_worker_open(slot, &w);
        if (rv != CKR_OK)
            break;
        *len = cap;
        rv = decrypt_once(w, priv, p, ct, ct_len, buf, len);
        dep11_hsm_worker_close(w);
    }
    /* When every session of the slot was closed (C_CloseAllSessions), SoftHSM
     * also drops the token's object handles: a stale key handle then says
     * nothing about the key, so report the session loss (transient), not a
     * denial. */
    if (rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID) {
        LOG_FAIL(rv, "key handle %lu stale after session loss", (unsigned long)priv);
        rv = lost;
    }
    return rv;
}

/**
 * See rsa.h. @hash CKM_SHA_1 or CKM_SHA256 (MGF1 with the same hash, empty
 * label); @pt [out] capacity in *@pt_len, length out. The plaintext buffer is
 * cleansed on every error. CKR_ARGUMENTS_BAD; CKR_MECHANISM_PARAM_INVALID
 * (hash); CKR_BUFFER_TOO_SMALL; CKR_HOST_MEMORY; the backend's code untouched.
 */
CK_RV dep11_hsm_rsa_decrypt(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv,
                            CK_MECHANISM_TYPE hash, const uint8_t *ct,
                            size_t ct_len, uint8_t *pt, size_t *pt_len)
{
    CK_RSA_PKCS_OAEP_PARAMS p = { hash, 0, CKZ_DATA_SPECIFIED, NULL, 0 };
    uint8_t *buf = NULL;
    CK_ULONG len = ct_len;
    size_t cap = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (ct == NULL || ct_len == 0 || ct_len > DEP11_HSM_RSA_MOD_MAX ||
        pt == NULL || pt_len == NULL) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "bad arguments");
        return rv;
    }
    cap = *pt_len;
    if (hash != CKM_SHA_1 && hash != CKM_SHA256) {
        rv = CKR_MECHANISM_PARAM_INVALID;
        LOG_FAIL(rv, "OAEP hash 0x%lx", (unsigned long)hash);
        goto out;
    }
    p.mgf = hash == CKM_SHA_1 ? CKG_MGF1_SHA1 : CKG_MGF1_SHA256;
    if (dep11_hsm() == NULL) {
        rv = CKR_CRYPTOKI_NOT_INITIALIZED;
        goto out;
    }
    /* Decrypt into a buffer as long as the ciphertext (the plaintext is never
     * longer), so the HSM never answers CKR_BUFFER_TOO_SMALL and leaves an
     * operation active on the session. */
    buf = dep11_secmem_alloc(ct_len);
    if (buf == NULL) {
        rv = CKR_HOST_MEMORY;
        LOG_FAIL(rv, "plaintext buffer");
        goto out;
    }
    rv = decrypt_once(s, priv, &p, ct, ct_len, buf, &len);
    if (dep11_hsm_session_lost(rv)) {
        len = ct_len;
        rv = decrypt_retry(s, rv, priv, &p, ct, ct_len, buf, &len);
    }
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "RSA-OAEP decrypt with key %lu", (unsigned long)priv);
        goto out;
    }
    if (len > cap) {
        rv = CKR_BUFFER_TOO_SMALL;
        LOG_FAIL(rv, "plaintext %lu bytes, room for %zu", (unsigned long)len, cap);
        goto out;
    }
    memcpy(pt, buf, len);
    *pt_len = len;
out:
    dep11_secmem_free(buf, ct_len);
    if (rv != CKR_OK)
        dep11_cleanse(pt, cap);
    return rv;
}
