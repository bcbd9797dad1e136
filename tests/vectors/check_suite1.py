#!/usr/bin/python3
"""check_suite1.py - independent check of the suite 1 known-answer vectors.

Written from docs/FORMATS.md, not from the C code: its own policy and child
blob parsers, KBKDF through Python cryptography's KBKDFHMAC, AES-GCM,
RSA-OAEP decryption with tests/vectors/suite1-root.pem, HMAC-SHA256.
Exits 0 when every check passes, 1 on any mismatch, 77 (skip) without the
cryptography package.
"""
import hashlib
import hmac
import os
import struct
import sys

try:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.kbkdf import (
        KBKDFHMAC, CounterLocation, Mode)
except ImportError:
    print("SKIP: the Python cryptography package is missing")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
LABEL_KCV = b"dep11 suite1 key check value"
LABEL_CHILD = b"dep11 suite1 child wrap"
LABEL_CHUNK = b"dep11 suite1 chunk key"


class Fail(Exception):
    pass


def load_kat(path):
    kat = {}
    with open(path, encoding="ascii") as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            name, sep, value = line.partition("=")
            if not sep:
                raise Fail(f"{path}:{n}: not 'name = hex'")
            name = name.strip()
            if name in kat:
                raise Fail(f"{path}:{n}: {name} twice")
            kat[name] = bytes.fromhex(value.strip())
    return kat


def kbkdf(key, label, context, length):
    """SP 800-108 counter mode, HMAC-SHA256, r = 32, L = 32 bits (FORMATS 4.1)."""
    kdf = KBKDFHMAC(algorithm=hashes.SHA256(), mode=Mode.CounterMode,
                    length=length, rlen=4, llen=4,
                    location=CounterLocation.BeforeFixed,
                    label=label, context=context, fixed=None)
    return kdf.derive(key)


