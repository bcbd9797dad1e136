/*
 * registry.c - the policy registry on the tenant's customer token: one
 * CKO_DATA object per policy (CKA_APPLICATION "dep11-registry", CKA_LABEL the
 * name, CKA_VALUE a small versioned text record with the policy id and
 * the current blob), and the seeds' limits checked against it. No
 * CKA_OBJECT_ID: that attribute is a DER OID of the object's type, and an
 * HSM may check it (opencryptoki refuses 16 raw bytes); records written
 * with one by earlier versions read the same.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reg.h"
#include "tool.h"

#define REC_MAGIC "dep11-registry 1\n"
#define REC_MAX (4 * TOOL_BLOB_MAX) /* hex blob and receipt, with room */

static const char *const state_names[] = {
    "active", "disabled", "purge-requested", "purged",
};

/* "active", "disabled", "purge-requested", "purged". */
const char *tool_state_name(int state)
{
    return state >= 0 && state <= TOOL_STATE_PURGED ? state_names[state] : "?";
}

/* "mailbox", "multi-workload", "files" or "unknown". */
const char *tool_type_name(CK_ULONG type)
{
    switch (type) {
    case DEP11_POLICY_MAILBOX: return "mailbox";
    case DEP11_POLICY_MULTI_WORKLOAD: return "multi-workload";
    case DEP11_POLICY_FILES: return "files";
    default: return "unknown";
    }
}

