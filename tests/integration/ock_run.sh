#!/usr/bin/env bash
# ock_run.sh NAME: runs the integration script tests/integration/NAME.sh on
# opencryptoki (issue 13 item 3). Used by the wrappers
# tests/integration/ock/NAME.sh, one make check entry per script, so make
# runs them in parallel like the SoftHSM ones. Builds a private world of
# ock_world.sh for this script alone (mount namespace, its own pkcsslotd,
# under $abs_top_builddir/tests/integration/worlds/ock-NAME) and runs the
# script inside it with ITEST_BACKEND=opencryptoki: every itest_world of the
# script is then an opencryptoki world (ock_world_tokens, the profile
# hsm-profiles/opencryptoki.conf). The world stops when the script ends,
# fails or is killed (the trap of ock_world_start). A script that cannot
# apply to opencryptoki says why in one line and exits 77 (itest_needs in
# common.sh); so does this wrapper when the machine cannot build a world.
set -euo pipefail
: "${abs_top_srcdir:?run through make check}"
: "${abs_top_builddir:?run through make check}"
name=${1:?usage: ock_run.sh NAME}
shift
itest_src="$abs_top_srcdir/tests/integration"
# shellcheck source=tests/integration/ock_world.sh
. "$itest_src/ock_world.sh"

if ! why=$(ock_world_usable); then
    echo "SKIP: $name on opencryptoki: $why"
    exit 77
fi
# The script's worlds re-initialize the tokens (ock_world_tokens): the
# holder and the mounts are all this start needs (no token set-up).
OCK_NO_TOKENS=1 ock_world_start "$abs_top_builddir/tests/integration/worlds/ock-$name"
status=0
# An ASan build: opencryptoki's allocations are not this project's leaks;
# its per-slot library copies leave them unsymbolized ("<unknown module>"),
# so no suppression can name them: leak detection is off for the
# opencryptoki runs (the same scripts run on SoftHSM with it on).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$itest_src/lsan-ock.supp"
ock_in env ITEST_BACKEND=opencryptoki ITEST_WORLD_TAG=-ock OCK_DIR="$OCK_DIR" \
    OCK_HOLDER="$OCK_HOLDER" bash "$itest_src/$name.sh" "$@" || status=$?
ock_world_stop
trap - EXIT INT TERM
exit $status
