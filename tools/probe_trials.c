/*
 * probe_trials.c - the trial operations of "dep11-tool probe" on the HSM's
 * own library: every key made here is a session object (CKA_TOKEN false),
 * destroyed by probe_cleanup, so the token holds the same objects before
 * and after a probe. Each trial records what the HSM answered; the routes
 * are decided from these records in probe_out.c.
 */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "probe.h"

#define OAEP_MSG 32

static void ok(struct trial *tr)
{
    tr->res = TRIAL_OK;
    tr->rv = CKR_OK;
    tr->why = NULL;
}

/* Records a refusal of call @why; returns 0 so callers can "return no()". */
static int no(struct trial *tr, const char *why, CK_RV rv)
{
    tr->res = TRIAL_NO;
    tr->rv = rv;
    tr->why = why;
    return 0;
}

static void skip(struct trial *tr, const char *why)
{
    tr->res = TRIAL_SKIP;
    tr->why = why;
}

/* An RSA-2048 session key pair: the private half sensitive, decrypt,
 * unwrap and sign; the public half encrypt, wrap and verify. */
static void gen_rsa(struct tool *t, struct probe *p)
{
    CK_MECHANISM m = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
    CK_ULONG bits = 2048;
    CK_BYTE e[] = { 1, 0, 1 };
    CK_BBOOL yes = CK_TRUE, no_ = CK_FALSE;
    CK_ATTRIBUTE pub[] = {
        { CKA_TOKEN, &no_, sizeof no_ },      { CKA_MODULUS_BITS, &bits, sizeof bits },
        { CKA_PUBLIC_EXPONENT, e, sizeof e }, { CKA_ENCRYPT, &yes, sizeof yes },
        { CKA_WRAP, &yes, sizeof yes },       { CKA_VERIFY, &yes, sizeof yes },
    };
    CK_ATTRIBUTE priv[] = {
        { CKA_TOKEN, &no_, sizeof no_ },     { CKA_PRIVATE, &yes, sizeof yes },
        { CKA_SENSITIVE, &yes, sizeof yes }, { CKA_DECRYPT, &yes, sizeof yes },
        { CKA_UNWRAP, &yes, sizeof yes },    { CKA_SIGN, &yes, sizeof yes },
        { CKA_DERIVE, &no_, sizeof no_ },
    };
    CK_ATTRIBUTE rd[] = { { CKA_MODULUS, p->mod, sizeof p->mod },
                          { CKA_PUBLIC_EXPONENT, p->exp, sizeof p->exp } };
    CK_RV rv =
        t->p11->C_GenerateKeyPair(t->session, &m, pub, 6, priv, 7, &p->rsa_pub, &p->rsa_priv);

    if (rv != CKR_OK) {
        p->rsa_pub = p->rsa_priv = CK_INVALID_HANDLE;
        no(&p->rsa_gen, "C_GenerateKeyPair (RSA-2048)", rv);
        return;
    }
    ok(&p->rsa_gen);
    if (t->p11->C_GetAttributeValue(t->session, p->rsa_pub, rd, 2) == CKR_OK) {
        p->mod_len = rd[0].ulValueLen;
        p->exp_len = rd[1].ulValueLen;
    }
}

/* RSA-OAEP with @hash / MGF1-@hash and no label: encrypt in the HSM with the
 * public half, decrypt with the private half, compare. */
