/*
 * fuzz_mechanisms.c - libFuzzer harness of the vendor mechanisms through the
 * module's C_ entry points, over a SoftHSM world made by
 * tests/integration/setup-tokens.sh (env: SOFTHSM2_CONF, DEP11_CONF,
 * ITEST_WORLD). Input: op selector, flags, parameter length and bytes, data.
 * Each op feeds fuzzed parameters, blobs or ciphertext to C_UnwrapKey,
 * C_Decrypt*, C_WrapKey, C_DeriveKey or C_Encrypt; nothing may crash, an
 * operation never stays active, and every object created is destroyed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dep11.h"
#include "fuzz/fuzz.h"

enum { OP_POLICY_UNWRAP, OP_CHILD_UNWRAP, OP_AEAD_DECRYPT, OP_CHUNK_DECRYPT,
       OP_GCM_DECRYPT, OP_POLICY_WRAP, OP_CHILD_WRAP, OP_CHUNK_DERIVE,
       OP_AEAD_ROUNDTRIP, OP_COUNT };

#define F_NULL_PARAM 0x01   /* no parameter at all */
#define F_RAW_PARAM  0x02   /* the parameter bytes as given, any length */
#define F_PATCH      0x04   /* data patches a valid blob or ciphertext */
#define F_WRONG_KEY  0x08   /* a key of the wrong role or kind */
#define F_MULTIPART  0x10   /* C_DecryptUpdate in two parts + Final */
#define F_SHORT_GCM  0x20   /* CK_GCM_PARAMS without ulIvBits (40 bytes) */

/* The world one process sets up once. */
static struct world {
    CK_FUNCTION_LIST_PTR f;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE r1, r2, pub1, policy, mailbox, site, aes;
    CK_BYTE owner[16];
    CK_BYTE *policy_blob, *child_blob, *aead_ct;
    CK_ULONG policy_blob_len, child_blob_len, aead_ct_len;
} W;

/* The parts of one input. */
struct input {
    unsigned op, flags;
    uint8_t *param;     /* exact-size heap copy (NULL when plen is 0) */
    size_t plen;
    uint8_t *data;      /* exact-size heap copy */
    size_t dlen;
};

static void __attribute__((noreturn)) die(const char *what, CK_RV rv)
{
    fprintf(stderr, "fuzz_mechanisms: %s: 0x%lx\n", what, (unsigned long)rv);
    exit(1);
}

/* --- the world --------------------------------------------------------- */

static CK_SLOT_ID slot_of(const char *label)
{
    CK_SLOT_ID slots[32];
    CK_ULONG n = 32;
    CK_TOKEN_INFO ti;
    size_t len = strlen(label);

    if (W.f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
        die("C_GetSlotList", 0);
    for (CK_ULONG i = 0; i < n; i++) {
        if (W.f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
            memcmp(ti.label, label, len) == 0 && ti.label[len] == ' ')
            return slots[i];
    }
    die("no token labelled contoso", 0);
}

static CK_OBJECT_HANDLE find(CK_OBJECT_CLASS cls, const char *label)
{
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls },
                         { CKA_LABEL, (void *)label, strlen(label) },
                         { CKA_TRUSTED, &no, sizeof no } };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG n = 0;
    CK_RV rv = W.f->C_FindObjectsInit(W.s, t, cls == CKO_PUBLIC_KEY ? 3 : 2);

    if (rv == CKR_OK)
        rv = W.f->C_FindObjects(W.s, &h, 1, &n);
    W.f->C_FindObjectsFinal(W.s);
    if (rv != CKR_OK || n != 1)
        die(label, rv);
    return h;
}

static CK_OBJECT_HANDLE keygen(CK_ULONG role, CK_ULONG ptype)
{
    CK_MECHANISM m = { CKM_DEP11_KEY_GEN, NULL, 0 };
    CK_ATTRIBUTE t[] = { { CKA_DEP11_ROLE, &role, sizeof role },
                         { CKA_DEP11_POLICY_TYPE, &ptype, sizeof ptype },
                         { CKA_DEP11_TENANT, (void *)"fuzz-tenant-0001", 16 } };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = W.f->C_GenerateKey(W.s, &m, t, role == DEP11_ROLE_POLICY ? 3 : 1, &h);

    if (rv != CKR_OK)
        die("C_GenerateKey", rv);
    return h;
}

