#!/usr/bin/env bash
# test_p11kit_vendor_std.sh: dep11-tool through p11-kit-proxy.so, which
# exports only C_GetFunctionList (no DEP11_GetFunctionList, no
# C_GetInterface): the tool falls back to the vendor functions' standard
# calls (CKM_DEP11_POLICY_INFO, CKM_DEP11_POLICY_PURGE; include/dep11.h) and
# "policy show" and the two-step "policy purge" work end to end, with the
# answers of the vendor route. p11-kit reads no user config as root: the
# proxy runs as nobody with dep11 (and the softhsm2.module override) in
# ~/.config/pkcs11/modules. Then p11-kit remoting (p11-kit server +
# p11-kit-client.so on a unix socket, stopped on exit): it does not carry
# dep11's mechanisms (0.24.1 forwards only mechanisms it has a parameter
# serializer for); the tool then takes the request-object route
# (test_p11kit_remote_vendor.sh), whose answer must equal the vendor route's.
# shellcheck source=tests/consumers/lib.sh
. "${abs_top_srcdir:?run through make check}/tests/consumers/lib.sh"
command -v pkcs11-tool >/dev/null || { echo "SKIP: no pkcs11-tool"; exit 77; }
proxy=$(pkg-config --variable=proxy_module p11-kit-1)
[ -f "$proxy" ] || { echo "SKIP: no p11-kit-proxy.so"; exit 77; }
[ -z "$itest_preload" ] || { echo "SKIP: instrumented module (p11-kit is not)"; exit 77; }
TOOL="$abs_top_builddir/tools/dep11-tool"
[ -x "$TOOL" ] || { echo "SKIP: $TOOL not built"; exit 77; }

consumer_world p11kit-vstd
W=$ITEST_WORLD O=$CONSUMER_OUT
TEN=0b5e2a6c-7c1d-4f51-9a0e-3d7b1c2e4f60
has() { grep -Eq -- "$2" "$1"; }

# The vendor route first (libdep11.so directly, DEP11_GetFunctionList).
V=(--module "$DEP11_MODULE" --token-label contoso --pin-source "file:$W/user.pin")
"$TOOL" "${V[@]}" policy create --type mailbox --tenant "$TEN" --name mail1 --root1 root1 \
    --root2 root2 --out "$W/mail1.blob" >"$O/create" 2>&1
check "vendor route: policy created" has "$O/create" '^name +mail1'
"$TOOL" --module "$DEP11_MODULE" --json policy show "$W/mail1.blob" >"$O/vendor.json" 2>&1
check "vendor route: policy show FILE" has "$O/vendor.json" '"ok":true'
"$TOOL" "${V[@]}" --json policy show mail1 >"$O/vendor-reg.json" 2>&1

home="$W/home"
mkdir -p "$home/.config/pkcs11/modules"
printf 'module: %s\ncritical: no\n' "$DEP11_MODULE" >"$home/.config/pkcs11/modules/dep11.module"
cp "$abs_top_srcdir/packaging/softhsm2.module" "$home/.config/pkcs11/modules/"
as_user=()
if [ "$(id -u)" -eq 0 ]; then
    command -v setpriv >/dev/null || { echo "SKIP: root without setpriv"; exit 77; }
    chown -R 65534:65534 "$W"
    as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    "${as_user[@]}" test -r "$DEP11_MODULE" -a -x "$TOOL" -a -w "$W/tokens" ||
        { echo "SKIP: nobody cannot reach $W or the build"; exit 77; }
fi
# run OUT CMD...: as the unprivileged user, with the world's dep11 config.
run() {
    local out=$1 status=0
    shift
    "${as_user[@]}" env HOME="$home" SOFTHSM2_CONF="$SOFTHSM2_CONF" DEP11_CONF="$DEP11_CONF" \
        "$@" >"$out" 2>"$out.err" || status=$?
    echo "$status" >"$out.rc"
}
rc() { test "$(cat "$1.rc")" = "$2"; }
# rc_err OUT RC REGEX: exit code RC and REGEX on stderr.
rc_err() { rc "$1" "$2" && has "$1.err" "$3"; }
P=(--module "$proxy" --token-label contoso --pin-source "file:$W/user.pin")
sanitize() { sed 's/"module":"[^"]*",\?//' "$1"; }

echo "== through p11-kit-proxy.so"
run "$O/proxy-L" pkcs11-tool --module "$proxy" -L
check "proxy: dep11's contoso, once" test "$(grep -c 'token label *: contoso' "$O/proxy-L")" -eq 1
run "$O/proxy-show" "$TOOL" --module "$proxy" --json policy show "$W/mail1.blob"
check "proxy: policy show FILE exits 0" rc "$O/proxy-show" 0
check "proxy: policy show FILE = the vendor route's answer" cmp -s "$O/proxy-show" "$O/vendor.json"
run "$O/proxy-reg" "$TOOL" "${P[@]}" --json policy show mail1
check "proxy: policy show NAME = the vendor route's answer" \
    cmp -s <(sanitize "$O/proxy-reg") <(sanitize "$O/vendor-reg.json")
