/*
 * copy_open.h - opening one wrapped copy of a policy key in the HSM (a
 * customer root, a provider root, or the availability key) and classifying
 * the answer (DESIGN section 5); the opens of one unwrap run one after the
 * other or hedged, inline or on threads under the profile's per-call
 * time-out. Internal to module/hier.
 */
#ifndef DEP11_HIER_COPY_OPEN_H
#define DEP11_HIER_COPY_OPEN_H

#include <stdint.h>

#include "blob/blob.h"
#include "crypto/suite1.h"
#include "hsm/classify.h"
#include "hsm/rsa.h"
#include "hier/hier.h"

enum dep11_open_kind {
    DEP11_OPEN_CUSTOMER = 1,     /* RSA-OAEP with a customer root on the caller's token */
    DEP11_OPEN_PROVIDER = 2,     /* RSA-OAEP with provider root 1 or 2 */
    DEP11_OPEN_AVAILABILITY = 3, /* AES-GCM with the policy's availability key */
};

/* One open. Its inputs are copies: an open abandoned at its time-out runs on
 * after its caller has returned, and frees itself. */
struct dep11_copy_open {
    enum dep11_open_kind kind;
    CK_SLOT_ID slot;                /* customer: the caller's token */
    int provider_root;              /* provider: 1 or 2 */
    int forced;                     /* customer: use forced_key, no look-up */
    struct dep11_hsm_rsa forced_key;
    int handles_unique;             /* customer: the profile's "object-handles = unique" */
    struct dep11_wrapped_copy copy; /* copy.data points at data[] */
    uint8_t data[DEP11_BLOB_COPY_DATA_MAX];
    uint8_t *aad;                   /* availability: the blob's header bytes */
    size_t aad_len;
    uint8_t policy_id[16];
    uint8_t kcv[DEP11_KCV_LEN];
    /* results */
    CK_RV rv;                       /* the backend's answer (CKR_FUNCTION_CANCELED: time-out) */
    enum dep11_fault fault;         /* its class; NONE: value holds the policy key */
    uint8_t *value;                 /* DEP11_KEY_LEN secmem bytes */
};

/**
 * dep11_copy_open_new - an open of copy @index of @b, of @kind; @slot is the
 * caller's token (customer), @provider_root 1/2 (provider); @forced: NULL or
 * the resolved customer key to use. *@out is the caller's (free it with
 * dep11_copy_open_free). CKR_OK; CKR_ARGUMENTS_BAD; CKR_HOST_MEMORY.
 */
CK_RV dep11_copy_open_new(const struct dep11_policy_blob *b, size_t index,
                          enum dep11_open_kind kind, CK_SLOT_ID slot, int provider_root,
                          const struct dep11_hsm_rsa *forced, struct dep11_copy_open **out);

/* Cleanses and frees @o (NULL is a no-op). */
void dep11_copy_open_free(struct dep11_copy_open *o);


/**
 * dep11_copy_open_run - runs the opens @o[0..@n) (n <= 4) as the profile
 * says: without hedging, one after the other until one answers NONE or
 * ABORT; with @hedged, all at once, the first NONE winning. With
 * @timeout_ms > 0 (or @hedged) each open runs on a thread of its own; one
 * that has not answered within @timeout_ms counts as TRANSIENT; it is
 * abandoned and @o[i] set to NULL (it frees itself). An open that could not
 * start counts as TRANSIENT too. @fault[i] gets the class of each open that
 * was tried, and *@winner the index of the one that answered NONE, else of
 * one that answered ABORT, else -1. Returns how many were tried: the tried
 * ones are o[0..return).
 */
int dep11_copy_open_run(struct dep11_copy_open **o, int n, int hedged, unsigned timeout_ms,
                         enum dep11_fault *fault, int *winner);

#endif
