#!/usr/bin/env bash
# test_tool_verify.sh: dep11-tool's offline verifiers against the Python
# references: "audit verify" (scripts/dep11-audit-verify) on a real audit log
# and on altered copies (changed byte, removed, inserted, swapped lines, cut
# tail), "receipt verify" (scripts/dep11-receipt-verify) on a real purge
# receipt, on byte-flipped copies and with a wrong key.
# shellcheck source=tests/integration/test_tool_lib.sh
. "$(dirname "$0")/test_tool_lib.sh"

PY=/usr/bin/python3
AV="$abs_top_srcdir/scripts/dep11-audit-verify"
RV="$abs_top_srcdir/scripts/dep11-receipt-verify"
LOG="$W/audit.log"
PEM="$W/receipt.pem"
{ echo "audit-log = $LOG"; echo "receipt-public-key = $PEM"; } >>"$W/dep11.conf"
TEN=0b5e2a6c-7c1d-4f51-9a0e-3d7b1c2e4f60
C=("$TOOL" "${D[@]}")

# both RC NAME FILE ARGS...: both verifiers of KIND (audit|receipt) exit RC.
both() {
    local want=$1 name=$2 kind=$3
    shift 3
    if [ "$kind" = audit ]; then
        t "$want" "tool: $name" -- "$TOOL" audit verify "$@"
        t "$want" "python: $name" -- "$PY" "$AV" "$@"
    else
        t "$want" "tool: $name" -- "$TOOL" receipt verify --key "$1" "$2"
        t "$want" "python: $name" -- "$PY" "$RV" --key "$1" "$2"
    fi
}

echo "== help and usage"
t 0 "audit verify --help" -- "$TOOL" audit verify --help
has stdout '^Usage: dep11-tool audit verify'
t 0 "receipt verify --help" -- "$TOOL" receipt verify --help
has stdout '^Usage: dep11-tool receipt verify'
t 2 "audit verify: no file" -- "$TOOL" audit verify
t 2 "audit verify: missing file" -- "$TOOL" audit verify "$W/nonexistent"
t 2 "audit verify: bad --head" -- "$TOOL" audit verify "$W/dep11.conf" --head 1:abc
t 2 "receipt verify: no --key" -- "$TOOL" receipt verify "$W/dep11.conf"

echo "== an audit log from real operations"
t 0 "create mail1" -- "${C[@]}" policy create --type mailbox --tenant "$TEN" \
    --name mail1 --root1 root1 --root2 root2
t 0 "create mail2" -- "${C[@]}" policy create --type mailbox --tenant "$TEN" \
    --name mail2 --root1 root1 --root2 root2
t 0 "unwrap mail1" -- "${C[@]}" policy unwrap mail1
t 0 "unwrap mail2" -- "${C[@]}" policy unwrap mail2
t 0 "unwrap mail1 again" -- "${C[@]}" policy unwrap mail1
n=$(wc -l <"$LOG")
[ "$n" -ge 5 ] || fail "audit log has $n lines, want >= 5"
both 0 "the log verifies" audit "$LOG"
has stdout "OK: $n lines verify; head $n:[0-9a-f]{64}"
head=$(sed -n 's/.*head \([0-9]*:[0-9a-f]*\)$/\1/p' "$OUT/stdout")
t 0 "tool: --json" -- "$TOOL" --json audit verify "$LOG"
json "j[\"ok\"] is True and \"head $n:\" in j[\"message\"]"
both 0 "with --head" audit "$LOG" --head "$head"

