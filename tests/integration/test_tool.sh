#!/usr/bin/env bash
# test_tool.sh: every dep11-tool command, success and failure, against a
# throwaway SoftHSM world (tests/integration/setup-tokens.sh), asserting
# output and exit codes. Part A runs on SoftHSM directly (keys, options, exit
# codes); part B needs the built libdep11.so ($DEP11_MODULE). Without it the
# test reports SKIP (77) after part A, never PASS.
# Env (set by make check): abs_top_srcdir, abs_top_builddir, DEP11_MODULE,
# SOFTHSM_MODULE.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
: "${abs_top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${abs_top_builddir:=$abs_top_srcdir}"
: "${SOFTHSM_MODULE:=/usr/lib/softhsm/libsofthsm2.so}"
: "${DEP11_MODULE:=$abs_top_builddir/.libs/libdep11.so}"
TOOL="$abs_top_builddir/tools/dep11-tool"

[ -x "$TOOL" ] || { echo "SKIP: $TOOL not built"; exit 77; }
[ -f "$SOFTHSM_MODULE" ] || { echo "SKIP: no SoftHSM module"; exit 77; }
command -v pkcs11-tool >/dev/null || { echo "SKIP: no pkcs11-tool"; exit 77; }

# shellcheck source=tests/integration/tool_checks.sh
. "$here/tool_checks.sh"
# On opencryptoki (tool_world) the world has no CKA_TRUSTED, so the keys
# register/check parts (trusted twins) do not apply (its roots:
# root-registration = so-login).
ock=0
[ "${ITEST_BACKEND:-softhsm}" = opencryptoki ] && ock=1
tool_world "$abs_top_builddir/tests/integration/tool-world"
export SOFTHSM2_CONF="$W/softhsm2.conf"
unset DEP11_CONF
OUT="$W/out"
mkdir -p "$OUT"

fails=0 checks=0

S=(--module "$SOFTHSM_MODULE" --token-label contoso)
UP="file:$W/user.pin"
SOP="file:$W/so.pin"

echo "== part A: help, options, exit codes (SoftHSM directly)"
t 0 "help" -- "$TOOL" --help; has stdout 'keys register'; has stdout 'Exit codes'
t 0 "help command" -- "$TOOL" help
for c in "keys register" "keys check" "policy create" "policy show" \
         "policy unwrap" "mailbox assign" "data seal" "data open"; do
    # shellcheck disable=SC2086
    t 0 "$c --help" -- "$TOOL" $c --help; has stdout '^Usage: dep11-tool'
done
t 0 "noun --help" -- "$TOOL" policy --help; has stdout 'policy unwrap'
t 2 "no command" -- "$TOOL"
t 2 "unknown noun" -- "$TOOL" frob; has stderr 'unknown command'
t 2 "unknown verb" -- "$TOOL" keys frob; has stderr 'unknown or missing verb'
t 2 "unknown option" -- "$TOOL" keys check --bogus
t 2 "PIN in argv" -- "$TOOL" "${S[@]}" --pin-source 1234 keys check
has stderr 'file:PATH or env:VAR'
t 2 "PIN file missing" -- "$TOOL" "${S[@]}" --pin-source file:/nonexistent keys check
t 2 "PIN env unset" -- env -u NOPIN "$TOOL" "${S[@]}" --pin-source env:NOPIN keys check
t 2 "label and URI" -- "$TOOL" --token-label a --token pkcs11:token=a keys check
t 2 "URI not a URI" -- "$TOOL" --token contoso keys check
t 2 "bad URI" -- "$TOOL" --module "$SOFTHSM_MODULE" --token 'pkcs11:token=%zz' --pin-source "$UP" keys check
t 3 "module missing" -- "$TOOL" --module /nonexistent.so --pin-source "$UP" keys check
has stderr 'cannot load module'
t 3 "module not PKCS#11" -- "$TOOL" --module /lib/x86_64-linux-gnu/libc.so.6 keys check
t 2 "several tokens" -- "$TOOL" --module "$SOFTHSM_MODULE" --pin-source "$UP" keys check
has stderr 'choose one'
t 1 "no such token" -- "$TOOL" --module "$SOFTHSM_MODULE" --token-label nope --pin-source "$UP" keys check
has stderr 'no token matches nope'

if [ "$ock" = 1 ]; then
    echo "NOT RUN: part A keys register / keys check on opencryptoki: trusted twins (CKA_TRUSTED), which the token lacks"
