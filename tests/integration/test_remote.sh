#!/usr/bin/env bash
# test_remote.sh: scale-out over p11-kit remoting (issue 13 item 4; README,
# "Scale-out: one HSM, many application hosts").
#   The HSM host: `p11-kit server` over the SoftHSM world (contoso,
#   fabrikam, dep11-provider) on a unix socket in the world directory.
#   The application hosts A and B: test_remote, dep11 over p11-kit-client.so
#   with hsm-profiles/p11-kit-remote.conf, each in a network namespace of its
#   own (`unshare -n`; a unix socket path still connects) where this process
#   may create one, else plain processes (the output says which); none of
#   them can reach SoftHSM except through the socket (SOFTHSM2_CONF names no
#   file there).
#   - the provider token is provisioned over the wire (dep11-tool provider
#     init through p11-kit-client.so);
#   - the same profile with availability-key = aes fails C_Initialize over
#     the wire, naming CKM_AES_GCM (the client drops what it cannot carry);
#   - A makes a policy, a site key and a sealed chunk; B opens them;
#   - the server is killed (its process group: the listener and the
#     per-connection processes) and restarted while both hosts loop over
#     uncached opens: every failure carries a transient code (DESIGN
#     section 5), then both open again with new sessions (profile key
#     reconnect = yes; the control without it never recovers);
#   - the server dies while hosts are idle: the next call writes to the dead
#     socket; with block-sigpipe = yes the host gets CKR_DEVICE_ERROR and
#     recovers, the control without it is killed by SIGPIPE;
#   - the customer revokes its roots, A purges, and B, which holds the
#     policy key in its cache, gets CKR_DEP11_POLICY_PURGED no later than
#     cache-seconds + 2 s after the purge;
#   - the server and every host are stopped on exit, also on failure, and
#     no server process is left.
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
# An ASan build: p11-kit-client.so's own allocation per reconnect is not ours.
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$abs_top_srcdir/tests/integration/lsan-p11kit.supp"
command -v p11-kit >/dev/null || { echo "SKIP: no p11-kit command"; exit 77; }
command -v setsid >/dev/null || { echo "SKIP: no setsid"; exit 77; }
client="$(pkg-config --variable=p11_module_path p11-kit-1 2>/dev/null)/p11-kit-client.so"
[ -f "$client" ] || { echo "SKIP: no p11-kit-client.so (package p11-kit-modules)"; exit 77; }

status=0
fail() { echo "FAIL: $*"; status=1; }
pass() { echo "ok: $*"; }

ITEST_NO_PROVISION=1 itest_world remote
W=$ITEST_WORLD
sock="$W/hsm.sock"
cache_seconds=3
server_pid=""
hosts=()

