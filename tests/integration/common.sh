# common.sh: sourced by the integration test scripts (tests/integration/*.sh).
# Skips (exit 77) without SoftHSM, makes a fresh SoftHSM world per test under
# the build tree with setup-tokens.sh, and exports what the programs read:
# SOFTHSM2_CONF, DEP11_CONF, ITEST_WORLD, ITEST_TOOL, DEP11_MODULE.
set -euo pipefail

# The backend: ITEST_BACKEND=opencryptoki (set by test_ock.sh, which runs
# the script inside its opencryptoki world's mount namespace) makes
# itest_world build worlds on opencryptoki's soft tokens (ock_world.sh);
# the direct helpers that take SOFTHSM_MODULE then talk to opencryptoki.
: "${ITEST_BACKEND:=softhsm}"
if [ "$ITEST_BACKEND" = opencryptoki ]; then
    # shellcheck source=tests/integration/ock_world.sh
    . "${abs_top_srcdir:?run through make check}/tests/integration/ock_world.sh"
    SOFTHSM_MODULE=$OCK_MODULE
    export SOFTHSM_MODULE
fi
if [ -z "${SOFTHSM_MODULE:-}" ] || [ ! -f "${SOFTHSM_MODULE}" ]; then
    echo "SKIP: no SoftHSM module (SOFTHSM_MODULE='${SOFTHSM_MODULE:-}')"
    exit 77
fi
: "${abs_top_srcdir:?run through make check}"
: "${abs_top_builddir:?run through make check}"
: "${DEP11_MODULE:?run through make check}"
if [ ! -f "$DEP11_MODULE" ]; then
    echo "ERROR: $DEP11_MODULE is not built" >&2
    exit 99
fi

itest_src="$abs_top_srcdir/tests/integration"
itest_bin="$abs_top_builddir/tests/integration"
export ITEST_TOOL="$itest_bin/itool"
# SoftHSM logs to syslog; keep its noise out of the test logs.
export DEP11_DEBUG="${DEP11_DEBUG:-2}"

# An ASan build of the module needs the ASan runtime first in an
# uninstrumented program (pkcs11-tool); its leaks are not ours to report.
itest_preload=""
asan_rt=$(ldd "$DEP11_MODULE" 2>/dev/null | awk '/libasan\.so/ { print $3; exit }')
if [ -n "$asan_rt" ]; then
    itest_preload="$asan_rt"
fi

# itest_world NAME: a fresh world in $itest_bin/worlds/NAME$ITEST_WORLD_TAG.
# With ITEST_PROFILE_KEYS ("key = value" settings separated by ';') every
# config of the world names a copy of its profile with those keys set
# (itest_profile_keys): a whole test script reruns under another route,
# e.g. ITEST_PROFILE_KEYS="availability-key = rsa" (test_avail_rsa.sh).
itest_world() {
    local c kv=()
    ITEST_WORLD="$itest_bin/worlds/$1${ITEST_WORLD_TAG:-}"
    export ITEST_WORLD
    # The helpers run against SoftHSM directly; SoftHSM's own allocations
    # are not this project's leaks.
    if [ "$ITEST_BACKEND" = opencryptoki ]; then
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
            ock_world_tokens "$ITEST_WORLD"
    else
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
            "$itest_src/setup-tokens.sh" "$ITEST_WORLD"
    fi
    export SOFTHSM2_CONF="$ITEST_WORLD/softhsm2.conf"
    export DEP11_CONF="$ITEST_WORLD/dep11.conf"
    if [ -n "${ITEST_PROFILE_KEYS:-}" ]; then
        IFS=';' read -r -a kv <<<"$ITEST_PROFILE_KEYS"
        for c in dep11.conf dep11-system.conf dep11-any.conf; do
            itest_profile_keys "$c" "${kv[@]}"
        done
        echo "itest_world: profile keys: $ITEST_PROFILE_KEYS"
    fi
}

# itest_slot_of LABEL: the backend's slot id of a token (SoftHSM's ids are
# stable: they derive from the token serial; opencryptoki's are the slot
# numbers of its config, 0 1 2).
itest_slot_of() {
    if [ "$ITEST_BACKEND" = opencryptoki ]; then
        pkcs11-tool --module "$OCK_MODULE" -L 2>/dev/null | awk -v want="$1" '
            /^Slot [0-9]+/ { slot = $2 }
            /^ *token label *:/ { sub(/^ *token label *: */, ""); sub(/ *$/, "");
                                  if ($0 == want) { print slot; exit } }'
        return
    fi
    softhsm2-util --show-slots 2>/dev/null | awk -v want="$1" '
        /^Slot [0-9]+/ { slot = $2 }
        /^ *Label:/ { sub(/^ *Label: */, ""); sub(/ *$/, ""); if ($0 == want) { print slot; exit } }'
}

