/*
 * copy_open.c - opening one wrapped copy of a policy key in the HSM: find
 * the customer root by identity and decrypt, decrypt with a provider root,
 * or open the availability copy; the answer classified (DESIGN section 5)
 * and the value checked against the header's key check value. The opens of
 * one unwrap run inline, or on threads (util/tasks.h) when the profile sets a
 * per-call time-out or hedged tries.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hier/cache.h"
#include "hier/copy_open.h"
#include "crypto/crypto.h"
#include "hsm/provider.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/secmem.h"
#include "util/tasks.h"

#define CANDIDATES_MAX 16 /* RSA private keys examined per copy */
#define PT_MAX DEP11_RSA_MAX_BYTES
#define HINTS 32 /* remembered root handles */

/* Root handle hints: the handle under which a search last found the root
 * of a given identity on a given slot. A hint is not trusted by default:
 * the key it names is read again (one C_GetAttributeValue on the worker
 * session that then decrypts) and used only if the HSM answers with an RSA
 * private key whose public numbers have the copy's identity, exactly the
 * check a search result gets. A destroyed root answers
 * CKR_OBJECT_HANDLE_INVALID, a handle the backend reused names a key of
 * another identity: both go back to the search, which then decides as it
 * always did. This saves the search (in SoftHSM, a re-read of every object
 * file of the token).
 * Under the profile's "object-handles = unique" (the backend never gives an
 * object's handle to another object in the process: SoftHSM) a hint whose
 * key was proven sensitive and not extractable is used without the read:
 * the same object keeps those two (PKCS#11 lets neither change back) and
 * its numbers. Only a decrypt that serves counts; any other answer goes the
 * proven way above (read, then search), which decides.
 * A hint taken before a flush of the whole cache (DEP11_FlushCache(NULL),
 * dep11_cache_generation) is not used: after such a flush an unwrap asks
 * the HSM exactly as a first one does, so its backend calls do not depend
 * on the unwraps before it (test_fault_walk records one such run and faults
 * each of its calls). A flush of one policy keeps the hints. */
static dep11_mutex_t hint_lock = DEP11_MUTEX_INIT;
static struct {
    CK_SLOT_ID slot;
    CK_OBJECT_HANDLE h; /* CK_INVALID_HANDLE: unused */
    int usable;         /* the key was sensitive and not extractable */
    unsigned long gen;  /* dep11_cache_generation() when remembered */
    size_t id_len;
    uint8_t id[DEP11_BLOB_KEY_ID_MAX];
} hints[HINTS];
static unsigned hint_next;

/* Does entry @i remember root @cp on @slot? Under hint_lock. */
static int hint_is(size_t i, CK_SLOT_ID slot, const struct dep11_wrapped_copy *cp)
{
    return hints[i].h != CK_INVALID_HANDLE && hints[i].slot == slot &&
           hints[i].id_len == cp->key_id_len &&
           memcmp(hints[i].id, cp->key_id, cp->key_id_len) == 0;
}

/* The remembered handle of root @cp on @slot, or CK_INVALID_HANDLE;
 * *@usable (may be NULL) whether its key was proven usable. */
static CK_OBJECT_HANDLE hint_get(CK_SLOT_ID slot, const struct dep11_wrapped_copy *cp,
                                 int *usable)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    unsigned long gen = dep11_cache_generation();
    int ok = 0;

    dep11_lock(&hint_lock);
    for (size_t i = 0; i < HINTS && h == CK_INVALID_HANDLE; i++)
        if (hint_is(i, slot, cp) && hints[i].gen == gen) {
            h = hints[i].h;
            ok = hints[i].usable;
        }
    dep11_unlock(&hint_lock);
    if (usable != NULL)
        *usable = ok;
    return h;
}

/* Remembers @h as root @cp's handle on @slot (CK_INVALID_HANDLE: forgets),
 * with whether its key is usable (sensitive, not extractable). */
static void hint_put(CK_SLOT_ID slot, const struct dep11_wrapped_copy *cp, CK_OBJECT_HANDLE h,
                     int usable)
{
    size_t i = 0;

    if (cp->key_id_len > sizeof hints[0].id)
        return;
    dep11_lock(&hint_lock);
    while (i < HINTS && !hint_is(i, slot, cp))
        i++;
    if (i == HINTS && h == CK_INVALID_HANDLE) {
        dep11_unlock(&hint_lock);
        return;
    }
    if (i == HINTS)
        i = hint_next++ % HINTS;
    hints[i].slot = slot;
    hints[i].h = h;
    hints[i].usable = h != CK_INVALID_HANDLE && usable;
    hints[i].gen = dep11_cache_generation();
    hints[i].id_len = cp->key_id_len;
    memcpy(hints[i].id, cp->key_id, cp->key_id_len);
    dep11_unlock(&hint_lock);
}

