#!/usr/bin/env bash
# test_availability.sh: each availability scenario damages the roots, so each
# runs in its own fresh world.
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
status=0
for scenario in one both decrypt-off mixed; do
    itest_world "availability-$scenario"
    itest_run test_availability "$scenario" || status=1
done
exit $status
