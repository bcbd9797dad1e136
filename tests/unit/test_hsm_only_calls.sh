#!/bin/sh
# test_hsm_only_calls.sh: module/hsm owns every call into the backend
# (hsm/call.h): no "->C_" call through a function list anywhere else in
# module/, and no file outside module/hsm asks for the backend's list to
# call through it.
top=${abs_top_srcdir:-$(dirname "$0")/../..}
bad=$(grep -rn --include='*.c' --include='*.h' -e '->C_[A-Z]' "$top/module" |
      grep -v "^$top/module/hsm/")
if [ -n "$bad" ]; then
    echo "backend calls outside module/hsm (use the dep11_hsm_<Function> wrappers):"
    echo "$bad"
    exit 1
fi
n=$(grep -rn --include='*.c' --include='*.h' -e '->C_[A-Z]' "$top/module/hsm" | wc -l)
echo "ok: ${n} backend calls, all in module/hsm"
