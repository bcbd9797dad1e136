#!/usr/bin/env bash
# test_tool_store_db.sh: the SQLite store's edges. Bad input: a file that is
# not a database, a damaged database, an SQLite database that is not a
# store, a schema version from the future, a read-only database: each gets
# a clear error and exit code, and the file is not changed. Migration: a
# store of the old directory format is read (inventory, verify) but never
# written (writers point to store import); store import converts it,
# verifying every entry (a damaged entry imports nothing), and a second
# import finds everything there.
# shellcheck source=tests/integration/test_tool_lib.sh
. "$(dirname "$0")/test_tool_lib.sh"

command -v sqlite3 >/dev/null || { echo "SKIP: no sqlite3 shell"; exit 77; }
TEN=0b5e2a6c-7c1d-4f51-9a0e-3d7b1c2e4f60
C=("$TOOL" "${D[@]}")
S="$W/store.db"
IMMUTABLE=
cleanup() { [ -z "$IMMUTABLE" ] || chattr -i "$IMMUTABLE" 2>/dev/null; }
trap cleanup EXIT

t 0 "store import --help" -- "$TOOL" store import --help; has stdout '^Usage: dep11-tool store import'
t 0 "policy A" -- "${C[@]}" policy create --type mailbox --tenant "$TEN" --name A --provider-managed
t 0 "policy B" -- "${C[@]}" policy create --type mailbox --tenant "$TEN" --name B --provider-managed
printf 'm%s\n' $(seq 1 30) >"$OUT/owners"
t 0 "a store of 30" -- "${C[@]}" --json mailbox assign --store "$S" --policy A --owners "$OUT/owners"
json 'j["created"] == 30'

# same FILE COPY: the file did not change.
same() { checks=$((checks + 1)); cmp -s "$1" "$2" || fail "$1 changed"; }
# bad RC REGEX FILE: every command refuses FILE with RC and REGEX, unchanged.
bad() {
    local rc=$1 re=$2 f=$3
    cp "$f" "$OUT/before"
    t "$rc" "inventory: $re" -- "${C[@]}" store inventory --store "$f"; has stderr "$re"
    t "$rc" "assign: $re" -- "${C[@]}" mailbox assign --store "$f" --policy A --owner newbie; has stderr "$re"
    t "$rc" "rewrap: $re" -- "${C[@]}" store rewrap --store "$f" --to B; has stderr "$re"
    same "$f" "$OUT/before"
    checks=$((checks + 1)); [ ! -e "$f-wal" ] || [ ! -s "$f-wal" ] || fail "$f got a WAL"
}

echo "== bad input"
sqlite3 "$S" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
printf 'owners, not a database\n%.0s' $(seq 1 200) >"$OUT/text.db"
bad 2 'is not a dep11 store or is damaged' "$OUT/text.db"
cp "$S" "$OUT/header.db"; dd if=/dev/urandom of="$OUT/header.db" bs=1 count=16 conv=notrunc 2>/dev/null
bad 2 'is not a dep11 store or is damaged' "$OUT/header.db"
cp "$S" "$OUT/torn.db"; truncate -s 8192 "$OUT/torn.db"
bad 1 'is not a dep11 store or is damaged' "$OUT/torn.db"
sqlite3 "$OUT/other.db" "CREATE TABLE t (x); INSERT INTO t VALUES (1)"
bad 2 'not a dep11 store \(an SQLite database without a store_version table\)' "$OUT/other.db"
cp "$S" "$OUT/future.db"; sqlite3 "$OUT/future.db" "UPDATE store_version SET version = 99"
bad 1 'schema version 99; this dep11-tool knows up to 1' "$OUT/future.db"
t 2 "a directory that is not a store" -- "${C[@]}" store inventory --store "$OUT"
has stderr 'is a directory, not a dep11 store'
t 2 "no such store (reading)" -- "${C[@]}" store verify --store "$OUT/none.db"
has stderr 'not a dep11 store \(no such file\)'
[ ! -e "$OUT/none.db" ] || fail "verify created a store"

cp "$S" "$OUT/ro.db"
if [ "$(id -u)" = 0 ]; then
    chattr +i "$OUT/ro.db" 2>/dev/null && IMMUTABLE="$OUT/ro.db"
else
    chmod 0444 "$OUT/ro.db" && IMMUTABLE=none
fi
if [ -n "$IMMUTABLE" ]; then
    cp "$OUT/ro.db" "$OUT/before"
    t 1 "assign into a read-only database" -- "${C[@]}" mailbox assign --store "$OUT/ro.db" --policy B --owner m1
    has stderr 'is read-only'
    t 0 "inventory of a read-only database" -- "${C[@]}" --json store inventory --store "$OUT/ro.db"
    json 'j["total"] == 30'
    same "$OUT/ro.db" "$OUT/before"
