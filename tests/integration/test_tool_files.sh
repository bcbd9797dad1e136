#!/usr/bin/env bash
# test_tool_files.sh: the dep11-tool site and file commands (site create,
# site show, file seal, file open) through libdep11.so on a throwaway SoftHSM
# world, asserting output, exit codes and files: sizes from empty to several
# chunks, a large sparse file, and damaged containers (a swapped chunk, a
# file cut at a chunk boundary or inside a chunk, a flipped byte, a chunk
# from another file, data after the final chunk), none of which may leave
# an output file. DEP11_TEST_BIG=1 adds a 3 GiB sparse file with 64 MiB
# chunks (about 90 s in the ASan build, so not by default).
# Env (set by make check): abs_top_srcdir, abs_top_builddir, DEP11_MODULE,
# SOFTHSM_MODULE.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
: "${abs_top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${abs_top_builddir:=$abs_top_srcdir}"
: "${SOFTHSM_MODULE:=/usr/lib/softhsm/libsofthsm2.so}"
: "${DEP11_MODULE:=$abs_top_builddir/.libs/libdep11.so}"
TOOL="$abs_top_builddir/tools/dep11-tool"
PY=/usr/bin/python3

[ -x "$TOOL" ] || { echo "SKIP: $TOOL not built"; exit 77; }
[ -f "$SOFTHSM_MODULE" ] || { echo "SKIP: no SoftHSM module"; exit 77; }
[ -f "$DEP11_MODULE" ] || { echo "SKIP: $DEP11_MODULE not built"; exit 77; }
[ -x "$PY" ] || { echo "SKIP: no $PY"; exit 77; }

# shellcheck source=tests/integration/tool_checks.sh
. "$here/tool_checks.sh"
tool_world "$abs_top_builddir/tests/integration/worlds/tool-files"
export SOFTHSM2_CONF="$W/softhsm2.conf"
export DEP11_CONF="$W/dep11.conf"
OUT="$W/out"
mkdir -p "$OUT"

fails=0 checks=0
same() { # same A B: files equal
    checks=$((checks + 1))
    cmp -s "$1" "$2" || fail "$1 and $2 differ"
}
absent() { # absent FILE: neither FILE nor a temporary FILE.XXXXXX exists
    checks=$((checks + 1))
    if [ -e "$1" ] || compgen -G "$1.??????" >/dev/null; then
        fail "$1 (or its temporary file) was left behind"
    fi
}

# container OP IN OUT [ARGS]: rewrites a sealed file (docs/FORMATS.md 5.3):
# header (28 bytes) then records u32be(len) || len bytes.
container() {
    "$PY" - "$@" <<'EOF'
import struct, sys
op, src, dst = sys.argv[1:4]
args = [int(a) for a in sys.argv[4:]]
data = open(src, "rb").read()
hdr, recs, off = data[:28], [], 28
while off < len(data):
    n = struct.unpack(">I", data[off:off + 4])[0]
    recs.append(data[off:off + 4 + n])
    off += 4 + n
if op == "count":
    print(len(recs)); sys.exit(0)
if op == "swap":
    a, b = args
    recs[a], recs[b] = recs[b], recs[a]
elif op == "drop":                       # drop record i
    del recs[args[0]]
elif op == "flip":                       # flip a bit at byte k of record i's sealed bytes
    i, k = args
    r = bytearray(recs[i]); r[4 + k] ^= 0x04; recs[i] = bytes(r)
elif op == "dup-last":
    recs.append(recs[-1])
elif op == "cut":                        # cut n bytes off the end
    out = (hdr + b"".join(recs))[:-args[0]]
    open(dst, "wb").write(out); sys.exit(0)
elif op == "fileid":                     # change one bit of the file id
    hdr = hdr[:8] + bytes([hdr[8] ^ 1]) + hdr[9:]
elif op == "chunksize":                  # set the header's chunk size
    hdr = hdr[:24] + struct.pack(">I", args[0])
open(dst, "wb").write(hdr + b"".join(recs))
EOF
}
# graft A B I OUT: B with its record I replaced by A's record I.
graft() {
    "$PY" - "$@" <<'EOF'
import struct, sys
def parse(p):
    d = open(p, "rb").read(); recs = []; off = 28
    while off < len(d):
        n = struct.unpack(">I", d[off:off + 4])[0]; recs.append(d[off:off + 4 + n]); off += 4 + n
    return d[:28], recs
a, b, i, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
_, ra = parse(a); hb, rb = parse(b)
rb[i] = ra[i]
open(out, "wb").write(hb + b"".join(rb))
EOF
}