static const char *kind_name(enum dep11_open_kind k)
{
    return k == DEP11_OPEN_CUSTOMER ? "customer copy"
           : k == DEP11_OPEN_PROVIDER ? "provider copy" : "availability copy";
}

/* A decrypted value is the policy key only if it is 32 bytes and its key
 * check value matches the header: else this copy is invalid. */
static enum dep11_fault accept_value(struct dep11_copy_open *o, const uint8_t *pt,
                                     size_t pt_len)
{
    uint8_t kcv[DEP11_KCV_LEN];
    enum dep11_fault f = DEP11_FAULT_INVALID;

    if (pt_len == DEP11_KEY_LEN && dep11_suite1_kcv(pt, o->policy_id, kcv) == CKR_OK &&
        dep11_ct_equal(kcv, o->kcv, sizeof(kcv))) {
        memcpy(o->value, pt, DEP11_KEY_LEN);
        f = DEP11_FAULT_NONE;
    } else {
        LOG_FAIL(CKR_WRAPPED_KEY_INVALID, "a copy decrypted to %zu bytes that fail the check",
                 pt_len);
    }
    dep11_cleanse(kcv, sizeof(kcv));
    return f;
}

static CK_MECHANISM_TYPE copy_hash(const struct dep11_wrapped_copy *cp)
{
    return cp->alg == DEP11_ALG_RSA_OAEP_SHA1 ? CKM_SHA_1 : CKM_SHA256;
}

/* Is @k the root of copy @cp? */
static int is_root(const struct dep11_hsm_rsa *k, const struct dep11_wrapped_copy *cp)
{
    return dep11_rsa_has_identity(k->modulus, k->mod_len, k->exponent, k->exp_len, cp->key_id,
                                  cp->key_id_len);
}

/* The remembered handle of @cp's root on @slot, read again and proven to
 * be that root: CKR_OK with *@found 1 and @out filled; CKR_OK with *@found
 * 0 when there is none or it names no longer that root (the search
 * decides); any other answer of the backend (session, login, device) is
 * returned to be classified, as the search's would be. */
static CK_RV hinted_root(CK_SESSION_HANDLE s, CK_SLOT_ID slot,
                         const struct dep11_wrapped_copy *cp, struct dep11_hsm_rsa *out,
                         int *found)
{
    CK_OBJECT_HANDLE h = hint_get(slot, cp, NULL);
    CK_RV rv = CKR_OK;

    *found = 0;
    if (h == CK_INVALID_HANDLE)
        return CKR_OK;
    rv = dep11_hsm_rsa_read(s, h, out);
    if (rv == CKR_OK && is_root(out, cp)) {
        *found = 1;
        hint_put(slot, cp, h, out->sensitive && !out->extractable);
        return CKR_OK;
    }
    dep11_cleanse(out, sizeof *out);
    if (rv != CKR_OK && rv != CKR_KEY_HANDLE_INVALID && rv != CKR_KEY_SIZE_RANGE)
        return rv;
    LOG_DEBUG("remembered root handle %lu no longer names the root: searching",
              (unsigned long)h);
    hint_put(slot, cp, CK_INVALID_HANDLE, 0);
    return CKR_OK;
}

/* The search for @cp's root (CKA_ID hint first, then every RSA private
 * key), remembered on success. */
static CK_RV search_root(CK_SESSION_HANDLE s, CK_SLOT_ID slot,
                         const struct dep11_wrapped_copy *cp, struct dep11_hsm_rsa *cand,
                         struct dep11_hsm_rsa *out, int *found)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    size_t n = 0;

    *found = 0;
    for (int pass = cp->hint_len != 0 ? 0 : 1; pass < 2; pass++) {
        rv = dep11_hsm_rsa_find(s, pass == 0 ? cp->hint : NULL, pass == 0 ? cp->hint_len : 0,
                                cand, CANDIDATES_MAX, &n);
        if (rv != CKR_OK)
            return rv;
        for (size_t i = 0; i < n && i < CANDIDATES_MAX; i++)
            if (is_root(&cand[i], cp)) {
                *out = cand[i];
                *found = 1;
                hint_put(slot, cp, cand[i].priv, cand[i].sensitive && !cand[i].extractable);
                return CKR_OK;
            }
    }
    return CKR_OK;
}

