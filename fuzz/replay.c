/*
 * replay.c - the corpus replayer make check runs: a main() for a harness
 * built with the ordinary compiler, calling LLVMFuzzerTestOneInput once for
 * every regular file of a directory (argv[1], else FUZZ_CORPUS_DIR), in name
 * order. Exit 0 after at least one input; 1 when the directory is empty or
 * unreadable. A broken invariant aborts (the test fails).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz/fuzz.h"

#ifndef FUZZ_CORPUS_DIR
#define FUZZ_CORPUS_DIR "."
#endif
#define INPUT_MAX (1u << 20)

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Reads @path (at most INPUT_MAX bytes) into a malloc'ed buffer. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = malloc(INPUT_MAX);

    *len = 0;
    if (f == NULL || buf == NULL) {
        if (f != NULL)
            fclose(f);
        free(buf);
        return NULL;
    }
    *len = fread(buf, 1, INPUT_MAX, f);
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : FUZZ_CORPUS_DIR;
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, by_name), done = 0;
    char path[4096];

    if (n < 0) {
        perror(dir);
        return 1;
    }
    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 0; i < n; i++) {
        struct stat st;
        size_t len = 0;
        uint8_t *buf = NULL;

        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
            (buf = slurp(path, &len)) != NULL) {
            /* An exact-size copy, so ASan sees reads past the input. */
            uint8_t *exact = malloc(len ? len : 1);
            if (exact == NULL)
                return 1;
            memcpy(exact, buf, len);
            LLVMFuzzerTestOneInput(exact, len);
            free(exact);
            done++;
        }
        free(buf);
        free(names[i]);
    }
    free(names);
    printf("replayed %d inputs from %s\n", done, dir);
    return done > 0 ? 0 : 1;
}
