/*
 * test_handles.c - the handle allow-list (DESIGN section 2): a consumer
 * reaches a backend object only by a handle dep11 handed to it on that
 * token, and every other handle gets one answer, object or not.
 *   test_handles race   threads probe every handle number near SoftHSM's
 *                       counter (C_GetAttributeValue, C_SignInit,
 *                       C_DestroyObject, C_EncryptInit) on contoso and on
 *                       fabrikam while the main thread makes dep11 create
 *                       provider-token objects (availability keys by
 *                       provider-managed rolls and customer wraps,
 *                       tombstones by purges): 0 hits, and every answer the
 *                       same code as for a handle far from any object
 *   test_handles rules  handles from each of the seven creating calls work;
 *                       a destroyed handle is refused; a contoso handle is
 *                       refused on fabrikam; a session object leaves the
 *                       list when its session closes; lists die at C_Finalize and
 *                       in a forked child that initializes again
 * Run with DEP11_CONF=dep11-any.conf (the race wraps under fresh key pairs
 * it can destroy, and purges).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "itest.h"
#include "../gcm_params.h"

#define F (fx->t->f)
#define ROUNDS 6            /* per run; test_handles.sh runs the race 3 times */
#define ROLLS 4             /* provider-managed rolls a round */
#define WINDOW 40           /* probed: the counter - WINDOW .. + WINDOW */
#define FAR_HANDLE ((CK_OBJECT_HANDLE)0x7ffff0f0UL)
#define MAX_KNOWN 64

/* The probes: the race runs the first P_RACE (the four); every
 * other check runs them all. */
enum { P_GET, P_SIGN, P_DESTROY, P_ENCRYPT, P_RACE,
       P_SET = P_RACE, P_COPY, P_SIZE, P_DECRYPT, P_VERIFY, P_DIGESTKEY, P_WRAP, P_UNWRAP,
       P_DERIVE, P_N };
static const char *const p_name[P_N] = {
    "C_GetAttributeValue", "C_SignInit", "C_DestroyObject", "C_EncryptInit",
    "C_SetAttributeValue", "C_CopyObject", "C_GetObjectSize", "C_DecryptInit",
    "C_VerifyInit", "C_DigestKey", "C_WrapKey", "C_UnwrapKey", "C_DeriveKey",
};
/* The one answer for a handle not handed out: the object handle code for
 * object functions, the key handle code where the spec names a key. */
static const CK_RV p_want[P_N] = {
    CKR_OBJECT_HANDLE_INVALID, CKR_KEY_HANDLE_INVALID, CKR_OBJECT_HANDLE_INVALID,
    CKR_KEY_HANDLE_INVALID, CKR_OBJECT_HANDLE_INVALID, CKR_OBJECT_HANDLE_INVALID,
    CKR_OBJECT_HANDLE_INVALID, CKR_KEY_HANDLE_INVALID, CKR_KEY_HANDLE_INVALID,
    CKR_KEY_HANDLE_INVALID, CKR_WRAPPING_KEY_HANDLE_INVALID,
    CKR_UNWRAPPING_KEY_HANDLE_INVALID, CKR_KEY_HANDLE_INVALID,
};

/* Object functions and key arguments of the *Init calls. */
static CK_RV probe_object(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, int fn,
                          CK_OBJECT_HANDLE h)
{
    CK_OBJECT_CLASS cls = 0;
    CK_ATTRIBUTE a = { CKA_CLASS, &cls, sizeof cls };
    CK_ATTRIBUTE label = { CKA_LABEL, "probe", 5 };
    CK_MECHANISM hmac = { CKM_SHA256_HMAC, NULL, 0 };
    CK_BYTE iv[12] = { 0 };
    CK_GCM_PARAMS gp = gcm_params(iv, sizeof iv, NULL, 0, 128);
    CK_MECHANISM gcm = { CKM_AES_GCM, &gp, sizeof gp };
    CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;
    CK_ULONG size = 0;

    switch (fn) {
    case P_GET:
        return f->C_GetAttributeValue(s, h, &a, 1);
    case P_SIGN:
        return f->C_SignInit(s, &hmac, h);
    case P_DESTROY:
        return f->C_DestroyObject(s, h);
    case P_ENCRYPT:
        return f->C_EncryptInit(s, &gcm, h);
    case P_SET:
        return f->C_SetAttributeValue(s, h, &label, 1);
    case P_COPY:
        return f->C_CopyObject(s, h, &label, 0, &copy);
    case P_SIZE:
        return f->C_GetObjectSize(s, h, &size);
    case P_DECRYPT:
        return f->C_DecryptInit(s, &gcm, h);
    default:
        return f->C_VerifyInit(s, &hmac, h);
    }
}

