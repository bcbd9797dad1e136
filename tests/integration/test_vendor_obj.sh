#!/usr/bin/env bash
# test_vendor_obj.sh: runs test_vendor_obj (cmocka) in a fresh SoftHSM world.
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
itest_world vendor-obj
itest_run test_vendor_obj
