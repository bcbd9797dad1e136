# tool_checks.sh: the checks of the dep11-tool tests, sourced by
# test_tool.sh, test_tool_files.sh and test_tool_lib.sh (after they set $OUT
# and fails=0 checks=0):
#   fail MSG              count a failure
#   flip FILE OFFSET      invert the low bit of one byte (always a change:
#                         writing a fixed byte over random data leaves it
#                         unchanged once in 256 runs)
#   t RC NAME -- CMD...   run CMD, expect exit RC (output in $OUT/stdout|stderr)
#   has FILE REGEX / hasnt FILE REGEX   on $OUT/stdout or $OUT/stderr
#   json EXPR             a Python expression on j (stdout parsed as JSON)
#   tool_world DIR        a throwaway world in W=DIR (setup-tokens.sh); with
#                         ITEST_BACKEND=opencryptoki (ock_run.sh) in W=DIR-ock
#                         on opencryptoki's soft tokens (ock_world_tokens: the
#                         same files and labels), SOFTHSM_MODULE then naming
#                         opencryptoki's library. Exits 1 when it fails.
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
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
tool_world() {
    local src
    src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    W=$1
    if [ "${ITEST_BACKEND:-softhsm}" = opencryptoki ]; then
        # shellcheck source=tests/integration/ock_world.sh
        . "$src/ock_world.sh"
        SOFTHSM_MODULE=$OCK_MODULE
        W="$1-ock"
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" ock_world_tokens "$W" >/dev/null ||
            { echo "FAIL: ock_world_tokens"; exit 1; }
    else
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
            bash "$src/setup-tokens.sh" "$W" >/dev/null || { echo "FAIL: setup-tokens.sh"; exit 1; }
    fi
}
