#!/usr/bin/env bash
# test_rootreg.sh: root registration by SO login (root-registration =
# so-login, docs/SECURITY.md) on one fresh world: test_rootreg's phases
# around dep11-tool root unregister/register run in processes of their own
# (the records live on the provider token: another process sees them).
# The audit log gets one line per registration call (root-register /
# root-unregister, refusals included); keys check through dep11 names the
# route of each root.
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
export ITEST_PROFILE_KEYS="root-registration = so-login"
# opencryptoki's world registers its roots by SO login: not this one (the
# test registers them itself; SoftHSM's world only makes trusted twins).
export ITEST_NO_ROOT_REGISTRATION=1
itest_world rootreg
# The auditor's view: every registration call writes one audit line.
log="$ITEST_WORLD/audit.jsonl"
echo "audit-log = $log" >>"$ITEST_WORLD/dep11.conf"
: >"$log"
tool="$abs_top_builddir/tools/dep11-tool"
status=0
root() { "$tool" --module "$DEP11_MODULE" --token-label contoso root "$@"; }
expect() { # expect RC PATTERN COMMAND...: exit code and a line of its output
    local want=$1 pat=$2 out rc
    shift 2
    rc=0
    out=$("$@" 2>&1) || rc=$?
    if [ "$rc" != "$want" ] || ! grep -q -- "$pat" <<<"$out"; then
        echo "FAIL: $* -> exit $rc (want $want, /$pat/): $out"
        status=1
    else
        echo "ok: $*"
    fi
}
# audited N EVENT RESULT [ROUTE]: the log grew by N root lines since the
# last call, the last of them EVENT with RESULT, contoso's serial, the root
# identity (64 hex digits) and ROUTE (so-login by default).
seen=0
audited() {
    local n=$1 ev=$2 res=$3 route=${4:-so-login} now
    now=$(grep -c '"event":"root-' "$log" || true)
    if [ $((now - seen)) -ne "$n" ]; then
        echo "FAIL: audit: $((now - seen)) new root line(s), want $n"
        status=1
    elif [ "$n" -gt 0 ] && ! grep '"event":"root-' "$log" | tail -n1 | /usr/bin/python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
ev, res, route, serial = sys.argv[1:5]
ok = (r["event"] == ev and r["result"] == res and r["route"] == route and r["token"] == serial
      and len(r["root_id"]) == 64 and r["policy_id"] == "" and r["tenant"] == "")
sys.exit(0 if ok else 1)' "$ev" "$res" "$route" "$serial"; then
        echo "FAIL: audit: the last root line is not $ev $res $route: $(grep '"event":"root-' "$log" | tail -n1)"
        status=1
    else
        echo "ok: audit: $n line(s)${ev:+, last $ev $res}"
    fi
    seen=$now
}
serial=$(pkcs11-tool --module "$SOFTHSM_MODULE" -L 2>/dev/null | awk '
    /token label *:/ { l = $NF } /serial num *:/ { if (l == "contoso") { print $NF; exit } }')
[ -n "$serial" ] || { echo "FAIL: no serial number for contoso"; status=1; }
# keys_route PHASE PY: "keys check --json" through dep11 (the routes are
# dep11's answer), the Python condition PY on its keys {label: route}.
keys_route() {
    local out
    out=$("$tool" --module "$DEP11_MODULE" --token-label contoso \
        --pin-source "file:$ITEST_WORLD/user.pin" keys check --json 2>/dev/null) || true
    if /usr/bin/python3 -c '
import json, sys
r = {k["label"]: k["route"] for k in json.loads(sys.argv[1])["keys"]}
sys.exit(0 if eval(sys.argv[2]) else 1)' "$out" "$2"; then
        echo "ok: keys check ($1): $2"
    else
        echo "FAIL: keys check ($1): not $2: $out"
        status=1
    fi
}
printf '0000\n' >"$ITEST_WORLD/bad-so.pin"
chmod 600 "$ITEST_WORLD/bad-so.pin"
so="file:$ITEST_WORLD/so.pin"

# the world's twins are no registration here; nothing is registered yet
keys_route start 'r["root1"] is None and r["root2"] is None'
itest_run test_rootreg first || status=1
# (test_rootreg checks each of its own calls' lines: here only the chain)
seen=$(grep -c '"event":"root-' "$log" || true)
keys_route first 'r["root1"] == "so-login" and r["root2"] == "so-login" and r["unregistered"] is None'
# the SO's act through dep11-tool, each in its own process
expect 1 CKR_PIN_INCORRECT root unregister --key-label root2 --so-pin-source "file:$ITEST_WORLD/bad-so.pin"
audited 1 root-unregister CKR_PIN_INCORRECT
expect 2 "exactly one" root register --so-pin-source "$so"
audited 0 "" ""
# (the tool finds no such public key itself: dep11 is never asked)
expect 1 "no RSA public key" root register --key-label nosuchkey --so-pin-source "$so"
audited 0 "" ""
expect 0 "unregistered root" root unregister --key-label root2 --so-pin-source "$so"
audited 1 root-unregister CKR_OK
keys_route unregistered 'r["root1"] == "so-login" and r["root2"] is None'
itest_run test_rootreg unregistered || status=1
audited 0 "" ""
expect 1 CKR_PIN_INCORRECT root register --key-label root2 --so-pin-source "file:$ITEST_WORLD/bad-so.pin"
audited 1 root-register CKR_PIN_INCORRECT
expect 0 "registered root labelled \"root2\"" root register --key-label root2 --so-pin-source "$so"
audited 1 root-register CKR_OK
expect 0 '"action":"register"' root register --key-label root2 --so-pin-source "$so" --json
audited 1 root-register CKR_OK
keys_route registered 'r["root1"] == "so-login" and r["root2"] == "so-login"'
itest_run test_rootreg registered || status=1
# on the HSM's own library the tool sees only twins: the world's on SoftHSM,
# none on opencryptoki (no CKA_TRUSTED; the SO-login records are on dep11's
# token, read only through dep11)
if [ "${ITEST_BACKEND:-softhsm}" = opencryptoki ]; then
    want='^root1 .* no +- +-$' why="root1 unregistered (no twins)"
else
    want='^root1 .* twin$' why="root1 by twin"
fi
out=$("$tool" --module "$SOFTHSM_MODULE" --token-label contoso --pin-source "file:$ITEST_WORLD/user.pin" \
    keys check 2>/dev/null) || true
grep -Eq "$want" <<<"$out" && echo "ok: keys check on the HSM's library: $why" ||
    { echo "FAIL: keys check on the HSM's library: $out"; status=1; }
# the default route (trusted-twin) has no SO-login registration
sed '/^root-registration/d' "$ITEST_WORLD/dep11.conf.profile" >"$ITEST_WORLD/twin.profile"
sed "s|^profile *=.*|profile = $ITEST_WORLD/twin.profile|" "$ITEST_WORLD/dep11.conf" \
    >"$ITEST_WORLD/dep11-twin.conf"
DEP11_CONF="$ITEST_WORLD/dep11-twin.conf" expect 1 CKR_FUNCTION_NOT_SUPPORTED \
    root register --key-label root1 --so-pin-source "$so"
audited 1 root-register CKR_FUNCTION_NOT_SUPPORTED trusted-twin
# the log is one unbroken chain of well-formed lines
/usr/bin/python3 "$abs_top_srcdir/scripts/dep11-audit-verify" -q "$log" &&
    echo "ok: audit chain ($(grep -c '"event":"root-' "$log") root lines)" ||
    { echo "FAIL: audit chain"; status=1; }
exit $status
