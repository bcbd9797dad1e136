/*
 * test_fault_walk.c - walks every backend call dep11 makes, for every dep11
 * operation, through every fault class (DESIGN sections 2 and 5), with the
 * fault-injecting shim (tests/faultshim/faultmod.c) between dep11 and SoftHSM.
 *
 * For each operation: one clean run with $DEP11_FAULT_TRACE lists the backend
 * calls it makes (function, token, occurrence); then for each such call and
 * each fault (denied, transient, invalid, abort, other, delay) the call fails
 * once ("after=k count=1") and the test checks: the result is the one the
 * expectation table below gives (derived from the DESIGN, not from runs); no
 * half-created object (module objects seen through dep11 and every token's
 * objects counted through SoftHSM directly are unchanged after a failure);
 * the same operation succeeds once the fault is cleared. Leaks are the ASan
 * pass's job. A second walk keeps the customer token's root decryption
 * failing (every call) and checks section 5's table row by row.
 * Each case that fails is printed as "CASE FAIL op call fault: expected/got".
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "itest.h"

#define F (w->fx->t->f)
#define CUSTOMER "contoso"
#define PROVIDER "dep11-provider"

/* ---- the faults ---- */
enum cls { C_DENIED, C_TRANSIENT, C_INVALID, C_ABORT, C_OTHER, C_DELAY };
static const char *const cls_name[] = { "denied", "transient", "invalid", "abort", "other",
                                        "delay" };
static const struct fault {
    enum cls cls;
    CK_RV rv;
} faults[] = {
    { C_DENIED, CKR_OBJECT_HANDLE_INVALID },   { C_DENIED, CKR_KEY_FUNCTION_NOT_PERMITTED },
    { C_TRANSIENT, CKR_DEVICE_ERROR },         { C_TRANSIENT, CKR_DEVICE_REMOVED },
    { C_TRANSIENT, CKR_TOKEN_NOT_PRESENT },    { C_TRANSIENT, CKR_SESSION_HANDLE_INVALID },
    { C_INVALID, CKR_GENERAL_ERROR },          { C_INVALID, CKR_ENCRYPTED_DATA_INVALID },
    { C_ABORT, CKR_USER_NOT_LOGGED_IN },       { C_OTHER, CKR_HOST_MEMORY },
    { C_DELAY, CKR_OK },
};
#define NFAULTS (sizeof faults / sizeof faults[0])

/* ---- what the walk holds ---- */
#define MAXOBJ 4096
struct set {
    CK_OBJECT_HANDLE h[MAXOBJ];
    CK_ULONG n;
};

struct walk {
    struct itest_fx *fx;
    CK_FUNCTION_LIST_PTR sh;          /* SoftHSM, loaded directly (same instance) */
    CK_OBJECT_HANDLE pol, site, mb, be; /* long-lived keys of the fixture */
    CK_OBJECT_HANDLE pol2;            /* pblob's policy (one blob per policy version) */
    CK_OBJECT_HANDLE tmp;             /* a fresh key an operation consumes */
    struct itest_blob cblob, pblob, child, ct;
    char trace[1200], faults[1200];
    unsigned cases, passed, case_id, avail_left, roll_left;
    CK_ULONG clean_delta;             /* token objects a clean run of the op adds */
    struct set keep_hsm, keep_mod, scratch; /* what the fixture left; work space */
};

/* ---- operations ---- */
enum kind {
    K_MODULE,    /* vendor mechanism on module keys only */
    K_WRAP,      /* policy wrap: roots on the customer token, provider token */
    K_UNWRAP,    /* policy unwrap: section 5 */
    K_PASS,      /* a standard call on a backend object: the backend's answer */
};

struct op {
    const char *name;
    enum kind kind;
    void (*prep)(struct walk *w);     /* faults cleared; may assert */
    CK_RV (*run)(struct walk *w);     /* the operation; CK_RV only */
};

static const CK_BYTE owner[16] = "fault-walk-owner";
static const CK_BYTE msg[40] = "fault walk: forty bytes of plaintext....";

static void prep_none(struct walk *w)
{
    (void)w;
}

static void prep_policy(struct walk *w)
{
    assert_int_equal(itest_keygen(w->fx->t, w->fx->s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX,
                                  &w->tmp), CKR_OK);
}

static void prep_mailbox(struct walk *w)
{
    assert_int_equal(itest_keygen(w->fx->t, w->fx->s, DEP11_ROLE_MAILBOX, 0, &w->tmp), CKR_OK);
}

static CK_RV run_keygen_policy(struct walk *w)
{
    return itest_keygen(w->fx->t, w->fx->s, DEP11_ROLE_POLICY, DEP11_POLICY_FILES, &w->tmp);
}

static CK_RV run_keygen_site(struct walk *w)
{
    return itest_keygen(w->fx->t, w->fx->s, DEP11_ROLE_SITE, 0, &w->tmp);
}

static CK_RV run_wrap_customer(struct walk *w)
{
    struct itest_blob b = { 0 };
    CK_RV rv = itest_policy_wrap(w->fx->t, w->fx->s, w->tmp, w->fx->r1, w->fx->r2, 0, &b);

    itest_blob_free(&b);
    return rv;
}

