#!/usr/bin/env bash
# test_gnutls.sh: the README's GnuTLS snippet (p11tool, certtool) on SoftHSM
# and through dep11: p11tool lists the tokens (never dep11-provider through
# dep11) and certtool makes a certificate signed with the token key "signer",
# which certtool and OpenSSL verify.
# shellcheck source=tests/consumers/lib.sh
. "${abs_top_srcdir:?run through make check}/tests/consumers/lib.sh"
command -v p11tool >/dev/null && command -v certtool >/dev/null ||
    { echo "SKIP: no p11tool/certtool (gnutls-bin)"; exit 77; }
# With the ASan runtime preloaded, p11tool deadlocks at exit in p11-kit's
# destructor (freelocale under glibc's setlocale lock), with SoftHSM alone too.
[ -z "$itest_preload" ] || { echo "SKIP: instrumented module (p11tool hangs at exit under ASan)"; exit 77; }

consumer_world gnutls
for mode in softhsm dep11; do
    check "$mode: snippet runs" run_snippet gnutls "$mode"
    check "$mode: p11tool lists contoso" out_has "token=contoso"
    check "$mode: certtool verifies the certificate" out_has "Chain verification output: Verified"
    check "$mode: OpenSSL verifies it too" \
        openssl verify -CAfile "$SNIPPET_DIR/gnutls.pem" "$SNIPPET_DIR/gnutls.pem"
    check "$mode: its public key is the token key's" \
        cmp -s <(openssl x509 -in "$SNIPPET_DIR/gnutls.pem" -noout -pubkey) \
               <(pkcs11-tool --module "$SOFTHSM_MODULE" --token-label contoso --read-object \
                   --type pubkey --label signer 2>/dev/null | openssl pkey -pubin -inform DER 2>/dev/null)
done
check "dep11: p11tool does not list the provider token" out_lacks "dep11-provider"
check "softhsm (the control): p11tool lists the provider token" \
    grep -q "dep11-provider" "$CONSUMER_OUT/gnutls-softhsm/out"
consumer_finish
