# ock_world.sh: an opencryptoki test world, sourced by the tests (through
# common.sh with ITEST_BACKEND=opencryptoki, and test_ock.sh) and by
# scripts/demo. opencryptoki's paths are fixed (/etc/opencryptoki,
# /var/lib/opencryptoki, /run, /dev/shm): the world isolates them in a
# private mount namespace, so nothing of the machine's set-up is touched
# (DESIGN section 8):
#   ock_world_start DIR   a holder process (unshare -m -i --propagation private:
#                         mount and System V IPC namespaces)
#                         whose namespace has scratch directories of DIR
#                         bind-mounted over the four paths; opencryptoki.conf
#                         with one soft token per name in $OCK_TOKENS (default:
#                         contoso fabrikam dep11-provider), slot 0, 1, ...;
#                         pkcsslotd -f started inside; each token initialized
#                         with pkcsconf (label, SO PIN DIR/so.pin, user PIN
#                         DIR/user.pin; the provider token's user PIN
#                         DIR/provider.pin: PINs of 4 to 8 characters).
#                         Installs a trap that stops everything on EXIT, INT
#                         and TERM, also when the caller fails. With
#                         OCK_NO_TOKENS set: the namespace only (no config,
#                         no pkcsslotd; ock_world_tokens makes them).
#   ock_in CMD...         runs CMD inside the world's namespaces (nsenter -m -i).
#   ock_world_fresh SO USER PROVIDER
#                         every token back to factory state and initialized
#                         again (PIN files SO, USER, PROVIDER): a fresh world.
#   ock_world_stop        stops pkcsslotd and the holder (no pkcsslotd left).
#   ock_world_tokens DIR  inside a started world: a fresh test world in DIR
#                         laid out as setup-tokens.sh lays out a SoftHSM one
#                         (same files, labels, key labels and ids, configs
#                         naming hsm-profiles/opencryptoki.conf), the three
#                         tokens re-initialized (slots 0 contoso, 1 fabrikam,
#                         2 dep11-provider) and the provider token provisioned
#                         with dep11-tool provider init. The token has no
#                         CKA_TRUSTED, so roots cannot be registered the
#                         SoftHSM way: ock_world_register_roots WORLD has
#                         the SO register them through dep11 (so-login;
#                         not with ITEST_NO_ROOT_REGISTRATION set).
#                         The profile is hsm-profiles/opencryptoki.conf
#                         (ITEST_PROFILE, a SoftHSM profile, is ignored).
#   ock_world_usable      0 when this machine can build a world; else prints
#                         why not on one line (not root, no unshare, no
#                         opencryptoki) and returns 1.
# Variables: OCK_MODULE (opencryptoki's PKCS#11 library), OCK_HOLDER (pid).
OCK_MODULE=${OCK_MODULE:-/usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so}
OCK_STDLL=${OCK_STDLL:-/usr/lib/x86_64-linux-gnu/opencryptoki/stdll/libpkcs11_sw.so}
OCK_FACTORY_SO_PIN=87654321
OCK_HOLDER=${OCK_HOLDER:-}
OCK_DIR=${OCK_DIR:-}

ock_world_usable() {
    if [ "$(id -u)" != 0 ]; then
        echo "opencryptoki world: needs root for a private mount namespace (unshare -m)"
        return 1
    fi
    if ! command -v pkcsslotd >/dev/null || ! command -v pkcsconf >/dev/null ||
        [ ! -f "$OCK_MODULE" ]; then
        echo "opencryptoki world: opencryptoki is not installed (pkcsslotd, pkcsconf, $OCK_MODULE)"
        return 1
    fi
    if ! unshare -m -i --propagation private true 2>/dev/null; then
        echo "opencryptoki world: this machine cannot create mount and IPC namespaces (unshare -m -i)"
        return 1
    fi
    return 0
}

# ock_host_mounts: how many mounts over opencryptoki's paths the calling
# process's namespace has (a world must leave the machine's count as it was).
ock_host_mounts() {
    grep -cE ' (/etc/opencryptoki|/var/lib/opencryptoki|/run) ' /proc/self/mountinfo || true
}

# (From inside the namespace too: a test run by test_ock.sh gets OCK_DIR
# and OCK_HOLDER in its environment.)
ock_in() {
    nsenter -m -i -t "$OCK_HOLDER" -- "$@"
}

