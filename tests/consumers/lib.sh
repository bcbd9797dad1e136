# tests/consumers/lib.sh: sourced by the consumer tests. Builds on
# tests/integration/common.sh (a fresh SoftHSM world per test: customer token
# "contoso", user PIN 1234) and adds:
#   consumer_world NAME   the world, plus an RSA-2048 key pair "signer"
#                         (CKA_ID 5e) made on contoso through SoftHSM
#                         directly: a plain signing key, not a dep11 root
#   check WHAT CMD...     one assertion ("ok - WHAT" / "not ok - WHAT")
#   snippet NAME FILE     the README block after "<!-- snippet: NAME -->"
#   consumer_finish       the verdict (exit 1 on any "not ok")
#   with_module           runs a command with the ASan runtime preloaded
#                         when $MODULE (default: dep11) is an instrumented dep11
#   p11kit_server SOCK PROVIDER OUT [PREFIX...]
#                         "p11-kit server" exporting PROVIDER's contoso on unix
#                         socket SOCK, stopped on EXIT; p11kit_server_stop
# The README's "Use it from ..." snippets read $MODULE (the PKCS#11 library:
# SoftHSM's or dep11's), so each runs once directly and once through dep11.
# shellcheck source=tests/integration/common.sh
. "${abs_top_srcdir:?run through make check}/tests/integration/common.sh"

consumer_fails=0
consumer_checks=0

check() {
    local what=$1
    shift
    consumer_checks=$((consumer_checks + 1))
    if "$@"; then
        echo "ok - $what"
    else
        echo "not ok - $what"
        consumer_fails=$((consumer_fails + 1))
    fi
}

consumer_finish() {
    echo "# $consumer_checks checks, $consumer_fails failed"
    [ "$consumer_fails" -eq 0 ]
}

# snippet NAME OUTFILE: the fenced block that follows the line
# "<!-- snippet: NAME -->" in README.md; an absent snippet is a failure.
snippet() {
    awk -v want="<!-- snippet: $1 -->" '
        $0 == want { found = 1; next }
        found == 1 && /^```/ { found = 2; next }
        found == 2 && /^```/ { exit }
        found == 2 { print }' "$abs_top_srcdir/README.md" >"$2"
    [ -s "$2" ] || { echo "README.md has no snippet $1" >&2; return 1; }
}

# libstdc++ goes right after the ASan runtime: ASan's __cxa_throw interceptor
# needs it resolvable (PyKCS11's SWIG layer throws C++ exceptions).
# (awk reads all of ldconfig's output: an early exit would kill ldconfig with
# SIGPIPE, and pipefail would then end the sourcing test with status 141.)
consumer_stdcxx=$(ldconfig -p 2>/dev/null | awk '!n && /libstdc\+\+\.so\.6 .*x86-64/ { print $NF; n = 1 }')
with_module() {
    # Only for dep11 itself: SoftHSM alone is not instrumented (and p11tool
    # over SoftHSM with the ASan runtime preloaded hangs at exit).
    if [ -n "$itest_preload" ] && [ "${MODULE:-$DEP11_MODULE}" = "$DEP11_MODULE" ]; then
        LD_PRELOAD="$itest_preload${consumer_stdcxx:+ $consumer_stdcxx}" \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0:verify_asan_link_order=0" "$@"
    else
        "$@"
    fi
}

consumer_world() {
    itest_world "$1"
    pkcs11-tool --module "$SOFTHSM_MODULE" --token-label contoso --login --pin 1234 \
        --keypairgen --key-type rsa:2048 --label signer --id 5e --usage-sign \
        >>"$ITEST_WORLD/setup.log" 2>&1
    CONSUMER_OUT="$ITEST_WORLD/out"
    mkdir -p "$CONSUMER_OUT"
}

# A Python with PyKCS11 (Debian's python3-pykcs11 is for /usr/bin/python3).
consumer_python() {
    local py
    for py in /usr/bin/python3 "${PYTHON:-}" python3; do
        [ -n "$py" ] && command -v "$py" >/dev/null 2>&1 || continue
        if "$py" -c 'import PyKCS11' 2>/dev/null; then
            echo "$py"
            return 0
        fi
    done
    return 1
}

