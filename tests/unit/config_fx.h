/*
 * config_fx.h - the fixture of the util config and PIN unit tests
 * (test_config.c, test_pin.c): a temporary directory per test for the files
 * under test, and the debug log every line goes to, read back per call.
 */
#ifndef DEP11_TESTS_CONFIG_FX_H
#define DEP11_TESTS_CONFIG_FX_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

#include "util/config.h"

#define BASE                                                                                   \
    "profile = prof\n"                                                                         \
    "provider-token = dep11-provider\n"                                                        \
    "provider-pin = env:DEP11_TEST_PIN\n"
#define GOOD_PROFILE "module = /usr/lib/softhsm/libsofthsm2.so\n"
#define SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"

struct fx {
    char dir[64];    /* mkdtemp: every file of the test lives here */
    char conf[128];  /* dir/dep11.conf */
    char prof[128];  /* dir/prof.conf */
    const char *log; /* DEP11_DEBUG_FILE (set by main) */
    off_t logoff;    /* log size before the call under test */
    struct dep11_config cfg;
};

int setup(void **state);
int teardown(void **state);
/* Writes @len bytes of @data to dir/@name (mode 0600). */
void put_bytes(const struct fx *fx, const char *name, const char *data, size_t len);
void put(const struct fx *fx, const char *name, const char *text);
/* Remembers the log's size; log_since() returns what came after (caller frees). */
void mark_log(struct fx *fx);
char *log_since(const struct fx *fx);
/* Writes @conf (and @prof unless NULL) and loads the config into fx->cfg. */
CK_RV load(struct fx *fx, const char *conf, const char *prof);
/* How often @needle occurs in @hay. */
int count(const char *hay, const char *needle);
/* Runs @tests (@n of them) with the debug log at level 4 in a fresh file,
 * so the tests also prove no PIN reaches any level. */
int run_config_tests(const struct CMUnitTest *tests, size_t n);

#endif
