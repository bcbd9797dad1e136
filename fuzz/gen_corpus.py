#!/usr/bin/env python3
"""gen_corpus.py - writes the seed corpus of the fuzz harnesses into
fuzz/corpus/<harness>/ (run once by hand; the files are committed):
policy and child blobs from tests/vectors/suite1.kat and structural
variants of them, config files, and mechanism inputs (op, flags, parameter
length, parameter bytes, data; see fuzz/fuzz_mechanisms.c).
Usage: fuzz/gen_corpus.py [TOP_SRCDIR]"""
import os
import struct
import sys

top = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
kat = {}
for line in open(os.path.join(top, "tests/vectors/suite1.kat")):
    line = line.split("#", 1)[0].strip()
    if "=" in line:
        k, v = (x.strip() for x in line.split("=", 1))
        kat[k] = bytes.fromhex(v)


def put(harness, name, data):
    d = os.path.join(top, "fuzz/corpus", harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- policy blobs --------------------------------------------------------
def parse_policy(b):
    """Splits the suite-1 blob into header fields, copies and MAC."""
    p = 4 + 4
    pid, tenant = b[p:p + 16], b[p + 16:p + 32]
    p += 32
    version = b[p:p + 4]
    p += 4
    geo = b[p + 1:p + 1 + b[p]]
    p += 1 + b[p]
    label = b[p + 1:p + 1 + b[p]]
    p += 1 + b[p]
    kcv = b[p:p + 16]
    p += 16
    head = (b[4:8], pid, tenant, version, geo, label, kcv)
    n = b[p]
    p += 1
    copies = []
    for _ in range(n):
        kind, alg, idl = b[p], b[p + 1], b[p + 2]
        kid = b[p + 3:p + 3 + idl]
        p += 3 + idl
        hint = b[p + 1:p + 1 + b[p]]
        p += 1 + b[p]
        dl = struct.unpack(">H", b[p:p + 2])[0]
        copies.append((kind, alg, kid, hint, b[p + 2:p + 2 + dl]))
        p += 2 + dl
    return head, copies, b[p:]


def build_policy(head, copies, mac):
    fmt_suite_type_mb, pid, tenant, version, geo, label, kcv = head
    out = b"D11P" + fmt_suite_type_mb + pid + tenant + version
    out += bytes([len(geo)]) + geo + bytes([len(label)]) + label + kcv
    out += bytes([len(copies)])
    for kind, alg, kid, hint, data in copies:
        out += bytes([kind, alg, len(kid)]) + kid + bytes([len(hint)]) + hint
        out += struct.pack(">H", len(data)) + data
    return out + mac


blob = kat["policy_blob"]
head, copies, mac = parse_policy(blob)
assert build_policy(head, copies, mac) == blob
put("policy_blob", "suite1", blob)
put("policy_blob", "one-copy", build_policy(head, copies[:1], mac))
put("policy_blob", "two-copies", build_policy(head, copies[:2], mac))
put("policy_blob", "gcm-only", build_policy(head, copies[2:], mac))
put("policy_blob", "four-copies", build_policy(head, copies + copies[:1], mac))
put("policy_blob", "five-copies", build_policy(head, copies + copies[:2], mac))
put("policy_blob", "no-copies", build_policy(head, [], mac))
put("policy_blob", "provider-kinds",
    build_policy(head, [(3,) + copies[0][1:], (4,) + copies[1][1:], copies[2]], mac))
for t in (1, 2, 3, 0, 4):
    h = (bytes([1, 1, t, 2]),) + head[1:]
    put("policy_blob", "type-%d" % t, build_policy(h, copies, mac))
put("policy_blob", "provider-managed", build_policy((bytes([1, 1, 1, 1]),) + head[1:], copies, mac))
put("policy_blob", "empty-geo-label", build_policy(head[:4] + (b"", b"") + head[6:], copies, mac))
put("policy_blob", "max-geo-label",
    build_policy(head[:4] + (b"g" * 16, b"l" * 64) + head[6:], copies, mac))
put("policy_blob", "long-geo", build_policy(head[:4] + (b"g" * 17, b"") + head[6:], copies, mac))
put("policy_blob", "version-0", build_policy(head[:3] + (b"\0\0\0\0",) + head[4:], copies, mac))
put("policy_blob", "no-hint", build_policy(head, [c[:3] + (b"",) + c[4:] for c in copies], mac))
put("policy_blob", "big-copy", build_policy(head, [copies[0][:4] + (b"\x5a" * 512,)], mac))
put("policy_blob", "huge-copy", build_policy(head, [copies[0][:4] + (b"\x5a" * 513,)], mac))
put("policy_blob", "trailing-byte", blob + b"\0")
put("policy_blob", "short-mac", blob[:-1])
for cut in (0, 3, 8, 40, 60, 107, 200, len(blob) // 2):
    put("policy_blob", "cut-%d" % cut, blob[:cut])
put("policy_blob", "bad-magic", b"D11X" + blob[4:])
put("policy_blob", "bad-format", blob[:4] + b"\x02" + blob[5:])
put("policy_blob", "bad-suite", blob[:5] + b"\x02" + blob[6:])

# --- child blobs ---------------------------------------------------------
child = kat["child_blob"]
put("child_blob", "suite1", child)
for role in (1, 2, 3, 4, 5):
    put("child_blob", "role-%d" % role, child[:6] + bytes([role]) + child[7:])
for t in (0, 1, 2, 3, 4):
    put("child_blob", "type-%d" % t, child[:23] + bytes([t]) + child[24:])
put("child_blob", "bad-magic", b"D11P" + child[4:])
put("child_blob", "bad-format", child[:4] + b"\x09" + child[5:])
put("child_blob", "bad-suite", child[:5] + b"\x00" + child[6:])
put("child_blob", "long", child + b"\0")
put("child_blob", "policy-blob", blob[:len(child)])
for cut in (0, 1, 4, 39, 40, 52, 84, len(child) - 1):
    put("child_blob", "cut-%d" % cut, child[:cut])

# --- configs -------------------------------------------------------------
prof = open(os.path.join(top, "hsm-profiles/softhsm2.conf"), "rb").read()
base = (b"profile = fz\nprovider-token = dep11-provider\n"
        b"provider-pin = file:/nonexistent/provider.pin\n")
sep = b"\n%%\n"
put("config", "minimal", base + sep + b"module = /usr/lib/softhsm/libsofthsm2.so\n")
put("config", "softhsm2", base + sep + prof)
put("config", "every-key", base + b"audit-log = /tmp/dep11-audit.log\ncache-seconds = 60\n"
    b"cache-entries = 16\nsystem-requests = allow\nrecovery-requests = deny\n"
    b"caller-iv = allow\ntrusted-roots = any\nreceipt-public-key = /tmp/r.pem\n" + sep + prof)
put("config", "no-profile", b"provider-token = x\nprovider-pin = env:PIN\n")
put("config", "absolute-profile", b"profile = /nonexistent/p.conf\nprovider-token = x\n"
    b"provider-pin = env:PIN\n")
put("config", "unknown-key", base + b"colour = blue\n" + sep + prof)
put("config", "dup-key", base + b"provider-token = again\n" + sep + prof)
put("config", "no-equals", base + b"provider-token\n" + sep + prof)
put("config", "empty-value", base + b"cache-seconds =\n" + sep + prof)
put("config", "range", base + b"cache-seconds = 86401\n" + sep + prof)
put("config", "negative", base + b"cache-entries = -1\n" + sep + prof)
put("config", "hex-number", base + b"cache-entries = 0x10\n" + sep + prof)
put("config", "bad-word", base + b"system-requests = maybe\n" + sep + prof)
put("config", "comments", b"# c\n   # indented\n" + base + b"cache-seconds = 5 # trailing\n"
    + sep + prof)
put("config", "crlf", base.replace(b"\n", b"\r\n") + sep + prof)
put("config", "long-line", base + b"audit-log = /" + b"a" * 5000 + b"\n" + sep + prof)
put("config", "nul-byte", base + b"audit-log = /a\0b\n" + sep + prof)
put("config", "no-newline", base.rstrip(b"\n") + sep + prof.rstrip(b"\n"))
put("config", "pin-uri", b"profile = fz\nprovider-token = pkcs11:token=dep11-provider\n"
    b"provider-pin = env:DEP11_PIN\n" + sep + prof)
put("config", "empty", b"")
for key, val in ((b"oaep-hash", b"md5"), (b"aes-key-wrap-pad-mechanism", b"0xZZ"),
                 (b"max-sessions", b"0"), (b"provider-rsa-bits", b"1024"),
                 (b"root-unwrap", b"unwrap"), (b"gcm-iv", b"hsm"),
                 (b"availability-key", b"rsa"), (b"hedged-unwrap", b"yes"),
                 (b"retries", b"11"), (b"module", b""),
                 (b"fault-transient", b"0x30, 0x82"), (b"fault-denied", b"0x101"),
                 (b"fault-invalid", b"5,,6")):
    put("config", "profile-" + key.decode(), base + sep + b"module = /usr/lib/softhsm/"
        b"libsofthsm2.so\n" + key + b" = " + val + b"\n")
put("config", "profile-no-module", base + sep + b"oaep-hash = sha256\n")
put("config", "profile-unknown", base + sep + prof + b"speed = fast\n")


# --- mechanisms ----------------------------------------------------------
def mech(op, flags, param=b"", data=b""):
    return bytes([op, flags, len(param)]) + param + data


ops = ["policy-unwrap", "child-unwrap", "aead-decrypt", "chunk-decrypt", "gcm-decrypt",
       "policy-wrap", "child-wrap", "chunk-derive", "aead-roundtrip"]
user = struct.pack("<Q", 1)
put("mechanisms", "policy-unwrap-valid", mech(0, 0x04, user))
put("mechanisms", "policy-unwrap-system", mech(0, 0x04, struct.pack("<Q", 2)))
put("mechanisms", "policy-unwrap-recovery", mech(0, 0x04, struct.pack("<Q", 3)))
put("mechanisms", "policy-unwrap-null", mech(0, 0x05))
put("mechanisms", "policy-unwrap-patched", mech(0, 0x04, user, b"\x00\x30\x01"))
put("mechanisms", "policy-unwrap-raw", mech(0, 0x02, b"\x01\x00", blob))
put("mechanisms", "policy-unwrap-suite1", mech(0, 0x00, user, blob))
put("mechanisms", "policy-unwrap-key", mech(0, 0x0c, user))
put("mechanisms", "child-unwrap-valid", mech(1, 0x04, b"fuzz-owner-00001"))
put("mechanisms", "child-unwrap-owner", mech(1, 0x04, b"fuzz-owner-00002"))
put("mechanisms", "child-unwrap-patched", mech(1, 0x04, b"fuzz-owner-00001", b"\x00\x50\x80"))
put("mechanisms", "child-unwrap-suite1", mech(1, 0x00, b"fuzz-owner-00001", child))
put("mechanisms", "child-unwrap-short", mech(1, 0x06, b"fuzz", child))
put("mechanisms", "child-unwrap-wrongkey", mech(1, 0x0c, b"fuzz-owner-00001"))
put("mechanisms", "aead-decrypt-valid", mech(2, 0x04, b"fuzz"))
put("mechanisms", "aead-decrypt-multipart", mech(2, 0x14, b"fuzz"))
put("mechanisms", "aead-decrypt-badaad", mech(2, 0x04, b"fuzZ"))
put("mechanisms", "aead-decrypt-flip", mech(2, 0x04, b"fuzz", b"\x00\x20\x01"))
put("mechanisms", "aead-decrypt-short", mech(2, 0x00, b"", b"\0" * 27))
put("mechanisms", "aead-decrypt-raw", mech(2, 0x02, b"abc", kat["aead_output"]))
put("mechanisms", "aead-decrypt-null", mech(2, 0x01, b"", kat["aead_output"]))
put("mechanisms", "aead-decrypt-policykey", mech(2, 0x0c, b"fuzz"))
chunk = kat["file_id"] + struct.pack("<Q", 2)
put("mechanisms", "chunk-decrypt", mech(3, 0x00, chunk, kat["chunk_aead"]))
put("mechanisms", "chunk-decrypt-multipart", mech(3, 0x10, chunk, kat["chunk_aead"]))
put("mechanisms", "chunk-decrypt-raw", mech(3, 0x02, chunk[:20], kat["chunk_aead"]))
put("mechanisms", "chunk-decrypt-wrongkey", mech(3, 0x08, chunk, kat["chunk_aead"]))
gcm = bytes([12, 128]) + kat["child_nonce"] + kat["aead_aad"]
put("mechanisms", "gcm-decrypt", mech(4, 0x00, gcm, kat["aead_output"][12:]))
put("mechanisms", "gcm-decrypt-backend", mech(4, 0x08, gcm, kat["aead_output"][12:]))
put("mechanisms", "gcm-decrypt-short-params", mech(4, 0x20, gcm, kat["aead_output"][12:]))
put("mechanisms", "gcm-decrypt-tag96", mech(4, 0x00, bytes([12, 96]) + gcm[2:], b"\0" * 40))
put("mechanisms", "gcm-decrypt-noiv", mech(4, 0x08, bytes([0, 128]), b"\0" * 32))
put("mechanisms", "gcm-decrypt-multipart", mech(4, 0x18, gcm, b"\1" * 64))
for i, name in enumerate(("r2", "r1", "pub1", "policy", "mailbox", "aes", "none", "bogus")):
    put("mechanisms", "policy-wrap-" + name, mech(5, i << 5, b"\0"))
put("mechanisms", "policy-wrap-roll", mech(5, 0, b"\1"))
put("mechanisms", "policy-wrap-null", mech(5, 0x01))
put("mechanisms", "policy-wrap-raw", mech(5, 0x02, b"\1\2\3"))
put("mechanisms", "policy-wrap-pub", mech(5, 0x04, b"\0"))
put("mechanisms", "policy-wrap-child", mech(5, 0x08, b"\0"))
for i, name in enumerate(("mailbox", "site", "policy", "aes")):
    put("mechanisms", "child-wrap-" + name, mech(6, i << 5, b"owner-0123456789"))
put("mechanisms", "child-wrap-raw", mech(6, 0x02, b"owner"))
put("mechanisms", "child-wrap-wrongkey", mech(6, 0x08, b"owner-0123456789"))
put("mechanisms", "chunk-derive", mech(7, 0x00, chunk))
put("mechanisms", "chunk-derive-raw", mech(7, 0x02, chunk[:16]))
put("mechanisms", "chunk-derive-null", mech(7, 0x01))
put("mechanisms", "chunk-derive-wrongkey", mech(7, 0x08, chunk))
put("mechanisms", "aead-roundtrip", mech(8, 0x00, b"aad", b"hello"))
put("mechanisms", "aead-roundtrip-empty", mech(8, 0x00))
put("mechanisms", "aead-roundtrip-big", mech(8, 0x00, b"x" * 255, bytes(range(256)) * 16))