static void oaep(struct tool *t, struct probe *p, CK_MECHANISM_TYPE hash,
                 CK_RSA_PKCS_MGF_TYPE mgf, struct trial *tr)
{
    CK_RSA_PKCS_OAEP_PARAMS op = { hash, mgf, CKZ_DATA_SPECIFIED, NULL, 0 };
    CK_MECHANISM m = { CKM_RSA_PKCS_OAEP, &op, sizeof op };
    unsigned char msg[OAEP_MSG], ct[512], back[512];
    CK_ULONG ct_len = sizeof ct, back_len = sizeof back;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (p->rsa_gen.res != TRIAL_OK) {
        skip(tr, "no RSA key pair");
        return;
    }
    if (RAND_bytes(msg, sizeof msg) != 1) {
        no(tr, "RAND_bytes", CKR_GENERAL_ERROR);
        return;
    }
    if ((rv = t->p11->C_EncryptInit(t->session, &m, p->rsa_pub)) != CKR_OK ||
        (rv = t->p11->C_Encrypt(t->session, msg, sizeof msg, ct, &ct_len)) != CKR_OK) {
        no(tr, "C_Encrypt (RSA-OAEP)", rv);
        return;
    }
    if ((rv = t->p11->C_DecryptInit(t->session, &m, p->rsa_priv)) != CKR_OK ||
        (rv = t->p11->C_Decrypt(t->session, ct, ct_len, back, &back_len)) != CKR_OK) {
        no(tr, "C_Decrypt (RSA-OAEP)", rv);
        return;
    }
    if (back_len != sizeof msg || CRYPTO_memcmp(back, msg, sizeof msg) != 0) {
        no(tr, "C_Decrypt (RSA-OAEP) returned other bytes", CKR_GENERAL_ERROR);
        return;
    }
    ok(tr);
}

/* C_UnwrapKey with RSA-OAEP (the hash that worked) of a 32-byte secret
 * into a generic secret session key: root-unwrap = unwrap. */
static void oaep_unwrap(struct tool *t, struct probe *p)
{
    int sha256 = p->oaep_sha256.res == TRIAL_OK;
    CK_RSA_PKCS_OAEP_PARAMS op = { sha256 ? CKM_SHA256 : CKM_SHA_1,
                                   sha256 ? CKG_MGF1_SHA256 : CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED,
                                   NULL, 0 };
    CK_MECHANISM m = { CKM_RSA_PKCS_OAEP, &op, sizeof op };
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_BBOOL yes = CK_TRUE, no_ = CK_FALSE;
    /* no CKA_VALUE_LEN: an unwrap takes the length from the plaintext */
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof cls }, { CKA_KEY_TYPE, &kt, sizeof kt },
        { CKA_TOKEN, &no_, sizeof no_ }, { CKA_SENSITIVE, &yes, sizeof yes },
        { CKA_SIGN, &yes, sizeof yes },
    };
    unsigned char msg[OAEP_MSG], ct[512];
    CK_ULONG ct_len = sizeof ct;
    CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (p->oaep_sha1.res != TRIAL_OK && !sha256) {
        skip(&p->unwrap, "no RSA-OAEP round trip");
        return;
    }
    if (RAND_bytes(msg, sizeof msg) != 1) {
        no(&p->unwrap, "RAND_bytes", CKR_GENERAL_ERROR);
        return;
    }
    if ((rv = t->p11->C_EncryptInit(t->session, &m, p->rsa_pub)) != CKR_OK ||
        (rv = t->p11->C_Encrypt(t->session, msg, sizeof msg, ct, &ct_len)) != CKR_OK) {
        no(&p->unwrap, "C_Encrypt (RSA-OAEP)", rv);
        return;
    }
    rv = t->p11->C_UnwrapKey(t->session, &m, p->rsa_priv, ct, ct_len, tmpl, 5, &k);
    if (rv != CKR_OK) {
        no(&p->unwrap, "C_UnwrapKey (RSA-OAEP)", rv);
        return;
    }
    tool_destroy(t, k);
    ok(&p->unwrap);
}

/* A 32-byte session secret key of @mech (AES or generic secret) with the
 * usages in @use (@n of them). */
static CK_RV gen_secret(struct tool *t, CK_MECHANISM_TYPE mech, CK_BBOOL extractable,
                        CK_ATTRIBUTE_TYPE *use, size_t n, CK_OBJECT_HANDLE *h)
{
    CK_MECHANISM m = { mech, NULL, 0 };
    CK_ULONG len = 32;
    CK_BBOOL yes = CK_TRUE, no_ = CK_FALSE;
    CK_ATTRIBUTE tmpl[12] = {
        { CKA_TOKEN, &no_, sizeof no_ },
        { CKA_VALUE_LEN, &len, sizeof len },
        { CKA_SENSITIVE, &yes, sizeof yes },
        { CKA_EXTRACTABLE, &extractable, sizeof extractable },
        { CKA_DERIVE, &no_, sizeof no_ },
    };
    size_t i = 0;

    for (i = 0; i < n && i < 7; i++) {
        tmpl[5 + i].type = use[i];
        tmpl[5 + i].pValue = &yes;
        tmpl[5 + i].ulValueLen = sizeof yes;
    }
    *h = CK_INVALID_HANDLE;
    return t->p11->C_GenerateKey(t->session, &m, tmpl, 5 + i, h);
}

