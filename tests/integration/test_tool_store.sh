#!/usr/bin/env bash
# test_tool_store.sh: dep11-tool's child-blob store through libdep11.so:
# mailbox assign --store (new, reassigned, unchanged, bulk), mailbox show
# (the lazy re-wrap on access), data seal/open --store across a move,
# store rewrap (--from, --json, --workers, the progress bar on a terminal),
# store inventory (% rolled) and store verify (damaged blob), on the SQLite
# store (a database file; the sqlite3 shell looks inside).
# shellcheck source=tests/integration/test_tool_lib.sh
. "$(dirname "$0")/test_tool_lib.sh"

TEN=0b5e2a6c-7c1d-4f51-9a0e-3d7b1c2e4f60
C=("$TOOL" "${D[@]}")
S="$W/store.db"
command -v sqlite3 >/dev/null || { echo "SKIP: no sqlite3 shell"; exit 77; }
sq() { sqlite3 "$S" "$@"; }

for c in "mailbox show" "store rewrap" "store inventory" "store verify"; do
    # shellcheck disable=SC2086
    t 0 "$c --help" -- "$TOOL" $c --help; has stdout '^Usage: dep11-tool'
done
t 0 "policy A" -- "${C[@]}" policy create --type mailbox --tenant "$TEN" --name A --root1 root1 --root2 root2
t 0 "policy B" -- "${C[@]}" policy create --type mailbox --tenant "$TEN" --name B --provider-managed
t 0 "policy MW" -- "${C[@]}" policy create --type multi-workload --tenant "$TEN" --name MW --provider-managed
t 0 "policy F" -- "${C[@]}" policy create --type files --tenant "$TEN" --name F --provider-managed
t 0 "policy OFF (disabled)" -- "${C[@]}" policy create --type mailbox --tenant "$TEN" --name OFF --provider-managed
t 0 "disable OFF" -- "${C[@]}" policy disable OFF

echo "== mailbox assign --store"
t 2 "--store and --mailbox" -- "${C[@]}" mailbox assign --store "$S" --mailbox x --policy A --owner a
t 2 "--owners without --store" -- "${C[@]}" mailbox assign --policy A --owners /dev/null --out "$OUT/x"
t 2 "no owner" -- "${C[@]}" mailbox assign --store "$S" --policy A
t 0 "assign alice to A" -- "${C[@]}" mailbox assign --store "$S" --policy A --owner alice@contoso.com
has stdout 'created under policy "A"'
ALICE=$(printf %s alice@contoso.com | sha256sum | cut -c1-32)
[ "$(sq "SELECT count(*) FROM owners WHERE owner = x'$ALICE'")" = 1 ] || fail "no row"
[ "$(sq "PRAGMA journal_mode")" = wal ] || fail "the store is not in WAL mode"
[ "$(sq "SELECT version FROM store_version")" = 1 ] || fail "no schema version 1"
t 0 "assign alice to A again" -- "${C[@]}" --json mailbox assign --store "$S" --policy A --owner alice@contoso.com
json 'j["unchanged"] == 1 and j["created"] == 0'
t 1 "assign to a disabled policy" -- "${C[@]}" mailbox assign --store "$S" --policy OFF --owner bob
has stderr 'is disabled'
t 1 "assign to a files policy" -- "${C[@]}" mailbox assign --store "$S" --policy F --owner bob
has stderr 'files policy holds site keys'
t 1 "assign to an unknown policy" -- "${C[@]}" mailbox assign --store "$S" --policy nosuch --owner bob
has stderr 'no policy named'
printf 'u%s\n' $(seq 1 40) >"$OUT/owners"; printf '\nalice@contoso.com\n' >>"$OUT/owners"
t 0 "bulk assign to MW" -- "${C[@]}" --json mailbox assign --store "$S" --policy MW --owners "$OUT/owners"
json 'j["created"] == 40 and j["reassigned"] == 1 and j["unchanged"] == 0'
t 2 "bulk: unreadable list" -- "${C[@]}" mailbox assign --store "$S" --policy MW --owners "$OUT/none"

