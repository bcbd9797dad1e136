#!/usr/bin/env bash
# test_go.sh: the README's Go snippet (github.com/miekg/pkcs11 from Debian's
# golang-github-miekg-pkcs11-dev, GOPATH mode, no network) on SoftHSM and
# through dep11: find the token key "signer", sign, verify.
# shellcheck source=tests/consumers/lib.sh
. "${abs_top_srcdir:?run through make check}/tests/consumers/lib.sh"
command -v go >/dev/null || { echo "SKIP: no Go toolchain (golang-go)"; exit 77; }
[ -d /usr/share/gocode/src/github.com/miekg/pkcs11 ] ||
    { echo "SKIP: no github.com/miekg/pkcs11 (golang-github-miekg-pkcs11-dev)"; exit 77; }
[ -z "$itest_preload" ] || { echo "SKIP: instrumented module in a cgo program"; exit 77; }

consumer_world go
export GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$ITEST_WORLD/gocache"
for mode in softhsm dep11; do
    check "$mode: snippet runs" run_snippet go "$mode" bash -c 'cp "$1" sign.go && go run sign.go' go
    check "$mode: signature verified" out_has "^signature 256 bytes, verified: true"
done
consumer_finish
