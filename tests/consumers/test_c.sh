#!/usr/bin/env bash
# test_c.sh: the README's C snippet, built against include/dep11.h with
# p11-kit's Cflags (what `pkg-config --cflags dep11` gives once installed):
# a mailbox key and a sealed message through dep11; on SoftHSM (no vendor
# mechanisms) it must fail, the control.
# shellcheck source=tests/consumers/lib.sh
. "${abs_top_srcdir:?run through make check}/tests/consumers/lib.sh"
consumer_world c
c_snippet c seal
check "dep11: sealed 14 bytes into 42" grep -q "^sealed 14 bytes into 42 " "$CONSUMER_OUT/dep11.out"
check "dep11: exit 0" grep -qx "exit 0" "$CONSUMER_OUT/dep11.out"
check "softhsm: no vendor mechanism, exit 1" grep -qx "exit 1" "$CONSUMER_OUT/softhsm.out"
consumer_finish