/* Key arguments of the key management calls. */
static CK_RV probe(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, int fn, CK_OBJECT_HANDLE h)
{
    CK_MECHANISM kwp = { 0x210A, NULL, 0 };
    CK_BYTE data[40] = { 0 };
    CK_KEY_DERIVATION_STRING_DATA kd = { data, 32 };
    CK_MECHANISM ecb = { CKM_AES_ECB_ENCRYPT_DATA, &kd, sizeof kd };
    CK_OBJECT_CLASS sk = CKO_SECRET_KEY;
    CK_ATTRIBUTE t = { CKA_CLASS, &sk, sizeof sk };
    CK_OBJECT_HANDLE out = CK_INVALID_HANDLE;
    CK_ULONG len = sizeof data;

    switch (fn) {
    case P_DIGESTKEY:
        return f->C_DigestKey(s, h);
    case P_WRAP:
        return f->C_WrapKey(s, &kwp, h, h, data, &len);
    case P_UNWRAP:
        return f->C_UnwrapKey(s, &kwp, h, data, sizeof data, &t, 1, &out);
    case P_DERIVE:
        return f->C_DeriveKey(s, &ecb, h, &t, 1, &out);
    default:
        return probe_object(f, s, fn, h);
    }
}

/* The slot of token @label through dep11. */
static CK_SLOT_ID slot_of(struct itest *t, const char *label)
{
    CK_SLOT_ID slot = 0;

    assert_int_equal(itest_slot(t, label, &slot), CKR_OK);
    return slot;
}

/* ---- the race ---------------------------------------------------------- */

struct prober {
    struct itest *t;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;
    const CK_OBJECT_HANDLE *known;  /* handed out on contoso: skipped there */
    size_t nknown;
    int stop;                       /* atomic */
    unsigned long probes, hits, sweeps;
    CK_OBJECT_HANDLE hit_h;         /* the first hit */
    int hit_fn;
    CK_RV hit_rv;
};

static int in_list(const CK_OBJECT_HANDLE *list, size_t n, CK_OBJECT_HANDLE h)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == h)
            return 1;
    return 0;
}

static int is_known(const struct prober *p, CK_OBJECT_HANDLE h)
{
    return in_list(p->known, p->nknown, h);
}

/* opencryptoki (ITEST_BACKEND): each slot numbers its objects from 1 on its
 * own. */
static int on_ock(void)
{
    const char *b = getenv("ITEST_BACKEND");

    return b != NULL && strcmp(b, "opencryptoki") == 0;
}

/* The backend's counter now: SoftHSM numbers sessions and objects from one
 * counter, and dep11 gives the consumer the backend's session handle. */
static CK_ULONG counter_now(struct prober *p)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;

    if (p->t->f->C_OpenSession(p->slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
        return 0;
    (void)p->t->f->C_CloseSession(s);
    return s;
}

static void *prober_main(void *arg)
{
    struct prober *p = arg;

    while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
        CK_ULONG c = counter_now(p);
        CK_ULONG lo = c > WINDOW ? c - WINDOW : 1;

        for (CK_OBJECT_HANDLE h = lo; c != 0 && h <= c + WINDOW; h++) {
            if (is_known(p, h))
                continue;
            for (int fn = 0; fn < P_RACE; fn++) {
                CK_RV rv = probe(p->t->f, p->s, fn, h);
                p->probes++;
                if (rv != p_want[fn] && p->hits++ == 0) {
                    p->hit_h = h;
                    p->hit_fn = fn;
                    p->hit_rv = rv;
                }
            }
        }
        p->sweeps++;
    }
    return NULL;
}

