#!/usr/bin/env bash
# test_lifecycle.sh: each lifecycle scenario of test_lifecycle.c in its own
# fresh world. The purge scenario runs with the worker config (SYSTEM and
# RECOVERY allowed, so every requester is tried in-process too); its receipt
# is then checked with scripts/dep11-receipt-verify and the PEM written to
# receipt-public-key alone: valid as issued, invalid after any byte change.
# The purge runs twice: with the ECDSA P-256 receipt key of softhsm2.conf and
# with an RSA receipt key signing RSA-PSS (a copy of it with
# receipt-signature = rsa-pss, as for HSMs without EC).
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
status=0
verify="$abs_top_srcdir/scripts/dep11-receipt-verify"
py=/usr/bin/python3

# Two more registered roots, root3 and root4 (as the customer's key officer).
add_roots() {
    local r
    for r in root3:05 root4:06; do
        itest_new_root contoso "${r%:*}" "${r#*:}" || { echo "FAIL: root ${r%:*}"; exit 1; }
    done
}

# receipt-public-key in both configs of the world.
pin_receipt_key() {
    local c
    for c in dep11.conf dep11-system.conf; do
        echo "receipt-public-key = $ITEST_WORLD/receipt-public-key.pem" >>"$ITEST_WORLD/$c"
    done
}

# The receipt against the pinned key (KIND ec or rsa): exit codes, an
# independent check with openssl, and every single-byte change.
verify_receipt() {
    local kind=$1 receipt="$ITEST_WORLD/receipt.json" pem="$ITEST_WORLD/receipt-public-key.pem"
    local rc=0 sigopt=()
    local want="ASN1 OID: prime256v1"
    [ "$kind" = rsa ] && want="Modulus:"
    openssl pkey -pubin -in "$pem" -noout -text 2>/dev/null | grep -q "$want" ||
        { echo "FAIL: the pinned key is not of kind $kind"; return 1; }
    "$verify" --key "$pem" "$receipt" || { echo "FAIL: receipt does not verify"; return 1; }
    "$abs_top_builddir/tools/dep11-tool" receipt verify "$receipt" --key "$pem" >/dev/null ||
        { echo "FAIL: dep11-tool receipt verify refuses it"; return 1; }
    "$verify" --key "$pem" "$receipt" || { echo "FAIL: receipt does not verify"; return 1; }
    "$verify" --key "$pem" - <"$receipt" >/dev/null || { echo "FAIL: stdin"; return 1; }
    "$verify" --key "$pem" >/dev/null 2>&1 && rc=0 || rc=$?
    [ "$rc" = 2 ] || { echo "FAIL: usage error gave $rc, not 2"; return 1; }
    "$verify" --key "$ITEST_WORLD/no-such.pem" "$receipt" 2>/dev/null && rc=0 || rc=$?
    [ "$rc" = 2 ] || { echo "FAIL: missing key gave $rc, not 2"; return 1; }
    # Another key of each kind: the receipt names (and was signed by) the
    # pinned one; a key of the other kind fails the signature check too.
    for other in ec rsa; do
        "$py" -c 'import sys
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives import serialization as s
k = (ec.generate_private_key(ec.SECP256R1()) if sys.argv[2] == "ec"
     else rsa.generate_private_key(65537, 3072)).public_key()
open(sys.argv[1], "wb").write(k.public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))' \
            "$ITEST_WORLD/other.pem" "$other"
        "$verify" --key "$ITEST_WORLD/other.pem" "$receipt" 2>/dev/null && rc=0 || rc=$?
        [ "$rc" = 1 ] || { echo "FAIL: another $other key gave $rc, not 1"; return 1; }
        "$abs_top_builddir/tools/dep11-tool" receipt verify "$receipt" \
            --key "$ITEST_WORLD/other.pem" >/dev/null 2>&1 && rc=0 || rc=$?
        [ "$rc" = 1 ] || { echo "FAIL: dep11-tool, another $other key gave $rc, not 1"; return 1; }
    done
    # One changed byte through the command line: exit 1.
    "$py" -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[40] ^= 1
