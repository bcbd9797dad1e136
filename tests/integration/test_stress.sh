#!/usr/bin/env bash
# test_stress.sh: 2..16 threads mixing every mechanism (test_stress.c).
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
itest_world stress
itest_run test_stress