/* A fresh RSA-2048 token key pair through dep11 (sensitive, not
 * extractable: usable as a root with trusted-roots = any). */
static void keypair(struct itest_fx *fx, CK_BYTE id, CK_OBJECT_HANDLE *pub,
                    CK_OBJECT_HANDLE *priv)
{
    CK_MECHANISM m = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
    CK_ULONG bits = 2048;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_BYTE e[] = { 1, 0, 1 };
    CK_ATTRIBUTE pt[] = { { CKA_MODULUS_BITS, &bits, sizeof bits },
                          { CKA_PUBLIC_EXPONENT, e, sizeof e },
                          { CKA_TOKEN, &yes, 1 }, { CKA_ENCRYPT, &yes, 1 },
                          { CKA_ID, &id, 1 } };
    CK_ATTRIBUTE vt[] = { { CKA_TOKEN, &yes, 1 }, { CKA_PRIVATE, &yes, 1 },
                          { CKA_SENSITIVE, &yes, 1 }, { CKA_EXTRACTABLE, &no, 1 },
                          { CKA_DECRYPT, &yes, 1 }, { CKA_ID, &id, 1 } };

    assert_int_equal(F->C_GenerateKeyPair(fx->s, &m, pt, 5, vt, 6, pub, priv), CKR_OK);
}

/* While the probers run, the main thread may not fail an assertion (the
 * threads would outlive the test): a mismatch is recorded and the round
 * ends. */
#define CHECK(call, want)                                                       \
    do {                                                                        \
        CK_RV rv_ = (call);                                                     \
        if (rv_ != (want)) {                                                    \
            fprintf(stderr, "line %d: %s = 0x%lx, want 0x%lx\n", __LINE__, #call, \
                    (unsigned long)rv_, (unsigned long)(want));                 \
            failed = 1;                                                         \
            goto out;                                                           \
        }                                                                       \
    } while (0)

/* One round on the main thread while the probers run: provider-managed
 * rolls (a fresh availability key each), a customer-managed wrap under
 * @pub/@priv pairs, the customer's revocation (their private halves
 * destroyed), and a purge (a tombstone). 0, or -1 (printed). */
static int make_provider_objects(struct itest_fx *fx, const CK_OBJECT_HANDLE pub[2],
                                 const CK_OBJECT_HANDLE priv[2])
{
    CK_OBJECT_HANDLE kept = CK_INVALID_HANDLE, pol = CK_INVALID_HANDLE;
    struct itest_blob b = { 0 };
    CK_BYTE receipt[8192];
    CK_ULONG rlen = sizeof receipt, cls = 0;
    int failed = 0;

    /* A provider-managed policy that stays: its availability keys too. */
    CHECK(itest_keygen(fx->t, fx->s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, &kept), CKR_OK);
    for (int i = 0; i < ROLLS; i++) {
        itest_blob_free(&b);
        CHECK(itest_policy_wrap(fx->t, fx->s, kept, 0, 0, i ? DEP11_WRAP_ROLL_AVAILABILITY : 0,
                                &b), CKR_OK);
    }
    itest_blob_free(&b);
    CHECK(F->C_DestroyObject(fx->s, kept), CKR_OK);
    /* A customer-managed one that the customer revokes and purges. */
    CHECK(itest_keygen(fx->t, fx->s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, &pol), CKR_OK);
    CHECK(itest_policy_wrap(fx->t, fx->s, pol, priv[0], pub[1], 0, &b), CKR_OK);
    /* The customer revokes its pairs (not registered: dep11 lets a user),
     * then purges: a tombstone on the provider token. A destroyed handle
     * is refused at once. */
    for (int i = 0; i < 2; i++) {
        CHECK(F->C_DestroyObject(fx->s, priv[i]), CKR_OK);
        CHECK(itest_get_ulong(fx->t, fx->s, priv[i], CKA_CLASS, &cls),
              CKR_OBJECT_HANDLE_INVALID);
        CHECK(F->C_DestroyObject(fx->s, priv[i]), CKR_OBJECT_HANDLE_INVALID);
    }
    CHECK(fx->t->x->DEP11_FlushCache(NULL), CKR_OK);
    CHECK(fx->t->x->DEP11_PurgePolicy(fx->s, b.p, b.len, receipt, &rlen), CKR_OK);
    for (int i = 0; i < 2; i++)
        CHECK(F->C_DestroyObject(fx->s, pub[i]), CKR_OK);
    CHECK(F->C_DestroyObject(fx->s, pol), CKR_OK);
out:
    itest_blob_free(&b);
    return failed ? -1 : 0;
}