/* AES-256-GCM encrypt and decrypt with a 12-byte IV: does the HSM take the
 * caller's IV (gcm-iv = module) or write its own into pIv (gcm-iv = hsm)?
 * A refusal of a caller's IV is retried with 12 zero bytes for the HSM to
 * fill. */
static void gcm(struct tool *t, struct probe *p)
{
    unsigned char iv[12], sent[12], aad[8] = "dep11-pr", msg[32], ct[64], back[64];
    CK_GCM_PARAMS gp = { iv, sizeof iv, 96, aad, sizeof aad, 128 };
    CK_MECHANISM m = { CKM_AES_GCM, &gp, sizeof gp };
    CK_ULONG ct_len = sizeof ct, back_len = sizeof back;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (p->aes_gen.res != TRIAL_OK) {
        skip(&p->gcm, "no AES key");
        return;
    }
    if (RAND_bytes(iv, sizeof iv) != 1 || RAND_bytes(msg, sizeof msg) != 1) {
        no(&p->gcm, "RAND_bytes", CKR_GENERAL_ERROR);
        return;
    }
    memcpy(sent, iv, sizeof iv);
    rv = t->p11->C_EncryptInit(t->session, &m, p->aes);
    if (rv == CKR_MECHANISM_PARAM_INVALID || rv == CKR_ARGUMENTS_BAD) {
        memset(iv, 0, sizeof iv); /* an HSM that insists on its own IV */
        memset(sent, 0, sizeof sent);
        rv = t->p11->C_EncryptInit(t->session, &m, p->aes);
    }
    if (rv != CKR_OK ||
        (rv = t->p11->C_Encrypt(t->session, msg, sizeof msg, ct, &ct_len)) != CKR_OK) {
        no(&p->gcm, "C_Encrypt (AES-GCM)", rv);
        return;
    }
    p->gcm_hsm_iv = memcmp(iv, sent, sizeof iv) != 0;
    if ((rv = t->p11->C_DecryptInit(t->session, &m, p->aes)) != CKR_OK ||
        (rv = t->p11->C_Decrypt(t->session, ct, ct_len, back, &back_len)) != CKR_OK) {
        no(&p->gcm, "C_Decrypt (AES-GCM)", rv);
        return;
    }
    if (back_len != sizeof msg || CRYPTO_memcmp(back, msg, sizeof msg) != 0) {
        no(&p->gcm, "C_Decrypt (AES-GCM) returned other bytes", CKR_GENERAL_ERROR);
        return;
    }
    ok(&p->gcm);
}

/* RFC 5649 key wrap: which number wraps an extractable AES key, 0x210A
 * (PKCS#11 2.40 drafts, SoftHSM) or 0x210B (PKCS#11 3.0)? */
static void kwp(struct tool *t, struct probe *p)
{
    static const CK_MECHANISM_TYPE nums[] = { 0x210A, 0x210B };
    CK_ATTRIBUTE_TYPE use[] = { CKA_ENCRYPT };
    unsigned char out[128];
    CK_ULONG len = 0;
    CK_RV rv = CKR_MECHANISM_INVALID;
    size_t i = 0;

    if (p->aes_gen.res != TRIAL_OK) {
        skip(&p->kwp, "no AES key");
        return;
    }
    rv = gen_secret(t, CKM_AES_KEY_GEN, CK_TRUE, use, 1, &p->aes_target);
    if (rv != CKR_OK) {
        no(&p->kwp, "C_GenerateKey (extractable AES key)", rv);
        return;
    }
    for (i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        CK_MECHANISM m = { nums[i], NULL, 0 };

        len = sizeof out;
        rv = t->p11->C_WrapKey(t->session, &m, p->aes, p->aes_target, out, &len);
        OPENSSL_cleanse(out, sizeof out);
        if (rv == CKR_OK) {
            p->kwp_mech = nums[i];
            ok(&p->kwp);
            return;
        }
    }
    no(&p->kwp, "C_WrapKey (0x210A and 0x210B)", rv);
}

