#!/usr/bin/env bash
# test_tool_provider.sh: `dep11-tool provider init` as a command: help and
# usage errors, the config it reads (profile by name, relative paths,
# comments), the PIN file rule, the refusal of libdep11.so as the HSM
# module, --json, the key attributes it creates, and the recovery of a
# partly provisioned token (--force-complete creates only what is missing;
# a duplicate or half a key pair cannot be repaired).
# shellcheck source=tests/integration/test_tool_lib.sh
ITEST_NO_PROVISION=1
# On opencryptoki the spare token of the last part is fabrikam, left empty.
ITEST_FABRIKAM_ROOTS=0
export ITEST_NO_PROVISION ITEST_FABRIKAM_ROOTS
. "$(dirname "$0")/test_tool_lib.sh"
unset ITEST_NO_PROVISION

PPIN=$(head -n1 "$W/provider.pin")
S=(--module "$SOFTHSM_MODULE")
P=(--module "$SOFTHSM_MODULE" --token-label dep11-provider --login --pin "$PPIN")
export DEP11_DEBUG=1

objects() { pkcs11-tool "${P[@]}" -O 2>/dev/null | grep -c 'Object;' || true; }
pubkey() { pkcs11-tool "${P[@]}" --read-object --type pubkey --label "$1" 2>/dev/null | od -An -tx1 | tr -d ' \n'; }

echo "== help and usage"
t 0 "--help" -- "$TOOL" provider init --help
has stdout '^Usage: dep11-tool provider init'
t 0 "listed in the tool's help" -- "$TOOL" --help
has stdout 'provider init'
t 2 "an operand" -- "$TOOL" "${S[@]}" provider init extra
t 2 "--token-label is refused" -- "$TOOL" "${S[@]}" --token-label dep11-provider provider init
has stderr 'from the dep11 config'
t 2 "--pin-source is refused" -- "$TOOL" "${S[@]}" provider init --pin-source "file:$W/provider.pin"
t 2 "no config" -- "$TOOL" "${S[@]}" provider init --config "$W/none.conf"
printf 'profile = softhsm2\nprovider-token = dep11-provider\n' >"$W/nopin.conf"
t 2 "a config without provider-pin" -- "$TOOL" "${S[@]}" provider init --config "$W/nopin.conf"
has stderr "missing key 'provider-pin'"
{ grep -v '^provider-pin' "$W/dep11.conf"; echo "provider-pin = 1234"; } >"$W/rawpin.conf"
t 2 "a PIN in the config" -- "$TOOL" "${S[@]}" provider init --config "$W/rawpin.conf"
has stderr 'never the PIN itself'
hasnt stderr '1234'
{ cat "$W/dep11.conf"; echo "provider-token = other"; } >"$W/dup.conf"
t 2 "a duplicate key" -- "$TOOL" "${S[@]}" provider init --config "$W/dup.conf"
has stderr "duplicate key 'provider-token'"
cp "$W/provider.pin" "$W/open.pin"; chmod 644 "$W/open.pin"
{ grep -v '^provider-pin' "$W/dep11.conf"; echo "provider-pin = file:open.pin  # relative"; } >"$W/open.conf"
t 2 "a PIN file others may read" -- "$TOOL" "${S[@]}" provider init --config "$W/open.conf"
has stderr 'readable by group or others'
t 2 "libdep11.so as the HSM module" -- "$TOOL" --module "$DEP11_MODULE" provider init
has stderr 'is dep11 itself'
{ grep -v '^provider-token' "$W/dep11.conf"; echo "provider-token = no-such-token"; } >"$W/none-token.conf"
t 1 "no such token" -- "$TOOL" "${S[@]}" provider init --config "$W/none-token.conf"
has stderr 'no token matches no-such-token'
[ "$(objects)" = 0 ] || fail "usage errors created objects"

echo "== a config the module's way: profile by name, relative PIN path, comments"
mkdir -p "$W/cfg"
# The world's profile (the backend's shipped one).
sed "s|^module *=.*|module = $SOFTHSM_MODULE|" "$(sed -n 's/^profile *= *//p' "$W/dep11.conf")" \
    >"$W/cfg/softhsm2-test.conf"
cp "$W/provider.pin" "$W/cfg/open.pin" && chmod 600 "$W/cfg/open.pin"
{
    echo "# comment"
    echo "profile = softhsm2-test   # a bare name: found beside the config"
    echo "provider-token = pkcs11:token=dep11-provider"
    echo "provider-pin = file:open.pin"
    echo "cache-seconds = 0"
} >"$W/cfg/dep11.conf"
t 0 "provider init --json, the profile's module" -- "$TOOL" --json provider init --config "$W/cfg/dep11.conf"
json 'j["ok"] is True and len(j["created"]) == 4 and j["token"] == "pkcs11:token=dep11-provider"'
[ "$(objects)" = 7 ] || fail "want 7 objects, got $(objects)"

