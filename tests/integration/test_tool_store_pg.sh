#!/usr/bin/env bash
# test_tool_store_pg.sh: dep11-tool's store on PostgreSQL (--store
# postgresql://...), on a throwaway server (pg_server.sh) and a SoftHSM
# world (test_tool_lib.sh):
# - refusals that change nothing: not a store yet, a URI with a password,
#   no server, a wrong password;
# - the store verbs: mailbox assign (one, bulk), re-wrap on access by data
#   seal/open and mailbox show, inventory, store rewrap, store verify;
# - two `store rewrap` processes share one job (both move children, every
#   child moved once, all unwrap under the target);
# - 10 crash trials: kill -9 one of two rewrap processes; the job finishes
#   by the survivor (it waits for the dead one's lease, --lease 1, and takes
#   its batch over) or on re-run; nothing is lost or torn, every child
#   unwraps under its target.
# shellcheck source=tests/integration/test_tool_lib.sh
. "$(dirname "$0")/test_tool_lib.sh"
# shellcheck source=tests/integration/pg_server.sh
. "$here/pg_server.sh"
pg_start test_tool_store_pg || { echo "FAIL: no server"; exit 1; }

TEN=0b5e2a6c-7c1d-4f51-9a0e-3d7b1c2e4f60
C=("$TOOL" "${D[@]}")
S="$PG_URI"
same() { # same NAME GOT WANT
    checks=$((checks + 1))
    [ "$2" = "$3" ] || fail "$1: '$2', want '$3'"
}
ntables() { pg_psql -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"; }
owners() { pg_psql -c 'SELECT count(*) FROM owners'; }
pid_of() { "${C[@]}" --json policy show "$1" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["policy_id"])'; }

t 0 "policy A" -- "${C[@]}" policy create --type mailbox --tenant "$TEN" --name A --root1 root1 --root2 root2
t 0 "policy B" -- "${C[@]}" policy create --type mailbox --tenant "$TEN" --name B --provider-managed
t 0 "policy MW" -- "${C[@]}" policy create --type multi-workload --tenant "$TEN" --name MW --provider-managed

echo "== refusals that change nothing"
t 2 "inventory: not a store yet" -- "$TOOL" store inventory --store "$S"
has stderr 'is not a dep11 store'
PW="postgresql://dep11:secret@/dep11?host=$PG_SOCK"
t 2 "a password in the URI" -- "${C[@]}" mailbox assign --store "$PW" --policy A --owner x
has stderr 'carries a password.*PGPASSFILE'; hasnt stderr secret
t 2 "a password parameter" -- "${C[@]}" mailbox assign --store "$S&password=secret" --policy A --owner x
has stderr 'carries a password'; hasnt stderr secret
t 1 "no server there" -- "${C[@]}" mailbox assign --store "postgresql:///dep11?host=$OUT&user=dep11" --policy A --owner x
has stderr 'cannot connect to the PostgreSQL store'
t 1 "a wrong password" -- env PGPASSFILE=/dev/null PGPASSWORD=wrong "${C[@]}" mailbox assign --store "$S" --policy A --owner x
has stderr 'password authentication failed'
same "no table created by a refusal" "$(ntables)" 0

echo "== the store verbs"
t 0 "assign alice to A" -- "${C[@]}" mailbox assign --store "$S" --policy A --owner alice@contoso.com
has stdout 'created under policy "A"'
ALICE=$(printf %s alice@contoso.com | sha256sum | cut -c1-32)
A_ID=$(pid_of A) B_ID=$(pid_of B) MW_ID=$(pid_of MW)
same "alice's row" "$(pg_psql -c "SELECT encode(assigned, 'hex') FROM owners WHERE owner = '\\x$ALICE'")" "$A_ID"
same "schema version" "$(pg_psql -c 'SELECT version FROM store_version')" 1
t 2 "a password, now on a store" -- "${C[@]}" mailbox assign --store "$PW" --policy B --owner alice@contoso.com
same "alice still under A" "$(pg_psql -c "SELECT encode(assigned, 'hex') FROM owners WHERE owner = '\\x$ALICE'")" "$A_ID"
seq -f 'u%g' 1 3999 >"$OUT/owners"; echo alice@contoso.com >>"$OUT/owners"
t 0 "bulk assign to MW" -- "${C[@]}" --json mailbox assign --store "$S" --policy MW --owners "$OUT/owners"
json 'j["created"] == 3999 and j["reassigned"] == 1'
N=4000
printf 'for alice only\n' >"$OUT/msg"
t 0 "seal for alice: re-wrap on access" -- "${C[@]}" data seal --store "$S" --owner alice@contoso.com --in "$OUT/msg" --out "$OUT/msg.s"
same "alice re-wrapped under MW" "$(pg_psql -c "SELECT encode(wrapped, 'hex') FROM owners WHERE owner = '\\x$ALICE'")" "$MW_ID"
t 0 "assign alice to B" -- "${C[@]}" mailbox assign --store "$S" --policy B --owner alice@contoso.com
t 0 "show: re-wrapped on access" -- "${C[@]}" --json mailbox show --store "$S" --owner alice@contoso.com
json 'j["assigned"] == "B" and j["wrapped_under"] == "B" and j["rewrapped_from"] == "MW"'
t 0 "open after the moves" -- "${C[@]}" data open --store "$S" --owner alice@contoso.com --in "$OUT/msg.s" --out "$OUT/msg.o"
cmp -s "$OUT/msg" "$OUT/msg.o" || fail "data differs after the moves"
t 0 "inventory" -- "$TOOL" --json store inventory --store "$S"
json "j['total'] == $N"
t 0 "refresh MW: version 2" -- "${C[@]}" policy refresh MW
t 0 "rewrap to MW (one process, one worker)" -- "${C[@]}" --json store rewrap --store "$S" --to MW --workers 1
json "j['rewrapped'] == $N and j['failed'] == 0 and j['finished']"
same "job items left" "$(pg_psql -c 'SELECT count(*) FROM job_items')" 0
t 0 "rewrap --from B (none under B)" -- "${C[@]}" --json store rewrap --store "$S" --to A --from B --workers 1
json 'j["total"] == 0 and j["rewrapped"] == 0 and j["finished"]'
t 0 "inventory: all at MW v2" -- "${C[@]}" --json store inventory --store "$S"
json "j['rolled'] == $N"
t 0 "verify --policy MW" -- "${C[@]}" --json store verify --store "$S" --policy MW
json "j['ok'] and j['unwrapped'] == $N"

# rw NAME TARGET [LEASE]: a rewrap process (one worker thread, lease 2 s
# unless given) in the background.
# The second starts once the first has its claim: SoftHSM's file store can
# answer a token read racing another process's start-up with an error.
rw() { "${C[@]}" --json store rewrap --store "$S" --to "$2" --workers 1 --lease "${3:-2}" --batch 200 >"$OUT/$1" 2>&1 & }
claimed() { # claimed [K]: until K workers (default 1) hold claims
    for _ in $(seq 1 200); do
        [ "$(pg_psql -c 'SELECT count(DISTINCT worker) FROM job_items WHERE state = 1')" -ge "${1:-1}" ] && return
        sleep 0.05
    done
}
moved() { /usr/bin/python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["rewrapped"])' "$OUT/$1" 2>/dev/null || echo x; }
under() { pg_psql -c "SELECT count(*) FROM owners WHERE wrapped = '\\x$1' AND assigned = '\\x$1'"; }

echo "== two rewrap processes share one job"
# The owners are held locked until both processes have claimed (each then
# waits to complete its first batch): on an idle machine one process
# re-wraps the whole population faster than a second one starts.
pg_hold_owners || fail "holding the owners"
rw p1 A; p1=$!; claimed; rw p2 A; p2=$!; claimed 2
pg_release_owners
wait $p1; r1=$?; wait $p2; r2=$?
same "p1 exit" $r1 0; same "p2 exit" $r2 0
m1=$(moved p1); m2=$(moved p2)
checks=$((checks + 1))
[ "$m1" != x ] && [ "$m2" != x ] && [ "$m1" -gt 0 ] && [ "$m2" -gt 0 ] ||
    { fail "both processes should move children: $m1 / $m2"; cat "$OUT/p1" "$OUT/p2"; }
same "moved once in all" "$((m1 + m2))" $N
same "all under A" "$(under "$A_ID")" $N
t 0 "verify --policy A" -- "${C[@]}" --json store verify --store "$S" --policy A
json "j['ok'] and j['unwrapped'] == $N"

echo "== crash trials: kill -9 one of two rewrap processes"
live=0
for trial in $(seq 1 10); do
    if [ $((trial % 2)) -eq 1 ]; then to=B id=$B_ID; else to=A id=$A_ID; fi
    # Both processes claim while the owners are held locked (each waits to
    # complete its first batch, or is still re-wrapping it): the victim is
    # killed mid-job, then the survivor goes on.
    pg_hold_owners || fail "trial $trial: holding the owners"
    rw k1 $to; p1=$!; claimed; rw k2 $to; p2=$!; claimed 2
    sleep "0.0$((RANDOM % 5))"
    if [ $((trial % 2)) -eq 0 ]; then v=$p1 o=$p2; else v=$p2 o=$p1; fi
    if kill -9 "$v" 2>/dev/null; then live=$((live + 1)); else
        if [ "$v" = "$p1" ]; then echo "trial $trial: the victim had ended:"; cat "$OUT/k1"
        else echo "trial $trial: the victim had ended:"; cat "$OUT/k2"; fi; fi
    pg_release_owners
    wait "$v" 2>/dev/null; wait "$o"; ro=$?
    same "trial $trial: the survivor's exit" $ro 0
    if [ "$v" = "$p1" ]; then sv=k2; else sv=k1; fi
    checks=$((checks + 1))
    /usr/bin/python3 -c 'import json,sys; sys.exit(0 if json.loads(open(sys.argv[1]).read().splitlines()[-1])["finished"] else 1)' "$OUT/$sv" ||
        { fail "trial $trial: the survivor did not finish the job"; cat "$OUT/$sv"; }
    t 0 "trial $trial: re-run: the job is finished" -- "${C[@]}" --json store rewrap --store "$S" --to $to --lease 1
    json "j['finished'] and j['failed'] == 0"
    same "trial $trial: owners" "$(owners)" $N
    same "trial $trial: all under $to" "$(under "$id")" $N
    t 0 "trial $trial: every child unwraps under $to" -- "${C[@]}" --json store verify --store "$S" --policy $to
    json "j['ok'] and j['unwrapped'] == $N"
done
echo "killed a live rewrap in $live of 10 trials"
checks=$((checks + 1))
[ "$live" -ge 8 ] || fail "only $live of 10 kills hit a live process"
finish