/* A roll on a fresh policy key: a new availability key, the others of the
 * policy (none) destroyed. */
static CK_RV run_roll_customer(struct walk *w)
{
    struct itest_blob b = { 0 };
    CK_RV rv = itest_policy_wrap(w->fx->t, w->fx->s, w->tmp, w->fx->r1, w->fx->r2,
                                 DEP11_WRAP_ROLL_AVAILABILITY, &b);

    itest_blob_free(&b);
    return rv;
}

static CK_RV run_wrap_provider(struct walk *w)
{
    struct itest_blob b = { 0 };
    CK_RV rv = itest_policy_wrap(w->fx->t, w->fx->s, w->tmp, 0, 0, 0, &b);

    itest_blob_free(&b);
    return rv;
}

static CK_RV unwrap(struct walk *w, const struct itest_blob *b)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    if (w->fx->t->x->DEP11_FlushCache(NULL) != CKR_OK)
        return CKR_FUNCTION_FAILED;
    return itest_policy_unwrap(w->fx->t, w->fx->s, b, DEP11_REQUESTER_USER, &h);
}

static CK_RV run_unwrap_customer(struct walk *w)
{
    return unwrap(w, &w->cblob);
}

static CK_RV run_unwrap_provider(struct walk *w)
{
    return unwrap(w, &w->pblob);
}

static CK_RV run_child_wrap(struct walk *w)
{
    struct itest_blob b = { 0 };
    CK_RV rv = itest_child_wrap(w->fx->t, w->fx->s, w->pol, w->tmp, owner, &b);

    itest_blob_free(&b);
    return rv;
}

static CK_RV run_child_unwrap(struct walk *w)
{
    return itest_child_unwrap(w->fx->t, w->fx->s, w->pol, &w->child, owner, &w->tmp);
}

static CK_RV run_chunk_derive(struct walk *w)
{
    CK_DEP11_CHUNK_PARAMS p = { "fault-walk-file!", 7 };
    CK_MECHANISM m = { CKM_DEP11_CHUNK_KEY_DERIVE, &p, sizeof p };

    return F->C_DeriveKey(w->fx->s, &m, w->site, NULL, 0, &w->tmp);
}

static CK_RV run_aead_encrypt(struct walk *w)
{
    struct itest_blob o = { 0 };
    CK_RV rv = itest_aead(w->fx->t, w->fx->s, 1, w->mb, (CK_BYTE *)"a", 1, msg, sizeof msg, &o);

    itest_blob_free(&o);
    return rv;
}

static CK_RV run_aead_decrypt(struct walk *w)
{
    struct itest_blob o = { 0 };
    CK_RV rv = itest_aead(w->fx->t, w->fx->s, 0, w->mb, (CK_BYTE *)"a", 1, w->ct.p, w->ct.len,
                          &o);

    if (rv == CKR_OK && (o.len != sizeof msg || memcmp(o.p, msg, sizeof msg) != 0))
        rv = CKR_FUNCTION_FAILED; /* a wrong plaintext must never pass */
    itest_blob_free(&o);
    return rv;
}

static CK_RV run_aead_multipart(struct walk *w)
{
    CK_DEP11_AEAD_PARAMS p = { NULL, 0 };
    CK_MECHANISM m = { CKM_DEP11_AEAD, &p, sizeof p };
    CK_BYTE out[128];
    CK_ULONG len = sizeof out, total = 0;
    CK_RV rv = F->C_EncryptInit(w->fx->s, &m, w->mb);

    if (rv == CKR_OK)
        rv = F->C_EncryptUpdate(w->fx->s, (CK_BYTE_PTR)msg, sizeof msg, out, &len);
    if (rv == CKR_OK) {
        total = len;
        len = sizeof out - total;
        rv = F->C_EncryptFinal(w->fx->s, out + total, &len);
    }
    return rv;
}

static CK_RV run_chunk_aead(struct walk *w)
{
    CK_DEP11_CHUNK_PARAMS p = { "fault-walk-file!", 3 };
    CK_MECHANISM m = { CKM_DEP11_CHUNK_AEAD, &p, sizeof p };
    CK_BYTE out[128];
    CK_ULONG len = sizeof out;
    CK_RV rv = F->C_EncryptInit(w->fx->s, &m, w->site);

    if (rv == CKR_OK)
        rv = F->C_Encrypt(w->fx->s, (CK_BYTE_PTR)msg, sizeof msg, out, &len);
    return rv;
}

static CK_RV run_module_getattr(struct walk *w)
{
    CK_ULONG role = 0;
    CK_RV rv = itest_get_ulong(w->fx->t, w->fx->s, w->pol, CKA_DEP11_ROLE, &role);

    return rv == CKR_OK && role != DEP11_ROLE_POLICY ? CKR_FUNCTION_FAILED : rv;
}

static CK_RV run_module_destroy(struct walk *w)
{
    return F->C_DestroyObject(w->fx->s, w->tmp);
}