echo "== data across a move, lazy re-wrap"
printf 'for alice only\n' >"$OUT/msg"
t 0 "seal for alice (assigned MW, still under A)" -- "${C[@]}" data seal --store "$S" --owner alice@contoso.com --in "$OUT/msg" --out "$OUT/msg.s"
[ "$(sq "SELECT count(*) FROM owners WHERE owner = x'$ALICE' AND assigned = wrapped")" = 1 ] || fail "data seal did not re-wrap on access"
t 0 "assign alice back to A" -- "${C[@]}" --json mailbox assign --store "$S" --policy A --owner alice@contoso.com
json 'j["reassigned"] == 1'
t 0 "show --no-rewrap: pending" -- "${C[@]}" mailbox show --store "$S" --owner alice@contoso.com --no-rewrap
has stdout '^assigned +A'; has stdout '^wrapped by +MW \(version 1\) - re-wrap pending'
t 0 "show: re-wrapped on access" -- "${C[@]}" --json mailbox show --store "$S" --owner alice@contoso.com
json 'j["assigned"] == "A" and j["wrapped_under"] == "A" and j["rewrapped_from"] == "MW" and not j["pending"]'
t 0 "assign alice to MW again" -- "${C[@]}" mailbox assign --store "$S" --policy MW --owner alice@contoso.com
t 0 "open: re-wrapped on access, then opened" -- "${C[@]}" data open --store "$S" --owner alice@contoso.com --in "$OUT/msg.s" --out "$OUT/msg.o"
cmp -s "$OUT/msg" "$OUT/msg.o" || fail "data differs after the moves"
[ "$(sq "SELECT count(*) FROM owners WHERE owner = x'$ALICE' AND assigned = wrapped")" = 1 ] || fail "data open did not re-wrap on access"
t 0 "show again: nothing to do" -- "${C[@]}" mailbox show --store "$S" --owner alice@contoso.com
hasnt stdout 're-wrapped'
t 1 "open for another owner" -- "${C[@]}" data open --store "$S" --owner u1 --in "$OUT/msg.s" --out "$OUT/msg.x"
has stderr 'CKR_ENCRYPTED_DATA_INVALID'
t 1 "show: unknown owner" -- "${C[@]}" mailbox show --store "$S" --owner nobody
has stderr 'no mailbox nobody'
t 2 "show: no owner" -- "${C[@]}" mailbox show --store "$S"
t 2 "show: no store" -- "${C[@]}" mailbox show --owner alice@contoso.com

echo "== inventory, rewrap, verify"
t 0 "inventory without a login" -- "$TOOL" --json store inventory --store "$S"
json 'j["total"] == 41 and j["pending"] == 0 and len(j["policies"]) == 1 and j["policies"][0]["name"] == ""'
t 0 "refresh MW: version 2" -- "${C[@]}" policy refresh MW
t 0 "inventory: 0% rolled after the refresh" -- "${C[@]}" store inventory --store "$S"
has stdout '^MW +active +v2 +41 +v1:41 +0.0%'; has stdout '0 \(0.0%\) rolled'
t 0 "rewrap --from A (none under A)" -- "${C[@]}" --json store rewrap --store "$S" --to MW --from A
json 'j["total"] == 0 and j["rewrapped"] == 0 and j["finished"]'
t 0 "rewrap to MW rolls to version 2" -- "${C[@]}" --json store rewrap --store "$S" --to MW
json 'j["rewrapped"] == 41 and j["failed"] == 0 and j["total"] == 41 and j["finished"]'
[ "$(sq "SELECT count(*) FROM job_items")" = 0 ] || fail "a finished job left its items"
t 0 "inventory: 100% rolled" -- "${C[@]}" --json store inventory --store "$S"
json 'j["rolled"] == 41 and j["policies"][0]["versions"] == {"2": 41} and j["policies"][0]["current_version"] == 2'
t 0 "rewrap to B (text summary, one worker)" -- "${C[@]}" store rewrap --store "$S" --to B --workers 1
has stdout '41 children to move: 41 re-wrapped now'
hasnt stderr 'ETA'
t 0 "rewrap to B again: nothing to move" -- "${C[@]}" --json store rewrap --store "$S" --to B
json 'j["total"] == 0 and j["rewrapped"] == 0'
if command -v script >/dev/null; then
    t 0 "progress bar on a terminal" -- script -qec "$(printf '%q ' "${C[@]}") store rewrap --store $S --to A" /dev/null
    has stdout 'rewrap to "A" \[#########################\] 41/41 100%.*ETA'
