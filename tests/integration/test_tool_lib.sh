#!/usr/bin/env bash
# test_tool_lib.sh: sourced by the test_tool_*.sh scripts. Sets up a
# throwaway SoftHSM world (setup-tokens.sh) in $W, brings in the checks of
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

W="$abs_top_builddir/tests/integration/$(basename "$0" .sh)-world"
bash "$abs_top_srcdir/tests/integration/setup-tokens.sh" "$W" >/dev/null || {
    echo "FAIL: setup-tokens.sh"; exit 1; }
export SOFTHSM2_CONF="$W/softhsm2.conf"
export DEP11_CONF="$W/dep11.conf"
OUT="$W/out"
mkdir -p "$OUT"
UP="file:$W/user.pin"
D=(--module "$DEP11_MODULE" --token-label contoso --pin-source "$UP")

fails=0 checks=0
# shellcheck source=tests/integration/tool_checks.sh
. "$here/tool_checks.sh"
finish() {
    echo "$checks checks, $fails failures"
    [ "$fails" -eq 0 ]
}
