/*
 * log.c - the module's debug log: level from DEP11_DEBUG (read once), lines to
 * stderr or to DEP11_DEBUG_FILE, one mutex so lines never interleave, and the
 * symbolic names of CK_RV codes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dep11.h"
#include "util/lock.h"
#include "util/log.h"

#define DEFAULT_LEVEL DEP11_LOG_ERROR
#define LINE_MAX_BYTES 2048

static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static int log_level = DEFAULT_LEVEL;
static int log_fd = STDERR_FILENO;     /* fixed after log_once */
static dep11_mutex_t log_mutex = DEP11_MUTEX_INIT;

/* See log.h. @value may be NULL. Returns 0..4, never fails. */
int
dep11_log_parse_level(const char *value)
{
    char *end = NULL;
    long v = 0;

    if (value == NULL || *value == '\0')
        return DEFAULT_LEVEL;
    errno = 0;
    v = strtol(value, &end, 10);
    /* Digits only (a sign or trailing junk is a typo, not a level). */
    if (errno != 0 || end == value || *end != '\0' || value[0] == '-' ||
        value[0] == '+' || value[0] == ' ')
        return DEFAULT_LEVEL;
    if (v > DEP11_LOG_DEBUG)
        return DEP11_LOG_DEBUG;
    return (int)v;
}

static const char *
getenv_trusted(const char *name)
{
    /* A setuid host must not let its caller pick a file to write to. */
#ifdef __GLIBC__
    return secure_getenv(name);
#else
    return getenv(name);
#endif
}

static void
log_init(void)
{
    const char *file = NULL;
    int fd = -1;

    log_level = dep11_log_parse_level(getenv("DEP11_DEBUG"));
    file = getenv_trusted("DEP11_DEBUG_FILE");
    if (file == NULL || *file == '\0' || log_level == 0)
        return;
    fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        /* Keep stderr; say once why the file is not used. */
        dprintf(STDERR_FILENO, "dep11[%ld]: WARN log.c: cannot open "
                "DEP11_DEBUG_FILE (%s), logging to stderr\n",
                (long)getpid(), strerror(errno));
        return;
    }
    log_fd = fd;
}

/* See log.h. Reads the environment on the first call of any log function. */
int
dep11_log_enabled(int level)
{
    (void)pthread_once(&log_once, log_init);
    return level >= DEP11_LOG_ERROR && level <= log_level;
}

static const char *
level_name(int level)
{
    switch (level) {
    case DEP11_LOG_ERROR: return "ERROR";
    case DEP11_LOG_WARN: return "WARN";
    case DEP11_LOG_INFO: return "INFO";
    default: return "DEBUG";
    }
}

/* "../module/util/log.c" -> "util/log.c": short, and still unambiguous. */
static const char *
short_file(const char *file)
{
    const char *last = NULL;
    const char *prev = NULL;
    const char *p = NULL;

    if (file == NULL)
        return "?";
    for (p = file; *p != '\0'; p++) {
        if (*p == '/') {
            prev = last;
            last = p;
        }
    }
    if (prev != NULL)
        return prev + 1;
    return last != NULL ? last + 1 : file;
}

static void
write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

/* See log.h. One write(2) per line under the log lock (lock.h order 6);
 * messages are cut at LINE_MAX_BYTES and marked "..."; errno is preserved. */
void
dep11_log(int level, const char *file, int line, const char *func,
          const char *fmt, ...)
{
    char buf[LINE_MAX_BYTES];
    va_list ap;
    int head = 0;
    int n = 0;
    size_t len = 0;
    size_t i = 0;
    int saved_errno = errno;

    if (!dep11_log_enabled(level) || fmt == NULL)
        return;
    head = snprintf(buf, sizeof buf, "dep11[%ld]: %s %s:%d %s: ",
                    (long)getpid(), level_name(level), short_file(file), line,
                    func != NULL ? func : "?");
    if (head < 0 || (size_t)head >= sizeof buf - 2)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf + head, sizeof buf - (size_t)head - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    len = (size_t)head + (size_t)n;
    if (len > sizeof buf - 2) {
        /* Truncated: mark it so nobody mistakes it for the full message. */
        len = sizeof buf - 2;
        memcpy(buf + len - 3, "...", 3);
    }
    /* One record, one line: control characters cannot forge extra lines. */
    for (i = (size_t)head; i < len; i++)
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
            buf[i] = '?';
    buf[len++] = '\n';

    dep11_lock(&log_mutex);     /* --- log lock (lock.h order: 6) --- */
    write_all(log_fd, buf, len);
    dep11_unlock(&log_mutex);   /* --- end log lock --- */
    errno = saved_errno;
}

struct rv_name {
    CK_RV rv;
    const char *name;
};

