/*
 * itest.c - shared helpers of the integration tests (see itest.h): module
 * loading, token and object look-up, and short-hands for the dep11
 * mechanisms, all through the PKCS#11 interface of libdep11.so.
 */
#include "itest.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct itest *itest_open(void)
{
    const char *path = getenv("DEP11_MODULE");
    const char *world = getenv("ITEST_WORLD");
    struct itest *t = NULL;
    CK_C_GetFunctionList gfl = NULL;
    CK_RV (*gdfl)(CK_DEP11_FUNCTION_LIST_PTR_PTR) = NULL;

    if (path == NULL || world == NULL) {
        fprintf(stderr, "itest: DEP11_MODULE and ITEST_WORLD must be set\n");
        return NULL;
    }
    t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    snprintf(t->world, sizeof t->world, "%s", world);
    t->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (t->dl == NULL) {
        fprintf(stderr, "itest: dlopen %s: %s\n", path, dlerror());
        free(t);
        return NULL;
    }
    gfl = (CK_C_GetFunctionList)dlsym(t->dl, "C_GetFunctionList");
    gdfl = (CK_RV(*)(CK_DEP11_FUNCTION_LIST_PTR_PTR))dlsym(t->dl, "DEP11_GetFunctionList");
    t->get_interface = (CK_RV(*)(CK_UTF8CHAR_PTR, CK_VERSION_PTR, CK_INTERFACE_PTR_PTR,
                                 CK_FLAGS))dlsym(t->dl, "C_GetInterface");
    t->get_interface_list = (CK_RV(*)(CK_INTERFACE_PTR, CK_ULONG_PTR))dlsym(t->dl,
                                                                       "C_GetInterfaceList");
    if (gfl == NULL || gdfl == NULL || gfl(&t->f) != CKR_OK || gdfl(&t->x) != CKR_OK ||
        t->f == NULL || t->x == NULL) {
        fprintf(stderr, "itest: %s lacks C_GetFunctionList/DEP11_GetFunctionList\n", path);
        free(t);
        return NULL;
    }
    return t;
}

void itest_close(struct itest *t)
{
    free(t);
}

CK_RV itest_init(struct itest *t)
{
    return t->f->C_Initialize(NULL);
}

CK_RV itest_finalize(struct itest *t)
{
    return t->f->C_Finalize(NULL);
}

const char *itest_path(const struct itest *t, const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", t->world, name);
    return buf;
}