open(sys.argv[2], "wb").write(b)' "$receipt" "$ITEST_WORLD/tampered.json"
    "$verify" --key "$pem" "$ITEST_WORLD/tampered.json" 2>/dev/null && rc=0 || rc=$?
    [ "$rc" = 1 ] || { echo "FAIL: tampered receipt gave $rc, not 1"; return 1; }
    "$abs_top_builddir/tools/dep11-tool" receipt verify "$ITEST_WORLD/tampered.json" \
        --key "$pem" >/dev/null 2>&1 && rc=0 || rc=$?
    [ "$rc" = 1 ] || { echo "FAIL: dep11-tool, tampered receipt gave $rc, not 1"; return 1; }
    # What RECEIPTS.md promises: openssl alone checks the signature too.
    "$py" - "$receipt" "$ITEST_WORLD" <<'PY' || return 1
import base64, sys
r = open(sys.argv[1], "rb").read()
cut = r.rfind(b',"signature":"')
open(sys.argv[2] + "/signed.bin", "wb").write(r[:cut + 1])
open(sys.argv[2] + "/sig.der", "wb").write(base64.b64decode(r[cut + 14:-2]))
PY
    [ "$kind" = rsa ] && sigopt=(-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32
                                 -sigopt rsa_mgf1_md:sha256)
    openssl dgst -sha256 "${sigopt[@]}" -verify "$pem" -signature "$ITEST_WORLD/sig.der" \
        "$ITEST_WORLD/signed.bin" || { echo "FAIL: openssl does not verify"; return 1; }
    # Every byte, two changes each, then truncations and an addition.
    "$py" - "$verify" "$pem" "$receipt" <<'PY' || return 1
import importlib.machinery, importlib.util, sys
loader = importlib.machinery.SourceFileLoader("verifier", sys.argv[1])
spec = importlib.util.spec_from_loader("verifier", loader)
v = importlib.util.module_from_spec(spec)
loader.exec_module(v)
pem = open(sys.argv[2], "rb").read()
good = open(sys.argv[3], "rb").read()
v.verify(good, pem)
def rejected(data):
    try:
        v.verify(bytes(data), pem)
    except v.Invalid:
        return True
    return False
bad = []
tried = 0
for i in range(len(good)):
    for delta in (0x01, 0x40):
        b = bytearray(good)
        b[i] ^= delta
        tried += 1
        if not rejected(b):
            bad.append((i, delta))
for cut in range(1, len(good)):
    tried += 1
    if not rejected(good[:cut]):
        bad.append(("truncated", cut))
for extra in (b" ", b"\n", b"x"):
    tried += 1
    if not rejected(good + extra):
        bad.append(("appended", extra))
if bad:
    print("FAIL: %d of %d changed receipts still verify: %r" % (len(bad), tried, bad[:10]))
    sys.exit(1)
print("receipt: %d bytes; all %d changed versions rejected" % (len(good), tried))
PY
}

itest_world lifecycle-purge
pin_receipt_key
add_roots
# the profile's receipt-signature (opencryptoki's: rsa-pss)
kind=ec
grep -q '^receipt-signature *= *rsa-pss' "$(sed -n 's/^profile *= *//p' "$DEP11_CONF")" && kind=rsa
if DEP11_CONF="$ITEST_WORLD/dep11-system.conf" itest_run test_lifecycle purge; then
    verify_receipt $kind || status=1
else
    status=1
fi

# The same purge with receipt-signature = rsa-pss: dep11-tool provider init
# makes an RSA receipt key, the receipt is signed with RSA-PSS in SoftHSM.
mkdir -p "$itest_bin/worlds"
pss_profile="$itest_bin/worlds/softhsm2-rsa-pss.conf"
sed '/^receipt-signature *=/d' "$abs_top_srcdir/hsm-profiles/softhsm2.conf" >"$pss_profile"
echo "receipt-signature = rsa-pss" >>"$pss_profile"
if [ $kind = rsa ]; then
    echo "lifecycle-purge-pss: the $ITEST_BACKEND profile signs with rsa-pss already (above)"
else
    ITEST_PROFILE="$pss_profile" itest_world lifecycle-purge-pss
    pin_receipt_key
    add_roots
    if DEP11_CONF="$ITEST_WORLD/dep11-system.conf" itest_run test_lifecycle purge; then
        verify_receipt rsa || status=1
    else
        status=1
    fi
fi

itest_world lifecycle-offboard
itest_run test_lifecycle offboard || status=1

itest_world lifecycle-refresh
add_roots
itest_run test_lifecycle refresh || status=1

itest_world lifecycle-roll
itest_run test_lifecycle roll || status=1

itest_world lifecycle-onboard
itest_run test_lifecycle onboard || status=1

itest_world lifecycle-revoked-rewrap
itest_run test_lifecycle revoked-rewrap || status=1
exit $status
