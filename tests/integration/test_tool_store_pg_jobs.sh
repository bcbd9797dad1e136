#!/usr/bin/env bash
# test_tool_store_pg_jobs.sh: the PostgreSQL store backend (tools/store_pg*.c)
# on a throwaway server (pg_server.sh), driven by store_pg_drv (no HSM):
# - refusals that change nothing: a URI with a password, a server that is
#   not there, a database that is not a store, a newer schema version, a
#   write on a read-only open;
# - two concurrent workers share one re-wrap job: both claim, every child
#   moved exactly once;
# - a stalled worker's batch is taken over when its lease expires, and its
#   late completion is refused (accepted 0);
# - 10 crash trials: kill -9 one of two workers mid-job; the other takes over
#   the dead one's batch and finishes; nothing lost or torn; a re-run finds
#   the job done.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${abs_top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${abs_top_builddir:=$abs_top_srcdir}"
DRV="$abs_top_builddir/tests/integration/store_pg_drv"
[ -x "$DRV" ] || { echo "SKIP: $DRV not built"; exit 77; }
OUT="$abs_top_builddir/tests/integration/test_tool_store_pg_jobs-out"
rm -rf "$OUT"; mkdir -p "$OUT"
fails=0 checks=0
# shellcheck source=tests/integration/tool_checks.sh
. "$here/tool_checks.sh"
# shellcheck source=tests/integration/pg_server.sh
. "$here/pg_server.sh"
pg_start test_tool_store_pg_jobs || { echo "FAIL: no server"; exit 1; }

reset() {
    pg_psql -c 'DROP TABLE IF EXISTS job_items, jobs, owners, store_version'
}
same() { # same NAME A B
    checks=$((checks + 1))
    [ "$2" = "$3" ] || fail "$1: '$2', want '$3'"
}
owners() { pg_psql -c 'SELECT count(*) FROM owners'; }

echo "== refusals that change nothing"
t 2 "not a store" -- "$DRV" "$PG_URI" open
has stderr 'is not a dep11 store'
same "no table created" "$(pg_psql -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" 0
t 0 "create" -- "$DRV" "$PG_URI" open create
has stdout 'schema version 1'
t 0 "seed 10" -- "$DRV" "$PG_URI" seed 10
PW_URI="postgresql://dep11:secret@/dep11?host=$PG_SOCK"
t 2 "a password in the URI" -- "$DRV" "$PW_URI" seed 5
has stderr 'carries a password.*PGPASSFILE'; hasnt stderr secret
t 2 "a password as a URI parameter" -- "$DRV" "$PG_URI&password=secret" seed 5
has stderr 'carries a password'; hasnt stderr secret
t 2 "a URI libpq cannot parse" -- "$DRV" "postgresql://[::1" open
has stderr 'bad PostgreSQL connection URI'
t 1 "no server at the socket" -- "$DRV" "postgresql:///dep11?host=$OUT&user=dep11" seed 5
has stderr 'cannot connect to the PostgreSQL store.*No such file'
t 1 "a wrong password" -- env PGPASSFILE=/dev/null PGPASSWORD=wrong "$DRV" "$PG_URI" seed 5
has stderr 'cannot connect.*password authentication failed'
t 1 "read-only: a write is refused" -- "$DRV" "$PG_URI" put rdonly
has stderr 'read-only transaction'
same "owners after the refusals" "$(owners)" 10
pg_psql -c 'UPDATE store_version SET version = 99'
t 1 "a newer schema version" -- "$DRV" "$PG_URI" seed 5
has stderr 'schema version 99; this dep11-tool knows up to 1 \(nothing changed\)'
same "version left alone" "$(pg_psql -c 'SELECT version FROM store_version')" 99
same "owners left alone" "$(owners)" 10
pg_psql -c 'INSERT INTO store_version VALUES (1)'
t 1 "two version rows: damaged" -- "$DRV" "$PG_URI" open
has stderr 'damaged: store_version holds 2 rows'

