/*
 * test_secmem.c - unit tests of module/util/secmem.c: the secure heap is
 * really active, allocations are zeroed and live on it, the fallback after
 * exhaustion works, cleanse and free behave, and without mlock (a child
 * process with RLIMIT_MEMLOCK 0) the fallback works and warns once.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <linux/capability.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "util/secmem.h"

static void
assert_all(const unsigned char *p, size_t n, unsigned char v)
{
    size_t i = 0;

    for (i = 0; i < n; i++)
        if (p[i] != v)
            fail_msg("byte %zu is 0x%02x, expected 0x%02x", i, p[i], v);
}

static void
test_secure_heap_active(void **state)
{
    void *p = NULL;

    (void)state;
    assert_int_equal(dep11_secmem_init(), 1);
    assert_int_equal(dep11_secmem_active(), 1);
    assert_true(CRYPTO_secure_malloc_initialized());
    /* idempotent */
    assert_int_equal(dep11_secmem_init(), 1);
    p = dep11_secmem_alloc(32);
    assert_non_null(p);
    assert_true(CRYPTO_secure_allocated(p));
    dep11_secmem_free(p, 32);
}

static void *
init_worker(void *arg)
{
    *(int *)arg = dep11_secmem_init();
    return NULL;
}

static void
test_init_threads(void **state)
{
    pthread_t th[8];
    int res[8] = { 0 };
    int i = 0;

    (void)state;
    for (i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&th[i], NULL, init_worker, &res[i]), 0);
    for (i = 0; i < 8; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(res[i], 1);
    }
}

static void
test_alloc_zeroed(void **state)
{
    unsigned char *p = NULL;
    size_t n = 1000;

    (void)state;
    p = dep11_secmem_alloc(n);
    assert_non_null(p);
    assert_all(p, n, 0);
    memset(p, 0xA5, n);
    dep11_secmem_free(p, n);
    /* The buddy allocator hands the same block back: zero again. */
    p = dep11_secmem_alloc(n);
    assert_non_null(p);
    assert_all(p, n, 0);
    dep11_secmem_free(p, n);
}

static void
test_round_trip_sizes(void **state)
{
    static const size_t sizes[] = { 0, 1, 31, 32, 33, 4096, 100000 };
    unsigned char *p[sizeof sizes / sizeof sizes[0]] = { NULL };
    size_t i = 0;

    (void)state;
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        p[i] = dep11_secmem_alloc(sizes[i]);
        assert_non_null(p[i]);
        assert_true(CRYPTO_secure_allocated(p[i]));
        memset(p[i], (int)(i + 1), sizes[i]);
    }
    /* No allocation overlaps another. */
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        assert_all(p[i], sizes[i], (unsigned char)(i + 1));
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        dep11_secmem_free(p[i], sizes[i]);
}

#define BIG (1u << 20)

/* When the arena is full, allocations still succeed (plain, zeroed) and the
 * OpenSSL error queue is left alone. */
static void
test_exhaustion_falls_back(void **state)
{
    unsigned char *p[16] = { NULL };
    size_t i = 0;
    size_t k = 0;

    (void)state;
    ERR_clear_error();
    for (i = 0; i < 16; i++) {
        p[i] = dep11_secmem_alloc(BIG);
        assert_non_null(p[i]);
        assert_all(p[i], BIG, 0);
        memset(p[i], 0x5A, BIG);
        if (!CRYPTO_secure_allocated(p[i]))
            break;
    }
    assert_true(i < 16);
    assert_int_equal(ERR_peek_error(), 0);
    for (k = 0; k <= i; k++)
        dep11_secmem_free(p[k], BIG);
    /* Space is back. */
    p[0] = dep11_secmem_alloc(BIG);
    assert_true(CRYPTO_secure_allocated(p[0]));
    dep11_secmem_free(p[0], BIG);
}