/* C_WrapKey with the size query; the blob is malloc'ed. */
static CK_RV wrap(CK_MECHANISM *m, CK_OBJECT_HANDLE wk, CK_OBJECT_HANDLE k,
                  CK_BYTE **out, CK_ULONG *len)
{
    CK_RV rv = W.f->C_WrapKey(W.s, m, wk, k, NULL, len);

    *out = NULL;
    if (rv != CKR_OK)
        return rv;
    FUZZ_CHECK(*len > 0 && *len <= 65536);
    *out = malloc(*len);
    FUZZ_CHECK(*out != NULL);
    rv = W.f->C_WrapKey(W.s, m, wk, k, *out, len);
    if (rv != CKR_OK) {
        free(*out);
        *out = NULL;
    }
    return rv;
}

static void make_blobs(void)
{
    CK_DEP11_POLICY_WRAP_PARAMS pw = { W.r2, 0 };
    CK_MECHANISM m = { CKM_DEP11_POLICY_WRAP, &pw, sizeof pw };
    CK_DEP11_CHILD_PARAMS cp;
    CK_MECHANISM cm = { CKM_DEP11_CHILD_WRAP, &cp, sizeof cp };
    CK_DEP11_AEAD_PARAMS ap = { (CK_BYTE_PTR)"fuzz", 4 };
    CK_MECHANISM am = { CKM_DEP11_AEAD, &ap, sizeof ap };
    static const CK_BYTE msg[] = "dep11 fuzz plaintext";
    CK_RV rv;

    rv = wrap(&m, W.r1, W.policy, &W.policy_blob, &W.policy_blob_len);
    if (rv != CKR_OK)
        die("policy wrap", rv);
    memcpy(W.owner, "fuzz-owner-00001", 16);
    memcpy(cp.ownerId, W.owner, 16);
    rv = wrap(&cm, W.policy, W.mailbox, &W.child_blob, &W.child_blob_len);
    if (rv != CKR_OK)
        die("child wrap", rv);
    W.aead_ct_len = sizeof msg + DEP11_AEAD_OVERHEAD;
    W.aead_ct = malloc(W.aead_ct_len);
    if (W.aead_ct == NULL || (rv = W.f->C_EncryptInit(W.s, &am, W.mailbox)) != CKR_OK ||
        (rv = W.f->C_Encrypt(W.s, (CK_BYTE_PTR)msg, sizeof msg, W.aead_ct,
                             &W.aead_ct_len)) != CKR_OK)
        die("AEAD seal", rv);
}

static void make_backend_aes(void)
{
    CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_ULONG len = 32;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE t[] = { { CKA_VALUE_LEN, &len, sizeof len },
                         { CKA_TOKEN, &no, sizeof no },
                         { CKA_ENCRYPT, &yes, sizeof yes },
                         { CKA_DECRYPT, &yes, sizeof yes } };
    CK_RV rv = W.f->C_GenerateKey(W.s, &m, t, 4, &W.aes);

    if (rv != CKR_OK)
        die("backend AES key", rv);
}

