#!/usr/bin/env python3
"""wycheproof2txt.py IN.json [OUT.txt] - converts a Wycheproof v1 test file
into the line format tests/vectors/wp.c reads: one line per test group
"G key=value ..." (its scalar fields) followed by one line per test
"T key=value ..." (every field but the free-text comment; flags joined by
commas). Values are hex strings, integers or single words. Stdlib only."""
import json
import sys


def fields(obj, skip):
    out = []
    for k, v in obj.items():
        if k in skip or isinstance(v, dict):
            continue
        if isinstance(v, list):
            v = ",".join(str(x) for x in v)
        v = str(v)
        if any(c.isspace() for c in v) or "=" in k:
            raise SystemExit("%s: value of %s has blanks" % (sys.argv[1], k))
        out.append("%s=%s" % (k, v))
    return " ".join(out)


def main():
    doc = json.load(open(sys.argv[1]))
    out = open(sys.argv[2], "w") if len(sys.argv) > 2 else sys.stdout
    n = 0
    out.write("# %s %s numberOfTests=%d\n" % (doc["algorithm"], sys.argv[1].split("/")[-1],
                                              doc["numberOfTests"]))
    for g in doc["testGroups"]:
        out.write("G " + fields(g, {"tests", "source", "privateKeyPem", "privateKeyJwk",
                                    "publicKeyPem", "publicKeyJwk"}) + "\n")
        for t in g["tests"]:
            out.write("T " + fields(t, {"comment"}) + "\n")
            n += 1
    if n != doc["numberOfTests"]:
        raise SystemExit("%s: %d tests, header says %d" % (sys.argv[1], n, doc["numberOfTests"]))


if __name__ == "__main__":
    main()
