/*
 * p11.c - how dep11-tool reaches the module: dlopen, the function lists,
 * token selection (label or PKCS#11 URI, parsed by p11-kit), the session,
 * login, and object search helpers.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/uri.h>

#include "tool.h"

#ifndef DEP11_TOOL_MODULE
#define DEP11_TOOL_MODULE "/usr/local/lib/libdep11.so"
#endif

/* Looks up the vendor function list: DEP11_GetFunctionList, else
 * C_GetInterface("Vendor dep11"), else the standard-call route (a dep11
 * behind p11-kit's proxy). Leaves t->dep11 NULL if none exists. */
static void load_vendor(struct tool *t)
{
    CK_RV (*get_dep11)(CK_DEP11_FUNCTION_LIST_PTR_PTR) = NULL;
    CK_RV (*get_iface)(CK_UTF8CHAR_PTR, CK_VERSION_PTR, CK_INTERFACE_PTR_PTR,
                       CK_FLAGS) = NULL;
    CK_INTERFACE_PTR iface = NULL;

    *(void **)&get_dep11 = dlsym(t->dl, "DEP11_GetFunctionList");
    if (get_dep11 != NULL && get_dep11(&t->dep11) == CKR_OK)
        return;
    t->dep11 = NULL;
    *(void **)&get_iface = dlsym(t->dl, "C_GetInterface");
    if (get_iface != NULL &&
        get_iface((CK_UTF8CHAR_PTR)DEP11_INTERFACE_NAME, NULL, &iface, 0) ==
            CKR_OK &&
        iface != NULL)
        t->dep11 = iface->pFunctionList;
    if (t->dep11 == NULL)
        tool_std_route(t);
}

/*
 * Loads the module (--module, $DEP11_MODULE, or the installed libdep11.so)
 * and initializes it with CKF_OS_LOCKING_OK. Returns TOOL_EXIT_OK, or
 * TOOL_EXIT_MODULE after printing why.
 */
int tool_load(struct tool *t)
{
    CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR) = NULL;
    CK_C_INITIALIZE_ARGS args;
    const char *path = t->opt.module;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (path == NULL)
        path = getenv("DEP11_MODULE");
    if (path == NULL || *path == '\0')
        path = DEP11_TOOL_MODULE;
    t->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (t->dl == NULL)
        return tool_error(t, TOOL_EXIT_MODULE, "cannot load module %s: %s",
                          path, dlerror());
    *(void **)&get_list = dlsym(t->dl, "C_GetFunctionList");
    if (get_list == NULL)
        return tool_error(t, TOOL_EXIT_MODULE,
                          "%s is not a PKCS#11 module (no C_GetFunctionList)",
                          path);
    rv = get_list(&t->p11);
    if (rv != CKR_OK || t->p11 == NULL)
        return tool_error(t, TOOL_EXIT_MODULE, "C_GetFunctionList: %s",
                          tool_ckr_name(rv));
    memset(&args, 0, sizeof args);
    args.flags = CKF_OS_LOCKING_OK;
    rv = t->p11->C_Initialize(&args);
    if (rv != CKR_OK) {
        const char *why = tool_ckr_explain(rv);
        return tool_error(t, TOOL_EXIT_MODULE, "C_Initialize of %s: %s%s%s",
                          path, tool_ckr_name(rv), why ? ": " : "",
                          why ? why : "");
    }
    t->initialized = 1;
    load_vendor(t);
    return TOOL_EXIT_OK;
}

/* Does the token in @slot match the --token-label / --token selection?
 * With a URI: its slot part (slot-id, slot-description, ...) and its token
 * part; the module part was matched once (select_token); object and query
 * attributes do not select a token (as with p11tool). */
static int token_matches(struct tool *t, P11KitUri *uri, CK_SLOT_ID slot,
                         CK_TOKEN_INFO *ti)
{
    char label[sizeof ti->label + 1];
    CK_SLOT_INFO si;
    CK_SLOT_ID want = CK_UNAVAILABLE_INFORMATION;

    if (uri != NULL) {
        want = p11_kit_uri_get_slot_id(uri);
        if (want != (CK_SLOT_ID)-1 && want != slot)
            return 0;
        if (t->p11->C_GetSlotInfo(slot, &si) != CKR_OK ||
            p11_kit_uri_match_slot_info(uri, &si) != 1)
            return 0;
        return p11_kit_uri_match_token_info(uri, ti) == 1;
    }
    if (!(ti->flags & CKF_TOKEN_INITIALIZED))
        return 0; /* SoftHSM's spare slot holds an uninitialized token */
    if (t->opt.token_label != NULL) {
        tool_trim(ti->label, sizeof ti->label, label);
        return strcmp(label, t->opt.token_label) == 0;
    }
    return 1;
}

