#!/usr/bin/env bash
# test_vendor_std.sh: runs test_vendor_std (cmocka) in a fresh SoftHSM world.
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
itest_world vendor-std
itest_run test_vendor_std
