#!/usr/bin/env bash
# test_oaep_hash.sh: the profile's "oaep-hash" is tried at C_Initialize (one
# RSA-OAEP round trip with provider root 1 in the HSM). SoftHSM offers SHA-1
# only: a profile saying sha256 fails C_Initialize with exactly one ERROR
# line naming the profile, the mechanism, the hash and SoftHSM's answer;
# sha1 initializes. (On opencryptoki both hashes pass: test_ock.sh.)
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
status=0
fail() { echo "FAIL: $*"; status=1; }
export DEP11_DEBUG=1    # errors only: the lines counted below

itest_world oaep-hash
out="$ITEST_WORLD/out"

if p11tool -L >"$out" 2>"$out.err"; then
    echo "sha1 profile: C_Initialize works"
else
    fail "sha1 profile: pkcs11-tool -L through dep11 failed"; cat "$out.err"
fi
[ "$(grep -c '^dep11\[[0-9]*\]: ERROR' "$out.err" || true)" = 0 ] || fail "errors with sha1"

itest_profile_keys dep11.conf "oaep-hash = sha256"
if p11tool -L >"$out" 2>"$out.err"; then
    fail "sha256 profile on SoftHSM: C_Initialize worked"
fi
errors=$(grep '^dep11\[[0-9]*\]: ERROR' "$out.err" || true)
echo "sha256 profile: $errors"
[ "$(printf '%s\n' "$errors" | grep -c . || true)" = 1 ] || fail "not exactly one ERROR line"
for word in "dep11.conf.profile" "oaep-hash = sha256" "CKM_RSA_PKCS_OAEP" "SHA-256" "CKR_"; do
    case "$errors" in
        *"$word"*) ;;
        *) fail "the ERROR line does not name '$word'" ;;
    esac
done
exit $status
