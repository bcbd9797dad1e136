#!/usr/bin/env bash
# test_provision.sh: explicit provisioning (DESIGN section 2, "Provisioning";
# issue 11 point 5), against SoftHSM directly and through libdep11.so:
#   - C_Initialize on an empty provider token fails with CKR_FUNCTION_FAILED
#     and one log line naming the token and `dep11-tool provider init`; the
#     token is still empty afterwards (objects counted in SoftHSM itself);
#   - provider init, then C_Initialize works and a policy wraps and unwraps
#     (customer roots and provider-managed);
#   - provider init twice: the second is refused, the keys unchanged;
#   - a second token with the provider label: C_Initialize fails, naming
#     the setting;
#   - C_InitToken through dep11 with the provider label on a free slot:
#     CKR_ARGUMENTS_BAD, the slot still uninitialized (another label works);
#   - receipt-public-key: a file holding another key fails C_Initialize and
#     is left byte for byte; an absent one is written and is the key of a
#     purge receipt; the same key is left untouched (inode and mtime).
# shellcheck source=tests/integration/test_tool_lib.sh
ITEST_NO_PROVISION=1
export ITEST_NO_PROVISION
. "$(dirname "$0")/test_tool_lib.sh"
unset ITEST_NO_PROVISION

PPIN=$(head -n1 "$W/provider.pin")
S=(--module "$SOFTHSM_MODULE")
TEN=0b5e2a6c-7c1d-4f51-9a0e-3d7b1c2e4f60
C=("$TOOL" "${D[@]}")
export DEP11_DEBUG=1    # errors only: the lines counted below

# objects LABEL: how many objects SoftHSM itself lists on token LABEL
# (logged in as the user: private objects too).
objects() {
    pkcs11-tool "${S[@]}" --token-label "$1" --login --pin "$PPIN" -O 2>/dev/null |
        grep -c 'Object;' || true
}
# dep11_init: C_Initialize through dep11 (pkcs11-tool -L); output in $OUT.
dep11_init() {
    t "$1" "$2" -- p11dep11 -L
}
# dep11 log lines of level ERROR in $OUT/stderr.
errlines() { grep -c '^dep11\[[0-9]*\]: ERROR' "$OUT/stderr" || true; }
# pubkeys: the public keys of the provider token (DER), concatenated.
pubkeys() {
    local l
    for l in dep11-provider-root-1 dep11-provider-root-2 dep11-provider-receipt-sign; do
        pkcs11-tool "${S[@]}" --token-label dep11-provider --login --pin "$PPIN" \
            --read-object --type pubkey --label "$l" 2>/dev/null
    done
}

echo "== an empty provider token"
[ "$(objects dep11-provider)" = 0 ] || fail "the provider token is not empty at the start"
dep11_init 1 "C_Initialize on an empty provider token fails"
has stderr 'CKR_FUNCTION_FAILED'
has stderr 'provider token dep11-provider .*`dep11-tool provider init`'
[ "$(errlines)" = 1 ] || fail "want one dep11 log line, got $(errlines)"
[ "$(objects dep11-provider)" = 0 ] || fail "C_Initialize created objects: $(objects dep11-provider)"
t 3 "dep11-tool through dep11 cannot start either" -- "${C[@]}" keys check
[ "$(objects dep11-provider)" = 0 ] || fail "the tool created objects through dep11"

echo "== provider init"
t 0 "provider init" -- "$TOOL" "${S[@]}" provider init
has stdout 'provider token dep11-provider provisioned'
[ "$(objects dep11-provider)" = 7 ] || fail "want 7 objects, got $(objects dep11-provider)"
pubkeys >"$W/pub-before"
[ -s "$W/pub-before" ] || fail "no public keys read"
t 1 "provider init again is refused" -- "$TOOL" "${S[@]}" provider init
has stderr 'already provisioned: refused'
t 1 "--force-complete on a provisioned token is refused too" -- "$TOOL" "${S[@]}" provider init --force-complete
[ "$(objects dep11-provider)" = 7 ] || fail "the second init changed the object count"
pubkeys >"$W/pub-after"
cmp -s "$W/pub-before" "$W/pub-after" || fail "the second init changed the keys"

if [ "${ITEST_BACKEND:-softhsm}" = opencryptoki ]; then
    # The world's roots are registered by SO login, recorded on the provider
    # token: possible only now that it is provisioned.
    ock_world_register_roots "$W" >/dev/null || fail "root registration by SO login"
fi

echo "== C_Initialize works, a policy wraps and unwraps"
dep11_init 0 "C_Initialize on the provisioned token"
[ "$(errlines)" = 0 ] || fail "log lines on a good start"
hasnt stdout 'dep11-provider'
t 0 "create a customer-managed policy" -- "${C[@]}" policy create --type mailbox --tenant "$TEN" \
    --name mail1 --root1 root1 --root2 root2
t 0 "unwrap it" -- "${C[@]}" policy unwrap mail1
t 0 "create a provider-managed policy" -- "${C[@]}" policy create --type files --tenant "$TEN" \
    --name files1 --geo NAM --provider-managed --out "$W/files1.blob"
t 0 "unwrap it (provider roots)" -- "${C[@]}" --json policy unwrap "$W/files1.blob"
json 'j["unwrapped_by"] == "provider"'
t 1 "provider init once blobs exist: refused" -- "$TOOL" "${S[@]}" provider init
t 0 "the blob still unwraps (same MAC key and provider roots)" -- "${C[@]}" --json policy unwrap "$W/files1.blob"
json 'j["unwrapped_by"] == "provider"'
pubkeys >"$W/pub-used"
cmp -s "$W/pub-before" "$W/pub-used" || fail "using dep11 changed the provider keys"
[ "$(objects dep11-provider)" -gt 7 ] || fail "no availability key was made (per-policy objects are dep11's)"

