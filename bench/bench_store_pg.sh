#!/usr/bin/env bash
# bench/bench_store_pg.sh [BUILD-DIR]: the shared re-wrap job on PostgreSQL,
# 1 worker process against 2, on a throwaway server (pg_server.sh). Figures,
# not a test (never part of make check). Target: 2 workers >= 1.6x one.
#
#   BENCH_N=60000   children per run
#   BENCH_MODE=drv  store_pg_drv workers: the backend alone (claim, complete;
#                   the "re-wrap" is a byte append, no HSM)
#   BENCH_MODE=tool dep11-tool store rewrap --threads 1 workers on a SoftHSM
#                   world: CHILD_UNWRAP + CHILD_WRAP through libdep11.so
#   BENCH_BATCH=100 children per claim (drv; dep11-tool claims 500)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
N=${BENCH_N:-60000} MODE=${BENCH_MODE:-drv} BATCH=${BENCH_BATCH:-100}
export abs_top_srcdir="$top" abs_top_builddir="$build"
targets=(tests/integration/store_pg_drv)
[ "$MODE" != tool ] || targets+=(tools/dep11-tool libdep11.la tests/integration/itool)
make -C "$build" -j2 "${targets[@]}" >/dev/null || exit 1
DRV="$build/tests/integration/store_pg_drv"
# shellcheck source=tests/integration/pg_server.sh
. "$top/tests/integration/pg_server.sh"
PG_DIR="$build/bench/pg" pg_start bench_store_pg || exit 1

now() { date +%s.%N; }
reset() {
    pg_psql -c 'DROP TABLE IF EXISTS job_items, jobs, owners, store_version'
}

if [ "$MODE" = tool ]; then
    # A SoftHSM world with policies A and B; seed = bulk assign to A,
    # worker = `store rewrap --to B` with one thread.
    world="$build/bench/pg-world"
    export SOFTHSM_MODULE=${SOFTHSM_MODULE:-$(sed -n 's/^SOFTHSM_MODULE = //p' "$build/Makefile")}
    export ITEST_TOOL="$build/tests/integration/itool"
    "$top/tests/integration/setup-tokens.sh" "$world" >/dev/null || exit 1
    export SOFTHSM2_CONF="$world/softhsm2.conf" DEP11_CONF="$world/dep11.conf"
    C=("$build/tools/dep11-tool" --module "$build/.libs/libdep11.so"
       --token-label contoso --pin-source "file:$world/user.pin")
    ten=0b5e2a6c-7c1d-4f51-9a0e-3d7b1c2e4f60
    for p in A B; do
        "${C[@]}" policy create --type mailbox --tenant $ten --name $p \
            --provider-managed >/dev/null || exit 1
    done
    seq -f 'owner%g' 1 "$N" >"$world/owners"
    seed() {
        "${C[@]}" mailbox assign --store "$PG_URI" --policy A \
            --owners "$world/owners" >/dev/null
    }
    worker() {
        "${C[@]}" store rewrap --store "$PG_URI" --to B --workers 1 >/dev/null
    }
else
    seed() { "$DRV" "$PG_URI" seed "$N" >/dev/null; }
    worker() { "$DRV" "$PG_URI" work "w$1" "$BATCH" 60 >/dev/null; }
fi

# run K: seeds N children, runs K workers at once, prints children/s.
run() {
    local k=$1 t0 t1 pids=() rc=0
    reset
    seed || { echo "seed failed" >&2; exit 1; }
    t0=$(now)
    for i in $(seq 1 "$k"); do
        worker "$i" & pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    t1=$(now)
    [ $rc -eq 0 ] || { echo "a worker failed" >&2; exit 1; }
    awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", n / (b - a) }'
}

echo "bench_store_pg: mode $MODE, $N children, batch $BATCH, $(nproc) cores"
r1=$(run 1); echo "1 worker : $r1 children/s"
r2=$(run 2); echo "2 workers: $r2 children/s"
awk -v a="$r1" -v b="$r2" 'BEGIN { r = b / a;
    printf "speed-up  : %.2fx (target >= 1.6x) %s\n", r, (r >= 1.6) ? "ok" : "MISSED" }'
