/*
 * log.h - debug logging for the module. Level from DEP11_DEBUG (0..4), read
 * once; output to stderr, or to the file named by DEP11_DEBUG_FILE. Each line
 * carries file:line function. Never pass a PIN, a key byte or plaintext.
 */
#ifndef DEP11_UTIL_LOG_H
#define DEP11_UTIL_LOG_H

#include <p11-kit/pkcs11.h>

enum dep11_log_level {
    DEP11_LOG_ERROR = 1,
    DEP11_LOG_WARN = 2,
    DEP11_LOG_INFO = 3,
    DEP11_LOG_DEBUG = 4,
};

/* Writes one line if @level is enabled. Thread-safe. */
void dep11_log(int level, const char *file, int line, const char *func,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Is @level enabled? (cheap; lets callers skip building messages) */
int dep11_log_enabled(int level);

/* The level a DEP11_DEBUG value selects: decimal digits only, above 4 means 4;
 * NULL, empty or malformed means the default, 1 (errors only). Pure; the
 * module calls it once on getenv("DEP11_DEBUG"), tests call it directly. */
int dep11_log_parse_level(const char *value);

/* Symbolic name of a return value ("CKR_OK", "CKR_DEP11_POLICY_PURGED", ...)
 * or "CKR_0x%lx" in a static per-thread buffer for an unknown code. */
const char *dep11_rv_name(CK_RV rv);

#define LOG_ERROR(...) dep11_log(DEP11_LOG_ERROR, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define LOG_WARN(...)  dep11_log(DEP11_LOG_WARN, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define LOG_INFO(...)  dep11_log(DEP11_LOG_INFO, __FILE__, __LINE__, __func__, __VA_ARGS__)
/* Debug lines are checked for the level before any argument is built: a
 * call that traces in and out (api/entry.c) costs no formatting when off. */
#define LOG_DEBUG(...)                                                       \
    (dep11_log_enabled(DEP11_LOG_DEBUG)                                      \
         ? dep11_log(DEP11_LOG_DEBUG, __FILE__, __LINE__, __func__, __VA_ARGS__) \
         : (void)0)

/* One debug line at the point of failure: "<CKR_NAME>: why". */
#define LOG_FAIL(rv, fmt, ...)                                               \
    (dep11_log_enabled(DEP11_LOG_DEBUG)                                      \
         ? dep11_log(DEP11_LOG_DEBUG, __FILE__, __LINE__, __func__, "%s: " fmt, \
                     dep11_rv_name(rv), ##__VA_ARGS__)                       \
         : (void)0)

#endif
