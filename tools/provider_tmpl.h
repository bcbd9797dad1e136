/*
 * provider_tmpl.h - the templates of dep11's provider keys, written down
 * once: `dep11-tool provider init` (tools/provider.c) creates the keys with
 * them, and so does the integration tests' helper (tests/integration/itool.c)
 * where dep11-tool is not built. Labels: include/dep11-provider.h (the module
 * finds the keys by them). Every key is a private token object, sensitive,
 * never extractable, with every usage attribute explicit and never
 * CKA_DERIVE (SoftHSM defaults unset usage attributes to TRUE).
 */
#ifndef DEP11_TOOL_PROVIDER_TMPL_H
#define DEP11_TOOL_PROVIDER_TMPL_H

#include <string.h>
#include <p11-kit/pkcs11.h>

#include "dep11-provider.h"

enum { K_ROOT1, K_ROOT2, K_MAC, K_SIGN, K_COUNT };

/* The provider keys: label, what they are (for messages), the class of the
 * key (the private half of a pair) and whether a public half goes with it. */
static const struct pkey {
    const char *label;
    const char *what;
    CK_OBJECT_CLASS cls;
    int pair;
} pkeys[K_COUNT] = {
    { DEP11_PROVIDER_LABEL_ROOT1, "provider root 1 (RSA)", CKO_PRIVATE_KEY, 1 },
    { DEP11_PROVIDER_LABEL_ROOT2, "provider root 2 (RSA)", CKO_PRIVATE_KEY, 1 },
    { DEP11_PROVIDER_LABEL_MAC, "provider MAC key (HMAC-SHA256)", CKO_SECRET_KEY, 0 },
    { DEP11_PROVIDER_LABEL_SIGN, "receipt signing key (ECDSA P-256 or RSA-PSS)",
      CKO_PRIVATE_KEY, 1 },
};

static inline CK_RV provider_create_mac(CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE s,
                                       const char *label, CK_OBJECT_HANDLE *h)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_ULONG len = 32;
    CK_BBOOL tr = CK_TRUE, f = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof cls }, { CKA_KEY_TYPE, &kt, sizeof kt },
        { CKA_VALUE_LEN, &len, sizeof len }, { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_TOKEN, &tr, 1 }, { CKA_PRIVATE, &tr, 1 }, { CKA_SENSITIVE, &tr, 1 },
        { CKA_EXTRACTABLE, &f, 1 }, { CKA_SIGN, &tr, 1 }, { CKA_VERIFY, &tr, 1 },
        { CKA_ENCRYPT, &f, 1 }, { CKA_DECRYPT, &f, 1 }, { CKA_WRAP, &f, 1 },
        { CKA_UNWRAP, &f, 1 }, { CKA_DERIVE, &f, 1 },
    };
    CK_MECHANISM m = { CKM_GENERIC_SECRET_KEY_GEN, NULL, 0 };

    return fl->C_GenerateKey(s, &m, tmpl, sizeof tmpl / sizeof tmpl[0], h);
}

/* An RSA provider key pair: a root (@sign 0: the private half decrypts
 * only, the public half encrypts only) or the receipt key of a profile with
 * receipt-signature = rsa-pss (@sign 1: the private half signs only, the
 * public half verifies only). */
