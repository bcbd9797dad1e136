#!/usr/bin/env bash
# test_openssl.sh: the README's OpenSSL snippet (libp11's engine, made the
# default engine by -engine pkcs11) on SoftHSM and through dep11: a
# self-signed certificate and a signature with the token key "signer",
# verified by OpenSSL alone. Through dep11 this is issue 14 item 1: the
# engine as default used to fail dep11's C_Initialize (its RSA self test
# landed in the engine); dep11 now works in its own OpenSSL library context.
# shellcheck source=tests/consumers/lib.sh
. "${abs_top_srcdir:?run through make check}/tests/consumers/lib.sh"
command -v openssl >/dev/null || { echo "SKIP: no openssl"; exit 77; }
engine="$(openssl version -e | sed -n 's/^ENGINESDIR: "\(.*\)"/\1/p')/pkcs11.so"
[ -f "$engine" ] || { echo "SKIP: no libp11 engine ($engine; libengine-pkcs11-openssl)"; exit 77; }

consumer_world openssl
for mode in softhsm dep11; do
    check "$mode: snippet runs" run_snippet openssl "$mode"
    check "$mode: signature verified by openssl" out_has "^Verified OK"
    check "$mode: no dep11 error line" out_lacks "ERROR"
    check "$mode: the certificate verifies (self-signed with the token key)" \
        openssl verify -CAfile "$SNIPPET_DIR/openssl.pem" "$SNIPPET_DIR/openssl.pem"
done
# Another key must not verify the signature: the checks above can fail.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$CONSUMER_OUT/other.pem" 2>/dev/null
openssl pkey -in "$CONSUMER_OUT/other.pem" -pubout -out "$CONSUMER_OUT/other-pub.pem"
check "the signature does not verify under another key" \
    bash -c "! openssl dgst -sha256 -verify '$CONSUMER_OUT/other-pub.pem' \
        -signature '$CONSUMER_OUT/openssl-dep11/msg.sig' '$CONSUMER_OUT/openssl-dep11/msg.txt'"
consumer_finish
