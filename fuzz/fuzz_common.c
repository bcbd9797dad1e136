/*
 * fuzz_common.c - helpers shared by the harnesses: the invariant failure
 * that ends a run (abort, so libFuzzer and the replayer both report it).
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz/fuzz.h"

/**
 * fuzz_fail - prints "file:line: invariant broken: what" and aborts.
 */
void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
    abort();
}
