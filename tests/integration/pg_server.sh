#!/usr/bin/env bash
# pg_server.sh: sourced by the PostgreSQL store tests and bench. pg_start
# runs a throwaway PostgreSQL server (initdb + pg_ctl of Debian's packages)
# as an unprivileged user (PostgreSQL refuses root: as root the server runs
# as the system user "postgres", or "dep11pg" created for it), listening
# ONLY on a unix socket in the build tree (listen_addresses = ''), with
# password (SCRAM) authentication, and creates database "dep11".
#
# After pg_start:
#   PG_URI      postgresql:///dep11?host=SOCKETDIR&user=dep11 (no password)
#   PGPASSFILE  exported: the password file libpq reads (mode 0600)
#   PG_SOCK     the socket directory; PG_PID the postmaster's pid
#   pg_psql     psql on the test database (arguments passed on)
# pg_start installs a trap on EXIT, INT and TERM that calls pg_stop: the
# server is stopped and its directory removed also when the test fails. A
# script that needs its own EXIT trap calls pg_stop from it.
#
# Skips (exit 77, reason printed) only when the packages are missing and
# scripts/install-deps cannot install them.

here_pg=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${abs_top_srcdir:=$(cd "$here_pg/../.." && pwd)}"
: "${abs_top_builddir:=$abs_top_srcdir}"
PG_PID="" PG_ROOT="" PG_SOCK="" PG_RUN=()

# pg_bindir: the directory of initdb and pg_ctl (PG_BINDIR overrides).
pg_bindir() {
    local d
    if [ -n "${PG_BINDIR:-}" ]; then
        echo "$PG_BINDIR"
        return
    fi
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
    done
}

# pg_need_packages: installs postgresql with scripts/install-deps when
# initdb is missing; exits 77 when that fails.
pg_need_packages() {
    PG_BIN=$(pg_bindir)
    if [ -z "$PG_BIN" ]; then
        echo "pg_server: no initdb/pg_ctl; running scripts/install-deps"
        "$abs_top_srcdir/scripts/install-deps" >&2 || true
        PG_BIN=$(pg_bindir)
    fi
    if [ -z "$PG_BIN" ] || ! command -v psql >/dev/null; then
        echo "SKIP: PostgreSQL (initdb, pg_ctl, psql) is not installed and" \
             "scripts/install-deps could not install it"
        exit 77
    fi
}

# pg_user: the unprivileged user the server runs as (as root), in PG_RUN.
pg_user() {
    PG_RUN=()
    [ "$(id -u)" -eq 0 ] || return 0
    local u=postgres
    if ! id -u "$u" >/dev/null 2>&1; then
        u=dep11pg
        id -u "$u" >/dev/null 2>&1 ||
            useradd --system --no-create-home --shell /usr/sbin/nologin "$u" ||
            { echo "pg_server: cannot create user $u" >&2; return 1; }
    fi
    PG_USER=$u
    PG_RUN=(runuser -u "$u" --)
}

