#!/usr/bin/env bash
# setup-tokens.sh DIR: make a throwaway SoftHSM world for the integration
# tests in DIR (wiped first, so re-running is safe):
#   DIR/softhsm2.conf        tokendir DIR/tokens, file object store
#   token "contoso"          customer; user PIN 1234 (DIR/user.pin), SO PIN 5678 (DIR/so.pin)
#                            root1, root2: RSA-3072 pairs (ids 01, 02), registered by the SO
#                            unregistered: RSA-2048 pair (id 03), not registered
#                            extractable:  RSA-2048 pair (id 04), private half extractable,
#                                          registered (so only its extractability refuses it)
#   token "fabrikam"         a second customer token (a second tenant), same PINs;
#                            froot1, froot2: RSA-2048 pairs (ids 21, 22), registered
#                            (none with ITEST_FABRIKAM_ROOTS=0)
#   token "dep11-provider"   dep11's own token (PIN in DIR/provider.pin), provisioned
#                            with `dep11-tool provider init` (not with
#                            ITEST_NO_PROVISION=1: an empty provider token)
#   DIR/dep11.conf           the consumer config (system-requests = deny)
#   DIR/dep11-system.conf    a worker's config (system and recovery requests allowed,
#                            audit log DIR/audit-system.jsonl)
#   DIR/dep11-any.conf       trusted-roots = any
# Registration (DESIGN section 2, "Registered roots") uses
# $abs_top_builddir/tools/dep11-tool when it is built, else the test helper
# $ITEST_TOOL (tests/integration/itool). Env: SOFTHSM_MODULE, abs_top_srcdir,
# abs_top_builddir (set by make check; guessed otherwise).
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
: "${abs_top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${abs_top_builddir:=$abs_top_srcdir}"
: "${SOFTHSM_MODULE:=/usr/lib/softhsm/libsofthsm2.so}"
: "${ITEST_TOOL:=$abs_top_builddir/tests/integration/itool}"

mkdir -p "$1"
dir=$(cd "$1" && pwd)
case "$dir" in
    /|"$HOME"|/tmp|/usr*|/etc*) echo "setup-tokens.sh: refusing to wipe $dir" >&2; exit 2 ;;
esac
# Wipe what a previous run left.
rm -rf "$dir"
mkdir -p "$dir/tokens"

export SOFTHSM2_CONF="$dir/softhsm2.conf"
cat >"$SOFTHSM2_CONF" <<EOF
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF

