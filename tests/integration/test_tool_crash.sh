#!/usr/bin/env bash
# test_tool_crash.sh: crash safety of "store rewrap". A store of a few
# thousand mailboxes is re-wrapped from policy A to B, and back, while the
# job is killed with SIGKILL at random points (20 trials, time-bounded).
# After every kill each owner must still have a well-formed entry and the
# blob it names; after the re-run every blob must unwrap under the new
# policy (store verify --policy), none lost, no stray file, and data sealed
# before the moves must still open. The store lives in /dev/shm when it can
# (a kill -9 tests the process, not the disk: fsync costs nothing there).
# shellcheck source=tests/integration/test_tool_lib.sh
. "$(dirname "$0")/test_tool_lib.sh"

N=${TOOL_CRASH_OWNERS:-2000}
TRIALS=${TOOL_CRASH_TRIALS:-20}
BUDGET=${TOOL_CRASH_SECONDS:-100}
TEN=0b5e2a6c-7c1d-4f51-9a0e-3d7b1c2e4f60
C=("$TOOL" "${D[@]}")
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    S=$(mktemp -d /dev/shm/dep11-crash.XXXXXX)
else
    S="$W/store"
fi
trap 'rm -rf "$S"' EXIT
start=$SECONDS

t 0 "policy A" -- "${C[@]}" policy create --type mailbox --tenant "$TEN" --name A --root1 root1 --root2 root2
t 0 "policy B" -- "${C[@]}" policy create --type mailbox --tenant "$TEN" --name B --provider-managed
seq 1 "$N" | sed 's/^/user/; s/$/@contoso.com/' >"$OUT/owners"
t 0 "a store of $N mailboxes under A" -- "${C[@]}" --json mailbox assign --store "$S" --policy A --owners "$OUT/owners"
json 'j["created"] == '"$N"
printf 'secret %s\n' 1 2 3 >"$OUT/plain"
for u in 1 777 $N; do
    t 0 "seal for user$u" -- "${C[@]}" data seal --store "$S" --owner "user$u@contoso.com" \
        --in "$OUT/plain" --out "$OUT/sealed.$u"
done

# Every owner has a parseable entry whose blob exists and is not empty.
check_store() {
    /usr/bin/python3 - "$S" "$N" <<'PY'
import os, sys
s, n = sys.argv[1], int(sys.argv[2])
owners = [f for f in os.listdir(os.path.join(s, "owners")) if len(f) == 32]
assert len(owners) == n, "%d owners, want %d" % (len(owners), n)
for o in owners:
    txt = open(os.path.join(s, "owners", o)).read()
    assert txt.startswith("dep11-store 1\n") and txt.endswith("\n"), "torn entry " + o
    kv = dict(l.split("=", 1) for l in txt.splitlines()[1:])
    b = os.path.join(s, "blobs", kv["wrapped"], o + ".blob")
    assert os.path.getsize(b) > 0, "empty blob " + b
PY
}

# How long one whole job takes on this build (an optimised build is many
# times faster than an ASan one): the kills land at random points inside it.
# Measured with a full move to B and back to A, which leaves the store as it
# was.
job_time() {
    /usr/bin/python3 - "$@" <<'PY'
import subprocess, sys, time
t = time.monotonic()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("%.3f" % (time.monotonic() - t))
PY
}
full=$(job_time "${C[@]}" store rewrap --store "$S" --to B)
job_time "${C[@]}" store rewrap --store "$S" --to A >/dev/null
# The kills land after the module's start-up (C_Initialize and the logins):
# SoftHSM rewrites a token's token.object in place at every login, so a
# process killed in that instant leaves the token unreadable. That is the
# backend's file store, not the child-blob store under test here
# (docs/CONFIG.md, "SoftHSM and kill -9"). `store inventory` does the same
# start-up and then only reads, so its time bounds the start-up from above
# (doubled, for a loaded machine).
init=$(job_time "${C[@]}" store inventory --store "$S")
echo "one whole rewrap of $N mailboxes takes ${full}s here; start-up at most ${init}s"

