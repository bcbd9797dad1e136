/*
 * child.c - the child keys of a policy (mailbox, workload and site keys):
 * CKM_DEP11_CHILD_WRAP of a child key under a policy key for its owner, and
 * CKM_DEP11_CHILD_UNWRAP of a child blob back into a session key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

/*
 * CHILD_UNWRAP of @blob (@len bytes) under policy key @pol for @owner (16
 * bytes) into the session key *@key. @what names the key in the failure
 * message ("C_UnwrapKey (@what key)"). Returns TOOL_EXIT_OK, or
 * TOOL_EXIT_FAIL with the CKR code printed and *@key CK_INVALID_HANDLE.
 */
int tool_child_unwrap(struct tool *t, CK_OBJECT_HANDLE pol,
                      const unsigned char *owner, const unsigned char *blob,
                      size_t len, const char *what, CK_OBJECT_HANDLE *key)
{
    CK_DEP11_CHILD_PARAMS p;
    CK_MECHANISM mech = { CKM_DEP11_CHILD_UNWRAP, &p, sizeof p };
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = { { CKA_TOKEN, &no, sizeof no } };
    CK_RV rv = CKR_GENERAL_ERROR;
    char call[64];

    memcpy(p.ownerId, owner, 16);
    rv = t->p11->C_UnwrapKey(t->session, &mech, pol, (CK_BYTE_PTR)blob, len,
                             tmpl, 1, key);
    if (rv != CKR_OK) {
        *key = CK_INVALID_HANDLE;
        snprintf(call, sizeof call, "C_UnwrapKey (%s key)", what);
        return tool_fail_rv(t, call, rv);
    }
    return TOOL_EXIT_OK;
}

/*
 * CHILD_WRAP of child key @key under policy key @pol for @owner (16 bytes),
 * size query first. On success *@blob is malloc'd (caller frees) and *@len
 * its length. @what names the key in the failure message ("C_WrapKey
 * (@what key)"). Returns TOOL_EXIT_OK, or TOOL_EXIT_FAIL (message printed,
 * *@blob NULL).
 */
int tool_child_wrap(struct tool *t, CK_OBJECT_HANDLE pol,
                    const unsigned char *owner, CK_OBJECT_HANDLE key,
                    const char *what, unsigned char **blob, CK_ULONG *len)
{
    CK_DEP11_CHILD_PARAMS p;
    CK_MECHANISM mech = { CKM_DEP11_CHILD_WRAP, &p, sizeof p };
    CK_RV rv = CKR_GENERAL_ERROR;
    char call[64];

    memcpy(p.ownerId, owner, 16);
    *blob = NULL;
    rv = t->p11->C_WrapKey(t->session, &mech, pol, key, NULL, len);
    if (rv == CKR_OK) {
        *blob = malloc(*len ? *len : 1);
        if (*blob == NULL)
            return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
        rv = t->p11->C_WrapKey(t->session, &mech, pol, key, *blob, len);
    }
    if (rv != CKR_OK) {
        free(*blob);
        *blob = NULL;
        snprintf(call, sizeof call, "C_WrapKey (%s key)", what);
        return tool_fail_rv(t, call, rv);
    }
    return TOOL_EXIT_OK;
}
