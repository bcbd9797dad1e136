#!/usr/bin/env python3
"""blob_copies.py BLOB: prints one line per wrapped copy of a policy blob
(docs/FORMATS.md section 2): "kind alg key_id_hex data_len", and first
"policy <id hex>". Exit 1 on a blob that does not parse."""
import sys


def copies(b):
    if b[:4] != b"D11P":
        raise ValueError("not a policy blob")
    pid = b[8:24]
    g = b[44]
    off = 45 + g
    lab = b[off]
    off += 1 + lab + 16
    n = b[off]
    off += 1
    out = []
    for _ in range(n):
        kind, alg, klen = b[off], b[off + 1], b[off + 2]
        key = b[off + 3:off + 3 + klen]
        off += 3 + klen
        hlen = b[off]
        off += 1 + hlen
        dlen = int.from_bytes(b[off:off + 2], "big")
        off += 2 + dlen
        out.append((kind, alg, key.hex(), dlen))
    if off + 32 != len(b):
        raise ValueError("length mismatch")
    return pid.hex(), out


def main():
    try:
        pid, cs = copies(open(sys.argv[1], "rb").read())
    except (ValueError, IndexError) as e:
        print("blob_copies: %s" % e, file=sys.stderr)
        return 1
    print("policy %s" % pid)
    for c in cs:
        print("%d %d %s %d" % c)
    return 0


if __name__ == "__main__":
    sys.exit(main())