# itest_new_root TOKEN LABEL ID [BITS]: a new RSA key pair LABEL (CKA_ID
# ID, default 2048 bits) on TOKEN of the world, made as the customer makes
# it (private half sensitive and never extractable), then registered as a
# root by the customer's key officer: on SoftHSM the trusted twin (itool
# register, the SO PIN); on opencryptoki ock_world_register_roots.
itest_new_root() {
    local tok=$1 label=$2 id=$3 bits=${4:-2048}
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$tok" --login \
        --pin "$(head -n1 "$ITEST_WORLD/user.pin")" --keypairgen --key-type "rsa:$bits" \
        --label "$label" --id "$id" --usage-decrypt >/dev/null 2>&1 ||
        { echo "itest_new_root: keypairgen $label on $tok failed" >&2; return 1; }
    if [ "$ITEST_BACKEND" = opencryptoki ]; then
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
            "$ITEST_TOOL" customer "$OCK_MODULE" "$tok" "$ITEST_WORLD/user.pin" extractable-off \
            "priv:$label" | grep -q '^rv=0x0 ' ||
            { echo "itest_new_root: $label stays extractable" >&2; return 1; }
        ock_world_register_roots "$ITEST_WORLD" "$tok:$label"
        return
    fi
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        "$ITEST_TOOL" register "$SOFTHSM_MODULE" "$tok" "$ITEST_WORLD/so.pin" "$label"
}

# itest_needs WHAT: exits 77 after one line saying why, when this backend
# cannot run the script. WHAT: softhsm (a SoftHSM quirk or tool),
# trusted-twin (roots registered by a CKA_TRUSTED twin: opencryptoki has
# none; its roots are registered by SO login), aes-gcm (an AES-GCM
# availability key).
itest_needs() {
    local why=""
    if [ "$ITEST_BACKEND" = opencryptoki ]; then
        case "$1" in
            softhsm) why="it is about SoftHSM itself${2:+ ($2)}" ;;
            trusted-twin) why="it is about CKA_TRUSTED twins, which the token lacks (its roots are registered by SO login: root-registration = so-login, tested by test_rootreg)" ;;
            aes-gcm) why="needs AES-GCM in the HSM (the soft token has none)" ;;
            *) why="needs $1" ;;
        esac
    fi
    if [ -n "$why" ]; then
        echo "SKIP: $(basename "$0") on $ITEST_BACKEND: $why"
        exit 77
    fi
}

# itest_need_shim: sets shim to the fault-injecting shim's library
# (tests/faultshim), or exits 77 after one line when it is not built.
itest_need_shim() {
    shim="$abs_top_builddir/tests/faultshim/.libs/libdep11-faultmod.so"
    if [ ! -f "$shim" ]; then
        echo "SKIP: the fault shim $shim is not built"
        exit 77
    fi
}

# itest_shim_profile OUT: writes the world's profile (the backend's) with the
# shim as its module to OUT (after itest_need_shim and itest_world).
itest_shim_profile() {
    sed "s|^module *=.*|module = $shim|" "$(sed -n 's/^profile *= *//p' "$ITEST_WORLD/dep11.conf")" \
        >"$1"
    grep -q "^module = $shim\$" "$1"
}

# itest_run PROGRAM [ARGS...]: runs a test program from the build tree;
# under valgrind (memcheck, definite leaks are errors) when ITEST_VALGRIND=1.
itest_run() {
    local prog="$itest_bin/$1"
    shift
    echo "== $(basename "$prog") $* (DEP11_CONF=$DEP11_CONF)"
    if [ "${ITEST_VALGRIND:-0}" = 1 ] && [ -z "$itest_preload" ]; then
        valgrind --quiet --error-exitcode=98 --leak-check=full \
            --errors-for-leak-kinds=definite --show-leak-kinds=definite \
            --trace-children=no "$prog" "$@"
    else
        "$prog" "$@"
    fi
}

# p11tool ARGS...: pkcs11-tool through dep11 (ASan runtime preloaded when
# the module is instrumented).
p11tool() {
    if [ -n "$itest_preload" ]; then
        LD_PRELOAD="$itest_preload" \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0:verify_asan_link_order=0" \
            pkcs11-tool --module "$DEP11_MODULE" "$@"
    else
        pkcs11-tool --module "$DEP11_MODULE" "$@"
    fi
}

# itest_profile_keys CONF "key = value"...: CONF (a config of the world, e.g.
# dep11.conf) names a copy of its profile with these keys set (each replaces
# the key's line, or is added), written beside it as CONF.profile. The
# other configs of the world keep their profile.
itest_profile_keys() {
    local conf="$ITEST_WORLD/$1" prof kv key
    shift
    prof=$(sed -n 's/^profile *= *//p' "$conf")
    cp "$prof" "$conf.profile"
    for kv in "$@"; do
        kv=$(echo "$kv" | sed 's/^ *//; s/ *$//')
        key=${kv%%=*}
        key=${key%% }
        sed -i "/^${key} *=/d" "$conf.profile"
        echo "$kv" >>"$conf.profile"
    done
    sed -i "s|^profile *=.*|profile = $conf.profile|" "$conf"
}