# pg_dirs NAME: PG_ROOT in the build tree (or /tmp when the server's user
# cannot reach it, or its socket path would be too long).
pg_dirs() {
    PG_ROOT="${PG_DIR:-$abs_top_builddir/tests/integration/$1-pg}"
    rm -rf "$PG_ROOT"
    mkdir -p "$PG_ROOT" && chmod 0755 "$PG_ROOT" || return 1
    if [ "${#PG_ROOT}" -gt 80 ] ||
       { [ ${#PG_RUN[@]} -gt 0 ] && ! "${PG_RUN[@]}" test -x "$PG_ROOT"; }; then
        rmdir "$PG_ROOT"
        PG_ROOT=$(mktemp -d /tmp/dep11-pg.XXXXXX) && chmod 0755 "$PG_ROOT" ||
            return 1
        echo "pg_server: using $PG_ROOT (build tree unreachable or too long)"
    fi
    PG_SOCK="$PG_ROOT/sock"
    mkdir -p "$PG_ROOT/data" "$PG_SOCK" || return 1
    chmod 0700 "$PG_ROOT/data"
    if [ -n "${PG_USER:-}" ]; then
        chown "$PG_USER" "$PG_ROOT/data" "$PG_SOCK" || return 1
    fi
}

# pg_initdb: a cluster with superuser dep11 and a random password. Dynamic
# shared memory is System V, not files in /dev/shm that a cleaner of that
# directory (another test on the machine) could remove under the server.
pg_initdb() {
    local pw pwfile="$PG_ROOT/data.pw"
    pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
    (umask 077; printf '%s\n' "$pw" >"$pwfile")
    [ -z "${PG_USER:-}" ] || chown "$PG_USER" "$pwfile"
    "${PG_RUN[@]}" "$PG_BIN/initdb" -D "$PG_ROOT/data" -U dep11 \
        --pwfile="$pwfile" --auth-local=scram-sha-256 --auth-host=reject \
        -E UTF8 --locale=C.UTF-8 >"$PG_ROOT/initdb.log" 2>&1
    local rc=$?
    rm -f "$pwfile"
    if [ $rc -ne 0 ]; then
        echo "pg_server: initdb failed:" >&2
        cat "$PG_ROOT/initdb.log" >&2
        return 1
    fi
    (umask 077; printf '*:*:*:dep11:%s\n' "$pw" >"$PG_ROOT/pgpass")
    cat >>"$PG_ROOT/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$PG_SOCK'
unix_socket_permissions = 0700
max_connections = 40
shared_buffers = 32MB
fsync = ${PG_FSYNC:-off}
synchronous_commit = ${PG_SYNC_COMMIT:-off}
full_page_writes = off
dynamic_shared_memory_type = sysv
EOF
}

pg_start() {
    pg_need_packages
    pg_user || return 1
    pg_dirs "${1:-$(basename "$0" .sh)}" || return 1
    trap 'pg_stop' EXIT
    trap 'pg_stop; exit 130' INT
    trap 'pg_stop; exit 143' TERM
    pg_initdb || return 1
    # The socket is 0700 and owned by the server's user: root connects.
    if ! "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_ROOT/data" -w -t 60 \
         -l "$PG_ROOT/data/server.log" start >/dev/null 2>&1; then
        echo "pg_server: pg_ctl start failed:" >&2
        cat "$PG_ROOT/data/server.log" >&2
        return 1
    fi
    PG_PID=$(head -n1 "$PG_ROOT/data/postmaster.pid")
    export PGPASSFILE="$PG_ROOT/pgpass"
    PG_URI="postgresql:///dep11?host=$PG_SOCK&user=dep11"
    # initdb made database "postgres"; the tests use their own.
    psql -X -q -v ON_ERROR_STOP=1 \
        "postgresql:///postgres?host=$PG_SOCK&user=dep11" \
        -c 'CREATE DATABASE dep11' >/dev/null || {
        echo "pg_server: cannot create database dep11" >&2; return 1; }
}

pg_psql() {
    PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -At "$PG_URI" "$@"
}

# pg_hold_owners: a session of its own locks every owners row (FOR UPDATE,
# in a transaction left open) until pg_release_owners: a re-wrap worker then
# claims its batch, re-wraps it and waits in the statement that completes
# it. Tests use it to have two workers mid-job at once, deterministically
# (an idle machine re-wraps thousands of children before a second worker
# has started). pg_stop ends the session with the server.
pg_hold_owners() {
    PG_HOLD_DIR=$(mktemp -d)
    mkfifo "$PG_HOLD_DIR/in"
    pg_psql <"$PG_HOLD_DIR/in" >"$PG_HOLD_DIR/out" 2>&1 &
    PG_HOLD_PID=$!
    exec {PG_HOLD_FD}>"$PG_HOLD_DIR/in"
    echo "BEGIN; SELECT 'held', count(*) FROM (SELECT 1 FROM owners FOR UPDATE) x;" >&"$PG_HOLD_FD"
    for _ in $(seq 1 500); do
        grep -q '^held' "$PG_HOLD_DIR/out" && return 0
        sleep 0.02
    done
    echo "pg_hold_owners: the lock was not taken: $(cat "$PG_HOLD_DIR/out")" >&2
    return 1
}

# pg_release_owners: commits the holding session's transaction and ends it.
pg_release_owners() {
    echo "COMMIT;" >&"$PG_HOLD_FD"
    exec {PG_HOLD_FD}>&-
    wait "$PG_HOLD_PID" 2>/dev/null
    rm -rf "$PG_HOLD_DIR"
}

# pg_stop: stops the server (immediate: a throwaway has nothing to keep),
# kills what is left after 20 s, removes its directory. Idempotent.
pg_stop() {
    local i kids=""
    if [ -n "$PG_PID" ]; then
        kids=$(pgrep -P "$PG_PID" 2>/dev/null | tr '\n' ' ')
        "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_ROOT/data" -m immediate \
            -w -t 20 stop >/dev/null 2>&1
        for i in $(seq 1 100); do
            kill -0 "$PG_PID" $kids 2>/dev/null || break
            sleep 0.2
        done
        # shellcheck disable=SC2086
        [ "$i" -lt 100 ] || kill -9 "$PG_PID" $kids 2>/dev/null
        PG_PID=""
    fi
    if [ -n "$PG_ROOT" ] && [ -z "${PG_KEEP:-}" ]; then
        rm -rf "$PG_ROOT"
    fi
    PG_ROOT=""
}
