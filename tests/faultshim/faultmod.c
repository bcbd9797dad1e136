/*
 * faultmod.c - a fault-injecting PKCS#11 2.40 module for tests. It loads the
 * real module named by $DEP11_FAULT_MODULE, forwards every function, and
 * fails, delays or rewrites calls as the spec file $DEP11_FAULT_FILE says.
 *
 * The spec is re-read on every call (a test may change or clear it at run
 * time; a missing or empty file means no faults). One rule per line:
 *   C_Decrypt rv=0x30               fail every call with that code
 *   C_Decrypt rv=0x30 token=contoso only calls on that token (by label)
 *   C_Decrypt delay-ms=200          pause before forwarding (or failing)
 *   C_Sign rv=0x30 after=3          from the 3rd matching call on
 *   C_Decrypt rv=0x30 count=1       only the first matching call(s)
 *   C_Decrypt flip=1                forward, then flip the low bit of the
 *                                   output's first byte (C_Decrypt only: a
 *                                   key that decrypts "successfully" to
 *                                   the wrong value)
 * '#' starts a comment. Matching calls are counted per rule text (other
 * words, such as "case=7", are ignored: they keep rule texts apart).
 * $DEP11_FAULT_TRACE=path: every call is appended to that file as one line
 * "C_Name token-label" ("-" for calls with no token), so a test can list the
 * backend calls an operation makes (truncate the file, run, read).
 * $DEP11_FAULT_HANDLE_OFFSET=1: every object handle the real module returns
 * is shifted up by DEP11_HANDLE_BASE and shifted back on the way in, so that
 * dep11 meets a backend whose handles fall in its reserved range.
 * $DEP11_FAULT_GCM_IV=hsm (read on every call): an HSM that generates the
 * GCM IV itself (network HSMs in FIPS mode): C_EncryptInit with CKM_AES_GCM
 * and a 12-byte IV ignores the caller's IV, draws its own, passes that down
 * and writes it into the caller's CK_GCM_PARAMS.pIv; decryption passes
 * through. $DEP11_FAULT_GCM_IV_LOG=path: each IV drawn is appended there as
 * one line "token-label hex-iv", so a test can find it in what was stored.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <p11-kit/pkcs11.h>

#include "core/handle.h"

#define EXPORT __attribute__((visibility("default")))

static CK_FUNCTION_LIST *real;
static void *real_dl;
static int handle_offset;
static pthread_mutex_t fm_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- per-rule counters (keyed by the rule's text) ---- */
#define MAX_RULES 64
static struct {
    char text[256];
    unsigned long hits;
} counters[MAX_RULES];
static unsigned long victim;

static unsigned long count_hit(const char *text)
{
    unsigned long n = 0;
    int i = 0;

    pthread_mutex_lock(&fm_lock);
    for (i = 0; i < MAX_RULES; i++) {
        if (counters[i].text[0] == '\0') {
            snprintf(counters[i].text, sizeof counters[i].text, "%s", text);
            break;
        }
        if (strcmp(counters[i].text, text) == 0)
            break;
    }
    if (i == MAX_RULES) {
        /* Full (a walk writes a new rule per case): recycle the slots in
         * turn, so the oldest rules (long gone from the file) go first. */
        i = (int)(victim++ % MAX_RULES);
        snprintf(counters[i].text, sizeof counters[i].text, "%s", text);
        counters[i].hits = 0;
    }
    n = ++counters[i].hits;
    pthread_mutex_unlock(&fm_lock);
    return n;
}

/* ---- scope of a call: none, a slot, or a session ---- */
enum scope { S_NONE, S_SLOT, S_SESS };

static int scope_label(enum scope sc, CK_ULONG key, char label[33])
{
    CK_SLOT_ID slot = key;
    CK_SESSION_INFO si;
    CK_TOKEN_INFO ti;
    int i = 32;

    if (sc == S_NONE)
        return 0;
    if (sc == S_SESS) {
        if (real->C_GetSessionInfo(key, &si) != CKR_OK)
            return 0;
        slot = si.slotID;
    }
    if (real->C_GetTokenInfo(slot, &ti) != CKR_OK)
        return 0;
    memcpy(label, ti.label, 32);
    while (i > 0 && label[i - 1] == ' ')
        i--;
    label[i] = '\0';
    return 1;
}