D=(--module "$DEP11_MODULE" --token-label contoso --pin-source "file:$W/user.pin")
TEN=0b5e2a6c-7c1d-4f51-9a0e-3d7b1c2e4f60
SITE=https://contoso.sharepoint.com/sites/finance
P=(--policy "$OUT/files.blob" --site "$OUT/fin.site" --site-id "$SITE")

echo "== help and options"
for c in "site create" "site show" "file seal" "file open"; do
    # shellcheck disable=SC2086
    t 0 "$c --help" -- "$TOOL" $c --help; has stdout '^Usage: dep11-tool'
done
t 0 "main help lists them" -- "$TOOL" --help
has stdout 'site create'; has stdout 'file open'
t 2 "site create: missing options" -- "$TOOL" "${D[@]}" site create --policy x
t 2 "site show: no file" -- "$TOOL" site show
for bad in 0 65M 64MiB1 abc -1 67108865; do
    t 2 "file seal: --chunk-size $bad" -- "$TOOL" "${D[@]}" file seal "${P[@]}" \
        --chunk-size "$bad" --in /dev/null --out "$OUT/x"
done
t 2 "file open: --chunk-size refused" -- "$TOOL" "${D[@]}" file open "${P[@]}" \
    --chunk-size 4K --in /dev/null --out "$OUT/x"

echo "== policies and sites"
t 0 "files policy" -- "$TOOL" "${D[@]}" policy create --type files --tenant "$TEN" \
    --name "Contoso files" --root1 root1 --root2 root2 --out "$OUT/files.blob"
t 0 "mailbox policy" -- "$TOOL" "${D[@]}" policy create --type mailbox --tenant "$TEN" \
    --name "Contoso mail" --root1 root1 --root2 root2 --out "$OUT/mail.blob"
t 1 "site create under a mailbox policy: refused" -- "$TOOL" "${D[@]}" site create \
    --policy "$OUT/mail.blob" --site-id "$SITE" --out "$OUT/bad.site"
has stderr 'is a mailbox policy'
absent "$OUT/bad.site"
t 0 "site create" -- "$TOOL" "${D[@]}" site create --policy "$OUT/files.blob" \
    --site-id "$SITE" --out "$OUT/fin.site"
has stdout 'wrapped under the files policy'
checks=$((checks + 1)); [ "$(stat -c %s "$OUT/fin.site")" -eq 100 ] || fail "site blob is not 100 bytes"
t 2 "site create: existing output kept" -- "$TOOL" "${D[@]}" site create \
    --policy "$OUT/files.blob" --site-id "$SITE" --out "$OUT/fin.site"
t 0 "second site" -- "$TOOL" "${D[@]}" site create --policy "$OUT/files.blob" \
    --site-id other-site --out "$OUT/other.site"
t 0 "site show" -- "$TOOL" site show "$OUT/fin.site"
has stdout '^role +site'; has stdout '^policy type +files'
sid=$(printf %s "$SITE" | sha256sum | cut -c1-32)
has stdout "^owner +$sid"
pid=$("$TOOL" --module "$DEP11_MODULE" --json policy show "$OUT/files.blob" |
      "$PY" -c 'import json,sys; print(json.load(sys.stdin)["policy_id"])')
has stdout "^policy id +$pid"
t 0 "site show --json" -- "$TOOL" --json site show "$OUT/fin.site"
json "j['role'] == 'site' and j['policy_type'] == 'files' and j['owner'] == '$sid' and j['policy_id'] == '$pid'"
t 0 "mailbox assign, then site show on its blob" -- "$TOOL" "${D[@]}" mailbox assign \
    --policy "$OUT/mail.blob" --owner alice --out "$OUT/alice.mbx"
t 0 "site show: a mailbox child blob" -- "$TOOL" site show "$OUT/alice.mbx"
has stdout '^role +mailbox'; has stdout '^policy type +mailbox'
t 1 "site show: a policy blob is no child blob" -- "$TOOL" site show "$OUT/files.blob"
has stderr 'not a dep11 child blob'

