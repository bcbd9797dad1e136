#!/usr/bin/env bash
# test_demo.sh: scripts/demo, the README's first command, on SoftHSM from
# the build tree (DEMO_PREBUILT: no make, no package check; its files in
# DEP11_BUILD_DIR/demo). Passes when the demo runs every step as described;
# its log is tests/integration/demo.log. test_demo_ock.sh runs the same story
# on opencryptoki.
set -euo pipefail
: "${abs_top_srcdir:?run through make check}"
: "${abs_top_builddir:?run through make check}"
# The demo drives pkcs11-tool (not instrumented) through the module: an
# ASan build of the module cannot be loaded there without preloading the
# runtime, which the demo, written for users, does not do. The release
# build runs the demo; the ASan pass covers the module through the others.
if ldd "${DEP11_MODULE:?run through make check}" 2>/dev/null | grep 'libasan\.so' >/dev/null; then
    echo "SKIP: $(basename "$0"): the module is an ASan build (the demo runs in the release build)"
    exit 77
fi
log="$abs_top_builddir/tests/integration/demo.log"
rc=0
DEMO_PREBUILT=1 DEP11_BUILD_DIR="$abs_top_builddir" "$abs_top_srcdir/scripts/demo" >"$log" 2>&1 ||
    rc=$?
sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^== Step|^  => |DEMO FAILED' || true
if [ $rc = 0 ] && grep -q 'The demo ran every step as described' "$log"; then
    echo "the demo ran every step on SoftHSM"
    exit 0
fi
echo "FAIL: the demo failed on SoftHSM (exit $rc):"
tail -20 "$log"
exit 1
