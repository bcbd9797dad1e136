#!/usr/bin/env bash
# test_fork.sh on opencryptoki (tests/integration/ock_run.sh).
exec bash "${abs_top_srcdir:?run through make check}/tests/integration/ock_run.sh" test_fork