class Reader:
    """Bounds-checked reader: every read checks the remaining length."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n, what):
        if n > len(self.data) - self.pos:
            raise Fail(f"truncated at {what}")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self, what):
        return self.take(1, what)[0]

    def u16(self, what):
        return struct.unpack(">H", self.take(2, what))[0]

    def u32(self, what):
        return struct.unpack(">I", self.take(4, what))[0]


def parse_policy_blob(blob):
    """FORMATS section 2; returns a dict, raises Fail on any rule broken."""
    if len(blob) > 4096:
        raise Fail("policy blob over 4096 bytes")
    r = Reader(blob)
    if r.take(4, "magic") != b"D11P":
        raise Fail("bad magic")
    if r.u8("format") != 1 or r.u8("suite") != 1:
        raise Fail("bad format or suite")
    p = {"policy_type": r.u8("type"), "managed_by": r.u8("managed_by"),
         "policy_id": r.take(16, "policy id"), "tenant": r.take(16, "tenant"),
         "version": r.u32("version")}
    if p["policy_type"] not in (1, 2, 3) or p["managed_by"] not in (1, 2):
        raise Fail("bad type or managed-by")
    if p["version"] == 0:
        raise Fail("version 0")
    g = r.u8("geo length")
    if g > 16:
        raise Fail("geo too long")
    p["geo"] = r.take(g, "geo")
    n = r.u8("label length")
    if n > 64:
        raise Fail("label too long")
    p["label"] = r.take(n, "label")
    p["kcv"] = r.take(16, "kcv")
    p["header"] = blob[:r.pos]
    count = r.u8("copy count")
    if not 1 <= count <= 4:
        raise Fail("copy count")
    p["copies"] = [parse_copy(r) for _ in range(count)]
    kinds = [c["kind"] for c in p["copies"]]
    if len(set(kinds)) != len(kinds):
        raise Fail("duplicate copy kind")
    p["mac_offset"] = r.pos
    p["mac"] = r.take(32, "mac")
    if r.pos != len(blob):
        raise Fail("trailing bytes")
    return p


def parse_copy(r):
    c = {"kind": r.u8("kind"), "alg": r.u8("alg")}
    if c["kind"] not in range(1, 6) or c["alg"] not in (1, 2, 3):
        raise Fail("bad kind or alg")
    k = r.u8("key id length")
    if not 1 <= k <= 64:
        raise Fail("key id length")
    c["key_id"] = r.take(k, "key id")
    t = r.u8("hint length")
    if t > 64:
        raise Fail("hint length")
    c["hint"] = r.take(t, "hint")
    d = r.u16("data length")
    if not 1 <= d <= 512:
        raise Fail("data length")
    c["data"] = r.take(d, "data")
    if c["kind"] <= 4 and (c["alg"] == 3 or k != 32):
        raise Fail("root copy must be RSA with a 32-byte id")
    if c["alg"] == 3 and d != 60:
        raise Fail("GCM copy must be 60 bytes")
    return c


def parse_child_blob(blob):
    """FORMATS section 3."""
    if len(blob) != 100:
        raise Fail("child blob is not 100 bytes")
    r = Reader(blob)
    if r.take(4, "magic") != b"D11C" or r.u8("format") != 1 or r.u8("suite") != 1:
        raise Fail("bad child magic, format or suite")
    c = {"role": r.u8("role"), "policy_id": r.take(16, "policy id"),
         "policy_type": r.u8("policy type"), "owner": r.take(16, "owner")}
    if c["role"] not in (2, 3, 4) or c["policy_type"] not in (1, 2, 3):
        raise Fail("bad role or policy type")
    c["header"] = blob[:40]
    c["nonce"], c["ct"], c["tag"] = r.take(12, "n"), r.take(32, "c"), r.take(16, "t")
    return c


class Checker:
    def __init__(self, kat):
        self.kat, self.used, self.count, self.failed = kat, set(), 0, 0

    def __getitem__(self, name):
        if name not in self.kat:
            raise Fail(f"suite1.kat lacks {name}")
        self.used.add(name)
        return self.kat[name]

    def same(self, what, got, want):
        self.count += 1
        if got == want:
            print(f"ok   {what}")
        else:
            self.failed += 1
            print(f"FAIL {what}\n     got  {bytes(got).hex()}\n     want {bytes(want).hex()}")

    def true(self, what, cond):
        self.same(what, bool(cond), True)


def oaep(alg):
    h = {1: hashes.SHA1(), 2: hashes.SHA256()}[alg]
    return padding.OAEP(mgf=padding.MGF1(algorithm=h), algorithm=h, label=None)


def gcm_open(key, data, aad):
    """nonce(12) || ct || tag(16) -> plaintext, or None when the tag fails."""
    try:
        return AESGCM(key).decrypt(data[:12], data[12:], aad)
    except Exception:  # cryptography raises InvalidTag
        return None


def check_policy(k, root):
    pk = k["policy_key"]
    kcv = kbkdf(pk, LABEL_KCV, k["policy_id"], 16)
    k.same("kcv = KBKDF(policy key, kcv label, policy id)", kcv, k["kcv"])
    spki = root.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    ident = hashlib.sha256(spki).digest()
    k.same("root identity = SHA-256(DER SPKI)", ident, k["root_identity"])
    geo, label = k["geo"], k["label"]
    header = (b"D11P" + bytes([1, 1]) + k["policy_type"] + k["managed_by"] +
              k["policy_id"] + k["tenant"] + k["version"] +
              bytes([len(geo)]) + geo + bytes([len(label)]) + label + kcv)
    k.same("policy header bytes", header, k["policy_header"])
    avail = k["availability_nonce"] + AESGCM(k["availability_key"]).encrypt(
        k["availability_nonce"], pk, header)
    k.same("availability copy (GCM, AAD = header)", avail, k["availability_copy"])

    blob = k["policy_blob"]
    p = parse_policy_blob(blob)
    k.same("parsed header span", p["header"], header)
    k.same("parsed policy type", bytes([p["policy_type"]]), k["policy_type"])
    k.same("parsed managed-by", bytes([p["managed_by"]]), k["managed_by"])
    k.same("parsed policy id", p["policy_id"], k["policy_id"])
    k.same("parsed tenant", p["tenant"], k["tenant"])
    k.same("parsed version", struct.pack(">I", p["version"]), k["version"])
    k.same("parsed geo", p["geo"], geo)
    k.same("parsed label", p["label"], label)
    k.same("parsed kcv", p["kcv"], kcv)
    want = [(1, 2, ident, k["root_hint_1"], k["rsa_copy_sha256"]),
            (2, 1, ident, k["root_hint_2"], k["rsa_copy_sha1"]),
            (5, 3, k["availability_key_id"], b"", avail)]
    got = [(c["kind"], c["alg"], c["key_id"], c["hint"], c["data"]) for c in p["copies"]]
    k.same("copies (kind, alg, key id, hint, data)", repr(got).encode(), repr(want).encode())
    mac = hmac.new(k["mac_key"], blob[:p["mac_offset"]], hashlib.sha256).digest()
    k.same("MAC = HMAC-SHA256(mac key, blob before the MAC)", mac, p["mac"])
    k.same("policy_mac entry", p["mac"], k["policy_mac"])
    k.same("MAC offset = len - 32", p["mac_offset"], len(blob) - 32)

    for c in p["copies"]:
        name = f"copy kind {c['kind']} alg {c['alg']}"
        if c["alg"] == 3:
            key = gcm_open(k["availability_key"], c["data"], p["header"])
            bad = gcm_open(k["availability_key"], c["data"], p["header"][:-1] + b"\0")
            k.true(name + ": another header fails the tag", bad is None)
        else:
            key = root.decrypt(c["data"], oaep(c["alg"]))
            try:
                root.decrypt(c["data"], oaep(3 - c["alg"]))
                other = True
            except ValueError:
                other = False
            k.true(name + ": the other OAEP hash fails", not other)
        k.same(name + ": decrypts to the policy key", key, pk)
        k.same(name + ": kcv of the decrypted key", kbkdf(key, LABEL_KCV, p["policy_id"], 16),
               p["kcv"])

    # The parser rejects every truncation and a trailing byte.
    rejected = 0
    for n in list(range(len(blob))) + [-1]:
        try:
            parse_policy_blob(blob[:n] if n >= 0 else blob + b"\0")
        except Fail:
            rejected += 1
    k.same("every truncation and a trailing byte rejected", rejected, len(blob) + 1)
    flipped = bytearray(blob)
    flipped[50] ^= 1
    mac2 = hmac.new(k["mac_key"], bytes(flipped[:p["mac_offset"]]), hashlib.sha256).digest()
    k.true("a flipped header bit breaks the MAC", mac2 != p["mac"])


def check_child(k):
    pk = k["policy_key"]
    header = (b"D11C" + bytes([1, 1, 2]) + k["policy_id"] + k["policy_type"] +
              k["child_owner"])
    k.same("child header bytes", header, k["child_header"])
    kek = kbkdf(pk, LABEL_CHILD, header, 32)
    k.same("child KEK = KBKDF(policy key, child label, header)", kek, k["child_kek"])
    nonce = k["child_nonce"]
    blob = header + nonce + AESGCM(kek).encrypt(nonce, k["child_key"], header)
    k.same("child blob", blob, k["child_blob"])
    c = parse_child_blob(k["child_blob"])
    k.true("child blob fields", c["role"] == 2 and c["policy_id"] == k["policy_id"] and
           c["owner"] == k["child_owner"] and bytes([c["policy_type"]]) == k["policy_type"])
    key = gcm_open(kbkdf(pk, LABEL_CHILD, c["header"], 32), c["nonce"] + c["ct"] + c["tag"],
                   c["header"])
    k.same("child blob unwraps to the child key", key, k["child_key"])
    other = header[:24] + bytes([header[24] ^ 1]) + header[25:]
    k.true("another owner fails", gcm_open(kbkdf(pk, LABEL_CHILD, other, 32),
                                           c["nonce"] + c["ct"] + c["tag"], other) is None)
    out = nonce + AESGCM(k["child_key"]).encrypt(nonce, k["aead_plaintext"], k["aead_aad"])
    k.same("CKM_DEP11_AEAD output", out, k["aead_output"])


def check_chunk(k):
    aad = k["file_id"] + k["chunk_index"]
    k.same("chunk AAD = file id || u64be(index)", aad, k["chunk_aad"])
    key = kbkdf(k["site_key"], LABEL_CHUNK, aad, 32)
    k.same("chunk key = KBKDF(site key, chunk label, AAD)", key, k["chunk_key"])
    nonce = k["chunk_nonce"]
    out = nonce + AESGCM(key).encrypt(nonce, k["chunk_plaintext"], aad)
    k.same("CKM_DEP11_CHUNK_AEAD output", out, k["chunk_aead"])
    # Opening the fixed sealed chunk: at its (file, index) only.
    k.same("the sealed chunk opens", gcm_open(key, k["chunk_aead"], aad), k["chunk_plaintext"])
    index = int.from_bytes(k["chunk_index"], "big")
    for other in (k["file_id"] + (index + 1).to_bytes(8, "big"),
                  k["file_id"] + (index ^ (1 << 63)).to_bytes(8, "big"),
                  bytes([k["file_id"][0] ^ 1]) + aad[1:]):
        okey = kbkdf(k["site_key"], LABEL_CHUNK, other, 32)
        k.true("the chunk does not open at another index or file",
               gcm_open(okey, k["chunk_aead"], other) is None and
               gcm_open(key, k["chunk_aead"], other) is None)


def main():
    kat_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "suite1.kat")
    pem_path = os.path.join(os.path.dirname(kat_path), "suite1-root.pem")
    try:
        k = Checker(load_kat(kat_path))
        with open(pem_path, "rb") as f:
            root = serialization.load_pem_private_key(f.read(), password=None)
        check_policy(k, root)
        check_child(k)
        check_chunk(k)
        unused = sorted(set(k.kat) - k.used)
        k.true("every vector in the file was checked" + (f" (unused: {unused})" if unused else ""),
               not unused)
    except (Fail, OSError, ValueError) as e:
        print(f"FAIL {e}")
        return 1
    print(f"{k.count - k.failed} of {k.count} checks passed ({kat_path})")
    return 1 if k.failed else 0


if __name__ == "__main__":
    sys.exit(main())
