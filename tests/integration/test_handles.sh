#!/usr/bin/env bash
# test_handles.sh: the handle allow-list, in one fresh SoftHSM world with
# trusted-roots = any (the race wraps under key pairs it makes and destroys):
# the rules once, then the race three times (each run several rounds).
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
itest_world handles
export DEP11_CONF="$ITEST_WORLD/dep11-any.conf"
status=0
itest_run test_handles rules || status=1
runs="1 2 3"
if [ "$ITEST_BACKEND" = opencryptoki ]; then
    # Without the prober threads (see test_race) a rerun adds nothing.
    runs=1
    echo "race on opencryptoki: one run, not three (no prober threads)"
fi
for run in $runs; do
    itest_run test_handles race || status=1
done
exit $status
