#!/usr/bin/env bash
# test_attacks.sh: attacks that must fail (test_attacks.c), in a fresh world
# (the last test destroys the customer's private roots before a purge).
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
itest_world attacks
itest_run test_attacks
