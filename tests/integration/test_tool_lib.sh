#!/usr/bin/env bash
# test_tool_lib.sh: sourced by the test_tool_*.sh scripts. Sets up a
# throwaway SoftHSM world (setup-tokens.sh) in $W and defines the checks:
#   t RC NAME -- CMD...   run CMD, expect exit RC (output in $OUT/stdout|stderr)
#   has FILE REGEX / hasnt FILE REGEX   on $OUT/stdout or $OUT/stderr
#   json EXPR             a Python expression on j (stdout parsed as JSON)
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
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# flip FILE OFFSET: inverts the low bit of one byte (always a change; writing
# a fixed byte over random data leaves it unchanged once in 256 runs).
flip() {
    /usr/bin/python3 -c 'import sys
p, o = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read())
b[o] ^= 1
open(p, "wb").write(b)' "$1" "$2"
}
t() {
    local want=$1 name=$2 rc=0
    shift 3
    "$@" >"$OUT/stdout" 2>"$OUT/stderr" || rc=$?
    checks=$((checks + 1))
    if [ "$rc" -ne "$want" ]; then
        fail "$name: exit $rc, want $want"
        sed 's/^/    out: /' "$OUT/stdout" | head -20
        sed 's/^/    err: /' "$OUT/stderr" | head -20
        return 1
    fi
    echo "ok: $name (exit $rc)"
}
has() {
    checks=$((checks + 1))
    grep -Eq -- "$2" "$OUT/$1" || { fail "$1 lacks /$2/"; sed 's/^/    /' "$OUT/$1" | head -20; }
}
hasnt() {
    checks=$((checks + 1))
    ! grep -Eq -- "$2" "$OUT/$1" || fail "$1 has /$2/"
}
json() {
    checks=$((checks + 1))
    /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if ($1) else 1)" \
        "$OUT/stdout" || { fail "json: $1"; sed 's/^/    /' "$OUT/stdout" | head -5; }
}
finish() {
    echo "$checks checks, $fails failures"
    [ "$fails" -eq 0 ]
}