/* Collects the slots whose token matches; picks exactly one. */
static int pick_slot(struct tool *t, P11KitUri *uri, CK_SLOT_ID *slots,
                     CK_ULONG n)
{
    CK_TOKEN_INFO ti;
    CK_ULONG i = 0, found = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    for (i = 0; i < n; i++) {
        rv = t->p11->C_GetTokenInfo(slots[i], &ti);
        if (rv != CKR_OK)
            continue; /* a token removed meanwhile is simply not a match */
        if (token_matches(t, uri, slots[i], &ti)) {
            if (found++ == 0)
                t->slot = slots[i];
        }
    }
    if (found == 1)
        return TOOL_EXIT_OK;
    if (found == 0)
        return tool_error(t, TOOL_EXIT_FAIL, "no token %s%s",
                          uri || t->opt.token_label ? "matches " : "present",
                          t->opt.token_uri   ? t->opt.token_uri
                          : t->opt.token_label ? t->opt.token_label : "");
    if (uri == NULL && t->opt.token_label == NULL)
        return tool_error(t, TOOL_EXIT_USAGE,
                          "%lu tokens present: choose one with --token-label "
                          "or --token", (unsigned long)found);
    return tool_error(t, TOOL_EXIT_FAIL, "%lu tokens match %s",
                      (unsigned long)found,
                      t->opt.token_uri ? t->opt.token_uri : t->opt.token_label);
}

/*
 * Parses --token with p11-kit (any PKCS#11 URI: object, module and query
 * attributes allowed). A pin-value is refused (a PIN never appears on the
 * command line); a pin-source is kept for the login. *@match is 0 when the
 * module part (library-description, ...) does not match this module.
 */
static int parse_uri(struct tool *t, P11KitUri **out, int *match)
{
    P11KitUri *uri = p11_kit_uri_new();
    CK_INFO info;
    const char *src = NULL;
    int urc = 0;

    *out = NULL;
    if (uri == NULL)
        return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    urc = p11_kit_uri_parse(t->opt.token_uri, P11_KIT_URI_FOR_ANY, uri);
    if (urc != P11_KIT_URI_OK) {
        p11_kit_uri_free(uri);
        return tool_error(t, TOOL_EXIT_USAGE, "bad --token URI %s: %s",
                          t->opt.token_uri, p11_kit_uri_message(urc));
    }
    *out = uri;
    if (p11_kit_uri_get_pin_value(uri) != NULL)
        return tool_error(t, TOOL_EXIT_USAGE,
                          "--token: pin-value is refused (a PIN never appears "
                          "on the command line); use pin-source=file:PATH");
    src = p11_kit_uri_get_pin_source(uri);
    if (src != NULL && (t->uri_pin_source = strdup(src)) == NULL)
        return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    *match = t->p11->C_GetInfo(&info) == CKR_OK &&
             p11_kit_uri_match_module_info(uri, &info) == 1;
    return TOOL_EXIT_OK;
}

/* Sets t->slot from the token selection. Returns a TOOL_EXIT_ code. */
static int select_token(struct tool *t)
{
    P11KitUri *uri = NULL;
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n = 0;
    CK_RV rv = CKR_GENERAL_ERROR;
    int rc = TOOL_EXIT_FAIL, module_match = 1;

    if (t->opt.token_uri != NULL &&
        (rc = parse_uri(t, &uri, &module_match)) != TOOL_EXIT_OK)
        goto out;
    rv = t->p11->C_GetSlotList(CK_TRUE, NULL, &n);
    if (rv == CKR_OK && n > 0) {
        slots = calloc(n, sizeof *slots);
        if (slots == NULL) {
            rc = tool_error(t, TOOL_EXIT_FAIL, "out of memory");
            goto out;
        }
        rv = t->p11->C_GetSlotList(CK_TRUE, slots, &n);
    }
    if (rv != CKR_OK) {
        rc = tool_fail_rv(t, "C_GetSlotList", rv);
        goto out;
    }
    rc = pick_slot(t, uri, slots, module_match ? n : 0);
out:
    free(slots);
    if (uri != NULL)
        p11_kit_uri_free(uri);
    return rc;
}