static CK_RV run_std_encrypt(struct walk *w)
{
    CK_BYTE iv[16] = { 0 }, out[64];
    CK_MECHANISM m = { CKM_AES_CBC_PAD, iv, sizeof iv };
    CK_ULONG len = sizeof out;
    CK_RV rv = F->C_EncryptInit(w->fx->s, &m, w->be);

    if (rv == CKR_OK)
        rv = F->C_Encrypt(w->fx->s, (CK_BYTE_PTR)msg, sizeof msg, out, &len);
    return rv;
}

static CK_RV run_std_keygen(struct walk *w)
{
    CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_ULONG vlen = 32;
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE t[] = { { CKA_VALUE_LEN, &vlen, sizeof vlen }, { CKA_TOKEN, &no, sizeof no } };

    return F->C_GenerateKey(w->fx->s, &m, t, 2, &w->tmp);
}

static CK_RV run_std_getattr(struct walk *w)
{
    char label[32];
    CK_ATTRIBUTE a = { CKA_LABEL, label, sizeof label };

    return F->C_GetAttributeValue(w->fx->s, w->be, &a, 1);
}

/* A find over everything: the backend's objects and the module's. */
static CK_RV run_find(struct walk *w)
{
    CK_OBJECT_HANDLE h[64];
    CK_ULONG n = 0;
    CK_RV rv = F->C_FindObjectsInit(w->fx->s, NULL, 0);

    if (rv != CKR_OK)
        return rv;
    rv = F->C_FindObjects(w->fx->s, h, 64, &n);
    if (rv != CKR_OK) {
        (void)F->C_FindObjectsFinal(w->fx->s);
        return rv;
    }
    return F->C_FindObjectsFinal(w->fx->s);
}

static const struct op ops[] = {
    { "keygen-policy", K_MODULE, prep_none, run_keygen_policy },
    { "keygen-site", K_MODULE, prep_none, run_keygen_site },
    { "policy-wrap-customer", K_WRAP, prep_policy, run_wrap_customer },
    { "policy-wrap-provider", K_WRAP, prep_policy, run_wrap_provider },
    { "policy-roll-customer", K_WRAP, prep_policy, run_roll_customer },
    { "policy-unwrap-customer", K_UNWRAP, prep_none, run_unwrap_customer },
    { "policy-unwrap-provider", K_UNWRAP, prep_none, run_unwrap_provider },
    { "child-wrap", K_MODULE, prep_mailbox, run_child_wrap },
    { "child-unwrap", K_MODULE, prep_none, run_child_unwrap },
    { "chunk-derive", K_MODULE, prep_none, run_chunk_derive },
    { "aead-encrypt", K_MODULE, prep_none, run_aead_encrypt },
    { "aead-decrypt", K_MODULE, prep_none, run_aead_decrypt },
    { "aead-multipart", K_MODULE, prep_none, run_aead_multipart },
    { "chunk-aead", K_MODULE, prep_none, run_chunk_aead },
    { "module-getattr", K_MODULE, prep_none, run_module_getattr },
    { "module-destroy", K_MODULE, prep_mailbox, run_module_destroy },
    { "find", K_PASS, prep_none, run_find },
    { "std-encrypt", K_PASS, prep_none, run_std_encrypt },
    { "std-keygen", K_PASS, prep_none, run_std_keygen },
    { "std-getattr", K_PASS, prep_none, run_std_getattr },
};
#define NOPS (sizeof ops / sizeof ops[0])

/* ---- the expectation table (DESIGN sections 2 and 5) ----
 * A result set: CKR_OK, the injected code, or a named set. */
enum want {
    W_OK,            /* the operation succeeds: the fault is absorbed */
    W_RV,            /* the backend's own answer, unchanged */
    W_OK_OR_RV,      /* a clean-up call: its failure may be reported or ignored */
    W_ABORT,         /* CKR_USER_NOT_LOGGED_IN, no fallback */
    W_FAIL_OR_OK,    /* W_FAIL, or absorbed */
    W_BAD_ROOT,      /* the backend's answer, CKR_WRAPPING_KEY_HANDLE_INVALID (root 1)
                  * or CKR_MECHANISM_PARAM_INVALID (root 2, named in the parameter) */
    W_FAIL,          /* fails with the backend's answer, or for a transient one
                  * CKR_DEP11_ROOT_KEYS_UNAVAILABLE; never a verdict on the blob
                  * or the keys (WRAPPED_KEY_INVALID, REVOKED, PURGED) */
    W_FAIL_OR_UNREG, /* W_FAIL_OR_OK, or CKR_KEY_FUNCTION_NOT_PERMITTED: under
                      * root-registration = so-login a registration record the
                      * HSM calls invalid as it is read counts as none (fail
                      * closed) */
};
static const char *const want_name[] = {
    "CKR_OK",
    "the injected code",
    "CKR_OK or the injected code",
    "CKR_USER_NOT_LOGGED_IN",
    "CKR_OK, the injected code or ROOT_KEYS_UNAVAILABLE",
    "the injected code, WRAPPING_KEY_HANDLE_INVALID or MECHANISM_PARAM_INVALID",
    "a failure (injected code or ROOT_KEYS_UNAVAILABLE)",
    "CKR_OK, the injected code, ROOT_KEYS_UNAVAILABLE or KEY_FUNCTION_NOT_PERMITTED",
};

