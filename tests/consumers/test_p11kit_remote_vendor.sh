#!/usr/bin/env bash
# test_p11kit_remote_vendor.sh: dep11's vendor functions through p11-kit
# remoting (p11-kit server exporting libdep11.so on a unix socket in the
# world, consumers on p11-kit-client.so). p11-kit 0.24.1's client lists none
# of dep11's mechanisms and refuses to send one it has no serializer for,
# but carries C_CreateObject / C_GetAttributeValue / C_DestroyObject with
# vendor attributes as byte arrays: dep11-tool falls back to request
# objects (CKO_DEP11_REQUEST, include/dep11.h) and "policy show", the
# two-step "policy purge" and the receipt give the answers of the vendor
# route; p11_request.py runs the same request sequence (info, flush, purge,
# refused templates) directly and remotely and must print the same lines.
# The server is stopped on EXIT, also when a check fails.
# shellcheck source=tests/consumers/lib.sh
. "${abs_top_srcdir:?run through make check}/tests/consumers/lib.sh"
command -v pkcs11-tool >/dev/null || { echo "SKIP: no pkcs11-tool"; exit 77; }
command -v p11-kit >/dev/null || { echo "SKIP: no p11-kit"; exit 77; }
proxy=$(pkg-config --variable=proxy_module p11-kit-1)
client="$(dirname "$proxy")/pkcs11/p11-kit-client.so"
[ -f "$client" ] || { echo "SKIP: no p11-kit-client.so"; exit 77; }
[ -z "$itest_preload" ] || { echo "SKIP: instrumented module (p11-kit is not)"; exit 77; }
TOOL="$abs_top_builddir/tools/dep11-tool"
[ -x "$TOOL" ] || { echo "SKIP: $TOOL not built"; exit 77; }
PY=/usr/bin/python3
REQ="$abs_top_srcdir/tests/consumers/p11_request.py"
RV="$abs_top_srcdir/scripts/dep11-receipt-verify"

consumer_world p11kit-remote
W=$ITEST_WORLD O=$CONSUMER_OUT
TEN=0b5e2a6c-7c1d-4f51-9a0e-3d7b1c2e4f60
PEM="$W/receipt.pem"
echo "receipt-public-key = $PEM" >>"$W/dep11.conf"
has() { grep -Eq -- "$2" "$1"; }
# run OUT CMD...: status in OUT.rc, stderr in OUT.err.
run() {
    local out=$1 status=0
    shift
    "$@" >"$out" 2>"$out.err" || status=$?
    echo "$status" >"$out.rc"
}
rc() { test "$(cat "$1.rc")" = "$2"; }
rc_err() { rc "$1" "$2" && has "$1.err" "$3"; }
sanitize() { sed 's/"module":"[^"]*",\?//' "$1"; }

echo "== the vendor route (libdep11.so directly)"
V=(--module "$DEP11_MODULE" --token-label contoso --pin-source "file:$W/user.pin")
run "$O/create" "$TOOL" "${V[@]}" policy create --type mailbox --tenant "$TEN" --name mail1 \
    --root1 root1 --root2 root2 --out "$W/mail1.blob"
check "vendor route: policy created" has "$O/create" '^name +mail1'
run "$O/vendor.json" "$TOOL" --module "$DEP11_MODULE" --json policy show "$W/mail1.blob"
check "vendor route: policy show FILE" has "$O/vendor.json" '"ok":true'
run "$O/vendor-reg.json" "$TOOL" "${V[@]}" --json policy show mail1
printf 'not a blob' >"$W/junk.blob"
run "$O/vendor-junk" "$TOOL" --module "$DEP11_MODULE" policy show "$W/junk.blob"
run "$O/direct-req" "$PY" "$REQ" "$DEP11_MODULE" contoso "$W/mail1.blob" "$W/junk.blob"
check "direct: the request sequence ran" rc "$O/direct-req" 0

echo "== p11-kit server over libdep11.so"
sock="$W/p11-kit.sock"
p11kit_server "$sock" "$DEP11_MODULE" "$O/server.out" || true
check "the server listens on $sock" test -S "$sock"
export P11_KIT_SERVER_ADDRESS="unix:path=$sock"
R=(--module "$client" --token-label contoso --pin-source "file:$W/user.pin")

run "$O/remote-L" pkcs11-tool --module "$client" -L
check "remote: standard calls reach dep11's contoso" has "$O/remote-L" 'token label *: contoso'
run "$O/remote-M" pkcs11-tool --module "$client" -M
echo "# measured: $(grep -ci '0x8de11' "$O/remote-M") of dep11's mechanisms in the client's list"
check "remote: the client lists no dep11 mechanism (the object route is needed)" \
    test "$(grep -ci '0x8de11' "$O/remote-M")" -eq 0

run "$O/remote-req" "$PY" "$REQ" "$client" contoso "$W/mail1.blob" "$W/junk.blob"
check "remote: the request sequence ran" rc "$O/remote-req" 0
check "remote: every request answers as directly (codes and output bytes)" \
    cmp -s "$O/direct-req" "$O/remote-req"