echo "== what was created"
t 0 "the objects" -- pkcs11-tool "${P[@]}" -O
has stdout 'label: +dep11-provider-root-1'
has stdout 'label: +dep11-provider-root-2'
has stdout 'label: +dep11-provider-mac'
has stdout 'label: +dep11-provider-receipt-sign'
has stdout 'RSA 3072 bits'
# Private halves and the MAC key: sensitive, never extractable, no derive.
t 0 "the private keys' attributes" -- /usr/bin/python3 - "$OUT/stdout" <<'PYEOF'
import re, sys
text = open(sys.argv[1]).read()
blocks = re.split(r"\n(?=\S)", text)
bad = []
for b in blocks:
    if not ("Private Key Object" in b or "Secret Key Object" in b):
        continue
    usage = re.search(r"Usage:\s*(.*)", b)
    access = re.search(r"Access:\s*(.*)", b)
    u = usage.group(1) if usage else ""
    a = access.group(1) if access else ""
    if "derive" in u or "sensitive" not in a or "never extractable" not in a:
        bad.append(b)
    # RSA: the roots decrypt; an RSA receipt key (rsa-pss profiles) signs.
    want = "sign" if "receipt-sign" in b else "decrypt"
    if "Private Key Object; RSA" in b and u.strip() != want:
        bad.append(b)
    if "Private Key Object; EC" in b and u.strip() != "sign":
        bad.append(b)
sys.exit(1 if bad else print("\n".join(bad)) or 0)
PYEOF

echo "== a partly provisioned token"
before=$(pubkey dep11-provider-root-1)
t 0 "the MAC key goes (a run that stopped midway)" -- pkcs11-tool "${P[@]}" --delete-object --type secrkey --label dep11-provider-mac
t 1 "provider init refuses" -- "$TOOL" "${S[@]}" provider init
has stderr 'partly provisioned .*--force-complete'
t 1 "the module refuses to start" -- p11dep11 -L
has stderr 'partly provisioned \(missing: mac\).*dep11-tool provider init --force-complete'
t 0 "--force-complete" -- "$TOOL" "${S[@]}" provider init --force-complete
has stdout 'dep11-provider-mac +provider MAC key'
has stdout 'root-1 +provider root 1 \(RSA\) \(already there\)'
[ "$(objects)" = 7 ] || fail "want 7 objects, got $(objects)"
[ "$(pubkey dep11-provider-root-1)" = "$before" ] || fail "--force-complete replaced root 1"
t 0 "the module starts" -- p11dep11 -L

echo "== what cannot be repaired"
t 0 "root 2 loses its public half" -- pkcs11-tool "${P[@]}" --delete-object --type pubkey --label dep11-provider-root-2
t 1 "--force-complete refuses half a pair" -- "$TOOL" "${S[@]}" provider init --force-complete
has stderr 'dep11-provider-root-2 .*re-initialize the token'
t 1 "the module refuses to start, and says so" -- p11dep11 -L
has stderr 'lacks half of a key pair \(missing: root-2 \(public\)\).*re-initialize'
[ "$(objects)" = 6 ] || fail "the refusal changed the token"

echo "== a token that is not empty"
spare=spare
if [ "${ITEST_BACKEND:-softhsm}" = opencryptoki ]; then
    # No new token on a running opencryptoki: fabrikam, empty in this world.
    spare=fabrikam
    [ "$(pkcs11-tool --module "$SOFTHSM_MODULE" --token-label fabrikam --login --pin 1234 -O 2>/dev/null |
        grep -c 'Object;')" = 0 ] || fail "fabrikam is not empty"
else
    t 0 "a new empty token" -- softhsm2-util --init-token --free --label spare --pin 1234 --so-pin 5678
fi
t 0 "an object on it" -- pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$spare" --login --pin 1234 \
    --keygen --key-type AES:32 --label other
chmod 600 "$W/user.pin"
{ grep -v '^provider-token\|^provider-pin' "$W/dep11.conf"; echo "provider-token = $spare";
  echo "provider-pin = file:$W/user.pin"; } >"$W/spare.conf"
t 1 "provider init refuses" -- "$TOOL" "${S[@]}" provider init --config "$W/spare.conf"
has stderr 'not empty \(1 objects, no provider keys\)'
t 0 "--force-complete provisions beside it" -- "$TOOL" "${S[@]}" provider init --config "$W/spare.conf" --force-complete
DEP11_CONF="$W/spare.conf" t 0 "the module starts on it" -- p11dep11 -L

finish
