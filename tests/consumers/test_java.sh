#!/usr/bin/env bash
# test_java.sh: the README's Java snippet (SunPKCS11 of openjdk-17): keytool
# generates a key pair and a self-signed certificate on contoso, lists it,
# and Sign.java signs with the token key and verifies with the certificate;
# on SoftHSM and through dep11, each in a fresh world.
# shellcheck source=tests/consumers/lib.sh
. "${abs_top_srcdir:?run through make check}/tests/consumers/lib.sh"
command -v java >/dev/null && command -v keytool >/dev/null ||
    { echo "SKIP: no java/keytool (openjdk-17-jdk-headless)"; exit 77; }
[ -z "$itest_preload" ] || { echo "SKIP: instrumented module in the JVM"; exit 77; }

for mode in softhsm dep11; do
    consumer_world "java-$mode"   # a fresh token: keytool's alias is fixed
    mkdir -p "$CONSUMER_OUT/java-$mode"
    snippet java-sign "$CONSUMER_OUT/java-$mode/Sign.java"
    check "$mode: snippet runs" run_snippet java "$mode"
    check "$mode: keytool lists the key entry" out_has "^jsigner, PrivateKeyEntry"
    check "$mode: Sign.java signs and verifies" out_has "^signature 256 bytes, verified: true"
done
check "dep11: the slot list has no provider token" \
    bash -c "! pkcs11-tool --module '$DEP11_MODULE' -L | grep -q dep11-provider"
consumer_finish