check "remote: policy info through a request object" has "$O/remote-req" '^info: 0x0 out=[0-9a-f]{40}'
check "remote: a token request is CKR_ATTRIBUTE_VALUE_INVALID" \
    has "$O/remote-req" '^token object: 0x13$'
check "remote: a purge without login is CKR_USER_NOT_LOGGED_IN" \
    has "$O/remote-req" '^purge not logged in: 0x101$'

echo "== dep11-tool through p11-kit-client.so"
run "$O/remote-show" "$TOOL" --module "$client" --json policy show "$W/mail1.blob"
check "remote: policy show FILE exits 0" rc "$O/remote-show" 0
check "remote: policy show FILE = the vendor route's answer" \
    cmp -s "$O/remote-show" "$O/vendor.json"
run "$O/remote-reg" "$TOOL" "${R[@]}" --json policy show mail1
check "remote: policy show NAME = the vendor route's answer" \
    cmp -s <(sanitize "$O/remote-reg") <(sanitize "$O/vendor-reg.json")
run "$O/remote-junk" "$TOOL" --module "$client" policy show "$W/junk.blob"
check "remote: a bad blob is CKR_WRAPPED_KEY_INVALID, exit 1 (as directly)" \
    rc_err "$O/remote-junk" 1 CKR_WRAPPED_KEY_INVALID
check "remote: ... the direct route's code too" rc_err "$O/vendor-junk" 1 CKR_WRAPPED_KEY_INVALID

echo "== the two-step purge through remoting"
run "$O/req" "$TOOL" "${R[@]}" policy purge mail1 --request --reason leaving --contact it@contoso.com
check "remote: purge --request" rc "$O/req" 0
run "$O/dry" "$TOOL" "${R[@]}" policy purge mail1 --confirm --receipt "$W/r.json" --dry-run
# (--dry-run's unwrap test uses CKM_DEP11_POLICY_UNWRAP, which remoting does
# not carry: only its "nothing changed" is checked here.)
check "remote: --dry-run changes nothing" has "$O/dry" '^  nothing changed'
run "$O/refused" "$TOOL" "${R[@]}" policy purge mail1 --confirm --receipt "$W/r.json"
check "remote: confirm refused while a customer key unwraps (CKR_FUNCTION_REJECTED)" \
    rc_err "$O/refused" 1 CKR_FUNCTION_REJECTED
run "$O/refused-direct" "$TOOL" "${V[@]}" policy purge mail1 --confirm --receipt "$W/r.json"
check "direct: the same refusal" rc_err "$O/refused-direct" 1 CKR_FUNCTION_REJECTED
check "a refused purge writes no receipt" test ! -e "$W/r.json"
for r in root1 root2; do
    run "$O/revoke-$r" pkcs11-tool --module "$SOFTHSM_MODULE" --token-label contoso --login \
        --pin 1234 --delete-object --type privkey --label "$r"
    check "the customer revokes $r (SoftHSM directly)" rc "$O/revoke-$r" 0
done
run "$O/purge" "$TOOL" "${R[@]}" policy purge mail1 --confirm --receipt "$W/r.json"
check "remote: purge --confirm exits 0" rc "$O/purge" 0
check "the receipt verifies (dep11-tool receipt verify)" \
    "$TOOL" receipt verify "$W/r.json" --key "$PEM"
check "the receipt verifies (scripts/dep11-receipt-verify)" \
    "$PY" "$RV" --key "$PEM" "$W/r.json"
run "$O/again" "$TOOL" "${R[@]}" policy purge mail1 --confirm --receipt "$W/r2.json"
check "remote: a repeated purge re-issues the same receipt" cmp -s "$W/r.json" "$W/r2.json"
run "$O/vendor-again" "$TOOL" "${V[@]}" policy purge mail1 --confirm --receipt "$W/r3.json"
check "vendor route: the same receipt" cmp -s "$W/r.json" "$W/r3.json"
run "$O/unwrap" "$TOOL" "${V[@]}" policy unwrap mail1
check "direct: the purged policy is CKR_DEP11_POLICY_PURGED" \
    rc_err "$O/unwrap" 1 CKR_DEP11_POLICY_PURGED
# dep11's key mechanisms are not carried by remoting (not vendor functions):
run "$O/remote-unwrap" "$TOOL" "${R[@]}" policy unwrap mail1
check "remote: a dep11 key mechanism is refused (CKR_MECHANISM_INVALID; DESIGN 8)" \
    rc_err "$O/remote-unwrap" 1 CKR_MECHANISM_INVALID

echo "== control: a server over SoftHSM alone"
p11kit_server_stop
p11kit_server "$sock" "$SOFTHSM_MODULE" "$O/server2.out" || true
run "$O/none" "$TOOL" --module "$client" policy show "$W/mail1.blob"
check "control: the tool says the module is not dep11 (exit 3)" rc_err "$O/none" 3 "not dep11"
unset P11_KIT_SERVER_ADDRESS
consumer_finish
