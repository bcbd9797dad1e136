/*
 * fuzz.h - what every harness in fuzz/ defines (the libFuzzer entry points)
 * and what replay.c, the corpus replayer that make check runs, calls.
 */
#ifndef DEP11_FUZZ_H
#define DEP11_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* One input; returns 0. A broken invariant aborts (the fuzzer's finding). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Once per process before the first input; returns 0. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Aborts with a message naming the broken invariant. */
#define FUZZ_CHECK(cond)                                                      \
    do {                                                                      \
        if (!(cond))                                                          \
            fuzz_fail(__FILE__, __LINE__, #cond);                             \
    } while (0)

void fuzz_fail(const char *file, int line, const char *what) __attribute__((noreturn));

#endif
