#!/usr/bin/env bash
# test_blobs.sh: runs test_blobs (cmocka) in a fresh SoftHSM world.
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
itest_world blobs
itest_run test_blobs
