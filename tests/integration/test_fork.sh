#!/usr/bin/env bash
# test_fork.sh: fork awareness (test_fork.c).
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
itest_world fork
itest_run test_fork