# The server in a process group of its own (setsid): killing the group ends
# the listener and the processes it forked for each connection.
server_start() {
    rm -f "$sock"
    setsid p11-kit server -f -n "$sock" --provider "$SOFTHSM_MODULE" \
        "pkcs11:token=contoso" "pkcs11:token=fabrikam" "pkcs11:token=dep11-provider" \
        >>"$W/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        [ -S "$sock" ] && return 0
        sleep 0.05
    done
    echo "p11-kit server did not start:"; cat "$W/server.log"; return 1
}
server_kill() { # SIGNAL
    [ -n "$server_pid" ] || return 0
    kill -"$1" -- -"$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 -- -"$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    server_pid=""
}
cleanup() {
    local p
    for p in "${hosts[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${hosts[@]}"; do wait "$p" 2>/dev/null || true; done
    server_kill TERM
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The hosts' config: the shipped profile (the client's path as installed
# here), a small cache.
sed "s|^module *=.*|module = $client|" "$abs_top_srcdir/hsm-profiles/p11-kit-remote.conf" \
    >"$W/remote.profile"
sed -e "s|^profile *=.*|profile = $W/remote.profile|" "$W/dep11.conf" >"$W/remote.conf"
echo "cache-seconds = $cache_seconds" >>"$W/remote.conf"

netns=()
if unshare -n true 2>/dev/null; then
    netns=(unshare -n)
    echo "# hosts: separate network namespaces (unshare -n)"
else
    echo "# hosts: separate processes (this process may not create network namespaces)"
fi
vg=()
if [ "${ITEST_VALGRIND:-0}" = 1 ] && [ -z "$itest_preload" ]; then
    vg=(valgrind --quiet --error-exitcode=98 --leak-check=full
        --errors-for-leak-kinds=definite --show-leak-kinds=definite)
fi
# host NAME CONF VERB...: one application host's program; output in
# $W/NAME.out (and on stdout afterwards).
host_env() {
    env SOFTHSM2_CONF="$W/no-softhsm-here.conf" P11_KIT_SERVER_ADDRESS="unix:path=$sock" \
        DEP11_CONF="$W/$1" REMOTE_CACHE_SECONDS="$cache_seconds" "${@:2}"
}
host() {
    local name=$1 conf=$2 rc=0
    shift 2
    host_env "$conf" "${netns[@]}" "${vg[@]}" "$itest_bin/test_remote" "$@" \
        >"$W/$name.out" 2>&1 || rc=$?
    sed "s/^/  [$name] /" "$W/$name.out"
    return $rc
}
host_bg() { # NAME CONF VERB...: in the background, pid appended to hosts
    local name=$1 conf=$2
    shift 2
    host_env "$conf" "${netns[@]}" "${vg[@]}" "$itest_bin/test_remote" "$@" \
        >"$W/$name.out" 2>&1 &
    hosts+=($!)
}
host_wait() { # NAME PID
    local rc=0
    wait "$2" || rc=$?
    sed "s/^/  [$1] /" "$W/$1.out"
    return $rc
}

echo "== the HSM host: p11-kit server on $sock"
server_start
export P11_KIT_SERVER_ADDRESS="unix:path=$sock"
echo "== provider init over the wire (dep11-tool through p11-kit-client.so)"
if SOFTHSM2_CONF="$W/no-softhsm-here.conf" "$abs_top_builddir/tools/dep11-tool" \
    provider init --config "$W/remote.conf" >"$W/init.out" 2>&1; then
    pass "provider token provisioned through the wire"
else
    cat "$W/init.out"; fail "provider init over the wire"
fi

echo "== the profile check sees the client's mechanism list"
sed 's/^availability-key *=.*/availability-key = aes/' "$W/remote.profile" >"$W/aes.profile"
sed "s|^profile *=.*|profile = $W/aes.profile|" "$W/remote.conf" >"$W/aes.conf"
host aes aes.conf open || true
if grep -q "availability-key = aes needs CKM_AES_GCM.*does not offer it" "$W/aes.out" &&
    grep -q "C_Initialize / session on contoso: 0x6$" "$W/aes.out"; then
    pass "availability-key = aes refused at C_Initialize: the wire does not carry AES-GCM"
else
    fail "availability-key = aes over the wire was not refused naming CKM_AES_GCM"
fi

echo "== host A makes, host B opens"
host A remote.conf create || fail "host A: create"
host B remote.conf open || fail "host B: open host A's chunk"

echo "== the server killed and restarted while both hosts work"
rm -f "$W/stop" "$W"/ready.loop* "$W/loop.go"
# One start after the other, and no work until both are in: with SoftHSM
# behind the server, every connection is a SoftHSM process of its own, and
# a C_Login races with what another process does in SoftHSM's token file
# at the same instant (CKR_GENERAL_ERROR: README, limits). Each host logs
# in, opens once and waits (idle READY GO STOP) until both are ready.
host_bg loopA remote.conf idle ready.loopA loop.go stop
for _ in $(seq 200); do [ -f "$W/ready.loopA" ] && break; sleep 0.05; done
host_bg loopB remote.conf idle ready.loopB loop.go stop
for _ in $(seq 200); do [ -f "$W/ready.loopB" ] && break; sleep 0.05; done
[ -f "$W/ready.loopA" ] && [ -f "$W/ready.loopB" ] || fail "a host never got ready"
touch "$W/loop.go"
sleep 1.5
old=$server_pid
server_kill KILL
kill -0 -- -"$old" 2>/dev/null && fail "the killed server's process group is still there"
sleep 1
server_start
sleep 4
touch "$W/stop"
host_wait loopA "${hosts[0]}" || fail "host A did not recover (or never saw the loss)"
host_wait loopB "${hosts[1]}" || fail "host B did not recover (or never saw the loss)"
hosts=()

echo "== control: without reconnect = yes a host never recovers"
sed '/^reconnect *=/d' "$W/remote.profile" >"$W/noreconnect.profile"
sed "s|^profile *=.*|profile = $W/noreconnect.profile|" "$W/remote.conf" >"$W/noreconnect.conf"
rm -f "$W/stop"
host_bg control noreconnect.conf loop stop
sleep 1
server_kill KILL
sleep 0.5
server_start
sleep 2
touch "$W/stop"
if host_wait control "${hosts[0]}"; then
    fail "control: a host without reconnect recovered (the test proves nothing)"
else
    grep -q ", 0 opened at the end" "$W/control.out" &&
        pass "control: without reconnect the host stays cut off" ||
        fail "control: failed for another reason"
fi
hosts=()

echo "== the server dies while hosts are idle: their next call writes to a dead socket"
sed '/^block-sigpipe *=/d' "$W/remote.profile" >"$W/sigpipe.profile"
sed "s|^profile *=.*|profile = $W/sigpipe.profile|" "$W/remote.conf" >"$W/sigpipe.conf"
rm -f "$W"/idle.* "$W"/ready.*
host_bg idle remote.conf idle ready.idle idle.go idle.stop
sleep 0.7
host_bg idle-control sigpipe.conf idle ready.control idle.go idle.stop
for _ in $(seq 200); do
    [ -f "$W/ready.idle" ] && [ -f "$W/ready.control" ] && break
    sleep 0.05
done
server_kill KILL
sleep 0.5
server_start
touch "$W/idle.go"
sleep 4
touch "$W/idle.stop"
host_wait idle "${hosts[0]}" || fail "idle host with block-sigpipe = yes did not recover"
rc=0
host_wait idle-control "${hosts[1]}" || rc=$?
if [ "$rc" = $((128 + 13)) ]; then
    pass "control: without block-sigpipe the idle host dies of SIGPIPE (exit $rc)"
else
    fail "control: the idle host without block-sigpipe exited $rc, not by SIGPIPE (proves nothing)"
fi
hosts=()

echo "== the customer revokes, host A purges, host B sees it within its cache bound"
host_bg watch remote.conf watch
for _ in $(seq 200); do [ -f "$W/watch.ready" ] && break; sleep 0.05; done
[ -f "$W/watch.ready" ] || fail "host B never unwrapped for the watch"
for r in root1 root2; do
    # The customer's own tool on its own token (through the wire, not dep11).
    SOFTHSM2_CONF="$W/no-softhsm-here.conf" pkcs11-tool --module "$client" \
        --token-label contoso --login --pin 1234 --delete-object --type privkey \
        --label "$r" >>"$W/revoke.out" 2>&1 || fail "revoking $r"
done
host A remote.conf purge || fail "host A: purge"
host_wait watch "${hosts[0]}" || fail "host B: CKR_DEP11_POLICY_PURGED not within the cache bound"
hosts=()
host A2 remote.conf open && fail "host A opened a purged policy"
grep -q "^open: 0x8de11003" "$W/A2.out" && pass "host A: CKR_DEP11_POLICY_PURGED at once" ||
    fail "host A after its purge: not CKR_DEP11_POLICY_PURGED"

echo "== stop"
server_kill TERM
if pgrep -f -- "-n $sock" >/dev/null; then
    fail "a p11-kit server on $sock is still running: $(pgrep -af -- "-n $sock")"
else
    pass "no p11-kit server left on $sock"
fi
exit $status
