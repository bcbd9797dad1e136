# scripts/demo.d/30-lifecycle.sh: the lifecycle chapter of scripts/demo
# (sourced; uses its helpers step, say, run, run_fails, expect, result, die,
# and T, SOFTHSM, USER_PIN, TENANT, demo). Everything goes through
# dep11-tool: policies in the registry on Contoso's token, mailboxes in a
# child-blob store, a key roll, moves, revocation, user vs system, purge.
# The mailbox chapter destroyed Contoso's two customer keys: fresh ones first.

LC_STORE="$demo/store.db"
P11=(pkcs11-tool --module "$SOFTHSM" --token-label contoso --login --pin "$USER_PIN")

step "Lifecycle: three fresh customer keys, registered"
say "The first two customer keys are gone (Contoso revoked them above). For the rest of the story Contoso generates three new RSA keys in its token, and its key officer registers them as roots: keys 3 and 4 protect the new policies, key 5 will replace key 3 when Contoso rolls it."
for i in 3 4 5; do
    customer_key "customer-key-$i" "0$i"
    register_root "customer-key-$i"
done
result "customer keys 3, 4 and 5 are registered roots"

step "Lifecycle: two policies, kept in a registry on Contoso's token"
say "dep11-tool records every policy it creates as a private data object on Contoso's own token: name, id, type, state, and the current blob. No file to lose: the token is the registry."
run "${T[@]}" policy create --type mailbox --tenant "$TENANT" --name "Contoso Sales" --geo EUR \
    --root1 customer-key-3 --root2 customer-key-4
run "${T[@]}" policy create --type mailbox --tenant "$TENANT" --name "Contoso Legal" --geo EUR \
    --root1 customer-key-3 --root2 customer-key-4
run "${T[@]}" policy list
expect '^Contoso Sales +mailbox +active' "Contoso Sales is not listed as active"
expect '^Contoso Legal +mailbox +active' "Contoso Legal is not listed as active"
result "two active mailbox policies are registered"

step "Lifecycle: mailboxes in a store of child blobs"
say "Three mailboxes get their own keys under Contoso Sales. Each key's blob is one row of an SQLite store (a database file, written in transactions), with the policy each mailbox is assigned to. Bob receives a message."
for u in alice bob carol; do
    run "${T[@]}" mailbox assign --store "$LC_STORE" --policy "Contoso Sales" --owner "$u@contoso.com"
    expect 'created under policy "Contoso Sales"' "$u's mailbox was not created"
done
printf 'Bob, the merger closes on Friday.\n' >bob.txt
run "${T[@]}" data seal --store "$LC_STORE" --owner bob@contoso.com --in bob.txt --out bob.sealed
result "3 mailboxes under Contoso Sales; Bob's message is sealed"

step "Lifecycle: Contoso rolls customer key 3 (refresh)"
say "Contoso replaces key 3 by key 5. The policy key is unwrapped and wrapped again under keys 5 and 4: the blob's version goes from 1 to 2. The mailbox keys are not touched; the inventory shows them wrapped at version 1, and a bulk re-wrap brings them to version 2, like SharePoint's \"% of sites rolled\"."
run "${T[@]}" policy refresh "Contoso Sales" --root1 customer-key-5 --root2 customer-key-4
expect '^version +2$' "the refresh did not give version 2"
expect '^roots +customer-key-5, customer-key-4' "the refresh did not record the new roots"
run "${T[@]}" store inventory --store "$LC_STORE"
expect '0 \(0.0%\) rolled' "the inventory does not show 0% rolled"
run "${T[@]}" store rewrap --store "$LC_STORE" --to "Contoso Sales"
run "${T[@]}" store inventory --store "$LC_STORE"
expect '3 \(100.0%\) rolled' "the inventory does not show 100% rolled"
result "version 2 under keys 5 and 4; 100% of the mailboxes rolled"

step "Lifecycle: Bob's mailbox moves to Contoso Legal"
say "Bob joins the legal team: his mailbox is assigned to Contoso Legal. Nothing is re-encrypted at once: his key is re-wrapped under the new policy when it is next used (or by a bulk job). His message still opens: the mailbox key itself never changes."
run "${T[@]}" mailbox assign --store "$LC_STORE" --policy "Contoso Legal" --owner bob@contoso.com
expect 'reassigned' "Bob was not reassigned"
run "${T[@]}" mailbox show --store "$LC_STORE" --owner bob@contoso.com --no-rewrap
expect 're-wrap pending' "the re-wrap is not pending"
run "${T[@]}" mailbox show --store "$LC_STORE" --owner bob@contoso.com
expect 're-wrapped +on access: from "Contoso Sales" to "Contoso Legal"' "Bob's key was not re-wrapped on access"
run "${T[@]}" data open --store "$LC_STORE" --owner bob@contoso.com --in bob.sealed --out -
expect 'merger' "Bob's message does not open after the move"
result "Bob's key now lives under Contoso Legal; his mail opens"

