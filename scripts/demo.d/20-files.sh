# scripts/demo.d/20-files.sh: the files chapter of scripts/demo (sourced;
# uses its helpers step, say, run, run_fails, expect, result, die, and T,
# SOFTHSM, USER_PIN, TENANT, demo, python). The SharePoint/OneDrive/Teams
# hierarchy: a FILES policy (the tenant intermediate key), a site key under
# it, a file sealed in chunks, each under its own chunk key, and opened
# again; a swapped chunk and a cut file are refused.
# The mailbox chapter destroyed Contoso's two customer keys: fresh ones first.

FILES_P11=(pkcs11-tool --module "$SOFTHSM" --token-label contoso --login --pin "$USER_PIN")
FILES_SITE=https://contoso.sharepoint.com/sites/finance
FILES_ARGS=(--policy files-policy.blob --site finance.site --site-id "$FILES_SITE")

step "Files: two new customer keys for Contoso's files"
say "Customer keys 1 and 2 are gone (Contoso revoked them in the mailbox story). For its SharePoint, OneDrive and Teams files Contoso generates two new RSA keys in its token, and its key officer registers them as roots, as before."
for i in 1 2; do
    customer_key "files-key-$i" "1$i"
    register_root "files-key-$i"
done
result "files keys 1 and 2 are registered roots"

step "Files: a FILES policy for Contoso"
say "A files policy's key is the \"tenant intermediate key\" of the seeds: wrapped, like any policy key, under both customer keys and an availability key. Below it sit site keys, and below each site key one key per chunk of every file."
run "${T[@]}" policy create --type files --tenant "$TENANT" --name "Contoso files" --geo EUR \
    --root1 files-key-1 --root2 files-key-2 --out files-policy.blob
run "${T[@]}" policy show files-policy.blob
expect '^type +files' "the policy is not a FILES policy"
expect '^copies +3' "the policy does not have 3 wrapped copies"
result "a FILES policy under files keys 1 and 2 (files-policy.blob)"

step "Files: a site key for the finance site"
say "Each SharePoint site gets its own site key (AES-256), wrapped under the files policy key and bound to the site's id: a 100-byte blob the service stores with the site."
run "${T[@]}" site create --policy files-policy.blob --site-id "$FILES_SITE" --out finance.site
run "${T[@]}" site show finance.site
expect '^role +site' "the blob is not a site key"
expect '^policy type +files' "the site key is not under a files policy"
say "Site keys belong under a files policy only. The mailbox policy from the first story cannot hold one: dep11-tool reads its type and refuses (and so would dep11 itself: CKR_KEY_FUNCTION_NOT_PERMITTED)."
run_fails 1 "${T[@]}" site create --policy policy.blob --site-id "$FILES_SITE" --out nope.site
expect 'is a mailbox policy' "a site key was not refused under a mailbox policy"
[ ! -e nope.site ] || die "a site blob was written under a mailbox policy"
result "finance.site: a site key under the files policy"

step "Files: seal a file in chunks"
say "A quarterly report of about 1 MB is sealed in chunks of 256 KiB. For every chunk, dep11 derives a chunk key from the site key, the file's random id and the chunk's position (\"1 file, N chunks = N keys\"), seals the chunk under it with a fresh nonce, and forgets the key: nothing is stored but the sealed chunks."
seq 1 40000 | sed 's/^/Contoso Q3 ledger, line /' >q3-report.txt
files_n=$(( ($(stat -c %s q3-report.txt) + 262143) / 262144 ))
run ls -l q3-report.txt
run "${T[@]}" file seal "${FILES_ARGS[@]}" --chunk-size 256K --in q3-report.txt \
    --out q3-report.sealed
expect "in $files_n chunks" "the report was not sealed in $files_n chunks"
if grep -q 'ledger' q3-report.sealed; then die "the sealed file contains the plaintext"; fi
result "q3-report.sealed: $files_n chunks, each under its own key"

step "Files: open it again"
run "${T[@]}" file open "${FILES_ARGS[@]}" --in q3-report.sealed --out q3-report.opened
cmp -s q3-report.txt q3-report.opened || die "the opened report differs"
run tail -n 2 q3-report.opened
result "opened chunk by chunk; the report is the same"

step "Files: a chunk swapped between positions is rejected"
say "Someone with write access to the storage swaps chunks 1 and 2 of the sealed file: every byte is still genuine ciphertext, only the order changed. Each chunk's position is bound into its key and its associated data, so chunk 1 no longer authenticates, and nothing is written."
cat >chunks.py <<'EOF'
# chunks.py swap IN OUT A B | drop-last IN OUT: rewrites the chunk records
# of a sealed file (a 28-byte header, then records of a 4-byte length and
# the sealed chunk; docs/FORMATS.md 5.3).
import struct, sys
op, src, dst = sys.argv[1:4]
data = open(src, "rb").read()
recs, off = [], 28
while off < len(data):
    n = struct.unpack(">I", data[off:off + 4])[0]
    recs.append(data[off:off + 4 + n])
    off += 4 + n
if op == "swap":
    a, b = int(sys.argv[4]), int(sys.argv[5])
    recs[a], recs[b] = recs[b], recs[a]
    print(f"swapped chunks {a} and {b} of {len(recs)}")
else:
    recs.pop()
    print(f"dropped the last chunk: {len(recs)} chunks left")
open(dst, "wb").write(data[:28] + b"".join(recs))
EOF
run "$python" chunks.py swap q3-report.sealed q3-swapped.sealed 1 2
run_fails 1 "${T[@]}" file open "${FILES_ARGS[@]}" --in q3-swapped.sealed --out q3-swapped.opened
expect 'chunk 1 failed to authenticate' "the swapped chunk was not rejected"
[ ! -e q3-swapped.opened ] || die "a partial output was left behind"
say "Cutting the file at a chunk boundary is caught as well: the last chunk is sealed as the final one, so a file that ends early says so."
run "$python" chunks.py drop-last q3-report.sealed q3-cut.sealed
run_fails 1 "${T[@]}" file open "${FILES_ARGS[@]}" --in q3-cut.sealed --out q3-cut.opened
expect 'file is truncated' "the cut file was not reported as truncated"
[ ! -e q3-cut.opened ] || die "a partial output was left behind"
result "a swapped chunk and a cut file are refused; no partial output is written"