int itest_read_file(const struct itest *t, const char *name, char *buf, size_t cap)
{
    char path[1200];
    FILE *fp = fopen(itest_path(t, name, path, sizeof path), "r");
    size_t n = 0;

    if (fp == NULL || cap == 0)
        return -1;
    n = fread(buf, 1, cap - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return (int)n;
}

static int label_is(const CK_UTF8CHAR *padded, size_t cap, const char *label)
{
    size_t n = strlen(label);

    if (n > cap || memcmp(padded, label, n) != 0)
        return 0;
    for (size_t i = n; i < cap; i++)
        if (padded[i] != ' ')
            return 0;
    return 1;
}

CK_RV itest_slot(struct itest *t, const char *label, CK_SLOT_ID *slot)
{
    CK_SLOT_ID ids[64];
    CK_ULONG n = 64;
    CK_TOKEN_INFO ti;
    CK_RV rv = t->f->C_GetSlotList(CK_TRUE, ids, &n);

    if (rv != CKR_OK)
        return rv;
    for (CK_ULONG i = 0; i < n; i++) {
        if (t->f->C_GetTokenInfo(ids[i], &ti) != CKR_OK)
            continue;
        if (label_is(ti.label, sizeof ti.label, label)) {
            *slot = ids[i];
            return CKR_OK;
        }
    }
    return CKR_TOKEN_NOT_PRESENT;
}

CK_RV itest_session(struct itest *t, const char *label, int login, CK_SESSION_HANDLE *s)
{
    CK_SLOT_ID slot = 0;
    char pin[64];
    CK_RV rv = itest_slot(t, label, &slot);

    if (rv != CKR_OK)
        return rv;
    rv = t->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s);
    if (rv != CKR_OK || !login)
        return rv;
    if (itest_read_file(t, "user.pin", pin, sizeof pin) <= 0)
        return CKR_PIN_INCORRECT;
    rv = t->f->C_Login(*s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
    if (rv == CKR_USER_ALREADY_LOGGED_IN)
        rv = CKR_OK;
    return rv;
}

CK_RV itest_find(struct itest *t, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls,
                 const char *label, CK_OBJECT_HANDLE *h)
{
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_TRUSTED, &no, sizeof no }, /* public keys: not the registered twin */
    };
    CK_ULONG n = 0;
    CK_RV rv = t->f->C_FindObjectsInit(s, tmpl, cls == CKO_PUBLIC_KEY ? 3 : 2);

    if (rv != CKR_OK)
        return rv;
    rv = t->f->C_FindObjects(s, h, 1, &n);
    t->f->C_FindObjectsFinal(s);
    if (rv == CKR_OK && n == 0 && cls == CKO_PUBLIC_KEY) {
        /* a token without CKA_TRUSTED (opencryptoki) matches none: no twins there */
        rv = t->f->C_FindObjectsInit(s, tmpl, 2);
        if (rv == CKR_OK)
            rv = t->f->C_FindObjects(s, h, 1, &n);
        t->f->C_FindObjectsFinal(s);
    }
    if (rv == CKR_OK && n != 1)
        rv = CKR_OBJECT_HANDLE_INVALID;
    return rv;
}

CK_RV itest_tenant_id(struct itest *t, CK_SESSION_HANDLE s, CK_BYTE out[16])
{
    CK_SESSION_INFO si;
    CK_TOKEN_INFO ti;
    char id[17];
    CK_RV rv = t->f->C_GetSessionInfo(s, &si);

    if (rv == CKR_OK)
        rv = t->f->C_GetTokenInfo(si.slotID, &ti);
    if (rv != CKR_OK)
        return rv;
    memset(id, '-', sizeof id);
    memcpy(id, ti.label, 7); /* blank-padded: no token label here is shorter */
    memcpy(id + 7, "-tenant-1", 9);
    memcpy(out, id, 16);
    return CKR_OK;
}

CK_RV itest_keygen(struct itest *t, CK_SESSION_HANDLE s, CK_ULONG role,
                   CK_ULONG ptype, CK_OBJECT_HANDLE *h)
{
    CK_MECHANISM m = { CKM_DEP11_KEY_GEN, NULL, 0 };
    CK_BYTE tenant[16];
    CK_ATTRIBUTE tmpl[] = {
        { CKA_DEP11_ROLE, &role, sizeof role },
        { CKA_DEP11_POLICY_TYPE, &ptype, sizeof ptype },
        { CKA_DEP11_TENANT, tenant, sizeof tenant },
        { CKA_LABEL, (void *)"itest policy", 12 },
    };
    CK_RV rv = role == DEP11_ROLE_POLICY ? itest_tenant_id(t, s, tenant) : CKR_OK;

    if (rv != CKR_OK)
        return rv;
    return t->f->C_GenerateKey(s, &m, tmpl, role == DEP11_ROLE_POLICY ? 4 : 1, h);
}

CK_RV itest_policy_wrap(struct itest *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pol,
                        CK_OBJECT_HANDLE r1, CK_OBJECT_HANDLE r2, CK_FLAGS flags,
                        struct itest_blob *out)
{
    CK_DEP11_POLICY_WRAP_PARAMS p = { r2, flags };
    CK_MECHANISM m = { CKM_DEP11_POLICY_WRAP, &p, sizeof p };
    CK_ULONG len = 0;
    CK_RV rv = CKR_OK;