else
echo "== part A: keys register"
t 0 "register again: idempotent" -- "$TOOL" "${S[@]}" keys register --key-label root1 --so-pin-source "$SOP"
has stdout 'already registered'
t 0 "register by id, env PIN, URI" -- env SOPIN=5678 "$TOOL" --module "$SOFTHSM_MODULE" \
    --token 'pkcs11:token=contoso' keys register --key-id 02 --so-pin-source env:SOPIN
has stdout 'already registered'
t 0 "register unregistered (json)" -- "$TOOL" "${S[@]}" --json keys register --key-label unregistered --so-pin-source "$SOP"
json 'j["ok"] and j["keys"][0]["status"] == "registered" and j["keys"][0]["twin"] == "unregistered.registered" and j["keys"][0]["id"] == "03" and j["keys"][0]["bits"] == 2048'
t 1 "keys check sees the new registration" -- "$TOOL" "${S[@]}" --pin-source "$UP" --json keys check
json '[k["registered"] for k in j["keys"] if k["label"] == "unregistered"] == [True]'
t 0 "the twin is public, has the key's id, no usage" -- pkcs11-tool --module "$SOFTHSM_MODULE" --token-label contoso -O
/usr/bin/python3 - "$OUT/stdout" <<'EOF' || fail "twin attributes"
import sys
text = open(sys.argv[1]).read()
blk = text.split("label:      unregistered.registered")[1].split("Object;")[0]
assert "ID:         03" in blk and "Usage:      none" in blk, blk
EOF
# Undo: the later parts need "unregistered" to stay unregistered.
t 0 "delete the twin" -- pkcs11-tool --module "$SOFTHSM_MODULE" --token-label contoso \
    --login --login-type so --so-pin 5678 --delete-object --type pubkey --label unregistered.registered
t 1 "wrong SO PIN" -- "$TOOL" "${S[@]}" keys register --key-label unregistered --so-pin-source "file:$W/user.pin"
has stderr 'CKR_PIN_INCORRECT'
t 2 "SO PIN in argv" -- "$TOOL" "${S[@]}" keys register --key-label root1 --so-pin-source 5678
t 2 "no SO PIN" -- "$TOOL" "${S[@]}" keys register --key-label root1
t 2 "label and id" -- "$TOOL" "${S[@]}" keys register --key-label root1 --key-id 01 --so-pin-source "$SOP"
t 2 "bad id" -- "$TOOL" "${S[@]}" keys register --key-id 0x1 --so-pin-source "$SOP"
t 1 "no such key" -- "$TOOL" "${S[@]}" keys register --key-label nokey --so-pin-source "$SOP"
has stderr 'no RSA key labelled nokey'
t 0 "twin deleted" -- pkcs11-tool --module "$SOFTHSM_MODULE" --token-label contoso -O --type pubkey
hasnt stdout 'unregistered.registered'

echo "== part A: keys check"
t 1 "keys check finds the extractable root" -- "$TOOL" "${S[@]}" --pin-source "$UP" keys check
has stdout '^root1 +01 +3072 +yes +no +yes +yes +fit'
has stdout '^extractable +04 +2048 +yes +yes +yes +yes +UNFIT'
has stdout '^unregistered +03 +2048 +yes +no +yes +no +-'
has stderr 'not fit to be a root'
t 1 "keys check --json" -- "$TOOL" "${S[@]}" --pin-source "$UP" keys check --json
json 'j["unfit"] == 1 and {k["label"]: k["registered"] for k in j["keys"]} == {"root1": True, "root2": True, "unregistered": False, "extractable": True}'
t 1 "keys check: wrong PIN" -- "$TOOL" "${S[@]}" --pin-source "$SOP" keys check
has stderr 'CKR_PIN_INCORRECT'
fi
t 2 "keys check needs a PIN" -- "$TOOL" "${S[@]}" keys check
t 3 "policy show needs dep11" -- "$TOOL" "${S[@]}" policy show "$W/so.pin"
t 1 "policy create on plain SoftHSM" -- "$TOOL" "${S[@]}" --pin-source "$UP" policy create \
    --type mailbox --tenant 11111111-2222-3333-4444-555555555555 --name x --root1 root1 --root2 root2 --out "$OUT/x"
has stderr 'CKR_MECHANISM_INVALID'
[ ! -e "$OUT/x" ] || fail "a failed create left $OUT/x"

if [ ! -f "$DEP11_MODULE" ]; then
    echo "part B skipped: $DEP11_MODULE not built ($checks checks, $fails failures)"
    [ "$fails" -eq 0 ] || exit 1
    exit 77
fi

