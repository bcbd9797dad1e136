#!/usr/bin/env bash
# test_cache_audit.sh: the policy-key cache and the audit log over SoftHSM.
# Each scenario of test_cache_audit.c runs in a fresh world with its own
# config (cache-seconds, audit-log); every audit log written is then checked
# with scripts/dep11-audit-verify. Two processes then write one log at once
# (one valid chain, no line lost). Last, bench/bench_unwrap prints the
# unwrap latency with and without the cache (informational, not asserted).
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
status=0
py=${PYTHON:-/usr/bin/python3}
verifier="$abs_top_srcdir/scripts/dep11-audit-verify"

# conf NAME BASE LINE...: a config of the world, BASE plus LINEs.
conf() {
    local name=$1 base=$2
    shift 2
    # the base's own audit-log (dep11-system.conf has one) gives way to ours
    { grep -v '^audit-log *=' "$ITEST_WORLD/$base"; printf '%s\n' "$@"; } >"$ITEST_WORLD/$name"
}

verify_log() {
    if ! "$py" "$verifier" "$1"; then
        echo "FAIL: $1 does not verify"
        status=1
    fi
}

# scenario NAME CACHE-SECONDS [BASE-CONFIG]
scenario() {
    itest_world "cache-$1"
    export ITEST_AUDIT_LOG="$ITEST_WORLD/audit.jsonl"
    conf dep11-cache2.conf dep11.conf "cache-seconds = 2" "audit-log = $ITEST_AUDIT_LOG"
    conf dep11-system-audit.conf dep11-system.conf "audit-log = $ITEST_AUDIT_LOG"
    conf dep11-run.conf "${3:-dep11.conf}" "cache-seconds = $2" "audit-log = $ITEST_AUDIT_LOG"
    DEP11_CONF="$ITEST_WORLD/dep11-run.conf" itest_run test_cache_audit "$1" || status=1
    verify_log "$ITEST_AUDIT_LOG"
}

scenario bound 2
# The verifier catches an edit of that log (one byte of line 2).
edited="$ITEST_WORLD/audit-edited.jsonl"
sed '2s/"version":1/"version":2/' "$ITEST_AUDIT_LOG" >"$edited"
if "$py" "$verifier" "$edited"; then
    echo "FAIL: an edited audit log verified"
    status=1
fi
scenario flush 300
scenario nocache 0
scenario purge 2 dep11-system.conf
scenario lifecycle 300
scenario memo 300

# Two writers on one log at the same time: 2 x ROUNDS rounds x 2 lines.
rounds=25
if [ "$ITEST_BACKEND" = opencryptoki ]; then
    # Each round's policy gets its own RSA availability key pair, generated
    # by the soft token (about 1 s each): fewer rounds keep the run short.
    rounds=8
    echo "writers on opencryptoki: $rounds rounds, not 25 (an RSA availability key generated per policy)"
fi
itest_world cache-writers
export ITEST_AUDIT_LOG="$ITEST_WORLD/audit.jsonl"
conf dep11-run.conf dep11.conf "cache-seconds = 0" "audit-log = $ITEST_AUDIT_LOG"
# The provider keys are made first, by one process without the log: two
# processes creating them at the same instant race on SoftHSM's file store
# (docs/CONFIG.md), which is not what this test is about.
DEP11_CONF="$ITEST_WORLD/dep11.conf" ITEST_ROUNDS=1 itest_run test_cache_audit writer >/dev/null 2>&1 ||
    { echo "FAIL: the warm-up writer failed"; status=1; }
# The two log in one after the other (the second starts once the first is
# ready), then write at once (SoftHSM's login race: test_writer's meet()).
export DEP11_CONF="$ITEST_WORLD/dep11-run.conf" ITEST_ROUNDS=$rounds
export ITEST_SYNC_DIR="$ITEST_WORLD/sync" ITEST_WRITERS=2
mkdir -p "$ITEST_SYNC_DIR"
itest_run test_cache_audit writer >"$ITEST_WORLD/writer1.out" 2>&1 &
w1=$!
for _ in $(seq 1 1200); do
    compgen -G "$ITEST_SYNC_DIR/ready.*" >/dev/null && break
    kill -0 "$w1" 2>/dev/null || break
    sleep 0.1
done
itest_run test_cache_audit writer >"$ITEST_WORLD/writer2.out" 2>&1 &
w2=$!
for w in $w1 $w2; do
    if ! wait "$w"; then
        echo "FAIL: a writer failed"
        status=1
    fi
done
cat "$ITEST_WORLD/writer1.out" "$ITEST_WORLD/writer2.out"
lines=$(wc -l <"$ITEST_AUDIT_LOG")
if [ "$lines" -ne $((2 * rounds * 2)) ]; then
    echo "FAIL: the shared log has $lines lines, expected $((2 * rounds * 2))"
    status=1
fi
verify_log "$ITEST_AUDIT_LOG"

# Latency, cached and not (with the audit log on, then off).
conf dep11-bench.conf dep11.conf "cache-seconds = 300"
conf dep11-bench-audit.conf dep11.conf "cache-seconds = 300" \
    "audit-log = $ITEST_WORLD/bench-audit.jsonl"
DEP11_CONF="$ITEST_WORLD/dep11-bench-audit.conf" "$abs_top_builddir/bench/bench_unwrap" "audit on" ||
    echo "(bench failed: not a test failure)"
DEP11_CONF="$ITEST_WORLD/dep11-bench.conf" "$abs_top_builddir/bench/bench_unwrap" "audit off" ||
    echo "(bench failed: not a test failure)"
exit $status