static void world_close(void)
{
    free(W.policy_blob);
    free(W.child_blob);
    free(W.aead_ct);
    W.f->C_CloseSession(W.s);
    W.f->C_Finalize(NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[4096], pin[64] = "1234";
    const char *world = getenv("ITEST_WORLD");
    FILE *fp = NULL;
    CK_RV rv;

    (void)argc;
    (void)argv;
    if (world == NULL || getenv("DEP11_CONF") == NULL || getenv("SOFTHSM2_CONF") == NULL) {
        fprintf(stderr, "fuzz_mechanisms: set ITEST_WORLD, DEP11_CONF and SOFTHSM2_CONF "
                        "(a world from tests/integration/setup-tokens.sh; scripts/fuzz "
                        "does this)\n");
        exit(1);
    }
    snprintf(path, sizeof path, "%s/user.pin", world);
    if ((fp = fopen(path, "r")) != NULL) {
        if (fgets(pin, sizeof pin, fp) != NULL)
            pin[strcspn(pin, "\r\n")] = '\0';
        fclose(fp);
    }
    if ((rv = C_GetFunctionList(&W.f)) != CKR_OK || (rv = W.f->C_Initialize(NULL)) != CKR_OK)
        die("C_Initialize", rv);
    rv = W.f->C_OpenSession(slot_of("contoso"), CKF_SERIAL_SESSION | CKF_RW_SESSION,
                            NULL, NULL, &W.s);
    if (rv != CKR_OK || (rv = W.f->C_Login(W.s, CKU_USER, (CK_UTF8CHAR_PTR)pin,
                                           strlen(pin))) != CKR_OK)
        die("session and login", rv);
    W.r1 = find(CKO_PRIVATE_KEY, "root1");
    W.r2 = find(CKO_PRIVATE_KEY, "root2");
    W.pub1 = find(CKO_PUBLIC_KEY, "root1");
    W.policy = keygen(DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX);
    W.mailbox = keygen(DEP11_ROLE_MAILBOX, 0);
    W.site = keygen(DEP11_ROLE_SITE, 0);
    make_blobs();
    make_backend_aes();
    atexit(world_close);
    return 0;
}

/* --- helpers of the ops ------------------------------------------------- */

/* A mechanism whose parameter (no pointers inside) is the input's bytes:
 * NULL, raw at any length, or exactly @size bytes (zero padded). */
static void plain_param(CK_MECHANISM *m, const struct input *in, void *buf, size_t size)
{
    if (in->flags & F_NULL_PARAM) {
        m->pParameter = NULL;
        m->ulParameterLen = in->plen;   /* NULL with a length must be refused */
    } else if (in->flags & F_RAW_PARAM) {
        m->pParameter = in->param;
        m->ulParameterLen = in->plen;
    } else {
        memset(buf, 0, size);
        if (in->plen > 0)
            memcpy(buf, in->param, in->plen < size ? in->plen : size);
        m->pParameter = buf;
        m->ulParameterLen = size;
    }
}

/* @base with the input's data applied as (offset16, xor) patches; a malloc'ed
 * copy, the same length. */
static CK_BYTE *patched(const CK_BYTE *base, CK_ULONG len, const struct input *in)
{
    CK_BYTE *p = malloc(len);

    FUZZ_CHECK(p != NULL);
    memcpy(p, base, len);
    for (size_t i = 0; i + 3 <= in->dlen && len > 0; i += 3)
        p[((size_t)in->data[i] << 8 | in->data[i + 1]) % len] ^= in->data[i + 2];
    return p;
}

static void destroy(CK_RV rv, CK_OBJECT_HANDLE h)
{
    if (rv == CKR_OK)
        FUZZ_CHECK(W.f->C_DestroyObject(W.s, h) == CKR_OK);
    else
        FUZZ_CHECK(h == CK_INVALID_HANDLE || h == 0);
}

/* Decrypts @ct with an initialized op; one-shot (with the size query) or
 * two updates and a final. The op must end in every case. */
static CK_RV decrypt(const struct input *in, CK_BYTE *ct, CK_ULONG len)
{
    CK_ULONG cap = len + 64, out_len = cap, got = 0, half = len / 2;
    CK_BYTE *out = malloc(cap);
    CK_RV rv;

    FUZZ_CHECK(out != NULL);
    if (!(in->flags & F_MULTIPART)) {
        CK_ULONG need = 0;
        rv = W.f->C_Decrypt(W.s, ct, len, NULL, &need);
        if (rv == CKR_OK) {
            FUZZ_CHECK(need <= cap);
            rv = W.f->C_Decrypt(W.s, ct, len, out, &out_len);
            FUZZ_CHECK(rv != CKR_OK || out_len <= need);
        }
    } else {
        rv = W.f->C_DecryptUpdate(W.s, ct, half, out, &out_len);
        got = rv == CKR_OK ? out_len : 0;
        out_len = cap - got;
        if (rv == CKR_OK)
            rv = W.f->C_DecryptUpdate(W.s, ct + half, len - half, out + got, &out_len);
        got += rv == CKR_OK ? out_len : 0;
        out_len = cap - got;
        if (rv == CKR_OK)
            rv = W.f->C_DecryptFinal(W.s, out + got, &out_len);
    }
    FUZZ_CHECK(rv != CKR_BUFFER_TOO_SMALL);
    free(out);
    return rv;
}

/* --- the ops -------------------------------------------------------------- */

static void op_policy_unwrap(const struct input *in)
{
    CK_DEP11_POLICY_UNWRAP_PARAMS p;
    CK_MECHANISM m = { CKM_DEP11_POLICY_UNWRAP, NULL, 0 };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_BYTE *blob = (in->flags & F_PATCH) ? patched(W.policy_blob, W.policy_blob_len, in)
                                          : NULL;
    CK_RV rv;

    plain_param(&m, in, &p, sizeof p);
    rv = W.f->C_UnwrapKey(W.s, &m, (in->flags & F_WRONG_KEY) ? W.policy : CK_INVALID_HANDLE,
                          blob ? blob : in->data, blob ? W.policy_blob_len : in->dlen,
                          NULL, 0, &h);
    destroy(rv, h);
    free(blob);
}

static void op_child_unwrap(const struct input *in)
{
    CK_DEP11_CHILD_PARAMS p;
    CK_MECHANISM m = { CKM_DEP11_CHILD_UNWRAP, NULL, 0 };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_BYTE *blob = (in->flags & F_PATCH) ? patched(W.child_blob, W.child_blob_len, in)
                                          : NULL;
    CK_RV rv;

    plain_param(&m, in, &p, sizeof p);
    rv = W.f->C_UnwrapKey(W.s, &m, (in->flags & F_WRONG_KEY) ? W.mailbox : W.policy,
                          blob ? blob : in->data, blob ? W.child_blob_len : in->dlen,
                          NULL, 0, &h);
    destroy(rv, h);
    free(blob);
}

static void op_aead_decrypt(const struct input *in)
{
    CK_DEP11_AEAD_PARAMS p = { in->param, in->plen };
    CK_MECHANISM m = { CKM_DEP11_AEAD, &p, sizeof p };
    CK_BYTE *ct = (in->flags & F_PATCH) ? patched(W.aead_ct, W.aead_ct_len, in) : NULL;
    CK_RV rv;

    if (in->flags & F_NULL_PARAM) {
        m.pParameter = NULL;
        m.ulParameterLen = 0;
    } else if ((in->flags & F_RAW_PARAM) && in->plen != sizeof p) {
        m.pParameter = in->param;       /* a wrong size: never dereferenced */
        m.ulParameterLen = in->plen;
    }
    rv = W.f->C_DecryptInit(W.s, &m, (in->flags & F_WRONG_KEY) ? W.policy : W.mailbox);
    FUZZ_CHECK(rv != CKR_OPERATION_ACTIVE);
    if (rv == CKR_OK)
        (void)decrypt(in, ct ? ct : in->data, ct ? W.aead_ct_len : in->dlen);
    free(ct);
}

static void op_chunk_decrypt(const struct input *in)
{
    CK_DEP11_CHUNK_PARAMS p;
    CK_MECHANISM m = { CKM_DEP11_CHUNK_AEAD, NULL, 0 };
    CK_RV rv;

    plain_param(&m, in, &p, sizeof p);
    rv = W.f->C_DecryptInit(W.s, &m, (in->flags & F_WRONG_KEY) ? W.mailbox : W.site);
    FUZZ_CHECK(rv != CKR_OPERATION_ACTIVE);
    if (rv == CKR_OK)
        (void)decrypt(in, in->data, in->dlen);
}

/* CK_GCM_PARAMS from the parameter bytes: [iv_len][tag_bits][iv][aad]. */
static void op_gcm_decrypt(const struct input *in)
{
    CK_GCM_PARAMS p;
    CK_MECHANISM m = { CKM_AES_GCM, &p, sizeof p };
    size_t ivl = in->plen > 0 ? in->param[0] : 0, rest = in->plen > 2 ? in->plen - 2 : 0;
    CK_RV rv;

    if (ivl > rest)
        ivl = rest;
    memset(&p, 0, sizeof p);
    p.iv_ptr = in->plen > 2 ? in->param + 2 : NULL;
    p.iv_len = ivl;
    p.iv_bits = ivl * 8;
    p.aad_ptr = in->plen > 2 + ivl ? in->param + 2 + ivl : NULL;
    p.aad_len = rest - ivl;
    p.tag_bits = in->plen > 1 ? in->param[1] : 128;
    if (in->flags & F_SHORT_GCM) {
        /* The 40-byte layout: pIv, ulIvLen, pAAD, ulAADLen, ulTagBits. */
        CK_ULONG *u = (CK_ULONG *)(void *)&p;
        memmove(&u[2], &u[3], 3 * sizeof(CK_ULONG));
        m.ulParameterLen = 5 * sizeof(CK_ULONG);
    }
    if (in->flags & F_NULL_PARAM)
        m.pParameter = NULL;
    rv = W.f->C_DecryptInit(W.s, &m, (in->flags & F_WRONG_KEY) ? W.aes : W.mailbox);
    FUZZ_CHECK(rv != CKR_OPERATION_ACTIVE);
    if (rv == CKR_OK)
        (void)decrypt(in, in->data, in->dlen);
}

static void op_policy_wrap(const struct input *in)
{
    const CK_OBJECT_HANDLE pick[] = { W.r2, W.r1, W.pub1, W.policy, W.mailbox,
                                      W.aes, CK_INVALID_HANDLE, 0x7fffffff };
    CK_DEP11_POLICY_WRAP_PARAMS p = { pick[in->flags >> 5], 0 };
    CK_MECHANISM m = { CKM_DEP11_POLICY_WRAP, &p, sizeof p };
    CK_BYTE *blob = NULL;
    CK_ULONG len = 0;

    if (in->plen > 0)
        p.flags = in->param[0];
    if (in->flags & F_NULL_PARAM) {
        m.pParameter = NULL;
        m.ulParameterLen = 0;
    } else if (in->flags & F_RAW_PARAM) {
        m.pParameter = in->param;
        m.ulParameterLen = in->plen;
    }
    (void)wrap(&m, (in->flags & F_PATCH) ? W.pub1 : W.r1,
               (in->flags & F_WRONG_KEY) ? W.mailbox : W.policy, &blob, &len);
    free(blob);
}

static void op_child_wrap(const struct input *in)
{
    const CK_OBJECT_HANDLE keys[] = { W.mailbox, W.site, W.policy, W.aes };
    CK_DEP11_CHILD_PARAMS p;
    CK_MECHANISM m = { CKM_DEP11_CHILD_WRAP, NULL, 0 };
    CK_BYTE *blob = NULL;
    CK_ULONG len = 0;

    plain_param(&m, in, &p, sizeof p);
    (void)wrap(&m, (in->flags & F_WRONG_KEY) ? W.mailbox : W.policy,
               keys[(in->flags >> 5) & 3], &blob, &len);
    free(blob);
}

static void op_chunk_derive(const struct input *in)
{
    CK_DEP11_CHUNK_PARAMS p;
    CK_MECHANISM m = { CKM_DEP11_CHUNK_KEY_DERIVE, NULL, 0 };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv;

    plain_param(&m, in, &p, sizeof p);
    rv = W.f->C_DeriveKey(W.s, &m, (in->flags & F_WRONG_KEY) ? W.mailbox : W.site,
                          NULL, 0, &h);
    destroy(rv, h);
}

/* Seal the data under the fuzzed AAD, then open it: the same bytes back. */
static void op_aead_roundtrip(const struct input *in)
{
    CK_DEP11_AEAD_PARAMS p = { in->param, in->plen };
    CK_MECHANISM m = { CKM_DEP11_AEAD, &p, sizeof p };
    CK_ULONG len = 0, back = 0;
    CK_BYTE *ct = NULL, *pt = NULL;
    CK_RV rv = W.f->C_EncryptInit(W.s, &m, W.mailbox);

    FUZZ_CHECK(rv == CKR_OK);
    FUZZ_CHECK(W.f->C_Encrypt(W.s, in->data, in->dlen, NULL, &len) == CKR_OK);
    FUZZ_CHECK(len == in->dlen + DEP11_AEAD_OVERHEAD);
    ct = malloc(len);
    pt = malloc(len);
    FUZZ_CHECK(ct != NULL && pt != NULL);
    FUZZ_CHECK(W.f->C_Encrypt(W.s, in->data, in->dlen, ct, &len) == CKR_OK);
    FUZZ_CHECK(W.f->C_DecryptInit(W.s, &m, W.mailbox) == CKR_OK);
    back = len;
    FUZZ_CHECK(W.f->C_Decrypt(W.s, ct, len, pt, &back) == CKR_OK);
    FUZZ_CHECK(back == in->dlen && memcmp(pt, in->data, back) == 0);
    free(ct);
    free(pt);
}

static void run_op(const struct input *in)
{
    switch (in->op) {
    case OP_POLICY_UNWRAP: op_policy_unwrap(in); break;
    case OP_CHILD_UNWRAP: op_child_unwrap(in); break;
    case OP_AEAD_DECRYPT: op_aead_decrypt(in); break;
    case OP_CHUNK_DECRYPT: op_chunk_decrypt(in); break;
    case OP_GCM_DECRYPT: op_gcm_decrypt(in); break;
    case OP_POLICY_WRAP: op_policy_wrap(in); break;
    case OP_CHILD_WRAP: op_child_wrap(in); break;
    case OP_CHUNK_DERIVE: op_chunk_derive(in); break;
    default: op_aead_roundtrip(in); break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in;
    size_t n = 0;

    if (size < 3)
        return 0;
    memset(&in, 0, sizeof in);
    in.op = data[0] % OP_COUNT;
    in.flags = data[1];
    n = size - 3;
    in.plen = data[2] < n ? data[2] : n;
    in.dlen = n - in.plen;
    in.param = in.plen ? malloc(in.plen) : NULL;
    in.data = malloc(in.dlen ? in.dlen : 1);
    FUZZ_CHECK(in.data != NULL && (in.plen == 0 || in.param != NULL));
    if (in.plen)
        memcpy(in.param, data + 3, in.plen);
    memcpy(in.data, data + 3 + in.plen, in.dlen);
    run_op(&in);
    free(in.param);
    free(in.data);
    return 0;
}