static void
test_free_plain_pointer(void **state)
{
    unsigned char *p = OPENSSL_malloc(64);

    (void)state;
    assert_non_null(p);
    memset(p, 1, 64);
    dep11_secmem_free(p, 64);  /* ASan flags a wrong free or leak */
    dep11_secmem_free(NULL, 64);
}

static void
test_cleanse(void **state)
{
    unsigned char buf[48];

    (void)state;
    memset(buf, 0xFF, sizeof buf);
    dep11_cleanse(buf + 8, 32);
    assert_all(buf, 8, 0xFF);
    assert_all(buf + 8, 32, 0);
    assert_all(buf + 40, 8, 0xFF);
    dep11_cleanse(NULL, 10);
    dep11_cleanse(buf, 0);
    assert_all(buf, 8, 0xFF);
}

/* In a fresh process: no CAP_IPC_LOCK, no lockable memory. Exit status 0 or
 * the number of the check that failed. */
static int
fallback_child(void)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    struct rlimit rl = { 0, 0 };
    unsigned char *p = NULL;
    size_t big = 3 * 4096 + 100;   /* spans whole pages: the mlock path */
    size_t i = 0;

    /* root ignores RLIMIT_MEMLOCK unless it gives up CAP_IPC_LOCK */
    if (syscall(SYS_capget, &h, d) != 0)
        return 1;
    d[0].effective &= ~(1u << CAP_IPC_LOCK);
    d[0].permitted &= ~(1u << CAP_IPC_LOCK);
    if (syscall(SYS_capset, &h, d) != 0)
        return 2;
    if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
        return 3;
    if (dep11_secmem_init() != 0 || dep11_secmem_init() != 0)
        return 4;
    if (dep11_secmem_active() || CRYPTO_secure_malloc_initialized())
        return 5;
    p = dep11_secmem_alloc(big);
    if (p == NULL || CRYPTO_secure_allocated(p))
        return 6;
    for (i = 0; i < big; i++)
        if (p[i] != 0)
            return 7;
    memset(p, 0x77, big);
    dep11_secmem_free(p, big);
    p = dep11_secmem_alloc(32);
    if (p == NULL)
        return 8;
    dep11_secmem_free(p, 32);
    return 0;
}

static void
test_fallback_without_mlock(void **state)
{
    char exe[PATH_MAX];
    char dir[] = "/tmp/dep11-test-secmem-XXXXXX";
    char log[sizeof dir + 8];
    char text[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    FILE *f = NULL;
    size_t got = 0;
    int status = 0;
    pid_t pid = 0;

    (void)state;
    assert_true(n > 0);
    exe[n] = '\0';
    assert_non_null(mkdtemp(dir));
    snprintf(log, sizeof log, "%s/log", dir);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("DEP11_DEBUG", "2", 1);
        setenv("DEP11_DEBUG_FILE", log, 1);
        execl(exe, exe, "--fallback-child", (char *)NULL);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    f = fopen(log, "r");
    assert_non_null(f);
    got = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[got] = '\0';
    unlink(log);
    rmdir(dir);
    /* warned exactly once, at WARN level */
    assert_non_null(strstr(text, "WARN util/secmem.c"));
    assert_non_null(strstr(text, "secure heap unavailable"));
    assert_null(strstr(strstr(text, "secure heap unavailable") + 1,
                       "secure heap unavailable"));
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secure_heap_active),
        cmocka_unit_test(test_init_threads),
        cmocka_unit_test(test_alloc_zeroed),
        cmocka_unit_test(test_round_trip_sizes),
        cmocka_unit_test(test_exhaustion_falls_back),
        cmocka_unit_test(test_free_plain_pointer),
        cmocka_unit_test(test_cleanse),
        cmocka_unit_test(test_fallback_without_mlock),
    };

    if (argc == 2 && strcmp(argv[1], "--fallback-child") == 0)
        return fallback_child();

    return cmocka_run_group_tests(tests, NULL, NULL);
}
