/*
 * message.c - PKCS#11 3.0 message-based encryption (C_MessageEncryptInit ...
 * C_MessageDecryptFinal) for CKM_DEP11_AEAD and CKM_DEP11_CHUNK_AEAD on
 * module-side keys, and C_LoginUser / C_SessionCancel. Each message is one
 * hier/aead.c operation started with the mechanism parameter that
 * C_Encrypt would get for the same message (include/dep11.h): the output
 * is the same nonce || ciphertext || tag, and no crypto is done here.
 * A message-based operation lives in the session (one per direction),
 * holds its key's reference until C_Message*Final, and runs under the
 * session's own lock like cipher.c's module-side operations.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/mech.h"
#include "core/ops.h"
#include "util/log.h"

/* One direction's message-based operation of a session. */
struct dep11_msg {
    int active;     /* from Init to Final */
    int in_message; /* from Begin to the Next with END */
    CK_MECHANISM_TYPE mech;
    struct dep11_object *key;    /* referenced while active */
    struct dep11_aead_op *op;    /* the current message; kept for reuse */
    CK_DEP11_CHUNK_PARAMS param; /* the parameter of Begin (chunk) */
    CK_ULONG param_len;
    CK_ULONG done; /* bytes out (encrypt) / in (decrypt) so far */
};

/**
 * dep11_msg_free - see core.h: ends @m (NULL ok), cleanses and frees it.
 */
void dep11_msg_free(struct dep11_msg *m)
{
    if (m == NULL)
        return;
    dep11_aead_free(m->op);
    dep11_object_release(m->key);
    free(m);
}

/**
 * dep11_msg_active - see core.h: 1 while @m (NULL ok) runs, from Init to Final.
 */
int dep11_msg_active(const struct dep11_msg *m)
{
    return m != NULL && m->active;
}

/* Ends the message-based operation of @m (the op parked, cleansed); its
 * key's reference goes to *@drop, released outside the session lock. */
static void msg_end(struct dep11_msg *m, struct dep11_object **drop)
{
    dep11_aead_park(m->op);
    m->active = 0;
    m->in_message = 0;
    *drop = m->key;
    m->key = NULL;
}

/* Takes @s's lock and finds its running operation of @encrypt in *@out.
 * CKR_OPERATION_NOT_INITIALIZED (unlocked again) when none runs. */
static CK_RV msg_lock(struct dep11_session *s, int encrypt, struct dep11_msg **out)
{
    struct dep11_msg *m = NULL;
    CK_RV rv = CKR_OPERATION_NOT_INITIALIZED;

    dep11_session_lock(s);
    m = *dep11_session_msg_slot(s, encrypt);
    if (m == NULL || !m->active) {
        dep11_session_unlock(s);
        LOG_FAIL(rv, "no message-based %s operation", encrypt ? "encryption" : "decryption");
        return rv;
    }
    *out = m;
    return CKR_OK;
}

/* Every step's start: @hSession acquired in *@s and locked, its running
 * operation of @encrypt in *@m; on a refusal nothing is held. */
static CK_RV msg_enter(CK_SESSION_HANDLE hSession, int encrypt, struct dep11_session **s,
                       struct dep11_msg **m)
{
    CK_RV rv = dep11_session_acquire(hSession, s);

    if (rv != CKR_OK)
        return rv;
    rv = msg_lock(*s, encrypt, m);
    if (rv != CKR_OK) {
        dep11_session_release(*s);
        *s = NULL;
    }
    return rv;
}

/*
 * The first check of every step: an operation whose key the object table
 * has dropped ends (DESIGN section 2), like cipher.c's. *@dead = 1 then.
 */
static CK_RV msg_alive(struct dep11_msg *m, struct dep11_object **drop, int *dead)
{
    CK_RV rv = CKR_KEY_HANDLE_INVALID;

    if (!dep11_object_dead(m->key))
        return CKR_OK;
    LOG_FAIL(rv, "the operation's key is gone: the message-based operation ends");
    msg_end(m, drop);
    *dead = 1;
    return rv;
}

/* The check of the steps that start a message: the key alive (msg_alive)
 * and no multi-part message under way (CKR_OPERATION_ACTIVE). */
static CK_RV msg_idle(struct dep11_msg *m, struct dep11_object **drop, int *dead)
{
    CK_RV rv = msg_alive(m, drop, dead);

    if (rv == CKR_OK && m->in_message) {
        rv = CKR_OPERATION_ACTIVE;
        LOG_FAIL(rv, "a multi-part message is under way");
    }
    return rv;
}