echo "== part B: through libdep11.so"
export DEP11_CONF="$W/dep11.conf"
D=(--module "$DEP11_MODULE" --token-label contoso --pin-source "$UP")
TEN=0b5e2a6c-7c1d-4f51-9a0e-3d7b1c2e4f60
if [ "$ock" = 1 ]; then
    echo "NOT RUN: part B keys register / keys check through dep11 on opencryptoki: trusted twins, which the token lacks"
else
    t 0 "keys register through dep11 (SO login passed through)" -- "$TOOL" "${D[@]}" keys register \
        --key-label root1 --so-pin-source "$SOP"
    has stdout 'already registered'
    t 1 "keys check through dep11" -- "$TOOL" "${D[@]}" keys check
    has stdout '^root2 +02 +3072 +yes +no +yes +yes +fit'; has stdout 'extractable .*UNFIT'
fi
t 1 "keys check: dep11 hides the provider token" -- "$TOOL" --module "$DEP11_MODULE" --token-label dep11-provider \
    --pin-source "file:$W/provider.pin" keys check
has stderr 'no token matches dep11-provider'
t 1 "create: usage ok, unregistered root refused" -- "$TOOL" "${D[@]}" policy create --type mailbox \
    --tenant "$TEN" --name p --root1 root1 --root2 unregistered --out "$OUT/bad.blob"
has stderr 'CKR_KEY_FUNCTION_NOT_PERMITTED'
t 1 "create: extractable root refused" -- "$TOOL" "${D[@]}" policy create --type mailbox \
    --tenant "$TEN" --name p --root1 root1 --root2 extractable --out "$OUT/bad.blob"
has stderr 'CKR_KEY_FUNCTION_NOT_PERMITTED'
[ ! -e "$OUT/bad.blob" ] || fail "a refused create wrote a blob"
t 1 "create: no such root" -- "$TOOL" "${D[@]}" policy create --type mailbox \
    --tenant "$TEN" --name p --root1 root1 --root2 nokey --out "$OUT/bad.blob"
has stderr 'no RSA private key labelled "nokey"'
t 2 "create: same root twice" -- "$TOOL" "${D[@]}" policy create --type mailbox \
    --tenant "$TEN" --name p --root1 root1 --root2 root1 --out "$OUT/bad.blob"
t 2 "create: bad type" -- "$TOOL" "${D[@]}" policy create --type chat --tenant "$TEN" --name p --provider-managed --out "$OUT/bad.blob"
t 2 "create: bad tenant" -- "$TOOL" "${D[@]}" policy create --type files --tenant nope --name p --provider-managed --out "$OUT/bad.blob"
t 2 "create: roots and provider" -- "$TOOL" "${D[@]}" policy create --type files --tenant "$TEN" --name p \
    --provider-managed --root1 root1 --out "$OUT/bad.blob"
t 2 "create: geo too long" -- "$TOOL" "${D[@]}" policy create --type files --tenant "$TEN" --name p \
    --geo 12345678901234567 --provider-managed --out "$OUT/bad.blob"

t 0 "create a mailbox policy" -- "$TOOL" "${D[@]}" policy create --type mailbox --tenant "$TEN" \
    --name "Contoso mail" --geo EUR --root1 root1 --root2 root2 --out "$OUT/p.blob"
has stdout '^type +mailbox'; has stdout '^version +1$'; has stdout '^managed by +customer'
[ "$(stat -c %a "$OUT/p.blob")" = 600 ] || fail "policy blob mode is not 600"
t 2 "create: existing out kept" -- "$TOOL" "${D[@]}" policy create --type mailbox --tenant "$TEN" \
    --name q --root1 root1 --root2 root2 --out "$OUT/p.blob"
