#!/usr/bin/env bash
# test_flat_params.sh: the flat AEAD parameters and the text attributes of
# a policy through libdep11.so (test_flat_params.c), in a fresh world.
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
itest_world flat_params
itest_run test_flat_params