/* Logs in as @user with the PIN from @source. */
static int login(struct tool *t, CK_USER_TYPE user, const char *source)
{
    char *pin = NULL;
    size_t len = 0;
    CK_RV rv = CKR_GENERAL_ERROR;
    int rc = tool_read_pin(t, source, &pin, &len);

    if (rc != TOOL_EXIT_OK)
        return rc;
    rv = t->p11->C_Login(t->session, user, (CK_UTF8CHAR_PTR)pin, len);
    tool_free_pin(pin, len);
    if (rv == CKR_USER_ALREADY_LOGGED_IN)
        return TOOL_EXIT_OK; /* not ours to log out */
    if (rv != CKR_OK)
        return tool_fail_rv(t, user == CKU_SO ? "C_Login (SO)" : "C_Login",
                            rv);
    t->logged_in = 1;
    return TOOL_EXIT_OK;
}

/*
 * Selects the token, opens a session (@rw: read-write) and logs in as
 * @user (CKU_USER, CKU_SO, or TOOL_NO_LOGIN) with the PIN from @pin_source
 * (NULL: --pin-source). Returns a TOOL_EXIT_ code (message printed).
 */
int tool_open(struct tool *t, int rw, CK_USER_TYPE user, const char *pin_source)
{
    CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
    CK_RV rv = CKR_GENERAL_ERROR;
    int rc = TOOL_EXIT_FAIL;

    if (t->session == CK_INVALID_HANDLE) {
        rc = select_token(t);
        if (rc != TOOL_EXIT_OK)
            return rc;
        rv = t->p11->C_OpenSession(t->slot, flags, NULL, NULL, &t->session);
        if (rv != CKR_OK) {
            t->session = CK_INVALID_HANDLE;
            return tool_fail_rv(t, "C_OpenSession", rv);
        }
    }
    if (user == TOOL_NO_LOGIN)
        return TOOL_EXIT_OK;
    return login(t, user, pin_source ? pin_source : t->opt.pin_source);
}

/* Logs out (if this run logged in) and closes the session. */
void tool_end_session(struct tool *t)
{
    if (t->p11 == NULL || t->session == CK_INVALID_HANDLE)
        return;
    if (t->logged_in)
        (void)t->p11->C_Logout(t->session);
    t->logged_in = 0;
    (void)t->p11->C_CloseSession(t->session);
    t->session = CK_INVALID_HANDLE;
}

/* Loads the module and opens a session (@rw: read-write) logged in as the
 * user (PIN from --pin-source). Returns a TOOL_EXIT_ code (message printed). */
int tool_load_login(struct tool *t, int rw)
{
    int rc = tool_load(t);

    return rc == TOOL_EXIT_OK ? tool_open(t, rw, CKU_USER, NULL) : rc;
}

/*
 * Destroys the session object @h (a key this run generated or unwrapped)
 * unless it is CK_INVALID_HANDLE or no module is loaded. Errors are
 * ignored: a session object ends with its session anyway.
 */
void tool_destroy(struct tool *t, CK_OBJECT_HANDLE h)
{
    if (h != CK_INVALID_HANDLE && t->p11 != NULL)
        (void)t->p11->C_DestroyObject(t->session, h);
}

/* Ends the session, finalizes and unloads the module. */
void tool_close(struct tool *t)
{
    tool_end_session(t);
    if (t->initialized)
        (void)t->p11->C_Finalize(NULL);
    t->initialized = 0;
    /* No dlclose: a module may leave threads or atexit handlers behind, and
     * leak reports of an unloaded module cannot be symbolized. */
    t->dl = NULL;
    free(t->uri_pin_source);
    t->uri_pin_source = NULL;
    t->p11 = NULL;
    t->dep11 = NULL;
}

/*
 * Finds every object matching @tmpl (@count attributes) on the session.
 * *@out gets a malloc'd array (caller frees; NULL when none), *@n its length.
 * Returns the first failing CKR code, or CKR_OK.
 */