has stderr 'use --force'
t 0 "policy show --json" -- "$TOOL" --module "$DEP11_MODULE" --json policy show "$OUT/p.blob"
json 'j["type"] == "mailbox" and j["tenant"] == "'"$TEN"'" and j["version"] == 1 and j["managed_by"] == "customer" and j["copies"] == 3 and j["name"] == "Contoso mail" and j["geo"] == "EUR" and j["suite"] == 1 and len(j["policy_id"]) == 32'
PID=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["policy_id"])' "$OUT/stdout")
t 2 "policy show: no file" -- "$TOOL" --module "$DEP11_MODULE" policy show "$OUT/none"
head -c 100 "$OUT/p.blob" >"$OUT/short.blob"
t 1 "policy show: truncated blob" -- "$TOOL" --module "$DEP11_MODULE" policy show "$OUT/short.blob"
has stderr 'CKR_WRAPPED_KEY_INVALID'
t 1 "policy show: not a blob" -- "$TOOL" --module "$DEP11_MODULE" --json policy show "$W/dep11.conf"
json 'j["ok"] is False and j["error"] == "CKR_WRAPPED_KEY_INVALID"'
cp "$OUT/p.blob" "$OUT/bad.blob"; flip "$OUT/bad.blob" 8
t 0 "policy show parses an altered header (no MAC check)" -- "$TOOL" --module "$DEP11_MODULE" policy show "$OUT/bad.blob"
t 1 "policy unwrap: altered blob" -- "$TOOL" "${D[@]}" policy unwrap "$OUT/bad.blob"
has stderr 'CKR_WRAPPED_KEY_INVALID'
t 0 "policy unwrap" -- "$TOOL" "${D[@]}" --json policy unwrap "$OUT/p.blob"
json 'j["unwrapped_by"] in ("customer-1", "customer-2") and j["version"] == 1 and j["policy_id"] == "'"$PID"'" and j["requester"] == "user"'
t 1 "unwrap as system where the config denies it" -- "$TOOL" "${D[@]}" policy unwrap "$OUT/p.blob" --requester system
has stderr 'CKR_MECHANISM_PARAM_INVALID'
t 2 "unwrap: bad requester" -- "$TOOL" "${D[@]}" policy unwrap "$OUT/p.blob" --requester admin
t 1 "unwrap: wrong PIN" -- "$TOOL" --module "$DEP11_MODULE" --token-label contoso --pin-source "file:$W/so.pin" policy unwrap "$OUT/p.blob"
has stderr 'CKR_PIN_INCORRECT'

t 0 "mailbox assign" -- "$TOOL" "${D[@]}" mailbox assign --policy "$OUT/p.blob" --owner alice@contoso.com --out "$OUT/alice.mbx"
has stdout "owner $(printf %s alice@contoso.com | sha256sum | cut -c1-32)"
t 0 "mailbox assign, hex owner" -- "$TOOL" "${D[@]}" mailbox assign --policy "$OUT/p.blob" \
    --owner 00112233445566778899aabbccddeeff --out "$OUT/bob.mbx"
has stdout 'owner 00112233445566778899aabbccddeeff'
t 0 "mailbox assign, UUID owner, json" -- "$TOOL" "${D[@]}" --json mailbox assign --policy "$OUT/p.blob" \
    --owner 00112233-4455-6677-8899-AABBCCDDEEFF --out "$OUT/bob2.mbx"
json 'j["ok"] and j["owner_id"] == "00112233445566778899aabbccddeeff" and j["bytes"] > 0'
t 2 "mailbox assign: no owner" -- "$TOOL" "${D[@]}" mailbox assign --policy "$OUT/p.blob" --out "$OUT/x.mbx"
t 2 "mailbox assign: empty owner" -- "$TOOL" "${D[@]}" mailbox assign --policy "$OUT/p.blob" --owner '' --out "$OUT/x.mbx"

M=(--policy "$OUT/p.blob" --mailbox "$OUT/alice.mbx" --owner alice@contoso.com)
: >"$OUT/empty"; printf 'A' >"$OUT/one"; head -c 2621441 /dev/urandom >"$OUT/big"
for f in empty one big; do
    t 0 "seal $f" -- "$TOOL" "${D[@]}" data seal "${M[@]}" --in "$OUT/$f" --out "$OUT/$f.sealed"
    [ "$(stat -c %s "$OUT/$f.sealed")" -eq $(( $(stat -c %s "$OUT/$f") + 28 )) ] || fail "$f: sealed size"
    t 0 "open $f" -- "$TOOL" "${D[@]}" data open "${M[@]}" --in "$OUT/$f.sealed" --out "$OUT/$f.opened"
    cmp -s "$OUT/$f" "$OUT/$f.opened" || fail "$f: round trip differs"
done
t 0 "seal twice: fresh nonce" -- "$TOOL" "${D[@]}" data seal "${M[@]}" --in "$OUT/one" --out "$OUT/one.sealed2"
cmp -s "$OUT/one.sealed" "$OUT/one.sealed2" && fail "two seals are identical"
t 0 "seal/open via stdin/stdout" -- bash -c "printf 'hello' | '$TOOL' --module '$DEP11_MODULE' --token-label contoso \
    --pin-source '$UP' data seal ${M[*]} --in - --out - | '$TOOL' --module '$DEP11_MODULE' --token-label contoso \
    --pin-source '$UP' data open ${M[*]} --in - --out -"
