/*
 * itool.c - a small PKCS#11 helper for the integration tests.
 *   itool register MODULE TOKEN SO-PIN-FILE LABEL
 *       as the token's SO, create the registered twin of the RSA key pair
 *       LABEL: a CKO_PUBLIC_KEY with the same modulus and CKA_TRUSTED=TRUE
 *       (the fallback of setup-tokens.sh when dep11-tool is not built).
 *   itool unwrap MODULE TOKEN PIN-FILE BLOB-FILE REQUESTER
 *       log in as user, CKM_DEP11_POLICY_UNWRAP the blob, and print
 *       "rv=0x<hex> by=<CKA_DEP11_UNWRAPPED_BY>" (a second process for the
 *       cross-process and SYSTEM-requester tests).
 *   itool purge MODULE TOKEN PIN-FILE BLOB-FILE
 *       log in as user, DEP11_PurgePolicy the blob, and print
 *       "rv=0x<hex> by=0" (a purge made by another process).
 *   itool customer MODULE TOKEN PIN-FILE ACTION KIND:LABEL
 *       what the customer does on its own token with its own tools (MODULE
 *       is SoftHSM itself, never libdep11.so): log in as user and apply
 *       ACTION to the object KIND:LABEL, where KIND is priv (the private
 *       key), pub (the public key, CKA_TRUSTED=FALSE) or twin (the
 *       registered twin "LABEL.registered"). ACTION: destroy, decrypt-on,
 *       decrypt-off (CKA_DECRYPT of a private key), extractable-off
 *       (CKA_EXTRACTABLE to FALSE: keys pkcs11-tool generates on tokens that
 *       default to extractable), count (by = how many such objects),
 *       decrypt (by = CKA_DECRYPT). Prints "rv=0x<hex>
 *       by=<n>".
 *   itool provision MODULE TOKEN PIN-FILE RSA-BITS
 *       log in as user on an empty token and create dep11's provider keys
 *       with dep11-tool's templates (tools/provider_tmpl.h): the fallback of
 *       setup-tokens.sh for `dep11-tool provider init`.
 * Exit 0 when the command ran (the printed rv carries the verdict), 2 on a
 * usage or set-up error.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dep11.h"
#include "provider_tmpl.h"

static int read_small(const char *path, unsigned char *buf, size_t cap, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    size_t n = 0;

    if (fp == NULL)
        return -1;
    n = fread(buf, 1, cap, fp);
    fclose(fp);
    if (n == cap)
        return -1;
    *len = n;
    return 0;
}

static int read_pin(const char *path, char *pin, size_t cap)
{
    size_t n = 0;

    if (read_small(path, (unsigned char *)pin, cap - 1, &n) != 0)
        return -1;
    pin[n] = '\0';
    while (n > 0 && (pin[n - 1] == '\n' || pin[n - 1] == '\r'))
        pin[--n] = '\0';
    return n > 0 ? 0 : -1;
}

static void *module_dl; /* the module load() opened */

static CK_FUNCTION_LIST_PTR load(const char *path)
{
    void *dl = module_dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    CK_C_GetFunctionList gfl = NULL;
    CK_FUNCTION_LIST_PTR f = NULL;

    if (dl == NULL) {
        fprintf(stderr, "itool: dlopen %s: %s\n", path, dlerror());
        return NULL;
    }
    gfl = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
    if (gfl == NULL || gfl(&f) != CKR_OK || f->C_Initialize(NULL) != CKR_OK) {
        fprintf(stderr, "itool: cannot initialise %s\n", path);
        return NULL;
    }
    return f;
}