static void sleep_ms(unsigned long ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

    while (ms && nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Does one rule line apply to this call? Fills *rv when it fails the call. */
static int apply_rule(char *line, const char *fn, enum scope sc, CK_ULONG key, CK_RV *rv,
                      int *flip)
{
    char text[256], label[33], *tok = NULL, *save = NULL;
    unsigned long after = 0, count = 0, delay = 0, n = 0;
    int has_rv = 0, has_flip = 0;
    const char *token = NULL;

    snprintf(text, sizeof text, "%s", line);
    tok = strtok_r(line, " \t", &save);
    if (tok == NULL || strcmp(tok, fn) != 0)
        return 0;
    while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
        if (strncmp(tok, "rv=", 3) == 0) {
            *rv = strtoul(tok + 3, NULL, 0);
            has_rv = 1;
        } else if (strncmp(tok, "token=", 6) == 0) {
            token = tok + 6;
        } else if (strncmp(tok, "delay-ms=", 9) == 0) {
            delay = strtoul(tok + 9, NULL, 0);
        } else if (strncmp(tok, "after=", 6) == 0) {
            after = strtoul(tok + 6, NULL, 0);
        } else if (strncmp(tok, "count=", 6) == 0) {
            count = strtoul(tok + 6, NULL, 0);
        } else if (strcmp(tok, "flip=1") == 0) {
            has_flip = 1;
        }
    }
    if (has_flip && flip == NULL)
        return 0; /* only C_Decrypt rewrites its output */
    if (token != NULL && (!scope_label(sc, key, label) || strcmp(label, token) != 0))
        return 0;
    n = count_hit(text);
    if (after > 0 && n < after)
        return 0;
    if (count > 0 && n >= (after > 0 ? after : 1) + count)
        return 0;
    sleep_ms(delay);
    if (has_flip)
        *flip = 1;
    return has_rv;
}

/* Appends "fn label" to $DEP11_FAULT_TRACE when it is set. */
static void trace(const char *fn, enum scope sc, CK_ULONG key)
{
    const char *path = getenv("DEP11_FAULT_TRACE");
    char label[33] = "-";
    FILE *fp = NULL;

    if (path == NULL || *path == '\0' || real == NULL)
        return;
    if (!scope_label(sc, key, label))
        snprintf(label, sizeof label, "-");
    pthread_mutex_lock(&fm_lock);
    if ((fp = fopen(path, "ae")) != NULL) {
        fprintf(fp, "%s %s\n", fn, label);
        fclose(fp);
    }
    pthread_mutex_unlock(&fm_lock);
}

/* 1 (and *rv) when the spec fails this call of @fn; *@flip (when not
 * NULL) is set when a flip rule applies to it. */
static int fault_flip(const char *fn, enum scope sc, CK_ULONG key, CK_RV *rv, int *flip)
{
    const char *path = getenv("DEP11_FAULT_FILE");
    char line[256];
    FILE *fp = NULL;
    int hit = 0;

    trace(fn, sc, key);
    if (path == NULL || real == NULL || (fp = fopen(path, "re")) == NULL)
        return 0;
    while (!hit && fgets(line, sizeof line, fp) != NULL) {
        line[strcspn(line, "#\r\n")] = '\0';
        hit = apply_rule(line, fn, sc, key, rv, flip);
    }
    fclose(fp);
    return hit;
}

static int fault(const char *fn, enum scope sc, CK_ULONG key, CK_RV *rv)
{
    return fault_flip(fn, sc, key, rv, NULL);
}

/* ---- object handle translation ---- */
static CK_OBJECT_HANDLE h_in(CK_OBJECT_HANDLE h)
{
    if (!handle_offset || h == CK_INVALID_HANDLE)
        return h;
    /* A handle below the base was never handed out: make it invalid. */
    return h >= DEP11_HANDLE_BASE ? h - DEP11_HANDLE_BASE : (CK_OBJECT_HANDLE)-1;
}

static void h_out(CK_RV rv, CK_OBJECT_HANDLE_PTR p, CK_ULONG n)
{
    CK_ULONG i = 0;

    if (!handle_offset || rv != CKR_OK || p == NULL)
        return;
    for (i = 0; i < n; i++)
        if (p[i] != CK_INVALID_HANDLE)
            p[i] += DEP11_HANDLE_BASE;
}

#define CHECK(fn, sc, key)                                                   \
    do {                                                                     \
        CK_RV frv_ = CKR_OK;                                                 \
        if (fault(#fn, sc, (CK_ULONG)(key), &frv_))                          \
            return frv_;                                                     \
    } while (0)

/* Plain forwarders: FWD(scope, name, (params), (args), scope key). */
#define FWD(sc, fn, params, args, key)                                       \
    static CK_RV fm_##fn params                                              \
    {                                                                        \
        CHECK(fn, sc, key);                                                  \
        return real->fn args;                                                \
    }

FWD(S_NONE, C_GetInfo, (CK_INFO_PTR a), (a), 0)
FWD(S_NONE, C_GetSlotList, (CK_BBOOL a, CK_SLOT_ID_PTR b, CK_ULONG_PTR c), (a, b, c), 0)
FWD(S_SLOT, C_GetSlotInfo, (CK_SLOT_ID a, CK_SLOT_INFO_PTR b), (a, b), a)
FWD(S_SLOT, C_GetTokenInfo, (CK_SLOT_ID a, CK_TOKEN_INFO_PTR b), (a, b), a)
FWD(S_SLOT, C_GetMechanismList, (CK_SLOT_ID a, CK_MECHANISM_TYPE_PTR b, CK_ULONG_PTR c),
    (a, b, c), a)
FWD(S_SLOT, C_GetMechanismInfo, (CK_SLOT_ID a, CK_MECHANISM_TYPE b, CK_MECHANISM_INFO_PTR c),
    (a, b, c), a)
FWD(S_SLOT, C_InitToken, (CK_SLOT_ID a, CK_UTF8CHAR_PTR b, CK_ULONG c, CK_UTF8CHAR_PTR d),
    (a, b, c, d), a)
FWD(S_SESS, C_InitPIN, (CK_SESSION_HANDLE a, CK_UTF8CHAR_PTR b, CK_ULONG c), (a, b, c), a)
FWD(S_SESS, C_SetPIN, (CK_SESSION_HANDLE a, CK_UTF8CHAR_PTR b, CK_ULONG c, CK_UTF8CHAR_PTR d,
    CK_ULONG e), (a, b, c, d, e), a)
FWD(S_SLOT, C_OpenSession, (CK_SLOT_ID a, CK_FLAGS b, CK_VOID_PTR c, CK_NOTIFY d,
    CK_SESSION_HANDLE_PTR e), (a, b, c, d, e), a)
FWD(S_SESS, C_CloseSession, (CK_SESSION_HANDLE a), (a), a)
FWD(S_SLOT, C_CloseAllSessions, (CK_SLOT_ID a), (a), a)
FWD(S_SESS, C_GetSessionInfo, (CK_SESSION_HANDLE a, CK_SESSION_INFO_PTR b), (a, b), a)
FWD(S_SESS, C_GetOperationState, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c),
    (a, b, c), a)
FWD(S_SESS, C_SetOperationState, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c,
    CK_OBJECT_HANDLE d, CK_OBJECT_HANDLE e), (a, b, c, h_in(d), h_in(e)), a)
FWD(S_SESS, C_Login, (CK_SESSION_HANDLE a, CK_USER_TYPE b, CK_UTF8CHAR_PTR c, CK_ULONG d),
    (a, b, c, d), a)
FWD(S_SESS, C_Logout, (CK_SESSION_HANDLE a), (a), a)
FWD(S_SESS, C_DestroyObject, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b), (a, h_in(b)), a)
FWD(S_SESS, C_GetObjectSize, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ULONG_PTR c),
    (a, h_in(b), c), a)
