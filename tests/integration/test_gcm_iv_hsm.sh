#!/usr/bin/env bash
# test_gcm_iv_hsm.sh: gcm-iv = hsm end to end (test_gcm_iv_hsm.c): dep11
# over the fault shim in its GCM IV mode (an HSM that makes the GCM IV and
# writes it back), with a profile saying gcm-iv = hsm and one saying
# gcm-iv = module; the world's own config (plain SoftHSM) for the
# cross-check in another process.
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
itest_need_shim
itest_needs aes-gcm
itest_world gcm-iv-hsm
base=$(sed -n 's/^profile *= *//p' "$ITEST_WORLD/dep11.conf")
grep -q '^gcm-iv *= *module' "$base"
for iv in hsm module; do
    sed -e "s|^module *=.*|module = $shim|" -e "s|^gcm-iv *=.*|gcm-iv = $iv|" \
        "$base" >"$ITEST_WORLD/profile-$iv-iv.conf"
    grep -q "^gcm-iv = $iv\$" "$ITEST_WORLD/profile-$iv-iv.conf"
    sed "s|^profile *=.*|profile = $ITEST_WORLD/profile-$iv-iv.conf|" \
        "$ITEST_WORLD/dep11.conf" >"$ITEST_WORLD/dep11-${iv:0:3}-iv.conf"
done
: >"$ITEST_WORLD/faults"
: >"$ITEST_WORLD/ivs"
export DEP11_FAULT_MODULE="$SOFTHSM_MODULE" DEP11_FAULT_FILE="$ITEST_WORLD/faults"
export DEP11_FAULT_GCM_IV=hsm DEP11_FAULT_GCM_IV_LOG="$ITEST_WORLD/ivs"
unset DEP11_FAULT_HANDLE_OFFSET
itest_run test_gcm_iv_hsm
echo "IVs the shim made: $(wc -l <"$ITEST_WORLD/ivs")"
