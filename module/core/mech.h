/*
 * mech.h - the table of dep11's own mechanisms (DESIGN section 3): number,
 * the key it works with, the operations it serves and what
 * C_GetMechanismInfo says of it. keyops.c, cipher.c and slot.c all read it
 * (like OpenSC's mechanism tables).
 */
#ifndef DEP11_CORE_MECH_H
#define DEP11_CORE_MECH_H

#include <stddef.h>
#include <p11-kit/pkcs11.h>

/* The key a dep11 mechanism works with (DESIGN section 3, "key" column). */
enum dep11_mech_key {
    DEP11_MECH_KEY_NONE = 0,    /* none: the template says what to make */
    DEP11_MECH_KEY_ROOTS,       /* customer RSA roots (or the provider's) */
    DEP11_MECH_KEY_POLICY,      /* a policy key */
    DEP11_MECH_KEY_SITE,        /* a site key */
    DEP11_MECH_KEY_DATA,        /* a mailbox, workload or chunk key */
};

struct dep11_mech {
    CK_MECHANISM_TYPE type;     /* CKM_DEP11_* */
    const char *name;
    enum dep11_mech_key key;
    CK_MECHANISM_INFO info;     /* flags: the operations it serves */
};

/* The table, in CKM_DEP11_* order, and its length. */
extern const struct dep11_mech dep11_mechs[];
extern const size_t dep11_mechs_n;

/* The entry of @type; NULL when @type is not one of dep11's mechanisms. */
const struct dep11_mech *dep11_mech_find(CK_MECHANISM_TYPE type);

/* Is @type a dep11 mechanism that does not serve @op (CKF_ENCRYPT,
 * CKF_WRAP, ...)? Such a call is CKR_MECHANISM_INVALID, never forwarded. */
int dep11_mech_refuses(CK_MECHANISM_TYPE type, CK_FLAGS op);

#endif
