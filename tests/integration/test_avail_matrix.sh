#!/usr/bin/env bash
# test_avail_matrix.sh: DESIGN section 5's availability table, every cell
# (test_avail_matrix.c), over the fault shim (tests/faultshim/faultmod.c), once
# for each profile mode: files-fallback = all, files-fallback = recovery-only,
# hedged-unwrap = yes, call-timeout-ms = ITEST_TIMEOUT_MS, three codes moved
# by fault-transient / fault-denied / fault-invalid; each in a fresh
# world, since the test destroys the roots and purges at its end. The config
# is the worker's (SYSTEM and RECOVERY allowed) with an audit log.
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
shim="$abs_top_builddir/tests/faultshim/.libs/libdep11-faultmod.so"
if [ ! -f "$shim" ]; then
    echo "SKIP: the fault shim $shim is not built"
    exit 77
fi
# Errors only: the cells with codes outside the table log a warning each.
export DEP11_DEBUG=1
# The time-out of the timeout mode (as in test_fault.sh).
ITEST_TIMEOUT_MS=300
export ITEST_TIMEOUT_MS
status=0
for mode in all recovery-only hedged timeout override; do
    itest_world "avail-matrix-$mode"
    case $mode in
    recovery-only) set_keys=("files-fallback = recovery-only") ;;
    hedged) set_keys=("hedged-unwrap = yes") ;;
    timeout) set_keys=("call-timeout-ms = $ITEST_TIMEOUT_MS") ;;
    override) set_keys=("fault-transient = 0x82" "fault-denied = 0x30" "fault-invalid = 0x2") ;;
    *) set_keys=("files-fallback = all") ;;
    esac
    prof="$ITEST_WORLD/matrix-profile.conf"
    # The world's own profile (the backend's, with ITEST_PROFILE_KEYS set).
    base=$(sed -n 's/^profile *= *//p' "$ITEST_WORLD/dep11-system.conf")
    sed -e "s|^module *=.*|module = $shim|" "$base" >"$prof"
    grep -q "^module = $shim\$" "$prof"
    for k in "${set_keys[@]}"; do
        sed -i "s|^${k%% *} *=.*|$k|" "$prof"
        grep -q "^$k\$" "$prof"
    done
    # A backend whose calls take turns (backend-calls = serial, e.g.
    # opencryptoki 3.8): a stalled call holds the others (test_avail_matrix.c).
    if grep -q '^backend-calls *= *serial' "$prof"; then
        export ITEST_BACKEND_SERIAL=1
    else
        unset ITEST_BACKEND_SERIAL
    fi
    sed -e "s|^profile *=.*|profile = $ITEST_WORLD/matrix-profile.conf|" \
        -e '/^audit-log *=/d' \
        "$ITEST_WORLD/dep11-system.conf" >"$ITEST_WORLD/dep11-matrix.conf"
    echo "audit-log = $ITEST_WORLD/audit.jsonl" >>"$ITEST_WORLD/dep11-matrix.conf"
    : >"$ITEST_WORLD/faults"
    : >"$ITEST_WORLD/audit.jsonl"
    export DEP11_FAULT_MODULE="$SOFTHSM_MODULE"
    export DEP11_FAULT_FILE="$ITEST_WORLD/faults"
    export ITEST_MATRIX="$mode"
    unset DEP11_FAULT_HANDLE_OFFSET
    DEP11_CONF="$ITEST_WORLD/dep11-matrix.conf" itest_run test_avail_matrix || status=1
    # The log the matrix wrote still verifies as one unbroken chain.
    /usr/bin/python3 "$abs_top_srcdir/scripts/dep11-audit-verify" -q \
        "$ITEST_WORLD/audit.jsonl" || { echo "FAIL: audit chain ($mode)"; status=1; }
done
exit $status
