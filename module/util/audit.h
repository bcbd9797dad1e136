/*
 * audit.h - the append-only, hash-chained audit log (DESIGN section 5): one
 * JSON line per event, each carrying the SHA-256 of the previous line, safe
 * with many processes appending (an exclusive advisory lock around
 * read-last-line + append). Never holds key bytes or PINs.
 */
#ifndef DEP11_UTIL_AUDIT_H
#define DEP11_UTIL_AUDIT_H

#include <stdint.h>
#include <p11-kit/pkcs11.h>

/* One event. Fixed fields of every line: "event", "time" (UTC, RFC 3339),
 * "policy_id" (hex), "version", "requester" ("user"|"system"|"recovery"),
 * "served_by" ("customer-1"|"customer-2"|"availability"|"provider"),
 * "reason" ("transient"|"denied" for a fallback, else ""), "tenant" (hex
 * tenant id, "" if none), "token" (the session token's serial number, ""
 * if none), "host", "pid", "result" (the CKR_ name of the outcome), then
 * extra members, "seq" and "prev" (hex SHA-256 of the previous line, without
 * its newline; 64 zeros for the first). */
struct dep11_audit_event {
    const char *event;          /* policy-wrap, policy-unwrap, availability-use,
                                   availability-roll, refresh, purge, offboard,
                                   root-register, root-unregister */
    const uint8_t *policy_id;   /* 16 bytes */
    CK_ULONG version;
    CK_ULONG requester;         /* DEP11_REQUESTER_*; 0 = not applicable ("") */
    CK_ULONG served_by;         /* DEP11_ROOT_*; 0 = not applicable ("") */
    const char *reason;         /* NULL = "" */
    const char *extra_json;     /* NULL, or more members: "\"k\":\"v\",..." */
    const uint8_t *tenant;      /* 16 bytes, or NULL ("") */
    const char *token;          /* serial number (printable ASCII), or NULL ("") */
    CK_RV result;               /* the outcome recorded (CKR_OK for a success) */
};

/* Opens (creates, mode 0600) the log at @path; an empty path disables the
 * log. CKR_OK; CKR_FUNCTION_FAILED (logged with the path). */
CK_RV dep11_audit_open(const char *path);
void dep11_audit_close(void);
/* Appends one line. With no log open: CKR_OK, nothing written.
 * CKR_FUNCTION_FAILED when the line could not be written (logged). */
CK_RV dep11_audit_write(const struct dep11_audit_event *e);

#endif