static inline CK_RV provider_create_rsa(CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE s,
                                        const char *label, CK_ULONG bits, int sign,
                                        CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
    CK_BYTE e[] = { 1, 0, 1 };
    CK_BBOOL tr = CK_TRUE, f = CK_FALSE, sg = sign ? CK_TRUE : CK_FALSE;
    CK_BBOOL cr = sign ? CK_FALSE : CK_TRUE;
    CK_ATTRIBUTE pt[] = {
        { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_TOKEN, &tr, 1 },
        { CKA_PRIVATE, &tr, 1 },
        { CKA_MODULUS_BITS, &bits, sizeof bits },
        { CKA_PUBLIC_EXPONENT, e, sizeof e },
        { CKA_ENCRYPT, &cr, 1 },
        { CKA_VERIFY, &sg, 1 },
        { CKA_VERIFY_RECOVER, &f, 1 },
        { CKA_WRAP, &f, 1 },
        { CKA_DERIVE, &f, 1 },
    };
    CK_ATTRIBUTE vt[] = {
        { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_TOKEN, &tr, 1 },
        { CKA_PRIVATE, &tr, 1 },
        { CKA_SENSITIVE, &tr, 1 },
        { CKA_EXTRACTABLE, &f, 1 },
        { CKA_DECRYPT, &cr, 1 },
        { CKA_SIGN, &sg, 1 },
        { CKA_SIGN_RECOVER, &f, 1 },
        { CKA_UNWRAP, &f, 1 },
        { CKA_DERIVE, &f, 1 },
    };
    CK_MECHANISM m = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };

    return fl->C_GenerateKeyPair(s, &m, pt, sizeof pt / sizeof pt[0], vt,
                                     sizeof vt / sizeof vt[0], pub, priv);
}

/* The receipt signing key: ECDSA P-256, the private half signs only. */
static inline CK_RV provider_create_sign(CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE s,
                                        const char *label, CK_OBJECT_HANDLE *pub,
                                        CK_OBJECT_HANDLE *priv)
{
    static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
    CK_BBOOL tr = CK_TRUE, f = CK_FALSE;
    CK_ATTRIBUTE pt[] = {
        { CKA_LABEL, (void *)label, strlen(label) }, { CKA_TOKEN, &tr, 1 },
        { CKA_PRIVATE, &tr, 1 }, { CKA_EC_PARAMS, (void *)p256, sizeof p256 },
        { CKA_VERIFY, &tr, 1 }, { CKA_ENCRYPT, &f, 1 }, { CKA_VERIFY_RECOVER, &f, 1 },
        { CKA_WRAP, &f, 1 }, { CKA_DERIVE, &f, 1 },
    };
    CK_ATTRIBUTE vt[] = {
        { CKA_LABEL, (void *)label, strlen(label) }, { CKA_TOKEN, &tr, 1 },
        { CKA_PRIVATE, &tr, 1 }, { CKA_SENSITIVE, &tr, 1 }, { CKA_EXTRACTABLE, &f, 1 },
        { CKA_SIGN, &tr, 1 }, { CKA_DECRYPT, &f, 1 }, { CKA_SIGN_RECOVER, &f, 1 },
        { CKA_UNWRAP, &f, 1 }, { CKA_DERIVE, &f, 1 },
    };
    CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };

    return fl->C_GenerateKeyPair(s, &m, pt, sizeof pt / sizeof pt[0], vt,
                                     sizeof vt / sizeof vt[0], pub, priv);
}

/* Creates provider key @k (K_*) on session @s of module @f: *@a the key
 * (the public half of a pair), *@b the private half of a pair (else left
 * as it is). @rsa_bits for the roots (and an RSA receipt key); @sign_rsa:
 * the receipt key is RSA (receipt-signature = rsa-pss), else ECDSA P-256.
 * Returns the module's code. */
static inline CK_RV provider_key_create_for(CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE s,
                                            size_t k, CK_ULONG rsa_bits, int sign_rsa,
                                            CK_OBJECT_HANDLE *a, CK_OBJECT_HANDLE *b)
{
    if (k == K_MAC)
        return provider_create_mac(fl, s, pkeys[k].label, a);
    if (k == K_SIGN && !sign_rsa)
        return provider_create_sign(fl, s, pkeys[k].label, a, b);
    return provider_create_rsa(fl, s, pkeys[k].label, rsa_bits, k == K_SIGN, a, b);
}

/* provider_key_create_for() with the default receipt key (ECDSA P-256). */
static inline CK_RV provider_key_create(CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE s, size_t k,
                                        CK_ULONG rsa_bits, CK_OBJECT_HANDLE *a,
                                        CK_OBJECT_HANDLE *b)
{
    return provider_key_create_for(fl, s, k, rsa_bits, 0, a, b);
}

#endif
