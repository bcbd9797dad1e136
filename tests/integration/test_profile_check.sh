#!/usr/bin/env bash
# test_profile_check.sh: C_Initialize's profile checks (module/hsm/
# profile_check.c) end to end, through pkcs11-tool over dep11 over the fault
# shim over SoftHSM. SoftHSM offers every route softhsm2.conf asks for (so
# every other integration test passes the checks); here the shim makes
# C_GetMechanismInfo or C_GetMechanismList fail, as an HSM lacking the
# mechanisms would, and C_Initialize must fail with one ERROR line naming
# what is missing. A profile with receipt-signature = rsa-pss passes the
# checks on SoftHSM (RSA-PSS is there) and then stops at the EC receipt key
# of this world, which is not of the kind it asks for.
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
shim="$abs_top_builddir/tests/faultshim/.libs/libdep11-faultmod.so"
status=0

itest_world profile-check
sed "s|^module *=.*|module = $shim|" "$(sed -n 's/^profile *= *//p' "$ITEST_WORLD/dep11.conf")" \
    >"$ITEST_WORLD/shim-profile.conf"
grep -q "^module = $shim\$" "$ITEST_WORLD/shim-profile.conf"
sed "s|^profile *=.*|profile = $ITEST_WORLD/shim-profile.conf|" \
    "$ITEST_WORLD/dep11.conf" >"$ITEST_WORLD/dep11-shim.conf"
export DEP11_FAULT_MODULE="$SOFTHSM_MODULE" DEP11_FAULT_FILE="$ITEST_WORLD/faults"
export DEP11_CONF="$ITEST_WORLD/dep11-shim.conf" DEP11_DEBUG_FILE="$ITEST_WORLD/dep11.log"

# init FAULT-RULE WANT-RC WANT-LOG: pkcs11-tool -L through dep11 with that
# rule; its exit code must be WANT-RC (0 or 1) and, when WANT-LOG is not
# empty, the log must hold exactly one ERROR line, containing WANT-LOG.
init() {
    local rule=$1 want_rc=$2 want_log=$3 rc=0 errors
    printf '%s\n' "$rule" >"$DEP11_FAULT_FILE"
    : >"$DEP11_DEBUG_FILE"
    p11tool -L >"$ITEST_WORLD/out" 2>&1 || rc=$?
    [ "$rc" -ne 0 ] && rc=1
    if [ "$rc" != "$want_rc" ]; then
        echo "FAIL: rule '$rule': pkcs11-tool exit $rc, want $want_rc"
        cat "$ITEST_WORLD/out" "$DEP11_DEBUG_FILE"
        status=1
        return
    fi
    if [ -n "$want_log" ]; then
        errors=$(grep -c ' ERROR ' "$DEP11_DEBUG_FILE" || true)
        if [ "$errors" != 1 ] || ! grep ' ERROR ' "$DEP11_DEBUG_FILE" | grep -qF "$want_log"; then
            echo "FAIL: rule '$rule': want one ERROR line with '$want_log', got:"
            cat "$DEP11_DEBUG_FILE"
            status=1
            return
        fi
        grep ' ERROR ' "$DEP11_DEBUG_FILE"
    fi
    echo "ok: rule '${rule:-none}': exit $rc"
}

init "" 0 ""
grep -q 'token label *: contoso' "$ITEST_WORLD/out" || { echo "FAIL: contoso not listed"; status=1; }
# A backend whose mechanism info is refused for every mechanism: the first
# route of the table (the provider MAC) is named.
init "C_GetMechanismInfo rv=0x70" 1 "needs CKM_SHA256_HMAC"
# From the 3rd call on: the routes after the MAC and root decryption.
if [ "$ITEST_BACKEND" = opencryptoki ]; then
    # opencryptoki's profile: an RSA availability key (no AES row), receipts
    # signed with RSA-PSS: the route after the MAC and root decryption.
    init "C_GetMechanismInfo rv=0x70 after=3 case=3" 1 "receipt-signature = rsa-pss needs CKM_RSA_PKCS_PSS"
else
    init "C_GetMechanismInfo rv=0x70 after=3 case=3" 1 "availability-key = aes needs CKM_AES_KEY_GEN"
fi
init "C_GetMechanismList rv=0x30" 1 "C_GetMechanismList on the provider token's slot"

cp "$ITEST_WORLD/shim-profile.conf" "$ITEST_WORLD/shim-profile.conf.orig"
if [ "$ITEST_BACKEND" = opencryptoki ]; then
    # receipt-signature = ecdsa: the soft token has no EC, with no fault
    # injected: its real mechanism list refuses the route.
    sed -i 's/^receipt-signature *=.*/receipt-signature = ecdsa/' "$ITEST_WORLD/shim-profile.conf"
    init "" 1 "receipt-signature = ecdsa needs CKM_ECDSA"
else
    # receipt-signature = rsa-pss: SoftHSM offers CKM_RSA_PKCS_PSS, so the
    # checks pass and the start stops at the receipt key (this world's is EC).
    echo "receipt-signature = rsa-pss" >>"$ITEST_WORLD/shim-profile.conf"
    init "" 1 "partly provisioned (missing: receipt-sign"
fi
cp "$ITEST_WORLD/shim-profile.conf.orig" "$ITEST_WORLD/shim-profile.conf"
init "" 0 ""
exit $status