/* test_fault_walk.sh: the world's profile registers roots by SO login. */
static int so_login(void)
{
    return getenv("ITEST_ROOT_REG_SO_LOGIN") != NULL;
}

/* test_fault_walk.sh: token objects per availability key (1 AES key, or
 * 2 for an RSA key pair: availability-key = rsa). */
static CK_ULONG avail_objects(void)
{
    const char *v = getenv("ITEST_AVAIL_KEY_OBJECTS");

    return v != NULL && atoi(v) > 0 ? (CK_ULONG)atoi(v) : 1;
}

static int is_cleanup(const char *fn)
{
    return strcmp(fn, "C_FindObjectsFinal") == 0 || strcmp(fn, "C_CloseSession") == 0 ||
           strcmp(fn, "C_Logout") == 0;
}

/* Calls that only look (scope resolution, token and session info). */
static __attribute__((unused)) int is_query(const char *fn)
{
    return strcmp(fn, "C_GetTokenInfo") == 0 || strcmp(fn, "C_GetSlotInfo") == 0 ||
           strcmp(fn, "C_GetSessionInfo") == 0 || strcmp(fn, "C_GetSlotList") == 0 ||
           strcmp(fn, "C_GetMechanismInfo") == 0;
}

/*
 * The rows, first match wins:
 *  - a delay (no time-out in the SoftHSM profile) changes nothing: OK;
 *  - K_PASS (standard call on a backend object, section 2): the backend's own
 *    result; a failing FindObjectsFinal likewise;
 *  - a clean-up call (FindObjectsFinal, CloseSession, Logout): OK or its code;
 *  - a call on the provider token (dep11's own, section 2): session loss is
 *    reopened and retried once (section 5 "after one reopen and retry"), and
 *    only dep11 logs in there, so a lost login is redone: both absorbed: OK;
 *  - K_UNWRAP, a call serving one root (the customer's token for a customer
 *    blob, the provider token's RSA decryption for a provider blob): one root
 *    failing once, the other unwraps: section 5 row 1, OK; abort: the call
 *    fails with CKR_USER_NOT_LOGGED_IN, no fallback (section 5 "abort");
 *  - a provider key the HSM calls invalid (denied) may be looked up again: OK
 *    or a failure; a customer root it calls invalid while wrapping: the
 *    code for the handle that named it;
 *  - anything else fails: W_FAIL (abort: W_ABORT).
 */
static enum want expect(const struct op *o, const char *fn, const char *token, unsigned nth,
                        const struct fault *f)
{
    int provider = strcmp(token, PROVIDER) == 0;
    int customer = strcmp(token, CUSTOMER) == 0;

    if (f->cls == C_DELAY)
        return W_OK;
    if (o->kind == K_PASS)
        return W_RV;
    if (is_cleanup(fn))
        return W_OK_OR_RV;
    if (provider && (f->rv == CKR_SESSION_HANDLE_INVALID || f->rv == CKR_USER_NOT_LOGGED_IN))
        return W_OK;
    if (o->kind == K_UNWRAP) {
        /* A provider root: its public numbers (C_GetAttributeValue) and its
         * decryption; the MAC (C_Sign*) and the tombstone look-up are not. */
        int prov_root = strcmp(fn, "C_Decrypt") == 0 || strcmp(fn, "C_DecryptInit") == 0 ||
                        strcmp(fn, "C_GetAttributeValue") == 0;
        /* Not a root: the session token's identity (C_GetTokenInfo, for the
         * tenant binding), and on the provider token the first three
         * C_GetAttributeValue calls, which read the change mark and the
         * policy's binding and commit records (fail closed: the backend's
         * answer; a mark the HSM calls invalid is searched again). */
        int state_read = strcmp(fn, "C_GetTokenInfo") == 0 ||
                         (provider && strcmp(fn, "C_GetAttributeValue") == 0 && nth <= 3);
        int root_call = !state_read &&
                        ((strcmp(o->name, "policy-unwrap-customer") == 0 && customer) ||
                         (strcmp(o->name, "policy-unwrap-provider") == 0 && provider &&
                          prov_root));
        if (root_call)
            return f->cls == C_ABORT ? W_ABORT : W_OK;
    }
    /* A provider key whose handle the HSM calls invalid is looked up again
     * (handles are never trusted across calls, section 8): may be absorbed. */
    if (provider && f->cls == C_DENIED && o->kind == K_WRAP && so_login() &&
        strcmp(fn, "C_GetAttributeValue") == 0)
        return W_FAIL_OR_UNREG;
    if (provider && f->cls == C_DENIED)
        return W_FAIL_OR_OK;
    /* A customer root the HSM calls invalid while wrapping: the precise
     * PKCS#11 code for the handle that named it. */
    if (o->kind == K_WRAP && customer && f->cls == C_DENIED)
        return W_BAD_ROOT;
    if (f->cls == C_ABORT)
        return W_ABORT;
    return W_FAIL;
}