/* Unlocks @s, releases @drop, and tells a key that died with C_Logout. */
static CK_RV msg_unlock(struct dep11_session *s, CK_RV rv, struct dep11_object *drop, int dead)
{
    dep11_session_unlock(s);
    dep11_object_release(drop);
    if (dead && dep11_session_require_user(s) != CKR_OK)
        rv = CKR_USER_NOT_LOGGED_IN;
    dep11_session_release(s);
    return rv;
}

/*
 * Starts the op of one message of @m: the C_Encrypt mechanism of that
 * message (include/dep11.h) from the per-message @param and the @aad.
 */
static CK_RV msg_start(struct dep11_msg *m, int encrypt, const void *param, CK_ULONG plen,
                       const CK_BYTE *aad, CK_ULONG alen)
{
    CK_RV rv = CKR_MECHANISM_PARAM_INVALID;
    CK_MECHANISM mech = { m->mech, NULL, 0 };
    CK_DEP11_AEAD_PARAMS ap = { (CK_BYTE_PTR)aad, alen };
    CK_DEP11_CHUNK_FLAT_PARAMS *flat = NULL;
    size_t flen = sizeof(*flat) + alen;

    if (aad == NULL && alen != 0) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "associated data NULL with length %lu", alen);
        return rv;
    }
    if (alen > DEP11_AAD_MAX) {
        rv = CKR_DATA_LEN_RANGE;
        LOG_FAIL(rv, "%lu bytes of associated data (at most %lu)", alen, DEP11_AAD_MAX);
        return rv;
    }
    if (m->mech == CKM_DEP11_AEAD && (param != NULL || plen != 0)) {
        LOG_FAIL(rv, "CKM_DEP11_AEAD messages take no parameter (%lu bytes given)", plen);
        return rv;
    }
    if (m->mech == CKM_DEP11_CHUNK_AEAD && (param == NULL || plen != sizeof(m->param))) {
        LOG_FAIL(rv, "CKM_DEP11_CHUNK_AEAD message parameter of %lu bytes", plen);
        return rv;
    }
    if (m->mech == CKM_DEP11_AEAD && alen != 0) {
        mech.pParameter = &ap;
        mech.ulParameterLen = sizeof(ap);
    } else if (m->mech == CKM_DEP11_CHUNK_AEAD && alen == 0) {
        mech.pParameter = (void *)param;
        mech.ulParameterLen = plen;
    } else if (m->mech == CKM_DEP11_CHUNK_AEAD) {
        if ((flat = malloc(flen)) == NULL) {
            rv = CKR_HOST_MEMORY;
            LOG_FAIL(rv, "chunk parameter of %zu bytes", flen);
            return rv;
        }
        memset(flat, 0, sizeof(*flat));
        memcpy(flat, param, plen); /* fileId, ulChunkIndex: the same offsets */
        flat->ulVersion = DEP11_AEAD_FLAT_VERSION;
        flat->ulAADLen = alen;
        memcpy(flat + 1, aad, alen);
        mech.pParameter = flat;
        mech.ulParameterLen = flen;
    }
    rv =
        dep11_aead_reinit(dep11_core_config(), dep11_object_key(m->key), encrypt, &mech, m->op);
    free(flat); /* the op copied the AAD */
    return rv;
}

/* The Init's checks and the probe that refuses a wrong key at Init (the
 * session locked). */
static CK_RV msg_check_init(struct dep11_msg *m, int encrypt, CK_MECHANISM_PTR mech)
{
    CK_RV rv = CKR_MECHANISM_INVALID;
    CK_DEP11_CHUNK_PARAMS probe;

    if (dep11_mech_find(mech->mechanism) == NULL ||
        dep11_mech_refuses(mech->mechanism,
                           encrypt ? CKF_MESSAGE_ENCRYPT : CKF_MESSAGE_DECRYPT)) {
        LOG_FAIL(rv, "mechanism 0x%lx has no message-based form on a dep11 key",
                 mech->mechanism);
        return rv;
    }
    rv = CKR_MECHANISM_PARAM_INVALID;
    if (mech->pParameter != NULL || mech->ulParameterLen != 0) {
        LOG_FAIL(rv, "the message-based Init takes no parameter (%lu bytes given)",
                 mech->ulParameterLen);
        return rv;
    }
    m->mech = mech->mechanism;
    memset(&probe, 0, sizeof(probe));
    if (m->op == NULL) {
        CK_MECHANISM first = { CKM_DEP11_AEAD, NULL, 0 };
        if (m->mech == CKM_DEP11_CHUNK_AEAD) {
            first.mechanism = m->mech;
            first.pParameter = &probe;
            first.ulParameterLen = sizeof(probe);
        }
        rv = dep11_aead_init(dep11_core_config(), dep11_object_key(m->key), encrypt, &first,
                             &m->op);
    } else {
        rv = msg_start(m, encrypt, m->mech == CKM_DEP11_AEAD ? NULL : &probe,
                       m->mech == CKM_DEP11_AEAD ? 0 : sizeof(probe), NULL, 0);
    }
    dep11_aead_park(m->op);
    return rv;
}

