#!/usr/bin/env bash
# test_ock.sh: the opencryptoki backend (issue 13). Builds the test world of
# ock_world.sh (a private mount namespace, its own pkcsslotd, soft tokens
# contoso, fabrikam and dep11-provider) and checks:
#   - the world: three tokens with their labels, PINs of 4 to 8 characters,
#     nothing mounted in the machine's namespace, and after the stop no
#     pkcsslotd and no holder left; also after a script that built a world
#     failed half-way (set -e) or was killed with TERM (the trap);
#   - the token facts dep11's profile relies on (DESIGN section 8):
#     RSA-OAEP offered, AES-GCM and EC key generation not offered, and an
#     RSA-OAEP SHA-256 ciphertext (made by OpenSSL) decrypted in the token;
#   - dep11 on it (ITEST_BACKEND=opencryptoki, worlds of ock_world_tokens
#     with hsm-profiles/opencryptoki.conf): a blob whose copies record
#     SHA-256 served under a profile saying sha1, and token-identity =
#     serial refused on tokens that share a serial number (one line naming
#     both). The integration scripts themselves run on opencryptoki as
#     entries of their own: tests/integration/ock/*.sh (ock_run.sh).
# Skips (77) only when the machine cannot build the world (not root, no
# opencryptoki, no namespaces), saying why.
set -euo pipefail
: "${abs_top_srcdir:?run through make check}"
: "${abs_top_builddir:?run through make check}"
itest_src="$abs_top_srcdir/tests/integration"
itest_bin="$abs_top_builddir/tests/integration"
# shellcheck source=tests/integration/ock_world.sh
. "$itest_src/ock_world.sh"
status=0
fail() { echo "FAIL: $*"; status=1; }

# An ASan build: opencryptoki's allocations are not this project's leaks.
# An ASan build: opencryptoki's allocations are not this project's leaks;
# its per-slot library copies leave them unsymbolized ("<unknown module>"),
# so no suppression can name them: leak detection is off for the
# opencryptoki runs (the same scripts run on SoftHSM with it on).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$abs_top_srcdir/tests/integration/lsan-ock.supp"
if ! why=$(ock_world_usable); then
    echo "SKIP: $why"
    exit 77
fi
mounts_before=$(ock_host_mounts)

W="$itest_bin/worlds/ock"
ock_world_start "$W"
slotd=$(cat "$W/slotd.pid")
holder=$OCK_HOLDER

# --- the world ---
labels=$(ock_in pkcs11-tool --module "$OCK_MODULE" -L 2>/dev/null |
    sed -n 's/^ *token label *: *//p' | tr -d ' ' | tr '\n' ' ')