if [ "${ITEST_BACKEND:-softhsm}" = opencryptoki ]; then
    echo "NOT RUN: C_InitToken on a free slot and a second provider-labelled token on opencryptoki: SoftHSM's free slots (softhsm2-util); this world has none"
else
echo "== C_InitToken with the provider label"
free=$(softhsm2-util --show-slots 2>/dev/null | awk '
    /^Slot [0-9]+/ { slot = $2 } /Initialized: *no/ { print slot; exit }')
[ -n "$free" ] || fail "no free slot"
t 1 "C_InitToken with the provider label is refused" -- p11dep11 \
    --slot "$free" --init-token --label dep11-provider --so-pin 5678
has stderr 'CKR_ARGUMENTS_BAD'
t 1 "... also blank padded" -- p11dep11 \
    --slot "$free" --init-token --label "dep11-provider   " --so-pin 5678
has stderr 'CKR_ARGUMENTS_BAD'
softhsm2-util --show-slots 2>/dev/null | awk -v s="$free" '
    /^Slot [0-9]+/ { on = ($2 == s) } on && /Initialized:/ { print $2 }' >"$OUT/init"
has init '^no$'
[ "$(softhsm2-util --show-slots 2>/dev/null | grep -c 'Label: *dep11-provider *$')" = 1 ] ||
    fail "a second dep11-provider token exists"
t 0 "C_InitToken with another label on that slot works" -- p11dep11 \
    --slot "$free" --init-token --label spare --so-pin 5678
[ "$(softhsm2-util --show-slots 2>/dev/null | grep -c 'Label: *spare *$')" = 1 ] ||
    fail "the spare token was not made"
dep11_init 0 "C_Initialize still works"

echo "== two tokens with the provider label"
# serials: the serial number of every token labelled dep11-provider.
serials() {
    softhsm2-util --show-slots 2>/dev/null | awk '
        /Serial number:/ { s = $3 } /Label: *dep11-provider *$/ { print s }'
}
real=$(serials)
t 0 "a second dep11-provider token (SoftHSM directly)" -- softhsm2-util --init-token --free \
    --label dep11-provider --pin 1234 --so-pin 5678
dep11_init 1 "C_Initialize fails"
has stderr 'provider-token dep11-provider matches 2 tokens'
[ "$(errlines)" = 1 ] || fail "want one dep11 log line, got $(errlines)"
serial=$(serials | grep -vx "$real" || true)
[ -n "$serial" ] && [ "$(serials | wc -l)" = 2 ] || fail "no serial of the second token"
t 0 "the twin goes" -- softhsm2-util --delete-token --serial "$serial"
dep11_init 0 "C_Initialize works again"
fi

echo "== receipt-public-key"
PEM="$W/receipt.pem"
conf="$W/dep11-pem.conf"
{ cat "$W/dep11.conf"; echo "receipt-public-key = $PEM"; } >"$conf"
openssl ecparam -name prime256v1 -genkey -noout -out "$W/other.key" 2>/dev/null
openssl ec -in "$W/other.key" -pubout -out "$PEM" 2>/dev/null
cp "$PEM" "$W/other.pem"
DEP11_CONF="$conf" dep11_init 1 "another key in the file: C_Initialize fails"
has stderr "receipt-public-key $PEM holds another key"
[ "$(errlines)" = 1 ] || fail "want one dep11 log line, got $(errlines)"
cmp -s "$PEM" "$W/other.pem" || fail "the file was changed"
printf 'not a key\n' >"$PEM"
DEP11_CONF="$conf" dep11_init 1 "something else in the file: C_Initialize fails"
has stderr "receipt-public-key $PEM holds another key"
[ "$(cat "$PEM")" = "not a key" ] || fail "the file was changed"
rm -f "$PEM"
DEP11_CONF="$conf" dep11_init 0 "absent: C_Initialize writes it"
[ -s "$PEM" ] || fail "no $PEM written"
has_mode=$(stat -c %a "$PEM")
[ "$has_mode" = 644 ] || fail "mode $has_mode, want 644"
before=$(stat -c '%i %Y' "$PEM")
sleep 1
DEP11_CONF="$conf" dep11_init 0 "the same key: C_Initialize leaves it"
[ "$(stat -c '%i %Y' "$PEM")" = "$before" ] || fail "the file was rewritten"
export DEP11_CONF="$conf"
t 0 "request the purge" -- "${C[@]}" policy purge mail1 --request --reason "leaving" --contact it@contoso.com
P=(--module "$SOFTHSM_MODULE" --token-label contoso --login --pin 1234)
t 0 "the customer revokes root1" -- pkcs11-tool "${P[@]}" --delete-object --type privkey --label root1
t 0 "the customer revokes root2" -- pkcs11-tool "${P[@]}" --delete-object --type privkey --label root2
t 0 "confirm the purge" -- "${C[@]}" policy purge mail1 --confirm --receipt "$W/r.json"
t 0 "the receipt verifies with the written key" -- "$TOOL" receipt verify "$W/r.json" --key "$PEM"
has stdout '^VALID'
t 0 "the receipt's signing key is the file's key" -- /usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
pem = "".join(l.strip() for l in open(sys.argv[2]) if not l.startswith("-----"))
sys.exit(0 if r["signing_key"]["spki"] == pem else 1)' "$W/r.json" "$PEM"
t 1 "the other key does not verify it" -- "$TOOL" receipt verify "$W/r.json" --key "$W/other.pem"

finish