/* HMAC-SHA256 with a generated 32-byte generic secret (the provider MAC). */
static void hmac(struct tool *t, struct probe *p)
{
    CK_ATTRIBUTE_TYPE use[] = { CKA_SIGN, CKA_VERIFY };
    CK_MECHANISM m = { CKM_SHA256_HMAC, NULL, 0 };
    unsigned char mac[32];
    CK_ULONG len = sizeof mac;
    CK_RV rv = gen_secret(t, CKM_GENERIC_SECRET_KEY_GEN, CK_FALSE, use, 2, &p->hmac);

    if (rv != CKR_OK) {
        no(&p->hmac_sign, "C_GenerateKey (generic secret)", rv);
        return;
    }
    if ((rv = t->p11->C_SignInit(t->session, &m, p->hmac)) != CKR_OK ||
        (rv = t->p11->C_Sign(t->session, (CK_BYTE_PTR) "dep11", 5, mac, &len)) != CKR_OK) {
        no(&p->hmac_sign, "C_Sign (CKM_SHA256_HMAC)", rv);
        return;
    }
    ok(&p->hmac_sign);
}

/* Signs a 32-byte digest with @m and @priv, verifies it with @pub. */
static void sign_verify(struct tool *t, CK_MECHANISM *m, CK_OBJECT_HANDLE priv,
                        CK_OBJECT_HANDLE pub, struct trial *tr, const char *what)
{
    unsigned char dgst[32], sig[1024];
    CK_ULONG len = sizeof sig;
    CK_RV rv = CKR_GENERAL_ERROR;

    memset(dgst, 0x5a, sizeof dgst);
    if ((rv = t->p11->C_SignInit(t->session, m, priv)) != CKR_OK ||
        (rv = t->p11->C_Sign(t->session, dgst, sizeof dgst, sig, &len)) != CKR_OK) {
        no(tr, what, rv);
        return;
    }
    if ((rv = t->p11->C_VerifyInit(t->session, m, pub)) != CKR_OK ||
        (rv = t->p11->C_Verify(t->session, dgst, sizeof dgst, sig, len)) != CKR_OK) {
        no(tr, what, rv);
        return;
    }
    ok(tr);
}

/* An EC P-256 session key pair and one ECDSA signature; RSA-PSS (SHA-256,
 * MGF1-SHA256, 32-byte salt, as dep11's receipts) with the RSA pair. */
static void signatures(struct tool *t, struct probe *p)
{
    static const CK_BYTE p256[] = {
        0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07
    };
    CK_MECHANISM gen = { CKM_EC_KEY_PAIR_GEN, NULL, 0 }, ecdsa = { CKM_ECDSA, NULL, 0 };
    CK_RSA_PKCS_PSS_PARAMS pp = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
    CK_MECHANISM pss = { CKM_RSA_PKCS_PSS, &pp, sizeof pp };
    CK_BBOOL yes = CK_TRUE, no_ = CK_FALSE;
    CK_ATTRIBUTE pub[] = { { CKA_TOKEN, &no_, sizeof no_ },
                           { CKA_EC_PARAMS, (void *)p256, sizeof p256 },
                           { CKA_VERIFY, &yes, sizeof yes } };
    CK_ATTRIBUTE priv[] = { { CKA_TOKEN, &no_, sizeof no_ },
                            { CKA_PRIVATE, &yes, sizeof yes },
                            { CKA_SENSITIVE, &yes, sizeof yes },
                            { CKA_SIGN, &yes, sizeof yes } };
    CK_RV rv =
        t->p11->C_GenerateKeyPair(t->session, &gen, pub, 3, priv, 4, &p->ec_pub, &p->ec_priv);

    if (rv != CKR_OK) {
        p->ec_pub = p->ec_priv = CK_INVALID_HANDLE;
        no(&p->ec, "C_GenerateKeyPair (EC P-256)", rv);
        skip(&p->ecdsa, "no EC key pair");
    } else {
        ok(&p->ec);
        sign_verify(t, &ecdsa, p->ec_priv, p->ec_pub, &p->ecdsa, "C_Sign/C_Verify (CKM_ECDSA)");
    }
    if (p->rsa_gen.res != TRIAL_OK)
        skip(&p->pss, "no RSA key pair");
    else
        sign_verify(t, &pss, p->rsa_priv, p->rsa_pub, &p->pss,
                    "C_Sign/C_Verify (CKM_RSA_PKCS_PSS)");
}