    if (r1 == CK_INVALID_HANDLE && r2 == CK_INVALID_HANDLE && flags == 0) {
        m.pParameter = NULL;
        m.ulParameterLen = 0;
    }
    out->p = NULL;
    out->len = 0;
    rv = t->f->C_WrapKey(s, &m, r1, pol, NULL, &len);
    if (rv != CKR_OK)
        return rv;
    if (len == 0 || len > 65536)
        return CKR_GENERAL_ERROR;
    out->p = malloc(len);
    if (out->p == NULL)
        return CKR_HOST_MEMORY;
    rv = t->f->C_WrapKey(s, &m, r1, pol, out->p, &len);
    if (rv != CKR_OK) { /* a refusal after the size query: no blob */
        free(out->p);
        out->p = NULL;
        len = 0;
    }
    out->len = len;
    return rv;
}

CK_RV itest_policy_unwrap(struct itest *t, CK_SESSION_HANDLE s, const struct itest_blob *b,
                          CK_ULONG requester, CK_OBJECT_HANDLE *h)
{
    CK_DEP11_POLICY_UNWRAP_PARAMS p = { requester };
    CK_MECHANISM m = { CKM_DEP11_POLICY_UNWRAP, &p, sizeof p };

    if (requester == 0) {
        m.pParameter = NULL;
        m.ulParameterLen = 0;
    }
    *h = CK_INVALID_HANDLE;
    return t->f->C_UnwrapKey(s, &m, CK_INVALID_HANDLE, b->p, b->len, NULL, 0, h);
}

CK_RV itest_child_wrap(struct itest *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pol,
                       CK_OBJECT_HANDLE child, const CK_BYTE owner[16],
                       struct itest_blob *out)
{
    CK_DEP11_CHILD_PARAMS p;
    CK_MECHANISM m = { CKM_DEP11_CHILD_WRAP, &p, sizeof p };
    CK_ULONG len = 0;
    CK_RV rv = CKR_OK;

    memcpy(p.ownerId, owner, 16);
    out->p = NULL;
    out->len = 0;
    rv = t->f->C_WrapKey(s, &m, pol, child, NULL, &len);
    if (rv != CKR_OK)
        return rv;
    if (len == 0 || len > 65536)
        return CKR_GENERAL_ERROR;
    out->p = malloc(len);
    if (out->p == NULL)
        return CKR_HOST_MEMORY;
    rv = t->f->C_WrapKey(s, &m, pol, child, out->p, &len);
    out->len = len;
    return rv;
}

CK_RV itest_child_unwrap(struct itest *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pol,
                         const struct itest_blob *b, const CK_BYTE owner[16],
                         CK_OBJECT_HANDLE *h)
{
    CK_DEP11_CHILD_PARAMS p;
    CK_MECHANISM m = { CKM_DEP11_CHILD_UNWRAP, &p, sizeof p };

    memcpy(p.ownerId, owner, 16);
    *h = CK_INVALID_HANDLE;
    return t->f->C_UnwrapKey(s, &m, pol, b->p, b->len, NULL, 0, h);
}

CK_RV itest_aead(struct itest *t, CK_SESSION_HANDLE s, int encrypt, CK_OBJECT_HANDLE k,
                 const CK_BYTE *aad, CK_ULONG aad_len, const CK_BYTE *in,
                 CK_ULONG in_len, struct itest_blob *out)
{
    CK_DEP11_AEAD_PARAMS p = { (CK_BYTE_PTR)aad, aad_len };
    CK_MECHANISM m = { CKM_DEP11_AEAD, &p, sizeof p };
    CK_ULONG len = 0;
    CK_RV rv = CKR_OK;

    out->p = NULL;
    out->len = 0;
    rv = encrypt ? t->f->C_EncryptInit(s, &m, k) : t->f->C_DecryptInit(s, &m, k);
    if (rv != CKR_OK)
        return rv;
    /* Size query first, then the real call (the operation stays active). */
    rv = encrypt ? t->f->C_Encrypt(s, (CK_BYTE_PTR)in, in_len, NULL, &len)
                 : t->f->C_Decrypt(s, (CK_BYTE_PTR)in, in_len, NULL, &len);
    if (rv != CKR_OK)
        return rv;
    out->p = malloc(len + 1);
    if (out->p == NULL)
        return CKR_HOST_MEMORY;
    rv = encrypt ? t->f->C_Encrypt(s, (CK_BYTE_PTR)in, in_len, out->p, &len)
                 : t->f->C_Decrypt(s, (CK_BYTE_PTR)in, in_len, out->p, &len);
    out->len = len;
    return rv;
}