CK_RV tool_find(struct tool *t, CK_ATTRIBUTE *tmpl, CK_ULONG count,
                CK_OBJECT_HANDLE **out, CK_ULONG *n)
{
    CK_OBJECT_HANDLE batch[64];
    CK_OBJECT_HANDLE *all = NULL, *grown = NULL;
    CK_ULONG got = 0, total = 0;
    CK_RV rv = t->p11->C_FindObjectsInit(t->session, tmpl, count);

    *out = NULL;
    *n = 0;
    if (rv != CKR_OK)
        return rv;
    do {
        rv = t->p11->C_FindObjects(t->session, batch, 64, &got);
        if (rv != CKR_OK || got == 0)
            break;
        grown = realloc(all, (total + got) * sizeof *all);
        if (grown == NULL) {
            rv = CKR_HOST_MEMORY;
            break;
        }
        all = grown;
        memcpy(all + total, batch, got * sizeof *all);
        total += got;
    } while (got == 64);
    (void)t->p11->C_FindObjectsFinal(t->session);
    if (rv != CKR_OK) {
        free(all);
        return rv;
    }
    *out = all;
    *n = total;
    return CKR_OK;
}

/*
 * Reads attribute @type of @h into a malloc'd buffer with a NUL after it.
 * Returns CKR_OK, the module's code, or CKR_HOST_MEMORY; *@val is NULL on
 * failure.
 */
CK_RV tool_get_bytes(struct tool *t, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type,
                     unsigned char **val, CK_ULONG *len)
{
    CK_ATTRIBUTE a = { type, NULL, 0 };
    CK_RV rv = t->p11->C_GetAttributeValue(t->session, h, &a, 1);

    *val = NULL;
    *len = 0;
    if (rv != CKR_OK)
        return rv;
    if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
        return CKR_ATTRIBUTE_TYPE_INVALID;
    a.pValue = calloc(1, a.ulValueLen + 1);
    if (a.pValue == NULL)
        return CKR_HOST_MEMORY;
    rv = t->p11->C_GetAttributeValue(t->session, h, &a, 1);
    if (rv != CKR_OK) {
        free(a.pValue);
        return rv;
    }
    *val = a.pValue;
    *len = a.ulValueLen;
    return CKR_OK;
}

/* Reads CK_BBOOL attribute @type: 1, 0, or -1 when it cannot be read. */
int tool_get_bool(struct tool *t, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type)
{
    CK_BBOOL b = CK_FALSE;
    CK_ATTRIBUTE a = { type, &b, sizeof b };

    if (t->p11->C_GetAttributeValue(t->session, h, &a, 1) != CKR_OK)
        return -1;
    return b ? 1 : 0;
}

/* Reads CK_ULONG attribute @type into *@v. Returns a CKR code. */
CK_RV tool_get_ulong(struct tool *t, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type,
                     CK_ULONG *v)
{
    CK_ATTRIBUTE a = { type, v, sizeof *v };

    return t->p11->C_GetAttributeValue(t->session, h, &a, 1);
}

/*
 * Finds the single RSA private key whose CKA_LABEL is @label: the root the
 * policy commands wrap to. Returns TOOL_EXIT_OK and *@h, or TOOL_EXIT_FAIL
 * after printing why (no such key, several, or the search failed).
 */
int tool_find_root(struct tool *t, const char *label, CK_OBJECT_HANDLE *h)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_KEY_TYPE, &kt, sizeof kt },
        { CKA_LABEL, (void *)label, strlen(label) },
    };
    CK_OBJECT_HANDLE *found = NULL;
    CK_ULONG n = 0;
    CK_RV rv = tool_find(t, tmpl, 3, &found, &n);

    *h = CK_INVALID_HANDLE;
    if (rv != CKR_OK)
        return tool_fail_rv(t, "C_FindObjects", rv);
    if (n == 1)
        *h = found[0];
    free(found);
    if (n == 0)
        return tool_error(t, TOOL_EXIT_FAIL,
                          "no RSA private key labelled \"%s\" on the token "
                          "(destroyed, or not visible to this login)", label);
    if (n > 1)
        return tool_error(t, TOOL_EXIT_FAIL,
                          "%lu RSA private keys are labelled \"%s\": labels of "
                          "roots must be unique", (unsigned long)n, label);
    return TOOL_EXIT_OK;
}