/* A registration twin of the probe's RSA public key (keys register's
 * template, tool_twin_create), as a session object; @trusted: with
 * CKA_TRUSTED = TRUE (else without it, the control: is it CKA_TRUSTED the
 * token refuses, or the rest?). */
static CK_RV create_twin(struct tool *t, struct probe *p, int trusted, CK_OBJECT_HANDLE *h)
{
    const struct tool_twin tw = { p->mod, p->exp, NULL, p->mod_len, p->exp_len,
                                  0,      NULL,   0,    trusted };

    return tool_twin_create(t, &tw, h);
}

/* A user session must not be able to make a CKA_TRUSTED object; if it can,
 * CKA_TRUSTED proves nothing on this token. */
static void trusted_user(struct tool *t, struct probe *p)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (p->mod_len == 0 || p->mod_len > sizeof p->mod) {
        skip(&p->trusted_user, "no RSA public key to copy");
        return;
    }
    rv = create_twin(t, p, 1, &h);
    if (rv == CKR_OK) {
        tool_destroy(t, h);
        ok(&p->trusted_user);
        return;
    }
    no(&p->trusted_user, "C_CreateObject (CKA_TRUSTED, user)", rv);
}

int probe_trusted_so(struct tool *t, struct probe *p)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = CKR_GENERAL_ERROR;
    int rc = TOOL_EXIT_FAIL;

    if (p->so_pin == NULL) {
        skip(&p->trusted_so, "no SO PIN given (--so-pin-source)");
        return TOOL_EXIT_OK;
    }
    if (p->mod_len == 0 || p->mod_len > sizeof p->mod) {
        skip(&p->trusted_so, "no RSA public key to copy");
        return TOOL_EXIT_OK;
    }
    tool_end_session(t);
    rc = tool_open(t, 1, CKU_SO, p->so_pin);
    if (rc != TOOL_EXIT_OK)
        return rc; /* a wrong SO PIN is the caller's error, printed */
    rv = create_twin(t, p, 1, &h);
    if (rv != CKR_OK) {
        CK_RV control = create_twin(t, p, 0, &h);

        tool_destroy(t, h);
        no(&p->trusted_so,
           control == CKR_OK ? "C_CreateObject (CKA_TRUSTED, SO; accepted without CKA_TRUSTED)"
                             : "C_CreateObject (CKA_TRUSTED, SO; refused without it too)",
           rv);
        return TOOL_EXIT_OK;
    }
    tool_destroy(t, h);
    ok(&p->trusted_so);
    return TOOL_EXIT_OK;
}

/* "object-handles": does the library give a destroyed object's handle to
 * a later object? HANDLE_ROUNDS session data objects, each destroyed before
 * the next is made. A repeat proves reuse; none proves nothing beyond
 * these rounds (the profile comment says so). */
#define HANDLE_ROUNDS 16
static void handle_reuse(struct tool *t, struct probe *p)
{
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL no_ = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof cls },
                            { CKA_TOKEN, &no_, sizeof no_ },
                            { CKA_LABEL, (void *)"dep11-probe-handle", 18 } };
    CK_OBJECT_HANDLE seen[HANDLE_ROUNDS];
    CK_RV rv = CKR_GENERAL_ERROR;

    for (int i = 0; i < HANDLE_ROUNDS; i++) {
        rv = t->p11->C_CreateObject(t->session, tmpl, 3, &seen[i]);
        if (rv != CKR_OK) {
            no(&p->handles, "C_CreateObject (a session data object)", rv);
            return;
        }
        tool_destroy(t, seen[i]);
        for (int j = 0; j < i; j++)
            p->handle_reused |= seen[j] == seen[i];
    }
    ok(&p->handles);
}

