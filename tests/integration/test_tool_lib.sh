#!/usr/bin/env bash
# test_tool_lib.sh: sourced by the test_tool_*.sh scripts. Sets up a
# throwaway world (tool_world: SoftHSM, or opencryptoki under ock_run.sh) in $W, brings in the checks of
# tool_checks.sh (fail, flip, t, has, hasnt, json), and defines finish.
# Skips (exit 77) without the tool, SoftHSM or the built libdep11.so.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${abs_top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${abs_top_builddir:=$abs_top_srcdir}"
: "${SOFTHSM_MODULE:=/usr/lib/softhsm/libsofthsm2.so}"
: "${DEP11_MODULE:=$abs_top_builddir/.libs/libdep11.so}"
TOOL="$abs_top_builddir/tools/dep11-tool"

[ -x "$TOOL" ] || { echo "SKIP: $TOOL not built"; exit 77; }
[ -f "$SOFTHSM_MODULE" ] || { echo "SKIP: no SoftHSM module"; exit 77; }
[ -f "$DEP11_MODULE" ] || { echo "SKIP: $DEP11_MODULE not built"; exit 77; }
command -v pkcs11-tool >/dev/null || { echo "SKIP: no pkcs11-tool"; exit 77; }

# shellcheck source=tests/integration/tool_checks.sh
. "$here/tool_checks.sh"
tool_world "$abs_top_builddir/tests/integration/$(basename "$0" .sh)-world"
export SOFTHSM2_CONF="$W/softhsm2.conf"
export DEP11_CONF="$W/dep11.conf"
OUT="$W/out"
mkdir -p "$OUT"
UP="file:$W/user.pin"

# pkcs11-tool on libdep11.so: an ASan build of the module needs the ASan
# runtime preloaded in the uninstrumented pkcs11-tool (as common.sh does).
asan_rt=$(ldd "$DEP11_MODULE" 2>/dev/null | awk '/libasan\.so/ { print $3; exit }')
p11dep11() {
    if [ -n "$asan_rt" ]; then
        LD_PRELOAD="$asan_rt" \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0:verify_asan_link_order=0" \
            pkcs11-tool --module "$DEP11_MODULE" "$@"
    else
        pkcs11-tool --module "$DEP11_MODULE" "$@"
    fi
}

D=(--module "$DEP11_MODULE" --token-label contoso --pin-source "$UP")

fails=0 checks=0
finish() {
    echo "$checks checks, $fails failures"
    [ "$fails" -eq 0 ]
}