/* Resolves @hKey for a message-based Init: a module-side key in *@obj, or
 * the most precise refusal for anything else. */
static CK_RV msg_key(struct dep11_session *s, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE hKey,
                     struct dep11_object **obj)
{
    CK_OBJECT_HANDLE bk = CK_INVALID_HANDLE;
    CK_RV rv = dep11_object_resolve(s, hKey, obj, &bk);

    if (rv == CKR_OBJECT_HANDLE_INVALID)
        rv = CKR_KEY_HANDLE_INVALID;
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "key handle 0x%lx", hKey);
        return rv;
    }
    if (*obj != NULL)
        return CKR_OK;
    if (dep11_mech_find(mech->mechanism) != NULL) {
        rv = CKR_KEY_TYPE_INCONSISTENT;
        LOG_FAIL(rv, "mechanism 0x%lx needs a dep11 key", mech->mechanism);
    } else {
        rv = CKR_MECHANISM_INVALID;
        LOG_FAIL(rv, "no message-based encryption on backend keys (the backend is 2.40)");
    }
    return rv;
}

/**
 * dep11_core_MessageCryptInit - C_MessageEncryptInit (@encrypt 1) and
 * C_MessageDecryptInit (0). See ops.h.
 */
CK_RV dep11_core_MessageCryptInit(CK_SESSION_HANDLE hSession, int encrypt,
                                  CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
    struct dep11_session *s = NULL;
    struct dep11_object *obj = NULL;
    struct dep11_msg **slot = NULL;
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv != CKR_OK)
        return rv;
    rv = CKR_ARGUMENTS_BAD;
    if (pMechanism == NULL) {
        LOG_FAIL(rv, "NULL mechanism");
        goto out;
    }
    rv = msg_key(s, pMechanism, hKey, &obj);
    if (rv == CKR_OK)
        rv = dep11_session_require_user(s); /* lock 2: before the session's */
    if (rv != CKR_OK)
        goto out;
    dep11_session_lock(s);
    /* LOCKED: session operation state */
    slot = dep11_session_msg_slot(s, encrypt);
    if (*slot != NULL && (*slot)->active) {
        rv = CKR_OPERATION_ACTIVE;
        LOG_FAIL(rv, "a message-based operation is already active on the session");
    } else if (*slot == NULL && (*slot = calloc(1, sizeof(**slot))) == NULL) {
        rv = CKR_HOST_MEMORY;
        LOG_FAIL(rv, "message-based operation");
    } else {
        (*slot)->key = obj;
        rv = msg_check_init(*slot, encrypt, pMechanism);
        (*slot)->key = NULL;
        if (rv == CKR_OK) {
            (*slot)->key = obj; /* the operation holds the reference */
            (*slot)->active = 1;
            (*slot)->in_message = 0;
            obj = NULL;
        }
    }
    dep11_session_unlock(s);
out:
    dep11_object_release(obj);
    dep11_session_release(s);
    return rv;
}

/**
 * dep11_core_CryptMessage - C_EncryptMessage / C_DecryptMessage: one whole
 * message. See ops.h.
 */
CK_RV dep11_core_CryptMessage(CK_SESSION_HANDLE hSession, int encrypt, CK_VOID_PTR pParameter,
                              CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
                              CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pIn, CK_ULONG ulInLen,
                              CK_BYTE_PTR pOut, CK_ULONG_PTR pulOutLen)
{
    struct dep11_session *s = NULL;
    struct dep11_object *drop = NULL;
    struct dep11_msg *m = NULL;
    int dead = 0;
    CK_RV rv = msg_enter(hSession, encrypt, &s, &m);

    if (rv != CKR_OK)
        return rv;
    /* LOCKED: session operation state; hier runs here without the HSM */
    rv = msg_idle(m, &drop, &dead);
    if (rv == CKR_OK && (pulOutLen == NULL || (pIn == NULL && ulInLen != 0))) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL data or length pointer");
    }
    if (rv == CKR_OK) {
        rv = msg_start(m, encrypt, pParameter, ulParameterLen, pAssociatedData,
                       ulAssociatedDataLen);
        if (rv == CKR_OK)
            rv = dep11_aead_oneshot(m->op, pIn, ulInLen, pOut, pulOutLen);
        dep11_aead_park(m->op); /* every message has its own nonce */
    }
    return msg_unlock(s, rv, drop, dead);
}

