/*
 * gcm_params.h - the AES-GCM parameter in the tests, defined once: the two
 * layouts of CK_GCM_PARAMS that consumers pass (PKCS#11 2.40's 40 bytes
 * without ulIvBits, 3.0's 48 bytes with it; dep11 accepts both), and the
 * usual 3.0 parameter built in one call.
 */
#ifndef DEP11_TESTS_GCM_PARAMS_H
#define DEP11_TESTS_GCM_PARAMS_H

#include <p11-kit/pkcs11.h>

/* PKCS#11 2.40's CK_GCM_PARAMS (no ulIvBits). */
struct gcm40 {
    CK_BYTE_PTR pIv;
    CK_ULONG ulIvLen;
    CK_BYTE_PTR pAAD;
    CK_ULONG ulAADLen;
    CK_ULONG ulTagBits;
};

/* PKCS#11 3.0's (with ulIvBits): p11-kit's CK_GCM_PARAMS, member by member. */
struct gcm48 {
    CK_BYTE_PTR pIv;
    CK_ULONG ulIvLen;
    CK_ULONG ulIvBits;
    CK_BYTE_PTR pAAD;
    CK_ULONG ulAADLen;
    CK_ULONG ulTagBits;
};

_Static_assert(sizeof(struct gcm40) == 5 * sizeof(CK_ULONG), "the 2.40 layout");
_Static_assert(sizeof(struct gcm48) == sizeof(CK_GCM_PARAMS), "the 3.0 layout is p11-kit's");

/* The 3.0 parameter for an @iv of @iv_len bytes (ulIvBits = 8 * @iv_len),
 * @aad (may be NULL with @aad_len 0) and a tag of @tag_bits. */
static inline CK_GCM_PARAMS gcm_params(CK_BYTE_PTR iv, CK_ULONG iv_len, CK_BYTE_PTR aad,
                                       CK_ULONG aad_len, CK_ULONG tag_bits)
{
    return (CK_GCM_PARAMS){ iv, iv_len, 8 * iv_len, aad, aad_len, tag_bits };
}

#endif
