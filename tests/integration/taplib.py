"""tests/integration/taplib.py — the TAP runner the Python integration tests
share: each case is a function that raises on failure; the run prints the
plan, one ok / not ok line per case with the traceback as comments, and
returns the exit status."""
import sys
import traceback


def run(cases):
    print(f"1..{len(cases)}")
    failed = 0
    for i, fn in enumerate(cases, 1):
        try:
            fn()
            print(f"ok {i} - {fn.__name__}")
        except Exception:
            failed += 1
            print(f"not ok {i} - {fn.__name__}")
            for line in traceback.format_exc().splitlines():
                print("# " + line)
        sys.stdout.flush()
    return 1 if failed else 0
