#!/usr/bin/env bash
# test_avail_rsa.sh: the RSA availability key (profile "availability-key =
# rsa") on SoftHSM.
#   - test_availability.sh, test_lifecycle.sh (roll: two RSA keys until the
#     commit, then one; purge with its signed receipt) and test_avail_matrix.sh
#     (DESIGN section 5's table over the fault shim) rerun whole with that
#     profile key;
#   - the blobs' availability copies read byte-wise (blob_copies.py):
#     RSA-OAEP with the profile's hash (SoftHSM: SHA-1, alg 1), 256 bytes (a
#     2048-bit key), named by a CKA_ID that starts with the policy id, and on
#     the provider token exactly that pair (private and public half);
#   - after a purge no availability object of the policy is left (both
#     halves destroyed), while other policies' keys stay;
#   - blobs made under one kind are served by the availability key in a
#     worker whose profile says the other kind (the copy records its kind).
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
status=0
rsa="availability-key = rsa"
copies="$itest_src/blob_copies.py"
fail() { echo "FAIL: $*"; status=1; }

# provider_objects LABEL: "<class> <type>" of each object labelled LABEL
# on the provider token (SoftHSM directly: dep11 hides that token).
provider_objects() {
    provider_list | awk -v want="$1" '
            /^[A-Z][a-z]+ Key Object/ { kind = $1 " " $4 }
            /^ *label: / { if (want == "" ? $2 ~ /^dep11-avail-/ : $2 == want) print kind }'
}
provider_list() {
    SOFTHSM2_CONF="$ITEST_WORLD/softhsm2.conf" ASAN_OPTIONS=detect_leaks=0 LD_PRELOAD= \
        pkcs11-tool --module "$SOFTHSM_MODULE" --token-label dep11-provider --login \
        --pin "$(head -n1 "$ITEST_WORLD/provider.pin")" -O 2>/dev/null
}

# key_lines LABEL CLASS: the Usage and Access lines of that object.
key_lines() {
    provider_list | awk -v want="$1" -v cls="$2" '
        /^[A-Z]/ { inkey = index($0, cls " Key Object") == 1; match_ = 0 }
        inkey && /^ *label: / { match_ = ($2 == want) }
        match_ && /^ *(Usage|Access): / { print }'
}

# avail_copy BLOB: "kind alg keyid len" of the blob's availability copy.
avail_copy() { "$copies" "$1" | awk '$1 == 5'; }

# Whole scripts under the RSA route (their own worlds, tagged).
for t in test_availability test_lifecycle test_avail_matrix; do
    echo "== $t.sh with '$rsa'"
    ITEST_PROFILE_KEYS="$rsa" ITEST_WORLD_TAG=-rsa "$itest_src/$t.sh" || fail "$t.sh (rsa)"
done

# Their blobs, byte-wise, and the keys they name.
for w in availability-both-rsa availability-mixed-rsa; do
    ITEST_WORLD="$itest_bin/worlds/$w"
    export SOFTHSM2_CONF="$ITEST_WORLD/softhsm2.conf"
    for b in "$ITEST_WORLD"/*.blob; do
        pid=$("$copies" "$b" | awk '/^policy/ { print $2 }')
        read -r kind alg keyid dlen <<<"$(avail_copy "$b")"
        echo "$w/$(basename "$b"): availability copy alg $alg, $dlen bytes, key $keyid"
        [ "$alg" = 1 ] && [ "$dlen" = 256 ] || fail "$(basename "$b"): alg $alg, $dlen bytes"
        [ "${keyid:0:32}" = "$pid" ] || fail "key id $keyid does not start with the policy id"
        objs=$(provider_objects "dep11-avail-$pid" | sort | tr '\n' ',')
        [ "$objs" = "Private RSA,Public RSA," ] || fail "provider objects of $pid: $objs"
        # The private half decrypts only and never leaves the HSM.
        priv=$(key_lines "dep11-avail-$pid" Private | tr -s ' ' | tr '\n' ';')
        echo "  private half: $priv"
        [ "$priv" = " Usage: decrypt; Access: sensitive, always sensitive, never extractable, local;" ] ||
            fail "private half of $pid: $priv"
        [ "$(key_lines "dep11-avail-$pid" Public | tr -s ' ' | head -n1)" = " Usage: encrypt" ] ||
            fail "public half of $pid is not encrypt-only"
    done
done
ITEST_WORLD="$itest_bin/worlds/lifecycle-purge-rsa"
export SOFTHSM2_CONF="$ITEST_WORLD/softhsm2.conf"
pid=$(grep -o '"policy_id":"[0-9a-f]*"' "$ITEST_WORLD/receipt.json" | cut -d'"' -f4)
n=$(provider_objects "dep11-avail-$pid" | wc -l)
all=$(provider_objects "" | wc -l)
echo "after the purge of $pid: $n of its availability objects left ($all of other policies)"
[ -n "$pid" ] && [ "$n" = 0 ] || fail "purge left $n availability objects of $pid"
[ "$all" -gt 0 ] || fail "no availability objects of the other policies: the count proves nothing"

# Across kinds: dep11.conf makes the blobs, dep11-system.conf serves the
# SYSTEM requests through the availability key, under the other kind.
for mk in rsa aes; do
    itest_world "avail-cross-$mk"
    if [ $mk = rsa ]; then
        itest_profile_keys dep11.conf "$rsa"
    else
        itest_profile_keys dep11-system.conf "$rsa"
    fi
    itest_run test_availability both || fail "made with $mk, served under the other kind"
    read -r kind alg keyid dlen <<<"$(avail_copy "$ITEST_WORLD/both.blob")"
    want=3
    [ $mk = rsa ] && want=1
    echo "made with $mk: availability copy alg $alg"
    [ "$alg" = "$want" ] || fail "made with $mk: availability copy alg $alg, not $want"
done
exit $status