else
    echo "note: cannot make a read-only file here (root without chattr): read-only case not run"
fi

echo "== the old directory format, store import"
OLD="$W/old"
# The old layout, written from the database: DIR/owners/<owner> (an entry),
# DIR/blobs/<policy>/<owner>.blob.
sqlite3 -separator ' ' "$S" "SELECT hex(owner), kind, hex(assigned), hex(wrapped), version, hex(blob) FROM owners" |
while read -r o k a w v b; do
    o=${o,,} a=${a,,} w=${w,,}
    mkdir -p "$OLD/owners" "$OLD/blobs/$w"
    printf 'dep11-store 1\nkind=%s\nassigned=%s\nwrapped=%s\nversion=%s\n' "$k" "$a" "$w" "$v" >"$OLD/owners/$o"
    /usr/bin/python3 -c 'import sys; open(sys.argv[1], "wb").write(bytes.fromhex(sys.argv[2]))' "$OLD/blobs/$w/$o.blob" "$b"
done
tree_sum() { (cd "$1" && find . -type f | sort | xargs sha256sum | sha256sum); }
sum=$(tree_sum "$OLD")
t 0 "old format: inventory reads it" -- "${C[@]}" --json store inventory --store "$OLD"
json 'j["total"] == 30'
t 0 "old format: verify reads it" -- "${C[@]}" --json store verify --store "$OLD" --policy A
json 'j["ok"] and j["unwrapped"] == 30'
t 0 "old format: show --no-rewrap reads it" -- "${C[@]}" mailbox show --store "$OLD" --owner m1 --no-rewrap
t 2 "old format: assign is refused" -- "${C[@]}" mailbox assign --store "$OLD" --policy B --owner m1
has stderr 'old directory format, which is read-only: convert it with dep11-tool store import'
t 2 "old format: rewrap is refused" -- "${C[@]}" store rewrap --store "$OLD" --to B
has stderr 'store import --from'
checks=$((checks + 1)); [ "$(tree_sum "$OLD")" = "$sum" ] || fail "the old store changed"

t 2 "import without --from" -- "${C[@]}" store import --store "$W/new.db"
t 2 "import --from a database" -- "${C[@]}" store import --from "$S" --store "$W/new.db"
has stderr 'is not a directory store of the old format'
t 0 "import" -- "${C[@]}" --json store import --from "$OLD" --store "$W/new.db"
json 'j["ok"] and j["total"] == 30 and j["imported"] == 30 and j["verified"] == 30'
checks=$((checks + 1))
[ "$(sqlite3 "$W/new.db" "ATTACH '$S' AS s; SELECT count(*) FROM owners o JOIN s.owners p USING (owner) WHERE o.blob = p.blob AND o.assigned = p.assigned AND o.wrapped = p.wrapped AND o.version = p.version")" = 30 ] || fail "the import differs from the source"
t 0 "import again: all there" -- "${C[@]}" --json store import --from "$OLD" --store "$W/new.db"
json 'j["imported"] == 0 and j["already"] == 30'
t 0 "the new store verifies" -- "${C[@]}" --json store verify --store "$W/new.db" --policy A
json 'j["ok"] and j["unwrapped"] == 30'
checks=$((checks + 1)); [ "$(tree_sum "$OLD")" = "$sum" ] || fail "import changed the old store"

cp -r "$OLD" "$W/old2"
M5=$(printf %s m5 | sha256sum | cut -c1-32)
flip "$(ls "$W"/old2/blobs/*/"$M5.blob")" 40
t 1 "import of a damaged entry imports nothing" -- "${C[@]}" store import --from "$W/old2" --store "$W/new2.db"
has stderr 'does not verify: nothing imported'
checks=$((checks + 1)); [ "$(sqlite3 "$W/new2.db" "SELECT count(*) FROM owners")" = 0 ] || fail "a failed import left owners"
t 0 "assign m1 to B in a copy" -- "${C[@]}" mailbox assign --store "$W/new2.db" --policy B --owner m1
t 1 "import over another blob of one owner" -- "${C[@]}" store import --from "$OLD" --store "$W/new2.db"
has stderr 'already in the new store with another blob or policy'
checks=$((checks + 1)); [ "$(sqlite3 "$W/new2.db" "SELECT count(*) FROM owners")" = 1 ] || fail "a refused import left owners"
finish
