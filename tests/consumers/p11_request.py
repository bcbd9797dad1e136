#!/usr/bin/python3
"""p11_request.py: dep11's request objects (include/dep11.h CKO_DEP11_REQUEST)
through any PKCS#11 module's 2.40 function list, by ctypes alone (no
binding: p11-kit-client.so exports only C_GetFunctionList). Runs a fixed
sequence on token LABEL (a policy BLOB file, a junk file) and prints one
line per call: the code and, on success, the output's hex. The same
sequence through libdep11.so directly and through p11-kit remoting must
print the same lines. Usage: p11_request.py MODULE LABEL BLOB JUNK."""
import ctypes as C
import sys

TAG = 0x0DE11000
VENDOR = 0x80000000
CKO_REQUEST = VENDOR | TAG | 1
CKA_OP, CKA_INPUT, CKA_OUTPUT, CKA_FLAGS = (VENDOR | TAG | n for n in (10, 11, 12, 13))
CKM_INFO, CKM_PURGE, CKM_FLUSH = (VENDOR | TAG | n for n in (9, 10, 11))
CKA_CLASS, CKA_TOKEN, CKA_VALUE_LEN = 0x0, 0x1, 0x161
CKF_SERIAL_SESSION = 4
UL = C.c_ulong


class Attr(C.Structure):
    _fields_ = [("type", UL), ("pValue", C.c_void_p), ("ulValueLen", UL)]


class FunctionList(C.Structure):
    _fields_ = [("major", C.c_ubyte), ("minor", C.c_ubyte), ("f", C.c_void_p * 68)]


# The 2.40 list's positions of the calls used here.
SIG = {
    "C_Initialize": (0, [C.c_void_p]),
    "C_Finalize": (1, [C.c_void_p]),
    "C_GetSlotList": (4, [C.c_ubyte, C.POINTER(UL), C.POINTER(UL)]),
    "C_GetTokenInfo": (6, [UL, C.c_char_p]),
    "C_OpenSession": (12, [UL, UL, C.c_void_p, C.c_void_p, C.POINTER(UL)]),
    "C_CloseSession": (13, [UL]),
    "C_CreateObject": (20, [UL, C.POINTER(Attr), UL, C.POINTER(UL)]),
    "C_DestroyObject": (22, [UL, UL]),
    "C_GetAttributeValue": (24, [UL, UL, C.POINTER(Attr), UL]),
}


def load(path):
    lib = C.CDLL(path)
    fl = C.POINTER(FunctionList)()
    if lib.C_GetFunctionList(C.byref(fl)) != 0:
        sys.exit("C_GetFunctionList failed")
    calls = {}
    for name, (pos, args) in SIG.items():
        calls[name] = C.CFUNCTYPE(UL, *args)(fl.contents.f[pos])
    return calls


def slot_of(p, label):
    n = UL(64)
    slots = (UL * 64)()
    p["C_GetSlotList"](1, slots, C.byref(n))
    for s in slots[: n.value]:
        info = C.create_string_buffer(512)
        if p["C_GetTokenInfo"](s, info) == 0 and info.raw[:32].rstrip() == label.encode():
            return s
    sys.exit("no token " + label)


def request(p, s, template):
    """C_CreateObject of (type, bytes) pairs, the output read and destroyed."""
    bufs = [C.create_string_buffer(v, len(v)) for _, v in template]
    t = (Attr * len(template))(*[Attr(k, C.cast(b, C.c_void_p), len(v))
                                 for (k, v), b in zip(template, bufs)])
    h = UL(0)
    rv = p["C_CreateObject"](s, t, len(template), C.byref(h))
    if rv != 0:
        return "0x%x" % rv
    out = C.create_string_buffer(8192)
    a = (Attr * 2)(Attr(CKA_OUTPUT, C.cast(out, C.c_void_p), 8192),
                   Attr(CKA_VALUE_LEN, C.cast(C.create_string_buffer(8), C.c_void_p), 8))
    rv = p["C_GetAttributeValue"](s, h, a, 2)
    drv = p["C_DestroyObject"](s, h)
    return "0x%x out=%s destroyed=0x%x" % (rv, out.raw[: a[0].ulValueLen].hex(), drv)


def ul(v):
    return v.to_bytes(C.sizeof(UL), sys.byteorder)


def req(op, data=None, *extra):
    t = [(CKA_CLASS, ul(CKO_REQUEST)), (CKA_OP, ul(op))]
    if data is not None:
        t.append((CKA_INPUT, data))
    return t + list(extra)


def main():
    module, label, blob_path, junk_path = sys.argv[1:5]
    blob = open(blob_path, "rb").read()
    junk = open(junk_path, "rb").read()
    p = load(module)
    if p["C_Initialize"](None) != 0:
        sys.exit("C_Initialize failed")
    s = UL(0)
    rv = p["C_OpenSession"](slot_of(p, label), CKF_SERIAL_SESSION, None, None, C.byref(s))
    if rv != 0:
        sys.exit("C_OpenSession: 0x%x" % rv)
    s = s.value
    cases = [
        ("list", req(0)),
        ("info", req(CKM_INFO, blob)),
        ("info size query", req(CKM_INFO, blob, (CKA_FLAGS, ul(1)))),
        ("info junk", req(CKM_INFO, junk)),
        ("info no data", req(CKM_INFO)),
        ("flush 15 bytes", req(CKM_FLUSH, blob[:15])),
        ("flush all", req(CKM_FLUSH)),
        ("purge not logged in", req(CKM_PURGE, blob)),
        ("token object", req(CKM_INFO, blob, (CKA_TOKEN, b"\x01"))),
        ("no op", [(CKA_CLASS, ul(CKO_REQUEST))]),
        ("unknown op", req(VENDOR | TAG | 8, blob)),
        ("unknown flag", req(CKM_INFO, blob, (CKA_FLAGS, ul(2)))),
        ("output in template", req(CKM_INFO, blob, (CKA_OUTPUT, b"x"))),
        ("two classes", req(CKM_INFO, blob, (CKA_CLASS, ul(0)))),
    ]
    for name, t in cases:
        print("%s: %s" % (name, request(p, s, t)))
    p["C_CloseSession"](s)
    p["C_Finalize"](None)


main()
