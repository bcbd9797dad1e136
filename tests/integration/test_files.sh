#!/usr/bin/env bash
# test_files.sh: runs test_files (cmocka: FILES and MULTI_WORKLOAD
# hierarchies, chunk keys, CHUNK_AEAD) in a fresh SoftHSM world. The
# derive/destroy cycles test runs alone, with ASan's quarantine (which keeps
# freed memory resident on purpose) turned down so that RSS can be compared.
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
itest_world files
itest_run test_files "" "test_derive_destroy_cycles"
# Under valgrind, freed blocks wait in memcheck's own queue and RSS says
# nothing about the module: the memory check there is memcheck's leak report,
# and the RSS comparison runs in the plain and ASan passes.
if [ "${ITEST_VALGRIND:-0}" = 1 ]; then
    echo "(derive/destroy RSS comparison not run under valgrind)"
else
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0" \
        itest_run test_files "test_derive_destroy_cycles"
fi
