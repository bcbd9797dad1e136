/*
 * cipher.c - C_Encrypt* and C_Decrypt*: an operation on a module-side key
 * runs in hier/ under the session's own lock (the data path: no HSM call,
 * no global lock), ends when its key dies (one atomic load a step), and its
 * ended op stays parked per session and direction for the next Init to
 * reuse; anything else is forwarded to the backend.
 */
#include <string.h>

#include "core/core.h"
#include "core/mech.h"
#include "core/ops.h"
#include "hsm/backend.h"
#include "hsm/call.h"
#include "util/log.h"

/*
 * Takes the parked op of @s for @encrypt out of its slot, for the next
 * Init to reuse (NULL when none; a running op stays where it is).
 */
static struct dep11_aead_op *take_parked(struct dep11_session *s, int encrypt)
{
    struct dep11_aead_op **slot = NULL;
    struct dep11_aead_op *op = NULL;

    dep11_session_lock(s);
    /* LOCKED: session operation state */
    slot = dep11_session_aead_slot(s, encrypt);
    if (*slot != NULL && !dep11_aead_active(*slot)) {
        op = *slot;
        *slot = NULL;
    }
    dep11_session_unlock(s);
    return op;
}

/*
 * Starts a module-side AEAD op on @s with key @obj, in the session's parked
 * op of that direction when it has one (no allocation). The op is set up
 * outside the session lock, as before; a failed Init leaves the parked op
 * (cleansed) in the slot. CKR_OPERATION_ACTIVE when one is already running
 * on the session. A started op holds @obj's reference (*@taken = 1) until
 * it ends, so that each step can see whether its key still lives.
 */
static CK_RV start_module_op(struct dep11_session *s, int encrypt,
                             CK_MECHANISM_PTR mech, struct dep11_object *obj,
                             int *taken)
{
    struct dep11_aead_op **slot = NULL;
    struct dep11_object **kslot = NULL;
    struct dep11_aead_op *op = NULL, *spare = NULL;
    struct dep11_object *old_key = NULL;
    const struct dep11_key *key = dep11_object_key(obj);
    CK_RV rv = CKR_GENERAL_ERROR;
    int busy = 0;

    *taken = 0;
    rv = dep11_session_require_user(s);
    if (rv != CKR_OK)
        return rv;
    op = take_parked(s, encrypt);
    if (op != NULL)
        rv = dep11_aead_reinit(dep11_core_config(), key, encrypt, mech, op);
    else
        rv = dep11_aead_init(dep11_core_config(), key, encrypt, mech, &op);
    dep11_session_lock(s);
    /* LOCKED: session operation state */
    slot = dep11_session_aead_slot(s, encrypt);
    kslot = dep11_session_aead_key(s, encrypt);
    if (dep11_aead_active(*slot)) {
        busy = 1; /* another Init on the session won meanwhile */
        spare = op;
    } else if (op != NULL) {
        spare = *slot; /* a parked op left there meanwhile, or NULL */
        *slot = op;
        old_key = *kslot; /* NULL: an op that ended released its key */
        *kslot = NULL;
        if (rv == CKR_OK) {
            *kslot = obj;
            *taken = 1;
        }
    }
    dep11_session_unlock(s);
    dep11_aead_free(spare);
    dep11_object_release(old_key);
    if (busy && rv == CKR_OK) {
        rv = CKR_OPERATION_ACTIVE;
        LOG_FAIL(rv, "an operation is already active on session");
    }
    return rv;
}

/* The mechanisms that only run on module-side keys: dep11's that encrypt
 * or decrypt (core/mech.c). */
static int module_only_mech(CK_MECHANISM_TYPE m)
{
    const struct dep11_mech *d = dep11_mech_find(m);

    return d != NULL && (d->info.flags & (CKF_ENCRYPT | CKF_DECRYPT)) != 0;
}