static int accepted(enum want wt, const struct fault *f, CK_RV got)
{
    switch (wt) {
    case W_OK:
        return got == CKR_OK;
    case W_RV:
        return got == f->rv;
    case W_OK_OR_RV:
        return got == CKR_OK || got == f->rv;
    case W_ABORT:
        return got == CKR_USER_NOT_LOGGED_IN;
    case W_FAIL_OR_OK:
        return got == CKR_OK || accepted(W_FAIL, f, got);
    case W_FAIL_OR_UNREG:
        return got == CKR_KEY_FUNCTION_NOT_PERMITTED || accepted(W_FAIL_OR_OK, f, got);
    case W_BAD_ROOT:
        return got == f->rv || got == CKR_WRAPPING_KEY_HANDLE_INVALID ||
               got == CKR_MECHANISM_PARAM_INVALID;
    case W_FAIL:
        return got == f->rv ||
               (f->cls == C_TRANSIENT && got == CKR_DEP11_ROOT_KEYS_UNAVAILABLE);
    }
    return 0;
}

/* ---- files ---- */
static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

struct call {
    char fn[40], token[40];
    unsigned nth; /* occurrence of (fn, token) in the trace, from 1 */
};

/* Reads the trace into @calls (at most @cap); returns the count. */
static size_t read_trace(struct walk *w, struct call *calls, size_t cap)
{
    FILE *fp = fopen(w->trace, "r");
    char line[128];
    size_t n = 0;

    assert_non_null(fp);
    while (n < cap && fgets(line, sizeof line, fp) != NULL) {
        struct call *c = &calls[n];
        if (sscanf(line, "%39s %39s", c->fn, c->token) != 2)
            continue;
        c->nth = 1;
        for (size_t i = 0; i < n; i++)
            if (strcmp(calls[i].fn, c->fn) == 0 && strcmp(calls[i].token, c->token) == 0)
                c->nth++;
        n++;
    }
    fclose(fp);
    return n;
}

/* ---- counting and sweeping objects ---- */
static int in_set(const struct set *k, CK_OBJECT_HANDLE h)
{
    for (CK_ULONG i = 0; i < k->n; i++)
        if (k->h[i] == h)
            return 1;
    return 0;
}

/* Objects the consumer sees through dep11 on its session (module + backend). */
static CK_ULONG list_dep11(struct walk *w, struct set *out)
{
    CK_ULONG n = 0;

    out->n = 0;
    assert_int_equal(F->C_FindObjectsInit(w->fx->s, NULL, 0), CKR_OK);
    do {
        assert_int_equal(F->C_FindObjects(w->fx->s, out->h + out->n, MAXOBJ - out->n, &n),
                         CKR_OK);
        out->n += n;
    } while (n > 0 && out->n < MAXOBJ);
    assert_int_equal(F->C_FindObjectsFinal(w->fx->s), CKR_OK);
    return out->n;
}

/* Every object of every token, asked of SoftHSM itself (below the shim):
 * the process is logged in on contoso (the consumer) and on the provider
 * token (dep11), so private objects count too. @out gets (slot, handle)
 * packed as handles (SoftHSM's handles are unique across its slots). */
static CK_ULONG list_softhsm(struct walk *w, struct set *out)
{
    CK_SLOT_ID slots[16];
    CK_ULONG ns = 16;

    out->n = 0;
    assert_int_equal(w->sh->C_GetSlotList(CK_TRUE, slots, &ns), CKR_OK);
    for (CK_ULONG i = 0; i < ns; i++) {
        CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
        CK_ULONG n = 0;

        CK_RV rv = w->sh->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
                                        NULL, &s);

        if (rv == CKR_TOKEN_NOT_RECOGNIZED)
            continue; /* SoftHSM's spare, uninitialized token */
        assert_int_equal(rv, CKR_OK);
        assert_int_equal(w->sh->C_FindObjectsInit(s, NULL, 0), CKR_OK);
        do {
            assert_int_equal(w->sh->C_FindObjects(s, out->h + out->n, MAXOBJ - out->n, &n),
                             CKR_OK);
            out->n += n;
        } while (n > 0 && out->n < MAXOBJ);
        assert_int_equal(w->sh->C_FindObjectsFinal(s), CKR_OK);
        assert_int_equal(w->sh->C_CloseSession(s), CKR_OK);
    }
    return out->n;
}

static CK_ULONG count_dep11(struct walk *w)
{
    return list_dep11(w, &w->scratch);
}

static CK_ULONG count_softhsm(struct walk *w)
{
    return list_softhsm(w, &w->scratch);
}

/* Destroys what a case made (faults cleared), so the world stays the size
 * the fixture left: SoftHSM's objects directly, then dep11's own. */
