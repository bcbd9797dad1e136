#!/usr/bin/env bash
# test_nss.sh: the README's NSS snippet on SoftHSM and through dep11: modutil
# adds the module to an NSS database and lists it, certutil generates a key
# pair on contoso and a self-signed certificate with it (C_GenerateKeyPair,
# C_Sign, C_CreateObject through the module), OpenSSL verifies it.
# shellcheck source=tests/consumers/lib.sh
. "${abs_top_srcdir:?run through make check}/tests/consumers/lib.sh"
command -v modutil >/dev/null && command -v certutil >/dev/null ||
    { echo "SKIP: no modutil/certutil (libnss3-tools)"; exit 77; }

consumer_world nss
for mode in softhsm dep11; do
    # Both runs put a CN=nss-signer certificate on contoso; certutil's
    # default serial is the time in steps of 2^19 us, and NSS refuses a
    # second certificate with the same issuer and serial
    # (SEC_ERROR_REUSED_ISSUER_AND_SERIAL, seen in a make distcheck run).
    [ "$mode" = softhsm ] || sleep 1
    check "$mode: snippet runs" run_snippet nss "$mode"
    check "$mode: modutil lists the module's contoso token" out_has "contoso"
    check "$mode: OpenSSL verifies certutil's certificate" out_has "nss.pem: OK"
    check "$mode: the certificate is for CN=nss-signer" \
        grep -q "CN *= *nss-signer" <(openssl x509 -in "$SNIPPET_DIR/nss.pem" -noout -subject)
done
check "dep11: modutil shows no provider token" out_lacks "dep11-provider"
# The key certutil made is on the token, seen directly by SoftHSM.
check "both key pairs are on contoso" test "$(pkcs11-tool --module "$SOFTHSM_MODULE" \
    --token-label contoso --login --pin 1234 -O 2>/dev/null | grep -c '^Certificate Object')" -eq 2
consumer_finish