fi
t 1 "rewrap to a disabled policy" -- "${C[@]}" store rewrap --store "$S" --to OFF
t 2 "rewrap without --to" -- "${C[@]}" store rewrap --store "$S"
t 2 "rewrap: --workers 0" -- "${C[@]}" store rewrap --store "$S" --to B --workers 0
t 2 "rewrap: not a store" -- "${C[@]}" store rewrap --store "$OUT/nostore" --to A
has stderr 'not a dep11 store'
[ ! -e "$OUT/nostore" ] || fail "rewrap created a store"
t 0 "verify --policy A" -- "${C[@]}" --json store verify --store "$S" --policy A
json 'j["ok"] and j["unwrapped"] == 41'
t 1 "verify --policy B: not under it" -- "${C[@]}" --json store verify --store "$S" --policy B
json 'j["not_under"] == 41'
(exec 9>"$S.rewrap"; flock 9; "${C[@]}" store rewrap --store "$S" --to B >"$OUT/stdout" 2>"$OUT/stderr"; echo $? >"$OUT/rc")
checks=$((checks + 1)); [ "$(cat "$OUT/rc")" = 1 ] || fail "a busy store was not refused"
has stderr 'is busy'
U1=$(printf %s u1 | sha256sum | cut -c1-32)
GOOD=$(sq "SELECT hex(blob) FROM owners WHERE owner = x'$U1'")
c=${GOOD:80:1}; [ "$c" = 0 ] && c=1 || c=0
sq "UPDATE owners SET blob = x'${GOOD:0:80}$c${GOOD:81}' WHERE owner = x'$U1'"
t 1 "verify: a damaged blob" -- "${C[@]}" --json store verify --store "$S"
json 'j["failed"] == 1 and j["unwrapped"] == 40'
t 1 "rewrap: the damaged child fails, the others move" -- "${C[@]}" --json store rewrap --store "$S" --to B
json 'j["failed"] == 1 and j["rewrapped"] == 40 and not j["finished"]'
[ "$(sq "SELECT count(*) FROM job_items WHERE state = 0")" = 1 ] || fail "the failed child is not pending in the job"
sq "UPDATE owners SET blob = x'$GOOD' WHERE owner = x'$U1'"
t 0 "re-run after the repair: resumes" -- "${C[@]}" --json store rewrap --store "$S" --to B
json 'j["rewrapped"] == 1 and j["resumed"] == 40 and j["failed"] == 0 and j["finished"]'
t 0 "verify: clean" -- "${C[@]}" store verify --store "$S" --policy B
has stdout '41 children, 41 unwrap, 0 fail'

echo "== defaults: the assigned multi-workload policy, else the provider default"
S3="$W/defaults.db"
t 0 "assign without --policy: the provider default, registered now" -- "${C[@]}" mailbox assign --store "$S3" --owner d1
has stdout 'd1: created under policy "dep11-default-mailbox"'
t 0 "the default is a provider-managed mailbox policy" -- "${C[@]}" --json policy list
json '[(p["type"], p["managed_by"]) for p in j["policies"] if p["name"] == "dep11-default-mailbox"] == [("mailbox", "provider")]'
t 0 "a second owner: the same default, none created" -- "${C[@]}" --json mailbox assign --store "$S3" --owner d2
json 'j["policy"] == "dep11-default-mailbox" and j["created"] == 1'
t 0 "assign-tenant MW" -- "${C[@]}" policy assign-tenant MW
t 0 "assign without --policy: the tenant's multi-workload policy" -- "${C[@]}" --json mailbox assign --store "$S3" --owners "$OUT/owners"
json 'j["policy"] == "MW" and j["created"] == 41'
t 0 "unassign-tenant MW" -- "${C[@]}" policy unassign-tenant MW
t 0 "the default again" -- "${C[@]}" --json mailbox assign --store "$S3" --owner d3
json 'j["policy"] == "dep11-default-mailbox"'
t 0 "defaults: the store verifies" -- "${C[@]}" --json store verify --store "$S3"
json 'j["ok"] and j["unwrapped"] == 44'
finish