CK_RV itest_get_ulong(struct itest *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                      CK_ATTRIBUTE_TYPE type, CK_ULONG *v)
{
    CK_ATTRIBUTE a = { type, v, sizeof *v };

    return t->f->C_GetAttributeValue(s, h, &a, 1);
}

int itest_write_blob(const struct itest *t, const char *name, const struct itest_blob *b)
{
    char path[1200];
    FILE *fp = fopen(itest_path(t, name, path, sizeof path), "wb");
    int ok = 0;

    if (fp == NULL)
        return -1;
    ok = fwrite(b->p, 1, b->len, fp) == b->len;
    return (fclose(fp) == 0 && ok) ? 0 : -1;
}

/* The child of a spawn: "itool @verb MODULE contoso PIN BLOB [@requester]"
 * (@requester NULL: no such argument); for the verb "customer", MODULE is
 * SoftHSM itself and BLOB and @requester are the action and its target. */
static void run_child(const struct itest *t, const char *conf, const char *blobfile,
                      const char *verb, const char *requester, int fd)
{
    char confpath[1200], pinpath[1200], blobpath[1200];
    const char *tool = getenv("ITEST_TOOL");
    int customer = strcmp(verb, "customer") == 0;
    const char *module = getenv(customer ? "SOFTHSM_MODULE" : "DEP11_MODULE");

    if (tool == NULL || module == NULL)
        _exit(125);
    itest_path(t, conf, confpath, sizeof confpath);
    itest_path(t, "user.pin", pinpath, sizeof pinpath);
    if (customer)
        snprintf(blobpath, sizeof blobpath, "%s", blobfile);
    else
        itest_path(t, blobfile, blobpath, sizeof blobpath);
    setenv("DEP11_CONF", confpath, 1);
    /* SoftHSM's own allocations are not this project's leaks. */
    if (customer)
        setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
    if (dup2(fd, STDOUT_FILENO) < 0)
        _exit(125);
    execl(tool, tool, verb, module, "contoso", pinpath, blobpath, requester, (char *)NULL);
    _exit(126);
}

/* Runs run_child and reads the "rv=0x.. by=.." line it prints. */
static int spawn(const struct itest *t, const char *conf, const char *blobfile,
                 const char *verb, const char *requester, CK_RV *rv, CK_ULONG *by)
{
    int fds[2];
    char out[256];
    size_t n = 0;
    ssize_t r = 0;
    int status = 0;
    unsigned long a = 0, b = 0;
    pid_t pid;

    if (pipe(fds) != 0)
        return -1;
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(fds[0]);
        run_child(t, conf, blobfile, verb, requester, fds[1]);
    }
    close(fds[1]);
    while (n < sizeof out - 1 && (r = read(fds[0], out + n, sizeof out - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(fds[0]);
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "itest: child unwrap exited with status 0x%x: %s\n", status, out);
        return -1;
    }
    if (sscanf(out, "rv=0x%lx by=%lu", &a, &b) != 2) {
        fprintf(stderr, "itest: child unwrap printed '%s'\n", out);
        return -1;
    }
    *rv = a;
    *by = b;
    return 0;
}

