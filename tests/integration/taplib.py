"""tests/integration/taplib.py — the TAP runner the Python integration tests
share: each case is a function that raises on failure; the run prints the
plan, one ok / not ok line per case with the traceback as comments, and
returns the exit status.

Before the cases run, the process gets admin keys of its own
(docs/security.md): $THESPIAN_KEY_DIR names a fresh directory, so every
host a case starts makes its CurveZMQ key pair and operator key there at
first start, and every client (CLI, C or Python) finds them. It is removed
at exit."""
import atexit
import os
import shutil
import sys
import tempfile
import traceback


def keys():
    """The test process's key directory (made once, set in the
    environment that hosts and clients started from here inherit)."""
    d = os.environ.get("THESPIAN_KEY_DIR")
    if not d:
        d = tempfile.mkdtemp(prefix="th-keys-")
        os.environ["THESPIAN_KEY_DIR"] = d
        atexit.register(shutil.rmtree, d, True)
    return d


def run(cases):
    keys()
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
