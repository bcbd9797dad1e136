#!/usr/bin/env bash
# test_tool_store_pg_server.sh: the PostgreSQL fixture (pg_server.sh) itself.
# A child shell starts a server, which must run as a user other than root,
# listen on no TCP port, take a password only from PGPASSFILE and answer on
# its unix socket; the child then ends three ways (success, failure, SIGTERM)
# and each time no server process and no server directory may be left.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${abs_top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${abs_top_builddir:=$abs_top_srcdir}"
export abs_top_srcdir abs_top_builddir
OUT="$abs_top_builddir/tests/integration/test_tool_store_pg_server-out"
rm -rf "$OUT"; mkdir -p "$OUT"
fails=0 checks=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { checks=$((checks + 1)); "$@"; }

# The child: starts, records what the parent checks, ends with $1.
child() {
    local how=$1
    # shellcheck source=tests/integration/pg_server.sh
    . "$here/pg_server.sh"
    pg_start "pg_server_$how" || exit 99
    {
        echo "pid $PG_PID"
        echo "kids $(pgrep -P "$PG_PID" | tr '\n' ' ')"
        echo "root $PG_ROOT"
        echo "user $(ps -o user= -p "$PG_PID")"
        echo "me $(pg_psql -c 'SELECT current_user')"
        echo "listen [$(pg_psql -c 'SHOW listen_addresses')]"
        echo "sock $(ls "$PG_SOCK"/.s.PGSQL.* 2>/dev/null | head -n1)"
        if PGPASSFILE=/dev/null PGPASSWORD='' psql -X -w -At "$PG_URI" \
               -c 'SELECT 1' >/dev/null 2>&1; then
            echo "nopass accepted"
        else
            echo "nopass refused"
        fi
    } >"$OUT/$how.info"
    touch "$OUT/$how.ready"
    case $how in
    ok) exit 0 ;;
    fail) exit 3 ;;
    term) for _ in $(seq 1 300); do sleep 0.2; done; exit 0 ;;
    esac
}

field() { awk -v k="$2" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$OUT/$1.info"; }

check_up() {
    local how=$1 u
    [ -s "$OUT/$how.info" ] || { fail "$how: no server info"; return; }
    u=$(field "$how" user)
    ok [ -n "$u" ] || fail "$how: no postmaster seen"
    [ "$u" != root ] || fail "$how: the server ran as root"
    ok [ "$(field "$how" me)" = dep11 ] || fail "$how: psql did not reach the server"
    ok [ "$(field "$how" listen)" = "[]" ] || fail "$how: listen_addresses not empty"
    ok [ -n "$(field "$how" sock)" ] || fail "$how: no unix socket"
    ok [ "$(field "$how" nopass)" = refused ] || fail "$how: connected without a password"
}

check_gone() {
    local how=$1 p root
    root=$(field "$how" root)
    for p in $(field "$how" pid) $(field "$how" kids); do
        ok [ -n "$p" ] || continue
        if kill -0 "$p" 2>/dev/null; then
            fail "$how: process $p left"
        fi
    done
    ok [ -n "$root" ] && [ ! -e "$root" ] || fail "$how: $root left"
}

echo "== normal end"
( child ok ); rc=$?
if [ $rc -eq 77 ]; then echo "SKIP: no PostgreSQL"; exit 77; fi
ok [ $rc -eq 0 ] || fail "ok: exit $rc"
check_up ok; check_gone ok

echo "== a failing test"
( child fail ); rc=$?
ok [ $rc -eq 3 ] || fail "fail: exit $rc, not the test's 3"
check_up fail; check_gone fail

echo "== SIGTERM"
( child term ) & cpid=$!
for _ in $(seq 1 300); do
    [ -e "$OUT/term.ready" ] && break
    sleep 0.1
done
kill -TERM "$cpid"
wait "$cpid"; rc=$?
ok [ $rc -eq 143 ] || fail "term: exit $rc, not 143"
check_up term; check_gone term

echo "$checks checks, $fails failures"
[ "$fails" -eq 0 ]