FWD(S_SESS, C_GetAttributeValue, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c,
    CK_ULONG d), (a, h_in(b), c, d), a)
FWD(S_SESS, C_SetAttributeValue, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c,
    CK_ULONG d), (a, h_in(b), c, d), a)
FWD(S_SESS, C_FindObjectsInit, (CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c),
    (a, b, c), a)

/* Calls that end an operation: a faulted one still runs for real first, so
 * that the real module's operation ends as PKCS#11 says an error ends it. */
#define FWD_T(sc, fn, params, args, key)                                     \
    static CK_RV fm_##fn params                                              \
    {                                                                        \
        CK_RV frv_ = CKR_OK;                                                 \
        if (fault(#fn, sc, (CK_ULONG)(key), &frv_)) {                        \
            (void)real->fn args;                                             \
            return frv_;                                                     \
        }                                                                    \
        return real->fn args;                                                \
    }

FWD_T(S_SESS, C_FindObjectsFinal, (CK_SESSION_HANDLE a), (a), a)

/* Data functions: (session, mechanism, key) inits and buffer calls. */
#define FWD_INIT(fn)                                                         \
    FWD(S_SESS, fn, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c), \
        (a, b, h_in(c)), a)
#define FWD_ONE(fn)                                                          \
    FWD_T(S_SESS, fn, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, \
        CK_ULONG_PTR e), (a, b, c, d, e), a)