printf 'not a blob' >"$W/junk.blob"
chown 65534:65534 "$W/junk.blob" 2>/dev/null || true
run "$O/proxy-junk" "$TOOL" --module "$proxy" policy show "$W/junk.blob"
check "proxy: a bad blob is CKR_WRAPPED_KEY_INVALID, exit 1" \
    rc_err "$O/proxy-junk" 1 CKR_WRAPPED_KEY_INVALID

echo "== the two-step purge through the proxy"
run "$O/req" "$TOOL" "${P[@]}" policy purge mail1 --request --reason leaving --contact it@contoso.com
check "proxy: purge --request" rc "$O/req" 0
run "$O/dry" "$TOOL" "${P[@]}" policy purge mail1 --confirm --receipt "$W/r.json" --dry-run
check "proxy: --dry-run sees a customer key unwrap" has "$O/dry" 'a customer key still unwraps'
run "$O/refused" "$TOOL" "${P[@]}" policy purge mail1 --confirm --receipt "$W/r.json"
check "proxy: confirm refused while a customer key unwraps (CKR_FUNCTION_REJECTED)" \
    rc_err "$O/refused" 1 CKR_FUNCTION_REJECTED
check "proxy: a refused purge writes no receipt" test ! -e "$W/r.json"
for r in root1 root2; do
    run "$O/revoke-$r" pkcs11-tool --module "$SOFTHSM_MODULE" --token-label contoso --login \
        --pin 1234 --delete-object --type privkey --label "$r"
    check "the customer revokes $r (SoftHSM directly)" rc "$O/revoke-$r" 0
done
run "$O/purge" "$TOOL" "${P[@]}" policy purge mail1 --confirm --receipt "$W/r.json"
check "proxy: purge --confirm exits 0" rc "$O/purge" 0
check "proxy: the receipt names the policy" \
    /usr/bin/python3 -c 'import json, sys
r = json.load(open(sys.argv[1])); v = json.load(open(sys.argv[2]))
sys.exit(0 if r["policy_id"] == v["policy_id"] else 1)' "$W/r.json" "$O/vendor.json"
run "$O/again" "$TOOL" "${P[@]}" policy purge mail1 --confirm --receipt "$W/r2.json"
check "proxy: a repeated purge exits 0" rc "$O/again" 0
check "proxy: ... and re-issues the same receipt" cmp -s "$W/r.json" "$W/r2.json"
run "$O/unwrap" "$TOOL" "${P[@]}" policy unwrap mail1
check "proxy: the purged policy is CKR_DEP11_POLICY_PURGED" \
    rc_err "$O/unwrap" 1 CKR_DEP11_POLICY_PURGED
run "$O/vendor-again" "$TOOL" "${V[@]}" policy purge mail1 --confirm --receipt "$W/r3.json"
check "vendor route: the same receipt" cmp -s "$W/r.json" "$W/r3.json"

echo "== control: no dep11 in the proxy (no dep11 config)"
"${as_user[@]}" env -u DEP11_CONF HOME="$home" SOFTHSM2_CONF="$SOFTHSM2_CONF" \
    "$TOOL" --module "$proxy" policy show "$W/mail1.blob" >"$O/none" 2>"$O/none.err" &&
    echo 0 >"$O/none.rc" || echo $? >"$O/none.rc"
check "control: the tool says the module is not dep11 (exit 3)" \
    rc_err "$O/none" 3 "not dep11"

echo "== p11-kit remoting (p11-kit server + p11-kit-client.so)"
client="$(dirname "$proxy")/pkcs11/p11-kit-client.so"
if command -v p11-kit >/dev/null && [ -f "$client" ]; then
    sock="$W/p11-kit.sock"
    p11kit_server "$sock" "$DEP11_MODULE" "$O/server.out" "${as_user[@]}" env HOME="$home" \
        SOFTHSM2_CONF="$SOFTHSM2_CONF" DEP11_CONF="$DEP11_CONF" || true
    export P11_KIT_SERVER_ADDRESS="unix:path=$sock"
    run "$O/remote-L" pkcs11-tool --module "$client" -L
    check "remoting: standard calls reach dep11's contoso" has "$O/remote-L" 'token label *: contoso'
    run "$O/remote-M" pkcs11-tool --module "$client" -M
    run "$O/remote-show" "$TOOL" --module "$client" --json policy show "$W/mail1.blob"
    if rc "$O/remote-show" 0; then
        echo "# measured: dep11-tool reaches dep11 through remoting" \
            "($(grep -ci '0x8de11' "$O/remote-M") of dep11's mechanisms listed: the object route)"
        check "remoting: policy show FILE = the vendor route's answer" \
            cmp -s "$O/remote-show" "$O/vendor.json"
    else
        echo "# measured: p11-kit remoting does not carry dep11's mechanisms" \
            "($(grep -ci '0x8de11' "$O/remote-M") of 11 in the client's list; DESIGN 8)"
        check "remoting: the tool says why (not dep11, exit 3)" \
            rc_err "$O/remote-show" 3 "not dep11"
    fi
    unset P11_KIT_SERVER_ADDRESS
fi
consumer_finish