static CK_RV open_token(CK_FUNCTION_LIST_PTR f, const char *label, CK_SESSION_HANDLE *s)
{
    CK_SLOT_ID ids[64];
    CK_ULONG n = 64;
    CK_TOKEN_INFO ti;
    size_t len = strlen(label);
    CK_RV rv = f->C_GetSlotList(CK_TRUE, ids, &n);

    if (rv != CKR_OK)
        return rv;
    for (CK_ULONG i = 0; i < n; i++) {
        if (f->C_GetTokenInfo(ids[i], &ti) != CKR_OK || len > sizeof ti.label ||
            memcmp(ti.label, label, len) != 0 ||
            (len < sizeof ti.label && ti.label[len] != ' '))
            continue;
        return f->C_OpenSession(ids[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s);
    }
    return CKR_TOKEN_NOT_PRESENT;
}

static int do_register(CK_FUNCTION_LIST_PTR f, const char *token, const char *pinfile,
                       const char *label)
{
    CK_SESSION_HANDLE s = 0;
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_BYTE mod[1024], exp[16], id[64];
    CK_ATTRIBUTE find[] = { { CKA_CLASS, &cls, sizeof cls },
                            { CKA_LABEL, (void *)label, strlen(label) } };
    CK_ATTRIBUTE get[] = { { CKA_MODULUS, mod, sizeof mod },
                           { CKA_PUBLIC_EXPONENT, exp, sizeof exp },
                           { CKA_ID, id, sizeof id } };
    CK_OBJECT_HANDLE h = 0, twin = 0;
    CK_ULONG n = 0;
    char pin[64], twin_label[96];

    /* The twin's label follows dep11-tool: "<label>.registered". */
    snprintf(twin_label, sizeof twin_label, "%s.registered", label);
    if (read_pin(pinfile, pin, sizeof pin) != 0 || open_token(f, token, &s) != CKR_OK ||
        f->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)pin, strlen(pin)) != CKR_OK) {
        fprintf(stderr, "itool: cannot log in as SO on %s\n", token);
        return 2;
    }
    if (f->C_FindObjectsInit(s, find, 2) != CKR_OK || f->C_FindObjects(s, &h, 1, &n) != CKR_OK ||
        f->C_FindObjectsFinal(s) != CKR_OK || n != 1 ||
        f->C_GetAttributeValue(s, h, get, 3) != CKR_OK) {
        fprintf(stderr, "itool: no public key '%s' on %s\n", label, token);
        return 2;
    }
    {
        CK_ATTRIBUTE twin_tmpl[] = {
            { CKA_CLASS, &cls, sizeof cls },       { CKA_KEY_TYPE, &kt, sizeof kt },
            { CKA_TOKEN, &yes, sizeof yes },       { CKA_PRIVATE, &no, sizeof no },
            { CKA_TRUSTED, &yes, sizeof yes },     { CKA_ENCRYPT, &no, sizeof no },
            { CKA_VERIFY, &no, sizeof no },        { CKA_WRAP, &no, sizeof no },
            { CKA_LABEL, twin_label, strlen(twin_label) },
            { CKA_ID, id, get[2].ulValueLen },
            { CKA_MODULUS, mod, get[0].ulValueLen },
            { CKA_PUBLIC_EXPONENT, exp, get[1].ulValueLen },
        };
        CK_RV rv = f->C_CreateObject(s, twin_tmpl, sizeof twin_tmpl / sizeof twin_tmpl[0], &twin);
        if (rv != CKR_OK) {
            fprintf(stderr, "itool: creating the registered twin of %s: 0x%lx\n", label, rv);
            return 2;
        }
    }
    f->C_Logout(s);
    f->C_CloseSession(s);
    f->C_Finalize(NULL);
    return 0;
}

/* Reads the blob and opens a user session on @token: 0, or -1 (printed). */
static int user_session(CK_FUNCTION_LIST_PTR f, const char *token, const char *pinfile,
                        const char *blobfile, unsigned char *blob, size_t cap, size_t *len,
                        CK_SESSION_HANDLE *s)
{
    char pin[64];

    if (read_pin(pinfile, pin, sizeof pin) != 0 || read_small(blobfile, blob, cap, len) != 0 ||
        open_token(f, token, s) != CKR_OK ||
        f->C_Login(*s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)) != CKR_OK) {
        fprintf(stderr, "itool: cannot open a user session on %s\n", token);
        return -1;
    }
    return 0;
}

static int do_unwrap(CK_FUNCTION_LIST_PTR f, const char *token, const char *pinfile,
                     const char *blobfile, const char *requester)
{
    CK_SESSION_HANDLE s = 0;
    CK_DEP11_POLICY_UNWRAP_PARAMS p = { strtoul(requester, NULL, 10) };
    CK_MECHANISM m = { CKM_DEP11_POLICY_UNWRAP, &p, sizeof p };
    CK_OBJECT_HANDLE h = 0;
    CK_ULONG by = 0;
    CK_ATTRIBUTE a = { CKA_DEP11_UNWRAPPED_BY, &by, sizeof by };
    unsigned char blob[8192];
    size_t len = 0;
    CK_RV rv = CKR_OK;

    if (user_session(f, token, pinfile, blobfile, blob, sizeof blob, &len, &s) != 0)
        return 2;
    rv = f->C_UnwrapKey(s, &m, CK_INVALID_HANDLE, blob, len, NULL, 0, &h);
    if (rv == CKR_OK && f->C_GetAttributeValue(s, h, &a, 1) != CKR_OK)
        by = 0;
    printf("rv=0x%lx by=%lu\n", (unsigned long)rv, (unsigned long)by);
    fflush(stdout);
    f->C_CloseSession(s);
    f->C_Finalize(NULL);
    return 0;
}