#define FWD_UPD(fn)                                                          \
    FWD(S_SESS, fn, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c), a)
#define FWD_FIN(fn)                                                          \
    FWD_T(S_SESS, fn, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c), (a, b, c), a)

/* clang-format off */
FWD_ONE(C_Encrypt) FWD_ONE(C_EncryptUpdate) FWD_FIN(C_EncryptFinal)
FWD_INIT(C_DecryptInit) FWD_ONE(C_DecryptUpdate) FWD_FIN(C_DecryptFinal)
FWD(S_SESS, C_DigestInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b), (a, b), a)
FWD_ONE(C_Digest) FWD_UPD(C_DigestUpdate) FWD_FIN(C_DigestFinal)
FWD(S_SESS, C_DigestKey, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b), (a, h_in(b)), a)
FWD_INIT(C_SignInit) FWD_ONE(C_Sign) FWD_UPD(C_SignUpdate) FWD_FIN(C_SignFinal)
FWD_INIT(C_SignRecoverInit) FWD_ONE(C_SignRecover)
FWD_INIT(C_VerifyInit)
FWD_T(S_SESS, C_Verify, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,
    CK_ULONG e), (a, b, c, d, e), a)
FWD_UPD(C_VerifyUpdate)
FWD_T(S_SESS, C_VerifyFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c), (a, b, c), a)
FWD_INIT(C_VerifyRecoverInit) FWD_ONE(C_VerifyRecover)
FWD_ONE(C_DigestEncryptUpdate) FWD_ONE(C_DecryptDigestUpdate)
FWD_ONE(C_SignEncryptUpdate) FWD_ONE(C_DecryptVerifyUpdate)
FWD(S_SESS, C_WrapKey, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c,
    CK_OBJECT_HANDLE d, CK_BYTE_PTR e, CK_ULONG_PTR f), (a, b, h_in(c), h_in(d), e, f), a)
FWD_UPD(C_SeedRandom) FWD_UPD(C_GenerateRandom)
FWD(S_SESS, C_GetFunctionStatus, (CK_SESSION_HANDLE a), (a), a)
FWD(S_SESS, C_CancelFunction, (CK_SESSION_HANDLE a), (a), a)
FWD(S_NONE, C_WaitForSlotEvent, (CK_FLAGS a, CK_SLOT_ID_PTR b, CK_VOID_PTR c), (a, b, c), 0)

/* C_Decrypt: as FWD_ONE, and a flip rule rewrites a successful output. */
static CK_RV fm_C_Decrypt(CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,
                          CK_ULONG_PTR e)
{
    CK_RV rv = CKR_OK;
    int flip = 0;

    if (fault_flip("C_Decrypt", S_SESS, a, &rv, &flip)) {
        (void)real->C_Decrypt(a, b, c, d, e);
        return rv;
    }
    rv = real->C_Decrypt(a, b, c, d, e);
    if (flip && rv == CKR_OK && d != NULL && e != NULL && *e > 0)
        d[0] ^= 0x01;
    return rv;
}
/* clang-format on */

/* ---- an HSM that makes the GCM IV ($DEP11_FAULT_GCM_IV=hsm) ---- */
#define GCM_IV_LEN 12

static int gcm_hsm_iv(CK_MECHANISM_PTR m)
{
    const char *mode = getenv("DEP11_FAULT_GCM_IV");

    return mode != NULL && strcmp(mode, "hsm") == 0 && m != NULL &&
           m->mechanism == CKM_AES_GCM && m->pParameter != NULL &&
           m->ulParameterLen == sizeof(CK_GCM_PARAMS);
}

/* Appends "label hex-iv" to $DEP11_FAULT_GCM_IV_LOG when it is set. */
static void log_iv(CK_SESSION_HANDLE s, const CK_BYTE iv[GCM_IV_LEN])
{
    const char *path = getenv("DEP11_FAULT_GCM_IV_LOG");
    char label[33] = "-";
    FILE *fp = NULL;

    if (path == NULL || *path == '\0')
        return;
    if (!scope_label(S_SESS, s, label))
        snprintf(label, sizeof label, "-");
    pthread_mutex_lock(&fm_lock);
    if ((fp = fopen(path, "ae")) != NULL) {
        fprintf(fp, "%s ", label);
        for (int i = 0; i < GCM_IV_LEN; i++)
            fprintf(fp, "%02x", iv[i]);
        fprintf(fp, "\n");
        fclose(fp);
    }
    pthread_mutex_unlock(&fm_lock);
}

