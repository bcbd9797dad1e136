#!/usr/bin/env bash
# test_fault.sh: dep11 over the fault-injecting shim (tests/tools), with a
# profile written here whose module is the shim.
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
shim="$abs_top_builddir/tests/tools/.libs/libdep11-faultmod.so"
if [ ! -f "$shim" ]; then
    echo "SKIP: the fault shim $shim is not built"
    exit 77
fi
status=0
for scenario in handles transient; do
    itest_world "fault-$scenario"
    # The project's SoftHSM profile, with the shim as its module.
    sed "s|^module *=.*|module = $shim|" "$abs_top_srcdir/hsm-profiles/softhsm2.conf" \
        >"$ITEST_WORLD/fault-profile.conf"
    grep -q "^module = $shim\$" "$ITEST_WORLD/fault-profile.conf"
    sed "s|^profile *=.*|profile = $ITEST_WORLD/fault-profile.conf|" \
        "$ITEST_WORLD/dep11.conf" >"$ITEST_WORLD/dep11-fault.conf"
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
