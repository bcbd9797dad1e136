#!/usr/bin/python3
"""pykcs11_vendor.py: every dep11 vendor mechanism through PyKCS11, with the
parameters and vendor attributes as raw bytes (struct.pack of the C layouts
of include/dep11.h), on the token "contoso" of a test world (PIN 1234,
registered roots root1 and root2). Prints "ok - ..." / "not ok - ..." per
check; exit status 1 when any failed. Usage: pykcs11_vendor.py MODULE."""
import os
import struct
import sys

import PyKCS11
from PyKCS11 import PyKCS11Error

TAG = 0x0DE11000
CKM = lambda n: PyKCS11.CKM_VENDOR_DEFINED | TAG | n
CKA = lambda n: PyKCS11.CKA_VENDOR_DEFINED | TAG | n
KEY_GEN, POLICY_WRAP, POLICY_UNWRAP, CHILD_WRAP, CHILD_UNWRAP, \
    CHUNK_DERIVE, CHUNK_AEAD, AEAD = (CKM(n) for n in range(1, 9))
ROLE, POLICY_TYPE, POLICY_ID, TENANT, GEO, OWNER, UNWRAPPED_BY, VERSION, \
    MANAGED_BY = (CKA(n) for n in range(1, 10))
CKR_DEP11_TENANT_MISMATCH = PyKCS11.CKR_VENDOR_DEFINED | TAG | 5


def ulong(v):
    return struct.pack("@L", v)


def unulong(b):
    return struct.unpack("@L", bytes(b))[0]


fails = 0


def check(what, ok):
    global fails
    print(("ok - " if ok else "not ok - ") + what)
    fails += 0 if ok else 1


def refused(code, fn):
    try:
        fn()
    except PyKCS11Error as e:
        return e.value == code
    return False


