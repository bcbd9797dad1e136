#!/usr/bin/env bash
# test_selftest_module.sh: forces each power-on self test to fail through
# libdep11.so (debug builds) in a fresh SoftHSM world.
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
itest_world selftest
itest_run ../vectors/test_selftest_module
