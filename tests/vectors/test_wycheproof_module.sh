#!/usr/bin/env bash
# test_wycheproof_module.sh: Wycheproof vectors through libdep11.so's
# pass-through to SoftHSM (test_wycheproof_module) in a fresh world.
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
. "$abs_top_srcdir/tests/vectors/wycheproof-convert.sh" module
itest_world wycheproof
echo "== test_wycheproof_module (DEP11_CONF=$DEP11_CONF)"
"$abs_top_builddir/tests/vectors/test_wycheproof_module"
