#!/usr/bin/env bash
# test_isolation.sh: runs test_isolation (cmocka) in a fresh SoftHSM world.
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
itest_world isolation
ITEST_PROVIDER_SLOT=$(itest_slot_of dep11-provider)
[ -n "$ITEST_PROVIDER_SLOT" ] || { echo "no slot for dep11-provider" >&2; exit 99; }
export ITEST_PROVIDER_SLOT
itest_run test_isolation