void probe_trials(struct tool *t, struct probe *p)
{
    CK_ATTRIBUTE_TYPE aes_use[] = { CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP };
    CK_RV rv = CKR_GENERAL_ERROR;

    gen_rsa(t, p);
    oaep(t, p, CKM_SHA_1, CKG_MGF1_SHA1, &p->oaep_sha1);
    oaep(t, p, CKM_SHA256, CKG_MGF1_SHA256, &p->oaep_sha256);
    oaep_unwrap(t, p);
    rv = gen_secret(t, CKM_AES_KEY_GEN, CK_FALSE, aes_use, 4, &p->aes);
    if (rv == CKR_OK)
        ok(&p->aes_gen);
    else
        no(&p->aes_gen, "C_GenerateKey (AES-256)", rv);
    gcm(t, p);
    kwp(t, p);
    hmac(t, p);
    signatures(t, p);
    trusted_user(t, p);
    handle_reuse(t, p);
}

/* The child of probe_fork: the stage that failed (1 C_Initialize, 2
 * C_GetTokenInfo) and its CK_RV, or 0 and CKR_OK, on @fd. Never returns. */
static void fork_child(struct tool *t, int fd)
{
    CK_C_INITIALIZE_ARGS args;
    CK_TOKEN_INFO ti;
    CK_ULONG msg[2] = { 1, CKR_GENERAL_ERROR };

    memset(&args, 0, sizeof args);
    args.flags = CKF_OS_LOCKING_OK;
    msg[1] = t->p11->C_Initialize(&args);
    if (msg[1] == CKR_OK) {
        msg[0] = 2;
        msg[1] = t->p11->C_GetTokenInfo(t->slot, &ti);
        if (msg[1] == CKR_OK)
            msg[0] = 0;
        (void)t->p11->C_Finalize(NULL);
    }
    if (write(fd, msg, sizeof msg) != (ssize_t)sizeof msg)
        _exit(2);
    _exit(0); /* no atexit handlers: they belong to the parent */
}

void probe_fork(struct tool *t, struct probe *p)
{
    static const char *const stage[] = { "", "C_Initialize in a forked child",
                                         "C_GetTokenInfo in a forked child" };
    CK_ULONG msg[2] = { 9, CKR_GENERAL_ERROR };
    int fds[2] = { -1, -1 }, st = 0;
    pid_t pid = -1;

    fflush(NULL);
    if (pipe(fds) != 0 || (pid = fork()) < 0) {
        if (fds[0] >= 0)
            close(fds[0]);
        if (fds[1] >= 0)
            close(fds[1]);
        skip(&p->fork_child, "pipe or fork failed");
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        fork_child(t, fds[1]);
    }
    close(fds[1]);
    if (read(fds[0], msg, sizeof msg) != (ssize_t)sizeof msg || msg[0] > 2)
        msg[0] = 9;
    close(fds[0]);
    (void)waitpid(pid, &st, 0);
    if (msg[0] == 9)
        no(&p->fork_child, "the forked child died", CKR_GENERAL_ERROR);
    else if (msg[0] != 0)
        no(&p->fork_child, stage[msg[0]], msg[1]);
    else
        ok(&p->fork_child);
}

void probe_cleanup(struct tool *t, struct probe *p)
{
    CK_OBJECT_HANDLE *hs[] = { &p->rsa_pub, &p->rsa_priv, &p->aes, &p->aes_target,
                               &p->ec_pub,  &p->ec_priv,  &p->hmac };
    size_t i = 0;

    for (i = 0; i < sizeof hs / sizeof hs[0]; i++) {
        tool_destroy(t, *hs[i]);
        *hs[i] = CK_INVALID_HANDLE;
    }
}
