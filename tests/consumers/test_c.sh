#!/usr/bin/env bash
# test_c.sh: the README's C snippet, built against include/dep11.h with
# p11-kit's Cflags (what `pkg-config --cflags dep11` gives once installed):
# a mailbox key and a sealed message through dep11; on SoftHSM (no vendor
# mechanisms) it must fail, the control.
# shellcheck source=tests/consumers/lib.sh
. "${abs_top_srcdir:?run through make check}/tests/consumers/lib.sh"
consumer_world c
src="$CONSUMER_OUT/seal.c"
check "README has the C snippet" snippet c "$src"
# shellcheck disable=SC2046
check "the snippet compiles" ${CC:-cc} -std=c11 -Wall -Werror -I"$abs_top_srcdir/include" \
    $(pkg-config --cflags p11-kit-1) -o "$CONSUMER_OUT/seal" "$src" -ldl
for mode in dep11 softhsm; do
    echo "== seal through $mode"
    rc=0
    MODULE=$(consumer_module "$mode") with_module "$CONSUMER_OUT/seal" >"$CONSUMER_OUT/$mode.out" 2>&1 || rc=$?
    echo "exit $rc" >>"$CONSUMER_OUT/$mode.out"
    cat "$CONSUMER_OUT/$mode.out"
done
check "dep11: sealed 14 bytes into 42" grep -q "^sealed 14 bytes into 42 " "$CONSUMER_OUT/dep11.out"
check "dep11: exit 0" grep -qx "exit 0" "$CONSUMER_OUT/dep11.out"
check "softhsm: no vendor mechanism, exit 1" grep -qx "exit 1" "$CONSUMER_OUT/softhsm.out"
consumer_finish