/* Finds the private key of copy @cp's root on the token: CKR_OK with
 * *@found 1/0, or the backend's error. The remembered handle first, then
 * a search: CKA_ID hint first, then every RSA key. */
static CK_RV find_root(CK_SESSION_HANDLE s, CK_SLOT_ID slot,
                       const struct dep11_wrapped_copy *cp, struct dep11_hsm_rsa *out,
                       int *found)
{
    struct dep11_hsm_rsa *cand = NULL;
    CK_RV rv = CKR_HOST_MEMORY;

    rv = hinted_root(s, slot, cp, out, found);
    if (rv != CKR_OK || *found)
        return rv;
    rv = CKR_HOST_MEMORY;
    cand = calloc(CANDIDATES_MAX, sizeof *cand);
    if (cand == NULL) {
        LOG_FAIL(rv, "root candidates");
        return rv;
    }
    rv = search_root(s, slot, cp, cand, out, found);
    free(cand);
    return rv;
}

/* Decrypts with customer key @k on session @s. */
static enum dep11_fault decrypt_customer(struct dep11_copy_open *o, CK_SESSION_HANDLE s,
                                         const struct dep11_hsm_rsa *k)
{
    enum dep11_fault f = DEP11_FAULT_DENIED;
    uint8_t *pt = NULL;
    size_t pt_len = PT_MAX;

    if (!k->sensitive || k->extractable) {
        o->rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
        LOG_FAIL(o->rv, "root private key is %s: not used",
                 !k->sensitive ? "not sensitive" : "extractable");
        return DEP11_FAULT_DENIED;
    }
    pt = dep11_secmem_alloc(PT_MAX);
    if (pt == NULL) {
        o->rv = CKR_HOST_MEMORY;
        LOG_FAIL(o->rv, "decryption buffer: counted as transient");
        return DEP11_FAULT_TRANSIENT;
    }
    o->rv = dep11_hsm_rsa_decrypt(s, k->priv, copy_hash(&o->copy), o->copy.data,
                                  o->copy.data_len, pt, &pt_len);
    f = dep11_hsm_classify(o->rv);
    if (f == DEP11_FAULT_NONE)
        f = pt_len <= PT_MAX ? accept_value(o, pt, pt_len) : DEP11_FAULT_INVALID;
    else
        LOG_FAIL(o->rv, "customer copy: %s", dep11_fault_name(f));
    dep11_secmem_free(pt, PT_MAX);
    return f;
}

/* Under "object-handles = unique": the decrypt with a remembered handle
 * whose key was proven usable, without reading the key again. 1 when it
 * served (o->value set); 0 when there is no such hint or it did not serve
 * (the proven way then decides: see the hints' comment). */
static int open_trusted_hint(struct dep11_copy_open *o, CK_SESSION_HANDLE s)
{
    struct dep11_hsm_rsa key;
    int usable = 0;

    if (!o->handles_unique || o->forced)
        return 0;
    memset(&key, 0, sizeof key);
    key.priv = hint_get(o->slot, &o->copy, &usable);
    if (key.priv == CK_INVALID_HANDLE || !usable)
        return 0;
    key.sensitive = CK_TRUE;
    key.extractable = CK_FALSE;
    if (decrypt_customer(o, s, &key) == DEP11_FAULT_NONE)
        return 1;
    LOG_DEBUG("remembered root handle %lu did not serve: reading it again",
              (unsigned long)key.priv);
    return 0;
}

/* A customer copy: find its root by identity (or take the forced one) on a
 * worker session of the caller's token, then decrypt. */
static enum dep11_fault open_customer(struct dep11_copy_open *o)
{
    enum dep11_fault f = DEP11_FAULT_DENIED;
    struct dep11_hsm_rsa key;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_RV rv = dep11_hsm_worker_open(o->slot, &s);
    int found = 0;