/* The provider token's object handles, from SoftHSM itself (the instance
 * dep11 runs over in this process): what an attacker could learn. */
static CK_ULONG provider_objects(CK_OBJECT_HANDLE *out, CK_ULONG cap)
{
    const char *path = getenv("SOFTHSM_MODULE");
    void *dl = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
    CK_C_GetFunctionList gfl = dl ? (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList") : NULL;
    CK_FUNCTION_LIST_PTR sh = NULL;
    CK_SLOT_ID slots[16];
    CK_ULONG ns = 16, n = 0;
    CK_TOKEN_INFO ti;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;

    assert_non_null(gfl);
    assert_int_equal(gfl(&sh), CKR_OK);
    assert_int_equal(sh->C_GetSlotList(CK_TRUE, slots, &ns), CKR_OK);
    for (CK_ULONG i = 0; i < ns && s == CK_INVALID_HANDLE; i++)
        if (sh->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
            memcmp(ti.label, "dep11-provider ", 15) == 0)
            assert_int_equal(sh->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &s),
                             CKR_OK);
    assert_int_not_equal(s, CK_INVALID_HANDLE);
    assert_int_equal(sh->C_FindObjectsInit(s, NULL, 0), CKR_OK);
    assert_int_equal(sh->C_FindObjects(s, out, cap, &n), CKR_OK);
    assert_int_equal(sh->C_FindObjectsFinal(s), CKR_OK);
    assert_int_equal(sh->C_CloseSession(s), CKR_OK);
    return n;
}

static void start_prober(struct prober *p, struct itest *t, const char *token,
                         const CK_OBJECT_HANDLE *known, size_t nknown, pthread_t *th)
{
    memset(p, 0, sizeof *p);
    p->t = t;
    p->slot = slot_of(t, token);
    p->known = known;
    p->nknown = nknown;
    assert_int_equal(itest_session(t, token, 0, &p->s), CKR_OK);
    assert_int_equal(pthread_create(th, NULL, prober_main, p), 0);
}