#define RV(x) { x, #x }
static const struct rv_name rv_names[] = {
    RV(CKR_OK), RV(CKR_CANCEL), RV(CKR_HOST_MEMORY), RV(CKR_SLOT_ID_INVALID),
    RV(CKR_GENERAL_ERROR), RV(CKR_FUNCTION_FAILED), RV(CKR_ARGUMENTS_BAD),
    RV(CKR_NO_EVENT), RV(CKR_NEED_TO_CREATE_THREADS), RV(CKR_CANT_LOCK),
    RV(CKR_ATTRIBUTE_READ_ONLY), RV(CKR_ATTRIBUTE_SENSITIVE),
    RV(CKR_ATTRIBUTE_TYPE_INVALID), RV(CKR_ATTRIBUTE_VALUE_INVALID),
    RV(CKR_ACTION_PROHIBITED), RV(CKR_DATA_INVALID), RV(CKR_DATA_LEN_RANGE),
    RV(CKR_DEVICE_ERROR), RV(CKR_DEVICE_MEMORY), RV(CKR_DEVICE_REMOVED),
    RV(CKR_ENCRYPTED_DATA_INVALID), RV(CKR_ENCRYPTED_DATA_LEN_RANGE),
    RV(CKR_FUNCTION_CANCELED), RV(CKR_FUNCTION_NOT_PARALLEL),
    RV(CKR_FUNCTION_NOT_SUPPORTED), RV(CKR_KEY_HANDLE_INVALID),
    RV(CKR_KEY_SIZE_RANGE), RV(CKR_KEY_TYPE_INCONSISTENT),
    RV(CKR_KEY_NOT_NEEDED), RV(CKR_KEY_CHANGED), RV(CKR_KEY_NEEDED),
    RV(CKR_KEY_INDIGESTIBLE), RV(CKR_KEY_FUNCTION_NOT_PERMITTED),
    RV(CKR_KEY_NOT_WRAPPABLE), RV(CKR_KEY_UNEXTRACTABLE),
    RV(CKR_MECHANISM_INVALID), RV(CKR_MECHANISM_PARAM_INVALID),
    RV(CKR_OBJECT_HANDLE_INVALID), RV(CKR_OPERATION_ACTIVE),
    RV(CKR_OPERATION_NOT_INITIALIZED), RV(CKR_PIN_INCORRECT),
    RV(CKR_PIN_INVALID), RV(CKR_PIN_LEN_RANGE), RV(CKR_PIN_EXPIRED),
    RV(CKR_PIN_LOCKED), RV(CKR_SESSION_CLOSED), RV(CKR_SESSION_COUNT),
    RV(CKR_SESSION_HANDLE_INVALID), RV(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
    RV(CKR_SESSION_READ_ONLY), RV(CKR_SESSION_EXISTS),
    RV(CKR_SESSION_READ_ONLY_EXISTS), RV(CKR_SESSION_READ_WRITE_SO_EXISTS),
    RV(CKR_SIGNATURE_INVALID), RV(CKR_SIGNATURE_LEN_RANGE),
    RV(CKR_TEMPLATE_INCOMPLETE), RV(CKR_TEMPLATE_INCONSISTENT),
    RV(CKR_TOKEN_NOT_PRESENT), RV(CKR_TOKEN_NOT_RECOGNIZED),
    RV(CKR_TOKEN_WRITE_PROTECTED), RV(CKR_UNWRAPPING_KEY_HANDLE_INVALID),
    RV(CKR_UNWRAPPING_KEY_SIZE_RANGE),
    RV(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT), RV(CKR_USER_ALREADY_LOGGED_IN),
    RV(CKR_USER_NOT_LOGGED_IN), RV(CKR_USER_PIN_NOT_INITIALIZED),
    RV(CKR_USER_TYPE_INVALID), RV(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
    RV(CKR_USER_TOO_MANY_TYPES), RV(CKR_WRAPPED_KEY_INVALID),
    RV(CKR_WRAPPED_KEY_LEN_RANGE), RV(CKR_WRAPPING_KEY_HANDLE_INVALID),
    RV(CKR_WRAPPING_KEY_SIZE_RANGE), RV(CKR_WRAPPING_KEY_TYPE_INCONSISTENT),
    RV(CKR_RANDOM_SEED_NOT_SUPPORTED), RV(CKR_RANDOM_NO_RNG),
    RV(CKR_DOMAIN_PARAMS_INVALID), RV(CKR_CURVE_NOT_SUPPORTED),
    RV(CKR_BUFFER_TOO_SMALL), RV(CKR_SAVED_STATE_INVALID),
    RV(CKR_INFORMATION_SENSITIVE), RV(CKR_STATE_UNSAVEABLE),
    RV(CKR_CRYPTOKI_NOT_INITIALIZED), RV(CKR_CRYPTOKI_ALREADY_INITIALIZED),
    RV(CKR_MUTEX_BAD), RV(CKR_MUTEX_NOT_LOCKED), RV(CKR_NEW_PIN_MODE),
    RV(CKR_NEXT_OTP), RV(CKR_EXCEEDED_MAX_ITERATIONS),
    RV(CKR_FIPS_SELF_TEST_FAILED), RV(CKR_LIBRARY_LOAD_FAILED),
    RV(CKR_PIN_TOO_WEAK), RV(CKR_PUBLIC_KEY_INVALID),
    RV(CKR_FUNCTION_REJECTED), RV(CKR_VENDOR_DEFINED),
    RV(CKR_DEP11_ROOT_KEYS_REVOKED), RV(CKR_DEP11_ROOT_KEYS_UNAVAILABLE),
    RV(CKR_DEP11_POLICY_PURGED), RV(CKR_DEP11_POLICY_LIMIT),
    RV(CKR_DEP11_TENANT_MISMATCH), RV(CKR_DEP11_BLOB_SUPERSEDED),
};
#undef RV

/* See log.h. Known names are static strings; an unknown code is formatted
 * into a per-thread buffer that the next unknown code on the thread reuses. */
const char *
dep11_rv_name(CK_RV rv)
{
    static __thread char unknown[32];
    size_t i = 0;

    for (i = 0; i < sizeof rv_names / sizeof rv_names[0]; i++)
        if (rv_names[i].rv == rv)
            return rv_names[i].name;
    (void)snprintf(unknown, sizeof unknown, "CKR_0x%lx", (unsigned long)rv);
    return unknown;
}