/* C_EncryptInit: as FWD_INIT; in the GCM IV mode the IV is the shim's. */
static CK_RV fm_C_EncryptInit(CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c)
{
    CK_GCM_PARAMS own;
    CK_MECHANISM m;
    CK_BYTE iv[GCM_IV_LEN];
    CK_RV rv = CKR_OK;

    CHECK(C_EncryptInit, S_SESS, a);
    if (!gcm_hsm_iv(b))
        return real->C_EncryptInit(a, b, h_in(c));
    memcpy(&own, b->pParameter, sizeof own);
    if (own.pIv == NULL || own.ulIvLen != GCM_IV_LEN)
        return CKR_MECHANISM_PARAM_INVALID; /* this HSM makes 12-byte IVs only */
    if (getrandom(iv, sizeof iv, 0) != (ssize_t)sizeof iv)
        return CKR_DEVICE_ERROR;
    own.pIv = iv;
    m = *b;
    m.pParameter = &own;
    rv = real->C_EncryptInit(a, &m, h_in(c));
    if (rv == CKR_OK) {
        memcpy(((CK_GCM_PARAMS *)b->pParameter)->pIv, iv, sizeof iv);
        log_iv(a, iv);
    }
    return rv;
}

/* ---- functions that hand out object handles ---- */
static CK_RV fm_C_CreateObject(CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c,
                               CK_OBJECT_HANDLE_PTR d)
{
    CK_RV rv = CKR_OK;

    CHECK(C_CreateObject, S_SESS, a);
    rv = real->C_CreateObject(a, b, c, d);
    h_out(rv, d, 1);
    return rv;
}

static CK_RV fm_C_CopyObject(CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c,
                             CK_ULONG d, CK_OBJECT_HANDLE_PTR e)
{
    CK_RV rv = CKR_OK;

    CHECK(C_CopyObject, S_SESS, a);
    rv = real->C_CopyObject(a, h_in(b), c, d, e);
    h_out(rv, e, 1);
    return rv;
}

static CK_RV fm_C_FindObjects(CK_SESSION_HANDLE a, CK_OBJECT_HANDLE_PTR b, CK_ULONG c,
                              CK_ULONG_PTR d)
{
    CK_RV rv = CKR_OK;

    CHECK(C_FindObjects, S_SESS, a);
    rv = real->C_FindObjects(a, b, c, d);
    h_out(rv, b, rv == CKR_OK && d != NULL ? *d : 0);
    return rv;
}

static CK_RV fm_C_GenerateKey(CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c,
                              CK_ULONG d, CK_OBJECT_HANDLE_PTR e)
{
    CK_RV rv = CKR_OK;

    CHECK(C_GenerateKey, S_SESS, a);
    rv = real->C_GenerateKey(a, b, c, d, e);
    h_out(rv, e, 1);
    return rv;
}

static CK_RV fm_C_GenerateKeyPair(CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c,
                                  CK_ULONG d, CK_ATTRIBUTE_PTR e, CK_ULONG f,
                                  CK_OBJECT_HANDLE_PTR g, CK_OBJECT_HANDLE_PTR h)
{
    CK_RV rv = CKR_OK;

    CHECK(C_GenerateKeyPair, S_SESS, a);
    rv = real->C_GenerateKeyPair(a, b, c, d, e, f, g, h);
    h_out(rv, g, 1);
    h_out(rv, h, 1);
    return rv;
}

static CK_RV fm_C_UnwrapKey(CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c,
                            CK_BYTE_PTR d, CK_ULONG e, CK_ATTRIBUTE_PTR f, CK_ULONG g,
                            CK_OBJECT_HANDLE_PTR h)
{
    CK_RV rv = CKR_OK;

    CHECK(C_UnwrapKey, S_SESS, a);
    rv = real->C_UnwrapKey(a, b, h_in(c), d, e, f, g, h);
    h_out(rv, h, 1);
    return rv;
}