static void sweep(struct walk *w)
{
    CK_SLOT_ID slots[16];
    CK_ULONG ns = 16;

    assert_int_equal(w->sh->C_GetSlotList(CK_TRUE, slots, &ns), CKR_OK);
    list_softhsm(w, &w->scratch);
    for (CK_ULONG i = 0; i < w->scratch.n; i++) {
        if (in_set(&w->keep_hsm, w->scratch.h[i]))
            continue;
        for (CK_ULONG k = 0; k < ns; k++) { /* whichever token holds it */
            CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
            CK_RV rv = w->sh->C_OpenSession(slots[k], CKF_SERIAL_SESSION | CKF_RW_SESSION,
                                            NULL, NULL, &s);
            if (rv != CKR_OK)
                continue;
            rv = w->sh->C_DestroyObject(s, w->scratch.h[i]);
            (void)w->sh->C_CloseSession(s);
            if (rv == CKR_OK)
                break;
        }
    }
    list_dep11(w, &w->scratch);
    for (CK_ULONG i = 0; i < w->scratch.n; i++)
        if (!in_set(&w->keep_mod, w->scratch.h[i]))
            (void)F->C_DestroyObject(w->fx->s, w->scratch.h[i]);
}

/* ---- one case ---- */
static void one_case(struct walk *w, const struct op *o, const struct call *c,
                     const struct fault *f)
{
    char rule[256];
    CK_ULONG m0 = 0, t0 = 0, m1 = 0, t1 = 0;
    CK_RV got = CKR_OK, again = CKR_OK;
    enum want wt = expect(o, c->fn, c->token, c->nth, f);
    int ok = 1;

    write_text(w->trace, "");
    o->prep(w);
    m0 = count_dep11(w);
    t0 = count_softhsm(w);
    w->case_id++;
    if (f->cls == C_DELAY)
        snprintf(rule, sizeof rule, "%s delay-ms=5", c->fn);
    else
        snprintf(rule, sizeof rule, "%s rv=0x%lx", c->fn, (unsigned long)f->rv);
    snprintf(rule + strlen(rule), sizeof rule - strlen(rule), "%s%s after=%u count=1 case=%u\n",
             strcmp(c->token, "-") != 0 ? " token=" : "",
             strcmp(c->token, "-") != 0 ? c->token : "", c->nth, w->case_id);
    write_text(w->faults, rule);
    got = o->run(w);
    write_text(w->faults, "");
    if (!accepted(wt, f, got)) {
        printf("CASE FAIL %s %s@%s#%u %s(0x%lx): expected %s, got 0x%lx\n", o->name, c->fn,
               c->token, c->nth, cls_name[f->cls], (unsigned long)f->rv, want_name[wt],
               (unsigned long)got);
        ok = 0;
    }
    m1 = count_dep11(w);
    t1 = count_softhsm(w);
    if (got == CKR_OK && t1 - t0 != w->clean_delta) {
        /* Absorbed, but did it leave a second key behind? */
        printf("CASE FAIL %s %s@%s#%u %s(0x%lx): tokens %lu -> %lu, a clean run adds %lu\n",
               o->name, c->fn, c->token, c->nth, cls_name[f->cls], (unsigned long)f->rv, t0, t1,
               w->clean_delta);
        ok = 0;
    }
    if (got != CKR_OK) {
        /* A policy wrap makes the policy's availability key first; a failed
         * wrap may leave it if the next wrap of the same key reuses it
         * ("the existing one, created if none", provider.h): checked below.
         * A failed roll drops its fresh key, unless the failing call is one
         * of that clean-up's own (a find or the destroy). */
        int roll = strcmp(o->name, "policy-roll-customer") == 0;
        int cleanup_call = strncmp(c->fn, "C_FindObjects", 13) == 0 ||
                           strcmp(c->fn, "C_DestroyObject") == 0;
        /* The policy's tenant binding, written with its first wrap, may be
         * left as well: the next wrap finds it bound to this token. */
        CK_ULONG ka = avail_objects();
        int avail_left =
            o->kind == K_WRAP && t1 > t0 && t1 <= t0 + (roll && !cleanup_call ? ka : ka + 1);
        if (avail_left && roll)
            w->roll_left++;
        else if (avail_left)
            w->avail_left++;
        if (m1 != m0 || (t1 != t0 && !avail_left)) {
            printf("CASE FAIL %s %s@%s#%u %s(0x%lx): half-created object: module %lu -> %lu, "
                   "tokens %lu -> %lu\n", o->name, c->fn, c->token, c->nth, cls_name[f->cls],
                   (unsigned long)f->rv, m0, m1, t0, t1);
            ok = 0;
        }
        /* The fault is gone: the same operation works again (on the same
         * key after a failed wrap, which must reuse what it left). */
        if (o->kind != K_WRAP)
            o->prep(w);
        again = o->run(w);
        if (again == CKR_OK && o->kind == K_WRAP && count_softhsm(w) != t0 + w->clean_delta) {
            printf("CASE FAIL %s %s@%s#%u %s(0x%lx): the wrap after the fault left %lu "
                   "token objects, a clean one %lu\n", o->name, c->fn, c->token, c->nth,
                   cls_name[f->cls], (unsigned long)f->rv, count_softhsm(w) - t0,
                   w->clean_delta);
            ok = 0;
        }
        if (again != CKR_OK) {
            printf("CASE FAIL %s %s@%s#%u %s(0x%lx): after the fault cleared: 0x%lx\n",
                   o->name, c->fn, c->token, c->nth, cls_name[f->cls], (unsigned long)f->rv,
                   (unsigned long)again);
            ok = 0;
        }
    }
    sweep(w);
    w->cases++;
    w->passed += ok;
}

