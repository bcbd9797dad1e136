#!/usr/bin/env bash
# test_tool_commit.sh: dep11-tool's re-wrap verbs store the new blob, then
# commit it (one unwrap); older blobs are then CKR_DEP11_BLOB_SUPERSEDED.
# Crash safety: a run stopped between the store and the commit
# (DEP11_TOOL_TEST_STOP_BEFORE_COMMIT=1, exit 70) leaves the policy readable
# through the old and the new blob, and the next tool run that unwraps the
# stored blob commits it. Covers refresh, roll-availability, offboard and
# onboarding (refresh of a provider-managed policy onto customer roots).
# shellcheck source=tests/integration/test_tool_lib.sh
. "$(dirname "$0")/test_tool_lib.sh"

TEN=0b5e2a6c-7c1d-4f51-9a0e-3d7b1c2e4f60
C=("$TOOL" "${D[@]}")
STOP=(env DEP11_TOOL_TEST_STOP_BEFORE_COMMIT=1)
superseded() { # superseded NAME FILE
    t 1 "$1 is superseded" -- "${C[@]}" policy unwrap "$2" && has stderr 'CKR_DEP11_BLOB_SUPERSEDED'
}

t 0 "create P (customer roots)" -- "${C[@]}" policy create --type mailbox --tenant "$TEN" \
    --name P --root1 root1 --root2 root2 --out "$OUT/v1.blob"
t 0 "v1 unwraps (and is committed)" -- "${C[@]}" policy unwrap "$OUT/v1.blob"

echo "== refresh stopped before its commit"
t 70 "refresh stops between store and commit" -- "${STOP[@]}" "${C[@]}" policy refresh P \
    --out "$OUT/v2.blob"
t 0 "the registry holds v2" -- "${C[@]}" --json policy show P
json 'j["version"] == 2'
t 0 "v1 still unwraps (v2 not committed)" -- "${C[@]}" policy unwrap "$OUT/v1.blob"
t 0 "the next run unwraps the stored blob: the commit" -- "${C[@]}" policy unwrap P
superseded v1 "$OUT/v1.blob"
t 0 "v2 unwraps" -- "${C[@]}" policy unwrap "$OUT/v2.blob"

echo "== roll-availability: stopped, then run again"
t 70 "roll stops before its commit" -- "${STOP[@]}" "${C[@]}" policy roll-availability P \
    --out "$OUT/v3.blob"
t 0 "v2 still unwraps" -- "${C[@]}" policy unwrap "$OUT/v2.blob"
t 0 "roll again, to the end" -- "${C[@]}" policy roll-availability P --out "$OUT/v4.blob"
superseded v2 "$OUT/v2.blob"
superseded "v3 (never committed)" "$OUT/v3.blob"
t 0 "v4 unwraps" -- "${C[@]}" policy unwrap "$OUT/v4.blob"

echo "== offboard and onboard"
t 0 "offboard P" -- "${C[@]}" policy offboard P --out "$OUT/v5.blob"
superseded v4 "$OUT/v4.blob"
t 70 "onboard stops before its commit" -- "${STOP[@]}" "${C[@]}" policy refresh P \
    --root1 root1 --root2 root2 --out "$OUT/v6.blob"
t 0 "provider-managed v5 still unwraps" -- "${C[@]}" policy unwrap "$OUT/v5.blob"
t 0 "refresh P: commits v7 (v6 was stored, not committed)" -- "${C[@]}" --json policy refresh P
json 'j["version"] == 7'
superseded "provider-managed v5" "$OUT/v5.blob"
superseded v6 "$OUT/v6.blob"
finish