static int do_purge(CK_FUNCTION_LIST_PTR f, const char *token, const char *pinfile,
                    const char *blobfile)
{
    CK_SESSION_HANDLE s = 0;
    CK_RV (*get_interface)(CK_UTF8CHAR_PTR, CK_VERSION_PTR, CK_INTERFACE_PTR_PTR, CK_FLAGS) =
        (CK_RV(*)(CK_UTF8CHAR_PTR, CK_VERSION_PTR, CK_INTERFACE_PTR_PTR, CK_FLAGS))dlsym(
            module_dl, "C_GetInterface");
    CK_INTERFACE_PTR itf = NULL;
    CK_DEP11_FUNCTION_LIST_PTR x = NULL;
    unsigned char blob[8192], receipt[4096];
    CK_ULONG rlen = sizeof receipt;
    size_t len = 0;
    CK_RV rv = CKR_OK;

    if (get_interface == NULL ||
        get_interface((CK_UTF8CHAR_PTR)DEP11_INTERFACE_NAME, NULL, &itf, 0) != CKR_OK ||
        (x = itf->pFunctionList) == NULL) {
        fprintf(stderr, "itool: the module has no \"%s\" interface\n", DEP11_INTERFACE_NAME);
        return 2;
    }
    if (user_session(f, token, pinfile, blobfile, blob, sizeof blob, &len, &s) != 0)
        return 2;
    rv = x->DEP11_PurgePolicy(s, blob, len, receipt, &rlen);
    printf("rv=0x%lx by=0\n", (unsigned long)rv);
    fflush(stdout);
    f->C_CloseSession(s);
    f->C_Finalize(NULL);
    return 0;
}

/* The objects KIND:LABEL on @s's token (see the header); *@n of @cap. */
static CK_RV find_target(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, const char *target,
                         CK_OBJECT_HANDLE *out, CK_ULONG cap, CK_ULONG *n)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_BBOOL trusted = CK_FALSE;
    char label[128];
    const char *colon = strchr(target, ':');
    CK_ATTRIBUTE t[3] = { { CKA_CLASS, &cls, sizeof cls },
                          { CKA_LABEL, label, 0 },
                          { CKA_TRUSTED, &trusted, sizeof trusted } };
    CK_ULONG nt = 2;
    CK_RV rv;

    if (colon == NULL || strlen(colon + 1) > 100)
        return CKR_ARGUMENTS_BAD;
    snprintf(label, sizeof label, "%s", colon + 1);
    if (strncmp(target, "pub:", 4) == 0 || strncmp(target, "twin:", 5) == 0) {
        cls = CKO_PUBLIC_KEY;
        nt = 3;
        trusted = target[0] == 't';
        if (trusted)
            snprintf(label, sizeof label, "%s.registered", colon + 1);
    } else if (strncmp(target, "priv:", 5) != 0) {
        return CKR_ARGUMENTS_BAD;
    }
    t[1].ulValueLen = strlen(label);
    rv = f->C_FindObjectsInit(s, t, nt);
    if (rv == CKR_OK)
        rv = f->C_FindObjects(s, out, cap, n);
    if (rv == CKR_OK)
        rv = f->C_FindObjectsFinal(s);
    return rv;
}