# consumer_module MODE: the library a snippet gets as $MODULE ("softhsm": the
# backend directly; "dep11": libdep11.so with the world's DEP11_CONF).
consumer_module() {
    case $1 in
        softhsm) echo "$SOFTHSM_MODULE" ;;
        dep11) echo "$DEP11_MODULE" ;;
    esac
}

# run_snippet NAME MODE [INTERPRETER...]: the README snippet NAME, run in its
# own directory $CONSUMER_OUT/NAME-MODE (exported as SNIPPET_DIR) with
# $MODULE set; output in SNIPPET_DIR/out. Default interpreter: bash -eu.
run_snippet() {
    local name=$1 mode=$2
    shift 2
    SNIPPET_DIR="$CONSUMER_OUT/$name-$mode"
    mkdir -p "$SNIPPET_DIR"
    snippet "$name" "$SNIPPET_DIR/snippet" || return 1
    [ $# -gt 0 ] || set -- bash -eu -o pipefail
    echo "== $name through $mode"
    local rc=0
    (cd "$SNIPPET_DIR" && MODULE=$(consumer_module "$mode") with_module timeout 600 "$@" snippet) \
        >"$SNIPPET_DIR/out" 2>&1 || rc=$?
    cat "$SNIPPET_DIR/out"
    return $rc
}

# out_has PATTERN / out_lacks PATTERN: on the last snippet's output.
out_has() { grep -q -- "$1" "$SNIPPET_DIR/out"; }
out_lacks() { ! grep -q -- "$1" "$SNIPPET_DIR/out"; }

# c_snippet NAME PROG: the README's C snippet NAME, compiled against
# include/dep11.h with p11-kit's Cflags (what `pkg-config --cflags dep11`
# gives once installed) into $CONSUMER_OUT/PROG, then run through dep11 and
# through SoftHSM; each run's output, ending "exit RC", in
# $CONSUMER_OUT/dep11.out and softhsm.out.
c_snippet() {
    local name=$1 prog="$CONSUMER_OUT/$2" src="$CONSUMER_OUT/$2.c" mode rc
    check "README has the C snippet $name" snippet "$name" "$src"
    # shellcheck disable=SC2046
    check "the snippet $name compiles" ${CC:-cc} -std=c11 -Wall -Werror \
        -I"$abs_top_srcdir/include" $(pkg-config --cflags p11-kit-1) -o "$prog" "$src" -ldl
    for mode in dep11 softhsm; do
        echo "== $2 through $mode"
        rc=0
        MODULE=$(consumer_module "$mode") with_module "$prog" >"$CONSUMER_OUT/$mode.out" 2>&1 ||
            rc=$?
        echo "exit $rc" >>"$CONSUMER_OUT/$mode.out"
        cat "$CONSUMER_OUT/$mode.out"
    done
}

# p11kit_server SOCK PROVIDER OUT [PREFIX...]: starts "p11-kit server" (run
# through PREFIX, e.g. another user's env) exporting token contoso of the
# PKCS#11 library PROVIDER on unix socket SOCK, its output in OUT; stopped
# on EXIT, also when a check fails. Waits up to 10 s for the socket; 0 when
# the server listens.
p11kit_server_pid=""
p11kit_server_stop() {
    [ -n "$p11kit_server_pid" ] || return 0
    kill "$p11kit_server_pid" 2>/dev/null || true
    wait "$p11kit_server_pid" 2>/dev/null || true
    p11kit_server_pid=""
}
p11kit_server() {
    local sock=$1 provider=$2 out=$3
    shift 3
    rm -f "$sock"
    "$@" p11-kit server -f -n "$sock" --provider "$provider" "pkcs11:token=contoso" >"$out" 2>&1 &
    p11kit_server_pid=$!
    trap p11kit_server_stop EXIT
    for _ in $(seq 100); do
        [ -S "$sock" ] && return 0
        sleep 0.1
    done
    return 1
}