int itest_spawn_unwrap(const struct itest *t, const char *conf, const char *blobfile,
                       CK_ULONG requester, CK_RV *rv, CK_ULONG *by)
{
    char req[32];

    snprintf(req, sizeof req, "%lu", (unsigned long)requester);
    return spawn(t, conf, blobfile, "unwrap", req, rv, by);
}

int itest_spawn_purge(const struct itest *t, const char *conf, const char *blobfile, CK_RV *rv)
{
    CK_ULONG by = 0;

    return spawn(t, conf, blobfile, "purge", NULL, rv, &by);
}

CK_RV itest_crypt(struct itest *t, CK_SESSION_HANDLE s, int encrypt, CK_MECHANISM *m,
                  CK_OBJECT_HANDLE k, const CK_BYTE *in, CK_ULONG in_len,
                  struct itest_blob *out)
{
    CK_RV rv = encrypt ? t->f->C_EncryptInit(s, m, k) : t->f->C_DecryptInit(s, m, k);
    CK_ULONG len = in_len + DEP11_AEAD_OVERHEAD;

    out->p = NULL;
    out->len = 0;
    if (rv != CKR_OK)
        return rv;
    if ((out->p = malloc(len)) == NULL)
        return CKR_HOST_MEMORY;
    rv = encrypt ? t->f->C_Encrypt(s, (CK_BYTE_PTR)in, in_len, out->p, &len)
                 : t->f->C_Decrypt(s, (CK_BYTE_PTR)in, in_len, out->p, &len);
    out->len = len;
    return rv;
}

void itest_blob_free(struct itest_blob *b)
{
    free(b->p);
    b->p = NULL;
    b->len = 0;
}

CK_RV itest_customer(const struct itest *t, const char *action, const char *target,
                     CK_ULONG *by)
{
    CK_RV rv = CKR_GENERAL_ERROR;
    CK_ULONG n = 0;

    if (spawn(t, "dep11.conf", action, "customer", target, &rv, &n) != 0)
        return CKR_GENERAL_ERROR;
    if (by != NULL)
        *by = n;
    return rv;
}

CK_RV itest_destroy_private(struct itest *t, CK_SESSION_HANDLE s, const char *label)
{
    char target[128];

    (void)s;
    snprintf(target, sizeof target, "priv:%s", label);
    return itest_customer(t, "destroy", target, NULL);
}

int itest_revoke_direct(const struct itest *t, const char *token, const char *label)
{
    const char *mod = getenv("SOFTHSM_MODULE");
    char pin[128], cmd[2048];
    int n = 0;

    if (mod == NULL || mod[0] == '\0')
        mod = "/usr/lib/softhsm/libsofthsm2.so";
    if (itest_read_file(t, "user.pin", pin, sizeof pin) <= 0)
        return -1;
    n = snprintf(cmd, sizeof cmd,
                 "ASAN_OPTIONS=detect_leaks=0 LD_PRELOAD= pkcs11-tool --module '%s' "
                 "--token-label '%s' --login --pin '%s' --delete-object --type privkey "
                 "--label '%s' >/dev/null 2>&1", mod, token, pin, label);
    if (n < 0 || (size_t)n >= sizeof cmd)
        return -1;
    return system(cmd) == 0 ? 0 : -1;
}