echo "== two workers share one job"
reset
N=3000
t 0 "seed $N" -- "$DRV" "$PG_URI" seed $N
"$DRV" "$PG_URI" work w1 50 30 >"$OUT/w1" 2>&1 & p1=$!
"$DRV" "$PG_URI" work w2 50 30 >"$OUT/w2" 2>&1 & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
same "w1 exit" $r1 0; same "w2 exit" $r2 0
c1=$(sed -n 's/.* accepted \([0-9]*\)$/\1/p' "$OUT/w1")
c2=$(sed -n 's/.* accepted \([0-9]*\)$/\1/p' "$OUT/w2")
checks=$((checks + 1))
[ "${c1:-0}" -gt 0 ] && [ "${c2:-0}" -gt 0 ] || fail "a worker had no share: $c1 / $c2"
same "accepted in all" $((${c1:-0} + ${c2:-0})) $N
t 0 "every child moved once, whole" -- "$DRV" "$PG_URI" check $N w1,w2
same "job done, items gone" "$(pg_psql -c 'SELECT count(*) FROM jobs WHERE state = 0') $(pg_psql -c 'SELECT count(*) FROM job_items')" "0 0"

echo "== a stalled worker's batch is taken over"
reset
t 0 "seed 300" -- "$DRV" "$PG_URI" seed 300
# s claims 100 with a 1 s lease and sleeps 4 s before completing them.
"$DRV" "$PG_URI" work s 100 1 4 >"$OUT/s" 2>&1 & sp=$!
for _ in $(seq 1 50); do
    [ "$(pg_psql -c "SELECT count(*) FROM job_items WHERE worker = 's'" 2>/dev/null)" = 100 ] && break
    sleep 0.1
done
sleep 1.5
t 0 "f takes over and finishes" -- "$DRV" "$PG_URI" work f 100 30
has stdout 'claimed 300 accepted 300'
wait $sp; rs=$?
same "s exit" $rs 0
checks=$((checks + 1))
grep -q 'claimed 100 accepted 0$' "$OUT/s" || { fail "s's late batch was accepted"; cat "$OUT/s"; }
t 0 "all moved by f alone" -- "$DRV" "$PG_URI" check 300 f

# holds W: until worker W holds a claimed item (at most 10 s).
holds() {
    for _ in $(seq 1 500); do
        [ "$(pg_psql -c "SELECT count(*) FROM job_items WHERE state = 1 AND worker = '$1'")" -gt 0 ] && return
        sleep 0.02
    done
}

echo "== crash trials: kill -9 one of two workers"
N=4000 live=0
for trial in $(seq 1 10); do
    reset
    "$DRV" "$PG_URI" seed $N >/dev/null || fail "trial $trial: seed"
    # w1 stalls 2 s before completing its first batch, so the job cannot end
    # before then (on an idle machine one worker drains it before a second
    # one starts): w2 re-wraps the rest, then waits for w1's batch. The
    # victim is killed somewhere in that time; if it is w1, w2 takes its
    # batch over when the 3 s lease ends.
    "$DRV" "$PG_URI" work w1 50 3 2 >"$OUT/t1" 2>&1 & p1=$!
    holds w1
    "$DRV" "$PG_URI" work w2 50 3 >"$OUT/t2" 2>&1 & p2=$!
    sleep "0.$((RANDOM % 10))"
    if [ $((trial % 2)) -eq 0 ]; then victim=$p1 other=$p2; else victim=$p2 other=$p1; fi
    kill -9 "$victim" 2>/dev/null && live=$((live + 1))
    wait "$victim" 2>/dev/null
    wait "$other"; ro=$?
    same "trial $trial: the survivor finished" $ro 0
    t 0 "trial $trial: a re-run finds the job done" -- "$DRV" "$PG_URI" work w3 50 2
    has stdout 'claimed 0 accepted 0'
    t 0 "trial $trial: nothing lost or torn" -- "$DRV" "$PG_URI" check $N w1,w2
    same "trial $trial: no running job" "$(pg_psql -c 'SELECT count(*) FROM jobs WHERE state = 0')" 0
done
echo "killed a live worker in $live of 10 trials"
checks=$((checks + 1))
[ "$live" -ge 8 ] || fail "only $live of 10 kills hit a live worker"

echo "$checks checks, $fails failures"
[ "$fails" -eq 0 ]
