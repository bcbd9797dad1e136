#!/usr/bin/env bash
# test_mechanisms.sh: runs test_mechanisms (cmocka) in a fresh SoftHSM world.
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
itest_world mechanisms
itest_run test_mechanisms