/* Shared by C_EncryptInit and C_DecryptInit. */
static CK_RV crypt_init(CK_SESSION_HANDLE hSession, int encrypt,
                        CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE hKey)
{
    struct dep11_session *s = NULL;
    struct dep11_object *obj = NULL;
    CK_OBJECT_HANDLE bk = CK_INVALID_HANDLE;
    CK_RV rv = CKR_GENERAL_ERROR;

    rv = dep11_session_acquire(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    rv = CKR_ARGUMENTS_BAD;
    if (mech == NULL) {
        LOG_FAIL(rv, "NULL mechanism");
        goto out;
    }
    rv = dep11_object_resolve(s, hKey, &obj, &bk);
    if (rv == CKR_OBJECT_HANDLE_INVALID)
        rv = CKR_KEY_HANDLE_INVALID;
    if (rv != CKR_OK) {
        LOG_FAIL(rv, "key handle 0x%lx", hKey);
        goto out;
    }
    if (obj != NULL) {
        int taken = 0;

        rv = start_module_op(s, encrypt, mech, obj, &taken);
        if (taken)
            obj = NULL; /* the running op holds the reference */
        goto out;
    }
    rv = CKR_KEY_TYPE_INCONSISTENT;
    if (module_only_mech(mech->mechanism)) {
        LOG_FAIL(rv, "mechanism 0x%lx needs a dep11 key", mech->mechanism);
        goto out;
    }
    rv = CKR_MECHANISM_INVALID;
    if (dep11_mech_refuses(mech->mechanism, encrypt ? CKF_ENCRYPT : CKF_DECRYPT)) {
        LOG_FAIL(rv, "mechanism 0x%lx does not encrypt or decrypt", mech->mechanism);
        goto out;
    }
    if (encrypt) {
        rv = dep11_hsm_EncryptInit(dep11_session_backend(s), mech, bk);
        goto out;
    }
    /* A raw RSA signature is a decryption: roots decrypt only for dep11. */
    {
        int yes = 0;
        rv = dep11_core_is_registered_root(s, bk, &yes);
        if (rv == CKR_OK && yes) {
            rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
            LOG_FAIL(rv, "key 0x%lx is a registered root", hKey);
        }
    }
    if (rv == CKR_OK)
        rv = dep11_hsm_DecryptInit(dep11_session_backend(s), mech, bk);
out:
    if (obj != NULL)
        dep11_object_release(obj);
    dep11_session_release(s);
    return rv;
}

CK_RV dep11_core_EncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                             CK_OBJECT_HANDLE hKey)
{
    return crypt_init(hSession, 1, pMechanism, hKey);
}

CK_RV dep11_core_DecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                             CK_OBJECT_HANDLE hKey)
{
    return crypt_init(hSession, 0, pMechanism, hKey);
}

/* Which step of a multi-part operation a call is. */
enum step { STEP_ONESHOT, STEP_UPDATE, STEP_FINAL };

/* The module op of one direction of a session: the op and its key. */
struct running {
    struct dep11_aead_op **op;
    struct dep11_object **key;
};

/* Ends the op of @r (parked in its slot, cleansed, for the next Init) and
 * hands its key's reference to *@drop, released outside the session lock. */
static void end_op(struct running *r, struct dep11_object **drop)
{
    dep11_aead_park(*r->op);
    *drop = *r->key;
    *r->key = NULL;
}

/*
 * Runs one step of the module op of @r. The op ends on any result but a size
 * query or CKR_BUFFER_TOO_SMALL, and on an update that fails. First of all,
 * one atomic load: an op whose key the object table has dropped (destroyed,
 * its session closed, C_Logout, DESIGN section 2) ends with
 * CKR_KEY_HANDLE_INVALID (*@dead = 1: the caller tells a logout apart),
 * never with a result.
 */
static CK_RV module_step(struct running *r, enum step step, CK_BYTE_PTR in,
                         CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len,
                         struct dep11_object **drop, int *dead)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    int keep;

    if (dep11_object_dead(*r->key)) {
        rv = CKR_KEY_HANDLE_INVALID;
        LOG_FAIL(rv, "the operation's key is gone (destroyed, its session closed, or "
                 "logged out): the operation ends");
        *dead = 1;
        end_op(r, drop);
        return rv;
    }
    if (out_len == NULL || (in == NULL && in_len > 0)) {
        rv = CKR_ARGUMENTS_BAD;
        LOG_FAIL(rv, "NULL data or length pointer");
        end_op(r, drop);
        return rv;
    }
    if (step == STEP_ONESHOT)
        rv = dep11_aead_oneshot(*r->op, in, in_len, out, out_len);
    else if (step == STEP_UPDATE)
        rv = dep11_aead_update(*r->op, in, in_len, out, out_len);
    else
        rv = dep11_aead_final(*r->op, out, out_len);
    keep = rv == CKR_BUFFER_TOO_SMALL || (rv == CKR_OK && out == NULL) ||
           (rv == CKR_OK && step == STEP_UPDATE);
    if (!keep)
        end_op(r, drop);
    return rv;
}

