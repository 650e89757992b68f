#!/usr/bin/env python3
"""Counts test results from meson testlog.json files and prints the closing
line "N passed, N failed". A TAP test program counts each of its cases; any
other test counts once. A log that is missing counts as one failure (the
build did not get that far)."""
import json
import re
import sys

passed = failed = 0
for path in sys.argv[1:]:
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError:
        failed += 1
        continue
    for line in lines:
        if not line.strip():
            continue
        t = json.loads(line)
        result = t.get("result", "")
        out = t.get("stdout") or ""
        oks = len(re.findall(r"^ok \d+", out, re.M))
        bad = len(re.findall(r"^not ok \d+", out, re.M))
        if oks or bad:
            passed += oks
            failed += bad
            # a crash after the last case, a timeout or a plan mismatch
            if result not in ("OK", "EXPECTEDFAIL") and bad == 0:
                failed += 1
        elif result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result == "SKIP":
            continue
        else:
            failed += 1
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
