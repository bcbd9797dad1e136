#!/usr/bin/env bash
# test_rootreg.sh: root registration by SO login (root-registration =
# so-login, docs/SECURITY.md) on one fresh world: test_rootreg's phases
# around dep11-tool root unregister/register run in processes of their own
# (the records live on the provider token: another process sees them).
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
export ITEST_PROFILE_KEYS="root-registration = so-login"
# opencryptoki's world registers its roots by SO login: not this one (the
# test registers them itself; SoftHSM's world only makes trusted twins).
export ITEST_NO_ROOT_REGISTRATION=1
itest_world rootreg
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
printf '0000\n' >"$ITEST_WORLD/bad-so.pin"
chmod 600 "$ITEST_WORLD/bad-so.pin"
so="file:$ITEST_WORLD/so.pin"

itest_run test_rootreg first || status=1
# the SO's act through dep11-tool, each in its own process
expect 1 CKR_PIN_INCORRECT root unregister --key-label root2 --so-pin-source "file:$ITEST_WORLD/bad-so.pin"
expect 2 "exactly one" root register --so-pin-source "$so"
expect 1 "no RSA public key" root register --key-label nosuchkey --so-pin-source "$so"
expect 0 "unregistered root" root unregister --key-label root2 --so-pin-source "$so"
itest_run test_rootreg unregistered || status=1
expect 1 CKR_PIN_INCORRECT root register --key-label root2 --so-pin-source "file:$ITEST_WORLD/bad-so.pin"
expect 0 "registered root labelled \"root2\"" root register --key-label root2 --so-pin-source "$so"
expect 0 '"action":"register"' root register --key-label root2 --so-pin-source "$so" --json
itest_run test_rootreg registered || status=1
# the default route (trusted-twin) has no SO-login registration
sed '/^root-registration/d' "$ITEST_WORLD/dep11.conf.profile" >"$ITEST_WORLD/twin.profile"
sed "s|^profile *=.*|profile = $ITEST_WORLD/twin.profile|" "$ITEST_WORLD/dep11.conf" \
    >"$ITEST_WORLD/dep11-twin.conf"
DEP11_CONF="$ITEST_WORLD/dep11-twin.conf" expect 1 CKR_FUNCTION_NOT_SUPPORTED \
    root register --key-label root1 --so-pin-source "$so"
exit $status