step "Lifecycle: the whole sales team moves (a bulk job)"
say "A bulk re-wrap moves every mailbox still under Contoso Sales to Contoso Legal. On a terminal it draws a progress bar; it can be killed at any point and re-run: nothing is lost, nothing half-written."
run "${T[@]}" store rewrap --store "$LC_STORE" --to "Contoso Legal" --from "Contoso Sales"
expect '2 re-wrapped' "the bulk job did not move the two remaining mailboxes"
run "${T[@]}" store verify --store "$LC_STORE" --policy "Contoso Legal"
result "all 3 mailboxes are under Contoso Legal and unwrap"

step "Lifecycle: Contoso revokes its keys for Contoso Legal"
say "Contoso deletes customer keys 3 and 4, the two roots of Contoso Legal. A user's request is refused from now on."
run "${P11[@]}" --delete-object --type privkey --label customer-key-3
run "${P11[@]}" --delete-object --type privkey --label customer-key-4
run_fails 1 "${T[@]}" data open --store "$LC_STORE" --owner bob@contoso.com --in bob.sealed --out -
expect 'CKR_DEP11_ROOT_KEYS_REVOKED' "the user was not refused with CKR_DEP11_ROOT_KEYS_REVOKED"
result "users are refused"

step "Lifecycle: user versus system"
say "A system worker (a process whose config allows system requests) is still served by the availability key, until the policy is purged."
export DEP11_CONF="$demo/dep11-system.conf"
run "${T[@]}" data open --store "$LC_STORE" --owner bob@contoso.com --requester system --in bob.sealed --out -
expect 'merger' "the system worker could not open Bob's message"
export DEP11_CONF="$demo/dep11.conf"
result "the system worker still reads the mail; users cannot"

step "Lifecycle: Contoso asks for its data to be purged"
say "Purging is two steps. First the request, with a reason and a contact; a dry run of the confirmation says what would happen and changes nothing."
run "${T[@]}" policy purge "Contoso Legal" --request --reason "Contoso leaves the service" --contact security@contoso.com
expect '^state +purge-requested' "the purge was not requested"
run "${T[@]}" policy purge "Contoso Legal" --confirm --receipt receipt.json --dry-run
expect 'nothing changed' "the dry run changed something"
[ ! -e receipt.json ] || die "the dry run wrote a receipt"
show "${T[@]}" policy purge "Contoso Legal" --confirm --receipt receipt.json
lc_rc=0
"${T[@]}" policy purge "Contoso Legal" --confirm --receipt receipt.json >"$demo/last.out" 2>&1 || lc_rc=$?
sed 's/^/    /' "$demo/last.out"
if grep -q CKR_FUNCTION_NOT_SUPPORTED "$demo/last.out"; then
    say "(purge arrives with the lifecycle work: this module does not implement DEP11_PurgePolicy yet, so the policy stays purge-requested and the last steps are skipped)"
    result "purge requested; confirmation pending module support"
else
    [ "$lc_rc" -eq 0 ] || die "the purge failed (exit $lc_rc)"
    expect 'purged; receipt' "the purge did not report its receipt"
    result "Contoso Legal is purged; receipt.json holds the signed receipt"

    step "Lifecycle: check the receipt, and that the data is gone"
    if [ -x "$top/scripts/dep11-receipt-verify" ] && [ -s "$demo/provider-receipts.pem" ]; then
        say "The receipt is checked with dep11's pinned receipt key alone."
        run "$top/scripts/dep11-receipt-verify" --key "$demo/provider-receipts.pem" receipt.json
    else
        say "(the receipt verifier or the pinned key is not available: receipt check skipped)"
    fi
    say "Even the system worker can no longer open Bob's mail: the availability key is destroyed and the policy carries a purge tombstone."
    export DEP11_CONF="$demo/dep11-system.conf"
    run_fails 1 "${T[@]}" data open --store "$LC_STORE" --owner bob@contoso.com --requester system --in bob.sealed --out -
    expect 'CKR_DEP11_POLICY_PURGED' "the data still opens after the purge"
    export DEP11_CONF="$demo/dep11.conf"
    result "the data is cryptographically deleted"
fi