# Stops pkcsslotd (the one in $OCK_DIR/slotd.pid: a test that reset the
# world started a new one) and waits for it to go.
ock_slotd_stop() {
    local p
    p=$(cat "$OCK_DIR/slotd.pid" 2>/dev/null || true)
    [ -n "$p" ] || return 0
    kill "$p" 2>/dev/null || true
    for _ in $(seq 30); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$p" 2>/dev/null || true
    rm -f "$OCK_DIR/slotd.pid"
}

ock_world_stop() {
    [ -n "$OCK_DIR" ] && ock_slotd_stop
    if [ -n "$OCK_HOLDER" ]; then
        kill "$OCK_HOLDER" 2>/dev/null || true
        wait "$OCK_HOLDER" 2>/dev/null || true
    fi
    OCK_HOLDER=""
}

# Starts pkcsslotd -f inside the namespace; waits until it answers.
ock_slotd_start() {
    nsenter -m -i -t "$OCK_HOLDER" -- pkcsslotd -f >>"$OCK_DIR/ock.log" 2>&1 &
    echo $! >"$OCK_DIR/slotd.pid"
    for _ in $(seq 50); do
        ock_in pkcsconf -s >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "ock_world: pkcsslotd does not answer" >&2
    return 1
}

# The namespace: the four paths over scratch directories.
ock_world_mount() {
    ock_in sh -ec '
        d=$1
        if [ "$(readlink /proc/self/ns/mnt)" = "$2" ]; then
            echo "ock_world: the holder has no namespace of its own: nothing mounted" >&2
            exit 1
        fi
        mount --bind "$d/ns/etc" /etc/opencryptoki
        mount --bind "$d/ns/lib" /var/lib/opencryptoki
        mount --bind "$d/ns/run" /run
        mount --bind "$d/ns/shm" /dev/shm
    ' sh "$OCK_DIR" "$OCK_HOST_NS"
}

# Empty token state: the config with one soft token per name, the token
# and lock directories (group pkcs11, mode 0770), nothing else.
ock_world_layout() {
    local names=("$@") i
    rm -rf "${OCK_DIR:?}/ns/lib/"* "$OCK_DIR/ns/run/"* "$OCK_DIR/ns/shm/"*
    mkdir -p "$OCK_DIR/stdll"
    {
        echo "version opencryptoki-3.1"
        for i in "${!names[@]}"; do
            # One copy of the soft token library per slot: opencryptoki 3.8
            # loads the same file once per process, and then its soft
            # tokens share one state (a login on one is a login on all, and
            # a session of one slot finds the other's objects).
            [ -f "$OCK_DIR/stdll/libpkcs11_sw$i.so" ] ||
                cp "$OCK_STDLL" "$OCK_DIR/stdll/libpkcs11_sw$i.so"
            printf 'slot %d\n{\nstdll = %s\ntokname = swtok%d\n}\n' "$i" \
                "$OCK_DIR/stdll/libpkcs11_sw$i.so" "$i"
        done
    } >"$OCK_DIR/ns/etc/opencryptoki.conf"
    ock_in sh -ec '
        n=$1
        mkdir -p /run/opencryptoki /run/lock/opencryptoki
        i=0
        while [ "$i" -lt "$n" ]; do
            mkdir -p "/var/lib/opencryptoki/swtok$i/TOK_OBJ" "/run/lock/opencryptoki/swtok$i"
            i=$((i + 1))
        done
        chgrp -R pkcs11 /var/lib/opencryptoki /run/opencryptoki /run/lock/opencryptoki
        chmod -R 0770 /var/lib/opencryptoki /run/opencryptoki /run/lock/opencryptoki
    ' sh "${#names[@]}"
}

# ock_world_fresh: every token back to its factory state (pkcsslotd
# stopped, token files wiped, pkcsslotd started again), then initialized:
# label, SO PIN $1, user PINs as ock_world_start says ($2: the user PIN file,
# $3: the provider PIN file). opencryptoki 3.8 cannot re-initialize a token
# in place (the SO login fails afterwards), hence the restart.
ock_world_fresh() {
    local names i so
    so=$(head -n1 "$1")
    read -r -a names <<<"${OCK_TOKENS:-contoso fabrikam dep11-provider}"
    ock_slotd_stop
    ock_world_layout "${names[@]}" || return 1
    ock_slotd_start || return 1
    for i in "${!names[@]}"; do
        if [ "${names[$i]}" = dep11-provider ]; then
            ock_token_init "$i" "${names[$i]}" "$so" "$(head -n1 "$3")" || return 1
        else
            ock_token_init "$i" "${names[$i]}" "$so" "$(head -n1 "$2")" || return 1
        fi
    done
}