    memset(&key, 0, sizeof(key));
    o->rv = rv;
    if (rv != CKR_OK) {
        f = dep11_hsm_classify(rv);
        LOG_FAIL(rv, "worker session: %s", dep11_fault_name(f));
        return f == DEP11_FAULT_INVALID ? DEP11_FAULT_DENIED : f;
    }
    if (open_trusted_hint(o, s)) {
        dep11_hsm_worker_close(s);
        return DEP11_FAULT_NONE;
    }
    if (o->forced) {
        key = o->forced_key;
        found = 1;
    } else {
        rv = find_root(s, o->slot, &o->copy, &key, &found);
    }
    if (rv != CKR_OK) {
        o->rv = rv;
        f = dep11_hsm_classify(rv);
        LOG_FAIL(rv, "root look-up: %s", dep11_fault_name(f));
        if (f == DEP11_FAULT_INVALID || f == DEP11_FAULT_NONE)
            f = DEP11_FAULT_DENIED; /* a look-up proves nothing about the copy */
    } else if (!found) {
        o->rv = CKR_KEY_HANDLE_INVALID;
        f = DEP11_FAULT_DENIED;
        LOG_FAIL(o->rv, "no private key with the copy's identity: denied");
    } else {
        f = decrypt_customer(o, s, &key);
    }
    dep11_hsm_worker_close(s);
    dep11_cleanse(&key, sizeof key);
    return f;
}

/* A provider copy with provider root o->provider_root; or the availability
 * copy with its key: AES-GCM in the HSM with the header as AAD, or RSA-OAEP
 * in the HSM with the hash the copy records (its alg). */
static enum dep11_fault open_provider_side(struct dep11_copy_open *o)
{
    struct dep11_hsm_rsa root;
    enum dep11_fault f = DEP11_FAULT_DENIED;
    uint8_t *pt = dep11_secmem_alloc(PT_MAX);
    size_t pt_len = PT_MAX;
    CK_RV rv = pt == NULL ? CKR_HOST_MEMORY : CKR_OK;

    if (rv == CKR_OK && o->kind == DEP11_OPEN_AVAILABILITY &&
        o->copy.alg == DEP11_ALG_AES_GCM) {
        rv = dep11_provider_avail_open(o->copy.key_id, o->copy.key_id_len, o->aad, o->aad_len,
                                       o->copy.data, o->copy.data_len, pt, &pt_len);
    } else if (rv == CKR_OK && o->kind == DEP11_OPEN_AVAILABILITY) {
        rv = dep11_provider_avail_rsa_open(o->copy.key_id, o->copy.key_id_len,
                                           copy_hash(&o->copy), o->copy.data, o->copy.data_len,
                                           pt, &pt_len);
    } else if (rv == CKR_OK) {
        rv = dep11_provider_root(o->provider_root, &root);
        if (rv == CKR_OK &&
            !dep11_rsa_has_identity(root.modulus, root.mod_len, root.exponent, root.exp_len,
                                    o->copy.key_id, o->copy.key_id_len)) {
            rv = CKR_KEY_HANDLE_INVALID;
            LOG_FAIL(rv, "provider root %d is not the blob's: denied", o->provider_root);
        } else if (rv == CKR_OK) {
            rv = dep11_provider_root_decrypt(o->provider_root, copy_hash(&o->copy),
                                             o->copy.data, o->copy.data_len, pt, &pt_len);
        }
    }
    o->rv = rv;
    f = rv == CKR_HOST_MEMORY ? DEP11_FAULT_TRANSIENT : dep11_hsm_classify(rv);
    if (f == DEP11_FAULT_NONE)
        f = pt_len <= PT_MAX ? accept_value(o, pt, pt_len) : DEP11_FAULT_INVALID;
    else
        LOG_FAIL(rv, "%s: %s", kind_name(o->kind), dep11_fault_name(f));
    dep11_secmem_free(pt, PT_MAX);
    return f;
}

/* The work of one open (a task: util/tasks.h). */
static void open_exec(void *arg)
{
    struct dep11_copy_open *o = arg;

    o->fault = o->kind == DEP11_OPEN_CUSTOMER ? open_customer(o) : open_provider_side(o);
}

static int open_succeeded(const void *arg)
{
    return ((const struct dep11_copy_open *)arg)->fault == DEP11_FAULT_NONE;
}

static void open_release(void *arg)
{
    dep11_copy_open_free(arg);
}