echo "tokens: $labels"
[ "$labels" = "contoso fabrikam dep11-provider " ] || fail "token labels: '$labels'"
ock_in pkcsconf -c 0 -t 2>/dev/null | grep -q 'PIN Length: 4-8' || fail "PIN length not 4-8"
[ "$(ock_host_mounts)" = "$mounts_before" ] || fail "a mount leaked into the machine's namespace"
[ "$(readlink /proc/$holder/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] ||
    fail "the holder shares the machine's namespace"

# --- the token facts ---
mechs=$(ock_in pkcs11-tool --module "$OCK_MODULE" --slot 0 -M 2>/dev/null)
echo "$mechs" | grep -q 'RSA-PKCS-OAEP' || fail "no RSA-PKCS-OAEP"
if echo "$mechs" | grep -qE 'AES-GCM|ECDSA-KEY-PAIR-GEN|EC-KEY-PAIR-GEN'; then
    fail "AES-GCM or EC offered: the profile's availability-key = rsa has no reason"
fi
p11() { ock_in pkcs11-tool --module "$OCK_MODULE" --token-label contoso --login --pin 1234 "$@"; }
p11 --keypairgen --key-type rsa:2048 --label oaep --id 77 --usage-decrypt >/dev/null 2>&1 ||
    fail "keypairgen on contoso"
p11 --read-object --type pubkey --id 77 -o "$W/oaep.der" >/dev/null 2>&1 || fail "read pubkey"
head -c 32 /dev/urandom >"$W/secret.bin"
openssl pkeyutl -encrypt -pubin -keyform DER -inkey "$W/oaep.der" -in "$W/secret.bin" \
    -out "$W/secret.oaep" -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
    -pkeyopt rsa_mgf1_md:sha256 || fail "openssl OAEP encrypt"
p11 --decrypt --id 77 -m RSA-PKCS-OAEP --hash-algorithm SHA256 --mgf MGF1-SHA256 \
    -i "$W/secret.oaep" -o "$W/secret.out" >/dev/null 2>&1 || fail "OAEP SHA-256 decrypt"
cmp -s "$W/secret.bin" "$W/secret.out" && echo "RSA-OAEP SHA-256: decrypted in the token" ||
    fail "OAEP SHA-256 round trip"

# --- dep11 on it ---
# The integration scripts run on opencryptoki as make check entries of
# their own (tests/integration/ock/*.sh, ock_run.sh). Here: what only this
# backend shows.
inside() {
    ock_in env ITEST_BACKEND=opencryptoki ITEST_WORLD_TAG=-ock OCK_DIR="$OCK_DIR" \
        OCK_HOLDER="$OCK_HOLDER" "$@"
}
# Copies record SHA-256 (this profile); a worker whose profile says sha1
# serves the blob through the availability key all the same.
echo "== test_availability both: made under sha256, served under sha1"
inside bash -c '. "$1/tests/integration/common.sh"; itest_world oaep-cross
    itest_profile_keys dep11-system.conf "oaep-hash = sha1"
    itest_run test_availability both' sh "$abs_top_srcdir" || fail "sha256 blob under sha1"
# Every soft token says serial 123: under token-identity = serial the first
# tenant binding refuses (CKR_TOKEN_NOT_RECOGNIZED, 0xe1) naming both labels;
# the profile's serial-label tells them apart (the runs above).
echo "== token-identity = serial on tokens that share their serial number"
if inside bash -c '. "$1/tests/integration/common.sh"; itest_world ident-serial
    itest_profile_keys dep11.conf "token-identity = serial"
    itest_run test_mechanisms' sh "$abs_top_srcdir" >"$W/ident.log" 2>&1; then
    fail "token-identity = serial: tokens of one identity were bound"
fi
grep -q "0xe1 != 0" "$W/ident.log" || fail "token-identity = serial: not CKR_TOKEN_NOT_RECOGNIZED"
line=$(grep -m1 "have the same identity" "$W/ident.log" || true)
echo "${line:-(no log line)}"
case "$line" in
    *"'contoso' (slot 0) and 'fabrikam' (slot 1)"*) ;;
    *) fail "token-identity = serial: no log line naming both tokens" ;;
esac
[ "$(grep -c "0xe1 != 0" "$W/ident.log")" -gt 0 ] && grep -q "OK \] test_keygen_roles" "$W/ident.log" ||
    fail "token-identity = serial: keys that need no binding failed too"

ock_world_stop
trap - EXIT INT TERM
for p in "$slotd" "$holder"; do
    if kill -0 "$p" 2>/dev/null; then
        fail "process $p still runs after the stop"
    fi
done
[ "$(ock_host_mounts)" = "$mounts_before" ] || fail "a mount is left in the machine's namespace"
echo "world stopped: no pkcsslotd, no holder"

# A script that fails half-way (set -e) and one killed with TERM leave
# nothing running either: the trap of ock_world_start stops the world.
for how in fail term; do
    W2="$itest_bin/worlds/ock-$how"
    rm -rf "$W2"
    bash -c 'set -euo pipefail
        . "$1/ock_world.sh"
        OCK_TOKENS=contoso ock_world_start "$2" >/dev/null
        echo "$OCK_HOLDER" >"$2/holder.pid"
        if [ "$3" = term ]; then kill -TERM $$; sleep 5; fi
        false
        echo "not reached"' sh "$itest_src" "$W2" "$how" >"$W2.log" 2>&1 || true
    h=$(cat "$W2/holder.pid" 2>/dev/null || true)
    [ -n "$h" ] || { fail "$how: the world did not start"; cat "$W2.log"; continue; }
    if kill -0 "$h" 2>/dev/null || grep -q 'not reached' "$W2.log"; then
        fail "$how: the holder $h still runs"
    fi
    if [ -f "$W2/slotd.pid" ]; then
        fail "$how: pkcsslotd $(cat "$W2/slotd.pid") was not stopped"
    fi
    echo "world stopped after a $how: holder $h gone, no pkcsslotd"
done
[ "$(ock_host_mounts)" = "$mounts_before" ] || fail "a mount is left in the machine's namespace"
exit $status
