#!/usr/bin/env bash
# test_fault.sh: dep11 over the fault-injecting shim (tests/faultshim), with a
# profile written here whose module is the shim (the timeout scenario sets a
# per-call time-out (ITEST_TIMEOUT_MS), the hedged one hedged-unwrap = yes; both keep
# an audit log).
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
itest_need_shim
# The time-out: 300 ms; 1.5 s under valgrind, where an RSA decryption alone
# takes a few hundred ms. The test derives its stalls from it.
ITEST_TIMEOUT_MS=300
[ "${ITEST_VALGRIND:-0}" = 1 ] && ITEST_TIMEOUT_MS=1500
export ITEST_TIMEOUT_MS
status=0
for scenario in handles transient timeout hedged; do
    itest_world "fault-$scenario"
    itest_shim_profile "$ITEST_WORLD/fault-profile.conf"
    case $scenario in
    timeout) sed -i "s|^call-timeout-ms *=.*|call-timeout-ms = $ITEST_TIMEOUT_MS|" "$ITEST_WORLD/fault-profile.conf"
             grep -q "^call-timeout-ms = $ITEST_TIMEOUT_MS\$" "$ITEST_WORLD/fault-profile.conf" ;;
    hedged) sed -i "s|^hedged-unwrap *=.*|hedged-unwrap = yes|" "$ITEST_WORLD/fault-profile.conf"
            grep -q "^hedged-unwrap = yes\$" "$ITEST_WORLD/fault-profile.conf" ;;
    esac
    if grep -q '^backend-calls *= *serial' "$ITEST_WORLD/fault-profile.conf"; then
        export ITEST_BACKEND_SERIAL=1
    else
        unset ITEST_BACKEND_SERIAL
    fi
    sed "s|^profile *=.*|profile = $ITEST_WORLD/fault-profile.conf|" \
        "$ITEST_WORLD/dep11.conf" >"$ITEST_WORLD/dep11-fault.conf"
    echo "audit-log = $ITEST_WORLD/audit.jsonl" >>"$ITEST_WORLD/dep11-fault.conf"
    : >"$ITEST_WORLD/faults"
    export DEP11_FAULT_MODULE="$SOFTHSM_MODULE"
    export DEP11_FAULT_FILE="$ITEST_WORLD/faults"
    if [ "$scenario" = handles ]; then
        export DEP11_FAULT_HANDLE_OFFSET=1
    else
        unset DEP11_FAULT_HANDLE_OFFSET
    fi
    DEP11_CONF="$ITEST_WORLD/dep11-fault.conf" itest_run test_fault "$scenario" || status=1
done
exit $status
