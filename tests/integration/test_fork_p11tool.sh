#!/usr/bin/env bash
# test_fork_p11tool.sh: OpenSC's own fork test, "pkcs11-tool --test-fork"
# (fork, then C_Initialize in the child), against dep11, compared with
# the backend directly. dep11 passing is a pass. dep11 failing is a failure,
# unless the backend itself fails it too (SoftHSM 2.6.1 answers the child's
# C_Initialize with CKR_CRYPTOKI_ALREADY_INITIALIZED): then it skips, saying so.
# opencryptoki 3.8.1 passes it: on that backend dep11 must pass too.
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
command -v pkcs11-tool >/dev/null || { echo "SKIP: no pkcs11-tool"; exit 77; }
help=$(pkcs11-tool --help 2>&1 || true)
case "$help" in
    *--test-fork*) ;;
    *) echo "SKIP: this pkcs11-tool has no --test-fork"; exit 77 ;;
esac
itest_world fork-p11tool
softhsm=0
pkcs11-tool --module "$SOFTHSM_MODULE" --test-fork >"$ITEST_WORLD/softhsm-fork.log" 2>&1 || softhsm=$?
echo "$ITEST_BACKEND directly: pkcs11-tool --test-fork exit $softhsm"
dep11=0
p11tool --test-fork >"$ITEST_WORLD/dep11-fork.log" 2>&1 || dep11=$?
cat "$ITEST_WORLD/dep11-fork.log"
echo "dep11: pkcs11-tool --test-fork exit $dep11"
if [ "$dep11" -eq 0 ]; then
    exit 0
fi
if [ "$softhsm" -ne 0 ]; then
    cat "$ITEST_WORLD/softhsm-fork.log"
    echo "SKIP: $ITEST_BACKEND itself fails pkcs11-tool --test-fork"
    exit 77
fi
echo "FAIL: dep11 fails pkcs11-tool --test-fork where $ITEST_BACKEND passes"
exit 1
