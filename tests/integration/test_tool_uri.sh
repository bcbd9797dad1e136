#!/usr/bin/env bash
# test_tool_uri.sh: how dep11-tool finds the token and the PIN (issue 14
# item 7): --token with a full PKCS#11 URI (object, module, slot and query
# attributes, as p11tool takes it), pin-source in the URI (mode checked like
# the module's PIN file), pin-value refused, the PIN prompt without echo on
# a terminal, --json valid for a label that is not UTF-8, and keys check's
# "fit" the same in the table and in --json for an unregistered key.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/test_tool_lib.sh
. "$here/test_tool_lib.sh"

M=(--module "$DEP11_MODULE")
PIN=$(head -n1 "$W/user.pin")
libdesc=$(p11dep11 -I 2>/dev/null | sed -n 's/^Library *\(.*\) (ver .*/\1/p')
[ -n "$libdesc" ] || fail "no library description from pkcs11-tool -I"
libdesc_enc=$(/usr/bin/python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$libdesc")

echo "== --token: a full PKCS#11 URI"
t 0 "object URI" -- "$TOOL" "${M[@]}" --token 'pkcs11:token=contoso;object=root1;type=private' \
    --pin-source "$UP" policy list --json
json 'j["ok"] is True'
t 0 "URI with the module's library-description" -- "$TOOL" "${M[@]}" \
    --token "pkcs11:library-description=$libdesc_enc;token=contoso;object=x?module-name=dep11" \
    --pin-source "$UP" policy list
t 1 "another library-description" -- "$TOOL" "${M[@]}" \
    --token 'pkcs11:library-description=SoftHSM;token=contoso' --pin-source "$UP" policy list
has stderr 'no token matches'
t 1 "a slot-id that is not the token's" -- "$TOOL" "${M[@]}" \
    --token 'pkcs11:token=contoso;slot-id=987654' --pin-source "$UP" policy list
has stderr 'no token matches'
t 1 "an unknown attribute matches nothing (p11-kit's rule)" -- "$TOOL" "${M[@]}" \
    --token 'pkcs11:token=contoso;frob=1' --pin-source "$UP" policy list
t 1 "another token" -- "$TOOL" "${M[@]}" --token 'pkcs11:token=fabrikam-nope' --pin-source "$UP" policy list

echo "== pin-source and pin-value in the URI"
P600="$OUT/pin600"; P644="$OUT/pin644"
cp "$W/user.pin" "$P600"; chmod 600 "$P600"
cp "$W/user.pin" "$P644"; chmod 644 "$P644"
t 0 "pin-source=file:PATH" -- "$TOOL" "${M[@]}" --token "pkcs11:token=contoso?pin-source=file:$P600" \
    policy list --json </dev/null
json 'j["ok"] is True'
t 0 "pin-source=ABSOLUTE PATH" -- "$TOOL" "${M[@]}" --token "pkcs11:token=contoso?pin-source=$P600" \
    policy list </dev/null
t 2 "pin-source readable by others" -- "$TOOL" "${M[@]}" --token "pkcs11:token=contoso?pin-source=file:$P644" \
    policy list </dev/null
has stderr 'chmod 600'
t 2 "pin-source not a file" -- "$TOOL" "${M[@]}" --token "pkcs11:token=contoso?pin-source=env:X" policy list </dev/null
has stderr 'not a file: URI'
t 1 "--pin-source wins over the URI's" -- "$TOOL" "${M[@]}" --pin-source "file:$W/so.pin" \
    --token "pkcs11:token=contoso?pin-source=file:$P600" policy list </dev/null
has stderr 'CKR_PIN_INCORRECT'
t 2 "pin-value refused" -- "$TOOL" "${M[@]}" --token "pkcs11:token=contoso?pin-value=$PIN" policy list </dev/null
has stderr 'pin-value is refused'
t 2 "no PIN and no terminal" -- "$TOOL" "${M[@]}" --token-label contoso policy list </dev/null
has stderr 'needs --pin-source'

echo "== the PIN prompt on a terminal"
# Runs the tool on a pseudo-terminal, answers the prompt with $2, prints the
# exit code and what the terminal showed after the prompt.
on_tty() {
    /usr/bin/python3 - "$1" "$2" "$TOOL" "${M[@]}" --token-label contoso policy list --json <<'PY'
import os, pty, select, sys, time
want_prompt, answer, argv = sys.argv[1].encode(), sys.argv[2].encode(), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
seen, deadline = b"", time.time() + 60
def more():
    global seen
    r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.time()))
    if not r:
        return False
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        return False
    seen += chunk
    return bool(chunk)
while want_prompt not in seen and more():
    pass
if want_prompt not in seen:
    os.kill(pid, 9)
    print("no prompt; saw", seen)
    sys.exit(1)
os.write(fd, answer + b"\n")
while more():
    pass
for _ in range(300):  # the tool ends once it has answered; a hang is killed
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    time.sleep(0.1)
else:
    os.kill(pid, 9)
    _, st = os.waitpid(pid, 0)
    print("hung after the answer; killed")
after = seen.split(want_prompt, 1)[1]
print("exit", os.waitstatus_to_exitcode(st))
sys.stdout.write(after.decode("utf-8", "replace"))
PY
}
t 0 "prompted, PIN typed" -- on_tty 'PIN for the token: ' "$PIN"
has stdout '^exit 0'; has stdout '"ok":true'
hasnt stdout "$PIN"
t 0 "prompted, wrong PIN typed" -- on_tty 'PIN for the token: ' "x$PIN"
has stdout '^exit 1'; has stdout 'CKR_PIN_INCORRECT'

echo "== --json with a label that is not UTF-8; keys check's fit"
t 0 "an unregistered key labelled in Latin-1" -- p11dep11 --login --pin "$PIN" --token-label contoso \
    --keypairgen --key-type rsa:2048 --id 0e --label "$(printf 'M\374nchen')"
# roots are registered by the world's route: CKA_TRUSTED twins on SoftHSM, the
# SO login on opencryptoki; through dep11 keys check reads either
# (CKA_DEP11_ROOT_REGISTERED)
if [ "${ITEST_BACKEND:-softhsm}" = opencryptoki ]; then
    route=so-login
else
    route=trusted-twin
fi
t 1 "keys check --json" -- "$TOOL" "${D[@]}" keys check --json
json 'any(k["label"] == "M\ufffdnchen" and k["registered"] is False and k["fit"] is False for k in j["keys"])'
json 'all(k["fit"] == (k["registered"] and k["sensitive"] and not k["extractable"]) for k in j["keys"])'
t 1 "keys check table" -- "$TOOL" "${D[@]}" keys check
has stdout '^unregistered .* no +- +-$'
has stdout "^root1 .* yes +fit +${route#trusted-}\$"
t 1 "keys check --json: routes" -- "$TOOL" "${D[@]}" keys check --json
json '{k["label"]: k["route"] for k in j["keys"]}["root1"] == "'"$route"'"'
json 'all((k["route"] is None) == (not k["registered"]) for k in j["keys"])'

finish