printf '1234\n' >"$dir/user.pin"
printf '5678\n' >"$dir/so.pin"
printf 'provider-%s\n' "$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')" >"$dir/provider.pin"
chmod 600 "$dir"/*.pin

log="$dir/setup.log"
: >"$log"
run() {
    if ! "$@" >>"$log" 2>&1; then
        echo "setup-tokens.sh: failed: $*" >&2
        cat "$log" >&2
        exit 1
    fi
}

run softhsm2-util --init-token --free --label contoso --pin 1234 --so-pin 5678
run softhsm2-util --init-token --free --label fabrikam --pin 1234 --so-pin 5678
run softhsm2-util --init-token --free --label dep11-provider \
    --pin "$(head -n1 "$dir/provider.pin")" --so-pin "$(head -n1 "$dir/so.pin")"

# Key pairs on contoso, through SoftHSM directly. pkcs11-tool 0.23 makes the
# private half sensitive and never extractable by default (CKA_SENSITIVE and
# CKA_EXTRACTABLE=FALSE); --usage-decrypt sets CKA_DECRYPT (SoftHSM's own
# defaults add sign/unwrap); --extractable flips CKA_EXTRACTABLE.
p11() {
    run pkcs11-tool --module "$SOFTHSM_MODULE" --token-label contoso \
        --login --pin 1234 "$@"
}
p11 --keypairgen --key-type rsa:3072 --label root1 --id 01 --usage-decrypt
p11 --keypairgen --key-type rsa:3072 --label root2 --id 02 --usage-decrypt
p11 --keypairgen --key-type rsa:2048 --label unregistered --id 03 --usage-decrypt
p11 --keypairgen --key-type rsa:2048 --label extractable --id 04 --usage-decrypt --extractable

# Register root1, root2 and extractable as the customer's key officer would.
register() {
    local label=$1 tool="$abs_top_builddir/tools/dep11-tool"
    if [ -x "$tool" ] && [ -z "${ITEST_NO_DEP11_TOOL:-}" ]; then
        run "$tool" --module "$SOFTHSM_MODULE" --token-label contoso keys register \
            --so-pin-source "file:$dir/so.pin" --key-label "$label"
    elif [ -x "$ITEST_TOOL" ]; then
        run "$ITEST_TOOL" register "$SOFTHSM_MODULE" contoso "$dir/so.pin" "$label"
    else
        echo "setup-tokens.sh: neither dep11-tool nor $ITEST_TOOL is built" >&2
        exit 1
    fi
}
register root1
register root2
register extractable

# --- fabrikam: a second tenant with its own registered roots (the tenant
# binding tests, test_tenants / test_replay). ITEST_FABRIKAM_ROOTS=0 leaves
# fabrikam empty (pkcs11-tool --test compares it with and without dep11).
if [ "${ITEST_FABRIKAM_ROOTS:-1}" != 0 ]; then
    for n in 1 2; do
        run pkcs11-tool --module "$SOFTHSM_MODULE" --token-label fabrikam --login --pin 1234 \
            --keypairgen --key-type rsa:2048 --label "froot$n" --id "2$n" --usage-decrypt
        if [ -x "$abs_top_builddir/tools/dep11-tool" ] && [ -z "${ITEST_NO_DEP11_TOOL:-}" ]; then
            run "$abs_top_builddir/tools/dep11-tool" --module "$SOFTHSM_MODULE" \
                --token-label fabrikam keys register --so-pin-source "file:$dir/so.pin" \
                --key-label "froot$n"
        else
            run "$ITEST_TOOL" register "$SOFTHSM_MODULE" fabrikam "$dir/so.pin" "froot$n"
        fi
    done
fi

# ITEST_PROFILE: another profile for the world (e.g. receipt-signature = rsa-pss).
profile="${ITEST_PROFILE:-$abs_top_srcdir/hsm-profiles/softhsm2.conf}"
write_conf() {
    local file=$1; shift
    {
        echo "# written by tests/integration/setup-tokens.sh"
        echo "profile = $profile"
        echo "provider-token = dep11-provider"
        echo "provider-pin = file:$dir/provider.pin"
        for line in "$@"; do echo "$line"; done
    } >"$dir/$file"
}
write_conf dep11.conf "system-requests = deny"
# SYSTEM and RECOVERY requests need an audit log (DESIGN section 5).
write_conf dep11-system.conf "system-requests = allow" "recovery-requests = allow" \
    "audit-log = $dir/audit-system.jsonl"
write_conf dep11-any.conf "system-requests = deny" "trusted-roots = any"

# Provision the provider token the documented way (DESIGN section 2,
# "Provisioning"; dep11 never creates provider keys): dep11-tool provider
# init with the world's config, through SoftHSM's own module; else itool
# with the same key templates (tools/provider_tmpl.h).
provision() {
    local tool="$abs_top_builddir/tools/dep11-tool"
    local bits
    if [ -x "$tool" ] && [ -z "${ITEST_NO_DEP11_TOOL:-}" ]; then
        run "$tool" --module "$SOFTHSM_MODULE" provider init --config "$dir/dep11.conf"
    elif [ -x "$ITEST_TOOL" ]; then
        bits=$(sed -n 's/^provider-rsa-bits *= *\([0-9]*\).*/\1/p' "$profile")
        run "$ITEST_TOOL" provision "$SOFTHSM_MODULE" dep11-provider "$dir/provider.pin" "${bits:-3072}"
    else
        echo "setup-tokens.sh: neither dep11-tool nor $ITEST_TOOL is built" >&2
        exit 1
    fi
}
if [ -z "${ITEST_NO_PROVISION:-}" ]; then
    provision
fi

echo "setup-tokens.sh: world ready in $dir"
