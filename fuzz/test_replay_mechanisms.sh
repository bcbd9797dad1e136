#!/usr/bin/env bash
# test_replay_mechanisms.sh: replays fuzz/corpus/mechanisms through the
# module's C_ entry points (fuzz/replay_mechanisms) in a fresh SoftHSM world.
. "${abs_top_srcdir:-$(dirname "$0")/..}/tests/integration/common.sh"
itest_world fuzz-mechanisms
echo "== replay_mechanisms (DEP11_CONF=$DEP11_CONF)"
"$abs_top_builddir/fuzz/replay_mechanisms" "$abs_top_srcdir/fuzz/corpus/mechanisms"