int itest_group_setup(void **state)
{
    struct itest_fx *fx = calloc(1, sizeof *fx);

    if (fx == NULL)
        return -1;
    fx->t = itest_open();
    if (fx->t == NULL) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

int itest_group_teardown(void **state)
{
    struct itest_fx *fx = *state;

    if (fx != NULL) {
        itest_close(fx->t);
        free(fx);
    }
    return 0;
}

int itest_setup(void **state)
{
    struct itest_fx *fx = *state;
    CK_RV rv = itest_init(fx->t);

    if (rv != CKR_OK) {
        fprintf(stderr, "itest: C_Initialize: 0x%lx\n", rv);
        return -1;
    }
    rv = itest_session(fx->t, "contoso", 1, &fx->s);
    if (rv == CKR_OK)
        rv = itest_find(fx->t, fx->s, CKO_PRIVATE_KEY, "root1", &fx->r1);
    if (rv == CKR_OK)
        rv = itest_find(fx->t, fx->s, CKO_PRIVATE_KEY, "root2", &fx->r2);
    if (rv != CKR_OK) {
        fprintf(stderr, "itest: session on contoso / roots: 0x%lx\n", rv);
        itest_finalize(fx->t);
        return -1;
    }
    return 0;
}

int itest_teardown(void **state)
{
    struct itest_fx *fx = *state;

    return itest_finalize(fx->t) == CKR_OK ? 0 : -1;
}

CK_RV itest_count_module_keys(struct itest *t, CK_SESSION_HANDLE s, CK_ULONG *n)
{
    CK_OBJECT_HANDLE h[64];
    CK_ULONG got = 0;
    CK_RV rv = CKR_OK;

    *n = 0;
    for (CK_ULONG role = DEP11_ROLE_POLICY; role <= DEP11_ROLE_CHUNK; role++) {
        CK_ATTRIBUTE a = { CKA_DEP11_ROLE, &role, sizeof role };

        rv = t->f->C_FindObjectsInit(s, &a, 1);
        if (rv != CKR_OK)
            return rv;
        do {
            rv = t->f->C_FindObjects(s, h, 64, &got);
            *n += got;
        } while (rv == CKR_OK && got == 64);
        t->f->C_FindObjectsFinal(s);
        if (rv != CKR_OK)
            return rv;
    }
    return CKR_OK;
}

CK_RV itest_chunk_derive(struct itest *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE site,
                         const CK_BYTE file_id[16], CK_ULONG index, CK_OBJECT_HANDLE *h)
{
    CK_DEP11_CHUNK_PARAMS p;
    CK_MECHANISM m = { CKM_DEP11_CHUNK_KEY_DERIVE, &p, sizeof p };

    memcpy(p.fileId, file_id, 16);
    p.ulChunkIndex = index;
    *h = CK_INVALID_HANDLE;
    return t->f->C_DeriveKey(s, &m, site, NULL, 0, h);
}

/** See itest.h. */
int itest_purge_refusals(struct itest_fx *fx, const struct itest_blob *b,
                         itest_refuse_fn refuse, itest_session_fn logged_out)
{
    struct itest_blob bad = { malloc(b->len), b->len };
    CK_SESSION_HANDLE other = CK_INVALID_HANDLE;
    int rc = -1;

    if (bad.p == NULL) {
        fprintf(stderr, "itest_purge_refusals: out of memory\n");
        return -1;
    }
    refuse(fx, fx->s, b, CKR_FUNCTION_REJECTED);
    memcpy(bad.p, b->p, b->len);
    bad.p[b->len / 2] ^= 1;
    refuse(fx, fx->s, &bad, CKR_WRAPPED_KEY_INVALID);
    bad.len = 7;
    refuse(fx, fx->s, &bad, CKR_WRAPPED_KEY_INVALID);
    /* Another tenant's token, logged in; then not logged in. */
    if (itest_session(fx->t, "fabrikam", 1, &other) != CKR_OK) {
        fprintf(stderr, "itest_purge_refusals: no session on fabrikam\n");
        goto out;
    }
    refuse(fx, other, b, CKR_DEP11_TENANT_MISMATCH);
    if (fx->t->f->C_Logout(other) != CKR_OK) {
        fprintf(stderr, "itest_purge_refusals: C_Logout on fabrikam\n");
        goto out;
    }
    refuse(fx, other, b, CKR_USER_NOT_LOGGED_IN);
    if (logged_out != NULL)
        logged_out(fx, other);
    rc = 0;
out:
    if (other != CK_INVALID_HANDLE && fx->t->f->C_CloseSession(other) != CKR_OK)
        rc = -1;
    free(bad.p);
    return rc;
}