/* Parses a type name. Returns 0 and *@out, or -1. */
int tool_parse_type(const char *s, CK_ULONG *out)
{
    CK_ULONG v = 0;

    for (v = DEP11_POLICY_MAILBOX; v <= DEP11_POLICY_FILES; v++) {
        if (strcmp(s, tool_type_name(v)) == 0) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* Frees what @r owns and zeroes it. */
void tool_rec_free(struct tool_rec *r)
{
    free(r->blob);
    free(r->receipt);
    memset(r, 0, sizeof *r);
}

void tool_rec_free_all(struct tool_rec *all, size_t n)
{
    size_t i = 0;

    for (i = 0; all != NULL && i < n; i++)
        tool_rec_free(&all[i]);
    free(all);
}

/* ---- record text ---- */

struct sbuf {
    char *p;
    size_t len, cap;
    int failed;
};

static void sb_add(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n = 0;

    if (b->failed)
        return;
    va_start(ap, fmt);
    n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len) {
        b->failed = 1;
        return;
    }
    b->len += (size_t)n;
}

static void sb_hex(struct sbuf *b, const char *key, const unsigned char *v,
                   size_t len)
{
    if (b->failed)
        return;
    if (b->cap - b->len < strlen(key) + 2 * len + 3) {
        b->failed = 1;
        return;
    }
    b->len += (size_t)sprintf(b->p + b->len, "%s=", key);
    tool_hex(v, len, b->p + b->len);
    b->len += 2 * len;
    b->p[b->len++] = '\n';
    b->p[b->len] = '\0';
}

/* Encodes @r as the record text (malloc'd in *@out). Returns 0 or -1. */
static int rec_encode(const struct tool_rec *r, char **out, size_t *len)
{
    struct sbuf b = { NULL, 0, 0, 0 };
    char id[33], tenant[37];

    b.cap = 4096 + 2 * r->blob_len + 2 * r->receipt_len;
    b.p = malloc(b.cap);
    if (b.p == NULL)
        return -1;
    tool_hex(r->id, 16, id);
    tool_format_uuid(r->tenant, tenant);
    sb_add(&b, "%sname=%s\nid=%s\ntype=%s\ntenant=%s\ngeo=%s\nstate=%s\n",
           REC_MAGIC, r->name, id, tool_type_name(r->type), tenant, r->geo,
           tool_state_name(r->state));
    sb_add(&b, "assigned=%d\nmanaged=%s\nroot1=%s\nroot2=%s\nversion=%lu\n",
           r->assigned, r->customer ? "customer" : "provider", r->root1,
           r->root2, r->version);
    sb_add(&b, "created=%lld\nupdated=%lld\nrequested=%lld\npurged=%lld\n"
           "seq=%lu\n", r->created, r->updated, r->requested, r->purged_at,
           r->seq);
    sb_add(&b, "reason=%s\ncontact=%s\n", r->reason, r->contact);
    sb_hex(&b, "blob", r->blob, r->blob_len);
    sb_hex(&b, "receipt", r->receipt, r->receipt_len);
    if (b.failed) {
        free(b.p);
        return -1;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

/* Copies @v into the fixed field @dst of @cap bytes. 0 or -1 if too long. */
static int set_str(char *dst, size_t cap, const char *v)
{
    if (strlen(v) >= cap)
        return -1;
    strcpy(dst, v);
    return 0;
}

static int set_hex(const char *v, unsigned char **out, size_t *len)
{
    if (*v == '\0') {
        *out = NULL;
        *len = 0;
        return 0;
    }
    return tool_unhex_alloc(v, out, len);
}

/* Applies one "key=value" line to @r. Unknown keys are skipped (a later
 * record version may add some). Returns 0 or -1. */
static int rec_field(struct tool_rec *r, const char *k, const char *v)
{
    int i = 0;

    if (!strcmp(k, "name")) return set_str(r->name, sizeof r->name, v);
    if (!strcmp(k, "id")) return tool_unhex(v, r->id, 16);
    if (!strcmp(k, "type")) return tool_parse_type(v, &r->type);
    if (!strcmp(k, "tenant")) return tool_parse_uuid(v, r->tenant);
    if (!strcmp(k, "geo")) return set_str(r->geo, sizeof r->geo, v);
    if (!strcmp(k, "root1")) return set_str(r->root1, sizeof r->root1, v);
    if (!strcmp(k, "root2")) return set_str(r->root2, sizeof r->root2, v);
    if (!strcmp(k, "reason")) return set_str(r->reason, sizeof r->reason, v);
    if (!strcmp(k, "contact")) return set_str(r->contact, sizeof r->contact, v);
    if (!strcmp(k, "assigned")) { r->assigned = atoi(v) != 0; return 0; }
    if (!strcmp(k, "managed")) { r->customer = !strcmp(v, "customer"); return 0; }
    if (!strcmp(k, "version")) { r->version = strtoul(v, NULL, 10); return 0; }
    if (!strcmp(k, "created")) { r->created = atoll(v); return 0; }
    if (!strcmp(k, "updated")) { r->updated = atoll(v); return 0; }
    if (!strcmp(k, "requested")) { r->requested = atoll(v); return 0; }
    if (!strcmp(k, "purged")) { r->purged_at = atoll(v); return 0; }
    if (!strcmp(k, "seq")) { r->seq = strtoul(v, NULL, 10); return 0; }
    if (!strcmp(k, "blob")) return set_hex(v, &r->blob, &r->blob_len);
    if (!strcmp(k, "receipt")) return set_hex(v, &r->receipt, &r->receipt_len);
    if (!strcmp(k, "state")) {
        for (i = 0; i <= TOOL_STATE_PURGED; i++)
            if (!strcmp(v, state_names[i])) {
                r->state = i;
                return 0;
            }
        return -1;
    }
    return 0;
}

/* Decodes record text @txt (NUL-terminated, modified in place). 0 or -1. */
static int rec_decode(char *txt, struct tool_rec *r)
{
    char *line = NULL, *next = NULL, *eq = NULL;

    memset(r, 0, sizeof *r);
    if (strncmp(txt, REC_MAGIC, strlen(REC_MAGIC)) != 0)
        return -1;
    for (line = txt + strlen(REC_MAGIC); *line; line = next) {
        next = strchr(line, '\n');
        if (next == NULL)
            return -1; /* every line ends with a newline */
        *next++ = '\0';
        eq = strchr(line, '=');
        if (eq == NULL)
            return -1;
        *eq = '\0';
        if (rec_field(r, line, eq + 1) != 0)
            return -1;
    }
    return r->blob != NULL && r->name[0] ? 0 : -1;
}

/* ---- the token side ---- */

#define APP "dep11-registry"

/* Reads and decodes the record object @h into @r. Returns a CKR code;
 * CKR_DATA_INVALID for a record that does not parse. */
static CK_RV rec_read(struct tool *t, CK_OBJECT_HANDLE h, struct tool_rec *r)
{
    unsigned char *val = NULL;
    CK_ULONG len = 0;
    CK_RV rv = tool_get_bytes(t, h, CKA_VALUE, &val, &len);

    if (rv != CKR_OK)
        return rv;
    if (rec_decode((char *)val, r) != 0) {
        tool_rec_free(r);
        rv = CKR_DATA_INVALID;
    }
    free(val);
    r->h = h;
    return rv;
}

/*
 * Keeps one record per policy id among the @n records of @all (the last
 * one just added): the one with the higher seq; the stale object (left by
 * an update that crashed between create and destroy) is destroyed when the
 * session allows. Returns the new count.
 */
static size_t dedupe(struct tool *t, struct tool_rec *all, size_t n)
{
    struct tool_rec *last = &all[n - 1];
    size_t i = 0;

    for (i = 0; i + 1 < n; i++) {
        if (memcmp(all[i].id, last->id, 16) != 0)
            continue;
        if (last->seq > all[i].seq) {
            struct tool_rec tmp = all[i];
            all[i] = *last;
            *last = tmp;
        }
        (void)t->p11->C_DestroyObject(t->session, last->h);
        tool_rec_free(last);
        return n - 1;
    }
    return n;
}

/*
 * Loads every registry record on the token (a logged-in session is needed:
 * the records are private objects). *@all (caller frees with
 * tool_rec_free_all) and *@n. Records that do not parse are reported on
 * stderr and skipped. Returns a TOOL_EXIT_ code (message printed).
 */
int tool_reg_load(struct tool *t, struct tool_rec **all, size_t *n)
{
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_APPLICATION, (void *)APP, sizeof APP - 1 },
    };
    CK_OBJECT_HANDLE *found = NULL;
    CK_ULONG count = 0, i = 0;
    CK_RV rv = tool_find(t, tmpl, 2, &found, &count);

    *all = NULL;
    *n = 0;
    if (rv != CKR_OK)
        return tool_fail_rv(t, "C_FindObjects (registry)", rv);
    *all = calloc(count ? count : 1, sizeof **all);
    if (*all == NULL) {
        free(found);
        return tool_error(t, TOOL_EXIT_FAIL, "out of memory");
    }
    for (i = 0; i < count; i++) {
        rv = rec_read(t, found[i], &(*all)[*n]);
        if (rv == CKR_OK)
            *n = dedupe(t, *all, *n + 1);
        else
            fprintf(stderr, "dep11-tool: warning: registry object %lu "
                    "unreadable (%s), skipped\n", (unsigned long)found[i],
                    tool_ckr_name(rv));
    }
    free(found);
    return TOOL_EXIT_OK;
}

/* Moves record @i of @all into @out (the caller then frees the rest). */
static void take(struct tool_rec *all, size_t i, struct tool_rec *out)
{
    *out = all[i];
    memset(&all[i], 0, sizeof all[i]);
}

/*
 * Finds the record of policy @name (the registry name) or, when @id is not
 * NULL, of policy id @id. Returns TOOL_EXIT_OK and *@r (caller frees with
 * tool_rec_free), or TOOL_EXIT_FAIL after printing "no policy ...".
 */
int tool_reg_find(struct tool *t, const char *name, const unsigned char *id,
                  struct tool_rec *r)
{
    struct tool_rec *all = NULL;
    size_t n = 0, i = 0;
    char hex[33];
    int rc = tool_reg_load(t, &all, &n);

    memset(r, 0, sizeof *r);
    if (rc != TOOL_EXIT_OK)
        return rc;
    for (i = 0; i < n; i++) {
        if ((id != NULL && memcmp(all[i].id, id, 16) == 0) ||
            (id == NULL && strcmp(all[i].name, name) == 0)) {
            take(all, i, r);
            tool_rec_free_all(all, n);
            return TOOL_EXIT_OK;
        }
    }
    tool_rec_free_all(all, n);
    if (id != NULL) {
        tool_hex(id, 16, hex);
        return tool_error(t, TOOL_EXIT_FAIL, "no policy with id %s in the "
                          "registry of this token", hex);
    }
    return tool_error(t, TOOL_EXIT_FAIL, "no policy named \"%s\" in the "
                      "registry of this token (see policy list)", name);
}

/* C_CreateObject of the record object for @r; sets r->h. */
static int create_object(struct tool *t, struct tool_rec *r)
{
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE;
    char *txt = NULL;
    size_t len = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (rec_encode(r, &txt, &len) != 0)
        return tool_error(t, TOOL_EXIT_FAIL, "registry record too large");
    {
        CK_ATTRIBUTE tmpl[] = {
            { CKA_CLASS, &cls, sizeof cls },
            { CKA_TOKEN, &yes, sizeof yes },
            { CKA_PRIVATE, &yes, sizeof yes },
            { CKA_APPLICATION, (void *)APP, sizeof APP - 1 },
            { CKA_LABEL, r->name, strlen(r->name) },
            { CKA_VALUE, txt, len },
        };
        rv = t->p11->C_CreateObject(t->session, tmpl,
                                    sizeof tmpl / sizeof tmpl[0], &r->h);
    }
    free(txt);
    if (rv != CKR_OK)
        return tool_fail_rv(t, "C_CreateObject (registry record)", rv);
    return TOOL_EXIT_OK;
}

/* Creates the registry object of @r (created/updated set to now).
 * Returns a TOOL_EXIT_ code (message printed); r->h is set. */
int tool_reg_create(struct tool *t, struct tool_rec *r)
{
    r->created = r->updated = (long long)time(NULL);
    r->seq = 1;
    return create_object(t, r);
}

/*
 * Writes @r back (updated set to now). A data object's CKA_VALUE cannot be
 * changed on every token (SoftHSM: CKR_ATTRIBUTE_READ_ONLY), so the record
 * is replaced: a new object with seq + 1 is created, then the old one is
 * destroyed. A crash in between leaves two objects of one policy id;
 * tool_reg_load keeps the higher seq and removes the other.
 * Returns a TOOL_EXIT_ code (message printed).
 */
int tool_reg_update(struct tool *t, struct tool_rec *r)
{
    CK_OBJECT_HANDLE old = r->h;
    CK_RV rv = CKR_GENERAL_ERROR;
    int rc = TOOL_EXIT_FAIL;

    r->updated = (long long)time(NULL);
    r->seq++;
    rc = create_object(t, r);
    if (rc != TOOL_EXIT_OK) {
        r->h = old;
        r->seq--;
        return rc;
    }
    rv = t->p11->C_DestroyObject(t->session, old);
    if (rv != CKR_OK)
        fprintf(stderr, "dep11-tool: warning: the previous registry record of "
                "\"%s\" could not be removed (%s); the newer one is used\n",
                r->name, tool_ckr_name(rv));
    return TOOL_EXIT_OK;
}

/* Prints a limit failure the way tool_fail_rv prints a failed call, with
 * CKR_DEP11_POLICY_LIMIT named. Returns TOOL_EXIT_FAIL. */
static int limit_error(struct tool *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int limit_error(struct tool *t, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "dep11-tool: %s: CKR_DEP11_POLICY_LIMIT (0x%08lx): %s\n",
            t->cmd ? t->cmd : "", (unsigned long)CKR_DEP11_POLICY_LIMIT, msg);
    if (t->opt.json) {
        printf("{\"ok\":false,\"exit\":%d,\"error\":\"CKR_DEP11_POLICY_LIMIT\","
               "\"rv\":%lu,\"message\":", TOOL_EXIT_FAIL,
               (unsigned long)CKR_DEP11_POLICY_LIMIT);
        tool_json_str(stdout, msg);
        printf("}\n");
    }
    return TOOL_EXIT_FAIL;
}

/*
 * Checks the seeds' limits (DESIGN section 5) for @r about to become (or
 * stay) @r->state / @r->assigned, against the other records of @all.
 * At most TOOL_MAX_MAILBOX active MAILBOX policies per tenant; one assigned
 * MULTI_WORKLOAD policy per tenant; one FILES policy per tenant and geo,
 * and geo FILES policies never beside a geo-less one (purged ones no
 * longer count). Returns TOOL_EXIT_OK or TOOL_EXIT_FAIL
 * with CKR_DEP11_POLICY_LIMIT printed.
 */
int tool_reg_check_limits(struct tool *t, const struct tool_rec *r,
                          const struct tool_rec *all, size_t n)
{
    size_t i = 0, active = 0;
    char tenant[37];

    tool_format_uuid(r->tenant, tenant);
    for (i = 0; i < n; i++) {
        const struct tool_rec *o = &all[i];
        if (memcmp(o->id, r->id, 16) == 0 ||
            memcmp(o->tenant, r->tenant, 16) != 0 || o->type != r->type)
            continue;
        if (r->type == DEP11_POLICY_MAILBOX && o->state == TOOL_STATE_ACTIVE)
            active++;
        if (r->type == DEP11_POLICY_MULTI_WORKLOAD && r->assigned &&
            o->assigned && o->state != TOOL_STATE_PURGED)
            return limit_error(t, "tenant %s already has a multi-workload "
                               "policy assigned (\"%s\"); one at a time "
                               "(policy unassign-tenant it first)", tenant,
                               o->name);
        if (r->type == DEP11_POLICY_FILES && o->state != TOOL_STATE_PURGED &&
            strcmp(o->geo, r->geo) == 0)
            return limit_error(t, "tenant %s already has a files policy in "
                               "geo %s (\"%s\"); one per tenant and geo",
                               tenant, r->geo[0] ? r->geo : "(none)",
                               o->name);
        if (r->type == DEP11_POLICY_FILES && o->state != TOOL_STATE_PURGED &&
            !o->geo[0] != !r->geo[0]) /* the seeds: geos or none, not both */
            return limit_error(t, "tenant %s has a files policy %s a geo "
                               "(\"%s\"): a tenant without geos has exactly "
                               "one files policy, a tenant with geos one per "
                               "geo; they do not mix", tenant,
                               o->geo[0] ? "in" : "without", o->name);
    }
    if (r->type == DEP11_POLICY_MAILBOX && r->state == TOOL_STATE_ACTIVE &&
        active >= TOOL_MAX_MAILBOX)
        return limit_error(t, "tenant %s already has %zu active mailbox "
                           "policies (at most %d); disable or purge one "
                           "first", tenant, active, TOOL_MAX_MAILBOX);
    return TOOL_EXIT_OK;
}