echo "== seal and open, sizes"
head -c 1 /dev/urandom >"$OUT/one"
: >"$OUT/empty"
head -c 4096 /dev/urandom >"$OUT/c1"       # exactly one 4 KiB chunk
head -c 4097 /dev/urandom >"$OUT/c1p"      # one chunk and one byte
head -c 41000 /dev/urandom >"$OUT/several" # ten full chunks and a partial one
head -c $((9 * 1024 * 1024 + 5)) /dev/urandom >"$OUT/nine" # default 4 MiB chunks
seal_open() { # seal_open NAME CHUNK-SIZE-OR-"" CHUNKS
    local name=$1 cs=() n=$3
    [ -z "$2" ] || cs=(--chunk-size "$2")
    rm -f "$OUT/$name.sealed" "$OUT/$name.opened"
    t 0 "seal $name" -- "$TOOL" "${D[@]}" --json file seal "${P[@]}" "${cs[@]}" \
        --in "$OUT/$name" --out "$OUT/$name.sealed"
    json "j['ok'] and j['chunks'] == $n and j['in_bytes'] == $(stat -c %s "$OUT/$name")"
    checks=$((checks + 1))
    [ "$(container count "$OUT/$name.sealed" -)" -eq "$n" ] || fail "$name: not $n records"
    t 0 "open $name" -- "$TOOL" "${D[@]}" file open "${P[@]}" --in "$OUT/$name.sealed" \
        --out "$OUT/$name.opened"
    has stdout "in $n chunks?"
    same "$OUT/$name" "$OUT/$name.opened"
}
seal_open empty 4K 1
checks=$((checks + 1)); [ "$(stat -c %s "$OUT/empty.sealed")" -eq $((28 + 4 + 28)) ] ||
    fail "an empty file does not seal to header + one empty chunk"
seal_open one 4K 1
seal_open c1 4K 1
seal_open c1p 4K 2
seal_open several 4096 11
seal_open nine "" 3
checks=$((checks + 1))
head -c 4 "$OUT/several.sealed" | grep -q '^D11F' || fail "no D11F magic"
# Two seals of one file differ (random file id, random nonces).
t 0 "seal again" -- "$TOOL" "${D[@]}" file seal "${P[@]}" --chunk-size 4K \
    --in "$OUT/several" --out "$OUT/several.again"
checks=$((checks + 1))
cmp -s "$OUT/several.sealed" "$OUT/several.again" && fail "two seals are identical"
checks=$((checks + 1))
cmp -s -n 4096 "$OUT/several" <(tail -c +45 "$OUT/several.sealed") && fail "plaintext in the sealed file"
# stdin / stdout
t 0 "seal from stdin" -- bash -c "'$TOOL' ${D[*]@Q} file seal ${P[*]@Q} --chunk-size 1K --in - --out '$OUT/stdin.sealed' <'$OUT/several'"
t 0 "open to stdout" -- bash -c "'$TOOL' ${D[*]@Q} file open ${P[*]@Q} --in '$OUT/stdin.sealed' --out - >'$OUT/stdout.opened'"
same "$OUT/several" "$OUT/stdout.opened"

echo "== wrong keys"
t 1 "open with another site id" -- "$TOOL" "${D[@]}" file open --policy "$OUT/files.blob" \
    --site "$OUT/fin.site" --site-id other-site --in "$OUT/several.sealed" --out "$OUT/w1"
has stderr 'CKR_WRAPPED_KEY_INVALID'
absent "$OUT/w1"
t 1 "open with another site" -- "$TOOL" "${D[@]}" file open --policy "$OUT/files.blob" \
    --site "$OUT/other.site" --site-id other-site --in "$OUT/several.sealed" --out "$OUT/w2"
has stderr 'chunk 0 failed to authenticate'
absent "$OUT/w2"
t 1 "file seal under a mailbox policy: refused" -- "$TOOL" "${D[@]}" file seal \
    --policy "$OUT/mail.blob" --site "$OUT/fin.site" --site-id "$SITE" --in "$OUT/one" \
    --out "$OUT/w3"
has stderr 'is a mailbox policy'
absent "$OUT/w3"

echo "== damaged containers"
S="$OUT/several.sealed"
damaged() { # damaged NAME REGEX: opening $OUT/NAME fails with exit 1, no output
    t 1 "open: $1" -- "$TOOL" "${D[@]}" file open "${P[@]}" --in "$OUT/$1" \
        --out "$OUT/$1.opened"
    has stderr "$2"
    absent "$OUT/$1.opened"
}
container swap "$S" "$OUT/swapped" 3 4;   damaged swapped 'chunk 3 failed to authenticate'
container swap "$S" "$OUT/swap0" 0 10;    damaged swap0 'chunk 0 failed to authenticate'
container drop "$S" "$OUT/lastcut" 10;    damaged lastcut 'truncated: it ends after chunk 9, which is not the final'
container drop "$S" "$OUT/middrop" 5;     damaged middrop 'chunk 5 failed to authenticate'
container cut "$S" "$OUT/cut10" 10;       damaged cut10 'chunk 10 is truncated'
container cut "$S" "$OUT/cutlen" $((40 + 28 + 2)); damaged cutlen 'chunk 10: truncated length'
"$PY" -c 'import sys; d=open(sys.argv[1],"rb").read(); open(sys.argv[2],"wb").write(d[:28])' \
    "$S" "$OUT/headonly";                 damaged headonly 'truncated: chunk 0 and the final chunk are missing'