# alter MODE OUT: a copy of the log with one alteration (Python, bytes).
alter() {
    "$PY" - "$LOG" "$2" "$1" <<'PYEOF'
import sys
src, dst, mode = sys.argv[1:]
lines = open(src, "rb").read().split(b"\n")[:-1]
if mode == "byte":        # a digit of line 2's policy_id changes
    l = bytearray(lines[1]); i = l.index(b'"policy_id":"') + 20
    l[i] = ord("0") if l[i] != ord("0") else ord("1"); lines[1] = bytes(l)
elif mode == "version":   # line 3's version number changes
    lines[2] = lines[2].replace(b'"version":1,', b'"version":7,', 1)
elif mode == "remove":
    del lines[2]
elif mode == "removefirst":
    del lines[0]
elif mode == "insert":    # a copy of line 2 inserted after it
    lines.insert(2, lines[1])
elif mode == "swap":
    lines[2], lines[3] = lines[3], lines[2]
elif mode == "cut":
    del lines[-1]
# Field changes with the chain recomputed: only the field checks catch them.
import hashlib, re
fields = {
    "tenant": (1, rb'"tenant":"[0-9a-f]*"', b'"tenant":"not-hex"'),
    "result": (1, rb'"result":"CKR_OK"', b'"result":"ok"'),
    "served": (2, rb'"result":"CKR_OK"', b'"result":"CKR_DEP11_TENANT_MISMATCH"'),
    "pid": (1, rb'"pid":[0-9]+', b'"pid":0'),
    "order": (1, rb'"token":("[^"]*"),"host":("[^"]*")', rb'"host":\2,"token":\1'),
}
if mode in fields:
    i, pat, rep = fields[mode]
    lines[i], n = re.subn(pat, rep, lines[i], count=1)
    assert n == 1, mode
    prev = "0" * 64
    for k in range(len(lines)):
        lines[k] = re.sub(rb'"prev":"[0-9a-f]{64}"}$', b'"prev":"' + prev.encode() + b'"}',
                          lines[k])
        prev = hashlib.sha256(lines[k]).hexdigest()
data = b"\n".join(lines) + b"\n"
if mode == "partial":
    data += b'{"event":"policy-unwrap"'
open(dst, "wb").write(data)
PYEOF
}
for m in byte version remove removefirst insert swap partial tenant result served pid order; do
    alter "$m" "$W/audit-$m.log"
    both 1 "altered log ($m) is rejected" audit "$W/audit-$m.log"
    has stdout 'BROKEN: line [0-9]+'
done
alter served "$W/a.log"; t 1 "a refusal naming a root: named" -- "$TOOL" audit verify "$W/a.log"
has stdout 'line 3: .*a refusal names a served_by'
alter order "$W/a.log"; t 1 "fixed fields out of order: named" -- "$TOOL" audit verify "$W/a.log"
has stdout 'line 2: .*fixed fields missing or out of order'
grep -q '"tenant":"[0-9a-f]\{32\}","token":"[^"]\+","host":"[^"]\+","pid":[1-9][0-9]*,"result":"CKR_OK"' "$LOG" ||
    fail "the log's lines lack tenant, token, host, pid, result"
alter byte "$W/a.log"; t 1 "byte: line 2 or 3 named" -- "$TOOL" audit verify "$W/a.log"
has stdout 'BROKEN: line (2|3): (changed|malformed)'
alter remove "$W/a.log"; t 1 "remove: named" -- "$TOOL" audit verify "$W/a.log"
has stdout 'line 3: removed'
alter insert "$W/a.log"; t 1 "insert: named" -- "$TOOL" audit verify "$W/a.log"
has stdout 'line 3: inserted'
alter swap "$W/a.log"; t 1 "swap: named" -- "$TOOL" audit verify "$W/a.log"
has stdout 'line 3: lines 3 and 4 are swapped'
alter partial "$W/a.log"; t 1 "partial: named" -- "$TOOL" audit verify "$W/a.log"
has stdout 'no newline at the end'
alter cut "$W/audit-cut.log"
both 0 "a cut tail alone still chains" audit "$W/audit-cut.log"
both 1 "a cut tail is caught by --head" audit "$W/audit-cut.log" --head "$head"
has stdout 'lines removed at the end'
t 0 "the same verdicts as the Python verifier" -- bash -c '
    for f in "$1"/audit-*.log; do
        a=$("$2" audit verify "$f"); b=$("$3" "$4" "$f"); [ "$a" = "$b" ] || { echo "$f: $a / $b"; exit 1; }
    done' _ "$W" "$TOOL" "$PY" "$AV"