killed=0 trial=0 scale=1.0
# kill_trials COUNT: start a rewrap, SIGKILL it after a random delay, check
# the store; COUNT times (while the time budget lasts). The target switches
# between B and A every third trial: two trials resume an unfinished job
# (the journal), the third starts another one over a half-moved store.
# A resumed job has less left to do, and the machine's load varies: the
# delays are drawn from the measured job time times $scale, which shrinks
# after a run that ended before its kill and grows back after a kill.
kill_trials() {
    local count=$1 i pid delay rc target
    for i in $(seq 1 "$count"); do
        if [ $(((trial / 3) % 2)) -eq 0 ]; then target=B; else target=A; fi
        [ $((SECONDS - start)) -lt "$BUDGET" ] || { echo "time budget reached after $trial trials"; return; }
        trial=$((trial + 1))
        delay=$(/usr/bin/python3 -c 'import random, sys; i, f = 2 * float(sys.argv[1]), float(sys.argv[2]) * float(sys.argv[3]); print("%.3f" % (i + random.uniform(0.05, 0.9) * max(f - i, 0.05)))' "$init" "$full" "$scale")
        "${C[@]}" store rewrap --store "$S" --to "$target" >"$OUT/rw.out" 2>&1 &
        pid=$!
        sleep "$delay"
        kill -9 "$pid" 2>/dev/null
        rc=0; { wait "$pid"; } 2>/dev/null || rc=$?
        if [ "$rc" -eq 137 ]; then killed=$((killed + 1)); fi
        scale=$(/usr/bin/python3 -c 'import sys; s, k = float(sys.argv[1]), sys.argv[2] == "137"; print("%.3f" % (min(1.0, s * 1.1) if k else max(0.05, s * 0.6)))' "$scale" "$rc")
        checks=$((checks + 1))
        check_store || fail "trial $trial (to $target, killed after ${delay}s, rc $rc): store damaged"
        echo "ok: trial $trial: rewrap to $target, SIGKILL after ${delay}s (exit $rc), store intact"
    done
}

kill_trials $((TRIALS / 2))
t 0 "re-run to B completes" -- "${C[@]}" --json store rewrap --store "$S" --to B
json 'j["ok"] and j["failed"] == 0 and j["total"] == '"$N"
[ ! -e "$S/rewrap.journal" ] || fail "journal left after a complete job"
t 0 "every blob unwraps under B" -- "${C[@]}" --json store verify --store "$S" --policy B
json 'j["ok"] and j["unwrapped"] == '"$N"' and j["failed"] == 0 and j["stray"] == 0 and j["not_under"] == 0'
t 0 "a second run has nothing to do" -- "${C[@]}" --json store rewrap --store "$S" --to B
json 'j["rewrapped"] == 0 and j["already"] == '"$N"

kill_trials $((TRIALS - TRIALS / 2))
t 0 "re-run to A completes" -- "${C[@]}" --json store rewrap --store "$S" --to A
json 'j["ok"] and j["failed"] == 0'
t 0 "every blob unwraps under A" -- "${C[@]}" --json store verify --store "$S" --policy A
json 'j["ok"] and j["unwrapped"] == '"$N"' and j["stray"] == 0'
t 0 "inventory: all under A, 100% rolled" -- "${C[@]}" --json store inventory --store "$S"
json 'j["total"] == '"$N"' and j["rolled"] == '"$N"' and len(j["policies"]) == 1 and j["policies"][0]["name"] == "A"'
for u in 1 777 $N; do
    t 0 "data sealed before the moves opens (user$u)" -- "${C[@]}" data open --store "$S" \
        --owner "user$u@contoso.com" --in "$OUT/sealed.$u" --out "$OUT/opened.$u"
    cmp -s "$OUT/plain" "$OUT/opened.$u" || fail "user$u: data differs"
done
checks=$((checks + 1))
[ "$killed" -ge $((trial / 3)) ] || fail "only $killed of $trial runs were killed mid-job: the kills did not test anything"
echo "$trial trials, $killed killed mid-job, $((SECONDS - start)) s"
finish