container flip "$S" "$OUT/flip-nonce" 3 0;    damaged flip-nonce 'chunk 3 failed to authenticate'
container flip "$S" "$OUT/flip-ct" 3 2000;    damaged flip-ct 'chunk 3 failed to authenticate'
container flip "$S" "$OUT/flip-tag" 3 4110;   damaged flip-tag 'chunk 3 failed to authenticate'
container dup-last "$S" "$OUT/extended" ;     damaged extended 'chunk 10 is the final chunk but data follows'
container fileid "$S" "$OUT/fileid";          damaged fileid 'chunk 0 failed to authenticate'
container chunksize "$S" "$OUT/csize" 2048;   damaged csize 'chunk 0: length out of range'
container chunksize "$S" "$OUT/csize0" 0;     damaged csize0 'chunk size 0 out of range'
t 0 "a second file, same site" -- "$TOOL" "${D[@]}" file seal "${P[@]}" --chunk-size 4K \
    --in "$OUT/several" --out "$OUT/second.sealed"
graft "$OUT/second.sealed" "$S" 2 "$OUT/grafted"; damaged grafted 'chunk 2 failed to authenticate'
printf 'not a sealed file' >"$OUT/garbage"
t 2 "open: not a sealed file" -- "$TOOL" "${D[@]}" file open "${P[@]}" --in "$OUT/garbage" \
    --out "$OUT/garbage.opened"
has stderr 'not a dep11 sealed file'
absent "$OUT/garbage.opened"
# A failed open never replaces an existing output, even with --force.
printf 'keep me' >"$OUT/kept"
t 1 "open --force onto an existing file: still kept on failure" -- "$TOOL" "${D[@]}" \
    file open "${P[@]}" --in "$OUT/swapped" --out "$OUT/kept" --force
checks=$((checks + 1)); [ "$(cat "$OUT/kept")" = "keep me" ] || fail "the existing output was replaced"

echo "== large sparse input, 64 MiB chunks"
big() { # big SIZE CHUNKS
    rm -f "$OUT/big" "$OUT/big.sealed" "$OUT/big.opened"
    truncate -s "$1" "$OUT/big"
    local t0=$SECONDS
    t 0 "seal $1 sparse" -- "$TOOL" "${D[@]}" --json file seal "${P[@]}" --chunk-size 64M \
        --in "$OUT/big" --out "$OUT/big.sealed"
    json "j['chunks'] == $2"
    t 0 "open $1 sparse" -- "$TOOL" "${D[@]}" file open "${P[@]}" --in "$OUT/big.sealed" \
        --out "$OUT/big.opened"
    same "$OUT/big" "$OUT/big.opened"
    echo "   ($1 with 64 MiB chunks: seal + open + compare in $((SECONDS - t0)) s)"
    rm -f "$OUT/big" "$OUT/big.sealed" "$OUT/big.opened"
}
big 130M 3
# A multi-GB sparse input through pipes (seal | open | cmp): nothing but the
# sparse input touches the disk, and memory stays at about two chunks. Run in
# builds without ASan (about 90 s with it); DEP11_TEST_BIG=1 forces it, and
# also runs the file-to-file variant above at 3 GiB (6 GiB of disk).
stream_big() { # stream_big SIZE
    local t0=$SECONDS rc=0
    rm -f "$OUT/big"
    truncate -s "$1" "$OUT/big"
    "$TOOL" "${D[@]}" file seal "${P[@]}" --chunk-size 64M --in "$OUT/big" --out - |
        "$TOOL" "${D[@]}" file open "${P[@]}" --in - --out - | cmp - "$OUT/big" || rc=$?
    checks=$((checks + 1))
    [ "$rc" -eq 0 ] || fail "$1 sparse through pipes: seal | open | cmp failed ($rc)"
    echo "   ($1 sparse through pipes, 64 MiB chunks: seal | open | cmp in $((SECONDS - t0)) s)"
    rm -f "$OUT/big"
}
if ldd "$DEP11_MODULE" 2>/dev/null | grep libasan >/dev/null && [ "${DEP11_TEST_BIG:-0}" != 1 ]; then
    echo "   (multi-GB sparse case runs in the build without ASan; DEP11_TEST_BIG=1 forces it)"
else
    stream_big 3G
fi
if [ "${DEP11_TEST_BIG:-0}" = 1 ]; then
    big 3G 48
fi

echo "$checks checks, $fails failures"
[ "$fails" -eq 0 ]
