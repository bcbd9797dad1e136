#!/usr/bin/env bash
# bench_store.sh [N]: the store at tenant scale (issue 12, item 4), on
# SQLite: bulk-assign N owners (default 1,000,000) to a policy, re-wrap all
# of them to another policy (store rewrap, 2 workers), and take the
# inventory; prints the seconds and rates of each step and the database
# size, with wall-clock and CPU seconds. A benchmark, not a test: `make check` does not run it. Needs a
# built tree (configure && make) and SoftHSM; run it on a quiet machine:
#   bench/bench_store.sh            # 1,000,000 owners
#   BENCH_WORKERS=1 bench/bench_store.sh 100000
# Env: abs_top_builddir (default: the source tree), BENCH_DIR (default: a
# temporary directory, removed at the end), BENCH_WORKERS (default 2).
set -euo pipefail

N=${1:-1000000}
WORKERS=${BENCH_WORKERS:-2}
here=$(cd "$(dirname "$0")" && pwd)
: "${abs_top_srcdir:=$(cd "$here/.." && pwd)}"
: "${abs_top_builddir:=$abs_top_srcdir}"
export abs_top_srcdir abs_top_builddir
: "${SOFTHSM_MODULE:=/usr/lib/softhsm/libsofthsm2.so}"
DEP11_MODULE="$abs_top_builddir/.libs/libdep11.so"
TOOL="$abs_top_builddir/tools/dep11-tool"
[ -x "$TOOL" ] && [ -f "$DEP11_MODULE" ] || { echo "bench_store: build first" >&2; exit 2; }

W=${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/dep11-bench.XXXXXX")}
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$W"' EXIT
bash "$abs_top_srcdir/tests/integration/setup-tokens.sh" "$W/world" >/dev/null
export SOFTHSM2_CONF="$W/world/softhsm2.conf" DEP11_CONF="$W/world/dep11.conf"
C=("$TOOL" --module "$DEP11_MODULE" --token-label contoso --pin-source "file:$W/world/user.pin")
TEN=0b5e2a6c-7c1d-4f51-9a0e-3d7b1c2e4f60
S="$W/store.db"
rm -f "$S" "$S-wal" "$S-shm"

"${C[@]}" policy create --type mailbox --tenant "$TEN" --name A --provider-managed >/dev/null
"${C[@]}" policy create --type mailbox --tenant "$TEN" --name B --provider-managed >/dev/null
seq 1 "$N" | sed 's/^/user/; s/$/@contoso.com/' >"$W/owners"

# secs CMD...: runs CMD (stdout to $W/last); prints "WALL CPU" seconds
# (CPU: user + system of CMD and its threads; on a loaded machine the wall
# time grows, the CPU time much less).
secs() {
    python3 - "$W/last" "$@" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
with open(sys.argv[1], "w") as out:
    subprocess.run(sys.argv[2:], check=False, stdout=out)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.2f %.2f" % (time.monotonic() - t, r.ru_utime + r.ru_stime))
PY
}
rate() { python3 -c 'import sys; print("%.0f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$N" "$1"; }

read -r a ac < <(secs "${C[@]}" --json mailbox assign --store "$S" --policy A --owners "$W/owners")
grep -q "\"created\":$N" "$W/last" || { echo "assign failed: $(cat "$W/last")" >&2; exit 1; }
read -r r rc < <(secs "${C[@]}" --json store rewrap --store "$S" --to B --workers "$WORKERS")
grep -q "\"rewrapped\":$N" "$W/last" || { echo "rewrap failed: $(cat "$W/last")" >&2; exit 1; }
read -r i ic < <(secs "$TOOL" --json store inventory --store "$S")
grep -q "\"total\":$N" "$W/last" || { echo "inventory failed" >&2; exit 1; }
size=$(du -sm "$S" | cut -f1)

printf '%-36s %9s %9s %11s\n' "step ($N owners, SQLite)" "wall s" "CPU s" "per wall s"
printf '%-36s %9s %9.2f %11s\n' "mailbox assign --owners (bulk)" "$a" "$ac" "$(rate "$a")"
printf '%-36s %9s %9.2f %11s\n' "store rewrap A -> B ($WORKERS workers)" "$r" "$rc" "$(rate "$r")"
printf '%-36s %9s %9.2f %11s\n' "store inventory" "$i" "$ic" "-"
printf '%-36s %9s\n' "database size (MB)" "$size"
printf 'load average at the end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