/* The backend's function for @step of encrypt or decrypt. */
static CK_RV forward_step(struct dep11_session *s, int encrypt, enum step step,
                          CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                          CK_ULONG_PTR out_len)
{
    CK_SESSION_HANDLE h = dep11_session_backend(s);

    if (encrypt) {
        if (step == STEP_ONESHOT)
            return dep11_hsm_Encrypt(h, in, in_len, out, out_len);
        if (step == STEP_UPDATE)
            return dep11_hsm_EncryptUpdate(h, in, in_len, out, out_len);
        return dep11_hsm_EncryptFinal(h, out, out_len);
    }
    if (step == STEP_ONESHOT)
        return dep11_hsm_Decrypt(h, in, in_len, out, out_len);
    if (step == STEP_UPDATE)
        return dep11_hsm_DecryptUpdate(h, in, in_len, out, out_len);
    return dep11_hsm_DecryptFinal(h, out, out_len);
}

/* One step of encrypt or decrypt: the module's op if one is active on the
 * session, else the backend's. */
static CK_RV crypt_step(CK_SESSION_HANDLE hSession, int encrypt, enum step step,
                        CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                        CK_ULONG_PTR out_len)
{
    struct dep11_session *s = NULL;
    struct dep11_object *drop = NULL;
    struct running r;
    CK_RV rv = CKR_GENERAL_ERROR;
    int handled = 0, dead = 0;

    rv = dep11_session_acquire(hSession, &s);
    if (rv != CKR_OK)
        return rv;
    dep11_session_lock(s);
    /* LOCKED: session operation state; hier runs here without the HSM */
    r.op = dep11_session_aead_slot(s, encrypt);
    r.key = dep11_session_aead_key(s, encrypt);
    if (dep11_aead_active(*r.op)) {
        rv = module_step(&r, step, in, in_len, out, out_len, &drop, &dead);
        handled = 1;
    }
    dep11_session_unlock(s);
    dep11_object_release(drop);
    /* A key that died with a C_Logout: say so (the login state is read
     * only on this path, never on the data path). */
    if (dead && dep11_session_require_user(s) != CKR_OK)
        rv = CKR_USER_NOT_LOGGED_IN;
    if (!handled)
        rv = forward_step(s, encrypt, step, in, in_len, out, out_len);
    dep11_session_release(s);
    return rv;
}

CK_RV dep11_core_Encrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData,
                         CK_ULONG ulDataLen, CK_BYTE_PTR pEncryptedData,
                         CK_ULONG_PTR pulEncryptedDataLen)
{
    return crypt_step(hSession, 1, STEP_ONESHOT, pData, ulDataLen,
                      pEncryptedData, pulEncryptedDataLen);
}

CK_RV dep11_core_EncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                               CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart,
                               CK_ULONG_PTR pulEncryptedPartLen)
{
    return crypt_step(hSession, 1, STEP_UPDATE, pPart, ulPartLen,
                      pEncryptedPart, pulEncryptedPartLen);
}

CK_RV dep11_core_EncryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastEncryptedPart,
                              CK_ULONG_PTR pulLastEncryptedPartLen)
{
    return crypt_step(hSession, 1, STEP_FINAL, NULL, 0, pLastEncryptedPart,
                      pulLastEncryptedPartLen);
}

CK_RV dep11_core_Decrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData,
                         CK_ULONG ulEncryptedDataLen, CK_BYTE_PTR pData,
                         CK_ULONG_PTR pulDataLen)
{
    return crypt_step(hSession, 0, STEP_ONESHOT, pEncryptedData,
                      ulEncryptedDataLen, pData, pulDataLen);
}

CK_RV dep11_core_DecryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                               CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
                               CK_ULONG_PTR pulPartLen)
{
    return crypt_step(hSession, 0, STEP_UPDATE, pEncryptedPart,
                      ulEncryptedPartLen, pPart, pulPartLen);
}

CK_RV dep11_core_DecryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart,
                              CK_ULONG_PTR pulLastPartLen)
{
    return crypt_step(hSession, 0, STEP_FINAL, NULL, 0, pLastPart,
                      pulLastPartLen);
}