static int do_customer(CK_FUNCTION_LIST_PTR f, const char *token, const char *pinfile,
                       const char *action, const char *target)
{
    CK_SESSION_HANDLE s = 0;
    CK_OBJECT_HANDLE h[8];
    CK_ULONG n = 0, by = 0;
    CK_BBOOL v = CK_FALSE;
    CK_ATTRIBUTE a = { CKA_DECRYPT, &v, sizeof v };
    char pin[64];
    CK_RV rv = CKR_OK;

    if (read_pin(pinfile, pin, sizeof pin) != 0 || open_token(f, token, &s) != CKR_OK ||
        f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)) != CKR_OK) {
        fprintf(stderr, "itool: cannot open a user session on %s\n", token);
        return 2;
    }
    rv = find_target(f, s, target, h, 8, &n);
    if (rv == CKR_OK && strcmp(action, "count") == 0)
        by = n;
    else if (rv == CKR_OK && n == 0)
        rv = CKR_OBJECT_HANDLE_INVALID;
    else if (rv == CKR_OK && strcmp(action, "destroy") == 0)
        rv = f->C_DestroyObject(s, h[0]);
    else if (rv == CKR_OK && strcmp(action, "decrypt") == 0) {
        rv = f->C_GetAttributeValue(s, h[0], &a, 1);
        by = v;
    } else if (rv == CKR_OK && strcmp(action, "extractable-off") == 0) {
        a.type = CKA_EXTRACTABLE; /* v is CK_FALSE */
        rv = f->C_SetAttributeValue(s, h[0], &a, 1);
    } else if (rv == CKR_OK && strncmp(action, "decrypt-o", 9) == 0) {
        v = strcmp(action, "decrypt-on") == 0;
        rv = f->C_SetAttributeValue(s, h[0], &a, 1);
    } else if (rv == CKR_OK) {
        rv = CKR_ARGUMENTS_BAD;
    }
    printf("rv=0x%lx by=%lu\n", (unsigned long)rv, (unsigned long)by);
    fflush(stdout);
    f->C_Logout(s);
    f->C_CloseSession(s);
    f->C_Finalize(NULL);
    return 0;
}

static int do_provision(CK_FUNCTION_LIST_PTR f, const char *token, const char *pinfile,
                        const char *bits)
{
    CK_SESSION_HANDLE s = 0;
    CK_OBJECT_HANDLE h = 0, a = 0, b = 0;
    CK_ULONG n = 0;
    char pin[256];
    size_t k = 0;
    CK_RV rv = CKR_OK;

    if (read_pin(pinfile, pin, sizeof pin) != 0 || open_token(f, token, &s) != CKR_OK ||
        f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)) != CKR_OK) {
        fprintf(stderr, "itool: cannot log in as user on %s\n", token);
        return 2;
    }
    if (f->C_FindObjectsInit(s, NULL, 0) != CKR_OK || f->C_FindObjects(s, &h, 1, &n) != CKR_OK ||
        f->C_FindObjectsFinal(s) != CKR_OK || n != 0) {
        fprintf(stderr, "itool: %s is not empty\n", token);
        return 2;
    }
    for (k = 0; rv == CKR_OK && k < K_COUNT; k++)
        rv = provider_key_create(f, s, k, strtoul(bits, NULL, 10), &a, &b);
    if (rv != CKR_OK) {
        fprintf(stderr, "itool: creating %s: 0x%lx\n", pkeys[k - 1].label, rv);
        return 2;
    }
    f->C_Logout(s);
    f->C_CloseSession(s);
    f->C_Finalize(NULL);
    return 0;
}

int main(int argc, char **argv)
{
    CK_FUNCTION_LIST_PTR f = NULL;

    if (argc == 6 && strcmp(argv[1], "register") == 0) {
        if ((f = load(argv[2])) == NULL)
            return 2;
        return do_register(f, argv[3], argv[4], argv[5]);
    }
    if (argc == 7 && strcmp(argv[1], "unwrap") == 0) {
        if ((f = load(argv[2])) == NULL)
            return 2;
        return do_unwrap(f, argv[3], argv[4], argv[5], argv[6]);
    }
    if (argc == 6 && strcmp(argv[1], "purge") == 0) {
        if ((f = load(argv[2])) == NULL)
            return 2;
        return do_purge(f, argv[3], argv[4], argv[5]);
    }
    if (argc == 7 && strcmp(argv[1], "customer") == 0) {
        if ((f = load(argv[2])) == NULL)
            return 2;
        return do_customer(f, argv[3], argv[4], argv[5], argv[6]);
    }
    if (argc == 6 && strcmp(argv[1], "provision") == 0) {
        if ((f = load(argv[2])) == NULL)
            return 2;
        return do_provision(f, argv[3], argv[4], argv[5]);
    }
    fprintf(stderr, "usage: itool register MODULE TOKEN SO-PIN-FILE LABEL\n"
                    "       itool customer MODULE TOKEN PIN-FILE ACTION KIND:LABEL\n"
                    "       itool unwrap MODULE TOKEN PIN-FILE BLOB-FILE REQUESTER\n"
                    "       itool purge MODULE TOKEN PIN-FILE BLOB-FILE\n"
                    "       itool provision MODULE TOKEN PIN-FILE RSA-BITS\n");
    return 2;
}
