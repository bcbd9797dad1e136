#!/usr/bin/env bash
# test_small_gaps.sh: runs test_small_gaps (cmocka) in a fresh SoftHSM world
# with the configs and profiles its C_Initialize cases need (issue 11, item 7).
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
itest_world small-gaps
W=$ITEST_WORLD
# The world's profile (the backend's shipped one).
base_profile=$(sed -n 's/^profile *= *//p' "$W/dep11.conf")

# derive NEW-CONF SED-SCRIPT: dep11.conf edited by a sed script.
derive() {
    sed -e "$2" "$W/dep11.conf" >"$W/$1"
}
# profile NEW-PROFILE SED-SCRIPT: the shipped SoftHSM profile edited.
profile() {
    sed -e "$2" "$base_profile" >"$W/$1"
}

# The main process: caller IVs allowed (CKM_AES_GCM encryption on module keys).
derive dep11-small.conf '$a caller-iv = allow'

# c. A profile whose module is dep11 itself: the built library, a symlink
# to it, a copy of it.
self=$(readlink -f "$DEP11_MODULE")
ln -sf "$self" "$W/libdep11-link.so"
cp "$self" "$W/libdep11-copy.so"
for v in "self:$self" "self-link:$W/libdep11-link.so" "self-copy:$W/libdep11-copy.so"; do
    name=${v%%:*}
    profile "$name-profile.conf" "s|^module *=.*|module = ${v#*:}|"
    grep -q "^module = ${v#*:}\$" "$W/$name-profile.conf"
    derive "dep11-$name.conf" "s|^profile *=.*|profile = $W/$name-profile.conf|"
done

# d. The provider PIN in files the group / others may read, and at 0600.
for v in group:640 world:604 ok:600; do
    cp "$W/provider.pin" "$W/provider-${v%%:*}.pin"
    chmod "${v#*:}" "$W/provider-${v%%:*}.pin"
    derive "dep11-pin-${v%%:*}.conf" \
        "s|^provider-pin *=.*|provider-pin = file:$W/provider-${v%%:*}.pin|"
done

# d2. The provider token: a wrong PIN (0600), a URI that matches two tokens
# (every token of the backend has this manufacturer).
printf 'wrong-provider-pin\n' >"$W/provider-wrong.pin"
chmod 600 "$W/provider-wrong.pin"
derive dep11-pin-wrong.conf "s|^provider-pin *=.*|provider-pin = file:$W/provider-wrong.pin|"
if [ "$ITEST_BACKEND" = opencryptoki ]; then
    ITEST_TWO_TOKENS_URI="pkcs11:manufacturer=IBM%20Corp."
else
    ITEST_TWO_TOKENS_URI="pkcs11:manufacturer=SoftHSM%20project"
fi
export ITEST_TWO_TOKENS_URI
derive dep11-provider-two.conf "s|^provider-token *=.*|provider-token = $ITEST_TWO_TOKENS_URI|"
grep -q '^provider-token = pkcs11:manufacturer=' "$W/dep11-provider-two.conf"

# e. SYSTEM / RECOVERY requests allowed without an audit log.
derive dep11-sys-noaudit.conf '/^audit-log *=/d; s|^system-requests *=.*|system-requests = allow|'
grep -q '^system-requests = allow$' "$W/dep11-sys-noaudit.conf"
derive dep11-rec-noaudit.conf '/^audit-log *=/d; $a recovery-requests = allow'

# f. Profiles that need threads: hedged tries, a per-call time-out.
profile hedged-profile.conf 's|^hedged-unwrap *=.*|hedged-unwrap = yes|'
grep -q '^hedged-unwrap = yes$' "$W/hedged-profile.conf"
profile timeout-profile.conf 's|^call-timeout-ms *=.*|call-timeout-ms = 500|'
grep -q '^call-timeout-ms = 500$' "$W/timeout-profile.conf"
derive dep11-hedged.conf "s|^profile *=.*|profile = $W/hedged-profile.conf|"
derive dep11-timeout.conf "s|^profile *=.*|profile = $W/timeout-profile.conf|"

export DEP11_CONF="$W/dep11-small.conf"
itest_run test_small_gaps
