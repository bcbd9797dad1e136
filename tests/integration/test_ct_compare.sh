#!/usr/bin/env bash
# test_ct_compare.sh: no tag, MAC or key check value is compared with
# memcmp in module/. Every memcmp in the module's sources must be on the
# allowlist below (file and the compared expression, with the reason it is
# not secret); the secret comparisons must go through dep11_ct_equal, which
# must be CRYPTO_memcmp. A new memcmp fails this test until it is reviewed.
set -euo pipefail
src="${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/module"

# file|text of the memcmp call|why it is not secret
allow='
blob/policy_blob.c|memcmp(magic, policy_magic|format magic: public constant
blob/child_blob.c|memcmp(magic, child_magic|format magic: public constant
crypto/rsa.c|memcmp(mine, id, sizeof mine)|root identity (SHA-256 of a public key) named in the blob
crypto/encode.c|memcmp(data, der, der_len)|PEM file content against the public receipt signing key
hier/cache.c|memcmp(e->digest, digest|cache look-up by blob digest (the blob is public)
hier/cache.c|memcmp(e->key->policy_id, policy_id|policy id: public blob header field
hier/purge.c|memcmp(buf, text, n)|file content check of the public receipt key PEM
hier/policy_wrap.c|memcmp(w->roots[0].modulus, w->roots[1].modulus|public moduli (same key twice)
hier/child.c|memcmp(b->hdr.policy_id, policy->policy_id|policy id binding: public header field
hier/child.c|memcmp(b->hdr.owner, owner|owner id: public header field
hsm/provider_keys.c|memcmp(lab, prefix, plen)|CKA_LABEL prefix of provider keys
hsm/provider_keys.c|memcmp(back, pt, sizeof pt)|oaep-hash check: round trip of a fixed public pattern, no key
hsm/provider_avail.c|memcmp(l->id[l->n], tag, TAG_LEN)|CKA_ID tag (policy id) of availability keys
hsm/provider_avail.c|memcmp(l->id[i], l->id[best]|ordering availability key ids (public)
hsm/provider_avail.c|memcmp(l.id[i], a->keep|availability key id to keep (public)
hsm/provider.c|memcmp(want, ti->label|token label
hsm/provider_tombstone.c|memcmp(a, b, al < bl ? al : bl)|ordering tombstone values (public)
hsm/provider_state.c|memcmp(a, b, DEP11_BINDING_LEN)|ordering tenant binding records (token identity, tenant id: public)
hsm/provider_state.c|memcmp(serials[i].ident, ident|token identity against the one seen unique (C_GetTokenInfo: public)
hsm/provider_state.c|memcmp(oid, ident, sizeof oid)|the identities of two tokens (C_GetTokenInfo: public)
hier/tenant.c|memcmp(ps->st.binding, ps->ident|tenant binding against the token identity (C_GetTokenInfo: public)
hier/tenant.c|memcmp(ps->st.binding + DEP11_TOKEN_IDENT_LEN, tenant|tenant id against the binding (public header field)
hier/tenant.c|memcmp(id, p->root_ids[i], sizeof id)|root identity (SHA-256 of a public key)
hier/copy_open.c|memcmp(hints[i].id, cp->key_id|root identity (SHA-256 of a public key) of a remembered root handle
hsm/provider_state.c|memcmp(value + NUMBER_LEN, a->st->digest|ordering commit records by blob digest (a hash of a public blob)
hsm/provider_state.c|memcmp(a->st->digest, a->digest|commit record against the blob digest (a hash of a public blob)
core/attr.c|memcmp(a->pValue, v->ptr, v->len)|template attribute match (find/template check)
core/attr.c|memcmp(dst, a->pValue, a->ulValueLen)|template consistency of caller-given attributes
core/message.c|memcmp(param, &m->param, plen)|chunk parameter of a message part against the one of its Begin (file id, index: public)
hier/facts.c|memcmp(m->id, id, DEP11_ID_LEN)|facts memo look-up by policy id (public header field)
hier/facts.c|memcmp(m->mark, lk->mark, DEP11_MARK_LEN)|provider token change mark (random, not secret: it only says a record was written)
hsm/provider_mark.c|memcmp(app, MARK_APP, sizeof MARK_APP - 1)|CKA_APPLICATION of the change mark (public constant)
hsm/provider_mark.c|memcmp(v, best, MARK_ID_LEN)|ordering change marks by their id (public)
core/vendor_obj.c|memcmp(q->in, a->pValue, a->ulValueLen)|a request input given twice (a public blob or policy id)
crypto/hash.c|CRYPTO_memcmp(a, b, n)|the constant-time primitive itself
'

status=0 hits=0
while IFS= read -r hit; do
    file=${hit%%:*}; rest=${hit#*:}; rest=${rest#*:}
    rel=${file#"$src/"}
    hits=$((hits + 1))
    ok=0
    while IFS='|' read -r af atext _why; do
        [ -n "$af" ] || continue
        if [ "$af" = "$rel" ] && [[ "$rest" == *"$atext"* ]]; then ok=1; break; fi
    done <<<"$allow"
    if [ $ok = 0 ]; then
        echo "FAIL: unreviewed memcmp: $rel: $(echo "$rest" | sed 's/^[[:space:]]*//')"
        status=1
    fi
    # A new memcmp on secret-looking operands is named as such.
    if [ $ok = 0 ] && echo "$rest" | grep -qiE '(^|[^a-z])memcmp\([^)]*(tag|mac|kcv|hmac|check)'; then
        echo "FAIL: memcmp on a tag/MAC/kcv: $rel: $rest"
        status=1
    fi
done < <(grep -rn --include='*.c' --include='*.h' 'memcmp(' "$src" | grep -v 'CRYPTO_memcmp\|^[^:]*:[0-9]*:[[:space:]]*\*')

# The primitive is CRYPTO_memcmp, and the MAC and kcv checks use it.
grep -A4 '^int dep11_ct_equal' "$src/crypto/hash.c" | grep -q 'CRYPTO_memcmp' ||
    { echo "FAIL: dep11_ct_equal is not CRYPTO_memcmp"; status=1; }
# (the unwrap checks the MAC in policy_unwrap.c and each copy's kcv in copy_open.c)
for f in hier/policy_unwrap.c hier/purge.c; do
    grep -q 'dep11_ct_equal(mac' "$src/$f" || { echo "FAIL: $f: MAC not compared with dep11_ct_equal"; status=1; }
done
for f in hier/copy_open.c hier/purge.c; do
    grep -q 'dep11_ct_equal(kcv' "$src/$f" || { echo "FAIL: $f: kcv not compared with dep11_ct_equal"; status=1; }
done
# GCM tags are checked by OpenSSL (EVP_DecryptFinal_ex), never by hand.
if grep -n 'tag' "$src/crypto/gcm.c" | grep -q 'memcmp\|==.*tag\['; then
    echo "FAIL: crypto/gcm.c compares a tag by hand"; status=1
fi
echo "memcmp calls reviewed: $hits; status $status"
exit $status