def main():
    lib = PyKCS11.PyKCS11Lib()
    lib.load(sys.argv[1])
    slot = next(s for s in lib.getSlotList(tokenPresent=True)
                if lib.getTokenInfo(s).label.strip() == "contoso")
    se = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
    se.login("1234")
    mech_list = lib.getMechanismList(slot)
    check("C_GetMechanismList names all eight vendor mechanisms",
          all(CKM(n) in [int(m) if isinstance(m, int) else PyKCS11.CKM.get(m, m)
                         for m in mech_list] for n in range(1, 9)))

    def root(label):
        return se.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY),
                               (PyKCS11.CKA_LABEL, label)])[0]
    r1, r2 = root("root1"), root("root2")
    tenant = os.urandom(16)
    gen = PyKCS11.Mechanism(KEY_GEN)
    # 1 KEY_GEN (policy), 2 POLICY_WRAP (customer roots), 3 POLICY_UNWRAP
    policy = se.generateKey([(ROLE, ulong(1)), (POLICY_TYPE, ulong(1)), (TENANT, tenant),
                             (PyKCS11.CKA_LABEL, "pykcs11 policy")], gen)
    pid = bytes(se.getAttributeValue(policy, [POLICY_ID])[0])
    check("KEY_GEN policy: a 16-byte policy id", len(pid) == 16)
    blob = bytes(se.wrapKey(r1, policy, PyKCS11.Mechanism(
        POLICY_WRAP, struct.pack("@LL", r2.value(), 0))))
    check("POLICY_WRAP: a blob", len(blob) > 3 * 256)
    p2 = se.unwrapKey(r1, blob, [], PyKCS11.Mechanism(POLICY_UNWRAP, ulong(1)))
    by, ver = se.getAttributeValue(p2, [UNWRAPPED_BY, VERSION])
    check("POLICY_UNWRAP (requester USER, forced root1): served by customer-1, version 1",
          unulong(by) == 1 and unulong(ver) == 1)
    check("POLICY_UNWRAP keeps the policy id",
          bytes(se.getAttributeValue(p2, [POLICY_ID])[0]) == pid)
    check("POLICY_UNWRAP with a 7-byte parameter: CKR_MECHANISM_PARAM_INVALID",
          refused(PyKCS11.CKR_MECHANISM_PARAM_INVALID, lambda: se.unwrapKey(
              r1, blob, [], PyKCS11.Mechanism(POLICY_UNWRAP, b"\x01" * 7))))
    # 4 CHILD_WRAP, 5 CHILD_UNWRAP, 8 AEAD
    owner = os.urandom(16)
    mbx = se.generateKey([(ROLE, ulong(2))], gen)
    cblob = bytes(se.wrapKey(p2, mbx, PyKCS11.Mechanism(CHILD_WRAP, owner)))
    mbx2 = se.unwrapKey(p2, cblob, [], PyKCS11.Mechanism(CHILD_UNWRAP, owner))
    check("CHILD_UNWRAP: the owner and role come back",
          bytes(se.getAttributeValue(mbx2, [OWNER])[0]) == owner and
          unulong(se.getAttributeValue(mbx2, [ROLE])[0]) == 2)
    check("CHILD_UNWRAP with another owner: CKR_WRAPPED_KEY_INVALID",
          refused(PyKCS11.CKR_WRAPPED_KEY_INVALID, lambda: se.unwrapKey(
              p2, cblob, [], PyKCS11.Mechanism(CHILD_UNWRAP, os.urandom(16)))))
    aead = PyKCS11.Mechanism(AEAD)
    sealed = bytes(se.encrypt(mbx, b"hello, mailbox", aead))
    check("AEAD: nonce || ciphertext || tag", len(sealed) == 14 + 28)
    check("AEAD: the unwrapped child opens it",
          bytes(se.decrypt(mbx2, sealed, aead)) == b"hello, mailbox")
    bad = sealed[:-1] + bytes([sealed[-1] ^ 1])
    check("AEAD: a changed tag is CKR_ENCRYPTED_DATA_INVALID",
          refused(PyKCS11.CKR_ENCRYPTED_DATA_INVALID, lambda: se.decrypt(mbx2, bad, aead)))
    # 6 CHUNK_KEY_DERIVE, 7 CHUNK_AEAD (a site key under a FILES policy)
    files = se.generateKey([(ROLE, ulong(1)), (POLICY_TYPE, ulong(3)), (TENANT, tenant),
                            (GEO, b"EUR")], gen)
    site = se.generateKey([(ROLE, ulong(4))], gen)
    sblob = bytes(se.wrapKey(files, site, PyKCS11.Mechanism(CHILD_WRAP, owner)))
    check("CHILD_WRAP of a site key under a FILES policy", len(sblob) > 0)
    fid = os.urandom(16)
    chunk_params = fid + ulong(7)
    chunk = se.deriveKey(site, [], PyKCS11.Mechanism(CHUNK_DERIVE, chunk_params))
    check("CHUNK_KEY_DERIVE: a chunk key",
          unulong(se.getAttributeValue(chunk, [ROLE])[0]) == 5)
    caead = PyKCS11.Mechanism(CHUNK_AEAD, chunk_params)
    csealed = bytes(se.encrypt(site, b"chunk seven", caead))
    check("CHUNK_AEAD: seal and open",
          bytes(se.decrypt(site, csealed, caead)) == b"chunk seven")
    check("CHUNK_AEAD: another index does not open it",
          refused(PyKCS11.CKR_ENCRYPTED_DATA_INVALID, lambda: se.decrypt(
              site, csealed, PyKCS11.Mechanism(CHUNK_AEAD, fid + ulong(8)))))
    check("the chunk key with AEAD and no AAD does not open it (AAD binds file and index)",
          refused(PyKCS11.CKR_ENCRYPTED_DATA_INVALID, lambda: se.decrypt(chunk, csealed, aead)))
    # Provider-managed: CK_INVALID_HANDLE as the wrapping and unwrapping key.
    none = PyKCS11.LowLevel.CK_OBJECT_HANDLE()
    none.assign(0)
    pm = se.generateKey([(ROLE, ulong(1)), (POLICY_TYPE, ulong(2)), (TENANT, tenant)], gen)
    pblob = bytes(se.wrapKey(none, pm, PyKCS11.Mechanism(POLICY_WRAP)))
    pm2 = se.unwrapKey(none, pblob, [], PyKCS11.Mechanism(POLICY_UNWRAP))
    by, managed = se.getAttributeValue(pm2, [UNWRAPPED_BY, MANAGED_BY])
    check("provider-managed POLICY_WRAP/UNWRAP: served by the provider keys",
          unulong(by) == 4 and unulong(managed) == 1)
    se.logout()
    se.closeSession()
    print("# %d failed" % fails)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
