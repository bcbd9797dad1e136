#!/usr/bin/env bash
# test_c3.sh: the README's PKCS#11 3.0 C snippet: a consumer that asks for
# the default interface ("PKCS 11" 3.0) and seals two mailbox items with
# C_EncryptMessage through dep11; SoftHSM 2.6 has no C_GetInterface (the
# control: exit 1).
# shellcheck source=tests/consumers/lib.sh
. "${abs_top_srcdir:?run through make check}/tests/consumers/lib.sh"
consumer_world c3
src="$CONSUMER_OUT/seal3.c"
check "README has the C 3.0 snippet" snippet c3 "$src"
# shellcheck disable=SC2046
check "the snippet compiles" ${CC:-cc} -std=c11 -Wall -Werror -I"$abs_top_srcdir/include" \
    $(pkg-config --cflags p11-kit-1) -o "$CONSUMER_OUT/seal3" "$src" -ldl
for mode in dep11 softhsm; do
    echo "== seal through $mode"
    rc=0
    MODULE=$(consumer_module "$mode") with_module "$CONSUMER_OUT/seal3" >"$CONSUMER_OUT/$mode.out" 2>&1 || rc=$?
    echo "exit $rc" >>"$CONSUMER_OUT/$mode.out"
    cat "$CONSUMER_OUT/$mode.out"
done
check "dep11: the default interface is PKCS 11 3.0" grep -qx "interface PKCS 11 3.0" "$CONSUMER_OUT/dep11.out"
check "dep11: two messages of 8 bytes sealed into 36" \
    test "$(grep -c '^message [12]: 8 bytes sealed into 36$' "$CONSUMER_OUT/dep11.out")" = 2
check "dep11: exit 0" grep -qx "exit 0" "$CONSUMER_OUT/dep11.out"
check "softhsm: no 3.0 interface, exit 1" grep -qx "exit 1" "$CONSUMER_OUT/softhsm.out"
consumer_finish
