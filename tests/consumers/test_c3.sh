#!/usr/bin/env bash
# test_c3.sh: the README's PKCS#11 3.0 C snippet: a consumer that asks for
# the default interface ("PKCS 11" 3.0) and seals two mailbox items with
# C_EncryptMessage through dep11; SoftHSM 2.6 has no C_GetInterface (the
# control: exit 1).
# shellcheck source=tests/consumers/lib.sh
. "${abs_top_srcdir:?run through make check}/tests/consumers/lib.sh"
consumer_world c3
c_snippet c3 seal3
check "dep11: the default interface is PKCS 11 3.0" grep -qx "interface PKCS 11 3.0" "$CONSUMER_OUT/dep11.out"
check "dep11: two messages of 8 bytes sealed into 36" \
    test "$(grep -c '^message [12]: 8 bytes sealed into 36$' "$CONSUMER_OUT/dep11.out")" = 2
check "dep11: exit 0" grep -qx "exit 0" "$CONSUMER_OUT/dep11.out"
check "softhsm: no 3.0 interface, exit 1" grep -qx "exit 1" "$CONSUMER_OUT/softhsm.out"
consumer_finish