# ock_token_init SLOT LABEL SOPIN USERPIN: a factory-fresh token initialized
# with LABEL (read from standard input), SO PIN SOPIN and user PIN USERPIN.
ock_token_init() {
    local slot=$1 label=$2 so=$3 pin=$4 log="$OCK_DIR/ock.log"
    echo "$label" | ock_in pkcsconf -c "$slot" -I -S "$OCK_FACTORY_SO_PIN" >>"$log" 2>&1 &&
        ock_in pkcsconf -c "$slot" -P -S "$OCK_FACTORY_SO_PIN" -n "$so" >>"$log" 2>&1 &&
        ock_in pkcsconf -c "$slot" -u -S "$so" -n "$pin" >>"$log" 2>&1 ||
        { echo "ock_world: initializing token $label (slot $slot) failed" >&2; return 1; }
}

ock_world_start() {
    mkdir -p "$1"
    OCK_DIR=$(cd "$1" && pwd)
    case "$OCK_DIR" in
        /|/tmp|/usr*|/etc*|/var/lib*|/run*) echo "ock_world: refusing $OCK_DIR" >&2; return 2 ;;
    esac
    export OCK_DIR
    rm -rf "$OCK_DIR/ns"
    mkdir -p "$OCK_DIR/ns/etc" "$OCK_DIR/ns/lib" "$OCK_DIR/ns/run" "$OCK_DIR/ns/shm"
    : >"$OCK_DIR/ock.log"
    [ -f "$OCK_DIR/user.pin" ] || printf '1234\n' >"$OCK_DIR/user.pin"
    [ -f "$OCK_DIR/so.pin" ] || printf '5678\n' >"$OCK_DIR/so.pin"
    [ -f "$OCK_DIR/provider.pin" ] ||
        printf 'p%s\n' "$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n' | cut -c1-7)" \
            >"$OCK_DIR/provider.pin"
    chmod 600 "$OCK_DIR"/*.pin
    trap 'ock_world_stop' EXIT
    trap 'ock_world_stop; exit 130' INT
    trap 'ock_world_stop; exit 143' TERM
    # An IPC namespace too: pkcsslotd's System V shared memory key is the
    # same in every world (worlds running side by side would share it).
    unshare -m -i --propagation private sleep infinity &
    OCK_HOLDER=$!
    export OCK_HOLDER
    # Never mount before the holder is in a namespace of its own: a bind
    # mount in the machine's namespace would hide its /run.
    OCK_HOST_NS=$(readlink /proc/self/ns/mnt)
    export OCK_HOST_NS
    for _ in $(seq 100); do
        [ "$(readlink "/proc/$OCK_HOLDER/ns/mnt" 2>/dev/null || echo "$OCK_HOST_NS")" != \
            "$OCK_HOST_NS" ] && break
        sleep 0.05
    done
    ock_world_mount || return 1
    if [ -n "${OCK_NO_TOKENS:-}" ]; then
        echo "ock_world: namespace ready in $OCK_DIR (holder $OCK_HOLDER; no tokens yet)"
        return 0
    fi
    ock_world_fresh "$OCK_DIR/so.pin" "$OCK_DIR/user.pin" "$OCK_DIR/provider.pin" || return 1
    echo "ock_world: tokens ready in $OCK_DIR (holder $OCK_HOLDER, pkcsslotd $(cat "$OCK_DIR/slotd.pid"))"
}

# ock_world_register_roots WORLD [TOKEN:LABEL...]: the customer roots of
# WORLD's tokens registered by the customer's key officer. The token has no
# CKA_TRUSTED, so the SoftHSM way (a trusted twin made by the SO) does not
# exist here: the profile says root-registration = so-login, and
# `dep11-tool root register` has dep11 log the token's SO in (WORLD/so.pin)
# and record the registration on the provider token (docs/SECURITY.md).
# Without arguments: root1, root2 and extractable on contoso, froot1 and
# froot2 on fabrikam (as setup-tokens.sh registers them); needs the
# provider token provisioned. A root registered already stays so.
ock_world_register_roots() {
    local dir=$1 tool="${abs_top_builddir:?}/tools/dep11-tool" kt
    shift
    if [ $# -eq 0 ]; then
        set -- contoso:root1 contoso:root2 contoso:extractable
        [ "${ITEST_FABRIKAM_ROOTS:-1}" = 0 ] || set -- "$@" fabrikam:froot1 fabrikam:froot2
    fi
    for kt in "$@"; do
        ock_in env DEP11_CONF="$dir/dep11.conf" \
            ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$tool" \
            --module "${DEP11_MODULE:?}" --token-label "${kt%%:*}" root register \
            --key-label "${kt#*:}" --so-pin-source "file:$dir/so.pin" >>"$dir/ock.log" 2>&1 ||
            { echo "ock_world: root register ${kt#*:} on ${kt%%:*} failed ($dir/ock.log)" >&2; return 1; }
    done
    echo "ock_world: roots registered by SO login through dep11: $*"
}

ock_world_tokens() {
    local dir tool="${abs_top_builddir:?}/tools/dep11-tool" profile c
    local itool="$abs_top_builddir/tests/integration/itool"
    mkdir -p "$1"
    dir=$(cd "$1" && pwd)
    rm -rf "$dir"
    mkdir -p "$dir"
    printf '1234\n' >"$dir/user.pin"
    printf '5678\n' >"$dir/so.pin"
    printf 'p%s\n' "$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n' | cut -c1-7)" >"$dir/provider.pin"
    chmod 600 "$dir"/*.pin
    : >"$dir/ock.log"
    ock_world_fresh "$dir/so.pin" "$dir/user.pin" "$dir/provider.pin" || return 1
    ock_keys() {
        local tok=$1
        shift
        ock_in pkcs11-tool --module "$OCK_MODULE" --token-label "$tok" --login --pin 1234 \
            --keypairgen --usage-decrypt "$@" >>"$dir/ock.log" 2>&1
    }
    ock_keys contoso --key-type rsa:3072 --label root1 --id 01 &&
        ock_keys contoso --key-type rsa:3072 --label root2 --id 02 &&
        ock_keys contoso --key-type rsa:2048 --label unregistered --id 03 &&
        ock_keys contoso --key-type rsa:2048 --label extractable --id 04 --extractable ||
        return 1
    if [ "${ITEST_FABRIKAM_ROOTS:-1}" != 0 ]; then
        ock_keys fabrikam --key-type rsa:2048 --label froot1 --id 21 &&
            ock_keys fabrikam --key-type rsa:2048 --label froot2 --id 22 || return 1
    fi
    # The soft token makes a private key extractable unless the template
    # says otherwise (pkcs11-tool says nothing): the roots are made
    # non-extractable as SoftHSM's are, all but "extractable".
    for c in contoso:root1 contoso:root2 contoso:unregistered fabrikam:froot1 fabrikam:froot2; do
        [ "${c%%:*}" = contoso ] || [ "${ITEST_FABRIKAM_ROOTS:-1}" != 0 ] || continue
        ock_in env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
            "$itool" customer "$OCK_MODULE" "${c%%:*}" "$dir/user.pin" extractable-off \
            "priv:${c#*:}" 2>>"$dir/ock.log" | grep -q '^rv=0x0 ' ||
            { echo "ock_world: ${c#*:} stays extractable" >&2; return 1; }
    done
    profile="${abs_top_srcdir:?}/hsm-profiles/opencryptoki.conf"
    for c in "dep11.conf:system-requests = deny" \
        "dep11-system.conf:system-requests = allow|recovery-requests = allow|audit-log = $dir/audit-system.jsonl" \
        "dep11-any.conf:system-requests = deny|trusted-roots = any"; do
        {
            echo "# written by tests/integration/ock_world.sh (opencryptoki)"
            echo "profile = $profile"
            echo "provider-token = dep11-provider"
            echo "provider-pin = file:$dir/provider.pin"
            echo "${c#*:}" | tr '|' '\n'
        } >"$dir/${c%%:*}"
    done
    if [ -z "${ITEST_NO_PROVISION:-}" ]; then
        ock_in "$tool" --module "$OCK_MODULE" provider init --config "$dir/dep11.conf" \
            >>"$dir/ock.log" 2>&1 || return 1
        if [ -z "${ITEST_NO_ROOT_REGISTRATION:-}" ]; then
            ock_world_register_roots "$dir" >>"$dir/ock.log" || return 1
        fi
    fi
    echo "ock_world: test world ready in $dir"
}