/* ---- fixture ---- */
/* One unwrap of a fixture blob before the walk: it commits the policy's
 * version, so the walked unwraps make no commit (DESIGN section 5). */
static CK_RV walk_commit(struct itest_fx *fx, const struct itest_blob *b)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = itest_policy_unwrap(fx->t, fx->s, b, DEP11_REQUESTER_USER, &h);

    if (rv == CKR_OK)
        rv = fx->t->f->C_DestroyObject(fx->s, h);
    return rv;
}

static int walk_setup(void **state)
{
    struct itest_fx *fx = *state;
    struct walk *w = NULL;
    const char *shp = getenv("SOFTHSM_MODULE");
    void *dl = NULL;
    CK_C_GetFunctionList gfl = NULL;
    CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
    CK_MECHANISM aes = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_ULONG vlen = 32;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = { { CKA_VALUE_LEN, &vlen, sizeof vlen },
                            { CKA_ENCRYPT, &yes, sizeof yes },
                            { CKA_TOKEN, &no, sizeof no },
                            { CKA_LABEL, (void *)"walk-aes", 8 } };
    CK_RV rv = CKR_OK;

    if (itest_setup(state) != 0)
        return -1;
    w = calloc(1, sizeof *w);
    if (w == NULL || shp == NULL || (dl = dlopen(shp, RTLD_NOW | RTLD_LOCAL)) == NULL ||
        (gfl = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList")) == NULL ||
        gfl(&w->sh) != CKR_OK) {
        fprintf(stderr, "walk: cannot load SoftHSM directly (%s)\n", shp ? shp : "unset");
        free(w);
        return -1;
    }
    rv = w->sh->C_Initialize(&args); /* dep11 initialized it already */
    if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED && rv != CKR_OK) {
        free(w);
        return -1;
    }
    w->fx = fx;
    itest_path(fx->t, "faults", w->faults, sizeof w->faults);
    snprintf(w->trace, sizeof w->trace, "%s", getenv("DEP11_FAULT_TRACE"));
    if (itest_keygen(fx->t, fx->s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, &w->pol) != CKR_OK ||
        itest_keygen(fx->t, fx->s, DEP11_ROLE_POLICY, DEP11_POLICY_MAILBOX, &w->pol2) != CKR_OK ||
        itest_keygen(fx->t, fx->s, DEP11_ROLE_SITE, 0, &w->site) != CKR_OK ||
        itest_keygen(fx->t, fx->s, DEP11_ROLE_MAILBOX, 0, &w->mb) != CKR_OK ||
        fx->t->f->C_GenerateKey(fx->s, &aes, tmpl, 4, &w->be) != CKR_OK ||
        itest_policy_wrap(fx->t, fx->s, w->pol, fx->r1, fx->r2, 0, &w->cblob) != CKR_OK ||
        itest_policy_wrap(fx->t, fx->s, w->pol2, 0, 0, 0, &w->pblob) != CKR_OK ||
        walk_commit(fx, &w->cblob) != CKR_OK || walk_commit(fx, &w->pblob) != CKR_OK ||
        itest_child_wrap(fx->t, fx->s, w->pol, w->mb, owner, &w->child) != CKR_OK ||
        itest_aead(fx->t, fx->s, 1, w->mb, (CK_BYTE *)"a", 1, msg, sizeof msg, &w->ct) !=
            CKR_OK) {
        fprintf(stderr, "walk: fixture keys and blobs failed\n");
        free(w);
        return -1;
    }
    list_softhsm(w, &w->keep_hsm);
    list_dep11(w, &w->keep_mod);
    *state = w;
    return 0;
}

static int walk_teardown(void **state)
{
    struct walk *w = *state;
    struct itest_fx *fx = w->fx;

    itest_blob_free(&w->cblob);
    itest_blob_free(&w->pblob);
    itest_blob_free(&w->child);
    itest_blob_free(&w->ct);
    free(w);
    *state = fx;
    return itest_teardown(state);
}

