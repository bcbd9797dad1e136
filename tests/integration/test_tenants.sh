#!/usr/bin/env bash
# test_tenants.sh: test_tenants (two tenants, contoso and fabrikam, each with
# registered roots) with a worker config (SYSTEM and RECOVERY allowed) and an
# audit log; then the log: one policy-unwrap or purge line with result
# CKR_DEP11_TENANT_MISMATCH per refusal the program counted, each naming the
# policy's tenant and the session's token, and both verifiers accept it.
. "${abs_top_srcdir:-$(dirname "$0")/../..}/tests/integration/common.sh"
itest_world tenants
conf="$ITEST_WORLD/tenants.conf"
cp "$ITEST_WORLD/dep11-system.conf" "$conf"
grep -q '^audit-log' "$conf" || echo "audit-log = $ITEST_WORLD/audit.jsonl" >>"$conf"
log=$(sed -n 's/^audit-log *= *//p' "$conf")
DEP11_CONF="$conf" itest_run test_tenants || exit 1

status=0
/usr/bin/python3 - "$log" "$ITEST_WORLD/tenants.expect" <<'PY' || status=1
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
want, *serials = open(sys.argv[2]).read().split()
# Each tenant's policies carry its own id (itest_tenant_id); a refusal names
# the policy's tenant, the other one than the session's token.
tenants = [b"contoso-tenant-1".hex(), b"fabrika-tenant-1".hex()]
def policy_tenant(token):
    if serials[0] == serials[1]:  # tokens with one serial: either
        return tenants
    return [tenants[1 - serials.index(token)]] if token in serials else []
refused = [l for l in lines if l["result"] == "CKR_DEP11_TENANT_MISMATCH"]
bad = [l for l in refused
       if l["event"] not in ("policy-unwrap", "purge")
       or l["tenant"] not in policy_tenant(l["token"])
       or l["token"] not in serials or l["served_by"] != "" or len(l["policy_id"]) != 32
       or l["pid"] < 1 or not l["host"]]
print("audit: %d lines, %d tenant-mismatch refusals (expected %s)" % (len(lines), len(refused), want))
if len(refused) != int(want) or bad:
    print("FAIL: refusal lines: %d, malformed: %r" % (len(refused), bad[:3]))
    sys.exit(1)
for s in serials:  # both directions were refused
    if not any(l["token"] == s for l in refused):
        print("FAIL: no refusal recorded for token %s" % s)
        sys.exit(1)
PY
"$abs_top_srcdir/scripts/dep11-audit-verify" -q "$log" || { echo "FAIL: dep11-audit-verify"; status=1; }
if [ -x "$abs_top_builddir/tools/dep11-tool" ]; then
    "$abs_top_builddir/tools/dep11-tool" audit verify --quiet "$log" ||
        { echo "FAIL: dep11-tool audit verify"; status=1; }
fi
exit $status