echo "== a purge receipt"
[ -s "$PEM" ] || fail "no receipt public key written to $PEM"
t 0 "request the purge" -- "${C[@]}" policy purge mail1 --request --reason "leaving" --contact it@contoso.com
P=(--module "$SOFTHSM_MODULE" --token-label contoso --login --pin 1234)
t 0 "the customer revokes root1" -- pkcs11-tool "${P[@]}" --delete-object --type privkey --label root1
t 0 "the customer revokes root2" -- pkcs11-tool "${P[@]}" --delete-object --type privkey --label root2
t 0 "confirm the purge" -- "${C[@]}" policy purge mail1 --confirm --receipt "$W/r.json"
R="$W/r.json"
both 0 "the receipt verifies" receipt "$PEM" "$R"
t 0 "tool: VALID line" -- "$TOOL" receipt verify "$R" --key "$PEM"
has stdout '^VALID: policy [0-9a-f]{32} \(mailbox, blob version 1\) purged at '
both 0 "the log with the purge line verifies" audit "$LOG"
has stdout 'OK: '
len=$(stat -c %s "$R")
flips=0
for k in $(seq 0 39); do
    pos=$(( (k * len) / 40 + k % 3 ))
    [ "$pos" -lt "$len" ] || pos=$((len - 1))
    "$PY" -c 'import sys; d=bytearray(open(sys.argv[1],"rb").read()); i=int(sys.argv[2]); d[i]^=0x01; open(sys.argv[3],"wb").write(d)' \
        "$R" "$pos" "$W/rf.json"
    a=0; "$TOOL" receipt verify "$W/rf.json" --key "$PEM" >/dev/null 2>&1 || a=$?
    b=0; "$PY" "$RV" --key "$PEM" "$W/rf.json" >/dev/null 2>&1 || b=$?
    checks=$((checks + 1))
    if [ "$a" -ne 1 ] || [ "$b" -ne 1 ]; then
        fail "flip at byte $pos: tool exit $a, python exit $b, want 1 and 1"
    else
        flips=$((flips + 1))
    fi
done
echo "ok: $flips of 40 byte flips rejected by both"
"$PY" -c 'import sys; d=open(sys.argv[1],"rb").read(); open(sys.argv[2],"wb").write(d+b"\n")' "$R" "$W/rn.json"
both 1 "a trailing newline is rejected" receipt "$PEM" "$W/rn.json"
openssl ecparam -name prime256v1 -genkey -noout -out "$W/other.key" 2>/dev/null
openssl pkey -in "$W/other.key" -pubout -out "$W/other.pem" 2>/dev/null
both 1 "a wrong P-256 key is rejected" receipt "$W/other.pem" "$R"
t 1 "tool: says why" -- "$TOOL" receipt verify "$R" --key "$W/other.pem"
has stderr '^INVALID: '
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$W/rsa.key" 2>/dev/null
openssl pkey -in "$W/rsa.key" -pubout -out "$W/rsa.pem" 2>/dev/null
both 2 "an RSA key under 2048 bits is a usage error" receipt "$W/rsa.pem" "$R"
# An RSA key of 2048 bits is a receipt key (receipt-signature = rsa-pss): this
# ECDSA receipt is then checked as RSA-PSS, and does not verify.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/rsa2.key" 2>/dev/null
openssl pkey -in "$W/rsa2.key" -pubout -out "$W/rsa2.pem" 2>/dev/null
both 1 "an ECDSA receipt against an RSA key is rejected" receipt "$W/rsa2.pem" "$R"
both 2 "a missing receipt is a usage error" receipt "$PEM" "$W/nonexistent.json"

finish
