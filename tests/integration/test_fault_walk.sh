#!/usr/bin/env bash
# test_fault_walk.sh: the fault walk (test_fault_walk.c) over the fault shim
# (tests/faultshim/faultmod.c) with call tracing on; a profile written here makes
# the shim dep11's backend module.
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
itest_need_shim
itest_world fault-walk
itest_shim_profile "$ITEST_WORLD/fault-profile.conf"
sed "s|^profile *=.*|profile = $ITEST_WORLD/fault-profile.conf|" \
    "$ITEST_WORLD/dep11.conf" >"$ITEST_WORLD/dep11-fault.conf"
: >"$ITEST_WORLD/faults"
: >"$ITEST_WORLD/trace"
export DEP11_FAULT_MODULE="$SOFTHSM_MODULE"
export DEP11_FAULT_FILE="$ITEST_WORLD/faults"
export DEP11_FAULT_TRACE="$ITEST_WORLD/trace"
unset DEP11_FAULT_HANDLE_OFFSET
# The expectations that depend on the profile's routes (test_fault_walk.c).
unset ITEST_ROOT_REG_SO_LOGIN ITEST_AVAIL_KEY_OBJECTS
if grep -q '^root-registration *= *so-login' "$ITEST_WORLD/fault-profile.conf"; then
    export ITEST_ROOT_REG_SO_LOGIN=1
fi
if grep -q '^availability-key *= *rsa' "$ITEST_WORLD/fault-profile.conf"; then
    export ITEST_AVAIL_KEY_OBJECTS=2
fi
if [ "$ITEST_BACKEND" = opencryptoki ] && [ -z "${ITEST_WALK_STRIDE:-}" ]; then
    # Many cases make RSA availability keys, which the soft token generates
    # slowly: the whole walk (about 2200 cases) takes over ten minutes.
    ITEST_WALK_STRIDE=${ITEST_OCK_WALK_STRIDE:-40}
    export ITEST_WALK_STRIDE
    echo "fault walk on opencryptoki: every ${ITEST_WALK_STRIDE}th case (the full walk takes over ten minutes there; ITEST_WALK_STRIDE=1 runs it all)"
fi
DEP11_CONF="$ITEST_WORLD/dep11-fault.conf" itest_run test_fault_walk