/**
 * dep11_core_CryptMessageBegin - C_EncryptMessageBegin /
 * C_DecryptMessageBegin. See ops.h.
 */
CK_RV dep11_core_CryptMessageBegin(CK_SESSION_HANDLE hSession, int encrypt,
                                   CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                                   CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen)
{
    struct dep11_session *s = NULL;
    struct dep11_object *drop = NULL;
    struct dep11_msg *m = NULL;
    int dead = 0;
    CK_RV rv = msg_enter(hSession, encrypt, &s, &m);

    if (rv != CKR_OK)
        return rv;
    /* LOCKED: session operation state */
    rv = msg_idle(m, &drop, &dead);
    if (rv == CKR_OK)
        rv = msg_start(m, encrypt, pParameter, ulParameterLen, pAssociatedData,
                       ulAssociatedDataLen);
    if (rv == CKR_OK) {
        m->in_message = 1;
        m->done = 0;
        m->param_len = ulParameterLen;
        if (ulParameterLen != 0)
            memcpy(&m->param, pParameter, ulParameterLen);
    }
    return msg_unlock(s, rv, drop, dead);
}

/* The output of the part that ends a message: its own update, then the
 * final, in one buffer of the length the dep11 form needs. */
static CK_RV msg_last(struct dep11_msg *m, int encrypt, CK_BYTE_PTR in, CK_ULONG in_len,
                      CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    CK_RV rv = CKR_BUFFER_TOO_SMALL;
    CK_ULONG need = 0, n1 = 0, n2 = 0, total = m->done + in_len;

    if (encrypt)
        need = (m->done == 0 ? DEP11_NONCE_LEN : 0) + in_len + DEP11_TAG_LEN;
    else
        need = total >= DEP11_AEAD_OVERHEAD ? total - DEP11_AEAD_OVERHEAD : 0;
    if (out == NULL) {
        *out_len = need;
        return CKR_OK;
    }
    if (*out_len < need) {
        LOG_FAIL(rv, "%lu bytes for a last part of %lu", *out_len, need);
        *out_len = need;
        return rv;
    }
    n1 = *out_len;
    rv = dep11_aead_update(m->op, in, in_len, out, &n1);
    if (rv == CKR_OK) {
        n2 = *out_len - n1;
        rv = dep11_aead_final(m->op, out + n1, &n2);
    }
    if (rv == CKR_OK)
        *out_len = n1 + n2;
    return rv;
}

/* One part of a multi-part message (the session locked). */
static CK_RV msg_part(struct dep11_msg *m, int encrypt, CK_VOID_PTR param, CK_ULONG plen,
                      CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len,
                      CK_FLAGS flags)
{
    CK_RV rv = CKR_ARGUMENTS_BAD;
    CK_BYTE none = 0;

    if (out_len == NULL || (in == NULL && in_len != 0) || (flags & ~CKF_END_OF_MESSAGE)) {
        LOG_FAIL(rv, "NULL data or length pointer, or flags 0x%lx", flags);
        return rv;
    }
    rv = CKR_MECHANISM_PARAM_INVALID;
    if (plen != m->param_len ||
        (plen != 0 && (param == NULL || memcmp(param, &m->param, plen)))) {
        LOG_FAIL(rv, "the parameter differs from the one of the message's Begin");
        return rv;
    }
    if (flags & CKF_END_OF_MESSAGE)
        return msg_last(m, encrypt, in, in_len, out, out_len);
    /* A decrypt part releases nothing: it is buffered even without an
     * output buffer (aead.c takes a NULL one for a size query). */
    rv = dep11_aead_update(m->op, in, in_len, encrypt ? out : &none, out_len);
    if (rv == CKR_OK && (out != NULL || !encrypt))
        m->done += encrypt ? *out_len : in_len;
    return rv;
}

/**
 * dep11_core_CryptMessageNext - C_EncryptMessageNext /
 * C_DecryptMessageNext. See ops.h.
 */
