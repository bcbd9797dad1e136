#!/usr/bin/env bash
# test_demo_ock.sh: scripts/demo --hsm opencryptoki (issue 13 item 2): the
# demo story on opencryptoki's soft token, in the world of ock_world.sh,
# from the build tree (DEMO_PREBUILT: no make, no package check). Passes
# when the demo runs every step; then, and also when it fails, no
# pkcsslotd and no namespace holder may be left, and no mount in the
# machine's namespace. Any failure fails.
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
# shellcheck source=tests/integration/ock_world.sh
. "$abs_top_srcdir/tests/integration/ock_world.sh"
# An ASan build: opencryptoki's allocations are not this project's leaks.
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$abs_top_srcdir/tests/integration/lsan-ock.supp"
if ! why=$(ock_world_usable); then
    echo "SKIP: $why"
    exit 77
fi
before=$(ock_host_mounts)
log="$abs_top_builddir/tests/integration/demo-ock.log"
rc=0
DEMO_PREBUILT=1 DEP11_BUILD_DIR="$abs_top_builddir" "$abs_top_srcdir/scripts/demo" \
    --hsm opencryptoki >"$log" 2>&1 || rc=$?
sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^== Step|^  => |DEMO FAILED|world is stopped' || true
status=0
# ock_world_stop removes slotd.pid once pkcsslotd is gone
if [ -f "$abs_top_builddir/demo-ock-world/slotd.pid" ]; then
    echo "FAIL: the demo's pkcsslotd still runs"
    status=1
fi
grep -q 'The opencryptoki world is stopped' "$log" || { echo "FAIL: the demo did not stop its world"; status=1; }
[ "$(ock_host_mounts)" = "$before" ] || { echo "FAIL: a mount is left in the machine's namespace"; status=1; }
[ $status = 0 ] || exit 1
if [ $rc = 0 ]; then
    grep -q 'The demo ran every step as described' "$log" || { echo "FAIL: the demo ended early"; exit 1; }
    echo "the demo ran every step on opencryptoki"
    exit 0
fi
echo "FAIL: the demo failed on opencryptoki (exit $rc):"
tail -20 "$log"
exit 1