static void test_race(void **state)
{
    struct itest_fx *fx = *state;
    static const char *const tokens[] = { "contoso", "contoso", "fabrikam" };
    enum { NP = sizeof tokens / sizeof tokens[0] };
    struct prober p[NP];
    pthread_t th[NP];
    int np = NP;
    CK_OBJECT_HANDLE known[MAX_KNOWN], prov[512];
    CK_OBJECT_HANDLE pub[2], priv[2];
    CK_ULONG nprov = 0;
    unsigned long probes = 0, hits = 0, sweeps = 0;
    size_t nknown = 0;
    int failed = 0;
    CK_SESSION_HANDLE fab = CK_INVALID_HANDLE;

    /* The oracle: a handle far from any object. */
    assert_int_equal(itest_session(fx->t, "fabrikam", 1, &fab), CKR_OK);
    for (int fn = 0; fn < P_N; fn++) {
        assert_int_equal(probe(F, fx->s, fn, FAR_HANDLE), p_want[fn]);
        assert_int_equal(probe(F, fab, fn, FAR_HANDLE), p_want[fn]);
    }
    known[nknown++] = fx->r1;
    known[nknown++] = fx->r2;
    for (int r = 0; r < ROUNDS; r++) {
        /* The pairs are handed out before the probers start: they skip
         * them on contoso (they are this application's) and meet them as
         * strangers on fabrikam. */
        for (int i = 0; i < 2; i++) {
            keypair(fx, (CK_BYTE)(0x40 + 2 * r + i), &pub[i], &priv[i]);
            assert_true(nknown + 2 <= MAX_KNOWN);
            known[nknown++] = pub[i];
            known[nknown++] = priv[i];
        }
        for (int i = 0; i < np; i++)
            start_prober(&p[i], fx->t, tokens[i], known, nknown, &th[i]);
        failed |= make_provider_objects(fx, pub, priv);
        for (int i = 0; i < np; i++) {
            __atomic_store_n(&p[i].stop, 1, __ATOMIC_RELEASE);
            assert_int_equal(pthread_join(th[i], NULL), 0);
            (void)F->C_CloseSession(p[i].s);
            probes += p[i].probes;
            sweeps += p[i].sweeps;
            hits += p[i].hits;
            if (p[i].hits != 0)
                fprintf(stderr, "round %d, %s prober: %lu hits; first: %s(0x%lx) = 0x%lx\n", r,
                        tokens[i], p[i].hits, p_name[p[i].hit_fn], p[i].hit_h, p[i].hit_rv);
        }
        assert_int_equal(failed, 0);
    }
    /* Every provider object, probed by its exact handle: the oracle's code
     * (on contoso not where the number is one dep11 handed out there: with
     * per-slot numbering, as opencryptoki's, that is this application's key). */
    nprov = provider_objects(prov, 512);
    assert_true(nprov >= (CK_ULONG)ROUNDS); /* a tombstone a round, at least */
    for (CK_ULONG i = 0; i < nprov; i++)
        for (int fn = 0; fn < P_N; fn++) {
            if (!in_list(known, nknown, prov[i]))
                assert_int_equal(probe(F, fx->s, fn, prov[i]), p_want[fn]);
            assert_int_equal(probe(F, fab, fn, prov[i]), p_want[fn]);
        }
    printf("race: %d rounds, %lu probes in %lu sweeps, %lu provider objects, %lu hits\n",
           ROUNDS, probes, sweeps, nprov, hits);
    assert_true(sweeps >= (unsigned long)ROUNDS * (unsigned long)np);
    assert_int_equal(hits, 0);
    assert_int_equal(F->C_CloseSession(fab), CKR_OK);
}

/* ---- the rules -------------------------------------------------------- */

/* A usable secret key through dep11 (session object). */
static CK_OBJECT_HANDLE aes_key(struct itest_fx *fx, CK_BBOOL extractable, CK_BBOOL derive)
{
    CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_ULONG len = 32;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE t[] = { { CKA_VALUE_LEN, &len, sizeof len }, { CKA_TOKEN, &no, 1 },
                         { CKA_ENCRYPT, &yes, 1 }, { CKA_DECRYPT, &yes, 1 },
                         { CKA_WRAP, &yes, 1 }, { CKA_UNWRAP, &yes, 1 },
                         { CKA_SENSITIVE, &yes, 1 }, { CKA_EXTRACTABLE, &extractable, 1 },
                         { CKA_DERIVE, &derive, 1 } };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    assert_int_equal(F->C_GenerateKey(fx->s, &m, t, 9, &h), CKR_OK);
    return h;
}

/* @h works on contoso (read and, for a secret key, encrypt) and is refused
 * on fabrikam with the one answer. */
static void works_here_only(struct itest_fx *fx, CK_SESSION_HANDLE fab, CK_OBJECT_HANDLE h,
                            int secret)
{
    CK_ULONG cls = 0;
    CK_BYTE iv[12] = { 0 };
    CK_BYTE iv16[16] = { 0 };
    CK_GCM_PARAMS gp = gcm_params(iv, sizeof iv, NULL, 0, 128);
    CK_MECHANISM gcm = { CKM_AES_GCM, &gp, sizeof gp };
    CK_MECHANISM cbc = { CKM_AES_CBC_PAD, iv16, sizeof iv16 }; /* no GCM on opencryptoki */
    CK_BYTE pt[16] = { 0 }, ct[64];
    CK_ULONG ctlen = sizeof ct;

    assert_int_equal(itest_get_ulong(fx->t, fx->s, h, CKA_CLASS, &cls), CKR_OK);
    if (secret) {
        assert_int_equal(cls, CKO_SECRET_KEY);
        assert_int_equal(F->C_EncryptInit(fx->s, on_ock() ? &cbc : &gcm, h), CKR_OK);
        assert_int_equal(F->C_Encrypt(fx->s, pt, sizeof pt, ct, &ctlen), CKR_OK);
        assert_int_equal(ctlen, sizeof pt + 16);
    }
    for (int fn = 0; fn < P_N; fn++)
        assert_int_equal(probe(F, fab, fn, h), p_want[fn]);
}