CK_RV dep11_core_CryptMessageNext(CK_SESSION_HANDLE hSession, int encrypt,
                                  CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                                  CK_BYTE_PTR pIn, CK_ULONG ulInLen, CK_BYTE_PTR pOut,
                                  CK_ULONG_PTR pulOutLen, CK_FLAGS flags)
{
    struct dep11_session *s = NULL;
    struct dep11_object *drop = NULL;
    struct dep11_msg *m = NULL;
    int dead = 0, ends = 0;
    CK_RV rv = msg_enter(hSession, encrypt, &s, &m);

    if (rv != CKR_OK)
        return rv;
    /* LOCKED: session operation state; hier runs here without the HSM */
    rv = msg_alive(m, &drop, &dead);
    if (rv == CKR_OK && !m->in_message) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
        LOG_FAIL(rv, "no message begun");
    }
    if (rv == CKR_OK) {
        rv = msg_part(m, encrypt, pParameter, ulParameterLen, pIn, ulInLen, pOut, pulOutLen,
                      flags);
        /* The message ends with its last part's result, or on an error;
         * a size question (or a short buffer) changes nothing. */
        if (rv == CKR_BUFFER_TOO_SMALL)
            ends = 0;
        else if (rv == CKR_OK && pOut == NULL && (encrypt || (flags & CKF_END_OF_MESSAGE)))
            ends = 0;
        else
            ends = rv != CKR_OK || (flags & CKF_END_OF_MESSAGE);
    }
    if (ends) {
        m->in_message = 0;
        dep11_aead_park(m->op);
    }
    return msg_unlock(s, rv, drop, dead);
}

/**
 * dep11_core_MessageCryptFinal - C_MessageEncryptFinal /
 * C_MessageDecryptFinal: ends the operation (and a message under way).
 */
CK_RV dep11_core_MessageCryptFinal(CK_SESSION_HANDLE hSession, int encrypt)
{
    struct dep11_session *s = NULL;
    struct dep11_object *drop = NULL;
    struct dep11_msg *m = NULL;
    CK_RV rv = msg_enter(hSession, encrypt, &s, &m);

    if (rv != CKR_OK)
        return rv;
    msg_end(m, &drop);
    return msg_unlock(s, CKR_OK, drop, 0);
}

/**
 * dep11_core_LoginUser - C_LoginUser. The backend's tokens have no user
 * names: without one it is C_Login (every rule of C_Login holds); a name
 * is CKR_FUNCTION_NOT_SUPPORTED.
 */
CK_RV dep11_core_LoginUser(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType,
                           CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername,
                           CK_ULONG ulUsernameLen)
{
    CK_RV rv = CKR_FUNCTION_NOT_SUPPORTED;

    if (pUsername != NULL && ulUsernameLen != 0) {
        rv = dep11_core_check_init();
        if (rv == CKR_OK)
            rv = CKR_FUNCTION_NOT_SUPPORTED;
        LOG_FAIL(rv, "a user name: the backend's tokens have none");
        return rv;
    }
    return dep11_core_Login(hSession, userType, pPin, ulPinLen);
}

/**
 * dep11_core_SessionCancel - C_SessionCancel: ends the session's
 * message-based encryption and decryption (CKF_MESSAGE_ENCRYPT,
 * CKF_MESSAGE_DECRYPT); any other operation flag is
 * CKR_OPERATION_CANCEL_FAILED (the backend is 2.40: it cannot cancel).
 */
CK_RV dep11_core_SessionCancel(CK_SESSION_HANDLE hSession, CK_FLAGS flags)
{
    struct dep11_session *s = NULL;
    struct dep11_object *drop[2] = { NULL, NULL };
    CK_RV rv = dep11_session_acquire(hSession, &s);

    if (rv != CKR_OK)
        return rv;
    dep11_session_lock(s);
    /* LOCKED: session operation state */
    for (int enc = 0; enc < 2; enc++) {
        struct dep11_msg *m = *dep11_session_msg_slot(s, enc);
        CK_FLAGS f = enc ? CKF_MESSAGE_ENCRYPT : CKF_MESSAGE_DECRYPT;
        if ((flags & f) && m != NULL && m->active)
            msg_end(m, &drop[enc]);
    }
    dep11_session_unlock(s);
    dep11_object_release(drop[0]);
    dep11_object_release(drop[1]);
    dep11_session_release(s);
    if (flags & ~(CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT)) {
        rv = CKR_OPERATION_CANCEL_FAILED;
        LOG_FAIL(rv, "flags 0x%lx: only message-based encryption and decryption cancel", flags);
    }
    return rv;
}
