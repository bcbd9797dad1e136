#!/usr/bin/env bash
# test_tool_crash.sh on opencryptoki (tests/integration/ock_run.sh).
exec bash "${abs_top_srcdir:?run through make check}/tests/integration/ock_run.sh" test_tool_crash
