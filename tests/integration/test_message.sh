#!/usr/bin/env bash
# test_message.sh: the PKCS#11 3.0 interfaces and message-based encryption
# through libdep11.so (test_message.c), in a fresh world.
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
itest_world message
itest_run test_message