static void test_seven_creators(void **state)
{
    struct itest_fx *fx = *state;
    CK_SESSION_HANDLE fab = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE found = CK_INVALID_HANDLE, made, copy = 0, gen, pub = 0, priv = 0;
    CK_OBJECT_HANDLE kek, unwrapped = 0, base, derived = 0, data = 0;
    CK_OBJECT_CLASS dcls = CKO_DATA;
    CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
    CK_ATTRIBUTE dt[] = { { CKA_CLASS, &dcls, sizeof dcls }, { CKA_TOKEN, &no, 1 },
                          { CKA_LABEL, "handles", 7 }, { CKA_VALUE, "x", 1 } };
    CK_MECHANISM kwp = { 0x210A, NULL, 0 }; /* RFC 5649 on SoftHSM 2.6 */
    CK_BYTE iv16[16] = { 0 };
    CK_MECHANISM cbc = { CKM_AES_CBC_PAD, iv16, sizeof iv16 }; /* opencryptoki: no key wrap */
    CK_OBJECT_CLASS sk = CKO_SECRET_KEY;
    CK_KEY_TYPE aes = CKK_AES;
    CK_ULONG vlen = 32;
    CK_ATTRIBUTE ut[] = { { CKA_CLASS, &sk, sizeof sk }, { CKA_KEY_TYPE, &aes, sizeof aes },
                          { CKA_TOKEN, &no, 1 }, { CKA_ENCRYPT, &yes, 1 },
                          { CKA_DECRYPT, &yes, 1 }, { CKA_SENSITIVE, &yes, 1 } };
    CK_BYTE input[32];
    CK_KEY_DERIVATION_STRING_DATA kd = { input, sizeof input };
    CK_MECHANISM ecb = { CKM_AES_ECB_ENCRYPT_DATA, &kd, sizeof kd };
    CK_ATTRIBUTE xt[] = { { CKA_CLASS, &sk, sizeof sk }, { CKA_KEY_TYPE, &aes, sizeof aes },
                          { CKA_VALUE_LEN, &vlen, sizeof vlen }, { CKA_TOKEN, &no, 1 },
                          { CKA_ENCRYPT, &yes, 1 }, { CKA_SENSITIVE, &yes, 1 } };
    CK_BYTE wrapped[128];
    CK_ULONG wlen = sizeof wrapped;

    memset(input, 0x11, sizeof input);
    if (on_ock())
        kwp = cbc;
    assert_int_equal(itest_session(fx->t, "fabrikam", 1, &fab), CKR_OK);
    /* C_FindObjects */
    assert_int_equal(itest_find(fx->t, fx->s, CKO_PUBLIC_KEY, "unregistered", &found), CKR_OK);
    works_here_only(fx, fab, found, 0);
    /* C_CreateObject */
    assert_int_equal(F->C_CreateObject(fx->s, dt, 4, &data), CKR_OK);
    works_here_only(fx, fab, data, 0);
    /* C_GenerateKey, C_CopyObject */
    gen = aes_key(fx, CK_TRUE, CK_FALSE);
    works_here_only(fx, fab, gen, 1);
    assert_int_equal(F->C_CopyObject(fx->s, gen, dt, 0, &copy), CKR_OK);
    works_here_only(fx, fab, copy, 1);
    /* C_GenerateKeyPair: both halves */
    keypair(fx, 0x3f, &pub, &priv);
    works_here_only(fx, fab, pub, 0);
    works_here_only(fx, fab, priv, 0);
    /* C_UnwrapKey */
    kek = aes_key(fx, CK_FALSE, CK_FALSE);
    assert_int_equal(F->C_WrapKey(fx->s, &kwp, kek, gen, wrapped, &wlen), CKR_OK);
    assert_int_equal(F->C_UnwrapKey(fx->s, &kwp, kek, wrapped, wlen, ut, 6, &unwrapped), CKR_OK);
    works_here_only(fx, fab, unwrapped, 1);
    /* C_DeriveKey */
    base = aes_key(fx, CK_FALSE, CK_TRUE);
    if (on_ock()) {
        printf("NOT RUN on opencryptoki: a C_DeriveKey handle (the soft token has no AES "
               "key derivation)\n");
    } else {
        assert_int_equal(F->C_DeriveKey(fx->s, &ecb, base, xt, 6, &derived), CKR_OK);
        works_here_only(fx, fab, derived, 1);
    }
    /* The wrapping key slots answer with their own codes on fabrikam. */
    wlen = sizeof wrapped;
    assert_int_equal(F->C_WrapKey(fab, &kwp, kek, FAR_HANDLE, wrapped, &wlen),
                     CKR_WRAPPING_KEY_HANDLE_INVALID);
    assert_int_equal(F->C_UnwrapKey(fab, &kwp, kek, wrapped, 40, ut, 6, &made),
                     CKR_UNWRAPPING_KEY_HANDLE_INVALID);
    assert_int_equal(F->C_DeriveKey(fab, &ecb, base, xt, 6, &made), CKR_KEY_HANDLE_INVALID);
    /* Destroyed: refused with the one answer, on every call. */
    assert_int_equal(F->C_DestroyObject(fx->s, priv), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, pub), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, gen), CKR_OK);
    assert_int_equal(F->C_DestroyObject(fx->s, data), CKR_OK);
    for (int fn = 0; fn < P_N; fn++) {
        assert_int_equal(probe(F, fx->s, fn, gen), p_want[fn]);
        assert_int_equal(probe(F, fx->s, fn, priv), p_want[fn]);
        assert_int_equal(probe(F, fx->s, fn, data), p_want[fn]);
    }
    wlen = sizeof wrapped;
    assert_int_equal(F->C_WrapKey(fx->s, &kwp, kek, gen, wrapped, &wlen), CKR_KEY_HANDLE_INVALID);
    assert_int_equal(F->C_CloseSession(fab), CKR_OK);
}

