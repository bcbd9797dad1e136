/*
 * fuzz_config.c - libFuzzer harness of dep11_config_load: the input is a
 * config file, optionally followed by "\n%%\n" and a profile file written
 * beside it as "fz.conf" (so "profile = fz" reaches the profile parser).
 * Every input loads or is refused with CKR_FUNCTION_FAILED; strings come
 * back NUL-terminated. Files live in a private temporary directory (in
 * /dev/shm when there is one), removed at exit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "util/config.h"

static char dir[256];
static char conf_path[300];
static char prof_path[300];

static void cleanup(void)
{
    unlink(conf_path);
    unlink(prof_path);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

    (void)argc;
    (void)argv;
    setenv("DEP11_DEBUG", "0", 0);   /* refusals are the common case: quiet */
    snprintf(dir, sizeof dir, "%s/dep11-fuzz-config-XXXXXX", base);
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(conf_path, sizeof conf_path, "%s/dep11.conf", dir);
    snprintf(prof_path, sizeof prof_path, "%s/fz.conf", dir);
    atexit(cleanup);
    return 0;
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");

    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(fwrite(p, 1, n, f) == n || n == 0);
    FUZZ_CHECK(fclose(f) == 0);
}

static const uint8_t *find_sep(const uint8_t *data, size_t size)
{
    static const char sep[] = "\n%%\n";

    for (size_t i = 0; size >= 4 && i <= size - 4; i++)
        if (memcmp(data + i, sep, 4) == 0)
            return data + i;
    return NULL;
}

static int terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *sep = find_sep(data, size);
    size_t clen = sep != NULL ? (size_t)(sep - data) : size;
    struct dep11_config *cfg = malloc(sizeof *cfg);
    CK_RV rv = CKR_GENERAL_ERROR;

    FUZZ_CHECK(cfg != NULL);
    write_file(conf_path, data, clen);
    if (sep != NULL)
        write_file(prof_path, sep + 4, size - clen - 4);
    else
        unlink(prof_path);
    memset(cfg, 0xA5, sizeof *cfg);
    rv = dep11_config_load(conf_path, cfg);
    FUZZ_CHECK(rv == CKR_OK || rv == CKR_FUNCTION_FAILED);
    if (rv == CKR_OK) {
        FUZZ_CHECK(terminated(cfg->provider_token, sizeof cfg->provider_token));
        FUZZ_CHECK(terminated(cfg->provider_pin, sizeof cfg->provider_pin));
        FUZZ_CHECK(terminated(cfg->audit_log, sizeof cfg->audit_log));
        FUZZ_CHECK(terminated(cfg->profile.module, sizeof cfg->profile.module));
        FUZZ_CHECK(cfg->provider_token[0] != '\0' && cfg->profile.module[0] != '\0');
        FUZZ_CHECK(cfg->profile.oaep_hash == CKM_SHA_1 || cfg->profile.oaep_hash == CKM_SHA256);
    }
    free(cfg);
    return 0;
}