static CK_RV fm_C_DeriveKey(CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c,
                            CK_ATTRIBUTE_PTR d, CK_ULONG e, CK_OBJECT_HANDLE_PTR f)
{
    CK_RV rv = CKR_OK;

    CHECK(C_DeriveKey, S_SESS, a);
    rv = real->C_DeriveKey(a, b, h_in(c), d, e, f);
    h_out(rv, f, 1);
    return rv;
}

/* ---- life cycle ---- */
static CK_RV fm_C_Initialize(CK_VOID_PTR a)
{
    CHECK(C_Initialize, S_NONE, 0);
    return real->C_Initialize(a);
}

static CK_RV fm_C_Finalize(CK_VOID_PTR a)
{
    CHECK(C_Finalize, S_NONE, 0);
    return real->C_Finalize(a);
}

static CK_RV fm_C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR a);

static CK_FUNCTION_LIST fm_list = {
    .version = { 2, 40 },
#define E(fn) .fn = fm_##fn
    E(C_Initialize), E(C_Finalize), E(C_GetInfo), E(C_GetFunctionList),
    E(C_GetSlotList), E(C_GetSlotInfo), E(C_GetTokenInfo), E(C_GetMechanismList),
    E(C_GetMechanismInfo), E(C_InitToken), E(C_InitPIN), E(C_SetPIN),
    E(C_OpenSession), E(C_CloseSession), E(C_CloseAllSessions), E(C_GetSessionInfo),
    E(C_GetOperationState), E(C_SetOperationState), E(C_Login), E(C_Logout),
    E(C_CreateObject), E(C_CopyObject), E(C_DestroyObject), E(C_GetObjectSize),
    E(C_GetAttributeValue), E(C_SetAttributeValue), E(C_FindObjectsInit),
    E(C_FindObjects), E(C_FindObjectsFinal), E(C_EncryptInit), E(C_Encrypt),
    E(C_EncryptUpdate), E(C_EncryptFinal), E(C_DecryptInit), E(C_Decrypt),
    E(C_DecryptUpdate), E(C_DecryptFinal), E(C_DigestInit), E(C_Digest),
    E(C_DigestUpdate), E(C_DigestKey), E(C_DigestFinal), E(C_SignInit), E(C_Sign),
    E(C_SignUpdate), E(C_SignFinal), E(C_SignRecoverInit), E(C_SignRecover),
    E(C_VerifyInit), E(C_Verify), E(C_VerifyUpdate), E(C_VerifyFinal),
    E(C_VerifyRecoverInit), E(C_VerifyRecover), E(C_DigestEncryptUpdate),
    E(C_DecryptDigestUpdate), E(C_SignEncryptUpdate), E(C_DecryptVerifyUpdate),
    E(C_GenerateKey), E(C_GenerateKeyPair), E(C_WrapKey), E(C_UnwrapKey),
    E(C_DeriveKey), E(C_SeedRandom), E(C_GenerateRandom), E(C_GetFunctionStatus),
    E(C_CancelFunction), E(C_WaitForSlotEvent),
#undef E
};

static CK_RV fm_C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR a)
{
    if (a == NULL)
        return CKR_ARGUMENTS_BAD;
    *a = &fm_list;
    return CKR_OK;
}

/* Loads the real module once; its list is forwarded to from then on. */
static CK_RV load_real(void)
{
    const char *path = getenv("DEP11_FAULT_MODULE");
    const char *off = getenv("DEP11_FAULT_HANDLE_OFFSET");
    CK_C_GetFunctionList gfl = NULL;
    CK_RV rv = CKR_FUNCTION_FAILED;

    pthread_mutex_lock(&fm_lock);
    if (real != NULL) {
        rv = CKR_OK;
        goto out;
    }
    if (path == NULL || (real_dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
        fprintf(stderr, "faultmod: cannot load DEP11_FAULT_MODULE=%s: %s\n",
                path ? path : "(unset)", path ? dlerror() : "");
        goto out;
    }
    gfl = (CK_C_GetFunctionList)dlsym(real_dl, "C_GetFunctionList");
    if (gfl == NULL || gfl(&real) != CKR_OK || real == NULL) {
        real = NULL;
        goto out;
    }
    handle_offset = off != NULL && strcmp(off, "1") == 0;
    rv = CKR_OK;
out:
    pthread_mutex_unlock(&fm_lock);
    return rv;
}

EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR a)
{
    CK_RV rv = load_real();

    if (rv != CKR_OK)
        return rv;
    return fm_C_GetFunctionList(a);
}