/* Runs @o[0..n) on threads (util/tasks.h): see dep11_copy_open_run. */
static void run_on_threads(struct dep11_copy_open **o, int n, int first_wins,
                           unsigned timeout_ms, enum dep11_fault *fault)
{
    struct dep11_task t[DEP11_TASKS_MAX];
    enum dep11_task_state st[DEP11_TASKS_MAX];

    for (int i = 0; i < n; i++) {
        t[i].run = open_exec;
        t[i].succeeded = open_succeeded;
        t[i].release = open_release;
        t[i].arg = o[i];
        st[i] = DEP11_TASK_NOT_STARTED;
    }
    (void)dep11_tasks_run(t, n, first_wins, timeout_ms, st);
    for (int i = 0; i < n; i++) {
        if (st[i] == DEP11_TASK_ENDED) {
            fault[i] = o[i]->fault;
            continue;
        }
        fault[i] = DEP11_FAULT_TRANSIENT;
        if (st[i] == DEP11_TASK_ABANDONED) {
            o[i] = NULL; /* its thread frees it */
            LOG_FAIL(CKR_FUNCTION_CANCELED, "open %d: no answer in time (%u ms): transient", i,
                     timeout_ms);
        } else {
            o[i]->rv = CKR_FUNCTION_CANCELED;
            o[i]->fault = DEP11_FAULT_TRANSIENT;
        }
    }
}

/* See copy_open.h. */
int dep11_copy_open_run(struct dep11_copy_open **o, int n, int hedged, unsigned timeout_ms,
                        enum dep11_fault *fault, int *winner)
{
    int tried = 0;

    *winner = -1;
    if (n < 1 || n > DEP11_TASKS_MAX)
        return 0;
    if (hedged && n > 1) {
        run_on_threads(o, n, 1, timeout_ms, fault);
        tried = n;
    } else {
        for (int i = 0; i < n; i++) {
            if (timeout_ms > 0) {
                run_on_threads(&o[i], 1, 0, timeout_ms, &fault[i]);
            } else {
                open_exec(o[i]);
                fault[i] = o[i]->fault;
            }
            tried++;
            if (fault[i] == DEP11_FAULT_NONE || fault[i] == DEP11_FAULT_ABORT)
                break;
        }
    }
    for (int i = 0; i < tried && *winner < 0; i++)
        if (fault[i] == DEP11_FAULT_NONE)
            *winner = i;
    for (int i = 0; i < tried && *winner < 0; i++)
        if (fault[i] == DEP11_FAULT_ABORT)
            *winner = i;
    return tried;
}

/* See copy_open.h. */
CK_RV dep11_copy_open_new(const struct dep11_policy_blob *b, size_t index,
                          enum dep11_open_kind kind, CK_SLOT_ID slot, int provider_root,
                          const struct dep11_hsm_rsa *forced, struct dep11_copy_open **out)
{
    CK_RV rv = CKR_ARGUMENTS_BAD;
    struct dep11_copy_open *o = NULL;
    const struct dep11_wrapped_copy *cp = NULL;

    if (b == NULL || out == NULL || index >= b->ncopies ||
        b->copies[index].data_len > DEP11_BLOB_COPY_DATA_MAX) {
        LOG_FAIL(rv, "no such copy %zu", index);
        return rv;
    }
    *out = NULL;
    cp = &b->copies[index];
    o = calloc(1, sizeof(*o));
    if (o == NULL || (o->value = dep11_secmem_alloc(DEP11_KEY_LEN)) == NULL ||
        (kind == DEP11_OPEN_AVAILABILITY && (o->aad = malloc(b->header_len)) == NULL)) {
        rv = CKR_HOST_MEMORY;
        LOG_FAIL(rv, "copy open");
        dep11_copy_open_free(o);
        return rv;
    }
    o->kind = kind;
    o->slot = slot;
    o->provider_root = provider_root;
    if (forced != NULL) {
        o->forced = 1;
        o->forced_key = *forced;
    }
    o->copy = *cp;
    memcpy(o->data, cp->data, cp->data_len);
    o->copy.data = o->data;
    if (o->aad != NULL) {
        memcpy(o->aad, b->header_bytes, b->header_len);
        o->aad_len = b->header_len;
    }
    memcpy(o->policy_id, b->hdr.policy_id, sizeof(o->policy_id));
    memcpy(o->kcv, b->hdr.kcv, sizeof(o->kcv));
    o->rv = CKR_FUNCTION_CANCELED;
    o->fault = DEP11_FAULT_TRANSIENT;
    *out = o;
    return CKR_OK;
}

/* See copy_open.h. */
void dep11_copy_open_free(struct dep11_copy_open *o)
{
    if (o == NULL)
        return;
    dep11_secmem_free(o->value, DEP11_KEY_LEN);
    free(o->aad);
    dep11_cleanse(o, sizeof(*o));
    free(o);
}
