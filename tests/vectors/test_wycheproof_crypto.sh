#!/usr/bin/env bash
# test_wycheproof_crypto.sh: Wycheproof vectors against module/crypto and
# OpenSSL (test_wycheproof_crypto), after converting the JSON files.
set -euo pipefail
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/vectors/wycheproof-convert.sh" crypto
exec "$abs_top_builddir/tests/vectors/test_wycheproof_crypto"