/* ---- the walk over every operation ---- */
#define MAXCALLS 512
static void test_walk(void **state)
{
    struct walk *w = *state;
    struct call *calls = calloc(MAXCALLS, sizeof *calls);
    unsigned total_calls = 0, seen = 0;
    /* ITEST_WALK_STRIDE=N (test_fault_walk.sh, on a slow backend): every
     * N-th case of the walk, counted over all operations, so that each call
     * still meets several fault classes. */
    const char *st = getenv("ITEST_WALK_STRIDE");
    unsigned stride = st != NULL && atoi(st) > 1 ? (unsigned)atoi(st) : 1;

    assert_non_null(calls);
    if (stride > 1)
        printf("fault walk: every %u-th case only (ITEST_WALK_STRIDE)\n", stride);
    for (size_t i = 0; i < NOPS; i++) {
        const struct op *o = &ops[i];
        size_t n = 0;
        CK_RV rv = CKR_OK;

        o->prep(w);
        w->clean_delta = count_softhsm(w);
        write_text(w->trace, "");
        rv = o->run(w);
        w->clean_delta = count_softhsm(w) - w->clean_delta;
        n = read_trace(w, calls, MAXCALLS);
        write_text(w->trace, "");
        sweep(w);
        assert_int_equal(rv, CKR_OK); /* the clean run works */
        printf("op %-24s %zu backend calls:", o->name, n);
        for (size_t k = 0; k < n; k++)
            printf(" %s@%s#%u", calls[k].fn, calls[k].token, calls[k].nth);
        printf("\n");
        total_calls += (unsigned)n;
        for (size_t k = 0; k < n; k++)
            for (size_t j = 0; j < NFAULTS; j++)
                if (seen++ % stride == 0)
                    one_case(w, o, &calls[k], &faults[j]);
    }
    printf("fault walk: %u operations, %u backend calls, %u cases, %u passed, %u failed; "
           "%u failed wraps left the policy's availability key (reused by the next wrap), "
           "%u failed rolls their fresh key (the drop's own call failed)\n",
           (unsigned)NOPS, total_calls, w->cases, w->passed, w->cases - w->passed,
           w->avail_left, w->roll_left);
    free(calls);
    assert_int_equal(w->passed, w->cases);
}

/* ---- section 5, every customer decryption failing ----
 * The rows for requester USER: transient -> availability key; denied ->
 * CKR_DEP11_ROOT_KEYS_REVOKED; invalid copies -> CKR_WRAPPED_KEY_INVALID;
 * abort -> CKR_USER_NOT_LOGGED_IN; anything else -> as denied. */
static void test_section5_rows(void **state)
{
    struct walk *w = *state;
    unsigned bad = 0, n = 0;

    for (size_t j = 0; j < NFAULTS; j++) {
        const struct fault *f = &faults[j];
        CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
        CK_ULONG by = 0, m0 = count_dep11(w), t0 = count_softhsm(w);
        CK_RV want = f->cls == C_DELAY ? CKR_OK
                     : f->cls == C_TRANSIENT ? CKR_OK
                     : f->cls == C_DENIED || f->cls == C_OTHER ? CKR_DEP11_ROOT_KEYS_REVOKED
                     : f->cls == C_INVALID ? CKR_WRAPPED_KEY_INVALID
                                           : CKR_USER_NOT_LOGGED_IN;
        CK_ULONG want_by = f->cls == C_TRANSIENT ? DEP11_ROOT_AVAILABILITY : 0;
        char rule[160];
        CK_RV got = CKR_OK;

        if (f->cls == C_DELAY)
            snprintf(rule, sizeof rule, "C_Decrypt delay-ms=5 token=" CUSTOMER "\n");
        else
            snprintf(rule, sizeof rule, "C_Decrypt rv=0x%lx token=" CUSTOMER "\n",
                     (unsigned long)f->rv);
        assert_int_equal(w->fx->t->x->DEP11_FlushCache(NULL), CKR_OK);
        write_text(w->faults, rule);
        got = itest_policy_unwrap(w->fx->t, w->fx->s, &w->cblob, DEP11_REQUESTER_USER, &h);
        write_text(w->faults, "");
        if (got == CKR_OK)
            assert_int_equal(itest_get_ulong(w->fx->t, w->fx->s, h, CKA_DEP11_UNWRAPPED_BY, &by),
                             CKR_OK);
        n++;
        if (got != want || (want_by != 0 && by != want_by) ||
            (f->cls == C_DELAY && by != DEP11_ROOT_CUSTOMER_1 && by != DEP11_ROOT_CUSTOMER_2)) {
            printf("ROW FAIL %s(0x%lx): expected 0x%lx by %lu, got 0x%lx by %lu\n",
                   cls_name[f->cls], (unsigned long)f->rv, (unsigned long)want,
                   (unsigned long)want_by, (unsigned long)got, (unsigned long)by);
            bad++;
        }
        if (got != CKR_OK && (count_dep11(w) != m0 || count_softhsm(w) != t0)) {
            printf("ROW FAIL %s(0x%lx): half-created object\n", cls_name[f->cls],
                   (unsigned long)f->rv);
            bad++;
        }
        assert_int_equal(unwrap(w, &w->cblob), CKR_OK); /* healed */
    }
    printf("section 5 rows: %u cases, %u failed\n", n, bad);
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_walk, walk_setup, walk_teardown),
        cmocka_unit_test_setup_teardown(test_section5_rows, walk_setup, walk_teardown),
    };

    setvbuf(stdout, NULL, _IOLBF, 0); /* progress lines as they come */
    if (getenv("DEP11_FAULT_TRACE") == NULL || getenv("DEP11_FAULT_FILE") == NULL) {
        fprintf(stderr, "test_fault_walk: run through test_fault_walk.sh\n");
        return 77;
    }
    return cmocka_run_group_tests_name("fault walk", tests, itest_group_setup,
                                       itest_group_teardown);
}
