#!/usr/bin/env bash
# test_pykcs11.sh: PyKCS11 (python3-pykcs11). The README's Python snippet
# (standard calls: find, sign, verify) on SoftHSM and through dep11; the
# vendor snippet through dep11; and pykcs11_vendor.py, which drives all
# eight vendor mechanisms with raw parameter bytes through dep11 (and, on
# SoftHSM directly, finds none of them: the control).
# shellcheck source=tests/consumers/lib.sh
. "${abs_top_srcdir:?run through make check}/tests/consumers/lib.sh"
py=$(consumer_python) || { echo "SKIP: no Python with PyKCS11 (python3-pykcs11)"; exit 77; }

consumer_world pykcs11
for mode in softhsm dep11; do
    check "$mode: snippet runs" run_snippet python "$mode" "$py"
    check "$mode: signature verified" out_has "^signature 256 bytes, verified: True"
done
check "dep11: vendor snippet runs" run_snippet python-vendor dep11 "$py"
check "dep11: vendor snippet seals" out_has "^sealed 33 bytes"
check "softhsm: vendor snippet fails (no dep11 mechanisms)" \
    bash -c "! MODULE='$SOFTHSM_MODULE' '$py' '$CONSUMER_OUT/python-vendor-dep11/snippet' 2>/dev/null"

echo "== pykcs11_vendor.py through dep11"
rc=0
with_module "$py" "$abs_top_srcdir/tests/consumers/pykcs11_vendor.py" "$DEP11_MODULE" \
    >"$CONSUMER_OUT/vendor.out" 2>&1 || rc=$?
cat "$CONSUMER_OUT/vendor.out"
check "pykcs11_vendor.py: every vendor mechanism" test "$rc" -eq 0
check "pykcs11_vendor.py: ran its checks" \
    test "$(grep -c '^ok - ' "$CONSUMER_OUT/vendor.out")" -ge 17
consumer_finish