/* Found on contoso, refused on fabrikam; the same search on fabrikam hands
 * out nothing of contoso's; C_Finalize ends every list. */
static void test_cross_token_and_finalize(void **state)
{
    struct itest_fx *fx = *state;
    CK_SESSION_HANDLE fab = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG cls = 0;

    assert_int_equal(itest_session(fx->t, "fabrikam", 1, &fab), CKR_OK);
    assert_int_equal(itest_find(fx->t, fx->s, CKO_PUBLIC_KEY, "root1", &h), CKR_OK);
    for (int fn = 0; fn < P_N; fn++) {
        assert_int_equal(probe(F, fab, fn, h), p_want[fn]);
        assert_int_equal(probe(F, fab, fn, fx->r1), p_want[fn]);
    }
    assert_int_equal(itest_find(fx->t, fab, CKO_PUBLIC_KEY, "root1", &h),
                     CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(itest_get_ulong(fx->t, fx->s, fx->r1, CKA_CLASS, &cls), CKR_OK);
    /* A new C_Initialize starts with empty lists. SoftHSM starts again too
     * and numbers objects in the order it meets them: the same calls give
     * the same number, which must be found again before it works. */
    for (int round = 0; round < 2; round++) {
        CK_OBJECT_HANDLE again = CK_INVALID_HANDLE;

        assert_int_equal(itest_finalize(fx->t), CKR_OK);
        assert_int_equal(itest_init(fx->t), CKR_OK);
        assert_int_equal(itest_session(fx->t, "contoso", 1, &fx->s), CKR_OK);
        if (round == 1)
            for (int fn = 0; fn < P_N; fn++)
                assert_int_equal(probe(F, fx->s, fn, h), p_want[fn]);
        assert_int_equal(itest_find(fx->t, fx->s, CKO_PRIVATE_KEY, "root1", &again), CKR_OK);
        if (round == 1)
            assert_int_equal(again, h); /* a live object's number was refused */
        h = again;
        assert_int_equal(itest_get_ulong(fx->t, fx->s, h, CKA_CLASS, &cls), CKR_OK);
    }
}

/* A session object leaves the list with the session that made it (the
 * backend may give its number to another object later): afterwards the one
 * answer, not the backend's own for a vanished object. A token object made
 * there stays. */
static void test_session_objects(void **state)
{
    struct itest_fx *fx = *state;
    CK_SESSION_HANDLE x = CK_INVALID_HANDLE;
    CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_ULONG len = 32, cls = 0;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE t[] = { { CKA_VALUE_LEN, &len, sizeof len }, { CKA_TOKEN, &no, 1 },
                         { CKA_ENCRYPT, &yes, 1 } };
    CK_OBJECT_CLASS dcls = CKO_DATA;
    CK_ATTRIBUTE dt[] = { { CKA_CLASS, &dcls, sizeof dcls }, { CKA_TOKEN, &yes, 1 },
                          { CKA_LABEL, "handles-token", 13 } };
    CK_OBJECT_HANDLE k = CK_INVALID_HANDLE, d = CK_INVALID_HANDLE;

    assert_int_equal(itest_session(fx->t, "contoso", 0, &x), CKR_OK);
    assert_int_equal(F->C_GenerateKey(x, &m, t, 3, &k), CKR_OK);
    assert_int_equal(F->C_CreateObject(x, dt, 3, &d), CKR_OK);
    assert_int_equal(itest_get_ulong(fx->t, fx->s, k, CKA_CLASS, &cls), CKR_OK);
    assert_int_equal(F->C_CloseSession(x), CKR_OK);
    for (int fn = 0; fn < P_N; fn++)
        assert_int_equal(probe(F, fx->s, fn, k), p_want[fn]);
    assert_int_equal(itest_get_ulong(fx->t, fx->s, d, CKA_CLASS, &cls), CKR_OK);
    assert_int_equal(cls, CKO_DATA);
    assert_int_equal(F->C_DestroyObject(fx->s, d), CKR_OK);
}

/* In a forked child after its C_Initialize: the parent's handles are not
 * listed until the child finds them. Returns 0 or the failing step. */
static int fork_child(struct itest_fx *fx)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG cls = 0;

    if (itest_init(fx->t) != CKR_OK || itest_session(fx->t, "contoso", 1, &s) != CKR_OK)
        return 1;
    for (int fn = 0; fn < P_N; fn++)
        if (probe(F, s, fn, fx->r1) != p_want[fn])
            return 2;
    if (itest_find(fx->t, s, CKO_PRIVATE_KEY, "root1", &h) != CKR_OK ||
        itest_get_ulong(fx->t, s, h, CKA_CLASS, &cls) != CKR_OK || cls != CKO_PRIVATE_KEY)
        return 3;
    /* SoftHSM gives it the same number: a live object's number was refused
     * until found (opencryptoki numbers the child's objects anew: the
     * parent prints that this step does not apply). */
    if (h != fx->r1 && !on_ock())
        return 5;
    return itest_finalize(fx->t) == CKR_OK ? 0 : 4;
}

static void test_fork_child(void **state)
{
    struct itest_fx *fx = *state;
    CK_ULONG cls = 0;
    int status = 0;
    pid_t pid;

    if (on_ock())
        printf("NOT RUN on opencryptoki: the child's root1 under the parent's number (the "
               "child's backend numbers its objects anew)\n");
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fork_child(fx));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("child failed at step %d", WEXITSTATUS(status));
    /* The parent's list is its own. */
    assert_int_equal(itest_get_ulong(fx->t, fx->s, fx->r1, CKA_CLASS, &cls), CKR_OK);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "rules";
#define T(fn) cmocka_unit_test_setup_teardown(fn, itest_setup, itest_teardown)
    const struct CMUnitTest race[] = { T(test_race) };
    const struct CMUnitTest rules[] = { T(test_seven_creators),
                                        T(test_cross_token_and_finalize),
                                        T(test_session_objects),
                                        T(test_fork_child) };
#undef T
    if (strcmp(which, "race") == 0)
        return cmocka_run_group_tests_name("handles: race", race, itest_group_setup,
                                           itest_group_teardown);
    return cmocka_run_group_tests_name("handles: rules", rules, itest_group_setup,
                                       itest_group_teardown);
}
