#!/usr/bin/env bash
# test_roots.sh: runs test_roots with trusted-roots = require (dep11.conf),
# then with trusted-roots = any (dep11-any.conf), in one fresh world.
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
itest_needs trusted-twin
itest_world roots
status=0
itest_run test_roots require || status=1
DEP11_CONF="$ITEST_WORLD/dep11-any.conf" itest_run test_roots any || status=1
exit $status