has stdout '^hello$'
t 1 "open: wrong owner" -- "$TOOL" "${D[@]}" data open --policy "$OUT/p.blob" --mailbox "$OUT/alice.mbx" \
    --owner bob@contoso.com --in "$OUT/one.sealed" --out "$OUT/wrong"
has stderr 'CKR_WRAPPED_KEY_INVALID|CKR_ENCRYPTED_DATA_INVALID'
[ ! -e "$OUT/wrong" ] || fail "a failed open wrote output"
cp "$OUT/big.sealed" "$OUT/tampered"; flip "$OUT/tampered" 1000
t 1 "open: tampered data" -- "$TOOL" "${D[@]}" data open "${M[@]}" --in "$OUT/tampered" --out "$OUT/wrong"
has stderr 'CKR_ENCRYPTED_DATA_INVALID'
[ ! -e "$OUT/wrong" ] || fail "a failed open wrote output"
t 1 "open: another mailbox's key" -- "$TOOL" "${D[@]}" data open --policy "$OUT/p.blob" --mailbox "$OUT/bob.mbx" \
    --owner 00112233445566778899aabbccddeeff --in "$OUT/one.sealed" --out "$OUT/wrong"
has stderr 'CKR_ENCRYPTED_DATA_INVALID'
t 2 "open: existing out" -- "$TOOL" "${D[@]}" data open "${M[@]}" --in "$OUT/one.sealed" --out "$OUT/one.opened"
t 0 "open: --force" -- "$TOOL" "${D[@]}" data open "${M[@]}" --in "$OUT/one.sealed" --out "$OUT/one.opened" --force --json
json 'j["ok"] and j["in_bytes"] == 29 and j["out_bytes"] == 1'
t 2 "seal: missing input" -- "$TOOL" "${D[@]}" data seal "${M[@]}" --in "$OUT/none" --out "$OUT/none.sealed"
[ ! -e "$OUT/none.sealed" ] || fail "a failed seal left output"

t 0 "provider-managed files policy" -- "$TOOL" "${D[@]}" policy create --type files --tenant "$TEN" \
    --name "Contoso files" --geo NAM --provider-managed --out "$OUT/files.blob"
has stdout '^managed by +provider'
t 0 "provider-managed unwrap" -- "$TOOL" "${D[@]}" --json policy unwrap "$OUT/files.blob"
json 'j["unwrapped_by"] == "provider" and j["type"] == "files"'
t 1 "no mailbox under a files policy" -- "$TOOL" "${D[@]}" mailbox assign --policy "$OUT/files.blob" --owner x --out "$OUT/x.mbx"

echo "== part B: revocation"
P=(--module "$SOFTHSM_MODULE" --token-label contoso --login --pin 1234)
t 0 "destroy customer key 1" -- pkcs11-tool "${P[@]}" --delete-object --type privkey --label root1
t 0 "key 2 serves" -- "$TOOL" "${D[@]}" --json policy unwrap "$OUT/p.blob"
json 'j["unwrapped_by"] == "customer-2"'
t 0 "destroy customer key 2" -- pkcs11-tool "${P[@]}" --delete-object --type privkey --label root2
t 1 "user unwrap: revoked" -- "$TOOL" "${D[@]}" policy unwrap "$OUT/p.blob"
has stderr 'CKR_DEP11_ROOT_KEYS_REVOKED'; has stderr 'both customer keys are revoked'
t 1 "user open: revoked (json)" -- "$TOOL" "${D[@]}" --json data open "${M[@]}" --in "$OUT/one.sealed" --out "$OUT/wrong"
json 'j["ok"] is False and j["error"] == "CKR_DEP11_ROOT_KEYS_REVOKED" and j["exit"] == 1'
export DEP11_CONF="$W/dep11-system.conf"
t 0 "system unwrap: availability key" -- "$TOOL" "${D[@]}" policy unwrap "$OUT/p.blob" --requester system
has stdout 'served by the availability key'
t 0 "system open" -- "$TOOL" "${D[@]}" data open "${M[@]}" --requester system --in "$OUT/big.sealed" --out "$OUT/big.sys"
cmp -s "$OUT/big" "$OUT/big.sys" || fail "system open differs"
export DEP11_CONF="$W/nonexistent.conf"
t 3 "bad config: module not initialized" -- "$TOOL" "${D[@]}" policy unwrap "$OUT/p.blob"
has stderr 'C_Initialize'

echo "$checks checks, $fails failures"
[ "$fails" -eq 0 ]
